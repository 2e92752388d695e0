#!/usr/bin/env bash
# DuoAttention's claim on the testbed (issue 7, acceptance 4): with the atlas's retrieval heads on full caches and the
# rest on sinks + recent tokens (`duo`), accuracy stays within 5 points of the full cache at no more than 35% of its KV
# memory, while `streaming` given the same memory falls well below. Reads the sweeps of bench/testbed-sweep.sh and runs
# streaming at duo's memory share on each task.
# Usage: bash bench/duo-check.sh [SWEEP_DIR] [DUO_BUDGET] [SAMPLES]   (MODE=context|question|chunked picks the sweep; default context)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${MODE:-context}
dir=${1:-docs/testbed-sweep}/$mode
budget=${2:-0.1}
samples=${3:-4}
model=${MODEL:-models/testbed-2k/model.gguf}
echo "| task | full accuracy | duo $budget accuracy | duo KV share | streaming accuracy at that share |"
echo "|---|---:|---:|---:|---:|"
for task in passkey niah multikey; do
  read -r full duo share < <(python3 -c "
import json
r = json.load(open('$dir/$task/results.json'))
f = next(x for x in r if x['policy'] == 'full')
d = next(x for x in r if x['policy'] == 'duo' and float(x['budget']) == float('$budget'))
print(f['accuracy'], d['accuracy'], round(d['kv_bytes'] / d['kv_bytes_full'], 4))")
  json="$dir/$task/streaming-at-duo-share.json"
  [ -f "$json" ] || ./headwise bench --model "$model" --task "$task" --policy streaming --budget "$share" --compress "$mode" \
    --lengths 2016 --depths "${DEPTHS:-0.1,0.3,0.5,0.7,0.9}" --samples "$samples" --json "$json" > /dev/null
  stream=$(python3 -c "import json; print(json.load(open('$json'))['accuracy'])")
  python3 -c "print(f'| $task | {100*$full:.0f} % | {100*$duo:.0f} % | {100*$share:.0f} % | {100*$stream:.0f} % |')"
done
