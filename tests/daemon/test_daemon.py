#!/usr/bin/env python3
"""passkeyd's control socket and HTTP API, against the real daemon over a
real unix socket and real HTTP on loopback (TAP).  The passkey ceremonies
themselves, with a real browser, are in tests/acceptance/.

usage: test_daemon.py PASSKEYD"""
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, free_port, group, plan  # noqa: E402
import daemon as harness  # noqa: E402
from daemon import login, read_line  # noqa: E402
import soft_authenticator as sa  # noqa: E402

PASSKEYD = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None


def Daemon(*args, **kw):
    """tests/lib/daemon.py's harness with this build's passkeyd."""
    return harness.Daemon(PASSKEYD, *args, **kw)


def test_config(tmp):
    def check(text):
        p = os.path.join(tmp, "c.conf")
        with open(p, "w") as f:
            f.write(text)
        r = subprocess.run([PASSKEYD, "--config", p, "--check-config"],
                           capture_output=True, text=True)
        return r.returncode, r.stderr
    base = "rp_id = localhost\norigin = http://localhost:1\npublic_url = http://localhost:1\n"
    rc, err = check(base)
    ok(rc == 0, "config: minimal config passes --check-config", err)
    rc, err = check(base + "\ncolour = blue\n")
    ok(rc == 2 and "line 5" in err and "unknown key" in err,
       "config: unknown key refused with its line number", err)
    rc, err = check(base + "listen = 0.0.0.0:8080\n")
    ok(rc == 2 and "loopback" in err, "config: plain HTTP on a non-loopback address refused", err)
    rc, err = check(base + "tls_cert = /x.pem\n")
    ok(rc == 2 and "together" in err, "config: tls_cert without tls_key refused", err)
    rc, err = check(base + "ceremony_timeout = 1\n")
    ok(rc == 2 and "ceremony_timeout" in err, "config: out-of-range number refused", err)
    rc, err = check(base + "rp_id = other\n")
    ok(rc == 2 and "twice" in err, "config: repeated key refused", err)
    rc, err = check("origin = http://localhost:1\n")
    ok(rc == 2 and "required" in err, "config: missing rp_id refused", err)
    rc, err = check(base + "origin = http://localhost:1/path\n")
    ok(rc == 2 and "origin" in err, "config: origin with a path refused", err)
    for url in ("http://", "https://", "https:///x"):
        rc, err = check(base.replace("public_url = http://localhost:1", f"public_url = {url}"))
        ok(rc == 2 and "no host" in err, f"config: public_url {url} without a host refused", err)
    names = os.path.join(tmp, "names.tsv")
    with open(names, "w") as f:
        f.write("# ours\n00000000-0000-0000-0000-000000000000\tSoft key\n")
    rc, err = check(base + f"aaguid_names = {names}\n")
    ok(rc == 0, "config: aaguid_names with a good table passes --check-config", err)
    with open(names, "a") as f:
        f.write("00000000-0000-0000-0000-000000000001\tbad\x1b[2Jname\n")
    rc, err = check(base + f"aaguid_names = {names}\n")
    ok(rc == 2 and "line 3: name is not printable" in err and "\x1b" not in err,
       "config: aaguid_names with a control character in a name refused, with its line", err)
    rc, err = check(base + f"aaguid_names = {names}.missing\n")
    ok(rc == 2 and "aaguid_names" in err, "config: a missing aaguid_names file refused", err)
    rc, err = check(base + "\x1b[31mred = 1\n")
    ok(rc == 2 and "not a key" in err and "\x1b" not in err,
       "config: a key with a control character is refused without echoing it", err)


def test_http(d):
    st, h, body = d.get("/healthz")
    ok(st == 200 and body == b"ok\n", "http: /healthz answers ok")
    st, h, body = d.get("/l/" + "A" * 24)
    csp = h.get("Content-Security-Policy", "")
    ok(st == 200 and b"passkey.js" in body, "http: the login page is served for any well-formed token")
    ok("default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp,
       "http: strict CSP on pages", csp)
    ok(h.get("X-Frame-Options") == "DENY" and h.get("Cache-Control") == "no-store"
       and h.get("Referrer-Policy") == "no-referrer", "http: no framing, no-store, no referrer", h)
    st, h, body = d.get("/static/passkey.js")
    ok(st == 200 and h.get("Content-Type", "").startswith("text/javascript"), "http: script served")
    st, _, _ = d.get("/l/short")
    ok(st == 404, "http: malformed token gets 404")
    st, _, _ = d.get("/etc/passwd")
    ok(st == 404, "http: unknown path gets 404")
    st, _, _ = d.request("PUT", "/api/x/options", b"{}")
    ok(st == 405, "http: other methods refused")
    st, j = d.api("A" * 24, "options")
    ok(st == 404 and j["state"] == "unknown", "api: unknown token answers unknown", j)
    st, j = d.api("A" * 24, "options", origin=None)
    ok(st == 403 and j["error"] == "origin_not_allowed", "api: POST without Origin refused", j)
    st, j = d.api("A" * 24, "options", origin="http://evil.example")
    ok(st == 403 and j["error"] == "origin_not_allowed", "api: POST from another origin refused", j)
    st, j = d.api("A" * 24, "finish", body=b"x" * (70 * 1024))
    ok(st == 413, "api: body over 64 KiB refused", j)


def test_control(d):
    nobody = pwd.getpwnam("nobody").pw_uid
    j = d.ctl({"op": "ping"})
    ok(j and j["ok"] and j["version"], "control: ping", j)
    j = login(d, uid=nobody)
    ok(j and j["error"] == "not_permitted", "control: login_begin from a non-root uid refused", j)
    j = d.ctl({"op": "enroll", "user": "alice"}, uid=nobody)
    ok(j and j["error"] == "not_permitted", "control: enroll from a non-root uid refused", j)
    j = login(d, user="alice")
    ok(j and not j["ok"] and j["error"] == "no_passkey", "control: user without passkey gets no_passkey", j)
    j = login(d, user="alice", enroll="pending")
    ok(j and j["error"] == "no_passkey", "control: enroll=pending without an enrollment gets no_passkey", j)
    j = login(d, user="alice", enroll="after-auth")
    ok(j and j["ok"] and j["kind"] == "register" and "/r/" in j["url"],
       "control: enroll=after-auth offers registration", j)
    e = d.ctl({"op": "enroll", "user": "pkt-nosuchuser"})
    ok(e and e["error"] == "unknown_user", "control: enroll of an account this host lacks: unknown_user", e)
    # an enrollment is for an account that exists here; "nobody" always does
    e = d.ctl({"op": "enroll", "user": "nobody"})
    ok(e and e["ok"] and e["kind"] == "register" and e["expires_in"] > 80000,
       "control: enroll gives a long-lived registration link", e)
    j = login(d, user="nobody", enroll="pending")
    ok(j and j["ok"] and j["kind"] == "register", "control: pending enrollment offers registration", j)
    ok(len(j["token"]) >= 22 and j["url"].endswith("/r/" + j["token"]),
       "control: token of at least 128 bits in the URL", j)
    ok(len(j["code"]) == 7 and j["code"][3] == "-", "control: a short code", j)
    st = d.ctl({"op": "status", "token": j["token"]}, uid=nobody)
    ok(st.get("error") == "not_permitted", "control: status of root's ceremony refused to others", st)
    c = d.ctl({"op": "cancel", "token": j["token"]}, uid=nobody)
    st = d.ctl({"op": "status", "token": j["token"]})
    ok(c.get("error") == "not_permitted" and st.get("state") == "pending",
       "control: another uid cannot cancel root's ceremony; it stays pending", (c, st))
    # a bound login answers on its own connection only: another root
    # process must not collect the approval the module waits for
    st = json.loads(d.ctl_raw(json.dumps({"op": "status", "token": j["token"]}) + "\n") or "{}")
    c = json.loads(d.ctl_raw(json.dumps({"op": "cancel", "token": j["token"]}) + "\n") or "{}")
    own = d.ctl({"op": "status", "token": j["token"]})
    ok(st.get("error") == "bound_elsewhere" and c.get("error") == "bound_elsewhere" and
       own.get("state") == "pending",
       "control: status and cancel of a bound login from another root connection:"
       " bound_elsewhere; on its own connection it is still pending", (st, c, own))
    u = d.ctl({"op": "login_begin", "user": "nobody", "rhost": "", "service": "sshd",
               "enroll": "pending", "bind": False})
    st = d.ctl({"op": "status", "token": u.get("token", "")})
    ok(u.get("ok") and st.get("state") == "pending",
       "control: an unbound login (bind false) answers on any root connection", (u, st))
    r = d.ctl({"op": "register_begin"}, uid=nobody)
    ok(r and r["ok"] and r["kind"] == "register", "control: any user may begin registering their own passkey", r)
    st = d.ctl({"op": "status", "token": r["token"]}, uid=nobody)
    ok(st and st["state"] == "pending", "control: the owner may ask the status of their ceremony", st)
    for bad, what in [({"op": "login_begin", "user": "", "rhost": "", "service": "sshd"}, "empty user"),
                      ({"op": "login_begin", "user": "a/b", "rhost": "", "service": "sshd"}, "user with /"),
                      ({"op": "login_begin", "user": "a\nb", "rhost": "", "service": "sshd"}, "user with newline"),
                      ({"op": "login_begin", "user": "a" * 65, "rhost": "", "service": "sshd"}, "65-byte user"),
                      ({"op": "login_begin", "user": "a", "rhost": "", "service": "sshd", "enroll": "yes"}, "bad enroll"),
                      ({"op": "login_begin", "user": "a"}, "missing fields"),
                      ({"op": "fly"}, "unknown op"),
                      ({"op": "status"}, "status without token")]:
        j = d.ctl(bad)
        ok(j and j["error"] == "bad_request", f"control: {what} is bad_request", j)
    j = d.ctl({"op": "status", "token": "B" * 24})
    ok(j and j["error"] == "unknown_ceremony", "control: unknown token", j)
    out = d.ctl_raw("this is not json\n")
    ok('"bad_request"' in out, "control: a line that is not JSON gets bad_request", out)
    out = d.ctl_raw(b"{" + b" " * 8192 + b"\n")
    ok('"bad_request"' in out, "control: a line of 8193 bytes gets bad_request", out)
    s = d.connect()
    s.sendall(b'{"op":"ping"}\n{"op":"ping"}\n')
    first, second = read_line(s), read_line(s)
    s.close()
    ok('"ok":true' in first and '"ok":true' in second,
       "control: two requests on one connection get two answers", (first, second))
    line = json.dumps({"op": "ping", "pad": ""})
    line = json.dumps({"op": "ping", "pad": "x" * (8192 - len(line))})
    out = d.ctl_raw(line + "\n")
    ok(len(line) == 8192 and '"ok":true' in out, "control: a line of exactly 8192 bytes is served",
       (len(line), out))


def test_ceremony_states(d):
    # login ceremonies need a passkey; after-auth registration ceremonies
    # share the same state machine and need none
    j = login(d, user="carol", enroll="after-auth")
    tok = j["token"]
    st, opt = d.api(tok, "options")
    pk = opt.get("publicKey", {})
    ok(st == 200 and opt["state"] == "pending" and opt["user"] == "carol" and
       opt["rhost"] == "192.0.2.7" and opt["code"] == j["code"],
       "api: options show user, address and code", opt)
    ok(pk.get("rp", {}).get("id") == "localhost" and len(pk.get("challenge", "")) == 43 and
       [p["alg"] for p in pk.get("pubKeyCredParams", [])] == [-7, -8, -257] and
       len(pk.get("user", {}).get("id", "")) == 43,
       "api: creation options carry rp, a 32-byte challenge, algs and a random user handle", pk)
    st2, opt2 = d.api(tok, "options")
    ok(opt2["publicKey"]["user"]["id"] == pk["user"]["id"], "api: the user handle is stable")
    st, r = d.api(tok, "deny")
    ok(st == 200 and r["state"] == "denied", "api: deny", r)
    s = d.ctl({"op": "status", "token": tok})
    ok(s["state"] == "denied", "control: status reports denied", s)
    st, r = d.api(tok, "options")
    ok(st == 410 and r["state"] == "denied", "api: a denied ceremony is gone", r)
    ok("event=register_denied user=carol" in d.logtext(), "log: the denial is logged")

    j = login(d, user="carol", enroll="after-auth")
    st, r = d.api(j["token"], "finish", body=b"{not json")
    ok(st == 400 and r["state"] == "failed" and r["error"] == "json_malformed",
       "api: a malformed response fails the ceremony with its reason", r)
    s = d.ctl({"op": "status", "token": j["token"]})
    ok(s["state"] == "failed" and s["reason"] == "json_malformed", "control: status gives the failure reason", s)
    st, r = d.api(j["token"], "finish", body=b"{}")
    ok(st == 410 and r["state"] == "failed", "api: a failed ceremony cannot be retried", r)

    j = login(d, user="carol", enroll="after-auth")
    c = d.ctl({"op": "cancel", "token": j["token"]})
    ok(c["state"] == "cancelled", "control: cancel", c)
    st, r = d.api(j["token"], "options")
    ok(st == 410 and r["state"] == "cancelled", "api: the page learns of the cancel", r)

    j = login(d, user="carol", enroll="after-auth")
    st, r = d.api(j["token"], "cancel", body=b'{"error":"NotAllowedError"}')
    ok(st == 200 and r["state"] == "pending", "api: a browser-side cancel leaves the ceremony pending", r)
    ok("event=client_cancelled user=carol" in d.logtext(), "log: the browser-side cancel is logged")
    j = login(d, user="carol", rhost="192.0.2.8", enroll="after-auth")
    st, r = d.api(j["token"], "cancel", body=json.dumps({"error": "Not[Allowed]\\`^_x"}).encode())
    for _ in range(50):	# the journal writes audit rows off the loop
        ev = d.ctl({"op": "events", "user": "carol", "limit": 5}).get("events", [])
        if any(e.get("event") == "client_cancelled" and e.get("address") == "192.0.2.8" for e in ev):
            break
        time.sleep(0.1)
    ok(st == 200 and any(e.get("event") == "client_cancelled" and e.get("address") == "192.0.2.8"
                         and e.get("detail") == "Not?Allowed?????x" for e in ev),
       "audit: a cancel's error name keeps its letters only", ev)


def test_requester(d):
    """A request made on the host itself (su, login, sudo: no rhost) names
    who asked; the page's options carry it as the module said it."""
    base = {"op": "login_begin", "user": "carol", "resolved": True, "rhost": "",
            "service": "su", "enroll": "after-auth"}
    who = {"uid": 1001, "name": "mallory", "tty": "pts/7"}
    j = d.hold(dict(base, requester=who))
    st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
    ok(st == 200 and opt.get("requester") == who,
       "api: options name who asked on the host (uid, name, tty)", opt)
    # approved: the approval's own audit row keeps who asked
    st, r = sa.register(d.origin, j["token"], sa.SoftAuthenticator()) if j.get("ok") else (0, {})
    ok(st == 200 and r.get("state") == "approved", "api: the su's registration is approved", r)
    for _ in range(50):	# the journal writes audit rows off the loop
        ev = d.ctl({"op": "events", "user": "carol", "limit": 5})
        if sum(e.get("detail") == "requester 1001 pts/7 mallory" for e in ev.get("events", [])) >= 2:
            break
        time.sleep(0.1)
    ok(any(e.get("detail") == "requester 1001 pts/7 mallory" and e.get("event") == "register_begin"
           for e in ev.get("events", [])), "audit: the begin's row names who asked", ev)
    ok(any(e.get("detail") == "requester 1001 pts/7 mallory" and e.get("event") == "register_approved"
           for e in ev.get("events", [])), "audit: the approval's row names who asked", ev)
    j = d.hold(dict(base, requester={"uid": 0}))
    st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
    ok(st == 200 and opt.get("requester") == {"uid": 0},
       "api: a requester with no name or terminal is the uid alone", opt)
    j = d.hold(dict(base, rhost="192.0.2.9"))
    st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
    ok(st == 200 and opt.get("rhost") == "192.0.2.9" and "requester" not in opt,
       "api: a request that names none has none", opt)
    j = d.hold(dict(base, rhost="192.0.2.10", requester=who))
    st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
    ok(st == 200 and opt.get("rhost") == "192.0.2.10" and "requester" not in opt and
       "local" not in opt,
       "api: over the network the address names the client: a requester is not kept", opt)
    # the host's own name as rhost (sudo's `Defaults pam_rhost`), or its loopback
    me = socket.gethostname()	# the daemon's hostname (none configured)
    for rhost in (me, me.split(".")[0].upper(), "127.0.1.1", "::1"):
        j = d.hold(dict(base, rhost=rhost, service="sudo", requester=who))
        st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
        ok(st == 200 and opt.get("local") is True and opt.get("requester") == who,
           f"api: rhost {rhost!r} is this host: options say local, and keep who asked", opt)
        d.abandon(j.get("token", ""))
    # its interfaces' own addresses: `ssh alice@<its LAN address>` from a local account
    with harness.host_addresses() as mine:
        ok(mine, "this machine has an address besides loopback", mine)
        for rhost in mine:
            j = d.hold(dict(base, rhost=rhost, service="sshd", requester=who))
            st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
            ok(st == 200 and opt.get("local") is True and opt.get("requester") == who,
               f"api: rhost {rhost!r} is one of this host's own addresses: options say local,"
               " and keep who asked", opt)
            d.abandon(j.get("token", ""))
    for rhost in (me + ".attacker.example", "127.0.0.1.attacker.example"):
        j = d.hold(dict(base, rhost=rhost, requester=who))
        st, opt = d.api(j["token"], "options") if j and j.get("ok") else (None, {})
        ok(st == 200 and "local" not in opt and "requester" not in opt,
           f"api: rhost {rhost!r} is a client's own name: not local, no requester", opt)
    for bad, what in [({"uid": -1}, "a negative uid"), ({"uid": "1001"}, "a uid as text"),
                      ({"uid": 4294967295}, "uid (uid_t)-1"), ({"name": "mallory"}, "no uid"),
                      ({"uid": 1, "name": "a/b"}, "a name with /"),
                      ({"uid": 1, "name": "a\u001b[2J"}, "a name with ESC"),
                      ({"uid": 1, "tty": "pts/7\u001b"}, "a tty with ESC"),
                      ({"uid": 1, "tty": "t" * 33}, "a 33-byte tty"),
                      ({"uid": 1, "tty": "pts 7"}, "a tty with a space"),
                      ("mallory", "text"), ([1001], "a list")]:
        r = d.ctl(dict(base, requester=bad))
        ok(r and r.get("error") == "bad_request", f"control: requester {what} is bad_request", r)


def test_limits(tmp):
    d = Daemon(tmp, "limits", "max_pending_total = 6\nmax_pending_per_user = 3\n"
               "max_pending_per_address = 3\nmax_pending_per_user_address = 2\n")
    try:
        a = [login(d, user="u1", enroll="after-auth") for _ in range(3)]
        ok(a[0].get("ok") and a[1].get("ok") and a[2].get("error") == "limit_user_address",
           "limits: per user and address", a[2])
        b = login(d, user="u1", rhost="198.51.100.9", enroll="after-auth")
        ok(b.get("ok") is True, "limits: the same user from another address still fits", b)
        b2 = login(d, user="u1", rhost="198.51.100.8", enroll="after-auth")
        ok(b2.get("error") == "limit_user", "limits: per user in all", b2)
        c = login(d, user="u2", enroll="after-auth")
        ok(c.get("ok") is True, "limits: another user from the same address fits", c)
        c2 = login(d, user="u3", enroll="after-auth")
        ok(c2.get("error") == "limit_address", "limits: per client address", c2)
        e = login(d, user="u4", rhost="198.51.100.1", enroll="after-auth")
        f = login(d, user="u5", rhost="198.51.100.2", enroll="after-auth")
        g = login(d, user="u6", rhost="198.51.100.3", enroll="after-auth")
        ok(e.get("ok") and f.get("ok") and g.get("error") == "limit_total", "limits: in total", g)
        d.ctl({"op": "cancel", "token": a[0]["token"]})
        h = login(d, user="u7", rhost="198.51.100.4", enroll="after-auth")
        ok(h.get("ok") is True, "limits: a cancelled ceremony frees its place", h)
        # the module's connection closes (sshd killed it): the place is freed at once
        d.abandon(h["token"])
        time.sleep(0.3)
        # (its status is for that connection only: the page tells)
        _, s = d.api(h["token"], "options")
        ok(s.get("state") == "cancelled", "limits: a ceremony whose connection closed is cancelled", s)
        i = login(d, user="u8", rhost="198.51.100.5", enroll="after-auth")
        ok(i.get("ok") is True, "limits: and its place is free again", i)
        text = d.logtext()
        ok("reason=limit_total" in text and "reason=limit_user" in text and
           "reason=client_gone" in text, "log: refusals and the closed connection are logged")
    finally:
        d.stop()


def test_expiry(tmp):
    d = Daemon(tmp, "expiry", "ceremony_timeout = 5\n")
    try:
        j = login(d, user="dave", enroll="after-auth")
        s = d.ctl({"op": "status", "token": j["token"]})
        ok(s["state"] == "pending" and 0 < s["expires_in"] <= 5, "expiry: pending at first", s)
        time.sleep(5.5)
        s = d.ctl({"op": "status", "token": j["token"]})
        ok(s["state"] == "expired", "expiry: expired after ceremony_timeout", s)
        st, r = d.api(j["token"], "options")
        ok(st == 410 and r["state"] == "expired", "expiry: the page says expired", r)
        ok("event=register_expired user=dave" in d.logtext() and "reason=expired" in d.logtext(),
           "expiry: logged")
    finally:
        d.stop()


def test_privilege_drop(tmp):
    d = Daemon(tmp, "drop", user="nobody")
    try:
        with open(f"/proc/{d.proc.pid}/status") as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        nobody = str(pwd.getpwnam("nobody").pw_uid)
        ok(uids == [nobody] * 4, "privileges: the daemon runs as its account after binding", uids)
        j = login(d, user="erin", enroll="after-auth")
        ok(j and j["ok"], "privileges: it still serves after the drop", j)
        mode = os.stat(d.store).st_mode & 0o777
        ok(mode == 0o600 and os.stat(d.store).st_uid == int(nobody),
           "privileges: the store is created by the account, mode 0600", oct(mode))
    finally:
        d.stop()


def make_cert(dirname, kind="ec", name="localhost", tag=""):
    """A self-signed P-256 (or RSA-2048) certificate for localhost, with
    python3-cryptography.  Returns (cert path, key path)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else \
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name + tag)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
            .sign(key, hashes.SHA256()))
    cpath = os.path.join(dirname, f"cert{tag}.pem")
    kpath = os.path.join(dirname, f"key{tag}.pem")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cpath, kpath


def s_client(port, *flags):
    """openssl s_client against the daemon: (connected, protocol, cipher, subject)."""
    r = subprocess.run(["openssl", "s_client", "-brief", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", *flags], input="", capture_output=True,
                       text=True, timeout=15)
    out = r.stdout + r.stderr
    proto = cipher = subject = None
    for line in out.splitlines():
        if line.startswith("Protocol version:"):
            proto = line.split(":", 1)[1].strip()
        elif line.startswith("Ciphersuite:"):
            cipher = line.split(":", 1)[1].strip()
        elif line.startswith("Peer certificate:"):
            subject = line.split(":", 1)[1].strip()
    return proto is not None, proto, cipher, subject


def start_tls_daemon(cdir, cert, key):
    port = free_port()
    conf = os.path.join(cdir, f"tls-{port}.conf")
    with open(conf, "w") as f:
        f.write(f"rp_id = localhost\norigin = https://localhost:{port}\n"
                f"listen = 127.0.0.1:{port}\npublic_url = https://localhost:{port}\n"
                f"tls_cert = {cert}\ntls_key = {key}\nstore = {cdir}/s-{port}.db\n"
                f"socket = {cdir}/c-{port}.sock\n")
    log = open(os.path.join(cdir, f"log-{port}.txt"), "w+")
    proc = subprocess.Popen([PASSKEYD, "--config", conf, "--foreground"], stdout=log,
                            stderr=subprocess.STDOUT, env=harness.nss_env(cdir))
    return proc, port, conf, log


def https_get(port, cafile, path="/healthz"):
    import ssl
    ctx = ssl.create_default_context(cafile=cafile)
    for _ in range(100):
        try:
            c = http.client.HTTPSConnection("localhost", port, timeout=5, context=ctx)
            c.request("GET", path)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        except OSError:
            time.sleep(0.05)
    return None, {}, b""


def logtext(log):
    log.flush()
    with open(log.name) as f:
        return f.read()


def test_tls(tmp):
    cdir = os.path.join(tmp, "certs")
    os.makedirs(cdir)
    cert, key = make_cert(cdir)
    proc, port, conf, log = start_tls_daemon(cdir, cert, key)
    try:
        st, h, got = https_get(port, cert)
        ok(got == b"ok\n", "tls: https with the configured certificate (verified by the client)", got)
        ok(h.get("Strict-Transport-Security", "").startswith("max-age="),
           "tls: HSTS on https answers", h)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            plain = c.getresponse().status
        except (OSError, http.client.HTTPException):
            plain = None
        ok(plain is None or plain >= 400, "tls: plain HTTP is not served on the TLS port", plain)
        # versions and suites (openssl needs SECLEVEL=0 to even offer the old ones)
        for flags, what in [(("-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"), "TLS 1.0"),
                            (("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"), "TLS 1.1"),
                            (("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"), "CBC with SHA-1 (ECDSA)"),
                            (("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"), "CBC with SHA-256"),
                            (("-tls1_3", "-groups", "ffdhe2048"), "TLS 1.3 over a finite-field group")]:
            conn, proto, cipher, _ = s_client(port, *flags)
            ok(not conn, f"tls: {what} refused", (proto, cipher))
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        ok(conn and proto == "TLSv1.2" and cipher == "ECDHE-ECDSA-AES128-GCM-SHA256",
           "tls: TLS 1.2 with ECDHE and AES-GCM accepted", (proto, cipher))
        conn, proto, cipher, _ = s_client(port)
        ok(conn and proto == "TLSv1.3", "tls: TLS 1.3 accepted", (proto, cipher))
        # the server's order, not the client's: CHACHA20 offered first, AES-GCM chosen
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher",
                                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256")
        ok(conn and cipher != "ECDHE-ECDSA-CHACHA20-POLY1305",
           "tls: the server's cipher order wins over the client's", cipher)
        before = logtext(log).count("\n")
        for _ in range(50):
            s_client(port, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")
        added = logtext(log).count("\n") - before
        ok(added <= 3, "tls: 50 failed handshakes write a few log lines, not one each", added)

        # SIGHUP: a new certificate for new connections; ceremonies stay
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(cdir, f"c-{port}.sock"))
        s.sendall(b'{"op":"login_begin","user":"alice","rhost":"192.0.2.7","service":"sshd",'
                  b'"enroll":"after-auth"}\n')
        tok = json.loads(read_line(s)).get("token")
        _, _, _, subj_before = s_client(port)
        new_cert, new_key = make_cert(cdir, tag="-2")
        os.replace(new_cert, cert)
        os.replace(new_key, key)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        _, _, _, subj_after = s_client(port)
        ok(proc.poll() is None and subj_before and subj_after and subj_before != subj_after
           and "localhost-2" in subj_after,
           "tls: SIGHUP serves the renewed certificate, without a restart", (subj_before, subj_after))
        st, _, got = https_get(port, cert)
        s.sendall(json.dumps({"op": "status", "token": tok}).encode() + b"\n")
        state = json.loads(read_line(s)).get("state")
        ok(got == b"ok\n" and state == "pending",
           "tls: after the reload the pending ceremony is still there", (got, state))
        with open(key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        _, _, _, subj_kept = s_client(port)
        ok(proc.poll() is None and subj_kept == subj_after and "keeping" in logtext(log),
           "tls: a SIGHUP with a broken key keeps the current certificate and says so",
           (subj_kept, logtext(log)[-400:]))
        s.close()
        proc.send_signal(signal.SIGUSR1)
        proc.send_signal(signal.SIGUSR2)
        time.sleep(0.5)
        ok(proc.poll() is None and "status:" in logtext(log),
           "signals: SIGUSR1 logs the daemon's state, SIGUSR2 is ignored", logtext(log)[-300:])
    finally:
        proc.terminate()
        proc.wait(5)
    # an RSA certificate: no plain RSA key exchange (no forward secrecy)
    rcert, rkey = make_cert(cdir, kind="rsa", tag="-rsa")
    proc, port, conf, log = start_tls_daemon(cdir, rcert, rkey)
    try:
        https_get(port, rcert)
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
        ok(not conn, "tls: RSA key exchange (no forward secrecy) refused", (proto, cipher))
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher", "AES128-SHA")
        ok(not conn, "tls: RSA key exchange with CBC-SHA1 refused", (proto, cipher))
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA")
        ok(not conn, "tls: ECDHE-RSA with CBC-SHA1 refused", (proto, cipher))
        conn, proto, cipher, _ = s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
        ok(conn and cipher == "ECDHE-RSA-AES128-GCM-SHA256", "tls: ECDHE-RSA with AES-GCM accepted",
           (proto, cipher))
    finally:
        proc.terminate()
        proc.wait(5)
    bad = os.path.join(cdir, "bad.conf")
    with open(bad, "w") as f:
        f.write(f"rp_id = localhost\norigin = https://localhost:1\nlisten = 127.0.0.1:{free_port()}\n"
                f"public_url = https://localhost:1\ntls_cert = {cert}\ntls_key = {key}\n"
                f"store = {cdir}/bad.db\nsocket = {cdir}/bad.sock\n")
    r = subprocess.run([PASSKEYD, "--config", bad, "--foreground"], capture_output=True,
                       text=True, timeout=10)
    ok(r.returncode != 0 and "TLS" in r.stderr, "tls: a bad key stops the daemon with a message", r.stderr)


def test_signals_plain(tmp):
    """Without TLS, SIGHUP has nothing to reload: the daemon says so and lives."""
    d = Daemon(tmp, "hup")
    try:
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        ok(d.proc.poll() is None and d.get("/healthz")[0] == 200 and
           "nothing to reload" in d.logtext(),
           "signals: SIGHUP does not end a plain-HTTP daemon", d.logtext()[-300:])
    finally:
        d.stop()


def test_socket_symlink(tmp):
    """Finding 6: the socket's folder is writable by another account, which
    swaps a symlink in at the socket's name; root must not follow it."""
    folder = os.path.join(tmp, "sockdir")
    os.makedirs(folder)
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("secret\n")
    os.chmod(victim, 0o600)
    nb = pwd.getpwnam("nobody")
    os.chown(folder, nb.pw_uid, nb.pw_gid)
    link = os.path.join(folder, "control.sock")
    os.symlink(victim, link)
    port = free_port()
    conf = os.path.join(folder, "..", "symlink.conf")
    with open(conf, "w") as f:
        f.write(f"rp_id = localhost\norigin = http://localhost:{port}\nlisten = 127.0.0.1:{port}\n"
                f"public_url = http://localhost:{port}\nstore = {tmp}/symlink.db\nsocket = {link}\n")
    proc = subprocess.Popen([PASSKEYD, "--config", conf, "--foreground"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(link) and not os.path.islink(link):
                break
            time.sleep(0.05)
        mode = os.stat(victim).st_mode & 0o777
        sock_mode = os.stat(link).st_mode
        ok(mode == 0o600, "socket: root did not chmod the file a swapped-in symlink pointed at",
           oct(mode))
        import stat as st_
        ok(st_.S_ISSOCK(sock_mode) and sock_mode & 0o777 == 0o666,
           "socket: the socket is created 0666 in its place", oct(sock_mode))
    finally:
        proc.terminate()
        proc.wait(5)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (setuid clients, privilege drop)")
        return 0
    tmp = tempfile.mkdtemp(prefix="passkeyd-test.")
    os.chmod(tmp, 0o755)
    try:
        with group("test_config"):
            test_config(tmp)
        d = Daemon(tmp, "main")
        try:
            with group("test_http"):
                test_http(d)
            with group("test_control"):
                test_control(d)
            with group("test_ceremony_states"):
                test_ceremony_states(d)
            with group("test_requester"):
                test_requester(d)
            ok(d.proc.poll() is None, "daemon: still running after all of the above")
        finally:
            d.stop()
        # a sanitizer's report at exit is in the log: show its end
        ok(d.proc.returncode == 0, "daemon: clean exit on SIGTERM",
           lambda: (d.proc.returncode, d.logtext()[-4000:]))
        with group("test_limits"):
            test_limits(tmp)
        with group("test_expiry"):
            test_expiry(tmp)
        with group("test_privilege_drop"):
            test_privilege_drop(tmp)
        with group("test_tls"):
            test_tls(tmp)
        with group("test_signals_plain"):
            test_signals_plain(tmp)
        with group("test_socket_symlink"):
            test_socket_symlink(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
