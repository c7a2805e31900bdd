"""Symmetric parameter points have equal loss (issue 5; docs/theory.md §7.2).

For random tiny networks and data, every element h of the loss-preserving group G of
``bettibounds.lower.symmetry_group`` -- enumerated by ``bettibounds.certified.witness.group_orbit`` --
maps theta to a point with the same loss, evaluated independently by the batched kernel
``bettibounds.empirical.kernels.LossKernel`` (float64, CPU) to 1e-12 relative. Negative controls
show the check can fail: a map outside G (units of a layer permuted without their outgoing
weights), a logistic flip under l2 > 0 (its bias compensation changes ||theta||), and a
per-layer (untied) permutation or flip inside a residual chain.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec, symmetry_group
from bettibounds.certified.witness import apply_element, group_orbit
from bettibounds.pfaffian.activations import activation_names
from bettibounds.pfaffian.network import build_params
from bettibounds.strategies import architectures, datasets

torch = pytest.importorskip("torch")
from bettibounds.empirical.kernels import LossKernel  # noqa: E402  (after the torch guard)

A = ArchitectureSpec
RTOL = 1e-12
#: registry activations left out, and why: their loss has a continuous family (docs/theory.md sec. 7.3)
NO_FINITE_GROUP = {"identity": "GL(h) acts: continuous", "exp": "with biases, b -> b + c: continuous"}
#: activations with a finite symmetry group: every other registry name, and two polynomials
SYMMETRIC = (*(a for a in activation_names() if a not in NO_FINITE_GROUP), "polynomial:2", "polynomial:3")
MAX_ORDER = 3000  # (2^3 3!)^2 = 2304 for two tanh layers of width 3

FAST = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def kernel(spec, xs, ys):
    return LossKernel(spec, [[float(v) for v in r] for r in xs], [[float(v) for v in r] for r in ys],
                      device="cpu", dtype="float64")


def losses(kern, thetas):
    return kern.evaluate(torch.as_tensor(np.asarray(thetas, dtype=np.float64))).numpy()


def theta_for(spec, seed, scale=0.7):
    return np.random.default_rng(seed).normal(0.0, scale, spec.n_params)


def generic_data(spec, seed):
    """Data in general position (N(0, 1) inputs, labels in (0, 1)): no saturated or coincident units."""
    rng = np.random.default_rng(seed + 1)
    xs = rng.normal(0, 1, (spec.samples, spec.inputs))
    ys = rng.uniform(0.1, 0.9, (spec.samples, spec.outputs))
    return xs.tolist(), ys.tolist()


def close(a, b):
    return abs(a - b) <= RTOL * max(1.0, abs(a), abs(b))


def layer_index(spec):
    """Index arrays (W_k, b_k) of the flat parameter vector, Linear layers k = 1..L+1."""
    layers, _ = build_params(spec, lambda p: p)
    return [(np.array(W), None if b is None else np.array(b)) for W, b in layers]


def has_flip(combo):
    return any(f is not None and any(np.ravel(np.asarray(f)) < 0) for _, f in combo)


def test_the_left_out_activations_are_registry_names_with_a_continuous_family():
    from bettibounds.lower import continuous_family

    for name in NO_FINITE_GROUP:
        assert name in activation_names()
        assert continuous_family(A(inputs=2, widths=(3,), activation=name, samples=4)) is not None


# ----------------------------------------------------------------- the group preserves the loss
@FAST
@given(architectures(activations=SYMMETRIC, max_inputs=2, max_width=3, max_depth=2, max_samples=3, max_outputs=2),
       st.data(), st.integers(0, 2**16))
@example(A(inputs=2, widths=(2, 2), activation="tanh", skip="residual", samples=3, l2=0.25), None, 1)
@example(A(inputs=2, widths=(2, 2), activation="logistic", skip="residual", samples=3, outputs=2), None, 2)
@example(A(inputs=1, widths=(3, 2), activation="logistic", bias=[True, False, True], samples=2), None, 3)
@example(A(inputs=2, widths=(2,), activation="logistic", loss="bce", output_activation="sigmoid", samples=3), None, 4)
@example(A(inputs=2, widths=(3, 3), activation="tanh", samples=2, skip="input-output"), None, 5)
@example(A(inputs=1, widths=(2, 2), activation="gaussian", skip="residual", samples=2), None, 6)
def test_every_group_element_preserves_the_loss(spec, data, seed):
    # group_orbit enumerates the linear maps (the skip flips of softplus/SiLU/GELU are bilinear: checked in
    # tests/unit/test_families.py)
    group = symmetry_group(spec, linear_only=True)
    assume(group.applicable and group.order <= MAX_ORDER)
    xs, ys = data.draw(datasets(spec)) if data is not None else generic_data(spec, seed)
    kern = kernel(spec, xs, ys)
    theta = theta_for(spec, seed)
    images = [t for t, _, _ in group_orbit(spec, theta, max_order=MAX_ORDER)]
    assert len(images) == group.order - 1
    vals = losses(kern, [theta, *images])
    assert np.all(np.isfinite(vals))
    for v in vals[1:]:
        assert close(v, vals[0]), (v, vals[0])


# ------------------------------------------------------------------------ negative controls
@FAST
@given(architectures(activations=("tanh", "logistic", "arctan", "softplus"), max_inputs=2, max_width=3,
                     max_depth=2, max_samples=3, skip="none"), st.integers(0, 2**16))
def test_a_permutation_without_its_outgoing_weights_changes_the_loss(spec, seed):
    """Control: rows of W_1 (and b_1) swapped but the next layer untouched is not in G."""
    assume(spec.widths[0] >= 2)
    kern = kernel(spec, *generic_data(spec, seed))
    theta = theta_for(spec, seed)
    (W1, b1), *_ = layer_index(spec)
    bad = theta.copy()
    bad[W1[[0, 1]]] = theta[W1[[1, 0]]]
    if b1 is not None:
        bad[b1[[0, 1]]] = theta[b1[[1, 0]]]
    v0, v1 = losses(kern, [theta, bad])
    assert abs(v1 - v0) > 1e-9 * max(1.0, abs(v0))


@FAST
@given(architectures(activations=("logistic",), max_inputs=2, max_width=3, max_depth=2, max_samples=3),
       st.sampled_from([0.25, 0.1]), st.integers(0, 2**16))
def test_l2_breaks_the_logistic_flip(spec, lam, seed):
    """A logistic flip preserves the plain loss; with lambda > 0 it changes the penalised loss by exactly
    lambda (||h theta||^2 - ||theta||^2) != 0, and the group of the penalised loss has no flips."""
    plain = dataclasses.replace(spec, l2=0, bias=True)
    reg = dataclasses.replace(plain, l2=lam)
    assume(symmetry_group(plain).order <= MAX_ORDER)
    assert all(b["flips"] == 0 for b in symmetry_group(reg).blocks)
    assert symmetry_group(reg).order * 2 ** sum(b["width"] for b in symmetry_group(reg).blocks) == \
        symmetry_group(plain).order
    xs, ys = generic_data(plain, seed)
    k0, k1 = kernel(plain, xs, ys), kernel(reg, xs, ys)
    theta = theta_for(plain, seed)
    flipped = [(t, c) for t, _, c in group_orbit(plain, theta, max_order=MAX_ORDER) if has_flip(c)]
    assert flipped
    base0, base1 = losses(k0, [theta])[0], losses(k1, [theta])[0]
    for t, _ in flipped[:50]:
        v0, v1 = losses(k0, [t])[0], losses(k1, [t])[0]
        assert close(v0, base0)
        shift = lam * (t @ t - theta @ theta)
        assert abs(shift) > 1e-9
        assert abs((v1 - base1) - shift) <= 1e-10 * max(1.0, abs(v1))


@FAST
@given(st.sampled_from(["tanh", "logistic", "arctan"]), st.integers(1, 3), st.integers(2, 3),
       st.integers(1, 3), st.integers(0, 2**16))
def test_residual_chains_tie_the_layers(act, h, L, m, seed):
    """In a residual chain the group acts on the same units of every layer: the tied maps preserve the
    loss (test above), while an element of the *plain* network's group that acts on layer 1 only (a
    permutation or flip of layer 1 alone) preserves the plain loss but changes the residual one."""
    res = A(inputs=2, widths=(h,) * L, activation=act, samples=m, skip="residual")
    plain = dataclasses.replace(res, skip="none")
    assert res.n_params == plain.n_params  # same parameter layout
    xs, ys = generic_data(res, seed)
    k_res, k_plain = kernel(res, xs, ys), kernel(plain, xs, ys)
    theta = theta_for(res, seed)
    group = symmetry_group(plain)
    identity = [(tuple(range(b["width"])), None) for b in group.blocks]
    # the layer-1 generators: a transposition (h >= 2) and, for odd/logistic activations, a flip of unit 0
    gens = []
    if h >= 2:
        gens.append([((1, 0, *range(2, h)), None), *identity[1:]])
    if group.blocks[0]["flips"]:
        gens.append([(tuple(range(h)), (-1,) + (1,) * (h - 1)), *identity[1:]])
    assume(gens)
    v_plain, v_res = losses(k_plain, [theta])[0], losses(k_res, [theta])[0]
    for combo in gens:
        t = apply_element(plain, theta, combo)
        assert close(losses(k_plain, [t])[0], v_plain)
        assert abs(losses(k_res, [t])[0] - v_res) > 1e-9 * max(1.0, abs(v_res))
