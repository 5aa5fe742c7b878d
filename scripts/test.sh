#!/usr/bin/env bash
# The whole test suite: unit, CLI and daemon tests and the end-to-end
# acceptance test (real sshd, ssh, passkeyd, pam_passkey.so and headless
# Chromium), the unit tests under valgrind, everything but the acceptance
# test under ASan+UBSan (an ASan module cannot load into a stock sshd),
# every fuzz harness for a bounded time, a fresh capture from real headless
# Chromium verified through passkeyctl, and the benchmarks.  Ends with one line "tests: N passed, M failed".
#   FUZZ_SECONDS=N   seconds per fuzz harness (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."
# the daemon and acceptance tests start sshd, switch uids and write
# /etc/pam.d: they need root; take it through sudo when that works unasked
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  exec sudo -E bash "$0" "$@"
fi
bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || exit 1

passed=0
failed=0
count_log() {	# adds a meson testlog's cases to the totals
  local p f
  if [ ! -f "$1" ]; then	# the build failed before any test ran
    failed=$((failed + 1)); echo "   -> no test log ($1): FAILED"; return
  fi
  read -r p f < <(python3 tests/summarize.py "$1")
  passed=$((passed + p)); failed=$((failed + f))
  echo "   -> $p passed, $f failed"
}
step() {	# a whole step that passes or fails as one
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "   -> $name: ok"
  else failed=$((failed + 1)); echo "   -> $name: FAILED"; fi
}

echo "== unit, CLI, daemon and acceptance tests"
meson test -C build --print-errorlogs --no-rebuild >/dev/null
count_log build/meson-logs/testlog.json

echo "== the unit tests under valgrind (memory errors and leaks fail)"
meson test -C build --no-rebuild --print-errorlogs --suite passkey-unit \
  --wrap='valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1' >/dev/null
count_log build/meson-logs/testlog-valgrind.json

echo "== the unit and CLI tests built with ASan and UBSan"
[ -f build-asan/build.ninja ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined \
  -Db_lundef=false -Dtests=true >/dev/null
ninja -C build-asan >/dev/null && \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C build-asan --print-errorlogs --no-suite acceptance >/dev/null
count_log build-asan/meson-logs/testlog.json

echo "== meson install into a staging folder: every installed file where it belongs"
check_install() {
  local stage rc=0 f
  stage=$(mktemp -d)
  meson setup "$stage/build" --prefix=/usr --sysconfdir=/etc \
    -Dpammoddir=/usr/lib/x86_64-linux-gnu/security -Dtests=false >/dev/null &&
    ninja -C "$stage/build" >/dev/null && DESTDIR="$stage/root" meson install -C "$stage/build" --quiet >/dev/null || rc=1
  for f in usr/sbin/passkeyd usr/bin/passkeyctl usr/lib/x86_64-linux-gnu/security/pam_passkey.so \
      usr/lib/systemd/system/passkeyd.service etc/passkeyd/passkeyd.conf.sample \
      usr/share/doc/ssh-passkeys/examples/pam.d-sshd.sample \
      usr/share/doc/ssh-passkeys/examples/sshd_config.sample; do
    [ -f "$stage/root/$f" ] || { echo "   missing: $f"; rc=1; }
  done
  for k in ProtectSystem=strict NoNewPrivileges=yes StateDirectory=passkeyd RuntimeDirectory=passkeyd User=passkeyd; do
    grep -q "^$k" "$stage/root/usr/lib/systemd/system/passkeyd.service" 2>/dev/null || { echo "   unit lacks $k"; rc=1; }
  done
  # the sample config must be one the daemon accepts
  [ $rc -ne 0 ] || "$stage/root/usr/sbin/passkeyd" --config "$stage/root/etc/passkeyd/passkeyd.conf.sample" --check-config >/dev/null || rc=1
  rm -rf "$stage"
  return $rc
}
step "install" check_install

echo "== fuzzing: every harness, ${FUZZ_SECONDS:-60} s each, ASan+UBSan"
step "fuzz" bash fuzz/run.sh "${FUZZ_SECONDS:-60}"

echo "== a fresh capture from headless Chromium, verified by passkeyctl"
capture_and_verify() {
  local out rc
  out=$(mktemp -d)
  node tests/browser/capture.mjs --out "$out" </dev/null >/dev/null &&
    python3 tests/cli/run_vector.py build/passkeyctl/passkeyctl "$out"/*.json
  rc=$?
  rm -rf "$out"
  return $rc
}
step "browser" capture_and_verify

echo "== the main job, headless: README's first command with Chromium approving"
step "demo" bash -c 'bash scripts/demo.sh --headless > build/demo.log 2>&1 || { tail -30 build/demo.log; exit 1; }'

echo "== benchmark (figures only; ratios against OpenSSL in the same run)"
step "bench" build/bench/passkey-bench
echo "== daemon benchmark (control socket begin rate against ping; RSS with 10,000 pending)"
step "daemon-bench" python3 bench/daemon_bench.py build/passkeyd/passkeyd 10000

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
