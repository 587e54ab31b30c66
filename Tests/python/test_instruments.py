"""The corpus's other pianos, checked in the audio with NumPy: the note in the txt is the note
you hear (its onset where the audio starts, its fundamental where the key's frequency is), for
the timidity (freepats), OPL3 and synth voices; the synth's partials are stretched as a stiff
string's are; augmentation is seeded and changes the audio, not the notes; the bass cut takes the
lowest keys' fundamentals away."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import _binary, run_tool
from test_bad_inputs import run


@pytest.fixture(scope="module")
def pianos(tmp_path_factory):
    """A demo ISOL corpus of one piano of each voice, clean and (the synth) augmented twice, and
    once more with a bass cut on every recording."""
    root = tmp_path_factory.mktemp("pianos")
    corpus = _binary("corpus")
    run_tool([corpus, "-o", root / "clean", "--categories", "ISOL", "--instruments", "FPGrand,OPL3Pno1,SynPno01"], "corpus clean")
    for name in ("aug1", "aug2"):
        run_tool([corpus, "-o", root / name, "--categories", "ISOL", "--instruments", "SynPno01", "--augment"], f"corpus {name}")
    run_tool([corpus, "-o", root / "cut", "--categories", "ISOL", "--instruments", "SynPno01", "--augment", "--bass-cut", "1"], "corpus cut")
    return root


def isolated(root, code, pitch, loudness="F"):
    stem = f"MAPS_ISOL_NO_{loudness}_S0_M{pitch}_{code}"
    wav = root / code / "ISOL" / "NO" / f"{stem}.wav"
    audio, rate = soundfile.read(wav)
    onset, offset, key = wav.with_suffix(".txt").read_text().splitlines()[1].split()
    assert int(key) == pitch
    return audio.mean(axis=1), rate, float(onset), float(offset)


def audible_start(mono, rate):
    """The first 1 ms frame whose RMS reaches 1/30 of the loudest frame's."""
    frame = rate // 1000
    rms = np.sqrt(np.mean(mono[: len(mono) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    return np.argmax(rms >= rms.max() / 30) * frame / rate


def spectrum(mono, rate, start, seconds=0.4):
    """FFT magnitudes of `seconds` from `start` (Hann window, zero-padded to 1 Hz bins)."""
    piece = mono[int(start * rate): int((start + seconds) * rate)]
    return np.abs(np.fft.rfft(piece * np.hanning(len(piece)), n=rate))


def strongest(mono, rate, start, low, high, seconds=0.4):
    """The frequency of the largest FFT peak between low and high Hz over `seconds` from `start`
    (`spectrum`, parabolic interpolation)."""
    magnitudes = spectrum(mono, rate, start, seconds)
    band = np.arange(int(low), int(high))
    k = band[np.argmax(magnitudes[band])]
    a, b, c = np.log(magnitudes[k - 1: k + 2] + 1e-30)
    return k + 0.5 * (a - c) / (a - 2 * b + c)


def hz(pitch):
    return 440 * 2 ** ((pitch - 69) / 12)


@pytest.mark.parametrize("code", ["FPGrand", "OPL3Pno1", "SynPno01"])
@pytest.mark.parametrize("pitch", [40, 60, 81])
def test_note_is_where_the_txt_says(pianos, code, pitch):
    mono, rate, onset, _ = isolated(pianos / "clean", code, pitch)
    # timidity would drop the leading silence without --preserve-silence: 0.25-0.45 s early.
    assert abs(audible_start(mono, rate) - onset) < 0.015, f"{code} M{pitch}: sound starts at {audible_start(mono, rate):.4f} s, txt says {onset:.4f}"
    f0 = hz(pitch)
    found = strongest(mono, rate, onset + 0.02, f0 * 2 ** (-1.5 / 12), f0 * 2 ** (1.5 / 12))
    # The strongest peak within 1.5 semitones of the key is the key (within 35 cents; the synth
    # stretches its tuning by up to 8 cents an octave away from A4).
    assert abs(1200 * np.log2(found / f0)) < 35, f"{code} M{pitch}: peak at {found:.1f} Hz, key {f0:.1f} Hz"


def test_synth_partials_are_stretched(pianos):
    """A stiff string's partials: f_n = n f0 sqrt(1 + B n^2), B > 0, so f_n / (n f_1) grows with n."""
    mono, rate, onset, _ = isolated(pianos / "clean", "SynPno01", 48)
    f1 = strongest(mono, rate, onset + 0.02, hz(48) * 0.95, hz(48) * 1.05)
    ratios = []
    for n in (2, 4, 6, 8):
        fn = strongest(mono, rate, onset + 0.02, n * f1 * 0.99, n * f1 * 1.03)
        ratios.append(fn / (n * f1))
    assert all(b > a for a, b in zip(ratios, ratios[1:])), ratios
    b_fit = (ratios[-1] ** 2 - 1) / (8 ** 2 - ratios[-1] ** 2)  # from f_8/(8 f_1) = sqrt((1 + 64B)/(1 + B))
    assert 1e-5 < b_fit < 1e-2, b_fit


def test_augmentation_is_seeded_and_keeps_notes(pianos):
    clean = pianos / "clean" / "SynPno01" / "ISOL" / "NO"
    one, two = pianos / "aug1" / "SynPno01" / "ISOL" / "NO", pianos / "aug2" / "SynPno01" / "ISOL" / "NO"
    stems = sorted(p.stem for p in one.glob("*.wav"))
    assert stems == sorted(p.stem for p in clean.glob("*.wav"))
    differ = 0
    for stem in stems:
        assert (one / f"{stem}.wav").read_bytes() == (two / f"{stem}.wav").read_bytes(), stem
        assert (one / f"{stem}.txt").read_text() == (clean / f"{stem}.txt").read_text(), stem
        differ += (one / f"{stem}.wav").read_bytes() != (clean / f"{stem}.wav").read_bytes()
    assert differ == len(stems)
    manifest = json.loads((pianos / "aug1" / "corpus.json").read_text())
    assert manifest["augment"] is True and manifest["version"] == 3 and manifest["bassCut"] == 0
    # Detuned by at most 30 cents (+ the variant's stretch): the note is still the key.
    mono, rate, onset, _ = isolated(pianos / "aug1", "SynPno01", 60)
    found = strongest(mono, rate, onset + 0.02, hz(60) * 2 ** (-1.5 / 12), hz(60) * 2 ** (1.5 / 12))
    assert abs(1200 * np.log2(found / hz(60))) < 45


def band_level(mono, rate, start, centre):
    """The largest `spectrum` magnitude within a semitone of `centre` Hz from `start`."""
    return spectrum(mono, rate, start)[int(centre * 2 ** (-1 / 12)): int(centre * 2 ** (1 / 12)) + 1].max()


@pytest.mark.parametrize("loudness", ["P", "F"])
def test_bass_cut_takes_the_fundamental_away(pianos, loudness):
    """Against the same augmentation without the cut (the cut is drawn last, the rest is the
    same), A0's fundamental loses at least 8 dB against its 8th partial (a 35 Hz cut, the lowest
    drawn, takes 8.8 dB from 27.5 Hz, and 0.0 from 220 Hz), and the notes stay as they were."""
    pitch = 21
    with_cut, rate, onset, _ = isolated(pianos / "cut", "SynPno01", pitch, loudness)
    without, _, _, _ = isolated(pianos / "aug1", "SynPno01", pitch, loudness)
    def ratio(mono):
        return band_level(mono, rate, onset + 0.02, hz(pitch)) / band_level(mono, rate, onset + 0.02, 8 * hz(pitch))
    drop = 20 * np.log10(ratio(with_cut) / ratio(without))
    assert drop < -8, drop
    stem = f"MAPS_ISOL_NO_{loudness}_S0_M{pitch}_SynPno01"
    folder = Path("SynPno01") / "ISOL" / "NO"
    assert (pianos / "cut" / folder / f"{stem}.txt").read_text() == (pianos / "clean" / folder / f"{stem}.txt").read_text()
    manifest = json.loads((pianos / "cut" / "corpus.json").read_text())
    assert manifest["augment"] is True and manifest["bassCut"] == 1


@pytest.mark.parametrize("arguments,message", [(["--bass-cut", "0.3"], "--bass-cut needs --augment"),
                                               (["--augment", "--bass-cut", "1.5"], "--bass-cut must be between 0 and 1")])
def test_bass_cut_refused(tmp_path, arguments, message):
    result = run("corpus", "-o", tmp_path / "x", *arguments)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert not (tmp_path / "x").exists()


def test_instrument_list(tmp_path):
    listing = run_tool([_binary("corpus"), "-o", tmp_path / "x", "--instruments", "list"], "corpus list").stdout
    codes = [line.split("\t")[0] for line in listing.splitlines()]
    assert {"FR3Grand", "FPGrand", "OPL3Pno1", "SynPno08"} <= set(codes)
    # Every instrument plays from one of the free sound files (or is the synth).
    sources = {line.split("\t")[1].split()[1] for line in listing.splitlines() if not line.split("\t")[1].startswith("synth")}
    assert sources == {"FluidR3_GM.sf2", "OPL-3_FM_128M.sf2", "freepats.cfg"}, sources
    assert not (tmp_path / "x").exists()
