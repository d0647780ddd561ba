#!/usr/bin/env python3
"""A minimal stdio MCP server that misbehaves on demand (python3 stdlib only).

Speaks newline-delimited JSON-RPC 2.0 on stdin/stdout. Answers initialize
(with the version asked for when it is one of 2025-11-25, 2025-06-18,
2025-03-26, 2024-11-05, else 2025-11-25), ping, tools/list and tools/call.
Tools: "echo" {"message": string} -> "Echo: <message>"; "slow" {"ms": int}
writes "slow: sleeping" to stderr, sleeps, answers; "cwd" {} -> its working
directory. Other requests get -32601; notifications are ignored. It exits 0
at EOF of stdin.

Faults:
  --answer-version V   answer initialize with V whatever was asked
  --garbage N          N lines that are not JSON on stdout before every answer
  --exit-on-call       on tools/call: write "dying" to stderr, exit with status 3
  --silent             never answer tools/call
  --flood N            N notifications/message of ~1 KiB before a tools/call answer
  --huge-line BYTES    one JSON line of BYTES bytes before each tools/call answer
  --stderr-lines N     N lines on stderr at start
  --close-stdin-on-call  after answering a tools/call: close stdin, say
                       "stdin closed" on stderr, and sleep (but live on)
  --ask-sampling       on tools/call: send the client a sampling/createMessage
                       request (id "sampling-1"), wait for its answer and
                       return that answer (the JSON-RPC response, as JSON
                       text) as the tool's text result
  --mute-initialize    never answer initialize
  --say-received       write "received: <method> <params> (pid <pid>)" to
                       stderr for every message that has a method
                       (notifications too)
  --null-id-error N    never answer tools/call; once the Nth has arrived,
                       send one error response with id null (-32700, "Parse
                       error: mcp_fault could not read a request") and say
                       "null-id error sent" on stderr
"""
import argparse
import json
import os
import sys
import time

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
TOOLS = [
    {"name": "echo", "description": "Echoes the message back.",
     "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}},
                     "required": ["message"]}},
    {"name": "slow", "description": "Answers after ms milliseconds.",
     "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}}},
    {"name": "cwd", "description": "Its working directory.",
     "inputSchema": {"type": "object", "properties": {}}},
]

opts = None
out = sys.stdout.buffer
calls_seen = 0


def send(msg):
    out.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
    out.flush()


def garbage():
    for i in range(opts.garbage):
        out.write(b"garbage line %d: this is not JSON\n" % i)
    out.flush()


def text_result(text):
    return {"content": [{"type": "text", "text": text}], "isError": False}


def call_tool(params):
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo":
        return text_result("Echo: %s" % args.get("message", ""))
    if name == "slow":
        sys.stderr.write("slow: sleeping %d ms\n" % int(args.get("ms", 0)))
        sys.stderr.flush()
        time.sleep(int(args.get("ms", 0)) / 1000.0)
        return text_result("slept %d ms" % int(args.get("ms", 0)))
    if name == "cwd":
        return text_result(os.getcwd())
    return {"content": [{"type": "text", "text": "unknown tool %s" % name}], "isError": True}


def ask_sampling():
    send({"jsonrpc": "2.0", "id": "sampling-1", "method": "sampling/createMessage",
          "params": {"messages": [{"role": "user", "content": {
              "type": "text", "text": "from mcp_fault"}}], "maxTokens": 10}})
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            os._exit(0)
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("id") == "sampling-1" and "method" not in msg:
            return text_result(json.dumps(msg, separators=(",", ":")))
        if isinstance(msg, dict):
            handle(msg)


def before_call_answer():
    for i in range(opts.flood):
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "logger": "flood", "data": "%06d " % i + "f" * 1000}})
    if opts.huge_line:
        head = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"'
        tail = b'"}}'
        pad = max(0, opts.huge_line - len(head) - len(tail))
        out.write(head + b"h" * pad + tail + b"\n")
        out.flush()


def handle(msg):
    method, mid = msg.get("method"), msg.get("id")
    if opts.say_received and method is not None:
        sys.stderr.write("received: %s %s (pid %d)\n"
                         % (method, json.dumps(msg.get("params")), os.getpid()))
        sys.stderr.flush()
    if mid is None or method is None:
        return                                  # a notification or a response
    params = msg.get("params") or {}
    result, error = None, None
    if method == "initialize":
        if opts.mute_initialize:
            return
        asked = params.get("protocolVersion")
        version = opts.answer_version or (asked if asked in VERSIONS else VERSIONS[0])
        result = {"protocolVersion": version, "capabilities": {"tools": {}},
                  "serverInfo": {"name": "mcp-fault", "version": "1.0.0"}}
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        if opts.null_id_error:
            global calls_seen
            calls_seen += 1
            if calls_seen == opts.null_id_error:
                send({"jsonrpc": "2.0", "id": None, "error": {
                    "code": -32700, "message": "Parse error: mcp_fault could not read a request"}})
                sys.stderr.write("null-id error sent\n")
                sys.stderr.flush()
            return
        if opts.exit_on_call:
            sys.stderr.write("dying\n")
            sys.stderr.flush()
            os._exit(3)
        if opts.silent:
            return
        before_call_answer()
        result = ask_sampling() if opts.ask_sampling else call_tool(params)
    else:
        error = {"code": -32601, "message": "method not found: %s" % method}
    garbage()
    answer = {"jsonrpc": "2.0", "id": mid}
    if error:
        answer["error"] = error
    else:
        answer["result"] = result
    send(answer)
    if method == "tools/call" and opts.close_stdin_on_call:
        os.close(0)
        sys.stderr.write("stdin closed\n")
        sys.stderr.flush()
        time.sleep(3600)


def main():
    global opts
    p = argparse.ArgumentParser(description="stdio MCP server with faults")
    p.add_argument("--answer-version")
    p.add_argument("--garbage", type=int, default=0)
    p.add_argument("--exit-on-call", action="store_true")
    p.add_argument("--silent", action="store_true")
    p.add_argument("--flood", type=int, default=0)
    p.add_argument("--huge-line", type=int, default=0)
    p.add_argument("--stderr-lines", type=int, default=0)
    p.add_argument("--close-stdin-on-call", action="store_true")
    p.add_argument("--ask-sampling", action="store_true")
    p.add_argument("--mute-initialize", action="store_true")
    p.add_argument("--say-received", action="store_true")
    p.add_argument("--null-id-error", type=int, default=0)
    opts = p.parse_args()
    for i in range(opts.stderr_lines):
        sys.stderr.write("mcp_fault stderr line %d\n" % i)
    sys.stderr.flush()
    for line in sys.stdin.buffer:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        for m in (msg if isinstance(msg, list) else [msg]):
            if isinstance(m, dict):
                handle(m)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        os._exit(0)
