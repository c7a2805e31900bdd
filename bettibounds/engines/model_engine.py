"""The model engine: the loss of any ``torch.nn.Module`` at many parameter vectors at once.

:class:`ModelEngine` evaluates ``Loss(theta) = loss(model_theta(x), y)`` for a batch of parameter
vectors theta (the varied parameters of the model, flattened in ``model.named_parameters()``
order, which is ``parameters_to_vector``'s order) with ``torch.func.functional_call`` vectorised by
``torch.func.vmap`` over chunks of points, on the CPU or CUDA, in float64 or float32, without
autograd in :meth:`ModelEngine.evaluate_chunked`.

What it accepts (:class:`ModelProblem`): any module whose forward is a function of its parameters,
its buffers and the input -- convolutions, norm layers in eval mode (running statistics are fixed
buffers), Dropout (the identity in eval mode), custom modules, residual blocks, attention. What it
refuses, before any work, with a one-line reason that names the fix:

* a model whose output in train mode differs from its output in eval mode (Dropout, BatchNorm, or
  a custom module that reads ``self.training``), unless ``mode="eval"`` asks to evaluate it in eval
  mode (the result says so): a landscape is never evaluated stochastically;
* a forward that updates buffers in place, draws random numbers, or branches in Python on the
  values of tensors (what ``vmap`` cannot vectorise).

The slice trick. Where the first module that holds varied parameters (in the order the forward
calls modules) is an ``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.LayerNorm``, ``nn.GroupNorm`` or an
eval-mode ``nn.BatchNorm1d/2d/3d`` -- modules whose output is linear in their own parameters jointly
-- and its input does not depend on any varied parameter, its output on the data at ``theta = c +
sum_j t_j d_j`` is ``z(c) + sum_j t_j z_0(d_j)`` (``z_0``: the same module with the direction's
parameters, fixed parameters at 0). The k + 1 tables are computed once per slice (for a
convolution, k + 1 convolutions of the data instead of one per point) and each chunk's first-layer
outputs are one matrix product; the rest of the model is evaluated as usual. Everything the module
computes before that layer is evaluated once per chunk, not once per point (``vmap`` does not
batch what does not depend on theta), so varying only the last layer costs one forward of the body.
Each engine checks the trick at two points of a random slice against the plain evaluation when it
is built, and keeps it off (saying why) when they disagree.

The engine is built in layers, one module each: :mod:`.model_problem` (:class:`ModelProblem`,
:func:`select_parameters`, :func:`mode_dependent_modules`), :mod:`.model_losses`
(:data:`MODEL_LOSSES`, :data:`REDUCTIONS`, the batched losses), :mod:`.model_forward` (the
functional, vectorised forward and the refusals: ``FunctionalModel``), :mod:`.model_slice` (the
slice trick: ``SliceTrick``, and the set-up of :mod:`.model_fused_first`, the fused first layer),
:mod:`.model_blocks` (sample blocks: ``SampleBlocks``) and this
module (:class:`ModelEngine`: chunks, memory, the engine contract). The public names of the first
two are importable from here as before.

This module imports torch; nothing in the core imports it.
"""

from __future__ import annotations

import dataclasses
import numbers
import time
import types
import warnings

import numpy as np
import torch

from .._lib.arrays import host_or_tensor
from .._lib.devices import dtype_name, free_memory
from .._lib.progress import progress_bar
from ..errors import InvalidSpecError
from .model_blocks import SampleBlocks, check_sample_block
from .model_forward import no_fastpath, one_line
from .model_losses import MODEL_LOSSES, REDUCTIONS
from .model_problem import MODES, ModelProblem, mode_dependent_modules, select_parameters
from .model_slice import SlicePlan
from .validation import check_mode, check_points

__all__ = ["ModelProblem", "ModelEngine", "MODEL_LOSSES", "REDUCTIONS", "MODES", "select_parameters",
           "mode_dependent_modules"]

#: fraction of the free device memory one chunk may use
_MEMORY_FRACTION = 0.25
#: CPU working set per chunk and torch thread: beyond it a chunk stops fitting the last-level cache
_CPU_BYTES_PER_THREAD = 32 * 2**20
#: ... but at least this many points per chunk (the per-call cost of vmap and functional_call is then
#: spread over them; measured on a 30-20-16-1 network, m = 569: 64-128 points ran 1.3-1.6x the rate of 21),
#: when such a chunk stays under _CPU_FLOOR_BYTES; points of tens of MB (a CNN on 1797 images) run best
#: in chunks that fit the cache (1-2 points: their elementwise passes dominate, not the per-call cost)
_CPU_MIN_CHUNK = 64
_CPU_FLOOR_BYTES = 256 * 2**20


# ------------------------------------------------------------------ engine
class ModelEngine(SampleBlocks):
    """The loss of a module on the data (x, y), evaluated at many parameter vectors at once.

    Parameters
    ----------
    problem : ModelProblem or torch.nn.Module
        The model, loss, reduction and varied parameters (a bare module: MSE, torch's reduction,
        every trainable parameter, train-mode models refused).
    x, y : tensors or numpy arrays
        Inputs (m, ...) and targets; the first axis runs over the m samples.
    device : str or torch.device, optional
        ``None``: ``"cuda"`` when torch sees a GPU, else ``"cpu"``.
    dtype : {"float64", "float32"}
    slice_trick : bool
        Use the slice trick where it applies (default); False evaluates slices as full parameter
        vectors (for comparisons).
    compile : bool
        Evaluate :meth:`evaluate_chunked`'s chunks with a ``torch.compile`` (inductor) of the batched
        loss (default False). The first chunk of each mode compiles it (10-20 s for the benchmark's
        models; a later engine of the same model reuses torch's on-disk cache) and is checked against the plain
        evaluation (relative 1e-9 in float64, 1e-5 in float32); a failed compilation or check turns
        it off, with ``compile_reason`` saying why (and a warning). Chunks are padded to one size, so
        it compiles once per mode and slice dimension. On the CPU (docs/benchmarks.md) it ran at
        1.2-1.7x the plain engine for float32 MLPs, 0.8-1.2x for float32 CNNs, 0.88x (MLP) and 1.49x
        (CNN) in float64.
    fast_activations : bool
        Compute tanh and the logistic (``nn.Tanh``, ``nn.Sigmoid``, ``torch.tanh``, ``torch.sigmoid``,
        ``F.tanh``, ``F.sigmoid``, ``Tensor.tanh``, ``Tensor.sigmoid``; differentiable) with the fused
        engine's vector functions (:mod:`.fast_activations`; default True): float64 within 6.7 / 4.1 ulp
        (docs/theory.md, section 15), float32 within 5 / 2 ulp of the correctly rounded values, where
        torch's own are within about 1 ulp; 5x (float64) and 10x (float32) faster than torch's tanh on
        the development CPU. On the CPU, with numba installed, without ``compile``; checked at the
        centre against torch's activations when the engine is built (else off, with a warning).
        ``activations`` says which are in use and ``activations_reason`` why not the fast ones.
    sample_block : int or None
        Sample blocks (:mod:`.model_blocks`) for slices with the slice trick on the CPU: ``None``
        (default) uses them when the activations of ``BLOCK_POINTS`` (64) points on all samples exceed
        ``BLOCK_BYTES`` (32 MiB), with samples per block from the activations per sample; an integer
        >= 16 fixes the samples per block; 0 turns them off. Checked when the engine is built against
        the unblocked evaluation (a module that mixes samples keeps them off).
    fused_first : bool
        Fuse the slice trick's table product with the ``nn.Tanh`` / ``nn.Sigmoid`` after the first layer
        and an ``nn.AvgPool2d`` after that (a Conv2d's, no padding) in one numba pass, where they follow it
        in an ``nn.Sequential`` (:mod:`.model_fused_first`; default True; needs the fast activations).
        Checked when the engine is built against the unfused evaluation.

    Attributes
    ----------
    n_params : int
        P, the number of varied coordinates.
    names : list of str
        The varied parameters, in theta's order.
    center : numpy.ndarray
        The model's own varied parameters as a float64 vector (P,).
    notes : list of str
        What the engine did that a result must say (a model switched to eval mode).
    slice_trick : str or None
        The module the slice trick starts from, or None; ``slice_trick_reason`` says why not.
    compiled : bool or None
        Whether ``compile`` is in use: None before the first chunk, True once a compiled chunk
        passed its check, False when it was not asked for or was turned off (``compile_reason``).
    activations : str
        ``"torch's"`` or the fast activations and their accuracy; ``activations_reason`` says why
        torch's are used (None when the fast ones are).
    sample_blocks : str or None
        The sample blocks in use, or None; ``sample_blocks_reason`` says why not.
    fused_first : str or None
        The modules the fused first layer covers, or None; ``fused_first_reason`` says why not.
    loss_kernel : str or None
        With the fast activations, cross entropy (and nll after a ``LogSoftmax`` head, the model's
        last module in an ``nn.Sequential``) is computed by the fused engine's vector code, and this
        says so; None: torch's formulas.
    compile_seconds : float
        Set once compiled: the seconds its first chunks took, compilation included.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Tanh(), torch.nn.Linear(2, 1, bias=False))
    >>> eng = ModelEngine(net.eval(), [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    >>> eng.evaluate_chunked(np.zeros((2, eng.n_params))).tolist()
    [0.125, 0.125]
    """

    #: the engine's name in :data:`bettibounds.engines.ENGINES`
    engine = "model"

    def __init__(self, problem, x, y, device=None, dtype="float64", *, slice_trick: bool = True,
                 compile: bool = False, fast_activations: bool = True,
                 sample_block: int | None = None, fused_first: bool = True):  # (compile: torch.compile's name)
        check_sample_block(sample_block)  # before the model's checks: a bad value costs nothing
        super().__init__(problem, x, y, device, dtype)
        if not isinstance(compile, bool):
            raise InvalidSpecError(f"compile must be True or False, got {compile!r}")
        if not isinstance(fast_activations, bool):
            raise InvalidSpecError(f"fast_activations must be True or False, got {fast_activations!r}")
        if not isinstance(fused_first, bool):
            raise InvalidSpecError(f"fused_first must be True or False, got {fused_first!r}")
        self.activations = "torch's"
        self.activations_reason: str | None = None
        self.loss_kernel: str | None = None
        #: the model's LogSoftmax head, folded into cross entropy (its forward replaced; :meth:`log_softmax_head`)
        self._folded_head = False
        self._setup_activations(fast_activations, compile)
        self.compiled: bool | None = None if compile else False
        self.compile_reason: str | None = None if compile else "not asked for (compile=False)"
        self._compiled: dict = {}  # (mode, k) -> (chunk size, the compiled function)
        self.slice_trick: str | None = None
        self.slice_trick_reason: str | None = None
        self._first = None
        self._channels_last = False
        self._plan: SlicePlan | None = None
        if slice_trick:
            self._setup_slice_trick()
        else:
            self.slice_trick_reason = "turned off (slice_trick=False)"
        self._setup_fused_first(fused_first)
        self._setup_sample_blocks(sample_block, compile)

    def _setup_activations(self, wanted: bool, compile: bool) -> None:
        """Use :mod:`.fast_activations` where asked and possible; checked at the centre against
        torch's activations (the loss within 1e-12 relative in float64, 1e-5 in float32)."""
        if not wanted:
            self.activations_reason = "not asked for (fast_activations=False)"
            return
        if compile:
            self.activations_reason = "compile=True: inductor computes the activations in its compiled loops"
            return
        if self.device.type != "cpu":
            self.activations_reason = f"device {self.device.type}: the fast activations run on the CPU"
            return
        from .fast_activations import ACCURACY, FastActivations, fast_activations_unavailable

        why = fast_activations_unavailable()
        if why is not None:
            self.activations_reason = why
            return
        c = torch.as_tensor(self.center, dtype=self.dtype, device=self.device).unsqueeze(0)
        with torch.no_grad():
            plain = self._full_values(c)
            self._act_mode = FastActivations
            fast = self._full_values(c)
        tol = 1e-12 if self.dtype == torch.float64 else 1e-5
        if not bool(torch.allclose(fast, plain, rtol=tol, atol=0.0)):
            self._act_mode = None
            self.activations_reason = (f"the loss with the fast activations differed from torch's by more than {tol:g} "
                                       "relative at the centre")
            warnings.warn(f"ModelEngine: {self.activations_reason}; torch's activations are used", RuntimeWarning,
                          stacklevel=3)
            return
        self.activations = ACCURACY
        self._setup_fast_loss(c, tol)

    def _setup_fast_loss(self, c: torch.Tensor, tol: float) -> None:
        """With the fast activations: cross entropy (and nll after a ``LogSoftmax`` head, folded into
        it) by the fused engine's vector code (:func:`.model_losses.fast_cross_entropy`); checked at
        the centre against the same loss by torch's formulas, within ``tol`` relative."""
        from .model_losses import FAST_LOSS, batched_loss, fast_cross_entropy

        loss = self.problem.loss
        if loss not in ("cross_entropy", "nll") or len(self._out_shape) != 2:
            return
        head = None
        if loss == "nll":
            head = self._log_softmax_head(c)
            if head is None:
                return  # (nll alone is a gather: nothing to gain)
        before = self._loss
        plain = batched_loss(self.problem, self._y, self.m) if head is None else \
            batched_loss(dataclasses.replace(self.problem, loss="cross_entropy"), self._y, self.m)
        if head is not None:
            # nll(log_softmax(u)) = cross_entropy(u): an identity, recognised structurally (the reference
            # below is the folded loss by torch's formulas: torch's log_softmax rounds 1 + s, 1e-3 relative
            # off for a confident sample, which the fold avoids)
            head.forward = _identity  # (an instance attribute: nn.Module.__call__ calls it)
        agree = False
        try:
            self._loss = plain
            with torch.no_grad():
                reference = self._full_values(c)
            self._loss = fast_cross_entropy(self._y, self.m, int(self._out_shape[1]), plain)
            with torch.no_grad():
                value = self._full_values(c)
            agree = bool(torch.allclose(value, reference, rtol=tol, atol=0.0))
        finally:  # (an exception, or a disagreement: as before)
            if not agree:
                self._loss = before
                if head is not None:
                    del head.forward
        if not agree:
            warnings.warn(f"ModelEngine: the {loss} loss by the vector code differed from torch's formulas by more "
                          f"than {tol:g} relative at the centre; the torch formulas are used", RuntimeWarning,
                          stacklevel=4)
            return
        self._folded_head = head is not None
        self.loss_kernel = FAST_LOSS + ("" if head is None else
                                        "; the model's last module, LogSoftmax, folded into it (nll of log_softmax(u) "
                                        "= cross entropy of u)")

    def log_softmax_head(self) -> bool:
        """Whether the model's output is a ``LogSoftmax`` over the classes (the last child of a plain
        ``nn.Sequential``, called once per forward): then nll of it is -log of a softmax probability."""
        if self._folded_head:
            return True  # (recognised when it was folded; its forward is the identity now)
        if len(self._out_shape) != 2:
            return False
        c = torch.as_tensor(self.center, dtype=self.dtype, device=self.device).unsqueeze(0)
        return self._log_softmax_head(c) is not None

    def _log_softmax_head(self, c: torch.Tensor) -> torch.nn.Module | None:
        """The model's ``LogSoftmax`` over the classes when it is the last child of a plain
        ``nn.Sequential`` model, called once per forward; else None."""
        from .model_fused_first import global_hooks, hookless

        model = self._model
        if type(model) is not torch.nn.Sequential or "forward" in vars(model) or not hookless(model) or global_hooks():
            return None
        children = [mod for mod in model._modules.values() if mod is not None]
        head = children[-1] if children else None
        if type(head) is not torch.nn.LogSoftmax or head.dim not in (1, -1) or "forward" in vars(head) \
                or not hookless(head) or any(mod is head for mod in children[:-1]):
            return None
        calls = []
        handle = head.register_forward_hook(lambda *_: calls.append(1))
        try:
            with torch.no_grad():
                self._forward(self._params_of(c[0]))
        finally:
            handle.remove()
        return head if len(calls) == 1 else None

    # ------------------------------------------------------------ conversions
    def __repr__(self) -> str:
        return (f"ModelEngine({type(self.problem.model).__name__}, loss={self.problem.loss_name!r}, "
                f"reduction={self.problem.reduction!r}, m={self.m}, P={self.n_params}, device={str(self.device)!r}, "
                f"dtype={dtype_name(self.dtype)!r}, slice_trick={self.slice_trick!r})")

    def record(self) -> dict:
        """What a result records about the model's evaluation."""
        return {"model": type(self.problem.model).__name__, "loss": self.problem.loss_name,
                "reduction": self.problem.reduction if isinstance(self.problem.loss, str) else "the callable's own",
                "reduction_meaning": REDUCTIONS[self.problem.reduction] if isinstance(self.problem.loss, str)
                else "whatever the callable returns",
                "parameters": list(self.names), "n_params": self.n_params, "samples": self.m,
                "slice_trick": self.slice_trick, "slice_trick_reason": self.slice_trick_reason,
                "compiled": self.compiled, "compile_reason": self.compile_reason, "activations": self.activations,
                "activations_reason": self.activations_reason, "sample_blocks": self.sample_blocks,
                "sample_blocks_reason": self.sample_blocks_reason, "fused_first": self.fused_first,
                "fused_first_reason": self.fused_first_reason, "loss_kernel": self.loss_kernel,
                "notes": list(self.notes)}

    # ------------------------------------------------------------ evaluation
    def evaluate(self, theta) -> torch.Tensor:
        """Loss at each row of ``theta`` (B, P) (a (P,) vector counts as B = 1): a (B,) tensor of the
        engine's dtype on its device, differentiable when ``theta`` requires grad."""
        theta = host_or_tensor("theta", theta)
        if isinstance(theta, torch.Tensor) and theta.requires_grad:
            th = theta.to(device=self.device, dtype=self.dtype)
            if th.dim() == 1:
                th = th.unsqueeze(0)
            if th.dim() != 2 or th.shape[1] != self.n_params:
                raise InvalidSpecError(f"theta must have shape (N, P={self.n_params}), got {tuple(theta.shape)}")
        else:
            th = self._tensor("theta", theta, (None, self.n_params) if np.ndim(theta) == 2 else (self.n_params,))
            if th.dim() == 1:
                th = th.unsqueeze(0)
        return self._full_values(th)

    def evaluate_slice(self, center, directions, coords) -> torch.Tensor:
        """Loss at ``theta = center + coords @ directions`` (coords (B, k)); a (B,) tensor."""
        plan = self._plan_slice(center, directions)
        t = host_or_tensor("coords", coords)
        if t.ndim == 1:
            t = t.reshape(-1, 1) if plan.k == 1 else t.reshape(1, -1)
        with torch.no_grad():
            return self._slice_values(plan, self._tensor("coords", t, (None, plan.k)))

    def bytes_per_point(self, mode: str = "full", k: int = 0) -> int:
        """Conservative working memory of one point in a chunk (bytes): three times the activations
        one forward produces (the modules' outputs and their temporaries), theta and its views twice,
        the first layer's table row (slice trick), with 50 % headroom."""
        item = torch.empty((), dtype=self.dtype).element_size()
        per = 3 * self._activation_numel + 2 * self.n_params + k + 1 + int(np.prod(self._out_shape))
        return int(1.5 * item * per)

    def free_memory(self) -> int:
        """Bytes available on the engine's device now."""
        return free_memory(self.device)

    def chunk_size(self, n_points: int, mode: str = "full", k: int = 0) -> int:
        """Points per chunk: a quarter of the free memory over :meth:`bytes_per_point`, and on the CPU
        a working set of at most 32 MiB per torch thread, but 64 points when those take at most
        256 MiB; clamped to [1, n_points]. A slice evaluated with sample blocks (``sample_blocks``):
        :data:`~.model_blocks.BLOCK_POINTS` points within the quarter of the free memory."""
        bpp = self.bytes_per_point(mode, k)
        budget = _MEMORY_FRACTION * self.free_memory()
        blocked = self.blocked_chunk(n_points, budget) if mode == "slice" else None
        if blocked is not None:  # sample blocks: the chunk's memory is one block's, not m samples'
            return blocked
        if self.device.type == "cpu":
            cache = _CPU_BYTES_PER_THREAD * max(1, torch.get_num_threads())
            floor = _CPU_MIN_CHUNK * bpp if _CPU_MIN_CHUNK * bpp <= _CPU_FLOOR_BYTES else 0
            budget = min(budget, max(cache, floor))
        return int(max(1, min(max(n_points, 1), budget // bpp)))

    def evaluate_chunked(self, points, mode: str = "full", *, center=None, directions=None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N points, in chunks so that memory stays bounded for any N (the engine contract:
        :class:`~bettibounds.engines.base.LossEngine`).

        ``mode="full"``: ``points`` (N, P) parameter vectors; ``mode="slice"``: (N, k) coordinates with
        theta = center + t @ directions (the slice trick's tables are computed once per slice).
        Returns float64 numpy (N,).
        """
        check_mode(mode, center, directions)
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        plan = None
        points = host_or_tensor("points", points)
        if mode == "slice":
            plan = self._plan_slice(center, directions)
            k = width = plan.k
        else:
            k, width = 0, self.n_params
        points = check_points(points, mode, width)
        N = int(points.shape[0])
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        size = int(chunk) if chunk is not None else self.chunk_size(N, mode, k)
        if self.compiled is not False:  # one size per mode and k, that of a long run (a short one is padded)
            size = self._compiled[mode, k][0] if (mode, k) in self._compiled else \
                int(chunk) if chunk is not None else self.chunk_size(2**62, mode, k)
        bar = progress_bar(progress, N, f"loss (model, {self.device.type}, {mode})")
        try:
            # (compile=True: inductor computes the activations; the fast ones are then off)
            with torch.inference_mode(), no_fastpath(), self._activations():
                for start in range(0, N, size):
                    block = self._tensor("points", points[start:start + size], (None, width))
                    n = block.shape[0]
                    if self.compiled is not False:
                        vals = self._compiled_chunk((mode, k), plan, block, size)
                    elif plan is None:
                        vals = self._batched(block)
                    else:
                        vals = self._slice_batched(block, plan.basis, plan.z)
                    out[start:start + n] = vals.to(device="cpu", dtype=torch.float64).numpy()
                    if bar is not None:
                        bar.update(n)
        finally:
            if bar is not None:
                bar.close()
        return out

    # ------------------------------------------------------------ compile
    def _entry(self, *args) -> torch.Tensor:
        """The function ``compile`` compiles: ``(points,)`` in full mode, ``(t, basis, table)`` on a slice."""
        return self._batched(*args) if len(args) == 1 else self._slice_batched(*args)

    def _plain_chunk(self, plan: SlicePlan | None, block: torch.Tensor) -> torch.Tensor:
        return self._batched(block) if plan is None else self._slice_batched(block, plan.basis, plan.z)

    def _compiled_chunk(self, key: tuple, plan: SlicePlan | None, block: torch.Tensor, size: int) -> torch.Tensor:
        """One chunk through the compiled function (rows padded to ``size`` by repeating the last,
        whose values are dropped); compiles and checks it on the first chunk of each ``key`` (mode,
        k: a slice of another dimension is another graph)."""
        n = block.shape[0]
        padded = block if n == size else torch.cat([block, block[-1:].expand(size - n, -1)])
        args = (padded,) if plan is None else (padded, plan.basis, plan.z)
        if key in self._compiled:
            return self._compiled[key][1](*args)[:n]
        # a fresh copy of _entry's code per engine: torch.compile caches compiled graphs on the code
        # object and, past its recompile limit (8), would run a shared one uncompiled without saying so
        entry = types.FunctionType(ModelEngine._entry.__code__.replace(), ModelEngine._entry.__globals__, "_entry")
        plain = self._plain_chunk(plan, block)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():  # torch's own deprecation notices while it imports inductor
                warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*")
                fn = torch.compile(types.MethodType(entry, self), dynamic=False)
                fast = fn(*args)[:n]
        except Exception as exc:  # noqa: BLE001 -- any failure of torch.compile: evaluate without it
            return self._compile_off(f"torch.compile failed ({one_line(exc)[:200]})", plain)
        tol = 1e-9 if self.dtype == torch.float64 else 1e-5
        if not bool(torch.allclose(fast, plain, rtol=tol, atol=tol * float(plain.abs().max()))):
            gap = float(((fast - plain).abs() / plain.abs().clamp_min(torch.finfo(plain.dtype).tiny)).max())
            return self._compile_off(f"the compiled loss differed from the plain evaluation by {gap:.2g} relative "
                                     f"(> {tol:g}) on the first chunk", plain)
        self._compiled[key] = (size, fn)
        self.compiled, self.compile_reason = True, f"torch.compile (inductor), chunks of {size} points"
        # the first compiled chunk's time (compilation included), as the fused engine reports its own
        self.compile_seconds = getattr(self, "compile_seconds", 0.0) + time.perf_counter() - t0
        return fast

    def _compile_off(self, reason: str, plain: torch.Tensor) -> torch.Tensor:
        self.compiled, self.compile_reason = False, reason + "; evaluated without it"
        self._compiled.clear()
        warnings.warn(f"ModelEngine(compile=True): {self.compile_reason}", RuntimeWarning, stacklevel=4)
        return plain


def _identity(x):
    """The forward of a ``LogSoftmax`` head folded into the loss."""
    return x
