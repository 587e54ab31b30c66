#!/usr/bin/env bash
# Runs the Swift test suite under AddressSanitizer and/or ThreadSanitizer and fails on any report.
#
# Usage: scripts/sanitize.sh [address|thread|all]   (default all: address, then thread)
#
# Each sanitizer builds the package and its tests (executables included, since some tests run
# them) in its own scratch path, .build-asan or .build-tsan, so the normal .build is untouched,
# then runs `swift test` there. The full output goes to <scratch>/sanitize.log. A sanitizer
# fails when the tests fail or when the log holds any sanitizer report (TSan reports a race and
# carries on, so the exit status alone is not enough). Prints one line per sanitizer with its
# wall time.
#
# Suppressions (each entry says why it is not our bug): scripts/sanitizers/lsan.supp for
# LeakSanitizer (on with ASan on Linux), scripts/sanitizers/tsan.supp for ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-all}" in
  all) sanitizers=(address thread) ;;
  address | thread) sanitizers=("$1") ;;
  *) echo "sanitize.sh: expected address, thread or all, not '$1'" >&2; exit 2 ;;
esac

supp=$PWD/scripts/sanitizers
export LSAN_OPTIONS=suppressions=$supp/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
export TSAN_OPTIONS=suppressions=$supp/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}
# The Swift runtime's own crash backtracer reads other threads' memory, which ASan reports as a
# bad access of its own; a crash is reported by the sanitizer instead.
export SWIFT_BACKTRACE=enable=no

failed=0
lines=()
for sanitizer in "${sanitizers[@]}"; do
  case $sanitizer in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
  esac
  mkdir -p "$scratch"
  log=$scratch/sanitize.log
  echo "sanitize.sh: $sanitizer: building and testing in $scratch (log: $log)" >&2
  start=$(date +%s)
  set +e
  {
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" &&
      swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch"
  } > "$log" 2>&1
  code=$?
  set -e
  seconds=$(($(date +%s) - start))
  reports=$(grep -cE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:' "$log" || true)
  if [ $code -eq 0 ] && [ "$reports" -eq 0 ]; then
    result=ok
  else
    failed=1
    result="FAILED (exit $code, $reports sanitizer reports; first: $(grep -m1 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:|error:' "$log" || echo "see $log"))"
  fi
  line=$(printf '%-8s %5d s  %s' "$sanitizer" "$seconds" "$result")
  lines+=("$line")
  echo "$line"
  grep -E 'Test run with [0-9]+ tests|Executed [0-9]+ tests' "$log" | tail -2 >&2 || true
done
if [ ${#lines[@]} -gt 1 ]; then
  echo "--- summary"
  printf '%s\n' "${lines[@]}"
fi
exit $failed
