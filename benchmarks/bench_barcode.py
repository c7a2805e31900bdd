"""Benchmark of the sample-based barcode pipeline: k-NN graph and lower-star H0. Prints Markdown.

The issue's configuration: N = 10^5 samples in R^50, k = 10 neighbours. Measured in one run:

* **k-NN**: ``bettibounds.barcode.knn_graph`` (batched exact distances with torch: one matmul per
  row chunk plus ``topk``; float64 and float32) against ``scipy.spatial.cKDTree`` (build on all N
  points, query the k + 1 nearest). In R^50 a k-d tree cannot prune, so its queries are slow; to
  keep the run short both are timed on the same ``--queries`` query rows against all N points
  (build time included for the tree), and the rates are per query point. The full k-NN graph of
  all N points is then built once with ``knn_graph`` (its total time is the figure that matters).
  The matmul share is compared with the machine's float64 matmul peak measured in the same run.
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

    # --- k-NN on the same q query rows against all n points
    Xq = X[:q]
    rows = []
    t = time.perf_counter()
    tree = cKDTree(X)
    build = time.perf_counter() - t
    t = time.perf_counter()
    _, idx_tree = tree.query(Xq, k=k + 1)
    query = time.perf_counter() - t
    rows.append(("scipy cKDTree (build + query)", q / (build + query), build + query))
    for dtype in ("float64", "float32"):
        dev = torch.device("cpu")
        Xt = torch.as_tensor(X, dtype=getattr(torch, dtype))
        sq = (Xt * Xt).sum(1)
        t = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, q, 256):
                e = min(q, s + 256)
                d2 = torch.addmm(sq[None, :].expand(e - s, -1), Xt[s:e], Xt.T, alpha=-2.0)
                d2[torch.arange(e - s), torch.arange(s, e)] = float("inf")
                nb = torch.topk(d2, k, dim=1, largest=False).indices
        dt = time.perf_counter() - t
        rows.append((f"bettibounds knn_graph kernel ({dtype}, {dev.type})", q / dt, dt))
        if dtype == "float64":
            mine = set(map(tuple, np.sort(nb.numpy(), 1).tolist()))
            ref = set(map(tuple, np.sort(idx_tree[-(e - s):, 1:], 1).tolist()))
            agree = len(mine & ref) / max(len(ref), 1)
    base = rows[0][1]
    print(f"## k-NN queries against all {n} points ({q} query points)\n")
    print("| method | query points/s | seconds | vs cKDTree |\n|---|---:|---:|---:|")
    for name, rate, sec in rows:
        print(f"| {name} | {rate:,.0f} | {sec:.2f} | {rate / base:.1f}x |")
    print(f"\nneighbour lists identical to cKDTree's on the last chunk: {agree:.3f}")
    flops = 2.0 * q * n * P
    print(f"matmul share (float64 kernel): {flops / rows[1][2] / 1e9:.1f} GFLOP/s = "
          f"{100 * flops / rows[1][2] / 1e9 / peak:.0f}% of the matmul peak (the rest is topk and memory traffic)\n")

    # --- the full graph
    t = time.perf_counter()
    edges = knn_graph(X, k=k, device="cpu", dtype="float32")
    t_graph = time.perf_counter() - t
    print(f"## full k-NN graph (float32): {n} points, {len(edges):,} edges in {t_graph:.1f} s "
          f"= {n / t_graph:,.0f} points/s\n")

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
