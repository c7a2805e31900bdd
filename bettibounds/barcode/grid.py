"""Grid barcodes: the barcode of minima (and higher-index segments) of a sampled landscape.

On a grid the sublevel filtration is the V-construction (docs/usage.md, "Landscapes": values on vertices,
axis-neighbour edges), so the barcode *is* the cubical persistence diagram: index-0 segments are the
H0 bars (birth at a minimum's grid vertex, death at the vertex of the saddle that merges its basin
into an older one, elder rule), index-r segments the H_r bars, r < grid dimension.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InvalidSpecError
from .core import Barcode, BarcodeBar, sorted_bars

__all__ = ["grid_barcode", "grid_coordinates", "grid_bar_caveats", "AXIS_ONLY_CAVEAT", "EDGE_CAVEAT"]


def grid_barcode(sample, max_dim: int | None = None, backend: str = "auto", axes=None) -> Barcode:
    """Barcode of a landscape sampled on a grid.

    Parameters
    ----------
    sample : LandscapeSample or numpy.ndarray
        A :class:`~bettibounds.empirical.sampler.LandscapeSample` (values, axes and the slice or
        box it came from), or a bare array of values on grid vertices.
    max_dim : int, optional
        Highest segment index (default: grid dimension - 1, every index the dimension allows).
    backend : {"auto", "gudhi", "cripser"}
        Persistence backend (:func:`~bettibounds.empirical.persistence.sublevel_persistence`).
    axes : list of arrays, optional
        Coordinates of the grid lines when ``sample`` is a bare array (for
        :func:`grid_coordinates`); by default the integer indices.

    Returns
    -------
    Barcode
        ``source="grid"``, locations are grid multi-indices.

    Examples
    --------
    The path example of docs/theory.md §12: values 3, 1, 2, 0, 4 on a path.

    >>> bc = grid_barcode(np.array([3.0, 1.0, 2.0, 0.0, 4.0]))
    >>> [(b.birth, b.death) for b in bc.of_dim(0)]
    [(0.0, inf), (1.0, 2.0)]
    >>> bc.of_dim(0)[1].birth_at, bc.of_dim(0)[1].death_at
    ((1,), (2,))
    """
    from ..empirical.persistence import sublevel_persistence

    meta: dict = {}
    if isinstance(sample, np.ndarray):
        values = sample
        if axes is None:
            axes = [np.arange(n, dtype=float) for n in values.shape]
    elif hasattr(sample, "values") and hasattr(sample, "axes"):
        values, axes = sample.values, sample.axes
        meta.update({"kind": sample.kind, "device": sample.device, "dtype": sample.dtype,
                     "engine": getattr(sample, "engine", "torch"), "sampling_seconds": sample.seconds})
        if sample.kind == "slice":
            meta["directions"] = np.asarray(sample.directions).tolist()
            meta["center"] = np.asarray(sample.center).tolist()
            meta["direction_source"] = sample.direction_source
    else:
        raise InvalidSpecError(f"grid_barcode needs a LandscapeSample or a numpy array of values, "
                               f"got {type(sample).__name__}")
    try:
        bad_axes = len(axes) != values.ndim or any(len(a) != n for a, n in zip(axes, values.shape))
    except TypeError:
        bad_axes = True
    if bad_axes:
        raise InvalidSpecError(f"axes must give one coordinate array per grid axis matching the shape "
                               f"{tuple(values.shape)}")
    t = time.perf_counter()
    diagram = sublevel_persistence(values, max_dim=max_dim, backend=backend)
    meta.update({"shape": list(values.shape), "backend": diagram.backend,
                 "persistence_seconds": time.perf_counter() - t,
                 "axes": [np.asarray(a, dtype=float).tolist() for a in axes]})
    bars = []
    for k in diagram.dims:
        for bar in diagram.intervals(k):
            bars.append(BarcodeBar(k, bar.birth, bar.death, bar.birth_at, bar.death_at))
    meta["axis_only_minima"] = [list(b.birth_at) for b in bars
                                if b.dim == 0 and b.death != np.inf and _lower_diagonal_neighbour(values, b.birth_at)]
    return Barcode(sorted_bars(bars), "grid", "grid index", float(np.min(values)), float(np.max(values)), meta)


def grid_coordinates(barcode: Barcode, index) -> list[float]:
    """The coordinates (slice coordinates t, or theta for a box) of a grid multi-index of ``barcode``."""
    if barcode.source != "grid":
        raise InvalidSpecError("grid_coordinates needs a grid barcode (its locations are sample ids otherwise)")
    axes = barcode.meta["axes"]
    try:
        ok = index is not None and len(index) == len(axes) and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) and 0 <= i < len(a)
            for i, a in zip(index, axes))
    except TypeError:
        ok = False
    if not ok:
        raise InvalidSpecError(f"index must be {len(axes)} grid indices within the shape "
                               f"{[len(a) for a in axes]}, got {index!r}")
    return [float(axes[a][i]) for a, i in enumerate(index)]


#: a grid bar born on the grid's boundary: its minimum may lie outside the region
EDGE_CAVEAT = "born on the grid's edge"
#: a grid bar born at a vertex lower than its axis neighbours but not than a diagonal one
AXIS_ONLY_CAVEAT = "a minimum along the grid's axes only"


def _lower_diagonal_neighbour(values: np.ndarray, index) -> bool:
    """Whether a vertex of the grid has a strictly lower neighbour among the 3^k - 1 around it (diagonals
    included): a minimum of the V-construction (axis neighbours) that is not one of the whole neighbourhood."""
    v = values[tuple(index)]
    box = tuple(slice(max(i - 1, 0), i + 2) for i in index)
    return bool(np.any(values[box] < v))


def grid_bar_caveats(barcode) -> list[str]:
    """What to keep in mind about each bar of a grid barcode (in the order of ``barcode.bars``): "", or
    "; "-joined

    * :data:`EDGE_CAVEAT` for an index-0 segment born at a vertex on the grid's boundary -- the loss may
      fall further outside the region, so its "minimum" can be the region's edge rather than a minimum of
      the loss (a line through two separable classifiers' weights, whose loss falls outward: a new user's
      trial);
    * :data:`AXIS_ONLY_CAVEAT` for a finite index-0 segment born at a vertex with a lower diagonal
      neighbour -- the V-construction joins vertices along the axes only, so a valley running across
      them leaves such "minima" one step from its floor at every spacing, their segments shrinking as
      the grid is refined (a new user's trial: a trained regressor's slice).

    Nothing for other barcodes or other indices (their locations are cells).
    """
    shape = barcode.meta.get("shape") if barcode.source == "grid" else None
    axis_only = {tuple(i) for i in barcode.meta.get("axis_only_minima", [])} if shape is not None else set()
    out = []
    for b in barcode.bars:
        edge = (shape is not None and b.dim == 0 and len(b.birth_at) == len(shape)
                and any(i == 0 or i == n - 1 for i, n in zip(b.birth_at, shape)))
        diag = b.dim == 0 and not b.essential and tuple(b.birth_at) in axis_only
        out.append("; ".join(c for c, on in ((EDGE_CAVEAT, edge), (AXIS_ONLY_CAVEAT, diag)) if on))
    return out
