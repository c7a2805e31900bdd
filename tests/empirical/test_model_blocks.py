"""Sample blocking of the model engine (:mod:`bettibounds.engines.model_blocks`): a chunk's forward on
blocks of samples keeps the engine's values, and a module that mixes samples is detected and evaluated
unblocked, with the reason recorded.

The oracle is a plain per-point forward of a float64 copy (vector_to_parameters, eval mode, torch's own
loss on all the samples at once), as in test_models.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.engines.model_blocks import MIN_BLOCK, block_cuts  # noqa: E402
from bettibounds.engines.model_engine import ModelEngine, ModelProblem  # noqa: E402

nn = torch.nn


def reference(model, theta, x, y, loss_fn) -> float:
    m = copy.deepcopy(model).double().eval()
    vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
    with torch.no_grad():
        return float(loss_fn(m(x), y))


def check(model, x, y, loss, loss_fn, *, block=16, blocked=True, seed=0):
    """The blocked engine against the per-point forward: full mode (never blocked) and a 2-D slice
    (blocked), one-point chunks (the module's own forward) and chunks of 3 (vmap) and of the engine's
    own size, 1e-10 relative."""
    eng = ModelEngine(ModelProblem(model, loss), x, y, device="cpu", sample_block=block)
    assert (eng.sample_blocks is not None) == blocked, eng.sample_blocks_reason
    assert eng.record()["sample_blocks"] == eng.sample_blocks
    rng = np.random.default_rng(seed)
    theta = eng.center + 0.3 * rng.standard_normal((3, eng.n_params))
    D = 0.2 * rng.standard_normal((2, eng.n_params))
    t = rng.uniform(-1, 1, (3, 2))
    ref_full = [reference(model, th, x, y, loss_fn) for th in theta]
    ref_slice = [reference(model, eng.center + ti @ D, x, y, loss_fn) for ti in t]
    np.testing.assert_allclose(eng.evaluate_chunked(theta), ref_full, rtol=1e-10, atol=0)
    for chunk in (1, 3, None):
        np.testing.assert_allclose(eng.evaluate_chunked(t, "slice", center=eng.center, directions=D, chunk=chunk),
                                   ref_slice, rtol=1e-10, atol=0)
    return eng


def images(m=50, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(m, 1, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, classes, (m,), generator=g)


def small_cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(64, 3)).double().eval()


def test_block_cuts_cover_the_samples_in_near_equal_blocks():
    for m, b in ((50, 16), (37, 16), (32, 16), (1797, 163), (20, 100), (1, 16)):
        cuts = block_cuts(m, b)
        sizes = np.diff(cuts)
        assert cuts[0] == 0 and cuts[-1] == m and len(sizes) == -(-m // b)
        assert sizes.max() - sizes.min() <= 1 and sizes.max() <= max(b, 1) and sizes.min() >= 1


def test_a_small_cnn_evaluated_on_blocks_matches_the_per_point_forward():
    """m = 50 in blocks of about 16 (50 is not a multiple of the block: sizes 16, 17, 17), the slice
    trick's first layer from the tables' columns (channels-last), cross entropy and a callable loss."""
    x, y = images()
    eng = check(small_cnn(), x, y, "cross_entropy", nn.CrossEntropyLoss())
    assert eng.slice_trick is not None and eng._channels_last

    def soft_margin(pred, target):
        return torch.nn.functional.multi_margin_loss(pred, target) + pred.square().mean()

    check(small_cnn(1), x, y, soft_margin, soft_margin)


class ScaledResidual(nn.Module):
    """A custom module that treats samples independently."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(6, 5)
        self.gate = nn.Linear(5, 5)
        self.out = nn.Linear(5, 2)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        return self.out(h + torch.sigmoid(self.gate(h)) * h)


def test_batchnorm_and_a_custom_module_evaluated_on_blocks():
    torch.manual_seed(2)
    bn = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.3), nn.Linear(5, 2))
    bn.train()
    with torch.no_grad():  # non-trivial running statistics
        for _ in range(3):
            bn(torch.randn(40, 6) * 2 + 1)
    bn = bn.double().eval()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(45, 6, generator=g, dtype=torch.float64)
    y = torch.randn(45, 2, generator=g, dtype=torch.float64)
    check(bn, x, y, "mse", nn.MSELoss())
    torch.manual_seed(3)
    check(ScaledResidual().double().eval(), x, y, "mse", nn.MSELoss())


class Centered(nn.Module):
    """Mixes samples: subtracts the batch mean of the hidden layer (a blocked evaluation would
    subtract each block's mean instead)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 5)
        self.b = nn.Linear(5, 2)

    def forward(self, x):
        h = self.a(x)
        return self.b(torch.tanh(h - h.mean(0, keepdim=True)))


def test_a_module_that_mixes_samples_is_evaluated_unblocked_with_the_reason():
    torch.manual_seed(4)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(48, 6, generator=g, dtype=torch.float64) + 1.0
    y = torch.randn(48, 2, generator=g, dtype=torch.float64)
    eng = check(Centered().double().eval(), x, y, "mse", nn.MSELoss(), blocked=False)
    assert "mixes samples" in eng.sample_blocks_reason
    assert eng.record()["sample_blocks_reason"] == eng.sample_blocks_reason


class PerSampleOffset(nn.Module):
    """Holds one offset per sample of the data: its forward fails on a block."""

    def __init__(self, m):
        super().__init__()
        self.lin = nn.Linear(6, 2)
        self.register_buffer("offset", torch.linspace(0, 1, m).reshape(m, 1))

    def forward(self, x):
        return self.lin(x) + self.offset


def test_a_forward_that_fails_on_a_block_is_evaluated_unblocked():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    y = torch.randn(40, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(5)
    eng = check(PerSampleOffset(40).double().eval(), x, y, "mse", nn.MSELoss(), blocked=False)
    assert "failed on a block" in eng.sample_blocks_reason


def test_block_sizes_at_the_edges_and_the_knob():
    """m smaller than a block (one block: the plain forward), m = 1 and m below 2 * MIN_BLOCK (off, with
    the reason), sample_block=0 (off), a bad value refused; reruns bit-identical."""
    x, y = images(40)
    big = check(small_cnn(), x, y, "cross_entropy", nn.CrossEntropyLoss(), block=100, blocked=False)
    assert "would hold all 40" in big.sample_blocks_reason
    x1, y1 = images(1)
    eng = check(small_cnn(), x1, y1, "cross_entropy", nn.CrossEntropyLoss(), blocked=False)
    assert "1 samples" in eng.sample_blocks_reason
    xs, ys = images(2 * MIN_BLOCK - 1)
    check(small_cnn(), xs, ys, "cross_entropy", nn.CrossEntropyLoss(), blocked=False)
    off = check(small_cnn(), x, y, "cross_entropy", nn.CrossEntropyLoss(), block=0, blocked=False)
    assert off.sample_blocks_reason == "turned off (sample_block=0)"
    for bad in (-1, 2.5, True, "16", MIN_BLOCK - 1):
        with pytest.raises(InvalidSpecError, match="sample_block"):
            ModelEngine(ModelProblem(small_cnn(), "cross_entropy"), x, y, device="cpu", sample_block=bad)
    a, b = (ModelEngine(ModelProblem(small_cnn(), "cross_entropy"), x, y, device="cpu", sample_block=16)
            for _ in range(2))
    D = np.random.default_rng(1).standard_normal((2, a.n_params)) * 0.1
    t = np.random.default_rng(2).uniform(-1, 1, (5, 2))
    assert np.array_equal(a.evaluate_chunked(t, "slice", center=a.center, directions=D),
                          b.evaluate_chunked(t, "slice", center=b.center, directions=D))


def test_automatic_blocks_come_from_the_activation_footprint(monkeypatch):
    """sample_block=None: blocks of BLOCK_BYTES over BLOCK_POINTS points (here 4 MiB: a CNN on 400 images
    in float64, about 5 kB of activations per sample, gets blocks of 12 samples, raised to MIN_BLOCK);
    slices in chunks of BLOCK_POINTS, full mode as before; a small MLP whose chunk fits is not blocked."""
    from bettibounds.engines import model_blocks

    monkeypatch.setattr(model_blocks, "BLOCK_BYTES", 2**22)
    x, y = images(400)
    eng = ModelEngine(ModelProblem(small_cnn(), "cross_entropy"), x, y, device="cpu")
    per = eng._sample_bytes()
    block = max(MIN_BLOCK, 2**22 // (model_blocks.BLOCK_POINTS * per))
    assert eng._block == block < 200 and f"{per} bytes of activations" in eng.sample_blocks
    assert eng.chunk_size(10**6, "slice", 2) == model_blocks.BLOCK_POINTS
    assert eng.chunk_size(10, "slice", 2) == 10 and eng.chunk_size(10**6, "full") < model_blocks.BLOCK_POINTS
    rng = np.random.default_rng(3)
    D = 0.2 * rng.standard_normal((2, eng.n_params))
    t = rng.uniform(-1, 1, (2, 2))
    ref = [reference(small_cnn(), eng.center + ti @ D, x, y, nn.CrossEntropyLoss()) for ti in t]
    np.testing.assert_allclose(eng.evaluate_chunked(t, "slice", center=eng.center, directions=D), ref,
                               rtol=1e-10, atol=0)
    g = torch.Generator().manual_seed(8)
    xm = torch.randn(400, 6, generator=g, dtype=torch.float64)
    torch.manual_seed(6)
    mlp = ModelEngine(ModelProblem(ScaledResidual().double().eval(), "mse"), xm, torch.zeros(400, 2,
                      dtype=torch.float64), device="cpu")
    assert mlp.sample_blocks is None and "no blocks needed" in mlp.sample_blocks_reason


def test_a_sampled_landscape_records_the_blocks(monkeypatch):
    """sample_landscape's record says whether blocks were used (and why not); the values are those of the
    unblocked engine to 1e-12."""
    from bettibounds.empirical import experiment_from_model, sample_landscape
    from bettibounds.engines import model_blocks

    monkeypatch.setattr(model_blocks, "BLOCK_BYTES", 2**20)
    x, y = images(64)
    region = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}
    exp = experiment_from_model(small_cnn(), x, y, loss="cross_entropy", region=region, grid=[3, 3])
    sample = sample_landscape(exp)
    assert sample.model["sample_blocks"] is not None and "blocks of about 16" in sample.model["sample_blocks"]
    plain = ModelEngine(ModelProblem(small_cnn(), "cross_entropy"), x, y, device="cpu", sample_block=0)
    t = np.stack(np.meshgrid(*sample.axes, indexing="ij"), -1).reshape(-1, 2)
    np.testing.assert_allclose(sample.values.reshape(-1), plain.evaluate_chunked(
        t, "slice", center=sample.center, directions=sample.directions), rtol=1e-12, atol=0)
    monkeypatch.setattr(model_blocks, "BLOCK_BYTES", 2**30)  # (an experiment keeps the engine it was built with)
    again = sample_landscape(experiment_from_model(small_cnn(), x, y, loss="cross_entropy", region=region, grid=[3, 3]))
    assert again.model["sample_blocks"] is None and "no blocks needed" in again.model["sample_blocks_reason"]
