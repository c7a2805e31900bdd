"""1-D slices with exactly known truth: f(t) = (Q(t) - y)^2 with Q(t) = (a + b t)(c + d t) x, the loss of an
identity 1-1-1 network (no bias) with one sample (x, y) on the slice w = a + b t, v = c + d t (times x).
X_c = {Q in [y - sqrt(c), y + sqrt(c)]} is computed exactly from the roots of two quadratics in mpmath (80 digits).

Cases: near-double roots (Q = (t - r)^2, y = delta tiny; the local max f(r) = delta^2 with levels delta^2 (1 +- 10^-j)),
random quadratics at random levels, levels exactly at critical values (min 0, the local max), and the box's ends
at or next to roots.  Every certified answer (b_0 and meets_boundary) is compared with the truth.

usage: python benchmarks/review_certified/attack_1d.py [n_random] [seed]
"""
import sys
import time

import mpmath
import numpy as np

from bettibounds.certified import topology as T
from bettibounds.certified.loss_enclosure import SliceLoss
from bettibounds.spec import ArchitectureSpec

mpmath.mp.dps = 80
SPEC = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="identity", loss="mse", samples=1, bias=False)


def truth(a, b, c_, d, x, y, lo, hi, c):
    """(b_0, meets_boundary) of {t in [lo, hi]: ((a+bt)(c+dt)x - y)^2 <= c} exactly (None if degenerate)."""
    a, b, c_, d, x, y, lo, hi = (mpmath.mpf(float(v)) for v in (a, b, c_, d, x, y, lo, hi))
    C = mpmath.mpf(float(c))
    f = lambda t: ((a + b * t) * (c_ + d * t) * x - y) ** 2
    s = mpmath.sqrt(C)
    # Q(t) = x (b d t^2 + (a d + b c) t + a c)
    A2, A1, A0 = x * b * d, x * (a * d + b * c_), x * a * c_
    bps = set()
    for level in (y - s, y + s):
        if A2 == 0:
            if A1 != 0:
                bps.add(-(A0 - level) / A1)
            continue
        disc = A1 * A1 - 4 * A2 * (A0 - level)
        if disc < 0:
            continue
        if disc == 0:
            return None  # tangency: a critical level
        r = mpmath.sqrt(disc)
        bps.update({(-A1 - r) / (2 * A2), (-A1 + r) / (2 * A2)})
    pts = sorted([lo, hi] + [p for p in bps if lo < p < hi])
    # state of each breakpoint and each open gap
    inside = lambda t: f(t) <= C
    comps, prev_in = 0, False
    for j, p in enumerate(pts):
        pin = inside(p) or (p not in (lo, hi))  # an interior breakpoint is a root: f = c there (up to 80 digits)
        if pin and not prev_in:
            comps += 1
        prev_in = pin
        if j + 1 < len(pts):
            gin = inside((p + pts[j + 1]) / 2)
            if gin and not prev_in:
                comps += 1
            prev_in = gin
    meets = bool(inside(lo) or inside(hi))
    return comps, meets


def certify(a, b, c_, d, x, y, lo, hi, levels):
    center = np.array([a, c_])
    D = np.array([[b, d]])
    sl = SliceLoss(SPEC, [[x]], [[y]], center, D)
    orc = T.BoxOracle(sl, [lo], [hi])
    return [T.certify_level(orc, c, T.Limits(seconds=10)) for c in levels]


def run_case(name, params, levels, stats, critical=False):
    certs = certify(*params, levels)
    for c, cert in zip(levels, certs):
        stats["levels"] += 1
        if not cert.certified:
            stats["not_certified"] += 1
            continue
        stats["certified"] += 1
        tr = truth(*params, c)
        if tr is None:
            stats["critical_certified"] += 1
            continue
        if cert.betti[0] != tr[0] or (cert.meets_boundary is not None and cert.meets_boundary != tr[1]):
            stats["wrong"] += 1
            print(f"WRONG [{name}] params={params} c={c!r}: certified b0={cert.betti[0]} meets={cert.meets_boundary}, "
                  f"truth b0={tr[0]} meets={tr[1]}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rng = np.random.default_rng(seed)
    stats = dict(levels=0, certified=0, not_certified=0, wrong=0, critical_certified=0)
    t0 = time.time()
    # (1) near-double roots: Q = (t - r)^2, y = delta: roots r +- sqrt(delta); local max delta^2 at t = r
    for delta in (1e-2, 1e-6, 1e-10, 1e-14, 1e-20):
        for r in (0.0, 0.3, 1.0 / 3.0, -0.7):
            params = (-r, 1.0, -r, 1.0, 1.0, delta, -2.0, 2.0)
            lv = [delta ** 2 * (1 + s * 10.0 ** -j) for j in (1, 3, 6, 9, 12) for s in (-1, 1)]
            run_case(f"double root delta={delta} r={r}", params, lv, stats)
            run_case(f"double root (critical) delta={delta}", params, [delta ** 2, 0.0], stats, critical=True)
    # (2) the box's ends at / next to roots: Q = t, y = 0, level c: X_c = [-sqrt c, sqrt c]
    for c in (1e-4, 0.25, 2.0):
        s = float(np.sqrt(c))
        for lo in (s, np.nextafter(s, 0), np.nextafter(s, 1)):
            params = (1.0, 0.0, 0.0, 1.0, 1.0, 0.0, float(lo), float(lo) + 1.0)
            run_case("box end at a root", params, [c], stats)
    # (3) random quadratics at random levels
    for i in range(n):
        a, b, c_, d = rng.normal(size=4) * 10.0 ** rng.uniform(-2, 2, size=4)
        x = float(rng.choice([1.0, -0.5, 3.0]))
        y = float(rng.normal())
        lo = float(rng.uniform(-3, 0))
        hi = lo + float(10.0 ** rng.uniform(-3, 1))
        ts = np.linspace(lo, hi, 2001)
        fs = ((a + b * ts) * (c_ + d * ts) * x - y) ** 2
        lv = sorted(float(v) for v in rng.uniform(fs.min(), np.quantile(fs, 0.7), size=3))
        run_case("random", (float(a), float(b), float(c_), float(d), x, y, lo, hi), lv, stats)
    print(f"{stats} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
