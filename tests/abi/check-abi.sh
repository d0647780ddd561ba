#!/bin/sh
# Compare a built library's ABI with the checked-in baseline (libabigail's
# abidw and abidiff, Debian package abigail-tools). Only the public headers
# count: abi-dump.sh describes the library with abidw --headers-dir
# --drop-private-types, exactly as the baseline was made, so private types
# may change freely. (abidiff --headers-dir2 against the baseline would not
# do: it tells public types by their source locations, which the baseline
# leaves out to stay stable, and then filters every change away.)
#
# Passes when the library has everything the baseline has, unchanged:
# functions and variables may be added (the output says so; run
# tests/abi/update-abi-baseline.sh to record them). Fails on anything else:
# a removed symbol (abidiff's ABIDIFF_ABI_INCOMPATIBLE_CHANGE, bit 8), and
# also a changed function or variable (a parameter or return type, a
# public struct's layout, a vtable's members), which abidiff reports only as
# ABIDIFF_ABI_CHANGE (bit 4) and leaves to a human: here the human must say
# so by updating the baseline on purpose (docs/abi.md).
#
# Sanitized builds are checked too: with only the public headers' types
# kept, the ASan+UBSan library (-O0, instrumented) is described exactly as
# the plain one. Should a sanitizer ever change that, the failure says the
# build is sanitized.
#
# Usage: check-abi.sh ABIDW ABIDIFF LIBRARY BASELINE HEADERS_DIR SANITIZE
#   ABIDW, ABIDIFF  paths of the tools, or "" when meson did not find them
#   SANITIZE  meson's b_sanitize ("none" for a plain build)
set -u
abidw=$1
abidiff=$2
lib=$3
baseline=$4
headers=$5
sanitize=$6
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$lib")

for tool in "$abidw" "$abidiff"; do
	if [ -z "$tool" ] || ! command -v "$tool" >/dev/null 2>&1; then
		echo "not ok - abidw/abidiff not found: install abigail-tools (apt-get install abigail-tools)"
		echo "abi: 0 passed, 1 failed"
		exit 1
	fi
done
if [ ! -f "$baseline" ]; then
	echo "not ok - no baseline $baseline: run tests/abi/update-abi-baseline.sh"
	echo "abi: 0 passed, 1 failed"
	exit 1
fi
if ! readelf -S "$lib" 2>/dev/null | grep -q '\.debug_info'; then
	# abidiff needs DWARF for types: without it the check cannot be done.
	echo "not ok - $name has no debug information, so its types cannot be compared: build"
	echo "  with -g (buildtype debugoptimized, the default, or debug; or -Dc_args=-g)"
	echo "abi: 0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/abidiff.out
if ! sh "$here/abi-dump.sh" "$abidw" "$lib" "$headers" "$tmp/current.abi" >"$out" 2>&1; then
	cat "$out"
	echo "not ok - $name: abidw could not describe the library"
	echo "abi: 0 passed, 1 failed"
	exit 1
fi
"$abidiff" --no-show-locs "$baseline" "$tmp/current.abi" >"$out" 2>&1
rc=$?
cat "$out"

fail() {
	echo "not ok - $name: $1"
	if [ "$sanitize" != "none" ]; then
		echo "  (this build uses -fsanitize=$sanitize: compare with a plain build before"
		echo "  deciding the change is real)"
	fi
	echo "  If the change is intended (a new major version, or a versioned struct growing at"
	echo "  its end as docs/abi.md allows), record it: tests/abi/update-abi-baseline.sh"
	echo "abi: 0 passed, 1 failed"
	exit 1
}

# Bits 1 (error) and 2 (usage): abidiff could not compare.
if [ $((rc & 3)) -ne 0 ]; then
	fail "abidiff failed (exit status $rc)"
fi
if [ $((rc & 8)) -ne 0 ]; then
	fail "incompatible ABI change (a function or variable of the baseline is gone)"
fi
if [ $((rc & 4)) -ne 0 ]; then
	# Summaries look like "Functions changes summary: 0 Removed, 1 Changed
	# (2 filtered out), 3 Added functions" (variables and symbols alike).
	bad=$(grep -E 'changes summary:' "$out" |
		grep -E '(^|[^0-9])([1-9][0-9]*) (Removed|Changed)' || true)
	if [ -n "$bad" ]; then
		fail "ABI change beyond additions: $(echo "$bad" | tr '\n' ' ')"
	fi
	if ! grep -qE 'changes summary:.*[1-9][0-9]* Added' "$out"; then
		fail "abidiff reported a change (exit status $rc) that is not an addition"
	fi
	echo "ok - $name keeps the baseline's ABI; additions above are not in the baseline yet"
	echo "  (record them with tests/abi/update-abi-baseline.sh when they are released)"
	echo "abi: 1 passed, 0 failed"
	exit 0
fi
if grep -q 'filtered out' "$out"; then
	echo "ok - $name keeps the ABI of $(basename "$baseline") (abidiff filtered out only harmless changes)"
else
	echo "ok - $name has exactly the ABI of $(basename "$baseline")"
fi
echo "abi: 1 passed, 0 failed"
exit 0
