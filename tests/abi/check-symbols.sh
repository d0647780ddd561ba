#!/bin/sh
# Fail when a built library exports anything but the symbols listed in the
# checked-in file (curl's test 1119, in spirit), or exports one outside the
# version node. Usage: LIBRARY SYMBOL_FILE VERSION_NODE
set -u
lib=$1
list=$2
node=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/actual"
grep -v -e '^#' -e '^$' "$list" | sort -u > "$tmp/expected"
name=$(basename "$lib")
status=0
if [ -s "$tmp/actual" ] && comm -23 "$tmp/actual" "$tmp/expected" | grep -q .; then
	echo "not ok - $name exports symbols missing from $(basename "$list"):"
	comm -23 "$tmp/actual" "$tmp/expected" | sed 's/^/  /'
	status=1
fi
if comm -13 "$tmp/actual" "$tmp/expected" | grep -q .; then
	echo "not ok - $name lacks symbols listed in $(basename "$list"):"
	comm -13 "$tmp/actual" "$tmp/expected" | sed 's/^/  /'
	status=1
fi
unversioned=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
	grep -v "^$node\$" | grep -v "@@$node\$")
if [ -n "$unversioned" ]; then
	echo "not ok - $name exports symbols outside version node $node:"
	printf '%s\n' "$unversioned" | sed 's/^/  /'
	status=1
fi
if [ $status -eq 0 ]; then
	echo "ok - $name exports exactly the $(wc -l < "$tmp/expected") listed symbols, all in $node"
	echo "symbols: 1 passed, 0 failed"
else
	echo "symbols: 0 passed, 1 failed"
fi
exit $status
