"""The general fused kernel (general.py) against the specialised one (fused_loops2.loops4_approx),
the project's torch kernel (float32) and the naive per-point loop, all float32, best of 3 each,
in one process:

1. the benchmark configuration (common.make_problem(): d = 10, widths 32, 16, m = 256, tanh,
   MSE, 256 x 256 slice grid), with each method's max relative difference to the project
   kernel's float64 values;
2. a wider case: d = 20, widths 100, 80, m = 1000, tanh, MSE, a 128 x 128 slice (torch float32,
   loops4_approx, general; no naive loop);
3. with --compile: the general kernel's first-call time in a fresh process with an empty
   NUMBA_CACHE_DIR (compilation) and again with that cache filled (load), and, in one process,
   the first call on other architectures / k / activation (no recompilation: one signature).

Usage (from this folder): python bench_general.py [--naive 1000] [--repeats 3] [--compile]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import common
import fused_loops2
import general
from bettibounds.empirical.kernels import LossKernel
from bettibounds.spec import ArchitectureSpec


def load():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[1].strip()


def loops4_tables(x, y, c, D, d, h1, h2, dtype=np.float32):
    """common.fused_tables for any d, h1, h2 (one output, biases)."""
    def split(v):
        o = 0
        W1 = v[o:o + h1 * d].reshape(h1, d); o += h1 * d  # noqa: E702
        b1 = v[o:o + h1]; o += h1  # noqa: E702
        W2 = v[o:o + h2 * h1].reshape(h2, h1); o += h2 * h1  # noqa: E702
        b2 = v[o:o + h2]; o += h2  # noqa: E702
        w3 = v[o:o + h2]; o += h2  # noqa: E702
        b3 = v[o]; o += 1  # noqa: E702
        assert o == len(v)
        return W1, b1, W2, b2, w3, b3
    parts = [split(v) for v in (c, D[0], D[1])]
    Z = [W1 @ x.T + b1[:, None] for (W1, b1, *_rest) in parts]
    f = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return dict(A=f(Z[0]), B=f(Z[1]), C=f(Z[2]),
                W2=f(np.stack([p[2] for p in parts])), b2=f(np.stack([p[3] for p in parts])),
                w3=f(np.stack([p[4] for p in parts])), b3=f(np.array([p[5] for p in parts])), y=f(y[:, 0]))


def run_case(spec, x, y, c, D, coords, R, naive_pts=0, ref64=True):
    """rows (method, points/s, max rel. diff vs torch float64 or None, points timed)."""
    N = len(coords)
    rows = []
    ref = None
    if ref64:
        ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(coords, "slice", center=c,
                                                                                     directions=D)
    rel = (lambda v, idx=slice(None): float(np.max(np.abs(v - ref[idx]) / ref[idx]))) if ref64 else \
        (lambda v, idx=slice(None): None)
    if naive_pts:
        idx = np.linspace(0, N - 1, naive_pts).astype(int)
        runs = [common._bench_kernels.naive_loop(torch, spec, x, y, c, D, coords[idx], torch.float32,
                                                 torch.device("cpu")) for _ in range(R)]
        tn, vn = min(runs, key=lambda r: r[0])
        rows.append(("naive per-point loop (torch, float32)", len(idx) / tn, rel(vn, idx), len(idx)))
    kern = LossKernel(spec, x, y, device="cpu", dtype="float32")
    kern.evaluate_chunked(coords[:2048], "slice", center=c, directions=D)  # warm-up
    tk, vk = common.best_of(R, lambda: kern.evaluate_chunked(coords, "slice", center=c, directions=D))
    rows.append(("project LossKernel slice (torch, float32)", N / tk, rel(vk), N))
    # specialised fused kernel (2 tanh layers, widths % 4 == 0, one output)
    tab4 = loops4_tables(x, y, c, D, spec.inputs, *spec.widths)
    S, T = coords[:, 0].astype(np.float32), coords[:, 1].astype(np.float32)
    o4 = np.empty(N)
    common.run_fused(fused_loops2.loops4_approx, tab4, S, T, o4)  # load + warm-up
    t4, v4 = common.best_of(R, lambda: common.run_fused(fused_loops2.loops4_approx, tab4, S, T, o4))
    rows.append(("specialised fused [fused_loops2.loops4_approx]", N / t4, rel(v4), N))
    # general fused kernel (tables prepared once, outside the timing, as for loops4)
    tabg = general.prepare(spec, x, y, c, D)
    og = np.empty(N)
    general.evaluate(tabg, coords, out=og)  # load + warm-up
    tg, vg = common.best_of(R, lambda: general.evaluate(tabg, coords, out=og))
    rows.append(("general fused [general.general_kernel]", N / tg, rel(vg), N))
    return rows


def print_rows(title, rows):
    base = rows[0][1]
    print(f"\n{title}")
    print("| method | points/s | vs first row | max rel. diff vs torch float64 | timed on |")
    print("|---|---:|---:|---:|---|")
    for name, pps, rel, n in rows:
        print(f"| {name} | {pps:,.0f} | {pps / base:.1f}x | {'-' if rel is None else f'{rel:.1e}'} | {n} pts |")
    d = {name: pps for name, pps, _, _ in rows}
    g = d["general fused [general.general_kernel]"]
    print(f"general / specialised = {g / d['specialised fused [fused_loops2.loops4_approx]']:.2f}; "
          f"general / torch float32 = {g / d['project LossKernel slice (torch, float32)']:.2f}")


# ------------------------------------------------------------------ compile timing
_FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
import general
from bettibounds.spec import ArchitectureSpec
import numpy as np
t1 = time.perf_counter()
rng = np.random.default_rng(0)
spec = ArchitectureSpec(inputs=10, widths=(32, 16), activation="tanh", samples=256)
x, y = rng.normal(size=(256, 10)), rng.normal(size=(256, 1))
c, D = rng.normal(size=spec.n_params), rng.normal(size=(2, spec.n_params))
tab = general.prepare(spec, x, y, c, D)
T = rng.uniform(-1, 1, size=(16, 2))
t2 = time.perf_counter()
general.evaluate(tab, T)
t3 = time.perf_counter()
general.evaluate(tab, T)
t4 = time.perf_counter()
print(json.dumps(dict(imports=t1 - t0, first_call=t3 - t2, second_call=t4 - t3)))
"""


def compile_times():
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        res = []
        for label in ("empty cache (compile)", "filled cache (load)", "filled cache (load), again"):
            p = subprocess.run([sys.executable, "-c", _FIRST_CALL], cwd=here, env=env, capture_output=True,
                               text=True, check=True)
            res.append((label, json.loads(p.stdout.strip().splitlines()[-1])))
    print("\ngeneral kernel, first call in a fresh process (NUMBA_CACHE_DIR = a new temporary folder):")
    print("| cache | imports (s) | first call (s) | second call (s) |")
    print("|---|---:|---:|---:|")
    for label, r in res:
        print(f"| {label} | {r['imports']:.2f} | {r['first_call']:.2f} | {r['second_call']:.4f} |")


def no_recompile():
    """First call on several other architectures in this process: one signature throughout."""
    rng = np.random.default_rng(1)
    print("\nfirst call of the (already loaded) general kernel on other networks, this process:")
    print("| network | k | first call (s) | signatures compiled |")
    print("|---|---:|---:|---:|")
    for d, widths, o, act, k, extra in [(3, (7,), 2, "logistic", 1, {}), (5, (16, 16, 16), 1, "tanh", 3,
                                        {"skip": "residual", "l2": 0.01}), (4, (13, 5), 3, "logistic", 4, {})]:
        spec = ArchitectureSpec(inputs=d, widths=widths, activation=act, samples=50, outputs=o, **extra)
        x, y = rng.normal(size=(50, d)), rng.normal(size=(50, o))
        tab = general.prepare(spec, x, y, rng.normal(size=spec.n_params), rng.normal(size=(k, spec.n_params)))
        t0 = time.perf_counter()
        general.evaluate(tab, rng.uniform(-1, 1, size=(16, k)))
        dt = time.perf_counter() - t0
        print(f"| d={d}, widths={widths}, out={o}, {act}, {extra} | {k} | {dt:.4f} | "
              f"{len(general.general_kernel.signatures)} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time compilation / cache loading")
    args = ap.parse_args()
    R = args.repeats
    load0 = load()
    # 1. the benchmark configuration
    x, y, c, D, coords = common.make_problem()
    spec = ArchitectureSpec(inputs=common.D_IN, widths=(common.H1, common.H2), activation="tanh", samples=common.M)
    rows1 = run_case(spec, x, y, c, D, coords, R, naive_pts=args.naive)
    # 2. the wider case
    rng = np.random.default_rng(7)
    d, h1, h2, m, g = 20, 100, 80, 1000, 128
    spec2 = ArchitectureSpec(inputs=d, widths=(h1, h2), activation="tanh", samples=m)
    x2, y2 = rng.normal(size=(m, d)), rng.normal(size=(m, 1))
    c2 = rng.normal(size=spec2.n_params) * 0.1
    D2 = rng.normal(size=(2, spec2.n_params)) * 0.1
    axis = np.linspace(-1.0, 1.0, g)
    coords2 = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    rows2 = run_case(spec2, x2, y2, c2, D2, coords2, R)
    load1 = load()
    import numba
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numba {numba.__version__}, "
          f"{numba.get_num_threads()} threads, layer {numba.threading_layer()}; {os.cpu_count()} CPUs")
    print(f"load average (1, 5, 15 min) at start: {load0}; at end: {load1}")
    print_rows(f"benchmark configuration: d=10, widths 32, 16, m=256, tanh, MSE, {len(coords)}-point slice, "
               f"float32, best of {R}", rows1)
    print_rows(f"wider case: d={d}, widths {h1}, {h2}, m={m}, tanh, MSE, {g}x{g} slice, float32, best of {R}",
               rows2)
    if args.compile:
        no_recompile()
        compile_times()


if __name__ == "__main__":
    main()
