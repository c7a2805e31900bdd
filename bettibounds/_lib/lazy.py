"""One convention for every subpackage's exports: ``__all__`` lists the public API, and each name is
loaded from its module on first use, so importing a subpackage imports nothing heavy."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in its submodules.

    ``exports`` maps each name to the submodule that defines it (relative to ``package``);
    ``namespace`` is the package's ``globals()``: a loaded name is stored there, so later
    look-ups do not come back here.

    Examples
    --------
    >>> g: dict = {}
    >>> get, _ = lazy_exports("bettibounds", {"ArchitectureSpec": "spec"}, g)
    >>> get("ArchitectureSpec").__name__, "ArchitectureSpec" in g
    ('ArchitectureSpec', True)
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
