"""The command line for PyTorch models beyond ``landscape``: ``bettibounds path`` (paths between two
trained models, from a path file or flags) and ``bettibounds barcode`` on a model experiment file.

The model is a ring valley whose straight-segment barrier is known by construction (as in
test_models.py): Loss(a, b) = (a^2 + (b - 0.2)^2 - 1.04)^2 on x = 1, y = 0, minima (-1, 0) and (1, 0),
the segment's midpoint (0, 0) at loss 1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gudhi")

from bettibounds.cli import main  # noqa: E402

NET = '''import torch


class Ring(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))

    def forward(self, x):
        return (self.p[0] ** 2 + (self.p[1] - 0.2) ** 2 - 1.04) * x


def make():
    return Ring().eval()
'''


@pytest.fixture()
def ring(tmp_path, monkeypatch):
    """net.py, a.pt = (-1, 0), b.pt = (1, 0), data.npz; the working directory is tmp_path."""
    (tmp_path / "net.py").write_text(NET)
    for name, a in (("a.pt", -1.0), ("b.pt", 1.0)):
        torch.save({"p": torch.tensor([a, 0.0], dtype=torch.float64)}, tmp_path / name)
    np.savez(tmp_path / "data.npz", x=np.ones((3, 1)), y=np.zeros((3, 1)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_path_from_flags_and_from_a_path_file(ring, capsys):
    d = run_json(capsys, "path", "--model", "net.py:make", "--weights", "a.pt", "--to", "b.pt", "--data", "data.npz",
                 "--loss", "mse", "--points", "11", "--no-relax", "--json", "--no-progress")
    assert d["straight"]["barrier"] == pytest.approx(1.0, rel=1e-12) and d["straight"]["at"] == pytest.approx(0.5)
    assert d["straight"]["loss"][0] == pytest.approx(0, abs=1e-24) and len(d["straight"]["loss"]) == 11
    assert d["relaxed"] is None and d["record"]["loss"] == "mse" and d["record"]["reduction"] == "torch"
    (ring / "sub").mkdir()
    (ring / "sub" / "path.json").write_text(json.dumps({
        "model": {"factory": "../net.py:make", "weights": "../a.pt"}, "data": {"file": "../data.npz"},
        "loss": {"kind": "mse"}, "path": {"to": "../b.pt", "points": 21, "images": 8, "iterations": 150}}))
    d = run_json(capsys, "path", "sub/path.json", "--json", "--no-progress", "--plot", "plots")
    assert d["straight"]["barrier"] == pytest.approx(1.0, rel=1e-12) and len(d["straight"]["s"]) == 21
    assert 0 <= d["relaxed"]["barrier"] < 1e-2 and d["relaxed"]["images"] == 10  # the valley joins the minima
    assert d["plots"] == ["plots/path.png"] and (ring / "plots" / "path.png").stat().st_size > 1000
    assert main(["path", "sub/path.json", "--points", "5", "--no-relax", "--no-progress"]) == 0  # flags win
    out = capsys.readouterr().out
    assert "straight segment: max 1 at s = 0.5; barrier 1" in out and "relaxed" not in out
    assert len(run_json(capsys, "path", "sub/path.json", "--points", "5", "--no-relax", "--json")["straight"]["s"]) == 5


@pytest.mark.parametrize("argv, message", [
    (["path"], "path needs a path file, or --model"),
    (["path", "--model", "net.py:make", "--weights", "a.pt", "--data", "data.npz"], "needs path.to"),
    (["path", "--model", "net.py:make", "--to", "missing.pt", "--data", "data.npz"], "path.to: no file"),
    (["path", "--model", "net.py:make", "--to", "b.pt"], 'a path file needs "data"'),
    (["path", "bad.json"], "path: unknown keys ['radius']"),
    (["path", "bad2.json"], "path.relax must be true or false"),
])
def test_path_bad_input_is_one_line_exit_2(ring, capsys, argv, message):
    (ring / "bad.json").write_text(json.dumps({"model": {"factory": "net.py:make"}, "data": {"file": "data.npz"},
                                               "path": {"to": "b.pt", "radius": 1}}))
    (ring / "bad2.json").write_text(json.dumps({"model": {"factory": "net.py:make"}, "data": {"file": "data.npz"},
                                                "path": {"to": "b.pt", "relax": "no"}}))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_barcode_of_a_model_experiment_file(ring, capsys):
    """Grid mode on the line through the two minima: two minima at t = 0 and t = 1, the finite bar dies
    at the segment's top, loss 1 at t = 1/2 (on the grid)."""
    (ring / "exp.json").write_text(json.dumps({
        "model": {"factory": "net.py:make", "weights": "a.pt"}, "data": {"file": "data.npz"}, "loss": {"kind": "mse"},
        "region": {"kind": "line", "models": ["a.pt", "b.pt"], "low": [-0.25], "high": [1.25]}, "grid": [13]}))
    d = run_json(capsys, "barcode", "exp.json", "--json", "--no-progress")
    assert d["n_params"] == 2 and d["model"]["loss"] == "mse" and d["model"]["n_params"] == 2
    essential = [b for b in d["bars"] if b["death"] is None]
    finite = [b for b in d["bars"] if b["death"] is not None]
    assert len(essential) == 1 and len(finite) == 1 and sorted([essential[0]["birth_at"], finite[0]["birth_at"]]) == \
        [[2], [10]]  # t = 0 and t = 1 on the grid -0.25, -0.125, ..., 1.25
    assert finite[0]["death"] == pytest.approx(1.0, rel=1e-12) and finite[0]["birth"] == pytest.approx(0, abs=1e-24)
    assert finite[0]["death_at"] == [6]
    assert main(["barcode", "exp.json", "--engine", "fused"]) == 2
    assert "a PyTorch model is evaluated by the model engine, not --engine fused" in capsys.readouterr().err
