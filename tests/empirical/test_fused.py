"""The opt-in fused float32 engine (bettibounds.empirical.fused) against the torch kernel.

Oracle: the project's torch kernel in float64 (itself checked against the float64 jet oracle
in test_kernels.py). The fused engine computes in float32, so the yardstick is the torch
kernel's own float32 error on the same points: the fused engine must not be less accurate
than 10x that (it is at or below 1x on every case measured), and never worse than 2e-6
relative. Skipped without numba (the [fast] extra).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")
pytest.importorskip("numba")

from bettibounds.empirical import fused  # noqa: E402
from bettibounds.empirical._fused_numba import C, tanh_f32_array  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402
from bettibounds.empirical.fused import FusedSliceKernel, fused_unsupported  # noqa: E402
from bettibounds.empirical.kernels import LossKernel  # noqa: E402
from bettibounds.empirical.sampler import sample_landscape  # noqa: E402
from bettibounds.errors import InvalidSpecError  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"

# (d, widths, outputs, activation, l2, k, extra spec arguments): every kind the engine supports
CASES = [
    (3, (7,), 1, "tanh", 0.0, 1, {}),
    (3, (7,), 2, "logistic", 0.01, 2, {}),
    (1, (1,), 1, "tanh", 0.0, 1, {}),
    (4, (13, 5), 1, "tanh", 0.0, 2, {}),
    (4, (13, 5), 2, "logistic", 0.01, 3, {}),
    (4, (13, 5), 1, "tanh", 0.01, 1, {"bias": [True, False, True]}),
    (5, (16, 16, 16), 1, "tanh", 0.0, 2, {"skip": "residual"}),
    (5, (16, 16, 16), 2, "logistic", 0.01, 3, {"skip": "residual"}),
    (5, (16, 16, 16), 1, "tanh", 0.0, 3, {"skip": "residual", "bias": False}),
    (6, (9, 9, 9), 2, "tanh", 0.0, 3, {}),
    (6, (5, 11, 3), 1, "logistic", 0.01, 2, {"bias": False}),
    (10, (32, 16), 1, "tanh", 0.0, 2, {}),
    (10, (32, 16), 2, "logistic", 0.01, 1, {}),
    (10, (32, 16), 1, "tanh", 0.01, 4, {}),
    (8, (6, 10, 7, 3), 3, "tanh", 0.0, 2, {}),
]
POINTS = {1: 101, 2: 21, 3: 9, 4: 5}  # grid points per axis


def _grid(k):
    axis = np.linspace(-1.0, 1.0, POINTS[k])
    return np.stack(np.meshgrid(*([axis] * k), indexing="ij"), axis=-1).reshape(-1, k)


def _problem(n, d, widths, outputs, act, l2, k, extra):
    rng = np.random.default_rng(100 + n)
    m = int(rng.integers(50, 300))
    spec = ArchitectureSpec(inputs=d, widths=widths, activation=act, samples=m, outputs=outputs, l2=l2, **extra)
    P = spec.n_params
    return (spec, rng.normal(size=(m, d)), rng.normal(size=(m, outputs)), rng.normal(size=P) * 0.3,
            rng.normal(size=(k, P)) * 0.3)


def _rel(a, ref):
    return float(np.max(np.abs(a - ref) / np.abs(ref)))


@pytest.mark.parametrize("n", range(len(CASES)))
def test_agrees_with_torch_float64_within_torch_float32_error(n):
    spec, x, y, c, D = _problem(n, *CASES[n])
    T = _grid(D.shape[0])
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c, directions=D)
    t32 = LossKernel(spec, x, y, device="cpu", dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    ours = FusedSliceKernel(spec, x, y).evaluate_chunked(T, "slice", center=c, directions=D)
    assert ours.dtype == np.float64 and ours.shape == ref.shape
    err, err_torch = _rel(ours, ref), _rel(t32, ref)
    assert err <= 10 * err_torch, (err, err_torch)
    assert err < 2e-6, err


@st.composite
def _family(draw):
    """A random network of the supported family, data, a slice and its points."""
    d = draw(st.integers(1, 5))
    outputs = draw(st.integers(1, 3))
    residual = draw(st.booleans())
    if residual:
        widths = (draw(st.integers(1, 9)),) * draw(st.integers(2, 3))
    else:
        widths = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    bias = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=len(widths) + 1,
                                                 max_size=len(widths) + 1)))
    m = draw(st.integers(1, 40))
    spec = ArchitectureSpec(inputs=d, widths=widths, activation=draw(st.sampled_from(["tanh", "logistic"])),
                            samples=m, outputs=outputs, l2=draw(st.sampled_from([0.0, 0.01, 1.5])),
                            skip="residual" if residual else "none", bias=bias)
    k = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    P = spec.n_params
    return (spec, rng.normal(size=(m, d)), rng.normal(size=(m, outputs)), rng.normal(size=P) * scale,
            rng.normal(size=(k, P)) * scale, rng.uniform(-2, 2, size=(7, k)))


@settings(max_examples=60, deadline=None)
@given(_family())
def test_property_any_supported_network_matches_torch(problem):
    """Random architectures of the family (depth, widths, outputs, per-layer biases, residual,
    l2, k = 1..4, weight scales up to 3): within 10x the torch float32 error, plus a float32
    floor for points where torch float32 happens to be exact."""
    spec, x, y, c, D, T = problem
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c, directions=D)
    t32 = LossKernel(spec, x, y, device="cpu", dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    ours = FusedSliceKernel(spec, x, y).evaluate_chunked(T, "slice", center=c, directions=D)
    scale = np.maximum(np.abs(ref), 1e-3)
    err = np.abs(ours - ref) / scale
    err_torch = np.abs(t32 - ref) / scale
    assert np.all(err <= 10 * np.max(err_torch) + 1e-5), (err.max(), err_torch.max())


def test_one_output_matches_points_given_one_at_a_time():
    spec, x, y, c, D = _problem(3, *CASES[3])
    T = _grid(2)
    kern = FusedSliceKernel(spec, x, y)
    whole = kern.evaluate_chunked(T, "slice", center=c, directions=D)
    one = np.array([kern.evaluate_slice(c, D, t[None])[0] for t in T[::37]])
    np.testing.assert_array_equal(whole[::37], one)  # the chunking and parallel split change nothing


def test_progress_blocks_give_the_same_values(capsys):
    spec, x, y, c, D = _problem(11, *CASES[11])
    T = np.random.default_rng(0).uniform(-1, 1, size=(fused._BLOCK + 123, 2))  # two blocks, the second partial
    kern = FusedSliceKernel(spec, x, y)
    plain = kern.evaluate_chunked(T, "slice", center=c, directions=D)
    barred = kern.evaluate_chunked(T, "slice", center=c, directions=D, progress=True)
    np.testing.assert_array_equal(plain, barred)


def test_l2_term_is_exact_float64_quadratic():
    """With a zero-loss network part (zero output weights, y = 0) the loss is l2 ||theta||^2, which
    the engine evaluates in float64: it must match numpy's float64 to rounding."""
    spec = ArchitectureSpec(inputs=2, widths=(3,), activation="tanh", samples=4, l2=0.3, bias=False)
    P = spec.n_params  # W1 (6), then V (3): V = 0 in the centre and in the directions
    rng = np.random.default_rng(5)
    c = np.r_[rng.normal(size=6) * 1e3, np.zeros(3)]
    D = np.c_[rng.normal(size=(2, 6)), np.zeros((2, 3))]
    T = rng.uniform(-5, 5, size=(50, 2))
    got = FusedSliceKernel(spec, rng.normal(size=(4, 2)), np.zeros((4, 1))).evaluate_slice(c, D, T)
    theta = c + T @ D
    want = 0.3 * np.einsum("ij,ij->i", theta, theta)
    assert P == 9
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ------------------------------------------------------------------ the float32 tanh
def test_tanh_within_5_ulp_on_a_large_sample():
    """2 million float32 inputs: uniform bit patterns in [0, C] (every binade down to the
    subnormals), uniform values in [0, C], and the 5 000 floats below the clamp. Error = the
    distance in float32 steps to the correctly rounded float64 tanh (the measure of the
    exhaustive check over all 1.09e9 inputs, benchmarks/experiments/fused_numba/check_tanh.py:
    at most 5; 5.4 ulp from the unrounded value)."""
    rng = np.random.default_rng(0)
    hi = int(np.float32(C).view(np.uint32))
    xs = np.concatenate([
        rng.integers(0, hi + 1, size=1_000_000, dtype=np.uint32).view(np.float32),
        rng.uniform(0, float(C), size=1_000_000).astype(np.float32),
        (np.arange(hi - 5000, hi + 1, dtype=np.uint32)).view(np.float32),
    ])
    out = np.empty_like(xs)
    tanh_f32_array(xs, out)
    want = np.tanh(xs.astype(np.float64)).astype(np.float32)
    steps = np.abs(out.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
    assert steps.max() <= 5, (steps.max(), xs[np.argmax(steps)])
    assert np.mean(steps[:1_000_000] == 0) > 0.9  # uniform bit patterns; exhaustively 93.9 % are exact
    neg = np.empty_like(xs)
    tanh_f32_array(-xs, neg)
    np.testing.assert_array_equal(neg, -out)  # odd


def test_tanh_specials_and_nan_propagation():
    xs = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, C, np.nextafter(C, np.float32(np.inf)), 1e30, -1e30],
                  np.float32)
    out = np.empty_like(xs)
    tanh_f32_array(xs, out)
    assert out[0] == 0 and out[1] == 0
    assert out[2] == 1 and out[3] == -1
    assert np.isnan(out[4])  # a NaN must not become +-1 (it would hide an inf - inf upstream)
    assert out[5] == 1 and out[6] == 1 and out[7] == 1 and out[8] == -1


def test_kernel_propagates_nan_to_the_loss():
    """A NaN pre-activation (what an inf - inf would leave) must reach the loss; a tanh that
    clamps NaN to +-1 would return a finite, wrong loss. Called on the compiled kernel directly:
    the engine's magnitude guard refuses every slice on which float32 could overflow."""
    from bettibounds.empirical import _fused_numba

    spec, x, y, c, D = _problem(3, *CASES[3])  # d = 4, widths 13, 5
    kern = FusedSliceKernel(spec, x, y)
    T = _grid(2)
    tab = kern._tables(c, D)
    out = np.empty(len(T))
    kern._call(tab, T, out)
    assert np.isfinite(out).all()
    for act in (0, 1):  # tanh, logistic
        tab2 = dict(tab, act=act, Z1=tab["Z1"].copy())
        tab2["Z1"][0, 3, 7] = np.nan  # the centre's table: every point sees it
        _fused_numba.general_kernel(T, tab2["Z1"], tab2["Wt"], tab2["lay"], tab2["y"], tab2["G"], kern.l2, act,
                                    tab2["residual"], out, 64)
        assert np.isnan(out).all()


def test_slices_where_float32_could_overflow_are_refused():
    """Layer 2 sums 3e38 * tanh(100) eight times with both signs: in float32 the sum overflows,
    and depending on the order of the additions gives +-inf or NaN (with FMA contraction even a
    wrong finite value downstream). The engine bounds every intermediate in float64 first and
    refuses; a small region on a tame network passes the same guard."""
    spec = ArchitectureSpec(inputs=1, widths=(8, 1), activation="tanh", samples=1, bias=False)
    big = 3e38
    c = np.r_[np.full(8, 100.0), [big] * 4 + [-big] * 4, [1.0]]  # W1 (8 x 1), W2 (1 x 8), V (1 x 1)
    D = np.zeros((1, spec.n_params))
    D[0, -1] = 1.0
    kern = FusedSliceKernel(spec, [[1.0]], [[0.0]])
    with pytest.raises(InvalidSpecError, match="float32 could overflow"):
        kern.evaluate_slice(c, D, [0.0])
    tame = np.r_[np.full(8, 1.0), np.full(8, 0.5), [1.0]]
    assert np.isfinite(kern.evaluate_slice(tame, D, [0.0, 1.0])).all()
    # the coordinates count too: the output weight is 1 + t, so u reaches about 1e38 at t = 1e38
    # (beyond the guard's margin of a tenth of float32's range), and 1e37 stays inside it
    assert np.isfinite(kern.evaluate_slice(tame, D, [1e37])).all()
    with pytest.raises(InvalidSpecError, match="float32 could overflow"):
        kern.evaluate_slice(tame, D, [1e38])


def test_magnitude_bound_holds_on_the_grid():
    """The guard's bound really bounds what the kernel computes: with the torch float64 kernel's
    intermediates replaced by the loss (a function of them), u - y <= bound gives loss <= bound^2
    * outputs (+ l2 term); checked on every case's grid."""
    for n, case in enumerate(CASES):
        spec, x, y, c, D = _problem(n, *case)
        T = _grid(D.shape[0])
        kern = FusedSliceKernel(spec, x, y)
        tab = kern._tables(c, D)
        bound = kern._magnitude_bound(tab, T)
        loss = kern.evaluate_chunked(T, "slice", center=c, directions=D)
        theta = c + T @ D
        data = loss - float(spec.l2) * np.einsum("ij,ij->i", theta, theta)
        assert np.all(data <= spec.outputs * bound**2 * (1 + 1e-6))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("kwargs, needle", [
    ({"loss": "bce", "output_activation": "sigmoid"}, "loss 'bce'"),
    ({"output_activation": "tanh"}, "output activation 'tanh'"),
    ({"activation": "softplus"}, "hidden activation 'softplus'"),
    ({"skip": "input-output"}, "input-output"),
])
def test_unsupported_networks_are_refused_with_the_reason(kwargs, needle):
    args = dict(inputs=2, widths=(3,), activation="tanh", samples=3)
    args.update(kwargs)
    spec = ArchitectureSpec(**args)
    assert needle in fused_unsupported(spec)
    with pytest.raises(InvalidSpecError, match="torch engine"):
        FusedSliceKernel(spec, np.zeros((3, 2)), np.zeros((3, 1)))


def test_supported_family_has_no_reason():
    for n, case in enumerate(CASES):
        assert fused_unsupported(_problem(n, *case)[0], case[5]) is None
    assert fused_unsupported(ArchitectureSpec(inputs=1, widths=(2,), activation="sigmoid", samples=1)) is None


def test_refuses_other_devices_dtypes_modes_and_k():
    spec, x, y, c, D = _problem(3, *CASES[3])
    with pytest.raises(InvalidSpecError, match="CPU only"):
        FusedSliceKernel(spec, x, y, device="cuda")
    with pytest.raises(InvalidSpecError, match="float32 only"):
        FusedSliceKernel(spec, x, y, dtype="float64")
    kern = FusedSliceKernel(spec, x, y)
    with pytest.raises(InvalidSpecError, match="slices only"):
        kern.evaluate_chunked(np.zeros((1, spec.n_params)), "full")
    D5 = np.random.default_rng(0).normal(size=(5, spec.n_params))
    with pytest.raises(InvalidSpecError, match="5 slice directions"):
        kern.evaluate_slice(c, D5, np.zeros((1, 5)))
    with pytest.raises(InvalidSpecError, match=r"shape \(N, k=2\)"):
        kern.evaluate_slice(c, D, np.zeros((4, 3)))
    with pytest.raises(InvalidSpecError, match="non-finite"):
        kern.evaluate_slice(c, D, [[np.nan, 0.0]])
    with pytest.raises(InvalidSpecError, match="overflows float32"):
        kern.evaluate_slice(c * 1e300, D, [[0.0, 0.0]])
    with pytest.raises(InvalidSpecError, match="overflows float32"):  # a direction's table, even at t = 0
        kern.evaluate_slice(c, D * 1e300, [[0.0, 0.0]])


def test_missing_numba_is_a_clear_error(monkeypatch):
    spec, x, y, *_ = _problem(0, *CASES[0])
    import bettibounds.empirical

    monkeypatch.setitem(sys.modules, "bettibounds.empirical._fused_numba", None)  # import fails
    monkeypatch.delattr(bettibounds.empirical, "_fused_numba", raising=False)
    with pytest.raises(InvalidSpecError, match=r"bettibounds\[fast\]"):
        FusedSliceKernel(spec, x, y)


# ------------------------------------------------------------------ sampler and CLI
def _slice_experiment(**over):
    doc = json.loads((EXAMPLES / "slice_2d.json").read_text())
    doc.update(over)
    return parse_experiment(doc)


def test_sample_landscape_fused_matches_torch_and_records_the_engine():
    exp = _slice_experiment()
    fused_sample = sample_landscape(exp, engine="fused", dtype="float32")
    torch_sample = sample_landscape(exp)
    assert (fused_sample.engine, fused_sample.dtype, fused_sample.device) == ("fused", "float32", "cpu")
    assert (torch_sample.engine, torch_sample.dtype) == ("torch", "float64")
    np.testing.assert_allclose(fused_sample.values, torch_sample.values, rtol=2e-6)
    d = fused_sample.to_dict()
    assert d["engine"] == "fused" and d["dtype"] == "float32"


def test_box_and_unsupported_experiments_are_refused_before_any_work():
    box = parse_experiment(json.loads((EXAMPLES / "tiny_box.json").read_text()))
    with pytest.raises(InvalidSpecError, match="slices only"):
        sample_landscape(box, engine="fused", dtype="float32")
    doc = json.loads((EXAMPLES / "slice_2d.json").read_text())
    doc["network"]["activation"] = "softplus"
    with pytest.raises(InvalidSpecError, match="softplus"):
        sample_landscape(parse_experiment(doc), engine="fused", dtype="float32")
    with pytest.raises(InvalidSpecError, match="engine must be one of"):
        sample_landscape(_slice_experiment(), engine="numba")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "bettibounds", *args], capture_output=True, text=True, timeout=600)


def test_cli_landscape_fused_json_matches_torch():
    path = str(EXAMPLES / "slice_2d.json")
    f = _cli("landscape", path, "--engine", "fused", "--json")
    t = _cli("landscape", path, "--json")
    assert f.returncode == 0, f.stderr
    assert t.returncode == 0, t.stderr
    jf, jt = json.loads(f.stdout), json.loads(t.stdout)
    assert jf["sample"]["engine"] == "fused" and jf["sample"]["dtype"] == "float32"
    assert jt["sample"]["engine"] == "torch" and jt["sample"]["dtype"] == "float64"
    assert [r["betti"] for r in jf["levels"]] == [r["betti"] for r in jt["levels"]]
    assert [r["stable"] for r in jf["levels"]] == [r["stable"] for r in jt["levels"]]


@pytest.mark.parametrize("extra, needle", [
    (["--dtype", "float64"], "float32 only"),
    (["--device", "cuda"], "runs on the CPU"),
    (["--scheduler", "local"], "distributed runs"),
])
def test_cli_fused_refusals(extra, needle):
    r = _cli("landscape", str(EXAMPLES / "slice_2d.json"), "--engine", "fused", *extra)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
