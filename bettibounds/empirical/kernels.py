"""Batched loss evaluation: the loss of one network at many parameter vectors at once.

:class:`LossKernel` evaluates ``Loss(theta)`` for a batch of B parameter vectors with
batched matrix products (no Python loop over the batch or over the samples), on CUDA
when it is available and on the CPU otherwise. The network and the loss are exactly
those of :mod:`bettibounds.pfaffian.network` (DESIGN.md conventions):

* parameter order = ``torch.nn.utils.parameters_to_vector`` of
  ``nn.Sequential(Linear, act, ..., Linear)``: per Linear layer W (out x in, row-major),
  then b when ``spec.has_bias(k)``; the input-output skip matrix U (outputs x d,
  row-major) comes last;
* hidden layers ``a_l = phi(W_l a_{l-1} + b_l)`` (``+ a_{l-1}`` for l >= 2 with
  ``skip="residual"``); output ``u = V a_L + c (+ U x)``; ``y_hat = u`` or
  ``sigma_out(u)``;
* MSE = mean over samples of the squared error summed over outputs; BCE = mean over
  samples of ``-[y log s + (1 - y) log(1 - s)]``, s = sigma(u), computed from the logit
  as ``y softplus(-u) + (1 - y) softplus(u)`` (equal to ``softplus(u) - y u``, but a sum
  of two non-negative terms, so no cancellation for large |u|; a term whose coefficient y or
  1 - y is 0 is left out, so a logit that overflows to +-inf gives 0 there, not 0 * inf = NaN); ``l2`` adds
  ``lambda ||theta||^2`` over all parameters.

Internally activations are stored feature-major, (batch, h, samples). The chunked path
(:meth:`LossKernel.evaluate_chunked`, which keeps its buffers) adds a ones row, (batch,
h + 1, samples): each layer is then one product ``[W | b] @ [a; 1]`` and no pass over the
activations adds a bias (1.1x-2.6x faster, by dtype and mode, than a (batch, samples,
features) layout with ``baddbmm``; docs/benchmarks.md). :meth:`LossKernel.evaluate`
keeps the plain layout with ``baddbmm``: it serves the small, often differentiable batches
of optimisers, where the number of operations matters more than memory passes.
:meth:`LossKernel.evaluate_slice` exploits that the first layer (and the input-output skip) is affine in the slice
coordinates: ``Z(v) = x W_1(v)^T + b_1(v)`` is linear in the parameter vector v, so with
``theta = center + sum_j t_j dir_j`` the first-layer pre-activations on the data are
``Z(center) + sum_j t_j Z(dir_j)``; the k + 1 tables are computed once, and the first
layer then costs O(B k m h_1) instead of O(B m d h_1).

This module imports torch; nothing in the core imports it (``import bettibounds`` stays
torch-free).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidSpecError, NotPfaffianError
from ..pfaffian.activations import NON_PFAFFIAN, get_activation
from ..spec import ArchitectureSpec
from ._memory import available_bytes
from ._progress import progress_bar

__all__ = ["LossKernel", "experiment_from_sequential", "flops_per_point", "from_sequential"]

_DTYPES = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}
#: fraction of the free memory one chunk may use when the chunk size adapts
_MEMORY_FRACTION = 0.25
#: CPU working set per chunk and torch thread: beyond it a chunk's activations stop
#: fitting the last-level cache between one pass and the next (measured:
#: benchmarks/bench_kernels.py and the chunk_size docstring)
_CPU_BYTES_PER_THREAD = 32 * 2**20
#: ... but at least this many points per chunk, memory permitting: batching is what
#: amortises the per-call overhead of the batched products
_CPU_MIN_CHUNK = 128
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


# ------------------------------------------------------------------ activations
def _softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), accurate for every z (no threshold)."""
    return torch.clamp_min(z, 0).add_(torch.log1p(torch.exp(-torch.abs(z))))


def _scratch_like(z: torch.Tensor, scratch: torch.Tensor | None) -> torch.Tensor:
    return torch.empty_like(z) if scratch is None else scratch


def _activation_fn(name: str):
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
        def softplus(z, inplace, scratch=None):
            if not inplace:
                return _softplus(z)
            t = torch.abs(z, out=_scratch_like(z, scratch))
            t.neg_().exp_().log1p_()
            return z.clamp_min_(0).add_(t)
        return softplus
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
    raise InvalidSpecError(f"the batched kernel has no implementation of activation {name!r}")  # pragma: no cover


class _Workspace:
    """Output buffers reused chunk after chunk.

    Fresh multi-megabyte CPU allocations are served by mmap and page-fault on first touch,
    which costs as much as the arithmetic; writing every large intermediate into a buffer
    kept for the whole run (``out=``) avoids that (CUDA's caching allocator avoids it by
    itself, the buffers just make the peak explicit).
    """

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype, self.device = dtype, device
        self._bufs: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple) -> torch.Tensor:
        n = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < n:
            buf = self._bufs[name] = torch.empty(n, dtype=self.dtype, device=self.device)
        return buf[:n].view(shape)


# ------------------------------------------------------------------ validation
def _resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float64, torch.float32):
            return dtype
    elif isinstance(dtype, str) and dtype.strip().lower() in _DTYPES:
        return _DTYPES[dtype.strip().lower()]
    raise InvalidSpecError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def _resolve_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidSpecError(
            f"device must be None (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:<index>', got {device!r}"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidSpecError(f"device {device!r} is not supported; accepted: None, 'cpu', 'cuda', 'cuda:<index>'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidSpecError(
                f"device {str(device)!r} was requested but CUDA is not available to torch "
                f"{torch.__version__} on this machine; use the CPU (--device cpu, or device='cpu' in Python) or let "
                f"the tool choose (--device auto, device=None)"
            )
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise InvalidSpecError(f"device {str(device)!r} does not exist: this machine has {n} CUDA device(s)")
    return dev


def _to_numpy_matrix(name: str, value, cols: int | None = None, rows: int | None = None) -> np.ndarray:
    """A finite float64 2-D array from rows of numbers (Fractions, floats, arrays, tensors)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{name} must be a rectangular array of real numbers ({exc})") from None
    if arr.ndim != 2:
        raise InvalidSpecError(f"{name} must be 2-D (rows of numbers), got an array of shape {tuple(arr.shape)}")
    if rows is not None and arr.shape[0] != rows:
        raise InvalidSpecError(f"{name} must have {rows} rows, got shape {tuple(arr.shape)}")
    if cols is not None and arr.shape[1] != cols:
        raise InvalidSpecError(f"{name} must have {cols} columns, got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise InvalidSpecError(f"{name} contains non-finite values (nan or inf)")
    return arr


def _check_data(spec, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(x (m, d), y (m, outputs)) as finite float64 arrays that fit ``spec`` (every engine's check)."""
    xa = _to_numpy_matrix("x", x, cols=spec.inputs)
    ya = _to_numpy_matrix("y", y, cols=spec.outputs)
    if xa.shape[0] != ya.shape[0]:
        raise InvalidSpecError(f"x has {xa.shape[0]} rows but y has {ya.shape[0]}")
    if xa.shape[0] != spec.samples:
        raise InvalidSpecError(
            f"the data has {xa.shape[0]} samples but spec.samples = {spec.samples} "
            "(the loss averages over spec.samples; build the spec with samples=len(x))"
        )
    if spec.loss == "bce" and not ((ya >= 0) & (ya <= 1)).all():
        raise InvalidSpecError("BCE targets y must lie in [0, 1]")
    return xa, ya


def _check_spec(spec) -> ArchitectureSpec:
    if not isinstance(spec, ArchitectureSpec):
        raise InvalidSpecError(f"spec must be an ArchitectureSpec, got {type(spec).__name__}")
    if spec.is_symbolic:
        raise InvalidSpecError("the batched kernel needs a concrete spec (integer sizes), got a symbolic one")
    try:
        l2 = float(spec.l2)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"the batched kernel needs a numeric l2, got {spec.l2!r}") from None
    if l2 == 0 and spec.l2_positive:  # the bound's compactness argument uses lambda > 0; the kernel would not
        raise InvalidSpecError("l2 is positive but below float64's smallest number (about 5e-324), so the "
                               "kernels would evaluate the loss without its penalty; use l2 >= 1e-300 or 0")
    return spec


@dataclass(frozen=True)
class _Layer:
    w: int  # offset of W in theta
    out: int
    inp: int
    b: int | None  # offset of b, or None


@dataclass
class _SlicePlan:
    """Precomputed affine parts of a slice theta = center + coords @ directions."""

    k: int
    # each table is stored as (width, 1 + k) contiguous and used through its transpose:
    # BLAS runs the skinny (B, 1 + k) x (1 + k, width) product several times faster so
    theta: torch.Tensor  # (P, 1 + k): the center, then the directions
    z1: torch.Tensor  # ((h_1 + 1) m, 1 + k): first-layer pre-activations W_1(v) x + b_1(v)
    #                   of v = the center, then of each direction (linear in v), unit-major,
    #                   then the ones row (1 for the center, 0 for the directions)
    io: torch.Tensor | None  # (outputs m, 1 + k): U x for the input-output skip, same pattern


def param_layout(spec) -> list[_Layer]:
    """Where each Linear layer's W and b sit in theta (the parameter order above): one
    ``_Layer(w, out, inp, b)`` per layer, the output layer last. Shared by every engine."""
    fan_in = (spec.inputs, *spec.widths)
    fan_out = (*spec.widths, spec.outputs)
    off, layers = 0, []
    for k, (i, o) in enumerate(zip(fan_in, fan_out), start=1):
        w = off
        off += o * i
        b = None
        if spec.has_bias(k):
            b, off = off, off + o
        layers.append(_Layer(w, o, i, b))
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


# ------------------------------------------------------------------ the kernel
class LossKernel:
    """The loss of ``spec`` on the data (x, y), evaluated at many parameter vectors at once.

    Parameters
    ----------
    spec : ArchitectureSpec
        A concrete spec (integer sizes); ``spec.samples`` must equal the number of rows of x.
    x, y : sequences of rows of numbers
        Inputs (m x d) and targets (m x outputs): lists of Fractions (as an
        :class:`~bettibounds.empirical.experiment.Experiment` holds them), floats, numpy
        arrays or tensors. BCE targets must lie in [0, 1].
    device : str or torch.device, optional
        ``None``: ``"cuda"`` when torch sees a GPU, else ``"cpu"``.
    dtype : {"float64", "float32"}
        Arithmetic precision (float64 by default).

    Raises
    ------
    InvalidSpecError
        Bad shapes, non-finite data, an unknown dtype, or ``device="cuda"`` without CUDA.

    Examples
    --------
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    >>> kern = LossKernel(spec, [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    >>> kern.evaluate(torch.zeros(3, spec.n_params)).tolist()
    [0.125, 0.125, 0.125]
    """

    def __init__(self, spec, x, y, device=None, dtype="float64"):
        self.spec = _check_spec(spec)
        self.dtype = _resolve_dtype(dtype)
        self.device = _resolve_device(device)
        xa, ya = _check_data(spec, x, y)
        self.m = xa.shape[0]
        self.n_params = int(spec.n_params)
        self.l2 = float(spec.l2)
        # the data feature-major, as the activations are: [x^T; 1] (d + 1, m) and y^T (outputs, m)
        xa1 = np.vstack([xa.T, np.ones((1, xa.shape[0]))])
        self._xa = torch.as_tensor(np.ascontiguousarray(xa1), dtype=self.dtype, device=self.device)
        self._yt = torch.as_tensor(np.ascontiguousarray(ya.T), dtype=self.dtype, device=self.device)
        # BCE: the terms with a zero coefficient are left out, not multiplied by 0 (an overflowed logit
        # would give 0 * inf = NaN where the loss term is exactly 0)
        self._y_pos, self._y_below1 = self._yt > 0, self._yt < 1
        self._layers = param_layout(spec)
        self._io = self.n_params - spec.inputs * spec.outputs if "input-output" in spec.skips else None
        self._act = _activation_fn(get_activation(spec.activation).name)
        self._residual = "residual" in spec.skips
        # evaluate_chunked's buffers: fresh per call unless a workspace is kept here (a Dask
        # worker keeps one per thread across its blocks; bettibounds.distributed)
        self._workspace: _Workspace | None = None

    def __repr__(self) -> str:
        s = self.spec
        return (f"LossKernel(d={s.inputs}, widths={list(s.widths)}, outputs={s.outputs}, "
                f"activation={s.activation!r}, loss={s.loss!r}, m={self.m}, P={self.n_params}, "
                f"device={str(self.device)!r}, dtype={str(self.dtype).replace('torch.', '')!r})")

    # ------------------------------------------------------------- conversions
    def _tensor(self, name: str, value, shape: tuple, check_finite: bool = True) -> torch.Tensor:
        """value as a tensor of this kernel's dtype/device with the given shape (None = any)."""
        if isinstance(value, torch.Tensor):
            t = value
        else:
            try:
                t = torch.as_tensor(np.asarray(value, dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise InvalidSpecError(f"{name} must be an array of real numbers ({exc})") from None
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.int16, torch.int8, torch.uint8)):
            raise InvalidSpecError(f"{name} must hold real numbers, got dtype {t.dtype}")
        if t.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            raise InvalidSpecError(f"{name} must have shape {want}, got {tuple(t.shape)}")
        original = t
        t = t.to(device=self.device, dtype=self.dtype)
        if check_finite and t.numel() and not bool(torch.isfinite(t).all()):
            if bool(torch.isfinite(original).all()):  # finite before the conversion: beyond the kernel's dtype
                raise InvalidSpecError(f"{name} has values beyond the range of {self.dtype} (|value| > "
                                       f"{torch.finfo(self.dtype).max:.3g}): use dtype float64")
            raise InvalidSpecError(f"{name} contains non-finite values (nan or inf)")
        return t

    def _theta(self, theta) -> torch.Tensor:
        P = self.n_params
        theta = _host_array("theta", theta)
        if theta.ndim == 1:
            return self._tensor("theta", theta, (P,)).unsqueeze(0)
        return self._tensor("theta", theta, (None, P))

    # --------------------------------------------------------------- forward
    # The chunked path stores activations feature-major with a ones row: a hidden layer's
    # output is (B, h + 1, m), row j holding unit j on every sample and the last row all
    # ones. A layer is then one product [W | b] @ [a; 1] (the bias is one more column of
    # the weight matrix, so no separate pass writes it into the output), and a hidden
    # layer's matrix carries one more row (0, ..., 0, 1) for the next layer's ones row (set
    # to exactly 1 after the product: 0 * a + 1 is nan where a = +-inf). The (P-sized)
    # augmented matrices are copied per chunk; the (m h)-sized activations never are.
    def _aug(self, th: torch.Tensor, layer: _Layer, ones_row: bool, ws: _Workspace | None,
             name: str) -> torch.Tensor:
        """[W | b] (B, out, in + 1) of each row of th; with ``ones_row`` one more row (0, ..., 0, 1)."""
        B, o, i = th.shape[0], layer.out, layer.inp
        W = th[:, layer.w:layer.w + o * i].reshape(B, o, i)
        b = None if layer.b is None else th[:, layer.b:layer.b + o]
        if ws is None:  # differentiable ops (the slice plan, which may carry gradients)
            col = th.new_zeros(B, o, 1) if b is None else b.unsqueeze(2)
            parts = [torch.cat([W, col], dim=2)]
            if ones_row:
                last = th.new_zeros(B, 1, i + 1)
                last[:, :, i] = 1
                parts.append(last)
            return torch.cat(parts, dim=1) if ones_row else parts[0]
        Wa = ws.get(name, (B, o + int(ones_row), i + 1))
        Wa[:, :o, :i].copy_(W)
        if b is None:
            Wa[:, :o, i].zero_()
        else:
            Wa[:, :o, i].copy_(b)
        if ones_row:
            Wa[:, o, :i].zero_()
            Wa[:, o, i].fill_(1)
        return Wa

    def _first(self, th: torch.Tensor, ws: _Workspace | None = None, aug: bool | None = None) -> torch.Tensor:
        """First-layer pre-activations, (B, h_1 + 1, m) with their ones row when ``aug``
        (default: when a workspace is given), else (B, h_1, m).

        The data is shared by the batch, so this is a single GEMM: ``[W_1 | b_1; 0 | 1]``
        stacked over the batch, (B (h_1 + 1), d + 1), times ``[x^T; 1]`` (or W_1 stacked,
        times x^T, plus b_1 broadcast along the samples).
        """
        layer = self._layers[0]
        aug = ws is not None if aug is None else aug
        B, d = th.shape[0], layer.inp
        if not aug:
            W = th[:, layer.w:layer.w + layer.out * d].reshape(B * layer.out, d)
            xt = self._xa[:d]
            if layer.b is None:
                z = torch.mm(W, xt)
            else:
                z = torch.addmm(th[:, layer.b:layer.b + layer.out].reshape(B * layer.out, 1), W, xt)
            return z.view(B, layer.out, self.m)
        rows = layer.out + 1
        Wa = self._aug(th, layer, True, ws, "w1").reshape(B * rows, d + 1)
        if ws is None:
            z = torch.mm(Wa, self._xa)
        else:
            z = torch.mm(Wa, self._xa, out=ws.get("z1", (B * rows, self.m)))
        return z.view(B, rows, self.m)

    def _io_term(self, th: torch.Tensor, ws: _Workspace | None = None) -> torch.Tensor | None:
        """U x for the input-output skip: (B, outputs, m), or None."""
        if self._io is None:
            return None
        B, out, d = th.shape[0], self.spec.outputs, self.spec.inputs
        U = th[:, self._io:self._io + out * d].reshape(B * out, d)
        xt = self._xa[:d]  # x^T (d, m)
        z = torch.mm(U, xt) if ws is None else torch.mm(U, xt, out=ws.get("io", (B * out, self.m)))
        return z.view(B, out, self.m)

    def _activate(self, z: torch.Tensor, h: int, inplace: bool, ws: _Workspace | None) -> torch.Tensor:
        """phi of the pre-activations z.

        With a workspace z is augmented, (B, h + 1, m): phi acts in place on the first h
        rows and the last is set to exactly 1. The product's row (0, ..., 0, 1) gives 1 only
        while the previous activations are finite: 0 * inf is nan, and a nan ones row would
        spread to every unit through the bias column, where a plain forward keeps the inf
        (exp(-inf) = 0, tanh(inf) = 1). Without one, z is plain (B, h, m).
        """
        if ws is None:
            return self._act(z, inplace)
        v = z[:, :h]
        self._act(v, True, ws.get("scratch", tuple(v.shape)))
        z[:, h:].fill_(1)
        return z

    def _linear(self, th: torch.Tensor, layer: _Layer, a: torch.Tensor, idx: int, hidden: bool,
                ws: _Workspace | None) -> torch.Tensor:
        """W a + b for layer ``idx`` >= 2 with each row of th's own W and b.

        With a workspace: one product [W | b (; 0 | 1)] @ [a; 1] into a kept buffer (the
        chunked path, where throughput counts). Without: ``baddbmm`` on plain activations,
        the fewest operations for the small, often differentiable batches of optimisers.
        """
        if ws is not None:
            Wa = self._aug(th, layer, hidden, ws, f"w{idx}")
            return torch.bmm(Wa, a, out=ws.get(f"z{idx}", (th.shape[0], Wa.shape[1], self.m)))
        B = th.shape[0]
        W = th[:, layer.w:layer.w + layer.out * layer.inp].reshape(B, layer.out, layer.inp)
        if layer.b is None:
            return torch.bmm(W, a)
        return torch.baddbmm(th[:, layer.b:layer.b + layer.out].unsqueeze(2), W, a)

    def _tail(self, th: torch.Tensor, z1: torch.Tensor, u_io: torch.Tensor | None, inplace: bool,
              ws: _Workspace | None = None) -> torch.Tensor:
        """Loss from the first-layer pre-activations z1 and the parameters th (B, P).

        z1 is (B, h_1 + 1, m) with its ones row when a workspace is given, else (B, h_1, m).

        ``inplace``: overwrite intermediates (no autograd); ``ws``: write them into reused
        buffers (implies inplace).
        """
        B = th.shape[0]
        L = len(self._layers) - 1  # hidden layers
        a = self._activate(z1, self._layers[0].out, inplace, ws)
        for idx, layer in enumerate(self._layers[1:], start=2):
            hidden = idx <= L
            z = self._linear(th, layer, a, idx, hidden, ws)
            if hidden:  # hidden layer l = idx
                new = self._activate(z, layer.out, inplace, ws)
                if self._residual:
                    if ws is not None:  # augmented: the ones rows stay as they are
                        new[:, :layer.out].add_(a[:, :layer.inp])
                    else:
                        new = new.add_(a) if inplace else new + a
                a = new
            else:
                a = z  # logits u (B, outputs, m)
        u = a
        if u_io is not None:
            u = u.add_(u_io) if inplace else u + u_io
        loss = self._data_loss(u, inplace)
        if self.l2 > 0:
            # batched dot products theta . theta (no (B, P) temporary)
            loss = loss + self.l2 * torch.bmm(th.unsqueeze(1), th.unsqueeze(2)).reshape(B)
        return loss.reshape(B)

    def _data_loss(self, u: torch.Tensor, inplace: bool) -> torch.Tensor:
        """Mean over samples of the per-sample loss, from the logits u (B, outputs, m)."""
        spec, y = self.spec, self._yt
        if spec.loss == "bce":
            zero = u.new_zeros(())
            per = (torch.where(self._y_pos, y * _softplus(-u), zero)
                   + torch.where(self._y_below1, (1 - y) * _softplus(u), zero))
        else:
            if spec.output_activation == "logistic":
                yhat = u.sigmoid_() if inplace else torch.sigmoid(u)
            elif spec.output_activation == "tanh":
                yhat = u.tanh_() if inplace else torch.tanh(u)
            else:
                yhat = u
            diff = yhat.sub_(y) if inplace else yhat - y
            per = diff * diff
        return per.sum(dim=(1, 2)) / self.m

    def _evaluate_full(self, th: torch.Tensor, ws: _Workspace | None = None) -> torch.Tensor:
        B = th.shape[0]
        if B == 0:
            return th.new_zeros(0)
        inplace = ws is not None or not (torch.is_grad_enabled() and th.requires_grad)
        return self._tail(th, self._first(th, ws), self._io_term(th, ws), inplace, ws)

    def evaluate(self, theta) -> torch.Tensor:
        """Loss at each row of ``theta`` (B, P) (a single (P,) vector counts as B = 1).

        Returns a (B,) tensor of this kernel's dtype on its device. Differentiable with
        autograd when ``theta`` is a tensor that requires grad.
        """
        return self._evaluate_full(self._theta(theta))

    # ----------------------------------------------------------------- slices
    def _plan(self, center, directions) -> _SlicePlan:
        P = self.n_params
        c = self._tensor("center", center, (P,))
        directions = _host_array("directions", directions)
        if directions.ndim == 1:
            directions = directions.reshape(1, -1)
        D = self._tensor("directions", directions, (None, P))
        k = D.shape[0]
        if k == 0:
            raise InvalidSpecError("directions must hold at least one direction (shape (k, P), k >= 1)")
        both = torch.cat([c.unsqueeze(0), D], dim=0)  # (1 + k, P)
        # theta -> [W_1(theta) | b_1(theta)] [x^T; 1] is linear in theta, so the first layer
        # at center + sum_j t_j dir_j is z(center) + sum_j t_j z(dir_j); the ones row is
        # affine too: 1 for the center, 0 for each direction
        z = self._first(both, aug=True)
        z[1:, -1] = 0
        z = z.reshape(1 + k, -1).t().contiguous()
        io = self._io_term(both)
        if io is not None:
            io = io.reshape(1 + k, -1).t().contiguous()
        return _SlicePlan(k, both.t().contiguous(), z, io)

    def _coords(self, coords, k: int) -> torch.Tensor:
        coords = _host_array("coords", coords)
        if coords.ndim == 1:  # (B,) when k = 1, else one point (k,)
            coords = coords.reshape(-1, 1) if k == 1 else coords.reshape(1, -1)
        return self._tensor("coords", coords, (None, k))

    def _evaluate_plan(self, plan: _SlicePlan, t: torch.Tensor, ws: _Workspace | None = None) -> torch.Tensor:
        B = t.shape[0]
        if B == 0:
            return t.new_zeros(0)
        needs_grad = t.requires_grad or plan.theta.requires_grad or plan.z1.requires_grad
        inplace = ws is not None or not (torch.is_grad_enabled() and needs_grad)
        # [1, t] @ [center; directions]: one GEMM writes each output once (an addmm would
        # first copy the broadcast center into the output)
        t1 = torch.cat([t.new_ones(B, 1), t], dim=1)  # (B, 1 + k)

        def lin(name, table):
            if ws is None:
                return torch.mm(t1, table.t())
            return torch.mm(t1, table.t(), out=ws.get(name, (B, table.shape[0])))

        th = lin("theta", plan.theta)  # (B, P)
        h1 = self._layers[0].out
        z1 = lin("z1", plan.z1).view(B, h1 + 1, self.m)
        if ws is None:  # the plain path has no ones rows
            z1 = z1[:, :h1]
        u_io = None if plan.io is None else lin("io", plan.io).view(B, self.spec.outputs, self.m)
        return self._tail(th, z1, u_io, inplace, ws)

    def evaluate_slice(self, center, directions, coords) -> torch.Tensor:
        """Loss at ``theta = center + coords @ directions``.

        center (P,), directions (k, P), coords (B, k) (a (B,) vector when k = 1).
        The first layer and the input-output skip use precomputed pre-activations of the
        center and of each direction on the data (cost O(B k m h_1)); the remaining
        layers are evaluated as in :meth:`evaluate`. Returns a (B,) tensor.
        """
        plan = self._plan(center, directions)
        return self._evaluate_plan(plan, self._coords(coords, plan.k))

    # ---------------------------------------------------------------- chunks
    def bytes_per_point(self, mode: str = "full", k: int = 0) -> int:
        """Conservative peak working memory of one point in a chunk (bytes).

        ``1.5 * itemsize * (3 P + k + 1 + m (sum (h_l + 1) + max h_l + 6 outputs + 1))``:
        theta and the augmented weight matrices [W | b] (about 2 P), the coordinates, one
        (h_l + 1, m) buffer per layer (ones row included), the activation scratch buffer,
        the logits, the input-output skip and the loss temporaries, with 50 % headroom.
        """
        s = self.spec
        item = torch.empty((), dtype=self.dtype).element_size()
        layers = sum(h + 1 for h in s.widths)
        per = 3 * self.n_params + k + 1 + self.m * (layers + max(s.widths) + 6 * s.outputs + 1)
        return int(1.5 * item * per)

    def free_memory(self) -> int:
        """Bytes currently available on the kernel's device (CUDA: free + torch's cached
        blocks; CPU: MemAvailable from /proc/meminfo, else the OS's available pages)."""
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
            return int(free + max(cached, 0))
        return available_bytes()

    def chunk_size(self, n_points: int, mode: str = "full", k: int = 0) -> int:
        """The adaptive chunk: a quarter of the free memory over :meth:`bytes_per_point`,
        clamped to [1, n_points].

        On the CPU the chunk's working set is also held to 32 MiB per torch thread (but to no
        fewer than 128 points while memory allows): chunks that stay in the last-level cache
        between passes run faster. Measured on the 2-core development machine (105 MiB L3),
        2-D slice, tanh: P = 897, m = 256, float32: 256-point chunks (40 MiB) gave 83k-90k
        points/s against 61k-62k for 3 392-point chunks (the former 256 MiB cap); float64
        and P = 10.5k, m = 1000 are indifferent within the noise (+-10 %). For large m the
        floor decides: e.g. m = 1000, widths 64, 64, float64 needs about 2.6 MB per point, so
        chunks hold 128 points (about 330 MB).
        """
        bpp = self.bytes_per_point(mode, k)
        budget = _MEMORY_FRACTION * self.free_memory()
        if self.device.type == "cpu":
            cache = _CPU_BYTES_PER_THREAD * max(1, torch.get_num_threads())
            budget = min(budget, max(cache, _CPU_MIN_CHUNK * bpp))
        return int(max(1, min(max(n_points, 1), budget // bpp)))

    def evaluate_chunked(self, points, mode: str = "full", *, center=None, directions=None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N points, in chunks so that peak memory stays bounded for any N.

        Parameters
        ----------
        points : array (N, P) or (N, k)
            ``mode="full"``: parameter vectors theta; ``mode="slice"``: slice coordinates t
            with theta = center + t @ directions. A numpy array stays on the host; only
            one chunk at a time is moved to the device.
        mode : {"full", "slice"}
        center, directions : arrays (P,) and (k, P)
            Required with ``mode="slice"`` (the affine first-layer parts are
            precomputed once for all chunks).
        chunk : int, optional
            Points per batch; ``None`` adapts it to the free device memory
            (:meth:`chunk_size`).
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        numpy.ndarray of float64, shape (N,)
        """
        if mode not in ("full", "slice"):
            raise InvalidSpecError(f"mode must be 'full' or 'slice', got {mode!r}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        plan = None
        if mode == "slice":
            if center is None or directions is None:
                raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
            plan = self._plan(center, directions)
            k = plan.k
            points = _host_array("points", points)
            if points.ndim == 1 and k == 1:
                points = points.reshape(-1, 1)
            width = k
        else:
            if center is not None or directions is not None:
                raise InvalidSpecError("center/directions are only used with mode='slice'")
            points = _host_array("points", points)
            k, width = 0, self.n_params
        if points.ndim != 2 or points.shape[1] != width:
            what = f"(N, k={width}) slice coordinates" if mode == "slice" else f"(N, P={width}) parameter vectors"
            raise InvalidSpecError(f"points must have shape {what}, got {tuple(points.shape)}")
        N = int(points.shape[0])
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        size = int(chunk) if chunk is not None else self.chunk_size(N, mode, k)
        ws = self._workspace if self._workspace is not None else _Workspace(self.dtype, self.device)
        bar = progress_bar(progress, N, f"loss ({self.device.type}, {mode})")
        try:
            with torch.inference_mode():
                for start in range(0, N, size):
                    block = points[start:start + size]
                    if plan is None:
                        vals = self._evaluate_full(self._tensor("points", block, (None, width)), ws)
                    else:
                        vals = self._evaluate_plan(plan, self._tensor("points", block, (None, k)), ws)
                    out[start:start + block.shape[0]] = vals.to(device="cpu", dtype=torch.float64).numpy()
                    if bar is not None:
                        bar.update(block.shape[0])
        finally:
            if bar is not None:
                bar.close()
        return out


def _host_array(name: str, value):
    """A tensor stays as it is; anything else becomes a float64 numpy array."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return value
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{name} must be a rectangular array of real numbers ({exc})") from None


# ------------------------------------------------------------- from torch models
def _module_activation(mod) -> str | None:
    """Registry name of a supported activation module; None for a Linear; raises otherwise."""
    nn = torch.nn
    if isinstance(mod, nn.Sigmoid):
        return "logistic"
    if isinstance(mod, nn.Tanh):
        return "tanh"
    if isinstance(mod, nn.SiLU):
        return "silu"
    if isinstance(mod, nn.Identity):
        return "identity"
    if isinstance(mod, nn.Softplus):
        if float(mod.beta) != 1.0:
            raise InvalidSpecError(
                f"nn.Softplus(beta={mod.beta}) is not supported: only beta=1 (log(1 + e^t)) is in the registry "
                "(rescale the preceding Linear layer by beta and the following one by 1/beta instead)"
            )
        if float(mod.threshold) < 20.0:
            raise InvalidSpecError(
                f"nn.Softplus(threshold={mod.threshold}) is not supported: torch returns t itself above the "
                f"threshold, which is log(1 + e^t) only up to log(1 + e^-threshold) = "
                f"{math.log1p(math.exp(-float(mod.threshold))):.2g}; use the default threshold=20 (a gap below "
                "2.1e-9) or more"
            )
        return "softplus"
    if isinstance(mod, nn.GELU):
        if getattr(mod, "approximate", "none") != "none":
            raise InvalidSpecError(
                f"nn.GELU(approximate={mod.approximate!r}) is not supported: only the exact GELU "
                "(approximate='none', t * Phi(t)) is in the registry"
            )
        return "gelu"
    name = type(mod).__name__.lower()
    if name in NON_PFAFFIAN:
        raise NotPfaffianError(f"nn.{type(mod).__name__}: " + NON_PFAFFIAN[name])
    raise InvalidSpecError(
        f"module nn.{type(mod).__name__} is not supported by from_sequential; accepted: nn.Linear and the "
        "activations nn.Sigmoid, nn.Tanh, nn.Softplus (beta=1), nn.SiLU, nn.GELU (approximate='none'), "
        "nn.Identity"
    )


def from_sequential(model, x, y, loss: str = "mse", l2: float = 0.0):
    """``(spec, theta)`` for a ``torch.nn.Sequential`` of Linear and activation modules.

    The model must read ``Linear, act, Linear, act, ..., Linear[, out_act]``: at least one
    hidden layer, the same hidden activation throughout (nn.Sigmoid, nn.Tanh,
    nn.Softplus with beta=1, nn.SiLU, nn.GELU with approximate='none', or nn.Identity /
    no module for a linear layer), and optionally a final nn.Sigmoid or nn.Tanh as the
    output activation. With ``loss="bce"`` and no final nn.Sigmoid the model's output is
    taken as the logit (as with ``nn.BCEWithLogitsLoss``). ``theta`` is
    ``parameters_to_vector(model)`` as float64 numpy, which is exactly the kernel's
    parameter order; bias-free Linear layers give a per-layer ``bias`` list.

    Skip connections (``skip="residual"`` or ``"input-output"``) cannot be expressed by
    an ``nn.Sequential`` and are never produced here; build the
    :class:`~bettibounds.spec.ArchitectureSpec` directly for them.

    Raises
    ------
    NotPfaffianError
        For ReLU and other non-analytic activations.
    InvalidSpecError
        For any other unsupported module or layout, or data of the wrong shape.
    """
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise InvalidSpecError(f"from_sequential needs a torch.nn.Sequential, got {type(model).__name__}")
    mods = list(model)
    if not mods or not isinstance(mods[0], nn.Linear):
        raise InvalidSpecError("the Sequential must start with an nn.Linear layer")
    linears: list = []
    acts: list = []  # activation name between consecutive Linears (None when absent)
    out_act = "identity"
    pending: str | None = None
    seen_act = False
    for pos, mod in enumerate(mods):
        if isinstance(mod, nn.Linear):
            if linears:
                acts.append(pending)
            linears.append(mod)
            pending, seen_act = None, False
            continue
        name = _module_activation(mod)
        if name == "identity":
            continue  # nn.Identity is a no-op wherever it sits
        if seen_act:
            raise InvalidSpecError(
                f"two activations in a row at position {pos} of the Sequential; expected Linear, act, Linear, ..."
            )
        pending, seen_act = name, True
    if pending is not None:  # a trailing activation: the output activation
        if pending not in ("logistic", "tanh"):
            raise InvalidSpecError(
                f"the final module is a {pending} activation; only nn.Sigmoid or nn.Tanh may follow the "
                "last Linear layer (as the output activation)"
            )
        out_act = pending
    if len(linears) < 2:
        raise InvalidSpecError(
            "the Sequential needs at least one hidden layer (Linear, act, Linear); a single Linear layer "
            "is a linear model: use nn.Sequential(nn.Linear(d, h), nn.Identity(), nn.Linear(h, out))"
        )
    names = {a or "identity" for a in acts}
    if len(names) != 1:
        raise InvalidSpecError(
            f"all hidden layers must use the same activation, got {sorted(names)} (one spec activation per network)"
        )
    activation = names.pop()
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise InvalidSpecError(f"Linear layers do not chain: {a} is followed by {b}")
    loss_name = str(loss).strip().lower()
    if loss_name == "bce":
        if out_act == "tanh":
            raise InvalidSpecError("loss='bce' needs a sigmoid output (or logits); the model ends in nn.Tanh")
        out_act = "logistic"
    d, outputs = linears[0].in_features, linears[-1].out_features
    xa = _to_numpy_matrix("x", x, cols=d)
    _to_numpy_matrix("y", y, cols=outputs, rows=xa.shape[0])  # validates the labels
    biases = [lin.bias is not None for lin in linears]
    bias = biases[0] if len(set(biases)) == 1 else biases
    spec = ArchitectureSpec(
        inputs=d, widths=tuple(lin.out_features for lin in linears[:-1]), outputs=outputs,
        activation=activation, output_activation=out_act, loss=loss_name, l2=l2,
        samples=xa.shape[0], bias=bias,
    )
    _check_plain_modules(model, linears)
    tensors = [t for lin in linears for t in (lin.weight, lin.bias) if t is not None]  # DESIGN.md's order
    theta = torch.cat([t.detach().reshape(-1).to("cpu", torch.float64) for t in tensors]).numpy().copy()
    if theta.shape[0] != spec.n_params:  # pragma: no cover - guarded by the layout checks above
        raise InvalidSpecError(f"the model has {theta.shape[0]} parameters but the spec has {spec.n_params}")
    return spec, theta


def _check_plain_modules(model, linears) -> None:
    """Refuse what would make ``theta`` differ from the weights the model computes with.

    A parametrised weight (``torch.nn.utils.parametrize``: spectral or weight norm, orthogonal),
    a pruning mask (``torch.nn.utils.prune``: ``weight_orig`` times ``weight_mask``, applied by a
    forward pre-hook) and old-style ``spectral_norm`` / ``weight_norm`` keep raw tensors that are
    not the effective weights, and any forward hook may change what a module returns; a Linear
    that appears twice shares its parameters between positions. None of these is the plain
    network of the spec, so a landscape over its parameters would not be the model's.
    """
    from torch.nn.utils import parametrize

    for pos, mod in enumerate([model, *model]):
        what = None
        if parametrize.is_parametrized(mod):
            what = "a parametrisation (torch.nn.utils.parametrize: spectral/weight norm, orthogonal, ...)"
        elif any(hasattr(mod, name + "_orig") for name in ("weight", "bias")):
            what = "a pruning mask or a reparametrisation (weight_orig: torch.nn.utils.prune, spectral_norm)"
        elif mod._forward_pre_hooks or mod._forward_hooks or getattr(mod, "_forward_hooks_with_kwargs", None):
            what = "forward hooks"
        if what is not None:
            where = "the Sequential itself" if mod is model else f"module {pos - 1} ({type(mod).__name__})"
            raise InvalidSpecError(
                f"{where} has {what}, so what it computes is not what its stored tensors give; remove them "
                "first (torch.nn.utils.prune.remove, parametrize.remove_parametrizations, the hook's handle) "
                "to get a plain network, whose parameters the landscape is over"
            )
    if len({id(lin) for lin in linears}) != len(linears):
        raise InvalidSpecError("an nn.Linear appears at two positions of the Sequential (shared weights): "
                               "the spec's layers have independent parameters")
    own = [id(t) for lin in linears for t in (lin.weight, lin.bias) if t is not None]
    if sorted(id(t) for t in model.parameters()) != sorted(own):
        raise InvalidSpecError("the Sequential has parameters besides its Linear layers' weights and biases "
                               "(an activation module with learnable parameters?); the spec has none")


def experiment_from_sequential(model, x, y, *, region: dict, grid, levels=None, homology_dims=None,
                               loss: str = "mse", l2: float = 0.0):
    """An :class:`~bettibounds.empirical.experiment.Experiment` for a ``torch.nn.Sequential``
    and its data, validated exactly as an experiment file is.

    ``region`` is an experiment-file region (DESIGN.md); a ``"slice"`` without ``"center"``
    is centred at the model's own parameters (``parameters_to_vector(model)``), so
    ``{"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}``
    is the usual "landscape around my trained model". The result goes to
    :func:`~bettibounds.empirical.compare.analyze_landscape` or
    :func:`~bettibounds.empirical.sampler.sample_landscape`.
    """
    from .experiment import parse_experiment

    spec, theta = from_sequential(model, x, y, loss=loss, l2=l2)
    if not isinstance(region, dict):
        raise InvalidSpecError(f"region must be an experiment-file region (a dict), got {type(region).__name__}")
    region = dict(region)
    if region.get("kind") == "slice" and "center" not in region:
        region["center"] = theta.tolist()
    biases = [spec.has_bias(k) for k in range(1, len(spec.widths) + 2)]
    obj = {
        "network": {"layers": [spec.inputs, *spec.widths, spec.outputs], "activation": spec.activation,
                    "output_activation": spec.output_activation,
                    "bias": biases[0] if len(set(biases)) == 1 else biases},
        "loss": {"kind": spec.loss, "l2": float(l2)},
        "data": {"x": _to_numpy_matrix("x", x).tolist(), "y": _to_numpy_matrix("y", y).tolist()},
        "region": region, "grid": grid,
    }
    if levels is not None:
        obj["levels"] = levels
    if homology_dims is not None:
        obj["homology_dims"] = homology_dims
    return parse_experiment(obj)  # numpy arrays, numpy scalars and tuples are taken as lists and numbers
