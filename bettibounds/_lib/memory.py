"""Host memory: what the operating system reports available (torch-free)."""

from __future__ import annotations

import os

__all__ = ["available_bytes"]


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
