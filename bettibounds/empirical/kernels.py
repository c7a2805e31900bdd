"""The batched loss kernel (compatibility module of 0.1).

The torch engine now lives in :mod:`bettibounds.engines.torch_kernel` and the
``nn.Sequential`` import in :mod:`bettibounds.empirical.sequential`; the names documented in
0.1 stay importable from here.
"""

from __future__ import annotations

from ..engines.layout import flops_per_point, param_layout
from ..engines.torch_kernel import LossKernel
from .sequential import experiment_from_sequential, from_sequential

__all__ = ["LossKernel", "experiment_from_sequential", "flops_per_point", "from_sequential", "param_layout"]
