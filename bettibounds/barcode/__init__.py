"""Loss barcodes (barcodes of minima) and the TO-score (Barannikov et al. 2019, 2020; docs/theory.md §12).

* :func:`grid_barcode` -- from a landscape sampled on a grid (box or slice): the cubical
  persistence diagram, with the grid vertex of each minimum and of its merge saddle;
* :func:`barcode_of_points` -- of any function known at sample points (k-NN graph, optional
  edge-length cutoff, cluster sizes for the filtered TO-score): the authors' algorithm on your data;
* :func:`sample_barcode` -- in the full parameter space of a network, from uniform samples and
  gradient-descent trajectories joined by a k-NN graph (lower-star H0 with gudhi);
* :func:`minima_graph_barcode` -- the 2020 protocol: minima of independent descents joined by
  relaxed paths, segments from the minimax over the graph of minima (and the paper's direct reading);
* :func:`canonical_form` -- the quotient by the symmetry group (one representative per orbit);
* :func:`refine_barcode` / :func:`refine_path` -- lower the graph's merge levels along explicit
  paths (string method on the batched loss);
* :func:`to_score` and :meth:`Barcode.to_score` -- the TO-score [reconstructed]: a norm (sum, max,
  l2) of the finite segment lengths, optionally divided by the loss range.

Importing this package is cheap; torch and gudhi are imported by the functions that need them.
"""

from .core import TO_SCORE_NORMS, TO_SCORE_STATUS, Barcode, BarcodeBar, to_score
from .graph import knn_graph, knn_search, lower_star_h0, minimax_tree, spanning_edges, tree_path, union_find_h0
from .grid import grid_barcode, grid_coordinates
from .evaluate import FunctionEvaluator, KernelEvaluator, PointEvaluator
from .minima import MinimaGraph, descend, minima_graph_barcode, relax_paths
from .points import barcode_of_points
from .quotient import QUOTIENTS, QuotientInfo, canonical_form
from .refine import RefinedPath, polyline_levels, refine_barcode, refine_path
from .sampling import SAMPLE_PRESETS, BarcodeWarning, ParameterSample, sample_barcode, sample_parameters

__all__ = ["Barcode", "BarcodeBar", "to_score", "TO_SCORE_NORMS", "TO_SCORE_STATUS", "grid_barcode",
           "grid_coordinates", "knn_graph", "lower_star_h0", "union_find_h0", "minimax_tree", "tree_path",
           "sample_barcode", "sample_parameters", "ParameterSample", "refine_barcode", "refine_path",
           "RefinedPath", "polyline_levels", "barcode_of_points", "knn_search", "spanning_edges",
           "canonical_form", "QuotientInfo", "QUOTIENTS", "minima_graph_barcode", "MinimaGraph", "descend",
           "relax_paths", "PointEvaluator", "KernelEvaluator", "FunctionEvaluator", "SAMPLE_PRESETS", "BarcodeWarning"]
