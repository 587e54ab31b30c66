"""Progress in a log: with stderr to a file (not a terminal) the stages print a plain heartbeat
line every PIANO_THUMBS_HEARTBEAT seconds (Sources/PianoKit/Support/Progress.swift), with counts,
rate, elapsed time and ETA; no terminal control characters reach the log."""

import os
import re
import subprocess

from conftest import _binary

CLOCK = r"\d+:\d\d(:\d\d)?"
ETA = rf"ETA ({CLOCK}|--:--)"
INFER = re.compile(rf"^infer: \d+\.\d/\d+\.\d s of audio in \d+/\d+ files(, \d+ failed)?, \d+\.\dx real time, elapsed {CLOCK}, {ETA}( \(.+\))?$")
TRAIN = re.compile(rf"^train: \d+/(\d+) steps, \d+\.\d steps/s, elapsed {CLOCK}, {ETA}( \(valid \d+/\d+ examples\))?$")


def run_logged(command, log, seconds="0.01"):
    """Runs `command` with stderr to the file `log` and the heartbeat every `seconds`; returns the log's lines."""
    with open(log, "w") as stderr:
        result = subprocess.run([str(c) for c in command], stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "PIANO_THUMBS_HEARTBEAT": seconds})
    text = log.read_text()
    assert result.returncode == 0, text[-3000:]
    assert "\x1b" not in text and "\r" not in text, "terminal control characters in a log"
    return text.splitlines()


def test_heartbeat_lines_in_a_log(end_to_end, tmp_path):
    lines = run_logged([_binary("infer"), end_to_end.model, *end_to_end.wavs.values(), "-o", tmp_path / "out", "--jobs", "2"],
                       tmp_path / "infer.log")
    beats = [line for line in lines if line.startswith("infer: ")]
    assert beats, "no heartbeat line:\n" + "\n".join(lines)
    bad = [line for line in beats if not INFER.match(line)]
    assert not bad, f"heartbeat lines not in the documented form: {bad}"
    print("\n" + "\n".join(beats[:3]))

    lines = run_logged([_binary("train"), end_to_end.work / "data.npz", "-o", tmp_path / "model.safetensors", "--arch", "simple",
                        "--steps", "40", "--batch", "24", "--eval-every", "20", "--no-distort"], tmp_path / "train.log")
    beats = [line for line in lines if line.startswith("train: ")]
    assert beats and all(TRAIN.match(line) and TRAIN.match(line).group(1) == "40" for line in beats), "\n".join(lines)
    print("\n".join(beats[:3]))


def test_heartbeat_off(end_to_end, tmp_path):
    """PIANO_THUMBS_HEARTBEAT=0 turns the heartbeat off."""
    stem = min(end_to_end.stems)
    lines = run_logged([_binary("infer"), end_to_end.model, end_to_end.wavs[stem], "-o", tmp_path / "out"], tmp_path / "infer.log", seconds="0")
    assert not [line for line in lines if line.startswith("infer: ")]
