"""The geometry of string-method chains: respacing, refinement, and the levels along them.

A chain is an array (W, P) of points (a polyline from its first to its last row); a batch of M
chains is (M, W, P). These are the helpers of :mod:`bettibounds.barcode.relax`. The functions that
run at every iteration (:func:`respace_inplace`, :func:`dense_levels`) take an optional
:class:`~bettibounds.barcode.workspace.Workspace` for their scratch arrays, so that an iteration
allocates nothing of the chains' size; with or without one they perform the same floating-point
operations in the same order on arrays of the same layout, so the results are bitwise the same
(tests/empirical/test_relax_workspace.py compares them).
"""

from __future__ import annotations

import numpy as np

from .workspace import Workspace

__all__ = ["refine_chains", "respace", "respace_inplace", "dense_levels", "fine_top", "adam_update_inplace"]


def refine_chains(C: np.ndarray) -> np.ndarray:
    """Every chain of C (M, W, P) with the midpoint of each segment inserted: (M, 2W - 1, P), the same polylines."""
    M, W, P = C.shape
    out = np.empty((M, 2 * W - 1, P))
    out[:, 0::2] = C
    out[:, 1::2] = 0.5 * (C[:, :-1] + C[:, 1:])
    return out


def respace(C: np.ndarray) -> np.ndarray:
    """Every chain of C (M, W, P) respaced to W points equally spaced in arc length, ends kept (a copy)."""
    out = C.copy()
    respace_inplace(out)
    return out


def respace_inplace(C: np.ndarray, work: Workspace | None = None) -> np.ndarray:
    """Respace every chain of C (M, W, P) in place (equal arc length, ends kept); returns the lengths.

    ``work``: where the scratch arrays (two of (W - 1, P)) come from; default fresh ones.
    """
    M, W, P = C.shape
    work = work if work is not None else Workspace()
    length = np.empty(M)
    seg_vec = work.get("segments", (W - 1, P))  # the chain's segments, C[i + 1] - C[i]
    scratch = work.get("respace.scratch", (W - 1, P))
    for m in range(M):
        # np.linalg.norm(np.diff(C[m], axis=0), axis=1), operation for operation (sqrt of the row sums of
        # squares, the sums over rows of the same layout): the same bits
        np.subtract(C[m, 1:], C[m, :-1], out=seg_vec)
        np.multiply(seg_vec, seg_vec, out=scratch)
        seg = np.sqrt(np.add.reduce(scratch, axis=1))  # (W - 1,)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        length[m] = s[-1]
        if s[-1] == 0.0:
            continue
        target = np.linspace(0.0, s[-1], W)[1:-1]
        idx = np.clip(np.searchsorted(s, target, side="right") - 1, 0, W - 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(seg[idx] > 0, (target - s[idx]) / seg[idx], 0.0)
        # C[m, idx] + w * (C[m, idx + 1] - C[m, idx]), with C[m, idx + 1] - C[m, idx] = seg_vec[idx] (the same
        # subtraction); both gathers are complete before C[m] is written. mode="clip" (idx is in range):
        # with the default mode numpy would buffer ``out`` in a fresh array
        base, step = scratch[:W - 2], work.get("respace.step", (W - 2, P))
        np.take(seg_vec, idx, axis=0, out=step, mode="clip")
        np.multiply(w[:, None], step, out=step)
        np.take(C[m], idx, axis=0, out=base, mode="clip")
        np.add(base, step, out=C[m, 1:-1])
    return length


#: elements of one block of :func:`adam_update_inplace` (1 MB per float32 array: a block's arrays stay in the
#: cache between its fifteen passes; 1.6 x faster than whole reused arrays at 150 images and P = 216 586, and
#: blocks of 2^14 to 2^20 all within 25 % of each other, docs/benchmarks.md)
ADAM_BLOCK = 1 << 18


def adam_update_inplace(C, g, m1, m2, moving, c2, lr_c1, work: Workspace | None = None) -> None:
    """One Adam step of the interior images of the chains C (k, W, P), in place, block by block.

    With g (k, W - 2, P) the gradients (float64), m1, m2 (k, W - 2, P) the moments (float32),
    ``moving`` (k,) the chains that move, and per chain ``c2`` = 1 - 0.999^t and ``lr_c1`` =
    lr / (1 - 0.9^t) (float32): g32 = g as float32 (0 where not moving); m2 = 0.999 m2 + 0.001 g32^2;
    m1 = 0.9 m1 + 0.1 g32; C -= lr_c1 * m1 / (sqrt(m2 / c2) + 1e-12). Every element goes through the
    same float32 operations in the same order as the whole-array expressions, so the result is the
    same to the bit; done :data:`ADAM_BLOCK` elements at a time, the fifteen passes read and write
    blocks that stay in the cache instead of streaming (k, W - 2, P) arrays from memory fifteen times
    (at P = 216 586 those passes on whole arrays cost about a quarter of the gradients' time; docs/benchmarks.md).
    """
    k, n, P = m1.shape
    work = work if work is not None else Workspace()
    size = n * P
    block = max(1, min(size, ADAM_BLOCK))
    g32_all = work.get("adam.g32", (block,), np.float32)
    tmp_all = work.get("adam.tmp", (block,), np.float32)
    for j in range(k):
        # one chain's interior images, moments and gradients are contiguous (n, P) blocks: flat views
        cj, gj = C[j, 1:-1].reshape(size), g[j].reshape(size)
        m1j, m2j = m1[j].reshape(size), m2[j].reshape(size)
        for r in range(0, size, block):
            e = min(size, r + block)
            g32, tmp, a, b = g32_all[:e - r], tmp_all[:e - r], m1j[r:e], m2j[r:e]
            if moving[j]:
                np.copyto(g32, gj[r:e], casting="same_kind")
            else:
                g32[...] = 0.0
            b *= 0.999
            np.square(g32, out=tmp)
            tmp *= 0.001
            b += tmp
            a *= 0.9
            g32 *= 0.1
            a += g32
            np.divide(b, c2[j], out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += 1e-12
            np.divide(a, tmp, out=tmp)
            tmp *= lr_c1[j]
            cj[r:e] -= tmp


def dense_levels(ev, C: np.ndarray, dense: int, work: Workspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Largest loss on ``dense`` evaluations per segment of every chain, and where it is reached.

    The points are formed a few chains at a time (about 256 points), never all at once: at
    P = 216 586 the ten chains of a sweep job would be half a gigabyte of points per check.
    ``work``: where the points are formed (default: fresh arrays).
    """
    M, W, P = C.shape
    work = work if work is not None else Workspace()
    t = np.arange(dense, dtype=np.float64) / dense
    n = (W - 1) * dense + 1
    per = max(1, 256 // n)
    level, at = np.empty(M), np.empty((M, P))
    seg_vec = work.get("segments", (W - 1, P))
    for s in range(0, M, per):
        c = C[s:s + per]
        k = c.shape[0]
        pts = work.get("points", (k, n, P))
        for i in range(k):
            # c[i, w] + t[d] * (c[i, w + 1] - c[i, w]) for every segment w and fraction t[d], then the last point
            np.subtract(c[i, 1:], c[i, :-1], out=seg_vec)
            on_segments = pts[i, :-1].reshape(W - 1, dense, P)
            np.multiply(t[None, :, None], seg_vec[:, None, :], out=on_segments)
            np.add(c[i, :-1, None, :], on_segments, out=on_segments)
            pts[i, -1] = c[i, -1]
        v = ev.values(pts.reshape(-1, P)).reshape(k, n)
        i = np.argmax(v, axis=1)
        level[s:s + k], at[s:s + k] = v[np.arange(k), i], pts[np.arange(k), i]
    return level, at


def fine_top(ev, C: np.ndarray, level: np.ndarray, at: np.ndarray, dense: int):
    """Levels of the chains C re-evaluated 16 x denser on the two segments around ``at``."""
    M, W, _ = C.shape
    # the chain vertex nearest the top, a chain at a time (np.linalg.norm(C - at[:, None, :], axis=2) per row:
    # the same sums, without two temporaries of the chains' size)
    top = np.array([np.argmin(np.linalg.norm(C[m] - at[m], axis=1)) for m in range(M)], dtype=np.intp)
    lo_v, hi_v = np.clip(top - 1, 0, W - 1), np.clip(top + 1, 0, W - 1)
    r = np.arange(M)
    fine, fine_at = dense_levels(ev, np.stack([C[r, lo_v], C[r, top], C[r, hi_v]], axis=1), 16 * dense)
    up = fine > level
    return np.where(up, fine, level), np.where(up[:, None], fine_at, at)
