"""Section 2 of the report, invariances: the format (r, alpha, beta) and the bound K with and without l2
regularisation, identity-residual and input-output skips, each change explained in its row. No scale knobs:
every scale computes the same rows.
"""

from __future__ import annotations

from typing import Any

from ...api import bounds
from ...logspace import safe_float
from ...spec import ArchitectureSpec
from ..render import cite_column, md_table
from .growth import theorem_k
from .provenance import bound_fields

__all__ = ["NAME", "TIMING", "compute", "invariance_rows", "markdown"]

NAME = "invariances"
TIMING = "2. invariances"


def invariance_rows() -> list[dict]:
    """Format and K with and without l2, identity-residual and input-output skips."""
    rows = []
    nets = (("tanh", "mse", "identity", "logsigmoid", (4, 4)), ("logistic", "mse", "logistic", "logsigmoid", (4, 4)),
            ("tanh", "bce", "logistic", "logsigmoid", (4, 4)), ("tanh", "bce", "logistic", "two-logs", (4, 4)),
            ("arctan", "mse", "identity", "logsigmoid", (3, 3, 3)))
    for act, loss, out, chain, widths in nets:
        base: dict[str, Any] = {"inputs": 2, "widths": widths, "activation": act, "loss": loss,
                                "output_activation": out, "samples": 5, "bce_chain": chain}
        ref = None
        for label, extra in (("plain", {}), ("l2 = 0.01", {"l2": 0.01}), ("residual", {"skip": "residual"}),
                             ("input-output skip", {"skip": "input-output"})):
            spec = ArchitectureSpec(**base, **extra)
            r = bounds(spec)
            k = theorem_k(r)
            fmt = list(r.derivation.triple)
            if ref is None:
                ref = (fmt, float(k.log10))
            same_fmt, same_k = fmt == ref[0], abs(float(k.log10) - ref[1]) < 1e-9
            if label == "plain":
                why = "reference"
            elif same_fmt and same_k:
                why = "unchanged"
            elif not same_fmt:
                why = "beta < 2: l2 raises beta to 2 (lambda ||theta||^2 has degree 2)"
            else:
                why = f"format unchanged; P grows by d = {spec.inputs} (learnable U), so n = P and K change"
            loss_name = f"{loss}" + (f" ({chain})" if loss == "bce" else "")
            rows.append({"network": f"{act} {'-'.join(map(str, widths))} / {loss_name} / out {out}",
                         "variant": label, "P": spec.n_params, "format": fmt, "log10_K": safe_float(k.log10, "up"),
                         "changed": why, **bound_fields(k)})
    return rows


def compute(ctx) -> dict:
    inv = invariance_rows()
    return {"rows": inv, "tables": {"invariances": inv}}


def markdown(result, ctx) -> list[str]:
    inv = [dict(r) for r in result["rows"]]
    md = ["## 2. Invariances: ℓ2 regularization and skip connections\n",
          "Format (r, α, β) and log10 K with and without λ‖θ‖² and skips (d = 2, m = 5). λ‖θ‖² is a degree-2 "
          "polynomial with no chain, so it changes nothing when β ≥ 2; identity-residual blocks add no chain element "
          "and no parameter; a learnable input-output skip keeps the format but adds parameters.\n"]
    inv_notes = cite_column(inv)
    md += [md_table(inv, ["network", "variant", "P", "format", "log10_K", "changed", "theorem", "status", "cite"],
                    ["network", "variant", "P", "(r, α, β)", "log10 K", "what changed and why", "theorem", "status",
                     "cite"], up={"log10_K"}), inv_notes]
    n_unch = sum(1 for r in inv if r["changed"] == "unchanged")
    md.append(f"\n{n_unch} of {sum(1 for r in inv if r['variant'] != 'plain')} variants leave format and bound "
              "unchanged; every change is explained in its row.\n")
    return md
