"""Exception hierarchy of bettibounds.

Every error raised on bad input is a :class:`BettiBoundsError`, which subclasses
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do not
know this package. Messages say what is wrong, why, and what is accepted instead.

The environment errors (:class:`MissingExtraError`, :class:`DeviceError`,
:class:`SchedulerError`, :class:`ResourceLimitError`, :class:`OutputError`) subclass :class:`InvalidSpecError`,
which version 0.1 raised for all of them, so code written against 0.1 keeps catching them.
"""

from __future__ import annotations

__all__ = [
    "BettiBoundsError",
    "InvalidSpecError",
    "NotPfaffianError",
    "HypothesisError",
    "UnknownNameError",
    "MissingExtraError",
    "DeviceError",
    "SchedulerError",
    "ResourceLimitError",
    "OutputError",
    "FloatingPointModeError",
    "BettiBoundsWarning",
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


class MissingExtraError(InvalidSpecError, ImportError):
    """An optional extra (``[empirical]``, ``[certify]``, ``[dist]``, ``[fast]``) is not installed.

    Both a :class:`BettiBoundsError` (the CLI prints it as one line and exits 2) and an
    :class:`ImportError` (``except ImportError`` keeps working). ``extra`` names the extra,
    ``name`` the missing module; the message says how to install it. Raised by
    :func:`bettibounds._lib.extras.require`.
    """

    def __init__(self, message: str, *, extra: str, name: str | None = None):
        super().__init__(message)
        self.extra = extra
        self.name = name  # ImportError's attribute: the module that could not be imported


class DeviceError(InvalidSpecError):
    """A requested device (``cuda``, ``cuda:1``) is not available on this machine."""


class SchedulerError(InvalidSpecError):
    """A Dask scheduler cannot be reached, has no workers, or lost them all."""


class ResourceLimitError(InvalidSpecError):
    """A request would need more memory or time than this machine can give (refused before any work)."""


class OutputError(InvalidSpecError):
    """A result cannot be written: the directory is not writable, the disk is full, a file-size
    limit (``ulimit -f``) was reached, a name is too long. Nothing half-written is left behind
    (:mod:`bettibounds._lib.writers` writes to a temporary file and renames it)."""


class FloatingPointModeError(InvalidSpecError):
    """The processor's floating-point mode is not IEEE 754's default (round to nearest, gradual underflow).

    The certified topology's interval arithmetic (docs/theory.md §13.3, Lemma R) is proven for that mode
    only; flush-to-zero / denormals-are-zero (``torch.set_flush_denormal(True)``, compiler flags such as
    ``-ffast-math`` in a loaded library) or a directed rounding mode would make its bounds wrong, so
    :func:`bettibounds.certified.fpmode.check_float_mode` refuses to compute under them.
    """


class BettiBoundsWarning(UserWarning):
    """A result is computed, but something about the input looks wrong (a loss given outputs of
    the wrong kind, say). The CLI prints it as one line, ``bettibounds: warning: ...``, on stderr."""


def unknown_name(kind: str, name: object, valid: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build the standard 'unknown X' error listing the accepted names."""
    return UnknownNameError(
        f"unknown {kind} {name!r}; valid {kind} names are: {', '.join(sorted(valid))}"
    )
