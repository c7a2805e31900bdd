"""Every engine of the registry implements the contract of bettibounds.engines.base."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from bettibounds.engines import AUTO, ENGINES, build_engine, engine_choices, engine_names, engine_record, get_engine
from bettibounds.engines.base import DifferentiableEngine, LossEngine
from bettibounds.errors import InvalidSpecError, UnknownNameError
from bettibounds.spec import ArchitectureSpec

_NEEDS = {"torch": ("torch",), "fused": ("torch", "numba"), "dask": ("torch", "distributed"), "model": ("torch",)}


def _have(*mods: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in mods)


def test_registry_names_and_unknown_name():
    assert set(engine_names()) <= set(engine_names(wrappers=True)) == set(ENGINES)
    assert "dask" not in engine_names() and "torch" in engine_names()
    with pytest.raises(UnknownNameError, match="valid engine names are: dask, fused, model, torch"):
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
    with pytest.raises(InvalidSpecError, match="engine must be one of auto, torch, fused, model, got 'dask'"):
        resolve_engine("dask", spec, "slice", 2)
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
    if not _have(*_NEEDS[name]):
        pytest.skip(f"{name} needs {_NEEDS[name]}")
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


def test_wrappers_are_not_built_by_name():
    with pytest.raises(InvalidSpecError, match="Dask client"):
        build_engine("dask", None, None, None)


@pytest.mark.skipif(not _have("torch"), reason="needs torch")
def test_model_engine_instance_satisfies_the_protocols_and_records_itself():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Tanh(), torch.nn.Linear(2, 1, bias=False))
    eng = build_engine("model", net.eval(), [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    assert isinstance(eng, LossEngine) and isinstance(eng, DifferentiableEngine)
    assert engine_record(eng) == {"engine": "model", "device": "cpu", "dtype": "float64"}
    vals = eng.evaluate_chunked(np.zeros((3, eng.n_params)))
    assert vals.dtype == np.float64 and vals.tolist() == [0.125] * 3  # torch's mean over the 2 x 1 elements


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
