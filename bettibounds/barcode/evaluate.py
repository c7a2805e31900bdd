"""The small evaluation interface the barcode protocols need: values at many points, and values
with gradients.

Anything with ``n_params`` and these two methods can drive descents, path relaxation and the
minima-graph barcode (:mod:`bettibounds.barcode.minima`): the spec-based :class:`LossKernel` through
:class:`KernelEvaluator`, a plain numpy function through :class:`FunctionEvaluator`, and later an
engine for arbitrary ``torch.nn.Module`` models, which only has to provide the same two methods.

* ``values(points)``: (N, P) float64 array -> (N,) float64 losses;
* ``values_and_gradients(points)``: -> ((N,) losses, (N, P) gradients), the gradient of each
  row's loss with respect to that row (rows independent).

Optionally, an evaluator whose ``writes_gradients_into`` is True accepts ``out=`` (a C-contiguous
(N, P) float64 array) in ``values_and_gradients`` and returns its gradients in that array: the
protocols' loops then reuse one array instead of allocating one per call
(:func:`values_and_gradients_into`; :class:`~bettibounds.barcode.backprop.MLPEvaluator` does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["PointEvaluator", "KernelEvaluator", "FunctionEvaluator", "as_evaluator", "torch_threads",
           "small_problem_threads", "SINGLE_THREAD_WORK", "values_and_gradients_into"]

#: below this many multiply-adds per point (P x data points) one torch thread is used for descents
#: and path relaxation: their batches are small, and synchronising a second thread cost 10-20 x the
#: arithmetic (1.0 ms against 22 ms of CPU per gradient call of a 1210-parameter network on 96
#: points, measured on a loaded 2-core machine; docs/benchmarks.md)
SINGLE_THREAD_WORK = 4_000_000


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch threads (None: unchanged); the previous count is restored."""
    import torch

    old = torch.get_num_threads()
    if n is not None and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None and n != old:
            torch.set_num_threads(old)


def small_problem_threads(kernel) -> int | None:
    """1 for a CPU kernel whose work per point is below ``SINGLE_THREAD_WORK``, else None (unchanged)."""
    m = getattr(kernel, "m", None)
    dev = str(getattr(kernel, "device", "cpu"))
    if m is None or not dev.startswith("cpu"):
        return None
    return 1 if int(kernel.n_params) * int(m) < SINGLE_THREAD_WORK else None


@runtime_checkable
class PointEvaluator(Protocol):
    """What the barcode protocols call (see the module docstring)."""

    n_params: int

    def values(self, points: np.ndarray) -> np.ndarray: ...

    def values_and_gradients(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class KernelEvaluator:
    """:class:`~bettibounds.empirical.kernels.LossKernel` (torch) behind the evaluation interface.

    ``batch``: points per torch call (bounds the memory of the activations kept for backward).
    """

    def __init__(self, kernel, batch: int = 256):
        self.kernel = kernel
        self.n_params = int(kernel.n_params)
        self.batch = int(batch)
        self.evaluations = 0  # points evaluated (with or without gradient), for the record

    def values(self, points) -> np.ndarray:
        import torch

        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.n_params)
        out = np.empty(pts.shape[0])
        k = self.kernel
        with torch.inference_mode():
            for s in range(0, pts.shape[0], self.batch):
                th = torch.as_tensor(pts[s:s + self.batch], dtype=k.dtype, device=k.device)
                out[s:s + self.batch] = k.evaluate(th).to(dtype=torch.float64, device="cpu").numpy()
        self.evaluations += pts.shape[0]
        return out

    def values_and_gradients(self, points) -> tuple[np.ndarray, np.ndarray]:
        import torch

        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.n_params)
        vals = np.empty(pts.shape[0])
        grads = np.empty_like(pts)
        k = self.kernel
        for s in range(0, pts.shape[0], self.batch):
            th = torch.as_tensor(pts[s:s + self.batch], dtype=k.dtype, device=k.device).requires_grad_(True)
            v = k.evaluate(th)
            (g,) = torch.autograd.grad(v.sum(), th)
            vals[s:s + self.batch] = v.detach().to(dtype=torch.float64, device="cpu").numpy()
            grads[s:s + self.batch] = g.to(dtype=torch.float64, device="cpu").numpy()
        self.evaluations += pts.shape[0]
        return vals, grads


class FunctionEvaluator:
    """A vectorised numpy function ``f((N, P)) -> (N,)`` and its gradient ``grad((N, P)) -> (N, P)``.

    >>> ev = FunctionEvaluator(2, lambda x: (x ** 2).sum(1), lambda x: 2 * x)
    >>> ev.values_and_gradients(np.array([[1.0, 2.0]]))
    (array([5.]), array([[2., 4.]]))
    """

    def __init__(self, n_params: int, f: Callable, grad: Callable):
        self.n_params, self.f, self.grad = int(n_params), f, grad
        self.evaluations = 0

    def values(self, points) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.n_params)
        self.evaluations += pts.shape[0]
        return np.asarray(self.f(pts), dtype=np.float64).reshape(-1)

    def values_and_gradients(self, points) -> tuple[np.ndarray, np.ndarray]:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.n_params)
        self.evaluations += pts.shape[0]
        return (np.asarray(self.f(pts), dtype=np.float64).reshape(-1),
                np.asarray(self.grad(pts), dtype=np.float64).reshape(pts.shape))


def as_evaluator(obj) -> PointEvaluator:
    """``obj`` itself when it has the interface, a :class:`KernelEvaluator` for a LossKernel."""
    if hasattr(obj, "values_and_gradients") and hasattr(obj, "values") and hasattr(obj, "n_params"):
        return obj
    if hasattr(obj, "evaluate") and hasattr(obj, "n_params") and hasattr(obj, "dtype"):
        return KernelEvaluator(obj)
    raise InvalidSpecError(f"{type(obj).__name__} cannot evaluate points: give a LossKernel or an object with "
                           "n_params, values(points) and values_and_gradients(points)")


def values_and_gradients_into(ev, points: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ev.values_and_gradients(points)``, the gradients written into ``out`` where ``ev`` can.

    ``out``: a C-contiguous float64 array of the gradients' shape (N, P). An evaluator that declares
    ``writes_gradients_into`` fills it (and returns it); any other returns its own array, and
    ``out`` is left alone. Either way the returned gradients are the evaluator's, to the bit.
    """
    if getattr(ev, "writes_gradients_into", False):
        return ev.values_and_gradients(points, out=out)
    return ev.values_and_gradients(points)
