#!/usr/bin/env bash
# The whole test suite: unit, CLI and daemon tests and the end-to-end
# acceptance test (real sshd, ssh, passkeyd, pam_passkey.so and headless
# Chromium), the unit tests under valgrind, everything but the acceptance
# test under ASan+UBSan (an ASan module cannot load into a stock sshd),
# every fuzz harness for a bounded time, a fresh capture from real headless
# Chromium verified through passkeyctl, and the benchmarks.
#   FUZZ_SECONDS=N   seconds per fuzz harness (default 60; 30 under CI=true)
#   CI=true          (set by CI) a skipped check or suite is a failure: in
#                    CI everything must run
#
# What is counted (tests/summarize.py reads each meson testlog.json):
#   checks         each distinct check once: every cmocka case and TAP check
#                  of the meson run in build/, plus the one-shot steps
#                  (install, debian, fuzz, browser, demo, demo-fleet, bench, ceremony-bench)
#   repeated runs  the same checks run again: the unit suites under
#                  valgrind, all but the acceptance test under ASan+UBSan;
#                  reported as runs, their failures count as failures
#   steps          what the counts rely on: dependencies, the builds, and
#                  each meson run (a non-empty selection, a fresh, readable
#                  log that holds every test `meson test --list` names, an
#                  exit status that its failed checks explain).  Each log is
#                  deleted before its run, so an old one is never re-counted
# The last line is machine-checkable:
#   tests: P passed, F failed, S skipped
# P and S count distinct checks; F counts every failure (distinct checks,
# repeated runs, steps, and under CI=true every skip).  The exit status is 0
# exactly when F is 0.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Inherited variables that would shrink or weaken the runs without a word
# (sudo -E below keeps the caller's environment): cmocka's test filters and
# output redirection, python -O (drops assert), valgrind options (e.g. extra
# suppressions), sanitizer options (set below where they matter), the fuzz
# harness selection, and the test SK provider's knobs.
for v in CMOCKA_TEST_FILTER CMOCKA_SKIP_FILTER CMOCKA_MESSAGE_OUTPUT CMOCKA_XML_FILE \
  PYTHONOPTIMIZE VALGRIND_OPTS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS FUZZ_HARNESSES \
  $(compgen -v PASSKEY_SK_); do
  if [ -n "${!v+set}" ]; then
    echo "test.sh: ignoring $v=${!v}"
    unset "$v"
  fi
done

# the daemon and acceptance tests start sshd, switch uids and write
# /etc/pam.d: they need root; take it through sudo when that works unasked
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  exec sudo -E bash "$0" "$@"
fi

case "${CI:-}" in
'' | 0 | false | FALSE | False | no) ci=0 ;;
*) ci=1 ;;
esac
start=$(date +%s)

# -- the tallies
d_pass=0 d_fail=0 d_skip=0 # distinct checks
rep_report=""              # "valgrind 276 passed/0 failed/0 skipped; ..."
rep_fail=0 rep_skip=0      # failures and skips in repeated runs
oneshot_failed=()          # the one-shot checks that failed, by name
steps_ok=() steps_failed=() # steps, by name
step_fail=0                # step failures not already counted as checks
step_ok() { steps_ok+=("$1"); }
# step_failed NAME WHY [counted]: "counted" when the counts already hold it
step_failed() {
  steps_failed+=("$1")
  [ "${3:-}" = counted ] || step_fail=$((step_fail + 1))
  echo "   -> step $1: FAILED${2:+ ($2)}"
}

summary() {
  local failed=$((d_fail + rep_fail + step_fail))
  local skips=$((d_skip + rep_skip))
  echo "== summary ($(($(date +%s) - start)) s)"
  echo "checks: $d_pass distinct passed, $d_fail failed, $d_skip skipped${oneshot_failed[*]:+ (failed whole steps: ${oneshot_failed[*]})}"
  echo "repeated runs: ${rep_report:-none}"
  echo "steps: ${#steps_ok[@]} ok, ${#steps_failed[@]} failed${steps_failed[*]:+ (${steps_failed[*]})}"
  if [ "$skips" -gt 0 ]; then
    if [ "$ci" -eq 1 ]; then
      echo "CI: $skips skipped check(s) or suite(s) count as failures: in CI everything must run"
      failed=$((failed + skips))
    else
      echo "note: $skips check(s) or suite(s) skipped themselves (listed above); CI=true would fail them"
    fi
  fi
  echo "tests: $d_pass passed, $failed failed, $d_skip skipped"
  [ "$failed" -eq 0 ]
}

# meson_run KIND NAME DIR LOG [meson test options...]
#   KIND distinct: the checks are the distinct ones; repeated: a repeated run
# Deletes LOG, lists the tests the options select, runs them, then counts
# LOG.  The step fails if the list is empty, if the log is missing, damaged
# or lacks a listed test, or if meson test failed with no failed check to
# explain it.
meson_run() {
  local kind=$1 name=$2 dir=$3 log=$4
  shift 4
  local list console rc out last p f s n src t=$SECONDS
  rm -f "$log" "${log%.json}.txt"
  list=$(mktemp)
  console="$dir/meson-logs/console-$name.txt"
  if ! meson test -C "$dir" --no-rebuild --list "$@" >"$list" 2>&1 || [ ! -s "$list" ] ||
    grep -q '^No \(suitable \)\?tests defined' "$list"; then
    sed 's/^/   /' "$list"
    rm -f "$list"
    step_failed "$name" "meson test --list selected no test"
    [ "$kind" = distinct ] || rep_report="${rep_report:+$rep_report; }$name not run (no test selected)"
    return
  fi
  meson test -C "$dir" --no-rebuild --print-errorlogs "$@" >"$console" 2>&1
  rc=$?
  out=$(python3 tests/summarize.py --expect "$list" "$log")
  src=$?
  rm -f "$list"
  last=$(printf '%s\n' "$out" | tail -n 1)
  printf '%s\n' "$out" | sed '$d'
  if ! [[ $last =~ ^counts\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]]; then
    # summarize.py itself broke: nothing from this run can be trusted
    step_failed "$name" "tests/summarize.py exit $src, no counts"
    [ "$kind" = distinct ] || rep_report="${rep_report:+$rep_report; }$name not counted"
    return
  fi
  p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]} n=${BASH_REMATCH[4]}
  echo "   -> $p passed, $f failed, $s skipped in $n tests, $((SECONDS - t)) s (meson test exit $rc; output: $console)"
  if [ "$kind" = distinct ]; then
    d_pass=$((d_pass + p)) d_fail=$((d_fail + f)) d_skip=$((d_skip + s))
  else
    rep_fail=$((rep_fail + f)) rep_skip=$((rep_skip + s))
    rep_report="${rep_report:+$rep_report; }$name $p passed/$f failed/$s skipped ($n tests)"
  fi
  if [ "$src" -eq 2 ]; then
    step_failed "$name" "unreadable or empty log $log" counted
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    step_failed "$name" "meson test exit $rc with no failed check"
  else
    step_ok "$name"
  fi
}

# one_shot NAME COMMAND...: a whole step that is one distinct check
one_shot() {
  local name=$1 t=$SECONDS
  shift
  if "$@"; then
    d_pass=$((d_pass + 1))
    echo "   -> $name: ok, $((SECONDS - t)) s"
  else
    d_fail=$((d_fail + 1))
    oneshot_failed+=("$name")
    echo "   -> $name: FAILED, $((SECONDS - t)) s"
  fi
}

echo "== dependencies and the build"
if ! bash scripts/install-deps.sh; then
  step_failed deps
  summary
  exit 1
fi
step_ok deps
# a failed build would leave the previous binaries for meson test --no-rebuild
if ! bash scripts/build.sh; then
  step_failed build
  summary
  exit 1
fi
step_ok build
echo "   -> dependencies and build: $SECONDS s"

echo "== unit, CLI, daemon and acceptance tests"
meson_run distinct meson build build/meson-logs/testlog.json

echo "== the unit tests under valgrind (memory errors and leaks fail)"
# valgrind runs the store's concurrency tests many times slower: their 30 s
# timeout alone would fail them on a busy machine
meson_run repeated valgrind build build/meson-logs/testlog-valgrind.json --suite passkey-unit \
  --timeout-multiplier=4 --wrap='valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1'

echo "== the unit and CLI tests built with ASan and UBSan"
rm -f build-asan/meson-logs/testlog.json
asan_build=$(mktemp)
if { [ -f build-asan/build.ninja ] || CC=clang meson setup build-asan -Db_sanitize=address,undefined \
  -Db_lundef=false -Dtests=true; } >"$asan_build" 2>&1 && ninja -C build-asan >>"$asan_build" 2>&1; then
  step_ok asan-build
  # the daemon tests preload nss_wrapper (tests/lib/daemon.py), which opens
  # libc with RTLD_DEEPBIND unless told not to; ASan refuses that, and every
  # ASan passkeyd would exit at once.  The availability floods run 5 s each
  # here, not 15: this pass looks for memory errors under each attack, and
  # the plain pass above holds the 15 s ones (about 70 s of the 30 minutes)
  AVAIL_SECONDS=5 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    NSS_WRAPPER_DISABLE_DEEPBIND=1 meson_run repeated ASan build-asan build-asan/meson-logs/testlog.json --no-suite acceptance
else
  tail -n 30 "$asan_build" | sed 's/^/   /'
  step_failed asan-build "its tests did not run"
  rep_report="${rep_report:+$rep_report; }ASan not run (build failed)"
fi
rm -f "$asan_build"

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
      usr/share/doc/ssh-passkeys/examples/sshd_config.sample \
      usr/share/doc/ssh-passkeys/examples/aaguid-names.tsv \
      usr/share/man/man8/pam_passkey.8 usr/share/man/man8/passkeyd.8 \
      usr/share/man/man5/passkeyd.conf.5 usr/share/man/man1/passkeyctl.1 \
      usr/include/passkey-rp/passkey_rp.h usr/include/passkey-rp/rp_err.h \
      usr/include/passkey-rp/rp_b64url.h usr/lib/x86_64-linux-gnu/libpasskey-rp.a \
      usr/lib/x86_64-linux-gnu/pkgconfig/passkey-rp.pc usr/share/man/man3/passkey_rp.3; do
    [ -f "$stage/root/$f" ] || { echo "   missing: $f"; rc=1; }
  done
  for k in ProtectSystem=strict NoNewPrivileges=yes StateDirectory=passkeyd RuntimeDirectory=passkeyd User=passkeyd \
      ExecReload=; do
    grep -q "^$k" "$stage/root/usr/lib/systemd/system/passkeyd.service" 2>/dev/null || { echo "   unit lacks $k"; rc=1; }
  done
  # the sample config must be one the daemon accepts
  [ $rc -ne 0 ] || "$stage/root/usr/sbin/passkeyd" --config "$stage/root/etc/passkeyd/passkeyd.conf.sample" --check-config >/dev/null || rc=1
  rm -rf "$stage"
  return $rc
}
one_shot install check_install

echo "== Debian packages: dpkg-buildpackage, lintian, installed into a fresh Debian 12 root, purged"
one_shot debian bash -c 'bash tests/dist/test_debian.sh 2>&1 | sed "s/^/   /"; exit "${PIPESTATUS[0]}"'

# 30 s under CI, to keep the whole run under 30 minutes (11 harnesses, two
# at a time: about 3.5 minutes; at 45 s the run took 1811 s, fuzzing 299 s
# of it); fuzz/README.md gives the long form
fuzz_seconds=${FUZZ_SECONDS:-$([ "$ci" -eq 1 ] && echo 30 || echo 60)}
echo "== fuzzing: every harness, $fuzz_seconds s each, ASan+UBSan"
one_shot fuzz bash fuzz/run.sh "$fuzz_seconds"

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
one_shot browser capture_and_verify

echo "== the main job, headless: README's first command with Chromium approving"
one_shot demo bash -c 'bash scripts/demo.sh --headless > build/demo.log 2>&1 || { tail -30 build/demo.log; exit 1; }'
echo "== the fleet demo: bash scripts/demo.sh --fleet --headless (PostgreSQL, nginx, two hosts)"
one_shot demo-fleet bash -c 'bash scripts/demo.sh --fleet --headless > build/demo-fleet.log 2>&1 || { tail -30 build/demo-fleet.log; exit 1; }'

echo "== benchmark (figures only; ratios against OpenSSL in the same run)"
one_shot bench build/bench/passkey-bench
echo "== ceremony benchmark, short form (passkeyd against the JavaScript peer; begins at 1k and 20k pending; logins during a root listing)"
one_shot ceremony-bench bash bench/ceremony.sh --short

summary
