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


# ---- finding 2 (review only): exp_bounds between 709.78 and ln(DBL_MAX) = 709.7827
from bettibounds.certified import intervals as IV  # noqa: E402

_orig_exp = IV.exp_bounds


def _exp_fixed(x):
    x = np.asarray(x, dtype=np.float64)
    lo, hi = _orig_exp(x)
    win = (x > 709.78) & (x <= 709.79)
    if win.any():
        # e^x = e^(x - 1) * e, with e^(x - 1) enclosed by the original code and e in [E_LO, E_HI]
        l1, h1 = _orig_exp(np.where(win, x - 1.0, 0.0))  # x - 1 is exact here (Sterbenz)
        E_LO, E_HI = 2.718281828459045, 2.7182818284590455
        with np.errstate(over="ignore"):
            wl, wh = IV.down(l1 * E_LO), IV.up(h1 * E_HI)
        wl = np.where(np.isinf(wl), IV.DBL_MAX, wl)
        lo, hi = np.where(win, wl, lo), np.where(win, wh, hi)
    return lo, hi


def apply_exp_fix():
    IV.exp_bounds = _exp_fixed
    LE.exp_bounds = _exp_fixed


def revert_exp_fix():
    IV.exp_bounds = _orig_exp
    LE.exp_bounds = _orig_exp
