"""Certified Betti numbers of X_c = {t in B : f(t) <= c} for a box B of R^1 or R^2.

The method (docs/theory.md §13, Theorem 13.1; in the spirit of Plantinga & Vegter 2004):
subdivide B into closed axis-parallel cells (a quadtree) until every cell Q satisfies one of

* **IN**: f <= c on Q (X_c ∩ Q = Q);
* **OUT**: f > c on Q (X_c ∩ Q empty);
* **MONO(r, s)**: the partial derivative df/dt_r has the constant sign s on Q, and X_c meets
  Q's face {t_r = lo_r} (s > 0) or {t_r = hi_r} (s < 0), the face where f is smallest
  along t_r, in a connected (possibly empty) set. Pushing points of X_c ∩ Q along -s e_r
  onto that face never increases f, so X_c ∩ Q deformation-retracts onto X_c ∩ face:
  contractible or empty.

and every segment shared by two cells meets X_c in a connected (possibly empty) set, which
is decided exactly by certified root isolation along the segment (a 1-D subdivision into
pieces that are IN, OUT or strictly monotone, with the sign of f - c decided at the pieces'
endpoints). Then the cells' pieces X_c ∩ Q form a closed cover of X_c whose nonempty
intersections are all contractible, and the nerve theorem gives X_c ≃ nerve. For a
rectangle subdivision of the plane the nerve's Euler characteristic is

    chi = #{cells Q : X_c ∩ Q ≠ ∅} - #{shared segments s : X_c ∩ s ≠ ∅}
          + #{interior vertices v in X_c},

b_0 is the number of components of the graph (cells, shared segments), and b_1 = b_0 - chi
(X_c ⊂ R^2 has b_2 = 0). In 1-D, X_c is a finite union of closed intervals read off the root
isolation. The box boundary needs no special rule: cells are closed subsets of B and the
conditions above speak of X_c ∩ (face) for boundary faces too; whether X_c meets ∂B is read
off the root isolation of f along B's edges.

Every enclosure comes from :class:`~.loss_enclosure.SliceLoss`; points where the float64
enclosure of f(t) contains c are re-evaluated in ball arithmetic (python-flint) at 128 and
then 320 bits. A level that cannot be resolved within the limits -- c at or near a critical
value of f or of f restricted to a subdivision line, intervals too wide, or the cell/time
budget spent -- is reported "not certified" with the reason and where.

This module certifies one level (:func:`certify_level`: the 1-D case, the box boundary, the
reasons of a level not certified); the method's parts live in

* :mod:`.boxes` -- the box's integer subdivision keys, cached enclosures, decisions at points
  (:class:`BoxOracle`), the class codes and :func:`level_rule`;
* :mod:`.limits` -- the budgets of one level (:class:`Limits`) and the context that spends them;
* :mod:`.segments` -- certified root isolation along segments (:func:`analyse_segments`);
* :mod:`.subdivision` -- the 2-D quadtree of cells IN / OUT / MONO and its checks;
* :mod:`.nerve` -- shared segments and the nerve's counts (:func:`shared_segments`,
  :func:`nerve_counts`).

Their public names are importable from here as before.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import FloatingPointModeError

# FAIL, IN, MONO_DOWN, MONO_UP, OUT, SPLIT and SegmentResult are not used here: names this module offered
# before it was split (tests import them from here)
from .boxes import (
    DMAX,
    FAIL,  # noqa: F401
    FULL,
    IN,  # noqa: F401
    MONO_DOWN,  # noqa: F401
    MONO_UP,  # noqa: F401
    OUT,  # noqa: F401
    SPLIT,  # noqa: F401
    BoxOracle,
    InconsistencyError,
    level_rule,
)
from .limits import LevelContext, LimitReached, Limits
from .nerve import nerve_counts, shared_segments
from .segments import (
    SegmentResult,  # noqa: F401
    analyse_segments,
)
from .subdivision import certify_2d

__all__ = ["LevelCertificate", "BoxOracle", "Limits", "certify_level", "nerve_counts", "shared_segments",
           "analyse_segments", "level_rule", "DMAX", "distinct_ends", "interval_text"]


@dataclass(frozen=True)
class LevelCertificate:
    """The certified (or not) Betti numbers of X_c = {t in box : f(t) <= c}.

    ``betti`` is [b_0, b_1] when ``status == "certified"`` (a theorem: docs/theory.md §13),
    else None and ``reason`` says why (with the place, ``location``, where the method
    stopped). ``meets_boundary``: whether X_c meets the box's boundary (None when the root
    isolation along the edges did not finish). ``cells``: cells (pieces in 1-D) of the final
    subdivision; ``evaluations``: boxes enclosed for this level (fewer when an earlier level
    already enclosed them).
    """

    level: float
    status: str
    betti: tuple | None
    reason: str | None
    cells: int
    evaluations: int
    seconds: float
    meets_boundary: bool | None
    location: tuple | None = None
    counts: dict = field(default_factory=dict)

    @property
    def certified(self) -> bool:
        return self.status == "certified"

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "betti": None if self.betti is None else list(self.betti),
            "reason": self.reason,
            "cells": int(self.cells),
            "seconds": round(float(self.seconds), 4),
            "meets_boundary": self.meets_boundary,
            "evaluations": int(self.evaluations),
            "location": None if self.location is None else [float(v) for v in self.location],
        }


# ------------------------------------------------------------------ 1-D slices
def _certify_1d(oracle: BoxOracle, c: float, ctx: LevelContext) -> dict:
    key = np.array([[0, FULL]], dtype=np.int64)
    res = analyse_segments(oracle, key, np.array([0]), c, ctx)[0]
    if not res.ok:
        return {"failure": res.failure, "meets_boundary": None}
    return {"betti": (res.components, 0), "cells": res.pieces, "meets_boundary": bool(res.start_in or res.end_in),
            "counts": {}}


def _boundary_2d(oracle: BoxOracle, c: float, ctx: LevelContext) -> bool | None:
    """Whether X_c meets ∂B: root isolation of f along B's four edges."""
    keys = np.array([[0, FULL, 0, 0], [0, FULL, FULL, FULL], [0, 0, 0, FULL], [FULL, FULL, 0, FULL]],
                    dtype=np.int64)
    res = analyse_segments(oracle, keys, np.array([0, 0, 1, 1]), c, ctx)
    if any(r.ok and r.nonempty for r in res):
        return True
    if all(r.ok for r in res):
        return False
    return None


# ------------------------------------------------------------------ one level
def _one_blas_thread():
    """A context in which BLAS uses one thread (threadpoolctl, when installed): the enclosures' products are
    small, and OpenBLAS's spinning worker threads slowed them 2-5x on a shared 2-core machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional: only the speed differs
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def certify_level(oracle: BoxOracle, c: float, limits: Limits = Limits()) -> LevelCertificate:
    """Certify b_0, b_1 of X_c (docs/theory.md, Theorem 13.1), or say why not."""
    with _one_blas_thread():
        return _certify_level(oracle, c, limits)


def _certify_level(oracle: BoxOracle, c: float, limits: Limits) -> LevelCertificate:
    ctx = LevelContext(oracle, limits)
    c = float(c)
    meets = None
    try:
        if not math.isfinite(c):
            raise LimitReached("level", f"the level {c} is not a finite number", None)
        if oracle.k == 1:
            out = _certify_1d(oracle, c, ctx)
            meets = out.get("meets_boundary")
        elif oracle.k == 2:
            out = certify_2d(oracle, c, ctx)
            try:
                meets = _boundary_2d(oracle, c, ctx)
            except LimitReached:
                meets = None
        else:
            raise LimitReached("dimension", f"a {oracle.k}-dimensional region: the certified topology handles "
                                "1-D and 2-D slices and 2-parameter boxes (docs/theory.md §13.7 says what stops 3-D)",
                                None)
    except LimitReached as exc:
        where = exc.where
        loc = where[0] if where else None
        reason = f"not certified: {exc.detail}"
        if where:
            a, b = _corners(where[1][0], where[1][1])
            reason += (f"; unresolved cells within t in [{a}, {b}] "
                       f"(around t ≈ {_fmt(loc)})")
        return _result(c, "not certified", None, reason, 0, oracle, ctx, meets, loc, {})
    except FloatingPointModeError as exc:
        return _result(c, "not certified", None, f"not certified: {exc}", 0, oracle, ctx, None, None, {})
    except InconsistencyError as exc:  # pragma: no cover - a bug detector; never a number
        return _result(c, "not certified", None, f"not certified: internal consistency check failed ({exc}); "
                       "please report this", 0, oracle, ctx, None, None, {})
    if "failure" in out:
        reason, loc = _explain(out["failure"], oracle)
        return _result(c, "not certified", None, reason, 0, oracle, ctx, meets, loc, {})
    return _result(c, "certified", tuple(out["betti"]), None, out["cells"], oracle, ctx, meets, None, out["counts"])


def _result(c, status, betti, reason, cells, oracle, ctx, meets, loc, counts):
    return LevelCertificate(c, status, betti, reason, cells, oracle.evaluations - ctx.ev0,
                            time.perf_counter() - ctx.t0, meets, loc, counts)


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"


def distinct_ends(lo: float, hi: float, digits: int = 6) -> tuple[str, str]:
    """``lo`` and ``hi`` with at least ``digits`` significant digits and as many more (up to 17, which
    tells any two float64 numbers apart) as it takes for the two texts to differ where the numbers do:
    an interval printed as [0.421706, 0.421706] hides why it was not certified."""
    for d in range(digits, 18):
        a, b = f"{lo:.{d}g}", f"{hi:.{d}g}"
        if a != b or lo == hi:
            break
    return a, b


def interval_text(lo: float, hi: float, digits: int = 6) -> str:
    """``[lo, hi]`` printed by :func:`distinct_ends`."""
    a, b = distinct_ends(lo, hi, digits)
    return f"[{a}, {b}]"


def _corners(lo, hi) -> tuple[str, str]:
    """Two corners of a box, each coordinate pair printed by :func:`distinct_ends`."""
    pairs = [distinct_ends(a, b) for a, b in zip(lo, hi)]
    return "(" + ", ".join(p[0] for p in pairs) + ")", "(" + ", ".join(p[1] for p in pairs) + ")"


def _explain(f: dict, oracle) -> tuple[str, tuple]:
    c = f["c"]
    loc = f["centre"]
    where = _fmt(loc)
    if f.get("resolution"):
        return (f"not certified: near t ≈ {where} the cells reached the spacing of float64 numbers at these "
                "coordinates before the level set was resolved (the box is very narrow for the size of its "
                "coordinates; shift the slice so that t stays near 0)"), loc
    if f["kind"] == "point":
        lo, hi = f["f"]
        return (f"not certified: the level passes within {max(hi - c, c - lo):.2g} of the loss at the subdivision "
                f"vertex t = {where} (f(t) in [{lo:.17g}, {hi:.17g}] even in 320-bit ball arithmetic): c is "
                f"(numerically) a value of f at that point"), loc
    if f["kind"] == "segment":
        return (f"not certified: the level set meets the subdivision line through t ≈ {where} in two or more "
                f"pieces down to the smallest cells (c at or near a critical value of f restricted to that line)"), loc
    lo, hi = f["f"]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (f"not certified: interval blow-up near t ≈ {where}: the loss's enclosure is not finite even on the "
                f"smallest cells (overflow)"), loc
    delta = max(hi - c, c - lo)
    scale = max(abs(c), 1.0)
    if hi - lo > 1e-3 * scale:
        return (f"not certified: interval blow-up near t ≈ {where}: on the smallest cells the loss's enclosure "
                f"{interval_text(lo, hi)} is still wider than 1e-3 of the level"), loc
    on = "f restricted to a box edge or subdivision line" if f["kind"] == "edge" else "the loss"
    if f["kind"] == "cell" and not f.get("grad_contains_zero"):
        # a cell with a signed partial derivative failed on its lower face: a critical point of f on that line
        glo, ghi = f["grad"]
        (blo, bhi), (dlo, dhi) = f["box"], f["domain"]
        for r in range(len(glo)):
            if glo[r] > 0 or ghi[r] < 0:
                v = blo[r] if glo[r] > 0 else bhi[r]
                edge = v in (dlo[r], dhi[r])
                line = (f"the box's edge t_{r + 1} = {v:.6g}" if edge else f"the subdivision line t_{r + 1} = {v:.6g}")
                return (f"not certified: c is within δ = {delta:.2g} of a possible critical value of f restricted to "
                        f"{line} near t ≈ {where}: on the smallest cells there f lies in "
                        f"{interval_text(lo, hi, 12)} ∋ c "
                        f"while df/dt_{r + 1} has a sign"), loc
    if f.get("grad_contains_zero"):
        return (f"not certified: c is within δ = {delta:.2g} of a possible critical value of {on} near t ≈ {where}: "
                f"on the smallest cells there the loss lies in {interval_text(lo, hi, 12)} ∋ c and the gradient's "
                f"enclosure contains 0"), loc
    return (f"not certified: the level set could not be resolved near t ≈ {where} ({on} in {interval_text(lo, hi, 12)} "
            f"∋ c on the smallest cells, δ = {delta:.2g})"), loc
