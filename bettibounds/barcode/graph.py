"""Sample-based barcodes of minima: a k-NN graph on sampled points and its lower-star H0.

The published algorithm (Barannikov et al. 2019; docs/theory.md §12): sort the points by f, build a
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
from types import ModuleType

import numpy as np

from .._lib.extras import require
from .._lib.progress import progress_bar
from ..errors import InvalidSpecError

__all__ = ["as_points", "as_values", "knn_graph", "knn_search", "lower_star_h0", "union_find_h0", "minimax_tree",
           "tree_path", "spanning_edges", "unique_pairs", "H0_BACKENDS", "KNN_BACKENDS", "KDTREE_MAX_DIM",
           "HNSW_PARAMS"]

H0_BACKENDS: tuple[str, ...] = ("gudhi", "union-find")
KNN_BACKENDS: tuple[str, ...] = ("auto", "kdtree", "brute", "hnsw")
#: parameters of the approximate "hnsw" backend (hnswlib; the values BarcodeCalc uses: M = 16,
#: ef_construction = 200, query ef = 120 + k)
HNSW_PARAMS = {"M": 16, "ef_construction": 200, "ef_extra": 120}
#: the "auto" k-NN backend uses the k-d tree up to this dimension (benchmarks/bench_barcode.py)
KDTREE_MAX_DIM = 12

_CHUNK_BYTES = 64 * 2**20  # distance block per chunk (rows x N floats), allocated once


def as_points(points) -> np.ndarray:
    """``points`` as a finite (N, P) float64 array, or an InvalidSpecError saying what is wrong."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"points must be an (N, P) array of real numbers ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidSpecError(f"points must be a non-empty (N, P) array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidSpecError("points contain NaN or infinite coordinates")
    return arr


def as_values(values, n: int) -> np.ndarray:
    """``values`` as a finite (n,) float64 array, or an InvalidSpecError saying what is wrong."""
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


def knn_search(points, k: int = 8, *, backend: str = "auto", device=None, dtype: str = "float64",
               progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of every point (exact, Euclidean) and their distances.

    Parameters
    ----------
    points : array (N, P)
    k : int
        Neighbours per point, capped at N - 1 (a point is never its own neighbour, even when it
        has duplicates).
    backend : {"auto", "kdtree", "brute"}
        ``"kdtree"``: scipy's cKDTree (exact; fast in low dimension, O(N log N) there);
        ``"brute"``: batched exact distances (torch when installed, on ``device``; numpy
        otherwise), O(N^2 P) time and O(N) memory beyond a fixed 64 MiB block;
        ``"auto"``: the k-d tree for P <= ``KDTREE_MAX_DIM``, brute force above (a k-d tree
        degrades to a slow brute force in high dimension; benchmarks/bench_barcode.py).
        Both are exact: every result is the true k nearest up to ties among equal distances.
        ``"hnsw"`` (opt in, never chosen by "auto"): hnswlib's approximate graph index (the
        authors' choice; ``pip install hnswlib``), for 10^6 points in high dimension where the
        exact search takes hours on a CPU; some true neighbours are missed (recall < 1,
        benchmarks/bench_barcode.py measures it), and results say so (``knn_exact: False``).
    device, dtype, progress
        Brute force only: torch device (default cuda when available), precision of the
        distance ranking ("float32" is faster, ties may then break differently), tqdm bar.

    Returns
    -------
    (neighbours, distances) : (N, k) int64 and (N, k) float64 arrays, each row sorted by distance;
        the distances are recomputed in float64 from the coordinates, whatever ranked them.

    Examples
    --------
    >>> nb, d = knn_search([[0.0], [1.0], [3.0], [7.0]], k=1, backend="kdtree")
    >>> nb.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1, 2], [1.0, 1.0, 2.0, 4.0])
    """
    if backend not in KNN_BACKENDS:
        raise InvalidSpecError(f"unknown k-NN backend {backend!r}; valid: {', '.join(KNN_BACKENDS)}")
    arr = as_points(points)
    n, p = arr.shape
    k = _check_k(k, n)
    if k == 0:
        return np.empty((n, 0), dtype=np.int64), np.empty((n, 0))
    if backend == "auto":
        backend = "kdtree" if p <= KDTREE_MAX_DIM else "brute"
    # centre and scale to unit size (distances rank the same): |y|^2 neither overflows for huge
    # coordinates nor swamps small distances, and the k-d tree's float64 arithmetic stays exact-ish
    arr = arr - (arr.max(0) + arr.min(0)) / 2
    scale = float(np.abs(arr).max())
    if scale > 0:
        arr = arr / scale
    if backend == "kdtree":
        nbrs = _kdtree_neighbours(arr, k)
    elif backend == "hnsw":
        nbrs = _hnsw_neighbours(arr, k)
    else:
        nbrs = _brute_neighbours(arr, k, device, dtype, progress)
    # exact float64 distances of the chosen pairs (and a row order by distance, ties by index)
    d = np.empty(nbrs.shape, dtype=np.float64)
    for s in range(0, n, 65536):
        e = min(n, s + 65536)
        d[s:e] = np.sqrt(((arr[s:e, None, :] - arr[nbrs[s:e]]) ** 2).sum(-1))
    order = np.lexsort((nbrs, d)) if k > 1 else np.zeros((n, 1), dtype=np.int64)
    nbrs = np.take_along_axis(nbrs, order, 1)
    d = np.take_along_axis(d, order, 1)
    return nbrs, d * scale if scale > 0 else d


def _kdtree_neighbours(arr: np.ndarray, k: int) -> np.ndarray:
    from scipy.spatial import cKDTree

    # query k + 1 and drop each point itself; with duplicate points the point may not come first,
    # so remove it wherever it is (or the farthest if it is absent: a duplicate took its place)
    _, idx = cKDTree(arr).query(arr, k=k + 1, workers=-1)
    idx = np.asarray(idx, dtype=np.int64).reshape(arr.shape[0], k + 1)
    self_mask = idx == np.arange(arr.shape[0])[:, None]
    missing = ~self_mask.any(1)
    self_mask[missing, -1] = True
    return idx[~self_mask].reshape(arr.shape[0], k)


def _hnsw_neighbours(arr: np.ndarray, k: int) -> np.ndarray:
    hnswlib = require("approx", "hnswlib", "the approximate k-NN backend 'hnsw' (the exact backends are 'kdtree' "
                                         "and 'brute')")
    n, p = arr.shape
    index = hnswlib.Index(space="l2", dim=p)
    index.init_index(max_elements=n, ef_construction=HNSW_PARAMS["ef_construction"], M=HNSW_PARAMS["M"],
                     random_seed=0)
    index.set_num_threads(1)  # deterministic construction (the graph depends on insertion order)
    index.add_items(arr.astype(np.float32), np.arange(n))
    index.set_ef(HNSW_PARAMS["ef_extra"] + k + 1)
    idx, _ = index.knn_query(arr.astype(np.float32), k=min(k + 1, n))
    idx = np.asarray(idx, dtype=np.int64)
    self_mask = idx == np.arange(n)[:, None]
    missing = ~self_mask.any(1)
    self_mask[missing, -1] = True
    return idx[~self_mask].reshape(n, k)


def _brute_neighbours(arr: np.ndarray, k: int, device, dtype: str, progress: bool) -> np.ndarray:
    n = arr.shape[0]
    torch: ModuleType | None
    try:
        import torch
    except ImportError:  # numpy fallback: the same blocked computation
        torch = None
    if torch is None:
        if dtype not in ("float64", "float32"):
            raise InvalidSpecError(f"dtype must be float64 or float32, got {dtype!r}")
        X = arr.astype(dtype)
        sq = (X * X).sum(1)[None, :]
        rows = max(1, min(n, _CHUNK_BYTES // (X.itemsize * n)))
        nbrs = np.empty((n, k), dtype=np.int64)
        for s in range(0, n, rows):
            e = min(n, s + rows)
            d2 = sq - 2.0 * (X[s:e] @ X.T)
            d2[np.arange(e - s), np.arange(s, e)] = np.inf
            nbrs[s:e] = np.argpartition(d2, k - 1, axis=1)[:, :k]
        return nbrs
    from .._lib.devices import resolve_device, resolve_dtype

    dev, dt = resolve_device(device), resolve_dtype(dtype)
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
    return nbrs


def knn_graph(points, k: int = 8, device=None, dtype: str = "float64", progress: bool = False, *,
              backend: str = "brute", radius: float | None = None, return_radius: bool = False):
    """Undirected edges of the k-nearest-neighbour graph of ``points`` (Euclidean).

    Parameters
    ----------
    points : array (N, P)
    k : int
        Neighbours per point (capped at N - 1); the graph joins i and j when either is among the
        other's k nearest, so every vertex has degree >= k (before a ``radius`` cut).
    device, dtype, progress, backend
        As in :func:`knn_search` (the default backend stays the batched brute force).
    radius : float or "auto", optional
        Edge-length cutoff: keep only neighbour pairs at distance <= ``radius``; ``"auto"`` is
        BarcodeCalc's default, twice the mean of the N * k neighbour distances.
    return_radius : bool
        Also return the cutoff used (None without one).

    Returns
    -------
    numpy.ndarray (E, 2) of int64, rows (i, j) with i < j, sorted, no duplicates (and the radius).

    Examples
    --------
    >>> knn_graph([[0.0], [1.0], [3.0], [7.0]], k=1, device="cpu").tolist()
    [[0, 1], [1, 2], [2, 3]]
    >>> knn_graph([[0.0], [1.0], [3.0], [7.0]], k=1, radius=2.0).tolist()
    [[0, 1], [1, 2]]
    """
    nbrs, dist = knn_search(points, k, backend=backend, device=device, dtype=dtype, progress=progress)
    n = nbrs.shape[0]
    r = _radius(radius, dist)
    i = np.repeat(np.arange(n, dtype=np.int64), nbrs.shape[1])
    j = nbrs.reshape(-1)
    if r is not None:
        keep = dist.reshape(-1) <= r
        i, j = i[keep], j[keep]
    edges = unique_pairs(np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1))
    return (edges, r) if return_radius else edges


_RADIUS_RULE = "radius must be a positive finite number or 'auto' (leave it None for no cutoff)"


def _radius(radius, dist: np.ndarray) -> float | None:
    """The edge-length cutoff: None, a positive number, or "auto" (2 x mean neighbour distance)."""
    if radius is None:
        return None
    if isinstance(radius, str):
        if radius != "auto":
            raise InvalidSpecError(_RADIUS_RULE + f", got {radius!r}")
        return 2.0 * float(dist.mean()) if dist.size else None
    if (isinstance(radius, bool) or not isinstance(radius, numbers.Real)
            or not (math.isfinite(radius) and float(radius) > 0)):
        raise InvalidSpecError(_RADIUS_RULE + f", got {radius!r}")
    return float(radius)


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


def _simple_edges(e: np.ndarray) -> np.ndarray:
    """The simple graph of an edge list: rows (i, j) with i < j, no self-loops, no duplicates.

    Lower-star H0 depends only on this: a self-loop enters with its vertex and joins nothing,
    a repeated edge enters with its first copy.
    """
    if not len(e):
        return np.empty((0, 2), dtype=np.int64)
    e = np.sort(e, axis=1)
    e = e[e[:, 0] != e[:, 1]]
    return unique_pairs(e)


def unique_pairs(e: np.ndarray) -> np.ndarray:
    """The distinct rows of an (E, 2) array of vertex ids, sorted (like ``np.unique(e, axis=0)``,
    several times faster: one sort of int64 keys)."""
    e = np.asarray(e, dtype=np.int64).reshape(-1, 2)
    if not len(e):
        return e
    m = int(e.max()) + 1
    key = np.unique(e[:, 0] * m + e[:, 1])
    return np.stack([key // m, key % m], axis=1)


def lower_star_h0(values, edges, backend: str = "gudhi") -> np.ndarray:
    """Lower-star H0 of a graph: rows ``(birth, death, birth vertex, death vertex)``.

    A vertex v enters at ``values[v]``, an edge at the larger value of its ends. Every finite
    bar is born at a local minimum of the graph and dies at the vertex (the higher end of the
    merging edge) where its cluster joins an older one (elder rule); essential bars (one per
    connected component) have death ``inf`` and death vertex -1. Zero-length bars are dropped.
    Rows are sorted by birth then death. Self-loops and repeated edges are allowed (and change
    nothing); edges may be given in either orientation.

    ``backend``: ``"gudhi"`` (SimplexTree) or ``"union-find"`` (the plain sweep). Both give the
    same multiset of (birth, death) on every input; the vertices may differ where values tie.

    >>> lower_star_h0([3.0, 1.0, 2.0, 0.0, 4.0], [[0, 1], [1, 2], [2, 3], [3, 4]]).tolist()
    [[0.0, inf, 3.0, -1.0], [1.0, 2.0, 1.0, 2.0]]
    """
    if backend not in H0_BACKENDS:
        raise InvalidSpecError(f"unknown H0 backend {backend!r}; valid: {', '.join(H0_BACKENDS)}")
    f = np.asarray(values, dtype=np.float64).reshape(-1)
    f = as_values(f, f.shape[0])
    e = _check_edges(edges, f.shape[0])
    if backend == "union-find":
        return union_find_h0(f, e)[:, :4]
    import gudhi

    # the simple graph: gudhi reads a self-loop [v, v] as the vertex v again, so an edge list of
    # self-loops only would make the complex 0-dimensional while we ask it to skip the top dimension
    # below (issue 18, item 8: it then returned no bar at all)
    e = _simple_edges(e)
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


def _ranks(f: np.ndarray) -> np.ndarray:
    """The total order on vertices (value, then index): the "elder" of two roots is the lower rank."""
    n = f.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), f))] = np.arange(n)
    return rank


def spanning_edges(values, edges) -> np.ndarray:
    """A minimum spanning forest of the graph for the edge weight "rank of the higher end".

    Lower-star H0 of the forest equals that of the graph, bars, vertices and cluster sizes alike:
    at every vertex v the forest's edges of weight rank(v) join v to exactly one vertex of each
    cluster the graph joins it to (Kruskal's invariant: the forest restricted to weights <= w
    spans the graph restricted to weights <= w). So the sweep runs on N - 1 edges, not E.
    Returns (M, 2) rows (lower-rank end, higher-rank end).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    f = np.asarray(values, dtype=np.float64).reshape(-1)
    e = _simple_edges(np.asarray(edges, dtype=np.int64).reshape(-1, 2))
    n = f.shape[0]
    if not len(e):
        return e
    rank = _ranks(f)
    hi = np.where(rank[e[:, 0]] > rank[e[:, 1]], e[:, 0], e[:, 1])
    lo = np.where(rank[e[:, 0]] > rank[e[:, 1]], e[:, 1], e[:, 0])
    # weights rank + 1 (scipy drops explicit zeros); exact integers in float64 up to 2^53
    g = coo_matrix((rank[hi].astype(np.float64) + 1.0, (lo, hi)), shape=(n, n)).tocsr()
    t = minimum_spanning_tree(g).tocoo()
    a, b = t.row.astype(np.int64), t.col.astype(np.int64)
    swap = rank[a] > rank[b]
    return np.stack([np.where(swap, b, a), np.where(swap, a, b)], axis=1)


def union_find_h0(values, edges, *, sizes: bool = False) -> np.ndarray:
    """The elder-rule sweep; rows ``(birth, death, birth vertex, death vertex, partner[, size])``.

    Vertices enter in the order (value, index). A vertex with no lower neighbour starts a
    cluster; otherwise it joins the oldest of the clusters among its lower neighbours, and every
    other of those clusters dies there (one bar each), merging into the oldest -- BarcodeCalc's
    sweep (Barannikov et al. 2019). ``partner`` is the root (lowest vertex) of that oldest
    cluster (-1 for essential bars). With ``sizes``, a sixth column holds the size of the
    cluster when it dies (BarcodeCalc's ``dead_cluster_size``: the vertices that had joined it,
    the merging vertex not counted) or, for an essential bar, of its connected component.
    Sorted by birth then death; zero-length bars dropped.

    The sweep runs on a minimum spanning forest (:func:`spanning_edges`), which gives the
    same result in O(E log E) + O(N) Python steps.
    """
    f = as_values(values, np.asarray(values).reshape(-1).shape[0])
    e = _check_edges(edges, f.shape[0])
    n = f.shape[0]
    rank = _ranks(f)
    tree = spanning_edges(f, e)
    # group the forest's edges by their higher end, in the order the vertices enter
    order = np.argsort(rank[tree[:, 1]], kind="stable") if len(tree) else np.empty(0, np.int64)
    lo_l, hi_l = tree[order, 0].tolist(), tree[order, 1].tolist()
    rk = rank.tolist()
    fl = f.tolist()
    parent = list(range(n))
    size = [1] * n

    def find(a: int) -> int:
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    out = []
    t, m = 0, len(hi_l)
    while t < m:
        v = hi_l[t]
        s = t
        while t < m and hi_l[t] == v:
            t += 1
        # the clusters of v's lower neighbours in the forest: distinct, one edge each
        roots = list(dict.fromkeys(find(lo_l[q]) for q in range(s, t)))
        old = min(roots, key=rk.__getitem__)
        parent[v] = old
        size[old] += 1
        for r in roots:
            if r == old:
                continue
            if fl[r] < fl[v]:
                out.append((fl[r], fl[v], r, v, old, size[r]))
            parent[r] = old
            size[old] += size[r]
    roots = [v for v in range(n) if parent[v] == v]
    out += [(fl[v], math.inf, v, -1, -1, size[v]) for v in roots]
    rows = np.asarray(out, dtype=np.float64).reshape(-1, 6)
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    return rows if sizes else rows[:, :5]


def minimax_tree(values, edges):
    """A minimum spanning forest of the graph for edge weights max(f(u), f(v)).

    The path between two vertices in it minimises the largest value met (a minimax path), so it
    realises the graph's merge level of their clusters. Returns a scipy sparse matrix (symmetric).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    f = as_values(values, np.asarray(values).reshape(-1).shape[0])
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
