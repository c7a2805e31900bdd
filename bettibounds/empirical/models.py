"""Landscapes of any PyTorch model: ``experiment_from_model`` and what it records.

``experiment_from_model(model, x, y, loss=..., region=..., grid=..., levels=...)`` returns a
:class:`ModelExperiment`, which :func:`~bettibounds.empirical.sampler.sample_landscape`,
:func:`~bettibounds.empirical.compare.analyze_landscape`, the grid barcodes, the plots and Dask take
exactly as they take an experiment file. The loss is evaluated by the ``"model"`` engine
(:class:`~bettibounds.engines.model_engine.ModelEngine`); parameter vectors are the varied
parameters in ``model.named_parameters()`` order (``parameters_to_vector``'s order).

Regions (``region=``)
---------------------
* ``{"kind": "slice", "directions": {"random": k, "seed": s, "normalization": "filter"}, "low": [...],
  "high": [...]}`` -- random Gaussian directions (numpy ``default_rng(seed)``, one (k, P) draw) around
  the model (or ``"center"``). ``"filter"`` is the filter normalisation of Li et al. (2018): every
  *filter* of a direction -- the slice along the first axis of a weight tensor of two or more axes:
  one output neuron's incoming weights (a row of a Linear weight), one output channel of a
  convolution -- is rescaled to the norm of the same filter of the centre; parameters of at most one
  axis (biases, the weights and biases of norm layers) get direction 0, as the authors' code does
  with its default ``ignore='biasbn'``. ``"unit"``: each direction scaled to norm 1; ``"none"``: raw.
* ``{"kind": "slice", "directions": [d_1, ..., d_k], ...}`` -- listed directions: flat (P,) vectors,
  state_dicts or models of the same architecture (their varied parameters are taken).
* ``{"kind": "line", "models": [a, b]}`` -- the line through two models: centre a, direction b - a
  (t = 0 is a, t = 1 is b; default range [-0.25, 1.25]).
* ``{"kind": "plane", "models": [a, b, c]}`` -- the plane through three models: centre a, directions
  b - a and c - a (the models at (0, 0), (1, 0), (0, 1)); ``"orthogonalize": true`` takes the second
  direction orthogonal to the first (c then sits at (<c - a, b - a> / |b - a|^2, 1)); default range
  [-0.25, 1.25] on both axes.
* ``{"kind": "pca", "trajectory": [checkpoint_0, ..., checkpoint_n], "components": 2}`` -- the PCA
  plane of a training trajectory (Li et al. 2018, section 7): the principal directions (unit
  vectors; PCA of the rows theta_i - theta_n, i < n, after subtracting their mean, as the authors'
  code does with scikit-learn's PCA), centred at the last checkpoint (or ``"center"``); the default
  range covers the projected trajectory with a 25 % margin.
* ``{"kind": "box", "low": [P numbers], "high": [P numbers]}`` -- a box over all varied parameters
  (e.g. ``parameters=["fc.bias"]`` makes a full-space box of a small subset possible).

Everything an answer depends on is recorded (:meth:`ModelExperiment.to_dict`): the model's class,
loss, reduction, the varied parameters, the data source (and the seeded subset's indices), the
direction source and seeds, the notes of the engine (a model switched to eval mode), and whether
the bound column applies (:func:`recognise_network`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..engines.model_engine import ModelEngine, ModelProblem
from ..errors import InvalidSpecError, NotPfaffianError

__all__ = ["ModelExperiment", "experiment_from_model", "model_data", "model_vector", "filter_normalize",
           "recognise_network", "BOUNDED_LOSSES"]

#: losses a recognised network's bound covers (the catalog's theorems are for MSE and BCE)
BOUNDED_LOSSES = ("mse", "bce", "bce_with_logits")

_REGION_KEYS = {
    "slice": {"kind", "low", "high", "center", "directions"},
    "line": {"kind", "low", "high", "models"},
    "plane": {"kind", "low", "high", "models", "orthogonalize"},
    "pca": {"kind", "low", "high", "trajectory", "components", "center"},
    "box": {"kind", "low", "high"},
}


@dataclass(frozen=True, eq=False)
class ModelExperiment:
    """A validated landscape experiment of a PyTorch model (what :func:`experiment_from_model` builds).

    Attributes
    ----------
    problem : ModelProblem
        Model, loss, reduction, varied parameters and the train-mode policy.
    x, y : torch.Tensor
        The data on the CPU (floating inputs and targets in float64, class indices int64).
    region : dict
        ``{"kind": "slice" | "box", "low": [...], "high": [...]}`` (a line, plane or PCA region is a
        slice whose centre and directions are :attr:`center` and :attr:`directions`).
    center : numpy.ndarray (P,)
        The slice's centre (the model's own varied parameters unless given).
    directions : numpy.ndarray (k, P) or None
    direction_source : dict
        How the directions were made (kind, seeds, normalisation, models' coordinates, PCA variance).
    spec : ArchitectureSpec or None
        The symbolic engine's network when the model is one (:func:`recognise_network`): the bound
        column is computed for it; None otherwise, with :attr:`bound_reason`.
    """

    problem: ModelProblem
    x: torch.Tensor
    y: torch.Tensor
    region: dict
    grid: list | None
    levels: list | None
    homology_dims: list | None
    center: np.ndarray
    directions: np.ndarray | None
    direction_source: dict
    names: tuple
    n_params: int
    spec: Any = None
    bound_reason: str | None = None
    bound_levels_below: float | None = None
    data_source: dict = field(default_factory=dict)
    notes: tuple = ()
    slice_trick: str | None = None

    #: what :func:`~bettibounds.empirical.sampler.sample_landscape` dispatches on
    kind = "model"

    def make_engine(self, device=None, dtype: str | None = None) -> ModelEngine:
        """The model engine of this experiment (``dtype=None``: float64)."""
        return ModelEngine(self.problem, self.x, self.y, device=device, dtype="float64" if dtype is None else dtype)

    def slice_basis(self) -> tuple[np.ndarray, np.ndarray, dict]:
        """(center, directions, direction_source) of the slice."""
        if self.directions is None:
            raise InvalidSpecError("this experiment's region is a box, not a slice")
        return self.center, self.directions, dict(self.direction_source)

    def record(self) -> dict:
        """What a result records about the model and its data."""
        p = self.problem
        return {"model": type(p.model).__name__, "loss": p.loss_name,
                "reduction": p.reduction if isinstance(p.loss, str) else "the callable's own",
                "parameters": list(self.names), "n_params": self.n_params, "mode": p.mode,
                "data": dict(self.data_source), "notes": list(self.notes), "slice_trick": self.slice_trick,
                "bound": "computed" if self.spec is not None else None, "no_bound_reason": self.bound_reason}

    def to_dict(self) -> dict:
        """JSON-ready provenance (the data and parameters themselves are not included)."""
        return {"record": self.record(), "region": self.region, "grid": self.grid, "levels": self.levels,
                "homology_dims": self.homology_dims, "direction_source": self.direction_source,
                "spec": None if self.spec is None else self.spec.to_dict()}


# ------------------------------------------------------------------ data
def _is_loader(obj) -> bool:
    return isinstance(obj, torch.utils.data.DataLoader)


def _is_dataset(obj) -> bool:
    return isinstance(obj, torch.utils.data.Dataset) or (
        hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (torch.Tensor, np.ndarray,
                                                                                         list, tuple)))


def _subset(n: int, samples, seed) -> np.ndarray | None:
    """Indices of a seeded subset of ``samples`` of n items (sorted), or None for all of them."""
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or not 1 <= samples <= n:
        raise InvalidSpecError(f"samples must be an integer in 1..{n} (the data's size) or None (all), got "
                               f"{samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidSpecError(f"seed must be an integer >= 0, got {seed!r}")
    if samples == n:
        return None
    return np.sort(np.random.default_rng(int(seed)).choice(n, size=int(samples), replace=False))


def _as_tensor(name: str, v) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu()
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{name} must be an array or tensor ({exc})") from None
    if arr.dtype == object:
        raise InvalidSpecError(f"{name} must be a rectangular array of numbers")
    return torch.as_tensor(arr)


def model_data(x, y=None, *, samples=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(x, y, source) from tensors, numpy arrays, a Dataset or a DataLoader.

    A Dataset (or a DataLoader's dataset: its batch size, sampler and shuffling are not used) gives
    items ``(x_i, y_i)``; ``samples`` takes a seeded subset (``numpy.random.default_rng(seed)``
    without replacement, in index order) of any source, ``None`` all of it. Each item is read once,
    so a random transform of the dataset is drawn once and the landscape stays a function.
    """
    source: dict = {}
    if _is_loader(x):
        if y is not None:
            raise InvalidSpecError("with a DataLoader, pass y=None: the targets come from its dataset")
        source["kind"] = "DataLoader"
        x = x.dataset
    if _is_dataset(x):
        if y is not None:
            raise InvalidSpecError("with a Dataset, pass y=None: the targets come from its items (x_i, y_i)")
        n = len(x)
        if n == 0:
            raise InvalidSpecError("the dataset is empty")
        idx = _subset(n, samples, seed)
        order = range(n) if idx is None else idx.tolist()
        xs, ys = [], []
        for i in order:
            item = x[i]
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise InvalidSpecError(f"dataset item {i} is not a pair (x_i, y_i): got {type(item).__name__}")
            xs.append(_as_tensor("x", item[0]))
            ys.append(_as_tensor("y", item[1]))
        try:
            xt, yt = torch.stack(xs), torch.stack(ys)
        except RuntimeError as exc:
            raise InvalidSpecError(f"the dataset's items differ in shape: {exc}") from None
        source.setdefault("kind", "Dataset")
        source.update({"size": n, "samples": len(xs), "seed": None if idx is None else int(seed),
                       "indices": None if idx is None else idx.tolist()})
    else:
        if y is None:
            raise InvalidSpecError("give the targets y (or a Dataset/DataLoader of pairs as x)")
        xt, yt = _as_tensor("x", x), _as_tensor("y", y)
        if xt.dim() == 0 or yt.dim() == 0:
            raise InvalidSpecError("x and y need a first axis over the samples")
        if xt.shape[0] != yt.shape[0]:
            raise InvalidSpecError(f"x has {xt.shape[0]} samples but y has {yt.shape[0]}")
        n = int(xt.shape[0])
        idx = _subset(n, samples, seed)
        if idx is not None:
            xt, yt = xt[torch.as_tensor(idx)], yt[torch.as_tensor(idx)]
        source = {"kind": "tensors", "size": n, "samples": int(xt.shape[0]),
                  "seed": None if idx is None else int(seed), "indices": None if idx is None else idx.tolist()}
    if xt.is_floating_point():
        xt = xt.to(torch.float64)
    if yt.is_floating_point():
        yt = yt.to(torch.float64)
    return xt.contiguous(), yt.contiguous(), source


# ------------------------------------------------------------------ vectors
def model_vector(obj, names, shapes, what: str = "vector") -> np.ndarray:
    """The varied parameters of ``obj`` as a float64 (P,) vector.

    ``obj``: a model of the same architecture, a state_dict (name -> tensor; the varied names must be
    present), or a flat (P,) tensor or array.
    """
    P = int(sum(math.prod(s) for s in shapes))
    if isinstance(obj, torch.nn.Module):
        obj = dict(obj.named_parameters())
    if isinstance(obj, dict):
        missing = [n for n in names if n not in obj]
        if missing:
            raise InvalidSpecError(f"{what} has no parameter {missing[0]!r} (a model or state_dict of the same "
                                   "architecture is needed)")
        parts = []
        for n, s in zip(names, shapes):
            t = obj[n]
            t = t.detach() if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
            if tuple(t.shape) != tuple(s):
                raise InvalidSpecError(f"{what}: parameter {n!r} has shape {tuple(t.shape)}, the model's has "
                                       f"{tuple(s)}")
            parts.append(t.reshape(-1).to("cpu", torch.float64))
        v = torch.cat(parts).numpy()
    else:
        v = (obj.detach().cpu().double().numpy() if isinstance(obj, torch.Tensor)
             else np.asarray(obj, dtype=np.float64)) if obj is not None else None
        if v is None or v.shape != (P,):
            raise InvalidSpecError(f"{what} must be a model, a state_dict or a flat vector of the P = {P} varied "
                                   f"parameters, got {None if v is None else v.shape}")
    if not np.isfinite(v).all():
        raise InvalidSpecError(f"{what} contains non-finite values")
    return np.array(v, dtype=np.float64)


def filter_normalize(d: np.ndarray, center: np.ndarray, shapes) -> np.ndarray:
    """Filter normalisation (Li et al. 2018) of a direction d in theta's layout.

    For each parameter tensor with two or more axes, each filter -- the slice along its first axis --
    is scaled to the norm of the centre's same filter (a zero direction filter stays 0); tensors of
    at most one axis (biases, norm layers' weights and biases) are set to 0.
    """
    out = np.zeros_like(d)
    off = 0
    for s in shapes:
        n = int(math.prod(s))
        if len(s) >= 2:
            dd = d[off:off + n].reshape(s[0], -1)
            cc = center[off:off + n].reshape(s[0], -1)
            nd = np.linalg.norm(dd, axis=1)
            nc = np.linalg.norm(cc, axis=1)
            scale = np.divide(nc, nd, out=np.zeros_like(nd), where=nd > 0)
            out[off:off + n] = (dd * scale[:, None]).reshape(-1)
        off += n
    return out


def _check_rank(D: np.ndarray, source: dict) -> None:
    rank = int(np.linalg.matrix_rank(D))
    if rank < D.shape[0]:
        sv = np.linalg.svd(D, compute_uv=False)
        why = ("they are linearly dependent" if sv[-1] == 0 else
               f"numerically they span only {rank} dimension{'s' if rank != 1 else ''} (singular values {sv[0]:.3g} "
               f"down to {sv[-1]:.3g})")
        if source.get("normalization") == "filter":
            why += "; filter normalisation gives 0 on biases, norm parameters and filters whose centre filter is 0"
        raise InvalidSpecError(f"region directions: the {D.shape[0]} directions do not span a "
                               f"{D.shape[0]}-dimensional slice: {why}")


def _range(region: dict, k: int, default_low, default_high) -> tuple[list, list]:
    low = region.get("low", default_low)
    high = region.get("high", default_high)
    out = []
    for name, v in (("low", low), ("high", high)):
        if v is None:
            raise InvalidSpecError(f"region.{name} is required: a list of {k} numbers")
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            v = [v] * k
        try:
            arr = [float(t) for t in (v.tolist() if hasattr(v, "tolist") else v)]
        except (TypeError, ValueError):
            raise InvalidSpecError(f"region.{name} must list {k} numbers") from None
        if len(arr) != k or not all(math.isfinite(t) for t in arr):
            raise InvalidSpecError(f"region.{name} must list {k} finite numbers, got {len(arr)}")
        out.append(arr)
    for i, (a, b) in enumerate(zip(*out)):
        if not a < b:
            raise InvalidSpecError(f"region.low[{i}] = {a} must be < region.high[{i}] = {b}")
    return out[0], out[1]


def _resolve_region(region, names, shapes, own: np.ndarray):
    """(region for the sampler, center, directions or None, source)."""
    if not isinstance(region, dict) or region.get("kind") not in _REGION_KEYS:
        raise InvalidSpecError(f"region must be a dict with \"kind\" one of {', '.join(_REGION_KEYS)}, got "
                               f"{region!r:.80}")
    kind = region["kind"]
    unknown = set(region) - _REGION_KEYS[kind]
    if unknown:
        raise InvalidSpecError(f"region ({kind}): unknown keys {sorted(unknown)}; accepted: "
                               f"{sorted(_REGION_KEYS[kind])}")
    P = int(own.shape[0])
    vec = lambda obj, what: model_vector(obj, names, shapes, what)  # noqa: E731
    if kind == "box":
        low, high = _range(region, P, None, None)
        return {"kind": "box", "low": low, "high": high}, own, None, {}
    center = own if region.get("center") is None else vec(region["center"], "region.center")
    if kind == "slice":
        dirs = region.get("directions")
        if isinstance(dirs, dict):
            unknown = set(dirs) - {"random", "seed", "normalization"}
            if unknown or "random" not in dirs:
                raise InvalidSpecError('region.directions: {"random": k, "seed": s, "normalization": "filter" | '
                                       f'"unit" | "none"}}{f" (unknown keys {sorted(unknown)})" if unknown else ""}')
            k, seed, norm = dirs["random"], dirs.get("seed", 0), dirs.get("normalization", "filter")
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
                raise InvalidSpecError(f"region.directions.random must be a positive integer, got {k!r}")
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise InvalidSpecError(f"region.directions.seed must be an integer >= 0, got {seed!r}")
            if norm not in ("filter", "unit", "none"):
                raise InvalidSpecError('region.directions.normalization must be "filter", "unit" or "none"')
            D = np.random.default_rng(int(seed)).standard_normal((int(k), P))
            if norm == "filter":
                D = np.stack([filter_normalize(d, center, shapes) for d in D])
                if not D.any():
                    raise InvalidSpecError("region.directions: filter normalisation scales each filter to the norm "
                                           "of the centre's filter, and every filter of this centre is 0 (or the "
                                           'varied parameters have no filters: biases only): use "normalization": '
                                           '"unit" or "none"')
            elif norm == "unit":
                D = D / np.linalg.norm(D, axis=1, keepdims=True)
            source = {"kind": "random", "k": int(k), "seed": int(seed), "normalization": norm}
        elif isinstance(dirs, (list, tuple)) and dirs:
            D = np.stack([vec(d, f"region.directions[{j}]") for j, d in enumerate(dirs)])
            source = {"kind": "listed", "k": len(dirs)}
        else:
            raise InvalidSpecError('region.directions must be {"random": k, "seed": s, "normalization": "filter"} '
                                   "or a non-empty list of directions (vectors, state_dicts or models)")
        k = D.shape[0]
        low, high = _range(region, k, None, None)
    elif kind in ("line", "plane"):
        models = region.get("models")
        need = 2 if kind == "line" else 3
        if not isinstance(models, (list, tuple)) or len(models) != need:
            raise InvalidSpecError(f"region ({kind}) needs \"models\": a list of {need} models or state_dicts")
        thetas = [vec(mdl, f"region.models[{j}]") for j, mdl in enumerate(models)]
        center = thetas[0]
        D = np.stack([t - thetas[0] for t in thetas[1:]])
        at = [[0.0] * (need - 1)] + [list(map(float, row)) for row in np.eye(need - 1)]
        if kind == "plane" and region.get("orthogonalize", False):
            a = float(D[1] @ D[0] / (D[0] @ D[0])) if D[0].any() else 0.0
            D[1] = D[1] - a * D[0]
            at[2] = [a, 1.0]
        source = {"kind": kind, "models_at": at, "orthogonalize": bool(region.get("orthogonalize", False))} \
            if kind == "plane" else {"kind": kind, "models_at": at}
        low, high = _range(region, need - 1, [-0.25] * (need - 1), [1.25] * (need - 1))
    else:  # pca
        traj = region.get("trajectory")
        comps = region.get("components", 2)
        if not isinstance(traj, (list, tuple)) or len(traj) < 3:
            raise InvalidSpecError("region (pca) needs \"trajectory\": a list of at least 3 checkpoints (models, "
                                   "state_dicts or vectors)")
        if isinstance(comps, bool) or not isinstance(comps, numbers.Integral) or not 1 <= comps < len(traj):
            raise InvalidSpecError(f"region.components must be an integer in 1..{len(traj) - 1}, got {comps!r}")
        T = np.stack([vec(c, f"region.trajectory[{j}]") for j, c in enumerate(traj)])
        if region.get("center") is None:
            center = T[-1]
        M = T[:-1] - T[-1]
        # PCA as the authors' code runs it (sklearn's PCA, which centres the rows first)
        _, sv, vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
        D = vt[:comps].copy()
        for j in range(comps):  # a fixed sign per component: the largest entry positive
            if D[j, np.argmax(np.abs(D[j]))] < 0:
                D[j] = -D[j]
        coords = (T - center) @ D.T
        var = sv ** 2
        span_lo, span_hi = coords.min(axis=0), coords.max(axis=0)
        pad = 0.25 * np.maximum(span_hi - span_lo, 1e-12)
        low, high = _range(region, comps, (span_lo - pad).tolist(), (span_hi + pad).tolist())
        source = {"kind": "pca", "components": int(comps), "checkpoints": len(traj),
                  "explained_variance_ratio": [float(v) for v in (var[:comps] / var.sum())] if var.sum() > 0
                  else [0.0] * comps, "trajectory_at": coords.tolist()}
    _check_rank(D, source)
    return {"kind": "slice", "low": low, "high": high}, center, D, source


# ------------------------------------------------------------------ the bound column
_NOT_COVERED = {
    "Conv1d": "convolution layers", "Conv2d": "convolution layers", "Conv3d": "convolution layers",
    "ConvTranspose1d": "convolution layers", "ConvTranspose2d": "convolution layers",
    "ConvTranspose3d": "convolution layers", "BatchNorm1d": "norm layers", "BatchNorm2d": "norm layers",
    "BatchNorm3d": "norm layers", "LayerNorm": "norm layers", "GroupNorm": "norm layers",
    "InstanceNorm1d": "norm layers", "InstanceNorm2d": "norm layers", "MultiheadAttention": "attention",
    "TransformerEncoderLayer": "attention", "Embedding": "embeddings", "AvgPool1d": "pooling layers",
    "AvgPool2d": "pooling layers", "AdaptiveAvgPool2d": "pooling layers", "Softmax": "softmax heads",
    "LogSoftmax": "softmax heads",
}
_NOT_PFAFFIAN_MODULES = {"MaxPool1d": "max-pooling (a maximum is not analytic)",
                         "MaxPool2d": "max-pooling (a maximum is not analytic)",
                         "MaxPool3d": "max-pooling (a maximum is not analytic)",
                         "AdaptiveMaxPool2d": "max-pooling (a maximum is not analytic)"}


def _chain(model):
    """The modules a model applies one after the other, from a torch.fx trace, or a reason why it is not
    such a chain. Activation functions called as functions become their modules."""
    import operator

    import torch.fx

    nn, F = torch.nn, torch.nn.functional
    fun = {torch.tanh: nn.Tanh, F.tanh: nn.Tanh, torch.sigmoid: nn.Sigmoid, F.sigmoid: nn.Sigmoid,
           F.silu: nn.SiLU, F.softplus: nn.Softplus, F.gelu: nn.GELU, torch.relu: nn.ReLU, F.relu: nn.ReLU}
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent Python control flow, unsupported constructs
        return None, f"its forward could not be traced to read its structure ({' '.join(str(exc).split())[:100]})"
    mods = dict(gm.named_modules())
    for node in gm.graph.nodes:  # a sum of two computed values: a skip connection
        if node.op == "call_function" and node.target in (operator.add, torch.add) and \
                sum(isinstance(a, torch.fx.Node) for a in node.args) >= 2:
            return None, "residual connections are not covered by any theorem in the catalog"
    chain, prev = [], None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if prev is not None:
                return None, "its forward takes more than one input"
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                return None, "its output is not the last layer's"
            break
        inputs = [a for a in node.all_input_nodes]
        if inputs != [prev] or len(node.users) != 1:
            return None, "its forward is not a chain of layers (a value is used twice or combined)"
        if node.op == "call_module":
            chain.append(mods[node.target])
        elif node.op == "call_function" and node.target in fun:
            chain.append(fun[node.target]())
        elif node.op in ("call_method", "call_function") and str(getattr(node.target, "__name__", node.target)) in (
                "flatten", "view", "reshape"):
            chain.append(nn.Flatten())
        else:
            return None, f"its forward calls {getattr(node.target, '__name__', node.target)}, not a layer of the " \
                         "catalog's networks"
        prev = node
    return chain, None


def recognise_network(problem: ModelProblem, x: torch.Tensor, y: torch.Tensor):
    """``(spec, None)`` when the model is a network of the symbolic engine's family, else
    ``(None, reason)``.

    The model is traced (``torch.fx``) into the sequence of layers it applies; the sequence must be
    ``[Flatten,] Linear, act, Linear, ..., Linear[, out_act]`` with the activations of
    :func:`~bettibounds.empirical.sequential.from_sequential` (Dropout and Identity are the identity
    in eval mode and dropped), every parameter of the model in those Linear layers, and a loss the
    catalog covers (mse, bce, bce_with_logits). The bound is then that of the spec read by
    ``from_sequential`` (docs/theory.md, "Bounds beside a PyTorch model", says why the parameter
    order, the reduction and a subset of varied parameters do not change it).
    """
    from .sequential import from_sequential

    nn = torch.nn
    model = problem.model
    for mod in model.modules():
        name = type(mod).__name__
        if name in _NOT_PFAFFIAN_MODULES:
            return None, f"not Pfaffian: {name}, {_NOT_PFAFFIAN_MODULES[name]}"
        if isinstance(mod, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Hardtanh, nn.ReLU6, nn.PReLU, nn.SELU, nn.CELU,
                            nn.Hardswish, nn.Hardsigmoid, nn.Softsign, nn.Threshold)):
            return None, f"not Pfaffian: {name} is not analytic, so no Pfaffian chain exists"
        if name in _NOT_COVERED:
            return None, f"not covered by any theorem in the catalog: {_NOT_COVERED[name]} ({name})"
    chain, why = _chain(model)
    if chain is None:
        return None, why
    if not isinstance(problem.loss, str):
        return None, "the loss is a callable, which no theorem in the catalog covers"
    if problem.loss not in BOUNDED_LOSSES:
        return None, f"the loss {problem.loss} is not covered by any theorem in the catalog (mse, bce)"
    layers = []
    for i, mod in enumerate(chain):
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(mod, nn.ReLU):
            return None, "not Pfaffian: relu is not analytic, so no Pfaffian chain exists"
        if isinstance(mod, nn.Flatten):
            if layers:
                return None, "a Flatten between layers is not part of the catalog's networks"
            continue
        layers.append(mod)
    xs = x.reshape(x.shape[0], -1) if x.dim() != 2 else x
    if y.dim() == 1 or not y.is_floating_point():
        return None, "the targets are not a (samples, outputs) matrix of numbers"
    seq = nn.Sequential(*layers)
    own = {id(p) for p in seq.parameters()}
    if any(id(p) not in own for p in model.parameters()):
        return None, "the model has parameters outside the chain of layers its forward applies"
    if problem.loss == "bce" and not (layers and isinstance(layers[-1], nn.Sigmoid)):
        return None, "loss 'bce' on a model that does not end in nn.Sigmoid"
    if problem.loss == "bce_with_logits" and layers and isinstance(layers[-1], (nn.Sigmoid, nn.Tanh)):
        return None, "loss 'bce_with_logits' on a model that already ends in an output activation"
    try:
        spec, _ = from_sequential(seq, xs.numpy(), y.numpy(), loss="bce" if problem.loss.startswith("bce") else "mse")
    except NotPfaffianError as exc:
        return None, f"not Pfaffian: {exc}"
    except InvalidSpecError as exc:
        return None, f"not a network of the catalog: {exc}"
    return spec, None


# ------------------------------------------------------------------ the experiment
def experiment_from_model(model, x, y=None, *, loss: Any = "mse", region: dict, grid, levels=None,
                          homology_dims=None, reduction: str = "torch", parameters=None, mode: str = "refuse",
                          samples: int | None = None, seed: int = 0) -> ModelExperiment:
    """A landscape experiment of any ``torch.nn.Module`` on its data, validated before any work.

    Parameters
    ----------
    model : torch.nn.Module
        Any module whose forward is a function of its parameters and the input (the model engine's
        checks: :class:`~bettibounds.engines.model_engine.ModelEngine`). Never modified.
    x, y : tensors, numpy arrays; or x a Dataset / DataLoader of pairs and y None
        The data (:func:`model_data`).
    loss : str or callable
        ``"mse"``, ``"bce"`` (probabilities), ``"bce_with_logits"``, ``"cross_entropy"`` (class
        indices, one-hot or soft labels), ``"nll"``, or ``loss(prediction, target) -> scalar``.
    region : dict
        See the module docstring: slice (random or listed directions), line, plane, pca, box.
    grid : list of int
        Points per axis of the region.
    levels, homology_dims : optional
        As in an experiment file.
    reduction : {"torch", "theory"}
        ``"torch"`` (default): torch's default reduction (mean over all elements for mse/bce); ``"theory"``:
        summed over outputs, averaged over samples. Recorded on every result.
    parameters : list of str, callable or None
        The varied parameters (names or module prefixes); ``None``: every trainable one.
    mode : {"refuse", "eval"}
        What to do with a model in train mode whose output depends on it.
    samples, seed : int
        A seeded subset of the data (``None``: all of it).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).eval()
    >>> x, y = torch.randn(8, 2), torch.randn(8, 1)
    >>> exp = experiment_from_model(net, x, y, region={"kind": "slice", "directions": {"random": 2, "seed": 0},
    ...                             "low": [-1, -1], "high": [1, 1]}, grid=[5, 5], levels=[0.5])
    >>> exp.n_params, exp.directions.shape, exp.spec is not None
    (13, (2, 13), True)
    """
    problem = ModelProblem(model, loss, reduction, None if parameters is None or callable(parameters)
                           else tuple([parameters] if isinstance(parameters, str) else parameters), mode)
    xt, yt, source = model_data(x, y, samples=samples, seed=seed)
    engine = ModelEngine(problem, xt, yt, device="cpu", dtype="float64")  # every check of the model, now
    if callable(parameters):  # a predicate: fix the names it selected
        problem = ModelProblem(model, loss, reduction, tuple(engine.names), mode)
    params = dict(problem.model.named_parameters())
    shapes = [tuple(params[n].shape) for n in engine.names]
    reg, center, D, dsource = _resolve_region(region, engine.names, shapes, engine.center)
    if grid is None or not isinstance(grid, (list, tuple)) or not all(
            isinstance(g, numbers.Integral) and not isinstance(g, bool) and g >= 2 for g in grid):
        raise InvalidSpecError("grid must be a list of integers >= 2 (points per axis)")
    grid = [int(g) for g in grid]
    n = engine.n_params if D is None else D.shape[0]
    if len(grid) != n:
        raise InvalidSpecError(f"grid has {len(grid)} sizes for a {n}-dimensional region")
    if math.prod(grid) > 10**9:
        raise InvalidSpecError(f"grid has {math.prod(grid):.3g} points (> 1e9): use a coarser grid or a slice")
    if levels is not None:
        try:
            levels = [float(v) for v in levels]
        except (TypeError, ValueError):
            raise InvalidSpecError("levels must be a list of numbers") from None
        if not all(math.isfinite(v) for v in levels):
            raise InvalidSpecError("levels must be finite numbers")
    if homology_dims is not None:
        dims = list(homology_dims)
        if not dims or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and 0 <= k < n
                               for k in dims) or any(a >= b for a, b in zip(dims, dims[1:])):
            raise InvalidSpecError(f"homology_dims must be a strictly increasing non-empty list of dimensions in "
                                   f"0..{n - 1}, got {homology_dims!r}")
        homology_dims = [int(k) for k in dims]
    spec, reason = recognise_network(problem, xt, yt)
    below = None
    if spec is not None and problem.loss == "bce":
        # torch's binary_cross_entropy clamps each log at -100: a term differs from the analytic one only
        # where it is >= 100, i.e. where the loss is >= 100 / (its normaliser)
        outputs = int(spec.outputs)
        below = 100.0 / (engine.m * outputs if problem.reduction == "torch" else engine.m)
    return ModelExperiment(problem, xt, yt, reg, grid, levels, homology_dims, center, D, dsource,
                           tuple(engine.names), engine.n_params, spec, reason, below, source, tuple(engine.notes),
                           engine.slice_trick)
