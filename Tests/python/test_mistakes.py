"""Common mistakes, and every stage failing fast (issue 16): each is recognised and said in words.

- Fail fast: an output that cannot be written fails in under 5 s with one `error:` line naming the
  path as given (never a `.partial-` temporary), before any long work; a failed run leaves no
  stray file (no settings.json, no empty index.json, no empty folder) and claims no outputs.
- Mistakes: model and audio swapped (either way round, by magic bytes), a training checkpoint
  given as the model, a `<stem>.txt` beside the audio that is no MAPS note list, a split that comes
  out empty (pack refuses, train says "no test examples"), outputs made with other settings in the
  output folder (one warning naming the folder and the setting), and another input under the same
  stem (`piece.wav`, then `piece.flac`) not taken for up to date.
- One command line: `--version` everywhere, one lower-case `error:` prefix, closed choices
  checked by the parser, `infer score`'s table aligned, ingest's tolerances in milliseconds.

Uses the small files of test_bad_inputs.py (`mini`: three short ISOL recordings, their thumbnails,
an archive and a tiny model).
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import _binary
from test_bad_inputs import FAST, TRAIN, assert_clean_failure, assert_nothing_left, mini, run  # noqa: F401 (mini: a fixture)

EXECUTABLES = ("corpus", "ingest", "spectro", "pack", "train", "infer", "bench-cqt", "bench-archive", "bench-train")


def _audio(mini, tmp_path: Path, name: str = "audio") -> Path:
    """The shortest recording's wav alone in a folder (no reference beside it)."""
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(mini.sources[mini.stems[0]]["wav"], folder / "song.wav"))


def _fast_failure(result, started: float, bad, problem: str):
    assert time.monotonic() - started < 5, f"took {time.monotonic() - started:.1f} s to fail"
    assert_clean_failure(result, bad, problem)
    assert ".partial-" not in result.stderr, result.stderr
    assert "outputs in" not in result.stdout, result.stdout


# ---------------------------------------------------------------------------------------------
# Fail fast


def test_train_unwritable_output_fails_before_training(mini):
    """train -o /proc/x.safetensors with many steps: refused at once, not after training."""
    started = time.monotonic()
    result = run("train", mini.archive, "-o", "/proc/x.safetensors", "--steps", "100000", "--batch", "4", "--crop", "8")
    _fast_failure(result, started, "/proc/x.safetensors", r"cannot write")


@pytest.mark.parametrize("tool, output", [
    ("infer", "/proc"), ("ingest", "/proc"), ("spectro", "/proc"), ("pack", "/proc/d.npz"), ("corpus", "/proc"),
])
def test_unwritable_output_fails_fast(mini, tmp_path, tool, output):
    """Every stage probes its output (a folder that exists but takes no files) before any work."""
    inputs = {
        "infer": [_audio(mini, tmp_path), "--model", mini.model],
        "ingest": [mini.sources[mini.stems[0]]["wav"].parent],
        "spectro": [mini.notemaps[mini.stems[0]]],
        "pack": [mini.thumbs],
        "corpus": ["--categories", "ISOL"],
    }[tool]
    started = time.monotonic()
    result = run(tool, *inputs, "-o", output)
    _fast_failure(result, started, output, r"cannot write")


def test_failed_infer_leaves_nothing(mini, tmp_path):
    """infer of a file that is no audio: no settings.json, no output folder, no 'outputs in'."""
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio\n")
    out = tmp_path / "out"
    result = run("infer", bad, "--model", mini.model, "-o", out)
    assert result.returncode == 1, result.stderr
    assert "outputs in" not in result.stdout, result.stdout
    assert not out.exists(), sorted(out.rglob("*"))


def test_failed_ingest_leaves_no_index(mini, tmp_path):
    """ingest of a wav without notes into a new folder: no empty index.json, no folder."""
    wav = Path(shutil.copy(mini.sources[mini.stems[0]]["wav"], tmp_path / "lonely.wav"))
    out = tmp_path / "maps"
    result = run("ingest", wav, "-o", out)
    assert result.returncode == 1, result.stderr
    assert not out.exists(), sorted(out.rglob("*", ))


# ---------------------------------------------------------------------------------------------
# Mistakes recognised


def test_infer_model_among_the_audio(mini, tmp_path):
    """infer song.wav model.safetensors: the model is named as swapped, nothing is transcribed."""
    wav, out = _audio(mini, tmp_path), tmp_path / "out"
    model = Path(shutil.copy(mini.model, tmp_path / "model.safetensors"))
    result = run("infer", wav, model, "-o", out)
    assert_clean_failure(result, model, r"did you swap the model and the audio")
    assert not out.exists()


MAGIC = {
    "wav": (None, "RIFF/WAVE"),
    "flac": (b"fLaC\x00\x00\x00\x22" + bytes(64), "FLAC"),
    "ogg": (b"OggS\x00\x02" + bytes(64), "Ogg"),
    "mp3": (b"ID3\x04\x00\x00" + bytes(64), "MP3"),
    "aiff": (b"FORM\x00\x00\x10\x00AIFF" + bytes(64), "AIFF"),
}


@pytest.mark.parametrize("extension, magic, kind", [(e, *v) for e, v in MAGIC.items()], ids=MAGIC.keys())
def test_infer_audio_given_as_model(mini, tmp_path, extension, magic, kind):
    """--model song.wav (or the older form with audio first): the model reader knows audio by its magic bytes."""
    wav = _audio(mini, tmp_path)
    model = tmp_path / f"song.{extension}"
    if magic is None:
        model = wav
    else:
        model.write_bytes(magic)
    result = run("infer", wav, "--model", model, "-o", tmp_path / "out")
    assert_clean_failure(result, model, rf"a {re.escape(kind)}.* audio file, not a model: did you swap the model and the audio")


def test_infer_checkpoint_as_model(mini, tmp_path):
    """The training checkpoint given as the model: named as such, with the model to use instead."""
    result = run("infer", mini.checkpoint, _audio(mini, tmp_path), "-o", tmp_path / "out")
    assert_clean_failure(result, mini.checkpoint, r"training checkpoint \(for train --resume\), not a model: use .*"
                         + re.escape(mini.model.name))


def test_infer_reference_that_is_no_note_list(mini, tmp_path):
    """song.txt beside song.wav holding anything but a MAPS note list: a warning, and notes without metrics."""
    wav, out = _audio(mini, tmp_path), tmp_path / "out"
    (wav.parent / "song.txt").write_text("lyrics, not notes\n")
    result = run("infer", wav, "--model", mini.model, "-o", out)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "song.txt" in warning[0] and "without metrics" in warning[0], result.stderr
    assert (out / "song.mid").is_file() and not (out / "song.metrics.json").exists()
    # ... and the next run finds it up to date.
    again = run("infer", wav, "--model", mini.model, "-o", out)
    assert "(0 made, 1 up to date)" in again.stderr, again.stderr


def test_pack_refuses_empty_splits(mini, tmp_path):
    """Two recordings split 8:1:1 by recording: valid and test come out empty; refused unless allowed."""
    two = sorted(p for p in mini.thumbs.iterdir() if p.is_dir())[:2]
    archive = tmp_path / "two.npz"
    result = run("pack", *two, "-o", archive)
    assert_clean_failure(result, archive, r"the valid and test splits come out empty.*--allow-empty-splits")
    assert not archive.exists()
    assert_nothing_left(tmp_path)
    allowed = run("pack", *two, "-o", archive, "--allow-empty-splits")
    assert allowed.returncode == 0 and archive.is_file(), allowed.stderr
    # An explicit 0 share is no mistake.
    assert run("pack", *two, "-o", tmp_path / "train-only.npz", "--split", "1:0:0").returncode == 0
    # train on it: no validation, and "no test examples" rather than an accuracy of 0.
    trained = run("train", archive, "-o", tmp_path / "model.safetensors", *TRAIN)
    assert trained.returncode == 0, trained.stderr
    assert "no test examples" in trained.stderr and "no valid examples" in trained.stderr, trained.stderr
    assert "accuracy 0.0000" not in trained.stderr


def test_infer_warns_about_other_settings(mini, tmp_path):
    """A second infer into one folder with another --min-note-ms: one warning naming the folder and the setting."""
    wav, out = _audio(mini, tmp_path), tmp_path / "out"
    assert run("infer", wav, "--model", mini.model, "-o", out).returncode == 0
    result = run("infer", wav, "--model", mini.model, "-o", out, "--min-note-ms", "80")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert str(out) in warnings[0] and "minNoteSeconds 0.05 → 0.08" in warnings[0], warnings[0]
    assert "(1 made, 0 up to date)" in result.stderr


def test_infer_gap_steps(mini, tmp_path):
    """--gap-steps reaches the decoder (settings.json records it; another value is another
    setting), and a negative one is refused before anything is written."""
    wav, out = _audio(mini, tmp_path), tmp_path / "out"
    assert run("infer", wav, "--model", mini.model, "-o", out, "--gap-steps", "7").returncode == 0
    assert json.loads((out / "settings.json").read_text())["options"]["decoder"]["gapSteps"] == 7
    result = run("infer", wav, "--model", mini.model, "-o", out, "--gap-steps", "0")
    assert "gapSteps 7 → 0" in result.stderr, result.stderr
    refused = run("infer", wav, "--model", mini.model, "-o", tmp_path / "refused", "--gap-steps", "-1")
    assert refused.returncode != 0 and "--gap-steps" in refused.stderr, refused.stderr
    assert not (tmp_path / "refused").exists()


def test_spectro_and_ingest_warn_about_other_settings(mini, tmp_path):
    """spectro into a folder of thumbnails made with other settings, and ingest with another hop: one warning each."""
    thumbs = tmp_path / "thumbs"
    shutil.copytree(mini.thumbs, thumbs)
    result = run("spectro", *mini.notemaps.values(), "-o", thumbs, "--bins-per-octave", "12", "--context", "8")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert result.returncode == 0 and len(warnings) == 1, result.stderr
    assert str(thumbs) in warnings[0] and "context 16 → 8" in warnings[0], warnings[0]

    maps = tmp_path / "maps"
    files = mini.copy_recording(mini.stems[0], tmp_path / "rec")
    assert run("ingest", files["wav"], "-o", maps).returncode == 0
    result = run("ingest", files["wav"], "-o", maps, "--hop", "256")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert result.returncode == 0 and len(warnings) == 1 and "hop 512 → 256" in warnings[0], result.stderr


def test_infer_other_input_under_the_same_stem_is_not_up_to_date(mini, tmp_path):
    """piece.wav, then an older piece.flac of other music, into one folder: the flac is transcribed."""
    soundfile = pytest.importorskip("soundfile")
    out = tmp_path / "out"
    wav = Path(shutil.copy(mini.sources[mini.stems[0]]["wav"], tmp_path / "piece.wav"))
    flac = tmp_path / "flac" / "piece.flac"
    flac.parent.mkdir()
    data, rate = soundfile.read(mini.sources[mini.stems[1]]["wav"])
    soundfile.write(flac, data, rate)
    old = wav.stat().st_mtime - 3600
    os.utime(flac, (old, old))  # older than every output: times alone would call it up to date
    assert run("infer", wav, "--model", mini.model, "-o", out).returncode == 0
    result = run("infer", flac, "--model", mini.model, "-o", out)
    assert "(1 made, 0 up to date)" in result.stderr, result.stderr
    settings = json.loads((out / "settings.json").read_text())
    assert settings["inputs"]["piece"]["audio"]["path"] == str(flac.resolve())
    again = run("infer", flac, "--model", mini.model, "-o", out)
    assert "(0 made, 1 up to date)" in again.stderr, again.stderr


# ---------------------------------------------------------------------------------------------
# One command line


@pytest.mark.parametrize("tool", EXECUTABLES)
def test_version_everywhere(tool):
    result = run(tool, "--version")
    assert result.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\n", result.stdout), (result.stdout, result.stderr)


def test_version_in_model_metadata(mini):
    header_length = int.from_bytes(mini.model.read_bytes()[:8], "little")
    metadata = json.loads(mini.model.read_bytes()[8: 8 + header_length])["__metadata__"]
    assert metadata["toolkitVersion"] == run("train", "--version").stdout.strip()


@pytest.mark.parametrize("tool, args", [
    ("spectro", ["x", "-o", "y", "--transform", "wavelet"]),
    ("pack", ["x", "-o", "y.npz", "--split-by", "song"]),
    ("ingest", ["x", "-o", "y", "--notes-from", "csv"]),
    ("corpus", ["-o", "y", "--size", "huge"]),
    ("train", ["x.npz", "-o", "y.safetensors", "--optimizer", "lbfgs"]),
])
def test_closed_choices_and_one_error_prefix(tool, args):
    """A word outside a closed set is refused by the parser, with the toolkit's lower-case `error:`."""
    result = run(tool, *args)
    assert result.returncode == 64, result.stderr
    assert result.stderr.startswith("error: ") and "Error:" not in result.stderr, result.stderr
    assert "Please provide one of" in result.stderr, result.stderr


def test_shared_options_spelled_alike():
    """-o/--output, -j/--jobs and --force read the same in every stage's help."""
    for tool in ("ingest", "spectro", "corpus", "pack", "train", "infer"):
        sub = {"pack": ["create"], "infer": ["transcribe"]}.get(tool, [])
        text = run(tool, *sub, "--help").stdout
        assert "-o, --output" in text, tool
        assert "-j, --jobs" in text, tool
        if tool not in ("pack", "train"):
            assert "--force" in text and "Redo outputs that are up to date" in text, tool


def test_ingest_tolerances_in_milliseconds(mini, tmp_path):
    """--onset-tolerance-ms (ms, like infer's --min-note-ms); the older --onset-tolerance (s) still works."""
    files = mini.copy_recording(mini.stems[0], tmp_path / "rec")
    for args in (["--onset-tolerance-ms", "20", "--offset-tolerance-ms", "20"], ["--onset-tolerance", "0.02", "--offset-tolerance", "0.02"]):
        out = tmp_path / ("maps" + args[0])
        assert run("ingest", files["wav"], "-o", out, *args).returncode == 0
        check = json.loads((out / f"{mini.stems[0]}.notemap.json").read_text())["crossCheck"]
        assert check["onsetTolerance"] == pytest.approx(0.02) and check["offsetTolerance"] == pytest.approx(0.02)


def test_score_table_aligned(mini):
    """infer score: the figures of every row start in the same columns."""
    txt = mini.sources[mini.stems[0]]["txt"]
    lines = run("infer", "score", txt, txt).stdout.splitlines()
    assert len(lines) == 4
    columns = {line.index("   (") for line in lines}  # the counts
    assert len(columns) == 1, lines
    f1 = {line.index("F1") + 2 for line in lines[:1]} | {len(line.split("   (")[0]) for line in lines[1:]}
    assert len(f1) == 1, lines  # each F1 figure ends under the header's "F1"
