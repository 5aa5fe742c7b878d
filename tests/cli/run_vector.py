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
    v = json.load(open(path))
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(command(ctl, v, tmp), input=json.dumps(v["response"]).encode(),
                           capture_output=True, timeout=30)
    out = json.loads(p.stdout)
    if v["expect"] == "ok":
        good = p.returncode == 0 and out.get("ok") is True
        if good and v["kind"] == "registration":
            good = out["credential"]["id"] == v["response"]["rawId"]
        verdict = out.get("credential", {}).get("attestation", "") if good else out.get("error")
    else:
        want = v.get("expect_error")
        good = p.returncode == 1 and out.get("ok") is False and out.get("error") and \
            (want is None or out["error"] == want)
        verdict = out.get("error")
    return good, "%-4s %-40s exit=%d %s" % ("ok" if good else "FAIL", os.path.basename(path),
                                           p.returncode, verdict or "")


def main():
    ctl, files = sys.argv[1], sys.argv[2:]
    bad = 0
    for f in files:
        good, line = check(ctl, f)
        bad += not good
        print("   " + line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
