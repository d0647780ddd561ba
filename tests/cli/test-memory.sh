#!/bin/sh
# cog memory as a user runs it, with the hashing embedder (no model, no
# network) over the SQLite database: add (text and --json, near-duplicates
# merged), import of examples/data/memories.jsonl and of a file with bad
# lines (counts, line numbers, the valid lines still stored), search (the
# table and --json, layers, metadata, inheritance, isolation between
# namespaces), get, forget by id and by filter, expiry and purge, memories
# persisting between invocations and staying in their database, redaction
# before storage, bad input (exit 2 and a message naming the problem), and
# query text full of FTS5 syntax that must neither fail nor inject.
# Usage: test-memory.sh COG MEMORIES_JSONL
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") data=$(abspath "$2")
unset COG_DB COG_MEMORY_NS COG_MEMORY_EMBEDDER COG_EMBED_MODEL COG_LLM_PROVIDER \
	COG_LLM_URL COG_MODEL COG_API_KEY OPENAI_API_KEY ANTHROPIC_API_KEY COG_LOG_LEVEL COLUMNS
work=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1

# check NAME PYTHON_CONDITION: the condition holds for o, the JSON object on
# stdout of the last expect (r: o["results"] when present).
check() {
	if python3 -c "
import json, sys
o = json.load(open('out.txt'))
r = o.get('results', [])
sys.exit(0 if ($2) else 1)" 2>/dev/null; then
		ok "$1"
	else
		bad "$1: $(head -c 600 out.txt)"
	fi
}
# field PYTHON_EXPR: print the value from the last stdout (o as above).
field() {
	python3 -c "
import json
o = json.load(open('out.txt'))
r = o.get('results', [])
print($1)" 2>/dev/null
}
# no_line_with TEXT NAME: neither stdout nor stderr of the last expect has TEXT.
no_line_with() {
	if grep -q -F -- "$1" out.txt err.txt; then bad "$2"; else ok "$2"; fi
}

# ---- usage ----
expect "memory without a command" 2 "needs a command" "$cog" memory
expect "unknown memory command" 2 "unknown memory command 'frob'" "$cog" memory frob
expect "memory help" 0 "cog memory search" "$cog" memory help
expect "--help lists memory" 0 "memory search QUERY" "$cog" --help
expect "search before any database" 1 "no database at ./cognition.db" "$cog" memory search tea
[ ! -e cognition.db ] && ok "search does not create the database" || bad "search created ./cognition.db"

# ---- add, get, persistence ----
expect "add" 0 "^added [0-9]" "$cog" memory add The deploy window is Thursday 14:00 UTC \
	--meta '{"topic":"ops","pinned":true}' --importance 0.8
id1=$(awk '{print $2}' out.txt)
expect "add --json" 0 '"ok":true' "$cog" memory add "Backups run nightly at 03:00 and are kept for 35 days" --json
is_json "add --json"
check "add --json gives a new id" 'o["id"] > 0 and o["merged"] is False and o["namespace"] == "default"'
id2=$(field 'o["id"]')
[ "$id1" != "$id2" ] && ok "two memories, two ids" || bad "ids $id1 and $id2"
expect "get in a new process" 0 "Thursday 14:00 UTC" "$cog" memory get "$id1"
grep -q '"pinned":true' out.txt && ok "get shows the metadata" || bad "get lacks the metadata: $(cat out.txt)"
expect "get --json" 0 '"layer":"long_term"' "$cog" memory get "$id1" --json
is_json "get --json"
check "get --json is the memory" "o['id'] == $id1 and o['metadata']['topic'] == 'ops' and o['importance'] == 0.8 and o['namespace'] == 'default'"
expect "search in a new process" 0 "Thursday 14:00" "$cog" memory search deploy window
grep -q "^1 *$id1 " out.txt && ok "the table ranks it first with its id" || bad "table: $(cat out.txt)"
head -n 1 out.txt | grep -q "SCORE.*SIGNALS.*LAYER.*TEXT" && ok "the table has a header" \
	|| bad "header: $(head -n 1 out.txt)"
expect "the same text again merges" 0 "merged into $id1" "$cog" memory add "The deploy window is Thursday 14:00 UTC."
expect "the same text with --json" 0 '"merged":true' "$cog" --json memory add "The deploy window is Thursday 14:00 UTC"
check "merged reports the existing id" "o['id'] == $id1"
expect "COG_MEMORY_NS chooses the namespace" 0 '"namespace":"team-x"' env COG_MEMORY_NS=team-x \
	"$cog" memory add "Team X meets on Mondays" --json
expect "another namespace does not see it" 0 '"results"' "$cog" memory search Team X meets Mondays --json
check "default has no memory of team-x" 'len(r) > 0 and not any("Team X" in x["text"] for x in r)'
expect "--db keeps memories in that file" 0 "added" "$cog" --db other.db memory add "Only in other.db: walrus"
expect "other.db has it" 0 "walrus" "$cog" --db other.db memory search walrus
expect "./cognition.db does not" 0 '"results"' "$cog" memory search walrus --json
check "no walrus in ./cognition.db" 'not any("walrus" in x["text"] for x in r)'

# ---- import ----
expect "import the example file" 0 "30 added, 1 merged" "$cog" memory import "$data" --ns acme/alice
grep -q "0 failed" out.txt && ok "import: nothing failed" || bad "import: $(cat out.txt)"
expect "import --json" 0 '"added":30' "$cog" memory import "$data" --ns acme/bob --json
is_json "import --json"
check "import --json counts" 'o["ok"] is True and o["lines"] == 31 and o["merged"] == 1 and o["failed"] == 0 and o["errors"] == []'
expect "stats after import" 0 "memories *30 (short_term 3, long_term 23, episodic 4)" \
	"$cog" memory stats --ns acme/alice
expect "stats --json" 0 '"ok":true' "$cog" memory stats --ns acme/alice --json
is_json "stats --json"
check "stats --json counts" 'o["memories"]["total"] == 30 and o["stats"]["namespace"] == "acme/alice"'

# ---- search ----
expect "search the import" 0 "Refunds over 500 EUR" "$cog" memory search approval for refunds by the finance lead --ns acme/alice
expect "search --json" 0 '"results"' "$cog" memory search approval for refunds by the finance lead --ns acme/alice --json
is_json "search --json"
check "search --json: ranked results with signals" 'len(r) > 0 and o["ok"] is True and "embedder" in o and all("score" in x and "signals" in x for x in r) and [x["score"] for x in r] == sorted([x["score"] for x in r], reverse=True)'
check "search --json: the refund policy among the first three" 'any("Refunds over 500 EUR" in x["text"] for x in r[:3])'
check "search --json: only acme/alice" 'all(x["namespace"] == "acme/alice" for x in r)'
check "search --json: keyword signal with bm25" 'any("keyword" in x["signals"] and x["signals"]["keyword"]["rank"] >= 1 for x in r)'
expect "--k 2" 0 '"results"' "$cog" memory search sales report Q3 --ns acme/alice --k 2 --json
check "--k 2 gives two" 'len(r) == 2'
expect "--layer episodic" 0 '"results"' "$cog" memory search sales task succeeded --ns acme/alice --layer episodic --json
check "--layer episodic gives only episodes" 'len(r) > 0 and all(x["layer"] == "episodic" for x in r)'
expect "--layer short_term,long_term" 0 '"results"' "$cog" memory search sales --ns acme/alice --layer short_term,long_term --json
check "two layers, no episode" 'len(r) > 0 and all(x["layer"] in ("short_term", "long_term") for x in r)'
expect "--meta filter" 0 '"results"' "$cog" memory search invoice refund customer --ns acme/alice --meta '{"topic":"billing"}' --json
check "--meta keeps only billing" 'len(r) > 0 and all(x["metadata"]["topic"] == "billing" for x in r)'
expect "an unknown namespace" 0 "no memories match in namespace acme/carol" "$cog" memory search refund --ns acme/carol
expect "an unknown namespace, --json" 0 '"results":\[\]' "$cog" memory search refund --ns acme/carol --json
expect "the parent does not see its children" 0 "no memories match" "$cog" memory search refund --ns acme
expect "a child without --inherit" 0 "no memories match" "$cog" memory search refund --ns acme/alice/helper
expect "a child with --inherit" 0 "NAMESPACE" "$cog" memory search refund --ns acme/alice/helper --inherit
grep -qi "acme/alice .*refund" out.txt && ok "--inherit shows the ancestor's memory and namespace" \
	|| bad "--inherit: $(cat out.txt)"
expect "--inherit --json" 0 '"results"' "$cog" memory search refund --ns acme/alice/helper --inherit --json
check "--inherit never shows a sibling" 'len(r) > 0 and all(x["namespace"] == "acme/alice" for x in r)'
COLUMNS=80 "$cog" memory search sales report revenue churn --ns acme/alice >out.txt 2>err.txt
if awk 'length($0) > 80 { exit 1 }' out.txt && grep -q '\.\.\.$' out.txt; then
	ok "COLUMNS=80 cuts the text to the width"
else
	bad "lines over 80 columns or none cut: $(cat out.txt)"
fi

# ---- redaction ----
expect "redacted before storage" 0 "Bob Meyer" "$cog" memory search finance lead Bob Meyer reach --ns acme/alice --json
check "the email and phone are gone" 'any("Bob Meyer" in x["text"] and "[EMAIL]" in x["text"] and "bob.meyer@example.com" not in x["text"] and "1234567" not in x["text"] for x in r)'
"$cog" memory add "My card is 4111 1111 1111 1111 and key sk-abcdefghijklmnopqrstuvwx1234" --ns acme/alice >out.txt 2>&1
expect "a card number and an API key" 0 "CARD" "$cog" memory search card key --ns acme/alice
no_line_with "4111 1111" "the card number was not stored"
no_line_with "sk-abcdefghij" "the API key was not stored"

# ---- control characters from stored text ----
"$cog" memory add "$(printf 'bell \033[31mred\033[0m text')" --ns acme/esc >/dev/null 2>&1
expect "escape sequences are shown, not sent" 0 'x1b' "$cog" memory search red text --ns acme/esc
if grep -q "$(printf '\033')" out.txt; then bad "raw ESC reached stdout"; else ok "no raw ESC on stdout"; fi

# ---- query text that is FTS5 syntax ----
for q in 'tea" OR (coffee*) NEAR/3 -x ^y: {z}' '"' '*' 'AND' 'NOT OR' "'; DROP TABLE memories; --" \
	'col:refund' '(((' '"refund"*' '\' '%_%'; do
	expect "query [$q]" 0 "" "$cog" memory search "$q" --ns acme/alice
done
expect "still searchable after those" 0 "Refunds over 500 EUR" "$cog" memory search refunds approval --ns acme/alice
expect "quoted query --json" 0 '"ok":true' "$cog" memory search 'refunds" OR "churn' --ns acme/alice --json
is_json "quoted query --json"

# ---- forget ----
expect "forget by id" 0 "forgot $id2" "$cog" memory forget "$id2"
expect "get after forget" 1 "no memory $id2 in namespace default" "$cog" memory get "$id2"
expect "forget it again" 1 "no memory $id2" "$cog" memory forget "$id2"
expect "forget in another namespace" 1 "no memory $id1 in namespace acme/alice" "$cog" memory forget "$id1" --ns acme/alice
expect "it is still there" 0 "Thursday" "$cog" memory get "$id1"
expect "forget by filter" 0 "forgot 3 memories" "$cog" memory forget --filter '{"metadata":{"topic":"billing"}}' --ns acme/alice
expect "billing is gone" 0 '"results"' "$cog" memory search invoice refund billing --ns acme/alice --json
check "no billing memory left" 'all(x["metadata"].get("topic") != "billing" for x in r)'
expect "acme/bob keeps its billing" 0 '"forgotten":3' "$cog" --json memory forget --filter '{"metadata":{"topic":"billing"}}' --ns acme/bob
is_json "forget --filter --json"
expect "forget layers by filter" 0 "forgot 4 memories" "$cog" memory forget --filter '{"layers":["episodic"]}' --ns acme/alice
expect "stats after forgetting" 0 "memories *24 (short_term 3, long_term 21, episodic 0)" "$cog" memory stats --ns acme/alice

# ---- expiry ----
expect "a short-lived memory" 0 "added" "$cog" memory add "ephemeral zebra crossing note" --layer short_term --ttl 1 --ns acme/tmp
idt=$(awk '{print $2}' out.txt)
sleep 1
expect "an expired memory is not found" 0 "no memories match" "$cog" memory search ephemeral zebra --ns acme/tmp
expect "nor got" 1 "no memory $idt" "$cog" memory get "$idt" --ns acme/tmp
expect "purge" 0 "purged [1-9]" "$cog" memory purge

# ---- imports with bad lines ----
cat > bad.jsonl <<'EOF'
{"text":"good line one about lighthouses"}
{"text": broken json
{"text":""}
{"text":"unknown member","colour":"red"}
{"text":"in RAM only","layer":"working"}

{"text":"metadata that is a list","metadata":[1,2]}
{"text":"good line two about lighthouses and harbours","metadata":{"topic":"sea"}}
EOF
expect "import with bad lines" 1 "2 added, 0 merged into near-duplicates, 5 failed" "$cog" memory import bad.jsonl --ns acme/sea
for n in 2 3 4 5 7; do
	grep -q "bad.jsonl:$n: " err.txt && ok "line $n is reported" || bad "line $n not reported: $(cat err.txt)"
done
grep -q "bad.jsonl:5: .*working" err.txt && ok "the working layer is explained" || bad "line 5: $(cat err.txt)"
grep -q "bad.jsonl:4: .*colour" err.txt && ok "the unknown member is named" || bad "line 4: $(cat err.txt)"
expect "the good lines are stored" 0 "harbours" "$cog" memory search lighthouses --ns acme/sea
expect "import with bad lines --json" 1 '"failed":5' "$cog" memory import bad.jsonl --ns acme/sea2 --json
is_json "import with bad lines --json"
check "the errors list their lines" '[e["line"] for e in o["errors"]] == [2, 3, 4, 5, 7] and o["ok"] is False and o["added"] == 2'
printf '\357\273\277{"text":"a byte order mark before otters"}\r\n\r\n{"text":"CRLF line about beavers"}\r\n' > crlf.jsonl
expect "import CRLF lines after a byte order mark" 0 "2 added, 0 merged into near-duplicates, 0 failed" \
	"$cog" memory import crlf.jsonl --ns acme/crlf
expect "import a missing file" 1 "cannot open nope.jsonl" "$cog" memory import nope.jsonl
expect "import from stdin" 0 "1 added" sh -c "echo '{\"text\":\"from a pipe: kingfisher\"}' | '$cog' memory import - --ns acme/pipe"
python3 -c "
import random
random.seed(7)
w = lambda: ''.join(random.choice('bcdfghjklmnpqrstvwxz') + random.choice('aeiou') for _ in range(4))
with open('big.jsonl', 'w') as f:
    for i in range(2500):
        f.write('{\"text\":\"entry %s about %s and %s\",\"metadata\":{\"n\":%d}}\n' % (w(), w(), w(), i))
"
expect "import 2500 lines (3 transactions)" 0 '"failed":0' "$cog" memory import big.jsonl --ns acme/big --json
check "all 2500 lines stored" 'o["added"] + o["merged"] == 2500 and o["lines"] == 2500'
added=$(field 'o["added"]')
expect "stats of the big import" 0 '"ok":true' "$cog" memory stats --ns acme/big --json
check "stats count what import added ($added)" "o['memories']['total'] == $added"

# ---- the LLM embedder (a loopback OpenAI-compatible /v1/embeddings) ----
if "$cog" --version | grep -q curl; then
	cat > server.py <<'EOF'
import json, os, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def embed(text):
    v = [0.0] * 16
    for w in text.lower().split():
        v[zlib.crc32(w.strip(".,!?").encode()) % 16] += 1.0
    return v if any(v) else [1.0] + [0.0] * 15

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *args):
        pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with open("requests.jsonl", "a") as f:
            f.write(json.dumps({"path": self.path, "body": body}) + "\n")
        if not self.path.endswith("/embeddings"):
            self.send_response(404)
            self.end_headers()
            return
        data = [{"object": "embedding", "index": i, "embedding": embed(t)}
                for i, t in enumerate(body["input"])]
        out = json.dumps({"object": "list", "data": data,
                          "model": body.get("model", "server-default"),
                          "usage": {"prompt_tokens": 3, "total_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open("port.tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename("port.tmp", "port")
server.serve_forever()
EOF
	python3 server.py 2>server.err &
	server_pid=$!
	for _ in $(seq 1 100); do
		[ -s port ] && break
		sleep 0.05
	done
	url="http://127.0.0.1:$(cat port)/v1"
	llm="COG_LLM_URL=$url COG_LLM_PROVIDER=openai COG_EMBED_MODEL=embed-test"
	expect "--embedder llm" 0 "^added" env $llm "$cog" memory add "The llama farm opens at nine" \
		--embedder llm --ns llm/a
	if python3 -c "
import json, sys
r = [json.loads(l) for l in open('requests.jsonl')]
sys.exit(0 if r and all(x['path'] == '/v1/embeddings' and x['body'].get('model') == 'embed-test' for x in r) else 1)"; then
		ok "COG_EMBED_MODEL reaches the embeddings request"
	else
		bad "embedding requests: $(cat requests.jsonl)"
	fi
	expect "stats show the LLM's model" 0 '"embed-test":1' "$cog" memory stats --ns llm/a --json
	expect "search with the LLM embedder" 0 '"embedder":"embed-test"' env $llm \
		"$cog" memory search llama farm --ns llm/a --embedder llm --json
	check "the LLM search finds it by both signals" 'len(r) == 1 and "vector" in r[0]["signals"] and "keyword" in r[0]["signals"]'
	expect "COG_MEMORY_EMBEDDER=auto uses the LLM" 0 '"embedder":"embed-test"' env $llm \
		COG_MEMORY_EMBEDDER=auto "$cog" memory search llama --ns llm/a --json
	expect "auto without an LLM is hashing" 0 '"embedder":"hash-384"' env COG_MEMORY_EMBEDDER=auto \
		"$cog" memory search walrus --json
	expect "--embedder llm, nothing listening" 1 "error" env COG_LLM_URL="http://127.0.0.1:1/v1" \
		COG_LLM_PROVIDER=openai "$cog" memory add "unreachable" --embedder llm --ns llm/b
	expect "--embedder llm, nothing stored" 0 "memories *0 " "$cog" memory stats --ns llm/b
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=""
fi

# ---- bad input ----
expect "--meta not JSON" 2 "--meta is not valid JSON" "$cog" memory add "x marks" --meta '{bad'
expect "--meta not an object" 2 "--meta must be a JSON object" "$cog" memory add "x marks" --meta '[1,2]'
expect "search --meta not JSON" 2 "--meta is not valid JSON" "$cog" memory search x --meta '{"a":'
expect "--layer unknown" 2 "unknown layer 'nope'" "$cog" memory add "x marks" --layer nope
expect "search --layer unknown" 2 "unknown layer 'bogus'" "$cog" memory search x --layer long_term,bogus
expect "--layer working" 2 "RAM" "$cog" memory add "x marks" --layer working
expect "empty text" 2 "TEXT is empty" "$cog" memory add ""
expect "blank text" 2 "TEXT is empty" "$cog" memory add "   "
expect "no text" 2 "needs TEXT" "$cog" memory add --ns acme
expect "--json empty text" 2 '"ok":false' "$cog" --json memory add ""
is_json "--json empty text"
expect "--importance too big" 2 "--importance needs a number from 0 to 1" "$cog" memory add "x marks" --importance 2
expect "--ttl not a number" 2 "--ttl needs milliseconds" "$cog" memory add "x marks" --ttl soon
expect "--k 0" 2 "--k needs a whole number from 1 to 1000" "$cog" memory search x --k 0
expect "--ns with a space" 2 "namespace" "$cog" memory add "x marks" --ns "acme/al ice"
expect "--ns with five segments" 2 "namespace" "$cog" memory search x --ns a/b/c/d/e
expect "--ns without a value" 2 "--ns needs a value" "$cog" memory search x --ns
expect "--embedder unknown" 2 "--embedder must be hashing, auto or llm" "$cog" memory search x --embedder magic
expect "--embedder llm without an LLM" 2 "no LLM configured" "$cog" memory search x --embedder llm
expect "unknown option" 2 "unknown option '--frob'" "$cog" memory search x --frob
expect "forget without an id" 2 "usage: cog memory forget" "$cog" memory forget
expect "forget with an id and a filter" 2 "usage: cog memory forget" "$cog" memory forget 1 --filter '{"all":true}'
expect "forget a word" 2 "ID must be a memory id" "$cog" memory forget abc
expect "get 0" 2 "ID must be a memory id" "$cog" memory get 0
expect "forget --filter not JSON" 2 "--filter is not valid JSON" "$cog" memory forget --filter '{'
expect "forget --filter {}" 2 "filter" "$cog" memory forget --filter '{}'
expect "import without a file" 2 "needs a FILE" "$cog" memory import
expect "stats with an argument" 2 "usage: cog memory stats" "$cog" memory stats extra
expect "nothing was stored by bad input" 0 "memories *1 (" "$cog" memory stats

finish cli-memory
