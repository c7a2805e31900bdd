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

Part two (issue 22): ``barcode_of_points`` end to end (k-NN with the automatic backend, the
union-find sweep with cluster sizes on the minimum spanning forest) at 10^5 and 10^6 points of the
camel function in R^2 (k = 4P = 8), with time and peak memory (tracemalloc: numpy's and Python's
allocations; plus the process's peak RSS), against gudhi's H0 on the same graph. Part three
(``--trend quick|full``): the wall time of the real-data TO-score sweep
(``bettibounds.barcode.realdata.to_score_trend``) on ``--workers`` local processes or, with
``--dask``, on a Dask LocalCluster of that many single-threaded workers: wall time, the jobs' CPU
time, the load average during the run, the idle-machine estimate CPU / workers, user / system time,
minor page faults and peak RSS (``resource.getrusage`` of the process and its workers), the table and the
verdicts (``--out DIR`` writes them as JSON; ``--checkpoint FILE`` resumes a stopped sweep).

A reduced grid and the paths' resolution can be set on the command line (``--datasets``, ``--archs 16x1,64x2``,
``--seeds``, ``--images``, ``--max-images`` for adaptive resolution, ``--iterations``), and ``--compare-fixed 8``
runs the same grid with the scale's fixed-resolution paths too and prints, per architecture, the paths converged,
the gradients per path and the CPU time of both (docs/benchmarks.md, "Adaptive resolution against fixed 8-image
paths").

Usage: ``python benchmarks/bench_barcode.py [--n 100000] [--dim 50] [--k 10] [--queries 2000]
[--points 100000,1000000] [--skip-high-dim] [--trend full] [--workers 2] [--dask] [--out DIR]
[--datasets digits,breast_cancer] [--archs 16x1,64x2] [--seeds 3] [--max-images 63] [--compare-fixed 8]``
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
    ap.add_argument("--points", default="100000,1000000", help="sizes for barcode_of_points (camel, R^2)")
    ap.add_argument("--skip-high-dim", action="store_true", help="skip part one (10^5 points in R^50)")
    ap.add_argument("--trend", choices=("tiny", "quick", "full"), default=None, help="run and time the real-data sweep")
    ap.add_argument("--workers", type=int, default=2, help="processes (or Dask workers) for the sweep")
    ap.add_argument("--dask", action="store_true", help="run the sweep on a Dask LocalCluster instead")
    ap.add_argument("--out", default=None, help="directory for trend_<scale>.json (rows, verdicts, runs)")
    ap.add_argument("--checkpoint", default=None, help="JSON-lines file of finished runs (resume a stopped sweep)")
    ap.add_argument("--datasets", default=None, help="trend: comma-separated data sets (default: the scale's)")
    ap.add_argument("--archs", default=None, help="trend: architectures as WIDTHxDEPTH,... e.g. 16x1,64x2")
    ap.add_argument("--seeds", type=int, default=None, help="trend: seeds per architecture")
    ap.add_argument("--images", type=int, default=None, help="trend: interior images per path (first resolution)")
    ap.add_argument("--max-images", type=int, default=None,
                    help="trend: adaptive resolution up to this many images (0: fixed resolution)")
    ap.add_argument("--iterations", type=int, default=None, help="trend: iterations per path (per resolution)")
    ap.add_argument("--compare-fixed", type=int, default=None, metavar="IMAGES",
                    help="trend: also run the same grid with the scale's protocol at IMAGES fixed images, in the same "
                         "invocation")
    ap.add_argument("--fixed-iterations", type=int, default=150,
                    help="trend: iterations of the --compare-fixed paths (default 150: the full configuration's "
                         "fixed-resolution protocol before adaptive paths)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one barcode_of_points run
    args = ap.parse_args()
    if args.one is not None:
        import json

        print(json.dumps(_one_point_run(args.one)))
        return
    print(f"# bench_barcode; {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    if args.points:
        bench_points([int(v) for v in args.points.split(",")])
    if args.trend:
        from bettibounds.barcode.realdata import TREND_CONFIGS

        cfg = trend_config(args)
        if args.compare_fixed:
            # the scale's protocol with fixed paths, on the same grid
            base = TREND_CONFIGS[args.trend]
            fixed = {**base, **{k: cfg[k] for k in ("datasets", "archs", "seeds")}, "images": args.compare_fixed,
                     "iterations": args.fixed_iterations}
            fixed.pop("max_images", None)
            runs_fixed = bench_trend(args.trend, args.workers, args.dask, args.out, args.checkpoint, cfg=fixed,
                                     tag="fixed")
            runs_new = bench_trend(args.trend, args.workers, args.dask, args.out, args.checkpoint, cfg=cfg,
                                   tag="adaptive" if cfg.get("max_images") else "main")
            compare_paths(runs_fixed, runs_new, fixed, cfg)
        else:
            bench_trend(args.trend, args.workers, args.dask, args.out, args.checkpoint, cfg=cfg)
    if not args.skip_high_dim:
        bench_high_dim(args)


def _one_point_run(n: int) -> dict:
    """barcode_of_points on n camel samples, in this (fresh) process; gudhi's H0 on the same graph."""
    import resource

    from bettibounds.barcode import barcode_of_points, lower_star_h0

    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(n, 2))
    x, y = X[:, 0], X[:, 1]
    f = (2 - 1.05 * x**2 + x**4 / 6) * x**2 + x * y + y**2
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    bc = barcode_of_points(X, f, k=8)
    total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    g = lower_star_h0(f, bc.edges, backend="gudhi")
    t_g = time.perf_counter() - t
    same = sorted(map(tuple, g[:, :2].tolist())) == sorted((b.birth, b.death) for b in bc.bars)
    return {"n": n, "knn": bc.meta["timings"]["knn"], "h0": bc.meta["timings"]["h0"], "total": total,
            "rss_before": base, "rss_peak": peak, "bars": len(bc.bars), "edges": int(bc.meta["n_edges"]),
            "filtered": bc.to_score(min_cluster=20), "gudhi": t_g, "same": same}


def bench_points(sizes) -> None:
    import json
    import subprocess
    import sys

    print("## barcode_of_points: camel function on [-2, 2]^2, k = 4P = 8, exact k-d tree (one process per N)\n")
    print("| N | edges | k-NN s | H0 (sweep + sizes) s | total s | peak RSS MB (before) | bars | filtered TO-score "
          "(>= 20) | gudhi H0 s | same bars |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {n:,} | {r['edges']:,} | {r['knn']:.2f} | {r['h0']:.2f} | {r['total']:.2f} | {r['rss_peak']:,.0f} "
              f"({r['rss_before']:,.0f}) | {r['bars']} | {r['filtered']:.6f} | {r['gudhi']:.2f} | {r['same']} |")
    print("\n(true TO-score 1.1574464; the peak RSS includes the interpreter and imports, shown before the run)\n")


def trend_config(args) -> dict:
    """``TREND_CONFIGS[args.trend]`` with the command line's overrides (a reduced grid, the paths' resolution)."""
    from bettibounds.barcode.realdata import TREND_CONFIGS

    cfg = dict(TREND_CONFIGS[args.trend])
    if args.datasets:
        cfg["datasets"] = tuple(args.datasets.split(","))
    if args.archs:
        cfg["archs"] = tuple(tuple(int(v) for v in a.split("x")) for a in args.archs.split(","))
    for key in ("seeds", "images", "iterations"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.max_images is not None:
        if args.max_images:
            cfg["max_images"] = args.max_images
        else:
            cfg.pop("max_images", None)
    return cfg


def compare_paths(runs_a, runs_b, cfg_a, cfg_b) -> None:
    """Per architecture: paths converged and gradients per path, fixed against adaptive resolution."""
    from bettibounds.barcode.realdata import images_text

    print(f"## paths: {images_text(cfg_a)} against {images_text(cfg_b)} (same grid, same minima)\n")
    print("| data set | width | depth | converged (A) | converged (B) | gradients per path (A) | gradients per path "
          "(B) | B / A | final images (B): count | CPU s (A) | CPU s (B) | TO-score mean (A) | TO-score mean (B) |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    keys = sorted({(r["dataset"], r["width"], r["depth"]) for r in runs_a}, key=lambda k: (k[0], k[2], k[1]))
    tot = {"a": [0, 0, 0, 0.0], "b": [0, 0, 0, 0.0]}
    for k in keys:
        ra = [r for r in runs_a if (r["dataset"], r["width"], r["depth"]) == k]
        rb = [r for r in runs_b if (r["dataset"], r["width"], r["depth"]) == k]
        row = []
        for tag, rs in (("a", ra), ("b", rb)):
            conv, paths = sum(r["paths_converged"] for r in rs), sum(r["paths"] for r in rs)
            grads = sum(sum(r["path_gradient_evaluations"]) for r in rs)
            cpu = sum(r["cpu_seconds"] for r in rs)
            t = tot[tag]
            t[0], t[1], t[2], t[3] = t[0] + conv, t[1] + paths, t[2] + grads, t[3] + cpu
            row.append((conv, paths, grads, cpu, float(np.mean([r["to_score"] for r in rs]))))
        (ca, pa, ga, ua, sa), (cb, pb, gb, ub, sb) = row
        imgs: dict = {}
        for r in rb:
            for n in r["path_images"]:
                imgs[n] = imgs.get(n, 0) + 1
        print(f"| {k[0]} | {k[1]} | {k[2]} | {ca}/{pa} | {cb}/{pb} | {ga / max(pa, 1):,.0f} | {gb / max(pb, 1):,.0f} | "
              f"{gb / max(ga, 1):.1f} | {', '.join(f'{n}: {c}' for n, c in sorted(imgs.items()))} | {ua:.0f} | "
              f"{ub:.0f} | {sa:.4g} | {sb:.4g} |")
    a, b = tot["a"], tot["b"]
    print(f"\nall: converged {a[0]}/{a[1]} (A) against {b[0]}/{b[1]} (B); gradients {b[2] / max(a[2], 1):.1f} x; "
          f"CPU {a[3]:.0f} s against {b[3]:.0f} s ({b[3] / max(a[3], 1e-9):.1f} x, descents included)\n")
    reasons: dict = {}
    for r in runs_b:
        for why in r["path_reasons"]:
            if why:
                head = why.split(":")[0]
                reasons[head] = reasons.get(head, 0) + 1
    print(f"B's unconverged paths by reason: {reasons or 'none'}\n")


def bench_trend(scale: str, workers: int, dask: bool, out: str | None, checkpoint: str | None, cfg=None,
                tag: str = "main") -> list:
    """The real-data sweep once, on ``workers`` local processes (or a Dask LocalCluster of that many
    single-threaded workers): wall time, CPU time (the jobs' own), the load average sampled during
    the run, and the idle ``workers``-core time estimated from the CPU time. Returns the runs."""
    import json
    import resource
    import threading

    from bettibounds.barcode.realdata import (
        TREND_CONFIGS,
        format_mean_ci,
        generalisation_verdict,
        images_text,
        to_score_trend,
        trend_verdict,
    )

    cfg = dict(cfg or TREND_CONFIGS[scale])
    n_jobs = len(cfg["datasets"]) * len(cfg["archs"]) * cfg["seeds"]
    where = f"Dask LocalCluster, {workers} workers" if dask else f"{workers} local processes"
    print(f"## real-data TO-score sweep ({scale}: {len(cfg['datasets'])} data sets x {len(cfg['archs'])} "
          f"architectures x {cfg['seeds']} seeds = {n_jobs} jobs; {where}; paths: {images_text(cfg)}, at most "
          f"{cfg['iterations']} iterations{' per resolution' if cfg.get('max_images') else ''})\n", flush=True)
    loads, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            loads.append(os.getloadavg()[0])
            stop.wait(30)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    if dask:
        from bettibounds.distributed import dask_client

        with dask_client("local", workers=workers) as client:
            rows, runs = to_score_trend(scale, scheduler=client, checkpoint=checkpoint, cfg=cfg)
    else:
        rows, runs = to_score_trend(scale, processes=workers, checkpoint=checkpoint, cfg=cfg)
    wall = time.perf_counter() - t
    stop.set()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    # user / system time and minor page faults of this process and its finished children (the local workers),
    # and the larger peak RSS of the two (ru_maxrss of the children: the largest child's)
    rusage = {k: (getattr(self1, f) - getattr(self0, f)) + (getattr(children1, f) - getattr(children0, f))
              for k, f in (("user_s", "ru_utime"), ("sys_s", "ru_stime"), ("minor_faults", "ru_minflt"))}
    rusage["peak_rss_gb"] = max(self1.ru_maxrss, children1.ru_maxrss) / 2**20
    # the worker processes' whole CPU time (imports included; Dask's workers are not waited for here)
    cpu_procs = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    cpu = sum(r["cpu_seconds"] for r in runs)
    verdict, gen = trend_verdict(rows), generalisation_verdict(runs)
    busy = max(cpu, cpu_procs)
    print("| where | wall s | CPU s (jobs) | CPU s (worker processes, imports included) | load average "
          f"(min-mean-max during the run) | idle {workers}-core estimate (CPU / {workers}) | verdict |\n"
          "|---|---:|---:|---:|---|---:|---|")
    print(f"| {where} | {wall:.0f} | {cpu:.0f} | {cpu_procs:.0f} | "
          f"{min(loads):.1f}-{sum(loads) / len(loads):.1f}-{max(loads):.1f} | "
          f"{busy / workers:.0f} s = {busy / workers / 60:.1f} min | {verdict['verdict']} |\n")
    print(f"rusage (this process and its workers): user {rusage['user_s']:.1f} s, system {rusage['sys_s']:.1f} s, "
          f"{rusage['minor_faults'] / 1e6:.2f} million minor page faults, peak RSS {rusage['peak_rss_gb']:.2f} GB\n")
    print("| data set | width | depth | P | TO-score mean [95% CI] | paths converged | CPU s (all seeds) |\n"
          "|---|---:|---:|---:|---|---|---:|")
    for r in rows:
        print(f"| {r['dataset']} | {r['width']} | {r['depth']} | {r['P']} | "
              f"{format_mean_ci(r['to_score_mean'], r['to_score_ci95'], r['seeds'])} | "
              f"{r['paths_converged']}/{r['paths']} | {r['cpu_seconds']:.0f} |")
    print(f"\nverdict on observation 1: {verdict['verdict']} (directions {verdict['directions']}, "
          f"{verdict['unconverged_comparisons']} comparisons unconverged); observation 2: {gen['verdict']}\n")
    if out:
        os.makedirs(out, exist_ok=True)
        name = f"trend_{scale}.json" if tag == "main" else f"trend_{scale}_{tag}.json"
        with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
            json.dump({"scale": scale, "where": where, "wall_s": wall, "cpu_s": cpu, "cpu_processes_s": cpu_procs,
                       "loads": loads, "rusage": rusage,
                       "rows": rows, "verdict": verdict, "generalisation_verdict": gen, "runs": runs,
                       "date": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(),
                       "cfg": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}}, fh, default=float)
    return runs


def bench_high_dim(args) -> None:
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

    # --- the approximate index the authors use (hnswlib), against the exact graph above
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        print("\n(hnswlib not installed: the approximate backend was not measured)")
        return
    from bettibounds.barcode.graph import knn_search

    t = time.perf_counter()
    nb_h, _ = knn_search(X, k, backend="hnsw")
    t_h = time.perf_counter() - t
    exact = {tuple(e) for e in graphs["float64"].tolist()}
    i = np.repeat(np.arange(n), k)
    approx = {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), nb_h.reshape(-1).tolist())}
    recall = len(exact & approx) / len(exact)
    from bettibounds.barcode import union_find_h0

    ua = union_find_h0(f, np.array(sorted(approx)))
    print("\n## approximate k-NN (hnswlib, opt-in backend 'hnsw')\n")
    print("| method | seconds | edge recall vs exact | bars | same bars as exact |\n|---|---:|---:|---:|---|")
    print(f"| knn_search(backend='hnsw') | {t_h:.1f} | {recall:.4f} | {len(ua)} | "
          f"{sorted(map(tuple, ua[:, :2].tolist())) == sorted(map(tuple, u[:, :2].tolist()))} |")


if __name__ == "__main__":
    main()
