#!/usr/bin/env python3
"""The passkeyctl verify-* contract (DESIGN.md, "Offline verifier"), as other
tools will drive it: every vector's verdict through the real binary, the
JSON on stdout, and exit codes 0 (ok), 1 (rejected), 2 (usage or unreadable
input).  Prints TAP (tests/lib/tap.py): every check is guarded, so an
unexpected answer fails that check and the others still run.

usage: test_cli.py PASSKEYCTL DATA_DIR
"""
import glob
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "lib"))
import run_vector  # noqa: E402
from tap import group, ok, plan  # noqa: E402

ctl, data = sys.argv[1], sys.argv[2]


def run(args, stdin=b""):
    p = subprocess.run([ctl] + args, input=stdin, capture_output=True, timeout=30)
    try:
        out = json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        out = "not json: %r" % p.stdout[:80]
    return p.returncode, out, p.stderr.decode(errors="replace")


def shown(code, out, err):
    return "exit %s\nstdout: %r\nstderr: %s" % (code, out, err[:300])


# 1. Every vector file gets its stated verdict through the binary.
vectors = sorted(glob.glob(os.path.join(data, "*", "*.json")))
for kind in ("w3c", "browser", "attestation"):
    ok(glob.glob(os.path.join(data, kind, "*.json")), "%s vectors found in %s" % (kind, data))
for path in vectors:
    name = "vector %s/%s" % (os.path.basename(os.path.dirname(path)), os.path.basename(path))
    with group(name):
        good, line = run_vector.check(ctl, path)
        ok(good, name, line)

with group("the W3C vectors 01 as command lines"):
    w3c_reg = json.load(open(os.path.join(data, "w3c", "01_w3c_none_es256_reg.json")))
    w3c_auth = json.load(open(os.path.join(data, "w3c", "01_w3c_none_es256_auth.json")))
    reg_args = ["verify-registration", "--rp-id", "example.org", "--origin", "https://example.org",
                "--challenge", w3c_reg["challenge_b64url"]]
    cred = w3c_auth["credential"]
    auth_args = ["verify-assertion", "--rp-id", "example.org", "--origin", "https://example.org",
                 "--challenge", w3c_auth["challenge_b64url"], "--credential-id", cred["id_b64url"],
                 "--public-key", cred["public_key_cose_b64url"]]
    reg_json = json.dumps(w3c_reg["response"]).encode()
    auth_json = json.dumps(w3c_auth["response"]).encode()

# 2. Output shape on success.
with group("registration output carries the credential record"):
    code, out, err = run(reg_args, reg_json)
    ok(lambda: code == 0 and
       {"id", "alg", "public_key_cose", "sign_count", "fmt", "aaguid", "flags", "attestation"}
       <= set(out["credential"])
       and out["credential"]["alg"] == -7 and out["credential"]["fmt"] == "none"
       and out["credential"]["attestation"] == "none"
       and out["credential"]["flags"] == {"up": True, "uv": False, "be": True, "bs": True},
       "registration output carries the credential record", shown(code, out, err))
with group("assertion output carries sign_count and flags"):
    code, out, err = run(auth_args + ["--sign-count", "0"], auth_json)
    ok(code == 0 and out == {"ok": True, "sign_count": 0,
                             "flags": {"up": True, "uv": False, "be": True, "bs": True}},
       "assertion output carries sign_count and flags", shown(code, out, err))


# 3. Rejections: exit 1 and one JSON object with a named code.
def rejected(name, args, stdin, code_name):
    with group(name):
        code, out, err = run(args(), stdin())
        ok(code == 1 and isinstance(out, dict) and out.get("ok") is False and
           out.get("error") == code_name and out.get("detail"),
           "%s: rejected as %s" % (name, code_name), shown(code, out, err))


# the arguments are lambdas: a failed setup above fails each check here alone
rejected("UV required but absent", lambda: reg_args + ["--require-uv"], lambda: reg_json,
         "user_verification_missing")
rejected("origin not listed", lambda: reg_args[:4] + ["https://evil.example"] + reg_args[5:],
         lambda: reg_json, "origin_not_allowed")
rejected("challenge differs", lambda: reg_args[:-1] + ["A" * 43], lambda: reg_json,
         "challenge_mismatch")
rejected("sign count went back", lambda: auth_args + ["--sign-count", "7"], lambda: auth_json,
         "sign_count_regressed")
rejected("assertion for another credential",
         lambda: auth_args[:-4] + ["--credential-id", "AAAAAAAAAAAAAAAAAAAAAA",
                                   "--public-key", cred["public_key_cose_b64url"]],
         lambda: auth_json, "credential_not_allowed")
rejected("stored key is not COSE", lambda: auth_args[:-1] + ["oA"], lambda: auth_json,
         "cose_key_malformed")
rejected("registration JSON given to verify-assertion", lambda: auth_args, lambda: reg_json,
         "field_missing")
rejected("empty stdin", lambda: reg_args, lambda: b"", "json_malformed")
rejected("stdin is not JSON", lambda: reg_args, lambda: b"\x00\xff garbage", "json_malformed")
rejected("response over 64 KiB", lambda: reg_args, lambda: b" " * 65537, "response_too_large")


# 4. Usage errors: exit 2, nothing on stdout, a message on stderr.
def usage(name, args, stdin=lambda: reg_json):
    with group(name):
        code, out, err = run(args(), stdin())
        ok(code == 2 and out is None and err.strip(), "%s: usage error (exit 2)" % name,
           shown(code, out, err))


usage("no command", lambda: [])
usage("unknown command", lambda: ["frobnicate"])
usage("unknown flag", lambda: reg_args + ["--frob"])
usage("missing --challenge", lambda: reg_args[:-2])
usage("missing --rp-id", lambda: reg_args[3:])
usage("challenge not base64url", lambda: reg_args[:-1] + ["not*base64"])
usage("challenge too short", lambda: reg_args[:-1] + ["AAAA"])
usage("bad --time", lambda: reg_args + ["--time", "yesterday"])
usage("unreadable trust anchor", lambda: reg_args + ["--trust-anchor", "/nonexistent/anchor.pem"])
usage("trust anchor that is not PEM",
      lambda: reg_args + ["--trust-anchor", os.path.abspath(__file__)])
usage("negative --sign-count", lambda: auth_args + ["--sign-count", "-1"], lambda: auth_json)
usage("--sign-count over 32 bits", lambda: auth_args + ["--sign-count", "4294967296"],
      lambda: auth_json)
usage("assertion without --public-key", lambda: auth_args[:-2], lambda: auth_json)
usage("stray argument", lambda: reg_args + ["extra"])
with group("--help"):
    code, out, err = run(["verify-registration", "--help"])
    ok(code == 0 and isinstance(out, str) and "usage: passkeyctl verify-registration" in out
       and err == "", "--help prints usage on stdout and exits 0", shown(code, out, err))

sys.exit(plan())
