"""Registry of activations with their Pfaffian chains and ODEs.

Each entry states, for a univariate activation phi(t), an explicit Pfaffian chain
y_1(t)..y_k(t) with ``y_j'(t) = Q_j(t, y_1..y_j)`` and the activation as a polynomial
``phi(t) = R(t, y)``. Q_j and R are stored as monomial dictionaries (see
:data:`bettibounds.pfaffian.rules.Monomials`) so that the degree rules can use them
without sympy; :func:`verify_activation` checks every ODE and every output identity
symbolically with sympy (the "certificate" of the entry).

Status of every entry: [derived] (docs/theory.md §3, the activation registry); each ODE is an
elementary calculus identity, checked by sympy in the test suite.

Non-analytic activations (ReLU and friends) are not Pfaffian: looking them up raises
:class:`~bettibounds.errors.NotPfaffianError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import ModuleType
from typing import Any

from ..errors import InvalidSpecError, NotPfaffianError, unknown_name
from ..sizes import Expr
from .rules import Monomials

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "NON_PFAFFIAN",
    "OUTPUT_ACTIVATIONS",
    "get_activation",
    "activation_names",
    "verify_activation",
    "exact_coefficient",
    "chain_constants",
]

#: symmetry kinds, used by the symmetry-group lower bound (bettibounds.lower)
SYMMETRY_KINDS = ("odd", "logistic", "even", "none", "continuous")


@dataclass(frozen=True)
class Activation:
    """One registry entry.

    Attributes
    ----------
    name : str
        Canonical name.
    elements : tuple of str
        Names of the chain elements y_1..y_k (empty for polynomials).
    odes : tuple of Monomials
        ``odes[j]`` is Q_j(t, y) with ``y_j' = Q_j``; keys are ``(a, (b_1..b_k))`` for
        the monomial ``t^a y_1^b_1 ... y_k^b_k``.
    output : Monomials
        R(t, y) with ``phi(t) = R(t, y(t))``.
    symmetry : str
        ``"odd"`` (phi(-t) = -phi(t)), ``"logistic"`` (phi(-t) = 1 - phi(t)),
        ``"even"`` (phi(-t) = phi(t)), ``"none"`` (permutations only) or
        ``"continuous"`` (linear activation: a continuous symmetry group, no isolated
        minimisers, no finite-group lower bound).
    sympy_chain : callable
        ``t -> list of sympy expressions`` of the chain elements.
    sympy_function : callable
        ``t -> sympy expression`` of phi.
    description : str
        One line for listings.
    growth : str or None
        Growth at infinity: ``"bounded"`` (|phi| bounded), ``"linear"`` (|phi(t)| <= a + b|t|), or None
        (faster, or not known): decides the coercivity hypothesis of the input-space bound.
    """

    name: str
    elements: tuple[str, ...]
    odes: tuple[Monomials, ...]
    output: Monomials
    symmetry: str
    sympy_chain: Callable[[Expr], list[Expr]] = field(repr=False, compare=False)
    sympy_function: Callable[[Expr], Expr] = field(repr=False, compare=False)
    description: str = ""
    aliases: tuple[str, ...] = ()
    growth: str | None = None

    @property
    def k(self) -> int:
        """Number of chain elements per application (the order of phi's chain)."""
        return len(self.elements)

    @property
    def chain_alpha(self) -> int:
        """Total degree of the ODE right-hand sides in (t, y): phi's own alpha."""
        return max((_total_degree(q) for q in self.odes), default=0)

    @property
    def chain_beta(self) -> int:
        """Total degree of R(t, y): phi's own beta."""
        return _total_degree(self.output)

    @property
    def format(self) -> tuple[int, int, int]:
        """phi's own format (k, alpha_phi, beta_phi), the "format" column of docs/theory.md §3."""
        return (self.k, self.chain_alpha, self.chain_beta)

    @property
    def is_polynomial(self) -> bool:
        return self.k == 0


def _total_degree(monomials: Monomials) -> int:
    return max((a + sum(b) for (a, b), c in monomials.items() if c != 0), default=0)


def _sp() -> ModuleType:
    import sympy

    module: ModuleType = sympy  # (sympy ships no types: to mypy the module is Any)
    return module


def _logistic(t: Expr) -> Expr:
    sp = _sp()
    return 1 / (1 + sp.exp(-t))


ACTIVATIONS: dict[str, Activation] = {}
_ALIASES: dict[str, str] = {}


def _register(act: Activation) -> None:
    ACTIVATIONS[act.name] = act
    for alias in (act.name, *act.aliases):
        _ALIASES[alias] = act.name


_register(Activation(
    name="logistic",
    aliases=("sigmoid",),
    elements=("s",),
    odes=({(0, (1,)): 1, (0, (2,)): -1},),  # s' = s - s^2
    output={(0, (1,)): 1},
    symmetry="logistic",
    sympy_chain=lambda t: [_logistic(t)],
    sympy_function=_logistic,
    growth="bounded",
    description="logistic sigmoid 1/(1+e^-t); s' = s - s^2; format (1, 2, 1)",
))
_register(Activation(
    name="tanh",
    elements=("t",),
    odes=({(0, (0,)): 1, (0, (2,)): -1},),  # t' = 1 - t^2
    output={(0, (1,)): 1},
    symmetry="odd",
    sympy_chain=lambda t: [_sp().tanh(t)],
    sympy_function=lambda t: _sp().tanh(t),
    growth="bounded",
    description="hyperbolic tangent; t' = 1 - t^2; format (1, 2, 1)",
))
_register(Activation(
    name="arctan",
    aliases=("atan",),
    elements=("g", "a"),
    # g = 1/(1+t^2): g' = -2 t g^2;  a = arctan t: a' = g
    odes=({(1, (2, 0)): -2}, {(0, (1, 0)): 1}),
    output={(0, (0, 1)): 1},
    symmetry="odd",
    sympy_chain=lambda t: [1 / (1 + t**2), _sp().atan(t)],
    sympy_function=lambda t: _sp().atan(t),
    growth="bounded",
    description="arctangent; g = 1/(1+t^2), g' = -2t g^2, a' = g; format (2, 3, 1)",
))
_register(Activation(
    name="softplus",
    elements=("s", "p"),
    # s = logistic: s' = s - s^2;  p = log(1+e^t): p' = s
    odes=({(0, (1, 0)): 1, (0, (2, 0)): -1}, {(0, (1, 0)): 1}),
    output={(0, (0, 1)): 1},
    symmetry="none",
    sympy_chain=lambda t: [_logistic(t), _sp().log(1 + _sp().exp(t))],
    sympy_function=lambda t: _sp().log(1 + _sp().exp(t)),
    growth="linear",
    description="softplus log(1+e^t); s' = s - s^2, p' = s; format (2, 2, 1)",
))
_register(Activation(
    name="gaussian",
    aliases=("gauss", "rbf"),
    elements=("g",),
    odes=({(1, (1,)): -2},),  # g = e^{-t^2}: g' = -2 t g
    output={(0, (1,)): 1},
    symmetry="even",
    sympy_chain=lambda t: [_sp().exp(-t**2)],
    sympy_function=lambda t: _sp().exp(-t**2),
    growth="bounded",
    description="Gaussian e^{-t^2}; g' = -2t g; format (1, 2, 1)",
))
_register(Activation(
    name="silu",
    aliases=("swish",),
    elements=("s",),
    odes=({(0, (1,)): 1, (0, (2,)): -1},),
    output={(1, (1,)): 1},  # t * s
    symmetry="none",
    sympy_chain=lambda t: [_logistic(t)],
    sympy_function=lambda t: t * _logistic(t),
    growth="linear",
    description="SiLU / swish t*sigma(t); s' = s - s^2; format (1, 2, 2)",
))
_register(Activation(
    name="gelu",
    elements=("g", "c"),
    # g = e^{-t^2/2}: g' = -t g;  c = sqrt(pi/2)(1 + erf(t/sqrt2)) = sqrt(2 pi) Phi(t): c' = g
    odes=({(1, (1, 0)): -1}, {(0, (1, 0)): 1}),
    output={(1, (0, 1)): "1/sqrt(2*pi)"},  # t * Phi(t)
    symmetry="none",
    sympy_chain=lambda t: [
        _sp().exp(-t**2 / 2),
        _sp().sqrt(_sp().pi / 2) * (1 + _sp().erf(t / _sp().sqrt(2))),
    ],
    sympy_function=lambda t: t * (1 + _sp().erf(t / _sp().sqrt(2))) / 2,
    growth="linear",
    description="exact GELU t*Phi(t); g' = -t g, c' = g; format (2, 2, 2)",
))
_register(Activation(
    name="exp",
    elements=("e",),
    odes=({(0, (1,)): 1},),  # e' = e
    output={(0, (1,)): 1},
    symmetry="none",
    sympy_chain=lambda t: [_sp().exp(t)],
    sympy_function=lambda t: _sp().exp(t),
    description="exponential e^t; e' = e; format (1, 1, 1)",
))
_register(Activation(
    name="identity",
    aliases=("linear", "none"),
    elements=(),
    odes=(),
    output={(1, ()): 1},
    symmetry="continuous",
    sympy_chain=lambda t: [],
    sympy_function=lambda t: t,
    growth="linear",
    description="identity (linear network); a polynomial, format (0, 0, 1)",
))

#: accepted output activations (docs/theory.md §3 and §4.3 cover exactly these)
OUTPUT_ACTIVATIONS = ("identity", "logistic", "tanh")

_KINK = "its first derivative jumps at {where}"
_SMOOTH_ONCE = "its first derivative is continuous but its second jumps at {where}"
_JUMP = "the function itself jumps at {where}"
#: why each refused name is not real-analytic (a Pfaffian function on R is real-analytic: docs/theory.md §2.1)
_NOT_ANALYTIC: dict[str, str] = {
    "relu": "max(t, 0): " + _KINK.format(where="0"),
    "leaky_relu": "t for t >= 0 and a t (a slope a != 1) for t < 0: " + _KINK.format(where="0"),
    "prelu": "piecewise linear with a learned slope for t < 0: " + _KINK.format(where="0"),
    "rrelu": "piecewise linear with a random slope for t < 0: " + _KINK.format(where="0"),
    "relu6": "min(max(t, 0), 6): " + _KINK.format(where="0 and at 6"),
    "elu": ("t for t > 0 and a (e^t - 1) for t <= 0: with a = 1 (the default) " + _SMOOTH_ONCE.format(where="0")
            + "; with a != 1 " + _KINK.format(where="0")),
    "selu": "scale * ELU with a = 1.6733: " + _KINK.format(where="0"),
    "celu": "max(0, t) + min(0, a (e^(t/a) - 1)): " + _SMOOTH_ONCE.format(where="0"),
    "hardtanh": "clip(t, -1, 1): " + _KINK.format(where="-1 and at 1"),
    "hardsigmoid": "clip(t/6 + 1/2, 0, 1): " + _KINK.format(where="-3 and at 3"),
    "hardswish": "t * relu6(t + 3) / 6: " + _KINK.format(where="-3 and at 3"),
    "abs": "|t|: " + _KINK.format(where="0"),
    "max": "a maximum of its arguments: its derivative jumps where the largest argument changes",
    "maxout": "a maximum of affine pieces: its derivative jumps where the largest piece changes",
    "sign": _JUMP.format(where="0"),
    "step": _JUMP.format(where="0"),
    "heaviside": _JUMP.format(where="0"),
    "threshold": ("t above the threshold and a constant below it: the function (or, when the constant equals the "
                  "threshold, its first derivative) jumps at the threshold"),
    "softsign": "t / (1 + |t|): " + _SMOOTH_ONCE.format(where="0"),
}
_NOT_ANALYTIC["leakyrelu"] = _NOT_ANALYTIC["leaky_relu"]
_NOT_ANALYTIC["hard_swish"] = _NOT_ANALYTIC["hardswish"]
_ALTERNATIVES = "Analytic alternatives in the registry: softplus, silu, gelu, logistic, tanh"
_RELU_FAMILY = ("relu", "leaky_relu", "leakyrelu", "prelu", "rrelu", "relu6")
_OBSTRUCTION = ("For shallow ReLU networks the relevant topology is the gradient-flow obstruction of Nurisso et al. "
                "2024 (`bettibounds obstruction`, module bettibounds.obstruction). ")
NON_PFAFFIAN: dict[str, str] = {
    name: (f"activation {name!r} is not supported: {why}, so it is not real-analytic, hence not a Pfaffian function, "
           "and no Pfaffian Betti-number bound applies. " + (_OBSTRUCTION if name in _RELU_FAMILY else "")
           + _ALTERNATIVES)
    for name, why in _NOT_ANALYTIC.items()
}

_POLY = re.compile(r"^poly(?:nomial)?[:_]?(\d{1,12})$")
#: largest accepted polynomial degree (the formats grow like p^L; beyond this nothing is meaningful)
MAX_POLY_DEGREE = 10**6


def _polynomial(p: int) -> Activation:
    if p < 1 or p > MAX_POLY_DEGREE:
        raise InvalidSpecError(f"polynomial activation degree must be in 1..{MAX_POLY_DEGREE}, got {p}")
    if p == 1:
        return ACTIVATIONS["identity"]
    output: Monomials = {(1, ()): 1, (p, ()): 1}  # t + t^p: a polynomial of degree p (only the degree matters)
    return Activation(
        name=f"polynomial:{p}",
        elements=(),
        odes=(),
        output=output,
        symmetry="odd" if p % 2 else "none",  # t + t^p is odd for odd p
        sympy_chain=lambda t: [],
        sympy_function=lambda t: t + t**p,  # p is not rebound: the closure is this p
        description=(f"the polynomial t + t^{p}; format (0, 0, {p}) -- the upper bounds hold for any degree-{p} "
                     "polynomial, the symmetry lower bound assumes exactly t + t^p"),
    )


def _normalise(name: object, kind: str = "activation") -> str:
    if not isinstance(name, str):
        raise InvalidSpecError(f"{kind} must be a string name, got {name!r}")
    return name.strip().lower().replace("-", "_")


def get_activation(name: str) -> Activation:
    """Look an activation up by name or alias.

    Accepts the registry names and aliases (``sigmoid`` for ``logistic``, ``swish``
    for ``silu``, ...) and ``polynomial:p`` / ``poly:p`` for a polynomial of degree p.

    Raises
    ------
    NotPfaffianError
        For ReLU and other non-analytic activations.
    UnknownNameError
        For any other unknown name; the message lists the valid names.

    Examples
    --------
    >>> get_activation("sigmoid").format
    (1, 2, 1)
    >>> get_activation("poly:3").format
    (0, 0, 3)
    """
    key = _normalise(name)
    if key in NON_PFAFFIAN:
        raise NotPfaffianError(NON_PFAFFIAN[key])
    if key in _ALIASES:
        return ACTIVATIONS[_ALIASES[key]]
    match = _POLY.match(key)
    if match:
        return _polynomial(int(match.group(1)))
    raise unknown_name("activation", name, [*activation_names(), "polynomial:<p>"])


def activation_names() -> list[str]:
    """Canonical names of the registry (polynomials are ``polynomial:<p>``)."""
    return list(ACTIVATIONS)


def get_output_activation(name: str) -> Activation:
    """Look up an output activation: identity, sigmoid (logistic) or tanh."""
    key = _normalise(name, "output_activation")
    if key in NON_PFAFFIAN:
        raise NotPfaffianError(NON_PFAFFIAN[key])
    act = ACTIVATIONS.get(_ALIASES.get(key, ""))
    if act is None or act.name not in OUTPUT_ACTIVATIONS:
        raise unknown_name("output activation", name, ["identity", "sigmoid", "tanh"])
    return act


def monomials_to_sympy(monomials: Monomials, t: Expr, ys: Sequence[Expr]) -> Expr:
    """sympy expression of ``sum c t^a y^b`` (coefficients may be sympy strings)."""
    sp = _sp()
    expr = sp.Integer(0)
    for (a, b), coef in monomials.items():
        term = sp.sympify(coef) * t**a
        for bj, yj in zip(b, ys):
            term = term * yj**bj
        expr += term
    return expr


_COEFFICIENT_HELP = "an int, a Fraction or a sympy string such as '1/2' or '1/sqrt(2*pi)'"


def exact_coefficient(c: object) -> Any:
    """A chain coefficient (an int, a Fraction or a sympy string such as ``"1/2"`` or
    ``"1/sqrt(2*pi)"``) as an exact real sympy number; anything else (a float, say) is refused."""
    if isinstance(c, bool) or not isinstance(c, (int, str, Fraction)):
        raise InvalidSpecError(f"a chain coefficient must be exact ({_COEFFICIENT_HELP}), got {c!r}")
    return _exact_coefficient(c)


@functools.lru_cache(maxsize=256)
def _exact_coefficient(c: int | str | Fraction) -> Any:
    import sympy as sp

    try:
        value = sp.Rational(c.numerator, c.denominator) if isinstance(c, Fraction) else sp.sympify(c)
    except (sp.SympifyError, TypeError, ValueError):
        value = None
    if value is None or not (value.is_number and value.is_real and value.is_finite) or isinstance(value, sp.Float):
        raise InvalidSpecError(f"a chain coefficient must be an exact real number ({_COEFFICIENT_HELP}), got {c!r}")
    return value


def chain_constants(*monomial_sets: Monomials) -> tuple[Any, ...]:
    """The distinct irrational coefficients of the given ODEs and outputs (sympy numbers, sorted):
    each becomes one constant generator kappa_i of the certificate's ring (rational coefficients are
    exact in Q)."""
    found = {exact_coefficient(c) for monomials in monomial_sets for c in monomials.values()}
    return tuple(sorted((v for v in found if not v.is_Rational), key=str))


def verify_activation(act: Activation) -> list[str]:
    """Check the entry symbolically; return a list of failures (empty when correct).

    Checks, with sympy on a real symbol t:

    * ``d/dt y_j(t) - Q_j(t, y(t)) == 0`` for every chain element (the ODE);
    * ``Q_j`` only uses ``y_1..y_j`` (the chain is triangular);
    * ``phi(t) - R(t, y(t)) == 0`` (the activation is the stated polynomial);
    * every coefficient is an exact real number (:func:`exact_coefficient`).
    """
    sp = _sp()
    t = sp.Symbol("t", real=True)
    chain = act.sympy_chain(t)
    failures = []
    for monomials in (*act.odes, act.output):
        for c in monomials.values():
            try:
                exact_coefficient(c)
            except InvalidSpecError as exc:
                failures.append(f"{act.name}: {exc}")
    if failures:
        return failures
    if len(chain) != act.k:
        failures.append(f"{act.name}: {len(chain)} sympy elements for {act.k} declared")
        return failures
    for j, (yj, q) in enumerate(zip(chain, act.odes)):
        if any(any(b[i] for i in range(j + 1, act.k)) for (_, b), c in q.items() if c != 0):
            failures.append(f"{act.name}: ODE of {act.elements[j]} uses a later element")
        lhs = sp.diff(yj, t)
        rhs = monomials_to_sympy(q, t, chain)
        if sp.simplify(sp.expand(lhs - rhs)) != 0 and sp.simplify((lhs - rhs).rewrite(sp.exp)) != 0:
            failures.append(f"{act.name}: ODE of {act.elements[j]} fails: {lhs} != {rhs}")
    out = monomials_to_sympy(act.output, t, chain)
    if sp.simplify(act.sympy_function(t) - out) != 0:
        failures.append(f"{act.name}: output identity fails: {act.sympy_function(t)} != {out}")
    return failures
