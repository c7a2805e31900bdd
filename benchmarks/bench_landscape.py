"""End-to-end benchmark of ``bettibounds landscape`` on a slice of a ~10k-parameter network.

The issue's configuration: a 2-D slice (random filter-normalised directions) of a network with
d = 20 inputs, hidden widths 100 and 80, one output (P = 10 261), tanh, MSE, m = 1000 random
samples, float64, on the CPU. The experiment file is written to a temporary directory and the
command runs in a child process, so that its wall time and peak resident memory (ru_maxrss of
the child) are those a user sees; sampling and persistence times come from the command's own
``--json`` timings.

``--engine`` and ``--dtype`` are passed to the command (default: its own, ``auto`` and float64: the fused
engine where numba is installed).

Usage: python benchmarks/bench_landscape.py [--grid 512] [--refine 1] [--engine auto|torch|fused] [--dtype ...]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model  # noqa: E402


def experiment(grid: int, d: int = 20, widths=(100, 80), m: int = 1000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    layers = [d, *widths, 1]
    P = sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))
    x = rng.normal(size=(m, d))
    y = np.tanh(x[:, :1] - 0.5 * x[:, 1:2])
    fan_in = np.concatenate([np.full(a * b + b, a) for a, b in zip(layers[:-1], layers[1:])])
    center = rng.normal(size=P) / np.sqrt(fan_in)
    return {
        "network": {"layers": layers, "activation": "tanh"},
        "loss": {"kind": "mse"},
        "data": {"x": np.round(x, 6).tolist(), "y": np.round(y, 6).tolist()},
        "region": {"kind": "slice", "center": np.round(center, 8).tolist(),
                   "directions": {"random": 2, "seed": 0, "normalization": "filter"},
                   "low": [-1.0, -1.0], "high": [1.0, 1.0]},
        "grid": [grid, grid],
        "levels": [0.5, 1.0, 2.0],
        "homology_dims": [0, 1],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=512, help="points per axis")
    ap.add_argument("--refine", type=int, default=1, help="--refine of the command (1: no refined grid)")
    ap.add_argument("--engine", default="auto", choices=("auto", "torch", "fused"), help="--engine of the command")
    ap.add_argument("--dtype", default=None, choices=("float64", "float32"),
                    help="--dtype of the command (default: float64)")
    args = ap.parse_args(argv)
    exp = experiment(args.grid)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.json"
        path.write_text(json.dumps(exp))
        cmd = [sys.executable, "-m", "bettibounds", "landscape", str(path), "--json", "--device", "cpu",
               "--refine", str(args.refine), "--engine", args.engine]
        if args.dtype:
            cmd += ["--dtype", args.dtype]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"bettibounds landscape failed:\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB (Linux)
    out = json.loads(proc.stdout)
    timings = out.get("timings", {})
    n = args.grid ** 2
    print(f"## bettibounds landscape end to end — {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}\n")
    print(f"- machine: {cpu_model()}; {os.cpu_count()} logical CPUs; load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    s = out["sample"]
    first = "" if s["compile_seconds"] is None else f" (compiling or loading it: {s['compile_seconds']:.2f} s)"
    print(f"- network: d=20, widths [100, 80], 1 output, P={out['n_params']}, m=1000, tanh, MSE; {s['dtype']}, "
          f"{s['engine']} engine{first}; grid {args.grid}x{args.grid}; --refine {args.refine}\n")
    print("| grid | points | timings reported by the command | wall (whole command) | peak RSS |")
    print("|---|---:|---|---:|---:|")
    shown = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if isinstance(v, (int, float)))
    print(f"| {args.grid} x {args.grid} | {n:,} | {shown} | {wall:.1f} s | {peak:.0f} MiB |")


if __name__ == "__main__":
    main()
