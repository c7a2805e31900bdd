"""Fit an odd rational approximation tanh(x) ~ x P(x^2) / Q(x^2) on [0, CLAMP] for float32.

Own fit (no library coefficients): relative-error minimax approached by Lawson-style
iteratively reweighted, Loeb-linearised least squares in mpmath-free float64 on a scaled
variable w = (x / CLAMP)^2 in [0, 1]; the coefficients are then rescaled to the x^2 basis,
rounded to float32, and the rounded rational's relative error is reported on a dense grid.

CLAMP = the smallest float32 x with float32(tanh(x)) == 1 (tanh computed with mpmath).

Usage: python fit_tanh.py [NP NQ]   (degrees of P and Q in x^2; default 4 3)
Writes tanh_coeffs.json.
"""
import json
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 50


def clamp_bound() -> np.float32:
    # tanh(x) >= 1 - 2^-25 (the midpoint below 1; ties go to the even 1.0) <=> e^{2x} >= 2^26 - 1
    x = np.float32(mp.log(mp.mpf(2) ** 26 - 1) / 2)
    while np.float32(mp.tanh(mp.mpf(float(x)))) == np.float32(1):  # step down to the first
        x = np.nextafter(x, np.float32(0))
    while np.float32(mp.tanh(mp.mpf(float(x)))) != np.float32(1):
        x = np.nextafter(x, np.float32(20))
    return x


def fit(NP: int, NQ: int, C: float, iters: int = 400):
    # g(w) = tanh(x)/x with w = (x/C)^2; fit g ~ P(w)/Q(w), q0 = 1, relative error
    n = 6000
    w = (1 - np.cos(np.linspace(0, np.pi, n))) / 2  # Chebyshev-like nodes on [0, 1]
    x = C * np.sqrt(w)
    g = np.where(x > 0, np.tanh(x) / np.where(x > 0, x, 1), 1.0)
    lam = np.ones(n) / n
    qprev = np.ones(n)
    Vp = np.vander(w, NP + 1, increasing=True)
    Vq = np.vander(w, NQ + 1, increasing=True)[:, 1:]
    best = (np.inf, None)
    for it in range(iters):
        # minimise sum lam * ((P - g Q) / (g Qprev))^2 over p, q (q0 = 1)
        scale = np.sqrt(lam) / (g * qprev)
        A = np.hstack([Vp, -g[:, None] * Vq]) * scale[:, None]
        b = g * scale
        coef, *_ = np.linalg.lstsq(A, b, rcond=None)
        p, q = coef[: NP + 1], np.concatenate([[1.0], coef[NP + 1:]])
        P = Vp @ p
        Q = np.vander(w, NQ + 1, increasing=True) @ q
        err = P / Q / g - 1
        e = np.max(np.abs(err))
        if e < best[0]:
            best = (e, (p.copy(), q.copy()))
        qprev = Q
        lam = lam * np.abs(err)
        lam /= lam.sum()
    e, (p, q) = best
    # back to the x^2 basis: w^k = x^(2k) / C^(2k)
    pk = p / C ** (2 * np.arange(NP + 1))
    qk = q / C ** (2 * np.arange(NQ + 1))
    # normalise so that the leading numerator coefficient is 1 (tanh(x) ~ x near 0): p0 = 1
    pk, qk = pk / pk[0], qk / pk[0]
    return e, pk, qk


def rel_err_f32_coeffs(pk, qk, C):
    x = np.linspace(0, float(C), 2_000_001)[1:]
    x2 = x * x
    p = np.polyval(np.asarray(pk, np.float64)[::-1], x2)
    q = np.polyval(np.asarray(qk, np.float64)[::-1], x2)
    return np.max(np.abs(x * p / q / np.tanh(x) - 1))


if __name__ == "__main__":
    NP, NQ = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (4, 3)
    C = clamp_bound()
    print(f"clamp bound C = {float(C)!r} (float32 bits {C.view(np.uint32):#x}); "
          f"float32(tanh(prev(C))) = {np.float32(mp.tanh(float(np.nextafter(C, np.float32(0)))))!r}")
    e, pk, qk = fit(NP, NQ, float(C))
    pk32, qk32 = pk.astype(np.float32), qk.astype(np.float32)
    e32 = rel_err_f32_coeffs(pk32.astype(np.float64), qk32.astype(np.float64), C)
    print(f"P degree {NP}, Q degree {NQ} (in x^2): max rel. error of the fit {e:.3e} "
          f"(float32 ulp near 1 = {2**-24:.2e} relative); with float32-rounded coefficients {e32:.3e}")
    print("p =", [float(v) for v in pk32])
    print("q =", [float(v) for v in qk32])
    json.dump({"clamp": float(C), "p": [float(v) for v in pk32], "q": [float(v) for v in qk32],
               "fit_rel_err": float(e), "f32coef_rel_err": float(e32), "NP": NP, "NQ": NQ},
              open("tanh_coeffs.json", "w"), indent=1)
