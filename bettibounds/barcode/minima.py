"""The minima-graph barcode (Barannikov et al. 2020): minima of independent descents, joined by
relaxed paths, and each minimum's segment from the minimax over the graph of minima.

Protocol:

1. N minima from independent optimiser runs (:func:`descend`: Adam from N starts, full batch);
2. optionally the quotient by the symmetry group (:mod:`bettibounds.barcode.quotient`): every
   minimum is replaced by its canonical representative, and minima whose representatives coincide
   (images of one another) are one minimum;
3. for every pair (i, j) a path from theta_i to theta_j relaxed by the string method
   (:func:`~bettibounds.barcode.relax.relax_paths`, all pairs in one batch, each path stopped by
   an explicit convergence test and its record kept); its level w_ij is the largest loss on a
   dense evaluation of the relaxed polyline -- the top of an explicit path, so an upper estimate
   of the true merge level of the two minima;
4. the barcode: H0 of the complete graph on the minima, vertex i at Loss(theta_i), edge (i, j) at
   w_ij (elder rule). Minimum i dies at the minimax level from i to the set of lower minima:
   d_i = min over chains i = v_0, ..., v_r (Loss(v_r) < Loss(v_0)) of max_t w(v_t, v_{t+1}).

**Two readings.** The 2020 paper reads each minimum's segment from the lowest path to a lower
minimum, d_i^direct = min over j with Loss_j < Loss_i of w_ij. The graph reading d_i can only be
lower (a chain through other minima is also a path); :class:`MinimaGraph` keeps both and lists
the minima where they differ. The graph reading is H0 of the union of the paths, and so the one
consistent with the barcode of the loss restricted to that union.

The evaluation goes through the small interface of :mod:`bettibounds.barcode.evaluate`, so any
model with ``values`` / ``values_and_gradients`` can be measured.
"""

from __future__ import annotations

import itertools
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSpecError
from .core import Barcode, BarcodeBar, sorted_bars
from .evaluate import as_evaluator, values_and_gradients_into
from .relax import ADAPTIVE_RULE, CONVERGENCE_RULE, relax_paths, relax_paths_adaptive
from .workspace import Workspace

__all__ = ["descend", "relax_paths", "minima_graph_barcode", "MinimaGraph", "graph_h0"]


def _positive(name: str, v, integer: bool = True):
    ok = (isinstance(v, numbers.Integral) if integer else isinstance(v, numbers.Real)) and not isinstance(v, bool)
    if not ok or not (math.isfinite(v) and v > 0):
        raise InvalidSpecError(f"{name} must be a positive {'integer' if integer else 'number'}, got {v!r}")
    return int(v) if integer else float(v)


def descend(evaluator, starts, *, steps: int = 300, lr: float = 0.01, low=None, high=None,
            schedule: str = "constant", workspace: Workspace | None = None):
    """Adam (full batch) from every row of ``starts``, independently; returns (points, losses).

    Each row is one optimiser run: the interface evaluates the rows' losses and their own
    gradients, Adam's moments are elementwise, so runs do not interact. ``low``/``high``: optional
    box to project onto after every step. ``schedule``: ``"constant"`` learning rate, or
    ``"cosine"`` (lr (1 + cos(pi t / steps)) / 2 at step t: Adam with a constant rate keeps
    oscillating around a minimum, with a decaying one the end points settle, so that they are
    minima to within what the gradient norm at them says). ``workspace``: where the gradients and
    the step's temporaries live across the steps (default a new
    :class:`~bettibounds.barcode.workspace.Workspace`; reusing them changes no number).
    """
    ev = as_evaluator(evaluator)
    work = Workspace() if workspace is None else workspace
    th = np.array(starts, dtype=np.float64).reshape(-1, ev.n_params)
    steps, lr = _positive("steps", steps), _positive("lr", lr, integer=False)
    if schedule not in ("constant", "cosine"):
        raise InvalidSpecError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    b1, b2, eps = 0.9, 0.999, 1e-8
    m1, m2 = np.zeros_like(th), np.zeros_like(th)
    # th -= rate * (m1 / (1 - b1^t)) / (sqrt(m2 / (1 - b2^t)) + eps) and the moments' updates, in place and
    # operation for operation as written out (the same bits as the expressions with temporaries)
    step, scale = work.get("descend.step", th.shape), work.get("descend.scale", th.shape)
    for t in range(1, steps + 1):
        v, g = values_and_gradients_into(ev, th, work.get("descend.gradients", th.shape))
        if not np.isfinite(v).all():
            raise InvalidSpecError("the loss became non-finite during descent; lower lr")
        m1 *= b1                                  # m1 = b1 m1 + (1 - b1) g
        np.multiply(1 - b1, g, out=step)
        m1 += step
        m2 *= b2                                  # m2 = b2 m2 + ((1 - b2) g) g
        np.multiply(1 - b2, g, out=step)
        step *= g
        m2 += step
        rate = lr if schedule == "constant" else lr * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / steps))
        np.divide(m1, 1 - b1 ** t, out=step)
        np.multiply(rate, step, out=step)
        np.divide(m2, 1 - b2 ** t, out=scale)
        np.sqrt(scale, out=scale)
        scale += eps
        step /= scale
        th -= step
        if low is not None:
            np.clip(th, low, high, out=th)
    return th, ev.values(th)


def graph_h0(values, levels) -> tuple[list[tuple[int, float, tuple[int, int] | None]], np.ndarray]:
    """H0 of a complete graph: vertex i at ``values[i]``, edge (i, j) at ``levels[i, j]`` (>= both ends).

    Returns ``(bars, direct)``: bars as (vertex, death, (i, j) of the merging edge or None for the
    essential bar), one per vertex (elder rule, ties by index); ``direct[i]`` = min over lower j of
    levels[i, j] (inf for a vertex with no lower one), the 2020 paper's reading.
    """
    f = np.asarray(values, dtype=np.float64)
    W = np.asarray(levels, dtype=np.float64)
    n = f.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), f))] = np.arange(n)
    pairs = [(max(W[i, j], f[i], f[j]), i, j) for i, j in itertools.combinations(range(n), 2)]
    pairs.sort()
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    deaths: dict[int, tuple[float, tuple[int, int]]] = {}
    for w, i, j in pairs:
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        young, old = (ri, rj) if rank[ri] > rank[rj] else (rj, ri)
        deaths[young] = (float(w), (i, j))
        parent[young] = old
    bars: list[tuple[int, float, tuple[int, int] | None]] = [
        (v, *deaths[v]) if v in deaths else (v, math.inf, None) for v in range(n)]
    direct = np.full(n, math.inf)
    for i in range(n):
        lower = [j for j in range(n) if rank[j] < rank[i]]
        if lower:
            direct[i] = min(max(W[i, j], f[i], f[j]) for j in lower)
    return bars, direct


@dataclass(frozen=True)
class MinimaGraph:
    """The minima-graph barcode and everything needed to read and check it.

    ``minima`` (N, P) and ``values`` (N,): the minima used (canonical representatives under a
    quotient); ``levels`` (N, N): relaxed path levels (inf on the diagonal); ``straight`` (N, N):
    the straight-line levels they started from; ``barcode``: bars born at each minimum
    (locations: minimum ids; a finite bar's ``death_at`` is the pair whose path carries the merge);
    ``graph_deaths`` / ``direct_deaths``: the graph (minimax) and the 2020 paper's (direct)
    readings; ``identified``: groups of input runs merged as one minimum by the quotient;
    ``relaxation``: the :class:`~bettibounds.barcode.relax.PathRelaxation` of the pairs (paths
    in the order of ``itertools.combinations(range(N), 2)``), None for one minimum.
    """

    minima: np.ndarray
    values: np.ndarray
    levels: np.ndarray
    straight: np.ndarray
    barcode: Barcode
    graph_deaths: np.ndarray
    direct_deaths: np.ndarray
    identified: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    relaxation: object = None

    @property
    def differences(self) -> list[dict]:
        """The minima whose two readings differ (the graph reading is lower there)."""
        out = []
        for i, (g, d) in enumerate(zip(self.graph_deaths, self.direct_deaths)):
            # material differences only: the segment shortens by more than 0.1 % (rounding in the
            # relaxation makes two readings of one path differ in the last digits)
            if math.isfinite(d) and d - g > 1e-3 * (d - self.values[i]):
                out.append({"minimum": i, "loss": float(self.values[i]), "graph_death": float(g),
                            "direct_death": float(d)})
        return out

    def to_score(self, norm: str = "sum", reading: str = "graph") -> float:
        """TO-score of the finite segments in the ``"graph"`` or ``"direct"`` reading."""
        from .core import to_score

        deaths = {"graph": self.graph_deaths, "direct": self.direct_deaths}.get(reading)
        if deaths is None:
            raise InvalidSpecError(f"reading must be 'graph' or 'direct', got {reading!r}")
        return to_score([d - v for d, v in zip(deaths, self.values) if math.isfinite(d)], norm)

    def to_text(self) -> str:
        """A plain-text summary: one line per minimum (loss, both readings of its death, whether the
        path carrying its death converged), the TO-scores, the paths' convergence and any warning."""
        conv = self.meta.get("convergence", {})
        dpc = conv.get("death_path_converged", {})
        lines = [f"minima graph (Barannikov et al. 2020): {self.values.shape[0]} minima from "
                 f"{self.meta.get('n_runs', self.values.shape[0])} runs; deaths are tops of relaxed explicit paths "
                 "(upper estimates of the merge levels)",
                 f"{'minimum':>7}  {'loss':>12}  {'death (graph)':>14}  {'death (direct)':>14}  {'segment':>12}  "
                 "death path converged"]
        for i, (v, g, d) in enumerate(zip(self.values, self.graph_deaths, self.direct_deaths)):
            seg = g - v if math.isfinite(g) else math.inf
            ok = dpc.get(i, dpc.get(str(i)))
            lines.append(f"{i:>7}  {v:>12.6g}  {g:>14.6g}  {d:>14.6g}  {seg:>12.6g}  "
                         f"{'-' if ok is None else ('yes' if ok else 'NO')}")
        lines.append(f"TO-score (sum of finite segments): graph reading {self.to_score('sum', 'graph'):.6g}, "
                     f"direct reading {self.to_score('sum', 'direct'):.6g}")
        if conv.get("paths_total"):
            lines.append(f"paths converged: {conv['converged']} of {conv['paths_total']}")
        lines += [f"warning: {w}" for w in self.meta.get("warnings", [])]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        def fin(x):
            return None if not math.isfinite(x) else float(x)

        return {"n_minima": int(self.values.shape[0]), "values": self.values.tolist(),
                "graph_deaths": [fin(x) for x in self.graph_deaths],
                "direct_deaths": [fin(x) for x in self.direct_deaths],
                "to_score": {"graph": self.to_score("sum", "graph"), "direct": self.to_score("sum", "direct"),
                             "norm": "sum", "status": "reconstructed", "citation": "Barannikov2020"},
                "readings_differ_at": self.differences, "identified": self.identified,
                "levels": [[fin(x) for x in row] for row in self.levels],
                "straight_levels": [[fin(x) for x in row] for row in self.straight],
                "barcode": self.barcode.to_dict(), "meta": self.meta}


def minima_graph_barcode(evaluator, minima, *, spec=None, quotient: str = "none", identify_tol: float = 1e-6,
                         images: int = 12, iterations: int = 60, step: float | None = None, dense: int = 4,
                         check_every: int = 5, method: str = "adam", rtol: float = 0.05, atol: float = 1e-3,
                         min_iterations: int | None = None, fast=None, max_images: int | None = None) -> MinimaGraph:
    """The minima-graph barcode of the minima (rows of ``minima``); see the module docstring.

    Parameters
    ----------
    evaluator : LossKernel or PointEvaluator
    minima : array (N, P)
        End points of independent descents (:func:`descend`).
    spec : ArchitectureSpec, optional
        Needed for ``quotient="canonical"``.
    quotient : {"none", "canonical"}
        ``"canonical"``: replace every minimum by its canonical representative and merge minima
        whose representatives lie within ``identify_tol * (1 + |theta|)`` of each other (images
        of one minimum under the symmetry group); the path between two minima then joins their
        representatives.
    images, iterations, step, dense, check_every, method, rtol, atol, min_iterations, fast
        The string method and its convergence test (:func:`~bettibounds.barcode.relax.relax_paths`).
    max_images : int, optional
        Adaptive resolution (:func:`~bettibounds.barcode.relax.relax_paths_adaptive`): start at
        ``images`` and double the images of the paths whose level still falls, up to ``max_images``;
        default None: every path at ``images`` (the fixed-resolution test).

    ``meta["convergence"]`` records every path's convergence (``paths``: the pair, converged or
    not, status, iterations, its level and its level at half its iterations), how many converged,
    the rule, and the TO-score (graph reading) from the half-way levels beside the final one; each
    finite bar's ``death_path_converged`` says whether the path carrying its death converged.
    ``relaxation`` holds the :class:`~bettibounds.barcode.relax.PathRelaxation` itself.
    """
    from .quotient import QuotientInfo, canonical_form, quotient_info

    ev = as_evaluator(evaluator)
    X = np.array(minima, dtype=np.float64).reshape(-1, ev.n_params)
    if X.shape[0] < 1:
        raise InvalidSpecError("minima_graph_barcode needs at least one minimum")
    t0 = time.perf_counter()
    qinfo: QuotientInfo | None
    if quotient == "canonical":
        if spec is None:
            raise InvalidSpecError("quotient='canonical' needs the network's spec")
        X, qinfo = canonical_form(spec, X)
    elif quotient == "none":
        qinfo = quotient_info(spec, "none", 0, X.shape[0]) if spec is not None else None
    else:
        raise InvalidSpecError(f"unknown quotient {quotient!r}; valid: none, canonical")
    # identify coinciding minima (the quotient's point: images of one minimum are one minimum)
    groups: list[list[int]] = []
    for i in range(X.shape[0]):
        for g in groups:
            if np.linalg.norm(X[i] - X[g[0]]) <= identify_tol * (1.0 + np.linalg.norm(X[g[0]])):
                g.append(i)
                break
        else:
            groups.append([i])
    keep = [g[0] for g in groups]
    X = X[keep]
    f = ev.values(X)
    n = X.shape[0]
    pairs = list(itertools.combinations(range(n), 2))
    levels = np.full((n, n), math.inf)
    straight = np.full((n, n), math.inf)
    relaxation = None
    convergence: dict = {"paths_total": len(pairs), "converged": 0, "paths": [],
                         "rule": CONVERGENCE_RULE if max_images is None else ADAPTIVE_RULE}
    if pairs:
        a = X[[i for i, _ in pairs]]
        b = X[[j for _, j in pairs]]
        opts = dict(iterations=iterations, step=step, dense=dense, check_every=check_every, method=method,
                    rtol=rtol, atol=atol, min_iterations=min_iterations, fast=fast)
        if max_images is None:
            relaxation = relax_paths(ev, a, b, images=images, **opts)
        else:
            relaxation = relax_paths_adaptive(ev, a, b, images=images, max_images=max_images, **opts)
        half = np.full((n, n), math.inf)
        for m, (i, j) in enumerate(pairs):
            levels[i, j] = levels[j, i] = max(float(relaxation.levels[m]), f[i], f[j])
            straight[i, j] = straight[j, i] = max(float(relaxation.straight[m]), f[i], f[j])
            half[i, j] = half[j, i] = max(float(relaxation.half_levels[m]), f[i], f[j])
        half_deaths = [d for _, d, _ in graph_h0(f, half)[0]]
        convergence.update(
            converged=int(relaxation.converged.sum()),
            paths=[{"pair": [i, j], **relaxation.path_record(m)} for m, (i, j) in enumerate(pairs)],
            to_score_half=float(sum(d - v for d, v in zip(half_deaths, f) if math.isfinite(d))))
    path_converged: dict[tuple[int, int], bool] = {} if relaxation is None else {
        (i, j): bool(relaxation.converged[m]) for m, (i, j) in enumerate(pairs)}
    raw, direct = graph_h0(f, levels)
    graph_deaths = np.array([d for _, d, _ in raw])
    bars = [BarcodeBar(0, float(f[v]), d, (v,), None if e is None else tuple(int(x) for x in e))
            for v, d, e in raw]
    convergence["death_path_converged"] = {int(v): path_converged[min(e), max(e)] for v, _, e in raw
                                           if e is not None}
    warned: list[str] = []
    unconverged = sorted(v for v, ok in convergence["death_path_converged"].items() if not ok)
    if unconverged:
        import warnings

        from .sampling import BarcodeWarning

        warned.append(f"{len(unconverged)} of {len(convergence['death_path_converged'])} finite segments (minima "
                      f"{unconverged}) are read from relaxed paths that did not converge: their levels were still "
                      "falling with the iterations or the path's resolution, so these deaths are upper "
                      "estimates that a longer or finer relaxation may lower (why each path stopped: "
                      "meta['convergence']['paths'][i]['reason']; max_images= relaxes at adaptive resolution)")
        warnings.warn(warned[-1], BarcodeWarning, stacklevel=2)
    meta = {"protocol": "minima graph (Barannikov et al. 2020)", "n_runs": int(len(minima)), "n_minima": n,
            "quotient": None if qinfo is None else qinfo.to_dict(), "identify_tol": identify_tol,
            "string_method": relaxation.meta if relaxation is not None else
            {"images": images, "iterations": iterations, "method": method},
            "convergence": {**convergence, "to_score": float(sum(d - v for d, v in zip(graph_deaths, f)
                                                                  if math.isfinite(d)))},
            "death_levels": "tops of relaxed explicit paths between minima (upper estimates of the merge levels)",
            "warnings": warned,
            "seconds": time.perf_counter() - t0}
    bc = Barcode(sorted_bars(bars), "minima-graph", "minimum id", float(f.min()),
                 float(max(f.max(), np.nanmax(np.where(np.isfinite(levels), levels, -np.inf), initial=f.max()))),
                 meta)
    return MinimaGraph(X, f, levels, straight, bc, graph_deaths, direct,
                       [g for g in groups if len(g) > 1], meta, relaxation)
