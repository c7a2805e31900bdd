"""The model engine's fused first layer (:mod:`bettibounds.engines.model_fused_first`): the table product,
the activation and an average pooling in one numba pass.

Two oracles. The kernels against their definition, bit for bit: the coordinate sum formed left to right in
numpy in the data's precision, the activation by ``act_vector_array`` (the engine's fast activation), the
pooling by torch's own ``avg_pool2d``. The engine against the plain per-point torch forward (a float64
copy, vector_to_parameters, eval mode, torch's loss), 1e-10 relative in float64 and 2e-5 in float32, with
the fused path recorded as taken -- or not taken, with the reason, for the patterns it must leave alone.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds.engines._fused_numba import act_vector_array, first_act_rows  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402
from bettibounds.engines.model_fused_first import FusedFirst, fused_first_pool_op  # noqa: E402

nn = torch.nn
DTYPES = {"float64": (np.float64, torch.float64), "float32": (np.float32, torch.float32)}


def left_sums(t1, table):
    """z[p] = t1[p, 0] T_0 + t1[p, 1] T_1 + ..., each product rounded and added from the left (numpy, in
    the arrays' precision)."""
    z = t1[:, :1] * table[0]
    for j in range(1, t1.shape[1]):
        z = z + t1[:, j:j + 1] * table[j]
    return z


def act_rows(z, act):
    out = np.empty_like(z)
    for p in range(z.shape[0]):
        act_vector_array(np.ascontiguousarray(z[p]), out[p], act)
    return out


# ------------------------------------------------------------------ the kernels, bit for bit
@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("act", [0, 1], ids=["tanh", "logistic"])
def test_rows_kernel_is_the_left_sum_then_the_engines_activation(dt, act):
    """Several tiles (2 500 columns), a range [lo, hi) that starts and ends inside tiles and vectors, an
    output offset, k = 0 (the activation alone), 1 and 2 (the kernel's one-pass sums) and 3."""
    npd = DTYPES[dt][0]
    rng = np.random.default_rng(1)
    for k in (0, 1, 2, 3):
        table = (3 * rng.standard_normal((k + 1, 2600))).astype(npd)
        t1 = np.concatenate([np.ones((5, 1)), rng.uniform(-2, 2, (5, k))], 1).astype(npd)
        lo, hi = 37, 2537
        out = np.full((5, hi - lo), np.nan, npd)
        first_act_rows(t1, table, lo, hi, act, out, lo)
        want = act_rows(left_sums(t1, table[:, lo:hi]), act)
        assert np.array_equal(out.view(np.uint8), want.view(np.uint8))


def pool_case(dt, act, H, W, C, kernel, stride, m=3, k=2, seed=0):
    """The fused pooling op on random tables against torch's avg_pool2d of the engine's activation of the
    left sums (the tables channels-last, as the slice trick lays a Conv2d's out)."""
    npd, tdt = DTYPES[dt]
    rng = np.random.default_rng(seed)
    table = (2 * rng.standard_normal((k + 1, m * H * W * C))).astype(npd)
    t1 = np.concatenate([np.ones((4, 1)), rng.uniform(-1.5, 1.5, (4, k))], 1).astype(npd)
    a = act_rows(left_sums(t1, table), act)  # (4, m H W C) channels-last
    maps = torch.from_numpy(a).view(4 * m, H, W, C).permute(0, 3, 1, 2)
    want = nn.functional.avg_pool2d(maps, kernel, stride)
    pool = nn.AvgPool2d(kernel, stride)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    geometry = [H, W, C, kh, kw, sh, sw]
    fused = FusedFirst((nn.Tanh(), act, pool, geometry), type("O", (), {"value": None})(), (m, C, H, W), True, "c")
    got = fused.values(torch.from_numpy(t1), torch.from_numpy(table), 0, m)
    assert got.shape == (4, m, *want.shape[1:]) and got.is_contiguous()
    want = want.reshape(got.shape).contiguous()
    assert torch.equal(got, want), float((got - want).abs().max())
    one = fused.values(torch.from_numpy(t1[2]), torch.from_numpy(table), 1, m)  # one point, samples [1, m)
    assert torch.equal(one, want[2, 1:])


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_pooling_kernel_is_torchs_avg_pool2d_bit_for_bit(dt):
    """Windows of 2 x 2 (the CNN's), 3 x 3 with stride 3 on 8 x 8 (a division by 9, the last rows and
    columns dropped), overlapping 3 x 3 windows of stride 2 on 7 x 7, 2 x 3 with stride (1, 2), odd C;
    the logistic too."""
    pool_case(dt, 0, 8, 8, 8, 2, 2)
    pool_case(dt, 0, 8, 8, 3, 3, 3, seed=1)
    pool_case(dt, 0, 7, 7, 5, 3, 2, seed=2)
    pool_case(dt, 1, 6, 9, 4, (2, 3), (1, 2), seed=3)
    pool_case(dt, 1, 8, 8, 8, 2, 2, k=1, seed=4)


def test_the_pooling_op_under_vmap_is_one_call_for_all_points():
    """The engine calls the op inside vmap over the points: the vmap rule hands it the (B, 1 + k) batch."""
    rng = np.random.default_rng(5)
    table = torch.from_numpy(rng.standard_normal((3, 2 * 4 * 4 * 2)))
    t1 = torch.cat([torch.ones(3, 1, dtype=torch.float64), torch.from_numpy(rng.uniform(-1, 1, (3, 2)))], 1)
    fused = FusedFirst((nn.Tanh(), 0, nn.AvgPool2d(2), [4, 4, 2, 2, 2, 2, 2]), type("O", (), {"value": None})(),
                       (2, 2, 4, 4), True, "c")
    laid = fused.pool_table(table)
    geometry = [4, 2, 2, 2, 0]
    batched = torch.func.vmap(lambda u: fused_first_pool_op(u, laid, 0, 2, geometry))(t1)
    assert torch.equal(batched, fused_first_pool_op(t1, laid, 0, 2, geometry))
    assert torch.equal(batched[1], fused_first_pool_op(t1[1], laid, 0, 2, geometry))


# ------------------------------------------------------------------ the engine against the per-point forward
def reference(model, theta, x, y, loss_fn) -> float:
    m = copy.deepcopy(model).double().eval()
    vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
    with torch.no_grad():
        return float(loss_fn(m(x.double()), y))


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    idx = np.random.default_rng(0).choice(len(x), 64, replace=False)
    return torch.tensor(x[idx] / 16.0).reshape(-1, 1, 8, 8), torch.tensor(y[idx])


def cnn(act=nn.Tanh, pool=None, seed=0):
    torch.manual_seed(seed)
    pool = nn.AvgPool2d(2) if pool is None else pool
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), act(), pool, nn.Flatten(),
                         nn.Linear(6 * 4 * 4, 10)).double().eval()


def check(model, x, y, *, dtype="float64", block=None, fused=True, seed=0, full=False):
    """A 2-D slice through the model: the engine against the per-point forward, chunks of 1 (the module's
    own forward) and 3 (vmap), and (``full``) parameter vectors; float64 1e-10 relative, float32 2e-5."""
    loss_fn = nn.CrossEntropyLoss()
    eng = ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu", dtype=dtype, sample_block=block,
                      fused_first=fused)
    rng = np.random.default_rng(seed)
    D = 0.2 * rng.standard_normal((2, eng.n_params))
    t = rng.uniform(-1, 1, (4, 2))
    want = [reference(model, eng.center + ti @ D, x, y, loss_fn) for ti in t]
    rtol = 1e-10 if dtype == "float64" else 2e-5
    for chunk in (1, 3):
        got = eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=chunk)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    if full:  # full mode: no tables, nothing fused
        theta = eng.center + 0.3 * rng.standard_normal((2, eng.n_params))
        np.testing.assert_allclose(eng.evaluate_chunked(theta), [reference(model, th, x, y, loss_fn) for th in theta],
                                   rtol=rtol, atol=0)
    assert eng.record()["fused_first"] == eng.fused_first
    assert eng.record()["fused_first_reason"] == eng.fused_first_reason
    return eng


def build(model, x, y, **kw):
    return ModelEngine(ModelProblem(model, "cross_entropy"), x, y, device="cpu", **kw)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_cnn_on_digits_takes_the_fused_pass_blocked_and_unblocked(digits, dtype):
    x, y = digits
    for block in (16, 0) if dtype == "float64" else (16,):
        eng = check(cnn(), x, y, dtype=dtype, block=block, full=block == 0)
        assert eng.fused_first == "0 (Conv2d) + Tanh + AvgPool2d(kernel (2, 2), stride (2, 2))", eng.fused_first_reason
        assert eng.fused_first_reason is None and (eng.sample_blocks is not None) == (block == 16)
    off = build(cnn(), x, y, dtype=dtype, fused_first=False)
    assert off.fused_first is None and off.fused_first_reason == "not asked for (fused_first=False)"
    assert build(cnn(), x, y, fast_activations=False).fused_first is None


def test_sigmoid_and_a_pooling_the_kernel_does_not_take(digits):
    """Sigmoid is fused; MaxPool2d and a padded AvgPool2d are not (the activation alone is, and the
    pooling runs as torch's on its output); a 3 x 3 window of stride 3 (floor) is."""
    x, y = digits
    assert "Sigmoid + AvgPool2d" in check(cnn(nn.Sigmoid, seed=1), x, y, block=16).fused_first
    for pool in (nn.MaxPool2d(2), nn.AvgPool2d(2, padding=1)):
        torch.manual_seed(2)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), pool, nn.Flatten(),
                              nn.LazyLinear(10)).double()
        model(x[:1])  # (materialise the lazy layer)
        eng = check(model.eval(), x, y) if isinstance(pool, nn.MaxPool2d) else build(model.eval(), x, y)
        assert eng.fused_first == "0 (Conv2d) + Tanh", (pool, eng.fused_first)
    torch.manual_seed(3)
    odd = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(3), nn.Flatten(),
                        nn.Linear(16, 10)).double().eval()
    assert check(odd, x, y).fused_first.endswith("AvgPool2d(kernel (3, 3), stride (3, 3))")


class Between(nn.Module):
    """Something between the convolution and the activation: not a Sequential, never fused."""

    def __init__(self):
        super().__init__()
        self.conv, self.act, self.pool = nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        return self.out(self.pool(self.act(2.0 * self.conv(x) + 0.1)).flatten(1))


def test_patterns_it_must_not_fuse_run_as_before_with_the_reason(digits):
    x, y = digits
    relu = build(cnn(nn.ReLU, seed=4), x, y)
    assert relu.fused_first is None and "followed by ReLU, not nn.Tanh or nn.Sigmoid" in relu.fused_first_reason
    torch.manual_seed(5)
    custom = check(Between().double().eval(), x, y)
    assert custom.fused_first is None and "not the child of a plain nn.Sequential" in custom.fused_first_reason
    torch.manual_seed(6)  # the same Tanh twice in the Sequential: called twice per forward
    tanh = nn.Tanh()
    twice = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), tanh, nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 16),
                          tanh, nn.Linear(16, 10)).double().eval()
    eng = build(twice, x, y)
    assert eng.fused_first is None and "several calls" in eng.fused_first_reason
    hooked = cnn(seed=7)
    hooked[1].register_forward_hook(lambda mod, inp, out: out * 0.5)
    eng = build(hooked, x, y)
    assert eng.fused_first is None and "hooks" in eng.fused_first_reason


def test_an_mlp_fuses_the_activation_alone(digits):
    x, y = digits
    torch.manual_seed(9)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.Tanh(), nn.Linear(12, 10)).double().eval()
    assert check(mlp, x, y).fused_first == "1 (Linear) + Tanh"


def test_the_build_check_turns_a_wrong_fused_pass_off(digits, monkeypatch):
    """A fused pass that gives other outputs (a pooled value 1e-9 off), or fails, is off with the reason and
    the engine's values stay the per-point forward's."""
    x, y = digits
    right = FusedFirst.values
    monkeypatch.setattr(FusedFirst, "values", lambda self, *a: right(self, *a) * (1 + 1e-9))
    eng = check(cnn(), x, y, block=16)
    assert eng.fused_first is None and "differed from the unfused ones" in eng.fused_first_reason

    def broken(self, *a):
        raise RuntimeError("no kernel")

    monkeypatch.setattr(FusedFirst, "values", broken)
    eng = build(cnn(), x, y)
    assert eng.fused_first is None and "the fused first layer failed (no kernel)" in eng.fused_first_reason


def test_a_sampled_landscape_records_the_fused_first_layer(digits):
    from bettibounds.empirical import experiment_from_model, sample_landscape

    x, y = digits
    region = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}
    sample = sample_landscape(experiment_from_model(cnn(), x, y, loss="cross_entropy", region=region, grid=[3, 3]))
    assert sample.model["fused_first"] == "0 (Conv2d) + Tanh + AvgPool2d(kernel (2, 2), stride (2, 2))"
    assert "fused_first_reason" not in sample.model
    relu = sample_landscape(experiment_from_model(cnn(nn.ReLU), x, y, loss="cross_entropy", region=region,
                                                  grid=[3, 3]))
    assert relu.model["fused_first"] is None and "followed by ReLU" in relu.model["fused_first_reason"]


def test_split_over_threads_gives_the_same_bits():
    """Calls large enough to be split over torch's threads (by columns, by samples) equal one thread's."""
    from bettibounds.engines.model_fused_first import fused_first_op

    rng = np.random.default_rng(6)
    table = torch.from_numpy(rng.standard_normal((3, 300 * 4 * 4 * 8)))
    t1 = torch.cat([torch.ones(40, 1, dtype=torch.float64), torch.from_numpy(rng.uniform(-1, 1, (40, 2)))], 1)
    fused = FusedFirst((nn.Tanh(), 0, nn.AvgPool2d(2), [4, 4, 8, 2, 2, 2, 2]), type("O", (), {"value": None})(),
                       (300, 8, 4, 4), True, "c")
    before = torch.get_num_threads()
    try:
        got = {}
        for threads in (1, 3):
            torch.set_num_threads(threads)
            got[threads] = (fused.values(t1, table, 5, 290), fused_first_op(t1, table, 17, 37000, 1))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(got[1], got[3]))
