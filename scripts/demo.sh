#!/usr/bin/env bash
# The main job end to end on the small built-in corpus: install the packages, build, then
# scripts/run.sh: render the demo corpus, ingest it, cut it into thumbnails, pack them, train
# the CNN on one instrument and transcribe the other instrument's pieces, printing the metrics.
# Usage: scripts/demo.sh [run.sh options, e.g. --out DIR --steps N]   (default output: demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
exec scripts/run.sh "$@"
