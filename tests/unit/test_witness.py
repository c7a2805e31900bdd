"""Certified symmetry lower bound: group action, enclosures, certification and its failures."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec as A
from bettibounds import InvalidSpecError, get_activation, symmetry_group
from bettibounds.certified.jets import FLOAT, arb_backend
from bettibounds.certified.witness import _norm_bound, certify_lower, group_orbit, loss_jet
from bettibounds.empirical.experiment import load_experiment
from bettibounds.pfaffian.chain import _direct_loss
from bettibounds.pfaffian.graph import generic_data

flint = pytest.importorskip("flint")


def _loss(spec, xs, ys, theta):
    return float(loss_jet(spec, xs, ys, theta, FLOAT, order=1).v)


GROUP_CASES = [
    dict(widths=(2, 3), activation="tanh"),
    dict(widths=(2, 3), activation="arctan", l2=0.1),
    dict(widths=(2, 3), activation="logistic"),
    dict(widths=(2, 3), activation="logistic", bias=[True, False, True]),
    dict(widths=(2, 2), activation="logistic", skip="residual"),
    dict(widths=(2, 2, 2), activation="logistic", skip="residual", outputs=2),
    dict(widths=(2, 2), activation="tanh", skip="residual"),
    dict(widths=(2, 2), activation="gaussian", skip="residual"),
    dict(widths=(2, 3), activation="gaussian", l2=0.1),
    dict(widths=(3,), activation="softplus"),
    dict(widths=(2,), activation="logistic", l2=0.1, skip="input-output"),
    dict(widths=(2, 2), activation="polynomial:3"),
    dict(widths=(2,), activation="logistic", loss="bce", output_activation="sigmoid"),
]


@pytest.mark.parametrize("kw", GROUP_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_every_group_element_preserves_the_loss(kw):
    # the symmetry lower bound rests on this: Loss(h theta) = Loss(theta) for every h in G
    spec = A(inputs=2, samples=3, **kw)
    xs, ys = generic_data(spec, seed=3)
    theta = np.random.default_rng(0).normal(0, 1, spec.n_params)
    base = _loss(spec, xs, ys, theta)
    images = list(group_orbit(spec, theta))
    assert len(images) == symmetry_group(spec).order - 1
    for hp, a, _ in images:
        assert a >= 1
        assert abs(_loss(spec, xs, ys, hp) - base) <= 1e-10 * (1 + abs(base))
        assert np.linalg.norm(hp - theta) > 1e-6  # generic theta has a trivial stabiliser
    # the orbit points are pairwise distinct
    pts = np.array([theta] + [hp for hp, _, _ in images])
    dist = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)
    assert np.all(dist[~np.eye(len(pts), dtype=bool)] > 1e-6)


def test_a_non_symmetry_is_detected():
    # control for the test above: a map that is NOT in G (swap two units of layer 1 but not their
    # outgoing weights) changes the loss, so the invariance check can fail
    spec = A(inputs=2, samples=3, widths=(2,), activation="tanh")
    xs, ys = generic_data(spec, seed=3)
    theta = np.random.default_rng(0).normal(0, 1, spec.n_params)
    bad = theta.copy()
    bad[[0, 1, 2, 3, 4, 5]] = theta[[3, 4, 5, 0, 1, 2]]  # rows and biases of W_1 swapped, V untouched
    assert abs(_loss(spec, xs, ys, bad) - _loss(spec, xs, ys, theta)) > 1e-6


def test_ball_image_encloses_the_float_image():
    # apply_element on arb balls (used for the rigorous re-check) agrees with the float orbit
    from bettibounds.certified.witness import apply_element

    spec = A(inputs=2, samples=1, widths=(2, 2), activation="logistic", skip="residual")
    theta = np.random.default_rng(5).normal(0, 1, spec.n_params)
    ball = np.array([flint.arb(float(v)) for v in theta], dtype=object)
    for hp, _, combo in group_orbit(spec, theta):
        hb = apply_element(spec, ball, combo)
        assert all(_inside(b, x) for b, x in zip(hb, hp))


@pytest.mark.parametrize("kw", [dict(widths=(2, 2), skip="residual"), dict(widths=(3,)),
                                dict(widths=(2, 2, 2), skip="residual")])
def test_norm_bound_bounds_the_linear_map(kw):
    # logistic flips are linear maps theta -> A theta; the certificate uses ||A|| <= a_h
    spec = A(inputs=2, samples=1, activation="logistic", outputs=2, **kw)
    P = spec.n_params
    basis = np.eye(P)
    cols = [list(group_orbit(spec, basis[i])) for i in range(P)]
    for k in range(len(cols[0])):
        Amat = np.column_stack([cols[i][k][0] for i in range(P)])
        assert np.linalg.norm(Amat, 2) <= cols[0][k][1] * (1 + 1e-12)
    group = symmetry_group(spec)
    assert all(_norm_bound(spec, b, None, "logistic") == 1.0 for b in group.blocks)


@settings(max_examples=12, deadline=None)
@example("exp", ("mse", "sigmoid"), 1068, 1e-3)  # the 53-bit reference ball straddled the enclosure's edge
@example("exp", ("mse", "sigmoid"), 1068, 1e-2)
@given(st.sampled_from(["tanh", "logistic", "arctan", "gaussian", "softplus", "silu", "gelu", "exp"]),
       st.sampled_from([("mse", "identity"), ("mse", "sigmoid"), ("mse", "tanh"), ("bce", "sigmoid")]),
       st.integers(0, 10**6), st.sampled_from([1e-3, 1e-2]))
def test_ball_enclosures_contain_the_truth(act, loss_out, seed, radius):
    loss, out = loss_out
    spec = A(inputs=2, widths=(2,), activation=act, loss=loss, output_activation=out, samples=2,
             l2=Fraction(1, 10))
    xs, ys = generic_data(spec, seed=seed % 7)
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.7, spec.n_params)
    bk = arb_backend()
    box = loss_jet(spec, xs, ys, p, bk, order=2, radius=radius)
    point = loss_jet(spec, xs, ys, p, bk, order=1)
    # (1) the point ball contains the loss computed from its definition at 50 digits (independent code);
    # the references are made 200-bit balls: a 53-bit ball of a 30-digit decimal is 1e-17 wide and can
    # straddle the enclosure's edge although the true value is inside (exp, mse/sigmoid, seed 1068)
    with mpmath.workdps(50), flint.ctx.workprec(200):
        exact = _direct_loss(spec, [mpmath.mpf(float(v)) for v in p], xs, ys, get_activation(act))
        assert point.v.contains(flint.arb(mpmath.nstr(exact, 40)))
        # and a 50-digit numerical derivative lies in the gradient ball
        k = seed % spec.n_params

        def f(x):
            q = [mpmath.mpf(float(v)) for v in p]
            q[k] = x
            return _direct_loss(spec, q, xs, ys, get_activation(act))

        d = mpmath.diff(f, mpmath.mpf(float(p[k])))
        assert point.g[k].contains(flint.arb(mpmath.nstr(d, 30)))
    # (2) the box enclosures contain float jets at random points of the box (value, gradient, Hessian)
    for _ in range(3):
        q = p + rng.uniform(-radius, radius, spec.n_params)
        J = loss_jet(spec, xs, ys, q, FLOAT, order=2)
        assert _inside(box.v, J.v)
        for i in range(spec.n_params):
            assert _inside(box.g[i], J.g[i])
            for j in range(spec.n_params):
                assert _inside(box.H[i, j], J.H[i, j])


def _inside(ball, x) -> bool:
    """x (a float64 approximation of the true value) lies in the ball, up to float64 rounding.

    A non-finite ball (arb 'nan' or infinite radius) contains everything, as arb's contains() says.
    """
    x = float(x)
    return ball.contains(flint.arb(x)) or ball.overlaps(flint.arb(x, 1e-12 * (1 + abs(x))))


def _teacher_data():
    def teacher(x):  # known minimiser: theta_T = (W1, b1, V, c) below, loss 0 up to the rounding of y
        return 0.8 * math.tanh(1.5 * x + 0.3) - 0.5 * math.tanh(-0.7 * x + 0.9) + 0.1

    xs = [[Fraction(k, 3)] for k in range(-6, 6)]
    ys = [[Fraction(round(teacher(float(x[0])) * 10**12), 10**12)] for x in xs]
    theta_T = np.array([1.5, -0.7, 0.3, 0.9, 0.8, -0.5, 0.1])
    return xs, ys, theta_T


def test_teacher_network_is_recovered_and_certified():
    xs, ys, theta_T = _teacher_data()
    spec = A(inputs=1, widths=(2,), activation="tanh", samples=len(xs))
    cert = certify_lower(spec, xs, ys, starts=6, seed=1)
    assert cert.certified, cert.statement
    assert cert.components_at_least == 8 == 2**2 * 2  # |G| = 2^h h!
    c_lo, c_hi = cert.band
    assert c_lo < c_hi and c_lo < 1e-20  # the teacher fits up to the 1e-12 rounding of y
    # the certified minimiser is the teacher, up to the symmetry group
    p = np.array(cert.theta)
    orbit = [p] + [hp for hp, _, _ in group_orbit(spec, p)]
    assert min(np.linalg.norm(q - theta_T) for q in orbit) < 1e-6
    assert [s["step"] for s in cert.steps] == ["candidate", "value and gradient", "strict minimum",
                                               "disjoint images", "band"]
    assert all(s["certified"] for s in cert.steps)


def test_duplicate_units_are_not_certified():
    # a degenerate minimum: two identical hidden units (the teacher has one unit of weight 2v)
    xs = [[Fraction(k, 3)] for k in range(-6, 6)]
    ys = [[Fraction(round(2 * 0.8 * math.tanh(1.5 * float(x[0]) + 0.3) * 10**12), 10**12)] for x in xs]
    spec = A(inputs=1, widths=(2,), activation="tanh", samples=len(xs))
    theta = [1.5, 1.5, 0.3, 0.3, 0.8, 0.8, 0.0]
    cert = certify_lower(spec, xs, ys, theta=theta)
    assert not cert.certified and cert.components_at_least is None and cert.band is None
    assert "not positive definite" in cert.statement
    assert cert.steps[-1]["certified"] is False


def test_nontrivial_stabiliser_is_not_certified():
    # theta = 0 with a strong l2 penalty is a strict minimum, but every sign flip fixes it
    spec = A(inputs=1, widths=(2,), activation="tanh", samples=1, l2=1.0)
    cert = certify_lower(spec, [[Fraction(1)]], [[Fraction(1, 10)]], theta=[0.0] * spec.n_params)
    assert not cert.certified and "stabiliser" in cert.statement


def test_bad_inputs():
    spec = A(inputs=1, widths=(2,), activation="identity", samples=1)
    with pytest.raises(InvalidSpecError, match="continuous"):
        certify_lower(spec, [[1]], [[0]])
    spec = A(inputs=1, widths=(2,), activation="tanh", samples=2)
    with pytest.raises(InvalidSpecError, match="samples"):
        certify_lower(spec, [[1]], [[0]])
    with pytest.raises(InvalidSpecError, match="theta"):
        certify_lower(spec, [[1], [2]], [[0], [1]], theta=[0.0, 1.0])


def test_cli_lower_json(tmp_path, cli_main):
    out = cli_main("lower", "--experiment", "examples/teacher_tanh.json", "--starts", "4", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["certified"] is True and res["components_at_least"] == 8
    assert res["band"][0] < res["band"][1] and len(res["steps"]) == 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"network": {"layers": [1, 2]}, "data": {"x": [[1]], "y": [[1]]}}))
    out = cli_main("lower", "-e", str(bad))
    assert out.returncode == 2 and "network.layers" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_shipped_example_is_valid():
    exp = load_experiment("examples/teacher_tanh.json")
    assert exp.spec.n_params == 7 and exp.spec.samples == 12


def test_trivial_group_terminates_and_certifies_the_minimum():
    """Regression (found by the report's section 4): with |G| = 1 the orbit separation is infinite and
    the radius search used to halve inf forever. Logistic 1-1-1 without bias and with l2 has only the
    identity (l2 breaks the logistic flip)."""
    pytest.importorskip("flint")
    import threading

    spec = A(inputs=1, widths=(1,), activation="logistic", samples=3, bias=False, l2=0.01)
    assert symmetry_group(spec).order == 1
    xs, ys = [[-1], [0], [1]], [[0], [Fraction(1, 2)], [1]]
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("c", certify_lower(spec, xs, ys, starts=4)), daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "certify_lower did not return for a trivial group"
    cert = result["c"]
    assert cert.group_order == 1
    assert cert.certified, cert.to_text()
    assert cert.components_at_least == 1 and cert.band[0] < cert.band[1]
