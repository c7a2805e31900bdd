"""A recognised model evaluated by the fused engine: ``engine="auto"`` for a tanh / logistic MLP.

A model experiment whose model is recognised as a network of the catalog
(:func:`~.model_recognition.recognise_layers`: a chain ``[Flatten,] Linear, act, ..., Linear[,
out_act]``) is the spec's network with its parameters in another order. Where the fused engine
(:mod:`bettibounds.engines.fused`) supports that spec, precision and region, ``engine="auto"``
evaluates the model with it (:func:`fused_route` says whether, and why not):
:class:`ModelFusedKernel` permutes the model's parameter vectors (``named_parameters()`` order) into
the spec's, and divides the spec's loss -- summed over the K outputs, averaged over the samples
(the theory's convention) -- by K for torch's reduction (the mean over all m K elements); for
``mse`` and ``bce_with_logits`` torch's loss is exactly that quotient (docs/theory.md, section 14,
step iii). A classifier -- the same chain with no output activation, ``cross_entropy`` on its
logits (class indices, one-hot or soft labels) or ``nll`` after a final ``nn.LogSoftmax(dim=1)``
(:func:`~.model_recognition.recognise_classifier`) -- is routed to the fused engine's cross-entropy
mode (:class:`~bettibounds.engines.fused.FusedKernel` with ``loss="cross_entropy"``), which is
torch's ``F.cross_entropy`` (a mean over the samples under both reductions; docs/theory.md, section
14, "Cross entropy"); it gets no bound. ``bce`` on probabilities is not routed (torch clamps each log
at -100, the fused engine does not), nor is a callable loss (label smoothing, class weights), nor a
subset of varied parameters.

:func:`model_kernel` builds the kernel of a model experiment: the fused one where routed, checked
against the model engine at the slice's centre and two more points (1e-10 relative in float64,
1e-5 in float32, for the cross entropy plus 4 K units of the precision absolute: the model engine's
log of its rounded sum of exponentials near a minimum; else the model engine, with the reason and a
warning), else the model engine.
This module imports torch (through the model engine).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["ModelFusedKernel", "classifier_targets", "fused_route", "model_kernel"]

#: losses whose torch value is the spec's loss divided by the number of outputs (or equal to it)
SPEC_LOSSES = ("mse", "bce_with_logits")
#: losses the fused engine computes on the logits of a classifier (its cross-entropy mode)
CLASSIFIER_ROUTED = ("cross_entropy", "nll")
#: every loss the route evaluates with the fused engine
ROUTED_LOSSES = SPEC_LOSSES + CLASSIFIER_ROUTED


def classifier_targets(experiment, classes: int):
    """``(Y, None)`` with Y (m, classes) float64 the targets of a cross_entropy / nll experiment as
    the fused engine's cross entropy takes them -- class indices as one-hot rows, probabilities (soft
    labels, one-hot rows) as given -- or ``(None, reason)``."""
    y = experiment.y.detach().to("cpu")
    m = int(experiment.x.shape[0])
    if experiment.problem.loss == "nll" or y.dim() == 1:
        if y.dim() != 1 or y.shape[0] != m:
            return None, f"{experiment.problem.loss} targets of shape {tuple(y.shape)}: class indices (m,) expected"
        t = y.double().numpy()
        if not (np.isfinite(t).all() and (t == np.round(t)).all() and (t >= 0).all() and (t < classes).all()):
            return None, f"class indices outside 0..{classes - 1} (the model engine says which)"
        Y = np.zeros((m, classes))
        Y[np.arange(m), t.astype(np.int64)] = 1.0
        return Y, None
    if tuple(y.shape) != (m, classes):
        return None, f"cross_entropy targets of shape {tuple(y.shape)}: (m, {classes}) probabilities expected"
    Y = y.double().numpy()
    if not np.isfinite(Y).all():
        return None, "targets with non-finite values"
    return np.ascontiguousarray(Y), None


def _spec_order(experiment, layers) -> np.ndarray | None:
    """Indices ``perm`` with ``theta_spec = theta_model[perm]``, or None when the model's varied
    parameters are not exactly the chain's weights and biases."""
    params = dict(experiment.problem.model.named_parameters())
    name_of = {id(p): n for n, p in params.items()}
    offsets, start = {}, 0
    for n in experiment.names:
        size = int(params[n].numel())
        offsets[n] = (start, size)
        start += size
    pieces = []
    for lin in (mod for mod in layers if hasattr(mod, "weight") and hasattr(mod, "in_features")):
        for t in (lin.weight, lin.bias):
            if t is None:
                continue
            n = name_of.get(id(t))
            if n not in offsets:
                return None
            a, size = offsets[n]
            pieces.append(np.arange(a, a + size))
    perm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    if perm.shape[0] != experiment.n_params or not np.array_equal(np.sort(perm), np.arange(experiment.n_params)):
        return None
    return perm


def fused_route(experiment, dtype: str = "float64", device=None):
    """``(spec, perm, None)`` when ``engine="auto"`` evaluates the model experiment with the fused
    engine, else ``(None, None, reason)``."""
    from ..engines.choice import choose_engine
    from .model_recognition import recognise_classifier, recognise_layers

    problem = experiment.problem
    if not isinstance(problem.loss, str) or problem.loss not in ROUTED_LOSSES:
        return None, None, (f"loss {problem.loss_name}: the fused engine computes torch's mse, bce_with_logits, "
                            "cross_entropy and nll (bce on probabilities: torch clamps its logarithms at -100; a "
                            "callable loss, e.g. with label smoothing or class weights, is the model engine's)")
    if problem.loss in CLASSIFIER_ROUTED:
        spec, layers, _, why = recognise_classifier(problem, experiment.x)
        if spec is None:
            return None, None, _not_fused(problem, why)
        _, why = classifier_targets(experiment, int(spec.outputs))
        if why is not None:
            return None, None, why
    else:
        spec, layers, why = recognise_layers(problem, experiment.x, experiment.y)
        if spec is None:
            return None, None, _not_fused(problem, why)
    all_names = [n for n, p in problem.model.named_parameters()]
    if list(experiment.names) != [n for n in all_names if n in set(experiment.names)] or \
            len(experiment.names) != len(all_names):
        return None, None, "a subset of the parameters is varied (the fused engine varies all of them)"
    perm = _spec_order(experiment, layers)
    if perm is None:
        return None, None, "the varied parameters are not exactly the recognised layers' weights and biases"
    region = experiment.region
    kind = region["kind"]
    k = None if kind != "slice" else int(experiment.directions.shape[0])
    name, reason = choose_engine(spec, kind, k, dtype, device)
    if name != "fused":
        return None, None, reason
    return spec, perm, None


def _not_fused(problem, why: str) -> str:
    """Why the fused engine does not take the model: what it takes, and every layer of the model it does
    not (:func:`~.model_recognition.fused_layer_gaps`), else the recognition's reason (a forward that is
    not a chain, targets, ...). Whether a theorem covers the model is the bound column's business."""
    from .model_recognition import fused_layer_gaps

    nll = problem.loss == "nll"
    takes = ("the fused engine takes chains of nn.Linear layers with tanh or logistic (nn.Sigmoid) activations"
             + (", ending in nn.LogSoftmax(dim=1) for nll" if nll else ""))
    # a LogSoftmax head is a layer the fused engine evaluates (for nll): with another loss the recognition's reason
    # says what does not fit (cross_entropy of log-probabilities), not a missing layer
    gaps = fused_layer_gaps(problem.model, log_softmax_head=True)
    if gaps:
        return f"{takes}; this model also has {', '.join(gaps)}"
    return f"{takes}; this model does not fit: {why}"


class ModelFusedKernel:
    """The fused engine on a recognised model, in the model's parameter order and torch's (or the
    theory's) reduction: the model engine's ``evaluate_chunked`` call (see the module).

    Parameters
    ----------
    experiment : ModelExperiment
    spec, perm
        From :func:`fused_route`.
    device, dtype
        The CPU; "float64" or "float32".
    """

    engine = "fused"
    #: why this engine evaluates the experiment (set by :func:`model_kernel`)
    engine_reason: str | None = None

    def __init__(self, experiment, spec, perm, device=None, dtype: str = "float64"):
        from ..engines.fused import FusedKernel

        x = experiment.x.reshape(experiment.x.shape[0], -1).detach().to("cpu").double().numpy()
        classifier = experiment.problem.loss in CLASSIFIER_ROUTED
        if classifier:  # the cross entropy of the logits (nll: of the logits before the LogSoftmax head)
            y, why = classifier_targets(experiment, int(spec.outputs))
            if y is None:
                raise InvalidSpecError(why)
        else:
            y = experiment.y.detach().to("cpu").double().numpy()
        self._kernel = FusedKernel(spec, x, y, device=device, dtype=dtype,
                                   loss="cross_entropy" if classifier else None)
        self._perm = np.asarray(perm)
        self.spec = spec
        #: torch's reduction averages the K outputs too: the spec's loss divided by K (the cross entropy
        #: is a mean over the samples under both reductions)
        self.divisor = float(spec.outputs) if experiment.problem.reduction == "torch" and not classifier else 1.0
        self.n_params = int(spec.n_params)
        self.m = int(x.shape[0])
        self.dtype = self._kernel.dtype
        self.device = "cpu"
        self.slice_trick = None
        self.slice_trick_reason = "the fused engine evaluates slices from its own first-layer tables"
        self.activations = ("the fused engine's vector functions (float64: tanh within 6.7 ulp, logistic within "
                            "4.1 ulp, docs/theory.md section 15; float32: 5 and 2 ulp of the correctly rounded values)")
        #: how a classifier's loss is computed (as the model engine's attribute of that name)
        self.loss_kernel = None if not classifier else (
            "cross entropy by the fused engine's vector code (the formula of docs/theory.md section 14, summed in "
            "float64)" + ("; the model's last module, LogSoftmax, folded into it (nll of log_softmax(u) = cross "
                          "entropy of u)" if experiment.problem.loss == "nll" else ""))

    def __repr__(self) -> str:
        return f"ModelFusedKernel({self._kernel!r}, divisor={self.divisor:g})"

    @property
    def compile_seconds(self):
        return self._kernel.compile_seconds

    def _args(self, points, mode, center, directions):
        if mode == "slice" or (mode is None and center is not None):
            if center is None or directions is None:
                raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
            c = np.asarray(center, dtype=np.float64)
            D = np.asarray(directions, dtype=np.float64)
            D = D.reshape(1, -1) if D.ndim == 1 else D
            if c.shape != (self.n_params,) or D.ndim != 2 or D.shape[1] != self.n_params:
                raise InvalidSpecError(f"center must have shape (P={self.n_params},) and directions (k, P), got "
                                       f"{c.shape} and {D.shape}")
            return points, "slice", c[self._perm], D[:, self._perm]
        if center is not None or directions is not None:
            raise InvalidSpecError("center/directions are only used with mode='slice'")
        T = np.asarray(points, dtype=np.float64)
        T = T.reshape(1, -1) if T.ndim == 1 else T
        if T.ndim != 2 or T.shape[1] != self.n_params:
            raise InvalidSpecError(f"points must have shape (N, P={self.n_params}), got {T.shape}")
        return T[:, self._perm], "full", None, None

    def prepare(self, points, mode: str = "slice", *, center=None, directions=None, check_memory: bool = True):
        """The fused engine's checks (overflow guard, memory) on the points, before any work."""
        T, mode, c, D = self._args(points, mode, center, directions)
        return self._kernel.prepare(T, mode, center=c, directions=D, check_memory=check_memory)

    def evaluate_chunked(self, points, mode: str | None = None, *, center=None, directions=None,
                         chunk: int | None = None, progress: bool = False) -> np.ndarray:
        """Loss at N points (float64 (N,)): ``mode="slice"`` with (N, k) coordinates and the model's
        ``center`` (P,) / ``directions`` (k, P), or ``mode="full"`` with (N, P) parameter vectors,
        all in the model's parameter order."""
        T, mode, c, D = self._args(points, mode, center, directions)
        values = self._kernel.evaluate_chunked(T, mode, center=c, directions=D, chunk=chunk, progress=progress)
        return values / self.divisor if self.divisor != 1.0 else values


def _agrees(kernel, engine, experiment) -> str | None:
    """None when the fused kernel and the model engine agree at three points of the region, else
    how far apart they are."""
    rng = np.random.default_rng(0)
    if experiment.region["kind"] == "slice":
        k = experiment.directions.shape[0]
        t = np.vstack([np.zeros(k), rng.uniform(experiment.region["low"], experiment.region["high"], (2, k))])
        kw = {"center": experiment.center, "directions": experiment.directions}
        a, b = kernel.evaluate_chunked(t, "slice", **kw), engine.evaluate_chunked(t, "slice", **kw)
    else:
        t = rng.uniform(experiment.region["low"], experiment.region["high"], (3, experiment.n_params))
        t[0] = experiment.center
        a, b = kernel.evaluate_chunked(t, "full"), engine.evaluate_chunked(t, "full")
    tol = 1e-10 if kernel.dtype == "float64" else 1e-5
    # an overflowing region (a huge span: trial 7): the same infinity from both agrees; anything else that is not
    # finite on either side is a disagreement, said so (it was "nan relative", with numpy's warnings)
    same_inf = np.isinf(a) & (a == b)
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.all(finite | same_inf):
        return "it and the model engine gave different non-finite values (the loss overflows in the region)"
    a, b = a[finite], b[finite]
    if a.size == 0:
        return None
    gap = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))
    # the model engine's cross entropy takes the log of its rounded sum of exponentials (as torch's
    # log_softmax): an absolute error of up to about K units of its precision per sample, which near a
    # minimum (losses ~1e-6) exceeds the relative tolerance; the fused engine's log1p keeps it relative
    floor = 0.0
    if experiment.problem.loss in CLASSIFIER_ROUTED:
        floor = 4 * int(kernel.spec.outputs) * (2.0**-53 if kernel.dtype == "float64" else 2.0**-24)
    if np.all(np.abs(a - b) <= tol * np.abs(b) + floor):
        return None
    return f"it differed from the model engine by {gap:.2g} relative (> {tol:g})"


def model_kernel(experiment, engine: str | None = None, device=None, dtype: str | None = None):
    """The kernel of a model experiment: for ``engine`` None or "auto" the fused engine where
    :func:`fused_route` routes the model and it agrees with the model engine on the region, else
    the model engine; for "model" the model engine. ``engine`` and ``engine_reason`` say which and
    why."""
    from ..engines.fused import FusedRangeError

    dt = "float64" if dtype is None else dtype
    model_engine = experiment.make_engine(device=device, dtype=dtype)
    if engine == "model":
        model_engine.engine_reason = "requested"
        return model_engine
    spec, perm, why = (None, None, "the model engine compiles its loss with torch.compile (compile=True)") \
        if experiment.compile else fused_route(experiment, dt, device)
    if spec is not None:
        try:
            kernel = ModelFusedKernel(experiment, spec, perm, device=device, dtype=dt)
            reach = np.maximum(np.abs(np.asarray(experiment.region["low"], float)),
                               np.abs(np.asarray(experiment.region["high"], float)))
            if experiment.region["kind"] == "slice":
                kernel.prepare(reach[None], "slice", center=experiment.center, directions=experiment.directions,
                               check_memory=False)
            else:
                kernel.prepare(reach[None], "full", check_memory=False)
            why = _agrees(kernel, model_engine, experiment)
            disagrees = why is not None
        except FusedRangeError as exc:
            why, disagrees = f"the fused engine refused the region ({exc})", False
        except InvalidSpecError as exc:
            why, disagrees = f"the fused engine could not start ({exc})", False
        if why is None:
            loss = getattr(getattr(experiment, "problem", None), "loss", spec.loss)  # bce_with_logits, not bce
            kernel.engine_reason = (f"auto: a recognised {spec.activation} network ({loss}, every parameter "
                                    f"varied) on the CPU in {dt}: the fused engine (the faster one), the model's "
                                    "parameter order and loss reduction kept")
            return kernel
        if disagrees:  # a bug (recognition, parameter order, reduction): say so, not only in the record
            warnings.warn(f"engine auto: the fused engine was not used for this model: {why}; the model engine "
                          "evaluates it", RuntimeWarning, stacklevel=3)
    model_engine.engine_reason = ("auto: a torch.nn.Module is evaluated by the model engine (not by the fused "
                                  f"engine: {why})")
    return model_engine
