#!/usr/bin/env bash
# How well a model generalises to a piano it never heard: train on FR3Grand, test on FR3Brght.
# For each configuration (a front end for spectro plus train options) it reports
#   ISOL single   the paper's task: a single-label model trained on FR3Grand's isolated notes,
#                 step accuracy on FR3Brght's isolated notes
#   ISOL multi    a multi-label model trained on all of FR3Grand (ISOL + RAND + UCHO + MUS),
#                 exact key-set accuracy per step on FR3Brght's isolated notes
#   MUS note/frame  that multi-label model through infer on FR3Brght's pieces: mir_eval note
#                 P/R/F1 (onsets within 50 ms) and frame F1, pooled over the pieces
# and basic-pitch 0.4.0's note P/R/F1 on the same pieces (bench/infer.py, in .venv-bench).
#
#   bench/unseen.sh [--out DIR] [--steps N] [--no-basic-pitch] [NAME='SPECTRO OPTS|TRAIN OPTS' ...]
#
# Default configurations: the paper's front end and the toolkit's defaults. Corpora: the demo
# corpus's isolated notes and the full corpus's chords and pieces, rendered into DIR (seconds).
# Build first: swift build -c release.
set -euo pipefail
out=unseen steps=1000 basic_pitch=1 configs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --no-basic-pitch) basic_pitch=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "unseen.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) configs+=("$1"); shift ;;
    esac
done
[ ${#configs[@]} -gt 0 ] || configs=(
    "paper=--bins-per-octave 36 --size 32 --context 32|--arch simple"
    "defaults=|"
)
cd "$(dirname "$0")/.."
repo="$PWD"
bin="$(swift build -c release --show-bin-path)"
for tool in corpus ingest spectro pack train infer; do
    [ -x "$bin/$tool" ] || { echo "unseen.sh: $bin/$tool not built: run swift build -c release first" >&2; exit 1; }
done
mkdir -p "$out/models" && cd "$out"

"$bin/corpus" --size demo --categories ISOL -o corpus-demo
"$bin/corpus" --size full --categories RAND,UCHO,MUS -o corpus-full
"$bin/ingest" corpus-demo corpus-full -o notemaps
pieces=corpus-full/FR3Brght/MUS

table=()
for config in "${configs[@]}"; do
    name="${config%%=*}" rest="${config#*=}"
    front_end="${rest%%|*}" train_options="${rest#*|}"
    echo "== $name: spectro $front_end; train $train_options --steps $steps"
    start=$SECONDS
    # Word splitting of the option strings is intended.
    # shellcheck disable=SC2086
    {
        "$bin/spectro" notemaps/*FR3Grand*.notemap.json notemaps/MAPS_ISOL_*FR3Brght*.notemap.json -o "thumbs-$name" $front_end
        "$bin/pack" thumbs-"$name"/MAPS_ISOL_* -o "$name-isol.npz" --test-instruments FR3Brght
        "$bin/pack" "thumbs-$name" -o "$name-all.npz" --test-instruments FR3Brght
        "$bin/train" "$name-isol.npz" -o "models/$name-single.safetensors" --labels single --steps "$steps" \
            --eval-every "$steps" $train_options 2> "models/$name-single.log"
        "$bin/train" "$name-all.npz" -o "models/$name-multi.safetensors" --labels multi --steps "$steps" \
            --eval-every "$steps" $train_options 2> "models/$name-multi.log"
    }
    "$bin/infer" "models/$name-multi.safetensors" "$pieces" -o "infer-$name" --force > "infer-$name.log"
    single=$(sed -n 's/^test: [0-9]* examples, accuracy \([0-9.]*\).*/\1/p' "models/$name-single.log")
    multi=$(sed -n 's/^test: [0-9]* examples, accuracy \([0-9.]*\).*/\1/p' "models/$name-multi.log")
    scores=$(python3 - "infer-$name/summary.json" <<'EOF'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
total = lambda part, key: sum(f[part][key] for f in files)
m, e, r = total("note", "matched"), total("note", "estimated"), total("note", "reference")
tp, fe, fr = total("frame", "truePositives"), total("frame", "estimated"), total("frame", "reference")
print("%.3f %.3f %.3f %.3f" % (m / max(e, 1), m / max(r, 1), 2 * m / max(e + r, 1), 2 * tp / max(fe + fr, 1)))
EOF
)
    table+=("$(printf '%-10s %8s %8s   %s %s %s   %s  %5d s   %s | %s' "$name" "$single" "$multi" $scores $((SECONDS - start)) "${front_end:-(spectro defaults)}" "${train_options:-(train defaults)}")")
done

if [ "$basic_pitch" = 1 ] && [ -x "$repo/.venv-bench/bin/python" ]; then
    bp=$(INFER_BENCH_SKIP=infer INFER_BENCH_RUNS=1 "$repo/.venv-bench/bin/python" "$repo/bench/infer.py" "$bin" none "$pieces" \
        | awk '/^basic-pitch/ { print $6, $7, $8 }')
else
    bp="(not run: bench/infer.sh installs basic-pitch into .venv-bench)"
fi

echo
echo "Trained on FR3Grand, tested on FR3Brght ($steps steps; pieces: $pieces, $(ls "$pieces"/*.wav | wc -l) recordings)"
printf '%-10s %8s %8s   %-23s %8s  %7s   %s\n' "config" "ISOL" "ISOL" "MUS note" "MUS" "time" "spectro | train options"
printf '%-10s %8s %8s   %-23s %8s  %7s\n' "" "single" "multi" "P     R     F1" "frame F1" ""
for row in "${table[@]}"; do echo "$row"; done
echo "basic-pitch 0.4.0 on the same pieces, note P R F1: $bp"
