"""Interval extensions of the activations: enclosures of phi and phi' over intervals.

For each hidden or output activation of the registry (canonical name), :func:`activation_enclosure`
gives an :class:`IntervalActivation`: ``value(I)`` encloses phi over an interval I, ``narrow(I)``
the same, cheaper for narrow I (the centre-point slot of :class:`~.loss_enclosure.SliceLoss`), and
``deriv(I, V)`` phi' over I given V = value(I). Each is built from the float64 interval arithmetic
with outward rounding of :mod:`.intervals` (monotone images, Lipschitz bounds around a midpoint,
exact ranges through interval squares; docs/theory.md §13.2-13.3). :func:`softplus_bounds` and
:func:`logistic_image` are also the BCE loss's pieces in :class:`~.loss_enclosure.SliceLoss`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .intervals import (
    CONSTANTS,
    Interval,
    atan_bounds,
    down,
    down_pos,
    exp_bounds,
    log1p_bounds,
    phi_cdf_bounds,
    up,
    up_pos,
)

__all__ = ["IntervalActivation", "INTERVAL_ACTIVATIONS", "activation_enclosure", "softplus_bounds", "logistic_image"]


def _exp_img(I: Interval) -> Interval:
    return Interval(exp_bounds(I.lo)[0], exp_bounds(I.hi)[1])


def _tanh_pt(x):
    """(lo, hi) around tanh(x): (1 - E) / (1 + E) with E = e^{-2|x|} in [0, 1] (decreasing in E);
    every quantity is >= 0, so each rounding is widened by the two-operation rules of Lemma R."""
    a = np.abs(x)
    elo, ehi = exp_bounds(-2.0 * a)
    np.minimum(ehi, 1.0, out=ehi)  # e^{-2|x|} <= 1
    with np.errstate(invalid="ignore"):
        lo = down_pos(np.maximum(down_pos(1.0 - ehi), 0.0) / up_pos(1.0 + ehi))
        hi = up_pos(up_pos(1.0 - elo) / down_pos(1.0 + elo))
    lo, hi = np.maximum(lo, 0.0), np.minimum(hi, 1.0)
    neg = x < 0
    lo, hi = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
    # NaN is an unknown argument (docs/theory.md §13.3): tanh of it is anywhere in [-1, 1] (x < 0 is False
    # on NaN, so the formulas above would claim [0, 1])
    nan = np.isnan(x)
    return np.where(nan, -1.0, lo), np.where(nan, 1.0, hi)


def _logistic_pt(x):
    """(lo, hi) around 1 / (1 + e^{-x}) (decreasing in E = e^{-x} >= 0)."""
    elo, ehi = exp_bounds(-x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lo = down_pos(1.0 / up_pos(1.0 + ehi))
        hi = up_pos(1.0 / down_pos(1.0 + elo))
    return np.maximum(np.nan_to_num(lo, nan=0.0), 0.0), np.minimum(np.nan_to_num(hi, nan=1.0), 1.0)


def softplus_bounds(x):
    """(lo, hi) around log(1 + e^x) = max(x, 0) + log1p(e^{-|x|})."""
    elo, ehi = exp_bounds(-np.abs(x))
    llo, _ = log1p_bounds(np.minimum(elo, 1.0))
    _, lhi = log1p_bounds(np.minimum(ehi, 1.0))  # e^{-|x|} <= 1, so clipping keeps an upper bound
    base = np.maximum(x, 0.0)
    return np.maximum(down(base + llo), base), up(base + lhi)


def _mono(point_fn):
    def img(I: Interval) -> Interval:
        return Interval(point_fn(I.lo)[0], point_fn(I.hi)[1])
    return img


def _lipschitz_narrow(point_fn, L: float):
    """phi (increasing) over a narrow interval from phi at its midpoint and a global Lipschitz constant L;
    where that is wider than 2^-40 of the value (a wide argument: a saturated unit behind large weights),
    intersected with the monotone image [phi(lo), phi(hi)], computed for those entries only."""
    def img(I: Interval) -> Interval:
        c = I.mid()
        r = np.maximum(up(c - I.lo), up(I.hi - c))
        lo, hi = point_fn(c)
        with np.errstate(invalid="ignore"):
            e = up(L * r)
            lo, hi = down(lo - e), up(hi + e)
            wide = np.flatnonzero(~(e <= 2.0 ** -40 * np.maximum(np.abs(lo), 1e-300)))  # and NaN
        if wide.size:
            shape = lo.shape
            lo, hi = lo.reshape(-1), hi.reshape(-1)  # views of the fresh arrays above: ours to write
            mlo, mhi = point_fn(I.lo.reshape(-1)[wide])[0], point_fn(I.hi.reshape(-1)[wide])[1]
            lo[wide], hi[wide] = np.fmax(lo[wide], mlo), np.fmin(hi[wide], mhi)
            lo, hi = lo.reshape(shape), hi.reshape(shape)
        return Interval(lo, hi)
    return img


def logistic_image(I):
    return _mono(_logistic_pt)(I)


#: where an enclosure of phi' from phi's value has its upper end below this (or NaN), the unit is saturated and
#: 1 - tanh^2, 1/4 - (sigma - 1/2)^2 have lost their relative accuracy: phi' is recomputed from e^{-|z|}
_SATURATED = 2.0 ** -20


def _refine(D: Interval, sel, lo, hi) -> Interval:
    """D with entries ``sel`` (flat indices) intersected with [lo, hi] (fmax/fmin: a NaN end is unknown)."""
    dlo, dhi = D.lo.reshape(-1).copy(), D.hi.reshape(-1).copy()
    dlo[sel], dhi[sel] = np.fmax(dlo[sel], lo), np.fmin(dhi[sel], hi)
    return Interval(dlo.reshape(D.lo.shape), dhi.reshape(D.hi.shape))


def _logistic_deriv(I: Interval, V: Interval) -> Interval:
    """sigma' over I: 1/4 - (V - 1/2)^2 (the exact range through V), and where that is below 2^-20,
    sigma(z) sigma(-z) from the two monotone images, which keeps the relative accuracy in the tails."""
    D = (0.25 - (V - 0.5).square()).clip(0.0, 0.25)
    sat = np.flatnonzero(~(D.hi.reshape(-1) > _SATURATED))
    if sat.size:
        lo, hi = I.lo.reshape(-1)[sat], I.hi.reshape(-1)[sat]
        P = Interval(_logistic_pt(lo)[0], _logistic_pt(hi)[1]) * Interval(_logistic_pt(-hi)[0], _logistic_pt(-lo)[1])
        D = _refine(D, sat, np.maximum(P.lo, 0.0), P.hi)
    return D


def _tanh_deriv(I: Interval, V: Interval) -> Interval:
    """tanh' over I: 1 - V^2 (the exact range through V), and where that is below 2^-20 (then I does not
    contain 0), 4E / (1 + E)^2 with E = e^{-2|z|}, increasing in E in [0, 1]: relative accuracy in the tails."""
    D = (1.0 - V.square()).clip(0.0, 1.0)
    sat = np.flatnonzero(~(D.hi.reshape(-1) > _SATURATED) & ~((I.lo <= 0) & (I.hi >= 0)).reshape(-1))
    if sat.size:
        lo, hi = np.abs(I.lo.reshape(-1)[sat]), np.abs(I.hi.reshape(-1)[sat])
        a_lo, a_hi = np.minimum(lo, hi), np.maximum(lo, hi)  # |z| in [a_lo, a_hi]
        e_min = exp_bounds(-2.0 * a_hi)[0]  # <= e^{-2|z|}
        e_max = np.minimum(exp_bounds(-2.0 * a_lo)[1], 1.0)  # >= e^{-2|z|}
        with np.errstate(invalid="ignore", over="ignore"):
            d_lo = down_pos(down_pos(4.0 * e_min) / up_pos(np.square(up_pos(1.0 + e_min))))
            d_hi = up_pos(up_pos(4.0 * e_max) / down_pos(np.square(down_pos(1.0 + e_max))))
        D = _refine(D, sat, np.maximum(d_lo, 0.0), d_hi)
    return D


def _phi_img(I):
    """Phi (normal distribution function) over I: increasing."""
    return Interval(phi_cdf_bounds(I.lo)[0], phi_cdf_bounds(I.hi)[1])


def _normal_pdf_img(I):
    """phi(z) = e^{-z^2/2} / sqrt(2 pi) over I."""
    s = I.square().scale_exact(0.5)
    e = Interval(exp_bounds(-s.hi)[0], exp_bounds(-s.lo)[1])
    c = CONSTANTS["inv_sqrt2pi"]
    return e * Interval(c[0], c[1])


@dataclass(frozen=True)
class IntervalActivation:
    """A hidden or output activation with interval extensions of phi and phi'.

    ``value(I)``: an enclosure of phi over I; ``narrow(I)``: the same, cheaper for narrow I
    (the centre-point slot); ``deriv(I, V)``: an enclosure of phi' over I, given V = value(I).
    """

    name: str
    value: Callable[[Interval], Interval]
    narrow: Callable[[Interval], Interval]
    deriv: Callable[[Interval, Interval], Interval]


def _poly_activation(p: int) -> IntervalActivation:
    def value(I):
        return I + I.power(p)

    def deriv(I, V):
        return I.power(p - 1) * float(p) + 1.0

    return IntervalActivation(f"polynomial:{p}", value, value, deriv)


def _gaussian_value(I):
    s = I.square()
    return Interval(exp_bounds(-s.hi)[0], exp_bounds(-s.lo)[1])


def _build_activations() -> dict:
    acts = {}

    def add(name, value, narrow, deriv):
        acts[name] = IntervalActivation(name, value, narrow, deriv)

    add("identity", lambda I: I, lambda I: I, lambda I, V: Interval(np.ones_like(I.lo)))
    # tanh' = 1 - tanh^2 (exact range through the interval square); |tanh'| <= 1
    add("tanh", _mono(_tanh_pt), _lipschitz_narrow(_tanh_pt, 1.0), _tanh_deriv)
    # sigma' = sigma (1 - sigma) = 1/4 - (sigma - 1/2)^2 = sigma(z) sigma(-z); |sigma'| <= 1/4
    add("logistic", _mono(_logistic_pt), _lipschitz_narrow(_logistic_pt, 0.25), _logistic_deriv)
    # arctan' = 1 / (1 + t^2) <= 1
    add("arctan", _mono(atan_bounds), _lipschitz_narrow(atan_bounds, 1.0),
        lambda I, V: (1.0 + I.square()).recip().clip(0.0, 1.0))
    # softplus' = sigma <= 1
    add("softplus", _mono(softplus_bounds), _lipschitz_narrow(softplus_bounds, 1.0),
        lambda I, V: logistic_image(I))
    # gaussian e^{-t^2}: its derivative -2 t e^{-t^2} has |.| <= sqrt(2/e) < 0.8578
    add("gaussian", _gaussian_value, _gaussian_value,
        lambda I, V: (I * V) * -2.0)
    add("exp", _exp_img, _exp_img, lambda I, V: V)

    def silu_value(I):
        return I * logistic_image(I)

    def silu_deriv(I, V):
        S = logistic_image(I)
        return S + I * _logistic_deriv(I, S)

    add("silu", silu_value, silu_value, silu_deriv)

    def gelu_value(I):
        return I * _phi_img(I)

    def gelu_deriv(I, V):
        return _phi_img(I) + I * _normal_pdf_img(I)

    add("gelu", gelu_value, gelu_value, gelu_deriv)
    return acts


INTERVAL_ACTIVATIONS: dict = _build_activations()


def activation_enclosure(name: str) -> IntervalActivation | None:
    """The interval extensions of a registry activation (canonical name), or None."""
    if name.startswith("polynomial:"):
        return _poly_activation(int(name.split(":", 1)[1]))
    return INTERVAL_ACTIVATIONS.get(name)
