"""The loss-barcode papers' two observations, measured on real data with the 2020 protocol.

Barannikov et al. (2019, 2020) report (1) that the barcode of minima and the TO-score decrease as
networks get wider and deeper, and (2) that in certain situations the length of a minimum's
segment goes with its generalisation error. This module measures both on scikit-learn's bundled
data sets (``digits``: 8x8 images, 10 classes; ``breast_cancer``: 30 features, 2 classes), with
the minima-graph protocol of :mod:`bettibounds.barcode.minima`:

* for each architecture (tanh MLP, widths h, depths L) and seed: a train/test split of the data
  (the seed's), N starts drawn like PyTorch's default ``nn.Linear`` initialisation
  (U(+-1/sqrt(fan_in)) for weights and biases), N full-batch Adam descents on the training MSE
  (one-hot targets), the minima replaced by their canonical representatives under the symmetry
  group (:mod:`bettibounds.barcode.quotient`), all pairs joined by string-method paths, and the
  barcode read from the minimax over the graph of minima (the direct reading of the 2020 paper
  alongside);
* the TO-score of a run is the sum of its finite segment lengths; per architecture, the mean over
  seeds with a 95% Student-t confidence interval;
* the verdicts are computed from the rows by rules stated in :func:`trend_verdict` and
  :func:`generalisation_verdict` -- never asserted.

scikit-learn is needed only to load the data (``pip install scikit-learn``, in the ``[test]`` and
``[empirical]`` extras).
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np

from .._lib.extras import install_hint
from ..errors import InvalidSpecError, MissingExtraError
from ..spec import ArchitectureSpec
from .evaluate import SINGLE_THREAD_WORK, torch_threads

__all__ = ["DATASETS", "TREND_CONFIGS", "load_dataset", "run_architecture", "to_score_trend", "trend_verdict",
           "generalisation_verdict", "mean_ci95", "default_init"]

DATASETS: tuple[str, ...] = ("digits", "breast_cancer")

#: the report's configurations: ``quick`` (section of the quick report) and ``full`` (the sweep)
TREND_CONFIGS = {
    "tiny": {"datasets": ("digits",), "archs": ((16, 1), (32, 1)), "seeds": 2, "runs": 3, "n_train": 64,
             "steps": 60, "lr": 0.02, "images": 4, "iterations": 10, "dense": 3},
    "quick": {"datasets": ("digits",), "archs": ((16, 1), (64, 1), (16, 2), (64, 2)), "seeds": 3, "runs": 4,
              "n_train": 96, "steps": 300, "lr": 0.02, "images": 8, "iterations": 60, "dense": 3},
    # widths 16 to 256 and depths 1 to 4; width 256 only at depth 1: at depth 2 (P = 85 002 on digits) one job
    # took 284 CPU s and 2.2 GB, more than the rest of a seed together, and depths 3-4 more still -- they
    # would take the sweep past 30 minutes on 2 cores (docs/benchmarks.md); pass your own cfg to add them
    "full": {"datasets": ("digits", "breast_cancer"),
             "archs": ((16, 1), (64, 1), (256, 1), (16, 2), (64, 2), (16, 3), (64, 3), (16, 4), (64, 4)),
             "seeds": 5, "runs": 5, "n_train": 128, "steps": 400, "lr": 0.02, "images": 8, "iterations": 150,
             "dense": 3},
}


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
    for W, b in layers:
        W = np.asarray(W, dtype=np.int64)
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
                     dtype: str = "float64") -> dict:
    """One (data set, width, depth, seed): minima, their minima-graph barcode, test errors."""
    x, y, xt, yt, info = load_dataset(dataset, n_train=cfg["n_train"], seed=seed)
    spec = ArchitectureSpec(inputs=x.shape[1], widths=(int(width),) * int(depth), activation="tanh",
                            outputs=y.shape[1], samples=x.shape[0])
    small = spec.n_params * x.shape[0] < SINGLE_THREAD_WORK and str(device) == "cpu"
    with torch_threads(1 if small else None):
        return _run(spec, dataset, width, depth, seed, cfg, x, y, xt, yt, info, device, dtype)


def _run(spec, dataset, width, depth, seed, cfg, x, y, xt, yt, info, device, dtype) -> dict:
    from ..engines.torch_kernel import LossKernel
    from .minima import descend, minima_graph_barcode

    t0 = time.perf_counter()
    kern = LossKernel(spec, x, y, device=device, dtype=dtype)
    rng = np.random.default_rng([seed, width, depth])
    starts = default_init(spec, cfg["runs"], rng)
    minima, _ = descend(kern, starts, steps=cfg["steps"], lr=cfg["lr"])
    mg = minima_graph_barcode(kern, minima, spec=spec, quotient="canonical", images=cfg["images"],
                              iterations=cfg["iterations"], dense=cfg["dense"])
    errors = [_test_error(spec, th, xt, yt) for th in mg.minima]
    segments = [{"loss": float(v), "segment": float(d - v), "direct_segment": float(dd - v),
                 "test_error": e} for v, d, dd, e in zip(mg.values, mg.graph_deaths, mg.direct_deaths, errors)
                if math.isfinite(d)]
    return {"dataset": dataset, "width": int(width), "depth": int(depth), "seed": int(seed),
            "P": int(spec.n_params), "runs": int(cfg["runs"]), "n_minima": int(mg.values.shape[0]),
            "to_score": mg.to_score("sum", "graph"), "to_score_direct": mg.to_score("sum", "direct"),
            "readings_differ": len(mg.differences), "min_loss": float(mg.values.min()),
            "to_score_half_budget": mg.meta["convergence"].get("to_score_half"),
            "mean_loss": float(mg.values.mean()), "test_error_best": errors[int(np.argmin(mg.values))],
            "segments": segments, "quotient_degenerate": mg.meta["quotient"]["degenerate_points"],
            "seconds": time.perf_counter() - t0, **{k: info[k] for k in ("n_train", "n_test")}}


def mean_ci95(values) -> tuple[float, list[float]]:
    """Mean and 95% Student-t confidence interval [lo, hi] (a point interval for one value)."""
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, [m, m]
    from scipy.stats import t

    half = float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, [m - half, m + half]


def protocol_text(cfg: dict) -> str:
    return (f"minima graph (Barannikov et al. 2020): {cfg['runs']} Adam runs ({cfg['steps']} full-batch steps, "
            f"lr {cfg['lr']}) from PyTorch-default initialisations, canonical quotient by the symmetry group, "
            f"all pairs joined by string-method paths ({cfg['images']} images, {cfg['iterations']} iterations), "
            f"segments from the minimax over the graph of minima; tanh MLP, MSE on one-hot targets, "
            f"{cfg['n_train']} training points, float64")


def _job(args):
    """One sweep job (module level, so that worker processes can receive it)."""
    item, cfg, device, dtype = args
    return run_architecture(*item, cfg, device=device, dtype=dtype)


def to_score_trend(scale: str = "quick", *, jobs_map=None, device="cpu", dtype: str = "float64", cfg=None,
                   processes: int | None = None):
    """Run the sweep of ``TREND_CONFIGS[scale]`` (or ``cfg``): ``(rows, runs)``.

    ``rows``: one per (data set, width, depth) with ``dataset``, ``width``, ``depth``, ``seeds``,
    ``to_score_mean``, ``to_score_ci95``, ``protocol`` (and the direct reading, P, losses, test
    errors, timings); ``runs``: one per seed (:func:`run_architecture`). ``jobs_map(func, items)``
    runs the independent jobs (e.g. on Dask); ``processes``: else run them on that many local
    worker processes (spawned; most jobs use one torch thread each); default in order, in-process.
    Every job is seeded by its (data set, width, depth, seed), so the rows do not depend on where
    the jobs ran.
    """
    cfg = dict(cfg or TREND_CONFIGS[scale])
    archs = sorted({(int(h), int(L)) for h, L in cfg["archs"]}, key=lambda a: (a[1], a[0]))
    items = [(ds, h, L, s) for ds in cfg["datasets"] for h, L in archs for s in range(cfg["seeds"])]

    def job(item):
        return run_architecture(*item, cfg, device=device, dtype=dtype)

    if jobs_map is not None:
        runs = list(jobs_map(job, items))
    elif processes is not None and processes > 1 and len(items) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # the biggest jobs first, so that the last one to finish is short
        order = sorted(range(len(items)), key=lambda i: -items[i][1] ** 2 * items[i][2])
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(_job, [(items[i], cfg, device, dtype) for i in order]))
        runs = [None] * len(items)
        for i, r in zip(order, done):
            runs[i] = r
    else:
        runs = [job(it) for it in items]
    rows = []
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
                         "seconds": float(sum(r["seconds"] for r in rs)), "protocol": proto,
                         "status": "reconstructed", "citation": "Barannikov2020"})
    return rows, runs


def _compare(a: dict, b: dict) -> str:
    """'decrease' / 'increase' when the 95% CIs of a (smaller model) and b (larger) are disjoint."""
    if b["to_score_ci95"][1] < a["to_score_ci95"][0]:
        return "decrease"
    if b["to_score_ci95"][0] > a["to_score_ci95"][1]:
        return "increase"
    return "overlap"


#: the rule of :func:`trend_verdict`, quoted in the report
TREND_RULE = ("For every data set and depth, the TO-score at the smallest width measured at that depth is compared "
              "with the one at the largest; for every data set and width, the smallest depth with the largest. A "
              "comparison counts as a decrease (increase) when the two 95% confidence intervals are disjoint and "
              "the larger network's is lower (higher); otherwise it is an overlap. Per direction (width, depth): "
              "'decreases' when at least half the comparisons are decreases and none is an increase; 'increases' "
              "when at least half are increases and none is a decrease; 'mixed' when there are both; 'unclear' "
              "otherwise. Verdict: reproduced when both directions decrease; not reproduced when a direction "
              "increases or is mixed; inconclusive otherwise.")


def trend_verdict(rows) -> dict:
    """The verdict on observation 1 (the TO-score decreases with width and depth) by ``TREND_RULE``."""
    comps = {"width": [], "depth": []}
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
    return {"verdict": verdict, "directions": directions, "comparisons": comps, "rule": TREND_RULE,
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
