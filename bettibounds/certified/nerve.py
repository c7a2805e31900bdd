"""The nerve of the cell cover: shared segments between the leaves, and b_0, chi, b_1.

For a rectangle subdivision of the plane whose cells, shared segments and interior vertices meet
X_c in contractible (or empty) sets, the nerve theorem gives X_c ≃ nerve, and (docs/theory.md,
Theorem 13.1, §13.5)

    chi = #{cells meeting X_c} - #{shared segments meeting X_c} + #{interior vertices in X_c},

b_0 = the number of components of the graph (cells, shared segments), b_1 = b_0 - chi.
:func:`shared_segments` finds the elementary segments between the leaves on each line;
:func:`nerve_counts` reads off (b_0, chi, b_1).
"""

from __future__ import annotations

import numpy as np

from .boxes import DMAX, InconsistencyError

__all__ = ["shared_segments", "nerve_counts"]


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
