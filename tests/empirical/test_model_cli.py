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
from bettibounds.empirical.model_files import NO_WEIGHTS  # noqa: E402

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
    (["path", "--model", "net.py:make", "--weights", "a.pt", "--data", "data.npz"],
     "path needs the state_dict the path ends at: --to b.pt"),
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
    # the landscape's text names the line (trial 5: "landscape: slice, grid [151]")
    assert main(["landscape", "exp.json", "--no-progress", "--refine", "1"]) == 0
    assert "landscape: slice: the line through two models (t_1 = 0 at the first, 1 at the second), grid [13]" in \
        capsys.readouterr().out
    assert main(["barcode", "exp.json", "--engine", "fused"]) == 2
    err = capsys.readouterr().err  # (auto may pick the fused engine for a recognised MLP: the message says so)
    assert "a PyTorch model is evaluated by the model engine (--engine model) or, with --engine auto" in err
    assert "--engine fused is not accepted for a model" in err


MLP = '''import torch


def make():  # the default float32 model, as a factory usually returns it
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).eval()
'''


def test_float64_weights_are_not_rounded_by_a_float32_factory(tmp_path, monkeypatch, capsys):
    """A new user's trial: weights trained in float64 were loaded into the factory's float32 model, so the
    slice's centre and a path's first end were the rounded weights (3e-9 relative on the loss at the centre)
    while the path's second end stayed exact. The model is made float64 before float64 weights are loaded."""
    (tmp_path / "mlp.py").write_text(MLP)
    x, y = np.random.default_rng(0).normal(size=(5, 3)), np.random.default_rng(1).normal(size=(5, 2))
    np.savez(tmp_path / "data.npz", x=x, y=y)
    exact = []
    for seed, name in ((1, "a.pt"), (2, "b.pt")):
        torch.manual_seed(seed)
        trained = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
        with torch.no_grad():
            for p in trained.parameters():
                p.add_(torch.full_like(p, 1e-9))  # digits a float32 copy cannot hold
            exact.append(float(torch.nn.functional.mse_loss(trained(torch.tensor(x)), torch.tensor(y))))
        torch.save(trained.state_dict(), tmp_path / name)
    monkeypatch.chdir(tmp_path)
    d = run_json(capsys, "path", "--model", "mlp.py:make", "--weights", "a.pt", "--to", "b.pt", "--data", "data.npz",
                 "--loss", "mse", "--points", "3", "--no-relax", "--json", "--no-progress")
    ends = d["straight"]["loss"]
    assert ends[0] == pytest.approx(exact[0], rel=1e-14) and ends[-1] == pytest.approx(exact[1], rel=1e-14)


def test_weights_that_do_not_fit_say_how_many_and_the_first_whole(tmp_path, monkeypatch, capsys):
    (tmp_path / "mlp.py").write_text(MLP)
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).state_dict(),
               tmp_path / "w.pt")
    np.savez(tmp_path / "data.npz", x=np.ones((2, 3)), y=np.zeros((2, 2)))
    monkeypatch.chdir(tmp_path)
    assert main(["path", "--model", "mlp.py:make", "--weights", "w.pt", "--to", "w.pt", "--data", "data.npz"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    # every problem shown up to four (trial 6: "(and 3 more)" hid the shapes that told which model the file was from)
    assert ("model.weights do not fit the model: 4 problems: size mismatch for 0.weight: [5, 3] in the file, "
            "[4, 3] in the model; size mismatch for 0.bias: [5] in the file, [4] in the model; size mismatch for "
            "2.weight: [1, 5] in the file, [2, 4] in the model; size mismatch for 2.bias") in err
    assert "more)" not in err


def test_weights_of_another_model_name_both_key_lists():
    """Trial 5: a file saved from another architecture showed the model's missing keys and hid the file's own
    names behind "(and 1 more)"; both lists are what tells a user they passed the wrong file."""
    from bettibounds.empirical.model_files import weights_mismatch

    class Named(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.out = torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)

    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    with pytest.raises(RuntimeError) as exc:
        seq.load_state_dict(Named().state_dict())
    assert weights_mismatch(exc.value) == (
        "1 problem: the model's 0.weight, 0.bias, 2.weight, 2.bias are not in the file, which has inp.weight, "
        "inp.bias, out.weight, out.bias instead (weights saved from another model?)")


def test_model_data_files_go_through_the_strict_reader(ring, capsys):
    """A model's data.npz is read by the strict .npz reader (it was np.load): a forged header, NaN data and a
    .npy named .npz are one line and exit 2; other arrays in the file (a test split) are allowed and not read,
    and integer class labels keep their dtype."""
    import io

    from bettibounds.empirical.model_files import _data

    argv = ["path", "--model", "net.py:make", "--weights", "a.pt", "--to", "b.pt", "--data", "bad.npz", "--loss",
            "mse", "--points", "5", "--no-relax", "--no-progress"]
    buf = io.BytesIO()
    np.savez(buf, x=np.ones((3, 100000)), y=np.zeros((3, 1)))
    # same length, so the header stays valid: it claims 9 x 10^6 entries the member does not hold
    (ring / "bad.npz").write_bytes(buf.getvalue().replace(b"(3, 100000)", b"(999999, 9)", 1))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "declares shape (999999, 9)" in err and len(err.splitlines()) == 1, err
    np.savez(ring / "bad.npz", x=np.array([[1.0], [np.nan], [1.0]]), y=np.zeros((3, 1)))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "non-finite" in err and len(err.splitlines()) == 1, err
    np.save(ring / "one.npy", np.ones(3))
    (ring / "one.npy").rename(ring / "bad.npz")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "single .npy array" in err and len(err.splitlines()) == 1, err
    np.savez(ring / "split.npz", x_train=np.ones((3, 2), np.float32), y_train=np.arange(3), x_test=np.ones((1, 2)))
    x, y = _data(ring, {"file": "split.npz", "x": "x_train", "y": "y_train"})
    assert x.dtype == np.float32 and y.dtype == np.arange(3).dtype and y.tolist() == [0, 1, 2]
    with pytest.raises(Exception, match="strings"):
        _data(ring, {"file": "split.npz", "x": [1.0], "y": "y_train"})


def test_landscape_of_a_model_from_flags_alone(tmp_path, monkeypatch, capsys):
    """Trial 6: a model's landscape needed an experiment file for its region and grid. --slice, --span, --seed
    and --grid give them; the run equals the one through the experiment file that says the same."""
    (tmp_path / "mlp.py").write_text(MLP)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(6, 3)), y=rng.normal(size=(6, 2)))
    monkeypatch.chdir(tmp_path)
    common = ["--levels", "0.5,2", "--json", "--no-progress", "--no-local-search", "--refine", "1"]
    flags = run_json(capsys, "landscape", "--model", "mlp.py:make", "--data", "data.npz", "--loss", "mse", "--slice",
                     "2", "--span", "0.5", "--seed", "3", "--grid", "7,5", *common)
    region = {"kind": "slice", "directions": {"random": 2, "seed": 3}, "low": [-0.5, -0.5], "high": [0.5, 0.5]}
    (tmp_path / "exp.json").write_text(json.dumps({
        "model": {"factory": "mlp.py:make"}, "data": {"file": "data.npz"}, "loss": {"kind": "mse"},
        "region": region, "grid": [7, 5]}))
    filed = run_json(capsys, "landscape", "exp.json", *common)
    assert flags["sample"]["grid"] == [7, 5] and flags["levels"] == filed["levels"]
    assert flags["diagram"] == filed["diagram"] and flags["directions"] == filed["directions"]
    # the defaults: two directions, span 1, 41 points per axis; --grid alone keeps the file's region
    (tmp_path / "exp.json").write_text(json.dumps({
        "model": {"factory": "mlp.py:make"}, "data": {"file": "data.npz"}, "region": region}))
    kept = run_json(capsys, "landscape", "exp.json", "--grid", "4", *common)
    assert kept["sample"]["grid"] == [4, 4] and kept["directions"] == filed["directions"]
    one = run_json(capsys, "landscape", "exp.json", "--slice", "1", "--grid", "9", *common)
    assert one["sample"]["grid"] == [9] and one["n_variables"] == 1
    default = run_json(capsys, "landscape", "--model", "mlp.py:make", "--data", "data.npz", *common)
    assert default["sample"]["grid"] == [41, 41] and default["n_variables"] == 2


@pytest.mark.parametrize("argv, message", [
    (["landscape"], "landscape needs an experiment file, or a PyTorch model: --model"),
    (["landscape", "exp.json", "--span", "2"], "--span makes a new slice with --slice K"),
    (["landscape", "exp.json", "--grid", "3,3,3"], "--grid gives 3 axes but the region has 2"),
    (["landscape", "exp.json", "--grid", "3,a"], "--grid takes comma-separated positive integers such as 41 or 41,31"),
    (["landscape", "exp.json", "--grid", "1"], "--grid must be >= 2"),
    (["landscape", "--model", "mlp.py:make", "--data", "data.npz", "--slice", "0"], "--slice must be >= 1"),
    (["landscape", "--model", "mlp.py:make", "--data", "data.npz", "--span", "-1"], "--span must be a positive"),
    (["landscape", "spec.json", "--grid", "5"], "--grid applies to PyTorch models"),
    # barcode's flag route (trial 7) and trial 8's cases
    (["barcode"], "barcode needs an experiment file, --network FILE and --data FILE, or a PyTorch model: --model"),
    (["barcode", "spec.json", "--weights", "w.pt"], "--weights applies to PyTorch models: add --model"),
    (["barcode", "spec.json", "--slice", "2", "--grid", "5"], "--slice, --grid apply to PyTorch models"),
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz", "--network", "spec.json"],
     "--network describes a network of the built-in kind"),
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz", "--minima", "4", "--grid", "5"],
     "--grid: options of grid mode (a slice of the model's weights), not used with --minima"),
    (["barcode", "exp.json", "--span", "2"], "--span makes a new slice with --slice K"),
    # trial 8: grid mode kept the file's seed silently where landscape refuses
    (["barcode", "exp.json", "--seed", "5"], "--seed makes a new slice with --slice K"),
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz", "--slice", "0"], "--slice must be >= 1"),
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz", "--minima", "1", "--uniform", "10", "--quotient",
      "canonical"], "a PyTorch model's sample mode has none: drop --quotient (or --quotient none)"),
    # trial 9: class indices under the default loss (mse) said nothing of cross_entropy
    (["barcode", "--model", "mlp.py:make", "--data", "labels.npz"],
     "mse needs targets shaped like the model's output (3, 2), got y of shape (3,): class indices go with loss "
     "cross_entropy (on the command line the loss is mse unless --loss says otherwise)"),
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz", "--loss", "bce_with_logits"],
     "bce_with_logits targets y of shape (3, 2) are probabilities in [0, 1], got 2.0 at (0, 0)"),
    # trial 8: one array name read as part of the file's name ("data.file: no file 'data.npz:x'")
    (["barcode", "--model", "mlp.py:make", "--data", "data.npz:x"],
     "--data 'data.npz:x': after the file, name two arrays, the inputs and the targets: data.npz:X,Y (got 'x')"),
])
def test_model_and_region_flags_refuse_bad_input_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    (tmp_path / "mlp.py").write_text(MLP)
    np.savez(tmp_path / "data.npz", x=np.ones((3, 3)), y=np.r_[[[2.0, 0.0]], np.zeros((2, 2))])
    np.savez(tmp_path / "labels.npz", x=np.ones((3, 3)), y=np.array([0, 1, 1]))
    (tmp_path / "exp.json").write_text(json.dumps({
        "model": {"factory": "mlp.py:make"}, "data": {"file": "data.npz"}, "grid": [3, 3],
        "region": {"kind": "slice", "directions": {"random": 2}, "low": [-1, -1], "high": [1, 1]}}))
    (tmp_path / "spec.json").write_text(json.dumps({
        "network": {"inputs": 1, "widths": [2], "activation": "tanh"}, "data": {"x": [[0.0]], "y": [[0.0]]},
        "region": {"kind": "box", "low": -1, "high": 1}, "grid": [3, 3, 3, 3, 3, 3, 3]}))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_a_model_file_without_a_region_asks_for_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "mlp.py").write_text(MLP)
    np.savez(tmp_path / "data.npz", x=np.ones((3, 3)), y=np.zeros((3, 2)))
    (tmp_path / "exp.json").write_text(json.dumps({"model": {"factory": "mlp.py:make"}, "data": {"file": "data.npz"},
                                                   "grid": [3, 3]}))
    monkeypatch.chdir(tmp_path)
    assert main(["landscape", "exp.json", "--grid", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert 'has no "region": add one, or give the slice with --slice K' in err and len(err.splitlines()) == 1
    assert main(["landscape", "exp.json", "--slice", "1", "--grid", "5", "--no-progress", "--refine", "1",
                 "--no-local-search", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sample"]["grid"] == [5]


def test_a_model_without_weights_is_the_same_seeded_initialisation_at_every_run(tmp_path, monkeypatch, capsys):
    """Trial 7: without --weights two runs gave two different centres (an unseeded initialisation), and
    nothing said so. The factory runs with torch's generator seeded 0 (restored after), and the result notes it."""
    (tmp_path / "fresh.py").write_text("import torch\n\n\ndef make():\n    return torch.nn.Sequential("
                                       "torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(6, 3)), y=rng.normal(size=(6, 2)))
    monkeypatch.chdir(tmp_path)
    argv = ["landscape", "--model", "fresh.py:make", "--data", "data.npz", "--grid", "3", "--refine", "1",
            "--no-local-search", "--no-progress", "--json"]
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = run_json(capsys, *argv)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator is left as it was
    torch.manual_seed(456)
    second = run_json(capsys, *argv)
    assert first["diagram"] == second["diagram"] and first["resolution"] == second["resolution"]
    assert any(n.startswith("no weights given") for n in first["sample"]["model"]["notes"])
    assert main(argv[:-1]) == 0
    assert "note: no weights given (model.weights or --weights)" in capsys.readouterr().out


def test_data_arrays_named_on_the_command_line(tmp_path, monkeypatch, capsys):
    """Trial 7: a file of x_train/y_train/x_test/y_test could be used only through an experiment file."""
    (tmp_path / "mlp.py").write_text(MLP)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    np.savez(tmp_path / "split.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    np.savez(tmp_path / "plain.npz", x=x, y=y)
    monkeypatch.chdir(tmp_path)
    common = ["--model", "mlp.py:make", "--grid", "3", "--refine", "1", "--no-local-search", "--no-progress", "--json"]
    named = run_json(capsys, "landscape", "--data", "split.npz:x_train,y_train", *common)
    plain = run_json(capsys, "landscape", "--data", "plain.npz", *common)
    assert named["diagram"] == plain["diagram"] and named["sample"]["model"]["data"] == plain["sample"]["model"]["data"]
    assert main(["landscape", "--data", "split.npz", *common]) == 2
    err = capsys.readouterr().err
    assert "x, y missing" in err and "name the arrays with --data FILE.npz:X,Y" in err and len(err.splitlines()) == 1


def test_an_overflowing_region_is_one_line(tmp_path, monkeypatch, capsys):
    """Trial 7: --span 1e154 printed numpy's warnings and 'the fused engine ... differed by nan relative' before the
    overflow error (7 lines). The route's check compares equal infinities as equal; the error is one line."""
    (tmp_path / "mlp.py").write_text(MLP)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(6, 3)), y=rng.normal(size=(6, 2)))
    monkeypatch.chdir(tmp_path)
    assert main(["landscape", "--model", "mlp.py:make", "--data", "data.npz", "--span", "1e154", "--grid", "11",
                 "--refine", "1", "--no-progress", "--levels", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the loss is not finite (overflow)" in err and len(err.splitlines()) == 1, err


def test_a_landscape_without_levels_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "mlp.py").write_text(MLP)
    np.savez(tmp_path / "data.npz", x=np.ones((3, 3)), y=np.zeros((3, 2)))
    monkeypatch.chdir(tmp_path)
    assert main(["landscape", "--model", "mlp.py:make", "--data", "data.npz", "--grid", "3", "--refine", "1",
                 "--no-local-search", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "levels: none given (--levels C1,C2,..." in out and "level  betti" not in out


def test_barcode_flags_segments_born_on_the_grid_edge(ring, capsys):
    """Trial 7: on a line whose loss falls outward, the TO-score came from minima at the ends of the range, and
    nothing said so. On the ring valley's line a = -1 + t, t in [0.2, 1.5] (loss (a^2 - 1)^2: falling towards both
    ends), both minima are the grid's end vertices; the one finite segment is flagged, in the text and the JSON."""
    (ring / "line.json").write_text(json.dumps({
        "model": {"factory": "net.py:make", "weights": "a.pt"}, "data": {"file": "data.npz"}, "loss": {"kind": "mse"},
        "region": {"kind": "slice", "directions": [[1.0, 0.0]], "low": [0.2], "high": [1.5]}, "grid": [27]}))
    assert main(["barcode", "line.json", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "note: 1 of the 1 finite index-0 segments are born on the grid's edge" in out, out
    d = run_json(capsys, "barcode", "line.json", "--no-progress", "--json")
    finite = [b for b in d["bars"] if b["death"] is not None]
    assert [b["caveat"] for b in finite] == ["born on the grid's edge"] and finite[0]["birth_at"] == [26]
    # interior minima (a = -1 and 1: t = 0 and 2) are not flagged
    (ring / "line.json").write_text(json.dumps({
        "model": {"factory": "net.py:make", "weights": "a.pt"}, "data": {"file": "data.npz"}, "loss": {"kind": "mse"},
        "region": {"kind": "slice", "directions": [[1.0, 0.0]], "low": [-0.5], "high": [2.5]}, "grid": [41]}))
    d = run_json(capsys, "barcode", "line.json", "--no-progress", "--json")
    assert [b["caveat"] for b in d["bars"] if b["death"] is not None] == [""]


def test_barcode_of_a_model_from_flags_alone(tmp_path, monkeypatch, capsys):
    """Trial 7: a model's barcode needed an experiment file (landscape and path had flag routes). --model, --data,
    --loss and the region flags give it; grid mode equals the run through the file that says the same, --seed
    is the slice's seed there, and --minima samples a box of all the parameters."""
    (tmp_path / "mlp.py").write_text(MLP)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(6, 3)), y=rng.normal(size=(6, 2)))
    monkeypatch.chdir(tmp_path)
    model = ["--model", "mlp.py:make", "--data", "data.npz", "--loss", "mse"]
    flags = run_json(capsys, "barcode", *model, "--slice", "2", "--span", "0.5", "--seed", "3", "--grid", "9,7",
                     "--json", "--no-progress")
    (tmp_path / "exp.json").write_text(json.dumps({
        "model": {"factory": "mlp.py:make"}, "data": {"file": "data.npz"}, "loss": {"kind": "mse"},
        "region": {"kind": "slice", "directions": {"random": 2, "seed": 3}, "low": [-0.5, -0.5], "high": [0.5, 0.5]},
        "grid": [9, 7]}))
    filed = run_json(capsys, "barcode", "exp.json", "--json", "--no-progress")
    assert flags["source"] == "grid" and flags["bars"] == filed["bars"] and flags["to_score"] == filed["to_score"]
    assert flags["value_range"] == filed["value_range"] and flags["n_params"] == 26
    other = run_json(capsys, "barcode", *model, "--slice", "2", "--span", "0.5", "--seed", "4", "--grid", "9,7",
                     "--json", "--no-progress")
    assert other["value_range"] != flags["value_range"]  # another seed, another slice
    default = run_json(capsys, "barcode", *model, "--json", "--no-progress")
    assert default["meta"]["shape"] == [41, 41] and default["meta"]["axes"][0][0] == -1.0
    assert main(["barcode", *model, "--grid", "5", "--no-progress"]) == 0  # the text says what landscape's says
    out = capsys.readouterr().out
    assert "note: no weights given (model.weights or --weights)" in out
    assert out.startswith("barcode: grid [5, 5] (slice; ") and " engine, float64), persistence backend" in out
    # the file's data replaced by --data (landscape's rule)
    np.savez(tmp_path / "other.npz", x=rng.normal(size=(6, 3)), y=rng.normal(size=(6, 2)))
    replaced = run_json(capsys, "barcode", "exp.json", "--data", "other.npz", "--json", "--no-progress")
    assert replaced["value_range"] != filed["value_range"]
    sample = run_json(capsys, "barcode", *model, "--minima", "2", "--uniform", "40", "--steps", "20", "--json",
                      "--no-progress")
    assert sample["source"] == "knn" and sample["meta"]["box"] == [[-3.0] * 26, [3.0] * 26] and sample["n_params"] == 26
    # trial 8: the weights do not centre sample mode's box; the JSON and the text say so
    assert any(n.startswith("sample mode samples a box of the parameters' own values") for n in sample["notes"])
    assert flags["notes"] == [NO_WEIGHTS] and filed["notes"] == [NO_WEIGHTS]
