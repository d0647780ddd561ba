#!/usr/bin/env python3
"""A stdio MCP server whose tool list comes in pages and changes (python3 stdlib only).

Used by tests/integration/mcp/test_mcp_refresh.c and test_mcp_registry.c
for what the reference
servers do not do on demand. Newline-delimited JSON-RPC 2.0 on stdin/stdout;
answers initialize (with the version asked for; capabilities
tools.listChanged), tools/list and tools/call; other requests get -32601,
notifications are ignored; exits at EOF of stdin.

Usage: mcp_pages.py MODE [N]
  pages  tools/list in pages of 3 (nextCursor "3", "6", ...)
  loop   tools/list always answers one tool and nextCursor "same"
  huge   tools/list never ends: every page is one tool with a 4 MiB
         description and a new nextCursor
  many   tools/list never ends: every page is 5000 small tools and a new
         nextCursor
  schemas  tools/list answers only "shifty", whose outputSchema changes at
         every list: at the Nth list it requires the property "vN"
  bulk N   tools/list answers "mutate" and N tools "bulk_0" .. "bulk_<N-1>"
         (descriptions "d") in pages of 1000; after mutate, bulk_0 is gone,
         "bulk_<N>" comes and the tools of even numbers have description "e"

Tools (all with inputSchema {"type": "object"}):
  mutate          answers, then changes the list (alpha goes, beta's
                  description goes from "old" to "new", delta comes) and
                  sends notifications/tools/list_changed
  dot.name        a name with a character cog tool names do not allow
  xxx...x         a 70-character name
  bad_structured  has an outputSchema {"n": number} and answers
                  structuredContent {"n": "x"}
  no_content      answers a result without a content array
  big_image       {"bytes": N}: an image item of N random bytes (base64)
  lists           the number of tools/list requests served so far, as text
  shifty          (mode schemas) {"key": K}: structuredContent {K: 1}
  alpha, beta     before mutate;  beta, delta  after it
"""
import base64
import json
import os
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "pages"
bulk = int(sys.argv[2]) if len(sys.argv) > 2 else 0
BULK_PAGE = 1000
generation = 0
lists_served = 0
PAGE = 3


def tool(name, desc="d", extra=None):
    t = {"name": name, "description": desc, "inputSchema": {"type": "object"}}
    t.update(extra or {})
    return t


def tools():
    out = [tool("mutate"), tool("dot.name"), tool("x" * 70),
           tool("bad_structured", extra={"outputSchema": {
               "type": "object", "properties": {"n": {"type": "number"}},
               "required": ["n"]}}),
           tool("no_content"), tool("big_image"), tool("lists")]
    if generation == 0:
        out += [tool("alpha"), tool("beta", "old")]
    else:
        out += [tool("beta", "new"), tool("delta")]
    return out


def bulk_tools():
    if generation == 0:
        return [tool("mutate")] + [tool("bulk_%d" % i) for i in range(bulk)]
    return [tool("mutate")] + [tool("bulk_%d" % i, "e" if i % 2 == 0 else "d")
                               for i in range(1, bulk + 1)]


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def text(t):
    return {"content": [{"type": "text", "text": t}]}


def call(name, args):
    if name == "bad_structured":
        return {"content": [], "structuredContent": {"n": "x"}}
    if name == "no_content":
        return {"result": 1}
    if name == "big_image":
        data = base64.b64encode(os.urandom(int(args.get("bytes", 0)))).decode()
        return {"content": [{"type": "image", "mimeType": "image/png", "data": data}]}
    if name == "lists":
        return text(str(lists_served))
    if name == "shifty":
        return {"content": [], "structuredContent": {str(args.get("key")): 1}}
    return text(name)


def handle(msg):
    global generation, lists_served
    method, params = msg.get("method"), msg.get("params") or {}
    result = None
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion"),
                  "capabilities": {"tools": {"listChanged": True}},
                  "serverInfo": {"name": "pager", "version": "1"}}
    elif method == "tools/list":
        lists_served += 1
        cursor = params.get("cursor", "0")
        if mode == "loop":
            result = {"tools": [tool("t")], "nextCursor": "same"}
        elif mode == "huge":
            result = {"tools": [tool("h" + cursor, "d" * (4 << 20))],
                      "nextCursor": str(int(cursor) + 1)}
        elif mode == "many":
            base = int(cursor) * 5000
            result = {"tools": [tool("m%d" % (base + i)) for i in range(5000)],
                      "nextCursor": str(int(cursor) + 1)}
        elif mode == "bulk":
            i = int(cursor)
            everything = bulk_tools()
            result = {"tools": everything[i:i + BULK_PAGE]}
            if i + BULK_PAGE < len(everything):
                result["nextCursor"] = str(i + BULK_PAGE)
        elif mode == "schemas":
            result = {"tools": [tool("shifty", extra={"outputSchema": {
                "type": "object", "required": ["v%d" % lists_served]}})]}
        else:
            i = int(cursor)
            everything = tools()
            result = {"tools": everything[i:i + PAGE]}
            if i + PAGE < len(everything):
                result["nextCursor"] = str(i + PAGE)
    elif method == "tools/call":
        name = params.get("name")
        result = call(name, params.get("arguments") or {})
        if name == "mutate":
            generation = 1
            send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            return
    if result is None:
        send({"jsonrpc": "2.0", "id": msg["id"],
              "error": {"code": -32601, "message": "no %s" % method}})
    else:
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    if isinstance(msg, dict) and "id" in msg and "method" in msg:
        handle(msg)
