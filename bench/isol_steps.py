"""The paper's single-label measure from any transcription: step accuracy of an infer run against each
recording's reference, on the model's step grid.

    python3 bench/isol_steps.py INFER_OUT
    python3 bench/isol_steps.py INFER_OUT --argmax DEV_INFER_OUT
    python3 bench/isol_steps.py INFER_OUT --stage

Each step k (time k * hop / rate, from the model's front end) is labelled with the highest key
sounding by the rule onset <= time < offset (StepLabels), 0 for none, in the reference. The
estimate's label comes from:
  - by default, the notes infer wrote (<stem>.txt), labelled by the same rule;
  - with --argmax, the network's frame head directly (<stem>.outputs.npy, from infer
    --save-arrays): the key of the step's largest frame probability when it reaches a threshold,
    else 0, the single-label reading of a multi-label model. The threshold is the one of
    THRESHOLDS with the best step accuracy on DEV_INFER_OUT (another infer run, made with
    --save-arrays and references on development pianos), never chosen on INFER_OUT;
  - with --stage, the single labels `infer --single-label` wrote (<stem>.steps.txt: the model's
    temporal stage, its threshold chosen on development pianos by train-stage).
The figure is the share of steps that agree, over all files. Wrong steps are split into
note/silence confusions (notes too long or too short), semitone and octave errors, and the rest;
then per instrument (the stem's last field) and, for wrong keys, per octave of the reference
(0 = A0-G#1).
"""
import argparse
import json
import math
from collections import Counter, defaultdict

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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


def load(folder):
    """(summary, seconds per step, frame-head columns) of an infer output folder."""
    summary = json.load(open(f"{folder}/summary.json"))
    settings = json.load(open(f"{folder}/settings.json"))
    with open(settings["model"], "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    metadata = header["__metadata__"]
    transform = json.loads(metadata["frontEnd"])["transform"]
    return summary, transform["hop"] / transform["sampleRate"], metadata


def frame_columns(metadata):
    """The slice of a step's outputs that is the frame head (88 keys, A0 first): heads are
    concatenated in the spec's order, 88 outputs each."""
    kinds = [head["kind"] for head in json.loads(metadata["network"])["heads"]]
    start = 88 * kinds.index("frame")
    return slice(start, start + 88)


def argmax_labels(frame, threshold, steps):
    """Per step the key (MIDI number) of the largest of the frame head's 88 probabilities when it
    reaches `threshold`, else 0; padded or cut to `steps`."""
    keys = frame.argmax(axis=1) + 21
    out = [int(k) if p >= threshold else 0 for k, p in zip(keys, frame.max(axis=1))]
    return (out + [0] * steps)[:steps]


def kind(a, b):
    return ("right" if a == b else "note/silence" if a == 0 or b == 0 else "semitone" if abs(a - b) == 1
            else "octave" if abs(a - b) % 12 == 0 else "other")


def stage_labels(path, steps):
    """The labels of a <stem>.steps.txt (infer --single-label), padded or cut to `steps`."""
    out = [int(line.split("\t")[1]) for line in open(path).read().splitlines()[1:] if line.strip()]
    return (out + [0] * steps)[:steps]


def recordings(folder, argmax, stage=False):
    """Per recording of an infer output folder: its instrument (the stem's last field), its
    reference labels, and either the labels of infer's notes or (argmax) its frame-head outputs."""
    import numpy as np
    summary, seconds_per_step, metadata = load(folder)
    columns = frame_columns(metadata) if argmax else None
    out = []
    for f in summary["files"]:
        steps = f["steps"]
        reference = labels(read(f["reference"]), steps, seconds_per_step)
        estimate = (np.load(f"{folder}/{f['stem']}.outputs.npy")[:, columns] if argmax
                    else stage_labels(f"{folder}/{f['stem']}.steps.txt", steps) if stage
                    else labels(read(f"{folder}/{f['stem']}.txt"), steps, seconds_per_step))
        out.append((f["stem"].split("_")[-1], reference, estimate))
    return out


def score(recorded, threshold=None):
    """Counters of step kinds: pooled, per instrument, and wrong keys per reference octave; with a
    threshold the estimates are frame-head outputs, labelled by `argmax_labels`."""
    pooled, per_instrument, octaves = Counter(), defaultdict(Counter), Counter()
    for instrument, reference, estimate in recorded:
        if threshold is not None:
            estimate = argmax_labels(estimate, threshold, len(reference))
        for a, b in zip(estimate, reference):
            k = kind(a, b)
            pooled[k] += 1
            per_instrument[instrument][k] += 1
            if a and b and a != b:
                octaves[(b - 21) // 12] += 1
    return len(recorded), pooled, per_instrument, octaves


def accuracy(counts):
    return counts["right"] / max(1, sum(counts.values()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="infer output folder (made with references)")
    parser.add_argument("--argmax", metavar="DEV_INFER_OUT",
                        help="label steps by the frame head's argmax; threshold chosen on this folder")
    parser.add_argument("--stage", action="store_true", help="label steps by <stem>.steps.txt (infer --single-label)")
    args = parser.parse_args()
    threshold = None
    if args.argmax:
        dev = recordings(args.argmax, argmax=True)  # read once, scored at every threshold
        grid = [(accuracy(score(dev, t)[1]), t) for t in THRESHOLDS]
        for a, t in grid:
            print(f"dev {args.argmax}: frame threshold {t}: step accuracy {a:.4f}")
        threshold = max(grid)[1]
        print(f"chosen on dev: frame threshold {threshold}")
    files, pooled, per_instrument, octaves = score(recordings(args.folder, argmax=threshold is not None, stage=args.stage), threshold)
    total = sum(pooled.values())
    print(f"{files} files, {total} steps: step accuracy {accuracy(pooled):.4f}; wrong: "
          + ", ".join(f"{k} {pooled[k]}" for k in ("note/silence", "semitone", "octave", "other")))
    for instrument, counts in sorted(per_instrument.items()):
        print(f"  {instrument}: step accuracy {accuracy(counts):.4f} over {sum(counts.values())} steps")
    if octaves:
        print("  wrong keys by reference octave: " + ", ".join(f"{o}: {n}" for o, n in sorted(octaves.items())))


if __name__ == "__main__":
    main()
