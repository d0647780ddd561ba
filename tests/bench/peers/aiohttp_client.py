#!/usr/bin/python3
"""Peer of bench_llm: sequential OpenAI chat completion requests with aiohttp.

    /usr/bin/python3 aiohttp_client.py URL BODY HEADERS_JSON REQUESTS [WARMUP]

The same POST as libcognition's provider sends (BODY, and HEADERS_JSON an
object of its headers), over one keep-alive session, each answer parsed as
JSON and its content read, the way an asyncio application calls a model. Prints one JSON line:
{"requests": n, "wall_s": s, "cpu_s": s} (cpu_s: time.process_time(), this
process only, user + system).
"""
import asyncio
import json
import sys
import time

import aiohttp


async def run(url, body, headers, n, warmup):
    data = body.encode()

    async def one(session):
        async with session.post(url, data=data, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            answer = await response.json()
            if not answer["choices"][0]["message"]["content"]:
                raise RuntimeError("no content")

    async with aiohttp.ClientSession() as session:
        for _ in range(warmup):
            await one(session)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            await one(session)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    return {"requests": n, "wall_s": wall1 - wall0, "cpu_s": cpu1 - cpu0}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    url, body, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    n = int(sys.argv[4])
    warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 200
    print(json.dumps(asyncio.run(run(url, body, headers, n, warmup))), flush=True)


if __name__ == "__main__":
    main()
