#!/usr/bin/env python3
"""passkeyd under load, on the real daemon and its real control socket.

Prints, as ratios against baselines measured in the same run (this machine
is noisy, absolute figures drift):
  control: ping_per_s (round trip, no work) and begin_per_s (login_begin:
           store lookup, limits, token, event written to the audit log),
           and their ratio;
  memory:  VmRSS idle and with N pending ceremonies, and bytes per ceremony.

usage: daemon_bench.py PASSKEYD [N]   (needs nothing but a writable temp dir)"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def call(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")
        return json.loads(self.f.readline())


def rate(conn, make, n):
    t0 = time.perf_counter()
    for i in range(n):
        r = conn.call(make(i))
        if not r.get("ok"):
            raise SystemExit(f"daemon_bench: request {i} refused: {r}")
    return n / (time.perf_counter() - t0)


def main():
    passkeyd = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    tmp = tempfile.mkdtemp(prefix="passkeyd-bench.")
    sock = os.path.join(tmp, "control.sock")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = os.path.join(tmp, "passkeyd.conf")
    with open(conf, "w") as f:
        f.write(f"rp_id = localhost\norigin = http://localhost:{port}\n"
                f"listen = 127.0.0.1:{port}\npublic_url = http://localhost:{port}\n"
                f"store = {tmp}/store.db\nsocket = {sock}\nceremony_timeout = 3600\n"
                f"max_pending_total = {2 * n}\nmax_pending_per_user = {2 * n}\n"
                f"max_pending_per_address = {2 * n}\n")
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen([passkeyd, "--config", conf, "--foreground"],
                            stdout=log, stderr=log)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        idle = rss_kib(proc.pid)
        c = Conn(sock)
        ping = rate(c, lambda i: {"op": "ping"}, 5000)
        # an account every system has, without a passkey, under
        # enroll=after-auth: the same lookup, limits and ceremony as a login
        # without seeding the store first; unbound, so that one connection
        # can hold them all (the module binds its one ceremony)
        begin = rate(c, lambda i: {"op": "login_begin", "user": "root",
                                   "rhost": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                                   "service": "sshd", "enroll": "after-auth",
                                   "bind": False}, n)
        time.sleep(0.2)
        full = rss_kib(proc.pid)
        print(f"control: ping_per_s={ping:.0f} begin_per_s={begin:.0f} "
              f"ratio={begin / ping:.2f} (begins with 0..{n} pending)")
        print(f"memory: idle_rss_kib={idle} pending={n} rss_kib={full} "
              f"ratio={full / idle:.2f} bytes_per_ceremony={(full - idle) * 1024 // n}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
