"""A candidate float32 tanh for the fused engine against the shipped one: accuracy, isolated speed, kernel speed.

The candidate (not shipped; docs/benchmarks.md, issue 23, "The float32 tanh"): the float64 engine's
addition-theorem construction (docs/theory.md, section 15) transposed to float32. With b = -|x| clamped at -10,
N = 16 k + j the integer nearest to 32 b / ln 2 (adding 1.5 2^23: the integer lands in the significand's low
bits), y = (b - N L_hi) + (rho_j / 2 - N L_lo) (Cody-Waite: L_hi = ln 2 / 32 to 15 bits, so N L_hi and
b - N L_hi are exact) and h = 2^k T_j (T_j = 2^(j/16) to 23 bits, so that 1 + h is exact where the numerator
cancels; one integer add from a 16-entry table with one permute), tau = y - y^3 / 3 (|y| <= 0.0109: the next
term is below 2e-9 relative) and tanh|x| = ((1 - h) - tau (1 + h)) / ((1 + h) - tau (1 - h)), the sign of x
copied on. 8 operations on the multiply-add units and a division per 16 values, against 10 and a division for
the shipped degree-4/4 rational; but 20 vector operations in all against 13.

The candidate runs inside a copy of the engine's module loaded from a temporary folder (so that numba's cache of
the real module is never touched; the copy's cache stays in that folder, removed at the end), with its float32
``_vector_tanh`` replaced. Measured, in one process:

1. accuracy on a sample (or, with ``--exhaustive``, on every float32 in [0, 10]: about 1.1e9 values, minutes),
   against float64 ``np.tanh`` (within 2 float64 ulp of tanh: 4e-9 of a float32 ulp), in float32 ulps, for the
   candidate and the shipped tanh; NaN, +-inf, +-0 and the odd symmetry; and that the candidate gives the same
   bits with and without the kernel's fast-math flags;
2. isolated speed: ``act_vector_array`` on 2^14 float32 values (L1/L2-resident), thread CPU time, the two
   alternating (``--rounds``), ns per value;
3. kernel speed: the fused float32 engine on the network of issue 23 (a 128^2 slice), one thread, CPU time,
   alternating with the shipped module, points/s per core, and the largest relative difference of the losses.

Usage: python benchmarks/bench_float32_tanh_variants.py [--rounds 7] [--exhaustive]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ["NUMBA_NUM_THREADS"] = "1"  # per-core figures: before numba is imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from roofline_fused import network  # noqa: E402

F32 = np.float32
INV32 = F32(32 / math.log(2))
ROUND32 = F32(1.5 * 2**23)
_E = math.floor(math.log2(math.log(2) / 32))
L_HI = F32(round(math.log(2) / 32 / 2.0**(_E - 14)) * 2.0**(_E - 14))  # 15 significant bits
L_LO = F32(math.log(2) / 32 - float(L_HI))
B_LO = F32(-10.0)  # tanh(10) = 1 - 4e-9: rounds to 1


def _t23(j: int) -> np.float32:
    v = 2.0 ** (j / 16)
    e = math.floor(math.log2(v))
    return F32(round(v / 2.0**(e - 22)) * 2.0**(e - 22))  # 23 significant bits: the float32's last bit 0


T23 = [_t23(j) for j in range(16)]
HALF_RHO = [F32((2.0 ** (j / 16) / float(T23[j]) - 1) / 2) for j in range(16)]
T_BITS = [int(np.int32(T23[j].view(np.int32) - (j << 19))) for j in range(16)]
#: every floating-point operation carries its own flags, so the kernel's fast-math flags do not reach it
FLAGS = ("nsz",)


def vector_tanh32_addition_theorem(builder, vt, fma, x):
    """The candidate on a vector of 16 floats (AVX-512: the table through one permute)."""
    from llvmlite import ir
    from numba.core import cgutils

    lanes = vt.count
    it = ir.VectorType(ir.IntType(32), lanes)

    def splat(v):
        return ir.Constant(vt, [float(v)] * lanes)

    b = builder.bitcast(builder.or_(builder.bitcast(x, it), ir.Constant(it, [-(1 << 31)] * lanes)), vt)  # -|x|
    b = builder.select(builder.fcmp_ordered("<", b, splat(B_LO), flags=FLAGS), splat(B_LO), b)  # NaN passes
    t = builder.call(fma, [b, splat(INV32), splat(ROUND32)])
    nnf = builder.fneg(builder.fsub(t, splat(ROUND32), flags=FLAGS), flags=FLAGS)  # -N
    tb = builder.bitcast(t, it)
    j = builder.and_(tb, ir.Constant(it, [15] * lanes))
    perm = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, it]),
                                          "llvm.x86.avx512.permvar.sf.512")
    rho = builder.call(perm, [ir.Constant(vt, [float(v) for v in HALF_RHO]), j])
    y1 = builder.call(fma, [nnf, splat(L_HI), b])  # exact
    y = builder.fadd(y1, builder.call(fma, [nnf, splat(L_LO), rho]), flags=FLAGS)
    y3 = builder.fmul(builder.fmul(y, y, flags=FLAGS), y, flags=FLAGS)
    ntau = builder.call(fma, [y3, splat(F32(1 / 3)), builder.fneg(y, flags=FLAGS)])  # -tanh y
    tj = builder.call(perm, [builder.bitcast(ir.Constant(it, T_BITS), vt), j])
    h = builder.bitcast(builder.add(builder.bitcast(tj, it), builder.shl(tb, ir.Constant(it, [19] * lanes))), vt)
    one = splat(1.0)
    omh, oph = builder.fsub(one, h, flags=FLAGS), builder.fadd(one, h, flags=FLAGS)
    q = builder.fdiv(builder.call(fma, [ntau, oph, omh]), builder.call(fma, [ntau, omh, oph]), flags=FLAGS)
    copysign = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt]),
                                              f"llvm.copysign.v{lanes}f32")
    return builder.call(copysign, [q, x])


def candidate_module(folder: str):
    """A copy of the engine's module, loaded from ``folder`` under another name, with the candidate tanh."""
    from bettibounds.engines import _fused_numba

    src = Path(folder) / "fused_numba_candidate.py"
    shutil.copyfile(_fused_numba.__file__, src)
    spec = importlib.util.spec_from_file_location("fused_numba_candidate", src)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    mod._vector_tanh = vector_tanh32_addition_theorem  # looked up when the intrinsics generate their code
    return mod


def ulps(approx: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|approx - tanh(x)| in float32 ulps of the correctly rounded result (float64 np.tanh as tanh)."""
    r64 = np.tanh(x.astype(np.float64))
    r32 = np.abs(r64.astype(np.float32))
    ulp = (np.nextafter(r32, F32(np.inf)) - r32).astype(np.float64)
    return np.abs(approx.astype(np.float64) - r64) / ulp


def accuracy(mods: dict, exhaustive: bool) -> None:
    from numba import njit

    print("## Accuracy (float32 ulps of the correctly rounded tanh)\n")
    if exhaustive:
        top = int(F32(10.0).view(np.uint32))
        blocks = [np.arange(lo, min(lo + (1 << 24), top + 1), dtype=np.uint32) for lo in range(0, top + 1, 1 << 24)]
        what = f"every float32 in [0, 10] ({top + 1:,} values)"
    else:
        rng = np.random.default_rng(0)
        xs = np.concatenate([rng.normal(0, 2, 1 << 21), rng.uniform(0, 12, 1 << 21),
                             10.0 ** rng.uniform(-45, 1, 1 << 21)]).astype(np.float32)
        blocks = [np.abs(xs).view(np.uint32)]
        what = f"{len(xs):,} floats (normal sd 2, uniform [0, 12], log-uniform 1e-45..10, magnitudes)"
    print(f"Inputs: {what}; both signs checked for odd symmetry.\n")
    print("| tanh | max ulp | at x | mean ulp | exact (0 ulp in bits) | odd | NaN, +-inf, +-0 |")
    print("|---|---:|---:|---:|---:|---|---|")
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0] + [0.0] * 11, np.float32)
    for name, mod in mods.items():
        worst, at, total, n, exact, odd = 0.0, 0.0, 0.0, 0, 0, True
        for bits in blocks:
            x = bits.view(np.float32)
            x = x[:len(x) // 16 * 16]
            out, neg = np.empty_like(x), np.empty_like(x)
            mod.act_vector_array(x, out, 0)
            mod.act_vector_array(-x, neg, 0)
            e = ulps(out, x)
            i = int(np.argmax(e))
            if e[i] > worst:
                worst, at = float(e[i]), float(x[i])
            total += float(e.sum())
            n += len(x)
            exact += int(np.count_nonzero(out == np.tanh(x.astype(np.float64)).astype(np.float32)))
            odd &= bool(np.array_equal(neg.view(np.uint32), out.view(np.uint32) ^ np.uint32(0x80000000)))
        so = np.empty_like(specials)
        mod.act_vector_array(specials, so, 0)
        sp = bool(np.isnan(so[0]) and so[1] == 1 and so[2] == -1 and so[3] == 0 and np.signbit(so[4]))
        print(f"| {name} | {worst:.3f} | {at!r} | {total / n:.4f} | {100 * exact / n:.2f} % | {odd} | {sp} |")
    cand = mods["candidate (addition theorem)"]
    with_flags = njit(fastmath=cand.FM, error_model="numpy")(cand.act_vector_array.py_func)
    x = np.arange(0, 2**32, 257, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = x[:len(x) // 16 * 16]
    a, b = np.empty_like(x), np.empty_like(x)
    cand.act_vector_array(x, a, 0)
    with_flags(x, b, 0)
    same = (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))
    print(f"\nCandidate with and without the kernel's fast-math flags, every 257th bit pattern ({len(x):,}): "
          f"same bits {bool(same.all())} ({int((~same).sum())} differ)\n")


def speed(mods: dict, rounds: int) -> None:
    from bettibounds.engines.fused import FusedKernel

    x = np.random.default_rng(0).normal(0.0, 2.0, 1 << 14).astype(np.float32)
    out = np.empty_like(x)
    iso: dict[str, list[float]] = {name: [] for name in mods}
    for mod in mods.values():
        mod.act_vector_array(x, out, 0)
    for _ in range(rounds):
        for name, mod in mods.items():
            t = time.thread_time()
            for _ in range(1000):
                mod.act_vector_array(x, out, 0)
            iso[name].append((time.thread_time() - t) / (1000 * len(x)) * 1e9)
    spec, xs, ys, center, directions, coords = network(128)
    kernels, values = {}, {}
    for name, mod in mods.items():
        kern = FusedKernel(spec, xs, ys, dtype="float32")
        kern._impl = mod  # the candidate's module (the same engine otherwise)
        values[name] = kern.evaluate_slice(center, directions, coords)  # compiles the candidate's kernel
        kernels[name] = kern
    ref = FusedKernel(spec, xs, ys, dtype="float64").evaluate_slice(center, directions, coords)
    rate: dict[str, list[float]] = {name: [] for name in mods}
    for _ in range(rounds):
        for name, kern in kernels.items():
            t = time.process_time()
            kern.evaluate_slice(center, directions, coords)
            rate[name].append(len(coords) / (time.process_time() - t))
    print(f"## Speed (one thread, CPU time, {rounds} alternating rounds; best and median)\n")
    print("| tanh | isolated ns per value | median | kernel points/s per core | median | kernel's max rel. "
          "diff from the float64 engine |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in mods:
        i, r = sorted(iso[name]), sorted(rate[name])
        diff = float(np.max(np.abs(values[name] - ref) / np.abs(ref)))
        print(f"| {name} | {i[0]:.3f} | {i[len(i) // 2]:.3f} | {r[-1]:,.0f} | {r[len(r) // 2]:,.0f} | {diff:.2e} |")
    names = list(mods)
    ratios = [b / a for a, b in zip(rate[names[0]], rate[names[1]])]
    print(f"\nKernel, candidate / shipped per round: {', '.join(f'{v:.3f}' for v in ratios)}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="alternating timed rounds (default 7)")
    ap.add_argument("--exhaustive", action="store_true", help="accuracy on every float32 in [0, 10] (minutes)")
    args = ap.parse_args(argv)
    from llvmlite import binding as llvm

    if not llvm.get_host_cpu_features().get("avx512f", False):
        raise SystemExit("the candidate is written for AVX-512 (its table is one 16-float permute)")
    from bettibounds.engines import _fused_numba

    load0 = os.getloadavg()[0]
    folder = tempfile.mkdtemp(prefix="tanh32_candidate_")
    try:
        mods = {"shipped (rational 4/4)": _fused_numba, "candidate (addition theorem)": candidate_module(folder)}
        print(f"# float32 tanh: the shipped rational against the addition-theorem candidate "
              f"({time.strftime('%Y-%m-%d %H:%M')})\n")
        accuracy(mods, args.exhaustive)
        speed(mods, args.rounds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nLoad average {load0:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
