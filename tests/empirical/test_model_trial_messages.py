"""A new user's trial with their own PyTorch models (iris-sized data): what the model commands say
about a loss given outputs of the wrong kind, a pickled whole model passed as weights, and a model
in train mode, on the command line and in Python.

* ``loss="nll"`` on raw logits: torch's NLLLoss takes them silently and the "loss" is meaningless
  (negative); a :class:`~bettibounds.errors.BettiBoundsWarning`, one line on the CLI's stderr.
* ``torch.save(model)`` passed as ``--weights``: one clean line naming a pickled object and the fix
  (save the state_dict), with none of torch's terminal codes.
* a factory returning a train-mode model with Dropout: ``--mode eval`` on the command line.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gudhi")

from bettibounds.cli import main  # noqa: E402
from bettibounds.errors import BettiBoundsWarning, InvalidSpecError  # noqa: E402

NET = '''import torch


def make_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double().eval()


def make_logsoftmax():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3),
                               torch.nn.LogSoftmax(dim=1)).double().eval()


def make_regressor():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double().eval()


def make_dropout():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Dropout(0.5),
                               torch.nn.Linear(5, 3)).double()
'''

REGION = {"kind": "slice", "directions": {"random": 1, "seed": 0}, "low": [-1], "high": [1]}


@pytest.fixture()
def iris(tmp_path, monkeypatch):
    """net.py, data.npz (12 samples, 4 features, 3 classes), exp.json; the working directory is tmp_path."""
    (tmp_path / "net.py").write_text(NET)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(12, 4)), y=np.arange(12) % 3)
    (tmp_path / "exp.json").write_text(json.dumps({
        "model": {"factory": "net.py:make_mlp"}, "data": {"file": "data.npz"}, "loss": {"kind": "nll"},
        "region": REGION, "grid": [5], "levels": [1.0]}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------ nll on logits
def test_nll_on_raw_logits_is_refused_on_one_line(iris, capsys):
    """nll of raw logits means nothing (negative, unbounded below); it was a warning, missed by a new user who
    read only the JSON (trial 6): now refused, one line, exit 2, nothing written."""
    code = main(["landscape", "exp.json", "--refine", "1", "--no-local-search", "--no-progress", "--engine", "model",
                 "--plot", "plots"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and not (iris / "plots").exists()
    assert len(_lines(err)) == 1, err
    assert err.startswith("bettibounds: error: loss 'nll' takes log-probabilities")
    assert "cross_entropy" in err and "LogSoftmax" in err


def test_nll_on_a_logsoftmax_head_is_quiet(iris, capsys):
    code = main(["landscape", "exp.json", "--model", "net.py:make_logsoftmax", "--refine", "1",
                 "--no-local-search", "--no-progress", "--engine", "model"])
    err = capsys.readouterr().err
    assert code == 0 and "warning" not in err, err


def test_nll_check_in_python_float64_and_float32():
    from bettibounds.engines.model_engine import ModelEngine, ModelProblem

    torch.manual_seed(0)
    x, y = torch.randn(12, 4, dtype=torch.float64), torch.arange(12) % 3
    lin = torch.nn.Sequential(torch.nn.Linear(4, 3)).double().eval()
    # large logits (|u| ~ 100): LogSoftmax's rounding stays inside both tolerances
    with torch.no_grad():
        lin[0].weight.mul_(60)
    head = torch.nn.Sequential(lin, torch.nn.LogSoftmax(dim=1)).eval()
    assert float(lin(x).detach().abs().max()) > 50
    for dtype in ("float64", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", BettiBoundsWarning)
            ModelEngine(ModelProblem(head, "nll"), x, y, device="cpu", dtype=dtype)
        with pytest.raises(InvalidSpecError, match="takes log-probabilities, but the model's outputs at the centre "
                                                   "are not.*use loss 'cross_entropy' for logits"):
            ModelEngine(ModelProblem(lin, "nll"), x, y, device="cpu", dtype=dtype)
    # outputs shifted by a constant are log-probabilities no more (logsumexp = 1e-3, above both tolerances)
    shifted = torch.nn.Sequential(head, _Shift(1e-3)).eval()
    with pytest.raises(InvalidSpecError, match="1e-03 away from 0|0.001 away from 0"):
        ModelEngine(ModelProblem(shifted, "nll"), x, y, device="cpu", dtype="float64")
    assert issubclass(BettiBoundsWarning, UserWarning)


class _OwnLogSoftmax(torch.nn.Module):
    def forward(self, u):
        return torch.nn.functional.log_softmax(u, dim=1)


class _Shift(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, u):
        return u + self.c


def test_bce_on_outputs_outside_0_1_is_refused():  # (refused before this trial: the check the brief asked for)
    from bettibounds.engines.model_engine import ModelEngine, ModelProblem

    net = torch.nn.Sequential(torch.nn.Linear(2, 1)).double().eval()
    with pytest.raises(InvalidSpecError, match="takes probabilities"):
        ModelEngine(ModelProblem(net, "bce"), torch.randn(6, 2) * 10, torch.ones(6, 1), device="cpu")


# ------------------------------------------------------------------ a pickled whole model as weights
def test_a_pickled_whole_model_as_weights_is_one_clean_line(iris, capsys):
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)), "full.pt")
    torch.save(torch.zeros(2), "b.pt")
    code = main(["path", "--model", "net.py:make_mlp", "--weights", "full.pt", "--to", "b.pt", "--data", "data.npz",
                 "--loss", "cross_entropy", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1, err
    line = err.strip()
    assert "\x1b" not in line and "\\x1b" not in line and "[1m" not in line, line
    assert "'full.pt' holds a pickled Python object (torch.nn.modules.container.Sequential" in line
    assert "torch.save(model.state_dict()" in line and "weights_only=False" not in line
    assert line.endswith("and pass that file")


def test_exception_text_drops_terminal_codes_and_cuts_at_a_word():
    from bettibounds._lib.text import exception_text

    raw = "Weights only load failed, \x1b[1mdo those steps only if you trust\x1b[0m.\n\t(1) In PyTorch \x07 2.6"
    assert exception_text(raw) == "Weights only load failed, do those steps only if you trust. (1) In PyTorch \\x07 2.6"
    cut = exception_text("alpha beta gamma delta epsilon", 20)
    assert cut == "alpha beta gamma..." and len(cut) <= 20


# ------------------------------------------------------------------ train mode: --mode eval
def test_train_mode_refusal_names_the_flag_and_mode_eval_runs(iris, capsys):
    argv = ["landscape", "exp.json", "--model", "net.py:make_dropout", "--loss", "cross_entropy", "--refine", "1",
            "--no-local-search", "--no-progress", "--json"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--mode eval" in err and len(_lines(err)) == 1, err
    assert main(argv + ["--mode", "eval"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "evaluated in eval mode (mode='eval')" in json.dumps(d)
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Dropout(0.5),
                                   torch.nn.Linear(5, 3)).double().state_dict(), "b.pt")
    path = ["path", "--model", "net.py:make_dropout", "--to", "b.pt", "--data", "data.npz", "--loss", "cross_entropy",
            "--points", "3", "--no-relax", "--no-progress", "--json"]
    assert main(path) == 2 and "--mode eval" in capsys.readouterr().err
    assert main(path + ["--mode", "eval"]) == 0
    notes = json.loads(capsys.readouterr().out)["record"]["notes"]
    assert any("evaluated in eval mode (mode='eval')" in n for n in notes)


def test_mode_without_a_model_is_refused(capsys):
    assert main(["landscape", "examples/teacher_tanh.json", "--mode", "eval"]) == 2
    assert "--mode applies to PyTorch models" in capsys.readouterr().err


def test_the_cli_mode_choices_are_the_library_modes():
    from bettibounds.cli.common import MODE_CHOICES
    from bettibounds.engines.model_problem import MODES

    assert tuple(MODE_CHOICES) == tuple(MODES)


# ------------------------------------------------------------------ why the fused engine does not take a model
def test_the_route_reason_says_what_the_fused_engine_takes_and_lists_every_gap():
    from bettibounds.empirical.models import experiment_from_model
    from bettibounds.empirical.sampler import make_kernel

    nn = torch.nn
    torch.manual_seed(0)
    x, y = torch.randn(12, 4, dtype=torch.float64), torch.arange(12) % 3
    net = nn.Sequential(nn.Linear(4, 5), nn.LayerNorm(5), nn.ReLU(), nn.Linear(5, 5), nn.LayerNorm(5), nn.GELU(),
                        nn.Linear(5, 3)).double().eval()
    exp = experiment_from_model(net, x, y, loss="cross_entropy", region=REGION, grid=[3])
    reason = make_kernel(exp).engine_reason
    assert reason.startswith("auto: a torch.nn.Module is evaluated by the model engine (not by the fused engine: "
                             "the fused engine takes chains of nn.Linear layers with tanh or logistic")
    assert reason.endswith("this model also has LayerNorm, ReLU, GELU)")  # all of them, each once
    assert "theorem" not in reason  # whether a theorem covers it is the bound column's business
    # the bound column keeps its own text, and names every loss the catalog covers
    # (a module that is not Pfaffian is named before one the catalog does not cover, wherever it sits: the
    # ReLU after the LayerNorm rules out any Pfaffian bound, whatever a theorem might say about norm layers)
    assert exp.bound_reason == "not Pfaffian: ReLU is not analytic, so no Pfaffian chain exists"
    mlp = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double().eval()
    ce = experiment_from_model(mlp, x, y, loss="cross_entropy", region=REGION, grid=[3])
    assert ce.bound_reason == ("the loss cross_entropy is not covered by any theorem in the catalog (which covers "
                               "mse, bce and bce_with_logits)")
    with pytest.raises(InvalidSpecError, match="takes log-probabilities"):  # nll on logits
        experiment_from_model(mlp, x, y, loss="nll", region=REGION, grid=[3])
    # log-probabilities from a custom module (not an nn.LogSoftmax head): no LogSoftmax head, nothing else missing
    own = nn.Sequential(mlp, _OwnLogSoftmax()).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BettiBoundsWarning)
        nll = experiment_from_model(own, x, y, loss="nll", region=REGION, grid=[3])
    kernel = make_kernel(nll)
    assert kernel.engine_reason.endswith("ending in nn.LogSoftmax(dim=1) for nll; this model also has _OwnLogSoftmax)")


# ------------------------------------------------------------------ trial 7: targets and inputs of the wrong kind
@pytest.mark.parametrize("loss, y, x_int, message", [
    # one-hot targets with nll: vmap's "Index tensor must have the same number of dimensions" before
    ("nll", np.eye(3)[np.arange(12) % 3], False,
     "nll takes class indices shaped (12,) for the output (12, 3), got y of shape (12, 3) (one-hot or soft targets "
     "go with loss cross_entropy"),
    ("nll", (np.arange(12) % 3).reshape(12, 1), False, "got y of shape (12, 1)"),
    # fractional labels: nll was told to "give soft labels" (it takes none), and "must be integers" contradicted
    # the documented whole-number floats
    ("nll", np.r_[0.5, np.zeros(11)], False, "nll targets of shape (12,) are class indices: whole numbers "
                                             "(integers, or floats such as 2.0), got 0.5 (entry 0)"),
    ("cross_entropy", np.r_[0.0, 1.25, np.zeros(10)], False, "got 1.25 (entry 1); give soft labels or one-hot"),
    # trial 8: soft labels outside [0, 1] gave a negative "loss" range, exit 0 (nll's log-probabilities were refused)
    ("cross_entropy", np.eye(3)[np.arange(12) % 3] * 3 - 1, False,
     "cross_entropy targets y of shape (12, 3) are probabilities in [0, 1], got 2.0 at (0, 0)"),
    # integer inputs are kept integer (token ids): torch's dtype error now says why
    ("cross_entropy", np.arange(12) % 3, True, "(x is int64: integer inputs are kept as they are, for token ids; "
                                               "save x as floats if the model takes numbers)"),
])
def test_targets_and_inputs_of_the_wrong_kind_say_what_is_expected(iris, capsys, loss, y, x_int, message):
    factory = "net.py:make_logsoftmax" if loss == "nll" else "net.py:make_mlp"
    x = np.arange(48).reshape(12, 4) if x_int else np.random.default_rng(0).normal(size=(12, 4))
    np.savez(iris / "bad.npz", x=x, y=y)
    code = main(["landscape", "--model", factory, "--data", "bad.npz", "--loss", loss, "--slice", "1", "--grid", "3",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1 and message in err, err


@pytest.mark.parametrize("loss, y", [("cross_entropy", np.linspace(0, 1, 12).reshape(12, 1)),
                                     ("cross_entropy", np.zeros(12)), ("nll", np.zeros(12))])
def test_a_one_output_model_under_cross_entropy_is_refused(iris, capsys, loss, y):
    """Trial 8: a regression model (one output) with --loss cross_entropy: softmax over one class is 1, the loss
    identically 0; the landscape and the barcode reported the range [0, 0] with exit 0."""
    np.savez(iris / "reg.npz", x=np.random.default_rng(0).normal(size=(12, 4)), y=y)
    code = main(["barcode", "--model", "net.py:make_regressor", "--data", "reg.npz", "--loss", loss, "--grid", "3",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(_lines(err)) == 1, err
    assert f"{loss} needs a model with at least 2 outputs (one per class along axis 1), got an output of " \
           "shape (12, 1): over one class the loss is identically 0; for a regression model use mse" in err, err
