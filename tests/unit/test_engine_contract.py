"""Every engine of the registry implements the contract of bettibounds.engines.base."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from bettibounds._lib.extras import EXTRAS
from bettibounds.engines import AUTO, ENGINES, build_engine, engine_choices, engine_names, engine_record, get_engine
from bettibounds.engines.base import DifferentiableEngine, LossEngine
from bettibounds.errors import InvalidSpecError, UnknownNameError
from bettibounds.spec import ArchitectureSpec


def _have(*mods: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in mods)


def _needs(name: str) -> tuple[str, ...]:
    """The modules an engine's instances need: its extra's (from the registry entry), and torch's for
    a wrapper, which runs the torch engine among others."""
    entry = get_engine(name)
    return (*EXTRAS[entry.extra][1], *(EXTRAS["empirical"][1] if entry.wrapper else ()))


#: the spec-based engines of the registry (built from an ArchitectureSpec by build_engine)
SPEC_ENGINES = [n for n in engine_names() if ENGINES[n].evaluates == "spec"]


def test_registry_names_and_unknown_name():
    assert set(engine_names()) <= set(engine_names(wrappers=True)) == set(ENGINES)
    assert all(ENGINES[n].wrapper for n in set(ENGINES) - set(engine_names())) and "torch" in engine_names()
    assert all(e.name == n and e.extra in EXTRAS and e.evaluates in ("spec", "model") for n, e in ENGINES.items())
    with pytest.raises(UnknownNameError, match=f"valid engine names are: {', '.join(sorted(ENGINES))}"):
        get_engine("numpy")


def test_engine_choices_are_auto_and_the_registry():
    """``engine=`` accepts "auto" and the registry's engines, nothing else (the registry is the one
    source of engine names: the resolver and the CLI read it)."""
    from bettibounds.cli import build_parser
    from bettibounds.engines import resolve_engine

    assert AUTO not in ENGINES and engine_choices() == (AUTO, *engine_names())
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2)
    for name in engine_names():
        assert resolve_engine(name, spec, "slice", 2) == (name, "requested")
    for wrapper in set(ENGINES) - set(engine_names()):
        with pytest.raises(InvalidSpecError, match=f"engine must be one of {', '.join(engine_choices())}, "
                                                   f"got '{wrapper}'"):
            resolve_engine(wrapper, spec, "slice", 2)
    for command in ("landscape", "barcode"):
        args = build_parser().parse_args([command, "x.json"])
        assert args.engine == AUTO and args.dtype is None


def test_importing_the_registry_imports_no_engine():
    import subprocess
    import sys

    code = ("import sys, bettibounds.engines as e; e.ENGINES['torch'].summary; "
            "print(sorted(m for m in ('torch', 'numba', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_engine_class_has_the_contract(name):
    if not _have(*_needs(name)):
        pytest.skip(f"{name} needs {_needs(name)}")
    cls = get_engine(name).load()
    assert callable(getattr(cls, "evaluate_chunked", None)), name
    if not get_engine(name).wrapper:
        assert getattr(cls, "engine", None) == name  # what its results record


@pytest.mark.skipif(not _have("torch"), reason="needs torch")
def test_torch_engine_instance_satisfies_the_protocols_and_records_itself():
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    eng = build_engine("torch", spec, [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    assert isinstance(eng, LossEngine) and isinstance(eng, DifferentiableEngine)
    assert engine_record(eng) == {"engine": "torch", "device": "cpu", "dtype": "float64"}
    vals = eng.evaluate_chunked(np.zeros((3, spec.n_params)))
    assert vals.dtype == np.float64 and vals.tolist() == [0.125] * 3


@pytest.mark.skipif(not _have("torch", "numba"), reason="needs numba")
def test_fused_engine_instance_satisfies_the_protocol():
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    eng = build_engine("fused", spec, [[1.0], [-1.0]], [[0.5], [0.0]])
    assert isinstance(eng, LossEngine)
    assert engine_record(eng)["engine"] == "fused"


@pytest.mark.parametrize("name", SPEC_ENGINES)
def test_every_spec_engine_computes_the_torch_engines_loss_and_refuses_bad_points(name):
    """Each spec-based engine of the registry, built by name, is the torch engine's loss in float64 (a
    2-direction slice and full parameter vectors) and refuses malformed points with InvalidSpecError."""
    if not _have(*_needs(name), *EXTRAS["empirical"][1]):
        pytest.skip(f"{name} needs {_needs(name)} and the torch engine")
    spec = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=4)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    eng = build_engine(name, spec, x, y, device="cpu", dtype="float64")
    ref = build_engine("torch", spec, x, y, device="cpu", dtype="float64")
    assert isinstance(eng, LossEngine) and eng.n_params == spec.n_params
    assert engine_record(eng) == {"engine": name, "device": "cpu", "dtype": "float64"}
    center, directions = rng.normal(size=spec.n_params), rng.normal(size=(2, spec.n_params))
    coords, thetas = rng.uniform(-1, 1, size=(9, 2)), rng.normal(size=(6, spec.n_params))
    for args, kwargs in (((coords, "slice"), {"center": center, "directions": directions}), ((thetas,), {})):
        got, want = eng.evaluate_chunked(*args, **kwargs), ref.evaluate_chunked(*args, **kwargs)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    bad = [((thetas[:, :-1],), {}), ((np.full((2, spec.n_params), np.nan),), {}), ((thetas, "sideways"), {}),
           ((coords, "slice"), {}), ((coords[:, :1], "slice"), {"center": center, "directions": directions})]
    for args, kwargs in bad:
        with pytest.raises(InvalidSpecError):
            eng.evaluate_chunked(*args, **kwargs)


def test_wrappers_are_not_built_by_name():
    for wrapper in set(ENGINES) - set(engine_names()):
        with pytest.raises(InvalidSpecError, match="Dask client"):
            build_engine(wrapper, None, None, None)


@pytest.mark.skipif(not _have("torch"), reason="needs torch")
def test_model_engine_instance_satisfies_the_protocols_and_records_itself():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Tanh(), torch.nn.Linear(2, 1, bias=False))
    eng = build_engine("model", net.eval(), [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    assert isinstance(eng, LossEngine) and isinstance(eng, DifferentiableEngine)
    assert engine_record(eng) == {"engine": "model", "device": "cpu", "dtype": "float64"}
    vals = eng.evaluate_chunked(np.zeros((3, eng.n_params)))
    assert vals.dtype == np.float64 and vals.tolist() == [0.125] * 3  # torch's mean over the 2 x 1 elements


# ---------------------------------------------------------------- an engine added to the registry runs as itself
_TINY = {"network": {"layers": [1, 2, 1], "activation": "tanh"}, "loss": {"kind": "mse"},
         "data": {"x": [[1.0], [-1.0], [0.5]], "y": [[0.5], [0.0], [0.2]]},
         "region": {"kind": "slice", "center": [0.3] * 7, "directions": {"random": 2, "seed": 1},
                    "low": [-1, -1], "high": [1, 1]},
         "grid": [5, 4], "levels": [0.1], "homology_dims": [0]}


def _register_naive(monkeypatch):
    """A throwaway engine "naive" in the registry: the torch kernel under another name, counting its calls."""
    from bettibounds.engines import EngineEntry
    from bettibounds.engines.torch_kernel import LossKernel

    class NaiveEngine:
        """The contract (LossEngine) and nothing more: callers may use nothing else."""

        engine = "naive"
        calls = 0

        def __init__(self, spec, x, y, *, device=None, dtype="float64"):
            self._kernel = LossKernel(spec, x, y, device=device, dtype=dtype)
            self.n_params, self.device, self.dtype = spec.n_params, self._kernel.device, self._kernel.dtype

        def evaluate_chunked(self, points, mode="full", *, center=None, directions=None, chunk=None,
                             progress=False):
            type(self).calls += 1
            return self._kernel.evaluate_chunked(points, mode, center=center, directions=directions, chunk=chunk)

    monkeypatch.setattr(sys.modules[__name__], "NaiveEngine", NaiveEngine, raising=False)
    monkeypatch.setitem(ENGINES, "naive", EngineEntry("naive", "a test engine", f"{__name__}:NaiveEngine",
                                                      "empirical"))
    return NaiveEngine


@pytest.mark.skipif(not _have("torch"), reason="needs torch")
def test_a_registered_engine_is_the_one_that_runs_and_is_recorded(monkeypatch):
    """Issue 19's trial: ``--engine naive`` (a new registry entry) was accepted, then the torch kernel
    ran and the output said ``engine: torch (requested)``."""
    from bettibounds.empirical.experiment import parse_experiment
    from bettibounds.empirical.sampler import make_kernel, sample_landscape

    naive = _register_naive(monkeypatch)
    exp = parse_experiment(_TINY)
    assert "naive" in engine_choices()
    kernel = make_kernel(exp, engine="naive", device="cpu")
    assert type(kernel) is naive and kernel.engine_reason == "requested"
    sample = sample_landscape(exp, engine="naive", device="cpu")
    assert sample.engine == "naive" and naive.calls == 1
    torch_sample = sample_landscape(exp, engine="torch", device="cpu")
    assert torch_sample.engine == "torch" and naive.calls == 1
    np.testing.assert_array_equal(sample.values, torch_sample.values)


@pytest.mark.skipif(not _have("torch"), reason="needs torch")
def test_an_engine_recording_another_name_is_refused(monkeypatch):
    naive = _register_naive(monkeypatch)
    monkeypatch.setattr(naive, "engine", "torch")  # its results would say torch
    from bettibounds.empirical.experiment import parse_experiment
    from bettibounds.empirical.sampler import make_kernel

    with pytest.raises(InvalidSpecError, match="engine 'naive' built a NaiveEngine whose engine attribute is 'torch'"):
        make_kernel(parse_experiment(_TINY), engine="naive", device="cpu")


@pytest.mark.skipif(not _have("torch", "distributed"), reason="needs torch and dask")
def test_the_dask_evaluator_refuses_a_registered_engine_it_cannot_run(monkeypatch):
    """The Dask evaluator used to build the torch kernel for any registry name and record that name."""
    from bettibounds.engines.dask_engine import DASK_ENGINES, DaskEvaluator, _worker_kernel

    _register_naive(monkeypatch)
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2)
    with pytest.raises(InvalidSpecError, match=f"runs the engines {', '.join(DASK_ENGINES)}; engine 'naive' runs "
                                               "in this process only"):
        DaskEvaluator(None, spec, [[1.0], [-1.0]], [[0.5], [0.0]], engine="naive")
    with pytest.raises(InvalidSpecError, match="a Dask worker runs the torch, fused and model engines, not 'naive'"):
        _worker_kernel(SimpleNamespace(token="t", spec=spec, x=None, y=None, device="cpu", dtype="float64"), "naive")


@pytest.mark.skipif(not _have("torch", "gudhi"), reason="needs torch and gudhi")
def test_barcode_sample_mode_refuses_a_registered_engine(monkeypatch, tmp_path, cli_main):
    """Sample mode descends with the torch kernel: another engine is refused, not silently replaced."""
    import json

    _register_naive(monkeypatch)
    path = tmp_path / "e.json"
    path.write_text(json.dumps({k: _TINY[k] for k in ("network", "loss", "data")}))
    res = cli_main("barcode", str(path), "--engine", "naive", "--minima", "2")
    assert res.returncode == 2 and "--engine naive applies to grid mode" in res.stderr, res.stderr


@pytest.mark.skipif(not _have("torch", "gudhi"), reason="needs torch and gudhi")
def test_landscape_command_runs_and_records_a_registered_engine(monkeypatch, tmp_path, cli_main):
    """``bettibounds landscape x.json --engine naive``: the output records the engine that ran."""
    import json

    naive = _register_naive(monkeypatch)
    assert not hasattr(naive, "evaluate")  # not differentiable: the CLI's time pilot must not need evaluate()
    path = tmp_path / "e.json"
    path.write_text(json.dumps(_TINY))
    res = cli_main("landscape", str(path), "--engine", "naive", "--device", "cpu", "--refine", "1", "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)["sample"]
    assert (d["engine"], d["engine_reason"]) == ("naive", "requested") and naive.calls >= 1

@pytest.mark.skipif(not _have("torch"), reason="needs torch")
@pytest.mark.parametrize("name", ["torch", "fused", "model"])
def test_engines_take_and_refuse_the_same_points_and_modes(name):
    """One shape check (engines.validation.check_points) for every engine: a 1-D array is one
    coordinate per point on a 1-D slice; anything not (N, width) is refused with the same message."""
    if name == "fused" and not _have("numba"):
        pytest.skip("needs numba")
    import torch

    x, y = [[1.0], [-1.0]], [[0.5], [0.0]]
    if name == "model":
        net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Tanh(),
                                  torch.nn.Linear(2, 1, bias=False)).double().eval()
        eng = build_engine("model", net, x, y, device="cpu")
    else:
        spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
        eng = build_engine(name, spec, x, y, **({} if name == "fused" else {"device": "cpu"}))
    c, d = np.zeros(eng.n_params), np.eye(eng.n_params)[:1]
    flat = eng.evaluate_chunked(np.array([0.0, 1.0]), "slice", center=c, directions=d)
    col = eng.evaluate_chunked(np.array([[0.0], [1.0]]), "slice", center=c, directions=d)
    np.testing.assert_array_equal(flat, col)
    with pytest.raises(InvalidSpecError, match=r"points must have shape \(N, k=1\) slice coordinates, got \(2, 3\)"):
        eng.evaluate_chunked(np.zeros((2, 3)), "slice", center=c, directions=d)
    with pytest.raises(InvalidSpecError, match=r"points must have shape \(N, P=4\) parameter vectors, got \(2, 3\)"):
        eng.evaluate_chunked(np.zeros((2, 3)), "full")
    # and the same evaluation arguments (engines.validation.check_mode)
    with pytest.raises(InvalidSpecError, match=r"mode='slice' needs center \(P,\) and directions"):
        eng.evaluate_chunked(np.zeros((2, 1)), "slice", center=c)
    with pytest.raises(InvalidSpecError, match="center/directions are only used with mode='slice'"):
        eng.evaluate_chunked(np.zeros((2, 4)), "full", directions=d)
    with pytest.raises(InvalidSpecError, match="mode must be 'full' or 'slice', got 'box'"):
        eng.evaluate_chunked(np.zeros((2, 4)), "box")


def test_check_points_shapes():
    from bettibounds.engines.validation import check_points

    assert check_points(np.arange(3.0), "slice", 1).shape == (3, 1)
    assert check_points(np.zeros((2, 2)), "slice", 2).shape == (2, 2)
    bads = ((np.arange(3.0), "full", 1), (np.arange(2.0), "slice", 2), (np.zeros((2, 2, 1)), "slice", 2))
    for bad, mode, width in bads:
        with pytest.raises(InvalidSpecError, match="points must have shape"):
            check_points(bad, mode, width)
