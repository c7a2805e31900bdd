"""The network and loss written once, over any "algebra" of scalars.

:mod:`bettibounds.pfaffian.graph` (degree tracking) and
:mod:`bettibounds.pfaffian.chain` (explicit polynomial chains) both evaluate the same
network; they differ only in what a scalar is. An algebra provides ``const(v)``,
``add(*xs)``, ``mul(a, b)``, ``pow(a, k)``, ``activation(act, u)`` and
``element(name, j, u, ode)`` (a new chain element of an output/loss chain).

Parameter order (docs/usage.md, "Conventions"): per Linear layer W (out x in, row-major), then b when
present; the input-output skip matrix U (outputs x d) comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar

from ..errors import InvalidSpecError
from .losses import output_chain

if TYPE_CHECKING:
    from ..sizes import Size
    from ..spec import ArchitectureSpec
    from .activations import Activation
    from .rules import Monomials

__all__ = ["Algebra", "build_params", "forward", "hidden_widths", "loss_expression"]

S = TypeVar("S")

#: a data entry as accepted: an exact number (int, Fraction, decimal string) or a float (taken exactly)
RationalLike: TypeAlias = "int | Fraction | float | Decimal | str"
#: a weight matrix: rows of scalars (one row per unit of the layer)
Matrix: TypeAlias = "list[list[S]]"
#: one Linear layer: its weight matrix W (out x in) and its bias b (None when the layer has none)
Layer: TypeAlias = "tuple[list[list[S]], list[S] | None]"


class Algebra(Protocol[S]):
    """What a scalar type must provide for :func:`forward` and :func:`loss_expression`.

    An algebra may also provide ``is_const(s) -> bool``: samples whose logits are constants are then
    skipped (a theta-free term changes neither the format nor any derivative).
    """

    def const(self, v: RationalLike, /) -> S: ...

    def param(self, p: int, /) -> S: ...

    def add(self, *xs: S) -> S: ...

    def mul(self, a: S, b: S, /) -> S: ...

    def pow(self, a: S, k: int, /) -> S: ...

    def activation(self, act: Activation, u: S, /) -> S: ...

    def element(self, name: str, j: int, u: S, ode: Monomials, /) -> S: ...


def hidden_widths(spec: ArchitectureSpec) -> tuple[Size, ...]:
    """The hidden widths h_1..h_L of a spec with a concrete depth L (each may still be a sympy symbol).

    Raises
    ------
    InvalidSpecError
        For symbolic widths (``ArchitectureSpec.uniform`` with a symbolic depth has no list of widths).
    """
    if not isinstance(spec.widths, tuple):  # SymbolicWidths (not imported: spec.py sits above pfaffian/)
        raise InvalidSpecError(
            f"this computation needs a concrete number of hidden layers, got L = {spec.widths.depth} "
            f"layers of width {spec.widths.width}")
    return spec.widths


def build_params(spec: ArchitectureSpec, make: Callable[[int], S]) -> tuple[list[Layer[S]], Matrix[S] | None]:
    """``(layers, U)`` with layers = [(W, b or None), ...]; ``make(p)`` makes parameter p."""
    counter = iter(range(10**12))
    widths = hidden_widths(spec)
    fan_in = (spec.inputs, *widths)
    fan_out = (*widths, spec.outputs)
    layers: list[Layer[S]] = []
    for k, (i, o) in enumerate(zip(fan_in, fan_out), start=1):
        W = [[make(next(counter)) for _ in range(i)] for _ in range(o)]
        b = [make(next(counter)) for _ in range(o)] if spec.has_bias(k) else None
        layers.append((W, b))
    U: Matrix[S] | None = None
    if "input-output" in spec.skips:
        U = [[make(next(counter)) for _ in range(spec.inputs)] for _ in range(spec.outputs)]
    return layers, U


def _affine(alg: Algebra[S], W: Matrix[S], b: list[S] | None, a: Sequence[S]) -> list[S]:
    return [alg.add(*(alg.mul(w, ai) for w, ai in zip(row, a)), *([b[j]] if b else [])) for j, row in enumerate(W)]


def forward(spec: ArchitectureSpec, alg: Algebra[S], act: Activation, layers: Sequence[Layer[S]],
            U: Matrix[S] | None, x: Sequence[S]) -> list[S]:
    """Output logits u (one per output) of the network at input x."""
    a = x
    for l, (W, b) in enumerate(layers[:-1], start=1):
        new = [alg.activation(act, zj) for zj in _affine(alg, W, b, a)]
        if "residual" in spec.skips and l >= 2:
            new = [alg.add(n, p) for n, p in zip(new, a)]
        a = new
    W, b = layers[-1]
    u = _affine(alg, W, b, a)
    if U is not None:
        u = [alg.add(uj, *(alg.mul(w, xi) for w, xi in zip(row, x))) for uj, row in zip(u, U)]
    return u


def loss_expression(spec: ArchitectureSpec, alg: Algebra[S], act: Activation, layers: Sequence[Layer[S]],
                    U: Matrix[S] | None, xs: Sequence[Sequence[RationalLike]], ys: Sequence[Sequence[RationalLike]],
                    n_params: int, lam: S | None = None) -> S:
    """The loss over the data (xs, ys) in the algebra, with output/loss chain elements.

    MSE: (1/m) sum (y_hat - y)^2; BCE "logsigmoid": -(1/m) sum [q - (1 - y) u];
    BCE "two-logs": -(1/m) sum [y l1 + (1 - y) l2]; plus lam * sum theta_p^2.
    Samples whose logit does not depend on theta are skipped by algebras that can tell
    (``alg.is_const``): a theta-free term changes neither the format nor any derivative.
    """
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    terms: list[S] = []
    for x, y in zip(xs, ys):
        u = forward(spec, alg, act, layers, U, [alg.const(v) for v in x])
        for uo, yo in zip(u, y):
            if getattr(alg, "is_const", lambda _: False)(uo):
                continue
            els = [alg.element("out:" + name, j, uo, q) for j, (name, q) in enumerate(zip(oc.elements, oc.odes))]
            if spec.loss == "mse":
                yhat = els[0] if els else uo
                terms.append(alg.pow(alg.add(yhat, alg.const(-Fraction(yo))), 2))
            elif spec.bce_chain == "logsigmoid":
                terms.append(alg.add(alg.mul(alg.const(-1), els[1]), alg.mul(alg.const(1 - Fraction(yo)), uo)))
            else:
                terms.append(alg.add(alg.mul(alg.const(-Fraction(yo)), els[1]),
                                     alg.mul(alg.const(Fraction(yo) - 1), els[2])))
    loss = alg.mul(alg.const(Fraction(1, spec.samples)), alg.add(*terms))
    if lam is not None:
        loss = alg.add(loss, alg.mul(lam, alg.add(*(alg.pow(alg.param(p), 2) for p in range(n_params)))))
    return loss
