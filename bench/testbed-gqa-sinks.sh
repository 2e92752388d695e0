#!/usr/bin/env bash
# Issue 18, sinks: the factors "When Attention Sink Emerges" (Gu et al., ICLR 2025) names, each varied alone on the GQA
# testbed's config and trained to the same step as a prefix of the shipped run (same seed, so the same batches):
#   weight decay (the paper: it encourages sinks), learning rate (sinks are less obvious at small rates), and the data
#   (sinks need enough natural text: here the text share of the mix after the copy phase, 0.1 -> 0.5, the other tasks
#   in the same proportions; the text itself is fixed: Moby-Dick and the State of the Union addresses).
# Stage 1's own sinks.jsonl (models/testbed-gqa/stage1, the same config unchanged) is the baseline at the same step. Resumable: a finished attempt is skipped.
# Usage: bash bench/testbed-gqa-sinks.sh [OUT_DIR] [STEPS]      (~25 min an attempt at 2,000 steps on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/testbed-gqa-sinks}
steps=${2:-2000}
declare -A attempts=(
  [weight-decay-0.5]="weight_decay=0.5"
  [learning-rate-2e-3]="learning_rate=2e-3"
  [text-share-0.5]='mix={"text":0.9,"passkey":0.15,"niah":0.37,"kv_retrieval":0.03,"copy":0.35}'
)
mkdir -p "$out"
for name in "${!attempts[@]}"; do
  log="$out/$name/sinks.jsonl"
  if [ -f "$log" ] && grep -q "\"step\":$steps," "$log"; then continue; fi
  ./headwise train --config configs/testbed-gqa.json --set "${attempts[$name]}" --out "$out/$name" --stop-at-step $((steps + 1)) >"$out/$name.out" 2>&1
done
python3 - "$out" "$steps" models/testbed-gqa/stage1/sinks.jsonl "${!attempts[@]}" <<'PY' | tee "$out/sinks.md"
import json, sys
out, step, shipped, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def at(path):
    rows = [json.loads(l) for l in open(path)]
    return next(r for r in rows if r["step"] == step)
print(f"| run (sink ratio at step {step}, epsilon 0.3) | all heads | layers 1+ | heads of layers 1+ with a sink |")
print("|---|---:|---:|---:|")
for name, path in [("stage 1 (the config unchanged)", shipped)] + [(n, f"{out}/{n}/sinks.jsonl") for n in sorted(names)]:
    r = at(path)
    print(f"| {name} | {r['ratio']:.3f} | {r['ratio_from_layer1']:.3f} | {r['sink_heads_from_layer1']} of {r['heads_from_layer1']} |")
PY
