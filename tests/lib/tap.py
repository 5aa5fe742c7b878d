"""TAP for the Python tests: one counter per process, shared by every
module a test imports, so harness helpers and tests number as one plan."""
import socket
import sys

N = 0
FAILED = 0


def ok(cond, name, diag=""):
    global N, FAILED
    N += 1
    if not cond:
        FAILED += 1
    print(("ok" if cond else "not ok") + f" {N} - {name}")
    if not cond and diag:
        note(diag)
    sys.stdout.flush()


def note(text):
    for line in str(text).splitlines():
        print("# " + line)
    sys.stdout.flush()


def plan():
    """Prints the plan; returns the exit code."""
    print(f"1..{N}")
    return 1 if FAILED else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
