"""A fast subset of the CLI fuzz harness (verification/fuzz_cli.py): the same generated cases and
checks, in this process, on the commands that answer in milliseconds (the full run covers the
rest: ``python verification/fuzz_cli.py``)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

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
                                   "activations", "theorems", "path"}:
        return True  # top-level options and junk
    if argv[0] == "bound" and ("--certify" in argv or "--check" in argv):
        return False
    return argv[0] in FAST


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_fuzz_subset_is_clean_and_leaves_the_cwd_unchanged(tmp_path, monkeypatch):
    fuzz = _harness()
    cases = fuzz.generate(400, 120, seed=7, folder=tmp_path / "corpus")
    argv_cases = [c for c in cases if c["id"].startswith("a") and _fast(c)][:150]
    file_cases = [c for c in cases if c["id"].startswith("f") and c["argv"][0] == "obstruction"][:25]
    assert len(argv_cases) >= 100 and len(file_cases) >= 15
    work = tmp_path / "cases"
    work.mkdir()
    start = tmp_path / "start"  # the directory the harness is started from, with a file of the user's
    start.mkdir()
    (start / "notes.txt").write_text("mine")
    monkeypatch.chdir(start)
    with _address_space_cap(4 * 2**30):  # a regression that allocates without limit fails, not the machine
        results = [fuzz.run_case(c, work, timeout=60) for c in argv_cases + file_cases]
    bad = [r for r in results if r["findings"]]
    assert not bad, json.dumps(bad[:3], indent=1, default=str)
    codes = {r["code"] for r in results}
    assert {0, 2} <= codes  # both outcomes are exercised
    assert Path.cwd() == start and _tree(start) == ["notes.txt"]  # an earlier harness left 34 folders here
    assert _tree(work) == []  # every case's folder removed


def test_relative_outputs_land_in_the_case_folder_not_the_cwd(tmp_path, monkeypatch):
    """The junk values include relative paths ("0", "nan", "."): `--plot 0` writes ./0/, which must be
    the case's own folder. A failed run that leaves such a file is a leftover finding."""
    import bettibounds.cli as cli

    fuzz = _harness()
    work = tmp_path / "cases"
    work.mkdir()
    start = tmp_path / "start"
    start.mkdir()
    monkeypatch.chdir(start)

    def plot_into(status):
        def fake(argv):
            Path(argv[-1]).mkdir()
            (Path(argv[-1]) / "diagram.png").write_bytes(b"\x89PNG")
            print("plotted") if status == 0 else print("bettibounds: error: no", file=sys.stderr)
            return status
        return fake

    monkeypatch.setattr(cli, "main", plot_into(0))
    ok = fuzz.run_case({"id": "rel-ok", "argv": ["barcode", "--plot", "0"]}, work, timeout=10)
    monkeypatch.setattr(cli, "main", plot_into(2))
    failed = fuzz.run_case({"id": "rel-failed", "argv": ["barcode", "--plot", "nan"]}, work, timeout=10)
    assert _tree(start) == [] and Path.cwd() == start
    assert ok["findings"] == []  # a successful run may write where it was told
    assert "leftover" in failed["findings"] and failed["leftover"][0].endswith("nan/diagram.png")


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
        "traceback ": lambda argv: (_ for _ in ()).throw(KeyboardInterrupt),  # Ctrl-C let through by main
    }
    for finding, fake in behaviours.items():
        monkeypatch.setattr(cli, "main", fake)
        result = fuzz.run_case({"id": f"m-{finding.strip()}", "argv": ["bound"]}, work, timeout=10)
        assert finding.strip() in result["findings"], (finding, result)


def test_an_interrupt_is_timed_from_the_start_of_main(tmp_path):
    """An interrupt at 0.0 s used to land in the harness's own timer.start(), before main began, and
    was reported as a traceback of the CLI (the campaign's one finding); it now reaches main."""
    fuzz = _harness()
    work = tmp_path / "cases"
    work.mkdir()
    for _ in range(3):
        r = fuzz.run_case({"id": "int0", "argv": ["bound", "-d", "2", "-w", "3", "-m", "4"], "interrupt": 0.0},
                          work, timeout=30)
        assert r["findings"] == [] and r["code"] in (0, 130), r


def test_a_case_over_the_cap_counts_as_a_hang_only_if_it_hangs_alone_too(monkeypatch, tmp_path):
    """confirm_hangs re-runs each hung case alone: one that finishes alone is 'slow under load' (reported,
    its lone result kept with its own findings), one that hangs alone stays a hang; --no-confirm keeps all."""
    fz = _harness()

    def result(cid, status, seconds, findings):
        return {"id": cid, "argv": ["landscape", cid], "status": status, "seconds": seconds, "findings": findings}

    lone = {"a1": result("a1", "done", 4.5, []), "a2": result("a2", "hang", 250.0, ["hang"]),
            "a3": result("a3", "done", 3.0, ["traceback"])}
    ran = []

    class AlonePool:
        def __init__(self, n, *rest):
            assert n == 1  # alone: one worker
        def run(self, cases, *rest):
            ran.append([c["id"] for c in cases])
            return [lone[c["id"]] for c in cases]

    monkeypatch.setattr(fz, "Pool", AlonePool)
    first = [result("a0", "done", 0.1, []), result("a1", "hang", 210.0, ["hang"]),
             result("a2", "hang", 211.0, ["hang"]), result("a3", "hang", 212.0, ["hang"])]
    cases = [{"id": f"a{i}", "argv": []} for i in range(4)]

    class Args:
        no_confirm, timeout, memory_gb, budget, recycle = False, 120.0, 6.0, 20.0, 200

    results, slow = fz.confirm_hangs(first, cases, tmp_path, Args)
    assert ran == [["a1"], ["a2"], ["a3"]]
    assert [r["findings"] for r in results] == [[], [], ["hang"], ["traceback"]]
    assert [(s["id"], s["loaded_seconds"], s["alone_seconds"]) for s in slow] == [("a1", 210.0, 4.5),
                                                                                  ("a3", 212.0, 3.0)]
    Args.no_confirm = True
    assert fz.confirm_hangs(first, cases, tmp_path, Args) == (first, [])
