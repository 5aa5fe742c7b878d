#!/usr/bin/env python3
"""passkeyctl's credential lifecycle through the real daemon (TAP, needs root).

Real passkeyd, real unix socket with SO_PEERCRED, the real passkeyctl run
as different local accounts, real HTTP on loopback, real SQLite, the real
ssh-keygen, sshd and ssh.  Passkeys are registered by a software WebAuthn
authenticator (tests/lib/soft_authenticator.py) instead of a browser so
that a few hundred ceremonies take seconds; the browser path itself is
covered by tests/acceptance/.

usage: test_manage.py PASSKEYD PASSKEYCTL SK_PROVIDER"""
import base64
import json
import os
import pwd
import random
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import test_daemon  # noqa: E402  (the Daemon harness)
from test_daemon import Daemon  # noqa: E402
from tap import ok, free_port, group, plan  # noqa: E402
from soft_authenticator import SoftAuthenticator, generate_key, register, login, b64u  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

test_daemon.PASSKEYD = os.path.abspath(sys.argv[1])
PASSKEYCTL = os.path.abspath(sys.argv[2])
SK_PROVIDER = os.path.abspath(sys.argv[3])
CLOCK_SHIFT = os.path.abspath(sys.argv[4])
USERS = ["pkt-m1", "pkt-m2", "pkt-m3", "pkt-m4"]


MADE = []   # the accounts this run created: removed at the end


def ensure_user(name, home):
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True)
        MADE.append(name)
    # a fresh home each run; '*' keeps password logins impossible
    subprocess.run(["usermod", "-d", home, "-p", "*", name], check=True)
    os.makedirs(home, exist_ok=True)
    pw = pwd.getpwnam(name)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o755)
    return pw


class Ctl:
    def __init__(self, sock):
        self.sock = sock

    def run(self, *args, user=None, input=None):
        kw = {}
        if user is not None:
            pw = pwd.getpwnam(user)
            kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        p = subprocess.run([PASSKEYCTL, "--socket", self.sock, *args], capture_output=True,
                           text=True, timeout=30, input=input, cwd="/", **kw)
        return p.returncode, p.stdout, p.stderr

    def json(self, *args, user=None):
        rc, out, err = self.run(*args, "--json", user=user)
        return rc, (json.loads(out) if rc == 0 else None), err


def has_account(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def token_of(url):
    return urllib.parse.urlparse(url.strip()).path.rsplit("/", 1)[-1]


def add_passkey(ctl, origin, user, auth, **kw):
    """passkeyctl add as user, then the authenticator answers the link."""
    rc, out, err = ctl.run("add", "--no-wait", user=user)
    if rc != 0:
        return None, err
    st, j = register(origin, token_of(out), auth, **kw)
    return (auth.credentials[-1] if st == 200 and j.get("state") == "approved" else None), j


def short_ids(items):
    return sorted(c["short_id"] for c in items)


def test_list_rename_remove(ctl, d):
    m1, m2 = USERS[0], USERS[1]
    a1, a2 = SoftAuthenticator(), SoftAuthenticator(alg=-8)
    rc, out, err = ctl.run("enroll", m1)
    ok(rc == 0 and "/r/" in out, "enroll: root gets a link for pkt-m1", err)
    st, j = register(d.origin, token_of(out), a1)
    ok(st == 200 and j.get("state") == "approved", "enroll link: registration approved", j)
    c2, j = add_passkey(ctl, d.origin, m1, a2)
    ok(c2 is not None, "add: pkt-m1 adds a second (EdDSA) passkey from its session", j)
    c3, j = add_passkey(ctl, d.origin, m2, SoftAuthenticator())
    ok(c3 is not None, "add: pkt-m2 registers its own passkey from its session", j)

    rc, mine, err = ctl.json("list", user=m1)
    ok(rc == 0 and len(mine) == 2 and all(c["user"] == m1 for c in mine),
       "list --json as pkt-m1: its two passkeys only", (rc, mine, err))
    ok(rc == 0 and [c["alg"] for c in mine] == ["ES256", "EdDSA"],
       "list: oldest first, with the algorithm", mine)
    fields = {"short_id", "id", "nickname", "alg", "aaguid", "authenticator", "created",
              "last_used", "last_address", "backup_eligible", "backed_up", "user_verified"}
    ok(rc == 0 and fields <= set(mine[0]), "list --json: every documented field",
       sorted(set(fields) - set(mine[0] if mine else {})))
    ok(rc == 0 and mine[0]["aaguid"] == "00000000-0000-0000-0000-000000000000" and
       mine[0]["authenticator"] == "Soft test key",
       "list --json: the authenticator's name from the admin's aaguid_names table", mine[0])
    ok(rc == 0 and mine[0]["id"] == b64u(a1.credentials[0].id),
       "list --json: id is the credential ID in base64url", mine and mine[0]["id"])
    rc, out, err = ctl.run("list", user=m1)
    ok(rc == 0 and all(c["short_id"] in out for c in mine) and "never" in out
       and "device-bound" in out, "list (human) as pkt-m1: short IDs, never used, backup state", out)
    ok(all(len(line) <= 80 for line in out.splitlines()), "list (human): fits 80 columns", out)
    rc, out, err = ctl.run("list", m2, user=m1)
    ok(rc == 1 and "not_permitted" in err, "list USER as another user: not_permitted, exit 1",
       (rc, err))
    rc, every, err = ctl.json("list")
    ok(rc == 0 and [c["user"] for c in every] == sorted(c["user"] for c in every)
       and {m1, m2} <= {c["user"] for c in every}, "list as root: every user's, sorted by user",
       every)
    rc, out, err = ctl.run("list", "pkt-nosuchuser")
    ok(rc == 1 and "unknown_user" in err, "list of an unknown user: unknown_user, exit 1", err)

    sid1, sid2 = mine[0]["short_id"], mine[1]["short_id"]
    rc, out, err = ctl.run("rename", sid1[:6], "work laptop", user=m1)
    rc2, mine, _ = ctl.json("list", user=m1)
    ok(rc == 0 and mine[0]["nickname"] == "work laptop",
       "rename by a 6-digit prefix of the short ID", (rc, err, mine))
    # --json is terminal-safe: every byte past ASCII escaped (a fleet's rows
    # are other hosts' writing), and it is still the same JSON
    rc, out, err = ctl.run("rename", sid2, "cl\u00e9 de secours", user=m1)
    rc2, raw, _ = ctl.run("list", "--json", user=m1)
    ok(rc == 0 and rc2 == 0 and "cl\\u00e9 de secours" in raw.lower() and raw.isascii() and
       "cl\u00e9 de secours" in [c["nickname"] for c in json.loads(raw)],
       "list --json escapes what is not ASCII (\\u00e9), and reads back as the name", (err, raw))
    rc, every, _ = ctl.json("list", m2)
    other = every[0]["short_id"]
    rc, out, err = ctl.run("rename", other, "mine now", user=m1)
    ok(rc == 1 and "unknown_credential" in err, "rename another user's passkey: unknown_credential",
       (rc, err))
    rc, out, err = ctl.run("rename", sid1, "bad\x1bname", user=m1)
    ok(rc == 1 and "bad_name" in err, "rename to a name with a control character: bad_name",
       (rc, err))
    rc, out, err = ctl.run("rename", sid1, "x" * 129, user=m1)
    ok(rc == 1 and "bad_name" in err, "rename to 129 bytes: bad_name", (rc, err))
    rc, out, err = ctl.run("rename", "abc", "short", user=m1)
    ok(rc == 1 and "unknown_credential" in err, "rename with a 3-digit prefix: no match", (rc, err))

    # removal rules
    rc, out, err = ctl.run("remove", other, user=m2)
    rc2, still, _ = ctl.json("list", m2)
    ok(rc == 1 and "last_passkey" in err and len(still) == 1,
       "remove own last passkey without --force: refused, still there", (rc, err, still))
    rc, out, err = ctl.run("remove", other, user=m1)
    ok(rc == 1 and "unknown_credential" in err, "remove another user's passkey: unknown_credential",
       (rc, err))
    rc, out, err = ctl.run("remove", sid2, user=m1)
    rc2, mine, _ = ctl.json("list", user=m1)
    ok(rc == 0 and short_ids(mine) == [sid1], "remove one of two own passkeys", (rc, err, mine))
    rc, out, err = ctl.run("remove", "--force", other, user=m2)
    rc2, still, _ = ctl.json("list", m2)
    ok(rc == 0 and still == [], "remove own last passkey with --force", (rc, err, still))
    return sid1


def test_events_and_enrollment(ctl, d):
    m1, m2 = USERS[0], USERS[1]
    rc, evs, err = ctl.json("events", user=m1)
    names = [e["event"] for e in evs or []]
    ok(rc == 0 and "credential_removed" in names and "credential_renamed" in names
       and all(e.get("user") in (m1, None) for e in evs), "events as pkt-m1: its own events only",
       (rc, names, err))
    ok(rc == 0 and any(e["event"] == "credential_removed" and e["verdict"] == "refused"
                       for e in ctl.json("events", m2)[1]),
       "events: the refused last-passkey removal is in the audit log", err)
    rc, out, err = ctl.run("events", m2, user=m1)
    ok(rc == 1 and "not_permitted" in err, "events USER as another user: not_permitted", err)
    rc, out, err = ctl.run("events", "--limit", "3")
    ok(rc == 0 and len(out.strip().splitlines()) == 3, "events --limit 3 as root: 3 lines", out)
    rc, evs, err = ctl.json("events", "--limit", "200")
    con = sqlite3.connect(f"file:{d.store}?mode=ro", uri=True)
    total = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    ok(rc == 0 and len(evs) == min(total, 200) and {m1, m2} <= {e.get("user") for e in evs},
       "events as root: every user's", (rc, len(evs or []), total))
    ok(rc == 0 and all(evs[i]["time"] >= evs[i + 1]["time"] for i in range(len(evs) - 1)),
       "events --json: newest first", evs[:3])
    rc, out, err = ctl.run("events", "--limit", "0")
    ok(rc == 2, "events --limit 0: usage error, exit 2", (rc, err))
    # an account removed from the system, its passkeys gone, its audit rows kept
    con = sqlite3.connect(d.store, timeout=10)
    con.execute("INSERT INTO events (time, event, user, verdict) VALUES"
                " (strftime('%s', 'now'), 'credential_removed', 'pkt-removed', 'ok')")
    con.commit()
    con.close()
    rc, evs, err = ctl.json("events", "pkt-removed")
    ok(rc == 0 and [e["event"] for e in evs] == ["credential_removed"],
       "events of an account removed from the system: its audit rows, not unknown_user",
       (rc, evs, err))

    rc, out, err = ctl.run("enroll", m2)
    tok = token_of(out)
    rc, o2, err = ctl.run("revoke-enrollment", m2, user=m1)
    ok(rc == 1 and "not_permitted" in err, "revoke-enrollment as a user: not_permitted", err)
    rc, o2, err = ctl.run("revoke-enrollment", m2)
    ok(rc == 0, "revoke-enrollment as root", err)
    st, j = register(d.origin, tok, SoftAuthenticator())
    ok(j.get("reason") == "enrollment_not_pending" or j.get("error") == "enrollment_not_pending",
       "a link of a revoked enrollment no longer registers", j)
    rc, o2, err = ctl.run("revoke-enrollment", m2)
    ok(rc == 1 and "no_enrollment" in err, "revoke-enrollment again: no_enrollment", err)
    rc, out, err = ctl.run("enroll", "pkt-nosuchuser")
    ok(rc == 1 and "unknown_user" in err, "enroll an unknown user: unknown_user", err)


def test_bad_input(ctl):
    cases = [
        (("frobnicate",), 2, "unknown command"),
        (("rename", "abcdef"), 2, "missing operand"),
        (("remove",), 2, "missing operand"),
        (("remove", "a", "b"), 2, "unexpected argument"),
        (("list", "bad/user"), 2, "not a valid user name"),
        (("list", "--force"), 2, "not valid here"),
        (("events", "a", "b"), 2, "unexpected argument"),
        (("export-openssh",), 2, "missing ID"),
        (("export-openssh", "-o", "", "abcdef"), 2, "empty -o"),
        (("remove", "0123456789ab"), 1, "unknown_credential"),
        (("export-openssh", "zzzzzz"), 1, "unknown_credential"),
        (("revoke-enrollment",), 2, "missing USER"),
    ]
    for args, want, text in cases:
        rc, out, err = ctl.run(*args)
        ok(rc == want and text in err, f"bad input {args!r}: exit {want} with '{text}'", (rc, err))
    rc, out, err = Ctl("/nonexistent/sock").run("list")
    ok(rc == 1 and "is passkeyd running" in err, "daemon not running: a clear message, exit 1", err)


def ssh_keygen(*args):
    p = subprocess.run(["ssh-keygen", *args], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


def test_export(ctl, d, tmp):
    m1, m3 = USERS[0], USERS[2]
    home = pwd.getpwnam(m3).pw_dir
    a_es, a_ed, a_rs = SoftAuthenticator(), SoftAuthenticator(alg=-8), SoftAuthenticator(alg=-257)
    made = [add_passkey(ctl, d.origin, m3, a) for a in
            (a_es, a_ed, a_rs, SoftAuthenticator(uv=False))]
    rc, items, err = ctl.json("list", user=m3)
    ok(rc == 0 and len(items) == 4, "export setup: pkt-m3 has ES256, EdDSA, RS256 and a no-UV passkey",
       (rc, err, made))
    (c_es, _), (c_ed, _), (c_rs, _), (c_nouv, _) = made
    sid = {c["id"]: c["short_id"] for c in items}
    es, ed, rs, nouv = (sid[b64u(c.id)] for c in (c_es, c_ed, c_rs, c_nouv))

    rc, line, err = ctl.run("export-openssh", es, user=m3)
    ok(rc == 0 and line.startswith("verify-required sk-ecdsa-sha2-nistp256@openssh.com AAAA"),
       "export-openssh ES256: verify-required sk-ecdsa line", (rc, line, err))
    rc, line_ed, err = ctl.run("export-openssh", ed, user=m3)
    ok(rc == 0 and line_ed.startswith("verify-required sk-ssh-ed25519@openssh.com AAAA"),
       "export-openssh EdDSA: sk-ssh-ed25519 line", (rc, line_ed, err))
    rc, line_nouv, err = ctl.run("export-openssh", nouv, user=m3)
    ok(rc == 0 and line_nouv.startswith("sk-ecdsa-sha2-nistp256@openssh.com "),
       "export-openssh of a passkey registered without UV: no verify-required", line_nouv)
    rc, out, err = ctl.run("export-openssh", rs, user=m3)
    ok(rc == 1 and "RS256" in err and out == "", "export-openssh RS256: refused with the reason",
       (rc, err))
    rc, out, err = ctl.run("export-openssh", es, user=m1)
    ok(rc == 1 and "unknown_credential" in err, "export-openssh of another user's passkey: refused",
       err)

    # the files, read by the real ssh-keygen; the blob holds this key and RP ID
    outdir = os.path.join(tmp, "export")
    os.makedirs(outdir)
    os.chmod(outdir, 0o777)
    for name, short, cred in (("es", es, c_es), ("ed", ed, c_ed)):
        f = os.path.join(outdir, name)
        rc, out, err = ctl.run("export-openssh", "-o", f, short, user=m3)
        mode = stat.S_IMODE(os.stat(f).st_mode) if os.path.exists(f) else None
        ok(rc == 0 and mode == 0o600 and os.path.exists(f + ".pub") and "no secret" in err,
           f"export-openssh -o ({name}): key file 0600, .pub, says it holds no secret",
           (rc, mode, err))
        rcl, outl, errl = ssh_keygen("-l", "-f", f)
        ok(rcl == 0 and ("ECDSA-SK" in outl or "ED25519-SK" in outl), f"ssh-keygen -l reads the {name} key file",
           (outl, errl))
        rcy, outy, erry = ssh_keygen("-y", "-f", f)
        key_part = " ".join(out.split()[-3:-1]) if out.startswith("verify") else " ".join(out.split()[:2])
        ok(rcy == 0 and outy.split()[:2] == key_part.split(), f"ssh-keygen -y of the {name} file = the exported line",
           (outy, out, erry))
        blob = base64.b64decode(key_part.split()[1])
        raw = cred.key.public_key().public_bytes(
            serialization.Encoding.X962 if name == "es" else serialization.Encoding.Raw,
            serialization.PublicFormat.UncompressedPoint if name == "es" else serialization.PublicFormat.Raw)
        ok(raw in blob and blob.endswith(ssh_string(b"localhost")),
           f"{name} blob: the authenticator's public key, application = RP ID", blob.hex())
        rc, out, err = ctl.run("export-openssh", "-o", f, short, user=m3)
        ok(rc == 1 and "exists" in err.lower(), f"export-openssh -o ({name}) over an existing file: refused", err)

    # --install: right owner and modes, no duplicates, atomic, old lines kept
    ssh_dir = os.path.join(home, ".ssh")
    ak = os.path.join(ssh_dir, "authorized_keys")
    rc, out, err = ctl.run("export-openssh", "--install", es, user=m3)
    st_dir, st_ak = os.stat(ssh_dir), os.stat(ak) if os.path.exists(ak) else None
    pw = pwd.getpwnam(m3)
    ok(rc == 0 and st_ak is not None and st_ak.st_uid == pw.pw_uid and stat.S_IMODE(st_ak.st_mode) == 0o600
       and stat.S_IMODE(st_dir.st_mode) == 0o700 and st_dir.st_uid == pw.pw_uid,
       "--install as the user: ~/.ssh 0700 and authorized_keys 0600, owned by the user", (rc, err))
    with open(ak, "a") as f:
        f.write("# a line the user wrote\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample kept")
    rc, out, err = ctl.run("export-openssh", "--install", es)
    text = open(ak).read()
    st_ak = os.stat(ak)
    ok(rc == 0 and "already" in err and text.count(line.split()[2]) == 1,
       "--install again (as root): no duplicate", (rc, err, text))
    rc, out, err = ctl.run("export-openssh", "--install", ed)
    text = open(ak).read()
    st_ak = os.stat(ak)
    ok(rc == 0 and st_ak.st_uid == pw.pw_uid and "Example kept" in text and line_ed.strip() in text
       and text.endswith("\n"), "--install by root: user keeps ownership, old lines kept, line added",
       (rc, err, text))
    os.rename(ak, ak + ".real")
    os.symlink(ak + ".real", ak)
    rc, out, err = ctl.run("export-openssh", "--install", nouv, user=m3)
    ok(rc == 1 and "symbolic link" in err and os.path.islink(ak),
       "--install onto a symlinked authorized_keys: refused, link untouched", (rc, err))
    os.unlink(ak)
    os.rename(ak + ".real", ak)
    return c_es, c_ed, es, ed, line, line_ed


def ssh_string(b):
    return len(b).to_bytes(4, "big") + b


def test_ssh_login(ctl, tmp, creds, origin):
    """The exported authorized_keys line + key file, real sshd, real ssh, test sk provider;
    then removing the passkey takes its line out, and the key no longer logs in."""
    c_es, c_ed, es, ed, line, line_ed = creds
    user = USERS[2]
    d = os.path.join(tmp, "sshd")
    os.makedirs(d)
    hostkey = os.path.join(d, "hostkey")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey], check=True)
    port = free_port()
    cfg = os.path.join(d, "sshd_config")
    with open(cfg, "w") as f:
        f.write(f"ListenAddress 127.0.0.1:{port}\nHostKey {hostkey}\nPidFile none\n"
                "UsePAM no\nPubkeyAuthentication yes\nAuthenticationMethods publickey\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "AuthorizedKeysFile .ssh/authorized_keys\nLogLevel VERBOSE\n")
    log = os.path.join(d, "sshd.log")
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", cfg, "-E", log])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        export_dir = os.path.join(tmp, "export")

        def attempt(keyfile, cred, pem_key=None):
            pem = os.path.join(d, "authenticator.pem")
            with open(pem, "wb") as f:
                f.write((pem_key or cred.key).private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()))
            slog = os.path.join(d, "provider.log")
            if os.path.exists(slog):
                os.unlink(slog)
            env = dict(os.environ, PASSKEY_SK_KEY=pem, PASSKEY_SK_CREDENTIAL_ID=b64u(cred.id),
                       PASSKEY_SK_LOG=slog)
            p = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                                "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no",
                                "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=publickey",
                                "-o", f"SecurityKeyProvider={SK_PROVIDER}", "-i", keyfile, "-p", str(port),
                                f"{user}@127.0.0.1", "echo", "OK"], capture_output=True, text=True,
                               timeout=30, env=env)
            called = os.path.exists(slog) and "sk_sign" in open(slog).read()
            return p.returncode, p.stdout, p.stderr, called

        for name, cred in (("es", c_es), ("ed", c_ed)):
            keyfile = os.path.join(export_dir, name)
            os.chmod(keyfile, 0o600)
            rc, out, err, called = attempt(keyfile, cred)
            ok(rc == 0 and out.strip() == "OK" and called,
               f"ssh -i exported {name} key + sk provider holding the passkey's private key: logged in",
               (rc, out, err))
            other_key = generate_key(cred.alg)
            rc, out, err, called = attempt(keyfile, cred, pem_key=other_key)
            ok(rc != 0 and out.strip() != "OK" and called,
               f"{name}: the same key file signed by another private key: refused by sshd", (rc, err))
            # the key file with another application (RP ID): the public key no longer matches
            bad = os.path.join(d, f"{name}-otherapp")
            # ssh offers the key first; sshd does not know it (the application
            # is part of the public key), so no signature is even asked for
            rewritten = rewrite_application(keyfile, bad, b"evil.localhost")
            accepted_before = open(log).read().count("Accepted publickey")
            rc, out, err, called = attempt(bad, cred)
            ok(rewritten and rc != 0 and out.strip() != "OK"
               and open(log).read().count("Accepted publickey") == accepted_before,
               f"{name}: a key file whose application differs from the RP ID: refused", (rc, err))

        # a removed passkey's exported line would still let its security key in
        pw = pwd.getpwnam(user)
        ak = os.path.join(pw.pw_dir, ".ssh", "authorized_keys")
        es_blob, ed_blob = ([t for t in x.split() if t.startswith("AAAA")][0] for x in (line, line_ed))
        rc, out, err = ctl.run("remove", "--keep-authorized-keys", ed, user=user)
        ok(rc == 0 and ed_blob in open(ak).read() and "authorized_keys" not in err,
           "remove --keep-authorized-keys (as the owner): the exported line stays", (rc, err))
        rc, out, err = ctl.run("remove", es)
        text, st_ak = open(ak).read(), os.stat(ak)
        ok(rc == 0 and "also removed its line" in err and es_blob not in text and ed_blob in text
           and "Example kept" in text and st_ak.st_uid == pw.pw_uid
           and stat.S_IMODE(st_ak.st_mode) == 0o600,
           "remove (by root): its exported line goes from the owner's authorized_keys, the"
           " others stay, the file still the owner's, 0600", (rc, err, text))
        rc, out, err, called = attempt(os.path.join(export_dir, "es"), c_es)
        ok(rc != 0 and out.strip() != "OK",
           "ssh -i the removed passkey's key file: refused now", (rc, out, err))
        # the owner has no account here (a fleet's user of another host, or
        # one deleted since): nothing to take out, and no failure.  The
        # daemon's accounts (nss_wrapper) include test users this system lacks.
        gone = next(u for u in test_daemon.harness.TEST_USERS if not has_account(u))
        rc, out, err = ctl.run("enroll", gone)
        st, j = register(origin, token_of(out), SoftAuthenticator()) if rc == 0 else (0, err)
        rc, items, _ = ctl.json("list", gone)
        sid = [c["short_id"] for c in items or []]
        ok(st == 200 and len(sid) == 1, f"{gone}, an account of the daemon's only, registers a"
           " passkey", (j, items))
        rc, out, err = ctl.run("remove", "--force", sid[0] if sid else "-")
        ok(rc == 0 and "removed passkey" in out and "authorized_keys" not in err,
           "remove (by root) of a passkey whose owner has no account here: done, nothing"
           " to take out of authorized_keys", (rc, out, err))
    finally:
        sshd.terminate()
        sshd.wait(5)


def rewrite_application(src, dst, app):
    """Writes src's unencrypted sk key file again with another application (test only)."""
    def rd(b, off):
        n = int.from_bytes(b[off:off + 4], "big")
        return b[off + 4:off + 4 + n], off + 4 + n

    lines = [x for x in open(src).read().splitlines() if x and not x.startswith("-----")]
    raw = base64.b64decode("".join(lines))
    p = len(b"openssh-key-v1\0")
    for _ in range(3):               # cipher, kdf, kdf options
        _, p = rd(raw, p)
    p += 4                           # number of keys
    head = raw[:p]
    pub, p = rd(raw, p)
    priv, _ = rd(raw, p)
    fields, q = [], 8                # after the two check words
    ktype, q = rd(priv, q)
    n = 4 if ktype.startswith(b"sk-ecdsa") else 3   # type [curve] key application
    q = 8
    for _ in range(n):
        f, q = rd(priv, q)
        fields.append(f)
    flags = priv[q:q + 1]
    q += 1
    handle, q = rd(priv, q)
    reserved, q = rd(priv, q)
    comment, q = rd(priv, q)
    fields[-1] = app
    pubfields = b"".join(ssh_string(f) for f in fields)
    body = priv[:8] + pubfields + flags + ssh_string(handle) + ssh_string(reserved) + ssh_string(comment)
    i = 1
    while len(body) % 8:
        body += bytes([i])
        i += 1
    new = head + ssh_string(pubfields) + ssh_string(body)
    b64 = base64.b64encode(new).decode()
    with open(dst, "w") as f:
        f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        for k in range(0, len(b64), 70):
            f.write(b64[k:k + 70] + "\n")
        f.write("-----END OPENSSH PRIVATE KEY-----\n")
    os.chmod(dst, 0o600)
    rc, out, err = ssh_keygen("-y", "-f", dst)
    return rc == 0 and ssh_string(app) in base64.b64decode(out.split()[1])


def test_concurrency(ctl_a, da, db_path, other_sock, other_origin):
    """Several processes add and remove at once, through two daemons on one store."""
    users = USERS
    expected = {u: set() for u in users}
    for u in users:
        for c in ctl_a.json("list", u)[1] or []:
            expected[u].add(c["id"])
    errors = []
    targets = [(ctl_a, da.origin), (Ctl(other_sock), other_origin)]

    def worker(u):
        rnd = random.Random(u)
        for i in range(25):
            ctl, origin = targets[i % 2]
            auth = SoftAuthenticator(alg=rnd.choice([-7, -8]))
            cred, j = add_passkey(ctl, origin, u, auth)
            if cred is None:
                errors.append((u, "add", j))
                continue
            expected[u].add(b64u(cred.id))
            if rnd.random() < 0.5 and expected[u]:
                victim = rnd.choice(sorted(expected[u]))
                rc, out, err = ctl.run("remove", "--force", "--", victim, user=u)
                if rc == 0:
                    expected[u].discard(victim)
                else:
                    errors.append((u, "remove", err))
            rc, out, err = ctl.run("list", "--json", user=u)
            if rc != 0:
                errors.append((u, "list", err))

    def root_lister():
        for _ in range(20):
            rc, out, err = ctl_a.run("list", "--json")
            if rc != 0:
                errors.append(("root", "list", err))

    t0 = time.time()
    with ThreadPoolExecutor(max_workers=len(users) + 1) as ex:
        futs = [ex.submit(worker, u) for u in users] + [ex.submit(root_lister)]
        for f in futs:
            f.result()
    took = time.time() - t0
    ok(not errors, f"concurrent add/remove/list by {len(users)} users over two daemons: no failure "
       f"({took:.1f} s)", errors[:5])
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    rows = {u: {b64u(r[0]) for r in con.execute("SELECT id FROM credentials WHERE user = ?", (u,))}
            for u in users}
    con.close()
    ok(integrity == "ok", "store integrity_check after the concurrent run", integrity)
    print(f"# concurrent run: {sum(len(v) for v in rows.values())} passkeys kept of "
          f"{len(users) * 25} added, in {took:.1f} s")
    ok(rows == expected, "store holds exactly the passkeys the processes kept",
       {u: (len(rows[u]), len(expected[u])) for u in users})
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    total = con.execute("SELECT count(*) FROM events").fetchone()[0]
    newest = con.execute("SELECT event, time FROM events ORDER BY id DESC LIMIT 1").fetchone()
    con.close()
    rc, evs, err = ctl_a.json("events", "--limit", "10000")
    ok(rc == 0 and total > 100 and len(evs) == total and (evs[0]["event"], evs[0]["time"]) == newest,
       f"events: all {total} audit events, several answer pages joined newest first",
       (rc, len(evs or []), total, err))


def ssh_key_line(seed):
    """An OpenSSH Ed25519 public key line (made up) and its fingerprint as
    ssh-keygen -l prints it."""
    import hashlib
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes([seed]) * 32
    fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return "ssh-ed25519 " + base64.b64encode(blob).decode(), "SHA256:" + fp


def begin_window(d, user, key=None, service="sshd", rhost="192.0.2.50", need="required",
                 reuse=86400):
    req = {"op": "login_begin", "user": user, "rhost": rhost, "service": service,
           "enroll": "none", "reuse": reuse, "reuse_key": need}
    if key is not None:
        req["client_key"] = key
    return d.hold(req)


def approve_login(d, j, auth, cred):
    """The browser's part (options, get with that credential, finish) and
    the module's (status until approved)."""
    st, r = login(d.origin, j["token"], auth, credential_id=cred.id)
    state = None
    for _ in range(100):
        state = d.ctl({"op": "status", "token": j["token"]}).get("state")
        if state != "pending":
            break
        time.sleep(0.02)
    return st == 200 and r.get("state") == "approved" and state == "approved"


def windows_in_pages(ctl, d, user):
    """More windows than one answer holds: the daemon sends keyset pages
    ("next", then "cursor"), and passkeyctl joins them, each window once,
    oldest first.  The extra windows are written into the store as an
    approval would, then removed."""
    rc, before, err = ctl.json("sessions")
    base = len(before or [])
    db = sqlite3.connect(d.store, timeout=10)
    extra = [f"{0xabc000 + i:016x}" for i in range(70)]
    now = int(time.time())
    with db:
        db.executemany("INSERT INTO windows (id, user, service, rhost, client_key, hostname,"
                       " source, cred_id, opened, expires) VALUES (?, ?, 'sshd', '192.0.2.70',"
                       " '', 'host', 'seed', x'01', ?, ?)",
                       [(x, user, now - 100 + i // 7, now + 600) for i, x in enumerate(extra)])
    first = d.ctl({"op": "sessions"})
    nxt = first.get("next")
    ok(first.get("ok") and isinstance(nxt, str) and 0 < len(first["sessions"]) < 70,
       f"windows: root's listing of {base + 70} comes in pages, with a next cursor", {
           k: first.get(k) for k in ("ok", "next")})
    second = d.ctl({"op": "sessions", "cursor": nxt})
    ok(second.get("ok") and second["sessions"] and
       second["sessions"][0]["id"] not in [x["id"] for x in first["sessions"]],
       "windows: the cursor's page starts after it", {k: second.get(k) for k in ("ok", "next")})
    for bad in (12, "", "x:0123456789abcdef", "1:short", f"{now}:{'g' * 16}"):
        r = d.ctl({"op": "sessions", "cursor": bad})
        ok(r.get("error") == "bad_request", f"windows: cursor {bad!r} is bad_request", r)
    rc, every, err = ctl.json("sessions")
    ids = [x["id"] for x in every or []]
    mine = [x for x in ids if x in extra]
    keys = [(x["opened"], x["id"]) for x in every or []]
    ok(rc == 0 and len(ids) == len(set(ids)) == base + 70 and mine == extra and
       keys == sorted(keys),
       f"windows: passkeyctl sessions joins every page: {base + 70}, each once, oldest first",
       (rc, len(ids), err))
    rc, out, err = ctl.run("sessions", "--user", user)
    ok(rc == 0 and all(x in out for x in extra), "windows: the human listing of a user's 70"
       " shows each", (rc, err))
    with db:
        db.execute("DELETE FROM windows WHERE source = 'seed'")
    db.close()


def test_windows(ctl, d):
    """Re-approval windows through the real daemon and passkeyctl: the cap,
    the exact client, reuse_key, who may list and end them, and removing a
    passkey ends the windows it opened."""
    m3, m1 = USERS[3], USERS[0]
    a, b = SoftAuthenticator(), SoftAuthenticator()
    ca, j = add_passkey(ctl, d.origin, m3, a)
    cb, j2 = add_passkey(ctl, d.origin, m3, b)
    ok(ca is not None and cb is not None, "windows: pkt-m4 registers two passkeys", (j, j2))
    key, fp = ssh_key_line(7)
    other, _ = ssh_key_line(8)
    j = begin_window(d, m3, key)
    ok(j.get("kind") == "login", "windows: the first login with reuse=86400 needs the browser", j)
    ok(approve_login(d, j, a, ca), "windows: approved with passkey A")
    rc, mine, err = ctl.json("sessions", user=m3)
    w = (mine or [{}])[0]
    ok(rc == 0 and len(mine) == 1 and w.get("client_key") == fp and w.get("service") == "sshd"
       and w.get("rhost") == "192.0.2.50" and j["token"].startswith(w.get("source", "-")),
       "windows: passkeyctl sessions as pkt-m4 lists it with the key's ssh-keygen fingerprint",
       (rc, mine, err))
    ok(w.get("expires", 0) - w.get("opened", 0) == 600,
       "windows: 86400 s asked, reuse_max = 600 given", w)
    r = begin_window(d, m3, key)
    ok(r.get("kind") == "reused" and r.get("window") == w.get("id"),
       "windows: the same client again: reused, no ceremony", r)
    for what, kw in (("another service", {"service": "sudo"}),
                     ("another address", {"rhost": "192.0.2.51"}),
                     ("another key", {"key": other}),
                     ("no key (required)", {"key": None}),
                     ("no key, even with reuse_key=optional", {"key": None, "need": "optional"})):
        args = {"key": key}
        args.update(kw)
        r = begin_window(d, m3, **args)
        ok(r.get("kind") == "login", f"windows: {what}: the browser again", r)
        d.abandon(r.get("token", ""))
    r = begin_window(d, m1, key)
    ok(r.get("kind") != "reused", "windows: another user: no reuse", r)
    # an address-only window (reuse_key=optional), approved with passkey B
    j = begin_window(d, m3, None, need="optional", rhost="192.0.2.60")
    ok(j.get("kind") == "login" and approve_login(d, j, b, cb),
       "windows: reuse_key=optional without a key: approved with passkey B")
    r = begin_window(d, m3, None, need="optional", rhost="192.0.2.60")
    ok(r.get("kind") == "reused", "windows: that address alone is let in (optional)", r)
    r = begin_window(d, m3, None, need="required", rhost="192.0.2.60")
    ok(r.get("kind") == "login", "windows: but never where a key is required", r)
    d.abandon(r.get("token", ""))
    r = begin_window(d, m3, key, reuse=0)
    ok(r.get("kind") == "login", "windows: a service without reuse= never reuses", r)
    d.abandon(r.get("token", ""))
    rc, out, err = ctl.run("sessions", "--user", m3, user=m1)
    ok(rc == 1 and "not_permitted" in err, "windows: pkt-m1 may not list pkt-m4's", (rc, err))
    rc, out, err = ctl.run("sessions", "revoke", w["id"], user=m1)
    ok(rc == 1 and "unknown_window" in err, "windows: nor end one (unknown_window for it)",
       (rc, err))
    rc, every, err = ctl.json("sessions")
    ok(rc == 0 and len([x for x in every if x["user"] == m3]) == 2,
       "windows: root lists everyone's (pkt-m4's two)", every)
    rc, out, err = ctl.run("sessions", user=m3)
    ok(rc == 0 and w["id"] in out and fp in out, "windows: the human listing shows ID and key",
       out)
    windows_in_pages(ctl, d, m1)
    rc, items, err = ctl.json("list", user=m3)
    sid = [c["short_id"] for c in items if c["id"] == b64u(ca.id)]
    rc2, out, err = ctl.run("remove", sid[0] if sid else "-", user=m3)
    rc, mine, err = ctl.json("sessions", user=m3)
    ok(rc2 == 0 and rc == 0 and [x["client_key"] for x in mine] == [""],
       "windows: removing passkey A ends the window it opened; B's stays", (rc2, mine))
    r = begin_window(d, m3, key)
    ok(r.get("kind") == "login", "windows: and that client needs the browser again", r)
    d.abandon(r.get("token", ""))
    rc, out, err = ctl.run("sessions", "revoke", "--all", user=m3)
    ok(rc == 0 and "ended 1 re-approval window" in out, "windows: pkt-m4 ends its own", out)
    rc, out, err = ctl.run("sessions", "revoke", "0123456789abcdef", user=m3)
    ok(rc == 1 and "unknown_window" in err, "windows: an unknown ID: unknown_window", err)
    rc, out, err = ctl.run("sessions", "revoke")
    ok(rc == 2, "windows: revoke without an ID or --all is a usage error", (rc, err))
    rows = sqlite3.connect(f"file:{d.store}?mode=ro", uri=True).execute(
        "SELECT event, count(*) FROM events WHERE event IN ('window_opened',"
        " 'login_reused', 'window_revoked') GROUP BY event").fetchall()
    ok(dict(rows) == {"window_opened": 2, "login_reused": 2, "window_revoked": 1},
       "windows: the audit log has each opening, reuse and revocation", rows)


def test_local_windows(ctl, d):
    """An address that is the host itself names no client: every local
    account comes from there (sudo with Defaults pam_rhost gives the host's
    name; ssh alice@localhost gives 127.0.0.1).  Without a key no window
    opens there, even with reuse_key=optional, so mallory's sudo cannot
    ride alice's approval.  With the client's key it does (the key names
    the client), and a remote address alone still does (optional)."""
    m2 = USERS[1]
    auth = SoftAuthenticator()
    cred, j = add_passkey(ctl, d.origin, m2, auth)
    ok(cred is not None, "local windows: pkt-m2 registers a passkey", j)
    key, _ = ssh_key_line(9)
    with test_daemon.harness.host_addresses() as mine:
        # mallory's `ssh pkt-m2@<the host's LAN address>` comes from there too
        ok(mine, "local windows: this machine has an address besides loopback", mine)
        # and a DNS name (sshd's UseDNS) is none of them: the host's own full
        # name is one whenever the configured hostname is its short one
        for here, service in ((socket.gethostname(), "sudo"), ("127.0.0.1", "sshd"),
                              ("::1", "sshd"), *((a, "sshd") for a in mine),
                              ("client.example.net", "sshd")):
            j = begin_window(d, m2, None, need="optional", rhost=here, service=service,
                             reuse=600)
            ok(j.get("kind") == "login" and approve_login(d, j, auth, cred),
               f"local windows: {service} from {here}, reuse_key=optional, no key: approved", j)
            d.abandon(j.get("token", ""))
            r = begin_window(d, m2, None, need="optional", rhost=here, service=service,
                             reuse=600)
            ok(r.get("kind") == "login", f"local windows: the next one from {here} needs the"
               " browser again: no window opened", r)
            d.abandon(r.get("token", ""))
    j = begin_window(d, m2, key, need="optional", rhost="127.0.0.1", reuse=600)
    ok(j.get("kind") == "login" and approve_login(d, j, auth, cred),
       "local windows: from 127.0.0.1 with the client's key: approved")
    r = begin_window(d, m2, key, need="optional", rhost="127.0.0.1", reuse=600)
    ok(r.get("kind") == "reused", "local windows: that key from 127.0.0.1 again: reused", r)
    rc, mine, err = ctl.json("sessions", user=m2)
    ok(rc == 0 and [w["rhost"] for w in mine or []] == ["127.0.0.1"] and mine[0]["client_key"],
       "local windows: pkt-m2's only window is the keyed one", (rc, mine, err))
    rc, out, err = ctl.run("sessions", "revoke", "--all", user=m2)
    ok(rc == 0, "local windows: pkt-m2 ends it", (rc, err))


def test_uncollected_window(ctl, d):
    """An approval the PAM module never collects opens no window: the
    module cancelled (its timeout), or its connection closed (sshd ended
    it), after the page approved and before a status said approved.  The
    login did not happen, so the window the approval opened ends
    (window_revoked, not_collected).  One collected keeps its window."""
    m2 = USERS[1]
    auth = SoftAuthenticator()
    cred, j = add_passkey(ctl, d.origin, m2, auth)
    ok(cred is not None, "uncollected: pkt-m2 registers a passkey", j)
    key, _ = ssh_key_line(11)
    for how, rhost in (("cancel", "192.0.2.74"), ("close", "192.0.2.75")):
        j = begin_window(d, m2, key, rhost=rhost, reuse=600)
        st, r = login(d.origin, j.get("token", ""), auth, credential_id=cred.id) \
            if j.get("kind") == "login" else (0, {})
        ok(st == 200 and r.get("state") == "approved",
           f"uncollected ({how}): the page approves the login from {rhost}", (j, st, r))
        if how == "cancel":
            c = d.ctl({"op": "cancel", "token": j["token"]})
            ok(c.get("ok"), "uncollected (cancel): the module cancels before its status", c)
        else:
            d.abandon(j["token"])
        # the end is written off the loop: a login meanwhile finds the window,
        # and its use, queued after the end, is refused (reuse_ended)
        seen = []
        for _ in range(50):
            nxt = begin_window(d, m2, key, rhost=rhost, reuse=600)
            seen.append(nxt.get("kind") or nxt.get("error"))
            d.abandon(nxt.get("token", ""))
            if nxt.get("kind") == "login":
                break
            time.sleep(0.05)
        ok(seen[-1] == "login" and "reused" not in seen,
           f"uncollected ({how}): no login from {rhost} rides the approval's window; the next"
           " needs the browser", seen)
    ev = d.ctl({"op": "events", "user": m2, "limit": 20})
    ok(sum(e.get("reason") == "not_collected" and e.get("event") == "window_revoked"
           for e in ev.get("events", [])) == 2,
       "uncollected: each end is in the audit log (window_revoked, not_collected)", ev)
    # collected: the window stays, and a close after that ends nothing
    j = begin_window(d, m2, key, rhost="192.0.2.76", reuse=600)
    ok(j.get("kind") == "login" and approve_login(d, j, auth, cred),
       "uncollected: a login approved and collected from 192.0.2.76")
    d.abandon(j.get("token", ""))
    r = begin_window(d, m2, key, rhost="192.0.2.76", reuse=600)
    ok(r.get("kind") == "reused", "uncollected: its window stays after the module is gone", r)
    rc, out, err = ctl.run("sessions", "revoke", "--all", user=m2)
    ok(rc == 0, "uncollected: pkt-m2 ends it", (rc, err))


def alice_daemon(tmp, name, extra=""):
    """A daemon of its own with alice's passkey, registered now:
    (daemon, authenticator, credential or None)."""
    d = Daemon(tmp, name, extra="require_uv = no\nreuse_max = 600\n" + extra)
    auth = SoftAuthenticator()
    j = d.hold({"op": "login_begin", "user": "alice", "rhost": "", "service": "su",
                "enroll": "after-auth"})
    st, r = register(d.origin, j.get("token", ""), auth) if j.get("ok") else (0, {})
    ok(st == 200 and r.get("state") == "approved", f"{name}: alice registers a passkey", (j, st, r))
    return d, auth, auth.credentials[-1] if auth.credentials else None


def approve_uncollected(d, auth, cred, key, rhost):
    """A login from rhost approved on the page; its module (the held
    connection) never asks for the status.  The token, or None."""
    j = begin_window(d, "alice", key, rhost=rhost, reuse=600)
    st, r = login(d.origin, j["token"], auth, credential_id=cred.id) \
        if j.get("kind") == "login" and cred is not None else (0, {})
    return j["token"] if st == 200 and r.get("state") == "approved" else None


def not_collected_ends(d):
    ev = d.ctl({"op": "events", "user": "alice", "limit": 50}).get("events", [])
    return sum(e.get("event") == "window_revoked" and e.get("reason") == "not_collected"
               for e in ev)


def test_uncollected_at_stop(tmp):
    """passkeyd stops (a restart, an upgrade) while a login's approval is
    not collected yet: its module's connection goes with the process, so
    that login never happens, and the window its approval opened ends
    while the journal still commits (control_close_clients).  A login collected before
    the stop keeps its window across the restart."""
    key, _ = ssh_key_line(12)
    d, auth, cred = alice_daemon(tmp, "stop")
    try:
        j = begin_window(d, "alice", key, rhost="192.0.2.78", reuse=600)
        ok(j.get("kind") == "login" and cred is not None and approve_login(d, j, auth, cred),
           "stop: a login from 192.0.2.78 approved and collected", j)
        token = approve_uncollected(d, auth, cred, key, "192.0.2.77")
        ok(token is not None, "stop: a login from 192.0.2.77 approved, its status never asked")
        rc = d.restart()	# with the module's connection open
        ok(rc == 0, "stop: passkeyd stops cleanly (it died of SIGSEGV here before)",
           (rc, d.logtext()[-400:]))
        r = begin_window(d, "alice", key, rhost="192.0.2.77", reuse=600)
        ok(r.get("kind") == "login", "stop: after the restart, no login from 192.0.2.77 rides the"
           " uncollected approval's window", r)
        d.abandon(r.get("token", ""))
        r = begin_window(d, "alice", key, rhost="192.0.2.78", reuse=600)
        ok(r.get("kind") == "reused", "stop: the collected one's window outlives the restart", r)
        ok(not_collected_ends(d) == 1, "stop: the end is audited (window_revoked, not_collected)",
           d.ctl({"op": "events", "user": "alice", "limit": 10}))
    finally:
        d.stop()


def test_uncollected_forgotten(tmp):
    """An approval the table forgets before its module collects it (kept
    ten minutes after its end; sooner, oldest first, past four times
    max_pending_total of them) never will be collected: its module's
    status now gets unknown_ceremony, and the window the approval opened
    ends (flow_on_forget).  Nine approvals against a bound of eight."""
    key, _ = ssh_key_line(13)
    d, auth, cred = alice_daemon(tmp, "forget", "max_pending_total = 2\n"
                                 "max_pending_per_user = 2\nmax_pending_per_address = 2\n"
                                 "max_pending_per_user_address = 2\n")
    try:
        tokens = [approve_uncollected(d, auth, cred, key, f"192.0.2.{80 + i}") for i in range(9)]
        ok(all(tokens), "forget: nine logins approved, none collected", tokens)
        # not a status to see it: a status before the sweep would collect it
        for _ in range(60):	# the sweep runs each second
            if not_collected_ends(d) > 0:
                break
            time.sleep(0.05)
        ok(not_collected_ends(d) == 1, "forget: the oldest approval is forgotten, and its"
           " window's end audited (window_revoked, not_collected)",
           d.ctl({"op": "events", "user": "alice", "limit": 10}))
        state = d.ctl({"op": "status", "token": tokens[0]})
        ok(state.get("error") == "unknown_ceremony",
           "forget: its module's status now: unknown_ceremony", state)
        r = begin_window(d, "alice", key, rhost="192.0.2.80", reuse=600)
        ok(r.get("kind") == "login", "forget: no login from 192.0.2.80 rides its window", r)
        d.abandon(r.get("token", ""))
        r = begin_window(d, "alice", key, rhost="192.0.2.88", reuse=600)
        ok(r.get("kind") == "reused", "forget: the newest approval, still held, keeps its window", r)
    finally:
        d.stop()


def test_window_clock(tmp):
    """A wall clock stepped back under a running passkeyd (NTP after a bad
    boot clock, an admin's `date`) does not stretch an open window: a window
    of 4 s still ends 4 s later, though the clock now says 30 s earlier
    (passkeyd/wallclock.h).  30 s: under the store's minute of skew, past
    which a window opened "later than now" is refused anyway (and one older
    than the step is stretched by all of it).  The daemon runs with
    tests/daemon/clock_shift.c, a wall clock the test steps; its monotonic
    clock is the real one."""
    shift = os.path.join(tmp, "clock-shift")
    with open(shift, "w") as f:
        f.write("0\n")
    env = {"LD_PRELOAD": f"{test_daemon.harness.NSS_WRAPPER} {CLOCK_SHIFT}",
           "CLOCK_SHIFT_FILE": shift}
    d3 = Daemon(tmp, "clock", extra="require_uv = no\n", env=env)
    try:
        auth = SoftAuthenticator()
        j = d3.hold({"op": "login_begin", "user": "alice", "rhost": "", "service": "su",
                     "enroll": "after-auth"})
        st, r = register(d3.origin, j.get("token", ""), auth) if j.get("ok") else (0, {})
        ok(st == 200 and r.get("state") == "approved",
           "window clock: alice registers a passkey", (j, st, r))
        cred = auth.credentials[-1] if auth.credentials else None
        key, _ = ssh_key_line(10)
        j = begin_window(d3, "alice", key, rhost="192.0.2.72", reuse=4)
        ok(j.get("kind") == "login" and cred is not None and approve_login(d3, j, auth, cred),
           "window clock: approved from 192.0.2.72 with a key and reuse=4: a window opens", j)
        r = begin_window(d3, "alice", key, rhost="192.0.2.72", reuse=4)
        ok(r.get("kind") == "reused", "window clock: the next login rides it", r)
        with open(shift, "w") as f:
            f.write("-30\n")
        time.sleep(5)
        r = begin_window(d3, "alice", key, rhost="192.0.2.72", reuse=4)
        ok(r.get("kind") == "login", "window clock: with the wall clock stepped back 30 s,"
           " the window still ends 4 s after it opened: 5 s on, the browser again", r)
        d3.abandon(r.get("token", ""))
    finally:
        d3.stop()


FAKE_SERVER = r"""
import json, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    try:
        line = c.makefile("rb").readline()
        if line:
            with open(log, "ab") as f:
                f.write(line)
            c.sendall(json.dumps({"ok": True, "credentials": []}).encode() + b"\n")
    except OSError:
        pass    # a client that hung up without asking
    c.close()
"""


def test_untrusted_socket(tmp):
    """A socket served by an account that is not root, passkeyd's or the
    caller's is not believed: root acts on the answers (export --install,
    remove edit the owner's authorized_keys), and --socket may name any.
    The trusted account is fixed: a command-line option naming it would
    undo the check under the same sudo rule."""
    server, m1 = USERS[1], USERS[0]
    pw = pwd.getpwnam(server)
    where = os.path.join(tmp, "fake")
    os.makedirs(where)
    os.chown(where, pw.pw_uid, pw.pw_gid)
    sock, log = os.path.join(where, "control.sock"), os.path.join(where, "requests")
    # Debian's python: an interpreter under root's home is out of the account's reach
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    proc = subprocess.Popen([python, "-c", FAKE_SERVER, sock, log], user=pw.pw_uid,
                            group=pw.pw_gid, extra_groups=[], stdout=subprocess.PIPE, text=True)
    try:
        ok(proc.stdout.readline().strip() == "ready", f"a fake passkeyd listens as {server}")
        os.chmod(where, 0o755)
        os.chmod(sock, 0o777)
        fake = Ctl(sock)

        def requests():
            return open(log).read().splitlines() if os.path.exists(log) else []
        for who, args in ((None, ("list",)), (None, ("remove", "a1b2c3d4")),
                          (None, ("export-openssh", "--install", "a1b2c3d4")), (m1, ("list",))):
            rc, out, err = fake.run(*args, user=who)
            ok(rc == 1 and f"served by uid {pw.pw_uid}" in err and "refusing to trust" in err
               and out == "" and requests() == [],
               f"{who or 'root'}: passkeyctl {args[0]} refuses a socket {server} serves, "
               "before sending anything", (rc, out, err, requests()))
        # who to trust is never the caller's to say: a sudo rule that lets a
        # user choose --socket would let them name the socket's owner too
        for bad in (("--daemon-user", server), (f"--daemon-user={server}",)):
            rc, out, err = fake.run(*bad, "list")
            ok(rc == 2 and requests() == [],
               f"{' '.join(bad)}: no such option, nothing sent", (rc, err, requests()))
        # the same request from the server's own account reaches it: the
        # peer check is what refused the others
        rc, out, err = fake.run("list", user=server)
        ok(rc == 0 and [json.loads(x)["op"] for x in requests()] == ["list"],
           f"{server} trusts a socket it serves itself: the request is sent and answered",
           (rc, err, requests()))
    finally:
        proc.kill()
        proc.wait()


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (runs passkeyctl as several accounts, sshd)")
        return 0
    tmp = tempfile.mkdtemp(prefix="passkeyctl-manage.")
    os.chmod(tmp, 0o755)
    for u in USERS:
        ensure_user(u, os.path.join(tmp, "home", u))
    d = d2 = None
    try:
        # UV optional, so one passkey can be registered without it (export test)
        # and an admin's authenticator name for the soft authenticator's AAGUID
        names = os.path.join(tmp, "aaguid-names.tsv")
        with open(names, "w") as f:
            f.write("00000000-0000-0000-0000-000000000000\tSoft test key\n")
        d = Daemon(tmp, "a", extra=f"require_uv = no\naaguid_names = {names}\n"
                   "reuse_max = 600\n")
        ctl = Ctl(d.sock)
        with group("test_list_rename_remove"):
            test_list_rename_remove(ctl, d)
        with group("test_events_and_enrollment"):
            test_events_and_enrollment(ctl, d)
        with group("test_bad_input"):
            test_bad_input(ctl)
        with group("test_untrusted_socket"):
            test_untrusted_socket(tmp)
        with group("test_windows"):
            test_windows(ctl, d)
        with group("test_local_windows"):
            test_local_windows(ctl, d)
        with group("test_uncollected_window"):
            test_uncollected_window(ctl, d)
        with group("test_window_clock"):
            test_window_clock(tmp)
        with group("test_uncollected_at_stop"):
            test_uncollected_at_stop(tmp)
        with group("test_uncollected_forgotten"):
            test_uncollected_forgotten(tmp)
        creds = None
        with group("test_export"):
            creds = test_export(ctl, d, tmp)
        if creds is not None:
            with group("test_ssh_login"):
                test_ssh_login(ctl, tmp, creds, d.origin)
        # a second daemon on the same store file: what a restart overlap or
        # two services on one host would do
        d2 = Daemon(tmp, "b", extra="require_uv = no\n", store=d.store)
        with group("test_concurrency"):
            test_concurrency(ctl, d, d.store, d2.sock, d2.origin)
        ok(d.proc.poll() is None and d2.proc.poll() is None, "both daemons still running")
    finally:
        for x in (d, d2):
            if x is not None:
                x.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for u in MADE:
            subprocess.run(["userdel", u], capture_output=True)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
