#!/bin/sh
# Compile every public header alone, as C11 and as C++17, with
# -Wall -Wextra -pedantic -Werror (libgit2's headertest, in spirit).
# Usage: CC CXX SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR
set -u
cc=$1 cxx=$2 src=$3 gen=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for header in "$src"/cognition.h "$src"/cognition/*.h; do
	rel=${header#"$src"/}
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$rel" "$rel" > "$tmp/t.c"
	cp "$tmp/t.c" "$tmp/t.cpp"
	for lang in c cpp; do
		if [ $lang = c ]; then
			set -- "$cc" -std=c11 -x c "$tmp/t.c"
		else
			set -- "$cxx" -std=c++17 -x c++ "$tmp/t.cpp"
		fi
		if "$@" -Wall -Wextra -pedantic -Werror -I"$src" -I"$gen" -c -o "$tmp/t.o" 2>"$tmp/err"; then
			echo "ok - $rel compiles alone as $lang"
			pass=$((pass + 1))
		else
			echo "not ok - $rel does not compile alone as $lang:"
			sed 's/^/  /' "$tmp/err"
			fail=$((fail + 1))
		fi
	done
done
echo "headers: $pass passed, $fail failed"
[ $fail -eq 0 ]
