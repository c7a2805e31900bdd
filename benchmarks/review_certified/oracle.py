"""An independent high-precision evaluation of the loss of a spec-based network (review of issue 21).

Written from the conventions of docs/usage.md / engines/torch_kernel.py, not from certified/:
parameter order = nn.Sequential's parameters_to_vector (per Linear layer W (out x in, row-major), then b when
spec.has_bias(l)), input-output skip matrix U (outputs x d) last; hidden a_l = phi(W_l a_{l-1} + b_l) (+ a_{l-1}
for l >= 2 with residual); u = V a_L + c (+ U x); MSE = mean over samples of sum over outputs of (yhat - y)^2,
BCE = mean over samples of y softplus(-u) + (1 - y) softplus(u); + l2 ||theta||^2.
Everything in mpmath at `dps` digits from the exact float64 inputs.
"""
from __future__ import annotations

import mpmath
import numpy as np

DPS = 60


def _exp(z):
    """mpmath.exp, refusing arguments so large that mpmath would exhaust memory (the fuzzer skips the point)."""
    if abs(z) > 1e8:
        raise OverflowError("exponent too large for the oracle")
    return mpmath.exp(z)


def layout(spec):
    """[(W index matrix, b index vector or None)], U index matrix or None."""
    d, widths, out = spec.inputs, list(spec.widths), spec.outputs
    sizes = [d] + widths + [out]
    p = 0
    layers = []
    for l in range(1, len(sizes)):
        i, o = sizes[l - 1], sizes[l]
        W = np.arange(p, p + o * i).reshape(o, i)
        p += o * i
        b = None
        if spec.has_bias(l):
            b = np.arange(p, p + o)
            p += o
        layers.append((W, b))
    U = None
    if "input-output" in spec.skips:
        U = np.arange(p, p + out * d).reshape(out, d)
        p += out * d
    assert p == int(spec.n_params), (p, spec.n_params)
    return layers, U


def _act(name, z):
    mp = mpmath
    if name == "identity":
        return z
    if name == "tanh":
        return mp.tanh(z) if abs(z) < 1e8 else mp.sign(z)
    if name == "logistic":
        return 1 / (1 + _exp(-z))
    if name == "arctan":
        return mp.atan(z)
    if name == "softplus":
        return mp.log1p(_exp(z)) if z < 0 else z + mp.log1p(_exp(-z))
    if name == "gaussian":
        return _exp(-z * z)
    if name == "exp":
        return _exp(z)
    if name == "silu":
        return z / (1 + _exp(-z))
    if name == "gelu":
        return z * mp.ncdf(z) if abs(z) < 1e8 else (z if z > 0 else mp.mpf(0) * z)
    if name.startswith("polynomial:"):
        return z + z ** int(name.split(":")[1])
    raise ValueError(name)


def loss_mp(spec, x, y, theta, act_name, dps=DPS):
    """The loss at parameter vector theta (floats or mpf), at `dps` digits."""
    import contextlib
    with (mpmath.workdps(dps) if dps else contextlib.nullcontext()):
        th = [mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else v for v in theta]
        layers, U = layout(spec)
        L = len(layers) - 1
        total = mpmath.mpf(0)
        for i in range(len(x)):
            a = [mpmath.mpf(float(v)) for v in x[i]]
            xi = list(a)
            for l, (W, b) in enumerate(layers):
                z = [mpmath.fsum(th[W[j, q]] * a[q] for q in range(W.shape[1])) + (th[b[j]] if b is not None else 0)
                     for j in range(W.shape[0])]
                if l < L:
                    new = [_act(act_name, zj) for zj in z]
                    if "residual" in spec.skips and l >= 1:
                        new = [n + p for n, p in zip(new, a)]
                    a = new
                else:
                    a = z
            u = a
            if U is not None:
                u = [u[o] + mpmath.fsum(th[U[o, q]] * xi[q] for q in range(U.shape[1])) for o in range(len(u))]
            for o in range(len(u)):
                yo = mpmath.mpf(float(y[i][o]))
                if spec.loss == "bce":
                    sp = lambda v: mpmath.log1p(_exp(v)) if v < 0 else v + mpmath.log1p(_exp(-v))
                    term = mpmath.mpf(0)
                    if yo > 0:
                        term += yo * sp(-u[o])
                    if yo < 1:
                        term += (1 - yo) * sp(u[o])
                else:
                    oa = spec.output_activation
                    yh = u[o] if oa == "identity" else (
                        1 / (1 + _exp(-u[o])) if oa == "logistic"
                        else (mpmath.tanh(u[o]) if abs(u[o]) < 1e8 else mpmath.sign(u[o])))
                    term = (yh - yo) ** 2
                total += term
        f = total / len(x)
        lam = spec.l2_fraction()
        if lam:
            f += mpmath.mpf(lam.numerator) / lam.denominator * mpmath.fsum(v * v for v in th)
        return f


def slice_theta(center, D, t, dps=DPS):
    with mpmath.workdps(dps):
        return [mpmath.mpf(float(center[p])) + mpmath.fsum(mpmath.mpf(float(t[s])) * mpmath.mpf(float(D[s][p]))
                                                             for s in range(len(t))) for p in range(len(center))]


def slice_f(spec, x, y, act, center, D, t, dps=DPS):
    return loss_mp(spec, x, y, slice_theta(center, D, t, dps), act, dps)


def slice_grad(spec, x, y, act, center, D, t, dps=DPS):
    """df/dt_r at t by mpmath.diff (numerical differentiation at high precision, error far below 1e-25)."""
    out = []
    with mpmath.workdps(dps):
        for r in range(len(t)):
            def g(h, r=r):
                tt = [mpmath.mpf(float(v)) for v in t]
                tt[r] += h
                th = [mpmath.mpf(float(center[p]))
                      + mpmath.fsum(tt[s] * mpmath.mpf(float(D[s][p])) for s in range(len(t)))
                      for p in range(len(center))]
                return loss_mp(spec, x, y, th, act, None)  # at diff's own (raised) working precision
            out.append(mpmath.diff(g, 0))
    return out
