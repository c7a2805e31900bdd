"""Path refinement of merge levels: a string method on the batched loss.

A segment [birth, death) of a sample-based barcode dies where the k-NN graph first joins its
minimum to an older one; the graph gives that level as the highest *sample* on the best graph path
between them (:func:`~bettibounds.barcode.graph.minimax_tree`). That is only an estimate of the
true merge level m* = inf over continuous paths of the largest loss on the path, and it can err
either way: a sparse graph detours (too high), and an edge can hop over a ridge whose top no sample
hit (too low -- two wells of min(|x-c_i|^2 + a_i) give graph estimates well below the true saddle
with a few hundred samples). A continuous path's maximum is an upper bound of m*, so an explicit
path with a low maximum is the better-founded estimate.

The string method (E, Ren, Vanden-Eijnden 2002/2007) relaxes a chain of images toward the minimum
energy path: every interior image takes a gradient step, then the chain is re-spaced to equal arc
length along the polyline, the end images stay fixed. We start from the polyline through the graph
path's samples, move with steps normalised by the largest gradient (so the step is a fraction of the
image spacing whatever the loss scale), evaluate the polyline densely every few iterations and keep
the best chain seen (the graph polyline itself included), halving the step when it stops improving.
The level reported is the largest loss on the dense evaluation of the best polyline: the level of an
explicit path the user can re-evaluate, never above the level of the graph path's own polyline, and
an upper estimate of m* up to the dense sampling (a polyline's maximum can exceed its dense maximum by
at most the Lipschitz constant times half a sampling step).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidSpecError
from .core import Barcode

__all__ = ["RefinedPath", "refine_path", "refine_barcode", "polyline_levels", "far_above_warning", "FAR_ABOVE_RATIO"]


@dataclass(frozen=True)
class RefinedPath:
    """The best chain of images found, and the levels of the initial and best polylines."""

    images: np.ndarray  # (n + 2, P), end images first and last
    level: float  # max loss on the dense evaluation of the best polyline
    initial_level: float  # the same for the initial polyline (the waypoints)
    saddle: np.ndarray  # (P,) the point of the dense evaluation where the level is reached
    iterations: int
    dense: int  # evaluation points per segment
    #: why the iterations ended: "budget" (all run), "stalled" (the step, halved at each restart from the best
    #: chain, fell below 1e-3: no lower level found), "stationary" (zero gradient at every image, or images that
    #: coincide), "non-finite" (a gradient that is not finite)
    stopped: str = "budget"

    def to_dict(self) -> dict:
        return {"level": self.level, "initial_level": self.initial_level, "iterations": self.iterations,
                "images": int(self.images.shape[0]), "dense_per_segment": self.dense, "stopped": self.stopped}


def _respace(x: np.ndarray, n: int) -> np.ndarray:
    """n points equally spaced in arc length along the polyline x (W, P), ends kept."""
    seg = np.linalg.norm(np.diff(x, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0.0:
        return np.repeat(x[:1], n, axis=0)
    target = np.linspace(0.0, s[-1], n)
    idx = np.clip(np.searchsorted(s, target, side="right") - 1, 0, len(seg) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(seg[idx] > 0, (target - s[idx]) / seg[idx], 0.0)
    out = x[idx] + w[:, None] * (x[idx + 1] - x[idx])
    out[0], out[-1] = x[0], x[-1]
    return out


def _dense_points(x: np.ndarray, dense: int) -> np.ndarray:
    t = np.arange(dense, dtype=np.float64) / dense
    pts = (x[:-1, None, :] + t[None, :, None] * (x[1:] - x[:-1])[:, None, :]).reshape(-1, x.shape[1])
    return np.concatenate([pts, x[-1:]])


def _values(kernel, pts: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        th = torch.as_tensor(pts, dtype=kernel.dtype, device=kernel.device)
        return kernel.evaluate(th).to(dtype=torch.float64, device="cpu").numpy()


def polyline_levels(kernel, images, dense: int = 8) -> tuple[float, np.ndarray]:
    """Largest loss on the polyline through ``images`` evaluated at ``dense`` points per segment,
    and the point where it is reached."""
    x = np.asarray(images, dtype=np.float64)
    pts = _dense_points(x, dense)
    v = _values(kernel, pts)
    i = int(np.argmax(v))
    return float(v[i]), pts[i]


def refine_path(kernel, waypoints, *, images: int = 24, iterations: int = 300, step: float = 0.2,
                dense: int = 8, check_every: int = 10, low=None, high=None) -> RefinedPath:
    """Lower the maximum loss along a path between two fixed end points (string method).

    Parameters
    ----------
    kernel : LossKernel or any object with a differentiable batched ``evaluate(theta (B, P))``
        and ``dtype`` / ``device`` attributes.
    waypoints : array (W, P), W >= 2
        The initial polyline (e.g. the graph path); its first and last points are kept fixed.
    images : int
        Interior images of the chain (>= 1).
    iterations : int
        Maximum number of string iterations.
    step : float
        Initial step, as a fraction of the image spacing, for the image with the largest gradient.
    dense : int
        Evaluation points per segment when measuring a polyline's level.
    check_every : int
        Iterations between dense evaluations (the best chain is kept).
    low, high : (P,) arrays, optional
        A box the images are projected onto (the polyline then stays in it).
    """
    import torch

    x = np.asarray(waypoints, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or not np.isfinite(x).all():
        raise InvalidSpecError(f"waypoints must be a finite (W >= 2, P) array, got shape {x.shape}")
    for name, v, lo_ in (("images", images, 1), ("iterations", iterations, 0), ("dense", dense, 1),
                         ("check_every", check_every, 1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo_:
            raise InvalidSpecError(f"{name} must be an integer >= {lo_}, got {v!r}")
    if not (isinstance(step, numbers.Real) and 0 < step <= 1):
        raise InvalidSpecError(f"step must be in (0, 1], got {step!r}")
    P = getattr(kernel, "n_params", None)
    if P is not None and x.shape[1] != P:
        raise InvalidSpecError(f"waypoints have {x.shape[1]} coordinates but the loss has P = {P} parameters")
    if (low is None) != (high is None):
        raise InvalidSpecError("give both low and high (the box), or neither")
    if low is not None:
        from .sampling import box_bounds

        low, high = box_bounds(x.shape[1], low, high)
        x = np.clip(x, low, high)
    best_level, best_saddle = polyline_levels(kernel, x, dense)
    initial, best = best_level, x.copy()
    chain = _respace(x, images + 2)
    stale, it, stopped = 0, 0, "budget"
    for it in range(1, iterations + 1):
        th = torch.as_tensor(chain[1:-1], dtype=kernel.dtype, device=kernel.device).requires_grad_(True)
        kernel.evaluate(th).sum().backward()
        g = th.grad.to(dtype=torch.float64, device="cpu").numpy()
        gmax = float(np.linalg.norm(g, axis=1).max())
        spacing = float(np.linalg.norm(np.diff(chain, axis=0), axis=1).mean())
        if gmax == 0.0 or spacing == 0.0 or not math.isfinite(gmax):
            stopped = "stationary" if math.isfinite(gmax) else "non-finite"
            break
        chain = chain.copy()
        chain[1:-1] -= (step * spacing / gmax) * g
        chain = _respace(chain, images + 2)
        if low is not None:
            chain = np.clip(chain, low, high)
        if it % check_every == 0 or it == iterations:
            level, saddle = polyline_levels(kernel, chain, dense)
            if level < best_level:
                best_level, best_saddle, best, stale = level, saddle, chain.copy(), 0
            else:
                stale += 1
                if stale >= 2:  # restart from the best chain with a smaller step
                    chain, step, stale = _respace(best, images + 2), step / 2, 0
                    if step < 1e-3:
                        stopped = "stalled"
                        break
    return RefinedPath(best, best_level, initial, best_saddle, it, dense, stopped)


def refine_barcode(barcode: Barcode, kernel, top: int | None = 5, *, images: int = 24, iterations: int = 300,
                   step: float = 0.2, dense: int = 8, return_paths: bool = False):
    """Refine the death levels of the ``top`` longest finite segments of a sample-based barcode
    (``top=None``: every finite segment).

    For each such segment, the path between its minimum and an older minimum its cluster merges
    into (its *partner*) is taken from the graph's minimax spanning tree and relaxed with
    :func:`refine_path` inside the sampling box. The refined polyline's level (at least the birth)
    becomes the segment's death (``refined=True``, ``estimate`` keeps the graph value) *even when it
    is above the graph estimate*: the graph estimate is the highest sample on a graph path, which
    can hop over a ridge no sample hit, while the refined level is the top of an explicit path
    (docs/theory.md §12). ``meta["refinement"]`` lists every attempt.
    Returns the new barcode (and the :class:`RefinedPath` per attempt if ``return_paths``).
    """
    from .core import BarcodeBar
    from .graph import minimax_tree, tree_path

    if barcode.source != "knn" or barcode.samples is None or barcode.edges is None:
        raise InvalidSpecError("refine_barcode needs a sample-based barcode (from sample_barcode) with its "
                               "samples and k-NN edges; grid barcodes are exact on their grid")
    if top is not None and (isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 0):
        raise InvalidSpecError(f"top must be a non-negative integer or None (every segment), got {top!r}")
    s = barcode.samples
    tree = minimax_tree(s.values, barcode.edges)
    coo = tree.tocoo()
    tree_edges = np.stack([coo.row, coo.col], axis=1)
    tree_edges = tree_edges[tree_edges[:, 0] < tree_edges[:, 1]]
    finite = [b for b in barcode.bars if b.dim == 0 and not b.essential and not b.refined]
    chosen = sorted(finite, key=lambda b: b.length, reverse=True)[:None if top is None else int(top)]
    new_bars = {id(b): b for b in barcode.bars}
    attempts, paths = [], []
    for bar in chosen:
        b_id = bar.birth_at[0]
        partner = _partner(s.values, tree_edges, b_id, bar.death)
        if partner is None:  # pragma: no cover - every finite H0 bar has an older partner
            continue
        path = tree_path(tree, b_id, partner)
        graph_level = float(np.max(s.values[path]))
        rp = refine_path(kernel, s.points[path], images=images, iterations=iterations, step=step, dense=dense,
                         low=s.low, high=s.high)
        # the polyline starts at the minimum, so its level is >= the birth up to rounding
        level = max(rp.level, bar.birth)
        attempts.append({"birth_id": b_id, "partner_id": partner, "birth": bar.birth, "graph_estimate": bar.death,
                         "graph_path_vertices": len(path), "graph_path_level": graph_level,
                         "refined_level": rp.level, "initial_polyline_level": rp.initial_level,
                         "iterations": rp.iterations})
        paths.append(rp)
        new_bars[id(bar)] = BarcodeBar(0, bar.birth, level, bar.birth_at, bar.death_at, True, bar.death,
                                       bar.cluster_size)
    out = barcode.with_bars(new_bars.values(), refinement=attempts,
                            refinement_method=f"string method, {images} images, {dense} evaluations per segment")
    warn = far_above_warning(attempts)
    if warn:
        import warnings

        from .sampling import BarcodeWarning

        out.meta.setdefault("warnings", []).append(warn)
        warnings.warn(warn, BarcodeWarning, stacklevel=2)
    return (out, paths) if return_paths else out


#: a graph estimate is "far above" a refined level when its segment is this many times longer
FAR_ABOVE_RATIO = 3.0


def far_above_warning(attempts: list[dict]) -> str | None:
    """The warning when graph estimates lie far above the refined levels, or None.

    Rule: a refined segment whose graph-estimated length (estimate - birth) exceeds
    ``FAR_ABOVE_RATIO`` times its refined length: the k-NN graph joined the minimum to its partner
    through samples far above the saddle, so the unrefined segments of the same barcode are likely
    too long as well (issue 22 saw 17-37 x in P = 785).
    """
    ratios, flat = [], 0
    for a in attempts:
        refined, est, base = a["refined_level"], a["graph_estimate"], a.get("birth")
        if base is None or not est - base > 0:
            continue
        if refined - base <= 0:
            flat += 1  # refined to no barrier at all
        elif est - base > FAR_ABOVE_RATIO * (refined - base):
            ratios.append((est - base) / (refined - base))
    if not ratios and not flat:
        return None
    parts = []
    if ratios:
        parts.append(f"{len(ratios)} had graph estimates more than {FAR_ABOVE_RATIO:g} x longer than their refined "
                     f"length (up to {max(ratios):.3g} x)")
    if flat:
        parts.append(f"{flat} refined to no barrier at all")
    return (f"of {len(attempts)} refined segments, " + " and ".join(parts) + ": the k-NN graph's death levels are "
            "poor here; unrefined segments are likely too long too (refine them all)")


def _partner(values: np.ndarray, tree_edges: np.ndarray, b: int, d: float) -> int | None:
    """An older minimum that the segment born at vertex ``b`` merges into at level ``d``.

    The lowest vertex q (ties: lowest id) with f(q) <= f(b) that is joined to b by edges of level
    <= d but not by edges of level < d: the forest path from b to q then has maximum exactly d.
    Defined from the levels alone, so it holds for any tie-breaking of the H0 backend (gudhi and
    the union-find sweep may pick different vertices among equal values).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = values.shape[0]
    w = np.maximum(values[tree_edges[:, 0]], values[tree_edges[:, 1]]) if len(tree_edges) else np.empty(0)

    def labels(mask):
        e = tree_edges[mask]
        g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        return connected_components(g, directed=False)[1]

    upto, below = labels(w <= d), labels(w < d)
    cand = np.flatnonzero((upto == upto[b]) & (below != below[b]) & (values <= values[b]))
    if not len(cand):
        return None
    return int(cand[np.lexsort((cand, values[cand]))[0]])
