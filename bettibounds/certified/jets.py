"""Second-order jets (value, gradient, Hessian) over floats or arb balls.

A :class:`Jet` carries f, its gradient and its Hessian with respect to the P
parameters. Arithmetic follows the product and chain rules exactly; over arb balls
(python-flint) every operation returns a ball that contains the true result for every
point of the input balls, so a Jet evaluated on a box of parameters encloses the loss,
its gradient and its Hessian on the whole box. Over floats it is plain forward-mode
automatic differentiation (used to find candidate minimisers).

Storage: numpy arrays of dtype float64 (float backend) or object (arb backend).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Jet", "Backend", "FLOAT", "arb_backend", "scalar_functions"]


class Backend:
    """How scalars are made and how elementary functions are evaluated."""

    def __init__(self, name, const, dtype, exp, log, tanh, atan, erf, sqrt, pi):
        self.name, self.const, self.dtype = name, const, dtype
        self.exp, self.log, self.tanh, self.atan, self.erf, self.sqrt, self.pi = exp, log, tanh, atan, erf, sqrt, pi

    def zeros(self, shape):
        if self.dtype is object:
            out = np.empty(shape, dtype=object)
            out.fill(self.const(0))
            return out
        return np.zeros(shape)


def _float_backend() -> Backend:
    from math import erf, pi

    return Backend("float", float, np.float64, np.exp, np.log, np.tanh, np.arctan, np.vectorize(erf),
                   np.sqrt, pi)


FLOAT = _float_backend()


def arb_backend() -> Backend:
    """Ball arithmetic with python-flint (raises a clear error when it is missing)."""
    from .._lib.extras import require

    # (mpmath.iv lacks tanh/atan enclosures, so it is no fallback)
    arb = require("certify", "flint", "certified lower bounds (ball arithmetic)").arb

    def const(v):
        if isinstance(v, arb):
            return v
        if isinstance(v, float):
            return arb(v)  # binary floats are exact
        from fractions import Fraction

        v = Fraction(v)
        return arb(v.numerator) / arb(v.denominator)

    return Backend("arb", const, object, lambda x: x.exp(), lambda x: x.log(), lambda x: x.tanh(),
                   lambda x: x.atan(), lambda x: x.erf(), lambda x: x.sqrt(), arb.pi())


class Jet:
    """f with gradient g (P,) and Hessian H (P, P); H is None for first-order jets."""

    __slots__ = ("v", "g", "H", "bk")

    def __init__(self, v, g, H, bk: Backend):
        self.v, self.g, self.H, self.bk = v, g, H, bk

    # ------------------------------------------------------------ constructors
    @classmethod
    def constant(cls, v, P: int, bk: Backend, order: int = 2) -> Jet:
        return cls(bk.const(v), bk.zeros(P), bk.zeros((P, P)) if order == 2 else None, bk)

    @classmethod
    def variable(cls, v, p: int, P: int, bk: Backend, order: int = 2) -> Jet:
        g = bk.zeros(P)
        g[p] = bk.const(1)
        return cls(bk.const(v) if bk.dtype is object else v, g, bk.zeros((P, P)) if order == 2 else None, bk)

    # -------------------------------------------------------------- arithmetic
    def _lift(self, other):
        if isinstance(other, Jet):
            return other
        value = self.bk.const(other) if self.bk.dtype is object else float(other)
        return Jet(value, 0, 0 if self.H is not None else None, self.bk)

    def __add__(self, other):
        o = self._lift(other)
        return Jet(self.v + o.v, self.g + o.g, None if self.H is None else self.H + o.H, self.bk)

    __radd__ = __add__

    def __neg__(self):
        return Jet(-self.v, -self.g, None if self.H is None else -self.H, self.bk)

    def __sub__(self, other):
        return self + (-self._lift(other))

    def __rsub__(self, other):
        return self._lift(other) + (-self)

    def __mul__(self, other):
        if not isinstance(other, Jet):
            c = self.bk.const(other) if self.bk.dtype is object else float(other)
            return Jet(self.v * c, self.g * c, None if self.H is None else self.H * c, self.bk)
        a, b = self, other
        H = None
        if a.H is not None:
            outer = np.multiply.outer(a.g, b.g)
            H = a.H * b.v + b.H * a.v + outer + outer.T
        return Jet(a.v * b.v, a.g * b.v + b.g * a.v, H, self.bk)

    __rmul__ = __mul__

    def apply(self, f0, f1, f2) -> Jet:
        """phi(self) given phi, phi', phi'' evaluated at self.v (chain rule, second order)."""
        H = None if self.H is None else self.H * f1 + np.multiply.outer(self.g, self.g) * f2
        return Jet(f0, self.g * f1, H, self.bk)

    def square(self) -> Jet:
        return self * self


def scalar_functions(name: str, bk: Backend):
    """``x -> (phi(x), phi'(x), phi''(x))`` for a registry activation (or output function)."""
    exp, log, tanh, atan, erf, sqrt, pi = bk.exp, bk.log, bk.tanh, bk.atan, bk.erf, bk.sqrt, bk.pi
    one = bk.const(1)

    def sig(x):
        with np.errstate(over="ignore"):  # floats: e^{-x} = inf below x = -709 gives s = 0, the right limit
            s = one / (one + exp(-x))
        d1 = s * (one - s)
        return s, d1, d1 * (one - 2 * s)

    if name == "logistic":
        return sig
    if name == "tanh":
        def f(x):
            t = tanh(x)
            d1 = one - t * t
            return t, d1, -2 * t * d1
        return f
    if name == "arctan":
        def f(x):
            q = one / (one + x * x)
            return atan(x), q, -2 * x * q * q
        return f
    if name == "softplus":
        def f(x):
            s, d1, _ = sig(x)
            # log(1 + e^x) = max(x, 0) + log(1 + e^{-|x|}) is what floats need; balls are exact either way
            val = log(one + exp(x)) if bk.dtype is object else np.logaddexp(0.0, x)
            return val, s, d1
        return f
    if name == "gaussian":
        def f(x):
            e = exp(-x * x)
            return e, -2 * x * e, (4 * x * x - 2) * e
        return f
    if name == "silu":
        def f(x):
            s, d1, d2 = sig(x)
            return x * s, s + x * d1, 2 * d1 + x * d2
        return f
    if name == "gelu":
        c = one / sqrt(2 * pi)

        def f(x):
            phi = c * exp(-x * x / 2)
            Phi = (one + erf(x / sqrt(bk.const(2)))) / 2
            return x * Phi, Phi + x * phi, 2 * phi - x * x * phi
        return f
    if name == "exp":
        def f(x):
            e = exp(x)
            return e, e, e
        return f
    if name == "identity":
        return lambda x: (x, one, bk.const(0))
    if name.startswith("polynomial:"):
        p = int(name.split(":")[1])

        def f(x):  # t + t^p
            return x + x**p, one + p * x ** (p - 1), p * (p - 1) * x ** (p - 2)
        return f
    raise ValueError(f"no scalar functions for {name!r}")  # pragma: no cover
