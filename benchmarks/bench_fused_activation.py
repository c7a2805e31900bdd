"""Fused engine against the torch float32 kernel on one network (d = 10, widths 32, 16, m = 256, a 256^2
slice), best of 3, points/s. Usage: python bench_activation.py [logistic|tanh]"""
import sys
import time

import numpy as np

from bettibounds.empirical.kernels import LossKernel
from bettibounds.engines.fused import FusedSliceKernel
from bettibounds.spec import ArchitectureSpec


def best(f, n):
    b = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return n / b


def main():
    act = sys.argv[1] if len(sys.argv) > 1 else "logistic"
    spec = ArchitectureSpec(inputs=10, widths=(32, 16), activation=act, samples=256)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(256, 10)), rng.normal(size=(256, 1))
    c, D = rng.normal(size=spec.n_params) * 0.3, rng.normal(size=(2, spec.n_params)) * 0.3
    ax = np.linspace(-1, 1, 256)
    T = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    fused = FusedSliceKernel(spec, x, y, dtype="float32")
    torch32 = LossKernel(spec, x, y, device="cpu", dtype="float32")
    for k in (fused, torch32):  # compile / warm up
        k.evaluate_chunked(T[:100], "slice", center=c, directions=D)
    pf = best(lambda: fused.evaluate_chunked(T, "slice", center=c, directions=D), len(T))
    pt = best(lambda: torch32.evaluate_chunked(T, "slice", center=c, directions=D), len(T))
    print(f"{act}: fused {pf:,.0f} points/s, torch float32 {pt:,.0f} points/s, ratio {pf / pt:.2f}")


if __name__ == "__main__":
    main()
