#!/usr/bin/env bash
# Reproduces the bundled model (Sources/PianoKit/Resources/piano-keys88.safetensors) from
# nothing: renders the training pianos under augmentation, cuts 88x16 thumbnails, packs and
# trains networks/piano88-deep2.json for 20,000 steps (bench/pianos.sh stages 1-3), adds the
# temporal stage (train-stage on the training pianos' isolated notes, threshold chosen on the
# development pianos'), then copies the model into the package's resources and prints its
# SHA-256. About 40 minutes on 2 cores with AVX-512 after the build, most of it training
# (docs/model-card.md has the measured times). Then
# rebuild (swift build -c release) so that infer finds the new model, and re-run
# bench/pianos.sh --stage 4 for its figures.
#
#   scripts/train-bundled.sh [--out DIR] [--steps N]
set -euo pipefail
out=bundled steps=20000
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | cut -c3-; exit 0 ;;
        *) echo "train-bundled.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bash bench/pianos.sh --out "$out" --stop-stage 3 --steps "$steps"
bin="$(swift build -c release --show-bin-path)"
(cd "$out" && time "$bin/train-stage" piano88.safetensors --train train-isol --dev dev-cats/*/ISOL -o piano88-stage.safetensors)
cp "$out/piano88-stage.safetensors" Sources/PianoKit/Resources/piano-keys88.safetensors
sha256sum Sources/PianoKit/Resources/piano-keys88.safetensors
