"""Where each parameter sits in theta, shared by every spec-based engine (torch-free).

Parameter order (docs/usage.md, "Conventions") = ``torch.nn.utils.parameters_to_vector`` of
``nn.Sequential(Linear, act, ..., Linear)``: per Linear layer W (out x in, row-major), then b
when ``spec.has_bias(k)``; the input-output skip matrix U (outputs x d, row-major) comes last.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidSpecError

__all__ = ["Layer", "param_layout", "flops_per_point"]


@dataclass(frozen=True)
class Layer:
    """Offsets of one Linear layer in theta: W at ``w`` (out x inp, row-major), b at ``b`` or None."""

    w: int
    out: int
    inp: int
    b: int | None


def param_layout(spec) -> list[Layer]:
    """Where each Linear layer's W and b sit in theta (the parameter order above): one
    ``Layer(w, out, inp, b)`` per layer, the output layer last. Shared by every engine."""
    fan_in = (spec.inputs, *spec.widths)
    fan_out = (*spec.widths, spec.outputs)
    off, layers = 0, []
    for k, (i, o) in enumerate(zip(fan_in, fan_out), start=1):
        w = off
        off += o * i
        b = None
        if spec.has_bias(k):
            b, off = off, off + o
        layers.append(Layer(w, o, i, b))
    return layers


def flops_per_point(spec, mode: str = "full", k: int | None = None) -> int:
    """Matrix-product FLOPs (2 per multiply-add) of the network at one point.

    These are the network's own multiply-adds; the kernel's augmented products also
    multiply the bias column and the ones row, at most (1 + 1/h_l)(1 + 1/h_{l-1}) times as
    many per layer, which this count leaves out (so it never overstates the work).

    ``mode="full"``: 2 m (d h_1 + sum h_l h_{l+1} + h_L outputs [+ d outputs]);
    ``mode="slice"`` with k directions: the first layer and the input-output skip cost
    2 m k h_1 (2 m k outputs) instead, plus 2 k P to form theta.
    """
    m, d, out = spec.samples, spec.inputs, spec.outputs
    dims = (d, *spec.widths, out)
    rest = sum(a * b for a, b in zip(dims[1:-1], dims[2:]))
    io = "input-output" in spec.skips
    if mode == "full":
        return 2 * m * (d * dims[1] + rest + (d * out if io else 0))
    if k is None:
        raise InvalidSpecError("flops_per_point(mode='slice') needs k, the number of directions")
    return 2 * m * (k * dims[1] + rest + (k * out if io else 0)) + 2 * k * spec.n_params


