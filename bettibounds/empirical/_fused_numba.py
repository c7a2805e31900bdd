"""The compiled part of the fused float32 slice engine (numba); see :mod:`.fused`.

Everything here is compiled by numba (``cache=True``: once per machine, about 30 s, then
loaded from numba's cache in about 0.5 s). One compiled kernel serves every architecture of
the supported family: the network is described at run time by an int64 table of its later
layers. Importing this module imports numba; :mod:`.fused` imports it lazily, so the package
and the torch engine never need numba.

Origin: the prototype ``benchmarks/experiments/fused_numba/general.py`` (in git at commit
ed06532; docs/benchmarks.md). The float32 tanh was fitted by ``fit_tanh.py`` in that folder; the
shipped tanh and logistic are checked on every float32 input by ``check_tanh.py`` and
``check_logistic.py`` there.
"""

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
    if not isinstance(bits, types.Integer) or bits.bitwidth != 32:
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
    (benchmarks/experiments/fused_numba/check_logistic.py), subnormal results included (counted in
    subnormal steps); 0 below -104. Never above 1. NaN gives NaN (the scale is built from 0 instead
    of NaN, so the int conversion stays defined)."""
    a = -abs(z)
    a = LO if a < LO else a  # NaN passes (comparison false)
    kf = np.floor(a * LOG2E + HALF)
    ks = kf if kf == kf else ZERO
    r = (a - kf * LN2_HI) - kf * LN2_LO
    p = ONE + r * (ONE + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
    e = p * _f32_from_bits(np.int32((np.int32(ks) + np.int32(127 + 64)) << np.int32(23))) * TWO_M64  # p 2^n
    num = e if z < ZERO else ONE
    return num / (ONE + e)


@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def logistic_f32_array(xs, out):
    """out[i] = logistic_f32(xs[i]) (float32 arrays; tests and checks)."""
    for i in prange(xs.shape[0]):
        out[i] = logistic_f32(xs[i])


# --------------------------------------------------------------- kernel pieces
@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _act_inplace(H, W, bo, sz, nrows, i0, m, act):
    """H[sz + j, i] = phi(H[sz + j, i] + b_j), b_j = W[bo + j], j < nrows, i0 <= i < m; phi = tanh (act 0) or the
    logistic (act 1), the branch outside the loops (a generic al * tanh(be * x) + ga cost
    10-17 % of the whole kernel, A/B). The bias is added here, after the products (see _dense)."""
    if act == 0:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(i0, m):
                H[sz + j, i] = tanh_f32(H[sz + j, i] + b)
    else:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(i0, m):
                H[sz + j, i] = logistic_f32(H[sz + j, i] + b)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _act_residual(H, W, bo, sa, sz, nrows, i0, m, act):
    """H[sz + j, i] = phi(H[sz + j, i] + b_j) + H[sa + j, i], j < nrows, i0 <= i < m (skip="residual")."""
    if act == 0:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(i0, m):
                H[sz + j, i] = tanh_f32(H[sz + j, i] + b) + H[sa + j, i]
    else:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(i0, m):
                H[sz + j, i] = logistic_f32(H[sz + j, i] + b) + H[sa + j, i]


# The hidden and output layers' products go through a register-tiled micro-kernel written as
# LLVM vector code (an intrinsic): numba's loops leave the accumulators in memory and LLVM
# vectorises them to 256 bits only on this CPU family (its "prefer 256-bit" tuning), which held
# the products at 25-35 GFLOP/s per thread. The tile keeps OB x SB vector accumulators in
# registers for the whole sum over the inputs (32 -> 16 layer, m = 256: 2.1-3x faster in
# isolation; docs/benchmarks.md); in hidden layers it adds the bias and applies the activation to
# them before its one store. The first layer and the activations themselves are vector code too
# (_vector_tanh, _vector_logistic: tanh_f32 and logistic_f32 operation for operation,
# bit-identical to them on all 2^32 inputs). Vector width: 16 floats (512 bits) where the target
# has AVX-512 (16 accumulators of the 32 registers), else 8 (8 accumulators; fits AVX2's 16
# registers and NEON's 32 as register pairs). The sums run over the inputs in order, one FMA per
# term, so a point's value never depends on which other points share its chunk.
# numba compiles for the host unless NUMBA_CPU_NAME / NUMBA_CPU_FEATURES name another target
# (e.g. "generic" for a cache shared by several machines): then AVX-512 only when named. The
# tests run the 8-wide code with NUMBA_CPU_NAME=haswell.


def _vector_width() -> int:
    if (_numba_config.CPU_NAME or "host") == "host" and not _numba_config.CPU_FEATURES:
        avx512 = bool(_llvm.get_host_cpu_features().get("avx512f", False))
    else:
        avx512 = "+avx512f" in (_numba_config.CPU_FEATURES or "")
    return 16 if avx512 else 8


VW = _vector_width()  # floats per vector
OB = 4  # outputs per tile
SB = 4 if VW == 16 else 2  # vectors of samples per tile
SW = VW * SB  # samples per tile


def _splat(builder, vt, value):
    """A vector of VW copies of the scalar ``value`` (an LLVM value or a Python float)."""
    if not isinstance(value, ir.Value):
        return ir.Constant(vt, [float(value)] * VW)
    undef = ir.Constant(vt, ir.Undefined)
    lane0 = ir.Constant(ir.IntType(32), 0)
    return builder.shuffle_vector(builder.insert_element(undef, value, lane0), undef,
                                  ir.Constant(ir.VectorType(ir.IntType(32), VW), [0] * VW))


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
    mod = builder.module
    fabs = cgutils.get_or_insert_function(mod, ir.FunctionType(vt, [vt]), f"llvm.fabs.v{VW}f32")
    floor = cgutils.get_or_insert_function(mod, ir.FunctionType(vt, [vt]), f"llvm.floor.v{VW}f32")
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
    it = ir.VectorType(ir.IntType(32), VW)
    n = builder.add(builder.fptosi(ks, it), ir.Constant(it, [127 + 64] * VW))
    e = builder.fmul(p, builder.bitcast(builder.shl(n, ir.Constant(it, [23] * VW)), vt))  # p 2^(n + 64), exact
    e = builder.fmul(e, _splat(builder, vt, TWO_M64))  # p 2^n, one rounding (subnormal results)
    one = _splat(builder, vt, ONE)
    num = builder.select(builder.fcmp_ordered("<", z, _splat(builder, vt, ZERO)), e, one)
    return builder.fdiv(num, builder.fadd(one, e))


def _vector_act(builder, vt, fma, x, act):
    """phi(x) on a vector: tanh (act 0) or the logistic (act 1), act a Python int."""
    return _vector_tanh(builder, vt, fma, x) if act == 0 else _vector_logistic(builder, vt, fma, x)


def _vector_types(builder):
    vt = ir.VectorType(ir.FloatType(), VW)
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), f"llvm.fma.v{VW}f32")
    return vt, vt.as_pointer(), fma


def _f32_arrays(*arrays_and_ndims):
    return all(isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == nd and a.layout == "C"
               for a, nd in arrays_and_ndims)


#: the tiles' epilogues (the ``mode`` argument): the bare product; phi(s + b) for tanh / logistic;
#: the same plus the layer's input (the residual skip)
MODE_NONE, MODE_TANH, MODE_TANH_RES, MODE_LOGISTIC, MODE_LOGISTIC_RES = 0, 1, 2, 3, 4


def _tile_intrinsic(ob, sb):
    """An intrinsic tile(W, wo, nin, H, sa, sz, m, o0, i0, bo, mode): for r < ob and
    i0 <= i < i0 + sb VW, with s = sum_{j < nin} W[wo + (o0 + r) nin + j] H[sa + j, i] accumulated in
    registers by fused multiply-adds in the order j = 0, 1, ..., H[sz + o0 + r, i] = s (MODE_NONE),
    phi(s + W[bo + o0 + r]) (MODE_TANH, MODE_LOGISTIC), or that plus H[sa + o0 + r, i] (the
    ``_RES`` modes: the residual skip). The epilogue is chosen at run time by a switch after the
    sum (once per tile). W float32 1-D, H float32 2-D C-contiguous with m columns; the caller keeps
    the tile inside both arrays."""

    @intrinsic
    def tile(typingctx, W, wo, nin, H, sa, sz, m, o0, i0, bo, mode):
        ints = (wo, nin, sa, sz, m, o0, i0, bo, mode)
        if not (_f32_arrays((W, 1), (H, 2)) and all(isinstance(v, types.Integer) for v in ints)):
            return None
        sig = types.void(W, wo, nin, H, sa, sz, m, o0, i0, bo, mode)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            wo_, nin_, sa_, sz_, m_, o0_, i0_, bo_, mode_ = (
                context.cast(builder, args[n], signature.args[n], types.int64) for n in (1, 2, 4, 5, 6, 7, 8, 9, 10))
            Wp = context.make_array(signature.args[0])(context, builder, args[0]).data
            Hp = context.make_array(signature.args[3])(context, builder, args[3]).data
            vt, vpt, fma = _vector_types(builder)

            def vec_at(row, s):  # pointer to H[row, i0 + s VW:...]
                return builder.bitcast(builder.gep(Hp, [builder.add(builder.add(builder.mul(row, m_), i0_),
                                                                    ir.Constant(i64, s * VW))]), vpt)

            # entry-block allocas, promoted to registers by LLVM (mem2reg)
            acc = [[cgutils.alloca_once_value(builder, ir.Constant(vt, [0.0] * VW)) for _ in range(sb)]
                   for _ in range(ob)]
            orows = [builder.add(o0_, ir.Constant(i64, r)) for r in range(ob)]
            wrow = [builder.add(wo_, builder.mul(o, nin_)) for o in orows]
            with cgutils.for_range(builder, nin_) as loop:
                j = loop.index
                xs = [builder.load(vec_at(builder.add(sa_, j), s), align=4) for s in range(sb)]
                for r in range(ob):
                    wb = _splat(builder, vt, builder.load(builder.gep(Wp, [builder.add(wrow[r], j)])))
                    for s in range(sb):
                        builder.store(builder.call(fma, [wb, xs[s], builder.load(acc[r][s])]), acc[r][s])

            def epilogue(mode):
                for r in range(ob):
                    if mode != MODE_NONE:
                        b = _splat(builder, vt, builder.load(builder.gep(Wp, [builder.add(bo_, orows[r])])))
                    for s in range(sb):
                        v = builder.load(acc[r][s])
                        if mode != MODE_NONE:
                            act = 0 if mode in (MODE_TANH, MODE_TANH_RES) else 1
                            v = _vector_act(builder, vt, fma, builder.fadd(v, b), act)
                        if mode in (MODE_TANH_RES, MODE_LOGISTIC_RES):
                            v = builder.fadd(v, builder.load(vec_at(builder.add(sa_, orows[r]), s), align=4))
                        builder.store(v, vec_at(builder.add(sz_, orows[r]), s), align=4)

            end = builder.append_basic_block("tile_end")
            switch = builder.switch(mode_, end)
            for mode in (MODE_NONE, MODE_TANH, MODE_TANH_RES, MODE_LOGISTIC, MODE_LOGISTIC_RES):
                block = builder.append_basic_block(f"tile_mode_{mode}")
                switch.add_case(ir.Constant(i64, mode), block)
                builder.position_at_end(block)
                epilogue(mode)
                builder.branch(end)
            builder.position_at_end(end)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_ob = _tile_intrinsic(OB, SB)
_tile_1 = _tile_intrinsic(1, SB)
# one vector of samples: the samples after the last whole tile, VW at a time
_vtile_ob = _tile_intrinsic(OB, 1)
_vtile_1 = _tile_intrinsic(1, 1)


def _first_intrinsic(k):
    """An intrinsic first(Z1, t, H, n, act): for the flat index q < n (a multiple of VW) of the
    (h_1, m) first layer, H.flat[q] = phi(Z1[0].flat[q] + t_0 Z1[1].flat[q] + ... +
    t_{k-1} Z1[k].flat[q]), the sum in fused multiply-adds in that order, phi = tanh_f32 (act 0)
    or logistic_f32 (act 1); Z1 (1 + k, h_1, m), t and H float32 and C-contiguous, H with m
    columns."""

    @intrinsic
    def first(typingctx, Z1, t, H, n, act):
        if not (_f32_arrays((Z1, 3), (t, 1), (H, 2)) and isinstance(n, types.Integer)
                and isinstance(act, types.Integer)):
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
            vt, vpt, fma = _vector_types(builder)
            ts = [_splat(builder, vt, builder.load(builder.gep(tp, [ir.Constant(i64, j)]))) for j in range(k)]
            nvec = builder.udiv(n_, ir.Constant(i64, VW))

            def layer(act):
                with cgutils.for_range(builder, nvec) as loop:
                    q = builder.mul(loop.index, ir.Constant(i64, VW))

                    def load(plane_no):
                        off = builder.add(builder.mul(plane, ir.Constant(i64, plane_no)), q)
                        return builder.load(builder.bitcast(builder.gep(Zp, [off]), vpt), align=4)

                    z = load(0)
                    for j in range(k):
                        z = builder.call(fma, [ts[j], load(j + 1), z])
                    builder.store(_vector_act(builder, vt, fma, z, act), builder.bitcast(builder.gep(Hp, [q]), vpt),
                                  align=4)

            with builder.if_else(builder.icmp_signed("==", act_, ir.Constant(i64, 0))) as (is_tanh, is_logistic):
                with is_tanh:
                    layer(0)
                with is_logistic:
                    layer(1)
            return context.get_dummy_value()

        return sig, codegen

    return first


_first_1 = _first_intrinsic(1)
_first_2 = _first_intrinsic(2)
_first_3 = _first_intrinsic(3)
_first_4 = _first_intrinsic(4)


def _map_vectors(act):
    """An intrinsic (xs, out, n): out[q] = phi(xs[q]) for q < n (a multiple of VW), through the
    vector code of the tiles (float32 C-contiguous 1-D arrays); tests hold it to tanh_f32 (act 0)
    and logistic_f32 (act 1) bit for bit."""

    @intrinsic
    def vectors(typingctx, xs, out, n):
        if not (_f32_arrays((xs, 1), (out, 1)) and isinstance(n, types.Integer)):
            return None
        sig = types.void(xs, out, n)

        def codegen(context, builder, signature, args):
            i64 = ir.IntType(64)
            xp = context.make_array(signature.args[0])(context, builder, args[0]).data
            op = context.make_array(signature.args[1])(context, builder, args[1]).data
            n_ = context.cast(builder, args[2], signature.args[2], types.int64)
            vt, vpt, fma = _vector_types(builder)
            with cgutils.for_range(builder, builder.udiv(n_, ir.Constant(i64, VW))) as loop:
                q = builder.mul(loop.index, ir.Constant(i64, VW))
                v = builder.load(builder.bitcast(builder.gep(xp, [q]), vpt), align=4)
                builder.store(_vector_act(builder, vt, fma, v, act), builder.bitcast(builder.gep(op, [q]), vpt),
                              align=4)
            return context.get_dummy_value()

        return sig, codegen

    return vectors


_tanh_vectors = _map_vectors(0)
_logistic_vectors = _map_vectors(1)


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


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _dense_rest(W, wo, nin, nout, H, sa, sz, i0, m):
    """The samples i0 <= i < m of every output, for the last m % VW samples that no tile covers
    (vectorised by LLVM along the samples; the sum over the inputs in the same order as the tiles)."""
    for o in range(nout):
        r0 = wo + o * nin
        for i in range(i0, m):
            H[sz + o, i] = ZERO
        for j in range(nin):
            w = W[r0 + j]
            for i in range(i0, m):
                H[sz + o, i] += w * H[sa + j, i]


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _tiled(W, wo, bo, nin, nout, H, sa, sz, m, mode):
    """The tiles of one layer (see _tile_intrinsic for ``mode``), one block of samples at a time so
    that the block of the inputs stays in the L1 cache across the outputs: blocks of SW samples,
    then of VW, each in tiles of OB outputs and then single outputs. Returns the first sample no
    tile covered (the last m % VW are left to the caller)."""
    mf = (m // SW) * SW
    mv = (m // VW) * VW
    of = (nout // OB) * OB
    for i in range(0, mf, SW):
        for o in range(0, of, OB):
            _tile_ob(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
        for o in range(of, nout):
            _tile_1(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
    for i in range(mf, mv, VW):
        for o in range(0, of, OB):
            _vtile_ob(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
        for o in range(of, nout):
            _vtile_1(W, wo, nin, H, sa, sz, m, o, i, bo, mode)
    return mv


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _dense(W, wo, nin, nout, H, sa, sz, m):
    """H[sz + o, i] = sum_j W[wo + o nin + j] H[sa + j, i] for o < nout, i < m (input rows from
    sa, output rows from sz of the same buffer): the tiles, then the last m % VW samples. No bias:
    the caller adds it after the products, so that a large bias (a saturated unit, or an output
    bias close to the target) is rounded once rather than at every accumulation step."""
    mv = _tiled(W, wo, 0, nin, nout, H, sa, sz, m, MODE_NONE)
    if mv < m:
        _dense_rest(W, wo, nin, nout, H, sa, sz, mv, m)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _hidden(W, wo, bo, nin, nout, H, sa, sz, m, act, residual):
    """One hidden layer: H[sz + o, i] = phi(sum_j W[wo + o nin + j] H[sa + j, i] + W[bo + o])
    (+ H[sa + o, i] with the residual skip), phi = tanh (act 0) or the logistic (act 1). The tiles
    add the bias and apply phi to their accumulators in registers; the last m % VW samples go
    through a product pass and an activation pass of their own."""
    mode = MODE_TANH + 2 * act + residual
    mv = _tiled(W, wo, bo, nin, nout, H, sa, sz, m, mode)
    if mv < m:
        _dense_rest(W, wo, nin, nout, H, sa, sz, mv, m)
        if residual == 1:
            _act_residual(H, W, bo, sa, sz, nout, mv, m, act)
        else:
            _act_inplace(H, W, bo, sz, nout, mv, m, act)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _first(Z1, t, k, h1, m, a, act):
    """a[:h1] = phi(Z1[0] + sum_j t_j Z1[1 + j]): through the vector intrinsics (k = 1..4), the
    last h1 m % VW values here."""
    n = h1 * m
    nv = (n // VW) * VW
    if k == 1:
        _first_1(Z1, t, a, nv, act)
    elif k == 2:
        _first_2(Z1, t, a, nv, act)
    elif k == 3:
        _first_3(Z1, t, a, nv, act)
    else:
        _first_4(Z1, t, a, nv, act)
    for q in range(nv, n):
        j = q // m
        i = q - j * m
        z = Z1[0, j, i]
        for jj in range(k):
            z += t[jj] * Z1[1 + jj, j, i]
        a[j, i] = tanh_f32(z) if act == 0 else logistic_f32(z)


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
def _output_sse(W, lay, H, sa, sz, y, cb, tv, k, m):
    """Sum over outputs and samples of (u - y)^2 in float64, u = V H[sa:] + c. The products
    V H go to H[sz:] in float32; then u - y = (V H) + (c - y) in float64, with the output bias
    c = cb[0] + sum_j t_j cb[1 + j] in float64: no float32 rounding at the scale of c or y, so a
    small error u - y next to a large target keeps its digits."""
    l = lay.shape[0] - 1
    nout = y.shape[0]
    _dense(W, lay[l, 0], lay[l, 2], nout, H, sa, sz, m)
    acc = 0.0
    for o in range(nout):
        c = cb[0, o]
        for j in range(k):
            c += tv[j + 1] * cb[j + 1, o]
        for i in range(m):
            e = np.float64(H[sz + o, i]) + (c - y[o, i])
            acc += e * e
    return acc


# --------------------------------------------------------------- the kernel
@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def general_kernel(T, Z1, Wt, lay, y, cb, V, l2, act, residual, out, chunk):
    """out[p] = loss at theta = center + T[p] @ directions.

    T (N, k) float64 coordinates; Z1 (1 + k, h1, m) first-layer pre-activation tables;
    Wt (1 + k, Q) the later layers' parameters (per layer: W (out x in) row-major, then b
    (zeros when the layer has none)); lay (L, 4) int64: offset of W, offset of b, fan-in,
    fan-out of each later layer (the last is the output layer); y (outputs, m) float64 targets;
    cb (1 + k, outputs) float64 output-bias tables of the centre and the directions (zeros
    without an output bias); V (1 + k,
    P) float64 [center; directions], for l2 * ||theta||^2 in float64 (summed directly: a sum of
    squares is never negative, unlike a Gram-matrix quadratic form, which cancels near theta = 0);
    act 0 tanh / 1 logistic; residual 0/1; out (N,) float64.
    """
    N, k = T.shape
    h1 = Z1.shape[1]
    m = Z1.shape[2]
    Q = Wt.shape[1]
    nl = lay.shape[0]
    dt = Z1.dtype
    maxw = h1
    for l in range(nl):
        maxw = max(maxw, lay[l, 3])
    nch = (N + chunk - 1) // chunk
    for c in prange(nch):
        W = np.empty(Q, dt)
        t = np.empty(k, dt)
        tv = np.empty(k + 1, np.float64)
        # one buffer, two halves (the layer's input rows and its output rows), addressed by row
        # offsets: swapping two array variables (cur, nxt = nxt, cur) inside the prange body
        # stopped the vectorisation of the products (micro-benchmark, 32 -> 16 layer: 21.8 us
        # with the swap vs 2.9 us without; the whole kernel ran at 36k instead of ~115k points/s)
        H = np.empty((2 * maxw, m), dt)
        hi = min(N, (c + 1) * chunk)
        for p in range(c * chunk, hi):
            tv[0] = 1.0
            for j in range(k):
                t[j] = T[p, j]
                tv[j + 1] = T[p, j]
            _params(Wt, t, k, Q, W)
            _first(Z1, t, k, h1, m, H, act)
            sa = 0  # first row of the current activations in H
            for l in range(nl - 1):  # hidden layers 2..L
                sz = maxw - sa
                no = lay[l, 3]
                _hidden(W, lay[l, 0], lay[l, 1], lay[l, 2], no, H, sa, sz, m, act, residual)
                sa = sz
            acc = _output_sse(W, lay, H, sa, maxw - sa, y, cb, tv, k, m)  # output layer and squared error
            loss = acc / m
            if l2 > 0.0:
                q = 0.0
                for pp in range(V.shape[1]):
                    v = V[0, pp]
                    for j in range(k):
                        v += tv[j + 1] * V[j + 1, pp]
                    q += v * v
                loss += l2 * q
            out[p] = loss
