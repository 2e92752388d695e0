#!/usr/bin/env bash
# Issue 7's policy sweep on the testbed model: the atlas first (headkv, duo and taskkv read it), then every policy at
# 10/25/50/100% budgets on passkey, niah and multikey at 2,048 tokens. DELTA's defaults (2 full layers, 1 selection
# layer) are for 32-layer models; on the 4-layer testbed it runs with 1 full layer and 1 selection layer. DuoAttention
# binarises its learned gates at the threshold that gives the sparsity wanted; the testbed's gates are 0.62-1.00 for
# seven heads (layer 1, its retrieval layer, and 0.1, 0.3, 2.3), 0.42-0.46 for 2.1 and 3.1 and 0.07 or below
# elsewhere, so duo runs at threshold 0.5 (7 of 16 heads full).
# Usage: bash bench/testbed-sweep.sh [OUT_DIR] [SAMPLES]     (resumable: rerun to finish an interrupted sweep)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/testbed-sweep}
samples=${2:-4}
model=${MODEL:-models/testbed-2k/model.gguf}
policies=full,streaming,h2o,snapkv,pyramidkv,adakv,headkv,duo,taskkv,ems,spatten,delta,longheads
mkdir -p "$out"
# The atlas probes with four 2,048-token windows of Moby-Dick: the testbed retrieves from long contexts, and on the
# built-in 180-token story it seldom continues the retrieval score's copy-paste probe (answer accuracy 4 %).
probe=${PROBE_FILE:-${HEADWISE_SHARED:-../shared}/data/moby-dick.txt}
if [ ! -f "$out/atlas/atlas.json" ]; then
  [ -f "$probe" ] || { echo "testbed-sweep: probe text $probe not found (set HEADWISE_SHARED or PROBE_FILE)" >&2; exit 1; }
  ./headwise profile --model "$model" --probe-file "$probe" --probe-tokens 2048 --out "$out/atlas"
fi
for task in passkey niah multikey; do
  ./headwise sweep --model "$model" --task "$task" --policies "$policies" --budgets 0.1,0.25,0.5,1.0 --kv-params delta:full=1,select=1 --kv-params duo:threshold=0.5 \
    --lengths 2016 --depths "${DEPTHS:-0.1,0.3,0.5,0.7,0.9}" --samples "$samples" --atlas "$out/atlas/atlas.json" --out "$out/$task"
done
python3 bench/sweep_table.py "$out/passkey" "$out/niah" "$out/multikey" > "$out/table.md"
cat "$out/table.md"
