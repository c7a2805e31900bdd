"""Session fixtures of the empirical tests (tests/conftest.py says how they meet pytest-xdist)."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="session")
def quick_trend_rows():
    """``barcode_trend(True, widths=(2, 3), depths=(1,), keep_barcodes=True)``, computed once: the trend
    test of test_barcode.py reads it and the Dask trend test of test_barcode_cli.py compares its Dask
    run with it (one run where both files run in one process; under ``--dist loadfile`` they may not)."""
    pytest.importorskip("torch")
    pytest.importorskip("gudhi")
    from bettibounds.barcode.sampling import BarcodeWarning
    from bettibounds.barcode.trend import barcode_trend

    # the quick trend samples a few hundred points in P = 9 and 13 dimensions, which the method says (the
    # warning is asserted); its refinement also says how poor the k-NN graph's death levels are on these
    # samples, which depends on the sample and is not the subject of the tests: let through here only
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r".*(had graph estimates|refined to no barrier)", BarcodeWarning)
        with pytest.warns(BarcodeWarning, match=r"fewer than 2\^P"):
            return barcode_trend(True, widths=(2, 3), depths=(1,), keep_barcodes=True)
