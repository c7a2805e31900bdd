"""Accuracy of the general fused kernel (general.py) against the project's torch kernel in
float64, next to the torch kernel's own float32 error, on architectures of every supported
kind (random data and slice, seeded). A case whose float32 error exceeds 10x the torch float32
kernel's is reported as FAIL (exit status 1).

Usage (from this folder): python check_general.py
"""
import sys

import numpy as np

import general
from bettibounds.empirical.kernels import LossKernel
from bettibounds.spec import ArchitectureSpec

# (d, widths, outputs, activation, l2, k, extra spec arguments)
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
POINTS = {1: 201, 2: 41, 3: 13, 4: 7}  # grid points per axis


def grid(k):
    axis = np.linspace(-1.0, 1.0, POINTS[k])
    return np.stack(np.meshgrid(*([axis] * k), indexing="ij"), axis=-1).reshape(-1, k)


def main():
    rows, bad = [], 0
    for n, (d, widths, outputs, act, l2, k, extra) in enumerate(CASES):
        rng = np.random.default_rng(100 + n)
        m = int(rng.integers(50, 300))
        spec = ArchitectureSpec(inputs=d, widths=widths, activation=act, samples=m, outputs=outputs, l2=l2, **extra)
        P = spec.n_params
        x = rng.normal(size=(m, d))
        y = rng.normal(size=(m, outputs))
        c = rng.normal(size=P) * 0.3
        D = rng.normal(size=(k, P)) * 0.3
        T = grid(k)
        ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c, directions=D)
        t32 = LossKernel(spec, x, y, device="cpu", dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
        ours = general.evaluate(general.prepare(spec, x, y, c, D), T)
        e_t = np.max(np.abs(t32 - ref) / np.abs(ref))
        e_g = np.max(np.abs(ours - ref) / np.abs(ref))
        ok = e_g <= 10 * e_t
        bad += not ok
        desc = (f"d={d}, widths={widths}, out={outputs}, {act}, l2={l2}, k={k}, m={m}"
                + "".join(f", {a}={v}" for a, v in extra.items()))
        rows.append((desc, P, len(T), e_g, e_t, "ok" if ok else "FAIL"))
    print("| case | P | points | general f32 max rel. diff | torch f32 max rel. diff | ratio | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for desc, P, npts, e_g, e_t, st in rows:
        print(f"| {desc} | {P} | {npts} | {e_g:.1e} | {e_t:.1e} | {e_g / e_t:.2f} | {st} |")
    print(f"{len(rows) - bad}/{len(rows)} cases within 10x of the torch float32 kernel's error")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
