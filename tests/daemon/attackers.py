"""Attackers for tests/daemon/test_availability.py, each run in a process
of its own (so that the probe in the test's process measures the daemon,
not Python's scheduler), for a fixed time.

Each returns a dict of counts that the test reports: what the attacker
managed to do, so a check can say "held 16 of the 400 connections it
tried".  They never raise: an error ends the attack and is counted."""
import errno
import json
import os
import pwd
import selectors
import socket
import time


def become(uid):
    """Drops to uid (from root) in this process."""
    os.setgroups([])
    try:
        gid = pwd.getpwuid(uid).pw_gid
    except KeyError:
        gid = uid
    os.setgid(gid)
    os.setuid(uid)


def hold_control(sock_path, uid, want, seconds):
    """uid keeps `want` connections to the control socket, sending one byte
    of a never-finished line on each every second, reconnecting whenever
    the daemon closes one (the slot attack of finding 1)."""
    become(uid)
    conns, stats = [], {"connects": 0, "closed_by_daemon": 0, "refused": 0, "max_held": 0}
    end = time.monotonic() + seconds
    last_drip = 0.0
    while time.monotonic() < end:
        while len(conns) < want and time.monotonic() < end:
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            try:
                s.connect(sock_path)
            except OSError:
                stats["refused"] += 1
                s.close()
                time.sleep(0.01)
                break
            stats["connects"] += 1
            conns.append(s)
        alive = []
        for s in conns:
            try:
                data = s.recv(4096)
                if data == b"":
                    stats["closed_by_daemon"] += 1
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                stats["closed_by_daemon"] += 1
                s.close()
                continue
            alive.append(s)
        conns = alive
        stats["max_held"] = max(stats["max_held"], len(conns))
        if time.monotonic() - last_drip >= 1.0:
            last_drip = time.monotonic()
            for s in conns:
                try:
                    s.send(b"{")
                except OSError:
                    pass
        time.sleep(0.05)
    for s in conns:
        s.close()
    return stats


PIPELINE_OPS = [
    {"op": "register_begin"}, {"op": "ping"}, {"op": "list"}, {"op": "events", "limit": 10000},
    {"op": "status", "token": "A" * 24}, {"op": "cancel", "token": "B" * 24},
    {"op": "login_begin", "user": "root", "rhost": "", "service": "sshd"},
    {"op": "rename", "id": "abcdef", "name": "x"}, {"op": "remove", "id": "abcdef"},
    {"op": "enroll", "user": "root"}, {"op": "export", "id": "abcdef"},
]


def pipeline_control(sock_path, uid, conns_wanted, seconds):
    """uid pipelines every op as fast as it can on several connections,
    reading answers only now and then (finding 2)."""
    become(uid)
    batch = b"".join(json.dumps(o).encode() + b"\n" for o in PIPELINE_OPS) * 20
    stats = {"sent_requests": 0, "answers": 0, "rate_limited": 0, "closed_by_daemon": 0}
    conns = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        while len(conns) < conns_wanted:
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            try:
                s.connect(sock_path)
            except OSError:
                s.close()
                break
            conns.append(s)
        alive = []
        for s in conns:
            ok = True
            try:
                n = s.send(batch)
                stats["sent_requests"] += batch[:n].count(b"\n")
            except BlockingIOError:
                pass
            except OSError:
                ok = False
            try:
                data = s.recv(65536)
                if data == b"":
                    ok = False
                stats["answers"] += data.count(b"\n")
                stats["rate_limited"] += data.count(b'"rate_limited"')
            except BlockingIOError:
                pass
            except OSError:
                ok = False
            if ok:
                alive.append(s)
            else:
                stats["closed_by_daemon"] += 1
                s.close()
        conns = alive
        time.sleep(0.001)
    for s in conns:
        s.close()
    return stats


def slowloris(port, addresses, per_address, seconds, chunked_share=4):
    """Keeps per_address HTTP connections from each source address, sending
    one byte of a request every 2 s (some trickle a chunked body instead),
    reconnecting whenever one is closed (finding 4)."""
    sel = selectors.DefaultSelector()
    stats = {"connects": 0, "closed_by_daemon": 0, "max_held": 0, "completed": 0}
    conns = {}
    end = time.monotonic() + seconds
    head = (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 4000)
    chunked = (b"POST /api/AAAAAAAAAAAAAAAAAAAAAAAA/finish HTTP/1.1\r\nHost: localhost\r\n"
               b"Origin: http://localhost\r\nTransfer-Encoding: chunked\r\n\r\n")

    def open_one(addr, i):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((addr, 0))
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return
        stats["connects"] += 1
        kind = "chunked" if i % chunked_share == 0 else "head"
        conns[s] = {"addr": addr, "i": i, "kind": kind, "sent": 0, "next": time.monotonic()}
        sel.register(s, selectors.EVENT_READ)

    def close(s):
        sel.unregister(s)
        del conns[s]
        s.close()

    while time.monotonic() < end:
        have = {}
        for st in conns.values():
            have.setdefault(st["addr"], set()).add(st["i"])
        for addr in addresses:
            for i in range(per_address):
                if i not in have.get(addr, ()):
                    open_one(addr, i)
        stats["max_held"] = max(stats["max_held"], len(conns))
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data == b"":
                stats["closed_by_daemon"] += 1
                close(s)
            elif data.startswith(b"HTTP/1.1 200"):
                stats["completed"] += 1
        now = time.monotonic()
        for s, st in list(conns.items()):
            if now < st["next"]:
                continue
            st["next"] = now + 2.0
            try:
                if st["kind"] == "head":
                    if st["sent"] < len(head):
                        s.send(head[st["sent"]:st["sent"] + 1])
                        st["sent"] += 1
                else:
                    if st["sent"] == 0:
                        s.send(chunked)
                        st["sent"] = 1
                    else:
                        s.send(b"1\r\nx\r\n")
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOTCONN):
                    stats["closed_by_daemon"] += 1
                    close(s)
    for s in list(conns):
        close(s)
    return stats


def _request_on_new_connection(sock_path, line, stats):
    """One request on a connection of its own; stats counts the answers by
    their error code ("ok" for none), and the failed connections."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect(sock_path)
        s.sendall(line)
        data = s.recv(65536)
        code = json.loads(data).get("error", "ok") if data.endswith(b"\n") else "cut"
        stats[code] = stats.get(code, 0) + 1
    except (OSError, ValueError):
        stats["failed"] = stats.get("failed", 0) + 1
        time.sleep(0.01)
    finally:
        s.close()


def root_naming_requests(sock_path, first, seconds):
    """Root's requests that name an account the daemon must look up, one
    connection each, as fast as the daemon answers: a listing of dir-N, an
    audit log of a name the directory searches for and does not find, and
    a login_begin without "resolved" (an older module, a tool)."""
    stats = {}
    end = time.monotonic() + seconds
    n = first
    while time.monotonic() < end:
        reqs = ({"op": "list", "user": f"dir-{n % 1000}"},
                {"op": "events", "user": f"dir-{1000 + n}"},
                {"op": "login_begin", "user": f"dir-{n % 1000}", "rhost": "198.51.100.9",
                 "service": "sshd", "enroll": "none"})
        _request_on_new_connection(sock_path, json.dumps(reqs[n % 3]).encode() + b"\n", stats)
        n += 1
    return stats


def fresh_connections(sock_path, uid, seconds):
    """uid lists its passkeys on a new control connection each time, as
    fast as the daemon answers: each is a caller the daemon must name from
    its uid (account_names.h)."""
    become(uid)
    stats = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _request_on_new_connection(sock_path, b'{"op":"list"}\n', stats)
    return stats


def many_uids(sock_path, first_uid, count, seconds, batch=100):
    """Root's process connecting as `count` uids (seteuid: the kernel gives
    SO_PEERCRED the effective uid), `batch` of them at once, as a user with
    a subuid range can from a user namespace: each a uid the daemon has not
    named yet.  Each batch's answers are waited for up to 6 s (the daemon
    bounds a wait for a name at 3 s); one that does not come is "cut".
    slowest_s: the longest a request of a batch waited for its answer."""
    stats = {}
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        conns = []
        for _ in range(batch):
            s = socket.socket(socket.AF_UNIX)
            os.seteuid(first_uid + i % count)
            i += 1
            try:
                s.connect(sock_path)
                s.sendall(b'{"op":"list"}\n')
                conns.append(s)
            except OSError:
                stats["failed"] = stats.get("failed", 0) + 1
                s.close()
            finally:
                os.seteuid(0)
        sel = selectors.DefaultSelector()
        for s in conns:
            sel.register(s, selectors.EVENT_READ)
        sent = time.monotonic()
        deadline = sent + 6
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(0.2):
                stats["slowest_s"] = max(stats.get("slowest_s", 0),
                                         round(time.monotonic() - sent, 3))
                data = key.fileobj.recv(65536)
                try:
                    code = json.loads(data).get("error", "ok") if data else "closed"
                except ValueError:
                    code = "bad_answer"
                stats[code] = stats.get(code, 0) + 1
                sel.unregister(key.fileobj)
        if sel.get_map():
            stats["cut"] = stats.get("cut", 0) + len(sel.get_map())
        sel.close()
        for s in conns:
            s.close()
    return stats


def directory_logins(sock_path, first, seconds):
    """What sshd's PAM module sends (as root) for unauthenticated clients
    naming directory accounts dir-N, one connection each, as fast as the
    daemon answers: with the module's "resolved", the daemon must not ask
    the directory again."""
    stats = {}
    end = time.monotonic() + seconds
    n = first
    while time.monotonic() < end:
        req = {"op": "login_begin", "user": f"dir-{n % 1000}", "resolved": True,
               "rhost": f"198.51.100.{n % 250 + 1}", "service": "sshd", "enroll": "none"}
        n += 1
        _request_on_new_connection(sock_path, json.dumps(req).encode() + b"\n", stats)
    return stats
