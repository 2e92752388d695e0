#!/usr/bin/env python3
"""Markdown tables from bench/testbed-sweep.sh's folder: OUT/<mode>/<task>/results.json for the modes present
(context, question, chunked). Per task: a row per policy, a column per budget, each cell "accuracy % under each mode
(KV kept % under the first mode)". Then, per mode, one summary row per policy and budget: KV memory saved and the
accuracy kept (mean over the tasks of accuracy / full-cache accuracy).
Usage: python3 bench/sweep_table.py OUT"""
import json, os, sys
from collections import OrderedDict

root = sys.argv[1]
modes = [m for m in ("context", "question", "chunked") if os.path.isdir(os.path.join(root, m))]
tasks = ["passkey", "niah", "multikey"]
data = {}  # (mode, task) -> results
for m in modes:
    for t in tasks:
        path = os.path.join(root, m, t, "results.json")
        if os.path.exists(path):
            data[(m, t)] = json.load(open(path))

def pct(x):
    return f"{100 * x:.0f}"

def cell(results, policy, budget):
    return next((r for r in results if r["policy"] == policy and r["budget"] == budget), None)

def budgets_of(results):
    return sorted({r["budget"] for r in results if r["policy"] != "full"}, key=float)

def policies_of(results):
    return [p for p in OrderedDict((r["policy"], 0) for r in results) if p != "full"]

print("Cells: accuracy under " + " / ".join(modes) + " (KV kept as % of the full cache, under " + modes[0] + ").\n")
for t in tasks:
    present = [m for m in modes if (m, t) in data]
    if not present:
        continue
    first = data[(present[0], t)]
    fulls = " / ".join(pct(next(r for r in data[(m, t)] if r["policy"] == "full")["accuracy"]) for m in present)
    print(f"**{t}** (full cache: {fulls} %)\n")
    budgets = budgets_of(first)
    print("| policy | " + " | ".join(f"budget {float(b):.0%}" for b in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    for p in policies_of(first):
        row = []
        for b in budgets:
            accs = []
            for m in present:
                r = cell(data[(m, t)], p, b)
                accs.append("-" if r is None else pct(r["accuracy"]))
            r0 = cell(first, p, b)
            kv = "" if r0 is None else f" ({pct(r0['kv_bytes'] / r0['kv_bytes_full'])} %)"
            row.append(" / ".join(accs) + kv)
        print(f"| {p} | " + " | ".join(row) + " |")
    print()

for m in modes:
    sweeps = [(t, data[(m, t)]) for t in tasks if (m, t) in data]
    if not sweeps:
        continue
    print(f"**All three tasks, `{m}`**: KV memory saved / accuracy kept (mean over tasks of accuracy / full-cache accuracy)\n")
    budgets = budgets_of(sweeps[0][1])
    print("| policy | " + " | ".join(f"budget {float(b):.0%}" for b in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    for p in policies_of(sweeps[0][1]):
        row = []
        for b in budgets:
            saved, kept = [], []
            for t, results in sweeps:
                full = next(r for r in results if r["policy"] == "full")
                r = cell(results, p, b)
                if r is None:
                    continue
                saved.append(1 - r["kv_bytes"] / r["kv_bytes_full"])
                if full["accuracy"] > 0:
                    kept.append(r["accuracy"] / full["accuracy"])
            row.append(f"{100 * sum(saved) / len(saved):.0f} % / {100 * sum(kept) / len(kept):.0f} %" if saved and kept else "-")
        print(f"| {p} | " + " | ".join(row) + " |")
    print()
