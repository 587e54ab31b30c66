#!/usr/bin/env bash
# Kill test: each stage (corpus, ingest, spectro, pack, train, infer) is started on a small
# corpus, killed with SIGKILL at a random moment within its measured normal run time, checked,
# re-run without --force (train also with --resume) and checked again; --kills times per stage.
# Prints `stage: N/N kills, re-runs valid` per stage; exits 1 on any failure. Details and
# options: scripts/kill_test.py (--help).
#
#   scripts/kill-test.sh [--kills N] [--stages corpus,ingest,...] [--seed S] [--work DIR] [--keep] [-v]
#
# Uses the release binaries (swift build -c release) unless BIN_DIR names another folder, and
# the venv .venv (scripts/test.sh makes it) for numpy, Pillow, jsonschema, mido and safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
export BIN_DIR="${BIN_DIR:-$PWD/.build/release}"
python=.venv/bin/python
[ -x "$python" ] || python=python3
exec "$python" scripts/kill_test.py "$@"
