"""The state of one report run, shared by its sections: scale, output folder, device, what is installed.

A section reads what it needs from the :class:`Context` (``ctx.scale`` picks its row of its own
``SCALES`` table, ``ctx.out`` is where it writes figures, ``ctx.missing`` says which optional
modules cannot be imported) and returns its result; the orchestrator
(:func:`bettibounds.reproduce.reproduce`) records each result in ``ctx.results`` under the section's
``NAME``, the section's figures in ``ctx.figures`` and its time in ``ctx.timings``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidSpecError

__all__ = ["SCALE_NAMES", "Context", "have_module", "missing_modules", "resolve_scale"]

#: the report's scales, smallest first: ``smoke`` (about 20 s of CPU: checks an installation end to end, numbers too
#: coarse to read), ``quick`` (the default: a few minutes on 2 idle CPU cores), ``full`` (larger sweeps,
#: finer grids, more certificates)
SCALE_NAMES: tuple[str, ...] = ("smoke", "quick", "full")

#: the modules of the [empirical] extra that the report's sections need
EMPIRICAL_MODULES: tuple[str, ...] = ("torch", "gudhi", "matplotlib")


def resolve_scale(scale: str | None, quick: bool = True) -> str:
    """The scale to run: ``scale`` when given (one of :data:`SCALE_NAMES`), else "quick" or "full" from ``quick``."""
    if scale is None:
        return "quick" if quick else "full"
    if scale not in SCALE_NAMES:
        raise InvalidSpecError(f"unknown report scale {scale!r}; valid: {', '.join(SCALE_NAMES)}")
    return scale


def have_module(name: str) -> bool:
    """Whether ``import name`` succeeds (an optional dependency is installed and loads)."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def missing_modules() -> tuple[str, ...]:
    """The modules of the [empirical] extra (torch, gudhi, matplotlib) that cannot be imported."""
    return tuple(name for name in EMPIRICAL_MODULES if not have_module(name))


@dataclass
class Context:
    """One run of the report.

    Attributes
    ----------
    scale : str
        One of :data:`SCALE_NAMES`; every section reads its knobs from its ``SCALES[scale]``.
    out : Path
        The output folder (exists); figures are written into it and linked by file name.
    device : str or None
        Landscape sampling device ("cpu", "cuda"); None: CUDA when available.
    scheduler : None, str or distributed.Client
        Where the barcode trend's independent jobs run (:func:`bettibounds.distributed.map_jobs`).
    missing : tuple of str
        The modules of the [empirical] extra that cannot be imported (:func:`missing_modules`).
    certify : bool
        python-flint (the [certify] extra) is importable: section 4 certifies lower bounds.
    timings : dict
        Seconds per section (its ``TIMING`` label), filled by the orchestrator.
    figures : list of str
        Every figure written so far (file names relative to ``out``), in report order.
    results : dict
        Each finished section's result, by the section's ``NAME``.
    """

    scale: str
    out: Path
    device: str | None = None
    scheduler: Any = None
    missing: tuple[str, ...] = ()
    certify: bool = True
    timings: dict[str, float] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    results: dict[str, dict] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def has(self, *modules: str) -> bool:
        """None of ``modules`` (of :data:`EMPIRICAL_MODULES`) is missing."""
        return not any(m in self.missing for m in modules)

    def knobs(self, table: dict[str, dict]) -> dict:
        """This run's row of a section's ``SCALES`` table."""
        return table[self.scale]
