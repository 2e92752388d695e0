#!/usr/bin/env python3
"""Markdown tables from `headwise sweep` folders (one per task). Per task: a row per policy, a column per budget, each
cell "accuracy % (KV kept %)". Then one summary row per policy and budget: KV memory saved and the accuracy kept
(mean over the tasks of accuracy / full-cache accuracy).
Usage: python3 bench/sweep_table.py DIR [DIR ...]"""
import json, os, sys
from collections import OrderedDict

sweeps = []
for d in sys.argv[1:]:
    results = json.load(open(os.path.join(d, "results.json")))
    sweeps.append((results[0]["task"], results))

def budget_key(b):
    return float(b)

for task, results in sweeps:
    full = next(r for r in results if r["policy"] == "full")
    budgets = sorted({r["budget"] for r in results if r["policy"] != "full"}, key=budget_key)
    cells = OrderedDict()
    for r in results:
        cells.setdefault(r["policy"], {})[r["budget"]] = r
    print(f"**{task}** (full cache: {100 * full['accuracy']:.0f} %)\n")
    print("| policy | " + " | ".join(f"budget {float(b):.0%}" for b in budgets) + " |")
    print("|---|" + "---:|" * len(budgets))
    for policy, by_budget in cells.items():
        if policy == "full":
            continue
        row = []
        for b in budgets:
            r = by_budget.get(b)
            row.append("-" if r is None else f"{100 * r['accuracy']:.0f} % ({100 * r['kv_bytes'] / r['kv_bytes_full']:.0f} %)")
        print(f"| {policy} | " + " | ".join(row) + " |")
    print()

print("**All three tasks**: KV memory saved and accuracy kept (mean over tasks of accuracy / full-cache accuracy)\n")
first_task, first = sweeps[0]
budgets = sorted({r["budget"] for r in first if r["policy"] != "full"}, key=budget_key)
policies = list(OrderedDict((r["policy"], 0) for r in first if r["policy"] != "full"))
print("| policy | " + " | ".join(f"budget {float(b):.0%}: saved / kept" for b in budgets) + " |")
print("|---|" + "---:|" * len(budgets))
for p in policies:
    row = []
    for b in budgets:
        saved, kept = [], []
        for task, results in sweeps:
            full = next(r for r in results if r["policy"] == "full")
            r = next((x for x in results if x["policy"] == p and x["budget"] == b), None)
            if r is None:
                continue
            saved.append(1 - r["kv_bytes"] / r["kv_bytes_full"])
            if full["accuracy"] > 0:
                kept.append(r["accuracy"] / full["accuracy"])
        row.append(f"{100 * sum(saved) / len(saved):.0f} % / {100 * sum(kept) / len(kept):.0f} %" if saved and kept else "-")
    print(f"| {p} | " + " | ".join(row) + " |")
