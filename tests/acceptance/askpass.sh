#!/bin/sh
# tests/acceptance/askpass.sh - the SSH_ASKPASS / SUDO_ASKPASS program of the acceptance harness
# (tests/acceptance/run.mjs).
#
# ssh (or `sudo -A`) runs it once per prompt, with the prompt text in $1; what it prints on
# stdout is the answer. It hands the prompt to the harness through a directory named by
# $PKT_ASKPASS_DIR (ssh and sudo pass their environment on to the askpass program):
#
#   prompt.PID     written here (atomically, by rename): the prompt text, as received
#   answer.PID     written by the harness (atomically): the answer, one line
#   answered.PID   written here right after printing the answer: the time, ns since the epoch
#
# Waits at most $PKT_ASKPASS_TIMEOUT seconds (default 120) for the answer, then exits 1,
# which ssh and sudo treat as "no answer".
set -u
dir=${PKT_ASKPASS_DIR:?PKT_ASKPASS_DIR is not set}
limit=${PKT_ASKPASS_TIMEOUT:-120}
id=$$

printf '%s' "${1-}" > "$dir/.prompt.$id" || exit 1
mv -f "$dir/.prompt.$id" "$dir/prompt.$id" || exit 1

# 50 polls a second; each poll sleeps at least 20 ms, so the count bounds the wait.
n=0
max=$((limit * 50))
while [ ! -f "$dir/answer.$id" ]; do
	n=$((n + 1))
	if [ "$n" -gt "$max" ]; then
		echo "askpass: no answer within ${limit} s" >&2
		exit 1
	fi
	sleep 0.02
done
cat "$dir/answer.$id" || exit 1
date +%s%N > "$dir/answered.$id"
exit 0
