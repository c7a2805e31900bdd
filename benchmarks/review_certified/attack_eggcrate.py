"""Many small components and many holes: an 'egg crate' realised by a gaussian network on a 2-D slice.

Network 2-(2n)-1 (gaussian hidden, identity output, no bias), samples x_1 = e_1, x_2 = e_2, y = n + 1:
units j < n see sample 1 with pre-activation A (t_1 - c_j), units n + j see sample 2 with A (t_2 - c_j), all output
weights 1, so f(t) = ((B(t_1) - 1)^2 + (B(t_2) - 1)^2) / 2 with B(s) = sum_j exp(-A^2 (s - c_j)^2).
n^2 wells at (c_j, c_k) (f ~ 0), saddles ~0.496, maxima ~0.992 (A = 5, unit spacing): b = (n^2, 0) below the
saddles, (1, (n-1)^2) between, (1, 0) above.  Truth from a 2001^2 grid of the formula (features >> grid spacing)
and, in the clear cases, from the structure above.

usage: python benchmarks/review_certified/attack_eggcrate.py [n]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grid_topology import betti_grid  # noqa: E402

from bettibounds.certified import certify_landscape  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402


def eggcrate(n, A=5.0, shift=(0.0, 0.0), low=(-0.6, -0.6), high=None, levels=()):
    cs = [float(j) for j in range(n)]
    h = 2 * n
    P = h * 2 + h
    c0 = np.zeros(P)
    D = np.zeros((2, P))
    for j in range(n):
        c0[j * 2 + 0] = -A * (cs[j] + shift[0])
        D[0, j * 2 + 0] = A
        c0[(n + j) * 2 + 1] = -A * (cs[j] + shift[1])
        D[1, (n + j) * 2 + 1] = A
    c0[2 * h:] = 1.0
    high = high or (n - 0.4, n - 0.4)

    def f(t1, t2):
        B1 = sum(np.exp(-(A * t1 - A * (c + shift[0])) ** 2) for c in cs)
        B2 = sum(np.exp(-(A * t2 - A * (c + shift[1])) ** 2) for c in cs)
        return ((B1 - 1.0) ** 2 + (B2 - 1.0) ** 2) / 2

    exp = {"network": {"layers": [2, h, 1], "activation": "gaussian", "bias": False}, "loss": {"kind": "mse"},
           "data": {"x": [[1.0, 0.0], [0.0, 1.0]], "y": [[n + 1.0], [n + 1.0]]},
           "region": {"kind": "slice", "center": c0.tolist(), "directions": D.tolist(), "low": list(low),
                      "high": list(high)}, "grid": [101, 101], "levels": list(levels)}
    return exp, f


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    st = dict(levels=0, certified=0, agree=0, disagree=0, ambiguous=0)
    for shift, low in (((0.0, 0.0), (-0.6, -0.6)), ((0.013, -0.021), (-0.47, -0.55))):
        levels = [1e-6, 0.25, 0.49, 0.4961, 0.497, 0.5, 0.6, 0.9, 0.99, 1.0, 1.2]
        exp, f = eggcrate(n, shift=shift, low=low, levels=levels)
        lo, hi = exp["region"]["low"], exp["region"]["high"]
        t1 = np.linspace(lo[0], hi[0], 2001)
        t2 = np.linspace(lo[1], hi[1], 2001)
        g = f(t1[:, None], t2[None, :])
        t0 = time.time()
        res = certify_landscape(parse_experiment(exp), seconds=60)
        for c, lv in zip(levels, res.levels):
            st["levels"] += 1
            a, b, clipped = betti_grid(g, c)
            tag = ""
            if lv.certified:
                st["certified"] += 1
                if a != b:
                    st["ambiguous"] += 1
                    tag = "grid ambiguous"
                elif a == tuple(lv.betti):
                    st["agree"] += 1
                else:
                    st["disagree"] += 1
                    tag = "  <-- DISAGREE"
            print(f"n={n} shift={shift} c={c}: {lv.status:<14} {lv.betti} meets={lv.meets_boundary} "
                  f"cells={lv.cells} {lv.seconds:.1f}s | grid {a}/{b} clipped={clipped} {tag}"
                  + ("" if lv.certified else f"\n      {lv.reason[:160]}"), flush=True)
        print(f"  ({time.time() - t0:.0f} s)")
    print(st)


if __name__ == "__main__":
    main()
