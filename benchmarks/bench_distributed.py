"""Benchmark of distributed landscape evaluation on Dask (bettibounds.distributed). Prints Markdown.

Measured in one run, on this machine:

1. a ``--n`` x ``--n`` slice (default 1024^2 = 1,048,576 points) of the network of
   ``examples/slice_2d.json`` (d = 3, widths 16, 16, one output, m = 64 samples, tanh, MSE
   with l2; P = 353), evaluated by ``sample_landscape`` in-process (torch's default thread
   count, and one thread for reference) and on a ``LocalCluster`` of 1 and 2
   single-threaded worker processes (``dask_client("local", workers=w)``); the workers are
   warmed up first (torch imported, kernel built), so the figure is the evaluation itself;
   the cold start of a cluster (start, first block, stop) is reported separately. Every
   distributed grid is checked bit-for-bit against the in-process one;
2. the scheduler's overhead for small grids (default 32^2, 64^2, 128^2): in-process
   against 2 warm workers, best of ``--repeats``;
3. how far persistence of the assembled grid stays cheap on one machine:
   ``sublevel_persistence`` (backend "auto") of smooth 2-D grids 1024^2, 2048^2, 4096^2 and
   a smooth 3-D 128^3 grid (12 Gaussian bumps and wells, as in bench_persistence.py), plus
   the 1024^2 loss grid of step 1; each in a fresh interpreter, with its peak resident
   memory.

The machine may be shared: the load average is printed before and after each step.

Usage: python benchmarks/bench_distributed.py [--n 1024] [--small 32,64,128] [--repeats 3]
                                               [--no-persistence]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import best_seconds as _best  # noqa: E402  (the benchmarks folder's shared helpers)
from _machine import cpu_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = os.path.join(ROOT, "examples", "slice_2d.json")

_PERSISTENCE_CASE = r"""
import json, resource, sys, time
import numpy as np
from bettibounds.empirical.persistence import sublevel_persistence
ndim, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if path != "-":
    values = np.load(path)
else:
    rng = np.random.default_rng(0)
    grids = np.meshgrid(*([np.linspace(-1.0, 1.0, n)] * ndim), indexing="ij", sparse=True)
    values = np.zeros((n,) * ndim)
    for _ in range(12):
        c = rng.uniform(-1, 1, ndim); w = rng.uniform(0.1, 0.4); s = rng.choice([-1.0, 1.0])
        r2 = sum((g - ci) ** 2 for g, ci in zip(grids, c))
        values = values + s * rng.uniform(0.5, 2.0) * np.exp(-r2 / (2 * w * w))
sublevel_persistence(np.random.default_rng(1).random((8,) * values.ndim))  # load the backend
t = time.perf_counter()
diagram = sublevel_persistence(values)
seconds = time.perf_counter() - t
bars = sum(len(b) for b in diagram.bars.values()) if isinstance(diagram.bars, dict) else None
print(json.dumps({"seconds": seconds, "backend": diagram.backend, "bars": bars,
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def _cpu_model() -> str:
    return cpu_model()


def _load() -> str:
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def _persistence(ndim: int, n: int, path: str = "-") -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _PERSISTENCE_CASE, str(ndim), str(n), path],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="points per axis of the big slice (default 1024)")
    ap.add_argument("--small", default="32,64,128", help="small grids for the overhead (points per axis)")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs for the small grids")
    ap.add_argument("--rounds", type=int, default=2, help="alternated rounds of the big slice (best is kept)")
    ap.add_argument("--no-persistence", action="store_true", help="skip the persistence scaling step")
    args = ap.parse_args()

    import dask
    import torch

    from bettibounds.distributed import DaskEvaluator, dask_client
    from bettibounds.empirical.experiment import load_experiment
    from bettibounds.empirical.kernels import LossKernel
    from bettibounds.empirical.sampler import sample_landscape

    exp = load_experiment(EXPERIMENT)
    n, small = args.n, [int(s) for s in args.small.split(",") if s]
    threads = torch.get_num_threads()
    print(f"# bench_distributed — {_dt.date.today().isoformat()} on {platform.node()} ({_cpu_model()}, "
          f"{os.cpu_count()} logical CPUs), Python {platform.python_version()}, torch {torch.__version__}, "
          f"dask {dask.__version__}; in-process torch threads: {threads}")
    print(f"network: {EXPERIMENT} (P = {exp.spec.n_params}, m = {exp.spec.samples}), float64, CPU\n")

    # -- 1. the big slice: both clusters up (idle workers cost nothing), the four
    # configurations alternated ``--rounds`` times, best of the rounds (the machine is shared)
    print(f"load average before: {_load()}")
    kernel = LossKernel(exp.spec, exp.x, exp.y, device="cpu")
    ref = sample_landscape(exp, grid=[16, 16], kernel=kernel)  # warm-up
    chunk = kernel.chunk_size(n * n, "slice", 2)
    with contextlib.ExitStack() as stack:
        evs, cold = {}, {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = stack.enter_context(dask_client("local", workers=workers))
            t_start = time.perf_counter() - t0
            ev = stack.enter_context(DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu"))
            t = time.perf_counter()
            # warm-up: blocks on every worker, so each imports torch and builds its kernel
            ev.evaluate_chunked(np.zeros((64 * workers, 2)), "slice", center=ref.center, directions=ref.directions,
                                chunk=16)
            cold[workers] = (t_start, time.perf_counter() - t)
            evs[workers] = ev

        chunk1: list = []

        def in_process_1_thread():
            torch.set_num_threads(1)
            try:
                k1 = LossKernel(exp.spec, exp.x, exp.y, device="cpu")
                chunk1.append(k1.chunk_size(n * n, "slice", 2))
                return sample_landscape(exp, grid=[n, n], kernel=k1)
            finally:
                torch.set_num_threads(threads)

        configs = [(f"in-process, {threads} torch threads", lambda: sample_landscape(exp, grid=[n, n], kernel=kernel)),
                   ("in-process, 1 torch thread", in_process_1_thread)]
        configs += [(f"Dask LocalCluster, {w} worker{'s' if w > 1 else ''} x 1 thread",
                     lambda ev=ev: sample_landscape(exp, grid=[n, n], kernel=ev)) for w, ev in evs.items()]
        best = {name: float("inf") for name, _ in configs}
        values: dict = {}
        for r in range(args.rounds):
            for name, fn in configs:
                t = time.perf_counter()
                values[name] = fn().values
                best[name] = min(best[name], time.perf_counter() - t)
            print(f"load average after round {r + 1}: {_load()}")
        ref_values = values[configs[0][0]]
        np.save("/tmp/bench_distributed_loss.npy", ref_values)
        t_in = best[configs[0][0]]
        rows = [(configs[0][0], t_in, chunk, "—", "reference"),
                (configs[1][0], best[configs[1][0]], chunk1[-1], "—", "—")]
        for (name, _), ev in zip(configs[2:], evs.values()):
            rows.append((name, best[name], ev.info["chunk"], ev.info["blocks"],
                         "yes" if np.array_equal(values[name], ref_values) else "NO"))
        small_rows = []
        for s in small:
            t_small_in = _best(lambda s=s: sample_landscape(exp, grid=[s, s], kernel=kernel), args.repeats)
            t_small_d = _best(lambda s=s: sample_landscape(exp, grid=[s, s], kernel=evs[2]), args.repeats)
            small_rows.append((s, t_small_in, t_small_d))
        t_trip = _best(lambda: evs[2].client.submit(int, 1, pure=False).result(), 20)
        t1 = time.perf_counter()
    t_stop = time.perf_counter() - t1
    print(f"\n## {n}² slice ({n * n:,} points)\n")
    print("| evaluation | seconds | points/s | speed-up vs in-process | chunk | Dask blocks | bit-identical |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, sec, ch, blocks, flag in rows:
        print(f"| {name} | {sec:.1f} | {n * n / sec:,.0f} | {t_in / sec:.2f}× | {ch:,} | {blocks} | {flag} |")
    print("\n| cold start | cluster start (s) | warm-up: torch import + kernel on the workers (s) |")
    print("|---|---:|---:|")
    for w, (a, b) in cold.items():
        print(f"| {w} worker{'s' if w > 1 else ''} | {a:.1f} | {b:.1f} |")
    print(f"\nstopping both clusters: {t_stop:.1f} s; one no-op task round trip (2 workers, best of 20): "
          f"{t_trip * 1e3:.1f} ms")
    print(f"\n## Scheduler overhead, small grids (2 warm workers, best of {args.repeats})\n")
    print("| grid | points | in-process (ms) | Dask (ms) | Dask / in-process | overhead (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for s, a, b in small_rows:
        print(f"| {s}² | {s * s:,} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.1f}× | {(b - a) * 1e3:.0f} |")

    if args.no_persistence:
        return
    print(f"\n## Persistence on one machine (fresh interpreter per case; load average {_load()})\n")
    print("| grid | vertices | seconds | bars | backend | peak RSS (GiB) |")
    print("|---|---:|---:|---:|---|---:|")
    cases = [(f"loss landscape {n}² (step 1)", 2, n, "/tmp/bench_distributed_loss.npy")]
    cases += [(f"smooth {s}²", 2, s, "-") for s in (1024, 2048, 4096)] + [("smooth 128³", 3, 128, "-")]
    for name, ndim, size, path in cases:
        r = _persistence(ndim, size, path)
        print(f"| {name} | {size ** ndim:,} | {r['seconds']:.2f} | {r['bars']} | {r['backend']} | "
              f"{r['peak_rss_gib']:.2f} |", flush=True)
    print(f"\nload average at the end: {_load()}")


if __name__ == "__main__":
    main()
