"""The paper's single-label measure from any transcription: step accuracy of the notes an infer run
wrote (its <stem>.txt) against each recording's reference, on the model's step grid.

    python3 bench/isol_steps.py INFER_OUT     (an infer output folder made with references)

Each step k (time k * hop / rate, from the model's front end) is labelled with the highest key
sounding by the rule onset <= time < offset (StepLabels), 0 for none, in the estimate and in the
reference; the figure is the share of steps that agree, over all files. Wrong steps are split into
note/silence confusions, semitone and octave errors, and the rest.
"""
import json
import math
import sys


def read(path):
    notes = []
    for line in open(path).read().splitlines()[1:]:
        if line.strip():
            onset, offset, pitch = line.split()[:3]
            notes.append((float(onset), float(offset), int(pitch)))
    return notes


def labels(notes, steps, seconds_per_step):
    out = [0] * steps
    for onset, offset, pitch in notes:
        if not 21 <= pitch <= 108:
            continue
        for k in range(max(0, math.floor(onset / seconds_per_step)), steps):
            t = k * seconds_per_step
            if t >= offset:
                break
            if t >= onset:
                out[k] = max(out[k], pitch)
    return out


def main(folder):
    summary = json.load(open(f"{folder}/summary.json"))
    settings = json.load(open(f"{folder}/settings.json"))
    model = settings["model"]
    with open(model, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    transform = json.loads(header["__metadata__"]["frontEnd"])["transform"]
    seconds_per_step = transform["hop"] / transform["sampleRate"]
    counts = {"right": 0, "note/silence": 0, "semitone": 0, "octave": 0, "other": 0}
    for f in summary["files"]:
        steps = f["steps"]
        estimate = labels(read(f"{folder}/{f['stem']}.txt"), steps, seconds_per_step)
        reference = labels(read(f["reference"]), steps, seconds_per_step)
        for a, b in zip(estimate, reference):
            kind = ("right" if a == b else "note/silence" if a == 0 or b == 0 else "semitone" if abs(a - b) == 1
                    else "octave" if abs(a - b) % 12 == 0 else "other")
            counts[kind] += 1
    total = sum(counts.values())
    print(f"{len(summary['files'])} files, {total} steps: step accuracy {counts['right'] / total:.4f}; wrong: "
          + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "right"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
