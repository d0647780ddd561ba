# Shared by the cog CLI tests (sourced): pass/fail counting and checks of a
# command's exit code, output and JSON. The caller cds into a scratch dir.

pass=0 fail=0

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

# expect NAME EXIT_CODE PATTERN COMMAND...: exit code and output pattern.
expect() {
	name=$1 code=$2 pattern=$3
	shift 3
	"$@" >out.txt 2>err.txt
	got=$?
	if [ "$got" -ne "$code" ]; then
		bad "$name: exit $got, expected $code; stdout: $(head -c 400 out.txt) stderr: $(head -c 400 err.txt)"
	elif ! grep -q -- "$pattern" out.txt err.txt; then
		bad "$name: output lacks '$pattern': $(head -c 400 out.txt) $(head -c 400 err.txt)"
	else
		ok "$name"
	fi
}

# is_json NAME: stdout of the last expect is one JSON object.
is_json() {
	if python3 -c 'import json,sys; o=json.load(open("out.txt")); assert isinstance(o, dict)' 2>/dev/null; then
		ok "$1 prints JSON"
	else
		bad "$1 does not print one JSON object: $(head -c 300 out.txt)"
	fi
}

# finish NAME: the closing count line and the exit status.
finish() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
