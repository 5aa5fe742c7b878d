#!/usr/bin/env bash
# Configures (once) and builds into build/.  Says what it is doing: on a
# cold machine the first build takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
	echo "build: configuring build/ (meson setup)"
	meson setup build -Dtests=true >/dev/null
fi
todo=$(ninja -C build -n 2>/dev/null | grep -c '^\[' || true)
if [ "$todo" -gt 0 ]; then
	echo "build: compiling ($todo steps; ninja -C build)"
	ninja -C build >/dev/null
	echo "build: done"
fi
