"""The box B of a certified level set, its subdivision keys, and the enclosures on its boxes.

A box of the subdivision of B = [low, high] (R^1 or R^2) is a key of integers in units of 2^-DMAX
of each axis (:class:`BoxOracle`), so the cells of a subdivision are exact real boxes that
partition B. :class:`BoxOracle` encloses f and its gradient on many boxes at once (through
:class:`~.loss_enclosure.SliceLoss`, cached across levels) and decides f(t) <= c at points, in
python-flint ball arithmetic where the float64 enclosure contains c. :func:`level_rule` and the
class codes (IN, OUT, MONO_UP, MONO_DOWN, SPLIT, FAIL) say what an enclosure decides;
:func:`box_failure` and :func:`point_failure` record where a level could not be resolved (the
reasons of :func:`~.topology.certify_level`). docs/theory.md §13.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DMAX", "FULL", "IN", "OUT", "MONO_UP", "MONO_DOWN", "SPLIT", "FAIL", "InconsistencyError", "BoxOracle",
           "level_rule", "box_failure", "point_failure"]

#: integer resolution: box coordinates are multiples of 2^-DMAX of each axis
DMAX = 40
#: the integer coordinate of the box's upper end on every axis
FULL = 1 << DMAX

IN, OUT, MONO_UP, MONO_DOWN, SPLIT, FAIL = 1, 0, 2, 3, 4, 5


class InconsistencyError(RuntimeError):
    """Two enclosures contradict each other: a bug, never a certificate."""


class BoxOracle:
    """The box B = [low, high] of R^k with integer coordinates, and cached enclosures.

    A box of the subdivision is a key of 2k integers (lo_0, hi_0, lo_1, hi_1, ...) in
    units of 2^-DMAX of each axis; its float corners are ``coord(axis, I)`` = low + (I /
    2^DMAX) (high - low) rounded, with coord(0) = low and coord(2^DMAX) = high exactly. The
    map is monotone and, where it is used, strictly increasing (checked at every split), so
    the cells of a subdivision are exact real boxes that partition B. Degenerate keys (lo ==
    hi on an axis) are segments and points.
    """

    def __init__(self, slice_loss, low, high):
        self.f = slice_loss
        self.k = slice_loss.k
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.width = self.high - self.low
        self._cache: dict = {}
        self._arb: dict = {}
        self.evaluations = 0

    # ---------------------------------------------------------- coordinates
    def coord(self, axis: int, I) -> np.ndarray:
        I = np.asarray(I, dtype=np.int64)
        u = I.astype(np.float64) * 2.0 ** -DMAX
        v = self.low[axis] + u * self.width[axis]
        v = np.where(I == 0, self.low[axis], v)
        return np.where(I == FULL, self.high[axis], v)

    def boxes(self, keys: np.ndarray):
        keys = np.asarray(keys, dtype=np.int64).reshape(-1, 2 * self.k)
        lo = np.stack([self.coord(a, keys[:, 2 * a]) for a in range(self.k)], axis=1)
        hi = np.stack([self.coord(a, keys[:, 2 * a + 1]) for a in range(self.k)], axis=1)
        return lo, hi

    def point(self, key) -> np.ndarray:
        lo, _ = self.boxes(np.asarray(key)[None])
        return lo[0]

    def splittable(self, axis: int, lo, hi) -> np.ndarray:
        """Whether [lo, hi] (integer coords) can be halved with float corners strictly inside."""
        lo, hi = np.asarray(lo), np.asarray(hi)
        ok = (hi - lo) >= 2
        mid = (lo + hi) // 2
        a, m, b = self.coord(axis, lo), self.coord(axis, mid), self.coord(axis, hi)
        return ok & (a < m) & (m < b)

    # ---------------------------------------------------------- enclosures
    def enclose(self, keys: np.ndarray):
        """(f_lo, f_hi, g_lo, g_hi) for boxes ``keys`` (n, 2k); cached across levels."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1, 2 * self.k)
        n = keys.shape[0]
        tkeys = [tuple(r) for r in keys.tolist()]
        todo = [i for i, t in enumerate(tkeys) if t not in self._cache]
        if todo:
            uniq = list(dict.fromkeys(tkeys[i] for i in todo))
            lo, hi = self.boxes(np.array(uniq, dtype=np.int64))
            F, G = self.f.enclose(lo, hi)
            self.evaluations += len(uniq)
            for j, t in enumerate(uniq):
                self._cache[t] = (F.lo[j], F.hi[j], G.lo[j], G.hi[j])
        flo = np.empty(n)
        fhi = np.empty(n)
        glo = np.empty((n, self.k))
        ghi = np.empty((n, self.k))
        for i, t in enumerate(tkeys):
            a, b, c, d = self._cache[t]
            flo[i], fhi[i], glo[i], ghi[i] = a, b, c, d
        return flo, fhi, glo, ghi

    def point_states(self, keys: np.ndarray, c: float) -> np.ndarray:
        """For points (degenerate keys): 1 if f <= c, 0 if f > c, -1 if undecided even in
        ball arithmetic at 320 bits."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1, 2 * self.k)
        if keys.shape[0] == 0:
            return np.zeros(0, dtype=np.int8)
        flo, fhi, _, _ = self.enclose(keys)
        cls = level_rule(flo, fhi, c)
        st = np.where(cls == IN, 1, np.where(cls == OUT, 0, -1)).astype(np.int8)
        for i in np.flatnonzero(st < 0):
            t = tuple(keys[i].tolist())
            for prec in (128, 320):
                try:
                    lo, hi = self._arb.get((t, prec)) or self._arb_eval(t, prec)
                except ImportError:  # python-flint missing: the point stays undecided (never guessed)
                    break
                if hi <= c:
                    st[i] = 1
                    break
                if lo > c:
                    st[i] = 0
                    break
        return st

    def _arb_eval(self, t, prec):
        lo, hi = self.f.point_arb(self.point(np.array(t)), prec=prec)
        self._arb[(t, prec)] = (lo, hi)
        return lo, hi


def level_rule(flo, fhi, c):
    """IN where f <= c on the whole box (its enclosure's upper end is <= c), OUT where f > c on
    the whole box (lower end > c), SPLIT (undecided) elsewhere -- including every NaN."""
    return np.where(fhi <= c, IN, np.where(flo > c, OUT, SPLIT))


def box_failure(kind, oracle, key, flo, fhi, glo, ghi, c) -> dict:
    """Where a ``kind`` ("cell" or "edge") box ``key`` could not be resolved at level c: its centre,
    corners, the enclosures of f (flo, fhi) and of the gradient (glo, ghi) there, and the domain."""
    lo, hi = oracle.boxes(key[None])
    centre = 0.5 * (lo[0] + hi[0])
    grad_zero = bool(np.all((glo <= 0) & (ghi >= 0)))
    return {"kind": kind, "centre": tuple(float(v) for v in centre), "box": (lo[0].tolist(), hi[0].tolist()),
            "f": (float(flo), float(fhi)), "grad_contains_zero": grad_zero, "c": c,
            "grad": (np.asarray(glo, dtype=float).tolist(), np.asarray(ghi, dtype=float).tolist()),
            "domain": (oracle.low.tolist(), oracle.high.tolist())}


def point_failure(oracle, key, c) -> dict:
    """Where the point ``key`` could not be decided at level c: its coordinates and the 320-bit ball
    enclosure of f there (nan when it was not computed)."""
    t = oracle.point(key)
    lo, hi = oracle._arb.get((tuple(key.tolist()), 320), (math.nan, math.nan))
    return {"kind": "point", "centre": tuple(float(v) for v in t), "f": (lo, hi), "c": c}
