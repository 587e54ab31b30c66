"""Hand-made bad inputs for every stage: each must be refused cleanly.

For every case the stage must
  1. exit non-zero (and not by a signal);
  2. print one `error:` line on stderr naming the bad file and the problem: no Swift "Fatal error",
     no stack trace, no multi-screen dump (a usage hint is allowed after a command-line error);
  3. leave no partial output: the output file or folder does not exist afterwards (for
     folder-per-recording outputs, the bad recording's output does not), and no `.partial-*` or
     `*.tmp` files are left anywhere in the output tree;
  4. in multi-file runs (ingest over a folder, spectro over several note maps, pack over several
     thumbnail folders, infer over several wavs, pack verify over several archives) finish the good
     inputs, whose outputs are checked, and say so in the `done X of Y` summary.

Every bad input is made here with struct, json, wave and zipfile from small real files: the three
shortest isolated-note recordings of the session's corpus and their note maps (conftest.py), a
tiny thumbnail set (`spectro` on those three), two tiny archives (`pack`) and a tiny model and
checkpoint (`train --steps 2 --batch 4 --crop 8`), all made once for the module (a few seconds).
"""

import hashlib
import json
from typing import Callable
import re
import shutil
import struct
import subprocess
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import _binary, run_tool

CRASH_MARKERS = (
    "Fatal error", "Precondition failed", "Assertion failed", "Illegal instruction", "Segmentation fault",
    "Stack dump", "Current stack trace", "Backtrace", "Traceback", "Trace/breakpoint trap", "Aborted",
)
# Lines a failing stage may print besides its one error line.
ALLOWED_LINES = (
    r"done \d+ of \d+, \d+ failed",  # the batch summary
    r"pack: wrote ",  # pack's list of archives written
    r"pack: left out \d+ recordings? with bad thumbnails",  # pack redoing an archive without a bad folder
    r"\d+ of \d+ archives failed verification",  # pack verify's summary
)
USAGE_LINES = (r"Usage: ", r"\s*See '.*--help' for more information")


# ---------------------------------------------------------------------------------------------
# Running a stage and checking how it failed


def run(tool: str, *args, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(_binary(tool)), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_clean_failure(result: subprocess.CompletedProcess, bad, problem: str, *, usage: bool = False):
    """Non-zero exit, no crash, one short error line that names `bad` and matches `problem`."""
    shown = f"\n--- stderr ---\n{result.stderr[-3000:]}\n--- stdout ---\n{result.stdout[-1000:]}"
    assert result.returncode > 0, f"exit code {result.returncode}{shown}"
    for marker in CRASH_MARKERS:
        assert marker not in result.stderr and marker not in result.stdout, f"'{marker}' in the output{shown}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 4, f"{len(lines)} stderr lines, expected one error and a summary{shown}"
    assert all(len(line) <= 600 for line in lines), f"an overlong stderr line{shown}"
    errors = [line for line in lines if line.lower().startswith("error:")]
    assert len(errors) == 1, f"expected one error line, got {len(errors)}{shown}"
    print(errors[0])  # shown with pytest -rP
    name = Path(bad).name
    assert name in errors[0], f"the error line does not name {name}{shown}"
    assert re.search(problem, errors[0], re.IGNORECASE), f"the error line does not say /{problem}/{shown}"
    allowed = ALLOWED_LINES + (USAGE_LINES if usage else ())
    for line in lines:
        if line is not errors[0]:
            assert any(re.match(p, line) for p in allowed), f"unexpected stderr line {line!r}{shown}"


def assert_summary(result: subprocess.CompletedProcess, done: int, total: int):
    summary = f"done {done} of {total}, {total - done} failed"
    assert summary in result.stderr, f"no '{summary}' on stderr:\n{result.stderr[-2000:]}"


def leftovers(root: Path) -> list:
    """Temporary files and folders under `root` (a killed or failed write's remains)."""
    if not root.exists():
        return []
    return sorted(str(p) for p in root.rglob("*") if p.name.startswith(".partial") or p.name.endswith((".tmp", ".partial")))


def assert_nothing_left(root: Path):
    assert not leftovers(root), f"temporary files left behind: {leftovers(root)}"


# ---------------------------------------------------------------------------------------------
# The module's small real files

# spectro settings of the module's thumbnails (and so of its archive and model): a CQT of 12 bins
# per octave plans several times faster than the default 36, which keeps the suite quick.
FAST = ("--bins-per-octave", "12")


@dataclass
class Mini:
    stems: list  # the three shortest ISOL recordings, shortest first
    sources: dict  # stem -> {"wav"|"mid"|"txt": Path} in the corpus
    notemaps: dict  # stem -> the session's note map (conftest's `corpus` fixture)
    thumbs: Path  # spectro (FAST settings) of the three note maps: <thumbs>/<stem>/
    thumbs_other: Path  # spectro (default settings) of the third: <thumbs_other>/<stem>/
    archive: Path  # pack of the three folders, --split 1:1:1
    no_train: Path  # the same, --split 0:1:1 (an empty train split)
    model: Path  # train --steps 2 --batch 4 --crop 8 on `archive`
    checkpoint: Path  # its checkpoint

    def copy_recording(self, stem: str, folder: Path) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        return {ext: Path(shutil.copy(src, folder / src.name)) for ext, src in self.sources[stem].items()}


@pytest.fixture(scope="module")
def mini(corpus, tmp_path_factory) -> Mini:
    folder = corpus.notemaps["pedal"]
    index = json.loads((folder / "index.json").read_text())["recordings"]
    isol = sorted((e for e in index if e["category"] == "ISOL"), key=lambda e: (e["duration"], e["stem"]))
    assert len(isol) >= 3, "the corpus has fewer than three ISOL recordings"
    stems = [e["stem"] for e in isol[:3]]
    sources, notemaps = {}, {}
    for stem in stems:
        wav = [p for p in corpus.root.rglob(f"{stem}.wav")]
        assert len(wav) == 1, f"{stem}.wav: {wav}"
        sources[stem] = {ext: wav[0].with_suffix("." + ext) for ext in ("wav", "mid", "txt")}
        assert all(p.is_file() for p in sources[stem].values()), sources[stem]
        notemaps[stem] = folder / f"{stem}.notemap.json"

    work = tmp_path_factory.mktemp("bad-inputs")
    thumbs, thumbs_other = work / "thumbs", work / "thumbs-other"
    run_tool([_binary("spectro"), *notemaps.values(), "-o", thumbs, "--jobs", "2", *FAST], "spectro")
    run_tool([_binary("spectro"), notemaps[stems[2]], "-o", thumbs_other], "spectro (default settings)")
    archive, no_train = work / "data.npz", work / "no-train.npz"
    run_tool([_binary("pack"), thumbs, "-o", archive, "--split", "1:1:1"], "pack")
    run_tool([_binary("pack"), thumbs, "-o", no_train, "--split", "0:1:1"], "pack --split 0:1:1")
    model = work / "model.safetensors"
    run_tool([_binary("train"), archive, "-o", model, "--steps", "2", "--batch", "4", "--eval-every", "2", "--crop", "8",
              "--no-distort"], "train")
    checkpoint = work / "model.checkpoint.safetensors"
    assert checkpoint.is_file()
    return Mini(stems, sources, notemaps, thumbs, thumbs_other, archive, no_train, model, checkpoint)


def blocked_path(tmp_path: Path, name: str) -> Path:
    """A path that cannot be created: its parent is a regular file (unwritable even for root)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    return blocker / name


# ---------------------------------------------------------------------------------------------
# Bytes of small bad files


def patch(data: bytes, offset: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def wav_chunks(data: bytes) -> dict:
    """{chunk id: (offset of its header, length)} of a RIFF/WAVE file."""
    chunks, p = {}, 12
    while p + 8 <= len(data):
        tag, length = data[p:p + 4].decode("latin-1"), struct.unpack_from("<I", data, p + 4)[0]
        chunks.setdefault(tag, (p, length))
        p += 8 + length + (length & 1)
    return chunks


def resample_header(path: Path, rate: int):
    """Rewrites a 16-bit wav with the same samples but another sample rate."""
    with wave.open(str(path), "rb") as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.setframerate(rate)
        w.writeframes(frames)


def truncate_frames(path: Path, keep: float):
    """Rewrites a wav with only the first `keep` fraction of its frames (a consistent header)."""
    with wave.open(str(path), "rb") as r:
        params, frames = r.getparams(), r.readframes(int(r.getnframes() * keep))
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)


def midi_tracks(data: bytes) -> list:
    """Offsets of the MTrk chunk headers of a Standard MIDI File."""
    offsets, p = [], 8 + struct.unpack_from(">I", data, 4)[0]
    while p + 8 <= len(data):
        offsets.append(p)
        p += 8 + struct.unpack_from(">I", data, p + 4)[0]
    return offsets


def first_track_meta_length_lie(data: bytes) -> bytes:
    """The first track's first meta event (the track name) claims 2^28 - 1 bytes (a 4-byte VLQ)."""
    track = midi_tracks(data)[0]
    body = track + 8
    assert data[body] == 0x00 and data[body + 1] == 0xFF, "the first track does not start with a meta event"
    length_at = body + 3
    old = data[length_at]
    assert old < 0x80
    new = data[:length_at] + bytes([0xFF, 0xFF, 0xFF, 0x7F]) + data[length_at + 1:]
    # Keep the chunk length honest: the lie is in the event, not in the chunk.
    return patch(new, track + 4, ">I", struct.unpack_from(">I", data, track + 4)[0] + 3)


def safetensors_split(data: bytes) -> tuple:
    n = struct.unpack_from("<Q", data)[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def safetensors_join(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


def safetensors_edit(data: bytes, edit) -> bytes:
    """Applies `edit(header, tensors)` (tensors: name -> raw bytes) and lays the tensors out again."""
    header, body = safetensors_split(data)
    tensors = {name: body[e["data_offsets"][0]:e["data_offsets"][1]] for name, e in header.items() if name != "__metadata__"}
    edit(header, tensors)
    out, offset = b"", 0
    for name in sorted(tensors):
        header[name]["data_offsets"] = [offset, offset + len(tensors[name])]
        out += tensors[name]
        offset += len(tensors[name])
    for name in [n for n in header if n != "__metadata__" and n not in tensors]:
        del header[name]
    return safetensors_join(header, out)


def first_tensor(header: dict) -> str:
    return sorted(n for n in header if n != "__metadata__")[0]


def edit_front_end(data: bytes, change) -> bytes:
    def edit(header, _tensors):
        front = json.loads(header["__metadata__"]["frontEnd"])
        change(front)
        header["__metadata__"]["frontEnd"] = json.dumps(front)
    return safetensors_edit(data, edit)


def edit_metadata(data: bytes, **changes) -> bytes:
    def edit(header, _tensors):
        header["__metadata__"].update(changes)
    return safetensors_edit(data, edit)


# Archives: members are read back uncompressed and written again stored, with the manifest's
# SHA-256s recomputed, so that the only thing wrong is the lie a case puts in.


def archive_members(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def write_archive(path: Path, members: dict, manifest: dict = None, fix_sha: bool = True) -> Path:
    members = dict(members)
    if manifest is None:
        manifest = json.loads(members["manifest.json"])
    if fix_sha:
        for record in manifest["members"]:
            if record["name"] in members:
                record["sha256"] = hashlib.sha256(members[record["name"]]).hexdigest()
    members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def edit_npy_header(data: bytes, edit) -> bytes:
    """Applies `edit(dict text) -> dict text` to an .npy header, keeping the header's length."""
    length = struct.unpack_from("<H", data, 8)[0]
    text = data[10:10 + length].decode("latin-1")
    new = edit(text.rstrip(" \n"))
    assert len(new) + 1 <= length, "the edited header does not fit"
    new = new + " " * (length - 1 - len(new)) + "\n"
    return data[:10] + new.encode("latin-1") + data[10 + length:]


def zip_end(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


def zip_central(data: bytes) -> dict:
    """{member name: offset of its central directory entry}."""
    end = zip_end(data)
    p, entries = struct.unpack_from("<I", data, end + 16)[0], {}
    for _ in range(struct.unpack_from("<H", data, end + 10)[0]):
        n, m, k = struct.unpack_from("<HHH", data, p + 28)
        entries[data[p + 46:p + 46 + n].decode()] = p
        p += 46 + n + m + k
    return entries


def zip_local(data: bytes, name: str) -> int:
    return struct.unpack_from("<I", data, zip_central(data)[name] + 42)[0]


def flip_member_byte(data: bytes, name: str) -> bytes:
    """One byte in the middle of a member's stored data, inverted (its CRC-32 no longer matches)."""
    local = zip_local(data, name)
    n, m = struct.unpack_from("<HH", data, local + 26)
    size = struct.unpack_from("<I", data, zip_central(data)[name] + 20)[0]
    at = local + 30 + n + m + size // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


# ---------------------------------------------------------------------------------------------
# ingest: a folder of recordings, one of them bad


def _empty(path):
    path.write_bytes(b"")
    return path


def _garbage(path):
    path.write_bytes(b"this is not what the name says\n" * 40)
    return path


def _removed(path):
    path.unlink()
    return path


def _as_directory(path):
    path.unlink()
    path.mkdir()
    return path


def _set_bytes(path, data):
    path.write_bytes(data)
    return path


def _txt_line(path, line):
    path.write_text("OnsetTime\tOffsetTime\tMidiPitch\n0.25\t0.75\t60\n" + line + "\n")
    return path


def _wav_header_only(r):
    data = r["wav"].read_bytes()
    at, _ = wav_chunks(data)["data"]
    return _set_bytes(r["wav"], patch(data[:at + 8], at + 4, "<I", 0))


def _wav_fmt(r, offset, fmt, value):
    data = r["wav"].read_bytes()
    at, _ = wav_chunks(data)["fmt "]
    return _set_bytes(r["wav"], patch(data, at + offset, fmt, value))


INGEST_CASES = {
    # the wav
    "wav-zero-length": (lambda r: _empty(r["wav"]), r"not readable audio"),
    "wav-garbage": (lambda r: _garbage(r["wav"]), r"not readable audio"),
    "wav-truncated-header": (lambda r: _set_bytes(r["wav"], r["wav"].read_bytes()[:30]), r"not readable audio"),
    "wav-no-frames": (_wav_header_only, r"zero-length|no (sample )?frames"),
    "wav-fmt-length-lie": (lambda r: _wav_fmt(r, 4, "<I", 0x7FFFFFF0), r"not readable audio"),
    "wav-zero-channels": (lambda r: _wav_fmt(r, 10, "<H", 0), r"channel"),
    "wav-zero-sample-rate": (lambda r: _wav_fmt(r, 12, "<I", 0), r"not readable audio"),
    "wav-is-a-directory": (lambda r: _as_directory(r["wav"]), r"is a folder"),
    # the MIDI file
    "mid-zero-length": (lambda r: _empty(r["mid"]), r"too short|not a MIDI"),
    "mid-garbage": (lambda r: _garbage(r["mid"]), r"not a MIDI file"),
    "mid-truncated": (lambda r: _set_bytes(r["mid"], r["mid"].read_bytes()[:-12]), r"claims \d+ bytes but only \d+ remain"),
    "mid-header-length-lie": (lambda r: _set_bytes(r["mid"], patch(r["mid"].read_bytes(), 4, ">I", 0xFFFFFFF0)), r"header length"),
    "mid-track-count-lie": (lambda r: _set_bytes(r["mid"], patch(r["mid"].read_bytes(), 10, ">H", 5)), r"5 tracks"),
    "mid-chunk-length-lie": (
        lambda r: _set_bytes(r["mid"], patch(r["mid"].read_bytes(), midi_tracks(r["mid"].read_bytes())[0] + 4, ">I", 0x7FFFFFFF)),
        r"claims \d+ bytes"),
    "mid-meta-length-lie": (lambda r: _set_bytes(r["mid"], first_track_meta_length_lie(r["mid"].read_bytes())), r"meta event .* claims"),
    "mid-is-a-directory": (lambda r: _as_directory(r["mid"]), r"is a folder"),
    "mid-undefined-system-message": (
        lambda r: _set_bytes(r["mid"], _insert_at_first_track(r["mid"].read_bytes(), bytes([0x00, 0xF4]))[0]),
        r"system message 0xf4 at byte \d+ is not allowed"),
    "mid-data-byte-after-sysex": (
        lambda r: _set_bytes(r["mid"], _insert_at_first_track(r["mid"].read_bytes(), bytes([0x00, 0xB0, 0x07, 0x64, 0x00, 0xF0, 0x01, 0xF7, 0x00, 0x07, 0x64]))[0]),
        r"data byte 0x7 at byte \d+ with no running status"),
    # the MAPS note list
    "txt-zero-length": (lambda r: _empty(r["txt"]), r"empty note list"),
    "txt-binary-garbage": (lambda r: _set_bytes(r["txt"], bytes(range(256)) * 8), r"expected the header"),
    "txt-pitch-out-of-range": (lambda r: _txt_line(r["txt"], "0.5\t1.0\t200"), r"pitch '200'"),
    "txt-negative-pitch": (lambda r: _txt_line(r["txt"], "0.5\t1.0\t-3"), r"pitch '-3'"),
    "txt-negative-onset": (lambda r: _txt_line(r["txt"], "-0.5\t1.0\t60"), r"onset '-0.5'"),
    "txt-offset-before-onset": (lambda r: _txt_line(r["txt"], "0.9\t0.4\t60"), r"before onset"),
    "txt-non-numeric": (lambda r: _txt_line(r["txt"], "0.5\tsoon\t60"), r"offset 'soon'"),
    "txt-nan-onset": (lambda r: _txt_line(r["txt"], "nan\t1.0\t60"), r"onset 'nan'"),
    "txt-missing-field": (lambda r: _txt_line(r["txt"], "0.5\t1.0"), r"3 tab-separated fields"),
}


def _check_note_map(path: Path, stem: str):
    data = json.loads(path.read_text())
    assert data["format"] == "piano-notemap" and data["version"] == 2 and data["stem"] == stem, path
    assert data["sampleRate"] == data["audio"]["sampleRate"] == 44100, path
    assert data["steps"] == data["audio"]["frames"] // data["hop"] + 1 == len(data["labels"]["single"]), path


@pytest.mark.parametrize("make, problem", INGEST_CASES.values(), ids=INGEST_CASES.keys())
def test_ingest_bad_recording_among_good(mini, tmp_path, make, problem):
    """ingest over a folder of three recordings, one with a bad wav, mid or txt."""
    maps = tmp_path / "maps"
    good, bad_stem = mini.stems[:2], mini.stems[2]
    for stem in good:
        mini.copy_recording(stem, maps)
    bad = make(mini.copy_recording(bad_stem, maps))
    out = tmp_path / "notemaps"
    result = run("ingest", maps, "-o", out, "--jobs", "2")
    assert_clean_failure(result, bad, problem)
    assert_summary(result, 2, 3)
    assert not (out / f"{bad_stem}.notemap.json").exists(), "a note map was written for the bad recording"
    for stem in good:
        _check_note_map(out / f"{stem}.notemap.json", stem)
    index = json.loads((out / "index.json").read_text())
    assert sorted(e["stem"] for e in index["recordings"]) == sorted(good)
    assert_nothing_left(out)


def _insert_at_first_track(data: bytes, events: bytes) -> tuple:
    """`events` (whole delta-timed events) put at the start of the first track; returns the new
    bytes and the offset of the first track's body (events' offsets count from there)."""
    track = midi_tracks(data)[0]
    body = track + 8
    new = data[:body] + events + data[body:]
    return patch(new, track + 4, ">I", struct.unpack_from(">I", data, track + 4)[0] + len(events)), body


# MIDI files other readers (mido, sequencers) accept though the standard does not allow them in a
# file: ingest reads them with one warning line naming the file and the byte offset, and refuses
# them with --strict. (events at the first track's start, offset of the warned byte in them,
# the warning's words, the --strict error's words)
TOLERATED_MIDI = {
    "system-real-time": (bytes([0x00, 0xF8, 0x00, 0xFE]), 1, r"skipped 2 system messages \(0xf8, 0xfe\)", r"system message 0xf8 at byte \d+ is not allowed"),
    "system-common": (bytes([0x00, 0xF2, 0x00, 0x00, 0x00, 0xF3, 0x01]), 1, r"skipped 2 system messages \(0xf2, 0xf3\)", r"system message 0xf2"),
    # controller 7 on channel 0, a text meta, then controller 7 again in running status
    "running-status-across-meta": (bytes([0x00, 0xB0, 0x07, 0x64, 0x00, 0xFF, 0x01, 0x01, 0x41, 0x00, 0x07, 0x64]), 10,
                                   r"running status continued across a meta event", r"data byte 0x7 at byte \d+ with no running status"),
}


@pytest.mark.parametrize("events, at, warning, refusal", TOLERATED_MIDI.values(), ids=TOLERATED_MIDI.keys())
def test_ingest_tolerated_midi_warns_and_strict_refuses(mini, tmp_path, events, at, warning, refusal):
    """A MIDI file with system messages or running status across a meta: a warning, the same notes; --strict fails it."""
    maps = tmp_path / "maps"
    for stem in mini.stems[:2]:
        mini.copy_recording(stem, maps)
    stem = mini.stems[2]
    files = mini.copy_recording(stem, maps)
    data, body = _insert_at_first_track(files["mid"].read_bytes(), events)
    files["mid"].write_bytes(data)
    import mido  # the independent reference: it reads such files
    assert sum(not m.is_meta for t in mido.MidiFile(str(files["mid"])).tracks for m in t) > 0
    out = tmp_path / "notemaps"
    result = run("ingest", maps, "-o", out, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    print(warnings[0])
    assert str(files["mid"]) in warnings[0] and re.search(warning, warnings[0]), warnings[0]
    assert f"the first at byte {body + at}" in warnings[0], f"expected offset {body + at}: {warnings[0]}"
    assert_summary(result, 3, 3)
    ours = json.loads((out / f"{stem}.notemap.json").read_text())
    honest = json.loads(mini.notemaps[stem].read_text())
    assert ours["notes"] == honest["notes"] and ours["labels"] == honest["labels"]

    strict_out = tmp_path / "strict"
    result = run("ingest", maps, "-o", strict_out, "--jobs", "2", "--strict")
    assert_clean_failure(result, files["mid"], refusal)
    assert_summary(result, 2, 3)
    assert not (strict_out / f"{stem}.notemap.json").exists()
    assert_nothing_left(strict_out)


def test_ingest_wav_size_lies_are_clamped(mini, tmp_path):
    """Not a failure: RIFF and data sizes claiming ~4 GB are read as the frames really there.

    libsndfile clamps a data chunk that claims more than the file holds (streamed wavs often
    carry 0xFFFFFFFF there), so such a wav gives the same note map as the honest one, with no
    large allocation; the wav lies that must fail are in INGEST_CASES."""
    maps = tmp_path / "maps"
    files = mini.copy_recording(mini.stems[0], maps)
    data = files["wav"].read_bytes()
    at, _ = wav_chunks(data)["data"]
    files["wav"].write_bytes(patch(patch(data, 4, "<I", 0xFFFFFFF0), at + 4, "<I", 0xFFFFFFF0))
    out = tmp_path / "notemaps"
    run_tool([_binary("ingest"), maps, "-o", out], "ingest of a wav with lying sizes")
    lying = json.loads((out / f"{mini.stems[0]}.notemap.json").read_text())
    honest = json.loads(mini.notemaps[mini.stems[0]].read_text())
    assert lying["audio"] == honest["audio"] and lying["labels"] == honest["labels"]


def test_ingest_output_is_a_file(mini, tmp_path):
    """ingest -o names an existing regular file, not a folder."""
    maps = tmp_path / "maps"
    mini.copy_recording(mini.stems[0], maps)
    out = tmp_path / "notemaps"
    out.write_text("precious\n")
    result = run("ingest", maps, "-o", out)
    assert_clean_failure(result, out, r"cannot create|not a directory|exists")
    assert out.read_text() == "precious\n", "the file given as -o was changed"


def test_ingest_output_unwritable(mini, tmp_path):
    """ingest -o inside a path whose parent is a file."""
    maps = tmp_path / "maps"
    mini.copy_recording(mini.stems[0], maps)
    out = blocked_path(tmp_path, "notemaps")
    result = run("ingest", maps, "-o", out)
    assert_clean_failure(result, out.parent, r"cannot create")
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# spectro: several note maps, one of them bad


@dataclass
class BadNoteMap:
    path: Path  # the note map to damage (a copy, its wav path made absolute)
    data: dict  # its contents
    wav: Path  # a copy of its wav, which the note map points at

    def save(self) -> Path:
        self.path.write_text(json.dumps(self.data))
        return self.path

    def edit(self, change) -> Path:
        change(self.data)
        return self.save()


def _lie_steps(m):
    m["steps"] = 10 ** 12


def _lie_sample_rate(m):
    m["audio"]["sampleRate"] = 10 ** 9


def _lie_label(m):
    m["labels"]["single"][len(m["labels"]["single"]) // 2] = 300


def _lie_pitch(m):
    m["notes"].append({"onset": 0.1, "offset": 0.2, "pitch": 200})


def _lie_negative_time(m):
    m["notes"].append({"onset": -1.0, "offset": 0.2, "pitch": 60})




def _wav_rate(b):
    resample_header(b.wav, 22050)
    return b.wav


def _wav_shorter(b):
    truncate_frames(b.wav, 0.5)
    return b.wav


def _notemap_directory(b):
    b.path.unlink()
    b.path.mkdir()
    return b.path


SPECTRO_CASES = {
    "notemap-zero-length": (lambda b: _empty(b.path), r"not a note map"),
    "notemap-garbage": (lambda b: _garbage(b.path), r"not a note map"),
    "notemap-truncated": (lambda b: _set_bytes(b.path, b.path.read_bytes()[:200]), r"not a note map"),
    "notemap-wrong-format": (lambda b: b.edit(lambda m: m.update(format="piano-thumbs")), r"format is 'piano-thumbs'"),
    "notemap-version-3": (lambda b: b.edit(lambda m: m.update(version=3)), r"version 3"),
    "notemap-version-1-with-sample-rate": (lambda b: b.edit(lambda m: m.update(version=1)), r"sampleRate is a version 2 field"),
    "notemap-absurd-grid-rate": (lambda b: b.edit(lambda m: m.update(sampleRate=10 ** 9)), r"sampleRate 1000000000 Hz is outside"),
    "notemap-missing-field": (lambda b: b.edit(lambda m: m.pop("labels")), r"labels"),
    "notemap-steps-lie": (lambda b: b.edit(_lie_steps), r"steps is 1000000000000"),
    "notemap-absurd-sample-rate": (lambda b: b.edit(_lie_sample_rate), r"sample rate"),
    "notemap-zero-hop": (lambda b: b.edit(lambda m: m.update(hop=0)), r"hop 0"),
    "notemap-label-out-of-range": (lambda b: b.edit(_lie_label), r"labels at step"),
    "notemap-pitch-out-of-range": (lambda b: b.edit(_lie_pitch), r"pitch 200"),
    "notemap-negative-onset": (lambda b: b.edit(_lie_negative_time), r"onset -1"),
    "notemap-is-a-directory": (_notemap_directory, r"holds no"),
    "wav-missing": (lambda b: _removed(b.wav), r"no such audio file"),
    "wav-other-sample-rate": (_wav_rate, r"sample rate 22050 Hz differs"),
    "wav-other-length": (_wav_shorter, r"frames, but the note map says"),
    "wav-is-a-directory": (lambda b: _as_directory(b.wav), r"is a folder"),
    "wav-garbage": (lambda b: _garbage(b.wav), r"not readable audio"),
}


def _check_thumbs(folder: Path, stem: str):
    sidecar = json.loads((folder / "thumbs.json").read_text())
    assert sidecar["format"] == "piano-thumbs" and sidecar["version"] == 2 and sidecar["stem"] == stem, folder
    rows = (folder / "labels.tsv").read_text().splitlines()[1:]
    assert len(rows) == sidecar["images"] == len(list(folder.glob("[0-9]*.jpg"))), folder


@pytest.mark.parametrize("make, problem", SPECTRO_CASES.values(), ids=SPECTRO_CASES.keys())
def test_spectro_bad_note_map_among_good(mini, tmp_path, make, problem):
    """spectro over three note maps, one of them (or its wav) bad."""
    good, bad_stem = mini.stems[:2], mini.stems[2]
    folder = tmp_path / "bad"
    folder.mkdir()
    wav = Path(shutil.copy(mini.sources[bad_stem]["wav"], folder / f"{bad_stem}.wav"))
    data = json.loads(mini.notemaps[bad_stem].read_text())
    data["sources"]["wav"] = str(wav)
    case = BadNoteMap(folder / f"{bad_stem}.notemap.json", data, wav)
    case.save()
    bad = make(case)
    out = tmp_path / "thumbs"
    result = run("spectro", *(mini.notemaps[s] for s in good), case.path, "-o", out, "--jobs", "2", *FAST)
    assert_clean_failure(result, bad, problem)
    assert_summary(result, 2, 3)
    assert not (out / bad_stem).exists(), "a thumbnail folder was written for the bad note map"
    for stem in good:
        _check_thumbs(out / stem, stem)
    assert sorted(p.name for p in out.iterdir()) == sorted(good)
    assert_nothing_left(out)


def test_spectro_output_unwritable(mini, tmp_path):
    """spectro -o inside a path whose parent is a file."""
    out = blocked_path(tmp_path, "thumbs")
    result = run("spectro", mini.notemaps[mini.stems[0]], "-o", out)
    assert_clean_failure(result, out, r"cannot create")
    assert not out.exists()


@pytest.mark.parametrize(
    "option, value",
    [("--context", str(10 ** 12)), ("--bins-per-octave", "120000"), ("--size", "0"), ("--quality", "101")],
    ids=["context-10^12", "bins-per-octave-120000", "size-0", "quality-101"],
)
def test_spectro_absurd_option(mini, tmp_path, option, value):
    """spectro with an option outside what can be planned (a command-line validation error)."""
    out = tmp_path / "thumbs"
    result = run("spectro", mini.notemaps[mini.stems[0]], "-o", out, option, value)
    assert_clean_failure(result, option, re.escape(option), usage=True)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# pack: several thumbnail folders, one of them bad


def _sidecar(folder: Path, change) -> Path:
    path = folder / "thumbs.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def _labels_row(folder: Path, column: int, value: str) -> Path:
    path = folder / "labels.tsv"
    lines = path.read_text().split("\n")
    fields = lines[2].split("\t")
    fields[column] = value
    lines[2] = "\t".join(fields)
    path.write_text("\n".join(lines))
    return path


def _first_jpeg(folder: Path) -> Path:
    return sorted(folder.glob("[0-9]*.jpg"))[0]


def _absurd_steps(s):
    s["steps"] = 10 ** 12
    s["images"] = 10 ** 12


PACK_SKIPPED_CASES = {
    "sidecar-zero-length": (lambda f: _empty(f / "thumbs.json"), r"not a thumbnail sidecar"),
    "sidecar-garbage": (lambda f: _garbage(f / "thumbs.json"), r"not a thumbnail sidecar"),
    "sidecar-wrong-format": (lambda f: _sidecar(f, lambda s: s.update(format="piano-notemap")), r"format is 'piano-notemap'"),
    "sidecar-version-99": (lambda f: _sidecar(f, lambda s: s.update(version=99)), r"version 99"),
    "sidecar-images-lie": (lambda f: _sidecar(f, lambda s: s.update(images=s["images"] + 7)), r"images \(\d+\) does not match"),
    "sidecar-absurd-steps": (lambda f: _sidecar(f, _absurd_steps), r"lists \d+ thumbnails"),
    "sidecar-zero-every": (lambda f: _sidecar(f, lambda s: s.update(every=0)), r"every 0"),
    "labels-missing": (lambda f: _removed(f / "labels.tsv"), r"cannot read"),
    "labels-bad-class": (lambda f: _labels_row(f, 3, "300"), r"class label '300'"),
    "labels-key-outside-piano": (lambda f: _labels_row(f, 4, "5"), r"key '5'"),
    "labels-non-numeric-step": (lambda f: _labels_row(f, 0, "one"), r"step 'one'"),
    "labels-missing-field": (lambda f: _labels_row(f, 5, "60\textra"), r"expected 6 tab-separated fields, found 7"),
    "labels-onset-not-sounding": (lambda f: _labels_row(f, 5, "108"), r"onsets \[108\] are not all sounding keys"),
    "jpeg-missing": (lambda f: _removed(_first_jpeg(f)), r"missing thumbnail"),
    "jpeg-garbage": (lambda f: _garbage(_first_jpeg(f)), r"not a JPEG"),
    "jpeg-wrong-size": (lambda f: _jpeg_wrong_size(f), r"16x16"),
}


def _pack_inputs(mini, tmp_path):
    good, bad_stem = mini.stems[:2], mini.stems[2]
    bad_folder = Path(shutil.copytree(mini.thumbs / bad_stem, tmp_path / "bad" / bad_stem))
    return [mini.thumbs / s for s in good], bad_folder


@pytest.mark.parametrize("make, problem", PACK_SKIPPED_CASES.values(), ids=PACK_SKIPPED_CASES.keys())
def test_pack_bad_folder_among_good(mini, tmp_path, make, problem):
    """pack over three thumbnail folders, one with a bad thumbs.json, labels.tsv or JPEG."""
    good, bad_folder = _pack_inputs(mini, tmp_path)
    bad = make(bad_folder)
    archive = tmp_path / "out" / "data.npz"
    # Two recordings leave valid and test empty: allowed here, where bad folders are the point.
    result = run("pack", *good, bad_folder, "-o", archive, "--jobs", "2", "--allow-empty-splits")
    assert_clean_failure(result, bad, problem)
    assert_summary(result, 2, 3)
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert sorted(r["stem"] for r in manifest["recordings"]) == sorted(p.name for p in good)
    # The manifest names the folder left out and why (no absolute path: the file inside the folder).
    assert [r["folder"] for r in manifest["leftOut"]] == [bad_folder.name], manifest.get("leftOut")
    problem_text = manifest["leftOut"][0]["problem"]
    assert re.search(problem, problem_text, re.IGNORECASE) and str(tmp_path) not in problem_text, problem_text
    error_file = re.search(r"^error: (\S+?):", result.stderr, re.M).group(1)
    if error_file.startswith(str(bad_folder) + "/"):  # names the file inside the folder, relatively
        assert problem_text.startswith(error_file[len(str(bad_folder)) + 1:] + ":"), problem_text
    verify = run("pack", "verify", archive)
    assert verify.returncode == 0, verify.stderr
    assert_nothing_left(archive.parent)
    # The archive is the one the good folders alone give, but for the manifest's leftOut.
    alone = tmp_path / "alone" / "data.npz"
    run_tool([_binary("pack"), *good, "-o", alone, "--jobs", "2", "--allow-empty-splits"], "pack of the good folders")
    with zipfile.ZipFile(archive) as a, zipfile.ZipFile(alone) as b:
        assert [(i.filename, i.CRC) for i in a.infolist() if i.filename != "manifest.json"] == \
            [(i.filename, i.CRC) for i in b.infolist() if i.filename != "manifest.json"]
        ma, mb = json.loads(a.read("manifest.json")), json.loads(b.read("manifest.json"))
        assert {k: v for k, v in ma.items() if k != "leftOut"} == mb and "leftOut" not in mb

    # --strict: the same inputs fail whole, with nothing written.
    strict = tmp_path / "strict" / "data.npz"
    result = run("pack", *good, bad_folder, "-o", strict, "--jobs", "2", "--strict", "--allow-empty-splits")
    assert_clean_failure(result, bad, problem)
    assert not strict.exists()
    assert_nothing_left(strict.parent)


def _jpeg_wrong_size(folder):
    from PIL import Image

    path = _first_jpeg(folder)
    Image.new("L", (16, 16), 128).save(path, format="JPEG")
    return path


def _other_settings(mini, tmp_path):
    return mini.thumbs_other / mini.stems[2]


def _same_stem(mini, tmp_path):
    return Path(shutil.copytree(mini.thumbs / mini.stems[0], tmp_path / "again" / mini.stems[0]))


PACK_FATAL_CASES = {
    "other-spectro-settings": (_other_settings, r"other settings"),
    "duplicate-stem": (_same_stem, r"also in"),
}


@pytest.mark.parametrize("make, problem", PACK_FATAL_CASES.values(), ids=PACK_FATAL_CASES.keys())
def test_pack_refuses_folders_that_cannot_go_together(mini, tmp_path, make, problem):
    """pack over good folders and one that cannot share their archive: no archive at all."""
    bad = make(mini, tmp_path)
    folder = bad if bad.is_dir() else bad.parent
    archive = tmp_path / "out" / "data.npz"
    result = run("pack", *(mini.thumbs / s for s in mini.stems[:2]), folder, "-o", archive, "--jobs", "2")
    assert_clean_failure(result, bad, problem)
    assert not archive.exists(), "an archive was written"
    assert_nothing_left(tmp_path)


def test_pack_input_folder_missing(mini, tmp_path):
    """pack over two good folders and one that does not exist."""
    missing = tmp_path / "no-such-folder"
    archive = tmp_path / "data.npz"
    result = run("pack", *(mini.thumbs / s for s in mini.stems[:2]), missing, "-o", archive, "--allow-empty-splits")
    assert_clean_failure(result, missing, r"no such folder")
    assert_summary(result, 2, 3)
    assert run("pack", "verify", archive).returncode == 0


def test_pack_output_is_a_directory(mini, tmp_path):
    """pack -o names an existing folder."""
    archive = tmp_path / "data.npz"
    archive.mkdir()
    result = run("pack", mini.thumbs / mini.stems[0], "-o", archive)
    assert_clean_failure(result, archive, r"directory|folder")
    assert archive.is_dir() and not any(archive.iterdir())
    assert_nothing_left(tmp_path)


def test_pack_output_unwritable(mini, tmp_path):
    """pack -o inside a path whose parent is a file."""
    archive = blocked_path(tmp_path, "data.npz")
    result = run("pack", mini.thumbs / mini.stems[0], "-o", archive)
    assert_clean_failure(result, archive.parent, r"cannot create|not a directory")
    assert not archive.exists()
    assert_nothing_left(tmp_path)


# ---------------------------------------------------------------------------------------------
# Archives: pack verify (one bad among good ones) and train (the bad one alone)


def _zip_patch(name, field, fmt, value):
    """Patches a field of `name`'s central directory entry (field: byte offset in the entry)."""
    def make(data):
        return patch(data, zip_central(data)[name] + field, fmt, value)
    return make


def _local_patch(name, field, fmt, value):
    def make(data):
        return patch(data, zip_local(data, name) + field, fmt, value)
    return make


def _end_patch(field, fmt, value):
    def make(data):
        return patch(data, zip_end(data) + field, fmt, value)
    return make


ZIP_CASES = {  # bad archive bytes made from the good archive's bytes
    "zero-length": (lambda d: b"", r"not a zip archive"),
    "garbage": (lambda d: b"PK not really a zip\n" * 50, r"not a zip archive"),
    "truncated": (lambda d: d[: len(d) // 2], r"not a zip archive, or truncated"),
    "end-record-directory-offset-lie": (_end_patch(16, "<I", 0xFFFFFFF0), r"central directory .* does not fit"),
    "end-record-entry-count-lie": (_end_patch(10, "<H", 0xFFF0), r"central directory"),
    "central-compressed-size-lie": (_zip_patch("train_images.npy", 20, "<I", 0xFFFFFFF0), r"train_images.npy: sizes or offset"),
    "central-size-lie": (_zip_patch("train_labels.npy", 24, "<I", 0x7FFFFFF0), r"train_labels.npy is \d+ bytes, the manifest says"),
    "central-offset-lie": (_zip_patch("manifest.json", 42, "<I", 0xFFFFFF00), r"manifest.json: sizes or offset"),
    "central-method-lie": (_zip_patch("manifest.json", 10, "<H", 99), r"compression method 99"),
    "local-name-length-lie": (_local_patch("manifest.json", 26, "<H", 0xFFFF), r"manifest.json: data runs past"),
    "local-signature-wrong": (_local_patch("manifest.json", 0, "<I", 0x12345678), r"no local header"),
    "member-byte-flipped": (lambda d: flip_member_byte(d, "train_labels.npy"), r"train_labels.npy.*(CRC|corrupt)"),
}


def _manifest_edit(change):
    def make(members):
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        return members, manifest
    return make


def _absurd_count(m):
    n = 10 ** 12
    m["splits"]["train"]["count"] = n
    m["splits"]["train"]["classHistogram"][0] += n - sum(m["splits"]["train"]["classHistogram"])
    for record in m["members"]:
        if record["name"].startswith("train_"):
            record["shape"][0] = n


def _npy_edit(name, edit):
    def make(members):
        members = dict(members)
        members[name] = edit(members[name])
        return members, None
    return make


def _npy_shape_lie(data):
    return edit_npy_header(data, lambda t: re.sub(r"'shape': \([^)]*\)", "'shape': (1000000000000,)", t))


def _npy_descr_lie(data):
    return edit_npy_header(data, lambda t: t.replace("'|u1'", "'<f8'"))


def _npy_fortran(data):
    return edit_npy_header(data, lambda t: t.replace("False", "True"))


def _drop_member(name):
    def make(members):
        members = dict(members)
        del members[name]
        return members, None
    return make


MANIFEST_CASES = {  # (members, manifest) -> a rebuilt archive with one lie
    "manifest-garbage": (lambda ms: ({**ms, "manifest.json": b"{ not json"}, "raw"), r"manifest.json is not an archive manifest"),
    "manifest-wrong-format": (_manifest_edit(lambda m: m.update(format="piano-model")), r"format is 'piano-model'"),
    "manifest-version-3": (_manifest_edit(lambda m: m.update(version=3)), r"version 3 is not supported"),
    "manifest-missing-split": (_manifest_edit(lambda m: m["splits"].pop("valid")), r"no 'valid' split"),
    "manifest-absurd-count": (_manifest_edit(_absurd_count), r"train_images.npy is \d+ bytes"),
    "manifest-unknown-dtype": (_manifest_edit(lambda m: m["members"][0].update(dtype="<c16")), r"unsupported dtype"),
    "manifest-histogram-lie": (_manifest_edit(lambda m: m["splits"]["train"]["classHistogram"].__setitem__(0, 10 ** 6)), r"histogram"),
    "member-missing": (_drop_member("train_notes.npy"), r"no member 'train_notes.npy'"),
    "npy-header-length-lie": (_npy_edit("train_labels.npy", lambda d: patch(d, 8, "<H", 0xFFFF)), r"train_labels.npy: .npy header is truncated"),
    "npy-shape-lie": (_npy_edit("train_labels.npy", _npy_shape_lie), r"train_labels.npy: header says"),
    "npy-dtype-lie": (_npy_edit("train_labels.npy", _npy_descr_lie), r"train_labels.npy: header says"),
    "npy-fortran-order": (_npy_edit("train_labels.npy", _npy_fortran), r"train_labels.npy.*C order"),
    "npy-bad-magic": (_npy_edit("train_labels.npy", lambda d: b"\x93NUMPZ" + d[6:]), r"train_labels.npy.*magic"),
}

ARCHIVE_CASES = {**{k: ("zip",) + v for k, v in ZIP_CASES.items()}, **{k: ("manifest",) + v for k, v in MANIFEST_CASES.items()}}


def make_bad_archive(mini, path: Path, kind: str, make) -> Path:
    if kind == "zip":
        path.write_bytes(make(mini.archive.read_bytes()))
    else:
        members, manifest = make(archive_members(mini.archive))
        if manifest == "raw":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
                for name, data in members.items():
                    z.writestr(name, data)
        else:
            write_archive(path, members, manifest)
    return path


def test_rebuilt_archive_is_sound(mini, tmp_path):
    """The rebuilding the manifest cases use gives an archive that verifies and trains."""
    archive = write_archive(tmp_path / "rebuilt.npz", archive_members(mini.archive))
    verify = run("pack", "verify", archive)
    assert verify.returncode == 0, verify.stderr
    run_tool([_binary("train"), archive, "-o", tmp_path / "m.safetensors", "--steps", "1", "--batch", "4", "--crop", "8",
              "--eval-every", "1"], "train on the rebuilt archive")


@pytest.mark.parametrize("kind, make, problem", ARCHIVE_CASES.values(), ids=ARCHIVE_CASES.keys())
def test_pack_verify_bad_archive_among_good(mini, tmp_path, kind, make, problem):
    """pack verify over a good archive, a bad one and the good one again."""
    bad = make_bad_archive(mini, tmp_path / "bad.npz", kind, make)
    result = run("pack", "verify", mini.archive, bad, mini.no_train)
    assert_clean_failure(result, bad, problem)
    assert "1 of 3 archives failed verification" in result.stderr
    assert f"{mini.archive}: ok" in result.stdout and f"{mini.no_train}: ok" in result.stdout, result.stdout


def _assert_no_training_outputs(model: Path):
    stem = str(model)[: -len(".safetensors")]
    left = [p for p in (model, Path(stem + ".log.csv"), Path(stem + ".loss.svg"), Path(stem + ".checkpoint.safetensors")) if p.exists()]
    assert not left, f"train wrote {left}"
    assert_nothing_left(model.parent)


TRAIN = ("--steps", "2", "--batch", "4", "--eval-every", "2", "--crop", "8")


@pytest.mark.parametrize("kind, make, problem", ARCHIVE_CASES.values(), ids=ARCHIVE_CASES.keys())
def test_train_refuses_bad_archive(mini, tmp_path, kind, make, problem):
    """train on a damaged archive."""
    bad = make_bad_archive(mini, tmp_path / "bad.npz", kind, make)
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", bad, "-o", model, *TRAIN)
    assert_clean_failure(result, bad, problem)
    _assert_no_training_outputs(model)


# ---------------------------------------------------------------------------------------------
# train: wrong checkpoints, folders where files belong, unwritable outputs


def _checkpoint_edit(edit):
    return lambda mini: safetensors_edit(mini.checkpoint.read_bytes(), edit)


def _drop_momentum(header, tensors):
    name = next(n for n in sorted(tensors) if n.startswith("momentum."))
    del tensors[name]


def _offsets_lie(data):
    header, body = safetensors_split(data)
    header[first_tensor(header)]["data_offsets"] = [0, 1 << 40]
    return safetensors_join(header, body)


def _shape_lie(data):
    header, body = safetensors_split(data)
    header[first_tensor(header)]["shape"] = [10 ** 6, 10 ** 6]
    return safetensors_join(header, body)


RESUME_CASES = {  # (checkpoint bytes from mini, extra train arguments, problem)
    "other-architecture": (lambda m: m.checkpoint.read_bytes(), ["--arch", "original"], r"simple network for 8x8 inputs, not the original network"),
    "other-heads": (lambda m: m.checkpoint.read_bytes(), ["--heads", "frame"], r"specs differ"),
    "other-input-size": (lambda m: m.checkpoint.read_bytes(), ["--crop", "10"], r"for 8x8 inputs, not the simple network for 10x10"),
    "other-optimizer": (lambda m: m.checkpoint.read_bytes(), ["--optimizer", "adam"], r"--optimizer sgd, not adam"),
    "model-not-checkpoint": (lambda m: m.model.read_bytes(), [], r"not a training checkpoint"),
    "zero-length": (lambda m: b"", [], r"not a safetensors file"),
    "truncated": (lambda m: m.checkpoint.read_bytes()[:5000], [], r"(lie outside|impossible shape .* for) the \d+-byte data"),
    "header-length-2^60": (lambda m: patch(m.checkpoint.read_bytes(), 0, "<Q", 1 << 60), [], r"header length 1152921504606846976"),
    "tensor-offsets-lie": (lambda m: _offsets_lie(m.checkpoint.read_bytes()), [], r"offsets .* lie outside"),
    "tensor-shape-10^12": (lambda m: _shape_lie(m.checkpoint.read_bytes()), [], r"impossible shape"),
    "momentum-missing": (_checkpoint_edit(_drop_momentum), [], r"lacks momentum\."),
}


@pytest.mark.parametrize("make, extra, problem", RESUME_CASES.values(), ids=RESUME_CASES.keys())
def test_train_resume_with_wrong_checkpoint(mini, tmp_path, make, extra, problem):
    """train --resume with a checkpoint that does not fit the run, or is damaged."""
    checkpoint = tmp_path / "old.checkpoint.safetensors"
    checkpoint.write_bytes(make(mini))
    model = tmp_path / "out" / "model.safetensors"
    options = list(TRAIN)
    if "--crop" in extra:
        options[options.index("--crop"):options.index("--crop") + 2] = []
    result = run("train", mini.archive, "-o", model, *options, "--resume", checkpoint, *extra)
    assert_clean_failure(result, checkpoint, problem)
    _assert_no_training_outputs(model)


def _named_spec(name: str) -> dict:
    """The paper's networks as specs (Schemas/network.md), with one single-label head."""
    conv = {"type": "convolution", "filters": 64, "kernel": [5, 5]}
    pool, lrn = {"type": "maxPool", "window": [3, 3], "stride": [2, 2]}, {"type": "lrn"}
    layers = [conv, {"type": "relu"}, pool, lrn]
    if name == "original":
        layers += [conv, {"type": "relu"}, lrn, pool, {"type": "dense", "units": 384, "name": "local3"}, {"type": "relu"},
                   {"type": "dense", "units": 192, "name": "local4"}, {"type": "relu"}]
    return {"format": "piano-network", "version": 1, "name": name, "layers": layers, "heads": [{"kind": "single"}]}


def _write_spec(spec: dict) -> Callable:
    return lambda path: path.write_text(json.dumps(spec))


TRAIN_SPEC_CASES = {  # (writes the spec file, problem)
    "not-json": (lambda p: p.write_text("{ not json"), r"not a network spec"),
    "unknown-layer": (_write_spec({**_named_spec("simple"), "layers": [{"type": "attention"}]}), r"unknown layer type 'attention'"),
    "impossible-shape": (_write_spec({**_named_spec("simple"), "layers": [{"type": "convolution", "filters": 4, "kernel": [9, 3], "padding": "valid"}]}),
                         r"trunk layer 1 \(convolution\): a 9x3 kernel does not fit a 8x8 input"),
    "10^9-parameters": (_write_spec({**_named_spec("simple"), "layers": [{"type": "dense", "units": 1000000}, {"type": "dense", "units": 1000}]}),
                        r"more than 100000000"),
    "head-twice": (_write_spec({**_named_spec("simple"), "heads": [{"kind": "frame"}, {"kind": "frame"}]}), r"name a kind twice"),
    "wrong-version": (_write_spec({**_named_spec("simple"), "version": 7}), r"version 7"),
}


@pytest.mark.parametrize("write, problem", TRAIN_SPEC_CASES.values(), ids=TRAIN_SPEC_CASES.keys())
def test_train_refuses_bad_spec(mini, tmp_path, write, problem):
    """train --arch with a spec file that names an impossible, enormous or unknown network."""
    spec = tmp_path / "spec.json"
    write(spec)
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", mini.archive, "-o", model, *TRAIN, "--arch", spec)
    assert_clean_failure(result, spec, problem)
    _assert_no_training_outputs(model)


def test_onset_head_without_onsets(mini, tmp_path):
    """An onset head on an archive packed from version 1 thumbnail folders (no onsets column:
    still packed, without onsets) is refused, naming the archive."""
    old = tmp_path / "thumbs-v1"
    shutil.copytree(mini.thumbs, old)
    for sidecar in old.glob("*/thumbs.json"):
        data = json.loads(sidecar.read_text())
        geometry = data["geometry"]
        assert geometry["rows"] == geometry["columns"]
        data.update(version=1, geometry={"size": geometry["rows"], "context": geometry["context"]})
        sidecar.write_text(json.dumps(data))
        labels = sidecar.with_name("labels.tsv")
        labels.write_text("".join(line.rsplit("\t", 1)[0] + "\n" for line in labels.read_text().splitlines()))
    archive = tmp_path / "v1.npz"
    run_tool([_binary("pack"), old, "-o", archive, "--split", "1:1:1"], "pack version 1 folders")
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert manifest["labels"]["targets"] == ["single", "frame"] and "train_onsets.npy" not in zipfile.ZipFile(archive).namelist()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**_named_spec("simple"), "heads": [{"kind": "frame"}, {"kind": "onset"}]}))
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", archive, "-o", model, *TRAIN, "--arch", spec)
    assert_clean_failure(result, archive, r"no onset targets for the network's onset head")
    _assert_no_training_outputs(model)
    # The same spec without the onset head trains on it.
    result = run("train", archive, "-o", model, *TRAIN, "--arch", spec, "--heads", "frame")
    assert result.returncode == 0, result.stderr


def test_train_resume_is_a_directory(mini, tmp_path):
    """train --resume names a folder."""
    folder = tmp_path / "checkpoint.safetensors"
    folder.mkdir()
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", mini.archive, "-o", model, *TRAIN, "--resume", folder)
    assert_clean_failure(result, folder, r"is a folder")
    _assert_no_training_outputs(model)


def test_train_archive_is_a_directory(mini, tmp_path):
    """train on a folder named like an archive."""
    folder = tmp_path / "data.npz"
    folder.mkdir()
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", folder, "-o", model, *TRAIN)
    assert_clean_failure(result, folder, r"is a folder")
    _assert_no_training_outputs(model)


def test_pack_verify_directory_among_archives(mini, tmp_path):
    """pack verify over a good archive and a folder named like an archive."""
    folder = tmp_path / "data.npz"
    folder.mkdir()
    result = run("pack", "verify", mini.archive, folder)
    assert_clean_failure(result, folder, r"is a folder")
    assert "1 of 2 archives failed verification" in result.stderr
    assert f"{mini.archive}: ok" in result.stdout


def test_train_empty_train_split(mini, tmp_path):
    """train on an archive packed with --split 0:1:1 (no training examples)."""
    model = tmp_path / "out" / "model.safetensors"
    result = run("train", mini.no_train, "-o", model, *TRAIN)
    assert_clean_failure(result, mini.no_train, r"train split is empty")
    _assert_no_training_outputs(model)


def test_train_output_unwritable(mini, tmp_path):
    """train -o inside a path whose parent is a file."""
    model = blocked_path(tmp_path, "model.safetensors")
    result = run("train", mini.archive, "-o", model, *TRAIN)
    assert_clean_failure(result, model.parent, r"cannot create|not a directory")
    assert not model.exists()
    assert_nothing_left(tmp_path)


# ---------------------------------------------------------------------------------------------
# infer: bad models (the run stops) and bad wavs among good ones (the good ones finish)


def _front_end(change):
    return lambda data: edit_front_end(data, change)


def _other_architecture_tensors(data):
    return edit_metadata(data, network=json.dumps(_named_spec("original")))


def _spec_edit(change):
    """A model whose metadata spec is the simple network's, changed by `change`."""
    def edit(data):
        spec = _named_spec("simple")
        change(spec)
        return edit_metadata(data, network=json.dumps(spec))
    return edit


def _absurd_rate(front):
    front["transform"]["sampleRate"] = 10 ** 9


MODEL_CASES = {
    "zero-length": (lambda d: b"", r"not a safetensors file"),
    "garbage": (lambda d: b"x" * 4096, r"header length"),
    "truncated": (lambda d: d[: len(d) // 2], r"(lie outside|impossible shape .* for) the \d+-byte data"),
    "header-length-2^60": (lambda d: patch(d, 0, "<Q", 1 << 60), r"header length 1152921504606846976"),
    "tensor-offsets-lie": (_offsets_lie, r"offsets .* lie outside"),
    "tensor-shape-10^12": (_shape_lie, r"impossible shape"),
    "tensor-dtype-f16": (lambda d: safetensors_edit(d, lambda h, t: h[first_tensor(h)].update(dtype="F16")), r"only F32"),
    "wrong-format": (lambda d: edit_metadata(d, format="piano-archive"), r"format 'piano-archive'"),
    "version-3": (lambda d: edit_metadata(d, version="3"), r"version 3"),
    "version-1-unknown-architecture": (lambda d: edit_metadata(d, version="1", architecture="resnet", labels="single", inputSize="32"), r"architecture"),
    "network-not-json": (lambda d: edit_metadata(d, network="{ not json"), r"not a network spec"),
    "network-unknown-layer": (_spec_edit(lambda s: s["layers"].insert(1, {"type": "dropout"})), r"unknown layer type 'dropout'"),
    "network-unknown-setting": (_spec_edit(lambda s: s["layers"][0].update(dilation=2)), r"no setting 'dilation'"),
    "network-unknown-head": (_spec_edit(lambda s: s["heads"].append({"kind": "pedal"})), r"unknown head kind 'pedal'"),
    "network-no-heads": (_spec_edit(lambda s: s.update(heads=[])), r"no output heads"),
    "network-impossible-shape": (_spec_edit(lambda s: s["layers"].insert(0, {"type": "maxPool", "window": 40, "padding": "valid"})), r"a 40x40 window does not fit a 8x8 input"),
    "network-10^9-parameters": (_spec_edit(lambda s: s["layers"].append({"type": "dense", "units": 100000})), r"more than 100000000"),
    "other-architecture-tensors": (_other_architecture_tensors, r"do not match"),
    "input-shape-zero": (lambda d: edit_metadata(d, input="[1,0,0]"), r"input shape"),
    "checkpoint-as-model": (lambda d: edit_metadata(d, checkpoint="true"), r"training checkpoint"),
    "front-end-not-json": (lambda d: edit_metadata(d, frontEnd="{ not json"), r"frontEnd"),
    "front-end-unknown-transform": (_front_end(lambda f: f["transform"].update(transform="wavelet")), r"wavelet"),
    "front-end-fmin-changed": (_front_end(lambda f: f["transform"].update(fmin=30.0)), r"cannot be rebuilt"),
    "front-end-absurd-sample-rate": (_front_end(_absurd_rate), r"sample rate"),
    "front-end-zero-hop": (_front_end(lambda f: f["transform"].update(hop=0)), r"hop 0"),
    "front-end-quality-0": (_front_end(lambda f: f.update(quality=0)), r"quality 0"),
    "front-end-size-0": (_front_end(lambda f: f["geometry"].update(rows=0)), r"thumbnail size 0x"),
    "front-end-absurd-context": (_front_end(lambda f: f["geometry"].update(context=10 ** 12)), r"context 1000000000000"),
    "front-end-zero-decibel-range": (_front_end(lambda f: f["decibels"].update(range=0)), r"decibel range 0"),
}


def _infer_audio(mini, tmp_path) -> tuple:
    """A folder with the shortest recording's wav and its MAPS reference: (wav, folder)."""
    folder = tmp_path / "audio"
    files = mini.copy_recording(mini.stems[0], folder)
    files["mid"].unlink()
    return files["wav"], folder


@pytest.mark.parametrize("make, problem", MODEL_CASES.values(), ids=MODEL_CASES.keys())
def test_infer_refuses_bad_model(mini, tmp_path, make, problem):
    """infer with a damaged model file, or one whose front end cannot be rebuilt."""
    model = tmp_path / "bad.safetensors"
    model.write_bytes(make(mini.model.read_bytes()))
    wav, _ = _infer_audio(mini, tmp_path)
    out = tmp_path / "out"
    result = run("infer", model, wav, "-o", out)
    assert_clean_failure(result, model, problem)
    assert not out.exists(), f"outputs written although the model was refused: {sorted(out.rglob('*'))}"


def test_infer_model_is_a_directory(mini, tmp_path):
    """infer with a folder named like a model."""
    model = tmp_path / "model.safetensors"
    model.mkdir()
    wav, _ = _infer_audio(mini, tmp_path)
    out = tmp_path / "out"
    result = run("infer", model, wav, "-o", out)
    assert_clean_failure(result, model, r"is a folder")
    assert not out.exists()


def _ref(suffix, content):
    def make(wav):
        path = wav.with_suffix(suffix)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path
    return make


def _wav_bytes(change):
    def make(wav):
        wav.write_bytes(change(wav.read_bytes()))
        return wav
    return make


def _midi_reference(wav):
    """The MIDI file beside the wav becomes the reference (no txt), and its header lies."""
    wav.with_suffix(".txt").unlink()
    mid = wav.with_suffix(".mid")
    return _set_bytes(mid, patch(mid.read_bytes(), 10, ">H", 7))


def _wav_fmt_bytes(offset, fmt, value):
    def change(data):
        at, _ = wav_chunks(data)["fmt "]
        return patch(data, at + offset, fmt, value)
    return _wav_bytes(change)


def _wav_no_frames(data):
    at, _ = wav_chunks(data)["data"]
    return patch(data[:at + 8], at + 4, "<I", 0)


INFER_WAV_CASES = {  # make(bad wav, with its .txt and .mid beside it) -> the bad file
    "wav-absurd-sample-rate": (lambda w: (resample_header(w, 100), w)[1], r"sample rate 100 Hz is outside"),
    "wav-zero-length": (_empty, r"not readable audio"),
    "wav-no-frames": (_wav_bytes(_wav_no_frames), r"zero-length audio"),
    "wav-garbage": (_garbage, r"not readable audio"),
    "wav-truncated-header": (_wav_bytes(lambda d: d[:30]), r"not readable audio"),
    "wav-fmt-length-lie": (_wav_fmt_bytes(4, "<I", 0x7FFFFFF0), r"not readable audio"),
    "wav-zero-channels": (_wav_fmt_bytes(10, "<H", 0), r"channel"),
}

# A bad note list beside the wav is no reason to fail its transcription (issue 16): a warning, and
# the recording transcribed without metrics. Given with --reference it fails the recording.
INFER_REFERENCE_CASES = {
    "reference-txt-offset-before-onset": (_ref(".txt", "OnsetTime\tOffsetTime\tMidiPitch\n0.9\t0.4\t60\n"), r"before onset"),
    "reference-txt-garbage": (_ref(".txt", bytes(range(256)) * 4), r"expected the header"),
    "reference-mid-track-count-lie": (_midi_reference, r"7 tracks"),
}


def _check_infer_outputs(out: Path, stem: str):
    for suffix in (".mid", ".txt", ".roll.svg", ".metrics.json"):
        assert (out / f"{stem}{suffix}").is_file(), f"{stem}{suffix} missing"
    metrics = json.loads((out / f"{stem}.metrics.json").read_text())
    assert metrics["format"] == "piano-metrics" and metrics["stem"] == stem
    assert (out / f"{stem}.txt").read_text().startswith("OnsetTime\tOffsetTime\tMidiPitch")
    assert (out / f"{stem}.mid").read_bytes()[:4] == b"MThd"
    summary = json.loads((out / "summary.json").read_text())
    assert [f["stem"] for f in summary["files"]] == [stem]


def _infer_two(mini, tmp_path, make):
    """infer over two wavs, the second made bad by `make`: (good wav, bad stem, its wav, the bad file, out, result)."""
    good, folder = _infer_audio(mini, tmp_path)
    bad_stem = mini.stems[1]
    bad_files = mini.copy_recording(bad_stem, folder)
    bad = make(bad_files["wav"])
    out = tmp_path / "out"
    result = run("infer", mini.model, good, bad_files["wav"], "-o", out, "--jobs", "2")
    return good, bad_stem, bad_files["wav"], bad, out, result


@pytest.mark.parametrize("make, problem", INFER_WAV_CASES.values(), ids=INFER_WAV_CASES.keys())
def test_infer_bad_wav_among_good(mini, tmp_path, make, problem):
    """infer over two wavs, one of them bad."""
    good, bad_stem, _, bad, out, result = _infer_two(mini, tmp_path, make)
    assert_clean_failure(result, bad, problem)
    assert_summary(result, 1, 2)
    _check_infer_outputs(out, good.stem)
    assert not list(out.glob(f"{bad_stem}.*")), f"outputs written for the bad recording: {list(out.glob(f'{bad_stem}.*'))}"
    assert_nothing_left(out)


@pytest.mark.parametrize("make, problem", INFER_REFERENCE_CASES.values(), ids=INFER_REFERENCE_CASES.keys())
def test_infer_bad_reference_beside_wav(mini, tmp_path, make, problem):
    """infer over two wavs, one with a bad note list beside it: a warning, and notes without metrics."""
    good, bad_stem, bad_wav, bad, out, result = _infer_two(mini, tmp_path, make)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and bad.name in warnings[0] and re.search(problem, warnings[0]), result.stderr
    assert "without metrics" in warnings[0] and "error:" not in result.stderr
    assert_summary(result, 2, 2)
    _check_infer_outputs(out, good.stem)
    assert (out / f"{bad_stem}.mid").is_file() and not (out / f"{bad_stem}.metrics.json").exists()
    assert_nothing_left(out)
    # Named with --reference it is the user's choice, and fails the recording.
    explicit = run("infer", mini.model, bad_wav, "--reference", bad, "-o", tmp_path / "explicit")
    assert_clean_failure(explicit, bad, problem)


def test_infer_output_unwritable(mini, tmp_path):
    """infer -o inside a path whose parent is a file."""
    wav, _ = _infer_audio(mini, tmp_path)
    out = blocked_path(tmp_path, "out")
    result = run("infer", mini.model, wav, "-o", out)
    assert_clean_failure(result, out, r"cannot create")
    assert not out.exists()


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda m, p: _set_bytes(p.with_suffix(".mid"), patch(m.sources[m.stems[0]]["mid"].read_bytes(), 4, ">I", 0xFFFFFFF0)), r"header length"),
        (lambda m, p: _as_directory(_set_bytes(p.with_suffix(".txt"), b"")), r"is a folder"),
    ],
    ids=["estimate-mid-header-length-lie", "estimate-is-a-directory"],
)
def test_infer_score_bad_estimate(mini, tmp_path, make, problem):
    """infer score with a bad estimate and a good reference."""
    bad = make(mini, tmp_path / "estimate")
    result = run("infer", "score", bad, mini.sources[mini.stems[0]]["txt"])
    assert_clean_failure(result, bad, problem)
    assert not result.stdout.strip()


# ---------------------------------------------------------------------------------------------
# corpus: refuses a folder it cannot use before rendering anything


def _corpus_json(root: Path, content: str) -> Path:
    root.mkdir()
    (root / "corpus.json").write_text(content)
    return root / "corpus.json"


def _other_seed(corpus, tmp_path):
    manifest = json.loads((corpus.root / "corpus.json").read_text())
    return [], _corpus_json(tmp_path / "root", json.dumps({**manifest, "seed": manifest["seed"] + 1}))


CORPUS_CASES = {
    "corpus-json-garbage": (lambda c, t: ([], _corpus_json(t / "root", "{ not json")), r"not a corpus manifest"),
    "corpus-json-other-seed": (_other_seed, r"other settings"),
    "soundfont-missing": (lambda c, t: (["--soundfont", t / "missing.sf2"], t / "missing.sf2"), r"SoundFont not found"),
}


@pytest.mark.parametrize("make, problem", CORPUS_CASES.values(), ids=CORPUS_CASES.keys())
def test_corpus_refuses(corpus, tmp_path, make, problem):
    """corpus into a folder holding a foreign corpus.json, or with a missing SoundFont."""
    extra, bad = make(corpus, tmp_path)
    root = tmp_path / "root"
    before = sorted(root.rglob("*")) if root.exists() else None
    result = run("corpus", "-o", root, "--categories", "ISOL", "--instruments", "FR3Grand", *extra)
    assert_clean_failure(result, bad, problem)
    after = sorted(root.rglob("*")) if root.exists() else None
    assert after == before, f"corpus changed {root}: {after}"
