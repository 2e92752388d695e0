#!/usr/bin/env bash
# Every KV policy on the testbed model under each compression protocol (issue 16): the atlas first (headkv, duo and
# taskkv read it), then every policy at 10/25/50% budgets on passkey, niah and multikey at 2,016 tokens, once per
# --compress mode (context: kvpress's protocol; question: compress after the question; chunked: after every prefill
# chunk and decode step). DELTA's defaults (2 full layers, 1 selection layer) are for 32-layer models; on the 4-layer
# testbed it runs with 1 full layer and 1 selection layer. duo runs its paper default (the sparsity quantile of the gates)
# and takes no budget, so it is one cell per mode and task.
# Usage: bash bench/testbed-sweep.sh [OUT_DIR] [SAMPLES] [MODES]   (resumable: rerun to finish an interrupted sweep)
#   MODES: comma-separated subset of context,question,chunked (default all three); POLICIES and BUDGETS override the
#   policy and budget lists. The modes are independent: run them in parallel processes to use more cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/testbed-sweep}
samples=${2:-4}
modes=${3:-context,question,chunked}
model=${MODEL:-models/testbed-2k/model.gguf}
policies=${POLICIES:-full,streaming,h2o,snapkv,pyramidkv,adakv,headkv,duo,taskkv,ems,spatten,delta,longheads}
mkdir -p "$out"
# The atlas probes with four 2,048-token windows of Moby-Dick: the testbed retrieves from long contexts, and on the
# built-in 180-token story it seldom continues the retrieval score's copy-paste probe (answer accuracy 4 %).
probe=${PROBE_FILE:-${HEADWISE_SHARED:-../shared}/data/moby-dick.txt}
if [ ! -f "$out/atlas/atlas.json" ]; then
  [ -f "$probe" ] || { echo "testbed-sweep: probe text $probe not found (set HEADWISE_SHARED or PROBE_FILE)" >&2; exit 1; }
  ./headwise profile --model "$model" --probe-file "$probe" --probe-tokens 2048 --out "$out/atlas"
fi
# Small-model settings, passed only to the policies that run (delta runs its defaults: 2 full layers, layer 2 the
# Δ-layer, layer 3 sparse).
params=()
# The committed atlas predates the retrieval-reasoning score, so headkv runs HeadKV-R (the paper's retrieval-score
# variant) unless HEADKV_SCORE says otherwise (retrieval-reasoning: HeadKV-R2, the default, needs an atlas that has it).
[[ ",$policies," == *",headkv,"* ]] && params+=(--kv-params "headkv:score=${HEADKV_SCORE:-retrieval}")
for mode in ${modes//,/ }; do
  for task in passkey niah multikey; do
    ./headwise sweep --model "$model" --task "$task" --compress "$mode" --policies "$policies" --budgets "${BUDGETS:-0.1,0.25,0.5}" \
      "${params[@]}" \
      --lengths 2016 --depths "${DEPTHS:-0.1,0.3,0.5,0.7,0.9}" --samples "$samples" --atlas "$out/atlas/atlas.json" --out "$out/$mode/$task"
  done
done
[ -n "${NO_TABLE:-}" ] || { python3 bench/sweep_table.py "$out" > "$out/table.md"; cat "$out/table.md"; }
