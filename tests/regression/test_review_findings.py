"""Regression tests for the defects found in the soundness review (one test per finding)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from fractions import Fraction

import mpmath
import pytest

from bettibounds import ArchitectureSpec as A
from bettibounds import InvalidSpecError, bounds, certify, symmetry_group
from bettibounds.empirical.experiment import parse_experiment
from bettibounds.logspace import evaluate_product


def test_tiny_positive_l2_is_positive():
    # a Fraction of 1e-400 rounds to 0.0 as a float; lambda > 0 must still drop the logistic flips
    spec = A(inputs=1, widths=(3,), samples=2, activation="logistic", l2=Fraction(1, 10**400))
    assert spec.l2_positive is True
    assert symmetry_group(spec).order == 6  # 3! only
    assert A(inputs=1, widths=(2,), samples=1, l2=10**400).l2_positive is True


def test_group_order_precision_for_huge_widths():
    g = symmetry_group(A(inputs=1, widths=(10**14,), samples=1, activation="tanh"))
    with mpmath.workdps(60):
        ref = 10**14 + mpmath.loggamma(10**14 + 1) / mpmath.log(2)
        assert abs(g.log2 - ref) < 1e-6


def test_bound_precision_for_huge_exponents():
    e = 10**40
    ev = evaluate_product([(3, e), (7, e + 1)])
    with mpmath.workdps(80):
        ref = e * mpmath.log(3, 2) + (e + 1) * mpmath.log(7, 2)
        assert abs(ev.log2 - ref) < 1e-6


def test_printed_bounds_round_to_their_safe_side():
    lower = bounds(A(inputs=1, widths=(10,), samples=1, activation="tanh")).lower[0]
    assert lower.value == 3715891200 and lower.size_text() == "3.715e9"  # not 3.716e9 > |G|
    k = next(b for b in bounds(A(inputs=2, widths=(2,), samples=3, activation="tanh")).upper if b.theorem == "K")
    # floor(K / 2) with K = 2^15 * 4 * 5^8 * 48^6 = 626206231756800000000 (docs/theory.md 6.1: the halving)
    assert k.value == 313103115878400000000 and k.size_text() == "3.132e20"  # not 3.131e20 < the bound
    mant, ex = k.size_text().split("e")
    assert float(mant) * 10 ** int(ex) >= k.value


def test_exp_with_bias_has_a_continuous_symmetry():
    assert bounds(A(inputs=1, widths=(2,), samples=3, activation="exp")).lower == ()
    assert not symmetry_group(A(inputs=1, widths=(2,), samples=3, activation="exp")).applicable
    assert symmetry_group(A(inputs=1, widths=(2,), samples=3, activation="exp", bias=False)).order == 2
    assert symmetry_group(A(inputs=1, widths=(2,), samples=3, activation="exp", l2=0.1)).order == 2


def test_slice_compactness_is_not_claimed_without_the_rank():
    r = bounds(A(inputs=2, widths=(2,), samples=3, l2=0.1), slice_dim=2)
    for b in r.upper:
        assert not any(h.status == "holds" and "compact" in h.text for h in b.hypotheses)


def test_distinct_inputs_is_a_recorded_hypothesis_and_checked_by_the_certificate():
    spec = A(inputs=1, widths=(2,), samples=3, distinct_inputs=1, activation="tanh")
    k = bounds(spec).upper[0]
    assert any(h.status == "undecided" and "distinct" in h.text for h in k.hypotheses)
    c = certify(spec, data=([[1], [2], [3]], [[0], [1], [0]]))
    assert not c.verified and any("elements > claimed order" in f for f in c.failures)


def test_l2_number_types():
    import sympy

    assert certify(A(inputs=1, widths=(2,), samples=2, activation="tanh", l2=sympy.Float(0.1))).verified
    assert certify(A(inputs=1, widths=(2,), samples=2, activation="tanh", l2=sympy.Rational(1, 10))).verified


def test_two_logs_spot_check_has_no_cancellation():
    c = certify(A(inputs=1, widths=(2,), samples=2, activation="exp", loss="bce", output_activation="sigmoid",
                  bce_chain="two-logs"))
    assert c.verified, c.failures


def test_certify_refuses_huge_polynomial_degrees_quickly():
    t = time.perf_counter()
    with pytest.raises(InvalidSpecError, match="degree"):
        certify(A(inputs=1, widths=(1,), samples=1, activation="polynomial:1000000"))
    assert time.perf_counter() - t < 5


def _exp(**over):
    base = {"network": {"layers": [1, 2, 1], "activation": "tanh"}, "data": {"x": [[1.0]], "y": [[0.5]]}}
    base.update(over)
    return base


@pytest.mark.parametrize("obj,where", [
    (_exp(data={"x": [[10**400]], "y": [[0]]}), "data.x[0][0]"),
    (_exp(loss={"kind": "mse", "l2": float("nan")}), "l2"),
    (_exp(region={"kind": "slice", "center": [0] * 7, "directions": [[1] * 7], "low": [0], "high": [0]}), "region.low"),
    (_exp(region={"kind": "slice", "center": [0] * 6, "directions": [[1] * 7], "low": [0], "high": [1]}),
     "region.center"),
    (_exp(region={"kind": "slice", "center": [0] * 7, "directions": "x", "low": [0], "high": [1]}),
     "region.directions"),
    (_exp(network={"layers": [1, 2, 1], "output_activation": None}), "output_activation"),
    (_exp(grid=[10**5] * 2), "grid"),
])
def test_experiment_validation(obj, where):
    with pytest.raises(InvalidSpecError) as info:
        parse_experiment(obj)
    assert where in str(info.value)


def test_lower_refuses_large_groups_and_bad_seeds_before_any_work(tmp_path, cli_main):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(_exp(network={"layers": [1, 400, 1], "activation": "tanh"})))
    t = time.perf_counter()
    out = cli_main("lower", "-e", str(path))
    assert out.returncode == 2 and "max_order" in out.stderr and time.perf_counter() - t < 30
    out = cli_main("lower", "-e", "examples/teacher_tanh.json", "--seed", "-1")
    assert out.returncode == 2 and "seed" in out.stderr


def test_input_space_header_names_the_logit():
    text = bounds(A(inputs=2, widths=(3,), samples=1, output_activation="sigmoid"), space="input").to_text()
    assert "u(x) >= 0" in text and math.isfinite(0)


# ------------------------------------------------ CLI audit of 2026-11-23 (bound, obstruction, barcode)
@pytest.mark.parametrize("argv, words", [
    (["obstruction", "--input-dim", "3", "--width", "8", "--seed", "-1", "--json"], ["--seed", "non-negative"]),
    # used to allocate 74.5 GiB, or to run for an hour (O(h^2) Poincare polynomial)
    (["obstruction", "--input-dim", "100000", "--width", "100000", "--json"], ["width", "10000"]),
    (["obstruction", "--input-dim", "3", "--width", "100000", "--json"], ["width", "10000"]),
    (["obstruction", "--input-dim", "20000", "--width", "9000", "--json"], ["first-layer weights"]),
    # --width was silently ignored next to --c
    (["obstruction", "--c", "0.5", "--input-dim", "2", "--width", "8"], ["--width 8", "1 invariants"]),
    # "3,,3" was read as [3, 3]
    (["bound", "-d", "2", "-w", "3,,3", "-m", "4"], ["--widths", "3,,3"]),
    (["bound", "-d", "2", "-w", "3,", "-m", "4"], ["--widths"]),
])
def test_cli_audit_findings_are_one_line_errors(argv, words):
    # a fresh interpreter with a timeout: a regression of the first three would allocate 74.5 GiB or run for
    # an hour, which must not happen inside the test process
    out = subprocess.run([sys.executable, "-m", "bettibounds", *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and all(w in out.stderr for w in words), out.stderr


@pytest.mark.parametrize("argv, words", [
    # sample-mode options were silently ignored in grid mode, even invalid ones
    (["barcode", "examples/slice_2d.json", "--lr", "0"], ["--lr", "sample mode"]),
    (["barcode", "examples/slice_2d.json", "--k", "3", "--steps", "5"], ["--steps", "--k", "sample mode"]),
])
def test_cli_audit_findings_in_grid_mode_are_one_line_errors(argv, words, cli_main):
    out = cli_main(*argv)  # in-process: a fresh interpreter would import torch again for a refusal
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and all(w in out.stderr for w in words), out.stderr


def test_obstruction_experiment_missing_key_names_it(tmp_path, cli_main):
    path = tmp_path / "o.json"
    path.write_text('{"data": {"x": [[1.0]], "y": [[1.0]]}}')
    out = cli_main("obstruction", "--experiment", str(path))
    assert out.returncode == 2 and "lacks the key 'network'" in out.stderr


def test_relu_message_points_to_the_obstruction_command(cli_main):
    out = cli_main("bound", "-d", "2", "-w", "3", "-m", "4", "-a", "relu")
    assert out.returncode == 2 and "bettibounds obstruction" in out.stderr and "not yet" not in out.stderr


def test_barcode_negative_box_with_equals_form_runs(cli_main):
    out = cli_main("barcode", "examples/teacher_tanh.json", "--minima", "2", "--uniform", "30", "--steps", "10",
                   "--k", "4", "--box=-2,2", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["meta"]["box"][0][0] == -2.0
