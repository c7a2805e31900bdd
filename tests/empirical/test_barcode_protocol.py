"""The authors' barcode protocol (issue 22) and the H0 backends' agreement (issue 18, item 8).

Oracles: brute-force connected components for cluster sizes; gudhi against the union-find sweep;
the three-hump camel function's known minima and saddle; the symmetry group's own action
(``bettibounds.certified.witness.group_orbit``, written independently of the quotient) for the
canonical form.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytest.importorskip("gudhi")
pytest.importorskip("scipy")

from bettibounds.barcode import barcode_of_points, lower_star_h0, union_find_h0  # noqa: E402
from bettibounds.errors import InvalidSpecError  # noqa: E402

# ------------------------------------------------------------------ random graphs with ties


def _graphs():
    """Values on few levels (many ties), edges with duplicates, both orientations and self-loops."""
    return st.integers(1, 30).flatmap(lambda n: st.tuples(
        st.lists(st.integers(0, 4).map(float), min_size=n, max_size=n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n)))


def _components(n, pairs, allowed=None):
    """Connected components (lists of vertices) of the graph on ``allowed`` (default: all)."""
    allowed = set(range(n)) if allowed is None else set(allowed)
    adj = {v: set() for v in allowed}
    for i, j in pairs:
        if i in allowed and j in allowed and i != j:
            adj[i].add(j)
            adj[j].add(i)
    seen, comps = set(), []
    for v in sorted(allowed):
        if v in seen:
            continue
        stack, comp = [v], []
        seen.add(v)
        while stack:
            u = stack.pop()
            comp.append(u)
            for w in adj[u] - seen:
                seen.add(w)
                stack.append(w)
        comps.append(comp)
    return comps


@settings(deadline=None, max_examples=150)
@given(_graphs())
@example(([1.0, 2.0, 3.0], [(0, 0), (1, 1)]))  # self-loops only: gudhi returned no bar (issue 18, item 8)
@example(([2.0, 2.0], [(1, 1)]))
@example(([0.0, 1.0, 0.0], [(0, 1), (1, 0), (1, 2), (2, 1), (1, 2)]))
def test_gudhi_and_union_find_agree_on_every_graph(case):
    values, pairs = case
    n = len(values)
    edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    g = lower_star_h0(values, edges, backend="gudhi")
    u = lower_star_h0(values, edges, backend="union-find")
    assert sorted(map(tuple, g[:, :2].tolist())) == sorted(map(tuple, u[:, :2].tolist()))
    # one essential bar per connected component, born at the component's minimum
    comps = _components(n, pairs)
    for rows in (g, u):
        ess = sorted(rows[np.isinf(rows[:, 1]), 0].tolist())
        assert ess == sorted(min(values[v] for v in c) for c in comps)


@settings(deadline=None, max_examples=150)
@given(_graphs())
@example(([1.0, 0.0, 1.0, 3.0, 1.0, 0.5, 1.0, 0.7], [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (3, 7)]))
def test_cluster_sizes_match_a_brute_force_count(case):
    """A bar born at b and dying at v: its cluster is the component of b among the vertices that
    entered before v (order (value, index)); an essential bar's: its connected component."""
    values, pairs = case
    n = len(values)
    f = np.asarray(values)
    rank = np.empty(n, dtype=int)
    rank[np.lexsort((np.arange(n), f))] = np.arange(n)
    rows = union_find_h0(values, np.array(pairs, dtype=np.int64).reshape(-1, 2), sizes=True)
    comps = _components(n, pairs)
    for b, d, bi, di, partner, size in rows:
        bi = int(bi)
        if math.isinf(d):
            assert size == len(next(c for c in comps if bi in c))
            continue
        before = [w for w in range(n) if rank[w] < rank[int(di)]]
        mine = next(c for c in _components(n, pairs, before) if bi in c)
        assert size == len(mine)
        assert f[int(partner)] <= b and int(partner) not in mine  # it merges into another, older cluster
        assert min(f[w] for w in mine) == b and f[int(di)] == d


def test_barcode_of_points_sizes_and_filter():
    # two wells on a line: the shallow one's cluster has 3 samples when it dies at the ridge (value 3)
    bc = barcode_of_points([[0], [1], [2], [3], [4], [5], [6]], [1, 0, 1, 3, 1, 0.5, 1], k=2)
    assert [(b.birth, b.death, b.cluster_size) for b in bc.bars] == [(0.0, math.inf, 7), (0.5, 3.0, 3)]
    assert bc.to_score() == 2.5 and bc.to_score(min_cluster=3) == 2.5 and bc.to_score(min_cluster=4) == 0.0
    d = bc.to_dict(min_cluster=4)["to_score"]
    assert d["value"] == 2.5 and d["filtered"] == {"min_cluster": 4, "value": 0.0, "n_segments": 0,
                                                   "definition": d["filtered"]["definition"]}
    # the edge-length cutoff: with radius 1.5 the k = 2 edges of length 2 go, the graph stays a path
    cut = barcode_of_points([[0], [1], [2], [3], [4], [5], [6]], [1, 0, 1, 3, 1, 0.5, 1], k=2, radius=1.5)
    assert cut.meta["n_edges"] == 6 and bc.meta["n_edges"] == 8
    # a cutoff that cuts everything: every sample is its own component
    from bettibounds.barcode.sampling import BarcodeWarning

    with pytest.warns(BarcodeWarning, match="3 connected components"):
        iso = barcode_of_points([[0], [10], [20]], [0, 1, 2], k=1, radius=5.0)
    assert [(b.birth, b.death, b.cluster_size) for b in iso.bars] == [(0, math.inf, 1), (1, math.inf, 1),
                                                                      (2, math.inf, 1)]
    with pytest.raises(InvalidSpecError, match="min_cluster"):
        bc.to_score(min_cluster=0)


def test_min_cluster_needs_cluster_sizes():
    from bettibounds.barcode import grid_barcode

    with pytest.raises(InvalidSpecError, match="cluster sizes"):
        grid_barcode(np.array([3.0, 1.0, 2.0, 0.0, 4.0])).to_score(min_cluster=2)


# ------------------------------------------------------------------ the camel function


def _camel(x, y):
    return (2 - 1.05 * x**2 + x**4 / 6) * x**2 + x * y + y**2


CAMEL_MIN, CAMEL_SADDLE = 0.2986384, 0.8773616  # the two side minima and their saddle (6 digits)


def test_camel_grid_and_filtered_sample_barcodes():
    from bettibounds.barcode import grid_barcode

    ax = np.linspace(-2, 2, 401)
    X, Y = np.meshgrid(ax, ax, indexing="ij")
    grid = grid_barcode(_camel(X, Y), max_dim=0, axes=[ax, ax])
    # the grid is symmetric like the function ((x, y) -> (-x, -y)): rounding makes twin vertices near
    # the global minimum, which leaves segments of length ~1e-16 (the authors' grid shows one too)
    finite = sorted((b.birth, b.death) for b in grid.of_dim(0) if not b.essential and b.length > 1e-9)
    assert len(finite) == 2
    for b, d in finite:  # spacing h = 0.01: a vertex within h/2 of each critical point, error O(h^2)
        assert b == pytest.approx(CAMEL_MIN, abs=1e-4) and d == pytest.approx(CAMEL_SADDLE, abs=1e-4)
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 2, size=(100_000, 2))
    bc = barcode_of_points(pts, _camel(pts[:, 0], pts[:, 1]), k=8, min_cluster=20)
    kept = sorted((b.birth, b.death) for b in bc.of_dim(0) if not b.essential and b.cluster_size >= 20)
    assert len(kept) == 2
    for b, d in kept:
        assert b == pytest.approx(CAMEL_MIN, abs=1e-3) and d == pytest.approx(CAMEL_SADDLE, abs=1e-3)
    true_score = 2 * (CAMEL_SADDLE - CAMEL_MIN)
    assert bc.to_score(min_cluster=20) == pytest.approx(true_score, abs=1e-3)
    assert bc.to_score() > true_score + 0.5  # the raw score is dominated by sampling noise
    assert bc.meta["knn_backend"] == "kdtree" and bc.meta["knn_exact"] is True


# ------------------------------------------------------------------ the quotient by the symmetry group

QUOTIENT_CASES = [
    {"widths": (2, 3), "activation": "tanh"},
    {"widths": (3,), "activation": "sigmoid"},  # flips with bias compensation in the output bias
    {"widths": (2, 2), "activation": "sigmoid"},  # ... and in a hidden layer's bias
    {"widths": (2, 2, 2), "activation": "tanh", "skip": "residual"},  # tied permutations and flips
    {"widths": (2, 2, 2), "activation": "sigmoid", "skip": "residual"},  # compensation through the chain
    {"widths": (2, 2), "activation": "gaussian", "skip": "residual"},  # even: flips per layer
    {"widths": (2, 3), "activation": "gaussian"},
    {"widths": (3, 2), "activation": "softplus"},  # permutations only
    {"widths": (2, 2), "activation": "tanh", "skip": "residual+input-output"},
    {"widths": (2, 3), "activation": "tanh", "bias": False},
    {"widths": (3,), "activation": "sigmoid", "l2": 0.1},  # the l2 penalty drops the logistic flips
]


@pytest.mark.parametrize("kw", QUOTIENT_CASES, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_every_image_of_a_point_has_one_canonical_form_in_its_orbit(kw):
    torch = pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode import canonical_form
    from bettibounds.certified.witness import group_orbit
    from bettibounds.empirical.kernels import LossKernel

    spec = ArchitectureSpec(inputs=2, samples=4, **kw)
    rng = np.random.default_rng(len(str(kw)))
    theta = rng.normal(size=spec.n_params)
    orbit = np.stack([theta] + [g for g, _, _ in group_orbit(spec, theta)])
    canon, info = canonical_form(spec, orbit)
    assert info.kind == "canonical" and info.group_order == len(orbit) and info.degenerate == 0
    assert np.abs(canon - canon[0]).max() <= 1e-12 * (1 + np.abs(theta).max())  # one representative
    assert np.linalg.norm(orbit - canon[0], axis=1).min() <= 1e-12 * (1 + np.abs(theta).max())  # in the orbit
    kern = LossKernel(spec, rng.normal(size=(4, 2)), rng.normal(size=(4, 1)))
    loss = kern.evaluate(torch.as_tensor(np.stack([theta, canon[0]]))).numpy()
    assert loss[1] == pytest.approx(loss[0], rel=1e-12, abs=1e-15)
    # a second, generic point has another representative (the map is not constant)
    other, _ = canonical_form(spec, rng.normal(size=spec.n_params))
    assert np.abs(other - canon[0]).max() > 1e-3


def test_quotient_none_and_refusals():
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode import canonical_form

    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=1)
    x = np.arange(spec.n_params, dtype=float)
    same, info = canonical_form(spec, x, quotient="none")
    assert np.array_equal(same, x) and info.kind == "none" and "raw" in info.to_dict()["description"]
    with pytest.raises(InvalidSpecError, match="P = 7 columns"):
        canonical_form(spec, np.zeros(6))
    with pytest.raises(InvalidSpecError, match="unknown quotient"):
        canonical_form(spec, x, quotient="orbit")
    linear = ArchitectureSpec(inputs=1, widths=(2,), activation="identity", samples=1)
    with pytest.raises(InvalidSpecError, match="no finite symmetry group"):
        canonical_form(linear, np.zeros(linear.n_params))
    # a dead unit (zero incoming row) is off the generic set, and counted
    dead = np.array([0.0, 1.0, 0.0, 0.5, 1.0, 1.0, 0.0])
    assert canonical_form(spec, dead)[1].degenerate == 1


# ------------------------------------------------------------------ verdict rules on synthetic tables


def _rows(score, ci_half=0.05, datasets=("digits",), archs=((16, 1), (64, 1), (16, 2), (64, 2)), converged=None,
          seeds=5):
    return [{"dataset": ds, "width": h, "depth": L, "to_score_mean": score(h, L), "seeds": seeds,
             "to_score_ci95": [score(h, L) - ci_half, score(h, L) + ci_half],
             "paths_converged_fraction": 1.0 if converged is None else converged(h, L)}
            for ds in datasets for h, L in archs]


def test_trend_verdict_on_synthetic_tables():
    from bettibounds.barcode.realdata import trend_verdict

    down = trend_verdict(_rows(lambda h, L: 4.0 / h + 1.0 / L))
    assert down["verdict"] == "reproduced" and down["directions"] == {"width": "decreases", "depth": "decreases"}
    assert [c["result"] for c in down["comparisons"]["width"]] == ["decrease", "decrease"]
    up = trend_verdict(_rows(lambda h, L: h / 16 + L))
    assert up["verdict"] == "not reproduced" and up["directions"] == {"width": "increases", "depth": "increases"}
    # overlapping confidence intervals: the same trend, but too noisy to tell
    noisy = trend_verdict(_rows(lambda h, L: 4.0 / h + 1.0 / L, ci_half=5.0))
    assert noisy["verdict"] == "inconclusive" and noisy["directions"] == {"width": "unclear", "depth": "unclear"}
    # decreasing with width, increasing with depth: not the published claim
    mixed = trend_verdict(_rows(lambda h, L: 4.0 / h + L))
    assert mixed["verdict"] == "not reproduced" and mixed["directions"]["depth"] == "increases"
    # one width comparison up, one down: mixed
    zig = trend_verdict(_rows(lambda h, L: (4.0 / h if L == 1 else h / 16) + 1.0 / L))
    assert zig["directions"]["width"] == "mixed" and zig["verdict"] == "not reproduced"
    # no depth comparison at all: never "reproduced"
    flat = trend_verdict(_rows(lambda h, L: 4.0 / h, archs=((16, 1), (64, 1))))
    assert flat["verdict"] == "inconclusive" and flat["comparisons"]["depth"] == []


def test_trend_verdict_compares_only_converged_architectures():
    from bettibounds.barcode.realdata import trend_verdict

    # the same clear decrease, but the widest depth-2 network's paths mostly did not converge
    part = trend_verdict(_rows(lambda h, L: 4.0 / h + 1.0 / L, converged=lambda h, L: 0.5 if (h, L) == (64, 2) else 1))
    results = {(c["dataset"], c.get("depth"), c.get("width")): c["result"] for d in ("width", "depth")
               for c in part["comparisons"][d]}
    assert results[("digits", 2, None)] == "unconverged" and results[("digits", None, 64)] == "unconverged"
    assert results[("digits", 1, None)] == "decrease" and part["unconverged_comparisons"] == 2
    # one decrease of two per direction is still half, and nothing increased: the rule still reads "decreases"
    assert part["verdict"] == "reproduced"
    # nothing converged: nothing is compared, whatever the numbers say
    none = trend_verdict(_rows(lambda h, L: h / 16 + L, converged=lambda h, L: 0.0))
    assert none["verdict"] == "inconclusive" and none["unconverged_comparisons"] == 4
    # rows without a convergence record (an older table) are not compared either
    bare = [{k: v for k, v in r.items() if k != "paths_converged_fraction"} for r in _rows(lambda h, L: 4.0 / h)]
    assert trend_verdict(bare)["verdict"] == "inconclusive"


def test_the_trend_verdict_needs_three_seeds_and_tables_say_what_the_interval_is():
    from bettibounds.barcode.realdata import MIN_SEEDS, TREND_CONFIGS, format_mean_ci, trend_verdict, unmeasurable

    assert MIN_SEEDS == 3
    # the clearest decrease, but two seeds per row: nothing is compared, and the verdict says it cannot tell
    two = trend_verdict(_rows(lambda h, L: 4.0 / h + 1.0 / L, seeds=2))
    assert two["verdict"] == "inconclusive" and two["measurable"] is False and two["too_few_seeds_comparisons"] == 4
    assert {c["result"] for d in ("width", "depth") for c in two["comparisons"][d]} == {"too few seeds"}
    three = trend_verdict(_rows(lambda h, L: 4.0 / h + 1.0 / L, seeds=3))
    assert three["verdict"] == "reproduced" and three["measurable"] is True and three["too_few_seeds_comparisons"] == 0
    assert "at least 3 seeds" in three["rule"]
    # a table never shows a negative lower end for a score >= 0 without saying it is the t-interval
    assert format_mean_ci(0.5, [0.4, 0.6], 5) == "0.5 [0.4, 0.6]"
    neg = format_mean_ci(0.000821, [-0.000799, 0.00244], 5)
    assert "Student-t" in neg and "below 0" in neg
    assert format_mean_ci(0.1, [-3.0, 3.2], 2) == "0.1 (n = 2: no interval, the verdict needs >= 3 seeds)"
    # what each configuration can measure: the smoke scale's (tiny) can measure neither observation
    tiny = unmeasurable(TREND_CONFIGS["tiny"])
    assert "2 seeds" in tiny["trend"] and "at most 2 finite segments" in tiny["generalisation"]
    assert unmeasurable(TREND_CONFIGS["quick"]) == {"trend": None, "generalisation": None}
    assert unmeasurable(TREND_CONFIGS["full"]) == {"trend": None, "generalisation": None}


def test_sweep_jobs_memory_estimate_covers_the_measured_peaks_and_caps_the_processes():
    """The full sweep's largest jobs peaked at 4.44-4.85 GB (digits 256 x 4, up to 63 images), 1.64-1.80 GB
    (256 x 2) and 0.7 GB (256 x 4 at 8 fixed images) (docs/benchmarks.md): the estimate is above each, and the
    processes run side by side are as many as the memory holds."""
    from bettibounds.barcode.realdata import TREND_CONFIGS
    from bettibounds.barcode.sweep_jobs import job_peak_bytes, job_size, processes_within_memory

    full = TREND_CONFIGS["full"]
    assert full["max_images"] == 63 and full["images"] == 3  # the full report's paths are adaptive
    assert job_size(("digits", 256, 4, 0)) == 216_586 and job_size(("breast_cancer", 16, 1, 0)) == 513
    assert job_peak_bytes(("digits", 256, 4, 0), full) >= 4.85e9
    assert job_peak_bytes(("digits", 256, 2, 0), full) >= 1.80e9
    assert job_peak_bytes(("digits", 256, 4, 0), {**full, "images": 8, "max_images": None}) >= 0.7e9
    items = [("digits", 256, 4, s) for s in range(5)] + [("breast_cancer", 16, 1, 0)]
    peak = job_peak_bytes(items[0], full)
    assert processes_within_memory(4, items, full, available=4 * peak + 1) == (4, None)
    n, why = processes_within_memory(4, items, full, available=int(2.5 * peak))
    assert n == 2 and "2 worker process(es) instead of 4" in why and "GiB" in why
    assert processes_within_memory(4, items, full, available=peak // 2)[0] == 1  # one at least, as in-process
    assert processes_within_memory(4, [], full, available=0) == (4, None)


def test_generalisation_verdict_and_confidence_intervals():
    from bettibounds.barcode.realdata import generalisation_verdict, mean_ci95

    m, ci = mean_ci95([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.302653
    assert m == 2.0 and ci == pytest.approx([2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)], abs=1e-6)
    assert mean_ci95([5.0]) == (5.0, [5.0, 5.0])

    def runs(sign, n=4):
        return [{"segments": [{"segment": s, "test_error": 0.1 + sign * 0.01 * s + 0.001 * r} for s in (1, 2, 3, 4)]}
                for r in range(n)]

    assert generalisation_verdict(runs(+1))["verdict"] == "reproduced"
    assert generalisation_verdict(runs(-1))["verdict"] == "not reproduced"
    assert generalisation_verdict(runs(+1, n=2))["verdict"] == "inconclusive"  # fewer than 3 runs qualify
    mixed = runs(+1, 2) + runs(-1, 2)
    assert generalisation_verdict(mixed)["verdict"] == "inconclusive"


# ------------------------------------------------------------------ the minima-graph protocol


def test_graph_reading_is_the_minimax_and_can_be_below_the_direct_one():
    from bettibounds.barcode.minima import graph_h0

    inf = math.inf
    # B (loss 1) is joined to the lower A only over a high pass (5); through the higher C it needs 3
    levels = np.array([[inf, 5.0, 3.0], [5.0, inf, 2.5], [3.0, 2.5, inf]])
    bars, direct = graph_h0([0.0, 1.0, 2.0], levels)
    assert [(v, d) for v, d, _ in bars] == [(0, inf), (1, 3.0), (2, 2.5)]
    assert direct.tolist() == [inf, 5.0, 2.5]


def test_minima_graph_on_the_camel_function():
    from bettibounds.barcode.evaluate import FunctionEvaluator
    from bettibounds.barcode.minima import descend, minima_graph_barcode

    def grad(X):
        x, y = X[:, 0], X[:, 1]
        return np.stack([4 * x - 4.2 * x**3 + x**5 + y, x + 2 * y], 1)

    ev = FunctionEvaluator(2, lambda X: _camel(X[:, 0], X[:, 1]), grad)
    starts = np.array([[1.5, -1.0], [1.9, -0.5], [-1.6, 1.0], [0.3, 0.2], [-0.2, -0.4]])
    minima, _ = descend(ev, starts, steps=1500, lr=0.02)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mg = minima_graph_barcode(ev, minima, identify_tol=1e-4, images=10, iterations=40)
    # a BarcodeWarning exactly when a segment is read from a path that did not converge (40 iterations leave one)
    unconverged = [v for v, ok in mg.meta["convergence"]["death_path_converged"].items() if not ok]
    assert [type(w.message).__name__ for w in caught] == (["BarcodeWarning"] if unconverged else [])
    assert sorted(len(g) for g in mg.identified) == [2, 2] and len(mg.values) == 3  # five runs, three minima
    assert sorted(mg.values.tolist()) == pytest.approx([0.0, CAMEL_MIN, CAMEL_MIN], abs=1e-6)
    finite = sorted(d for d in mg.graph_deaths if math.isfinite(d))
    # the relaxed path crosses the saddle: its top is the saddle's level, up to the dense sampling
    assert finite == pytest.approx([CAMEL_SADDLE, CAMEL_SADDLE], abs=1e-4)
    assert mg.to_score() == pytest.approx(2 * (CAMEL_SADDLE - CAMEL_MIN), abs=2e-4)
    assert (mg.straight[np.isfinite(mg.straight)] >= CAMEL_SADDLE - 1e-4).all()  # the straight paths cross it too
    d = mg.to_dict()
    assert d["n_minima"] == 3 and d["barcode"]["source"] == "minima-graph"


def test_minima_graph_quotient_identifies_the_images_of_a_minimum():
    pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode.minima import descend, minima_graph_barcode
    from bettibounds.certified.witness import group_orbit
    from bettibounds.empirical.kernels import LossKernel

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (6, 1))
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=6)
    kern = LossKernel(spec, x, np.sin(2 * x))
    theta, _ = descend(kern, rng.normal(size=(1, spec.n_params)), steps=300, lr=0.05)
    images = np.stack([theta[0]] + [g for g, _, _ in group_orbit(spec, theta[0])])  # |G| = 8 images
    from bettibounds.barcode.sampling import BarcodeWarning

    with pytest.warns(BarcodeWarning, match="did not converge"):  # straight lines (no iterations) never converge
        raw = minima_graph_barcode(kern, images, spec=spec, quotient="none", images=4, iterations=0)
    quot = minima_graph_barcode(kern, images, spec=spec, quotient="canonical", images=4, iterations=0)
    assert raw.values.shape[0] == 8 and quot.values.shape[0] == 1 and quot.identified == [list(range(8))]
    assert raw.to_score() > 0 and quot.to_score() == 0.0  # the raw graph counts the images as minima
    assert quot.meta["quotient"]["kind"] == "canonical" and quot.meta["quotient"]["group_order"] == 8


# ------------------------------------------------------------------ sample mode: protocol and warnings


def test_sample_mode_preset_quotient_and_warnings():
    torch = pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode import canonical_form, sample_barcode
    from bettibounds.barcode.sampling import BarcodeWarning
    from bettibounds.empirical.kernels import LossKernel

    del torch
    x = np.linspace(-1, 1, 5)[:, None]
    spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=5)
    kern = LossKernel(spec, x, np.tanh(x))
    with pytest.warns(BarcodeWarning, match="fewer than 2\\^P"):
        bc = sample_barcode(kern, -2, 2, uniform=100, starts=2, steps=5, preset="barannikov", quotient="canonical")
    m = bc.meta
    assert m["k"] == 4 * spec.n_params == 28 and m["radius_rule"].startswith("2 x mean") and m["min_cluster"] == 20
    assert m["quotient"]["kind"] == "canonical" and any("2^P" in w for w in m["warnings"])
    assert np.allclose(canonical_form(spec, bc.samples.points)[0], bc.samples.points)  # samples are canonical
    d = bc.to_dict()["to_score"]
    assert d["value"] >= d["filtered"]["value"] and d["filtered"]["min_cluster"] == 20  # side by side
    assert all(b.cluster_size is not None for b in bc.bars)
    # explicit options win over the preset; enough samples for P = 2 -> no sparsity warning
    f = ArchitectureSpec(inputs=1, widths=(1,), activation="tanh", samples=5, bias=False)
    k2 = LossKernel(f, x, np.tanh(x))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BarcodeWarning)
        small = sample_barcode(k2, -2, 2, uniform=200, starts=0, preset="barannikov", k=5, min_cluster=3)
    assert small.meta["k"] == 5 and small.meta["min_cluster"] == 3
    assert not any("2^P" in str(w.message) for w in caught)  # enough samples: no sparsity warning
    # the preset's edge cutoff (2 x the mean k-NN distance) splits this graph, which is said since trial 8
    assert [w for w in small.meta["warnings"] if "connected components" not in w] == []


def test_threshold_region_keeps_only_low_samples():
    pytest.importorskip("torch")
    from bettibounds import ArchitectureSpec
    from bettibounds.barcode import sample_barcode
    from bettibounds.empirical.kernels import LossKernel

    x = np.linspace(-1, 1, 5)[:, None]
    spec = ArchitectureSpec(inputs=1, widths=(1,), activation="tanh", samples=5, bias=False)
    kern = LossKernel(spec, x, np.tanh(x))
    from bettibounds.barcode.sampling import BarcodeWarning

    with pytest.warns(BarcodeWarning, match="unless the threshold region itself is split"):  # {loss < 0.2} is split
        bc = sample_barcode(kern, -3, 3, uniform=300, starts=0, k=4, region="threshold", threshold=0.2)
    s = bc.samples
    assert (s.values[s.origin == 2] < 0.2).all() and (s.origin == 2).sum() == 300
    assert bc.meta["region"]["kind"] == "threshold" and 0 < bc.meta["region"]["acceptance"] < 1
    with pytest.raises(InvalidSpecError, match="threshold"):
        sample_barcode(kern, -3, 3, uniform=10, starts=0, k=4, region="threshold")
    with pytest.warns(UserWarning, match="only 0 of 10 samples"), pytest.raises(InvalidSpecError, match="no samples"):
        sample_barcode(kern, -3, 3, uniform=10, starts=0, k=4, region="threshold", threshold=-1.0, max_draws=50)
    # the hull region: convex combinations of descent minima, enlarged 1.5 x about their centroid
    hull = sample_barcode(kern, -3, 3, uniform=50, starts=0, k=4, region="hull", hull_descents=3, steps=20)
    assert (hull.samples.origin == 2).sum() == 50 and hull.meta["region"]["kind"] == "hull"


def test_far_above_warning_rule():
    from bettibounds.barcode.refine import far_above_warning

    assert far_above_warning([{"birth": 0.0, "graph_estimate": 2.0, "refined_level": 1.0}]) is None
    w = far_above_warning([{"birth": 0.0, "graph_estimate": 4.0, "refined_level": 1.0},
                           {"birth": 0.0, "graph_estimate": 1.0, "refined_level": 0.0}])
    assert "1 had graph estimates more than 3 x" in w and "(up to 4 x)" in w and "1 refined to no barrier" in w


def test_bundled_data_equal_scikit_learn_loaders():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from bettibounds.barcode.realdata import bundled_data, load_dataset

    for name, loader in (("digits", sklearn_datasets.load_digits),
                         ("breast_cancer", sklearn_datasets.load_breast_cancer)):
        x, y = bundled_data(name)
        ref = loader()
        assert np.array_equal(x, ref.data) and np.array_equal(y, ref.target)
    x, y, xt, _, info = load_dataset("breast_cancer", n_train=100, seed=1)
    assert x.shape == (100, 30) and xt.shape == (469, 30) and y.shape == (100, 1)
    assert np.allclose(x.mean(0), 0, atol=1e-12) and info["n_test"] == 469


# ------------------------------------------------------------------ the command line


def _cli(*argv):
    import contextlib
    import io

    from bettibounds.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_preset_prints_raw_and_filtered_scores_and_the_protocol():
    pytest.importorskip("torch")
    from pathlib import Path

    teacher = Path(__file__).resolve().parents[2] / "examples" / "teacher_tanh.json"
    code, out, err = _cli("barcode", str(teacher), "--minima", "2", "--uniform", "80", "--steps", "5",
                          "--preset", "barannikov", "--quotient", "canonical", "--min-cluster", "3")
    assert code == 0, err
    assert "protocol: k = 28 (4P); edge cutoff" in out and "quotient canonical (|G| = 8)" in out
    assert "filtered TO-score (clusters >= 3 samples)" in out and "TO-score [reconstructed]" in out
    assert "warning: sample mode: " in out and "BarcodeWarning" not in err  # printed once, as a line
    code, out, err = _cli("barcode", str(teacher), "--minima", "1", "--uniform", "30", "--steps", "2", "--k", "4P",
                          "--radius", "0.5", "--json")
    d = json.loads(out)
    assert code == 0 and d["meta"]["k"] == 28 and d["meta"]["radius"] == 0.5 and "filtered" not in d["to_score"]
    for argv, words in ((["--k", "four"], "--k takes a positive integer or 4P"),
                        (["--radius", "wide"], "--radius takes a positive finite number or auto"),
                        (["--region", "threshold"], "needs a finite threshold")):
        code, out, err = _cli("barcode", str(teacher), "--minima", "1", "--uniform", "10", "--steps", "1", *argv)
        assert code == 2 and words in err and err.count("\n") == 1 and out == ""


def test_cli_grid_mode_refuses_the_protocol_options():
    from pathlib import Path

    slice_exp = Path(__file__).resolve().parents[2] / "examples" / "slice_2d.json"
    code, _, err = _cli("barcode", str(slice_exp), "--min-cluster", "5", "--quotient", "canonical")
    assert code == 2 and "--min-cluster, --quotient: options of sample mode" in err


def test_approximate_knn_is_opt_in_and_says_so():
    pytest.importorskip("hnswlib")
    from bettibounds.barcode.graph import knn_search

    X = np.random.default_rng(0).uniform(-1, 1, size=(600, 8))
    exact, _ = knn_search(X, 6, backend="kdtree")
    brute, _ = knn_search(X, 6, backend="brute")
    assert all(set(a) == set(b) for a, b in zip(exact, brute))  # the exact backends agree
    approx, _ = knn_search(X, 6, backend="hnsw")
    recall = np.mean([len(set(a) & set(b)) / 6 for a, b in zip(exact, approx)])
    assert recall > 0.95 and (approx != np.arange(600)[:, None]).all()  # never its own neighbour
    bc = barcode_of_points(X, X.sum(1), k=6, knn="hnsw")
    assert bc.meta["knn_exact"] is False and "hnswlib" in bc.meta["knn_approximation"]
    assert barcode_of_points(X, X.sum(1), k=6).meta["knn_exact"] is True  # "auto" stays exact


def test_a_disconnected_knn_graph_is_warned_about():
    """A radius below the sampling distance cuts the graph into many components: bars that never
    die and a TO-score missing every merge between them. Found by a new user (Himmelblau, 2000
    samples, radius 0.05: raw TO-score 0.2, filtered 0.0, against 185), with no warning then."""
    from bettibounds.barcode.sampling import BarcodeWarning

    rng = np.random.default_rng(0)
    pts = rng.uniform(-5, 5, size=(2000, 2))
    f = (pts[:, 0] ** 2 + pts[:, 1] - 11) ** 2 + (pts[:, 0] + pts[:, 1] ** 2 - 7) ** 2
    with pytest.warns(BarcodeWarning, match="connected components"):
        cut = barcode_of_points(pts, f, k=8, radius=0.05)
    assert cut.meta["graph_components"] > 1000 and "disconnected" in cut.meta["warnings"][0]
    whole = barcode_of_points(pts, f, k=8)  # connected: no warning (warnings are errors in the suite)
    assert whole.meta["graph_components"] == 1 and "warnings" not in whole.meta


def test_refine_path_says_why_it_stopped():
    """A path relaxation's end: 'stationary' on a flat loss, 'budget' when its iterations ran out, 'stalled' when
    the halved step found no lower level (trial 5: a path's text said '200 of 300 iterations' and nothing more)."""
    torch = pytest.importorskip("torch")
    from bettibounds.barcode import refine_path

    class Fn:
        n_params, dtype, device = 2, torch.float64, "cpu"

        def __init__(self, f):
            self.f = f

        def evaluate(self, th):
            return self.f(th)

        def values(self, pts):
            return self.f(torch.as_tensor(pts, dtype=torch.float64)).numpy()

        def evaluate_chunked(self, pts, mode="full"):
            return self.values(pts)

    ends = np.array([[-1.0, 0.0], [1.0, 0.0]])
    flat = refine_path(Fn(lambda th: th[:, 0] * 0.0), ends, images=4, iterations=50)
    assert flat.stopped == "stationary" and flat.iterations == 1
    ring = Fn(lambda th: (th.square().sum(dim=1) - 1.0).square())  # a valley along the unit circle
    short = refine_path(ring, ends + [[0.0, 0.01], [0.0, 0.01]], images=8, iterations=3, check_every=1)
    assert short.stopped == "budget" and short.iterations == 3
    long = refine_path(ring, ends + [[0.0, 0.01], [0.0, 0.01]], images=8, iterations=5000)
    assert long.stopped == "stalled" and long.iterations < 5000 and long.to_dict()["stopped"] == "stalled"
