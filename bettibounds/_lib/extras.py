"""Optional extras: one ``require`` for every heavy import, one wording of the install hint.

The core (spec, pfaffian, theorems, result, api) needs none of these; each capability that
needs an extra imports it through :func:`require`, which raises
:class:`~bettibounds.errors.MissingExtraError` (an ``ImportError`` and a
``BettiBoundsError``: the CLI prints one line and exits 2) naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingExtraError

__all__ = ["EXTRAS", "install_hint", "require", "missing_extra", "available"]

#: extra -> (what it is for, the modules it provides)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "empirical": ("loss landscapes, persistence and barcodes",
                  ("torch", "gudhi", "cripser", "matplotlib", "tqdm", "sklearn")),
    "certify": ("certified lower bounds and certified Betti numbers (ball arithmetic)", ("flint", "threadpoolctl")),
    "dist": ("Dask clusters", ("dask", "distributed")),
    "fast": ("the fused CPU engine", ("numba", "llvmlite")),
    "test": ("the test suite", ("pytest", "hypothesis", "sklearn")),
    "approx": ("the approximate k-NN index of sample-mode barcodes", ("hnswlib",)),
    "lint": ("the linters and type checker", ("ruff", "mypy", "importlinter")),
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra`` into a clone of the repository.

    ``[empirical]`` installs the CPU build of torch first, so that pip does not pull a
    multi-GB CUDA build (README, "Set-up in two commands").
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    cmd = f"pip install -e '.[{extra}]'"
    return f"pip install torch==2.13.0 && {cmd}" if extra == "empirical" else cmd


def require(extra: str, module: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` (from the optional ``extra``) or raise a teaching MissingExtraError.

    Parameters
    ----------
    extra : str
        The extra of pyproject.toml that provides the module.
    module : str
        The module to import (``"torch"``, ``"flint"``, ``"dask.distributed"``, ...).
    purpose : str, optional
        What needs it, for the message (default: the extra's own purpose).

    Examples
    --------
    >>> require("test", "pytest").__name__
    'pytest'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing_extra(extra, exc, purpose, module) from None


def missing_extra(extra: str, exc: ImportError, purpose: str | None = None,
                  module: str | None = None) -> MissingExtraError:
    """The MissingExtraError for an ImportError met while importing what ``extra`` provides
    (``raise missing_extra("empirical", exc, "the landscape tools") from None``)."""
    if isinstance(exc, MissingExtraError):
        return exc
    what = purpose or EXTRAS[extra][0]
    missing = getattr(exc, "name", None) or module or "a module"
    return MissingExtraError(f"the [{extra}] extra is needed for {what} ({missing} is missing): {install_hint(extra)}",
                             extra=extra, name=missing)


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it when it is not loaded yet)."""
    import importlib.util
    import sys

    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
