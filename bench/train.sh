#!/usr/bin/env bash
# Training and inference throughput against PyTorch on CPU (same network and initial weights,
# batch, threads): simple, original and the bundled model's spec. See bench/train.py.
#
#   bench/train.sh [THREADS [STEPS [REPEATS]]]    (defaults: nproc, 30, 3)
#
# Installs the CPU wheel torch==2.13.0 (and safetensors) into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0 safetensors numpy
.venv/bin/python bench/train.py "$bin" "${1:-$(nproc)}" "${2:-30}" "${3:-3}"
