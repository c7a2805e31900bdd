"""Type aliases of the symbolic core: sizes and formats that are Python ints or sympy expressions.

Every size of a spec (d, h_l, L, m, ...) and every entry of a format (r, alpha, beta) is either a
Python ``int`` or, for the symbolic closed forms, a sympy expression (a positive-integer
``sympy.Symbol`` or an expression in such symbols). The aliases below name that union once.

sympy ships no type information (no ``py.typed``), so for a type checker ``sympy.Expr`` is
``Any``: the aliases document what a value is, and they become checked types the day sympy
ships its own. Nothing here is imported at run time (``import bettibounds`` stays light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import sympy

__all__ = ["Expr", "Size"]

#: a sympy expression (a symbol, or an expression in symbols); ``Any`` for mypy while sympy is untyped
Expr: TypeAlias = "sympy.Expr"
#: a size, count or format entry: a Python int, or a sympy expression for symbolic specs
Size: TypeAlias = "int | sympy.Expr"
