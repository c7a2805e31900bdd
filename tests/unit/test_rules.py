"""Pure format algebra and mechanical degree tracking (bettibounds.pfaffian.rules).

Every expected value below is worked by hand from docs/theory.md §2.2-§2.3 (the format algebra
and the (deg, dd) rules), with the computation in a comment.
"""

from __future__ import annotations

import math

import pytest

from bettibounds.pfaffian import rules
from bettibounds.pfaffian.rules import (
    NEG_INF,
    add_other_chain,
    add_same_chain,
    compose,
    derivative,
    mul_other_chain,
    mul_same_chain,
    ode_degree,
    poly_degree,
    poly_track,
    track_add,
    track_const,
    track_mul,
    track_pow,
    track_var,
)

LOGISTIC_ODE = {(0, (1,)): 1, (0, (2,)): -1}  # s' = s - s^2
TANH_ODE = {(0, (0,)): 1, (0, (2,)): -1}  # t' = 1 - t^2
GAUSS_ODE = {(1, (1,)): -2}  # g' = -2 t g


# ------------------------------------------------------------------ format algebra
def test_same_chain_sum_and_product():
    assert add_same_chain((2, 3, 4), (2, 3, 1)) == (2, 3, 4)  # max beta
    assert mul_same_chain((2, 3, 4), (2, 3, 1)) == (2, 3, 5)  # beta_f + beta_g


@pytest.mark.parametrize("op", [add_same_chain, mul_same_chain])
def test_same_chain_rejects_different_chains(op):
    with pytest.raises(ValueError, match="same chain"):
        op((1, 2, 1), (2, 2, 1))
    with pytest.raises(ValueError, match="same chain"):
        op((1, 2, 1), (1, 3, 1))


def test_other_chain_concatenates():
    # orders add, alpha = max
    assert add_other_chain((1, 2, 4), (2, 3, 1)) == (3, 3, 4)
    assert mul_other_chain((1, 2, 4), (2, 3, 1)) == (3, 3, 5)


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ((1, 2, 4), (1, 2, 5)),  # beta + alpha - 1 = 4 + 2 - 1
        ((3, 5, 2), (3, 5, 6)),  # 2 + 5 - 1
        ((1, 1, 1), (1, 1, 1)),  # (e^x)' = e^x: 1 + 1 - 1
        ((0, 0, 3), (0, 0, 2)),  # polynomial of degree 3 -> degree 2
        ((0, 0, 0), (0, 0, 0)),  # constant -> 0, never negative
        ((2, 0, 0), (2, 0, 0)),  # max(0 + 0 - 1, 0)
    ],
)
def test_derivative(fmt, expected):
    assert derivative(fmt) == expected


@pytest.mark.parametrize(
    "u, phi, expected",
    [
        # tanh(a x + b): u linear (0,0,1); alpha = 2*1 + 0 = 2; beta = 1*1
        ((0, 0, 1), (1, 2, 1), (1, 2, 1)),
        # tanh(tanh(x)): t2' = (1 - t2^2)(1 - t1^2): alpha = max(2, 2*1 + (1+2-1)) = 4
        ((1, 2, 1), (1, 2, 1), (2, 4, 1)),
        # tanh(quadratic): coarse rule alpha = 2*2 + (2 - 1) = 5, beta = 1*2 = 2
        ((0, 0, 2), (1, 2, 1), (1, 5, 2)),
        # polynomial of degree 3 of a format-(1,2,1) function: no new chain, beta = 3*1
        ((1, 2, 1), (0, 0, 3), (1, 2, 3)),
        # exp(e^x): alpha = max(1, 1*1 + (1+1-1)) = 2
        ((1, 1, 1), (1, 1, 1), (2, 2, 1)),
    ],
)
def test_compose(u, phi, expected):
    assert compose(u, phi) == expected


# ------------------------------------------------------------ mechanical tracking
def test_leaves():
    assert track_const() == (0, NEG_INF)
    assert track_var() == (1, 0)
    assert NEG_INF == -math.inf


def test_track_add():
    assert track_add(track_var(), track_const()) == (1, 0)  # theta + c
    assert track_add((2, 3), (4, 1), (1, 0)) == (4, 3)
    assert track_add(track_const(), track_const()) == (0, NEG_INF)


@pytest.mark.parametrize(
    "q1, q2, expected",
    [
        ((1, 0), (1, 0), (2, 1)),  # theta_1 theta_2: derivative theta_2 has degree 1
        ((0, NEG_INF), (1, 0), (1, 0)),  # c * theta: derivative c
        ((1, 0), (1, 2), (2, 3)),  # v * s with s = sigma(z): dd = max(0+1, 1+2)
        ((2, 1), (3, 0), (5, 4)),  # max(1 + 3, 2 + 0)
        ((0, NEG_INF), (0, NEG_INF), (0, NEG_INF)),
    ],
)
def test_track_mul(q1, q2, expected):
    assert track_mul(q1, q2) == expected
    assert track_mul(q2, q1) == expected


@pytest.mark.parametrize(
    "q, k, expected",
    [
        ((1, 0), 1, (1, 0)),
        ((1, 0), 2, (2, 1)),  # theta^2 -> 2 theta
        ((2, 3), 2, (4, 5)),  # (u - y)^2 with u of (deg 2, dd 3): docs/theory.md §4.3, MSE identity
        ((2, 1), 3, (6, 5)),  # 3 * 2, 2 * 2 + 1
        ((0, NEG_INF), 4, (0, NEG_INF)),
    ],
)
def test_track_pow(q, k, expected):
    assert track_pow(q, k) == expected


@pytest.mark.parametrize("k", [0, -1])
def test_track_pow_rejects_small_exponents(k):
    with pytest.raises(ValueError):
        track_pow((1, 0), k)


def test_track_pow_equals_repeated_product():
    q = (3, 2)
    acc = q
    for k in range(2, 6):
        acc = track_mul(acc, q)
        assert track_pow(q, k) == acc


def test_poly_degree():
    # t^2 y: with deg t = 3 and deg y = 1 -> 7
    assert poly_degree({(2, (1,)): 1}, 3, [1]) == 7
    # zero coefficients do not count
    assert poly_degree({(5, (0,)): 0, (1, (0,)): 1}, 3, [1]) == 3
    assert poly_degree({}, 3, []) == NEG_INF


def test_ode_degree():
    assert ode_degree(LOGISTIC_ODE, 1) == 2  # s - s^2
    assert ode_degree(TANH_ODE, 7) == 2  # 1 - t^2 has no t: independent of deg u
    assert ode_degree(GAUSS_ODE, 1) == 2  # t g with deg t = 1
    assert ode_degree(GAUSS_ODE, 3) == 4  # t g with deg t = 3


def test_poly_track():
    s = (1, 5)
    assert poly_track(LOGISTIC_ODE, (1, 0), [s]) == (2, 6)  # s^2: (2, 1 + 5)
    assert poly_track({(0, (0,)): 0}, (1, 0), [s]) == track_const()
    # t * y with t = (2, 1), y = (1, 4): (3, max(1 + 1, 2 + 4))
    assert poly_track({(1, (1,)): 1}, (2, 1), [(1, 4)]) == (3, 6)


def test_theory_shallow_logistic_mse_row_by_hand():
    """docs/theory.md §4.3, MSE-lin, L = 1: (r, alpha, beta) per sample = (h, 2, 4)."""
    z = track_add(track_mul(track_var(), track_const()), track_var())  # w x + b
    assert z == (1, 0)
    dd_s = ode_degree(LOGISTIC_ODE, z[0]) + z[1]
    assert dd_s == 2
    u = track_add(track_mul(track_var(), (1, dd_s)), track_var())  # v s + c
    assert u == (2, 3)
    loss = track_pow(track_add(u, track_const()), 2)  # (u - y)^2
    assert loss[0] == 4
    # second layer: z2 = W2 s + b2 has (2, 3): D_2 = alpha_sigma + 1 + D_1 = 5 = 3L - 1
    z2 = track_add(track_mul(track_var(), (1, dd_s)), track_var())
    assert ode_degree(LOGISTIC_ODE, z2[0]) + z2[1] == 5


def test_public_names():
    for name in rules.__all__:
        assert hasattr(rules, name)
