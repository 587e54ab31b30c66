#!/usr/bin/env bash
# The offset-head experiment (issue 14): does a head that learns where a key is released help
# the paper's single-label task and note ends? Needs a bench/pianos.sh output folder with stages
# 1-2 done (the training pianos' thumbnails, the development pianos' corpus). Packs the training
# thumbnails again with offset targets (pack --offsets), trains networks/piano88-offsets.json
# (piano88-slide.json plus an offset head) the way pianos.sh stage 3 trains the bundled model,
# then scores on the development pianos' isolated notes (never the left-out ones), by
# bench/isol_steps.py: the transcriptions over a grid of frame threshold, offset threshold and
# offset hold, and the frame head's argmax. About 12 minutes on 2 cores.
#
#   bench/offsets.sh PIANOS_DIR [--out DIR] [--steps N]
set -euo pipefail
pianos="" out=offsets steps=10000
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | cut -c3-; exit 0 ;;
        -*) echo "offsets.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) pianos="$1"; shift ;;
    esac
done
[ -d "$pianos/thumbs-train" ] || { echo "offsets.sh: give a bench/pianos.sh output folder with stages 1-2 done (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/.."
repo="$PWD"
pianos="$(realpath "$pianos")"
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
mkdir -p "$out" && cd "$out"
time "$bin/pack" "$pianos/thumbs-train" -o train.npz --split 19:1:0 --offsets
time "$bin/train" train.npz -o offsets.safetensors --arch "$repo/networks/piano88-offsets.json" --steps "$steps" \
    --lr-decay-steps $((steps / 2)) --eval-every 1000 2>&1 | tee train.log
"$bin/infer" "$pianos"/dev-cats/*/ISOL --model offsets.safetensors -o isol-dev --save-arrays --force >/dev/null 2>&1
echo "frame head argmax: $(python3 "$repo/bench/isol_steps.py" isol-dev --argmax isol-dev | grep -E '^[0-9]+ files')"
for frame in 0.2 0.4; do
    for offset in 0.3 0.5; do
        for hold in 0 500 2000; do
            # Note ends otherwise not moved (--end-threshold at the frame threshold), as measured in the README.
            "$bin/infer" "$pianos"/dev-cats/*/ISOL --model offsets.safetensors -o "notes-$frame-$offset-$hold" --threshold "$frame" \
                --end-threshold "$frame" --offset-threshold "$offset" --offset-hold-ms "$hold" --force >/dev/null 2>&1
            echo "notes, frame $frame offset $offset hold $hold ms: $(python3 "$repo/bench/isol_steps.py" "notes-$frame-$offset-$hold" | head -1)"
        done
    done
done
