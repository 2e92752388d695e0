#!/usr/bin/env bash
# Issue 18's checks on the GQA testbed, after `headwise train --config configs/testbed-gqa.json` (resumable: each step
# is skipped when its output exists):
# (full-cache accuracy by length and depth is on the model card: `train` runs the harness at the end)
#   1. the atlas, every score but duo-gate (the card has a short duo-gate run), probed with four 2,048-token windows of
#      Moby-Dick as the testbed-2k sweep's atlas is;
#   2. the atlas's `retrieval` against the card's head census (HeadBehaviourCheck's retrieval): Spearman over heads;
#   3. the Retrieval Head paper's masking test: passkey at 2,016 tokens with the top-k retrieval heads masked and with
#      k random non-retrieval heads, 10 draws, as the paper's code masks (query zeroed while decoding); then each head
#      masked alone; then the stricter test (outputs zeroed on every token, random heads from all heads).
# Usage: bash bench/testbed-gqa-check.sh [OUT_DIR] [K]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/testbed-gqa}
k=${2:-4}
model=models/testbed-gqa/model.gguf
probe=${HEADWISE_SHARED:-../shared}/data/moby-dick.txt
mkdir -p "$out"
if [ ! -f "$out/atlas/atlas.json" ]; then
  ./headwise profile --model "$model" --probe-file "$probe" --probe-docs 4 --probe-tokens 2048 --out "$out/atlas" \
    --scores sink,secondary-sink,locality,entropy,similarity,heterogeneity,importance,sensitivity,qk-select,retrieval,retrieval-reasoning,attention-influence
fi
dotnet run -c Release --project bench/HeadWise.Bench -- retrieval-agreement --atlas "$out/atlas/atlas.json" \
  --card models/testbed-gqa/model-card.json | tee "$out/retrieval-agreement.md"
mask() { dotnet run -c Release --project bench/HeadWise.Bench -- retrieval-mask --model "$model" --atlas "$out/atlas/atlas.json" \
  --length 2016 --samples 10 "$@"; }
[ -f "$out/retrieval-mask.json" ] || mask --k "$k" --draws 10 --json "$out/retrieval-mask.json" | tee "$out/retrieval-mask.md"
[ -f "$out/retrieval-mask-each.md" ] || mask --each | tee "$out/retrieval-mask-each.md"
[ -f "$out/retrieval-mask-zero.json" ] || mask --k "$k" --draws 10 --mask zero --phase all --pool all --json "$out/retrieval-mask-zero.json" | tee "$out/retrieval-mask-zero.md"
