#!/usr/bin/env bash
# Training and inference throughput of a network spec against PyTorch on CPU (same layers, heads,
# batch 128 and threads; PyTorch channels-last). Installs the CPU wheel torch==2.13.0 into .venv.
#   bash bench/train-spec.sh [SPEC.json] [ROWSxCOLS] [THREADS] [STEPS] [REPEATS]
# Default: networks/keys88.json on 88x16 inputs, all cores, 10 steps, median of 3.
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-networks/keys88.json}" size="${2:-88x16}" threads="${3:-$(nproc)}" steps="${4:-10}" repeats="${5:-3}"
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python bench/train_spec.py "$bin" "$spec" "${size%x*}" "${size#*x}" "$threads" "$steps" "$repeats"
