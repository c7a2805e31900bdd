"""The literature's claims that bettibounds reproduces, as package data, and their checks.

One JSON file per source (``bettibounds/claims/data/<stem>.json``, keyed by the citation keys of
:mod:`bettibounds.references`) holds the claims, each with its statement, published value, citation,
locator, status and a machine-readable ``check``; :mod:`.checks` recomputes each with the API. The
same data serve the test suite (tests/regression/test_published.py), the reproduction report (its
provenance section lists every claim's verdict) and the command line::

    python -m bettibounds.claims                    # every claim: id / published / recomputed / agree
    python -m bettibounds.claims --section growth   # one section (see SECTIONS); -v: every comparison

>>> claim = get_claim("milnor1964.theorem2")
>>> claim.source, claim.status
('Milnor1964', 'published')
>>> all(row.agree for row in claim.check())
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import MissingExtraError, unknown_name
from .checks import CHECKERS, REQUIRED_FIELDS, STATUSES, Row, Skip, run_claim

__all__ = ["Claim", "Row", "Skip", "SECTIONS", "CHECKERS", "REQUIRED_FIELDS", "STATUSES", "claim_files",
           "load_claims", "get_claim", "check_claims"]


@dataclass(frozen=True)
class Claim:
    """One published claim: ``id`` (``<file stem>.<topic>[.<detail>]``), ``source`` (the citation key of its
    file), ``stem`` (the file), ``status`` and the raw JSON object ``data`` (statement, value, citation,
    locator, check, ...)."""

    id: str
    source: str
    stem: str
    status: str
    data: dict[str, Any] = field(repr=False, compare=False)

    def check(self) -> list[Row]:
        """The comparisons of this claim (raises :class:`Skip` for a claim checked elsewhere)."""
        return run_claim(self.data)


#: sections of ``python -m bettibounds.claims --section``: (files, title, claim-id filter)
SECTIONS: dict[str, tuple[tuple[str, ...], str, Callable[[str], bool] | None]] = {
    "growth": (("bucarelli2024",), "How complexity grows: formats and bound growth (Bucarelli2024)",
               lambda cid: ".l2." not in cid and ".skip." not in cid),
    "invariances": (("bucarelli2024",), "Invariances: l2 and skip connections (Bucarelli2024)",
                    lambda cid: ".l2." in cid or ".skip." in cid),
    "input_space": (("bianchini_scarselli2014",), "Input-space bounds (BianchiniScarselli2014)", None),
    "pfaffian_bounds": (("khovanskii1991", "gabrielov_vorobjov2004", "zell1999", "milnor1964"),
                        "Pfaffian and algebraic Betti bounds (Khovanskii1991, GabrielovVorobjov2004, Zell1999, "
                        "Milnor1964)", None),
    "barcode": (("barannikov2019", "barannikov2020"), "Loss barcodes (Barannikov2019, Barannikov2020)", None),
    "obstruction": (("nurisso2024",), "ReLU obstruction (Nurisso2024)", None),
    "worked_numbers": (("worked_numbers",), "Worked numbers (docs/theory.md §4.5)", None),
}


def claim_files() -> dict[str, dict[str, Any]]:
    """{file stem: the decoded JSON file} of every claims file shipped with the package."""
    out = {}
    for entry in sorted(resources.files(__package__).joinpath("data").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return out


def load_claims(stems: Iterable[str] | None = None, match: Callable[[str], bool] | None = None) -> list[Claim]:
    """Every claim (or those of the files ``stems``, and whose id satisfies ``match``), in file order."""
    files = claim_files()
    if stems is not None:
        stems = list(stems)
        for s in stems:
            if s not in files:
                raise unknown_name("claims file", s, list(files))
    out = []
    for stem, data in files.items():
        if stems is not None and stem not in stems:
            continue
        out += [Claim(c["id"], data["source"], stem, c["status"], c) for c in data["claims"]
                if match is None or match(c["id"])]
    return out


def get_claim(claim_id: str) -> Claim:
    """The claim with this id; an unknown id lists the valid ones."""
    claims = {c.id: c for c in load_claims()}
    if claim_id not in claims:
        raise unknown_name("claim id", claim_id, list(claims))
    return claims[claim_id]


def check_claims(claims: Iterable[Claim] | None = None) -> list[dict[str, Any]]:
    """One row per claim: ``id``, ``source``, ``status``, ``value`` (published), ``verdict`` ("agrees",
    "DISAGREES", or "checked elsewhere: ..."), ``comparisons`` and the disagreeing comparisons."""
    rows = []
    for claim in load_claims() if claims is None else claims:
        base = {"id": claim.id, "source": claim.source, "status": claim.status, "value": str(claim.data["value"])}
        try:
            comparisons = claim.check()
        except Skip as why:
            rows.append({**base, "verdict": f"checked elsewhere: {why}", "comparisons": 0, "disagreeing": []})
            continue
        except ImportError as exc:  # e.g. a barcode claim in a core-only install
            what = f"the [{exc.extra}] extra" if isinstance(exc, MissingExtraError) else (exc.name or "a module")
            rows.append({**base, "verdict": f"not checked: {what} is not installed", "comparisons": 0,
                         "disagreeing": []})
            continue
        bad = [f"{r.label}: published {r.published!r}, recomputed {r.recomputed!r}" for r in comparisons
               if not r.agree]
        ok = bool(comparisons) and not bad
        rows.append({**base, "verdict": "agrees" if ok else "DISAGREES", "comparisons": len(comparisons),
                     "disagreeing": bad})
    return rows
