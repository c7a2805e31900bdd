"""The barcode of minima of any function from samples: ``barcode_of_points``.

The algorithm is Barannikov et al.'s (2019, §3; BarcodeCalc): join each sample to its k nearest
neighbours, optionally drop neighbour pairs longer than a cutoff, sweep the samples in increasing
value with union-find (elder rule), and record for every segment the size of its cluster when it
dies. It works on any point cloud with values -- a loss over parameter space, a benchmark function,
anything -- so anyone can run the protocol on their own function.

The bars are exact for the graph (lower-star H0 of the k-NN graph, cross-checked against gudhi);
as estimates of the function's barcode they are what the sampling makes them: a segment of a small
cluster is more often sampling noise than a minimum, which is why the authors plot only segments of
clusters of at least 20 to 50 samples and why :meth:`Barcode.to_score` takes ``min_cluster``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..errors import InvalidSpecError
from .core import Barcode, BarcodeBar, sorted_bars

__all__ = ["barcode_of_points", "bars_from_sweep"]


def bars_from_sweep(rows: np.ndarray) -> list[BarcodeBar]:
    """:class:`BarcodeBar` objects (index 0, with cluster sizes) from the rows of
    :func:`~bettibounds.barcode.graph.union_find_h0` called with ``sizes=True``."""
    return [BarcodeBar(0, float(b), float(d), (int(bi),), None if math.isinf(d) else (int(di),),
                       cluster_size=int(sz)) for b, d, bi, di, _, sz in rows]


def barcode_of_points(points, values, *, k: int, radius=None, knn: str = "auto", device=None,
                      knn_dtype: str = "float64", min_cluster: int | None = None, check_backend: bool = False,
                      progress: bool = False) -> Barcode:
    """Barcode of minima of a function known at ``points`` (lower-star H0 of their k-NN graph).

    Parameters
    ----------
    points : array (N, P)
        The samples.
    values : array (N,)
        The function at the samples.
    k : int
        Neighbours per sample (capped at N - 1). The authors use k = 4P in P dimensions.
    radius : float, "auto" or None
        Edge-length cutoff: neighbour pairs farther apart are not joined. ``"auto"``: twice the
        mean distance of the N * k neighbour pairs (BarcodeCalc's default). None: no cutoff.
    knn : {"auto", "kdtree", "brute", "hnsw"}
        The k-NN search (:func:`~bettibounds.barcode.graph.knn_search`): exact, or ``"hnsw"``, the
        approximate index the authors use (opt in; ``meta["knn_exact"]`` is then False and
        ``meta["knn_approximation"]`` says what was approximated).
    device, knn_dtype
        Brute-force search only (torch device, ranking precision).
    min_cluster : int, optional
        Recorded in ``meta`` so that :meth:`Barcode.to_score_dict` reports the filtered TO-score
        beside the raw one.
    check_backend : bool
        Also compute the bars with gudhi and raise if the (birth, death) multisets differ.

    Returns
    -------
    Barcode
        ``source="knn"``, ``locations="sample id"``; every bar carries ``cluster_size``;
        ``meta`` holds k, the radius used, the number of edges, the search backend and whether
        it was exact.

    Examples
    --------
    Two wells on a line, sampled at 7 points:

    >>> bc = barcode_of_points([[0], [1], [2], [3], [4], [5], [6]], [1, 0, 1, 3, 1, 0.5, 1], k=2)
    >>> [(b.birth, b.death, b.cluster_size) for b in bc.bars]
    [(0.0, inf, 7), (0.5, 3.0, 3)]
    >>> bc.to_score(min_cluster=4)
    0.0
    """
    from .graph import HNSW_PARAMS, KDTREE_MAX_DIM, as_points, as_values, knn_graph, lower_star_h0, union_find_h0

    t0 = time.perf_counter()
    pts = as_points(points)
    f = as_values(values, pts.shape[0])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidSpecError(f"k must be a positive integer, got {k!r}")
    edges, r = knn_graph(pts, k=int(k), device=device, dtype=knn_dtype, progress=progress, backend=knn,
                         radius=radius, return_radius=True)
    t_knn = time.perf_counter() - t0
    t = time.perf_counter()
    rows = union_find_h0(f, edges, sizes=True)
    t_h0 = time.perf_counter() - t
    if check_backend:
        g = lower_star_h0(f, edges, backend="gudhi")
        if sorted(map(tuple, g[:, :2].tolist())) != sorted(map(tuple, rows[:, :2].tolist())):
            raise AssertionError("gudhi and the union-find sweep disagree on this graph (please report)")
    n, p = pts.shape
    backend = knn if knn != "auto" else ("kdtree" if p <= KDTREE_MAX_DIM else "brute")
    meta = {"n_points": int(n), "dimension": int(p), "k": min(int(k), max(n - 1, 0)), "k_requested": int(k),
            "radius": r, "radius_rule": ("2 x mean k-NN distance (BarcodeCalc)" if radius == "auto" else
                                         None if radius is None else "given"),
            "n_edges": int(edges.shape[0]), "knn_backend": backend, "knn_exact": backend != "hnsw",
            "h0_backend": "union-find",
            "timings": {"knn": t_knn, "h0": t_h0},
            "death_levels": "graph estimates (highest sample on the best k-NN path)"}
    if backend == "hnsw":
        meta["knn_approximation"] = (f"hnswlib HNSW index (M = {HNSW_PARAMS['M']}, ef_construction = "
                                     f"{HNSW_PARAMS['ef_construction']}, ef = {HNSW_PARAMS['ef_extra']} + k + 1): "
                                     "some true k nearest neighbours may be missing from the graph")
    if min_cluster is not None:
        meta["min_cluster"] = int(min_cluster)
    components = int(np.count_nonzero(~np.isfinite(rows[:, 1]))) if rows.size else 0
    meta["graph_components"] = components
    if components > 1:
        # each extra component is a bar that never dies: a disconnection of the graph, not a minimum,
        # and every merge across components is missing from the TO-score (a new user's silent 0.0)
        import warnings

        from .sampling import BarcodeWarning, split_graph_warning

        text = split_graph_warning(components, meta["k"], r)
        meta["warnings"] = [text]
        warnings.warn(BarcodeWarning(text), stacklevel=2)
    from .sampling import ParameterSample

    sample = ParameterSample(pts, f, np.zeros(n, dtype=np.int8), pts.min(0), pts.max(0))
    return Barcode(sorted_bars(bars_from_sweep(rows)), "knn", "sample id", float(f.min()), float(f.max()), meta,
                   samples=sample, edges=edges)
