"""A monkeypatch of finding 1 (review only): the bias product b(D_s) * t^_s enclosed by interval arithmetic.
Used to separate finding 1 from anything else the fuzzers find; the package is not edited."""
import numpy as np
from bettibounds.certified import loss_enclosure as LE
from bettibounds.certified.intervals import Interval, batched_matmul

_orig = LE.SliceLoss._linear


def _linear_fixed(self, layer, a_p, a_v, da, c, axes):
    k = self.k
    Wm, rad_p, rad_q, Ws = self._weights(layer.W, c, axes)
    zp = batched_matmul(Wm, rad_p, a_p)
    zv, dz = None, []
    if a_v is not None:
        m = a_v.shape[2]
        stacked = Interval(np.concatenate([a_v.lo, *[d.lo for d in da]], axis=2),
                           np.concatenate([a_v.hi, *[d.hi for d in da]], axis=2))
        prod = batched_matmul(Wm, rad_q, stacked)
        zv = prod[:, :, :m]
        Wd = np.concatenate([Ws[1 + r] for r in axes], axis=0)[None]
        extra = batched_matmul(Wd, np.zeros_like(Wd), a_v)
        o = Ws[0].shape[0]
        for j in range(len(axes)):
            dz.append(prod[:, :, (1 + j) * m:(2 + j) * m] + extra[:, j * o:(j + 1) * o, :])
    if layer.b is not None:
        b = [v[layer.b].reshape(1, -1, 1) for v in self.V]
        bp = LE._pt(b[0])
        for s in range(k):
            bp = bp + LE._pt(b[1 + s]) * self._bc(c[:, s])  # the fix: an interval product, rounded outward
        zp = zp + bp
        if a_v is not None:
            bv = bp
            for r in axes:
                bv = bv + LE._pt(b[1 + r]).mul_sym(self._rho[r])
            zv = zv + bv
            dz = [d + b[1 + r] for r, d in zip(axes, dz)]
    return zp, zv, dz


def apply():
    LE.SliceLoss._linear = _linear_fixed


def revert():
    LE.SliceLoss._linear = _orig
