"""Property: the chain certificate passes for random small architectures and rejects alpha - 1."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec, certify
from bettibounds.pfaffian.activations import activation_names


@st.composite
def tiny_specs(draw):
    act = draw(st.sampled_from([*activation_names(), "polynomial:2"]))
    depth = draw(st.integers(1, 2))
    skip = draw(st.sampled_from(["none", "input-output"] + (["residual"] if depth == 2 else [])))
    widths = (draw(st.integers(1, 2)),) * depth if skip == "residual" else tuple(
        draw(st.lists(st.integers(1, 2), min_size=depth, max_size=depth)))
    loss = draw(st.sampled_from(["mse", "bce"]))
    out = "sigmoid" if loss == "bce" else draw(st.sampled_from(["identity", "sigmoid", "tanh"]))
    return ArchitectureSpec(inputs=draw(st.integers(1, 2)), widths=widths, activation=act, loss=loss,
                            output_activation=out, samples=draw(st.integers(1, 2)), skip=skip,
                            l2=draw(st.sampled_from([0, Fraction(1, 4)])), bias=draw(st.booleans()),
                            bce_chain=draw(st.sampled_from(["logsigmoid", "two-logs"])))


@settings(max_examples=15, deadline=None)
@given(tiny_specs(), st.integers(0, 3))
def test_certificate_passes_and_mutation_fails(spec, seed):
    c = certify(spec, seed=seed, spot_checks=3)
    assert c.verified, c.failures
    assert c.found == c.claimed
    if c.found.order > 0 and c.found.alpha > 0:
        lie = dataclasses.replace(c.found, alpha=c.found.alpha - 1)
        assert not certify(spec, claimed=lie, seed=seed, spot_checks=0).verified
