"""The bound theorems (docs/theory.md §5; the symmetry lower bounds of §7 and §10.2).

Notation: n variables, chain order r, chain degree alpha, function degree beta,
B(X) = sum of the Betti numbers of X (rational coefficients).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from ..sizes import Size
from .base import Product, Theorem, is_symbolic, smin

__all__ = ["CATALOG"]


def _khovanskii(n: Size, r: Size, alpha: Size, betas: Sequence[tuple[Size, Size]]) -> Product:
    # betas: tuple of (beta_i, multiplicity); there are n equations in all
    prod = tuple((b, c) for b, c in betas)
    total = sum(b * c for b, c in betas)
    bracket = smin(n, r) * alpha + total - n + 1
    return Product(((2, _tri(r)), *prod, (bracket, r)))


def _tri(r: Size) -> Size:
    return r * (r - 1) / 2 if is_symbolic(r) else r * (r - 1) // 2


def _K(n: Size, r: Size, alpha: Size, beta: Size) -> Product:
    # K(n, r, alpha, beta) counts the critical points of a generic linear function on the boundary of the
    # compact set; ell and -ell share them with inward/outward swapped, so B <= floor(K / 2) (docs/theory.md
    # sec. 6.1, Step 3): the coefficient 1/2, and the exact value is floored (numbers.evaluate_product)
    bracket = smin(n, r) * alpha + beta + (n - 1) * (alpha + beta - 2)
    return Product(((2, _tri(r)), (beta, 1), (alpha + beta - 1, n - 1), (bracket, r)), Fraction(1, 2))


def _GV(n: Size, r: Size, alpha: Size, beta: Size) -> Product:
    return Product((
        (2, _tri(r)), (beta, 1), (alpha + 2 * beta - 1, n - 1),
        ((2 * n - 1) * (alpha + 2 * beta) - 2 * n + 2, r),
    ))


def _Z(n: Size, r: Size, alpha: Size, beta: Size, s: Size, C: Size) -> Product:
    return Product(((C, 1), (s, n), (2, _tri(r)), (n * beta + smin(n, r) * alpha, n + r)))


def _milnor(n: Size, d: Size) -> Product:
    return Product(((d, 1), (2 * d - 1, n - 1)))


def _milnor_sup(n: Size, d: Size) -> Product:
    return Product(((2 + d, 1), (1 + d, n - 1)), Fraction(1, 2))


def _group_order(order: Size) -> Product:
    return Product(((order, 1),))


def _bs_sigmoid(n: Size, h: Size, l: Size) -> Product:
    return Product(((2, _tri(h)), (n * l + n, n + h)))


def _bs_arctan(n: Size, h: Size, l: Size) -> Product:
    return Product(((2, h * (2 * h - 1)), (n * l + n, n + 2 * h)))


CATALOG = (
    Theorem(
        key="Kh",
        name="Khovanskii's bound on non-degenerate zeros",
        statement=(
            "For a Pfaffian chain of order r and degree alpha on R^n and q_1..q_n of "
            "degrees beta_1..beta_n, #non-degenerate common zeros <= "
            "2^(r(r-1)/2) * prod beta_i * [min(n,r)*alpha + sum beta_i - n + 1]^r"
        ),
        latex=r"\#\{q=0\} \le 2^{r(r-1)/2}\prod_i\beta_i\,\bigl[\min(n,r)\alpha+\textstyle\sum_i\beta_i-n+1\bigr]^r",
        status="published",
        citation=("Khovanskii1991", "GabrielovVorobjov2004"),
        hypotheses=("the chain is defined on R^n (or R^{n-1} x R_+, R_+^n)",),
        parameters=("n", "r", "alpha", "betas"),
        product=_khovanskii,
        bounds="zeros",
        notes="betas is a tuple of (beta_i, multiplicity) pairs whose multiplicities sum to n",
    ),
    Theorem(
        key="Mi",
        name="Milnor / Oleinik-Petrovskii-Thom (algebraic sets)",
        statement="An algebraic set in R^n defined by polynomials of degree <= d has B <= d(2d-1)^(n-1)",
        latex=r"B(V) \le d\,(2d-1)^{n-1}",
        status="published",
        citation=("Milnor1964", "OleinikPetrovskii1949", "Thom1965"),
        hypotheses=("V is a real algebraic set (r = 0)",),
        parameters=("n", "d"),
        product=_milnor,
    ),
    Theorem(
        key="Mi+",
        name="Milnor's bound for {f >= 0}",
        statement="For a polynomial f of degree d on R^n, B({f >= 0}) <= (1/2)(2+d)(1+d)^(n-1)",
        latex=r"B(\{f\ge 0\}) \le \tfrac12(2+d)(1+d)^{n-1}",
        status="published",
        citation=("Milnor1964",),
        hypotheses=("f is a polynomial of degree d (r = 0)",),
        parameters=("n", "d"),
        product=_milnor_sup,
    ),
    Theorem(
        key="GV",
        name="Gabrielov-Vorobjov bound for a Pfaffian variety",
        statement=(
            "For V = {f_1 = ... = f_k = 0} in R^n, one chain of order r and degree alpha, "
            "beta = max deg f_i: B(V) <= 2^(r(r-1)/2) * beta * (alpha + 2 beta - 1)^(n-1) "
            "* ((2n-1)(alpha + 2 beta) - 2n + 2)^r (the package applies it to V' in n + 1 variables, where "
            "GV(n+1, r, alpha, beta) >= K(n, r, alpha, beta) >= floor(K/2) on the natural domain: it never beats "
            "theorem K and is reported as the published comparison, docs/theory.md 5)"
        ),
        latex=(r"B(V) \le 2^{r(r-1)/2}\,\beta\,(\alpha+2\beta-1)^{n-1}"
               r"\bigl((2n-1)(\alpha+2\beta)-2n+2\bigr)^r"),
        status="quoted",
        citation=("GabrielovVorobjov2004", "Zell1999"),
        hypotheses=("V is compact (exact hypotheses of the source unverified: required here)",),
        parameters=("n", "r", "alpha", "beta"),
        product=_GV,
        notes="GV(n+1) >= K(n) >= floor(K(n)/2) for every format of the natural domain (docs/theory.md 5)",
    ),
    Theorem(
        key="Z",
        name="Zell's bound for compact semi-Pfaffian sets (constant-free core)",
        statement=(
            "For a compact semi-Pfaffian S in R^n defined by s sign conditions: "
            "B(S) <= s^n * 2^(r(r-1)/2) * O((n beta + min(n,r) alpha)^(n+r)); reported with "
            "the hidden constant set to C (default 1): a core, not a rigorous number"
        ),
        latex=r"B(S) \le C\,s^n\,2^{r(r-1)/2}\,(n\beta+\min(n,r)\alpha)^{n+r}",
        status="constant-free",
        citation=("Zell1999",),
        hypotheses=("S is compact", "the constant C hidden in O(.) is not known: C = 1 is a convention"),
        parameters=("n", "r", "alpha", "beta", "s", "C"),
        product=_Z,
        rigorous=False,
    ),
    Theorem(
        key="K",
        name="Explicit bound for a compact sublevel set",
        statement=(
            "If f = c - Loss has format (r, alpha, beta) on R^n and S_c = {Loss <= c} is "
            "compact with S_{c'} compact for some c' > c, then B(S_c) <= floor(K/2), K = 2^(r(r-1)/2) * "
            "beta * (alpha+beta-1)^(n-1) * [min(n,r) alpha + beta + (n-1)(alpha+beta-2)]^r (K counts the "
            "boundary critical points of a generic linear function; ell and -ell share them, inward and "
            "outward swapped, and only inward ones attach cells: the factor 1/2)"
        ),
        latex=(r"B(S_c) \le \bigl\lfloor K/2\bigr\rfloor,\quad K=2^{r(r-1)/2}\,\beta\,(\alpha+\beta-1)^{n-1}"
               r"\bigl[\min(n,r)\alpha+\beta+(n-1)(\alpha+\beta-2)\bigr]^r"),
        status="derived",
        citation=("bettibounds-theory", "Khovanskii1991", "Milnor1964", "Wilkie1999", "Braess1974"),
        hypotheses=("S_{c'} is compact for some c' > c",),
        parameters=("n", "r", "alpha", "beta"),
        product=_K,
    ),
    Theorem(
        key="BS-sigmoid",
        name="Bianchini-Scarselli input-space bound, deep tanh/logistic (constant-free core)",
        statement=(
            "For S_N = {x in R^n : N(x) >= 0}, N a network of l layers with h hidden "
            "tanh/logistic units in total: B(S_N) <= 2^(h(h-1)/2) O((n l + n)^(n+h)); reported "
            "with the O(.) constant set to 1"
        ),
        latex=r"B(S_N) \le 2^{h(h-1)/2}\,O\bigl((nl+n)^{n+h}\bigr)",
        status="constant-free",
        citation=("BianchiniScarselli2014",),
        hypotheses=("quoted from secondary sources; the O(.) constant is not known",),
        parameters=("n", "h", "l"),
        product=_bs_sigmoid,
        rigorous=False,
    ),
    Theorem(
        key="BS-arctan",
        name="Bianchini-Scarselli input-space bound, deep arctan (constant-free core)",
        statement=(
            "For S_N as above with h arctan units in l layers: "
            "B(S_N) <= 2^(h(2h-1)) O((n l + n)^(n+2h)); O(.) constant set to 1"
        ),
        latex=r"B(S_N) \le 2^{h(2h-1)}\,O\bigl((nl+n)^{n+2h}\bigr)",
        status="constant-free",
        citation=("BianchiniScarselli2014",),
        hypotheses=("quoted from secondary sources; the O(.) constant is not known",),
        parameters=("n", "h", "l"),
        product=_bs_arctan,
        rigorous=False,
    ),
    Theorem(
        key="Sym",
        name="Symmetry-group lower bound",
        statement=(
            "If theta* is a strict local minimiser with trivial stabiliser in the loss-preserving group G "
            "(hidden-unit permutations and sign flips), then B(S_c) >= b_0(S_c) >= |G| for c in "
            "[Loss(theta*), Loss(theta*) + delta)"
        ),
        latex=r"B(S_c) \ge b_0(S_c) \ge |G| = \prod_{\text{blocks}} 2^{f}\,h!",
        status="derived",
        citation=("bettibounds-theory",),
        hypotheses=("a strict local minimiser theta* with trivial stabiliser in G exists (undecided in general)",
                    "no continuous loss-preserving family (docs/theory.md §7.3): otherwise not applied"),
        parameters=("order",),
        product=_group_order,
        kind="lower",
        notes="order = |G| from bettibounds.lower.symmetry_group; reported as conditional (yes*) by bounds()",
    ),
    Theorem(
        key="Sym-cert",
        name="Certified symmetry lower bound",
        statement=(
            "b_0(S_c) >= |G| for every c in a certified band [c_lo, c_hi): a strict local minimum in a ball "
            "(interval Cholesky of the Hessian enclosure, ball arithmetic) whose |G| images are pairwise disjoint"
        ),
        latex=r"b_0(S_c) \ge |G| \quad (c \in [c_{lo}, c_{hi}))",
        status="derived",
        citation=("bettibounds-theory",),
        hypotheses=("the concrete network, data and band certified by bettibounds lower "
                    "(bettibounds.certified.certify_lower)",),
        parameters=("order",),
        product=_group_order,
        kind="lower",
        notes="every hypothesis is checked by the certificate; a failed step gives no number",
    ),
)
