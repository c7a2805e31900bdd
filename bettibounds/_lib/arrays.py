"""Array validation shared by every engine and job (torch-free: tensors are recognised by duck typing).

One converter per need, instead of one per module:

* :func:`as_float64` -- anything array-like (nested lists, Fractions, numpy, a torch tensor
  that may require grad, on any device) as a float64 numpy array;
* :func:`as_matrix` -- a finite float64 2-D array with optional row/column counts;
* :func:`host_or_tensor` -- a tensor or a numpy array is kept as it is (no copy to the host),
  anything else becomes float64 numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["as_float64", "as_matrix", "host_or_tensor", "is_tensor"]


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch)."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def as_float64(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 numpy array (a tensor is detached and copied to the host).

    Raises
    ------
    InvalidSpecError
        When ``value`` is not a rectangular array of real numbers.
    """
    if is_tensor(value):
        value = value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{name} must be a rectangular array of real numbers ({exc})") from None


def as_matrix(name: str, value: Any, cols: int | None = None, rows: int | None = None) -> np.ndarray:
    """A finite float64 2-D array from rows of numbers (Fractions, floats, arrays, tensors).

    Examples
    --------
    >>> as_matrix("x", [[1, 2], [3, 4]], cols=2).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    arr = as_float64(name, value)
    if arr.ndim != 2:
        raise InvalidSpecError(f"{name} must be 2-D (rows of numbers), got an array of shape {tuple(arr.shape)}")
    if rows is not None and arr.shape[0] != rows:
        raise InvalidSpecError(f"{name} must have {rows} rows, got shape {tuple(arr.shape)}")
    if cols is not None and arr.shape[1] != cols:
        raise InvalidSpecError(f"{name} must have {cols} columns, got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise InvalidSpecError(f"{name} contains non-finite values (nan or inf)")
    return arr


def host_or_tensor(name: str, value: Any) -> Any:
    """A tensor or numpy array stays as it is; anything else becomes a float64 numpy array."""
    if is_tensor(value) or isinstance(value, np.ndarray):
        return value
    return as_float64(name, value)
