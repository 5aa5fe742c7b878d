#!/usr/bin/env bash
# The main job, as far as it exists today: build, then verify real WebAuthn
# ceremonies with the relying-party core.  The SSH login through sshd and
# pam_passkey.so is the next milestone (issue "The login path").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctl=build/passkeyctl/passkeyctl
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== 1. W3C WebAuthn test vectors through passkeyctl"
python3 tests/cli/run_vector.py "$ctl" tests/data/w3c/*.json

echo "== 2. A real browser: headless Chromium's virtual authenticator registers"
echo "      and signs in on http://localhost, then passkeyctl verifies each response"
CI="${CI:-}" node tests/browser/capture.mjs --out "$out" </dev/null | sed 's/^/   /'
python3 tests/cli/run_vector.py "$ctl" "$out"/*.json

echo
echo "The relying-party core verified every ceremony above."
echo "Next: 'ssh user@localhost' approved with a passkey (passkeyd + pam_passkey.so)."
