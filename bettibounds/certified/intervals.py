"""Vectorised interval arithmetic in float64 with outward rounding (docs/theory.md §13.3).

An :class:`Interval` holds two numpy arrays ``lo <= hi`` of the same shape; every
operation returns an interval that contains the exact result of the operation for every
choice of real numbers in the operands. The arithmetic uses only what IEEE 754 guarantees
in round-to-nearest (numpy's ``+ - * /`` and ``sqrt`` on float64 are correctly rounded):

* **outward rounding without switching the rounding mode**: a correctly rounded result
  ``y`` of one operation is within half a unit in the last place of the exact value, so
  ``down(y) = y - (|y| 2^-52 + eta)`` and ``up(y) = y + (|y| 2^-52 + eta)`` (computed in
  round-to-nearest, eta = 2^-1074) are a lower and an upper bound of it (§13.3, Lemma R);
  this is 4-5 times cheaper than ``numpy.nextafter``;
* **matrix products** of a point matrix by an interval matrix in midpoint-radius form,
  with the a-priori error bound of a floating-point dot product in any summation order
  (Higham 2002, §3.1; the midpoint-radius approach of Rump 1999/2012), so the products
  are plain BLAS calls;
* **elementary functions** (exp, log1p, arctan, the normal distribution function Phi)
  evaluated by our own range reduction and Taylor / Kummer series in float64, with a
  proven relative or absolute error bound (§13.3, Lemmas E, L, A, P) -- numpy's libm
  calls are never trusted, since their accuracy is not proven.

NaN stands for "unknown": every decision made from an interval compares with ``<`` / ``>``
/ ``<=``, which are False on NaN, so a NaN bound can only make a test fail, never pass;
:meth:`Interval.sanitize` turns NaN bounds into -inf / +inf.

This module imports numpy and mpmath only (for the constants' bracketing floats).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "Interval", "down", "up", "up_pos", "down_pos", "gamma", "matmul", "matmul_many", "batched_matmul", "isum",
    "exp_bounds", "log1p_bounds", "atan_bounds", "phi_cdf_bounds", "X_OVERFLOW", "X_UNDERFLOW", "EPS_EXP",
    "EPS_LOG1P", "EPS_ATAN", "EPS_PHI", "U", "ETA", "CONSTANTS",
]

U = 2.0 ** -53  #: unit roundoff of float64
ETA = 2.0 ** -1074  #: smallest positive (subnormal) float64
REALMIN = 2.0 ** -1022  #: smallest positive normal float64
DBL_MAX = float(np.finfo(np.float64).max)
_C52 = 2.0 ** -52

#: proven relative error bounds of the elementary functions (docs/theory.md §13.3)
EPS_EXP = 2.0 ** -46
EPS_LOG1P = 2.0 ** -46
EPS_ATAN = 2.0 ** -45
#: proven absolute error bound of Phi (the standard normal distribution function)
EPS_PHI = 2.0 ** -42


def down(y):
    """A float <= the exact value of any real whose round-to-nearest is ``y`` (§13.3, Lemma R):
    y - (|y| 2^-52 + eta), each operation rounded to nearest."""
    if not isinstance(y, np.ndarray) or y.ndim == 0:
        return y - (np.abs(y) * _C52 + ETA)
    t = np.abs(y)
    t *= _C52
    t += ETA
    return np.subtract(y, t, out=t)


def up(y):
    """A float >= the exact value of any real whose round-to-nearest is ``y`` (§13.3, Lemma R):
    y + (|y| 2^-52 + eta), each operation rounded to nearest."""
    if not isinstance(y, np.ndarray) or y.ndim == 0:
        return y + (np.abs(y) * _C52 + ETA)
    t = np.abs(y)
    t *= _C52
    t += ETA
    return np.add(y, t, out=t)


def up_pos(y):
    """``up`` for y >= 0 (or +inf): y (1 + 2^-51) + eta, two operations (§13.3, Lemma R)."""
    t = y * (1.0 + 2.0 * _C52)
    t += ETA
    return t


def down_pos(y):
    """``down`` for y >= 0: y (1 - 2^-51) - eta, two operations (§13.3, Lemma R)."""
    t = y * (1.0 - 2.0 * _C52)
    t -= ETA
    return t


def gamma(n: int) -> float:
    """An upper bound (a float) of gamma_n = n u / (1 - n u), u = 2^-53, for n u < 1/2."""
    if n * U >= 0.01:
        raise ValueError("gamma_n bound used outside n u < 0.01")
    return float(n) * U * 1.02  # n u / (1 - n u) <= 1.0102 n u for n u <= 0.01; 1.02 n u rounds to >= that


def _bracket(value) -> tuple[float, float]:
    """Floats (lo, hi) with lo <= value <= hi for an mpmath number computed at 200 bits."""
    f = float(value)
    return float(np.nextafter(f, -np.inf)), float(np.nextafter(f, np.inf))


def _constants() -> dict:
    import mpmath

    with mpmath.workprec(200):
        ln2 = mpmath.log(2)
        # ln 2 = L1 + L2 + e with L1 of 32 significant bits (so n * L1 is exact for |n| < 2^21)
        L1 = math.floor(ln2 * 2 ** 32) / 2 ** 32
        L2 = float(ln2 - L1)
        err_l = abs(ln2 - L1 - L2)
        return {
            "ln2_1": float(L1), "ln2_2": L2, "ln2_err": float(err_l) * 1.01,
            "inv_ln2": float(1 / ln2),
            "pi_2": _bracket(mpmath.pi / 2), "pi_4": _bracket(mpmath.pi / 4),
            "inv_sqrt2": float(1 / mpmath.sqrt(2)),
            "two_over_sqrtpi": _bracket(2 / mpmath.sqrt(mpmath.pi)),
            "inv_sqrt2pi": _bracket(1 / mpmath.sqrt(2 * mpmath.pi)),
            # the ends of exp's computed range (Lemma E): above x_over, e^x > DBL_MAX; below x_under, e^x < eta
            "x_over": _bracket(mpmath.log(mpmath.mpf(DBL_MAX)))[1],
            "x_under": _bracket(mpmath.log(mpmath.mpf(2) ** -1074))[0],
        }


CONSTANTS = _constants()
assert CONSTANTS["ln2_err"] < 2.0 ** -84
#: e^x > DBL_MAX for every float x > X_OVERFLOW (a float just above ln DBL_MAX = 709.7827...), and e^x < eta
#: for every float x < X_UNDERFLOW (just below ln eta = -744.44...): exp_bounds's thresholds (Lemma E)
X_OVERFLOW, X_UNDERFLOW = CONSTANTS["x_over"], CONSTANTS["x_under"]
assert 709.78 < X_OVERFLOW < 709.79 and -744.45 < X_UNDERFLOW < -744.44

# Taylor coefficients 1/j! (j = 0..13) of exp, rounded to nearest (their error is in Lemma E)
_EXP_COEF = [1.0 / math.factorial(j) for j in range(14)]
# log1p(v) = 2 s sum_{j<20} s^{2j} / (2j + 1), s = v / (2 + v) (Lemma L)
_LOG_COEF = [1.0 / (2 * j + 1) for j in range(20)]
# atan(w) = w sum_{j<24} (-w^2)^j / (2j + 1), |w| <= 0.4143 (Lemma A)
_ATAN_COEF = [1.0 / (2 * j + 1) for j in range(24)]  # in the variable -w^2
_TAN_PI_8 = 0.4142  # just below tan(pi/8) = 0.41421356...: the reduced argument stays within 0.4143


# ------------------------------------------------------------------ the interval type
def _arr(x):
    return np.asarray(x, dtype=np.float64)


class Interval:
    """Arrays of closed intervals [lo, hi] (numpy float64, same shape).

    Operators: ``+ - *`` with another Interval or with exact float arrays / scalars
    (taken as point intervals), unary ``-``; :meth:`square`, :meth:`recip`,
    :meth:`intersect`, :meth:`hull`. Every result contains the exact result.
    """

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi=None):
        self.lo = _arr(lo)
        self.hi = self.lo if hi is None else _arr(hi)

    # ----------------------------------------------------------- basics
    @property
    def shape(self):
        return self.lo.shape

    def __repr__(self) -> str:
        return f"Interval(lo={self.lo!r}, hi={self.hi!r})"

    def __getitem__(self, idx) -> Interval:
        return Interval(self.lo[idx], self.hi[idx])

    def reshape(self, *shape) -> Interval:
        return Interval(self.lo.reshape(*shape), self.hi.reshape(*shape))

    def copy(self) -> Interval:
        return Interval(self.lo.copy(), self.hi.copy())

    def mid(self):
        return 0.5 * self.lo + 0.5 * self.hi  # no overflow for finite bounds

    def width(self):
        return self.hi - self.lo

    def contains(self, x) -> np.ndarray:
        x = _arr(x)
        return (self.lo <= x) & (x <= self.hi)

    def sanitize(self) -> Interval:
        """NaN lower bounds become -inf, NaN upper bounds +inf (in place; returns self)."""
        np.copyto(self.lo, -np.inf, where=np.isnan(self.lo))
        np.copyto(self.hi, np.inf, where=np.isnan(self.hi))
        return self

    # ------------------------------------------------------ arithmetic
    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __add__(self, other) -> Interval:
        if isinstance(other, Interval):
            return Interval(down(self.lo + other.lo), up(self.hi + other.hi))
        o = _arr(other)
        return Interval(down(self.lo + o), up(self.hi + o))

    __radd__ = __add__

    def __sub__(self, other) -> Interval:
        if isinstance(other, Interval):
            return Interval(down(self.lo - other.hi), up(self.hi - other.lo))
        o = _arr(other)
        return Interval(down(self.lo - o), up(self.hi - o))

    def __rsub__(self, other) -> Interval:
        o = _arr(other)
        return Interval(down(o - self.hi), up(o - self.lo))

    def __mul__(self, other) -> Interval:
        if isinstance(other, Interval):
            a, b, c, d = self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi
            if np.ndim(a) == 0:
                return Interval(down(min(a, b, c, d)), up(max(a, b, c, d))) if not np.isnan([a, b, c, d]).any() \
                    else Interval(np.nan, np.nan)
            lo = np.minimum(a, b)
            np.minimum(lo, c, out=lo)
            np.minimum(lo, d, out=lo)
            np.maximum(a, b, out=a)
            np.maximum(a, c, out=a)
            np.maximum(a, d, out=a)
            return Interval(down(lo), up(a))
        o = _arr(other)
        a, b = self.lo * o, self.hi * o
        if np.ndim(a) == 0:
            return Interval(down(np.minimum(a, b)), up(np.maximum(a, b)))
        lo = np.minimum(a, b)
        np.maximum(a, b, out=a)
        return Interval(down(lo), up(a))

    __rmul__ = __mul__

    def mul_sym(self, rho) -> Interval:
        """The product with the symmetric interval [-rho, rho] (rho >= 0): [-rho M, rho M] with M
        the larger absolute value of the bounds."""
        M = np.maximum(np.abs(self.lo), np.abs(self.hi))
        r = up_pos(M * rho)
        return Interval(-r, r)

    def scale_exact(self, s: float) -> Interval:
        """Multiplication by a power of two s > 0 (exact unless it under- or overflows)."""
        lo, hi = self.lo * s, self.hi * s
        return Interval(down(lo), up(hi))

    def square(self) -> Interval:
        """The exact range of x^2 over the interval (not the product of two independent copies)."""
        a, b = self.lo * self.lo, self.hi * self.hi
        hi = up(np.maximum(a, b))
        lo = down(np.minimum(a, b))
        lo = np.where((self.lo <= 0) & (self.hi >= 0), 0.0, lo)
        lo = np.where(np.isnan(a) | np.isnan(b), np.nan, np.maximum(lo, 0.0))
        return Interval(lo, hi)

    def recip(self) -> Interval:
        """1 / x for intervals not containing 0 (NaN where they do, or where a bound is NaN: unknown)."""
        bad = ((self.lo <= 0) & (self.hi >= 0)) | np.isnan(self.lo) | np.isnan(self.hi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lo, hi = down(1.0 / self.hi), up(1.0 / self.lo)
        lo = np.where(bad, np.nan, lo)
        hi = np.where(bad, np.nan, hi)
        return Interval(lo, hi)

    def __truediv__(self, other) -> Interval:
        if isinstance(other, Interval):
            return self * other.recip()
        o = _arr(other)
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = self.lo / o, self.hi / o
        return Interval(down(np.minimum(a, b)), up(np.maximum(a, b)))

    def intersect(self, other: Interval) -> Interval:
        """The intersection (both contain the exact value, so it is never empty for it)."""
        return Interval(np.maximum(self.lo, other.lo), np.minimum(self.hi, other.hi))

    def hull(self, other: Interval) -> Interval:
        return Interval(np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi))

    def clip(self, lo: float, hi: float) -> Interval:
        """Intersect with [lo, hi] (a range the exact value is known to lie in)."""
        return Interval(np.maximum(self.lo, lo), np.minimum(self.hi, hi))

    def power(self, p: int) -> Interval:
        """The exact range of x^p (p >= 1 an integer) over the interval."""
        if p == 1:
            return self
        if p == 2:
            return self.square()
        if p % 2:  # odd: increasing
            return Interval(_signed_pow(self.lo, p, lower=True), _signed_pow(self.hi, p, lower=False))
        a = np.maximum(np.abs(self.lo), np.abs(self.hi))
        b = np.where((self.lo <= 0) & (self.hi >= 0), 0.0, np.minimum(np.abs(self.lo), np.abs(self.hi)))
        return Interval(_pos_pow(b, p, lower=True), _pos_pow(a, p, lower=False))


def _pos_pow(x, p: int, lower: bool):
    """A lower (upper) bound of x^p for x >= 0, by binary powering with directed rounding."""
    rnd = down if lower else up
    result = np.ones_like(x)
    base = x.copy()
    first = True
    while p:
        if p & 1:
            result = base.copy() if first else rnd(result * base)
            first = False
        p >>= 1
        if p:
            base = rnd(base * base)
        if lower:
            base = np.maximum(base, 0.0)
            result = np.maximum(result, 0.0)
    return result


def _signed_pow(x, p: int, lower: bool):
    """Lower (upper) bound of x^p for odd p and any sign of x."""
    a = np.abs(x)
    neg = x < 0
    # x^p = -|x|^p for x < 0: a lower bound of x^p is -(an upper bound of |x|^p)
    lo_abs, hi_abs = _pos_pow(a, p, lower=True), _pos_pow(a, p, lower=False)
    if lower:
        return np.where(neg, -hi_abs, lo_abs)
    return np.where(neg, -lo_abs, hi_abs)


# ------------------------------------------------------------------ products and sums
def _unbounded_if_nan(lo, hi):
    """(lo, hi) with NaN bounds replaced by -inf / +inf. A product's midpoint overflows to NaN where
    two of its terms overflow with opposite signs (inf - inf), and the exact entry may then have any
    sign: the products return no NaN, so that no function of a NaN bound has to know what it means."""
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


def matmul(A, X: Interval) -> Interval:
    """The interval product ``A @ X`` of a float matrix A (n_out, n) by X (n, ...).

    Midpoint-radius (§13.3, Lemma M): with m = mid X and X in m +- r, A X lies in
    ``fl(A @ m) +- ((|A| r + gamma_n |A||m| + n eta) (1 + 2 gamma_n) + n eta)``, both products by
    BLAS; the term |A||m| is bounded without a third product by ``rowsum|A| * max_j |m_j|``
    (the largest midpoint of each column). Non-finite inputs give infinite radii.
    """
    return matmul_many([A], X)[0]


def matmul_many(As, X: Interval) -> list:
    """[A @ X for A in As] (float matrices with X.shape[0] columns): the midpoint-radius form of X
    is computed once and the matrices are stacked into one BLAS product per half."""
    As = [np.asarray(A, dtype=np.float64) for A in As]
    n = As[0].shape[1]
    shape = X.lo.shape
    lo, hi = X.lo.reshape(n, -1), X.hi.reshape(n, -1)
    m = 0.5 * lo + 0.5 * hi
    r = np.maximum(up(m - lo), up(hi - m))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(r) | np.isnan(m)
    if bad.any():
        m = np.where(bad, 0.0, m)
        r = np.where(bad, np.inf, r)
    g = gamma(n)
    A = np.concatenate(As, axis=0) if len(As) > 1 else As[0]
    absA = np.abs(A)
    with np.errstate(invalid="ignore", over="ignore"):  # overflow: infinite bounds, below
        C = A @ m
        R = absA @ r
        colmax = np.max(np.abs(m), axis=0)  # max_j |m_jc|
        extra = up_pos(up_pos(g * absA.sum(axis=1))[:, None] * colmax[None, :]) + 2 * n * ETA
        rad = up_pos(up_pos(R + extra) * (1.0 + 2.0 * g + 4 * U))
        rad = np.where(np.isnan(rad), np.inf, rad)
        out_lo, out_hi = _unbounded_if_nan(down(C - rad), up(C + rad))
    res, row = [], 0
    for Ai in As:
        k = Ai.shape[0]
        res.append(Interval(out_lo[row:row + k].reshape((k,) + shape[1:]),
                            out_hi[row:row + k].reshape((k,) + shape[1:])))
        row += k
    return res


def batched_matmul(Wm, Wr, X: Interval) -> Interval:
    """[Wm +- Wr] @ X for interval matrices given by midpoint Wm and radius Wr >= 0, shapes (N, o, n)
    (or (1, o, n), broadcast), times X (N, n, cols): one product per box, by numpy's batched matmul.

    Midpoint-radius (§13.3, Lemma M'): W x lies in ``Wm xm +- (|Wm| xr + Wr (|xm| + xr))``; the computed
    ``fl(Wm @ xm)`` errs by at most ``gamma_n rowsum|Wm| max_j |xm_j| + n eta``, the two radius products
    are rounded upward by the factor (1 + 2 gamma_n) and ``n eta`` each.
    """
    n = X.lo.shape[-2]
    lo, hi = X.lo, X.hi
    m = 0.5 * lo + 0.5 * hi
    r = np.maximum(up(m - lo), up(hi - m))
    with np.errstate(invalid="ignore", over="ignore"):  # overflow: infinite bounds
        bad = ~np.isfinite(r) | np.isnan(m)
        if bad.any():
            m = np.where(bad, 0.0, m)
            r = np.where(bad, np.inf, r)
        g = gamma(n)
        absW = np.abs(Wm)
        C = np.matmul(Wm, m)
        am = np.abs(m)
        R = np.matmul(absW, r)
        R += np.matmul(Wr, up_pos(am + r))
        colmax = am.max(axis=-2, keepdims=True)  # (N, 1, cols)
        rowsum = up_pos(g * absW.sum(axis=-1, keepdims=True))  # (N, o, 1)
        R += up_pos(rowsum * colmax)
        R += 3 * n * ETA
        rad = up_pos(R * (1.0 + 2.0 * g + 8 * U))
        rad = np.where(np.isnan(rad), np.inf, rad)
        return Interval(*_unbounded_if_nan(down(C - rad), up(C + rad)))


def isum(X: Interval, axis) -> Interval:
    """The exact sum's enclosure along ``axis`` (an int or tuple): any summation order errs
    by at most gamma_{n-1} times the sum of absolute values (Higham 2002, (4.4))."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = int(np.prod([X.lo.shape[a] for a in axes]))
    g = gamma(max(n, 2))

    def bound(v, lower):
        s = np.sum(v, axis=axes)
        a = np.sum(np.abs(v), axis=axes)
        e = up(up(g * a) * (1.0 + 2.0 * g + 4 * U))
        return down(s - e) if lower else up(s + e)

    return Interval(bound(X.lo, True), bound(X.hi, False))


# ------------------------------------------------------------------ elementary functions
def _horner(coef, x):
    """Horner's rule in floats: p = p x + c_j, two roundings per step (Higham 2002, (5.3))."""
    p = np.full_like(x, coef[-1])
    for c in reversed(coef[:-1]):
        p *= x
        p += c
    return p


def exp_bounds(x):
    """(lo, hi) with lo <= e^x <= hi for float64 x (§13.3, Lemma E: relative error 2^-46).

    x = n ln 2 + r with |r| <= 0.35 (Cody-Waite with a 32-bit head of ln 2), e^r by its
    degree-13 Taylor polynomial, scaled by 2^n, for X_UNDERFLOW <= x <= X_OVERFLOW (|n| <= 1075);
    beyond, where e^x > DBL_MAX provably, (DBL_MAX, inf), and where e^x < eta, (0, eta); NaN gives
    (0, inf). A lower bound that overflows in the scaling is replaced by DBL_MAX (the exact value exceeds it).
    """
    x = _arr(x)
    c = CONSTANTS
    if x.size == 0:
        return x.copy(), x.copy()
    with np.errstate(invalid="ignore"):
        xmin, xmax = float(np.min(x)), float(np.max(x))
    plain = -708.0 <= xmin and xmax <= 709.0  # no NaN, no overflow, no subnormal results
    if plain:
        xm = x
    else:
        with np.errstate(invalid="ignore"):
            big = x > X_OVERFLOW
            small = x < X_UNDERFLOW
        nan = np.isnan(x)
        mid = ~(big | small | nan)
        xm = np.where(mid, x, 0.0)
    n = np.rint(xm * c["inv_ln2"])
    r = xm - n * c["ln2_1"]
    r -= n * c["ln2_2"]
    p = _horner(_EXP_COEF, r)
    plo = down_pos(p * (1.0 - EPS_EXP))
    phi = up_pos(p * (1.0 + EPS_EXP))
    ni = n.astype(np.int64)
    with np.errstate(over="ignore", under="ignore"):
        elo = np.ldexp(plo, ni)
        ehi = np.ldexp(phi, ni)
    if plain:
        return elo, ehi
    # ldexp rounds only into the subnormal range (a result <= REALMIN may have been rounded up to
    # it): widen there; an overflowed lower bound means the exact value exceeds DBL_MAX
    with np.errstate(invalid="ignore"):  # down(inf) = inf - inf where the scaling overflowed: replaced below
        elo = np.where(elo <= REALMIN, np.maximum(down(elo), 0.0), elo)
        ehi = np.where(ehi <= REALMIN, up(ehi), ehi)
    elo = np.where(np.isinf(elo), DBL_MAX, elo)
    lo = np.where(mid, elo, 0.0)
    hi = np.where(mid, ehi, 0.0)
    lo[big], hi[big] = DBL_MAX, np.inf
    lo[small], hi[small] = 0.0, ETA
    lo[nan], hi[nan] = 0.0, np.inf
    return lo, hi


def log1p_bounds(v):
    """(lo, hi) around log(1 + v) for float64 v in [0, 1] (§13.3, Lemma L: relative 2^-46,
    plus 4 eta absolute for subnormal v). Values outside [0, 1] give NaN."""
    v = _arr(v)
    ok = (v >= 0) & (v <= 1)
    vv = np.where(ok, v, 0.0)
    s = vv / (2.0 + vv)
    w = s * s
    q = _horner(_LOG_COEF, w)
    y = 2.0 * (s * q)
    lo = np.maximum(down(down(y * (1.0 - EPS_LOG1P)) - 4 * ETA), 0.0)
    hi = up(up(y * (1.0 + EPS_LOG1P)) + 4 * ETA)
    lo = np.where(ok, lo, np.nan)
    hi = np.where(ok, hi, np.nan)
    return lo, hi


def atan_bounds(x):
    """(lo, hi) around arctan(x) for float64 x (§13.3, Lemma A: relative error 2^-45, plus
    4 eta absolute): reduction to |w| <= 0.4143 and the alternating Taylor series."""
    x = _arr(x)
    a = np.abs(x)
    with np.errstate(divide="ignore"):
        big = a > 1.0
        b = np.where(big, 1.0 / np.where(big, a, 1.0), a)
    mid = b > _TAN_PI_8
    w = np.where(mid, (b - 1.0) / (b + 1.0), b)
    y = w * _horner(_ATAN_COEF, -(w * w))
    pi4 = CONSTANTS["pi_4"][1]
    pi2 = CONSTANTS["pi_2"][1]
    y = np.where(mid, pi4 + y, y)
    y = np.where(big, pi2 - y, y)
    e = up(np.abs(y) * EPS_ATAN) + 4 * ETA
    lo, hi = down(y - e), up(y + e)
    neg = x < 0
    lo, hi = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
    nan = np.isnan(x)
    lo = np.where(nan, -2.0, lo)  # |arctan| < pi/2 < 2
    hi = np.where(nan, 2.0, hi)
    return np.maximum(lo, -CONSTANTS["pi_2"][1]), np.minimum(hi, CONSTANTS["pi_2"][1])


def phi_cdf_bounds(z):
    """(lo, hi) around Phi(z) = (1 + erf(z / sqrt 2)) / 2 for float64 z (§13.3, Lemma P:
    absolute error 2^-42). erf(x), x >= 0, by Kummer's series (all terms positive,
    DLMF 7.6.2): erf x = (2 / sqrt pi) e^{-x^2} sum_n x (2 x^2)^n / (2n + 1)!!."""
    z = _arr(z)
    x = np.abs(z) * CONSTANTS["inv_sqrt2"]
    tail = ~(x < 6.01)  # |z| >= 8.49: 1 - Phi(|z|) <= phi(|z|)/|z| < 2e-17 (and NaN)
    xs = np.where(tail, 0.0, x)
    x2 = xs * xs
    w = 2.0 * x2
    wmax = float(w.max()) if w.size else 0.0
    N = int(math.ceil(wmax * (1 + 1e-12))) + 60
    q = np.ones_like(xs)
    for n in range(N - 1, 0, -1):
        q = 1.0 + q * (w * (1.0 / (2 * n + 1)))
    e_lo, e_hi = exp_bounds(-x2)
    em = 0.5 * (e_lo + e_hi)
    erf = CONSTANTS["two_over_sqrtpi"][1] * (em * (xs * q))
    erf = np.minimum(erf, 1.0)
    val = np.where(z < 0, 0.5 - 0.5 * erf, 0.5 + 0.5 * erf)
    lo = np.maximum(down(val - EPS_PHI), 0.0)
    hi = np.minimum(up(val + EPS_PHI), 1.0)
    neg_tail = tail & (z < 0)
    pos_tail = tail & (z > 0)
    lo = np.where(neg_tail, 0.0, np.where(pos_tail, 1.0 - 2e-17 - 1e-16, lo))
    hi = np.where(neg_tail, 2e-17, np.where(pos_tail, 1.0, hi))
    nan = np.isnan(z)
    return np.where(nan, 0.0, lo), np.where(nan, 1.0, hi)
