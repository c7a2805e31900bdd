"""train_to_minimum: the trained centre of a landscape slice (the report's section 4 trains its slices with it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from bettibounds.empirical import TrainedMinimum, parse_experiment, train_to_minimum
from bettibounds.empirical.training import initial_parameters
from bettibounds.errors import InvalidSpecError


def _teacher_experiment():
    # tanh 1-1-1 without bias, labelled by the teacher (w, v) = (1.5, 1.0): the global minima are the teacher and
    # its image (-1.5, -1.0) under the sign flip, at loss 0
    x = np.linspace(-2, 2, 7)
    return parse_experiment({"network": {"layers": [1, 1, 1], "activation": "tanh", "bias": False},
                             "data": {"x": x[:, None].tolist(), "y": (1.0 * np.tanh(1.5 * x))[:, None].tolist()}})


def test_trains_to_the_teacher_built_into_the_data():
    exp = _teacher_experiment()
    start = train_to_minimum(exp, seed=0, iterations=1, device="cpu")  # one L-BFGS iteration: far from it
    res = train_to_minimum(exp, seed=0, iterations=50, device="cpu")
    assert isinstance(res, TrainedMinimum) and res.theta.shape == (2,)
    # L-BFGS stops when the loss changes by less than 1e-9 (torch's tolerance_change), so near, not at, 0
    assert start.loss > 1e-3 and res.loss < 1e-8 and res.gradient_norm < 1e-4
    assert np.allclose(np.abs(res.theta), [1.5, 1.0], atol=1e-3) and res.theta[0] * res.theta[1] > 0  # the orbit
    d = res.to_dict()
    assert d["seed"] == 0 and d["iterations"] == 50 and d["device"] == "cpu" and d["dtype"] == "float64"
    assert d["theta"] == [float(t) for t in res.theta] and "L-BFGS" in d["optimiser"]
    assert "loss" in res.to_text() and "seed 0" in res.to_text()


def test_seeded_and_reproducible():
    exp = _teacher_experiment()
    a = train_to_minimum(exp, seed=3, iterations=5, device="cpu")
    b = train_to_minimum(exp, seed=3, iterations=5, device="cpu")
    assert np.array_equal(a.theta, b.theta)
    assert not np.array_equal(initial_parameters(exp.spec, 3), initial_parameters(exp.spec, 4))


def test_initialisation_is_uniform_in_one_over_root_fan_in_per_layer():
    exp = parse_experiment({"network": {"layers": [3, 16, 16, 1], "activation": "tanh", "skip": "input-output"},
                            "data": {"x": [[0.1, 0.2, 0.3]], "y": [[0.5]]}})
    theta = initial_parameters(exp.spec, 0)
    assert theta.shape == (exp.spec.n_params,)
    first = 3 * 16 + 16  # W_1 and b_1: fan-in 3
    assert np.all(np.abs(theta[:first]) <= 1 / math.sqrt(3)) and np.max(np.abs(theta[:first])) > 1 / math.sqrt(16)
    assert np.all(np.abs(theta[first:-3]) <= 1 / 4)  # the layers of fan-in 16
    assert np.all(np.abs(theta[-3:]) <= 1 / math.sqrt(3))  # the input-output skip U: 1/sqrt(d)


@pytest.mark.parametrize("kw, match", [({"iterations": 0}, "iterations"), ({"iterations": True}, "iterations"),
                                       ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed")])
def test_bad_arguments_are_refused(kw, match):
    with pytest.raises(InvalidSpecError, match=match):
        train_to_minimum(_teacher_experiment(), **{"seed": 0, "iterations": 5, "device": "cpu", **kw})


def test_only_spec_based_experiments():
    with pytest.raises(InvalidSpecError, match="spec-based Experiment"):
        train_to_minimum({"network": {"layers": [1, 1, 1]}}, seed=0)
