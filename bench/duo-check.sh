#!/usr/bin/env bash
# DuoAttention's claim on the testbed (issue 16, acceptance 4): duo deploys the learned gates with the streaming pattern
# they were trained with (config.json beside the TSV: sinks + recent window) and keeps the heads whose gates reach the
# sparsity quantile on full caches; accuracy within 5 points of the full cache at no more than 35% of its KV memory,
# while streaming given the same memory scores lower. duo takes no budget, so it runs directly (not from a sweep): the
# full cache, duo at each sparsity, and streaming at the KV share duo measured, on passkey, niah and multikey.
# Usage: bash bench/duo-check.sh [PATTERN] [SPARSITIES] [SAMPLES] [OUT_DIR]
#   TASKS="passkey niah" picks tasks (default all three).
#   PATTERN: DuoAttention's full_attention_heads.tsv (config.json beside it: `headwise pattern export`); MODE=context|question|chunked
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-docs/testbed-duo/full_attention_heads.tsv}
sparsities=${2-0.75,0.85}
samples=${3:-4}
out=${4:-runs/duo-check}
mode=${MODE:-context}
model=${MODEL:-models/testbed-2k/model.gguf}
depths=${DEPTHS:-0.1,0.3,0.5,0.7,0.9}
mkdir -p "$out"
# One bench into OUT/NAME.json (skipped when it exists: resumable).
bench() {
  local name=$1; shift
  [ -f "$out/$name.json" ] || ./headwise bench --model "$model" --lengths 2016 --depths "$depths" --samples "$samples" \
    --compress "$mode" --json "$out/$name.json" "$@" > /dev/null
}
field() { python3 -c "import json; r = json.load(open('$out/$1.json')); print($2)"; }
echo "| task | full accuracy | duo sparsity | full KV heads | duo accuracy | duo KV share | streaming accuracy at that share |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for task in ${TASKS:-passkey niah multikey}; do
  bench "$task-full" --task "$task" --policy full
  full=$(field "$task-full" "r['accuracy']")
  for s in ${sparsities//,/ }; do
    bench "$task-duo-$s" --task "$task" --policy duo --atlas "$pattern" --kv-params "sparsity=$s"
    share=$(field "$task-duo-$s" "round(r['kv_bytes'] / r['kv_bytes_full'], 4)")
    bench "$task-streaming-$s" --task "$task" --policy streaming --budget "$share"
    heads=$(python3 -c "
import math
g = [float(x) for line in open('$pattern') if line.strip() for x in line.split()]
n = len(g); print(n - math.ceil($s * (n - 1) - 1e-9), 'of', n)")
    python3 -c "
import json
d = json.load(open('$out/$task-duo-$s.json')); st = json.load(open('$out/$task-streaming-$s.json'))
print(f'| $task | {100*$full:.0f} % | $s | $heads | {100*d[\"accuracy\"]:.0f} % | {100*$share:.1f} % | {100*st[\"accuracy\"]:.0f} % (KV {100*st[\"kv_bytes\"]/st[\"kv_bytes_full\"]:.1f} %) |')"
  done
done
