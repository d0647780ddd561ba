#!/bin/sh
# Install the build into a scratch root, then build examples/pkgconfig with
# its own plain Makefile against the *installed* tree, pkg-config pointed at
# the installed .pc files, and run the consumer with the installed library.
# Usage: BUILD_DIR PKGCONFIG_EXAMPLE_DIR CC [EXTRA_CFLAGS]
set -u
build=$1 example=$2 cc=$3 extra=${4:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() {
	echo "not ok - $*"
	echo "pkgconfig-make: 0 passed, 1 failed"
	exit 1
}
command -v make >/dev/null || fail "make is not installed (build-essential in .ci/deps)"
command -v pkg-config >/dev/null || fail "pkg-config is not installed (.ci/deps)"
meson install -C "$build" --no-rebuild --quiet --destdir "$root/dest" >"$root/install.log" 2>&1 ||
	fail "meson install failed: $(tail -5 "$root/install.log")"
pc=$(find "$root/dest" -name libcognition.pc | head -1)
[ -n "$pc" ] || fail "libcognition.pc not installed"
lib=$(find "$root/dest" -name 'libcognition.so.1' | head -1)
[ -n "$lib" ] || fail "libcognition.so.1 not installed"
# A copy, so the build writes nothing into the source tree.
mkdir "$root/src" || fail "cannot create $root/src"
cp "$example/Makefile" "$example/consumer.c" "$root/src/" || fail "cannot copy $example"
# The .pc files name the real prefix (/usr/local...); the sysroot puts the
# destdir in front of every -I and -L path they give.
PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$root/dest" \
	make -C "$root/src" CC="$cc" CFLAGS="-O1 $extra -Werror" >"$root/make.log" 2>&1 ||
	fail "make against the installed tree failed: $(cat "$root/make.log")"
(cd "$root/src" && LD_LIBRARY_PATH=$(dirname "$lib") ./consumer "$root/consumer.db") >"$root/run.log" 2>&1 ||
	fail "consumer failed: $(cat "$root/run.log")"
grep -q '^libcognition .*: {"text":"hi"}$' "$root/run.log" || fail "unexpected output: $(cat "$root/run.log")"
LD_LIBRARY_PATH=$(dirname "$lib") ldd "$root/src/consumer" | grep -q "$root/dest" ||
	fail "consumer did not load the installed library"
echo "ok - make built examples/pkgconfig against the installed tree and it ran: $(cat "$root/run.log")"
echo "pkgconfig-make: 1 passed, 0 failed"
