"""The data of a model experiment: tensors, numpy arrays, a Dataset or a DataLoader, and seeded subsets.

:func:`model_data` turns any of these into (x, y) tensors on the CPU (floating values in float64,
class indices kept integer) and records the source (kind, size, the seeded subset's indices), for
:func:`~bettibounds.empirical.models.experiment_from_model` and
:func:`~bettibounds.empirical.paths.path_between`. This module imports torch.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..errors import InvalidSpecError

__all__ = ["model_data"]


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
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or not 1 <= int(samples) <= n:
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
