"""docs/theory.md §4.5 "Worked numbers": exact first row, log2 of the others to 2 decimals.

Each row is checked three ways: the formats (P, r, alpha, beta) from the closed form
and from the mechanical engine, the theorem registry at the table's (n, r, alpha, beta),
and ``bounds(spec)`` end to end. An independent integer oracle (the formulas of
docs/theory.md §5 typed in again, evaluated with Python ints) backs the 2-decimal values.

The table's K column is the count K(n, r, alpha, beta) of boundary critical points; theorem K's bound
is floor(K / 2) (docs/theory.md 6.1, issue 18 item 5), so the package reports log2 K - 1 (K even
in every row here) and K_int // 2. The rows are the claims ``worked_numbers.*`` of the package data
(bettibounds/claims/data/worked_numbers.json): one source for this test, the claims check and the report.
"""

from __future__ import annotations

import math

import pytest

from bettibounds import ArchitectureSpec, bounds, closed_form
from bettibounds.claims import load_claims
from bettibounds.claims.checks import WORKED_LOSS_ROWS
from bettibounds.pfaffian.graph import mechanical
from bettibounds.theorems import get_theorem

# (d, h, L, m, loss row, P, (r, alpha, beta), log2 Zell core, log2 K (the count), log2 GV on V' (n = P+1))
ROWS = [(c.data["check"]["network"]["d"], c.data["check"]["network"]["h"], c.data["check"]["network"]["L"],
         c.data["check"]["network"]["m"], c.data["check"]["network"]["loss_row"], c.data["check"]["P"],
         tuple(c.data["check"]["format"]), c.data["check"]["log2_zell"], c.data["check"]["log2_k_count"],
         c.data["check"]["log2_gv"]) for c in load_claims(["worked_numbers"])]
LOSS_ROWS = WORKED_LOSS_ROWS


def spec_of(d, h, L, m, row):
    return ArchitectureSpec.uniform(d, h, L, m, activation="logistic", **LOSS_ROWS[row])


def K_int(n, r, a, b):
    return 2 ** (r * (r - 1) // 2) * b * (a + b - 1) ** (n - 1) * (min(n, r) * a + b + (n - 1) * (a + b - 2)) ** r


def GV_int(n, r, a, b):
    return 2 ** (r * (r - 1) // 2) * b * (a + 2 * b - 1) ** (n - 1) * ((2 * n - 1) * (a + 2 * b) - 2 * n + 2) ** r


def Z_int(n, r, a, b):  # s = 1, C = 1
    return 2 ** (r * (r - 1) // 2) * (n * b + min(n, r) * a) ** (n + r)


def two_decimals(x, expected):
    return abs(float(x) - expected) <= 0.005 + 1e-9


def upper(report, key):
    (b,) = [b for b in report.upper if b.theorem == key]
    return b


# ------------------------------------------------------------------ first row
FIRST = ArchitectureSpec(inputs=1, widths=(1,), activation="logistic", loss="mse", samples=1)


def test_first_row_format():
    assert FIRST.n_params == 4
    assert closed_form(FIRST).format.as_tuple() == (1, 2, 4)
    assert mechanical(FIRST).format.as_tuple() == (1, 2, 4)


def test_first_row_registry():
    # Zell core with s = 1, C = 1: (n beta + min(n, r) alpha)^(n + r) = (16 + 2)^5
    z = get_theorem("Z").evaluate(n=4, r=1, alpha=2, beta=4, s=1, C=1)
    assert z.exact == 18**5 == 1_889_568
    # K: 4 * 5^3 * (2 + 4 + 3 * 4) = 9000 boundary critical points; the bound is 9000 / 2 = 4500
    assert get_theorem("K").evaluate(n=4, r=1, alpha=2, beta=4).exact == 4500
    # GV at n = P + 1 = 5: 4 * 9^4 * (9 * 10 - 8) = 2,152,008
    assert get_theorem("GV").evaluate(n=5, r=1, alpha=2, beta=4).exact == 2_152_008


def test_first_row_end_to_end():
    report = bounds(FIRST)
    assert report.n_params == 4 and report.format.as_tuple() == (1, 2, 4)
    assert upper(report, "Z").value == 1_889_568
    assert upper(report, "K").value == 4500
    assert upper(report, "GV").value == 2_152_008
    assert upper(report, "GV").parameters["n"] == 5
    assert upper(report, "Z").parameters["s"] == 1 and upper(report, "Z").parameters["C"] == 1
    assert not upper(report, "Z").rigorous
    data = report.to_dict()
    assert {e["theorem"]: e["value"] for e in data["upper"]} == {"Z": "1889568", "K": "4500", "GV": "2152008"}


def test_first_row_oracles():
    assert K_int(4, 1, 2, 4) == 9000 and GV_int(5, 1, 2, 4) == 2_152_008 and Z_int(4, 1, 2, 4) == 1_889_568


def test_the_worked_rows_are_the_package_data():
    assert len(ROWS) == 4 and {r[4] for r in ROWS} == {"MSE-lin", "MSE-sig", "BCE"}


# ------------------------------------------------------------------ other rows
@pytest.mark.parametrize("row", ROWS, ids=[f"{r[4]}-L{r[2]}" for r in ROWS])
def test_row_formats(row):
    d, h, L, m, loss, P, fmt = row[:7]
    spec = spec_of(d, h, L, m, loss)
    assert spec.n_params == P
    assert closed_form(spec).format.as_tuple() == fmt
    assert mechanical(spec).format.as_tuple() == fmt


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[4]}-L{r[2]}" for r in ROWS])
def test_row_oracle_matches_theory_table(row):
    P, (r, a, b), z, k, gv = row[5:]
    assert two_decimals(math.log2(Z_int(P, r, a, b)), z)
    assert two_decimals(math.log2(K_int(P, r, a, b)), k)
    assert two_decimals(math.log2(GV_int(P + 1, r, a, b)), gv)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[4]}-L{r[2]}" for r in ROWS])
def test_row_registry(row):
    P, (r, a, b), z, k, gv = row[5:]
    ez = get_theorem("Z").evaluate(n=P, r=r, alpha=a, beta=b, s=1, C=1)
    ek = get_theorem("K").evaluate(n=P, r=r, alpha=a, beta=b)
    egv = get_theorem("GV").evaluate(n=P + 1, r=r, alpha=a, beta=b)
    assert two_decimals(ez.log2, z) and two_decimals(ek.log2, k - 1) and two_decimals(egv.log2, gv)
    assert ez.exact == Z_int(P, r, a, b)
    assert K_int(P, r, a, b) % 2 == 0 and ek.exact == K_int(P, r, a, b) // 2
    assert egv.exact == GV_int(P + 1, r, a, b)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[4]}-L{r[2]}" for r in ROWS])
def test_row_end_to_end(row):
    d, h, L, m, loss, P, fmt, z, k, gv = row
    report = bounds(spec_of(d, h, L, m, loss))
    assert report.n_params == P and report.n_variables == P
    assert report.format.as_tuple() == fmt
    assert two_decimals(upper(report, "Z").log2, z)
    assert two_decimals(upper(report, "K").log2, k - 1)
    assert two_decimals(upper(report, "GV").log2, gv)
    assert upper(report, "K").value == K_int(P, *fmt) // 2
    data = report.to_dict()
    logs = {e["theorem"]: e["log2"] for e in data["upper"]}
    assert round(logs["K"], 2) == pytest.approx(k - 1) and round(logs["GV"], 2) == pytest.approx(gv)
