"""Exhaustive accuracy check of the shipped float32 tanh (bettibounds.engines._fused_numba.tanh_f32, the
fused engine's, with the coefficients of tanh_coeffs.json; NaN propagates) over every float32 in [0, C]
(C = clamp), plus the clamp region, specials and odd symmetry; and that the vector tanh of the kernel's
tiles and first layer (act_f32_vector_array) equals tanh_f32 bit for bit on all 2^32 bit patterns.
Reference: float64 np.tanh rounded to float32. Reports the max error in ulps (integer distance of the
float32 results, and the fractional error |approx - tanh64| / ulp32(tanh64)) and where it occurs.

Usage: python check_tanh.py
"""
import time

import numpy as np

from bettibounds.engines._fused_numba import VW, C, act_f32_vector_array, tanh_f32_array


def tanh_f32_bits(lo, n, out):
    """out[:n] = tanh_f32(float32 with bit pattern lo + i)."""
    tanh_f32_array(np.arange(lo, lo + n, dtype=np.uint32).view(np.float32), out[:n])


def ulp32(v):  # ulp of float32 numbers v >= 0 (as float64)
    v = np.asarray(v, np.float32)
    return (np.nextafter(v, np.float32(np.inf)) - v).astype(np.float64)


def main():
    t0 = time.perf_counter()
    hi = int(np.float32(C).view(np.uint32))  # bit patterns 0 .. hi are exactly the floats in [0, C]
    total = hi + 1
    chunk = 1 << 24
    out = np.empty(chunk, np.float32)
    max_int, arg_int = -1, None
    max_frac, arg_frac = -1.0, None
    hist = np.zeros(8, np.int64)  # how many values are off by 0, 1, 2, ... 7+ ulps
    for lo in range(0, total, chunk):
        n = min(chunk, total - lo)
        tanh_f32_bits(lo, n, out)
        a = out[:n]
        x = np.arange(lo, lo + n, dtype=np.uint32).view(np.float32)
        r64 = np.tanh(x.astype(np.float64))
        r32 = r64.astype(np.float32)
        d = np.abs(a.view(np.int32).astype(np.int64) - r32.view(np.int32).astype(np.int64))
        hist += np.bincount(np.minimum(d, 7), minlength=8)
        i = int(np.argmax(d))
        if d[i] > max_int:
            max_int, arg_int = int(d[i]), (float(x[i]), float(a[i]), float(r64[i]))
        fr = np.abs(a.astype(np.float64) - r64) / np.where(r32 > 0, ulp32(r32), ulp32(np.float32(1.4e-45)))
        j = int(np.argmax(fr))
        if fr[j] > max_frac:
            max_frac, arg_frac = float(fr[j]), (float(x[j]), float(a[j]), float(r64[j]))
    print(f"exhaustive: {total:,} float32 values in [0, {float(C)!r}] checked in {time.perf_counter() - t0:.0f} s")
    print(f"  max error vs round-to-float32(np.tanh float64): {max_int} ulp at x = {arg_int[0]!r} "
          f"(approx {arg_int[1]!r}, tanh {arg_int[2]!r})")
    print(f"  max error vs float64 tanh: {max_frac:.3f} ulp32 at x = {arg_frac[0]!r} "
          f"(approx {arg_frac[1]!r}, tanh {arg_frac[2]!r})")
    counts = ", ".join(f"{k}{'+' if k == 7 else ''}: {v:,}" for k, v in enumerate(hist))
    print("  distribution (ulps: count): " + counts)

    # clamp region: every float32 above C (exhaustive too: bits hi+1 .. +inf) must give exactly 1
    top = int(np.float32(np.inf).view(np.uint32))
    bad = 0
    outc = np.empty(chunk, np.float32)
    for lo in range(hi + 1, top + 1, chunk):
        n = min(chunk, top + 1 - lo)
        tanh_f32_bits(lo, n, outc)
        bad += int(np.count_nonzero(outc[:n] != np.float32(1)))
    oc = np.empty(1, np.float32)
    tanh_f32_array(np.array([C], np.float32), oc)
    print(f"clamp region: all {top - hi:,} float32 in ({float(C)!r}, +inf] give 1.0: {bad == 0} ({bad} differ); "
          f"tanh_f32(C) = {float(oc[0])!r}")
    # odd symmetry: all negative float32 of magnitude <= C (exhaustive) and beyond
    asym = 0
    outn = np.empty(chunk, np.float32)
    for lo in range(0, top + 1, chunk):
        n = min(chunk, top + 1 - lo)
        tanh_f32_bits(lo, n, out)
        tanh_f32_bits(lo | 0x80000000, n, outn)
        asym += int(np.count_nonzero(out[:n] != -outn[:n]))
    print(f"odd symmetry tanh(-x) == -tanh(x) for all {top + 1:,} float32 magnitudes in [0, inf]: "
          f"{asym == 0} ({asym} differ)")
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-30], np.float32)
    o = np.empty_like(sp)
    tanh_f32_array(sp, o)
    print("specials:", ", ".join(f"{s!r}->{v!r}" for s, v in zip(sp.tolist(), o.tolist())))
    # the vector tanh (LLVM vector code written by hand, VW lanes) against tanh_f32: all bit patterns
    diff = 0
    outv = np.empty(chunk, np.float32)
    for lo in range(0, 2**32, chunk):
        x = np.arange(lo, lo + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        tanh_f32_array(x, out)
        act_f32_vector_array(x, outv, 0)
        same = (out.view(np.uint32) == outv.view(np.uint32)) | (np.isnan(out) & np.isnan(outv))
        diff += int(np.count_nonzero(~same))
    print(f"vector tanh ({VW} lanes) == tanh_f32 bit for bit on all 2^32 float32 bit patterns: {diff == 0} "
          f"({diff} differ; NaN counted equal to NaN)")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
