"""What a grid can resolve: levels too close to a minimum for the grid's spacing.

A grid sees a sublevel set S_c only through its vertices. A component of S_c that contains no
vertex -- a minimum between grid points, a valley thinner than the spacing -- is invisible, and
no refinement by a fixed factor is guaranteed to find it. The stability check of
:func:`~.compare.analyze_landscape` (same Betti numbers on a refined grid) cannot catch such a
set when both grids miss it: ``examples/tiny_box.json`` at c = 1e-9 gives an empty set on both
grids while the true S_c is not empty (the data can be fitted exactly; the loss is about 1e-29
at a point inside the box).

The rule (docs/usage.md, "Landscapes"; used for the ``stable`` flag)
---------------------------------------------------------------------
The *known minima* are the lowest local minima of the finest grid (the birth vertices of the H0
bars of the refined grid, or of the grid when there is none), each polished by a local optimiser
(L-BFGS-B inside the region, on the loss itself) unless the caller gives no loss function. For a known
minimum with value u at a point x, let M be the lowest level at which the grid's sublevel set holds a whole grid cell
containing x (the smallest, over the cells containing x, of the largest value on the cell's
vertices; :func:`cell_max`). A level c is **unresolved** -- and never reported stable -- when

1. c is below the smallest grid value: the grid's set is empty there, and no finite sample can
   confirm that S_c is empty; when a point with loss <= c was found (refined grid or local
   search) the grid's answer is known to be wrong, and the row says so; or
2. u <= c < M for some known minimum: S_c contains points near x but no whole grid cell around
   x, so near that minimum S_c is thinner than one cell and the grid samples it by a few isolated
   vertices (or none), whatever its true shape. In value terms M - u is the grid's resolution at
   that minimum: how much the loss rises across one cell from it.

Neither rule is a proof that a *resolved* level is right: a feature the grids and the local
searches all miss (a narrow well far from every grid minimum) stays invisible. They make the
flag refuse every case in which the grid is known, or can be seen, to be too coarse for the
level.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KnownMinimum", "Resolution", "grid_local_minima", "cell_max", "local_search",
           "network_objective", "resolve_levels", "torch_single_thread", "nonnegative_loss"]

#: local minima of each grid polished by the local optimiser (the lowest ones)
DEFAULT_STARTS = 8


@dataclass(frozen=True)
class KnownMinimum:
    """A local minimum of the loss near a grid minimum.

    ``start`` is the grid vertex the search started from (``grid`` says which grid:
    "grid" or "refined"), ``start_value`` its value, ``point`` the end point in region
    coordinates, ``value`` the loss there (= ``start_value`` when no search was run),
    ``cell_max`` the lowest level at which the reported grid's set holds a whole cell containing
    ``point`` (:func:`cell_max`).
    """

    grid: str
    start: tuple
    start_value: float
    point: tuple
    value: float
    cell_max: float
    searched: bool

    def to_dict(self) -> dict:
        return {"grid": self.grid, "start": list(self.start), "start_value": self.start_value,
                "point": list(self.point), "value": self.value, "cell_max": self.cell_max,
                "resolution": self.cell_max - self.value, "searched": self.searched}


@dataclass(frozen=True)
class Resolution:
    """The known minima of a landscape and, per level, whether the grid resolves it."""

    grid_min: float
    refined_min: float | None
    minima: tuple = ()
    search: str = "none"  # "L-BFGS-B" when a loss function was searched, else "none" (grid values only)
    notes: tuple = field(default_factory=tuple)

    @property
    def floor(self) -> float:
        """The lowest loss value known in the region (grids and local searches)."""
        vals = [self.grid_min] + ([self.refined_min] if self.refined_min is not None else [])
        return float(min(vals + [m.value for m in self.minima]))

    def check(self, c: float) -> tuple[bool, str | None]:
        """(resolved, why not) for the level ``c``; see the module docstring for the rule."""
        c = float(c)
        if c < self.grid_min:
            if self.floor <= c:
                where = min(self.minima, key=lambda m: m.value, default=None)
                found = ("the refined grid" if where is None or (self.refined_min is not None
                                                                 and self.refined_min <= where.value)
                         else f"the local search from {'the refined grid' if where.grid == 'refined' else 'the grid'}"
                              f"'s vertex {list(where.start)}")
                return False, (f"no grid vertex is in S_c (grid minimum {self.grid_min:.6g}), but {found} found a "
                               f"point with loss {self.floor:.6g} <= c: the grid misses a part of S_c thinner than "
                               "its spacing")
            return False, (f"c is below every loss value on the grid (minimum {self.grid_min:.6g}): the grid sees an "
                           "empty set, which no finite sample can confirm (a set thinner than the spacing may be "
                           "there)")
        for m in sorted(self.minima, key=lambda m: m.value):
            if m.value <= c < m.cell_max:
                return False, (f"c is within the grid's resolution of the local minimum {m.value:.6g} near "
                               f"{_short(m.point)}: the grid's set holds a whole cell there only from "
                               f"{m.cell_max:.6g} on, so S_c there is thinner than one cell and the grid cannot "
                               "show its shape")
        return True, None

    def to_dict(self) -> dict:
        return {"grid_min": self.grid_min, "refined_min": self.refined_min, "floor": self.floor,
                "search": self.search, "minima": [m.to_dict() for m in self.minima], "notes": list(self.notes),
                "rule": "a level c is unresolved (never stable) when it is below the grid's minimum, or when "
                        "u <= c < M for a known minimum u, M the lowest level at which the grid's set holds a "
                        "whole cell containing the minimum's point"}


def _short(point) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in point[:6]) + (", ...]" if len(point) > 6 else "]")


def grid_local_minima(values: np.ndarray, diagram, count: int) -> list[tuple[tuple, float]]:
    """The ``count`` lowest local minima of a grid function: the birth vertices of its H0 bars
    (lower-star filtration: each bar is born at a local minimum), as (multi-index, value)."""
    bars, at = diagram.bars[0], diagram.birth_at[0]
    order = np.argsort(bars[:, 0], kind="stable")[:count]
    out = []
    for i in order:
        idx = tuple(int(v) for v in at[i])
        out.append((idx, float(values[idx])))
    return out


def cell_max(values: np.ndarray, axes, point) -> float:
    """The smallest, over the grid cells that contain ``point``, of the largest grid value on the
    cell's vertices: the lowest level at which the grid's set holds a whole cell around ``point``.
    (Inside a cell: that cell; at a vertex or on a face: the best of the cells sharing it.)"""
    sl = []
    for axis, x in zip(axes, point):
        axis = np.asarray(axis, float)
        h = (axis[-1] - axis[0]) / (len(axis) - 1) if len(axis) > 1 else math.inf
        tol = 1e-9 * max(h, abs(x), 1.0)
        near = np.nonzero(np.abs(axis - x) <= h + tol)[0]  # 2 vertices inside a cell, 3 at a vertex (2 at an end)
        if near.size == 0:  # outside the axis (not for points of the region): the nearest end
            near = np.array([int(np.argmin(np.abs(axis - x)))])
        sl.append(slice(int(near[0]), int(near[-1]) + 1))
    block = values[tuple(sl)]
    for ax in range(block.ndim):  # the max over each cell's vertices is separable: one axis at a time
        n = block.shape[ax]
        if n == 3:  # two cells along this axis: their maxima
            block = np.maximum(np.take(block, [0, 1], axis=ax), np.take(block, [1, 2], axis=ax))
        elif n == 2:
            block = block.max(axis=ax, keepdims=True)
    return float(block.min())


def local_search(objective, x0, low, high, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """L-BFGS-B from ``x0`` inside the box [low, high]; ``objective(x)`` returns the loss, or
    (loss, gradient). Returns (end point, loss there); never worse than the start."""
    from scipy.optimize import minimize

    x0 = np.asarray(x0, float)
    probe = objective(x0)
    jac = isinstance(probe, tuple)
    f0 = float(probe[0] if jac else probe)

    def fun(x):
        r = objective(x)
        return (float(r[0]), np.asarray(r[1], float)) if jac else float(r)

    try:
        res = minimize(fun, x0, jac=jac, method="L-BFGS-B", bounds=list(zip(low, high)),
                       options={"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-10})
        x, f = np.asarray(res.x, float), float(res.fun)
    except (ValueError, FloatingPointError, ArithmeticError):  # a non-finite loss on the way: keep the start
        return x0, f0
    if not math.isfinite(f) or f > f0:
        return x0, f0
    return x, f


#: the named losses that are >= 0 at every parameter (with the targets their loaders accept) and why
_NONNEGATIVE = {
    "mse": "a mean of squares",
    "bce": "binary cross-entropy with labels in [0, 1]: each term -y log p - (1 - y) log(1 - p) >= 0",
    "bce_with_logits": "binary cross-entropy with labels in [0, 1]: each term is >= 0",
    "cross_entropy": "cross-entropy: -log of a softmax probability, >= 0 (with soft labels >= 0)",
}


def nonnegative_loss(experiment) -> str | None:
    """Why the experiment's loss is >= 0 at every parameter, or None when that is not known.

    Decided from the loss's *kind*, never from samples: an experiment file's MSE or BCE (labels in
    [0, 1], checked by the parser) plus ``l2 ||theta||^2`` with l2 >= 0; a model experiment's named
    ``mse``, ``bce``, ``bce_with_logits`` (targets in [0, 1], checked by the engine) or
    ``cross_entropy`` (class indices, or soft labels all >= 0), and ``nll`` when the model's output
    is its ``LogSoftmax`` over the classes (the last module of a plain ``nn.Sequential``, recognised
    by the engine that checked the model: -log of a softmax probability); never for ``nll`` of any
    other output (it takes whatever the model outputs as log-probabilities, which may be positive)
    nor for a callable loss. Then S_c is empty for every c < 0, exactly."""
    problem = getattr(experiment, "problem", None)
    if getattr(experiment, "kind", None) == "model":
        name = getattr(problem, "loss", None)
        if name == "nll":
            engine = getattr(experiment, "checked_engine", None)
            if engine is None or not engine.log_softmax_head():
                return None
            return ("the loss is non-negative (nll of the model's LogSoftmax head: -log of a softmax probability, "
                    ">= 0)")
        if not isinstance(name, str) or name not in _NONNEGATIVE:
            return None
        if name == "cross_entropy":
            y = experiment.y
            if y.is_floating_point() and y.numel() and float(y.min()) < 0:
                return None  # soft labels with a negative entry: -sum p_c log q_c can be < 0
        return f"the loss is non-negative ({_NONNEGATIVE[name]})"
    spec = getattr(experiment, "spec", None)
    name = getattr(spec, "loss", None)
    if spec is None or name not in ("mse", "bce"):
        return None
    penalty = " plus l2 ||theta||^2 >= 0" if spec.l2 != 0 else ""
    return f"the loss is non-negative ({_NONNEGATIVE[name]}{penalty})"


@contextlib.contextmanager
def torch_single_thread():
    """torch on one intra-op thread for the duration: the local search evaluates one point at a time, and
    with two threads torch's pool costs about 40x the work itself (measured 20 ms against 0.5 ms of CPU
    per value and gradient of a 353-parameter network)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def network_objective(experiment, sample):
    """The loss of an experiment in its region's coordinates (theta for a box, t for a slice
    theta0 + t @ D, with the centre and directions the ``sample`` used), with its gradient, in
    float64 on the CPU (torch autograd through a differentiable engine: the torch kernel for
    experiment files, the model engine for :func:`~.models.experiment_from_model`)."""
    import torch

    from .sampler import make_kernel

    model = getattr(experiment, "kind", None) == "model"
    kernel = make_kernel(experiment, engine="model" if model else "torch", device="cpu", dtype="float64")
    c_t: torch.Tensor | None = None
    D_t: torch.Tensor | None = None
    if sample.kind == "slice":
        c_t = torch.tensor(np.asarray(sample.center, float), dtype=torch.float64)
        D_t = torch.tensor(np.asarray(sample.directions, float), dtype=torch.float64)

    def objective(x):
        t = torch.tensor(np.asarray(x, float), dtype=torch.float64, requires_grad=True)
        theta = t if c_t is None or D_t is None else c_t + t @ D_t
        loss = kernel.evaluate(theta[None, :])[0]
        if not torch.isfinite(loss):
            raise FloatingPointError("non-finite loss")
        loss.backward()
        grad = t.grad
        assert grad is not None  # backward() has filled it
        return float(loss.detach()), grad.detach().numpy().copy()

    return objective


#: two polished minima closer than this fraction of the finest grid's spacing, on every axis, are one minimum
SAME_MINIMUM = 0.1


def _finest_spacing(axes) -> list[float]:
    return [float((a[-1] - a[0]) / (len(a) - 1)) if len(a) > 1 else math.inf for a in axes]


def _distinct(minima: list, spacing: list[float]) -> list:
    """The minima without repeats: searches from several grid minima often end at the same minimum
    (to about 1e-8 here). Two end points within :data:`SAME_MINIMUM` of the finest grid's spacing on
    every axis are one minimum -- below the grid's resolution, where the rule of :meth:`Resolution.check`
    could not tell them apart anyway --; the lower one is kept, and the order of first appearance."""
    kept: list = []
    for m in minima:
        for i, k in enumerate(kept):
            if all(abs(a - b) <= SAME_MINIMUM * h for a, b, h in zip(m.point, k.point, spacing)):
                if m.value < k.value:
                    kept[i] = m
                break
        else:
            kept.append(m)
    return kept


def resolve_levels(sample, diagram, refined=None, refined_diagram=None, objective=None,
                   starts: int = DEFAULT_STARTS) -> Resolution:
    """The :class:`Resolution` of a landscape: its known minima (the ``starts`` lowest local minima of
    the grid and of the refined grid, polished by :func:`local_search` on ``objective`` when given)."""
    values, axes = sample.values, sample.axes
    low = [float(a[0]) for a in axes]
    high = [float(a[-1]) for a in axes]
    # the finest grid's minima are the best starts (the refined grid contains the grid's vertices, and its
    # minima are at or below theirs); without a refined grid, the grid's own
    if refined is not None and refined_diagram is not None:
        cands = [("refined", idx, v, tuple(float(refined.axes[j][i]) for j, i in enumerate(idx)))
                 for idx, v in grid_local_minima(refined.values, refined_diagram, starts)]
    else:
        cands = [("grid", idx, v, tuple(float(axes[j][i]) for j, i in enumerate(idx)))
                 for idx, v in grid_local_minima(values, diagram, starts)]
    minima, seen = [], set()
    notes = []
    for which, idx, v, x0 in cands:
        if x0 in seen:  # the refined grid contains the grid's vertices
            continue
        seen.add(x0)
        x, u = np.asarray(x0), v
        if objective is not None:
            x, u = local_search(objective, x0, low, high)
            u = min(u, v)  # the grid value is a value of the loss too (float32 grids may sit below)
        minima.append(KnownMinimum(which, idx, v, tuple(float(t) for t in x), float(u),
                                   cell_max(values, axes, x), objective is not None))
    minima = _distinct(minima, _finest_spacing(refined.axes if refined is not None else axes))
    if objective is None:
        notes.append("no loss function to search: the known minima are grid vertices")
    return Resolution(float(values.min()), None if refined is None else float(refined.values.min()),
                      tuple(minima), "none" if objective is None else "L-BFGS-B", tuple(notes))
