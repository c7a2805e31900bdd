"""Activation registry: certificates (sympy-checked ODEs), lookups and rejections."""

from __future__ import annotations

import dataclasses
import math

import pytest

from bettibounds import ArchitectureSpec, NotPfaffianError, UnknownNameError, get_activation
from bettibounds.errors import InvalidSpecError
from bettibounds.pfaffian.activations import (
    ACTIVATIONS,
    NON_PFAFFIAN,
    activation_names,
    get_output_activation,
    verify_activation,
)
from bettibounds.pfaffian.rules import ode_degree, poly_track

ALL = [*ACTIVATIONS, "polynomial:2", "polynomial:3", "poly:5"]

#: the "format" column of docs/theory.md §3 (the activation registry)
PRIMITIVE_FORMATS = {
    "logistic": (1, 2, 1),
    "tanh": (1, 2, 1),
    "arctan": (2, 3, 1),
    "softplus": (2, 2, 1),
    "gaussian": (1, 2, 1),
    "silu": (1, 2, 2),
    "exp": (1, 1, 1),
    "identity": (0, 0, 1),
    "gelu": (2, 2, 2),
    "polynomial:2": (0, 0, 2),
    "polynomial:3": (0, 0, 3),
}


# ------------------------------------------------------------------ certificates
@pytest.mark.parametrize("name", ALL)
def test_every_entry_is_certified(name):
    assert verify_activation(get_activation(name)) == []


def test_registry_is_not_empty_and_covers_theory_table():
    assert set(PRIMITIVE_FORMATS) - {"polynomial:2", "polynomial:3"} <= set(activation_names())


@pytest.mark.parametrize("name, fmt", sorted(PRIMITIVE_FORMATS.items()))
def test_formats_match_theory_table(name, fmt):
    assert get_activation(name).format == fmt


@pytest.mark.parametrize("name", ALL)
def test_format_equals_mechanical_tracking_on_a_linear_argument(name):
    """phi(w x + b) tracked node by node has exactly phi's own format."""
    act = get_activation(name)
    z = (1, 0)  # a linear function of the parameters
    dds = [ode_degree(q, z[0]) + z[1] for q in act.odes]
    a = poly_track(act.output, z, [(1, dd) for dd in dds])
    assert (len(dds), int(max(dds, default=0)), a[0]) == act.format


#: independent float references (not sympy), so that a chain and a function that are
#: wrong *consistently* are still caught
REFERENCE = {
    "logistic": lambda x: 1 / (1 + math.exp(-x)),
    "tanh": math.tanh,
    "arctan": math.atan,
    "softplus": lambda x: math.log1p(math.exp(x)),
    "gaussian": lambda x: math.exp(-x * x),
    "silu": lambda x: x / (1 + math.exp(-x)),
    "gelu": lambda x: x * (1 + math.erf(x / math.sqrt(2))) / 2,
    "exp": math.exp,
    "identity": lambda x: x,
    "polynomial:3": lambda x: x + x**3,  # the registry's polynomial:p is t + t^p
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("x", [-1.3, 0.0, 0.7, 2.1])
def test_sympy_function_is_the_named_function(name, x):
    import sympy

    act = get_activation(name)
    got = float(act.sympy_function(sympy.Float(x, 30)))
    assert got == pytest.approx(REFERENCE[name](x), rel=1e-12, abs=1e-12)


# --------------------------------------------------------------- mutation tests
def test_wrong_ode_is_caught():
    tanh = get_activation("tanh")
    wrong = dataclasses.replace(tanh, odes=({(0, (0,)): 1, (0, (2,)): 1},))  # t' = 1 + t^2
    failures = verify_activation(wrong)
    assert len(failures) == 1
    assert "ODE" in failures[0] and "tanh" in failures[0]


def test_wrong_logistic_ode_is_caught():
    logistic = get_activation("logistic")
    wrong = dataclasses.replace(logistic, odes=({(0, (1,)): 1, (0, (2,)): 1},))  # s' = s + s^2
    assert verify_activation(wrong)


def test_wrong_output_identity_is_caught():
    silu = get_activation("silu")
    wrong = dataclasses.replace(silu, output={(0, (1,)): 1})  # claims silu(t) = s(t)
    failures = verify_activation(wrong)
    assert failures and "output" in failures[0]


def test_non_triangular_chain_is_caught():
    arctan = get_activation("arctan")
    # g' written with the *later* element a: breaks triangularity (and is false)
    wrong = dataclasses.replace(arctan, odes=({(1, (2, 1)): -2}, {(0, (1, 0)): 1}))
    failures = verify_activation(wrong)
    assert any("later element" in f for f in failures)


def test_element_count_mismatch_is_caught():
    tanh = get_activation("tanh")
    wrong = dataclasses.replace(tanh, elements=("t", "u"), odes=(*tanh.odes, {(0, (1, 0)): 1}))
    assert verify_activation(wrong)


# ------------------------------------------------------------------- lookups
@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("sigmoid", "logistic"),
        ("Sigmoid", "logistic"),
        (" logistic ", "logistic"),
        ("TANH", "tanh"),
        ("atan", "arctan"),
        ("swish", "silu"),
        ("gauss", "gaussian"),
        ("rbf", "gaussian"),
        ("linear", "identity"),
        ("none", "identity"),
        ("poly:3", "polynomial:3"),
        ("polynomial:3", "polynomial:3"),
        ("polynomial_3", "polynomial:3"),
        ("poly3", "polynomial:3"),
        ("polynomial:1", "identity"),  # degree 1 is the identity
    ],
)
def test_aliases(alias, canonical):
    assert get_activation(alias).name == canonical


def test_poly3():
    act = get_activation("poly:3")
    assert act.format == (0, 0, 3)
    assert act.is_polynomial and act.k == 0


def test_polynomial_degree_zero_rejected():
    with pytest.raises(InvalidSpecError):
        get_activation("poly:0")


@pytest.mark.parametrize("name", ["relu", "ReLU", "leaky_relu", "Leaky-ReLU", "abs", "max", "elu"])
def test_non_analytic_activations_are_not_pfaffian(name):
    with pytest.raises(NotPfaffianError) as info:
        get_activation(name)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "not real-analytic" in msg and "not a Pfaffian" in msg  # says why
    assert "softplus" in msg  # and what to use instead


def test_relu_rejected_through_the_spec():
    with pytest.raises(NotPfaffianError):
        ArchitectureSpec(inputs=2, widths=(3,), activation="relu")


def test_non_pfaffian_list_contains_the_theory_ones():
    assert {"relu", "leaky_relu", "max", "abs"} <= set(NON_PFAFFIAN)


@pytest.mark.parametrize("name", ["foo", "sigmod", "poly", "polynomial:x", ""])
def test_unknown_activation_lists_valid_names(name):
    with pytest.raises(UnknownNameError) as info:
        get_activation(name)
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    for valid in ("logistic", "tanh", "softplus", "arctan", "polynomial:<p>"):
        assert valid in msg


@pytest.mark.parametrize("bad", [3, None, ["tanh"]])
def test_non_string_activation(bad):
    with pytest.raises(InvalidSpecError):
        get_activation(bad)


@pytest.mark.parametrize("name, canonical", [("identity", "identity"), ("sigmoid", "logistic"), ("tanh", "tanh")])
def test_output_activations(name, canonical):
    assert get_output_activation(name).name == canonical


def test_output_activation_rejections():
    with pytest.raises(UnknownNameError) as info:
        get_output_activation("softplus")
    assert "sigmoid" in str(info.value) and "identity" in str(info.value)
    with pytest.raises(NotPfaffianError):
        get_output_activation("relu")


@pytest.mark.parametrize(
    "name, kind",
    [("tanh", "odd"), ("arctan", "odd"), ("logistic", "logistic"), ("gaussian", "even"),
     ("softplus", "none"), ("silu", "none"), ("identity", "continuous")],
)
def test_symmetry_kinds(name, kind):
    assert get_activation(name).symmetry == kind


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_growth_at_infinity_is_true(name):
    """The registry's growth claim (it decides the input-space bound's coercivity hypothesis), checked
    by sympy limits: "bounded" has finite limits at +-oo, "linear" finite limits of phi(t)/t; None
    is claimed only where phi(t)/t is unbounded (exp) or for polynomials of degree >= 2."""
    import sympy

    act = ACTIVATIONS[name]
    t = sympy.Symbol("t", real=True)
    phi = act.sympy_function(t)
    limits = {g: [sympy.limit(g, t, s) for s in (sympy.oo, -sympy.oo)] for g in (phi, phi / t)}
    finite = {g: all(v.is_finite for v in vals) for g, vals in limits.items()}
    if act.growth == "bounded":
        assert finite[phi], limits
    elif act.growth == "linear":
        assert finite[phi / t] and not finite[phi], limits
    else:
        assert not finite[phi / t], limits


def _pieces():
    """name -> [(breakpoint, the piece left of it, the piece right of it)] in torch's default parameters."""
    import sympy as sp

    t = sp.Symbol("t", real=True)
    a, scale = sp.Rational(16732632423543772848170429916717, 10**31), sp.Rational(10507009873554804934193349852946,
                                                                                     10**31)
    return t, {
        "relu": [(0, sp.Integer(0), t)],
        "leaky_relu": [(0, t / 100, t)],
        "relu6": [(0, sp.Integer(0), t), (6, t, sp.Integer(6))],
        "elu": [(0, sp.exp(t) - 1, t)],
        "selu": [(0, scale * a * (sp.exp(t) - 1), scale * t)],
        "celu": [(0, sp.exp(t) - 1, t)],
        "hardtanh": [(-1, sp.Integer(-1), t), (1, t, sp.Integer(1))],
        "hardsigmoid": [(-3, sp.Integer(0), t / 6 + sp.Rational(1, 2)), (3, t / 6 + sp.Rational(1, 2), sp.Integer(1))],
        "hardswish": [(-3, sp.Integer(0), t * (t + 3) / 6), (3, t * (t + 3) / 6, t)],
        "abs": [(0, -t, t)],
        "softsign": [(0, t / (1 - t), t / (1 + t))],
    }


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "relu6", "elu", "selu", "celu", "hardtanh", "hardsigmoid",
                                  "hardswish", "abs", "softsign"])
def test_each_refusal_says_truly_which_derivative_jumps(name):
    """Issue 19's trial: every refusal said "its derivative jumps", false for softsign, ELU and CELU (their
    first derivative is continuous, their second jumps). The message's claim, checked on the pieces."""
    import sympy as sp

    t, pieces = _pieces()
    msg = NON_PFAFFIAN[name]
    # ELU's message names both cases; its default (a = 1) is the smooth one, the pieces above
    smooth_once = "its first derivative is continuous but its second jumps" in msg
    assert smooth_once or "its first derivative jumps" in msg, msg
    for point, left, right in pieces[name]:
        d1 = [sp.diff(f, t).subs(t, point) for f in (left, right)]
        d2 = [sp.diff(f, t, 2).subs(t, point) for f in (left, right)]
        assert sp.simplify(left.subs(t, point) - right.subs(t, point)) == 0  # continuous: no jump of the function
        if smooth_once:
            assert sp.simplify(d1[0] - d1[1]) == 0 and sp.simplify(d2[0] - d2[1]) != 0, (name, point, d1, d2)
        else:
            assert sp.simplify(d1[0] - d1[1]) != 0, (name, point, d1)
