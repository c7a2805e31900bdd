"""ReLU obstruction: topology of H(c), conservation under gradient flow, reachability, probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bettibounds import InvalidSpecError
from bettibounds.obstruction import gradient_flow, invariants, obstruction_probability, reachability, topology


def test_hand_made_invariants():
    t = topology([0.5, -0.3, -1.2, 0.0], p=3)
    assert t.components == 4 and t.pathological == [1, 2] and t.effective_components == 3
    # Kuenneth: (1 + t^2)(2)(2)(1): B = 2^{#c != 0} = 8
    assert t.betti_list == [4, 0, 4] and sum(t.betti.values()) == 2**3


def test_p_equals_one_and_vector_outputs():
    assert topology([0.5], p=1).components == 2           # S^0 x R
    assert topology([0.5, -0.2], p=1).components == 4
    assert topology([-0.5], p=3, e=2).betti_list == [1, 1]  # R^3 x S^1: connected
    assert topology([-0.5, -1.0], p=3, e=2).components == 1
    assert topology([0.0, 0.0], p=2).betti_list == [1]     # cones are contractible


def test_large_networks_are_closed_form():
    import math
    import time

    t0 = time.perf_counter()
    t = topology([1.0] * 600 + [-1.0] * 400, p=785)
    assert time.perf_counter() - t0 < 2
    assert t.components == 2**400 and sum(t.betti.values()) == 2**1000
    assert t.betti[784 * 3] == math.comb(600, 3) * 2**400 and t.betti_list is None


def test_bad_inputs():
    with pytest.raises(InvalidSpecError):
        topology([0.1], p=0)
    with pytest.raises(InvalidSpecError):
        topology([], p=2)
    with pytest.raises(InvalidSpecError):
        invariants(np.ones((3, 2)), np.ones((2, 1)))  # c length mismatch
    with pytest.raises(InvalidSpecError):
        obstruction_probability(2, -1)


def _data():
    X = np.linspace(-1, 1, 21)[:, None]
    Xa = np.hstack([X, np.ones_like(X)])  # bias absorbed
    y = np.maximum(X[:, 0], 0) + 0.5 * np.maximum(-X[:, 0], 0)  # a positive teacher: 2 neurons, v > 0
    teacher = (np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1.0, 0.5]))
    return Xa, y, teacher


def test_invariants_are_conserved_and_signs_frozen():
    Xa, y, _ = _data()
    rng = np.random.default_rng(0)
    W, V = rng.normal(0, 0.7, (4, 2)), rng.normal(0, 1.2, (4, 1))
    c0 = invariants(W, V)
    assert (c0 < 0).any()
    a = gradient_flow(W, V, Xa, y, steps=4000, lr=1e-3)
    b = gradient_flow(W, V, Xa, y, steps=8000, lr=5e-4)  # the same time, half the step
    assert a["max_invariant_drift"] < 2e-3 and not a["pathological_sign_changed"]
    assert b["max_invariant_drift"] < 0.7 * a["max_invariant_drift"]  # drift is O(lr): the flow conserves c


def test_unreachable_case_fails_to_fit_and_control_fits():
    Xa, y, teacher = _data()
    # all neurons pathological with v < 0: f <= 0 forever, targets are positive
    W_bad = np.array([[0.3, 0.1], [-0.2, 0.1], [0.1, -0.3]])
    V_bad = -np.array([[1.0], [1.2], [0.9]])
    r = reachability(W_bad, V_bad, Xa, y, teacher=teacher)
    assert r["status"] == "unreachable"
    bad = gradient_flow(W_bad, V_bad, Xa, y, steps=20000, lr=2e-3)
    assert bad["final_loss"] > 0.5 * np.mean(y**2) and not bad["pathological_sign_changed"]
    # control: the same data, neurons with c_k > 0 (no frozen signs)
    W_ok = np.array([[0.9, 0.1], [-0.8, 0.1], [0.5, -0.3]])
    V_ok = np.array([[0.3], [0.2], [-0.1]])
    assert (invariants(W_ok, V_ok) > 0).all()
    assert reachability(W_ok, V_ok, Xa, y, teacher=teacher)["status"] == "reachable"
    good = gradient_flow(W_ok, V_ok, Xa, y, steps=20000, lr=2e-3)
    assert good["final_loss"] < 1e-3


def test_reachability_without_teacher_is_undecided():
    Xa, y, _ = _data()
    assert reachability(np.ones((2, 2)), np.ones(2), Xa, y)["status"] == "undecided"


@pytest.mark.parametrize("init", ["kaiming-normal", "xavier-normal", "normal"])
def test_closed_form_probability_matches_monte_carlo(init):
    from bettibounds.obstruction import _variance

    p, h = 4, 6
    res = obstruction_probability(p, h, init)
    rng = np.random.default_rng(1)
    n = 200_000
    w = rng.normal(0, _variance(init, p, h) ** 0.5, (n, p))
    v = rng.normal(0, _variance(init, h, 1) ** 0.5, (n, 1))
    q_mc = np.mean((w**2).sum(1) < (v**2).sum(1))
    se = np.sqrt(q_mc * (1 - q_mc) / n)
    assert abs(res["q_pathological"] - q_mc) < 4 * se + 1e-4
    assert np.isclose(res["p_some_pathological"], 1 - (1 - res["q_pathological"]) ** h)


def test_obstruction_is_rarer_with_input_dimension_under_kaiming():
    qs = [obstruction_probability(p, 16, "kaiming-normal")["q_pathological"] for p in (1, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(qs, qs[1:]))


def test_cli(tmp_path, cli_main):
    out = cli_main("obstruction", "--c", "0.5,-0.3,-1.2,0.0", "--input-dim", "2", "--json")
    d = json.loads(out.stdout)
    assert d["components"] == 4 and d["pathological"] == [1, 2] and d["effective_components"] == 3
    assert d["invariants"] == [0.5, -0.3, -1.2, 0.0] and d["betti"] == [4, 0, 4]
    Xa, y, teacher = _data()
    exp = {"network": {"layers": [1, 3, 1], "bias": True}, "data": {"x": Xa[:, :1].tolist(), "y": y.tolist()},
           "init": {"W": [[0.3, 0.1], [-0.2, 0.1], [0.1, -0.3]], "V": [-1.0, -1.2, -0.9]},
           "teacher": {"W": teacher[0].tolist(), "V": teacher[1].tolist()}}
    path = tmp_path / "o.json"
    path.write_text(json.dumps(exp))
    out = cli_main("obstruction", "-e", str(path), "--flow", "2000", "--json")
    d = json.loads(out.stdout)
    assert d["reachability"]["status"] == "unreachable" and d["components"] == 8
    assert d["gradient_flow"]["pathological_sign_changed"] is False
    bad = cli_main("obstruction", "--input-dim", "2", "--width", "-1")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_probability_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from bettibounds.obstruction import plot_probability, probability_table

    rows = probability_table(dims=(1, 4), widths=(4, 64))
    assert len(rows) == 4 and all(0 <= r["p_some_pathological"] <= 1 for r in rows)
    path = plot_probability(tmp_path, dims=(1, 2, 4), widths=(4, 16))
    assert path.endswith(".png") and (tmp_path / path.split("/")[-1]).stat().st_size > 1000
