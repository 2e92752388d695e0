#!/usr/bin/env bash
# Issue 8, acceptance 1: the testbed's full-cache accuracy with the evaluation harness (`headwise bench`) at 2,048 tokens:
# passkey, single-needle niah and multikey over 5 depths, copy of a random sequence (1,023 tokens then its repeat) and
# the shuffled control. Usage: bash bench/testbed-eval.sh [OUT_DIR] [SAMPLES_PER_DEPTH]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/testbed-eval}
samples=${2:-10}
model=${MODEL:-models/testbed-2k/model.gguf}
mkdir -p "$out"
for task in passkey niah multikey; do
  [ -f "$out/$task.json" ] || ./headwise bench --model "$model" --task "$task" --lengths 2016 --depths 0.1,0.3,0.5,0.7,0.9 \
    --samples "$samples" --json "$out/$task.json" > /dev/null
done
for task in copy copy-shuffled; do
  [ -f "$out/$task.json" ] || ./headwise bench --model "$model" --task "$task" --lengths 2047 --samples "$samples" --json "$out/$task.json" > /dev/null
done
echo "| task | prompts | accuracy | by depth |"
echo "|---|---:|---:|---|"
for task in passkey niah multikey copy copy-shuffled; do
  python3 - "$out/$task.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
by_depth = r.get("by_depth") or {}
depths = ", ".join(f"{float(k):.1f}: {100 * v['accuracy']:.0f} %" for k, v in by_depth.items())
n = sum(v["samples"] for v in by_depth.values()) or r["samples"]
print(f"| {r['task']} | {n} | {100 * r['accuracy']:.1f} % | {depths or '-'} |")
PY
done
