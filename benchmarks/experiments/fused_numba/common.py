"""Shared setup: the network, data, slice, grid; the naive loop; the project's kernel; the
fused kernels' precomputed tables."""
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/
import bench_kernels as _bench_kernels  # noqa: E402

D_IN, H1, H2, M, GRID, SEED = 10, 32, 16, 256, 256, 0


def make_problem():
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(M, D_IN))
    y = rng.normal(size=(M, 1))
    P = H1 * D_IN + H1 + H2 * H1 + H2 + H2 + 1
    c = rng.normal(size=P) * 0.3
    D = rng.normal(size=(2, P)) * 0.3
    axis = np.linspace(-1.0, 1.0, GRID)
    coords = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    return x, y, c, D, coords


def make_model(dtype):
    nn = torch.nn
    return nn.Sequential(nn.Linear(D_IN, H1), nn.Tanh(), nn.Linear(H1, H2), nn.Tanh(),
                         nn.Linear(H2, 1)).to(dtype)


def split(v):
    """theta (parameters_to_vector order) -> W1 (H1, D), b1, W2 (H2, H1), b2, w3 (H2,), b3."""
    o = 0
    W1 = v[o:o + H1 * D_IN].reshape(H1, D_IN); o += H1 * D_IN
    b1 = v[o:o + H1]; o += H1
    W2 = v[o:o + H2 * H1].reshape(H2, H1); o += H2 * H1
    b2 = v[o:o + H2]; o += H2
    w3 = v[o:o + H2]; o += H2
    b3 = v[o]; o += 1
    assert o == len(v)
    return W1, b1, W2, b2, w3, b3


def fused_tables(x, y, c, D, dtype):
    """Tables of the fused kernels (computed in float64, then cast): the first-layer
    pre-activations of center, dir1, dir2 on the data (bias folded in), (H1, M) each, and the
    later layers' parameters of the three vectors, stacked on a leading axis of 3."""
    parts = [split(v) for v in (c, D[0], D[1])]
    Z = [W1 @ x.T + b1[:, None] for (W1, b1, *_rest) in parts]
    f = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return dict(A=f(Z[0]), B=f(Z[1]), C=f(Z[2]),
                W2=f(np.stack([p[2] for p in parts])), b2=f(np.stack([p[3] for p in parts])),
                w3=f(np.stack([p[4] for p in parts])), b3=f(np.array([p[5] for p in parts])),
                y=f(y[:, 0]))


def run_fused(fn, tab, S, T, out, chunk=64):
    fn(S, T, tab["A"], tab["B"], tab["C"], tab["W2"], tab["b2"], tab["w3"], tab["b3"], tab["y"], out, chunk)
    return out


def naive_loop(x, y, c, D, coords, dtype):
    """The project's baseline, the same function as in benchmarks/bench_kernels.py: per point theta,
    vector_to_parameters, forward, mse_loss, .item(); returns (seconds, values)."""
    from bettibounds.spec import ArchitectureSpec

    spec = ArchitectureSpec(inputs=D_IN, widths=(H1, H2), activation="tanh", samples=M)
    return _bench_kernels.naive_loop(torch, spec, x, y, c, D, coords, dtype, torch.device("cpu"))


best_of = _bench_kernels.best_of  # (best wall time, result) of n calls, as in bench_kernels.py
