"""Two hands on one channel: `ingest`'s MIDI reading against pretty_midi and against the note
lists the files were written from.

piano-midi.de keeps each hand on its own track of channel 0, and one hand often releases a key at
the tick the other strikes it. Schemas/notemap.md's rule (at one tick every release before every
strike, key state per channel) must read every such hand-over as the two notes played.

The files are written here with mido from random note lists in the layouts such files come in:
format 1 with a conductor track and one track per hand (in either order), and format 0 with both
hands merged, at each tick either releases first (what the toolkit's writer does) or strikes first
(a careless writer), note-offs as note-off or velocity-0 note-on. Per key the notes of the two
hands never overlap but often touch. pretty_midi reads each track on its own and never lets a
note-off end a note begun at its own tick, so on these files its conventions and ours coincide:
the notes must be the same, and both must be the generating note list.
"""

import json
import random
import wave
from pathlib import Path

import mido
import pretty_midi
import pytest

from conftest import _binary, run_tool

TICKS = 480  # per quarter; 120 BPM until the tempo map says otherwise
TOLERANCE = 1e-6  # seconds
FILES = 60


def random_notes(rng: random.Random):
    """(start tick, end tick, pitch, velocity, hand) with per-key chains of touching or spaced notes."""
    notes = []
    for pitch in rng.sample(range(48, 73), rng.randint(2, 6)):
        tick = 120 * rng.randint(0, 8)
        for _ in range(rng.randint(1, 10)):
            length = 120 * rng.randint(1, 6) if rng.random() < 0.5 else rng.randint(1, 700)
            notes.append((tick, tick + length, pitch, rng.randint(1, 127), rng.randint(0, 1)))
            tick += length + (120 * rng.randint(1, 3) if rng.random() < 0.3 else 0)
    return notes


def hand_events(notes, hand, velocity_zero):
    """(tick, is_strike, message) of one hand's notes."""
    events = []
    for start, end, pitch, velocity, h in notes:
        if h != hand:
            continue
        events.append((start, True, mido.Message("note_on", note=pitch, velocity=velocity)))
        off = mido.Message("note_on", note=pitch, velocity=0) if velocity_zero else mido.Message("note_off", note=pitch, velocity=64)
        events.append((end, False, off))
    return events


def track_of(events, strikes_first: bool, rng: random.Random) -> mido.MidiTrack:
    """A track of absolute-tick events, delta-timed; at one tick releases first unless `strikes_first`."""
    rng.shuffle(events)  # within a tick and kind the order is arbitrary
    events.sort(key=lambda e: (e[0], e[1] != strikes_first))
    track, now = mido.MidiTrack(), 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_case(folder: Path, number: int, rng: random.Random):
    """Writes NAME.mid and a silent NAME.wav; returns (stem, notes in seconds, layout)."""
    notes = random_notes(rng)
    tempos = [(0, 500_000)]
    if rng.random() < 0.5:
        tempos.append((120 * rng.randint(1, 20), rng.randint(300_000, 900_000)))
    conductor = [(tick, False, mido.MetaMessage("set_tempo", tempo=tempo)) for tick, tempo in tempos]
    velocity_zero, strikes_first = rng.random() < 0.5, rng.random() < 0.5
    hands = [hand_events(notes, hand, velocity_zero) for hand in (0, 1)]
    midi = mido.MidiFile(type=1 if number % 3 else 0, ticks_per_beat=TICKS)
    if midi.type == 0:
        midi.tracks.append(track_of(conductor + hands[0] + hands[1], strikes_first, rng))
        layout = f"format 0, {'strikes' if strikes_first else 'releases'} first"
    else:
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        midi.tracks.append(track_of(conductor, False, rng))
        for hand in order:
            midi.tracks.append(track_of(hands[hand], strikes_first, rng))
        layout = f"format 1, hands in tracks {order}"
    stem = f"hands_{number:03d}"
    midi.save(str(folder / f"{stem}.mid"))

    def seconds(tick):
        time, last_tick, tempo = 0.0, 0, 500_000
        for change_tick, change_tempo in tempos:
            if change_tick > tick:
                break
            time += (change_tick - last_tick) * tempo * 1e-6 / TICKS
            last_tick, tempo = change_tick, change_tempo
        return time + (tick - last_tick) * tempo * 1e-6 / TICKS

    expected = sorted((seconds(s), seconds(e), p, v) for s, e, p, v, _ in notes)
    rate = 8000
    with wave.open(str(folder / f"{stem}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int((max(e for _, e, _, _ in expected) + 0.5) * rate))
    return stem, expected, layout


def minimal_case(folder: Path):
    """The issue's case: format 1, track 0 C4 on 480 off 960, track 1 C4 on 0 off 480."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=100, time=480),
                                       mido.Message("note_off", note=60, velocity=64, time=480)]))
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90, time=0),
                                       mido.Message("note_off", note=60, velocity=64, time=480)]))
    midi.save(str(folder / "minimal.mid"))
    with wave.open(str(folder / "minimal.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 12000)


def pretty_midi_notes(path: Path):
    midi = pretty_midi.PrettyMIDI(str(path))
    return sorted((n.start, n.end, n.pitch, n.velocity) for i in midi.instruments for n in i.notes)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-hands")
    rng = random.Random(17)
    written = [write_case(folder, number, rng) for number in range(FILES)]
    minimal_case(folder)
    out = tmp_path_factory.mktemp("two-hands-notemaps")
    run_tool([_binary("ingest"), folder, "-o", out, "--notes-from", "mid", "--no-pedal", "--jobs", "2"], "ingest")

    def read(stem):
        data = json.loads((out / f"{stem}.notemap.json").read_text())
        return sorted((n["onset"], n["offset"], n["pitch"], n["velocity"]) for n in data["notes"])

    return folder, written, read


def differences(a, b):
    if len(a) != len(b):
        return [f"{len(a)} notes vs {len(b)}"]
    return [f"{x} vs {y}" for x, y in zip(a, b)
            if x[2:] != y[2:] or abs(x[0] - y[0]) > TOLERANCE or abs(x[1] - y[1]) > TOLERANCE]


def test_minimal_case(cases):
    folder, _, read = cases
    ours = [(on, off) for on, off, _, _ in read("minimal")]
    theirs = [(on, off) for on, off, _, _ in pretty_midi_notes(folder / "minimal.mid")]
    print(f"\nminimal case: ingest {ours}, pretty_midi {theirs}")
    assert ours == [(0.0, 0.5), (0.5, 1.0)]
    assert theirs == ours


def test_random_two_hand_files_match_the_note_lists_and_pretty_midi(cases):
    folder, written, read = cases
    problems, hand_overs, zero_length, layouts = [], 0, 0, set()
    for stem, expected, layout in written:
        ours = read(stem)
        zero_length += sum(1 for on, off, _, _ in ours if on == off)
        hand_overs += sum(1 for a in expected for b in expected if a[2] == b[2] and a[1] == b[0])
        layouts.add(layout.split(",")[0])
        for what, other in (("the note list", expected), ("pretty_midi", pretty_midi_notes(folder / f"{stem}.mid"))):
            diff = differences(ours, other)
            if diff:
                problems.append(f"{stem} ({layout}): ingest vs {what}: {diff[:3]}")
    print(f"\n{len(written)} two-hand files: {hand_overs} same-tick release+strike of a key, {zero_length} notes made zero-length")
    assert not problems, "\n".join(problems[:20])
    assert zero_length == 0
    assert hand_overs > 100 and layouts == {"format 0", "format 1"}
