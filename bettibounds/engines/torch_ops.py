"""Activation functions on torch tensors, keyed by registry name (in place or not).

Each registry activation (bettibounds/pfaffian/activations.py) that the torch engines
evaluate has one entry here; tests/unit/test_activation_tables.py checks that every
registry name is covered by this table or refused with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..errors import InvalidSpecError

__all__ = ["softplus", "activation_op", "TORCH_ACTIVATIONS"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)

def softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), accurate for every z (no threshold)."""
    return torch.clamp_min(z, 0).add_(torch.log1p(torch.exp(-torch.abs(z))))


def _scratch_like(z: torch.Tensor, scratch: torch.Tensor | None) -> torch.Tensor:
    return torch.empty_like(z) if scratch is None else scratch


def activation_op(name: str) -> Callable:
    """``(z, inplace, scratch=None) -> phi(z)`` for a registry activation (canonical name).

    With ``inplace`` the result overwrites z (and ``scratch``, a buffer shaped like z, holds
    any temporary); otherwise z is left alone (the autograd path).
    """
    simple = {"logistic": "sigmoid", "tanh": "tanh", "arctan": "atan", "exp": "exp"}
    if name == "identity":
        return lambda z, inplace, scratch=None: z
    if name in simple:
        op = simple[name]
        return lambda z, inplace, scratch=None: getattr(z, op + "_")() if inplace else getattr(torch, op)(z)
    if name == "gaussian":  # e^{-t^2}
        return lambda z, inplace, scratch=None: z.square_().neg_().exp_() if inplace else torch.exp(-(z * z))
    if name == "silu":
        return lambda z, inplace, scratch=None: torch.nn.functional.silu(z, inplace=inplace)
    if name == "softplus":
        def softplus_op(z, inplace, scratch=None):
            if not inplace:
                return softplus(z)
            t = torch.abs(z, out=_scratch_like(z, scratch))
            t.neg_().exp_().log1p_()
            return z.clamp_min_(0).add_(t)
        return softplus_op
    if name == "gelu":
        # t Phi(t) with Phi(t) = erfc(-t / sqrt 2) / 2: the exact GELU, accurate in both tails
        def gelu(z, inplace, scratch=None):
            if not inplace:
                return z * torch.special.erfc(z * -_INV_SQRT2).mul_(0.5)
            t = torch.mul(z, -_INV_SQRT2, out=_scratch_like(z, scratch))
            torch.special.erfc(t, out=t)
            return z.mul_(t.mul_(0.5))
        return gelu
    if name.startswith("polynomial:"):  # t + t^p
        p = int(name.split(":", 1)[1])

        def poly(z, inplace, scratch=None):
            if not inplace:
                return z + z.pow(p)
            return z.add_(torch.pow(z, p, out=_scratch_like(z, scratch)))
        return poly
    raise InvalidSpecError(f"the torch engines have no implementation of activation {name!r}")


#: registry names the torch engines evaluate (``polynomial:<p>`` for every p >= 1)
TORCH_ACTIVATIONS = ("logistic", "tanh", "arctan", "exp", "identity", "gaussian", "silu", "softplus", "gelu",
                     "polynomial:<p>")

