#!/usr/bin/env python3
"""Whole login ceremonies: passkeyd against a JavaScript relying party
(bench/peer/, @simplewebauthn/server), measured in the same run, plus the
figures the performance issue tracks.  bench/ceremony.sh builds what this
needs and runs it.

  ceremonies c=N ours_per_s=A peer_per_s=B ratio=A/B ours_cpu_ms=X p50_ms=Y p99_ms=Z
      verify_cpu_ms=V ours_cpu_in_verifies=X/V peer_cpu_ms=P cpu_vs_peer=X/P
      one login = control login_begin -> POST options -> POST finish (an ES256
      assertion signed by bench/ceremony-load) -> control status "approved",
      at concurrency 1, 16 and 64; rounds alternate between the two servers
      so that the machine's noise hits both; medians of the rounds.  V: the
      CPU time of one raw ES256 verification in OpenSSL (ceremony-load's
      "verify"), before and after the rounds: a login's daemon CPU in
      verifications carries over between machines as milliseconds do not.
      P: the peer's CPU per login (every thread of its process), in the
      same rounds.  With --baseline BIN (ceremony.sh --baseline-rev REV),
      an older passkeyd runs in the same rounds too: baseline_per_s=,
      baseline_cpu_ms=B and cpu_vs_baseline=X/B
  begin: begin_per_s at 1k and at 100k pending ceremonies, and their ratio
  memory: bytes per pending ceremony (RSS growth over 100k pending)
  listing: logins per second during a root listing of 100k passkeys, as a
      ratio to the rate without it
  windows: one page of root's re-approval windows (sessions) at 1k and at
      100k open windows, milliseconds and their ratio
  fleet: the same ceremonies at c=16 on one instance on SQLite, one on
      PostgreSQL and two on one PostgreSQL database (the load split between
      them), rounds alternating; ceremonies per second and the server time
      from the user's Enter (the status request after the approval) to the
      answer PAM_SUCCESS follows, p50 and p99; PostgreSQL from
      tests/lib/pg-server.sh (fsync on, as a real server's); each round's
      own two-vs-one pair; and the whole machine's CPU per ceremony (every
      process, the server's too), which bounds the rate when all the
      cores are busy
  fleet_begin: begin_per_s on PostgreSQL at 1k and at 100k pending
      ceremonies of the fleet, and their ratio: the admit trigger's counts

usage: ceremony.py --passkeyd BIN --load BIN --peer server.mjs [--short]"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
USERS = 128


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def nss_env(folder, names):
    passwd, group = os.path.join(folder, "passwd"), os.path.join(folder, "group")
    with open("/etc/passwd") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    lines += [f"{n}:x:{64000 + i}:64000::/nonexistent:/usr/sbin/nologin" for i, n in enumerate(names)]
    with open(passwd, "w") as f:
        f.write("\n".join(lines) + "\n")
    shutil.copy("/etc/group", group)
    env = dict(os.environ)
    env.update(LD_PRELOAD=NSS_WRAPPER, NSS_WRAPPER_PASSWD=passwd, NSS_WRAPPER_GROUP=group)
    return env


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])	# utime + stime


def settle(pid, quiet=0.3, limit=15.0):
    """Waits until the process used no CPU for `quiet` seconds (at most
    `limit`): after a burst of begins its journal writer is still
    committing their audit rows, and SQLite checkpoints its WAL; a rate
    measured meanwhile measures that backlog, not the begins."""
    end = time.monotonic() + limit
    last = cpu_ticks(pid)
    while time.monotonic() < end:
        time.sleep(quiet)
        now = cpu_ticks(pid)
        if now == last:
            return
        last = now


def machine_busy_ticks():
    """The whole machine's busy CPU ticks (every core; /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]	# all but idle and iowait


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Ours:
    def __init__(self, passkeyd, folder, extra="", names=(), legacy=False, store=None):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.sock = os.path.join(folder, "control.sock")
        self.store = store or os.path.join(folder, "store.db")
        conf = os.path.join(folder, "passkeyd.conf")
        with open(conf, "w") as f:
            # the peer asks for UV as "preferred": compare like with like
            f.write(f"rp_id = localhost\norigin = {self.origin}\nlisten = 127.0.0.1:{self.port}\n"
                    f"public_url = {self.origin}\nstore = {self.store}\nsocket = {self.sock}\n"
                    "require_uv = no\nceremony_timeout = 3600\nmax_pending_total = 300000\n"
                    "max_pending_per_user = 300000\nmax_pending_per_address = 300000\n" +
                    ("" if legacy else "max_pending_per_user_address = 300000\naudit_max_rows = 0\n")
                    + extra)
        self.log = open(os.path.join(folder, "log"), "w")
        self.proc = subprocess.Popen([passkeyd, "--config", conf, "--foreground"],
                                     stdout=self.log, stderr=self.log,
                                     env=nss_env(folder, names))
        wait_socket(self.sock, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


class Peer:
    def __init__(self, server, folder):
        os.makedirs(folder, exist_ok=True)
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.sock = os.path.join(folder, "peer.sock")
        self.log = open(os.path.join(folder, "peer.log"), "w")
        self.proc = subprocess.Popen(["node", server, "--listen", str(self.port), "--socket",
                                      self.sock, "--db", os.path.join(folder, "peer.db"),
                                      "--rp-id", "localhost", "--origin", self.origin],
                                     stdout=self.log, stderr=self.log)
        wait_socket(self.sock, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def wait_socket(path, proc):
    for _ in range(400):
        if os.path.exists(path):
            time.sleep(0.1)
            return
        if proc.poll() is not None:
            raise SystemExit(f"bench: a server exited at start ({proc.args[0]})")
        time.sleep(0.05)
    raise SystemExit(f"bench: no socket at {path}")


class Load:
    """One ceremony-load process per server: it registers the users once
    and runs a load for each "run C S" line."""

    def __init__(self, binary, server, max_c, prefix="bench"):
        self.p = subprocess.Popen([binary, "--socket", server.sock, "--origin", server.origin,
                                   "--users", str(USERS), "--concurrency", str(max_c),
                                   "--register", "--interactive", "--user-prefix", prefix],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "ready":
            raise SystemExit("bench: ceremony-load could not register its users")

    def run(self, c, seconds):
        self.p.stdin.write(f"run {c} {seconds}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        return dict(kv.split("=") for kv in line.split())

    def verify_us(self, n=2000):
        """CPU microseconds of one raw ES256 verification in OpenSSL, timed
        in this load's process (ceremony-load's "verify N")."""
        self.p.stdin.write(f"verify {n}\n")
        self.p.stdin.flush()
        return float(self.p.stdout.readline().split("=")[1])

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


failures = []	# figures are for reading; a failed ceremony is an error


def ceremonies(args, tmp):
    names = [f"bench{i}" for i in range(USERS)]
    servers = {"ours": Ours(args.passkeyd, os.path.join(tmp, "ours"), names=names),
               "peer": Peer(args.peer, os.path.join(tmp, "peer"))}
    if args.baseline:	# an older passkeyd, for "before" figures in the same run
        try:
            servers["base"] = Ours(args.baseline, os.path.join(tmp, "base"), names=names)
        except SystemExit:	# older than the options set here: it refused the file
            servers["base"] = Ours(args.baseline, os.path.join(tmp, "base-legacy"),
                                   names=names, legacy=True)
    loads = {}
    try:
        for who, srv in servers.items():
            loads[who] = Load(args.load, srv, 64)
        rounds, seconds = (1, 2) if args.short else (3, 5)
        for c in (1, 16, 64):
            rate = {who: [] for who in servers}
            cpu = {who: [] for who in servers}
            p50, p99, errs = [], [], 0
            verify = [loads["ours"].verify_us()]	# the baseline, before and after
            for r in range(rounds):
                order = list(servers)
                if r % 2:
                    order.reverse()
                for who in order:
                    pid = servers[who].proc.pid
                    t0 = cpu_ticks(pid)
                    res = loads[who].run(c, seconds)
                    errs += int(res.get("errors", 1))
                    n = max(1, int(res["logins"]))
                    cpu[who].append((cpu_ticks(pid) - t0) * 1000 / os.sysconf("SC_CLK_TCK") / n)
                    rate[who].append(float(res["per_s"]))
                    if who == "ours":
                        p50.append(float(res["p50_ms"]))
                        p99.append(float(res["p99_ms"]))
            verify.append(loads["ours"].verify_us())
            a, b = statistics.median(rate["ours"]), statistics.median(rate["peer"])
            ours_cpu, verify_ms = statistics.median(cpu["ours"]), statistics.mean(verify) / 1000
            peer_cpu = statistics.median(cpu["peer"])
            line = (f"ceremonies c={c} ours_per_s={a:.0f} peer_per_s={b:.0f} ratio={a / b:.2f} "
                    f"ours_cpu_ms={ours_cpu:.3f} "
                    f"p50_ms={statistics.median(p50):.2f} p99_ms={statistics.median(p99):.2f} "
                    f"verify_cpu_ms={verify_ms:.4f} ours_cpu_in_verifies={ours_cpu / verify_ms:.2f}"
                    f" peer_cpu_ms={peer_cpu:.3f} cpu_vs_peer={ours_cpu / max(peer_cpu, 1e-9):.2f}")
            if "base" in servers:
                base_cpu = statistics.median(cpu["base"])
                line += (f" baseline_per_s={statistics.median(rate['base']):.0f} "
                         f"baseline_cpu_ms={base_cpu:.3f}"
                         f" cpu_vs_baseline={ours_cpu / max(base_cpu, 1e-9):.2f}")
            print(line + f" errors={errs}", flush=True)
            if errs:
                failures.append(f"c={c}: {errs} ceremonies failed")
    finally:
        for l in loads.values():
            l.close()
        for srv in servers.values():
            srv.stop()


class Ctl:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def pipeline(self, reqs):
        """Sends all, then reads all answers (the daemon answers in order)."""
        data = b"".join(json.dumps(r).encode() + b"\n" for r in reqs)
        t = threading.Thread(target=self.s.sendall, args=(data,))
        t.start()
        out = [json.loads(self.f.readline()) for _ in reqs]
        t.join()
        return out

    def call(self, req):
        return self.pipeline([req])[0]


def begin_req(i):
    """The i-th begin of a begin-rate measurement: root, from its own address."""
    return {"op": "login_begin", "user": "root", "service": "bench",
            "rhost": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "enroll": "after-auth",
            "bind": False}


def begins(args, tmp):
    """login_begin at 1k and at 100k pending, alternating three times (the
    filler ceremonies are cancelled back down), medians: the machine's
    noise hits both sides."""
    ours = Ours(args.passkeyd, os.path.join(tmp, "begin"))
    try:
        c = Ctl(ours.sock)
        tokens = []
        seq = [0]

        def begin_reqs(k):
            seq[0] += k
            return [begin_req(i) for i in range(seq[0] - k, seq[0])]

        def fill(upto):
            while len(tokens) < upto:
                # pipelined in chunks: the daemon serves a client that reads
                for r in c.pipeline(begin_reqs(min(500, upto - len(tokens)))):
                    if not r.get("ok"):
                        raise SystemExit(f"bench: begin refused while filling: {r}")
                    tokens.append(r["token"])

        def drain(downto):
            while len(tokens) > downto:
                k = min(500, len(tokens) - downto)
                c.pipeline([{"op": "cancel", "token": t} for t in tokens[-k:]])
                del tokens[-k:]

        def rate(count):
            t0 = time.perf_counter()
            for req in begin_reqs(count):
                r = c.call(req)
                if not r.get("ok"):
                    raise SystemExit(f"bench: begin refused: {r}")
                tokens.append(r["token"])
            return count / (time.perf_counter() - t0)

        big = 20000 if args.short else 100000
        small_rates, big_rates, mem = [], [], []
        # after a burst of begins the daemon is still writing their audit
        # rows (and SQLite checkpoints its WAL): both sides are measured
        # once it is idle again
        for _ in range(1 if args.short else 3):
            drain(1000)
            fill(1000)
            settle(ours.proc.pid)
            rss1 = rss_kib(ours.proc.pid)
            small_rates.append(rate(2000))
            fill(big)
            settle(ours.proc.pid)
            rss2 = rss_kib(ours.proc.pid)
            big_rates.append(rate(2000))
            mem.append((rss2 - rss1) * 1024 // (big - 3000))
        r1, r2 = statistics.median(small_rates), statistics.median(big_rates)
        print(f"begin: begin_per_s pending=1000 {r1:.0f} pending={big} {r2:.0f} ratio={r2 / r1:.2f}",
              flush=True)
        print(f"memory: pending={big} bytes_per_ceremony={mem[0]} (RSS growth, first fill)",
              flush=True)
    finally:
        ours.stop()


def fleet_begins(args, tmp):
    """login_begin on PostgreSQL at 1k and at 100k pending ceremonies in
    the fleet (another host's rows, written in SQL), alternating three
    times, medians: what the admit trigger's counts cost a begin.  Each
    rate is taken once the fleet's counts were made again after the fill
    (pk_pending_recount, asked by the daemon's sweep each second)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "lib"))
    from pgserver import PgServer
    big = 20000 if args.short else 100000
    with PgServer() as pg:
        uri = pg.create_db("begins")
        ours = Ours(args.passkeyd, os.path.join(tmp, "fleet-begin"), store=uri)
        try:
            pg.query(uri, "UPDATE pk_limits SET per_user = 1000000, per_address = 1000000,"
                     " per_user_address = 1000000, per_host = 1000000, total = 1000000")
            c = Ctl(ours.sock)
            seq, tokens = [0], []

            def filler(upto):
                have = int(pg.value(uri, "SELECT count(*) FROM ceremonies"
                                         " WHERE host_role = 'filler'"))
                if upto < have:
                    pg.query(uri, "DELETE FROM ceremonies WHERE host_role = 'filler'"
                                  f" AND user_name::text > 'filler{upto:07d}'")
                    return
                # as a host's rows, written past the trigger (a superuser's
                # replica role): what is measured is the begins, not the fill
                pg.query(uri, "SET session_replication_role = replica;"
                         " INSERT INTO ceremonies (token_hash, host_role, hostname, kind, state,"
                         " code, user_name, rhost, service, addr_key, challenge, created,"
                         " expires, admitted) SELECT sha256(('filler' || i)::bytea), 'filler',"
                         " 'filler.example', 'login', 'pending', 'FIL-' || i,"
                         " 'filler' || lpad(i::text, 7, '0'), '', 'sshd', '',"
                         " sha256(i::text::bytea), e, e + 3600, nextval('pk_admitted')"
                         f" FROM generate_series({have + 1}, {upto}) i,"
                         " (SELECT floor(extract(epoch FROM now()))::bigint AS e) t")

            def counted():
                for _ in range(150):
                    if pg.value(uri, "SELECT count(*) FROM pk_pending_total WHERE upto >="
                                     " (SELECT last_value FROM pk_admitted)") == "1":
                        return
                    time.sleep(0.1)
                raise SystemExit("bench: the fleet's counts were not made again in 15 s")

            def rate(count):
                t0 = time.perf_counter()
                for i in range(seq[0], seq[0] + count):
                    r = c.call(begin_req(i))
                    if not r.get("ok"):
                        raise SystemExit(f"bench: begin refused: {r}")
                    tokens.append(r["token"])
                seq[0] += count
                return count / (time.perf_counter() - t0)

            def cancel_ours():
                while tokens:
                    c.pipeline([{"op": "cancel", "token": t} for t in tokens[-500:]])
                    del tokens[-500:]

            small, large = [], []
            for _ in range(1 if args.short else 3):
                for upto, rates in ((1000, small), (big, large)):
                    cancel_ours()
                    filler(upto)
                    counted()
                    settle(ours.proc.pid)
                    rates.append(rate(1000))
            r1, r2 = statistics.median(small), statistics.median(large)
            print(f"fleet_begin: begin_per_s pending=1000 {r1:.0f} pending={big} {r2:.0f}"
                  f" ratio={r2 / r1:.2f}", flush=True)
        finally:
            ours.stop()


def seed(store, count):
    """count passkeys of count users, written into the store as passkeyd would."""
    db = sqlite3.connect(store)
    db.execute("BEGIN")
    for i in range(count):
        user = f"seed{i}"
        cid = hashlib.sha256(f"seed-credential-{i}".encode()).digest()
        db.execute("INSERT INTO users (name, handle, created) VALUES (?, ?, 1)",
                   (user, os.urandom(32)))
        db.execute("INSERT INTO credentials (user, id, alg, pubkey_cose, sign_count, fmt, aaguid,"
                   " uv, be, bs, attestation, created, last_used, id_hash) VALUES"
                   " (?, ?, -7, ?, 0, 'none', zeroblob(16), 1, 0, 0, 'none', ?, 0, ?)",
                   (user, cid, b"\xa5\x01\x02\x03\x26" + bytes(72), 1700000000 + i,
                    hashlib.sha256(cid).hexdigest()))
    db.execute("COMMIT")
    db.close()


def scrape_metric(port, name):
    """One sample of passkeyd's metrics listener, as a number (None: absent)."""
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def listing(args, tmp):
    """Logins alone and during a root listing (passkeyctl list --json, what an
    admin runs), rounds alternating; the ratio of the medians.  A listing runs
    through each "during" measurement, and each must list every passkey."""
    names = [f"bench{i}" for i in range(USERS)]
    count = 20000 if args.short else 100000
    rounds, seconds = (1, 2) if args.short else (3, 5)
    folder = os.path.join(tmp, "listing")
    ours = Ours(args.passkeyd, folder, names=names)	# makes the schema
    ours.stop()
    seed(ours.store, count)
    mport = free_port()
    ours = Ours(args.passkeyd, folder, names=names, extra=f"metrics_listen = 127.0.0.1:{mport}\n")
    ctl = os.path.join(os.path.dirname(os.path.abspath(args.passkeyd)), "..", "passkeyctl",
                       "passkeyctl")

    def list_all(out):
        t0 = time.perf_counter()
        r = subprocess.run([ctl, "--socket", ours.sock, "list", "--json"],
                           capture_output=True, timeout=600)
        out.append((time.perf_counter() - t0,
                    len(json.loads(r.stdout or b"[]")) if r.returncode == 0 else -1))
    lo = None
    try:
        lo = Load(args.load, ours, 16)
        idle = []
        list_all(idle)
        alone, during, busy, through, held0 = [], [], [], 0, scrape_metric(mport, HELD)
        for _ in range(rounds):
            alone.append(float(lo.run(16, seconds)["per_s"]))
            t = threading.Thread(target=list_all, args=(busy,))
            t.start()
            time.sleep(0.2)
            during.append(float(lo.run(16, seconds)["per_s"]))
            through += t.is_alive()	# the listing lasted the whole measurement
            t.join()
        held = scrape_metric(mport, HELD) - held0
        a, d = statistics.median(alone), statistics.median(during)
        print(f"listing: passkeys={count + USERS} logins_per_s_alone={a:.0f} "
              f"during_root_listing={d:.0f} ratio={d / a:.2f} rounds={rounds} "
              f"listing_s idle={idle[0][0]:.2f} during_logins="
              f"{statistics.median(x[0] for x in busy):.2f} pages_held={held:.0f} "
              f"(passkeyctl list --json, through the measurement in {through}/{rounds})",
              flush=True)
        bad = [n for _, n in idle + busy if n != count + USERS]
        if bad:
            failures.append(f"listing: passkeyctl listed {bad}, not {count + USERS}")
        if not held:
            failures.append("listing: no page waited for the loop's share during the logins")
    finally:
        if lo is not None:
            lo.close()
        ours.stop()


HELD = "passkeyd_control_reads_held_total"


def seed_windows(store, first, last):
    """Open re-approval windows first..last-1 of as many users, written
    into the store as an approval would."""
    db = sqlite3.connect(store, timeout=30)
    now = int(time.time())
    with db:
        db.executemany("INSERT INTO windows (id, user, service, rhost, client_key, hostname,"
                       " source, cred_id, opened, expires) VALUES (?, ?, 'sshd', ?, '', 'bench',"
                       " 'seed', x'01', ?, ?)",
                       ((f"{i:016x}", f"seed{i}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                         now - 3600 + i % 3000, now + 86400) for i in range(first, last)))
    db.close()


def windows(args, tmp):
    """Root's `sessions` (every user's re-approval windows), the first page
    and a page deep into the listing, at 1k and at 100k open windows: the
    median time of one answer, and the ratio.  A page is one index range,
    so it should cost the same however many windows are open."""
    big = 20000 if args.short else 100000
    folder = os.path.join(tmp, "windows")
    ours = Ours(args.passkeyd, folder)	# makes the schema
    times = {}
    try:
        for count in (1000, big):
            ours.stop()
            seed_windows(ours.store, 1000 if count == big else 0, count)
            # a cursor in the middle: where a listing's later pages start
            db = sqlite3.connect(ours.store)
            mid = db.execute("SELECT opened, id FROM windows ORDER BY opened, id"
                             " LIMIT 1 OFFSET ?", (count // 2,)).fetchone()
            db.close()
            deep = {"op": "sessions", "cursor": f"{mid[0]}:{mid[1]}"}
            ours = Ours(args.passkeyd, folder)
            c = Ctl(ours.sock)
            first = c.call({"op": "sessions"})
            took = []
            for _ in range(5 if args.short else 25):
                for req in ({"op": "sessions"}, deep):
                    t0 = time.perf_counter()
                    r = c.call(req)
                    took.append(time.perf_counter() - t0)
                    if not r.get("ok") or not r.get("sessions") or "next" not in r:
                        failures.append(f"windows: a page of {count} came back as {str(r)[:120]}")
            if not first.get("ok"):
                failures.append(f"windows: sessions answered {first}")
            times[count] = statistics.median(took) * 1000
        print(f"windows: sessions_page_ms open=1000 {times[1000]:.2f} open={big}"
              f" {times[big]:.2f} ratio={times[big] / times[1000]:.2f}"
              " (root's passkeyctl sessions, one page)", flush=True)
    finally:
        ours.stop()


def fleet(args, tmp):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "lib"))
    from pgserver import PgServer
    c, (rounds, seconds) = 16, ((2, 2) if args.short else (5, 5))
    names = [f"{p}{i}" for p in ("bench", "bencha", "benchb") for i in range(USERS)]
    with PgServer() as pg:
        one, two = pg.create_db("one"), pg.create_db("two")
        servers = {"sqlite": [Ours(args.passkeyd, os.path.join(tmp, "f-sqlite"), names=names)],
                   "pg1": [Ours(args.passkeyd, os.path.join(tmp, "f-pg1"), names=names,
                                store=one)],
                   "pg2": [Ours(args.passkeyd, os.path.join(tmp, f"f-pg2-{k}"), names=names,
                                store=two) for k in (0, 1)]}
        loads = {}
        try:
            for who, srvs in servers.items():
                loads[who] = [Load(args.load, srv, c, prefix=("bench", "bencha", "benchb")[
                    k + (1 if who == "pg2" else 0)]) for k, srv in enumerate(srvs)]
            rate = {who: [] for who in servers}
            enter50 = {who: [] for who in servers}
            enter99 = {who: [] for who in servers}
            busy = {who: [] for who in servers}
            hz = os.sysconf("SC_CLK_TCK")
            errs = 0
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for who in order:
                    share = c // len(loads[who])
                    res = [None] * len(loads[who])

                    def go(k, who=who, share=share, res=res):
                        res[k] = loads[who][k].run(share, seconds)
                    ts = [threading.Thread(target=go, args=(k,)) for k in range(len(res))]
                    b0 = machine_busy_ticks()
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    done = sum(int(x["logins"]) for x in res)
                    busy[who].append((machine_busy_ticks() - b0) * 1000 / hz / max(done, 1))
                    errs += sum(int(x.get("errors", 1)) for x in res)
                    rate[who].append(sum(float(x["per_s"]) for x in res))
                    enter50[who].append(statistics.mean(float(x["enter_p50_ms"]) for x in res))
                    enter99[who].append(max(float(x["enter_p99_ms"]) for x in res))
            med = lambda d, who: statistics.median(d[who])  # noqa: E731
            print(f"fleet c={c} sqlite_per_s={med(rate, 'sqlite'):.0f} pg_per_s={med(rate, 'pg1'):.0f}"
                  f" pg_two_per_s={med(rate, 'pg2'):.0f}"
                  f" two_vs_one={med(rate, 'pg2') / med(rate, 'pg1'):.2f} errors={errs}"
                  # each round's own pair: the machine's noise, seen
                  f" rounds_two_vs_one="
                  + ",".join(f"{b / a:.2f}" for a, b in zip(rate["pg1"], rate["pg2"])),
                  flush=True)
            print(f"enter: enter_to_success_ms p50 sqlite={med(enter50, 'sqlite'):.3f}"
                  f" pg={med(enter50, 'pg1'):.3f} pg_two={med(enter50, 'pg2'):.3f}"
                  f" pg_minus_sqlite_p50={med(enter50, 'pg1') - med(enter50, 'sqlite'):.3f}"
                  f" p99 sqlite={med(enter99, 'sqlite'):.3f} pg={med(enter99, 'pg1'):.3f}"
                  f" pg_two={med(enter99, 'pg2'):.3f}", flush=True)
            # what limits them here: the machine's CPU (every process, the
            # server's too) per ceremony; on cores all busy, the rate is its
            # inverse, and two instances can only match one
            print(f"fleet_cpu: machine_cpu_ms_per_ceremony sqlite={med(busy, 'sqlite'):.2f}"
                  f" pg={med(busy, 'pg1'):.2f} pg_two={med(busy, 'pg2'):.2f}"
                  f" two_vs_one={med(busy, 'pg2') / med(busy, 'pg1'):.2f}"
                  f" cores={os.cpu_count()}", flush=True)
            if errs:
                failures.append(f"fleet: {errs} ceremonies failed")
        finally:
            for ls in loads.values():
                for l in ls:
                    l.close()
            for srvs in servers.values():
                for srv in srvs:
                    srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passkeyd", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--baseline", default="", help="an older passkeyd binary to measure too")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="passkeyd-ceremony-bench.")
    try:
        for name, fn in (("ceremonies", ceremonies), ("begins", begins), ("listing", listing),
                         ("windows", windows), ("fleet", fleet), ("fleet_begins", fleet_begins)):
            if not args.only or args.only == name:
                fn(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        raise SystemExit("bench: " + "; ".join(failures))


if __name__ == "__main__":
    main()
