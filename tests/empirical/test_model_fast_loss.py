"""The model engine's cross entropy by the fused engine's vector code, and a LogSoftmax head folded into it.

With the fast activations, ``cross_entropy`` (class indices or probabilities) and ``nll`` after a
``LogSoftmax(dim=1)`` that ends a plain ``nn.Sequential`` are computed by
``_fused_numba.cross_entropy_points`` (:func:`bettibounds.engines.model_losses.fast_cross_entropy`).
Checked here against a plain per-point torch forward and torch's own losses, against a 50-digit oracle
where torch's ``log_softmax`` loses the relative accuracy, on the heads that must not be folded, under
autograd (which goes to torch's formulas) and threads, and the check at the centre that refuses a
disagreeing kernel.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds.engines import _fused_numba  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402

nn, F = torch.nn, torch.nn.functional
REL = {"float64": 1e-12, "float32": 2e-5}


def _reference(model, names, theta, x, y, loss_fn, dtype) -> float:
    """The loss at theta by a plain per-point forward of a copy of the model (torch's loss)."""
    m = copy.deepcopy(model).to(dtype)
    params = dict(m.named_parameters())
    with torch.no_grad():
        vector_to_parameters(torch.as_tensor(theta, dtype=dtype), [params[n] for n in names])
        return float(loss_fn(m(x.to(dtype)), y if y.dtype == torch.int64 else y.to(dtype)))


def _points(eng, n=5, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    return eng.center[None] + rng.normal(scale=scale, size=(n, eng.n_params))


def _data(m=300, d=6, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, d, generator=g, dtype=torch.float64)
    idx = torch.randint(0, classes, (m,), generator=g)
    soft = torch.softmax(torch.randn(m, classes, generator=g, dtype=torch.float64), dim=1)
    return x, idx, soft


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("targets", ["indices", "soft"])
def test_cross_entropy_by_the_vector_code_gives_torchs_loss(dtype, targets):
    torch.manual_seed(1)
    x, idx, soft = _data()
    y = idx if targets == "indices" else soft
    net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)).eval()
    eng = ModelEngine(ModelProblem(net, "cross_entropy"), x, y, dtype=dtype)
    assert eng.loss_kernel is not None and "vector code" in eng.loss_kernel
    assert eng.record()["loss_kernel"] == eng.loss_kernel
    tdt = getattr(torch, dtype)
    pts = _points(eng)
    got = eng.evaluate_chunked(pts)
    want = [_reference(net, eng.names, p, x, y, nn.CrossEntropyLoss(), tdt) for p in pts]
    np.testing.assert_allclose(got, want, rtol=REL[dtype], atol=0)
    # slices too (the slice trick's path through the same loss)
    D = np.random.default_rng(2).normal(scale=0.2, size=(2, eng.n_params))
    t = np.array([[0.0, 0.0], [0.5, -1.0], [-1.0, 1.0]])
    got_s = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D)
    want_s = [_reference(net, eng.names, eng.center + ti @ D, x, y, nn.CrossEntropyLoss(), tdt) for ti in t]
    np.testing.assert_allclose(got_s, want_s, rtol=REL[dtype], atol=0)
    plain = ModelEngine(ModelProblem(net, "cross_entropy"), x, y, dtype=dtype, fast_activations=False)
    assert plain.loss_kernel is None
    np.testing.assert_allclose(plain.evaluate_chunked(pts), got, rtol=REL[dtype], atol=0)


def test_a_log_softmax_head_is_folded_into_the_loss_with_torchs_numbers():
    torch.manual_seed(2)
    x, idx, _ = _data(classes=5)
    net = nn.Sequential(nn.Linear(6, 7), nn.Sigmoid(), nn.Linear(7, 5), nn.LogSoftmax(dim=1)).eval()
    eng = ModelEngine(ModelProblem(net, "nll"), x, idx)
    assert eng.loss_kernel is not None and "LogSoftmax" in eng.loss_kernel
    pts = _points(eng)
    want = [_reference(net, eng.names, p, x, idx, nn.NLLLoss(), torch.float64) for p in pts]
    np.testing.assert_allclose(eng.evaluate_chunked(pts), want, rtol=1e-12, atol=0)
    # the caller's model is untouched (the engine folds the head of its own copy)
    assert "forward" not in vars(net[-1])
    out = net.double()(x)
    assert torch.allclose(out.exp().sum(1), torch.ones(len(x), dtype=torch.float64))


def test_a_folded_head_keeps_the_relative_accuracy_of_very_confident_samples():
    """Margins of 30-36 (a per-sample loss near 1e-13 to 1e-15): torch's log_softmax rounds 1 + s and is
    about 1e-3 off in relative terms; the folded head computes log1p(s) (a 50-digit oracle). Fails when the
    head is evaluated by torch."""
    mpmath = pytest.importorskip("mpmath")
    margins = [30.0, 33.0, 36.0]
    lin = nn.Linear(3, 3, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.tensor(margins, dtype=torch.float64)))
    net = nn.Sequential(lin, nn.LogSoftmax(dim=1)).eval()
    x, label = torch.eye(3, dtype=torch.float64), torch.arange(3)
    with mpmath.workdps(50):
        want = float(sum(mpmath.log1p(2 * mpmath.exp(-mpmath.mpf(g))) for g in margins) / 3)
    eng = ModelEngine(ModelProblem(net, "nll"), x, label)
    assert eng.loss_kernel is not None
    assert eng.evaluate_chunked(eng.center[None])[0] == pytest.approx(want, rel=1e-14, abs=0)
    with torch.no_grad():
        torchs = float(F.nll_loss(net(x), label))
    assert abs(torchs - want) > 1e-6 * want  # (what the fold avoids)


class _Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.body(x)


def _heads():
    """Models ending in log-probabilities whose head must not be folded, and why."""
    twice = nn.LogSoftmax(dim=1)
    hooked = nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=1))
    hooked[1].register_forward_hook(lambda mod, inp, out: out * 1.0)
    return {"custom module": _Wrapped(), "the head's module used twice": nn.Sequential(nn.Linear(6, 4), twice, twice),
            "a hook on the head": hooked}


@pytest.mark.parametrize("case", list(_heads()))
def test_heads_that_are_not_folded_keep_torchs_evaluation(case):
    torch.manual_seed(3)
    net = _heads()[case].eval()
    x, idx, _ = _data()
    eng = ModelEngine(ModelProblem(net, "nll"), x, idx)
    assert eng.loss_kernel is None
    pts = _points(eng, n=3)
    want = [_reference(net, eng.names, p, x, idx, nn.NLLLoss(), torch.float64) for p in pts]
    np.testing.assert_allclose(eng.evaluate_chunked(pts), want, rtol=1e-12, atol=0)


def test_log_softmax_over_another_axis_is_refused_with_nll():
    """LogSoftmax(dim=0) normalises over the samples: the outputs are not log-probabilities over the classes."""
    from bettibounds import InvalidSpecError

    x, idx, _ = _data()
    with pytest.raises(InvalidSpecError, match="takes log-probabilities"):
        ModelEngine(ModelProblem(nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=0)).eval(), "nll"), x, idx)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll"])
def test_gradients_go_through_torchs_formulas(loss):
    """A path's relaxation differentiates the loss: outputs that record a gradient are not sent to the
    vector code, and a folded head's gradient is the cross entropy's (nll of log_softmax, as torch)."""
    torch.manual_seed(4)
    x, idx, _ = _data(m=80)
    layers = [nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4)] + ([nn.LogSoftmax(dim=1)] if loss == "nll" else [])
    net = nn.Sequential(*layers).double().eval()
    eng = ModelEngine(ModelProblem(net, loss), x, idx)
    assert eng.loss_kernel is not None
    theta = torch.tensor(_points(eng, n=1, seed=5)[0], requires_grad=True)
    value = eng.evaluate(theta)
    value.sum().backward()
    m = copy.deepcopy(net)
    params = [p for _, p in m.named_parameters()]
    ref_theta = theta.detach().clone().requires_grad_(True)
    chunks = ref_theta.split([p.numel() for p in params])
    out = torch.func.functional_call(m, {n: c.view(p.shape) for (n, p), c in zip(m.named_parameters(), chunks)},
                                     (x,))
    ref = (F.nll_loss(out, idx) if loss == "nll" else F.cross_entropy(out, idx))
    ref.backward()
    assert float(value.detach()[0]) == pytest.approx(float(ref.detach()), rel=1e-12)
    np.testing.assert_allclose(theta.grad.numpy(), ref_theta.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_threads_give_the_same_numbers():
    torch.manual_seed(5)
    x, idx, _ = _data(m=2000, classes=10)
    net = nn.Sequential(nn.Linear(6, 10)).eval()
    pts = None
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            eng = ModelEngine(ModelProblem(net, "cross_entropy"), x, idx, sample_block=0)
            pts = _points(eng, n=64) if pts is None else pts
            results.append(eng.evaluate_chunked(pts))
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_a_disagreeing_vector_code_is_not_used(monkeypatch):
    """The check at the centre: a kernel whose sums are off by 1e-9 relative is refused, with a warning, and
    torch's formulas give the numbers (and a folded head is put back)."""
    real = _fused_numba.cross_entropy_points

    def off(H, c, Y, m, b0, b1, out):
        real(H, c, Y, m, b0, b1, out)
        out[b0:b1] *= 1 + 1e-9

    monkeypatch.setattr(_fused_numba, "cross_entropy_points", off)
    torch.manual_seed(6)
    x, idx, _ = _data()
    for loss, net in (("cross_entropy", nn.Sequential(nn.Linear(6, 4))),
                      ("nll", nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=1)))):
        with pytest.warns(RuntimeWarning, match="differed from torch's formulas"):
            eng = ModelEngine(ModelProblem(net.eval(), loss), x, idx)
        assert eng.loss_kernel is None
        pts = _points(eng, n=3)
        want = [_reference(net, eng.names, p, x, idx, nn.CrossEntropyLoss() if loss == "cross_entropy"
                           else nn.NLLLoss(), torch.float64) for p in pts]
        np.testing.assert_allclose(eng.evaluate_chunked(pts), want, rtol=1e-12, atol=0)


def test_a_slice_whose_tables_do_not_fit_in_memory_is_evaluated_point_by_point(monkeypatch):
    """The slice trick's tables grow with the data ((1 + k) x m x the first layer's output): where they would
    take more than half the free memory the slice is evaluated without them (same numbers), and says so."""
    torch.manual_seed(7)
    x, idx, _ = _data(m=200)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4)).eval()
    eng = ModelEngine(ModelProblem(net, "cross_entropy"), x, idx)
    assert eng.slice_trick is not None
    D = np.random.default_rng(8).normal(scale=0.2, size=(2, eng.n_params))
    t = np.array([[0.0, 0.0], [0.3, -0.7], [-1.0, 0.5]])
    with_tables = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D)
    assert eng.slice_trick_memory is None and eng.plan_slice(eng.center, D).z is not None
    need = eng._table_bytes(2)
    assert need == 3 * 3 * 200 * 16 * 8
    monkeypatch.setattr(type(eng), "free_memory", lambda self: 2 * need - 1)
    D2 = D * 1.5  # a new slice (the plan of the last one is kept)
    small = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D2)
    assert eng.slice_trick_memory is not None and "point by point" in eng.slice_trick_memory
    assert eng.plan_slice(eng.center, D2).z is None
    want = [_reference(net, eng.names, eng.center + ti @ D2, x, idx, nn.CrossEntropyLoss(), torch.float64) for ti in t]
    np.testing.assert_allclose(small, want, rtol=1e-12, atol=0)
    monkeypatch.setattr(type(eng), "free_memory", lambda self: 2 * need)
    again = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D)
    assert eng.slice_trick_memory is None
    np.testing.assert_array_equal(again, with_tables)


def test_results_say_how_the_cross_entropy_was_computed_on_either_engine():
    """A new user's trial: with auto's fused engine (a recognised MLP) neither the text nor the JSON said how nll
    was evaluated; both engines now record ``loss_kernel``, and the text names the engine that did it."""
    from bettibounds.empirical import analyze_landscape, experiment_from_model

    torch.manual_seed(8)
    x, idx, _ = _data(m=40)
    region = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}
    mlp = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.LogSoftmax(dim=1)).double().eval()
    cnn_like = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.LogSoftmax(dim=1)).double().eval()
    for net, engine in ((mlp, "fused"), (cnn_like, "model")):
        res = analyze_landscape(experiment_from_model(net, x, idx, loss="nll", region=region, grid=[9, 9],
                                                      levels=[1.0]), local_search=False)
        assert res.sample.engine == engine
        assert "folded" in res.model["loss_kernel"] and res.model["reduction_meaning"].startswith("torch's default")
        assert f"{engine} engine: " in res.to_text() and "(the LogSoftmax head folded into it)" in res.to_text()


def test_a_bad_class_index_names_its_sample():
    """A new user's trial: the error named the index but not the sample."""
    from bettibounds import InvalidSpecError

    x, idx, _ = _data(m=30)
    net = nn.Sequential(nn.Linear(6, 4)).eval()
    high, low = idx.clone(), idx.clone()
    high[17], low[5] = 4, -1
    with pytest.raises(InvalidSpecError, match=r"class index 4 \(sample 17\) is out of range for a model with 4 "
                                               r"outputs \(classes 0 to 3\)"):
        ModelEngine(ModelProblem(net, "cross_entropy"), x, high)
    with pytest.raises(InvalidSpecError, match=r"class indices must be >= 0, got -1 \(sample 5\)"):
        ModelEngine(ModelProblem(net, "nll"), x, low)
