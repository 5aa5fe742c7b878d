#!/usr/bin/env python3
"""The passkeyctl verify-* contract (DESIGN.md, "Offline verifier"), as other
tools will drive it: every vector's verdict through the real binary, the
JSON on stdout, and exit codes 0 (ok), 1 (rejected), 2 (usage or unreadable
input).  Prints TAP.

usage: test_cli.py PASSKEYCTL DATA_DIR
"""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_vector  # noqa: E402

ctl, data = sys.argv[1], sys.argv[2]
results = []


def case(name, good, detail=""):
    results.append((name, bool(good), detail))


def run(args, stdin=b""):
    p = subprocess.run([ctl] + args, input=stdin, capture_output=True, timeout=30)
    try:
        out = json.loads(p.stdout) if p.stdout.strip() else None
    except ValueError:
        out = "not json: %r" % p.stdout[:80]
    return p.returncode, out, p.stderr.decode(errors="replace")


# 1. Every vector file gets its stated verdict through the binary.
for path in sorted(glob.glob(os.path.join(data, "*", "*.json"))):
    good, line = run_vector.check(ctl, path)
    case("vector %s/%s" % (os.path.basename(os.path.dirname(path)), os.path.basename(path)), good, line)

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
code, out, _ = run(reg_args, reg_json)
c = (out or {}).get("credential", {})
case("registration output carries the credential record", code == 0 and
     set(["id", "alg", "public_key_cose", "sign_count", "fmt", "aaguid", "flags", "attestation"]) <= set(c)
     and c["alg"] == -7 and c["fmt"] == "none" and c["attestation"] == "none"
     and c["flags"] == {"up": True, "uv": False, "be": True, "bs": True}, out)
code, out, _ = run(auth_args + ["--sign-count", "0"], auth_json)
case("assertion output carries sign_count and flags", code == 0 and out == {
    "ok": True, "sign_count": 0, "flags": {"up": True, "uv": False, "be": True, "bs": True}}, out)

# 3. Rejections: exit 1 and one JSON object with a named code.
def rejected(name, args, stdin, code_name):
    code, out, _ = run(args, stdin)
    case(name, code == 1 and isinstance(out, dict) and out.get("ok") is False and
         out.get("error") == code_name and out.get("detail"), out)

rejected("UV required but absent", reg_args + ["--require-uv"], reg_json, "user_verification_missing")
rejected("origin not listed", reg_args[:4] + ["https://evil.example"] + reg_args[5:], reg_json,
         "origin_not_allowed")
rejected("challenge differs", reg_args[:-1] + ["A" * 43], reg_json, "challenge_mismatch")
rejected("sign count went back", auth_args + ["--sign-count", "7"], auth_json, "sign_count_regressed")
rejected("assertion for another credential", auth_args[:-4] + ["--credential-id", "AAAAAAAAAAAAAAAAAAAAAA",
         "--public-key", cred["public_key_cose_b64url"]], auth_json, "credential_not_allowed")
rejected("stored key is not COSE", auth_args[:-1] + ["oA"], auth_json, "cose_key_malformed")
rejected("registration JSON given to verify-assertion", auth_args, reg_json, "field_missing")
rejected("empty stdin", reg_args, b"", "json_malformed")
rejected("stdin is not JSON", reg_args, b"\x00\xff garbage", "json_malformed")
rejected("response over 64 KiB", reg_args, b" " * 65537, "response_too_large")

# 4. Usage errors: exit 2, nothing on stdout, a message on stderr.
def usage(name, args, stdin=reg_json):
    code, out, err = run(args, stdin)
    case(name, code == 2 and out is None and err.strip(), (code, out, err[:100]))

usage("no command", [])
usage("unknown command", ["frobnicate"])
usage("unknown flag", reg_args + ["--frob"])
usage("missing --challenge", reg_args[:-2])
usage("missing --rp-id", reg_args[3:] )
usage("challenge not base64url", reg_args[:-1] + ["not*base64"])
usage("challenge too short", reg_args[:-1] + ["AAAA"])
usage("bad --time", reg_args + ["--time", "yesterday"])
usage("unreadable trust anchor", reg_args + ["--trust-anchor", "/nonexistent/anchor.pem"])
usage("trust anchor that is not PEM", reg_args + ["--trust-anchor", os.path.abspath(__file__)])
usage("negative --sign-count", auth_args + ["--sign-count", "-1"], auth_json)
usage("--sign-count over 32 bits", auth_args + ["--sign-count", "4294967296"], auth_json)
usage("assertion without --public-key", auth_args[:-2], auth_json)
usage("stray argument", reg_args + ["extra"])
code, out, err = run(["verify-registration", "--help"])
case("--help prints usage on stdout and exits 0", code == 0 and isinstance(out, str) and "usage: passkeyctl verify-registration" in out and err == "", (code, err))

print("1..%d" % len(results))
for i, (name, good, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if good else "not ok", i, name))
    if not good:
        print("  # %s" % (detail,))
sys.exit(0 if all(g for _, g, _ in results) else 1)
