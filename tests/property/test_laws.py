"""Laws of the bound theorems (hypothesis): monotonicity, exactness, oracles.

Natural domain of a format (r, alpha, beta) (format.py: "every bound ... is monotone
in each entry (on its natural domain)"): beta >= 1, alpha >= 1 whenever r >= 1, and
the degenerate r = 0, beta = 1 (a linear function) excluded. Outside it, e.g. the count K at
(r, alpha, beta) = (0, 0, 1) is beta (beta - 1)^(n-1) = 0^(n-1): 1 for n = 1, then 0 (theorem K's bound
is floor(K / 2), docs/theory.md 6.1).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bettibounds.logspace import MAX_EXACT_DIGITS, evaluate_product
from bettibounds.theorems import get_theorem

K, GV, Z, Kh = (get_theorem(k) for k in ("K", "GV", "Z", "Kh"))


# ------------------------------------ independent oracles (docs/theory.md §5)
def K_oracle(n, r, alpha, beta):
    return 2 ** (r * (r - 1) // 2) * beta * (alpha + beta - 1) ** (n - 1) * (
        min(n, r) * alpha + beta + (n - 1) * (alpha + beta - 2)) ** r


def GV_oracle(n, r, alpha, beta):
    return 2 ** (r * (r - 1) // 2) * beta * (alpha + 2 * beta - 1) ** (n - 1) * (
        (2 * n - 1) * (alpha + 2 * beta) - 2 * n + 2) ** r


def Z_oracle(n, r, alpha, beta, s=1, C=1):
    return C * s**n * 2 ** (r * (r - 1) // 2) * (n * beta + min(n, r) * alpha) ** (n + r)


def Kh_oracle(n, r, alpha, betas):
    flat = [b for b, c in betas for _ in range(c)]
    assert len(flat) == n
    return 2 ** (r * (r - 1) // 2) * math.prod(flat) * (min(n, r) * alpha + sum(flat) - n + 1) ** r


def in_domain(n, r, alpha, beta):
    return n >= 1 and beta >= 1 and (r == 0 or alpha >= 1) and not (r == 0 and beta == 1)


def evaluate(key, n, r, alpha, beta):
    if key == "Kh":
        return Kh.evaluate(n=n, r=r, alpha=alpha, betas=((beta, n),))
    if key == "Z":
        return Z.evaluate(n=n, r=r, alpha=alpha, beta=beta, s=1, C=1)
    return get_theorem(key).evaluate(n=n, r=r, alpha=alpha, beta=beta)


def not_smaller(a, b):
    """b >= a, exactly when both are exact, else in log space with a tiny tolerance."""
    if a.exact is not None and b.exact is not None:
        return b.exact >= a.exact
    if a.log2 == mpmath.ninf:
        return True
    with mpmath.workdps(60):  # compare at more than the 40 digits the values carry
        return b.log2 - a.log2 >= -mpmath.mpf(10) ** -25 * max(1, abs(a.log2))


small_formats = st.tuples(
    st.integers(1, 40), st.integers(0, 14), st.integers(0, 9), st.integers(1, 9)
).map(lambda t: (t[0], t[1], max(t[2], 1) if t[1] else t[2], 2 if (t[1] == 0 and t[3] == 1) else t[3]))

large_formats = st.tuples(
    st.integers(1, 10**7), st.integers(0, 10**5), st.integers(1, 60), st.integers(1, 12)
).map(lambda t: (t[0], t[1], t[2], 2 if (t[1] == 0 and t[3] == 1) else t[3]))

KEYS = st.sampled_from(["K", "GV", "Z", "Kh"])
COORD = st.sampled_from([0, 1, 2, 3])  # n, r, alpha, beta


def successor(fmt, coord, step):
    out = list(fmt)
    out[coord] += step
    return tuple(out)


# ---------------------------------------------------------------- monotonicity
@given(KEYS, small_formats, COORD, st.integers(1, 3))
@example("K", (1, 0, 1, 2), 0, 1)  # n = 1 -> 2 at r = 0: beta (alpha+beta-1)^(n-1) grows
@example("K", (2, 0, 1, 2), 1, 1)  # r = 0 -> 1: the chain factor switches on
@example("GV", (1, 1, 1, 1), 2, 1)
@example("Kh", (5, 3, 1, 1), 3, 1)
def test_monotone_small(key, fmt, coord, step):
    nxt = successor(fmt, coord, step)
    assume(in_domain(*fmt) and in_domain(*nxt))
    assert not_smaller(evaluate(key, *fmt), evaluate(key, *nxt))


@given(KEYS, large_formats, COORD, st.integers(1, 1000))
@example("Z", (4607, 0, 1, 2), 2, 1)  # equal values (alpha is idle at r = 0): rounding must not flip >=
def test_monotone_large(key, fmt, coord, step):
    nxt = successor(fmt, coord, step)
    assume(in_domain(*fmt) and in_domain(*nxt))
    a, b = evaluate(key, *fmt), evaluate(key, *nxt)
    assert mpmath.isfinite(a.log2) and mpmath.isfinite(b.log2)
    assert not_smaller(a, b)


@given(small_formats, st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_Z_monotone_in_s_and_C(fmt, s, C, step):
    n, r, alpha, beta = fmt
    base = Z.evaluate(n=n, r=r, alpha=alpha, beta=beta, s=s, C=C).exact
    assert Z.evaluate(n=n, r=r, alpha=alpha, beta=beta, s=s + step, C=C).exact >= base
    assert Z.evaluate(n=n, r=r, alpha=alpha, beta=beta, s=s, C=C + step).exact >= base


@given(st.integers(0, 10), st.integers(0, 6), st.lists(st.integers(1, 5), min_size=1, max_size=6), st.integers(1, 5))
def test_Kh_monotone_when_adding_an_equation(r, alpha, degrees, extra):
    """One more unknown and one more equation never lowers Khovanskii's count."""
    n = len(degrees)
    group = lambda ds: tuple((b, ds.count(b)) for b in sorted(set(ds)))  # noqa: E731
    a = Kh.evaluate(n=n, r=r, alpha=alpha, betas=group(degrees)).exact
    b = Kh.evaluate(n=n + 1, r=r, alpha=alpha, betas=group([*degrees, extra])).exact
    assert b >= a


def test_domain_exclusion_is_needed():
    """Why r = 0, beta = 1 is excluded: the count K = 1 * 0^(n-1) drops from 1 (n = 1) to 0, so the bound
    floor(K / 2) = 0 for both, while K / 2 (its log) drops from 1/2 to 0."""
    assert not in_domain(2, 0, 0, 1)
    assert evaluate("K", 1, 0, 0, 1).exact == 0 and float(evaluate("K", 1, 0, 0, 1).log2) == -1.0
    assert evaluate("K", 2, 0, 0, 1).exact == 0 and evaluate("K", 2, 0, 0, 1).log2 == mpmath.ninf


# ------------------------------------------------------------ exact vs oracles
@given(small_formats)
def test_theorems_equal_independent_oracles(fmt):
    n, r, alpha, beta = fmt
    # theorem K bounds B by floor(K / 2) (docs/theory.md 6.1, Milnor's trick with ell and -ell)
    assert K.evaluate(n=n, r=r, alpha=alpha, beta=beta).exact == K_oracle(n, r, alpha, beta) // 2
    assert GV.evaluate(n=n, r=r, alpha=alpha, beta=beta).exact == GV_oracle(n, r, alpha, beta)
    assert Z.evaluate(n=n, r=r, alpha=alpha, beta=beta, s=1, C=1).exact == Z_oracle(n, r, alpha, beta)


@given(st.integers(0, 8), st.integers(0, 6), st.lists(st.integers(1, 6), min_size=1, max_size=8))
def test_Kh_equals_oracle(r, alpha, degrees):
    betas = tuple((b, degrees.count(b)) for b in sorted(set(degrees)))
    assert Kh.evaluate(n=len(degrees), r=r, alpha=alpha, betas=betas).exact == Kh_oracle(len(degrees), r, alpha, betas)


# ------------------------------------------------------- log2 vs exact integer
def close_log(got, exact_value):
    want = math.log2(exact_value)
    return abs(float(got) - want) <= 1e-9 * max(1.0, abs(want))


@given(KEYS, small_formats)
def test_log2_agrees_with_exact(key, fmt):
    e = evaluate(key, *fmt)
    assert e.exact is not None  # small formats always give the exact value
    if key == "K":  # log2 is that of K / 2, never below the floored exact value it stands for
        half = Fraction(K_oracle(*fmt), 2)
        assert e.exact == math.floor(half)
        if half == 0:
            assert e.log2 == mpmath.ninf
        else:
            assert abs(float(e.log2) - math.log2(half)) <= 1e-9 * max(1.0, abs(math.log2(half)))
    elif e.exact == 0:
        assert e.log2 == mpmath.ninf
    else:
        assert close_log(e.log2, e.exact)
        assert abs(float(e.log10) - math.log10(e.exact)) <= 1e-9 * max(1.0, math.log10(e.exact))


@given(st.sampled_from(["BS-sigmoid", "BS-arctan"]), st.integers(1, 20), st.integers(1, 12), st.integers(1, 6))
def test_log2_agrees_with_exact_input_space(key, n, h, l):
    e = get_theorem(key).evaluate(n=n, h=h, l=l)
    assert e.exact is not None and close_log(e.log2, e.exact)


@given(st.integers(1, 30), st.integers(1, 12))
def test_milnor_sup_floor_and_log(n, d):
    value = Fraction(1, 2) * (2 + d) * (1 + d) ** (n - 1)
    e = get_theorem("Mi+").evaluate(n=n, d=d)
    assert e.exact == math.floor(value)
    assert abs(float(e.log2) - math.log2(value)) <= 1e-9 * max(1.0, math.log2(value))


@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 200)), max_size=6),
       st.fractions(min_value=Fraction(1, 10**6), max_value=10**6))
def test_evaluate_product_exact_and_log(factors, coef):
    e = evaluate_product(factors, coef)
    value = coef * math.prod(Fraction(b) ** x for b, x in factors)
    if e.exact is None:  # only above the exact-digit threshold
        assert e.log10 >= MAX_EXACT_DIGITS
    else:
        assert e.exact == math.floor(value)
    want = math.log2(value.numerator) - math.log2(value.denominator)
    assert abs(float(e.log2) - want) <= 1e-9 * max(1.0, abs(want))
