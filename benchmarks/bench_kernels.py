"""Benchmark of the batched loss kernel (bettibounds.empirical.kernels). Prints a Markdown table.

Measured in one run, on this machine, for float64 and float32:

1. ``LossKernel.evaluate_chunked`` on a 2-D slice grid of 256 x 256 = 65,536 points
   (theta = center + t_1 dir_1 + t_2 dir_2) of a mid-size network: d = 10, widths 64, 64,
   one output, m = 256 samples, tanh, MSE; throughput (points/s) and achieved GFLOP/s,
   counting the matrix-product FLOPs the kernel executes (2 per multiply-add; the slice
   trick makes the first layer cost 2 m k h_1 instead of 2 m d h_1), and, for the record,
   the same network in ``mode="full"`` (a (N, P) matrix of parameter vectors) on a
   sub-grid;
2. the naive per-point loop that landscape tools do: for each point build theta, load it
   into a ``torch.nn.Sequential`` (``vector_to_parameters``), run the forward pass on the
   data and compute ``F.mse_loss``; timed on a sample of points and extrapolated to the
   grid (the sample's values are checked against the kernel's);
3. the speed-up ceiling that tanh alone imposes: the naive loop's time per point over the
   time of the point's m (h_1 + h_2) tanh evaluations at torch's best tanh rate (in place,
   on a cache-sized tensor, best of 20);
4. the machine's matmul peak (``torch.matmul`` of 2048 x 2048 matrices, best of 5) in the
   same dtype, and the fraction of it the kernel reaches;
5. in float32 on the CPU, when numba is installed, the opt-in fused engine
   (``bettibounds.empirical.fused``) on the same grid, against the same naive sample; its
   roofline and ceilings use the rates of the engine's own float32 tanh;
6. the best possible speed-up over the naive loop in this run: the naive time per point over
   the point's matmul FLOPs at the matmul peak plus its tanh at the best tanh rate (3.; for
   the fused engine its own tanh, applied over and over to L1-resident values by each thread).
   It tells how far a speed-up target is within this machine's reach. It bounds the torch
   kernel; the fused engine overlaps its tanh with its products and can exceed the estimate.

The kernel's arithmetic intensity is bounded by the network: with the default widths 64, 64
it does 2 m h^2 = 2.1 MFLOP per point in (B, 65, 65) x (B, 65, 256) batched products (the
bias folded in as a ones row) plus m (h_1 + h_2) = 32,768 tanh evaluations, so neither a
2048^3 GEMM's peak nor the naive loop's per-call overhead is the whole story; both are
reported.

Every time is the best of ``--repeats`` (3) runs, kernel and naive loop alike: on a shared
VM the naive loop's rate swings by up to 2x between runs a minute apart.

Usage: python benchmarks/bench_kernels.py [--device cpu|cuda] [--threads N] [--naive 1000] [--repeats 3]
       [--widths 32,16] [--fused auto|yes|no]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import time

import numpy as np
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model  # noqa: E402


def _cpu_model() -> str:
    return cpu_model()


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(torch, dtype, device, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of torch.matmul on n x n matrices (best of ``repeats`` after a warm-up)."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    torch.matmul(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def best_of(repeats: int, fn):
    """(best wall time, result) of ``repeats`` calls of fn."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t
        if dt < best:
            best, out = dt, res
    return best, out


def naive_loop(torch, spec, x, y, center, directions, coords, dtype, device):
    """Per-point evaluation the way landscape tools do it; returns (seconds, values)."""
    nn, F = torch.nn, torch.nn.functional
    layers, fan_in = [], spec.inputs
    for w in spec.widths:
        layers += [nn.Linear(fan_in, w), nn.Tanh()]
        fan_in = w
    layers.append(nn.Linear(fan_in, spec.outputs))
    model = nn.Sequential(*layers).to(device=device, dtype=dtype)
    xt = torch.as_tensor(x, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=dtype, device=device)
    c = torch.as_tensor(center, dtype=dtype, device=device)
    D = torch.as_tensor(directions, dtype=dtype, device=device)
    T = torch.as_tensor(coords, dtype=dtype, device=device)
    out = np.empty(len(coords))
    with torch.no_grad():
        for i in range(min(5, len(coords))):  # warm-up
            nn.utils.vector_to_parameters(c + T[i] @ D, model.parameters())
            F.mse_loss(model(xt), yt).item()
        _sync(device)
        t = time.perf_counter()
        for i in range(len(coords)):
            theta = c + T[i] @ D
            nn.utils.vector_to_parameters(theta, model.parameters())
            out[i] = F.mse_loss(model(xt), yt, reduction="sum").item() / len(x)
        _sync(device)
        return time.perf_counter() - t, out


def own_tanh_rates(n_big: int) -> tuple[float, float]:
    """(rate on one big array, best rate) of the fused engine's own float32 tanh, in values/s,
    through the vector code the kernel applies (``_fused_numba._tanh_vectors``).

    The first is one pass over ``n_big`` values, split between the threads like torch's
    big-tensor rate. The second is the engine's conditions: each thread applies it to its own
    8192 values, which stay in its L1 cache, over and over (as the kernel does per point), best
    of 5. The repeats go back and forth between two buffers, so each repeat's input differs (the
    tanh is branch-free: its time does not depend on the values)."""
    import numba
    from numba import njit, prange

    from bettibounds.empirical import _fused_numba

    tanh_vectors = _fused_numba._tanh_vectors

    @njit(parallel=True, error_model="numpy")
    def one_pass(X, out):
        for c in prange(X.shape[0]):
            tanh_vectors(X[c], out[c], X.shape[1])

    @njit(parallel=True, error_model="numpy")
    def repeat_tanh(X, reps):
        s = 0.0
        for c in prange(X.shape[0]):
            a = X[c].copy()
            b = np.empty_like(a)
            for r in range(reps // 2):
                tanh_vectors(a, b, a.shape[0])
                tanh_vectors(b, a, a.shape[0])
            s += a[7]
        return s

    rng = np.random.default_rng(1)
    nt = numba.get_num_threads()
    row = 8192 * 64
    big = rng.standard_normal(max(nt, n_big // row) * row, dtype=np.float32).reshape(-1, row)
    out = np.empty_like(big)
    one_pass(big[:1, :64], out[:1, :64])  # compile before timing
    t = time.perf_counter()
    one_pass(big, out)
    rate = big.size / (time.perf_counter() - t)
    X = big.reshape(-1)[: nt * 8192].reshape(nt, 8192).copy()
    repeat_tanh(X, 2)  # compile
    reps = 1000
    best = X.size * reps / best_of(5, lambda: repeat_tanh(X, reps))[0]
    return rate, best


def fused_kernel(spec, x, y, required: bool):
    """The fused engine's kernel, or None when numba is missing (an error when ``required``)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        if required:
            raise SystemExit("--fused yes needs numba: pip install 'bettibounds[fast]'") from None
        return None
    from bettibounds.empirical.fused import FusedSliceKernel

    return FusedSliceKernel(spec, x, y)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--grid", type=int, default=256, help="points per axis of the 2-D slice grid")
    ap.add_argument("--naive", type=int, default=1000, help="points timed in the naive loop")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of each measurement (best is kept)")
    ap.add_argument("--full", type=int, default=4096, help="points timed in mode='full'")
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--d", type=int, default=10, help="input dimension")
    ap.add_argument("--widths", default="64,64", help="hidden widths (issue target: ~1000 parameters: 32,16)")
    ap.add_argument("--m", type=int, default=256, help="samples")
    ap.add_argument("--fused", choices=("auto", "yes", "no"), default="auto",
                    help="also time the opt-in fused float32 engine on the CPU (auto: when numba is installed)")
    args = ap.parse_args(argv)
    fused_load = None

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from bettibounds.empirical.kernels import LossKernel, flops_per_point
    from bettibounds.spec import ArchitectureSpec

    d, widths, m = args.d, tuple(int(w) for w in args.widths.split(",")), args.m
    spec = ArchitectureSpec(inputs=d, widths=widths, activation="tanh", loss="mse", samples=m)
    P = spec.n_params
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, d))
    y = np.sin(x.sum(axis=1, keepdims=True))
    fan_in = np.concatenate([np.full(w * i + w, i) for i, w in zip((d, *widths), (*widths, 1))])
    center = rng.normal(size=P) / np.sqrt(fan_in)  # a LeCun-scaled random network
    directions = rng.normal(size=(2, P)) / np.sqrt(fan_in)
    axis = np.linspace(-1.0, 1.0, args.grid)
    coords = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    N = len(coords)
    f_slice = flops_per_point(spec, "slice", k=2)
    f_full = flops_per_point(spec, "full")

    rows = []
    device_name = None
    for dt_name in args.dtypes.split(","):
        dtype = {"float64": torch.float64, "float32": torch.float32}[dt_name]
        kern = LossKernel(spec, x, y, device=args.device, dtype=dt_name)
        dev = kern.device
        device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU: {_cpu_model()}"
        peak = matmul_peak(torch, dtype, dev)
        # roofline of this network: its FLOPs at the matmul peak + its tanh count on one big contiguous tensor
        n_act = m * sum(widths)
        big = torch.randn(min(N * n_act, 2**25), dtype=dtype, device=dev)
        torch.tanh(big)
        _sync(dev)
        t = time.perf_counter()
        torch.tanh(big)
        _sync(dev)
        act_rate = big.numel() / (time.perf_counter() - t)
        # ... and at its best: in place on a cache-sized tensor (2^18 elements), best of 20. No
        # kernel that evaluates those tanh with torch can beat n_act / act_best per point, so
        # naive-time / that is the largest speed-up any such kernel could show in this run
        small = big[: 2**18].clone()
        act_best = max(small.numel() / best_of(1, lambda: (small.tanh_(), _sync(dev)))[0] for _ in range(20))
        rates = {}
        chunk = kern.chunk_size(N, "slice", 2)
        # kernel, slice mode, whole grid (warm-up on a few chunks first)
        kern.evaluate_chunked(coords[: 4 * chunk], mode="slice", center=center, directions=directions)
        t_slice, values = best_of(args.repeats, lambda: kern.evaluate_chunked(
            coords, mode="slice", center=center, directions=directions))
        # kernel, full mode, sub-grid (an (n, P) matrix of thetas)
        nf = min(args.full, N)
        thetas = center + coords[:nf] @ directions
        kern.evaluate_chunked(thetas[: 2 * kern.chunk_size(nf)])
        t_full, vfull = best_of(args.repeats, lambda: kern.evaluate_chunked(thetas))
        # naive per-point loop on an evenly spread sample (best of the same number of repeats:
        # its rate swings with the machine's state far more than the kernel's does)
        idx = np.linspace(0, N - 1, min(args.naive, N)).astype(int)
        runs = [naive_loop(torch, spec, x, y, center, directions, coords[idx], dtype, dev)
                for _ in range(args.repeats)]
        t_naive, vnaive = min(runs, key=lambda r: r[0])
        rate_naive = len(idx) / t_naive
        agree = float(np.max(np.abs(vnaive - values[idx]) / np.abs(values[idx])))
        agree_full = float(np.max(np.abs(vfull - values[:nf]) / np.abs(values[:nf])))
        timed = [("slice", N, t_slice, f_slice, agree), ("full", nf, t_full, f_full, agree_full)]
        if dt_name == "float32" and dev.type == "cpu" and args.fused != "no":
            fk = fused_kernel(spec, x, y, required=args.fused == "yes")
            if fk is not None:  # the opt-in fused engine, on the same grid and the same naive sample
                t = time.perf_counter()
                fk.evaluate_chunked(coords[:64], center=center, directions=directions)
                fused_load = time.perf_counter() - t
                t_fused, vfused = best_of(args.repeats, lambda: fk.evaluate_chunked(
                    coords, center=center, directions=directions))
                agree_fused = float(np.max(np.abs(vnaive - vfused[idx]) / np.abs(vfused[idx])))
                timed.append(("slice, fused engine", N, t_fused, f_slice, agree_fused))
                own_rate, own_best = own_tanh_rates(big.numel())
                rates["fused"] = (own_rate, own_best)
        for mode, n_pts, secs, flops, agreement in timed:
            rate = n_pts / secs
            a_rate, a_best = rates["fused"] if "fused" in mode else (act_rate, act_best)
            roof = n_pts * flops / (peak * 1e9) + n_pts * n_act / a_rate  # seconds at the roofline
            gflops = rate * flops / 1e9
            chunk = {"slice": kern.chunk_size(n_pts, "slice", 2),
                     "full": kern.chunk_size(n_pts, "full", 0)}.get(mode, "-")
            rows.append(dict(dtype=dt_name, mode=mode, points=n_pts, chunk=chunk,
                             secs=secs, rate=rate, gflops=gflops, peak=peak, frac=gflops / peak,
                             naive=rate_naive, naive_gflops=rate_naive * f_full / 1e9, ratio=rate / rate_naive,
                             grid_naive_s=N / rate_naive, agree=agreement,
                             roof=roof / secs, ceiling=a_best / (n_act * rate_naive),
                             best_possible=1 / (rate_naive * (flops / (peak * 1e9) + n_act / a_best))))

    threads = torch.get_num_threads()
    try:
        load = "%.1f" % os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = "n/a"
    print(f"## Batched loss kernel — {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}\n")
    print(f"- machine: {device_name}; {os.cpu_count()} logical CPUs; torch {torch.__version__}, "
          f"{threads} intra-op thread(s); load average at the end {load}; python {platform.python_version()}")
    print(f"- network: d={d}, widths {list(widths)}, 1 output, m={m} samples, tanh, MSE; P={P}")
    print(f"- grid: {args.grid}x{args.grid} = {N:,} points of a 2-D slice; matmul FLOPs per point: "
          f"{f_slice:,} (slice kernel), {f_full:,} (full forward)")
    print(f"- naive: per point vector_to_parameters + nn.Sequential forward + F.mse_loss + .item(), "
          f"{min(args.naive, N)} points timed, extrapolated to the grid")
    print(f"- every time is the best of {args.repeats} repeats, kernel and naive alike")
    if fused_load is not None:
        import numba

        print(f"- fused engine (bettibounds.empirical.fused, numba {numba.__version__}, "
              f"{numba.get_num_threads()} thread(s)): first call in this process {fused_load:.2f} s (compiling, or "
              "loading from numba's cache), not in the times; its roofline and ceilings use the rates of the "
              "engine's own float32 tanh (which it uses instead of torch's), measured the same way")
    print()
    print("| dtype | kernel mode | points | chunk | time (s) | points/s | GFLOP/s | matmul peak GFLOP/s "
          "| % of peak | % of roofline | naive points/s | naive GFLOP/s | naive, whole grid (s) | speed-up "
          "| ceiling: tanh alone | max rel. diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['dtype']} | {r['mode']} | {r['points']:,} | {r['chunk']} | {r['secs']:.2f} | {r['rate']:,.0f} "
              f"| {r['gflops']:.1f} | {r['peak']:.1f} | {100 * r['frac']:.0f} % | {100 * r['roof']:.0f} % "
              f"| {r['naive']:,.0f} "
              f"| {r['naive_gflops']:.2f} | {r['grid_naive_s']:.1f} | {r['ratio']:.1f}x | {r['ceiling']:.1f}x "
              f"| {r['agree']:.1e} |")
    print()
    print("Best possible speed-up over the naive loop in this run: the naive time per point over the point's "
          "matmul FLOPs at the matmul peak plus its tanh at the best tanh rate. The torch kernel cannot beat "
          "it (its operations run one after another). For the fused engine it is an estimate, not a bound: "
          "the engine's own tanh overlaps with its products.")
    for r in rows:
        print(f"- {r['dtype']}, {r['mode']}: {r['best_possible']:.1f}x (measured: {r['ratio']:.1f}x, "
              f"{100 * r['ratio'] / r['best_possible']:.0f} % of it)")


if __name__ == "__main__":
    main()
