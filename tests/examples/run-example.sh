#!/bin/sh
# Run one example program and check what it printed.
# Usage: run-example.sh NAME PROGRAM EXAMPLES_SOURCE_DIR
# Prints "ok"/"not ok" lines and "NAME: N passed, N failed".
set -u
name=$1 prog=$2 src=$3
# meson passes the program relative to the build dir: make it absolute
# before moving to the scratch dir.
case $prog in /*) ;; *) prog=$(pwd)/$prog ;; esac
[ -x "$prog" ] || { echo "not ok - $name: no program $prog"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
pass=0 fail=0
ok() { echo "ok - $name: $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $name: $1"; fail=$((fail + 1)); }

# run EXPECTED_EXIT ARGS...: the program's exit code, output in out.txt/err.txt.
run() {
	want=$1
	shift
	"$prog" "$@" >out.txt 2>err.txt
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok "exits $want"
	else
		bad "exit $got, expected $want; stdout: $(head -c 600 out.txt); stderr: $(head -c 600 err.txt)"
	fi
}

# has PATTERN [FILE]: a fixed string in the output.
has() {
	if grep -qF -- "$1" "${2:-out.txt}"; then
		ok "prints '$1'"
	else
		bad "output lacks '$1': $(head -c 600 "${2:-out.txt}")"
	fi
}

# json_check DESCRIPTION LINE_PREFIX PYTHON_EXPR: the JSON after LINE_PREFIX
# on a line of out.txt (the whole output when the prefix is empty) makes
# the expression (over `o`) true.
json_check() {
	if python3 - "$2" "$3" <<'PY'
import json, sys
prefix, expr = sys.argv[1], sys.argv[2]
text = open("out.txt").read()
if prefix:
    text = next(l[len(prefix):] for l in text.splitlines() if l.startswith(prefix))
o = json.loads(text)
sys.exit(0 if eval(expr) else 1)
PY
	then ok "$1"; else bad "$1: $(head -c 600 out.txt)"; fi
}

case $name in
goal)
	mkdir -p work/data && cp "$src/data/sales.csv" work/data/
	run 0 "$src/goal/templates" work goal.db "look into data/sales.csv"
	json_check "the plan succeeded" "" 'o["state"] == "succeeded" and [t["id"] for t in o["tasks"]] == ["list", "read"]'
	json_check "list_dir saw the data folder" "" '{"name": "data", "type": "dir"} in o["tasks"][0]["result"]["entries"]'
	json_check "file_read read the CSV header" "" 'o["tasks"][1]["result"]["content"].startswith("date,region,product")'
	if [ -s goal.db ]; then ok "journaled in SQLite"; else bad "goal.db is empty or missing"; fi
	run 1 "$src/goal/templates" work goal.db "bake a cake"
	has "planning the goal" err.txt
	has "not found" err.txt
	;;
tool-c)
	run 0
	json_check "the plan's tool task converted 100 C" "plan task: " 'o["state"] == "succeeded" and o["result"] == {"fahrenheit": 212}'
	has "bad call: status -12 (schema violation)"
	has "/celsius: type: expected number, got string"
	json_check "the bad call's error object" "bad call result: " 'o["error"]["type"] == "invalid_arguments" and o["error"]["details"][0]["instance"] == "/celsius"'
	;;
llm-vtable)
	run 0
	has "requests answered by the rules LLM: 2"
	json_check "the agent task got the answer through the tool" "task: " 'o["state"] == "succeeded" and o["result"]["content"] == "2 + 3 = 5" and o["result"]["tool_calls"] == 1 and o["result"]["turns"] == 2 and o["result"]["stopped"] == "answer"'
	;;
storage-vtable)
	run 0
	json_check "the durable plan read back from the host's store" "loaded from the list store: " 'o["state"] == "succeeded" and [t["id"] for t in o["tasks"]] == ["fetch", "transform", "check", "publish"] and all(t["result"]["done"] == t["id"] for t in o["tasks"])'
	json_check "the journal went to the host's store" "store: " 'o["backend"] == "list_store" and o["documents"] >= 1 and o["logs"] >= 1'
	;;
cpp)
	run 0
	json_check "memory search through the RAII wrapper" "search: " 'o["results"][0]["text"].startswith("The invoice for March")'
	has "run failed with status -1"
	json_check "a throwing lambda fails only its task" "status: " 'o["tasks"][0]["result"] == {"greeting": "hello from greet"} and o["tasks"][1]["state"] == "failed" and o["tasks"][1]["error"] == "task explode threw on purpose"'
	has "error -10: cog_plan_run: "
	has "dependency cycle a -> b -> a"
	;;
*)
	bad "unknown example '$name'"
	;;
esac
echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
