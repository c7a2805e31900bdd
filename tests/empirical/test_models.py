"""Any PyTorch model (issue 20): the model engine against a plain per-point torch forward, refusals,
directions, the bound column, paths between minima, model experiment files.

The oracle is independent of the engine: a deep copy of the model in eval mode, float64, with the
point's parameters written by ``vector_to_parameters``, its ordinary forward and torch's own loss
module with its default reduction.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gudhi")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.empirical import analyze_landscape, experiment_from_model, path_between, sample_landscape  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402

nn, F = torch.nn, torch.nn.functional
REL = 1e-10


def reference(model, names, theta, x, y, loss_fn) -> float:
    """The loss at theta by the plain route: a copy in eval mode, vector_to_parameters, forward."""
    m = copy.deepcopy(model).double().eval()
    params = dict(m.named_parameters())
    with torch.no_grad():
        vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), [params[n] for n in names])
        xx = x.double() if x.is_floating_point() else x
        return float(loss_fn(m(xx), y))


def check_against_reference(model, x, y, loss="mse", loss_fn=None, n_full=3, n_slice=4, seed=0, **kw):
    """Random theta near the model and points of a random 2-D slice, engine vs reference."""
    eng = ModelEngine(ModelProblem(model, loss, **kw), x, y, device="cpu", dtype="float64")
    rng = np.random.default_rng(seed)
    c = eng.center
    scale = 0.3 * max(np.abs(c).max(), 1e-3)
    theta = c + scale * rng.standard_normal((n_full, eng.n_params))
    D = scale * rng.standard_normal((2, eng.n_params))
    t = rng.uniform(-1, 1, (n_slice, 2))
    full = eng.evaluate_chunked(theta, chunk=2)
    sl = eng.evaluate_chunked(t, "slice", center=c, directions=D, chunk=3)
    yy = y.double() if y.is_floating_point() else y
    ref_full = [reference(model, eng.names, th, x, yy, loss_fn) for th in theta]
    ref_sl = [reference(model, eng.names, c + ti @ D, x, yy, loss_fn) for ti in t]
    np.testing.assert_allclose(full, ref_full, rtol=REL, atol=0)
    np.testing.assert_allclose(sl, ref_sl, rtol=REL, atol=0)
    return eng


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    idx = np.random.default_rng(0).choice(len(x), 96, replace=False)
    return torch.tensor(x[idx] / 16.0).reshape(-1, 1, 8, 8), torch.tensor(y[idx])


def small_cnn():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3), nn.Tanh(),
                         nn.Flatten(), nn.Linear(16, 10)).eval()


# ------------------------------------------------------------------ values
def test_small_cnn_on_digits_matches_per_point_forward(digits):
    x, y = digits
    eng = check_against_reference(small_cnn(), x, y, "cross_entropy", nn.CrossEntropyLoss())
    assert eng.slice_trick == "0 (Conv2d)"  # the first convolution's three tables


def test_norm_layers_and_dropout_in_eval_mode():
    torch.manual_seed(2)
    x, y = torch.randn(20, 1, 6, 6), torch.randint(0, 3, (20,))
    bn = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Tanh(), nn.Dropout(0.5), nn.Flatten(),
                       nn.Linear(48, 3))
    bn[1].running_mean.uniform_(-1, 1)
    bn[1].running_var.uniform_(0.5, 2.0)
    check_against_reference(bn.eval(), x, y, "cross_entropy", nn.CrossEntropyLoss())
    xl, yl = torch.randn(16, 5), torch.randn(16, 2)
    ln = nn.Sequential(nn.LayerNorm(5), nn.Linear(5, 6), nn.LayerNorm(6), nn.GELU(), nn.Dropout(0.3), nn.Linear(6, 2))
    eng = check_against_reference(ln.eval(), xl, yl, "mse", nn.MSELoss())
    assert eng.slice_trick == "0 (LayerNorm)"  # also linear in its parameters
    bn1 = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Sigmoid(), nn.Linear(4, 2)).eval()
    bn1[1].running_var.fill_(1.7)
    check_against_reference(bn1, xl, yl, "mse", nn.MSELoss())


class Block(nn.Module):
    """A custom module: a residual block with a shared scale parameter and functional activations."""

    def __init__(self, width):
        super().__init__()
        self.inp = nn.Linear(3, width)
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, width)
        self.scale = nn.Parameter(torch.tensor(0.7))
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = h + self.scale * self.b(F.silu(self.a(h)))
        return self.out(h)


def test_custom_module_with_residual_block():
    torch.manual_seed(3)
    x, y = torch.randn(24, 3), torch.randn(24, 2)
    eng = check_against_reference(Block(5).eval(), x, y, "mse", nn.MSELoss())
    assert eng.names[-1] == "out.bias" and "scale" in eng.names  # named_parameters order


def test_attention_model():
    torch.manual_seed(4)
    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = nn.Sequential(enc, nn.Flatten(), nn.Linear(4 * 8, 2)).eval()
    x, y = torch.randn(6, 4, 8), torch.randn(6, 2)
    check_against_reference(model, x, y, "mse", nn.MSELoss(), n_full=2, n_slice=2)


def test_cross_entropy_indices_one_hot_and_soft_labels():
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).eval()
    x = torch.randn(30, 4)
    idx = torch.randint(0, 3, (30,))
    check_against_reference(net, x, idx, "cross_entropy", nn.CrossEntropyLoss())
    soft = torch.softmax(torch.randn(30, 3), dim=1)
    check_against_reference(net, x, soft, "cross_entropy", nn.CrossEntropyLoss())
    one_hot = F.one_hot(idx, 3).double()
    a = ModelEngine(ModelProblem(net, "cross_entropy"), x, idx).evaluate_chunked(np.zeros((1, 51)) + 0.1)
    b = ModelEngine(ModelProblem(net, "cross_entropy"), x, one_hot).evaluate_chunked(np.zeros((1, 51)) + 0.1)
    np.testing.assert_allclose(a, b, rtol=1e-13)
    # confident, correct predictions: a loss near 1e-6 from logits near 1e4 keeps its relative accuracy
    # (logsumexp(u) - u_y loses it to cancellation, about 1e-12 / 1e-6; the formula avoids that)
    sharp = nn.Sequential(nn.Linear(4, 3)).eval()
    with torch.no_grad():
        sharp[0].weight.mul_(12)
        sharp[0].bias.fill_(1e4)  # logits near 1e4
        xs = torch.randn(1000, 4, dtype=torch.float64)
        top2 = sharp.double()(xs).topk(2, dim=1)
        margin = top2.values[:, 0] - top2.values[:, 1]
        keep = (margin > 12) & (margin < 16)  # a loss per sample between 1e-7 and 6e-6
        xs, label = xs[keep], top2.indices[keep, 0]
    assert len(xs) >= 5
    eng = ModelEngine(ModelProblem(sharp, "cross_entropy"), xs, label)
    want = reference(sharp, eng.names, eng.center, xs, label, nn.CrossEntropyLoss())
    assert 0 < want < 1e-5
    assert eng.evaluate_chunked(eng.center[None])[0] == pytest.approx(want, rel=REL, abs=0)
    logsm = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1)).eval()
    check_against_reference(logsm, x, idx, "nll", nn.NLLLoss())


def test_cross_entropy_of_very_confident_samples_keeps_its_relative_accuracy():
    """Margins of 30-36 (a per-sample loss near 1e-13 to 1e-15): the loss is log1p of the sum without the
    maximum's term, not log of the rounded 1 + s (torch's log_softmax; about 1e-3 relative here). Exact logits
    (integer weights on one-hot inputs), a 50-digit oracle."""
    mpmath = pytest.importorskip("mpmath")
    margins = [30.0, 33.0, 36.0]
    lin = nn.Linear(3, 3, bias=False).double().eval()
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.tensor(margins, dtype=torch.float64)))
    x = torch.eye(3, dtype=torch.float64)
    label = torch.arange(3)
    soft = F.one_hot(label, 3).double()
    with mpmath.workdps(50):
        want = float(sum(mpmath.log1p(2 * mpmath.exp(-mpmath.mpf(g))) for g in margins) / 3)
    for y in (label, soft):
        eng = ModelEngine(ModelProblem(lin, "cross_entropy"), x, y, dtype="float64")
        got = eng.evaluate_chunked(eng.center[None])[0]
        assert got == pytest.approx(want, rel=1e-14, abs=0)


def test_a_callable_loss_gets_integer_targets_as_integers():
    """A new user's trial: class indices given to a callable loss arrived as float64, and F.cross_entropy
    inside it failed (gather() needs int64) under a message that blamed vmap."""
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).eval()
    x, idx = torch.randn(20, 4), torch.randint(0, 3, (20,))
    named = ModelEngine(ModelProblem(net, "cross_entropy"), x, idx)
    own = ModelEngine(ModelProblem(net, lambda p, t: F.cross_entropy(p, t)), x, idx)
    pts = named.center[None] + np.random.default_rng(0).normal(scale=0.1, size=(4, named.n_params))
    np.testing.assert_allclose(own.evaluate_chunked(pts), named.evaluate_chunked(pts), rtol=1e-13)


def test_binary_cross_entropy_on_probabilities_and_logits():
    torch.manual_seed(6)
    x, y = torch.randn(25, 3), torch.randint(0, 2, (25, 2)).double()
    logits = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).eval()
    check_against_reference(logits, x, y, "bce_with_logits", nn.BCEWithLogitsLoss())
    probs = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).eval()
    check_against_reference(probs, x, y, "bce", nn.BCELoss())


def test_multi_output_mse_under_both_reductions():
    torch.manual_seed(7)
    x, y = torch.randn(18, 3), torch.randn(18, 4)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).eval()
    eng = check_against_reference(net, x, y, "mse", nn.MSELoss())  # torch: mean over the 18 x 4 elements
    theory = ModelEngine(ModelProblem(net, "mse", reduction="theory"), x, y)
    sums = nn.MSELoss(reduction="sum")
    th = eng.center + 0.1
    assert theory.evaluate_chunked(th[None])[0] == pytest.approx(reference(net, eng.names, th, x, y.double(), sums)
                                                                 / 18, rel=REL)
    # the two conventions differ by the number of outputs, K = 4 (what the issue warned about)
    assert theory.evaluate_chunked(th[None])[0] == pytest.approx(4 * eng.evaluate_chunked(th[None])[0], rel=1e-13)


def test_a_subset_of_parameters_and_float32():
    torch.manual_seed(8)
    x, y = torch.randn(20, 4), torch.randn(20, 1)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)).eval()
    eng = check_against_reference(net, x, y, "mse", nn.MSELoss(), parameters=("2",))
    assert eng.names == ["2.weight", "2.bias"] and eng.n_params == 6 and eng.slice_trick == "2 (Linear)"
    f32 = ModelEngine(ModelProblem(net), x, y, dtype="float32")
    v32 = f32.evaluate_chunked(f32.center[None])
    assert v32[0] == pytest.approx(F.mse_loss(net(x), y).item(), rel=1e-5) and str(f32.dtype) == "torch.float32"


def test_the_slice_trick_is_checked_and_off_when_it_would_be_wrong():
    """A Linear whose weight is computed by a pre-hook as the square of its parameter passes the
    structural checks but is not linear in that parameter: the trick's test point catches it, the
    engine evaluates slices the plain way (still equal to the reference), and says why. A weight also
    used outside its layer is fine (the trick replaces the layer's output only)."""

    def squared(mod, inp):
        mod.weight = mod.weight_raw ** 2

    torch.manual_seed(9)
    first = nn.Linear(3, 3)
    raw = first.weight.detach().clone()
    del first.weight
    first.weight_raw = nn.Parameter(raw)
    first.register_forward_pre_hook(squared)
    model = nn.Sequential(first, nn.Tanh(), nn.Linear(3, 1)).eval()
    x, y = torch.randn(10, 3), torch.randn(10, 1)
    eng = check_against_reference(model, x, y, "mse", nn.MSELoss())
    assert eng.slice_trick is None and "disagreed" in eng.slice_trick_reason

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(3, 3)
            self.last = nn.Linear(3, 1)

        def forward(self, x):
            return self.last(torch.tanh(self.first(x)) @ self.first.weight)

    assert check_against_reference(Tied().eval(), x, y, "mse", nn.MSELoss()).slice_trick == "first (Linear)"
    on = ModelEngine(ModelProblem(small_cnn()), torch.randn(5, 1, 8, 8), torch.randn(5, 10))
    off = ModelEngine(ModelProblem(small_cnn()), torch.randn(5, 1, 8, 8), torch.randn(5, 10), slice_trick=False)
    assert on.slice_trick and off.slice_trick is None


# ------------------------------------------------------------------ refusals
def test_train_mode_model_is_refused_or_switched_with_a_record():
    net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 1))  # train mode
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    region = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}
    with pytest.raises(InvalidSpecError, match=r"train mode.*Dropout.*model.eval\(\).*mode='eval'"):
        experiment_from_model(net, x, y, region=region, grid=[3, 3])
    exp = experiment_from_model(net, x, y, region=region, grid=[5, 5], mode="eval")
    assert net.training  # the user's model is left alone
    assert any("evaluated in eval mode" in n for n in exp.notes)
    assert any("evaluated in eval mode" in n for n in sample_landscape(exp).to_dict()["model"]["notes"])
    # a fresh tanh MLP (train mode, no Dropout/BatchNorm) is evaluated, and the record says so
    plain = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    exp_plain = experiment_from_model(plain, x, y, region=region, grid=[3, 3])
    assert "output is the same in eval mode" in exp_plain.notes[0]
    # the text summary prints the note that changes the evaluation (Dropout switched off), not the one that does
    # not (a fresh module's train mode, with the same output: every factory's model; JSON only)
    assert "note: the model was in train mode; evaluated in eval mode" in analyze_landscape(exp).to_text()
    plain_result = analyze_landscape(exp_plain)
    assert "train mode" not in plain_result.to_text()
    assert "output is the same in eval mode" in plain_result.to_dict()["sample"]["model"]["notes"][0]


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x):
        z = self.lin(x)
        if z.sum() > 0:  # data-dependent Python control flow
            return z
        return -z


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1  # an in-place buffer update in eval mode
        return self.lin(x)


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x):
        return self.lin(x) + 0.1 * torch.randn(x.shape[0], 1)


@pytest.mark.parametrize("module, message", [(Branchy, "branches in Python on tensor values.*torch.where"),
                                             (Counter, "changes its buffer 'calls' in place"),
                                             (Noisy, "different outputs on the same parameters")])
def test_non_functional_modules_are_refused_in_one_line(module, message):
    with pytest.raises(InvalidSpecError, match=message) as exc:
        ModelEngine(module().eval(), torch.randn(6, 2), torch.randn(6, 1))
    assert "\n" not in str(exc.value)


def test_bad_targets_and_names_are_refused():
    net = nn.Sequential(nn.Linear(2, 1)).eval()
    with pytest.raises(InvalidSpecError, match=r"y.reshape\(6, 1\)"):
        ModelEngine(net, torch.randn(6, 2), torch.randn(6))  # torch would broadcast to (6, 6)
    with pytest.raises(InvalidSpecError, match="names no parameter.*0.weight"):
        ModelEngine(ModelProblem(net, parameters=("fc",)), torch.randn(6, 2), torch.randn(6, 1))
    with pytest.raises(InvalidSpecError, match="unknown loss"):
        ModelProblem(net, "hinge")
    with pytest.raises(InvalidSpecError, match="probabilities"):
        ModelEngine(ModelProblem(net, "bce"), torch.randn(6, 2) * 9, torch.ones(6, 1))


# ------------------------------------------------------------------ directions and data
def test_filter_normalisation_per_filter_and_zero_biases():
    torch.manual_seed(10)
    cnn = small_cnn()
    x, y = torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))
    exp = experiment_from_model(cnn, x, y, loss="cross_entropy", grid=[3, 3],
                                region={"kind": "slice", "directions": {"random": 2, "seed": 3}, "low": [-1, -1],
                                        "high": [1, 1]})
    off = 0
    for name, p in cnn.named_parameters():
        n = p.numel()
        for d in exp.directions:
            block = d[off:off + n].reshape(p.shape[0], -1)
            if p.dim() >= 2:  # each output channel / neuron: the centre filter's norm
                np.testing.assert_allclose(np.linalg.norm(block, axis=1),
                                           p.detach().double().reshape(p.shape[0], -1).norm(dim=1).numpy(), rtol=1e-12)
            else:
                assert not block.any(), name  # biases get direction 0
        off += n
    assert exp.direction_source == {"kind": "random", "k": 2, "seed": 3, "normalization": "filter"}


def test_sequential_mlp_matches_the_spec_route_and_has_a_bound():
    """A tanh MLP: the same directions as experiment_from_sequential, the same values as the torch
    engine, and the bound column; a CNN has none, with the reason."""
    from bettibounds.empirical.kernels import experiment_from_sequential

    torch.manual_seed(11)
    mlp = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).eval()
    x, y = torch.randn(10, 2).double(), torch.randn(10, 1).double()
    # a region and grid on which c = 0.95 is stable, unclipped and resolved (docs/usage.md, "What a grid can
    # resolve"), so that the bound column is really compared
    region = {"kind": "slice", "directions": {"random": 2, "seed": 4}, "low": [-6, -6], "high": [6, 6]}
    mexp = experiment_from_model(mlp, x, y, region=region, grid=[33, 33], levels=[0.95, 2.0], reduction="theory")
    sexp = experiment_from_sequential(mlp, x.numpy(), y.numpy(), region=region, grid=[33, 33], levels=[0.95, 2.0])
    np.testing.assert_array_equal(mexp.directions, sample_landscape(sexp).directions)
    np.testing.assert_allclose(sample_landscape(mexp).values, sample_landscape(sexp).values, rtol=1e-12)
    res = analyze_landscape(mexp)
    assert res.bound is not None and res.bound.rigorous and res.no_bound_reason is None
    assert res.to_dict()["upper_bound"]["theorem"] == "K" and res.to_dict()["model"]["reduction"] == "theory"
    assert any(r["comparison"] is not None for r in res.levels)
    cnn = experiment_from_model(small_cnn(), torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)),
                                loss="cross_entropy", region=region, grid=[5, 5], levels=[1.0])
    cres = analyze_landscape(cnn, refine=1)
    assert cres.bound is None and cres.to_dict()["upper_bound"] is None
    assert cres.no_bound_reason == "not covered by any theorem in the catalog: convolution layers (Conv2d)"
    # the text says how the model engine evaluated it (trial 5: only the JSON did)
    assert ("model engine: slice trick on the first layer, module 0 (Conv2d); one fused pass of 0 (Conv2d) + Tanh + "
            "AvgPool2d(kernel (2, 2), stride (2, 2)) (modules named as in model.named_modules())") in cres.to_text()
    assert all(r["comparison"] is None for r in cres.levels)
    relu = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).eval()
    rexp = experiment_from_model(relu, x, y, region=region, grid=[3, 3])
    assert rexp.spec is None and rexp.bound_reason.startswith("not Pfaffian")
    # a max-pooling after a convolution: the stronger reason, wherever the module is (trial 5 got the Conv2d's)
    maxpool = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 10)).eval()
    mexp = experiment_from_model(maxpool, torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)), loss="cross_entropy",
                                 region=region, grid=[3, 3])
    assert mexp.bound_reason == "not Pfaffian: MaxPool2d, max-pooling (a maximum is not analytic)"
    assert experiment_from_model(Block(3).eval(), torch.randn(5, 3), torch.randn(5, 2), region=region,
                                 grid=[3, 3]).bound_reason.startswith("residual connections")


class CallsActivation(nn.Module):
    """Linear(2, 3), an activation called as a function or method, Linear(3, 1)."""

    def __init__(self, act):
        super().__init__()
        self.a, self.b, self.act = nn.Linear(2, 3), nn.Linear(3, 1), act

    def forward(self, v):
        return self.b(self.act(self.a(v)))


@pytest.mark.parametrize("act, activation, reason", [
    # the call's arguments are the module's: a threshold softplus (piecewise, not Pfaffian) and the tanh
    # approximation of GELU (another function) have no bound, as nn.Softplus(threshold=1) and
    # nn.GELU(approximate="tanh") have none (they were read as softplus and gelu, dropping the arguments)
    (lambda h: F.softplus(h, 1.0, 1.0), None, "nn.Softplus(threshold=1.0) is not supported"),
    (lambda h: F.gelu(h, approximate="tanh"), None, "nn.GELU(approximate='tanh') is not supported"),
    (lambda h: F.softplus(h, beta=2.0), None, "nn.Softplus(beta=2.0) is not supported"),
    (lambda h: F.gelu(h), "gelu", None),
    # tensor methods (F.tanh and F.sigmoid call them) are their modules
    (lambda h: h.tanh(), "tanh", None),
    (lambda h: F.sigmoid(h), "logistic", None),
    (lambda h: h.relu(), None, "not Pfaffian"),
], ids=["softplus-threshold", "gelu-tanh", "softplus-beta", "gelu", "tanh-method", "F.sigmoid", "relu-method"])
def test_activations_called_as_functions_are_read_with_their_arguments(act, activation, reason):
    from bettibounds.empirical.model_recognition import recognise_network

    spec, why = recognise_network(ModelProblem(CallsActivation(act)), torch.randn(4, 2), torch.randn(4, 1))
    assert (spec.activation if spec is not None else None) == activation
    assert (reason is None and why is None) or reason in why


def test_plane_line_and_pca_regions_put_the_models_where_they_say():
    torch.manual_seed(12)
    base = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).eval()
    others = [copy.deepcopy(base) for _ in range(2)]
    for k, m in enumerate(others):
        with torch.no_grad():
            for p in m.parameters():
                p.add_(torch.randn_like(p) * (0.5 + k))
    x, y = torch.randn(12, 2), torch.randn(12, 1)
    exp = experiment_from_model(base, x, y, region={"kind": "plane", "models": [base, *others], "low": [0, 0],
                                                    "high": [1, 1]}, grid=[2, 2])
    v = sample_landscape(exp).values
    names = exp.names
    for (i, j), m in zip([(0, 0), (1, 0), (0, 1)], [base, *others]):  # grid corners are the three models
        theta = torch.cat([dict(m.named_parameters())[n].detach().reshape(-1) for n in names]).double().numpy()
        assert v[i, j] == pytest.approx(reference(base, names, theta, x, y.double(), nn.MSELoss()), rel=1e-12)
    assert exp.direction_source["models_at"] == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    line = experiment_from_model(base, x, y, region={"kind": "line", "models": [base, others[0].state_dict()]},
                                 grid=[7])
    assert line.region["low"] == [-0.25] and line.directions.shape == (1, 13)
    traj = [copy.deepcopy(base) for _ in range(5)]
    for k, m in enumerate(traj):
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.1 * k * torch.ones_like(p) + 0.01 * torch.randn_like(p))
    pca = experiment_from_model(base, x, y, region={"kind": "pca", "trajectory": traj}, grid=[5, 5])
    assert np.allclose(pca.directions @ pca.directions.T, np.eye(2), atol=1e-12)
    assert pca.direction_source["explained_variance_ratio"][0] > 0.9  # the drift along ones dominates
    with pytest.raises(InvalidSpecError, match="do not span a 2-dimensional slice"):
        experiment_from_model(base, x, y, region={"kind": "plane", "models": [base, others[0], others[0]]},
                              grid=[3, 3])


def test_dataset_and_dataloader_subsets_are_seeded_and_recorded():
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(13)
    x, y = torch.randn(40, 2), torch.randn(40, 1)
    net = nn.Sequential(nn.Linear(2, 1)).eval()
    region = {"kind": "slice", "directions": {"random": 1, "seed": 0}, "low": [-1], "high": [1]}
    a = experiment_from_model(net, TensorDataset(x, y), region=region, grid=[5], samples=10, seed=3)
    b = experiment_from_model(net, DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True), region=region,
                              grid=[5], samples=10, seed=3)
    c = experiment_from_model(net, x, y, region=region, grid=[5], samples=10, seed=3)
    idx = a.data_source["indices"]
    assert len(idx) == 10 and idx == sorted(idx) and idx == b.data_source["indices"] == c.data_source["indices"]
    assert b.data_source["kind"] == "DataLoader" and torch.equal(a.x, x[idx].double())
    assert np.array_equal(sample_landscape(a).values, sample_landscape(c).values)


def test_reruns_are_bit_identical():
    torch.manual_seed(14)
    region = {"kind": "slice", "directions": {"random": 2, "seed": 5}, "low": [-1, -1], "high": [1, 1]}
    runs = []
    for _ in range(2):
        exp = experiment_from_model(small_cnn(), torch.ones(3, 1, 8, 8), torch.tensor([1, 2, 3]),
                                    loss="cross_entropy", region=region, grid=[7, 7], levels=[2.0])
        res = analyze_landscape(exp, refine=1).to_dict()
        res.pop("timings")
        res["sample"].pop("seconds")
        runs.append(json.dumps(res, sort_keys=True))
    assert runs[0] == runs[1]


# ------------------------------------------------------------------ paths
class Ring(nn.Module):
    """Loss (a^2 + (b - 0.2)^2 - 1.04)^2: a valley along a circle through (-1, 0) and (1, 0). The straight
    segment between these two minima crosses (0, 0), where the loss is (0.04 - 1.04)^2 = 1, so its barrier
    is 1; the valley joins them at loss 0, so the lowest barrier is 0."""

    def __init__(self, a, b):
        super().__init__()
        self.p = nn.Parameter(torch.tensor([a, b], dtype=torch.float64))

    def forward(self, x):
        return (self.p[0] ** 2 + (self.p[1] - 0.2) ** 2 - 1.04) * x


def test_path_between_two_minima_with_a_known_barrier(tmp_path):
    pytest.importorskip("matplotlib")
    from bettibounds.empirical import plot_path

    x, y = torch.ones(3, 1, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)
    res = path_between(Ring(-1.0, 0.0).eval(), Ring(1.0, 0.0), x, y, points=101, iterations=200)
    assert res.straight[0] == pytest.approx(0, abs=1e-24) and res.straight[-1] == pytest.approx(0, abs=1e-24)
    assert res.straight_barrier["barrier"] == pytest.approx(1.0, rel=1e-12)  # s = 1/2 is on the grid
    assert res.straight_barrier["at"] == pytest.approx(0.5)
    assert 0 <= res.relaxed_barrier["barrier"] < 1e-3  # the relaxed path follows the valley
    assert res.relaxed_barrier["max_loss"] <= res.straight_barrier["max_loss"]
    d = res.to_dict()
    assert d["definitions"]["barrier"].startswith("max loss on the path") and d["relaxed"]["images"] == 26
    # the counts say what they count: images between the models, the chain's points, iterations run of the budget
    assert (d["relaxed"]["interior_images"], d["relaxed"]["chain_points"]) == (24, 26)
    rx = d["record"]["relaxation"]
    assert rx["iterations_budget"] == 200 and 0 < rx["iterations_run"] == rx["iterations"] <= 200
    assert f"24 images between the models, {rx['iterations_run']} of 200 iterations" in res.to_text()
    # and why they ended (trial 5: "200 of 300 iterations" said nothing about it)
    assert rx["stopped"] in ("budget", "stalled", "stationary")
    assert rx["stopped"] != "budget" or rx["iterations_run"] == 200
    assert ", stopped: " in res.to_text()
    assert plot_path(res, tmp_path)[0].endswith("path.png") and (tmp_path / "path.png").stat().st_size > 1000
    # the relaxed path (barrier < 1e-3 under a straight one of 1) gets a panel on its own scale; not on a log axis
    from bettibounds._lib import writers

    panels = []
    real = writers.save_figure
    try:
        writers.save_figure = lambda fig, path, **kw: (panels.append(len(fig.axes)), real(fig, path, **kw))
        plot_path(res, tmp_path)
        plot_path(res, tmp_path, log=True)
    finally:
        writers.save_figure = real
    assert panels == [2, 1]
    # the ends are minima (loss 0): no note; ends off the valley (loss 0.0441) with a path into it: a note
    assert res.below_ends() is None and d["below_ends"] is None and "note:" not in res.to_text()
    off = path_between(Ring(-1.1, 0.0).eval(), Ring(1.1, 0.0), x, y, points=101, iterations=200)
    assert off.straight[0] == pytest.approx(0.21 ** 2, rel=1e-12)
    note = off.below_ends()
    assert note is not None and note.startswith("the ") and "are not minima of this loss" in note
    assert off.to_dict()["below_ends"] == note and f"note: {note}" in off.to_text()
    assert off.straight_barrier["min_loss"] == pytest.approx(float(np.min(off.straight)))


# ------------------------------------------------------------------ command line
def test_cli_model_experiment_file(tmp_path, capsys):
    from bettibounds.cli import main

    (tmp_path / "net.py").write_text("import torch\n\ndef make(width=3):\n    return torch.nn.Sequential("
                                     "torch.nn.Conv2d(1, width, 3), torch.nn.Tanh(), torch.nn.Flatten(), "
                                     "torch.nn.Linear(width * 36, 2)).eval()\n")
    torch.manual_seed(15)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(108, 2))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(0).normal(size=(9, 1, 8, 8)), y=np.arange(9) % 2)
    exp = {"model": {"factory": "net.py:make", "weights": "w.pt"}, "loss": {"kind": "cross_entropy"},
           "data": {"file": "d.npz", "samples": 6, "seed": 2},
           "region": {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]},
           "grid": [7, 7], "levels": [0.7]}
    (tmp_path / "exp.json").write_text(json.dumps(exp))
    assert main(["landscape", str(tmp_path / "exp.json"),
                 "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sample"]["engine"] == "model" and out["upper_bound"] is None
    assert out["model"]["data"]["indices"] == sorted(out["model"]["data"]["indices"])
    assert "convolution layers" in out["no_bound_reason"]
    center = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().numpy()
    np.testing.assert_array_equal(out["sample"]["center"], center)  # the weights file was loaded
    assert main(["landscape", str(tmp_path / "exp.json"), "--weights", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.weights: no file" in err
    assert main(["landscape", "examples/slice_2d.json", "--loss", "mse"]) == 2
    assert "--loss applies to PyTorch models" in capsys.readouterr().err
    # auto (the default) and model pick the model engine; the spec-based engines are refused in one line
    assert main(["landscape", str(tmp_path / "exp.json"), "--engine", "torch"]) == 2
    assert "--engine torch is not accepted for a model" in capsys.readouterr().err
    from bettibounds.empirical.model_files import load_model_experiment
    from bettibounds.empirical.sampler import make_kernel

    mexp = load_model_experiment(str(tmp_path / "exp.json"))
    assert make_kernel(mexp).engine_reason.startswith("auto: a torch.nn.Module")
    assert make_kernel(mexp, engine="model").engine_reason == "requested"
    with pytest.raises(InvalidSpecError, match="evaluated by the model engine"):
        make_kernel(mexp, engine="fused")


def test_grid_barcode_of_a_model_landscape():
    """Downstream tools take a model landscape as they take any: the grid barcode's essential bar is the
    grid minimum."""
    from bettibounds.barcode import grid_barcode

    torch.manual_seed(16)
    exp = experiment_from_model(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).eval(), torch.randn(8, 2),
                                torch.randn(8, 1), grid=[9, 9], region={"kind": "slice", "low": [-2, -2],
                                                                        "high": [2, 2], "directions": {"random": 2}})
    sample = sample_landscape(exp)
    bc = grid_barcode(sample)
    assert min(b.birth for b in bc.bars) == pytest.approx(float(sample.values.min()), abs=0)


def test_a_model_of_another_architecture_with_equal_shapes_is_refused_and_its_state_dict_accepted():
    """A Sigmoid network's parameters fit a Tanh network of the same shapes; given as a model it is refused (only
    its parameters would be used, in the first model's architecture), given as a state_dict it is accepted."""
    torch.manual_seed(9)
    a = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double().eval()
    b = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1)).double().eval()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    with pytest.raises(InvalidSpecError, match=r"model_b is a model of another architecture \(module '1': Sigmoid "
                                               r"where the model has '1': Tanh\).*model_b.state_dict\(\)"):
        path_between(a, b, x, y, points=5, iterations=0)
    res = path_between(a, b.state_dict(), x, y, points=5, iterations=0)
    assert res.straight.shape == (5,)
    same = copy.deepcopy(a)
    with torch.no_grad():
        same[0].bias.add_(0.1)
    assert path_between(a, same, x, y, points=5, iterations=0).straight.shape == (5,)
    with pytest.raises(InvalidSpecError, match=r"region.models\[2\] is a model of another architecture"):
        experiment_from_model(a, x, y, region={"kind": "plane", "models": [a, same, b]}, grid=[3, 3])
