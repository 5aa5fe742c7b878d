#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: cmocka's summary lines, TAP
lines, or else the test's own result.  Prints "PASSED FAILED"."""
import json
import re
import sys

passed = failed = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    # cmocka writes its summary to stderr, TAP goes to stdout
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    cm_ok = sum(int(n) for n in re.findall(r"^\[  PASSED  \] (\d+) test", out, re.M))
    cm_bad = sum(int(n) for n in re.findall(r"^\[  FAILED  \] (\d+) test", out, re.M))
    tap_ok = len(re.findall(r"^ok \d+", out, re.M))
    tap_bad = len(re.findall(r"^not ok \d+", out, re.M))
    good = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
    if cm_ok or cm_bad or tap_ok or tap_bad:
        passed += cm_ok + tap_ok
        failed += cm_bad + tap_bad
        # a crash after the cases ran still fails the run
        if not good and cm_bad + tap_bad == 0:
            failed += 1
    else:
        passed += good
        failed += not good
print(passed, failed)
