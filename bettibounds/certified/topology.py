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
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LevelCertificate", "BoxOracle", "Limits", "certify_level", "nerve_counts", "shared_segments",
           "analyse_segments", "level_rule", "DMAX"]

#: integer resolution: box coordinates are multiples of 2^-DMAX of each axis
DMAX = 40
_FULL = 1 << DMAX

IN, OUT, MONO_UP, MONO_DOWN, SPLIT, FAIL = 1, 0, 2, 3, 4, 5


class InconsistencyError(RuntimeError):
    """Two enclosures contradict each other: a bug, never a certificate."""


class _LimitReached(Exception):
    def __init__(self, kind: str, detail: str, where=None):
        super().__init__(detail)
        self.kind, self.detail, self.where = kind, detail, where


@dataclass(frozen=True)
class Limits:
    """Budgets of one level: cell depth (cells never narrower than 2^-max_depth of the box),
    1-D piece depth, boxes enclosed, and wall-clock seconds."""

    max_depth: int = 26
    max_piece_depth: int = 38
    max_evaluations: int = 400_000
    seconds: float = 60.0


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


# ------------------------------------------------------------------ geometry and enclosures
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
        return np.where(I == _FULL, self.high[axis], v)

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


# ------------------------------------------------------------------ 1-D root isolation
@dataclass
class SegmentResult:
    """X_c ∩ segment: number of components (None when not resolved), states of the ends."""

    components: int | None
    start_in: bool | None
    end_in: bool | None
    failure: dict | None = None
    pieces: int = 0

    @property
    def ok(self) -> bool:
        return self.components is not None

    @property
    def nonempty(self) -> bool:
        return bool(self.components)


def level_rule(flo, fhi, c):
    """IN where f <= c on the whole box (its enclosure's upper end is <= c), OUT where f > c on
    the whole box (lower end > c), SPLIT (undecided) elsewhere -- including every NaN."""
    return np.where(fhi <= c, IN, np.where(flo > c, OUT, SPLIT))


def _piece_class(flo, fhi, glo_a, ghi_a, c):
    cls = level_rule(flo, fhi, c)
    return np.where(cls != SPLIT, cls, np.where(glo_a > 0, MONO_UP, np.where(ghi_a < 0, MONO_DOWN, SPLIT)))


def analyse_segments(oracle: BoxOracle, keys: np.ndarray, axes: np.ndarray, c: float, ctx) -> list:
    """Certified structure of X_c ∩ s for segments s (keys (n, 2k), degenerate except on
    ``axes[i]``): subdivide each into pieces that are IN, OUT or strictly monotone along the
    segment, decide f <= c at the pieces' ends, and count the runs (docs/theory.md §13.4)."""
    keys = np.asarray(keys, dtype=np.int64).reshape(-1, 2 * oracle.k)
    axes = np.asarray(axes, dtype=np.int64)
    n = keys.shape[0]
    if n == 0:
        return []
    seg_of = np.arange(n)
    cur = keys.copy()
    terminal = [[] for _ in range(n)]  # (lo, hi, cls)
    failures: dict = {}
    base_len = keys[np.arange(n), 2 * axes + 1] - keys[np.arange(n), 2 * axes]
    while cur.shape[0]:
        ctx.check()
        ax = axes[seg_of]
        flo, fhi, glo, ghi = oracle.enclose(cur)
        idx = np.arange(cur.shape[0])
        cls = _piece_class(flo, fhi, glo[idx, ax], ghi[idx, ax], c)
        a_lo, a_hi = cur[idx, 2 * ax], cur[idx, 2 * ax + 1]
        split = cls == SPLIT
        if split.any():
            depth_ok = (base_len[seg_of] // np.maximum(a_hi - a_lo, 1)) < (1 << ctx.limits.max_piece_depth)
            can = np.zeros(cur.shape[0], dtype=bool)
            for a in np.unique(ax[split]):
                sel = split & (ax == a)
                can[sel] = oracle.splittable(a, a_lo[sel], a_hi[sel]) & depth_ok[sel]
            for i in np.flatnonzero(split & ~can):
                s = int(seg_of[i])
                if s not in failures:
                    failures[s] = _failure("edge", oracle, cur[i], flo[i], fhi[i], glo[i], ghi[i], c)
            cls = np.where(split & ~can, FAIL, cls)
        for i in np.flatnonzero((cls != SPLIT)):
            terminal[seg_of[i]].append((int(a_lo[i]), int(a_hi[i]), int(cls[i])))
        sp = np.flatnonzero(cls == SPLIT)
        if sp.size == 0:
            break
        mid = (a_lo[sp] + a_hi[sp]) // 2
        left, right = cur[sp].copy(), cur[sp].copy()
        left[np.arange(sp.size), 2 * ax[sp] + 1] = mid
        right[np.arange(sp.size), 2 * ax[sp]] = mid
        cur = np.concatenate([left, right])
        seg_of = np.concatenate([seg_of[sp], seg_of[sp]])
    # states of the pieces' ends that the pieces themselves do not decide
    need = []
    ends = []
    for s in range(n):
        if s in failures:
            ends.append(None)
            continue
        pcs = sorted(terminal[s])
        terminal[s] = pcs
        pos = [pcs[0][0]] + [p[1] for p in pcs]
        known = {}
        for j, (lo, hi, cl) in enumerate(pcs):
            if cl in (IN, OUT):
                for q in (j, j + 1):
                    v = 1 if cl == IN else 0
                    if known.get(q, v) != v:
                        raise InconsistencyError("adjacent pieces IN and OUT share an end")
                    known[q] = v
        ends.append((pos, known))
        for q, p in enumerate(pos):
            if q not in known:
                key = keys[s].copy()
                key[2 * axes[s]] = key[2 * axes[s] + 1] = p
                need.append((s, q, key))
    if need:
        st = oracle.point_states(np.array([k for _, _, k in need]), c)
        for (s, q, key), v in zip(need, st):
            if v < 0:
                if s not in failures:
                    failures[s] = _point_failure(oracle, key, c)
            else:
                ends[s][1][q] = int(v)
    out = []
    for s in range(n):
        if s in failures:
            out.append(SegmentResult(None, None, None, failures[s]))
            continue
        pos, known = ends[s]
        comps = 0
        for j, (lo, hi, cl) in enumerate(terminal[s]):
            a, b = known[j], known[j + 1]
            if cl == IN:
                typ = "W"
            elif cl == OUT:
                typ = "E"
            elif a and b:
                typ = "W"
            elif not a and not b:
                typ = "E"
            elif a and not b:
                if cl != MONO_UP:
                    raise InconsistencyError("f decreasing along a piece but in at its start and out at its end")
                typ = "P"
            else:
                if cl != MONO_DOWN:
                    raise InconsistencyError("f increasing along a piece but out at its start and in at its end")
                typ = "S"
            if typ == "S" or (j == 0 and typ in ("W", "P")):
                comps += 1
        out.append(SegmentResult(comps, bool(known[0]), bool(known[len(pos) - 1]), None, len(terminal[s])))
    return out


def _failure(kind, oracle, key, flo, fhi, glo, ghi, c) -> dict:
    lo, hi = oracle.boxes(key[None])
    centre = 0.5 * (lo[0] + hi[0])
    grad_zero = bool(np.all((glo <= 0) & (ghi >= 0)))
    return {"kind": kind, "centre": tuple(float(v) for v in centre), "box": (lo[0].tolist(), hi[0].tolist()),
            "f": (float(flo), float(fhi)), "grad_contains_zero": grad_zero, "c": c,
            "grad": (np.asarray(glo, dtype=float).tolist(), np.asarray(ghi, dtype=float).tolist()),
            "domain": (oracle.low.tolist(), oracle.high.tolist())}


def _point_failure(oracle, key, c) -> dict:
    t = oracle.point(key)
    lo, hi = oracle._arb.get((tuple(key.tolist()), 320), (math.nan, math.nan))
    return {"kind": "point", "centre": tuple(float(v) for v in t), "f": (lo, hi), "c": c}


# ------------------------------------------------------------------ the 2-D subdivision
class _Ctx:
    def __init__(self, oracle: BoxOracle, limits: Limits):
        self.oracle, self.limits = oracle, limits
        self.t0 = time.perf_counter()
        self.ev0 = oracle.evaluations
        self.pending_where = None

    def check(self):
        if time.perf_counter() - self.t0 > self.limits.seconds:
            raise _LimitReached("time", f"the time limit of {self.limits.seconds:g} s was reached", self.pending_where)
        if self.oracle.evaluations - self.ev0 > self.limits.max_evaluations:
            raise _LimitReached("cells", f"the budget of {self.limits.max_evaluations} enclosed boxes was spent",
                                self.pending_where)


def _side_key(cell, axis: int, upper: bool):
    """The face of ``cell`` (2-D key) where t_axis is at its lower/upper end: a segment key."""
    key = cell.copy()
    v = cell[2 * axis + 1] if upper else cell[2 * axis]
    key[2 * axis] = key[2 * axis + 1] = v
    return key


def _classify_cells(oracle, cells: np.ndarray, c: float, ctx):
    """Classify cells (n, 4): returns (cls, direction, sign, nonempty, split mask)."""
    n = cells.shape[0]
    flo, fhi, glo, ghi = oracle.enclose(cells)
    cls = level_rule(flo, fhi, c)
    direction = np.full(n, -1)
    sign = np.zeros(n, dtype=np.int8)
    nonempty = cls == IN
    # candidate directions, the clearer sign first (relative to the enclosure's width)
    cand = []
    for i in np.flatnonzero(cls == SPLIT):
        opts = []
        for r in range(2):
            if glo[i, r] > 0 or ghi[i, r] < 0:
                margin = min(abs(glo[i, r]), abs(ghi[i, r])) / max(ghi[i, r] - glo[i, r], 1e-300)
                opts.append((-margin, r, 1 if glo[i, r] > 0 else -1))
        if opts:
            cand.append((i, sorted(opts)))
    # faces to check: monotone along themselves (the other partial derivative has a sign on
    # the cell) -> connected, nonemptiness from the lower end; else root isolation of the face
    face_keys, face_axes, face_ref = [], [], []
    point_keys, point_ref = [], []
    for i, opts in cand:
        for _, r, s in opts:
            face = _side_key(cells[i], r, upper=(s < 0))
            o = 1 - r
            if glo[i, o] > 0 or ghi[i, o] < 0:
                low_end = face.copy()
                end = face[2 * o] if glo[i, o] > 0 else face[2 * o + 1]
                low_end[2 * o] = low_end[2 * o + 1] = end
                point_keys.append(low_end)
                point_ref.append((i, r, s))
            else:
                face_keys.append(face)
                face_axes.append(o)
                face_ref.append((i, r, s))
    verdict = {}
    if point_keys:
        st = oracle.point_states(np.array(point_keys), c)
        for (i, r, s), v in zip(point_ref, st):
            verdict[(i, r, s)] = None if v < 0 else (True, bool(v))
    if face_keys:
        res = analyse_segments(oracle, np.array(face_keys), np.array(face_axes), c, ctx)
        for ref, sr in zip(face_ref, res):
            verdict[ref] = (sr.components is not None and sr.components <= 1, sr.nonempty) if sr.ok else None
    for i, opts in cand:
        for _, r, s in opts:
            v = verdict.get((i, r, s))
            if v is not None and v[0]:
                cls[i] = MONO_UP if s > 0 else MONO_DOWN
                direction[i], sign[i], nonempty[i] = r, s, v[1]
                break
    return cls, direction, sign, nonempty, (flo, fhi, glo, ghi)


def _children(cells: np.ndarray) -> np.ndarray:
    I0, I1, J0, J1 = cells.T
    Im, Jm = (I0 + I1) // 2, (J0 + J1) // 2
    kids = [np.stack([I0, Im, J0, Jm], 1), np.stack([Im, I1, J0, Jm], 1),
            np.stack([I0, Im, Jm, J1], 1), np.stack([Im, I1, Jm, J1], 1)]
    return np.concatenate(kids)


def shared_segments(leaves: np.ndarray, axis_line: int):
    """Elementary segments on lines t_{axis_line} = const between the leaves.

    Returns (keys (n, 4), left (n,), right (n,)) with left/right = leaf indices on the
    lower/upper side of the line (-1 on the box boundary).
    """
    a = axis_line
    o = 1 - a
    lo_a, hi_a = leaves[:, 2 * a], leaves[:, 2 * a + 1]
    lo_o, hi_o = leaves[:, 2 * o], leaves[:, 2 * o + 1]
    # records: (line, start, end, leaf); family L = leaves below the line (their upper side),
    # family R = leaves above (their lower side)
    lines = np.concatenate([hi_a, lo_a])
    starts = np.concatenate([lo_o, lo_o])
    ends = np.concatenate([hi_o, hi_o])
    fam = np.concatenate([np.zeros(len(leaves), np.int8), np.ones(len(leaves), np.int8)])
    ids = np.concatenate([np.arange(len(leaves)), np.arange(len(leaves))])
    uniq, rank = np.unique(lines, return_inverse=True)
    shift = np.int64(DMAX + 1)
    bp = np.unique(np.concatenate([(rank.astype(np.int64) << shift) | starts, (rank.astype(np.int64) << shift) | ends]))
    # consecutive breakpoints on the same line delimit elementary segments
    same = (bp[1:] >> shift) == (bp[:-1] >> shift)
    s0, s1 = bp[:-1][same], bp[1:][same]
    line_rank = s0 >> shift
    mask = (np.int64(1) << shift) - 1
    y0, y1 = s0 & mask, s1 & mask

    def find(f):
        sel = fam == f
        k_start = (rank[sel].astype(np.int64) << shift) | starts[sel]
        order = np.argsort(k_start)
        ks, ke, kid = k_start[order], ends[sel][order], ids[sel][order]
        pos = np.searchsorted(ks, s0, side="right") - 1
        ok = pos >= 0
        posc = np.maximum(pos, 0)
        ok &= ((ks[posc] >> shift) == line_rank) & (ke[posc] >= y1)
        return np.where(ok, kid[posc], -1)

    left, right = find(0), find(1)
    keep = (left >= 0) | (right >= 0)
    line = uniq[line_rank[keep]]
    keys = np.zeros((int(keep.sum()), 4), dtype=np.int64)
    keys[:, 2 * a] = line
    keys[:, 2 * a + 1] = line
    keys[:, 2 * o] = y0[keep]
    keys[:, 2 * o + 1] = y1[keep]
    return keys, left[keep], right[keep]


def nerve_counts(n_leaves: int, leaf_nonempty, seg_pairs, seg_nonempty, n_vertices_in: int):
    """(b_0, chi, b_1) of the nerve from the counts of Theorem 13.1 (docs/theory.md §13.5)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    leaf_nonempty = np.asarray(leaf_nonempty, dtype=bool)
    pairs = np.asarray(seg_pairs, dtype=np.int64).reshape(-1, 2)[np.asarray(seg_nonempty, dtype=bool)]
    nodes = np.flatnonzero(leaf_nonempty)
    n_cells = nodes.size
    if n_cells == 0:
        return 0, 0, 0
    index = -np.ones(n_leaves, dtype=np.int64)
    index[nodes] = np.arange(n_cells)
    u, v = index[pairs[:, 0]], index[pairs[:, 1]]
    if (u < 0).any() or (v < 0).any():
        raise InconsistencyError("a nonempty segment lies on an empty cell")
    g = coo_matrix((np.ones(u.size), (u, v)), shape=(n_cells, n_cells))
    b0, _ = connected_components(g, directed=False)
    chi = n_cells - pairs.shape[0] + int(n_vertices_in)
    b1 = b0 - chi
    if b1 < 0:
        raise InconsistencyError(f"b_1 = b_0 - chi = {b1} < 0")
    return int(b0), int(chi), int(b1)


def _certify_2d(oracle: BoxOracle, c: float, ctx: _Ctx) -> dict:
    limits = ctx.limits
    d0 = 2
    n0 = 1 << d0
    step = _FULL >> d0
    ii, jj = np.meshgrid(np.arange(n0), np.arange(n0), indexing="ij")
    queue = np.stack([ii.ravel() * step, (ii.ravel() + 1) * step, jj.ravel() * step, (jj.ravel() + 1) * step], 1)
    queue = queue.astype(np.int64)
    leaves = np.zeros((0, 4), dtype=np.int64)
    info = np.zeros((0, 4), dtype=np.int64)  # cls, direction, sign, nonempty
    min_width = _FULL >> limits.max_depth
    while True:
        # ---- classify the queue
        while queue.shape[0]:
            ctx.check()
            ctx.pending_where = _where(oracle, queue)
            cls, direction, sign, nonempty, enc = _classify_cells(oracle, queue, c, ctx)
            done = cls != SPLIT
            leaves = np.concatenate([leaves, queue[done]])
            info = np.concatenate([info, np.stack([cls, direction, sign, nonempty], 1)[done]])
            sp = queue[~done]
            if sp.shape[0]:
                w0, w1 = sp[:, 1] - sp[:, 0], sp[:, 3] - sp[:, 2]
                ok = (w0 > min_width) & (w1 > min_width)
                ok &= oracle.splittable(0, sp[:, 0], sp[:, 1]) & oracle.splittable(1, sp[:, 2], sp[:, 3])
                if not ok.all():
                    j = int(np.flatnonzero(~ok)[0])
                    i = int(np.flatnonzero(~done)[j])
                    flo, fhi, glo, ghi = enc
                    fail = _failure("cell", oracle, queue[i], flo[i], fhi[i], glo[i], ghi[i], c)
                    fail["resolution"] = bool(w0[j] > min_width and w1[j] > min_width)  # float64, not the depth
                    return {"failure": fail}
                queue = _children(sp)
            else:
                queue = np.zeros((0, 4), dtype=np.int64)
        # ---- shared segments must meet X_c in connected sets
        ctx.pending_where = None
        segs = []
        for a in (0, 1):
            keys, lft, rgt = shared_segments(leaves, a)
            inner = (lft >= 0) & (rgt >= 0)
            segs.append((keys[inner], lft[inner], rgt[inner], np.full(int(inner.sum()), 1 - a)))
        keys = np.concatenate([s[0] for s in segs])
        lft = np.concatenate([s[1] for s in segs])
        rgt = np.concatenate([s[2] for s in segs])
        seg_axis = np.concatenate([s[3] for s in segs])
        seg_nonempty, seg_ok, bad, why = _segment_states(oracle, keys, lft, rgt, seg_axis, leaves, info, c, ctx)
        if bad:
            return {"failure": bad}
        if not seg_ok.all():
            # split the leaf (or both) whose whole side the segment is: this halves the segment
            split_ids = set()
            for s in np.flatnonzero(~seg_ok):
                for leaf in (lft[s], rgt[s]):
                    L = leaves[leaf]
                    o = seg_axis[s]
                    if L[2 * o] == keys[s, 2 * o] and L[2 * o + 1] == keys[s, 2 * o + 1]:
                        split_ids.add(int(leaf))
            if not split_ids:
                raise InconsistencyError("a shared segment is the side of neither of its cells")
            sel = np.zeros(len(leaves), dtype=bool)
            sel[list(split_ids)] = True
            sp = leaves[sel]
            w0, w1 = sp[:, 1] - sp[:, 0], sp[:, 3] - sp[:, 2]
            ok = (w0 > min_width) & (w1 > min_width)
            ok &= oracle.splittable(0, sp[:, 0], sp[:, 1]) & oracle.splittable(1, sp[:, 2], sp[:, 3])
            if not ok.all():
                s = int(np.flatnonzero(~seg_ok)[0])
                if why.get(s) is not None:
                    return {"failure": why[s]}
                lo, hi = oracle.boxes(keys[s][None])
                return {"failure": {"kind": "segment", "centre": tuple((0.5 * (lo[0] + hi[0])).tolist()),
                                    "c": c, "f": None, "grad_contains_zero": None}}
            leaves, info = leaves[~sel], info[~sel]
            queue = _children(sp)
            continue
        # ---- interior vertices in X_c
        corners = np.concatenate([leaves[:, [0, 2]], leaves[:, [1, 2]], leaves[:, [0, 3]], leaves[:, [1, 3]]])
        corners = np.unique(corners, axis=0)
        interior = (corners[:, 0] > 0) & (corners[:, 0] < _FULL) & (corners[:, 1] > 0) & (corners[:, 1] < _FULL)
        corners = corners[interior]
        vstate = _vertex_states(oracle, corners, leaves, info, c)
        if (vstate < 0).any():
            i = int(np.flatnonzero(vstate < 0)[0])
            key = np.array([corners[i, 0], corners[i, 0], corners[i, 1], corners[i, 1]])
            return {"failure": _point_failure(oracle, key, c)}
        _check_vertices(corners, vstate, keys, seg_nonempty)
        b0, chi, b1 = nerve_counts(len(leaves), info[:, 3].astype(bool), np.stack([lft, rgt], 1), seg_nonempty,
                                   int((vstate == 1).sum()))
        counts = {"cells_nonempty": int(info[:, 3].sum()), "segments_nonempty": int(seg_nonempty.sum()),
                  "vertices_in": int((vstate == 1).sum()), "euler_characteristic": chi,
                  "cells_in": int((info[:, 0] == IN).sum()), "cells_out": int((info[:, 0] == OUT).sum()),
                  "cells_monotone": int(((info[:, 0] == MONO_UP) | (info[:, 0] == MONO_DOWN)).sum())}
        return {"betti": (b0, b1), "cells": len(leaves), "counts": counts}


def _where(oracle, cells):
    lo, hi = oracle.boxes(cells)
    return tuple((0.5 * (lo.min(0) + hi.max(0))).tolist()), (lo.min(0).tolist(), hi.max(0).tolist())


def _leaf_lookup(leaves):
    return {tuple(r): i for i, r in enumerate(leaves.tolist())}


def _segment_states(oracle, keys, lft, rgt, seg_axis, leaves, info, c, ctx):
    """(nonempty (n,), ok (n,), failure, {segment: why not ok}) of X_c ∩ s for the shared segments s."""
    n = keys.shape[0]
    nonempty = np.zeros(n, dtype=bool)
    ok = np.ones(n, dtype=bool)
    why: dict = {}
    cl, cr = info[lft, 0], info[rgt, 0]
    if ((cl == IN) & (cr == OUT)).any() or ((cl == OUT) & (cr == IN)).any():
        raise InconsistencyError("a cell with f <= c and a cell with f > c share a segment")
    any_in = (cl == IN) | (cr == IN)
    any_out = (cl == OUT) | (cr == OUT)
    nonempty[any_in] = True
    rest = ~any_in & ~any_out
    # a cell monotone along the segment's own axis makes X_c ∩ s an interval: its lower end decides
    along = np.zeros(n, dtype=bool)
    low_end = np.zeros((n, 4), dtype=np.int64)
    for side in (lft, rgt):
        d, s = info[side, 1], info[side, 2]
        sel = rest & ~along & (d == seg_axis)
        for i in np.flatnonzero(sel):
            o = seg_axis[i]
            e = keys[i].copy()
            v = keys[i, 2 * o] if s[i] > 0 else keys[i, 2 * o + 1]
            e[2 * o] = e[2 * o + 1] = v
            low_end[i] = e
        along |= sel
    idx = np.flatnonzero(along)
    if idx.size:
        st = oracle.point_states(low_end[idx], c)
        if (st < 0).any():
            return nonempty, ok, _point_failure(oracle, low_end[idx[np.flatnonzero(st < 0)[0]]], c), why
        nonempty[idx] = st == 1
    idx = np.flatnonzero(rest & ~along)
    if idx.size:
        res = analyse_segments(oracle, keys[idx], seg_axis[idx], c, ctx)
        for i, r in zip(idx, res):
            if not r.ok or r.components > 1:
                ok[i] = False
                why[int(i)] = r.failure
            else:
                nonempty[i] = r.components == 1
    return nonempty, ok, None, why


def _vertex_states(oracle, corners, leaves, info, c):
    """1/0 for interior vertices in / not in X_c; IN/OUT cells decide their corners."""
    n = corners.shape[0]
    st = -np.ones(n, dtype=np.int8)
    lookup = {tuple(r): i for i, r in enumerate(corners.tolist())}
    for cl_val, v in ((IN, 1), (OUT, 0)):
        L = leaves[info[:, 0] == cl_val]
        for cols in ([0, 2], [1, 2], [0, 3], [1, 3]):
            for p in L[:, cols].tolist():
                i = lookup.get(tuple(p))
                if i is not None:
                    if st[i] >= 0 and st[i] != v:
                        raise InconsistencyError("a vertex is a corner of a cell with f <= c and of one with f > c")
                    st[i] = v
    todo = np.flatnonzero(st < 0)
    if todo.size:
        keys = np.stack([corners[todo, 0], corners[todo, 0], corners[todo, 1], corners[todo, 1]], 1)
        st[todo] = oracle.point_states(keys, c)
    return st


def _check_vertices(corners, vstate, seg_keys, seg_nonempty):
    """Every segment ending at a vertex in X_c meets X_c (a cheap consistency check)."""
    ends = {}
    for k, ne in zip(seg_keys.tolist(), seg_nonempty.tolist()):
        for p in ((k[0], k[2]), (k[1], k[3])):
            ends.setdefault(p, []).append(ne)
    for (I, J), s in zip(corners.tolist(), vstate.tolist()):
        if s == 1 and not all(ends.get((I, J), [True])):
            raise InconsistencyError("a vertex in X_c ends a segment that misses X_c")


# ------------------------------------------------------------------ 1-D slices
def _certify_1d(oracle: BoxOracle, c: float, ctx: _Ctx) -> dict:
    key = np.array([[0, _FULL]], dtype=np.int64)
    res = analyse_segments(oracle, key, np.array([0]), c, ctx)[0]
    if not res.ok:
        return {"failure": res.failure, "meets_boundary": None}
    return {"betti": (res.components, 0), "cells": res.pieces, "meets_boundary": bool(res.start_in or res.end_in),
            "counts": {}}


def _boundary_2d(oracle: BoxOracle, c: float, ctx: _Ctx) -> bool | None:
    """Whether X_c meets ∂B: root isolation of f along B's four edges."""
    keys = np.array([[0, _FULL, 0, 0], [0, _FULL, _FULL, _FULL], [0, 0, 0, _FULL], [_FULL, _FULL, 0, _FULL]],
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
    ctx = _Ctx(oracle, limits)
    c = float(c)
    meets = None
    try:
        if not math.isfinite(c):
            raise _LimitReached("level", f"the level {c} is not a finite number", None)
        if oracle.k == 1:
            out = _certify_1d(oracle, c, ctx)
            meets = out.get("meets_boundary")
        elif oracle.k == 2:
            out = _certify_2d(oracle, c, ctx)
            try:
                meets = _boundary_2d(oracle, c, ctx)
            except _LimitReached:
                meets = None
        else:
            raise _LimitReached("dimension", f"a {oracle.k}-dimensional region: the certified topology handles "
                                "1-D and 2-D slices and 2-parameter boxes (docs/theory.md §13.7 says what stops 3-D)",
                                None)
    except _LimitReached as exc:
        where = exc.where
        loc = where[0] if where else None
        reason = f"not certified: {exc.detail}"
        if where:
            reason += (f"; unresolved cells within t in [{_fmt(where[1][0])}, {_fmt(where[1][1])}] "
                       f"(around t ≈ {_fmt(loc)})")
        return _result(c, "not certified", None, reason, 0, oracle, ctx, meets, loc, {})
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
                f"[{lo:.6g}, {hi:.6g}] is still wider than 1e-3 of the level"), loc
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
                        f"{line} near t ≈ {where}: on the smallest cells there f lies in [{lo:.12g}, {hi:.12g}] ∋ c "
                        f"while df/dt_{r + 1} has a sign"), loc
    if f.get("grad_contains_zero"):
        return (f"not certified: c is within δ = {delta:.2g} of a possible critical value of {on} near t ≈ {where}: "
                f"on the smallest cells there the loss lies in [{lo:.12g}, {hi:.12g}] ∋ c and the gradient's "
                f"enclosure contains 0"), loc
    return (f"not certified: the level set could not be resolved near t ≈ {where} ({on} in [{lo:.12g}, {hi:.12g}] "
            f"∋ c on the smallest cells, δ = {delta:.2g})"), loc
