"""Independent-reference checks of `spectro`: its constant-Q and STFT magnitudes against librosa,
its thumbnails, labels, preview and sidecar against numpy recomputations that follow the rules in
Schemas/thumbs.md (not the Swift code), and its handling of bad inputs through the CLI.

The audio is read here with Python's `wave` module (16-bit PCM scaled by 1/32768, channels
averaged), the JPEGs are decoded with Pillow.
"""

import json
import math
import os
import subprocess
import warnings
import wave
from pathlib import Path

import librosa
import numpy as np
import pytest
from PIL import Image

from conftest import SPECTRO_RUNS, _binary, run_tool

SR = 44100
PIANO = range(21, 109)
A0 = 27.5
TSV_HEADER = ["step", "time", "file", "label", "notes", "onsets"]
FIXED_FILES = {"labels.tsv", "preview.jpg", "thumbs.json"}


# --------------------------------------------------------------------------------------------
# Reference helpers


def read_mono(path: Path):
    """(samples as float32 in [-1, 1) averaged over channels, sample rate) of a 16-bit PCM wav."""
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, f"{path}: expected 16-bit PCM"
        channels, rate = w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    samples = data.reshape(-1, channels).astype(np.float32) / 32768
    return samples.mean(axis=1, dtype=np.float32), rate


def write_wav(path: Path, samples, rate: int = SR):
    """Writes mono 16-bit PCM."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def write_maps_txt(path: Path, notes):
    """A MAPS note list of (onset, offset, pitch)."""
    lines = ["OnsetTime\tOffsetTime\tMidiPitch"] + [f"{on:.6f}\t{off:.6f}\t{p}" for on, off, p in notes]
    path.write_text("\n".join(lines) + "\n")


def librosa_cqt(y, hop: int, bpo: int):
    """|librosa.cqt| at the pipeline's parameters, frames x bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns about n_fft > signal length in the low octaves
        c = librosa.cqt(y, sr=SR, hop_length=hop, fmin=A0, n_bins=88 * bpo // 12, bins_per_octave=bpo)
    return np.abs(c).T


def area_weights(n: int, m: int) -> np.ndarray:
    """m x n area-averaging matrix: output cell i covers source cells [i n/m, (i+1) n/m), each source
    cell weighted by the fraction of it inside, divided by n/m (rows sum to 1)."""
    scale = n / m
    weights = np.zeros((m, n))
    for i in range(m):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(math.floor(lo)), min(n, int(math.ceil(hi)))):
            overlap = min(hi, j + 1) - max(lo, j)
            if overlap > 0:
                weights[i, j] = overlap / scale
    return weights


def levels(magnitudes, decibels: dict) -> np.ndarray:
    """Pixel levels in [0, 1]: 1 + dB / range, dB = 20 log10(m / max(peak, referenceFloor)), clipped."""
    m = magnitudes.astype(np.float64)
    reference = max(float(m.max()), decibels["referenceFloor"])
    db = 20 * np.log10(np.maximum(m, 1e-20) / reference)
    return np.clip(1 + db / decibels["range"], 0, 1)


def reference_thumbnails(spectrogram, sidecar: dict, steps) -> dict:
    """Thumbnails recomputed in numpy from the documented mapping, as float grey levels (0..255)."""
    height, width, context = sidecar["geometry"]["rows"], sidecar["geometry"]["columns"], sidecar["geometry"]["context"]
    level = levels(spectrogram, sidecar["decibels"])  # frames x bins, lowest frequency first
    rows = (level @ area_weights(level.shape[1], height).T)[:, ::-1]  # frames x rows, row 0 = highest
    time = area_weights(context, width)
    frames = len(rows)
    thumbs = {}
    for k in steps:
        first = k - context // 2
        window = np.zeros((context, height))
        for j in range(context):
            if 0 <= first + j < frames:
                window[j] = rows[first + j]
        thumbs[k] = np.round((time @ window).T * 255)  # rows = frequency, columns = time
    return thumbs


def expected_onsets(notemap: dict) -> list:
    """Per step, the keys whose note starts there (Schemas/thumbs.md, labels.tsv): the first step k
    with k * hop >= onset * sampleRate (1e-6 sample tolerance), if the note sounds at a step at all
    (its offset's first step is later), keys 21..108 only."""
    steps, hop, rate = notemap["steps"], notemap["hop"], notemap["audio"]["sampleRate"]

    def first_step(seconds):
        return max(0, math.ceil(seconds * rate / hop - 1e-6 / hop))

    starts = [set() for _ in range(steps)]
    for note in notemap["notes"]:
        if not 21 <= note["pitch"] <= 108:
            continue
        begin, end = first_step(note["onset"]), min(first_step(note["offset"]), steps)
        if begin < end:
            starts[begin].add(note["pitch"])
    return [sorted(s) for s in starts]


def read_labels(path: Path):
    lines = path.read_text().split("\n")
    assert lines[-1] == "", f"{path}: does not end with a newline"
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:-1]]
    return header, rows


def image_name(k: int, digits: int) -> str:
    return f"{k:0{digits}d}.jpg"


def written_steps(steps: int, every: int):
    return list(range(0, steps, every))


def sample_steps(steps: int, every: int):
    """A few written steps: the edges (where the context runs off the recording) and the middle."""
    written = written_steps(steps, every)
    picks = {0, 1, 2, len(written) // 3, len(written) // 2, len(written) - 2, len(written) - 1}
    return sorted(written[i] for i in picks if 0 <= i < len(written))


def correlation_db(ours, theirs) -> float:
    ref = float(theirs.max())
    a = librosa.amplitude_to_db(ours, ref=ref)
    b = librosa.amplitude_to_db(theirs, ref=ref)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


# --------------------------------------------------------------------------------------------
# Peak bins of synthetic tones on all 88 keys

TONE_SECONDS = 1.0
TONE_HOP = 2048  # a non-default hop keeps the 2 x 88 transforms quick and checks that spectro uses the note map's hop


def synthetic_tone(pitch: int) -> np.ndarray:
    """A piano-like tone: fundamental plus harmonics with 1/k amplitudes, each decaying
    exponentially (faster for higher ones); harmonics at or above Nyquist are left out."""
    f0 = 440 * 2 ** ((pitch - 69) / 12)
    t = np.arange(int(SR * TONE_SECONDS)) / SR
    y = np.zeros_like(t)
    for k in range(1, 7):
        if k * f0 >= SR / 2:
            break
        y += np.sin(2 * np.pi * k * f0 * t) / k * np.exp(-k * t / TONE_SECONDS)
    return 0.5 * y / np.abs(y).max()


def tone_stem(pitch: int) -> str:
    return f"MAPS_ISOL_NO_F_S0_M{pitch}_Synth"


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """88 one-note recordings, ingested, and spectro's THUMBS folder for 12 and 36 bins per octave."""
    root = tmp_path_factory.mktemp("tones")
    recordings = root / "rec"
    recordings.mkdir()
    for pitch in PIANO:
        write_wav(recordings / f"{tone_stem(pitch)}.wav", synthetic_tone(pitch))
        write_maps_txt(recordings / f"{tone_stem(pitch)}.txt", [(0.0, TONE_SECONDS, pitch)])
    notemaps = root / "notemaps"
    run_tool([_binary("ingest"), recordings, "-o", notemaps, "--hop", TONE_HOP], "ingest of the synthetic tones")
    thumbs = {}
    for bpo in (12, 36):
        thumbs[bpo] = root / f"thumbs{bpo}"
        # --every 1000: one thumbnail per recording is enough here; the spectrogram is what is checked.
        run_tool([_binary("spectro"), notemaps, "-o", thumbs[bpo], "--bins-per-octave", bpo,
                  "--save-spectrogram", "--every", 1000], f"spectro --bins-per-octave {bpo} of the synthetic tones")
    return recordings, thumbs


def middle_peak(frames_by_bins) -> int:
    n = len(frames_by_bins)
    return int(np.argmax(frames_by_bins[n // 4: 3 * n // 4 + 1].mean(axis=0)))


@pytest.mark.parametrize("bpo", [12, 36])
def test_peak_bin_is_the_pitch(tones, bpo):
    recordings, thumbs = tones
    wrong = []
    for pitch in PIANO:
        expected = (pitch - 21) * bpo // 12
        folder = thumbs[bpo] / tone_stem(pitch)
        ours = np.load(folder / "spectrogram.npy")
        y, rate = read_mono(recordings / f"{tone_stem(pitch)}.wav")
        assert rate == SR
        theirs = librosa_cqt(y, TONE_HOP, bpo)
        assert ours.shape == (len(y) // TONE_HOP + 1, 88 * bpo // 12), f"{folder}: shape {ours.shape}"
        got, reference = middle_peak(ours), middle_peak(theirs)
        if got != expected or reference != expected:
            wrong.append(f"pitch {pitch}: expected bin {expected}, spectro {got}, librosa {reference}")
    assert not wrong, f"{len(wrong)} of 88 pitches peak in the wrong bin:\n" + "\n".join(wrong)


# --------------------------------------------------------------------------------------------
# Magnitudes against librosa on rendered recordings


@pytest.mark.parametrize("run,bpo", [("cqt36", 36), ("cqt12", 12)])
@pytest.mark.parametrize("category", ["MUS", "RAND", "UCHO"])
def test_cqt_matches_librosa(spectro_runs, run, bpo, category):
    if category not in spectro_runs.by_category:
        pytest.skip(f"the corpus has no {category} recording")
    stem = spectro_runs.by_category[category]
    folder = spectro_runs.folder(run, stem)
    sidecar, notemap = spectro_runs.sidecar(run, stem), spectro_runs.notemap(stem)
    hop = notemap["hop"]
    assert sidecar["transform"] == {"transform": "cqt", "sampleRate": notemap["audio"]["sampleRate"], "hop": hop,
                                    "fmin": A0, "bins": 88 * bpo // 12, "binsPerOctave": bpo}
    ours = np.load(folder / "spectrogram.npy")
    assert ours.dtype == np.float32 and ours.shape == (notemap["steps"], 88 * bpo // 12)
    y, rate = read_mono((folder / sidecar["wav"]).resolve())
    assert rate == SR
    theirs = librosa_cqt(y, hop, bpo)
    assert abs(len(theirs) - len(ours)) <= 1, f"librosa has {len(theirs)} frames, spectro {len(ours)}"
    n = min(len(theirs), len(ours))
    r = correlation_db(ours[:n], theirs[:n])
    assert r >= 0.99, f"{stem} bpo {bpo}: correlation of dB magnitudes with librosa.cqt is {r:.6f} (< 0.99)"
    peak_ratio = float(ours.max() / theirs.max())
    assert 0.95 < peak_ratio < 1.05, f"{stem} bpo {bpo}: peak magnitude {ours.max()} vs librosa {theirs.max()}"


@pytest.mark.parametrize("category", ["MUS", "RAND"])
def test_stft_matches_librosa(spectro_runs, category):
    stem = spectro_runs.by_category[category]
    folder = spectro_runs.folder("stft", stem)
    sidecar, notemap = spectro_runs.sidecar("stft", stem), spectro_runs.notemap(stem)
    transform, hop = sidecar["transform"], notemap["hop"]
    assert transform["transform"] == "stft" and transform["fftSize"] == 4096 and transform["hop"] == hop
    resolution = SR / transform["fftSize"]
    first = round(transform["fmin"] / resolution)
    assert transform["fmin"] == pytest.approx(first * resolution, abs=1e-9)
    cqt_top = A0 * 2 ** ((88 * transform["binsPerOctave"] // 12 - 1) / transform["binsPerOctave"])  # the CQT's highest bin
    top = transform["fmin"] + (transform["bins"] - 1) * resolution
    # The kept bins are exactly those with centre frequency in [27.5 Hz, the CQT's top bin].
    assert transform["fmin"] - resolution < A0 <= transform["fmin"]
    assert top <= cqt_top < top + resolution
    ours = np.load(folder / "spectrogram.npy")
    assert ours.shape == (notemap["steps"], transform["bins"])
    y, _ = read_mono((folder / sidecar["wav"]).resolve())
    full = np.abs(librosa.stft(y, n_fft=4096, hop_length=hop, window="hann", center=True, pad_mode="constant"))
    theirs = full[first: first + transform["bins"]].T
    assert theirs.shape == ours.shape
    error = float(np.abs(ours - theirs).max() / theirs.max())
    assert error < 1e-3, f"{stem}: STFT differs from librosa.stft by {error:.2e} of the peak"
    assert correlation_db(ours, theirs) >= 0.999


# --------------------------------------------------------------------------------------------
# Thumbnails, labels, preview and sidecar


@pytest.mark.parametrize("run", list(SPECTRO_RUNS))
def test_folder_contents(spectro_runs, run):
    args = SPECTRO_RUNS[run]
    option = lambda name, default: type(default)(args[args.index(name) + 1]) if name in args else default  # noqa: E731
    every, quality = option("--every", 1), option("--quality", 90)
    size = option("--size", "32")
    height, width = (int(size.split("x")[0]), int(size.split("x")[1])) if "x" in size else (int(size), int(size))
    saved = "--save-spectrogram" in args
    output = spectro_runs.outputs[run]
    assert sorted(p.name for p in output.iterdir()) == spectro_runs.stems, "THUMBS holds other entries"
    for stem in spectro_runs.stems:
        folder, notemap, sidecar = spectro_runs.folder(run, stem), spectro_runs.notemap(stem), spectro_runs.sidecar(run, stem)
        steps, hop, rate = notemap["steps"], notemap["hop"], notemap["audio"]["sampleRate"]
        digits = max(6, len(str(steps - 1)))

        # Sidecar.
        assert (sidecar["format"], sidecar["version"], sidecar["stem"]) == ("piano-thumbs", 2, stem)
        assert sidecar["maps"] == notemap["maps"]
        assert (sidecar["steps"], sidecar["every"], sidecar["digits"]) == (steps, every, digits)
        assert sidecar["images"] == math.ceil(steps / every)
        assert (sidecar["quality"], sidecar["spectrogram"]) == (quality, saved)
        assert sidecar["geometry"] == {"rows": height, "columns": width, "context": option("--context", 16)}
        assert sidecar["decibels"] == {"range": 80, "referenceFloor": 1e-4}
        transform = sidecar["transform"]
        assert (transform["sampleRate"], transform["hop"], transform["binsPerOctave"]) == (rate, hop, option("--bins-per-octave", 36))
        assert transform["transform"] == option("--transform", "cqt")
        assert (folder / sidecar["noteMap"]).resolve() == spectro_runs.notemaps[stem].resolve()
        wav = (spectro_runs.notemaps[stem].parent / notemap["sources"]["wav"]).resolve()
        assert (folder / sidecar["wav"]).resolve() == wav

        # Exactly the documented files.
        names = [image_name(k, digits) for k in written_steps(steps, every)]
        expected = set(names) | FIXED_FILES | ({"spectrogram.npy"} if saved else set())
        assert {p.name for p in folder.iterdir()} == expected, f"{folder}: unexpected or missing files"
        assert len(names) == sidecar["images"]

        # Every JPEG decodes as a size x size greyscale image.
        for name in names:
            with Image.open(folder / name) as image:
                assert (image.format, image.mode, image.size) == ("JPEG", "L", (width, height)), f"{folder / name}"
                image.load()

        # labels.tsv: one row per thumbnail, agreeing with the note map.
        header, rows = read_labels(folder / "labels.tsv")
        assert header == TSV_HEADER
        assert [int(r[0]) for r in rows] == written_steps(steps, every)
        onsets = expected_onsets(notemap)
        for row in rows:
            assert len(row) == 6, f"{folder}/labels.tsv: {row}"
            k = int(row[0])
            assert abs(float(row[1]) - k * hop / rate) <= 1e-6
            assert row[2] == image_name(k, digits)
            assert int(row[3]) == notemap["labels"]["single"][k]
            assert row[4] == ",".join(map(str, notemap["labels"]["multi"][k]))
            assert row[5] == ",".join(map(str, onsets[k])), f"{folder}/labels.tsv step {k}: onsets {row[5]!r}, expected {onsets[k]}"
        assert any(onsets), f"{stem}: no onsets at all"

        if saved:
            spectrogram = np.load(folder / "spectrogram.npy")
            assert spectrogram.dtype == np.float32 and spectrogram.shape == (steps, transform["bins"])
            assert np.all(np.isfinite(spectrogram)) and spectrogram.min() >= 0


def test_every_4_labels_are_a_subset(spectro_runs):
    for stem in spectro_runs.stems:
        _, full = read_labels(spectro_runs.folder("cqt36", stem) / "labels.tsv")
        _, sparse = read_labels(spectro_runs.folder("every4", stem) / "labels.tsv")
        assert sparse == full[::4]


@pytest.mark.parametrize("run,mean_limit,max_limit", [
    ("cqt36", 3, 40), ("cqt12", 3, 40), ("stft", 3, 40), ("q100", 0.5, 2), ("geometry", 0.5, 2),
])
def test_thumbnails_match_numpy(spectro_runs, run, mean_limit, max_limit):
    """Thumbnails recomputed from spectrogram.npy by the documented mapping match the decoded
    JPEGs within JPEG error (quality 90: mean < 3 grey levels; quality 100: mean < 0.5, max <= 2)."""
    for stem in spectro_runs.stems:
        folder, sidecar = spectro_runs.folder(run, stem), spectro_runs.sidecar(run, stem)
        spectrogram = np.load(folder / "spectrogram.npy")
        steps = sample_steps(sidecar["steps"], sidecar["every"])
        for k, expected in reference_thumbnails(spectrogram, sidecar, steps).items():
            with Image.open(folder / image_name(k, sidecar["digits"])) as image:
                got = np.asarray(image, dtype=np.float64)
            diff = np.abs(got - expected)
            assert diff.mean() < mean_limit and diff.max() <= max_limit, (
                f"{folder}: step {k}: mean abs difference {diff.mean():.3f}, max {diff.max()} grey levels")


def test_thumbnail_mapping_is_sensitive(spectro_runs):
    """The quality-100 comparison would notice a window shifted by one frame or flipped rows."""
    stem = spectro_runs.by_category["MUS"]
    folder, sidecar = spectro_runs.folder("q100", stem), spectro_runs.sidecar("q100", stem)
    spectrogram = np.load(folder / "spectrogram.npy")
    k = sidecar["steps"] // 2
    expected = reference_thumbnails(spectrogram, sidecar, [k, k + 1])
    with Image.open(folder / image_name(k, sidecar["digits"])) as image:
        got = np.asarray(image, dtype=np.float64)
    assert np.abs(got - expected[k]).mean() < 0.5
    assert np.abs(got - expected[k + 1]).mean() > 0.5
    assert np.abs(got - expected[k][::-1]).mean() > 0.5


@pytest.mark.parametrize("run", ["cqt36", "stft"])
def test_preview(spectro_runs, run):
    for stem in spectro_runs.stems:
        folder, sidecar = spectro_runs.folder(run, stem), spectro_runs.sidecar(run, stem)
        spectrogram = np.load(folder / "spectrogram.npy")
        frames, bins = spectrogram.shape
        assert frames < 16000  # no column averaging for the corpus's short recordings
        with Image.open(folder / "preview.jpg") as image:
            assert (image.mode, image.size) == ("L", (frames, bins))
            got = np.asarray(image, dtype=np.float64)
        expected = np.round(levels(spectrogram, sidecar["decibels"]).T[::-1] * 255)  # high frequencies on top
        diff = np.abs(got - expected).mean()
        assert diff < 3, f"{folder}/preview.jpg: mean abs difference {diff:.3f} grey levels"


# --------------------------------------------------------------------------------------------
# Bad inputs through the CLI


def test_bad_inputs_fail_alone(tmp_path):
    recordings = tmp_path / "rec"
    recordings.mkdir()
    frames = 22050
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(frames) / SR)
    stems = ["good", "missing", "corrupt", "rate", "short", "empty"]
    for stem in stems:
        write_wav(recordings / f"{stem}.wav", tone)
        write_maps_txt(recordings / f"{stem}.txt", [(0.1, 0.4, 69)])
    notemaps = tmp_path / "notemaps"
    run_tool([_binary("ingest"), recordings, "-o", notemaps], "ingest of the bad-input recordings")

    # Each wav is spoilt after ingest; ingest itself refuses a zero-length one (test_bad_inputs).
    write_wav(recordings / "empty.wav", np.zeros(0))
    (recordings / "missing.wav").unlink()
    (recordings / "corrupt.wav").write_bytes(np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    write_wav(recordings / "rate.wav", tone, rate=22050)  # same frame count, other rate
    write_wav(recordings / "short.wav", tone[: frames // 2])  # same rate, fewer frames
    problems = {
        "missing": ["no such"],
        "corrupt": ["not readable audio"],
        "rate": ["22050", "44100"],
        "short": [str(frames // 2), str(frames)],
        "empty": ["zero-length"],
    }

    thumbs = tmp_path / "THUMBS"
    command = [str(c) for c in [_binary("spectro"), notemaps, "-o", thumbs]]
    for attempt in ("first", "again"):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 1, f"{attempt} run: exit code {result.returncode}\n{result.stderr}"
        lines = result.stderr.splitlines()
        for stem, words in problems.items():
            wav = recordings / f"{stem}.wav"
            about = [line for line in lines if f"/{stem}.wav" in line]
            assert len(about) == 1, f"{attempt} run: expected one line about {wav}, got {about}\n{result.stderr}"
            line = about[0]
            assert line.startswith("error: ") and (str(wav) in line or os.path.realpath(wav) in line), line
            for word in words:
                assert word in line.lower() or word in line, f"{attempt} run: '{word}' missing from: {line}"
        made = "1 made, 0 up to date" if attempt == "first" else "0 made, 1 up to date"
        assert lines[-1] == f"done 1 of {len(stems)}, {len(problems)} failed ({made})", result.stderr
        assert len(lines) == len(problems) + 1, result.stderr
        assert sorted(p.name for p in thumbs.iterdir()) == ["good"], "bad recordings left folders or .partial-* entries"
        good = thumbs / "good"
        sidecar = json.loads((good / "thumbs.json").read_text())
        assert sidecar["images"] == frames // 512 + 1
        assert len(list(good.glob("*.jpg"))) == sidecar["images"] + 1  # + preview.jpg
        assert not [p for p in good.iterdir() if p.name.startswith(".")]


def test_folder_from_another_notemap_is_remade(tmp_path):
    """A folder made from one note map is not 'up to date' for another note map of the same stem."""
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(22050) / SR)
    notemaps = {}
    for name, pitch in (("first", 69), ("second", 72)):
        recordings = tmp_path / name
        recordings.mkdir()
        write_wav(recordings / "same.wav", tone)
        write_maps_txt(recordings / "same.txt", [(0.1, 0.4, pitch)])
        notemaps[name] = tmp_path / f"notemaps-{name}"
        run_tool([_binary("ingest"), recordings, "-o", notemaps[name]], f"ingest {name}")
    thumbs = tmp_path / "THUMBS"
    for name in ("first", "second"):
        run_tool([_binary("spectro"), notemaps[name], "-o", thumbs], f"spectro {name}")
    sidecar = json.loads((thumbs / "same" / "thumbs.json").read_text())
    assert (thumbs / "same" / sidecar["noteMap"]).resolve() == (notemaps["second"] / "same.notemap.json").resolve()
    _, rows = read_labels(thumbs / "same" / "labels.tsv")
    assert {row[3] for row in rows} == {"0", "72"}
