"""2-D attack: certified Betti numbers vs analytic truth (designed landscapes) and vs a 2001^2 grid (random ones).

usage: python benchmarks/review_certified/attack_2d.py designed|random [n] [seed]
"""
import os
import sys
import time

import mpmath
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quad_landscapes as QL  # noqa: E402
from grid_topology import betti_grid  # noqa: E402

from bettibounds.certified import certify_landscape  # noqa: E402
from bettibounds.empirical.experiment import parse_experiment  # noqa: E402

STATS = dict(levels=0, certified=0, wrong=0, not_certified=0, grid_ambiguous=0, meets_wrong=0)


def certify(L, low, high, levels, seconds=30.0):
    exp = parse_experiment(L.experiment(low, high, levels))
    return certify_landscape(exp, levels, seconds=seconds).levels


def check(name, L, low, high, levels, truth_fn=None, n=2001, meets_fn=None):
    t0 = time.time()
    certs = certify(L, low, high, levels)
    g = None
    for c, cert in zip(levels, certs):
        STATS["levels"] += 1
        if not cert.certified:
            STATS["not_certified"] += 1
            continue
        STATS["certified"] += 1
        if truth_fn is not None:
            tr = truth_fn(c)
            source = "analytic"
        else:
            if g is None:
                t1 = np.linspace(low[0], high[0], n)
                t2 = np.linspace(low[1], high[1], n)
                g = L.f(t1[:, None], t2[None, :])
            a, b, clipped = betti_grid(g, c)
            if a != b:
                STATS["grid_ambiguous"] += 1
                continue
            tr = a
            source = "grid"
        if tr is not None and tuple(cert.betti) != tuple(tr):
            STATS["wrong"] += 1
            print(f"  DISAGREE [{name}] c={c!r}: certified {cert.betti} ({cert.counts}), {source} {tr}")
        if meets_fn is not None and cert.meets_boundary is not None and cert.meets_boundary != meets_fn(c):
            STATS["meets_wrong"] += 1
            print(f"  MEETS DISAGREE [{name}] c={c!r}: certified {cert.meets_boundary}, truth {meets_fn(c)}")
    print(f"{name}: {[(c, x.status[:4], x.betti) for c, x in zip(levels, certs)]}  ({time.time() - t0:.1f} s)",
          flush=True)


def designed():
    # four wells: saddles 0.5, max 1
    wells_truth = lambda c: (4, 0) if c < 0.5 else ((1, 1) if c < 1 else (1, 0))
    for box in (((-1.7, -1.7), (1.9, 1.9)), ((-2.0, -2.0), (2.0, 2.0)), ((-1.3, -1.1), (1.2, 1.4))):
        lv = [0.5 + s * 10.0 ** -j for j in (2, 4, 6, 8) for s in (-1, 1)] + [1 - 1e-6, 1 + 1e-6, 1e-8]
        tf = wells_truth if box[0][0] <= -1.7 else None
        check(f"four wells box {box}", QL.four_wells(), *box, lv, tf)
    # rings centred at a subdivision vertex and off it; holes smaller than a starting cell
    for rho in (0.5, 0.05, 0.01, 0.003):
        r4 = rho ** 4
        lv = [r4 * (1 - 10.0 ** -j) for j in (1, 3, 6)] + [r4 * 0.25, r4 * (1 + 1e-3), r4 * (1 + 1e-6)]
        truth = lambda c, r4=r4: (1, 1) if c < r4 else (1, 0)
        check(f"ring rho={rho} at the origin", QL.ring(rho), (-2, -2), (2, 2), lv, truth)
        for cx, cy in ((0.1234, -0.0771), (1e-3, 1.0)):
            L = QL.QuadLandscape([[QL.sq((-cx, 1, 0), (-cx, 1, 0)), QL.sq((-cy, 0, 1), (-cy, 0, 1))]], [rho ** 2])
            check(f"ring rho={rho} at ({cx}, {cy})", L, (-2, -2), (2, 2), lv, truth)
    # thin valleys
    for K in (10.0, 100.0, 1000.0):
        check(f"Rosenbrock K={K}", QL.valley(K), (-2, -1), (2, 3), [1e-6, 1e-3, 0.05, 0.5, 3.0], None)
    # a band whose parabola nearly touches the subdivision line t2 = 0 (and the box [-1, 1]^2's centre lines)
    for a in (1e-3, 1e-6, 1e-9, -1e-9, 0.0):
        check(f"parabola band a={a}", QL.parabola_band(a), (-1, -1), (1, 1), [1e-14, 1e-10, 1e-6, 1e-3],
              lambda c: (1, 0))
    # disks touching the box boundary at one point: X_c = closed disk of radius c^(1/4) around (cx, 0)
    for r in (0.25, 1e-3):
        cx = 1.0 + r
        L = QL.disk(cx, 0.0)
        rr = mpmath.mpf(cx) - 1  # exact distance from the centre to the edge t1 = 1
        tr = lambda c, rr=rr: (1, 0) if mpmath.mpf(c) >= rr ** 4 else (0, 0)
        meets = lambda c, rr=rr: bool(mpmath.mpf(c) >= rr ** 4)
        c0 = float(rr ** 4)
        lv = [c0, float(np.nextafter(c0, 0)), float(np.nextafter(c0, 1)), c0 * (1 - 1e-9), c0 * (1 + 1e-9), c0 * 1.5]
        check(f"disk touching the edge t1 = 1, r = {r}", L, (-1, -1), (1, 1), lv, tr, meets_fn=meets)
        # touching the corner (1, 1)
        L = QL.disk(cx, cx)
        rr2 = 2 * (mpmath.mpf(cx) - 1) ** 2  # squared distance to the corner
        tr2 = lambda c, rr2=rr2: (1, 0) if mpmath.mpf(c) >= rr2 ** 2 else (0, 0)
        c0 = float(rr2 ** 2)
        lv = [c0, float(np.nextafter(c0, 0)), float(np.nextafter(c0, 1)), c0 * (1 + 1e-9), c0 * 2]
        check(f"disk touching the corner (1, 1), r = {r}", L, (-1, -1), (1, 1), lv, tr2,
              meets_fn=lambda c, rr2=rr2: bool(mpmath.mpf(c) >= rr2 ** 2))


def random_cases(n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
        m = int(rng.integers(1, 4))
        L = QL.random_quads(rng, m=m, terms=int(rng.integers(1, 3)), scale=float(10 ** rng.uniform(-0.5, 0.5)))
        low = rng.uniform(-2, -0.5, size=2)
        high = low + rng.uniform(0.5, 3, size=2)
        t1 = np.linspace(low[0], high[0], 401)
        t2 = np.linspace(low[1], high[1], 401)
        g = L.f(t1[:, None], t2[None, :])
        lv = sorted(float(v) for v in np.quantile(g, rng.uniform(0.02, 0.6, size=3)))
        check(f"random #{i}", L, low, high, lv, None)


if __name__ == "__main__":
    t0 = time.time()
    if sys.argv[1] == "designed":
        designed()
    else:
        random_cases(int(sys.argv[2]), int(sys.argv[3]))
    print(STATS, f"{time.time() - t0:.0f} s")
