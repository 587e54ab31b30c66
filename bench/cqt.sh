#!/usr/bin/env bash
# CQT speed against librosa and spectro stage throughput, measured in one run on this machine.
# Needs the packages of scripts/install-deps.sh; makes .venv (librosa from PyPI) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check librosa
corpus="$(mktemp -d)"
"$bin/corpus" -o "$corpus" --categories MUS 2>/dev/null
.venv/bin/python bench/cqt.py "$bin" "$corpus"
rm -rf "$corpus"
