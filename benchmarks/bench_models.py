"""The model engine against what users of any PyTorch model run today, on the same model and grid.

For each model and one 2-D slice grid, in one process -- ``mlp``: 64-14-10 tanh (P = 1060) and ``cnn``:
Conv2d(1, 8, 3) - tanh - AvgPool2d(2) - Linear(128, 10) (P = 1370), both on scikit-learn's bundled digits (1797
samples of 8 x 8 pixels) with cross entropy; ``cnn2``: a second 8-channel convolution before the pooling
(P = 1954: the first layer is a small share of the work); ``bc``: 30-20-16-1 tanh (P = 973) on the bundled
breast-cancer data (569 samples, standardised) with BCE on logits, the issue's first example:

* ``engine``: :class:`bettibounds.engines.model_engine.ModelEngine` (``evaluate_chunked`` in slice
  mode: vmap over chunks, with the slice trick);
* ``engine, unblocked``: the same engine with ``sample_block=0`` (each point's samples in one pass, the
  engine before sample blocking: what the blocks gain, in the same run);
* ``engine, unfused``: the same engine with ``fused_first=False`` (the slice trick's table product, the
  activation and the pooling as separate torch passes, the engine before the fused first layer of
  :mod:`bettibounds.engines.model_fused_first`: what the fusion gains, in the same run);
* ``engine, torch acts``: the same engine with ``fast_activations=False`` (torch's own tanh and
  sigmoid instead of the fused engine's vector functions: what those gain);
* ``auto``: the kernel ``engine="auto"`` uses for the model experiment (``make_kernel`` of an
  ``experiment_from_model`` on the same slice): the fused engine for a recognised tanh / logistic MLP
  with mse or bce_with_logits (``bc``), else the model engine (the row is then the engine's again);
* ``engine, no trick``: the same engine with ``slice_trick=False`` (what the trick alone gains);
* ``engine, compiled``: the engine with ``compile=True`` (``torch.compile`` of the batched loss;
  the rate after compilation, whose time -- the first engine's, in this process -- is in the note);
* ``vmap``: plain ``torch.func.vmap`` of ``functional_call`` over the unblocked engine's chunks of parameter
  vectors theta = c + t @ D, without the slice trick (what a user who knows torch.func writes);
* ``loop``: a per-point torch loop (``vector_to_parameters`` into the model, forward, loss);
* ``loop after first``: the same loop over the layers after the first parametrised one, whose output
  is precomputed outside the timing: the per-point work that remains for any slice method, so
  loop / this bounds what the slice trick can gain over a per-point loop;
* ``torch.tanh alone``: ``torch.tanh`` on one point's inputs of every ``nn.Tanh`` of the model (on
  the same data): a bound on the rate of any method that evaluates the model's tanh with torch's
  kernel, one point at a time or batched (the CNNs' 920 000 activations per point);
* ``fast tanh alone``: the same with the model engine's fast tanh
  (:mod:`bettibounds.engines.fast_activations`), which the engine uses;
* ``loss-landscapes``: ``loss_landscapes.random_plane`` (pip package loss-landscapes 3.0.6, which
  evaluates one point at a time through its model wrapper), on a grid of the same size; skipped,
  with a note, when the package is missing.

Each method runs on the same number of points (the grid, or ``--loop-points`` of it for the two
per-point methods, whose rate is then extrapolated: they have no per-call state); the methods take
turns ``--repeat`` times and each keeps its best time (the machine may be shared); the table gives
points per second and the ratio of the engine's rate to each. The engine's values are checked
against the loop's at those points (max relative difference). The memory check runs the engine in
child processes on two grids, 16x apart in points, and reports the peak resident memory of each:
bounded by the chunk, it does not grow with the grid.

The script sets ``OMP_WAIT_POLICY=passive`` (unless set) before torch and numba load: after the fused
engine (the ``auto`` row of ``bc``) has run, GNU OpenMP's idle worker threads otherwise spin and slowed
the torch methods timed after it in the same process 4-8x on the 2-core development machine.

Usage: python benchmarks/bench_models.py [--grid 41] [--dtype float32] [--threads N] [--no-memory] [--no-compile]
Writes nothing itself (``compile=True`` fills torch's own inductor cache, TORCHINDUCTOR_CACHE_DIR, by
default /tmp/torchinductor_$USER; --no-compile skips it).
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# before torch and numba start OpenMP (see the module docstring)
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model  # noqa: E402


def digits(dtype):
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x / 16.0, dtype=dtype), torch.tensor(y, dtype=torch.int64)


def breast_cancer(dtype):
    """scikit-learn's bundled breast-cancer data (569 x 30), standardised; labels as (m, 1) floats."""
    import torch
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype).reshape(-1, 1)


#: model -> (data, loss name, torch loss)
SETUPS = {"mlp": ("digits", "cross_entropy"), "cnn": ("digits", "cross_entropy"), "cnn2": ("digits", "cross_entropy"),
          "cnn_small": ("digits", "nll"), "bc": ("breast_cancer", "bce_with_logits")}


def data_for(name, dtype):
    return digits(dtype) if SETUPS[name][0] == "digits" else breast_cancer(dtype)


def torch_loss(name):
    import torch

    return {"cross_entropy": torch.nn.CrossEntropyLoss, "nll": torch.nn.NLLLoss,
            "bce_with_logits": torch.nn.BCEWithLogitsLoss}[SETUPS[name][1]]()


def models(dtype):
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    bc = nn.Sequential(nn.Linear(30, 20), nn.Tanh(), nn.Linear(20, 16), nn.Tanh(), nn.Linear(16, 1))  # P = 973
    mlp = nn.Sequential(nn.Linear(64, 14), nn.Tanh(), nn.Linear(14, 10))  # P = 1060
    cnn = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(8 * 4 * 4, 10))  # P = 1370
    cnn2 = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))  # P = 1954: the first layer is a smaller share of the work
    # a new user's CNN (session 5's trial): no padding, sigmoid, a log-softmax head with nll
    cnn_small = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 6, 3), nn.Sigmoid(), nn.AvgPool2d(2),
                              nn.Flatten(), nn.Linear(6 * 3 * 3, 10), nn.LogSoftmax(dim=1))  # P = 610
    return {"mlp": mlp.eval().to(dtype), "cnn": cnn.eval().to(dtype), "cnn2": cnn2.eval().to(dtype),
            "cnn_small": cnn_small.eval().to(dtype), "bc": bc.eval().to(dtype)}


def directions(model, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    c = torch.nn.utils.parameters_to_vector(model.parameters()).detach().double()
    D = torch.randn(2, c.numel(), generator=g, dtype=torch.float64) * 0.1
    return c.numpy(), D.numpy()


def run_engine(model, x, y, c, D, t, dtype, trick=True, loss="cross_entropy", compile=False, fast=True,
               sample_block=None, fused=True):
    from bettibounds.engines.model_engine import ModelEngine, ModelProblem

    eng = ModelEngine(ModelProblem(model, loss), x, y, device="cpu", dtype=dtype, slice_trick=trick, compile=compile,
                      fast_activations=fast, sample_block=sample_block, fused_first=fused)
    eng.evaluate_chunked(t[:8], "slice", center=c, directions=D)  # warm-up (compile=True: compiles)
    t0 = time.perf_counter()
    v = eng.evaluate_chunked(t, "slice", center=c, directions=D)
    return v, time.perf_counter() - t0, eng


def run_auto(model, x, y, c, D, t, dtype, loss):
    """The kernel engine="auto" picks for the model experiment on this slice (numba's threads set to
    torch's, so that the comparison is at the same thread count)."""
    from bettibounds.empirical import experiment_from_model
    from bettibounds.empirical.sampler import make_kernel

    exp = experiment_from_model(model, x, y, loss=loss, grid=[2, 2], region={
        "kind": "slice", "center": list(c), "directions": [list(d) for d in D], "low": [-1, -1], "high": [1, 1]})
    kernel = make_kernel(exp, dtype=dtype)
    threads = None
    if kernel.engine == "fused":
        import numba
        import torch

        threads = numba.get_num_threads()
        numba.set_num_threads(min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    try:
        kernel.evaluate_chunked(t[:8], "slice", center=c, directions=D)  # warm-up (fused: loads the kernel)
        t0 = time.perf_counter()
        v = kernel.evaluate_chunked(t, "slice", center=c, directions=D)
        sec = time.perf_counter() - t0
    finally:
        if threads is not None:
            numba.set_num_threads(threads)
    return v, sec, kernel


def run_vmap(model, x, y, c, D, t, chunk, loss_fn):
    import torch
    from torch.func import functional_call, vmap

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    dt = next(model.parameters()).dtype

    def loss(theta):
        params = {n: piece.view(s) for n, piece, s in zip(names, theta.split(sizes), shapes)}
        return loss_fn(functional_call(model, params, (x,)), y)

    basis = torch.as_tensor(np.vstack([c, D]), dtype=dt)
    tt = torch.as_tensor(t, dtype=dt)
    out = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(t), chunk):
            tb = tt[s:s + chunk]
            th = torch.cat([torch.ones(len(tb), 1, dtype=dt), tb], 1) @ basis
            out.append(vmap(loss)(th))
    return torch.cat(out).double().numpy(), time.perf_counter() - t0


def run_loop(model, x, y, c, D, t, loss_fn):
    import torch
    from torch.nn.utils import vector_to_parameters

    m = copy.deepcopy(model)
    dt = next(m.parameters()).dtype
    out = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for ti in t:
            vector_to_parameters(torch.as_tensor(c + ti @ D, dtype=dt), m.parameters())
            out.append(float(loss_fn(m(x), y)))
    return np.array(out), time.perf_counter() - t0


#: model -> index of its first parametrised layer in the Sequential
FIRST = {"mlp": 0, "cnn": 1, "cnn2": 1, "cnn_small": 1, "bc": 0}


def run_rest_loop(name, model, x, y, c, D, t, loss_fn):
    """The per-point loop over the layers after the first, whose output is precomputed at each point
    (the slice trick's share, done outside the timing): the per-point work any slice method still has
    to do. loop / this = the most the trick can gain over a per-point loop."""
    import torch
    from torch.nn.utils import vector_to_parameters

    m = copy.deepcopy(model)
    dt = next(m.parameters()).dtype
    k = FIRST[name]
    head, rest = m[:k + 1], m[k + 1:]
    zs = []
    with torch.no_grad():
        for ti in t:
            vector_to_parameters(torch.as_tensor(c + ti @ D, dtype=dt), m.parameters())
            zs.append(head(x))
    out = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for ti, z in zip(t, zs):
            vector_to_parameters(torch.as_tensor(c + ti @ D, dtype=dt), m.parameters())
            out.append(float(loss_fn(rest(z), y)))
    return np.array(out), time.perf_counter() - t0


def run_tanh(model, x, fast=False):
    """Seconds of torch's activation (``fast``: the model engine's fast one) on one point's inputs of every
    nn.Tanh and nn.Sigmoid of the model (the rows say "tanh"; cnn_small's activation is the logistic)."""
    import torch

    funcs = {torch.nn.Tanh: torch.tanh, torch.nn.Sigmoid: torch.sigmoid}
    if fast:
        from bettibounds.engines.fast_activations import fast_logistic, fast_tanh

        funcs = {torch.nn.Tanh: fast_tanh, torch.nn.Sigmoid: fast_logistic}
    inputs = []
    hooks = [mod.register_forward_hook(lambda m, inp, _out: inputs.append((funcs[type(m)], inp[0].clone())))
             for mod in model.modules() if type(mod) in funcs]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        for f, a in inputs:
            f(a)
    return (time.perf_counter() - t0) / reps


def run_loss_landscapes(model, x, y, steps, loss_fn):
    try:
        import loss_landscapes
        import loss_landscapes.metrics as metrics
    except ImportError:
        return None
    import torch

    metric = metrics.Loss(loss_fn, x, y)
    t0 = time.perf_counter()
    with torch.no_grad():
        loss_landscapes.random_plane(model, metric, distance=1, steps=steps, normalization="filter",
                                     deepcopy_model=True)
    return time.perf_counter() - t0


def memory_probe(name: str, grid: int, dtype_name: str) -> int:
    """Peak resident memory (KiB) of this process after the engine ran on grid x grid points."""
    import torch

    dt = {"float32": torch.float32, "float64": torch.float64}[dtype_name]
    x, y = data_for(name, dt)
    model = models(dt)[name]
    c, D = directions(model)
    ax = np.linspace(-1, 1, grid)
    t = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    run_engine(model, x, y, c, D, t, dtype_name, loss=SETUPS[name][1])
    return peak_rss_kib()


def peak_rss_kib() -> int:
    """This process's peak resident memory (KiB): VmHWM, where Linux has it. (Not ru_maxrss: Linux
    carries the forked parent's peak across exec into it, so a child of a large parent reports the
    parent's size whatever it does itself.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=41, help="points per axis of the 2-D slice (default 41)")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--loop-points", type=int, default=200,
                    help="points timed for the per-point loop and loss-landscapes (rate extrapolated)")
    ap.add_argument("--models", default="mlp,cnn,cnn_small,cnn2,bc")
    ap.add_argument("--repeat", type=int, default=3, help="runs per method, taking turns; the best counts")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory check (two child processes)")
    ap.add_argument("--no-compile", action="store_true", help="skip the engine with compile=True (it compiles "
                                                                 "for tens of seconds per model)")
    ap.add_argument("--memory-probe", nargs=2, metavar=("MODEL", "GRID"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(memory_probe(args.memory_probe[0], int(args.memory_probe[1]), args.dtype))
        return
    dt = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    print(f"# bench_models  {_dt.datetime.now().isoformat(timespec='minutes')}  {cpu_model()}  torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}, "
          f"grid {args.grid}x{args.grid}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load average "
          f"{os.getloadavg()[0]:.1f}")
    header = f"{'model':<9} {'P':>5} {'method':<18} {'points':>6} {'pt/s':>9} {'engine x':>9}  note"
    print(header)
    ax = np.linspace(-1, 1, args.grid)
    t = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    for name in args.models.split(","):
        x, y = data_for(name, dt)
        loss, loss_fn = SETUPS[name][1], torch_loss(name)
        model = models(dt)[name]
        c, D = directions(model)
        n = min(args.loop_points, len(t))
        idx = np.linspace(0, len(t) - 1, n).astype(int)
        steps = max(2, int(round(np.sqrt(n))))
        best: dict = {}
        # the methods take turns, --repeat times; each keeps its best time (the machine is shared)
        compile_s = None
        for _ in range(args.repeat):
            v, sec, eng = run_engine(model, x, y, c, D, t, args.dtype, loss=loss)
            best["engine"] = min(best.get("engine", np.inf), sec)
            vu, sec_u, eng_u = run_engine(model, x, y, c, D, t, args.dtype, loss=loss, fused=False)
            best["engine, unfused"] = min(best.get("engine, unfused", np.inf), sec_u)
            if not args.no_compile:
                vc, sec_c, eng_c = run_engine(model, x, y, c, D, t, args.dtype, loss=loss, compile=True)
                compile_s = getattr(eng_c, "compile_seconds", None) if compile_s is None else compile_s
                best["engine, compiled"] = min(best.get("engine, compiled", np.inf), sec_c)
            v0, sec0, eng0 = run_engine(model, x, y, c, D, t, args.dtype, loss=loss, sample_block=0)
            chunk = eng0.chunk_size(len(t), "slice", 2)  # vmap's chunks: the unblocked engine's (as before blocks)
            best["engine, unblocked"] = min(best.get("engine, unblocked", np.inf), sec0)
            best["engine, torch acts"] = min(best.get("engine, torch acts", np.inf),
                                             run_engine(model, x, y, c, D, t, args.dtype, loss=loss, fast=False)[1])
            va, sec_a, kern_a = run_auto(model, x, y, c, D, t, args.dtype, loss)
            best["auto"] = min(best.get("auto", np.inf), sec_a)
            best["torch.tanh alone"] = min(best.get("torch.tanh alone", np.inf), run_tanh(model, x))
            best["fast tanh alone"] = min(best.get("fast tanh alone", np.inf), run_tanh(model, x, fast=True))
            best["engine, no trick"] = min(best.get("engine, no trick", np.inf),
                                           run_engine(model, x, y, c, D, t, args.dtype, False, loss)[1])
            best["vmap"] = min(best.get("vmap", np.inf), run_vmap(model, x, y, c, D, t, chunk, loss_fn)[1])
            ref, sec_l = run_loop(model, x, y, c, D, t[idx], loss_fn)
            best["loop"] = min(best.get("loop", np.inf), sec_l)
            sec_rest = run_rest_loop(name, model, x, y, c, D, t[idx], loss_fn)[1]
            best["loop after first"] = min(best.get("loop after first", np.inf), sec_rest)
            sec_ll = run_loss_landscapes(model, x, y, steps, loss_fn)
            if sec_ll is not None:
                best["loss-landscapes"] = min(best.get("loss-landscapes", np.inf), sec_ll)
        err = float(np.max(np.abs(v[idx] - ref) / np.maximum(np.abs(ref), 1e-300)))
        err0 = float(np.max(np.abs(v0[idx] - ref) / np.maximum(np.abs(ref), 1e-300)))
        err_a = float(np.max(np.abs(va[idx] - ref) / np.maximum(np.abs(ref), 1e-300)))
        err_u = float(np.max(np.abs(vu[idx] - ref) / np.maximum(np.abs(ref), 1e-300)))
        rate = len(t) / best["engine"]
        comp = "" if args.no_compile else (
            f"compile {compile_s:.0f} s, max rel diff vs loop {np.max(np.abs(vc[idx] - ref) / np.abs(ref)):.1e}"
            if eng_c.compiled else f"not compiled: {eng_c.compile_reason}")
        rows = [("engine", len(t), f"chunk {eng.chunk_size(len(t), 'slice', 2)} points, slice trick from "
                                   f"{eng.slice_trick}; activations: "
                                   f"{'fast' if eng.activations_reason is None else eng.activations_reason}; "
                                   f"sample blocks: {eng.sample_blocks or eng.sample_blocks_reason}; fused first "
                                   f"layer: {eng.fused_first or eng.fused_first_reason}"),
                ("engine, unfused", len(t), f"fused_first=False, chunk {eng_u.chunk_size(len(t), 'slice', 2)} points; "
                                            f"max rel diff vs loop {err_u:.1e}"),
                ("engine, unblocked", len(t), f"sample_block=0, chunk {chunk} points; "
                                              f"max rel diff vs loop {err0:.1e}"),
                ("engine, torch acts", len(t), "fast_activations=False (torch's tanh/sigmoid)"),
                ("auto", len(t), f"engine {kern_a.engine}; max rel diff vs loop {err_a:.1e}"),
                ("engine, compiled", len(t), f"compile=True; {comp}"),
                ("engine, no trick", len(t), "the engine with slice_trick=False"),
                ("vmap", len(t), "plain vmap of functional_call + the torch loss, the unblocked engine's chunks"),
                ("loop", n, f"max rel diff engine vs loop {err:.1e}"),
                ("loss-landscapes", steps * steps, "random_plane, filter normalisation"),
                ("torch.tanh alone", 1, "torch's tanh/sigmoid on one point's activation inputs: bounds an eager "
                                        "method's rate"),
                ("fast tanh alone", 1, "the engine's fast tanh/logistic on the same inputs: bounds the engine's rate"),
                ("loop after first", n, "per-point loop of the layers after the first (its output precomputed): "
                                        "loop / this bounds the trick's gain")]
        for method, pts, note in rows:
            if method not in best:
                if method == "engine, compiled":
                    continue
                print(f"{name:<9} {eng.n_params:>5} {method:<18} {'-':>6} {'-':>9} {'-':>9}  not installed "
                      "(pip install loss-landscapes)")
                continue
            r = pts / best[method]
            print(f"{name:<9} {eng.n_params:>5} {method:<18} {pts:>6} {r:>9.1f} {rate / r:>9.2f}  {note}")
        print(f"{name:<9} data {SETUPS[name][0]} (m = {len(x)}), loss {loss}")
    if not args.no_memory:
        name = args.models.split(",")[0]
        small, large = max(5, args.grid // 4), args.grid
        peaks = []
        for g in (small, large):
            cmd = [sys.executable, __file__, "--memory-probe", name, str(g), "--dtype", args.dtype]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            peaks.append(int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()))
        print(f"memory ({name}): peak RSS {peaks[0] / 1024:.0f} MiB for {small}^2 points, {peaks[1] / 1024:.0f} MiB "
              f"for {large}^2 points")


if __name__ == "__main__":
    main()
