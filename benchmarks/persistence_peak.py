"""Peak host memory of one sublevel-persistence call, measured in this (fresh) interpreter.

Usage: python benchmarks/persistence_peak.py BACKEND SHAPE KIND   (SHAPE like 7x7x7; KIND random or smooth)

Builds the values (KIND random: i.i.d. uniform, a bar for almost every vertex, the worst case; smooth: a
sum of Gaussian bumps, few bars, like a loss landscape), loads the backend on a tiny grid, resets the
peak resident set (VmHWM) to the current one, calls
``bettibounds.empirical.persistence.sublevel_persistence(values, backend=BACKEND)`` and prints one JSON
line: {"before": RSS before the call, "peak": VmHWM after it, "bars": number of bars}, in bytes. Linux
only (/proc/self). Run by benchmarks/bench_persistence_memory.py and tests/empirical/test_persistence_memory.py,
one interpreter per case so that one case's peak does not hide the next.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def values(shape: tuple[int, ...], kind: str) -> np.ndarray:
    """The grid values of one case (seed 0)."""
    rng = np.random.default_rng(0)
    if kind == "random":
        return rng.uniform(size=shape)
    axes = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij", sparse=True)
    out = np.zeros(shape)
    for _ in range(8):
        c, w, s = rng.uniform(-1, 1, len(shape)), rng.uniform(0.2, 0.6), rng.choice([-1.0, 1.0])
        out = out + s * np.exp(-sum((a - ci) ** 2 for a, ci in zip(axes, c)) / w**2)
    return out


def status(key: str) -> int:
    """A /proc/self/status memory figure (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key + ":"))


def main(backend: str, shape_text: str, kind: str) -> None:
    from bettibounds.empirical.persistence import sublevel_persistence

    shape = tuple(int(s) for s in shape_text.split("x"))
    v = values(shape, kind)
    sublevel_persistence(np.zeros((2,) * len(shape)), backend=backend)  # the library's own footprint first
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak (VmHWM) to the current resident set: import-time peaks do not count
    before = status("VmRSS")
    d = sublevel_persistence(v, backend=backend)
    print(json.dumps({"before": before, "peak": status("VmHWM"), "bars": int(sum(len(d.bars[k]) for k in d.dims))}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
