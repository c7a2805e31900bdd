"""Issue 18 item 9 and issue 22 item 7: vector outputs, PyTorch's default initialisation, printed Betti
numbers and invariants, the plot of the user's network, and gradient flow on binary cross-entropy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bettibounds import cli
from bettibounds import obstruction as ob


def _run(capsys, *argv):
    code = cli.main(["obstruction", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------ vector outputs
def test_with_a_vector_output_no_neuron_is_pathological(capsys):
    t = ob.topology([0.5, -0.3, -1.2], p=3, e=2)
    assert t.pathological == [] and t.negative == [1, 2] and t.components == 1 and t.effective_components == 1
    assert ob.topology([0.5, -0.3, -1.2], p=3, e=1).pathological == [1, 2]
    code, out, _ = _run(capsys, "--c=0.5,-0.3,-1.2", "-d", "2", "--outputs", "2")
    assert code == 0 and "pathological neurons: none" in out and "[1, 2]" in out
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    W, V = rng.normal(size=(3, 3)), 2 * rng.normal(size=(3, 2))
    assert ob.gradient_flow(W, V, X, Y, steps=5, lr=1e-3)["pathological_sign_changed"] is None
    assert "note" in ob.obstruction_probability(3, 4, e=2)


# ------------------------------------------------------------------ initialisation
def test_pytorch_default_initialisation_is_the_default_and_has_nn_linear_bounds(capsys):
    d, h = 30, 8
    W, V = ob.initialise(d, h, seed=1)
    assert W.shape == (h, d + 1) and V.shape == (h, 1)
    assert np.abs(W).max() <= 1 / math.sqrt(d) and np.abs(V).max() <= 1 / math.sqrt(h)  # U(+-1/sqrt(fan_in))
    big_W, big_V = ob.initialise(d, 4000, seed=2)
    assert np.abs(big_W).max() > 0.99 / math.sqrt(d) and np.abs(big_V).max() > 0.99 / math.sqrt(4000)
    assert ob.initialise(3, 2, bias=False)[0].shape == (2, 3)
    # the CLI draws with the library function and the pytorch init by default
    code, out, _ = _run(capsys, "-d", "5", "--width", "6", "--seed", "3", "--json")
    res = json.loads(out)
    assert code == 0 and res["probability"]["init"] == "pytorch"
    assert np.allclose(res["invariants"], ob.invariants(*ob.initialise(5, 6, seed=3)))


def test_pytorch_probability_closed_form_matches_an_independent_monte_carlo():
    rng = np.random.default_rng(5)
    for d, h in ((2, 8), (3, 4)):
        p = d + 1
        res = ob.obstruction_probability(p, h, "pytorch")
        assert res["method"].startswith("closed form")
        n = 100_000
        w = rng.uniform(-1, 1, (n, p)) / math.sqrt(d)
        v = rng.uniform(-1, 1, n) / math.sqrt(h)
        q = np.mean((w**2).sum(1) < v**2)
        se = math.sqrt(max(q, 1 / n) * (1 - q) / n)
        assert abs(res["q_pathological"] - q) < 5 * se + 1e-6, (d, h, res["q_pathological"], q)
    # the probabilities differ from the variance-convention draw (issue 18: up to 2.5x)
    ratio = ob.obstruction_probability(3, 4, "kaiming-normal")["q_pathological"] / \
        ob.obstruction_probability(3, 4, "pytorch")["q_pathological"]
    assert not 0.9 < ratio < 1.1


# ------------------------------------------------------------------ printing
def test_the_sign_of_every_invariant_is_visible(capsys):
    code, out, _ = _run(capsys, "--c=-5e-324,1", "-d", "2")
    assert code == 0 and "-4.94066e-324" in out and "-0.0" not in out
    assert "pathological neurons (c_k < 0, output sign frozen): [0]" in out and "b_0 = 2" in out


def test_every_betti_number_is_printed_or_counted(capsys):
    code, out, _ = _run(capsys, "--c=" + ",".join(["1"] * 60), "-d", "2")
    assert code == 0
    t = ob.topology([1.0] * 60, p=3)
    nonzero = sum(1 for v in t.betti.values() if v)  # b_0, b_2, ..., b_120: 61 of them
    assert nonzero == 61 and "21 more non-zero Betti numbers left out (degrees 80 to 120" in out
    assert "b_78 = " in out and f"b_60 = {math.comb(60, 30)}" in out  # exact where printed
    small = ob.topology([1.0, -1.0], p=3).betti_text()
    assert small == "b_0 = 2, b_2 = 2" and "left out" not in small


def test_the_plot_draws_the_users_network(tmp_path, monkeypatch):
    seen = {}
    real = ob.probability_table

    def spy(dims, widths, init, **kw):
        seen.update(dims=dims, widths=widths, init=init, **kw)
        return real(dims, widths, init, **kw)

    monkeypatch.setattr(ob, "probability_table", spy)
    code = cli.main(["obstruction", "-d", "5", "--width", "7", "--init", "kaiming", "--no-bias", "--plot",
                     str(tmp_path)])
    assert code == 0 and 5 in seen["dims"] and 7 in seen["widths"]
    assert seen["init"] == "kaiming-normal" and seen["bias"] is False
    assert (tmp_path / "obstruction_probability_kaiming-normal.png").stat().st_size > 10_000


# ------------------------------------------------------------------ gradient flow on BCE
def _bce(W, V, X, y):
    f = np.maximum(X @ W.T, 0) @ V
    return float(np.mean(np.logaddexp(0, f[:, 0]) - y * f[:, 0]))


def test_bce_gradient_matches_finite_differences_and_conserves_invariants():
    rng = np.random.default_rng(7)
    X = np.hstack([rng.normal(size=(40, 3)), np.ones((40, 1))])
    y = (rng.uniform(size=40) < 0.5).astype(float)
    W, V = rng.normal(size=(5, 4)), rng.normal(size=(5, 1))
    lr = 1e-7
    one = ob.gradient_flow(W, V, X, y, steps=1, lr=lr, loss="bce")
    gW, gV = (W - one["W"]) / lr, (V - one["V"]) / lr
    eps = 1e-6
    for idx in [(0, 0), (2, 3), (4, 1)]:
        E = np.zeros_like(W)
        E[idx] = eps
        num = (_bce(W + E, V, X, y) - _bce(W - E, V, X, y)) / (2 * eps)
        assert gW[idx] == pytest.approx(num, rel=1e-4, abs=1e-8)
    E = np.zeros_like(V)
    E[1, 0] = eps
    assert gV[1, 0] == pytest.approx((_bce(W, V + E, X, y) - _bce(W, V - E, X, y)) / (2 * eps), rel=1e-4)
    assert one["final_loss"] == pytest.approx(_bce(one["W"], one["V"], X, y))
    a = ob.gradient_flow(W, V, X, y, steps=2000, lr=0.02, loss="bce")
    b = ob.gradient_flow(W, V, X, y, steps=4000, lr=0.01, loss="bce")
    assert a["final_loss"] < _bce(W, V, X, y)
    assert a["max_invariant_drift"] < 0.05 and b["max_invariant_drift"] < 0.6 * a["max_invariant_drift"]
    with pytest.raises(ValueError, match="labels in"):
        ob.gradient_flow(W, V, X, 2 * y, steps=1, loss="bce")


def test_bce_all_pathological_negative_network_stays_above_the_floor():
    # every neuron pathological with v_k < 0: f <= 0, so each positive label costs at least log 2
    rng = np.random.default_rng(3)
    X = np.hstack([rng.normal(size=(30, 2)), np.ones((30, 1))])
    y = (X[:, 0] > 0).astype(float)
    W = 0.3 * rng.normal(size=(4, 3))
    V = -(np.linalg.norm(W, axis=1) * 1.5)[:, None]
    res = ob.gradient_flow(W, V, X, y, steps=3000, lr=0.05, loss="bce")
    assert res["pathological_sign_changed"] is False and np.all(res["V"] < 0)
    assert res["final_loss"] >= y.mean() * math.log(2) - 1e-12


# ------------------------------------------------------------------ the report's breast-cancer experiment
def test_report_classification_demo_computes_its_claims():
    pytest.importorskip("sklearn")
    from bettibounds.reproduce.sections.relu_obstruction import SCALES, classification_demo, classification_markdown

    smoke = SCALES["smoke"]
    demo = classification_demo(smoke["classification_seeds"], smoke["classification_steps"])
    assert demo["m"] == 569 and demo["d"] == 30 and demo["positives"] == 357
    assert demo["floor"] == pytest.approx(357 / 569 * math.log(2))
    summary = {r["init"]: r for r in demo["summary"]}
    allneg = summary["all pathological, v_k < 0"]
    assert allneg["pathological"] == [demo["width"]] and summary["no pathological neuron"]["pathological"] == [0]
    assert summary["half pathological, v_k < 0"]["pathological"] == [demo["width"] // 2]
    for r in demo["runs"]:  # recomputed, not copied: the invariants and the frozen signs
        assert r["relative_drift"] < 0.05 and r["pathological_sign_changed"] is False
    assert allneg["above_floor"] is True and allneg["final_loss_min"] >= demo["floor"]
    assert summary["no pathological neuron"]["final_loss_mean"] < 0.5 * allneg["final_loss_mean"]
    text = "\n".join(classification_markdown(demo, None))
    assert f"{allneg['final_loss_mean']:.4f}" in text and "above the floor in every run" in text
    assert "Skipped" in classification_markdown(None, None)[1]
