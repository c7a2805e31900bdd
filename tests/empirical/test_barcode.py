"""Barcodes of minima and the TO-score (issue 6): worked examples, oracles, constructed landscapes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

torch = pytest.importorskip("torch")
gudhi = pytest.importorskip("gudhi")

from bettibounds.barcode import (  # noqa: E402
    Barcode,
    BarcodeBar,
    BarcodeWarning,
    grid_barcode,
    knn_graph,
    lower_star_h0,
    minimax_tree,
    refine_barcode,
    refine_path,
    sample_barcode,
    to_score,
    tree_path,
    union_find_h0,
)
from bettibounds.empirical.persistence import sublevel_persistence  # noqa: E402
from bettibounds.errors import InvalidSpecError  # noqa: E402


class MinOfQuadratics:
    """f(x) = min_i |x - c_i|^2 + a_i: minima a_i at c_i, saddles known in closed form.

    Duck-types the parts of LossKernel the barcode code uses (evaluate, evaluate_chunked,
    n_params, dtype, device), so the sampling and refinement run on a landscape built on purpose.
    """

    def __init__(self, centers, depths):
        self.c = torch.tensor(centers, dtype=torch.float64)
        self.a = torch.tensor(depths, dtype=torch.float64)
        self.n_params = self.c.shape[1]
        self.dtype = torch.float64
        self.device = torch.device("cpu")

    def evaluate(self, theta):
        th = torch.as_tensor(theta, dtype=torch.float64)
        return (((th[:, None, :] - self.c[None]) ** 2).sum(-1) + self.a).amin(1)

    def evaluate_chunked(self, points, mode="full", progress=False):
        with torch.no_grad():
            return self.evaluate(torch.as_tensor(np.asarray(points))).numpy()

    def numpy(self, pts):
        return self.evaluate_chunked(pts)

    def lipschitz(self, radius):
        return 2.0 * radius


def collinear_expected(xs, a):
    """Exact barcode of min_i (|x - (xs_i, 0)|^2 + a_i) with centres on a line, xs increasing.

    The cells of the wells are slabs; well i borders only i - 1 and i + 1, and the lowest point of
    the boundary between i and i + 1 lies on the line, at s = (D^2 + a_{i+1} - a_i) / (2D) from c_i,
    with value a_i + s^2. The barcode is the elder-rule H0 of the path of wells with these saddles.
    """
    saddles = []
    for i in range(len(xs) - 1):
        D = xs[i + 1] - xs[i]
        s = (D * D + a[i + 1] - a[i]) / (2 * D)
        assert 0 < s < D  # the saddle lies between the two centres
        saddles.append(a[i] + s * s)
    # elder-rule sweep on the path graph of wells (vertex values a_i, edge values saddles)
    n = len(a)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    bars = []
    for e in sorted(range(n - 1), key=lambda e: saddles[e]):
        r1, r2 = find(e), find(e + 1)
        young, old = (r1, r2) if a[r1] > a[r2] else (r2, r1)
        parent[young] = old
        bars.append((a[young], saddles[e]))
    bars.append((min(a), math.inf))
    return sorted(bars)


# --------------------------------------------------------------------------- worked example


def test_path_example_of_theory_section_12():
    """docs/theory.md §12: values [3, 1, 2, 0, 4] on a path give the bars [1, 2) and [0, inf)."""
    values = np.array([3.0, 1.0, 2.0, 0.0, 4.0])
    bc = grid_barcode(values)
    assert [(b.birth, b.death) for b in bc.of_dim(0)] == [(0.0, math.inf), (1.0, 2.0)]
    finite = bc.of_dim(0)[1]
    assert finite.birth_at == (1,) and finite.death_at == (2,)  # the minimum at 1 dies at the saddle at 2
    edges = [[0, 1], [1, 2], [2, 3], [3, 4]]
    for backend in ("gudhi", "union-find"):
        rows = lower_star_h0(values, edges, backend=backend)
        assert rows[:, :2].tolist() == [[0.0, math.inf], [1.0, 2.0]]
        assert rows[1, 2:].tolist() == [1.0, 2.0]
    assert union_find_h0(values, edges)[1, 4] == 3  # its partner is the global minimum


# --------------------------------------------------------------------- grid barcodes = cubical H0


@settings(deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 9), st.integers(2, 9)),
              elements=st.integers(-5, 5).map(float)))
def test_grid_barcode_is_the_cubical_diagram(values):
    bc = grid_barcode(values)
    dg = sublevel_persistence(values)
    for k in dg.dims:
        got = sorted((b.birth, b.death) for b in bc.of_dim(k))
        assert got == sorted(map(tuple, dg.bars[k].tolist()))
        for b in bc.of_dim(k):
            assert values[b.birth_at] == b.birth
            if not b.essential:
                assert values[b.death_at] == b.death


def test_grid_barcode_3d_has_index_2_segments():
    """A spherical shell of low values in 3-D encloses a void: one index-2 segment."""
    ax = np.linspace(-1, 1, 21)
    X, Y, Z = np.meshgrid(ax, ax, ax, indexing="ij")
    r = np.sqrt(X**2 + Y**2 + Z**2)
    f = (r - 0.6) ** 2
    bc = grid_barcode(f)
    assert bc.dims == [0, 1, 2]
    long2 = [b for b in bc.of_dim(2) if b.length > 0.05]
    assert len(long2) == 1  # the void, born when the shell closes, dies when the centre fills
    assert long2[0].death == pytest.approx(f[10, 10, 10])


@pytest.mark.parametrize("xs,a", [([-1.5, 0.2, 1.6], [0.3, 0.0, 0.5]), ([-1.6, -0.4, 0.5, 1.7], [0.2, 0.6, 0.1, 0.4])])
def test_grid_barcode_recovers_known_minima_and_saddles(xs, a):
    f = MinOfQuadratics([[x, 0.0] for x in xs], a)
    n = 241
    ax = np.linspace(-2.5, 2.5, n)
    pts = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    values = f.numpy(pts).reshape(n, n)
    bc = grid_barcode(values, max_dim=0, axes=[ax, ax])
    expected = collinear_expected(xs, a)
    got = sorted((b.birth, b.death) for b in bc.of_dim(0))
    assert len(got) == len(expected)
    h = ax[1] - ax[0]
    tol = f.lipschitz(3.5) * h  # one grid step times the Lipschitz constant on the box
    for (gb, gd), (eb, ed) in zip(got, expected):
        assert gb == pytest.approx(eb, abs=tol)
        assert (math.isinf(gd) and math.isinf(ed)) or gd == pytest.approx(ed, abs=tol)


# ------------------------------------------------------------------------------- graph H0


@settings(deadline=None)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.integers(0, 6).map(float)),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_gudhi_and_union_find_agree(case):
    values, pairs = case
    edges = np.array([(min(i, j), max(i, j)) for i, j in pairs if i != j], dtype=np.int64).reshape(-1, 2)
    g = lower_star_h0(values, edges, backend="gudhi")
    u = union_find_h0(values, edges)
    assert sorted(map(tuple, g[:, :2].tolist())) == sorted(map(tuple, u[:, :2].tolist()))
    # essential bars: one per connected component, born at its minimum
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(values)
    ncomp = connected_components(coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)),
                                 directed=False)[0] if len(edges) else n
    assert int(np.isinf(g[:, 1]).sum()) == ncomp
    for b, d, bi, di, partner in u:
        assert values[int(bi)] == b
        if math.isfinite(d):
            assert values[int(di)] == d
            assert values[int(partner)] <= b  # the partner is the older (lower) minimum


def test_minimax_tree_path_realises_the_merge_level():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-2, 2, size=(400, 2))
    f = MinOfQuadratics([[-1.0, 0.0], [1.0, 0.0]], [0.0, 0.3])
    vals = f.numpy(pts)
    edges = knn_graph(pts, k=6, device="cpu")
    uf = union_find_h0(vals, edges)
    tree = minimax_tree(vals, edges)
    for b, d, bi, di, partner in uf:
        if math.isfinite(d):
            path = tree_path(tree, int(bi), int(partner))
            assert path[0] == int(bi) and path[-1] == int(partner)
            assert vals[path].max() == d


# ------------------------------------------------------------------------------ k-NN graph


def test_knn_graph_matches_ckdtree():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 5))
    k = 7
    edges = knn_graph(pts, k=k, device="cpu")
    _, idx = cKDTree(pts).query(pts, k=k + 1)  # the first neighbour is the point itself
    ref = {(min(i, int(j)), max(i, int(j))) for i in range(len(pts)) for j in idx[i, 1:]}
    assert set(map(tuple, edges.tolist())) == ref
    assert (edges[:, 0] < edges[:, 1]).all()


def test_knn_graph_input_errors():
    with pytest.raises(InvalidSpecError, match="positive integer"):
        knn_graph(np.zeros((3, 2)), k=0)
    with pytest.raises(InvalidSpecError, match=r"\(N, P\)"):
        knn_graph(np.zeros(3), k=1)
    with pytest.raises(InvalidSpecError, match="NaN"):
        knn_graph([[0.0], [math.nan]], k=1)


# ----------------------------------------------------------- k-NN barcodes converge to the grid


def _finite_pairs(bars):
    return np.array([(b, d) for b, d in bars if math.isfinite(d)]).reshape(-1, 2)


def test_knn_barcode_converges_to_grid_barcode():
    """On a 2-D landscape with three wells, the k-NN barcode of N uniform samples approaches the
    grid barcode as N grows (bottleneck distance of the finite segments)."""
    f = MinOfQuadratics([[-1.3, 0.4], [0.2, -0.5], [1.4, 0.6]], [0.2, 0.0, 0.45])
    n = 301
    ax = np.linspace(-2, 2, n)
    grid = f.numpy(np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)).reshape(n, n)
    ref = _finite_pairs((b.birth, b.death) for b in grid_barcode(grid, max_dim=0).bars)
    assert len(ref) == 2
    rng = np.random.default_rng(1)
    dists = []
    for N in (300, 3000, 10000):
        pts = rng.uniform(-2, 2, size=(N, 2))
        rows = lower_star_h0(f.numpy(pts), knn_graph(pts, k=8, device="cpu"))
        dists.append(gudhi.bottleneck_distance(_finite_pairs(map(tuple, rows[:, :2].tolist())), ref))
    assert dists[-1] < dists[0]
    assert dists[-1] < 0.05  # the saddles are found to within a few hundredths at 10 000 samples


# ----------------------------------------------------------------------------- refinement


def test_refined_path_level_is_a_continuous_path_level_near_the_true_saddle():
    f = MinOfQuadratics([[-1.0, 0.0], [1.0, 0.0]], [0.0, 0.3])
    true_saddle = 0.0 + ((4 + 0.3) / 4) ** 2  # a_1 + s^2, s = (D^2 + a_2 - a_1) / (2D), D = 2
    # a bent initial path from one minimum to the other
    way = np.array([[-1.0, 0.0], [-0.5, 1.2], [0.5, 1.3], [1.0, 0.0]])
    rp = refine_path(f, way, images=24, iterations=300, dense=16)
    assert rp.level <= rp.initial_level  # never worse than the path it started from
    assert rp.initial_level > true_saddle + 0.5  # the bent path was a poor one
    spacing = np.linalg.norm(np.diff(rp.images, axis=0), axis=1).max() / rp.dense
    tol = f.lipschitz(2.5) * spacing  # the polyline's maximum is within one dense step of its samples
    assert rp.level >= true_saddle - tol  # no continuous path goes below the merge level
    assert rp.level <= true_saddle + 0.05  # and the string found (nearly) the minimax path
    assert abs(f.numpy(rp.saddle[None])[0] - rp.level) < 1e-12


# the refinement warns when a segment refines to no barrier (here one of three, on this seed): a statement about
# this sample, not the subject of these tests, so it is let through only here
REFINED_TO_NO_BARRIER = "ignore:.*refined to no barrier:bettibounds.barcode.sampling.BarcodeWarning"


@pytest.mark.filterwarnings(REFINED_TO_NO_BARRIER)
def test_refined_barcode_deaths_never_exceed_their_graph_polyline():
    f = MinOfQuadratics([[-1.0, 0.0], [1.0, 0.2], [0.0, 1.4]], [0.0, 0.3, 0.25])
    bc = sample_barcode(f, -2.0, 2.0, uniform=250, starts=12, steps=60, lr=0.05, k=6, seed=2)
    ref, paths = refine_barcode(bc, f, top=3, iterations=150, return_paths=True)
    attempts = ref.meta["refinement"]
    assert len(attempts) == len(paths) == min(3, sum(not b.essential for b in bc.bars))
    for att, rp in zip(attempts, paths):
        assert att["refined_level"] <= att["initial_polyline_level"]
        assert att["graph_path_level"] == att["graph_estimate"]  # the tree path realises the graph's level
    by_birth = {att["birth_id"]: att for att in attempts}
    refined = [b for b in ref.bars if b.refined]
    assert len(refined) == len(attempts)
    for b in refined:  # each refined death is its attempt's polyline level (never below the birth)
        att = by_birth[b.birth_at[0]]
        assert b.death == max(att["refined_level"], b.birth)
        assert b.death <= att["initial_polyline_level"]
        assert b.estimate == att["graph_estimate"]
    # the refined levels are continuous-path levels: never below a true saddle of this landscape
    n = 401
    ax = np.linspace(-2, 2, n)
    grid = f.numpy(np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)).reshape(n, n)
    lowest_saddle = min(b.death for b in grid_barcode(grid, max_dim=0).bars if not b.essential)
    for b in ref.bars:
        if b.refined:
            assert b.death >= lowest_saddle - 4 * 0.01 * f.lipschitz(3)


@pytest.mark.filterwarnings(REFINED_TO_NO_BARRIER)
def test_refine_all_refines_every_finite_segment():
    f = MinOfQuadratics([[-1.0, 0.0], [1.0, 0.2], [0.0, 1.4]], [0.0, 0.3, 0.25])
    kw = dict(uniform=250, starts=12, steps=60, lr=0.05, k=6, seed=2, refine_options={"iterations": 40})
    plain = sample_barcode(f, -2.0, 2.0, **kw)
    n_finite = sum(not b.essential for b in plain.bars)
    assert n_finite >= 2  # more than the top-1 below, so "all" is tested against a real cut
    every = sample_barcode(f, -2.0, 2.0, refine="all", **kw)
    assert len(every.meta["refinement"]) == n_finite
    assert sum(b.refined for b in every.bars) == n_finite
    assert len(refine_barcode(plain, f, top=None, iterations=40).meta["refinement"]) == n_finite
    assert len(sample_barcode(f, -2.0, 2.0, refine=1, **kw).meta["refinement"]) == 1


def test_refine_needs_a_sample_barcode():
    with pytest.raises(InvalidSpecError, match="sample-based"):
        refine_barcode(grid_barcode(np.array([1.0, 0.0, 1.0])), None)


# ------------------------------------------------------------------- real networks, sampling


def _teacher_kernel():
    from bettibounds.empirical.experiment import load_experiment
    from bettibounds.empirical.kernels import LossKernel

    exp = load_experiment(Path(__file__).resolve().parents[2] / "examples" / "teacher_tanh.json")
    return exp, LossKernel(exp.spec, exp.x, exp.y, device="cpu")


def test_sample_barcode_on_a_network_is_consistent_and_seeded():
    exp, kern = _teacher_kernel()
    bc = sample_barcode(kern, -2, 2, uniform=200, starts=8, steps=40, k=8, seed=5)
    s = bc.samples
    assert s.points.shape == (bc.meta["n_points"], exp.spec.n_params)
    assert (s.points >= -2).all() and (s.points <= 2).all()
    np.testing.assert_allclose(s.values, kern.evaluate(s.points).numpy(), rtol=1e-12)
    assert len(bc.of_dim(0)) >= 1 and sum(b.essential for b in bc.bars) >= 1
    for b in bc.bars:
        assert s.values[b.birth_at[0]] == b.birth
        if not b.essential:
            assert s.values[b.death_at[0]] == b.death
    assert bc.value_min == s.values.min()
    again = sample_barcode(kern, -2, 2, uniform=200, starts=8, steps=40, k=8, seed=5)
    assert [(b.birth, b.death) for b in again.bars] == [(b.birth, b.death) for b in bc.bars]
    other = sample_barcode(kern, -2, 2, uniform=200, starts=8, steps=40, k=8, seed=6)
    assert not np.array_equal(other.samples.points, s.points)


def test_descent_lowers_the_loss():
    _, kern = _teacher_kernel()
    with pytest.warns(BarcodeWarning, match=r"12 samples in P = 7 dimensions is fewer than 2\^P"):
        bc = sample_barcode(kern, -2, 2, uniform=0, starts=6, steps=60, k=4, seed=0, record_every=60)
    s = bc.samples
    first, last = s.values[:6], s.values[6:]
    assert (last <= first + 1e-12).all() and last.mean() < first.mean()


# -------------------------------------------------------------------------------- TO-score


def test_to_score_norms_and_normalisation():
    bars = (BarcodeBar(0, 0.0, math.inf, (0,), None), BarcodeBar(0, 1.0, 4.0, (1,), (2,)),
            BarcodeBar(0, 2.0, 6.0, (3,), (4,)), BarcodeBar(1, 3.0, 3.5, (5,), (6,)))
    bc = Barcode(bars, "grid", "grid index", 0.0, 10.0)
    assert bc.to_score("sum") == 7.0  # 3 + 4; the essential segment is excluded
    assert bc.to_score("max") == 4.0
    assert bc.to_score("l2") == 5.0
    assert bc.to_score("sum", normalize=True) == 0.7
    assert bc.to_score("sum", dim=1) == 0.5
    d = bc.to_score_dict()
    assert d["norm"] == "sum" and d["normalized"] is False and d["status"] == "reconstructed"
    with pytest.raises(InvalidSpecError, match="valid norms"):
        bc.to_score("l1")
    with pytest.raises(InvalidSpecError, match="max f - min f"):
        to_score([1.0], value_range=0.0)
    assert to_score([]) == 0.0


@given(st.lists(st.floats(0, 100), max_size=30), st.floats(0.5, 50))
@example([2.215379542100702e-266], 1.0)  # found by hypothesis: the l2 norm squared a tiny length to 0
def test_to_score_laws(lengths, extra):
    s, m, l2 = (to_score(lengths, n) for n in ("sum", "max", "l2"))
    assert m <= l2 * (1 + 1e-12) + 1e-300 and l2 <= s * (1 + 1e-12) + 1e-300  # max <= l2 <= sum
    assert to_score(lengths + [extra], "sum") >= s  # adding a segment never lowers the score
    assert to_score([2 * x for x in lengths], "sum") == pytest.approx(2 * s)  # homogeneous


def test_json_schema_and_roundtrip():
    bc = grid_barcode(np.array([3.0, 1.0, 2.0, 0.0, 4.0]))
    d = json.loads(json.dumps(bc.to_dict()))
    assert {"bars", "to_score"} <= set(d)
    for bar in d["bars"]:
        assert {"dim", "birth", "death", "birth_at", "death_at", "refined"} <= set(bar)
    assert [bar["death"] for bar in d["bars"]] == [None, 2.0]
    assert d["to_score"]["norm"] == "sum" and d["to_score"]["value"] == 1.0
    back = Barcode.from_dict(d)
    assert back.bars == bc.bars
    with pytest.raises(InvalidSpecError):
        Barcode.from_dict({"bars": [{"dim": 0}]})


def test_trend_rows_are_measurements(tmp_path, quick_trend_rows):  # rows shared with test_barcode_cli.py
    from bettibounds.barcode.plots import plot_trend

    rows = quick_trend_rows  # barcode_trend(True, widths=(2, 3), depths=(1,), keep_barcodes=True)
    assert [(r["width"], r["depth"]) for r in rows] == [(2, 1), (3, 1)]
    for r in rows:
        bc = r["barcode"]
        assert r["to_score"] == bc.to_score("sum")
        assert r["n_segments"] == sum(not b.essential for b in bc.bars)
        assert r["P"] == bc.meta["n_params"] and r["refined"] == sum(b.refined for b in bc.bars)
    assert Path(plot_trend(rows, tmp_path)[0]).stat().st_size > 5000


# ------------------------------------------------------------------------- regressions (review)


class _Terraces:
    """A piecewise-constant landscape (values on a few levels: many exact ties, zero gradient)."""

    n_params = 2
    dtype = torch.float64
    device = torch.device("cpu")

    def evaluate(self, theta):
        th = torch.as_tensor(theta, dtype=torch.float64)
        return torch.floor(2 * (torch.cos(2 * th[:, 0]) + torch.cos(3 * th[:, 1]))) / 2

    def evaluate_chunked(self, points, mode="full", progress=False):
        with torch.no_grad():
            return self.evaluate(torch.as_tensor(np.asarray(points))).numpy()


def test_refinement_partners_are_right_when_losses_tie():
    """With tied losses gudhi and the union-find sweep pick different vertices; the partner of a
    segment must still be an older minimum that its forest path reaches at exactly the death level."""
    bc = sample_barcode(_Terraces(), -2, 2, uniform=150, starts=0, k=5, seed=0, refine=100)
    attempts = bc.meta["refinement"]
    assert len(attempts) == sum(not b.essential for b in bc.bars) > 0
    vals = bc.samples.values
    for att in attempts:
        assert att["graph_path_level"] == att["graph_estimate"]
        assert vals[att["partner_id"]] <= vals[att["birth_id"]] and att["partner_id"] != att["birth_id"]


def test_minimax_tree_ignores_repeated_edges():
    # the edge 0-1 (level 0) given three times: summing its weights made the tree route 0 -> 2 -> 1
    tree = minimax_tree([0.0, 0.0, 1.0], [[0, 1], [0, 1], [0, 1], [0, 2], [1, 2]])
    assert tree_path(tree, 0, 1) == [0, 1]


def test_knn_graph_with_huge_or_offset_coordinates():
    # |x|^2 overflowed (1e200) and swamped tiny distances far from the origin (float32)
    edges = knn_graph([[1e200], [1e200], [3.0]], k=1, device="cpu").tolist()
    assert [0, 1] in edges and len(edges) == 2  # 0 and 1 coincide; 2 is as far from either
    pts = 1000.0 + np.array([[0.0], [1e-3], [3e-3], [7e-3]])
    assert knn_graph(pts, k=1, device="cpu", dtype="float32").tolist() == [[0, 1], [1, 2], [2, 3]]


@pytest.mark.parametrize("call,match", [
    (lambda: lower_star_h0([1.0, 0.0, 2.0], [[0, 1, 2]]), "edges"),
    (lambda: lower_star_h0([1.0, 0.0, 2.0], [[0.5, 1]]), "edges"),
    (lambda: union_find_h0([1.0, 0.0], "ab"), "edges"),
    (lambda: to_score(["a"]), "lengths"),
    (lambda: to_score(None), "lengths"),
    (lambda: grid_barcode(np.ones(3)).to_score(dim="a"), "dim"),
    (lambda: grid_barcode(np.ones(3), axes=5), "axes"),
    (lambda: __import__("bettibounds.barcode", fromlist=["x"]).grid_coordinates(
        grid_barcode(np.ones(3)), (10,)), "index"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), "a", 2, uniform=5, starts=0), "box"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), -1, 1, uniform=5, starts=0, seed=-1), "seed"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), -1, 1, uniform=5, starts=0, refine=1,
                            refine_options={"return_paths": True}), "refine_options"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), -1, 1, uniform=5, starts=0, refine=-1), "refine"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), -1, 1, uniform=5, starts=0, refine="most"),
     "refine"),
    (lambda: sample_barcode(MinOfQuadratics([[0.0, 0.0]], [0.0]), -1, 1, uniform=5, starts=0, refine=True), "refine"),
    (lambda: refine_path(MinOfQuadratics([[0.0, 0.0]], [0.0]), [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), "P = 2"),
    (lambda: refine_path(MinOfQuadratics([[0.0, 0.0]], [0.0]), [[0.0, 0.0], [1.0, 0.0]], low=2, high=-2), "box"),
])
def test_bad_library_input_raises_bettibounds_errors(call, match):
    with pytest.raises(InvalidSpecError, match=match):
        call()


def test_barcode_plot_axis_spans_the_loss_range_and_titles_in_the_singular(tmp_path, monkeypatch):
    """issue 20 item 8: the barcode axis spans [min f, max f] (or only the segments on request); axis
    labels t_1, t_2; "1 minimum", not "1 minima"."""
    from bettibounds.barcode import Barcode, BarcodeBar
    from bettibounds.barcode import plots as bplots

    seen = {}

    def record(plt, fig, ax, out, name, written, **kw):
        seen[name] = (ax.get_xlim(), kw, ax.get_legend_handles_labels()[1])
        plt.close(fig)
        written.append(str(out / name))

    monkeypatch.setattr(bplots, "finish", record)
    bars = (BarcodeBar(0, 1.0, 2.0, (0, 0), (1, 1)), BarcodeBar(0, 0.5, float("inf"), (2, 2), None))
    bc = Barcode(bars, "grid", "grid index", 0.5, 40.0, {"axes": [np.linspace(-1, 1, 3)] * 2, "kind": "slice"})
    bplots.plot_barcode(bc, tmp_path, name="loss.png")
    bplots.plot_barcode(bc, tmp_path, name="segments.png", x_range="segments")
    assert seen["loss.png"][0][1] >= 40.0 and seen["loss.png"][0][0] <= 0.5
    assert seen["segments.png"][0][1] < 40.0
    with pytest.raises(InvalidSpecError, match="x_range"):
        bplots.plot_barcode(bc, tmp_path, x_range="all")
    one = Barcode(bars[1:], "grid", "grid index", 0.5, 40.0, {"axes": [np.linspace(-1, 1, 3)] * 2, "kind": "slice"})
    bplots.plot_minima(one, np.arange(9.0).reshape(3, 3), tmp_path)
    kw = seen["minima.png"][1]
    assert kw["title"].startswith("1 minimum of") and (kw["xlabel"], kw["ylabel"]) == ("t_1", "t_2")
    assert seen["minima.png"][2] == ["minimum (birth)"]  # trial 8: no "merge saddle" in the legend without one
    bplots.plot_minima(bc, np.arange(9.0).reshape(3, 3), tmp_path)
    assert seen["minima.png"][2] == ["minimum (birth)", "merge saddle (death)"]
    # trial 8: one essential segment and losses up to 0.3: the axis ran to 1.0 (birth + 1)
    alone = Barcode((BarcodeBar(0, 0.1, float("inf"), (2, 2), None),), "grid", "grid index", 0.1, 0.3,
                    {"axes": [np.linspace(-1, 1, 3)] * 2, "kind": "slice"})
    bplots.plot_barcode(alone, tmp_path, name="alone.png")
    assert seen["alone.png"][0][1] == pytest.approx(0.3)


def test_grid_minima_along_the_axes_only_are_flagged():
    """Trial 8: a trained regressor's slice showed "minima" one grid step off a valley running diagonally, lower
    than their axis neighbours only (the V-construction joins vertices along the axes). A convex quadratic with
    such a valley has one minimum; on a 9 x 9 grid it has 8 finite index-0 segments, every one of them flagged,
    while separate basins on the axes are not."""
    from bettibounds.barcode.grid import AXIS_ONLY_CAVEAT, EDGE_CAVEAT, grid_bar_caveats

    t = np.linspace(-1, 1, 9)
    X, Y = np.meshgrid(t, t, indexing="ij")
    valley = grid_barcode(5 * (X - Y) ** 2 + 0.1 * (X + Y) ** 2)
    finite = [(b, c) for b, c in zip(valley.bars, grid_bar_caveats(valley)) if not b.essential]
    assert len(finite) == 8 and all(AXIS_ONLY_CAVEAT in c for _, c in finite)
    assert sorted(c for b, c in finite if b.birth_at in ((0, 0), (8, 8))) == [f"{EDGE_CAVEAT}; {AXIS_ONLY_CAVEAT}"] * 2
    assert [c for b, c in zip(valley.bars, grid_bar_caveats(valley)) if b.essential] == [""]
    assert valley.to_dict()["meta"]["axis_only_minima"] == [list(b.birth_at) for b, _ in finite]
    basins = grid_barcode(np.cos(2 * np.pi * X) + np.cos(2 * np.pi * Y) + 0.1 * X)  # minima at (+-1/2, +-1/2)
    caveats = grid_bar_caveats(basins)
    assert sum(1 for b in basins.bars if b.dim == 0) == 4 and all(AXIS_ONLY_CAVEAT not in c for c in caveats)


def test_a_split_knn_graph_and_a_capped_k_are_said():
    """Trial 8: with --k 10 the sample barcode had two essential segments and nothing said the graph was split
    (only docs/theory.md §12 explained it); and the protocol line printed the capped k as "k = 467 (4P)" where
    4P was 692."""
    from bettibounds.barcode.sampling import protocol_text

    f = MinOfQuadratics([[-1.0, 0.0], [1.0, 0.2]], [0.0, 0.3])
    with pytest.warns(BarcodeWarning) as caught:
        split = sample_barcode(f, -2.0, 2.0, uniform=60, starts=0, k=1, seed=0)
    parts = sum(1 for b in split.bars if b.essential)
    assert parts > 1
    assert any(f"the k-NN graph has {parts} connected components" in str(w.message) for w in caught)
    whole = sample_barcode(f, -2.0, 2.0, uniform=60, starts=0, k=12, seed=0)
    assert sum(1 for b in whole.bars if b.essential) == 1
    assert not any("connected components" in w for w in whole.meta.get("warnings", []))
    with pytest.warns(BarcodeWarning):
        capped = sample_barcode(f, -2.0, 2.0, uniform=5, starts=0, seed=0)  # 4P = 8 > the 4 other samples
    assert protocol_text(capped.meta).startswith("protocol: k = 4 (4P = 8, capped at the other samples)")
    assert protocol_text(whole.meta).startswith("protocol: k = 12;")
