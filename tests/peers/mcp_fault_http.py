#!/usr/bin/env python3
"""A streamable-HTTP MCP server that misbehaves on demand (python3 stdlib only).

The faults the reference servers do not produce when asked: a GET stream that
drops, a request's event stream that drops before its answer, a bearer token
it requires, a session that expires. Listens on 127.0.0.1:$PORT, path /mcp.

What it serves: initialize (a JSON answer with a new mcp-session-id header:
a new session, the one later requests must name), tools/list (two tools,
"echo" and "slow") and tools/call of "echo" (a JSON answer, unless a fault says
otherwise); notifications and responses get 202; DELETE ends the session (404
for it afterwards). "slow" answers with an event stream: a
notifications/progress for the call's progressToken, then nothing until
notifications/cancelled names the call (or 60 s pass), then the stream ends
without an answer. On the GET stream it sends notifications/message events
whose data is "tick-NNN session <id>" (NNN from 001), each with id "g<N>", then
keeps the stream open with comments until the client goes.

Flags:
  --drop-get-after N        each GET stream sends at most N events ("retry:
                            100"), then drops the connection (a chunked body
                            cut short); a GET with Last-Event-ID: g<K> goes on
                            from event K+1. 2*N events in all (--ticks T
                            changes that).
  --drop-post-before-answer a tools/call is answered with an event stream that
                            sends a priming event (id "p<n>-0", retry: 100)
                            and drops; a GET with Last-Event-ID: p<n>-0 gets
                            the answer (id "p<n>-1") and ends.
  --require-bearer TOKEN    401 for requests without "Authorization: Bearer
                            TOKEN".
  --expire-session          the session expires at the second tools/call: 404
                            for it and every request after in that session
                            (the first call and the tools/list a client may
                            send with it work); a new initialize starts a
                            session that does not expire.
  --empty-answer STATUS     tools/call is answered with STATUS (202 or 200)
                            and no body.
  --busy-answers N          a notification or a response POSTed is answered
                            with 200 and an event stream of N
                            notifications/message events ("junk-NNN")
                            instead of 202.
  --init-stream-open        initialize is answered with an event stream
                            (the mcp-session-id header as usual) that stays
                            open after the answer (comments every 200 ms,
                            60 s at most) until the client goes.
  --error-events            tools/call of "echo" is answered with HTTP 500
                            and an event stream holding a
                            notifications/message ("leaked-event") and a
                            result for the call ("Echo: leaked").
  --long-event-id           with --drop-post-before-answer: after the
                            priming event, an event with a 2000-byte id and
                            a notifications/message ("long-id-event"), then
                            the drop.

GET /stats (no token needed) reports what it saw, as JSON: "authorization"
(the Authorization values of POSTs), "last_event_ids" (the Last-Event-ID of
GETs), "deletes", "get_streams", "posts", "session" (the current one),
"sessions" (every one given), "notifications" ({"method", "params"} of each
notification POSTed), "initialize_versions" (the MCP-Protocol-Version header
of each initialize, null when absent), "slow_calls" (the ids of the calls of
"slow").
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
STATS = {"authorization": [], "last_event_ids": [], "deletes": 0,
         "get_streams": 0, "posts": 0, "session": None, "sessions": [],
         "notifications": [], "initialize_versions": [], "slow_calls": []}
STATE = {"ended": set(), "post_streams": {}, "post_count": 0,
         "cancelled": set()}
CANCELLED = threading.Condition(LOCK)

ECHO_TOOL = {
    "name": "echo",
    "description": "Echoes back the input",
    "inputSchema": {"type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"]},
}
SLOW_TOOL = {
    "name": "slow",
    "description": "Answers only when cancelled (never, then)",
    "inputSchema": {"type": "object", "properties": {}},
}


def tick_event(n, sid):
    msg = {"jsonrpc": "2.0", "method": "notifications/message",
           "params": {"level": "info", "logger": "fault",
                      "data": "tick-%03d session %s" % (n, sid)}}
    return "id: g%d\nretry: 100\ndata: %s\n\n" % (n, json.dumps(msg))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fault-http: " + (fmt % args) + "\n")

    # ---- helpers ----
    def reply(self, status, body=b"", ctype="application/json", headers=None):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, obj, headers=None):
        self.reply(200, json.dumps(obj).encode(), headers=headers)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def drop(self):
        """Cut the connection without the last chunk: a broken stream."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def authorized(self):
        if not ARGS.require_bearer:
            return True
        if self.headers.get("Authorization") == "Bearer " + ARGS.require_bearer:
            return True
        self.reply(401, b'{"error":"missing or wrong bearer token"}')
        return False

    def session_ok(self):
        given = self.headers.get("mcp-session-id")
        with LOCK:
            expired = given in STATE["ended"]
            sid = STATS["session"]
        if expired:
            self.reply(404, b'{"jsonrpc":"2.0","error":{"code":-32001,'
                            b'"message":"Session not found"},"id":null}')
            return False
        if sid and given != sid:
            self.reply(400, b'{"error":"bad or missing mcp-session-id"}')
            return False
        return True

    # ---- POST ----
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with LOCK:
            STATS["posts"] += 1
            STATS["authorization"].append(self.headers.get("Authorization"))
        if not self.authorized():
            return
        try:
            msg = json.loads(body)
        except ValueError:
            self.reply(400, b'{"error":"not JSON"}')
            return
        method = msg.get("method")
        if method == "initialize":
            sid = str(uuid.uuid4())
            with LOCK:
                STATS["session"] = sid
                STATS["sessions"].append(sid)
                STATS["initialize_versions"].append(
                    self.headers.get("MCP-Protocol-Version"))
            result = {"protocolVersion": msg["params"]["protocolVersion"],
                      "capabilities": {"tools": {}, "logging": {}},
                      "serverInfo": {"name": "mcp-fault-http", "version": "1"}}
            answer = {"jsonrpc": "2.0", "id": msg["id"], "result": result}
            if ARGS.init_stream_open:
                self.init_stream(answer, sid)
                return
            self.reply_json(answer, headers={"mcp-session-id": sid})
            return
        if not self.session_ok():
            return
        if "id" not in msg and method is not None:
            with LOCK:
                STATS["notifications"].append(
                    {"method": method, "params": msg.get("params")})
                if method == "notifications/cancelled":
                    STATE["cancelled"].add(
                        (msg.get("params") or {}).get("requestId"))
                    CANCELLED.notify_all()
        if "id" not in msg or method is None:
            if ARGS.busy_answers:
                self.busy_answer()
                return
            self.reply(202)
            return
        if method == "tools/list":
            self.reply_json({"jsonrpc": "2.0", "id": msg["id"],
                             "result": {"tools": [ECHO_TOOL, SLOW_TOOL]}})
        elif method == "tools/call":
            self.tools_call(msg)
        elif method == "ping":
            self.reply_json({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
        else:
            self.reply_json({"jsonrpc": "2.0", "id": msg["id"], "error":
                             {"code": -32601, "message": "method not found"}})

    def init_stream(self, answer, sid):
        """initialize's answer on an event stream left open."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("mcp-session-id", sid)
        self.end_headers()
        try:
            self.chunk("data: %s\n\n" % json.dumps(answer))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.2)
                self.chunk(": still here\n\n")
            self.chunk("")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def busy_answer(self):
        """A notification's or response's POST answered with events."""
        self.start_stream()
        try:
            for n in range(1, ARGS.busy_answers + 1):
                note = {"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "info", "logger": "fault",
                                   "data": "junk-%03d" % n}}
                self.chunk("data: %s\n\n" % json.dumps(note))
            self.chunk("")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def error_events(self, msg):
        """HTTP 500 whose body is an event stream with messages."""
        note = {"jsonrpc": "2.0", "method": "notifications/message",
                "params": {"level": "info", "logger": "fault",
                           "data": "leaked-event"}}
        answer = {"jsonrpc": "2.0", "id": msg["id"], "result": {
            "content": [{"type": "text", "text": "Echo: leaked"}]}}
        body = "data: %s\n\ndata: %s\n\n" % (json.dumps(note), json.dumps(answer))
        self.reply(500, body.encode(), ctype="text/event-stream")

    def tools_call(self, msg):
        if ARGS.error_events and (msg.get("params") or {}).get("name") == "echo":
            self.error_events(msg)
            return
        if ARGS.empty_answer:
            self.reply(ARGS.empty_answer)
            return
        if (msg.get("params") or {}).get("name") == "slow":
            self.slow_call(msg)
            return
        text = (msg.get("params", {}).get("arguments") or {}).get("message", "")
        answer = {"jsonrpc": "2.0", "id": msg["id"],
                  "result": {"content": [{"type": "text", "text": "Echo: " + text}]}}
        with LOCK:
            STATE["post_count"] += 1
            n = STATE["post_count"]
            if ARGS.expire_session and n == 2:
                STATE["ended"].add(STATS["session"])
        if not self.session_ok():
            return
        if not ARGS.drop_post_before_answer:
            self.reply_json(answer)
            return
        prime = "p%d-0" % n
        with LOCK:
            STATE["post_streams"][prime] = "id: p%d-1\ndata: %s\n\n" % (n, json.dumps(answer))
        self.start_stream()
        self.chunk("id: %s\nretry: 100\ndata:\n\n" % prime)
        if ARGS.long_event_id:
            note = {"jsonrpc": "2.0", "method": "notifications/message",
                    "params": {"level": "info", "logger": "fault",
                               "data": "long-id-event"}}
            self.chunk("id: %s\ndata: %s\n\n" % ("x" * 2000, json.dumps(note)))
        time.sleep(0.05)
        self.drop()

    def slow_call(self, msg):
        """Progress, then wait for notifications/cancelled naming the call."""
        token = ((msg.get("params") or {}).get("_meta") or {}).get("progressToken")
        with LOCK:
            STATS["slow_calls"].append(msg["id"])
        self.start_stream()
        try:
            if token is not None:
                note = {"jsonrpc": "2.0", "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": 1,
                                   "total": 2}}
                self.chunk("data: %s\n\n" % json.dumps(note))
            deadline = time.monotonic() + 60
            with LOCK:
                while (msg["id"] not in STATE["cancelled"]
                       and time.monotonic() < deadline):
                    CANCELLED.wait(0.5)
            self.chunk("")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- GET ----
    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.reply_json(STATS)
            return
        if self.path != "/mcp":
            self.reply(404, b'{"error":"not found"}')
            return
        last = self.headers.get("Last-Event-ID")
        with LOCK:
            STATS["get_streams"] += 1
            STATS["last_event_ids"].append(last)
        if not self.authorized() or not self.session_ok():
            return
        if "text/event-stream" not in (self.headers.get("Accept") or ""):
            self.reply(406, b'{"error":"Accept must include text/event-stream"}')
            return
        with LOCK:
            replay = STATE["post_streams"].pop(last, None) if last else None
        self.start_stream()
        try:
            if replay is not None:
                self.chunk(replay)
                self.chunk("")  # the last chunk: the stream ends
                return
            self.get_stream(last, self.headers.get("mcp-session-id"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def get_stream(self, last, sid):
        first = 1
        if last and last.startswith("g") and last[1:].isdigit():
            first = int(last[1:]) + 1
        per = ARGS.drop_get_after
        total = ARGS.ticks if ARGS.ticks else (2 * per if per else 3)
        n = first
        sent = 0
        while n <= total and not (per and sent >= per):
            self.chunk(tick_event(n, sid))
            n += 1
            sent += 1
            time.sleep(0.02)
        if per and sent >= per and n <= total:
            self.drop()
            return
        while True:  # idle until the client goes
            self.chunk(": keep-alive\n\n")
            time.sleep(0.2)

    # ---- DELETE ----
    def do_DELETE(self):
        with LOCK:
            STATS["deletes"] += 1
        if not self.authorized() or not self.session_ok():
            return
        with LOCK:
            STATE["ended"].add(self.headers.get("mcp-session-id"))
        self.reply(200)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drop-get-after", type=int, default=0)
    p.add_argument("--ticks", type=int, default=0)
    p.add_argument("--drop-post-before-answer", action="store_true")
    p.add_argument("--require-bearer")
    p.add_argument("--expire-session", action="store_true")
    p.add_argument("--empty-answer", type=int, default=0)
    p.add_argument("--busy-answers", type=int, default=0)
    p.add_argument("--init-stream-open", action="store_true")
    p.add_argument("--error-events", action="store_true")
    p.add_argument("--long-event-id", action="store_true")
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
