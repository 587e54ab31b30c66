#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (one per file reader) and runs them.
#
# Usage: scripts/fuzz.sh [TARGET|all] [SECONDS | -runs=N] [LIBFUZZER_FLAG...]
#   TARGET   FuzzMIDI, FuzzMAPS, FuzzWav, FuzzArchive, FuzzManifest, FuzzSafeTensors or FuzzJPEG
#            (the short names midi, maps, wav, archive, manifest, safetensors, jpeg work too);
#            default all, one after another
#   SECONDS  how long each target runs (default 60); -runs=N runs N inputs instead
#   the rest is passed to libFuzzer as is (e.g. -jobs=2, -max_len=65536)
#   scripts/fuzz.sh TARGET FILE...  (when the second argument is a file) runs the target once on
#            each FILE and reports whether any crashes: how to replay a crash-* artifact.
#
# Each target fuzzes a work corpus, $FUZZ_WORK/<target>/corpus (default /tmp/piano-fuzz, kept
# between runs so coverage accumulates), topped up with a copy of Fuzz/seeds/<target>/ first.
# Limits that make a bug of what is merely slow or greedy: 10 s per input (-timeout),
# 512 MB per allocation (-malloc_limit_mb), 2 GB resident (-rss_limit_mb). Crashing inputs go to
# $FUZZ_WORK/<target>/crash-*, oom-*, timeout-* (libFuzzer's artifact names).
# Prints one line per target: executions, seconds, executions/s, result. Exits non-zero if any
# target found a crash (or failed to run).
#
# The build has its own scratch path (.build-fuzz) and flags (-sanitize=fuzzer,address), so the
# main package's .build is never touched. Readers that take a path get the input through a
# per-process scratch file in a folder under /dev/shm that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(FuzzMIDI FuzzMAPS FuzzWav FuzzArchive FuzzManifest FuzzSafeTensors FuzzJPEG)
target=${1:-all}
shift || true
case "$target" in
  all) targets=("${all[@]}") ;;
  midi) targets=(FuzzMIDI) ;;
  maps) targets=(FuzzMAPS) ;;
  wav) targets=(FuzzWav) ;;
  archive) targets=(FuzzArchive) ;;
  manifest) targets=(FuzzManifest) ;;
  safetensors) targets=(FuzzSafeTensors) ;;
  jpeg) targets=(FuzzJPEG) ;;
  Fuzz*) targets=("$target") ;;
  *) echo "fuzz.sh: unknown target '$target' (expected all or one of ${all[*]})" >&2; exit 2 ;;
esac

replay=()
budget=(-max_total_time=60)
if [ $# -gt 0 ] && [ -f "$1" ]; then
  replay=("$@")
  set --
elif [ $# -gt 0 ]; then
  case "$1" in
    -runs=*) budget=("$1"); shift ;;
    [0-9]*) budget=(-max_total_time="$1"); shift ;;
  esac
fi

echo "fuzz.sh: building Fuzz/ (release, -sanitize=fuzzer,address) in .build-fuzz" >&2
swift build --package-path Fuzz --scratch-path .build-fuzz -c release \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2
bin=.build-fuzz/release

scratch=$(mktemp -d "${TMPDIR_SHM:-/dev/shm}/piano-fuzz.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export FUZZ_SCRATCH=$scratch
# A leak inside Foundation (reading an empty file) is suppressed; see the file for why.
export LSAN_OPTIONS=suppressions=$PWD/scripts/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
limits=(-timeout=10 -malloc_limit_mb=512 -rss_limit_mb=2048)

if [ ${#replay[@]} -gt 0 ]; then
  status=0
  for t in "${targets[@]}"; do
    "$bin/$t" "${limits[@]}" "${replay[@]}" || status=1
  done
  exit $status
fi

work=${FUZZ_WORK:-/tmp/piano-fuzz}
failed=0
summary=()
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus"
  cp -n Fuzz/seeds/"$t"/* "$dir/corpus/" 2>/dev/null || true
  log=$dir/last-run.log
  quiet=()
  # libsndfile's MPEG decoder (libmpg123) prints a warning per bad frame on stderr: gigabytes of
  # log and a tenth of the speed. libFuzzer keeps its own and the sanitizers' reports when fd 2 goes.
  [ "$t" = FuzzWav ] && quiet=(-close_fd_mask=2)
  echo "fuzz.sh: $t ${budget[*]} $* (log: $log)" >&2
  start=$(date +%s.%N)
  set +e
  "$bin/$t" "${limits[@]}" "${budget[@]}" "${quiet[@]}" -print_final_stats=1 -artifact_prefix="$dir/" "$@" "$dir/corpus" > "$log" 2>&1
  code=$?
  set -e
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $code -eq 0 ]; then
    result=ok
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    # The first line that says what went wrong: a Swift trap, a libFuzzer limit or an ASan report.
    why=$(grep -m1 -E 'Swift runtime failure|Fatal error|== ?ERROR|deadly signal' "$log" || echo "see $log")
    result="FAILED (exit $code${artifact:+, input $artifact}): $why"
  fi
  line=$(printf '%-16s %10s execs %7.1f s %8s exec/s  %s' "$t" "${execs:-?}" "$seconds" "${rate:-?}" "$result")
  summary+=("$line")
  echo "$line"
done
if [ ${#summary[@]} -gt 1 ]; then
  echo "--- summary"
  printf '%s\n' "${summary[@]}"
fi
exit $failed
