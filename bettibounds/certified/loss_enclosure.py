"""Interval enclosures of the loss and its gradient on many boxes of a slice at once.

For a concrete network, data set and slice ``theta(t) = theta_0 + sum_s t_s D_s`` (t in
R^k), :class:`SliceLoss` encloses, for each of N boxes Q_i of R^k in one vectorised call,

* the range of ``f(t) = Loss(theta(t))`` over Q_i, and
* the range of each partial derivative ``df/dt_r`` over Q_i,

rigorously (docs/theory.md §13.2): forward-mode differentiation in the k slice coordinates
over intervals, in the float64 interval arithmetic of :mod:`.intervals`. Each quantity is
carried in 2 + k "slots": its value at the box's centre point t^ (a narrow interval: only
rounding), its range over the box, and the ranges of its k partial derivatives over the box.
After every layer the range is intersected with its mean-value form ``value(t^) + sum_r
[t_r - t^_r] d/dt_r`` (both contain the exact range), which keeps the enclosures' width
proportional to the box's size (the centred form; Moore 1966, Martin et al. 2002).

The slice structure is used throughout: theta is affine in t, so the first layer's
pre-activations on the data, ``z_1(t) = A + sum_s t_s B_s`` with ``A = W_1(theta_0) x +
b_1(theta_0)`` and ``B_s = W_1(D_s) x + b_1(D_s)``, are exact affine functions whose tables are
enclosed once; every later layer's weight matrix is ``W_l(theta_0) + sum_s t_s W_l(D_s)``, so
a layer costs 1 + k products of a *shared* point matrix by all slots of all boxes (one BLAS
call each, :func:`.intervals.matmul`).

Network and loss conventions are those of :mod:`bettibounds.engines.torch_kernel` (docs/usage.md, "Conventions"):
MSE (identity, logistic or tanh output) and BCE from the logit, l2 over all parameters,
per-layer bias, identity-residual and input-output skips; hidden activations tanh, logistic,
arctan, softplus, gaussian, silu, gelu, exp, identity and polynomial:p. Anything else is
refused with the reason (:func:`certify_unsupported`).

The activations' interval extensions live in :mod:`.interval_activations`
(:func:`activation_enclosure`, :data:`INTERVAL_ACTIVATIONS`). :func:`loss_arb`
(:mod:`.arb_oracle`) evaluates the same loss (and its gradient in t) at a point in python-flint
ball arithmetic: an independent implementation used as the oracle of the tests and, at
higher precision, to decide the sign of f(t) - c at subdivision vertices where the float64
enclosure is too wide. Their public names are importable from here as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidSpecError
from ..pfaffian.network import build_params
from .arb_oracle import arb_activation, arb_float_bounds, loss_arb
from .fpmode import check_float_mode
from .interval_activations import (
    INTERVAL_ACTIVATIONS,
    IntervalActivation,
    activation_enclosure,
    logistic_image,
    softplus_bounds,
)
from .intervals import ETA, Interval, U, batched_matmul, down, gamma, isum, matmul, up, up_pos

__all__ = ["SliceLoss", "certify_unsupported", "loss_arb", "INTERVAL_ACTIVATIONS", "IntervalActivation",
           "activation_enclosure", "arb_activation"]

#: elements per interval array of a batch (h * slots * boxes * samples): bounds memory (~8 MB per array)
_BATCH_ELEMENTS = 2 ** 19


def _pt(x):
    return Interval(x, x)


def certify_unsupported(spec) -> str | None:
    """Why the certified topology cannot handle ``spec`` (None when it can)."""
    from ..pfaffian.activations import get_activation

    if spec.is_symbolic:
        return "the certified topology needs a concrete network (integer sizes), not a symbolic one"
    name = get_activation(spec.activation).name
    if activation_enclosure(name) is None:  # pragma: no cover - every registry activation has one
        return f"activation {name!r} has no interval extension in bettibounds.certified"
    if name.startswith("polynomial:") and int(name.split(":")[1]) > 64:
        return (f"activation {name}: degrees above 64 are not supported by the certified topology "
                "(the interval powers overflow float64 on any box wider than a point)")
    return None


# ------------------------------------------------------------------ exact data
def _exact_floats(name: str, rows) -> np.ndarray:
    """Rows of Fractions / numbers as float64, refusing any that float64 does not hold exactly."""
    out = []
    for i, row in enumerate(rows):
        vals = []
        for j, v in enumerate(row):
            f = float(v)
            if not math.isfinite(f) or Fraction(f) != Fraction(v):
                raise InvalidSpecError(
                    f"{name}[{i}][{j}] = {v} is not exactly a float64 number; the certified topology computes "
                    "with the data exactly as given, so give numbers that float64 represents (any decimal "
                    "read from JSON is one)")
            vals.append(f)
        out.append(vals)
    return np.array(out, dtype=np.float64)


# ------------------------------------------------------------------ the slice loss
@dataclass
class _Layer:
    W: np.ndarray  # (out, in) indices into theta
    b: np.ndarray | None  # (out,) indices or None


class SliceLoss:
    """Loss(theta_0 + sum_s t_s D_s) of a concrete network on concrete data, enclosed on boxes.

    Parameters
    ----------
    spec : ArchitectureSpec
        A concrete spec (see :func:`certify_unsupported` for what is accepted).
    x, y : rows of numbers
        The data (m x d, m x outputs), exactly representable in float64.
    center : array (P,)
        theta_0.
    directions : array (k, P)
        The slice directions D_s.
    """

    def __init__(self, spec, x, y, center, directions):
        why = certify_unsupported(spec)
        if why is not None:
            raise InvalidSpecError(why)
        from ..pfaffian.activations import get_activation

        self.spec = spec
        self.x = _exact_floats("data.x", x)
        self.y = _exact_floats("data.y", y)
        self.m = self.x.shape[0]
        if self.m != spec.samples:
            raise InvalidSpecError(f"the data has {self.m} samples but spec.samples = {spec.samples}")
        self.center = np.asarray(center, dtype=np.float64).reshape(-1)
        D = np.asarray(directions, dtype=np.float64)
        self.D = D.reshape(1, -1) if D.ndim == 1 else D
        P = int(spec.n_params)
        if self.center.shape != (P,) or self.D.shape[1] != P:
            raise InvalidSpecError(f"center must have P = {P} entries and directions shape (k, {P})")
        if not (np.isfinite(self.center).all() and np.isfinite(self.D).all()):
            raise InvalidSpecError("the slice's center and directions must be finite")
        self.k = self.D.shape[0]
        self.P = P
        lam = spec.l2_fraction()
        self.l2 = float(lam)
        if Fraction(self.l2) != lam:
            raise InvalidSpecError(f"l2 = {lam} is not exactly a float64 number")
        act = activation_enclosure(get_activation(spec.activation).name)
        if act is None:  # certify_unsupported refused it above; kept so that no path reaches None
            raise InvalidSpecError(f"no interval enclosure for the activation {spec.activation!r}")
        self.act = act
        self.act_name = act.name
        self.out_act = spec.output_activation
        self.loss_kind = spec.loss
        layers, U = build_params(spec, lambda p: p)
        self.layers = [_Layer(np.array(W, dtype=np.int64), None if b is None else np.array(b, dtype=np.int64))
                       for W, b in layers]
        self.U = None if U is None else np.array(U, dtype=np.int64)
        self.residual = "residual" in spec.skips
        # theta_0 and the directions stacked: row 0 = theta_0, row s = D_s
        self.V = np.vstack([self.center[None, :], self.D])
        X = _pt(self.x.T)  # (d, m)
        first = self.layers[0]
        # A = z_1(theta_0), B_s = z_1(D_s): z_1(v) = W_1(v) x + b_1(v) is linear in v
        self.Z1 = [self._affine_table(first, v, X) for v in self.V]  # each Interval (h1, m)
        self.IO = None
        if self.U is not None:
            self.IO = [matmul(v[self.U], X) for v in self.V]  # U(v) x: (outputs, m)
        # l2: the Gram matrix of [theta_0; D] (exact products, enclosed)
        self.gram = matmul(self.V, _pt(self.V.T)) if self.l2 > 0 else None
        ys = self.y.T  # (outputs, m)
        self._y = ys
        self._one_minus_y = (1.0 - _pt(ys)) if spec.loss == "bce" else None

    @staticmethod
    def _affine_table(layer: _Layer, v: np.ndarray, X: Interval) -> Interval:
        Z = matmul(v[layer.W], X)
        if layer.b is not None:
            Z = Z + v[layer.b][:, None]
        return Z

    # -------------------------------------------------------------- public
    def enclose(self, lo, hi) -> tuple[Interval, Interval]:
        """Enclosures over the boxes [lo_i, hi_i] (arrays (N, k), lo <= hi, finite).

        Returns ``(F, G)``: F an Interval (N,) containing f(Q_i), G an Interval (N, k) whose
        column r contains df/dt_r over Q_i. Along an axis where a box has no width (a segment
        or a point) its column of G is (-inf, inf): not computed. NaN never appears (unknown
        bounds are +-inf).

        Raises :class:`~bettibounds.errors.FloatingPointModeError` when the processor does not round
        to nearest with gradual underflow (flush-to-zero mode, say): the enclosures' proof assumes it.
        """
        check_float_mode()
        lo = np.asarray(lo, dtype=np.float64).reshape(-1, self.k)
        hi = np.asarray(hi, dtype=np.float64).reshape(-1, self.k)
        N = lo.shape[0]
        F_lo, F_hi = np.empty(N), np.empty(N)
        G_lo, G_hi = np.full((N, self.k), -np.inf), np.full((N, self.k), np.inf)
        active = hi > lo
        # boxes with the same axes of positive width share the slots they need: a point needs
        # its value only, a segment one tangent
        pattern = active.astype(np.int64) @ (1 << np.arange(self.k))
        for pat in np.unique(pattern):
            axes = [r for r in range(self.k) if (int(pat) >> r) & 1]
            idx = np.flatnonzero(pattern == pat)
            per_box = max(self.spec.widths) * (1 + (len(axes) + 1 if axes else 0)) * self.m
            chunk = max(1, _BATCH_ELEMENTS // max(per_box, 1))
            for s in range(0, idx.size, chunk):
                sel = idx[s:s + chunk]
                F, G = self._enclose_batch(lo[sel], hi[sel], axes)
                F_lo[sel], F_hi[sel] = F.lo, F.hi
                for j, r in enumerate(axes):
                    G_lo[sel, r], G_hi[sel, r] = G[j].lo, G[j].hi
        return Interval(F_lo, F_hi).sanitize(), Interval(G_lo, G_hi).sanitize()

    # -------------------------------------------------------------- internals
    def _enclose_batch(self, lo, hi, axes):
        k = self.k
        with np.errstate(all="ignore"):
            c = 0.5 * lo + 0.5 * hi  # the centre point t^ (any point of the box will do)
            c = np.minimum(np.maximum(c, lo), hi)
            delta = {r: Interval(down(lo[:, r] - c[:, r]), up(hi[:, r] - c[:, r])) for r in axes}
            # t_r - t^_r lies in [-rho_r, rho_r]; arrays are box-major (N, units, samples)
            self._rho = {r: np.maximum(-delta[r].lo, delta[r].hi).reshape(-1, 1, 1) for r in axes}
            T = [Interval(lo[:, r], hi[:, r]) for r in range(k)]
            return self._forward(c, T, delta, axes)

    @staticmethod
    def _bc(x):
        """A per-box array or interval (N,) broadcast against (N, h, m)."""
        return x.reshape(-1, 1, 1)

    def _mvf(self, V: Interval, Pt: Interval, D: list, delta: dict, axes) -> Interval:
        """V intersected with the mean-value form Pt + sum_r delta_r D_r (r over the active axes)."""
        M = Pt
        for Dr, r in zip(D, axes):
            M = M + Dr.mul_sym(self._rho[r])
        return V.intersect(M)

    def _forward(self, c, T, delta, axes):
        """(F, [G_r for r in axes]) for one batch; slots: the centre point, and with active
        axes the box and one tangent per active axis. Arrays are (N boxes, units, samples)."""
        k = self.k
        act = self.act
        wide = bool(axes)
        # ---- first layer: exact affine tables
        Z1 = [z.reshape((1,) + z.shape) for z in self.Z1]  # (1, h1, m)
        zp = Z1[0]
        for s in range(k):
            zp = zp + Z1[1 + s] * self._bc(c[:, s])
        a_p = act.narrow(zp)
        a_v: Interval | None = None
        da: list[Interval] = []
        if wide:
            zv = zp
            for r in axes:
                zv = zv + Z1[1 + r].mul_sym(self._rho[r])
            dz = [Z1[1 + r] for r in axes]  # constant over the box
            a_v, da = self._activate_box(act, zv, dz, a_p, delta, axes)
        # ---- hidden layers 2..L and the output layer
        L = len(self.layers) - 1
        for idx in range(1, L + 1):
            layer = self.layers[idx]
            zp, zv, dz = self._linear(layer, a_p, a_v, da, c, axes)
            if idx < L:  # hidden
                n_p = act.narrow(zp)
                n_v: Interval | None = None
                n_d: list[Interval] = []
                if wide:
                    zv = self._mvf(zv, zp, dz, delta, axes)
                    n_v, n_d = self._activate_box(act, zv, dz, n_p, delta, axes)
                if self.residual:
                    n_p = n_p + a_p
                    if wide:
                        assert n_v is not None and a_v is not None  # wide: both computed above
                        n_v = n_v + a_v
                        n_d = [x + y for x, y in zip(n_d, da)]
                        n_v = self._mvf(n_v, n_p, n_d, delta, axes)
                a_p, a_v, da = n_p, n_v, n_d
            else:
                a_p, a_v, da = zp, zv, dz
        # ---- logits u (N, outputs, m), with the input-output skip
        up_, uv, du = a_p, a_v, da
        if self.IO is not None:
            IO = [z.reshape((1,) + z.shape) for z in self.IO]
            io_p = IO[0]
            for s in range(k):
                io_p = io_p + IO[1 + s] * self._bc(c[:, s])
            up_ = up_ + io_p
            if wide:
                io_v = io_p
                for r in axes:
                    io_v = io_v + IO[1 + r].mul_sym(self._rho[r])
                uv = uv + io_v
                du = [d + IO[1 + r] for r, d in zip(axes, du)]
        if wide:
            assert uv is not None  # wide: the box slot was computed layer by layer
            uv = self._mvf(uv, up_, du, delta, axes)
        # ---- per-sample loss and its derivative in u
        lp, lv, dl = self._sample_loss(up_, uv if wide else None)
        fp = isum(lp, (1, 2)) / float(self.m)
        if not wide:
            if self.l2 > 0:
                fp, _, _ = self._add_l2(fp, None, [], c, T, axes)
            return fp, []
        fv = isum(lv, (1, 2)) / float(self.m)
        g = [isum(dl * d, (1, 2)) / float(self.m) for d in du]
        if self.l2 > 0:
            fp, fv, g = self._add_l2(fp, fv, g, c, T, axes)
        # the centred form f(t^) + grad f(Q) . (Q - t^) and the naive range both contain f(Q)
        M = fp
        for gr, r in zip(g, axes):
            M = M + gr * delta[r]
        return fv.intersect(M), g

    def _activate_box(self, act, zv, dz, a_p, delta, axes):
        """phi over the box and its tangents phi'(z) dz_r, intersected with the mean-value form."""
        a_v = act.value(zv)
        d = act.deriv(zv, a_v)
        da = [d * x for x in dz]
        return self._mvf(a_v, a_p, da, delta, axes), da

    def _weights(self, idx_matrix, c, axes):
        """The layer's weight matrix over the batch: midpoint W(t^) (N, o, i), the radius of W(t^)
        (its rounding) and of W(Q) (plus sum_r rho_r |W(D_r)|), as in §13.2."""
        k = self.k
        Ws = [v[idx_matrix] for v in self.V]  # W(theta_0), W(D_1), ..., W(D_k): exact floats
        Wm = np.broadcast_to(Ws[0], (c.shape[0],) + Ws[0].shape).copy()
        mag = np.abs(Wm)
        for s in range(k):
            term = Ws[1 + s][None] * c[:, s].reshape(-1, 1, 1)
            Wm += term
            mag += np.abs(term)
        # 2k roundings per entry (k products, k sums): |fl - exact| <= gamma_{2k+1} mag + k eta / 2, the eta's from
        # products that underflow (docs/theory.md §13.3, Lemma W)
        rad_p = up_pos(up_pos(up_pos(gamma(2 * k + 2) * mag) + 2 * k * ETA) * (1.0 + 8 * U))
        rad_q = rad_p
        for r in axes:
            rad_q = up_pos(rad_q + up_pos(np.abs(Ws[1 + r])[None] * self._rho[r]))
        return Wm, rad_p, rad_q, Ws

    def _linear(self, layer: _Layer, a_p, a_v, da, c, axes):
        """z = W(t) a + b(t) for the point slot, the box slot and the tangent slots:
        z(t^) = W(t^) a(t^) + b(t^), z(Q) = W(Q) a(Q) + b(Q), d_r z = W(Q) d_r a + W(D_r) a(Q) + b(D_r)."""
        k = self.k
        Wm, rad_p, rad_q, Ws = self._weights(layer.W, c, axes)
        zp = batched_matmul(Wm, rad_p, a_p)
        zv, dz = None, []
        if a_v is not None:
            m = a_v.shape[2]
            stacked = Interval(np.concatenate([a_v.lo, *[d.lo for d in da]], axis=2),
                               np.concatenate([a_v.hi, *[d.hi for d in da]], axis=2))
            prod = batched_matmul(Wm, rad_q, stacked)  # (N, o, S m)
            zv = prod[:, :, :m]
            # W(D_r) a(Q): shared point matrices, stacked into one product
            Wd = np.concatenate([Ws[1 + r] for r in axes], axis=0)[None]
            extra = batched_matmul(Wd, np.zeros_like(Wd), a_v)
            o = Ws[0].shape[0]
            for j in range(len(axes)):
                dz.append(prod[:, :, (1 + j) * m:(2 + j) * m] + extra[:, j * o:(j + 1) * o, :])
        if layer.b is not None:
            b = [v[layer.b].reshape(1, -1, 1) for v in self.V]  # (1, o, 1)
            bp = _pt(b[0])
            for s in range(k):
                # b(D_s) t^_s is an interval product (rounded outward), not a float product taken as exact:
                # where b(theta_0) and b(D_s) t^_s cancel, the product's rounding dominates the sum
                bp = bp + _pt(b[1 + s]) * self._bc(c[:, s])
            zp = zp + bp
            if a_v is not None:
                bv = bp
                for r in axes:
                    bv = bv + _pt(b[1 + r]).mul_sym(self._rho[r])
                zv = zv + bv
                dz = [d + b[1 + r] for r, d in zip(axes, dz)]
        return zp, zv, dz

    def _sample_loss(self, up_, uv):
        """Per-(output, sample) loss at the point, over the box, and its derivative in u over the box."""
        y = self._y.reshape(1, self._y.shape[0], self.m)
        if self.loss_kind == "bce":
            ypos = (y > 0)
            ylt1 = (y < 1)
            assert self._one_minus_y is not None  # built for BCE in __init__
            omy = self._one_minus_y.reshape(y.shape)

            def bce(u):
                sp_pos = Interval(softplus_bounds(u.lo)[0], softplus_bounds(u.hi)[1])  # softplus(u), increasing
                sp_neg = Interval(softplus_bounds(-u.hi)[0], softplus_bounds(-u.lo)[1])  # softplus(-u)
                t1 = sp_neg * y
                t2 = sp_pos * omy
                # a term with a zero coefficient is exactly 0 (also where the logit is unbounded)
                t1 = Interval(np.where(ypos, t1.lo, 0.0), np.where(ypos, t1.hi, 0.0))
                t2 = Interval(np.where(ylt1, t2.lo, 0.0), np.where(ylt1, t2.hi, 0.0))
                return t1 + t2

            if uv is None:
                return bce(up_), None, None
            return bce(up_), bce(uv), logistic_image(uv) - y
        oa = self.out_act
        if oa == "identity":
            lp = (up_ - y).square()
            if uv is None:
                return lp, None, None
            ev = uv - y
            return lp, ev.square(), ev.scale_exact(2.0)
        out = INTERVAL_ACTIVATIONS["logistic" if oa == "logistic" else "tanh"]
        lp = (out.narrow(up_) - y).square()
        if uv is None:
            return lp, None, None
        yv = out.value(uv)
        ev = yv - y
        return lp, ev.square(), ev.scale_exact(2.0) * out.deriv(uv, yv)

    def _add_l2(self, fp, fv, g, c, T, axes):
        """lambda ||theta_0 + D t||^2 = lambda (G_00 + 2 sum_s t_s G_0s + sum_rs t_r t_s G_rs)."""
        k = self.k
        G = self.gram
        assert G is not None  # called only for l2 > 0, where __init__ built it
        lam = self.l2

        def quad(ts):  # ts: list of Intervals or float arrays (N,)
            q = Interval(np.full(fp.shape, G.lo[0, 0]), np.full(fp.shape, G.hi[0, 0]))
            for s in range(k):
                q = q + G[0, 1 + s] * ts[s] * 2.0
            for r in range(k):
                for s in range(k):
                    q = q + (G[1 + r, 1 + s] * ts[r]) * ts[s]
            return q * lam

        ptc = [_pt(c[:, s]) for s in range(k)]
        fp = fp + quad(ptc)
        if fv is None:
            return fp, None, g
        fv = fv + quad(T)
        for j, r in enumerate(axes):
            d = Interval(np.full(fp.shape, G.lo[0, 1 + r]), np.full(fp.shape, G.hi[0, 1 + r]))
            for s in range(k):
                d = d + G[1 + r, 1 + s] * T[s]
            g[j] = g[j] + d * (2.0 * lam)
        return fp, fv, g

    # -------------------------------------------------------------- high precision at points
    def point_arb(self, t, prec: int = 128):
        """(lo, hi) floats around f(t) at one point t (k floats), by :func:`loss_arb` at ``prec`` bits."""
        v = loss_arb(self, t, prec=prec, gradient=False)[0]
        return arb_float_bounds(v)

