"""Provenance of the report: versions, device, theorem records and citations."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from ..references import REFERENCES, cite
from ..theorems import THEOREMS

__all__ = ["SYMMETRY_CERT", "bibliography", "bound_fields", "device_info", "theorem_record", "versions"]

#: distributions whose versions the report records (None when not installed)
PACKAGES = ("bettibounds", "numpy", "scipy", "sympy", "mpmath", "torch", "gudhi", "cripser", "matplotlib",
            "python-flint")

#: the certified symmetry lower bound (registry theorem Sym-cert: docs/theory.md §7, made rigorous by ball
#: arithmetic in certified/witness.py), as report rows record it
SYMMETRY_CERT = {"theorem": "Sym-cert", "name": THEOREMS["Sym-cert"].name, "status": THEOREMS["Sym-cert"].status,
                 "citation": "; ".join(THEOREMS["Sym-cert"].citation), "rigorous": THEOREMS["Sym-cert"].rigorous}


def versions() -> dict:
    """{name: version or None} of Python and the packages in :data:`PACKAGES`."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["bettibounds"] is None:  # running from a source tree that is not installed
        from .. import __version__

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
