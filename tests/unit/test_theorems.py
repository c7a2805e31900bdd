"""Theorem registry: statements, statuses, reductions (docs/theory.md §5) and validation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bettibounds import HypothesisError, InvalidSpecError, UnknownNameError
from bettibounds.references import REFERENCES
from bettibounds.theorems import STATUSES, THEOREMS, Hypothesis, get_theorem

Kh, K, GV, Z, Mi, MiSup = (get_theorem(k) for k in ("Kh", "K", "GV", "Z", "Mi", "Mi+"))


# ------------------------------------------------------------------ registry
def test_registry_keys():
    assert {"K", "GV", "Z", "Kh", "Mi", "Mi+", "BS-sigmoid", "BS-arctan", "Sym", "Sym-cert"} <= set(THEOREMS)
    assert {k for k, t in THEOREMS.items() if t.kind == "lower"} == {"Sym", "Sym-cert"}


def test_cli_lists_the_lower_bound_theorems(capsys):
    import json

    from bettibounds.cli import main

    assert main(["theorems", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)["theorems"]}
    for key in ("Sym", "Sym-cert"):
        assert rows[key]["kind"] == "lower" and rows[key]["status"] == "derived" and rows[key]["citation"]


@pytest.mark.parametrize("key", sorted(THEOREMS))
def test_entries_are_complete(key):
    th = THEOREMS[key]
    assert th.key == key and th.status in STATUSES
    assert th.statement and th.latex and th.name
    assert th.citation and all(c in REFERENCES for c in th.citation)
    assert th.parameters


def test_statuses_follow_theory():
    assert Kh.status == "published" and Mi.status == "published"
    assert GV.status == "quoted"
    assert K.status == "derived"
    assert Z.status == "constant-free" and not Z.rigorous
    assert not THEOREMS["BS-sigmoid"].rigorous and not THEOREMS["BS-arctan"].rigorous
    assert K.rigorous and GV.rigorous and Kh.rigorous
    assert Kh.bounds == "zeros" and K.bounds == "betti"


def test_unknown_theorem():
    with pytest.raises(UnknownNameError) as info:
        get_theorem("Q")
    assert "GV" in str(info.value) and "K" in str(info.value)
    with pytest.raises(UnknownNameError):
        get_theorem(None)


# -------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "params",
    [
        dict(n=3, r=1, alpha=2),  # missing beta
        dict(n=3, r=1, alpha=2, beta=4, s=1),  # unexpected
        dict(n=3, r=-1, alpha=2, beta=4),
        dict(n=3, r=1, alpha=2.0, beta=4),
        dict(n=3, r=True, alpha=2, beta=4),
        dict(n=-1, r=1, alpha=2, beta=4),
    ],
)
def test_parameter_validation(params):
    with pytest.raises(InvalidSpecError):
        K.evaluate(**params)


def test_zero_variables():
    with pytest.raises(HypothesisError):
        K.evaluate(n=0, r=1, alpha=2, beta=4)
    with pytest.raises(HypothesisError):
        GV.evaluate(n=0, r=1, alpha=2, beta=4)


def test_khovanskii_needs_n_equations():
    # Khovanskii's bound is about n equations in n unknowns; 1 equation in 3 unknowns
    # is not covered (its zero set is a surface), yet a number (2) is returned.
    with pytest.raises(ValueError):
        Kh.evaluate(n=3, r=1, alpha=1, betas=((2, 1),))


def test_khovanskii_negative_degree_is_invalid_spec():
    with pytest.raises(InvalidSpecError):
        Kh.evaluate(n=1, r=1, alpha=1, betas=((-2, 1),))


def test_hypothesis_value():
    h = Hypothesis("S_c is compact", "holds", "lambda > 0")
    assert str(h) == "[holds] S_c is compact (lambda > 0)"
    assert str(Hypothesis("x")) == "[undecided] x"
    with pytest.raises(ValueError):
        Hypothesis("x", "maybe")


# -------------------------------------------------------------- reductions
def test_khovanskii_sharp_case():
    # n = r = alpha = beta = 1: 2^0 * 1 * [1 + 1 - 1 + 1]^1 = 2 (e^x - a x - b)
    assert Kh.evaluate(n=1, r=1, alpha=1, betas=((1, 1),)).exact == 2


@given(
    betas=st.lists(st.integers(1, 6), min_size=1, max_size=6),
    alpha=st.integers(0, 5),
)
def test_khovanskii_r0_is_bezout(betas, alpha):
    n = len(betas)
    grouped = tuple((b, betas.count(b)) for b in sorted(set(betas)))
    assert Kh.evaluate(n=n, r=0, alpha=alpha, betas=grouped).exact == math.prod(betas)


@given(n=st.integers(1, 40), beta=st.integers(1, 12))
def test_K_r0_alpha0(n, beta):
    # K = beta (beta - 1)^(n-1) boundary critical points (Bezout); the bound is floor(K / 2) (docs/theory.md 6.1)
    assert K.evaluate(n=n, r=0, alpha=0, beta=beta).exact == beta * (beta - 1) ** (n - 1) // 2


def test_K_r0_alpha0_hand():
    assert K.evaluate(n=3, r=0, alpha=0, beta=4).exact == 4 * 3**2 // 2 == 18
    # n = 1, beta = 4: {f <= c} for a quartic is at most 2 intervals = floor(4 / 2)
    assert K.evaluate(n=1, r=0, alpha=0, beta=4).exact == 2
    # an affine function (beta = 1): a compact sublevel set can only be empty (docs/theory.md 8)
    assert K.evaluate(n=1, r=0, alpha=0, beta=1).exact == 0
    assert K.evaluate(n=2, r=0, alpha=0, beta=1).exact == 0


@given(n=st.integers(1, 40), d=st.integers(1, 12))
def test_GV_r0_alpha0_is_milnor(n, d):
    expected = d * (2 * d - 1) ** (n - 1)
    assert GV.evaluate(n=n, r=0, alpha=0, beta=d).exact == expected
    assert Mi.evaluate(n=n, d=d).exact == expected


@given(n=st.integers(1, 30), r=st.integers(0, 8), alpha=st.integers(1, 6), beta=st.integers(1, 6))
def test_K_is_khovanskii_on_the_critical_point_system(n, r, alpha, beta):
    """docs/theory.md 6.1: K is Khovanskii's count for one equation of degree beta and n-1 of degree
    alpha+beta-1, and the theorem's bound is half of it, rounded down (Step 3: ell and -ell)."""
    betas = ((beta, 1), (alpha + beta - 1, n - 1))
    assert K.evaluate(n=n, r=r, alpha=alpha, beta=beta).exact == Kh.evaluate(
        n=n, r=r, alpha=alpha, betas=betas
    ).exact // 2


def test_milnor_sup_hand():
    # (1/2)(2+d)(1+d)^(n-1): d=4, n=4 -> 3 * 125 = 375; d=1, n=1 -> floor(3/2) = 1
    assert MiSup.evaluate(n=4, d=4).exact == 375
    assert MiSup.evaluate(n=1, d=1).exact == 1
    assert float(MiSup.evaluate(n=1, d=1).log2) == pytest.approx(math.log2(1.5))


def test_hand_values():
    # K = 4 * 5^3 * [2 + 4 + 3*4] = 9000 (docs/theory.md §4.5, row 1: the count); the bound is floor(9000 / 2) = 4500
    assert K.evaluate(n=4, r=1, alpha=2, beta=4).exact == 4500
    assert K.rhs(n=4, r=1, alpha=2, beta=4).coef == Fraction(1, 2)
    # Z: 18^5 with s = 1, C = 1; s = 2 multiplies by 2^n, C by C
    assert Z.evaluate(n=4, r=1, alpha=2, beta=4, s=1, C=1).exact == 18**5
    assert Z.evaluate(n=4, r=1, alpha=2, beta=4, s=2, C=3).exact == 3 * 2**4 * 18**5
    # GV: 4 * 9^4 * (9*10 - 10 + 2) = 2,152,008
    assert GV.evaluate(n=5, r=1, alpha=2, beta=4).exact == 2_152_008
    # BS-sigmoid: 2^(h(h-1)/2) (n l + n)^(n+h), n=2, h=2, l=1: 2 * 4^4
    assert get_theorem("BS-sigmoid").evaluate(n=2, h=2, l=1).exact == 512
    # BS-arctan: 2^(h(2h-1)) (n l + n)^(n+2h), n=1, h=1, l=1: 2 * 2^3
    assert get_theorem("BS-arctan").evaluate(n=1, h=1, l=1).exact == 16


def test_symbolic_expression():
    import sympy

    n, r, a, b = sympy.symbols("n r alpha beta", positive=True, integer=True)
    expr = K.expression(n=n, r=r, alpha=a, beta=b)
    val = expr.subs({n: 4, r: 1, a: 2, b: 4})
    assert sympy.simplify(val - 4500) == 0  # K / 2 (K = 9000 even: no rounding)
    expr = GV.expression(n=n, r=r, alpha=a, beta=b)
    assert sympy.simplify(expr.subs({n: 5, r: 1, a: 2, b: 4}) - 2_152_008) == 0


def test_rhs_product_coefficient():
    prod = MiSup.rhs(n=2, d=3)
    assert prod.coef == Fraction(1, 2)
    assert prod.evaluate().exact == 10  # (1/2) * 5 * 4
