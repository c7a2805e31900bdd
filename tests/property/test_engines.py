"""The three format engines agree, and architectural laws of docs/theory.md §4 hold.

closed_form (formulas), layer_recursion (layer-level degree rules) and mechanical
(node-by-node on the explicit graph, bettibounds.pfaffian.graph) are three independent
routes to (r, alpha, beta); on generic data they must agree exactly.
"""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec, bounds, closed_form, get_activation, layer_recursion
from bettibounds.pfaffian.activations import activation_names
from bettibounds.pfaffian.graph import mechanical
from bettibounds.strategies import architectures

A = ArchitectureSpec
ACTS = [*activation_names(), "polynomial:2", "polynomial:3"]
CHAIN_ACTS = [a for a in ACTS if get_activation(a).k > 0]

#: chain elements one (sample, output) adds, from losses.py's documented writings
K_OUT = {("mse", "identity"): 0, ("mse", "logistic"): 1, ("mse", "tanh"): 1}


def k_out(spec):
    if spec.loss == "bce":
        return 2 if spec.bce_chain == "logsigmoid" else 3
    return K_OUT[(spec.loss, spec.output_activation)]


def per_sample_order(spec):
    return get_activation(spec.activation).k * spec.total_width + spec.outputs * k_out(spec)


def specs(acts=ACTS, **kw):
    """The public strategy (bettibounds.strategies.architectures) over the given activations."""
    return architectures(activations=acts, **kw)


def upper_log2(report):
    return {b.theorem: b.log2 for b in report.upper}


# ------------------------------------------------------------ three engines agree
@given(specs(), st.integers(0, 2**16))
@example(A(inputs=1, widths=(1, 1), activation="silu", skip="residual", samples=2), 0)
@example(A(inputs=2, widths=(2, 2), activation="polynomial:3", bias=False, samples=1), 0)
@example(A(inputs=1, widths=(3,), activation="gelu", loss="bce", output_activation="sigmoid",
           bce_chain="two-logs", l2=0.25, samples=2, outputs=2), 3)
def test_closed_equals_layers_equals_mechanical(spec, seed):
    closed = closed_form(spec).format
    assert layer_recursion(spec).format == closed
    assert mechanical(spec, seed=seed).format == closed
    assert closed.order == spec.samples * per_sample_order(spec)


@given(specs(), st.integers(0, 2**16))
def test_input_space_layers_equal_mechanical(spec, seed):
    spec = dataclasses.replace(spec, outputs=1)
    lay = layer_recursion(spec, "input").format
    # default weights (seed 0): equal on the whole strategy space (checked exhaustively
    # offline: 44,748 architectures)
    assert mechanical(spec, space="input").format == lay
    assert lay.order == get_activation(spec.activation).k * spec.total_width
    # any weights: the node-by-node format of one concrete function never exceeds the
    # layer-level bound (coincident units can only merge chain elements)
    mech = mechanical(spec, space="input", seed=seed).format
    assert mech.order <= lay.order and mech.alpha <= lay.alpha and mech.beta <= lay.beta


def test_input_space_random_weights_are_generic():
    spec = A(inputs=1, widths=(2,), activation="logistic", bias=False)
    # seed 11275 draws W_1 = (-2, -2): both units are sigma(-2 x)
    assert mechanical(spec, space="input", seed=11275).format == layer_recursion(spec, "input").format


# --------------------------------------------------------------- architecture laws
@given(specs())
def test_l2_keeps_the_format_when_beta_at_least_two(spec):
    plain = dataclasses.replace(spec, l2=0)
    with_l2 = dataclasses.replace(spec, l2=Fraction(1, 10))
    f0, f1 = closed_form(plain).format, closed_form(with_l2).format
    assert (f1.order, f1.alpha) == (f0.order, f0.alpha)
    assert f1.beta == max(f0.beta, 2)
    if f0.beta >= 2:
        assert f1 == f0
    assert mechanical(with_l2).format == f1


@given(specs(skip="residual", max_depth=4))
def test_residual_skip_changes_no_upper_bound(spec):
    plain = dataclasses.replace(spec, skip="none")
    assert spec.n_params == plain.n_params
    assert closed_form(spec).format == closed_form(plain).format
    assert mechanical(spec).format == mechanical(plain).format
    r_skip, r_plain = bounds(spec), bounds(plain)
    assert r_skip.format == r_plain.format
    assert upper_log2(r_skip) == upper_log2(r_plain)


@given(specs(skip="none"))
def test_input_output_skip_adds_parameters_only(spec):
    io = dataclasses.replace(spec, skip="input-output")
    assert io.n_params == spec.n_params + spec.inputs * spec.outputs
    assert closed_form(io).format == closed_form(spec).format
    assert mechanical(io).format == mechanical(spec).format
    assert bounds(io).n_variables == bounds(spec).n_variables + spec.inputs * spec.outputs


# ------------------------------------------------------------------ distinct inputs
@given(specs(max_samples=4), st.data())
def test_distinct_inputs_share_chain_elements(spec, data):
    m_distinct = data.draw(st.integers(1, spec.samples))
    shared = dataclasses.replace(spec, distinct_inputs=m_distinct)
    mech = mechanical(shared).format
    assert mech.order == m_distinct * per_sample_order(spec)
    assert closed_form(shared).format == mech
    # the same through explicit data with repeated rows on a spec that does not say so
    rng = random.Random(data.draw(st.integers(0, 2**16)))
    rows = []
    while len(rows) < m_distinct:
        row = [Fraction(rng.choice([-1, 1]) * rng.randint(1, 50), rng.randint(1, 9)) for _ in range(spec.inputs)]
        if row not in rows:
            rows.append(row)
    xs = [rows[i % m_distinct] for i in range(spec.samples)]
    ys = [[Fraction(rng.randint(1, 98), 99) for _ in range(spec.outputs)] for _ in range(spec.samples)]
    assert mechanical(spec, data=(xs, ys)).format == mech


@given(specs(acts=CHAIN_ACTS, max_samples=3), st.data())
def test_degenerate_zero_input_lowers_the_mechanical_order(spec, data):
    spec = dataclasses.replace(spec, bias=False, samples=spec.samples + 1)
    zeros = data.draw(st.integers(1, spec.samples))
    rng = random.Random(data.draw(st.integers(0, 2**16)))
    xs = [[0] * spec.inputs for _ in range(zeros)]
    xs += [[Fraction(rng.randint(1, 40), rng.randint(1, 7)) * (i + j + 1) for j in range(spec.inputs)]
           for i in range(spec.samples - zeros)]
    ys = [[Fraction(1, 3)] * spec.outputs for _ in range(spec.samples)]
    mech = mechanical(spec, data=(xs, ys)).format
    closed = closed_form(spec).format
    assert mech.order < closed.order
    # a zero input without a first-layer bias makes z_1 = W_1 0 constant: those samples
    # lose (at least) their first-layer elements; z_2 = W_2 phi(0) still depends on W_2
    assert mech.order <= closed.order - zeros * get_activation(spec.activation).k * spec.widths[0]
    # the closed form stays an upper bound in every entry
    assert mech.alpha <= closed.alpha and mech.beta <= closed.beta


# ----------------------------------------------------------------- deep vs shallow
def K_log2(spec):
    (k,) = [b for b in bounds(spec).upper if b.theorem == "K"]
    return k.log2


def shallow_match(deep):
    """The narrowest one-hidden-layer net with at least as many parameters."""
    H = 1
    while True:
        shallow = dataclasses.replace(deep, widths=(H,), skip="none")
        if shallow.n_params >= deep.n_params:
            return shallow
        H += 1


@given(
    st.integers(1, 30).flatmap(lambda d: st.tuples(st.just(d), st.integers(2, d + 1))),
    st.integers(2, 6), st.integers(1, 6), st.sampled_from(["tanh", "logistic"]),
)
@example((1, 2), 2, 1, "tanh")
@example((30, 31), 6, 6, "logistic")
def test_deep_grows_faster_than_shallow(dh, L, m, act):
    """Regime 2 <= h <= d + 1, MSE with linear output (the worked rows of docs/theory.md §4.5).

    Outside it the comparison can fail at equal parameter count, e.g. d=1, h=3, L=2,
    m=2: deep log2 K = 223.65 < shallow (H = 7, P = 22) 237.77 -- the shallow net then
    needs more hidden units than the deep one has (H > L h), so its chain is longer.
    """
    d, h = dh
    deep = A.uniform(d, h, L, m, activation=act)
    shallow = shallow_match(deep)
    assert shallow.n_params >= deep.n_params
    assert K_log2(deep) > K_log2(shallow)


def test_deep_vs_shallow_counterexamples_outside_the_regime():
    """Documented counterexamples (h > d + 1, or h = 1 with a coarse H step)."""
    for d, h, L, m in [(1, 3, 2, 2), (1, 4, 2, 1), (3, 1, 2, 1)]:
        deep = A.uniform(d, h, L, m, activation="tanh")
        shallow = shallow_match(deep)
        assert shallow.n_params >= deep.n_params
        assert K_log2(deep) < K_log2(shallow)
