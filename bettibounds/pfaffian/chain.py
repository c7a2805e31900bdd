"""Chain certificates: the explicit Pfaffian chain of a concrete loss, checked by machine.

For a concrete architecture and exact (rational) data, :func:`certify` builds the loss
in the polynomial ring Q[theta_1..theta_P, Y_1..Y_r] -- one generator Y_j per chain
element (sample x layer x unit, plus the output/BCE elements; identical inputs share
elements) -- and checks, element by element and parameter by parameter:

1. **derivative claims**: ``dY_j/dtheta_p = G_jp`` where, by the chain rule,
   ``G_jp = Q_j(u_j, Y) * D_p(u_j)``, u_j the argument of element j and D_p the
   derivation of the ring with ``D_p theta_q = [p = q]`` and ``D_p Y_i = G_ip``. Each
   G_jp is computed exactly and checked to be a polynomial in (theta, Y_1..Y_j)
   (**triangular**) of total degree **<= alpha**;
2. **loss claim**: the loss is a polynomial in (theta, Y) of total degree **<= beta**,
   and the chain has **<= r** elements;
3. **ODE claims**: every univariate ODE used (``phi_j' = Q_j(t, phi)``) is verified by
   sympy (:func:`bettibounds.pfaffian.activations.verify_activation` and the output
   chains);
4. **numeric spot checks** (independent of the construction): at a random rational
   theta, the explicit chain functions are evaluated with mpmath at 100 digits; the
   polynomial G_jp must match a high-precision numerical derivative of the explicit
   element, and the loss polynomial must match the loss computed from its definition.

Claims 1-3 are exact; together with the chain rule they prove that the loss has format
<= the claimed (r, alpha, beta). Claim 4 guards the construction itself.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from ..errors import InvalidSpecError
from .activations import Activation, chain_constants, exact_coefficient, get_activation, verify_activation
from .derive import closed_form
from .format import PfaffianFormat
from .graph import Data, generic_data
from .losses import OutputChain, output_chain
from .network import RationalLike, build_params, loss_expression
from .rules import Monomials

if TYPE_CHECKING:
    import mpmath
    from sympy.polys.rings import PolyElement

    from ..spec import ArchitectureSpec

#: an element of the ring Q[theta, Y, kappa_1..kappa_c] (sympy's sparse polynomials; Any to mypy: sympy is untyped)
Poly: TypeAlias = "PolyElement"
#: an mpmath real (Any to mypy: mpmath is untyped)
Real: TypeAlias = "mpmath.mpf"

__all__ = ["Certificate", "certificate_size_guard", "check_certificate_size", "certify_chain", "certify",
           "verify_output_chains", "spec_constants"]


@dataclass
class Certificate:
    """Outcome of :func:`certify`.

    Attributes
    ----------
    verified : bool
        True when every claim holds.
    claimed : PfaffianFormat
        The format that was checked (by default the closed form the report uses).
    found : PfaffianFormat
        The format read off the explicit chain (order, max derivative degree, loss degree).
    checks : int
        Number of individual claims checked.
    seconds : float
    failures : list of str
        One line per false claim, naming the element and the parameter.
    claims : list of str
        Human-readable summary of what was checked.
    """

    verified: bool
    claimed: PfaffianFormat
    found: PfaffianFormat
    checks: int
    seconds: float
    failures: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "checks": self.checks, "seconds": round(self.seconds, 4),
                "failures": list(self.failures), "claimed": self.claimed.to_dict(),
                "found": self.found.to_dict(), "claims": list(self.claims)}


def verify_output_chains() -> list[str]:
    """sympy check of the output/loss chain ODEs (sigma, tanh, log sigma, log(1 - sigma))."""
    import sympy as sp

    t = sp.Symbol("t", real=True)
    s = 1 / (1 + sp.exp(-t))
    checks = {
        "sigma' = s - s^2": sp.diff(s, t) - (s - s**2),
        "tanh' = 1 - tanh^2": sp.diff(sp.tanh(t), t) - (1 - sp.tanh(t) ** 2),
        "(log sigma)' = 1 - s": sp.diff(sp.log(s), t) - (1 - s),
        "(log(1 - sigma))' = -s": sp.diff(sp.log(1 - s), t) + s,
        "BCE identity: y log s + (1-y) log(1-s) = log s - (1-y) t": None,
    }
    failures: list[str] = []
    for name, expr in checks.items():
        if expr is None:
            y = sp.Symbol("y", real=True)
            lhs = y * sp.log(s) + (1 - y) * sp.log(1 - s)
            rhs = sp.log(s) - (1 - y) * t
            val = (lhs - rhs).subs(y, sp.Rational(3, 7))
            ok = all(abs(sp.N(val.subs(t, tv), 30)) < 1e-25 for tv in (-3, sp.Rational(1, 3), 2, 5))
        else:
            ok = sp.simplify(expr.rewrite(sp.exp)) == 0
        if not ok:
            failures.append(f"output chain ODE fails: {name}")
    return failures


class ChainElement(TypedDict):
    """One generator Y_j of the explicit chain: element ``j`` of a group made for one argument ``u``."""

    name: str  # the element's name (an activation's chain element, or "s", "q", ... of the output chain)
    ode: Monomials  # Q_j(t, y) with y_j' = Q_j
    u: Poly  # the argument of the group, a polynomial in (theta, Y)
    group: list[int]  # indices of the group's generators (Y_group[0], ...)
    j: int  # position in the group
    act: str  # activation name, or "out" for the output/loss chain


def spec_constants(spec: ArchitectureSpec) -> tuple[Any, ...]:
    """:func:`chain_constants` of the network's activation and of its output/loss chain."""
    act = get_activation(spec.activation)
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    return chain_constants(act.output, *act.odes, *oc.odes)


class _RingAlgebra:
    """Scalars are elements of Q[theta, Y, kappa_1..kappa_c], one constant generator kappa_i per
    irrational coefficient of the activation (GELU's 1/sqrt(2 pi), say): degrees are counted in
    (theta, Y) only, and the spot checks give each kappa_i its value."""

    def __init__(self, n_params: int, max_elements: int, output_chain: OutputChain, max_terms: int = 20_000,
                 constants: Sequence[Any] = ()):
        from sympy import QQ
        from sympy.polys.rings import ring

        names = ([f"th{p}" for p in range(n_params)] + [f"Y{j}" for j in range(max_elements)]
                 + [f"kappa{i}" for i in range(len(constants))])
        self.R, *gens = ring(",".join(names), QQ)
        self.theta = gens[:n_params]
        self.Y = gens[n_params:n_params + max_elements]
        self.constants = tuple(constants)
        self.kappa = dict(zip(self.constants, gens[n_params + max_elements:]))
        self.P = n_params
        self.elements: list[ChainElement] = []
        self._memo: dict[tuple[object, ...], list[int]] = {}
        self.output_chain = output_chain
        self.max_terms = max_terms

    def const(self, v: RationalLike) -> Poly:
        return self.R(Fraction(v))

    def param(self, p: int) -> Poly:
        return self.theta[p]

    def add(self, *xs: Poly) -> Poly:
        out = self.R(0)
        for x in xs:
            out = out + x
        return out

    def _guard(self, x: Poly) -> Poly:
        if len(x) > self.max_terms:
            raise InvalidSpecError(
                f"an intermediate polynomial of the explicit chain would exceed max_terms={self.max_terms} terms "
                "(the expansion grows quickly with depth, width and polynomial degree); certify a smaller "
                "architecture or raise max_terms")
        return x

    def _refuse(self, estimate: int) -> None:
        # refuse *before* an expansion whose term count could reach 25 x max_terms
        if estimate > 25 * self.max_terms:
            self._guard(range(self.max_terms + 1))

    def mul(self, a: Poly, b: Poly) -> Poly:
        self._refuse(len(a) * len(b))
        return self._guard(a * b)

    def pow(self, a: Poly, k: int) -> Poly:
        from math import comb

        if k > 64:  # huge exponents blow up the coefficients even for a single term
            raise InvalidSpecError(f"the explicit chain needs a power {k} > 64 (a high-degree polynomial "
                                   "activation): certificates are limited to degrees <= 64")
        self._refuse(comb(len(a) + k - 1, k))  # terms of a^k <= multisets of size k
        return self._guard(a**k)

    def _coef(self, c: object) -> Poly:
        if isinstance(c, int):
            return self.R(c)
        value = exact_coefficient(c)
        if value.is_Rational:  # exact in Q: 1/2 stays 1/2
            return self.R(Fraction(int(value.p), int(value.q)))
        if value not in self.kappa:  # the ring was made from chain_constants of every ODE and output used
            raise AssertionError(f"coefficient {c!r} has no constant generator in the certificate's ring")
        return self.kappa[value]

    def _new_group(self, key: tuple[object, ...], names: Sequence[str], odes: Sequence[Monomials], u: Poly,
                   act: str) -> list[int]:
        if key in self._memo:
            return self._memo[key]
        if u.is_ground:
            raise InvalidSpecError(
                "degenerate data: a pre-activation does not depend on theta (zero input without bias); "
                "certificates need generic data")
        start = len(self.elements)
        if start + len(names) > len(self.Y):  # only if the closed form undercounts: a bug
            raise AssertionError("the explicit chain has more elements than the closed form; please report")
        group = list(range(start, start + len(names)))
        for j, (name, ode) in enumerate(zip(names, odes)):
            self.elements.append({"name": name, "ode": ode, "u": u, "group": group, "j": j, "act": act})
        self._memo[key] = group
        return group

    def activation(self, act: Activation, u: Poly) -> Poly:
        if act.k == 0:
            return self._poly(act.output, u, [])
        group = self._new_group((act.name, tuple(sorted(u.terms()))), act.elements, act.odes, u, act.name)
        return self._poly(act.output, u, [self.Y[i] for i in group])

    def element(self, name: str, j: int, u: Poly, ode: Monomials) -> Poly:
        """Output/loss chain element j for logit u; the whole group is made at j = 0."""
        oc = self.output_chain
        group = self._new_group(("out", tuple(sorted(u.terms()))), oc.elements, oc.odes, u, "out")
        return self.Y[group[j]]

    def _poly(self, monomials: Monomials, u: Poly, ys: Sequence[Poly]) -> Poly:
        out = self.R(0)
        for (a, b), c in monomials.items():
            term = self._coef(c) * self.pow(u, a) if a else self._coef(c)
            for bj, yj in zip(b, ys):
                term = self.mul(term, yj**bj)
            out = out + term
        return out


def _y_support(poly: Poly, n_params: int, n_y: int) -> set[int]:
    """Indices i of the chain generators Y_i that occur in ``poly``."""
    out: set[int] = set()
    for monom in poly.itermonoms():
        out.update(i for i, e in enumerate(monom[n_params:n_params + n_y]) if e)
    return out


def _total_degree(poly: Poly, n_vars: int) -> int:
    """Total degree in the first n_vars generators (theta and Y; kappa excluded)."""
    return max((sum(m[:n_vars]) for m in poly.monoms()), default=0) if poly else 0


#: bytes per stored monomial per ring generator: sympy keeps every monomial of a polynomial as a tuple of
#: exponents, one machine word per generator of the ring
_BYTES_PER_EXPONENT = 8
#: bytes per exact data entry (a Fraction with its two ints) and per stored term beyond its exponent tuple
_BYTES_PER_ENTRY = 200


def certificate_size_guard(spec: ArchitectureSpec, order: int, budget: int, max_checks: int, max_terms: int,
                           max_bytes: int) -> None:
    """Refuse, before anything is allocated, a certificate that cannot fit.

    The real sizes of the construction are (i) the derivative claims, chain elements x parameters;
    (ii) the loss itself, built sample by sample over every parameter: samples x parameters (this is
    the work even when the chain order is 0, as for identity and polynomial activations); (iii) the
    memory of one polynomial of the ring Q[theta, Y, kappa_1..kappa_c]: every stored term carries one
    exponent per generator, so a polynomial of up to ``max_terms`` terms takes about
    ``max_terms x (P + budget + c) x 8`` bytes; (iv) the first pre-activation alone has
    d (+ bias) terms, more than ``max_terms`` cannot be built at all.

    Raises
    ------
    InvalidSpecError
        With the size that does not fit and what to change.
    """
    P, m, d = spec.n_params, spec.samples, spec.inputs
    checks = order * P
    if checks > max_checks:
        raise InvalidSpecError(
            f"a certificate would check about {checks} derivative claims (chain order {order} x P = {P} "
            f"parameters > max_checks={max_checks}); certify a smaller architecture (fewer samples, narrower layers)")
    work = m * P
    if work > max_checks:
        raise InvalidSpecError(
            f"a certificate builds the loss over m = {m} samples x P = {P} parameters = {work:.3g} "
            f"(> max_checks={max_checks}); certify a smaller architecture (fewer samples, fewer parameters)")
    first = d + (1 if spec.has_bias(1) else 0)
    if first > max_terms:
        raise InvalidSpecError(
            f"a first-layer pre-activation of the explicit chain has {first} terms (> max_terms={max_terms}); "
            "certify a network with fewer inputs")
    generators = P + budget + len(spec_constants(spec))  # theta, Y, kappa_i
    peak = max_terms * (generators * _BYTES_PER_EXPONENT + _BYTES_PER_ENTRY) + m * (d + spec.outputs) * _BYTES_PER_ENTRY
    if peak > max_bytes:
        raise InvalidSpecError(
            f"a certificate's ring has {generators} generators; a polynomial of up to max_terms={max_terms} terms "
            f"would take about {peak / 2**30:.3g} GiB (> max_bytes={max_bytes / 2**30:.3g} GiB); certify a smaller "
            "architecture or lower max_terms")


def check_certificate_size(spec: ArchitectureSpec, claimed: PfaffianFormat | None = None,
                           max_checks: int = 200_000, max_terms: int = 50_000, max_bytes: int = 2 * 2**30) -> int:
    """Refuse, before anything is built, a :func:`certify_chain` run that cannot fit (its defaults):
    :func:`certificate_size_guard` with the chain budget that :func:`certify_chain` would use.
    Returns that budget (chain elements)."""
    if claimed is None:
        claimed = closed_form(spec).format
        assert claimed is not None  # concrete sizes: the closed form is numeric
    # budget from all m samples (not the claimed m'), so that a false distinct-inputs claim is reported;
    # one more than the closed form, so that an understated order is reported, not a crash
    all_samples = closed_form(dataclasses.replace(spec, distinct_inputs=None)).format
    assert all_samples is not None
    budget = all_samples.order + 1
    certificate_size_guard(spec, claimed.order, budget, max_checks, max_terms, max_bytes)
    return budget


def certify_chain(spec: ArchitectureSpec, claimed: PfaffianFormat | None = None, data: Data | None = None,
                  seed: int = 0, spot_checks: int = 12, max_checks: int = 200_000, max_terms: int = 50_000,
                  max_bytes: int = 2 * 2**30) -> Certificate:
    """Build the explicit chain of the loss of ``spec`` and check every claim.

    Parameters
    ----------
    spec : ArchitectureSpec
        Concrete sizes (the chain has one generator per element: keep it small).
    claimed : PfaffianFormat, optional
        The format to verify; default: the closed form :func:`bounds` reports.
    data : (xs, ys), optional
        Exact data (rationals); default :func:`bettibounds.pfaffian.graph.generic_data`.
    seed : int
        Seed of the default data and of the spot-check point.
    spot_checks : int
        Number of (element, parameter) pairs checked numerically against mpmath.
    max_checks : int
        Refuse architectures needing more derivative checks (chain elements x parameters) or a
        larger loss construction (samples x parameters) than this.
    max_terms : int
        Refuse when an intermediate polynomial has more terms than this (deep polynomial
        activations expand exponentially).
    max_bytes : int
        Refuse, before any allocation, when a polynomial of ``max_terms`` terms in the ring's
        P + r + 2 generators (plus the data) could take more memory than this
        (:func:`certificate_size_guard`).

    Returns
    -------
    Certificate

    Examples
    --------
    >>> from bettibounds import ArchitectureSpec
    >>> c = certify_chain(ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2))
    >>> c.verified, c.found
    (True, PfaffianFormat(order=4, alpha=2, beta=4))
    """
    if spec.is_symbolic:
        raise InvalidSpecError("certificates need concrete sizes")
    for name, v in (("max_checks", max_checks), ("max_terms", max_terms), ("max_bytes", max_bytes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidSpecError(f"{name} must be a positive integer, got {v!r}")
    t0 = time.perf_counter()
    if claimed is None:
        claimed = closed_form(spec).format
        assert claimed is not None  # concrete sizes (checked above): the closed form is numeric
    budget = check_certificate_size(spec, claimed, max_checks, max_terms, max_bytes)
    P = spec.n_params
    act = get_activation(spec.activation)
    failures: list[str] = []
    failures += verify_activation(act)
    failures += verify_output_chains()
    checks = 1 + 5
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    alg = _RingAlgebra(P, budget, oc, max_terms, spec_constants(spec))
    xs, ys = data if data is not None else generic_data(spec, seed)
    layers, U = build_params(spec, alg.param)
    lam = alg.const(spec.l2_fraction()) if spec.l2_positive else None
    loss = loss_expression(spec, alg, act, layers, U, xs, ys, P, lam)
    r_found = len(alg.elements)
    n_vars = P + len(alg.Y)
    # derivative polynomials G[j][p], in creation (triangular) order
    G: list[list[Poly]] = []
    alpha_found = 0
    for j, el in enumerate(alg.elements):
        u = el["u"]
        y_in_u = sorted(_y_support(u, P, len(alg.Y)))
        Q = el["ode"]
        qval = alg._poly(Q, u, [alg.Y[i] for i in el["group"]])
        row = []
        for p in range(P):
            du = u.diff(alg.theta[p])
            for i in y_in_u:
                if G[i][p]:
                    du = du + u.diff(alg.Y[i]) * G[i][p]
            g = alg.mul(qval, du)
            row.append(g)
            deg = _total_degree(g, n_vars)
            alpha_found = max(alpha_found, deg)
            checks += 2
            if deg > claimed.alpha:
                failures.append(f"element Y{j} ({el['act']}:{el['name']}), parameter theta{p}: "
                                f"dY/dtheta has degree {deg} > claimed alpha {claimed.alpha}")
            later = sorted(i for i in _y_support(g, P, len(alg.Y)) if i > j)
            if later:
                failures.append(f"element Y{j}, parameter theta{p}: derivative uses later elements "
                                f"{[f'Y{i}' for i in later]} (chain not triangular)")
        G.append(row)
    beta_found = _total_degree(loss, n_vars)
    checks += 2
    if beta_found > claimed.beta:
        failures.append(f"loss has degree {beta_found} > claimed beta {claimed.beta}")
    if r_found > claimed.order:
        failures.append(f"chain has {r_found} elements > claimed order {claimed.order}")
    spot_fail, spot_n = _spot_check(spec, alg, G, loss, xs, ys, seed, spot_checks)
    failures += spot_fail
    checks += spot_n
    found = PfaffianFormat(r_found, alpha_found, beta_found)
    claims = [
        f"{len(alg.elements)} chain elements x {P} parameters: every dY_j/dtheta_p is a polynomial in "
        f"(theta, Y_1..Y_j) of degree <= {claimed.alpha} (max found {alpha_found})",
        f"loss is a polynomial in (theta, Y) of degree <= {claimed.beta} (found {beta_found})",
        f"chain order {r_found} <= {claimed.order}",
        f"ODEs of {act.name} and of the output chain verified by sympy",
        f"{spot_n} numeric spot checks (100-digit mpmath, tolerance 1e-30) against the explicit functions",
    ]
    return Certificate(not failures, claimed, found, checks, time.perf_counter() - t0, failures, claims)


#: spot checks at theta0 / scale where no activation's argument exceeds _SPOT_MAX_ARGUMENT (mpmath's exp of exp)
_SPOT_SCALES = (1, 8, 64, 512)
_SPOT_MAX_ARGUMENT = 2**16
_SPOT_MODERATE_ARGUMENT = 4  # preferred: no chain value vanishingly small (e^-16 at least; docs/theory.md 10.1)


class _SpotOverflow(Exception):
    """An activation's argument beyond _SPOT_MAX_ARGUMENT during a spot check."""


def _spot_check(spec: ArchitectureSpec, alg: _RingAlgebra, G: list[list[Poly]], loss: Poly,
                xs: Sequence[Sequence[RationalLike]], ys: Sequence[Sequence[RationalLike]], seed: int,
                n_spot: int) -> tuple[list[str], int]:
    """Compare G_jp and the loss polynomial with the explicit functions at 50 digits."""
    import mpmath
    import sympy as sp

    rng = random.Random(seed + 1)
    theta0 = [Fraction(rng.randint(-40, 40), 37) for _ in range(alg.P)]
    t = sp.Symbol("t")
    # the explicit chain functions of each group, by the group's "act" (activation name, or "out")
    funcs: dict[str, Callable[[Real], list[Real]]] = {}
    act = get_activation(spec.activation)
    if act.k:
        funcs[act.name] = sp.lambdify(t, act.sympy_chain(t), "mpmath")
    s_expr = 1 / (1 + sp.exp(-t))
    log_s = -sp.log(1 + sp.exp(-t))  # log sigma(t), no cancellation
    log_1ms = -t - sp.log(1 + sp.exp(-t))  # log(1 - sigma(t))
    out_fn = {
        ("bce", "logsigmoid"): [s_expr, log_s],
        ("bce", "two-logs"): [s_expr, log_s, log_1ms],
    }.get((spec.loss, spec.bce_chain)) or {"logistic": [s_expr], "tanh": [sp.tanh(t)]}.get(spec.output_activation, [])
    if out_fn:
        funcs["out"] = sp.lambdify(t, out_fn, "mpmath")
    pairs = [(j, p) for j in range(len(alg.elements)) for p in range(alg.P)]
    rng.shuffle(pairs)
    # 100 digits: log(1 - sigma(u)) loses ~u/2.3 digits to cancellation; the tolerance is 1e-30
    with mpmath.workdps(100):
        kappa = [sp.lambdify((), c, "mpmath")() for c in alg.constants]  # at 100 digits
        def chain_values(theta: Sequence[Real], largest: list[Real] | None = None) -> list[Real]:
            vals: list[Real] = []
            env_gens = list(theta)
            for el in alg.elements:
                if el["j"] == 0:
                    uval = _eval(el["u"], env_gens, vals, alg, kappa)
                    if abs(uval) > _SPOT_MAX_ARGUMENT:  # exp of exp of ...: mpmath would need gigabytes
                        raise _SpotOverflow
                    if largest is not None:
                        largest[0] = max(largest[0], abs(uval))
                    group_vals = funcs[el["act"]](uval)
                    vals.extend(group_vals)
            return vals

        def largest_argument(scale: int) -> Real | None:  # max |u| at theta0 / scale (None: it overflows)
            largest = [mpmath.mpf(0)]
            try:
                chain_values([mpmath.mpf(v.numerator) / (v.denominator * scale) for v in theta0], largest)
            except _SpotOverflow:
                return None
            return largest[0]

        # nearer 0 where nested exponentials overflow at theta0; first the first scale with moderate arguments
        reach = {scale: largest_argument(scale) for scale in _SPOT_SCALES}
        usable = [scale for scale in _SPOT_SCALES if reach[scale] is not None]
        moderate = [scale for scale in usable if (reach[scale] or 0) <= _SPOT_MODERATE_ARGUMENT][:1]
        for scale in moderate + [scale for scale in usable if scale not in moderate]:
            failures: list[str] = []
            n = 0
            try:
                theta = [mpmath.mpf(v.numerator) / (v.denominator * scale) for v in theta0]
                vals = chain_values(theta)
                for j, p in pairs[:n_spot]:
                    def f(x: Real, j: int = j, p: int = p, base: list[Real] = theta) -> Real:
                        th = list(base)  # this point's coordinates, bound now (ruff B023)
                        th[p] = x
                        return chain_values(th)[j]
                    numeric = mpmath.diff(f, theta[p])
                    claimed = _eval(G[j][p], theta, vals, alg, kappa) if G[j][p] else mpmath.mpf(0)
                    n += 1
                    if abs(numeric - claimed) > mpmath.mpf(10) ** -30 * (1 + abs(numeric)):
                        failures.append(f"spot check: dY{j}/dtheta{p} = {mpmath.nstr(numeric, 15)} numerically, "
                                        f"polynomial gives {mpmath.nstr(claimed, 15)}")
                direct = _direct_loss(spec, theta, xs, ys, act)
                via_chain = _eval(loss, theta, vals, alg, kappa)
            except _SpotOverflow:
                continue
            n += 1
            if abs(direct - via_chain) > mpmath.mpf(10) ** -30 * (1 + abs(direct)):
                failures.append(f"spot check: loss {mpmath.nstr(direct, 15)} from its definition, "
                                f"{mpmath.nstr(via_chain, 15)} from the chain polynomial")
            return failures, n
    return [f"spot check: an activation's argument exceeds {_SPOT_MAX_ARGUMENT} at theta0 and at theta0 / "
            f"{', / '.join(str(k) for k in _SPOT_SCALES[1:])} (nested exponentials), so no numeric check could be "
            "made; the certificate is not verified"], 0


def _eval(poly: Poly, theta: Sequence[Real], vals: Sequence[Real], alg: _RingAlgebra,
          kappa: Sequence[Real]) -> Real:
    """The polynomial's value at (theta, Y = vals, kappa_i = the constants' values)."""
    import mpmath

    point = list(theta) + list(vals) + [mpmath.mpf(0)] * (len(alg.Y) - len(vals)) + list(kappa)
    total = mpmath.mpf(0)
    for monom, coef in poly.terms():
        term = mpmath.mpf(int(coef.numerator)) / int(coef.denominator)
        for e, x in zip(monom, point):
            if e:
                term *= x**e
        total += term
    return total


def _direct_loss(spec: ArchitectureSpec, theta: Sequence[Real], xs: Sequence[Sequence[RationalLike]],
                 ys: Sequence[Sequence[RationalLike]], act: Activation) -> Real:
    """The loss from its definition (no chain), with mpmath, for the spot check.

    phi is the registry's own definition of the activation (``act.sympy_function``, evaluated by
    mpmath at the working precision), so every registry entry has one; the chain side uses the
    entry's ODEs and output polynomial instead, and ``verify_activation`` proves the two agree."""
    import mpmath
    import sympy as sp

    t = sp.Symbol("t")
    phi = sp.lambdify(t, act.sympy_function(t), "mpmath")
    it = iter(theta)
    layers, U = build_params(spec, lambda _: next(it))
    total = mpmath.mpf(0)
    for x, y in zip(xs, ys):
        x = [mpmath.mpf(Fraction(v).numerator) / Fraction(v).denominator for v in x]
        a = x
        for l, (W, b) in enumerate(layers[:-1], start=1):
            z = [sum(w * ai for w, ai in zip(row, a)) + (b[j] if b else 0) for j, row in enumerate(W)]
            new = [phi(zj) for zj in z]
            a = [n + p for n, p in zip(new, a)] if ("residual" in spec.skips and l >= 2) else new
        W, b = layers[-1]
        u = [sum(w * ai for w, ai in zip(row, a)) + (b[j] if b else 0) for j, row in enumerate(W)]
        if U is not None:
            u = [uj + sum(w * xi for w, xi in zip(row, x)) for uj, row in zip(u, U)]
        for uo, yo in zip(u, y):
            yo = mpmath.mpf(Fraction(yo).numerator) / Fraction(yo).denominator
            if spec.loss == "bce":
                # log s and log(1 - s) for s = 1/(1 + e^-u), written without cancellation
                log_s = -mpmath.log1p(mpmath.exp(-uo))
                log_1ms = -uo - mpmath.log1p(mpmath.exp(-uo))
                total += -(yo * log_s + (1 - yo) * log_1ms)
            else:
                yhat = {"identity": uo, "logistic": 1 / (1 + mpmath.exp(-uo)),
                        "tanh": mpmath.tanh(uo)}[spec.output_activation]
                total += (yhat - yo) ** 2
    total /= spec.samples
    if spec.l2_positive:
        lam = spec.l2_fraction()
        total += mpmath.mpf(lam.numerator) / lam.denominator * sum(t * t for t in theta)
    return total


#: the name of 0.1: "certify" also names the certified lower bound (``certify_lower``) and the certified Betti
#: numbers (``certify_landscape``), so the chain certificate is ``certify_chain``; this alias stays
certify = certify_chain
