"""Certified root isolation on segments: X_c ∩ s for axis-parallel segments s of the subdivision.

:func:`analyse_segments` subdivides each segment into pieces that are IN (f <= c), OUT (f > c)
or strictly monotone along the segment, decides f <= c at the pieces' ends (in ball arithmetic
where float64 cannot), and counts the components of X_c ∩ s (docs/theory.md §13.4). It decides
whether shared segments meet X_c in connected sets, whether X_c meets the box's boundary, and is
the whole method for 1-D slices (:mod:`.topology`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import (
    FAIL,
    IN,
    MONO_DOWN,
    MONO_UP,
    OUT,
    SPLIT,
    BoxOracle,
    InconsistencyError,
    box_failure,
    level_rule,
    point_failure,
)

__all__ = ["SegmentResult", "analyse_segments"]


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
    terminal: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]  # (lo, hi, cls)
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
                    failures[s] = box_failure("edge", oracle, cur[i], flo[i], fhi[i], glo[i], ghi[i], c)
            cls = np.where(split & ~can, FAIL, cls)
        for i in np.flatnonzero(cls != SPLIT):
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
    ends: dict[int, tuple[list[int], dict[int, int]]] = {}  # segment -> (positions, known states), unless failed
    for s in range(n):
        if s in failures:
            continue
        pcs = sorted(terminal[s])
        terminal[s] = pcs
        pos = [pcs[0][0]] + [p[1] for p in pcs]
        known: dict[int, int] = {}
        for j, (lo, hi, cl) in enumerate(pcs):
            if cl in (IN, OUT):
                for q in (j, j + 1):
                    v = 1 if cl == IN else 0
                    if known.get(q, v) != v:
                        raise InconsistencyError("adjacent pieces IN and OUT share an end")
                    known[q] = v
        ends[s] = (pos, known)
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
                    failures[s] = point_failure(oracle, key, c)
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
