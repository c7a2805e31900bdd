"""Benchmark of the loss engines against what users would otherwise write. Prints Markdown tables.

Measured in one run, on this machine, in float64 and float32:

1. the network of issue 23 (d = 10, widths 32, 16, one output, m = 256 samples, tanh, MSE,
   P = 897) on a 2-D slice grid of 256 x 256 = 65,536 points (theta = center + t_1 dir_1 +
   t_2 dir_2), evaluated by
   * **naive**: the per-point loop landscape tools do (build theta, ``vector_to_parameters`` into
     a ``torch.nn.Sequential``, forward on the data, ``F.mse_loss(...).item()``), timed on an
     evenly spread sample and extrapolated;
   * **vmap**: plain ``torch.func.vmap`` of a ``functional_call`` loss over blocks of thetas (what
     a user of torch.func would write), on a sample;
   * **torch kernel**: :class:`bettibounds.empirical.kernels.LossKernel` (``evaluate_chunked``,
     slice mode);
   * **fused engine**: :class:`bettibounds.engines.fused.FusedKernel` (needs numba), the engine
     ``engine="auto"`` picks on the CPU;
2. in float64 (the default precision), against the naive loop of the same kind: a BCE classifier
   (the same network with a logistic output, labels 0/1) on the same slice, and a box over all
   4 parameters of a tiny network (examples/tiny_box.json: 1-2-1, tanh, no biases, 2 samples;
   21^4 points, ``mode="full"``), with the torch kernel and the fused engine;
3. the machine's matmul peak (``torch.matmul`` of 2048 x 2048 matrices, best of 5) in each
   precision, with torch's threads; every row's GFLOP/s (the network's matrix-product FLOPs per
   point, :func:`~bettibounds.empirical.kernels.flops_per_point`, times points/s) as a share of it.

Every time is the best of ``--repeats`` (3) runs (the naive loop's rate swings by up to 2x between
runs a minute apart on a shared machine); each row is checked against the fused float64 values
(max relative difference). The load average at the start and at the end is printed: on a shared
machine the figures are provisional. ``--cpu-time`` measures the CPU time of this process instead of
the wall time, with one thread for torch and numba (peak included): per-core rates that a loaded
machine disturbs much less (threads waiting for a core do not count), for comparisons on a shared
machine; the wall-time run with all cores is the figure users see.

Usage: python benchmarks/bench_kernels.py [--threads N] [--cpu-time] [--naive 1000] [--vmap 8192]
       [--repeats 3] [--grid 256] [--widths 32,16] [--fused auto|yes|no]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def matmul_peak(torch, dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of torch.matmul on n x n matrices (best of ``repeats`` after a warm-up)."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    return 2 * n**3 / best_of(repeats, lambda: torch.matmul(a, b))[0] / 1e9


#: the clock of every measurement (time.process_time with --cpu-time)
CLOCK = time.perf_counter


def best_of(repeats: int, fn):
    """(best time, result) of ``repeats`` calls of fn."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        t = CLOCK()
        res = fn()
        dt = CLOCK() - t
        if dt < best:
            best, out = dt, res
    return best, out


def sequential(torch, spec, dtype):
    """The ``nn.Sequential`` of ``spec`` (Linear layers with the spec's biases, its activation)."""
    nn = torch.nn
    act = {"tanh": nn.Tanh, "logistic": nn.Sigmoid}[spec.activation]
    layers, fan_in = [], spec.inputs
    for k, w in enumerate(spec.widths, start=1):
        layers += [nn.Linear(fan_in, w, bias=spec.has_bias(k)), act()]
        fan_in = w
    layers.append(nn.Linear(fan_in, spec.outputs, bias=spec.has_bias(len(spec.widths) + 1)))
    return nn.Sequential(*layers).to(dtype=dtype)


def loss_fn(torch, spec):
    F = torch.nn.functional
    if spec.loss == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out, y, reduction="sum") / len(y)
    return lambda out, y: F.mse_loss(out, y, reduction="sum") / len(y)


def naive_loop(torch, spec, x, y, thetas, dtype):
    """Per-point evaluation the way landscape tools do it: (seconds, values)."""
    nn = torch.nn
    model = sequential(torch, spec, dtype)
    lf = loss_fn(torch, spec)
    xt, yt = torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    th = torch.as_tensor(thetas, dtype=dtype)
    out = np.empty(len(th))
    with torch.no_grad():
        for i in range(min(5, len(th))):  # warm-up
            nn.utils.vector_to_parameters(th[i], model.parameters())
            lf(model(xt), yt).item()
        t = CLOCK()
        for i in range(len(th)):
            nn.utils.vector_to_parameters(th[i], model.parameters())
            out[i] = lf(model(xt), yt).item()
        return CLOCK() - t, out


def vmap_loop(torch, spec, x, y, thetas, dtype, block: int = 1024):
    """``torch.func.vmap`` of a ``functional_call`` loss, over blocks of thetas: (seconds, values)."""
    from torch.func import functional_call, vmap

    model = sequential(torch, spec, dtype)
    lf = loss_fn(torch, spec)
    xt, yt = torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    shapes = [(name, p.shape, p.numel()) for name, p in model.named_parameters()]

    def loss_of(theta):
        params, off = {}, 0
        for name, shape, n in shapes:
            params[name] = theta[off:off + n].view(shape)
            off += n
        return lf(functional_call(model, params, (xt,)), yt)

    batched = vmap(loss_of)
    th = torch.as_tensor(thetas, dtype=dtype)
    out = np.empty(len(th))
    with torch.no_grad():
        batched(th[:8])  # warm-up
        t = CLOCK()
        for s in range(0, len(th), block):
            out[s:s + block] = batched(th[s:s + block]).numpy()
        return CLOCK() - t, out


def fused_kernel(spec, x, y, dtype, required: bool):
    """The fused engine's kernel, or None when numba is missing (an error when ``required``)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        if required:
            raise SystemExit("--fused yes needs numba: pip install -e '.[fast]'") from None
        return None
    from bettibounds.engines.fused import FusedKernel

    return FusedKernel(spec, x, y, dtype=dtype)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover
        return "n/a"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time CPU time with one thread (torch and numba): per-core figures on a loaded machine")
    ap.add_argument("--grid", type=int, default=256, help="points per axis of the 2-D slice grid")
    ap.add_argument("--naive", type=int, default=1000, help="points timed in the naive loop")
    ap.add_argument("--vmap", type=int, default=8192, help="points timed with torch.func.vmap")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of each measurement (best is kept)")
    ap.add_argument("--widths", default="32,16", help="hidden widths (issue 23: 32,16)")
    ap.add_argument("--d", type=int, default=10, help="input dimension")
    ap.add_argument("--m", type=int, default=256, help="samples")
    ap.add_argument("--box-grid", type=int, default=21, help="points per axis of the 4-parameter box")
    ap.add_argument("--fused", choices=("auto", "yes", "no"), default="auto",
                    help="time the fused engine (auto: when numba is installed)")
    args = ap.parse_args(argv)
    load_start = load()

    import torch

    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
        args.threads = 1
        os.environ["NUMBA_NUM_THREADS"] = "1"  # before numba is imported
    if args.threads:
        torch.set_num_threads(args.threads)
    from bettibounds.empirical.experiment import load_experiment
    from bettibounds.empirical.kernels import LossKernel, flops_per_point
    from bettibounds.empirical.sampler import _mesh, grid_axes
    from bettibounds.spec import ArchitectureSpec

    d, widths, m = args.d, tuple(int(w) for w in args.widths.split(",")), args.m
    mse = ArchitectureSpec(inputs=d, widths=widths, activation="tanh", loss="mse", samples=m)
    bce = ArchitectureSpec(inputs=d, widths=widths, activation="tanh", loss="bce", output_activation="sigmoid",
                           samples=m)
    P = mse.n_params
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, d))
    y = np.sin(x.sum(axis=1, keepdims=True))
    labels = (y > 0).astype(float)
    fan_in = np.concatenate([np.full(w * i + w, i) for i, w in zip((d, *widths), (*widths, 1))])
    center = rng.normal(size=P) / np.sqrt(fan_in)  # a LeCun-scaled random network
    directions = rng.normal(size=(2, P)) / np.sqrt(fan_in)
    axis = np.linspace(-1.0, 1.0, args.grid)
    coords = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    N = len(coords)
    f_slice = flops_per_point(mse, "slice", k=2)
    naive_idx = np.linspace(0, N - 1, min(args.naive, N)).astype(int)
    vmap_idx = np.linspace(0, N - 1, min(args.vmap, N)).astype(int)
    thetas = center + coords @ directions
    box_exp = load_experiment(ROOT / "examples" / "tiny_box.json")
    box_pts = _mesh(grid_axes(box_exp.region["low"], box_exp.region["high"], [args.box_grid] * 4))
    box_flops = flops_per_point(box_exp.spec, "full")

    rows, extra, peaks = [], [], {}
    fused_first = {}
    ref64 = None  # the float64 values of the slice (fused engine, else torch kernel): every row's yardstick

    def record(at, name, n_points, secs, values, idx=None, what=rows, flops=f_slice, base=None):
        """One row; ``at`` = (dtype name, its matmul peak, the values the row's agreement is measured against)."""
        dt_name, peak, reference = at
        rate = n_points / secs
        what.append(dict(dtype=dt_name, name=name, points=n_points, secs=secs, rate=rate,
                         gflops=rate * flops / 1e9, frac=rate * flops / 1e9 / peak,
                         agree=None if reference is None else rel(values, reference if idx is None else reference[idx]),
                         base=base))
    for dt_name in ("float64", "float32"):
        dtype = {"float64": torch.float64, "float32": torch.float32}[dt_name]
        peak = peaks[dt_name] = matmul_peak(torch, dtype)
        reference = ref64
        fk = fused_kernel(mse, x, y, dt_name, required=args.fused == "yes") if args.fused != "no" else None

        t_naive, v_naive = min((naive_loop(torch, mse, x, y, thetas[naive_idx], dtype) for _ in range(args.repeats)),
                               key=lambda r: r[0])
        if fk is not None:
            t = time.perf_counter()
            fk.evaluate_chunked(coords[:64], "slice", center=center, directions=directions)
            fused_first[dt_name] = time.perf_counter() - t
            t_f, v_f = best_of(args.repeats, partial(fk.evaluate_chunked, coords, "slice",
                                                     center=center, directions=directions))
            if dt_name == "float64":
                reference = ref64 = v_f
        kern = LossKernel(mse, x, y, device="cpu", dtype=dt_name)
        kern.evaluate_chunked(coords[:2048], "slice", center=center, directions=directions)
        t_k, v_k = best_of(args.repeats, partial(kern.evaluate_chunked, coords, "slice",
                                                 center=center, directions=directions))
        if reference is None:
            reference = ref64 = v_k
        t_v, v_v = min((vmap_loop(torch, mse, x, y, thetas[vmap_idx], dtype) for _ in range(args.repeats)),
                       key=lambda r: r[0])
        record((dt_name, peak, reference), "naive loop", len(naive_idx), t_naive, v_naive, naive_idx)
        record((dt_name, peak, reference), "torch.func.vmap", len(vmap_idx), t_v, v_v, vmap_idx)
        record((dt_name, peak, reference), "torch kernel", N, t_k, v_k)
        if fk is not None:
            record((dt_name, peak, reference), "fused engine", N, t_f, v_f)
        if dt_name == "float64":
            # a BCE classifier and a 4-parameter box, each against its own naive loop
            tb, vb = min((naive_loop(torch, bce, x, labels, thetas[naive_idx], dtype) for _ in range(args.repeats)),
                         key=lambda r: r[0])
            kb = LossKernel(bce, x, labels, device="cpu", dtype=dt_name)
            tkb, vkb = best_of(args.repeats, partial(kb.evaluate_chunked, coords, "slice",
                                                     center=center, directions=directions))
            reference = vkb
            record((dt_name, peak, reference), "BCE: naive loop", len(naive_idx), tb, vb, naive_idx, extra, base="BCE")
            record((dt_name, peak, reference), "BCE: torch kernel", N, tkb, vkb, None, extra, base="BCE")
            if fk is not None:
                fb = fused_kernel(bce, x, labels, dt_name, True)
                tfb, vfb = best_of(args.repeats, partial(fb.evaluate_chunked, coords, "slice",
                                                         center=center, directions=directions))
                record((dt_name, peak, reference), "BCE: fused engine", N, tfb, vfb, None, extra, base="BCE")
            bx = box_exp
            idx = np.linspace(0, len(box_pts) - 1, min(args.naive, len(box_pts))).astype(int)
            tnx, vnx = min((naive_loop(torch, bx.spec, bx.x, bx.y, box_pts[idx], dtype)
                            for _ in range(args.repeats)), key=lambda r: r[0])
            kx = LossKernel(bx.spec, bx.x, bx.y, device="cpu", dtype=dt_name)
            tkx, vkx = best_of(args.repeats, partial(kx.evaluate_chunked, box_pts))
            reference = vkx
            record((dt_name, peak, reference), "box: naive loop", len(idx), tnx, vnx, idx, extra, flops=box_flops,
                   base="box")
            record((dt_name, peak, reference), "box: torch kernel", len(box_pts), tkx, vkx, None, extra,
                   flops=box_flops, base="box")
            if fk is not None:
                fx = fused_kernel(bx.spec, bx.x, bx.y, dt_name, True)
                fx.evaluate_chunked(box_pts[:64], "full")
                tfx, vfx = best_of(args.repeats, partial(fx.evaluate_chunked, box_pts, "full"))
                record((dt_name, peak, reference), "box: fused engine", len(box_pts), tfx, vfx, None, extra,
                       flops=box_flops, base="box")
            reference = ref64

    threads = torch.get_num_threads()
    print(f"## Loss engines — {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}\n")
    print(f"- machine: CPU {cpu_model()}; {os.cpu_count()} logical CPUs; python {platform.python_version()}, "
          f"torch {torch.__version__} ({threads} thread(s)); load average at the start {load_start}, at the end "
          f"{load()}; clock: {'CPU time, one thread' if args.cpu_time else 'wall time'}")
    if fused_first:
        import numba

        print(f"- fused engine: numba {numba.__version__}, {numba.get_num_threads()} thread(s); first call in this "
              "process (compiling, or loading from numba's cache): "
              + ", ".join(f"{k} {v:.2f} s" for k, v in fused_first.items()) + " (not in the times)")
    print(f"- network: d={d}, widths {list(widths)}, 1 output, m={m}, tanh, MSE; P={P}; a {args.grid}x{args.grid} = "
          f"{N:,}-point 2-D slice; {f_slice:,} matrix-product FLOPs per point")
    print(f"- matmul peak (2048^3, best of 5): float64 {peaks['float64']:.1f} GFLOP/s, float32 "
          f"{peaks['float32']:.1f} GFLOP/s")
    print(f"- naive and vmap: {len(naive_idx)} and {len(vmap_idx)} points timed, extrapolated; every time the best "
          f"of {args.repeats}; 'max rel. diff': from the fused float64 engine on the same points\n")
    print("| dtype | evaluator | points/s | speed-up vs naive | GFLOP/s | % of matmul peak | max rel. diff |")
    print("|---|---|---:|---:|---:|---:|---:|")
    naive_rate = {r["dtype"]: r["rate"] for r in rows if r["name"] == "naive loop"}
    for r in rows:
        agree = "-" if r["agree"] is None else f"{r['agree']:.1e}"
        print(f"| {r['dtype']} | {r['name']} | {r['rate']:,.0f} | {r['rate'] / naive_rate[r['dtype']]:.1f}x "
              f"| {r['gflops']:.1f} | {100 * r['frac']:.0f} % | {agree} |")
    print()
    print(f"Against the naive loop of the same kind, float64: a BCE classifier (the same network and slice, labels "
          f"0/1) and a box over the 4 parameters of examples/tiny_box.json ({len(box_pts):,} points, "
          f"{box_flops} FLOPs per point); 'max rel. diff' from the torch kernel\n")
    print("| evaluator | points/s | speed-up vs its naive loop | speed-up of the MSE slice, same evaluator |"
          " max rel. diff |")
    print("|---|---:|---:|---:|---:|")
    base = {r["base"]: r["rate"] for r in extra if r["name"].endswith("naive loop")}
    mse64 = {r["name"]: r["rate"] / naive_rate["float64"] for r in rows if r["dtype"] == "float64"}
    for r in extra:
        same = mse64.get(r["name"].split(": ")[1])
        agree = "-" if r["agree"] is None else f"{r['agree']:.1e}"
        print(f"| {r['name']} | {r['rate']:,.0f} | {r['rate'] / base[r['base']]:.1f}x "
              f"| {'-' if same is None else f'{same:.1f}x'} | {agree} |")
    summary = {"load_start": load_start, "load_end": load(), "peaks": peaks,
               "rows": [{k: v for k, v in r.items()} for r in rows + extra]}
    print("\n<!-- " + json.dumps(summary) + " -->")


if __name__ == "__main__":
    main()
