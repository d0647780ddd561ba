#!/bin/sh
# Install the build into a scratch root, then build and run a consumer
# against the *installed* tree with nothing but pkg-config's answers.
# Usage: BUILD_DIR CONSUMER_SOURCE CC [EXTRA_CFLAGS]
set -u
build=$1 src=$2 cc=$3 extra=${4:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() {
	echo "not ok - $*"
	echo "install: 0 passed, 1 failed"
	exit 1
}
meson install -C "$build" --no-rebuild --quiet --destdir "$root" >"$root/install.log" 2>&1 ||
	fail "meson install failed: $(tail -5 "$root/install.log")"
pcdir=$(dirname "$(find "$root" -name libcognition.pc | head -1)")
[ -f "$pcdir/libcognition-sqlite.pc" ] || fail "libcognition-sqlite.pc not installed"
[ -f "$pcdir/libcognition-curl.pc" ] || fail "libcognition-curl.pc not installed"
inc=$(find "$root" -name cognition.h -path '*/include/*' | head -1)
[ -n "$inc" ] && [ -f "$(dirname "$inc")/cognition/version.h" ] || fail "headers not installed under include/cognition"
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs libcognition libcognition-sqlite) || fail "pkg-config cannot resolve libcognition libcognition-sqlite"
# shellcheck disable=SC2086
"$cc" $extra -std=c11 -Wall -Wextra -Werror -o "$root/consumer" "$src" $flags 2>"$root/cc.log" ||
	fail "consumer does not build against the installed tree: $(cat "$root/cc.log")"
libdir=$(dirname "$(find "$root" -name 'libcognition.so.1' | head -1)")
(cd "$root" && LD_LIBRARY_PATH="$libdir" ./consumer "$root/consumer.db") >"$root/run.log" 2>&1 ||
	fail "consumer failed: $(cat "$root/run.log")"
# The binary must really have loaded the installed libraries.
LD_LIBRARY_PATH="$libdir" ldd "$root/consumer" | grep -q "$root" || fail "consumer did not link the installed libraries"
echo "ok - consumer built with pkg-config against the installed tree and ran: $(cat "$root/run.log")"
echo "install: 1 passed, 0 failed"
