#!/usr/bin/env bash
# The whole test suite: unit and CLI tests, the same under valgrind and
# under ASan+UBSan, every fuzz harness for a bounded time, a fresh capture
# from real headless Chromium verified through passkeyctl, and the
# benchmark.  Ends with one line "tests: N passed, M failed".
#   FUZZ_SECONDS=N   seconds per fuzz harness (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
bash scripts/build.sh || exit 1

passed=0
failed=0
count_log() {	# adds a meson testlog's cases to the totals
  read -r p f < <(python3 tests/summarize.py "$1")
  passed=$((passed + p)); failed=$((failed + f))
  echo "   -> $p passed, $f failed"
}
step() {	# a whole step that passes or fails as one
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "   -> $name: ok"
  else failed=$((failed + 1)); echo "   -> $name: FAILED"; fi
}

echo "== unit and CLI tests"
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
  meson test -C build-asan --print-errorlogs >/dev/null
count_log build-asan/meson-logs/testlog.json

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

echo "== benchmark (figures only; ratios against OpenSSL in the same run)"
step "bench" build/bench/passkey-bench

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
