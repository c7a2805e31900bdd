"""ArchitectureSpec: validation (specific error subclasses) and hand-computed P."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bettibounds import ArchitectureSpec, InvalidSpecError, NotPfaffianError, UnknownNameError
from bettibounds.errors import BettiBoundsError

A = ArchitectureSpec


def base(**kw):
    args = dict(inputs=2, widths=(3, 3), activation="tanh", loss="mse", samples=4)
    args.update(kw)
    return A(**args)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kw",
    [
        dict(widths=(0,)), dict(widths=(3, -1)), dict(widths=(2.0,)), dict(widths=(1.5, 2)),
        dict(widths=(True,)), dict(widths=(2, False)), dict(widths=()), dict(widths="33"),
        dict(widths=None), dict(widths=True),
        dict(samples=0), dict(samples=-3), dict(samples=2.0), dict(samples=True), dict(samples="4"),
        dict(inputs=0), dict(inputs=-1), dict(inputs=1.5), dict(inputs=False),
        dict(outputs=0), dict(outputs=True),
    ],
    ids=lambda kw: repr(kw),
)
def test_bad_sizes(kw):
    with pytest.raises(InvalidSpecError) as info:
        base(**kw)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, BettiBoundsError)


def test_size_messages_name_the_field():
    with pytest.raises(InvalidSpecError, match=r"widths\[1\]"):
        base(widths=(3, 0))
    with pytest.raises(InvalidSpecError, match="samples"):
        base(samples=0)


def test_bce_needs_sigmoid_output():
    for out in ("identity", "tanh"):
        with pytest.raises(InvalidSpecError, match="sigmoid"):
            base(loss="bce", output_activation=out)
    assert base(loss="bce", output_activation="sigmoid").loss == "bce"


def test_residual_needs_equal_widths():
    with pytest.raises(InvalidSpecError, match="equal"):
        base(widths=(3, 2), skip="residual")


def test_residual_needs_two_layers():
    with pytest.raises(InvalidSpecError, match="two hidden layers"):
        base(widths=(3,), skip="residual")


@pytest.mark.parametrize("bias", [[True, True], [True] * 4, [True, 1, True], (1, 1, 1), "yes", 1])
def test_bias_list_wrong(bias):
    with pytest.raises(InvalidSpecError):
        base(bias=bias)


def test_distinct_inputs():
    assert base(distinct_inputs=2).effective_samples == 2
    assert base().effective_samples == 4
    with pytest.raises(InvalidSpecError, match="cannot exceed"):
        base(distinct_inputs=5)
    for bad in (0, -1, 1.0, True):
        with pytest.raises(InvalidSpecError):
            base(distinct_inputs=bad)


@pytest.mark.parametrize("l2", [-0.1, -1, float("nan"), float("inf"), float("-inf"), True, "0.1", None])
def test_bad_l2(l2):
    with pytest.raises(InvalidSpecError):
        base(l2=l2)


@pytest.mark.parametrize("l2, positive", [(0, False), (0.0, False), (Fraction(1, 3), True), (1e-9, True), (2, True)])
def test_l2_positive(l2, positive):
    assert base(l2=l2).l2_positive is positive


def _numeric_l2(kind: str, value: str):
    import numpy as np
    import sympy

    return {"numpy-float64": np.float64, "numpy-float32": np.float32, "numpy-int64": np.int64,
            "sympy-Integer": sympy.Integer, "sympy-Rational": sympy.Rational, "sympy-Float": sympy.Float}[kind](value)


@pytest.mark.parametrize("kind", ["numpy-float64", "numpy-float32", "numpy-int64", "sympy-Integer",
                                  "sympy-Rational", "sympy-Float"])
@pytest.mark.parametrize("value, positive", [("0", False), ("2", True)])
def test_l2_positive_is_a_bool_for_numpy_and_sympy_numbers(kind, value, positive):
    """Fixed: numpy and sympy numbers compare to numpy.bool_ / sympy.false, which the callers' ``is False``
    and ``is True`` tests missed: l2=numpy.float64(0) dropped the logistic sign flips (|G| = 2 instead of 8)."""
    from bettibounds import symmetry_group

    lam = _numeric_l2(kind, value)
    spec = A(inputs=2, widths=(2,), activation="sigmoid", samples=3, l2=lam)
    assert spec.l2_positive is positive
    plain = A(inputs=2, widths=(2,), activation="sigmoid", samples=3, l2=int(value))
    assert symmetry_group(spec).order == symmetry_group(plain).order == (2 if positive else 8)


@pytest.mark.parametrize(
    "kw, kind",
    [
        (dict(loss="cross_entropy"), "loss"),
        (dict(loss="hinge"), "loss"),
        (dict(skip="dense"), "skip"),
        (dict(skip=["residual", "highway"]), "skip"),
        (dict(output_activation="softplus"), "output activation"),
        (dict(output_activation="softmax"), "output activation"),
        (dict(activation="swishy"), "activation"),
        (dict(bce_chain="three-logs"), "bce_chain"),
    ],
)
def test_unknown_names(kw, kind):
    with pytest.raises(UnknownNameError) as info:
        base(**kw)
    assert isinstance(info.value, ValueError)
    assert f"unknown {kind}" in str(info.value)
    assert "valid" in str(info.value)


def test_unknown_loss_lists_the_losses():
    with pytest.raises(UnknownNameError) as info:
        base(loss="hinge")
    assert "mse" in str(info.value) and "bce" in str(info.value)


def test_relu_output_is_not_pfaffian():
    with pytest.raises(NotPfaffianError):
        base(output_activation="relu")


# ------------------------------------------------------------- normalisation
def test_normalisation():
    s = base(activation="Sigmoid", loss=" MSE ", output_activation="sigmoid")
    assert (s.activation, s.loss, s.output_activation) == ("logistic", "mse", "logistic")
    assert base(widths=5).widths == (5,)
    assert base(widths=[2, 3]).widths == (2, 3)


@pytest.mark.parametrize(
    "skip, expected, kinds",
    [
        ("none", "none", set()),
        ("residual", "residual", {"residual"}),
        ("input_output", "input-output", {"input-output"}),
        ("residual+input-output", "residual+input-output", {"residual", "input-output"}),
        (["input-output", "residual"], "residual+input-output", {"residual", "input-output"}),
        ("residual,none", "residual", {"residual"}),
    ],
)
def test_skip_parsing(skip, expected, kinds):
    s = base(skip=skip)
    assert s.skip == expected
    assert s.skips == frozenset(kinds)


def test_properties():
    s = A(inputs=3, widths=(4, 5, 6), samples=7, bias=[True, False, True, False])
    assert s.depth == 3 and s.total_width == 15
    assert [s.has_bias(k) for k in (1, 2, 3, 4)] == [True, False, True, False]
    assert not s.is_symbolic


def test_uniform_concrete():
    s = A.uniform(2, 3, 4, 5, activation="tanh")
    assert s.widths == (3, 3, 3, 3) and s.samples == 5 and s.inputs == 2


def test_frozen():
    import dataclasses

    s = base()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.samples = 3  # type: ignore[misc]


# ------------------------------------------------------------------ n_params
@pytest.mark.parametrize(
    "kw, P",
    [
        # docs/theory.md §1.1 (P) and §4.5: (d+1)h + (h+1)
        (dict(inputs=1, widths=(1,)), 4),
        (dict(inputs=2, widths=(2,)), 9),
        (dict(inputs=2, widths=(2, 2)), 15),
        # (3+1)4 + (4+1)5 + (5+1)2 = 16 + 25 + 12
        (dict(inputs=3, widths=(4, 5), outputs=2), 53),
        # bias on layers 1 and 3 only: 16 + 4*5 + 6*2
        (dict(inputs=3, widths=(4, 5), outputs=2, bias=[True, False, True]), 48),
        # no bias: 12 + 20 + 10
        (dict(inputs=3, widths=(4, 5), outputs=2, bias=False), 42),
        # [False, True, False]: 3*4 + 5*5 + 5*2
        (dict(inputs=3, widths=(4, 5), outputs=2, bias=[False, True, False]), 47),
        # input-output skip adds d * outputs = 6
        (dict(inputs=3, widths=(4, 5), outputs=2, skip="input-output"), 59),
        # residual adds no parameter: 3*2 + 2*3 ... (2+1)2 + (2+1)2 + (2+1)1
        (dict(inputs=2, widths=(2, 2), skip="residual"), 15),
        # MNIST-like: 785*1000 + 9*1001*1000 + 1001
        (dict(inputs=784, widths=(1000,) * 10), 9_795_001),
    ],
)
def test_n_params(kw, P):
    assert A(**kw).n_params == P


def test_symbolic_n_params_matches_concrete():
    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    for bias in (True, False):
        for skip in ("none", "input-output"):
            P = A.uniform(d, h, L, m, bias=bias, skip=skip, outputs=2).n_params
            for vals in [(2, 3, 2, 1), (1, 1, 1, 1), (5, 4, 3, 2)]:
                concrete = A.uniform(*vals, bias=bias, skip=skip, outputs=2).n_params
                assert P.subs(dict(zip((d, h, L, m), vals))) == concrete
    # hand: (2+1)3 + (2-1)(3+1)3 + (3+1) = 9 + 12 + 4 = 25
    P = A.uniform(d, h, L, m).n_params
    assert P.subs({d: 2, h: 3, L: 2}) == 25


def test_symbolic_spec():
    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    s = A.uniform(d, h, L, m, activation="tanh")
    assert s.is_symbolic
    assert s.depth == L and sympy.simplify(s.total_width - h * L) == 0
    assert s.open_hypotheses() == []
    with pytest.raises(InvalidSpecError):
        A.uniform(d, h, L, m, bias=[True, False])
    neg = sympy.Symbol("k", negative=True)
    with pytest.raises(InvalidSpecError):
        A.uniform(d, neg, L, m)


def test_undeclared_symbol_is_an_open_hypothesis():
    import sympy

    x = sympy.Symbol("x")  # not declared positive integer
    s = A.uniform(x, 2, 2, 3)
    assert any("x" in h and "positive integer" in h for h in s.open_hypotheses())


def test_to_dict_is_json_ready():
    import json

    s = base(l2=Fraction(1, 4), bias=[True, False, True])
    d = json.loads(json.dumps(s.to_dict()))
    assert d["widths"] == [3, 3] and d["l2"] == 0.25 and d["bias"] == [True, False, True]
    assert d["activation"] == "tanh"


def test_to_dict_is_json_ready_with_a_symbol_in_the_widths():
    """Fixed: a sympy width in a widths list stayed a Symbol, and json.dumps (and BoundReport.to_json) raised."""
    import json

    import sympy

    from bettibounds import bounds

    m = sympy.Symbol("m", positive=True, integer=True)
    s = A(inputs=2, widths=(m, 3), activation="tanh", samples=3)
    assert json.loads(json.dumps(s.to_dict()))["widths"] == ["m", 3]
    assert json.loads(bounds(s).to_json())["spec"]["widths"] == ["m", 3]
