#!/usr/bin/env bash
# Issue 18's checks on the GQA testbed, after `headwise train --config configs/testbed-gqa.json` (resumable: each step
# is skipped when its output exists):
# (full-cache accuracy by length and depth is on the model card: `train` runs the harness at the end)
#   1. the atlas, every score but duo-gate (the card has a short duo-gate run), probed with four 2,048-token windows of
#      Moby-Dick as the testbed-2k sweep's atlas is;
#   2. the atlas's `retrieval` against the card's head census (HeadBehaviourCheck's retrieval): Spearman over heads;
#   3. the Retrieval Head paper's masking test: passkey at 2,016 tokens with the top-k retrieval heads zero-ablated
#      and with k random heads, 10 draws.
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
python3 - "$out/atlas/atlas.json" models/testbed-gqa/model-card.json <<'PY' | tee "$out/retrieval-agreement.md"
import json, sys
atlas, card = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s = atlas["scores"]["retrieval"]
grid = s["values"] if isinstance(s, dict) else s
census = {(h["layer"], h["head"]): h["retrieval"] for h in card["heads"]}
keys = sorted(census)
a, b = [grid[l][h] for l, h in keys], [census[(l, h)] for l, h in keys]
def ranks(v):   # average ranks for ties
    order = sorted(range(len(v)), key=lambda i: v[i]); r = [0.0] * len(v); i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]: j += 1
        for t in range(i, j + 1): r[order[t]] = (i + j) / 2
        i = j + 1
    return r
ra, rb = ranks(a), ranks(b)
ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
rho = cov / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
top = lambda v: [f"{l}.{h}" for (l, h), _ in sorted(zip(keys, v), key=lambda t: -t[1])[:6]]
print(f"Spearman (atlas `retrieval` vs card census retrieval) over {len(keys)} heads: {rho:.3f}")
print(f"atlas top 6: {', '.join(top(a))}; census top 6: {', '.join(top(b))}")
PY
[ -f "$out/retrieval-mask.json" ] || dotnet run -c Release --project bench/HeadWise.Bench -- retrieval-mask --model "$model" \
  --atlas "$out/atlas/atlas.json" --k "$k" --draws 10 --length 2016 --samples 10 --json "$out/retrieval-mask.json" | tee "$out/retrieval-mask.md"
