"""The engine contract: what every way of evaluating the loss at many parameter points provides.

An *engine* evaluates the loss of one network on one data set at N parameter points, in
chunks so that memory stays bounded for any N. Two point layouts exist:

* ``mode="full"``: ``points`` is (N, P), one parameter vector theta per row;
* ``mode="slice"``: ``points`` is (N, k), slice coordinates t with
  ``theta = center + t @ directions`` (center (P,), directions (k, P) passed once per call).

Every engine records what produced a number: ``engine`` (its registry name), ``device`` and
``dtype``. The engines are found by name in :data:`bettibounds.engines.ENGINES`; callers
(sampler, barcodes, Dask) depend on this contract only, never on an engine's internals.

This module is torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the registry is imported by the CLI at start-up: keep it free of numpy
    import numpy as np

__all__ = ["LossEngine", "DifferentiableEngine", "engine_record"]


@runtime_checkable
class LossEngine(Protocol):
    """The contract of every engine (torch kernel, fused CPU engine, any-model engine, Dask wrapper).

    Attributes
    ----------
    engine : str
        The engine's name in :data:`bettibounds.engines.ENGINES`.
    device : str or torch.device
        Where it computes; ``str(device)`` is what results record.
    dtype : str or torch.dtype
        Its arithmetic precision; ``str(dtype)`` names float64 or float32 (a "torch." prefix is
        dropped by :func:`engine_record`).
    n_params : int
        P, the length of a parameter vector.
    """

    engine: str
    n_params: int

    @property
    def device(self) -> Any: ...

    @property
    def dtype(self) -> Any: ...

    def evaluate_chunked(self, points: Any, mode: str = "full", *, center: Any = None, directions: Any = None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N points as a float64 numpy array (N,); refuses malformed input before any work."""
        ...


@runtime_checkable
class DifferentiableEngine(LossEngine, Protocol):
    """An engine that also evaluates small batches differentiably (descents, paths, training).

    ``evaluate(theta)`` takes (B, P) (or (P,)) and returns a (B,) torch tensor that carries
    gradients when ``theta`` requires them.
    """

    def evaluate(self, theta: Any) -> Any: ...


def engine_record(engine: Any) -> dict[str, str]:
    """What a result records about the engine that produced it: name, device and dtype.

    Examples
    --------
    >>> class E:
    ...     engine, device, dtype = "fused", "cpu", "float32"
    >>> engine_record(E())
    {'engine': 'fused', 'device': 'cpu', 'dtype': 'float32'}
    """
    return {"engine": str(getattr(engine, "engine", "torch")), "device": str(engine.device),
            "dtype": str(engine.dtype).replace("torch.", "")}
