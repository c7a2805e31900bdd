"""The landscape command's time estimate against the run it estimates, in-process.

    python benchmarks/bench_landscape_estimates.py [--repeat 3] [FILE.json [ARGS ...]] ...

Each experiment file (default: examples/slice_2d.json; model experiment files too) is run with
``bettibounds landscape FILE ARGS`` ``--repeat`` times in this process (the first run of a process pays
torch's and numba's loading, as a user's command does); the estimate is what the command passed to
``bettibounds._lib.budget.enforce`` (shown or not: landscapes announce at 10 s), the run is the command's
own "N s in all" (the estimated work: evaluations, persistence, local search), the wall time is the whole
command (loading the experiment included). Prints one table with the load average; writes nothing.
To compare with another version, run it with ``PYTHONPATH`` pointing at that checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _one(argv: list[str]) -> tuple[float, float, float]:
    """(estimate s, run 'in all' s, command wall s) of ``bettibounds landscape`` with ``argv``."""
    from bettibounds._lib import budget
    from bettibounds.cli import main

    seen: list[float] = []
    enforce = budget.enforce

    def recording(cost, *a, **k):
        s = enforce(cost, *a, **k)
        seen.append(s)
        return s

    budget.enforce = recording
    out = io.StringIO()
    try:
        t = time.perf_counter()
        with contextlib.redirect_stdout(out):
            rc = main(["landscape", *argv])
        wall = time.perf_counter() - t
    finally:
        budget.enforce = enforce
    m = re.search(r"([0-9.]+) s in all", out.getvalue())
    if rc != 0 or m is None or not seen:
        raise SystemExit(f"landscape {' '.join(argv)} failed (exit {rc}): {out.getvalue()[-400:]}")
    return seen[-1], float(m.group(1)), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("runs", nargs="*", help="FILE.json followed by its landscape options; separate runs with '--'")
    ns, rest = ap.parse_known_args()
    words = ns.runs + rest
    runs = [r.split() for r in " ".join(words).split(" -- ")] if words else [[str(ROOT / "examples" / "slice_2d.json")]]
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(f"{'run':58} {'estimate':>9} {'in all':>8} {'wall':>7} {'est/run':>8}")
    for argv in runs:
        for _ in range(ns.repeat):
            est, run, wall = _one(argv)
            name = " ".join([Path(argv[0]).name, *argv[1:]])[:58]
            print(f"{name:58} {est:8.2f}s {run:7.2f}s {wall:6.2f}s {est / max(run, 1e-9):8.1f}")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
