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
    """Bytes this process can still allocate: what the OS reports available (MemAvailable from
    /proc/meminfo, else free pages), and no more than its own limits leave (``ulimit -v`` /
    ``ulimit -d``, a cgroup's memory.max), so that a request the limits would kill is refused
    before it starts."""
    return min(_system_available(), _limits_left())


def _limits_left() -> int:
    """What RLIMIT_AS and RLIMIT_DATA, and the cgroup v2 memory limit, leave to this process."""
    left = 1 << 62
    try:
        import resource

        status = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmSize", "VmData"):
                    status[key] = int(value.split()[0]) * 1024
        for limit, used in ((resource.RLIMIT_AS, "VmSize"), (getattr(resource, "RLIMIT_DATA", None), "VmData")):
            if limit is None:
                continue
            soft = resource.getrlimit(limit)[0]
            if soft != resource.RLIM_INFINITY and used in status:
                left = min(left, max(soft - status[used], 0))
    except (ImportError, OSError, ValueError, IndexError):
        pass
    # the memory cgroup of this process (/proc/self/cgroup): v2 "0::/path" (memory.max), or v1
    # "N:memory:/path" (memory.limit_in_bytes, mounted where the container shows it: the group's own
    # folder, else the mount's root)
    try:
        with open("/proc/self/cgroup") as fh:
            lines = [line.strip().split(":", 2) for line in fh]
    except OSError:
        lines = []
    for parts in lines:
        if len(parts) != 3:
            continue
        v2 = parts[0] == "0" and parts[1] == ""
        if not v2 and "memory" not in parts[1].split(","):
            continue
        root = "/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory"
        files = ("memory.max", "memory.current") if v2 else ("memory.limit_in_bytes", "memory.usage_in_bytes")
        for base in (os.path.join(root, parts[2].lstrip("/")), root):
            try:
                with open(os.path.join(base, files[0])) as fh:
                    cap = fh.read().strip()
                if cap == "max" or int(cap) >= 1 << 60:
                    break
                with open(os.path.join(base, files[1])) as fh:
                    left = min(left, max(int(cap) - int(fh.read().strip()), 0))
                break
            except (OSError, ValueError):
                continue
    return left


def _system_available() -> int:
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
