"""The spread of the naive per-point loop's rate on issue 23's network, with two torch threads and one.

The ratios of docs/benchmarks.md ("speed-up vs naive") divide by the naive loop of
``bench_kernels.py`` (``vector_to_parameters`` + forward + ``F.mse_loss(...).item()`` per point, best of 3
runs of 1000 points). On a shared machine that loop's rate moves by up to 2x between runs a minute apart
(its torch threads wait for each other on matrices this small), while the fused engine's moves by about
10 %, so one run's ratio says as much about the naive loop as about the engine. This script times the
same loop ``--runs`` times, alternating torch's two thread settings with the fused float64 engine (the
default, numba's threads) on the 256 x 256 slice, and prints every rate, the medians and the maxima, and
the ratio of the medians: the engine against the naive loop as a user sees both on this machine, rather
than one run's pair. Wall time; writes nothing.

Usage: python benchmarks/bench_naive_spread.py [--runs 10] [--points 1000]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import best_seconds, cpu_model  # noqa: E402
from bench_kernels import naive_loop  # noqa: E402

_threads = os.environ.get("NUMBA_NUM_THREADS")
from roofline_fused import network  # noqa: E402  (it sets NUMBA_NUM_THREADS=1 for its per-core figures)

if _threads is None:  # this script's figures are the machine's: numba's default threads
    del os.environ["NUMBA_NUM_THREADS"]
else:
    os.environ["NUMBA_NUM_THREADS"] = _threads


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="timed runs per thread setting (default 10)")
    ap.add_argument("--points", type=int, default=1000, help="points per run (default 1000, as bench_kernels.py)")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.points < 1:
        ap.error("--runs and --points must be positive")
    import torch

    spec, x, y, center, directions, coords = network(256)
    idx = np.linspace(0, len(coords) - 1, min(args.points, len(coords))).astype(int)
    thetas = center + coords[idx] @ directions
    load0 = os.getloadavg()[0]
    settings = (torch.get_num_threads(), 1)
    from bettibounds.engines.fused import FusedKernel

    fused = FusedKernel(spec, x, y, dtype="float64")
    fused.evaluate_chunked(coords[:64], "slice", center=center, directions=directions)  # compile or load
    rates: dict[int | str, list[float]] = {s: [] for s in (*settings, "fused")}
    for _ in range(args.runs):
        for s in settings:
            torch.set_num_threads(s)
            secs, _ = naive_loop(torch, spec, x, y, thetas, torch.float64)
            rates[s].append(len(idx) / secs)
        rates["fused"].append(len(coords) / best_seconds(
            lambda: fused.evaluate_chunked(coords, "slice", center=center, directions=directions)))
    print(f"## The naive loop's spread — {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}\n")
    print(f"CPU {cpu_model()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}; float64, issue 23's network "
          f"(d = 10, widths 32, 16, m = 256, tanh, MSE); {len(idx)} points per run, {args.runs} runs per setting, "
          f"alternating; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}\n")
    import numba

    print("| evaluator | points/s, in order | median | max |")
    print("|---|---|---:|---:|")
    for key, v in rates.items():
        name = (f"fused engine ({numba.get_num_threads()} thread(s))" if key == "fused"
                else f"naive loop, {key} torch thread(s)")
        print(f"| {name} | {' '.join(f'{r:,.0f}' for r in v)} | {np.median(v):,.0f} | {max(v):,.0f} |")
    med = {key: float(np.median(v)) for key, v in rates.items()}
    print("\nfused engine / naive loop, medians: " + ", ".join(
        f"{med['fused'] / med[s]:.1f}x ({s} thread(s))" for s in settings)
        + "; fused median / naive maximum: " + ", ".join(
        f"{med['fused'] / max(rates[s]):.1f}x ({s})" for s in settings))


if __name__ == "__main__":
    main()
