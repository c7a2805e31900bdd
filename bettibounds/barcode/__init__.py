"""Loss barcodes (barcodes of minima) and the TO-score (Barannikov et al. 2019, 2020; docs/theory.md §12).

* :func:`grid_barcode` -- from a landscape sampled on a grid (box or slice): the cubical
  persistence diagram, with the grid vertex of each minimum and of its merge saddle;
* :func:`barcode_of_points` -- of any function known at sample points (k-NN graph, optional
  edge-length cutoff, cluster sizes for the filtered TO-score): the authors' algorithm on your data;
* :func:`sample_barcode` -- in the full parameter space of a network, from uniform samples and
  gradient-descent trajectories joined by a k-NN graph (lower-star H0 with gudhi);
* :func:`minima_graph_barcode` -- the 2020 protocol: minima of independent descents joined by
  relaxed paths, segments from the minimax over the graph of minima (and the paper's direct reading);
  :func:`relax_paths` relaxes many paths at once with a convergence test per path
  (:class:`PathRelaxation`), :func:`relax_paths_adaptive` at adaptive resolution (midpoints
  inserted until each path's level settles); :class:`MLPEvaluator` gives the batched losses and gradients of a
  plain MLP by hand-written backpropagation (the fast path of the real-data sweep);
* :func:`canonical_form` -- the quotient by the symmetry group (one representative per orbit);
* :func:`refine_barcode` / :func:`refine_path` -- lower the graph's merge levels along explicit
  paths (string method on the batched loss);
* :func:`to_score` and :meth:`Barcode.to_score` -- the TO-score [reconstructed]: a norm (sum, max,
  l2) of the finite segment lengths, optionally divided by the loss range.

Importing this package is cheap; torch and gudhi are imported by the functions that need them.
"""

from .._lib.lazy import lazy_exports

#: the public API, name -> module
_PUBLIC = {
    "Barcode": "core", "BarcodeBar": "core", "to_score": "core",
    "grid_barcode": "grid", "grid_bar_caveats": "grid", "barcode_of_points": "points", "sample_barcode": "sampling",
    "BarcodeWarning": "sampling", "minima_graph_barcode": "minima", "MinimaGraph": "minima", "descend": "minima",
    "relax_paths": "relax", "relax_paths_adaptive": "relax", "PathRelaxation": "relax", "MLPEvaluator": "backprop",
    "canonical_form": "quotient", "QuotientInfo": "quotient",
    "refine_barcode": "refine", "refine_path": "refine", "knn_graph": "graph", "lower_star_h0": "graph",
    "union_find_h0": "graph", "minimax_tree": "graph", "tree_path": "graph",
    "KernelEvaluator": "evaluate", "FunctionEvaluator": "evaluate",
}
#: names 0.1 exported that belong to the modules' internals: still importable from here, not in __all__
_COMPAT = {
    "TO_SCORE_NORMS": "core", "TO_SCORE_STATUS": "core", "grid_coordinates": "grid", "knn_search": "graph",
    "spanning_edges": "graph", "PointEvaluator": "evaluate", "QUOTIENTS": "quotient", "RefinedPath": "refine",
    "polyline_levels": "refine", "SAMPLE_PRESETS": "sampling", "ParameterSample": "sampling",
    "sample_parameters": "sampling",
}

__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_exports(__name__, {**_PUBLIC, **_COMPAT}, globals())
