#!/usr/bin/env bash
# Training and inference throughput against PyTorch on CPU (same architecture, batch, threads).
# Installs the CPU wheel torch==2.13.0 into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
threads="${1:-$(nproc)}"
.venv/bin/python bench/train.py "$bin" "$threads"
