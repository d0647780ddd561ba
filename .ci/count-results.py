#!/usr/bin/env python3
"""Sum individual checks over meson test logs and print "N passed, N failed".

A Check suite reports "Checks: X, Failures: F, Errors: E"; the shell tests
report "<what>: N passed, M failed". A test program that failed without
such a line (a crash, a missing log) counts as one failure; a log that is
missing altogether counts as one failure too.
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
PLAIN = re.compile(r"^\w[\w-]*: (\d+) passed, (\d+) failed\s*$", re.M)

passed = failed = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            records = [json.loads(line) for line in f if line.strip()]
    except OSError:
        print(f"missing test log: {path}")
        failed += 1
        continue
    for rec in records:
        out = (rec.get("stdout") or "") + (rec.get("stderr") or "")
        p = f = 0
        counted = False
        for m in CHECK.finditer(out):
            x, fl, er = map(int, m.groups())
            p += x - fl - er
            f += fl + er
            counted = True
        for m in PLAIN.finditer(out):
            p += int(m.group(1))
            f += int(m.group(2))
            counted = True
        ok = rec.get("result") in ("OK", "EXPECTEDFAIL")
        if not ok and f == 0:
            f += 1  # crashed, timed out or failed without a summary
            print(f"failed without a count: {rec.get('name')} ({rec.get('result')})")
        if not counted and ok:
            p += 1
        passed += p
        failed += f
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
