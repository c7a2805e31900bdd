"""One atomic writer for every file the package writes, and checks of output folders before any
work (torch-free).

A file is written to a temporary name in its directory, flushed to disk and renamed over the target
(:func:`atomic_write`, :func:`save_figure`), so a full disk, a file-size limit (``ulimit -f``), an
unwritable directory, a name over 255 bytes or an interrupt leaves either the old file or the new
one, never a truncated one; the failure is an :class:`~bettibounds.errors.OutputError` (one line in
the CLI, exit status 2). A command that writes several files writes them into a staging folder
(:func:`staged_directory`) that is moved into place at the end and removed on failure.
:func:`check_output_dir` refuses, before the work, an output folder that cannot be created or written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidSpecError, OutputError
from .text import bad_path, display_path, escape

__all__ = ["output_error", "atomic_write", "save_figure", "check_output_dir", "Staging", "staged_directory"]


def output_error(exc: OSError, what: str, path: Any) -> OutputError:
    """The one-line :class:`OutputError` for an OSError met while writing ``path``."""
    reason = exc.strerror or escape(str(exc)) or type(exc).__name__
    hint = {errno.ENOSPC: " (the disk is full)", errno.EDQUOT: " (the disk quota is exhausted)",
            errno.EFBIG: " (a file-size limit, e.g. ulimit -f, was reached)",
            errno.ENAMETOOLONG: " (a path component is longer than the file system allows, usually 255 bytes)",
            errno.EROFS: " (a read-only file system)", errno.EACCES: " (no permission)"}.get(exc.errno or 0, "")
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
        raise OutputError(f"cannot write {what} {display_path(target)}: {bad_path(target)}") from None
    try:
        text: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, "wb" if binary else "w", **text) as fh:
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
    if bad_path(p) != "":
        raise InvalidSpecError(f"{option} {display_path(path)}: {bad_path(p)}")
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
