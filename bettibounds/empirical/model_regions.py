"""The regions of a model experiment: parameter vectors of models, and the slice's centre and directions.

:func:`resolve_region` validates a ``region=`` of
:func:`~bettibounds.empirical.models.experiment_from_model` (the kinds slice, line, plane, pca
and box are described in :mod:`bettibounds.empirical.models`) and returns the sampler's region,
the centre, the directions and how they were made: random Gaussian directions with the filter
normalisation of Li et al. (2018) (:func:`filter_normalize`), listed directions, the line or plane
through models, or the PCA plane of a training trajectory, each checked to span a slice of its
dimension. :func:`model_vector` reads the varied parameters of a model, state_dict or flat vector.
This module imports torch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..errors import InvalidSpecError
from .sampler import check_slice_rank

__all__ = ["architecture", "model_vector", "filter_normalize", "resolve_region"]

_REGION_KEYS = {
    "slice": {"kind", "low", "high", "center", "directions"},
    "line": {"kind", "low", "high", "models"},
    "plane": {"kind", "low", "high", "models", "orthogonalize"},
    "pca": {"kind", "low", "high", "trajectory", "components", "center"},
    "box": {"kind", "low", "high"},
}

def architecture(model: torch.nn.Module) -> list[tuple[str, str]]:
    """The modules of ``model`` by name and type (the root's type left out: two instances of one class
    compare equal, and so do a model and its copy)."""
    return [(name, type(mod).__name__) for name, mod in model.named_modules() if name]


def model_vector(obj, names, shapes, what: str = "vector", like: torch.nn.Module | None = None) -> np.ndarray:
    """The varied parameters of ``obj`` as a float64 (P,) vector.

    ``obj``: a model of the same architecture, a state_dict (name -> tensor; the varied names must be
    present), or a flat (P,) tensor or array. ``like``: the model whose parameters these are; a module
    ``obj`` whose modules differ from its (by name or type: a Sigmoid where it has a Tanh) is refused,
    since only its parameters would be used, in ``like``'s architecture (its state_dict says that on
    purpose).
    """
    P = int(sum(math.prod(s) for s in shapes))
    if isinstance(obj, torch.nn.Module):
        if like is not None and architecture(obj) != architecture(like):
            mine, theirs = architecture(like), architecture(obj)
            at = next((i for i, (u, v) in enumerate(zip(mine, theirs)) if u != v), min(len(mine), len(theirs)))
            show = lambda arch: (f"{arch[at][0]!r}: {arch[at][1]}" if at < len(arch) else "nothing")  # noqa: E731
            raise InvalidSpecError(f"{what} is a model of another architecture (module {show(theirs)} where the model "
                                   f"has {show(mine)}): only its parameters would be used, in the model's "
                                   f"architecture; pass {what}.state_dict() if that is what you mean")
        obj = dict(obj.named_parameters())
    v: np.ndarray | None
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


def resolve_region(region, names, shapes, own: np.ndarray, like: torch.nn.Module | None = None):
    """(region for the sampler, center, directions or None, source); ``like``: the model (models named
    in the region must have its architecture, :func:`model_vector`)."""
    if not isinstance(region, dict) or region.get("kind") not in _REGION_KEYS:
        raise InvalidSpecError(f"region must be a dict with \"kind\" one of {', '.join(_REGION_KEYS)}, got "
                               f"{region!r:.80}")
    kind = region["kind"]
    unknown = set(region) - _REGION_KEYS[kind]
    if unknown:
        raise InvalidSpecError(f"region ({kind}): unknown keys {sorted(unknown)}; accepted: "
                               f"{sorted(_REGION_KEYS[kind])}")
    P = int(own.shape[0])
    vec = lambda obj, what: model_vector(obj, names, shapes, what, like)  # noqa: E731
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
        if isinstance(comps, bool) or not isinstance(comps, numbers.Integral) or not 1 <= int(comps) < len(traj):
            raise InvalidSpecError(f"region.components must be an integer in 1..{len(traj) - 1}, got {comps!r}")
        comps = int(comps)
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
    check_slice_rank(D, "region directions", "filter normalisation gives 0 on biases, norm parameters and filters "
                     "whose centre filter is 0" if source.get("normalization") == "filter" else None)
    return {"kind": "slice", "low": low, "high": high}, center, D, source
