#!/bin/sh
# cog mcp tools | call | servers against the reference MCP servers from npm
# (tests/peers): server-everything over stdio and over streamable HTTP (a
# loopback port of its own, stopped by its PID), server-filesystem (a write
# and a read inside the allowed folder, a path outside as a tool error),
# both argument orders of a stdio call, a server named in a config file,
# a broken config file, usage errors and a program that does not exist.
# Usage: test-mcp.sh COG PEERS_DIR BIND_LOOPBACK_CJS
set -u
. "$(dirname "$0")/lib.sh"
cog=$(abspath "$1") peers=$(abspath "$2") preload=$3
unset COG_CONFIG COG_LOG_LEVEL COG_DB
mcp=$peers/node_modules/@modelcontextprotocol
everything=$mcp/server-everything/dist/index.js
filesystem=$mcp/server-filesystem/dist/index.js

# The peers are required: no silent skip.
if ! command -v node >/dev/null 2>&1; then
	echo "not ok - node is not installed (apt-get install nodejs npm)"
	exit 1
fi
for f in "$everything" "$filesystem"; do
	if [ ! -f "$f" ]; then
		echo "not ok - $f is missing: install the test peers with npm ci --prefix tests/peers"
		exit 1
	fi
done
if [ ! -f "$preload" ]; then
	echo "not ok - $preload is missing (shared/peers/bind-loopback.cjs beside the tree)"
	exit 1
fi
preload=$(abspath "$preload")

work=$(mktemp -d)
server_pid="" child_pid=""
cleanup() {
	[ -n "$child_pid" ] && kill "$child_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work" || exit 1
mkdir data

# ---- stdio: server-everything ----
expect "tools over stdio" 0 "echo" "$cog" mcp tools -- node "$everything" stdio
expect "tools table has descriptions" 0 "get-sum" "$cog" mcp tools -- node "$everything" stdio
grep -q '^NAME' out.txt && ok "tools table has a header" || bad "no header: $(head -c 200 out.txt)"
grep -q 'Starting\|Server' err.txt && bad "the server's stderr reached the terminal: $(head -c 200 err.txt)" \
	|| ok "the server's stderr stays quiet without COG_LOG_LEVEL"
expect "tools --json" 0 '"name"' "$cog" mcp tools --json -- node "$everything" stdio
if python3 -c 'import json; o=json.load(open("out.txt")); assert o["ok"] is True; t=o["tools"]; assert isinstance(t, list); assert any(x["name"] == "echo" for x in t)' 2>/dev/null; then
	ok "tools --json: ok and the tools array with echo"
else
	bad "tools --json: $(head -c 300 out.txt)"
fi
expect "call TOOL ARGS -- COMMAND" 0 "Echo: hi" "$cog" mcp call echo '{"message":"hi"}' \
	-- node "$everything" stdio
expect "call -- COMMAND TOOL ARGS" 0 "Echo: hi" "$cog" mcp call -- node "$everything" stdio \
	echo '{"message":"hi"}'
expect "call --json" 0 '"content"' "$cog" mcp call --json echo '{"message":"hi"}' \
	-- node "$everything" stdio
if python3 -c 'import json; o=json.load(open("out.txt")); assert o["ok"] is True; r=o["result"]; assert r["content"][0]["text"] == "Echo: hi"' 2>/dev/null; then
	ok "call --json: ok and the CallToolResult"
else
	bad "call --json: $(head -c 300 out.txt)"
fi
expect "get-sum" 0 "5" "$cog" mcp call get-sum '{"a":2,"b":3}' -- node "$everything" stdio
expect "bad arguments are a tool error" 1 "cog: error:" "$cog" mcp call get-sum '{"a":"x"}' \
	-- node "$everything" stdio
expect "unknown tool fails" 1 "cog: error:" "$cog" mcp call no-such-tool '{}' \
	-- node "$everything" stdio
expect "COG_LOG_LEVEL shows the server's stderr" 0 "Echo: hi" env COG_LOG_LEVEL=info \
	"$cog" mcp call echo '{"message":"hi"}' -- node "$everything" stdio
[ -s err.txt ] && ok "records on stderr with COG_LOG_LEVEL" || bad "nothing on stderr with COG_LOG_LEVEL=info"

# Ctrl-C while a call runs: canceled, exit 130 (the server is told and stopped).
COG_LOG_LEVEL=info "$cog" mcp call trigger-long-running-operation '{"duration":60,"steps":60}' \
	-- node "$everything" stdio >long.out 2>long.err &
child_pid=$!
for _ in $(seq 1 300); do
	grep -q "progress: " long.err && break
	sleep 0.1
done
grep -q "progress: 1/60" long.err && ok "progress notifications with COG_LOG_LEVEL" \
	|| bad "no progress line: $(head -c 300 long.err)"
kill -INT "$child_pid"
wait "$child_pid"
code=$?
child_pid=""
[ "$code" -eq 130 ] && ok "Ctrl-C exits 130" || bad "Ctrl-C: exit $code, $(tail -c 300 long.err)"
grep -q "canceled" long.err && ok "Ctrl-C says canceled" || bad "Ctrl-C stderr: $(tail -c 300 long.err)"

# ---- stdio: server-filesystem, inside and outside its folder ----
expect "write_file inside" 0 "rote" "$cog" mcp call write_file \
	"{\"path\":\"$work/data/a.txt\",\"content\":\"hello mcp\"}" -- node "$filesystem" "$work/data"
[ "$(cat data/a.txt 2>/dev/null)" = "hello mcp" ] && ok "the server wrote the file" \
	|| bad "data/a.txt: $(cat data/a.txt 2>&1)"
expect "read_text_file inside" 0 "hello mcp" "$cog" mcp call read_text_file \
	"{\"path\":\"$work/data/a.txt\"}" -- node "$filesystem" "$work/data"
echo secret > outside.txt
expect "a path outside is a tool error" 1 "cog: error: .*ccess denied" "$cog" mcp call \
	read_text_file "{\"path\":\"$work/outside.txt\"}" -- node "$filesystem" "$work/data"
grep -q secret out.txt err.txt && bad "the outside file was read" || ok "nothing outside was read"
expect "isError with --json" 1 '"isError":true' "$cog" --json mcp call read_text_file \
	"{\"path\":\"$work/outside.txt\"}" -- node "$filesystem" "$work/data"
is_json "isError with --json"
grep -q "cog: error: .*ccess denied" err.txt && ok "isError with --json: the text on stderr" \
	|| bad "isError with --json, stderr: $(head -c 300 err.txt)"

# ---- the config file ----
cat > cog-test.json <<EOF
{"mcpServers": {
  "everything": {"command": "node", "args": ["$everything", "stdio"]},
  "files": {"command": "node", "args": ["$filesystem", "$work/data"],
            "env": {"SOME_TOKEN": "not-shown"}}
}}
EOF
expect "a configured server by name (--config)" 0 "Echo: by name" "$cog" --config cog-test.json \
	mcp call everything echo '{"message":"by name"}'
expect "COG_CONFIG" 0 "hello mcp" env COG_CONFIG=cog-test.json "$cog" mcp call files \
	read_text_file "{\"path\":\"$work/data/a.txt\"}"
cp cog-test.json cog.json
expect "./cog.json" 0 "echo" "$cog" mcp tools everything
expect "servers" 0 "everything" "$cog" mcp servers
grep -q 'not-shown' out.txt && bad "servers shows env values" || ok "servers hides env values"
expect "servers --json" 0 '"name":"files"' "$cog" mcp servers --json
is_json "servers --json"
rm cog.json
expect "unknown server name" 2 "no MCP server 'nope'" "$cog" --config cog-test.json \
	mcp tools nope
expect "a name without a config file" 2 "config file" "$cog" mcp tools everything
printf '{"mcpServers": {\n  "x": {"command": "node",}\n}}\n' > broken.json
expect "broken config names file and line" 2 "broken.json is not valid JSON: line 2" \
	"$cog" --config broken.json mcp tools x
expect "missing config file" 2 "nothing.json" "$cog" --config nothing.json mcp tools x
echo '{"mcpServers": {"x": {"command": "node", "bogus": 1}}}' > unknown.json
expect "unknown member in a server entry" 2 "bogus" "$cog" --config unknown.json mcp tools x

# ---- usage errors and failures ----
expect "mcp without a subcommand" 2 "usage" "$cog" mcp
expect "unknown subcommand" 2 "unknown mcp command" "$cog" mcp frobnicate
expect "tools without a server" 2 "needs a SERVER" "$cog" mcp tools
expect "call without a server" 2 "needs a SERVER" "$cog" mcp call
expect "call -- with too few words" 2 "COMMAND, a TOOL" "$cog" mcp call -- node echo
expect "bad ARGS_JSON" 2 "not valid JSON" "$cog" mcp call echo '{"message":' \
	-- node "$everything" stdio
expect "ARGS_JSON not an object" 2 "JSON object" "$cog" mcp call echo '[1]' \
	-- node "$everything" stdio
expect "bad --timeout" 2 "timeout" "$cog" mcp tools --timeout x -- node "$everything" stdio
expect "unknown option" 2 "unknown option" "$cog" mcp tools --nope -- node "$everything" stdio
expect "a missing program" 1 "no-such-mcp-server" "$cog" mcp tools -- \
	./no-such-mcp-server --stdio
expect "--json failure" 1 '"ok":false' "$cog" --json mcp tools -- ./no-such-mcp-server
is_json "--json failure"
expect "a program that is not a server" 1 "cog: error:" "$cog" mcp tools --timeout 5000 -- \
	sh -c 'echo not json; exit 3'

# ---- streamable HTTP: server-everything on a loopback port ----
http_tests() {
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port node -r "$preload" "$everything" streamableHttp >http-server.log 2>&1 &
server_pid=$!
if python3 - "$port" <<'EOF'
import socket, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
then
	url=http://127.0.0.1:$port/mcp
	expect "tools over HTTP" 0 "echo" "$cog" mcp tools "$url"
	expect "call over HTTP" 0 "Echo: over http" "$cog" mcp call "$url" echo \
		'{"message":"over http"}'
	expect "call over HTTP --json" 0 '"content"' "$cog" mcp call --json "$url" get-sum \
		'{"a":40,"b":2}'
	grep -q 42 out.txt && ok "get-sum over HTTP" || bad "get-sum over HTTP: $(head -c 300 out.txt)"
	echo "{\"mcpServers\":{\"web\":{\"url\":\"$url\"}}}" > web.json
	expect "a configured URL" 0 "Echo: web" "$cog" --config web.json mcp call web echo \
		'{"message":"web"}'
else
	bad "server-everything streamableHttp did not listen on port $port: $(head -c 400 http-server.log)"
fi
expect "an HTTP server that is not there" 1 "cog: error:" "$cog" mcp tools \
	"http://127.0.0.1:9/mcp"
}
if "$cog" --version | grep -q '^features:.* curl'; then
	http_tests
else
	echo "ok - # SKIP streamable HTTP: this cog is built without libcognition-curl"
fi

finish "cli/mcp"
