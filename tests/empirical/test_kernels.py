"""The batched loss kernel (bettibounds.empirical.kernels) against the float64 jet oracle.

The oracle is :func:`bettibounds.certified.witness.loss_jet`, which evaluates the loss
one parameter vector at a time through :func:`bettibounds.pfaffian.network.loss_expression`
(the reference semantics of the network and loss).
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from bettibounds.certified.jets import FLOAT  # noqa: E402
from bettibounds.certified.witness import loss_jet  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402
from bettibounds.empirical.kernels import LossKernel, flops_per_point, from_sequential  # noqa: E402
from bettibounds.errors import InvalidSpecError, NotPfaffianError  # noqa: E402
from bettibounds.pfaffian.activations import activation_names  # noqa: E402
from bettibounds.spec import BCE_CHAINS, ArchitectureSpec  # noqa: E402

#: every registry activation, and two polynomials
ACTIVATIONS = [*activation_names(), "polynomial:2", "polynomial:3"]
SKIPS = ["none", "residual", "input-output", "residual+input-output"]

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the oracle's exp may overflow


def close(a, b, rel=1e-12, floor=1e-2):
    """|a - b| <= rel * max(|b|, floor): relative, with an absolute floor for tiny losses."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= rel * np.maximum(np.abs(b), floor)))


@st.composite
def problems(draw, max_batch: int = 3):
    """A random small spec, data (as exact Fractions, like an experiment file) and thetas."""
    d = draw(st.integers(1, 3))
    outputs = draw(st.integers(1, 2))
    skip = draw(st.sampled_from(SKIPS))
    if "residual" in skip:
        widths = (draw(st.integers(1, 4)),) * draw(st.integers(2, 3))
    else:
        widths = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    loss = draw(st.sampled_from(["mse", "bce"]))
    out_act = "sigmoid" if loss == "bce" else draw(st.sampled_from(["identity", "sigmoid", "tanh"]))
    n_linear = len(widths) + 1
    bias = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=n_linear, max_size=n_linear)))
    l2 = draw(st.sampled_from([0, 0.0, 0.25, Fraction(1, 3), 1.5]))
    m = draw(st.integers(1, 4))
    spec = ArchitectureSpec(
        inputs=d, widths=widths, activation=draw(st.sampled_from(ACTIVATIONS)), loss=loss, samples=m,
        outputs=outputs, output_activation=out_act, l2=l2, skip=skip, bias=bias,
        bce_chain=draw(st.sampled_from(BCE_CHAINS)),
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=(m, d))
    y = rng.uniform(0, 1, size=(m, outputs)) if loss == "bce" else rng.normal(size=(m, outputs))
    if loss == "bce" and draw(st.booleans()):
        y = np.round(y)  # hard labels 0/1 as well as soft ones
    xs = [[Fraction(float(v)) for v in row] for row in x]
    ys = [[Fraction(float(v)) for v in row] for row in y]
    thetas = rng.normal(scale=0.5, size=(draw(st.integers(1, max_batch)), spec.n_params))
    return spec, xs, ys, thetas, rng


def oracle(spec, xs, ys, theta, order=1):
    return loss_jet(spec, xs, ys, [float(t) for t in theta], FLOAT, order=order)


# ------------------------------------------------------------------ the oracle
@settings(deadline=None)
@given(problems())
def test_evaluate_matches_jet_oracle(problem):
    spec, xs, ys, thetas, _ = problem
    ref = np.array([oracle(spec, xs, ys, t).v for t in thetas])
    assume(np.all(np.isfinite(ref)) and np.all(np.abs(ref) < 1e100))
    kern = LossKernel(spec, xs, ys, device="cpu")
    got = kern.evaluate(thetas)
    assert got.shape == (len(thetas),) and got.dtype == torch.float64
    assert close(got.numpy(), ref), (got.numpy(), ref)


@settings(deadline=None, max_examples=25)
@given(problems(max_batch=1))
def test_autograd_gradient_matches_jet_oracle(problem):
    spec, xs, ys, thetas, _ = problem
    jet = oracle(spec, xs, ys, thetas[0])
    g_ref = np.asarray(jet.g, dtype=float)
    assume(np.isfinite(jet.v) and abs(jet.v) < 1e50 and np.all(np.isfinite(g_ref)))
    theta = torch.tensor(thetas, dtype=torch.float64, requires_grad=True)
    LossKernel(spec, xs, ys, device="cpu").evaluate(theta).sum().backward()
    scale = max(1.0, float(np.max(np.abs(g_ref))))
    assert np.allclose(theta.grad.numpy()[0], g_ref, rtol=1e-9, atol=1e-9 * scale)


def test_experiment_file_data_and_every_activation():
    """Deterministic sweep: every activation x output x skip against the oracle."""
    rng = np.random.default_rng(7)
    for act in ACTIVATIONS:
        for loss, out in (("mse", "identity"), ("mse", "tanh"), ("mse", "sigmoid"), ("bce", "sigmoid")):
            for skip in SKIPS:
                spec = ArchitectureSpec(inputs=2, widths=(3, 3), activation=act, loss=loss, output_activation=out,
                                        samples=3, outputs=2, skip=skip, bias=[True, False, True], l2=0.1)
                x, y = rng.normal(size=(3, 2)).tolist(), rng.uniform(size=(3, 2)).tolist()
                thetas = rng.normal(scale=0.5, size=(2, spec.n_params))
                ref = [oracle(spec, x, y, t).v for t in thetas]
                assert close(LossKernel(spec, x, y, device="cpu").evaluate(thetas).numpy(), ref), (act, loss, out, skip)
    exp = parse_experiment({
        "network": {"layers": [1, 2, 1], "activation": "tanh", "bias": False},
        "data": {"x": [[-2.5], [1.1]], "y": [[0.3], [-0.2]]},
    })
    theta = [0.3, -1.2, 0.7, 2.0]
    got = LossKernel(exp.spec, exp.x, exp.y).evaluate(theta)
    assert got.shape == (1,) and close(got.numpy(), [oracle(exp.spec, exp.x, exp.y, theta).v])


# ------------------------------------------------------------------ slices and chunks
@settings(deadline=None)
@given(problems(), st.integers(1, 3), st.integers(1, 6))
def test_slice_equals_full(problem, k, n):
    spec, xs, ys, thetas, rng = problem
    kern = LossKernel(spec, xs, ys, device="cpu")
    center, directions = thetas[0], rng.normal(scale=0.3, size=(k, spec.n_params))
    coords = rng.uniform(-1, 1, size=(n, k))
    full = kern.evaluate(center + coords @ directions).numpy()
    assume(np.all(np.isfinite(full)) and np.all(np.abs(full) < 1e100))
    sliced = kern.evaluate_slice(center, directions, coords).numpy()
    assert close(sliced, full, rel=1e-11), (sliced, full)
    if k == 1:  # a (B,) coordinate vector is accepted for a 1-D slice
        assert close(kern.evaluate_slice(center, directions[0], coords[:, 0]).numpy(), full, rel=1e-11)


@settings(deadline=None, max_examples=25)
@given(problems(), st.integers(1, 3))
def test_chunked_with_tiny_chunks_equals_one_shot(problem, chunk):
    spec, xs, ys, thetas, rng = problem
    kern = LossKernel(spec, xs, ys, device="cpu")
    pts = rng.normal(scale=0.5, size=(7, spec.n_params))
    one = kern.evaluate(pts).numpy()
    assume(np.all(np.isfinite(one)) and np.all(np.abs(one) < 1e100))
    for ch in (chunk, None, 100):
        got = kern.evaluate_chunked(pts, mode="full", chunk=ch)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == (7,)
        assert close(got, one, rel=1e-13)
    center, directions = thetas[0], rng.normal(scale=0.3, size=(2, spec.n_params))
    coords = rng.uniform(-1, 1, size=(9, 2))
    ref = kern.evaluate_slice(center, directions, coords).numpy()
    assume(np.all(np.isfinite(ref)) and np.all(np.abs(ref) < 1e100))
    for ch in (chunk, None):
        got = kern.evaluate_chunked(coords, mode="slice", center=center, directions=directions, chunk=ch)
        assert close(got, ref, rel=1e-13)


def test_chunked_progress_bar_and_empty(capsys):
    spec = ArchitectureSpec(inputs=2, widths=(4, 4), activation="tanh", samples=5)
    rng = np.random.default_rng(0)
    kern = LossKernel(spec, rng.normal(size=(5, 2)), rng.normal(size=(5, 1)), device="cpu")
    g = np.linspace(-1, 1, 6)
    coords = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    c, D = rng.normal(size=spec.n_params), rng.normal(size=(2, spec.n_params))
    got = kern.evaluate_chunked(coords, mode="slice", center=c, directions=D, chunk=5, progress=True)
    assert np.allclose(got, kern.evaluate_slice(c, D, coords).numpy(), rtol=1e-13)
    assert "36" in capsys.readouterr().err  # tqdm writes to stderr
    assert kern.evaluate_chunked(np.zeros((0, spec.n_params))).shape == (0,)
    # lists and tensors are accepted as well as arrays
    pts = rng.normal(size=(3, spec.n_params))
    assert np.allclose(kern.evaluate_chunked(pts.tolist()), kern.evaluate_chunked(torch.tensor(pts)), rtol=1e-14)


def test_chunk_size_adapts_and_is_bounded():
    spec = ArchitectureSpec(inputs=10, widths=(64, 64), activation="tanh", samples=256)
    kern = LossKernel(spec, np.zeros((256, 10)), np.zeros((256, 1)), device="cpu")
    assert kern.bytes_per_point("slice", 2) >= 8 * 256 * 128
    assert kern.free_memory() > 0
    assert 1 <= kern.chunk_size(10**9, "slice", 2) < 10**9
    assert kern.chunk_size(3) <= 3
    assert flops_per_point(spec) == 2 * 256 * (10 * 64 + 64 * 64 + 64)
    assert flops_per_point(spec, "slice", k=2) == 2 * 256 * (2 * 64 + 64 * 64 + 64) + 2 * 2 * spec.n_params


@pytest.mark.parametrize("kw", [
    dict(widths=(8, 8), skip="residual", l2=0.1),
    dict(widths=(5, 7, 3), outputs=2, skip="input-output"),
    dict(widths=(6,), loss="bce", activation="softplus", output_activation="sigmoid"),
    dict(widths=(4, 9), activation="gelu", output_activation="logistic"),
])
@pytest.mark.parametrize("mode", ["full", "slice"])
def test_bytes_per_point_bounds_the_buffers_a_chunk_uses(kw, mode):
    """bytes_per_point is the memory model behind chunk_size: the buffers one chunk really
    allocates (the workspace) must fit in chunk * bytes_per_point."""
    base = dict(inputs=3, activation="tanh", samples=20)
    spec = ArchitectureSpec(**{**base, **kw})
    rng = np.random.default_rng(0)
    y = rng.uniform(size=(20, spec.outputs))
    kern = LossKernel(spec, rng.normal(size=(20, 3)), y, device="cpu")
    kern.keep_workspace()
    chunk, n = 7, 30
    if mode == "slice":
        k = 2
        kern.evaluate_chunked(rng.normal(size=(n, k)), "slice", center=rng.normal(size=spec.n_params),
                              directions=rng.normal(size=(k, spec.n_params)), chunk=chunk)
    else:
        k = 0
        kern.evaluate_chunked(rng.normal(size=(n, spec.n_params)), chunk=chunk)
    used = kern.workspace_bytes
    assert used > 0
    assert used <= chunk * kern.bytes_per_point(mode, k)


@pytest.mark.parametrize("dtype, act, out_act, theta, expected", [
    # a_1 = exp(800) = inf, z_2 = -inf, a_2 = exp(-inf) = 0, u = 0: loss (0 - 0)^2 = 0
    ("float64", "exp", "identity", [800.0, -1.0, 1.0], 0.0),
    ("float32", "exp", "identity", [100.0, -1.0, 1.0], 0.0),
    # a_2 = inf, u = inf: an honest inf
    ("float64", "exp", "identity", [800.0, 1.0, 1.0], math.inf),
    # t + t^3 overflows float32 at |t| ~ 7e12; the tanh output saturates to 1: loss (1 - 0)^2
    ("float32", "polynomial:3", "tanh", [1e13, 1.0, 1.0], 1.0),
])
def test_infinite_hidden_activations_saturate_as_in_a_plain_forward(dtype, act, out_act, theta, expected):
    """Regression: the ones row that carries the biases was computed as 0 * a + 1, which is
    nan where a hidden activation is +-inf; every unit, and the loss, then became nan."""
    spec = ArchitectureSpec(inputs=1, widths=(1, 1), activation=act, output_activation=out_act,
                            samples=1, bias=False)
    kern = LossKernel(spec, [[1.0]], [[0.0]], device="cpu", dtype=dtype)
    # the reference: a plain nn.Sequential forward of the same network
    tdt = getattr(torch, dtype)
    acts = {"exp": torch.exp, "polynomial:3": lambda t: t + t ** 3}
    with torch.no_grad():
        a = acts[act](torch.tensor([[theta[0]]], dtype=tdt))
        a = acts[act](a * theta[1])
        u = a * theta[2]
        if out_act == "tanh":
            u = torch.tanh(u)
        ref = float((u ** 2).mean())
    assert ref == expected
    values = [
        float(kern.evaluate(theta)[0]),
        float(kern.evaluate_chunked(np.array([theta]))[0]),
        float(kern.evaluate_slice(np.zeros(3), np.array([theta]), [1.0])[0]),
        float(kern.evaluate(torch.tensor(theta, dtype=tdt, requires_grad=True))[0].detach()),
    ]
    assert values == [expected] * 4


def test_slice_gradient_through_center_and_directions():
    """Regression: evaluate_slice chose in-place (non-differentiable) arithmetic from the
    coordinates alone, so a gradient through the center or the directions raised."""
    spec = ArchitectureSpec(inputs=2, widths=(3, 3), activation="softplus", samples=5, skip="residual", l2=0.05)
    rng = np.random.default_rng(4)
    kern = LossKernel(spec, rng.normal(size=(5, 2)), rng.normal(size=(5, 1)), device="cpu")
    P = spec.n_params
    c = torch.tensor(rng.normal(size=P), requires_grad=True)
    D = torch.tensor(rng.normal(size=(2, P)), requires_grad=True)
    t = rng.normal(size=(4, 2))
    kern.evaluate_slice(c, D, t).sum().backward()
    # the same through full theta: d/dc sum_i L(c + t_i D) = sum_i grad L(theta_i);
    # d/dD_j = sum_i t_ij grad L(theta_i)
    theta = (c.detach() + torch.tensor(t) @ D.detach()).requires_grad_(True)
    kern.evaluate(theta).sum().backward()
    assert torch.allclose(c.grad, theta.grad.sum(0), rtol=1e-12, atol=1e-14)
    assert torch.allclose(D.grad, torch.tensor(t).T @ theta.grad, rtol=1e-12, atol=1e-14)


def test_float32_close_to_float64():
    spec = ArchitectureSpec(inputs=4, widths=(16, 16), activation="tanh", samples=32, outputs=2, l2=0.01)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 2))
    thetas = rng.normal(scale=0.3, size=(20, spec.n_params))
    f64 = LossKernel(spec, x, y, dtype="float64").evaluate(thetas)
    k32 = LossKernel(spec, x, y, dtype="float32")
    f32 = k32.evaluate(thetas)
    assert f32.dtype == torch.float32
    assert np.allclose(f32.double().numpy(), f64.numpy(), rtol=1e-4)
    c, D = thetas[0], rng.normal(scale=0.3, size=(2, spec.n_params))
    coords = rng.uniform(-1, 1, size=(10, 2))
    got = k32.evaluate_chunked(coords, mode="slice", center=c, directions=D, chunk=3)
    assert got.dtype == np.float64
    assert np.allclose(got, LossKernel(spec, x, y).evaluate_slice(c, D, coords).numpy(), rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():  # pragma: no cover - runs only where there is a GPU
    spec = ArchitectureSpec(inputs=3, widths=(8, 8), activation="gelu", samples=16, skip="residual+input-output",
                            l2=0.1)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    pts = rng.normal(scale=0.5, size=(50, spec.n_params))
    cpu = LossKernel(spec, x, y, device="cpu").evaluate_chunked(pts)
    gpu = LossKernel(spec, x, y, device="cuda")
    assert gpu.device.type == "cuda"
    assert np.allclose(gpu.evaluate_chunked(pts), cpu, rtol=1e-12)
    assert np.allclose(gpu.evaluate_chunked(pts, chunk=7), cpu, rtol=1e-12)


# ------------------------------------------------------------------ torch models
def _model(act, out_act, bias_last=True):
    nn = torch.nn
    torch.manual_seed(0)
    mods = [nn.Linear(3, 5)]
    if act is not None:
        mods.append(act)
    mods += [nn.Linear(5, 4, bias=False)]
    if act is not None:
        mods.append(type(act)() if not isinstance(act, (nn.Softplus, nn.GELU)) else act)
    mods += [nn.Linear(4, 2, bias=bias_last)]
    if out_act is not None:
        mods.append(out_act)
    return nn.Sequential(*mods).double()


@pytest.mark.parametrize("act", ["Sigmoid", "Tanh", "Softplus", "SiLU", "GELU", "Identity", None])
@pytest.mark.parametrize("out_act,loss", [(None, "mse"), ("Sigmoid", "mse"), ("Tanh", "mse"),
                                          ("Sigmoid", "bce"), (None, "bce")])
def test_from_sequential_round_trip(act, out_act, loss):
    nn, F = torch.nn, torch.nn.functional
    model = _model(getattr(nn, act)() if act else None, getattr(nn, out_act)() if out_act else None,
                   bias_last=out_act != "Tanh")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3))
    y = rng.uniform(size=(6, 2)) if loss == "bce" else rng.normal(size=(6, 2))
    l2 = 0.05
    spec, theta = from_sequential(model, x, y, loss=loss, l2=l2)
    assert theta.dtype == np.float64 and theta.shape == (spec.n_params,)
    assert spec.widths == (5, 4) and spec.outputs == 2 and spec.skip == "none"
    xt, yt = torch.tensor(x), torch.tensor(y)
    with torch.no_grad():
        out = model(xt)
        if loss == "mse":
            data = F.mse_loss(out, yt, reduction="sum") / len(x)
        elif out_act == "Sigmoid":
            data = F.binary_cross_entropy(out, yt, reduction="sum") / len(x)
        else:  # logits, as with nn.BCEWithLogitsLoss
            data = F.binary_cross_entropy_with_logits(out, yt, reduction="sum") / len(x)
        ref = float(data + l2 * sum((p * p).sum() for p in model.parameters()))
    got = LossKernel(spec, x, y, device="cpu").evaluate(theta)
    assert close(got.numpy(), [ref], rel=1e-10 if loss == "bce" else 1e-12), (got, ref)


@pytest.mark.parametrize("module,error", [
    ("ReLU", NotPfaffianError), ("LeakyReLU", NotPfaffianError), ("ELU", NotPfaffianError),
    ("Hardtanh", NotPfaffianError), ("Dropout", InvalidSpecError), ("LayerNorm", InvalidSpecError),
])
def test_from_sequential_unsupported_module_raises(module, error):
    nn = torch.nn
    mod = nn.LayerNorm(4) if module == "LayerNorm" else getattr(nn, module)()
    with pytest.raises(error, match=module):
        from_sequential(nn.Sequential(nn.Linear(2, 4), mod, nn.Linear(4, 1)), [[0.0, 1.0]], [[1.0]])


@pytest.mark.parametrize("model", [
    lambda nn: nn.Sequential(nn.Linear(2, 4), nn.Softplus(beta=2.0), nn.Linear(4, 1)),
    lambda nn: nn.Sequential(nn.Linear(2, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 1)),
    lambda nn: nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 1)),
    lambda nn: nn.Sequential(nn.Linear(2, 1)),
    lambda nn: nn.Sequential(nn.Tanh(), nn.Linear(2, 1)),
    lambda nn: nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Tanh(), nn.Linear(4, 1)),
    lambda nn: nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.SiLU()),
    lambda nn: nn.Linear(2, 1),
])
def test_from_sequential_bad_layout_raises(model):
    with pytest.raises(InvalidSpecError):
        from_sequential(model(torch.nn), [[0.0, 1.0]], [[1.0]])


def _pruned(nn):
    import torch.nn.utils.prune as prune

    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    prune.random_unstructured(model[2], "weight", 0.5)
    return model


def _hooked(nn):
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    model[1].register_forward_hook(lambda mod, inp, out: 2 * out)
    return model


def _shared(nn):
    lin = nn.Linear(4, 4)
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), lin, nn.Tanh(), lin, nn.Tanh(), nn.Linear(4, 1))


@pytest.mark.parametrize("model, match", [
    (lambda nn: torch.nn.utils.parametrizations.spectral_norm(nn.Linear(2, 4)), "parametrisation"),
    (lambda nn: torch.nn.utils.parametrizations.weight_norm(nn.Linear(2, 4)), "parametrisation"),
    (lambda nn: torch.nn.utils.spectral_norm(nn.Linear(2, 4)), "weight_orig"),  # the old, hook-based one
    (_pruned, "pruning mask"),
    (_hooked, "forward hooks"),
    (_shared, "two positions"),
    (lambda nn: nn.Sequential(nn.Linear(2, 4), nn.Softplus(threshold=1.0), nn.Linear(4, 1)), "threshold"),
], ids=["spectral_norm", "weight_norm", "old_spectral_norm", "pruned", "forward_hook", "shared_linear",
        "softplus_threshold"])
def test_from_sequential_refuses_models_whose_stored_tensors_are_not_what_they_compute(model, match):
    # each of these once gave a theta (or an activation) whose loss differed from the model's own
    nn = torch.nn
    m = model(nn)
    if isinstance(m, nn.Linear):  # a parametrised first layer
        m = nn.Sequential(m, nn.Tanh(), nn.Linear(4, 1))
    with pytest.raises(InvalidSpecError, match=match):
        from_sequential(m, [[0.0, 1.0]], [[1.0]])


def test_from_sequential_after_prune_remove_is_the_pruned_model():
    torch.manual_seed(0)
    import torch.nn.utils.prune as prune

    model = _pruned(torch.nn).double()
    prune.remove(model[2], "weight")
    x, y = [[0.0, 1.0], [0.5, -1.0]], [[1.0], [0.0]]
    spec, theta = from_sequential(model, x, y)
    with torch.no_grad():
        ref = float(torch.nn.functional.mse_loss(model(torch.tensor(x, dtype=torch.float64)),
                                                 torch.tensor(y, dtype=torch.float64)))
    assert (theta[-5:-1] == 0).sum() == 2  # half of the last layer's weights pruned to 0
    assert float(LossKernel(spec, x, y, device="cpu").evaluate(theta)) == pytest.approx(ref, rel=1e-12)


# ------------------------------------------------------------------ validation
@pytest.fixture
def small():
    spec = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=2)
    return spec, [[0.0, 1.0], [1.0, 0.5]], [[1.0], [0.0]]


@pytest.mark.parametrize("change,match", [
    (dict(x=[[0.0, 1.0, 2.0], [1.0, 0.5, 0.0]]), "x must have 2 columns"),
    (dict(y=[[1.0], [0.0], [2.0]]), "rows"),
    (dict(x=[[0.0, float("nan")], [1.0, 0.5]]), "non-finite"),
    (dict(y=[[float("inf")], [0.0]]), "non-finite"),
    (dict(x=[[0.0, 1.0]], y=[[1.0]]), "spec.samples"),
    (dict(x=[[0.0, 1.0], [1.0]]), "rectangular"),
    (dict(x=[0.0, 1.0]), "2-D"),
    (dict(dtype="float16"), "dtype"),
    (dict(dtype="int"), "dtype"),
    (dict(device="tpu"), "device"),
    (dict(device="mps"), "device"),
    (dict(spec="not a spec"), "ArchitectureSpec"),
])
def test_bad_constructor_input_raises(small, change, match):
    spec, x, y = small
    kw = dict(spec=spec, x=x, y=y, device="cpu")
    kw.update(change)
    with pytest.raises(InvalidSpecError, match=match):
        LossKernel(**kw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_cuda_requested_but_unavailable(small):
    spec, x, y = small
    with pytest.raises(InvalidSpecError, match="CUDA is not available"):
        LossKernel(spec, x, y, device="cuda")
    assert LossKernel(spec, x, y).device.type == "cpu"  # None chooses the CPU here


def test_bad_targets_and_symbolic_spec():
    import sympy

    spec = ArchitectureSpec(inputs=1, widths=(2,), loss="bce", output_activation="sigmoid", samples=1)
    with pytest.raises(InvalidSpecError, match=r"\[0, 1\]"):
        LossKernel(spec, [[0.0]], [[1.5]])
    h = sympy.Symbol("h", positive=True, integer=True)
    with pytest.raises(InvalidSpecError, match="concrete"):
        LossKernel(ArchitectureSpec(inputs=1, widths=(h,), samples=1), [[0.0]], [[1.0]])


def test_bad_evaluation_input_raises(small):
    spec, x, y = small
    kern = LossKernel(spec, x, y, device="cpu")
    P = spec.n_params
    c, D = np.zeros(P), np.ones((2, P))
    bad = [
        (lambda: kern.evaluate(np.zeros((2, P + 1))), "shape"),
        (lambda: kern.evaluate(np.zeros((2, 2, P))), "shape"),
        (lambda: kern.evaluate(np.full((1, P), np.nan)), "non-finite"),
        (lambda: kern.evaluate([[1.0, 2.0], [3.0]]), "rectangular"),
        (lambda: kern.evaluate(torch.zeros(1, P, dtype=torch.complex128)), "real"),
        (lambda: kern.evaluate_slice(c, D, np.zeros((3, 3))), "shape"),
        (lambda: kern.evaluate_slice(np.zeros(P + 1), D, np.zeros((3, 2))), "center"),
        (lambda: kern.evaluate_slice(c, np.ones((2, P - 1)), np.zeros((3, 2))), "directions"),
        (lambda: kern.evaluate_slice(c, np.ones((0, P)), np.zeros((3, 0))), "at least one"),
        (lambda: kern.evaluate_slice(c, D, np.array([[np.inf, 0.0]])), "non-finite"),
        (lambda: kern.evaluate_chunked(np.zeros((3, P)), mode="box"), "mode"),
        (lambda: kern.evaluate_chunked(np.zeros((3, P)), chunk=0), "chunk"),
        (lambda: kern.evaluate_chunked(np.zeros((3, P)), chunk=2.5), "chunk"),
        (lambda: kern.evaluate_chunked(np.zeros((3, 2)), mode="slice"), "center"),
        (lambda: kern.evaluate_chunked(np.zeros((3, P)), center=c, directions=D), "slice"),
        (lambda: kern.evaluate_chunked(np.zeros((3, 3)), mode="slice", center=c, directions=D), "shape"),
        (lambda: kern.evaluate_chunked(np.zeros((3, P - 1))), "shape"),
        (lambda: kern.evaluate_chunked(np.full((3, P), np.nan), chunk=2), "non-finite"),
    ]
    for call, match in bad:
        with pytest.raises(InvalidSpecError, match=match):
            call()


def test_import_bettibounds_does_not_import_torch():
    code = ("import sys, bettibounds, bettibounds.empirical, bettibounds.empirical.experiment; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_experiment_from_sequential_centres_the_slice_at_the_model(loss):
    """The documented route from a user's nn.Sequential to a landscape: the grid point at
    t = 0 is the model itself, so its value is the model's own loss (torch's functional loss)."""
    from bettibounds.empirical.kernels import experiment_from_sequential
    from bettibounds.empirical.sampler import sample_landscape

    torch.manual_seed(1)
    tail = [torch.nn.Sigmoid()] if loss == "bce" else []
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3, bias=False),
                                torch.nn.Tanh(), torch.nn.Linear(3, 1), *tail).double()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 2))
    y = (x[:, :1] > 0).astype(float)
    exp = experiment_from_sequential(
        model, x, y, loss=loss, grid=[5, 5], levels=[0.5],
        region={"kind": "slice", "directions": {"random": 2, "seed": 3}, "low": [-1, -1], "high": [1, 1]})
    assert exp.spec.n_params == sum(p.numel() for p in model.parameters())
    sample = sample_landscape(exp, device="cpu")
    with torch.no_grad():
        out, target = model(torch.tensor(x)), torch.tensor(y)
        ref = (torch.nn.functional.mse_loss(out, target) if loss == "mse"
               else torch.nn.functional.binary_cross_entropy(out, target))
    assert sample.values[2, 2] == pytest.approx(float(ref), rel=1e-12)
    with pytest.raises(InvalidSpecError, match="region"):
        experiment_from_sequential(model, x, y, region="slice", grid=[5, 5], levels=[0.5])
    # numpy arrays and scalars and tuples stand for the JSON lists and numbers; levels are optional
    theta = from_sequential(model, x, y, loss=loss)[1]
    exp_np = experiment_from_sequential(
        model, x, y, loss=loss, grid=np.array([5, 5]), levels=(np.float32(0.5),), homology_dims=np.array([0, 1]),
        region={"kind": "slice", "center": theta, "directions": np.eye(len(theta))[:2], "low": np.array([-1.0, -1]),
                "high": (1, 1)})
    assert exp_np.grid == [5, 5] and exp_np.levels == [0.5] and exp_np.homology_dims == [0, 1]
    assert experiment_from_sequential(model, x, y, loss=loss, grid=[5, 5], region=exp.region).levels is None


@pytest.mark.parametrize("dtype, big", [("float32", 3e38), ("float64", 1.7e308)])
def test_bce_with_an_overflowed_logit_is_its_exact_limit_not_nan(dtype, big):
    # hard labels and logits that overflow to +-inf on the right side: every term's limit is 0, and the
    # term with coefficient 0 is left out instead of giving 0 * inf = NaN; on the wrong side the loss is inf
    spec = ArchitectureSpec(inputs=1, widths=(2,), outputs=1, samples=2, activation="tanh", loss="bce",
                            output_activation="logistic", bias=False)
    theta = np.array([[30.0, -30.0, big, -big]])  # u = +-2 big (tanh(30) = 1): overflows to +-inf for x = +-1
    right = LossKernel(spec, [[1.0], [-1.0]], [[1.0], [0.0]], device="cpu", dtype=dtype)
    assert float(right.evaluate(theta)) == 0.0
    wrong = LossKernel(spec, [[1.0], [-1.0]], [[0.0], [1.0]], device="cpu", dtype=dtype)
    assert float(wrong.evaluate(theta)) == np.inf
    soft = LossKernel(spec, [[1.0], [-1.0]], [[0.5], [0.5]], device="cpu", dtype=dtype)
    assert float(soft.evaluate(theta)) == np.inf  # a soft label pays for the overflowed logit


def test_a_positive_l2_that_underflows_in_float64_is_refused():
    # the bound's compactness hypothesis holds for the spec's l2 > 0; a kernel that computed without the
    # penalty would sample a different function
    from fractions import Fraction

    spec = ArchitectureSpec(inputs=1, widths=(2,), outputs=1, samples=2, l2=Fraction(1, 10**400))
    assert spec.l2_positive
    with pytest.raises(InvalidSpecError, match="without its penalty"):
        LossKernel(spec, [[0.0], [1.0]], [[0.0], [1.0]], device="cpu")
    LossKernel(ArchitectureSpec(inputs=1, widths=(2,), outputs=1, samples=2, l2=1e-300), [[0.0], [1.0]],
               [[0.0], [1.0]], device="cpu")
