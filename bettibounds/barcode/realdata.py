"""The loss-barcode papers' two observations, measured on real data with the 2020 protocol.

Barannikov et al. (2019, 2020) report (1) that the barcode of minima and the TO-score decrease as
networks get wider and deeper, and (2) that in certain situations the length of a minimum's
segment goes with its generalisation error. This module measures both on scikit-learn's bundled
data sets (``digits``: 8x8 images, 10 classes; ``breast_cancer``: 30 features, 2 classes), with
the minima-graph protocol of :mod:`bettibounds.barcode.minima`:

* for each architecture (tanh MLP, widths h, depths L) and seed: a train/test split of the data
  (the seed's), N starts drawn like PyTorch's default ``nn.Linear`` initialisation
  (U(+-1/sqrt(fan_in)) for weights and biases), N full-batch Adam descents on the training MSE
  (one-hot targets; cosine-decayed rate scaled by sqrt(16 / width); the gradient norm at every
  minimum recorded), the minima replaced by their canonical representatives under the symmetry
  group (:mod:`bettibounds.barcode.quotient`), all pairs joined by string-method paths each
  stopped by the convergence test of :mod:`bettibounds.barcode.relax` (its record kept), and the
  barcode read from the minimax over the graph of minima (the direct reading of the 2020 paper
  alongside);
* the TO-score of a run is the sum of its finite segment lengths; per architecture, the mean over
  seeds with a 95% Student-t confidence interval;
* the verdicts are computed from the rows by rules stated in :func:`trend_verdict` and
  :func:`generalisation_verdict` -- never asserted; the trend verdict compares only architectures
  whose paths converged (:data:`CONVERGED_SHARE`).

scikit-learn is needed only to load the data (``pip install scikit-learn``, in the ``[test]`` and
``[empirical]`` extras).
"""

from __future__ import annotations

import functools
import json
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lib.extras import install_hint
from ..errors import InvalidSpecError, MissingExtraError
from ..spec import ArchitectureSpec
from .evaluate import as_evaluator, torch_threads
from .sweep_jobs import job_size, processes_within_memory, read_checkpoint

if TYPE_CHECKING:
    from ..engines.torch_kernel import LossKernel
    from .backprop import MLPEvaluator

__all__ = ["DATASETS", "TREND_CONFIGS", "load_dataset", "run_architecture", "to_score_trend", "trend_verdict",
           "generalisation_verdict", "mean_ci95", "default_init", "descent_lr", "CONVERGED_SHARE", "MIN_SEEDS",
           "format_mean_ci", "unmeasurable"]

DATASETS: tuple[str, ...] = ("digits", "breast_cancer")

#: the report's configurations: ``tiny`` (tests), ``quick`` (section of the quick report) and ``full`` (the
#: sweep). ``lr`` is the rate at width 16; at width h the descents use lr * sqrt(16 / h) (``lr_width_scaled``:
#: Adam moves every coordinate by about lr, and a width-h layer's weights start at scale 1/sqrt(h), so this keeps
#: the step relative to the weights; with 0.02 at every width, digits 256 x 4 stalled at loss 0.899 -- the
#: constant predictor -- in all five runs, docs/benchmarks.md). ``fast_dtype``: the steps of the descents and of
#: the relaxation in float32; every loss and level reported is measured in float64.
TREND_CONFIGS = {
    "tiny": {"datasets": ("digits",), "archs": ((16, 1), (32, 1)), "seeds": 2, "runs": 3, "n_train": 64,
             "steps": 60, "lr": 0.02, "lr_width_scaled": True, "schedule": "cosine", "images": 4, "iterations": 20,
             "dense": 3, "method": "adam", "rtol": 0.05, "atol": 1e-3},
    # adaptive resolution (3 -> 7 -> 15 -> 31 -> 63 images, 300 iterations per resolution): at 8 fixed images 3 of
    # 240 paths converged on a reduced grid, adaptively 239 (218 up to 31), for 5.7 x the gradients (docs/benchmarks.md)
    "quick": {"datasets": ("digits",), "archs": ((16, 1), (64, 1), (16, 2), (64, 2)), "seeds": 3, "runs": 4,
              "n_train": 96, "steps": 400, "lr": 0.02, "lr_width_scaled": True, "schedule": "cosine", "images": 3,
              "max_images": 63, "iterations": 300, "dense": 3, "check_every": 10, "method": "adam", "rtol": 0.05,
              "atol": 1e-3, "fast_dtype": "float32"},
    # widths 16, 64, 256 (16 to 256 in steps of 4 x) at every depth 1 to 4, both data sets, with the quick
    # configuration's adaptive paths: with fixed 8-image paths (the measured 77-minute sweep) 0-13 of 50 paths per
    # architecture converged and no comparison could count; with these 1 173 of 1 200 did. Measured 2026-12-07:
    # 13 606 CPU s over the 120 jobs (about 100 min on 2 idle cores), the largest jobs (256 x 4) 434-874 CPU s and
    # up to about 4.9 GB each (docs/benchmarks.md, "The adaptive full sweep, measured")
    "full": {"datasets": ("digits", "breast_cancer"),
             "archs": tuple((h, L) for L in (1, 2, 3, 4) for h in (16, 64, 256)),
             "seeds": 5, "runs": 5, "n_train": 128, "steps": 600, "lr": 0.02, "lr_width_scaled": True,
             "schedule": "cosine", "images": 3, "max_images": 63, "iterations": 300, "dense": 3, "check_every": 10,
             "method": "adam",
             "rtol": 0.05, "atol": 1e-3, "fast_dtype": "float32"},
}


def descent_lr(cfg: dict, width: int) -> float:
    """The descents' learning rate at ``width`` (``cfg["lr"]`` at width 16, see ``TREND_CONFIGS``)."""
    return float(cfg["lr"]) * (math.sqrt(16.0 / width) if cfg.get("lr_width_scaled") else 1.0)


def load_dataset(name: str, *, n_train: int, seed: int):
    """``(x_train, y_train, x_test, y_test, info)`` of a bundled scikit-learn data set.

    Features are scaled with the training split's statistics (digits: pixel values / 16;
    breast cancer: standardised); targets are one-hot (digits, 10 columns) or 0/1 (breast cancer,
    1 column). The split is a seeded permutation: ``n_train`` training points, the rest held out.
    """
    if name not in DATASETS:
        raise InvalidSpecError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")
    x, labels = bundled_data(name)
    x = x.copy()
    if not (1 <= n_train < x.shape[0]):
        raise InvalidSpecError(f"n_train must be in [1, {x.shape[0] - 1}] for {name}, got {n_train}")
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    tr, te = perm[:n_train], perm[n_train:]
    if name == "digits":
        x = x / 16.0
        y = np.eye(10)[labels]
    else:
        mu, sd = x[tr].mean(0), x[tr].std(0)
        x = (x - mu) / np.where(sd > 0, sd, 1.0)
        y = labels[:, None].astype(np.float64)
    info = {"dataset": name, "n_train": int(n_train), "n_test": int(len(te)), "features": int(x.shape[1]),
            "classes": int(labels.max() + 1), "split_seed": int(seed)}
    return x[tr], y[tr], x[te], y[te], info


@functools.cache
def bundled_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of scikit-learn's bundled ``digits`` or ``breast_cancer`` data set.

    Read from the CSV files scikit-learn ships, located without importing scikit-learn (its import
    pulls in scipy.stats and more: seconds per worker process); the same arrays as
    ``sklearn.datasets.load_digits()`` / ``load_breast_cancer()`` (tests/empirical compares them).
    Cached per process; the arrays are read-only.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise MissingExtraError("the [empirical] extra is needed for the real-data reproduction (scikit-learn, "
                                f"for its bundled data sets, is missing): {install_hint('empirical')}",
                                extra="empirical", name="sklearn")
    folder = Path(spec.origin).parent / "datasets" / "data"
    try:
        if name == "digits":
            raw = np.loadtxt(folder / "digits.csv.gz", delimiter=",")
            x, y = raw[:, :-1], raw[:, -1]
        else:
            raw = np.loadtxt(folder / "breast_cancer.csv", delimiter=",", skiprows=1)
            x, y = raw[:, :-1], raw[:, -1]
    except OSError:  # a scikit-learn that moved its files: ask it
        from sklearn import datasets

        b = datasets.load_digits() if name == "digits" else datasets.load_breast_cancer()
        x, y = b.data, b.target
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def default_init(spec, n: int, rng) -> np.ndarray:
    """``n`` parameter vectors drawn like PyTorch's default ``nn.Linear`` initialisation:
    weights and biases of a layer with fan-in f uniform on [-1/sqrt(f), 1/sqrt(f)]."""
    from ..pfaffian.network import build_params

    layers, _ = build_params(spec, lambda p: p)
    out = np.empty((n, spec.n_params))
    for w_index, b in layers:  # the positions of the layer's weights and biases in the vector
        W = np.asarray(w_index, dtype=np.int64)
        bound = 1.0 / math.sqrt(W.shape[1])
        out[:, W.reshape(-1)] = rng.uniform(-bound, bound, size=(n, W.size))
        if b is not None:
            out[:, np.asarray(b, dtype=np.int64)] = rng.uniform(-bound, bound, size=(n, len(b)))
    return out


def _predict(spec, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Network outputs (m, outputs) at one parameter vector (numpy; tanh hidden layers)."""
    from ..pfaffian.network import build_params

    layers, _ = build_params(spec, lambda p: p)
    a = x
    for W, b in layers[:-1]:
        z = a @ theta[np.asarray(W)].T + (0.0 if b is None else theta[np.asarray(b)])
        a = np.tanh(z)
    W, b = layers[-1]
    return a @ theta[np.asarray(W)].T + (0.0 if b is None else theta[np.asarray(b)])


def _test_error(spec, theta, x, y) -> float:
    out = _predict(spec, theta, x)
    if y.shape[1] == 1:
        return float(np.mean((out[:, 0] > 0.5) != (y[:, 0] > 0.5)))
    return float(np.mean(out.argmax(1) != y.argmax(1)))


def run_architecture(dataset: str, width: int, depth: int, seed: int, cfg: dict, *, device="cpu",
                     dtype: str = "float64", threads: int | None = 1) -> dict:
    """One (data set, width, depth, seed): minima, their minima-graph barcode, test errors.

    On the CPU the losses and gradients come from :class:`~bettibounds.barcode.backprop.MLPEvaluator`
    (hand-written batched backpropagation; 2.7 x faster than autograd through the kernel at
    width 256, depth 4), elsewhere from the torch kernel. ``threads``: torch threads for the job
    (default 1: a sweep runs one job per core, and a second thread per job cost up to 28 x the CPU
    time on a loaded 2-core machine, docs/benchmarks.md; None leaves torch's setting).
    """
    x, y, xt, yt, info = load_dataset(dataset, n_train=cfg["n_train"], seed=seed)
    spec = ArchitectureSpec(inputs=x.shape[1], widths=(int(width),) * int(depth), activation="tanh",
                            outputs=y.shape[1], samples=x.shape[0])
    with torch_threads(threads):
        return _run(spec, dataset, width, depth, seed, cfg, x, y, xt, yt, info, device, dtype)


def _run(spec, dataset, width, depth, seed, cfg, x, y, xt, yt, info, device, dtype) -> dict:
    import warnings

    from .minima import descend, minima_graph_barcode
    from .sampling import BarcodeWarning

    t0 = time.perf_counter()
    c0 = time.process_time()
    fast = None
    ev: MLPEvaluator | LossKernel
    if str(device) == "cpu":
        from .backprop import MLPEvaluator

        ev = MLPEvaluator(spec, x, y, dtype=dtype)
        if cfg.get("fast_dtype") and cfg["fast_dtype"] != dtype:
            # the steps in lower precision (1.3-3 x faster); every level reported is measured with ev
            fast = MLPEvaluator(spec, x, y, dtype=cfg["fast_dtype"])
    else:
        from ..engines.torch_kernel import LossKernel

        ev = LossKernel(spec, x, y, device=device, dtype=dtype)
    rng = np.random.default_rng([seed, width, depth])
    starts = default_init(spec, cfg["runs"], rng)
    minima, _ = descend(fast or ev, starts, steps=cfg["steps"], lr=descent_lr(cfg, width),
                        schedule=cfg.get("schedule", "constant"))
    t_descent = time.perf_counter() - t0
    with warnings.catch_warnings():
        # the sweep records every path's convergence in its rows (and the report counts them); a warning per
        # job from the worker processes would repeat that on stderr
        warnings.simplefilter("ignore", BarcodeWarning)
        mg = minima_graph_barcode(ev, minima, spec=spec, quotient="canonical", images=cfg["images"],
                                  iterations=cfg["iterations"], dense=cfg["dense"],
                                  check_every=cfg.get("check_every", 5), method=cfg.get("method", "adam"),
                                  step=cfg.get("step"),
                                  rtol=cfg.get("rtol", 0.05), atol=cfg.get("atol", 1e-3), fast=fast,
                                  max_images=cfg.get("max_images"))
    # how stationary the minima are: the gradient norm at each (relative to the loss's own scale)
    grad_norms = np.linalg.norm(as_evaluator(ev).values_and_gradients(mg.minima)[1], axis=1)
    errors = [_test_error(spec, th, xt, yt) for th in mg.minima]
    conv = mg.meta["convergence"]
    segments = [{"loss": float(v), "segment": float(d - v), "direct_segment": float(dd - v),
                 "test_error": e, "death_path_converged": conv["death_path_converged"].get(i)}
                for i, (v, d, dd, e) in enumerate(zip(mg.values, mg.graph_deaths, mg.direct_deaths, errors))
                if math.isfinite(d)]
    statuses: dict[str, int] = {}
    for p in conv["paths"]:
        statuses[p["status"]] = statuses.get(p["status"], 0) + 1
    return {"dataset": dataset, "width": int(width), "depth": int(depth), "seed": int(seed),
            "P": int(spec.n_params), "runs": int(cfg["runs"]), "n_minima": int(mg.values.shape[0]),
            "to_score": mg.to_score("sum", "graph"), "to_score_direct": mg.to_score("sum", "direct"),
            "readings_differ": len(mg.differences), "min_loss": float(mg.values.min()),
            "to_score_half_budget": conv.get("to_score_half"),
            "paths": int(conv["paths_total"]), "paths_converged": int(conv["converged"]),
            "paths_resolved": sum(bool(p["resolved"]) for p in conv["paths"]),
            "path_statuses": statuses,
            "path_iterations": [int(p["iterations"]) for p in conv["paths"]],
            "path_images": [p["images"] for p in conv["paths"]],
            "path_gradient_evaluations": [p["gradient_evaluations"] for p in conv["paths"]],
            "path_reasons": [p["reason"] for p in conv["paths"]],
            "path_resolution_levels": [p["resolution_levels"] for p in conv["paths"]],
            "max_grad_norm": float(grad_norms.max()), "mean_loss": float(mg.values.mean()),
            "test_error_best": errors[int(np.argmin(mg.values))],
            "segments": segments, "quotient_degenerate": mg.meta["quotient"]["degenerate_points"],
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "descent_seconds": t_descent, **{k: info[k] for k in ("n_train", "n_test")}}


def mean_ci95(values) -> tuple[float, list[float]]:
    """Mean and 95% Student-t confidence interval [lo, hi] (a point interval for one value).

    The t-interval is symmetric about the mean: for a quantity that cannot be negative (a TO-score)
    its lower end can fall below 0, and with two values its half-width is 12.7 standard errors.
    Tables print it through :func:`format_mean_ci`, which says so; the trend verdict compares only
    rows with at least :data:`MIN_SEEDS` values.
    """
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, [m, m]
    from scipy.stats import t

    half = float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, [m - half, m + half]


#: a row's interval enters the trend verdict only with at least this many seeds: with 2 the 95%
#: t-interval is +-12.7 standard errors (t(0.975, 1) = 12.706), wide enough to say almost nothing
MIN_SEEDS = 3


def format_mean_ci(mean: float, ci, seeds: int, *, non_negative: bool = True) -> str:
    """A mean and its 95% t-interval for a table, honest about what the interval is.

    Fewer than :data:`MIN_SEEDS` seeds: the mean alone, and why no interval is shown; a lower end
    below 0 for a quantity that cannot be negative: the interval as computed, marked as the
    Student-t interval (its part below 0 is an artefact of the symmetric approximation).
    """
    if seeds < MIN_SEEDS:
        return f"{mean:.4g} (n = {seeds}: no interval, the verdict needs >= {MIN_SEEDS} seeds)"
    lo, hi = ci
    if non_negative and lo < 0:
        return f"{mean:.4g} [{lo:.4g}, {hi:.4g}] (Student-t; a score >= 0 cannot reach its part below 0)"
    return f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"


def unmeasurable(cfg: dict) -> dict:
    """Why a configuration cannot measure each observation by its rule (None where it can).

    Observation 1 needs :data:`MIN_SEEDS` seeds per architecture and two widths or two depths;
    observation 2 needs runs with at least 3 finite segments, so at least 4 descents per seed
    (N minima give at most N - 1 finite segments).
    """
    archs = {(int(h), int(L)) for h, L in cfg["archs"]}
    trend = None
    if cfg["seeds"] < MIN_SEEDS:
        trend = (f"{cfg['seeds']} seeds per architecture; the verdict compares intervals over at least {MIN_SEEDS} "
                 "seeds")
    elif len({h for h, _ in archs}) < 2 and len({L for _, L in archs}) < 2:
        trend = "one width and one depth: nothing to compare"
    gen = None
    if cfg["runs"] < 4:
        gen = (f"{cfg['runs']} descents per seed give at most {cfg['runs'] - 1} finite segments per run; the rule "
               "needs runs with at least 3")
    return {"trend": trend, "generalisation": gen}


def images_text(cfg: dict) -> str:
    """The paths' resolution in words: fixed, or adaptive (docs/theory.md §12.5)."""
    if cfg.get("max_images"):
        return (f"adaptive resolution: {cfg['images']} images, doubled by inserting midpoints up to "
                f"{cfg['max_images']} until the level settles")
    return f"{cfg['images']} images"


def protocol_text(cfg: dict) -> str:
    lr = f"lr {cfg['lr']}" + (" x sqrt(16/width)" if cfg.get("lr_width_scaled") else "")
    return (f"minima graph (Barannikov et al. 2020): {cfg['runs']} Adam runs ({cfg['steps']} full-batch steps, "
            f"{lr}{', cosine decay' if cfg.get('schedule') == 'cosine' else ''}) from PyTorch-default "
            f"initialisations, canonical quotient by the symmetry group, all pairs joined by string-method paths "
            f"({images_text(cfg)}, {cfg.get('method', 'adam')} steps, at most {cfg['iterations']} iterations"
            f"{' per resolution' if cfg.get('max_images') else ''}, each path stopped by the convergence test with "
            f"rtol {cfg.get('rtol', 0.05)}), segments from the "
            f"minimax over the graph of minima; tanh MLP, MSE on one-hot targets, {cfg['n_train']} training points, "
            f"levels in float64" + (f" (steps in {cfg['fast_dtype']})" if cfg.get("fast_dtype") else ""))


def _job(args):
    """One sweep job (module level, so that worker processes can receive it)."""
    (dataset, width, depth, seed), cfg, device, dtype = args
    return run_architecture(dataset, width, depth, seed, cfg, device=device, dtype=dtype, threads=1)


def to_score_trend(scale: str = "quick", *, jobs_map=None, device="cpu", dtype: str = "float64", cfg=None,
                   processes: int | None = None, checkpoint=None, scheduler=None):
    """Run the sweep of ``TREND_CONFIGS[scale]`` (or ``cfg``): ``(rows, runs)``.

    ``rows``: one per (data set, width, depth) with ``dataset``, ``width``, ``depth``, ``seeds``,
    ``to_score_mean``, ``to_score_ci95``, ``protocol`` (and the direct reading, P, losses, test
    errors, path convergence, timings); ``runs``: one per seed (:func:`run_architecture`).
    ``scheduler`` (``"local"``, ``"tcp://host:port"`` or a ``distributed.Client``): run the
    independent jobs on Dask (:func:`bettibounds.distributed.map_jobs`), the largest first;
    ``jobs_map(func, items)``: any other runner of the jobs; ``processes``: else run them on that
    many local worker processes (spawned, one torch thread each, the largest jobs first); default
    in order, in-process. Every job is seeded by its (data set, width, depth, seed), so the rows do
    not depend on where the jobs ran. ``checkpoint``: a JSON-lines file that every finished run is
    appended to as it finishes (with ``jobs_map``, only when it returns); runs already there for
    the same configuration are read back instead of run again (a long sweep that was stopped
    resumes where it was).
    """
    cfg = dict(cfg or TREND_CONFIGS[scale])
    archs = sorted({(int(h), int(L)) for h, L in cfg["archs"]}, key=lambda a: (a[1], a[0]))
    items = [(ds, h, L, s) for ds in cfg["datasets"] for h, L in archs for s in range(cfg["seeds"])]
    key = json.dumps({"cfg": {k: cfg[k] for k in sorted(cfg) if k not in ("archs", "seeds", "datasets")},
                      "device": str(device), "dtype": dtype}, sort_keys=True, default=list)
    done = read_checkpoint(checkpoint, key) if checkpoint is not None else {}

    def record(r):
        if checkpoint is not None:
            with open(checkpoint, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, "run": r}, default=float) + "\n")
        return r

    def job(item):
        dataset, width, depth, seed = item
        return run_architecture(dataset, width, depth, seed, cfg, device=device, dtype=dtype)

    todo = [it for it in items if it not in done]
    if scheduler is not None and jobs_map is not None:
        raise InvalidSpecError("give scheduler or jobs_map, not both")
    if scheduler is not None:
        from ..distributed import map_jobs

        # the biggest jobs first (as on local processes); each run is checkpointed as it finishes
        order = sorted(todo, key=lambda it: -job_size(it))
        new = map_jobs(job, order, scheduler, on_result=lambda i, r: record(r)) if order else []
    elif jobs_map is not None:
        new = [record(r) for r in jobs_map(job, todo)] if todo else []
    elif processes is not None and processes > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # the biggest jobs first (by their number of parameters), so that the last one to finish is short
        order = sorted(todo, key=lambda it: -job_size(it))
        processes, fewer = processes_within_memory(processes, order, cfg)
        if fewer is not None:
            import warnings

            from ..errors import BettiBoundsWarning

            warnings.warn(f"the TO-score sweep runs {fewer}", BettiBoundsWarning, stacklevel=2)
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_job, (it, cfg, device, dtype)) for it in order]
            new = [record(f.result()) for f in as_completed(futures)]
    else:
        new = [record(job(it)) for it in todo]
    got = {**done, **{(r["dataset"], r["width"], r["depth"], r["seed"]): r for r in new}}
    runs = [got[it] for it in items]
    rows: list[dict[str, Any]] = []
    proto = protocol_text(cfg)
    if not runs:
        return rows, runs
    for ds in cfg["datasets"]:
        for h, L in archs:
            rs = [r for r in runs if (r["dataset"], r["width"], r["depth"]) == (ds, h, L)]
            m, ci = mean_ci95([r["to_score"] for r in rs])
            md, cid = mean_ci95([r["to_score_direct"] for r in rs])
            rows.append({"dataset": ds, "width": h, "depth": L, "seeds": len(rs), "to_score_mean": m,
                         "to_score_ci95": ci, "to_score_direct_mean": md, "to_score_direct_ci95": cid,
                         "P": rs[0]["P"], "min_loss_mean": float(np.mean([r["min_loss"] for r in rs])),
                         "test_error_mean": float(np.mean([r["test_error_best"] for r in rs])),
                         "n_minima_mean": float(np.mean([r["n_minima"] for r in rs])),
                         "to_score_half_budget_mean": float(np.mean([r["to_score_half_budget"] for r in rs
                                                                     if r["to_score_half_budget"] is not None]
                                                                    or [math.nan])),
                         "paths": int(sum(r["paths"] for r in rs)),
                         "paths_converged": int(sum(r["paths_converged"] for r in rs)),
                         "paths_converged_fraction": (sum(r["paths_converged"] for r in rs) /
                                                      max(1, sum(r["paths"] for r in rs))),
                         "max_grad_norm": float(max(r["max_grad_norm"] for r in rs)),
                         "cpu_seconds": float(sum(r["cpu_seconds"] for r in rs)),
                         "seconds": float(sum(r["seconds"] for r in rs)), "protocol": proto,
                         "status": "reconstructed", "citation": "Barannikov2020"})
    return rows, runs


#: an architecture's TO-score enters the verdict when at least this share of its paths converged
CONVERGED_SHARE = 0.9


def _converged(row: dict) -> bool:
    """Whether a row's paths converged (:data:`CONVERGED_SHARE`); a row without the record has not."""
    return row.get("paths_converged_fraction", -1.0) >= CONVERGED_SHARE


def _compare(a: dict, b: dict) -> str:
    """'decrease' / 'increase' when the 95% CIs of a (smaller model) and b (larger) are disjoint;
    'too few seeds' when either has fewer than MIN_SEEDS; 'unconverged' when either's paths did not
    converge (their TO-scores are budget-dependent)."""
    if min(a.get("seeds", 0), b.get("seeds", 0)) < MIN_SEEDS:
        return "too few seeds"
    if not (_converged(a) and _converged(b)):
        return "unconverged"
    if b["to_score_ci95"][1] < a["to_score_ci95"][0]:
        return "decrease"
    if b["to_score_ci95"][0] > a["to_score_ci95"][1]:
        return "increase"
    return "overlap"


#: the rule of :func:`trend_verdict`, quoted in the report
TREND_RULE = ("For every data set and depth, the TO-score at the smallest width measured at that depth is compared "
              "with the one at the largest; for every data set and width, the smallest depth with the largest. A "
              f"comparison counts only when both architectures have at least {MIN_SEEDS} seeds (otherwise it is "
              "'too few seeds': with 2 seeds the 95% t-interval is 12.7 standard errors either side of the mean) "
              f"and at least {CONVERGED_SHARE:.0%} of the relaxed paths of both architectures "
              "passed the "
              "convergence test (otherwise it is 'unconverged': upper estimates whose looseness depends on the "
              "budget are not compared). A counted comparison is a decrease (increase) when the two 95% confidence "
              "intervals are disjoint and the larger network's is lower (higher); otherwise it is an overlap. Per "
              "direction (width, depth): 'decreases' when at least half the comparisons are decreases and none is an "
              "increase; 'increases' when at least half are increases and none is a decrease; 'mixed' when there "
              "are both; 'unclear' otherwise. Verdict: reproduced when both directions decrease; not reproduced when "
              "a direction increases or is mixed; inconclusive otherwise.")


def trend_verdict(rows) -> dict:
    """The verdict on observation 1 (the TO-score decreases with width and depth) by ``TREND_RULE``."""
    comps: dict[str, list[dict[str, Any]]] = {"width": [], "depth": []}
    for ds in sorted({r["dataset"] for r in rows}):
        sub = [r for r in rows if r["dataset"] == ds]
        at = {(r["width"], r["depth"]): r for r in sub}
        for L in sorted({d for _, d in at}):
            ws = sorted(w for w, d in at if d == L)
            if len(ws) > 1:
                comps["width"].append({"dataset": ds, "depth": L, "from": ws[0], "to": ws[-1],
                                       "result": _compare(at[(ws[0], L)], at[(ws[-1], L)])})
        for h in sorted({w for w, _ in at}):
            ds_ = sorted(d for w, d in at if w == h)
            if len(ds_) > 1:
                comps["depth"].append({"dataset": ds, "width": h, "from": ds_[0], "to": ds_[-1],
                                       "result": _compare(at[(h, ds_[0])], at[(h, ds_[-1])])})
    directions = {}
    for d, cs in comps.items():
        dec = sum(c["result"] == "decrease" for c in cs)
        inc = sum(c["result"] == "increase" for c in cs)
        half = math.ceil(len(cs) / 2) if cs else 1
        if dec and inc:
            directions[d] = "mixed"
        elif cs and dec >= half and not inc:
            directions[d] = "decreases"
        elif cs and inc >= half and not dec:
            directions[d] = "increases"
        else:
            directions[d] = "unclear"
    if all(v == "decreases" for v in directions.values()):
        verdict = "reproduced"
    elif any(v in ("increases", "mixed") for v in directions.values()):
        verdict = "not reproduced"
    else:
        verdict = "inconclusive"
    every = [c for cs in comps.values() for c in cs]
    return {"verdict": verdict, "directions": directions, "comparisons": comps, "rule": TREND_RULE,
            "unconverged_comparisons": sum(c["result"] == "unconverged" for c in every),
            "too_few_seeds_comparisons": sum(c["result"] == "too few seeds" for c in every),
            # False when no comparison could count for want of seeds: the table cannot decide the claim
            "measurable": any(c["result"] != "too few seeds" for c in every),
            "claim": "the TO-score decreases as width and depth grow (Barannikov et al. 2019, 2020)"}


GENERALISATION_RULE = ("Within every run (data set, architecture, seed) with at least 3 finite segments, the "
                       "Spearman rank correlation between the minima's segment lengths and their test errors; "
                       "reproduced when the 95% confidence interval of the mean correlation over runs lies above 0, "
                       "not reproduced when it lies below 0, inconclusive when it contains 0 or fewer than 3 runs "
                       "qualify. Within-run correlations keep the architecture's effect on both quantities out.")


def generalisation_verdict(runs) -> dict:
    """Observation 2 (longer segment, higher test error) by ``GENERALISATION_RULE``."""
    from scipy.stats import spearmanr

    rhos = []
    for r in runs:
        seg = r["segments"]
        if len(seg) >= 3:
            a = [s["segment"] for s in seg]
            b = [s["test_error"] for s in seg]
            if np.ptp(a) > 0 and np.ptp(b) > 0:
                rhos.append(float(spearmanr(a, b).statistic))
    if len(rhos) < 3:
        return {"verdict": "inconclusive", "runs": len(rhos), "mean_rho": None, "ci95": None,
                "rule": GENERALISATION_RULE}
    m, ci = mean_ci95(rhos)
    verdict = "reproduced" if ci[0] > 0 else ("not reproduced" if ci[1] < 0 else "inconclusive")
    return {"verdict": verdict, "runs": len(rhos), "mean_rho": m, "ci95": ci, "rule": GENERALISATION_RULE,
            "claim": "a minimum's segment length goes with its test error (Barannikov et al. 2019, 2020)"}
