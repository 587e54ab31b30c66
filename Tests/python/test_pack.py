"""`pack`'s archives, checked from Python against the thumbnails they were made from.

numpy and zipfile read the archive; its arrays are compared with the JPEGs (decoded by Pillow)
and labels.tsv of the recordings and steps `<split>_source` names; the split assignment is
recomputed with an independent Python version of the rules in Schemas/archive.md (SplitMix64,
Swift's Fisher-Yates shuffle with Lemire's bounded draw, cut by cumulative proportions); the
SHA-256 of every member's stored bytes is recomputed from the local headers; and `pack verify`
and `pack info` are run on archives damaged in several ways.

The module renders its own thumbnails: `spectro` (default settings, a thumbnail every step) on
the three shortest ISOL, RAND and UCHO recordings of each instrument of the session's corpus.
"""

import hashlib
import io
import json
import math
import os
import shutil
import struct
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import _binary, run_tool

SPLITS = ("train", "valid", "test")
KINDS = ("images", "labels", "notes", "source", "onsets")
MEMBERS = [f"{s}_{k}.npy" for s in SPLITS for k in KINDS]
CATEGORIES = ("ISOL", "RAND", "UCHO")
PER_CATEGORY = 3
TWO_MIB = 2 << 20


# ---------------------------------------------------------------------------------------------
# Reading thumbnail folders and archives, independently of the Swift code


@dataclass
class Folder:
    path: Path
    sidecar: dict
    rows: list  # (step, file, label, [keys], [onset keys]) in file order

    @property
    def stem(self):
        return self.sidecar["stem"]


def read_folder(path: Path) -> Folder:
    sidecar = json.loads((path / "thumbs.json").read_text())
    lines = (path / "labels.tsv").read_text().split("\n")
    assert lines[0] == "step\ttime\tfile\tlabel\tnotes\tonsets"
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        step, _time, file, label, notes, onsets = line.split("\t")
        rows.append((int(step), file, int(label), [int(k) for k in notes.split(",") if k], [int(k) for k in onsets.split(",") if k]))
    return Folder(path, sidecar, rows)


def load(path) -> tuple:
    """(manifest, {array name: ndarray}) as numpy.load sees the archive."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != "manifest.json"}
        manifest = json.loads(data["manifest.json"])
    return manifest, arrays


def stored_sha256(path) -> dict:
    """{member: SHA-256 of its stored bytes}, located through each member's local header."""
    digests = {}
    with open(path, "rb") as f, zipfile.ZipFile(path) as z:
        for info in z.infolist():
            f.seek(info.header_offset)
            header = f.read(30)
            assert header[:4] == b"PK\x03\x04", f"{path}: no local header for {info.filename}"
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            f.seek(info.header_offset + 30 + name_length + extra_length)
            data = f.read(info.compress_size)
            assert len(data) == info.compress_size
            digests[info.filename] = hashlib.sha256(data).hexdigest()
    return digests


def stored_range(path, name) -> tuple:
    """(offset, length) of a member's stored bytes in the file."""
    with open(path, "rb") as f, zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
        f.seek(info.header_offset)
        header = f.read(30)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        return info.header_offset + 30 + name_length + extra_length, info.compress_size


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The split rules of Schemas/archive.md, re-implemented

M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & M64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, bound: int) -> int:
        """Uniform in 0 ..< bound, Lemire's nearly divisionless method."""
        m = self.next() * bound
        if (m & M64) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (m & M64) < threshold:
                m = self.next() * bound
        return m >> 64


def shuffle(items, rng: SplitMix64) -> list:
    items = list(items)
    for i in range(len(items) - 1):
        j = i + rng.below(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items


def cut(count: int, weights) -> list:
    """The split of each of `count` shuffled positions: cumulative proportions, rounded half up."""
    total = sum(weights)
    bounds, acc = [], 0
    for w in weights[:-1]:
        acc += w
        bounds.append(math.floor(count * acc / total + 0.5))
    return [next((s for s, b in enumerate(bounds) if p < b), len(weights) - 1) for p in range(count)]


def expected_split_of_recordings(folders, ratios, seed, test_instruments=()) -> list:
    rng = SplitMix64(seed)
    split = [None] * len(folders)
    order = list(range(len(folders)))
    weights = ratios
    if test_instruments:
        for i, folder in enumerate(folders):
            if folder.sidecar["maps"].get("instrument") in test_instruments:
                split[i] = "test"
        order = [i for i in order if split[i] is None]
        weights = ratios[:2]
    order = shuffle(order, rng)
    for position, s in enumerate(cut(len(order), weights)):
        split[order[position]] = SPLITS[s]
    return split


def expected_order(folders, members: set, seed: int, block: int, split_index: int) -> list:
    """A split's archive order (Schemas/archive.md, Example order): each recording's rows of the
    split, in step order, cut into runs of at most `block` consecutive rows (a row of another
    split ends a run), the runs shuffled with SplitMix64(seed + 0x51FF1E + split index)."""
    runs = []
    for r, folder in enumerate(folders):
        current = []
        for row in folder.rows:
            inside = (r, row[0]) in members
            if current and (not inside or len(current) == block):
                runs.append(current)
                current = []
            if inside:
                current.append((r, row[0]))
        if current:
            runs.append(current)
    return [example for run in shuffle(runs, SplitMix64((seed + 0x51FF1E + split_index) & M64)) for example in run]


def expected_examples_by_step(folders, ratios, seed) -> dict:
    """{split: [(recording id, step), ...] in archive order} for --split-by step."""
    everything = [(r, row[0]) for r, folder in enumerate(folders) for row in folder.rows]
    shuffled = shuffle(everything, SplitMix64(seed))
    result = {s: [] for s in SPLITS}
    for example, s in zip(shuffled, cut(len(shuffled), ratios)):
        result[SPLITS[s]].append(example)
    return {s: sorted(examples) for s, examples in result.items()}


# ---------------------------------------------------------------------------------------------
# Fixtures


def pack(*args, cwd=None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(_binary("pack")), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert result.returncode >= 0, f"pack {' '.join(map(str, args))} was killed by signal {-result.returncode}:\n{result.stderr[-3000:]}"
    return result


def pack_ok(*args) -> subprocess.CompletedProcess:
    result = pack(*args)
    assert result.returncode == 0, f"pack {' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


@dataclass
class Thumbs:
    root: Path  # the folder holding the recording folders
    folders: list  # Folder, in the order pack numbers them (sorted by name)
    other_settings: Path  # one recording made with --size 16, outside root
    work: Path

    def by_stem(self, stem):
        return next(f for f in self.folders if f.stem == stem)


@pytest.fixture(scope="module")
def thumbs(corpus, tmp_path_factory) -> Thumbs:
    notemaps = corpus.notemaps["pedal"]
    index = json.loads((notemaps / "index.json").read_text())["recordings"]
    instruments = sorted({e.get("instrument") for e in index if e.get("instrument")})
    chosen, spare = [], []
    for instrument in instruments:
        for category in CATEGORIES:
            entries = sorted((e for e in index if e["category"] == category and e.get("instrument") == instrument),
                             key=lambda e: (e["steps"], e["stem"]))
            chosen += entries[:PER_CATEGORY]
            spare += entries[PER_CATEGORY:PER_CATEGORY + 1]
    assert len(chosen) >= 6 and spare, f"the corpus has too few ISOL/RAND/UCHO recordings: {len(chosen)}"
    work = tmp_path_factory.mktemp("pack")
    root = work / "thumbs"
    run_tool([_binary("spectro"), *(notemaps / e["file"] for e in chosen), "-o", root], "spectro")
    run_tool([_binary("spectro"), notemaps / spare[0]["file"], "-o", work / "size16", "--size", "16"], "spectro --size 16")
    folders = [read_folder(root / e["stem"]) for e in sorted(chosen, key=lambda e: e["stem"])]
    return Thumbs(root=root, folders=folders, other_settings=work / "size16" / spare[0]["stem"], work=work)


@pytest.fixture(scope="module")
def archive(thumbs) -> Path:
    """The default archive: split by recording 8:1:1, seed 1."""
    path = thumbs.work / "data.npz"
    pack_ok(thumbs.root, "-o", path)
    return path


@pytest.fixture(scope="module")
def loaded(archive):
    return load(archive)


# ---------------------------------------------------------------------------------------------
# Contents


def check_archive_against_folders(manifest, arrays, folders, sample=None):
    """The arrays hold exactly the thumbnails and labels their sources name, as the manifest says."""
    geometry = folders[0].sidecar["geometry"]
    shape = (geometry["rows"], geometry["columns"])
    rows = {(r, row[0]): row for r, f in enumerate(folders) for row in f.rows}
    members = {m["name"]: m for m in manifest["members"]}
    assert [m["name"] for m in manifest["members"]] == MEMBERS
    assert [r["id"] for r in manifest["recordings"]] == list(range(len(folders)))
    assert [r["stem"] for r in manifest["recordings"]] == [f.stem for f in folders]
    for record, folder in zip(manifest["recordings"], folders):
        assert record["category"] == folder.sidecar["maps"]["category"]
        assert record.get("instrument") == folder.sidecar["maps"].get("instrument")
        assert record["examples"] == len(folder.rows) == folder.sidecar["images"]
    seen = set()
    rng = np.random.default_rng(0)
    for split in SPLITS:
        count = manifest["splits"][split]["count"]
        for kind in KINDS:
            array, member = arrays[f"{split}_{kind}"], members[f"{split}_{kind}.npy"]
            assert list(array.shape) == member["shape"], f"{split}_{kind}"
            assert array.dtype.str == member["dtype"], f"{split}_{kind}"
            assert array.shape[0] == count
        images, labels, notes, source, onsets = (arrays[f"{split}_{k}"] for k in KINDS)
        assert images.dtype == np.uint8 and labels.dtype == np.uint8 and notes.dtype == np.uint8 and source.dtype == np.int32
        assert onsets.dtype == np.uint8 and onsets.shape[1:] == (88,)
        assert images.shape[1:] == shape and notes.shape[1:] == (88,) and source.shape[1:] == (2,)
        pairs = [tuple(map(int, p)) for p in source]
        assert len(set(pairs)) == len(pairs), f"{split}: an example twice"
        order = expected_order(folders, set(pairs), manifest["split"]["seed"], manifest["split"]["shuffleBlock"], SPLITS.index(split))
        assert pairs == order, f"{split}: not in the documented shuffled order"
        if len({r for r, _ in pairs}) > 1:
            assert pairs != sorted(pairs), f"{split}: still in recording, step order"
        assert not (seen & set(pairs)), f"{split}: examples also in an earlier split"
        seen |= set(pairs)
        assert manifest["splits"][split]["recordings"] == sorted({r for r, _ in pairs})
        assert manifest["splits"][split]["classHistogram"] == np.bincount(labels, minlength=128).tolist()
        indices = range(count)
        if sample is not None and count > sample:
            indices = sorted(rng.choice(count, sample, replace=False))
        for i in indices:
            r, step = pairs[i]
            assert (r, step) in rows, f"{split}[{i}]: source {r, step} is no thumbnail"
            _, file, label, keys, starts = rows[(r, step)]
            with Image.open(folders[r].path / file) as jpeg:
                assert jpeg.mode == "L" and jpeg.size == (shape[1], shape[0])
                pixels = np.asarray(jpeg.convert("L"))
            assert np.array_equal(images[i], pixels), f"{split}[{i}] differs from {folders[r].path / file}"
            assert labels[i] == label, f"{split}[{i}]: label {labels[i]}, labels.tsv says {label}"
            hot = np.zeros(88, np.uint8)
            hot[np.array(keys, dtype=int) - 21] = 1
            assert np.array_equal(notes[i], hot), f"{split}[{i}]: notes {np.flatnonzero(notes[i]) + 21}, labels.tsv says {keys}"
            hot = np.zeros(88, np.uint8)
            hot[np.array(starts, dtype=int) - 21] = 1
            assert np.array_equal(onsets[i], hot), f"{split}[{i}]: onsets {np.flatnonzero(onsets[i]) + 21}, labels.tsv says {starts}"
            assert not (onsets[i] & ~notes[i]).any(), f"{split}[{i}]: an onset that does not sound"
    return seen


def test_numpy_reads_every_example(thumbs, archive, loaded):
    manifest, arrays = loaded
    assert sorted(arrays) == sorted(m[:-4] for m in MEMBERS)
    seen = check_archive_against_folders(manifest, arrays, thumbs.folders)
    assert seen == {(r, row[0]) for r, f in enumerate(thumbs.folders) for row in f.rows}, "some thumbnails are missing"
    assert sum(manifest["splits"][s]["count"] for s in SPLITS) == len(seen) >= 200
    sidecar = thumbs.folders[0].sidecar
    assert manifest["format"] == "piano-archive" and manifest["version"] == 2
    assert manifest["frontEnd"] == {k: sidecar[k] for k in ("transform", "decibels", "geometry", "quality", "every")}
    assert manifest["labels"] == {"kind": "single+multi", "classes": 128, "multiKeys": [21, 108], "targets": ["single", "frame", "onset"]}
    assert manifest["split"] == {"by": "recording", "ratios": [8, 1, 1], "seed": 1, "testInstruments": [], "leaks": False, "shuffleBlock": 16}
    assert manifest["shard"] == {"index": 0, "count": 1, "firstExample": 0}
    with zipfile.ZipFile(archive) as z:
        sizes = {i.filename: i.file_size for i in z.infolist()}
    for member in manifest["members"]:
        assert member["bytes"] == sizes[member["name"]]


def test_offsets(thumbs, loaded):
    """pack --offsets adds <split>_offsets: the keys sounding at the recording's previous row and
    either silent at this one or starting again (labels.tsv, read here); every other member is
    the default archive's, byte for byte once decoded."""
    path = thumbs.work / "offsets.npz"
    pack_ok(thumbs.root, "-o", path, "--offsets")
    manifest, arrays = load(path)
    assert manifest["labels"]["targets"] == ["single", "frame", "onset", "offset"]
    _, default = loaded
    assert sorted(arrays) == sorted(list(default) + [f"{s}_offsets" for s in SPLITS])
    for name, array in default.items():
        assert np.array_equal(arrays[name], array), name
    previous = {}  # (recording, step) -> the row before it in its folder
    for r, folder in enumerate(thumbs.folders):
        for before, row in zip(folder.rows, folder.rows[1:]):
            previous[(r, row[0])] = before
    ended = 0
    for split in SPLITS:
        offsets = arrays[f"{split}_offsets"]
        assert offsets.dtype == np.uint8 and offsets.shape == (manifest["splits"][split]["count"], 88)
        for i, (r, step) in enumerate(map(tuple, arrays[f"{split}_source"].tolist())):
            row = next(x for x in thumbs.folders[r].rows if x[0] == step)
            before = previous.get((r, step))
            keys = [k for k in before[3] if k not in row[3] or k in row[4]] if before else []
            hot = np.zeros(88, np.uint8)
            hot[np.array(keys, dtype=int) - 21] = 1
            assert np.array_equal(offsets[i], hot), f"{split}[{i}]: offsets {np.flatnonzero(offsets[i]) + 21}, expected {keys}"
            ended += len(keys)
    assert ended > 0


def test_split_by_recording(thumbs, loaded):
    manifest, arrays = loaded
    splits_of = {}
    for split in SPLITS:
        for r in np.unique(arrays[f"{split}_source"][:, 0]):
            splits_of.setdefault(int(r), set()).add(split)
    assert all(len(s) == 1 for s in splits_of.values()), f"recordings in two splits: {splits_of}"
    assert [r["split"] for r in manifest["recordings"]] == [next(iter(splits_of[i])) for i in range(len(thumbs.folders))]
    expected = expected_split_of_recordings(thumbs.folders, [8, 1, 1], 1)
    assert [r["split"] for r in manifest["recordings"]] == expected
    n = len(thumbs.folders)
    train_end, valid_end = math.floor(n * 8 / 10 + 0.5), math.floor(n * 9 / 10 + 0.5)
    assert [expected.count(s) for s in SPLITS] == [train_end, valid_end - train_end, n - valid_end]


def test_test_instruments(thumbs):
    instruments = {f.sidecar["maps"].get("instrument") for f in thumbs.folders}
    if "FR3Brght" not in instruments or len(instruments) < 2:
        pytest.skip(f"the corpus lacks FR3Brght and another instrument: {instruments}")
    path = thumbs.work / "instrument.npz"
    pack_ok(thumbs.root, "-o", path, "--test-instruments", "FR3Brght", "--split", "3:1:1", "--seed", "5")
    manifest, arrays = load(path)
    brght = {i for i, f in enumerate(thumbs.folders) if f.sidecar["maps"].get("instrument") == "FR3Brght"}
    assert set(np.unique(arrays["test_source"][:, 0]).tolist()) == brght
    for split in ("train", "valid"):
        assert not brght & set(arrays[f"{split}_source"][:, 0].tolist())
    assert {r["id"] for r in manifest["recordings"] if r["split"] == "test"} == brght
    assert manifest["split"] == {"by": "instrument", "ratios": [3, 1, 1], "seed": 5, "testInstruments": ["FR3Brght"], "leaks": False, "shuffleBlock": 16}
    assert [r["split"] for r in manifest["recordings"]] == expected_split_of_recordings(thumbs.folders, [3, 1, 1], 5, {"FR3Brght"})
    check_archive_against_folders(manifest, arrays, thumbs.folders, sample=100)
    bad = pack(thumbs.root, "-o", thumbs.work / "none.npz", "--test-instruments", "NoSuchPiano")
    assert bad.returncode != 0 and "NoSuchPiano" in bad.stderr
    assert not (thumbs.work / "none.npz").exists()


def test_split_by_step_leaks(thumbs):
    path = thumbs.work / "step.npz"
    pack_ok(thumbs.root, "-o", path, "--split-by", "step", "--seed", "3")
    manifest, arrays = load(path)
    assert manifest["split"] == {"by": "step", "ratios": [8, 1, 1], "seed": 3, "testInstruments": [], "leaks": True, "shuffleBlock": 16}
    assert all("split" not in r for r in manifest["recordings"])
    expected = expected_examples_by_step(thumbs.folders, [8, 1, 1], 3)
    for index, split in enumerate(SPLITS):
        order = expected_order(thumbs.folders, set(expected[split]), 3, 16, index)
        assert [tuple(map(int, p)) for p in arrays[f"{split}_source"]] == order, split
    # frames of one recording in several splits: the leak the manifest admits
    assert set(arrays["train_source"][:, 0].tolist()) & set(arrays["test_source"][:, 0].tolist())
    check_archive_against_folders(manifest, arrays, thumbs.folders, sample=200)


# ---------------------------------------------------------------------------------------------
# Determinism and checksums


def test_same_inputs_same_bytes(thumbs, archive):
    again = thumbs.work / "again.npz"
    pack_ok(thumbs.root, "-o", again)
    assert file_sha256(again) == file_sha256(archive)
    one_thread = thumbs.work / "jobs1.npz"
    pack_ok(thumbs.root, "-o", one_thread, "--jobs", "1")
    assert file_sha256(one_thread) == file_sha256(archive), "the bytes depend on --jobs"
    other = thumbs.work / "seed2.npz"
    pack_ok(thumbs.root, "-o", other, "--seed", "2")
    assert file_sha256(other) != file_sha256(archive)
    first, second = load(archive)[0], load(other)[0]
    assert [r["split"] for r in first["recordings"]] != [r["split"] for r in second["recordings"]]
    assert [r["split"] for r in second["recordings"]] == expected_split_of_recordings(thumbs.folders, [8, 1, 1], 2)


def test_zip_layout(archive):
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == MEMBERS + ["manifest.json"]
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.flag_bits & 0x08 == 0, "data descriptors"
        offsets = [i.header_offset for i in infos]
        assert offsets == sorted(offsets), "members are not stored in directory order"


def test_member_sha256_of_stored_bytes(archive, loaded):
    manifest, _ = loaded
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None
    digests = stored_sha256(archive)
    assert set(digests) == set(MEMBERS) | {"manifest.json"}
    for member in manifest["members"]:
        assert digests[member["name"]] == member["sha256"], member["name"]


def test_pack_verify_and_info_accept_a_sound_archive(archive, loaded):
    manifest, _ = loaded
    result = pack("verify", archive)
    assert result.returncode == 0, result.stderr
    total = sum(manifest["splits"][s]["count"] for s in SPLITS)
    assert f"ok (15 members, {total} examples)" in result.stdout
    info = pack("info", archive)
    assert info.returncode == 0, info.stderr
    for split in SPLITS:
        assert f"{split}: {manifest['splits'][split]['count']} examples" in info.stdout


def test_exact_round_sized_member_same_bytes_for_any_jobs(tmp_path):
    """A member of exactly 2 MiB (one round of blocks at --jobs 1) must not change with --jobs."""
    # 8x8 thumbnails: train_images.npy is 128 header bytes + 32766 * 64 = 2 MiB exactly.
    count, size = 32766, 8
    folder = tmp_path / "in" / "synthetic"
    folder.mkdir(parents=True)
    image = Image.fromarray((np.arange(size * size).reshape(size, size) * 7 % 256).astype(np.uint8), "L")
    image.save(folder / "000000.jpg", quality=90)
    lines = ["step\ttime\tfile\tlabel\tnotes"]
    for k in range(count):
        name = f"{k:06d}.jpg"
        if k:
            try:
                os.link(folder / "000000.jpg", folder / name)
            except OSError:
                shutil.copyfile(folder / "000000.jpg", folder / name)
        lines.append(f"{k}\t{k * 512 / 44100:.6f}\t{name}\t{60 if k % 3 else 0}\t{'60' if k % 3 else ''}")
    (folder / "labels.tsv").write_text("\n".join(lines) + "\n")
    sidecar = {
        "format": "piano-thumbs", "version": 1, "stem": "synthetic", "maps": {"category": "other"},
        "noteMap": "synthetic.notemap.json", "wav": "synthetic.wav",
        "transform": {"transform": "cqt", "sampleRate": 44100, "hop": 512, "fmin": 27.5, "bins": 264, "binsPerOctave": 36},
        "decibels": {"range": 80, "referenceFloor": 0.0001}, "geometry": {"size": size, "context": 32},
        "quality": 90, "every": 1, "steps": count, "images": count, "digits": 6, "spectrogram": False,
    }
    (folder / "thumbs.json").write_text(json.dumps(sidecar))
    outputs = {}
    for jobs in (1, 2):
        outputs[jobs] = tmp_path / f"jobs{jobs}.npz"
        pack_ok(tmp_path / "in", "-o", outputs[jobs], "--split", "1:0:0", "--jobs", jobs)
    with zipfile.ZipFile(outputs[1]) as z:
        assert z.getinfo("train_images.npy").file_size == TWO_MIB
        assert z.testzip() is None
    assert pack("verify", outputs[1], outputs[2]).returncode == 0
    assert file_sha256(outputs[1]) == file_sha256(outputs[2]), "the bytes depend on --jobs"


# ---------------------------------------------------------------------------------------------
# zip64 and shards


def test_force_zip64(thumbs, archive, loaded):
    path = thumbs.work / "zip64.npz"
    pack_ok(thumbs.root, "-o", path, "--force-zip64")
    data = path.read_bytes()
    assert data[-22:-18] == b"PK\x05\x06" and data[-20 - 22:-16 - 22] == b"PK\x06\x07", "no zip64 end record locator"
    entries, = struct.unpack("<H", data[-22 + 10:-22 + 12])
    assert entries == 0xFFFF
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for info in z.infolist():
            assert info.extra[:2] == b"\x01\x00", f"{info.filename}: no zip64 extra field"
    manifest, arrays = load(path)
    assert manifest == loaded[0]
    for name, array in loaded[1].items():
        assert np.array_equal(arrays[name], array) and arrays[name].dtype == array.dtype, name
    digests = stored_sha256(path)
    for member in manifest["members"]:
        assert digests[member["name"]] == member["sha256"], member["name"]
    result = pack("verify", path)
    assert result.returncode == 0, result.stderr
    assert pack("info", path).returncode == 0


def test_shards(thumbs, loaded):
    unsharded_manifest, unsharded = loaded
    total = sum(unsharded_manifest["splits"][s]["count"] for s in SPLITS)
    size = max(1, total // 5 - 7)  # a few shards whose edges fall inside splits
    count = math.ceil(total / size)
    out = thumbs.work / "shards"
    pack_ok(thumbs.root, "-o", out / "data.npz", "--shard-size", size)
    paths = [out / f"data-{i:05d}-of-{count:05d}.npz" for i in range(count)]
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]
    result = pack("verify", *paths)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == count
    pieces = {name: [] for name in unsharded}
    first = 0
    for i, path in enumerate(paths):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
        manifest, arrays = load(path)
        examples = sum(manifest["splits"][s]["count"] for s in SPLITS)
        assert manifest["shard"] == {"index": i, "count": count, "size": size, "firstExample": first}
        assert examples == (size if i < count - 1 else total - size * (count - 1))
        assert manifest["recordings"] == unsharded_manifest["recordings"]
        assert {k: manifest[k] for k in ("frontEnd", "labels", "split")} == {k: unsharded_manifest[k] for k in ("frontEnd", "labels", "split")}
        digests = stored_sha256(path)
        for member in manifest["members"]:
            assert digests[member["name"]] == member["sha256"]
        for split in SPLITS:
            labels, source = arrays[f"{split}_labels"], arrays[f"{split}_source"]
            assert manifest["splits"][split]["count"] == len(labels)
            assert manifest["splits"][split]["classHistogram"] == np.bincount(labels, minlength=128).tolist()
            assert manifest["splits"][split]["recordings"] == sorted(set(source[:, 0].tolist()))
        for name in pieces:
            pieces[name].append(arrays[name])
        first += examples
    for name, array in unsharded.items():
        joined = np.concatenate(pieces[name])
        assert joined.dtype == array.dtype and np.array_equal(joined, array), name
    # global order: shard i starts at example firstExample of train + valid + test
    order = np.concatenate([unsharded[f"{s}_source"] for s in SPLITS])
    for i, path in enumerate(paths):
        _, arrays = load(path)
        mine = np.concatenate([arrays[f"{s}_source"] for s in SPLITS])
        assert np.array_equal(mine, order[i * size:i * size + len(mine)])


# ---------------------------------------------------------------------------------------------
# Damaged archives through the CLI


def no_signal(result, what):
    assert result.returncode >= 0, f"{what}: killed by signal {-result.returncode}:\n{result.stderr[-2000:]}"


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_flipped_byte_in_each_member(archive, tmp_path, where):
    original = archive.read_bytes()
    with zipfile.ZipFile(archive) as z:
        names = [i.filename for i in z.infolist()]
    for name in names:
        offset, length = stored_range(archive, name)
        position = offset + {"start": 0, "middle": length // 2, "end": length - 1}[where]
        damaged = bytearray(original)
        damaged[position] ^= 0xFF
        path = tmp_path / f"flipped-{name}.npz"
        path.write_bytes(damaged)
        verify = pack("verify", path)
        no_signal(verify, f"verify with {name} damaged")
        assert verify.returncode == 1, f"verify missed a flipped byte in {name} at {position}:\n{verify.stdout}"
        problems = [line for line in error_lines(verify) if line.startswith("error:")]
        assert problems and any(name in line and str(path) in line for line in problems), f"{name}:\n{verify.stderr}"
        info = pack("info", path)
        no_signal(info, f"info with {name} damaged")
        if name == "manifest.json":
            assert info.returncode == 1 and len(error_lines(info)) == 1, info.stderr
            assert str(path) in info.stderr and name in info.stderr, info.stderr
        else:
            assert info.returncode == 0, f"info fails on damaged data of {name}:\n{info.stderr}"


@pytest.mark.parametrize("keep", ["nothing", "10 bytes", "100 bytes", "half", "all but the end record", "all but 1 byte"])
def test_truncated_archive(archive, tmp_path, keep):
    data = archive.read_bytes()
    length = {"nothing": 0, "10 bytes": 10, "100 bytes": 100, "half": len(data) // 2,
              "all but the end record": len(data) - 22, "all but 1 byte": len(data) - 1}[keep]
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[:length])
    for command in ("verify", "info"):
        result = pack(command, path)
        no_signal(result, f"{command} on a truncated archive")
        assert result.returncode == 1, f"{command} accepted a truncated archive"
        lines = error_lines(result)
        problem = [line for line in lines if str(path) in line]
        assert len(problem) == 1, result.stderr
        assert "truncated" in problem[0] or "not a zip" in problem[0], problem[0]


def rewrite(source: Path, target: Path, edit, extra_members=()):
    """Re-zips `source` with Python (recompressed), a manifest with the new stored SHA-256s, then `edit`."""
    with zipfile.ZipFile(source) as z:
        manifest = json.loads(z.read("manifest.json"))
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for member in manifest["members"]:
                out.writestr(member["name"], z.read(member["name"]))
            for name, data in extra_members:
                out.writestr(name, data)
    digests = stored_sha256(target)
    for member in manifest["members"]:
        member["sha256"] = digests[member["name"]]
    edit(manifest, digests)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as out:
        out.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    with zipfile.ZipFile(target) as z:
        assert z.testzip() is None


def member(manifest, name):
    return next(m for m in manifest["members"] if m["name"] == name)


def grow_split(manifest, split, count):
    """Changes a split's count and its four shapes consistently (so only the members disagree)."""
    manifest["splits"][split]["count"] = count
    manifest["splits"][split]["classHistogram"] = [count] + [0] * 127
    geometry = manifest["frontEnd"]["geometry"]
    for kind, shape in zip(KINDS, ([count, geometry["rows"], geometry["columns"]], [count], [count, 88], [count, 2], [count, 88])):
        member(manifest, f"{split}_{kind}.npy")["shape"] = shape


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


EXTRA_F8 = npy_bytes(np.zeros(3, "<f8"))

# name -> (edit, extra zip members, member the error must name, whether `pack info` must fail)
DISAGREEMENTS = {
    "sha256": (lambda m, d: member(m, "test_notes.npy").update(sha256=hashlib.sha256(b"other").hexdigest()), (), "test_notes.npy", False),
    "sha256 of another member": (lambda m, d: member(m, "valid_images.npy").update(sha256=d["train_images.npy"]), (), "valid_images.npy", False),
    "shape": (lambda m, d: member(m, "valid_images.npy").update(shape=[5, 32, 32]), (), "valid_images.npy", True),
    "dtype": (lambda m, d: member(m, "train_source.npy").update(dtype="<i8"), (), "train_source.npy", True),
    "bytes": (lambda m, d: member(m, "train_labels.npy").update(bytes=12), (), "train_labels.npy", True),
    "consistent count": (lambda m, d: grow_split(m, "test", m["splits"]["test"]["count"] + 1), (), "test_images.npy", True),
    "unlisted member": (lambda m, d: None, (("notes.txt", b"not in the manifest\n"),), "notes.txt", False),
    "missing member": (lambda m, d: m["members"].append({**member(m, "test_labels.npy"), "name": "extra.npy"}), (), "extra.npy", True),
    "offset targets without their member": (lambda m, d: m["labels"]["targets"].append("offset"), (), "train_offsets.npy", True),
}

CRASHES = {
    # an extra listed member, present in the zip with the right size, whose dtype this build does not know
    "unknown dtype": (lambda m, d: m["members"].append(
        {"name": "extra.npy", "dtype": "<f8", "shape": [3], "bytes": len(EXTRA_F8), "sha256": d["extra.npy"]}),
        (("extra.npy", EXTRA_F8),), "extra.npy", True),
    # a self-consistent count so large that count x size x size overflows Int
    "huge count": (lambda m, d: grow_split(m, "test", 1 << 60), (), "test_images.npy", True),
}


def check_disagreement(archive, tmp_path, case):
    edit, extra, name, info_fails = case
    path = tmp_path / "rewritten.npz"
    rewrite(archive, path, edit, extra)
    verify = pack("verify", path)
    info = pack("info", path)
    no_signal(verify, "verify")
    no_signal(info, "info")
    assert verify.returncode == 1, f"verify accepted a manifest that disagrees with {name}"
    assert any(line.startswith("error:") and name in line and str(path) in line for line in error_lines(verify)), verify.stderr
    if info_fails:
        assert info.returncode == 1 and len(error_lines(info)) == 1 and name in info.stderr, info.stderr
    else:
        assert info.returncode == 0, info.stderr


def test_python_rewritten_archive_verifies(archive, loaded, tmp_path):
    """Control for the cases below: a zip written by Python's zipfile with a correct manifest is accepted."""
    path = tmp_path / "rewritten.npz"
    rewrite(archive, path, lambda m, d: None)
    result = pack("verify", path)
    assert result.returncode == 0, result.stderr
    manifest, arrays = load(path)
    for name, array in loaded[1].items():
        assert np.array_equal(arrays[name], array)


@pytest.mark.parametrize("case", list(DISAGREEMENTS))
def test_manifest_disagrees_with_a_member(archive, tmp_path, case):
    check_disagreement(archive, tmp_path, DISAGREEMENTS[case])


@pytest.mark.parametrize("case", list(CRASHES))
def test_bad_manifest_does_not_crash(archive, tmp_path, case):
    check_disagreement(archive, tmp_path, CRASHES[case])


# ---------------------------------------------------------------------------------------------
# Bad inputs


def copy_folders(thumbs, target: Path, count: int) -> list:
    target.mkdir(parents=True)
    copies = []
    for folder in thumbs.folders[:count]:
        shutil.copytree(folder.path, target / folder.stem)
        copies.append(target / folder.stem)
    return copies


def leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_bad_folders_are_reported_and_skipped(thumbs, tmp_path):
    copies = copy_folders(thumbs, tmp_path / "in", 5)
    missing = copies[1] / read_folder(copies[1]).rows[3][1]
    missing.unlink()
    labels = copies[3] / "labels.tsv"
    lines = labels.read_text().split("\n")
    fields = lines[4].split("\t")
    fields[3] = "x99"
    lines[4] = "\t".join(fields)
    labels.write_text("\n".join(lines))
    out = tmp_path / "out"
    result = pack(tmp_path / "in", "-o", out / "data.npz", "--allow-empty-splits")  # few folders are left
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert any(str(missing) in line for line in errors), result.stderr
    assert any(f"{labels}:5:" in line for line in errors), result.stderr
    assert len(errors) == 2, result.stderr
    assert leftovers(out) == ["data.npz"]
    manifest, arrays = load(out / "data.npz")
    assert [r["folder"] for r in manifest["leftOut"]] == sorted([copies[1].name, copies[3].name])
    good = [read_folder(c) for i, c in enumerate(copies) if i not in (1, 3)]
    assert [r["stem"] for r in manifest["recordings"]] == [f.stem for f in good]
    check_archive_against_folders(manifest, arrays, good, sample=100)
    assert pack("verify", out / "data.npz").returncode == 0


def test_other_settings_stop_pack(thumbs, tmp_path):
    copies = copy_folders(thumbs, tmp_path / "in", 3)
    other = tmp_path / "in" / thumbs.other_settings.name
    shutil.copytree(thumbs.other_settings, other)
    out = tmp_path / "out"
    out.mkdir()
    result = pack(tmp_path / "in", "-o", out / "data.npz")
    no_signal(result, "pack")
    assert result.returncode == 1, result.stderr
    lines = [line for line in error_lines(result) if "settings" in line]
    assert len(lines) == 1, result.stderr
    assert str(other) in lines[0] and any(str(c) in lines[0] for c in copies), lines[0]
    assert leftovers(out) == [], "pack left files behind"
    # the same for shards, and given as separate folders
    result = pack(*copies, other, "-o", out / "data.npz", "--shard-size", "50")
    assert result.returncode == 1 and str(other) in result.stderr
    assert leftovers(out) == []


def test_undecodable_thumbnail_leaves_its_recording_out(thumbs, tmp_path):
    """A thumbnail that does not decode is met while writing: that recording is left out (and named
    in the manifest), the rest packed as if it had not been given, exit 1; --strict writes nothing."""
    copies = copy_folders(thumbs, tmp_path / "in", 4)
    broken = copies[2] / read_folder(copies[2]).rows[5][1]
    broken.write_bytes(b"this is not a JPEG")
    good = [read_folder(c) for i, c in enumerate(copies) if i != 2]
    for extra in ([], ["--shard-size", "60"]):
        out = tmp_path / ("out" + "".join(extra))
        result = pack(tmp_path / "in", "-o", out / "data.npz", *extra, "--allow-empty-splits")  # few folders are left
        no_signal(result, "pack")
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and str(broken) in errors[0], result.stderr
        archives = leftovers(out)
        assert archives and all(name.startswith("data") and name.endswith(".npz") for name in archives), archives
        stems = []
        for name in archives:
            manifest, arrays = load(out / name)
            assert manifest["leftOut"] == [{"folder": copies[2].name, "problem": manifest["leftOut"][0]["problem"]}]
            assert manifest["leftOut"][0]["problem"].startswith(broken.name + ": "), manifest["leftOut"]
            stems = [r["stem"] for r in manifest["recordings"]]
            assert pack("verify", out / name).returncode == 0
        assert stems == [f.stem for f in good]
        if not extra:
            check_archive_against_folders(manifest, arrays, good, sample=100)
        strict = tmp_path / ("strict" + "".join(extra))
        result = pack(tmp_path / "in", "-o", strict / "data.npz", "--strict", *extra, "--allow-empty-splits")
        assert result.returncode == 1 and str(broken) in result.stderr, result.stderr
        assert leftovers(strict) == [], f"pack --strict {' '.join(extra)} left {leftovers(strict)}"


# ---------------------------------------------------------------------------------------------
# The trained model file, read by the safetensors package


def test_trained_model_loads_with_safetensors(archive, tmp_path):
    """`train` writes a model that the safetensors package reads, with the documented metadata,
    tensors named and shaped as the simple network's, and values equal to the file's raw bytes."""
    import json
    import struct

    from safetensors import safe_open
    from safetensors.numpy import load_file

    model = tmp_path / "m.safetensors"
    result = subprocess.run([_binary("train"), archive, "-o", model, "--steps", "3", "--batch", "16", "--eval-every", "3",
                             "--threads", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    tensors = load_file(str(model))
    with safe_open(str(model), framework="numpy") as f:
        metadata = f.metadata()
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    size = manifest["frontEnd"]["geometry"]["rows"]
    assert manifest["frontEnd"]["geometry"]["columns"] == size
    assert metadata["format"] == "piano-model" and metadata["version"] == "2"
    assert json.loads(metadata["network"])["name"] == "simple" and json.loads(metadata["input"]) == [1, size, size]
    assert [h["kind"] for h in json.loads(metadata["network"])["heads"]] == ["single"]
    assert json.loads(metadata["frontEnd"])["transform"] == manifest["frontEnd"]["transform"]
    half = (size + 1) // 2
    assert {name: t.shape for name, t in tensors.items()} == {
        "conv1.weight": (64, 1, 5, 5), "conv1.bias": (64,),
        "output.weight": (128, 64 * half * half), "output.bias": (128,)}
    # Independently of the package: the header and the raw little-endian floats.
    raw = model.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    for name, t in tensors.items():
        begin, end = header[name]["data_offsets"]
        assert header[name]["dtype"] == "F32"
        assert np.array_equal(np.frombuffer(raw[8 + length + begin:8 + length + end], dtype="<f4").reshape(t.shape), t)
    assert np.isfinite(tensors["conv1.weight"]).all() and tensors["conv1.weight"].std() > 0
    for suffix in (".log.csv", ".loss.svg", ".checkpoint.safetensors"):
        assert (tmp_path / ("m" + suffix)).is_file()
