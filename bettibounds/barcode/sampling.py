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

from .._lib.progress import progress_bar
from ..errors import InvalidSpecError
from .core import Barcode, BarcodeBar, _sorted

__all__ = ["ParameterSample", "sample_parameters", "sample_barcode", "box_bounds"]


@dataclass(frozen=True)
class ParameterSample:
    """Points of parameter space with their losses; ``origin[i]`` is 0 (uniform) or 1 (descent)."""

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
        raise InvalidSpecError(f"the box needs low/high as numbers or lists of P = {n_params} numbers ({exc})") from None
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


def sample_barcode(kernel, low=-3.0, high=3.0, *, uniform: int = 2000, starts: int = 64, steps: int = 200,
                   lr: float = 0.05, record_every: int = 10, k: int = 10, seed: int = 0, refine: int | str = 0,
                   h0_backend: str = "gudhi", knn_dtype: str = "float64", progress: bool = False,
                   evaluator=None, refine_options: dict | None = None) -> Barcode:
    """Barcode of minima of the loss over a box of parameter space, from samples.

    Samples with :func:`sample_parameters`, joins each point to its ``k`` nearest neighbours
    (:func:`~bettibounds.barcode.graph.knn_graph`), computes lower-star H0 of that graph, and
    refines the death levels of the ``refine`` longest finite segments (``"all"``: every finite
    segment) with :func:`~bettibounds.barcode.refine.refine_barcode`. Locations are sample ids into
    ``barcode.meta["samples"]`` (kept on the object as ``barcode.samples``).

    The death levels are *estimates* (graph-based: the highest sample on the best path in the
    graph; refined: the highest loss along an explicit piecewise-linear path); neither is a
    rigorous value of the true merge level. The essential segment is born at the lowest sample.
    """
    from .graph import knn_graph, lower_star_h0

    if refine != "all" and (isinstance(refine, bool) or not isinstance(refine, numbers.Integral) or refine < 0):
        raise InvalidSpecError(f"refine must be a non-negative integer or 'all', got {refine!r}")
    refine_options = dict(refine_options or {})
    unknown = set(refine_options) - _REFINE_OPTIONS
    if unknown:
        raise InvalidSpecError(f"unknown refine_options {sorted(unknown)}; valid: {', '.join(sorted(_REFINE_OPTIONS))}")
    timings = {}
    t = time.perf_counter()
    sample = sample_parameters(kernel, low, high, uniform=uniform, starts=starts, steps=steps, lr=lr,
                               record_every=record_every, seed=seed, progress=progress, evaluator=evaluator)
    timings["sampling"] = time.perf_counter() - t
    t = time.perf_counter()
    edges = knn_graph(sample.points, k=k, device=kernel.device, dtype=knn_dtype, progress=progress)
    timings["knn"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = lower_star_h0(sample.values, edges, backend=h0_backend)
    timings["h0"] = time.perf_counter() - t
    bars = [BarcodeBar(0, float(b), float(d), (int(bi),), None if math.isinf(d) else (int(di),))
            for b, d, bi, di in rows]
    meta = {"n_points": int(sample.points.shape[0]), "uniform": int(uniform), "starts": int(starts),
            "steps": int(steps), "lr": float(lr), "record_every": int(record_every),
            "k": min(int(k), max(sample.points.shape[0] - 1, 0)), "k_requested": int(k),  # k was validated
            "n_edges": int(edges.shape[0]), "seed": seed, "box": [sample.low.tolist(), sample.high.tolist()],
            "h0_backend": h0_backend, "knn_dtype": knn_dtype, "device": str(kernel.device),
            "dtype": str(kernel.dtype).replace("torch.", ""), "n_params": int(kernel.n_params),
            "death_levels": "graph estimates (highest sample on the best k-NN path) unless refined"}
    bc = Barcode(_sorted(bars), "knn", "sample id", float(sample.values.min()), float(sample.values.max()), meta,
                 samples=sample, edges=edges)
    if refine:
        from .refine import refine_barcode

        t = time.perf_counter()
        bc = refine_barcode(bc, kernel, top=None if refine == "all" else int(refine), **refine_options)
        timings["refine"] = time.perf_counter() - t
    bc.meta["timings"] = timings
    return bc
