"""Symmetry-group lower bound: |G| hand-computed per architecture (docs/theory.md §7.2)."""

from __future__ import annotations

import math

import pytest

from bettibounds import ArchitectureSpec, bounds, symmetry_group

A = ArchitectureSpec
f = math.factorial


@pytest.mark.parametrize(
    "kw, order",
    [
        # tanh: 2^h_l h_l! per layer: 2^2 2! * 2^3 3! = 8 * 48
        (dict(widths=(2, 3), activation="tanh"), 2**2 * f(2) * 2**3 * f(3)),
        # tanh flips keep ||theta||, so l2 keeps them
        (dict(widths=(2, 3), activation="tanh", l2=0.1), 2**2 * f(2) * 2**3 * f(3)),
        # logistic without l2, all biases present: same count as tanh
        (dict(widths=(2, 3), activation="logistic"), 2**2 * f(2) * 2**3 * f(3)),
        # logistic with l2 > 0: flips break the penalty, permutations only
        (dict(widths=(2, 3), activation="logistic", l2=0.5), f(2) * f(3)),
        # logistic, no biases anywhere: no flip can be compensated
        (dict(widths=(2, 3), activation="logistic", bias=False), f(2) * f(3)),
        # layer 1's flip needs a bias in Linear 2 (absent); layer 2's uses Linear 3
        (dict(widths=(2, 3), activation="logistic", bias=[True, False, True]), f(2) * 2**3 * f(3)),
        # layer 2's flip needs a bias in Linear 3 (absent)
        (dict(widths=(2, 3), activation="logistic", bias=[True, True, False]), 2**2 * f(2) * f(3)),
        # residual chain of equal widths ties the layers: one 2^h h!
        (dict(widths=(3, 3), activation="logistic", skip="residual"), 2**3 * f(3)),
        (dict(widths=(3, 3), activation="tanh", skip="residual"), 2**3 * f(3)),
        (dict(widths=(2, 2, 2), activation="tanh", skip="residual"), 2**2 * f(2)),
        # Gaussian (even): each layer flips independently even in a residual chain
        (dict(widths=(3, 3), activation="gaussian", skip="residual"), 2**6 * f(3)),
        (dict(widths=(2, 3), activation="gaussian"), 2**2 * f(2) * 2**3 * f(3)),
        # no sign symmetry: permutations only
        (dict(widths=(2, 3), activation="softplus"), f(2) * f(3)),
        (dict(widths=(2, 3), activation="silu"), f(2) * f(3)),
        # poly:2 keeps its permutations only where no continuous family is proved (docs/theory.md 7.3):
        # no biases, two outputs (with biases, or width >= 3 feeding one unit, a family exists: no bound)
        (dict(widths=(4,), activation="poly:2", bias=False, outputs=2), f(4)),
        (dict(widths=(4,), activation="poly:2", l2=0.1), f(4)),
        # softplus, SiLU, GELU with L = 1 and the input-output skip: skip flips, 2^h h! (lambda = 0)
        (dict(widths=(3,), activation="softplus", skip="input-output"), 2**3 * f(3)),
        (dict(widths=(3,), activation="gelu", skip="input-output"), 2**3 * f(3)),
        (dict(widths=(3,), activation="silu", skip="input-output", l2=0.1), f(3)),
        (dict(widths=(3, 3), activation="silu", skip="input-output"), f(3) * f(3)),
        # arctan is odd like tanh
        (dict(widths=(3,), activation="arctan"), 2**3 * f(3)),
        # an input-output skip does not interact with hidden-unit symmetries
        (dict(widths=(2, 3), activation="tanh", skip="input-output"), 2**2 * f(2) * 2**3 * f(3)),
    ],
)
def test_group_orders(kw, order):
    spec = A(inputs=2, samples=3, **kw)
    group = symmetry_group(spec)
    assert group.applicable
    assert group.order == order
    assert float(group.log2) == pytest.approx(math.log2(order), abs=1e-9)
    # the report's lower bound is |G|
    (low,) = bounds(spec).lower
    assert low.kind == "lower" and low.theorem == "Sym" and low.value == order
    assert low.rigorous


def test_tanh_2_3_is_384_not_192():
    """2^2 * 2! * 2^3 * 3! = 4 * 2 * 8 * 6 = 384 (a docstring once claimed 192)."""
    assert symmetry_group(A(inputs=2, widths=(2, 3), activation="tanh", samples=3)).order == 384


def test_logistic_l2_note_explains_why():
    g = symmetry_group(A(inputs=2, widths=(2, 3), activation="logistic", samples=3, l2=0.5))
    assert any("l2" in n or "||theta||" in n for n in g.notes)


def test_identity_is_not_applicable():
    spec = A(inputs=2, widths=(2, 3), activation="identity", samples=3)
    group = symmetry_group(spec)
    assert not group.applicable
    assert any("continuous" in n for n in group.notes)
    assert bounds(spec).lower == ()


def test_huge_group_has_log2_but_no_exact_order():
    spec = A(inputs=10, widths=(2000, 2000, 2000), activation="tanh", samples=5)
    group = symmetry_group(spec)
    assert group.order is None
    expected = 3 * (2000 + math.lgamma(2001) / math.log(2))
    assert float(group.log2) == pytest.approx(expected, rel=1e-12)
    (low,) = bounds(spec).lower
    assert low.value is None and float(low.log2) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "act, skip, l2, expected",
    [
        ("tanh", "none", 0, lambda h, L: 2 ** (h * L) * f(h) ** L),
        ("logistic", "none", 0, lambda h, L: 2 ** (h * L) * f(h) ** L),
        ("logistic", "none", 1, lambda h, L: f(h) ** L),
        ("tanh", "residual", 0, lambda h, L: 2**h * f(h)),
        ("gaussian", "residual", 0, lambda h, L: 2 ** (h * L) * f(h)),
        ("softplus", "none", 0, lambda h, L: f(h) ** L),
    ],
)
def test_symbolic_group(act, skip, l2, expected):
    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    group = symmetry_group(A.uniform(d, h, L, m, activation=act, skip=skip, l2=l2))
    for hv, Lv in [(1, 2), (2, 2), (3, 3), (2, 4)]:
        assert group.order.subs({h: hv, L: Lv}) == expected(hv, Lv)
