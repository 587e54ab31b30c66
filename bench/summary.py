"""Pools an infer output folder's metrics (summary.json) over its files: note-onset and frame
precision/recall/F1 from the summed counts, pooled and (--by-category) per MAPS category.

    python3 bench/summary.py INFER_OUT [--by-category | --macro]

--macro prints one line: the mean over the categories present of each category's note and frame
F1 (every category counts the same, however many notes it has), then the pooled figures.
"""
import json
import sys


def category(stem):
    for name in ("ISOL", "RAND", "UCHO", "MUS"):
        if stem.startswith(f"MAPS_{name}"):
            return name
    return "other"


def scores(files):
    """Note and frame (precision, recall, F1) from the files' summed counts."""
    n = {k: sum(f["note"][k] for f in files) for k in ("matched", "estimated", "reference")}
    fr = {k: sum(f["frame"][k] for f in files) for k in ("truePositives", "estimated", "reference")}

    def prf(tp, est, ref):
        p = tp / est if est else 0.0
        r = tp / ref if ref else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    return prf(n["matched"], n["estimated"], n["reference"]), prf(fr["truePositives"], fr["estimated"], fr["reference"])


def pooled(files):
    (np_, nr, nf), (fp, fr_, ff) = scores(files)
    return f"files={len(files)} note P={np_:.3f} R={nr:.3f} F1={nf:.3f} frame P={fp:.3f} R={fr_:.3f} F1={ff:.3f}"


def main():
    folder = sys.argv[1]
    files = [f for f in json.load(open(f"{folder}/summary.json"))["files"] if "note" in f]
    if "--by-category" in sys.argv:
        for name in ("ISOL", "RAND", "UCHO", "MUS"):
            chosen = [f for f in files if category(f["stem"]) == name]
            if chosen:
                print(f"{name}: {pooled(chosen)}")
        print(f"pooled: {pooled(files)}")
    elif "--macro" in sys.argv:
        groups = [g for g in ([f for f in files if category(f["stem"]) == name] for name in ("ISOL", "RAND", "UCHO", "MUS")) if g]
        note = sum(scores(g)[0][2] for g in groups) / len(groups)
        frame = sum(scores(g)[1][2] for g in groups) / len(groups)
        print(f"macro over {len(groups)} categories: note F1={note:.4f} frame F1={frame:.4f}; pooled {pooled(files)}")
    else:
        print(pooled(files))


if __name__ == "__main__":
    main()
