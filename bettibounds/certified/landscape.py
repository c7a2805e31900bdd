"""Certified Betti numbers of an experiment's sublevel sets on its slice or 2-parameter box.

``certify_landscape(experiment)`` returns, for every level c of the experiment (or the
levels given), the Betti numbers b_0, b_1 of

    X_c = {t in [low, high] : Loss(theta_0 + sum_s t_s D_s) <= c}

(for a box region over P <= 2 parameters, theta = t), each either **certified** -- a
theorem, proved by interval arithmetic (docs/theory.md §13, Theorem 13.1) -- or **not
certified** with the reason and where. A certified number is never wrong; a level at or
very near a critical value of the loss (or of its restriction to the box's edges) cannot be
certified by this method and says so.

The box is the float64 box the landscape grid samples (the region's low/high as float64
numbers), the slice's centre and directions are exactly those the grid uses
(:func:`bettibounds.empirical.sampler.resolve_directions`, random directions included),
and the loss is the exact real-number loss of the experiment's network on its data.

:func:`attach_certified` puts the results next to the grid's rows of
:func:`bettibounds.empirical.compare.analyze_landscape` and says where the grid was wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidSpecError
from .topology import LevelCertificate, Limits

__all__ = ["CertifiedLandscape", "certify_landscape", "attach_certified", "certified_lines", "THEOREM"]

#: where the statement and its proof live
THEOREM = "docs/theory.md §13, Theorem 13.1 [certified]"


@dataclass(frozen=True)
class CertifiedLandscape:
    """Certified Betti numbers [b_0, b_1] of X_c for each level (see the module docstring)."""

    kind: str  # "slice" or "box"
    dimension: int
    low: tuple
    high: tuple
    n_params: int
    levels: tuple  # of LevelCertificate
    seconds: float
    limits: Limits
    unsupported: str | None = None  # why nothing could be certified (dimension, ...)

    def to_dict(self) -> dict:
        return {
            "theorem": THEOREM,
            "region": self.kind, "dimension": self.dimension, "low": list(self.low), "high": list(self.high),
            "n_params": self.n_params, "seconds": round(self.seconds, 4), "unsupported": self.unsupported,
            "limits": {"seconds_per_level": self.limits.seconds, "max_depth": self.limits.max_depth,
                       "max_evaluations": self.limits.max_evaluations},
            "levels": [{"level": lv.level, **lv.to_dict()} for lv in self.levels],
        }

    def to_text(self) -> str:
        lines = [(f"certified topology ({THEOREM}): {self.kind}, dimension {self.dimension}, "
                  f"box {list(self.low)} .. {list(self.high)}, {self.seconds:.2f} s")]
        if self.unsupported:
            lines.append(f"not certified: {self.unsupported}")
            return "\n".join(lines)
        lines.append(f"{'level':>12}  {'status':<14} {'[b_0, b_1]':<11} {'meets boundary':<15} {'cells':>7} "
                     f"{'seconds':>8}")
        for lv in self.levels:
            mb = {True: "yes", False: "no", None: "unknown"}[lv.meets_boundary]
            betti = "-" if lv.betti is None else str(list(lv.betti))
            lines.append(f"{lv.level:>12.6g}  {lv.status:<14} {betti:<11} {mb:<15} {lv.cells:>7} {lv.seconds:>8.2f}")
            if lv.reason:
                lines.append(f"{'':>14}{lv.reason}")
        return "\n".join(lines)


def _region(experiment):
    """(kind, center (P,), directions (k, P), low (k,), high (k,)) of the experiment's region."""
    region = experiment.region
    if region is None:
        raise InvalidSpecError('certified topology: the experiment needs a "region" (a slice or a box)')
    spec = experiment.spec
    P = int(spec.n_params)
    if region["kind"] == "slice":
        from ..empirical.sampler import resolve_directions

        center, D, _ = resolve_directions(spec, region)
        k = D.shape[0]
    else:
        center, D, k = np.zeros(P), np.eye(P), P
    low = np.array([float(v) for v in region["low"]], dtype=np.float64)
    high = np.array([float(v) for v in region["high"]], dtype=np.float64)
    if low.shape != (k,) or high.shape != (k,) or not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise InvalidSpecError(f"certified topology: region low/high must list {k} finite numbers")
    if not (low < high).all():
        raise InvalidSpecError("certified topology: region low must be < high on every axis")
    return region["kind"], center, D, low, high


def certify_landscape(experiment, levels=None, *, seconds: float = 60.0, max_evaluations: int = 400_000,
                      max_depth: int = 26, progress=None) -> CertifiedLandscape:
    """Certified [b_0, b_1] of X_c for each level of ``experiment`` (or ``levels``).

    Parameters
    ----------
    experiment : Experiment
        With a ``"slice"`` region of k = 1 or 2 directions, or a ``"box"`` region over
        P <= 2 parameters. Other regions give a result whose levels are all "not certified"
        with the reason (nothing is raised).
    levels : list of float, optional
        Defaults to the experiment's levels.
    seconds, max_evaluations, max_depth : budgets per level (wall-clock seconds, boxes
        enclosed, depth of the cell subdivision); a level that needs more is "not certified"
        with the reason and where.
    progress : callable, optional
        Called with each :class:`LevelCertificate` as it is finished.

    Raises
    ------
    InvalidSpecError
        Bad levels or budgets, or a malformed region; the network and data are validated by
        the experiment parser, and data that float64 does not hold exactly is refused.
    """
    from .loss_enclosure import SliceLoss, certify_unsupported
    from .topology import BoxOracle, certify_level

    if levels is None:
        levels = experiment.levels if experiment.levels is not None else []
    try:
        levels = [float(c) for c in levels]
    except (TypeError, ValueError):
        raise InvalidSpecError(f"levels must be numbers, got {levels!r}") from None
    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise InvalidSpecError(f"seconds must be a positive number, got {seconds!r}")
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) or max_evaluations < 1:
        raise InvalidSpecError(f"max_evaluations must be a positive integer, got {max_evaluations!r}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or not 2 <= max_depth <= 36:
        raise InvalidSpecError(f"max_depth must be an integer in 2..36, got {max_depth!r}")
    limits = Limits(max_depth=max_depth, max_evaluations=max_evaluations, seconds=float(seconds))
    t0 = time.perf_counter()
    kind, center, D, low, high = _region(experiment)
    k = D.shape[0]
    P = int(experiment.spec.n_params)
    why = None
    if k > 2:
        what = f"a box over P = {P} parameters" if kind == "box" else "the slice"
        why = (f"{what} is {k}-dimensional; the certified topology handles 1-D and 2-D slices and boxes over "
               "P <= 2 parameters (docs/theory.md §13.7 says what stops 3-D)")
    else:
        why = certify_unsupported(experiment.spec)
    if why is not None:
        certs = tuple(LevelCertificate(c, "not certified", None, f"not certified: {why}", 0, 0, 0.0, None)
                      for c in levels)
        return CertifiedLandscape(kind, k, tuple(low.tolist()), tuple(high.tolist()), P, certs,
                                  time.perf_counter() - t0, limits, why)
    sl = SliceLoss(experiment.spec, experiment.x, experiment.y, center, D)
    oracle = BoxOracle(sl, low, high)
    out = []
    for c in levels:
        cert = certify_level(oracle, c, limits)
        out.append(cert)
        if progress is not None:
            progress(cert)
    return CertifiedLandscape(kind, k, tuple(low.tolist()), tuple(high.tolist()), P, tuple(out),
                              time.perf_counter() - t0, limits)


def attach_certified(rows: list, cert: CertifiedLandscape, dims) -> list:
    """Add ``"certified"`` to each grid row of ``analyze_landscape`` (same levels, same order).

    Each row gains ``row["certified"] = {"status", "betti", "reason", "cells", "seconds",
    "meets_boundary", ...}`` and ``row["grid_agrees"]``: True / False where the level is
    certified (the grid's b_k for the requested ``dims`` in {0, 1} against the certified ones,
    and its clipped flag against ``meets_boundary`` where that is decided), None otherwise.
    Returns the rows whose grid numbers the certificate shows wrong.
    """
    wrong = []
    by_level = list(cert.levels)
    if len(by_level) != len(rows):
        raise InvalidSpecError("attach_certified: the certificate and the grid rows list different levels")
    for row, lv in zip(rows, by_level):
        if float(row["level"]) != lv.level:
            raise InvalidSpecError("attach_certified: the certificate and the grid rows list different levels")
        d = lv.to_dict()
        agrees = None
        if lv.certified:
            checks = []
            for pos, k in enumerate(dims):
                if k <= 1:
                    checks.append(int(row["betti"][pos]) == int(lv.betti[k]))
                else:
                    checks.append(int(row["betti"][pos]) == 0)  # X_c in R^1 or R^2 has b_k = 0 for k >= 2
            d["grid_betti_ok"] = all(checks)
            if lv.meets_boundary is not None:
                d["grid_clipped_ok"] = bool(row["clipped"]) == lv.meets_boundary
            agrees = d["grid_betti_ok"] and d.get("grid_clipped_ok", True)
            if not d["grid_betti_ok"]:
                wrong.append(row)
        row["certified"] = d
        row["grid_agrees"] = agrees
    return wrong


def certified_lines(rows: list) -> list[str]:
    """Text lines for rows with ``"certified"``: one per level, loud where the grid was wrong."""
    lines = [f"certified topology ({THEOREM}):",
             f"{'level':>12}  {'status':<14} {'[b_0, b_1]':<11} {'meets boundary':<15} grid"]
    reasons = [r["certified"]["reason"] for r in rows if r.get("certified") is not None]
    shared = reasons[0] if len(reasons) > 1 and reasons[0] and len(set(reasons)) == 1 else None  # said once
    for r in rows:
        cert = r.get("certified")
        if cert is None:
            continue
        betti = "-" if cert["betti"] is None else str(cert["betti"])
        mb = {True: "yes", False: "no", None: "unknown"}[cert["meets_boundary"]]
        if r.get("grid_agrees") is None:
            verdict = "-"
        elif not cert.get("grid_betti_ok", True):
            verdict = f"GRID WRONG: the grid measured {r['betti']}"
        elif not cert.get("grid_clipped_ok", True):
            verdict = "agrees on the Betti numbers; the grid's clipped flag is wrong"
        else:
            verdict = "agrees"
        lines.append(f"{r['level']:>12.6g}  {cert['status']:<14} {betti:<11} {mb:<15} {verdict}")
        if cert["reason"] and shared is None:
            lines.append(f"{'':>14}{cert['reason']}")
    if shared is not None:
        lines.append(f"every level: {shared}")
    return lines
