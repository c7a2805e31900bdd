"""Host memory: what is available, and whether a landscape grid fits (torch-free)."""

from __future__ import annotations

import math
import os

from ..errors import InvalidSpecError

__all__ = ["PERSISTENCE_BYTES_PER_VERTEX", "available_bytes", "grid_host_bytes", "check_grid_fits"]

#: host bytes per grid vertex of the persistence step (measured: a 4096^2 grid took 3.3 GB
#: with cripser, about 200 B per vertex; docs/benchmarks.md), with headroom
PERSISTENCE_BYTES_PER_VERTEX = 256


def available_bytes() -> int:
    """Bytes the OS reports available (MemAvailable from /proc/meminfo, else free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 * 2**30  # a conservative guess when the OS does not say


def grid_host_bytes(grid) -> int:
    """Host memory a landscape on ``grid`` needs at its peak (bytes, an estimate).

    The coordinates of every vertex (meshgrid, then stacked: 2 x 8 k bytes per vertex for
    k axes), the float64 values (8 bytes) and the persistence step (about 256 bytes per
    vertex), whichever stage is larger, plus the values.
    """
    n, k = math.prod(grid), len(grid)
    return n * (max(16 * k, PERSISTENCE_BYTES_PER_VERTEX) + 8)


def check_grid_fits(grid, what: str = "the grid") -> None:
    """Refuse, before any work, a grid whose landscape cannot fit in the host's memory."""
    need, have = grid_host_bytes(grid), available_bytes()
    if need > have:
        raise InvalidSpecError(
            f"{what} {list(grid)} has {math.prod(grid):.3g} points; sampling it and its persistence need about "
            f"{need / 2**30:.3g} GiB of host memory, more than the {have / 2**30:.3g} GiB available: "
            "use a coarser grid (or a smaller --refine factor)")
