"""Hypothesis strategies for property-testing claims about loss landscapes (needs ``hypothesis``, in the
``[test]`` extra: without it, importing this module raises :class:`~bettibounds.errors.MissingExtraError`).

>>> from hypothesis import given
>>> from bettibounds.strategies import architectures
>>> @given(architectures(max_width=3))
... def test_p_positive(spec):
...     assert spec.n_params > 0

Strategies: :func:`architectures` (ArchitectureSpec over the whole registry, skips, biases, l2, both BCE
writings), :func:`formats` (Pfaffian formats on the natural domain of the bounds), :func:`datasets`
(exact rational data for a spec) and :func:`experiments` (validated experiment objects with a 2-D slice).
"""

from __future__ import annotations

from fractions import Fraction

from ._lib.extras import require
from .pfaffian.activations import activation_names
from .pfaffian.format import PfaffianFormat
from .spec import ArchitectureSpec

__all__ = ["architectures", "formats", "datasets", "experiments", "ACTIVATIONS"]

# hypothesis comes with the [test] extra: without it, importing this module says how to install it
st = require("test", "hypothesis.strategies", "the property-testing strategies (bettibounds.strategies)")

#: every registry activation plus two polynomials
ACTIVATIONS = (*activation_names(), "polynomial:2", "polynomial:3")


@st.composite
def architectures(draw, activations=ACTIVATIONS, max_inputs: int = 3, max_width: int = 3, max_depth: int = 3,
                  max_samples: int = 3, max_outputs: int = 2, skip=None):
    """Random valid :class:`~bettibounds.spec.ArchitectureSpec` (small by default)."""
    act = draw(st.sampled_from(list(activations)))
    depth = draw(st.integers(2 if skip and "residual" in skip else 1, max_depth))
    skips = ["none", "input-output"] + (["residual", "residual+input-output"] if depth >= 2 else [])
    skip = draw(st.sampled_from(skips)) if skip is None else skip
    if "residual" in skip:
        widths = (draw(st.integers(1, max_width)),) * depth
    else:
        widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)))
    loss = draw(st.sampled_from(["mse", "bce"]))
    out = "sigmoid" if loss == "bce" else draw(st.sampled_from(["identity", "sigmoid", "tanh"]))
    bias = draw(st.one_of(st.booleans(), st.lists(st.booleans(), min_size=depth + 1, max_size=depth + 1)))
    return ArchitectureSpec(
        inputs=draw(st.integers(1, max_inputs)), widths=widths, activation=act, loss=loss,
        samples=draw(st.integers(1, max_samples)), outputs=draw(st.integers(1, max_outputs)),
        output_activation=out, l2=draw(st.sampled_from([0, Fraction(1, 3), 0.25])), skip=skip, bias=bias,
        bce_chain=draw(st.sampled_from(["logsigmoid", "two-logs"])),
    )


@st.composite
def formats(draw, max_order: int = 30, max_alpha: int = 12, max_beta: int = 8):
    """Formats on the natural domain of the bounds: beta >= 1, alpha >= 1 when r >= 1, alpha + beta >= 2."""
    r = draw(st.integers(0, max_order))
    alpha = draw(st.integers(1, max_alpha)) if r else 0
    beta = draw(st.integers(2 if alpha == 0 else 1, max_beta))
    return PfaffianFormat(r, alpha, beta)


def _rationals(lo: int = -40, hi: int = 40, den: int = 13):
    return st.builds(Fraction, st.integers(lo, hi), st.integers(1, den))


@st.composite
def datasets(draw, spec: ArchitectureSpec):
    """(xs, ys): ``spec.samples`` rows of exact rationals; BCE labels in [0, 1]."""
    xs = draw(st.lists(st.lists(_rationals(), min_size=spec.inputs, max_size=spec.inputs),
                       min_size=spec.samples, max_size=spec.samples))
    label = st.builds(Fraction, st.integers(0, 20), st.just(20)) if spec.loss == "bce" else _rationals()
    ys = draw(st.lists(st.lists(label, min_size=spec.outputs, max_size=spec.outputs),
                       min_size=spec.samples, max_size=spec.samples))
    return xs, ys


@st.composite
def experiments(draw, max_width: int = 3, grid: int = 9):
    """A validated experiment dict (docs/usage.md, "Experiment files") with a 2-D slice through random directions."""
    spec = draw(architectures(activations=("tanh", "logistic", "arctan", "softplus"), max_width=max_width,
                              max_depth=2, max_outputs=1, skip="none"))
    xs, ys = draw(datasets(spec))
    P = spec.n_params
    center = draw(st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=P, max_size=P))
    layers = [spec.inputs, *spec.widths, spec.outputs]
    return {
        "network": {"layers": layers, "activation": spec.activation, "output_activation":
                    {"logistic": "sigmoid"}.get(spec.output_activation, spec.output_activation),
                    "bias": spec.bias if isinstance(spec.bias, bool) else list(spec.bias)},
        "loss": {"kind": spec.loss, "l2": float(spec.l2), "bce_chain": spec.bce_chain},
        "data": {"x": [[float(v) for v in r] for r in xs], "y": [[float(v) for v in r] for r in ys]},
        "region": {"kind": "slice", "center": center,
                   "directions": {"random": 2, "seed": draw(st.integers(0, 10**6)), "normalization": "unit"},
                   "low": [-1.0, -1.0], "high": [1.0, 1.0]},
        "grid": [grid, grid], "levels": [0.1, 0.5, 1.0], "homology_dims": [0, 1],
    }
