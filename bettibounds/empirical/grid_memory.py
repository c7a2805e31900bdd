"""Host memory of a landscape grid: sampling it and its sublevel persistence, estimated before any work."""

from __future__ import annotations

import math

from .._lib import memory
from ..errors import ResourceLimitError

__all__ = ["GUDHI_BYTES_PER_CELL", "CRIPSER_BYTES_PER_VERTEX", "PERSISTENCE_BYTES_PER_VERTEX", "persistence_bytes",
           "grid_host_bytes", "check_grid_fits"]

#: gudhi's ``CubicalComplex(vertices=...)`` stores the whole cubical complex of the grid, prod(2 n_i - 1)
#: cells (vertices, edges, squares, ...: about 2^k cells per vertex in k dimensions), and its persistence
#: works cell by cell. Measured peak (benchmarks/bench_persistence_memory.py, docs/benchmarks.md): 44-54 B
#: per cell on smooth arrays, 58-99 B on i.i.d. noise (the most at 7-D), so 112 B with headroom
GUDHI_BYTES_PER_CELL = 112

#: cripser's V-construction builds cells on the fly: bytes per *vertex* by dimension; measured peaks
#: 90-250 B in 1-D to 3-D (smooth and noise), 115-135 B on smooth 4-D arrays, and on 4-D i.i.d. noise a
#: figure that grows with the number of bars (450 B at 12^4, 680 B at 16^4, 1016 B at 24^4), with headroom
CRIPSER_BYTES_PER_VERTEX = {1: 320, 2: 320, 3: 320, 4: 1280}

#: the old flat figure, kept for callers that read it: the smallest per-vertex figure above
PERSISTENCE_BYTES_PER_VERTEX = CRIPSER_BYTES_PER_VERTEX[2]


def persistence_bytes(grid, backend: str | None = None) -> int:
    """Peak host bytes of :func:`~.persistence.sublevel_persistence` on a grid of shape ``grid``
    (an estimate at or above every measured peak, see the constants above).

    ``backend``: "gudhi" or "cripser"; default the one the "auto" choice would use (gudhi when
    neither is installed, the larger figure). Axes of length 1 are dropped, as the backends do.
    """
    sizes = [int(n) for n in grid if int(n) > 1]
    k = len(sizes)
    if backend is None:
        try:
            from .persistence import backend_for

            backend = backend_for(k)
        except (ImportError, ModuleNotFoundError):
            backend = "gudhi"
    if backend == "cripser" and k in CRIPSER_BYTES_PER_VERTEX:
        return math.prod(sizes) * CRIPSER_BYTES_PER_VERTEX[k]
    return math.prod(2 * n - 1 for n in sizes) * GUDHI_BYTES_PER_CELL


def grid_host_bytes(grid) -> int:
    """Host memory a landscape on ``grid`` needs at its peak (bytes, an estimate).

    The coordinates of every vertex (meshgrid, then stacked: 2 x 8 k bytes per vertex for
    k axes) or the persistence step (:func:`persistence_bytes`: about 2^k cells per vertex
    with gudhi above 4-D, a few hundred bytes per vertex with cripser), whichever stage is
    larger, plus the float64 values.
    """
    n, k = math.prod(grid), len(grid)
    return max(n * 16 * k, persistence_bytes(grid)) + 8 * n


def check_grid_fits(grid, what: str = "the grid") -> None:
    """Refuse, before any work, a grid whose landscape cannot fit in the host's memory."""
    need, have = grid_host_bytes(grid), memory.available_bytes()
    if need > have:
        raise ResourceLimitError(
            f"{what} {list(grid)} has {math.prod(grid):.3g} points; sampling it and its persistence need about "
            f"{need / 2**30:.3g} GiB of host memory, more than the {have / 2**30:.3g} GiB available: "
            "use a coarser grid (or a smaller --refine factor)")
