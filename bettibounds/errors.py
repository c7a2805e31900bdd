"""Exception hierarchy of bettibounds.

Every error raised on bad input is a :class:`BettiBoundsError`, which subclasses
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do not
know this package. Messages say what is wrong, why, and what is accepted instead.
"""

from __future__ import annotations

__all__ = [
    "BettiBoundsError",
    "InvalidSpecError",
    "NotPfaffianError",
    "HypothesisError",
    "UnknownNameError",
]


class BettiBoundsError(ValueError):
    """Base class of every error bettibounds raises on bad input."""


class InvalidSpecError(BettiBoundsError):
    """An architecture, data or option value is malformed or inconsistent."""


class NotPfaffianError(BettiBoundsError):
    """An activation (or other building block) is not a Pfaffian function.

    ReLU, leaky ReLU, max and abs are not real-analytic, so no Pfaffian chain exists
    and the Betti-number bounds of this package do not apply to them.
    """


class HypothesisError(BettiBoundsError):
    """A theorem was asked for where one of its hypotheses definitely fails."""


class UnknownNameError(BettiBoundsError):
    """A name (activation, loss, theorem, ...) is not in its registry."""


def unknown_name(kind: str, name: object, valid: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build the standard 'unknown X' error listing the accepted names."""
    return UnknownNameError(
        f"unknown {kind} {name!r}; valid {kind} names are: {', '.join(sorted(valid))}"
    )
