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
from llvmlite import ir
from numba import njit, prange
from numba.core import types
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
# 9-bit head (n * LN2_HI is exact for |n| <= 126) and a tail (Cody-Waite), e^r by its Taylor
# polynomial of degree 7 (truncation at most 7.3e-9 relative on |r| <= ln2 / 2, 0.12 ulp). LO = the
# float32 just above ln(2^-126) (the nearest one, -87.3365479, lies below it), so n >= -126 and 2^n
# stays a normal number.
LO = np.float32(-87.33654)
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
    (1 + tanh(z / 2)) / 2). At most 2 ulp from the correctly rounded value for z >= -87.3 (checked on
    every float32: benchmarks/experiments/fused_numba/check_logistic.py); below that the result is
    e^LO / (1 + e^LO) ~ 1.2e-38 (absolute error below 1.2e-38). Never above 1. NaN gives NaN (the
    scale is built from 0 instead of NaN, so the int conversion stays defined)."""
    a = -abs(z)
    a = LO if a < LO else a  # NaN passes (comparison false)
    kf = np.floor(a * LOG2E + HALF)
    ks = kf if kf == kf else ZERO
    r = (a - kf * LN2_HI) - kf * LN2_LO
    p = ONE + r * (ONE + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
    e = p * _f32_from_bits(np.int32((np.int32(ks) + np.int32(127)) << np.int32(23)))  # 2^n
    num = e if z < ZERO else ONE
    return num / (ONE + e)


@njit(parallel=True, fastmath=FM, cache=True, error_model="numpy")
def logistic_f32_array(xs, out):
    """out[i] = logistic_f32(xs[i]) (float32 arrays; tests and checks)."""
    for i in prange(xs.shape[0]):
        out[i] = logistic_f32(xs[i])


# --------------------------------------------------------------- kernel pieces
@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _act_inplace(H, W, bo, sz, nrows, m, act):
    """H[sz + j] = phi(H[sz + j] + b_j), b_j = W[bo + j], j < nrows; phi = tanh (act 0) or the
    logistic (act 1), the branch outside the loops (a generic al * tanh(be * x) + ga cost
    10-17 % of the whole kernel, A/B). The bias is added here, after the products (see _dense)."""
    if act == 0:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(m):
                H[sz + j, i] = tanh_f32(H[sz + j, i] + b)
    else:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(m):
                H[sz + j, i] = logistic_f32(H[sz + j, i] + b)


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _act_residual(H, W, bo, sa, sz, nrows, m, act):
    """H[sz + j] = phi(H[sz + j] + b_j) + H[sa + j], j < nrows (skip="residual")."""
    if act == 0:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(m):
                H[sz + j, i] = tanh_f32(H[sz + j, i] + b) + H[sa + j, i]
    else:
        for j in range(nrows):
            b = W[bo + j]
            for i in range(m):
                H[sz + j, i] = logistic_f32(H[sz + j, i] + b) + H[sa + j, i]


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _dense(W, wo, nin, nout, H, sa, sz, m):
    """H[sz + o, i] = sum_j W[wo + o nin + j] H[sa + j, i] for o < nout, i < m (input rows from
    sa, output rows from sz of the same buffer): 4 outputs x 4 inputs per pass over the samples,
    with remainder loops. No bias: the caller adds it after the products, so that a large bias
    (a saturated unit, or an output bias close to the target) is rounded once rather than at
    every accumulation step."""
    o = 0
    while o + 4 <= nout:
        r0 = wo + o * nin
        r1 = r0 + nin
        r2 = r1 + nin
        r3 = r2 + nin
        for i in range(m):
            H[sz + o, i] = ZERO
            H[sz + o + 1, i] = ZERO
            H[sz + o + 2, i] = ZERO
            H[sz + o + 3, i] = ZERO
        j = 0
        while j + 4 <= nin:
            p0 = W[r0 + j]; p1 = W[r0 + j + 1]; p2 = W[r0 + j + 2]; p3 = W[r0 + j + 3]  # noqa: E702
            q0 = W[r1 + j]; q1 = W[r1 + j + 1]; q2 = W[r1 + j + 2]; q3 = W[r1 + j + 3]  # noqa: E702
            s0 = W[r2 + j]; s1 = W[r2 + j + 1]; s2 = W[r2 + j + 2]; s3 = W[r2 + j + 3]  # noqa: E702
            v0 = W[r3 + j]; v1 = W[r3 + j + 1]; v2 = W[r3 + j + 2]; v3 = W[r3 + j + 3]  # noqa: E702
            for i in range(m):
                x0 = H[sa + j, i]
                x1 = H[sa + j + 1, i]
                x2 = H[sa + j + 2, i]
                x3 = H[sa + j + 3, i]
                H[sz + o, i] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                H[sz + o + 1, i] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
                H[sz + o + 2, i] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3
                H[sz + o + 3, i] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3
            j += 4
        while j < nin:
            p0 = W[r0 + j]; q0 = W[r1 + j]; s0 = W[r2 + j]; v0 = W[r3 + j]  # noqa: E702
            for i in range(m):
                x0 = H[sa + j, i]
                H[sz + o, i] += p0 * x0
                H[sz + o + 1, i] += q0 * x0
                H[sz + o + 2, i] += s0 * x0
                H[sz + o + 3, i] += v0 * x0
            j += 1
        o += 4
    while o < nout:
        r0 = wo + o * nin
        for i in range(m):
            H[sz + o, i] = ZERO
        j = 0
        while j + 4 <= nin:
            p0 = W[r0 + j]; p1 = W[r0 + j + 1]; p2 = W[r0 + j + 2]; p3 = W[r0 + j + 3]  # noqa: E702
            for i in range(m):
                H[sz + o, i] += (p0 * H[sa + j, i] + p1 * H[sa + j + 1, i]
                                 + p2 * H[sa + j + 2, i] + p3 * H[sa + j + 3, i])
            j += 4
        while j < nin:
            p0 = W[r0 + j]
            for i in range(m):
                H[sz + o, i] += p0 * H[sa + j, i]
            j += 1
        o += 1


@njit(fastmath=FM, inline="always", cache=True, error_model="numpy")
def _first(Z1, t, k, h1, m, a, act):
    """a[:h1] = phi(Z1[0] + sum_j t_j Z1[1 + j]), unrolled for k = 1..4 (k, act branch outside
    the loops)."""
    if k == 1:
        t0 = t[0]
        if act == 0:
            for j in range(h1):
                for i in range(m):
                    a[j, i] = tanh_f32(Z1[0, j, i] + t0 * Z1[1, j, i])
        else:
            for j in range(h1):
                for i in range(m):
                    z = Z1[0, j, i] + t0 * Z1[1, j, i]
                    a[j, i] = logistic_f32(z)
    elif k == 2:
        t0 = t[0]
        t1 = t[1]
        if act == 0:
            for j in range(h1):
                for i in range(m):
                    a[j, i] = tanh_f32(Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i])
        else:
            for j in range(h1):
                for i in range(m):
                    z = Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i]
                    a[j, i] = logistic_f32(z)
    elif k == 3:
        t0 = t[0]
        t1 = t[1]
        t2 = t[2]
        if act == 0:
            for j in range(h1):
                for i in range(m):
                    a[j, i] = tanh_f32(Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i] + t2 * Z1[3, j, i])
        else:
            for j in range(h1):
                for i in range(m):
                    z = Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i] + t2 * Z1[3, j, i]
                    a[j, i] = logistic_f32(z)
    else:
        t0 = t[0]
        t1 = t[1]
        t2 = t[2]
        t3 = t[3]
        if act == 0:
            for j in range(h1):
                for i in range(m):
                    z = Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i] + t2 * Z1[3, j, i] + t3 * Z1[4, j, i]
                    a[j, i] = tanh_f32(z)
        else:
            for j in range(h1):
                for i in range(m):
                    z = Z1[0, j, i] + t0 * Z1[1, j, i] + t1 * Z1[2, j, i] + t2 * Z1[3, j, i] + t3 * Z1[4, j, i]
                    a[j, i] = logistic_f32(z)


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
                _dense(W, lay[l, 0], lay[l, 2], no, H, sa, sz, m)
                if residual == 1:
                    _act_residual(H, W, lay[l, 1], sa, sz, no, m, act)
                else:
                    _act_inplace(H, W, lay[l, 1], sz, no, m, act)
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
