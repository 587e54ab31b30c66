"""Transcribes every wav under the given folders with basic-pitch 0.4.0 (its bundled ONNX model)
and writes <stem>.txt MAPS note lists (onset, offset, pitch; onsets, offsets in seconds) and
<stem>.velocity.tsv into OUT, so that bench/compare.py scores it exactly as it scores infer.
Prints the audio seconds, the wall time and the real-time factor.

    .venv-bench/bin/python bench/transcribe_basic_pitch.py OUT WAV_OR_FOLDER...
"""
import contextlib
import io
import logging
import sys
import time
from pathlib import Path

import soundfile


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    wavs = []
    for given in sys.argv[2:]:
        p = Path(given)
        wavs += sorted(p.rglob("*.wav")) if p.is_dir() else [p]
    logging.getLogger().setLevel(logging.ERROR)
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    model = Model(ICASSP_2022_MODEL_PATH)
    audio = sum(soundfile.info(str(w)).duration for w in wavs)
    start = time.perf_counter()
    for i, wav in enumerate(wavs):
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = predict(str(wav), model)
        lines = ["OnsetTime\tOffsetTime\tMidiPitch"]
        velocities = []
        for s, e, p, a, *_ in sorted(events, key=lambda x: (x[0], x[2])):
            lines.append(f"{s:.6f}\t{e:.6f}\t{int(p)}")
            velocities.append(f"{s:.6f}\t{int(p)}\t{int(round(127 * a))}")
        (out / f"{wav.stem}.txt").write_text("\n".join(lines) + "\n")
        (out / f"{wav.stem}.velocity.tsv").write_text("\n".join(velocities) + "\n")
        if (i + 1) % 50 == 0:
            print(f"  {i + 1} of {len(wavs)}", file=sys.stderr)
    wall = time.perf_counter() - start
    print(f"basic-pitch 0.4.0: {len(wavs)} files, {audio:.1f} s of audio in {wall:.1f} s: {audio / wall:.1f}x real time")


if __name__ == "__main__":
    main()
