#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses, from the test vectors.

    /usr/bin/python3 fuzz/seeds.py OUTDIR [--data DIR]
    /usr/bin/python3 fuzz/seeds.py --header fuzz/fuzz_vectors.h [--data DIR]

The first form writes OUTDIR/<harness>/<name> for every harness in fuzz/:
the RP core's from the test vectors, fuzz_control's from the requests of
control/PROTOCOL.md, fuzz_config's from passkeyd/passkeyd.conf.sample and
every key's values, fuzz_pam_options's from pam/options.h and the pam.d
samples in dist/, fuzz_aaguid's from data/aaguid-names.tsv and bad lines.
The second regenerates the committed C table of ceremonies the harnesses
know (see fuzz_vectors.h).  DIR defaults to tests/data next to this
script's parent; vectors are read from its w3c/, browser/ and attestation/
folders.  Standard library only.

Every seed is written as the vector has it.  The harnesses that verify
whole ceremonies look the input's credential ID up in fuzz_vectors.h and
verify against that vector's relying party and challenge, so those seeds
pass as they are.  fuzz_clientdata and fuzz_authdata check against one
fixed relying party (rp_id example.org, origin https://example.org, the
W3C vector 01 challenge: see fuzz_common.h), so their seeds are also
written normalised: clientDataJSON with that challenge and origin under
both ceremony types, and authenticator data with example.org's rpIdHash.
"""

import base64
import hashlib
import json
import os
import re
import struct
import sys

W3C01_AUTH_CHALLENGE = "OcDnUhQXulTUPo3JUXT0I97pvzzYBP9tZchXyav01Ag"
FUZZ_RP_ID = "example.org"
FUZZ_ORIGIN = "https://example.org"
FUZZ_RP_ID_HASH = hashlib.sha256(FUZZ_RP_ID.encode()).digest()

USAGE = "usage: seeds.py OUTDIR [--data DIR] | --header FILE [--data DIR]"

HARNESSES = (
    "fuzz_clientdata",
    "fuzz_authdata",
    "fuzz_attobj",
    "fuzz_cose",
    "fuzz_verify_registration",
    "fuzz_verify_assertion",
    "fuzz_control",
    "fuzz_config",
    "fuzz_pam_options",
    "fuzz_aaguid",
    "fuzz_client_key",
)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cbor_item(buf, off):
    """Returns (value, next offset) for the definite-length item at off.

    Enough of CBOR for attestation objects: maps come back as lists of
    (key, value) pairs, tags as their content, simple values as ints.
    """
    ib = buf[off]
    major, ai = ib >> 5, ib & 0x1F
    off += 1
    if ai < 24:
        arg = ai
    elif ai in (24, 25, 26, 27):
        n = 1 << (ai - 24)
        arg = int.from_bytes(buf[off:off + n], "big")
        off += n
    else:
        raise ValueError("indefinite or reserved CBOR length")
    if major in (0, 1, 7):
        return arg, off
    if major in (2, 3):
        return bytes(buf[off:off + arg]), off + arg
    if major == 4:
        items = []
        for _ in range(arg):
            v, off = cbor_item(buf, off)
            items.append(v)
        return items, off
    if major == 5:
        pairs = []
        for _ in range(arg):
            k, off = cbor_item(buf, off)
            v, off = cbor_item(buf, off)
            pairs.append((k, v))
        return pairs, off
    return cbor_item(buf, off)  # tag: its content


def att_auth_data(att_obj):
    """authData from an attestationObject, or None."""
    try:
        root, _ = cbor_item(att_obj, 0)
    except (ValueError, IndexError):
        return None
    for k, v in root if isinstance(root, list) else ():
        if k == b"authData":
            return v
    return None


def patch_rp_id_hash(blob, rp_id):
    """Replaces sha256(rp_id) by example.org's wherever it occurs."""
    old = hashlib.sha256(rp_id.encode()).digest()
    return blob.replace(old, FUZZ_RP_ID_HASH)


def cose_from_auth_data(ad):
    """The credentialPublicKey bytes of attested authenticator data."""
    if len(ad) < 55 or not ad[32] & 0x40:
        return None
    (idlen,) = struct.unpack(">H", ad[53:55])
    start = 55 + idlen
    try:
        _, end = cbor_item(ad, start)
    except (ValueError, IndexError):
        return None
    return ad[start:end]


def normalised_cdj(cdj_bytes, ctype, challenge):
    """The clientDataJSON with our challenge and origin, members kept."""
    try:
        cd = json.loads(cdj_bytes)
    except ValueError:
        return None
    if not isinstance(cd, dict):
        return None
    cd["type"] = ctype
    cd["challenge"] = challenge
    cd["origin"] = FUZZ_ORIGIN
    cd.pop("topOrigin", None)
    if cd.get("crossOrigin") is True:
        cd["crossOrigin"] = False
    return json.dumps(cd, separators=(",", ":")).encode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Corpus:
    def __init__(self, outdir):
        self.outdir = outdir
        self.seen = {h: set() for h in HARNESSES}
        self.count = {h: 0 for h in HARNESSES}
        for h in HARNESSES:
            os.makedirs(os.path.join(outdir, h), exist_ok=True)

    def add(self, harness, name, data):
        if data is None or len(data) == 0:
            return
        digest = hashlib.sha1(data).hexdigest()
        if digest in self.seen[harness]:
            return
        self.seen[harness].add(digest)
        path = os.path.join(self.outdir, harness, name)
        with open(path, "wb") as f:
            f.write(data)
        self.count[harness] += 1


def seed_vector(corpus, path):
    with open(path, encoding="utf-8") as f:
        vec = json.load(f)
    stem = os.path.basename(os.path.dirname(path)) + "_" + \
        os.path.splitext(os.path.basename(path))[0]
    rp_id = vec.get("rp_id", FUZZ_RP_ID)
    cred = vec.get("response")
    if not isinstance(cred, dict):
        return
    resp = cred.get("response", {})
    cdj = b64d(resp["clientDataJSON"]) if "clientDataJSON" in resp else None
    ao = b64d(resp["attestationObject"]) if "attestationObject" in resp else None
    ad = b64d(resp["authenticatorData"]) if "authenticatorData" in resp else None
    if ao is not None and ad is None:
        ad = att_auth_data(ao)

    # fuzz_clientdata: as is, and with the harness's challenge and origin
    # under both ceremony types.
    if cdj is not None:
        corpus.add("fuzz_clientdata", stem, cdj)
        for ctype in ("webauthn.create", "webauthn.get"):
            corpus.add("fuzz_clientdata", stem + "." + ctype.split(".")[1],
                       normalised_cdj(cdj, ctype, W3C01_AUTH_CHALLENGE))

    # fuzz_authdata
    if ad is not None:
        corpus.add("fuzz_authdata", stem, ad)
        corpus.add("fuzz_authdata", stem + ".norm", patch_rp_id_hash(ad, rp_id))

    # fuzz_attobj
    if ao is not None:
        corpus.add("fuzz_attobj", stem, ao)

    # fuzz_cose
    for i, key in enumerate((
            vec.get("credential", {}).get("public_key_cose_b64url"),
            vec.get("authenticator_summary", {}).get(
                "credential_public_key_cose_b64url"))):
        if key:
            corpus.add("fuzz_cose", "%s.%d" % (stem, i), b64d(key))
    if ad is not None:
        corpus.add("fuzz_cose", stem + ".authdata", cose_from_auth_data(ad))

    # fuzz_verify_registration / fuzz_verify_assertion: the whole
    # PublicKeyCredential JSON.  Both get every response: the JSON layer is
    # shared, and a response of the other kind exercises the checks for
    # members that are missing.
    corpus.add("fuzz_verify_registration", stem, compact(cred))
    corpus.add("fuzz_verify_assertion", stem, compact(cred))


# --- fuzz_control -----------------------------------------------------------
#
# Input: one flags byte, then request lines (see fuzz_control.c).  The
# fixture passkeys of the harness, by credential ID; keep in step with
# fixture_creds[] there.

CTL_ROOT, CTL_NOBODY, CTL_FLUSH, CTL_TIGHT, CTL_EMPTY, CTL_LOCKED = \
    0x00, 0x01, 0x02, 0x04, 0x08, 0x10
CTL_FIXTURE_IDS = {
    "root": [b"fuzz-root-1"],
    "nobody": [b"fuzz-nobody-2999", b"fuzz-nobody-5897"],
    "daemon": [b"fuzz-daemon-1"],
    "alice": [b"fuzz-alice-1"],
}


def short_id(cred_id, digits=12):
    return hashlib.sha256(cred_id).hexdigest()[:digits]


def b64e(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def req(**members):
    return json.dumps(members, separators=(",", ":"))


def control_seeds():
    """(name, flags, [lines]) for fuzz_control."""
    root_sid = short_id(CTL_FIXTURE_IDS["root"][0])
    nb1, nb2 = CTL_FIXTURE_IDS["nobody"]
    daemon_sid = short_id(CTL_FIXTURE_IDS["daemon"][0])
    alice_b64 = b64e(CTL_FIXTURE_IDS["alice"][0])
    login = dict(op="login_begin", user="root", rhost="192.0.2.7",
                 service="sshd", enroll="none")
    s = []

    # Every op of PROTOCOL.md as written there, one per input, as root.
    protocol = [
        ("login_begin", req(op="login_begin", user="alice", rhost="192.0.2.7",
                            service="sshd", enroll="none")),
        ("status", req(op="status", token="$T")),
        ("cancel", req(op="cancel", token="$T")),
        ("enroll", req(op="enroll", user="bob", expires_in=86400)),
        ("register_begin", req(op="register_begin")),
        ("list", req(op="list")),
        ("list_user", req(op="list", user="alice")),
        ("rename", req(op="rename", id="3f2a9c", name="work laptop")),
        ("remove", req(op="remove", id="3f2a9c", force=False)),
        ("export", req(op="export", id="3f2a9c")),
        ("events", req(op="events", user="alice", limit=50)),
        ("revoke_enrollment", req(op="revoke_enrollment", user="bob")),
        ("ping", req(op="ping")),
    ]
    for name, line in protocol:
        s.append(("protocol_" + name, CTL_ROOT, [line]))
        s.append(("protocol_" + name + "_nobody", CTL_NOBODY, [line]))

    # A login ceremony's life, as the PAM module lives it.
    s.append(("login_status_cancel", CTL_ROOT, [
        req(**login), req(op="status", token="$T"), req(op="cancel", token="$T"),
        req(op="status", token="$T"), req(op="cancel", token="$T")]))
    s.append(("login_expire", CTL_FLUSH, [
        req(**login), req(op="status", token="$T"), "+91",
        req(op="status", token="$T"), req(op="cancel", token="$T"), "+601",
        req(op="status", token="$T")]))
    s.append(("login_unbound", CTL_ROOT, [
        req(**dict(login, bind=False)), req(op="status", token="$T")]))
    s.append(("login_bind_not_bool", CTL_ROOT, [req(**dict(login, bind="yes"))]))
    s.append(("login_bound_limit", CTL_ROOT, [req(**login)] * 6))
    s.append(("login_bound_limit_cancel", CTL_FLUSH,
              [req(**login)] * 4 + [req(op="cancel", token="$T"), req(**login)]))
    for mode, user in (("pending", "bin"), ("after-auth", "sys"), ("none", "sys"),
                       ("pending", "sys"), ("bogus", "root")):
        s.append(("login_enroll_%s_%s" % (mode, user), CTL_FLUSH, [
            req(**dict(login, user=user, enroll=mode)),
            req(op="status", token="$T")]))
    s.append(("login_no_enroll_field", CTL_ROOT, [
        req(op="login_begin", user="daemon", rhost="", service="sudo")]))
    s.append(("login_empty_store", CTL_EMPTY, [
        req(**login), req(**dict(login, enroll="after-auth")),
        req(op="status", token="$T")]))
    for field, value in (("user", "no-such-user"), ("user", ""), ("user", "a/b"),
                         ("user", "x" * 65), ("user", "ROOT"), ("user", 7),
                         ("rhost", "a b"), ("rhost", "x" * 256), ("rhost", None),
                         ("rhost", "2001:db8::1"), ("service", ""),
                         ("service", "a/b"), ("service", "x" * 65),
                         ("service", "s\u202eh")):
        s.append(("login_%s_%s" % (field, short_id(repr(value).encode(), 6)),
                  CTL_ROOT, [req(**dict(login, **{field: value}))]))
    s.append(("login_tight_limits", CTL_TIGHT | CTL_FLUSH, [
        req(**dict(login, bind=False)), req(**dict(login, bind=False)),
        req(**dict(login, user="daemon", bind=False)),
        req(**dict(login, user="daemon", rhost="192.0.2.8", bind=False)),
        req(**dict(login, user="nobody", rhost="", bind=False)),
        "+6", req(**dict(login, bind=False)), req(op="status", token="$T")]))
    s.append(("login_as_nobody", CTL_NOBODY, [req(**login)]))

    # Registration of one's own passkey (passkeyctl add).
    s.append(("register_own", CTL_NOBODY | CTL_FLUSH, [
        req(op="register_begin"), req(op="status", token="$T"),
        req(op="cancel", token="$T"), req(op="status", token="$T")]))
    s.append(("register_root_refused", CTL_ROOT, [req(op="register_begin")]))
    s.append(("register_then_root_status", CTL_NOBODY, [
        req(op="register_begin"), "!" + req(op="status", token="$T"),
        "!" + req(op="cancel", token="$T")]))
    s.append(("login_then_nobody_status", CTL_ROOT, [
        req(**login), "!" + req(op="status", token="$T"),
        "!" + req(op="cancel", token="$T")]))
    s.append(("register_rate_limit", CTL_NOBODY, [req(op="register_begin")] * 24))
    s.append(("ping_rate_limit", CTL_NOBODY, [req(op="ping")] * 64))
    s.append(("register_tight", CTL_NOBODY | CTL_TIGHT, [
        req(op="register_begin"), req(op="register_begin"),
        req(op="register_begin"), "+5", req(op="status", token="$T")]))

    # Enrollment.
    for name, extra in (("default", {}), ("min", dict(expires_in=60)),
                        ("max", dict(expires_in=30 * 86400)),
                        ("short", dict(expires_in=59)),
                        ("long", dict(expires_in=30 * 86400 + 1)),
                        ("string", dict(expires_in="60")),
                        ("float", dict(expires_in=60.0))):
        s.append(("enroll_" + name, CTL_FLUSH, [
            req(op="enroll", user="sys", **extra),
            req(**dict(login, user="sys", enroll="pending")),
            req(op="status", token="$T")]))
    s.append(("enroll_unknown_user", CTL_ROOT, [req(op="enroll", user="nosuchuser")]))
    s.append(("enroll_no_user", CTL_ROOT, [req(op="enroll")]))
    s.append(("enroll_tight", CTL_TIGHT, [req(op="enroll", user="sys")] * 4))
    s.append(("enroll_revoke", CTL_FLUSH, [
        req(op="enroll", user="sys"), req(op="revoke_enrollment", user="sys"),
        req(op="revoke_enrollment", user="sys"),
        req(op="revoke_enrollment", user="bin"),
        req(**dict(login, user="bin", enroll="pending"))]))
    s.append(("revoke_bad", CTL_ROOT, [
        req(op="revoke_enrollment"), req(op="revoke_enrollment", user=""),
        req(op="revoke_enrollment", user="a\u0007b")]))

    # Listing and paging.
    for flags in (CTL_ROOT, CTL_NOBODY):
        s.append(("list_%d" % flags, flags, [
            req(op="list"), req(op="list", user="nobody"), req(op="list", user="root"),
            req(op="list", user="alice"), req(op="list", user="nosuchuser"),
            req(op="list", user=""), req(op="list", user=5),
            req(op="list", cursor=1), req(op="list", cursor=-1),
            req(op="list", cursor="1"), req(op="list", cursor=99)]))
        s.append(("events_%d" % flags, flags | CTL_FLUSH, [
            req(op="ping"), req(op="events"), req(op="events", limit=1),
            req(op="events", limit=10000), req(op="events", limit=0),
            req(op="events", limit=10001), req(op="events", limit="5"),
            req(op="events", cursor=2), req(op="events", user="root"),
            req(op="events", user="nosuchuser"), req(op="events", user="nobody")]))
    s.append(("events_many", CTL_FLUSH,
              [req(**dict(login, user="sys", rhost="192.0.2.%d" % i))
               for i in range(40)] + [req(op="events"), req(op="events", cursor=30)]))
    s.append(("list_empty_store", CTL_EMPTY, [req(op="list"), req(op="events")]))

    # Naming passkeys: short IDs, prefixes, credential IDs.
    for flags in (CTL_ROOT | CTL_FLUSH, CTL_NOBODY | CTL_FLUSH):
        s.append(("ids_%d" % flags, flags, [
            req(op="export", id=root_sid), req(op="export", id=root_sid[:6]),
            req(op="export", id=root_sid[:5]), req(op="export", id=short_id(nb1, 64)),
            req(op="export", id=short_id(nb1)[:6]),
            req(op="export", id=short_id(nb2)[:7]),
            req(op="export", id=b64e(nb1)), req(op="export", id=alice_b64),
            req(op="export", id=daemon_sid), req(op="export", id=root_sid.upper()),
            req(op="export", id=""), req(op="export", id=7),
            req(op="export", id="!!!"), req(op="export", id="A" * 2049),
            req(op="export")]))
        s.append(("rename_%d" % flags, flags, [
            req(op="rename", id=short_id(nb1), name="laptop"),
            req(op="rename", id=root_sid, name="root's"),
            req(op="rename", id=daemon_sid, name="mine now"),
            req(op="rename", id=short_id(nb2), name=""),
            req(op="rename", id=short_id(nb2), name="x" * 129),
            req(op="rename", id=short_id(nb2), name="x" * 128),
            req(op="rename", id=short_id(nb2), name="tab\there"),
            req(op="rename", id=short_id(nb2), name="\u202eevil"),
            req(op="rename", id=short_id(nb2), name="caf\u00e9 \U0001f511"),
            req(op="rename", id=short_id(nb2)), req(op="list")]))
        s.append(("remove_%d" % flags, flags, [
            req(op="remove", id=short_id(nb1)), req(op="remove", id=short_id(nb2)),
            req(op="remove", id=short_id(nb2), force=True),
            req(op="remove", id=root_sid, force="yes"),
            req(op="remove", id=root_sid), req(op="remove", id=alice_b64),
            req(op="remove", id=short_id(nb1)[:6]), req(op="list"),
            req(op="events")]))

    # Malformed lines: each closes the connection.
    for name, line in (("not_json", "not json"), ("array", "[1,2]"),
                       ("string", '"op"'), ("empty", ""), ("number", "7"),
                       ("dup", '{"op":"ping","op":"list"}'),
                       ("nul", '{"op":"ping"}\x00'),
                       ("trailing", '{"op":"ping"} x'),
                       ("no_op", "{}"), ("op_number", '{"op":1}'),
                       ("op_unknown", '{"op":"shutdown"}'),
                       ("op_case", '{"op":"PING"}'),
                       ("deep", "[" * 300 + "]" * 300),
                       ("bad_utf8", b'{"op":"ping","x":"\xff"}'),
                       ("escape_nul", '{"op":"ping\\u0000x"}')):
        s.append(("bad_" + name, CTL_ROOT, [line, req(op="ping")]))
    s.append(("line_too_long", CTL_ROOT,
              [req(op="ping", pad="x" * 8200), req(op="ping")]))

    # Shutdown with the store locked: queued changes are failed by
    # journal_free().  An enroll among them is regress/fuzz_control/
    # shutdown-queued-enroll: this seed fails like it until journal_free
    # is fixed (FUZZ_CONTROL_DRAIN=1 meanwhile).
    s.append(("locked_enroll", CTL_LOCKED, [
        req(op="enroll", user="sys"), req(op="enroll", user="daemon", expires_in=60)]))
    s.append(("locked_changes", CTL_LOCKED, [
        req(op="rename", id=root_sid, name="late"),
        req(op="remove", id=daemon_sid), req(op="revoke_enrollment", user="bin"),
        req(**login), req(op="cancel", token="$T")]))
    s.append(("locked_after_flush", CTL_LOCKED | CTL_FLUSH | CTL_NOBODY, [
        req(op="register_begin"), req(op="rename", id=short_id(nb1), name="a"),
        req(op="remove", id=short_id(nb2))]))

    # Two accounts on one connection's worth of lines.
    s.append(("mixed_uids", CTL_NOBODY | CTL_FLUSH, [
        req(op="register_begin"), "!" + req(**login), req(op="status", token="$T"),
        req(op="cancel", token="$T"), "!" + req(op="status", token="$T"),
        req(op="list", user="root"), "!" + req(op="list", user="nobody"),
        "!" + req(op="remove", id=short_id(nb1)), req(op="events")]))
    return s


def seed_control(corpus):
    for name, flags, lines in control_seeds():
        data = bytes([flags]) + b"\n".join(
            x if isinstance(x, bytes) else x.encode() for x in lines)
        corpus.add("fuzz_control", name, data)


# --- fuzz_config -------------------------------------------------------------

CONFIG_MIN = ("rp_id = localhost\norigin = http://localhost:8080\n"
              "public_url = http://localhost:8080\n")

# Every key of passkeyd/config.c with values it takes and values it refuses.
CONFIG_VALUES = {
    "rp_id": ["example.com", "", "a" * 300, "Example.COM"],
    "rp_name": ["ssh-passkeys", "My Server", ""],
    "origin": ["https://example.com", "http://localhost:8080",
               "https://[::1]:8443", "https://example.com/", "ftp://x",
               "https://", "https://exa mple.com", "https://ex_ample.com"],
    "listen": ["127.0.0.1:8080", "[::1]:8080", "0.0.0.0:443", "[::]:443",
               "127.0.0.1:0", "127.0.0.1:65536", "localhost:8080", "127.0.0.1",
               "[::1]8080", "[" + "1" * 70 + "]:1", "1" * 70 + ":1",
               "127.0.0.1:+80", "127.1:80", "[::ffff:127.0.0.1]:80"],
    "public_url": ["https://ssh.example.com", "http://localhost:8080/",
                   "https://x///", "ftp://x", "http://", "https:///"],
    "tls_cert": ["/etc/passkeyd/cert.pem"],
    "tls_key": ["/etc/passkeyd/key.pem"],
    "hostname": ["server.example.com", ""],
    "store": ["/var/lib/passkeyd/passkeys.db", "sqlite:/tmp/x.db", ":memory:"],
    "socket": ["/run/passkeyd/control.sock", "relative.sock"],
    "user": ["passkeyd", "root", ""],
    "ceremony_timeout": ["90", "5", "3600", "4", "3601", "-1", "0x10", " 90",
                         "99999999999999999999", "9a"],
    "enroll_timeout": ["86400", "60", "2592000", "59", "2592001"],
    "max_pending_total": ["10000", "1", "1000000", "0", "1000001"],
    "max_pending_per_user": ["4", "1", "1000000", "0"],
    "max_pending_per_address": ["16", "1", "0"],
    "max_pending_per_user_address": ["4", "1", "0", "1000000"],
    "audit_retention_days": ["365", "0", "36500", "36501"],
    "audit_max_rows": ["1000000", "0", "4000000000", "4000000001",
                       "18446744073709551616"],
    "http_max_connections": ["512", "16", "60000", "15", "60001"],
    "http_max_per_address": ["16", "1", "60000", "0"],
    "http_request_timeout": ["10", "1", "300", "0", "301"],
    "require_uv": ["yes", "no", "true", "false", "YES", "1", ""],
    "sign_count_regression": ["reject", "log", "warn"],
    "allowed_algorithms": ["es256 eddsa rs256", "es256", "rs256,es256",
                           "eddsa\tes256", "", ",", "es256 es256", "ps256",
                           "x" * 40],
    "accept_attestation": ["none self untrusted", "none", "trusted", "",
                           "none,none", "all"],
    "trust_anchors": ["/tmp", "/nonexistent/roots", "/etc/passwd", ""],
    "aaguid_names": ["/etc/passkeyd/aaguid-names.tsv", ""],
}


def seed_config(corpus, top):
    sample_path = os.path.join(top, "passkeyd", "passkeyd.conf.sample")
    with open(sample_path, "rb") as f:
        sample = f.read()
    corpus.add("fuzz_config", "sample", sample)
    # The sample with every commented-out key set.
    uncommented = re.sub(rb"(?m)^#(\w+ = )", rb"\1", sample)
    corpus.add("fuzz_config", "sample_uncommented", uncommented)
    corpus.add("fuzz_config", "minimal", CONFIG_MIN.encode())
    corpus.add("fuzz_config", "minimal_crlf", CONFIG_MIN.replace("\n", "\r\n").encode())
    for key, values in sorted(CONFIG_VALUES.items()):
        for i, value in enumerate(values):
            text = CONFIG_MIN + "%s = %s\n" % (key, value)
            if key in ("tls_cert", "tls_key"):
                # both or neither; TLS allows a listen address off loopback
                other = "tls_key = /k.pem" if key == "tls_cert" else "tls_cert = /c.pem"
                text += other + "\nlisten = 0.0.0.0:443\n"
            corpus.add("fuzz_config", "%s_%d" % (key, i), text.encode())
        # given twice
        corpus.add("fuzz_config", "%s_twice" % key, (CONFIG_MIN + "%s = %s\n%s = %s\n" % (
            key, values[0], key, values[0])).encode())
    for name, text in (
            ("empty", ""),
            ("missing_origin", "rp_id = x\npublic_url = http://x\n"),
            ("no_equals", CONFIG_MIN + "require_uv\n"),
            ("unknown_key", CONFIG_MIN + "rpid = x\n"),
            ("comment_only", "# nothing\n\n   \n"),
            ("control_char", CONFIG_MIN + "rp_name = a\x01b\n"),
            ("tab_around", "\trp_id\t=\tlocalhost\t\n" + CONFIG_MIN[18:]),
            ("eq_in_value", CONFIG_MIN + "rp_name = a=b\n"),
            ("tls_half", CONFIG_MIN + "tls_cert = /c.pem\n"),
            ("public_listen_no_tls", CONFIG_MIN + "listen = 0.0.0.0:8080\n"),
            ("public_listen_tls", CONFIG_MIN + "listen = [::]:8443\n"
             "tls_cert = /c.pem\ntls_key = /k.pem\n"),
            ("trusted_only_no_anchors", CONFIG_MIN + "accept_attestation = trusted\n"),
            ("trusted_only_anchors", CONFIG_MIN + "accept_attestation =\n"
             "trust_anchors = /tmp\n"),
            ("per_user_over_total", CONFIG_MIN + "max_pending_total = 2\n"
             "max_pending_per_user = 3\n"),
            ("per_address_over_total", CONFIG_MIN + "max_pending_total = 2\n"
             "max_pending_per_address = 3\n"),
            ("pair_over_user", CONFIG_MIN + "max_pending_per_user = 2\n"
             "max_pending_per_user_address = 3\n"),
            ("http_per_address_over", CONFIG_MIN + "http_max_connections = 16\n"
             "http_max_per_address = 17\n"),
            ("origins_16", CONFIG_MIN + "".join(
                "origin = https://h%d.example\n" % i for i in range(15))),
            ("origins_17", CONFIG_MIN + "".join(
                "origin = https://h%d.example\n" % i for i in range(16))),
            ("no_final_newline", CONFIG_MIN.rstrip("\n")),
            ("long_line", CONFIG_MIN + "rp_name = " + "n" * 5000 + "\n")):
        corpus.add("fuzz_config", name, text.encode())


# --- fuzz_pam_options -----------------------------------------------------------

PAM_WORDS = [
    "socket=/run/passkeyd/control.sock", "socket=relative", "socket=/",
    "socket=/" + "s" * 106, "socket=/" + "s" * 107, "socket=",
    "timeout=120", "timeout=1", "timeout=3600", "timeout=0", "timeout=3601",
    "timeout=-1", "timeout=+5", "timeout=12x", "timeout=99999999999999999999",
    "nullok", "nullok=yes", "debug", "DEBUG",
    "enroll=none", "enroll=pending", "enroll=after-auth", "enroll=always",
    "enroll=",
    "qr=yes", "qr=no", "qr=YES", "qr=",
    "flow=prompt", "flow=info", "flow=INFO", "flow=", "flow",
    "daemon_user=passkeyd", "daemon_user=root", "daemon_user=", "daemon_user=a/b",
    "daemon_user=" + "u" * 65, "daemon_user=\u202euser",
    "", "=", "socket", "timeout", "unknown=1",
]


def seed_pam_options(corpus, top):
    lines = []
    dist = os.path.join(top, "dist")
    for f in sorted(os.listdir(dist)):
        if f.startswith("pam.d-"):
            with open(os.path.join(dist, f), encoding="utf-8") as fp:
                for line in fp:
                    words = line.lstrip("#").split()
                    if "pam_passkey.so" in words:
                        lines.append(words[words.index("pam_passkey.so") + 1:])
    for i, words in enumerate(lines):
        corpus.add("fuzz_pam_options", "dist_%d" % i, "\n".join(words).encode())
        corpus.add("fuzz_pam_options", "dist_%d_nul" % i, "\0".join(words).encode())
    for i, w in enumerate(PAM_WORDS):
        corpus.add("fuzz_pam_options", "word_%d" % i, w.encode())
        # after a valid word, and before one: the index of the bad one
        corpus.add("fuzz_pam_options", "word_%d_pair" % i,
                   ("debug\n" + w + "\nnullok").encode())
    corpus.add("fuzz_pam_options", "all_valid", "\n".join([
        "socket=/run/passkeyd/control.sock", "timeout=60", "nullok",
        "enroll=after-auth", "qr=no", "daemon_user=passkeyd", "debug"]).encode())
    corpus.add("fuzz_pam_options", "repeated", "\n".join([
        "qr=yes", "qr=no", "timeout=5", "timeout=6", "enroll=pending",
        "enroll=none"]).encode())
    corpus.add("fuzz_pam_options", "many", "\n".join(["debug"] * 40).encode())


# --- fuzz_aaguid ------------------------------------------------------------------

AAGUID_LINES = [
    "08987058-cadc-4b81-b6e1-30de50dcbe96\tWindows Hello",
    "08987058-CADC-4B81-B6E1-30DE50DCBE96\tUpper case",
    "08987058-cadc-4b81-b6e1-30de50dcbe96\tCRLF\r",
    "# a comment", "", "nonsense", "08987058-cadc-4b81-b6e1-30de50dcbe96\t",
    "08987058-cadc-4b81-b6e1-30de50dcbe96 space",
    "08987058xcadc-4b81-b6e1-30de50dcbe96\tx",
    "08987058-cadc-4b81-b6e1-30de50dcbe96\ta\tb",
    "08987058-cadc-4b81-b6e1-30de50dcbe96\tevil\x1b[2J",
    "08987058-cadc-4b81-b6e1-30de50dcbe96\tabc\u202ecba",
    "08987058-cadc-4b81-b6e1-30de50dcbe96\t" + "n" * 64,
    "08987058-cadc-4b81-b6e1-30de50dcbe96\t" + "n" * 65,
    "08987058-cadc-4b81-b6e1-30de50dcbe96\t\u00e9t\u00e9",
]


def seed_aaguid(corpus, top):
    with open(os.path.join(top, "data", "aaguid-names.tsv"), "rb") as fp:
        corpus.add("fuzz_aaguid", "shipped", fp.read())
    for i, line in enumerate(AAGUID_LINES):
        corpus.add("fuzz_aaguid", "line_%d" % i, line.encode())
        corpus.add("fuzz_aaguid", "line_%d_then_override" % i, (
            line + "\n08987058-cadc-4b81-b6e1-30de50dcbe96\tLater").encode())
    corpus.add("fuzz_aaguid", "all", "\n".join(AAGUID_LINES[:5]).encode())


# --- fuzz_client_key --------------------------------------------------------------

# An Ed25519 key line as ssh-keygen writes it (a made-up key: 32 bytes of 0x11).
ED25519_KEY = ("ssh-ed25519 " + base64.b64encode(
    b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + b"\x11" * 32).decode())


def seed_client_key(corpus, top):
    info = [
        "publickey " + ED25519_KEY + "\n",
        "publickey ssh-rsa AAAAB3NzaC1yc2E=\npublickey " + ED25519_KEY + "\n",
        "keyboard-interactive\npublickey " + ED25519_KEY,
        "publickey " + ED25519_KEY + " trailing fields\n",
        "publickey ssh-ed25519 AAAA$(x)\n", "publickey \n", "publickey", "",
        "publickey " + ED25519_KEY.replace("ssh-ed25519 ", "ssh-rsa ") + "\n",
        ED25519_KEY,
    ]
    for i, text in enumerate(info):
        corpus.add("fuzz_client_key", "info_%d" % i, text.encode())


def c_str(s, indent="\t    "):
    """A C string literal, split over lines of at most ~72 columns."""
    out, cur = [], ""
    for ch in s:
        if ch == "\\" or ch == '"':
            e = "\\" + ch
        elif ch == "\n":
            e = "\\n"
        elif 32 <= ord(ch) < 127:
            e = ch
        else:
            e = "\\x%02x" % ord(ch)
        cur += e
        if ch == "\n" or len(cur) >= 72:
            out.append(cur)
            cur = ""
    if cur or not out:
        out.append(cur)
    return ("\n" + indent).join('"%s"' % x for x in out)


def c_opt(s):
    return "NULL" if s is None else c_str(s)


def write_header(files, path):
    """fuzz_vectors.h: one row per vector, plus every distinct anchor."""
    rows, anchors = [], []
    for f in files:
        with open(f, encoding="utf-8") as fp:
            vec = json.load(fp)
        cred = vec.get("response") or {}
        resp = cred.get("response") or {}
        kind = vec.get("kind")
        if kind not in ("registration", "authentication") or "id" not in cred:
            continue
        name = os.path.basename(os.path.dirname(f)) + "/" + os.path.basename(f)
        stored = vec.get("credential") or {}
        be = stored.get("stored_backup_eligible")
        rows.append((
            name, kind[0], vec["rp_id"], vec["origin"], vec["challenge_b64url"],
            cred["id"],
            resp.get("clientDataJSON") if kind == "registration" else None,
            stored.get("public_key_cose_b64url"),
            int(stored.get("stored_sign_count") or 0),
            -1 if be is None else int(bool(be)),
            stored.get("user_handle_b64url"),
        ))
        for pem in vec.get("trust_anchors_pem") or []:
            if pem not in anchors:
                anchors.append(pem)
    o = []
    o.append("/*\n * GENERATED by fuzz/seeds.py --header from the vector files "
             "in tests/data/\n * (w3c, browser, attestation); do not edit "
             "by hand.\n *\n"
             " * Every ceremony in the test vectors: what the relying party "
             "expected\n * (rp_id, origin, challenge), the credential it names, "
             "and, for\n * authentication, what the RP had stored.  The harnesses "
             "look an input's\n * credential ID up here, so that mutations of a "
             "seed are verified against\n * the ceremony the seed came from "
             "(and keep passing the checks that\n * depend on clientDataJSON), "
             "and fall back to the W3C vectors otherwise.\n */\n")
    o.append("#ifndef FUZZ_VECTORS_H\n#define FUZZ_VECTORS_H\n\n"
             "#include <stdint.h>\n#include <stddef.h>\n\n")
    o.append("struct fuzz_vector {\n"
             "\tconst char *name;\n"
             "\tchar kind;\t\t\t/* 'r'egistration or 'a'uthentication */\n"
             "\tconst char *rp_id;\n"
             "\tconst char *origin;\n"
             "\tconst char *challenge;\t\t/* base64url */\n"
             "\tconst char *cred_id;\t\t/* base64url */\n"
             "\tconst char *client_data_json;\t/* base64url; registration */\n"
             "\tconst char *cose_key;\t\t/* base64url; authentication */\n"
             "\tuint32_t sign_count;\t\t/* stored */\n"
             "\tint backup_eligible;\t\t/* stored; -1 unknown */\n"
             "\tconst char *user_handle;\t/* base64url or NULL */\n"
             "};\n\n")
    o.append("static const struct fuzz_vector fuzz_vectors[] = {\n")
    for r in rows:
        o.append("\t{ %s, '%s', %s, %s,\n\t    %s,\n\t    %s,\n\t    %s,\n"
                 "\t    %s,\n\t    %d, %d, %s },\n" % (
                     c_str(r[0]), r[1], c_str(r[2]), c_str(r[3]), c_str(r[4]),
                     c_str(r[5]), c_opt(r[6]), c_opt(r[7]), r[8], r[9],
                     c_opt(r[10])))
    o.append("};\n#define FUZZ_NVECTORS (sizeof(fuzz_vectors) / "
             "sizeof(fuzz_vectors[0]))\n\n")
    o.append("/* Every distinct trust anchor the vectors name. */\n"
             "static const char *const fuzz_anchor_pems[] = {\n")
    for pem in anchors:
        o.append("\t%s,\n" % c_str(pem))
    o.append("};\n#define FUZZ_NANCHORS (sizeof(fuzz_anchor_pems) / "
             "sizeof(fuzz_anchor_pems[0]))\n\n#endif /* FUZZ_VECTORS_H */\n")
    with open(path, "w", encoding="utf-8") as fp:
        fp.write("".join(o))
    print("seeds: wrote %s: %d ceremonies, %d trust anchors" %
          (path, len(rows), len(anchors)))


def main(argv):
    args = list(argv[1:])
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(os.path.dirname(here), "tests", "data")
    if "--data" in args:
        i = args.index("--data")
        if i + 1 >= len(args):
            sys.exit(USAGE)
        data = args[i + 1]
        del args[i:i + 2]
    header = None
    if "--header" in args:
        i = args.index("--header")
        if i + 1 >= len(args):
            sys.exit(USAGE)
        header = args[i + 1]
        del args[i:i + 2]
    if len(args) != (0 if header else 1):
        sys.exit(USAGE)
    files = []
    for sub in ("w3c", "browser", "attestation"):
        d = os.path.join(data, sub)
        if os.path.isdir(d):
            files += sorted(os.path.join(d, f) for f in os.listdir(d)
                            if f.endswith(".json"))
    if not files:
        sys.exit("seeds.py: no vector files under %s" % data)
    if header:
        write_header(files, header)
        return
    corpus = Corpus(args[0])
    top = os.path.dirname(here)
    seed_control(corpus)
    seed_config(corpus, top)
    seed_pam_options(corpus, top)
    seed_aaguid(corpus, top)
    seed_client_key(corpus, top)
    for path in files:
        try:
            seed_vector(corpus, path)
        except (KeyError, ValueError, TypeError) as e:
            print("seeds.py: skipping %s: %s" % (path, e), file=sys.stderr)
    for h in HARNESSES:
        print("seeds: %-26s %3d inputs" % (h, corpus.count[h]))


if __name__ == "__main__":
    main(sys.argv)
