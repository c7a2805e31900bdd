"""Invariances of the bounds (issue 5; docs/theory.md §4.3-§4.4, §6.4, §7.2).

Already covered elsewhere (tests/property/test_engines.py): l2 keeps (r, alpha) and maps beta to
max(beta, 2) (format level); identity residual skips leave the format and every upper bound unchanged;
an input-output skip keeps the format and adds d * outputs variables. Added here:

* l2 leaves every upper-bound *number* unchanged for every architecture -- also for the BCE 'two-logs'
  writing, whose format does change (beta 1 -> 2), because the lambda = 0 route already bounds with
  max(beta, 2) -- and turns the conditional (generic-level) bound into an unconditional one;
* the input-output skip changes the bounds only through n: every theorem gets the same parameters
  except n -> n + d * outputs, and the symmetry group is unchanged;
* the symmetry lower bound under l2: unchanged except for logistic (flips dropped) and exp with hidden
  biases (a continuous symmetry without l2, permutations with it);
* the symmetry lower bound under identity residual skips: one factor for the whole chain (non-even
  activations), instead of one per layer.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec, bounds, get_activation, symmetry_group
from bettibounds.lower import continuous_family
from bettibounds.strategies import architectures

A = ArchitectureSpec


def params(report):
    return {b.theorem: dict(b.parameters) for b in report.upper}


def log2s(report):
    return {b.theorem: b.log2 for b in report.upper}


def statuses(report, key="K"):
    (k,) = [b for b in report.upper if b.theorem == key]
    return [h.status for h in k.hypotheses]


# ------------------------------------------------------------------------------ l2
@given(architectures(max_width=3, max_depth=3, max_samples=3), st.sampled_from([Fraction(1, 10), 0.25, 2]),
       st.sampled_from([None, 1, 2]))
def test_l2_leaves_every_upper_bound_number_unchanged(spec, lam, k):
    plain, reg = dataclasses.replace(spec, l2=0), dataclasses.replace(spec, l2=lam)
    k = None if k is None else min(k, spec.n_params)
    rp, rr = bounds(plain, slice_dim=k), bounds(reg, slice_dim=k)
    assert rr.n_variables == rp.n_variables
    assert log2s(rr) == log2s(rp)
    # the format changes only where beta < 2 (the abstract's "in specific cases" = beta >= 2; docs/theory.md §9.11)
    fp, fr = rp.format, rr.format
    assert (fr.order, fr.alpha) == (fp.order, fp.alpha)
    assert (fr.beta == fp.beta) == (fp.beta >= 2)
    # what l2 buys: K is unconditional on the whole space (compact S_c at every level, no genericity)
    if k is None:
        assert statuses(rr) == ["holds"]
        assert "undecided" in statuses(rp)


def test_two_logs_bce_is_the_beta_below_two_case():
    spec = A(inputs=2, widths=(2,), activation="logistic", loss="bce", output_activation="sigmoid",
             bce_chain="two-logs", samples=3)
    rp, rr = bounds(spec), bounds(dataclasses.replace(spec, l2=0.1))
    assert rp.format.beta == 1 and rr.format.beta == 2  # the format changes ...
    assert log2s(rp) == log2s(rr)  # ... the bounds do not (docs/theory.md §9.11, §6.2)


@given(architectures(max_width=3, max_depth=3, max_samples=2), st.sampled_from([Fraction(1, 10), 0.25]))
def test_l2_and_the_symmetry_group(spec, lam):
    plain, reg = dataclasses.replace(spec, l2=0), dataclasses.replace(spec, l2=lam)
    g0, g1 = symmetry_group(plain), symmetry_group(reg)
    act = get_activation(spec.activation)
    exp_with_bias = act.name == "exp" and any(spec.has_bias(l) for l in range(1, spec.depth + 1))
    if act.symmetry == "continuous":
        assert not g0.applicable and not g1.applicable
    elif exp_with_bias:  # the continuous family b -> b + c, v -> e^-c v changes ||theta||: l2 removes it
        assert not g0.applicable and g1.applicable
        assert g1.order == math.prod(math.factorial(b["permutations"]) for b in g1.blocks)
    elif continuous_family(plain) is not None:  # polynomial families (docs/theory.md 7.3) change ||theta|| too
        assert act.is_polynomial and not g0.applicable and g1.applicable
    elif act.symmetry == "logistic" or any(b["flip_kind"] == "skip" for b in g0.blocks):
        # logistic flips need the bias shift, skip flips the shift of U: both change ||theta||
        assert all(b["flips"] == 0 for b in g1.blocks)
        assert g1.order == math.prod(math.factorial(b["permutations"]) for b in g1.blocks)
        assert g0.order % g1.order == 0 and g0.order >= g1.order
    else:  # signed permutations are isometries
        assert g1.order == g0.order


# ------------------------------------------------------------------- input-output skip
@given(architectures(max_width=3, max_depth=3, max_samples=3, skip="none"))
def test_input_output_skip_changes_bounds_only_through_n(spec):
    io = dataclasses.replace(spec, skip="input-output")
    p0, p1 = params(bounds(spec)), params(bounds(io))
    assert set(p0) == set(p1)
    shift = spec.inputs * spec.outputs
    for key in p0:
        assert p1[key].pop("n") == p0[key].pop("n") + shift
        assert p1[key] == p0[key]
    g0, g1 = symmetry_group(spec), symmetry_group(io)
    act = get_activation(spec.activation)
    one_layer = spec.depth == 1
    family_c = not spec.has_bias(1) or spec.has_bias(2) or spec.widths[0] > spec.outputs
    if act.is_polynomial and one_layer and g0.applicable and family_c:  # the family (C) of docs/theory.md 7.3
        assert not g1.applicable or spec.l2_positive
        if spec.l2_positive:
            assert g1.order == g0.order
    elif (act.name in ("softplus", "silu", "gelu") and one_layer and not spec.l2_positive
          and (not spec.has_bias(1) or spec.has_bias(2))):  # skip flips (docs/theory.md 7.2)
        assert g1.order == 2 ** spec.widths[0] * g0.order
    else:  # otherwise the skip does not interact with the hidden-unit symmetries
        assert g0.applicable == g1.applicable and g0.order == g1.order


# ------------------------------------------------------------------- residual skips
@given(architectures(max_width=3, max_depth=4, max_samples=2, skip="residual"))
def test_a_residual_chain_has_one_group_factor(spec):
    """|G| of a residual chain of L layers of width h equals |G| of a single such layer, except for even
    activations, whose flips stay per layer (2^{hL} h!; docs/theory.md §7.2, §9.6)."""
    act = get_activation(spec.activation)
    g = symmetry_group(spec)
    one_layer = dataclasses.replace(spec, widths=spec.widths[:1], skip="none",
                                    bias=spec.bias if isinstance(spec.bias, bool) else
                                    (spec.bias[0], all(spec.bias[1:])))
    g1 = symmetry_group(one_layer)
    if not g.applicable:
        return
    h, L = spec.widths[0], spec.depth
    if act.symmetry == "even":
        assert g.order == 2 ** (h * L) * math.factorial(h)
    elif not g1.applicable:  # polynomial:2: a single layer has a continuous family (docs/theory.md 7.3), the chain
        assert act.name == "polynomial:2" and g.order == math.factorial(h)  # keeps its permutations
    else:
        assert g.order == g1.order
    plain = symmetry_group(dataclasses.replace(spec, skip="none"))
    if plain.applicable:
        assert plain.order >= g.order  # the chain ties the layers: never more symmetry than the plain network
