"""The real passkeyd, started for a test: a config in a fresh folder, its
unix socket and HTTP port on loopback, and helpers to talk to both.

Accounts: passkeyd resolves every user it is asked about through NSS
(getpwnam, getpwuid), as it must.  So that the daemon tests need not
create dozens of system accounts, the daemon runs under nss_wrapper (the
cwrap sibling of pam_wrapper, Debian's libnss-wrapper) with a passwd file
that is this machine's plus the TEST_USERS below.  Nothing in /etc is
touched.  Tests that run real programs as real accounts (passkeyctl,
sshd) pass nss=False and create those accounts themselves.

A login ceremony belongs to the control connection that began it and is
cancelled when that connection closes (PROTOCOL.md), as when sshd kills
the PAM module.  So login() keeps its connection open until the test
drops it (Daemon.abandon) or the daemon stops."""
import http.client
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

from tap import free_port

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
TEST_USERS = (["alice", "bob", "carol", "dave", "erin", "eve", "eve2", "rita", "zed",
               "es", "ed", "n", "s", "u", "t", "x", "g", "probe", "victim", "other"] +
              [f"u{i}" for i in range(1, 21)])
TEST_UID_BASE = 62000


def write_nss_files(folder, extra=()):
    """A passwd and group file for nss_wrapper: this machine's, plus test users."""
    passwd = os.path.join(folder, "nss-passwd")
    group = os.path.join(folder, "nss-group")
    with open("/etc/passwd") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    have = {l.split(":", 1)[0] for l in lines}
    for i, name in enumerate(list(TEST_USERS) + list(extra)):
        if name not in have:
            lines.append(f"{name}:x:{TEST_UID_BASE + i}:{TEST_UID_BASE}:test:/nonexistent:/usr/sbin/nologin")
    with open(passwd, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open("/etc/group") as f:
        glines = f.read()
    with open(group, "w") as f:
        f.write(glines + f"pkt-test:x:{TEST_UID_BASE}:\n")
    os.chmod(passwd, 0o644)
    os.chmod(group, 0o644)
    return passwd, group


def nss_env(folder, extra=()):
    """The environment for a process that should see the test users."""
    passwd, group = write_nss_files(folder, extra)
    env = dict(os.environ)
    # DEEPBIND: nss_wrapper opens libc with RTLD_DEEPBIND, which ASan refuses
    env.update(LD_PRELOAD=NSS_WRAPPER, NSS_WRAPPER_PASSWD=passwd, NSS_WRAPPER_GROUP=group,
               NSS_WRAPPER_DISABLE_DEEPBIND="1")
    return env


class Daemon:
    def __init__(self, passkeyd, tmp, name, extra="", user=None, store=None, nss=True,
                 extra_users=(), wait=True, origin=None, env=None):
        """origin: the pages' origin when it is not this daemon's own (a
        fleet's web instances share one); it is also the public_url.
        env: more environment for the daemon (an NSS module for nss_wrapper)."""
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.sock = os.path.join(self.dir, "control.sock")
        self.store = store or os.path.join(self.dir, "store.db")
        self.origin = origin or f"http://localhost:{self.port}"
        self.conf = os.path.join(self.dir, "passkeyd.conf")
        self.held = {}
        with open(self.conf, "w") as f:
            f.write(f"rp_id = localhost\norigin = {self.origin}\n"
                    f"listen = 127.0.0.1:{self.port}\npublic_url = {self.origin}\n"
                    f"store = {self.store}\nsocket = {self.sock}\n")
            if user:
                f.write(f"user = {user}\n")
            f.write(extra)
        if user:
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        more = env or {}
        self.env = nss_env(self.dir, extra_users) if nss else dict(os.environ)
        self.env.update(more)
        self.passkeyd = passkeyd
        self.log = open(os.path.join(self.dir, "log.txt"), "w+")
        self.proc = subprocess.Popen([passkeyd, "--config", self.conf, "--foreground"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()

    def restart(self):
        """SIGTERM with the held connections still open, as a restart
        finds the PAM modules connected; then the same daemon again (its
        config, store and log).  The exit status of the stop, or None when
        it did not stop within 10 s (then it is killed)."""
        rc = None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for s in self.held.values():
            s.close()
        self.held.clear()
        self.proc = subprocess.Popen([self.passkeyd, "--config", self.conf, "--foreground"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        self.wait_ready()
        return rc

    def wait_ready(self, seconds=5):
        for _ in range(int(seconds * 20)):
            if self.proc.poll() is not None:
                return False
            try:
                if self.get("/healthz")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def uid_of(self, name):
        """A test user's uid as the daemon's NSS sees it."""
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            return TEST_UID_BASE + list(TEST_USERS).index(name)

    def stop(self):
        for s in self.held.values():
            s.close()
        self.held.clear()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=5):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        finally:
            c.close()

    def get(self, path, timeout=5):
        return self.request("GET", path, timeout=timeout)

    def api(self, token, op, body=b"{}", origin=True, timeout=5):
        """POST /api/TOKEN/OP: (status, JSON answer); a non-JSON answer is
        {"state": "not-json", "raw": ...} so that a check fails, not the suite."""
        headers = {"Content-Type": "application/json"}
        if origin is True:
            headers["Origin"] = self.origin
        elif origin:
            headers["Origin"] = origin
        st, _, data = self.request("POST", f"/api/{token}/{op}", body, headers, timeout)
        try:
            return st, json.loads(data)
        except ValueError:
            return st, {"state": "not-json", "raw": data[:200]}

    # --- the control socket ---------------------------------------------

    def connect(self, uid=None, timeout=5):
        """A control connection (root, or uid in a forked child: see ctl_raw)."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def ctl_raw(self, line, uid=None, half_close=False):
        """Sends one line as uid (root when None) and returns the answer.
        half_close: shuts the connection's writing side after the line, as
        `nc -N` and socat do."""
        if uid is None:
            return self._ctl_raw(line, half_close)
        return as_uid(uid, lambda: self._ctl_raw(line, half_close))

    def _ctl_raw(self, line, half_close=False):
        s = self.connect()
        try:
            s.sendall(line if isinstance(line, bytes) else line.encode())
            if half_close:
                s.shutdown(socket.SHUT_WR)
            return read_line(s)
        except OSError:
            return ""
        finally:
            s.close()

    def ctl(self, obj, uid=None, half_close=False):
        """One request and its answer.  Root's status or cancel of a held
        ceremony goes on the connection that began it, as the module's do:
        passkeyd answers them there only (bound_elsewhere)."""
        held = self.held.get(obj.get("token")) if obj.get("op") in ("status", "cancel") else None
        if uid is None and held is not None and not half_close:
            return self.ask_on(held, obj)
        out = self.ctl_raw(json.dumps(obj) + "\n", uid, half_close)
        try:
            return json.loads(out) if out else {}
        except ValueError:
            return {"ok": False, "error": "not-json", "raw": out[:200]}

    @staticmethod
    def ask_on(s, obj):
        """One request on an open connection; its answer ({} when it closed)."""
        try:
            s.sendall((json.dumps(obj) + "\n").encode())
            out = read_line(s)
            return json.loads(out) if out else {}
        except (OSError, ValueError):
            return {}

    def hold(self, obj):
        """Sends obj as root on a new connection kept open; returns the answer.
        A ceremony begun this way lives until abandon(token) or stop()."""
        s = self.connect()
        try:
            s.sendall((json.dumps(obj) + "\n").encode())
            out = read_line(s)
            j = json.loads(out) if out else {}
        except (OSError, ValueError):
            s.close()
            return {}
        if j.get("ok") and j.get("token"):
            self.held[j["token"]] = s
        else:
            s.close()
        return j

    def abandon(self, token):
        """Closes the connection that began the ceremony, as a killed module would."""
        s = self.held.pop(token, None)
        if s is not None:
            s.close()


# Held from a pipe's creation until the parent closes its write end: a
# child forked meanwhile by another thread would inherit that end, and the
# read below would wait for that child to exit too (a test that runs
# as_uid in two threads at once stalled until the other child's answer).
_FORK_LOCK = threading.Lock()


def as_uid(uid, fn):
    """fn() run in a child process as uid (a test user's group); the text it returns."""
    with _FORK_LOCK:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setgroups([])
                os.setgid(TEST_UID_BASE if uid >= TEST_UID_BASE else
                          pwd.getpwuid(uid).pw_gid)
                os.setuid(uid)
                os.write(w, fn().encode())
            finally:
                os._exit(0)
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def read_line(s):
    """One answer line; byte by byte, so a second answer stays for the next call."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def login(d, user="alice", rhost="192.0.2.7", enroll="none", uid=None):
    """login_begin as the PAM module sends it.  As root the connection is
    kept (the ceremony would be cancelled when it closes); as another uid
    it is one request, since the answer is a refusal."""
    req = {"op": "login_begin", "user": user, "rhost": rhost, "service": "sshd",
           "enroll": enroll}
    return d.ctl(req, uid) if uid is not None else d.hold(req)


# An address for host_addresses() to give the host when it has none but
# loopback: TEST-NET-2, on lo as a /32, for as long as the test needs it.
SPARE_HOST_ADDRESS = "198.51.100.77"


def _own_addresses():
    """This machine's non-loopback addresses, as a client address (PAM_RHOST)
    would name them: IPv6 link-local ones with their zone ("fe80::1%eth0")."""
    r = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, check=True)
    found = []
    for link in json.loads(r.stdout or "[]"):
        for a in link.get("addr_info", []):
            local, scope = a.get("local"), a.get("scope")
            if not local or scope == "host" or local.startswith("127.") or local == "::1":
                continue
            found.append(f"{local}%{link['ifname']}" if scope == "link" and ":" in local else local)
    return found


class host_addresses:
    """with host_addresses() as mine: this machine's own non-loopback
    addresses (passkeyd/hostaddrs.h reads the same with getifaddrs).  On a
    machine with none, SPARE_HOST_ADDRESS is put on lo for the block and
    taken off again after it; the daemon reads its interfaces at most once
    a second, so the block starts a second after."""

    def __enter__(self):
        self.added = False
        mine = _own_addresses()
        if not mine:
            subprocess.run(["ip", "addr", "add", f"{SPARE_HOST_ADDRESS}/32", "dev", "lo"],
                           check=True)
            self.added = True
            time.sleep(1.1)
            mine = _own_addresses()
        return mine

    def __exit__(self, *exc):
        if self.added:
            subprocess.run(["ip", "addr", "del", f"{SPARE_HOST_ADDRESS}/32", "dev", "lo"],
                           capture_output=True)
        return False
