#!/usr/bin/env python3
"""Per-login cost of passkeyd over a fixed number of logins, for the
performance issue's attribution.  passkeyd starts as bench/ceremony.py
starts it (SQLite store, nss_wrapper users); bench/ceremony-load registers
its users, warms the daemon up (every key parsed, the store's pages read),
then runs N logins at each concurrency ("run C S N").

  profile.py plain     BIN [--n N] [--c 1,16]   user and system ms per login
  profile.py strace    BIN ...                  system calls per login, by kind
  profile.py callgrind BIN ...                  instructions per login, by library
  profile.py perf      BIN ...                  CPU time per login, by library and,
                                                in the kernel, by system call
  profile.py ... --pg                           the same with the store on PostgreSQL

callgrind: passkeyd runs under valgrind with instrumentation off until the
measured logins (callgrind_control -i on, -z, then -d after them); the
dumps stay in --out for callgrind_annotate (--inclusive=yes, --tree=caller).
Instructions are repeatable but not time: under valgrind OpenSSL takes
slower paths, so libcrypto's share is overstated, and a system call counts
nothing.  perf samples the daemon's CPU time instead (perf record -g on its
threads), noisy but in time; the data stays in --out for perf report.
Needs valgrind, strace, perf, and the build of bench/ceremony.sh (build/)."""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ceremony as cb  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def proc_times(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])	# utime, stime in ticks


def callgrind_by_object(path):
    """Exclusive Ir per shared object of one callgrind dump, and the total."""
    names = {"ob": {}, "fn": {}}
    per_fn, fn_ob = collections.Counter(), {}
    ob = fn = None
    after_calls = False

    def name(kind, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), "?")
    with open(path) as f:
        for line in f:
            if line[:1].isdigit() or line[:1] in "+-*":
                if not after_calls:
                    parts = line.split()
                    per_fn[fn] += int(parts[1]) if len(parts) > 1 else 0
                after_calls = False	# a calls= line's cost is the callee's, inclusive
                continue
            key, _, rest = line.rstrip("\n").partition("=")
            if key == "ob":
                ob = name("ob", rest)
            elif key == "fn":
                fn = name("fn", rest)
                fn_ob.setdefault(fn, ob)
            elif key in ("cob", "cfn"):
                name(key[1:], rest)
            elif key == "calls":
                after_calls = True
    by_ob = collections.Counter()
    for f, ir in per_fn.items():
        by_ob[os.path.basename(fn_ob.get(f) or "?")] += ir
    return by_ob, sum(by_ob.values())


def strace_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[3].isdigit() and p[-1] != "total":
                counts[p[-1]] = int(p[3])
    return counts


# The modes that attach a tracer to the daemon: its command before "-p PID
# -o FILE", and the file's extension.
TRACERS = {"strace": (["strace", "-c", "-f"], "txt"),
           "perf": (["perf", "record", "-q", "-g"], "data")}


def perf_shares(path):
    """(share of samples per library, share per system call) of one perf
    record: each library's own samples, and each system call's samples with
    what it called (the kernel's work on the daemon's behalf)."""
    def report(*how):
        return subprocess.run(["perf", "report", "--stdio", "-g", "none", "-i", path, *how],
                              check=True, capture_output=True, text=True).stdout
    by_dso, by_call = {}, {}
    for line in report("--no-children", "--sort", "dso").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            by_dso[m.group(2)] = float(m.group(1))
    # a call's entry frame: __x64_sys_X, or __sys_X or __do_sys_X where the
    # compiler made the entry a tail call (sendmsg here); the largest of them
    for line in report("--children", "--sort", "sym").splitlines():
        m = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[k\] (?:__x64_sys_|__do_sys_|__sys_)(\w+)",
                     line)
        if m:
            by_call[m.group(2)] = max(by_call.get(m.group(2), 0.0), float(m.group(1)))
    return by_dso, by_call


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("plain", "strace", "callgrind", "perf"))
    ap.add_argument("passkeyd")
    ap.add_argument("--n", type=int, default=2000, help="logins per concurrency")
    ap.add_argument("--c", default="1,16", help="concurrencies")
    ap.add_argument("--load", default=os.path.join(ROOT, "build", "bench", "ceremony-load"))
    ap.add_argument("--out", default="", help="keep the dumps here (default: a temporary folder)")
    ap.add_argument("--pg", action="store_true",
                    help="the store on a PostgreSQL server started here (tests/lib/pgserver.py)")
    args = ap.parse_args()
    cs = [int(x) for x in args.c.split(",")]
    tmp = tempfile.mkdtemp(prefix="passkeyd-profile.")
    out = args.out or tmp
    os.makedirs(out, exist_ok=True)
    wrapper = os.path.join(tmp, "passkeyd.sh")
    binary = os.path.abspath(args.passkeyd)
    with open(wrapper, "w") as f:
        if args.mode == "callgrind":
            f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                    f"--callgrind-out-file={out}/callgrind.%p.out {binary} \"$@\"\n")
        else:
            f.write(f"#!/bin/sh\nexec {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    srv = load = pg = None
    try:
        store = None
        if args.pg:
            sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
            from pgserver import PgServer
            pg = PgServer().__enter__()
            store = pg.create_db("profile")
        srv = cb.Ours(wrapper, os.path.join(tmp, "srv"),
                      names=[f"bench{i}" for i in range(cb.USERS)], store=store)
        pid = srv.proc.pid
        load = cb.Load(args.load, srv, max(cs))

        def run(c, n):
            load.p.stdin.write(f"run {c} 3600 {n}\n")
            load.p.stdin.flush()
            return dict(kv.split("=") for kv in load.p.stdout.readline().split())
        run(max(cs), 2 * cb.USERS)	# warm-up: not measured
        hz = os.sysconf("SC_CLK_TCK")
        for dump, c in enumerate(cs, 1):
            tracer = None
            if args.mode == "callgrind":
                for op in (["-i", "on"], ["-z"]):
                    subprocess.run(["callgrind_control", *op, str(pid)], check=True,
                                   capture_output=True)
            elif args.mode in TRACERS:
                cmd, ext = TRACERS[args.mode]
                traced = f"{out}/{args.mode}.c{c}.{ext}"
                tracer = subprocess.Popen([*cmd, "-p", str(pid), "-o", traced],
                                          stderr=subprocess.DEVNULL)
                time.sleep(1.5)	# attached to every thread
            u0, s0 = proc_times(pid)
            res = run(c, args.n)
            u1, s1 = proc_times(pid)
            n = max(1, int(res["logins"]))
            print(f"c={c} logins={n} errors={res['errors']} per_s={res['per_s']} "
                  f"user_ms={(u1 - u0) * 1000 / hz / n:.3f} sys_ms={(s1 - s0) * 1000 / hz / n:.3f}",
                  flush=True)
            if tracer is not None:
                time.sleep(0.5)
                tracer.send_signal(2)	# both write what they gathered on SIGINT
                tracer.wait(60)
            if args.mode == "perf":
                cpu_ms = ((u1 - u0) + (s1 - s0)) * 1000 / hz / n
                by_dso, by_call = perf_shares(traced)
                print("  CPU by library: " + " ".join(
                    f"{k}={v:.1f}%" for k, v in sorted(by_dso.items(), key=lambda kv: -kv[1])
                    if v >= 0.5), flush=True)
                print("  kernel by system call (ms per login): " + " ".join(
                    f"{k}={v * cpu_ms / 100:.3f}" for k, v in
                    sorted(by_call.items(), key=lambda kv: -kv[1]) if v >= 0.5), flush=True)
            elif args.mode == "strace":
                counts = strace_counts(traced)
                print("  syscalls per login: " + " ".join(
                    f"{k}={v / n:.2f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
                    if v / n >= 0.05) + f" total={sum(counts.values()) / n:.2f}", flush=True)
            if args.mode == "callgrind":
                for op in (["-d", f"c{c}"], ["-i", "off"]):
                    subprocess.run(["callgrind_control", *op, str(pid)], check=True,
                                   capture_output=True)
                path = [p for p in os.listdir(out) if p.endswith(f".out.{dump}")][0]
                by_ob, total = callgrind_by_object(os.path.join(out, path))
                kept = f" ({out}/{path})" if args.out else ""
                print(f"  instructions per login: {total / n:,.0f}{kept}", flush=True)
                for ob, ir in by_ob.most_common(10):
                    print(f"    {ir / n:10,.0f} {100 * ir / total:5.1f}%  {ob}", flush=True)
    finally:
        if load is not None:
            load.close()
        if srv is not None:
            srv.stop()
        if pg is not None:
            pg.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
