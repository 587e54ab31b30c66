#!/usr/bin/env bash
# The main job end to end on the small built-in corpus: install, build, render the demo corpus,
# ingest it into note maps, cut it into per-step spectrogram thumbnails, and pack them.
# Usage: scripts/demo.sh [OUTPUT_DIR]   (default: demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo}"
bash scripts/install-deps.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)"
start=$SECONDS
"$bin/corpus" --size demo -o "$out/corpus"
echo "corpus: $((SECONDS - start)) s"
start=$SECONDS
"$bin/ingest" "$out/corpus" -o "$out/notemaps"
echo "ingest: $((SECONDS - start)) s"
start=$SECONDS
"$bin/spectro" "$out/notemaps" -o "$out/thumbs"
echo "spectro: $((SECONDS - start)) s"
start=$SECONDS
"$bin/pack" "$out/thumbs" -o "$out/data.npz"
"$bin/pack" verify "$out/data.npz"
echo "pack: $((SECONDS - start)) s"
"$bin/pack" info "$out/data.npz" | grep -v "^  classes"
echo "demo corpus in $out/corpus, note maps in $out/notemaps, thumbnails in $out/thumbs (see $out/thumbs/*/preview.jpg), archive $out/data.npz"
