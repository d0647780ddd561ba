#!/bin/sh
# cog run and cog trace as a user runs them: the data-analysis template end
# to end without an LLM (python in the sandbox, SQL on SQLite, a report,
# findings in memory) on a copy of examples/data/sales.csv, checked against
# numbers computed here independently; the --json report; a failing plan;
# a goal no template matches; Ctrl-C; the timeline of a run.
# Usage: test-run.sh COG TEMPLATES_DIR SALES_CSV
cog=$1 templates=$2 sales=$3
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$cog")
templates=$(cd "$templates" && pwd)
sales=$(abspath "$sales")
scratch=$(mktemp -d)
child_pid=""
cleanup() {
	[ -n "$child_pid" ] && kill "$child_pid" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
cd "$scratch" || exit 1
# No LLM, only the source tree's templates, cog's database here.
unset COG_LLM_URL COG_LLM_PROVIDER COG_MODEL COG_TEMPLATE_PATH COG_MEMORY_NS COG_CONFIG
export COG_TEMPLATE_DIR="$templates" COG_DB="$scratch/cog.db"

json_get() { python3 -c "import json; o=json.load(open('out.txt')); print($1)"; }
check() {
	if python3 -c "import json,sys; o=json.load(open('out.txt')); sys.exit(0 if ($2) else 1)"; then
		ok "$1"
	else
		bad "$1: $(head -c 600 out.txt)"
	fi
}

# ---- the data-analysis template, end to end ----
mkdir -p data
cp "$sales" data/sales.csv
expect "cog run analyzes the CSV" 0 "succeeded" "$cog" run "analyze data/sales.csv"
plan=$(sed -n 's/^plan \([0-9a-f-]*\) succeeded.*/\1/p' out.txt | head -n 1)
[ -n "$plan" ] && ok "the summary names the plan" || bad "no plan id in: $(head -c 400 out.txt)"
grep -q "report: $scratch/work/report.md" out.txt && ok "the summary names the report" ||
	bad "no report path in the summary: $(head -c 600 out.txt)"
grep -q "no LLM configured" out.txt && ok "the summary says no LLM ran" ||
	bad "the summary does not mention the missing LLM: $(tail -n 5 out.txt)"
grep -q "^cog: succeeded *sql_by_dim1" err.txt && ok "plain progress lines when not a terminal" ||
	bad "no progress line for sql_by_dim1: $(head -c 400 err.txt)"
if grep -q "narrative" err.txt; then bad "an LLM-only task ran without an LLM"; else ok "the LLM-only tasks are left out"; fi

# The numbers, computed here from the CSV: duplicates dropped, blanks missing.
python3 - data/sales.csv > expected.txt <<'EOF'
import csv, collections, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))[1:]
seen, kept = set(), []
for r in rows:
    if tuple(r) not in seen:
        seen.add(tuple(r))
        kept.append(r)
total = sum(float(r[5]) for r in kept if r[5])
by_region, by_product = collections.Counter(), collections.Counter()
for r in kept:
    if r[5] and r[1]:
        by_region[r[1]] += float(r[5])
    if r[5] and r[2]:
        by_product[r[2]] += float(r[5])
region, region_total = by_region.most_common(1)[0]
product, product_total = by_product.most_common(1)[0]
print('Total revenue: {:,.2f} over {} rows.'.format(total, len(kept)))
print('| {} | {:,.2f} |'.format(region, region_total))
print('Top product by revenue: {} with {:,.2f}'.format(product, product_total))
print('{} rows read, {} duplicate rows'.format(len(rows), len(rows) - len(kept)))
EOF
if [ -s work/report.md ]; then
	ok "the report file exists"
	while IFS= read -r line; do
		grep -qF -- "$line" work/report.md && ok "the report has: $line" ||
			bad "the report lacks '$line': $(head -c 800 work/report.md)"
	done < expected.txt
else
	bad "no report at work/report.md"
fi
rows=$(python3 -c "import sqlite3; print(sqlite3.connect('work/data.sqlite').execute('SELECT COUNT(*) FROM data').fetchone()[0])")
expected_rows=$(python3 -c "import csv; r=list(csv.reader(open('data/sales.csv')))[1:]; print(len({tuple(x) for x in r}))")
[ "$rows" = "$expected_rows" ] && ok "the SQLite file holds the clean rows ($rows)" ||
	bad "work/data.sqlite has $rows rows, expected $expected_rows"

# The findings went to memory, the run to the episodic layer.
region=$(sed -n 2p expected.txt | cut -d' ' -f2)
expect "the findings are remembered" 0 "$region" "$cog" memory search "top region by revenue" --layer long_term
expect "the run is in the episodic layer" 0 '"episodic"' "$cog" --json memory search "task succeeded" --layer episodic --k 50
check "the episodes are the run's" "any(r['metadata'].get('plan') == '$plan' for r in o['results'])"

expect "cog status lists the run" 0 "succeeded" "$cog" status "$plan"

# ---- cog trace ----
expect "cog trace prints the timeline" 0 "sql_by_dim1" "$cog" trace "$plan"
grep -q "OFFSET" out.txt && grep -q "plan" out.txt && ok "the timeline has its header and the plan span" ||
	bad "timeline: $(head -c 600 out.txt)"
expect "cog trace --json" 0 '"spans"' "$cog" trace "$plan" --json
is_json "cog trace --json"
check "every span has a depth and an offset" \
	"all('depth' in s and 'offset_ms' in s for s in o['spans']) and any(s.get('kind') == 'task' for s in o['spans'])"
expect "cog trace of an unknown plan" 1 "no trace" "$cog" trace 0190ffff-0000-7000-8000-000000000000
expect "cog trace without an id" 2 "needs a PLAN_ID" "$cog" trace

# ---- --json ----
mkdir -p second/data
cp "$sales" second/data/sales.csv
expect "cog run --json" 0 '"ok":true' "$cog" --json run "analyze data/sales.csv" --workspace second --workers 2
is_json "cog run --json"
check "the report has its members" \
	"o['ok'] is True and o['status'] == 'succeeded' and isinstance(o['plan_id'], str) and 'budget' in o and 'metrics' in o and o['report_file'].endswith('second/work/report.md')"
check "every task is reported, succeeded" \
	"len(o['tasks']) == 14 and all(t['state'] == 'succeeded' for t in o['tasks'])"
check "the findings and the memory are reported" \
	"len(o['findings']) >= 4 and o['memory']['stored'] == len(o['findings']) and o['llm'] is False"
[ -s second/work/report.md ] && ok "--workspace holds the report" || bad "no report in second/work"

# ---- a plan file with a failing task ----
cat > failing.json <<'EOF'
{"version":1,"goal":"fail on purpose","tasks":[
 {"id":"fine","kind":"tool","tool":"python","inputs":{"code":"print('fine')"}},
 {"id":"broken","kind":"tool","tool":"python","depends_on":["fine"],
  "inputs":{"code":"import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)"}}]}
EOF
expect "a failing task fails the run" 1 "broken" "$cog" run failing.json
grep -q "exited with status 3: oops" out.txt err.txt && ok "the failure says why" ||
	bad "no reason for the failure: $(cat out.txt err.txt | head -c 600)"
expect "--json of a failing run" 1 '"ok":false' "$cog" --json run failing.json
is_json "--json of a failing run"
check "the failed task is in the report" \
	"o['status'] == 'failed' and [t['state'] for t in o['tasks']] == ['succeeded', 'failed']"

# ---- a goal nothing matches, bad usage ----
expect "a goal no template matches" 1 "no plan for this goal" "$cog" run "compose a symphony"
grep -q "No LLM is configured" err.txt && ok "the error says an LLM could plan it" ||
	bad "the error does not mention the LLM: $(cat err.txt)"
expect "cog run without a goal" 2 "needs a GOAL" "$cog" run
expect "cog run with bad --workers" 2 "--workers" "$cog" run x --workers 0
expect "cog run with a missing workspace" 2 "no such directory" "$cog" run x --workspace nowhere

# ---- Ctrl-C ----
cat > interrupt.json <<'EOF'
{"version":1,"goal":"interrupt me","tasks":[
 {"id":"wait","idempotent":true,"inputs":{"argv":["/bin/sh","-c","touch started; sleep 30"]}}]}
EOF
"$cog" run interrupt.json >out.txt 2>err.txt &
child_pid=$!
for _ in $(seq 200); do [ -e started ] && break; sleep 0.1; done
kill -INT "$child_pid"
wait "$child_pid"
got=$?
child_pid=""
if [ "$got" -eq 130 ] && grep -q "cog resume" out.txt; then
	ok "Ctrl-C stops the run (exit 130) and says how to continue"
else
	bad "Ctrl-C: exit $got: $(cat out.txt err.txt | head -c 400)"
fi

finish "cli/run"
