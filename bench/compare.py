"""Scores transcriptions against MAPS references with mir_eval, pooled per MAPS category and over
all files: note-onset P/R/F1 (onsets within 50 ms, pitch exact, offsets ignored; counts summed
over files), the F1 of notes whose offset matches too (mir_eval's default: within 20% of the
reference note's length or 50 ms, whichever is more) and frame P/R/F1 (10 ms frames, mir_eval.multipitch counts summed over files); and,
where an estimate folder has velocities (<stem>.mid, or basic-pitch's <stem>.velocity.tsv), the
Pearson correlation of estimated with true MIDI velocity over the matched notes.

    python bench/compare.py REFERENCE_FOLDER NAME=ESTIMATE_FOLDER...

Each estimate folder holds <stem>.txt MAPS note lists (what infer and
bench/transcribe_basic_pitch.py write) for the <stem>.wav/<stem>.txt pairs under REFERENCE_FOLDER.
"""
import sys
import warnings
from pathlib import Path

import mir_eval
import numpy as np

HOP = 0.01


def read(path):
    rows = [l.split() for l in Path(path).read_text().splitlines()[1:] if l.strip()]
    return [(float(a), float(b), int(c)) for a, b, c in rows]


def velocities_of(folder, stem):
    """{(onset rounded to 1 ms, pitch): velocity} of an estimate, or None when it has none."""
    mid, tsv = Path(folder) / f"{stem}.mid", Path(folder) / f"{stem}.velocity.tsv"
    if tsv.is_file():
        rows = [l.split() for l in tsv.read_text().splitlines() if l.strip()]
        return {(round(float(t), 3), int(p)): int(v) for t, p, v in rows}
    if mid.is_file():
        import pretty_midi
        notes = [n for i in pretty_midi.PrettyMIDI(str(mid)).instruments for n in i.notes]
        return {(round(n.start, 3), n.pitch): n.velocity for n in notes}
    return None


def true_velocities(reference_txt):
    import pretty_midi
    notes = [n for i in pretty_midi.PrettyMIDI(str(reference_txt.with_suffix(".mid"))).instruments for n in i.notes]
    return {(round(n.start, 3), n.pitch): n.velocity for n in notes}


def matched_notes(ref, est, offset_ratio=None):
    """mir_eval's note matching, onset-only (offsets ignored) unless `offset_ratio` is given:
    [(reference index, estimate index)]."""
    if not ref or not est:
        return []
    ri = np.array([(a, b) for a, b, _ in ref]); ei = np.array([(a, max(b, a + 1e-3)) for a, b, _ in est])
    rp = mir_eval.util.midi_to_hz(np.array([p for *_, p in ref], float))
    ep = mir_eval.util.midi_to_hz(np.array([p for *_, p in est], float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mir_eval.transcription.match_notes(ri, rp, ei, ep, offset_ratio=offset_ratio)


def velocity_pairs(ref, est, matched, ref_vel, est_vel):
    """(true, estimated) velocity of each matched note that both sides give a velocity for."""
    if ref_vel is None or est_vel is None:
        return []
    pairs = []
    for i, j in matched:
        rv = ref_vel.get((round(ref[i][0], 3), ref[i][2]))
        ev = est_vel.get((round(est[j][0], 3), est[j][2]))
        if rv is not None and ev is not None:
            pairs.append((rv, ev))
    return pairs


def frame_counts(ref, est):
    end = max([b for _, b, _ in ref + est] + [0]) + HOP
    times = np.arange(0, end, HOP)

    def roll(notes):
        active = [[] for _ in times]
        for a, b, p in notes:
            for i in range(int(np.ceil(a / HOP - 1e-9)), min(len(times), int(np.ceil(b / HOP - 1e-9)))):
                active[i].append(p)
        return [set(x) for x in active]

    r, e = roll(ref), roll(est)
    tp = sum(len(x & y) for x, y in zip(r, e))
    return np.array([tp, sum(map(len, e)), sum(map(len, r))])


def prf(c):
    p = c[0] / c[1] if c[1] else 0.0
    r = c[0] / c[2] if c[2] else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def category(stem):
    for name in ("ISOL", "RAND", "UCHO", "MUS"):
        if stem.startswith(f"MAPS_{name}"):
            return name
    return "other"


def score_file(ref_txt, folder):
    """One estimate of one recording: note counts (matched, estimated, reference), frame counts,
    the (true, estimated) velocity pairs of its matched notes, and note counts with offsets."""
    ref = read(ref_txt)
    est_path = Path(folder) / f"{ref_txt.stem}.txt"
    est = read(est_path) if est_path.is_file() else []
    matched = matched_notes(ref, est)
    ref_vel = true_velocities(ref_txt) if ref_txt.with_suffix(".mid").is_file() else None
    pairs = velocity_pairs(ref, est, matched, ref_vel, velocities_of(folder, ref_txt.stem))
    with_offsets = len(matched_notes(ref, est, offset_ratio=0.2))
    return np.array([len(matched), len(est), len(ref)]), frame_counts(ref, est), pairs, np.array([with_offsets, len(est), len(ref)])


def main():
    root = Path(sys.argv[1])
    systems = dict(a.split("=", 1) for a in sys.argv[2:])
    refs = {w.stem: w.with_suffix(".txt") for w in sorted(root.rglob("*.wav")) if w.with_suffix(".txt").is_file()}
    print(f"{len(refs)} recordings under {root}")
    print(f"{'':<14}" + "".join(f"{n[:43]:>45}" for n in systems))
    print(f"{'category':<8}{'files':>6}" + f"{'note P':>10}{'note R':>8}{'note F1':>8}{'+offset F1':>11}{'frame F1':>10}" * len(systems))
    scores = {name: {s: score_file(refs[s], folder) for s in refs} for name, folder in systems.items()}
    for cat in ("ISOL", "RAND", "UCHO", "MUS", "pooled"):
        stems = [s for s in refs if cat == "pooled" or category(s) == cat]
        if not stems:
            continue
        row = f"{cat:<8}{len(stems):>6}"
        for name in systems:
            nc = sum(scores[name][s][0] for s in stems)
            fc = sum(scores[name][s][1] for s in stems)
            oc = sum(scores[name][s][3] for s in stems)
            p, r, f = prf(nc)
            row += f"{p:>10.3f}{r:>8.3f}{f:>8.3f}{prf(oc)[2]:>11.3f}{prf(fc)[2]:>10.3f}"
        print(row)
    for name in systems:
        found = [pair for s in refs for pair in scores[name][s][2]]
        if len(found) > 2:
            true, estimated = np.array(found, float).T
            print(f"{name}: velocity of {len(found)} matched notes, Pearson r {np.corrcoef(true, estimated)[0, 1]:.3f}, "
                  f"mean absolute error {np.mean(np.abs(true - estimated)):.1f}")


if __name__ == "__main__":
    main()
