#!/usr/bin/python3
"""Seed corpora for the libFuzzer harnesses, from the test vectors.

    /usr/bin/python3 fuzz/seeds.py OUTDIR [--data DIR]
    /usr/bin/python3 fuzz/seeds.py --header fuzz/fuzz_vectors.h [--data DIR]

The first form writes OUTDIR/<harness>/<name> for every harness in fuzz/.
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
    for path in files:
        try:
            seed_vector(corpus, path)
        except (KeyError, ValueError, TypeError) as e:
            print("seeds.py: skipping %s: %s" % (path, e), file=sys.stderr)
    for h in HARNESSES:
        print("seeds: %-26s %3d inputs" % (h, corpus.count[h]))


if __name__ == "__main__":
    main(sys.argv)
