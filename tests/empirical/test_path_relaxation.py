"""Path relaxation (issue 22): the convergence test per path, the resolution test, and the batched
backpropagation that the real-data sweep runs on.

Oracles: two-dimensional landscapes whose lowest paths are known by construction -- a curved valley
with its saddle at level 1 (the straight line crosses at 6), and a barrier 1 / (1 + y^2) that a path
lowers without end by moving out in y (no converged path exists: the test must never pass there);
the torch kernel's autograd gradients for the hand-written backward.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bettibounds.barcode.evaluate import FunctionEvaluator
from bettibounds.barcode.relax import relax_paths
from bettibounds.errors import InvalidSpecError


def _valley():
    """Minima (+-1, 0) at 0; valley floor y = 1 - x^2; its top, the saddle (0, 1), at level 1."""
    def f(X):
        x, y = X[:, 0], X[:, 1]
        return (x**2 - 1) ** 2 + 5 * (y - (1 - x**2)) ** 2

    def g(X):
        x, y = X[:, 0], X[:, 1]
        r = y - (1 - x**2)
        return np.stack([4 * x * (x**2 - 1) + 20 * r * x, 10 * r], 1)

    return FunctionEvaluator(2, f, g)


def _receding():
    """Minima along x = +-1 at 0; the barrier between them at height y is 1 / (1 + y^2) -> 0."""
    def f(X):
        x, y = X[:, 0], X[:, 1]
        return (x**2 - 1) ** 2 / (1 + y**2)

    def g(X):
        x, y = X[:, 0], X[:, 1]
        return np.stack([4 * x * (x**2 - 1) / (1 + y**2), -((x**2 - 1) ** 2) * 2 * y / (1 + y**2) ** 2], 1)

    return FunctionEvaluator(2, f, g)


@pytest.mark.parametrize("method", ["adam", "gd"])
def test_a_curved_valley_relaxes_to_its_saddle_and_converges(method):
    r = relax_paths(_valley(), [[-1.0, 0.0]], [[1.0, 0.0]], images=10, iterations=400, method=method)
    assert r.straight[0] == pytest.approx(6.0)
    assert r.levels[0] == pytest.approx(1.0, abs=5e-3) and r.levels[0] >= 1.0 - 1e-9  # an explicit path: never below
    assert r.status[0] in ("converged", "stalled") and r.resolved[0] and r.converged[0]
    assert r.iterations[0] < 400  # it stopped by itself
    rec = r.to_dict()["paths"][0]
    assert rec["converged"] is True and rec["floor"] == pytest.approx(0.0, abs=1e-12)


def test_a_barrier_that_keeps_falling_never_passes_the_test():
    # no lowest path exists: every relaxation ends on its budget, however long, while still falling
    ev = _receding()
    for iterations in (60, 300):
        r = relax_paths(ev, [[-1.0, 0.3]], [[1.0, 0.3]], images=10, iterations=iterations)
        assert r.status == ("budget",) and not r.converged[0] and r.iterations[0] == iterations
        assert r.reasons[0].startswith("iterations") and r.gradient_evaluations[0] == 10 * iterations
        assert r.levels[0] < 0.5 * r.straight[0]  # it did lower the barrier ...
        barrier = r.test_levels[0] - r.floors[0]
        assert r.half_levels[0] - r.test_levels[0] > 0.05 * barrier  # ... and was still lowering it fast


def test_a_chain_too_coarse_for_the_valley_is_unresolved():
    ev = _valley()
    coarse = relax_paths(ev, [[-1.0, 0.0]], [[1.0, 0.0]], images=2, iterations=300)
    # the iterations end (two images cannot bend further), but the chords cut the valley's corner
    assert coarse.status[0] in ("converged", "stalled") and not coarse.resolved[0] and not coarse.converged[0]
    assert coarse.half_resolution_levels[0] > coarse.levels[0] + 0.1
    assert coarse.reasons[0].startswith("resolution: at 2 images") and coarse.images[0] == 2
    fine = relax_paths(ev, [[-1.0, 0.0]], [[1.0, 0.0]], images=10, iterations=300)
    assert fine.resolved[0] and fine.levels[0] < coarse.levels[0]


def test_no_barrier_paths_and_refusals():
    ev = FunctionEvaluator(2, lambda X: (X**2).sum(1), lambda X: 2 * X)
    r = relax_paths(ev, [[0.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, -1.0]], images=4, iterations=50)
    # from the minimum up to (1, 0) the loss only rises: no barrier; (1, 1) -> (1, -1) dips below both ends
    assert r.status == ("no barrier", "no barrier") and r.converged.all() and (r.iterations == 0).all()
    with pytest.raises(InvalidSpecError, match="method"):
        relax_paths(ev, [[0.0, 0.0]], [[1.0, 0.0]], method="lbfgs")
    with pytest.raises(InvalidSpecError, match="fast"):
        relax_paths(ev, [[0.0, 0.0]], [[1.0, 0.0]], fast=FunctionEvaluator(3, lambda X: X.sum(1), np.ones_like))
    with pytest.raises(InvalidSpecError, match="rtol"):
        relax_paths(ev, [[0.0, 0.0]], [[1.0, 0.0]], rtol=-1)


def test_minima_graph_records_each_paths_convergence():
    from bettibounds.barcode.minima import minima_graph_barcode

    ev = _valley()
    mg = minima_graph_barcode(ev, [[-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], identify_tol=1e-9, images=10,
                              iterations=300)
    conv = mg.meta["convergence"]
    assert conv["paths_total"] == 1 and conv["converged"] == 1 and conv["paths"][0]["pair"] == [0, 1]
    assert conv["death_path_converged"] == {1: True}  # the younger minimum (index 1, a tie by index) dies there
    assert mg.relaxation is not None and mg.graph_deaths[1] == pytest.approx(1.0, abs=5e-3)


def test_cosine_schedule_settles_where_a_constant_rate_keeps_oscillating():
    from bettibounds.barcode.minima import descend

    # |x| + |y|: the gradient never shrinks, so Adam's steps stay ~lr and a constant rate circles the minimum
    ev = FunctionEvaluator(2, lambda X: np.abs(X).sum(1), np.sign)
    const, _ = descend(ev, [[1.03, -2.01]], steps=200, lr=0.1)
    cos, _ = descend(ev, [[1.03, -2.01]], steps=200, lr=0.1, schedule="cosine")
    assert np.abs(const).max() > 0.01 and np.abs(cos).max() < 0.1 * np.abs(const).max()
    with pytest.raises(InvalidSpecError, match="schedule"):
        descend(ev, [[1.0, -2.0]], steps=2, schedule="linear")


# ------------------------------------------------------------------ the hand-written backward


@pytest.mark.parametrize("widths, act, bias, l2", [((3,), "tanh", True, 0.0),
                                                   ((4, 5), "logistic", (True, False, True), 0.1),
                                                   ((3, 3, 2), "tanh", False, 0.0)])
def test_mlp_evaluator_matches_the_kernels_autograd(widths, act, bias, l2):
    pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.backprop import MLPEvaluator
    from bettibounds.barcode.evaluate import KernelEvaluator
    from bettibounds.engines.torch_kernel import LossKernel

    rng = np.random.default_rng(1)
    spec = ArchitectureSpec(inputs=3, widths=widths, activation=act, samples=7, outputs=2, bias=bias, l2=l2)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    pts = rng.normal(size=(300, spec.n_params))
    mine = MLPEvaluator(spec, x, y)
    mine.batch = 128  # three chunks
    v, g = mine.values_and_gradients(pts)
    vk, gk = KernelEvaluator(LossKernel(spec, x, y)).values_and_gradients(pts)
    assert np.allclose(v, vk, rtol=1e-12, atol=1e-14) and np.allclose(g, gk, rtol=1e-10, atol=1e-12)
    assert np.allclose(mine.values(pts), vk, rtol=1e-12, atol=1e-14)
    v32, g32 = MLPEvaluator(spec, x, y, dtype="float32").values_and_gradients(pts)
    assert np.allclose(v32, vk, rtol=1e-4, atol=1e-5) and np.allclose(g32, gk, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kw, words", [({"activation": "softplus"}, "activation"), ({"loss": "bce"}, "loss"),
                                       ({"skip": "input-output"}, "skip")])
def test_mlp_evaluator_refuses_what_it_does_not_compute(kw, words):
    pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.backprop import MLPEvaluator

    base = {"inputs": 2, "widths": (3,), "activation": "tanh", "samples": 4}
    if kw.get("loss") == "bce":
        base["output_activation"] = "sigmoid"
    spec = ArchitectureSpec(**{**base, **kw})
    with pytest.raises(InvalidSpecError, match=words):
        MLPEvaluator(spec, np.zeros((4, 2)), np.zeros((4, 1)))
    assert math.isfinite(spec.n_params)
