#!/usr/bin/env python3
"""passkeyd on PostgreSQL (store = postgresql://...): a real server that
tests/lib/pg-server.sh starts for the run (initdb into a temporary folder,
a unix socket only), real daemons over their real control sockets and
HTTP, ceremonies answered by tests/lib/soft_authenticator.py.

  - logins and registrations land in PostgreSQL, audit rows too;
  - two daemons on one database: a passkey registered through one logs in
    through the other, and two assertions with one counter at the same
    moment, through the two daemons, approve exactly one;
  - the server stops: begins are refused at once (store_unavailable),
    nothing is approved, the daemon keeps answering; it starts again:
    logins work with no daemon restarted;
  - the server restarts in the middle of a ceremony: the login completes
    or fails closed with a reason, and the store stays whole;
  - a password in the store URI: refused in a file everyone can read,
    never shown in the daemon's messages.

TAP; needs root like test_daemon.py, whose Daemon class it uses.
usage: test_store_pg.py PASSKEYD"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import test_daemon as td  # noqa: E402  (reads PASSKEYD from sys.argv[1])
import soft_authenticator as sa  # noqa: E402
from pgserver import PgServer  # noqa: E402
from test_policy import enroll_register, log_in, approved, failed_with  # noqa: E402
from tap import ok, note, group, plan, skip_all  # noqa: E402

PASSKEYD = os.path.abspath(sys.argv[1])


def creds(pg, uri, user):
    return pg.query(uri, "SELECT sign_count, alg FROM credentials WHERE user_name = "
                    f"'{user}' ORDER BY created, seq")


def test_login(pg, tmp):
    uri = pg.create_db("single")
    d = td.Daemon(tmp, "pg-single", store=uri)
    try:
        ok(d.proc.poll() is None, "pg: the daemon starts on a PostgreSQL store", d.logtext)
        alice = sa.SoftAuthenticator()
        ok(approved(enroll_register(d, alice, "alice")), "pg: a passkey is registered")
        ok(approved(log_in(d, alice, "alice", sign_count=7)), "pg: and logs in")
        ok(creds(pg, uri, "alice") == [["7", "-7"]],
           "pg: the credential and its counter are in PostgreSQL", creds(pg, uri, "alice"))
        ok(failed_with(log_in(d, alice, "alice", sign_count=7), "sign_count_regressed"),
           "pg: a replayed counter is refused")
        events = [r[0] for r in pg.query(uri, "SELECT event FROM events ORDER BY id")]
        ok("daemon_started" in events and "register_approved" in events and
           "login_approved" in events, "pg: the audit rows are in PostgreSQL", events)
        r = d.ctl({"op": "list", "user": "alice"})
        ok(r.get("ok") and len(r.get("credentials", [])) == 1, "pg: passkeyctl's list works", r)
    finally:
        d.stop()


def race(alice, pairs):
    """One login per (daemon, count) at once; the sorted end states."""
    bodies = []
    for dd, n in pairs:
        j = td.login(dd, user="alice")
        st, opt = sa.options(dd.origin, j["token"])
        bodies.append((dd, j["token"], json.dumps(alice.get(opt["publicKey"], dd.origin,
                                                            sign_count=n))))
    out = [None] * len(bodies)

    def post(i):
        dd, tok, body = bodies[i]
        out[i] = sa.api(dd.origin, tok, "finish", body)
    ts = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    return sorted(r[1].get("state", "?") + ":" + str(r[1].get("error")) for r in out)


def test_two_daemons(pg, tmp):
    uri = pg.create_db("pair")
    d1 = td.Daemon(tmp, "pg-a", store=uri)
    d2 = td.Daemon(tmp, "pg-b", store=uri)
    try:
        alice = sa.SoftAuthenticator()
        ok(approved(enroll_register(d1, alice, "alice", sign_count=1)),
           "pair: registered through the first daemon")
        ok(approved(log_in(d2, alice, "alice", sign_count=2)),
           "pair: logs in through the second")
        wins = 0
        for n in range(10, 20):
            states = race(alice, ((d1, n), (d2, n)))
            if states == ["approved:None", "failed:sign_count_regressed"]:
                wins += 1
            else:
                note(f"round {n}: {states}")
        ok(wins == 10, "pair: one counter through two daemons at once: exactly one approved, "
           "the other sign_count_regressed, ten rounds of ten", wins)
        ok(creds(pg, uri, "alice") == [["19", "-7"]], "pair: 19 is stored",
           creds(pg, uri, "alice"))
    finally:
        d1.stop()
        d2.stop()


def begin_refusal(d, user="alice"):
    """login_begin over a fresh connection: (answer, seconds it took)."""
    t0 = time.monotonic()
    j = d.ctl({"op": "login_begin", "user": user, "rhost": "192.0.2.7", "service": "sshd",
               "enroll": "none"})
    return j, time.monotonic() - t0


def until_approved(d, auth, user, first_count, seconds=10):
    """Logs in until approved or seconds pass: (result, tries)."""
    end = time.monotonic() + seconds
    tries = 0
    res = None
    while time.monotonic() < end:
        tries += 1
        res = log_in(d, auth, user, sign_count=first_count + tries)
        if approved(res):
            return res, tries
        time.sleep(0.2)
    return res, tries


def test_server_down(pg, tmp):
    uri = pg.create_db("down")
    d = td.Daemon(tmp, "pg-down", store=uri)
    try:
        alice = sa.SoftAuthenticator()
        ok(approved(enroll_register(d, alice, "alice", sign_count=1)), "down: registered")
        # a ceremony in flight when the server goes
        j = td.login(d, user="alice")
        st, opt = sa.options(d.origin, j["token"])
        pg.stop()
        answers = [begin_refusal(d) for _ in range(5)]
        ok(all(a.get("ok") is False and a.get("error") == "store_unavailable" for a, _ in answers),
           "down: begins are refused with store_unavailable", answers)
        ok(max(t for _, t in answers) < 1.0, "down: at once (under 1 s each)",
           [round(t, 3) for _, t in answers])
        body = json.dumps(alice.get(opt["publicKey"], d.origin, sign_count=5))
        st, r = sa.api(d.origin, j["token"], "finish", body)
        s = d.ctl({"op": "status", "token": j["token"]})
        ok(st == 400 and r.get("state") == "failed" and r.get("error") == "store_unavailable" and
           s.get("state") == "failed", "down: the ceremony in flight fails closed, never approved",
           (st, r, s))
        ok(d.get("/healthz")[0] == 200, "down: the daemon still answers")
        r = d.ctl({"op": "list", "user": "alice"})
        ok(r.get("error") == "store_unavailable", "down: list says store_unavailable", r)
        pg.restart()
        res, tries = until_approved(d, alice, "alice", 10)
        ok(approved(res), "down: the server is back: a login is approved, no daemon restarted",
           (res, tries))
        ok(tries <= 3, "down: within three tries", tries)
        ok(d.proc.poll() is None, "down: the daemon never exited")
    finally:
        d.stop()


def test_restart_mid_ceremony(pg, tmp):
    uri = pg.create_db("restart")
    d = td.Daemon(tmp, "pg-restart", store=uri)
    try:
        alice = sa.SoftAuthenticator()
        ok(approved(enroll_register(d, alice, "alice", sign_count=1)), "restart: registered")
        outcomes = []
        for n in range(3):
            j = td.login(d, user="alice")
            ok(j.get("ok") is True, f"restart: login {n} begins", (j, d.logtext()[-2000:]))
            st, opt = sa.options(d.origin, j["token"])
            pg.stop()
            pg.restart()
            body = json.dumps(alice.get(opt["publicKey"], d.origin, sign_count=10 + n))
            st, r = sa.api(d.origin, j["token"], "finish", body)
            s = d.ctl({"op": "status", "token": j["token"]})
            outcomes.append((st, r.get("state"), r.get("error"), s.get("state"), s.get("reason")))
        note(f"restart outcomes: {outcomes}")
        good = all((o[1] == "approved" and o[3] == "approved") or
                   (o[1] == "failed" and o[2] and o[3] == "failed" and o[4] == o[2])
                   for o in outcomes)
        ok(good, "restart: each login completes or fails closed with a named reason", outcomes)
        count = int(creds(pg, uri, "alice")[0][0])
        want = max([1] + [10 + n for n, o in enumerate(outcomes) if o[1] == "approved"])
        ok(count == want, "restart: the stored counter is the last approved one's", (count, want))
        res, tries = until_approved(d, alice, "alice", 20)
        ok(approved(res), "restart: the next login is approved", (res, tries))
    finally:
        d.stop()


def test_password(pg, tmp):
    secret = "s3cret-pw-x"
    folder = os.path.join(tmp, "pw")
    os.makedirs(folder)
    conf = os.path.join(folder, "passkeyd.conf")
    store = f"postgresql://postgres:{secret}@/pw?host={pg.dir}"
    with open(conf, "w") as f:
        f.write("rp_id = localhost\norigin = http://localhost:1\npublic_url = http://localhost:1\n"
                f"listen = 127.0.0.1:{td.free_port()}\nstore = {store}\n"
                f"socket = {folder}/control.sock\n")
    os.chmod(conf, 0o644)
    r = subprocess.run([PASSKEYD, "--config", conf, "--check-config"], capture_output=True,
                       text=True, timeout=20)
    ok(r.returncode != 0 and "readable by everyone" in r.stderr and secret not in r.stderr,
       "password: a store URI with a password in a world-readable file is refused",
       (r.returncode, r.stderr))
    os.chmod(conf, 0o640)
    r = subprocess.run([PASSKEYD, "--config", conf, "--check-config"], capture_output=True,
                       text=True, timeout=20)
    ok(r.returncode == 0, "password: chmod o-r: accepted", (r.returncode, r.stderr))
    # the database does not exist: the failure names the store without its password
    r = subprocess.run([PASSKEYD, "--config", conf, "--foreground"], capture_output=True,
                       text=True, timeout=20)
    ok(r.returncode != 0 and "store postgresql://postgres@/pw" in r.stderr and
       "unavailable" in r.stderr and secret not in r.stderr,
       "password: the daemon's error names the store, never the password", r.stderr)


def main():
    if os.geteuid() != 0:
        return skip_all("needs root (the Daemon harness of test_daemon.py)")
    tmp = tempfile.mkdtemp(prefix="passkeyd-pg.")
    os.chmod(tmp, 0o755)
    try:
        with PgServer() as pg:
            for name, fn in (("test_login", test_login), ("test_two_daemons", test_two_daemons),
                             ("test_server_down", test_server_down),
                             ("test_restart_mid_ceremony", test_restart_mid_ceremony),
                             ("test_password", test_password)):
                with group(name):
                    fn(pg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
