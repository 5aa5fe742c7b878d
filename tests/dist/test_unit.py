#!/usr/bin/env python3
"""The shipped systemd unit (dist/passkeyd.service, as meson configured
it): `systemd-analyze verify` accepts it, and `systemd-analyze security
--offline=true` scores its exposure at most 1.5 (the operations issue's
bound; printed).  The unit's ExecStart names the installed passkeyd, which
a build tree has not installed: the test points it at this build's binary.

TAP.  usage: test_unit.py UNIT PASSKEYD"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import ok, note, plan  # noqa: E402

MAX_EXPOSURE = 1.5


def main():
    unit, passkeyd = sys.argv[1], os.path.abspath(sys.argv[2])
    analyze = shutil.which("systemd-analyze")
    ok(analyze is not None, "systemd-analyze is installed (Debian's systemd package)")
    if analyze is None:
        return plan()
    with open(unit) as f:
        text = f.read()
    ok(re.search(r"(?m)^ExecStart=\S*/passkeyd ", text) is not None,
       "the unit starts passkeyd", text[:400])
    tmp = tempfile.mkdtemp(prefix="passkeyd-unit.")
    try:
        path = os.path.join(tmp, "passkeyd.service")
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(ExecStart(?:Pre)?=)\S*/passkeyd ", rf"\g<1>{passkeyd} ",
                           text))
        r = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                           timeout=60)
        ok(r.returncode == 0 and "passkeyd.service" not in r.stderr,
           "systemd-analyze verify: no complaint", (r.returncode, r.stderr))
        r = subprocess.run([analyze, "security", "--offline=true", "--no-pager", path],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for passkeyd\.service: ([0-9.]+)", r.stdout)
        score = float(m.group(1)) if m else None
        note(f"systemd-analyze security --offline=true: exposure {score}")
        ok(score is not None and score <= MAX_EXPOSURE,
           f"systemd-analyze security: exposure {score} <= {MAX_EXPOSURE}",
           "\n".join(line for line in r.stdout.splitlines() if "\u2717" in line))
        for want in ("NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n",
                     "SystemCallFilter=~@privileged @resources", "User=passkeyd",
                     "ExecReload=/bin/kill -HUP $MAINPID",
                     # getifaddrs needs it (passkeyd/hostaddrs.c)
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n"):
            ok(want in text, f"the unit keeps {want.strip()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return plan()


if __name__ == "__main__":
    sys.exit(main())
