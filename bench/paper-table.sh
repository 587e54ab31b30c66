#!/usr/bin/env bash
# The paper's Table 1, regenerated: isolated notes, CQT (and STFT) thumbnails, the original CNN and
# its variants, each trained for --steps steps, on two splits of the same images:
#   step       the paper's 4:1 split over images (frames of one recording land on both sides: leaks)
#   recording  4:1 over whole recordings (no recording on both sides)
# and printed with the paper's figures beside ours.
#
#   bench/paper-table.sh [--out DIR] [--corpus DIR] [--steps N] [--rows LIST] [--splits LIST]
#
#   --out DIR      work folder (default paper-table); results in DIR/table.tsv and DIR/table.txt
#   --corpus DIR   a MAPS-layout corpus to take ISOL recordings from (default: render the demo
#                  corpus's ISOL notes, both instruments, into DIR/corpus)
#   --steps N      the paper's 5000 (default); rows keep the paper's proportions: learning-rate
#                  decay every 2N/5 steps, fast decay every N/10, the long simple run 2N
#   --rows LIST    comma-separated subset of: original,stft,fast,nodistort,large,simple,simple2x
#   --splits LIST  comma-separated subset of: step,recording
#   --table-only   train nothing: print the table from the models and logs already in DIR
#
# Run time (2 vCPU): see README ("The paper's Table 1"). Build first: swift build -c release.
set -euo pipefail
out=paper-table corpus="" steps=5000 rows=original,stft,fast,nodistort,large,simple,simple2x splits=step,recording table_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --corpus) corpus="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --rows) rows="$2"; shift 2 ;;
        --splits) splits="$2"; shift 2 ;;
        --table-only) table_only=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "paper-table.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
bin="$(swift build -c release --show-bin-path)"
for tool in corpus ingest spectro pack train; do
    [ -x "$bin/$tool" ] || { echo "paper-table.sh: $bin/$tool not built: run swift build -c release first" >&2; exit 1; }
done
mkdir -p "$out"
start_all=$SECONDS
# The paper's front end, spelled out so later changes to spectro's defaults do not move this table.
paper_front_end="--transform cqt --bins-per-octave 36 --size 32 --context 32 --quality 90"

if [ -z "$corpus" ]; then corpus="$out/corpus"; fi
if [ -z "$table_only" ]; then
    [ -d "$corpus" ] || "$bin/corpus" --size demo --categories ISOL -o "$corpus"
    "$bin/ingest" "$corpus"/*/ISOL -o "$out/notemaps"
    "$bin/spectro" "$out/notemaps" -o "$out/thumbs-cqt" $paper_front_end
    "$bin/spectro" "$out/notemaps" -o "$out/thumbs-stft" $paper_front_end --transform stft
    for split in ${splits//,/ }; do
        for transform in cqt stft; do
            archive="$out/$transform-$split.npz"
            [ -f "$archive" ] || "$bin/pack" "$out/thumbs-$transform" -o "$archive" --split 4:0:1 --split-by "$split"
        done
    done
fi

# Each row: the transform, the steps as a multiple of --steps, then train's options.
decay=$((steps * 2 / 5)) fast=$((steps / 10))
[ "$fast" -ge 1 ] || fast=1
row_options() {
    case "$1" in
        original)  echo "cqt 1 --arch original --crop 24 --distort" ;;
        stft)      echo "stft 1 --arch original --crop 24 --distort" ;;
        fast)      echo "cqt 1 --arch original --crop 24 --distort --lr-decay-steps $fast" ;;
        nodistort) echo "cqt 1 --arch original --crop 24 --no-distort" ;;
        large)     echo "cqt 1 --arch original --distort" ;;
        simple)    echo "cqt 1 --arch simple --crop 24 --distort" ;;
        simple2x)  echo "cqt 2 --arch simple --crop 24 --distort" ;;
        *) echo "paper-table.sh: unknown row $1" >&2; exit 2 ;;
    esac
}
paper_row() {
    case "$1" in
        original)  echo "original CNN|0.356|0.52|0.782" ;;
        stft)      echo "STFT instead of CQT|||0.516" ;;
        fast)      echo "fast learning-rate decay|||0.76" ;;
        nodistort) echo "no image distortion|||0.773" ;;
        large)     echo "larger images (no 24x24 crop)|||0.823" ;;
        simple)    echo "simple CNN|||0.773" ;;
        simple2x)  echo "simple CNN, 2x steps|||0.78" ;;
    esac
}

tsv="$out/table.tsv"
printf 'row\tsplit\tsteps\tcross_entropy\ttotal_loss\ttest_accuracy\tseconds\n' > "$tsv"
for row in ${rows//,/ }; do
    set -- $(row_options "$row")
    transform="$1" row_steps=$((steps * $2)); shift 2
    for split in ${splits//,/ }; do
        model="$out/models/$row-$split.safetensors" log="$out/models/$row-$split.log"
        mkdir -p "$out/models"
        if [ -n "$table_only" ]; then
            [ -f "$model" ] || continue
            seconds=$(cat "$log.seconds" 2>/dev/null || echo 0)
        else
            echo "== $row on the $split split: train --steps $row_steps $*"
            t0=$SECONDS
            "$bin/train" "$out/$transform-$split.npz" -o "$model" --labels single --steps "$row_steps" --eval-every "$row_steps" \
                --lr-decay-steps "$decay" "$@" 2> "$log" || { tail -3 "$log" >&2; exit 1; }
            seconds=$((SECONDS - t0))
            echo "$seconds" > "$log.seconds"
        fi
        # train's last lines: "test: N examples" then "  single: accuracy A (...)".
        accuracy=$(tr '\r' '\n' < "$log" | sed -n '/^test: /,$ s/^ *single: accuracy \([0-9.]*\).*/\1/p' | tail -1)
        last=$(tail -1 "${model%.safetensors}.log.csv")
        IFS=, read -r last_step ce total _ <<< "$last"
        printf '%s\t%s\t%s\t%.3f\t%.3f\t%s\t%s\n' "$row" "$split" "$last_step" "$ce" "$total" "$accuracy" "$seconds" >> "$tsv"
        echo "   cross-entropy $ce, total loss $total, test accuracy $accuracy ($seconds s)"
    done
done

# The table: the paper's figures, then ours per split (cross-entropy and total loss are the last
# 50 training steps' means; accuracy is over the whole test split).
{
    echo "The paper's Table 1 beside ours ($steps steps; ISOL notes of $corpus; $(date -u +%Y-%m-%d))"
    printf '%-32s | %-19s |' "" "paper (MAPS)"
    for split in ${splits//,/ }; do printf ' %-26s |' "ours, split by $split"; done; echo
    printf '%-32s | %5s %6s %6s |' "row" "CE" "total" "acc"
    for split in ${splits//,/ }; do printf ' %5s %6s %6s %6s |' "CE" "total" "acc" "s"; done; echo
    for row in ${rows//,/ }; do
        IFS='|' read -r name pce ptotal pacc <<< "$(paper_row "$row")"
        printf '%-32s | %5s %6s %6s |' "$name" "${pce:--}" "${ptotal:--}" "$pacc"
        for split in ${splits//,/ }; do
            awk -F'\t' -v r="$row" -v s="$split" '$1 == r && $2 == s { printf " %5.3f %6.3f %6.4f %6d |", $4, $5, $6, $7 }' "$tsv"
        done
        echo
    done
    echo "training time $(awk -F'\t' 'NR > 1 { s += $7 } END { print s + 0 }' "$tsv") s (the rows' sum)$([ -n "$table_only" ] || echo ", total run time $((SECONDS - start_all)) s")"
} | tee "$out/table.txt"
