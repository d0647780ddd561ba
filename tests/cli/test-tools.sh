#!/bin/sh
# cog tools / audit / approvals: the tool layer from the command line, on a
# real database and workspace: listing, calls (schema-checked, confined,
# sandboxed), the audit log and its tamper detection, plans whose tool tasks
# run in the workspace, and the approval commands' errors. (Deferred
# approvals and their decision across a crash are tested through the API in
# tests/integration/plan/test_plan_tools.c: cog's built-ins need none.)
# Usage: test-tools.sh COG TEMPLATE_DIR
set -u
unset COG_DB
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") templates=$(abspath "$2")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" || exit 1
mkdir ws

expect "tools list" 0 "file_read" "$cog" tools list
expect "tools list shows flags" 0 "needs_network" "$cog" tools list
expect "tools list --json" 0 '"name":"sql_query"' "$cog" --json tools list
is_json "tools list --json"
expect "tools list PATTERN" 0 "file_write" "$cog" tools list 'file_*'
grep -q python out.txt && bad "pattern lists python too" || ok "pattern filters"
expect "tools without a subcommand" 2 "usage" "$cog" tools
expect "tools call without arguments" 2 "NAME and ARGS_JSON" "$cog" tools call file_read

expect "file_write" 0 '"bytes_written":5' "$cog" tools call file_write \
	'{"path":"a.txt","content":"hello"}' --workspace ws
[ "$(cat ws/a.txt)" = hello ] && ok "file_write wrote the workspace" || bad "ws/a.txt: $(cat ws/a.txt)"
expect "file_read" 0 '"content":"hello"' "$cog" --json tools call file_read '{"path":"a.txt"}' \
	--workspace ws
is_json "tools call --json"
expect "invalid arguments exit 1" 1 "invalid_arguments" "$cog" --json tools call file_read \
	'{"path":7}' --workspace ws
expect "invalid arguments name the pointer" 1 '"instance":"/path"' "$cog" --json tools call \
	file_read '{"path":7}' --workspace ws
expect "escape by .. is denied" 1 "workspace" "$cog" tools call file_read '{"path":"../x"}' \
	--workspace ws
ln -s /etc/passwd ws/passwd
expect "escape by symlink is denied" 1 "workspace" "$cog" tools call file_read \
	'{"path":"passwd"}' --workspace ws
expect "no workspace, no files" 1 "workspace" "$cog" tools call file_read '{"path":"a.txt"}'
expect "unknown tool" 1 "no tool named" "$cog" tools call nope '{}'
expect "http_fetch needs a grant" 1 "network" "$cog" tools call http_fetch \
	'{"url":"http://127.0.0.1:9/"}'
expect "http_fetch outside the grant" 1 "127.0.0.1" "$cog" tools call http_fetch \
	'{"url":"http://127.0.0.1:9/"}' --allow-net example.org
expect "bad --allow-net" 2 "allow-net" "$cog" tools call http_fetch '{}' --allow-net

expect "python in the sandbox" 0 '"stdout":"42\\n"' "$cog" tools call python \
	'{"code":"print(6*7)"}' --workspace ws
expect "shell sees only the workspace" 0 '"stdout":"a.txt\\n' "$cog" tools call shell \
	'{"command":"ls /workspace"}' --workspace ws
expect "shell cannot write /usr" 0 '"exit_code":1' "$cog" tools call shell \
	'{"command":"touch /usr/x 2>/dev/null || exit 1"}' --workspace ws
expect "a timeout fails the call" 1 "time limit" "$cog" tools call shell \
	'{"command":"sleep 5"}' --workspace ws --timeout 300

# sql_query: read-only on a database in the workspace.
python3 -c 'import sqlite3; c=sqlite3.connect("ws/d.sqlite"); c.execute("create table t(x)"); c.execute("insert into t values (41),(1)"); c.commit()'
expect "sql_query reads" 0 '"rows":\[\[42\]\]' "$cog" tools call sql_query \
	'{"database":"d.sqlite","sql":"select sum(x) from t"}' --workspace ws
expect "sql_query refuses writes" 1 "" "$cog" tools call sql_query \
	'{"database":"d.sqlite","sql":"delete from t"}' --workspace ws

# The audit log saw every call, whatever its outcome.
expect "audit verify" 0 "audit log intact" "$cog" audit verify
expect "audit verify --json" 0 '"ok":true' "$cog" --json audit verify
is_json "audit verify --json"
expect "audit show" 0 "file_write" "$cog" audit show
grep -q "denied" out.txt && ok "denied calls are audited" || bad "no denied entry: $(cat out.txt)"
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("cognition.db")
rows = db.execute("select seq, record from logs where log = 'audit' order by seq").fetchall()
seq, record = rows[2]
db.execute("update logs set record = ? where log = 'audit' and seq = ?",
           (record.replace('"file_read"', '"file_READ"'), seq))
db.commit()
PY
expect "audit verify finds an edit" 1 "edited" "$cog" audit verify
expect "audit verify --json names the entry" 1 '"first_bad_seq":3' "$cog" --json audit verify
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("cognition.db")
db.execute("update logs set record = '{\"seq\":2,' where log = 'audit' and seq = 2")
db.commit()
PY
expect "audit show survives a damaged entry" 0 "malformed entry" "$cog" audit show
expect "audit verify reports it" 1 "malformed" "$cog" audit verify

# A plan whose tool task needs an approval: the CLI has no approver, so the
# task waits... only for tools that ask; built-ins do not. Use a host plan
# with a tool task to check that tool tasks run through the tool layer.
cat > plan.json <<'JSON'
{"version":1,"goal":"tool tasks","tasks":[
 {"id":"write","kind":"tool","tool":"file_write","inputs":{"path":"out.txt","content":"from a plan"}},
 {"id":"read","kind":"tool","tool":"file_read","inputs":{"path":"out.txt"},"depends_on":["write"]}]}
JSON
sed 's/"file_read"/"file_reed"/' plan.json > typo.json
expect "plan validate catches an unknown tool" 1 "file_reed" "$cog" plan validate typo.json
expect "plan validate knows the tools" 0 "valid" "$cog" plan validate plan.json
# The bundled templates' tool tasks fit the built-in tools' schemas.
for goal in "analyze sales.csv" "build a web app for recipes" \
	"write a research report on solar panels"; do
	"$cog" --json plan "$goal" --no-save --templates "$templates" > made.json 2>err.txt
	python3 -c 'import json; o = json.load(open("made.json")); json.dump(o["plan"], open("t.json", "w"))' 2>>err.txt
	expect "template for '$goal' fits the tools" 0 "valid" "$cog" plan validate t.json
done
rm -f cognition.db
id=$("$cog" --json plan plan.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect "resume runs tool tasks in the workspace" 0 "succeeded" "$cog" resume "$id" --workspace ws
[ "$(cat ws/out.txt)" = "from a plan" ] && ok "the plan's file_write wrote the workspace" || bad "ws/out.txt missing"
expect "approvals: none pending" 0 "no approvals pending" "$cog" approvals
expect "approve an unknown id" 1 "no approval" "$cog" approve 0123
expect "audit after the plan" 0 "intact: 2 entries" "$cog" audit verify

finish "cli/tools"
