#!/usr/bin/env bash
# Runs every test: the Swift suite, then the Python checks against independent references
# (mido for MIDI, jsonschema for the formats) and the bad-input and determinism suites in a venv
# made here from PyPI, then the kill test.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r Tests/python/requirements.txt
BIN_DIR="$(swift build --show-bin-path)" .venv/bin/python -m pytest -q Tests/python
# Kill -9 each stage at random moments, re-run it, check every output (scripts/kill-test.sh; 20
# kills per stage there, 3 here to keep the suite short).
BIN_DIR="$(swift build --show-bin-path)" scripts/kill-test.sh --kills 3
