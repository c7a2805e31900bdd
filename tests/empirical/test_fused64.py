"""The fused engine in float64, in full mode and for classification (bettibounds.engines.fused),
and the automatic engine choice (bettibounds.engines.choice).

Oracles, independent of the engines: a 60-digit mpmath forward pass of the network and loss
(:func:`mp_loss`), and mpmath's tanh, logistic and log1p for the vector activations. The float64
torch kernel is the other reference (itself checked against the jet oracle in test_kernels.py).
Every tolerance here says which mutation of the engine it catches; each was checked by applying
that mutation (docs/usage.md, "Engines", and the session report list them).
Skipped without numba (the [fast] extra).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("numba")

from bettibounds.empirical.experiment import parse_experiment  # noqa: E402
from bettibounds.empirical.kernels import LossKernel, param_layout  # noqa: E402
from bettibounds.empirical.sampler import make_kernel, sample_landscape  # noqa: E402
from bettibounds.engines import _fused_numba, fused  # noqa: E402
from bettibounds.engines.choice import SMALL_GRID_POINTS, choose_engine, resolve_engine  # noqa: E402
from bettibounds.engines.fused import FusedKernel, FusedRangeError  # noqa: E402
from bettibounds.errors import InvalidSpecError  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402
from bettibounds.strategies import architectures, datasets  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: the largest error of each float64 vector activation in units in the last place of the exact
#: value: a regression guard just above the maxima measured on 10^8 inputs each (tanh 3.42, logistic
#: 2.72, softplus 3.50: benchmarks/check_float64_activations.py); the bounds proved from the
#: construction are 6.7, 4.1 and 7 (docs/theory.md section 15). Mutations caught: the exp table's
#: tails t_j dropped (softplus); tanh's table tails rho_j dropped (16 ulp), its y^7 term dropped
#: (261 ulp); the logistic's r^7 term dropped (16 ulp). Not caught here: the exp's Taylor polynomial
#: one degree shorter (its truncation adds at most 0.5 ulp); tanh's T_j with 53 bits (1 + h inexact:
#: the bound would be 8.7 ulp, the sample's maximum stays 2.6) and the logistic's rho_j dropped (at
#: most 1.6 ulp more): test_tanh_and_logistic_constants catches both.
ULP_BOUND = {0: 4.0, 1: 3.0, 2: 4.0}


@pytest.fixture(scope="session")
def compiled():
    """The fused kernel compiled (or loaded from numba's cache) once for the whole session, in both
    precisions: every test below reuses the same compiled code."""
    spec = ArchitectureSpec(inputs=1, widths=(1,), activation="tanh", samples=1)
    for dt in ("float64", "float32"):
        FusedKernel(spec, [[0.0]], [[0.0]], dtype=dt).evaluate_chunked(np.zeros((1, spec.n_params)), "full")
    return _fused_numba


# ------------------------------------------------------------------ the 60-digit oracle
def mp_loss(spec, x, y, theta, dps: int = 60) -> float:
    """The loss of ``spec`` at ``theta`` on (x, y), evaluated in ``dps``-digit mpmath from the
    float64 values (the parameter order and loss of DESIGN.md; BCE from the logit as
    y log(1 + e^-u) + (1 - y) log(1 + e^u))."""
    with mpmath.workdps(dps):
        th = [mpmath.mpf(float(v)) for v in theta]
        lay = param_layout(spec)
        phi = {"tanh": mpmath.tanh, "logistic": lambda z: 1 / (1 + mpmath.exp(-z))}[spec.activation]
        total = mpmath.mpf(0)
        for xi, yi in zip(np.asarray(x, float), np.asarray(y, float)):
            a = [mpmath.mpf(float(v)) for v in xi]
            for n, layer in enumerate(lay):
                z = []
                for o in range(layer.out):
                    s = mpmath.fsum(th[layer.w + o * layer.inp + j] * a[j] for j in range(layer.inp))
                    z.append(s + (th[layer.b + o] if layer.b is not None else 0))
                if n == len(lay) - 1:
                    u = z
                    break
                new = [phi(v) for v in z]
                if "residual" in spec.skips and n >= 1:
                    new = [p + q for p, q in zip(new, a)]
                a = new
            for o, yo in enumerate(yi):
                yo = mpmath.mpf(float(yo))
                if spec.loss == "bce":
                    total += yo * mpmath.log1p(mpmath.exp(-u[o])) + (1 - yo) * mpmath.log1p(mpmath.exp(u[o]))
                else:
                    out = {"identity": lambda v: v, "tanh": mpmath.tanh,
                           "logistic": lambda v: 1 / (1 + mpmath.exp(-v))}[spec.output_activation](u[o])
                    total += (out - yo) ** 2
        loss = total / len(x) + mpmath.mpf(float(spec.l2)) * mpmath.fsum(t * t for t in th)
        return float(loss)


# ------------------------------------------------------------------ the float64 activations
def _ulp(v) -> mpmath.mpf:
    """The unit in the last place of the binade of the exact value v (2^-1074 below the normals)."""
    if v == 0:
        return mpmath.mpf(2) ** -1074
    _, e = mpmath.frexp(v)
    return mpmath.mpf(2) ** max(int(e) - 53, -1074)


def _activation_sample(rng, n: int) -> dict:
    """Inputs per activation covering every branch: tiny and subnormal arguments, the n = 0 branch
    of the reduction and its edges, each reduction step's boundaries, the tails up to and beyond
    the clamps, and both signs."""
    ln2 = math.log(2)
    edges = np.array([k * ln2 / 2 for k in range(1, 80)])  # where n changes (a = -2|x| for tanh)
    near = np.concatenate([np.nextafter(e, [0, np.inf]) for e in edges] + [edges])
    common = [np.exp(rng.uniform(np.log(1e-300), np.log(1e-8), n // 8)), rng.uniform(0, 1, n // 4),
              np.array([5e-324, 2.2e-308, 1e-17, 0.5, 1.0])]
    tanh = np.concatenate(common + [near / 2, rng.uniform(1, 19.1, n // 4), rng.uniform(19, 45, n // 16)])
    logistic = np.concatenate(common + [near, rng.uniform(1, 40, n // 4), rng.uniform(-746, -700, n // 8),
                                        rng.uniform(-700, -1, n // 8)])
    softplus = np.concatenate(common + [near, rng.uniform(1, 40, n // 4), rng.uniform(-746, -30, n // 8),
                                        rng.uniform(30, 746, n // 16)])
    return {act: np.concatenate([v, -v]) for act, v in ((0, tanh), (1, logistic), (2, softplus))}


def _exact(act: int, v: float) -> mpmath.mpf:
    v = mpmath.mpf(v)
    if act == 0:
        return mpmath.tanh(v)
    if act == 1:
        return 1 / (1 + mpmath.exp(-v))
    return mpmath.log1p(mpmath.exp(v))


def check_activation_sample(act_array, n: int = 3000, seed: int = 0) -> dict:
    """Every float64 vector activation within ULP_BOUND of mpmath (40 digits) on a sample of about
    n inputs per activation (:func:`_activation_sample`); returns the largest errors. Also run by
    test_fused.py's Haswell (8-wide) check."""
    rng = np.random.default_rng(seed)
    worst = {}
    with mpmath.workdps(40):
        for act, xs in _activation_sample(rng, n).items():
            got = np.empty_like(xs)
            act_array(xs, got, act)
            errs = [float(abs(mpmath.mpf(g) - w) / _ulp(w)) for g, w in zip(got, (_exact(act, v) for v in xs))]
            worst[act] = max(errs)
            i = int(np.argmax(errs))
            assert worst[act] <= ULP_BOUND[act], (act, worst[act], xs[i])
    return worst


def test_float64_activations_within_their_ulp_bounds(compiled):
    worst = check_activation_sample(compiled.act_f64_vector_array)
    assert worst[0] > 0.5 and worst[1] > 0.5  # the sample reaches the hard cases (not a vacuous pass)


def test_float64_activations_special_values(compiled):
    """NaN, infinities, signed zeros, subnormals and huge arguments as torch's float64 functions
    give them (tanh and sigmoid) and as the torch kernel's softplus writes it."""
    import torch

    xs = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-300, 1e300, -1e300, 800.0, -800.0,
                   -745.0, -745.2, 19.0, 19.1, 40.0, 41.0, 710.0, -710.0])
    t = torch.tensor(xs)
    want = {0: torch.tanh(t).numpy(), 1: torch.sigmoid(t).numpy(),
            2: (torch.clamp_min(t, 0) + torch.log1p(torch.exp(-torch.abs(t)))).numpy()}
    for act in (0, 1, 2):
        got = np.empty_like(xs)
        compiled.act_f64_vector_array(xs, got, act)
        assert np.isnan(got[0])
        finite = ~np.isnan(want[act])
        # equal up to a few ulp where finite, exactly equal at infinities, zeros and saturation;
        # torch's sigmoid underflows to 0 below -709.8, where the engine's result is the
        # correctly rounded subnormal (e^-710 = 4.48e-309)
        g, w = got[finite], want[act][finite]
        with np.errstate(invalid="ignore"):
            close = (g == w) | (np.abs(g - w) <= 4 * np.spacing(np.abs(w)))
        close |= (w == 0) & (g >= 0) & (g < 1e-307)
        assert close.all(), (act, xs[finite][~close], g[~close], w[~close])
        assert np.array_equal(np.signbit(got[3:5]), np.signbit(want[act][3:5])) or act != 0  # tanh(-0) = -0
    odd = np.linspace(-30, 30, 4001)
    a, b = np.empty_like(odd), np.empty_like(odd)
    compiled.act_f64_vector_array(odd, a, 0)
    compiled.act_f64_vector_array(-odd, b, 0)
    np.testing.assert_array_equal(a, -b)  # tanh is odd exactly
    assert np.all(np.abs(a) <= 1)
    sub = np.empty(1)
    compiled.act_f64_vector_array(np.array([-710.0]), sub, 1)
    assert sub[0] == float(1 / (1 + mpmath.exp(mpmath.mpf(710))))  # 4.48e-309, correctly rounded


def test_tanh_and_logistic_constants():
    """tanh's reduction constant ln 2 / 32, its table (2^(j/16) rounded to 52 significant bits, so
    that 1 + T_j / 2 is exact; the tails rho_j / 2; T_j less j 2^48 in its bits), the Taylor
    coefficients of its odd polynomial, and the logistic's versions of them are what the error
    arguments (docs/theory.md, section 15) assume."""
    F = _fused_numba
    with mpmath.workdps(50):
        assert F.LN2_32 == float(mpmath.log(2) / 32) and 2 * F.INV_LN2_16 == float(32 / mpmath.log(2))
        assert F.TANH_S == tuple(float(c) for c in (mpmath.mpf(-1) / 3, mpmath.mpf(2) / 15, mpmath.mpf(-17) / 315))
        for j, (t, half_rho, biased) in enumerate(zip(F.TANH_T52, F.TANH_HALF_RHO, F.TANH_T)):
            exact = mpmath.mpf(2) ** (mpmath.mpf(j) / 16)
            assert np.float64(t).view(np.int64) & 1 == 0 and abs(exact / t - 1) <= 0.8 * mpmath.mpf(2) ** -52
            assert abs(2 * mpmath.mpf(half_rho) - (exact / t - 1)) <= mpmath.mpf(2) ** -105
            assert np.float64(biased).view(np.int64) + (j << 48) == np.float64(t).view(np.int64)
            # the logistic: the same table at the scale 2^64, rho_j itself, the coefficients of 2 tanh(r / 2)
            assert np.float64(F.LOGISTIC_T[j]).view(np.int64) == np.float64(biased).view(np.int64) + (64 << 52)
            assert F.LOGISTIC_RHO[j] == 2 * half_rho
        assert F.LOGISTIC_S == (F.TANH_S[0] / 4, F.TANH_S[1] / 16, F.TANH_S[2] / 64)


def test_float64_activations_are_the_same_with_and_without_the_kernels_fast_math_flags(compiled):
    """numba adds reassociation and contraction flags to every floating-point operation of the
    kernel, the inlined activations included; act_f64_vector_array is compiled with the same flags
    (so the accuracy checks measure the kernel's code) and act_vector_array, which the model engine
    runs, without them: the two agree bit for bit, so the proved bounds hold for both. (Mutation
    caught: the previous tanh, whose (1 - h) - c was reassociated, 1.3e5 ulp off for tiny x.)"""
    rng = np.random.default_rng(7)
    xs = np.concatenate([np.exp(rng.uniform(np.log(1e-300), np.log(50), 20_000)), rng.uniform(0, 1, 20_000),
                         rng.uniform(0, 0.0325, 20_000), np.array([0.0, 5e-324, np.inf, np.nan])])
    xs = np.concatenate([xs, -xs])
    for act in (0, 1):
        flags, plain = np.empty_like(xs), np.empty_like(xs)
        compiled.act_f64_vector_array(xs, flags, act)
        compiled.act_vector_array(xs, plain, act)
        assert np.array_equal(flags.view(np.int64), plain.view(np.int64)), act


def test_ln2_split_and_coefficients():
    """The Cody-Waite split of ln 2 (the head with 21 trailing zero bits, so N * head / 16 is exact),
    the table 2^(j/16) as two doubles, the rounding constant and the Taylor coefficients 1/k! and
    1/(2j+1) are what the error argument (docs/theory.md, section 15) assumes."""
    F = _fused_numba
    assert np.float64(F.LN2_HI64).view(np.int64) & ((1 << 21) - 1) == 0
    assert F.LN2_16_HI * 16 == F.LN2_HI64 and F.LN2_16_LO * 16 == F.LN2_LO64
    assert F.ROUND64 == 1.5 * 2.0**52
    with mpmath.workdps(50):
        assert abs(mpmath.mpf(F.LN2_HI64) + mpmath.mpf(F.LN2_LO64) - mpmath.log(2)) < mpmath.mpf(2) ** -85
        assert F.INV_LN2_16 == float(16 / mpmath.log(2))
        for j, c in enumerate(F.EXPM1_S):
            assert c == float(1 / mpmath.factorial(j + 2))
        for j, c in enumerate(F.LOG1P_S):
            assert c == float(mpmath.mpf(1) / (2 * j + 1))
        for j, (hi, lo) in enumerate(zip(F.EXP2_HI, F.EXP2_LO)):  # 2^(j/16) to 2^-106 relative
            exact = mpmath.mpf(2) ** (mpmath.mpf(j) / 16)
            assert hi == float(exact) and abs(mpmath.mpf(hi) + mpmath.mpf(lo) - exact) < mpmath.mpf(2) ** -106


# ------------------------------------------------------------------ networks against the oracles
@st.composite
def _classifiers_and_regressors(draw):
    """A network of the fused engine's family from the public strategies (any depth, widths,
    outputs, biases, l2, MSE with every output activation or BCE), exact data, a slice and its
    points; the weight scale includes extreme ones."""
    skip = draw(st.sampled_from(["none", "residual"]))
    spec = draw(architectures(activations=("tanh", "logistic"), max_inputs=3, max_width=5, max_depth=3,
                              max_samples=6, max_outputs=2, skip=skip))
    xs, ys = draw(datasets(spec))
    x = np.array([[float(v) for v in r] for r in xs]) / 10
    y = np.array([[float(v) for v in r] for r in ys])
    if spec.loss == "mse":
        y = y / 10
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.3, 1.0, 4.0, 30.0]))
    P = spec.n_params
    k = draw(st.integers(1, 4))
    return spec, x, y, rng.normal(size=P) * scale, rng.normal(size=(k, P)) * scale / 4, rng.uniform(-1, 1, (5, k))


def _rel(a, b):
    """|a - b| / |b| elementwise, 0 where a == b (also 0 = 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d == 0, 0.0, d / np.abs(b))


@settings(deadline=None, max_examples=40)
@given(_classifiers_and_regressors())
def test_float64_matches_torch_and_a_60_digit_forward_on_random_networks(compiled, problem):
    """Slices and the same points as parameter vectors, in float64: within :func:`tolerance` (1e-13
    relative on such networks; the eps K term matters only where the loss is ill-conditioned) of
    the 60-digit forward, and within twice it of the torch float64 kernel. (Mutation caught: the
    exp's low ln 2/16 term dropped. Activation errors of a few ulp stay inside it: the ulp test
    above is the check for those.)"""
    spec, x, y, c, D, T = problem
    kern = FusedKernel(spec, x, y)
    got = kern.evaluate_chunked(T, "slice", center=c, directions=D)
    thetas = c + T @ D
    full = kern.evaluate_chunked(thetas, "full")
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(thetas)
    exact = np.array([mp_loss(spec, x, y, th) for th in thetas])
    tol = tolerance(spec, x, y, thetas, exact)
    assert np.all(np.abs(full - exact) <= tol), np.max(np.abs(full - exact) / tol)
    assert np.all(np.abs(full - ref) <= 2 * tol), np.max(np.abs(full - ref) / tol)
    # the slice kernel forms theta from its float64 tables, not as c + t d: against torch's slice
    ref_slice = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c,
                                                                                       directions=D)
    assert np.all(np.abs(got - ref_slice) <= 2 * tol), np.max(np.abs(got - ref_slice) / tol)


def _trained(seed: int, loss: str, act: str):
    """A small network at (or next to) a minimum of its loss: (spec, x, y, theta). A random teacher
    (d = 3, widths 12, 8, m = 48) gives the targets: MSE, its outputs plus noise of 1e-3, and the
    output layer refitted by least squares on the teacher's last hidden layer (the loss's minimum
    over that layer, with residuals of about 1e-3, loss about 1e-6); BCE, soft labels
    sigma(teacher's logit), at which the teacher itself is a global minimum (the loss is the
    labels' entropy)."""
    rng = np.random.default_rng(seed)
    d, m = 3, 48
    out_act = "sigmoid" if loss == "bce" else "identity"
    spec = ArchitectureSpec(inputs=d, widths=(12, 8), activation=act, samples=m, loss=loss, output_activation=out_act)
    lay = param_layout(spec)
    theta = np.empty(spec.n_params)
    for layer in lay:
        theta[layer.w:layer.w + layer.out * layer.inp] = rng.normal(size=layer.out * layer.inp) * 2 / np.sqrt(layer.inp)
        theta[layer.b:layer.b + layer.out] = rng.normal(size=layer.out) * 0.5
    x = rng.normal(size=(m, d))
    phi = np.tanh if act == "tanh" else (lambda z: 1 / (1 + np.exp(-z)))
    a = x
    for layer in lay[:-1]:
        a = phi(a @ theta[layer.w:layer.w + layer.out * layer.inp].reshape(layer.out, layer.inp).T
                + theta[layer.b:layer.b + layer.out])
    last = lay[-1]
    u = a @ theta[last.w:last.w + last.inp] + theta[last.b]
    if loss == "bce":
        return spec, x, (1 / (1 + np.exp(-u)))[:, None], theta
    y = u + 1e-3 * rng.normal(size=m)
    A = np.c_[a, np.ones(m)]
    fit = np.linalg.lstsq(A, y, rcond=None)[0]
    theta[last.w:last.w + last.inp], theta[last.b] = fit[:-1], fit[-1]
    return spec, x, y[:, None], theta


EPS = 2.0**-53


def tolerance(spec, x, y, thetas, exact) -> np.ndarray:
    """The float64 tolerance of a loss value: 1e-13 relative, plus eps K (:func:`error_scale`),
    the first-order forward error of a float64 evaluation, which dominates only where u - y is
    small against the products that form u (near minima: K / loss ~ 1e5 for residuals of 1e-3,
    where the measured errors of both engines are 0.002-0.007 eps K)."""
    return 1e-13 * np.abs(exact) + EPS * np.array([error_scale(spec, x, y, th) for th in thetas])


@pytest.mark.parametrize("loss,act", [("mse", "tanh"), ("mse", "logistic"), ("bce", "tanh"), ("bce", "logistic")])
def test_float64_near_a_minimum(compiled, loss, act):
    """Around a network at a minimum (:func:`_trained`: MSE residuals of 1e-3 against outputs of
    order 1, loss ~1e-6; BCE at its entropy): at eight points of a slice of radius 1e-4, in full
    mode, the fused engine and the torch kernel are both within :func:`tolerance` of the 60-digit
    forward, and the slice values of the two engines within twice it of each other on a 21 x 21
    grid. There 1e-13 relative is not reachable by any float64 evaluation: measured on five such
    networks, fused 4e-14-1.3e-13 and torch 6e-14-1.2e-13 from the exact value, 0.9-2.7e-13
    from each other. (Mutations caught: every float64 tanh made 2^-44 too large fails the MSE/tanh
    case; the exp's low ln 2/16 term dropped fails all four.)"""
    spec, x, y, theta = _trained(1, loss, act)
    rng = np.random.default_rng(2)
    D = rng.normal(size=(2, spec.n_params)) * 1e-4
    kern = FusedKernel(spec, x, y)
    torch_kern = LossKernel(spec, x, y, device="cpu", dtype="float64")
    thetas = theta + rng.uniform(-1, 1, (8, 2)) @ D
    exact = np.array([mp_loss(spec, x, y, th) for th in thetas])
    tol = tolerance(spec, x, y, thetas, exact)
    full = kern.evaluate_chunked(thetas, "full")
    ref = torch_kern.evaluate_chunked(thetas)
    assert np.all(np.abs(full - exact) <= tol), np.max(np.abs(full - exact) / tol)
    assert np.all(np.abs(ref - exact) <= tol), np.max(np.abs(ref - exact) / tol)
    ax = np.linspace(-1, 1, 21)
    T = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    got = kern.evaluate_chunked(T, "slice", center=theta, directions=D)
    want = torch_kern.evaluate_chunked(T, "slice", center=theta, directions=D)
    grid_tol = 2 * tolerance(spec, x, y, theta + T @ D, want)
    assert np.all(np.abs(got - want) <= grid_tol), np.max(np.abs(got - want) / grid_tol)


@pytest.mark.parametrize("scale", [1e3, 1e-6])
def test_float64_with_extreme_weights(compiled, scale):
    """Weights of 1e3 (every unit saturated: tanh = +-1 and logistic 0/1 to the last bit, logits
    of 1e4, BCE terms e^-1e4 = 0 or 1e4) and of 1e-6 (the linear regime, where tanh(z) = z to
    1e-13): against the 60-digit forward, 1e-13 relative (the BCE loss of a confident wrong
    prediction is the logit itself; softplus must not overflow or lose it). (Mutation caught: every
    float64 tanh made 2^-44 too large, at the weights of 1e3.)"""
    rng = np.random.default_rng(4)
    for act in ("tanh", "logistic"):
        for loss, out in (("mse", "identity"), ("mse", "tanh"), ("bce", "sigmoid")):
            spec = ArchitectureSpec(inputs=2, widths=(4, 3), activation=act, samples=5, loss=loss,
                                    output_activation=out)
            x = rng.normal(size=(5, 2))
            y = rng.integers(0, 2, size=(5, 1)).astype(float) if loss == "bce" else rng.normal(size=(5, 1))
            thetas = rng.normal(size=(4, spec.n_params)) * scale
            got = FusedKernel(spec, x, y).evaluate_chunked(thetas, "full")
            exact = np.array([mp_loss(spec, x, y, th) for th in thetas])
            assert np.all(_rel(got, exact) <= 1e-13), (act, loss, out, _rel(got, exact).max())



@pytest.mark.parametrize("s", [1e-150, 1e-20, 1e-9, 1e-5])
def test_float64_tiny_preactivations_keep_their_relative_accuracy(compiled, s):
    """Hidden pre-activations of +-s scaled back up by output weights 1/s: the outputs are
    tanh(s) / s = 1 - s^2/3 to the last bits, so the loss sees the tanh's relative error at tiny
    arguments. Within 1e-13 of the 60-digit forward. (Mutation caught: the previous tanh, which under
    the kernel's fast-math flags lost small arguments' relative accuracy, 100 % for |x| < 1e-16.)"""
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    x, y = [[1.0], [-1.0]], [[0.5], [0.0]]
    thetas = np.array([[s, -s, 1 / s, 0.5 / s], [-s, 2 * s, -1 / s, 1 / s]])
    got = FusedKernel(spec, x, y).evaluate_chunked(thetas, "full")
    exact = np.array([mp_loss(spec, x, y, th) for th in thetas])
    assert np.all(_rel(got, exact) <= 1e-13), _rel(got, exact).max()

# ------------------------------------------------------------------ float32 classification
CLASSIFIERS = [(3, (7,), 1, "tanh", "bce"), (4, (13, 5), 2, "logistic", "bce"), (10, (32, 16), 1, "tanh", "bce"),
               (4, (13, 5), 1, "tanh", "mse-sigmoid"), (5, (9, 9), 2, "logistic", "mse-tanh")]


@pytest.mark.parametrize("case", CLASSIFIERS, ids=lambda c: f"{c[3]}-{c[4]}-{c[2]}out")
def test_float32_classifiers_at_or_below_torch_float32_error(compiled, case):
    """The accuracy check the MSE networks have (test_fused.py): on a 21 x 21 slice, the fused
    float32 engine's largest relative error from the float64 torch kernel is at most the torch
    float32 kernel's own. Its output stage is float64 (u = V a + c, the output activation, the
    softplus), which is why it can be. (Mutation: the output stage in float32 exceeds it.)"""
    d, widths, outputs, act, kind = case
    rng = np.random.default_rng(len(widths) * 10 + d)
    m = 120
    loss, out = ("bce", "sigmoid") if kind == "bce" else ("mse", kind.split("-")[1])
    spec = ArchitectureSpec(inputs=d, widths=widths, activation=act, samples=m, outputs=outputs, loss=loss,
                            output_activation=out)
    x = rng.normal(size=(m, d))
    y = rng.uniform(0, 1, size=(m, outputs)) if loss == "bce" else rng.uniform(-0.8, 0.8, size=(m, outputs))
    if loss == "bce":
        y[::3] = np.round(y[::3])
    c, D = rng.normal(size=spec.n_params) * 0.5, rng.normal(size=(2, spec.n_params)) * 0.5
    ax = np.linspace(-1, 1, 21)
    T = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c, directions=D)
    t32 = LossKernel(spec, x, y, device="cpu", dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    f32 = FusedKernel(spec, x, y, dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    f64 = FusedKernel(spec, x, y).evaluate_chunked(T, "slice", center=c, directions=D)
    assert _rel(f32, ref).max() <= _rel(t32, ref).max(), (_rel(f32, ref).max(), _rel(t32, ref).max())
    assert _rel(f64, ref).max() <= 1e-13


def test_bce_hard_labels_leave_out_zero_coefficient_terms(compiled):
    """y = 0 or 1 with a logit of +-1e6 (exact limits 0 and 1e6): no 0 * inf or log of 0, in both
    precisions, equal to the torch kernel; and in float64 a logit that overflows to +inf (an output
    bias of 1.79e308 plus V a = 1e307) with y = 1, whose exact term is 0: 0, not 0 * inf = NaN (as
    the torch kernel, which leaves out a term whose coefficient is 0)."""
    spec = ArchitectureSpec(inputs=1, widths=(1,), activation="tanh", samples=2, loss="bce",
                            output_activation="sigmoid", bias=False)
    x, y = [[1.0], [1.0]], [[1.0], [0.0]]
    thetas = np.array([[5.0, 1e6], [5.0, -1e6], [0.0, 0.0]])  # W1, V: u = V tanh(5)
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(thetas)
    for dt in ("float64", "float32"):
        got = FusedKernel(spec, x, y, dtype=dt).evaluate_chunked(thetas, "full")
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dt == "float32" else 1e-15)
    assert ref[2] == pytest.approx(math.log(2))
    spec_c = ArchitectureSpec(inputs=1, widths=(1,), activation="tanh", samples=2, loss="bce",
                              output_activation="sigmoid")
    theta = np.array([[5.0, 0.0, 1e307, 1.79e308]])  # W1, b1, V, c: u = V tanh(5) + c = +inf
    y_c = [[1.0], [1.0]]
    want = LossKernel(spec_c, x, y_c, device="cpu").evaluate_chunked(theta)
    got = FusedKernel(spec_c, x, y_c).evaluate_chunked(theta, "full")
    assert want[0] == 0.0 and got[0] == 0.0


# ------------------------------------------------------------------ full mode, boxes
def test_box_region_with_the_fused_engine_matches_torch(compiled):
    """The tiny_box example (a box over all P parameters): auto picks the fused engine, float64, and
    its grid equals the torch kernel's within 1e-13 relative; the reason is recorded."""
    box = parse_experiment(json.loads((EXAMPLES / "tiny_box.json").read_text()))
    auto = sample_landscape(box)
    ref = sample_landscape(box, engine="torch")
    assert (auto.engine, auto.dtype) == ("fused", "float64")
    assert auto.engine_reason.startswith("auto: CPU, float64, parameter vectors")
    assert ref.engine_reason == "requested"
    np.testing.assert_allclose(auto.values, ref.values, rtol=1e-13)
    assert auto.to_dict()["engine_reason"] == auto.engine_reason


def test_full_mode_guard_and_padding(compiled):
    """Full mode: parameter vectors whose float32 intermediates could overflow are refused
    (FusedRangeError) in float32 and accepted in float64; m not a multiple of the vector width
    (the padding is left out of the loss)."""
    spec = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=7)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 2)), rng.normal(size=(7, 1))
    big = rng.normal(size=(2, spec.n_params)) * 1e38
    big[:, -1] = 0  # the output bias stays float64 and costs no range
    with pytest.raises(FusedRangeError, match="float32 could overflow"):
        FusedKernel(spec, x, y, dtype="float32").evaluate_chunked(big, "full")
    f64 = FusedKernel(spec, x, y).evaluate_chunked(big, "full")
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(big)
    np.testing.assert_allclose(f64, ref, rtol=1e-13)
    thetas = rng.normal(size=(9, spec.n_params))
    one = np.array([FusedKernel(spec, x, y).evaluate_chunked(t[None], "full")[0] for t in thetas])
    np.testing.assert_array_equal(FusedKernel(spec, x, y).evaluate_chunked(thetas, "full"), one)


def test_float64_guard_refuses_what_could_overflow_float64(compiled):
    """Parameters of 1e307: the first layer's pre-activations can reach 3e307, beyond the float64
    guard (a tenth of float64's range), which refuses with the bound; smaller ones pass."""
    spec = ArchitectureSpec(inputs=2, widths=(4, 4), activation="tanh", samples=3, skip="residual")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    theta = np.full((1, spec.n_params), 1e307)
    with pytest.raises(FusedRangeError, match=r"float64 could overflow on this set of parameter vectors"):
        FusedKernel(spec, x, y).evaluate_chunked(theta, "full")
    small = theta * 1e-160  # (the loss, (1e147)^2, stays finite)
    got = FusedKernel(spec, x, y).evaluate_chunked(small, "full")
    np.testing.assert_allclose(got, LossKernel(spec, x, y, device="cpu").evaluate_chunked(small), rtol=1e-13)


# ------------------------------------------------------------------ the engine choice
def test_choose_engine_decision_table(monkeypatch):
    tanh = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=3)
    bce = ArchitectureSpec(inputs=2, widths=(3,), activation="logistic", samples=3, loss="bce",
                           output_activation="sigmoid")
    soft = ArchitectureSpec(inputs=2, widths=(3,), activation="softplus", samples=3)
    io = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=3, skip="input-output")
    assert choose_engine(tanh, "slice", 2, "float64", "cpu")[0] == "fused"
    assert choose_engine(bce, "box", None, "float32", "cpu")[0] == "fused"
    assert choose_engine(tanh, None, None, None, "cpu")[0] == "fused"
    # the workload: a tiny one goes to the torch kernel (done before the fused kernel would have loaded)
    name, reason = choose_engine(tanh, "slice", 2, "float64", "cpu", points=9)
    assert name == "torch" and reason.startswith("9 points") and "before the fused kernel" in reason
    assert choose_engine(tanh, "box", None, "float32", "cpu", points=SMALL_GRID_POINTS - 1)[0] == "torch"
    assert choose_engine(tanh, "slice", 2, "float64", "cpu", points=SMALL_GRID_POINTS)[0] == "fused"
    big = ArchitectureSpec(inputs=200, widths=(500, 500), activation="tanh", samples=1000)  # 7e8 FLOPs a point
    assert choose_engine(big, "box", None, "float64", "cpu", points=10)[0] == "fused"  # 7e9 > SMALL_WORK_FLOPS
    assert choose_engine(big, "box", None, "float64", "cpu", points=2)[0] == "torch"
    assert resolve_engine("auto", tanh, "slice", 2, points=9)[1].startswith("auto: 9 points")
    assert resolve_engine("fused", tanh, "slice", 2, points=9) == ("fused", "requested")  # never overrides a request
    for spec, kind, k, dt, dev, needle in [
        (tanh, "slice", 2, "float64", "cuda", "CUDA"), (tanh, "slice", 2, "float64", "cuda:1", "CUDA"),
        (tanh, "slice", 5, "float64", "cpu", "5 slice directions"), (tanh, "slice", 2, "float16", "cpu", "float16"),
        (soft, "slice", 2, "float64", "cpu", "'softplus' is unbounded"),
        (io, "box", None, "float64", "cpu", "input-output"),
        (tanh, "sphere", None, "float64", "cpu", "region 'sphere'")]:
        name, reason = choose_engine(spec, kind, k, dt, dev)
        assert name == "torch" and needle in reason, (name, reason)
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert choose_engine(tanh, "slice", 2, "float64", "cpu")[1].startswith("NUMBA_DISABLE_JIT")
    monkeypatch.delenv("NUMBA_DISABLE_JIT")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))
    name, reason = choose_engine(tanh, "slice", 2, "float64", "cpu")
    assert name == "torch" and "numba is not installed" in reason
    assert resolve_engine("torch", tanh, "slice", 2) == ("torch", "requested")
    with pytest.raises(InvalidSpecError, match="engine must be one of auto, torch, fused"):
        resolve_engine("numba", tanh, "slice", 2)


def test_auto_falls_back_to_torch_where_the_fused_guard_refuses(compiled):
    """A slice on which float32 could overflow: with dtype float32, auto evaluates it with the torch
    kernel and says why; requested explicitly, the fused engine refuses it."""
    doc = json.loads((EXAMPLES / "slice_2d.json").read_text())
    doc["region"]["center"] = [v * 1e37 for v in doc["region"]["center"]]
    doc["region"]["directions"]["normalization"] = "unit"
    exp = parse_experiment(doc)
    kern = make_kernel(exp, dtype="float32", device="cpu")
    assert type(kern).__name__ == "LossKernel"
    assert "refused the region" in kern.engine_reason and "float32 could overflow" in kern.engine_reason
    with pytest.raises(FusedRangeError):
        sample_landscape(exp, engine="fused", dtype="float32", grid=[3, 3])
    s = sample_landscape(exp, dtype="float64", grid=[33, 33])  # float64 has the range: fused (>= 1024 points)
    assert s.engine == "fused"


def test_auto_falls_back_when_numba_cannot_load(monkeypatch):
    """numba installed but unusable (its import fails): auto takes the torch kernel and says why;
    --engine fused says what is missing."""
    def broken():
        raise InvalidSpecError("the fused engine needs numba (llvmlite is broken)")

    monkeypatch.setattr(fused, "_compiled", broken)
    exp = parse_experiment(json.loads((EXAMPLES / "slice_2d.json").read_text()))
    kern = make_kernel(exp, device="cpu")
    assert type(kern).__name__ == "LossKernel" and "could not start" in kern.engine_reason
    with pytest.raises(InvalidSpecError, match="llvmlite is broken"):
        make_kernel(exp, engine="fused")


def test_auto_is_the_default_and_changes_no_number_beyond_the_tolerance(compiled):
    """The default engine of sample_landscape on the CPU is the fused one in float64, and its values
    equal the torch kernel's within 1e-13 relative; in float32 the fused engine's own accuracy
    (test_fused.py) applies: within 2e-6 relative here."""
    doc = json.loads((EXAMPLES / "slice_2d.json").read_text())
    exp = parse_experiment(doc)
    a = sample_landscape(exp, device="cpu")
    t = sample_landscape(exp, engine="torch", device="cpu")
    assert (a.engine, a.dtype, t.engine) == ("fused", "float64", "torch")
    np.testing.assert_allclose(a.values, t.values, rtol=1e-13)
    a32 = sample_landscape(exp, device="cpu", dtype="float32")
    assert a32.engine == "fused"
    np.testing.assert_allclose(a32.values, t.values, rtol=2e-6)
    tiny = sample_landscape(exp, device="cpu", grid=[3, 3])  # 9 points: the torch kernel, and why
    assert tiny.engine == "torch" and tiny.engine_reason.startswith("auto: 9 points")
    soft = dict(doc, network=dict(doc["network"], activation="softplus"))
    s = sample_landscape(parse_experiment(soft), device="cpu", grid=[3, 3])
    assert s.engine == "torch" and "softplus" in s.engine_reason


def test_cli_records_the_engine_and_why(capsys):
    """`landscape --json` with the default engine records engine and reason (in process: the same
    code as the command); --engine torch and --engine auto give the same Betti numbers."""
    from bettibounds.cli import main

    path = str(EXAMPLES / "slice_2d.json")
    assert main(["landscape", path, "--json", "--device", "cpu", "--refine", "1"]) in (0, 1)
    ja = json.loads(capsys.readouterr().out)
    assert ja["sample"]["engine"] == "fused" and ja["sample"]["engine_reason"].startswith("auto: CPU, float64")
    assert ja["sample"]["dtype"] == "float64"
    assert main(["landscape", path, "--json", "--engine", "torch", "--refine", "1"]) in (0, 1)
    jt = json.loads(capsys.readouterr().out)
    assert jt["sample"]["engine_reason"] == "requested"
    assert [r["betti"] for r in ja["levels"]] == [r["betti"] for r in jt["levels"]]


def error_scale(spec, x, y, theta) -> float:
    """K with |loss error| <~ eps K to first order: (1/m) sum over samples and outputs of
    |d loss / d u| times S, the size of everything that forms u (the magnitudes of every product,
    bias and activation along the layers, each layer's error carried through |W|; the activations'
    derivatives are at most 1). A float64 forward error estimate, used as the scale of a
    tolerance near minima, where u - y is small against S."""
    lay = param_layout(spec)
    phi = np.tanh if spec.activation == "tanh" else (lambda z: 1 / (1 + np.exp(-z)))
    a, E = np.asarray(x, float), np.zeros_like(np.asarray(x, float))
    for n, layer in enumerate(lay):
        W = theta[layer.w:layer.w + layer.out * layer.inp].reshape(layer.out, layer.inp)
        b = theta[layer.b:layer.b + layer.out] if layer.b is not None else np.zeros(layer.out)
        z = a @ W.T + b
        size = np.abs(a) @ np.abs(W).T + np.abs(b) + E @ np.abs(W).T
        if n == len(lay) - 1:
            u, S = z, size
            break
        new = phi(z)
        E2 = size + np.abs(new)
        if "residual" in spec.skips and n >= 1:
            new, E2 = new + a, E2 + E + np.abs(a)
        a, E = new, E2
    y = np.asarray(y, float)
    if spec.loss == "bce":
        g = 1 / (1 + np.exp(-u)) - y
    else:
        out = {"identity": (u, np.ones_like(u)), "tanh": (np.tanh(u), 1 - np.tanh(u) ** 2),
               "logistic": (1 / (1 + np.exp(-u)), np.exp(-u) / (1 + np.exp(-u)) ** 2)}[spec.output_activation]
        g = 2 * (out[0] - y) * out[1]
    return float(np.sum(np.abs(g) * S) / len(y))
