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
from bettibounds.pfaffian import chain as chain_mod


def test_shallow_tanh_known_format():
    # d=1, h=2, m=2, MSE-linear: r = m*h = 4, alpha = 2, beta = 4 (docs/theory.md §4.3, shallow row)
    c = certify(A(inputs=1, widths=(2,), activation="tanh", samples=2))
    assert c.verified and not c.failures
    assert c.found == PfaffianFormat(4, 2, 4)
    # 4 elements x P = 7 parameters, two claims each, plus loss/ODE/spot checks
    assert c.checks >= 4 * 7 * 2


@pytest.mark.parametrize("act", ["logistic", "tanh", "arctan", "softplus", "gaussian", "silu", "gelu",
                                 "exp", "identity"])
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
