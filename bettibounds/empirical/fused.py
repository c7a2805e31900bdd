"""The fused CPU engine (compatibility module).

The engine now lives in :mod:`bettibounds.engines.fused` (its generated vector code in
``bettibounds.engines._fused_numba``); the names stay importable from here.
"""

from __future__ import annotations

from ..engines.fused import FusedKernel, FusedRangeError, FusedSliceKernel, fused_unsupported

__all__ = ["FusedKernel", "FusedRangeError", "FusedSliceKernel", "fused_unsupported"]
