"""The report's sections, in report order (:data:`SECTIONS`).

A section is a module with

* ``NAME`` -- its key in ``ctx.results`` -- and ``TIMING``, its row in the report's timings (None: not timed);
* ``SCALES`` -- where it has knobs -- a table ``{"smoke": {...}, "quick": {...}, "full": {...}}`` of every knob
  that depends on the scale (:data:`bettibounds.reproduce.context.SCALE_NAMES`), read as ``ctx.knobs(SCALES)``;
* ``compute(ctx) -> dict``: its numbers and figures. Keys the orchestrator reads: ``tables`` (merged into
  tables.json, in section order), ``csv`` (file name -> rows), ``figures`` (PNG names in ``ctx.out``),
  ``provenance`` (``seeds``, ``theorems``, ``citations``, ``device``: gathered by section 6) and ``summary``
  (merged into the dict :func:`bettibounds.reproduce.reproduce` returns); the rest is the section's own;
* ``markdown(result, ctx) -> list[str]``: its text (joined with newlines), rendered once every section has
  computed; it does not change ``result``;
* optionally ``check(result, ctx) -> str | None``: a message when the result contradicts a proved statement
  or a published claim; the orchestrator raises :class:`~bettibounds.reproduce.TheoryViolation` with it after
  writing the report.

To add a section: write the module, put it in :data:`SECTIONS`. Experiments that a section runs are data
(:mod:`.landscape_cases` for section 4), not code.
"""

from __future__ import annotations

from . import (
    barcodes,
    growth,
    input_space,
    invariances,
    preamble,
    provenance,
    relu_obstruction,
    theory_vs_data,
)

__all__ = ["SECTIONS"]

#: in report order; computed in this order too (section 6 gathers what the others used, the preamble reads it)
SECTIONS = (preamble, growth, invariances, input_space, theory_vs_data, relu_obstruction, barcodes, provenance)
