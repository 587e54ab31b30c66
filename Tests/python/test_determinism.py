"""Determinism: the same inputs, settings and seed give byte-identical outputs.

- ingest twice (--jobs 2 and --jobs 1) over part of the session corpus: identical note maps and
  index.json (its cache of file times, .index-cache.json, is not compared), and the same note maps as the session's own ingest run (conftest's `corpus`).
- spectro (--save-spectrogram --every 2) twice with --jobs 2 and once with --jobs 1 over six short
  note maps, and one note map alone with --jobs 2 (threads inside the recording) against --jobs 1:
  every file of every folder identical.
- pack twice with --jobs 2 and once with --jobs 1: identical archives; packing the thumbnails of
  the other spectro runs gives the same bytes too.
- train (simple, single labels, 16x16 random crops and other distortions) twice with --threads 1: identical model,
  checkpoint and log (but its images/s column); the model's metadata holds only the training
  settings (nothing time- or machine-dependent).
- Multi-threaded BLAS: train twice with --threads 2, and --threads 1 against --threads 2. Only
  measured (max |weight difference| and test-accuracy difference, printed; see them with -s),
  not asserted, since OpenBLAS does not promise the same summation order across thread counts.
  Here --threads 2 twice has given identical bytes, and --threads 1 vs 2 weights about 1e-6
  apart. Longer, with release binaries (300 steps of 32 on the kill test's 24-recording
  archive, seed 3): --threads 2 twice identical; 1 vs 2 max |weight difference| 0.049 (largest
  |weight| 0.97), test accuracy 0.4801 vs 0.4762 (8 of 2081 examples).

Paths inside note maps and thumbs.json are relative to the output folder, so every run writes to
a folder at the same depth under the session's temporary folder.
About 20 s of CPU with debug binaries beyond the shared `corpus` fixture (40 s wall on a busy
2-core machine).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from conftest import _binary, run_tool

# Distortions on (random 16x16 crops, brightness, contrast: the seeded generator's path); the crop
# keeps the dense layer small, which is most of the time with debug binaries.
TRAIN = ["--arch", "simple", "--labels", "single", "--steps", "40", "--batch", "16", "--eval-every", "20", "--crop", "16", "--distort", "--seed", "7"]
# Every other step only, to keep the archive (and training with debug binaries) small.
SPECTRO = ["--save-spectrogram", "--every", "2"]
# The metadata keys of a model; anything else (a date, a host, a path) would be suspect.
MODEL_METADATA = {"format", "version", "network", "input", "frontEnd", "steps", "batch", "seed", "optimizer",
                  "archive", "crop", "distort", "flip", "toolkitVersion"}


# ingest's index cache records each note map file's size, time and inode (Schemas/notemap-index.md):
# machine state, not output, so it is the one file left out of the comparison.
NOT_OUTPUT = {".index-cache.json"}


def files_of(root: Path) -> dict:
    """Relative path -> bytes of every file under root (but the index cache)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name not in NOT_OUTPUT}


def assert_same_tree(a: Path, b: Path, what: str):
    fa, fb = files_of(a), files_of(b)
    assert fa.keys() == fb.keys(), f"{what}: different files: {sorted(set(fa) ^ set(fb))[:5]}"
    differing = [name for name in fa if fa[name] != fb[name]]
    assert not differing, f"{what}: {len(differing)} of {len(fa)} files differ, e.g. {differing[:5]}"
    return len(fa)


def tensors(path: Path) -> tuple:
    with safe_open(str(path), "np") as f:
        return {name: f.get_tensor(name) for name in f.keys()}, f.metadata()


def accuracy_of(stderr: str) -> float:
    match = re.search(r"^test: \d+ examples\n  \w+: accuracy ([0-9.]+)", stderr, re.M)
    assert match, f"no test accuracy in train's output:\n{stderr[-2000:]}"
    return float(match.group(1))


def log_without_speed(path: Path) -> list:
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def work(corpus, tmp_path_factory):
    """The runs compared below, each in its own folder directly under the session's temporary
    folder (so relative paths inside the outputs are the same)."""
    base = tmp_path_factory.getbasetemp()
    index = json.loads((corpus.notemaps["pedal"] / "index.json").read_text())["recordings"]

    def shortest(instrument, category, n=1, contains=""):
        entries = [e for e in index if e.get("instrument") == instrument and e["category"] == category and contains in e["stem"]]
        return sorted(entries, key=lambda e: (e["duration"], e["stem"]))[:n]

    # Note maps for spectro/pack/train: short isolated notes and chords of both instruments.
    chosen = (shortest("FR3Grand", "ISOL", 3, "_F_S0_") + shortest("FR3Grand", "RAND") + shortest("FR3Grand", "UCHO")
              + shortest("FR3Brght", "ISOL", 1, "_F_S0_"))
    assert len(chosen) == 6, f"the session corpus lacks short recordings: {[e['stem'] for e in chosen]}"
    maps = [corpus.notemaps["pedal"] / e["file"] for e in chosen]
    return {"base": base, "maps": maps, "stems": [e["stem"] for e in chosen], "runs": {}}


def folder(work, name) -> Path:
    path = work["base"] / name
    assert not path.exists(), f"{path} exists already"
    return path


def test_ingest_twice(corpus, work):
    ingest = _binary("ingest")
    # Part of the corpus (every recording of one instrument's RAND, UCHO and MUS folders).
    inputs = [p for p in (corpus.root / "FR3Grand").iterdir() if p.name in ("RAND", "UCHO", "MUS")]
    # Two levels down, as conftest's note map folders (notemaps0/pedal): the same relative paths.
    a, b = folder(work, "det-ingest/a"), folder(work, "det-ingest/b")
    run_tool([ingest, *inputs, "-o", a, "--jobs", "2"], "ingest --jobs 2")
    run_tool([ingest, *inputs, "-o", b, "--jobs", "1"], "ingest --jobs 1")
    count = assert_same_tree(a, b, "ingest --jobs 2 vs --jobs 1")
    assert count >= 10
    # The session's own run (all of the corpus, earlier, with --force) made the same note maps.
    for p in a.glob("*.notemap.json"):
        assert p.read_bytes() == (corpus.notemaps["pedal"] / p.name).read_bytes(), f"{p.name} differs from the session's ingest run"
    print(f"\ningest: {count} files byte-identical (--jobs 2, --jobs 1, and the session's run)")


@pytest.fixture(scope="module")
def thumbs(work):
    spectro = _binary("spectro")
    runs = {}
    for name, jobs in (("a", 2), ("b", 2), ("c", 1)):
        runs[name] = folder(work, f"det-spectro-{name}")
        run_tool([spectro, *work["maps"], "-o", runs[name], "--jobs", jobs, *SPECTRO], f"spectro --jobs {jobs}")
    # One recording alone: with --jobs 2 its transform and thumbnails run on two threads.
    runs["single"] = folder(work, "det-spectro-single")
    run_tool([spectro, work["maps"][3], "-o", runs["single"], "--jobs", "2", *SPECTRO], "spectro, one note map")
    return runs


def test_spectro_twice(thumbs, work):
    count = assert_same_tree(thumbs["a"], thumbs["b"], "spectro twice (--jobs 2)")
    assert_same_tree(thumbs["a"], thumbs["c"], "spectro --jobs 2 vs --jobs 1")
    stem = work["stems"][3]
    assert_same_tree(thumbs["single"] / stem, thumbs["c"] / stem, "one recording on two threads vs one")
    assert count > 6 * 10
    print(f"\nspectro: {count} files (JPEGs, labels, previews, spectrogram.npy, thumbs.json) byte-identical: twice, --jobs 1 vs 2, "
          f"and one recording with two threads")


@pytest.fixture(scope="module")
def archives(thumbs, work):
    pack = _binary("pack")
    runs = {}
    for name, source, jobs in (("a", "a", 2), ("b", "a", 2), ("c", "a", 1), ("other", "c", 2)):
        runs[name] = folder(work, f"det-pack-{name}") / "data.npz"
        run_tool([pack, thumbs[source], "-o", runs[name], "--split", "4:1:1", "--jobs", jobs], f"pack --jobs {jobs}")
    return runs


def test_pack_twice(archives):
    data = archives["a"].read_bytes()
    assert archives["b"].read_bytes() == data, "pack twice gave different archives"
    assert archives["c"].read_bytes() == data, "pack --jobs 1 and --jobs 2 gave different archives"
    assert archives["other"].read_bytes() == data, "packing another spectro run's (identical) thumbnails gave another archive"
    print(f"\npack: {len(data)}-byte archive identical twice, with --jobs 1 vs 2, and from another spectro run")


@pytest.fixture(scope="module")
def models(archives, work):
    train = _binary("train")
    runs = {}
    for name, threads in (("t1a", 1), ("t1b", 1), ("t2a", 2), ("t2b", 2)):
        model = folder(work, f"det-train-{name}") / "model.safetensors"
        model.parent.mkdir()
        result = run_tool([train, archives["a"], "-o", model, *TRAIN, "--threads", threads], f"train --threads {threads}")
        runs[name] = (model, accuracy_of(result.stderr))
    return runs


def test_train_one_thread_twice(models):
    (a, _), (b, _) = models["t1a"], models["t1b"]
    assert a.read_bytes() == b.read_bytes(), "train --threads 1 twice gave different models"
    for suffix in (".checkpoint.safetensors", ".loss.svg"):
        assert a.with_name("model" + suffix).read_bytes() == b.with_name("model" + suffix).read_bytes(), f"model{suffix} differs"
    assert log_without_speed(a.with_name("model.log.csv")) == log_without_speed(b.with_name("model.log.csv"))
    _, metadata = tensors(a)
    assert set(metadata) == MODEL_METADATA, f"unexpected model metadata keys: {sorted(set(metadata) ^ MODEL_METADATA)}"
    assert metadata["archive"] == "data.npz", "the metadata should name the archive, not its path"
    print(f"\ntrain --threads 1: model, checkpoint, loss plot and log (but images/s) byte-identical; metadata {sorted(metadata)}")


def test_train_blas_threads(models):
    """Measures how far multi-threaded BLAS moves the weights; asserts only that the models work."""
    weights = {name: tensors(model)[0] for name, (model, _) in models.items()}
    accuracy = {name: acc for name, (_, acc) in models.items()}

    def max_difference(x, y):
        return max(float(np.max(np.abs(weights[x][k] - weights[y][k]))) for k in weights[x])

    def scale(x):
        return max(float(np.max(np.abs(w))) for w in weights[x].values())

    lines = []
    for x, y, what in (("t2a", "t2b", "--threads 2 twice"), ("t1a", "t2a", "--threads 1 vs 2")):
        identical = models[x][0].read_bytes() == models[y][0].read_bytes()
        lines.append(f"  {what}: {'byte-identical' if identical else 'differ'}; max |weight difference| {max_difference(x, y):.3g} "
                     f"(largest |weight| {scale(x):.3g}); test accuracy {accuracy[x]:.4f} vs {accuracy[y]:.4f} "
                     f"(difference {abs(accuracy[x] - accuracy[y]):.4f})")
    print("\ntrain, multi-threaded BLAS (" + " ".join(TRAIN) + "):\n" + "\n".join(lines))
    for name, w in weights.items():
        assert all(np.isfinite(v).all() for v in w.values()), f"{name}: weights not finite"
