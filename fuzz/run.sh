#!/usr/bin/env bash
# Build the libFuzzer harnesses and run each for a while.
#
#   bash fuzz/run.sh [SECONDS_PER_HARNESS]        (default 60)
#
# Environment:
#   FUZZ_JOBS=N          harnesses run at once (default 2)
#   FUZZ_HARNESSES="a b" run only these (default: all ten)
#   FUZZ_BUILD_DIR=DIR   build directory (default build-fuzz, at the top)
#   FUZZ_CORPUS=DIR      keep the corpus in DIR/<harness> across runs
#                        (default: a temporary directory, removed at exit)
#
# Every file in fuzz/regress/<harness>/ is first replayed once and must
# pass.  Crash, leak, timeout and OOM reproducers of the run are written to
# $FUZZ_BUILD_DIR/fuzz-artifacts/<harness>/, full logs to
# $FUZZ_BUILD_DIR/fuzz-logs/.  Exits non-zero if any harness failed.
set -u -o pipefail

secs=${1:-60}
case $secs in
'' | *[!0-9]*) echo "usage: bash fuzz/run.sh [SECONDS_PER_HARNESS]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top" || exit 2
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
harnesses=${FUZZ_HARNESSES:-"fuzz_clientdata fuzz_authdata fuzz_attobj fuzz_cose
	fuzz_verify_registration fuzz_verify_assertion fuzz_control fuzz_config
	fuzz_pam_options fuzz_aaguid fuzz_client_key"}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

start=$(date +%s)
log() { printf '%s\n' "$*"; }

# --- build ---------------------------------------------------------------
# shellcheck disable=SC2054 # the comma is part of the value
setup_opts=(-Dfuzz=true -Dtests=false -Db_sanitize=address,undefined
	-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link
	-Dbuildtype=debugoptimized)
if [ -f "$build/build.ninja" ] &&
	! grep -q '^C compiler for the host machine: clang' \
		"$build/meson-logs/meson-log.txt" 2>/dev/null; then
	log "fuzz: $build was not configured with clang; recreating it"
	rm -rf "$build"
fi
if [ -f "$build/build.ninja" ]; then
	meson configure "$build" "${setup_opts[@]}" >/dev/null || exit 2
else
	CC=clang meson setup "$build" "${setup_opts[@]}" >"$build.setup.log" 2>&1 || {
		cat "$build.setup.log" >&2
		rm -f "$build.setup.log"
		exit 2
	}
	rm -f "$build.setup.log"
fi
targets=()
for h in $harnesses; do targets+=("fuzz/$h"); done
ninja -C "$build" "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
	cat "$build/fuzz-build.log" >&2
	log "fuzz: build failed"
	exit 2
}
log "fuzz: built ${#targets[@]} harnesses in $build ($(($(date +%s) - start)) s)"

# --- corpora -----------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssh-passkeys-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
corpus=${FUZZ_CORPUS:-$tmp/corpus}
mkdir -p "$corpus"
"$python" "$here/seeds.py" "$corpus" | sed 's/^/fuzz: /' || exit 2

logs=$build/fuzz-logs
arts=$build/fuzz-artifacts
mkdir -p "$logs"

# Sanitizers: stop on the first report (UBSan would otherwise continue),
# with symbolised stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

fuzz_args=(-timeout=10 -rss_limit_mb=2048 -max_len=70000)

# Runs one harness: regressions, then fuzzing.  Writes $tmp/<h>.result.
run_one() {
	local h=$1 bin=$build/fuzz/$1 out=$logs/$1.log res=$tmp/$1.result
	local rdir=$here/regress/$1 files=() f status
	: >"$out"
	rm -rf "${arts:?}/${h:?}"
	mkdir -p "$arts/$h" "$corpus/$h"
	if [ -d "$rdir" ]; then
		for f in "$rdir"/*; do [ -f "$f" ] && files+=("$f"); done
	fi
	if [ ${#files[@]} -gt 0 ]; then
		for f in "${files[@]}"; do
			if ! "$bin" "${fuzz_args[@]}" "$f" >>"$out" 2>&1; then
				printf 'FAIL regress %s\n' "${f#"$top"/}" >"$res"
				return
			fi
		done
	fi
	local dict=()
	[ -f "$here/$h.dict" ] && dict=(-dict="$here/$h.dict")
	local extra=()
	[ ${#files[@]} -gt 0 ] && extra=("$rdir")
	"$bin" "${fuzz_args[@]}" "${dict[@]}" -max_total_time="$secs" \
		-print_final_stats=1 -artifact_prefix="$arts/$h/" \
		"$corpus/$h" "${extra[@]}" >>"$out" 2>&1 </dev/null
	status=$?
	if [ $status -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|^SUMMARY: |runtime error: |ALARM: working on|out-of-memory' "$out"; then
		f=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out" | tail -n 1)
		printf 'FAIL fuzz %s\n' "${f:-none (exit status $status)}" >"$res"
	else
		printf 'PASS\n' >"$res"
	fi
}

summary_line() {
	local h=$1 out=$logs/$1.log execs cov ft corp rate
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n 1)
	cov=$(grep -oE ' cov: [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	ft=$(grep -oE ' ft: [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+')
	corp=$(grep -oE ' corp: [0-9]+/[0-9]+[A-Za-z]*' "$out" | tail -n 1 | sed 's/ corp: //')
	printf 'execs: %s (%s/s) cov: %s ft: %s corp: %s' \
		"${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
}

# --- run, FUZZ_JOBS at a time --------------------------------------------------
log "fuzz: ${secs} s per harness, $jobs at a time"
running=0
for h in $harnesses; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$h" &
	running=$((running + 1))
done
wait

passed=0
failed=0
for h in $harnesses; do
	read -r verdict what where <"$tmp/$h.result" 2>/dev/null || verdict=FAIL
	if [ "$verdict" = PASS ]; then
		passed=$((passed + 1))
		log "$h: PASS $(summary_line "$h")"
	else
		failed=$((failed + 1))
		log "$h: FAIL (${what:-?}) input: ${where:-?}  $(summary_line "$h")"
		log "    log: $logs/$h.log"
		# The sanitizer's verdict and the first frames in the core.
		grep -E 'ERROR: |SUMMARY: |runtime error: |ALARM: |out-of-memory|^ +#[0-9]+ ' "$logs/$h.log" |
			grep -vE ' in (fuzzer::|__sanitizer|__asan|__ubsan|__lsan|__interceptor|__libc_start|_start\b|main\b|abort\b|raise\b|malloc\b|calloc\b|realloc\b|free\b)|libc\.so|/compiler-rt/' |
			head -n 12 | sed -e "s|$top/$build/\.\./||g" -e "s|$top/||g" -e 's/^/    /'
	fi
done
log "fuzz: wall time $(($(date +%s) - start)) s"
log "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
