"""The model engine's fast activations and the fused route of ``engine="auto"`` for a recognised MLP.

* :mod:`bettibounds.engines.fast_activations`: tanh and the logistic by the fused engine's vector
  code, inside torch (custom operators, a vmap rule, a TorchFunctionMode), against mpmath (40 digits)
  on a sweep, the tails, tiny arguments and random inputs, within the stated ulp bounds; the layouts,
  vmap, autograd and the functions it leaves to torch.
* :mod:`bettibounds.empirical.model_fused`: a recognised tanh / logistic MLP with mse or
  bce_with_logits goes to the fused engine, in the model's parameter order and torch's (or the
  theory's) reduction -- against a plain per-point torch forward -- and everything else stays on the
  model engine, with the reason.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds.empirical import experiment_from_model, sample_landscape  # noqa: E402
from bettibounds.empirical.sampler import make_kernel  # noqa: E402
from bettibounds.engines import fused as fused_module  # noqa: E402
from bettibounds.engines.fast_activations import FastActivations, fast_logistic, fast_tanh  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402

nn, F = torch.nn, torch.nn.functional
#: the stated bounds from the exact value (docs/theory.md section 15 for float64; the exhaustive float32 checks
#: bound the distance from the correctly rounded value by 5 and 2 ulp, so from the exact one by 5.5 and 2.5)
ULP = {("tanh", "float64"): 6.7, ("logistic", "float64"): 4.1, ("tanh", "float32"): 5.5, ("logistic", "float32"): 2.5}


def _inputs(dtype) -> np.ndarray:
    """About 3000 arguments: a dense sweep, tiny |x| down to the subnormals, the tails past the
    clamps, the range reduction's small-argument edge, random normals; both signs."""
    rng = np.random.default_rng(3)
    tiny = 1e-300 if dtype == np.float64 else 1e-37
    parts = [np.linspace(-20, 20, 1201), np.logspace(np.log10(tiny), -1, 300), np.linspace(0.0100, 0.0116, 41),
             np.linspace(0.35, 0.37, 41), np.array([8.9, 9.0, 9.01, 9.02, 18.0, 19.0, 19.1, 39.0, 40.0, 41.0, 100.0,
                                                    700.0, 708.0, 709.0, 710.0, 745.0, 800.0, 1e300]),
             3 * rng.standard_normal(600)]
    x = np.concatenate(parts)
    x = np.concatenate([x, -x, [0.0]])
    return x[np.abs(x) <= np.finfo(dtype).max].astype(dtype)


def _ulp_errors(got: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    f = mpmath.tanh if name == "tanh" else (lambda v: 1 / (1 + mpmath.exp(-v)))
    out = np.empty(len(x))
    with mpmath.workdps(40):
        for i, (g, v) in enumerate(zip(got.astype(np.float64), x.astype(np.float64))):
            exact = f(mpmath.mpf(float(v)))
            w = float(exact)
            # ulp of the exact value in the result's precision (the smallest normal's ulp below it)
            fin = np.finfo(got.dtype)
            ulp = float(np.spacing(got.dtype.type(max(abs(w), float(fin.tiny)))))
            if abs(exact) < fin.tiny:
                ulp = float(fin.smallest_subnormal)
            out[i] = float(abs(mpmath.mpf(float(g)) - exact) / ulp)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, op, ref", [("tanh", fast_tanh, torch.tanh), ("logistic", fast_logistic, torch.sigmoid)])
def test_fast_activations_within_their_ulp_bounds_of_mpmath(dtype, name, op, ref):
    x = _inputs(dtype)
    got = op(torch.from_numpy(x)).numpy()
    errors = _ulp_errors(got, x, name)
    bound = ULP[name, np.dtype(dtype).name]
    assert errors.max() <= bound, (name, float(errors.max()), x[int(np.argmax(errors))])
    assert errors.max() > 0.5  # the sample reaches inputs that are not correctly rounded: not a vacuous pass
    small = (np.abs(x) < 1e-3) & (x != 0)
    if name == "tanh":  # relative accuracy kept for tiny arguments (no cancellation), and exactly odd
        assert errors[small].max() <= bound
        np.testing.assert_array_equal(op(torch.from_numpy(-x)).numpy(), -got)
    want = ref(torch.from_numpy(x)).numpy()  # saturation and special values as torch's
    big = np.abs(x) >= 50 if name == "tanh" else x >= 50  # saturated: exactly +-1 (tanh), 1 (logistic)
    assert np.isin(got[big], [-1.0, 1.0]).all()
    np.testing.assert_array_equal(got[big], want[big])
    specials = torch.tensor([np.nan, np.inf, -np.inf, -0.0], dtype=torch.from_numpy(x).dtype)
    s, w = op(specials), ref(specials)
    assert torch.isnan(s[0]) and torch.equal(s[1:], w[1:]) and bool(torch.signbit(s[3])) == bool(torch.signbit(w[3]))


def test_the_mode_replaces_tanh_and_sigmoid_in_every_spelling_and_nothing_else(monkeypatch):
    import bettibounds.engines.fast_activations as fa

    calls = []
    real = fa._apply
    monkeypatch.setattr(fa, "_apply", lambda x, act: (calls.append(act), real(x, act))[1])
    x = torch.randn(6, 5, dtype=torch.float64)
    with torch.no_grad(), FastActivations():
        got = [torch.tanh(x), x.tanh(), F.tanh(x), nn.Tanh()(x), torch.sigmoid(x), x.sigmoid(), F.sigmoid(x),
               nn.Sigmoid()(x), torch.special.expit(x)]
        n = len(calls)
        torch.tanh(x.half())  # other dtypes, out=, other functions: torch's own
        torch.tanh(x, out=torch.empty_like(x))
        F.softplus(x)
        assert len(calls) == n == 9 and calls == [0, 0, 0, 0, 1, 1, 1, 1, 1]
        v = torch.func.vmap(nn.Tanh())(x)  # through vmap: the rule evaluates the batched tensor
        assert len(calls) == 10
    for g, w in zip(got, [torch.tanh(x)] * 4 + [torch.sigmoid(x)] * 5):
        torch.testing.assert_close(g, w, rtol=4e-15, atol=0)
    torch.testing.assert_close(v, torch.tanh(x), rtol=4e-15, atol=0)
    y = x.clone().requires_grad_(True)
    with FastActivations():  # a tensor that records a gradient: torch's, differentiable
        out = torch.tanh(y)
    assert out.grad_fn is not None and len(calls) == 10


def test_layouts_are_kept_and_large_arrays_split_over_threads():
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64).to(memory_format=torch.channels_last)
    y = fast_tanh(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and y.stride() == x.stride()
    torch.testing.assert_close(y, torch.tanh(x), rtol=4e-15, atol=0)
    z = torch.randn(7, 9, dtype=torch.float32).t()  # neither layout dense in order: a contiguous result
    torch.testing.assert_close(fast_logistic(z), torch.sigmoid(z), rtol=3e-7, atol=0)
    big = torch.randn(1 << 18, dtype=torch.float64)  # 4 blocks of 2^16 per thread
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        split = fast_tanh(big)
        torch.set_num_threads(1)
        whole = fast_tanh(big)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(split, whole)  # elementwise: the split changes nothing


def test_model_engine_uses_them_and_says_so():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 3)).double().eval()
    x, y = torch.randn(30, 4, dtype=torch.float64), torch.randint(0, 3, (30,))
    fast = ModelEngine(ModelProblem(net, "cross_entropy"), x, y, device="cpu")
    plain = ModelEngine(ModelProblem(net, "cross_entropy"), x, y, device="cpu", fast_activations=False)
    assert "vector functions" in fast.activations and fast.activations_reason is None
    assert plain.activations == "torch's" and "fast_activations=False" in plain.activations_reason
    assert fast.record()["activations"] == fast.activations
    rng = np.random.default_rng(1)
    theta = fast.center + 0.5 * rng.standard_normal((5, fast.n_params))
    a, b = fast.evaluate_chunked(theta, chunk=2), plain.evaluate_chunked(theta, chunk=2)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)
    compiled = ModelEngine(ModelProblem(net, "cross_entropy"), x, y, device="cpu", compile=True)
    assert compiled.activations == "torch's" and "compile=True" in compiled.activations_reason


# ------------------------------------------------------------------ the fused route
def per_point(model, theta, x, y, loss_fn) -> float:
    """The loss at theta (in the model's named_parameters order) by a plain forward of a copy."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
        return float(loss_fn(m(x), y))


class Reordered(nn.Module):
    """A tanh MLP whose parameters are registered output layer first: the model's parameter order is
    not the spec's (the fused route must permute)."""

    def __init__(self):
        super().__init__()
        self.out = nn.Linear(5, 2)
        self.hidden = nn.Linear(3, 5)

    def forward(self, v):
        return self.out(torch.tanh(self.hidden(v)))


SLICE = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1.5, -1.5], "high": [1.5, 1.5]}


@pytest.mark.parametrize("case", ["bce_with_logits", "mse-torch", "mse-theory", "reordered-mse"])
def test_auto_routes_a_recognised_mlp_to_the_fused_engine_with_torchs_numbers(case):
    torch.manual_seed(2)
    x = torch.randn(40, 3, dtype=torch.float64)
    if case == "bce_with_logits":
        model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1)).double().eval()
        y = (torch.rand(40, 1) > 0.5).double()
        kw, loss_fn = {"loss": "bce_with_logits"}, nn.BCEWithLogitsLoss()
    else:
        model = (Reordered() if case.startswith("reordered") else
                 nn.Sequential(nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 2))).double().eval()
        y = torch.randn(40, 2, dtype=torch.float64)
        red = "theory" if case.endswith("theory") else "torch"
        kw = {"loss": "mse", "reduction": red}
        loss_fn = nn.MSELoss() if red == "torch" else (lambda o, t: float(((o - t) ** 2).sum(1).mean()))
    exp = experiment_from_model(model, x, y, region=SLICE, grid=[5, 4], **kw)
    sample = sample_landscape(exp)
    assert sample.engine == "fused" and sample.engine_reason.startswith("auto: a recognised")
    assert f"({kw['loss']}, every parameter varied)" in sample.engine_reason  # the model's loss: bce_with_logits
    assert "fused engine's vector functions" in sample.model["activations"]
    ts = np.stack(np.meshgrid(*sample.axes, indexing="ij"), -1).reshape(-1, 2)
    want = [per_point(model, exp.center + t @ exp.directions, x, y, loss_fn) for t in ts]
    np.testing.assert_allclose(sample.values.reshape(-1), want, rtol=1e-10, atol=0)
    kernel = make_kernel(exp)  # full parameter vectors too, in the model's order
    theta = exp.center + 0.3 * np.random.default_rng(0).standard_normal((3, exp.n_params))
    np.testing.assert_allclose(kernel.evaluate_chunked(theta, "full"),
                               [per_point(model, th, x, y, loss_fn) for th in theta], rtol=1e-10, atol=0)
    f32 = sample_landscape(exp, dtype="float32")
    assert f32.engine == "fused"
    np.testing.assert_allclose(f32.values.reshape(-1), want, rtol=2e-5, atol=0)


def test_what_is_not_routed_stays_on_the_model_engine_with_the_reason():
    torch.manual_seed(3)
    x = torch.randn(20, 3, dtype=torch.float64)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double().eval()
    smooth = experiment_from_model(mlp, x, torch.randint(0, 3, (20,)), region=SLICE, grid=[3, 3],
                                   loss=lambda u, t: F.cross_entropy(u, t, label_smoothing=0.1))
    assert make_kernel(smooth).engine == "model" and "callable loss, e.g. with label smoothing" in \
        make_kernel(smooth).engine_reason
    y = torch.randn(20, 3, dtype=torch.float64)
    subset = experiment_from_model(mlp, x, y, region=SLICE, grid=[3, 3], parameters=["2"])
    assert "a subset of the parameters" in make_kernel(subset).engine_reason
    sig = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid()).double().eval()
    bce = experiment_from_model(sig, x, (torch.rand(20, 1) > 0.5).double(), loss="bce", region=SLICE, grid=[3, 3])
    assert "clamps its logarithms" in make_kernel(bce).engine_reason
    relu = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3)).double().eval()
    rexp = experiment_from_model(relu, x, y, region=SLICE, grid=[3, 3])
    assert make_kernel(rexp).engine_reason.endswith("tanh or logistic (nn.Sigmoid) activations; this model also "
                                                    "has ReLU)")
    five = dict(SLICE, directions={"random": 5, "seed": 0}, low=[-1] * 5, high=[1] * 5)
    k5 = experiment_from_model(mlp, x, y, region=five, grid=[2] * 5)
    assert "5 slice directions" in make_kernel(k5).engine_reason
    routed = experiment_from_model(mlp, x, y, region=SLICE, grid=[3, 3])
    assert make_kernel(routed).engine == "fused"
    requested = make_kernel(routed, engine="model")
    assert requested.engine == "model" and requested.engine_reason == "requested"


def test_a_disagreeing_fused_kernel_is_not_used(monkeypatch):
    """The check against the model engine when the route is taken: a fused kernel whose numbers were
    wrong (here: the reduction's divisor broken) is dropped, with a warning and the reason."""
    import bettibounds.empirical.model_fused as mf

    torch.manual_seed(4)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double().eval()
    exp = experiment_from_model(mlp, torch.randn(20, 3, dtype=torch.float64), torch.randn(20, 2, dtype=torch.float64),
                                region=SLICE, grid=[3, 3])
    init = mf.ModelFusedKernel.__init__

    def broken(self, *args, **kw):
        init(self, *args, **kw)
        self.divisor = 1.0  # the theory's sum where torch averages the 2 outputs

    monkeypatch.setattr(mf.ModelFusedKernel, "__init__", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel = make_kernel(exp)
    assert kernel.engine == "model" and "differed from the model engine" in kernel.engine_reason
    assert any("fused engine was not used" in str(w.message) for w in caught)


def test_cli_grid_and_sample_modes_of_a_recognised_model(tmp_path, cli_main, monkeypatch):
    """The landscape of a recognised MLP from a model file goes to the fused engine (auto); the barcode's
    sample mode, whose descents need gradients, keeps the model engine (auto would otherwise hand it a
    kernel without them)."""
    import json

    (tmp_path / "net.py").write_text("import torch\n\ndef make():\n    return torch.nn.Sequential("
                                     "torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).eval()\n")
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(12, 3)), y=rng.normal(size=(12, 1)))
    exp = {"model": {"factory": "net.py:make", "weights": "w.pt"}, "loss": {"kind": "mse"}, "data": {"file": "d.npz"},
           "region": {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]},
           "grid": [5, 5], "levels": [0.7]}
    (tmp_path / "exp.json").write_text(json.dumps(exp))
    run = cli_main("landscape", str(tmp_path / "exp.json"), "--json", "--no-progress", "--refine", "1")
    assert run.returncode == 0 and json.loads(run.stdout)["sample"]["engine"] == "fused"
    # the first fused call of a process compiles or loads the kernel, here while the kernel is built (its check
    # against the model engine): it was silent and unrecorded (22 s with numba's cache cold, "0.36 s in all",
    # compile_seconds null; new-user trial). A fresh process's state: no kernel loaded yet.
    monkeypatch.setattr(fused_module, "_LOADED", set())
    run = cli_main("landscape", str(tmp_path / "exp.json"), "--json", "--progress", "--refine", "1")
    sample = json.loads(run.stdout)["sample"]
    assert run.returncode == 0 and sample["engine"] == "fused", run.stderr
    assert sample["compile_seconds"] is not None and sample["seconds"] >= sample["compile_seconds"]
    assert "engine auto: fused engine: compiling the kernel, or loading it" in run.stderr
    # the same from Python: sample_landscape builds the kernel itself, and counts the compile its check caused
    monkeypatch.setattr(fused_module, "_LOADED", set())
    from bettibounds.empirical.model_files import load_model_experiment

    py = sample_landscape(load_model_experiment(tmp_path / "exp.json"))
    assert py.engine == "fused" and py.compile_seconds is not None and py.seconds >= py.compile_seconds
    # a kernel built by the caller: its first sample counts the build's compile, the next (a refined grid) not again
    monkeypatch.setattr(fused_module, "_LOADED", set())
    mexp = load_model_experiment(tmp_path / "exp.json")
    kern = make_kernel(mexp)
    first, second = sample_landscape(mexp, kernel=kern), sample_landscape(mexp, kernel=kern, grid=[9, 9])
    assert kern.compile_seconds is not None and first.compile_seconds == kern.compile_seconds
    assert first.seconds >= first.compile_seconds and second.compile_seconds is None
    run = cli_main("barcode", str(tmp_path / "exp.json"), "--minima", "3", "--uniform", "20", "--steps", "5", "--json",
                   "--no-progress")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_params"] == 21  # its descents ran (gradients through the fast tanh)
    # grid mode: auto routes the recognised MLP to the fused engine; --engine model keeps the model engine (it was
    # turned into auto and ran the fused engine)
    for engine, want in (("auto", "fused"), ("model", "model")):
        run = cli_main("barcode", str(tmp_path / "exp.json"), "--engine", engine, "--json", "--no-progress")
        assert run.returncode == 0 and json.loads(run.stdout)["meta"]["engine"] == want, (engine, run.stderr)
    # grid mode announces the routed kernel's compile (or load) as landscape does (it was silent)
    monkeypatch.setattr(fused_module, "_LOADED", set())
    run = cli_main("barcode", str(tmp_path / "exp.json"), "--json", "--progress")
    assert run.returncode == 0 and "engine auto: fused engine: compiling the kernel, or loading it" in run.stderr


def test_gradients_through_the_fast_activations_match_torchs():
    """evaluate() with theta that records a gradient: a batch goes through vmap, where the fast operators
    are used (a batched tensor does not say it records a gradient); their derivative is torch's formula."""
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 2)).double().eval()
    x, y = torch.randn(25, 3, dtype=torch.float64), torch.randn(25, 2, dtype=torch.float64)
    eng = ModelEngine(ModelProblem(net, "mse"), x, y, device="cpu")
    theta = torch.as_tensor(eng.center + 0.3 * np.random.default_rng(2).standard_normal((3, eng.n_params)))
    theta.requires_grad_(True)
    (grad,) = torch.autograd.grad(eng.evaluate(theta).sum(), theta)
    for i in range(3):
        m = copy.deepcopy(net)
        vector_to_parameters(theta[i].detach().clone(), m.parameters())
        loss = F.mse_loss(m(x), y)
        want = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(m.parameters()))])
        torch.testing.assert_close(grad[i], want, rtol=1e-12, atol=1e-15)


def test_fast_activations_differentiate_and_import_no_compiler():
    """The derivative from the output (directly, and under vmap(grad) in the mode), a clear error for other
    tensors, and a first call that does not import torch._dynamo (a torch.library custom operator did: 1.7-2.5 s
    of every process's first evaluation)."""
    import subprocess
    import sys

    x = torch.randn(4, 7, dtype=torch.float64)
    y = x.clone().requires_grad_(True)
    fast_tanh(y).sum().backward()
    torch.testing.assert_close(y.grad, 1 - torch.tanh(x) ** 2, rtol=1e-14, atol=1e-15)
    y.grad = None
    fast_logistic(y).sum().backward()
    torch.testing.assert_close(y.grad, torch.sigmoid(x) * (1 - torch.sigmoid(x)), rtol=1e-14, atol=1e-15)
    with FastActivations():
        g = torch.func.vmap(torch.func.grad(lambda v: torch.sigmoid(v).sum()))(x)
    torch.testing.assert_close(g, torch.sigmoid(x) * (1 - torch.sigmoid(x)), rtol=1e-14, atol=1e-15)
    with pytest.raises(TypeError, match="CPU float32 or float64"):
        fast_tanh(x.half())
    # a CNN's slice: the fast activations and the fused first layer (both were custom operators), the whole run
    code = ("import sys, torch\nfrom bettibounds.empirical import experiment_from_model, sample_landscape\n"
            "torch.manual_seed(0)\nx, y = torch.randn(20, 1, 8, 8), torch.randint(0, 10, (20,))\n"
            "nn = torch.nn\nnet = nn.Sequential(nn.Conv2d(1, 6, 3), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(), "
            "nn.Linear(54, 10), nn.Tanh(), nn.Linear(10, 10))\n"
            "region = {'kind': 'slice', 'directions': {'random': 2, 'seed': 1}, 'low': [-1, -1], 'high': [1, 1]}\n"
            "m = sample_landscape(experiment_from_model(net, x, y, loss='cross_entropy', region=region, "
            "grid=[3, 3])).to_dict()['model']\n"
            "print(bool(m['fused_first']), m['activations'].startswith('tanh and the logistic by bettibounds'), "
            "'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "True True False", (out.stdout, out.stderr[-2000:])
