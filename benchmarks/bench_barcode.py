"""Benchmark of the sample-based barcode pipeline: k-NN graph and lower-star H0. Prints Markdown.

The issue's configuration: N = 10^5 samples in R^50, k = 10 neighbours. Measured in one run:

* **k-NN**: ``bettibounds.barcode.knn_graph`` on all N points (batched exact distances with torch:
  one matmul per row chunk into a preallocated buffer plus ``topk``; float64 and float32) against
  ``scipy.spatial.cKDTree`` (build on all N points, query the k + 1 nearest). In R^50 a k-d tree
  cannot prune, so its queries are slow: it is timed on ``--queries`` query points and its
  per-point rate extrapolated. The matmul share is compared with the machine's float64 matmul
  peak measured in the same run.
* **H0**: ``lower_star_h0`` with gudhi's SimplexTree against the plain union-find sweep
  (``union_find_h0``, Python loop), on the full graph; both must give the same bars.

Values: f(x) = sum_j sin(3 x_j) / sqrt(P) + |x|^2 / (4 P), x uniform in [-1, 1]^P (many shallow minima).

Usage: ``python benchmarks/bench_barcode.py [--n 100000] [--dim 50] [--k 10] [--queries 2000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _peak_gflops(n: int = 2048) -> float:
    a = np.random.default_rng(0).random((n, n))
    a @ a
    t = time.perf_counter()
    a @ a
    return 2 * n**3 / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    import torch
    from scipy.spatial import cKDTree

    from bettibounds.barcode import knn_graph, lower_star_h0, union_find_h0

    n, P, k, q = args.n, args.dim, args.k, min(args.queries, args.n)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(n, P))
    f = np.sin(3 * X).sum(1) / np.sqrt(P) + (X * X).sum(1) / (4 * P)
    print(f"# bench_barcode: N = {n}, P = {P}, k = {k}; {platform.node()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), load {os.getloadavg()[0]:.2f}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    peak = _peak_gflops()
    print(f"float64 matmul peak (numpy 2048^3): {peak:.1f} GFLOP/s\n")

    # --- k-NN: scipy's cKDTree on q query points (extrapolated per point: in R^50 a k-d tree cannot
    # prune, so the full graph would take hours), bettibounds' knn_graph on the full graph
    Xq = X[:q]
    t = time.perf_counter()
    tree = cKDTree(X)
    build = time.perf_counter() - t
    t = time.perf_counter()
    _, idx_tree = tree.query(Xq, k=k + 1)
    query = time.perf_counter() - t
    tree_rate = q / query
    rows = []
    graphs = {}
    for dtype in ("float64", "float32"):
        t = time.perf_counter()
        graphs[dtype] = knn_graph(X, k=k, device="cpu", dtype=dtype)
        dt = time.perf_counter() - t
        rows.append((dtype, n / dt, dt))
    edges = graphs["float32"]
    mine = {tuple(e) for e in graphs["float64"].tolist()}
    ref = {(min(i, int(j)), max(i, int(j))) for i in range(q) for j in idx_tree[i, 1:]}
    agree = len(ref & mine) / len(ref)
    print(f"## k-NN graph of all {n} points (k = {k})\n")
    print("| method | points/s | seconds (full graph) | vs cKDTree |\n|---|---:|---:|---:|")
    print(f"| scipy cKDTree (build {build:.1f} s, query of {q} points extrapolated) | {tree_rate:,.0f} | "
          f"{build + n / tree_rate:,.0f} (extrapolated) | 1.0x |")
    for dtype, rate, sec in rows:
        print(f"| bettibounds knn_graph ({dtype}, cpu) | {rate:,.0f} | {sec:.1f} | {rate / tree_rate:.1f}x |")
    print(f"\ncKDTree's neighbour edges of the {q} query points found by knn_graph (float64): {agree:.4f}")
    flops = 2.0 * n * n * P
    print(f"matmul share (float64): {flops / rows[0][2] / 1e9:.1f} GFLOP/s = "
          f"{100 * flops / rows[0][2] / 1e9 / peak:.0f}% of the matmul peak (the rest is topk and memory traffic); "
          f"{len(edges):,} edges\n")
    t_graph = rows[1][2]

    # --- H0
    t = time.perf_counter()
    g = lower_star_h0(f, edges, backend="gudhi")
    t_g = time.perf_counter() - t
    t = time.perf_counter()
    u = union_find_h0(f, edges)
    t_u = time.perf_counter() - t
    same = sorted(map(tuple, g[:, :2].tolist())) == sorted(map(tuple, u[:, :2].tolist()))
    print("## lower-star H0 on the full graph\n")
    print("| method | seconds | points/s | bars |\n|---|---:|---:|---:|")
    print(f"| gudhi SimplexTree | {t_g:.2f} | {n / t_g:,.0f} | {len(g)} |")
    print(f"| plain union-find (Python) | {t_u:.2f} | {n / t_u:,.0f} | {len(u)} |")
    print(f"\nsame bars: {same}; gudhi / union-find time ratio {t_g / t_u:.2f}")
    print(f"\nend to end (graph + H0 with gudhi): {t_graph + t_g:.1f} s = {n / (t_graph + t_g):,.0f} points/s")


if __name__ == "__main__":
    main()
