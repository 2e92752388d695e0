#!/usr/bin/env bash
# Issue 20: trains every claim config of configs/variants/ (not the ci-* ones), maps each model's attention sinks with
# the atlas's `sink` score, runs the in-context regression task, and writes the tables (docs/variants.md shows them):
#   HEADWISE_THREADS=1 bash bench/variants.sh [OUT_DIR] [CONFIGS...]
# The two SQA models train alternately, 20 steps at a time, so that their tokens/s are measured under the same load;
# every run resumes from its checkpoint, so the script can be stopped and run again. Configs default to all claim configs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/variants}
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(sqa softmax sigmoid moh linear mala softmax-sinks sigmoid-sinks icl-regression icl-regression-noisy)
hw=${HEADWISE_CLI:-./headwise}
mkdir -p "$out"

train() { # config [stop-at-step]
  local stop=()
  [ -z "${2:-}" ] || stop=(--stop-at-step "$2")
  $hw train --config "configs/variants/$1.json" --out "$out/$1" --probe-samples 4 --probe-lengths 64 --harness-samples 0 \
    --no-duo-gates "${stop[@]}" >> "$out/$1.log" 2>&1
}

for c in "${configs[@]}"; do
  if [ "$c" = sqa ]; then
    steps=$(python3 -c "import json,re,sys; print(json.loads(re.sub(r'^\s*//.*$', '', open('configs/variants/sqa-full.json').read(), flags=re.M))['steps'])")
    for ((s = 20; s < steps; s += 20)); do train sqa-full $s; train sqa-half $s; done
    train sqa-full; train sqa-half
    continue
  fi
  if [[ "$c" == icl-* ]]; then
    [ -f "$out/$c/results.json" ] || $hw icl-regression --config "configs/variants/$c.json" --out "$out/$c" > "$out/$c.log" 2>&1
    continue
  fi
  train "$c"
done

for c in sqa-full sqa-half softmax sigmoid moh linear mala softmax-sinks sigmoid-sinks; do
  [ -f "$out/$c/model-card.json" ] || continue
  [ -f "$out/$c/atlas/atlas.json" ] || $hw profile --model "$out/$c" --scores sink --probe-file "${HEADWISE_SHARED:-../shared}/data/moby-dick.txt" \
    --probe-docs 16 --probe-tokens 64 --out "$out/$c/atlas" > "$out/$c.profile.log" 2>&1
done
python3 bench/variants_table.py "$out"
