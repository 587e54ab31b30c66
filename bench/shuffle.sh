#!/usr/bin/env bash
# The archive's example order against the training curve: packs one thumbnail tree with several
# --shuffle-block settings and trains the same multi-label model on each, printing the archive's
# size and pack time, the cross-entropy every 250 steps (a category-by-category order shows as
# jumps), the valid accuracy and the test key scores.
#   bash bench/shuffle.sh THUMBS_DIR [--steps 2000] [--blocks "1 16 1000000"] [--out DIR]
# 1000000 keeps each recording whole (recordings in random order); archives from before issue 13
# were in recording-name order, one MAPS category after another.
set -euo pipefail
thumbs="$1"; shift
steps=2000 blocks="1 16 1000000" out=/tmp/shuffle-bench
while [ $# -gt 0 ]; do
    case "$1" in
        --steps) steps="$2"; shift 2 ;;
        --blocks) blocks="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "shuffle.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
mkdir -p "$out"
for block in $blocks; do
    start=$SECONDS
    "$bin/pack" "$thumbs" -o "$out/block$block.npz" --shuffle-block "$block" 2>/dev/null
    packed=$((SECONDS - start))
    "$bin/train" "$out/block$block.npz" -o "$out/block$block.safetensors" --labels multi --steps "$steps" --eval-every 250 2> "$out/block$block.train.log"
    echo "== --shuffle-block $block: $(stat -c %s "$out/block$block.npz") bytes, packed in ${packed} s"
    awk -F, 'NR > 1 { ce = ce sprintf(" %.2f", $2); if ($6 != "") va = va " " $6 } END { print "cross-entropy:" ce; print "valid accuracy:" va }' "$out/block$block.log.csv"
    grep -A1 "^test:" "$out/block$block.train.log" | tail -1
done
