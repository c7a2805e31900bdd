"""2-D slices of random networks (every activation, MSE/BCE, skips, l2; bumpy ones with many small components):
certified [b_0, b_1] and meets_boundary vs a fine grid of the torch engine (1001^2, and 2001^2 where they differ).

usage: python benchmarks/review_certified/attack_2d_networks.py [n] [seed] [seconds_per_level]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grid_topology import betti_grid  # noqa: E402

from bettibounds.certified import topology as T  # noqa: E402
from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.engines.torch_kernel import LossKernel  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

ACTS = ["tanh", "logistic", "arctan", "softplus", "gaussian", "silu", "gelu", "exp", "identity", "polynomial:2",
        "polynomial:3"]


def grid(kern, center, D, low, high, n):
    t1 = np.linspace(low[0], high[0], n)
    t2 = np.linspace(low[1], high[1], n)
    pts = np.stack(np.meshgrid(t1, t2, indexing="ij"), -1).reshape(-1, 2)
    return kern.evaluate_chunked(pts, mode="slice", center=center, directions=D).reshape(n, n)


def main():
    n_cases = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
    rng = np.random.default_rng(seed)
    st = dict(levels=0, certified=0, agree=0, disagree=0, ambiguous=0, meets_checked=0, meets_disagree=0)
    t0 = time.time()
    for case in range(n_cases):
        act = ACTS[case % len(ACTS)]
        bumpy = case % 3 == 0
        loss = "bce" if case % 5 == 4 else "mse"
        oa = "sigmoid" if loss == "bce" else ["identity", "tanh", "sigmoid"][case % 3]
        skip = ["none", "residual", "input-output", "none"][case % 4]
        widths = (2, 2) if skip == "residual" else (int(rng.integers(1, 4)),)
        m = int(rng.integers(2, 6))
        l2 = [0.0, 0.0, 0.01][case % 3]
        spec = ArchitectureSpec(inputs=1, widths=widths, outputs=1, activation=act, output_activation=oa, loss=loss,
                                samples=m, bias=True, skip=skip, l2=l2)
        P = int(spec.n_params)
        x = np.round(rng.uniform(-2, 2, size=(m, 1)), 3)
        y = rng.choice([0.0, 1.0], size=(m, 1)) if loss == "bce" else np.round(rng.normal(size=(m, 1)), 3)
        center = rng.normal(size=P)
        D = rng.normal(size=(2, P)) * (3.0 if bumpy else 1.0)
        low, high = np.array([-1.5, -1.2]), np.array([1.3, 1.6])
        kern = LossKernel(spec, x, y, device="cpu")
        g = grid(kern, center, D, low, high, 1001)
        if not np.isfinite(g).all():
            continue
        levels = sorted(float(v) for v in np.quantile(g, rng.uniform(0.01, 0.5, size=3)))
        sl = SliceLoss(spec, x.tolist(), y.tolist(), center, D)
        orc = T.BoxOracle(sl, low, high)
        res = []
        fine = None
        for c in levels:
            st["levels"] += 1
            cert = T.certify_level(orc, c, T.Limits(seconds=secs))
            res.append((c, cert.status[:4], cert.betti))
            if not cert.certified:
                continue
            st["certified"] += 1
            a, b, clipped = betti_grid(g, c)
            if a != b or a != tuple(cert.betti):
                if fine is None:
                    fine = grid(kern, center, D, low, high, 2001)
                a, b, clipped = betti_grid(fine, c)
            if a != b:
                st["ambiguous"] += 1
                continue
            if a != tuple(cert.betti):
                st["disagree"] += 1
                print(f"  DISAGREE case {case} {spec} c={c!r}: certified {cert.betti} {cert.counts}; grid 2001^2 {a}",
                      flush=True)
            else:
                st["agree"] += 1
            if cert.meets_boundary is not None:
                st["meets_checked"] += 1
                if cert.meets_boundary != clipped:
                    st["meets_disagree"] += 1
                    print(f"  MEETS case {case} c={c!r}: certified {cert.meets_boundary}, grid clipped {clipped}")
        print(f"case {case} {act} {loss} {skip} bumpy={bumpy}: {res}", flush=True)
    print(st, f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
