"""Scratch buffers reused across iterations (bettibounds.barcode.workspace) change no number.

The relaxation, the descents and MLPEvaluator keep their per-iteration arrays in a Workspace (the
page faults of arrays allocated afresh were half the CPU time of the sweep's largest job,
docs/benchmarks.md). Two oracles:

* the same computation with ``Workspace(fresh=True)`` everywhere: every buffer a new NaN-filled
  array, so an element read before it is written (state leaking from the previous iteration in the
  reusing run) gives a different bit pattern -- the results must agree to the bit;
* the expressions the buffered code replaced (respacing, the dense levels, Adam's step of the
  descents), written out here as they were: the buffered code must give the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest

from bettibounds.barcode.chains import adam_update_inplace, dense_levels, respace_inplace
from bettibounds.barcode.evaluate import FunctionEvaluator
from bettibounds.barcode.minima import descend
from bettibounds.barcode.relax import relax_paths, relax_paths_adaptive
from bettibounds.barcode.workspace import Workspace


def _same(a, b) -> bool:
    """Equal to the bit (NaN where NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _network(fresh: bool):
    pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.backprop import MLPEvaluator
    from bettibounds.barcode.realdata import default_init, load_dataset

    x, y, *_ = load_dataset("digits", n_train=32, seed=0)
    spec = ArchitectureSpec(inputs=64, widths=(8, 8), activation="tanh", outputs=10, samples=32)
    ev = MLPEvaluator(spec, x, y, workspace=Workspace(fresh))
    fast = MLPEvaluator(spec, x, y, dtype="float32", workspace=Workspace(fresh))
    fast.batch = ev.batch = 7  # several batches per call, the last one short: the buffers' fronts are used
    return spec, ev, fast, default_init(spec, 4, np.random.default_rng(3))


def _run(fresh: bool):
    """Descents and the adaptive relaxation of the 6 paths between their ends, every buffer fresh or reused."""
    from bettibounds.barcode.quotient import canonical_form

    spec, ev, fast, starts = _network(fresh)
    work = Workspace(fresh)
    minima, values = descend(fast, starts, steps=40, lr=0.05, schedule="cosine", workspace=work)
    X, _ = canonical_form(spec, minima)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    r = relax_paths_adaptive(ev, X[[i for i, _ in pairs]], X[[j for _, j in pairs]], images=3, max_images=15,
                             iterations=30, dense=3, check_every=5, fast=fast, workspace=work)
    return minima, values, r


def test_reused_buffers_give_the_bits_of_fresh_ones_on_a_network(monkeypatch):
    from bettibounds.barcode import chains
    from bettibounds.barcode.evaluate import torch_threads

    with torch_threads(1):  # as the sweep's jobs (a second thread under load costs seconds here)
        b = _run(fresh=True)  # Adam's step on whole chains (blocks larger than any chain here)
        monkeypatch.setattr(chains, "ADAM_BLOCK", 1000)  # many blocks per chain (P = 682), the last one short
        a = _run(fresh=False)
    assert _same(a[0], b[0]) and _same(a[1], b[1])
    ra, rb = a[2], b[2]
    for name in ("levels", "straight", "saddles", "floors", "iterations", "half_levels", "test_levels",
                 "half_resolution_levels", "images", "gradient_evaluations"):
        assert _same(getattr(ra, name), getattr(rb, name)), name
    assert ra.status == rb.status and ra.resolution_levels == rb.resolution_levels
    assert np.isfinite(ra.levels).all()
    # the run exercised what it should: several resolutions, paths stopping at different ones
    assert len(ra.meta["adaptive"]["rounds"]) >= 2 and len(set(ra.images.tolist())) >= 2


def test_gradients_written_into_out_are_the_evaluators_own():
    _, ev, fast, starts = _network(False)
    pts = np.repeat(starts, 5, axis=0) + np.linspace(0, 0.1, 20)[:, None]  # 20 points: 3 batches of 7
    for e in (ev, fast):
        v0, g0 = e.values_and_gradients(pts)
        out = np.full_like(pts, np.nan)
        v1, g1 = e.values_and_gradients(pts, out=out)
        assert g1 is out and _same(g0, g1) and _same(v0, v1)
        assert _same(e.values(pts), v0)  # values alone: the same forward
        with pytest.raises(ValueError, match="C-contiguous float64"):
            e.values_and_gradients(pts, out=np.empty((20, 3)))


def _respace_as_it_was(C):
    """The respacing before the workspace (the expressions it replaced)."""
    M, W, _ = C.shape
    length = np.empty(M)
    for m in range(M):
        seg = np.linalg.norm(np.diff(C[m], axis=0), axis=1)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        length[m] = s[-1]
        if s[-1] == 0.0:
            continue
        target = np.linspace(0.0, s[-1], W)[1:-1]
        idx = np.clip(np.searchsorted(s, target, side="right") - 1, 0, W - 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(seg[idx] > 0, (target - s[idx]) / seg[idx], 0.0)
        C[m, 1:-1] = C[m, idx] + w[:, None] * (C[m, idx + 1] - C[m, idx])
    return length


def _dense_as_it_was(ev, C, dense):
    M, W, P = C.shape
    t = np.arange(dense, dtype=np.float64) / dense
    pts = C[:, :-1, None, :] + t[None, None, :, None] * np.diff(C, axis=1)[:, :, None, :]
    pts = np.concatenate([pts.reshape(M, -1, P), C[:, -1:]], axis=1)
    v = ev.values(pts.reshape(-1, P)).reshape(M, -1)
    i = np.argmax(v, axis=1)
    return v[np.arange(M), i], pts[np.arange(M), i]


@pytest.mark.parametrize("fresh", [False, True])
def test_chain_helpers_give_the_bits_of_the_expressions_they_replace(fresh):
    rng = np.random.default_rng(7)
    work = Workspace(fresh)
    ev = FunctionEvaluator(0, lambda X: np.sin(X).sum(1) + (X**2).sum(1), lambda X: np.cos(X) + 2 * X)
    # P = 1000: numpy's pairwise summation works in blocks of 128 there, and the row sums must follow it
    for W, P in ((3, 9), (9, 1000), (5, 9)):  # shrinking and growing requests of the same buffers
        ev.n_params = P
        C = np.cumsum(rng.normal(size=(4, W, P)) * rng.uniform(0.1, 3.0, size=(4, W, 1)), axis=1)
        C[1, 2] = C[1, 1]  # a zero-length segment
        C[2] = C[2, :1]  # a chain of zero length
        ref = C.copy()
        assert _same(respace_inplace(C, work), _respace_as_it_was(ref)) and _same(C, ref)
        for dense in (1, 4):
            got, want = dense_levels(ev, C, dense, work), _dense_as_it_was(ev, C, dense)
            assert _same(got[0], want[0]) and _same(got[1], want[1])


def _descend_as_it_was(ev, th, steps, lr, low, high):
    b1, b2, eps = 0.9, 0.999, 1e-8
    m1, m2 = np.zeros_like(th), np.zeros_like(th)
    for t in range(1, steps + 1):
        _, g = ev.values_and_gradients(th)
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b2 * m2 + (1 - b2) * g * g
        rate = lr * 0.5 * (1.0 + np.cos(np.pi * (t - 1) / steps))
        th = th - rate * (m1 / (1 - b1 ** t)) / (np.sqrt(m2 / (1 - b2 ** t)) + eps)
        th = np.clip(th, low, high)
    return th


def test_descend_in_place_gives_the_bits_of_the_expressions_it_replaced():
    ev = FunctionEvaluator(3, lambda X: (X**4).sum(1) - (X**2).sum(1) + X[:, 0] * X[:, 1],
                           lambda X: 4 * X**3 - 2 * X + np.stack([X[:, 1], X[:, 0], 0 * X[:, 0]], 1))
    th0 = np.random.default_rng(1).normal(size=(5, 3))
    got, _ = descend(ev, th0, steps=60, lr=0.07, schedule="cosine", low=-1.5, high=1.5)
    assert _same(got, _descend_as_it_was(ev, th0.copy(), 60, 0.07, -1.5, 1.5))


def test_paths_dropped_mid_run_keep_their_bits(monkeypatch):
    """A path that stops early leaves the buffers' fronts to the others: with a reused workspace (even
    one that served a larger run before) every level is the fresh run's."""
    ev = FunctionEvaluator(2, lambda X: (X[:, 0] ** 2 - 1) ** 2 + 3 * (X[:, 1] - 0.3 * X[:, 0] ** 2) ** 2,
                           lambda X: np.stack([4 * X[:, 0] * (X[:, 0] ** 2 - 1)
                                               - 3.6 * X[:, 0] * (X[:, 1] - 0.3 * X[:, 0] ** 2),
                                               6 * (X[:, 1] - 0.3 * X[:, 0] ** 2)], 1))
    a = np.array([[-1.0, 0.3], [-1.0, 0.3], [1.0, 0.3], [-0.5, 0.2]])
    b = np.array([[1.0, 0.3], [0.0, 0.0], [1.0, 0.3 + 1e-9], [1.0, 0.3]])
    used = Workspace()
    relax_paths(ev, a, b, images=20, iterations=40, workspace=used)  # leaves larger buffers full of numbers
    from bettibounds.barcode import chains

    block = {True: chains.ADAM_BLOCK, False: 5}  # fresh: whole chains; reused: blocks of 5 numbers
    for method in ("adam", "gd"):
        monkeypatch.setattr(chains, "ADAM_BLOCK", block[False])
        r1 = relax_paths(ev, a, b, images=9, iterations=60, method=method, workspace=used)
        monkeypatch.setattr(chains, "ADAM_BLOCK", block[True])
        r2 = relax_paths(ev, a, b, images=9, iterations=60, method=method, workspace=Workspace(fresh=True))
        assert _same(r1.levels, r2.levels) and _same(r1.saddles, r2.saddles) and r1.status == r2.status
        assert len(set(r1.iterations.tolist())) >= 2  # paths did stop at different iterations


def _adam_as_it_was(C, g, m1, m2, moving, c2, lr_c1):
    """The relaxation's Adam step on whole arrays, as written before the blocks."""
    g32 = np.where(moving[:, None, None], g, 0.0).astype(np.float32)
    tmp = np.empty_like(g32)
    m2 *= 0.999
    np.square(g32, out=tmp)
    tmp *= 0.001
    m2 += tmp
    m1 *= 0.9
    g32 *= 0.1
    m1 += g32
    np.divide(m2, c2[:, None, None], out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp += 1e-12
    np.divide(m1, tmp, out=tmp)
    tmp *= lr_c1[:, None, None]
    C[:, 1:-1] -= tmp


@pytest.mark.parametrize("block", [1, 7, 64, 10**6])
def test_adam_blocks_give_the_bits_of_the_whole_array_step(block, monkeypatch):
    from bettibounds.barcode import chains

    monkeypatch.setattr(chains, "ADAM_BLOCK", block)
    rng = np.random.default_rng(block)
    C = rng.normal(size=(3, 6, 11))
    g = rng.normal(size=(3, 4, 11)) * np.array([1.0, 1e30, np.nan])[:, None, None]  # a chain not moving (NaN)
    m1 = rng.normal(size=(3, 4, 11)).astype(np.float32)
    m2 = np.abs(rng.normal(size=(3, 4, 11))).astype(np.float32)
    moving = np.array([True, True, False])
    c2 = np.array([0.001, 0.3, 0.9], dtype=np.float32)
    lr_c1 = np.array([0.01, 2.5, 0.0], dtype=np.float32)
    want = [x.copy() for x in (C, m1, m2)]
    with np.errstate(over="ignore"):
        _adam_as_it_was(want[0], g, want[1], want[2], moving, c2, lr_c1)
        adam_update_inplace(C, g, m1, m2, moving, c2, lr_c1, Workspace())
    assert _same(C, want[0]) and _same(m1, want[1]) and _same(m2, want[2])
