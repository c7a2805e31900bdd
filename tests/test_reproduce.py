"""bettibounds reproduce --quick: the report is written, complete, and consistent with the theory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_reproduce_quick(tmp_path):
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, "-m", "bettibounds", "reproduce", "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "bound violations: 0" in out.stdout
    md = (tmp_path / "report.md").read_text()
    for section in ("## 1. How complexity grows", "## 2. Invariances", "## 3. Input-space bounds",
                    "## 4. Theory against data", "## 5. ReLU obstruction", "## Provenance"):
        assert section in md
    data = json.loads((tmp_path / "tables.json").read_text())
    # growth: K increases with the width at fixed depth (monotone bounds)
    g = [r for r in data["growth"] if r["activation"] == "tanh" and r["loss"] == "mse" and r["L"] == 2]
    assert [r["log10_K"] for r in sorted(g, key=lambda r: r["h"])] == sorted(r["log10_K"] for r in g)
    # invariances: residual and l2 leave the MSE-tanh format unchanged
    inv = {r["variant"]: r["format"] for r in data["invariances"] if r["network"].startswith("tanh/mse")}
    assert inv["plain"] == inv["residual"] == inv["l2 = 0.01"]
    if data["theory_vs_data"] is not None:
        assert all(r["holds"] in (True, None) for r in data["theory_vs_data"])
    assert (tmp_path / "growth.png").stat().st_size > 1000 and (tmp_path / "growth.csv").exists()
