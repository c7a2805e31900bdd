"""The fused engine's cross entropy and its route: ``engine="auto"`` for a tanh / logistic classifier.

* the kernel's loss rows (``_fused_numba.loss_rows_array``, mode LOSS_CE) against a 50-digit mpmath
  cross entropy of the same float64 logits, sample by sample, within the error bound of docs/theory.md
  section 15 -- confident samples (losses down to 1e-15), ties, |u| ~ 1e3, one-hot and soft targets;
  NaN logits give NaN as torch's, the padding is left out;
* the route (:mod:`bettibounds.empirical.model_fused`) against a plain per-point torch forward with
  ``F.cross_entropy`` / ``F.nll_loss``: class indices, one-hot and soft labels, K = 2 and 10, a trained
  centre and extreme logits, slices and full parameter vectors, float64 and float32;
* what stays on the model engine, with the reason; the bound column still says "no bound".
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")
mpmath = pytest.importorskip("mpmath")

from torch.nn.utils import vector_to_parameters  # noqa: E402

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.empirical import experiment_from_model, sample_landscape  # noqa: E402
from bettibounds.empirical.model_fused import fused_route  # noqa: E402
from bettibounds.empirical.sampler import make_kernel  # noqa: E402
from bettibounds.engines import _fused_numba  # noqa: E402

nn, F = torch.nn, torch.nn.functional
U = 2.0**-53
SLICE = {"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1.0, -1.0], "high": [1.0, 1.0]}


def _ce_rows(u: np.ndarray, y: np.ndarray, dtype=np.float64, c=None) -> float:
    """The kernel's summed cross entropy of the logits u + c (m, K; the products u, the output bias c, zero
    by default, added in float64 as in the kernel) with targets y (m, K)."""
    m, K = u.shape
    mp = -(-m // _fused_numba.VW) * _fused_numba.VW
    H = np.zeros((K, mp), dtype)
    H[:, :m] = u.T
    Y = np.zeros((K, mp))
    Y[:, :m] = y.T
    c = np.zeros(K) if c is None else np.asarray(c, dtype=np.float64)
    return float(_fused_numba.loss_rows_array(H, c, Y, m, _fused_numba.LOSS_CE))


def _exact(u, y):
    """-sum_o y_o log softmax(u)_o at 50 digits, and the error bound of docs/theory.md section 15 for it."""
    with mpmath.workdps(50):
        um = [mpmath.mpf(float(v)) for v in u]
        mx = max(um)
        g = [mx - v for v in um]
        top = int(np.argmax(u))
        s = mpmath.fsum(mpmath.exp(-gv) for o, gv in enumerate(g) if o != top)
        A = mpmath.fsum(mpmath.mpf(float(yo)) * gv for yo, gv in zip(y, g))
        B = mpmath.mpf(float(np.sum(y))) * mpmath.log1p(s)
        gbar = mpmath.fsum(mpmath.exp(-gv) * gv for o, gv in enumerate(g) if o != top) / s if s > 0 else 0
        K = len(u)
        bound = U * ((K + 2) * A + (2 * K + 5.2 + gbar) * B)
        return float(A + B), float(bound)


def _cases():
    """Logits of many scales, ties, confident and hopeless samples, with one-hot and soft targets."""
    rng = np.random.default_rng(7)
    out = []
    for K in (2, 3, 10, 37):
        for scale in (1e-3, 1.0, 8.0, 40.0, 1e3):
            for _ in range(6):
                u = scale * rng.standard_normal(K)
                y = np.eye(K)[rng.integers(K)] if rng.random() < 0.6 else rng.dirichlet(np.ones(K))
                out.append((u, y))
        u = np.zeros(K)
        out.append((u, np.eye(K)[0]))  # all tied: log K
        conf = rng.standard_normal(K)
        conf[1] = 40.0  # the target far ahead: loss ~ (K - 1) e^-40
        out.append((conf, np.eye(K)[1]))
        conf = conf.copy()
        conf[1] = 700.0
        out.append((conf, np.eye(K)[1]))  # loss below the smallest normal number (0 after rounding: exact)
        out.append((conf, np.eye(K)[0]))  # hopeless: ~700
    return out


def test_cross_entropy_rows_within_their_bound_of_a_50_digit_oracle():
    """Each case twice: as bare logits, and as products p plus an output bias c whose float64 sum is the
    logit (the kernel's u = p + c; with the kernel's fast-math flags on its additions, LLVM reassociated
    M - (p + c) into (M - c) - p, and the largest logit's own g, exactly 0 otherwise, became a rounding
    error: 1e-16 absolute in a loss that may be 1e-15)."""
    worst = 0.0
    rng = np.random.default_rng(11)
    for u, y in _cases():
        c = rng.standard_normal(len(u)) * (1 + np.abs(u))
        p = u - c
        for got, logits in ((_ce_rows(u[None], y[None]), u), (_ce_rows(p[None], y[None], c=c), p + c)):
            want, bound = _exact(logits, y)
            assert abs(got - want) <= bound + 1e-320, (logits, y, got, want, bound)
            if want > 0:
                worst = max(worst, abs(got - want) / (U * want))
    assert worst > 0.5  # the cases reach rounding errors: not a vacuous pass


def test_cross_entropy_rows_sum_samples_and_leave_the_padding_out():
    rng = np.random.default_rng(8)
    u, idx = 3 * rng.standard_normal((37, 10)), rng.integers(0, 10, 37)
    got = _ce_rows(u, np.eye(10)[idx])
    want = float(F.cross_entropy(torch.from_numpy(u), torch.from_numpy(idx), reduction="sum"))
    assert abs(got - want) <= 1e-14 * want
    f32 = _ce_rows(u.astype(np.float32).astype(np.float64), np.eye(10)[idx], dtype=np.float32)  # same logits
    assert abs(f32 - want) <= 1e-6 * want
    big = _ce_rows(1e3 * u, np.eye(10)[idx])  # |u| ~ 1e3: e^u would overflow without the max taken out
    wbig = float(F.cross_entropy(torch.from_numpy(1e3 * u), torch.from_numpy(idx), reduction="sum"))
    assert np.isfinite(big) and abs(big - wbig) <= 1e-14 * wbig


def test_a_nan_logit_gives_nan_as_torchs():
    rng = np.random.default_rng(9)
    u, y = rng.standard_normal((5, 4)), np.eye(4)[[0, 1, 2, 3, 0]]
    for o in (0, 2, 3):  # the target's logit, another one, the last one
        bad = u.copy()
        bad[2, o] = np.nan
        assert np.isnan(_ce_rows(bad, y))
        assert torch.isnan(F.cross_entropy(torch.from_numpy(bad), torch.from_numpy(y.argmax(1))))
    m, K = 5, 4  # a NaN in the padding (past the m samples) is left out
    mp = -(-m // _fused_numba.VW) * _fused_numba.VW
    H = np.full((K, mp), np.nan)
    H[:, :m] = u.T
    Y = np.zeros((K, mp))
    Y[:, :m] = y.T
    assert np.isfinite(_fused_numba.loss_rows_array(H, np.zeros(K), Y, m, _fused_numba.LOSS_CE))


# ------------------------------------------------------------------ the route
def _per_point(model, theta, x, y, loss_fn) -> float:
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        vector_to_parameters(torch.as_tensor(theta, dtype=torch.float64), m.parameters())
        return float(loss_fn(m(x), y))


def _exact_forward(model, theta, x, y) -> float:
    """The cross entropy of a Linear-Tanh-Linear[-LogSoftmax] model at theta, at 40 digits (targets: class
    indices or probabilities)."""
    lin1, lin2 = [mod for mod in model if isinstance(mod, nn.Linear)]
    sizes = [lin1.weight.numel(), lin1.bias.numel(), lin2.weight.numel(), lin2.bias.numel()]
    W1, b1, W2, b2 = np.split(np.asarray(theta, dtype=np.float64), np.cumsum(sizes)[:-1])
    h, K = lin1.out_features, lin2.out_features
    Y = np.eye(K)[y.numpy()] if y.dim() == 1 else y.numpy()
    total = mpmath.mpf(0)
    with mpmath.workdps(40):
        for xi, yi in zip(x.numpy(), Y):
            a = [mpmath.tanh(mpmath.fsum(mpmath.mpf(float(W1[j * len(xi) + q])) * float(xi[q]) for q in range(len(xi)))
                             + float(b1[j])) for j in range(h)]
            u = [mpmath.fsum(mpmath.mpf(float(W2[o * h + j])) * a[j] for j in range(h)) + float(b2[o])
                 for o in range(K)]
            lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in u))
            total += mpmath.fsum(float(yo) * (lse - v) for yo, v in zip(yi, u))
        return float(total / len(Y))


def _classifier(K: int, trained: bool, seed: int):
    """A 5-16-K tanh MLP on 40 samples of K Gaussian clusters; ``trained``: its output layer fitted by least
    squares to the logits 8 (one-hot - 1/K) (a centre near a minimum, without the cost of an optimiser)."""
    torch.manual_seed(seed)
    idx = torch.arange(40) % K
    x = torch.randn(K, 5, dtype=torch.float64)[idx] * 2 + 0.5 * torch.randn(40, 5, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, K)).double()
    if trained:
        with torch.no_grad():
            a = torch.cat([torch.tanh(model[0](x)), torch.ones(40, 1, dtype=torch.float64)], 1)
            fit = torch.linalg.lstsq(a, 8 * (F.one_hot(idx, K).double() - 1 / K)).solution  # (17, K)
            model[2].weight.copy_(fit[:16].T)
            model[2].bias.copy_(fit[16])
    return model.eval(), x, idx


@pytest.mark.parametrize("target, K", [("indices", 2), ("indices", 10), ("one-hot", 2), ("soft", 10), ("nll", 10)])
def test_auto_routes_a_classifier_to_the_fused_cross_entropy_with_torchs_numbers(target, K):
    model, x, idx = _classifier(K, trained=True, seed=K)
    loss, loss_fn = "cross_entropy", F.cross_entropy
    if target == "indices":
        y = idx
    elif target == "one-hot":
        y = F.one_hot(idx, K).double()
    elif target == "soft":
        y = torch.softmax(torch.randn(40, K, dtype=torch.float64), 1)
    else:
        model, y, loss, loss_fn = nn.Sequential(*model, nn.LogSoftmax(dim=1)), idx, "nll", F.nll_loss
    exp = experiment_from_model(model, x, y, loss=loss, region=SLICE, grid=[5, 3])  # the centre included
    sample = sample_landscape(exp)
    assert sample.engine == "fused" and f"({loss}, every parameter varied)" in sample.engine_reason
    assert exp.spec is None and "not covered by any theorem" in exp.bound_reason  # still no bound
    ts = np.stack(np.meshgrid(*sample.axes, indexing="ij"), -1).reshape(-1, 2)
    want = [_per_point(model, exp.center + t @ exp.directions, x, y, loss_fn) for t in ts]
    assert min(want) < 0.2 or target == "soft"  # the trained centre (log K at the start)
    # torch's log of its rounded sum of exponentials is off by up to ~K u per sample (absolute), which near a
    # minimum exceeds 1e-12 relative: that much absolute slack, and the exact value (40 digits) within 1e-13
    np.testing.assert_allclose(sample.values.reshape(-1), want, rtol=1e-12, atol=4 * K * U)
    j = int(np.argmin(want))  # the point nearest the minimum, where torch's own rounding shows most
    exact = _exact_forward(model, exp.center + ts[j] @ exp.directions, x, y)
    assert abs(sample.values.reshape(-1)[j] - exact) <= 1e-13 * exact, (j, exact)
    kernel = make_kernel(exp)  # full parameter vectors, in the model's order, with extreme logits
    theta = exp.center + 0.3 * np.random.default_rng(0).standard_normal((3, exp.n_params))
    theta[2] = exp.center
    theta[2][-17 * K:] *= -300.0  # the output layer's weights and biases: the trained logits times -300, |u| ~ 1e3
    want_full = [_per_point(model, th, x, y, loss_fn) for th in theta]
    assert max(want_full) > 100
    np.testing.assert_allclose(kernel.evaluate_chunked(theta, "full"), want_full, rtol=1e-12, atol=4 * K * U)
    if target in ("indices", "soft"):  # float32 products, the cross entropy in float64
        f32 = sample_landscape(exp, dtype="float32")
        assert f32.engine == "fused"
        # a confident sample's loss is about e^-g, so its relative error is the absolute error of g = M - u_t,
        # about 2^-24 times the products that form the logits (~30 here): 1e-5 where the loss is not tiny, and
        # 1e-4 at the grid's most confident points (losses down to 1e-13, the float32 forward's own conditioning)
        got32, w = f32.values.reshape(-1), np.asarray(want)
        np.testing.assert_allclose(got32[w > 1e-6], w[w > 1e-6], rtol=1e-5, atol=0)
        np.testing.assert_allclose(got32, w, rtol=1e-4, atol=0)


def test_what_the_cross_entropy_route_leaves_to_the_model_engine():
    model, x, idx = _classifier(3, trained=False, seed=1)

    def reason(**kw):  # the route's decision (make_kernel then builds the model engine with this reason)
        spec, perm, why = fused_route(experiment_from_model(kw.pop("model", model), x, kw.pop("y", idx),
                                                            region=SLICE, grid=[3, 3], **kw))
        assert spec is None and perm is None
        return why

    smooth = experiment_from_model(model, x, idx, region=SLICE, grid=[3, 3],
                                   loss=lambda u, t: F.cross_entropy(u, t, label_smoothing=0.1))
    kernel = make_kernel(smooth)
    assert kernel.engine == "model" and "label smoothing" in kernel.engine_reason
    assert "class weights" in reason(loss=lambda u, t: F.cross_entropy(u, t, weight=torch.ones(3, dtype=u.dtype)))
    assert "a subset of the parameters" in reason(loss="cross_entropy", parameters=["2"])
    with pytest.raises(InvalidSpecError, match="log-probabilities"):  # nll on logits: refused before any route
        reason(loss="nll")
    head = nn.Sequential(*model, nn.LogSoftmax(dim=1))
    assert "cross_entropy of a LogSoftmax head" in reason(loss="cross_entropy", model=head)
    sig = nn.Sequential(*model, nn.Sigmoid())
    assert "output activation" in reason(loss="cross_entropy", model=sig)
    relu = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3)).double().eval()
    assert reason(loss="cross_entropy", model=relu).endswith("this model also has ReLU")  # what it lacks
