"""A fast subset of the CLI fuzz harness (verification/fuzz_cli.py): the same generated cases and
checks, in this process, on the commands that answer in milliseconds (the full run covers the
rest: ``python verification/fuzz_cli.py``)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _harness():
    spec = importlib.util.spec_from_file_location("fuzz_cli", ROOT / "verification" / "fuzz_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _address_space_cap(extra: int):
    """Lower this process's soft address-space limit to what it uses now plus ``extra`` bytes, and
    put it back afterwards (the hard limit is untouched, so restoring is allowed)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        used = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    cap = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


FAST = {"bound", "obstruction", "activations", "theorems", "reproduce"}


def _fast(case: dict) -> bool:
    argv = case["argv"]
    if case.get("interrupt") is not None or "--plot" in " ".join(argv) or "@OUT@" in argv:
        return False  # interrupts and plots: the full run
    if not argv or argv[0] not in {"bound", "lower", "landscape", "barcode", "obstruction", "reproduce",
                                   "activations", "theorems"}:
        return True  # top-level options and junk
    if argv[0] == "bound" and ("--certify" in argv or "--check" in argv):
        return False
    return argv[0] in FAST


def test_fuzz_subset_is_clean(tmp_path):
    fuzz = _harness()
    cases = fuzz.generate(400, 120, seed=7, folder=tmp_path)
    argv_cases = [c for c in cases if c["id"].startswith("a") and _fast(c)][:150]
    file_cases = [c for c in cases if c["id"].startswith("f") and c["argv"][0] == "obstruction"][:25]
    assert len(argv_cases) >= 100 and len(file_cases) >= 15
    work = tmp_path / "cases"
    work.mkdir()
    with _address_space_cap(4 * 2**30):  # a regression that allocates without limit fails, not the machine
        results = [fuzz.run_case(c, work, timeout=60) for c in argv_cases + file_cases]
    bad = [r for r in results if r["findings"]]
    assert not bad, json.dumps(bad[:3], indent=1, default=str)
    codes = {r["code"] for r in results}
    assert {0, 2} <= codes  # both outcomes are exercised


def test_the_harness_sees_what_it_must(tmp_path, monkeypatch):
    """Mutation check of the harness itself: a traceback, a wrong exit status, a warning and a
    multi-line error are each reported."""
    import warnings

    import bettibounds.cli as cli

    fuzz = _harness()
    work = tmp_path / "cases"
    work.mkdir()
    behaviours = {
        "traceback": lambda argv: 1 / 0,
        "exit": lambda argv: 3,
        "warning": lambda argv: warnings.warn("overflow", RuntimeWarning) or print("x") or 0,
        "stderr": lambda argv: __import__("sys").stderr.write("bettibounds: error: a\nbettibounds: error: b\n") and 2,
    }
    for finding, fake in behaviours.items():
        monkeypatch.setattr(cli, "main", fake)
        result = fuzz.run_case({"id": f"m-{finding}", "argv": ["bound"]}, work, timeout=10)
        assert finding in result["findings"], (finding, result)
