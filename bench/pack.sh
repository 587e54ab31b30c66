#!/usr/bin/env bash
# pack's speed and size against numpy.savez_compressed on the demo corpus, and the streaming
# reader's peak memory on a 1M-example archive. Needs scripts/install-deps.sh's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check numpy
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin/corpus" -o "$work/corpus" 2>/dev/null
"$bin/ingest" "$work/corpus" -o "$work/notemaps" 2>/dev/null
"$bin/spectro" "$work/notemaps" -o "$work/thumbs" 2>/dev/null
.venv/bin/python bench/pack.py "$bin" "$work/thumbs" "$work"
