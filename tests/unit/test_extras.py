"""Optional extras: one require() and one wording of the install hint (issue 19 item 8)."""

from __future__ import annotations

import pytest

from bettibounds._lib.extras import EXTRAS, install_hint, missing_extra, require
from bettibounds.errors import BettiBoundsError, InvalidSpecError, MissingExtraError


def test_a_missing_module_raises_a_teaching_import_error():
    with pytest.raises(MissingExtraError) as info:
        require("approx", "no_such_module_for_bettibounds", "the approximate index")
    exc = info.value
    assert isinstance(exc, ImportError) and isinstance(exc, InvalidSpecError) and isinstance(exc, BettiBoundsError)
    assert exc.extra == "approx" and exc.name == "no_such_module_for_bettibounds"
    assert str(exc) == ("the [approx] extra is needed for the approximate index (no_such_module_for_bettibounds is "
                        "missing): pip install -e '.[approx]'")


def test_install_hints_are_one_wording_and_empirical_installs_the_cpu_torch_first():
    assert install_hint("empirical") == "pip install torch==2.13.0 && pip install -e '.[empirical]'"
    assert all(install_hint(e) == f"pip install -e '.[{e}]'" for e in EXTRAS if e != "empirical")
    with pytest.raises(ValueError):
        install_hint("nope")


def test_every_extra_of_pyproject_is_known():
    import pathlib

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    extras = tomllib.loads((pathlib.Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(extras) - {"all"} == set(EXTRAS)


def test_missing_extra_keeps_an_existing_missing_extra_error():
    inner = MissingExtraError("x", extra="fast", name="numba")
    assert missing_extra("empirical", inner) is inner
    out = missing_extra("empirical", ModuleNotFoundError("No module named 'gudhi'", name="gudhi"), "persistence")
    assert out.extra == "empirical" and "gudhi is missing" in str(out)
