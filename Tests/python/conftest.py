"""Shared fixtures for the independent-reference checks.

The session renders the demo corpus once with the `corpus` binary (or uses $PIANO_CORPUS when it
points at a corpus root holding corpus.json) and runs `ingest` over it twice: with the sustain
pedal (the default) and with --no-pedal. The `spectro_runs` fixture then runs `spectro` on a
small subset of those note maps (the shortest recording of each MAPS category) with several
settings, each into its own THUMBS folder.

Environment:
  BIN_DIR        folder with the built `corpus`, `ingest` and `spectro` (default: <repo>/.build/debug)
  PIANO_CORPUS   an existing corpus root to use instead of rendering one
"""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "Schemas"


def _binary(name: str) -> Path:
    bin_dir = Path(os.environ.get("BIN_DIR") or REPO / ".build" / "debug")
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
    "cqt36": ["--save-spectrogram"],  # the defaults: CQT, 36 bins per octave, 32x32, context 32, quality 90
    "cqt12": ["--bins-per-octave", "12", "--save-spectrogram"],
    "stft": ["--transform", "stft", "--save-spectrogram"],
    "every4": ["--every", "4"],
    "q100": ["--quality", "100", "--save-spectrogram"],
    "geometry": ["--quality", "100", "--size", "20", "--context", "9", "--every", "3", "--save-spectrogram"],
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
