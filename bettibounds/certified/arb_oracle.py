"""The ball-arithmetic oracle: the slice loss and its gradient at a point, in python-flint ``arb``.

:func:`loss_arb` evaluates the loss of a :class:`~.loss_enclosure.SliceLoss` (its network, data,
l2 and slice) and its gradient in the slice coordinates at one point in ball arithmetic (plain
forward mode over arb scalars, :func:`arb_activation` for the activations): an independent
implementation, used as the oracle of the interval enclosures' tests and, at 128 and then 320
bits, to decide the sign of f(t) - c at subdivision vertices where the float64 enclosure is too
wide (docs/theory.md §13.4). :func:`arb_float_bounds` turns a ball into floats around it. Needs
python-flint (the ``[certify]`` extra), imported when called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidSpecError

if TYPE_CHECKING:
    from .loss_enclosure import SliceLoss

__all__ = ["loss_arb", "arb_activation", "arb_float_bounds"]


def arb_float_bounds(v) -> tuple[float, float]:
    """Floats (lo, hi) with lo <= every point of the arb ball v <= hi."""
    from flint import arb

    if not v.is_finite():
        return -math.inf, math.inf
    lo_a, hi_a = v.lower(), v.upper()
    lo, hi = float(lo_a), float(hi_a)
    if arb(lo) > lo_a:
        lo = float(np.nextafter(lo, -np.inf))
    if arb(hi) < hi_a:
        hi = float(np.nextafter(hi, np.inf))
    return lo, hi



def loss_arb(sl: SliceLoss, t, prec: int = 128, gradient: bool = True):
    """[f(t), df/dt_1, ..., df/dt_k] as python-flint ``arb`` balls at the point t (floats).

    An independent implementation (plain forward mode over arb scalars in numpy object
    arrays), used as the oracle of the interval enclosures' tests and to decide f(t) <= c at
    vertices. ``gradient=False`` returns [f(t)] only.
    """
    import flint
    from flint import arb

    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        k = sl.k
        tv = [arb(float(v)) for v in np.asarray(t, dtype=np.float64).reshape(-1)]
        if len(tv) != k:
            raise InvalidSpecError(f"a point of this slice has k = {k} coordinates")
        V = [[arb(float(v)) for v in row] for row in sl.V]
        theta = [V[0][p] + sum((tv[s] * V[1 + s][p] for s in range(k)), arb(0)) for p in range(sl.P)]
        dtheta = [[V[1 + r][p] for p in range(sl.P)] for r in range(k)] if gradient else []
        nd = len(dtheta)

        def affine(layer, a, da):
            out = []
            for j in range(layer.W.shape[0]):
                row = layer.W[j]
                z = sum((theta[row[i]] * a[i] for i in range(len(row))), arb(0))
                dz = [sum((theta[row[i]] * da[r][i] + dtheta[r][row[i]] * a[i] for i in range(len(row))), arb(0))
                      for r in range(nd)]
                if layer.b is not None:
                    z += theta[layer.b[j]]
                    dz = [dz[r] + dtheta[r][layer.b[j]] for r in range(nd)]
                out.append((z, dz))
            return [o[0] for o in out], [[o[1][r] for o in out] for r in range(nd)]

        total = arb(0)
        dtotal = [arb(0)] * nd
        for i in range(sl.m):
            a = [arb(float(v)) for v in sl.x[i]]
            da = [[arb(0)] * len(a) for _ in range(nd)]
            L = len(sl.layers) - 1
            for idx, layer in enumerate(sl.layers):
                z, dz = affine(layer, a, da)
                if idx < L:
                    vals = [arb_activation(sl.act_name, zi) for zi in z]
                    new = [v[0] for v in vals]
                    dnew = [[vals[j][1] * dz[r][j] for j in range(len(z))] for r in range(nd)]
                    if sl.residual and idx >= 1:
                        new = [n + p for n, p in zip(new, a)]
                        dnew = [[n + p for n, p in zip(dnew[r], da[r])] for r in range(nd)]
                    a, da = new, dnew
                else:
                    a, da = z, dz
            u, du = a, da
            if sl.U is not None:
                xi = [arb(float(v)) for v in sl.x[i]]
                for o in range(len(u)):
                    u[o] = u[o] + sum((theta[sl.U[o][j]] * xi[j] for j in range(len(xi))), arb(0))
                    for r in range(nd):
                        du[r][o] = du[r][o] + sum((dtheta[r][sl.U[o][j]] * xi[j] for j in range(len(xi))), arb(0))
            for o in range(len(u)):
                yo = arb(float(sl.y[i][o]))
                if sl.loss_kind == "bce":
                    term = arb(0)
                    if sl.y[i][o] > 0:
                        term += yo * _arb_softplus(-u[o])
                    if sl.y[i][o] < 1:
                        term += (1 - yo) * _arb_softplus(u[o])
                    dterm = 1 / (1 + (-u[o]).exp()) - yo
                else:
                    yh, dyh = _arb_out(sl.out_act, u[o])
                    term = (yh - yo) ** 2
                    dterm = 2 * (yh - yo) * dyh
                total += term
                dtotal = [dtotal[r] + dterm * du[r][o] for r in range(nd)]
        f = total / sl.m
        g = [d / sl.m for d in dtotal]
        if sl.l2 > 0:
            lam = arb(sl.l2)
            f += lam * sum((th * th for th in theta), arb(0))
            g = [g[r] + 2 * lam * sum((theta[p] * dtheta[r][p] for p in range(sl.P)), arb(0)) for r in range(nd)]
        return [f, *g]
    finally:
        flint.ctx.prec = old


def _arb_softplus(u):
    """log(1 + e^u) (arb has no overflow, so the direct formula is exact in ball arithmetic)."""
    return u.exp().log1p()


def _arb_sigmoid(z):
    """(sigma(z), sigma'(z)) with sigma' = sigma(z) sigma(-z): 1 - sigma cancels in the right tail, and the ball
    would be much wider than the derivative (the interval enclosures are tighter than 1 - sigma there)."""
    s = 1 / (1 + (-z).exp())
    return s, s / (1 + z.exp())


def _arb_tanh(z):
    """(tanh z, tanh' z) with tanh' = sech^2 z (1 - tanh^2 cancels in both tails)."""
    return z.tanh(), z.sech() ** 2


def _arb_out(name, u):
    if name == "logistic":
        return _arb_sigmoid(u)
    if name == "tanh":
        return _arb_tanh(u)
    return u, u * 0 + 1


def arb_activation(name, z):
    """(phi(z), phi'(z)) in ball arithmetic."""
    from flint import arb

    if name == "identity":
        return z, arb(1)
    if name == "tanh":
        return _arb_tanh(z)
    if name == "logistic":
        return _arb_sigmoid(z)
    if name == "arctan":
        return z.atan(), 1 / (1 + z * z)
    if name == "softplus":
        return _arb_softplus(z), 1 / (1 + (-z).exp())
    if name == "gaussian":
        e = (-(z * z)).exp()
        return e, -2 * z * e
    if name == "exp":
        e = z.exp()
        return e, e
    if name == "silu":
        s, ds = _arb_sigmoid(z)
        return z * s, s + z * ds
    if name == "gelu":
        Phi = (-z / arb(2).sqrt()).erfc() / 2  # erfc keeps the left tail accurate (1 + erf cancels)
        pdf = (-(z * z) / 2).exp() / (2 * arb.pi()).sqrt()
        return z * Phi, Phi + z * pdf
    if name.startswith("polynomial:"):
        p = int(name.split(":")[1])
        return z + z ** p, 1 + p * z ** (p - 1)
    raise InvalidSpecError(f"no ball-arithmetic implementation of activation {name!r}")  # pragma: no cover
