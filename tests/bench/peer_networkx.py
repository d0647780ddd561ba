#!/usr/bin/python3
"""The peer of bench_plan: networkx (Debian's python3-networkx) computing the
topological generations of the same graphs, in ns per task.

    /usr/bin/python3 tests/bench/peer_networkx.py [scale=1.0]   (apt-get install python3-networkx)
"""
import sys
import time

import networkx as nx

LAYER = 10000


def chain(n):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((i - 1, i) for i in range(1, n))
    return g


def wide(n):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    return g


def layered(n):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for i in range(LAYER, n):
        g.add_edge(i - LAYER, i)
        g.add_edge(i - LAYER + (-(LAYER - 1) if (i + 1) % LAYER == 0 else 1), i)
    return g


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    million = int(1000000 * scale)
    print(f"peer_networkx: networkx {nx.__version__}, topological_generations")
    for name, make, n in (("chain", chain, million), ("wide (independent)", wide, million),
                          ("layered 100 x 10,000", layered, int(100 * LAYER * scale) // LAYER * LAYER)):
        g = make(n)
        t0 = time.perf_counter()
        levels = sum(1 for _ in nx.topological_generations(g))
        dt = time.perf_counter() - t0
        print(f"  {name:28s} {n:8d} tasks  {levels:7d} levels  {dt * 1e9 / n:8.1f} ns/task")


if __name__ == "__main__":
    main()
