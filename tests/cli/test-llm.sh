#!/bin/sh
# cog chat and cog plan GOAL --llm against a loopback OpenAI-compatible
# server (python3's http.server, started here on a kernel-chosen port and
# stopped by its PID): streamed text, --no-stream, --json, the request's
# members from the flags, the no-LLM error and its exit code, bad URLs,
# an error answer, Ctrl-C, the LLM planner and its fallback to templates,
# which key goes to which provider (--provider chooses the key too), and an
# API key that never reaches stdout or stderr.
# Usage: test-llm.sh COG TEMPLATE_DIR
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") templates=$(abspath "$2")
export COG_TEMPLATE_PATH="$templates" COG_TEMPLATE_DIR=""
unset COG_DB COG_LLM_PROVIDER COG_LLM_URL COG_MODEL COG_API_KEY OPENAI_API_KEY \
	ANTHROPIC_API_KEY COG_LOG_LEVEL
work=$(mktemp -d)
server_pid="" child_pid=""
cleanup() {
	[ -n "$child_pid" ] && kill "$child_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

# The server. Requests (one JSON line each: path, authorization, headers
# with lower-case names, body) go to requests.jsonl. Answers by path and
# body:
#   .../messages (Anthropic), .../api/chat (Ollama)
#                                         "Hello world" in that provider's
#                                         shape (not streamed)
#   /v1/chat/completions, "stream":true   SSE: "Hel", "lo", " world" in pieces
#   /v1/chat/completions                  JSON: "Hello world", or a plan
#                                         when the request asks for one
#   /key/...                              401 echoing the Authorization header
#   /slow/...                             answers after 20 s (Ctrl-C test)
#   /drip/... (streamed)                  "Hel", then nothing for 20 s
#   /escape/...                           text with a terminal escape sequence
cat > server.py <<'EOF'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN = {"tasks": [
    {"id": "outline", "title": "Outline the report", "kind": "llm",
     "inputs": {"prompt": "Outline a report on tea"}},
    {"id": "save", "title": "Save the report", "kind": "tool", "tool": "file_write",
     "inputs": {"path": "report.md", "content": {"$from": "outline", "pointer": "/content"}},
     "depends_on": ["outline"]}]}

def completion(content):
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
            "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}

def chunk(delta, finish=None, usage=None):
    c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        c["choices"] = []
        c["usage"] = usage
    return "data: " + json.dumps(c) + "\n\n"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        auth = self.headers.get("Authorization", "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        with open("requests.jsonl", "a") as log:
            log.write(json.dumps({"path": self.path, "authorization": auth,
                                  "headers": headers, "body": body}) + "\n")
        req = json.loads(body)
        if self.path.endswith("/messages"):
            self.send(200, json.dumps({"id": "msg_1", "type": "message", "role": "assistant",
                                       "model": "m", "content": [{"type": "text",
                                                                  "text": "Hello world"}],
                                       "stop_reason": "end_turn", "stop_sequence": None,
                                       "usage": {"input_tokens": 5, "output_tokens": 3}}))
            return
        if self.path.endswith("/api/chat"):
            self.send(200, json.dumps({"model": "m", "created_at": "2024-01-01T00:00:00Z",
                                       "message": {"role": "assistant", "content": "Hello world"},
                                       "done": True, "done_reason": "stop",
                                       "prompt_eval_count": 5, "eval_count": 3}))
            return
        if self.path.startswith("/key/"):
            self.send(401, json.dumps({"error": {"message": "Incorrect API key provided: "
                                                 + auth[len("Bearer "):], "type": "invalid_request_error"}}))
            return
        if self.path.startswith("/slow/"):
            time.sleep(20)
        text = "Hello world"
        if self.path.startswith("/escape/"):
            text = "red \x1b[31malert\x1b[0m"
        if req.get("response_format", {}).get("type") == "json_schema":
            self.send(200, json.dumps(completion(json.dumps(PLAN))))
            return
        if not req.get("stream"):
            self.send(200, json.dumps(completion(text)))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = ["Hel", "lo", " world"] if text == "Hello world" else [text]
        self.wfile.write(chunk({"role": "assistant", "content": ""}).encode())
        if self.path.startswith("/drip/"):
            self.wfile.write(chunk({"content": "Hel"}).encode())
            self.wfile.flush()
            time.sleep(20)
            return
        for p in pieces:
            self.wfile.write(chunk({"content": p}).encode())
            self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(chunk({}, "stop").encode())
        self.wfile.write(chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 3,
                                          "total_tokens": 8}).encode())
        self.wfile.write(b"data: [DONE]\n\n")

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open("port.tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename("port.tmp", "port")
server.serve_forever()
EOF
python3 server.py 2>server.err &
server_pid=$!
for _ in $(seq 1 100); do
	[ -s port ] && break
	sleep 0.05
done
if [ ! -s port ]; then
	echo "not ok - the loopback LLM server did not start: $(cat server.err)"
	exit 1
fi
url="http://127.0.0.1:$(cat port)"
ok "loopback LLM server on $url"

# last_request PYTHON-EXPRESSION: true about r, the last request's body.
last_request() {
	python3 -c "import json,sys; l=open('requests.jsonl').read().splitlines(); r=json.loads(json.loads(l[-1])['body']); sys.exit(0 if ($1) else 1)"
}
check_request() {
	if last_request "$2" 2>/dev/null; then ok "$1"; else bad "$1: ($2) is false for $(tail -n 1 requests.jsonl | head -c 600)"; fi
}

# ---- configuration ----

expect "chat without an LLM exits 2" 2 \
	"no LLM configured: set COG_LLM_URL (and COG_LLM_PROVIDER, COG_MODEL) or pass --url" \
	"$cog" chat hello
expect "--json chat without an LLM" 2 '"ok":false' "$cog" --json chat hello
is_json "--json chat without an LLM"
expect "chat without a prompt" 2 "chat needs a PROMPT" "$cog" chat --url "$url/v1"
expect "bad --temperature" 2 "temperature" "$cog" chat hi --url "$url/v1" --temperature hot
expect "bad --max-tokens" 2 "max-tokens" "$cog" chat hi --url "$url/v1" --max-tokens 0
expect "bad --provider" 2 "openai, anthropic or ollama" "$cog" chat hi --provider gpt
expect "bad COG_LLM_PROVIDER" 2 "COG_LLM_PROVIDER" env COG_LLM_PROVIDER=gpt "$cog" chat hi
expect "unknown chat option" 2 "unknown option" "$cog" chat hi --url "$url/v1" --bogus

# ---- which key goes to which provider ----

# check_headers NAME PYTHON-EXPRESSION: true about h, the last request's
# headers (names in lower case), and p, its path.
check_headers() {
	if python3 -c "import json,sys; l=json.loads(open('requests.jsonl').read().splitlines()[-1]); h=l['headers']; p=l['path']; sys.exit(0 if ($2) else 1)" 2>/dev/null
	then ok "$1"; else bad "$1: ($2) is false for $(tail -n 1 requests.jsonl | head -c 600)"; fi
}
# The key of the provider named in the environment (none: openai) must not
# follow --provider to another one: the provider is chosen first, then its
# own key ($COG_API_KEY, else OPENAI_API_KEY or ANTHROPIC_API_KEY; Ollama
# none).
expect "--provider anthropic with an OpenAI key" 0 "Hello world" \
	env OPENAI_API_KEY=sk-openai-secret "$cog" chat hi --provider anthropic --url "$url/v1" \
	--model m --no-stream
check_headers "the OpenAI key does not reach Anthropic" \
	"p == '/v1/messages' and 'sk-openai-secret' not in json.dumps(h) and 'x-api-key' not in h and 'authorization' not in h"
expect "--provider anthropic with its key" 0 "Hello world" \
	env OPENAI_API_KEY=sk-openai-secret ANTHROPIC_API_KEY=sk-ant-secret "$cog" chat hi \
	--provider anthropic --url "$url/v1" --model m --no-stream
check_headers "Anthropic gets its own key as x-api-key" \
	"p == '/v1/messages' and h.get('x-api-key') == 'sk-ant-secret' and 'sk-openai-secret' not in json.dumps(h)"
expect "--provider ollama with an OpenAI key" 0 "Hello world" \
	env OPENAI_API_KEY=sk-openai-secret "$cog" chat hi --provider ollama --url "$url" \
	--model m --no-stream
check_headers "the OpenAI key does not reach Ollama" \
	"p == '/api/chat' and 'sk-openai-secret' not in json.dumps(h) and 'authorization' not in h"
expect "--provider openai over COG_LLM_PROVIDER=anthropic" 0 "Hello world" \
	env COG_LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-secret OPENAI_API_KEY=sk-openai-secret \
	"$cog" chat hi --provider openai --url "$url/v1" --model m --no-stream
check_headers "OpenAI gets its own key, not Anthropic's" \
	"p == '/v1/chat/completions' and h.get('authorization') == 'Bearer sk-openai-secret' and 'sk-ant-secret' not in json.dumps(h)"
expect "COG_API_KEY goes to the chosen provider" 0 "Hello world" \
	env COG_API_KEY=sk-cog-secret OPENAI_API_KEY=sk-openai-secret "$cog" chat hi \
	--provider anthropic --url "$url/v1" --model m --no-stream
check_headers "COG_API_KEY is the x-api-key" \
	"h.get('x-api-key') == 'sk-cog-secret' and 'sk-openai-secret' not in json.dumps(h)"
expect "plan --llm --provider anthropic with an OpenAI key" 0 "read_sample" \
	env OPENAI_API_KEY=sk-openai-secret "$cog" plan --no-save analyze sales.csv --llm \
	--provider anthropic --url "$url/v1" --model m
check_headers "plan --llm: the OpenAI key does not reach Anthropic" \
	"p == '/v1/messages' and 'sk-openai-secret' not in json.dumps(h) and 'x-api-key' not in h"
if grep -q "sk-openai-secret\|sk-ant-secret\|sk-cog-secret" out.txt err.txt; then
	bad "a key was printed"
else
	ok "no key was printed"
fi

export COG_API_KEY=sk-test-secret

# ---- cog chat ----

expect "chat streams the answer" 0 "Hello world" env COG_LLM_URL="$url/v1" COG_MODEL=test-model \
	"$cog" chat Say hello
[ "$(cat out.txt)" = "Hello world" ] && ok "streamed text, then a newline" \
	|| bad "stdout is '$(cat out.txt)'"
check_request "the request streams" "r.get('stream') is True and r['model'] == 'test-model'"
check_request "the prompt is the words joined" \
	"r['messages'] == [{'role': 'user', 'content': 'Say hello'}]"
grep -q '"authorization": "Bearer sk-test-secret"' requests.jsonl \
	&& ok "the key went in the Authorization header" || bad "no Bearer key: $(tail -n 1 requests.jsonl)"

expect "chat flags" 0 "Hello world" "$cog" chat "What?" --url "$url/v1" --model flag-model \
	--system "Be brief." --temperature 0.5 --max-tokens 64
check_request "flags reach the request" \
	"r['model'] == 'flag-model' and r['messages'][0] == {'role': 'system', 'content': 'Be brief.'} and r['temperature'] == 0.5 and r['max_tokens'] == 64"

expect "--no-stream" 0 "Hello world" "$cog" chat hi --url "$url/v1" --model m --no-stream
[ "$(cat out.txt)" = "Hello world" ] && ok "--no-stream prints the answer once" \
	|| bad "stdout is '$(cat out.txt)'"
check_request "--no-stream does not stream" "not r.get('stream')"

expect "chat --json" 0 '"content":"Hello world"' "$cog" chat hi --url "$url/v1" --model m --json
is_json "chat --json"
if python3 -c 'import json,sys; o=json.load(open("out.txt")); sys.exit(0 if o["message"]["content"] == "Hello world" and o["endpoint"] == "default" and o["usage"]["input_tokens"] == 5 else 1)' 2>/dev/null
then ok "--json is the whole response"; else bad "--json output: $(head -c 400 out.txt)"; fi
expect "cog --json chat" 0 '"finish_reason":"stop"' "$cog" --json chat hi --url "$url/v1" --model m

expect "bad URL" 2 "[Uu][Rr][Ll]" "$cog" chat hi --url "not a url"
expect "nothing listens" 1 "cog: error:" "$cog" chat hi --url "http://127.0.0.1:9/v1" --model m
expect "a 401 answer" 1 "401" "$cog" chat hi --url "$url/key/v1" --model m
expect "a 401 answer, --json" 1 '"ok":false' "$cog" --json chat hi --url "$url/key/v1" --model m

printf 'red \033[31malert\033[0m\n' > escape.expected
expect "text to a pipe is as sent" 0 "alert" "$cog" chat hi --url "$url/escape/v1" --model m
cmp -s escape.expected out.txt && ok "escape bytes pass through a pipe" \
	|| bad "piped text: $(od -c out.txt | head -3)"

# Ctrl-C: cog cancels the request and exits at once (130).
"$cog" chat hi --url "$url/slow/v1" --model m >slow.out 2>slow.err &
child_pid=$!
sleep 0.5
start=$(date +%s%N)
kill -INT "$child_pid"
wait "$child_pid"
code=$?
child_pid=""
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$code" -eq 130 ] && ok "Ctrl-C exits 130" || bad "Ctrl-C: exit $code, $(cat slow.err)"
grep -q "canceled" slow.err && ok "Ctrl-C says canceled" || bad "Ctrl-C stderr: $(cat slow.err)"
[ "$took" -lt 2000 ] && ok "Ctrl-C ends cog in ${took} ms" || bad "Ctrl-C took ${took} ms"

# Tokens reach stdout as they arrive; Ctrl-C in the middle of a stream.
"$cog" chat hi --url "$url/drip/v1" --model m >drip.out 2>drip.err &
child_pid=$!
for _ in $(seq 1 100); do
	[ -s drip.out ] && break
	sleep 0.05
done
[ "$(cat drip.out)" = "Hel" ] && ok "the first token is on stdout before the answer ends" \
	|| bad "mid-stream stdout: '$(cat drip.out)' stderr: $(cat drip.err)"
kill -INT "$child_pid"
wait "$child_pid"
code=$?
child_pid=""
[ "$code" -eq 130 ] && ok "Ctrl-C mid-stream exits 130" || bad "Ctrl-C mid-stream: exit $code"
printf 'Hel\n' | cmp -s - drip.out && ok "the cut answer ends its line" \
	|| bad "stdout after Ctrl-C: '$(od -c drip.out | head -2)'"

# ---- cog plan GOAL --llm ----

expect "plan --llm without an LLM" 2 "no LLM configured" "$cog" plan research tea --llm
expect "--url without --llm" 2 "go with --llm" "$cog" plan research tea --url "$url/v1"
expect "plan --llm" 0 '"outline"' env COG_LLM_URL="$url/v1" COG_MODEL=m "$cog" plan \
	--no-save write a report on tea --llm
check_request "the planner asked for the plan schema" \
	"r['response_format']['type'] == 'json_schema' and 'tasks' in r['response_format']['json_schema']['schema']['properties']"
check_request "the planner listed cog's tools" "'file_write' in r['messages'][1]['content']"
expect "plan --llm saves the plan" 0 '"saved":true' "$cog" --json plan write a report on tea \
	--llm --url "$url/v1" --model m
is_json "--json plan --llm"
if python3 -c 'import json,sys; o=json.load(open("out.txt")); sys.exit(0 if o["tasks"] == 2 and o["goal"] == "write a report on tea" else 1)' 2>/dev/null
then ok "the LLM's plan was saved"; else bad "plan --llm output: $(head -c 400 out.txt)"; fi
expect "the saved plan is listed" 0 "write a report on tea" "$cog" status

expect "plan --llm falls back to templates" 0 '"read_sample"' "$cog" plan --no-save \
	analyze sales.csv --llm --url "http://127.0.0.1:9/v1" --model m
grep -q "warning: .*the llm planner failed" err.txt && ok "the fallback is a warning" \
	|| bad "no fallback warning: $(cat err.txt)"
expect "plan --llm, nothing works" 1 "no planner could plan the goal" "$cog" plan --no-save \
	make me a sandwich --llm --url "http://127.0.0.1:9/v1" --model m
expect "plan --llm from a file" 2 "not from a plan file" "$cog" plan x.json --llm --url "$url/v1"

# ---- the key ----

if grep -rq "sk-test-secret" out.txt err.txt slow.out slow.err drip.out drip.err; then
	bad "the API key was printed"
else
	ok "the API key was never printed"
fi
# Every command above, once more, collecting all output.
for args in "chat hi --url $url/key/v1 --model m" "--json chat hi --url $url/key/v1 --model m" \
	"chat hi --url http://127.0.0.1:9/v1" "chat hi --url $url/v1 --model m" \
	"plan --no-save tea --llm --url $url/key/v1 --model m"; do
	# shellcheck disable=SC2086
	"$cog" $args >>all.out 2>&1
done
grep -q "sk-test-secret" all.out && bad "the API key was printed: $(grep sk-test all.out | head -3)" \
	|| ok "no command printed the API key"


# cog doctor reports the LLM the environment configures, never its key,
# and sends nothing.
expect "doctor without an LLM" 0 "llm .*not configured" "$cog" doctor
COG_LLM_URL="$url/v1" COG_MODEL=m COG_API_KEY=sk-test-secret \
	expect "doctor with an LLM" 0 '"api_key_set":true' "$cog" doctor
if grep -q "sk-test-secret" out.txt err.txt; then
	bad "doctor printed the API key"
else
	ok "doctor did not print the API key"
fi
COG_LLM_PROVIDER=bogus expect "doctor with a bad provider" 1 'COG_LLM_PROVIDER="bogus" is not a provider' \
	"$cog" doctor
COG_LLM_PROVIDER=ollama expect "doctor without a model" 0 "no model: set COG_MODEL" "$cog" doctor

finish "cli/llm"
