"""infer against Spotify's basic-pitch 0.4.0 (ONNX runtime) on the same recordings: real-time factor
(audio seconds / wall seconds, median of several runs) and onset-only note precision, recall and F1
(mir_eval, 50 ms onset tolerance) against the `<stem>.txt` reference beside each wav.

Run through bench/infer.sh: BIN_DIR MODEL WAV_OR_FOLDER...  (in .venv-bench, which has basic-pitch).
Environment: INFER_BENCH_RUNS (default 3), INFER_BENCH_JOBS (infer's --jobs, default 2),
INFER_BENCH_SKIP=infer|basic-pitch (time one system only).

Ours is timed as a whole process (`infer MODEL wavs -o DIR --jobs N --force`: start-up, model load,
audio, front end, network, notes, files, metrics); basic-pitch as `predict` over every file with the
model loaded once beforehand (audio loading and resampling included, model load not).
"""

import contextlib
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile

import mir_eval

RUNS = int(os.environ.get("INFER_BENCH_RUNS", "3"))
JOBS = int(os.environ.get("INFER_BENCH_JOBS", "2"))
SKIP = os.environ.get("INFER_BENCH_SKIP", "")
HEADER = "OnsetTime\tOffsetTime\tMidiPitch"


def find_wavs(inputs):
    wavs = []
    for item in map(Path, inputs):
        if item.is_dir():
            wavs += sorted(p for p in item.rglob("*.wav") if not p.name.startswith("."))
        elif item.suffix.lower() == ".wav" and item.is_file():
            wavs.append(item)
        else:
            sys.exit(f"{item}: not a wav file or a folder")
    stems = [w.stem for w in wavs]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        sys.exit(f"recordings with the same stem (outputs would collide): {duplicates}")
    if not wavs:
        sys.exit("no wav files found")
    return wavs


def read_txt(path):
    """[(onset, offset, pitch)] of a MAPS note list."""
    lines = Path(path).read_text().replace("\r", "\n").split("\n")
    if lines[0].strip() != HEADER:
        raise ValueError(f"{path}: not a MAPS note list (header {lines[0]!r})")
    return [(float(a), float(b), int(c)) for a, b, c in (l.split() for l in lines[1:] if l.strip())]


def note_counts(ref, est):
    """(matched, estimated, reference) of mir_eval's onset-only note matching (offsets ignored)."""
    if not ref or not est:
        return 0, len(est), len(ref)
    ref_iv = np.array([(a, b) for a, b, _ in ref])
    est_iv = np.array([(a, b) for a, b, _ in est])
    ref_hz = mir_eval.util.midi_to_hz(np.array([p for *_, p in ref], dtype=float))
    est_hz = mir_eval.util.midi_to_hz(np.array([p for *_, p in est], dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matched = len(mir_eval.transcription.match_notes(ref_iv, ref_hz, est_iv, est_hz, offset_ratio=None))
    return matched, len(est), len(ref)


def prf(counts):
    """Precision, recall, F1 of summed (matched, estimated, reference) counts."""
    matched, estimated, reference = (sum(c[i] for c in counts) for i in range(3))
    p = matched / estimated if estimated else 0.0
    r = matched / reference if reference else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def f1_of(counts):
    return prf([counts])[2]


def run_infer(bin_dir, model, wavs, out):
    command = [str(Path(bin_dir) / "infer"), str(model), *map(str, wavs), "-o", str(out), "--jobs", str(JOBS), "--force"]
    walls = []
    for run in range(RUNS):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"infer failed (exit {result.returncode}):\n$ {' '.join(command)}\n{result.stderr[-3000:]}")
        print(f"  infer run {run + 1}: {walls[-1]:.2f} s", file=sys.stderr)
    notes = {}
    own = {}
    for wav in wavs:
        txt = out / f"{wav.stem}.txt"
        if not txt.is_file():
            sys.exit(f"infer wrote no {txt}")
        notes[wav.stem] = read_txt(txt)
        metrics = out / f"{wav.stem}.metrics.json"
        if metrics.is_file():
            own[wav.stem] = json.loads(metrics.read_text())
    return walls, notes, own, result.stdout


def run_basic_pitch(wavs):
    logging.getLogger().setLevel(logging.ERROR)  # its import warns about every runtime it lacks
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    model = Model(ICASSP_2022_MODEL_PATH)
    kind = getattr(model.model_type, "name", str(model.model_type))
    walls, notes = [], {}
    for run in range(RUNS):
        start = time.perf_counter()
        for wav in wavs:
            with contextlib.redirect_stdout(io.StringIO()):  # predict prints a line per file
                _, _, events = predict(str(wav), model)
            notes[wav.stem] = [(float(s), float(e), int(p)) for s, e, p, *_ in events]
        walls.append(time.perf_counter() - start)
        print(f"  basic-pitch run {run + 1}: {walls[-1]:.2f} s", file=sys.stderr)
    return walls, notes, f"{Path(ICASSP_2022_MODEL_PATH).name} via {kind}"


def model_metadata(model):
    """The safetensors header's __metadata__ (network spec, input shape, frontEnd JSON; Schemas/model.md)."""
    with open(model, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(size))["__metadata__"]


def network_share(bin_dir, model, seconds, wall):
    """GFLOP/s the whole infer process reaches in the network's convolution and dense layers,
    as a fraction of one sgemm's peak at the same thread count (bench-train --peak)."""
    meta = model_metadata(model)
    front = json.loads(meta["frontEnd"])["transform"]
    steps = sum(int(s * front["sampleRate"]) // front["hop"] + 1 for s in seconds.values())
    if "network" in meta:
        spec, (_, rows, columns) = json.loads(meta["network"]), json.loads(meta["input"])
    else:  # version 1 model files
        spec, rows = {"name": meta["architecture"]}, int(meta["inputSize"])
        columns = rows
    with tempfile.NamedTemporaryFile("w", suffix=".json") as spec_file:
        json.dump(spec, spec_file)
        spec_file.flush()
        arch = spec_file.name if "layers" in spec else spec["name"]
        out = subprocess.run([str(bin_dir / "bench-train"), "--peak", "--arch", arch, "--rows", str(rows), "--columns", str(columns),
                              "--threads", str(JOBS)], check=True, capture_output=True, text=True).stdout.split()
    flops, peak, sliding = int(out[1]), float(out[3]), int(out[5])
    # infer slides the network over each recording when it can (its default --evaluation auto).
    how = f"sliding: {sliding / 1e6:.1f} MFLOP per step, {flops / 1e6:.1f} per thumbnail" if sliding else f"{flops / 1e6:.1f} MFLOP per step"
    flops = sliding or flops
    achieved = steps * flops / wall / 1e9
    print(f"network: {spec['name']}, {rows}x{columns} input, {how}, "
          f"{steps} steps in {wall:.2f} s = {steps / wall:.0f} steps/s = {achieved:.1f} GFLOP/s, "
          f"{100 * achieved / peak:.0f}% of sgemm peak {peak:.1f} GFLOP/s ({JOBS} threads; whole process incl. front end)")


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: infer.py BIN_DIR MODEL.safetensors WAV_OR_FOLDER...")
    bin_dir, model, wavs = Path(sys.argv[1]), Path(sys.argv[2]), find_wavs(sys.argv[3:])
    seconds = {w.stem: soundfile.info(str(w)).duration for w in wavs}
    audio = sum(seconds.values())
    references = {w.stem: read_txt(w.with_suffix(".txt")) for w in wavs if w.with_suffix(".txt").is_file()}
    print(f"{len(wavs)} recordings, {audio:.1f} s of audio, {len(references)} with a <stem>.txt reference; "
          f"{os.cpu_count()} CPUs, median of {RUNS} runs")

    systems = {}
    if SKIP != "infer":
        with tempfile.TemporaryDirectory(prefix="bench-infer-") as out:
            walls, notes, own, table = run_infer(bin_dir, model, wavs, Path(out))
        systems["infer"] = (walls, notes, f"--jobs {JOBS}, whole process")
    if SKIP != "basic-pitch":
        walls, notes, how = run_basic_pitch(wavs)
        systems["basic-pitch 0.4.0"] = (walls, notes, how)

    print()
    print(f"{'system':<18}{'audio s':>9}{'wall s':>9}{'RTF':>8}{'note P':>8}{'note R':>8}{'note F1':>9}  how")
    rtf = {}
    for name, (walls, notes, how) in systems.items():
        wall = statistics.median(walls)
        rtf[name] = audio / wall
        counts = [note_counts(references[s], notes[s]) for s in references]
        p, r, f = prf(counts) if counts else (float("nan"),) * 3
        print(f"{name:<18}{audio:>9.1f}{wall:>9.2f}{rtf[name]:>8.1f}{p:>8.3f}{r:>8.3f}{f:>9.3f}  {how}")
    if len(rtf) == 2:
        ours, theirs = rtf["infer"], rtf["basic-pitch 0.4.0"]
        print(f"RTF ratio infer / basic-pitch: {ours / theirs:.2f}")
    if "infer" in systems:
        network_share(bin_dir, model, seconds, statistics.median(systems["infer"][0]))
    print("RTF = audio seconds / wall seconds (higher is faster); P/R/F1 pooled over files, onsets within 50 ms, "
          "pitch exact, offsets ignored (mir_eval)")

    if references:
        print()
        names = list(systems)
        print(f"{'recording':<48}{'audio s':>8}{'notes':>7}" + "".join(f"{n.split()[0] + ' F1':>16}" for n in names)
              + ("   infer's own F1" if "infer" in systems else ""))
        for stem in sorted(references):
            row = f"{stem[:47]:<48}{seconds[stem]:>8.1f}{len(references[stem]):>7}"
            for n in names:
                row += f"{f1_of(note_counts(references[stem], systems[n][1][stem])):>16.3f}"
            if "infer" in systems:
                mine = own.get(stem, {}).get("note", {}).get("f1")
                row += f"{mine:>17.3f}" if isinstance(mine, (int, float)) else f"{'-':>17}"
            print(row)


if __name__ == "__main__":
    main()
