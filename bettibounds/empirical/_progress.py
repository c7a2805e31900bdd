"""Progress bars: one helper for every long loop of the package (tqdm, from the [empirical] extra)."""

from __future__ import annotations

import warnings


def progress_bar(progress: bool, total: int, desc: str, unit: str = "pt", unit_scale: bool = True):
    """A tqdm bar over ``total`` units, or None when ``progress`` is off. Without tqdm the work
    goes on without a bar, and a warning says why."""
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm ships with the [empirical] extra; tests/empirical/test_landscape.py
        warnings.warn("progress=True needs tqdm (pip install tqdm); continuing without a bar", stacklevel=3)
        return None
    return tqdm(total=total, unit=unit, unit_scale=unit_scale, desc=desc)
