"""numbers.evaluate_product: log-space evaluation, exact only when small."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bettibounds.logspace import MAX_EXACT_DIGITS, Evaluated, evaluate_product, format_log10_up, log_factorial2


def test_small_exact():
    e = evaluate_product([(2, 10), (3, 2)])
    assert e.exact == 9216
    assert float(e.log2) == pytest.approx(math.log2(9216), abs=1e-12)
    assert float(e.log10) == pytest.approx(math.log10(9216), abs=1e-12)
    assert e.decimal() == "9216" and not e.is_zero


def test_empty_product_is_one():
    e = evaluate_product([])
    assert e.exact == 1 and e.log2 == 0


def test_zero_exponent_factors_are_dropped():
    # 0^0 = 1 and a negative base to the power 0 both count as 1
    assert evaluate_product([(0, 0), (5, 1)]).exact == 5
    assert evaluate_product([(-3, 0), (5, 1)]).exact == 5


@pytest.mark.parametrize("factors", [[(0, 1)], [(7, 3), (0, 5)], [(0, 2), (-1, 3)], [(0, 10**15), (2, 10**15)]])
def test_zero_factor(factors):
    e = evaluate_product(factors)
    assert e.exact == 0 and e.is_zero
    assert e.log2 == mpmath.ninf and e.log10 == mpmath.ninf
    assert e.scientific() == "0"


def test_huge_exponents_are_fast_and_finite():
    start = time.perf_counter()
    e = evaluate_product([(2, 10**12), (3, 10**15), (10**6, 10**18)])
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05  # milliseconds, never builds the integer
    assert e.exact is None and e.decimal() is None
    expected = 10**12 + 10**15 * math.log2(3) + 10**18 * math.log2(10**6)
    assert mpmath.isfinite(e.log2)
    assert float(e.log2) == pytest.approx(expected, rel=1e-14)
    assert float(e.log10) == pytest.approx(expected * math.log10(2), rel=1e-14)
    assert e.scientific().count("e") == 1


def test_huge_log2_keeps_low_order_digits():
    # 2^(10^17) * 3: log2 = 10^17 + log2 3; 40 dps keep the fractional part
    e = evaluate_product([(2, 10**17), (3, 1)])
    with mpmath.workdps(40):
        frac = e.log2 - mpmath.mpf(10) ** 17
    assert float(frac) == pytest.approx(math.log2(3), abs=1e-10)


def test_exact_digit_threshold():
    assert evaluate_product([(10, MAX_EXACT_DIGITS - 1)]).exact == 10 ** (MAX_EXACT_DIGITS - 1)
    assert evaluate_product([(10, MAX_EXACT_DIGITS + 1)]).exact is None
    assert evaluate_product([(10, 50)], max_digits=10).exact is None


@pytest.mark.parametrize(
    "factors, coef, exact",
    [
        ([(3, 1)], Fraction(1, 2), 1),  # floor(3/2)
        ([(5, 1), (3, 2)], Fraction(1, 2), 22),  # floor(45/2)
        ([(4, 1)], Fraction(1, 2), 2),  # exact half of an even number
        ([(10, 1)], Fraction(2, 3), 6),  # floor(20/3)
        ([], 7, 7),
    ],
)
def test_fraction_coefficient_floors(factors, coef, exact):
    e = evaluate_product(factors, coef)
    assert e.exact == exact
    value = Fraction(coef) * math.prod(b**x for b, x in factors)
    # log2 is of the rational value itself, not of its floor
    assert float(e.log2) == pytest.approx(math.log2(value), abs=1e-12)


@pytest.mark.parametrize("coef", [0, -1, Fraction(-1, 2)])
def test_bad_coefficient(coef):
    with pytest.raises(ValueError):
        evaluate_product([(2, 3)], coef)


def test_negative_exponent_and_negative_base():
    with pytest.raises(ValueError):
        evaluate_product([(2, -1)])
    with pytest.raises(ValueError):
        evaluate_product([(-2, 3)])


def test_scientific():
    assert evaluate_product([(7, 1)]).scientific() == "7"
    s = evaluate_product([(10, 20), (3, 1)]).scientific()
    assert s.startswith("3") and s.endswith("e20")


def test_log_factorial2():
    for k in (0, 1, 5, 20, 170):
        assert float(log_factorial2(k)) == pytest.approx(math.log2(math.factorial(k)), abs=1e-9)
    assert float(log_factorial2(10**6)) == pytest.approx(math.lgamma(10**6 + 1) / math.log(2), rel=1e-12)


def test_evaluated_is_frozen():
    import dataclasses

    e = Evaluated(mpmath.mpf(1), mpmath.mpf(0.3), 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.exact = 3  # type: ignore[misc]


@pytest.mark.parametrize("x, shown", [(19.3516, "19.36"), (-0.31234, "-0.3123"), (9.99961, "10.00"),
                                      (2.0, "2.000"), (0.0, "0"), (1e-7, "1.000e-07"),
                                      # large ones without an exponent: B <= 10^6.338e+05 read as a power of a
                                      # power (new-user trial); the float 633700.4 is a little above 633700.4
                                      (633700.4, "633700.5"), (633700.25, "633700.3"), (-689031.55, "-689031.5"),
                                      (9999.5, "9999.5"), (9999.96, "10000"), (9998.2, "9999")])
def test_log10_of_an_upper_bound_is_printed_rounded_up(x, shown):
    assert format_log10_up(x) == shown
    assert "e+" not in shown or abs(x) < 1e4


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda v: abs(v) > 1e-12),
       st.integers(1, 8))
def test_log10_printed_up_is_the_least_sig_digit_decimal_not_below(x, sig):
    from decimal import Decimal

    shown = Decimal(format_log10_up(x, sig))
    exact = Fraction(x)
    assert Fraction(shown) >= exact  # 10^shown is still an upper bound
    digits = shown.as_tuple()
    ulp = Fraction(Decimal((0, (1,), digits.exponent)))  # one unit in the last printed place
    assert Fraction(shown) - ulp < exact  # and the next decimal down would not be
    # sig digits; from 10^sig - 1 on, every integer digit and one decimal (no exponent)
    assert len(digits.digits) <= (sig if abs(x) < 10**sig - 1 else len(str(int(abs(x)))) + 1)


def test_log10_printed_up_holds_for_mpf_beyond_float_precision():
    with mpmath.workdps(40):  # 1e20 + 0.5 at 40 digits: a float would drop the 0.5
        x = mpmath.mpf(10) ** 20 + mpmath.mpf("0.5")
        assert mpmath.mpf(format_log10_up(x)) >= x
        assert format_log10_up(x) == "100000000000000000000.5"  # was 1.001e+20


def test_scientific_rounds_the_exact_integer_to_the_right_side():
    # from the 40-digit log alone, 5e41 + 1 came out as 5.000e41 rounded "up": below the value
    e = evaluate_product([(5 * 10**41 + 1, 1)])
    assert e.scientific(4, "up") == "5.001e41" and e.scientific(4, "down") == "5.000e41"
    e = evaluate_product([(10, 41)])
    assert e.scientific(4, "up") == e.scientific(4, "down") == "1.000e41"


@given(st.integers(10**6, 10**60), st.integers(1, 8))
def test_scientific_brackets_every_exact_value(v, digits):
    from decimal import Decimal

    e = evaluate_product([(v, 1)])
    up, down = (Decimal(e.scientific(digits, d).replace("e", "E")) for d in ("up", "down"))
    assert down <= v <= up


@given(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False))
def test_log10_text_and_safe_float_stay_on_the_safe_side(x):
    from decimal import Decimal

    from bettibounds.logspace import log10_text, safe_float

    with mpmath.workdps(60):
        m = mpmath.mpf(x) + mpmath.mpf(1) / 3  # not a float: the rounding matters
        exact = _fraction(m)
        assert Fraction(Decimal(log10_text(m, "up"))) >= exact >= Fraction(Decimal(log10_text(m, "down")))
        assert Fraction(safe_float(m, "up")) >= exact >= Fraction(safe_float(m, "down"))
        if abs(x) > 1e3:  # at least 3 decimals: the printed log is within 1e-3 of the truth
            assert abs(Fraction(Decimal(log10_text(m, "up"))) - exact) <= Fraction(1, 1000)


def _fraction(m):
    sign, man, exp, _ = m._mpf_
    return (-1) ** sign * Fraction(man) * Fraction(2) ** exp


def test_landscape_text_prints_a_large_bound_and_slack_without_an_exponent():
    """``B <= 10^6.891e+05`` and ``slack 10^6.89e+05`` (new-user trial): the landscape report's bound line
    and slack, from LandscapeResult.to_text on a result of the shape analyze_landscape returns."""
    from types import SimpleNamespace

    import numpy as np

    from bettibounds.empirical.compare import LandscapeResult, compare_with_bound

    bound = SimpleNamespace(theorem="K", status="derived", log10=mpmath.mpf("689031.55"), value=None,
                            hypotheses=[], rigorous=True)
    sample = SimpleNamespace(kind="slice", values=np.zeros((3, 3)), points=9, device="cpu", dtype="float64",
                             engine="fused", compile_seconds=None)
    small = SimpleNamespace(**{**vars(bound), "log10": mpmath.mpf("2.5")})
    rows = [{"level": 0.1, "betti": [1, 0], "clipped": False, "stable": True,
             "comparison": compare_with_bound(2, b, True)} for b in (bound, small)]
    res = LandscapeResult(sample=sample, diagram=SimpleNamespace(backend="gudhi"), levels=rows, dims=[0, 1],
                          bound=bound, n_variables=2)
    text = res.to_text()
    assert "B <= 10^689031.6" in text
    assert "(slack 10^689031.2)" in text  # 689031.55 - log10(2) = 689031.249
    assert "(slack 10^2.2)" in text  # small ones as before: 2.5 - log10(2) = 2.199, three digits
    assert "e+" not in text
