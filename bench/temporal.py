"""Experiment (issue 14): a learned temporal stage over a model's per-step outputs, for the paper's
single-label task on isolated notes.

The network sees 16 frames (186 ms) per step, too little to tell a held note whose sound has faded
from a released one. This stage looks further: for each key that the frame head ever gives 0.1 or
more in a recording, a small MLP (PyTorch, 32 hidden units) reads the key's frame and onset
probabilities over +-WINDOW steps, the strongest onset in the last MEMORY steps with how long ago it
was, and the highest frame probability since then, and says whether the key sounds at the step. It
is trained on one infer folder (the training pianos' isolated notes), its threshold is chosen on a
second (the development pianos'), and it is scored once on a third (the left-out pianos'); every
folder is an infer run with --save-arrays and references. A step's label is the candidate key of
highest probability when that reaches the threshold, else 0, scored as bench/isol_steps.py scores
(and beside its frame-head argmax, threshold chosen on the same development folder).

    python bench/temporal.py TRAIN_INFER DEV_INFER [--test TEST_INFER] [--window 48] [--memory 400]

Needs numpy and torch (the CPU wheel). Deterministic for a seed on one machine.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import isol_steps  # noqa: E402

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def recordings(folder):
    """Per recording: (instrument, reference labels, frame probabilities, onset probabilities), steps x 88."""
    summary, seconds_per_step, metadata = isol_steps.load(folder)
    kinds = [head["kind"] for head in json.loads(metadata["network"])["heads"]]
    frame, onset = 88 * kinds.index("frame"), 88 * kinds.index("onset")
    out = []
    for f in summary["files"]:
        steps = f["steps"]
        reference = np.array(isol_steps.labels(isol_steps.read(f["reference"]), steps, seconds_per_step))
        outputs = np.load(f"{folder}/{f['stem']}.outputs.npy")[:steps]
        outputs = np.pad(outputs, ((0, steps - len(outputs)), (0, 0)))
        out.append((f["stem"].split("_")[-1], reference, outputs[:, frame:frame + 88], outputs[:, onset:onset + 88]))
    return out


def features(frame, onset, key, window, memory):
    """steps x (2 (2 window + 1) + 3) features of one key."""
    steps = len(frame)
    f, o = np.pad(frame[:, key], window), np.pad(onset[:, key], window)
    index = np.arange(steps)[:, None] + np.arange(2 * window + 1)[None, :]
    past = np.pad(onset[:, key], (memory, 0))
    extra = np.zeros((steps, 3), np.float32)
    for t in range(steps):
        span = past[t:t + memory + 1]
        j = int(span.argmax())
        extra[t] = (span[j], (memory - j) / memory, frame[max(0, t - memory + j):t + 1, key].max())
    return np.concatenate([f[index], o[index], extra], axis=1).astype(np.float32)


def candidates(frame):
    return np.flatnonzero(frame.max(axis=0) >= 0.1)


def train(recorded, window, memory, seed=0):
    x, y = [], []
    for _, reference, frame, onset in recorded:
        for key in candidates(frame):
            x.append(features(frame, onset, key, window, memory))
            y.append((reference == key + 21).astype(np.float32))
    x, y = torch.from_numpy(np.concatenate(x)), torch.from_numpy(np.concatenate(y))[:, None]
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(6):
        for batch in torch.randperm(len(x)).split(1024):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    print(f"trained on {len(x)} (recording, key, step) rows, {float(y.mean()):.3f} positive; last batch loss {loss.item():.4f}")
    return model


def estimates(model, recorded, window, memory):
    """Per recording: (instrument, reference, best candidate key per step, its probability)."""
    out = []
    for instrument, reference, frame, onset in recorded:
        best, key = np.zeros(len(reference)), np.zeros(len(reference), int)
        for k in candidates(frame):
            with torch.no_grad():
                p = torch.sigmoid(model(torch.from_numpy(features(frame, onset, k, window, memory)))).numpy()[:, 0]
            better = p > best
            best[better], key[better] = p[better], k + 21
        out.append((instrument, reference, key, best))
    return out


def score(estimated, threshold):
    right, per = 0, {}
    kinds = {"note/silence": 0, "semitone": 0, "octave": 0, "other": 0}
    for instrument, reference, key, best in estimated:
        labels = np.where(best >= threshold, key, 0)
        for a, b in zip(labels, reference):
            k = isol_steps.kind(int(a), int(b))
            if k != "right":
                kinds[k] += 1
        n = int((labels == reference).sum())
        right += n
        counts = per.setdefault(instrument, [0, 0])
        counts[0] += n
        counts[1] += len(reference)
    total = sum(c[1] for c in per.values())
    return right / total, {i: c[0] / c[1] for i, c in sorted(per.items())}, kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_folder")
    parser.add_argument("dev_folder")
    parser.add_argument("--test", metavar="TEST_INFER")
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--memory", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = train(recordings(args.train_folder), args.window, args.memory)
    dev = estimates(model, recordings(args.dev_folder), args.window, args.memory)
    grid = [(score(dev, t)[0], t) for t in THRESHOLDS]
    for accuracy, t in grid:
        print(f"dev {args.dev_folder}: threshold {t}: step accuracy {accuracy:.4f}")
    threshold = max(grid)[1]
    print(f"chosen on dev: threshold {threshold}")
    if args.test:
        accuracy, per, kinds = score(estimates(model, recordings(args.test), args.window, args.memory), threshold)
        print(f"test {args.test}: step accuracy {accuracy:.4f}; wrong: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
        for instrument, a in per.items():
            print(f"  {instrument}: {a:.4f}")


if __name__ == "__main__":
    main()
