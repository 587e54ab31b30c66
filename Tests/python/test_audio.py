"""Audio formats and sample rates: what ingest, spectro and infer read, against independent references.

- Formats: one corpus recording is written here with the `soundfile` package (its own libsndfile
  build, with libFLAC, libvorbis, libopus and LAME) as flac, aiff, Ogg Vorbis, Ogg Opus (48 kHz)
  and mp3, all in one folder; `ingest` must find every one and record the header soundfile reports.
  Lossless copies must give the wav's exact spectrogram; a lossy file must give the spectrogram of
  soundfile's own decoding of it (written as a float wav), so the stages decode what libsndfile
  decodes.
- Rates: the same recording at 48 kHz and 22.05 kHz, made with scipy.signal.resample_poly (an
  independent resampler) and written as 16-bit wavs, must give the 44.1 kHz original's grid,
  labels and thumbnails. Tolerance: no more pixel difference than the original's own with one LSB
  of random noise added (measured on the demo corpus's shortest MUS piece: resampled thumbnails
  differ by 0.26-0.29 grey levels on average, 99th percentile 3, largest 9; one LSB of noise:
  0.42, 3, 10). The thumbnails map 80 dB to 255 levels from the recording's peak, so their
  faintest levels sit near the 16-bit noise floor and any change of the samples there flips
  levels; the spectrograms themselves agree to 4e-4 of the peak.
- The resampler: log sweeps at 48, 22.05 and 96 kHz (float wavs) through `spectro`, against the
  same sweeps resampled by python-soxr (`HQ`: libsoxr's own algorithm, another build; expect the
  same samples, so spectrograms equal to 1e-6 of the peak; measured: bit-identical), by
  scipy.signal.resample_poly (its Kaiser-window filter is coarser: 2e-3; measured 9.8e-4), and
  the ideal answer, the sweep's formula sampled at 44.1 kHz (5e-4; measured 1.1e-4 to 2.6e-4).
- One stem in two formats in one folder: the documented preference (wav > flac > aiff > aif >
  ogg > oga > opus > mp3) picks one, with a warning naming the other.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from PIL import Image
from scipy.signal import chirp, resample_poly

from conftest import _binary, run_tool

SR = 44100
HEADER = "OnsetTime\tOffsetTime\tMidiPitch\n"

# name suffix -> (soundfile.write keyword arguments, rate, extension)
LOSSLESS = {"flac": ({"subtype": "PCM_16"}, SR, "flac"), "aiff": ({"subtype": "PCM_16"}, SR, "aiff")}
LOSSY = {
    "vorbis": ({"subtype": "VORBIS"}, SR, "ogg"),
    "opus": ({"format": "OGG", "subtype": "OPUS"}, 48000, "opus"),  # Opus knows 48 kHz, not 44.1
    "mp3": ({"format": "MP3"}, SR, "mp3"),
}
# name suffix -> (rate, channels): made from the original with resample_poly, written as 16-bit PCM
RATES = {"48k": (48000, 2), "22k": (22050, 2), "mono48k": (48000, 1)}


def resample(x, rate):
    """x (frames x channels, 44.1 kHz) at `rate`, by scipy's polyphase filter."""
    up, down = {48000: (160, 147), 22050: (1, 2), 44100: (1, 1)}[rate]
    return resample_poly(x, up, down, axis=0).astype(np.float32)


def thumbnails(folder: Path) -> np.ndarray:
    images = []
    for path in sorted(folder.glob("[0-9]*.jpg")):
        with Image.open(path) as image:
            images.append(np.asarray(image, dtype=np.int16))
    return np.stack(images)


def labels(folder: Path) -> list:
    """labels.tsv without the file column: step, time, label, notes, onsets."""
    rows = (folder / "labels.tsv").read_text().splitlines()
    return [r.split("\t")[:2] + r.split("\t")[3:] for r in rows]


def pixel_difference(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    return {"mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": int(d.max())}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest magnitude difference over the reference's peak."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / b.max())


class Formats:
    """One recording in every format and at several rates, ingested from one folder and cut by spectro."""

    def __init__(self, corpus, root: Path):
        index = json.loads((corpus.notemaps["pedal"] / "index.json").read_text())["recordings"]
        mus = sorted((e for e in index if e["category"] == "MUS"), key=lambda e: (e["duration"], e["stem"]))
        assert mus, "the corpus has no MUS recording"
        self.stem = mus[0]["stem"]
        found = list(corpus.root.rglob(f"{self.stem}.wav"))
        assert len(found) == 1, found
        source = found[0]
        x, rate = sf.read(source, dtype="float32", always_2d=True)
        assert rate == SR
        self.input = root / "recordings"
        self.input.mkdir()
        self.files = {}  # suffix ("" = the wav) -> audio file

        def put(suffix, data, rate, extension, **kwargs):
            stem = f"{self.stem}_{suffix}" if suffix else self.stem
            path = self.input / f"{stem}.{extension}"
            sf.write(path, data, rate, **kwargs)
            shutil.copy(source.with_suffix(".txt"), path.with_suffix(".txt"))
            self.files[suffix] = path

        shutil.copy(source, self.input / source.name)
        shutil.copy(source.with_suffix(".txt"), self.input / f"{self.stem}.txt")
        self.files[""] = self.input / source.name
        for suffix, (kwargs, rate, extension) in {**LOSSLESS, **LOSSY}.items():
            put(suffix, resample(x, rate), rate, extension, **kwargs)
        for suffix, (rate, channels) in RATES.items():
            y = resample(x, rate)
            put(suffix, y if channels == 2 else y.mean(axis=1), rate, "wav", subtype="PCM_16")
        # Controls: the original plus one LSB of random noise, and soundfile's decoding of each lossy file.
        pcm = sf.read(source, dtype="int16", always_2d=True)[0].astype(np.int32)
        noise = np.random.default_rng(1).integers(-1, 2, pcm.shape)
        put("lsb", np.clip(pcm + noise, -32768, 32767).astype(np.int16), SR, "wav", subtype="PCM_16")
        for suffix in LOSSY:
            decoded, rate = sf.read(self.files[suffix], dtype="float32")
            put(suffix + "-decoded", decoded, rate, "wav", subtype="FLOAT")

        self.notemaps = root / "notemaps"
        self.ingest = run_tool([_binary("ingest"), self.input, "-o", self.notemaps], "ingest (formats)")
        self.thumbs = root / "thumbs"
        self.spectro = run_tool([_binary("spectro"), self.notemaps, "-o", self.thumbs, "--save-spectrogram"], "spectro (formats)")

    def stem_of(self, suffix: str) -> str:
        return self.files[suffix].stem

    def notemap(self, suffix: str) -> dict:
        return json.loads((self.notemaps / f"{self.stem_of(suffix)}.notemap.json").read_text())

    def folder(self, suffix: str) -> Path:
        return self.thumbs / self.stem_of(suffix)

    def spectrogram(self, suffix: str) -> np.ndarray:
        return np.load(self.folder(suffix) / "spectrogram.npy")


@pytest.fixture(scope="module")
def formats(corpus, tmp_path_factory) -> Formats:
    return Formats(corpus, tmp_path_factory.mktemp("formats"))


def test_ingest_finds_every_format_in_a_folder(formats):
    """One folder of wav, flac, aiff, ogg, opus and mp3: every one becomes a note map whose audio
    header is what soundfile reports, on the 44.1 kHz grid of the original."""
    original = formats.notemap("")
    assert "error" not in formats.ingest.stderr, formats.ingest.stderr
    for suffix, path in formats.files.items():
        m = formats.notemap(suffix)
        info = sf.info(path)
        assert m["audio"] == {"sampleRate": info.samplerate, "channels": info.channels, "frames": info.frames}, path.name
        assert m["sources"]["wav"].endswith(path.name)
        assert m["version"] == 2 and m["sampleRate"] == SR
        frames = (info.frames * SR + info.samplerate // 2) // info.samplerate  # Schemas/notemap.md
        assert m["steps"] == frames // m["hop"] + 1, path.name
        assert abs(m["steps"] - original["steps"]) <= 1, path.name  # a codec's padding may add a few ms
        if m["steps"] == original["steps"]:
            assert m["labels"] == original["labels"], path.name


@pytest.mark.parametrize("suffix", sorted(LOSSLESS))
def test_lossless_formats_give_the_wavs_spectrogram(formats, suffix):
    assert np.array_equal(formats.spectrogram(suffix), formats.spectrogram(""))
    assert np.array_equal(thumbnails(formats.folder(suffix)), thumbnails(formats.folder("")))


@pytest.mark.parametrize("suffix", sorted(LOSSY))
def test_lossy_formats_decode_like_soundfile(formats, suffix):
    """The stage's spectrogram of an mp3/ogg/opus equals that of soundfile's decoding of the same
    file (another libsndfile build, same codecs), to 1e-5 of the peak (measured: 0 for mp3 and
    opus, 2e-7 for Vorbis, whose decoders round differently)."""
    ours, reference = formats.spectrogram(suffix), formats.spectrogram(suffix + "-decoded")
    assert relative(ours, reference) <= 1e-5
    assert labels(formats.folder(suffix)) == labels(formats.folder(suffix + "-decoded"))


@pytest.mark.parametrize("suffix", sorted(RATES))
def test_other_rates_give_the_originals_thumbnails(formats, suffix):
    """48 kHz and 22.05 kHz copies (scipy-resampled, 16-bit) are resampled back to 44.1 kHz by
    spectro, with a note on stderr: the same steps and labels as the original, thumbnails no
    further from it than one LSB of noise takes them (see the module's docstring)."""
    rate = RATES[suffix][0]
    note = f"{formats.files[suffix]}: {rate} Hz audio resampled to the note map's 44100 Hz"
    assert note in formats.spectro.stderr, formats.spectro.stderr
    assert labels(formats.folder(suffix)) == labels(formats.folder(""))
    original = thumbnails(formats.folder(""))
    ours = pixel_difference(thumbnails(formats.folder(suffix)), original)
    control = pixel_difference(thumbnails(formats.folder("lsb")), original)
    assert ours["mean"] <= max(0.5, control["mean"]) and ours["p99"] <= control["p99"] + 1, (ours, control)
    assert relative(formats.spectrogram(suffix), formats.spectrogram("")) <= 1e-3


def test_resampler_against_references(tmp_path):
    """spectro's spectrogram of a sweep at another rate against spectrograms of the same sweep
    resampled to 44.1 kHz by python-soxr, by scipy and ideally (module docstring)."""
    folder = tmp_path / "sweeps"
    folder.mkdir()

    def put(name, y, rate):
        sf.write(folder / f"{name}.wav", y.astype(np.float32), rate, subtype="FLOAT")
        (folder / f"{name}.txt").write_text(HEADER)

    bounds = {"soxr": 1e-6, "poly": 2e-3, "ideal": 5e-4}
    for rate in (48000, 22050, 96000):
        top = min(16000, 0.45 * rate)
        t = np.arange(2 * rate) / rate
        x = 0.5 * chirp(t, 27.5, 2.0, top, method="logarithmic")
        by_soxr = soxr.resample(x, rate, SR, "HQ")
        t44 = np.arange((len(x) * SR + rate // 2) // rate) / SR
        put(f"s{rate}", x, rate)
        put(f"s{rate}-soxr", by_soxr, SR)
        up, down = {48000: (147, 160), 22050: (2, 1), 96000: (147, 320)}[rate]
        put(f"s{rate}-poly", resample_poly(x, up, down), SR)
        put(f"s{rate}-ideal", 0.5 * chirp(t44, 27.5, 2.0, top, method="logarithmic"), SR)
    run_tool([_binary("ingest"), folder, "-o", tmp_path / "maps"], "ingest (sweeps)")
    run_tool([_binary("spectro"), tmp_path / "maps", "-o", tmp_path / "thumbs", "--save-spectrogram"], "spectro (sweeps)")
    for rate in (48000, 22050, 96000):
        ours = np.load(tmp_path / "thumbs" / f"s{rate}" / "spectrogram.npy")
        for reference, bound in bounds.items():
            theirs = np.load(tmp_path / "thumbs" / f"s{rate}-{reference}" / "spectrogram.npy")
            assert relative(ours, theirs) <= bound, (rate, reference, relative(ours, theirs))


def _tone(rate, seconds=1.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * 261.63 * t) * np.exp(-2 * t)).astype(np.float32)


def test_one_stem_in_two_formats_warns_and_takes_the_preferred(tmp_path):
    """x.flac and x.mp3 in one folder: ingest uses x.flac and names x.mp3 in a warning (exit 0);
    y.mp3 alone is taken."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name, kwargs in (("x.flac", {}), ("x.mp3", {"format": "MP3"}), ("y.mp3", {"format": "MP3"})):
        sf.write(folder / name, _tone(SR), SR, **kwargs)
    for stem in "xy":
        (folder / f"{stem}.txt").write_text(HEADER + "0.000000\t0.800000\t60\n")
    result = subprocess.run([str(_binary("ingest")), str(folder), "-o", str(tmp_path / "maps")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"warning: {folder}/x.mp3: skipped, x.flac has the same stem" in result.stderr, result.stderr
    assert json.loads((tmp_path / "maps" / "x.notemap.json").read_text())["sources"]["wav"].endswith("x.flac")
    assert json.loads((tmp_path / "maps" / "y.notemap.json").read_text())["sources"]["wav"].endswith("y.mp3")


def test_infer_reads_other_rates_and_formats(end_to_end, tmp_path):
    """infer on a held-out recording at 48 and 22.05 kHz (scipy-resampled) and as flac beside an
    mp3 of the same stem, all in one folder: a note per resampled file, a warning for the mp3,
    and the 44.1 kHz wav's network inputs (flac: identical; other rates: within one LSB of
    noise's difference, as for spectro)."""
    e = end_to_end
    stem = min(e.stems, key=lambda s: json.loads(e.notemaps[s].read_text())["steps"])
    x, rate = sf.read(e.wavs[stem], dtype="float32", always_2d=True)
    assert rate == SR
    folder = tmp_path / "in"
    folder.mkdir()
    pcm = sf.read(e.wavs[stem], dtype="int16", always_2d=True)[0].astype(np.int32)
    noise = np.random.default_rng(1).integers(-1, 2, pcm.shape)
    sf.write(folder / f"{stem}_lsb.wav", np.clip(pcm + noise, -32768, 32767).astype(np.int16), SR, subtype="PCM_16")
    sf.write(folder / f"{stem}.flac", x, SR, subtype="PCM_16")
    sf.write(folder / f"{stem}.mp3", x, SR, format="MP3")
    for suffix, r in (("48k", 48000), ("22k", 22050)):
        sf.write(folder / f"{stem}_{suffix}.wav", resample(x, r), r, subtype="PCM_16")
    result = subprocess.run(
        [str(_binary("infer")), str(e.model), str(folder), "-o", str(tmp_path / "out"), "--save-arrays", "--no-reference"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert f"warning: {folder}/{stem}.mp3: skipped, {stem}.flac has the same stem" in result.stderr, result.stderr
    for suffix, r in (("48k", 48000), ("22k", 22050)):
        assert f"{folder}/{stem}_{suffix}.wav: {r} Hz audio resampled to the model's 44100 Hz" in result.stderr, result.stderr
    original = np.load(e.output(stem, ".thumbnails.npy"))
    assert np.array_equal(np.load(tmp_path / "out" / f"{stem}.thumbnails.npy"), original)
    control = pixel_difference(np.load(tmp_path / "out" / f"{stem}_lsb.thumbnails.npy"), original)
    for suffix in ("48k", "22k"):
        ours = np.load(tmp_path / "out" / f"{stem}_{suffix}.thumbnails.npy")
        assert ours.shape == original.shape
        difference = pixel_difference(ours, original)
        assert difference["mean"] <= max(0.5, control["mean"]) and difference["p99"] <= control["p99"] + 1, (suffix, difference, control)
