"""Chain certificates (bettibounds.certify): exact claims, mutations, spot checks, errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from fractions import Fraction

import pytest

from bettibounds import ArchitectureSpec as A
from bettibounds import InvalidSpecError, PfaffianFormat, bounds, certify, get_activation
from bettibounds.pfaffian import activations
from bettibounds.pfaffian import chain as chain_mod


def test_shallow_tanh_known_format():
    # d=1, h=2, m=2, MSE-linear: r = m*h = 4, alpha = 2, beta = 4 (docs/theory.md §4.3, shallow row)
    c = certify(A(inputs=1, widths=(2,), activation="tanh", samples=2))
    assert c.verified and not c.failures
    assert c.found == PfaffianFormat(4, 2, 4)
    # 4 elements x P = 7 parameters, two claims each, plus loss/ODE/spot checks
    assert c.checks >= 4 * 7 * 2


@pytest.mark.parametrize("act", activations.activation_names())
def test_every_activation_certifies(act):
    spec = A(inputs=2, widths=(2, 2), activation=act, samples=2, skip="residual")
    c = certify(spec, spot_checks=6)
    assert c.verified, c.failures
    assert c.found == c.claimed  # the closed form is exact on generic data


@pytest.mark.parametrize("loss,out,chain", [("mse", "identity", "logsigmoid"), ("mse", "sigmoid", "logsigmoid"),
                                            ("mse", "tanh", "logsigmoid"), ("bce", "sigmoid", "logsigmoid"),
                                            ("bce", "sigmoid", "two-logs")])
@pytest.mark.parametrize("extra", [{}, {"l2": 0.25}, {"skip": "input-output"}, {"outputs": 2}])
def test_losses_outputs_and_options_certify(loss, out, chain, extra):
    spec = A(inputs=2, widths=(2,), activation="logistic", loss=loss, output_activation=out,
             samples=2, bce_chain=chain, **extra)
    c = certify(spec, spot_checks=4)
    assert c.verified, c.failures
    assert c.found == c.claimed


@pytest.mark.parametrize("field,delta", [("alpha", -1), ("beta", -1), ("order", -1)])
def test_understated_format_is_rejected(field, delta):
    spec = A(inputs=2, widths=(3, 3), activation="logistic", samples=2)
    true = certify(spec).found
    lie = dataclasses.replace(true, **{field: getattr(true, field) + delta})
    c = certify(spec, claimed=lie)
    assert not c.verified
    if field == "alpha":
        # names the element and the parameter
        assert any("element Y" in f and "parameter theta" in f and "claimed alpha" in f for f in c.failures)
    elif field == "beta":
        assert c.failures == [f"loss has degree {true.beta} > claimed beta {true.beta - 1}"]
    else:
        assert c.failures == [f"chain has {true.order} elements > claimed order {true.order - 1}"]


def test_wrong_ode_is_caught(monkeypatch):
    # mutation: a "tanh" whose registry ODE is t' = 1 + t^2 (false); the sympy ODE check and the
    # numeric spot checks must both notice
    good = get_activation("tanh")
    bad = dataclasses.replace(good, odes=({(0, (0,)): 1, (0, (2,)): 1},))
    monkeypatch.setattr(chain_mod, "get_activation", lambda name: bad)
    c = certify(A(inputs=1, widths=(2,), activation="tanh", samples=2), spot_checks=30)
    assert not c.verified
    assert any("ODE of t fails" in f for f in c.failures)
    assert any(f.startswith("spot check: dY") for f in c.failures)


def test_wrong_loss_assembly_is_caught(monkeypatch):
    # mutation: the direct loss forgets the 1/m; the chain polynomial must disagree with it
    original = chain_mod._direct_loss
    monkeypatch.setattr(chain_mod, "_direct_loss", lambda spec, *a: original(spec, *a) * spec.samples)
    c = certify(A(inputs=1, widths=(2,), activation="tanh", samples=3))
    assert not c.verified and any(f.startswith("spot check: loss") for f in c.failures)


def test_nested_exponentials_are_spot_checked_nearer_zero(monkeypatch):
    """exp of exp of exp at theta0 (entries up to 1.08): mpmath needed gigabytes for the spot check and
    `bound -d 2 -w 4,3,2 -m 2 -a exp --certify` ended in MemoryError (CLI fuzzing). The check now moves
    to theta0 / 8, / 64, / 512; where every point overflows the certificate says so and is not verified."""
    import resource

    spec = A(inputs=2, widths=(4, 3, 2), activation="exp", samples=2)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        used = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    cap = used + 2 * 2**30  # a regression fails with MemoryError instead of filling the machine
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        c = certify(spec, spot_checks=4)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert c.verified, c.failures
    assert any(line.startswith("5 numeric spot checks") for line in c.claims)  # 4 derivatives and the loss
    monkeypatch.setattr(chain_mod, "_SPOT_MAX_ARGUMENT", 0)  # no point is small enough
    c = certify(A(inputs=1, widths=(2,), activation="tanh", samples=2))
    assert not c.verified and c.failures[-1].startswith("spot check: an activation's argument exceeds 0")


def test_degenerate_data_needs_generic_data():
    spec = A(inputs=2, widths=(2,), activation="tanh", samples=2, bias=False)
    data = ([[0, 0], [1, 2]], [[Fraction(1, 2)], [Fraction(1, 3)]])
    with pytest.raises(InvalidSpecError, match="generic data"):
        certify(spec, data=data)


def test_distinct_inputs_share_elements():
    spec = A(inputs=2, widths=(2,), activation="tanh", samples=4, distinct_inputs=2)
    c = certify(spec)
    assert c.verified and c.found.order == 2 * 2


def test_polynomial_activations():
    c = certify(A(inputs=2, widths=(2,), activation="polynomial:3", samples=2))
    assert c.verified and c.found == PfaffianFormat(0, 0, 8)  # (u - y)^2 with deg u = 3 + 1
    c = certify(A(inputs=1, widths=(1, 1), activation="polynomial:2", samples=1, skip="residual"))
    assert c.verified and c.found == PfaffianFormat(0, 0, 14)  # deg u = 2 * (2 * 1 + 1) + 1 = 7
    # deep polynomial networks expand exponentially: refused with a clear message, quickly
    with pytest.raises(InvalidSpecError, match="max_terms"):
        certify(A(inputs=2, widths=(2, 2), activation="polynomial:3", samples=2, skip="residual"))


def test_too_large_is_refused():
    with pytest.raises(InvalidSpecError, match="max_checks"):
        certify(A(inputs=784, widths=(100,), activation="tanh", samples=1000))


def test_symbolic_is_refused():
    import sympy

    h = sympy.Symbol("h", positive=True, integer=True)
    with pytest.raises(InvalidSpecError):
        certify(A.uniform(2, h, 2, 3))


def test_report_carries_certificate():
    report = bounds(A(inputs=1, widths=(2,), activation="tanh", samples=2), certify=True)
    d = report.to_dict()["certificate"]
    assert d["verified"] is True and d["failures"] == [] and d["checks"] > 0 and d["seconds"] >= 0
    assert "chain certificate: VERIFIED" in report.to_text()
    with pytest.raises(InvalidSpecError):
        bounds(A(inputs=1, widths=(2,), activation="tanh", samples=2), space="input", certify=True)


def test_cli_certify_json():
    out = subprocess.run([sys.executable, "-m", "bettibounds", "bound", "-d", "2", "-w", "2", "-m", "2",
                          "-a", "arctan", "--certify", "--json"], capture_output=True, text=True, check=True)
    cert = json.loads(out.stdout)["certificate"]
    assert cert["verified"] is True and set(cert) >= {"verified", "checks", "seconds", "failures"}


# ------------------------------------------------------- an activation added to the registry (issue 19's trial)
def _register(monkeypatch, act, closed_like):
    """Put ``act`` in the registry, its closed form borrowed from ``closed_like`` (an upper bound the
    certificate checks), as a new contributor would after the registry step alone."""
    from bettibounds.pfaffian import activations, derive

    monkeypatch.setitem(activations.ACTIVATIONS, act.name, act)
    monkeypatch.setitem(activations._ALIASES, act.name, act.name)
    original = derive._hidden_closed
    monkeypatch.setattr(derive, "_hidden_closed",
                        lambda name, L, sym: original(closed_like if name == act.name else name, L, sym))


#: one sample of moderate size: every chain element's derivative well above the spot check's tolerance
_MODERATE = ([[Fraction(1, 2)]], [[Fraction(1, 3)]])


def _erf():
    import sympy as sp

    from bettibounds.pfaffian.activations import Activation

    # g = e^{-t^2}: g' = -2t g;  e = erf t: e' = (2/sqrt(pi)) g -- an irrational coefficient that is not GELU's
    return Activation(name="erf", elements=("g", "e"), odes=({(1, (1, 0)): -2}, {(0, (1, 0)): "2/sqrt(pi)"}),
                      output={(0, (0, 1)): 1}, symmetry="odd", growth="bounded",
                      sympy_chain=lambda t: [sp.exp(-t**2), sp.erf(t)], sympy_function=lambda t: sp.erf(t))


def _halftanh():
    import sympy as sp

    from bettibounds.pfaffian.activations import Activation

    # a rational coefficient that is not an integer: phi = tanh(t) / 2
    return Activation(name="halftanh", elements=("t",), odes=({(0, (0,)): 1, (0, (2,)): -1},),
                      output={(0, (1,)): "1/2"}, symmetry="odd", growth="bounded",
                      sympy_chain=lambda t: [sp.tanh(t)], sympy_function=lambda t: sp.tanh(t) / 2)


@pytest.mark.parametrize("make,closed_like", [(_erf, "gaussian"), (_halftanh, "tanh")])
def test_a_new_registry_activation_certifies(monkeypatch, make, closed_like):
    """The spot check's direct loss used its own table of nine activations: any other name fell to the
    polynomial branch (IndexError, a traceback from ``bound --certify``); and every non-integer
    coefficient was taken for GELU's 1/sqrt(2 pi), so "1/2" or "2/sqrt(pi)" failed the spot check."""
    act = make()
    _register(monkeypatch, act, closed_like)
    # every (Y_j, theta_p) on data of moderate size (the generic data's x = 54 puts e^{-u^2} below the
    # spot check's absolute tolerance), then a deeper network on the generic data
    cases = ((A(inputs=1, widths=(1,), activation=act.name, samples=1), 1000, _MODERATE),
             (A(inputs=2, widths=(2, 2), activation=act.name, samples=2), 6, None))
    for spec, spots, data in cases:
        c = certify(spec, spot_checks=spots, data=data)
        assert c.verified, c.failures
        assert any(f"{min(spots, c.found.order * spec.n_params) + 1} numeric spot checks" in claim
                   for claim in c.claims), c.claims


def test_a_wrong_coefficient_still_fails_the_spot_check(monkeypatch):
    """The exact coefficients are checked, not trusted: erf's 2/sqrt(pi) replaced by 1/sqrt(pi) fails
    both the sympy ODE check and the numeric spot check."""
    act = dataclasses.replace(_erf(), odes=({(1, (1, 0)): -2}, {(0, (1, 0)): "1/sqrt(pi)"}))
    _register(monkeypatch, act, "gaussian")
    c = certify(A(inputs=1, widths=(1,), activation="erf", samples=1), spot_checks=12, data=_MODERATE)
    assert not c.verified
    assert any("ODE of e fails" in f for f in c.failures)
    assert any(f.startswith("spot check: dY") for f in c.failures)


@pytest.mark.parametrize("coef,value", [(3, "3"), ("1/2", "1/2"), (Fraction(2, 3), "2/3"),
                                        ("1/sqrt(2*pi)", "sqrt(2)/(2*sqrt(pi))")])
def test_exact_coefficients(coef, value):
    import sympy as sp

    assert activations.exact_coefficient(coef) == sp.sympify(value)


@pytest.mark.parametrize("coef", [0.5, "x", "sqrt(-1)", "oo", None, True, "0.5"])
def test_inexact_or_unreal_coefficients_are_refused(coef):
    with pytest.raises(InvalidSpecError, match="chain coefficient must be"):
        activations.exact_coefficient(coef)
    inexact = dataclasses.replace(get_activation("tanh"), output={(0, (1,)): coef})
    failures = activations.verify_activation(inexact)  # the registry's own check says so too
    assert len(failures) == 1 and failures[0].startswith("tanh: a chain coefficient must be"), failures


def test_ring_constants_are_the_irrational_coefficients():
    assert activations.chain_constants(get_activation("tanh").output, *get_activation("tanh").odes) == ()
    gelu = get_activation("gelu")
    (kappa,) = activations.chain_constants(gelu.output, *gelu.odes)
    assert abs(float(kappa) - (2 * 3.141592653589793) ** -0.5) < 1e-15
    erf = _erf()
    assert len(activations.chain_constants(erf.output, *erf.odes, gelu.output)) == 2


def test_spot_checks_move_to_moderate_arguments(monkeypatch):
    """The spot checks' tolerance is absolute (1e-30 (1 + |.|)): at the data's large pre-activations
    (|u| ~ 60 here) a Gaussian's e^(-u^2) is ~1e-1500 and a wrong function went unnoticed by them. A
    mutation only the registry's output identity and the spot checks can see (phi defined as
    e^(-t^2)(1 + e^(-t^2)), chain e^(-t^2)): the spot check now runs where every argument is at most 4 and
    catches it."""
    import sympy as sp

    good = get_activation("gaussian")
    bad = dataclasses.replace(good, sympy_function=lambda t: sp.exp(-t**2) * (1 + sp.exp(-t**2)))
    monkeypatch.setattr(chain_mod, "get_activation", lambda name: bad)
    data = ([[Fraction(60)], [Fraction(70)]], [[Fraction(1, 3)], [Fraction(2, 7)]])
    c = certify(A(inputs=1, widths=(2,), activation="gaussian", samples=2), data=data)
    assert not c.verified and any(f.startswith("spot check: loss") for f in c.failures), c.failures
    monkeypatch.setattr(chain_mod, "get_activation", lambda name: good)
    assert certify(A(inputs=1, widths=(2,), activation="gaussian", samples=2), data=data).verified
