"""Sample-based barcodes of minima: a k-NN graph on sampled points and its lower-star H0.

The published algorithm (Barannikov et al. 2019, THEORY.md §4): sort the points by f, build a
k-nearest-neighbour graph, sweep in increasing f with union-find, killing the younger of two merging
clusters at the merging vertex (elder rule). This is lower-star H0 of the graph: a vertex enters at
f(v), an edge at max(f(u), f(v)). We compute it with gudhi's SimplexTree
(``lower_star_persistence_generators``); :func:`union_find_h0` is the plain sweep, kept as the test
oracle, as the benchmark's baseline, and for the *partner* of each segment (the older minimum its
basin merges into), which path refinement needs.

The k-NN search is a batched exact distance computation with torch (``torch.cdist`` in row
chunks, on the GPU when present), one ``topk`` per chunk.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._lib.progress import progress_bar
from ..errors import InvalidSpecError

__all__ = ["knn_graph", "lower_star_h0", "union_find_h0", "minimax_tree", "tree_path", "H0_BACKENDS"]

H0_BACKENDS: tuple[str, ...] = ("gudhi", "union-find")

_CHUNK_BYTES = 64 * 2**20  # distance block per chunk (rows x N floats), allocated once


def _check_points(points) -> np.ndarray:
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"points must be an (N, P) array of real numbers ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidSpecError(f"points must be a non-empty (N, P) array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidSpecError("points contain NaN or infinite coordinates")
    return arr


def _check_values(values, n: int) -> np.ndarray:
    try:
        f = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"values must be real numbers ({exc})") from None
    if f.shape[0] != n:
        raise InvalidSpecError(f"values has {f.shape[0]} entries but there are {n} points")
    if not np.isfinite(f).all():
        raise InvalidSpecError("values contain NaN or infinite entries (the loss overflowed?)")
    return f


def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise InvalidSpecError(f"k must be a positive integer, got {k!r}")
    return min(int(k), max(n - 1, 0))


def knn_graph(points, k: int = 8, device=None, dtype: str = "float64", progress: bool = False) -> np.ndarray:
    """Undirected edges of the k-nearest-neighbour graph of ``points`` (Euclidean).

    Parameters
    ----------
    points : array (N, P)
    k : int
        Neighbours per point (capped at N - 1); the graph joins i and j when either is among the
        other's k nearest, so every vertex has degree >= k.
    device : str, optional
        Torch device for the distance computation (default cuda when available, else cpu).
    dtype : {"float64", "float32"}
        Precision of the distances (float32 is about twice as fast; ties may then break differently).
    progress : bool
        tqdm bar over the row chunks.

    Returns
    -------
    numpy.ndarray (E, 2) of int64, rows (i, j) with i < j, sorted, no duplicates.

    Examples
    --------
    >>> knn_graph([[0.0], [1.0], [3.0], [7.0]], k=1, device="cpu").tolist()
    [[0, 1], [1, 2], [2, 3]]
    """
    import torch

    from .._lib.devices import resolve_device, resolve_dtype

    arr = _check_points(points)
    n = arr.shape[0]
    k = _check_k(k, n)
    if k == 0:
        return np.empty((0, 2), dtype=np.int64)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    # distances rank the same after a shift and a scaling: centre and scale to unit size, so that
    # |y|^2 neither overflows (huge coordinates) nor swamps the small distances (cancellation)
    arr = arr - (arr.max(0) + arr.min(0)) / 2
    scale = float(np.abs(arr).max())
    if scale > 0:
        arr = arr / scale
    X = torch.as_tensor(arr, dtype=dt, device=dev)
    XT = X.T.contiguous()
    # a row's ranking needs only |y|^2 - 2 x.y (|x|^2 is constant along the row): one matmul per
    # chunk, written into one preallocated buffer (allocating a fresh block per chunk costs page
    # faults that took twice the matmul's time here), then one topk
    sq = (X * X).sum(1)[None, :]
    rows = max(1, min(n, _CHUNK_BYTES // (X.element_size() * n)))
    buf = torch.empty((rows, n), dtype=dt, device=dev)
    nbrs = np.empty((n, k), dtype=np.int64)
    bar = progress_bar(progress, n, f"k-NN ({dev.type})")
    with torch.inference_mode():
        for s in range(0, n, rows):
            e = min(n, s + rows)
            d2 = buf[:e - s]
            torch.addmm(sq.expand(e - s, -1), X[s:e], XT, alpha=-2.0, out=d2)
            idx = torch.arange(s, e, device=dev)
            d2[idx - s, idx] = math.inf  # never one's own neighbour (even with duplicate points)
            nbrs[s:e] = torch.topk(d2, k, dim=1, largest=False, sorted=False).indices.cpu().numpy()
            if bar is not None:
                bar.update(e - s)
    if bar is not None:
        bar.close()
    i = np.repeat(np.arange(n, dtype=np.int64), k)
    j = nbrs.reshape(-1)
    edges = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
    return np.unique(edges, axis=0)


def _check_edges(edges, n: int) -> np.ndarray:
    try:
        raw = np.asarray(edges)
        if raw.size == 0:
            return np.empty((0, 2), dtype=np.int64)
        if raw.ndim != 2 or raw.shape[1] != 2:
            raise ValueError(f"shape {raw.shape}")
        if raw.dtype.kind not in "iu" and not (raw.dtype.kind == "f" and np.isfinite(raw).all()
                                               and (raw == np.round(raw)).all()):
            raise ValueError("entries are not integers")
        e = raw.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"edges must be an (E, 2) array of vertex ids ({exc})") from None
    if e.size and (e.min() < 0 or e.max() >= n):
        raise InvalidSpecError(f"edges must index the {n} points (0..{n - 1})")
    return e


def lower_star_h0(values, edges, backend: str = "gudhi") -> np.ndarray:
    """Lower-star H0 of a graph: rows ``(birth, death, birth vertex, death vertex)``.

    A vertex v enters at ``values[v]``, an edge at the larger value of its ends. Every finite
    bar is born at a local minimum of the graph and dies at the vertex (the higher end of the
    merging edge) where its cluster joins an older one (elder rule); essential bars (one per
    connected component) have death ``inf`` and death vertex -1. Zero-length bars are dropped.
    Rows are sorted by birth then death.

    ``backend``: ``"gudhi"`` (SimplexTree) or ``"union-find"`` (the plain sweep). Both give the
    same multiset of (birth, death); the vertices may differ where values tie.

    >>> lower_star_h0([3.0, 1.0, 2.0, 0.0, 4.0], [[0, 1], [1, 2], [2, 3], [3, 4]]).tolist()
    [[0.0, inf, 3.0, -1.0], [1.0, 2.0, 1.0, 2.0]]
    """
    if backend not in H0_BACKENDS:
        raise InvalidSpecError(f"unknown H0 backend {backend!r}; valid: {', '.join(H0_BACKENDS)}")
    f = np.asarray(values, dtype=np.float64).reshape(-1)
    f = _check_values(f, f.shape[0])
    e = _check_edges(edges, f.shape[0])
    if backend == "union-find":
        return union_find_h0(f, e)[:, :4]
    import gudhi

    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(f.shape[0], dtype=np.int64)[None, :], f)
    if len(e):
        st.insert_batch(e.T.copy(), np.maximum(f[e[:, 0]], f[e[:, 1]]))
    # persistence_dim_max=False skips the top dimension of the complex: H1 of a graph (not wanted),
    # but H0 itself when there is no edge
    st.compute_persistence(homology_coeff_field=2, min_persistence=0, persistence_dim_max=len(e) == 0)
    regular, essential = st.lower_star_persistence_generators()
    reg = np.asarray(regular[0], dtype=np.int64).reshape(-1, 2) if len(regular) else np.empty((0, 2), np.int64)
    ess = np.asarray(essential[0], dtype=np.int64).reshape(-1) if len(essential) else np.empty(0, np.int64)
    rows = np.concatenate([
        np.column_stack([f[reg[:, 0]], f[reg[:, 1]], reg[:, 0], reg[:, 1]]),
        np.column_stack([f[ess], np.full(len(ess), np.inf), ess, np.full(len(ess), -1)])]).astype(np.float64)
    rows = rows[rows[:, 0] < rows[:, 1]]
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def union_find_h0(values, edges) -> np.ndarray:
    """The plain elder-rule sweep; rows ``(birth, death, birth vertex, death vertex, partner)``.

    ``partner`` is the root (lowest vertex) of the older cluster the bar's cluster merges into
    at its death (-1 for essential bars). Ties in value are broken by vertex index, so the
    result is deterministic. Sorted by birth then death; zero-length bars dropped.
    """
    f = _check_values(values, np.asarray(values).reshape(-1).shape[0])
    e = _check_edges(edges, f.shape[0])
    n = f.shape[0]
    # a total order on vertices (value, index): the "elder" of two roots is the smaller one
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), f))] = np.arange(n)
    hi = np.where(rank[e[:, 0]] > rank[e[:, 1]], e[:, 0], e[:, 1]) if len(e) else np.empty(0, np.int64)
    order = np.argsort(rank[hi], kind="stable") if len(e) else np.empty(0, np.int64)
    parent = list(range(n))

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    out = []
    eu, ev, eh = e[:, 0].tolist(), e[:, 1].tolist(), hi.tolist()
    rk = rank.tolist()
    for t in order.tolist():
        ru, rv = find(eu[t]), find(ev[t])
        if ru == rv:
            continue
        young, old = (ru, rv) if rk[ru] > rk[rv] else (rv, ru)
        parent[young] = old
        if f[young] < f[eh[t]]:
            out.append((f[young], f[eh[t]], young, eh[t], old))
    roots = [v for v in range(n) if find(v) == v]
    out += [(f[v], math.inf, v, -1, -1) for v in roots]
    rows = np.asarray(out, dtype=np.float64).reshape(-1, 5)
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def minimax_tree(values, edges):
    """A minimum spanning forest of the graph for edge weights max(f(u), f(v)).

    The path between two vertices in it minimises the largest value met (a minimax path), so it
    realises the graph's merge level of their clusters. Returns a scipy sparse matrix (symmetric).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    f = _check_values(values, np.asarray(values).reshape(-1).shape[0])
    e = _check_edges(edges, f.shape[0])
    n = f.shape[0]
    # one entry per undirected edge: the sparse matrix would add up the weights of repeated edges
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[e[:, 0] != e[:, 1]]
    w = np.maximum(f[e[:, 0]], f[e[:, 1]])
    # scipy drops zero weights: use the (exact, order-preserving) rank of each weight + 1
    ranks = np.empty(len(w), dtype=np.float64)
    ranks[np.argsort(w, kind="stable")] = np.arange(1, len(w) + 1)
    g = coo_matrix((ranks, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    mst = minimum_spanning_tree(g)
    return (mst + mst.T).tocsr()


def tree_path(tree, start: int, end: int) -> list[int]:
    """Vertex ids of the path from ``start`` to ``end`` in a spanning forest (empty if disconnected)."""
    from scipy.sparse.csgraph import breadth_first_order

    _, pred = breadth_first_order(tree, int(start), directed=False, return_predecessors=True)
    if end != start and pred[end] < 0:
        return []
    path = [int(end)]
    while path[-1] != start:
        path.append(int(pred[path[-1]]))
    return path[::-1]
