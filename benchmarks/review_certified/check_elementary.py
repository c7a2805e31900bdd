"""Independent check of Lemmas E, L, A, P (docs/theory.md §13.3): exp_bounds, log1p_bounds, atan_bounds,
phi_cdf_bounds against mpmath at 120 digits, on random and adversarial floats (range ends, subnormal results,
reduction boundaries, ties of rint(x / ln 2)); also the measured error against the proven constants."""
import mpmath
import numpy as np

from bettibounds.certified.intervals import (
    EPS_ATAN,
    EPS_EXP,
    EPS_LOG1P,
    EPS_PHI,
    atan_bounds,
    exp_bounds,
    log1p_bounds,
    phi_cdf_bounds,
)

mpmath.mp.dps = 120
rng = np.random.default_rng(0)


def around(vals, k=40):
    out = []
    for v in vals:
        x = float(v)
        out.append(x)
        a = b = x
        for _ in range(k):
            a, b = float(np.nextafter(a, -np.inf)), float(np.nextafter(b, np.inf))
            out += [a, b]
    return np.array(out)


def check(name, fn, xs, exact, rel=None, absol=None):
    lo, hi = fn(xs)
    bad, worst = 0, 0.0
    bad_x = []
    for x, l, h in zip(xs, lo, hi):
        e = exact(mpmath.mpf(float(x)))
        if not (mpmath.mpf(float(l)) <= e <= mpmath.mpf(float(h))):
            bad += 1
            bad_x.append(float(x))
            if bad <= 3:
                print(f"  {name}: x={x!r} exact={mpmath.nstr(e, 20)} not in [{l!r}, {h!r}]")
        if e != 0 and rel is not None and abs(e) > 1e-300:  # below, the lemmas' absolute eta terms dominate
            worst = max(worst, float(max(abs(mpmath.mpf(float(l)) - e), abs(mpmath.mpf(float(h)) - e)) / abs(e)))
        if absol is not None:
            worst = max(worst, float(max(abs(mpmath.mpf(float(l)) - e), abs(mpmath.mpf(float(h)) - e))))
    bound = rel if rel is not None else absol
    if bad_x:
        print(f"  {name}: the inputs not enclosed lie in [{min(bad_x)!r}, {max(bad_x)!r}]")
    print(f"{name}: {len(xs)} inputs, {bad} not enclosed; widest half-width {worst:.3g} "
          f"({'relative' if rel is not None else 'absolute'}; the lemma's constant {bound:.3g})")
    return bad


ln2 = float(mpmath.log(2))
ex = np.concatenate([rng.uniform(-750, 712, 4000), around([-745.2, -745.13, -744.44, -708.4, -708.0, -1022 * ln2,
                     709.0, 709.78, 709.782712893384, 0.0, ln2 / 2, -ln2 / 2, 1e-300, -1e-300]),
                     (np.arange(-1075, 1025) + 0.5) * ln2, np.arange(-1075, 1025) * ln2])
bad = check("exp", exp_bounds, ex, mpmath.exp, rel=EPS_EXP)
lx = np.concatenate([rng.uniform(0, 1, 3000), 10.0 ** rng.uniform(-320, 0, 2000),
                     around([0.0, 1.0, 5e-324, 2.2250738585072014e-308, 1e-16])])
lx = lx[(lx >= 0) & (lx <= 1)]
bad += check("log1p", log1p_bounds, lx, mpmath.log1p, rel=EPS_LOG1P)
ax = np.concatenate([rng.normal(size=2000) * 10.0 ** rng.uniform(-300, 300, 2000),
                     around([0.4142, 0.41421356237309503, 1.0, -1.0, 2.414213562373095, 1 / 0.4142, 1e308, 5e-324,
                             0.0])])
bad += check("atan", atan_bounds, ax, mpmath.atan, rel=EPS_ATAN)
px = np.concatenate([rng.uniform(-10, 10, 3000),
                     around([0.0, 8.49, -8.49, 6.01 * 2 ** 0.5, -6.01 * 2 ** 0.5, 8.4994, -8.4994, 1e-300, 40.0,
                             -40.0])])
bad += check("Phi", phi_cdf_bounds, px, mpmath.ncdf, absol=EPS_PHI)
print("total not enclosed:", bad)
