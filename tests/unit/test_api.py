"""bounds(spec) -> BoundReport: routes, hypotheses, serialisation, symbolic specs."""

from __future__ import annotations

import dataclasses
import json
import math
import time

import mpmath
import pytest

from bettibounds import ArchitectureSpec, BoundReport, InvalidSpecError, bounds, closed_form
from bettibounds.pfaffian.graph import mechanical

A = ArchitectureSpec


def entry(report, key):
    (found,) = [b for b in report.upper if b.theorem == key]
    return found


SMALL = A(inputs=1, widths=(1,), activation="sigmoid", loss="mse", samples=1)
LARGE = A(inputs=784, widths=(1000,) * 10, activation="tanh", loss="mse", samples=60000)


# ------------------------------------------------------------------ large
def test_large_architecture_is_fast_and_finite():
    start = time.perf_counter()
    report = bounds(LARGE)
    data = report.to_dict()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert report.n_params == 9_795_001
    assert report.format.as_tuple() == (60000 * 10000, 29, 4)
    for b in (*report.upper, *report.lower):
        assert b.value is None
        assert mpmath.isfinite(b.log2) and b.log2 > 0 and mpmath.isfinite(b.log10)
    for e in (*data["upper"], *data["lower"]):
        assert e["value"] is None
        assert math.isfinite(e["log2"]) and math.isfinite(e["log10"])
        assert e["log10"] == pytest.approx(e["log2"] * math.log10(2), rel=1e-12)


def test_large_K_log2_independently():
    """log2 K = r(r-1)/2 + log2 beta + (n-1) log2(alpha+beta-1) + r log2(bracket)."""
    n, r, alpha, beta = 9_795_001, 600_000_000, 29, 4
    bracket = min(n, r) * alpha + beta + (n - 1) * (alpha + beta - 2)
    with mpmath.workdps(50):
        expected = (mpmath.mpf(r) * (r - 1) / 2 + mpmath.log(beta, 2)
                    + (n - 1) * mpmath.log(alpha + beta - 1, 2) + r * mpmath.log(bracket, 2))
        got = entry(bounds(LARGE), "K").log2
        assert abs(got - expected) < mpmath.mpf(10) ** -15 * expected


# ------------------------------------------------------------------ small
def test_small_exact_values_in_to_dict():
    data = bounds(SMALL).to_dict()
    values = {e["theorem"]: e["value"] for e in data["upper"]}
    assert values == {"K": "4500", "GV": "2152008", "Z": "1889568"}  # K: floor(9000 / 2)
    assert all(isinstance(v, str) for v in values.values())


def test_json_round_trip_and_keys():
    report = bounds(A(inputs=2, widths=(2, 3), activation="tanh", samples=3, l2=0.1))
    data = json.loads(report.to_json())
    assert data == json.loads(json.dumps(report.to_dict()))
    assert data["n_params"] == (2 + 1) * 2 + (2 + 1) * 3 + (3 + 1) * 1
    assert data["format"] == {"order": 15, "alpha": 5, "beta": 4}
    assert data["upper"] and data["lower"]
    for e in (*data["upper"], *data["lower"]):
        for key in ("theorem", "status", "rigorous", "log2", "log10", "value", "hypotheses", "citation"):
            assert key in e
        assert isinstance(e["hypotheses"], list) and all(isinstance(h, str) for h in e["hypotheses"])
        assert isinstance(e["rigorous"], bool)
        for key in e["citation"].split("; "):
            assert key in data["references"]
    assert {e["theorem"] for e in data["upper"]} == {"K", "GV", "Z"}
    assert data["lower"][0]["value"] == str(384)


def test_zell_is_not_rigorous():
    report = bounds(SMALL)
    z = entry(report, "Z")
    assert z.rigorous is False and z.status == "constant-free"
    assert entry(report, "K").rigorous and entry(report, "GV").rigorous
    assert report.to_dict()["upper"][[e["theorem"] for e in report.to_dict()["upper"]].index("Z")]["rigorous"] is False
    # the best rigorous bound never is a constant-free core
    assert report.best_upper().theorem == "K"
    assert report.best_upper().rigorous


def test_zell_constant():
    base = entry(bounds(SMALL), "Z").value
    assert entry(bounds(SMALL, zell_constant=7), "Z").value == 7 * base
    assert entry(bounds(SMALL, zell_constant=7), "Z").rigorous is False
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidSpecError):
            bounds(SMALL, zell_constant=bad)


# -------------------------------------------------------------- hypotheses
def test_l2_positive_makes_the_route_compact():
    k = entry(bounds(A(inputs=2, widths=(2,), samples=3, l2=0.01)), "K")
    hyps = [str(h) for h in k.hypotheses]
    assert any(h.startswith("[holds]") and "compact" in h for h in hyps)
    assert not any("exceptional levels" in h for h in hyps)
    assert not k.conditional


def test_l2_zero_needs_generic_level():
    k = entry(bounds(A(inputs=2, widths=(2,), samples=3)), "K")
    hyps = [str(h) for h in k.hypotheses]
    assert any(h.startswith("[undecided]") and "exceptional levels" in h for h in hyps)
    assert not any(h.startswith("[holds]") and "compact" in h for h in hyps)
    assert k.conditional


def test_l2_zero_uses_beta_at_least_two():
    # two-logs BCE has beta = 1; without l2 the eps-regularised set has beta 2
    s = A(inputs=1, widths=(1,), activation="logistic", loss="bce", output_activation="sigmoid",
          samples=1, bce_chain="two-logs")
    report = bounds(s)
    assert report.format.beta == 1
    assert entry(report, "K").parameters["beta"] == 2


# --------------------------------------------------------------- slice_dim
def test_slice_dim():
    s = A(inputs=2, widths=(3, 3), activation="tanh", samples=3)
    full = bounds(s)
    for k in (1, 3, 10):
        sl = bounds(s, slice_dim=k)
        assert sl.n_variables == k and sl.n_params == full.n_params
        assert sl.format == full.format
        for key in ("K", "GV", "Z"):
            assert entry(sl, key).log2 < entry(full, key).log2
        assert entry(sl, "K").parameters["n"] == k
        assert entry(sl, "GV").parameters["n"] == k + 1
        assert sl.lower == ()
        # lambda = 0: the eps-route regularises with eps ||t||^2, no rank condition is needed
        assert not any("D has full column rank" in str(h) for h in entry(sl, "K").hypotheses)
        # lambda > 0: compactness of the slice needs D of full column rank -- except for k = 1, where the
        # eps-route holds at every level with no hypothesis (docs/theory.md 6.7)
        reg = bounds(dataclasses.replace(s, l2=0.5), slice_dim=k)
        if k == 1:
            assert not entry(reg, "K").conditional and not entry(sl, "K").conditional
        else:
            assert any(h.status == "undecided" and "D has full column rank" in h.text
                       for h in entry(reg, "K").hypotheses)
    assert bounds(s, slice_dim=full.n_params).n_variables == full.n_params


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, 10**6])
def test_slice_dim_rejects(bad):
    with pytest.raises(InvalidSpecError):
        bounds(A(inputs=2, widths=(2,), samples=3), slice_dim=bad)


def test_slice_dim_only_in_loss_space():
    with pytest.raises(InvalidSpecError):
        bounds(A(inputs=2, widths=(2,)), space="input", slice_dim=1)


# -------------------------------------------------------------- input space
@pytest.mark.parametrize("widths", [(2,), (2, 3), (1, 2, 2)])
def test_input_space_logistic(widths):
    s = A(inputs=3, widths=widths, activation="logistic", samples=5)
    report = bounds(s, space="input")
    assert report.space == "input" and report.n_variables == 3
    assert report.format.as_tuple() == (sum(widths), 2 * len(widths), 1)
    bs = entry(report, "BS-sigmoid")
    assert bs.rigorous is False
    h, l, n = sum(widths), len(widths), 3
    assert bs.value == 2 ** (h * (h - 1) // 2) * (n * l + n) ** (n + h)
    assert report.lower == ()


def test_input_space_arctan_and_polynomial():
    assert entry(bounds(A(inputs=1, widths=(1,), activation="arctan"), space="input"), "BS-arctan").value == 16
    # poly:2, one layer: u of degree 2 in x (d = 1): Milnor for {u >= 0}: (1/2)(2+2)(3)^0 = 2
    report = bounds(A(inputs=1, widths=(1,), activation="poly:2"), space="input")
    assert report.format.as_tuple() == (0, 0, 2)
    assert entry(report, "Mi+").value == 2


def test_input_space_rejects():
    with pytest.raises(InvalidSpecError):
        bounds(A(inputs=2, widths=(2,), outputs=2), space="input")
    with pytest.raises(InvalidSpecError):
        bounds(A(inputs=2, widths=(2,)), space="weights")


def test_polynomial_loss_gets_milnor():
    # identity network d = h = m = 1: u = v(w x + b) + c has degree 2, loss degree 4,
    # P = 4: (1/2)(2 + 4)(1 + 4)^3 = 375
    report = bounds(A(inputs=1, widths=(1,), activation="identity", samples=1))
    assert report.format.as_tuple() == (0, 0, 4)
    assert entry(report, "Mi+").value == 375


# ------------------------------------------------------------ symbolic spec
@pytest.fixture(scope="module")
def symbols():
    import sympy

    return sympy.symbols("d h L m", positive=True, integer=True)


@pytest.fixture(scope="module")
def symbolic_report(symbols):
    d, h, L, m = symbols
    return bounds(A.uniform(d, h, L, m, activation="tanh", loss="mse"))


def test_symbolic_format(symbols, symbolic_report):
    import sympy

    d, h, L, m = symbols
    r, alpha, beta = symbolic_report.derivation.triple
    assert sympy.simplify(r - L * h * m) == 0
    assert sympy.simplify(alpha - (3 * L - 1)) == 0
    assert beta == 4
    assert symbolic_report.format is None
    data = json.loads(symbolic_report.to_json())
    assert sympy.simplify(sympy.sympify(data["format"]["order"], locals={"L": L, "h": h, "m": m}) - L * h * m) == 0


@pytest.mark.parametrize("vals", [(1, 1, 1, 1), (2, 1, 2, 1), (1, 2, 1, 2), (2, 2, 2, 1)])
def test_symbolic_K_matches_concrete(symbols, symbolic_report, vals):
    import sympy

    expr = entry(symbolic_report, "K").symbolic_value
    assert expr is not None and expr.free_symbols
    concrete = entry(bounds(A.uniform(*vals, activation="tanh", loss="mse")), "K").value
    assert concrete is not None
    assert sympy.Integer(expr.subs(dict(zip(symbols, vals)))) == concrete


def test_symbolic_worked_row(symbols, symbolic_report):
    import sympy

    expr = entry(symbolic_report, "K").symbolic_value
    assert sympy.Integer(expr.subs(dict(zip(symbols, (1, 1, 1, 1))))) == 4500  # K / 2, K = 9000


def test_symbolic_input_space_rejected(symbols):
    with pytest.raises(InvalidSpecError):
        bounds(A.uniform(*symbols, activation="tanh"), space="input")


# ------------------------------------------------------------------- check
@pytest.mark.parametrize("space", ["loss", "input"])
def test_check_records_agreement(space):
    s = A(inputs=2, widths=(2, 2), activation="tanh", samples=3)
    report = bounds(s, check=True, space=space)
    notes = [n for n in report.notes if "mechanical" in n]
    assert len(notes) == 1 and "= closed form" in notes[0]
    engine = mechanical(s, space=space)
    assert str(engine.format) in notes[0]
    assert not any("mechanical" in n for n in bounds(s, space=space).notes)


def test_check_on_symbolic_is_skipped(symbols):
    report = bounds(A.uniform(*symbols, activation="tanh"), check=True)
    assert any("skipped" in n for n in report.notes)


# --------------------------------------------------------------- misc
def test_bounds_rejects_non_spec():
    with pytest.raises(InvalidSpecError):
        bounds({"inputs": 2, "widths": [2]})


def test_report_shape():
    report = bounds(A(inputs=2, widths=(2,), samples=3))
    assert isinstance(report, BoundReport)
    assert report.format == closed_form(A(inputs=2, widths=(2,), samples=3)).format
    assert all(b.kind == "upper" for b in report.upper) and all(b.kind == "lower" for b in report.lower)
    text = report.to_text()
    assert "K" in text and "GV" in text and "(6, 2, 4)" in text
    latex = report.to_latex()
    assert r"\alpha" in latex and "begin{gather*}" in latex


def test_GV_uses_n_plus_one():
    report = bounds(A(inputs=2, widths=(2,), samples=3))
    assert entry(report, "GV").parameters["n"] == report.n_variables + 1 == 10
    assert entry(report, "K").parameters["n"] == 9


def test_slice_full_rank_decides_the_compactness_hypothesis():
    spec = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=4, l2=0.1)

    def statuses(**kw):
        rep = bounds(spec, slice_dim=2, **kw)
        return {u.theorem: [h.status for h in u.hypotheses if "compact" in h.text] for u in rep.upper}

    assert statuses() == {"K": ["undecided"], "GV": ["undecided", "undecided"], "Z": ["undecided"]}
    assert statuses(slice_full_rank=True) == {"K": ["holds"], "GV": ["holds", "holds"], "Z": ["holds"]}
    # the numbers do not depend on it
    assert [u.log10 for u in bounds(spec, slice_dim=2).upper] == \
        [u.log10 for u in bounds(spec, slice_dim=2, slice_full_rank=True).upper]
    with pytest.raises(InvalidSpecError, match="slice_dim"):
        bounds(spec, slice_full_rank=True)
    with pytest.raises(InvalidSpecError, match="True or False"):
        bounds(spec, slice_dim=2, slice_full_rank="yes")


# ------------------------------------------------------------------ printed numbers on the safe side
def _exact(x):
    from fractions import Fraction

    sign, man, exp, _ = mpmath.mpf(x)._mpf_
    return (-1) ** sign * Fraction(man) * Fraction(2) ** exp


@pytest.mark.parametrize("spec", [
    A(inputs=10, widths=(999, 999, 999), activation="tanh", samples=10000),  # log10 K ~ 1.35e14
    A(inputs=2, widths=(8, 8, 8), activation="sigmoid", samples=100),
    SMALL,                                                                     # K = 9000 exactly
], ids=["huge", "medium", "small"])
def test_printed_log10_of_every_bound_is_on_its_safe_side(spec):
    """The log10 column of the text, the LaTeX and the JSON floats round an upper bound's log10 up and a
    lower bound's down; 8 significant digits of 1.35e14 moved the bound by a factor 10^625674, and JSON
    floats of log10 ~ 1e29 by 10^(1e13)."""
    from decimal import Decimal
    from fractions import Fraction

    report = bounds(spec)
    text = report.to_text()
    data = report.to_dict()
    for b, e in [(b, e) for b, e in zip(report.upper, data["upper"])] + list(zip(report.lower, data["lower"])):
        truth = _exact(b.log10)
        (row,) = [ln for ln in text.splitlines() if ln.startswith(f"{b.kind:5} {b.theorem} ")]
        shown = Fraction(Decimal(row.split()[4]))
        latex = Fraction(Decimal(b.latex().splitlines()[-1].split()[-1]))
        if b.kind == "upper":
            assert shown >= truth and latex >= truth and Fraction(e["log10"]) >= truth
            assert Fraction(Decimal(e["log10_text"])) >= truth
        else:
            assert shown <= truth and latex <= truth and Fraction(e["log10"]) <= truth
        assert abs(shown - truth) < Fraction(1, 10**2)  # and still close: at least 3 decimals when it is large


@pytest.mark.parametrize("l2", [0, 0.5])
def test_symbolic_exp_spec_gets_its_bounds(symbols, l2):
    # range(1, depth + 1) with a symbolic depth once raised TypeError here (bettibounds bound --symbolic -a exp)
    d, h, L, m = symbols
    report = bounds(A.uniform(d, h, L, m, activation="exp", loss="mse", l2=l2))
    assert {b.theorem for b in report.upper} >= {"K", "GV"}
    if l2 == 0:  # hidden biases and no penalty: a continuous symmetry, no finite-group lower bound
        assert report.lower == ()


def test_a_lower_bound_above_a_rigorous_upper_bound_is_flagged():
    # both theorems are right; together they say the lower bound's undecided hypotheses fail for this network
    report = bounds(A(inputs=1, widths=(1000,), activation="poly:3", samples=1, l2=0.1))
    (sym,) = report.lower
    assert any(sym.log10 > b.log10 for b in report.upper if b.rigorous)
    assert any("exceeds the rigorous upper bound" in n and "cannot all hold" in n for n in report.notes)
    assert not any("exceeds" in n for n in bounds(SMALL).notes)
