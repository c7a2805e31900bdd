"""The model engine's speed paths (issue 20's performance round) keep its values: one-point chunks
evaluated without vmap, channels-last first-layer tables of a Conv2d, the three-pass cross entropy
with and without autograd, and the ``compile`` option's machinery (padding, the check against the
plain chunk, the fall-back with a reason). ``torch.compile`` itself is replaced by stand-ins here (a
real compilation takes tens of seconds; ``benchmarks/bench_models.py`` runs it and checks its values
against the per-point loop).

The oracle for values is a plain per-point forward of a float64 copy (vector_to_parameters, eval
mode, torch's own loss module), as in test_models.py.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402

nn = torch.nn


def reference(model, theta, x, y, loss_fn, grad=False):
    """Loss (and its gradient) at theta by the plain route."""
    m = copy.deepcopy(model).double().eval()
    vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
    with torch.set_grad_enabled(grad):
        loss = loss_fn(m(x), y)
        if not grad:
            return float(loss)
        loss.backward()
        return float(loss.detach()), torch.cat([p.grad.reshape(-1) for p in m.parameters()]).numpy()


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double().eval()


def data(seed=0, m=12):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, 3, generator=g, dtype=torch.float64), torch.randint(0, 4, (m,), generator=g)


def test_one_point_chunks_callable_loss_and_gradients_match_the_plain_forward():
    """chunk=1 takes the module's own forward (no vmap); a callable loss there, and the cross entropy's
    gradients through evaluate() (its exp is in place only without autograd)."""
    model, (x, y) = mlp(), data()
    soft = torch.softmax(torch.randn(12, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64), 1)

    def huber(pred, target):
        return torch.nn.functional.huber_loss(pred, target)

    rng = np.random.default_rng(0)
    for loss, tgt, fn in (("cross_entropy", y, nn.CrossEntropyLoss()), ("cross_entropy", soft, nn.CrossEntropyLoss()),
                          (huber, soft, huber)):
        eng = ModelEngine(ModelProblem(model, loss), x, tgt, device="cpu")
        theta = eng.center + 0.3 * rng.standard_normal((3, eng.n_params))
        one = eng.evaluate_chunked(theta, chunk=1)
        many = eng.evaluate_chunked(theta, chunk=3)
        ref = [reference(model, th, x, tgt, fn) for th in theta]
        np.testing.assert_allclose(one, ref, rtol=1e-12, atol=0)
        np.testing.assert_allclose(many, ref, rtol=1e-12, atol=0)
        th = torch.tensor(theta[:1], requires_grad=True)
        value = eng.evaluate(th)
        value.sum().backward()
        ref_value, ref_grad = reference(model, theta[0], x, tgt, fn, grad=True)
        assert float(value.detach()) == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(th.grad.numpy()[0], ref_grad, rtol=1e-10, atol=1e-14)


def test_conv2d_tables_are_channels_last_and_exact_on_slices_of_each_dimension():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(3, 2, 2),
                          nn.Flatten(), nn.Linear(2, 3)).double().eval()
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(7, 2, 4, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (7,), generator=g)
    eng = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu")
    assert eng.slice_trick == "0 (Conv2d)" and eng._channels_last
    rng = np.random.default_rng(1)
    for k in (1, 2):
        D = 0.2 * rng.standard_normal((k, eng.n_params))
        t = rng.uniform(-1, 1, (5, k))
        got = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=2)
        ref = [reference(model, eng.center + ti @ D, x, y, nn.CrossEntropyLoss()) for ti in t]
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


# ------------------------------------------------------------------ the compile option
def _slice(eng, n=11, k=2, seed=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, k)), 0.3 * rng.standard_normal((k, eng.n_params))


def test_compile_pads_chunks_compiles_once_per_mode_and_dimension(monkeypatch):
    """A stand-in compile (the function itself, counting its calls): every call gets the chunk size's
    rows, the padding's values are dropped, and the values equal the plain engine's."""
    compiled, rows = [], []

    def fake_compile(fn, **kw):
        compiled.append(kw)

        def run(*args):
            rows.append(args[0].shape[0])
            return fn(*args)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    model, (x, y) = mlp(), data()
    eng = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu", compile=True)
    plain = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu")
    assert eng.compiled is None and eng.record()["compiled"] is None
    t, D = _slice(eng)
    got = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=4)  # 4 + 4 + 3 (+ 1 padded)
    np.testing.assert_allclose(got, plain.evaluate_chunked(t, "slice", center=eng.center, directions=D),
                               rtol=1e-13, atol=0)
    assert eng.compiled is True and "chunks of 4 points" in eng.compile_reason and eng.compile_seconds >= 0
    assert rows == [4, 4, 4] and compiled == [{"dynamic": False}]
    eng.evaluate_chunked(t[:2], "slice", center=eng.center, directions=D)  # the same size, padded
    assert rows[-1] == 4 and len(compiled) == 1
    t1, D1 = _slice(eng, n=3, k=1)
    got1 = eng.evaluate_chunked(t1, "slice", center=eng.center, directions=D1, chunk=4)  # another graph
    assert len(compiled) == 2
    np.testing.assert_allclose(got1, plain.evaluate_chunked(t1, "slice", center=eng.center, directions=D1),
                               rtol=1e-13, atol=0)
    theta = eng.center + 0.1 * np.random.default_rng(3).standard_normal((5, eng.n_params))
    np.testing.assert_allclose(eng.evaluate_chunked(theta, chunk=2), plain.evaluate_chunked(theta),
                               rtol=1e-13, atol=0)
    assert len(compiled) == 3 and eng.record()["compiled"] is True


@pytest.mark.parametrize("broken, reason", [
    (lambda fn: (lambda *a: fn(*a) * (1 + 1e-6)), "differed from the plain evaluation by 1e-06 relative"),
    (lambda fn: (lambda *a: (_ for _ in ()).throw(RuntimeError("no C++ compiler"))),
     "torch.compile failed (no C++ compiler)"),
])
def test_a_wrong_or_failing_compile_is_turned_off_with_the_reason(monkeypatch, broken, reason):
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: broken(fn))
    model, (x, y) = mlp(1), data(1)
    eng = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu", compile=True)
    t, D = _slice(eng)
    with pytest.warns(RuntimeWarning, match="evaluated without it"):
        got = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=4)
    ref = [reference(model, eng.center + ti @ D, x, y, nn.CrossEntropyLoss()) for ti in t]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)  # every chunk plain, the first included
    assert eng.compiled is False and reason in eng.compile_reason
    assert eng.record()["compile_reason"] == eng.compile_reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # turned off once: no second attempt, no second warning
        eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=4)


def test_compile_is_off_by_default_and_must_be_a_bool():
    model, (x, y) = mlp(), data()
    eng = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu")
    assert eng.compiled is False and "compile=False" in eng.compile_reason
    with pytest.raises(InvalidSpecError, match="compile must be True or False"):
        ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu", compile="yes")
