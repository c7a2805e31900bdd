"""Progress bars: one helper for every long loop of the package (tqdm, from the [empirical] extra)."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["progress_bar"]

#: the package's folder: frames from files under it are the library's, not the user's
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bettibounds/


def progress_bar(progress: bool, total: int, desc: str, unit: str = "pt", unit_scale: bool = True):
    """A tqdm bar over ``total`` units, or None when ``progress`` is off. Without tqdm the work
    goes on without a bar, and a warning says why."""
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm ships with the [empirical] extra; tests/empirical/test_landscape.py
        warnings.warn("progress=True needs tqdm (pip install tqdm); continuing without a bar",
                      stacklevel=_outside_stacklevel())
        return None
    return tqdm(total=total, unit=unit, unit_scale=unit_scale, desc=desc)


def _outside_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by the caller of this function point at the
    first frame outside the package (the user's line), however deep in the library the caller
    sits. One location per user line also lets Python's default filter show it once."""
    frame: FrameType | None = sys._getframe(1)  # the function that warns: stacklevel 1
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame = frame.f_back
        level += 1
    return level
