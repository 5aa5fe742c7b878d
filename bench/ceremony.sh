#!/usr/bin/env bash
# Whole login ceremonies: passkeyd against a JavaScript relying party
# (bench/peer/, @simplewebauthn/server), measured in the same run, and the
# other figures of the performance issue (bench/ceremony.py says which).
#
#   bash bench/ceremony.sh           the long form (3 rounds of 5 s, 100k pending)
#   bash bench/ceremony.sh --short   what scripts/test.sh runs (1 round of 2 s, 20k)
#
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
exec python3 bench/ceremony.py --passkeyd build/passkeyd/passkeyd \
	--load build/bench/ceremony-load --peer bench/peer/server.mjs "$@"
