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

This module imports torch; nothing in the core imports it.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from .._lib.arrays import host_or_tensor
from .._lib.devices import dtype_name, free_memory, resolve_device, resolve_dtype
from .._lib.progress import progress_bar
from ..errors import InvalidSpecError

__all__ = ["ModelProblem", "ModelEngine", "MODEL_LOSSES", "REDUCTIONS", "MODES", "select_parameters",
           "mode_dependent_modules"]

#: the losses known by name (any callable ``loss(prediction, target) -> scalar`` is accepted too)
MODEL_LOSSES: dict[str, str] = {
    "mse": "squared error (torch.nn.MSELoss); targets shaped like the model's output",
    "bce": "binary cross entropy on probabilities (torch.nn.BCELoss; the model ends in a sigmoid)",
    "bce_with_logits": "binary cross entropy on logits (torch.nn.BCEWithLogitsLoss)",
    "cross_entropy": "cross entropy on logits (torch.nn.CrossEntropyLoss): integer class indices (m,), "
                     "or one-hot / soft labels (m, classes) as probabilities",
    "nll": "negative log-likelihood of log-probabilities (torch.nn.NLLLoss; a LogSoftmax head), class indices",
}

#: how the per-element losses are reduced to one number
REDUCTIONS: dict[str, str] = {
    "torch": "torch's default reduction='mean': mean over all elements for mse/bce (m * outputs), mean over "
             "samples for cross_entropy/nll",
    "theory": "sum over outputs, mean over samples (the convention of docs/theory.md and of experiment files); "
              "the same as 'torch' for cross_entropy/nll and single-output models",
}

#: what to do with a model whose output depends on train mode
MODES = ("refuse", "eval")

#: modules whose output is linear in their own parameters jointly (weight and bias), with no term
#: free of them: the slice trick's first layers (exact types: a subclass may override forward)
_LINEAR_IN_PARAMS = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.LayerNorm,
                     torch.nn.GroupNorm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)

#: module types whose train mode changes the output (the numeric check catches custom ones)
_MODE_DEPENDENT = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm,
                   torch.nn.modules.instancenorm._InstanceNorm, torch.nn.AlphaDropout)

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


def _nn():
    return torch.nn


# ------------------------------------------------------------------ problem
@dataclass(frozen=True)
class ModelProblem:
    """What the model engine evaluates: a module, a loss, a reduction, the varied parameters.

    Parameters
    ----------
    model : torch.nn.Module
        The network. The engine evaluates a private copy (the caller's module is never changed).
    loss : str or callable
        A name of :data:`MODEL_LOSSES`, or ``loss(prediction, target) -> scalar tensor`` (it must be
        vectorisable by ``torch.func.vmap``: torch operations, no ``.item()``, no Python ``if`` on
        tensor values).
    reduction : {"torch", "theory"}
        :data:`REDUCTIONS`; ignored (recorded as the callable's own) for a callable loss.
    parameters : tuple of str, optional
        Names (``model.named_parameters()``) of the varied parameters, in that order; ``None``: every
        parameter with ``requires_grad``. The others stay at their values.
    mode : {"refuse", "eval"}
        A model whose output in train mode differs from eval mode is refused (``"refuse"``) or
        evaluated in eval mode (``"eval"``, recorded).
    """

    model: Any
    loss: Any = "mse"
    reduction: str = "torch"
    parameters: tuple | None = None
    mode: str = "refuse"

    def __post_init__(self):
        nn = _nn()
        if not isinstance(self.model, nn.Module):
            raise InvalidSpecError(f"model must be a torch.nn.Module, got {type(self.model).__name__}")
        if isinstance(self.loss, str):
            if self.loss not in MODEL_LOSSES:
                raise InvalidSpecError(f"unknown loss {self.loss!r}; accepted: {', '.join(MODEL_LOSSES)}, or a "
                                       "callable loss(prediction, target) -> scalar")
        elif not callable(self.loss):
            raise InvalidSpecError(f"loss must be a name ({', '.join(MODEL_LOSSES)}) or a callable, got "
                                   f"{type(self.loss).__name__}")
        if self.reduction not in REDUCTIONS:
            raise InvalidSpecError(f"reduction must be one of {', '.join(REDUCTIONS)} ({REDUCTIONS['torch']}; "
                                   f"{REDUCTIONS['theory']}), got {self.reduction!r}")
        if self.mode not in MODES:
            raise InvalidSpecError(f"mode must be 'refuse' (a train-mode model whose output depends on it is "
                                   f"refused) or 'eval' (evaluated in eval mode, recorded), got {self.mode!r}")
        if self.parameters is not None:
            object.__setattr__(self, "parameters", tuple(self.parameters))

    @property
    def loss_name(self) -> str:
        """The loss's name, or ``callable:<its name>``."""
        if isinstance(self.loss, str):
            return self.loss
        return "callable:" + getattr(self.loss, "__name__", type(self.loss).__name__)


def select_parameters(model, parameters=None) -> list[str]:
    """The names of the varied parameters, in ``model.named_parameters()`` order.

    ``parameters``: ``None`` (every parameter with ``requires_grad``), or names and module prefixes
    (``"fc2"`` selects ``fc2.weight`` and ``fc2.bias``), or a callable ``(name, parameter) -> bool``.
    """
    named = list(model.named_parameters())
    if not named:
        raise InvalidSpecError(f"{type(model).__name__} has no parameters: there is no landscape to sample")
    if parameters is None:
        names = [n for n, p in named if p.requires_grad]
        if not names:
            raise InvalidSpecError("every parameter of the model has requires_grad=False; name the parameters "
                                   "to vary (parameters=[...])")
        return names
    if callable(parameters):
        names = [n for n, p in named if parameters(n, p)]
    else:
        if isinstance(parameters, str):
            parameters = [parameters]
        wanted = list(parameters)
        if not wanted or not all(isinstance(w, str) for w in wanted):
            raise InvalidSpecError("parameters must be a non-empty list of parameter names or module prefixes, "
                                   "a callable (name, parameter) -> bool, or None (all trainable ones)")
        all_names = [n for n, _ in named]
        names = []
        for w in wanted:
            hit = [n for n in all_names if n == w or n.startswith(w + ".")]
            if not hit:
                shown = ", ".join(all_names[:12]) + (", ..." if len(all_names) > 12 else "")
                raise InvalidSpecError(f"parameters: {w!r} names no parameter or module of the model; its "
                                       f"parameters are {shown}")
            names.extend(hit)
        names = [n for n in all_names if n in set(names)]  # the model's order, each once
    if not names:
        raise InvalidSpecError("parameters selects no parameter of the model")
    return names


def mode_dependent_modules(model) -> list[str]:
    """Names of the modules in train mode whose output depends on it (Dropout, BatchNorm, ...)."""
    out = []
    for name, mod in model.named_modules():
        if mod.training and isinstance(mod, _MODE_DEPENDENT):
            if isinstance(mod, torch.nn.modules.dropout._DropoutNd) and mod.p == 0:
                continue
            out.append(f"{name or '(model)'} ({type(mod).__name__})")
    return out


# ------------------------------------------------------------------ losses
def _cross_entropy(flat: torch.Tensor, tgt: torch.Tensor, log_probs: bool) -> torch.Tensor:
    """Per-sample cross entropy (``reduction='none'``) over the class axis 1.

    With the largest logit ``mx`` per sample: ``CE = (mx - u_y) + log sum_c exp(u_c - mx)`` for a class
    index y, and ``sum_c p_c (mx - u_c) + (sum_c p_c) log sum_c exp(u_c - mx)`` for probabilities p (both
    terms non-negative for p >= 0: no cancellation, as in torch's ``log_softmax``, and several times
    faster on the CPU than ``F.cross_entropy`` for few classes). ``log_probs``: the input already holds
    log-probabilities (NLL: ``-u_y``).
    """
    if log_probs:
        return -flat.gather(1, tgt.unsqueeze(1)).squeeze(1)
    mx = flat.amax(dim=1, keepdim=True)
    gap = mx - flat  # >= 0
    lse = torch.exp(-gap).sum(dim=1).log()
    if tgt.dtype == torch.int64:
        return gap.gather(1, tgt.unsqueeze(1)).squeeze(1) + lse
    return (tgt * gap).sum(dim=1) + tgt.sum(dim=1) * lse


def _batched_loss(problem: ModelProblem, y: torch.Tensor, m: int) -> Callable:
    """``loss(outputs (B, m, ...)) -> (B,)``: the per-element losses of the B predictions stacked
    along the samples (torch's own ``reduction='none'`` functions for mse/bce, the formulas of
    :func:`_cross_entropy` for cross_entropy/nll), then reduced per point -- torch's loss with the
    reduction named, without a vmap of the loss (whose batch rules are slow)."""
    F = torch.nn.functional
    name, theory = problem.loss, problem.reduction == "theory"
    per = {"mse": F.mse_loss, "bce": F.binary_cross_entropy, "bce_with_logits": F.binary_cross_entropy_with_logits,
           "cross_entropy": lambda u, t, reduction: _cross_entropy(u, t, False),
           "nll": lambda u, t, reduction: _cross_entropy(u, t, True)}[name]

    def loss(out: torch.Tensor) -> torch.Tensor:
        B = out.shape[0]
        flat = out.reshape(B * m, *out.shape[2:])
        tgt = y.expand(B, *y.shape).reshape(B * m, *y.shape[1:])
        elements = per(flat, tgt, reduction="none").reshape(B, -1)
        # torch's 'mean': over every element of the loss (m * outputs for mse/bce, m [x positions] for
        # cross_entropy/nll); the theory's: summed over outputs, averaged over the m samples
        return elements.sum(dim=1) / m if theory else elements.mean(dim=1)

    return loss


def _targets(problem: ModelProblem, y, dtype, device) -> torch.Tensor:
    """The targets as a tensor the loss takes: class indices as int64, anything else in ``dtype``."""
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    t = t.detach()
    if t.is_complex():
        raise InvalidSpecError("targets y must be real numbers")
    indices = problem.loss == "nll" or (problem.loss == "cross_entropy" and t.dim() == 1)
    if indices:
        if t.is_floating_point():
            if not bool(torch.isfinite(t).all()) or not bool((t == t.round()).all()):
                raise InvalidSpecError(f"{problem.loss} targets of shape (m,) are class indices and must be "
                                       "integers; give soft labels or one-hot targets as (m, classes)")
            t = t.round()
        if t.numel() and int(t.min()) < 0:
            raise InvalidSpecError(f"{problem.loss} class indices must be >= 0, got {int(t.min())}")
        return t.to(device=device, dtype=torch.int64)
    if t.dtype == torch.bool or not t.is_floating_point():
        t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise InvalidSpecError("targets y contain non-finite values (nan or inf)")
    if problem.loss in ("bce", "bce_with_logits") and not bool(((t >= 0) & (t <= 1)).all()):
        raise InvalidSpecError("BCE targets y must lie in [0, 1]")
    return t.to(device=device, dtype=dtype)


def _inputs(x, dtype, device) -> torch.Tensor:
    """The inputs as a tensor: floating point in ``dtype``; integer inputs (token ids) kept integer."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.detach()
    if t.is_floating_point():
        if not bool(torch.isfinite(t).all()):
            raise InvalidSpecError("inputs x contain non-finite values (nan or inf)")
        return t.to(device=device, dtype=dtype)
    if t.dtype == torch.bool:
        return t.to(device=device)
    if t.is_complex():
        raise InvalidSpecError("inputs x must be real numbers (or integer ids)")
    return t.to(device=device)


class _Override:
    """Makes one module return a given tensor instead of computing (the slice trick's first layer)."""

    def __init__(self, module):
        self.value = None
        self._forward = module.forward

        def forward(*args, **kwargs):
            if self.value is None:
                return self._forward(*args, **kwargs)
            return self.value

        module.forward = forward  # an instance attribute: nn.Module.__call__ calls it


@dataclass
class _SlicePlan:
    k: int
    basis: torch.Tensor  # (1 + k, P): the center, then the directions
    z: torch.Tensor | None  # (1 + k, numel of the first layer's output) or None (no trick)
    key: tuple = field(default=())


# ------------------------------------------------------------------ engine
class ModelEngine:
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

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False), torch.nn.Tanh(), torch.nn.Linear(2, 1, bias=False))
    >>> eng = ModelEngine(net.eval(), [[1.0], [-1.0]], [[0.5], [0.0]], device="cpu")
    >>> eng.evaluate_chunked(np.zeros((2, eng.n_params))).tolist()
    [0.125, 0.125]
    """

    #: the engine's name in :data:`bettibounds.engines.ENGINES`
    engine = "model"

    def __init__(self, problem, x, y, device=None, dtype="float64", *, slice_trick: bool = True):
        if not isinstance(problem, ModelProblem):
            problem = ModelProblem(problem)
        self.problem = problem
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.notes: list[str] = []
        model = problem.model
        dependent = mode_dependent_modules(model)
        training = any(mod.training for mod in model.modules())
        model = copy.deepcopy(model)
        if dependent and problem.mode == "refuse":
            raise InvalidSpecError(
                f"the model is in train mode, where {', '.join(dependent[:3])}{' ...' if len(dependent) > 3 else ''} "
                "make its output random or batch-dependent; call model.eval() first, or pass mode='eval' to "
                "evaluate it in eval mode (recorded)")
        model.eval()
        if training and dependent:
            self.notes.append(f"the model was in train mode; evaluated in eval mode (mode='eval'), which changes "
                              f"{', '.join(dependent)}")
        self.names = select_parameters(model, problem.parameters)  # (requires_grad says which are trainable)
        for p in model.parameters():
            p.requires_grad_(False)
        model.to(device=self.device)
        # floating parameters and buffers in the engine's precision (integer buffers stay as they are)
        model.to(dtype=self.dtype)
        self._model = model
        params = dict(model.named_parameters())
        self._shapes = [tuple(params[n].shape) for n in self.names]
        self._sizes = [int(params[n].numel()) for n in self.names]
        self.n_params = int(sum(self._sizes))
        self.center = torch.cat([params[n].detach().reshape(-1) for n in self.names]).to(
            "cpu", torch.float64).numpy().copy()
        self._x = _inputs(x, self.dtype, self.device)
        self._y = _targets(problem, y, self.dtype, self.device)
        if self._x.dim() == 0 or self._y.dim() == 0:
            raise InvalidSpecError("x and y need a first axis over the samples")
        self.m = int(self._x.shape[0])
        if self.m == 0:
            raise InvalidSpecError("the data has no samples")
        if int(self._y.shape[0]) != self.m:
            raise InvalidSpecError(f"x has {self.m} samples but y has {int(self._y.shape[0])}")
        self._loss = None if not isinstance(problem.loss, str) else _batched_loss(problem, self._y, self.m)
        if training and not dependent:
            self._check_train_mode()
        self._out_shape, self._activation_numel = self._check_model()
        self._override: _Override | None = None
        self.slice_trick: str | None = None
        self.slice_trick_reason: str | None = None
        self._first = None
        self._sample_major = False
        self._plan: _SlicePlan | None = None
        if slice_trick:
            self._setup_slice_trick()
        else:
            self.slice_trick_reason = "turned off (slice_trick=False)"

    # ------------------------------------------------------------ checks
    def _check_train_mode(self) -> None:
        """A model in train mode without Dropout/BatchNorm: compare its output in both modes (a custom
        module may read ``self.training``); equal outputs are evaluated in eval mode, and recorded."""
        model = self._model
        buffers = {n: b.clone() for n, b in model.named_buffers()}
        try:
            with torch.no_grad():
                model.train()
                try:
                    trained = model(self._x)
                finally:
                    model.eval()
                    for n, b in model.named_buffers():
                        b.copy_(buffers[n])
                evaluated = model(self._x)
        except Exception as exc:
            raise InvalidSpecError(f"the model's forward failed on the data x of shape {tuple(self._x.shape)}: "
                                   f"{_one_line(exc)}") from None
        same = isinstance(trained, torch.Tensor) and isinstance(evaluated, torch.Tensor) and \
            trained.shape == evaluated.shape and torch.equal(trained, evaluated)
        if not same:
            if self.problem.mode == "refuse":
                raise InvalidSpecError("the model is in train mode and its output there differs from eval mode (a "
                                       "module reads self.training); call model.eval() first, or pass mode='eval' "
                                       "to evaluate it in eval mode (recorded)")
            self.notes.append("the model was in train mode, where its output differs; evaluated in eval mode "
                              "(mode='eval')")
        else:
            self.notes.append("the model was in train mode; its output is the same in eval mode (no Dropout or "
                              "BatchNorm acts), so it was evaluated in eval mode")

    def _forward(self, params: dict) -> torch.Tensor:
        from torch.func import functional_call

        return functional_call(self._model, params, (self._x,), strict=False)

    def _params_of(self, theta: torch.Tensor) -> dict:
        return {n: piece.view(s) for n, piece, s in zip(self.names, theta.split(self._sizes), self._shapes)}

    def _check_model(self) -> tuple[tuple, int]:
        """One forward at the center: the output fits the loss, no buffer changes, no randomness;
        returns the output's shape and the number of activations one point produces."""
        buffers = {n: b.clone() for n, b in self._model.named_buffers()}
        sizes = []

        def count(_mod, _inp, out):
            if isinstance(out, torch.Tensor):
                sizes.append(out.numel())

        handles = [mod.register_forward_hook(count) for mod in self._model.modules()]
        c = torch.as_tensor(self.center, dtype=self.dtype, device=self.device)
        try:
            with torch.no_grad():
                out = self._forward(self._params_of(c))
                for h in handles:  # one forward's activations
                    h.remove()
                again = self._forward(self._params_of(c))
        except InvalidSpecError:
            raise
        except Exception as exc:
            raise InvalidSpecError(f"the model's forward failed on the data x of shape {tuple(self._x.shape)}: "
                                   f"{_one_line(exc)}") from None
        finally:
            for h in handles:
                h.remove()
        if not isinstance(out, torch.Tensor):
            raise InvalidSpecError(f"the model's forward returns {type(out).__name__}, not a tensor; wrap it so "
                                   "that it returns the prediction the loss takes")
        for n, b in self._model.named_buffers():
            if not torch.equal(b, buffers[n]):
                raise InvalidSpecError(f"the model's forward changes its buffer {n!r} in place, so its loss is not "
                                       "a function of the parameters; remove the update (or call model.eval() if "
                                       "it is a norm layer's running statistics)")
        if not torch.equal(out, again):
            raise InvalidSpecError("the model's forward gives different outputs on the same parameters and data "
                                   "(random numbers in eval mode?), so its loss is not a function of the "
                                   "parameters; make the forward deterministic")
        if int(out.shape[0]) != self.m:
            raise InvalidSpecError(f"the model maps {self.m} samples to an output of shape {tuple(out.shape)}; its "
                                   "first axis must run over the samples")
        if self.problem.loss in ("mse", "bce", "bce_with_logits") and tuple(out.shape) != tuple(self._y.shape):
            hint = (f": pass y.reshape({', '.join(str(s) for s in out.shape)})"
                    if out.numel() == self._y.numel() else "")
            raise InvalidSpecError(f"{self.problem.loss} needs targets shaped like the model's output "
                                   f"{tuple(out.shape)}, got y of shape {tuple(self._y.shape)}{hint} (torch "
                                   "would broadcast them to a different loss)")
        if self.problem.loss == "bce" and not bool(((out >= 0) & (out <= 1)).all()):
            raise InvalidSpecError("loss 'bce' takes probabilities, but the model's output leaves [0, 1]: end the "
                                   "model in a sigmoid, or use loss 'bce_with_logits' for logits")
        if self.problem.loss in ("cross_entropy", "nll") and self._y.dim() == 1 and out.dim() >= 2:
            classes = int(out.shape[1])
            if self._y.numel() and int(self._y.max()) >= classes:
                raise InvalidSpecError(f"{self.problem.loss}: class index {int(self._y.max())} is out of range for "
                                       f"a model with {classes} outputs")
        if self.problem.loss == "cross_entropy" and self._y.dim() >= 2 and tuple(out.shape) != tuple(self._y.shape):
            raise InvalidSpecError(f"cross_entropy with probability targets needs y shaped like the output "
                                   f"{tuple(out.shape)}, got {tuple(self._y.shape)} (class indices are (m,))")
        # the vectorised loss on two points, which also catches data-dependent control flow
        th = torch.stack([c, c])
        try:
            with torch.no_grad():
                vals = self._full_values(th)
        except Exception as exc:
            raise InvalidSpecError(_vmap_reason(exc)) from None
        if vals.shape != (2,):
            raise InvalidSpecError(f"the loss must return a scalar per point, got shape {tuple(vals.shape[1:])} "
                                   "(a callable loss must reduce to one number)")
        return tuple(out.shape), int(sum(sizes))

    def _predict(self, theta: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The model's output at one parameter vector (vmapped); ``z``: the first layer's output (slice
        trick)."""
        if z is not None:
            self._override.value = z
        try:
            return self._forward(self._params_of(theta))
        finally:
            if z is not None:
                self._override.value = None

    def _values(self, th: torch.Tensor, z: torch.Tensor | None = None, z_dim: int = 0) -> torch.Tensor:
        """The loss at each row of th (B, P): the outputs vmapped over the points, then the loss."""
        from torch.func import vmap

        with _no_fastpath():
            if z is None:
                out = vmap(self._predict)(th)
            else:
                out = vmap(self._predict, in_dims=(0, z_dim))(th, z)
        if self._loss is not None:
            return self._loss(out)
        user = self.problem.loss
        return vmap(lambda o: user(o, self._y))(out)

    # ------------------------------------------------------------ slice trick
    def _setup_slice_trick(self) -> None:
        """Find the first module holding varied parameters; use it if its output is linear in them."""
        owners = {}
        varied = set(self.names)
        for mname, mod in self._model.named_modules():
            own = [f"{mname}.{p}" if mname else p for p, _ in mod.named_parameters(recurse=False)]
            if any(n in varied for n in own):
                owners[id(mod)] = (mname, mod, own)
        calls: list = []
        inputs: dict = {}

        def pre(mod, args, kwargs):
            if id(mod) in owners:
                calls.append(id(mod))
                inputs.setdefault(id(mod), (args, kwargs))

        handles = [mod.register_forward_pre_hook(pre, with_kwargs=True) for _, mod, _ in owners.values()]
        c = torch.as_tensor(self.center, dtype=self.dtype, device=self.device)
        try:
            with torch.enable_grad():
                params = {n: v.clone().requires_grad_(True) for n, v in self._params_of(c).items()}
                self._forward(params)
        finally:
            for h in handles:
                h.remove()
        if not calls:
            self.slice_trick_reason = "no module holding varied parameters is called by the forward"
            return
        first = calls[0]
        mname, mod, own = owners[first]
        label = f"{mname or '(model)'} ({type(mod).__name__})"
        if type(mod) not in _LINEAR_IN_PARAMS:
            self.slice_trick_reason = f"the first parametrised module, {label}, is not one whose output is linear in " \
                                      "its parameters (Linear, Conv1d/2d/3d, LayerNorm, GroupNorm, BatchNorm)"
            return
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and not mod.track_running_stats:
            self.slice_trick_reason = f"{label} uses batch statistics"
            return
        if calls.count(first) != 1:
            self.slice_trick_reason = f"{label} is called {calls.count(first)} times per forward"
            return
        args, kwargs = inputs[first]
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        if any(t.requires_grad for t in tensors):
            self.slice_trick_reason = f"the input of {label} depends on varied parameters"
            return
        shared = {id(p) for p in mod.parameters(recurse=False)}
        for other in self._model.modules():
            if other is not mod and any(id(p) in shared for p in other.parameters(recurse=False)):
                self.slice_trick_reason = f"{label} shares its parameters with another module"
                return
        detach = lambda v: v.detach() if isinstance(v, torch.Tensor) else v  # noqa: E731
        self._first = (mod, tuple(detach(a) for a in args), {k: detach(v) for k, v in kwargs.items()},
                       [f"{mname}.{p}" if mname else p for p, _ in mod.named_parameters(recurse=False)])
        fixed = dict(self._model.named_parameters())
        with torch.no_grad():
            self._first_shape = tuple(self._layer_output({n: fixed[n] for n in self._first[3]}).shape)
        # the first layer's outputs are formed point-major, (B, m, ...): one matrix product, and the
        # layout vmap's batched linear layers and pooling take without a copy (a sample-major (m, B, ...)
        # layout, which a following convolution takes without a copy, needed m tiny products and made
        # the last Linear's batched product 50x slower: measured on the benchmark's CNN)
        self._sample_major = False
        self._override = _Override(mod)
        self.slice_trick = label
        if not self._trick_agrees():
            self._first, self.slice_trick = None, None
            self.slice_trick_reason = f"the slice trick from {label} disagreed with the plain evaluation at a test " \
                                      "point (the module's parameters are used outside it?)"

    def _trick_agrees(self) -> bool:
        gen = torch.Generator().manual_seed(12345)
        scale = max(float(np.abs(self.center).max()), 1e-3)
        D = torch.randn(2, self.n_params, generator=gen, dtype=torch.float64) * (0.1 * scale)
        t = torch.tensor([[0.3, -0.7], [-1.1, 0.4]], dtype=torch.float64)
        with torch.no_grad():
            plan = self._plan_slice(self.center, D.numpy())
            fast = self._slice_values(plan, t.to(device=self.device, dtype=self.dtype))
            th = (torch.cat([torch.ones(2, 1, dtype=torch.float64), t], 1)
                  @ torch.cat([torch.as_tensor(self.center).unsqueeze(0), D])).to(device=self.device, dtype=self.dtype)
            plain = self._full_values(th)
        self._plan = None
        tol = 1e-9 if self.dtype == torch.float64 else 1e-3
        return bool(torch.allclose(fast.double(), plain.double(), rtol=tol, atol=tol * float(plain.abs().max())))

    def _layer_output(self, own_values: dict) -> torch.Tensor:
        from torch.func import functional_call

        mod, args, kwargs, names = self._first
        local = {n.rsplit(".", 1)[-1] if "." in n else n: v for n, v in own_values.items()}
        return functional_call(mod, local, args, kwargs, strict=False)

    def plan_slice(self, center, directions) -> _SlicePlan:
        """The slice ``theta = center + t @ directions`` validated, with the slice trick's tables
        (computed once per slice and kept for the next call on the same slice); ``.k`` is its
        dimension."""
        return self._plan_slice(center, directions)

    def _plan_slice(self, center, directions) -> _SlicePlan:
        c = self._tensor("center", center, (self.n_params,))
        directions = host_or_tensor("directions", directions)
        if directions.ndim == 1:
            directions = directions.reshape(1, -1)
        D = self._tensor("directions", directions, (None, self.n_params))
        k = int(D.shape[0])
        if k == 0:
            raise InvalidSpecError("directions must hold at least one direction (shape (k, P), k >= 1)")
        basis = torch.cat([c.unsqueeze(0), D], 0)
        key = (k, float(basis.sum()), float(basis.square().sum()))
        if self._plan is not None and self._plan.key == key and torch.equal(self._plan.basis, basis):
            return self._plan
        z = None
        if self._first is not None:
            own = self._first[3]
            fixed = dict(self._model.named_parameters())
            rows = []
            with torch.no_grad():
                for j in range(k + 1):
                    vals = self._params_of(basis[j])
                    if j == 0:  # the center: the module as it is, fixed parameters included
                        values = {n: vals[n] if n in vals else fixed[n] for n in own}
                    else:  # a direction: its varied parameters, the fixed ones at 0 (the output is linear)
                        values = {n: vals[n] if n in vals else torch.zeros_like(fixed[n]) for n in own}
                    rows.append(self._layer_output(values).reshape(-1))
            z = torch.stack(rows)
            if self._sample_major:  # (m, 1 + k, rest): each chunk's outputs come out (m, B, rest)
                z = z.view(k + 1, self.m, -1).transpose(0, 1).contiguous()
        self._plan = _SlicePlan(k, basis, z, key)
        return self._plan

    # ------------------------------------------------------------ conversions
    def _tensor(self, name: str, value, shape: tuple) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            t = value.detach()
        else:
            try:
                t = torch.as_tensor(np.asarray(value, dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise InvalidSpecError(f"{name} must be an array of real numbers ({exc})") from None
        if t.is_complex() or t.dtype == torch.bool:
            raise InvalidSpecError(f"{name} must hold real numbers, got dtype {t.dtype}")
        if t.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
            want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
            raise InvalidSpecError(f"{name} must have shape {want}, got {tuple(t.shape)}")
        original = t
        t = t.to(device=self.device, dtype=self.dtype)
        if t.numel() and not bool(torch.isfinite(t).all()):
            if bool(torch.isfinite(original).all()):
                raise InvalidSpecError(f"{name} has values beyond the range of {dtype_name(self.dtype)}: use "
                                       "dtype float64")
            raise InvalidSpecError(f"{name} contains non-finite values (nan or inf)")
        return t

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
                "notes": list(self.notes)}

    # ------------------------------------------------------------ evaluation
    def _full_values(self, th: torch.Tensor) -> torch.Tensor:
        if th.shape[0] == 0:
            return th.new_zeros(0)
        return self._values(th)

    def _slice_values(self, plan: _SlicePlan, t: torch.Tensor) -> torch.Tensor:
        B = t.shape[0]
        if B == 0:
            return t.new_zeros(0)
        t1 = torch.cat([t.new_ones(B, 1), t], dim=1)
        th = t1 @ plan.basis
        if plan.z is None:
            return self._full_values(th)
        if self._sample_major:
            # (m, B, C, ...): the layout vmap gives a convolution with batched weights, where the
            # batch folds into the channels without a copy for the next convolution
            z = torch.matmul(t1, plan.z).view(self._first_shape[0], B, *self._first_shape[1:])
            return self._values(th, z, 1)
        z = (t1 @ plan.z).view(B, *self._first_shape)
        return self._values(th, z)

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
        256 MiB; clamped to [1, n_points]."""
        bpp = self.bytes_per_point(mode, k)
        budget = _MEMORY_FRACTION * self.free_memory()
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
        if mode not in ("full", "slice"):
            raise InvalidSpecError(f"mode must be 'full' or 'slice', got {mode!r}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1):
            raise InvalidSpecError(f"chunk must be a positive integer or None, got {chunk!r}")
        plan = None
        points = host_or_tensor("points", points)
        if mode == "slice":
            if center is None or directions is None:
                raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
            plan = self._plan_slice(center, directions)
            k = width = plan.k
            if points.ndim == 1 and k == 1:
                points = points.reshape(-1, 1)
        else:
            if center is not None or directions is not None:
                raise InvalidSpecError("center/directions are only used with mode='slice'")
            k, width = 0, self.n_params
        if points.ndim != 2 or points.shape[1] != width:
            what = f"(N, k={width}) slice coordinates" if mode == "slice" else f"(N, P={width}) parameter vectors"
            raise InvalidSpecError(f"points must have shape {what}, got {tuple(points.shape)}")
        N = int(points.shape[0])
        out = np.empty(N, dtype=np.float64)
        if N == 0:
            return out
        size = int(chunk) if chunk is not None else self.chunk_size(N, mode, k)
        bar = progress_bar(progress, N, f"loss (model, {self.device.type}, {mode})")
        try:
            with torch.inference_mode():
                for start in range(0, N, size):
                    block = self._tensor("points", points[start:start + size], (None, width))
                    vals = self._full_values(block) if plan is None else self._slice_values(plan, block)
                    out[start:start + block.shape[0]] = vals.to(device="cpu", dtype=torch.float64).numpy()
                    if bar is not None:
                        bar.update(block.shape[0])
        finally:
            if bar is not None:
                bar.close()
        return out


@contextlib.contextmanager
def _no_fastpath():
    """Attention layers' fused eval-mode kernels have no vmap rule (torch falls back to a slow loop
    with a warning): evaluate them through their ordinary operations instead."""
    mha = getattr(torch.backends, "mha", None)
    get = getattr(mha, "get_fastpath_enabled", None)
    if get is None:
        yield
        return
    before = get()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _vmap_reason(exc: BaseException) -> str:
    """The one-line refusal of a forward that vmap cannot vectorise, naming the fix."""
    text = _one_line(exc)
    if "data-dependent control flow" in text or ".item()" in text or "item()" in text:
        return ("the model's forward (or the loss) branches in Python on tensor values or calls .item(), so it is "
                "not a function of the parameters that can be evaluated in batches; write the branch with "
                f"torch.where (vmap: {text[:120]})")
    if "randomness" in text or "random" in text:
        return ("the model's forward (or the loss) draws random numbers in eval mode, so the loss is not a "
                "function of the parameters; remove the randomness (e.g. F.dropout(training=self.training))")
    if "in-place" in text or "inplace" in text:
        return ("the model's forward writes in place into a tensor that does not depend on the parameters "
                f"(a buffer or the input); use out-of-place operations ({text[:160]})")
    return f"the model's forward (or the loss) cannot be evaluated in batches with torch.func.vmap: {text}"

