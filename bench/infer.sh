#!/usr/bin/env bash
# infer's speed and note F1 against Spotify's basic-pitch 0.4.0 on the same recordings, in one run:
# real-time factors (audio seconds / wall seconds, median of 3), their ratio, and both systems'
# onset-only note P/R/F1 (mir_eval) against the <stem>.txt reference beside each wav.
#
#   bash bench/infer.sh MODEL.safetensors WAV_OR_FOLDER...
#
# basic-pitch runs on onnxruntime in its own venv, .venv-bench (installed --no-deps: its wheel
# insists on tensorflow, which it does not need when onnxruntime is there).
# Then the network's GFLOP/s inside infer as a fraction of sgemm's peak, and the forward pass
# against PyTorch (bench/train.py).
# Environment: INFER_BENCH_RUNS (3), INFER_BENCH_JOBS (infer --jobs, 2), INFER_BENCH_SKIP=infer|basic-pitch.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash bench/infer.sh MODEL.safetensors WAV_OR_FOLDER..." >&2
    exit 2
fi
args=()
for path in "$@"; do args+=("$(realpath "$path")"); done
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv-bench/bin/python ]; then python3 -m venv .venv-bench; fi
pip=(.venv-bench/bin/pip install -q --disable-pip-version-check)
"${pip[@]}" --no-deps basic-pitch==0.4.0
# basic-pitch's runtime imports (numba, soundfile, soxr, ... come with librosa); pip's resolver
# complains that tensorflow is missing, which is expected.
"${pip[@]}" onnxruntime librosa mir_eval pretty_midi 'resampy<0.4.3' scikit-learn scipy numpy mido typing-extensions 2>&1 \
    | grep -v -e "tensorflow" -e "dependency resolver does not currently" || true
.venv-bench/bin/python -c "import basic_pitch.inference, onnxruntime" 2>/dev/null \
    || { echo "basic-pitch does not import in .venv-bench" >&2; exit 1; }
.venv-bench/bin/python bench/infer.py "$bin" "${args[@]}"
# The network's forward pass (and a training step) against PyTorch on CPU, same architecture,
# batch 128 and threads: bench/train.sh's comparison, with torch in .venv.
echo
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python bench/train.py "$bin" "${INFER_BENCH_JOBS:-2}"
