#!/usr/bin/env python3
"""Runs vector files through `passkeyctl verify-*`, the way other tools drive
it, and checks the verdict, the exit code and the JSON on stdout.

usage: run_vector.py PASSKEYCTL FILE.json ...   (exit 1 if any vector disagrees)
"""
import json
import os
import subprocess
import sys
import tempfile


def command(ctl, v, tmp):
    if v["kind"] == "registration":
        args = [ctl, "verify-registration"]
    else:
        c = v["credential"]
        args = [ctl, "verify-assertion", "--credential-id", c["id_b64url"],
                "--public-key", c["public_key_cose_b64url"],
                "--sign-count", str(c["stored_sign_count"])]
    args += ["--rp-id", v["rp_id"], "--origin", v["origin"],
             "--challenge", v["challenge_b64url"]]
    if v.get("verifier_options", {}).get("allow_cross_origin"):
        # passkeyctl has no such option: the vector's verdict cannot be checked
        raise ValueError("verifier_options.allow_cross_origin is true: no policy allows that")
    if v.get("verifier_options", {}).get("require_user_verification"):
        args.append("--require-uv")
    for i, pem in enumerate(v.get("trust_anchors_pem", [])):
        path = os.path.join(tmp, "anchor%d.pem" % i)
        with open(path, "w") as f:
            f.write(pem)
        args += ["--trust-anchor", path]
    if "attestation_time" in v:
        args += ["--time", v["attestation_time"]]
    elif v.get("trust_anchors_pem"):
        args += ["--time", "2025-06-01T00:00:00Z"]  # inside the W3C CA's validity
    return args


def check(ctl, path):
    """(good, one line for a log).  A "fail" vector must name the exact
    error code (expect_error): a vector that accepts any rejection cannot
    tell the right reason from a wrong one, so it does not pass.  Output
    that is not the expected JSON is a failed vector, never an exception."""
    v = json.load(open(path))
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(command(ctl, v, tmp), input=json.dumps(v["response"]).encode(),
                           capture_output=True, timeout=30)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        out = None
    if not isinstance(out, dict):
        return False, "%-4s %-40s exit=%d stdout is not a JSON object: %r %s" % (
            "FAIL", os.path.basename(path), p.returncode, p.stdout[:80],
            p.stderr.decode(errors="replace").strip()[:200])
    cred = out.get("credential")
    if v["expect"] == "ok":
        good = p.returncode == 0 and out.get("ok") is True
        if good and v["kind"] == "registration":
            good = isinstance(cred, dict) and cred.get("id") == v["response"]["rawId"]
        verdict = (cred or {}).get("attestation", "") if good else out.get("error")
    else:
        want = v.get("expect_error")
        good = (want is not None and p.returncode == 1 and out.get("ok") is False
                and out.get("error") == want)
        verdict = out.get("error")
        if want is None:
            verdict = "%s (the vector names no expect_error)" % verdict
        elif not good:
            verdict = "%s, want %s" % (verdict, want)
    return good, "%-4s %-40s exit=%d %s" % ("ok" if good else "FAIL", os.path.basename(path),
                                           p.returncode, verdict or "")


def main():
    ctl, files = sys.argv[1], sys.argv[2:]
    bad = 0
    if not files:
        print("run_vector.py: no vector files given", file=sys.stderr)
        sys.exit(1)
    for f in files:
        try:
            good, line = check(ctl, f)
        except Exception as e:  # noqa: BLE001 -- one bad file fails one vector
            good, line = False, "FAIL %-40s %s: %s" % (os.path.basename(f), type(e).__name__, e)
        bad += not good
        print("   " + line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
