#!/usr/bin/env bash
# Issue 19, acceptance 2: each steering method on the testbed, found on a dev split and judged on a disjoint test split
# (the next seed) of at least 100 prompts, for multikey and niah at 512 tokens (depths 0.1-0.9).
# Usage: [TASKS="multikey niah"] bash bench/steer-heldout.sh OUT_DIR [DEV] [TEST]   (HEADWISE_THREADS=1 on a shared machine)
set -euo pipefail
out=${1:?usage: steer-heldout.sh OUT_DIR [DEV] [TEST]}; dev=${2:-20}; test=${3:-100}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"
for task in ${TASKS:-multikey niah}; do
  for method in zerotuning act inject; do
    [ -f "$out/$task-$method.json" ] && continue   # resumable: a finished pair is kept
    "$root/headwise" steer "$method" --task "$task" --dev "$dev" --test "$test" --lengths 512 \
      --out "$out/$task-$method.json" > "$out/$task-$method.txt" 2> "$out/$task-$method.log"
    tail -2 "$out/$task-$method.txt"
  done
done
