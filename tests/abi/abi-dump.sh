#!/bin/sh
# Write the ABI description (libabigail's abidw) of LIBRARY to OUT, keeping
# only what the public headers in HEADERS_DIR declare. Used by both
# check-abi.sh and update-abi-baseline.sh, so the baseline and the library
# under test are described the same way. The flags keep the description
# independent of where and when it was built: no source locations, no
# build paths, no DT_NEEDED list, type ids from hashes.
# Usage: abi-dump.sh ABIDW LIBRARY HEADERS_DIR OUT
set -eu
abidw=$1
lib=$2
headers=$3
out=$4
"$abidw" --no-show-locs --no-corpus-path --no-comp-dir-path --no-elf-needed \
	--drop-private-types --drop-undefined-syms --type-id-style hash \
	--headers-dir "$headers" --out-file "$out.tmp" "$lib"
# A translation unit's path is relative to the build directory (or absolute
# for a build outside the tree): keep it from the source folder on.
sed "s#<abi-instr \(.*\) path='[^']*/lib/#<abi-instr \1 path='lib/#" "$out.tmp" >"$out"
rm -f "$out.tmp"
