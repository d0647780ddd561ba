#!/bin/sh
# cog run with an LLM: @dwmkerr/mock-llm (an OpenAI-compatible server from
# npm, started here on a free loopback port and stopped by its PID) answers
# by the rules of mock-llm-run.yaml. Checked: the LLM planner's plan is the
# one run; its llm task runs through an agent (a tool call, then the
# answer) whose content feeds the tool task after it; tokens and cost (the
# prices come from the config file's "llm" object) in the result, the
# budget, the summary and the live display; cog trace shows the llm, tool
# and agent spans with their gen_ai attributes; the data-analysis template
# as the fallback when the planner's answer is no plan, with its "when":"llm"
# narrative appended to the report; the live display redrawn in place on a
# pseudo-terminal (script from util-linux) and plain lines when stderr is
# not a terminal; a bad "llm" object in the config file.
# Usage: test-run-llm.sh COG TEMPLATES_DIR SALES_CSV PEERS_DIR MOCK_YAML
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") templates=$(cd "$2" && pwd) sales=$(abspath "$3")
peers=$(cd "$4" && pwd) rules=$(abspath "$5")
mock=$peers/node_modules/@dwmkerr/mock-llm/dist/main.js
scratch=$(mktemp -d)
mock_pid=""
cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
cd "$scratch" || exit 1
unset COG_LLM_PROVIDER COG_TEMPLATE_PATH COG_MEMORY_NS COG_CONFIG COG_LOG_LEVEL \
	OPENAI_API_KEY ANTHROPIC_API_KEY
export COG_TEMPLATE_DIR="$templates" COG_DB="$scratch/cog.db"

# ---- the peer ----
if ! command -v node >/dev/null 2>&1; then
	echo "not ok - node is not installed (apt-get install nodejs npm)"
	exit 1
fi
if [ ! -f "$mock" ]; then
	echo "not ok - $mock is missing (npm ci --prefix tests/peers)"
	exit 1
fi
if ! command -v script >/dev/null 2>&1; then
	echo "not ok - script is not installed (apt-get install util-linux)"
	exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1 PORT=$port node "$mock" --config "$rules" >mock.log 2>&1 &
mock_pid=$!
if ! python3 - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(300):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
then
	echo "not ok - mock-llm did not answer on 127.0.0.1:$port: $(head -c 600 mock.log)"
	exit 1
fi
ok "mock-llm on 127.0.0.1:$port"
export COG_LLM_URL="http://127.0.0.1:$port/v1" COG_MODEL=mock-model COG_API_KEY=sk-mock-secret

# The router settings of the config file: the agents' route names the
# model (a route left to the endpoint's default model has no price), and
# its price per million tokens (320 in and 40 out cost 0.0032 + 0.002).
cat > cog.json <<'EOF'
{"llm": {"routes": {"executor": {"models": [{"endpoint": "default", "model": "mock-model"}]}},
         "prices": {"mock-model": {"input": 10, "output": 50}}}}
EOF
echo "Green tea wants water at 80 C; black tea wants it boiling." > notes.txt

check() {
	if python3 -c "import json,sys; o=json.load(open('out.txt')); sys.exit(0 if ($2) else 1)"; then
		ok "$1"
	else
		bad "$1: $(head -c 900 out.txt)"
	fi
}
# task ID: the task of the --json report in out.txt, in python.
task() { echo "[t for t in o['tasks'] if t['id'] == '$1'][0]"; }

# ---- the LLM planner's plan, run with an agent ----
expect "cog run plans with the LLM and runs" 0 '"ok":true' "$cog" --json run summarize my tea notes
is_json "cog --json run"
check "the plan is the LLM planner's" \
	"[t['id'] for t in o['tasks']] == ['mock_summary', 'mock_save'] and o['llm'] is True and all(t['state'] == 'succeeded' for t in o['tasks'])"
check "the llm task ran through an agent: a tool call, then the answer" \
	"(lambda r: r['content'].startswith('MOCK-SUMMARY: green tea') and 'call_notes' in r['content'] and r['agent'] == 'executor' and r['turns'] == 2 and r['tool_calls'] == 1 and r['stopped'] == 'answer')($(task mock_summary)['result'])"
check "the agent's tokens and cost are in its result" \
	"(lambda r: r['usage'] == {'input_tokens': 320, 'output_tokens': 40} and abs(r['cost'] - 0.0052) < 1e-9)($(task mock_summary)['result'])"
check "the budget counts the agent's calls" \
	"(lambda s: s['input_tokens'] == 320 and s['output_tokens'] == 40 and s['llm_calls'] == 2 and abs(s['cost'] - 0.0052) < 1e-9)(o['budget']['spent'])"
check "the tool task wrote the agent's answer" \
	"$(task mock_save)['result']['path'] == 'summary.md'"
grep -q "^MOCK-SUMMARY: green tea wants cooler water (after call_notes)\.$" summary.md &&
	ok "summary.md holds the agent's answer" || bad "summary.md: $(cat summary.md)"
plan=$(python3 -c "import json; print(json.load(open('out.txt'))['plan_id'])")

# ---- cog trace ----
expect "cog trace of the run" 0 "chat mock-model" "$cog" trace "$plan"
grep -q "execute_tool file_read" out.txt && grep -q "invoke_agent executor" out.txt &&
	ok "the timeline has the agent's turns and its tool call" || bad "timeline: $(head -c 900 out.txt)"
expect "cog trace --json" 0 '"spans"' "$cog" trace "$plan" --json
is_json "cog trace --json"
check "llm spans carry gen_ai attributes" \
	"(lambda l: len(l) == 2 and all(s['attributes']['gen_ai.operation.name'] == 'chat' and s['attributes']['gen_ai.request.model'] == 'mock-model' and s['attributes']['gen_ai.provider.name'] == 'openai' for s in l) and sorted(s['attributes']['gen_ai.usage.input_tokens'] for s in l) == [120, 200] and sorted(s['attributes']['gen_ai.usage.output_tokens'] for s in l) == [15, 25])([s for s in o['spans'] if s['kind'] == 'llm'])"
check "tool spans carry gen_ai attributes" \
	"sorted((s['attributes']['gen_ai.operation.name'], s['attributes']['gen_ai.tool.name']) for s in o['spans'] if s['kind'] == 'tool') == [('execute_tool', 'file_read'), ('execute_tool', 'file_write')]"
check "agent turn spans name the agent" \
	"[s['attributes']['gen_ai.agent.name'] for s in o['spans'] if s['kind'] == 'agent.turn'] == ['executor', 'executor']"

# ---- the summary and the progress lines (stderr not a terminal) ----
expect "cog run prints a summary" 0 "succeeded: 2 succeeded, 0 failed" "$cog" run summarize my tea notes
grep -q "^tokens: 320 in, 40 out; cost \$0.0052$" out.txt && ok "the summary has the tokens and the cost" ||
	bad "summary: $(cat out.txt)"
grep -q "no LLM configured" out.txt && bad "the summary says no LLM: $(cat out.txt)" ||
	ok "the summary does not say no LLM"
grep -q "^cog: turn  *mock_summary: agent executor, 120 in / 15 out tokens" err.txt &&
	grep -q "^cog: succeeded  *mock_save" err.txt && ok "plain progress lines for the agent's turns" ||
	bad "progress lines: $(head -c 900 err.txt)"
if grep -q "$(printf '\033')" out.txt err.txt; then
	bad "escape sequences when not on a terminal: $(cat -v err.txt | head -c 600)"
else
	ok "no escape sequences when not on a terminal"
fi

# ---- the live display on a pseudo-terminal ----
# script runs cog on a pseudo-terminal (stdin, stdout and stderr) and
# copies what it wrote to script's stdout.
script -qec "'$cog' run summarize my tea notes" /dev/null >pty.txt 2>pty.err
got=$?
[ "$got" -eq 0 ] && ok "cog run on a terminal" || bad "cog run on a terminal: exit $got: $(cat -v pty.txt pty.err | head -c 600)"
# python: t, what the terminal received.
pty_check() {
	if python3 -c "import re,sys; t=open('$2', encoding='utf-8', errors='replace', newline='').read(); sys.exit(0 if ($3) else 1)"; then
		ok "$1"
	else
		bad "$1: $(cat -v "$2" | tail -c 900)"
	fi
}
pty_check "the frame is redrawn in place (cursor up, erase down)" pty.txt \
	"len(re.findall(r'\x1b\[[34]A\r\x1b\[J', t)) >= 3 and re.search(r'\x1b\[J' + r'plan [0-9a-f-]+  2/2 done', t)"
pty_check "the frame shows the running agent and its tokens" pty.txt \
	"'agent executor' in t and 'tokens 320 in / 40 out  cost \$0.0052' in t"
pty_check "the final summary follows the last frame" pty.txt \
	"re.search(r'plan [0-9a-f-]+ succeeded: 2 succeeded, 0 failed, 0 skipped, 0 not run', t) and 'tokens: 320 in, 40 out; cost \$0.0052' in t and t.rfind('succeeded: 2 succeeded') > t.rfind('\x1b[J')"
pty_check "no per-event lines on a terminal" pty.txt "'cog: turn' not in t and 'cog: started' not in t"

# The same run with stderr not a terminal (stdout still is one).
script -qec "'$cog' run summarize my tea notes 2>plain.err" /dev/null >pty2.txt 2>pty2.err
got=$?
[ "$got" -eq 0 ] && ok "cog run, stderr to a file" || bad "cog run, stderr to a file: exit $got: $(cat -v pty2.txt | head -c 600)"
pty_check "stderr to a file: plain lines" plain.err \
	"'\x1b' not in t and re.search(r'^cog: turn +mock_summary: agent executor', t, re.M) and re.search(r'^cog: succeeded +mock_save', t, re.M)"
pty_check "stdout on the terminal: the summary, no escape sequences" pty2.txt \
	"'\x1b' not in t and re.search(r'plan [0-9a-f-]+ succeeded: 2 succeeded', t)"

# ---- the templates as the fallback, with the LLM's narrative ----
mkdir -p da/data
cp "$sales" da/data/sales.csv
cp notes.txt da/notes.txt
expect "data analysis with an LLM whose plan is invalid" 0 '"ok":true' "$cog" --json run \
	"analyze data/sales.csv" --workspace da
is_json "cog --json run of the data analysis"
grep -q "warning: .*the llm planner failed" err.txt && ok "the planner's fallback is a warning" ||
	bad "no fallback warning: $(head -c 600 err.txt)"
check "the template's plan, with its when:llm tasks, all succeeded" \
	"len(o['tasks']) == 16 and [t['id'] for t in o['tasks']][-2:] == ['narrative', 'append_narrative'] and all(t['state'] == 'succeeded' for t in o['tasks'])"
check "the narrative came from an agent" \
	"(lambda r: r['content'].startswith('## Narrative') and r['agent'] == 'executor' and r['turns'] == 2 and r['usage'] == {'input_tokens': 420, 'output_tokens': 45})($(task narrative)['result'])"
check "the narrative's cost is within the template's budget" \
	"o['budget']['limit'].get('max_cost') == 0.5 and abs(o['budget']['spent']['cost'] - (420 * 10 + 45 * 50) / 1e6) < 1e-9"
if [ -s da/work/report.md ]; then
	tail -n 3 da/work/report.md > tail.txt
	grep -q "^## Narrative" da/work/report.md && grep -q "MOCK-NARRATIVE: the sales data, told by the mock\.$" tail.txt &&
		grep -q "^# Analysis of data/sales.csv" da/work/report.md &&
		ok "the report ends with the mock's narrative" || bad "report tail: $(cat tail.txt)"
else
	bad "no report at da/work/report.md"
fi

# ---- results as a python task's code and arguments ($from) ----
cat > from.json <<'EOF'
{"version":1,"goal":"run what was written","tasks":[
 {"id":"write","kind":"llm","inputs":{"prompt":"Write a one-line summary of notes.txt."}},
 {"id":"make","kind":"tool","tool":"python","inputs":{"code":"print('import sys; print(6 * 7, sys.argv[1].upper())')"}},
 {"id":"run","kind":"tool","tool":"python","depends_on":["write","make"],
  "inputs":{"code":{"$from":"make","pointer":"/stdout"},"args":[{"$from":"write","pointer":"/content"}]}}]}
EOF
expect "a python task's code from a dependency's result" 0 '"ok":true' "$cog" --json run from.json
check "the code member kept its name" \
	"$(task run)['result']['stdout'] == '42 MOCK-SUMMARY: GREEN TEA WANTS COOLER WATER (AFTER CALL_NOTES).\n'"

# ---- the config file's "llm" object ----
echo '{"llm": {"prices": {"mock-model": {"input": "cheap"}}}}' > bad-price.json
expect "a bad price in the config file" 2 'bad-price.json: "llm"' env COG_CONFIG=bad-price.json \
	"$cog" run summarize my tea notes
echo '{"llm": 5}' > bad-llm.json
expect "\"llm\" that is not an object" 2 '"llm" must be an object' env COG_CONFIG=bad-llm.json \
	"$cog" run summarize my tea notes

# ---- the key ----
if grep -rq "sk-mock-secret" out.txt err.txt pty.txt plain.err pty2.txt; then
	bad "the API key was printed"
else
	ok "the API key was never printed"
fi

finish "cli/run-llm"
