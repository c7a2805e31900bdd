"""A GENERAL fused float32 slice kernel (numba): the loss on theta = center + sum_j t_j dir_j
(k = 1..4 directions) of any network of the family

    d -> h_1 -> ... -> h_L -> outputs,  hidden activation tanh or logistic, identity output,
    MSE (mean over the m samples of the squared error summed over the outputs),
    bias per Linear layer on/off, optional skip="residual", optional l2 * ||theta||^2,

in the project's parameter order (bettibounds.empirical.kernels.param_layout:
per Linear layer W (out x in, row-major) then b when spec.has_bias(layer)).

One compiled function (`general_kernel`) serves every architecture: the network is described
by an int64 table of the later layers (offset of W, offset of b, fan-in, fan-out) into one flat
float32 parameter array, so it compiles once (per dtype, here float32 only), not per network.

Per point: the later layers' parameters (affine in t) are formed from the k + 1 tables of
center and directions; the first layer's pre-activations come from precomputed tables
(center and each direction on the data, bias folded in, computed in float64 then cast); each
later layer is a dense product on feature-major activations (unit, sample) with 4 x 4 register
blocking (4 output units x 4 input units per pass over the samples) and remainder loops for
widths that are not multiples of 4; the loss is accumulated in float64. ||theta||^2 is the
quadratic form [1, t] G [1, t]^T with G = the float64 Gram matrix of [center; directions],
evaluated in float64 from the float64 coordinates.

tanh is tanh32.tanh_f32 (own approximation, 5 ulp); logistic(x) = (1 + tanh_f32(x / 2)) / 2.

Not supported (raises NotImplementedError): BCE, output activations other than identity,
skip="input-output", hidden activations other than tanh/logistic, k > 4 (k is unrolled for
1..4), mode="full".
"""
import numpy as np
from numba import njit, prange

from tanh32 import FM, tanh_f32

ACT = {"tanh": 0, "logistic": 1}
HALF = np.float32(0.5)
ONE = np.float32(1.0)
KMAX = 4


# --------------------------------------------------------------- layout (Python glue)
def layout(spec):
    """[(w_offset, b_offset or None, fan_in, fan_out)] per Linear layer: the project's order, taken
    from bettibounds.empirical.kernels.param_layout itself, so the two cannot drift apart."""
    from bettibounds.empirical.kernels import param_layout

    return [(L.w, L.b, L.inp, L.out) for L in param_layout(spec)]


def check_supported(spec):
    if spec.loss != "mse":
        raise NotImplementedError(f"loss {spec.loss!r}: only MSE")
    if spec.output_activation != "identity":
        raise NotImplementedError(f"output activation {spec.output_activation!r}: only identity")
    if spec.activation not in ACT:
        raise NotImplementedError(f"hidden activation {spec.activation!r}: only tanh, logistic")
    if "input-output" in spec.skips:
        raise NotImplementedError("skip='input-output'")


def prepare(spec, x, y, center, directions, dtype=np.float32):
    """The kernel's tables (a dict), all computed in float64 and cast to ``dtype`` (the Gram
    matrix stays float64)."""
    check_supported(spec)
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64).reshape(spec.samples, spec.outputs)
    c = np.asarray(center, np.float64)
    D = np.asarray(directions, np.float64)
    if D.ndim == 1:
        D = D[None]
    k = D.shape[0]
    if not 1 <= k <= KMAX:
        raise NotImplementedError(f"k = {k} directions: only 1..{KMAX}")
    V = np.vstack([c[None], D])  # (1 + k, P): center, then the directions
    assert V.shape[1] == spec.n_params
    lay = layout(spec)
    w, b, d, h1 = lay[0]
    W1 = V[:, w:w + h1 * d].reshape(1 + k, h1, d)
    Z1 = W1 @ x.T  # (1 + k, h1, m): linear in v, so theta's table is the same affine combination
    if b is not None:
        Z1 = Z1 + V[:, b:b + h1, None]
    pieces, rows, off = [], [], 0
    for (w, b, i, o) in lay[1:]:
        pieces.append(V[:, w:w + o * i])
        pieces.append(V[:, b:b + o] if b is not None else np.zeros((1 + k, o)))  # no bias: zeros
        rows.append((off, off + o * i, i, o))
        off += o * i + o
    f = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return dict(
        k=k, Z1=f(Z1), Wt=f(np.concatenate(pieces, axis=1)), lay=np.array(rows, dtype=np.int64),
        y=f(y.T), G=np.ascontiguousarray(V @ V.T), l2=float(spec.l2), act=ACT[spec.activation],
        residual=int("residual" in spec.skips),
    )


def evaluate(tab, coords, chunk=64, out=None):
    """Loss at each row of coords (N, k) (float64 array); returns float64 (N,)."""
    T = np.ascontiguousarray(coords, dtype=np.float64)
    if T.ndim == 1:
        T = T.reshape(-1, 1)
    if T.shape[1] != tab["k"]:
        raise ValueError(f"coords must be (N, {tab['k']})")
    if out is None:
        out = np.empty(T.shape[0])
    general_kernel(T, tab["Z1"], tab["Wt"], tab["lay"], tab["y"], tab["G"], tab["l2"], tab["act"],
                   tab["residual"], out, chunk)
    return out


class GeneralSlice:
    """Convenience wrapper: GeneralSlice(spec, x, y, center, directions)(coords)."""

    def __init__(self, spec, x, y, center, directions):
        self.tab = prepare(spec, x, y, center, directions)

    def __call__(self, coords, chunk=64):
        return evaluate(self.tab, coords, chunk)


# --------------------------------------------------------------- kernel pieces
@njit(fastmath=FM, inline="always", cache=True)
def _act_inplace(H, sz, nrows, m, act):
    """H[sz:sz + nrows] = phi(H[sz:sz + nrows]); phi = tanh (act 0) or logistic (act 1), the branch
    outside the loops (a generic al * tanh(be * x) + ga cost 10-17 % of the whole kernel, A/B)."""
    if act == 0:
        for j in range(sz, sz + nrows):
            for i in range(m):
                H[j, i] = tanh_f32(H[j, i])
    else:
        for j in range(sz, sz + nrows):
            for i in range(m):
                H[j, i] = HALF + HALF * tanh_f32(HALF * H[j, i])


@njit(fastmath=FM, inline="always", cache=True)
def _act_residual(H, sa, sz, nrows, m, act):
    """H[sz + j] = phi(H[sz + j]) + H[sa + j], j < nrows (skip='residual')."""
    if act == 0:
        for j in range(nrows):
            for i in range(m):
                H[sz + j, i] = tanh_f32(H[sz + j, i]) + H[sa + j, i]
    else:
        for j in range(nrows):
            for i in range(m):
                H[sz + j, i] = HALF + HALF * tanh_f32(HALF * H[sz + j, i]) + H[sa + j, i]


@njit(fastmath=FM, inline="always", cache=True)
def _dense(W, wo, bo, nin, nout, H, sa, sz, m):
    """H[sz + o, i] = W[bo + o] + sum_j W[wo + o nin + j] H[sa + j, i] for o < nout, i < m
    (input rows from sa, output rows from sz of the same buffer):
    4 outputs x 4 inputs per pass over the samples, with remainder loops."""
    o = 0
    while o + 4 <= nout:
        r0 = wo + o * nin
        r1 = r0 + nin
        r2 = r1 + nin
        r3 = r2 + nin
        b0 = W[bo + o]
        b1 = W[bo + o + 1]
        b2 = W[bo + o + 2]
        b3 = W[bo + o + 3]
        for i in range(m):
            H[sz + o, i] = b0
            H[sz + o + 1, i] = b1
            H[sz + o + 2, i] = b2
            H[sz + o + 3, i] = b3
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
        b0 = W[bo + o]
        for i in range(m):
            H[sz + o, i] = b0
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


@njit(fastmath=FM, inline="always", cache=True)
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
                    a[j, i] = HALF + HALF * tanh_f32(HALF * z)
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
                    a[j, i] = HALF + HALF * tanh_f32(HALF * z)
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
                    a[j, i] = HALF + HALF * tanh_f32(HALF * z)
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
                    a[j, i] = HALF + HALF * tanh_f32(HALF * z)


@njit(fastmath=FM, inline="always", cache=True)
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


@njit(fastmath=FM, inline="always", cache=True)
def _output_sse(W, lay, H, sa, sz, y, m):
    """Sum over outputs and samples of (u - y)^2 (float64), u = V H[sa:] + c into H[sz:]."""
    l = lay.shape[0] - 1
    nout = y.shape[0]
    _dense(W, lay[l, 0], lay[l, 1], lay[l, 2], nout, H, sa, sz, m)
    acc = 0.0
    for o in range(nout):
        for i in range(m):
            e = np.float64(H[sz + o, i] - y[o, i])
            acc += e * e
    return acc


# --------------------------------------------------------------- the kernel
@njit(parallel=True, fastmath=FM, cache=True)
def general_kernel(T, Z1, Wt, lay, y, G, l2, act, residual, out, chunk):
    """out[p] = loss at theta = center + T[p] @ directions.

    T (N, k) float64 coordinates; Z1 (1 + k, h1, m) first-layer pre-activation tables;
    Wt (1 + k, Q) the later layers' parameters (per layer: W (out x in) row-major, then b
    (zeros when the layer has none)); lay (L, 4) int64: offset of W, offset of b, fan-in,
    fan-out of each later layer (the last is the output layer); y (outputs, m); G (1 + k,
    1 + k) float64 Gram matrix of [center; directions]; l2 the weight of ||theta||^2; act 0
    tanh / 1 logistic; residual 0/1; out (N,) float64.
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
                _dense(W, lay[l, 0], lay[l, 1], lay[l, 2], no, H, sa, sz, m)
                if residual == 1:
                    _act_residual(H, sa, sz, no, m, act)
                else:
                    _act_inplace(H, sz, no, m, act)
                sa = sz
            acc = _output_sse(W, lay, H, sa, maxw - sa, y, m)  # output layer and squared error
            loss = acc / m
            if l2 > 0.0:
                q = 0.0
                for a_ in range(k + 1):
                    for b_ in range(k + 1):
                        q += tv[a_] * G[a_, b_] * tv[b_]
                loss += l2 * q
            out[p] = loss
