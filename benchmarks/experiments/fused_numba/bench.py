"""One comparison run: naive loop / project kernel / fused numba kernels, float32 and
float64, best of 3 each, plus every fused kernel's max relative difference to the project
kernel's float64 values over the whole 256 x 256 grid.

Usage (from this folder): python bench.py [--naive 1000] [--repeats 3]
"""
import argparse
import os
import subprocess

import numpy as np
import torch

import common
import fused_loops2
from bettibounds.empirical.kernels import LossKernel, from_sequential

# (module, function, dtype, description, points timed: None = whole grid)
FUSED = [
    (fused_loops2, "loops2_approx", np.float32, "fused loops, layer 2 unrolled 4j x 2k, own float32 tanh", None),
    (fused_loops2, "loops4_approx", np.float32, "fused loops, layer 2 unrolled 4j x 4k, own float32 tanh", None),
    (fused_loops2, "loops2_exp", np.float64, "fused loops, layer 2 unrolled 4j x 2k, 1-2/(exp(2x)+1)", None),
]


def load():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[1].strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--naive", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    R = args.repeats
    x, y, c, D, coords = common.make_problem()
    N = len(coords)
    load0 = load()
    rows, ref64 = [], None
    for dt_name, tdt, ndt in (("float64", torch.float64, np.float64), ("float32", torch.float32, np.float32)):
        # project kernel
        spec, _ = from_sequential(common.make_model(tdt), x, y)
        kern = LossKernel(spec, x, y, device="cpu", dtype=dt_name)
        kern.evaluate_chunked(coords[:2048], "slice", center=c, directions=D)  # warm-up
        tk, vk = common.best_of(R, lambda: kern.evaluate_chunked(coords, "slice", center=c, directions=D))
        if ref64 is None:
            ref64 = vk
        # naive loop on an evenly spread sample
        idx = np.linspace(0, N - 1, args.naive).astype(int)
        runs = [common.naive_loop(x, y, c, D, coords[idx], tdt) for _ in range(R)]
        tn, vn = min(runs, key=lambda r: r[0])
        naive = len(idx) / tn
        rows.append((dt_name, "naive per-point loop (torch)", naive, 1.0,
                     np.max(np.abs(vn - ref64[idx]) / ref64[idx]), f"{len(idx)} pts"))
        rows.append((dt_name, "project LossKernel slice (torch)", N / tk, N / tk / naive,
                     np.max(np.abs(vk - ref64) / ref64), f"{N} pts"))
        for mod, name, fdt, desc, npts in FUSED:
            if fdt is not ndt:
                continue
            fn = getattr(mod, name)
            tab = common.fused_tables(x, y, c, D, fdt)
            S, T = coords[:, 0].astype(fdt), coords[:, 1].astype(fdt)
            out = np.empty(N)
            common.run_fused(fn, tab, S, T, out)  # compile/load + warm-up + the accuracy check
            rel = np.max(np.abs(out - ref64) / ref64)
            n = npts or N
            o2 = np.empty(n)
            tf, _ = common.best_of(R, lambda: common.run_fused(fn, tab, S[:n], T[:n], o2))
            rows.append((dt_name, f"{desc} [{name}]", n / tf, n / tf / naive, rel, f"{n} pts"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numba threads "
          f"{__import__('numba').get_num_threads()}, layer {__import__('numba').threading_layer()}; "
          f"{os.cpu_count()} CPUs")
    print(f"load average (1, 5, 15 min) at start: {load0}; at end: {load()}")
    print("| dtype | method | points/s | speed-up vs naive | max rel. diff vs project float64 | timed on |")
    print("|---|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:,.0f} | {r[3]:.1f}x | {r[4]:.1e} | {r[5]} |")


if __name__ == "__main__":
    main()
