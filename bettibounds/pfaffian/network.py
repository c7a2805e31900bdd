"""The network and loss written once, over any "algebra" of scalars.

:mod:`bettibounds.pfaffian.graph` (degree tracking) and
:mod:`bettibounds.pfaffian.chain` (explicit polynomial chains) both evaluate the same
network; they differ only in what a scalar is. An algebra provides ``const(v)``,
``add(*xs)``, ``mul(a, b)``, ``pow(a, k)``, ``activation(act, u)`` and
``element(name, j, u, ode)`` (a new chain element of an output/loss chain).

Parameter order is DESIGN.md's: per Linear layer W (out x in, row-major), then b when
present; the input-output skip matrix U (outputs x d) comes last.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

from .losses import output_chain

__all__ = ["build_params", "forward", "loss_expression"]


def build_params(spec, make: Callable[[int], object]):
    """``(layers, U)`` with layers = [(W, b or None), ...]; ``make(p)`` makes parameter p."""
    counter = iter(range(10**12))
    fan_in = (spec.inputs, *spec.widths)
    fan_out = (*spec.widths, spec.outputs)
    layers = []
    for k, (i, o) in enumerate(zip(fan_in, fan_out), start=1):
        W = [[make(next(counter)) for _ in range(i)] for _ in range(o)]
        b = [make(next(counter)) for _ in range(o)] if spec.has_bias(k) else None
        layers.append((W, b))
    U = None
    if "input-output" in spec.skips:
        U = [[make(next(counter)) for _ in range(spec.inputs)] for _ in range(spec.outputs)]
    return layers, U


def _affine(alg, W, b, a):
    return [alg.add(*(alg.mul(w, ai) for w, ai in zip(row, a)), *([b[j]] if b else [])) for j, row in enumerate(W)]


def forward(spec, alg, act, layers, U, x) -> list:
    """Output logits u (one per output) of the network at input x."""
    a = x
    for l, (W, b) in enumerate(layers[:-1], start=1):
        new = [alg.activation(act, zj) for zj in _affine(alg, W, b, a)]
        if "residual" in spec.skips and l >= 2:
            new = [alg.add(n, p) for n, p in zip(new, a)]
        a = new
    W, b = layers[-1]
    u = _affine(alg, W, b, a)
    if U is not None:
        u = [alg.add(uj, *(alg.mul(w, xi) for w, xi in zip(row, x))) for uj, row in zip(u, U)]
    return u


def loss_expression(spec, alg, act, layers, U, xs, ys, n_params: int, lam=None):
    """The loss over the data (xs, ys) in the algebra, with output/loss chain elements.

    MSE: (1/m) sum (y_hat - y)^2; BCE "logsigmoid": -(1/m) sum [q - (1 - y) u];
    BCE "two-logs": -(1/m) sum [y l1 + (1 - y) l2]; plus lam * sum theta_p^2.
    Samples whose logit does not depend on theta are skipped by algebras that can tell
    (``alg.is_const``): a theta-free term changes neither the format nor any derivative.
    """
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    terms = []
    for x, y in zip(xs, ys):
        u = forward(spec, alg, act, layers, U, [alg.const(v) for v in x])
        for uo, yo in zip(u, y):
            if getattr(alg, "is_const", lambda _: False)(uo):
                continue
            els = [alg.element("out:" + name, j, uo, q) for j, (name, q) in enumerate(zip(oc.elements, oc.odes))]
            if spec.loss == "mse":
                yhat = els[0] if els else uo
                terms.append(alg.pow(alg.add(yhat, alg.const(-Fraction(yo))), 2))
            elif spec.bce_chain == "logsigmoid":
                terms.append(alg.add(alg.mul(alg.const(-1), els[1]), alg.mul(alg.const(1 - Fraction(yo)), uo)))
            else:
                terms.append(alg.add(alg.mul(alg.const(-Fraction(yo)), els[1]),
                                     alg.mul(alg.const(Fraction(yo) - 1), els[2])))
    loss = alg.mul(alg.const(Fraction(1, spec.samples)), alg.add(*terms))
    if lam is not None:
        loss = alg.add(loss, alg.mul(lam, alg.add(*(alg.pow(alg.param(p), 2) for p in range(n_params)))))
    return loss
