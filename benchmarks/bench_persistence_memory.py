"""Peak host memory of sublevel persistence per grid vertex, per backend and dimension.

Each case runs in a fresh interpreter (benchmarks/persistence_peak.py, so one case's peak does not hide
the next): it builds the value array, records the resident set size, calls
``bettibounds.empirical.persistence.sublevel_persistence(values, backend=...)`` with every homology
dimension, and reports (peak RSS - RSS before the call) / vertices (the peak, VmHWM, is reset just before
the call), next to the estimate of
``bettibounds.empirical.grid_memory.persistence_bytes`` (per vertex). Inputs: i.i.d. uniform values (a
bar for almost every vertex: the worst case) and a smooth sum of Gaussians (few bars, like a loss
landscape). The estimate must be at or above every measured figure.

Usage: python benchmarks/bench_persistence_memory.py [--quick]   (prints a Markdown table; writes nothing)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

#: the measuring child (one fresh interpreter per case), shared with tests/empirical/test_persistence_memory.py
PEAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "persistence_peak.py")


def measure(backend: str, shape: tuple, kind: str) -> dict:
    """Peak RSS increase of one persistence call, in a fresh interpreter."""
    env = dict(os.environ)
    out = subprocess.run([sys.executable, PEAK, backend, "x".join(map(str, shape)), kind],
                         capture_output=True, text=True, check=True, env=env)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    n = 1
    for s in shape:
        n *= s
    return {"vertices": n, "bars": r["bars"], "per_vertex": (r["peak"] - r["before"]) / n}


def main(quick: bool = False) -> None:
    from bettibounds.empirical.grid_memory import persistence_bytes

    cases = [("cripser", (512, 512)), ("cripser", (64, 64, 64)), ("cripser", (24, 24, 24, 24)),
             ("gudhi", (512, 512)), ("gudhi", (64, 64, 64)), ("gudhi", (20, 20, 20, 20)),
             ("gudhi", (10,) * 5), ("gudhi", (7,) * 6), ("gudhi", (6,) * 7)]
    if not quick:
        cases += [("cripser", (1024, 1024)), ("cripser", (96, 96, 96)), ("gudhi", (12,) * 5), ("gudhi", (8,) * 6),
                  ("gudhi", (7,) * 7)]
    t0 = time.time()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    print("| backend | shape | input | vertices | bars | measured B/vertex | estimate B/vertex | estimate / measured |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    worst = 0.0
    for backend, shape in cases:
        for kind in ("random", "smooth"):
            m = measure(backend, shape, kind)
            est = persistence_bytes(shape, backend) / m["vertices"]
            worst = max(worst, m["per_vertex"] / est)
            print(f"| {backend} | {'x'.join(map(str, shape))} | {kind} | {m['vertices']:,} | {m['bars']:,} | "
                  f"{m['per_vertex']:.0f} | {est:.0f} | {est / max(m['per_vertex'], 1):.2f} |", flush=True)
    print(f"largest measured / estimate: {worst:.2f} (must be <= 1); {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
