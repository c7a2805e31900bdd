"""Section 6 of the report, provenance: versions, device, seeds, timings, the published claims, the theorems
behind the numbers and the bibliography.

Also the records every section puts on its rows (:func:`bound_fields`, :data:`SYMMETRY_CERT`). What the other
sections used -- seeds, theorems, citation keys, where the landscapes were sampled -- each says in its result's
``"provenance"`` entry (``{"seeds": [...], "theorems": [...], "citations": [...], "device": {...}}``), which
:func:`compute` gathers in report order. No scale knobs.
"""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata

from ...claims import check_claims
from ...references import REFERENCES, cite
from ...theorems import THEOREMS
from ..render import md_table

__all__ = ["NAME", "SYMMETRY_CERT", "TIMING", "bibliography", "bound_fields", "check", "compute", "device_info",
           "markdown", "theorem_record", "versions"]

NAME = "provenance"
TIMING = "6. published claims"

#: distributions whose versions the report records (None when not installed)
PACKAGES = ("bettibounds", "numpy", "scipy", "sympy", "mpmath", "torch", "gudhi", "cripser", "matplotlib",
            "python-flint")

#: the certified symmetry lower bound (registry theorem Sym-cert: docs/theory.md §7, made rigorous by ball
#: arithmetic in certified/witness.py), as report rows record it
SYMMETRY_CERT = {"theorem": "Sym-cert", "name": THEOREMS["Sym-cert"].name, "status": THEOREMS["Sym-cert"].status,
                 "citation": "; ".join(THEOREMS["Sym-cert"].citation), "rigorous": THEOREMS["Sym-cert"].rigorous}


def versions() -> dict:
    """{name: version or None} of Python and the packages in :data:`PACKAGES`."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["bettibounds"] is None:  # running from a source tree that is not installed
        from ... import __version__

        out["bettibounds"] = __version__
    return out


def device_info() -> dict:
    """Where the landscapes were sampled: CUDA device name when present, else the CPU."""
    info = {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import torch
    except ImportError:
        info["device"] = "cpu (torch not installed)"
        return info
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["device"] = f"cuda: {torch.cuda.get_device_name(0)}"
    else:
        info["device"] = "cpu"
    return info


def bound_fields(b) -> dict:
    """theorem / status / route / rigorous / citation of a :class:`~bettibounds.result.BoundResult`."""
    return {"theorem": b.theorem, "status": b.status, "route": b.route, "route_status": b.route_status,
            "rigorous": b.rigorous, "conditional": b.conditional, "citation": "; ".join(b.citation)}


def theorem_record(key: str) -> dict:
    """Registry entry as a small dict."""
    t = THEOREMS[key]
    return {"theorem": t.key, "name": t.name, "status": t.status, "citation": "; ".join(t.citation),
            "rigorous": t.rigorous, "statement": t.statement}


def bibliography(keys) -> list[dict]:
    """[{key, text}] for the citation keys used (unknown keys are reported, never dropped)."""
    out = []
    for k in sorted(set(keys)):
        out.append({"key": k, "text": cite(k) if k in REFERENCES else "(unknown key)"})
    return out


# ------------------------------------------------------------------ the section
def compute(ctx) -> dict:
    """Versions, device, seeds, theorems and bibliography of the sections run before, and the published
    claims recomputed (:func:`bettibounds.claims.check_claims`); ``record`` is tables.json's
    ``provenance`` (the orchestrator adds the timings)."""
    contributed = [r["provenance"] for r in ctx.results.values() if r.get("provenance")]
    dev = device_info()
    for c in contributed:
        dev.update(c.get("device", {}))
    seeds = [s for c in contributed for s in c.get("seeds", [])]
    theorems = [theorem_record(k) for k in sorted({k for c in contributed for k in c.get("theorems", [])})]
    cited = {k.strip() for tr in theorems for k in tr["citation"].split(";")}
    cited |= {k for c in contributed for k in c.get("citations", [])}
    claims = check_claims()
    record = {"versions": versions(), "device": dev, "mode": ctx.scale,
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seeds": seeds, "theorems": theorems,
              "bibliography": bibliography(cited), "claims": claims}
    return {"record": record}


def markdown(result, ctx) -> list[str]:
    prov = result["record"]
    v = prov["versions"]
    timings = {k: round(s, 2) for k, s in ctx.timings.items()}
    md = ["## 6. Provenance\n", "### Versions\n",
          md_table([{"package": k, "version": v[k] if v[k] is not None else "not installed"} for k in v],
                   ["package", "version"]),
          "### Device\n",
          md_table([{"key": k, "value": val} for k, val in prov["device"].items()], ["key", "value"]),
          "### Seeds\n",
          md_table([{"what": s["what"], "seeds": json.dumps(s["seeds"]) if isinstance(s["seeds"], dict) else
                     s["seeds"]} for s in prov["seeds"]], ["what", "seeds"]),
          "Sections 1–3 are deterministic (exact formats, mpmath log-space evaluation).\n",
          "### Timings (seconds, this run)\n",
          md_table([{"section": k, "seconds": s} for k, s in timings.items()], ["section", "seconds"]),
          "### Published claims\n",
          "Every claim of the literature that bettibounds reproduces (package data, `bettibounds.claims`; "
          "`python -m bettibounds.claims -v` prints each comparison), recomputed by this run.\n",
          md_table([{**c, "disagreeing": "; ".join(c["disagreeing"]) or "–"} for c in prov["claims"]],
                   ["id", "source", "status", "value", "verdict", "comparisons", "disagreeing"],
                   ["claim", "source", "status", "published value", "verdict", "comparisons", "disagreeing"]),
          f"{sum(c['verdict'] == 'agrees' for c in prov['claims'])} of {len(prov['claims'])} claims agree; "
          f"{sum(c['verdict'].startswith('checked elsewhere') for c in prov['claims'])} are checked elsewhere "
          "(the barcode trend: section 5.3); a disagreeing claim makes the run fail.\n",
          "### Theorems behind the numbers\n",
          "Every bound row above names one of these theorems; the status is the theorem's (docs/theory.md §1.2), the "
          "route (how it was applied: compact S_c, generic level via ε-regularisation, slice) is in tables.json.\n",
          md_table(prov["theorems"], ["theorem", "name", "status", "rigorous", "citation"]),
          "### Bibliography\n",
          md_table(prov["bibliography"], ["key", "text"]),
          "Files: report.md, report.html, tables.json (every table above, with theorem/status/route/citation per "
          "row and this provenance), growth.csv, fits.csv, theory_vs_data.csv, the PNG figures.\n"]
    return md


def check(result, ctx) -> str | None:
    """A published claim that disagrees with bettibounds fails the run (after the report is written)."""
    disagreeing = [c["id"] for c in result["record"]["claims"] if c["verdict"] == "DISAGREES"]
    if not disagreeing:
        return None
    return (f"{len(disagreeing)} published claim(s) disagree with bettibounds (first: {disagreeing[0]}); "
            f"see section 6 of {ctx.out / 'report.md'}")
