"""Accuracy of the fused engine's float64 vector activations (tanh, logistic, softplus) on 10^8
inputs each, drawn to cover every branch and both tails. A one-off check (docs/theory.md, section
15, reports its result); prints a table and writes nothing.

Reference: numpy's long double functions (x87 extended precision on x86-64 Linux: a 64-bit
significand, 11 more bits than float64), validated first against mpmath at 40 digits on a
subsample: the reference's own error, in float64 units in the last place, is printed and is added
to every measured error in the verdict (it is about 0.001 ulp). The engine's values come from
``act_f64_vector_array``, the vector code the kernel runs. Error = |engine - exact| / ulp(exact),
ulp(v) = 2^(floor(log2 |v|) - 52) (2^-1074 below the normal range).

Inputs per function (both signs; chunks of 10^6 so memory stays small):

* log-uniform magnitudes over every binade from 2^-1074 to the clamp and beyond (1e-300 .. 1e3);
* uniform values on the core interval of each function (tanh [0, 20], logistic [-746, 40],
  softplus [-746, 746]) and on [0, 1];
* the neighbourhoods of every boundary of the exp's range reduction (a = k ln2 / 2, where n
  changes) and of the clamps and the subnormal thresholds (+-2000 float64 steps each).

``--constants`` recomputes, in mpmath, the constants and maxima that the proofs of the tanh and
logistic bounds (docs/theory.md, section 15) quote, and asserts them: the reduction's constants and their errors, the
52-bit table and its tails, the truncation of the odd polynomial, and the maxima over N and the reduced
argument of the weights of each rounding (at the end points of each interval of N, where the weights are
largest: they are monotone in the reduced argument), then the three case totals.

Usage: python benchmarks/check_float64_activations.py [--n 100000000] [--threads 1]
       [--functions tanh,logistic,softplus] [--constants]
       (about 10 minutes for the three functions on one core)
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

if np.finfo(np.longdouble).nmant < 63:  # pragma: no cover - e.g. ARM / Windows, where long double is float64
    sys.exit("this check needs an extended-precision long double (x86-64 Linux): the reference would be float64")

NAMES = {0: "tanh", 1: "logistic", 2: "softplus"}
#: the core interval of each function's inputs
CORE = {0: (0.0, 20.0), 1: (-746.0, 40.0), 2: (-746.0, 746.0)}


def reference(act: int, x: np.ndarray) -> np.ndarray:
    """The exact value in long double (about 2^-64 relative)."""
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore", under="ignore"):
        if act == 0:
            return np.tanh(xl)
        if act == 1:
            e = np.exp(-np.abs(xl))
            return np.where(xl < 0, e / (1 + e), 1 / (1 + e))
        return np.maximum(xl, 0) + np.log1p(np.exp(-np.abs(xl)))


def ulp(v: np.ndarray) -> np.ndarray:
    """2^(floor(log2 |v|) - 52) as long double, 2^-1074 below the normal range (and for 0)."""
    a = np.abs(v)
    _, e = np.frexp(a)  # a = f 2^e, 1/2 <= f < 1
    out = np.ldexp(np.longdouble(1), (e.astype(np.int64) - 53))
    return np.maximum(out, np.ldexp(np.longdouble(1), -1074))


def errors(act: int, x: np.ndarray, got: np.ndarray) -> np.ndarray:
    want = reference(act, x)
    return (np.abs(got.astype(np.longdouble) - want) / ulp(want)).astype(np.float64)


def draw(act: int, rng, n: int) -> np.ndarray:
    """n inputs of the mixture described in the module docstring."""
    lo, hi = CORE[act]
    parts = [
        np.exp(rng.uniform(math.log(5e-324), math.log(1e3), n // 4)),
        rng.uniform(lo, hi, n // 4),
        rng.uniform(0.0, 1.0, n // 8),
    ]
    edges = [k * math.log(2) / 2 for k in range(1, 2200)]
    if act == 0:
        edges = [e / 2 for e in edges if e / 2 < 45] + [19.06, 20.0, 40.0]
    else:
        edges = [e for e in edges if e < 750] + [708.3964, 745.1332, 746.0]
    steps = np.arange(-2000, 2001)
    near = np.concatenate([np.nextafter(e, np.inf) + steps * np.spacing(e) for e in edges])
    parts.append(rng.choice(near, n - sum(len(p) for p in parts) - n // 8))
    parts.append(rng.uniform(-hi if act == 0 else lo, 0.0, n // 8))
    x = np.concatenate(parts)
    return np.where(rng.random(len(x)) < 0.5, x, -x) if act == 0 else x * np.where(rng.random(len(x)) < 0.5, 1, -1)


def _exact_mpf(v):
    """The long double v as an mpmath number, exactly: its 64-bit significand in two 32-bit halves
    (each exact in float64), times the power of two."""
    import mpmath

    f, e = np.frexp(np.longdouble(v))  # v = f 2^e, 1/2 <= |f| < 1
    top = np.ldexp(f, 32)
    hi = np.floor(top)
    lo = np.ldexp(top - hi, 32)
    return (mpmath.mpf(int(float(hi))) * 2**32 + mpmath.mpf(int(float(lo)))) * mpmath.mpf(2) ** (int(e) - 64)


def validate_reference(act: int, rng, n: int = 200_000) -> float:
    """The reference's largest error against mpmath (40 digits), in float64 ulps, on n inputs."""
    import mpmath

    x = draw(act, rng, n)[:n]
    want = reference(act, x)
    worst = 0.0
    with mpmath.workdps(40):
        for xi, wi in zip(x, want):
            v = mpmath.mpf(float(xi))
            if act == 0:
                exact = mpmath.tanh(v)
            else:
                exact = 1 / (1 + mpmath.exp(-v)) if act == 1 else mpmath.log1p(mpmath.exp(v))
            u = float(ulp(np.array([wi]))[0])
            worst = max(worst, float(abs(_exact_mpf(wi) - exact)) / u)
    return worst


def check_tanh_constants() -> None:
    """The numbers quoted by the proofs of the tanh and logistic bounds (docs/theory.md, section 15),
    recomputed and asserted; prints them."""
    import mpmath

    from bettibounds.engines import _fused_numba as F

    mpmath.mp.dps = 50
    u = mpmath.mpf(2) ** -53
    ln2 = mpmath.log(2)
    K = mpmath.mpf(2 * F.INV_LN2_16)
    lam = abs(mpmath.mpf(F.LN2_32) - ln2 / 32)
    kerr = abs(K - 32 / ln2)
    ystar = ln2 / 32 * (mpmath.mpf(1) / 2 + 40 * kerr)
    rows = [("lambda = |LN2_32 - ln2/32|", lam, 7.25e-19), ("|K - 32/ln2|", kerr, 6.6e-16),
            ("max |y*|", ystar, 0.0108305)]
    rho_max = rho_err = mpmath.mpf(0)
    for j, (t, hr) in enumerate(zip(F.TANH_T52, F.TANH_HALF_RHO)):
        assert np.float64(t).view(np.int64) & 1 == 0, j  # 52 significant bits
        assert np.float64(F.TANH_T[j]).view(np.int64) + (j << 48) == np.float64(t).view(np.int64), j
        rho = mpmath.mpf(2) ** (mpmath.mpf(j) / 16) / mpmath.mpf(t) - 1
        rho_max, rho_err = max(rho_max, abs(rho)), max(rho_err, abs(2 * mpmath.mpf(hr) - rho))
    rows += [("max |rho_j| / 2^-52", rho_max / mpmath.mpf(2) ** -52, 0.8),
             ("max |rho_hat_j - rho_j| / 2^-105", rho_err / mpmath.mpf(2) ** -105, 1.0)]
    for c, want in zip(F.TANH_S, (mpmath.mpf(-1) / 3, mpmath.mpf(2) / 15, mpmath.mpf(-17) / 315)):
        assert c == float(want)
    Y = mpmath.mpf(0.01084)
    rows.append(("truncation 62/2835 Y^8 / u", mpmath.mpf(62) / 2835 * Y**8 / u, 0.038))
    # k = -1 (N = -1..-16): the weights 2|y*| / sinh 2|x| and 2|N| lambda / sinh 2|x|, |x| = |N| ln2/32 - y*,
    # are largest at y* = +ystar (and 2|y*| / sinh at one of the two ends): evaluate both ends
    wy = max(2 * abs(e) / mpmath.sinh(2 * (n * ln2 / 32 - e)) for n in range(1, 17) for e in (ystar, -ystar))
    wl = max(2 * n * lam / mpmath.sinh(2 * (n * ln2 / 32 - ystar)) for n in range(1, 17)) / u
    rows += [("k = -1: max 2|y*| / sinh 2|x|", wy, 1.0), ("k = -1: max 2|N| lambda / sinh 2|x| / u", wl, 0.61)]
    # k <= -2: the rounding weights of M and P, at every h = 2^k T_j (N = -17 ... -1847) and tau = +-Y
    # (the weights grow with tau); the argument's weights at the smallest |x| of each N
    wmp = mpmath.mpf(0)
    for n in range(17, 1848):
        k, j = -((n + 15) // 16), (-n) % 16
        h = mpmath.mpf(2) ** k * mpmath.mpf(F.TANH_T52[j])
        M, P = 1 - h, 1 + h
        for tau in (Y, -Y):
            wmp = max(wmp, (M + abs(tau) * P) / (M - tau * P) + (P + abs(tau) * M) / (P - tau * M))
    wl2 = max(2 * n * lam / mpmath.sinh((n - mpmath.mpf(1) / 2) * ln2 / 16) for n in range(17, 1848)) / u
    wy2 = 2 * mpmath.mpf(3.05) * Y / mpmath.sinh(mpmath.mpf(16.5) * ln2 / 16)
    rows += [("k <= -2: rounding weights of 1 - h, 1 + h", wmp, 2.08),
             ("k <= -2: 2|N| lambda / sinh 2|x| / u", wl2, 0.29), ("k <= -2: 2 (3.05) Y / sinh 2|x|", wy2, 0.09)]
    # the logistic: |r*| <= (ln2/16) (1/2 + 746 |K16 - 16/ln2|), its argument error (3.05 u |r| through the
    # reduction, the tail and the polynomial, plus the Cody-Waite remainder), its case totals
    k16err = abs(mpmath.mpf(F.INV_LN2_16) - 16 / ln2)
    rstar = ln2 / 16 * (mpmath.mpf(1) / 2 + 746 * k16err)
    ds = 3.05 * rstar * 1.0002 + mpmath.mpf(2) ** -73 / u
    rows += [("logistic: max |r*|", rstar, 0.021661), ("logistic: argument error / u", ds, 0.067),
             ("logistic bound z >= 0 (ulp)", 3 + ds / 2, 3.1), ("logistic bound z < 0 (ulp)", 4 + ds, 4.1)]
    case_b = 3 + 3.05 * wy + wl
    case_c = 3 + wmp + wl2 + wy2
    rows += [("bound for N = 0 (ulp)", 1 + mpmath.mpf(62) / 2835 * Y**8 / u + 0.002, 1.04),
             ("bound for k = -1 (ulp)", case_b, 6.7), ("bound for k <= -2 (ulp)", case_c, 5.5)]
    print("| quantity | value | stated in docs/theory.md section 15 |")
    print("|---|---:|---:|")
    for name, value, stated in rows:
        print(f"| {name} | {mpmath.nstr(value, 6)} | <= {stated} |")
        assert value <= stated, (name, value, stated)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000_000, help="inputs per function (default 10^8)")
    ap.add_argument("--threads", type=int, default=1, help="numba threads for the engine's code (default 1)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--functions", default="tanh,logistic,softplus", help="which functions (comma-separated)")
    ap.add_argument("--constants", action="store_true", help="check the constants of the proofs and stop")
    args = ap.parse_args(argv)
    if args.constants:
        check_tanh_constants()
        return
    acts = [a for a, name in NAMES.items() if name in args.functions.split(",")]
    import numba

    numba.set_num_threads(args.threads)
    from bettibounds.engines._fused_numba import act_f64_vector_array

    rng = np.random.default_rng(args.seed)
    print("| function | inputs | reference error (ulp, 2e5 inputs vs mpmath) | max error (ulp) | at x | "
          "mean (ulp) | <= 0.5 | <= 1 | <= 2 | > 2 | > 3 | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for act in acts:
        t0 = time.perf_counter()
        ref_err = validate_reference(act, np.random.default_rng(args.seed + act))
        worst, arg, total, count = -1.0, None, 0.0, 0
        hist = np.zeros(5, np.int64)  # <= 0.5, (0.5, 1], (1, 2], (2, 3], > 3
        chunk = 1_000_000
        out = np.empty(chunk)
        for start in range(0, args.n, chunk):
            x = draw(act, rng, min(chunk, args.n - start))
            got = out[:len(x)]
            act_f64_vector_array(x, got, act)
            err = errors(act, x, got)
            i = int(np.argmax(err))
            if err[i] > worst:
                worst, arg = float(err[i]), float(x[i])
            total += float(err.sum())
            count += len(x)
            hist += np.histogram(err, bins=[0, 0.5, 1, 2, 3, np.inf])[0]
            if act == 0:
                neg = np.empty_like(got)
                act_f64_vector_array(-x, neg, 0)
                assert np.array_equal(neg, -got), "tanh is not odd"
                assert np.all(np.abs(got) <= 1)
            elif act == 1:
                assert np.all((got >= 0) & (got <= 1))
        le05, le1, le2, le3, gt3 = (int(v) for v in hist)
        print(f"| {NAMES[act]} | {count:,} | {ref_err:.4f} | {worst:.3f} | {arg!r} | {total / count:.3f} "
              f"| {le05 / count:.4%} | {(le05 + le1) / count:.4%} | {(le05 + le1 + le2) / count:.4%} "
              f"| {(le3 + gt3):,} | {gt3:,} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
