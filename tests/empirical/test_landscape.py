"""Landscapes end to end: directions, flags built on purpose, symmetry, theory beside data, CLI."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gudhi")

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.empirical.compare import analyze_landscape, compare_with_bound, touches_boundary  # noqa: E402
from bettibounds.empirical.experiment import load_experiment, parse_experiment  # noqa: E402
from bettibounds.empirical.sampler import LandscapeSample, grid_axes, refined_grid, resolve_directions, sample_landscape  # noqa: E402
from bettibounds.pfaffian.network import build_params  # noqa: E402


def _exp(**over):
    base = {"network": {"layers": [1, 2, 1], "activation": "tanh", "bias": False},
            "data": {"x": [[-2.5], [1.1]], "y": [[0.3], [-0.2]]},
            "region": {"kind": "box", "low": [-3, -3, -2, -2], "high": [3, 3, 2, 2]},
            "grid": [9, 9, 9, 9], "levels": [0.01, 0.1, 1.0], "homology_dims": [0, 1]}
    base.update(over)
    return parse_experiment(base)


def test_grid_and_refinement_conventions():
    axes = grid_axes([-1, 0], [1, 2], [3, 5])
    assert np.allclose(axes[0], [-1, 0, 1]) and np.allclose(axes[1], [0, 0.5, 1, 1.5, 2])
    assert refined_grid([3, 5], 2) == [5, 9]
    fine = grid_axes([-1], [1], refined_grid([3], 2))[0]
    assert set(np.round(axes[0], 12)) <= set(np.round(fine, 12))  # refined grid contains the original
    with pytest.raises(InvalidSpecError):
        grid_axes([1], [0], [3])


def test_random_filter_normalised_directions():
    exp = load_experiment("examples/slice_2d.json")
    center, D, src = resolve_directions(exp.spec, exp.region)
    again = resolve_directions(exp.spec, exp.region)[1]
    assert np.array_equal(D, again) and src == {"kind": "random", "k": 2, "seed": 0, "normalization": "filter"}
    layers, _ = build_params(exp.spec, lambda p: p)
    for W, b in layers:
        for row in W:  # each filter has the norm of the center's filter
            idx = np.array(row)
            for d in D:
                assert np.isclose(np.linalg.norm(d[idx]), np.linalg.norm(center[idx]))
        if b is not None:
            assert np.all(D[:, np.array(b)] == 0)  # biases are not perturbed


def test_dependent_directions_are_refused():
    P = 4
    with pytest.raises(InvalidSpecError, match="linearly dependent"):
        resolve_directions(_exp().spec, {"kind": "slice", "center": [0] * P, "directions": [[1, 0, 0, 0], [2, 0, 0, 0]],
                                         "low": [0, 0], "high": [1, 1]})


def test_tanh_symmetries_are_visible_on_the_grid():
    # full parameter space of u = v1 tanh(w1 x) + v2 tanh(w2 x): theta = (w1, w2, v1, v2) on a symmetric grid
    exp = _exp()
    s = sample_landscape(exp)
    v = s.values
    assert np.allclose(v, v.transpose(1, 0, 3, 2), rtol=1e-12, atol=1e-14)   # swap the two units
    assert np.allclose(v, v[::-1, :, ::-1, :], rtol=1e-12, atol=1e-14)       # flip unit 1: (w1, v1) -> -(w1, v1)
    assert not np.allclose(v, v[::-1, :, :, :])                              # control: w1 alone is not a symmetry


def _synthetic(f, dims=2, low=-1.0, high=1.0):
    def sampler(grid):
        axes = [np.linspace(low, high, n) for n in grid]
        mesh = np.meshgrid(*axes, indexing="ij")
        return LandscapeSample(f(*mesh), axes, "slice", np.zeros(4), np.eye(4)[:dims], {"kind": "listed"})
    return sampler


def _slice_exp(levels, grid=(41, 41)):
    return _exp(region={"kind": "slice", "center": [0, 0, 0, 0], "directions": [[1, 0, 0, 0], [0, 1, 0, 0]],
                        "low": [-1, -1], "high": [1, 1]}, grid=list(grid), levels=levels)


def test_k_wells_give_b0_k_and_the_bound_holds():
    centers = [(-0.5, -0.5), (0.5, -0.4), (0.0, 0.5)]

    def f(x, y):
        return 1 - sum(np.exp(-((x - a) ** 2 + (y - b) ** 2) / 0.02) for a, b in centers)

    res = analyze_landscape(_slice_exp([0.5, 1.5]), sampler=_synthetic(f))
    low, high = res.levels
    assert low["betti"][0] == 3 and not low["clipped"] and low["stable"]
    assert low["comparison"]["holds"] and low["comparison"]["slack_log10"] > 0
    assert high["clipped"] and high["comparison"] is None  # the whole box: not comparable
    assert res.n_variables == 2 and res.bound.theorem == "K"


def test_ring_valley_gives_b1():
    def f(x, y):
        return (np.hypot(x, y) - 0.5) ** 2

    res = analyze_landscape(_slice_exp([0.01]), sampler=_synthetic(f))
    assert res.levels[0]["betti"] == [1, 1] and res.levels[0]["stable"] and not res.levels[0]["clipped"]


def test_a_partial_betti_sum_decides_only_violations():
    # the bound is on sum_k b_k over every k; with homology_dims [0] the ring valley (b_0 = b_1 = 1) has a
    # partial sum 1, which neither confirms the bound nor gives its slack
    def f(x, y):
        return (np.hypot(x, y) - 0.5) ** 2

    exp = _exp(region={"kind": "slice", "center": [0, 0, 0, 0], "directions": [[1, 0, 0, 0], [0, 1, 0, 0]],
                       "low": [-1, -1], "high": [1, 1]}, grid=[41, 41], levels=[0.01], homology_dims=[0])
    res = analyze_landscape(exp, sampler=_synthetic(f))
    cmp = res.levels[0]["comparison"]
    assert res.levels[0]["betti"] == [1] and cmp["complete"] is False
    assert cmp["holds"] is None and cmp["slack_log10"] is None and res.violations == []
    full = analyze_landscape(_slice_exp([0.01]), sampler=_synthetic(f)).levels[0]["comparison"]
    assert full["complete"] is True and full["holds"] is True and full["sum_betti"] == 2


def test_the_comparison_with_the_bound_is_exact_at_a_tie():
    import math
    from types import SimpleNamespace

    import mpmath

    with mpmath.workdps(40):
        bound = SimpleNamespace(value=40, log10=mpmath.log10(40))  # what the engine gives for K = 40
    assert math.log10(40) > float(bound.log10)  # the float comparison of logs would call 40 <= 40 a violation
    assert compare_with_bound(40, bound, True) == {"sum_betti": 40, "complete": True, "holds": True,
                                                   "slack_log10": 0.0, "conditional": False, "conditional_on": [],
                                                   "verdict": "holds"}
    assert compare_with_bound(41, bound, True)["holds"] is False
    assert compare_with_bound(41, bound, False)["holds"] is False  # a partial sum above the bound: violated
    assert compare_with_bound(40, bound, False)["holds"] is None
    assert compare_with_bound(0, bound, True)["holds"] is True
    huge = SimpleNamespace(value=None, log10=mpmath.mpf(5000))  # too large for an exact value
    assert compare_with_bound(10**9, huge, True)["holds"] is True
    assert compare_with_bound(10**9, huge, True)["slack_log10"] == pytest.approx(4991)
    assert compare_with_bound(10**9, SimpleNamespace(value=None, log10=mpmath.mpf(8.5)), True)["holds"] is False


def test_an_experiment_without_grid_or_dims_is_refused():
    import dataclasses

    exp = dataclasses.replace(_exp(), grid=None)
    with pytest.raises(InvalidSpecError, match="no \"grid\""):
        analyze_landscape(exp, sampler=_synthetic(lambda x, y: x))
    with pytest.raises(InvalidSpecError, match="at least one dimension"):
        _exp(homology_dims=[])


def test_clipped_flag_is_triggered():
    res = analyze_landscape(_slice_exp([0.05]), sampler=_synthetic(lambda x, y: (x - 1.0) ** 2 + y**2))
    assert res.levels[0]["clipped"] is True and res.levels[0]["comparison"] is None
    assert touches_boundary(np.array([[1.0, 0.0], [1.0, 1.0]]), 0.5)
    assert not touches_boundary(np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], float), 0.5)


def test_unstable_flag_is_triggered_by_a_thin_valley():
    # two wells joined by a channel thinner than the coarse grid spacing: the coarse grid sees two components,
    # the refined grid one
    def f(x, y):
        wells = np.minimum((x + 0.5) ** 2 + y**2, (x - 0.5) ** 2 + y**2)
        channel = np.where((np.abs(y - 0.04) < 0.01) & (np.abs(x) < 0.5), 0.0, 1.0)  # between coarse rows
        return np.minimum(wells, channel)

    res = analyze_landscape(_slice_exp([0.02], grid=(21, 21)), sampler=_synthetic(f), refine=3)
    row = res.levels[0]
    assert row["betti"][0] == 2 and row["betti_refined"][0] == 1
    assert row["stable"] is False and row["comparison"] is None


def test_cli_landscape_json(tmp_path, cli_main):
    out = cli_main("landscape", "examples/tiny_box.json", "--json", "--refine", "1", "--plot", str(tmp_path))
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["n_params"] == 4 and [r["level"] for r in d["levels"]] == [0.01, 0.1, 1.0]
    for r in d["levels"]:
        assert set(r) >= {"level", "betti", "clipped", "stable"}
    assert d["upper_bound"]["theorem"] == "K" and d["device"] == "cpu" and "sampling" in d["timings"]
    assert all((tmp_path / name).exists() for name in ("betti_curves.png", "diagram.png"))


def test_cli_landscape_bad_file(tmp_path, cli_main):
    bad = tmp_path / "e.json"
    bad.write_text(json.dumps({"network": {"layers": [1, 2, 1]}, "data": {"x": [[1]], "y": [[1]]}}))
    out = cli_main("landscape", str(bad))
    assert out.returncode == 2 and "region" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_betti_curve_levels_reach_every_requested_level():
    from bettibounds.empirical.plots import _curve_levels

    v = np.linspace(0.0, 100.0, 1001)  # 90th percentile 90
    d = _curve_levels(v, [])
    assert d[0] == 0.0 and d[-1] == pytest.approx(90.0) and len(d) == 200
    d = _curve_levels(v, [-5.0, 95.0])  # below the lowest value, above the percentile
    assert d[0] == -5.0 and d[-1] == 95.0
    assert _curve_levels(v, [1e6])[-1] == 100.0  # beyond the values nothing changes: clamped to the max
    assert np.all(_curve_levels(np.full(4, 2.0), [2.0]) == 2.0)  # a flat landscape still gives a grid
    # past the last birth or death (trial 5: a merge at 0.177 above the 90th percentile was cut off), not past the max
    d = _curve_levels(v, [], events=[3.0, 95.0, np.inf])
    assert d[-1] == pytest.approx(95.0 + 0.03 * 95.0) and d[-1] > 95.0
    assert _curve_levels(v, [], events=[99.9])[-1] == 100.0
    assert _curve_levels(v, [], events=[10.0])[-1] == pytest.approx(90.0)  # events below: the percentile as before


def test_plots_for_2d_and_3d(tmp_path):
    pytest.importorskip("matplotlib")
    from bettibounds.empirical.plots import plot_landscape

    res = analyze_landscape(_slice_exp([0.01]), sampler=_synthetic(lambda x, y: (np.hypot(x, y) - 0.5) ** 2), refine=1)
    files = plot_landscape(res, tmp_path / "2d")
    assert [p.split("/")[-1] for p in files] == ["heatmap.png", "betti_curves.png", "diagram.png"]
    assert all((tmp_path / "2d" / n).stat().st_size > 1000 for n in ("heatmap.png", "betti_curves.png", "diagram.png"))

    def sampler3(grid):
        axes = [np.linspace(-1, 1, n) for n in grid]
        X, Y, Z = np.meshgrid(*axes, indexing="ij")
        return LandscapeSample((np.sqrt(X**2 + Y**2 + Z**2) - 0.6) ** 2, axes, "slice", np.zeros(4), np.eye(4)[:3], {})

    exp3 = _exp(region={"kind": "slice", "center": [0, 0, 0, 0], "directions": [[1, 0, 0, 0], [0, 1, 0, 0],
                                                                                  [0, 0, 1, 0]],
                        "low": [-1, -1, -1], "high": [1, 1, 1]}, grid=[25, 25, 25], levels=[0.04],
                homology_dims=[0, 1, 2])
    res3 = analyze_landscape(exp3, sampler=sampler3, refine=1)
    assert res3.levels[0]["betti"] == [1, 0, 1]  # a spherical shell valley: b_2 = 1
    files = plot_landscape(res3, tmp_path / "3d")
    assert files[0].endswith("sections.png") and (tmp_path / "3d" / "sections.png").stat().st_size > 1000
    # levels on both sides of a section's range but none inside it (the x = -1 section spans [0.16, 1.28]):
    # plotting stays free of warnings
    exp3b = _exp(region={"kind": "slice", "center": [0, 0, 0, 0], "directions": np.eye(4)[:3].tolist(),
                         "low": [-1, -1, -1], "high": [1, 1, 1]}, grid=[25, 25, 25], levels=[0.04, 2.0],
                 homology_dims=[0, 1, 2])
    res3b = analyze_landscape(exp3b, sampler=sampler3, refine=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_landscape(res3b, tmp_path / "3d-levels")
    # the sections are the three planes through the vertex nearest t = 0, also on a short axis
    exp3c = _exp(region=exp3b.region, grid=[3, 25, 25], levels=[0.04], homology_dims=[0, 1, 2])
    res3c = analyze_landscape(exp3c, sampler=sampler3, refine=1)
    from bettibounds.empirical.plots import _center_index

    assert _center_index(res3c.sample) == [1, 12, 12] and _center_index(res3.sample) == [12, 12, 12]
    plot_landscape(res3c, tmp_path / "3d-short")
    assert (tmp_path / "3d-short" / "sections.png").stat().st_size > 1000


# ---------------------------------------------------------------- audit findings (2026-11-23)
_SLICE = {"kind": "slice", "center": [0.5, -0.3, 0.2, 0.1], "directions": {"random": 2, "seed": 0},
          "low": [-1, -1], "high": [1, 1]}


@pytest.mark.parametrize("over, words", [
    ({"network": {"layers": [1, 2, 1], "activaton": "relu"}}, ["network", "activaton"]),
    ({"loss": {"kind": "mse", "lamda": 0.1}}, ["loss", "lamda"]),
    ({"data": {"x": [[-2.5], [1.1]], "y": [[0.3], [-0.2]], "z": 1}}, ["data", "'z'"]),
    ({"region": {"kind": "box", "low": [-3] * 4, "high": [3] * 4, "center": [0] * 4}}, ["region", "center"]),
    ({"region": {**_SLICE, "directions": {"random": 2, "sed": 5}}, "grid": [9, 9]}, ["directions", "sed"]),
    ({"seed": 7}, ["seed", "region.directions"]),
    ({"region": {**_SLICE, "directions": {"random": 2, "seed": -1}}, "grid": [9, 9]}, ["seed", ">= 0"]),
    ({"homology_dims": [1, 0]}, ["homology_dims", "increasing"]),
    ({"homology_dims": [0, 0]}, ["homology_dims", "increasing"]),
    ({"region": {**_SLICE}, "grid": [9, 9], "homology_dims": [0, 2]}, ["b_2", "n = 2"]),
    ({"region": {**_SLICE, "directions": {"randon": 2}}, "grid": [9, 9]}, ["directions", "'randon'"]),
    ({"grid": [10**400, 2, 2, 2]}, ["grid", "about 10^400 points"]),     # once an OverflowError
    ({"loss": {"kind": "mse", "l2": 10**400}}, ["loss.l2", "too large"]),  # once an OverflowError
])
def test_experiment_files_reject_what_would_be_silently_ignored(over, words):
    """Misspelt keys, out-of-range homology dimensions and negative seeds used to be dropped or
    defaulted silently (or crash in numpy); each is now a clear error naming the culprit."""
    with pytest.raises(InvalidSpecError) as exc:
        _exp(**over)
    assert all(w in str(exc.value) for w in words), str(exc.value)


@pytest.mark.parametrize("text, words", [
    (None, ["not UTF-8"]),                                              # once a UnicodeDecodeError
    ('{"levels": [' + "1" * 5000 + "]}", ["more than 4300 digits"]),    # once a bare ValueError
    ("[" * 100_000 + "]" * 100_000, ["too deeply"]),                    # once a RecursionError
    ('{"grid": [3], "grid": [5]}', ["'grid' appears twice"]),           # once the last one, silently
])
def test_experiment_files_that_are_not_plain_json_objects_are_one_line_errors(tmp_path, text, words):
    path = tmp_path / "e.json"
    if text is None:
        path.write_bytes('{"network": "t\u00e9nh"}'.encode("latin-1"))
    else:
        path.write_text(text)
    with pytest.raises(InvalidSpecError) as exc:
        load_experiment(path)
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_directions_that_do_not_span_the_slice_say_why():
    spec = _exp().spec
    region = {"kind": "slice", "center": [0] * 4, "low": [0, 0], "high": [1, 1]}
    with pytest.raises(InvalidSpecError, match="numerically they span only 1"):  # not "linearly dependent"
        resolve_directions(spec, {**region, "directions": [[1e300, 0, 0, 0], [0, 1, 0, 0]]})
    with pytest.raises(InvalidSpecError, match="filter normalisation gives 0"):
        resolve_directions(spec, {**region, "center": [1, 0, 0, 0], "low": [0] * 3, "high": [1] * 3,
                                  "directions": {"random": 3, "seed": 0}})


def test_filter_normalisation_at_a_zero_centre_says_why():
    exp = _exp(region={**_SLICE, "center": [0, 0, 0, 0]}, grid=[9, 9])
    with pytest.raises(InvalidSpecError, match="norm 0"):
        resolve_directions(exp.spec, exp.region)


def test_grids_that_cannot_fit_are_refused_before_any_work(monkeypatch):
    import bettibounds._lib.memory as mem

    monkeypatch.setattr(mem, "available_bytes", lambda: 100 * 2**20)  # 100 MiB
    exp = _exp(region={**_SLICE}, grid=[200, 200])  # 40k points: about 10 MiB
    calls = []

    def sampler(grid):
        calls.append(grid)
        axes = [np.linspace(-1, 1, n) for n in grid]
        X, Y = np.meshgrid(*axes, indexing="ij")
        return LandscapeSample(X**2 + Y**2, axes, "slice", np.zeros(4), np.eye(4)[:2], {})

    assert analyze_landscape(exp, sampler=sampler, refine=2).refined is not None  # 399^2: fits
    calls.clear()
    with pytest.raises(InvalidSpecError, match=r"refined grid \(--refine 8\).*GiB"):
        analyze_landscape(exp, sampler=sampler, refine=8)  # 1593^2 points: about 620 MiB
    assert calls == []  # refused before the first grid was sampled
    with pytest.raises(InvalidSpecError, match="GiB"):
        sample_landscape(_exp(region={**_SLICE}, grid=[1000, 1000]), device="cpu")


def test_sublevel_persistence_accepts_a_landscape_sample():
    from bettibounds.empirical.persistence import sublevel_persistence

    exp = _exp(region={**_SLICE}, grid=[9, 9])
    sample = sample_landscape(exp, device="cpu")
    a, b = sublevel_persistence(sample), sublevel_persistence(sample.values)
    assert a.to_dict() == b.to_dict()


def test_cli_plot_target_that_is_a_file_fails_before_any_work(tmp_path, cli_main):
    target = tmp_path / "file"
    target.write_text("")
    out = cli_main("landscape", "examples/tiny_box.json", "--plot", str(target))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "existing file" in out.stderr


def test_cli_refine_1_says_the_stability_check_is_off(cli_main):
    out = cli_main("landscape", "examples/tiny_box.json", "--refine", "1")
    assert out.returncode == 0, out.stderr
    assert "stability check off (--refine 1)" in out.stdout
    js = cli_main("landscape", "examples/tiny_box.json", "--refine", "1", "--json")
    d = json.loads(js.stdout)
    assert d["refine"] == 1 and d["refined_grid"] is None
    assert all(r["stable"] is None and r["betti_refined"] is None for r in d["levels"])  # the keys usage.md lists
    import re

    import mpmath

    shown = re.search(r"B <= 10\^(\S+)", out.stdout).group(1)  # printed rounded up: still an upper bound
    assert mpmath.mpf(shown) >= mpmath.mpf(d["upper_bound"]["log10"])


def test_an_overflowing_loss_is_a_clear_error_not_a_persistence_failure():
    exp = _exp(network={"layers": [1, 2, 1], "activation": "exp", "bias": False},
               region={"kind": "box", "low": [-60] * 4, "high": [60] * 4}, grid=[3, 3, 3, 3])
    assert np.isfinite(sample_landscape(exp, device="cpu").values).all()  # exp(150) fits float64 ...
    with pytest.raises(InvalidSpecError, match=r"not finite \(overflow\) at \d+ of 81.*float32"):
        sample_landscape(exp, device="cpu", dtype="float32")  # ... but not float32
    with pytest.raises(InvalidSpecError, match="wider than float64"):
        grid_axes([-1e308], [1e308], [3])


def test_landscape_slice_bounds_record_the_checked_rank():
    exp = _exp(loss={"kind": "mse", "l2": 0.1}, region={**_SLICE}, grid=[9, 9], levels=[0.5])
    res = analyze_landscape(exp, device="cpu", refine=1)
    compact = [h for h in res.bound.hypotheses if "compact" in h.text]
    assert [h.status for h in compact] == ["holds"] and "full column rank" in compact[0].reason


def test_progress_without_tqdm_warns_and_goes_on(monkeypatch):
    """progress=True without tqdm: a warning says why there is no bar, and the values are those of
    a run without progress (every long loop uses bettibounds._lib.progress.progress_bar)."""
    from pathlib import Path

    from bettibounds._lib.progress import progress_bar
    from bettibounds.barcode.graph import knn_graph

    exp = load_experiment(Path(__file__).resolve().parents[2] / "examples" / "slice_2d.json")
    want = sample_landscape(exp, grid=[9, 9]).values
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the import fails
    with pytest.warns(UserWarning, match="needs tqdm") as caught:
        got = sample_landscape(exp, grid=[9, 9], progress=True).values
    np.testing.assert_array_equal(got, want)
    with pytest.warns(UserWarning, match="needs tqdm") as caught_knn:
        knn_graph(np.random.default_rng(0).normal(size=(20, 3)), 4, progress=True)
    # the warnings point at the user's line (here), not into the library
    assert {w.filename for w in [*caught, *caught_knn]} == {__file__}
    assert progress_bar(False, 10, "off") is None


def test_heat_map_markers_are_drawn_above_the_image_and_contours(tmp_path, monkeypatch):
    # the centre and minima markers were hidden under the contours / clabels
    pytest.importorskip("matplotlib")
    from bettibounds.empirical import plots

    axes_seen = []
    real_finish = plots.finish

    def spy(plt, fig, ax, *a, **kw):
        axes_seen.append(ax)
        return real_finish(plt, fig, ax, *a, **kw)

    monkeypatch.setattr(plots, "finish", spy)
    res = analyze_landscape(_slice_exp([0.01, 0.1]), sampler=_synthetic(lambda x, y: (np.hypot(x, y) - 0.5) ** 2),
                            refine=1)
    plots.plot_landscape(res, tmp_path)
    ax = axes_seen[0]  # heatmap.png
    below = [a.get_zorder() for a in ax.collections + ax.texts + ax.images]  # the image, contours, labels
    marks = [ln for ln in ax.lines if ln.get_marker() in ("+", ".", "*")]
    assert below and marks and any(ln.get_label() == "centre (t = 0)" for ln in marks)
    assert min(ln.get_zorder() for ln in marks) > max(below)
    # the title counts what the red dots are (grid minima, the H0 births), as the text output does: a trial read
    # "13 minima in red" beside "2 grid minima polished" as a contradiction
    n = len(res.diagram.birth_at[0])
    assert ax.get_title().endswith(f"{n} grid {'minimum' if n == 1 else 'minima'} (H0 births) in red")


def test_a_line_gets_a_plot_of_the_loss_along_it(tmp_path):
    """Trial 5: a 1-D landscape (a line between two models) got Betti curves and a diagram, no loss against t."""
    pytest.importorskip("matplotlib")
    from bettibounds.empirical.plots import plot_landscape

    exp = _exp(region={"kind": "slice", "center": [0, 0, 0, 0], "directions": [[1, 0, 0, 0]], "low": [-1], "high": [1]},
               grid=[101], levels=[0.5], homology_dims=[0])
    res = analyze_landscape(exp, sampler=_synthetic(lambda t: (t * t - 0.25) ** 2 * 8, dims=1), refine=1)
    written = plot_landscape(res, tmp_path)
    assert str(tmp_path / "line.png") in written and (tmp_path / "line.png").stat().st_size > 0
    assert res.diagram.birth_at[0].shape[0] == 2  # the two wells, at t = -0.5 and 0.5, drawn in red


def test_a_minimum_at_the_centre_shows_above_the_centre_mark_and_betti_ticks_are_integers(tmp_path, monkeypatch):
    # a new user's trial: the red dot of a minimum at t = 0 was hidden under the white "+", and the Betti-curve
    # plot of a constant b_0 = 1 had ticks 0.945, 0.960, ..., 1.05
    pytest.importorskip("matplotlib")
    from bettibounds.empirical import plots

    axes_seen = []
    real_finish = plots.finish

    def spy(plt, fig, ax, *a, **kw):
        fig.canvas.draw()  # the ticks as saved
        axes_seen.append((ax, list(ax.get_yticks()), ax.get_ylim()))
        return real_finish(plt, fig, ax, *a, **kw)

    monkeypatch.setattr(plots, "finish", spy)
    res = analyze_landscape(_slice_exp([0.5], grid=(21, 21)), sampler=_synthetic(lambda x, y: x ** 2 + y ** 2),
                            refine=1)
    plots.plot_landscape(res, tmp_path)
    heat = axes_seen[0][0]
    centre = [ln for ln in heat.lines if ln.get_label() == "centre (t = 0)"]
    dots = [ln for ln in heat.lines if ln.get_marker() == "o" and ln.get_color() == "red"]  # the minima (white-edged)
    assert len(centre) == 1 and len(dots) == 1
    assert list(dots[0].get_xdata()) == [0.0] and list(dots[0].get_ydata()) == [0.0]  # the minimum is the centre
    assert dots[0].get_zorder() > centre[0].get_zorder()
    _, ticks, (lo, hi) = axes_seen[1]  # betti_curves.png: b_0 = 1 at every level shown
    shown = [t for t in ticks if lo <= t <= hi]
    assert shown == [0.0, 1.0], shown
