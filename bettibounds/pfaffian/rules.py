"""Pure arithmetic of Pfaffian formats and of mechanical degree tracking.

Everything here works on plain tuples and ints so that property tests can exercise
the rules without building objects. Two families:

* **Format algebra** [published rules, GabrielovVorobjov2004; restated in docs/theory.md §2.2]
  on triples ``(r, alpha, beta)``.
* **Mechanical tracking** [derived, docs/theory.md §2.3, "Mechanical format
  tracking"] on pairs ``(deg, dd)`` attached to nodes of a computation graph:
  ``deg`` is the degree of the node as a polynomial in (theta, chain) and ``dd`` the
  largest degree of one of its partial derivatives (``NEG_INF`` when the node does
  not depend on theta).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "NEG_INF",
    "Monomials",
    "add_same_chain",
    "mul_same_chain",
    "add_other_chain",
    "mul_other_chain",
    "derivative",
    "compose",
    "track_const",
    "track_var",
    "track_add",
    "track_mul",
    "track_pow",
    "poly_degree",
    "poly_track",
    "ode_degree",
]

NEG_INF = float("-inf")

Triple = tuple[int, int, int]
Pair = tuple[int, float]
#: A polynomial in (t, y_1..y_k) as {(a, (b_1, ..., b_k)): coefficient}: the monomial
#: t^a * y_1^b_1 * ... * y_k^b_k. Coefficients only matter through being non-zero.
Monomials = Mapping[tuple[int, tuple[int, ...]], object]


# ---------------------------------------------------------------- format algebra
def add_same_chain(f: Triple, g: Triple) -> Triple:
    """f + g on one chain: (r, alpha, max(beta_f, beta_g))."""
    _same_chain(f, g)
    return (f[0], f[1], max(f[2], g[2]))


def mul_same_chain(f: Triple, g: Triple) -> Triple:
    """f * g on one chain: (r, alpha, beta_f + beta_g)."""
    _same_chain(f, g)
    return (f[0], f[1], f[2] + g[2])


def add_other_chain(f: Triple, g: Triple) -> Triple:
    """f + g on different chains: concatenate, orders add, alpha = max."""
    return (f[0] + g[0], max(f[1], g[1]), max(f[2], g[2]))


def mul_other_chain(f: Triple, g: Triple) -> Triple:
    """f * g on different chains: concatenate, orders add, degrees add."""
    return (f[0] + g[0], max(f[1], g[1]), f[2] + g[2])


def derivative(f: Triple) -> Triple:
    """df/dx_i has format (r, alpha, beta + alpha - 1) (beta - 1 for a polynomial).

    Differentiating ``P(x, f_1..f_r)`` gives ``dP/dx_i + sum_j dP/dy_j * g_ij``: the
    second sum has degree (beta - 1) + alpha.
    """
    r, alpha, beta = f
    if r == 0:
        return (0, 0, max(beta - 1, 0))
    return (r, alpha, max(beta + alpha - 1, 0))


def compose(u: Triple, phi: Triple) -> Triple:
    """Format of phi(u) for a univariate Pfaffian phi of format ``phi``.

    With phi's chain ``y_j' = Q_j(t, y)`` (deg Q_j <= alpha_phi) each new element
    ``y_j(u)`` has derivative ``Q_j(u, y) * du/dx_i`` of degree
    ``alpha_phi * max(beta_u, 1) + beta_u + alpha_u - 1``; the value is a polynomial
    of degree beta_phi in (u, y). This is the coarse, format-level rule; the
    mechanical tracker is finer because it keeps ``deg`` and ``dd`` separately.
    """
    ru, au, bu = u
    rp, ap, bp = phi
    scale = max(bu, 1)
    du = derivative(u)[2]
    alpha = max(au, ap * scale + du) if rp else au
    return (ru + rp, alpha, bp * scale)


def _same_chain(f: Triple, g: Triple) -> None:
    if f[0] != g[0] or f[1] != g[1]:
        raise ValueError(
            f"formats {f} and {g} are not on the same chain (r and alpha differ); "
            "use add_other_chain / mul_other_chain"
        )


# ---------------------------------------------------------- mechanical tracking
def track_const() -> Pair:
    """A theta-free node: degree 0, no derivative (``dd = -inf``)."""
    return (0, NEG_INF)


def track_var() -> Pair:
    """A parameter theta_p: degree 1, derivatives are constants (degree 0)."""
    return (1, 0)


def track_add(*qs: Pair) -> Pair:
    """q1 + q2 + ...: (max deg, max dd)."""
    return (max(q[0] for q in qs), max(q[1] for q in qs))


def track_mul(q1: Pair, q2: Pair) -> Pair:
    """q1 * q2: (d1 + d2, max(dd1 + d2, d1 + dd2)) by the product rule."""
    (d1, e1), (d2, e2) = q1, q2
    return (d1 + d2, max(e1 + d2, d1 + e2))


def track_pow(q: Pair, k: int) -> Pair:
    """q ** k (k >= 1): (k d, (k - 1) d + dd)."""
    d, e = q
    if k < 1:
        raise ValueError(f"track_pow needs an exponent >= 1, got {k}")
    return (k * d, (k - 1) * d + e)


def poly_degree(monomials: Monomials, deg_t: float, deg_y: Iterable[float]) -> float:
    """Degree of ``sum c t^a y^b`` when t has degree ``deg_t`` and y_j degree deg_y[j]."""
    deg_y = tuple(deg_y)
    best = NEG_INF
    for (a, b), coef in monomials.items():
        if coef == 0:
            continue
        best = max(best, a * deg_t + sum(bj * dj for bj, dj in zip(b, deg_y)))
    return best


def ode_degree(monomials: Monomials, deg_u: float) -> float:
    """degQ(u) of docs/theory.md §2.3: max over monomials t^a y^b of a*deg(u) + |b|.

    Chain elements have degree 1 in (theta, chain), the argument u has ``deg_u``.
    """
    k = len(next(iter(monomials))[1]) if monomials else 0
    return poly_degree(monomials, deg_u, (1,) * k)


def poly_track(monomials: Monomials, u: Pair, ys: Iterable[Pair]) -> Pair:
    """(deg, dd) of the polynomial ``sum c t^a y^b`` evaluated at t = u, y = ys.

    Each monomial is tracked with :func:`track_mul` / :func:`track_pow`, the sum with
    :func:`track_add`; a constant monomial contributes :func:`track_const`.
    """
    ys = tuple(ys)
    terms: list[Pair] = []
    for (a, b), coef in monomials.items():
        if coef == 0:
            continue
        term = track_const()
        if a:
            term = track_mul(term, track_pow(u, a))
        for bj, yj in zip(b, ys):
            if bj:
                term = track_mul(term, track_pow(yj, bj))
        terms.append(term)
    if not terms:
        return track_const()
    return track_add(*terms)
