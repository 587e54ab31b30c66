"""`infer`, checked against independent references.

- `infer score EST REF --json` against mir_eval (note, note-with-offset and frame metrics) on
  hand-made estimate/reference pairs: empty sides, duplicates, onsets and offsets exactly at and
  just past their tolerances (mir_eval rounds distances to 4 decimals before comparing), wrong
  pitches, matchings where greedy and maximum matching differ, and seeded random pairs. Note lists
  are written as MAPS txt with 6 decimals and read back with our own parser, so mir_eval sees the
  same numbers `infer` reads. One pair has a MIDI reference (written and read back with mido).
- An end-to-end run (conftest's `end_to_end` fixture): `spectro` + `pack` + `train --arch simple`
  on one instrument's isolated notes and two random chords of the session corpus, then `infer`
  on held-out recordings of the other instrument. Its MIDI files are read with mido and
  pretty_midi and compared with its note lists, its metrics with mir_eval computed from its note
  lists and the references, its piano rolls parsed as XML, and a second run without --force must
  leave every output untouched.
- Bad input: missing and garbled note lists, files that are not models, a broken wav among good ones.

Environment: conftest's BIN_DIR, PIANO_CORPUS, PIANO_INFER_TEST_STEPS and PIANO_INFER_TEST_BATCH.
"""

import json
import os
import math
import re
import shutil
import struct
import subprocess
import wave
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

import mir_eval

from conftest import EndToEnd, _binary, run_tool

HEADER = "OnsetTime\tOffsetTime\tMidiPitch"
PARAMETERS = {"onsetTolerance": 0.05, "offsetRatio": 0.2, "offsetMinTolerance": 0.05, "frameHop": 0.01}
FRAME_HOP = 0.01
TOLERANCE = 1e-6
NOTE_KEYS = ("precision", "recall", "f1", "matched", "estimated", "reference")
FRAME_KEYS = ("precision", "recall", "f1", "truePositives", "estimated", "reference")
MIDI_DIVISION = 960
MIDI_TEMPO = 500_000
TICKS_PER_SECOND = MIDI_DIVISION * 1e6 / MIDI_TEMPO  # 1920


# ---------------------------------------------------------------------------------------------
# Note lists, written and read independently of the Swift code


def write_txt(path: Path, notes, newline: str = "\n", trailer: str = "") -> Path:
    """A MAPS note list: header, then onset/offset with 6 decimals and the MIDI pitch."""
    lines = [HEADER] + [f"{on:.6f}\t{off:.6f}\t{int(pitch)}" for on, off, pitch in notes]
    path.write_bytes((newline.join(lines) + newline + trailer).encode())
    return path


def read_txt(path: Path):
    """(intervals n x 2, pitches n) of a MAPS note list, exactly as written (CR/LF and blank lines allowed)."""
    text = Path(path).read_text()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert lines[0].strip() == HEADER, f"{path}: header is {lines[0]!r}"
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split()
        assert len(fields) == 3, f"{path}:{number}: {line!r}"
        rows.append((float(fields[0]), float(fields[1]), int(fields[2])))
    return as_arrays(rows)


def as_arrays(notes):
    notes = list(notes)
    intervals = np.array([(on, off) for on, off, _ in notes], dtype=float).reshape(-1, 2)
    pitches = np.array([p for _, _, p in notes], dtype=int)
    return intervals, pitches


def rounded_notes(notes):
    """The notes as a MAPS txt stores them (6 decimals), sorted by onset then pitch."""
    return sorted((round(float(on), 6), round(float(off), 6), int(p)) for on, off, p in notes)


def write_midi(path: Path, notes) -> Path:
    """A format-0 MIDI file through mido: division 960, tempo 500000, note_on/note_off, times in ticks."""
    events = []
    for on, off, pitch in notes:
        start, end = round(on * TICKS_PER_SECOND), round(off * TICKS_PER_SECOND)
        events.append((end, 0, mido.Message("note_off", note=int(pitch), velocity=64)))
        events.append((start, 1, mido.Message("note_on", note=int(pitch), velocity=90)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO, time=0)])
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=MIDI_DIVISION)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def mido_notes(path: Path):
    """[(onset, offset, pitch)] as mido plays the file (seconds), note-offs closing the oldest open note."""
    notes, sounding, now = [], {}, 0.0
    for message in mido.MidiFile(str(path)):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding.setdefault((message.channel, message.note), []).append(now)
        elif message.type in ("note_on", "note_off"):
            started = sounding.get((message.channel, message.note))
            if started:
                notes.append((started.pop(0), now, message.note))
    assert not any(sounding.values()), f"{path}: notes never released: {sounding}"
    return sorted(notes, key=lambda n: (n[0], n[2], n[1]))


def pretty_midi_notes(path: Path):
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = [(n.start, n.end, n.pitch) for instrument in midi.instruments for n in instrument.notes]
    return sorted(notes, key=lambda n: (n[0], n[2], n[1]))


# ---------------------------------------------------------------------------------------------
# The metrics, computed with mir_eval (and the frame metric also directly)


def hz(pitches):
    return mir_eval.util.midi_to_hz(np.asarray(pitches, dtype=float))


def note_metrics(ref, est, offset_ratio):
    """{precision, recall, f1, matched, estimated, reference} of mir_eval.transcription."""
    (ref_iv, ref_p), (est_iv, est_p) = ref, est
    if len(ref_p) and len(est_p):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
                ref_iv, hz(ref_p), est_iv, hz(est_p), offset_ratio=offset_ratio
            )
            matched = len(mir_eval.transcription.match_notes(ref_iv, hz(ref_p), est_iv, hz(est_p), offset_ratio=offset_ratio))
    else:
        # mir_eval warns and returns zeros when either side is empty; check that it still does.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
                ref_iv, hz(ref_p), est_iv, hz(est_p), offset_ratio=offset_ratio
            )
        assert (p, r, f) == (0, 0, 0)
        matched = 0
    return {"precision": p, "recall": r, "f1": f, "matched": matched, "estimated": len(est_p), "reference": len(ref_p)}


def frame_sets(intervals, pitches, frames):
    """The set of MIDI pitches sounding at t_i = i x 0.01 (onset <= t_i < offset) for i < frames."""
    times = np.arange(frames) * FRAME_HOP
    sets = [set() for _ in range(frames)]
    for (on, off), pitch in zip(intervals, pitches):
        for i in np.nonzero((on <= times) & (times < off))[0]:
            sets[i].add(int(pitch))
    return times, sets


def frame_metrics(ref, est):
    """{precision, recall, f1, truePositives, estimated, reference} on the 10 ms grid, counted directly
    and, when both sides have sounding frames, checked against mir_eval.multipitch."""
    (ref_iv, ref_p), (est_iv, est_p) = ref, est
    offsets = np.concatenate([ref_iv[:, 1], est_iv[:, 1]])
    frames = int(math.ceil(offsets.max() / FRAME_HOP)) + 1 if offsets.size else 0
    times, ref_sets = frame_sets(ref_iv, ref_p, frames)
    _, est_sets = frame_sets(est_iv, est_p, frames)
    tp = sum(len(r & e) for r, e in zip(ref_sets, est_sets))
    n_ref = sum(len(r) for r in ref_sets)
    n_est = sum(len(e) for e in est_sets)
    p = tp / n_est if n_est else 0.0
    r = tp / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    if n_ref and n_est:
        scores = mir_eval.multipitch.evaluate(
            times, [hz(sorted(s)) for s in ref_sets], times, [hz(sorted(s)) for s in est_sets]
        )
        assert abs(scores["Precision"] - p) < 1e-12 and abs(scores["Recall"] - r) < 1e-12, (
            f"direct frame count disagrees with mir_eval.multipitch: {p, r} vs {scores['Precision'], scores['Recall']}"
        )
    return {"precision": p, "recall": r, "f1": f, "truePositives": tp, "estimated": n_est, "reference": n_ref}


def expected_scores(ref, est) -> dict:
    return {
        "note": note_metrics(ref, est, None),
        "noteWithOffset": note_metrics(ref, est, 0.2),
        "frame": frame_metrics(ref, est),
    }


def compare_scores(got: dict, expected: dict, what: str):
    """Every rate within 1e-6 and every count equal; fails listing all differences."""
    problems = []
    for group, keys in (("note", NOTE_KEYS), ("noteWithOffset", NOTE_KEYS), ("frame", FRAME_KEYS)):
        if not isinstance(got.get(group), dict):
            problems.append(f"{group}: missing")
            continue
        for key in keys:
            want, have = expected[group][key], got[group].get(key)
            if not isinstance(have, (int, float)) or isinstance(have, bool):
                problems.append(f"{group}.{key}: {have!r}, expected {want}")
            elif isinstance(want, int) and key not in ("precision", "recall", "f1"):
                if have != want:
                    problems.append(f"{group}.{key}: {have}, expected {want}")
            elif not abs(have - want) <= TOLERANCE:
                problems.append(f"{group}.{key}: {have}, mir_eval {want}")
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


def score(estimate: Path, reference: Path) -> dict:
    result = run_tool([_binary("infer"), "score", estimate, reference, "--json"], "infer score")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"infer score --json printed no single JSON object ({error}):\n{result.stdout[:2000]}", pytrace=False)


def same_path(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()


# ---------------------------------------------------------------------------------------------
# The hand-made pairs: name -> (reference notes, estimated notes), (onset, offset, MIDI pitch)


def random_pair(seed: int, count: int, chords: bool):
    """A realistic reference and an estimate made from it: onsets jittered (some past 50 ms), offsets
    jittered in proportion to the duration, some notes dropped, some pitches a semitone or octave off,
    some notes added."""
    rng = np.random.default_rng(seed)
    ref = []
    if chords:
        starts = np.sort(rng.uniform(0.0, 40.0, count // 4))
        for start in starts:
            duration = float(np.clip(rng.lognormal(-0.7, 0.6), 0.06, 3.0))
            for pitch in rng.choice(np.arange(36, 97), size=int(rng.integers(2, 6)), replace=False):
                ref.append((start, start + duration * rng.uniform(0.8, 1.0), int(pitch)))
    else:
        for start in np.sort(rng.uniform(0.0, 60.0, count)):
            duration = float(np.clip(rng.lognormal(-1.0, 0.8), 0.03, 4.0))
            ref.append((start, start + duration, int(np.clip(round(rng.normal(64, 14)), 21, 108))))
    est = []
    for on, off, pitch in ref:
        if rng.random() < 0.1:
            continue
        duration = off - on
        on2 = max(0.0, on + rng.normal(0.0, 0.025))
        off2 = max(on2 + 0.02, off + rng.normal(0.0, 0.15) * duration)
        roll = rng.random()
        pitch2 = pitch + (1 if roll < 0.03 else -1 if roll < 0.06 else 12 if roll < 0.08 else 0)
        est.append((on2, off2, int(np.clip(pitch2, 21, 108))))
    for _ in range(len(ref) // 7):
        on = rng.uniform(0.0, 60.0)
        est.append((on, on + rng.uniform(0.03, 1.0), int(rng.integers(21, 109))))
    est = rounded_notes(est)
    return rounded_notes(ref), [est[i] for i in rng.permutation(len(est))]


BASIC = [(0.5, 1.0, 60), (0.5, 1.2, 64), (1.0, 1.8, 67), (2.0, 2.4, 72), (2.1, 3.5, 48), (3.0, 3.25, 21), (3.0, 3.6, 108)]

PAIRS = {
    "identical": (BASIC, BASIC),
    "empty-estimate": (BASIC, []),
    "empty-reference": ([], BASIC),
    "both-empty": ([], []),
    # The same note twice in the estimate: one of them matches; the frames hold a set.
    "duplicate-estimate": (BASIC, BASIC + [(0.5, 1.0, 60), (2.0, 2.4, 72), (2.0, 2.4, 72)]),
    # Onsets 50 ms away match (mir_eval rounds |distance| to 4 decimals: 1.05 - 1.0 is 0.05000000000000004),
    # 50.1 ms do not, and 50.04 ms (rounds to 0.0500) still do, 50.06 ms (rounds to 0.0501) not.
    "onset-at-50ms": (
        [(1.0, 1.5, 60), (2.0, 2.5, 62), (3.0, 3.5, 64), (4.0, 4.5, 65), (5.0, 5.5, 67), (6.0, 6.5, 69)],
        [(1.05, 1.5, 60), (1.95, 2.5, 62), (3.0501, 3.5, 64), (3.9499, 4.5, 65), (5.05004, 5.5, 67), (6.05006, 6.5, 69)],
    ),
    # A 1 s note's offset tolerance is 0.2 s: 0.2 late or early matches, 0.2001 does not, 0.20004 rounds to 0.2.
    "offset-long-note": (
        [(1.0, 2.0, 60), (3.0, 4.0, 62), (5.0, 6.0, 64), (7.0, 8.0, 65), (9.0, 10.0, 67), (11.0, 12.0, 69)],
        [(1.0, 2.2, 60), (3.0, 4.2001, 62), (5.0, 5.8, 64), (7.0, 7.7999, 65), (9.0, 10.20004, 67), (11.0, 12.20006, 69)],
    ),
    # A 0.1 s note's tolerance is the 0.05 s minimum (0.2 x 0.1 is less); a 0.25 s note's is 0.05 both ways.
    "offset-short-note": (
        [(1.0, 1.1, 60), (2.0, 2.1, 62), (3.0, 3.1, 64), (4.0, 4.1, 65), (5.0, 5.25, 67), (6.0, 6.25, 69)],
        [(1.0, 1.15, 60), (2.0, 2.1501, 62), (3.0, 3.05, 64), (4.0, 4.0499, 65), (5.0, 5.3, 67), (6.0, 6.3001, 69)],
    ),
    # Floating point as mir_eval does it: 0.2 x (1.4 - 1.0) is 0.07999999999999999 < round(0.08, 4), so an
    # offset 80 ms late misses a 0.4 s note, while 0.2 s late matches a 1 s note (0.2 x 1.0 is exactly 0.2).
    "offset-float-tolerance": (
        [(1.0, 1.4, 60), (2.0, 3.0, 62), (4.0, 4.65, 64), (5.0, 5.3, 65)],
        [(1.0, 1.48, 60), (2.0, 3.2, 62), (4.0, 4.78, 64), (5.0, 5.36, 65)],
    ),
    # A semitone off never matches (100 cents > 50); an octave off neither.
    "wrong-pitch": (
        [(1.0, 1.5, 60), (2.0, 2.5, 62), (3.0, 3.5, 64), (4.0, 4.5, 65)],
        [(1.0, 1.5, 61), (2.0, 2.5, 61), (3.0, 3.5, 76), (4.0, 4.5, 65)],
    ),
    # Greedy matching (each estimate takes its nearest free reference) finds fewer pairs than the
    # maximum matching mir_eval computes; the estimate is listed out of order on purpose.
    "greedy-vs-maximum": (
        [(1.0, 1.5, 60), (1.06, 1.6, 60), (3.0, 3.4, 64), (3.07, 3.5, 64), (3.14, 3.6, 64), (5.0, 6.0, 67), (5.04, 5.5, 67)],
        [(3.105, 3.6, 64), (1.02, 1.6, 60), (0.97, 1.5, 60), (3.035, 3.5, 64), (2.99, 3.4, 64), (5.02, 5.5, 67), (4.97, 5.95, 67)],
    ),
    # Onsets and offsets on the 10 ms grid (a note sounds at t_i when onset <= t_i < offset), a note at
    # time 0, notes shorter than a frame, and overlapping repeats of one pitch (one frame entry).
    "frame-grid": (
        [(0.0, 0.07, 60), (0.29, 0.3, 62), (0.3, 0.61, 64), (0.995, 1.003, 65), (1.1, 1.4, 67), (1.2, 1.5, 67)],
        [(0.0, 0.08, 60), (0.29, 0.31, 62), (0.31, 0.6, 64), (0.995, 1.004, 65), (1.1, 1.3, 67), (1.15, 1.45, 67), (1.2, 1.6, 67)],
    ),
    "random-melodic": random_pair(1, 200, chords=False),
    "random-chords": random_pair(2, 240, chords=True),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_score_agrees_with_mir_eval(name, tmp_path):
    ref_notes, est_notes = PAIRS[name]
    reference = write_txt(tmp_path / "reference.txt", rounded_notes(ref_notes))
    estimate = write_txt(tmp_path / "estimate.txt", [tuple(n) for n in est_notes])
    expected = expected_scores(read_txt(reference), read_txt(estimate))
    got = score(estimate, reference)
    compare_scores(got, expected, f"infer score on '{name}'")
    assert same_path(got.get("estimate"), estimate) and same_path(got.get("reference"), reference), (
        f"estimate/reference paths: {got.get('estimate')!r}, {got.get('reference')!r}"
    )
    assert got.get("parameters") == PARAMETERS


def greedy_matches(ref_notes, est_notes) -> int:
    """Onset matches made greedily: each estimate, in file order, takes the nearest free reference."""
    taken, count = set(), 0
    for on, _, pitch in est_notes:
        options = [(abs(r[0] - on), i) for i, r in enumerate(ref_notes)
                   if i not in taken and r[2] == pitch and round(abs(r[0] - on), 4) <= 0.05]
        if options:
            taken.add(min(options)[1])
            count += 1
    return count


def test_pairs_cover_the_edge_cases():
    """The hand-made pairs do what they claim (checked on mir_eval, so a wrong claim fails here, not in infer)."""
    def counts(name):
        ref, est = (as_arrays(rounded_notes(n)) for n in PAIRS[name])
        e = expected_scores(ref, est)
        return e["note"]["matched"], e["noteWithOffset"]["matched"]

    assert counts("onset-at-50ms") == (3, 3)  # 50 ms both ways and 50.04 ms match
    assert counts("offset-long-note") == (6, 3)  # 0.2 s late, 0.2 s early and 0.20004 s late match
    assert counts("offset-short-note") == (6, 3)  # 50 ms late, 50 ms early, 50 ms late on 0.25 s match
    assert counts("offset-float-tolerance") == (4, 2)
    assert counts("wrong-pitch") == (1, 1)
    assert counts("greedy-vs-maximum")[0] == 7
    assert greedy_matches(*PAIRS["greedy-vs-maximum"]) < 7
    assert counts("duplicate-estimate") == (7, 7)
    assert len(PAIRS) >= 12
    for name in ("random-melodic", "random-chords"):
        matched = counts(name)[0]
        assert 0.5 * len(PAIRS[name][0]) < matched < len(PAIRS[name][0]), name


def test_score_reads_crlf_blank_lines_and_trailing_spaces(tmp_path):
    """MAPS txt as found in the wild: CR/LF line ends, trailing spaces, blank lines at the end."""
    ref_notes, est_notes = PAIRS["random-melodic"]
    plain = write_txt(tmp_path / "plain.txt", ref_notes)
    lines = [HEADER + " "] + [f"{on:.6f}\t{off:.6f}\t{p} " for on, off, p in ref_notes]
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(("\r\n".join(lines) + "\r\n\r\n\r\n").encode())
    estimate = write_txt(tmp_path / "estimate.txt", est_notes)
    expected = expected_scores(read_txt(plain), read_txt(estimate))
    compare_scores(score(estimate, crlf), expected, "infer score with a CR/LF reference")


def one_at_a_time(notes):
    """The notes, sorted, without those struck while the same key still sounds."""
    kept, end = [], {}
    for on, off, pitch in rounded_notes(notes):
        if on >= end.get(pitch, -1.0) + 0.01:
            kept.append((on, off, pitch))
            end[pitch] = off
    return kept


@pytest.mark.parametrize("side", ["reference", "estimate"])
def test_score_reads_midi(side, tmp_path):
    """A note list given as a Standard MIDI File: ours must read the notes mido reads."""
    # Readers disagree on which note a note-off ends when one key is struck twice before it is
    # released (mido's FIFO here, pretty_midi's otherwise), so no key is re-struck while it sounds.
    ref_notes, est_notes = (one_at_a_time(notes) for notes in random_pair(3, 120, chords=False))
    if side == "reference":
        midi = write_midi(tmp_path / "reference.mid", ref_notes)
        txt = write_txt(tmp_path / "estimate.txt", est_notes)
        ref, est = as_arrays(mido_notes(midi)), read_txt(txt)
        estimate, reference = txt, midi
        assert len(ref[1]) == len(ref_notes)
    else:
        midi = write_midi(tmp_path / "estimate.mid", est_notes)
        txt = write_txt(tmp_path / "reference.txt", ref_notes)
        ref, est = read_txt(txt), as_arrays(mido_notes(midi))
        estimate, reference = midi, txt
        assert len(est[1]) == len(est_notes)
    # pretty_midi, as a second opinion on what the file holds
    assert np.allclose(as_arrays(pretty_midi_notes(midi))[0], as_arrays(mido_notes(midi))[0], atol=1e-9)
    compare_scores(score(estimate, reference), expected_scores(ref, est), f"infer score with a MIDI {side}")


# ---------------------------------------------------------------------------------------------
# Bad input


def single_error_line(result: subprocess.CompletedProcess, path: Path, what: str):
    assert result.returncode != 0, f"{what}: exit code 0\nstdout: {result.stdout[:1000]}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{what}: expected one stderr line, got {len(lines)}:\n{result.stderr[-2000:]}"
    assert path.name in lines[0], f"{what}: the stderr line does not name {path.name}: {lines[0]!r}"
    assert "Traceback" not in result.stderr and "Fatal error" not in result.stderr, result.stderr


def test_score_missing_file(tmp_path):
    present = write_txt(tmp_path / "present.txt", BASIC)
    missing = tmp_path / "missing.txt"
    for est, ref in ((missing, present), (present, missing)):
        result = subprocess.run([str(_binary("infer")), "score", str(est), str(ref), "--json"], capture_output=True, text=True, timeout=60)
        single_error_line(result, missing, f"infer score {est.name} {ref.name}")
        assert not result.stdout.strip(), f"printed something on a failure: {result.stdout[:500]}"


@pytest.mark.parametrize(
    "garbage",
    ["this is not a note", "1.000000\t1.500000\tC4", "1.000000\t1.500000", "1.000000\tx\t60", "1.0e\t1.5\t60"],
)
def test_score_garbage_line(garbage, tmp_path):
    good = write_txt(tmp_path / "good.txt", BASIC)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{HEADER}\n0.500000\t1.000000\t60\n{garbage}\n2.000000\t2.400000\t72\n")
    for est, ref in ((bad, good), (good, bad)):
        result = subprocess.run([str(_binary("infer")), "score", str(est), str(ref), "--json"], capture_output=True, text=True, timeout=60)
        single_error_line(result, bad, f"infer score with the line {garbage!r}")


def write_wav(path: Path, seconds: float = 1.0, rate: int = 44100, pitch: int = 60) -> Path:
    """A 16-bit stereo wav holding a decaying tone, and its MAPS reference beside it."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * np.exp(-2 * t)
    samples = np.round(np.repeat(tone[:, None], 2, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    write_txt(path.with_suffix(".txt"), [(0.0, seconds * 0.8, pitch)])
    return path


def not_models(tmp_path: Path) -> dict:
    from safetensors.numpy import save_file

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a safetensors file\n" * 10)
    notes = write_txt(tmp_path / "notes.safetensors", BASIC)
    huge_header = tmp_path / "huge-header.safetensors"
    huge_header.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    plain = tmp_path / "plain.safetensors"  # valid safetensors, but no model metadata and foreign tensors
    save_file({"weight": np.zeros((3, 4), dtype=np.float32)}, str(plain), metadata={"format": "pt"})
    return {"garbage": garbage, "notes": notes, "huge-header": huge_header, "plain": plain}


@pytest.mark.parametrize("kind", ["garbage", "notes", "huge-header", "plain", "missing"])
def test_infer_refuses_a_file_that_is_not_a_model(kind, tmp_path):
    wav = write_wav(tmp_path / "tone.wav")
    model = not_models(tmp_path).get(kind, tmp_path / "missing.safetensors")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(_binary("infer")), str(model), str(wav), "-o", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0, f"infer accepted {model.name} as a model:\n{result.stderr[-2000:]}"
    assert model.name in result.stderr, f"stderr does not name {model.name}:\n{result.stderr[-2000:]}"
    assert "Fatal error" not in result.stderr, result.stderr
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []
    assert not left, f"outputs written although the model was refused: {left}"


# ---------------------------------------------------------------------------------------------
# End to end: train a small model on one instrument, transcribe the other's recordings
# (the `end_to_end` fixture lives in conftest.py, shared with test_forward.py)

OUTPUT_SUFFIXES = (".mid", ".txt", ".roll.svg", ".metrics.json")


def test_e2e_writes_every_output(end_to_end):
    e = end_to_end
    for stem in e.stems:
        for suffix in OUTPUT_SUFFIXES:
            assert e.output(stem, suffix).is_file(), f"infer wrote no {stem}{suffix}"
    assert (e.out / "summary.json").is_file()
    leftovers = [name for name in e.before if name.startswith(".") or "tmp" in name.lower() or "partial" in name.lower()]
    assert not leftovers, f"temporary files left in the output folder: {leftovers}"


def test_e2e_note_lists_are_maps_format_on_the_step_grid(end_to_end):
    e = end_to_end
    line = re.compile(r"^\d+\.\d{6}\t\d+\.\d{6}\t\d+$")
    step = e.hop / e.sample_rate
    for stem in e.stems:
        path = e.output(stem, ".txt")
        lines = path.read_text().split("\n")
        assert lines[0] == HEADER, f"{path}: header {lines[0]!r}"
        body = [l for l in lines[1:] if l]
        assert all(line.match(l) for l in body), f"{path}: lines not in MAPS format: {[l for l in body if not line.match(l)][:5]}"
        intervals, pitches = read_txt(path)
        if not len(pitches):
            continue
        assert np.all(intervals[:, 1] > intervals[:, 0]), f"{path}: a note ends before it starts"
        assert np.all((21 <= pitches) & (pitches <= 108)), f"{path}: pitches outside the piano: {sorted(set(pitches))}"
        k = intervals / step
        assert np.all(np.abs(k - np.round(k)) * step <= 6e-7), f"{path}: times that are not step times (hop {e.hop}, {e.sample_rate} Hz)"
        assert np.all(intervals[:, 1] - intervals[:, 0] >= 0.05 - 1e-6), f"{path}: notes shorter than --min-note-ms 50 (the default)"


def test_e2e_model_transcribes_some_notes(end_to_end):
    """A model trained this briefly still finds notes; if it does not, raise PIANO_INFER_TEST_STEPS."""
    counts = {stem: len(read_txt(end_to_end.output(stem, ".txt"))[1]) for stem in end_to_end.stems}
    assert sum(counts.values()) > 0, f"no notes transcribed at all: {counts}"


@pytest.mark.parametrize("reader", ["mido", "pretty_midi"])
def test_e2e_midi_holds_the_note_list(end_to_end, reader):
    for stem in end_to_end.stems:
        midi_path = end_to_end.output(stem, ".mid")
        txt = sorted(((on, off, int(p)) for (on, off), p in zip(*read_txt(end_to_end.output(stem, ".txt")))), key=lambda n: (n[2], n[0]))
        midi = mido.MidiFile(str(midi_path))
        assert midi.ticks_per_beat == MIDI_DIVISION, f"{midi_path}: division {midi.ticks_per_beat}"
        tempos = [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]
        assert all(t == MIDI_TEMPO for t in tempos), f"{midi_path}: tempos {tempos}"
        notes = mido_notes(midi_path) if reader == "mido" else pretty_midi_notes(midi_path)
        notes = sorted(((on, off, int(p)) for on, off, p in notes), key=lambda n: (n[2], n[0]))
        if not txt:
            # Nothing transcribed: the MIDI must hold nothing either.
            note_ons = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
            assert not notes and not note_ons, f"{midi_path}: notes in the MIDI but not in {stem}.txt"
            continue
        assert [n[2] for n in notes] == [n[2] for n in txt], f"{midi_path} ({reader}): pitches differ from {stem}.txt"
        a, b = np.array([n[:2] for n in notes]), np.array([n[:2] for n in txt])
        worst = float(np.abs(a - b).max())
        assert worst <= 1e-3, f"{midi_path} ({reader}): times differ from {stem}.txt by up to {worst * 1000:.3f} ms"


def test_e2e_metrics_agree_with_mir_eval(end_to_end):
    e = end_to_end
    for stem in e.stems:
        metrics = json.loads(e.output(stem, ".metrics.json").read_text())
        assert metrics.get("format") == "piano-metrics" and metrics.get("version") == 1, {k: metrics.get(k) for k in ("format", "version")}
        assert metrics.get("stem") == stem
        assert same_path(metrics.get("audio"), e.wavs[stem]), metrics.get("audio")
        assert same_path(metrics.get("model"), e.model), metrics.get("model")
        assert same_path(metrics.get("reference"), e.references[stem]), metrics.get("reference")
        # The spec's score object names the estimate too; infer's own output may leave it out.
        assert isinstance(metrics.get("estimate", ""), str)
        assert metrics.get("parameters") == PARAMETERS
        expected_steps = json.loads(e.notemaps[stem].read_text()).get("steps")
        steps = metrics.get("steps")
        assert isinstance(steps, int) and steps > 0, steps
        if expected_steps is not None:
            assert steps == expected_steps, f"{stem}: infer saw {steps} steps, ingest's note map has {expected_steps} on the same wav"
        accuracy = metrics.get("stepAccuracy")
        assert isinstance(accuracy, (int, float)) and 0.0 <= accuracy <= 1.0, accuracy
        expected = expected_scores(read_txt(e.references[stem]), read_txt(e.output(stem, ".txt")))
        compare_scores(metrics, expected, f"{stem}.metrics.json")


def test_e2e_piano_rolls_are_svg(end_to_end):
    for stem in end_to_end.stems:
        path = end_to_end.output(stem, ".roll.svg")
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg"), f"{path}: root element {root.tag}"
        assert len(list(root.iter())) > 3, f"{path}: an empty picture"


def check_summary(summary: dict, e: EndToEnd, what: str):
    files = summary.get("files")
    assert isinstance(files, list), f"{what}: no files list"
    stems = sorted(f.get("stem") for f in files)
    assert stems == e.stems, f"{what}: lists {stems}, expected {e.stems}"
    for entry in files:
        per_file = json.loads(e.output(entry["stem"], ".metrics.json").read_text())
        for group in ("note", "noteWithOffset", "frame"):
            assert entry.get(group) == per_file.get(group), f"{what}: {entry['stem']} {group} differs from its metrics.json"
    mean = summary.get("mean")
    assert isinstance(mean, dict), f"{what}: no mean"
    # Macro or micro average: the spec leaves it open, so only the range is checked.
    f1 = (mean.get("note") or {}).get("f1")
    assert f1 is None or 0.0 <= f1 <= 1.0, f"{what}: mean note F1 {f1}"


def test_e2e_summary_lists_every_file(end_to_end):
    e = end_to_end
    check_summary(json.loads((e.out / "summary.json").read_text()), e, "summary.json")
    for stem in e.stems:
        assert stem in e.first.stdout, f"the summary table on stdout does not name {stem}"


def test_e2e_second_run_keeps_outputs(end_to_end):
    e = end_to_end
    for stem in e.stems:
        for suffix in OUTPUT_SUFFIXES:
            name = f"{stem}{suffix}"
            assert e.after.get(name) == e.before.get(name), f"{name} was rewritten by a run without --force"
    check_summary(e.summary_after, e, "summary.json after the second run")
    made = re.search(r"(\d+) up to date", e.second.stderr + e.second.stdout)
    assert made and int(made.group(1)) == len(e.stems), f"second run does not report {len(e.stems)} up to date:\n{e.second.stderr[-1500:]}"


def test_e2e_bad_wav_among_good_ones(end_to_end, tmp_path):
    """One broken recording is reported and skipped, the others are transcribed, the exit code says so."""
    e = end_to_end
    stem = e.stems[0]
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(e.wavs[stem], folder)
    shutil.copy(e.references[stem], folder)
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    out = tmp_path / "out"
    result = subprocess.run([str(_binary("infer")), str(e.model), str(folder), "-o", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0, f"exit code 0 although broken.wav failed:\n{result.stderr[-2000:]}"
    assert [l for l in result.stderr.splitlines() if "broken.wav" in l], f"no stderr line names broken.wav:\n{result.stderr[-2000:]}"
    for suffix in OUTPUT_SUFFIXES:
        assert (out / f"{stem}{suffix}").is_file(), f"{stem}{suffix} missing after a run with one bad file"
    assert not list(out.glob("broken*")), f"outputs for the broken wav: {list(out.glob('broken*'))}"


# ---------------------------------------------------------------------------------------------
# The bundled model: `infer AUDIO` with no model and no -o


def test_bundled_model_transcribes_into_the_current_folder(end_to_end, tmp_path):
    """With no model argument infer uses the bundled model (a resource beside the executable),
    writes into the current folder, and the bundled model's outputs agree with the same file
    given by --model and with the older `infer MODEL AUDIO -o DIR` form."""
    wav = next(iter(end_to_end.wavs.values()))
    bundled = _binary("infer").parent / "piano-thumbs_PianoKit.resources" / "piano-keys88.safetensors"
    assert bundled.is_file(), f"swift build did not copy the bundled model to {bundled}"
    here = tmp_path / "here"
    here.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PIANO_THUMBS_MODEL"}
    result = subprocess.run([str(_binary("infer")), str(wav), "--no-reference"], cwd=here, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    for suffix in (".mid", ".txt", ".roll.svg"):
        assert (here / f"{wav.stem}{suffix}").is_file(), f"no {wav.stem}{suffix} in the current folder"
    for form in ([str(wav), "--model", str(bundled), "-o", str(tmp_path / "a")], [str(bundled), str(wav), "-o", str(tmp_path / "b")]):
        run = subprocess.run([str(_binary("infer")), *form, "--no-reference"], capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    for folder in ("a", "b"):
        assert (tmp_path / folder / f"{wav.stem}.txt").read_text() == (here / f"{wav.stem}.txt").read_text()
    # Velocities vary with the level (the MIDI is not all one velocity when there are several notes).
    velocities = [m.velocity for t in mido.MidiFile(str(here / f"{wav.stem}.mid")).tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert all(1 <= v <= 127 for v in velocities)
    if len(velocities) > 3:
        assert len(set(velocities)) > 1, velocities


def test_bundled_model_missing_names_the_places(tmp_path):
    wav = write_wav(tmp_path / "tone.wav")
    env = {**os.environ, "PIANO_THUMBS_MODEL": str(tmp_path / "nowhere.safetensors")}
    result = subprocess.run([str(_binary("infer")), str(wav), "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "nowhere.safetensors" in result.stderr and "PIANO_THUMBS_MODEL" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
