"""The checks every engine makes on its inputs (torch-free): a concrete spec and data that fit it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._lib.arrays import as_matrix
from ..errors import InvalidSpecError
from ..spec import ArchitectureSpec, SymbolicWidths

__all__ = ["check_spec", "check_data", "check_mode", "check_points", "concrete_widths"]


def check_data(spec: ArchitectureSpec, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(x (m, d), y (m, outputs)) as finite float64 arrays that fit ``spec`` (every engine's check)."""
    xa = as_matrix("x", x, cols=spec.inputs)
    ya = as_matrix("y", y, cols=spec.outputs)
    if xa.shape[0] != ya.shape[0]:
        raise InvalidSpecError(f"x has {xa.shape[0]} rows but y has {ya.shape[0]}")
    if xa.shape[0] != spec.samples:
        raise InvalidSpecError(
            f"the data has {xa.shape[0]} samples but spec.samples = {spec.samples} "
            "(the loss averages over spec.samples; build the spec with samples=len(x))"
        )
    if spec.loss == "bce" and not ((ya >= 0) & (ya <= 1)).all():
        raise InvalidSpecError("BCE targets y must lie in [0, 1]")
    return xa, ya


def check_mode(mode: str, center: Any, directions: Any) -> None:
    """``mode`` is "full" or "slice"; a slice comes with a centre and directions, a full evaluation
    with neither (every engine's check of its evaluation arguments, before any work)."""
    if mode not in ("full", "slice"):
        raise InvalidSpecError(f"mode must be 'full' or 'slice', got {mode!r}")
    if mode == "slice" and (center is None or directions is None):
        raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
    if mode == "full" and (center is not None or directions is not None):
        raise InvalidSpecError("center/directions are only used with mode='slice'")


def check_points(points: Any, mode: str, width: int) -> Any:
    """``points`` as an (N, width) array (numpy or torch, whichever it is): slice coordinates
    (``mode='slice'``, width k; a 1-D array is one coordinate per point when k = 1) or parameter
    vectors (width P). Every engine's shape check, so that they refuse the same inputs with the
    same message."""
    if mode == "slice" and width == 1 and points.ndim == 1:
        points = points.reshape(-1, 1)
    if points.ndim != 2 or points.shape[1] != width:
        what = f"(N, k={width}) slice coordinates" if mode == "slice" else f"(N, P={width}) parameter vectors"
        raise InvalidSpecError(f"points must have shape {what}, got {tuple(points.shape)}")
    return points


def concrete_widths(spec: ArchitectureSpec) -> tuple[int, ...]:
    """The hidden widths of a concrete spec as ints (the engines' view of a spec that passed
    :func:`check_spec`)."""
    if isinstance(spec.widths, SymbolicWidths):
        raise InvalidSpecError("the batched kernel needs a concrete spec (integer sizes), got a symbolic one")
    return tuple(int(h) for h in spec.widths)


def check_spec(spec: Any) -> ArchitectureSpec:
    """``spec`` if it is a concrete ArchitectureSpec an engine can evaluate (integer sizes, a numeric l2)."""
    if not isinstance(spec, ArchitectureSpec):
        raise InvalidSpecError(f"spec must be an ArchitectureSpec, got {type(spec).__name__}")
    if spec.is_symbolic:
        raise InvalidSpecError("the batched kernel needs a concrete spec (integer sizes), got a symbolic one")
    try:
        l2 = float(spec.l2)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"the batched kernel needs a numeric l2, got {spec.l2!r}") from None
    if l2 == 0 and spec.l2_positive:  # the bound's compactness argument uses lambda > 0; the kernel would not
        raise InvalidSpecError("l2 is positive but below float64's smallest number (about 5e-324), so the "
                               "kernels would evaluate the loss without its penalty; use l2 >= 1e-300 or 0")
    return spec
