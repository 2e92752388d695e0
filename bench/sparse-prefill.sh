#!/usr/bin/env bash
# Issue 19, acceptance 3, with ONE setting per method for both parts:
#   speed:    a ~110M-parameter random Llama with an 8,192-token window (written by the benchmark), prefill of TOKENS
#             (8,192) tokens, dense, proxyattn and dhsa interleaved round by round in one process, CPU and wall seconds
#             and the share of attention blocks computed (bench/HeadWise.Bench/SparsePrefillBench.cs);
#   accuracy: passkey and niah on the testbed at 2,016 tokens, 5 depths x SAMPLES prompts, dense vs each sparse prefill.
# Usage: bash bench/sparse-prefill.sh OUT_DIR [SAMPLES_PER_DEPTH]
#   PROXYATTN=k=v,.. and DHSA=k=v,.. set the methods' parameters (default: their defaults); SKIP_SPEED=1 runs only the
#   accuracy part; ROUNDS (2) and TOKENS (8192) size the speed part; EXTRA="method:k=v,.. ..." adds speed rows (the
#   floor: proxyattn:max=0.01 attends about the sink and own block only); the speed part runs the allocator as HeadWise
#   does (src/HeadWise/Runtime/HeapReuse.cs), KEEP_FREED=1 makes the whole process keep freed memory instead.
#   CPU-heavy: run it in the background with nice.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: sparse-prefill.sh OUT_DIR [SAMPLES]}; samples=${2:-10}
mkdir -p "$out"
export HEADWISE_THREADS=${HEADWISE_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ -z "${SKIP_SPEED:-}" ] && [ ! -f "$out/speed.md" ]; then
  dotnet run -c Release --project "$root/bench/HeadWise.Bench" -- sparse-prefill ${KEEP_FREED:+--keep-freed-memory} "${TOKENS:-8192}" "${ROUNDS:-2}" "proxyattn:${PROXYATTN:-}" "dhsa:${DHSA:-}" ${EXTRA:-} \
    > "$out/speed.md" 2> "$out/speed.log"
fi
for task in passkey niah; do
  for method in dense proxyattn dhsa; do
    f="$out/$task-$method.json"
    [ -f "$f" ] && continue
    args=()
    if [ "$method" != dense ]; then
      p=$([ "$method" = proxyattn ] && echo "${PROXYATTN:-}" || echo "${DHSA:-}")
      args=(--prefill "$method"); [ -n "$p" ] && args+=(--prefill-params "$p")
    fi
    "$root/headwise" bench --task "$task" --lengths 2016 --depths 0.1,0.3,0.5,0.7,0.9 --samples "$samples" "${args[@]}" \
      --json "$f" > "$out/$task-$method.txt" 2> "$out/$task-$method.log"
  done
done
[ -f "$out/speed.md" ] && cat "$out/speed.md"
echo "| task | prefill | prompts | accuracy | vs dense | attention blocks computed |"
echo "|---|---|---:|---:|---:|---:|"
for task in passkey niah; do
  python3 - "$out/$task-dense.json" "$out/$task-proxyattn.json" "$out/$task-dhsa.json" <<'PY'
import json, sys
dense = json.load(open(sys.argv[1]))
for path in sys.argv[1:]:
    r = json.load(open(path))
    n = sum(v["samples"] for v in r["by_depth"].values())
    share = r.get("prefill_block_share")
    print(f"| {r['task']} | {r.get('prefill') or 'dense'} | {n} | {100 * r['accuracy']:.1f}% | "
          f"{100 * (r['accuracy'] - dense['accuracy']):+.1f} | {'100%' if share is None else f'{100 * share:.1f}%'} |")
PY
done
