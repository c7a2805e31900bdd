"""Regression tests from the adversarial review of the certified topology (issue 21, docs/theory.md §13.3).

Each test failed before its fix, with a wrong certified Betti number or an enclosure that missed the exact
value; the exact truth is computed here in rational or 40-digit arithmetic, independently of the package.

* the bias of layers >= 2 at the centre point was formed as b(theta_0) + fl(b(D_s) t_s), a rounded product
  taken as exact (`SliceLoss._linear`): now an interval product;
* `exp_bounds` declared overflow above x = 709.78 < ln(DBL_MAX) = 709.7827, with a lower bound DBL_MAX above
  e^x there: the thresholds are now floats bracketing ln(DBL_MAX) and ln(2^-1074) (Lemma E);
* flush-to-zero / denormals-are-zero (or a directed rounding mode) broke Lemma R silently: the mode is now
  checked before every enclosure (`fpmode.check_float_mode`), and a level is "not certified" under it.

The experiment files of the first two are tests/data/certified_review/*.json (``bettibounds landscape FILE
--certify`` reproduces them); benchmarks/review_certified/ holds the review's oracle, fuzzer and attack scripts.
"""

from __future__ import annotations

import ctypes
import json
import platform
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from bettibounds.certified import certify_landscape  # noqa: E402
from bettibounds.certified import topology as T  # noqa: E402
from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402
from bettibounds.errors import FloatingPointModeError  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "certified_review"
R = 1.0 / 3.0  # fl(1/3): 3 * R = 1 - 2^-54 exactly, which rounds to 1.0
S = 1e16  # floats near 1e16 are 2 apart: fl(3 S R) = S, while the exact 3 S R = S - 0.555...


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


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


def test_point_enclosure_contains_the_exact_loss_under_bias_cancellation():
    sl = _bias_slice(-0.5)
    F, _ = sl.enclose([[-R]], [[-R]])
    exact = _exact_min(-0.5)  # 1.1133 (the float product claimed [0.25, 0.25])
    assert Fraction(float(F.lo[0])) <= exact <= Fraction(float(F.hi[0]))


def test_no_wrong_certified_b0_when_the_bias_products_cancel():
    # the experiment file is _bias_slice(-0.5) on [-R, R]: min f = f(-R) = 1.1133; at c = 1.2,
    # X_c = [-R, -R + 1.3e-18] is nonempty: truth [1, 0] (certified [0, 0] before the fix)
    exp = parse_experiment(_load("bias_rounding.json"))
    assert exp.region["center"][3] == S and exp.region["low"] == [-R]
    assert [list(map(float, r)) for r in exp.y] == [[-0.5]]
    levels = [1.0, 1.2, 2.0]
    for lv in certify_landscape(exp, levels, max_evaluations=2000).levels:
        truth = (0, 0) if Fraction(lv.level) < _exact_min(-0.5) else (1, 0)
        assert not lv.certified or lv.betti == truth, (lv.level, lv.betti, truth)
        assert not lv.certified or lv.meets_boundary == (truth == (1, 0)), lv.level


def test_no_wrong_certified_component_when_the_bias_products_cancel():
    # y = -0.555...: min f = (2 * 0.555...)^2 = 1.2326 > c = 0.77, so X_c is empty: truth [0, 0]
    y = -0.5551115123125783
    sl = _bias_slice(y)
    orc = T.BoxOracle(sl, [-R], [R])
    assert Fraction(0.77) < _exact_min(y)
    cert = T.certify_level(orc, 0.77, T.Limits(max_evaluations=2000))
    assert not cert.certified or cert.betti == (0, 0), cert.betti


# ------------------------------------------------------------------ the floating-point mode
def _ftz_slice():
    # identity 1-1-1 without bias: u = w v x, w = 1e-160, v = 1 + t on [0, 1]: f = 1e-320 (1 + t)^2 > 0 = c
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="identity", loss="mse", samples=1,
                            bias=False)
    return SliceLoss(spec, [[1.0]], [[0.0]], np.array([1e-160, 1.0]), np.array([[0.0, 1.0]]))


def test_flush_to_zero_mode_is_detected():
    from bettibounds.certified.fpmode import float_mode_problem

    torch = pytest.importorskip("torch")
    sl = _ftz_slice()
    good = T.certify_level(T.BoxOracle(sl, [0.0], [1.0]), 0.0)
    assert good.certified and good.betti == (0, 0)  # in IEEE's default mode: X_0 is empty
    if not torch.set_flush_denormal(True):
        torch.set_flush_denormal(False)
        pytest.skip("this CPU cannot flush denormals")
    try:
        cert = T.certify_level(T.BoxOracle(sl, [0.0], [1.0]), 0.0)  # certified [1, 0] before the fix
        why = float_mode_problem()  # each path is probed: numpy's loops, its scalars, BLAS
        assert all(w in why for w in ("numpy arrays flush", "float64 scalars flush", "matrix products")), why
        with pytest.raises(FloatingPointModeError, match="flush"):
            sl.enclose([[0.0]], [[1.0]])
    finally:
        torch.set_flush_denormal(False)
    assert not cert.certified and "flush subnormal numbers to zero" in cert.reason, (cert.betti, cert.reason)


_FE = {"FE_DOWNWARD": 0x400, "FE_UPWARD": 0x800, "FE_TOWARDZERO": 0xC00}  # <fenv.h> on x86-64


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
                    reason="the <fenv.h> constants used are those of glibc on x86-64")
def test_directed_rounding_modes_are_detected():
    from bettibounds.certified.fpmode import float_mode_problem

    libm = ctypes.CDLL("libm.so.6")
    assert float_mode_problem() is None
    for name, mode in _FE.items():
        assert libm.fesetround(mode) == 0, name
        try:
            why = float_mode_problem()
        finally:
            libm.fesetround(0)  # FE_TONEAREST
        assert why is not None and "round to nearest" in why, name
    assert float_mode_problem() is None


# ------------------------------------------------------------------ exp's overflow and underflow thresholds
def _around(x, k):
    out, a, b = [x], x, x
    for _ in range(k):
        a, b = float(np.nextafter(a, -np.inf)), float(np.nextafter(b, np.inf))
        out += [a, b]
    return out


def test_exp_bounds_around_the_overflow_and_underflow_thresholds():
    import mpmath

    from bettibounds.certified.intervals import DBL_MAX, X_OVERFLOW, X_UNDERFLOW, exp_bounds

    with mpmath.workdps(40):
        ln_max, ln_eta = mpmath.log(mpmath.mpf(DBL_MAX)), mpmath.log(mpmath.mpf(2) ** -1074)
        assert ln_max < X_OVERFLOW and X_UNDERFLOW < ln_eta  # the thresholds are on the right side
        xs = (_around(float(ln_max), 60) + _around(float(ln_eta), 60) + [709.78, 709.7800000000001, 709.781]
              + list(np.linspace(709.77, 709.79, 41)) + list(np.linspace(-745.3, -744.3, 41)))
        lo, hi = exp_bounds(np.array(xs))
        for x, a, b in zip(xs, lo, hi):
            e = mpmath.exp(mpmath.mpf(x))
            assert mpmath.mpf(float(a)) <= e <= mpmath.mpf(float(b)), x
            if e < DBL_MAX:  # below overflow the enclosure is tight (not merely [0, inf])
                assert b < np.inf and float(a) >= float(e) * (1 - 2.0 ** -40) - 2.0 ** -1074 * 2, x


def test_no_wrong_certified_b0_through_the_exp_threshold():
    import mpmath

    # silu 1-1-1 (no bias), x = 1, y = -3.953; W1 = -709.7814 + 0.001 t, W2 = 1e306, t in [-1, 1]:
    # u(t) = 1e306 silu(W1(t)) runs from -3.9495 to -3.9574 (exact), so f = (u - y)^2 has a zero in the box
    exp = parse_experiment(_load("exp_threshold.json"))
    assert exp.region["center"] == [-709.7814, 1e306] and [list(map(float, r)) for r in exp.y] == [[-3.953]]
    with mpmath.workdps(40):
        u = [mpmath.mpf(1e306) * z / (1 + mpmath.exp(-z))
             for z in (mpmath.mpf(-709.7814) + s * mpmath.mpf(0.001) for s in (-1, 1))]
        f_ends = [(v + mpmath.mpf(3.953)) ** 2 for v in u]
    assert u[1] < -3.953 < u[0]  # truth: X_c is a nonempty interval for every c > 0
    assert max(f_ends) < 1e-3  # and the whole box at c = 1e-3 (f is monotone between its ends and its zero)
    assert min(f_ends) > 1e-5  # at c = 1e-5, X_c is an interval inside the box (u is monotone in t)
    res = certify_landscape(exp, [1e-5, 1e-3], max_evaluations=20_000)
    low, whole = res.levels
    assert not low.certified or low.betti == (1, 0), low.betti  # certified [0, 0] before the fix
    # with sigma' = sigma(z) sigma(-z) in the tail (not 1/4 - (sigma - 1/2)^2) the low level is certified too
    assert low.certified and low.betti == (1, 0) and low.meets_boundary is False, low.reason
    assert whole.certified and whole.betti == (1, 0) and whole.meets_boundary


# ------------------------------------------------------------------ NaN bounds ("unknown") and overflowing products
def _exp_tanh_slice():
    """1-2-1 network, exp hidden, tanh output, MSE, x = 1, y = -1, no bias; theta = (z, z, 100, -101) with
    z = 705.03 + t/2 on t in [-2, 2]: u(t) = 100 e^z - 101 e^z = -e^z <= -e^704 < -5e305, so tanh(u) = -1 + 2/(1 +
    e^{-2u}) and f = (tanh u + 1)^2 <= 4 e^{4u} < 1e-300 on the whole box: X_c = B for every c > 0, truth [1, 0].
    On the whole box the range slot's midpoint 100 m - 101 m (m ~ 2.4e306) overflows to inf - inf = NaN."""
    spec = ArchitectureSpec(inputs=1, widths=(2,), outputs=1, activation="exp", output_activation="tanh",
                            loss="mse", samples=1, bias=False)
    return SliceLoss(spec, [[1.0]], [[-1.0]], np.array([705.03, 705.03, 100.0, -101.0]),
                     np.array([[0.5, 0.5, 0.0, 0.0]]))


def test_no_wrong_certified_b0_when_a_product_overflows_to_nan():
    sl = _exp_tanh_slice()
    F, _ = sl.enclose([[-2.0]], [[2.0]])
    assert F.lo[0] <= 1e-300  # was [1, 4]: tanh of the NaN logit was enclosed in [0, 1]
    orc = T.BoxOracle(sl, [-2.0], [2.0])
    cert = T.certify_level(orc, 0.5, T.Limits(max_evaluations=300))  # certified [0, 0] before the fix
    assert not cert.certified or (cert.betti == (1, 0) and cert.meets_boundary), cert.betti


def test_products_never_return_nan_bounds():
    from bettibounds.certified.intervals import Interval, batched_matmul, matmul

    m = 2.4e306  # 100 m and -101 m overflow with opposite signs: the float midpoint is inf - inf
    X = Interval(np.array([[m], [m]]), np.array([[m], [m]]))
    for Z in (matmul(np.array([[100.0, -101.0]]), X),
              batched_matmul(np.array([[[100.0, -101.0]]]), np.zeros((1, 1, 2)), Interval(X.lo[None], X.hi[None]))):
        assert Z.lo.ravel().tolist() == [-np.inf] and Z.hi.ravel().tolist() == [np.inf]


def _sample(lo, hi):
    """Points of the real set an interval with NaN ("unknown") or infinite bounds stands for."""
    lo = -np.inf if np.isnan(lo) else lo
    hi = np.inf if np.isnan(hi) else hi
    far = [-1e300, -750.0, -40.0, -3.0, -1e-300, 0.0, 1e-300, 3.0, 40.0, 750.0, 1e300]
    return [v for v in [lo, hi] + far if lo <= v <= hi and np.isfinite(v)]


@pytest.mark.parametrize("name", ["tanh", "logistic", "arctan", "softplus", "gaussian", "silu", "gelu", "exp",
                                  "identity", "polynomial:2", "polynomial:3"])
def test_activation_enclosures_of_unknown_or_unbounded_arguments(name):
    """A NaN bound means "unknown" (docs/theory.md §13.3): phi over [NaN, 3] must contain phi of every real <= 3,
    or be NaN there; tanh gave [0, 0.995] (x < 0 is False on NaN)."""
    flint = pytest.importorskip("flint")

    from bettibounds.certified.intervals import Interval
    from bettibounds.certified.loss_enclosure import activation_enclosure, arb_activation

    act = activation_enclosure(name)
    nan, inf = np.nan, np.inf
    cases = [(nan, nan), (nan, 3.0), (-3.0, nan), (nan, -3.0), (3.0, nan), (-inf, inf), (nan, inf), (-inf, nan),
             (-inf, -3.0), (3.0, inf)]
    I = Interval(np.array([c[0] for c in cases]), np.array([c[1] for c in cases]))
    with np.errstate(all="ignore"):
        V = act.value(I)
        N = act.narrow(I)
        D = act.deriv(I, V)
    flint.ctx.prec = 100
    try:
        for j, (lo, hi) in enumerate(cases):
            for z in _sample(lo, hi):
                v, d = arb_activation(name, flint.arb(z))
                for E, w in ((V, v), (N, v), (D, d)):
                    if not w.is_finite():
                        continue
                    assert not (E.lo[j] > w.upper()) and not (E.hi[j] < w.lower()), (name, lo, hi, z, E.lo[j],
                                                                                     E.hi[j])
    finally:
        flint.ctx.prec = 53


def test_recip_of_an_interval_with_an_unknown_bound_is_unknown():
    from bettibounds.certified.intervals import Interval

    # [NaN, 5] may hold -1 (1/x = -1) or 0.1 (1/x = 10): no bound of 1/x is known; it claimed [0.2, NaN]
    R = Interval(np.array([np.nan, 2.0]), np.array([5.0, np.nan])).recip().sanitize()
    assert R.lo.tolist() == [-np.inf, -np.inf] and R.hi.tolist() == [np.inf, np.inf]


def test_narrow_enclosures_of_saturated_units_stay_tight():
    """The centre slot's phi(c) +- L r is useless where r is large against phi (a unit saturated behind large
    weights: r ~ 1e290 at u ~ -1e306); there it is intersected with the monotone image. Precision, not soundness:
    without it the point enclosures of the overflow slice above were infinite."""
    from bettibounds.certified.intervals import Interval
    from bettibounds.certified.loss_enclosure import activation_enclosure

    I = Interval(np.array([-1e306 - 1e291, -800.0, 40.0, -1e-3]), np.array([-1e306 + 1e291, -799.0, 41.0, 1e-3]))
    for name, lo_max, hi_min in (("tanh", (-1, -1, 1 - 1e-30, -1.1e-3), (-1 + 1e-300, -1 + 1e-300, 1, 1.1e-3)),
                                 ("logistic", (0, 0, 1 - 1e-17, 0.49), (1e-300, 1e-300, 1, 0.51))):
        N = activation_enclosure(name).narrow(I)
        assert (N.lo >= np.array(lo_max) - 1e-12).all() and (N.hi <= np.array(hi_min) + 1e-12).all(), (name, N)


def test_derivative_enclosures_of_saturated_units_keep_their_relative_accuracy():
    """1 - tanh^2 and 1/4 - (sigma - 1/2)^2 are correct but lose everything in the tails (tanh'(-40) = 8.8e-35
    came out as [0, 2.2e-16]); there the derivatives are recomputed from e^{-|z|}. Precision, not soundness: the
    silu exploit above was "not certified" without it. Truth by mpmath at 50 digits."""
    import mpmath

    from bettibounds.certified.intervals import Interval
    from bettibounds.certified.loss_enclosure import activation_enclosure

    lo, hi = np.array([-40.0, 30.0, -709.79, -745.0]), np.array([-39.9, 30.1, -709.77, -744.0])
    I = Interval(lo, hi)
    exact = {"tanh": lambda z: mpmath.sech(z) ** 2, "logistic": lambda z: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2,
             "silu": lambda z: (1 + mpmath.exp(-z) + z * mpmath.exp(-z)) / (1 + mpmath.exp(-z)) ** 2}
    with mpmath.workdps(50):
        for name, d in exact.items():
            act = activation_enclosure(name)
            D = act.deriv(I, act.value(I))
            for j in range(len(lo)):
                ends = sorted([d(mpmath.mpf(lo[j])), d(mpmath.mpf(hi[j]))])  # monotone on each of these intervals
                assert D.lo[j] <= ends[0] and ends[1] <= D.hi[j], (name, j)
                if ends[1] > 1e-300:  # the derivative's range plus 10 %, except where it is subnormal
                    assert D.hi[j] - D.lo[j] <= (ends[1] - ends[0]) + 0.1 * ends[1], (name, j, D.lo[j], D.hi[j])


def test_boxes_with_nan_or_infinite_corners_get_unbounded_enclosures():
    """SliceLoss.enclose documents finite boxes; a NaN or infinite corner must still give no finite claim
    (F = (-inf, inf) or an end that is valid for every point: the loss is >= 0, and +inf above)."""
    spec = ArchitectureSpec(inputs=1, widths=(2,), outputs=1, activation="tanh", loss="mse", samples=1, bias=True)
    P = int(spec.n_params)
    sl = SliceLoss(spec, [[1.0]], [[0.5]], np.linspace(-1.0, 1.0, P), np.ones((1, P)))
    lo = np.array([[np.nan], [-np.inf], [0.0], [-1.0], [-np.inf], [1e300]])
    hi = np.array([[np.nan], [np.inf], [np.inf], [np.nan], [-np.inf], [1e300]])
    with np.errstate(all="ignore"):
        F, G = sl.enclose(lo, hi)
    assert not np.isnan(F.lo).any() and not np.isnan(F.hi).any() and not np.isnan(G.lo).any()
    assert (F.hi == np.inf).all() and (F.lo <= 0).all()  # unknown points, or (t = 1e300) a loss beyond DBL_MAX
    assert (G.lo == -np.inf).all() and (G.hi == np.inf).all()
