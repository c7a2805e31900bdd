"""Exhaustive accuracy check of the fused engine's float32 logistic
(bettibounds.engines._fused_numba.logistic_f32) over every float32 input.

Reference: the float64 logistic, computed without cancellation (e / (1 + e) for z < 0, 1 / (1 + e)
otherwise, e = exp(-|z|)), rounded to float32. Error = the distance in float32 steps (ulps) between
the engine's result and that reference; below z = -87.34 the results are subnormal and a step is
the subnormal spacing 2^-149 (float32 bit patterns are ordered, so the distance counts steps there
too), and below ln(2^-150) ~ -103.97 the reference is 0. Last, the vector logistic of the
kernel's tiles and first layer (act_f32_vector_array) is compared with logistic_f32 bit for bit
on all 2^32 bit patterns.

Usage: python check_logistic.py   (about 4 minutes on 2 cores)
"""
import time

import numpy as np

from bettibounds.engines._fused_numba import LO, VW, act_f32_vector_array, logistic_f32_array


def reference(x):
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x < 0, e / (1 + e), 1 / (1 + e))


def sweep(lo_bits, hi_bits, chunk=1 << 24):
    """(max ulp distance, argmax input, histogram 0..7+) over float32 bit patterns [lo_bits, hi_bits]."""
    out = np.empty(chunk, np.float32)
    hist = np.zeros(8, np.int64)
    worst, arg = -1, None
    for lo in range(lo_bits, hi_bits + 1, chunk):
        n = min(chunk, hi_bits + 1 - lo)
        x = np.arange(lo, lo + n, dtype=np.uint32).view(np.float32)
        logistic_f32_array(x, out[:n])
        want = reference(x).astype(np.float32)
        d = np.abs(out[:n].view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
        hist += np.bincount(np.minimum(d, 7), minlength=8)
        i = int(np.argmax(d))
        if d[i] > worst:
            worst, arg = int(d[i]), float(x[i])
    return worst, arg, hist


def main():
    t0 = time.perf_counter()
    pos_inf = int(np.float32(np.inf).view(np.uint32))
    normal_bits = int(np.float32(87.33654).view(np.uint32)) | 0x80000000  # results normal down to here
    neg_inf = int(np.float32(-np.inf).view(np.uint32))
    for name, a, b in (("z in [0, +inf]", 0, pos_inf), ("z in [-87.33654, -0] (normal results)", 0x80000000,
                                                        normal_bits),
                       (f"z in [-inf, -87.33654) (subnormal or 0; clamp at LO = {float(LO)})", normal_bits + 1,
                        neg_inf)):
        with np.errstate(under="ignore"):
            worst, arg, hist = sweep(a, b)
        print(f"{name}: {b - a + 1:,} float32 values, max error {worst} ulp at z = {arg!r}; "
              + ", ".join(f"{k}{'+' if k == 7 else ''}: {v:,}" for k, v in enumerate(hist)))
    sp = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45], np.float32)
    o = np.empty_like(sp)
    logistic_f32_array(sp, o)
    print("specials:", ", ".join(f"{s!r}->{v!r}" for s, v in zip(sp.tolist(), o.tolist())))
    allpos = np.arange(0, pos_inf + 1, 1 << 12, dtype=np.uint32).view(np.float32)
    o = np.empty_like(allpos)
    logistic_f32_array(allpos, o)
    print(f"never above 1 (every 4096th positive float32): {bool((o <= 1).all())}")
    diff = 0
    chunk = 1 << 24
    a, b = np.empty(chunk, np.float32), np.empty(chunk, np.float32)
    for lo in range(0, 2**32, chunk):
        x = np.arange(lo, lo + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        logistic_f32_array(x, a)
        act_f32_vector_array(x, b, 1)
        diff += int(np.count_nonzero(~((a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b)))))
    print(f"vector logistic ({VW} lanes) == logistic_f32 bit for bit on all 2^32 float32 bit patterns: "
          f"{diff == 0} ({diff} differ; NaN counted equal to NaN)")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
