#!/usr/bin/python3
"""Peer of bench_mcp: MCP tools/call round trips over stdio, standard library only.

    /usr/bin/python3 mcp_client.py SERVER_JS seq|pipe CALLS [WARMUP [IN_FLIGHT [MESSAGE]]]

Starts `node SERVER_JS stdio` (server-everything), runs initialize and
notifications/initialized, WARMUP echo calls (default 500), then CALLS
tools/call of "echo" with the same message, each answer checked (its text must
be "Echo: MESSAGE", not isError). Like cog_mcp_call_tool with the library's
defaults, every tools/call carries params._meta.progressToken, a new token
per call of the same form ("cog-" and 32 hex digits), so both clients send the
same request. seq: one call at a time; pipe: IN_FLIGHT
(default 8) requests outstanding on the one connection, a single thread
sending the next one whenever an answer comes in. Prints one JSON line:
{"mode", "calls", "wall_s", "cpu_s", "cpu_ticks_s", "user_s", "sys_s",
"switches", "server_cpu_s"}: cpu_s is
time.process_time() (CLOCK_PROCESS_CPUTIME_ID: user + system of this process
only, not of the server, its child), cpu_ticks_s the same from os.times(),
which counts in clock ticks (10 ms) and is kept as a cross-check;
user_s, sys_s and switches (voluntary + involuntary context switches) come
from resource.getrusage(RUSAGE_SELF); server_cpu_s is the server's user +
system over the same calls (/proc).
Exits non-zero on any wrong answer.
"""
import json
import os
import resource
import subprocess
import sys
import time


class Client:
    def __init__(self, server_js):
        self.proc = subprocess.Popen(["node", server_js, "stdio"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.out = self.proc.stdin
        self.inp = self.proc.stdout
        self.next_id = 1
        self.token_base = int.from_bytes(os.urandom(8), "big")
        self.tokens = 0

    def progress_token(self):
        """A new token per call, as cog_mcp_call_tool makes: "cog-" + 32 hex digits."""
        self.tokens += 1
        return f"cog-{self.token_base:016x}{self.tokens:016x}"

    def call_params(self, params):
        """tools/call params with _meta.progressToken, as the C client sends them."""
        return dict(params, _meta={"progressToken": self.progress_token()})

    def send(self, message):
        self.out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.out.flush()

    def request(self, method, params):
        """Send a request; its id."""
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    def receive(self):
        """The next response; notifications are dropped, server requests answered."""
        while True:
            line = self.inp.readline()
            if not line:
                raise RuntimeError("the server closed its stdout")
            message = json.loads(line)
            if "method" not in message:
                return message
            if "id" in message:
                if message["method"] == "ping":
                    self.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                else:
                    self.send({"jsonrpc": "2.0", "id": message["id"],
                               "error": {"code": -32601, "message": "not supported"}})

    def call(self, method, params):
        rid = self.request(method, params)
        answer = self.receive()
        if answer.get("id") != rid:
            raise RuntimeError(f"answer to {answer.get('id')}, expected {rid}")
        return answer

    def close(self):
        self.out.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait()


def process_cpu_s(pid):
    """user + system of process pid (from /proc/pid/stat), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check(answer, expected):
    result = answer.get("result")
    if (result is None or result.get("isError") or
            result["content"][0].get("text") != expected):
        raise RuntimeError(f"wrong answer: {answer}")


def sequential(client, params, expected, n):
    for _ in range(n):
        check(client.call("tools/call", client.call_params(params)), expected)


def pipelined(client, params, expected, n, in_flight):
    pending = set()
    sent = 0
    while sent < n and len(pending) < in_flight:
        pending.add(client.request("tools/call", client.call_params(params)))
        sent += 1
    while pending:
        answer = client.receive()
        rid = answer.get("id")
        if rid not in pending:
            raise RuntimeError(f"answer to an unknown id: {answer}")
        pending.remove(rid)
        check(answer, expected)
        if sent < n:
            pending.add(client.request("tools/call", client.call_params(params)))
            sent += 1


def main():
    if len(sys.argv) < 4 or sys.argv[2] not in ("seq", "pipe"):
        sys.exit(__doc__)
    server_js, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    in_flight = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    message = sys.argv[6] if len(sys.argv) > 6 else "hello from the benchmark"
    params = {"name": "echo", "arguments": {"message": message}}
    expected = "Echo: " + message

    client = Client(server_js)
    init = client.call("initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "bench-mcp-python", "version": "1"}})
    if "result" not in init or "protocolVersion" not in init["result"]:
        raise RuntimeError(f"initialize failed: {init}")
    client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    run = sequential if mode == "seq" else (
        lambda c, p, e, k: pipelined(c, p, e, k, in_flight))
    run(client, params, expected, warmup)
    server0 = process_cpu_s(client.proc.pid)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, cpu0, wall0 = os.times(), time.process_time(), time.perf_counter()
    run(client, params, expected, n)
    wall1, cpu1, t1 = time.perf_counter(), time.process_time(), os.times()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    server1 = process_cpu_s(client.proc.pid)
    client.close()
    ticks = (t1.user - t0.user) + (t1.system - t0.system)
    print(json.dumps({"mode": mode, "calls": n, "wall_s": wall1 - wall0, "cpu_s": cpu1 - cpu0,
                      "cpu_ticks_s": ticks, "user_s": r1.ru_utime - r0.ru_utime,
                      "sys_s": r1.ru_stime - r0.ru_stime,
                      "switches": (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw),
                      "server_cpu_s": server1 - server0}), flush=True)


if __name__ == "__main__":
    main()
