#!/usr/bin/env bash
# Whole login ceremonies: passkeyd against a JavaScript relying party
# (bench/peer/, @simplewebauthn/server), measured in the same run, and the
# other figures of the performance issue (bench/ceremony.py says which).
#
#   bash bench/ceremony.sh           the long form (3 rounds of 5 s, 100k pending)
#   bash bench/ceremony.sh --short   what scripts/test.sh runs (1 round of 2 s, 20k)
#   bash bench/ceremony.sh --baseline-rev REV [--only ceremonies]
#                                    also an older passkeyd, built from the
#                                    commit REV, in the same rounds: the
#                                    "before" of a change (the performance
#                                    issue was filed at 0c02546); use the
#                                    long form: its rounds alternate the
#                                    order, the short form's one round does
#                                    not (HEAD against HEAD: 0.99 / 1.00 /
#                                    1.11 long, 0.80 / 0.79 / 0.88 short)
#
# REV's tree is exported with git archive into build/baseline-REV and built
# there (the build folder is ignored by git and kept for the next run).
# Builds passkeyd and bench/ceremony-load (libcurl), and installs the
# peer's npm packages into bench/peer/node_modules once (better-sqlite3
# compiles from source here: about 4 minutes).  Needs no root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
[ -x build/bench/ceremony-load ] || {
	echo "ceremony.sh: build/bench/ceremony-load was not built (libcurl4-openssl-dev missing?)" >&2
	exit 1
}
if [ ! -d bench/peer/node_modules/better-sqlite3 ]; then
	# node-gyp takes Node's headers from /usr when they are there (Node's
	# own packages ship them); it must not try to download them
	nodedir=()
	[ -f /usr/include/node/node.h ] && nodedir=(--nodedir=/usr)
	(cd bench/peer && npm ci --no-audit --no-fund --loglevel=error "${nodedir[@]}")
fi
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--baseline-rev)
		[ $# -ge 2 ] || { echo "ceremony.sh: --baseline-rev needs a commit" >&2; exit 2; }
		rev=$(git rev-parse --verify --quiet "$2^{commit}") || {
			echo "ceremony.sh: $2 is not a commit here" >&2
			exit 2
		}
		base=build/baseline-${rev:0:12}
		if [ ! -x "$base/build/passkeyd/passkeyd" ]; then
			rm -rf "$base"
			mkdir -p "$base"
			git archive "$rev" | tar -x -C "$base"
			meson setup "$base/build" "$base" >/dev/null
			ninja -C "$base/build" passkeyd/passkeyd >/dev/null
		fi
		args+=(--baseline "$base/build/passkeyd/passkeyd")
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
exec python3 bench/ceremony.py --passkeyd build/passkeyd/passkeyd \
	--load build/bench/ceremony-load --peer bench/peer/server.mjs "${args[@]}"
