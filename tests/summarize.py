#!/usr/bin/env python3
"""Counts the checks in one meson testlog.json (one JSON object per test).

usage: summarize.py [--expect LIST] LOG

Each test's checks are read from its output:
  cmocka     "[  PASSED  ] N test(s)", "[  FAILED  ] N test(s), ...",
             "[  SKIPPED ] N test(s), ..." against "Running N test(s)"
             (tests that never reported count as failed)
  TAP        "ok", "not ok", "ok ... # SKIP", "not ok ... # TODO" (a skip),
             the plan "1..N" (a missing plan or fewer lines than planned is
             a failure) and "1..0 # SKIP reason" (the whole suite skipped)
  otherwise  the test's own result: one check
and meson's result still counts: a test that failed (crash, timeout,
valgrind error) but whose output shows no failed check adds one failure.

--expect LIST: a file with the test names `meson test --list` gave for the
same selection; each one missing from the log is a failure (it never ran).

Prints what failed or was skipped, then a last line
    counts PASSED FAILED SKIPPED TESTS
Exit status: 0 all passed (skips allowed), 1 failures, 2 the log is
missing, unreadable (not JSON, cut short) or empty -- counted as a failure
in the counts line too.  Never prints a counts line that hides a problem.
"""
import json
import re
import sys

CM_RUNNING = re.compile(r"^\[==========\] Running (\d+) test\(s\)\.", re.M)
CM_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
CM_FAILED = re.compile(r"^\[  FAILED  \] (\d+) test\(s\), listed below:", re.M)
CM_SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\), listed below:", re.M)
CM_OK = re.compile(r"^\[       OK \] ", re.M)
CM_RUN = re.compile(r"^\[ RUN      \] (.+)$", re.M)
CM_FAILED_NAME = re.compile(r"^\[  FAILED  \] (?!\d+ test\(s\))(.+)$", re.M)
TAP_LINE = re.compile(r"^(not ok|ok)\b[ \t]*(\d+)?[ \t]*(?:-[ \t]*)?([^#\n]*?)[ \t]*(?:#[ \t]*(.*))?$",
                      re.M)
TAP_PLAN = re.compile(r"^1\.\.(\d+)[ \t]*(?:#[ \t]*(.*))?$", re.M)
DIAG_LINES = 3
DIAG_WIDTH = 400
TAP_BAIL = re.compile(r"^Bail out!(.*)$", re.M)
GOOD_RESULTS = ("OK", "EXPECTEDFAIL", "SKIP")
SHOW = 8  # failed/skipped checks listed per test


class Count:
    def __init__(self, name, result):
        self.name, self.result = name, result
        self.passed = self.failed = self.skipped = 0
        self.why_failed = []   # lines for the report
        self.why_skipped = []

    def fail(self, n, why):
        self.failed += n
        self.why_failed.append(why)

    def skip(self, n, why):
        self.skipped += n
        self.why_skipped.append(why)


def cmocka(c, out):
    running = sum(int(n) for n in CM_RUNNING.findall(out))
    summaries = len(CM_PASSED.findall(out))
    failed = sum(int(n) for n in CM_FAILED.findall(out))
    skipped = sum(int(n) for n in CM_SKIPPED.findall(out))
    if summaries < len(CM_RUNNING.findall(out)):
        # a group never printed its summary (crash, timeout): count the
        # cases that said OK; every other case of the run failed or never ran
        c.passed += len(CM_OK.findall(out))
    else:
        c.passed += sum(int(n) for n in CM_PASSED.findall(out))
    if failed:
        names = sorted(set(CM_FAILED_NAME.findall(out)))
        c.fail(failed, "failed: " + ", ".join(names[:SHOW]) + (" ..." if len(names) > SHOW else ""))
    if skipped:
        c.skip(skipped, f"{skipped} cmocka test(s) skipped")
    lost = running - c.passed - failed - skipped
    if lost > 0:
        last = CM_RUN.findall(out)
        c.fail(lost, f"{lost} of {running} test(s) did not finish (meson result {c.result}"
                     + (f"; the last one started: {last[-1]}" if last else "") + ")")


def diag_after(out, end):
    """The first DIAG_LINES comment lines right after a failed TAP line, each
    cut to DIAG_WIDTH: what the check saw, so that a CI log names it."""
    lines = []
    for line in out[end:].lstrip("\n").split("\n"):
        if not line.startswith("#") or len(lines) == DIAG_LINES:
            break
        lines.append(line if len(line) <= DIAG_WIDTH else line[:DIAG_WIDTH] + " ...")
    return lines


def tap(c, out):
    matches = list(TAP_LINE.finditer(out))
    lines = [m.groups(default="") for m in matches]
    plans = TAP_PLAN.findall(out)
    shown_f = shown_s = 0
    for m, (status, num, name, directive) in zip(matches, lines):
        d = directive.strip().lower()
        if d.startswith("skip") or d.startswith("todo"):
            # a TODO check is known to fail, or passes by luck: not a pass
            kind = "skipped" if d.startswith("skip") else "todo"
            c.skip(1, f"{kind}: {status} {num} - {name} # {directive}" if shown_s < SHOW else None)
            shown_s += 1
        elif status == "ok":
            c.passed += 1
        else:
            why = None
            if shown_f < SHOW:
                why = "\n".join([f"not ok {num} - {name}"]
                                 + ["  " + d for d in diag_after(out, m.end())])
            c.fail(1, why)
            shown_f += 1
    for why in TAP_BAIL.findall(out):
        c.fail(1, f"Bail out!{why}")
    if len(plans) > 1:
        c.fail(1, f"{len(plans)} plans in one output")
    if not plans:
        c.fail(1, f"no plan (1..N) after {len(lines)} check(s): the suite died or was cut short")
        return
    planned, directive = int(plans[0][0]), plans[0][1] or ""
    if planned == 0 and not lines:
        c.skip(1, "whole suite skipped: " + (directive.strip() or "1..0, no reason given"))
    elif len(lines) < planned:
        c.fail(planned - len(lines), f"planned {planned} checks, {len(lines)} reported")
    elif len(lines) > planned:
        c.fail(1, f"planned {planned} checks, {len(lines)} reported")


def count_test(t):
    c = Count(t.get("name", "?"), t.get("result", "?"))
    out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    if CM_RUNNING.search(out) or CM_PASSED.search(out):
        cmocka(c, out)
    elif TAP_LINE.search(out) or TAP_PLAN.search(out):
        tap(c, out)
    elif c.result == "SKIP":
        c.skip(1, "skipped (exit status 77)")
    elif c.result in GOOD_RESULTS:
        c.passed += 1
    else:
        c.fail(1, f"meson result {c.result}, exit status {t.get('returncode')}")
        return c
    if c.result not in GOOD_RESULTS and c.failed == 0:
        c.fail(1, f"meson result {c.result}, exit status {t.get('returncode')}, "
                  "though no check in its output failed")
    return c


def main(argv):
    expect = None
    if len(argv) == 4 and argv[1] == "--expect":
        expect, log = argv[2], argv[3]
    elif len(argv) == 2 and not argv[1].startswith("-"):
        log = argv[1]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    tests, problems = [], []
    try:
        with open(log, encoding="utf-8", errors="strict") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    t = json.loads(line)
                    if not isinstance(t, dict):
                        raise ValueError("not a JSON object")
                except ValueError as e:
                    problems.append(f"line {i} is not a test record ({e}): the log is damaged "
                                    "or cut short")
                    break
                tests.append(t)
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"cannot read: {e}")
    if not tests and not problems:
        problems.append("holds no test: nothing ran")

    counts = [count_test(t) for t in tests]
    missing = []
    if expect is not None:
        try:
            with open(expect) as f:
                wanted = [line.strip() for line in f if line.strip()]
        except OSError as e:
            wanted = []
            problems.append(f"cannot read the expected test list {expect}: {e}")
        if expect is not None and not wanted and not problems:
            problems.append("the expected test list is empty")
        ran = {c.name for c in counts}
        missing = [w for w in wanted if w not in ran]

    passed = sum(c.passed for c in counts)
    failed = sum(c.failed for c in counts) + len(missing) + len(problems)
    skipped = sum(c.skipped for c in counts)
    for c in counts:
        if c.failed or c.skipped:
            tag = "FAIL" if c.failed else "SKIP"
            print(f"   {tag} {c.name}: {c.passed} passed, {c.failed} failed, {c.skipped} skipped")
            for why in c.why_failed + c.why_skipped:
                if why:
                    print("        " + why.replace("\n", "\n        "))
    for m in missing:
        print(f"   FAIL {m}: expected, but not in the log (never ran)")
    for p in problems:
        print(f"   FAIL {log}: {p}")
    print(f"counts {passed} {failed} {skipped} {len(counts)}")
    if problems:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
