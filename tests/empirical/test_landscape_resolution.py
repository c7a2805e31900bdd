"""Issue 18, items 2 and 3: what an excess over the bound means, and levels the grid cannot resolve."""

from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gudhi")

from bettibounds import InvalidSpecError, cli  # noqa: E402
from bettibounds.empirical import compare  # noqa: E402
from bettibounds.empirical.compare import analyze_landscape, compare_with_bound  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402
from bettibounds.empirical.resolution import cell_max, local_search  # noqa: E402
from bettibounds.empirical.sampler import LandscapeSample  # noqa: E402
from bettibounds.logspace import Evaluated  # noqa: E402
from bettibounds.theorems.base import Hypothesis  # noqa: E402


def _exp(l2=0.0, levels=(0.5,), grid=(41, 41), **over):
    base = {"network": {"layers": [1, 2, 1], "activation": "tanh", "bias": False},
            "loss": {"kind": "mse", "l2": l2},
            "data": {"x": [[-2.5], [1.1]], "y": [[0.3], [-0.2]]},
            "region": {"kind": "slice", "center": [0, 0, 0, 0], "directions": [[1, 0, 0, 0], [0, 1, 0, 0]],
                       "low": [-1, -1], "high": [1, 1]},
            "grid": list(grid), "levels": list(levels)}
    base.update(over)
    return parse_experiment(base)


def _synthetic(f):
    def sampler(grid):
        axes = [np.linspace(-1.0, 1.0, n) for n in grid]
        return LandscapeSample(f(*np.meshgrid(*axes, indexing="ij")), axes, "slice", np.zeros(4), np.eye(4)[:2],
                               {"kind": "listed"})
    return sampler


def _objective(f):
    return lambda x: float(f(*np.asarray(x, float)))


def _three_wells(x, y):
    return 1 - sum(np.exp(-((x - a) ** 2 + (y - b) ** 2) / 0.02) for a, b in [(-0.5, -0.5), (0.5, -0.4), (0.0, 0.5)])


def _small_k(monkeypatch, value: int):
    """compare.bounds with theorem K replaced by the exact value ``value`` (hypotheses kept), so a
    landscape built on purpose can exceed it."""
    real = compare.bounds

    def fake(spec, **kw):
        rep = real(spec, **kw)
        ev = Evaluated(mpmath.log(value, 2), mpmath.log10(value), value)
        upper = [dataclasses.replace(b, evaluated=ev) if b.theorem == "K" else b for b in rep.upper]
        return dataclasses.replace(rep, upper=upper)

    monkeypatch.setattr(compare, "bounds", fake)


# ------------------------------------------------------------------ item 2: conditional bounds
def test_an_excess_over_a_conditional_bound_is_not_called_a_violation(monkeypatch):
    _small_k(monkeypatch, 2)  # three wells: b_0 = 3 > 2
    res = analyze_landscape(_exp(l2=0.0), sampler=_synthetic(_three_wells), objective=_objective(_three_wells))
    row = res.levels[0]
    assert row["stable"] and not row["clipped"] and row["betti"] == [3, 0]
    cmp = row["comparison"]
    assert cmp["holds"] is False and cmp["verdict"] == "exceeds_conditional_bound" and cmp["conditional"]
    assert any("exceptional" in h for h in cmp["conditional_on"])
    assert res.violations == [] and len(res.exceeds_conditional) == 1
    d = res.to_dict()
    assert d["violations"] == 0 and d["exceeds_conditional"] == 1 and d["upper_bound"]["conditional"] is True
    text = res.to_text()
    assert "if c is not one of the finitely many exceptional levels" in text  # the hypothesis is printed
    assert "hypothesis [undecided]" in text and "VIOLATED" not in text and "contradicts nothing proved" in text
    # the CLI: exit 0, no "contradicts the theory"
    monkeypatch.setattr(compare, "analyze_landscape", lambda *a, **k: res)
    assert cli.main(["landscape", "examples/tiny_box.json"]) == 0


def test_an_excess_over_an_unconditional_bound_is_a_violation(monkeypatch, capsys):
    _small_k(monkeypatch, 2)
    res = analyze_landscape(_exp(l2=0.01), sampler=_synthetic(_three_wells), objective=_objective(_three_wells))
    cmp = res.levels[0]["comparison"]
    assert not res.bound.conditional  # l2 > 0 and the slice's rank was checked: every hypothesis holds
    assert cmp["verdict"] == "violated" and cmp["conditional"] is False and cmp["conditional_on"] == []
    assert len(res.violations) == 1 and res.exceeds_conditional == []
    assert "VIOLATED" in res.to_text()
    monkeypatch.setattr(compare, "analyze_landscape", lambda *a, **k: res)
    assert cli.main(["landscape", "examples/tiny_box.json"]) == 1
    assert "contradicts the theory" in capsys.readouterr().err


def test_compare_with_bound_reads_the_hypotheses_of_the_bound():
    from types import SimpleNamespace

    cond = SimpleNamespace(value=5, log10=mpmath.log10(5), rigorous=True,
                           hypotheses=(Hypothesis("c is not exceptional", "undecided"), Hypothesis("x", "holds")))
    assert compare_with_bound(6, cond, True)["verdict"] == "exceeds_conditional_bound"
    assert compare_with_bound(6, cond, True)["conditional_on"] == ["c is not exceptional"]
    assert compare_with_bound(5, cond, True)["verdict"] == "holds"
    assert compare_with_bound(5, cond, False)["verdict"] == "undecided"
    plain = SimpleNamespace(value=5, log10=mpmath.log10(5), rigorous=True, hypotheses=(Hypothesis("x", "holds"),))
    assert compare_with_bound(6, plain, True)["verdict"] == "violated"
    assert compare_with_bound(6, plain, False)["verdict"] == "violated"  # a partial sum above: still violated


def test_report_counts_only_unconditional_excesses_as_violations():
    from bettibounds.reproduce.sections import theory_vs_data

    base = {"compared": True, "lower": None, "betti": [3], "upper_holds": False}
    rows = [dict(base, upper_verdict="exceeds_conditional_bound", upper_conditional_on=["c is not exceptional"]),
            dict(base, upper_verdict="violated", upper_conditional_on=[]),
            dict(base, compared=False, upper_verdict="violated", upper_conditional_on=[])]
    assert theory_vs_data.check_rows(rows) == [rows[1]]
    assert theory_vs_data.conditional_excesses(rows) == [rows[0]]


# ------------------------------------------------------------------ item 3: the grid's resolution
def test_tiny_box_levels_below_the_grid_minimum_are_not_stable():
    # examples/tiny_box.json on a coarser grid: the data are fitted exactly inside the box, so S_0 is not empty,
    # but every grid value is positive; main reported betti 0, stable, "holds" at c = 0 and 1e-9
    import json

    with open("examples/tiny_box.json") as fh:
        d = json.load(fh)
    d.update(grid=[9, 9, 9, 9], levels=[0.0, 1e-9])
    res = analyze_landscape(parse_experiment(d), refine=2)
    assert res.sample.values.min() > 1e-9
    assert res.resolution.floor < 1e-12  # the local search found a point of S_{1e-9} inside the box
    for row in res.levels:
        assert row["betti"] == [0, 0, 0, 0] and row["stable"] is False and row["resolved"] is False
        assert row["comparison"] is None
    assert "found a point with loss" in res.levels[1]["unresolved_because"]
    assert "below every loss value" in res.levels[0]["unresolved_because"]
    assert "not resolved" in res.to_text()


def test_an_isolated_minimum_between_grid_points_is_not_reported_stable():
    # a narrow well at (0.025, 0.025): no vertex of the 21^2 grid nor of its refinement is inside {f <= 0.5}
    def f(x, y):
        return 1 - np.exp(-((x - 0.025) ** 2 + (y - 0.025) ** 2) / 0.0004)

    for objective in (None, _objective(f)):
        res = analyze_landscape(_exp(grid=(21, 21)), sampler=_synthetic(f), objective=objective)
        row = res.levels[0]
        assert row["betti"] == [0, 0] and row["betti_refined"] == [0, 0]  # both grids see nothing
        assert row["stable"] is False and row["resolved"] is False


def test_a_hidden_second_well_above_the_grid_minimum_is_caught_by_the_local_search():
    # well A (wide, on a vertex) is seen; well B (narrow, between the vertices of both grids) is not: at c = 0.5
    # the grid and its refinement give b_0 = 1, the truth is 2
    def f(x, y):
        a = np.exp(-((x + 0.5) ** 2 + y**2) / 0.09)
        b = np.exp(-((x - 0.525) ** 2 + (y - 0.025) ** 2) / 0.0009)
        return 1 - np.maximum(a, b)

    res = analyze_landscape(_exp(grid=(21, 21)), sampler=_synthetic(f), objective=_objective(f))
    row = res.levels[0]
    assert row["betti"] == [1, 0] and row["betti_refined"] == [1, 0]
    assert row["stable"] is False and "within the grid's resolution" in row["unresolved_because"]
    assert min(m.value for m in res.resolution.minima) < 1e-6  # the search reached B's bottom


def test_resolved_levels_stay_stable_with_the_local_search():
    res = analyze_landscape(_exp(levels=[0.5]), sampler=_synthetic(_three_wells), objective=_objective(_three_wells))
    row = res.levels[0]
    assert row["betti"] == [3, 0] and row["resolved"] and row["stable"]
    assert res.resolution.search == "L-BFGS-B" and len(res.resolution.minima) >= 3
    # a level just above a minimum's value, inside one cell's variation, is not
    low = analyze_landscape(_exp(levels=[0.01]), sampler=_synthetic(_three_wells),
                            objective=_objective(_three_wells)).levels[0]
    assert low["resolved"] is False and low["stable"] is False


def test_cell_star_and_local_search_helpers():
    axes = [np.linspace(0, 1, 3), np.linspace(0, 1, 3)]
    vals = np.arange(9.0).reshape(3, 3)
    assert cell_max(vals, axes, (0.25, 0.25)) == 4.0  # inside cell [0, .5]^2
    assert cell_max(vals, axes, (0.5, 0.5)) == 4.0  # at a vertex: the best of the four cells around it
    assert cell_max(vals, axes, (0.5, 0.75)) == 5.0  # on an edge: the better of two cells
    assert cell_max(vals, axes, (1.0, 1.0)) == 8.0  # a corner of the grid: one cell
    x, fx = local_search(lambda p: float((p[0] - 0.3) ** 2 + (p[1] + 2) ** 2), [0.9, 0.9], [0, 0], [1, 1])
    assert np.allclose(x, [0.3, 0.0], atol=1e-6) and fx == pytest.approx(4.0)  # stays in the box


# ------------------------------------------------------------------ negative levels of a loss >= 0
def test_negative_levels_of_a_nonnegative_loss_are_empty_exactly():
    # MSE (+ l2 >= 0) is >= 0: S_c is empty for c < 0, exactly; main reported such levels "unresolved"
    # ("below every loss value on the grid"), never stable
    res = analyze_landscape(_exp(l2=0.01, levels=[-0.5, -1e-12, 0.5], grid=(11, 11)), engine="torch")
    for row in res.levels[:2]:
        assert row["betti"] == [0, 0] and row["stable"] is True and row["resolved"] is True
        assert row["clipped"] is False and row["unresolved_because"] is None
        assert "non-negative" in row["empty_because"] and "l2" in row["empty_because"]
        assert row["comparison"]["verdict"] == "holds"
    assert res.levels[2]["empty_because"] is None
    assert "empty, exactly: c < 0 and the loss is non-negative" in res.to_text()
    # without the refined grid too (stable is otherwise None there: not checked)
    row = analyze_landscape(_exp(levels=[-0.5], grid=(11, 11)), refine=1, engine="torch").levels[0]
    assert row["stable"] is True and row["betti"] == [0, 0]


def test_negative_levels_are_not_claimed_empty_without_a_proof_of_non_negativity():
    from bettibounds.empirical.resolution import nonnegative_loss

    # a sampler that is not the experiment's loss (negative values): no claim, the old rule applies
    res = analyze_landscape(_exp(levels=[-0.5], grid=(11, 11)), sampler=_synthetic(lambda x, y: x + y))
    row = res.levels[0]
    assert row["empty_because"] is None and row["betti"] == [1, 0]
    bce = _exp(network={"layers": [1, 2, 1], "activation": "tanh", "bias": False, "output_activation": "logistic"},
               loss={"kind": "bce"}, data={"x": [[-2.5], [1.1]], "y": [[0.3], [1.0]]})
    assert "binary cross-entropy" in nonnegative_loss(bce)
    import torch

    from bettibounds.empirical.models import experiment_from_model

    net = torch.nn.Sequential(torch.nn.Linear(2, 3))
    x = torch.randn(4, 2)
    region = {"kind": "slice", "directions": {"random": 1, "seed": 0}, "low": [-1], "high": [1]}

    def model_exp(loss, y):
        return experiment_from_model(net, x, y, loss=loss, region=region, grid=[5])

    labels = torch.tensor([0, 1, 2, 1])
    assert "cross-entropy" in nonnegative_loss(model_exp("cross_entropy", labels))
    assert nonnegative_loss(model_exp("mse", torch.randn(4, 3))) is not None
    with pytest.raises(InvalidSpecError, match="log-probabilities"):  # logits given to nll: refused
        model_exp("nll", labels)
    # nll is claimed non-negative only after a LogSoftmax head that the engine recognises structurally (with
    # torch's activations, and with the fast ones, where the head is folded into cross entropy): elsewhere its
    # outputs are checked to be log-probabilities at the centre only
    for hidden in (torch.nn.ReLU(), torch.nn.Tanh()):
        head = torch.nn.Sequential(torch.nn.Linear(2, 3), hidden, torch.nn.Linear(3, 3), torch.nn.LogSoftmax(dim=1))
        exp = experiment_from_model(head, x, labels, loss="nll", region=region, grid=[5], levels=[-0.1, 5.0])
        assert "LogSoftmax head" in nonnegative_loss(exp)
        rows = analyze_landscape(exp, refine=1).levels
        assert rows[0]["empty_because"] == nonnegative_loss(exp) and rows[0]["betti"] == [0]
        assert rows[1]["empty_because"] is None

    class OwnLogSoftmax(torch.nn.Module):  # log-probabilities, but not by a recognised head
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 3)

        def forward(self, v):
            return torch.log_softmax(self.lin(v), dim=1)

    assert nonnegative_loss(experiment_from_model(OwnLogSoftmax(), x, labels, loss="nll", region=region,
                                                  grid=[5])) is None
    twice = torch.nn.LogSoftmax(dim=1)  # the head module also called inside: not "called once"
    inner = torch.nn.Sequential(torch.nn.Linear(2, 3), twice)
    assert nonnegative_loss(experiment_from_model(torch.nn.Sequential(inner, twice), x, labels, loss="nll",
                                                  region=region, grid=[5])) is None
    assert nonnegative_loss(model_exp(lambda p, t: (p - t).sum(), torch.randn(4, 3))) is None  # a callable
    soft = torch.tensor([[1.5, -0.5, 0.0]] * 4)  # a negative "probability": CE can be < 0, so such data is refused
    with pytest.raises(InvalidSpecError,
                       match=r"cross_entropy targets y of shape \(4, 3\) are probabilities in \[0, 1\], got 1.5"):
        model_exp("cross_entropy", soft)
    assert nonnegative_loss(model_exp("cross_entropy", soft.abs() / 1.5)) is not None


def test_known_minima_are_distinct():
    # a curved valley (Rosenbrock's): every grid minimum along it polishes to the one minimum (0.5, 0.25);
    # resolution.minima listed it 8 times
    def f(x, y):
        return 0.42 + (0.5 - x) ** 2 + 100 * (y - x**2) ** 2

    res = analyze_landscape(_exp(grid=(21, 21)), sampler=_synthetic(f), objective=_objective(f))
    minima = res.resolution.minima
    assert len(minima) == 1
    assert np.allclose(minima[0].point, [0.5, 0.25], atol=1e-5) and minima[0].value == pytest.approx(0.42, abs=1e-12)
    assert len(res.resolution.to_dict()["minima"]) == 1


def test_the_local_search_estimate_counts_at_least_the_evaluations_a_polish_takes(monkeypatch):
    """The time estimate counts budget.LOCAL_SEARCH_EVALUATIONS loss-and-gradient evaluations per start (it
    counted 200: 10-100x the measured time, enough to refuse runs under a time limit). On the example slice the
    polishes take fewer: the estimate stays on the long side."""
    import scipy.optimize

    from bettibounds._lib.budget import LOCAL_SEARCH_EVALUATIONS
    from bettibounds.empirical.experiment import load_experiment

    counts, minimize = [], scipy.optimize.minimize

    def counting(*a, **k):
        r = minimize(*a, **k)
        counts.append(int(r.nfev))
        return r

    monkeypatch.setattr(scipy.optimize, "minimize", counting)
    from pathlib import Path

    exp = load_experiment(Path(__file__).resolve().parents[2] / "examples" / "slice_2d.json")
    analyze_landscape(dataclasses.replace(exp, grid=[65, 65]), refine=1)
    assert counts and max(counts) <= LOCAL_SEARCH_EVALUATIONS, counts  # (measured: 6-8)
