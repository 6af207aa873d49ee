#!/usr/bin/env python3
"""Counts individual test cases in Bazel's test.xml files.

Usage: count_tests.py [--leg NAME --state FILE] [--bad //a:t,//b:t] TESTLOGS_DIR //pkg:target ...
       count_tests.py --total FILE

Prints "N passed, N failed, N skipped" as its last line and exits 1 if anything failed. A test
target without a test.xml (it failed to build, or never ran) counts as one failed case, and
so does a target in --bad (Bazel reported it failed or timed out) whose test.xml shows no
failure (a test that hangs after its last case leaves a complete test.xml).
With --leg, the line is prefixed "NAME:" and the counts are added to the totals kept in
FILE; --total prints the sum of every leg recorded in FILE (CI's closing line).
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def count_file(path):
    passed = failed = skipped = 0
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    if not cases:
        # A suite-level failure with no cases (e.g. a crash before any case ran).
        suites = list(root.iter("testsuite")) or [root]
        bad = any(int(s.get("failures", 0)) + int(s.get("errors", 0)) > 0 for s in suites)
        return (0, 1, 0) if bad else (0, 0, 0)
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif (case.find("skipped") is not None or case.get("result") == "skipped"
              or case.get("status") == "notrun"):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def count_targets(logs, targets, bad=()):
    passed = failed = skipped = 0
    for target in targets:
        rel = target.lstrip("/").replace(":", "/")
        path = os.path.join(logs, rel, "test.xml")
        if not os.path.exists(path):
            print(f"no test.xml for {target}: counted as failed", file=sys.stderr)
            failed += 1
            continue
        try:
            p, f, s = count_file(path)
        except ET.ParseError as e:
            print(f"unreadable {path}: {e}", file=sys.stderr)
            p, f, s = 0, 1, 0
        if target in bad and not f:
            print(f"{target}: Bazel did not pass it (timeout?): counted as failed",
                  file=sys.stderr)
            f = 1
        if f:
            print(f"{target}: {f} failed", file=sys.stderr)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if not targets:
        failed += 1
        print("no test targets found", file=sys.stderr)
    return passed, failed, skipped


def main():
    args = sys.argv[1:]
    if args[:1] == ["--total"]:
        totals = json.load(open(args[1])) if os.path.exists(args[1]) else [0, 1, 0]
        passed, failed, skipped = totals
        print(f"{passed} passed, {failed} failed, {skipped} skipped")
        return 1 if failed else 0
    leg = state = None
    if args[:1] == ["--leg"]:
        leg, state, args = args[1], args[3], args[4:]
    bad = set()
    if args[:1] == ["--bad"]:
        bad, args = {t for t in args[1].split(",") if t}, args[2:]
    passed, failed, skipped = count_targets(args[0], args[1:], bad)
    prefix = f"{leg}: " if leg else ""
    print(f"{prefix}{passed} passed, {failed} failed, {skipped} skipped")
    if state:
        totals = json.load(open(state)) if os.path.exists(state) else [0, 0, 0]
        totals = [totals[0] + passed, totals[1] + failed, totals[2] + skipped]
        json.dump(totals, open(state, "w"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
