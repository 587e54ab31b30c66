#!/usr/bin/env bash
# The whole pipeline on the built-in demo corpus, stage by stage, in the Kaldi run.sh manner:
# each stage is one command reading the previous stage's files, so you can run them yourself.
#
#   scripts/run.sh [--stage N] [--stop-stage N] [--out DIR] [--steps N] [--arch simple|original] [--labels single|multi]
#
#   0 corpus   render a MAPS-layout corpus with fluidsynth           -> DIR/corpus
#   1 ingest   note maps from the wav/mid/txt triples                -> DIR/notemaps
#   2 spectro  one 32x32 CQT thumbnail per step                      -> DIR/thumbs
#   3 pack     train/valid/test archive; the test split is a whole
#              instrument (FR3Brght) the model never hears          -> DIR/data.npz
#   4 train    the CNN on the archive                                -> DIR/model.safetensors (+ log, loss curve)
#   5 infer    transcribe the held-out instrument's pieces (MUS)    -> DIR/infer (MIDI, note lists, piano rolls, metrics)
#   6 bundled  the bundled model (docs/model-card.md) on pieces played by the freepats piano,
#              a sample set neither model ever heard (rendered by timidity) -> DIR/infer-bundled;
#              and the paper's single-label task on that piano's isolated notes, read through
#              the bundled model's temporal stage (infer --single-label) -> DIR/infer-bundled-isol
#
# Build first (swift build -c release); scripts/demo.sh installs, builds and runs this.
set -euo pipefail
stage=0 stop_stage=6 out=demo steps=1000 arch=simple labels=multi
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage="$2"; shift 2 ;;
        --stop-stage) stop_stage="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --arch) arch="$2"; shift 2 ;;
        --labels) labels="$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)"
for tool in corpus ingest spectro pack train infer; do
    [ -x "$bin/$tool" ] || { echo "run.sh: $bin/$tool not built: run swift build -c release first" >&2; exit 1; }
done
test_instrument=FR3Brght

run() {  # run N NAME COMMAND...: run a stage when N is within --stage..--stop-stage, timing it
    local n="$1" name="$2"; shift 2
    if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 0; fi
    echo "== stage $n: $name"
    local start=$SECONDS
    "$@"
    echo "== stage $n: $name took $((SECONDS - start)) s"
}

run 0 corpus "$bin/corpus" --size demo -o "$out/corpus"
run 0 corpus-freepats "$bin/corpus" --size demo --categories ISOL,MUS --instruments FPGrand -o "$out/corpus-freepats"
run 1 ingest "$bin/ingest" "$out/corpus" -o "$out/notemaps"
run 2 spectro "$bin/spectro" "$out/notemaps" -o "$out/thumbs"
run 3 pack "$bin/pack" "$out/thumbs" -o "$out/data.npz" --test-instruments "$test_instrument"
run 3 verify "$bin/pack" verify "$out/data.npz"
run 4 train "$bin/train" "$out/data.npz" -o "$out/model.safetensors" --arch "$arch" --labels "$labels" \
    --steps "$steps" --eval-every 250
run 5 infer "$bin/infer" "$out/model.safetensors" "$out/corpus/$test_instrument/MUS" -o "$out/infer" --force
run 6 bundled "$bin/infer" "$out/corpus-freepats/FPGrand/MUS" -o "$out/infer-bundled" --force
last_lines() { "$@" | tail -2; }  # infer's table has a row per note: its mean line and where the outputs are
run 6 bundled-single-label last_lines "$bin/infer" "$out/corpus-freepats/FPGrand/ISOL" -o "$out/infer-bundled-isol" --single-label --force

if [ "$stop_stage" -ge 5 ]; then
    echo
    echo "model $out/model.safetensors (log $out/model.log.csv, loss curve $out/model.loss.svg), trained on FR3Grand"
    echo "transcriptions of $test_instrument's pieces in $out/infer: <stem>.mid, <stem>.txt, piano rolls <stem>.roll.svg, metrics <stem>.metrics.json, summary.json"
fi
if [ "$stop_stage" -ge 6 ]; then
    echo "the bundled model's transcriptions of the freepats piano's pieces in $out/infer-bundled"
    echo "its single labels of that piano's isolated notes, step by step, in $out/infer-bundled-isol: <stem>.steps.txt"
fi
