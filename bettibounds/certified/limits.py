"""The budgets of one certified level: :class:`Limits`, and the context that spends them.

:class:`LevelContext` carries the limits, the start time and the enclosures counted at the start
of a level; its :meth:`~LevelContext.check`, called by every subdivision loop, raises
:class:`LimitReached` when the time or the budget of enclosed boxes is spent (the level is then
reported "not certified" with the reason and where, by :func:`~.topology.certify_level`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .boxes import BoxOracle

__all__ = ["Limits", "LimitReached", "LevelContext"]


class LimitReached(Exception):
    """A limit of the level (time, budget, dimension, a non-finite level) stopped the method: ``kind``,
    ``detail`` (the reason) and ``where`` (centre and extent of the unresolved cells, or None)."""

    def __init__(self, kind: str, detail: str, where=None):
        super().__init__(detail)
        self.kind, self.detail, self.where = kind, detail, where


@dataclass(frozen=True)
class Limits:
    """Budgets of one level: cell depth (cells never narrower than 2^-max_depth of the box),
    1-D piece depth, boxes enclosed, and wall-clock seconds."""

    max_depth: int = 26
    max_piece_depth: int = 38
    max_evaluations: int = 400_000
    seconds: float = 60.0


class LevelContext:
    """The budgets of one level being spent: ``limits``, the start time ``t0``, the oracle's
    evaluations ``ev0`` at the start, and ``pending_where`` (the cells being worked on, for the reason
    of a limit reached)."""

    def __init__(self, oracle: BoxOracle, limits: Limits):
        self.oracle, self.limits = oracle, limits
        self.t0 = time.perf_counter()
        self.ev0 = oracle.evaluations
        self.pending_where = None

    def check(self):
        if time.perf_counter() - self.t0 > self.limits.seconds:
            raise LimitReached("time", f"the time limit of {self.limits.seconds:g} s was reached", self.pending_where)
        if self.oracle.evaluations - self.ev0 > self.limits.max_evaluations:
            raise LimitReached("cells", f"the budget of {self.limits.max_evaluations} enclosed boxes was spent",
                                self.pending_where)
