"""Many paths relaxed at once by the string method, with an explicit convergence test per path.

A path from theta_a to theta_b is a chain of ``images`` interior points between the fixed ends.
Each iteration moves every interior image down the loss gradient and respaces the chain to equal
arc length (the simplified string method of E, Ren and Vanden-Eijnden 2007); the path's *level*
is the largest loss found on a dense evaluation of the polyline, and the best chain so far is
kept. The level is an upper estimate of the merge level of the two ends (the top of an explicit
path), so relaxing can only lower it; what matters is when to stop.

**The convergence test** (:data:`CONVERGENCE_RULE`, recorded per path). With ``floor`` =
max(Loss(theta_a), Loss(theta_b)) (no path from a to b stays below it) and ``barrier(t)`` = the
best level after t iterations minus the floor, a path stops as

* ``"converged"`` at a check t >= ``min_iterations`` where, with t_half the latest check at or
  before t / 2, ``0 < barrier(t_half) - barrier(t) <= rtol * barrier(t) + atol * barrier(0)``:
  over the second half of its iterations the barrier still fell, but by less than ``rtol`` of
  itself (default 5 %) or by less than ``atol`` of the straight line's barrier (default 0.1 %).
  Comparing t with t/2 makes the test independent of the time scale: a barrier that falls like
  t^-alpha passes only when alpha < log2(1 + rtol) ~ 0.07;
* ``"stalled"``: its step had to be cut below 1/64 of the initial one (after two checks without
  progress a chain restarts from its best with half the step): a step-size tolerance, like the
  ``xtol`` of optimisers -- steps 64 times shorter than the first no longer lower the level
  (on the camel function the straight line between two side minima already crosses the saddle,
  no step lowers it, and it stalls there);
* ``"no barrier"``: the straight line never rises above the floor; ``"stationary"``: every image
  has a zero gradient.

These four end the iterations as converged; ``"budget"`` (``iterations`` spent while the barrier
was still falling faster than the test allows) and ``"non-finite"`` (a non-finite gradient) do
not. A window without any progress is not convergence by the first test: it means the step is
too long, and the restarts cut it until the path either progresses or stalls.

**The resolution test.** A chain of few images can only be as low as its chords allow: in a
curved valley the straight segments between images cut the corner and rise above the floor,
so a path's level also depends on ``images`` (on digits, width 16, the summed barriers of ten
paths fell 1.16 / 0.44 / 0.12 / 0.05 at 4 / 8 / 16 / 32 images; docs/benchmarks.md). At the end
the kept chain is evaluated with every other image (the same density of evaluations along it),
and a path is *resolved* when that level exceeds its own by at most ``rtol`` x its barrier +
``atol`` x the straight line's barrier, or when its barrier is already below ``atol`` x the
straight line's (nothing left to lower). The half-resolution chain is not re-optimised, so its
level is at least that of the best chain of that resolution: the test errs on the side of
"unresolved". A path is **converged** when its iterations ended as converged *and* it is resolved.

**Adaptive resolution** (:func:`relax_paths_adaptive`, :data:`ADAPTIVE_RULE`): relax at a few images,
insert the midpoint of every segment (the same polyline, so the finer relaxation is warm-started)
and relax again, until the level falls by less than the tolerance between two successive *relaxed*
resolutions or ``max_images`` is reached; each path's record keeps its final images, its gradients
over all resolutions, its level at each, and why it did not converge. On the real-data networks the
levels still fell at 8 images; docs/theory.md §12.5 and docs/benchmarks.md have the measurements.

Whatever the tests say, a level is the largest loss found on an explicit polyline (the straight line
is kept instead where its measured top is lower): an upper estimate of the minimax level between the
two ends, up to the dense sampling along the path.

Two update rules: ``"adam"`` (default: Adam on every image, each coordinate's step ``step`` x the
chain's mean image spacing / sqrt(P), moments reset when a path restarts) and ``"gd"`` (the
gradient normalised by the chain's largest one, times ``step`` x the spacing; the rule of
bettibounds 0.1). On the real-data networks of :mod:`bettibounds.barcode.realdata` Adam lowered
the barriers 2-3 x more than ``"gd"`` at equal cost (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSpecError
from .chains import adam_update_inplace, dense_levels, fine_top, refine_chains, respace_inplace
from .evaluate import as_evaluator, values_and_gradients_into
from .workspace import Workspace

__all__ = ["ADAPTIVE_RULE", "CONVERGENCE_RULE", "RELAX_METHODS", "PathRelaxation", "refine_chains", "relax_paths",
           "relax_paths_adaptive"]

RELAX_METHODS = ("adam", "gd")

#: the convergence test of :func:`relax_paths`, quoted in results and the report
CONVERGENCE_RULE = ("A path is converged when its iterations converged and its level is resolved. Iterations: (a) over "
                    "the second half of its iterations (from the latest check at or before t/2 to the check at t >= "
                    "min_iterations) its barrier (best level found minus the higher end's loss) fell, by at most rtol "
                    "times the barrier plus atol times the straight line's barrier; or (b) it stalled: its step was "
                    "cut below 1/64 of the initial one (each cut after two checks without progress); or (c) the "
                    "straight line has no barrier or every image has a zero gradient; the others run to the "
                    "iteration budget. Resolution: the kept chain with every other image rises above the path's "
                    "level by at most rtol times the barrier plus atol times the straight line's barrier, or the "
                    "barrier is below atol times the straight line's.")

#: the convergence test of :func:`relax_paths_adaptive`
ADAPTIVE_RULE = ("Adaptive resolution: the paths are relaxed at a coarse number of images, then every segment's "
                 "midpoint is inserted (n interior images become 2n + 1) and the paths relaxed again from there, up "
                 "to max_images. A path is converged, and stops, at the first resolution where its iterations "
                 "converged (the iteration test of the fixed-resolution rule) and its level fell by at most rtol "
                 "times its barrier plus atol times the straight line's barrier since the previous resolution (or "
                 "its barrier is below atol times the straight line's, or the straight line has none). A path that "
                 "reaches max_images without passing is not converged; its reason is recorded.")

#: the statuses that end the iterations as converged
CONVERGED = ("converged", "stalled", "no barrier", "stationary")

#: a path whose step has been cut below this fraction of the initial one is stalled
_STALL_FRACTION = 1 / 64


def _positive(name: str, v, integer: bool = True):
    ok = (isinstance(v, numbers.Integral) if integer else isinstance(v, numbers.Real)) and not isinstance(v, bool)
    if not ok or not (math.isfinite(v) and v > 0):
        raise InvalidSpecError(f"{name} must be a positive {'integer' if integer else 'number'}, got {v!r}")
    return int(v) if integer else float(v)


def _non_negative(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and float(v) >= 0):
        raise InvalidSpecError(f"{name} must be a number >= 0, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class PathRelaxation:
    """The relaxed paths of :func:`relax_paths` and each one's convergence record.

    Arrays have one entry per path (M): ``levels`` (largest loss found on the relaxed path, its top
    re-evaluated 16 x denser), ``straight`` (the same for the straight line), ``saddles`` (M, P:
    where each level was found), ``floors`` (max of the ends' losses), ``converged`` (the test of
    :data:`CONVERGENCE_RULE`: iterations and resolution), ``status`` (how the iterations ended:
    "converged", "stalled", "no barrier", "stationary" -- the ones that pass -- or "budget",
    "non-finite"), ``resolved`` (the resolution test), ``half_resolution_levels`` (the kept chain's
    level with every other image),
    ``iterations`` (run), ``half_levels`` and ``test_levels`` (the coarse best levels at the two
    checks the test compared last: t_half and t), ``images`` (interior images of each final chain),
    ``gradient_evaluations`` (gradients computed for each path, all resolutions together),
    ``reasons`` (why a path did not converge; "" where it did), ``resolution_levels`` (per path, the
    (images, level) of every resolution relaxed: one entry for :func:`relax_paths`, one per
    resolution for :func:`relax_paths_adaptive`), ``chains`` (the kept chains (M, images + 2, P) when
    asked for with ``keep_chains``, else None).
    """

    levels: np.ndarray
    straight: np.ndarray
    saddles: np.ndarray
    floors: np.ndarray
    converged: np.ndarray
    status: tuple
    iterations: np.ndarray
    half_levels: np.ndarray
    test_levels: np.ndarray
    half_resolution_levels: np.ndarray
    resolved: np.ndarray
    meta: dict = field(default_factory=dict)
    images: np.ndarray | None = None
    gradient_evaluations: np.ndarray | None = None
    reasons: tuple = ()
    resolution_levels: tuple = ()
    chains: np.ndarray | None = None

    @property
    def barriers(self) -> np.ndarray:
        """Levels above the higher end (>= 0 up to the sampling of the path)."""
        return self.levels - self.floors

    def path_record(self, m: int) -> dict:
        """Path m's convergence record (plain numbers)."""
        return {"level": float(self.levels[m]), "straight": float(self.straight[m]), "floor": float(self.floors[m]),
                "converged": bool(self.converged[m]), "status": self.status[m],
                "iterations": int(self.iterations[m]), "half_level": float(self.half_levels[m]),
                "test_level": float(self.test_levels[m]),
                "half_resolution_level": float(self.half_resolution_levels[m]), "resolved": bool(self.resolved[m]),
                "images": None if self.images is None else int(self.images[m]),
                "gradient_evaluations": (None if self.gradient_evaluations is None
                                         else int(self.gradient_evaluations[m])),
                "reason": self.reasons[m] if self.reasons else "",
                "resolution_levels": ([[int(n), float(v)] for n, v in self.resolution_levels[m]]
                                      if self.resolution_levels else [])}

    def to_dict(self) -> dict:
        return {"paths": [self.path_record(m) for m in range(len(self.levels))],
                "converged": int(self.converged.sum()), "rule": CONVERGENCE_RULE, "meta": self.meta}


def relax_paths(evaluator, starts, ends, *, images: int = 12, iterations: int = 60, step: float | None = None,
                dense: int = 4, check_every: int = 5, method: str = "adam", rtol: float = 0.05,
                atol: float = 1e-3, min_iterations: int | None = None, grow: float = 1.5, max_step: float = 2.0,
                history: dict | None = None, fast=None, init=None, keep_chains: bool = False,
                workspace: Workspace | None = None) -> PathRelaxation:
    """Relax the straight paths starts[m] -> ends[m] by the string method, all M paths at once.

    Parameters
    ----------
    evaluator : LossKernel or PointEvaluator
    starts, ends : array (M, P)
    images : int
        Interior images per path.
    iterations : int
        The budget: at most this many steps per path (0: the straight lines only).
    step : float, optional
        Step size in units of the chain's mean image spacing (per coordinate and divided by
        sqrt(P) for ``"adam"``); default 0.3 for ``"adam"``, 0.5 for ``"gd"``.
    dense : int
        Evaluations per segment when a chain's level is measured (every ``check_every``
        iterations); at the end the two segments around each chain's top are evaluated 16 x
        denser (a coarse maximum can sit below the polyline's: on the camel function by 3e-3).
    method : {"adam", "gd"}
        The update rule (module docstring).
    rtol, atol, min_iterations
        The convergence test (:data:`CONVERGENCE_RULE`); ``min_iterations`` defaults to
        4 x ``check_every``.
    grow, max_step
        ``"gd"`` only: a chain that improved lengthens its step by ``grow``, up to ``max_step``.
    history : dict, optional
        Receives ``{iteration: best coarse levels of all paths}`` at every check.
    fast : PointEvaluator, optional
        A cheaper evaluator of the same loss (e.g. ``MLPEvaluator(..., dtype="float32")``) for the
        gradient steps and the checks; the levels returned are always measured with
        ``evaluator`` (the chains kept are re-evaluated with it).
    init : array (M, images + 2, P), optional
        Chains to start from instead of the straight lines (a warm start, e.g. a coarser relaxed
        chain with midpoints inserted: :func:`relax_paths_adaptive`); their first and last points
        must be ``starts`` and ``ends``. The convergence test's ``atol`` still refers to the
        straight line's barrier.
    keep_chains : bool
        Keep the relaxed chains on the result (``chains``; memory M x (images + 2) x P floats).
    workspace : Workspace, optional
        Where the scratch arrays of every iteration come from (the images handed to the evaluator,
        their gradients, the Adam step, the respacing): default a new
        :class:`~bettibounds.barcode.workspace.Workspace` for this call. Reusing them changes no
        number (every element is written before it is read); it saves a fresh allocation, and the
        page faults of its pages, per array and iteration (docs/benchmarks.md).

    Returns
    -------
    PathRelaxation
        Levels, straight levels, saddles and each path's convergence record. Every level is the
        largest loss found on an explicit path: an upper estimate of the merge level of its ends,
        up to the dense sampling.
    """
    ev = as_evaluator(evaluator)
    fev = ev if fast is None else as_evaluator(fast)
    work = Workspace() if workspace is None else workspace
    if fev.n_params != ev.n_params:
        raise InvalidSpecError(f"fast evaluates {fev.n_params} parameters, the evaluator {ev.n_params}")
    a = np.asarray(starts, dtype=np.float64).reshape(-1, ev.n_params)
    b = np.asarray(ends, dtype=np.float64).reshape(-1, ev.n_params)
    if a.shape != b.shape:
        raise InvalidSpecError(f"starts and ends must have the same shape, got {a.shape} and {b.shape}")
    if method not in RELAX_METHODS:
        raise InvalidSpecError(f"unknown relaxation method {method!r}; valid: {', '.join(RELAX_METHODS)}")
    images, dense, check_every = (_positive(n, v) for n, v in
                                  (("images", images), ("dense", dense), ("check_every", check_every)))
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 0:
        raise InvalidSpecError(f"iterations must be an integer >= 0, got {iterations!r}")
    step = _positive("step", (0.3 if method == "adam" else 0.5) if step is None else step, integer=False)
    rtol, atol = _non_negative("rtol", rtol), _non_negative("atol", atol)
    min_iterations = 4 * check_every if min_iterations is None else int(_positive("min_iterations", min_iterations))
    M, P = a.shape
    meta = {"method": method, "fast": None if fast is None else repr(fast), "images": images,
            "iterations": int(iterations), "step": step, "dense": dense,
            "check_every": check_every, "rtol": rtol, "atol": atol, "min_iterations": min_iterations}
    if M == 0:
        e = np.empty(0)
        return PathRelaxation(e, e, np.empty((0, P)), e, np.empty(0, bool), (), np.empty(0, int), e, e, e,
                              np.empty(0, bool), meta, np.empty(0, int), np.empty(0, np.int64), (), (),
                              np.empty((0, images + 2, P)) if keep_chains else None)
    floors = np.maximum(ev.values(a), ev.values(b))
    s = np.linspace(0.0, 1.0, images + 2)[None, :, None]
    S = a[:, None, :] + s * (b - a)[:, None, :]
    straight = dense_levels(fev, S, dense, work)[0]
    barrier0 = np.maximum(straight - floors, 0.0)
    if init is None:
        C = S
    else:
        C = np.array(init, dtype=np.float64)
        if C.shape != (M, images + 2, P):
            raise InvalidSpecError(f"init must have shape (paths, images + 2, P) = {(M, images + 2, P)}, "
                                   f"got {C.shape}")
        scale = 1e-9 * (1.0 + np.abs(a).max() + np.abs(b).max())
        if np.abs(C[:, 0] - a).max() > scale or np.abs(C[:, -1] - b).max() > scale:
            raise InvalidSpecError("init's chains must start at starts and end at ends")
        C[:, 0], C[:, -1] = a, b
        respace_inplace(C, work)
    del S
    best_level, best_saddle = dense_levels(fev, C, dense, work)
    best = C.copy()
    grads = np.zeros(M, dtype=np.int64)  # gradients computed per path
    steps = np.full(M, step)
    stale = np.zeros(M, dtype=int)
    status = ["budget"] * M
    done = np.zeros(M, dtype=bool)
    iters = np.zeros(M, dtype=int)
    checks, record = [0], [best_level.copy()]  # coarse best levels at every check
    half_levels, test_levels = best_level.copy(), best_level.copy()
    # a straight line that never rises above its higher end has nothing to relax
    flat = best_level <= floors
    for m in np.flatnonzero(flat):
        status[m], done[m] = "no barrier", True
    # the chains still relaxing live in compact working arrays (Ca, and Adam's moments in float32):
    # no fancy-indexed copies of (paths, images, P) arrays per iteration, and a finished path is
    # dropped from them once
    act = np.flatnonzero(~done)
    Ca = C[act]
    del C  # (best holds the start chains) one (M, images + 2, P) array less while relaxing
    length = np.linalg.norm(np.diff(Ca, axis=1), axis=2).sum(1)  # each chain's arc length (equal spacing)
    if method == "adam":
        m1 = np.zeros((act.size, images, P), dtype=np.float32)
        m2 = np.zeros_like(m1)
        t_adam = np.zeros(act.size)
    for it in range(1, iterations + 1):
        if act.size == 0:
            break
        # the interior images, gathered into one (paths x images, P) block for the evaluator, and their
        # gradients: the same two buffers at every iteration (their fronts once paths have stopped). Their
        # lifetimes end in turn, so each is reused within the iteration too: "points" then holds the float32
        # gradients (or the "gd" step) and the checks' points, "gradients" Adam's scratch
        X = work.get("points", (act.size * images, P))
        np.copyto(X.reshape(act.size, images, P), Ca[:, 1:-1])
        _, g = values_and_gradients_into(fev, X, work.get("gradients", (act.size * images, P)))
        g = g.reshape(act.size, images, P)
        grads[act] += images
        gnorm = np.sqrt(np.einsum("kip,kip->ki", g, g)).max(1)
        spacing = length / (images + 1)
        finite = np.isfinite(gnorm)
        moving = finite & (gnorm > 0) & (spacing > 0)
        for j in np.flatnonzero(~moving):
            # every image at a stationary point: the chain cannot move (a converged string)
            status[act[j]], done[act[j]] = ("stationary" if finite[j] else "non-finite"), True
            iters[act[j]] = it - 1
        if method == "adam":
            t_adam += 1
            c1 = (1 - 0.9 ** t_adam).astype(np.float32)[:, None, None]
            c2 = (1 - 0.999 ** t_adam).astype(np.float32)[:, None, None]
            lr = np.where(moving, steps[act] * spacing / math.sqrt(P), 0.0).astype(np.float32)[:, None, None]
            adam_update_inplace(Ca, g, m1, m2, moving, c2[:, 0, 0], (lr / c1)[:, 0, 0], work)
            del g
        else:
            coef = np.where(moving, steps[act] * spacing / np.where(moving, gnorm, 1.0), 0.0)
            move = work.get("points", g.shape)  # coef * g (X is spent; g may be the evaluator's own array)
            np.multiply(coef[:, None, None], g, out=move)
            Ca[:, 1:-1] -= move
        length = respace_inplace(Ca, work)
        iters[act[moving]] = it
        if it % check_every == 0 or it == iterations:
            lv, sd = dense_levels(fev, Ca, dense, work)
            for j, m in enumerate(act):
                if done[m]:
                    continue
                if lv[j] < best_level[m]:
                    best_level[m], best_saddle[m], best[m], stale[m] = lv[j], sd[j], Ca[j], 0
                    if method == "gd":
                        steps[m] = min(steps[m] * grow, max_step)  # moving well: lengthen the step
                else:
                    stale[m] += 1
                    if stale[m] >= 2:  # restart from the best chain with half the step
                        Ca[j], steps[m], stale[m] = best[m], steps[m] / 2, 0
                        length[j] = np.linalg.norm(np.diff(best[m], axis=0), axis=1).sum()
                        if method == "adam":
                            m1[j], m2[j], t_adam[j] = 0.0, 0.0, 0
                        if steps[m] < step * _STALL_FRACTION:
                            status[m], done[m] = "stalled", True
            checks.append(it)
            record.append(best_level.copy())
            if history is not None:
                history[it] = best_level.copy()
            # the convergence test, per path still running
            if it >= min_iterations:
                h = max(k for k, c in enumerate(checks) if c <= it // 2)
                for m in act:
                    if done[m]:
                        continue
                    gap_half, gap = record[h][m] - floors[m], best_level[m] - floors[m]
                    half_levels[m], test_levels[m] = record[h][m], best_level[m]
                    if 0.0 < gap_half - gap <= rtol * max(gap, 0.0) + atol * barrier0[m]:
                        status[m], done[m] = "converged", True
        keep = ~done[act]
        if not keep.all():
            act, Ca, length = act[keep], Ca[keep], length[keep]
            if method == "adam":
                m1, m2, t_adam = m1[keep], m2[keep], t_adam[keep]
    # the working chains, Adam's moments and the gradients' buffer are not needed any more: their memory back
    # before the final evaluations (which form chains of their own)
    del Ca
    if method == "adam":
        del m1, m2
    work.release("gradients")
    # a finer look at the top of each chain kept (and of the straight line, so the two stay comparable)
    # (measured with the evaluator itself, whatever the steps used)
    levels, saddles = fine_top(ev, best, *dense_levels(ev, best, dense, work), dense)
    S = a[:, None, :] + s * (b - a)[:, None, :]
    straight, straight_at = fine_top(ev, S, *dense_levels(ev, S, dense, work), dense)
    # the straight line is an explicit path too: where its measured top is lower (the coarse checks
    # ranked a chain below it that the finer look puts above), it is the path kept
    line = straight < levels
    if line.any():
        levels, saddles = np.where(line, straight, levels), np.where(line[:, None], straight_at, saddles)
        best[line] = S[line]
    del S
    # the resolution test: the kept chain at half its resolution (every other image, evaluated as densely
    # along the path); where the level rises much there, it depends on the resolution -- a finer chain could
    # bend further (the half-resolution level is at least the optimised coarse chain's, so the test errs on
    # the side of "unresolved")
    W = images + 2
    keep = np.unique(np.r_[np.arange(0, W, 2), W - 1])
    half_res = np.maximum(dense_levels(ev, best[:, keep], 2 * dense, work)[0], levels)
    barrier = np.maximum(levels - floors, 0.0)
    resolved = ((barrier <= atol * barrier0) | (half_res - levels <= rtol * barrier + atol * barrier0)
                | np.isin(status, ("no barrier", "stationary")))
    converged = np.array([st in CONVERGED for st in status], dtype=bool) & resolved
    reasons = tuple(not_converged_reason(status[m], bool(resolved[m]), images, float(half_res[m] - levels[m]),
                                         float(rtol * barrier[m] + atol * barrier0[m]), "every other image")
                    for m in range(M))
    return PathRelaxation(levels, straight, saddles, floors, converged, tuple(status), iters, half_levels,
                          test_levels, half_res, resolved, meta, np.full(M, images), grads, reasons,
                          tuple(((images, float(v)),) for v in levels), best if keep_chains else None)


def not_converged_reason(status: str, resolved: bool, images: int, rise: float, tol: float, against: str) -> str:
    """Why a path did not converge, in words ("" when it did)."""
    if status == "non-finite":
        return "a gradient was not finite"
    if status not in CONVERGED:
        return "iterations: the budget ran out while the barrier was still falling faster than rtol allows"
    if not resolved:
        return (f"resolution: at {images} images the level differs by {rise:.3g} from the chain with {against}, "
                f"more than the tolerance {tol:.3g}")
    return ""


def relax_paths_adaptive(evaluator, starts, ends, *, images: int = 3, max_images: int = 31,
                         iterations: int = 150, rtol: float = 0.05, atol: float = 1e-3,
                         **options) -> PathRelaxation:
    """Relax the paths at a coarse resolution, then double it until each path's level settles.

    Each round relaxes the paths still open (:func:`relax_paths`, at most ``iterations`` steps
    each), then inserts the midpoint of every segment (``n`` interior images become ``2n + 1``:
    the same polyline, so the finer relaxation starts where the coarser one ended) and relaxes
    again. A path is **converged** (:data:`ADAPTIVE_RULE`) when at some resolution its iterations
    ended as converged and its level fell by at most ``rtol`` x its barrier + ``atol`` x the
    straight line's barrier since the previous resolution (or its barrier is below ``atol`` x the
    straight line's, or the straight line has none); it then stops. Paths still open when the next
    resolution would exceed ``max_images`` end unconverged, and ``reasons`` says why.

    Parameters
    ----------
    images : int
        Interior images of the first resolution (3: four segments).
    max_images : int
        No resolution beyond this many interior images (31: 32 segments, after 3, 7, 15).
    iterations, rtol, atol, **options
        Per resolution, as in :func:`relax_paths` (``init`` and ``keep_chains`` are set here; one
        ``workspace`` serves every resolution).

    Returns
    -------
    PathRelaxation
        Each path's record from its last resolution, with ``images`` (its final resolution),
        ``gradient_evaluations`` (all resolutions together), ``resolution_levels`` (the level at
        every resolution), ``resolved`` (the successive-resolution test) and ``reasons``. The
        levels are maxima of the loss along explicit polylines, so each is an upper estimate of
        the merge level of its ends, whatever the tests say.
    """
    for name in ("init", "keep_chains"):
        if name in options:
            raise InvalidSpecError(f"relax_paths_adaptive sets {name} itself")
    images, max_images = _positive("images", images), _positive("max_images", max_images)
    if max_images < images:
        raise InvalidSpecError(f"max_images must be >= images, got {max_images} < {images}")
    rtol, atol = _non_negative("rtol", rtol), _non_negative("atol", atol)
    # one workspace for every resolution (its buffers grow with the images)
    if options.get("workspace") is None:
        options = {**options, "workspace": Workspace()}
    ev = as_evaluator(evaluator)
    a = np.asarray(starts, dtype=np.float64).reshape(-1, ev.n_params)
    b = np.asarray(ends, dtype=np.float64).reshape(-1, ev.n_params)
    if a.shape != b.shape:
        raise InvalidSpecError(f"starts and ends must have the same shape, got {a.shape} and {b.shape}")
    M, P = a.shape
    if M == 0:
        r = relax_paths(ev, a, b, images=images, iterations=iterations, rtol=rtol, atol=atol, **options)
        return PathRelaxation(**{**r.__dict__, "meta": {**r.meta, "adaptive": {
            "images": images, "max_images": max_images, "rounds": [], "rule": ADAPTIVE_RULE}}})
    # the record of every path: filled from the resolution where it stopped
    out = {k: [None] * M for k in ("levels", "straight", "saddles", "floors", "status", "iterations", "half_levels",
                                   "test_levels", "half_resolution_levels")}
    converged = np.zeros(M, dtype=bool)
    resolved = np.zeros(M, dtype=bool)
    grads = np.zeros(M, dtype=np.int64)
    final_images = np.zeros(M, dtype=int)
    history: list[list] = [[] for _ in range(M)]
    reasons = [""] * M
    open_ = np.arange(M)
    n, init, rounds = images, None, []
    while open_.size:
        r = relax_paths(ev, a[open_], b[open_], images=n, iterations=iterations, rtol=rtol, atol=atol,
                        init=init, keep_chains=True, **options)
        assert r.gradient_evaluations is not None and r.chains is not None  # relax_paths fills both here
        rounds.append({"images": n, "paths": int(open_.size),
                       "gradient_evaluations": int(r.gradient_evaluations.sum())})
        barrier = np.maximum(r.levels - r.floors, 0.0)
        barrier0 = np.maximum(r.straight - r.floors, 0.0)
        keep = []
        for j, m in enumerate(open_):
            history[m].append((n, float(r.levels[j])))
            grads[m] += r.gradient_evaluations[j]
            for k in out:
                out[k][m] = r.status[j] if k == "status" else getattr(r, k)[j]
            final_images[m] = n
            tol = rtol * barrier[j] + atol * barrier0[j]
            fell = history[m][-2][1] - r.levels[j] if len(history[m]) > 1 else math.inf
            settled = (barrier[j] <= atol * barrier0[j] or r.status[j] in ("no barrier", "stationary")
                       or fell <= tol)
            iterated = r.status[j] in CONVERGED
            resolved[m] = settled
            if settled and iterated:
                converged[m] = True
                reasons[m] = ""
            elif r.status[j] == "non-finite":
                reasons[m] = not_converged_reason("non-finite", False, n, 0.0, 0.0, "")
            elif 2 * n + 1 > max_images:
                if not iterated:
                    reasons[m] = (f"iterations: at {n} images (the finest allowed) the budget ran out while the "
                                  "barrier was still falling faster than rtol allows")
                elif len(history[m]) == 1:
                    reasons[m] = (f"resolution: max_images = {max_images} allows one resolution ({n} images); the "
                                  "test needs two")
                else:
                    reasons[m] = (f"resolution: the level still fell by {fell:.3g} from {history[m][-2][0]} to {n} "
                                  f"images, more than the tolerance {tol:.3g}")
            else:
                keep.append(j)
        if not keep or 2 * n + 1 > max_images:
            break
        init = refine_chains(r.chains[keep])
        open_ = open_[keep]
        n = 2 * n + 1
    meta = {**r.meta, "adaptive": {"images": images, "max_images": max_images, "rounds": rounds,
                                   "rule": ADAPTIVE_RULE}}
    return PathRelaxation(np.array(out["levels"], dtype=float), np.array(out["straight"], dtype=float),
                          np.array(out["saddles"], dtype=float).reshape(M, P), np.array(out["floors"], dtype=float),
                          converged, tuple(out["status"]), np.array(out["iterations"], dtype=int),
                          np.array(out["half_levels"], dtype=float), np.array(out["test_levels"], dtype=float),
                          np.array(out["half_resolution_levels"], dtype=float), resolved, meta, final_images, grads,
                          tuple(reasons), tuple(tuple(h) for h in history))
