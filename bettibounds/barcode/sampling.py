"""Sample-based barcodes in the full parameter space of a network.

Points come from two sources, both inside a box ``[low, high]^P`` of parameter space:

* uniform samples (the landscape at large), and
* trajectories of gradient descent (Adam, batched: every start is one row of a (S, P) tensor and
  the loss is the sum of the rows' losses, so the trajectories are independent) from uniform
  starts, recorded every few steps -- they concentrate samples near low loss, where the minima
  and the saddles between them are.

The barcode of minima is then lower-star H0 of the k-NN graph on all the points
(:mod:`bettibounds.barcode.graph`), optionally with the most persistent merge levels refined by
a string method (:mod:`bettibounds.barcode.refine`). Every value in the result is the kernel's
loss at a recorded point; the seeds and the sampling plan are recorded in ``meta``.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from .._lib.budget import descent_threads
from .._lib.progress import progress_bar
from ..errors import InvalidSpecError
from .core import Barcode, sorted_bars

__all__ = ["ParameterSample", "sample_parameters", "sample_barcode", "box_bounds", "SAMPLE_PRESETS", "SAMPLE_REGIONS",
           "BarcodeWarning", "resolve_k", "sparsity_warning", "protocol_options", "protocol_text",
           "split_graph_warning"]


@dataclass(frozen=True)
class ParameterSample:
    """Points of parameter space with their losses; ``origin[i]`` is 0 (uniform in the box), 1 (descent)
    or 2 (the ``threshold`` / ``hull`` region of :func:`sample_barcode`)."""

    points: np.ndarray
    values: np.ndarray
    origin: np.ndarray
    low: np.ndarray
    high: np.ndarray


#: the keywords of :func:`~bettibounds.barcode.refine.refine_barcode` that ``refine_options`` may set
_REFINE_OPTIONS = frozenset({"images", "iterations", "step", "dense"})


def _count(name: str, v, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise InvalidSpecError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def box_bounds(n_params: int, low, high) -> tuple[np.ndarray, np.ndarray]:
    """``low``/``high`` as (P,) arrays: scalars broadcast; checks low < high and finiteness."""
    try:
        lo = np.broadcast_to(np.asarray(low, dtype=np.float64), (n_params,)).copy() if np.ndim(low) == 0 else \
            np.asarray(low, dtype=np.float64)
        hi = np.broadcast_to(np.asarray(high, dtype=np.float64), (n_params,)).copy() if np.ndim(high) == 0 else \
            np.asarray(high, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"the box needs low/high as numbers or lists of P = {n_params} numbers "
                               f"({exc})") from None
    if lo.shape != (n_params,) or hi.shape != (n_params,):
        raise InvalidSpecError(f"the box needs low/high as numbers or lists of P = {n_params} numbers, "
                               f"got shapes {lo.shape} and {hi.shape}")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or not (lo < hi).all():
        raise InvalidSpecError("the box needs finite low < high in every coordinate")
    with np.errstate(over="ignore"):
        wide = not np.isfinite(hi - lo).all()
    if wide:  # uniform points are low + (high - low) * u
        raise InvalidSpecError("the box is wider than float64 can represent (high - low overflows); narrow it")
    return lo, hi


def sample_parameters(kernel, low, high, *, uniform: int = 2000, starts: int = 64, steps: int = 200,
                      lr: float = 0.05, record_every: int = 10, seed: int = 0, progress: bool = False,
                      evaluator=None) -> ParameterSample:
    """Uniform points and gradient-descent trajectories in the box, with their losses.

    Parameters
    ----------
    kernel : LossKernel
        The network's batched loss (its ``evaluate`` is differentiable, for the descent).
    low, high : float or (P,) arrays
        The box.
    uniform : int
        Number of uniform points.
    starts, steps, lr, record_every : int, int, float, int
        Gradient descent (Adam, step size ``lr``) from ``starts`` uniform starts for ``steps``
        steps, projected onto the box, recording every ``record_every`` steps (and the end).
    seed : int
        Seed of numpy's generator for the uniform points and the starts.
    evaluator : object with ``evaluate_chunked``, optional
        Evaluates the loss at the recorded points (e.g. a Dask evaluator); default ``kernel``.
    """
    import torch

    P = kernel.n_params
    lo, hi = box_bounds(P, low, high)
    uniform, starts = _count("uniform", uniform), _count("starts", starts)
    steps, record_every = _count("steps", steps), _count("record_every", record_every, 1)
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise InvalidSpecError(f"lr must be a positive number, got {lr!r}")
    if not (seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0)):
        raise InvalidSpecError(f"seed must be a non-negative integer, got {seed!r}")
    if uniform + starts == 0:
        raise InvalidSpecError("nothing to sample: uniform and starts are both 0")
    rng = np.random.default_rng(seed)
    pts = [lo + (hi - lo) * rng.random((uniform, P))]
    origin = [np.zeros(uniform, dtype=np.int8)]
    if starts:
        th = torch.as_tensor(lo + (hi - lo) * rng.random((starts, P)), dtype=kernel.dtype, device=kernel.device)
        # Adam written out (torch.optim imports torch._dynamo, seconds of start-up): elementwise, so
        # every row -- every trajectory -- evolves independently of the others
        b1, b2, eps = 0.9, 0.999, 1e-8
        m1, m2 = torch.zeros_like(th), torch.zeros_like(th)
        lo_t = torch.as_tensor(lo, dtype=kernel.dtype, device=kernel.device)
        hi_t = torch.as_tensor(hi, dtype=kernel.dtype, device=kernel.device)
        bar = progress_bar(progress, steps, f"descent ({starts} starts)", unit="step", unit_scale=False)
        # one torch thread for a small step, as its pilot measures it (budget.descent_threads: 10 to 50
        # times faster on a loaded machine than torch's pool)
        with descent_threads(kernel, starts):
            for step in range(steps + 1):
                if step % record_every == 0 or step == steps:
                    pts.append(th.detach().cpu().numpy().astype(np.float64))
                    origin.append(np.ones(starts, dtype=np.int8))
                if step == steps:
                    break
                x = th.detach().requires_grad_(True)
                loss = kernel.evaluate(x).sum()
                if not torch.isfinite(loss):
                    raise InvalidSpecError("the loss became non-finite during gradient descent; lower lr")
                (g,) = torch.autograd.grad(loss, x)
                with torch.no_grad():
                    m1.mul_(b1).add_(g, alpha=1 - b1)
                    m2.mul_(b2).addcmul_(g, g, value=1 - b2)
                    t = step + 1
                    denom = (m2 / (1 - b2 ** t)).sqrt_().add_(eps)
                    th = th - float(lr) * (m1 / (1 - b1 ** t)) / denom
                    th = torch.maximum(torch.minimum(th, hi_t), lo_t)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
    points = np.concatenate(pts)
    ev = evaluator if evaluator is not None else kernel
    values = np.asarray(ev.evaluate_chunked(points, mode="full", progress=progress), dtype=np.float64)
    return ParameterSample(points, values, np.concatenate(origin), lo, hi)


#: named presets of sample mode. ``barannikov``: the authors' values (Barannikov et al. 2019/2020 and
#: BarcodeCalc): k = 4P neighbours, the edge-length cutoff 2 x the mean k-NN distance, and the
#: filtered TO-score over clusters of >= 20 samples (their plots keep clusters of 20 to 50 samples).
SAMPLE_PRESETS: dict[str, dict] = {
    "barannikov": {"k": "4P", "radius": "auto", "min_cluster": 20},
}

#: where sample mode draws its uniform points: the box, the part of it below a loss threshold
#: (rejection), or the convex hull of minima found by descents, enlarged about its centroid
SAMPLE_REGIONS: tuple[str, ...] = ("box", "threshold", "hull")


class BarcodeWarning(UserWarning):
    """The barcode's method says little here (too few samples for the dimension, graph estimates
    far above refined levels...); the same text is kept in ``barcode.meta["warnings"]``."""


def _warn(meta: dict, text: str) -> None:
    import warnings

    meta.setdefault("warnings", []).append(text)
    warnings.warn(text, BarcodeWarning, stacklevel=3)


def resolve_k(k, n_params: int) -> int:
    """``k`` as an integer: ``None`` or ``"4P"`` give the authors' 4P; an integer stays."""
    if k is None or (isinstance(k, str) and k.upper() == "4P"):
        return 4 * int(n_params)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise InvalidSpecError(f"k must be a positive integer or '4P', got {k!r}")
    return int(k)


def sparsity_warning(n_points: int, n_params: int) -> str | None:
    """The warning for a sample too small for its dimension, or None.

    Rule: fewer than 2^P samples (capped at P = 60) means fewer than 2 samples per axis of the box
    on average, so a k-NN graph cannot resolve two basins along any coordinate: its segments are
    mostly sampling artefacts (issue 22 found 15 of 22 segments born at uniform samples in P = 785).
    """
    if n_params <= 60 and n_points >= 2 ** n_params:
        return None
    return (f"sample mode: {n_points} samples in P = {n_params} dimensions is fewer than 2^P (under 2 samples per "
            "axis): the k-NN graph says little about the landscape, most segments are sampling artefacts; read "
            "the filtered TO-score, use the minima-graph protocol (bettibounds.barcode.minima), or sample a "
            "lower-dimensional slice")


def protocol_options(k, options: dict) -> dict:
    """The protocol keywords of :func:`sample_barcode` from command-line strings (None = not given).

    ``k``: an integer string or "4P"; ``options["radius"]``: a number string or "auto".
    """
    out = {n: v for n, v in options.items() if v is not None}
    if k is not None:
        text = str(k).strip()
        if text.upper() == "4P":
            out["k"] = "4P"
        else:
            try:
                out["k"] = int(text)
            except ValueError:
                raise InvalidSpecError(f"--k takes a positive integer or 4P, got {k!r}") from None
    r = out.get("radius")
    if isinstance(r, str) and r != "auto":
        what = f"--radius takes a positive finite number or auto (leave --radius out for no cutoff), got {r!r}"
        try:
            out["radius"] = float(r)
        except ValueError:
            raise InvalidSpecError(what) from None
        if not (math.isfinite(out["radius"]) and out["radius"] > 0):  # worded for the option, not the library's None
            raise InvalidSpecError(what)
    return out


def split_graph_warning(components: int, k: int, radius, threshold_region: bool = False) -> str:
    """The warning of a k-NN graph with several connected components (each an essential segment)."""
    return (f"the k-NN graph has {components} connected components (k = {k}, radius "
            f"{'none' if radius is None else f'{radius:.4g}'}): {components - 1} segments never die because the graph "
            "is disconnected, not because the function has that many minima, and the merges between components are "
            "missing from the TO-score; " + ("raise k" if radius is None else "raise k or the radius (or drop it)")
            + ("; unless the threshold region itself is split (separate basins below the threshold)"
               if threshold_region else ""))


def protocol_text(meta: dict) -> str:
    """One line saying which protocol a sample barcode used (k, cutoff, region, quotient, filter)."""
    q = meta.get("quotient") or {"kind": "none"}
    r = meta.get("radius")
    region = meta.get("region", {}).get("kind", meta.get("region_kind", "box"))
    wanted = 4 * int(meta.get("n_params", 0)) if meta.get("k_requested") == "4P" else meta.get("k_requested")
    if wanted is not None and wanted != meta["k"]:  # capped at the other samples: say what was asked
        k_text = f"protocol: k = {meta['k']} (" + ("4P = " if meta.get("k_requested") == "4P" else "requested ") + \
            f"{wanted}, capped at the other samples)"
    else:
        k_text = f"protocol: k = {meta['k']}" + (" (4P)" if meta.get("k_requested") == "4P" else "")
    parts = [k_text,
             "no edge cutoff" if r is None else f"edge cutoff {r:.4g}" + (" (2 x mean k-NN distance)"
                                                                          if meta.get("radius_rule", "").startswith("2")
                                                                          else ""),
             f"region {region}", f"quotient {q['kind']}" + (f" (|G| = {q['group_order']})" if q.get("group_order")
                                                            else ""),
             "exact k-NN"]
    if meta.get("preset"):
        parts.append(f"preset {meta['preset']}")
    return "; ".join(parts)


def _threshold_points(kernel, evaluator, lo, hi, n: int, threshold: float, rng, max_draws: int, progress: bool):
    """Up to ``n`` uniform points of the box with loss < threshold (rejection; at most max_draws drawn)."""
    ev = evaluator if evaluator is not None else kernel
    kept_p: list[np.ndarray] = []
    kept_v: list[np.ndarray] = []
    drawn = 0
    batch = max(1024, n)
    while sum(len(v) for v in kept_v) < n and drawn < max_draws:
        m = min(batch, max_draws - drawn)
        pts = lo + (hi - lo) * rng.random((m, lo.shape[0]))
        vals = np.asarray(ev.evaluate_chunked(pts, mode="full", progress=progress), dtype=np.float64)
        drawn += m
        keep = vals < threshold
        kept_p.append(pts[keep])
        kept_v.append(vals[keep])
    pts = np.concatenate(kept_p)[:n] if kept_p else np.empty((0, lo.shape[0]))
    return pts, drawn


def _hull_points(kernel, lo, hi, n: int, rng, descents: int, steps: int, lr: float, scale: float):
    """``n`` points of the convex hull of minima found by ``descents`` descents, enlarged by ``scale``
    about the minima's centroid: c + scale (sum_i w_i m_i - c), w ~ Dirichlet(1, ..., 1)."""
    from .minima import descend

    starts = lo + (hi - lo) * rng.random((descents, lo.shape[0]))
    minima, _ = descend(kernel, starts, steps=max(steps, 1), lr=lr, low=lo, high=hi)
    c = minima.mean(0)
    w = rng.dirichlet(np.ones(descents), size=n)
    return np.clip(c + scale * (w @ minima - c), lo, hi), minima


def sample_barcode(kernel, low=-3.0, high=3.0, *, uniform: int = 2000, starts: int = 64, steps: int = 200,
                   lr: float = 0.05, record_every: int = 10, k: int | str | None = None, seed: int = 0,
                   refine: int | str = 0, h0_backend: str = "union-find", knn_dtype: str = "float64",
                   progress: bool = False, evaluator=None, refine_options: dict | None = None,
                   radius=None, min_cluster: int | None = None, region: str = "box", threshold: float | None = None,
                   max_draws: int | None = None, hull_descents: int = 100, hull_scale: float = 1.5,
                   quotient: str = "none", preset: str | None = None) -> Barcode:
    """Barcode of minima of the loss over a box of parameter space, from samples.

    Samples with :func:`sample_parameters`, joins each point to its ``k`` nearest neighbours
    (:func:`~bettibounds.barcode.graph.knn_graph`), computes lower-star H0 of that graph with the
    size of every dying cluster, and refines the death levels of the ``refine`` longest finite
    segments (``"all"``: every finite segment) with :func:`~bettibounds.barcode.refine.refine_barcode`.
    Locations are sample ids into ``barcode.samples``.

    The authors' protocol (Barannikov et al. 2019/2020; docs/theory.md §12.3) is available through
    the options, and all at once as ``preset="barannikov"`` (explicit arguments win over the preset):

    k : int, "4P" or None
        Neighbours per sample; None or "4P": 4 x the number of parameters (the authors' choice).
    radius : float, "auto" or None
        Edge-length cutoff; "auto": 2 x the mean k-NN distance (BarcodeCalc).
    min_cluster : int, optional
        The filtered TO-score over segments whose cluster had >= min_cluster samples, reported
        beside the raw one (``to_score_dict``).
    region : {"box", "threshold", "hull"}
        Where the ``uniform`` points come from: the box; the part of the box with loss <
        ``threshold`` (rejection sampling, at most ``max_draws`` draws, default 100 x uniform);
        or the convex hull of the minima of ``hull_descents`` descents, enlarged by ``hull_scale``
        about their centroid (random convex combinations, Dirichlet(1) weights).
    quotient : {"none", "canonical"}
        "canonical": every sample is replaced by its canonical representative under the symmetry
        group before the k-NN graph (:func:`~bettibounds.barcode.quotient.canonical_form`), so the
        images of one minimum are one minimum.

    The death levels are *estimates* (graph-based: the highest sample on the best path in the
    graph; refined: the highest loss along an explicit path); neither is a rigorous value of the true
    merge level. The essential segment is born at the lowest sample. ``meta["warnings"]`` (also
    issued as :class:`BarcodeWarning`) says where the method says little.
    """
    from .quotient import quotient_info

    if preset is not None:
        if preset not in SAMPLE_PRESETS:
            raise InvalidSpecError(f"unknown preset {preset!r}; valid: {', '.join(SAMPLE_PRESETS)}")
        p = SAMPLE_PRESETS[preset]
        k = p["k"] if k is None else k
        radius = p["radius"] if radius is None else radius
        min_cluster = p["min_cluster"] if min_cluster is None else min_cluster
    if refine != "all" and (isinstance(refine, bool) or not isinstance(refine, numbers.Integral) or refine < 0):
        raise InvalidSpecError(f"refine must be a non-negative integer or 'all', got {refine!r}")
    refine_options = dict(refine_options or {})
    unknown = set(refine_options) - _REFINE_OPTIONS
    if unknown:
        raise InvalidSpecError(f"unknown refine_options {sorted(unknown)}; valid: {', '.join(sorted(_REFINE_OPTIONS))}")
    if region not in SAMPLE_REGIONS:
        raise InvalidSpecError(f"unknown region {region!r}; valid: {', '.join(SAMPLE_REGIONS)}")
    if region == "threshold" and (threshold is None or not math.isfinite(float(threshold))):
        raise InvalidSpecError("region='threshold' needs a finite threshold (keep samples with loss < threshold)")
    if min_cluster is not None:
        _count("min_cluster", min_cluster, 1)
    k_used = resolve_k(k, kernel.n_params)
    spec = getattr(kernel, "spec", None)
    if quotient != "none" and spec is None:
        raise InvalidSpecError("quotient='canonical' quotients by the symmetry group of a network the symbolic "
                               "engine describes (an experiment file's \"network\"); this evaluator (a PyTorch "
                               "model's, say) has none: use quotient='none'")
    qinfo = quotient_info(spec, quotient) if spec is not None else None  # validates the name early
    from .evaluate import small_problem_threads, torch_threads

    with torch_threads(small_problem_threads(kernel)):  # descents and refinement: small batches
        return _sample_barcode(kernel, low, high, uniform, starts, steps, lr, record_every, k, k_used, seed, refine,
                               h0_backend, knn_dtype, progress, evaluator, refine_options, radius, min_cluster,
                               region, threshold, max_draws, hull_descents, hull_scale, quotient, preset, spec,
                               qinfo)


def _sample_barcode(kernel, low, high, uniform, starts, steps, lr, record_every, k, k_used, seed, refine,
                    h0_backend, knn_dtype, progress, evaluator, refine_options, radius, min_cluster, region,
                    threshold, max_draws, hull_descents, hull_scale, quotient, preset, spec, qinfo) -> Barcode:
    from .graph import knn_graph, lower_star_h0, union_find_h0
    from .points import bars_from_sweep
    from .quotient import canonical_form

    timings = {}
    t = time.perf_counter()
    meta: dict = {}
    n_region = 0
    extra_uniform = 0 if region == "box" else uniform
    if uniform - extra_uniform + starts > 0:
        sample = sample_parameters(kernel, low, high, uniform=uniform - extra_uniform, starts=starts, steps=steps,
                                   lr=lr, record_every=record_every, seed=seed, progress=progress,
                                   evaluator=evaluator)
    else:  # only the region's points (threshold or hull) and no descent trajectories
        _count("uniform", uniform, 1)
        lo, hi = box_bounds(kernel.n_params, low, high)
        P = kernel.n_params
        sample = ParameterSample(np.empty((0, P)), np.empty(0), np.empty(0, dtype=np.int8), lo, hi)
    if region != "box":
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        if region == "threshold":
            md = 100 * uniform if max_draws is None else _count("max_draws", max_draws, 1)
            pts, drawn = _threshold_points(kernel, evaluator, sample.low, sample.high, uniform, float(threshold), rng,
                                           md, progress)
            meta["region"] = {"kind": "threshold", "threshold": float(threshold), "drawn": int(drawn),
                              "kept": int(len(pts)), "acceptance": len(pts) / max(drawn, 1)}
            if len(pts) < uniform:
                _warn(meta, f"region threshold: only {len(pts)} of {uniform} samples below {threshold:g} after "
                            f"{drawn} draws (raise max_draws or the threshold)")
        else:
            _count("hull_descents", hull_descents, 2)
            if not (isinstance(hull_scale, numbers.Real) and math.isfinite(hull_scale) and float(hull_scale) > 0):
                raise InvalidSpecError(f"hull_scale must be a positive number, got {hull_scale!r}")
            pts, _ = _hull_points(kernel, sample.low, sample.high, uniform, rng, hull_descents, steps, lr,
                                       float(hull_scale))
            meta["region"] = {"kind": "hull", "descents": int(hull_descents), "scale": float(hull_scale),
                              "status": "reconstructed (the enlargement factor is our choice)"}
        n_region = len(pts)
        if n_region:
            ev = evaluator if evaluator is not None else kernel
            vals = np.asarray(ev.evaluate_chunked(pts, mode="full", progress=progress), dtype=np.float64)
            sample = ParameterSample(np.concatenate([pts, sample.points]), np.concatenate([vals, sample.values]),
                                     np.concatenate([np.full(n_region, 2, dtype=np.int8), sample.origin]),
                                     sample.low, sample.high)
    timings["sampling"] = time.perf_counter() - t
    if sample.points.shape[0] == 0:
        raise InvalidSpecError("no samples: the threshold region kept none and there are no descent trajectories "
                               "(raise the threshold or max_draws, or add starts)")
    if quotient == "canonical":  # the samples become their representatives (same losses): the graph,
        # and any refined path through its samples, then live in one fundamental domain
        canon, qinfo = canonical_form(spec, sample.points)
        sample = ParameterSample(canon, sample.values, sample.origin, sample.low, sample.high)
    t = time.perf_counter()
    edges, r = knn_graph(sample.points, k=k_used, device=kernel.device, dtype=knn_dtype, progress=progress,
                         backend="auto", radius=radius, return_radius=True)
    timings["knn"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = union_find_h0(sample.values, edges, sizes=True)
    if h0_backend == "gudhi":  # the cross-check: gudhi's bars must be the sweep's
        g = lower_star_h0(sample.values, edges, backend="gudhi")
        if sorted(map(tuple, g[:, :2].tolist())) != sorted(map(tuple, rows[:, :2].tolist())):
            raise AssertionError("gudhi and the union-find sweep disagree (please report)")
    elif h0_backend != "union-find":
        raise InvalidSpecError(f"unknown H0 backend {h0_backend!r}; valid: gudhi, union-find")
    timings["h0"] = time.perf_counter() - t
    bars = bars_from_sweep(rows)
    n = int(sample.points.shape[0])
    meta.update({"n_points": n, "uniform": int(uniform), "starts": int(starts),
                 "steps": int(steps), "lr": float(lr), "record_every": int(record_every),
                 "k": min(k_used, max(n - 1, 0)), "k_requested": "4P" if k is None or isinstance(k, str) else int(k),
                 "radius": r, "radius_rule": ("2 x mean k-NN distance (BarcodeCalc)" if radius == "auto" else
                                              None if radius is None else "given"),
                 "n_edges": int(edges.shape[0]), "seed": seed, "box": [sample.low.tolist(), sample.high.tolist()],
                 "h0_backend": h0_backend, "knn_dtype": knn_dtype, "knn_exact": True, "device": str(kernel.device),
                 "dtype": str(kernel.dtype).replace("torch.", ""), "n_params": int(kernel.n_params),
                 "preset": preset, "region_kind": region,
                 "quotient": None if qinfo is None else qinfo.to_dict(),
                 "death_levels": "graph estimates (highest sample on the best k-NN path) unless refined"})
    if min_cluster is not None:
        meta["min_cluster"] = int(min_cluster)
    if k_used > n - 1:
        _warn(meta, f"k = {k_used} exceeds the {n - 1} other samples: the graph is complete, every sample joins "
                    "every other (take more samples)")
    sparse = sparsity_warning(n, int(kernel.n_params))
    if sparse:
        _warn(meta, sparse)
    meta["graph_components"] = sum(1 for b in bars if b.dim == 0 and b.essential)
    if meta["graph_components"] > 1:  # (a new user's trial: two essential segments, said nowhere but docs/theory.md)
        _warn(meta, split_graph_warning(meta["graph_components"], meta["k"], r, region == "threshold"))
    bc = Barcode(sorted_bars(bars), "knn", "sample id", float(sample.values.min()), float(sample.values.max()),
                 meta, samples=sample, edges=edges)
    if refine:
        from .refine import refine_barcode

        t = time.perf_counter()
        bc = refine_barcode(bc, kernel, top=None if refine == "all" else int(refine), **refine_options)
        timings["refine"] = time.perf_counter() - t
    bc.meta["timings"] = timings
    return bc
