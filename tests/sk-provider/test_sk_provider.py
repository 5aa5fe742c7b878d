#!/usr/bin/env python3
"""The TEST security key provider (sk-soft.so) with the real ssh client and a
real, private sshd on 127.0.0.1 (TAP).  Needs root (sshd); skips otherwise.

The test makes its own P-256 and Ed25519 passkeys with python3-cryptography,
writes them as PKCS#8 PEM (what Chromium's virtual authenticator exports),
and writes -- with its own encoder, independent of sk_soft.c and of OpenSSH --
the sk public key blobs, authorized_keys lines and unencrypted openssh-key-v1
private key files (PROTOCOL.u2f).  Then, for both algorithms, ssh logs in
through the provider and sshd accepts or refuses; the sshd log line that says
why is checked for each case.  Each case is a tap.group(): an exception in
one (an unexpected answer, a missing file) fails that case, and the others
still run.

usage: test_sk_provider.py PATH/TO/sk-soft.so"""
import base64
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import free_port, group, note, ok, plan, skip_all  # noqa: E402

USER = "pkt-sk"
APPLICATION = "localhost"
EVIL_APPLICATION = "evil.localhost"
FLAGS_UP_UV = 0x05  # user presence required | user verification required
SSH_TIMEOUT = 30



# ---------------------------------------------------------------- SSH formats
# Written from PROTOCOL.key / PROTOCOL.u2f; deliberately not shared with the C.

def sstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class SkKey:
    """One sk credential as OpenSSH sees it: public key, application, flags,
    key handle (= the WebAuthn credential ID)."""

    def __init__(self, alg, private_key, application, key_handle, flags, comment):
        from cryptography.hazmat.primitives import serialization as ser
        self.alg = alg
        self.application = application
        self.key_handle = key_handle
        self.flags = flags
        self.comment = comment
        pub = private_key.public_key()
        if alg == "ecdsa":
            self.keytype = "sk-ecdsa-sha2-nistp256@openssh.com"
            self.label = "ECDSA-SK"
            q = pub.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)
            assert len(q) == 65 and q[0] == 4
            self.key_fields = sstr("nistp256") + sstr(q)
        else:
            self.keytype = "sk-ssh-ed25519@openssh.com"
            self.label = "ED25519-SK"
            pk = pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
            assert len(pk) == 32
            self.key_fields = sstr(pk)

    def blob(self):
        return sstr(self.keytype) + self.key_fields + sstr(self.application)

    def public_text(self):
        return f"{self.keytype} {base64.b64encode(self.blob()).decode()}"

    def authorized_line(self, options=""):
        return (options + " " if options else "") + f"{self.public_text()} {self.comment}"

    def fingerprint(self):
        digest = hashlib.sha256(self.blob()).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def private_file(self):
        check = secrets.randbits(32)
        priv = (struct.pack(">II", check, check) + sstr(self.keytype) + self.key_fields
                + sstr(self.application) + bytes([self.flags]) + sstr(self.key_handle)
                + sstr(b"")  # reserved
                + sstr(self.comment))
        pad = 1
        while len(priv) % 8:  # cipher "none": block size 8
            priv += bytes([pad])
            pad += 1
        body = (b"openssh-key-v1\0" + sstr("none") + sstr("none") + sstr(b"")
                + struct.pack(">I", 1) + sstr(self.blob()) + sstr(priv))
        b64 = base64.b64encode(body).decode()
        lines = [b64[i:i + 70] for i in range(0, len(b64), 70)]
        return ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines)
                + "\n-----END OPENSSH PRIVATE KEY-----\n")


def write_file(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def pkcs8_pem(private_key):
    from cryptography.hazmat.primitives import serialization as ser
    return private_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                     ser.NoEncryption()).decode()


# ---------------------------------------------------------------- processes

def tcp_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def run(cmd, env=None, timeout=SSH_TIMEOUT):
    try:
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return -999, e.stdout or "", f"timeout after {timeout}s\n{e.stderr or ''}"


MADE = []   # the accounts this run created: removed at the end


def ensure_user():
    """pkt-sk: an ordinary account that sshd will let in with a public key."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        rc, _, err = run(["useradd", "-M", "-s", "/bin/sh", "-c",
                          "ssh-passkeys sk-provider test", USER])
        if rc != 0:
            raise RuntimeError(f"useradd {USER}: {err.strip()}")
        MADE.append(USER)
        pw = pwd.getpwnam(USER)
    if pw.pw_shell != "/bin/sh":
        run(["usermod", "-s", "/bin/sh", USER])
    # useradd leaves the password "!" (locked).  With UsePAM no, sshd refuses
    # a locked account even for public key auth; "*" is "no password usable",
    # which sshd does not treat as locked.
    with open("/etc/shadow") as f:
        for line in f:
            fields = line.split(":")
            if fields[0] == USER and fields[1].startswith("!"):
                rc, _, err = run(["usermod", "-p", "*", USER])
                if rc != 0:
                    raise RuntimeError(f"usermod -p: {err.strip()}")


class Sshd:
    def __init__(self, sshd, tmp):
        self.port = free_port()
        self.tmp = tmp
        self.keys_file = os.path.join(tmp, f"authorized_keys.{USER}")
        write_file(self.keys_file, "", 0o644)
        host_key = os.path.join(tmp, "ssh_host_ed25519_key")
        rc, _, err = run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pkt-sk-host",
                          "-f", host_key])
        if rc != 0:
            raise RuntimeError(f"ssh-keygen host key: {err}")
        self.config = os.path.join(tmp, "sshd_config")
        write_file(self.config, "\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            "PidFile none",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "AuthenticationMethods publickey",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            # %u: sshd expands the user name (authorized_keys.pkt-sk)
            f"AuthorizedKeysFile {tmp}/authorized_keys.%u",
            # StrictModes would refuse the file: it checks every directory up
            # from the file, and the temporary directory lives under /tmp
            # (mode 1777, group/world writable).  Not what this test is about.
            "StrictModes no",
            f"AllowUsers {USER}",
            "PermitRootLogin no",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "MaxAuthTries 3",
            "LogLevel DEBUG1",
            "",
        ]), 0o644)
        # sshd's privilege separation directory (systemd's unit would make it);
        # left in place: another sshd on this machine may need it
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log_path = os.path.join(tmp, "sshd.log")
        self.log = open(self.log_path, "ab")
        # its own process group: stop() ends the per-connection children too
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", self.config],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if "Server listening on" in self.text() and tcp_open(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not come up on port {self.port}:\n{self.text()}")

    def text(self, offset=0):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").replace("\r", "")

    def offset(self):
        return os.path.getsize(self.log_path)

    def authorize(self, lines):
        write_file(self.keys_file, "".join(line + "\n" for line in lines), 0o644)

    def stop(self):
        # the group is sshd's own (start_new_session), led by self.proc
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


# ---------------------------------------------------------------- one login

CLOSED = re.compile(r"Disconnected from|Connection closed by|Connection reset by")


class Login:
    """One `ssh ... echo OK` through the provider: exit code, output, the
    provider's log lines and the sshd log text for this connection."""

    def __init__(self, ctx, keyfile, env_extra):
        self.ctx = ctx
        ctx.seq += 1
        sk_log = os.path.join(ctx.tmp, f"provider-{ctx.seq:02d}.log")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C",
               "PASSKEY_SK_LOG": sk_log}
        env.update(env_extra)
        start = ctx.sshd.offset()
        cmd = ["ssh", "-v", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
               "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=publickey",
               "-o", "ConnectTimeout=10", "-o", f"SecurityKeyProvider={ctx.provider}",
               "-i", keyfile, "-p", str(ctx.sshd.port), f"{USER}@127.0.0.1", "echo", "OK"]
        self.rc, self.out, self.err = run(cmd, env=env)
        # the sshd child may still be writing its last lines
        deadline = time.time() + 3
        while time.time() < deadline and not CLOSED.search(ctx.sshd.text(start)):
            time.sleep(0.05)
        self.sshd_log = ctx.sshd.text(start)
        self.calls = []
        if os.path.exists(sk_log):
            with open(sk_log) as f:
                self.calls = [line.strip() for line in f if line.strip()]

    def sign_calls(self, **want):
        """provider sk_sign lines whose key=value fields match want"""
        found = []
        for line in self.calls:
            if not line.startswith("sk_sign "):
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            if all(fields.get(k) == v for k, v in want.items()):
                found.append(fields)
        return found

    def sshd_lines(self, pattern):
        return [line for line in self.sshd_log.splitlines() if re.search(pattern, line)]

    def diag(self):
        return (f"ssh exit {self.rc}\nstdout: {self.out!r}\nprovider log:\n"
                + "\n".join("  " + c for c in self.calls)
                + "\nssh stderr (tail):\n" + "\n".join(self.err.splitlines()[-25:])
                + "\nsshd log:\n" + self.sshd_log)


class Ctx:
    def __init__(self, tmp, provider, sshd):
        self.tmp = tmp
        self.provider = provider
        self.sshd = sshd
        self.seq = 0


def fp_re(key):
    return rf"{key.label} {re.escape(key.fingerprint())}"


def accepted_re(key):
    return rf"^Accepted publickey for {USER} from 127\.0\.0\.1 port \d+ ssh2: {fp_re(key)}$"


def failed_re(key):
    return rf"^Failed publickey for {USER} from 127\.0\.0\.1 port \d+ ssh2: {fp_re(key)}$"


def found_re(key):
    """sshd matched the offered key to an authorized_keys line (once for the
    query, once more for the signed request)"""
    return rf"^Accepted key {fp_re(key)} found at "


def details_re(counter, flags):
    """sshd verified an sk signature; it logs what the authenticator said"""
    return (rf"^debug1: userauth_pubkey: sk_counter = {counter}, sk_flags = 0x{flags:02x}"
            rf"( \[preauth\])?$")


def rejected_re(key, why):
    return (rf"^public key {fp_re(key)} signature for {USER} from 127\.0\.0\.1 port \d+ "
            rf"rejected: {why}")


# the signature was checked and did not verify: the key was authorized for
# the query and again for the signed request, then "Failed publickey" with no
# sk_counter/sk_flags line (logged only after a good signature) and no
# UP/UV "rejected:" line.  sshd 9.2 says nothing more specific about a bad
# signature at DEBUG1.
def bad_signature(key):
    return ("key authorized, signature did not verify",
            [(found_re(key), 2), (r"sk_counter = ", 0), (r"rejected: ", 0), (failed_re(key), 1)])


# the signature verified, but the flags do not meet the key's requirements.
# Under privilege separation the monitor makes this check and logs the
# rejection; the unprivileged child's "sk_counter = " line never comes.
def flags_rejected(key, why):
    return ("signature rejected: " + why.replace("\\", ""),
            [(found_re(key), 2), (r"sk_counter = ", 0), (rejected_re(key, why), 1),
             (failed_re(key), 1)])


def check_sshd(r, name, sshd_expect):
    """sshd_expect: (what, [(regex, count)]): each regex must match count
    lines of this connection's sshd log; the lines found go into the TAP
    output as notes"""
    what, expect = sshd_expect
    bad = [f"/{rx}/: {len(r.sshd_lines(rx))} lines, wanted {n}" for rx, n in expect
           if len(r.sshd_lines(rx)) != n]
    ok(not bad, f"{name}: sshd log: {what}", lambda: "\n".join(bad) + "\n" + r.diag())
    for rx, n in expect:
        lines = r.sshd_lines(rx)
        if n > 0 and lines and not lines[0].startswith("Accepted key "):
            note("sshd: " + lines[0].rstrip())


def check_login_ok(ctx, name, key, keyfile, env, counter=1, flags=FLAGS_UP_UV):
    """One case; an exception in it fails the case, not the suite."""
    with group(name):
        r = Login(ctx, keyfile, env)
        ok(r.rc == 0 and r.out.strip() == "OK", f"{name}: ssh logs in and runs the command",
           r.diag)
        ok(len(r.sign_calls(alg=key.alg, application=key.application, key_handle_ok="yes",
                            result="ok", counter=str(counter), flags=f"0x{flags:02x}")) == 1,
           f"{name}: the provider signed once (counter {counter}, flags 0x{flags:02x})", r.diag)
        check_sshd(r, name, (f"Accepted publickey, sk_counter = {counter}, "
                             f"sk_flags = 0x{flags:02x}",
                             [(details_re(counter, flags), 1), (accepted_re(key), 1)]))


def check_login_refused(ctx, name, key, keyfile, env, sign_want, sshd_expect):
    """ssh must fail; sign_want: the provider call expected (None: none at
    all); sshd_expect: see check_sshd.  One case; an exception in it fails
    the case, not the suite."""
    with group(name):
        r = Login(ctx, keyfile, env)
        ok(r.rc != 0 and "OK" not in r.out and not r.sshd_lines(r"Accepted publickey"),
           f"{name}: refused", r.diag)
        if sign_want is None:
            ok(not [c for c in r.calls if c.startswith("sk_sign ")],
               f"{name}: the provider was never asked to sign", r.diag)
        else:
            ok(len(r.sign_calls(**sign_want)) == 1,
               f"{name}: the provider was called ("
               + " ".join(f"{k}={v}" for k, v in sign_want.items()) + ")", r.diag)
        check_sshd(r, name, sshd_expect)


# ---------------------------------------------------------------- the cases

def one_algorithm(ctx, alg):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    tmp = ctx.tmp
    gen = ((lambda: ec.generate_private_key(ec.SECP256R1())) if alg == "ecdsa"
           else ed25519.Ed25519PrivateKey.generate)
    name = "P-256" if alg == "ecdsa" else "Ed25519"
    with group(f"{name}: keys and key files") as g:
        priv, other = gen(), gen()
        cred_id = secrets.token_bytes(32)
        pem = os.path.join(tmp, f"{alg}.pem")
        other_pem = os.path.join(tmp, f"{alg}-other.pem")
        write_file(pem, pkcs8_pem(priv))
        write_file(other_pem, pkcs8_pem(other))

        key = SkKey(alg, priv, APPLICATION, cred_id, FLAGS_UP_UV, f"pkt-sk-{alg}")
        evil = SkKey(alg, priv, EVIL_APPLICATION, cred_id, FLAGS_UP_UV, f"pkt-sk-{alg}-evil")
        keyfile = os.path.join(tmp, f"id_{alg}_sk")
        evil_file = os.path.join(tmp, f"id_{alg}_sk_evil")
        write_file(keyfile, key.private_file())
        write_file(evil_file, evil.private_file())
    if g.raised:
        return  # every case below needs these; the failure is reported

    # ssh-keygen reads the files this test wrote
    for k, f in ((key, keyfile), (evil, evil_file)):
        tag = f"{name} ({k.application})"
        with group(f"{tag}: ssh-keygen"):
            rc, out, err = run(["ssh-keygen", "-l", "-f", f])
            want = f"256 {k.fingerprint()} {k.comment} ({k.label})"
            ok(rc == 0 and out.strip() == want, f"{tag}: ssh-keygen -l reads the private key file",
               f"rc {rc}\ngot:  {out.strip()}\nwant: {want}\n{err}")
            rc, out, err = run(["ssh-keygen", "-y", "-f", f])
            ok(rc == 0 and out.split()[:2] == k.public_text().split(),
               f"{tag}: ssh-keygen -y gives the authorized_keys key",
               f"rc {rc}\ngot:  {out.strip()}\nwant: {k.public_text()}\n{err}")

    env = {"PASSKEY_SK_KEY": pem, "PASSKEY_SK_CREDENTIAL_ID": b64url(cred_id)}
    good_sign = dict(alg=alg, application=APPLICATION, key_handle_ok="yes", result="ok")
    ctx.sshd.authorize([key.authorized_line()])

    check_login_ok(ctx, f"{name} right key", key, keyfile, env)

    with group(f"{name} counter file"):
        counter_file = os.path.join(tmp, f"{alg}.counter")
        write_file(counter_file, "41\n")
        check_login_ok(ctx, f"{name} counter file", key, keyfile,
                       dict(env, PASSKEY_SK_COUNTER_FILE=counter_file), counter=42)
        with open(counter_file) as f:
            value = f.read().strip()
        ok(value == "42", f"{name} counter file: incremented to 42", f"file holds {value!r}")

    # the provider holds the credential ID but signs with another private
    # key: the signature does not verify against the authorized key
    check_login_refused(ctx, f"{name} other private key", key, keyfile,
                        dict(env, PASSKEY_SK_KEY=other_pem), good_sign, bad_signature(key))

    # the provider does not hold this credential ID: like a real authenticator
    # it finds no credential and nothing is signed.  sshd accepted the key
    # for the query ("Postponed"), then the client gave up.
    check_login_refused(ctx, f"{name} unknown credential ID", key, keyfile,
                        dict(env, PASSKEY_SK_CREDENTIAL_ID=b64url(secrets.token_bytes(32))),
                        dict(alg=alg, key_handle_ok="no", result="device-not-found"),
                        ("key authorized for the query, no signature came",
                         [(found_re(key), 1), (r"^Failed publickey", 0),
                          (rf"^Postponed publickey for {USER} from 127\.0\.0\.1 port \d+ ssh2", 1)]))

    # a key file for another application, same public key and key handle.
    # The application is part of the sk public key blob, so the key offered
    # is not the authorized one: sshd refuses ssh's public key *query*
    # ("Failed publickey" without any "Accepted key"), and ssh never gets as
    # far as asking the provider to sign.
    check_login_refused(ctx, f"{name} key file for {EVIL_APPLICATION}", evil, evil_file, env, None,
                        ("the key offered is not authorized (query refused)",
                         [(rf"^debug1: userauth_pubkey: publickey test pkalg {key.keytype} "
                           rf"pkblob {fp_re(evil)}", 1),
                          (r"^Accepted key ", 0), (failed_re(evil), 1)]))

    # the key file matches the authorized line, but the "authenticator" signs
    # over SHA-256("evil.localhost") -- as it would for a credential of
    # another relying party.  sshd checks the application hash and refuses.
    check_login_refused(ctx, f"{name} signature for {EVIL_APPLICATION}", key, keyfile,
                        dict(env, PASSKEY_SK_SIGN_APPLICATION=EVIL_APPLICATION),
                        dict(good_sign, signed_application=EVIL_APPLICATION), bad_signature(key))

    # verify-required: the provider reports UP|UV (0x05) by default
    ctx.sshd.authorize([key.authorized_line("verify-required")])
    check_login_ok(ctx, f"{name} verify-required, flags 0x05", key, keyfile, env)
    check_login_refused(ctx, f"{name} verify-required, flags 0x01 (UP only)", key, keyfile,
                        dict(env, PASSKEY_SK_FLAGS="0x01"), dict(good_sign, flags="0x01"),
                        flags_rejected(key, "user verification requirement not met"))

    # user presence is required unless no-touch-required
    ctx.sshd.authorize([key.authorized_line()])
    check_login_refused(ctx, f"{name} flags 0x04 (no UP)", key, keyfile,
                        dict(env, PASSKEY_SK_FLAGS="0x04"), dict(good_sign, flags="0x04"),
                        flags_rejected(key, r"user presence \(authenticator touch\) "
                                            r"requirement not met"))
    ctx.sshd.authorize([key.authorized_line("no-touch-required")])
    check_login_ok(ctx, f"{name} no-touch-required, flags 0x04", key, keyfile,
                   dict(env, PASSKEY_SK_FLAGS="0x04"), flags=0x04)


def unsupported_calls(ctx):
    """enrolment and resident key download are not implemented: ssh-keygen
    gets SSH_SK_ERR_UNSUPPORTED through ssh-sk-helper and fails"""
    for name, args, call in (
            ("ssh-keygen -t ecdsa-sk (sk_enroll)",
             ["-t", "ecdsa-sk", "-N", "", "-f", os.path.join(ctx.tmp, "enrolled")],
             "sk_enroll alg=ecdsa application=ssh: "),
            ("ssh-keygen -K (sk_load_resident_keys)", ["-K"], "sk_load_resident_keys ")):
        with group(name):
            sk_log = os.path.join(ctx.tmp, "provider-unsupported.log")
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C",
                   "PASSKEY_SK_LOG": sk_log}
            try:
                p = subprocess.run(["ssh-keygen", "-w", ctx.provider] + args, env=env,
                                   cwd=ctx.tmp, stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=SSH_TIMEOUT)
                rc, err = p.returncode, p.stderr
            except subprocess.TimeoutExpired:
                rc, err = -999, "timeout"
            calls = []
            if os.path.exists(sk_log):
                with open(sk_log) as f:
                    calls = [line.strip() for line in f]
                os.unlink(sk_log)
            ok(rc != 0 and len(calls) == 1 and calls[0].startswith(call)
               and calls[0].endswith(" result=unsupported"),
               f"{name}: fails, the provider said unsupported",
               f"rc {rc}\nprovider log: {calls}\n{err}")


def main():
    if os.geteuid() != 0:
        return skip_all("needs root")
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    provider = os.path.abspath(sys.argv[1])
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return skip_all("python3-cryptography missing")
    sbin_path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    sshd_bin = shutil.which("sshd", path=sbin_path)
    if not sshd_bin or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        return skip_all("needs ssh, ssh-keygen and sshd")
    sshd_bin = os.path.abspath(sshd_bin)  # sshd re-executes itself: absolute path

    tmp = tempfile.mkdtemp(prefix="pkt-sk-")
    os.chmod(tmp, 0o755)  # sshd reads authorized_keys as the user
    sshd = None
    try:
        # every case needs the account and sshd: if this fails, it is the
        # one failure reported and nothing else runs
        with group(f"setup: account {USER} and a private sshd on 127.0.0.1") as setup:
            ensure_user()
            sshd = Sshd(sshd_bin, tmp)
        if not setup.raised:
            note(f"sshd listening on 127.0.0.1:{sshd.port}")
            ctx = Ctx(tmp, provider, sshd)
            for alg in ("ecdsa", "ed25519"):
                with group(f"{alg}: the cases"):  # anything outside a case's own group
                    one_algorithm(ctx, alg)
            unsupported_calls(ctx)
    finally:
        if sshd is not None:
            sshd.stop()
        for u in MADE:
            run(["userdel", u])
        if os.environ.get("PASSKEY_SK_KEEP_TMP"):
            note(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
