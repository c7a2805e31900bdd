"""Float64 interval arithmetic of the certified topology (docs/theory.md §13.3).

Laws checked against exact rational arithmetic (every float is a rational) and against
python-flint's ball arithmetic at 200 bits (the elementary functions): every enclosure must
contain the exact value, on random and on extreme inputs (subnormals, overflow, the
reduction thresholds). The enclosures must also be tight enough to be useful (a bound that
is always (-inf, inf) would pass the containment laws).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bettibounds.certified.intervals import (
    EPS_ATAN,
    EPS_EXP,
    EPS_LOG1P,
    EPS_PHI,
    Interval,
    atan_bounds,
    down,
    exp_bounds,
    isum,
    log1p_bounds,
    matmul,
    matmul_many,
    phi_cdf_bounds,
    up,
    up_pos,
)
from bettibounds.pfaffian.activations import activation_names

flint = pytest.importorskip("flint")
arb = flint.arb

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _examples(n: int) -> int:
    """``n`` examples (these tests are heavy), or more when the loaded profile asks for more (``thorough``)."""
    return n if settings().max_examples <= 100 else max(n, settings().max_examples // 4)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def _F(x) -> Fraction:
    return Fraction(float(x))


def _inside(lo, hi, exact) -> bool:
    """exact in [lo, hi]; a NaN bound means "unknown" (the module's convention: sanitised to -+inf)."""
    return (math.isnan(lo) or lo == -math.inf or _F(lo) <= exact) and \
        (math.isnan(hi) or hi == math.inf or exact <= _F(hi))


# ------------------------------------------------------------------ rounding (Lemma R)
@given(st.integers(-10**40, 10**40), st.integers(1, 10**40), st.integers(-1100, 1000))
def test_down_up_bracket_every_real_that_rounds_to_y(p, q, e):
    exact = Fraction(p, q) * Fraction(2) ** e
    try:
        y = float(exact)  # round to nearest
    except OverflowError:
        return
    assert _inside(down(np.float64(y)), up(np.float64(y)), exact)
    if exact >= 0:
        assert exact <= _F(up_pos(np.float64(y)))


def test_down_up_at_subnormals_zero_and_binade_edges():
    for y in [0.0, 5e-324, -5e-324, 2.0 ** -1022, 2.0 ** -1022 - 2.0 ** -1074, 1.0, 2.0, -1.0, 1e308]:
        lo, hi = down(np.float64(y)), up(np.float64(y))
        assert lo < y < hi
        # any real within half a unit in the last place of y is inside
        ulp = math.ulp(y)
        for t in (Fraction(y) + Fraction(ulp) / 2, Fraction(y) - Fraction(ulp) / 2):
            assert _F(lo) <= t <= _F(hi)


# ------------------------------------------------------------------ arithmetic laws
def _pair(draw_lo, draw_w):
    return draw_lo, draw_lo + abs(draw_w)


@settings(max_examples=_examples(80))
@given(moderate, moderate, moderate, moderate, st.floats(0, 1), st.floats(0, 1))
def test_arithmetic_contains_exact_results(a, wa, b, wb, sa, sb):
    A = Interval(np.array([a]), np.array([a + abs(wa)]))
    B = Interval(np.array([b]), np.array([b + abs(wb)]))
    x = _F(A.lo[0]) + Fraction(sa) * (_F(A.hi[0]) - _F(A.lo[0]))
    y = _F(B.lo[0]) + Fraction(sb) * (_F(B.hi[0]) - _F(B.lo[0]))
    for res, exact in [(A + B, x + y), (A - B, x - y), (A * B, x * y), (A.square(), x * x), (-A, -x),
                       (A * 3.7, x * _F(3.7)), (A.power(3), x ** 3), (A.power(4), x ** 4), (A.power(7), x ** 7),
                       (1.5 - A, _F(1.5) - x), (A.mul_sym(np.array([0.3])), x * Fraction(sa - 0.5) * _F(0.6))]:
        assert _inside(res.lo[0], res.hi[0], exact)
    if not (A.lo[0] <= 0 <= A.hi[0]):
        R = A.recip()
        assert _inside(R.lo[0], R.hi[0], 1 / x)


def test_square_and_power_are_exact_ranges_not_products():
    A = Interval(np.array([-2.0]), np.array([1.0]))
    assert A.square().lo[0] == 0.0 and A.square().hi[0] >= 4.0
    assert (A * A).lo[0] < -1.9  # the product of two independent copies
    assert A.power(4).lo[0] == 0.0
    assert A.power(3).lo[0] <= -8.0 and A.power(3).hi[0] >= 1.0


@settings(max_examples=_examples(20))
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 3, 16]), st.sampled_from([1, 5, 40]),
       st.sampled_from([1.0, 1e-300, 1e150]))
def test_matmul_contains_the_exact_product(seed, n_out, n, scale):
    rng = np.random.default_rng(seed)
    A = rng.normal(0, 1, (n_out, n)) * scale
    lo = rng.normal(0, 1, (n, 3)) / scale
    hi = lo + rng.uniform(0, 1, (n, 3)) * rng.choice([0.0, 1e-12, 1.0], (n, 3))
    res = matmul(A, Interval(lo, hi))
    two = matmul_many([A, -A[:1]], Interval(lo, hi))
    for _ in range(3):
        u = rng.uniform(0, 1, (n, 3))
        X = [[_F(lo[i, j]) + Fraction(float(u[i, j])) * (_F(hi[i, j]) - _F(lo[i, j])) for j in range(3)]
             for i in range(n)]
        for i in range(n_out):
            for j in range(3):
                exact = sum((_F(A[i, l]) * X[l][j] for l in range(n)), Fraction(0))
                assert _inside(res.lo[i, j], res.hi[i, j], exact)
                assert _inside(two[0].lo[i, j], two[0].hi[i, j], exact)
        exact = -sum((_F(A[0, l]) * X[l][0] for l in range(n)), Fraction(0))
        assert _inside(two[1].lo[0, 0], two[1].hi[0, 0], exact)
    # useful: the radius is a few units in the last place plus |A| times the input radius
    pt = matmul(A, Interval(lo, lo))
    assert np.all(pt.hi - pt.lo <= 1e-12 * (np.abs(A) @ np.abs(lo)) + 1e-300)


def test_matmul_with_infinite_or_nan_inputs_is_unbounded_not_wrong():
    A = np.array([[1.0, 0.0], [0.0, 2.0]])
    res = matmul(A, Interval(np.array([[0.0], [-np.inf]]), np.array([[1.0], [np.nan]])))
    assert res.lo[0, 0] == -np.inf or res.lo[0, 0] <= 0.0  # the row's zero weight on inf is not trusted
    assert res.lo[1, 0] == -np.inf and res.hi[1, 0] == np.inf


@settings(max_examples=_examples(40))
@given(st.lists(st.floats(-1e10, 1e10), min_size=1, max_size=40), st.floats(0, 1))
def test_isum_contains_the_exact_sum(vals, w):
    lo = np.array(vals)
    hi = lo + w
    res = isum(Interval(lo[None, :], hi[None, :]), 1)
    assert _inside(res.lo[0], res.hi[0], sum(map(_F, lo)))
    assert _inside(res.lo[0], res.hi[0], sum(map(_F, hi)))


# ------------------------------------------------------------------ elementary functions
def _exact(a) -> Fraction:
    man, exp = a.man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def ball_bounds(v) -> tuple[Fraction, Fraction]:
    """The exact endpoints of an arb ball (midpoint and radius are binary numbers)."""
    m, r = _exact(v.mid()), _exact(v.rad())
    return m - r, m + r


def _arb_check(fn, xs, af, rel_width=None, abs_width=None, known=None, prec=200):
    """The exact value lies in the ball ``af(x)`` (intersected with ``known``, a range the
    function never leaves); the enclosure must contain all of that ball."""
    flint.ctx.prec = prec
    try:
        lo, hi = fn(np.asarray(xs, dtype=np.float64))
        for x, l, h in zip(xs, lo, hi):
            v_lo, v_hi = ball_bounds(af(arb(float(x))))
            if known is not None:
                v_lo, v_hi = max(v_lo, Fraction(known[0])), min(v_hi, Fraction(known[1]))
            assert l <= h
            assert _inside(l, h, v_lo) and _inside(l, h, v_hi), (x, l, h, float(v_lo), float(v_hi))
            if rel_width is not None and math.isfinite(h) and h > 0 and l > 0:
                assert (h - l) <= rel_width * h + 1e-300, (x, l, h)
            if abs_width is not None:
                assert (h - l) <= abs_width, (x, l, h)
    finally:
        flint.ctx.prec = 53


SPECIAL_EXP = [0.0, -0.0, 1e-300, -1e-300, 0.3465, 0.3466, 709.7, 709.78, 709.79, -708.4, -744.0, -745.1,
               -745.2, -745.3, -1000.0, 1000.0, 5e-324]


@settings(max_examples=_examples(40))
@given(st.lists(st.floats(-745.0, 709.0), min_size=1, max_size=20))
def test_exp_encloses_ball_arithmetic(xs):
    _arb_check(exp_bounds, xs, lambda a: a.exp(), rel_width=4 * EPS_EXP)


def test_exp_special_arguments():
    _arb_check(exp_bounds, SPECIAL_EXP, lambda a: a.exp())
    lo, hi = exp_bounds(np.array([800.0, -800.0, np.nan]))
    assert hi[0] == np.inf and lo[0] > 1e307 and lo[1] == 0.0 and 0 < hi[1] <= 5e-324 and hi[2] == np.inf


@settings(max_examples=_examples(40))
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_log1p_encloses_ball_arithmetic(vs):
    _arb_check(log1p_bounds, vs + [0.0, 1.0, 5e-324, 1e-310], lambda a: a.log1p(), rel_width=4 * EPS_LOG1P)


@settings(max_examples=_examples(40))
@given(st.lists(st.one_of(st.floats(-5.0, 5.0), finite), min_size=1, max_size=20))
def test_atan_encloses_ball_arithmetic(xs):
    xs = xs + [0.4142, -0.4142, 0.41421357, 1.0, -1.0, 1.0000000000000002, 5e-324]
    _arb_check(atan_bounds, xs, lambda a: a.atan(), rel_width=4 * EPS_ATAN)


@settings(max_examples=_examples(25))
@given(st.lists(st.floats(-12.0, 12.0), min_size=1, max_size=12))
def test_phi_encloses_ball_arithmetic(zs):
    zs = zs + [0.0, 8.48, 8.49, 8.5, -8.49, -8.5, 30.0, -30.0, 1e-300]
    # Phi(z) = erfc(-z / sqrt 2) / 2: erfc keeps the small tail accurately in ball arithmetic
    _arb_check(phi_cdf_bounds, zs, lambda a: (-a / arb(2).sqrt()).erfc() / 2, abs_width=4 * EPS_PHI, known=(0, 1))


def test_elementary_errors_are_well_inside_the_proven_bounds():
    """The proven constants (§13.3) are bounds, not estimates: the errors measured against
    200-bit balls on 600 arguments stay below half of them (the analysis is not vacuous,
    and a change that doubles an error is noticed)."""
    from bettibounds.certified import intervals as iv

    rng = np.random.default_rng(0)
    flint.ctx.prec = 200
    try:
        x = rng.uniform(-700, 700, 600)
        lo, hi = exp_bounds(x)
        mid = 0.5 * (lo + hi)
        worst = max(abs(float((arb(float(m)) - arb(float(v)).exp()) / arb(float(v)).exp())) for m, v in zip(mid, x))
        assert worst < EPS_EXP / 2
        v = rng.uniform(0, 1, 600)
        lo, hi = log1p_bounds(v)
        worst = max(abs(float((arb(float(0.5 * (a + b))) - arb(float(t)).log1p()) / arb(float(t)).log1p()))
                    for a, b, t in zip(lo, hi, v))
        assert worst < EPS_LOG1P / 2
        assert iv.EPS_ATAN >= EPS_LOG1P  # the documented ordering of the constants
    finally:
        flint.ctx.prec = 53


# ------------------------------------------------------------------ activations over intervals
def _arb_phi(name, z):
    from bettibounds.certified.loss_enclosure import arb_activation  # the ball-arithmetic oracle

    return arb_activation(name, z)


#: ranges the functions never leave (the exact value lies in the arb ball intersected with them); a name
#: without one is compared with the whole ball
VALUE_RANGE = {"tanh": (-1, 1), "logistic": (0, 1), "arctan": (-2, 2), "gaussian": (0, 1)}
DERIV_RANGE = {"tanh": (0, 1), "logistic": (0, 0.25), "arctan": (0, 1), "softplus": (0, 1)}


@settings(max_examples=_examples(25))
@given(st.sampled_from([*activation_names(), "polynomial:3", "polynomial:4"]),
       st.lists(st.tuples(st.floats(-40, 40), st.floats(0, 3), st.sampled_from([0, 0.25, 0.5, 0.75, 1])),
                min_size=1, max_size=6))
def test_activation_enclosures_contain_values_and_derivatives(name, boxes):
    from bettibounds.certified.loss_enclosure import activation_enclosure

    act = activation_enclosure(name)
    extreme = [(-800.0, 0.0, 0.5), (750.0, 1.0, 0.3), (1e-300, 0.0, 0.0), (-1e-300, 2e-300, 0.5), (0.0, 0.0, 0.0)]
    if name in ("exp", "polynomial:3", "polynomial:4", "gaussian"):
        extreme = extreme[2:]  # exp(750), 800^4 overflow float64: infinite bounds, nothing to compare
    boxes = boxes + extreme
    lo = np.array([a for a, _, _ in boxes])
    hi = np.array([a + w for a, w, _ in boxes])
    I = Interval(lo, hi)
    V, N = act.value(I), act.narrow(I)
    Dv = act.deriv(I, V)
    flint.ctx.prec = 200
    try:
        for i, (a, w, s) in enumerate(boxes):
            z = _F(lo[i]) + Fraction(s) * (_F(hi[i]) - _F(lo[i]))  # a dyadic rational: exact at 4000 bits
            flint.ctx.prec = 4000
            za = arb(z.numerator) / arb(z.denominator)
            assert za.rad() == 0
            flint.ctx.prec = 200
            v, d = _arb_phi(name, za)
            for ball, enc, known in ((v, V, VALUE_RANGE.get(name)), (v, N, VALUE_RANGE.get(name)),
                                     (d, Dv, DERIV_RANGE.get(name))):
                b_lo, b_hi = ball_bounds(ball)
                if known is not None:  # the ball may stick out of the function's range (tanh(-800) = -1 + 1e-695)
                    b_lo, b_hi = max(b_lo, Fraction(known[0])), min(b_hi, Fraction(known[1]))
                assert _inside(enc.lo[i], enc.hi[i], b_lo) and _inside(enc.lo[i], enc.hi[i], b_hi), \
                    (name, a, w, s, enc.lo[i], enc.hi[i], float(b_lo))
    finally:
        flint.ctx.prec = 53
