"""Which engine evaluates a loss: ``engine="auto"``, the default everywhere.

:func:`choose_engine` picks the fastest engine that supports the experiment at the requested
precision and device: the fused engine (:mod:`.fused`) on the CPU for every network, region and
precision it supports, the torch kernel (:mod:`.torch_kernel`) on CUDA and for everything else. Both
compute the same loss; the choice changes a value by at most the stated tolerance of the engine
it picked (docs/usage.md, "Engines"). :func:`resolve_engine` adds the explicit choices
("torch", "fused"), so that every result can record which engine ran and why.

This module imports neither torch nor numba at import time.
"""

from __future__ import annotations

import importlib.util
import os

from ..errors import InvalidSpecError

__all__ = ["choose_engine", "resolve_engine"]


def _cuda(device) -> bool:
    """Whether ``device`` means CUDA (None: CUDA when torch sees a GPU, as LossKernel does)."""
    if device is None:
        try:
            import torch
        except ImportError:
            return False
        return bool(torch.cuda.is_available())
    return str(device).strip().lower().startswith("cuda")


def choose_engine(spec, region_kind: str | None, k: int | None = None, dtype: str | None = "float64",
                  device=None) -> tuple[str, str]:
    """The engine ``engine="auto"`` uses, and why: ``("fused" | "torch", reason)``.

    Parameters
    ----------
    spec : ArchitectureSpec
        The network and loss.
    region_kind : {"slice", "box", None}
        What is evaluated: a slice (``mode="slice"``), a box over all parameters or independent
        parameter vectors (``mode="full"``); None: not known yet (only the network is checked).
    k : int, optional
        The slice's number of directions.
    dtype : {"float64", "float32"}, optional
        The precision (None: float64, every engine's default).
    device : None, "cpu", "cuda", "cuda:<i>"
        None: CUDA when torch sees a GPU, else the CPU.

    The fused engine is chosen when all hold: the device is the CPU, numba is installed (and JIT
    compilation is not disabled), the precision is float64 or float32, and the network, region and
    k are in its family (:func:`~.fused.fused_unsupported`). It is then the faster engine on every
    configuration measured (docs/benchmarks.md). The choice does not look at the number of
    points: the fused kernel is compiled once per machine (about 30 s per precision, then loaded
    from numba's cache in about 0.5 s per process). A region on which the fused engine's
    precision could overflow is found only with the region's numbers; :func:`~bettibounds.empirical.sampler.make_kernel`
    and the Dask evaluator check it and then fall back to the torch kernel, with the reason.
    """
    from .fused import fused_unsupported

    dt = "float64" if dtype is None else str(dtype).replace("torch.", "").strip().lower()
    dt = {"double": "float64", "float": "float32"}.get(dt, dt)
    if _cuda(device):
        return "torch", "CUDA: the fused engine runs on the CPU only"
    if dt not in ("float64", "float32"):
        return "torch", f"dtype {dtype!r}: the fused engine computes in float64 or float32"
    if importlib.util.find_spec("numba") is None:
        return "torch", "numba is not installed (pip install -e '.[fast]' adds the fused engine)"
    if os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0"):
        return "torch", "NUMBA_DISABLE_JIT is set: the fused engine would run as plain Python"
    if region_kind not in ("slice", "box", None):
        return "torch", f"region {region_kind!r}: the fused engine evaluates slices and boxes"
    reason = fused_unsupported(spec, k if region_kind == "slice" else None)
    if reason is not None:
        return "torch", reason
    what = {"slice": f"a {k}-direction slice" if k else "a slice", "box": "parameter vectors",
            None: "this network"}[region_kind]
    return "fused", f"CPU, {dt}, {what} of a network the fused engine supports (the faster engine there)"


def resolve_engine(engine: str, spec, region_kind: str | None, k: int | None = None, dtype: str | None = "float64",
                   device=None) -> tuple[str, str]:
    """``(engine that runs, reason)`` for a requested ``engine`` in
    :func:`bettibounds.engines.engine_choices`: ``"auto"`` asks :func:`choose_engine`; an engine
    of the registry is taken as requested (the fused engine then refuses what it cannot do, with
    the reason, when its kernel is built)."""
    from . import AUTO, engine_choices

    if engine not in engine_choices():
        raise InvalidSpecError(f"engine must be one of {', '.join(engine_choices())}, got {engine!r}")
    if engine == AUTO:
        name, reason = choose_engine(spec, region_kind, k, dtype, device)
        return name, f"auto: {reason}"
    return engine, "requested"
