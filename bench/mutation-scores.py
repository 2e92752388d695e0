#!/usr/bin/env python3
"""Stryker's mutation score per namespace of src/HeadWise from a Stryker JSON report (issue 23).

    bench/mutation-scores.py REPORT.json [--survivors]

Score = (killed + timeout) / (killed + timeout + survived + no coverage), Stryker's own definition (compile errors
and ignored mutants do not count). --survivors also lists each surviving or uncovered mutant: file:line, mutator,
replacement, and the source line.
"""
import json
import sys
from collections import defaultdict

DETECTED = {"Killed", "Timeout"}
UNDETECTED = {"Survived", "NoCoverage"}


def namespace(path):
    parts = path.replace("\\", "/").split("/src/HeadWise/", 1)[-1].split("/")
    return parts[0] if len(parts) > 1 else "(root)"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench/mutation-scores.py REPORT.json [--survivors]")
    report = json.load(open(sys.argv[1]))
    counts = defaultdict(lambda: defaultdict(int))
    survivors = []
    for path, f in sorted(report["files"].items()):
        ns = namespace(path)
        lines = f["source"].split("\n")
        for m in f["mutants"]:
            counts[ns][m["status"]] += 1
            if m["status"] in UNDETECTED:
                line = m["location"]["start"]["line"]
                survivors.append((ns, path.split("/src/HeadWise/", 1)[-1], line, m["status"], m["mutatorName"],
                                  m.get("replacement", "").replace("\n", " ")[:80], lines[line - 1].strip()[:100]))
    print("| namespace | killed | timeout | survived | no coverage | score |")
    print("|---|---|---|---|---|---|")
    for ns, c in sorted(counts.items()):
        det = sum(c[s] for s in DETECTED)
        und = sum(c[s] for s in UNDETECTED)
        if det + und == 0:
            continue
        score = 100.0 * det / (det + und) if det + und else 0.0
        print(f"| {ns} | {c['Killed']} | {c['Timeout']} | {c['Survived']} | {c['NoCoverage']} | {score:.1f} % ({det} of {det + und}) |")
    if "--survivors" in sys.argv:
        for s in survivors:
            print(" | ".join(str(x) for x in s))


if __name__ == "__main__":
    main()
