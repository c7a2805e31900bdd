"""The landscape command's time estimate of a fused run, and the model engine built once per command.

A new-user trial (a 4-16-3 tanh classifier on iris, a 101 x 101 slice, engine auto -> fused) printed
estimates of 12 to 72 s for runs of 0.4 to 0.9 s: the pilot timed the model engine (or, for an experiment
file, the torch kernel) as a stand-in for the fused kernel, 10 to 160 times slower per point, and the
fused engine's load was counted after it had loaded. The same command built the model engine four times
(the loader's checks, the fused route's check, the pilot, the local search), 0.15-2.5 s each.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("numba")

import torch  # noqa: E402

from bettibounds._lib import budget  # noqa: E402
from bettibounds.cli.landscape import _enforce_budget  # noqa: E402
from bettibounds.empirical.experiment import load_experiment  # noqa: E402
from bettibounds.empirical.models import experiment_from_model  # noqa: E402
from bettibounds.empirical.sampler import make_kernel  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "slice_2d.json"


def _args(engine: str = "auto") -> argparse.Namespace:
    return argparse.Namespace(refine=1, no_local_search=True, certify=False, scheduler=None, engine=engine,
                              workers=None)


def _estimate(monkeypatch, exp, kernel) -> budget.Cost:
    """The cost the landscape command would enforce for ``exp`` run on ``kernel`` (grid only, no local search)."""
    seen: list = []
    enforce = budget.enforce
    monkeypatch.setattr(budget, "enforce", lambda cost, *a, **k: seen.append(cost) or enforce(cost, *a, **k))
    _enforce_budget(exp, _args(), kernel, "cpu", "float64")
    return seen[0]


def _grid_cpu_seconds(exp, kernel) -> float:
    """CPU seconds (every thread, at reference speed) of the grid's evaluation on ``kernel``, best of 3."""
    lo, hi = exp.region["low"], exp.region["high"]
    axes = [np.linspace(a, b, n) for a, b, n in zip(lo, hi, exp.grid)]
    t = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    kw = ({"center": exp.center, "directions": exp.directions} if hasattr(exp, "directions")
          else {"center": np.asarray(exp.region["center"], float),
                "directions": np.random.default_rng(0).normal(size=(len(axes), kernel.n_params)) / kernel.n_params})
    kernel.evaluate_chunked(t[:8], "slice", **kw)  # loads the compiled kernel
    return min(budget.cpu_seconds(lambda: kernel.evaluate_chunked(t, "slice", **kw)) for _ in range(3))


def _evaluation_part(cost: budget.Cost) -> float:
    (seconds,) = [s for what, s in cost.parts if what.startswith("the loss at")]
    return seconds


@pytest.fixture(scope="module")
def classifier():
    """A 4-16-3 tanh classifier with cross entropy on 150 samples, a 61 x 61 slice (engine auto: fused)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double().eval()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(150, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (150,), generator=g)
    return experiment_from_model(net, x, y, loss="cross_entropy", grid=[61, 61], levels=[0.5],
                                 region={"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1],
                                         "high": [1, 1]})


def test_fused_estimate_of_an_experiment_file_is_the_fused_kernels(monkeypatch):
    """The estimate's evaluation part is measured on the fused kernel: within 4x of its CPU time on the grid
    (the torch kernel stood in for it: 8-10x on this example), and no load counted once it is loaded."""
    exp = load_experiment(EXAMPLE)
    kernel = make_kernel(exp, engine="fused", device="cpu", dtype="float64")
    assert kernel.engine == "fused"
    actual = _grid_cpu_seconds(exp, kernel)
    cost = _estimate(monkeypatch, exp, kernel)
    assert actual / 4 <= _evaluation_part(cost) <= 4 * actual, (cost.parts, actual)
    assert not any("fused engine" in what for what, _ in cost.parts), cost.parts  # loaded: nothing left to load


def test_fused_estimate_of_a_model_is_the_fused_kernels(monkeypatch, classifier):
    """A model that auto routes to the fused engine: estimated on it (the model engine stood in: about 100x),
    and its compile or load, done by the route's check before the estimate, is not counted again."""
    kernel = make_kernel(classifier, engine="auto", device="cpu", dtype="float64")
    assert kernel.engine == "fused", kernel.engine_reason
    actual = _grid_cpu_seconds(classifier, kernel)
    cost = _estimate(monkeypatch, classifier, kernel)
    assert actual / 4 <= _evaluation_part(cost) <= 4 * actual, (cost.parts, actual)
    assert not any("fused engine" in what for what, _ in cost.parts), cost.parts


def test_model_engine_built_once_and_copies_keep_their_own_reason(monkeypatch, classifier):
    """make_kernel (auto, then model for the pilot and the local search) reuses the engine that made the
    loader's checks, as copies: the same numbers, and each caller's engine_reason its own."""
    built: list = []
    init = ModelEngine.__init__
    monkeypatch.setattr(ModelEngine, "__init__", lambda self, *a, **k: built.append(1) or init(self, *a, **k))
    auto = make_kernel(classifier, engine="auto", device="cpu", dtype="float64")
    model = make_kernel(classifier, engine="model", device="cpu", dtype="float64")
    again = make_kernel(dataclasses.replace(classifier, levels=[0.1]), engine="model", device="cpu")
    assert built == []
    assert model.engine_reason == "requested" and auto.engine_reason.startswith("auto:")
    assert model is not classifier.checked_engine and again is not model
    fresh = ModelEngine(classifier.problem, classifier.x, classifier.y, device="cpu", dtype="float64")
    t = np.random.default_rng(2).uniform(-1, 1, (5, 2))
    kw = {"center": classifier.center, "directions": classifier.directions}
    assert np.array_equal(model.evaluate_chunked(t, "slice", **kw), fresh.evaluate_chunked(t, "slice", **kw))
    assert model.record() == fresh.record()
    # float32, or an experiment sent elsewhere (pickled without its engine): built anew
    make_kernel(classifier, engine="model", device="cpu", dtype="float32")
    assert pickle.loads(pickle.dumps(classifier)).checked_engine is None
    assert len(built) == 2


def test_estimate_refuses_only_above_the_limit(monkeypatch, classifier):
    """With the fused pilot, a time limit above the estimate lets the run through and one below refuses."""
    from bettibounds.errors import ResourceLimitError

    kernel = make_kernel(classifier, engine="auto", device="cpu", dtype="float64")
    monkeypatch.setattr(budget, "contention", lambda: 1.0)
    seconds = _enforce_budget(classifier, _args(), kernel, "cpu", "float64")
    assert seconds > 0
    monkeypatch.setenv("BETTIBOUNDS_MAX_SECONDS", str(seconds * 50))
    _enforce_budget(classifier, _args(), kernel, "cpu", "float64")
    monkeypatch.setenv("BETTIBOUNDS_MAX_SECONDS", str(seconds / 50))
    with pytest.raises(ResourceLimitError, match="the landscape would take"):
        _enforce_budget(classifier, _args(), kernel, "cpu", "float64")


def _index(folder: Path, name: str, version: str, signatures: list) -> None:
    """A numba cache index as numba writes one: its version pickled, then the pickled (stamp, overloads)."""
    with open(folder / name, "wb") as fh:
        pickle.dump(version, fh)
        fh.write(pickle.dumps((b"stamp", {(sig, ("cpu", "")): "f.nbc" for sig in signatures})))


def test_fused_cached_for_reads_the_precision_from_numbas_index(tmp_path):
    """A cache holding the float64 kernel only is not a float32 cache (a float32 run counted 0.5 s of loading
    for a 16 s compile, and was not announced); another numba version's index, or a damaged one, is no cache."""
    import numba

    from bettibounds._lib.pilots import fused_cached_for

    sig64 = ("Array(float64, 2, 'C', False, aligned=True)", "int64")
    sig32 = ("Array(float32, 2, 'C', False, aligned=True)", "int64")
    assert not fused_cached_for("float64", str(tmp_path))
    _index(tmp_path, "_fused_numba.fused_kernel-1077.py311.nbi", numba.__version__, [sig64])
    _index(tmp_path, "_fused_numba.act_vector_array-839.py311.nbi", numba.__version__, [sig32])  # not the kernel
    assert fused_cached_for("float64", str(tmp_path)) and not fused_cached_for("float32", str(tmp_path))
    _index(tmp_path, "_fused_numba.fused_kernel-1077.py311.nbi", "0.0.1", [sig64, sig32])
    assert not fused_cached_for("float64", str(tmp_path))
    (tmp_path / "_fused_numba.fused_kernel-1077.py311.nbi").write_bytes(b"\x80\x04junk")
    assert not fused_cached_for("float64", str(tmp_path))
    _index(tmp_path, "_fused_numba.fused_kernel-1080.py311.nbi", numba.__version__, [sig64, sig32])
    assert fused_cached_for("float32", str(tmp_path))


def test_a_kernel_still_to_compile_is_estimated_with_its_compile(monkeypatch):
    """Neither loaded nor cached for its precision: the stand-in estimates it and the compile is counted."""
    import bettibounds.engines.fused as fused
    from bettibounds._lib import pilots

    exp = load_experiment(EXAMPLE)
    kernel = make_kernel(exp, engine="fused", device="cpu", dtype="float64")
    monkeypatch.setattr(fused, "kernel_loaded", lambda dtype="float64": False)
    monkeypatch.setattr(pilots, "fused_cached_for", lambda dtype, cache=None: False)
    assert pilots.fused_point_pilot(kernel, 2) is None
    cost = _estimate(monkeypatch, exp, kernel)
    assert any(what.startswith("compiling the fused engine") and s == 30.0 for what, s in cost.parts), cost.parts


def test_barcode_grid_estimate_is_the_fused_kernels_and_the_run_uses_it(monkeypatch):
    """``barcode`` on a grid: the estimate is piloted on the kernel the run will use (returned for the run),
    the fused one here (the torch kernel stood in for it)."""
    from bettibounds.cli.barcode import _enforce_budget as barcode_budget

    exp = load_experiment(EXAMPLE)
    seen: list = []
    enforce = budget.enforce
    monkeypatch.setattr(budget, "enforce", lambda cost, *a, **k: seen.append(cost) or enforce(cost, *a, **k))
    args = argparse.Namespace(engine="auto", scheduler=None, progress=False, minima=None, workers=None)
    kernel = barcode_budget(exp, args, True, {}, "cpu", "float64")
    assert kernel.engine == "fused", kernel.engine_reason
    actual = _grid_cpu_seconds(exp, kernel)
    assert actual / 4 <= _evaluation_part(seen[0]) <= 4 * actual, (seen[0].parts, actual)
    assert not any("fused engine" in what for what, _ in seen[0].parts), seen[0].parts
