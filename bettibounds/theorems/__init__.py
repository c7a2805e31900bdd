"""Registry of bound theorems.

>>> sorted(THEOREMS)
['BS-arctan', 'BS-sigmoid', 'GV', 'K', 'Kh', 'Mi', 'Mi+', 'Sym', 'Sym-cert', 'Z']
>>> get_theorem("GV").status
'quoted'
"""

from __future__ import annotations

from ..errors import unknown_name
from .base import STATUSES, Hypothesis, Product, Theorem
from .catalog import CATALOG

__all__ = ["THEOREMS", "get_theorem", "Theorem", "Hypothesis", "Product", "STATUSES"]

THEOREMS: dict[str, Theorem] = {t.key: t for t in CATALOG}


def get_theorem(key: str) -> Theorem:
    """Look a theorem up by key; unknown keys list the valid ones."""
    try:
        return THEOREMS[key]
    except (KeyError, TypeError):
        raise unknown_name("theorem", key, list(THEOREMS)) from None
