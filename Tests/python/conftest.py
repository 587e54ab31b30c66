"""Shared fixtures for the independent-reference checks.

The session renders the demo corpus once with the `corpus` binary (or uses $PIANO_CORPUS when it
points at a corpus root holding corpus.json) and runs `ingest` over it twice: with the sustain
pedal (the default) and with --no-pedal. The `spectro_runs` fixture then runs `spectro` on a
small subset of those note maps (the shortest recording of each MAPS category) with several
settings, each into its own THUMBS folder.

The `end_to_end` fixture (test_infer.py, test_forward.py) trains a small `simple` model on one
instrument's recordings and runs `infer --save-arrays` on held-out recordings of the other; the
`end_to_end_original` fixture (test_forward.py) adds a tiny `original` model (multi-label,
25x25 centre crop) trained on a few of the same thumbnail folders, run on one held-out recording.

Environment:
  BIN_DIR        folder with the built binaries (default: <repo>/.build-test/release, which
                 scripts/test.sh builds, else <repo>/.build/debug)
  PIANO_CORPUS   an existing corpus root to use instead of rendering one
  PIANO_INFER_TEST_STEPS   training steps of the end-to-end model (default 100)
  PIANO_INFER_TEST_BATCH   its batch size (default 24); 100 x 24 trains in about a second (optimised binaries)
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))  # the piano_thumbs package
SCHEMAS = REPO / "Schemas"


def _binary(name: str) -> Path:
    tested = REPO / ".build-test" / "release"
    bin_dir = Path(os.environ.get("BIN_DIR") or (tested if tested.is_dir() else REPO / ".build" / "debug"))
    path = bin_dir / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"binary '{name}' not found at {path}: build the package first (swift build) "
            f"or point BIN_DIR at the folder holding it",
            pytrace=False,
        )
    return path


def _run(command: list, what: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed with exit code {result.returncode}:\n"
            f"$ {' '.join(map(str, command))}\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


@dataclass
class Corpus:
    """A rendered corpus and the note maps ingest made of it."""

    root: Path
    notemaps: dict  # "pedal" / "nopedal" -> Path of the note map folder
    ingest_stderr: dict  # same keys -> ingest's stderr

    def recordings(self):
        """(stem, folder) of every .mid in the corpus, sorted by stem."""
        return sorted((p.stem, p.parent) for p in self.root.rglob("*.mid") if not p.name.startswith("."))

    def notemap(self, kind: str, stem: str) -> dict:
        return json.loads((self.notemaps[kind] / f"{stem}.notemap.json").read_text())


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Corpus:
    corpus_bin = _binary("corpus")
    ingest_bin = _binary("ingest")

    given = os.environ.get("PIANO_CORPUS")
    if given and (Path(given) / "corpus.json").is_file():
        root = Path(given).resolve()
    else:
        root = tmp_path_factory.mktemp("corpus")
        _run([corpus_bin, "-o", root], "corpus")
    manifest = json.loads((root / "corpus.json").read_text())
    assert manifest.get("complete") is True, f"{root}/corpus.json says the corpus is not complete"

    out = tmp_path_factory.mktemp("notemaps")
    notemaps, stderr = {}, {}
    for kind, extra in (("pedal", []), ("nopedal", ["--no-pedal"])):
        folder = out / kind
        result = _run([ingest_bin, root, "-o", folder, "--force", *extra], f"ingest {' '.join(extra)}".strip())
        notemaps[kind], stderr[kind] = folder, result.stderr
    return Corpus(root=root, notemaps=notemaps, ingest_stderr=stderr)


# spectro settings the session runs, by name: extra command-line arguments for each.
SPECTRO_RUNS = {
    "cqt36": ["--save-spectrogram"],  # the defaults: CQT, 36 bins per octave, 32x32, context 16, quality 90
    "cqt12": ["--bins-per-octave", "12", "--save-spectrogram"],
    "stft": ["--transform", "stft", "--save-spectrogram"],
    "every4": ["--every", "4"],
    "q100": ["--quality", "100", "--save-spectrogram"],
    # Non-square: one row per key (264 CQT bins, three to a row), 9 frames stretched to 12 columns.
    "geometry": ["--quality", "100", "--size", "88x12", "--context", "9", "--every", "3", "--save-spectrogram"],
}
SPECTRO_CATEGORIES = ("MUS", "RAND", "UCHO", "ISOL")


@dataclass
class SpectroRuns:
    """`spectro` run over a few of the corpus's note maps, once per entry of SPECTRO_RUNS."""

    notemaps: dict  # stem -> Path of its note map (the corpus's "pedal" note maps)
    by_category: dict  # MAPS category -> the stem chosen for it
    outputs: dict  # run name -> THUMBS folder
    stderr: dict  # run name -> spectro's stderr

    @property
    def stems(self):
        return sorted(self.notemaps)

    def folder(self, run: str, stem: str) -> Path:
        return self.outputs[run] / stem

    def notemap(self, stem: str) -> dict:
        return json.loads(self.notemaps[stem].read_text())

    def sidecar(self, run: str, stem: str) -> dict:
        return json.loads((self.folder(run, stem) / "thumbs.json").read_text())


def run_tool(command: list, what: str) -> subprocess.CompletedProcess:
    """Runs a command and fails the test (with its stderr) unless it exits 0."""
    return _run(command, what)


@pytest.fixture(scope="session")
def spectro_runs(corpus, tmp_path_factory) -> SpectroRuns:
    spectro_bin = _binary("spectro")
    folder = corpus.notemaps["pedal"]
    index = json.loads((folder / "index.json").read_text())["recordings"]
    chosen = {}
    for category in SPECTRO_CATEGORIES:
        entries = sorted((e for e in index if e["category"] == category), key=lambda e: (e["duration"], e["stem"]))
        if entries:
            chosen[category] = entries[0]["stem"]
    assert {"MUS", "RAND"} <= set(chosen), f"the corpus lacks MUS or RAND recordings: {sorted(chosen)}"
    notemaps = {stem: folder / f"{stem}.notemap.json" for stem in chosen.values()}
    out = tmp_path_factory.mktemp("thumbs")
    outputs, stderr = {}, {}
    for name, extra in SPECTRO_RUNS.items():
        outputs[name] = out / name
        result = _run([spectro_bin, *notemaps.values(), "-o", outputs[name], *extra], f"spectro {' '.join(extra)}")
        stderr[name] = result.stderr
    return SpectroRuns(notemaps=notemaps, by_category=chosen, outputs=outputs, stderr=stderr)


# ---------------------------------------------------------------------------------------------
# End to end: train a small model on one instrument, transcribe the other's recordings

TRAIN_INSTRUMENT, TEST_INSTRUMENT = "FR3Grand", "FR3Brght"


@dataclass
class EndToEnd:
    model: Path
    out: Path
    wavs: dict  # stem -> wav
    references: dict  # stem -> reference txt beside the wav
    notemaps: dict  # stem -> the session's note map of that recording (ingest's view of the same wav)
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    before: dict  # file name -> (mtime_ns, inode, size) after the first run
    after: dict  # the same after the second run
    summary_after: dict
    hop: int
    sample_rate: int
    work: Path  # the fixture's folder: thumbs/ (the training thumbnails), data.npz, the model, out/

    @property
    def stems(self):
        return sorted(self.wavs)

    def output(self, stem, suffix) -> Path:
        return self.out / f"{stem}{suffix}"


def snapshot(folder: Path) -> dict:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino, p.stat().st_size) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="session")
def end_to_end(corpus, tmp_path_factory) -> EndToEnd:
    steps = int(os.environ.get("PIANO_INFER_TEST_STEPS", "100"))
    batch = int(os.environ.get("PIANO_INFER_TEST_BATCH", "24"))
    folder = corpus.notemaps["pedal"]
    index = json.loads((folder / "index.json").read_text())["recordings"]

    def entries(instrument, category):
        return sorted(
            (e for e in index if e.get("instrument") == instrument and e["category"] == category),
            key=lambda e: (e["duration"], e["stem"]),
        )

    # Training set: the forte isolated notes without pedal (one per key) and two random chords.
    isol = [e for e in entries(TRAIN_INSTRUMENT, "ISOL") if "_F_S0_" in e["stem"]] or entries(TRAIN_INSTRUMENT, "ISOL")
    train_set = isol + entries(TRAIN_INSTRUMENT, "RAND")[:2]
    assert len(train_set) >= 20, f"too few {TRAIN_INSTRUMENT} recordings in the corpus to train on"
    work = tmp_path_factory.mktemp("infer-e2e")
    run_tool([_binary("spectro"), *(folder / e["file"] for e in train_set), "-o", work / "thumbs"], "spectro")
    run_tool([_binary("pack"), work / "thumbs", "-o", work / "data.npz", "--split", "18:1:1"], "pack")
    model = work / "model.safetensors"
    run_tool(
        [_binary("train"), work / "data.npz", "-o", model, "--arch", "simple", "--steps", steps, "--batch", batch,
         "--no-distort", "--eval-every", steps],
        "train",
    )

    # Held out: the other instrument's shortest random and usual chords and its forte middle C.
    chosen = []
    for category in ("RAND", "UCHO"):
        chosen += entries(TEST_INSTRUMENT, category)[:1]
    isol = entries(TEST_INSTRUMENT, "ISOL")
    chosen += [e for e in isol if "_F_S0_M60_" in e["stem"]][:1] or isol[:1]
    assert len(chosen) >= 2, f"too few {TEST_INSTRUMENT} recordings in the corpus"
    wavs, references, notemaps = {}, {}, {}
    for e in chosen:
        stem = e["stem"]
        found = [p for p in corpus.root.rglob(f"{stem}.wav")]
        assert len(found) == 1, f"{stem}.wav: {found}"
        wavs[stem], references[stem], notemaps[stem] = found[0], found[0].with_suffix(".txt"), folder / e["file"]
        assert references[stem].is_file()

    # --save-arrays: <stem>.thumbnails.npy and <stem>.outputs.npy, which test_forward.py checks.
    out = work / "out"
    command = [_binary("infer"), model, *wavs.values(), "-o", out, "--jobs", "2", "--save-arrays"]
    first = run_tool(command, "infer")
    before = snapshot(out)
    second = run_tool(command, "infer (second run, no --force)")
    after = snapshot(out)
    summary_after = json.loads((out / "summary.json").read_text())

    from safetensors import safe_open

    with safe_open(str(model), "np") as f:
        transform = json.loads(f.metadata()["frontEnd"])["transform"]
    return EndToEnd(model, out, wavs, references, notemaps, first, second, before, after, summary_after,
                    int(transform["hop"]), int(transform["sampleRate"]), work)


@dataclass
class Inference:
    """A model and what `infer --save-arrays` made with it."""

    model: Path
    out: Path
    wavs: dict  # stem -> wav
    notemaps: dict  # stem -> the session's note map of that recording

    @property
    def stems(self):
        return sorted(self.wavs)


@pytest.fixture(scope="session")
def end_to_end_original(end_to_end, tmp_path_factory) -> Inference:
    """A tiny `original` network: multi-label (sigmoid outputs), a 25x25 centre crop of the 32x32
    thumbnails (odd, so the crop offset rounds down and both max pools pad one cell on each
    side), trained for 10 steps on five of end_to_end's thumbnail folders, then `infer
    --save-arrays` on the shortest held-out recording."""
    thumbs = sorted(p for p in (end_to_end.work / "thumbs").iterdir() if p.is_dir() and not p.name.startswith("."))
    chords = [p for p in thumbs if "_RAND_" in p.name]
    notes = [p for p in thumbs if "_RAND_" not in p.name]
    subset = chords[:2] + notes[:: max(1, len(notes) // 3)][:3]
    assert len(subset) >= 3, f"too few thumbnail folders in {end_to_end.work / 'thumbs'}"
    work = tmp_path_factory.mktemp("infer-original")
    run_tool([_binary("pack"), *subset, "-o", work / "data.npz", "--split", "3:1:1"], "pack (original)")
    model = work / "model.safetensors"
    # --lr 1e-4: close to the initial weights, every layer alive and most outputs between 0 and 1.
    # (At the default 0.01 this multi-label network's loss blows up within 10 steps: conv2's ReLUs
    # die, the outputs stop depending on the input and are mostly 0 or 1, which would test little.)
    run_tool(
        [_binary("train"), work / "data.npz", "-o", model, "--arch", "original", "--labels", "multi", "--crop", "25",
         "--steps", "10", "--batch", "16", "--eval-every", "10", "--lr", "0.0001"],
        "train --arch original",
    )
    stem = min(end_to_end.stems, key=lambda s: json.loads(end_to_end.notemaps[s].read_text())["steps"])
    out = work / "out"
    run_tool([_binary("infer"), model, end_to_end.wavs[stem], "-o", out, "--jobs", "2", "--save-arrays"], "infer (original)")
    return Inference(model, out, {stem: end_to_end.wavs[stem]}, {stem: end_to_end.notemaps[stem]})


# A network spec that exercises what the paper's two do not: non-square (88x16, one row per key)
# inputs, rectangular kernels and windows, strides, "valid" padding, an LRN with its own settings,
# flatten, and three heads: frame with its own layers, onset, and a weighted single.
SPEC = {
    "format": "piano-network", "version": 1, "name": "test-spec",
    "layers": [
        {"type": "flipRows"},
        {"type": "rowShifts", "shifts": [0, 12, -5, 100]},
        {"type": "convolution", "filters": 8, "kernel": [3, 5], "stride": [2, 1], "padding": "valid"},
        {"type": "relu"},
        {"type": "maxPool", "window": [1, 3], "stride": [1, 2]},
        {"type": "lrn", "radius": 2, "alpha": 0.01, "beta": 0.5},
        {"type": "convolution", "filters": 4, "kernel": 1, "name": "mix"},
        {"type": "relu"},
    ],
    "heads": [
        {"kind": "frame", "layers": [{"type": "flatten"}, {"type": "dense", "units": 32, "name": "hidden"}, {"type": "relu"}, {"type": "dense", "units": 88}]},
        {"kind": "onset", "positiveWeight": 3},
        {"kind": "single", "weight": 0.5},
    ],
}


@dataclass
class SlidingRuns:
    """One model of networks/piano88-slide.json and `infer --save-arrays` with each evaluation."""

    sliding: Inference
    thumbnails: Inference


@pytest.fixture(scope="session")
def end_to_end_slide(end_to_end_spec, end_to_end_original, tmp_path_factory) -> SlidingRuns:
    """networks/piano88-slide.json trained for 30 steps on end_to_end_spec's 88x16 archive, then
    `infer --save-arrays` on end_to_end_original's recordings with --evaluation sliding and thumbnails."""
    work = tmp_path_factory.mktemp("infer-slide")
    model = work / "model.safetensors"
    spec = Path(__file__).resolve().parents[2] / "networks" / "piano88-slide.json"
    run_tool([_binary("train"), end_to_end_spec.model.parent / "data.npz", "-o", model, "--arch", spec,
              "--steps", "30", "--batch", "16", "--eval-every", "30"], "train --arch piano88-slide.json")
    runs = {}
    for mode in ("sliding", "thumbnails"):
        out = work / mode
        run_tool([_binary("infer"), *end_to_end_original.wavs.values(), "--model", model, "-o", out, "--jobs", "2",
                  "--save-arrays", "--evaluation", mode], f"infer --evaluation {mode}")
        runs[mode] = Inference(model, out, end_to_end_original.wavs, end_to_end_original.notemaps)
    return SlidingRuns(**runs)


@pytest.fixture(scope="session")
def end_to_end_spec(end_to_end, end_to_end_original, tmp_path_factory) -> Inference:
    """SPEC on 88x16 thumbnails (spectro --size 88x16 on end_to_end's chords and a few of its
    notes), trained with Adam for 10 steps, then `infer --save-arrays` on end_to_end_original's recording."""
    thumbs = sorted(p.name for p in (end_to_end.work / "thumbs").iterdir() if p.is_dir() and not p.name.startswith("."))
    chosen = [s for s in thumbs if "_RAND_" in s][:2] + [s for s in thumbs if "_RAND_" not in s][::8][:3]
    notemaps = [json.loads((end_to_end.work / "thumbs" / s / "thumbs.json").read_text())["noteMap"] for s in chosen]
    notemaps = [(end_to_end.work / "thumbs" / s / m).resolve() for s, m in zip(chosen, notemaps)]
    work = tmp_path_factory.mktemp("infer-spec")
    run_tool([_binary("spectro"), *notemaps, "-o", work / "thumbs", "--size", "88x16", "--jobs", "2"], "spectro --size 88x16")
    run_tool([_binary("pack"), work / "thumbs", "-o", work / "data.npz", "--split", "3:1:1"], "pack (88x16)")
    spec = work / "spec.json"
    spec.write_text(json.dumps(SPEC))
    model = work / "model.safetensors"
    run_tool([_binary("train"), work / "data.npz", "-o", model, "--arch", spec,
              "--steps", "10", "--batch", "16", "--eval-every", "10"], "train --arch spec.json")
    out = work / "out"
    run_tool([_binary("infer"), model, *end_to_end_original.wavs.values(), "-o", out, "--jobs", "2", "--save-arrays"], "infer (spec)")
    return Inference(model, out, end_to_end_original.wavs, end_to_end_original.notemaps)
