#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need on Debian 12.
# Idempotent: when every package is present it touches nothing.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libfido2-dev libcbor-dev libssl-dev libjansson-dev libcmocka-dev
  valgrind python3 python3-cryptography python3-cbor2
  libmicrohttpd-dev libsqlite3-dev libqrencode-dev libpam0g-dev
  openssh-server openssh-client sudo curl passwd
  libpam-wrapper libnss-wrapper pamtester python3-pypamtest
  chromium libcurl4-openssl-dev
  postgresql libpq-dev nginx mandoc debootstrap debhelper dpkg-dev fakeroot lintian
  systemd python3-prometheus-client ansible-core rsync iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# Node.js may come from Debian (nodejs + npm) or from a vendor build that
# bundles npm and conflicts with Debian's npm: ask for the commands only.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # a fresh machine's unattended-upgrades may hold dpkg's lock for minutes:
  # wait for it (up to 10 minutes) instead of failing at once
  lock=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${lock[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core drives the system Chromium; it downloads no browser.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
  (cd "$here/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
