"""The torch engine: the loss of one spec-based network at many parameter vectors at once.

:class:`LossKernel` evaluates ``Loss(theta)`` for a batch of B parameter vectors with
batched matrix products (no Python loop over the batch or over the samples), on CUDA
when it is available and on the CPU otherwise. The network and the loss are exactly
those of :mod:`bettibounds.pfaffian.network` (docs/usage.md, "Conventions"):

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

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .._lib.arrays import host_or_tensor
from .._lib.devices import free_memory, resolve_device, resolve_dtype
from .._lib.progress import progress_bar
from ..errors import InvalidSpecError
from ..pfaffian.activations import get_activation
from .layout import Layer, param_layout
from .torch_ops import activation_op, softplus
from .validation import check_data, check_mode, check_points, check_spec, concrete_widths
from .workspace import Workspace

__all__ = ["LossKernel", "SlicePlan"]

#: fraction of the free memory one chunk may use when the chunk size adapts
_MEMORY_FRACTION = 0.25
#: CPU working set per chunk and torch thread: beyond it a chunk's activations stop
#: fitting the last-level cache between one pass and the next (measured:
#: benchmarks/bench_kernels.py and the chunk_size docstring)
_CPU_BYTES_PER_THREAD = 32 * 2**20
#: ... but at least this many points per chunk, memory permitting: batching is what
#: amortises the per-call overhead of the batched products
_CPU_MIN_CHUNK = 128


@dataclass
class SlicePlan:
    """Precomputed affine parts of a slice theta = center + coords @ directions."""

    k: int
    # each table is stored as (width, 1 + k) contiguous and used through its transpose:
    # BLAS runs the skinny (B, 1 + k) x (1 + k, width) product several times faster so
    theta: torch.Tensor  # (P, 1 + k): the center, then the directions
    z1: torch.Tensor  # ((h_1 + 1) m, 1 + k): first-layer pre-activations W_1(v) x + b_1(v)
    #                   of v = the center, then of each direction (linear in v), unit-major,
    #                   then the ones row (1 for the center, 0 for the directions)
    io: torch.Tensor | None  # (outputs m, 1 + k): U x for the input-output skip, same pattern


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
    >>> from bettibounds import ArchitectureSpec
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=2, bias=False)
    >>> kern = LossKernel(spec, [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    >>> kern.evaluate(torch.zeros(3, spec.n_params)).tolist()
    [0.125, 0.125, 0.125]
    """

    #: the engine's name in :data:`bettibounds.engines.ENGINES`
    engine = "torch"

    def __init__(self, spec, x, y, device=None, dtype="float64"):
        self.spec = check_spec(spec)
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        xa, ya = check_data(spec, x, y)
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
        self._act = activation_op(get_activation(spec.activation).name)
        self._residual = "residual" in spec.skips
        # evaluate_chunked's buffers: fresh per call unless keep_workspace() was called (a Dask
        # worker keeps one per thread across its blocks; bettibounds.distributed)
        self._workspace: Workspace | None = None

    def keep_workspace(self) -> LossKernel:
        """Keep :meth:`evaluate_chunked`'s buffers from call to call (returns self).

        A caller that evaluates many blocks in one thread (a Dask worker) saves the page faults
        of fresh buffers per call; the buffers are written by every call, so a kernel that keeps
        them must not be shared between threads.
        """
        if self._workspace is None:
            self._workspace = Workspace(self.dtype, self.device)
        return self

    @property
    def workspace_bytes(self) -> int:
        """Bytes held by the kept buffers (0 unless :meth:`keep_workspace` was called)."""
        return 0 if self._workspace is None else self._workspace.nbytes

    def __repr__(self) -> str:
        s = self.spec
        return (f"LossKernel(d={s.inputs}, widths={list(concrete_widths(s))}, outputs={s.outputs}, "
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
        theta = host_or_tensor("theta", theta)
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
    def _aug(self, th: torch.Tensor, layer: Layer, ones_row: bool, ws: Workspace | None,
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

    def _first(self, th: torch.Tensor, ws: Workspace | None = None, aug: bool | None = None) -> torch.Tensor:
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

    def _io_term(self, th: torch.Tensor, ws: Workspace | None = None) -> torch.Tensor | None:
        """U x for the input-output skip: (B, outputs, m), or None."""
        if self._io is None:
            return None
        B, out, d = th.shape[0], self.spec.outputs, self.spec.inputs
        U = th[:, self._io:self._io + out * d].reshape(B * out, d)
        xt = self._xa[:d]  # x^T (d, m)
        z = torch.mm(U, xt) if ws is None else torch.mm(U, xt, out=ws.get("io", (B * out, self.m)))
        return z.view(B, out, self.m)

    def _activate(self, z: torch.Tensor, h: int, inplace: bool, ws: Workspace | None) -> torch.Tensor:
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

    def _linear(self, th: torch.Tensor, layer: Layer, a: torch.Tensor, idx: int, hidden: bool,
                ws: Workspace | None) -> torch.Tensor:
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
              ws: Workspace | None = None) -> torch.Tensor:
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
            per = (torch.where(self._y_pos, y * softplus(-u), zero)
                   + torch.where(self._y_below1, (1 - y) * softplus(u), zero))
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

    def _evaluate_full(self, th: torch.Tensor, ws: Workspace | None = None) -> torch.Tensor:
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
    def plan_slice(self, center, directions) -> SlicePlan:
        """The affine parts of the slice ``theta = center + t @ directions``, validated and
        precomputed once for every evaluation on it (center (P,), directions (k, P))."""
        P = self.n_params
        c = self._tensor("center", center, (P,))
        directions = host_or_tensor("directions", directions)
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
        return SlicePlan(k, both.t().contiguous(), z, io)

    def _coords(self, coords, k: int) -> torch.Tensor:
        coords = host_or_tensor("coords", coords)
        if coords.ndim == 1:  # (B,) when k = 1, else one point (k,)
            coords = coords.reshape(-1, 1) if k == 1 else coords.reshape(1, -1)
        return self._tensor("coords", coords, (None, k))

    def _evaluate_plan(self, plan: SlicePlan, t: torch.Tensor, ws: Workspace | None = None) -> torch.Tensor:
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
        plan = self.plan_slice(center, directions)
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
        widths = concrete_widths(s)
        layers = sum(h + 1 for h in widths)
        per = 3 * self.n_params + k + 1 + self.m * (layers + max(widths) + 6 * s.outputs + 1)
        return int(1.5 * item * per)

    def free_memory(self) -> int:
        """Bytes currently available on the kernel's device (CUDA: free + torch's cached
        blocks; CPU: MemAvailable from /proc/meminfo, else the OS's available pages)."""
        return free_memory(self.device)

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
        check_mode(mode, center, directions)
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        plan = None
        if mode == "slice":
            plan = self.plan_slice(center, directions)
            k = width = plan.k
        else:
            k, width = 0, self.n_params
        points = host_or_tensor("points", points)
        points = check_points(points, mode, width)
        N = int(points.shape[0])
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        size = int(chunk) if chunk is not None else self.chunk_size(N, mode, k)
        ws = self._workspace if self._workspace is not None else Workspace(self.dtype, self.device)
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
