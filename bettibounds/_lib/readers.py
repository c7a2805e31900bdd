"""Strict readers for every file the package reads: JSON and ``.npz`` (torch-free).

A file is checked before anything is built from it, and every defect is an
:class:`~bettibounds.errors.InvalidSpecError` (a :class:`~bettibounds.errors.ResourceLimitError` when
it is too large) naming the file:

* a missing path, a directory, a FIFO or a device (reading ``/dev/zero`` would never end) and a
  file larger than :data:`MAX_FILE_BYTES` or than memory can hold once parsed;
* JSON (:func:`read_json`, :func:`parse_json`): text that is not UTF-8, duplicate keys (``json``
  keeps the last one silently), ``NaN`` / ``Infinity`` literals and numbers that overflow float64
  (``1e999`` parses to ``inf``), integers of more than 4300 digits, nesting deeper than
  :data:`MAX_DEPTH`;
* ``.npz`` (:func:`read_npz`): a file that is not a zip archive (a ``.npy`` file named ``.npz`` is
  recognised and named), arrays that are missing or not declared, object (pickled) or non-real
  dtypes, shapes whose data the member does not hold (a header may claim 10^12 entries), and
  non-finite entries.

What the decoded JSON must contain is checked by :mod:`bettibounds._lib.schema`.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidSpecError, ResourceLimitError
from .text import bad_path, display_path, escape

__all__ = ["MAX_FILE_BYTES", "MAX_DEPTH", "JSON_BYTES_PER_TEXT_BYTE", "read_bytes", "parse_json", "read_json",
           "read_npz"]

#: largest input file read (bytes); a larger one is refused before it is read
MAX_FILE_BYTES = 1 << 30
#: deepest nesting of JSON arrays and objects accepted (an experiment file needs 4)
MAX_DEPTH = 32
#: host bytes per byte of JSON text once decoded into Python objects, with headroom (measured: a
#: list of floats written with repr takes about 3x its text as Python floats and list slots, 7x
#: once the experiment parser turns them into Fractions)
JSON_BYTES_PER_TEXT_BYTE = 16


def _stat_input(path: Any, what: str) -> tuple[Path, os.stat_result]:
    if isinstance(path, str) and path == "":
        raise InvalidSpecError(f"{what}: the path is empty")
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: {exc.strerror or exc}") from None
    except ValueError:  # an embedded NUL byte, or a character the file system encoding cannot write
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: {bad_path(p)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: it is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: it is not a regular file (a device, FIFO "
                               "or socket); give a file")
    return p, st


def _too_large(what: str, p: Path, size: int, limit: int, why: str) -> ResourceLimitError:
    return ResourceLimitError(f"{what} {display_path(p)} has {size / 2**20:.4g} MiB, more than {why} "
                              f"({limit / 2**20:.4g} MiB)")


def read_bytes(path: Any, what: str = "file", *, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (default :data:`MAX_FILE_BYTES`).

    Raises
    ------
    InvalidSpecError
        The path is empty, missing, unreadable, a directory or not a regular file.
    ResourceLimitError
        The file is larger than ``limit``.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    p, st = _stat_input(path, what)
    if st.st_size > limit:
        raise _too_large(what, p, st.st_size, limit, "the limit on input files")
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew while we read it
        raise _too_large(what, p, len(data), limit, "the limit on input files")
    return data


class _JSONRefusal(ValueError):
    """Raised inside the json hooks; its message is the reason."""


def _no_duplicate_keys(pairs) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise _JSONRefusal(f"the key {key!r} appears twice in one object; which one is meant?")
        out[key] = value
    return out


def _no_constant(name: str):
    raise _JSONRefusal(f"{name} is not a number JSON allows (give finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JSONRefusal(f"the number {text[:30]}{'...' if len(text) > 30 else ''} overflows float64 "
                           "(largest about 1.8e308)")
    return value


def _depth(obj: Any) -> int:
    """Nesting depth of arrays and objects (iterative: the parsed object may be deep)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def parse_json(text: str | bytes, what: str = "file", path: Any = None) -> Any:
    """Decode JSON strictly (the guarantees listed in the module docstring).

    ``what`` and ``path`` name the source in messages.
    """
    where = what if path is None else f"{what} {display_path(path)}"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSpecError(f"{where} is not UTF-8 text (byte {exc.start}): it must be JSON") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark some editors write: not part of the JSON
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant,
                         parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidSpecError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} "
                               f"column {exc.colno}") from None
    except RecursionError:
        raise InvalidSpecError(f"{where} nests its arrays or objects too deeply "
                               f"(more than {MAX_DEPTH} levels)") from None
    except _JSONRefusal as exc:
        raise InvalidSpecError(f"{where}: {exc}") from None
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        why = "a number has more than 4300 digits" if "digits" in str(exc) else escape(str(exc))
        raise InvalidSpecError(f"{where}: {why}") from None
    if _depth(obj) > MAX_DEPTH:
        raise InvalidSpecError(f"{where} nests its arrays or objects too deeply (more than {MAX_DEPTH} levels)")
    return obj


def read_json(path: Any, what: str = "file", *, limit: int | None = None) -> Any:
    """Read and strictly decode a JSON file (see :func:`parse_json`).

    The file must fit, decoded, in the memory available: about
    :data:`JSON_BYTES_PER_TEXT_BYTE` bytes per byte of text.
    """
    from .memory import available_bytes

    p, st = _stat_input(path, what)
    have = available_bytes()
    if st.st_size * JSON_BYTES_PER_TEXT_BYTE > have:
        raise _too_large(what, p, st.st_size, have // JSON_BYTES_PER_TEXT_BYTE,
                         f"what the available memory can hold decoded ({JSON_BYTES_PER_TEXT_BYTE} bytes per byte)")
    return parse_json(read_bytes(p, what, limit=limit), what, p)


# ------------------------------------------------------------------------------------------ .npz
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty archive


def _npy_header(fh, name: str, where: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh, max_header_size=10_000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh, max_header_size=10_000)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise InvalidSpecError(f"{where}: the array {name!r} is not a valid .npy member ({escape(str(exc))})") from None
    return shape, dtype, fortran


def read_npz(path: Any, names: tuple[str, ...] | list[str], what: str = "data file", *,
             limit: int | None = None, others: bool = False, float64: bool = True,
             missing_hint: str = "") -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``.npz`` file, as finite float64 numpy arrays.

    Every name must be present and, unless ``others``, no other array may be (a misspelt name is
    an error, not ignored; with ``others`` the other arrays are neither checked nor read); each must
    have a real numeric (bool, integer or floating) dtype and hold the data its header declares. The
    declared sizes are checked against the available memory before any array is read.
    ``float64=False`` keeps each array's own dtype (integer class labels stay integers);
    ``missing_hint`` ends the message about missing arrays (how the caller names them).
    """
    from .memory import available_bytes

    data = read_bytes(path, what, limit=limit)
    p = Path(path)
    where = f"{what} {display_path(p)}"
    if data.startswith(_NPY_MAGIC):
        raise InvalidSpecError(f"{where} is a single .npy array, not an .npz archive; save the arrays "
                               f"{', '.join(names)} together with numpy.savez")
    if not data.startswith(_ZIP_MAGIC):
        raise InvalidSpecError(f"cannot read {where}: it is not an .npz archive (numpy.savez writes a zip file)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise InvalidSpecError(f"cannot read {where}: a corrupt .npz archive ({escape(str(exc))})") from None
    arrays = {}
    for member in members:
        if not member.endswith(".npy") or member.count("/") or member.startswith("."):
            raise InvalidSpecError(f"cannot read {where}: it holds {display_path(member)}, which is not an array "
                                   f"(an .npz file holds name.npy members; expected {', '.join(names)})")
        arrays[member[:-4]] = members[member]
    missing = [n for n in names if n not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing:
        raise InvalidSpecError(f"{where}: the .npz file needs arrays named {', '.join(names)}; "
                               f"{', '.join(missing)} missing (it holds {sorted(arrays) or 'none'}){missing_hint}")
    if extra and not others:
        raise InvalidSpecError(f"{where}: unknown arrays {extra} in the .npz file; accepted: {', '.join(names)}")
    out: dict[str, np.ndarray] = {}
    budget = available_bytes()
    for name in names:
        info = arrays[name]
        try:
            with archive.open(info) as fh:
                shape, dtype, fortran = _npy_header(fh, name, where)
                if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
                    raise InvalidSpecError(f"{where}: the array {name!r} has dtype {dtype}; give real numbers "
                                           "(bool, integer or float), not objects, strings or complex numbers")
                count = math.prod(shape)
                need = count * max(dtype.itemsize, 8)
                if count * dtype.itemsize > info.file_size:
                    raise InvalidSpecError(f"{where}: the array {name!r} declares shape {tuple(shape)} but the "
                                           f"file holds only {info.file_size} bytes of it (truncated or forged)")
                if need > budget:
                    raise ResourceLimitError(f"{where}: the array {name!r} of shape {tuple(shape)} needs "
                                             f"{need / 2**30:.3g} GiB, more than the {budget / 2**30:.3g} GiB "
                                             "of memory available")
                budget -= need
                raw = fh.read(count * dtype.itemsize)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            if isinstance(exc, InvalidSpecError):
                raise
            raise InvalidSpecError(f"cannot read {where}: the array {name!r} is corrupt ({escape(str(exc))})") from None
        if len(raw) != count * dtype.itemsize:
            raise InvalidSpecError(f"{where}: the array {name!r} is truncated")
        arr = np.frombuffer(raw, dtype=dtype, count=count)
        arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
        if float64:
            with np.errstate(all="ignore"):  # a huge int64 or a float128 rounds to float64; checked below
                arr = arr.astype(np.float64)
        else:
            arr = arr.copy()  # writeable, not a view of the file's bytes
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InvalidSpecError(f"{where}: the array {name!r} contains non-finite values (nan or inf)")
        out[name] = arr
    return out
