"""The 2-D subdivision of a certified level: the quadtree of cells and its checks (Theorem 13.1).

:func:`certify_2d` subdivides the box into cells until every cell is IN, OUT or MONO(r, s)
(a signed partial derivative and a connected X_c on the face where f is smallest along t_r),
then checks that every shared segment meets X_c in a connected set (root isolation,
:mod:`.segments`; cells are split where it does not), decides the interior vertices, and counts
the nerve (:mod:`.nerve`): docs/theory.md §13.5, steps 1-3.
"""

from __future__ import annotations

import numpy as np

from .boxes import (
    FULL,
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
from .limits import LevelContext
from .nerve import nerve_counts, shared_segments
from .segments import analyse_segments

__all__ = ["certify_2d"]


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


def certify_2d(oracle: BoxOracle, c: float, ctx: LevelContext) -> dict:
    limits = ctx.limits
    d0 = 2
    n0 = 1 << d0
    step = FULL >> d0
    ii, jj = np.meshgrid(np.arange(n0), np.arange(n0), indexing="ij")
    queue = np.stack([ii.ravel() * step, (ii.ravel() + 1) * step, jj.ravel() * step, (jj.ravel() + 1) * step], 1)
    queue = queue.astype(np.int64)
    leaves = np.zeros((0, 4), dtype=np.int64)
    info = np.zeros((0, 4), dtype=np.int64)  # cls, direction, sign, nonempty
    min_width = FULL >> limits.max_depth
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
                    fail = box_failure("cell", oracle, queue[i], flo[i], fhi[i], glo[i], ghi[i], c)
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
                first = int(np.flatnonzero(~seg_ok)[0])
                if why.get(first) is not None:
                    return {"failure": why[first]}
                lo, hi = oracle.boxes(keys[first][None])
                return {"failure": {"kind": "segment", "centre": tuple((0.5 * (lo[0] + hi[0])).tolist()),
                                    "c": c, "f": None, "grad_contains_zero": None}}
            leaves, info = leaves[~sel], info[~sel]
            queue = _children(sp)
            continue
        # ---- interior vertices in X_c
        corners = np.concatenate([leaves[:, [0, 2]], leaves[:, [1, 2]], leaves[:, [0, 3]], leaves[:, [1, 3]]])
        corners = np.unique(corners, axis=0)
        interior = (corners[:, 0] > 0) & (corners[:, 0] < FULL) & (corners[:, 1] > 0) & (corners[:, 1] < FULL)
        corners = corners[interior]
        vstate = _vertex_states(oracle, corners, leaves, info, c)
        if (vstate < 0).any():
            i = int(np.flatnonzero(vstate < 0)[0])
            key = np.array([corners[i, 0], corners[i, 0], corners[i, 1], corners[i, 1]])
            return {"failure": point_failure(oracle, key, c)}
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
            return nonempty, ok, point_failure(oracle, low_end[idx[np.flatnonzero(st < 0)[0]]], c), why
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
    ends: dict[tuple[int, int], list[bool]] = {}
    for k, ne in zip(seg_keys.tolist(), seg_nonempty.tolist()):
        for p in ((k[0], k[2]), (k[1], k[3])):
            ends.setdefault(p, []).append(ne)
    for (I, J), s in zip(corners.tolist(), vstate.tolist()):
        if s == 1 and not all(ends.get((I, J), [True])):
            raise InconsistencyError("a vertex in X_c ends a segment that misses X_c")

