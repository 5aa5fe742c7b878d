"""TAP for the Python tests: one counter per process, shared by every
module a test imports, so harness helpers and tests number as one plan.

    from tap import ok, note, group, skip, skip_all, plan

    ok(cond, "name", diag)      one check; diag is printed only on failure
                                (a callable diag is called only then); a
                                "#" in a name is written "No." (it would
                                start a TAP directive such as "# SKIP")
    ok(lambda: j["error"] == "nope", "name", diag)
                                a callable cond is called inside a guard: if
                                it raises, the check is "not ok" with the
                                traceback as diagnostics, and the suite goes on
    with group("name") as g:    a group of checks (and the steps between
        r = client.call(...)    them).  An exception inside the block ends
        ok(r["ok"], "...")      the block only: it is reported as ONE
        ok(r["n"] == 2, "...")  "not ok - name: raised ..." with the
                                traceback, the checks already made keep their
                                results, and the suite continues after the
                                block.  Checks the block did not reach are
                                not run (so the count may differ from a
                                clean run: the failure says why).
                                g.raised: the exception, or None (e.g. to
                                leave out what depended on the block).
                                KeyboardInterrupt and SystemExit pass through.
    note("text")                a "# " comment: progress and facts, never a
                                check (do not write ok(True, ...))
    skip("name", "reason")      one check that could not run here:
                                "ok N - name # SKIP reason" (reported as a
                                skip, and a failure in CI: scripts/test.sh)
    skip_all("reason")          the whole suite cannot run here (call before
                                any check): prints "1..0 # SKIP reason";
                                return its value from main()
    sys.exit(plan())            last: prints "1..N"; exit status 1 if any
                                check failed

Use group() around every piece of a suite that talks to a process and
indexes its answer (j["error"], r.json()["credential"], ...): one bad
answer must fail one check, not end the suite.
"""
import contextlib
import socket
import sys
import traceback

N = 0
FAILED = 0
SKIPPED = 0


def _describe(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _name(name):
    """A check's name on one TAP line: a "#" would start a directive (a
    name holding "# SKIP" would turn a failure into a skip)."""
    return " ".join(str(name).split()).replace("#", "No.")


def ok(cond, name, diag=""):
    """One check.  cond may be a callable: it is called here, and an
    exception from it makes the check fail (traceback as diagnostics).
    Returns whether the check passed."""
    global N, FAILED
    if callable(cond):
        try:
            cond = cond()
        except Exception as e:  # noqa: BLE001 -- the check failed, say why
            cond = False
            diag = f"the check raised {_describe(e)}\n{traceback.format_exc()}"
    cond = bool(cond)
    N += 1
    if not cond:
        FAILED += 1
    print(("ok" if cond else "not ok") + f" {N} - {_name(name)}")
    if not cond and callable(diag):
        try:
            diag = diag()
        except Exception as e:  # noqa: BLE001
            diag = f"(the diagnostics raised {_describe(e)})\n{traceback.format_exc()}"
    if not cond and diag:
        note(diag)
    sys.stdout.flush()
    return cond


class Group:
    """What `with group(name) as g` gives: g.raised is the exception that
    ended the block (None if it ran to its end)."""

    def __init__(self, name):
        self.name = name
        self.raised = None


@contextlib.contextmanager
def group(name):
    """Runs a block of checks; an exception inside the block becomes one
    failed check named after the group, and execution continues after the
    block (see the module's docstring)."""
    g = Group(name)
    try:
        yield g
    except Exception as e:  # noqa: BLE001 -- reported, then the suite goes on
        g.raised = e
        ok(False, f"{name}: raised {_describe(e)}", traceback.format_exc())


def skip(name, reason):
    """A check that cannot run here: reported as a skip, not as a pass."""
    global N, SKIPPED
    N += 1
    SKIPPED += 1
    print(f"ok {N} - {_name(name)} # SKIP {_name(reason)}")
    sys.stdout.flush()


def skip_all(reason):
    """The whole suite is skipped; returns the exit status for main()."""
    if N:
        raise RuntimeError("skip_all() after checks ran; use skip() per check")
    print(f"1..0 # SKIP {_name(reason)}")
    sys.stdout.flush()
    return 0


def note(text):
    for line in str(text).splitlines():
        print("# " + line)
    sys.stdout.flush()


def plan():
    """Prints the plan; returns the exit code."""
    print(f"1..{N}")
    sys.stdout.flush()
    return 1 if FAILED else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
