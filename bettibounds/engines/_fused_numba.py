"""The compiled part of the fused engine (numba), float64 and float32; see :mod:`.fused`.

Everything here is compiled by numba (``cache=True``: once per installation and precision -- the
cache is kept beside this file -- about 15 s
of CPU time each, then loaded from numba's cache in about 0.5 s). One compiled kernel per precision
(:func:`fused_kernel`) serves every architecture of the supported family, slices and parameter
vectors alike: the network is described at run time by an int64 table of its layers. Importing
this module imports numba; :mod:`.fused` imports it lazily, so the package and the torch engine
never need numba.

Origin: the prototype ``benchmarks/experiments/fused_numba/general.py`` (in git at commit
ed06532; docs/benchmarks.md). The float32 tanh was fitted by ``benchmarks/provenance/fit_tanh.py``
(its output: ``tanh_coeffs.json`` there); the shipped float32 tanh and logistic are checked on every
float32 input by ``check_tanh.py`` and ``check_logistic.py`` in the same folder. The float64 tanh and
logistic are built from the addition theorem (a 2^(j/16) table and tanh of the reduced argument),
softplus (for BCE) from a table-driven exp; their error bounds are proved in docs/theory.md, section
15, and measured on 10^8 inputs each by ``benchmarks/check_float64_activations.py``.

Size: this module is the one exception to the 600-line limit of docs/architecture.md. It holds the
engine's LLVM IR generation through llvmlite (vector activations, register tiles, loss rows) and the
numba kernels built from it, which share private code-generation helpers; it is kept whole. The
model engine's fused first layer (:func:`first_act_rows`, :func:`first_act_pool`, used by
:mod:`.model_fused_first`) lives here too, for a reason of numba's cache: a cached function is
invalidated only when its own file changes, so a kernel in another file that inlines the vector
activations could keep an old copy of them after an edit here, and then no longer be the model
engine's fast activation bit for bit.
"""

import math
from fractions import Fraction

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils, types
from numba.core import config as _numba_config
from numba.extending import intrinsic

#: fast-math flags: FMA contraction, reassociation (vectorised reductions), no signed zeros.
#: Not "nnan"/"ninf": comparisons with NaN and inf keep their IEEE meaning, so NaN propagates.
FM = {"contract", "reassoc", "nsz"}

# tanh(x) ~ a P(a^2) / Q(a^2), a = clamp(x, -C, C): degree 4 / 4 in a^2, coefficients fitted in
# float64 and rounded to float32 (fit_tanh.py). C = 9.010913848876953 is the smallest float32
# whose tanh rounds to 1 in float32. Exhaustive check over every float32 in [0, C] against
# float64 tanh: at most 5 ulp, 93.9 % exact; every float32 above C gives exactly 1; odd.
C = np.float32(9.010913848876953)
NC = np.float32(-9.010913848876953)
P1 = np.float32(0.133803129196167)
P2 = np.float32(0.003494740929454565)
P3 = np.float32(2.0595116438926198e-05)
P4 = np.float32(1.3335237802891697e-08)
Q1 = np.float32(0.46713629364967346)
Q2 = np.float32(0.025873759761452675)
Q3 = np.float32(0.0003284248523414135)
Q4 = np.float32(7.768625778226124e-07)
ONE = np.float32(1.0)
HALF = np.float32(0.5)
ZERO = np.float32(0.0)

# exp for the logistic: e^a = 2^n e^r, n = round(a log2 e), r = a - n ln 2 with ln 2 split in a
# 9-bit head (n * LN2_HI is exact for |n| <= 2^15) and a tail (Cody-Waite), e^r by its Taylor
# polynomial of degree 7 (truncation at most 7.3e-9 relative on |r| <= ln2 / 2, 0.12 ulp). The
# scale is applied as (p 2^(n + 64)) 2^-64: the first product is exact (a normal number for
# n >= -150), the second rounds once, so results below 2^-126 are correctly rounded subnormals
# instead of a floor: a later weight of 1e37 times a floored 1.2e-38 would be an O(1) error.
# LO = -104 < ln(2^-150) = -103.97, where e^a rounds to 0 in float32: the clamp changes nothing.
LO = np.float32(-104.0)
TWO_M64 = np.float32(2.0**-64)
LOG2E = np.float32(1.4426950408889634)
LN2_HI = np.float32(0.693359375)
LN2_LO = np.float32(-2.12194440e-4)
E2 = np.float32(1 / 2)
E3 = np.float32(1 / 6)
E4 = np.float32(1 / 24)
E5 = np.float32(1 / 120)
E6 = np.float32(1 / 720)
E7 = np.float32(1 / 5040)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def tanh_f32(x):
    """Branch-free float32 tanh (at most 5 ulp); NaN in gives NaN out (a comparison with NaN
    is false, so the clamp passes x through), +-inf give +-1."""
    a = C if x > C else x
    a = NC if a < NC else a
    x2 = a * a
    p = (((P4 * x2 + P3) * x2 + P2) * x2 + P1) * x2 + ONE
    q = (((Q4 * x2 + Q3) * x2 + Q2) * x2 + Q1) * x2 + ONE
    return a * p / q


@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def tanh_f32_array(xs, out):
    """out[i] = tanh_f32(xs[i]) (float32 arrays; tests and checks)."""
    for i in prange(xs.shape[0]):
        out[i] = tanh_f32(xs[i])


@intrinsic
def _f32_from_bits(typingctx, bits):
    """The float32 whose bit pattern is the int32 ``bits`` (an LLVM bitcast: vectorises)."""
    # numba's stubs declare no Integer.bitwidth (set in its __init__)
    if not isinstance(bits, types.Integer) or bits.bitwidth != 32:  # type: ignore[attr-defined]
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(bits), codegen


# Not inline="always": numba-level inlining would give these operations the caller's fast-math
# flags, and reassociation would undo the Cody-Waite split; LLVM inlines it (and vectorises the
# loops that call it) with its own flags.
@njit(fastmath={"contract"}, cache=True, error_model="numpy")
def logistic_f32(z):
    """float32 logistic 1 / (1 + e^-z), accurate in relative terms on both sides: with
    e = e^-|z|, e / (1 + e) for z < 0 and 1 / (1 + e) otherwise (no 1 - tiny cancellation, unlike
    (1 + tanh(z / 2)) / 2). At most 2 ulp from the correctly rounded value on every float32
    (benchmarks/provenance/check_logistic.py), subnormal results included (counted in
    subnormal steps); 0 below -104. Never above 1. NaN gives NaN (the scale is built from 0 instead
    of NaN, so the int conversion stays defined)."""
    a = -abs(z)
    a = LO if a < LO else a  # NaN passes (comparison false)
    kf = np.floor(a * LOG2E + HALF)
    ks = kf if kf == kf else ZERO
    r = (a - kf * LN2_HI) - kf * LN2_LO
    p = ONE + r * (ONE + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
    # p 2^n (the type: ignore: numba's stubs count @intrinsic's typing context as the caller's argument)
    e = p * _f32_from_bits(np.int32((np.int32(ks) + np.int32(127 + 64)) << np.int32(23))) * TWO_M64  # type: ignore[call-arg]
    num = e if z < ZERO else ONE
    return num / (ONE + e)


@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def logistic_f32_array(xs, out):
    """out[i] = logistic_f32(xs[i]) (float32 arrays; tests and checks)."""
    for i in prange(xs.shape[0]):
        out[i] = logistic_f32(xs[i])


# --------------------------------------------------------------- float64 constants
# The float64 tanh and logistic share the reduction and table below but not the exp (see
# _vector_tanh64: the addition theorem with tanh of the reduced argument); softplus uses the exp,
# table-driven: for a <= 0,
# a = (16 k + j) ln2/16 + r with N = 16 k + j = a 16/ln2 rounded to an integer (to nearest, by
# adding 1.5 2^52: the integer lands in the significand's low bits), 0 <= j < 16, and
# r = (a - N LN2_16_HI) - N LN2_16_LO (Cody-Waite: LN2_16_HI is ln 2 / 16 rounded to double with its
# low 21 bits cleared, so N LN2_16_HI is exact for |N| < 2^21 and, by Sterbenz's lemma, so is
# a - N LN2_16_HI; LN2_16_LO = ln 2 / 16 - LN2_16_HI rounded); then
# e^a = 2^k (T_j + t_j) (1 + q), with T_j + t_j = 2^(j/16) to about 2^-106 (two doubles) and
# q = expm1(r) = r + r^2 S(r), S the Taylor polynomial sum_{i=0}^{6} r^i / (i + 2)! (degree 8 in all:
# for |r| <= 0.02167 the truncation is below 1.4e-19 relative). The products with 2^k are exact
# (2^k from its bits). With the products of the layers, the kernel is bound by the multiply-add
# units, so the table (fewer multiply-adds than a degree-13 polynomial with no table, more
# additions and integer operations) made the float64 kernel 9 % faster, though the activation
# alone runs at the same speed. The error argument is in docs/theory.md, section 15.
LN2_HI64 = 0.6931471803691238  # 0x3FE62E42FEE00000: ln 2 with its low 21 bits cleared
LN2_LO64 = 1.9082149292705877e-10
LN2_16_HI = LN2_HI64 / 16  # exact (a power of two)
LN2_16_LO = LN2_LO64 / 16
INV_LN2_16 = 23.083120654223414  # 16 / ln 2
ROUND64 = 6755399441055744.0  # 1.5 2^52
EXPM1_S = tuple(1.0 / math.factorial(j + 2) for j in range(7))  # 1/2!, ..., 1/8!
#: 2^(j/16) = EXP2_HI[j] + EXP2_LO[j] (the head correctly rounded, the tail its rounded remainder)
EXP2_HI = (1.0, 1.0442737824274138, 1.0905077326652577, 1.1387886347566916, 1.189207115002721, 1.241857812073484,
           1.2968395546510096, 1.3542555469368927, 1.4142135623730951, 1.4768261459394993, 1.5422108254079407,
           1.6104903319492543, 1.681792830507429, 1.7562521603732995, 1.8340080864093424, 1.9152065613971474)
EXP2_LO = (0.0, 8.551889705537965e-17, -3.046782079812471e-17, 8.912812676025408e-17, 3.982015231465646e-17,
           4.658027591836937e-17, 2.5382502794888315e-17, 7.70094837980299e-17, -9.667293313452913e-17,
           -3.483994556892796e-17, 7.949834809697621e-17, 2.4707192569797888e-17, 8.199010020581497e-17,
           2.960140695448873e-17, 3.283107224245627e-17, -1.0619946056195963e-16)
#: tanh: a = -2|x| clamped at -80 (|x| >= 40, where tanh is 1 to within 1e-34)
TANH_A_LO = -80.0
#: tanh's reduction: ln 2 / 32 as one double (within 7.3e-19 of it; N ln 2 / 32 for |N| <= 1847
#: within 1.4e-15, which only the far tail sees: docs/theory.md section 15)
LN2_32 = math.log(2) / 32
#: tanh's table: 2^(j/16) = T_j (1 + rho_j) with T_j rounded to 52 significant bits (the last bit of
#: the double is 0, so that 1 + T_j / 2 is exact) and rho_j = 2^(j/16) / T_j - 1, |rho_j| <= 2^-52, from
#: the head and tail above (within 2^-106 of 2^(j/16)) in exact rational arithmetic, rounded once.
#: TANH_HALF_RHO[j] = rho_j / 2. TANH_T holds T_j with j 2^48 taken from its bits, so that adding the
#: reduction's word t 2^48 = (16 k + j) 2^48 to them gives 2^k T_j exactly (one integer add, no mask).
TANH_T52 = tuple(hi if not np.float64(hi).view(np.int64) & 1 else hi + math.copysign(math.ulp(hi), lo)
                 for hi, lo in zip(EXP2_HI, EXP2_LO))
TANH_HALF_RHO = tuple(float((Fraction(hi) + Fraction(lo) - Fraction(t)) / Fraction(t)) / 2
                      for hi, lo, t in zip(EXP2_HI, EXP2_LO, TANH_T52))
TANH_T = tuple(float(np.int64(np.float64(t).view(np.int64) - (j << 48)).view(np.float64))
               for j, t in enumerate(TANH_T52))
#: tanh y = y + y^3 (TANH_S[0] + TANH_S[1] y^2 + TANH_S[2] y^4) + O(y^9) (its Taylor coefficients
#: -1/3, 2/15, -17/315), for the reduced argument |y| <= 0.01084
TANH_S = (-1 / 3, 2 / 15, -17 / 315)
#: the logistic's table: 2^(j/16) = T_j (1 + rho_j) as for tanh, with 2^64 T_j less j 2^48 in its bits
#: (2^(k + 64) T_j stays a normal number down to k = -1077) and LOGISTIC_RHO[j] = rho_j; 2 tanh(r / 2) =
#: r + r^3 (LOGISTIC_S[0] + LOGISTIC_S[1] r^2 + LOGISTIC_S[2] r^4) (TANH_S scaled by 4, 16, 64: exact)
LOGISTIC_T = tuple(float(np.int64(np.float64(t).view(np.int64) - (j << 48) + (64 << 52)).view(np.float64))
                   for j, t in enumerate(TANH_T52))
LOGISTIC_RHO = tuple(2 * v for v in TANH_HALF_RHO)
LOGISTIC_S = (TANH_S[0] / 4, TANH_S[1] / 16, TANH_S[2] / 64)
#: logistic and softplus: a = -|z| clamped at -746 < ln(2^-1075) = -745.13, below which e^a rounds to 0
LOGISTIC_A_LO = -746.0
#: log1p(e) for 0 <= e <= 1 as 2 atanh(w), w = e / (2 + e) <= 1/3: 2 w sum_{j=0}^{16} w^(2j) / (2j + 1),
#: truncation below (1/9)^17 / 35 / (1 - 1/9) = 4.7e-18 relative
LOG1P_S = tuple(1.0 / (2 * j + 1) for j in range(17))
#: the flag of the cross entropy's floating-point operations: numba's fast-math pass gives every operation
#: without flags the kernel's (FM: reassociation among them), and reassociating M - (p + c) into (M - c) - p
#: made the largest logit's own g = M - u, exactly 0 otherwise, a rounding error (1e-16 absolute: 1e-11
#: relative in a loss of 1e-5). "nsz" alone changes no value here (no result's sign of zero matters).
IEEE = ("nsz",)
#: the cross entropy's log: 1 + s is reduced to f in [sqrt(1/2), sqrt(2)), where |(f - 1) / (f + 1)| <= 0.172
SQRT2 = 1.4142135623730951


# --------------------------------------------------------------- vector code
# The products of every layer go through a register-tiled micro-kernel written as LLVM vector code
# (an intrinsic): numba's loops leave the accumulators in memory and LLVM vectorises them to 256
# bits only on this CPU family (its "prefer 256-bit" tuning), which held the products at 25-35
# GFLOP/s per thread. The tile keeps OB x SB vector accumulators in registers for the whole sum
# over the inputs (32 -> 16 layer, m = 256: 2.1-3x faster in isolation; docs/benchmarks.md); in
# hidden layers it adds the bias and applies the activation to them before its one store. The
# first layer, the activations and the loss are vector code too. Vector width: 16 floats or 8
# doubles (512 bits) where the target has AVX-512 (16 accumulators of the 32 registers), else 8
# floats or 4 doubles (8 accumulators; fits AVX2's 16 registers and NEON's 32 as register pairs).
# The sums run over the inputs in order, one FMA per term, so a point's value never depends on
# which other points share its chunk. Every row of activations is padded to a multiple of VW
# samples (zero inputs in the padding; the loss leaves the padding out), so no scalar tail exists.
# numba compiles for the host unless NUMBA_CPU_NAME / NUMBA_CPU_FEATURES name another target
# (e.g. "generic" for a cache shared by several machines): then AVX-512 only when named. The
# tests run the 8-wide code with NUMBA_CPU_NAME=haswell.


def _switch(builder, selector, cases, emit, label):
    """Emit ``emit(case)`` in a block of its own for each Python int ``case`` and branch to it by the
    run-time int64 ``selector`` (an LLVM switch; other values do nothing); continue after them."""
    end = builder.append_basic_block(f"{label}_end")
    switch = builder.switch(selector, end)
    for case in cases:
        block = builder.append_basic_block(f"{label}_{case}")
        switch.add_case(ir.Constant(ir.IntType(64), case), block)
        builder.position_at_end(block)
        emit(case)
        builder.branch(end)
    builder.position_at_end(end)


def _vector_width() -> int:
    # numba.core.config sets its options at import (from the environment): its stubs cannot list them
    if (_numba_config.CPU_NAME or "host") == "host" and not _numba_config.CPU_FEATURES:  # type: ignore[attr-defined]
        avx512 = bool(_llvm.get_host_cpu_features().get("avx512f", False))
    else:
        avx512 = "+avx512f" in (_numba_config.CPU_FEATURES or "")  # type: ignore[attr-defined]  # (as above)
    return 16 if avx512 else 8


VW = _vector_width()  # floats per vector (and the padding of every row of samples)
VW64 = VW // 2  # doubles per vector
OB = 4  # outputs per tile
SB = 4 if VW == 16 else 2  # vectors of samples per tile
SW = VW * SB  # float32 samples per tile (float64: VW64 * SB)


def _splat(builder, vt, value):
    """A vector of copies of the scalar ``value`` (an LLVM value of vt's element type, or a Python
    float for a vector of floats or doubles)."""
    n = vt.count
    if not isinstance(value, ir.Value):
        return ir.Constant(vt, [float(value)] * n)
    undef = ir.Constant(vt, ir.Undefined)
    lane0 = ir.Constant(ir.IntType(32), 0)
    return builder.shuffle_vector(builder.insert_element(undef, value, lane0), undef,
                                  ir.Constant(ir.VectorType(ir.IntType(32), n), [0] * n))


def _vfunc(builder, vt, name):
    """The LLVM intrinsic ``llvm.<name>`` on vectors of type vt (fabs, floor, copysign, fma)."""
    suffix = f"v{vt.count}{'f32' if isinstance(vt.element, ir.FloatType) else 'f64'}"
    nargs = {"fabs": 1, "floor": 1, "copysign": 2, "fma": 3}[name]
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt] * nargs),
                                          f"llvm.{name}.{suffix}")


def _vector_tanh(builder, vt, fma, x):
    """tanh_f32 on a vector, operation for operation: a = x clamped to [-C, C] (ordered
    comparisons: NaN passes through), p and q by Horner's rule in fused multiply-adds,
    (a p) / q. The tests hold it bit for bit to tanh_f32 on every float32 of a dense sample."""
    c = _splat(builder, vt, C)
    a = builder.select(builder.fcmp_ordered(">", x, c), c, x)
    nc = _splat(builder, vt, NC)
    a = builder.select(builder.fcmp_ordered("<", a, nc), nc, a)
    x2 = builder.fmul(a, a)
    one = _splat(builder, vt, ONE)
    p = builder.call(fma, [_splat(builder, vt, P4), x2, _splat(builder, vt, P3)])
    q = builder.call(fma, [_splat(builder, vt, Q4), x2, _splat(builder, vt, Q3)])
    for pc, qc in ((P2, Q2), (P1, Q1)):
        p = builder.call(fma, [p, x2, _splat(builder, vt, pc)])
        q = builder.call(fma, [q, x2, _splat(builder, vt, qc)])
    p = builder.call(fma, [p, x2, one])
    q = builder.call(fma, [q, x2, one])
    return builder.fdiv(builder.fmul(a, p), q)


def _vector_logistic(builder, vt, fma, z):
    """logistic_f32 on a vector, operation for operation (Cody-Waite reduction with fused
    multiply-adds, the degree-7 Horner polynomial in fused multiply-adds, 2^n from its bits,
    e / (1 + e) or 1 / (1 + e)). The tests hold it bit for bit to logistic_f32."""
    fabs, floor = _vfunc(builder, vt, "fabs"), _vfunc(builder, vt, "floor")
    a = builder.fneg(builder.call(fabs, [z]))
    lo = _splat(builder, vt, LO)
    a = builder.select(builder.fcmp_ordered("<", a, lo), lo, a)  # NaN passes
    kf = builder.call(floor, [builder.call(fma, [a, _splat(builder, vt, LOG2E), _splat(builder, vt, HALF)])])
    ks = builder.select(builder.fcmp_ordered("==", kf, kf), kf, _splat(builder, vt, ZERO))
    r = builder.call(fma, [builder.fneg(kf), _splat(builder, vt, LN2_HI), a])
    r = builder.call(fma, [builder.fneg(kf), _splat(builder, vt, LN2_LO), r])
    p = builder.call(fma, [r, _splat(builder, vt, E7), _splat(builder, vt, E6)])
    for c in (E5, E4, E3, E2, ONE, ONE):
        p = builder.call(fma, [r, p, _splat(builder, vt, c)])
    it = ir.VectorType(ir.IntType(32), vt.count)
    n = builder.add(builder.fptosi(ks, it), ir.Constant(it, [127 + 64] * vt.count))
    # explicit flags: numba's fast-math pass gives the kernel's (reassociation) to operations without any, and
    # (p 2^(n + 64)) 2^-64 reassociated to p (2^(n + 64) 2^-64) gave 0 for n = -150 (2^-150 rounds to 0) where
    # the correctly rounded result is 2^-149 (z in [-103.97, -103.63])
    e = builder.fmul(p, builder.bitcast(builder.shl(n, ir.Constant(it, [23] * vt.count)), vt),
                     flags=IEEE)  # p 2^(n + 64), exact
    e = builder.fmul(e, _splat(builder, vt, TWO_M64), flags=IEEE)  # p 2^n, one rounding (subnormal results)
    one = _splat(builder, vt, ONE)
    num = builder.select(builder.fcmp_ordered("<", z, _splat(builder, vt, ZERO)), e, one)
    return builder.fdiv(num, builder.fadd(one, e))


# float64: the shared exp (see the constants above)
def _lookup16(builder, values, j):
    """The vector (values[j_0], values[j_1], ...) for a vector j of int64 in [0, 16): one two-table
    permute with AVX-512, else lane by lane from a constant vector."""
    lanes = j.type.count
    vt = ir.VectorType(ir.DoubleType(), lanes)
    if lanes == 8 and VW == 16:  # AVX-512 (VW is 16 only for a target with avx512f)
        f = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, j.type, vt]),
                                           "llvm.x86.avx512.vpermi2var.pd.512")
        return builder.call(f, [ir.Constant(vt, list(values[:8])), j, ir.Constant(vt, list(values[8:]))])
    table = ir.Constant(ir.VectorType(ir.DoubleType(), 16), list(values))
    out = ir.Constant(vt, ir.Undefined)
    for lane in range(lanes):
        idx = builder.extract_element(j, ir.Constant(ir.IntType(32), lane))
        out = builder.insert_element(out, builder.extract_element(table, idx), ir.Constant(ir.IntType(32), lane))
    return out


def _exp_parts64(builder, vt, fma, a, offset=0):
    """(h, c) with e^a = 2^-offset (h + c) for a vector a <= 0 (or NaN): h = 2^(k + offset) T_j
    exactly, c = 2^(k + offset) (T_j q + t_j); k + offset must stay >= -1022. N is rounded to
    nearest by adding 1.5 2^52 (its integer then sits in the significand's low bits: no
    float-to-integer conversion); where a is NaN, c is NaN."""
    t = builder.call(fma, [a, _splat(builder, vt, INV_LN2_16), _splat(builder, vt, ROUND64)])
    nf = builder.fsub(t, _splat(builder, vt, ROUND64))
    r = builder.call(fma, [builder.fneg(nf), _splat(builder, vt, LN2_16_HI), a])  # exact
    r = builder.call(fma, [builder.fneg(nf), _splat(builder, vt, LN2_16_LO), r])
    s = _splat(builder, vt, EXPM1_S[-1])
    for c in EXPM1_S[-2::-1]:
        s = builder.call(fma, [r, s, _splat(builder, vt, c)])
    q = builder.call(fma, [builder.fmul(r, r), s, r])
    it = ir.VectorType(ir.IntType(64), vt.count)
    n = builder.sub(builder.bitcast(t, it), ir.Constant(it, [int(np.float64(ROUND64).view(np.int64))] * vt.count))
    j = builder.and_(n, ir.Constant(it, [15] * vt.count))
    k = builder.ashr(n, ir.Constant(it, [4] * vt.count))
    hi, lo = _lookup16(builder, EXP2_HI, j), _lookup16(builder, EXP2_LO, j)
    shift = builder.shl(builder.add(k, ir.Constant(it, [offset] * vt.count)), ir.Constant(it, [52] * vt.count))
    h = builder.bitcast(builder.add(builder.bitcast(hi, it), shift), vt)  # T_j 2^(k + offset), exact
    p2 = builder.bitcast(builder.add(shift, ir.Constant(it, [1023 << 52] * vt.count)), vt)  # 2^(k + offset)
    c = builder.fmul(builder.call(fma, [hi, q, lo]), p2)
    return h, c


def _div64(builder, vt, fma, num, den):
    """num / den, IEEE division (correctly rounded)."""
    return builder.fdiv(num, den)


def _vector_tanh64(builder, vt, fma, x):
    """float64 tanh from the addition theorem. With b = -|x| (clamped at TANH_A_LO / 2), N = 16 k + j
    the integer nearest to 32 b / ln 2 and y = b - N ln2/32 + rho_j / 2 (|y| <= 0.01084), e^(2b) =
    h e^(2y) with h = 2^k T_j exact (one integer add), and e^(2y) = (1 + tau) / (1 - tau) for tau =
    tanh y (a degree-7 odd Taylor polynomial); so tanh|x| = (1 - h e^(2y)) / (1 + h e^(2y)) =
    ((1 - h) - tau (1 + h)) / ((1 + h) - tau (1 - h)), two fused multiply-adds and one division, with
    the sign of x copied onto it. 1 - h is exact where the numerator cancels (h >= 1/2); for
    |x| < 0.0108 (N = 0: h = 1, rho_0 = 0, y = b) the quotient is -2 tau / 2 = tanh|x| to about
    1 ulp. NaN gives NaN, +-inf give +-1, -0 gives -0. 21 vector operations per 8 values (9 on the
    multiply-add units) against 33 (13) for the form (1 - e^a) / (1 + e^a) with a full exp
    (docs/benchmarks.md, issue 23); the error bound is in docs/theory.md, section 15."""
    it = ir.VectorType(ir.IntType(64), vt.count)
    b = builder.bitcast(builder.or_(builder.bitcast(x, it), ir.Constant(it, [1 << 63] * vt.count)), vt)  # -|x|
    lo = _splat(builder, vt, TANH_A_LO / 2)
    b = builder.select(builder.fcmp_ordered("<", b, lo), lo, b)  # NaN passes
    # N rounded to nearest by adding 1.5 2^52: its integer sits in t's low bits (j = the low 4)
    t = builder.call(fma, [b, _splat(builder, vt, 2 * INV_LN2_16), _splat(builder, vt, ROUND64)])
    nf = builder.fsub(t, _splat(builder, vt, ROUND64))
    tb = builder.bitcast(t, it)
    j = builder.and_(tb, ir.Constant(it, [15] * vt.count))  # folded into the permutes with AVX-512
    y = builder.call(fma, [builder.fneg(nf), _splat(builder, vt, LN2_32), b])
    y = builder.fadd(y, _lookup16(builder, TANH_HALF_RHO, j))
    y2 = builder.fmul(y, y)
    p = builder.call(fma, [_splat(builder, vt, TANH_S[2]), y2, _splat(builder, vt, TANH_S[1])])
    p = builder.call(fma, [p, y2, _splat(builder, vt, TANH_S[0])])
    ntau = builder.fneg(builder.call(fma, [builder.fmul(y, y2), p, y]))  # -tanh y
    h = builder.bitcast(builder.add(builder.bitcast(_lookup16(builder, TANH_T, j), it),
                                    builder.shl(tb, ir.Constant(it, [48] * vt.count))), vt)  # 2^k T_j
    one = _splat(builder, vt, 1.0)
    omh, oph = builder.fsub(one, h), builder.fadd(one, h)
    num = builder.call(fma, [ntau, oph, omh])
    den = builder.call(fma, [ntau, omh, oph])
    return builder.call(_vfunc(builder, vt, "copysign"), [_div64(builder, vt, fma, num, den), x])


def _exp64(builder, vt, fma, a):
    """e^a for a vector a <= 0 clamped at LOGISTIC_A_LO (or NaN): (h + c) 2^-64 with h, c at the
    scale 2^64 (normal numbers), so only the last product rounds, into the subnormals where the
    result is one."""
    h, c = _exp_parts64(builder, vt, fma, a, 64)
    return builder.fmul(builder.fadd(h, c), _splat(builder, vt, 2.0**-64))


def _vector_logistic64(builder, vt, fma, z):
    """float64 logistic by the construction of _vector_tanh64. With a = -|z| (clamped at
    LOGISTIC_A_LO), N = 16 k + j the integer nearest to 16 a / ln 2 and r = a - N ln2/16 + rho_j
    (Cody-Waite: the range reaches N = -17222), e^a = H e^r with H = 2^k T_j, and e^r = (2 + tau) /
    (2 - tau) for tau = 2 tanh(r / 2) (the odd polynomial); so with A = 2 - tau and B = H (2 + tau),
    the logistic is A / (A + B) for z >= 0 and B / (A + B) for z < 0. A and B are formed at the scale
    2^64 (2^(k + 64) T_j is normal; both by one fused multiply-add), so the quotient rounds once,
    into the subnormals where the result is one. NaN gives NaN, +inf 1, -inf 0. 25 vector
    operations per 8 values (10 on the multiply-add units) against 32 (14) for the full exp; the
    error bound is in docs/theory.md, section 15."""
    it = ir.VectorType(ir.IntType(64), vt.count)
    a = builder.bitcast(builder.or_(builder.bitcast(z, it), ir.Constant(it, [1 << 63] * vt.count)), vt)  # -|z|
    lo = _splat(builder, vt, LOGISTIC_A_LO)
    a = builder.select(builder.fcmp_ordered("<", a, lo), lo, a)  # NaN passes
    t = builder.call(fma, [a, _splat(builder, vt, INV_LN2_16), _splat(builder, vt, ROUND64)])
    nnf = builder.fneg(builder.fsub(t, _splat(builder, vt, ROUND64)))  # -N
    tb = builder.bitcast(t, it)
    j = builder.and_(tb, ir.Constant(it, [15] * vt.count))  # folded into the permutes with AVX-512
    r = builder.call(fma, [nnf, _splat(builder, vt, LN2_16_HI), a])  # exact
    r = builder.call(fma, [nnf, _splat(builder, vt, LN2_16_LO), r])
    r = builder.fadd(r, _lookup16(builder, LOGISTIC_RHO, j))
    r2 = builder.fmul(r, r)
    p = builder.call(fma, [_splat(builder, vt, LOGISTIC_S[2]), r2, _splat(builder, vt, LOGISTIC_S[1])])
    p = builder.call(fma, [p, r2, _splat(builder, vt, LOGISTIC_S[0])])
    tau = builder.call(fma, [builder.fmul(r, r2), p, r])  # 2 tanh(r / 2)
    hb = builder.add(builder.bitcast(_lookup16(builder, LOGISTIC_T, j), it),
                     builder.shl(tb, ir.Constant(it, [48] * vt.count)))  # the bits of 2^(k + 64) T_j
    h64 = builder.bitcast(hb, vt)
    h65 = builder.bitcast(builder.add(hb, ir.Constant(it, [1 << 52] * vt.count)), vt)  # 2 h64, exact
    big_a = builder.call(fma, [tau, _splat(builder, vt, -2.0**64), _splat(builder, vt, 2.0**65)])  # (2 - tau) 2^64
    big_b = builder.call(fma, [h64, tau, h65])  # 2^64 H (2 + tau)
    den = builder.fadd(big_a, big_b)
    num = builder.select(builder.fcmp_ordered("<", z, _splat(builder, vt, 0.0)), big_b, big_a)
    return _div64(builder, vt, fma, num, den)


def _log1p_exp_neg_abs64(builder, vt, fma, u):
    """log(1 + e^-|u|) (float64 vector): e = e^-|u| in [0, 1], then 2 atanh(w), w = e / (2 + e)."""
    fabs = _vfunc(builder, vt, "fabs")
    a = builder.fneg(builder.call(fabs, [u]))
    lo = _splat(builder, vt, LOGISTIC_A_LO)
    a = builder.select(builder.fcmp_ordered("<", a, lo), lo, a)
    e = _exp64(builder, vt, fma, a)
    w = _div64(builder, vt, fma, e, builder.fadd(_splat(builder, vt, 2.0), e))
    w2 = builder.fmul(w, w)
    s = _splat(builder, vt, LOG1P_S[-1])
    for c in LOG1P_S[-2::-1]:
        s = builder.call(fma, [w2, s, _splat(builder, vt, c)])
    return builder.fmul(builder.fmul(w, _splat(builder, vt, 2.0)), s)


def _max0(builder, vt, u):
    """max(u, 0) as torch's clamp_min(u, 0): NaN stays NaN."""
    zero = _splat(builder, vt, 0.0)
    return builder.select(builder.fcmp_ordered("<", u, zero), zero, u)


def _vector_softplus64(builder, vt, fma, u):
    """float64 softplus log(1 + e^u) = max(u, 0) + log(1 + e^-|u|), as the torch kernel writes it."""
    return builder.fadd(_max0(builder, vt, u), _log1p_exp_neg_abs64(builder, vt, fma, u))


def _artanh2_64(builder, vt, fma, w):
    """2 artanh(w) = 2 w sum_{j=0}^{16} w^(2j) / (2j + 1) for a float64 vector |w| <= 1/3 (the series of
    LOG1P_S in Horner form with fused multiply-adds; truncation below 5e-18 relative)."""
    w2 = builder.fmul(w, w, flags=IEEE)
    s = _splat(builder, vt, LOG1P_S[-1])
    for c in LOG1P_S[-2::-1]:
        s = builder.call(fma, [w2, s, _splat(builder, vt, c)])
    return builder.fmul(builder.fmul(w, _splat(builder, vt, 2.0), flags=IEEE), s, flags=IEEE)


def _vector_log1p64(builder, vt, fma, s):
    """log(1 + s) for a float64 vector s >= 0 (the cross entropy's log of its sum of exponentials,
    the largest term 1 taken out: docs/theory.md, section 15). s <= 1: 2 artanh(w), w = s / (2 + s)
    <= 1/3 (no 1 + s formed: small sums keep their relative accuracy). s > 1: 1 + s = 2^e f rounded,
    e from the bits, f in [sqrt(1/2), sqrt(2)), e ln 2 (in two parts, the first product exact) plus
    2 artanh((f - 1) / (f + 1)), f - 1 exact (Sterbenz). NaN gives NaN, +inf gives +inf."""
    one, two = _splat(builder, vt, 1.0), _splat(builder, vt, 2.0)
    small = _artanh2_64(builder, vt, fma, builder.fdiv(s, builder.fadd(two, s, flags=IEEE), flags=IEEE))
    S = builder.fadd(one, s, flags=IEEE)
    it = ir.VectorType(ir.IntType(64), vt.count)
    bits = builder.bitcast(S, it)
    e = builder.sub(builder.ashr(bits, ir.Constant(it, [52] * vt.count)), ir.Constant(it, [1023] * vt.count))
    f = builder.bitcast(builder.or_(builder.and_(bits, ir.Constant(it, [(1 << 52) - 1] * vt.count)),
                                    ir.Constant(it, [1023 << 52] * vt.count)), vt)  # in [1, 2)
    high = builder.fcmp_ordered(">", f, _splat(builder, vt, SQRT2), flags=IEEE)
    f = builder.select(high, builder.fmul(f, _splat(builder, vt, 0.5), flags=IEEE), f)  # exact
    e = builder.select(high, builder.add(e, ir.Constant(it, [1] * vt.count)), e)
    ef = builder.sitofp(e, vt)
    w = builder.fdiv(builder.fsub(f, one, flags=IEEE), builder.fadd(f, one, flags=IEEE), flags=IEEE)
    logf = _artanh2_64(builder, vt, fma, w)
    big = builder.call(fma, [ef, _splat(builder, vt, LN2_HI64),
                             builder.call(fma, [ef, _splat(builder, vt, LN2_LO64), logf])])
    out = builder.select(builder.fcmp_ordered("<=", s, one, flags=IEEE), small, big)
    special = builder.or_(builder.fcmp_unordered("uno", s, s, flags=IEEE),
                          builder.fcmp_ordered("==", s, _splat(builder, vt, math.inf), flags=IEEE))
    return builder.select(special, s, out)


def _cross_entropy_rows(builder, vt, fma, nout, nvec, u_at, y_at, valid_at, acc):
    """acc += the cross entropy of each valid sample (float64 vectors of VW64 samples, nvec of them):
    with the logits u_o = u_at(o, i) and targets y_o = y_at(o, i) of the samples i.. (o < nout),
    M = max_o u_o (NaN if any u_o is NaN) at the first index o* where it is reached, g_o = M - u_o >= 0,
    s = sum_{o != o*} e^(-g_o) (in the order of o; the max's own term, 1, is left out of the sum) and
    loss = fma(sum_o y_o, log1p(s), sum_o y_o g_o) -- that is -sum_o y_o log softmax(u)_o, torch's
    cross entropy for probabilities y (a one-hot y: its class index). Every term is >= 0 for y >= 0:
    nothing cancels. valid_at(i) masks the padding samples."""
    i64 = ir.IntType(64)
    lanes = vt.count
    it = ir.VectorType(i64, lanes)
    zero = _splat(builder, vt, 0.0)
    lo = _splat(builder, vt, LOGISTIC_A_LO)
    with cgutils.for_range(builder, nvec) as vloop:
        i = builder.mul(vloop.index, ir.Constant(i64, lanes))
        mx = cgutils.alloca_once_value(builder, u_at(ir.Constant(i64, 0), i))
        arg = cgutils.alloca_once_value(builder, ir.Constant(it, [0] * lanes))
        with cgutils.for_range(builder, nout) as loop:
            u, cur = u_at(loop.index, i), builder.load(mx)
            # the first maximum; a NaN logit makes M NaN (and stays)
            take = builder.or_(builder.fcmp_ordered(">", u, cur, flags=IEEE),
                               builder.fcmp_unordered("uno", u, u, flags=IEEE))
            builder.store(builder.select(take, u, cur), mx)
            builder.store(builder.select(take, _splat(builder, it, loop.index), builder.load(arg)), arg)
        M, am = builder.load(mx), builder.load(arg)
        s, sy, syg = (cgutils.alloca_once_value(builder, zero) for _ in range(3))
        with cgutils.for_range(builder, nout) as loop:
            o = loop.index
            y = y_at(o, i)
            g = builder.fsub(M, u_at(o, i), flags=IEEE)
            a = builder.fneg(g, flags=IEEE)
            a = builder.select(builder.fcmp_ordered("<", a, lo, flags=IEEE), lo, a)  # NaN passes
            ex = _exp64(builder, vt, fma, a)
            at_max = builder.icmp_signed("==", am, _splat(builder, it, o))
            builder.store(builder.fadd(builder.load(s), builder.select(at_max, zero, ex), flags=IEEE), s)
            builder.store(builder.fadd(builder.load(sy), y, flags=IEEE), sy)
            builder.store(builder.call(fma, [y, g, builder.load(syg)]), syg)
        term = builder.call(fma, [builder.load(sy), _vector_log1p64(builder, vt, fma, builder.load(s)),
                                  builder.load(syg)])
        builder.store(builder.fadd(builder.load(acc), builder.select(valid_at(i), term, zero), flags=IEEE), acc)


#: activations by number: the hidden ones (tanh, logistic), then softplus (float64 only; BCE)
ACT_TANH, ACT_LOGISTIC, ACT_SOFTPLUS = 0, 1, 2


def _vector_act(builder, vt, fma, x, act):
    """phi(x) on a vector of floats or doubles: tanh (act 0), the logistic (1), softplus (2, doubles)."""
    if isinstance(vt.element, ir.FloatType):
        return _vector_tanh(builder, vt, fma, x) if act == ACT_TANH else _vector_logistic(builder, vt, fma, x)
    return {ACT_TANH: _vector_tanh64, ACT_LOGISTIC: _vector_logistic64,
            ACT_SOFTPLUS: _vector_softplus64}[act](builder, vt, fma, x)


def _vector_types(builder, element):
    """(vector type, its pointer type, the fma intrinsic) for element ir.FloatType() (VW lanes)
    or ir.DoubleType() (VW64 lanes)."""
    vt = ir.VectorType(element, VW if isinstance(element, ir.FloatType) else VW64)
    return vt, vt.as_pointer(), _vfunc(builder, vt, "fma")


def _float_arrays(*arrays_and_ndims):
    """The common dtype (types.float32 or types.float64) of C-contiguous arrays of the given
    dimensions, or None."""
    dts = {a.dtype for a, _ in arrays_and_ndims if isinstance(a, types.Array)}
    ok = all(isinstance(a, types.Array) and a.ndim == nd and a.layout == "C" for a, nd in arrays_and_ndims)
    if not ok or len(dts) != 1 or next(iter(dts)) not in (types.float32, types.float64):
        return None
    return next(iter(dts))


def _element(dtype):
    return ir.FloatType() if dtype == types.float32 else ir.DoubleType()


@intrinsic
def _lanes(typingctx, arr):
    """Elements per vector of the array's dtype (VW for float32, VW64 for float64): a constant."""
    if not isinstance(arr, types.Array) or arr.dtype not in (types.float32, types.float64):
        return None
    n = VW if arr.dtype == types.float32 else VW64

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, n)

    return types.intp(arr), codegen


#: the tiles' epilogues (the ``mode`` argument): the bare product; phi(s + b) for tanh / logistic;
#: the same plus the layer's input (the residual skip)
MODE_NONE, MODE_TANH, MODE_TANH_RES, MODE_LOGISTIC, MODE_LOGISTIC_RES = 0, 1, 2, 3, 4


def _tile_intrinsic(ob, sb):
    """An intrinsic tile(W, wo, nin, H, sa, sz, m, o0, i0, bo, mode): for r < ob and
    i0 <= i < i0 + sb lanes, with s = sum_{j < nin} W[wo + (o0 + r) nin + j] H[sa + j, i] accumulated in
    registers by fused multiply-adds in the order j = 0, 1, ..., H[sz + o0 + r, i] = s (MODE_NONE),
    phi(s + W[bo + o0 + r]) (MODE_TANH, MODE_LOGISTIC), or that plus H[sa + o0 + r, i] (the
    ``_RES`` modes: the residual skip). The epilogue is chosen at run time by a switch after the
    sum (once per tile). W 1-D and H 2-D C-contiguous with m columns, both float32 (lanes = VW) or
    both float64 (lanes = VW64); the caller keeps the tile inside both arrays."""

    @intrinsic
    def tile(typingctx, W, wo, nin, H, sa, sz, m, o0, i0, bo, mode):
        ints = (wo, nin, sa, sz, m, o0, i0, bo, mode)
        dtype = _float_arrays((W, 1), (H, 2))
        if dtype is None or not all(isinstance(v, types.Integer) for v in ints):
            return None
        sig = types.void(W, wo, nin, H, sa, sz, m, o0, i0, bo, mode)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            wo_, nin_, sa_, sz_, m_, o0_, i0_, bo_, mode_ = (
                context.cast(builder, args[n], signature.args[n], types.int64) for n in (1, 2, 4, 5, 6, 7, 8, 9, 10))
            Wp = context.make_array(signature.args[0])(context, builder, args[0]).data
            Hp = context.make_array(signature.args[3])(context, builder, args[3]).data
            vt, vpt, fma = _vector_types(builder, _element(dtype))
            lanes, align = vt.count, 4 if dtype == types.float32 else 8

            def vec_at(row, s):  # pointer to H[row, i0 + s lanes:...]
                return builder.bitcast(builder.gep(Hp, [builder.add(builder.add(builder.mul(row, m_), i0_),
                                                                    ir.Constant(i64, s * lanes))]), vpt)

            # entry-block allocas, promoted to registers by LLVM (mem2reg)
            acc = [[cgutils.alloca_once_value(builder, ir.Constant(vt, [0.0] * lanes)) for _ in range(sb)]
                   for _ in range(ob)]
            orows = [builder.add(o0_, ir.Constant(i64, r)) for r in range(ob)]
            wrow = [builder.add(wo_, builder.mul(o, nin_)) for o in orows]
            with cgutils.for_range(builder, nin_) as loop:
                j = loop.index
                xs = [builder.load(vec_at(builder.add(sa_, j), s), align=align) for s in range(sb)]
                for r in range(ob):
                    wb = _splat(builder, vt, builder.load(builder.gep(Wp, [builder.add(wrow[r], j)])))
                    for s in range(sb):
                        builder.store(builder.call(fma, [wb, xs[s], builder.load(acc[r][s])]), acc[r][s])

            def epilogue(mode):
                # the sums (plus the bias) go to their place in H, then one loop applies phi to
                # them from the L1 cache: one copy of the activation's code per mode instead of
                # ob sb (the unrolled form compiled several times longer, for no measurable gain)
                for r in range(ob):
                    if mode != MODE_NONE:
                        b = _splat(builder, vt, builder.load(builder.gep(Wp, [builder.add(bo_, orows[r])])))
                    for s in range(sb):
                        v = builder.load(acc[r][s])
                        if mode != MODE_NONE:
                            v = builder.fadd(v, b)
                        builder.store(v, vec_at(builder.add(sz_, orows[r]), s), align=align)
                if mode == MODE_NONE:
                    return
                act = ACT_TANH if mode in (MODE_TANH, MODE_TANH_RES) else ACT_LOGISTIC
                with cgutils.for_range(builder, ir.Constant(i64, ob * sb)) as loop:
                    r = builder.udiv(loop.index, ir.Constant(i64, sb))
                    s_off = builder.mul(builder.urem(loop.index, ir.Constant(i64, sb)), ir.Constant(i64, lanes))
                    row = builder.add(o0_, r)

                    def at(base):
                        return builder.bitcast(builder.gep(Hp, [builder.add(builder.add(
                            builder.mul(builder.add(base, row), m_), i0_), s_off)]), vpt)

                    v = _vector_act(builder, vt, fma, builder.load(at(sz_), align=align), act)
                    if mode in (MODE_TANH_RES, MODE_LOGISTIC_RES):
                        v = builder.fadd(v, builder.load(at(sa_), align=align))
                    builder.store(v, at(sz_), align=align)

            _switch(builder, mode_, (MODE_NONE, MODE_TANH, MODE_TANH_RES, MODE_LOGISTIC, MODE_LOGISTIC_RES), epilogue,
                    "tile_mode")
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_ob = _tile_intrinsic(OB, SB)
_tile_1 = _tile_intrinsic(1, SB)
# one vector of samples: the samples after the last whole tile, one vector at a time
_vtile_ob = _tile_intrinsic(OB, 1)
_vtile_1 = _tile_intrinsic(1, 1)


def _first_intrinsic(k):
    """An intrinsic first(Z1, t, H, n, act): for the flat index q < n (a multiple of the lanes) of
    the (h_1, m) first layer, H.flat[q] = phi(Z1[0].flat[q] + t_0 Z1[1].flat[q] + ... +
    t_{k-1} Z1[k].flat[q]), the sum in fused multiply-adds in that order, phi = tanh (act 0)
    or the logistic (act 1); Z1 (1 + k, h_1, m), t and H C-contiguous, all float32 or all
    float64, H with m columns."""

    @intrinsic
    def first(typingctx, Z1, t, H, n, act):
        dtype = _float_arrays((Z1, 3), (t, 1), (H, 2))
        if dtype is None or not (isinstance(n, types.Integer) and isinstance(act, types.Integer)):
            return None
        sig = types.void(Z1, t, H, n, act)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            z1 = context.make_array(signature.args[0])(context, builder, args[0])
            Zp = z1.data
            shape = cgutils.unpack_tuple(builder, z1.shape, 3)
            plane = builder.mul(shape[1], shape[2])  # h_1 m
            tp = context.make_array(signature.args[1])(context, builder, args[1]).data
            Hp = context.make_array(signature.args[2])(context, builder, args[2]).data
            n_ = context.cast(builder, args[3], signature.args[3], types.int64)
            act_ = context.cast(builder, args[4], signature.args[4], types.int64)
            vt, vpt, fma = _vector_types(builder, _element(dtype))
            lanes, align = vt.count, 4 if dtype == types.float32 else 8
            ts = [_splat(builder, vt, builder.load(builder.gep(tp, [ir.Constant(i64, j)]))) for j in range(k)]
            nvec = builder.udiv(n_, ir.Constant(i64, lanes))

            def layer(act):
                with cgutils.for_range(builder, nvec) as loop:
                    q = builder.mul(loop.index, ir.Constant(i64, lanes))

                    def load(plane_no):
                        off = builder.add(builder.mul(plane, ir.Constant(i64, plane_no)), q)
                        return builder.load(builder.bitcast(builder.gep(Zp, [off]), vpt), align=align)

                    z = load(0)
                    for j in range(k):
                        z = builder.call(fma, [ts[j], load(j + 1), z])
                    builder.store(_vector_act(builder, vt, fma, z, act), builder.bitcast(builder.gep(Hp, [q]), vpt),
                                  align=align)

            with builder.if_else(builder.icmp_signed("==", act_, ir.Constant(i64, 0))) as (is_tanh, is_logistic):
                with is_tanh:
                    layer(ACT_TANH)
                with is_logistic:
                    layer(ACT_LOGISTIC)
            return context.get_dummy_value()

        return sig, codegen

    return first


_first_1 = _first_intrinsic(1)
_first_2 = _first_intrinsic(2)
_first_3 = _first_intrinsic(3)
_first_4 = _first_intrinsic(4)


def _map_vectors(act):
    """An intrinsic (xs, out, n): out[q] = phi(xs[q]) for q < n (a multiple of the lanes), through
    the vector code of the kernel (1-D C-contiguous arrays, both float32 or both float64; softplus,
    act 2, for float64 only)."""

    @intrinsic
    def vectors(typingctx, xs, out, n):
        dtype = _float_arrays((xs, 1), (out, 1))
        if dtype is None or not isinstance(n, types.Integer) or (act == ACT_SOFTPLUS and dtype != types.float64):
            return None
        sig = types.void(xs, out, n)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            xp = context.make_array(signature.args[0])(context, builder, args[0]).data
            op = context.make_array(signature.args[1])(context, builder, args[1]).data
            n_ = context.cast(builder, args[2], signature.args[2], types.int64)
            vt, vpt, fma = _vector_types(builder, _element(dtype))
            lanes, align = vt.count, 4 if dtype == types.float32 else 8
            with cgutils.for_range(builder, builder.udiv(n_, ir.Constant(i64, lanes))) as loop:
                q = builder.mul(loop.index, ir.Constant(i64, lanes))
                v = builder.load(builder.bitcast(builder.gep(xp, [q]), vpt), align=align)
                builder.store(_vector_act(builder, vt, fma, v, act), builder.bitcast(builder.gep(op, [q]), vpt),
                              align=align)
            return context.get_dummy_value()

        return sig, codegen

    return vectors


_tanh_vectors = _map_vectors(ACT_TANH)
_logistic_vectors = _map_vectors(ACT_LOGISTIC)
_softplus_vectors = _map_vectors(ACT_SOFTPLUS)


@njit(cache=True, error_model="numpy")
def act_f32_vector_array(xs, out, act):
    """out[i] = tanh_f32(xs[i]) (act 0) or logistic_f32(xs[i]) (act 1) through the vector code of
    the tiles and of the first layer (the last len % VW values through the scalar function
    itself); tests and checks compare it bit for bit with tanh_f32_array / logistic_f32_array."""
    n = xs.shape[0]
    nv = (n // VW) * VW
    if act == 0:
        _tanh_vectors(xs, out, nv)
    else:
        _logistic_vectors(xs, out, nv)
    for i in range(nv, n):
        out[i] = tanh_f32(xs[i]) if act == 0 else logistic_f32(xs[i])


@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def act_f64_vector_array(xs, out, act):
    """out[i] = phi(xs[i]) for float64 arrays through the kernel's float64 vector code: tanh (act 0),
    the logistic (1), softplus (2; the BCE terms); the last len % VW64 values through a padded
    vector. Compiled with the kernel's fast-math flags (numba adds them to every floating-point
    operation of the function, the inlined vector code included), so what the tests and
    benchmarks/check_float64_activations.py measure is the code the kernel runs; the tests hold
    :func:`act_vector_array` (no flags) to it bit for bit."""
    n = xs.shape[0]
    nvec = n // VW64
    blocks = (nvec + 1023) // 1024
    for b in prange(blocks):
        lo = b * 1024 * VW64
        cnt = min(nvec * VW64, lo + 1024 * VW64) - lo
        if act == 0:
            _tanh_vectors(xs[lo:lo + cnt], out[lo:lo + cnt], cnt)
        elif act == 1:
            _logistic_vectors(xs[lo:lo + cnt], out[lo:lo + cnt], cnt)
        else:
            _softplus_vectors(xs[lo:lo + cnt], out[lo:lo + cnt], cnt)
    rest = n - nvec * VW64
    if rest:
        pad = np.zeros(VW64)
        res = np.empty(VW64)
        pad[:rest] = xs[nvec * VW64:]
        if act == 0:
            _tanh_vectors(pad, res, VW64)
        elif act == 1:
            _logistic_vectors(pad, res, VW64)
        else:
            _softplus_vectors(pad, res, VW64)
        out[nvec * VW64:] = res[:rest]


@njit(cache=True, nogil=True, error_model="numpy")
def act_vector_array(xs, out, act):
    """out[i] = tanh(xs[i]) (act 0) or the logistic (act 1) through the kernel's vector code, for
    1-D C-contiguous float32 or float64 arrays (the model engine's activations:
    :mod:`~bettibounds.engines.fast_activations`); serial and without the GIL (callers split large
    arrays over threads), the last len % lanes values through a zero-padded vector."""
    n = xs.shape[0]
    w: int = _lanes(xs)  # type: ignore[call-arg]  # (numba's stubs, as above)
    nv = (n // w) * w
    if act == 0:
        _tanh_vectors(xs, out, nv)
    else:
        _logistic_vectors(xs, out, nv)
    if nv < n:
        pad = np.zeros(w, xs.dtype)
        res = np.empty(w, xs.dtype)
        pad[:n - nv] = xs[nv:]
        if act == 0:
            _tanh_vectors(pad, res, w)
        else:
            _logistic_vectors(pad, res, w)
        out[nv:] = res[:n - nv]


# ------------------------------------------------------------------ the model engine's fused first layer
#: table columns per tile of first_act_rows: (1 + k) tiles of the tables (3 x 8 KiB in float64 for k = 2)
#: and the tile of sums stay in the L1 cache while every point of the chunk passes over them
FIRST_TILE = 1024


@njit(cache=True, nogil=True, error_model="numpy")
def _first_sums(t1, p, table, a, n, z):
    """z[q] = t1[p, 0] table[0, a + q] + ... + t1[p, K - 1] table[K - 1, a + q] for q < n, each product
    rounded and added from the left (compiled without fast-math flags: no fused multiply-add). K = 2 and 3
    (lines and 2-D slices) in one pass over z (1.25x the kernel's rate on the benchmark's CNN; the same
    operations in the same order)."""
    K = t1.shape[1]
    c0 = t1[p, 0]
    T0 = table[0, a:a + n]
    if K == 3:
        c1, c2 = t1[p, 1], t1[p, 2]
        T1, T2 = table[1, a:a + n], table[2, a:a + n]
        for q in range(n):
            z[q] = (c0 * T0[q] + c1 * T1[q]) + c2 * T2[q]
        return
    if K == 2:
        c1 = t1[p, 1]
        T1 = table[1, a:a + n]
        for q in range(n):
            z[q] = c0 * T0[q] + c1 * T1[q]
        return
    for q in range(n):
        z[q] = c0 * T0[q]
    for j in range(1, K):
        c = t1[p, j]
        T = table[j, a:a + n]
        for q in range(n):
            z[q] = z[q] + c * T[q]


@njit(cache=True, nogil=True, error_model="numpy")
def first_act_rows(t1, table, lo, hi, act, out, off):
    """The model engine's fused first layer without pooling (:mod:`~bettibounds.engines.model_fused_first`):
    ``out[p, q - off] = phi(z)`` for ``lo <= q < hi`` and every row p of ``t1`` (B, K), where ``z =
    t1[p, 0] table[0, q] + t1[p, 1] table[1, q] + ... + t1[p, K - 1] table[K - 1, q]`` (each product rounded
    and added from the left), phi = tanh (act 0) or the logistic (act 1) by the vector code of
    :func:`act_vector_array` (so bit for bit the model engine's fast activation of that z). In tiles of
    :data:`FIRST_TILE` columns, each read once for all the rows; serial and without the GIL (the caller
    splits [lo, hi) over threads). t1, table (K, N) and out (B, *) C-contiguous, all float32 or all
    float64."""
    w: int = _lanes(table)  # type: ignore[call-arg]  # (numba's stubs, as above)
    z = np.zeros(FIRST_TILE, table.dtype)
    for a in range(lo, hi, FIRST_TILE):
        n = min(FIRST_TILE, hi - a)
        nv = ((n + w - 1) // w) * w
        for p in range(t1.shape[0]):
            _first_sums(t1, p, table, a, n, z)
            for q in range(n, nv):
                z[q] = 0.0
            if act == 0:
                _tanh_vectors(z, z, nv)
            else:
                _logistic_vectors(z, z, nv)
            o = out[p, a - off:a - off + n]
            for q in range(n):
                o[q] = z[q]


@njit(cache=True, nogil=True, error_model="numpy")
def first_act_pool(t1, table, s0, s1, nw, n, act, div, scale, out, off):
    """The model engine's fused first layer with average pooling, on tables laid out window by window:
    sample s's columns ``s nw n + w n + i`` hold the first layer's output at the w-th offset (row-major)
    of the pooling window of output i (i over (C, Ho, Wo), row-major). For ``s0 <= s < s1`` and every row p
    of ``t1`` (B, K): a = phi(z) over the sample's nw n columns (z and phi as in :func:`first_act_rows`),
    formed in an L1-sized buffer and never written to memory, then ``out[p, s - off, i] = (((0 + a[0 n +
    i]) + a[1 n + i]) + ...) / div``: the window's nw values summed in row-major order from 0 in the
    data's precision, divided by ``div`` (the window's size as a number of that precision) -- torch's CPU
    ``avg_pool2d`` without padding, step for step (ATen's cpu_avg_pool and its channels-last form sum
    from 0 in (ih, iw) order and divide by the window's size). ``scale``: 1 / div when div is a power of
    two (then x * scale and x / div are the same number: both are x / div exactly, or its correctly
    rounded value where that is subnormal), which replaces the division; 0 otherwise."""
    w: int = _lanes(table)  # type: ignore[call-arg]  # (numba's stubs, as above)
    per = nw * n
    nv = ((per + w - 1) // w) * w
    K = t1.shape[1]
    z = np.zeros(nv, table.dtype)
    acc = np.zeros(n, table.dtype)
    # the tables' rows sliced once per sample (not once per sample and point) and the pooled values read and
    # written by index: numba's array views carry reference counts; 1.71 -> 1.46 ns per activation at 216
    # activations per sample (benchmarks/bench_models.py's cnn_small), the same at 2 048
    T0, T1, T2 = table[0], table[min(1, K - 1)], table[min(2, K - 1)]
    zero = div - div  # +0 in the data's precision, where torch's sum starts
    for s in range(s0, s1):
        base = s * per
        r = s - off
        A0, A1, A2 = T0[base:base + per], T1[base:base + per], T2[base:base + per]
        for p in range(t1.shape[0]):
            c0 = t1[p, 0]
            if K == 3:  # the same products and sums, in the same order, as _first_sums
                c1, c2 = t1[p, 1], t1[p, 2]
                for q in range(per):
                    z[q] = (c0 * A0[q] + c1 * A1[q]) + c2 * A2[q]
            elif K == 2:
                c1 = t1[p, 1]
                for q in range(per):
                    z[q] = c0 * A0[q] + c1 * A1[q]
            else:
                _first_sums(t1, p, table, base, per, z)
            if act == 0:
                _tanh_vectors(z, z, nv)
            else:
                _logistic_vectors(z, z, nv)
            if nw == 4:  # a 2 x 2 window in one pass (the same sums in the same order)
                for i in range(n):
                    acc[i] = (((zero + z[i]) + z[n + i]) + z[2 * n + i]) + z[3 * n + i]
            else:
                for i in range(n):
                    acc[i] = zero
                for k in range(nw):
                    kb = k * n
                    for i in range(n):
                        acc[i] += z[kb + i]
            if scale != 0.0:  # a window of 2^j values: the product by 2^-j is the same number as the quotient
                for i in range(n):
                    out[p, r, i] = acc[i] * scale
            else:
                for i in range(n):
                    out[p, r, i] = acc[i] / div


#: the loss of one output row (the ``lossmode`` argument): MSE with the identity, logistic or tanh
#: output, and BCE from the logit
LOSS_MSE, LOSS_MSE_LOGISTIC, LOSS_MSE_TANH, LOSS_BCE = 0, 1, 2, 3
#: the softmax cross entropy of the outputs (logits), one sample's outputs together (_cross_entropy_rows)
LOSS_CE = 4


@intrinsic
def _loss_rows(typingctx, H, sz, nout, c, Y, m, lossmode):
    """sum over o < nout and i < m of the per-sample loss of output o, in float64: with the
    products p = H[sz + o, i] (float32 or float64) and the output bias c[o] (float64),
    u = p + c[o] and y = Y[o, i],

    * LOSS_MSE: (p + (c[o] - y))^2 (c - y first: a large target next to an equal bias cancels
      exactly, and the products keep their digits);
    * LOSS_MSE_LOGISTIC, LOSS_MSE_TANH: (sigma(u) - y)^2, (tanh(u) - y)^2 with the float64 vector
      activations;
    * LOSS_BCE: y softplus(-u) + (1 - y) softplus(u), a term left out (0) where its coefficient y or
      1 - y is 0 (as the torch kernel does: no 0 * inf);
    * LOSS_CE: per sample i, the cross entropy -sum_o y_oi log softmax(u_i)_o of its nout logits
      (:func:`_cross_entropy_rows`; the samples outer, the outputs inner).

    Lanes at i >= m (the padding) give 0. Each output's samples go into one vector accumulator in
    the order of i; its lanes are added in lane order at the end. Y is (nout, H.shape[1]) float64."""
    dtype = _float_arrays((H, 2),)
    if (dtype is None or _float_arrays((c, 1), (Y, 2)) != types.float64
            or not all(isinstance(v, types.Integer) for v in (sz, nout, m, lossmode))):
        return None
    sig = types.float64(H, sz, nout, c, Y, m, lossmode)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        harr = context.make_array(signature.args[0])(context, builder, args[0])
        Hp = harr.data
        mp = cgutils.unpack_tuple(builder, harr.shape, 2)[1]
        sz_, nout_, m_, mode_ = (context.cast(builder, args[n], signature.args[n], types.int64) for n in (1, 2, 5, 6))
        Cp = context.make_array(signature.args[3])(context, builder, args[3]).data
        Yp = context.make_array(signature.args[4])(context, builder, args[4]).data
        vt, vpt, fma = _vector_types(builder, ir.DoubleType())
        lanes = vt.count
        ht = ir.VectorType(_element(dtype), lanes).as_pointer()
        halign = 4 if dtype == types.float32 else 8
        it = ir.VectorType(i64, lanes)
        zero, one = _splat(builder, vt, 0.0), _splat(builder, vt, 1.0)
        acc = cgutils.alloca_once_value(builder, zero)
        lane_ids = ir.Constant(it, list(range(lanes)))

        def nest(mode):
            if mode == LOSS_CE:
                def u_at(o, i):
                    hv = builder.load(builder.bitcast(builder.gep(Hp, [builder.add(builder.mul(builder.add(sz_, o), mp),
                                                                                   i)]), ht), align=halign)
                    p = hv if dtype == types.float64 else builder.fpext(hv, vt)
                    return builder.fadd(p, _splat(builder, vt, builder.load(builder.gep(Cp, [o]))), flags=IEEE)

                def y_at(o, i):
                    return builder.load(builder.bitcast(builder.gep(Yp, [builder.add(builder.mul(o, mp), i)]), vpt),
                                        align=8)

                def valid_at(i):
                    ids = builder.add(_splat(builder, it, i), lane_ids)
                    return builder.icmp_signed("<", ids, _splat(builder, it, m_))

                _cross_entropy_rows(builder, vt, fma, nout_, builder.udiv(mp, ir.Constant(i64, lanes)), u_at, y_at,
                                    valid_at, acc)
                return
            with cgutils.for_range(builder, nout_) as outer:
                o = outer.index
                c_o = _splat(builder, vt, builder.load(builder.gep(Cp, [o])))
                with cgutils.for_range(builder, builder.udiv(mp, ir.Constant(i64, lanes))) as inner:
                    i = builder.mul(inner.index, ir.Constant(i64, lanes))
                    hv = builder.load(builder.bitcast(builder.gep(Hp, [builder.add(builder.mul(builder.add(sz_, o), mp),
                                                                                   i)]), ht), align=halign)
                    p = hv if dtype == types.float64 else builder.fpext(hv, vt)
                    y_at = builder.gep(Yp, [builder.add(builder.mul(o, mp), i)])
                    y = builder.load(builder.bitcast(y_at, vpt), align=8)
                    if mode == LOSS_MSE:
                        d = builder.fadd(p, builder.fsub(c_o, y))
                        term = builder.fmul(d, d)
                    elif mode in (LOSS_MSE_LOGISTIC, LOSS_MSE_TANH):
                        act = ACT_LOGISTIC if mode == LOSS_MSE_LOGISTIC else ACT_TANH
                        d = builder.fsub(_vector_act(builder, vt, fma, builder.fadd(p, c_o), act), y)
                        term = builder.fmul(d, d)
                    else:  # BCE: y softplus(-u) + (1 - y) softplus(u), softplus(+-u) = max(+-u, 0) + L
                        u = builder.fadd(p, c_o)
                        L = _log1p_exp_neg_abs64(builder, vt, fma, u)
                        pos = builder.fmul(y, builder.fadd(_max0(builder, vt, builder.fneg(u)), L))
                        neg = builder.fmul(builder.fsub(one, y), builder.fadd(_max0(builder, vt, u), L))
                        term = builder.fadd(builder.select(builder.fcmp_ordered(">", y, zero), pos, zero),
                                            builder.select(builder.fcmp_ordered("<", y, one), neg, zero))
                    ids = builder.add(_splat(builder, it, i), lane_ids)
                    valid = builder.icmp_signed("<", ids, _splat(builder, it, m_))
                    builder.store(builder.fadd(builder.load(acc), builder.select(valid, term, zero)), acc)

        _switch(builder, mode_, (LOSS_MSE, LOSS_MSE_LOGISTIC, LOSS_MSE_TANH, LOSS_BCE, LOSS_CE), nest, "loss_mode")
        v = builder.load(acc)
        total = builder.extract_element(v, ir.Constant(ir.IntType(32), 0))
        for lane in range(1, lanes):
            total = builder.fadd(total, builder.extract_element(v, ir.Constant(ir.IntType(32), lane)))
        return total

    return sig, codegen


@njit(fastmath=FM, cache=True, error_model="numpy")
def loss_rows_array(H, c, Y, m, lossmode):
    """The sum over the m samples of the per-sample loss (LOSS_*) of the output rows H (nout, mp), H
    float32 or float64 with mp a multiple of VW, the output bias c (nout,) and targets Y (nout, mp)
    float64: the kernel's loss code on given outputs, compiled with the kernel's fast-math flags (numba
    gives them to every operation without flags of its own, as in the kernel; tests: extreme and NaN
    logits, oracles)."""
    return _loss_rows(H, 0, H.shape[0], c, Y, m, lossmode)  # type: ignore[call-arg]  # (numba's stubs, as above)


@njit(fastmath=FM, cache=True, nogil=True, error_model="numpy")
def cross_entropy_points(H, c, Y, m, b0, b1, out):
    """out[b] = the sum over the m samples of the cross entropy of the logits H[b] (nout, mp), for
    b0 <= b < b1: :func:`loss_rows_array` with LOSS_CE for each of a batch of points (the model
    engine's cross entropy, :mod:`~bettibounds.engines.model_losses`); serial and without the GIL
    (callers split the points over threads). H (B, nout, mp) float32 or float64, mp a multiple of VW,
    the padding lanes i >= m ignored; c (nout,) and Y (nout, mp) float64 (one-hot class indices or
    probabilities, the classes along the rows)."""
    for b in range(b0, b1):
        out[b] = _loss_rows(H[b], 0, H.shape[1], c, Y, m, LOSS_CE)  # type: ignore[call-arg]  # (numba's stubs)


# --------------------------------------------------------------- kernel pieces
@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _tiled(W, wo, bo, nin, nout, H, sa, sz, m, mode):
    """The tiles of one layer (see _tile_intrinsic for ``mode``) over the m samples (a multiple of
    VW: the rows are padded), one block of samples at a time so that the block of the inputs stays
    in the L1 cache across the outputs: blocks of SB vectors, then of one vector, each in tiles of
    OB outputs and then single outputs."""
    vw: int = _lanes(H)  # type: ignore[call-arg]  # numba's stubs: @intrinsic's typing context is numba's
    sw = vw * SB
    mf = (m // sw) * sw
    of = (nout // OB) * OB
    for i in range(0, mf, sw):
        for o in range(0, of, OB):
            _tile_ob(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
        for o in range(of, nout):
            _tile_1(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
    for i in range(mf, m, vw):
        for o in range(0, of, OB):
            _vtile_ob(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
        for o in range(of, nout):
            _vtile_1(W, wo, nin, H, sa, sz, m, o, i, bo, mode)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _dense(W, wo, nin, nout, H, sa, sz, m):
    """H[sz + o, i] = sum_j W[wo + o nin + j] H[sa + j, i] for o < nout, i < m (a multiple of VW;
    input rows from sa, output rows from sz of the same buffer). No bias: the caller adds it after
    the products, so that a large bias (a saturated unit, or an output bias close to the target) is
    rounded once rather than at every accumulation step."""
    _tiled(W, wo, 0, nin, nout, H, sa, sz, m, MODE_NONE)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _hidden(W, wo, bo, nin, nout, H, sa, sz, m, act, residual):
    """One hidden layer: H[sz + o, i] = phi(sum_j W[wo + o nin + j] H[sa + j, i] + W[bo + o])
    (+ H[sa + o, i] with the residual skip), phi = tanh (act 0) or the logistic (act 1), i < m (a
    multiple of VW). The tiles add the bias and apply phi to their accumulators in registers."""
    _tiled(W, wo, bo, nin, nout, H, sa, sz, m, MODE_TANH + 2 * act + residual)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _first(Z1, t, k, h1, m, a, act):
    """a[:h1] = phi(Z1[0] + sum_j t_j Z1[1 + j]) through the vector intrinsics (k = 1..4; m a
    multiple of VW)."""
    n = h1 * m
    if k == 1:
        _first_1(Z1, t, a, n, act)
    elif k == 2:
        _first_2(Z1, t, a, n, act)
    elif k == 3:
        _first_3(Z1, t, a, n, act)
    else:
        _first_4(Z1, t, a, n, act)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _params(Wt, t, k, Q, W):
    """W = Wt[0] + sum_j t_j Wt[1 + j] (the later layers' parameters at the point)."""
    if k == 1:
        t0 = t[0]
        for q in range(Q):
            W[q] = Wt[0, q] + t0 * Wt[1, q]
    elif k == 2:
        t0 = t[0]
        t1 = t[1]
        for q in range(Q):
            W[q] = Wt[0, q] + t0 * Wt[1, q] + t1 * Wt[2, q]
    elif k == 3:
        t0 = t[0]
        t1 = t[1]
        t2 = t[2]
        for q in range(Q):
            W[q] = Wt[0, q] + t0 * Wt[1, q] + t1 * Wt[2, q] + t2 * Wt[3, q]
    else:
        t0 = t[0]
        t1 = t[1]
        t2 = t[2]
        t3 = t[3]
        for q in range(Q):
            W[q] = Wt[0, q] + t0 * Wt[1, q] + t1 * Wt[2, q] + t2 * Wt[3, q] + t3 * Wt[4, q]


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _rest(W, lay, l0, H, sa, base, maxw, Y, cvec, act, residual, lossmode, m):
    """The hidden layers l0.., the output layer and the sum of the per-sample losses (float64),
    from the activations in rows sa.. of H; the layers alternate between rows base.. and
    base + maxw.."""
    nl = lay.shape[0]
    mp = H.shape[1]
    for l in range(l0, nl - 1):
        sz = 2 * base + maxw - sa
        _hidden(W, lay[l, 0], lay[l, 1], lay[l, 2], lay[l, 3], H, sa, sz, mp, act, residual)
        sa = sz
    sz = 2 * base + maxw - sa
    nout = lay[nl - 1, 3]
    _dense(W, lay[nl - 1, 0], lay[nl - 1, 2], nout, H, sa, sz, mp)
    return _loss_rows(H, sz, nout, cvec, Y, m, lossmode)  # type: ignore[call-arg]  # (numba's stubs, as above)


# --------------------------------------------------------------- the kernel
@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def fused_kernel(T, full, Z1, Wt, X, W0, lay, Y, cb, V, cofs, l2, act, residual, lossmode, m, out, chunk):
    """out[p] = the loss at the point p: one kernel (one compilation per precision) for both modes.

    Slices (``full`` = 0): theta = center + T[p] @ directions, T (N, k) float64 coordinates;
    Z1 (1 + k, h1, mp) first-layer pre-activation tables (mp: m padded to a multiple of VW, zeros
    there); Wt (1 + k, Q) the later layers' parameters (per layer: W (out x in) row-major, then b
    (zeros when the layer has none, and for the output layer, whose bias is in cb)); lay (L, 4)
    int64: offset of W, offset of b, fan-in, fan-out of each later layer (the last is the output
    layer); cb (1 + k, outputs) float64 output-bias tables of the centre and the directions (zeros
    without an output bias); V (1 + k, P) float64 [center; directions], for l2 ||theta||^2 in
    float64 (summed directly: a sum of squares is never negative, unlike a Gram-matrix quadratic
    form, which cancels near theta = 0). X and W0 are not used (empty).

    Full parameter vectors (``full`` = 1): theta = T[p], T (N, P) float64; X (d, mp) the inputs x^T
    padded with zero columns, in the engine's precision; W0 (P + widest) zeros in the engine's
    precision (each thread's parameter buffer; a layer without a bias points at the zeros from P
    on); lay (L + 1, 4) as above with the first layer; cofs the offset of the output bias in theta
    (-1: none; it stays float64); the l2 term is the float64 sum of the squares of T[p]. Z1, Wt,
    cb and V are not used.

    Both: Z1, Wt, X, W0 float32 or float64 (the engine's precision); Y (outputs, mp) float64
    targets; act 0 tanh / 1 logistic; residual 0/1; lossmode (LOSS_*); m the number of samples;
    out (N,) float64; chunk points per parallel task.
    """
    N, k = T.shape
    mp = Y.shape[1]
    nl = lay.shape[0]
    nout = Y.shape[0]
    dt = W0.dtype
    d = X.shape[0] if full else 0  # rows [0, d) of H hold x^T in full mode
    l0 = 1 if full else 0
    Q = Wt.shape[1]
    maxw = 0 if full else Z1.shape[1]
    for l in range(nl):
        maxw = max(maxw, lay[l, 3])
    nch = (N + chunk - 1) // chunk
    for c in prange(nch):
        W = W0.copy() if full else np.empty(Q, dt)
        t = np.empty(k, dt)
        tv = np.empty(k + 1, np.float64)
        cvec = np.zeros(nout, np.float64)
        # one buffer: x^T (full mode), then two halves (the layer's input rows and its output rows),
        # addressed by row offsets: swapping two array variables (cur, nxt = nxt, cur) inside the
        # prange body stopped the vectorisation of the products (micro-benchmark, 32 -> 16 layer:
        # 21.8 us with the swap vs 2.9 us without)
        H = np.empty((d + 2 * maxw, mp), dt)
        for i in range(d):
            for j in range(mp):
                H[i, j] = X[i, j]
        hi = min(N, (c + 1) * chunk)
        for p in range(c * chunk, hi):
            if full:
                for q in range(k):
                    W[q] = T[p, q]
                if cofs >= 0:
                    for o in range(nout):
                        cvec[o] = T[p, cofs + o]
                _hidden(W, lay[0, 0], lay[0, 1], lay[0, 2], lay[0, 3], H, 0, d, mp, act, 0)
            else:
                tv[0] = 1.0
                for j in range(k):
                    t[j] = T[p, j]
                    tv[j + 1] = T[p, j]
                _params(Wt, t, k, Q, W)
                for o in range(nout):
                    v = cb[0, o]
                    for j in range(k):
                        v += tv[j + 1] * cb[j + 1, o]
                    cvec[o] = v
                _first(Z1, t, k, Z1.shape[1], mp, H, act)
            acc = _rest(W, lay, l0, H, d, d, maxw, Y, cvec, act, residual, lossmode, m)
            loss = acc / m
            if l2 > 0.0:
                q2 = 0.0
                if full:
                    for pp in range(k):
                        q2 += T[p, pp] * T[p, pp]
                else:
                    for pp in range(V.shape[1]):
                        v = V[0, pp]
                        for j in range(k):
                            v += tv[j + 1] * V[j + 1, pp]
                        q2 += v * v
                loss += l2 * q2
            out[p] = loss
