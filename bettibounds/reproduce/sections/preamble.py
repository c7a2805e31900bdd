"""The report's title and summary: what ran where, how to read the statuses, and section 4's verdict.

It computes nothing; its Markdown reads the provenance (section 6) and the verdict of theory against data
(section 4), so it is rendered after every section has computed.
"""

from __future__ import annotations

__all__ = ["NAME", "TIMING", "compute", "markdown"]

NAME = "preamble"
TIMING = None  # nothing to time


def compute(ctx) -> dict:
    return {}


def markdown(result, ctx) -> list[str]:
    prov = ctx.results["provenance"]["record"]
    vers, dev = prov["versions"], prov["device"]
    verdict = ctx.results["theory_vs_data"]["verdict"]
    return ["# bettibounds reproduction report\n",
            f"bettibounds {vers['bettibounds']}, Python {vers['python']}, {prov['date']}, **{ctx.scale}** run on "
            f"{dev['device']} ({dev['cpu_count']} CPU cores visible). Every number below is computed by this run. "
            "Each bound carries its theorem, the theorem's status (`published`, `quoted`, `derived` with a proof in "
            "docs/theory.md, or `constant-free`: an O(·) statement with C = 1, never a rigorous number) and its "
            "citation keys (section 6). Tables as JSON: `tables.json`; as CSV: `growth.csv`, `fits.csv`, "
            "`theory_vs_data.csv`.\n",
            f"**Theory against data:** {verdict}\n"]
