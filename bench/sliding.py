"""What sliding evaluation changes: `infer --evaluation sliding` against `--evaluation thumbnails`
with one model on the same recordings (both run with --save-arrays and references).

    python bench/sliding.py SLIDING_DIR THUMBNAILS_DIR

Per recording and pooled: the network's input pixels (sliding: the strip before JPEG; thumbnails:
the JPEG round-tripped thumbnails) as mean and 99th-percentile |difference| in grey levels, the
output probabilities' mean, 99th-percentile and largest |difference|, and each mode's note F1
(onsets within 50 ms) and frame F1 from <stem>.metrics.json.
"""

import json
import sys
from pathlib import Path

import numpy as np


def main(sliding: Path, thumbnails: Path) -> None:
    rows, pixels, probabilities, f1 = [], [], [], {"sliding": [], "thumbnails": []}
    for out in sorted(sliding.glob("*.outputs.npy")):
        stem = out.name[: -len(".outputs.npy")]
        a, b = np.load(out), np.load(thumbnails / out.name)
        pa = np.load(sliding / f"{stem}.thumbnails.npy").astype(np.int16)
        pb = np.load(thumbnails / f"{stem}.thumbnails.npy").astype(np.int16)
        dp, dq = np.abs(pa - pb).ravel(), np.abs(a - b).ravel()
        pixels.append(dp)
        probabilities.append(dq)
        scores = []
        for mode, folder in (("sliding", sliding), ("thumbnails", thumbnails)):
            m = json.loads((folder / f"{stem}.metrics.json").read_text())
            scores.append((m["note"]["f1"], m["frame"]["f1"]))
            f1[mode].append(scores[-1])
        rows.append((stem, dp.mean(), np.percentile(dp, 99), dq.mean(), np.percentile(dq, 99), dq.max(), *scores[0], *scores[1]))
    print(f"{'recording':44s} {'pix mean':>8s} {'pix p99':>7s} {'prob mean':>9s} {'prob p99':>8s} {'prob max':>8s}"
          f" {'slide note':>10s} {'frame':>6s} {'thumb note':>10s} {'frame':>6s}")
    for r in rows:
        print(f"{r[0][:44]:44s} {r[1]:8.2f} {r[2]:7.0f} {r[3]:9.4f} {r[4]:8.4f} {r[5]:8.3f} {r[6]:10.3f} {r[7]:6.3f} {r[8]:10.3f} {r[9]:6.3f}")
    dp, dq = np.concatenate(pixels), np.concatenate(probabilities)
    mean = {k: np.mean(v, axis=0) for k, v in f1.items()}
    print(f"{'all (' + str(len(rows)) + ' recordings, means of F1)':44s} {dp.mean():8.2f} {np.percentile(dp, 99):7.0f} {dq.mean():9.4f}"
          f" {np.percentile(dq, 99):8.4f} {dq.max():8.3f} {mean['sliding'][0]:10.3f} {mean['sliding'][1]:6.3f}"
          f" {mean['thumbnails'][0]:10.3f} {mean['thumbnails'][1]:6.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
