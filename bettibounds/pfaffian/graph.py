"""Node-by-node mechanical format tracking on the explicit scalar computation graph.

Builds the loss (or, in the input space, the output logit) as a DAG of scalar nodes --
constants, parameters, sums, products, powers and chain elements -- with
hash-consing, so that identical sub-expressions are one node and identical inputs
share their chain elements (docs/theory.md §2.3, "Sharing").
Every node carries (deg, dd) computed by the rules of
:mod:`bettibounds.pfaffian.rules`; theta-free nodes are constants, so an activation of
a constant adds no chain element. The result is the format
(number of chain elements, max dd over chain elements, deg of the loss).

This is the reference implementation the closed forms are tested against; its cost is
O(m * sum_l h_l h_{l-1}) nodes, so it is meant for small and medium networks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, TypedDict

from ..errors import InvalidSpecError
from .activations import get_activation
from .derive import SPACES, Derivation
from .format import PfaffianFormat
from .network import RationalLike, build_params, forward, hidden_widths, loss_expression
from .rules import Monomials, Pair, ode_degree, track_add, track_const, track_mul, track_pow, track_var

if TYPE_CHECKING:
    from ..spec import ArchitectureSpec
    from .activations import Activation

__all__ = ["Graph", "mechanical", "generic_data", "MechanicalOptions"]


class _Unknown:
    """Type of :data:`UNKNOWN`."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()  # value of a constant that is not zero but not tracked exactly
#: a node's value: a Fraction for known constants, UNKNOWN, or None for a node that depends on theta
Value = Fraction | _Unknown | None
#: exact data: m rows of inputs and m rows of labels
Data = tuple[Sequence[Sequence[RationalLike]], Sequence[Sequence[RationalLike]]]


class MechanicalOptions(TypedDict, total=False):
    """Keyword options of :func:`mechanical` that :func:`bettibounds.pfaffian.derive.derive_format` passes on."""

    data: Data | None
    seed: int
    max_nodes: int


class Graph:
    """A hash-consed DAG of scalar nodes with (deg, dd) per node."""

    def __init__(self) -> None:
        self._ids: dict[tuple[object, ...], int] = {}
        self.info: list[Pair] = []
        self.value: list[Value] = []  # Fraction for known constants, UNKNOWN, or None (non-constant)
        self.chain: list[int] = []  # node ids of chain elements, in creation (triangular) order

    def _node(self, key: tuple[object, ...], info: Pair, value: Value = None) -> int:
        nid = self._ids.get(key)
        if nid is None:
            nid = len(self.info)
            self._ids[key] = nid
            self.info.append(info)
            self.value.append(value)
        return nid

    def is_const(self, a: int) -> bool:
        return self.value[a] is not None

    def is_zero(self, a: int) -> bool:
        return isinstance(self.value[a], Fraction) and self.value[a] == 0

    def const(self, v: RationalLike) -> int:
        if isinstance(v, _Unknown):  # (for untyped callers)
            raise ValueError("use opaque() for constants of unknown value")
        exact = Fraction(v)
        return self._node(("c", exact), track_const(), exact)

    def opaque(self, key: tuple[object, ...]) -> int:
        """A theta-free constant whose exact value is not tracked (e.g. sigma(0.3))."""
        return self._node(("c?", key), track_const(), UNKNOWN)

    def var(self, p: int) -> int:
        return self._node(("v", p), track_var())

    param = var

    def add(self, *ids: int) -> int:
        terms = [a for a in ids if not self.is_zero(a)]
        known = [(a, v) for a in terms if isinstance(v := self.value[a], Fraction)]
        if len(known) > 1:  # fold exact constants into one
            total = sum((v for _, v in known), Fraction(0))
            folded = [a for a, _ in known]
            terms = [a for a in terms if a not in folded] + ([self.const(total)] if total else [])
        if not terms:
            return self.const(0)
        if len(terms) == 1:
            return terms[0]
        key = ("+", tuple(sorted(terms)))
        if all(self.is_const(a) for a in terms):
            return self.opaque(key)
        return self._node(key, track_add(*(self.info[a] for a in terms)))

    def mul(self, a: int, b: int) -> int:
        if self.is_zero(a) or self.is_zero(b):
            return self.const(0)
        va, vb = self.value[a], self.value[b]
        if isinstance(va, Fraction) and isinstance(vb, Fraction):
            return self.const(va * vb)
        if va == 1:
            return b
        if vb == 1:
            return a
        key = ("*", tuple(sorted((a, b))))
        if self.is_const(a) and self.is_const(b):
            return self.opaque(key)
        return self._node(key, track_mul(self.info[a], self.info[b]))

    def pow(self, a: int, k: int) -> int:
        if k == 0:
            return self.const(1)
        if k == 1:
            return a
        va = self.value[a]
        if isinstance(va, Fraction):
            return self.const(va ** k)
        if self.is_const(a):
            return self.opaque(("^", a, k))
        return self._node(("^", a, k), track_pow(self.info[a], k))

    def element(self, name: str, j: int, u: int, ode: Monomials) -> int:
        """Chain element j of ``name`` applied to the theta-dependent node u."""
        deg_u, dd_u = self.info[u]
        key = ("el", name, j, u)
        before = len(self.info)
        nid = self._node(key, (1, ode_degree(ode, deg_u) + dd_u))
        if nid == before:
            self.chain.append(nid)
        return nid

    def polynomial(self, monomials: Monomials, u: int, ys: list[int]) -> int:
        terms = []
        for (a, b), coef in monomials.items():
            c = self.const(coef) if isinstance(coef, int) else self.opaque(("coef", str(coef)))
            term = self.mul(c, self.pow(u, a))
            for bj, yj in zip(b, ys):
                term = self.mul(term, self.pow(yj, bj))
            terms.append(term)
        return self.add(*terms)

    def activation(self, act: Activation, u: int) -> int:
        """phi(u): chain elements (when u depends on theta) and the output polynomial."""
        if self.is_const(u):
            if act.k == 0:
                return self.polynomial(act.output, u, [])
            return self.opaque(("act", act.name, u))
        ys = [self.element(act.name, j, u, q) for j, q in enumerate(act.odes)]
        return self.polynomial(act.output, u, ys)


def generic_data(spec: ArchitectureSpec, seed: int = 0) -> tuple[list[list[Fraction]], list[list[Fraction]]]:
    """Random non-zero rational inputs and labels in (0, 1): "generic" data.

    With ``spec.distinct_inputs = m'`` the m rows cycle through m' distinct inputs.
    """
    rng = random.Random(seed)

    def nonzero() -> Fraction:
        return Fraction(rng.choice([-1, 1]) * rng.randint(1, 97), rng.randint(1, 13))

    m_distinct = spec.effective_samples
    rows: list[list[Fraction]] = []
    while len(rows) < m_distinct:
        row = [nonzero() for _ in range(spec.inputs)]
        if row not in rows:
            rows.append(row)
    xs = [rows[i % m_distinct] for i in range(spec.samples)]
    ys = [[Fraction(rng.randint(1, 96), 97) for _ in range(spec.outputs)] for _ in range(spec.samples)]
    return xs, ys


def _check_rows(name: str, rows: Iterable[Iterable[RationalLike]], m: int, width: int) -> list[list[Fraction]]:
    try:
        out = [[Fraction(v) for v in row] for row in rows]
    except (TypeError, ValueError):
        raise InvalidSpecError(f"{name} must be a list of rows of exact numbers "
                               "(int, Fraction, decimal string)") from None
    if len(out) != m or any(len(row) != width for row in out):
        raise InvalidSpecError(f"{name} must have {m} rows of {width} numbers")
    return out


def mechanical(spec: ArchitectureSpec, space: str = "loss", data: Data | None = None, seed: int = 0,
               max_nodes: int = 2_000_000) -> Derivation:
    """Derive the format by building the explicit scalar graph (small networks).

    Parameters
    ----------
    spec : ArchitectureSpec
        Concrete sizes only.
    space : {"loss", "input"}
        Loss as a function of the parameters (data constant), or output logit as a
        function of the input (weights constant, drawn at random, non-zero).
    data : (xs, ys), optional
        m rows of d inputs and m rows of ``outputs`` labels, exact numbers. Default:
        :func:`generic_data`.
    seed : int
        Seed of the generic data / weights.
    max_nodes : int
        Refuse graphs larger than this (use the closed form instead).
    """
    if spec.is_symbolic:
        raise InvalidSpecError("the mechanical engine needs concrete sizes")
    if space not in SPACES:
        raise InvalidSpecError(f"space must be one of {SPACES}, got {space!r}")
    widths = hidden_widths(spec)
    per_sample = sum(i * o for i, o in zip((spec.inputs, *widths), (*widths, spec.outputs)))
    estimate = per_sample * (spec.samples if space == "loss" else 1) * 3
    if estimate > max_nodes:
        raise InvalidSpecError(
            f"the mechanical graph would have about {estimate} nodes (> max_nodes={max_nodes}); "
            "use method='closed' or 'layers' for networks of this size"
        )
    act = get_activation(spec.activation)
    g = Graph()
    rng = random.Random(seed)

    def weight(p: int) -> int:
        if space == "loss":
            return g.var(p)
        # pairwise distinct magnitudes: no two units can coincide by accident
        return g.const(Fraction(rng.choice([-1, 1]) * (1000 * (p + 1) + rng.randint(1, 999)), 997))

    layers, U = build_params(spec, weight)
    if space == "input":
        if spec.outputs != 1:
            raise InvalidSpecError("input-space bounds need a scalar output (outputs=1)")
        u = forward(spec, g, act, layers, U, [g.var(i) for i in range(spec.inputs)])[0]
        r = len(g.chain)
        alpha = max((g.info[c][1] for c in g.chain), default=0)
        fmt = PfaffianFormat(r, int(alpha), int(g.info[u][0]))
        return Derivation(fmt, spec.inputs, "mechanical", space,
                          [f"{len(g.info)} nodes, {r} chain elements", f"format {fmt}"])

    xs, ys = data if data is not None else generic_data(spec, seed)
    xs = _check_rows("data inputs", xs, spec.samples, spec.inputs)
    ys = _check_rows("data labels", ys, spec.samples, spec.outputs)
    lam = None
    if spec.l2_positive is not False:
        lam = g.const(spec.l2) if isinstance(spec.l2, (int, Fraction)) else g.opaque(("lambda",))
    loss = loss_expression(spec, g, act, layers, U, xs, ys, spec.n_params, lam)
    r = len(g.chain)
    alpha = max((g.info[c][1] for c in g.chain), default=0)
    beta = g.info[loss][0]
    fmt = PfaffianFormat(r, int(alpha), int(beta))
    return Derivation(fmt, spec.n_params, "mechanical", space,
                      [f"{len(g.info)} nodes, {r} chain elements (distinct inputs share elements)",
                       f"format {fmt}"])
