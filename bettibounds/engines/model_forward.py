"""A module as a function of its varied parameters, vectorised over points, and the refusals.

:class:`FunctionalModel` (the base of :class:`~bettibounds.engines.model_engine.ModelEngine`)
takes a private eval-mode copy of the module in the engine's device and precision, selects the
varied parameters, converts the data, and evaluates ``Loss(theta)`` for a batch of parameter
vectors with ``torch.func.functional_call`` vectorised by ``torch.func.vmap``. Before any work it
refuses, with a one-line reason that names the fix, what is not a function of its parameters: a
model whose train-mode output differs from eval mode (unless ``mode="eval"``), a forward that
fails on the data, returns no tensor, changes its buffers, draws random numbers, or branches in
Python on tensor values, and targets that do not fit the loss. :class:`ForwardOverride` lets one
module return a given tensor instead of computing (the slice trick's first layer). This module
imports torch.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch

from .._lib.devices import dtype_name, resolve_device, resolve_dtype
from ..errors import InvalidSpecError
from .model_losses import batched_loss, loss_targets
from .model_problem import ModelProblem, mode_dependent_modules, select_parameters

__all__ = ["FunctionalModel", "ForwardOverride", "no_fastpath", "one_line", "EVAL_MODE_FIX", "TRAIN_MODE_SAME"]

#: how each interface asks for eval mode: the Python API, a model file, the command line
EVAL_MODE_FIX = ("pass mode='eval' (in a model file: \"model\": {\"mode\": \"eval\"}; on the command line of "
                 "landscape and path: --mode eval)")


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


class ForwardOverride:
    """Makes one module return a given tensor instead of computing (the slice trick's first layer)."""

    def __init__(self, module):
        self.value = None
        self._forward = module.forward

        def forward(*args, **kwargs):
            if self.value is None:
                return self._forward(*args, **kwargs)
            return self.value

        module.forward = forward  # an instance attribute: nn.Module.__call__ calls it


#: the note of a model in train mode whose output is the same in eval mode (every factory's fresh ``nn.Module``
#: is in train mode): recorded, but not printed in the text summaries (a new user found it noise)
TRAIN_MODE_SAME = ("the model was in train mode; its output is the same in eval mode (no Dropout or BatchNorm acts), "
                   "so it was evaluated in eval mode")


class FunctionalModel:
    """The loss of a module on the data (x, y) as a vectorised function of its varied parameters:
    the checks and the forward of :class:`~bettibounds.engines.model_engine.ModelEngine` (see there
    for the parameters and attributes)."""

    def __init__(self, problem, x, y, device=None, dtype="float64"):
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
                f"{'make' if len(dependent) > 1 else 'makes'} its output random or batch-dependent; "
                f"call model.eval() first, or {EVAL_MODE_FIX} to evaluate it in eval mode (recorded)")
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
        self._y = loss_targets(problem, y, self.dtype, self.device)
        if self._x.dim() == 0 or self._y.dim() == 0:
            raise InvalidSpecError("x and y need a first axis over the samples")
        self.m = int(self._x.shape[0])
        if self.m == 0:
            raise InvalidSpecError("the data has no samples")
        if int(self._y.shape[0]) != self.m:
            raise InvalidSpecError(f"x has {self.m} samples but y has {int(self._y.shape[0])}")
        self._loss = None if not isinstance(problem.loss, str) else batched_loss(problem, self._y, self.m)
        if training and not dependent:
            self._check_train_mode()
        self._out_shape, self._activation_numel = self._check_model()
        self._override: ForwardOverride | None = None

    #: the mode (class) that computes tanh and the logistic faster (:mod:`.fast_activations`); None: torch's
    _act_mode: type | None = None

    def _activations(self):
        """The context every evaluation runs in: a fresh fast-activation mode when in use."""
        return contextlib.nullcontext() if self._act_mode is None else self._act_mode()

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
                                   f"{one_line(exc)}{self._integer_inputs_hint()}") from None
        same = isinstance(trained, torch.Tensor) and isinstance(evaluated, torch.Tensor) and \
            trained.shape == evaluated.shape and torch.equal(trained, evaluated)
        if not same:
            if self.problem.mode == "refuse":
                raise InvalidSpecError("the model is in train mode and its output there differs from eval mode (a "
                                       f"module reads self.training); call model.eval() first, or {EVAL_MODE_FIX} "
                                       "to evaluate it in eval mode (recorded)")
            self.notes.append("the model was in train mode, where its output differs; evaluated in eval mode "
                              "(mode='eval')")
        else:
            self.notes.append(TRAIN_MODE_SAME)

    def _integer_inputs_hint(self) -> str:
        """A failed forward on integer inputs: they are kept integer (token ids), which a model of floating
        layers cannot take (a data file keeps its arrays' dtypes)."""
        if self._x.is_floating_point() or self._x.dtype == torch.bool:
            return ""
        return (f" (x is {str(self._x.dtype).replace('torch.', '')}: integer inputs are kept as they are, for "
                "token ids; save x as floats if the model takes numbers)")

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
                                   f"{one_line(exc)}{self._integer_inputs_hint()}") from None
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
                    if out.numel() == self._y.numel() else
                    ": class indices go with loss cross_entropy (on the command line the loss is mse unless --loss "
                    "says otherwise)" if self._y.dim() == 1 and out.dim() == 2 and int(out.shape[1]) >= 2 else "")
            raise InvalidSpecError(f"{self.problem.loss} needs targets shaped like the model's output "
                                   f"{tuple(out.shape)}, got y of shape {tuple(self._y.shape)}{hint} (torch "
                                   "would broadcast them to a different loss)")
        if self.problem.loss == "bce" and not bool(((out >= 0) & (out <= 1)).all()):
            raise InvalidSpecError("loss 'bce' takes probabilities, but the model's output leaves [0, 1]: end the "
                                   "model in a sigmoid, or use loss 'bce_with_logits' for logits")
        if self.problem.loss in ("cross_entropy", "nll") and (out.dim() < 2 or int(out.shape[1]) < 2):
            # softmax over one class is 1: the loss would be identically 0 whatever the parameters (a new user's
            # regression model under cross_entropy gave the loss range [0, 0] and a barcode of it)
            raise InvalidSpecError(f"{self.problem.loss} needs a model with at least 2 outputs (one per class "
                                   f"along axis 1), got an output of shape {tuple(out.shape)}: over one class the "
                                   "loss is identically 0; for a regression model use mse")
        if self.problem.loss == "nll":
            _check_log_probabilities(out)
        if self.problem.loss in ("cross_entropy", "nll") and self._y.dim() == 1 and out.dim() >= 2:
            classes = int(out.shape[1])
            if self._y.numel() and int(self._y.max()) >= classes:
                at = int(torch.argmax(self._y))
                raise InvalidSpecError(f"{self.problem.loss}: class index {int(self._y[at])} (sample {at}) is out of "
                                       f"range for a model with {classes} outputs (classes 0 to {classes - 1})")
        want = (int(out.shape[0]),) + tuple(int(n) for n in out.shape[2:])
        if self.problem.loss == "nll" and tuple(self._y.shape) != want:
            raise InvalidSpecError(f"nll takes class indices shaped {want} for the output {tuple(out.shape)}, got y of "
                                   f"shape {tuple(self._y.shape)} (one-hot or soft targets go with loss cross_entropy "
                                   "on logits)")
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
        if z is None:
            return self._forward(self._params_of(theta))
        override = self._override
        assert override is not None  # z (the first layer's output) comes only with the slice trick's override
        override.value = z
        try:
            return self._forward(self._params_of(theta))
        finally:
            override.value = None

    def _values(self, th: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The loss at each row of th (B, P): the outputs vmapped over the points, then the loss."""
        with no_fastpath(), self._activations():
            return self._batched(th, z)

    def _batched(self, th: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`_values` without the attention context (a pure function of tensors: what the
        engine's ``compile`` option hands to ``torch.compile``, inside :func:`no_fastpath`)."""
        from torch.func import vmap

        if th.shape[0] == 1:
            # one point (the chunk of a large model): the module's own forward, whose kernels are at
            # least as fast as vmap's batch rules (a convolution with batched weights is a grouped
            # one): 1.09-1.14x the rate of vmap on benchmarks/bench_models.py's CNNs
            return self._loss_of(self._predict(th[0], None if z is None else z[0]).unsqueeze(0))
        return self._loss_of(vmap(self._predict)(th) if z is None else vmap(self._predict)(th, z))

    def _loss_of(self, out: torch.Tensor) -> torch.Tensor:
        """The loss (B,) of B predictions ``out`` (B, m, ...) on all the samples."""
        from torch.func import vmap

        if self._loss is not None:
            return self._loss(out)
        user = self.problem.loss
        if out.shape[0] == 1:
            return user(out[0], self._y).reshape(1)
        return vmap(lambda o: user(o, self._y))(out)

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

    def _full_values(self, th: torch.Tensor) -> torch.Tensor:
        if th.shape[0] == 0:
            return th.new_zeros(0)
        return self._values(th)


@contextlib.contextmanager
def no_fastpath():
    """Attention layers' fused eval-mode kernels have no vmap rule (torch falls back to a slow loop
    with a warning): evaluate them through their ordinary operations instead."""
    mha = getattr(torch.backends, "mha", None)
    get = getattr(mha, "get_fastpath_enabled", None)
    if mha is None or get is None:
        yield
        return
    before = get()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


#: how far ``logsumexp`` over the classes of an output of log-probabilities may be from 0: a
#: LogSoftmax head computes ``u - max(u) - log(sum exp(u - max(u)))``, whose logsumexp is 0 up to
#: rounding errors of about eps * (|u| + log C) (eps = 1.1e-16 in float64, 6e-8 in float32; C
#: classes); these tolerances leave a margin of 1e6 (float64) and 1e1 (float32) for logits |u| up
#: to about 100, while raw logits miss them by far (their logsumexp is any number)
LOG_PROBABILITY_TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4}


def _check_log_probabilities(out: torch.Tensor) -> None:
    """Refuse (:class:`~bettibounds.errors.InvalidSpecError`) loss ``nll`` on outputs that are not
    log-probabilities: ``logsumexp`` over the class axis 1 must be ~0 for every sample
    (:data:`LOG_PROBABILITY_TOLERANCE`). Raw logits give a loss that means nothing (it can be
    negative, and is unbounded below), yet torch's NLLLoss takes them silently; a warning was missed by
    users who read only the results (a new user's trial)."""
    if out.dim() < 2 or int(out.shape[1]) == 0 or not out.is_floating_point():
        return  # (the class-index checks refuse such an output)
    lse = torch.logsumexp(out.detach(), dim=1)
    tol = LOG_PROBABILITY_TOLERANCE.get(out.dtype, 1e-2)
    worst = float(lse.abs().max()) if lse.numel() else 0.0
    if not worst <= tol:  # (nan too)
        raise InvalidSpecError(
            f"loss 'nll' takes log-probabilities, but the model's outputs at the centre are not: logsumexp over "
            f"the classes is {worst:.3g} away from 0 for some sample (tolerance {tol:g}), so the loss would mean "
            "nothing (it can be negative); use loss 'cross_entropy' for logits, or end the model in "
            "torch.nn.LogSoftmax(dim=1)")


def one_line(exc: BaseException) -> str:
    """The exception's text in one line of at most 300 characters, without terminal codes."""
    from .._lib.text import exception_text

    return exception_text(exc, 300)


def _vmap_reason(exc: BaseException) -> str:
    """The one-line refusal of a forward that vmap cannot vectorise, naming the fix."""
    text = one_line(exc)
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

