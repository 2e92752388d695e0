#!/usr/bin/env bash
# CI's fuzz check: every target for FUZZ_SECONDS (default 30) on its seed corpus, two at a time (the machine has two
# cores), installing AFL++ and SharpFuzz when missing. Prints each target's line and then "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
export FUZZ_WORK=${FUZZ_WORK:-$(pwd)/runs/fuzz-ci}
FUZZ_INSTALL=1 bash fuzz/run.sh list > "${TMPDIR:-/tmp}/headwise-fuzz-targets.$$" || { echo "fuzz: 0 passed, 1 failed"; exit 1; }
targets=$(awk '{print $1}' "${TMPDIR:-/tmp}/headwise-fuzz-targets.$$")
rm -f "${TMPDIR:-/tmp}/headwise-fuzz-targets.$$"
mkdir -p "$FUZZ_WORK/results"
printf '%s\n' $targets | xargs -P 2 -I{} bash -c "bash fuzz/run.sh {} $seconds > '$FUZZ_WORK/results/{}.txt' 2>&1; echo \$? > '$FUZZ_WORK/results/{}.rc'"
passed=0; failed=0
for t in $targets; do
  grep -h "^fuzz $t:" "$FUZZ_WORK/results/$t.txt" || echo "fuzz $t: no result"
  if [ "$(cat "$FUZZ_WORK/results/$t.rc" 2>/dev/null)" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); grep -h "^error" "$FUZZ_WORK/results/$t.txt" >&2; fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
