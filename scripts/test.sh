#!/usr/bin/env bash
# Runs every test: the Swift suite, then the Python checks against independent references
# (mido for MIDI, jsonschema for the formats) and the bad-input and determinism suites in a venv
# made here from PyPI, then the kill test.
#
# Everything is built optimised, with testable imports, in its own folder (.build-test): the tests
# then check the code users run (the layers' SIMD kernels are many times slower unoptimised), and
# the Python and kill tests run the same binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release -Xswiftc -enable-testing --build-path .build-test)
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build
bin="$(swift build "${flags[@]}" --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r Tests/python/requirements.txt
BIN_DIR="$bin" .venv/bin/python -m pytest -q Tests/python
# Kill -9 each stage at random moments, re-run it, check every output (scripts/kill-test.sh; 20
# kills per stage there, 3 here to keep the suite short).
BIN_DIR="$bin" scripts/kill-test.sh --kills 3
