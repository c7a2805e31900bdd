"""The public strategies generate valid objects, and a property suite uses them (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bettibounds import bounds, get_theorem
from bettibounds.empirical.experiment import parse_experiment
from bettibounds.strategies import architectures, datasets, experiments, formats


@given(architectures())
def test_architectures_are_valid_and_bounded(spec):
    r = bounds(spec)
    assert r.format.order >= 0 and all(b.log2 is not None for b in r.upper)


@given(formats(), st.integers(1, 50))
def test_formats_give_positive_bounds(fmt, n):
    ev = get_theorem("K").evaluate(n=n, r=fmt.order, alpha=fmt.alpha, beta=fmt.beta)
    assert ev.exact is None or ev.exact >= 1


@given(architectures(max_samples=2).flatmap(lambda s: st.tuples(st.just(s), datasets(s))))
def test_datasets_match_their_spec(pair):
    spec, (xs, ys) = pair
    assert len(xs) == len(ys) == spec.samples and all(len(r) == spec.inputs for r in xs)
    if spec.loss == "bce":
        assert all(0 <= v <= 1 for r in ys for v in r)


@settings(max_examples=8, deadline=None)
@given(experiments())
def test_measured_betti_numbers_never_exceed_the_rigorous_bound(obj):
    # the property the paper's theory promises: at stable, unclipped levels, sum b_k <= K
    pytest.importorskip("torch")
    pytest.importorskip("gudhi")
    from bettibounds.empirical.compare import analyze_landscape

    exp = parse_experiment(obj)
    res = analyze_landscape(exp, refine=2)
    assert res.violations == []
    for lv in res.levels:
        if lv["comparison"] is not None:
            assert lv["comparison"]["holds"]
    assert np.isfinite(res.sample.values).all()
