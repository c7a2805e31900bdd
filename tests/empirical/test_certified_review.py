"""Regression tests from the adversarial review of the certified topology (issue 21).

Each test states what a correct implementation must do and currently fails; it is marked
``xfail(strict=True)`` with the bug in the reason, so the suite stays green until the bug is
fixed -- then the test passes, strict xfail turns that into a failure, and the marker must go.
Reproduction scripts with the exact truth: review/exploit_bias_rounding.py, review/exploit_ftz.py.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("scipy")

from bettibounds.certified import topology as T  # noqa: E402
from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

R = 1.0 / 3.0  # fl(1/3): 3 * R = 1 - 2^-54 exactly, which rounds to 1.0
S = 1e16  # floats near 1e16 are 2 apart: fl(3 S R) = S, while the exact 3 S R = S - 0.555...

BIAS_BUG = ("SliceLoss._linear forms the bias of layers >= 2 at the centre point as b(theta_0) + fl(b(D_s) * t_s): "
            "the product's rounding is not enclosed (a float product added as an exact point), so enclosures "
            "miss the exact loss where b(theta_0) and b(D_s) t_s cancel")


def _bias_slice(y):
    """1-1-1 network (tanh hidden, identity output, biases), theta = (W1, b1, W2, b2) = (0, 0, 0, S) + t (0, 0, 0, 3S):
    since W2 = 0 the output is u(t) = S (1 + 3 t) exactly and f(t) = (u(t) - y)^2, increasing on [-R, R] when
    u(-R) - y > 0; its minimum on the box is f(-R) with u(-R) = S (1 - 3R) = 1e16 * 2^-54 = 0.555..."""
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="tanh", loss="mse", samples=1, bias=True)
    return SliceLoss(spec, [[0.0]], [[y]], np.array([0.0, 0.0, 0.0, S]), np.array([[0.0, 0.0, 0.0, 3 * S]]))


def _exact_min(y):
    u = Fraction(S) + Fraction(3 * S) * Fraction(-R)
    assert u - Fraction(y) > 0  # f increasing on the box
    return (u - Fraction(y)) ** 2


@pytest.mark.xfail(strict=True, reason=BIAS_BUG)
def test_point_enclosure_contains_the_exact_loss_under_bias_cancellation():
    sl = _bias_slice(-0.5)
    F, _ = sl.enclose([[-R]], [[-R]])
    exact = _exact_min(-0.5)  # 1.1133 (the enclosure claims [0.25, 0.25])
    assert Fraction(float(F.lo[0])) <= exact <= Fraction(float(F.hi[0]))


@pytest.mark.xfail(strict=True, reason=BIAS_BUG + " -> certified [0, 0] for a nonempty X_c")
def test_no_wrong_certified_b0_when_the_bias_products_cancel():
    # y = -0.5: min f = f(-R) = 1.1133; at c = 1.2, X_c = [-R, -R + 1.3e-18] is nonempty: truth [1, 0]
    sl = _bias_slice(-0.5)
    orc = T.BoxOracle(sl, [-R], [R])
    for c in (1.0, 1.2, 2.0):
        truth = (0, 0) if Fraction(c) < _exact_min(-0.5) else (1, 0)
        cert = T.certify_level(orc, c)
        assert not cert.certified or cert.betti == truth, (c, cert.betti, truth)
        assert not cert.certified or cert.meets_boundary == (truth == (1, 0)), c


@pytest.mark.xfail(strict=True, reason=BIAS_BUG + " -> certified [1, 0] for an empty X_c")
def test_no_wrong_certified_component_when_the_bias_products_cancel():
    # y = -0.555...: min f = (2 * 0.555...)^2 = 1.2326 > c = 0.77, so X_c is empty: truth [0, 0]
    y = -0.5551115123125783
    sl = _bias_slice(y)
    orc = T.BoxOracle(sl, [-R], [R])
    assert Fraction(0.77) < _exact_min(y)
    cert = T.certify_level(orc, 0.77)
    assert not cert.certified or cert.betti == (0, 0), cert.betti


@pytest.mark.xfail(strict=True, reason="Lemma R (and exp's subnormal steps) assume gradual underflow; with "
                   "flush-to-zero/denormals-are-zero on (torch.set_flush_denormal(True)) down(0) = up(0) = 0, "
                   "nothing checks the floating-point mode, and a certified number is wrong")
def test_flush_to_zero_mode_is_detected_or_harmless():
    torch = pytest.importorskip("torch")
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="identity", loss="mse", samples=1,
                            bias=False)
    # identity 1-1-1 without bias: u = w v x, w = 1e-160, v = 1 + t on [0, 1]: f = 1e-320 (1 + t)^2 > 0 = c
    sl = SliceLoss(spec, [[1.0]], [[0.0]], np.array([1e-160, 1.0]), np.array([[0.0, 1.0]]))
    if not torch.set_flush_denormal(True):
        torch.set_flush_denormal(False)
        pytest.skip("this CPU cannot flush denormals")
    try:
        cert = T.certify_level(T.BoxOracle(sl, [0.0], [1.0]), 0.0)
    finally:
        torch.set_flush_denormal(False)
    assert not cert.certified or cert.betti == (0, 0), cert.betti


EXP_BUG = ("exp_bounds treats x > 709.78 as overflow and returns [DBL_MAX, inf], but e^x < DBL_MAX up to "
           "x = ln(DBL_MAX) = 709.7827: the lower bound is above the exact value there (Lemma E's last sentence), "
           "and logistic/silu inherit a wrong bound")


@pytest.mark.xfail(strict=True, reason=EXP_BUG)
def test_exp_bounds_just_below_the_overflow_threshold():
    import mpmath

    from bettibounds.certified.intervals import exp_bounds

    xs = np.array([709.7800000000001, 709.781, 709.7827128933839])
    lo, hi = exp_bounds(xs)
    with mpmath.workdps(40):
        for x, a, b in zip(xs, lo, hi):
            assert mpmath.mpf(float(a)) <= mpmath.exp(mpmath.mpf(float(x))) <= mpmath.mpf(float(b)), x


@pytest.mark.xfail(strict=True, reason=EXP_BUG + " -> certified [0, 0] for a nonempty X_c")
def test_no_wrong_certified_b0_through_the_exp_threshold():
    import mpmath

    # silu 1-1-1 (no bias), x = 1, y = -3.953; W1 = -709.7814 + 0.001 t, W2 = 1e306, t in [-1, 1]:
    # u(t) = 1e306 silu(W1(t)) runs from -3.9495 to -3.9574 (exact), so f = (u - y)^2 has a zero in the box
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="silu", loss="mse", samples=1, bias=False)
    sl = SliceLoss(spec, [[1.0]], [[-3.953]], np.array([-709.7814, 1e306]), np.array([[0.001, 0.0]]))
    with mpmath.workdps(40):
        u = [mpmath.mpf(1e306) * z / (1 + mpmath.exp(-z))
             for z in (mpmath.mpf(-709.7814) + s * mpmath.mpf(0.001) for s in (-1, 1))]
    assert u[1] < -3.953 < u[0]  # truth: X_c is a nonempty interval for every c > 0
    cert = T.certify_level(T.BoxOracle(sl, [-1.0], [1.0]), 1e-5, T.Limits(max_evaluations=20_000))
    assert not cert.certified or cert.betti == (1, 0), cert.betti
