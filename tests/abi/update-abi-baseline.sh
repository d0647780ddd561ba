#!/bin/sh
# Record the ABI baselines (tests/abi/*.abi) from a build, on purpose: after
# adding functions that are being released, or after a deliberate,
# documented change (docs/abi.md). Review `git diff tests/abi/*.abi` before
# committing: every line of it is a promise to programs linked against us.
#
# Usage: tests/abi/update-abi-baseline.sh [BUILD_DIR]   (default: ./build)
# The build must be a plain one (no sanitizers) with debug information
# (buildtype debugoptimized, the default, or debug). Needs abidw
# (apt-get install abigail-tools).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" && pwd)

command -v abidw >/dev/null 2>&1 || {
	echo "error: abidw not found; install abigail-tools" >&2
	exit 1
}
[ -f "$build/build.ninja" ] || {
	echo "error: $build is not a meson build directory" >&2
	exit 1
}
sanitize=$(meson introspect --buildoptions "$build" |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"][0])')
if [ "$sanitize" != "none" ]; then
	echo "error: $build is built with -fsanitize=$sanitize; use a plain build" >&2
	exit 1
fi

ninja -C "$build" >/dev/null || { echo "error: the build failed" >&2; exit 1; }

dump() { # library output
	if ! readelf -S "$1" | grep -q '\.debug_info'; then
		echo "error: $1 has no debug information (build with -g)" >&2
		exit 1
	fi
	sh "$here/abi-dump.sh" abidw "$1" "$root/include/cognition" "$2"
	echo "wrote $2 from $1"
}

dump "$build/lib/libcognition.so" "$here/libcognition.abi"
for sub in curl sqlite; do
	lib=$build/lib/backends/$sub/libcognition-$sub.so
	if [ -f "$lib" ]; then
		dump "$lib" "$here/libcognition-$sub.abi"
	else
		echo "warning: $lib not built (configure with -D$sub=enabled); its baseline is unchanged" >&2
	fi
done
