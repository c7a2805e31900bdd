"""Engines: every way of evaluating the loss at many parameter points, found by name.

Each engine implements the contract of :mod:`bettibounds.engines.base`
(:class:`~bettibounds.engines.base.LossEngine`: ``evaluate_chunked`` over full parameter
vectors or slice coordinates, ``engine``/``device``/``dtype``/``n_params``) and has one entry in
:data:`ENGINES`:

========  ===============================================================  ==========
name      what                                                             extra
========  ===============================================================  ==========
torch     :class:`~bettibounds.engines.torch_kernel.LossKernel`: batched   empirical
          torch kernel for spec-based networks, CPU or CUDA, float64/32
fused     :class:`~bettibounds.engines.fused.FusedKernel`: compiled    fast
          CPU kernel (numba), one fused pass per point, float64/32,
          slices (1-4 directions) and full parameter vectors,
          tanh/logistic hidden layers, MSE (identity/logistic/tanh
          output) or BCE
model     :class:`~bettibounds.engines.model_engine.ModelEngine`: any      empirical
          torch.nn.Module and loss, vmap over chunks, slice trick
dask      :class:`~bettibounds.engines.dask_engine.DaskEvaluator`:     dist
          wraps another engine, spreading blocks of points over a Dask
          cluster (re-exported by :mod:`bettibounds.distributed`)
========  ===============================================================  ==========

``engine="auto"`` (:data:`AUTO`, the default of every job and command) is not an engine but a
choice among them: :func:`choose_engine` (:mod:`.choice`) picks the fused
engine on the CPU where it supports the network, region and precision, else torch (and the model
engine for a ``torch.nn.Module``), and results record the engine with the reason.
:func:`engine_choices` is what an ``engine=`` argument accepts, :func:`resolve_engine` turns one into
``(engine, reason)``.

Importing this package imports neither torch nor numba; :meth:`EngineEntry.load` imports an
engine's module when it is used. To add an engine: implement the contract in a module of its
own, add an :class:`EngineEntry` here, and the conformance test
(tests/unit/test_engine_contract.py) checks it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .._lib.lazy import lazy_exports
from ..errors import InvalidSpecError, unknown_name
from .base import DifferentiableEngine, LossEngine, engine_record

#: names loaded from their module on first use (the choice imports torch or numba only when called)
_LAZY = {"choose_engine": "choice", "resolve_engine": "choice"}

__all__ = ["ENGINES", "AUTO", "EngineEntry", "get_engine", "build_engine", "engine_names", "engine_choices",
           "choose_engine", "resolve_engine", "LossEngine", "DifferentiableEngine", "engine_record"]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


#: the ``engine`` value that lets the library choose (not an engine: resolved per run, recorded with the reason)
AUTO = "auto"


@dataclass(frozen=True)
class EngineEntry:
    """One engine of the registry.

    Attributes
    ----------
    name : str
        The registry key (also the ``engine`` attribute of its instances and what results record).
    summary : str
        One line for users (``--engine`` help, docs).
    target : str
        ``"module:Class"`` of the engine; imported by :meth:`load`.
    extra : str
        The optional extra that provides its dependencies.
    wrapper : bool
        A wrapper (Dask) runs another engine and is built with a client, not by :func:`build_engine`.
    evaluates : {"spec", "model"}
        What :func:`build_engine`'s ``spec`` is for it: an :class:`~bettibounds.spec.ArchitectureSpec`
        (the networks of experiment files) or a torch model (a
        :class:`~bettibounds.engines.model_engine.ModelProblem` or a bare ``torch.nn.Module``).
    """

    name: str
    summary: str
    target: str
    extra: str
    wrapper: bool = False
    evaluates: str = "spec"

    def load(self) -> type:
        """The engine's class (imports its module: torch, numba or dask)."""
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)


ENGINES: dict[str, EngineEntry] = {
    e.name: e for e in (
        EngineEntry("torch", "batched torch kernel for spec-based networks: any registry network, CPU or CUDA, "
                             "float64 (default) or float32", "bettibounds.engines.torch_kernel:LossKernel",
                    "empirical"),
        EngineEntry("fused", "compiled CPU kernel (numba): one fused pass per point, float64 (default) or float32; "
                             "slices with 1-4 directions and full parameter vectors of tanh/logistic networks, MSE "
                             "(identity, logistic or tanh output) or BCE", "bettibounds.engines.fused:FusedKernel",
                    "fast"),
        EngineEntry("model", "any torch.nn.Module with any loss: functional_call + vmap over chunks, the slice trick "
                             "where the first parametrised layer is linear in its weights; CPU or CUDA, float64 "
                             "(default) or float32", "bettibounds.engines.model_engine:ModelEngine", "empirical",
                    evaluates="model"),
        EngineEntry("dask", "spreads another engine's blocks of points over a Dask cluster (bit-identical results)",
                    "bettibounds.engines.dask_engine:DaskEvaluator", "dist", wrapper=True),
    )
}


def engine_names(wrappers: bool = False) -> tuple[str, ...]:
    """The registry's engine names (without the wrappers unless ``wrappers``)."""
    return tuple(n for n, e in ENGINES.items() if wrappers or not e.wrapper)


def engine_choices() -> tuple[str, ...]:
    """What an ``engine=`` argument (and ``--engine``) accepts: :data:`AUTO` and the registry's
    engines, wrappers left out."""
    return (AUTO, *engine_names())


def get_engine(name: Any) -> EngineEntry:
    """The registry entry of ``name``; an unknown name lists the valid ones."""
    if not isinstance(name, str) or name not in ENGINES:
        raise unknown_name("engine", name, list(ENGINES))
    return ENGINES[name]


def build_engine(name: str, spec: Any, x: Any, y: Any, *, device: Any = None, dtype: str | None = None) -> Any:
    """An engine instance for ``spec`` on the data (x, y); ``dtype=None`` is the engine's own default.

    ``spec`` is an :class:`~bettibounds.spec.ArchitectureSpec` for the spec-based engines, and a
    :class:`~bettibounds.engines.model_engine.ModelProblem` (or a bare ``torch.nn.Module``) for
    ``"model"``.

    Wrappers (``"dask"``) need a client: use :class:`bettibounds.distributed.DaskEvaluator`.
    """
    entry = get_engine(name)
    if entry.wrapper:
        raise InvalidSpecError(f"engine {name!r} wraps another engine and needs a Dask client: "
                               "use bettibounds.distributed.DaskEvaluator(client, spec, x, y, engine=...)")
    cls = entry.load()
    if dtype is None:
        return cls(spec, x, y, device=device)
    return cls(spec, x, y, device=device, dtype=dtype)
