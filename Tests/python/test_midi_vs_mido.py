"""Independent-reference checks of `ingest`: every note map against the MIDI file read with mido,
against the MAPS txt ground truth, against labels recomputed with numpy, and against the wav
header read with Python's `wave` module.

The MIDI interpretation here is written from the rules in Schemas/notemap.md, not from the Swift
code: tracks merged by tick (ties: every release before every strike, then track order, then file
order), a tempo map built from the set_tempo messages of all tracks, note-on velocity 0 =
note-off, a re-strike of a held key ends the earlier press (a second strike at the tick the press
began is ignored; a track's note-on then note-off at one tick with nothing older open is a
zero-length note), CC64 >= 64 puts the pedal down per channel, a release inside [down, up) of a
pedal span lasts until `up`, and a sustained note is cut at the next onset of the same key.
"""

import wave
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import pytest

TOLERANCE = 1e-3  # seconds
PIANO_KEYS = range(21, 109)
KINDS = ("pedal", "nopedal")


# --------------------------------------------------------------------------------------------
# Reference MIDI reading


@dataclass
class Press:
    onset: float
    release: float
    pitch: int
    velocity: int
    channel: int


@dataclass
class Performance:
    presses: list
    pedal: dict  # channel -> [(down, up)] in the order the spans close
    end: float
    event_seconds: list = field(default_factory=list)  # seconds of every merged message, in order


def is_strike(message) -> bool:
    return message.type == "note_on" and message.velocity > 0


def merged_messages(midi: mido.MidiFile):
    """Every message of every track as (tick, track, index, message), merged by tick; at one tick
    every strike (note-on with velocity > 0) after everything else, then by track and file order."""
    merged = []
    for t, track in enumerate(midi.tracks):
        tick = 0
        for i, message in enumerate(track):
            tick += message.time
            merged.append((tick, t, i, message))
    merged.sort(key=lambda item: (item[0], is_strike(item[3]), item[1], item[2]))
    return merged


def tempo_map(midi: mido.MidiFile, merged):
    """A function tick -> seconds: 500000 us per quarter until the first set_tempo, then piecewise."""
    assert midi.ticks_per_beat > 0
    changes = [(tick, message.tempo) for tick, _, _, message in merged if message.type == "set_tempo"]
    segments = [(0, 0.0, 500_000)]  # (start tick, start seconds, tempo)
    for tick, tempo in changes:
        start_tick, start_seconds, current = segments[-1]
        seconds = start_seconds + (tick - start_tick) * current * 1e-6 / midi.ticks_per_beat
        if tick == start_tick:
            segments[-1] = (tick, seconds, tempo)  # the last change at a tick wins
        else:
            segments.append((tick, seconds, tempo))
    starts = np.array([s[0] for s in segments])

    def seconds(tick: int) -> float:
        start_tick, start_seconds, tempo = segments[int(np.searchsorted(starts, tick, side="right")) - 1]
        return start_seconds + (tick - start_tick) * tempo * 1e-6 / midi.ticks_per_beat

    return seconds


def read_performance(path: Path) -> Performance:
    midi = mido.MidiFile(str(path))
    merged = merged_messages(midi)
    seconds = tempo_map(midi, merged)
    open_presses = {}  # (channel, pitch) -> (onset, velocity, tick, track, index)
    pedal_down = {}  # channel -> down time
    presses, pedal = [], defaultdict(list)
    times = []
    unmatched = []  # releases at the current tick that found nothing open: (key, track, index)

    def close(key, time):
        if key in open_presses:
            onset, velocity = open_presses.pop(key)[:2]
            presses.append(Press(onset, time, key[1], velocity, key[0]))

    def finish_tick(tick):
        for key, track, index in unmatched:  # a track's note-on then note-off at one tick
            start = open_presses.get(key)
            if start and start[2] == tick and start[3] == track and start[4] < index:
                close(key, start[0])
        unmatched.clear()

    previous_tick = None
    for tick, track, index, message in merged:
        if tick != previous_tick and previous_tick is not None:
            finish_tick(previous_tick)
        previous_tick = tick
        time = seconds(tick)
        times.append(time)
        if is_strike(message):
            key = (message.channel, message.note)
            if key in open_presses and open_presses[key][2] == tick:
                continue  # doubled at the tick it was struck: one stroke
            close(key, time)  # a re-strike ends the earlier press
            open_presses[key] = (time, message.velocity, tick, track, index)
        elif message.type == "note_off" or (message.type == "note_on" and message.velocity == 0):
            key = (message.channel, message.note)
            if key in open_presses:
                close(key, time)
            else:
                unmatched.append((key, track, index))
        elif message.type == "control_change" and message.control == 64:
            if message.value >= 64:
                pedal_down.setdefault(message.channel, time)
            elif message.channel in pedal_down:
                pedal[message.channel].append((pedal_down.pop(message.channel), time))
    if previous_tick is not None:
        finish_tick(previous_tick)
    end = times[-1] if times else 0.0
    for key in sorted(open_presses):
        close(key, end)
    for channel in sorted(pedal_down):
        pedal[channel].append((pedal_down[channel], end))
    return Performance(presses=presses, pedal=dict(pedal), end=end, event_seconds=times)


def sounding_notes(performance: Performance, sustain: bool):
    """(onset, offset, pitch, velocity) of every press, the pedal applied when `sustain`."""
    if not sustain:
        return [(p.onset, p.release, p.pitch, p.velocity) for p in performance.presses]
    by_key = defaultdict(list)
    for press in performance.presses:
        by_key[(press.channel, press.pitch)].append(press)
    notes = []
    for presses in by_key.values():
        presses = sorted(presses, key=lambda p: p.onset)  # stable
        for j, press in enumerate(presses):
            offset = press.release
            for down, up in performance.pedal.get(press.channel, []):
                if down <= press.release < up:
                    offset = up
                    break
            if j + 1 < len(presses) and presses[j + 1].onset < offset:
                offset = max(presses[j + 1].onset, press.onset)  # the next stroke cuts the sound
            notes.append((press.onset, offset, press.pitch, press.velocity))
    return notes


def read_txt(path: Path):
    lines = path.read_text().splitlines()
    assert lines[0] == "OnsetTime\tOffsetTime\tMidiPitch", f"{path}: header is {lines[0]!r}"
    notes = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        assert len(fields) == 3, f"{path}:{number}: {line!r}"
        for text in fields[:2]:
            assert len(text.split(".")[1]) == 6, f"{path}:{number}: time {text!r} has not 6 decimals"
        notes.append((float(fields[0]), float(fields[1]), int(fields[2]), None))
    return notes


# --------------------------------------------------------------------------------------------
# Comparisons


def compare_notes(expected, actual, what: str, velocity: bool = True):
    """Differences between two lists of (onset, offset, pitch, velocity), to TOLERANCE seconds."""
    key = lambda n: (n[2], n[0], n[1])  # by pitch first: float noise cannot reorder distinct notes
    expected, actual = sorted(expected, key=key), sorted(actual, key=key)
    if len(expected) != len(actual):
        by_pitch = lambda notes: {p: sum(1 for n in notes if n[2] == p) for p in {n[2] for n in notes}}
        e, a = by_pitch(expected), by_pitch(actual)
        diff = {p: (e.get(p, 0), a.get(p, 0)) for p in sorted(set(e) | set(a)) if e.get(p, 0) != a.get(p, 0)}
        return [f"{what}: {len(expected)} notes expected, {len(actual)} found (pitch: (expected, found)) {diff}"]
    problems = []
    for e, a in zip(expected, actual):
        if (
            e[2] != a[2]
            or abs(e[0] - a[0]) > TOLERANCE
            or abs(e[1] - a[1]) > TOLERANCE
            or (velocity and e[3] != a[3])
        ):
            problems.append(f"{what}: expected (onset, offset, pitch, velocity) {e}, found {a}")
    return problems


def notemap_notes(notemap: dict):
    return [(n["onset"], n["offset"], n["pitch"], n.get("velocity")) for n in notemap["notes"]]


def check(problems: list):
    if problems:
        shown = "\n".join(problems[:25])
        more = f"\n... and {len(problems) - 25} more" if len(problems) > 25 else ""
        pytest.fail(f"{len(problems)} problems:\n{shown}{more}", pytrace=False)


# --------------------------------------------------------------------------------------------
# Fixtures


@dataclass
class Reference:
    stem: str
    mid: Path
    txt: Path
    wav: Path
    performance: Performance
    notes: dict  # "pedal" / "nopedal" -> reference notes
    txt_notes: list

    @property
    def has_pedal(self) -> bool:
        return any(self.performance.pedal.values())


@pytest.fixture(scope="module")
def references(corpus):
    refs = []
    for stem, folder in corpus.recordings():
        mid = folder / f"{stem}.mid"
        performance = read_performance(mid)
        refs.append(
            Reference(
                stem=stem,
                mid=mid,
                txt=folder / f"{stem}.txt",
                wav=folder / f"{stem}.wav",
                performance=performance,
                notes={"pedal": sounding_notes(performance, True), "nopedal": sounding_notes(performance, False)},
                txt_notes=read_txt(folder / f"{stem}.txt"),
            )
        )
    assert refs, f"no .mid files in {corpus.root}"
    return refs


@pytest.fixture(scope="module")
def notemaps(corpus, references):
    maps = {kind: {} for kind in KINDS}
    for kind in KINDS:
        for ref in references:
            path = corpus.notemaps[kind] / f"{ref.stem}.notemap.json"
            assert path.is_file(), f"ingest wrote no note map for {ref.mid}"
            maps[kind][ref.stem] = corpus.notemap(kind, ref.stem)
    return maps


# --------------------------------------------------------------------------------------------
# Tests


def test_corpus_is_not_trivial(references):
    """The checks below mean something only if the corpus has pedal, several tempi, both formats."""
    assert len(references) >= 100
    assert sum(ref.has_pedal for ref in references) >= 10
    formats = {mido.MidiFile(str(ref.mid)).type for ref in references[:: max(1, len(references) // 60)]}
    assert formats == {0, 1}, f"MIDI formats seen: {formats}"


def test_tempo_map_agrees_with_mido_seconds(references):
    """Our tick->seconds map gives the times mido's own merged playback iteration gives.

    mido's merge drops the tracks' end_of_track messages and appends one at the end, so those are
    compared as the file's end time.
    """
    problems = []
    for ref in references:
        midi = mido.MidiFile(str(ref.mid))
        merged = merged_messages(midi)
        now, theirs = 0.0, []
        for message in midi:  # mido merges the tracks and converts delta times with the tempo
            now += message.time
            if message.type != "end_of_track":
                theirs.append(now)
        ours = [t for t, (_, _, _, m) in zip(ref.performance.event_seconds, merged) if m.type != "end_of_track"]
        if len(ours) != len(theirs):
            problems.append(f"{ref.mid}: {len(ours)} messages here, {len(theirs)} from mido")
            continue
        worst = float(np.max(np.abs(np.array(ours + [ref.performance.end]) - np.array(theirs + [now]))))
        if worst > 1e-6:
            problems.append(f"{ref.mid}: tick->seconds differs from mido's by up to {worst} s")
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_notemap_notes_match_mido(kind, references, notemaps):
    """Pitch, velocity, onset and offset of every note agree with the mido reading to 1 ms."""
    problems = []
    for ref in references:
        notemap = notemaps[kind][ref.stem]
        if notemap["notesFrom"] != "mid":
            problems.append(f"{ref.stem}: notesFrom is {notemap['notesFrom']!r}, expected 'mid'")
        if notemap["sustainPedal"] != (kind == "pedal"):
            problems.append(f"{ref.stem}: sustainPedal is {notemap['sustainPedal']}")
        problems += compare_notes(ref.notes[kind], notemap_notes(notemap), f"{ref.mid} ({kind})")
    check(problems)


def test_mido_reading_matches_txt(references):
    """mido's reading of the written MIDI files, pedal applied, is the ground truth in the txt."""
    problems = []
    for ref in references:
        problems += compare_notes(ref.txt_notes, ref.notes["pedal"], f"{ref.txt} vs mido", velocity=False)
        if not ref.has_pedal:
            problems += compare_notes(ref.txt_notes, ref.notes["nopedal"], f"{ref.txt} vs mido without pedal", velocity=False)
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_notemap_notes_match_txt(kind, references, notemaps):
    """Note maps agree with the txt: always with the pedal, without it where no pedal is used."""
    problems = []
    for ref in references:
        if kind == "nopedal" and ref.has_pedal:
            continue
        problems += compare_notes(ref.txt_notes, notemap_notes(notemaps[kind][ref.stem]), f"{ref.txt} ({kind})", velocity=False)
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_notes_sorted_by_onset(kind, references, notemaps):
    problems = []
    for ref in references:
        keys = [(n[0], n[2], n[1]) for n in notemap_notes(notemaps[kind][ref.stem])]
        if keys != sorted(keys):
            problems.append(f"{ref.stem} ({kind}): notes are not sorted by onset, pitch, offset")
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_cross_check(kind, references, notemaps):
    """crossCheck matches every txt note; it agrees with the pedal, and without it where no pedal is used."""
    problems = []
    for ref in references:
        check_ = notemaps[kind][ref.stem]["crossCheck"]
        if check_ is None:
            problems.append(f"{ref.stem} ({kind}): crossCheck is null though there are a mid and a txt")
            continue
        if check_["matched"] != len(ref.txt_notes) or check_["onlyInTxt"] or check_["onlyInMid"]:
            problems.append(f"{ref.stem} ({kind}): crossCheck matched {check_['matched']} of {len(ref.txt_notes)}")
        expect_agree = kind == "pedal" or not ref.has_pedal
        if expect_agree and not check_["agree"]:
            problems.append(f"{ref.stem} ({kind}): crossCheck disagrees: {check_['offsetMismatches'][:3]}")
        if check_["agree"] != (not check_["onlyInTxt"] and not check_["onlyInMid"] and not check_["offsetMismatches"]):
            problems.append(f"{ref.stem} ({kind}): crossCheck.agree is inconsistent with its lists")
    check(problems)


def reference_labels(notes, sample_rate: int, hop: int, steps: int) -> np.ndarray:
    """A (steps, 128) boolean matrix: key p sounds at step k iff onset <= k*hop/sr < offset.

    Compared in samples (onset*sr <= k*hop) with a 1e-6-sample tolerance, as the contract says.
    Only piano keys 21..108 are labelled.
    """
    notes = [n for n in notes if n[2] in PIANO_KEYS]
    sounding = np.zeros((steps, 128), dtype=bool)
    if not notes:
        return sounding
    position = (np.arange(steps, dtype=np.int64) * hop).astype(np.float64)[:, None]  # samples
    onsets = np.array([n[0] for n in notes]) * sample_rate - 1e-6
    offsets = np.array([n[1] for n in notes]) * sample_rate - 1e-6
    inside = (position >= onsets[None, :]) & (position < offsets[None, :])  # (steps, notes)
    pitches = np.array([n[2] for n in notes])
    one_hot = np.zeros((len(notes), 128), dtype=np.int32)
    one_hot[np.arange(len(notes)), pitches] = 1
    return (inside.astype(np.int32) @ one_hot) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_labels_match_numpy_reference(kind, references, notemaps):
    problems = []
    for ref in references:
        notemap = notemaps[kind][ref.stem]
        steps, hop, rate = notemap["steps"], notemap["hop"], notemap["audio"]["sampleRate"]
        single, multi = notemap["labels"]["single"], notemap["labels"]["multi"]
        if len(single) != steps or len(multi) != steps:
            problems.append(f"{ref.stem} ({kind}): {len(single)} single and {len(multi)} multi labels for {steps} steps")
            continue
        expected = reference_labels(notemap_notes(notemap), rate, hop, steps)
        found = np.zeros((steps, 128), dtype=bool)
        for k, keys in enumerate(multi):
            if keys != sorted(set(keys)):
                problems.append(f"{ref.stem} ({kind}): multi[{k}] = {keys} is not ascending")
            found[k, keys] = True
        bad = np.flatnonzero((expected != found).any(axis=1))
        if bad.size:
            k = int(bad[0])
            problems.append(
                f"{ref.stem} ({kind}): multi labels differ at {bad.size} steps, first step {k} "
                f"(t={k * hop / rate:.6f}s): expected {np.flatnonzero(expected[k]).tolist()}, found {multi[k]}"
            )
        expected_single = [int(np.flatnonzero(row)[-1]) if row.any() else 0 for row in expected]
        if single != expected_single:
            k = next(i for i, (a, b) in enumerate(zip(single, expected_single)) if a != b)
            problems.append(f"{ref.stem} ({kind}): single label at step {k} is {single[k]}, expected {expected_single[k]}")
    check(problems)


def test_pedal_changes_labels_only_where_pedal_is_used(references, notemaps):
    problems = []
    changed = 0
    for ref in references:
        same = notemaps["pedal"][ref.stem]["labels"] == notemaps["nopedal"][ref.stem]["labels"]
        if not ref.has_pedal and not same:
            problems.append(f"{ref.stem}: labels differ with and without pedal, but the MIDI has no pedal")
        changed += not same
    assert changed > 0, "the pedal changed no recording's labels"
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_steps_and_audio_match_wave_module(kind, references, notemaps):
    """audio matches the wav header as Python's wave module reads it, and steps == frames // hop + 1."""
    problems = []
    for ref in references:
        notemap = notemaps[kind][ref.stem]
        with wave.open(str(ref.wav), "rb") as w:
            frames, rate, channels = w.getnframes(), w.getframerate(), w.getnchannels()
        audio = notemap["audio"]
        if (audio["frames"], audio["sampleRate"], audio["channels"]) != (frames, rate, channels):
            problems.append(f"{ref.wav} ({kind}): audio {audio}, wave says frames={frames} rate={rate} channels={channels}")
        if notemap["steps"] != frames // notemap["hop"] + 1:
            problems.append(f"{ref.wav} ({kind}): steps {notemap['steps']}, expected {frames} // {notemap['hop']} + 1")
        last_offset = max((n[1] for n in notemap_notes(notemap)), default=0.0)
        if last_offset > frames / rate + TOLERANCE:
            problems.append(f"{ref.wav} ({kind}): a note ends at {last_offset}s, after the audio ({frames / rate}s)")
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_sources_are_relative_to_the_notemap_folder(kind, corpus, references, notemaps):
    problems = []
    folder = corpus.notemaps[kind]
    for ref in references:
        sources = notemaps[kind][ref.stem]["sources"]
        for name, actual in (("wav", ref.wav), ("mid", ref.mid), ("txt", ref.txt)):
            if name not in sources:
                problems.append(f"{ref.stem} ({kind}): sources.{name} is missing")
            elif (folder / sources[name]).resolve() != actual.resolve():
                problems.append(f"{ref.stem} ({kind}): sources.{name} = {sources[name]!r} does not lead to {actual}")
    check(problems)
