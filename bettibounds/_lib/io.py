"""Files in and out: one strict reader for every file the package reads, one atomic writer for
every file it writes, and the escaping of user text in messages (torch-free).

Reading (:func:`read_json`, :func:`read_npz`). A file is checked before anything is built from
it, and every defect is an :class:`~bettibounds.errors.InvalidSpecError` (a
:class:`~bettibounds.errors.ResourceLimitError` when it is too large) naming the file:

* a missing path, a directory, a FIFO or a device (reading ``/dev/zero`` would never end) and a
  file larger than :data:`MAX_FILE_BYTES` or than memory can hold once parsed;
* JSON: text that is not UTF-8, duplicate keys (``json`` keeps the last one silently), ``NaN`` /
  ``Infinity`` literals and numbers that overflow float64 (``1e999`` parses to ``inf``), integers
  of more than 4300 digits, nesting deeper than :data:`MAX_DEPTH`;
* ``.npz``: a file that is not a zip archive (a ``.npy`` file named ``.npz`` is recognised and
  named), arrays that are missing or not declared, object (pickled) or non-real dtypes, shapes
  whose data the member does not hold (a header may claim 10^12 entries), and non-finite
  entries.

Typed schema checks on decoded JSON (:func:`check_keys`, :func:`json_bool`, :func:`json_int`,
:func:`json_matrix`) say where in the file a value is wrong, with the JSON path.

Writing (:func:`atomic_write`, :func:`save_figure`, :func:`staged_directory`). A file is written
to a temporary name in its directory, flushed to disk and renamed over the target, so a full
disk, a file-size limit (``ulimit -f``), an unwritable directory, a name over 255 bytes or an
interrupt leaves either the old file or the new one, never a truncated one; the failure is an
:class:`~bettibounds.errors.OutputError` (one line in the CLI, exit status 2). A command that
writes several files writes them into a staging folder that is moved into place at the end
and removed on failure.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import stat
import unicodedata
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import InvalidSpecError, OutputError, ResourceLimitError

__all__ = ["MAX_FILE_BYTES", "MAX_DEPTH", "escape", "display_path", "read_bytes", "parse_json", "read_json",
           "read_npz", "check_keys", "json_bool", "json_int", "json_number", "json_matrix", "atomic_write",
           "save_figure", "staged_directory", "Staging", "output_error", "check_output_dir"]

#: largest input file read (bytes); a larger one is refused before it is read
MAX_FILE_BYTES = 1 << 30
#: deepest nesting of JSON arrays and objects accepted (an experiment file needs 4)
MAX_DEPTH = 32
#: host bytes per byte of JSON text once decoded into Python objects, with headroom (measured: a
#: list of floats written with repr takes about 3x its text as Python floats and list slots, 7x
#: once the experiment parser turns them into Fractions)
JSON_BYTES_PER_TEXT_BYTE = 16

# characters escaped in messages: C0/C1 controls and DEL (category Cc), line and paragraph
# separators (Zl, Zp), lone surrogates from undecodable arguments (Cs) and the bidirectional
# controls that can reorder what a terminal shows ("Trojan source")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def escape(text: str) -> str:
    r"""``text`` with every control character written as an escape, so that a message quoting
    the user's input stays one line and cannot drive the terminal.

    Examples
    --------
    >>> escape("a\nb\x1b[31mc\u202e")
    'a\\nb\\x1b[31mc\\u202e'
    """
    out = []
    for ch in str(text):
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def display_path(path: Any) -> str:
    """A path as messages quote it: repr-quoted (control characters escaped), at most 200 characters."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    shown = repr(text)
    return shown if len(shown) <= 200 else shown[:150] + "..." + shown[-40:]


# ------------------------------------------------------------------------------------------ reading
def _stat_input(path: Any, what: str) -> tuple[Path, os.stat_result]:
    if isinstance(path, str) and path == "":
        raise InvalidSpecError(f"{what}: the path is empty")
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: {exc.strerror or exc}") from None
    except ValueError:  # an embedded NUL byte, or a character the file system encoding cannot write
        raise InvalidSpecError(f"cannot read {what} {display_path(p)}: {_bad_path(p)}") from None
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
        raise InvalidSpecError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidSpecError(f"{where} nests its arrays or objects too deeply (more than {MAX_DEPTH} levels)") from None
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
             limit: int | None = None) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``.npz`` file, as finite float64 numpy arrays.

    Every name must be present and no other array may be (a misspelt name is an error, not
    ignored); each must have a real numeric (bool, integer or floating) dtype and hold the data its
    header declares. The declared sizes are checked against the available memory before any
    array is read.
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
                               f"{', '.join(missing)} missing (it holds {sorted(arrays) or 'none'})")
    if extra:
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
        with np.errstate(all="ignore"):  # a huge int64 or a float128 rounds to float64; checked below
            arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise InvalidSpecError(f"{where}: the array {name!r} contains non-finite values (nan or inf)")
        out[name] = arr
    return out


# --------------------------------------------------------------------------- typed schema checks
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


# ------------------------------------------------------------------------------------------ writing
def output_error(exc: OSError, what: str, path: Any) -> OutputError:
    """The one-line :class:`OutputError` for an OSError met while writing ``path``."""
    reason = exc.strerror or escape(str(exc)) or type(exc).__name__
    hint = {errno.ENOSPC: " (the disk is full)", errno.EDQUOT: " (the disk quota is exhausted)",
            errno.EFBIG: " (a file-size limit, e.g. ulimit -f, was reached)",
            errno.ENAMETOOLONG: " (a path component is longer than the file system allows, usually 255 bytes)",
            errno.EROFS: " (a read-only file system)", errno.EACCES: " (no permission)"}.get(exc.errno, "")
    return OutputError(f"cannot write {what} {display_path(path)}: {reason}{hint}; nothing was written there")


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync; the data were still written
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
            raise


def _temporary(directory: Path) -> tuple[int, Path]:
    """A new file in ``directory`` with a short hidden name (a long target name must not make the
    temporary one exceed 255 bytes); mode 0666 less the umask, like ``open(path, "w")``."""
    for _ in range(100):
        tmp = directory / f".bb-{uuid.uuid4().hex[:12]}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(directory))  # pragma: no cover


def atomic_write(path: Any, data: str | bytes | Callable[[Any], None], what: str = "the file", *,
                 binary: bool | None = None) -> str:
    """Write ``data`` to ``path`` all or nothing: a temporary file in the same directory, flushed,
    synced and renamed over ``path``.

    Parameters
    ----------
    path : path-like
        The target; its directory must exist.
    data : str, bytes, or callable
        The content, or ``data(fh)`` writing it into an open file object (text mode for ``binary``
        False, else binary; the default is binary for bytes and callables, text for str).
    what : str
        What the file is, for the message.

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    OutputError
        Any OSError while writing (full disk, ``ulimit -f``, permission, a name too long); the
        temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    if str(path) == "":
        raise OutputError(f"cannot write {what}: the path is empty")
    if binary is None:
        binary = not isinstance(data, str)
    try:
        fd, tmp = _temporary(target.parent)
    except OSError as exc:
        raise output_error(exc, what, target) from None
    except ValueError:
        raise OutputError(f"cannot write {what} {display_path(target)}: {_bad_path(target)}") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            _fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise output_error(exc, what, target) from None
    except BaseException:
        _remove(tmp)
        raise
    return str(target)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def save_figure(fig, path: Any, what: str = "the plot", **savefig_kwargs) -> str:
    """``fig.savefig(path, ...)`` through :func:`atomic_write` (the format from ``path``'s suffix)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    return atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, **savefig_kwargs), what)


def _bad_path(path: Any) -> str:
    """Why the OS cannot take ``path`` (a NUL byte, a character the file-system encoding cannot
    write, such as a lone surrogate), or "" when it can."""
    text = os.fspath(path)
    if isinstance(text, str):
        if "\0" in text:
            return "the path contains a NUL byte"
        try:
            os.fsencode(text)
        except UnicodeEncodeError as exc:
            return f"the path holds a character the file system cannot store ({exc.object[exc.start]!r})"
    elif b"\0" in text:
        return "the path contains a NUL byte"
    return ""


def check_output_dir(path: Any, option: str) -> None:
    """Check that the directory ``path`` exists and files can be created in it, or that it can be
    created: its nearest existing ancestor is a directory we can write in, and no missing component
    is longer than the file system allows. Creates nothing (a probe file is created and removed).

    Raises
    ------
    InvalidSpecError
        ``path`` is empty, holds a NUL byte, or names an existing file.
    OutputError
        The directory cannot be created or written.
    """
    if str(path).strip() == "":
        raise InvalidSpecError(f"{option} is empty; give a directory (. for the current one)")
    p = Path(path)
    if _bad_path(p) != "":
        raise InvalidSpecError(f"{option} {display_path(path)}: {_bad_path(p)}")
    missing: list[str] = []
    here = p
    try:
        while not here.exists():
            if here.is_symlink():  # a dangling link: mkdir would fail
                raise OutputError(f"{option} {display_path(here)} is a broken symbolic link")
            missing.append(here.name)
            if here.parent == here:
                break
            here = here.parent
        if not here.is_dir():
            what = "is an existing file" if here == p else f"lies under {display_path(here)}, which is a file"
            raise InvalidSpecError(f"{option} {display_path(p)} {what}; give a directory")
        name_max = os.pathconf(here, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            longest = max(p.parts, key=lambda part: len(os.fsencode(part)))
            raise OutputError(f"{option} {display_path(p)}: the name {display_path(longest[:40] + '...')} has "
                              f"{len(os.fsencode(longest))} bytes, more than the file system allows (usually 255)"
                              ) from None
        raise OutputError(f"{option} {display_path(p)}: {exc.strerror or exc}") from None
    for name in missing:
        if len(os.fsencode(name)) > name_max:
            raise OutputError(f"{option} {display_path(p)}: the name {display_path(name[:40] + '...')} has "
                              f"{len(os.fsencode(name))} bytes, more than the {name_max} the file system allows")
    try:
        fd, tmp = _temporary(here)
    except OSError as exc:
        raise OutputError(f"{option} {display_path(p)}: cannot write in {display_path(here)} "
                          f"({exc.strerror or exc})") from None
    os.close(fd)
    _remove(tmp)


class Staging:
    """The staging folder of :func:`staged_directory`: write into ``path``; ``final(p)`` is where a
    file written as ``p`` will be once the outputs are moved into place."""

    def __init__(self, path: Path, target: Path):
        self.path, self.target = path, target

    def final(self, p: Any) -> str:
        p = Path(p)
        try:
            return str(self.target / p.relative_to(self.path))
        except ValueError:
            return str(p)

    def rewrite(self, text: str) -> str:
        """``text`` with the staging folder's path replaced by the target's (for messages)."""
        return text.replace(str(self.path), str(self.target))


@contextlib.contextmanager
def staged_directory(target: Any, what: str = "the outputs", *,
                     commit_on: tuple[type[BaseException], ...] = ()) -> Iterator[Staging]:
    """Collect the files of one command in a hidden staging folder inside ``target`` and move them
    into ``target`` when the block ends normally (or with one of ``commit_on``, e.g. a report that
    is written and then says the theory was violated). On any other exit -- an error, Ctrl-C --
    the staging folder is removed, so a failed run leaves no half set of outputs behind.

    Each file is moved with ``os.replace`` (atomic, same file system); sub-folders are merged.
    """
    target = Path(target)
    created = []  # the folders this call creates, removed again (when empty) if nothing is committed
    here = target
    try:
        while not here.exists() and here.parent != here:
            created.append(here)
            here = here.parent
        target.mkdir(parents=True, exist_ok=True)
        staging = target / f".bb-partial-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
    except OSError as exc:
        raise output_error(exc, what, target) from None
    stage = Staging(staging, target)
    commit = False
    try:
        yield stage
        commit = True
    except commit_on:
        commit = True
        raise
    finally:
        try:
            if commit:
                _move_tree(staging, target, what)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if not commit:
                for folder in created:  # deepest first; a folder someone else filled meanwhile stays
                    with contextlib.suppress(OSError):
                        folder.rmdir()


def _move_tree(src: Path, dst: Path, what: str) -> None:
    for entry in sorted(src.iterdir()):
        goal = dst / entry.name
        try:
            if entry.is_dir() and not entry.is_symlink():
                goal.mkdir(exist_ok=True)
                _move_tree(entry, goal, what)
            else:
                os.replace(entry, goal)
        except OSError as exc:
            raise output_error(exc, what, goal) from None
