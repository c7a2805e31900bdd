"""Betti numbers of a sampled landscape, their trustworthiness, and the theory beside them.

For each requested level c the result gives b_k(c) of the grid sublevel set (lower-star
V-construction, docs/usage.md "Landscapes") and two flags:

* **clipped** -- some boundary vertex of the grid lies in the sublevel set, so the
  grid set may cut components of S_c (or of the slice's sublevel set) and is not a union
  of whole components;
* **stable** -- the Betti numbers are the same on a refined grid ((n - 1) * f + 1 points
  per axis, containing the original points); thin valleys make low levels unstable.

and, for every stable and unclipped level, whether sum_k b_k <= the upper bound K of the
engine (theorem K with n = P for a box, n = k for a slice; docs/theory.md §6) and the slack in
log10 (exact in integers when the bound has its exact value). The bound is on the sum over every
k: when ``homology_dims`` leaves some out, a level whose partial sum is within the bound is not
decided, one whose partial sum exceeds it still exceeds the bound.

An excess means different things depending on the bound's hypotheses (``verdict``):

* ``"violated"`` -- the bound is rigorous and none of its hypotheses is undecided (l2 > 0: S_c is
  compact at every level): the measured number contradicts a proved statement or exposes a bug,
  and it is reported loudly (``violations``, exit status 1 in the CLI);
* ``"exceeds_conditional_bound"`` -- some hypothesis is undecided, typically (l2 = 0) "c is not one
  of the finitely many exceptional levels of Loss" (docs/theory.md §6.2): then either this c is
  exceptional (or another listed hypothesis fails), or the grid misrepresents S_c. Nothing proved is
  contradicted (``exceeds_conditional``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._lib.text import plural
from ..api import bounds
from ..errors import InvalidSpecError, ResourceLimitError
from ..logspace import safe_float
from ..result import BoundResult
from .experiment import MAX_GRID_POINTS, grid_points_text
from .grid_memory import check_grid_fits
from .persistence import PersistenceDiagram, betti_curve, sublevel_persistence
from .resolution import Resolution, network_objective, nonnegative_loss, resolve_levels, torch_single_thread
from .sampler import LandscapeSample, landscape_points, make_kernel, refined_grid, sample_landscape

__all__ = ["LandscapeResult", "analyze_landscape", "compare_with_bound", "touches_boundary"]


def touches_boundary(values: np.ndarray, level: float) -> bool:
    """True if a vertex on the boundary of the grid box has value <= level."""
    for axis in range(values.ndim):
        for end in (0, -1):
            if np.any(np.take(values, end, axis=axis) <= level):
                return True
    return False


def _undecided(bound) -> list[str]:
    """The texts of the bound's undecided hypotheses (the bound holds *if* they hold)."""
    return [h.text for h in getattr(bound, "hypotheses", ()) if getattr(h, "status", "undecided") == "undecided"]


def compare_with_bound(total: int, bound, complete: bool) -> dict:
    """``sum_k b_k <= bound`` for one stable, unclipped level, and what an excess means.

    Exact in integers when the bound has its exact value (a float comparison of the logs can
    put a tie on the wrong side: log10(40) rounds above the bound's rounded log10 of 40), else in
    mpmath on the logs (such a bound has thousands of digits). The number compared is read from
    ``bound`` (``bound.value``, else ``bound.log10``), never recomputed here. When
    ``homology_dims`` leaves out some k, ``total`` is a partial sum: above the bound it still
    exceeds it (b_k >= 0), below it nothing is decided (``holds`` None) and no slack is reported.

    Returns
    -------
    dict
        ``sum_betti``, ``complete``, ``holds`` (True: within the bound; False: above it; None:
        undecided), ``slack_log10``, ``conditional`` (some hypothesis of the bound is undecided),
        ``conditional_on`` (their texts) and ``verdict``: ``"holds"``, ``"undecided"``,
        ``"violated"`` (above a rigorous bound none of whose hypotheses is undecided: a
        contradiction) or ``"exceeds_conditional_bound"`` (above a bound that holds only if its
        undecided hypotheses do -- with l2 = 0, only for non-exceptional c -- so c is exceptional,
        a hypothesis fails, or the grid misrepresents S_c; not a contradiction).
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
    undecided = _undecided(bound)
    conditional = bool(undecided) or not getattr(bound, "rigorous", True)
    if holds is None:
        verdict = "undecided"
    elif holds:
        verdict = "holds"
    else:
        verdict = "exceeds_conditional_bound" if conditional else "violated"
    return {"sum_betti": total, "complete": complete, "holds": holds, "slack_log10": slack,
            "conditional": conditional, "conditional_on": undecided, "verdict": verdict}


@dataclass
class LandscapeResult:
    """Everything ``bettibounds landscape`` reports."""

    sample: LandscapeSample
    diagram: PersistenceDiagram
    levels: list
    dims: list
    bound: BoundResult | None  # the bound used for the comparison (None: no theorem covers the network)
    n_variables: int
    refined: LandscapeSample | None = None
    refined_diagram: PersistenceDiagram | None = None
    timings: dict = field(default_factory=dict)
    resolution: Resolution | None = None  # what the grid resolves (None: not computed)

    @property
    def violations(self) -> list:
        """Levels above a rigorous, unconditional bound: each contradicts a proved statement."""
        return [r for r in self.levels if r["comparison"] is not None and r["comparison"]["verdict"] == "violated"]

    @property
    def exceeds_conditional(self) -> list:
        """Levels above a bound that holds only under an undecided hypothesis (l2 = 0: c not exceptional)."""
        return [r for r in self.levels if r["comparison"] is not None
                and r["comparison"]["verdict"] == "exceeds_conditional_bound"]

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
                "hypotheses": [str(h) for h in b.hypotheses], "conditional": bool(_undecided(b)),
                "conditional_on": _undecided(b)},
            "backend": self.diagram.backend,
            "device": self.sample.device,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "diagram": self.diagram.to_dict(),
            "violations": len(self.violations),
            "exceeds_conditional": len(self.exceeds_conditional),
            "refine": self.refine,
            "refined_grid": None if self.refined is None else list(self.refined.values.shape),
            "resolution": None if self.resolution is None else self.resolution.to_dict(),
            **({} if self.model is None else {"model": self.model, "no_bound_reason": self.no_bound_reason}),
        }

    n_params: int = 0
    refine: int = 1  # the stability check's refinement factor (1: not checked)
    no_bound_reason: str | None = None  # model experiments: why there is no bound column
    model: dict | None = None  # model experiments: what was evaluated (loss, reduction, parameters, data, notes)

    def to_text(self, written=()) -> str:
        """What ``bettibounds landscape`` prints: the grid, the bound with its hypotheses, one row
        per level (Betti numbers, flags, the comparison and what an excess means), and the plots
        ``written``."""
        from ..logspace import format_log10_up

        s, b = self.sample, self.bound
        tm = self.timings
        parts = [f"sampling {tm.get('sampling', 0.0):.2f} s"]
        if "sampling_refined" in tm:
            parts.append(f"refined grid {tm['sampling_refined']:.2f} s")
        parts.append(f"persistence {tm.get('persistence', 0.0) + tm.get('persistence_refined', 0.0):.2f} s")
        if tm.get("local_search"):
            parts.append(f"local search {tm['local_search']:.2f} s")
        source = str((getattr(s, "direction_source", None) or {}).get("kind"))
        what = {"line": "slice: the line through two models (t_1 = 0 at the first, 1 at the second)",
                "plane": "slice: the plane through three models", "pca": "slice: the PCA plane of a trajectory"}.get(
            source, s.kind) if s.kind == "slice" else s.kind
        lines = [
            f"landscape: {what}, grid {list(s.values.shape)} = {s.points} points on {s.device} ({s.dtype}, "
            f"{s.engine} engine), {sum(tm.values()):.2f} s in all ({', '.join(parts)})"
            + ("" if s.compile_seconds is None else
               f" (of which {s.compile_seconds:.2f} s compiling or loading the kernel)")
            + f"; persistence backend {self.diagram.backend}"
            + ("" if not getattr(s, "engine_reason", None) else f"\nengine: {s.engine} ({s.engine_reason})"),
            f"loss range on the grid [{s.values.min():.6g}, {s.values.max():.6g}]",
        ]
        if self.model is not None:
            m = self.model
            lines.append(f"model: {m['model']}, loss {m['loss']} (reduction {m['reduction']}), {m['n_params']} "
                         f"varied parameters, {m['data']['samples']} samples"
                         + ("" if m["data"].get("seed") is None else f" (seeded subset, seed {m['data']['seed']})"))
            tables = not m.get("slice_trick_memory")  # (else the slice was evaluated point by point)
            how = ([f"slice trick on the first layer, module {m['slice_trick']}"] if m.get("slice_trick") and tables
                   else []) + \
                  ([f"one fused pass of {m['fused_first']} (modules named as in model.named_modules())"]
                   if m.get("fused_first") and tables else []) + \
                  (["samples in blocks"] if m.get("sample_blocks") and tables else []) + \
                  ([("cross entropy by the vector code" + (" (the LogSoftmax head folded into it)"
                                                            if "LogSoftmax" in m["loss_kernel"] else ""))]
                   if m.get("loss_kernel") else [])
            label = f"{s.engine} engine"  # (the model engine, or the fused one for a recognised MLP)
            if how:
                lines.append(f"{label}: " + "; ".join(how))
            if m.get("slice_trick_memory"):
                lines.append(f"{label}: {m['slice_trick_memory']}")
            # (a model in train mode whose output is the same in eval mode: in the JSON only; torch is loaded)
            from ..engines.model_forward import TRAIN_MODE_SAME

            lines.extend(f"note: {n}" for n in m.get("notes", []) if n != TRAIN_MODE_SAME)
        undecided = _undecided(b) if b is not None else []
        if b is None:
            lines.append(f"upper bound: none -- {self.no_bound_reason}")
        else:
            cond = f" if {' and '.join(undecided)}" if undecided else ""
            lines.append(f"upper bound ({b.theorem}, {b.status}, n = {self.n_variables}): "
                         f"B <= 10^{format_log10_up(b.log10)}{cond}")
            for h in b.hypotheses:
                lines.append(f"  hypothesis [{h.status}]: {h.text}" + (f" ({h.reason})" if h.reason else ""))
            if self.model is not None and self.model.get("bound_levels_note"):
                lines.append(f"note: {self.model['bound_levels_note']}")
        if not self.levels:  # (an empty table said nothing: trial 7)
            lines += ["", "levels: none given (--levels C1,C2,... or \"levels\" in the experiment file): no Betti "
                          "numbers reported; the persistence diagram is in the JSON and the plots"]
        else:
            lines += ["", f"{'level':>12}  {'betti ' + str(self.dims):<22} {'clipped':<8} {'stable':<7} bound"]
        for r in self.levels:
            cmp = r["comparison"]
            if cmp is None:
                verdict = "-"
            else:
                verdict = {"holds": "holds", "violated": "VIOLATED",
                           "exceeds_conditional_bound": "exceeds the conditional bound (see below)",
                           "undecided": "undecided (partial sum within the bound)"}[cmp["verdict"]]
                if cmp.get("slack_log10") is not None:
                    slack = cmp["slack_log10"]  # plain past 3 digits: 10^6.89e+05 read as a power of a power
                    verdict += f" (slack 10^{slack:.3g})" if abs(slack) < 999.5 else f" (slack 10^{slack:.1f})"
            stable = {True: "yes", False: "NO", None: "n/a"}[r["stable"]]
            lines.append(f"{r['level']:>12.6g}  {str(r['betti']):<22} {'YES' if r['clipped'] else 'no':<8} "
                         f"{stable:<7} {verdict}")
            if r["stable"] is False and r.get("betti_refined") is not None and r["betti_refined"] != r["betti"]:
                lines.append(f"{'':>14}refined grid gives {r['betti_refined']}: do not trust this level")
            if r.get("resolved") is False:
                lines.append(f"{'':>14}not resolved: {r['unresolved_because']}")
            if r.get("empty_because"):
                lines.append(f"{'':>14}empty, exactly: c < 0 and {r['empty_because']}")
        if self.refined is None:
            lines.append("stability check off (--refine 1): no level is compared with the bound, since the "
                         "comparison needs a stable, unclipped level")
        else:
            lines.append(f"stability: checked on the refined grid {list(self.refined.values.shape)} "
                         f"(--refine {self.refine}) and against the grid's resolution")
        if self.resolution is not None:
            rz = self.resolution
            found = plural(len(rz.minima), "grid minimum", "grid minima")
            polished = f"{found} polished by L-BFGS-B" if rz.search != "none" else \
                f"{found}, not polished (no local search)"
            lines.append(f"resolution: lowest loss known {rz.floor:.6g} ({polished}); a level below the grid's minimum "
                         f"{rz.grid_min:.6g}, or within one grid cell's variation of a known minimum, is never stable")
        if self.exceeds_conditional:
            levels = ", ".join(f"{r['level']:.6g}" for r in self.exceeds_conditional)
            lines.append(f"note: at c = {levels} the grid's Betti sum exceeds the bound, which holds only if "
                         f"{' and '.join(undecided) or 'its hypotheses hold'}. This contradicts nothing proved: "
                         "either that hypothesis fails there (with l2 = 0: c is one of the finitely many exceptional "
                         "levels, docs/theory.md §6.2), or the grid misrepresents S_c despite the stability checks.")
        if self.violations:
            lines.append(f"VIOLATED at {len(self.violations)} level(s): the bound is rigorous and unconditional here "
                         "(every hypothesis holds), so a stable, unclipped level above it contradicts the theory or "
                         "exposes a bug; please report it")
        if written:
            lines.append("")
            lines.extend(f"plot: {w}" for w in written)
        return "\n".join(lines)


def analyze_landscape(experiment, *, refine: int = 2, device=None, dtype: str | None = None, progress: bool = False,
                      sampler=None, engine: str | None = None, kernel=None, objective=None,
                      local_search: bool = True) -> LandscapeResult:
    """Sample, compute persistence, Betti numbers at the levels, the flags and the theory.

    ``sampler(grid) -> LandscapeSample`` replaces the network kernel (tests use analytic
    landscapes built on purpose); by default :func:`sample_landscape` on the experiment, with
    one kernel of ``engine`` ("auto", "torch" or "fused" for experiment files, "model" for
    :func:`~.models.experiment_from_model`; ``None``, the default: "auto" for experiment files, the
    model engine for model experiments; :func:`~.sampler.make_kernel`) for both grids, or ``kernel``
    when given.

    A level is ``stable`` only if the refined grid agrees *and* the grid resolves it
    (:mod:`.resolution`: not below the grid's minimum, not within one cell's variation of a known
    minimum). The known minima are polished by L-BFGS-B on ``objective(x) -> loss or (loss,
    gradient)`` in region coordinates, or on the experiment's own loss (float64, CPU) with
    ``objective="experiment"`` -- the default when no ``sampler`` is given (a sampler that
    evaluates the experiment's loss elsewhere, as on Dask, passes "experiment" too). With a
    ``sampler`` and no ``objective``, or ``local_search=False``, the known minima are grid vertices.

    For a model experiment the bound column is computed when the model is a network of the
    catalog (``experiment.spec``); otherwise ``bound`` is None and ``no_bound_reason`` says why.
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
        refined_points = math.prod(refined_grid(list(experiment.grid), refine))
        if refined_points > MAX_GRID_POINTS:  # before any float arithmetic on it (10^400 overflows)
            raise ResourceLimitError(f"the refined grid (--refine {refine}) has {grid_points_text(refined_points)} "
                                     f"points, more than {MAX_GRID_POINTS:.0e}: use a smaller refinement factor")
        check_grid_fits(refined_grid(list(experiment.grid), refine), f"the refined grid (--refine {refine})")
    own_sampler = sampler is None
    if sampler is None:
        if kernel is None:
            kernel = make_kernel(experiment, engine=engine, device=device, dtype=dtype,  # refuses before any work
                                 points=landscape_points(experiment.grid, refine))

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
    refined: LandscapeSample | None = None
    refined_diagram: PersistenceDiagram | None = None
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
    t = time.perf_counter()
    if objective is None and own_sampler:
        objective = "experiment"
    if isinstance(objective, str) and objective != "experiment":
        raise InvalidSpecError(f'objective must be a callable or "experiment", got {objective!r}')
    if objective == "experiment" and local_search:
        with torch_single_thread():
            resolution = resolve_levels(sample, diagram, refined, refined_diagram,
                                        objective=network_objective(experiment, sample))
    else:
        resolution = resolve_levels(sample, diagram, refined, refined_diagram,
                                    objective=objective if local_search and callable(objective) else None)
    timings["local_search"] = time.perf_counter() - t
    k_slice = sample.directions.shape[0] if sample.kind == "slice" else None
    full_rank = k_slice is not None and int(np.linalg.matrix_rank(np.asarray(sample.directions, float))) == k_slice
    model_exp = getattr(experiment, "kind", None) == "model"
    below = getattr(experiment, "bound_levels_below", None)
    if model_exp and k_slice is None and spec is not None and experiment.n_params < spec.n_params:
        # a box over a subset of the parameters is an axis-parallel slice of the full space
        k_slice, full_rank = experiment.n_params, True
    bound: BoundResult | None
    if spec is None:
        bound, n_variables = None, sample.dimension
    else:
        report = bounds(spec, slice_dim=k_slice, slice_full_rank=full_rank)
        bound, n_variables = next(b for b in report.upper if b.theorem == "K"), report.n_variables
    # a level below 0 of a loss that is >= 0 by its kind has S_c empty exactly: no sample is needed to
    # know it (the grid's values are checked too, so that a sampler which is not this loss -- a test's
    # analytic landscape -- never gets the claim)
    nonnegative = nonnegative_loss(experiment) if float(sample.values.min()) >= 0 else None
    rows = []
    for i, c in enumerate(levels):
        betti = [int(curve[k][i]) for k in dims]
        clipped = touches_boundary(sample.values, c)
        row = {"level": c, "betti": betti, "clipped": clipped, "empty_because": None}
        if nonnegative is not None and c < 0:
            row.update(betti=[0] * len(dims), clipped=False, betti_refined=None if curve_refined is None
                       else [0] * len(dims), stable=True, resolved=True, unresolved_because=None,
                       empty_because=nonnegative)
            row["comparison"] = (compare_with_bound(0, bound, complete) if bound is not None
                                 and (below is None or c < below) else None)
            rows.append(row)
            continue
        resolved, why = resolution.check(c)
        if curve_refined is not None and refined is not None:  # (both set by refine > 1)
            betti_ref = [int(curve_refined[k][i]) for k in dims]
            row["betti_refined"] = betti_ref
            row["stable"] = betti_ref == betti and touches_boundary(refined.values, c) == clipped and resolved
        else:
            row["betti_refined"] = None
            row["stable"] = None  # not checked
        row["resolved"] = resolved
        row["unresolved_because"] = why
        comparable = bound is not None and row["stable"] and not clipped and (below is None or c < below)
        row["comparison"] = compare_with_bound(sum(betti), bound, complete) if comparable else None
        rows.append(row)
    res = LandscapeResult(sample, diagram, rows, dims, bound, n_variables, refined, refined_diagram, timings,
                          resolution)
    res.n_params = experiment.n_params if model_exp else spec.n_params
    res.refine = refine
    if model_exp:
        res.model = sample.model
        res.no_bound_reason = experiment.bound_reason
        if below is not None:
            res.model = {**res.model, "bound_levels_below": below,
                         "bound_levels_note": "torch's binary_cross_entropy clamps each log at -100, so the sampled "
                                              "loss equals the analytic one, whose sublevel sets the bound is about, "
                                              f"only below {below:.6g}; higher levels are not compared"}
    return res
