"""Where the CPU time of the real-data sweep's largest jobs goes: page faults, products, the rest.

Runs, on the full sweep's largest network (digits, tanh MLP of width 256 and depth 4, P = 216 586,
128 training points; ``--width``/``--depth`` for others), the three parts of a sweep job for a fixed
amount of work, each timed with ``resource.getrusage`` (user, system, minor page faults) and the
peak RSS:

* ``descend``: 5 Adam descents of ``--steps`` steps (float32 gradients, as the sweep);
* ``relax``: 10 string-method paths between 5 points (the descents' end points) at ``--images``
  interior images for ``--iterations`` iterations (float32 steps, float64 levels; the convergence
  test switched off by ``rtol = atol = 0`` so that every path runs every iteration);
* ``gradient``: one float32 gradient call on 80 points under the torch profiler, split into the
  matrix products and everything else (``--profile``);
* ``--per-gradient``: instead of the above, the CPU time of one float32 gradient (per point, in
  calls of 80 points as the relaxation makes them) at every architecture of the full sweep (both
  data sets, widths 16/64/256, depths 1-4): the unit cost that the full sweep's estimate multiplies
  by the gradients a job takes (docs/benchmarks.md).

The figures are for comparing code versions on one machine (run it with ``PYTHONPATH`` at each);
the sweep's own figures come from ``bench_barcode.py --trend``. ``--mmap-threshold BYTES`` sets
glibc's ``M_MMAP_THRESHOLD`` (and ``M_TRIM_THRESHOLD`` to twice it) in this process first, to
measure what a larger threshold alone would do.

Usage: ``python benchmarks/bench_relax_memory.py [--images 31] [--iterations 20] [--steps 100] [--profile]``
or ``python benchmarks/bench_relax_memory.py --per-gradient``
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": r.ru_utime, "sys": r.ru_stime, "minflt": r.ru_minflt, "wall": time.perf_counter(),
            "maxrss_gb": r.ru_maxrss / 2**20}


def report(name: str, a: dict, b: dict, work: str) -> None:
    d = {k: b[k] - a[k] for k in ("wall", "user", "sys", "minflt")}
    print(f"| {name} | {work} | {d['wall']:.1f} | {d['user']:.1f} | {d['sys']:.1f} | {d['minflt'] / 1e6:.2f} | "
          f"{b['maxrss_gb']:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--images", type=int, default=31)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--profile", action="store_true", help="profile one float32 gradient call on 80 points")
    ap.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES")
    ap.add_argument("--per-gradient", action="store_true", help="the unit cost of a gradient at every architecture")
    args = ap.parse_args()
    if args.per_gradient:
        per_gradient()
        return
    if args.mmap_threshold:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-3, args.mmap_threshold), libc.mallopt(-1, min(2**31 - 1, 2 * args.mmap_threshold))
        print(f"mallopt(M_MMAP_THRESHOLD, M_TRIM_THRESHOLD) returned {ok}")
    import numpy as np
    import torch

    import bettibounds
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.backprop import MLPEvaluator
    from bettibounds.barcode.minima import descend
    from bettibounds.barcode.realdata import TREND_CONFIGS, default_init, load_dataset
    from bettibounds.barcode.relax import relax_paths

    torch.set_num_threads(1)
    cfg = TREND_CONFIGS["full"]
    x, y, *_ = load_dataset("digits", n_train=cfg["n_train"], seed=0)
    spec = ArchitectureSpec(inputs=x.shape[1], widths=(args.width,) * args.depth, activation="tanh",
                            outputs=y.shape[1], samples=x.shape[0])
    ev, fast = MLPEvaluator(spec, x, y), MLPEvaluator(spec, x, y, dtype="float32")
    print(f"# bench_relax_memory: {bettibounds.__file__}; P = {spec.n_params}; load {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| part | work | wall s | user s | sys s | minor faults (millions) | peak RSS GB (process) |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    starts = default_init(spec, 5, np.random.default_rng([0, args.width, args.depth]))
    a = usage()
    minima, _ = descend(fast, starts, steps=args.steps, lr=0.02 * (16 / args.width) ** 0.5, schedule="cosine")
    report("descend", a, usage(), f"5 runs x {args.steps} steps")
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    A, B = minima[[i for i, _ in pairs]], minima[[j for _, j in pairs]]
    opts = {}
    if "workspace" in inspect.signature(relax_paths).parameters:
        opts["workspace"] = None  # the default (a workspace of its own); named to show which code ran
    a = usage()
    r = relax_paths(ev, A, B, images=args.images, iterations=args.iterations, dense=3, check_every=10, rtol=0.0,
                    atol=0.0, min_iterations=10 * args.iterations + 10, fast=fast, **opts)
    report("relax", a, usage(), f"10 paths x {args.images} images x {int(r.iterations.max())} iterations")
    print(f"\nlevels (to compare code versions): {r.levels.tolist()}")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        pts = np.repeat(minima, 16, axis=0)
        fast.values_and_gradients(pts)  # warm
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            t = time.process_time()
            fast.values_and_gradients(pts)
            t = time.process_time() - t
        rows = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in rows)
        products = sum(e.self_cpu_time_total for e in rows if e.key in ("aten::bmm", "aten::mm", "aten::addmm"))
        print(f"\none float32 gradient call on 80 points: {t * 1e3:.0f} ms of CPU; products (bmm/mm) "
              f"{products / total:.0%} of the profiled self time\n")
        print(rows.table(sort_by="self_cpu_time_total", row_limit=12))


def per_gradient() -> None:
    import numpy as np
    import torch

    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.backprop import MLPEvaluator
    from bettibounds.barcode.realdata import TREND_CONFIGS, default_init, load_dataset

    torch.set_num_threads(1)
    cfg = TREND_CONFIGS["full"]
    print(f"# float32 gradient per point, calls of 80 points, one thread; load {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| data set | width | depth | P | ms CPU per gradient | GFLOP/s (3 x 2 m P per gradient) |\n"
          "|---|---:|---:|---:|---:|---:|")
    for ds in cfg["datasets"]:
        x, y, *_ = load_dataset(ds, n_train=cfg["n_train"], seed=0)
        for h, L in sorted(cfg["archs"], key=lambda a: (a[0], a[1])):
            spec = ArchitectureSpec(inputs=x.shape[1], widths=(h,) * L, activation="tanh", outputs=y.shape[1],
                                    samples=x.shape[0])
            fast = MLPEvaluator(spec, x, y, dtype="float32")
            pts = default_init(spec, 80, np.random.default_rng(0))
            out = np.empty_like(pts)
            fast.values_and_gradients(pts, out=out)  # warm (buffers, caches)
            reps = max(3, int(2e8 // (spec.n_params * 80)))
            t = time.process_time()
            for _ in range(reps):
                fast.values_and_gradients(pts, out=out)
            ms = (time.process_time() - t) / (reps * 80) * 1e3
            print(f"| {ds} | {h} | {L} | {spec.n_params} | {ms:.3f} | "
                  f"{3 * 2 * x.shape[0] * spec.n_params / (ms * 1e-3) / 1e9:.0f} |", flush=True)


if __name__ == "__main__":
    main()
