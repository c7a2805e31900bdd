"""Published claims (bettibounds/claims/data/*.json, package data) against bettibounds.

Each claim's published value or formula was typed in from the literature (with its citation key and
locator); :mod:`bettibounds.claims.checks` recomputes it with the bettibounds API. One
test per claim id; qualitative claims are checked as the property they state (e.g. strict growth
along a sweep). Claims whose check lives elsewhere (``kind: external``) are skipped with the name of
the checker. A schema test keeps the files honest, and mutation tests show that every kind of check
can fail.
"""

from __future__ import annotations

import copy
import re

import pytest

from bettibounds import claims as claims_pkg
from bettibounds.claims import checks
from bettibounds.references import REFERENCES

FILES = claims_pkg.claim_files()
CLAIMS = [(c.stem, c.data) for c in claims_pkg.load_claims()]
BY_ID = {c["id"]: c for _, c in CLAIMS}


def test_there_are_published_files_for_every_source():
    sources = {data["source"] for data in FILES.values()}
    assert sources >= {"Bucarelli2024", "Khovanskii1991", "Zell1999", "GabrielovVorobjov2004", "Milnor1964",
                       "BianchiniScarselli2014", "Barannikov2019", "Barannikov2020", "Nurisso2024"}


# ------------------------------------------------------------------------ schema
@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_schema(stem):
    data = FILES[stem]
    assert set(data) >= {"source", "title", "claims"}
    assert data["source"] in REFERENCES, f"{stem}.json: source key {data['source']!r} not in references.py"
    assert data["claims"], f"{stem}.json has no claims"
    # the file's own source is cited by each of its claims
    for claim in data["claims"]:
        assert data["source"] in claim["citation"], claim["id"]


@pytest.mark.parametrize("stem, claim", CLAIMS, ids=[c["id"] for _, c in CLAIMS])
def test_claim_schema(stem, claim):
    missing = [f for f in checks.REQUIRED_FIELDS if f not in claim]
    assert not missing, f"{claim['id']}: missing {missing}"
    assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", claim["id"]), claim["id"]
    assert claim["statement"].strip() and str(claim["value"]).strip() and claim["reproduction"].strip()
    assert claim["status"] in checks.STATUSES, claim["status"]
    assert claim["citation"] and all(k in REFERENCES for k in claim["citation"]), claim["citation"]
    # when the project's own text is the locator, it is a section of docs/theory.md (which users have)
    assert claim["locator_source"] in ("confirmed", "none") or claim["locator_source"].startswith(
        "docs/theory.md §"), claim["locator_source"]
    if claim["locator"] is None:
        # never an invented locator: a missing one says why
        assert claim.get("locator_reason", "").strip(), f"{claim['id']}: locator null without locator_reason"
    else:
        assert claim["locator_source"] == "confirmed" or claim["locator_source"].startswith("docs/theory.md §")
        if claim["locator_source"] == "confirmed":
            assert claim.get("locator_url", "").startswith("https://"), claim["id"]
    assert claim["check"]["kind"] in checks.CHECKERS, claim["check"]["kind"]
    if claim["check"]["kind"] == "theorem_value":  # the printed value is the number that is checked
        assert claim["value"].replace(",", "") == str(claim["check"]["expected"]), claim["id"]


def test_claim_ids_are_unique():
    ids = [c["id"] for _, c in CLAIMS]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------------ claims
@pytest.mark.parametrize("claim_id", sorted(BY_ID))
def test_published_claim(claim_id):
    claim = BY_ID[claim_id]
    try:
        rows = checks.run_claim(claim)
    except checks.Skip as why:
        pytest.skip(f"{claim_id}: {why}")
    assert rows, f"{claim_id}: the check compared nothing"
    bad = [r for r in rows if not r.agree]
    assert not bad, "\n".join(f"{r.label}: published {r.published!r}, bettibounds {r.recomputed!r}" for r in bad)


# --------------------------------------------------- the checks can fail (mutations)
def _mutated(claim_id, edit):
    claim = copy.deepcopy(BY_ID[claim_id])
    edit(claim["check"])
    return checks.run_claim(claim)


MUTATIONS = {
    # a wrong published number
    "khovanskii1991.theorem_k.worked_row1": lambda c: c.update(expected=9001),
    # a wrong published formula (Khovanskii's bracket without the + 1)
    "khovanskii1991.kh.formula": lambda c: c.update(formula=c["formula"].replace("- n + 1", "- n")),
    # a wrong label: Zell's core claimed rigorous
    "zell1999.core": lambda c: c.update(expect_rigorous=True),
    # a wrong format (alpha = 3L instead of 3L - 1)
    "bucarelli2024.format.mse_linear": lambda c: c["formula"].update(alpha="3*L"),
    # an invariance that does not hold: l2 on BCE written with two logs changes beta 1 -> 2
    "bucarelli2024.l2.unchanged.bce": lambda c: c.update(spec={**c["spec"], "bce_chain": "two-logs"}),
    # a wrong barcode
    "barannikov2019.path_example": lambda c: c.update(expected=[[1, 3], [0, "inf"]]),
    # a wrong component count (2^{N_-} replaced by N_- + 1)
    "nurisso2024.b0_scalar_output": lambda c: c.update(formula="N_minus + 1"),
    # a wrong input-space formula
    "bianchini_scarselli2014.deep_sigmoid": lambda c: c.update(formula="2**(h*(h-1)//2) * (n*l + n)**(n + h - 1)"),
    # a wrong reachability verdict
    "nurisso2024.unreachable_canonical": lambda c: c["cases"][0].update(expected="reachable"),
}


@pytest.mark.parametrize("claim_id", sorted(MUTATIONS))
def test_a_wrong_claim_is_detected(claim_id):
    rows = _mutated(claim_id, MUTATIONS[claim_id])
    assert rows and not all(r.agree for r in rows)


def test_growth_check_demands_strict_growth(monkeypatch):
    """A sweep that changes nothing gives equal bounds, which the growth check must reject."""
    claim = BY_ID["bucarelli2024.growth.depth"]
    monkeypatch.setattr(checks, "_grow", lambda spec, vary: spec)
    rows = checks.run_claim(claim)
    assert rows and not any(r.agree for r in rows)


def test_sections_cover_every_claim():
    """Every claim is run by exactly one section of ``python -m bettibounds.claims --section``."""
    covered: dict[str, int] = {}
    for stems, _, match in claims_pkg.SECTIONS.values():
        for c in claims_pkg.load_claims(stems, match):
            covered[c.id] = covered.get(c.id, 0) + 1
    assert covered == {cid: 1 for cid in BY_ID}


def test_claims_command_line(capsys):
    from bettibounds.claims.__main__ import main

    assert main(["--section", "pfaffian_bounds"]) == 0
    out = capsys.readouterr().out
    assert "milnor1964.theorem2" in out and "0 disagreeing" in out


def test_check_claims_rows_and_unknown_ids():
    from bettibounds.errors import UnknownNameError

    rows = {r["id"]: r for r in claims_pkg.check_claims()}
    assert set(rows) == set(BY_ID)
    assert rows["milnor1964.theorem2"]["verdict"] == "agrees"
    assert rows["barannikov2020.barcode_shrinks_with_width_depth"]["verdict"].startswith("checked elsewhere")
    with pytest.raises(UnknownNameError, match="milnor1964.theorem2"):
        claims_pkg.get_claim("no.such.claim")
