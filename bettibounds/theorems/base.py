"""Theorem objects: statement, status, citation, hypotheses and evaluation.

A theorem's right-hand side is always ``coef * prod base_i ** exp_i`` (a
:class:`Product`), built by one function that works on ints *and* on sympy
expressions, so the exact value, the log-space value and the symbolic formula come
from a single definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeGuard

from ..errors import HypothesisError, InvalidSpecError
from ..logspace import Evaluated, evaluate_product
from ..sizes import Expr, Size

__all__ = ["Theorem", "Product", "Hypothesis", "STATUSES", "smin", "is_symbolic"]

#: status of a statement (docs/theory.md §1.2); "constant-free" marks O(.) cores
STATUSES = ("published", "quoted", "derived", "reconstructed", "constant-free")
HYPOTHESIS_STATUSES = ("holds", "undecided", "fails")


def is_symbolic(x: object) -> TypeGuard[Expr]:
    """True for a sympy object (an expression, or a sympy number): sympy arithmetic is needed."""
    return hasattr(x, "free_symbols")


def smin(a: Size, b: Size) -> Size:
    """min that also works on sympy expressions (sympy.Min when undecidable)."""
    if is_symbolic(a) or is_symbolic(b):
        import sympy

        return sympy.Min(a, b)
    return min(a, b)


@dataclass(frozen=True)
class Product:
    """``coef * prod(base ** exp for base, exp in factors)``."""

    factors: tuple[tuple[Size, Size], ...]
    coef: Fraction = Fraction(1)

    def evaluate(self) -> Evaluated:
        return evaluate_product(self.factors, self.coef)

    def sympy(self, evaluate: bool = True) -> Expr:
        """sympy expression; ``evaluate=False`` keeps huge powers unevaluated."""
        import sympy

        with sympy.evaluate(evaluate):
            expr = sympy.Rational(self.coef.numerator, self.coef.denominator)
            for b, e in self.factors:
                expr = sympy.Mul(expr, sympy.Pow(sympy.sympify(b), sympy.sympify(e)))
        return expr

    def log2_sympy(self) -> Expr:
        """sympy expression of log2 of the product (for symbolic formats)."""
        import sympy

        out = sympy.log(sympy.Rational(self.coef.numerator, self.coef.denominator), 2)
        for b, e in self.factors:
            out += e * sympy.log(b, 2)
        return out


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis of a result with a three-valued status (sympy's _value_check habit).

    ``holds``: verified for this input; ``undecided``: neither proved nor refuted here
    (the result is conditional on it); ``fails``: definitely false (the theorem is not
    applied).
    """

    text: str
    status: str = "undecided"
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in HYPOTHESIS_STATUSES:
            raise ValueError(f"hypothesis status must be one of {HYPOTHESIS_STATUSES}")

    def __str__(self) -> str:
        return f"[{self.status}] {self.text}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Theorem:
    """One registry entry.

    Attributes
    ----------
    key : str
        Stable short key ("K", "GV", "Z", "Kh", "Mi", ...).
    name : str
        Human name.
    statement : str
        The exact inequality, plain text, in the notation of docs/theory.md.
    latex : str
        The same inequality in LaTeX.
    status : str
        One of :data:`STATUSES`.
    citation : tuple of str
        Keys of :data:`bettibounds.references.REFERENCES`.
    hypotheses : tuple of str
        The theorem's own hypotheses (routes add their own).
    parameters : tuple of str
        Names the right-hand side takes.
    product : callable
        ``(**params) -> Product``; must work on ints and on sympy symbols.
    rigorous : bool
        False when the statement hides constants (O(.)): its number is a
        *constant-free core*, never a rigorous bound.
    bounds : str
        What the right-hand side bounds ("betti" or "zeros").
    kind : str
        "upper" (the right-hand side bounds from above) or "lower" (Sym, Sym-cert).
    """

    key: str
    name: str
    statement: str
    latex: str
    status: str
    citation: tuple[str, ...]
    hypotheses: tuple[str, ...]
    parameters: tuple[str, ...]
    product: Callable[..., Product] = field(repr=False, compare=False)
    rigorous: bool = True
    bounds: str = "betti"
    notes: str = ""
    kind: str = "upper"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.kind not in ("upper", "lower"):
            raise ValueError(f"kind must be 'upper' or 'lower', got {self.kind!r}")

    def _check(self, params: Mapping[str, object]) -> None:
        missing = set(self.parameters) - set(params)
        extra = set(params) - set(self.parameters)
        if missing or extra:
            raise InvalidSpecError(
                f"theorem {self.key} takes parameters {', '.join(self.parameters)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        if "betas" in params:
            self._check_betas(params)
        for k, v in params.items():
            if is_symbolic(v) or k == "betas":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidSpecError(f"theorem {self.key}: parameter {k} must be an integer >= 0, got {v!r}")
        if params.get("n", 1) == 0:
            raise HypothesisError(f"theorem {self.key} needs n >= 1 variables")

    def _check_betas(self, params: Mapping[str, object]) -> None:
        betas, n = params["betas"], params.get("n")
        if not isinstance(betas, Iterable):
            raise self._not_pairs(betas)
        try:
            pairs = [(b, c) for b, c in betas]
        except (TypeError, ValueError):
            raise self._not_pairs(betas) from None
        for b, c in pairs:
            for name, v in (("degree", b), ("multiplicity", c)):
                if not is_symbolic(v) and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                    raise InvalidSpecError(f"theorem {self.key}: every {name} in betas must be an integer >= 0, "
                                           f"got {v!r}")
        total = sum(c for _, c in pairs)
        if not any(is_symbolic(v) for v in (n, total)) and total != n:
            raise InvalidSpecError(
                f"theorem {self.key} needs n = {n} equations; the multiplicities in betas add up to {total}")

    def _not_pairs(self, betas: object) -> InvalidSpecError:
        return InvalidSpecError(f"theorem {self.key}: betas must be (degree, multiplicity) pairs, got {betas!r}")

    def rhs(self, **params: object) -> Product:
        """The right-hand side as a :class:`Product` (ints or sympy expressions)."""
        self._check(params)
        return self.product(**params)

    def evaluate(self, **params: object) -> Evaluated:
        """log2, log10 and (when small) the exact value of the right-hand side.

        Examples
        --------
        >>> from bettibounds.theorems import get_theorem
        >>> get_theorem("K").evaluate(n=4, r=1, alpha=2, beta=4).exact
        4500
        """
        return self.rhs(**params).evaluate()

    def expression(self, **params: object) -> Expr:
        """sympy expression of the right-hand side (symbols stay symbols)."""
        return self.rhs(**params).sympy(evaluate=any(is_symbolic(v) for v in params.values()))
