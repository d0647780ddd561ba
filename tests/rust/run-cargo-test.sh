#!/bin/sh
# Runs `cargo test --offline` in bindings/rust against this build's library.
# Usage: run-cargo-test.sh BINDINGS_DIR LIB_DIR INCLUDE_DIRS CARGO_TARGET_DIR SANITIZE
# Prints "rust: N passed, M failed" (summed from cargo's "test result:"
# lines) for .ci/count-results.py. A missing cargo is a failure, not a skip.
set -u
bindings=$1 libdir=$2 includes=$3 target=$4 sanitize=$5

cargo=${CARGO:-}
if [ -z "$cargo" ]; then
	cargo=$(command -v cargo 2>/dev/null || true)
fi
if [ -z "$cargo" ] && [ -x "${HOME:-/nonexistent}/.cargo/bin/cargo" ]; then
	cargo=$HOME/.cargo/bin/cargo
fi
if [ -z "$cargo" ]; then
	echo "rust: cargo not found (not on PATH, not in ~/.cargo/bin, \$CARGO unset):" \
		"install it (Debian: apt-get install cargo) to test bindings/rust"
	echo "rust: 0 passed, 1 failed"
	exit 1
fi

export COGNITION_LIB_DIR="$libdir"
export COGNITION_INCLUDE_DIR="$includes"
export CARGO_TARGET_DIR="$target"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# cargo and rustc may live beside each other outside PATH (~/.cargo/bin).
PATH="$(dirname "$cargo"):$PATH"
export PATH
if [ "$sanitize" != none ]; then
	# The library is instrumented and the Rust programs are not: the
	# sanitizer runtimes must come first, so the test programs (only them:
	# cargo's runner, not cargo or rustc) start with them preloaded.
	preload=
	for rt in address:libasan.so undefined:libubsan.so; do
		case ",$sanitize," in
		*",${rt%%:*},"*)
			lib=$("${CC:-cc}" -print-file-name="${rt#*:}")
			case $lib in
			/*) preload="$preload:$lib" ;;
			*)
				echo "rust: the ${rt%%:*} sanitizer runtime (${rt#*:}) was not found with ${CC:-cc}"
				echo "rust: 0 passed, 1 failed"
				exit 1 ;;
			esac ;;
		esac
	done
	for rt in $(echo "$sanitize" | tr ',' ' '); do
		case $rt in
		address|undefined) ;;
		*)
			echo "rust: skipped: the sanitizer '$rt' cannot be preloaded into the Rust test programs"
			exit 77 ;;
		esac
	done
	host=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
	export "CARGO_TARGET_${host}_RUNNER=env LD_PRELOAD=${preload#:}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
fi

log="$target/cargo-test.log"
mkdir -p "$target"
cd "$bindings" || exit 1
"$cargo" --version
"$cargo" test --offline >"$log" 2>&1
status=$?
cat "$log"
awk -v status="$status" '
	/^test result:/ {
		for (i = 1; i <= NF; i++) {
			if ($(i + 1) ~ /^passed/) p += $i
			if ($(i + 1) ~ /^failed/) f += $i
		}
	}
	END {
		if (status != 0 && f == 0) f = 1   # a build or link failure
		printf "rust: %d passed, %d failed\n", p, f
	}' "$log"
exit $status
