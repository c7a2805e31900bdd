"""The losses the model engine knows by name, their reductions, and the targets they take.

:data:`MODEL_LOSSES` (mse, bce, bce_with_logits, cross_entropy, nll) and :data:`REDUCTIONS`
(torch's default ``reduction='mean'``, or the theory's sum over outputs and mean over samples) are
the tables users choose from; :func:`batched_loss` is the named loss evaluated on B stacked
predictions at once (per-element losses, then the reduction per point) and :func:`loss_targets`
converts and checks the targets y for it (class indices, probabilities in [0, 1]). Used by
:class:`~bettibounds.engines.model_engine.ModelEngine`; this module imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import InvalidSpecError

if TYPE_CHECKING:
    from .model_problem import ModelProblem

__all__ = ["MODEL_LOSSES", "REDUCTIONS", "batched_loss", "fast_cross_entropy", "loss_targets", "FAST_LOSS"]

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


def _cross_entropy(flat: torch.Tensor, tgt: torch.Tensor, log_probs: bool) -> torch.Tensor:
    """Per-sample cross entropy (``reduction='none'``) over the class axis 1.

    With the largest logit ``mx`` per sample (at class k) and ``e = u - mx <= 0``: ``CE = -e_y + log1p(s)``
    for a class index y, and ``-sum_c p_c e_c + (sum_c p_c) log1p(s)`` for probabilities p, where
    ``s = sum_{c != k} exp(e_c)`` (both terms non-negative for p >= 0: no cancellation; the log1p keeps
    a confident sample's loss, about s, accurate in relative terms, where torch's ``log_softmax``
    rounds 1 + s first; the fused engine's formula, docs/theory.md section 14). Several times faster on
    the CPU than ``F.cross_entropy`` for few classes: after the maximum, passes for ``e``, the target
    term, ``exp`` (in place without autograd) and its sum. ``log_probs``: the input already holds
    log-probabilities (NLL: ``-u_y``).
    """
    if log_probs:
        return -flat.gather(1, tgt.unsqueeze(1)).squeeze(1)
    mx, at = flat.max(dim=1, keepdim=True)
    e = flat - mx  # <= 0, and 0 at the maximum
    if tgt.dtype == torch.int64:
        target = -e.gather(1, tgt.unsqueeze(1)).squeeze(1)
    else:
        target = -(tgt * e).sum(dim=1)
    # log sum_c exp(e_c) = log1p(s), s the sum without the maximum's own term exp(0) = 1: log of the rounded
    # 1 + s would lose the relative accuracy of a confident sample's loss (s ~ 1e-13: 1e-3 relative). e is not
    # used after this: in place, unless autograd records the ops (paths' gradients)
    if e.requires_grad:
        rest = e.scatter(1, at, -math.inf).exp()
    else:
        rest = e.scatter_(1, at, -math.inf).exp_()
    lse = rest.sum(dim=1).log1p()
    if tgt.dtype == torch.int64:
        return target + lse
    return target + tgt.sum(dim=1) * lse


def batched_loss(problem: ModelProblem, y: torch.Tensor, m: int) -> Callable:
    """``loss(outputs (B, m, ...)) -> (B,)``: the per-element losses of the B predictions stacked
    along the samples (torch's own ``reduction='none'`` functions for mse/bce, the formulas of
    :func:`_cross_entropy` for cross_entropy/nll), then reduced per point -- torch's loss with the
    reduction named, without a vmap of the loss (whose batch rules are slow)."""
    F = torch.nn.functional
    name, theory = problem.loss, problem.reduction == "theory"
    losses: dict[str, Callable[..., torch.Tensor]] = {
        "mse": F.mse_loss, "bce": F.binary_cross_entropy, "bce_with_logits": F.binary_cross_entropy_with_logits,
        "cross_entropy": lambda u, t, reduction: _cross_entropy(u, t, False),
        "nll": lambda u, t, reduction: _cross_entropy(u, t, True)}
    per = losses[name]

    def loss(out: torch.Tensor) -> torch.Tensor:
        B = out.shape[0]
        flat = out.reshape(B * m, *out.shape[2:])
        tgt = y.expand(B, *y.shape).reshape(B * m, *y.shape[1:])
        elements = per(flat, tgt, reduction="none").reshape(B, -1)
        # torch's 'mean': over every element of the loss (m * outputs for mse/bce, m [x positions] for
        # cross_entropy/nll); the theory's: summed over outputs, averaged over the m samples
        return elements.sum(dim=1) / m if theory else elements.mean(dim=1)

    return loss


#: what a result says when :func:`fast_cross_entropy` evaluates the loss
FAST_LOSS = ("cross entropy by the fused engine's vector code (the formula of docs/theory.md section 14, "
             "summed in float64)")

#: points x samples x classes per thread below which one thread does the whole batch
_CE_MIN_PER_THREAD = 1 << 16


def fast_cross_entropy(y: torch.Tensor, m: int, classes: int, plain: Callable) -> Callable:
    """``loss(outputs (B, m, classes)) -> (B,)``: the mean over the m samples of the cross entropy of
    the logits, by the fused engine's vector code (``_fused_numba.cross_entropy_points``: the formula
    of :func:`_cross_entropy`, docs/theory.md section 14, with exp and log1p in float64 for float32
    logits too), the points split over ``torch.get_num_threads()`` threads. For 10 classes (64 points
    x 599 samples, one thread) 1.6-1.9 ms against 4.7-4.8 ms for the torch formulas and 6.6-6.7 ms for
    ``log_softmax`` and a gather, whose passes run along rows of 10 (docs/benchmarks.md). ``y``: class
    indices (m,) or probabilities (m, classes) (the targets of :func:`loss_targets`). Outputs of another
    shape, device or dtype, and outputs that record a gradient (a path's relaxation), go to ``plain``
    (:func:`batched_loss`'s loss)."""
    from ._fused_numba import VW, cross_entropy_points
    from .fast_activations import thread_pool

    mp = -(-m // VW) * VW
    Y = np.zeros((classes, mp), np.float64)
    yc = y.detach().to("cpu")
    if yc.dim() == 1:
        Y[yc.numpy(), np.arange(m)] = 1.0
    else:
        Y[:, :m] = yc.to(torch.float64).numpy().T
    bias = np.zeros(classes, np.float64)

    def loss(out: torch.Tensor) -> torch.Tensor:
        if out.dim() != 3 or tuple(out.shape[1:]) != (m, classes) or out.device.type != "cpu" \
                or out.dtype not in (torch.float32, torch.float64) or out.requires_grad:
            return plain(out)
        B = int(out.shape[0])
        H = out.new_zeros(B, classes, mp)
        H[:, :, :m] = out.transpose(1, 2)
        sums = np.empty(B, np.float64)
        Hn = H.numpy()
        workers = min(torch.get_num_threads(), B, B * m * classes // _CE_MIN_PER_THREAD)
        if workers <= 1:
            cross_entropy_points(Hn, bias, Y, m, 0, B, sums)
        else:
            cuts = [B * w // workers for w in range(workers + 1)]
            jobs = [thread_pool(workers).submit(cross_entropy_points, Hn, bias, Y, m, a, b, sums)
                    for a, b in zip(cuts, cuts[1:])]
            for job in jobs:
                job.result()
        return torch.from_numpy(sums / m).to(out.dtype)

    return loss


def loss_targets(problem: ModelProblem, y, dtype, device) -> torch.Tensor:
    """The targets as a tensor the loss takes: class indices as int64, and for a callable loss any integer
    targets as int64; anything else in ``dtype``."""
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    t = t.detach()
    if t.is_complex():
        raise InvalidSpecError("targets y must be real numbers")
    indices = problem.loss == "nll" or (problem.loss == "cross_entropy" and t.dim() == 1)
    if indices:
        if t.is_floating_point():
            whole = torch.isfinite(t) & (t == t.round())
            if not bool(whole.all()):
                at = int(torch.nonzero(~whole.reshape(-1))[0])
                other = ("" if problem.loss == "nll" else
                         "; give soft labels or one-hot targets as (m, classes)")
                raise InvalidSpecError(f"{problem.loss} targets of shape {tuple(t.shape)} are class indices: whole "
                                       f"numbers (integers, or floats such as 2.0), got {float(t.reshape(-1)[at])!r} "
                                       f"(entry {at}){other}")
            t = t.round()
        if t.numel() and int(t.min()) < 0:
            at = int(torch.argmin(t))
            raise InvalidSpecError(f"{problem.loss} class indices must be >= 0, got {int(t[at])} (sample {at})")
        return t.to(device=device, dtype=torch.int64)
    if callable(problem.loss) and not t.is_floating_point() and t.dtype != torch.bool:
        # a callable loss gets integer targets as integers (class indices for F.cross_entropy inside it: cast to
        # float64 they made gather() fail under a message that blamed vmap; a new user's trial)
        return t.to(device=device, dtype=torch.int64)
    if t.dtype == torch.bool or not t.is_floating_point():
        t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise InvalidSpecError("targets y contain non-finite values (nan or inf)")
    if problem.loss in ("bce", "bce_with_logits", "cross_entropy") and not bool(((t >= 0) & (t <= 1)).all()):
        # probabilities (cross_entropy here: soft labels, class indices having returned above): outside [0, 1] the
        # loss can be negative and means nothing, which torch computes without a word (nll's inputs likewise)
        where = tuple(int(i) for i in torch.nonzero((t < 0) | (t > 1))[0])
        raise InvalidSpecError(f"{problem.loss} targets y of shape {tuple(t.shape)} are probabilities in [0, 1], got "
                               f"{float(t[where])!r} at {where}")
    return t.to(device=device, dtype=dtype)

