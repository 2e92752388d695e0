#!/usr/bin/env python3
"""Reads an unfinished Stryker run's trace log against an earlier finished report of the same sources (issue 23).

    bench/mutation-combine.py OLD_REPORT.json NEW_RUN_LOG [--list]

Stryker writes its JSON report only at the end; with --log-to-file its trace log names each test session's verdict
("Test run for "ID: ..." is "failed"" = killed, "success" = survived) as it is decided. Mutant ids shift when other
namespaces change, so the id offset is found by matching each mutant's replacement text. Valid only when the mutated
sources are unchanged since OLD_REPORT and tests were only added: then every mutant killed in OLD_REPORT is still
killed, and the lower bound counts each survivor the new run has not re-tested as still surviving.
--list prints the old survivors with the new run's verdict (killed, survived, or not reached).
"""
import json
import re
import sys
from collections import Counter

DETECTED = {"Killed", "Timeout"}
UNDETECTED = {"Survived", "NoCoverage"}


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: bench/mutation-combine.py OLD_REPORT.json NEW_RUN_LOG [--list]")
    report = json.load(open(sys.argv[1]))
    old = {}
    for path, f in report["files"].items():
        for m in f["mutants"]:
            if m["status"] in DETECTED | UNDETECTED:
                old[int(m["id"])] = (path.split("/src/HeadWise/", 1)[-1], m["location"]["start"]["line"], m["status"],
                                     m["mutatorName"], m.get("replacement", ""))
    log = open(sys.argv[2]).read()
    unescape = lambda s: s.replace('\\"', '"').replace("\\\\", "\\")
    created = {int(i): (unescape(o), unescape(r)) for i, o, r in re.findall(r'Mutant (\d+) created "(.*?)" -> "(.*?)" using', log)}
    offsets = Counter()
    for i, v in old.items():
        for j, (_, r) in created.items():
            if r == v[4] and len(r) > 3:
                offsets[j - i] += 1
    delta = offsets.most_common(1)[0][0]
    matched = sum(1 for i, v in old.items() if i + delta in created and created[i + delta][1] == v[4])
    verdict = {}
    for ids, result in re.findall(r'Test run for "([^"]*)" is "(\w+)"', log):
        found = re.findall(r"(\d+):", ids)
        if len(found) == 1:  # a session of several mutants does not say which one a failure killed
            verdict[int(found[0])] = result
    detected = sum(1 for v in old.values() if v[2] in DETECTED)
    survivors = sorted(i for i, v in old.items() if v[2] in UNDETECTED)
    killed = [i for i in survivors if verdict.get(i + delta) == "failed"]
    alive = [i for i in survivors if verdict.get(i + delta) == "success"]
    print(f"id offset {delta} ({matched} of {len(old)} replacements match); {len(verdict)} single-mutant sessions decided")
    print(f"old report: {detected} detected, {len(survivors)} survived or uncovered; of those the new run killed "
          f"{len(killed)}, saw {len(alive)} survive, did not reach {len(survivors) - len(killed) - len(alive)}")
    print(f"lower bound: {detected + len(killed)} of {len(old)} = {100.0 * (detected + len(killed)) / len(old):.1f} %")
    if "--list" in sys.argv:
        for i in survivors:
            r = {"failed": "killed", "success": "survived"}.get(verdict.get(i + delta), "not reached")
            f, line, status, mutator, rep = old[i]
            orig = created.get(i + delta, ("?", ""))[0]
            print(f"{i}\t{f}:{line}\t{status}\t{mutator}\t{orig[:60]} -> {rep[:60]}\t{r}")


if __name__ == "__main__":
    main()
