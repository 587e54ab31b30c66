"""Chooses spectro's default front end with a stand-in classifier, until `train` exists.

For each (transform, bins per octave, context), runs spectro on the ISOL note maps of a corpus,
fits a ridge-regression classifier (one-vs-all on raw pixels, closed form) on one instrument's
thumbnails and reports step accuracy on the other instrument's: a cheap proxy for how much
pitch information the thumbnails keep. Usage: frontend.py BIN_DIR NOTEMAPS_DIR WORK_DIR
"""

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

bin_dir, notemaps, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
isolated = sorted(str(p) for p in notemaps.glob("MAPS_ISOL_*.notemap.json"))


def load(thumbs: Path, instrument: str):
    images, labels = [], []
    for folder in sorted(thumbs.glob(f"MAPS_ISOL_*_{instrument}")):
        rows = [line.split("\t") for line in (folder / "labels.tsv").read_text().splitlines()[1:]]
        for row in rows:
            images.append(np.asarray(Image.open(folder / row[2]), dtype=np.float32).ravel() / 255)
            labels.append(int(row[3]))
    return np.stack(images), np.array(labels)


print(f"{'transform':<10}{'bins/oct':>9}{'context':>9}{'accuracy on unseen piano':>27}{'on notes only':>16}")
for transform, bpo, context in itertools.chain(
    [("cqt", b, 16) for b in (12, 24, 36)], [("cqt", 36, c) for c in (8, 32, 64)], [("cqt", 12, 32)],
    [("stft", 36, c) for c in (16, 32)]
):
    out = work / f"{transform}-{bpo}-{context}"
    subprocess.run([bin_dir / "spectro", *isolated, "-o", out, "--transform", transform,
                    "--bins-per-octave", str(bpo), "--context", str(context)], check=True, capture_output=True)
    x_train, y_train = load(out, "FR3Grand")
    x_test, y_test = load(out, "FR3Brght")
    classes = np.arange(128)
    targets = (y_train[:, None] == classes[None, :]).astype(np.float32)
    x1 = np.hstack([x_train, np.ones((len(x_train), 1), np.float32)])
    weights = np.linalg.solve(x1.T @ x1 + 1.0 * np.eye(x1.shape[1], dtype=np.float32), x1.T @ targets)
    predicted = np.hstack([x_test, np.ones((len(x_test), 1), np.float32)]) @ weights
    guess = predicted.argmax(axis=1)
    notes = y_test > 0
    print(f"{transform:<10}{bpo:>9}{context:>9}{(guess == y_test).mean():>27.3f}{(guess[notes] == y_test[notes]).mean():>16.3f}")
