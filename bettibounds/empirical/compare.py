"""Betti numbers of a sampled landscape, their trustworthiness, and the theory beside them.

For each requested level c the result gives b_k(c) of the grid sublevel set (lower-star
V-construction, DESIGN.md) and two flags:

* **clipped** -- some boundary vertex of the grid lies in the sublevel set, so the
  grid set may cut components of S_c (or of the slice's sublevel set) and is not a union
  of whole components;
* **stable** -- the Betti numbers are the same on a refined grid ((n - 1) * f + 1 points
  per axis, containing the original points); thin valleys make low levels unstable.

and, for every stable and unclipped level, whether sum_k b_k <= the rigorous upper bound
of the engine (theorem K with n = P for a box, n = k for a slice, THEORY sec. 2) and the
slack in log10 (exact in integers when the bound has its exact value). The bound must hold;
a violation is reported loudly (``violations``). The bound is on the sum over every k: when
``homology_dims`` leaves some out, a level whose partial sum is within the bound is not
decided (``holds`` None), one whose partial sum exceeds it is still a violation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..api import bounds
from ..errors import InvalidSpecError
from ..numbers import safe_float
from ._memory import check_grid_fits
from .persistence import betti_curve, sublevel_persistence
from .sampler import LandscapeSample, make_kernel, refined_grid, sample_landscape

__all__ = ["LandscapeResult", "analyze_landscape", "compare_with_bound", "touches_boundary"]


def touches_boundary(values: np.ndarray, level: float) -> bool:
    """True if a vertex on the boundary of the grid box has value <= level."""
    for axis in range(values.ndim):
        for end in (0, -1):
            if np.any(np.take(values, end, axis=axis) <= level):
                return True
    return False


def compare_with_bound(total: int, bound, complete: bool) -> dict:
    """``sum_k b_k <= bound`` for one stable, unclipped level.

    Exact in integers when the bound has its exact value (a float comparison of the logs can
    put a tie on the wrong side: log10(40) rounds above the bound's rounded log10 of 40), else in
    mpmath on the logs (such a bound has thousands of digits). When ``homology_dims`` leaves out
    some k, ``total`` is a partial sum: above the bound it is still a violation (b_k >= 0), below
    it nothing is decided (``holds`` None) and no slack is reported.
    """
    import mpmath

    exact = bound.value
    if exact is not None:
        over = total > int(exact)
    else:
        over = total > 0 and mpmath.log10(total) > bound.log10
    holds = False if over else (True if complete else None)
    slack = None
    if total > 0 and holds is not None:
        slack = 0.0 if exact is not None and total == int(exact) else float(bound.log10 - mpmath.log10(total))
    return {"sum_betti": total, "complete": complete, "holds": holds, "slack_log10": slack}


@dataclass
class LandscapeResult:
    """Everything ``bettibounds landscape`` reports."""

    sample: LandscapeSample
    diagram: object
    levels: list
    dims: list
    bound: object  # BoundResult used for the comparison
    n_variables: int
    refined: LandscapeSample | None = None
    refined_diagram: object = None
    timings: dict = field(default_factory=dict)

    @property
    def violations(self) -> list:
        return [r for r in self.levels if r["comparison"] is not None and r["comparison"]["holds"] is False]

    def to_dict(self) -> dict:
        b = self.bound
        return {
            "n_params": int(self.n_params),
            "n_variables": self.n_variables,
            "sample": self.sample.to_dict(),
            "directions": self.sample.to_dict()["directions"],
            "levels": self.levels,
            "homology_dims": self.dims,
            "upper_bound": None if b is None else {
                "theorem": b.theorem, "status": b.status, "rigorous": b.rigorous, "route": b.route,
                "log10": safe_float(b.log10, "up"), "value": None if b.value is None else str(b.value),
                "hypotheses": [str(h) for h in b.hypotheses]},
            "backend": self.diagram.backend,
            "device": self.sample.device,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "diagram": self.diagram.to_dict(),
            "violations": len(self.violations),
            "refine": self.refine,
            "refined_grid": None if self.refined is None else list(self.refined.values.shape),
        }

    n_params: int = 0
    refine: int = 1  # the stability check's refinement factor (1: not checked)


def analyze_landscape(experiment, *, refine: int = 2, device=None, dtype: str | None = None, progress: bool = False,
                      sampler=None, engine: str = "auto") -> LandscapeResult:
    """Sample, compute persistence, Betti numbers at the levels, the flags and the theory.

    ``sampler(grid) -> LandscapeSample`` replaces the network kernel (tests use analytic
    landscapes built on purpose); by default :func:`sample_landscape` on the experiment, with
    one kernel of ``engine`` ("auto", the default, "torch" or "fused"; :func:`~.sampler.make_kernel`)
    for both grids.
    """
    timings: dict = {}
    spec = experiment.spec
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 1:
        raise InvalidSpecError(f"refine must be an integer >= 1 (1 disables the stability check), got {refine!r}")
    if experiment.grid is None:
        raise InvalidSpecError("the experiment has no \"grid\": a landscape needs one (a list of point "
                               "counts, one per axis of the region)")
    check_grid_fits(list(experiment.grid))  # both grids must fit before any work starts
    if refine > 1:
        check_grid_fits(refined_grid(list(experiment.grid), refine), f"the refined grid (--refine {refine})")
    if sampler is None:
        kernel = make_kernel(experiment, engine=engine, device=device, dtype=dtype)  # refuses before any work

        def sampler(grid):
            return sample_landscape(experiment, grid=grid, progress=progress, kernel=kernel)
    sample = sampler(list(experiment.grid))
    timings["sampling"] = sample.seconds
    dims = experiment.homology_dims if experiment.homology_dims is not None else list(range(sample.dimension))
    if any(k >= sample.dimension for k in dims):
        raise InvalidSpecError(f"homology_dims {dims}: the landscape has dimension n = {sample.dimension}, and "
                               f"b_k = 0 for k >= n; use dimensions 0..{sample.dimension - 1}")
    complete = dims == list(range(sample.dimension))  # the bound is on the sum over every k
    levels = experiment.levels if experiment.levels is not None else []
    t = time.perf_counter()
    diagram = sublevel_persistence(sample.values, max_dim=max(dims) if dims else 0)
    timings["persistence"] = time.perf_counter() - t
    refined = refined_diagram = None
    curve_refined = None
    if refine and refine > 1:
        grid = refined_grid(list(sample.values.shape), refine)
        refined = sampler(grid)
        timings["sampling_refined"] = refined.seconds
        t = time.perf_counter()
        refined_diagram = sublevel_persistence(refined.values, max_dim=max(dims) if dims else 0)
        timings["persistence_refined"] = time.perf_counter() - t
        curve_refined = betti_curve(refined_diagram, levels)
    curve = betti_curve(diagram, levels)
    k_slice = sample.directions.shape[0] if sample.kind == "slice" else None
    full_rank = k_slice is not None and int(np.linalg.matrix_rank(np.asarray(sample.directions, float))) == k_slice
    report = bounds(spec, slice_dim=k_slice, slice_full_rank=full_rank)
    bound = next(b for b in report.upper if b.theorem == "K")
    rows = []
    for i, c in enumerate(levels):
        betti = [int(curve[k][i]) for k in dims]
        clipped = touches_boundary(sample.values, c)
        row = {"level": c, "betti": betti, "clipped": clipped}
        if curve_refined is not None:
            betti_ref = [int(curve_refined[k][i]) for k in dims]
            row["betti_refined"] = betti_ref
            row["stable"] = betti_ref == betti and touches_boundary(refined.values, c) == clipped
        else:
            row["betti_refined"] = None
            row["stable"] = None  # not checked
        row["comparison"] = compare_with_bound(sum(betti), bound, complete) if row["stable"] and not clipped else None
        rows.append(row)
    res = LandscapeResult(sample, diagram, rows, dims, bound, report.n_variables, refined, refined_diagram, timings)
    res.n_params = spec.n_params
    res.refine = refine
    return res
