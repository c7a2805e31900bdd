"""Sweep-level monotonicity of ``bounds(spec)`` (issue 5): one more hidden unit, one more hidden layer
or one more sample never lowers any upper bound of the report, for every activation, loss, skip and
bias pattern of the public strategy, in the loss space and the input space.

tests/property/test_laws.py checks that each theorem is monotone in its *format* (n, r, alpha, beta) on
the natural domain; these tests check the composition "architecture -> format -> theorem" that the
growth claims of Bucarelli et al. 2024 rest on: P, r, alpha and beta never decrease along the sweeps
(docs/theory.md §4, §8), so neither does any bound. Where the chain grows (r > 0) the growth is strict.
"""

from __future__ import annotations

import dataclasses

import mpmath
from hypothesis import example, given
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec, bounds, symmetry_group
from bettibounds.strategies import architectures

A = ArchitectureSpec
TOL = mpmath.mpf(10) ** -20  # log2 values carry 40 digits; equal formats give equal numbers


def wider(spec):
    """One more unit in the last hidden layer (in every layer of a residual chain, which needs equal widths)."""
    if "residual" in spec.skips:
        return dataclasses.replace(spec, widths=tuple(w + 1 for w in spec.widths))
    return dataclasses.replace(spec, widths=(*spec.widths[:-1], spec.widths[-1] + 1))


def deeper(spec):
    """The last hidden layer repeated once; the new hidden Linear layer gets the last hidden one's bias flag.

    (Appending a *narrower* layer can lower P without biases -- e.g. widths (3,) -> (3, 1) with 2 outputs:
    6 -> 5 weights -- so depth is swept the way a uniform network deepens.)
    """
    bias = spec.bias if isinstance(spec.bias, bool) else (*spec.bias[:-1], spec.bias[-2], spec.bias[-1])
    return dataclasses.replace(spec, widths=(*spec.widths, spec.widths[-1]), bias=bias)


def more_samples(spec):
    return dataclasses.replace(spec, samples=spec.samples + 1)


GROW = {"width": wider, "depth": deeper, "samples": more_samples}


def uppers(report):
    return {b.theorem: b.log2 for b in report.upper}


def assert_not_lower(before, after, strict):
    a, b = uppers(before), uppers(after)
    assert set(a) == set(b), (set(a), set(b))  # the same theorems apply along the sweep
    with mpmath.workdps(60):  # the values carry more bits than the default context: compare exactly
        for key in a:
            assert b[key] - a[key] >= -TOL, (key, float(a[key]), float(b[key]))
            if strict:
                assert b[key] - a[key] > TOL, (key, float(a[key]), float(b[key]))


@given(architectures(max_width=3, max_depth=3, max_samples=3), st.sampled_from(sorted(GROW)))
@example(A(inputs=1, widths=(3,), activation="polynomial:2", samples=2, outputs=2, bias=False), "depth")
@example(A(inputs=2, widths=(2, 2), activation="gelu", skip="residual+input-output", samples=1), "width")
@example(A(inputs=1, widths=(1,), activation="identity", samples=1), "samples")
def test_loss_space_bounds_never_drop(spec, vary):
    before, after = bounds(spec), bounds(GROW[vary](spec))
    assert after.n_variables >= before.n_variables
    fb, fa = before.format, after.format
    assert fa.order >= fb.order and fa.alpha >= fb.alpha and fa.beta >= fb.beta
    # strict growth whenever the chain grows (every sweep adds chain elements when r > 0)
    assert_not_lower(before, after, strict=fb.order > 0)


@given(architectures(max_width=3, max_depth=3, max_samples=1, max_outputs=1), st.sampled_from(["width", "depth"]))
def test_input_space_bounds_never_drop(spec, vary):
    before, after = bounds(spec, space="input"), bounds(GROW[vary](spec), space="input")
    assert_not_lower(before, after, strict=before.format.order > 0)


@given(architectures(max_width=3, max_depth=3, max_samples=3), st.integers(1, 3))
def test_slice_bounds_grow_with_the_slice_dimension(spec, k):
    """A k-dimensional slice is bounded with n = k: a larger slice never gets a smaller bound, and the whole
    space (n = P) is the largest."""
    k = min(k, spec.n_params - 1)
    small, big, full = bounds(spec, slice_dim=k), bounds(spec, slice_dim=k + 1), bounds(spec)
    assert_not_lower(small, big, strict=False)
    assert_not_lower(big, full, strict=False)


@given(architectures(max_width=3, max_depth=3, max_samples=3), st.sampled_from(["width", "samples"]))
def test_symmetry_lower_bound_never_drops_with_width_or_samples(spec, vary):
    """|G| = prod 2^f h! does not depend on m and does not decrease when a layer gets wider."""
    g0, g1 = symmetry_group(spec), symmetry_group(GROW[vary](spec))
    assert g0.applicable == g1.applicable
    if not g0.applicable:
        return
    if vary == "samples":
        assert g1.order == g0.order
    else:
        assert g1.order >= g0.order * 2  # h! -> (h + 1)! at least doubles
