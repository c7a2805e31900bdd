"""PfaffianFormat: an immutable, validated (r, alpha, beta) value."""

from __future__ import annotations

import dataclasses

import pytest

from bettibounds import InvalidSpecError, PfaffianFormat


def test_fields_and_aliases():
    f = PfaffianFormat(1, 2, 4)
    assert (f.order, f.r, f.alpha, f.beta) == (1, 1, 2, 4)
    assert f.as_tuple() == (1, 2, 4)
    assert f.to_dict() == {"order": 1, "alpha": 2, "beta": 4}
    assert str(f) == "(r=1, alpha=2, beta=4)"


def test_zero_format_is_valid():
    # a constant polynomial: r = alpha = beta = 0 is a legal (if degenerate) format
    assert PfaffianFormat(0, 0, 0).as_tuple() == (0, 0, 0)


def test_value_semantics():
    assert PfaffianFormat(3, 5, 2) == PfaffianFormat(order=3, alpha=5, beta=2)
    assert PfaffianFormat(3, 5, 2) != PfaffianFormat(3, 2, 5)
    assert len({PfaffianFormat(1, 2, 4), PfaffianFormat(1, 2, 4), PfaffianFormat(1, 2, 3)}) == 2


def test_frozen():
    f = PfaffianFormat(1, 2, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.order = 2  # type: ignore[misc]
    assert f.order == 1


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize(
    "bad",
    [-1, -100, True, False, 1.0, 2.5, float("nan"), "1", None],
    ids=["neg1", "neg100", "True", "False", "float1", "float2.5", "nan", "str", "None"],
)
def test_rejects_non_counts(position, bad):
    args = [1, 2, 4]
    args[position] = bad
    with pytest.raises(InvalidSpecError) as info:
        PfaffianFormat(*args)
    assert isinstance(info.value, ValueError)
    name = ("order", "alpha", "beta")[position]
    assert name in str(info.value)  # the message names the offending field


def test_with_beta_at_least():
    # lambda*||theta||^2 is a degree-2 polynomial: beta -> max(beta, 2)
    assert PfaffianFormat(5, 3, 1).with_beta_at_least(2) == PfaffianFormat(5, 3, 2)
    assert PfaffianFormat(5, 3, 4).with_beta_at_least(2) == PfaffianFormat(5, 3, 4)
    assert PfaffianFormat(5, 3, 2).with_beta_at_least(2) == PfaffianFormat(5, 3, 2)
