"""The suite's own configuration starts wherever the documented command runs (CI, 2026-12-06).

With ``filterwarnings = ["error"]``, a warning that a third-party pytest plugin emits while pytest configures
itself aborts the whole run before any test: pytest-benchmark, installed in CI's interpreter, warns that it is
disabled under xdist, and the suite died with an INTERNALERROR after 15 s. pyproject.toml's ``addopts`` blocks
that plugin (the suite has no pytest-benchmark tests; performance is measured by benchmarks/).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ini() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]


def test_addopts_blocks_the_benchmark_plugin():
    opts = shlex.split(_ini()["addopts"])
    assert any(a == "-p" and b == "no:benchmark" for a, b in zip(opts, opts[1:])), opts


def test_the_suite_configuration_starts_under_xdist_with_pytest_benchmark_installed(tmp_path):
    """Live: the project's [tool.pytest.ini_options] on a one-test project, run as the documented command
    runs it (``-n 2``); skipped where pytest-benchmark is absent (then the static check above stands)."""
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("xdist")
    ini = _ini()
    lines = ["[tool.pytest.ini_options]"]
    for key in ("addopts", "filterwarnings", "markers"):
        value = ini[key]
        if isinstance(value, str):
            lines.append(f"{key} = {value!r}")
        else:
            lines.append(f"{key} = [" + ", ".join(repr(v) for v in value) + "]")
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
