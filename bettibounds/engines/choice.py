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

__all__ = ["SMALL_GRID_POINTS", "SMALL_WORK_FLOPS", "choose_engine", "resolve_engine"]

#: A workload of fewer points than this, and of fewer matrix-product FLOPs in all than
#: :data:`SMALL_WORK_FLOPS`, goes to the torch kernel under ``engine="auto"``: the torch kernel
#: finishes it in well under a second (it ran 8 700-17 700 points/s and 4-5 GFLOP/s on the networks of
#: docs/benchmarks.md), before the fused kernel would even have loaded (about 0.5 s from numba's cache
#: in a new process, 15-40 s where it compiles: once per installation and precision).
SMALL_GRID_POINTS = 1024
#: see :data:`SMALL_GRID_POINTS` (2 10^9 FLOPs: about half a second of the torch kernel at 4 GFLOP/s)
SMALL_WORK_FLOPS = 2e9


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
                  device=None, points: int | None = None) -> tuple[str, str]:
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
    points : int, optional
        How many points the kernel will evaluate (a landscape: its grid, and the refined grid
        too). None: not known (the choice then ignores the workload).

    The fused engine is chosen when all hold: the device is the CPU, numba is installed (and JIT
    compilation is not disabled), the precision is float64 or float32, and the network, region and
    k are in its family (:func:`~.fused.fused_unsupported`), and the workload is not tiny: fewer
    than :data:`SMALL_GRID_POINTS` points and :data:`SMALL_WORK_FLOPS` matrix-product FLOPs in
    all go to the torch kernel, which finishes them before the fused kernel has loaded (about 0.5 s
    from numba's cache per process; compiling it, once per installation and precision, takes
    15-40 s). Otherwise the fused engine is the faster one on every configuration measured
    (docs/benchmarks.md). The choice depends on the workload, never on what this process has
    already loaded, so the same command chooses the same engine every time. A region on which the fused engine's
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
    if points is not None and points < SMALL_GRID_POINTS:
        from .layout import flops_per_point

        per_point = flops_per_point(spec, "slice", k) if region_kind == "slice" and k else flops_per_point(spec)
        if points * per_point < SMALL_WORK_FLOPS:
            return "torch", (f"{points} points ({points * per_point:.2g} FLOPs): the torch kernel finishes them "
                             "before the fused kernel would have loaded (0.5 s from numba's cache, more to compile)")
    what = {"slice": f"a {k}-direction slice" if k else "a slice", "box": "parameter vectors",
            None: "this network"}[region_kind]
    return "fused", f"CPU, {dt}, {what} of a network the fused engine supports (the faster engine there)"


def resolve_engine(engine: str, spec, region_kind: str | None, k: int | None = None, dtype: str | None = "float64",
                   device=None, points: int | None = None) -> tuple[str, str]:
    """``(engine that runs, reason)`` for a requested ``engine`` in
    :func:`bettibounds.engines.engine_choices`: ``"auto"`` asks :func:`choose_engine`; an engine
    of the registry is taken as requested (the fused engine then refuses what it cannot do, with
    the reason, when its kernel is built). ``points``: the workload, for auto (:func:`choose_engine`)."""
    from . import AUTO, engine_choices

    if engine not in engine_choices():
        raise InvalidSpecError(f"engine must be one of {', '.join(engine_choices())}, got {engine!r}")
    if engine == AUTO:
        name, reason = choose_engine(spec, region_kind, k, dtype, device, points)
        return name, f"auto: {reason}"
    return engine, "requested"
