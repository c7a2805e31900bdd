"""Section 3 of the report, input-space bounds (Bianchini & Scarselli 2014): B({x : N(x) >= 0}) with the
weights fixed, by every applicable theorem; constant-free cores are marked ``rigorous = False``.
"""

from __future__ import annotations

from typing import Any

from ...api import bounds
from ...logspace import safe_float
from ...spec import ArchitectureSpec
from ..render import cite_column, md_table
from .provenance import bound_fields

__all__ = ["NAME", "SCALES", "TIMING", "compute", "input_space_rows", "markdown"]

NAME = "input_space"
TIMING = "3. input space"

#: the hidden widths of the networks (d = 2 inputs) at each scale
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"widths": ((4,), (4, 4))},
    "quick": {"widths": ((4,), (4, 4), (4, 4, 4))},
    "full": {"widths": ((4,), (4, 4), (4, 4, 4))},
}

ACTIVATIONS = ("logistic", "tanh", "arctan", "polynomial:2", "polynomial:3")


def input_space_rows(networks) -> list[dict]:
    """Bianchini-Scarselli setting: B({x : N(x) >= 0}) with the weights fixed, every theorem, for each
    activation and each tuple of hidden widths in ``networks``."""
    rows = []
    for act in ACTIVATIONS:
        for widths in networks:
            r = bounds(ArchitectureSpec(inputs=2, widths=widths, activation=act, samples=1), space="input")
            for b in r.upper:
                rows.append({"activation": act, "widths": list(widths), "format": list(r.derivation.triple),
                             "log10": safe_float(b.log10, "up"), **bound_fields(b)})
    return rows


def compute(ctx) -> dict:
    inp = input_space_rows(ctx.knobs(SCALES)["widths"])
    return {"rows": inp, "tables": {"input_space": inp},
            "provenance": {"theorems": sorted({r["theorem"] for r in inp}), "citations": ["BianchiniScarselli2014"]}}


def markdown(result, ctx) -> list[str]:
    inp = [dict(r) for r in result["rows"]]
    md = ["## 3. Input-space bounds (Bianchini & Scarselli 2014)\n",
          "B({x ∈ R² : N(x) ≥ 0}) with the weights fixed: every applicable theorem. Rows with rigorous = no are "
          "constant-free cores (O(·) with C = 1): orders of magnitude, not bounds.\n"]
    inp_notes = cite_column(inp)
    md += [md_table(inp, ["activation", "widths", "format", "theorem", "status", "rigorous", "log10", "cite"],
                    ["activation", "widths", "(r, α, β)", "theorem", "status", "rigorous", "log10 bound", "cite"],
                    up={"log10"}),
           inp_notes]
    return md
