#!/usr/bin/env python3
"""Kill test: every stage, SIGKILLed at a random moment, then re-run, leaves only valid outputs.

For each stage (corpus, ingest, spectro, pack, train, infer) the script first runs it normally,
twice, on a small corpus (the demo corpus's RAND and UCHO recordings by default: 24 recordings),
timing it; the first run's outputs are the reference and the next stage's inputs. Then, --kills times per stage:

  1. start the stage (into an empty output, or every third time over complete outputs with
     --force, where the stage has it), kill -9 it at a moment drawn uniformly from [0, T], T the
     shorter wall time of two normal runs made at the start;
  2. check what is there: every file or folder with a real name must be complete and valid (and
     byte-identical to the reference, where the stage is deterministic); hidden `.partial-*`
     temporaries may exist; where one does, the next stage's reader is run over the folder to see
     that it does not pick the temporary up;
  3. re-run the stage without --force (train: every other time with --resume from the checkpoint
     the killed run left), then check that every output is there, complete and valid: corpus
     triples readable (wav headers and lengths, MIDI with mido, note lists), note maps against
     Schemas/notemap.schema.json, every JPEG decoded with Pillow, `pack verify` and numpy on the
     archive, the model's tensors against its metadata (and `infer` run with a resumed model),
     infer's MIDI, note lists, SVGs and metrics against Schemas/metrics.schema.json.

Prints `stage: N/N kills, re-runs valid` per stage and exits 1 on any failure.

  scripts/kill-test.sh [--kills N] [--stages corpus,ingest,...] [--seed S] [--work DIR] [--keep]

Environment: BIN_DIR (default <repo>/.build/release).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import mido
import numpy as np
from PIL import Image
from safetensors import safe_open

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "Schemas"
STAGES = ("corpus", "ingest", "spectro", "pack", "train", "infer")
TEST_INSTRUMENT = "FR3Brght"
TRAIN_ARGS = ["--steps", "60", "--batch", "16", "--eval-every", "10", "--no-distort", "--threads", "1", "--seed", "1"]
LOG_HEADER = "step,cross_entropy,total_loss,learning_rate,train_accuracy,valid_accuracy,images_per_second"


class Problems(list):
    """Problems found by one check, as lines."""

    def add(self, message):
        self.append(message)


def hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


# Hidden files that are state, not a killed run's temporaries: ingest's index cache
# (Schemas/notemap-index.md; a stale one after a kill only costs the next run more reading).
NOT_TEMPORARY = {".index-cache.json"}


def hidden_entries(root: Path) -> list:
    """Every entry under root whose own name starts with '.' (not descending into them), but NOT_TEMPORARY files."""
    if not root.exists():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames):
            if name.startswith("."):
                found.append(Path(dirpath) / name)
                dirnames.remove(name)
        found += [Path(dirpath) / n for n in filenames if n.startswith(".") and n not in NOT_TEMPORARY]
    return sorted(found)


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Validated:
    """Contents already checked, by kind and SHA-256, so identical bytes are not checked twice."""

    def __init__(self):
        self.seen = set()

    def __call__(self, kind, data, check):
        key = (kind, sha(data))
        if key in self.seen:
            return []
        problems = check(data)
        if not problems:
            self.seen.add(key)
        return problems


VALIDATED = Validated()
_validators = {}


def schema_problems(name, data: bytes, what):
    if name not in _validators:
        schema = json.loads((SCHEMAS / name).read_text())
        _validators[name] = jsonschema.Draft202012Validator(schema)

    def check(data):
        try:
            instance = json.loads(data)
        except ValueError as error:
            return [f"{what}: not JSON ({error})"]
        return [f"{what}: {name} at /{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                for e in _validators[name].iter_errors(instance)][:5]

    return VALIDATED(name, data, check)


def same_bytes(path: Path, reference: Path, problems, what=None):
    if not reference.exists():
        problems.add(f"{what or path}: no reference file {reference}")
    elif path.read_bytes() != reference.read_bytes():
        problems.add(f"{what or path}: differs from the reference {reference}")


# ---------------------------------------------------------------------------------------------
# Format checks


def wav_problems(path: Path, reference: Path):
    try:
        with wave.open(str(path)) as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except (wave.Error, EOFError, OSError) as error:
        return [f"{path}: unreadable wav ({error})"]
    problems = []
    if (channels, width, rate) != (2, 2, 44100):
        problems.append(f"{path}: {channels} channels, {width}-byte samples at {rate} Hz")
    if len(data) != frames * channels * width:
        problems.append(f"{path}: header says {frames} frames, data holds {len(data) // max(1, channels * width)}")
    with wave.open(str(reference)) as w:
        if w.getnframes() != frames:
            problems.append(f"{path}: {frames} frames, the reference {w.getnframes()}")
    return problems


def midi_problems(data: bytes, what):
    def check(data):
        try:
            import io
            mido.MidiFile(file=io.BytesIO(data))
        except Exception as error:  # mido raises several kinds
            return [f"{what}: MIDI does not parse ({error})"]
        return []

    return VALIDATED("midi", data, check)


def note_list_problems(data: bytes, what):
    lines = data.decode("utf-8", "replace").split("\n")
    if not lines or lines[0].split() != ["OnsetTime", "OffsetTime", "MidiPitch"]:
        return [f"{what}: note list header is {lines[0][:60]!r}"]
    if not data.endswith(b"\n"):
        return [f"{what}: note list does not end with a newline"]
    for number, line in enumerate(lines[1:-1], 2):
        fields = line.split("\t")
        try:
            onset, offset, pitch = float(fields[0]), float(fields[1]), int(fields[2])
            assert len(fields) == 3 and 0 <= onset <= offset and 0 <= pitch <= 127
        except (ValueError, IndexError, AssertionError):
            return [f"{what}: line {number} is not a note: {line[:60]!r}"]
    return []


def svg_problems(data: bytes, what):
    def check(data):
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as error:
            return [f"{what}: SVG does not parse ({error})"]
        return [] if root.tag.endswith("svg") else [f"{what}: root element is {root.tag}"]

    return VALIDATED("svg", data, check)


def jpeg_problems(data: bytes, size, what):
    def check(data):
        import io
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                if image.format != "JPEG" or image.mode != "L" or (size and image.size != size):
                    return [f"{what}: {image.format} {image.mode} {image.size}, expected a {size} (width, height) greyscale JPEG"]
        except Exception as error:
            return [f"{what}: JPEG does not decode ({error})"]
        return []

    return VALIDATED(("jpeg", size), data, check)


def model_problems(path: Path, checkpoint: bool, steps: int):
    """Header parses, metadata complete, tensors exactly the architecture's with its shapes, all finite."""
    problems = Problems()
    try:
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as error:
        return [f"{path}: does not load with safetensors ({error})"]
    for key in ("format", "version", "network", "input", "frontEnd", "steps", "batch", "seed"):
        if key not in meta:
            problems.add(f"{path}: metadata lacks {key}")
    if problems:
        return problems
    spec, shape = json.loads(meta["network"]), json.loads(meta["input"])
    if meta["version"] != "2" or spec.get("name") not in ("simple", "original") or len(spec.get("heads", [])) != 1 or shape[1] != shape[2]:
        return [f"{path}: metadata version {meta['version']}, network {spec.get('name')}, input {shape}: not a paper network this test trains"]
    size, outputs = shape[1], {"single": 128, "frame": 88}.get(spec["heads"][0]["kind"], -1)
    half = math.ceil(size / 2)
    expected = {"conv1.weight": (64, 1, 5, 5), "conv1.bias": (64,)}
    if spec["name"] == "simple":
        expected |= {"output.weight": (outputs, 64 * half * half), "output.bias": (outputs,)}
    else:
        quarter = math.ceil(size / 4)
        expected |= {"conv2.weight": (64, 64, 5, 5), "conv2.bias": (64,), "local3.weight": (384, 64 * quarter * quarter),
                     "local3.bias": (384,), "local4.weight": (192, 384), "local4.bias": (192,),
                     "output.weight": (outputs, 192), "output.bias": (outputs,)}
    if checkpoint:
        expected |= {"momentum." + name: shape for name, shape in expected.items()}
        if meta.get("checkpoint") != "true" or not meta.get("step", "").isdigit():
            problems.add(f"{path}: checkpoint metadata {meta.get('checkpoint')!r} / step {meta.get('step')!r}")
        elif not 1 <= int(meta["step"]) <= steps:
            problems.add(f"{path}: checkpoint at step {meta['step']}, not within 1...{steps}")
    elif "checkpoint" in meta:
        problems.add(f"{path}: a model file with checkpoint metadata")
    got = {name: tuple(t.shape) for name, t in tensors.items()}
    if got != expected:
        problems.add(f"{path}: tensors {sorted(got.items())} differ from the architecture's {sorted(expected.items())}")
    for name, t in tensors.items():
        if t.dtype != np.float32 or not np.isfinite(t).all():
            problems.add(f"{path}: {name} is {t.dtype} or not finite")
    return problems


def log_rows(path: Path):
    lines = path.read_text().split("\n")
    if lines[0] != LOG_HEADER or lines[-1] != "":
        raise ValueError(f"header {lines[0][:80]!r} or no final newline")
    rows = []
    for line in lines[1:-1]:
        fields = line.split(",")
        if len(fields) != 7:
            raise ValueError(f"row {line!r}")
        [float(x) for x in fields[1:5]]
        for optional in (fields[5], fields[6]):  # valid accuracy off evaluation steps; images/s of rows a
            if optional:                         # resume took from the checkpoint with no CSV row to lend it
                float(optional)
        rows.append(fields)
    steps = [int(r[0]) for r in rows]
    if steps != sorted(set(steps)):
        raise ValueError(f"steps {steps} not strictly increasing")
    return rows


# ---------------------------------------------------------------------------------------------
# Running and killing


class Runner:
    def __init__(self, bin_dir: Path, work: Path, rng: random.Random, verbose: bool):
        self.bin_dir, self.work, self.rng, self.verbose = bin_dir, work, rng, verbose
        self.log = open(work / "stderr.log", "a")

    def command(self, tool, *args):
        return [str(self.bin_dir / tool), *map(str, args)]

    def run(self, command, what, allowed=(0,)):
        self.log.write(f"$ {' '.join(command)}\n")
        self.log.flush()
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log.write(result.stderr[-3000:])
        if result.returncode not in allowed:
            raise StageError(f"{what} exited with {result.returncode}: {result.stderr[-1500:]}")
        return result

    def timed(self, command, what):
        start = time.monotonic()
        self.run(command, what)
        return time.monotonic() - start

    def kill_at(self, command, delay):
        """Starts `command`, SIGKILLs it after `delay` s; returns whether it was still running then."""
        self.log.write(f"$ {' '.join(command)}   # kill -9 after {delay:.3f} s\n")
        self.log.flush()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        try:
            code = process.wait(timeout=delay)
            landed = False
            if code != 0:
                raise StageError(f"the run to be killed exited by itself with {code}")
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            landed = True
        try:  # children the stage started (fluidsynth), orphaned by the kill: they are ours to end
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.write(f"# {'killed' if landed else 'finished before the kill'}\n")
        return landed


class StageError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Stages


class Stage:
    name = ""
    has_force = True

    def __init__(self, runner: Runner, inputs: dict):
        self.r, self.inputs = runner, inputs
        self.dir = runner.work / self.name
        self.ref = self.dir / "ref"
        self.out = self.dir / "out"
        self.notes = {}  # counters reported with the pass line
        self.finished = True  # whether the run whose outputs are checked finished (was not killed)
        self.pickup_checks = 0

    def count(self, key, n=1):
        self.notes[key] = self.notes.get(key, 0) + n

    def target(self, root):  # what the command writes: a folder, or a file in it
        return root

    def command(self, root, force=False):
        raise NotImplementedError

    def reference_run(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        first = self.r.timed(self.command(self.ref), f"{self.name} (normal run)")
        problems = self.check(self.ref, complete=True, reference=True)
        if problems:
            raise StageError(f"{self.name}: the normal run's outputs fail the checks:\n  " + "\n  ".join(problems[:20]))
        # A second fresh run, timed too: the first may be slowed by cold caches or a busy machine.
        second = self.r.timed(self.command(self.dir / "timing"), f"{self.name} (second normal run)")
        shutil.rmtree(self.dir / "timing")
        self.seconds = min(first, second)
        return self.seconds

    def prepare(self, mode):
        if mode == "fresh":
            shutil.rmtree(self.out, ignore_errors=True)
        elif not self.out.exists():
            raise StageError("no outputs to overwrite")

    def rerun_command(self, iteration):
        return self.command(self.out), "re-run"

    def check(self, root, complete, reference=False):
        raise NotImplementedError

    def pickup_check(self, root):
        return []

    def leftovers_allowed(self):
        return False

    def iteration(self, i):
        """One kill and re-run; returns the problems found."""
        problems = Problems()
        mode = "overwrite" if i % 3 == 2 else "fresh"
        self.prepare(mode)
        delay = self.r.rng.uniform(0, self.seconds)
        landed = self.r.kill_at(self.command(self.out, force=(mode == "overwrite") and self.has_force), delay)
        self.count("landed mid-run" if landed else "exited before the kill")
        self.count(mode)
        self.finished = not landed
        for p in self.check(self.out, complete=(mode == "overwrite" or not landed)):
            problems.add(f"after the kill ({mode}, {delay:.2f} s): {p}")
        temporaries = hidden_entries(self.out)
        if temporaries:
            self.count("kills leaving temporaries")
            if self.pickup_checks < 3:
                self.pickup_checks += 1
                for p in self.pickup_check(self.out):
                    problems.add(f"after the kill ({mode}, {delay:.2f} s): {p}")
        command, how = self.rerun_command(i)
        self.count(how)
        try:
            self.r.run(command, f"{self.name} {how}")
        except StageError as error:
            problems.add(f"{how} after the kill ({mode}, {delay:.2f} s): {error}")
            return problems
        self.finished = True
        for p in self.check(self.out, complete=True):
            problems.add(f"after the {how} ({mode}, killed at {delay:.2f} s): {p}")
        left = hidden_entries(self.out)
        if left and not self.leftovers_allowed():
            problems.add(f"after the {how}: temporaries not cleaned up: {[str(p) for p in left[:5]]}")
        elif left:
            self.count("re-runs leaving a killed run's temporaries in place")
        return problems


class CorpusStage(Stage):
    name = "corpus"

    def __init__(self, runner, inputs, categories):
        super().__init__(runner, inputs)
        self.categories = categories

    def command(self, root, force=False):
        return self.r.command("corpus", "-o", root, "--categories", self.categories, "--jobs", "2", *(["--force"] if force else []))

    def check(self, root, complete, reference=False):
        problems = Problems()
        stems = {}
        for path in sorted(root.rglob("*")):
            if hidden(path, root) or path.is_dir():
                continue
            rel = path.relative_to(root)
            data = path.read_bytes()
            if rel == Path("corpus.json"):
                problems += schema_problems("corpus.schema.json", data, path)
                manifest = json.loads(data) if not problems else {}
                # A run killed with --force has marked the corpus incomplete: only a finished run must say complete.
                if complete and self.finished and not (manifest.get("complete") is True):
                    problems.add(f"{path}: not complete after a finished run")
                continue
            stems.setdefault(path.with_suffix(""), set()).add(path.suffix)
            if path.suffix == ".wav":
                problems += wav_problems(path, self.ref / rel)
            elif path.suffix == ".mid":
                problems += midi_problems(data, path)
            elif path.suffix == ".txt":
                problems += note_list_problems(data, path)
            else:
                problems.add(f"{path}: unexpected file")
                continue
            if not reference and path.suffix != ".wav":
                same_bytes(path, self.ref / rel, problems)
        if complete:
            if not (root / "corpus.json").exists():
                problems.add(f"{root}/corpus.json missing")
            incomplete = [str(s) for s, suffixes in stems.items() if suffixes != {".wav", ".mid", ".txt"}]
            if incomplete:
                problems.add(f"{len(incomplete)} incomplete triples, e.g. {incomplete[0]}")
            if not reference:
                got = {s.relative_to(root) for s in stems}
                want = {s.relative_to(self.ref) for s in self.reference_stems}
                if got != want:
                    problems.add(f"recordings differ from the reference: {len(got)} vs {len(want)}")
                changed = sum((s.with_suffix(".wav")).read_bytes() != (self.ref / s.relative_to(root)).with_suffix(".wav").read_bytes()
                              for s in stems)
                if changed:
                    self.count("re-runs with wavs not byte-identical", 1)
                    self.count("wavs not byte-identical", changed)
            else:
                self.reference_stems = set(stems)
                if len(stems) < 2:
                    problems.add("the reference corpus is empty")
        return problems

    def pickup_check(self, root):
        """ingest over the killed corpus: note maps only for complete triples, none for temporaries."""
        out = self.dir / "pickup"
        shutil.rmtree(out, ignore_errors=True)
        self.r.run(self.r.command("ingest", root, "-o", out), "ingest over the killed corpus", allowed=(0, 1))
        complete = {p.stem for p in root.rglob("*.wav") if not hidden(p, root)
                    and p.with_suffix(".mid").exists() and p.with_suffix(".txt").exists()}
        made = {p.name[: -len(".notemap.json")] for p in out.glob("*.notemap.json")}
        shutil.rmtree(out, ignore_errors=True)
        wrong = made - complete
        return [f"ingest over the killed corpus made note maps of {sorted(wrong)[:3]}"] if wrong else []


class IngestStage(Stage):
    name = "ingest"

    def command(self, root, force=False):
        return self.r.command("ingest", self.inputs["corpus"], "-o", root, "--jobs", "2", *(["--force"] if force else []))

    def check(self, root, complete, reference=False):
        problems = Problems()
        names = set()
        for path in sorted(root.iterdir()) if root.exists() else []:
            if path.name.startswith("."):
                continue
            names.add(path.name)
            data = path.read_bytes()
            if path.name == "index.json":
                problems += schema_problems("notemap-index.schema.json", data, path)
            elif path.name.endswith(".notemap.json"):
                problems += schema_problems("notemap.schema.json", data, path)
            else:
                problems.add(f"{path}: unexpected file")
                continue
            if not reference:
                same_bytes(path, self.ref / path.name, problems)
        if complete:
            if "index.json" not in names:
                problems.add(f"{root}/index.json missing")
            if not reference and names != {p.name for p in self.ref.iterdir() if not p.name.startswith(".")}:
                problems.add(f"files differ from the reference's: {len(names)} here")
            if reference:
                index = json.loads((root / "index.json").read_text())
                if {e["file"] for e in index["recordings"]} != names - {"index.json"} or len(names) < 3:
                    problems.add("index.json does not list the note maps")
        return problems

    def pickup_check(self, root):
        out = self.dir / "pickup"
        shutil.rmtree(out, ignore_errors=True)
        complete = {p.name[: -len(".notemap.json")] for p in root.glob("*.notemap.json") if not p.name.startswith(".")}
        # With no note map there yet, spectro says the folder holds none and exits 1.
        self.r.run(self.r.command("spectro", root, "-o", out, "--every", "64"), "spectro over the killed note maps",
                   allowed=(0,) if complete else (1,))
        made = {p.name for p in out.iterdir() if not p.name.startswith(".")} if out.exists() else set()
        shutil.rmtree(out, ignore_errors=True)
        return [] if made == complete else [f"spectro over the killed note maps made {sorted(made - complete)[:3]}"]


class SpectroStage(Stage):
    name = "spectro"

    def command(self, root, force=False):
        return self.r.command("spectro", self.inputs["notemaps"], "-o", root, "--jobs", "2", *(["--force"] if force else []))

    def check(self, root, complete, reference=False):
        problems = Problems()
        folders = set()
        for folder in sorted(root.iterdir()) if root.exists() else []:
            if folder.name.startswith("."):
                continue
            folders.add(folder.name)
            problems += self.folder_problems(folder, reference)
        if complete:
            if reference:
                self.reference_folders = folders
                if len(folders) < 2:
                    problems.add("no thumbnail folders")
            elif folders != self.reference_folders:
                # Even a run killed with --force while replacing a folder must leave every recording's
                # folder in place (the new one swapped in atomically, or the old one still there).
                problems.add(f"folders differ from the reference: missing {sorted(self.reference_folders - folders)[:3]}, "
                             f"extra {sorted(folders - self.reference_folders)[:3]}")
        return problems

    def folder_problems(self, folder, reference):
        problems = Problems()
        if not folder.is_dir():
            return [f"{folder}: not a folder"]
        sidecar = folder / "thumbs.json"
        if not sidecar.exists():
            return [f"{folder}: no thumbs.json (an incomplete folder with a real name)"]
        problems += schema_problems("thumbs.schema.json", sidecar.read_bytes(), sidecar)
        if problems:
            return problems
        meta = json.loads(sidecar.read_text())
        size = (meta["geometry"]["columns"], meta["geometry"]["rows"])
        lines = (folder / "labels.tsv").read_text().split("\n") if (folder / "labels.tsv").exists() else []
        if not lines or lines[0] != "step\ttime\tfile\tlabel\tnotes\tonsets" or lines[-1] != "":
            return [f"{folder}/labels.tsv: missing or malformed"]
        listed = [line.split("\t")[2] for line in lines[1:-1]]
        if len(listed) != meta["images"]:
            problems.add(f"{folder}: labels.tsv lists {len(listed)} images, thumbs.json says {meta['images']}")
        expected = set(listed) | {"labels.tsv", "thumbs.json", "preview.jpg"} | ({"spectrogram.npy"} if meta["spectrogram"] else set())
        present = {p.name for p in folder.iterdir()}
        if present != expected:
            problems.add(f"{folder}: files {sorted(present ^ expected)[:4]} missing or extra")
        for name in sorted(present & (set(listed) | {"preview.jpg"})):
            data = (folder / name).read_bytes()
            problems += jpeg_problems(data, size if name != "preview.jpg" else None, folder / name)
            if not reference and data != (self.ref / folder.name / name).read_bytes():
                problems.add(f"{folder / name}: differs from the reference")
        if not reference:
            for name in ("labels.tsv", "thumbs.json"):
                same_bytes(folder / name, self.ref / folder.name / name, problems)
        return problems[:10]

    def pickup_check(self, root):
        out = self.dir / "pickup.npz"
        complete = {p.name for p in root.iterdir() if not p.name.startswith(".")}
        # With no complete folder there yet, pack finds none and exits 1.
        self.r.run(self.r.command("pack", root, "-o", out, "--split", "1:0:0"), "pack over the killed thumbnails",
                   allowed=(0,) if complete else (1,))
        if not complete:
            return [f"pack over the killed thumbnails wrote {out}"] if out.exists() else []
        with zipfile.ZipFile(out) as z:
            manifest = json.loads(z.read("manifest.json"))
        out.unlink()
        stems = {r["stem"] for r in manifest["recordings"]}
        return [] if stems == complete else [f"pack over the killed thumbnails took {sorted(stems ^ complete)[:3]}"]


class PackStage(Stage):
    name = "pack"
    has_force = False

    def target(self, root):
        return root / "data.npz"

    def command(self, root, force=False):
        return self.r.command("pack", self.inputs["thumbs"], "-o", self.target(root), "--test-instruments", TEST_INSTRUMENT, "--jobs", "2")

    def leftovers_allowed(self):
        return True  # pack does not remove the temporaries of a killed run (reported below)

    def check(self, root, complete, reference=False):
        problems = Problems()
        archive = self.target(root)
        extra = [p for p in root.iterdir() if not p.name.startswith(".") and p != archive] if root.exists() else []
        if extra:
            problems.add(f"unexpected files {extra[:3]}")
        if not archive.exists():
            if complete:
                problems.add(f"{archive} missing")
            return problems
        verify = subprocess.run(self.r.command("pack", "verify", archive), capture_output=True, text=True)
        if verify.returncode != 0:
            problems.add(f"pack verify {archive}: {verify.stdout[-300:]} {verify.stderr[-300:]}")
        try:
            with zipfile.ZipFile(archive) as z:
                bad = z.testzip()
                if bad:
                    problems.add(f"{archive}: member {bad} fails its CRC")
                manifest_bytes = z.read("manifest.json")
            problems += schema_problems("archive-manifest.schema.json", manifest_bytes, f"{archive}/manifest.json")
            manifest = json.loads(manifest_bytes)
            with np.load(archive) as arrays:
                for member in manifest["members"]:
                    name = member["name"][: -len(".npy")]
                    if list(arrays[name].shape) != member["shape"]:
                        problems.add(f"{archive}: {name} has shape {arrays[name].shape}, manifest {member['shape']}")
        except Exception as error:
            problems.add(f"{archive}: does not open with zipfile / numpy ({error})")
        if not reference:
            same_bytes(archive, self.target(self.ref), problems)
        return problems


class TrainStage(Stage):
    name = "train"
    has_force = False
    mode, how = "fresh", "re-run"

    def target(self, root):
        return root / "model.safetensors"

    def command(self, root, force=False):
        return self.r.command("train", self.inputs["archive"], "-o", self.target(root), *TRAIN_ARGS)

    def leftovers_allowed(self):
        return True  # train does not remove the temporaries of a killed run (reported below)

    def prepare(self, mode):
        self.mode, self.how = mode, None
        super().prepare(mode)

    def rerun_command(self, iteration):
        checkpoint = self.out / "model.checkpoint.safetensors"
        if iteration % 2 == 1 and checkpoint.exists():
            self.how = "resume"
            return self.command(self.out) + ["--resume", str(checkpoint)], "resume"
        self.how = "re-run"
        return self.command(self.out), "re-run"

    def check(self, root, complete, reference=False):
        problems = Problems()
        steps = int(TRAIN_ARGS[TRAIN_ARGS.index("--steps") + 1])
        files = {p.name for p in root.iterdir() if not p.name.startswith(".")} if root.exists() else set()
        expected = {"model.safetensors", "model.checkpoint.safetensors", "model.log.csv", "model.loss.svg"}
        if files - expected:
            problems.add(f"unexpected files {sorted(files - expected)}")
        if complete and files != expected:
            problems.add(f"missing {sorted(expected - files)}")
        model, checkpoint = root / "model.safetensors", root / "model.checkpoint.safetensors"
        if model.exists():
            problems += model_problems(model, checkpoint=False, steps=steps)
        if checkpoint.exists():
            problems += model_problems(checkpoint, checkpoint=True, steps=steps)
            if not problems and not reference:
                # The checkpoint carries its own log: every row of the run up to its step (a resumed
                # run's values may differ from the reference's, so the steps are compared).
                with safe_open(str(checkpoint), "np") as f:
                    meta = f.metadata() or {}
                embedded = [line.split(",")[0] for line in meta.get("log", "").split("\n")[1:] if line]
                at = int(meta["step"])
                expected = [r[0] for r in self.reference_rows if int(r[0]) <= at]
                if embedded != expected:
                    problems.add(f"{checkpoint}: its log has steps {embedded}, the reference's up to step {at} are {expected}")
        if (root / "model.loss.svg").exists():
            problems += svg_problems((root / "model.loss.svg").read_bytes(), root / "model.loss.svg")
        rows = None
        if (root / "model.log.csv").exists():
            try:
                rows = log_rows(root / "model.log.csv")
            except (ValueError, OSError) as error:
                problems.add(f"{root / 'model.log.csv'}: {error}")
        if reference:
            self.reference_rows = rows
            return problems
        if problems or not model.exists():
            return problems
        identical = model.read_bytes() == self.target(self.ref).read_bytes()
        if self.how is None:  # right after the kill
            if self.mode == "fresh" and not identical:  # only the killed run, a run from scratch, wrote it
                problems.add(f"{model}: written by the killed run, but differs from the reference model")
            return problems
        if [r[0] for r in rows or []] != [r[0] for r in self.reference_rows]:
            problems.add(f"log steps {[r[0] for r in rows or []]} differ from the reference's {[r[0] for r in self.reference_rows]}")
        if self.how == "re-run":  # from scratch with --threads 1: the reference's bytes
            if not identical:
                problems.add(f"{model}: a run from scratch with --threads 1 differs from the reference model")
            if [r[:6] for r in rows] != [r[:6] for r in self.reference_rows]:
                problems.add(f"{root / 'model.log.csv'}: differs from the reference log (ignoring images/s)")
        elif not identical:  # a resumed run draws its data again (Trainer.replay): the same bytes
            problems.add(f"{model}: resumed with --resume, but differs from the reference model")
            problems += self.infer_check(model)
        return problems

    def infer_check(self, model):
        """The real reader: infer with the model on one short wav."""
        out = self.dir / "infer-check"
        shutil.rmtree(out, ignore_errors=True)
        try:
            self.r.run(self.r.command("infer", model, self.inputs["short_wav"], "-o", out, "--jobs", "1"), "infer with the resumed model")
        except StageError as error:
            return [str(error)]
        stem = Path(self.inputs["short_wav"]).stem
        problems = midi_problems((out / f"{stem}.mid").read_bytes(), out / f"{stem}.mid")
        shutil.rmtree(out, ignore_errors=True)
        return problems


class InferStage(Stage):
    name = "infer"

    def command(self, root, force=False):
        return self.r.command("infer", self.inputs["model"], *self.inputs["wavs"], "-o", root, "--jobs", "2",
                              *(["--force"] if force else []))

    def check(self, root, complete, reference=False):
        problems = Problems()
        names = set()
        for path in sorted(root.iterdir()) if root.exists() else []:
            if path.name.startswith("."):
                continue
            names.add(path.name)
            data = path.read_bytes()
            if path.name in ("settings.json", "summary.json"):
                try:
                    summary = json.loads(data)
                except ValueError as error:
                    problems.add(f"{path}: not JSON ({error})")
                    continue
                if path.name == "summary.json" and len(summary.get("files", [])) != len(self.inputs["wavs"]):
                    problems.add(f"{path}: {len(summary.get('files', []))} files, not {len(self.inputs['wavs'])}")
                if path.name == "settings.json" and not reference:
                    # Rewritten as each recording is made (its `inputs` grow), so a killed run's is
                    # the reference's settings with the inputs of the recordings made so far.
                    ref = json.loads((self.ref / path.name).read_bytes())
                    made = summary.get("inputs", {})
                    if {k: v for k, v in summary.items() if k != "inputs"} != {k: v for k, v in ref.items() if k != "inputs"} \
                            or any(ref.get("inputs", {}).get(stem) != value for stem, value in made.items()) \
                            or (complete and made.keys() != ref.get("inputs", {}).keys()):
                        problems.add(f"{path}: differs from the reference {self.ref / path.name} (beyond the recordings not yet made)")
                    continue
            elif path.name.endswith(".metrics.json"):
                problems += schema_problems("metrics.schema.json", data, path)
            elif path.name.endswith(".mid"):
                problems += midi_problems(data, path)
            elif path.name.endswith(".txt"):
                problems += note_list_problems(data, path)
            elif path.name.endswith(".roll.svg"):
                problems += svg_problems(data, path)
            else:
                problems.add(f"{path}: unexpected file")
                continue
            if not reference:
                same_bytes(path, self.ref / path.name, problems)
        if complete:
            stems = [Path(w).stem for w in self.inputs["wavs"]]
            want = {f"{s}{x}" for s in stems for x in (".mid", ".txt", ".roll.svg", ".metrics.json")} | {"settings.json", "summary.json"}
            if names != want:
                problems.add(f"outputs missing or extra: {sorted(names ^ want)[:4]}")
        return problems


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per stage (default 20)")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages to kill (all by default; the earlier ones still run normally, for their outputs)")
    parser.add_argument("--categories", default="RAND,UCHO", help="corpus categories to render (default RAND,UCHO: 24 recordings)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill moments (default: random, printed)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new /tmp/killtest-*)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder even when every check passes")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every problem and each iteration")
    args = parser.parse_args()
    selected = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(selected) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}")

    bin_dir = Path(os.environ.get("BIN_DIR") or REPO / ".build" / "release")
    for tool in STAGES:
        if not os.access(bin_dir / tool, os.X_OK):
            sys.exit(f"kill-test: {bin_dir / tool} not built (swift build -c release, or set BIN_DIR)")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    work = args.work or Path(tempfile.mkdtemp(prefix="killtest-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    rng = random.Random(seed)
    runner = Runner(bin_dir, work, rng, args.verbose)
    print(f"kill test: {args.kills} kills per stage of {','.join(selected)}, seed {seed}, binaries {bin_dir}, work {work}", flush=True)
    started = time.monotonic()

    inputs = {}
    stages = {}
    failed = False
    for name in STAGES:
        if name == "corpus":
            stage = CorpusStage(runner, inputs, args.categories)
        else:
            stage = {"ingest": IngestStage, "spectro": SpectroStage, "pack": PackStage, "train": TrainStage, "infer": InferStage}[name](runner, inputs)
        stages[name] = stage
        seconds = stage.reference_run()
        if name == "corpus":
            inputs["corpus"] = stage.ref
            wavs = sorted(p for p in stage.ref.rglob(f"*_{TEST_INSTRUMENT}.wav") if not hidden(p, stage.ref))
            inputs["wavs"] = wavs[:6]
            inputs["short_wav"] = min(wavs, key=lambda p: p.stat().st_size)
        elif name == "ingest":
            inputs["notemaps"] = stage.ref
        elif name == "spectro":
            inputs["thumbs"] = stage.ref
        elif name == "pack":
            inputs["archive"] = stage.target(stage.ref)
        elif name == "train":
            inputs["model"] = stage.target(stage.ref)
        if name not in selected:
            continue
        stage_start = time.monotonic()
        passed, all_problems = 0, []
        for i in range(args.kills):
            try:
                problems = stage.iteration(i)
            except StageError as error:
                problems = [f"iteration {i}: {error}"]
            if problems:
                all_problems.append((i, problems))
            else:
                passed += 1
            if args.verbose:
                print(f"  {name} {i}: {'ok' if not problems else problems}", flush=True)
        notes = ", ".join(f"{k} {v}" for k, v in sorted(stage.notes.items()))
        left = hidden_entries(stage.out)
        litter = f"; {len(left)} temporaries left behind ({sum(size_of(p) for p in left) / 1e6:.1f} MB)" if left else ""
        verdict = "re-runs valid" if passed == args.kills else f"{args.kills - passed} FAILED"
        print(f"{name}: {passed}/{args.kills} kills, {verdict} (normal run {seconds:.2f} s; {notes}{litter}; "
              f"{time.monotonic() - stage_start:.0f} s)", flush=True)
        for i, problems in all_problems:
            failed = True
            for p in problems[: (None if args.verbose else 5)]:
                print(f"  kill {i}: {p}")
    print(f"kill test {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s (seed {seed})")
    if failed or args.keep:
        print(f"work folder kept: {work} (stderr of every run in {work / 'stderr.log'})")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
