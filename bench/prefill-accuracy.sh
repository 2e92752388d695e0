#!/usr/bin/env bash
# Issue 19, acceptance 3 (accuracy side): passkey and niah on the testbed at 2,016 tokens, dense prefill against
# ProxyAttn and DHSA at their default budgets, the same prompts; results (with the share of attention blocks computed) in OUT_DIR.
# Usage: bash bench/prefill-accuracy.sh OUT_DIR [SAMPLES_PER_DEPTH]   (HEADWISE_THREADS=1 on a shared machine)
set -euo pipefail
out=${1:?usage: prefill-accuracy.sh OUT_DIR [SAMPLES]}; samples=${2:-4}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"
for task in passkey niah; do
  for prefill in dense proxyattn dhsa; do
    [ -f "$out/$task-$prefill.json" ] && continue
    extra=(); [ "$prefill" != dense ] && extra=(--prefill "$prefill")
    "$root/headwise" bench --task "$task" --lengths 2016 --depths 0.1,0.3,0.5,0.7,0.9 --samples "$samples" "${extra[@]}" \
      --json "$out/$task-$prefill.json" > "$out/$task-$prefill.txt" 2> "$out/$task-$prefill.log"
    head -2 "$out/$task-$prefill.txt"
  done
done
