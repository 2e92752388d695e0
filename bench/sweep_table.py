#!/usr/bin/env python3
"""One markdown table from several `headwise sweep` folders (one per task): a row per (policy, budget) with the KV
memory kept (share of the full cache) and, per task, the accuracy and the accuracy kept (share of the full cache's).
Usage: python3 bench/sweep_table.py DIR [DIR ...]"""
import json, sys, os

tasks, rows = [], {}
for d in sys.argv[1:]:
    results = json.load(open(os.path.join(d, "results.json")))
    task = results[0]["task"]
    tasks.append(task)
    full = next(r for r in results if r["policy"] == "full")
    for r in results:
        key = (r["policy"], r["budget"])
        row = rows.setdefault(key, {"kept": [], "acc": {}})
        row["kept"].append(r["kv_bytes"] / r["kv_bytes_full"])
        row["acc"][task] = (r["accuracy"], full["accuracy"])

print("| policy | budget | KV kept | " + " | ".join(f"{t} accuracy (kept)" for t in tasks) + " |")
print("|---|---|---:|" + "---:|" * len(tasks))
for (policy, budget), row in rows.items():
    kept = sum(row["kept"]) / len(row["kept"])
    cells = []
    for t in tasks:
        if t not in row["acc"]:
            cells.append("-")
            continue
        acc, full = row["acc"][t]
        cells.append(f"{100 * acc:.0f} % ({100 * acc / full:.0f} %)" if full > 0 else f"{100 * acc:.0f} %")
    print(f"| {policy} | {budget} | {100 * kept:.0f} % | " + " | ".join(cells) + " |")
