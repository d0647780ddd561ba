#!/bin/sh
# cog plan, plan validate, plan templates, status, resume and decide as a
# user runs them: exports, exit codes (0 ok, 1 problem, 2 bad command line),
# --json on every command, plans saved in and found from the database, argv
# tasks run by cog's executor, timeouts, Ctrl-C, and a crash that leaves a
# task uncertain until it is decided.
# Usage: COG TEMPLATE_DIR
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") templates=$(abspath "$2")
export COG_TEMPLATE_PATH="$templates" COG_TEMPLATE_DIR=""
unset COG_DB
work=$(mktemp -d)
child_pid=""
trap 'if [ -n "$child_pid" ]; then kill "$child_pid" 2>/dev/null; fi; rm -rf "$work"' EXIT
cd "$work" || exit 1
# check NAME PYTHON-EXPRESSION: true about o, the JSON object on stdout.
check() {
	if python3 -c "import json,sys; o=json.load(open('out.txt')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
		ok "$1"
	else
		bad "$1: ($2) is false for $(head -c 600 out.txt)"
	fi
}

# json_get EXPRESSION: print a value from the JSON on stdout of the last expect.
json_get() { python3 -c "import json; o=json.load(open('out.txt')); print($1)"; }

# task_state ID: the state of a task in the `cog --json status` output.
state_of() { json_get "[t['state'] for t in o['status']['tasks'] if t['id'] == '$1'][0]"; }

# ---- cog plan GOAL ----

expect "plan a goal" 0 '"read_sample"' "$cog" plan analyze sales.csv
grep -q "saved to ./cognition.db" err.txt && ok "plan says where it saved" || bad "plan did not say where it saved: $(cat err.txt)"
expect "--json plan a goal" 0 '"ok":true' "$cog" --json plan analyze sales.csv
is_json "--json plan"
check "the plan has the goal and the template's tasks" \
	"o['goal'] == 'analyze sales.csv' and o['tasks'] == 14 and len(o['plan']['tasks']) == 14 and o['saved']"
check "the file name is a parameter" \
	"[t for t in o['plan']['tasks'] if t['id'] == 'read_sample'][0]['inputs']['path'] == 'sales.csv'"
goal_plan=$(json_get "o['id']")
expect "--format dot" 0 'digraph' "$cog" plan --format dot analyse "my data.csv"
grep -q 'read_sample' out.txt && ok "dot names the tasks" || bad "dot lacks tasks: $(head -c 300 out.txt)"
expect "--format=mermaid" 0 'flowchart' "$cog" plan --format=mermaid research the history of tea
expect "--json --format dot" 0 '"format":"dot"' "$cog" --json plan --format dot build a web app called shop
is_json "--json --format dot"
check "dot export is a string in JSON" "o['plan'].startswith('digraph')"
expect "--no-save" 0 'flowchart' "$cog" --db nodb.db plan --no-save --format mermaid analyze x.csv
[ ! -e nodb.db ] && ok "--no-save does not create the database" || bad "--no-save created nodb.db"
expect "no template matches" 1 "none of 3 templates matched" "$cog" plan make me a sandwich
expect "--json no template matches" 1 '"ok":false' "$cog" --json plan make me a sandwich
is_json "--json no template matches"
expect "-- before a goal" 1 "none of 3 templates" "$cog" plan --no-save -- --format is a word here
expect "plan templates" 0 "research-report" "$cog" plan templates
expect "--json plan templates" 0 '"templates"' "$cog" --json plan templates
is_json "--json plan templates"
check "three templates listed" "sorted(t['name'] for t in o['templates']) == ['data-analysis', 'research-report', 'web-app']"
mkdir extra
printf '{"name":"chores","patterns":["(?i)^do the (?<chore>\\\\w+)$"],"params":{"chore":{"required":true}},"tasks":[{"id":"chore","title":"${chore}","inputs":{"argv":["/bin/echo","${chore}"]}}]}' > extra/chores.json
expect "--templates DIR" 0 '"chore"' "$cog" plan --no-save --templates extra do the dishes
printf '{"name":"broken", "patterns":' > extra/zz-broken.json
expect "a broken template is reported" 1 "zz-broken.json" "$cog" plan --no-save --templates extra do the dishes
grep -q "byte" err.txt && ok "the broken template's message has the byte offset" || bad "no offset: $(cat err.txt)"
expect "bad --format" 2 "json, dot or mermaid" "$cog" plan --format png analyze x.csv
expect "--json bad --format" 2 '"ok":false' "$cog" --json plan --format png analyze x.csv
is_json "--json bad --format"
expect "plan without a goal" 2 "needs a GOAL" "$cog" plan
expect "plan with an unknown option" 2 "unknown option '--frob'" "$cog" plan --frob analyze x.csv
expect "plan templates with an argument" 2 "no arguments" "$cog" plan templates extra

# ---- cog plan validate FILE ----

cat > good.json <<'EOF'
{"version":1,"goal":"diamond","tasks":[
 {"id":"a","estimate":{"duration_ms":100}},
 {"id":"b","depends_on":["a"],"estimate":{"duration_ms":100}},
 {"id":"c","depends_on":["a"],"estimate":{"duration_ms":300,"cost":0.5}},
 {"id":"d","depends_on":["b","c"],"estimate":{"duration_ms":100}}]}
EOF
cat > cycle.json <<'EOF'
{"version":1,"goal":"loop","tasks":[
 {"id":"start"},
 {"id":"x","depends_on":["start","z"]},
 {"id":"y","depends_on":["x"]},
 {"id":"z","depends_on":["y"]}]}
EOF
printf '{"version":1,"tasks":[{"id":"a","depends_on":["nope"]}]}' > missing.json
printf '{"version":1,"tasks":[{"id":"a"} {"id":"b"}]}' > broken.json
expect "validate a good plan" 0 "valid: 4 tasks, 3 levels, critical path a -> c -> d" \
	"$cog" plan validate good.json
expect "--json validate a good plan" 0 '"valid":true' "$cog" --json plan validate good.json
is_json "--json validate good"
check "validate --json has the analysis" "o['analysis']['tasks'] == 4 and o['analysis']['critical_path']['tasks'] == ['a', 'c', 'd']"
expect "validate a cycle" 1 "cycle" "$cog" plan validate cycle.json
if grep -Eq 'x -> y -> z -> x|y -> z -> x -> y|z -> x -> y -> z' err.txt; then
	ok "the cycle is named"
else
	bad "the cycle is not named: $(cat err.txt)"
fi
expect "--json validate a cycle" 1 '"valid":false' "$cog" --json plan validate cycle.json
is_json "--json validate cycle"
expect "validate a missing dependency" 1 "nope" "$cog" plan validate missing.json
expect "validate broken JSON" 1 "invalid JSON at byte" "$cog" plan validate broken.json
expect "validate a missing file" 1 "cannot open" "$cog" plan validate absent.json
expect "--json validate a missing file" 1 '"ok":false' "$cog" --json plan validate absent.json
is_json "--json validate missing file"
expect "validate without a file" 2 "usage: cog plan validate FILE" "$cog" plan validate
expect "plan of a cycle file is refused" 1 "cycle" "$cog" plan cycle.json

# ---- plans in the database: status ----

expect "status lists the plans" 0 "$goal_plan" "$cog" status
expect "--json status" 0 '"plans"' "$cog" --json status
is_json "--json status"
check "status lists the saved plans as planned" \
	"any(p['id'] == '$goal_plan' and p['state'] == 'planned' and p['tasks'] == 14 for p in o['plans'])"
expect "status of one plan" 0 "planned" "$cog" status "$goal_plan"
grep -q "read_sample" out.txt && ok "status shows the tasks" || bad "status lacks tasks: $(head -c 300 out.txt)"
expect "--json status of one plan" 0 '"planned":true' "$cog" --json status "$goal_plan"
is_json "--json status of one plan"
expect "status of an unknown plan" 1 "no plan" "$cog" status 0190ffff-0000-7000-8000-000000000000
expect "status without a database" 1 "no database" "$cog" --db none.db status
[ ! -e none.db ] && ok "status does not create a database" || bad "status created none.db"
expect "status with two ids" 2 "usage" "$cog" status a b

# ---- resume: argv tasks ----

cat > run.json <<'EOF'
{"version":1,"goal":"run some programs","tasks":[
 {"id":"hello","inputs":{"argv":["/bin/echo","hello","world"]},"idempotent":true},
 {"id":"env","inputs":{"argv":["/bin/sh","-c","printf '%s %s %s' \"$GREETING\" \"$COG_TASK_ID\" \"$(pwd)\""],
   "env":{"GREETING":"hi \"there\""},"cwd":"/"},"depends_on":["hello"]},
 {"id":"boom","inputs":{"argv":["/bin/sh","-c","echo partial; echo it broke >&2; exit 3"]},"depends_on":["hello"]},
 {"id":"after_boom","inputs":{"argv":["/bin/echo","never"]},"depends_on":["boom"]},
 {"id":"tool_task","kind":"tool","tool":"file_read","inputs":{"path":"x"}},
 {"id":"no_such_program","inputs":{"argv":["/nonexistent/program"]}}]}
EOF
expect "plan a file" 0 '"saved":true' "$cog" --json plan run.json
run_plan=$(json_get "o['id']")
expect "resume runs the plan" 1 "failed: " "$cog" resume "$run_plan" --continue
grep -q "boom" out.txt && ok "resume names the failed task" || bad "resume output lacks boom: $(cat out.txt)"
expect "--json resume of a failed plan" 1 '"ok":false' "$cog" --json resume "$run_plan"
is_json "--json resume of a failed plan"
check "--json resume says why" "o['run']['code'] < 0 and 'boom' in o['run']['error'] and o['status']['state'] == 'failed'"
expect "--json status after the run" 0 '"ok":true' "$cog" --json status "$run_plan"
is_json "--json status after the run"
check "echo ran and its output is the result" \
	"[t for t in o['status']['tasks'] if t['id'] == 'hello'][0]['result'] == {'exit_code': 0, 'stdout': 'hello world\n', 'stderr': ''}"
check "env, cwd and the task id reach the program" \
	"[t for t in o['status']['tasks'] if t['id'] == 'env'][0]['result']['stdout'] == 'hi \"there\" env /'"
check "exit 3 fails the task with its stderr" \
	"[t for t in o['status']['tasks'] if t['id'] == 'boom'][0]['state'] == 'failed' and 'status 3' in [t for t in o['status']['tasks'] if t['id'] == 'boom'][0]['error'] and 'it broke' in [t for t in o['status']['tasks'] if t['id'] == 'boom'][0]['error']"
check "the dependant of a failed task is skipped" \
	"[t for t in o['status']['tasks'] if t['id'] == 'after_boom'][0]['state'] == 'skipped'"
check "a tool task goes to the tool layer (file_read needs a workspace)" \
	"'workspace' in [t for t in o['status']['tasks'] if t['id'] == 'tool_task'][0]['error']"
check "a missing program fails clearly" \
	"'/nonexistent/program' in [t for t in o['status']['tasks'] if t['id'] == 'no_such_program'][0]['error']"
expect "status lists the run plan as journaled" 0 '"plans"' "$cog" --json status
check "the run plan is listed once, as failed" "[p['state'] for p in o['plans'] if p['id'] == '$run_plan'] == ['failed']"

cat > ok.json <<'EOF'
{"version":1,"goal":"all good","tasks":[
 {"id":"one","inputs":{"argv":["/bin/echo","1"]},"idempotent":true},
 {"id":"two","inputs":{"argv":["/bin/echo","2"]},"depends_on":["one"]}]}
EOF
expect "plan ok.json" 0 '"saved":true' "$cog" --json plan ok.json
ok_plan=$(json_get "o['id']")
expect "resume a good plan" 0 "succeeded" "$cog" resume "$ok_plan"
expect "status lists the good plan as succeeded" 0 "$ok_plan  succeeded" "$cog" status
expect "--json resume of a finished plan" 0 '"ok":true' "$cog" --json resume "$ok_plan"
is_json "--json resume"
check "a finished plan is not run again" \
	"all(t['state'] == 'succeeded' and t['attempts'] == 1 for t in o['status']['tasks'])"

# A task past its timeout is stopped with its children.
cat > slow.json <<'EOF'
{"version":1,"goal":"too slow","tasks":[
 {"id":"sleepy","timeout_ms":300,"inputs":{"argv":["/bin/sh","-c","sleep 30 & sleep 30; wait"]}}]}
EOF
expect "plan slow.json" 0 '"saved":true' "$cog" --json plan slow.json
slow_plan=$(json_get "o['id']")
start=$(date +%s)
expect "a task past its timeout fails" 1 "sleepy" "$cog" resume "$slow_plan"
[ $(( $(date +%s) - start )) -lt 10 ] && ok "the timeout stops the task quickly" || bad "the timeout took $(( $(date +%s) - start )) s"

# Ctrl-C cancels the run.
cat > interrupt.json <<'EOF'
{"version":1,"goal":"interrupt me","tasks":[
 {"id":"wait","idempotent":true,"inputs":{"argv":["/bin/sh","-c","touch started; sleep 30"]}}]}
EOF
expect "plan interrupt.json" 0 '"saved":true' "$cog" --json plan interrupt.json
int_plan=$(json_get "o['id']")
"$cog" resume "$int_plan" >out.txt 2>err.txt &
child_pid=$!
for _ in $(seq 100); do [ -e started ] && break; sleep 0.1; done
start=$(date +%s)
kill -INT "$child_pid"
wait "$child_pid"
got=$?
child_pid=""
if [ "$got" -eq 1 ] && grep -q "interrupted" out.txt && [ $(( $(date +%s) - start )) -lt 10 ]; then
	ok "Ctrl-C stops the run and says how to continue"
else
	bad "Ctrl-C: exit $got after $(( $(date +%s) - start )) s: $(cat out.txt err.txt | head -c 400)"
fi

# Looking at a running plan does not disturb it.
cat > live.json <<'EOF'
{"version":1,"goal":"look while it runs","tasks":[
 {"id":"busy","inputs":{"argv":["/bin/sh","-c","touch busy; sleep 2"]}}]}
EOF
expect "plan live.json" 0 '"saved":true' "$cog" --json plan live.json
live_plan=$(json_get "o['id']")
rm -f busy
"$cog" resume "$live_plan" >live.txt 2>&1 &
child_pid=$!
for _ in $(seq 100); do [ -e busy ] && break; sleep 0.1; done
expect "status of a running plan" 1 "another cog is running it now" "$cog" status "$live_plan"
expect "the list shows it running" 0 "running" "$cog" status
wait "$child_pid"
got=$?
child_pid=""
[ "$got" -eq 0 ] && ok "the run finished undisturbed" || bad "the run ended with $got: $(cat live.txt)"

# ---- a crash leaves a non-idempotent task uncertain ----

cat > crash.json <<'EOF'
{"version":1,"goal":"crash in the middle","tasks":[
 {"id":"first","inputs":{"argv":["/bin/echo","first"]},"idempotent":true},
 {"id":"charge","depends_on":["first"],"inputs":{"argv":["/bin/sh","-c","echo $$ > charging; exec sleep 30"]}},
 {"id":"receipt","depends_on":["charge"],"inputs":{"argv":["/bin/echo","receipt"]}}]}
EOF
expect "plan crash.json" 0 '"saved":true' "$cog" --json plan crash.json
crash_plan=$(json_get "o['id']")
rm -f charging
"$cog" resume "$crash_plan" >/dev/null 2>&1 &
child_pid=$!
for _ in $(seq 100); do [ -s charging ] && break; sleep 0.1; done
kill -KILL "$child_pid"
wait "$child_pid" 2>/dev/null
child_pid=""
[ -s charging ] && kill "$(cat charging)" 2>/dev/null
expect "status after the crash explains" 1 "cog resume $crash_plan settles them" \
	"$cog" status "$crash_plan"
expect "resume stops at the uncertain task" 1 "cog decide $crash_plan TASK retry|skip|fail" "$cog" resume "$crash_plan"
grep -q "uncertain: charge" out.txt && ok "resume names the uncertain task" || bad "no uncertain task named: $(cat out.txt)"
expect "--json status after the crash" 0 '"ok":true' "$cog" --json status "$crash_plan"
[ "$(state_of charge)" = uncertain ] && ok "the interrupted task is uncertain" || bad "charge is $(state_of charge)"
[ "$(state_of first)" = succeeded ] && ok "the finished task kept its state" || bad "first is $(state_of first)"
expect "decide with a bad word" 2 "not retry, skip or fail" "$cog" decide "$crash_plan" charge maybe
expect "decide with too few arguments" 2 "usage" "$cog" decide "$crash_plan" charge
expect "decide skip" 0 "cog resume $crash_plan" "$cog" decide "$crash_plan" charge skip
expect "decide a task that is not uncertain" 1 "uncertain" "$cog" decide "$crash_plan" first retry
expect "--json decide on an unknown plan" 1 '"ok":false' "$cog" --json decide 0190ffff-0000-7000-8000-000000000000 charge skip
is_json "--json decide error"
expect "resume after the decision" 0 "succeeded" "$cog" resume "$crash_plan"
expect "--json status at the end" 0 '"ok":true' "$cog" --json status "$crash_plan"
[ "$(state_of receipt)" = succeeded ] && ok "the rest of the plan ran" || bad "receipt is $(state_of receipt)"

# ---- bad command lines ----

expect "resume without an id" 2 "needs a PLAN_ID" "$cog" resume
expect "resume with bad --workers" 2 "--workers" "$cog" resume "$ok_plan" --workers 0
expect "resume with two ids" 2 "unexpected" "$cog" resume a b
expect "--json resume without an id" 2 '"ok":false' "$cog" --json resume
is_json "--json resume without an id"
expect "resume of an unknown plan" 1 "no plan" "$cog" resume 0190ffff-0000-7000-8000-000000000000
expect "--json status with a bad argument" 2 '"ok":false' "$cog" --json status --frob
is_json "--json status with a bad argument"

finish cli-plan
