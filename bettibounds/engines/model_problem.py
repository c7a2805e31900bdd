"""What the model engine evaluates: :class:`ModelProblem` (a module, a loss, a reduction, the
varied parameters, the train-mode policy), the choice of the varied parameters
(:func:`select_parameters`), and the modules whose train mode changes the output
(:func:`mode_dependent_modules`: refused unless ``mode="eval"``). This module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InvalidSpecError
from .model_losses import MODEL_LOSSES, REDUCTIONS

__all__ = ["ModelProblem", "MODES", "select_parameters", "mode_dependent_modules"]

#: what to do with a model whose output depends on train mode
MODES = ("refuse", "eval")

#: module types whose train mode changes the output (the numeric check catches custom ones)
_MODE_DEPENDENT = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm,
                   torch.nn.modules.instancenorm._InstanceNorm, torch.nn.AlphaDropout)


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

