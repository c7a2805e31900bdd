"""Typed checks of decoded JSON: each says where in the file a value is wrong, with its JSON path
(``"obstruction experiment network.bias must be true or false, got the string 'false'"``), so that
``"bias": "false"`` is an error rather than ``True`` (torch-free)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InvalidSpecError
from .text import escape

__all__ = ["check_keys", "json_bool", "json_int", "json_number", "json_matrix"]


def check_keys(where: str, obj: Any, accepted: set | frozenset, required: tuple = ()) -> dict:
    """``obj`` as a dict with only ``accepted`` keys and every ``required`` one (messages name ``where``)."""
    if not isinstance(obj, dict):
        raise InvalidSpecError(f"{where} must be a JSON object with keys {sorted(accepted)}, got {_kind(obj)}")
    unknown = set(obj) - set(accepted)
    if unknown:
        raise InvalidSpecError(f"{where}: unknown keys {sorted(unknown)}; accepted: {sorted(accepted)}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise InvalidSpecError(f"{where}: the key {missing[0]!r} is required")
    return obj


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    if isinstance(v, (int, float)):
        return f"the number {v!r}" if len(repr(v)) < 40 else "a very long number"
    if isinstance(v, str):
        return f"the string {escape(repr(v[:40]))}"
    return {dict: "an object", list: "an array", type(None): "null"}.get(type(v), type(v).__name__)


def json_bool(where: str, v: Any) -> bool:
    """A JSON ``true``/``false`` (the string ``"false"`` is refused: ``bool("false")`` is True)."""
    if not isinstance(v, bool):
        raise InvalidSpecError(f"{where} must be true or false, got {_kind(v)}")
    return v


def json_int(where: str, v: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """A JSON integer (not a boolean, not a float) in [minimum, maximum]."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidSpecError(f"{where} must be an integer, got {_kind(v)}")
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        rng = f">= {minimum}" if maximum is None else (f"<= {maximum}" if minimum is None else
                                                       f"in {minimum}..{maximum}")
        raise InvalidSpecError(f"{where} must be an integer {rng}, got {v if abs(v) < 10**15 else _kind(v)}")
    return v


def json_number(where: str, v: Any) -> float:
    """A finite JSON number as a float (integers beyond float64 refused)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidSpecError(f"{where} must be a number, got {_kind(v)}")
    if isinstance(v, int) and abs(v) > 10**300:
        raise InvalidSpecError(f"{where} is too large (|value| > 1e300)")
    x = float(v)
    if not math.isfinite(x):
        raise InvalidSpecError(f"{where} must be finite, got {v!r}")
    return x


def json_matrix(where: str, v: Any, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A non-empty JSON array of equal-length arrays of finite numbers as a float64 matrix; a flat
    array of numbers is one column (``[1, 2]`` is the 2 x 1 matrix)."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, list) or not v:
        raise InvalidSpecError(f"{where} must be a non-empty array of rows, got {_kind(v)}")
    flat = not isinstance(v[0], list)
    rows_ = [[x] for x in v] if flat else v
    width = len(rows_[0]) if isinstance(rows_[0], list) else None
    out = []
    for i, row in enumerate(rows_):
        if not isinstance(row, list) or (flat and isinstance(v[i], list)):
            raise InvalidSpecError(f"{where}[{i}] must be {'a number' if flat else 'an array of numbers'}, "
                                   f"got {_kind(v[i])}")
        if len(row) != width or not row:
            raise InvalidSpecError(f"{where}[{i}] has {len(row)} numbers; every row must have {width or 'one or more'}")
        out.append([json_number(f"{where}[{i}]" + ("" if flat else f"[{j}]"), x) for j, x in enumerate(row)])
    arr = np.array(out, dtype=np.float64)
    if rows is not None and arr.shape[0] != rows:
        raise InvalidSpecError(f"{where} must have {rows} rows, got {arr.shape[0]}")
    if cols is not None and arr.shape[1] != cols:
        raise InvalidSpecError(f"{where} must have {cols} columns, got {arr.shape[1]}")
    return arr
