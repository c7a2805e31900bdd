"""Benchmark of the sublevel-persistence backends (gudhi vs cripser). Prints a Markdown table.

Times ``bettibounds.empirical.persistence.sublevel_persistence(values, backend=...)``
end to end (validation, the backend, and building the diagram with birth/death
locations), all homology dimensions (``max_dim = ndim - 1``), on

* random arrays (i.i.d. uniform values: the worst case, a bar for almost every vertex);
* smooth arrays (a sum of 12 Gaussian bumps and wells of random sign, centre and width
  on ``linspace(-1, 1, n)`` per axis: few bars, closer to a sampled loss landscape);

for 2-D 512^2 and 1024^2, 3-D 64^3 and 96^3, 4-D 16^4 and 24^4. Each figure is the best
of ``REPEATS`` runs (a single run when it takes over ``REPEAT_BELOW_S``) after a warm-up
call on a tiny array (so library loading is not counted; it is measured separately in a
fresh interpreter and printed below the table).
Both backends' diagrams are compared on every case (they must be identical).

The ``"auto"`` backend choice in ``bettibounds/empirical/persistence.py``
(``_AUTO_BY_NDIM``) is set from this table.

Measured 2026-11-22 on ``vm`` (x86_64, 2 logical CPUs, shared with other jobs, so
absolute seconds are noisy to ~30%; the ratios held over two runs), Python 3.11.7,
gudhi 3.13.0, cripser 0.0.37, numpy 2.4.6; best of 3 (one run over 1 s); all homology
dimensions; seconds, end to end. Whole run: 158 s.

| input | shape | vertices | bars | gudhi (s) | cripser (s) | faster | ratio |
|---|---|---:|---:|---:|---:|---|---:|
| random | 512^2 | 262,144 | 81,616 | 2.483 | 0.472 | cripser | 5.3x |
| random | 1024^2 | 1,048,576 | 325,466 | 13.745 | 2.482 | cripser | 5.5x |
| random | 64^3 | 262,144 | 94,689 | 6.129 | 3.009 | cripser | 2.0x |
| random | 96^3 | 884,736 | 321,787 | 25.795 | 12.490 | cripser | 2.1x |
| random | 16^4 | 65,536 | 29,890 | 3.077 | 2.222 | cripser | 1.4x |
| random | 24^4 | 331,776 | 155,685 | 20.154 | 24.946 | gudhi | 1.2x |
| smooth | 512^2 | 262,144 | 11 | 0.450 | 0.180 | cripser | 2.5x |
| smooth | 1024^2 | 1,048,576 | 11 | 2.879 | 0.696 | cripser | 4.1x |
| smooth | 64^3 | 262,144 | 25 | 1.949 | 0.420 | cripser | 4.6x |
| smooth | 96^3 | 884,736 | 18 | 10.185 | 1.428 | cripser | 7.1x |
| smooth | 16^4 | 65,536 | 104 | 1.184 | 0.088 | cripser | 13.5x |
| smooth | 24^4 | 331,776 | 33 | 7.771 | 1.128 | cripser | 6.9x |

Loading cost (fresh interpreter, first call on a 2x2 array): gudhi 0.07 s, cripser
0.03 s (cripser's compiled module is loaded without the package ``__init__``, which
imports torch: 2.5 to 6 s).

Reading: cripser is faster everywhere except i.i.d.-noise 4-D arrays at 24^4, where
about half the vertices create a bar (gudhi 1.2x to 1.7x faster over two runs; a
smooth 24^4 array plus 10% noise was still 3x faster with cripser). Sampled loss
landscapes are smooth, so ``auto`` uses cripser for 1-D to 4-D and gudhi above 4-D
(cripser's limit).

Usage: python benchmarks/bench_persistence.py [--quick]
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from functools import partial

REPEATS = 3
REPEAT_BELOW_S = 1.0  # keeps the whole run under ~3 minutes on 2 cores
CASES = [
    (2, 512), (2, 1024),
    (3, 64), (3, 96),
    (4, 16), (4, 24),
]
QUICK_CASES = [(2, 128), (3, 24), (4, 10)]


def _smooth(ndim: int, n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1.0, 1.0, n)] * ndim
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    out = np.zeros((n,) * ndim)
    for _ in range(12):
        centre = rng.uniform(-1, 1, ndim)
        width = rng.uniform(0.1, 0.4)
        sign = rng.choice([-1.0, 1.0])
        r2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
        out = out + sign * rng.uniform(0.5, 2.0) * np.exp(-r2 / (2 * width ** 2))
    return out


def _random(ndim: int, n: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).random((n,) * ndim)


def _best_seconds(fn, repeats: int) -> tuple[float, object]:
    """Best of ``repeats`` runs; a run over REPEAT_BELOW_S seconds is not repeated."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
        if best > REPEAT_BELOW_S:
            break
    return best, result


def _import_seconds(backend: str, repeats: int = 3) -> float:
    code = ("import time, numpy as np; from bettibounds.empirical.persistence import "
            "sublevel_persistence as s; t = time.perf_counter(); "
            f"s(np.zeros((2, 2)), backend={backend!r}); print(time.perf_counter() - t)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True, env=env).stdout) for _ in range(repeats))


def _versions() -> str:
    from importlib.metadata import version

    out = []
    for pkg in ("gudhi", "cripser", "numpy"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except Exception:  # pragma: no cover
            out.append(f"{pkg} ?")
    return ", ".join(out)


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bettibounds.empirical.persistence import sublevel_persistence

    args = sys.argv[1:] if argv is None else argv
    cases = QUICK_CASES if "--quick" in args else CASES
    for backend in ("gudhi", "cripser"):  # warm-up: load the libraries
        sublevel_persistence(np.zeros((3, 3)), backend=backend)

    machine = (f"{platform.node()} ({platform.machine()}, {os.cpu_count()} logical CPUs, "
               f"{platform.processor() or platform.system()}), Python {platform.python_version()}, "
               f"{_versions()}")
    print(f"Machine: {machine}  ")
    print(f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}  ")
    print(f"Best of {REPEATS} (one run when it takes over {REPEAT_BELOW_S:g} s); all homology "
          f"dimensions; seconds, end to end.\n")
    print("| input | shape | vertices | bars | gudhi (s) | cripser (s) | faster | ratio |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    start = time.perf_counter()
    for kind, make in (("random", _random), ("smooth", _smooth)):
        for ndim, n in cases:
            values = make(ndim, n, seed=ndim * 1000 + n)
            tg, dg = _best_seconds(partial(sublevel_persistence, values, backend="gudhi"), REPEATS)
            tc, dc = _best_seconds(partial(sublevel_persistence, values, backend="cripser"), REPEATS)
            for k in dg.dims:
                if not np.array_equal(dg.bars[k], dc.bars[k]):
                    raise SystemExit(f"backends disagree on H{k} for {kind} {values.shape}")
            bars = sum(len(dg.bars[k]) for k in dg.dims)
            faster = "gudhi" if tg < tc else "cripser"
            ratio = max(tg, tc) / min(tg, tc)
            print(f"| {kind} | {n}^{ndim} | {values.size:,} | {bars:,} | {tg:.3f} | {tc:.3f} "
                  f"| {faster} | {ratio:.1f}x |", flush=True)
    print(f"\nLoading cost (fresh interpreter, first call on a 2x2 array, min of 3): "
          f"gudhi {_import_seconds('gudhi'):.2f} s, cripser {_import_seconds('cripser'):.2f} s. "
          f"Total benchmark time {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
