"""Faster tanh and logistic for the model engine: the fused engine's vector functions inside torch.

torch's CPU ``tanh`` ran at 5-7 ns per float64 element and 2.5 ns per float32 element on the
development machine (AMD EPYC, AVX-512, one thread), where the fused engine's vector tanh
(:mod:`._fused_numba`) runs at about 1 ns and 0.2 ns; in the model engine the tanh was 35-59 % of
the time of the benchmark's MLP and CNN (docs/benchmarks.md, "Any PyTorch model"). This module puts
those vector functions under torch:

* two functions, :func:`fast_tanh` and :func:`fast_logistic` (an ``autograd.Function``), CPU,
  float32 and float64, elementwise, with a ``vmap`` rule (an elementwise function applies to the
  batched tensor as it is) and a derivative (1 - y^2 and y (1 - y) from the output y, as torch's
  own backward);
* :class:`FastActivations`, a ``TorchFunctionMode`` that sends ``torch.tanh``, ``Tensor.tanh``,
  ``F.tanh``, ``torch.sigmoid``, ``Tensor.sigmoid``, ``F.sigmoid`` and ``torch.special.expit`` of
  one CPU float32/float64 tensor to them -- so ``nn.Tanh``, ``nn.Sigmoid`` and a custom forward
  that calls those functions are all covered, without touching the model -- and everything else
  (other dtypes and devices, ``out=``, a tensor that records a gradient) to torch.

Accuracy (what changes against torch's own functions): float64 tanh within 6.7 ulp and logistic
within 4.1 ulp of the exact values (proved in docs/theory.md, section 15; measured maxima on 10^8
inputs in docs/benchmarks.md, "Accuracy of the float64 activations"), small arguments keep their
relative accuracy (tanh x for |x| < 0.0108 is its own odd Taylor polynomial, within 1.04 ulp);
float32 tanh within 5 ulp and logistic within 2 ulp of the correctly rounded values (so within 5.5
and 2.5 ulp of the exact ones), checked on every float32 input
(benchmarks/provenance/check_tanh.py, check_logistic.py). NaN gives NaN, +-inf give
+-1 (tanh) and 1 / 0 (logistic), tanh(-0) = -0, as torch's. The kernels need numba (the ``fast``
extra); :func:`fast_activations_unavailable` says when they cannot be used.

Large arrays are split over ``torch.get_num_threads()`` Python threads (the numba function runs
without the GIL), so the activation uses the threads torch was given, and numba's own threading
layer is never started (nothing here stops a later ``fork``). This module imports torch; numba is
imported on first use.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
import threading

import torch

__all__ = ["FastActivations", "fast_activations_unavailable", "fast_tanh", "fast_logistic", "ACCURACY", "thread_pool"]

#: what a result says about the activations when the fast ones are in use
ACCURACY = ("tanh and the logistic by bettibounds' vector functions (float64: within 6.7 and 4.1 ulp, "
            "docs/theory.md section 15; float32: within 5 and 2 ulp of the correctly rounded values)")

#: elements per thread below which one thread does the whole array (a thread's hand-off costs tens of µs)
_MIN_PER_THREAD = 1 << 16
#: a split point is a multiple of this (whole vectors of 16 floats or 8 doubles)
_ALIGN = 64

_pool_lock = threading.Lock()
_pool: tuple[int, int, concurrent.futures.ThreadPoolExecutor] | None = None  # (pid, workers, pool)


def fast_activations_unavailable() -> str | None:
    """None when the fast activations can run here, else why not (numba missing or disabled)."""
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed (pip install -e '.[fast]' adds it)"
    if os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0"):
        return "NUMBA_DISABLE_JIT is set (the vector functions would run as plain Python)"
    return None


def _kernel():
    from ._fused_numba import act_vector_array

    return act_vector_array


def thread_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """A pool of ``workers`` threads for this process (a forked child makes its own: the parent's
    threads do not exist there), shared by the fast activations and the fused first layer
    (:mod:`.model_fused_first`), whose numba functions run without the GIL."""
    global _pool
    with _pool_lock:
        pid = os.getpid()
        if _pool is None or _pool[0] != pid or _pool[1] != workers:
            if _pool is not None and _pool[0] == pid:
                _pool[2].shutdown(wait=False)
            _pool = (pid, workers, concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="bb-act"))
        return _pool[2]


def _flat_pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(result, x's elements as a 1-D view, the result's elements in the same order): the result
    has x's strides when x is dense (channels-last activations stay channels-last), else it is
    contiguous."""
    if x.dim() > 1 and not x.is_contiguous():
        strides = x.stride()
        order = sorted(range(x.dim()), key=lambda d: -strides[d])
        xp = x.permute(order)
        if xp.is_contiguous():
            out = torch.empty_like(x)  # the same strides (dense, non-overlapping)
            op = out.permute(order)
            if op.is_contiguous():
                return out, xp.reshape(-1), op.reshape(-1)
    xc = x.contiguous()
    out = torch.empty_like(xc, memory_format=torch.contiguous_format)
    return out, xc.view(-1), out.view(-1)


def _apply(x: torch.Tensor, act: int) -> torch.Tensor:
    out, xf, of = _flat_pair(x)
    n = xf.numel()
    if n == 0:
        return out
    kernel = _kernel()
    xs, os_ = xf.numpy(), of.numpy()
    workers = min(torch.get_num_threads(), n // _MIN_PER_THREAD)
    if workers <= 1:
        kernel(xs, os_, act)
        return out
    step = -(-n // workers)
    step += -step % _ALIGN
    cuts = list(range(0, n, step)) + [n]
    jobs = [thread_pool(workers).submit(kernel, xs[a:b], os_[a:b], act) for a, b in zip(cuts, cuts[1:])]
    for job in jobs:
        job.result()
    return out


class _FastActivation(torch.autograd.Function):
    """``act`` 0: tanh, 1: the logistic, of a CPU float32/float64 tensor, by :func:`_apply`; elementwise
    under ``vmap`` (the batched tensor is evaluated as it is, its batch dimension where it was), and
    differentiable with the derivative from the output, as torch's own backward.

    An ``autograd.Function`` rather than a ``torch.library`` custom operator: a custom operator's
    first call imports ``torch._dynamo`` (and with it sympy), 1.7-2.5 s of every process's first
    evaluation (docs/benchmarks.md); this imports nothing. (Under ``torch.func.grad`` torch imports
    it all the same; ``compile=True`` never uses the fast activations.)"""

    @staticmethod
    def forward(x, act):
        return _apply(x.detach(), act)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.act = inputs[1]
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # torch's tanh_backward and sigmoid_backward
        return (grad * (1 - y * y) if ctx.act == 0 else grad * ((1 - y) * y)), None

    @staticmethod
    def vmap(info, in_dims, x, act):
        return _FastActivation.apply(x, act), in_dims[0]


def _checked(x, name: str):
    if not isinstance(x, torch.Tensor) or x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        what = f"a {x.dtype} tensor on {x.device}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} takes a CPU float32 or float64 tensor, got {what}")
    return x


def fast_tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh of a CPU float32/float64 tensor by the fused engine's vector code (see the module)."""
    return _FastActivation.apply(_checked(x, "fast_tanh"), 0)


def fast_logistic(x: torch.Tensor) -> torch.Tensor:
    """The logistic 1 / (1 + e^-x) of a CPU float32/float64 tensor by the fused engine's vector
    code (see the module)."""
    return _FastActivation.apply(_checked(x, "fast_logistic"), 1)


#: the functions :class:`FastActivations` replaces, and by which activation (0: tanh, 1: the logistic)
_REPLACED = {torch.tanh: 0, torch.Tensor.tanh: 0, torch.nn.functional.tanh: 0, torch.sigmoid: 1,
             torch.Tensor.sigmoid: 1, torch.nn.functional.sigmoid: 1, torch.special.expit: 1}


class FastActivations(torch.overrides.TorchFunctionMode):
    """Within this mode, tanh and the logistic of one CPU float32/float64 tensor that records no
    gradient are computed by :func:`fast_tanh` and :func:`fast_logistic`; every other call goes to
    torch unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        act = _REPLACED.get(func)
        if act is not None and not kwargs and len(args) == 1:
            x = args[0]
            if isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dtype in (torch.float64, torch.float32) \
                    and not (x.requires_grad and torch.is_grad_enabled()):
                return _FastActivation.apply(x, act)  # (checked here: fast_tanh's own check would repeat it)
        return func(*args, **(kwargs or {}))
