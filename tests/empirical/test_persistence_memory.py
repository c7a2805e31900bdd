"""Issue 18, item 11: the memory check's estimate against the peak RSS persistence really reaches.

Main assumed 264 B per grid point whatever the dimension; gudhi stores the whole cubical complex
(prod(2 n_i - 1) cells, about 2^k per vertex), so a 7-D box took ~3.3 kB per point and a grid that
passed the check died with std::bad_alloc.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gudhi")
pytest.importorskip("cripser")

from bettibounds.empirical.grid_memory import check_grid_fits, grid_host_bytes, persistence_bytes  # noqa: E402

#: the measuring child, shared with benchmarks/bench_persistence_memory.py: one fresh interpreter per case
_PEAK = Path(__file__).resolve().parents[2] / "benchmarks" / "persistence_peak.py"

CASES = [("gudhi", "smooth", (7, 7, 7, 7, 7)), ("cripser", "random", (200, 200))]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_the_estimate_covers_the_measured_peak_of_each_backend():
    procs = [subprocess.Popen([sys.executable, str(_PEAK), b, "x".join(map(str, shape)), kind],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for b, kind, shape in CASES]
    for (backend, kind, shape), p in zip(CASES, procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        r = json.loads(out.strip().splitlines()[-1])
        used = r["peak"] - r["before"]
        assert used > 0
        est = persistence_bytes(shape, backend)
        assert used <= est <= 4 * used, (backend, shape, used, est)  # above the truth, not absurdly so
        assert used <= grid_host_bytes(shape)  # what check_grid_fits compares with the available memory


def test_gudhi_counts_cells_and_high_dimensions_are_refused(monkeypatch):
    import bettibounds.empirical.grid_memory as mem
    from bettibounds import InvalidSpecError

    assert persistence_bytes([9] * 7, "gudhi") == 17**7 * mem.GUDHI_BYTES_PER_CELL  # every cell of the complex
    assert persistence_bytes([5, 1, 5], "gudhi") == persistence_bytes([5, 5], "gudhi")  # length-1 axes dropped
    # the reviewer's 9^7 box: ~3.3 kB per point measured, far above the old flat 264 B
    assert grid_host_bytes([9] * 7) / math.prod([9] * 7) > 3300
    import bettibounds._lib.memory as host

    monkeypatch.setattr(host, "available_bytes", lambda: 24 * 2**30)
    with pytest.raises(InvalidSpecError, match="GiB"):
        check_grid_fits([9] * 7)
