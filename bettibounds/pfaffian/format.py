"""The Pfaffian format (r, alpha, beta) as an immutable value.

A Pfaffian chain of order ``r`` and degree ``alpha`` on an open set G of R^n is a
sequence f_1..f_r of real-analytic functions with
``df_j/dx_i = g_ij(x, f_1, ..., f_j)``, every g_ij a polynomial of degree <= alpha.
A Pfaffian function of format (r, alpha, beta) is ``P(x, f_1, ..., f_r)`` with
deg P <= beta [Khovanskii1991; GabrielovVorobjov2004, Def. 2.1].

The algebra of formats lives in :mod:`bettibounds.pfaffian.rules` as pure functions
on plain tuples; this class only validates and names the three numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidSpecError

__all__ = ["PfaffianFormat"]


def _check_count(name: str, value: object) -> int:
    # bool is an int subclass; True as an order is almost certainly a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSpecError(
            f"Pfaffian format field {name} must be a non-negative integer, got {value!r}"
        )
    if value < 0:
        raise InvalidSpecError(
            f"Pfaffian format field {name} must be a non-negative integer, got {value}"
        )
    return value


@dataclass(frozen=True, slots=True)
class PfaffianFormat:
    """Format (r, alpha, beta) of a Pfaffian function.

    Parameters
    ----------
    order : int
        r, the length of the Pfaffian chain (0 for a polynomial).
    alpha : int
        Degree of the chain: every partial derivative of a chain element is a
        polynomial of degree <= alpha in (x, chain).
    beta : int
        Degree of the function as a polynomial in (x, chain).

    Notes
    -----
    The format is an *upper bound* on the complexity of the function: a function of
    format (r, alpha, beta) also has every larger format, and every bound of
    :mod:`bettibounds.theorems` is monotone in each entry (on its natural domain).

    Examples
    --------
    >>> PfaffianFormat(1, 2, 4)
    PfaffianFormat(order=1, alpha=2, beta=4)
    >>> PfaffianFormat(1, 2, 4).as_tuple()
    (1, 2, 4)
    """

    order: int
    alpha: int
    beta: int

    def __post_init__(self) -> None:
        _check_count("order (r)", self.order)
        _check_count("alpha", self.alpha)
        _check_count("beta", self.beta)

    @property
    def r(self) -> int:
        """Alias of :attr:`order`, the name used in the formulas."""
        return self.order

    def as_tuple(self) -> tuple[int, int, int]:
        """Return ``(r, alpha, beta)``."""
        return (self.order, self.alpha, self.beta)

    def with_beta_at_least(self, minimum: int) -> PfaffianFormat:
        """Return the format with beta replaced by ``max(beta, minimum)``.

        Adding a polynomial of degree ``minimum`` (for instance lambda*||theta||^2,
        degree 2) to a Pfaffian function on the same variables gives this format.
        """
        return PfaffianFormat(self.order, self.alpha, max(self.beta, minimum))

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form: ``{"order": r, "alpha": alpha, "beta": beta}``."""
        return {"order": self.order, "alpha": self.alpha, "beta": self.beta}

    def __str__(self) -> str:
        return f"(r={self.order}, alpha={self.alpha}, beta={self.beta})"
