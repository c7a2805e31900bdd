"""Host memory: what the operating system reports available (torch-free)."""

from __future__ import annotations

import os

__all__ = ["available_bytes"]


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
