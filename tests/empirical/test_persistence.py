"""Sublevel-set persistence (bettibounds.empirical.persistence): V-construction checks.

Oracles independent of both backends: ``scipy.ndimage.label`` (cross-shaped structuring
element = axis connectivity) for b_0, the Euler characteristic of the sublevel cubical
complex counted cell by cell, constructed landscapes whose topology is known, and the two
backends against each other.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

pytest.importorskip("gudhi")
pytest.importorskip("cripser")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from scipy import ndimage  # noqa: E402

from bettibounds.empirical.persistence import (  # noqa: E402
    PersistenceDiagram,
    betti_curve,
    betti_numbers_at,
    sublevel_persistence,
)
from bettibounds.errors import InvalidSpecError  # noqa: E402

BACKENDS = ["gudhi", "cripser"]


# ------------------------------------------------------------------------------ helpers


def n_components(values: np.ndarray, level: float) -> int:
    """b_0 oracle: components of {values <= level}, axis (cross-shaped) connectivity."""
    return int(ndimage.label(values <= level)[1])


def euler_characteristic(values: np.ndarray, level: float) -> int:
    """chi of the V-construction sublevel complex, counting its cells directly.

    A cell of the grid's cubical complex is a vertex v plus a set S of axes; it spans the
    vertices v + sum of any subset of the unit vectors of S and is in the sublevel complex
    when all of them are <= level. chi = sum over cells of (-1)^|S|.
    """
    mask = values <= level
    nd = values.ndim
    chi = 0
    for r in range(nd + 1):
        for axes in itertools.combinations(range(nd), r):
            base = tuple(slice(0, -1) if a in axes else slice(None) for a in range(nd))
            cells = mask[base].copy()
            for shift in itertools.product((0, 1), repeat=r):
                idx = list(base)
                for a, s in zip(axes, shift):
                    idx[a] = slice(s, mask.shape[a] - 1 + s)
                cells &= mask[tuple(idx)]
            chi += (-1) ** r * int(cells.sum())
    return chi


def check_locations(values: np.ndarray, dgm: PersistenceDiagram) -> None:
    """The value at each reported vertex is the bar's birth / death."""
    for k in dgm.dims:
        bars, b_at, d_at = dgm.bars[k], dgm.birth_at[k], dgm.death_at[k]
        assert b_at.shape == (len(bars), values.ndim)
        if len(bars):
            assert np.array_equal(values[tuple(b_at.T)], bars[:, 0])
        fin = np.isfinite(bars[:, 1])
        if fin.any():
            assert np.array_equal(values[tuple(d_at[fin].T)], bars[fin, 1])
        assert (d_at[~fin] == -1).all()
        assert (bars[:, 0] < bars[:, 1]).all()


def levels_of(values: np.ndarray) -> list[float]:
    """Levels exactly at, between, below and above the values (ties included)."""
    u = np.unique(values)
    mids = (u[:-1] + u[1:]) / 2 if len(u) > 1 else u
    return sorted({float(u[0]) - 1, float(u[-1]) + 1, *u[:: max(1, len(u) // 6)].tolist(),
                   *mids[:: max(1, len(mids) // 6)].tolist()})


def grid(n: int, nd: int) -> list[np.ndarray]:
    return np.meshgrid(*([np.linspace(-1.0, 1.0, n)] * nd), indexing="ij")


def _examples(n: int) -> int:
    """``n`` examples, or more when the loaded hypothesis profile asks for more."""
    return max(n, settings().max_examples)


small_ints = st.integers(min_value=0, max_value=6)


def int_arrays(nd: int, max_side: int):
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=nd, max_dims=nd, min_side=1,
                                                   max_side=max_side),
                      elements=small_ints.map(float))


# ---------------------------------------------------------------- b_0 vs scipy.ndimage.label


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=_examples(30))
@given(values=int_arrays(2, 12))
def test_b0_matches_label_2d(backend, values):
    dgm = sublevel_persistence(values, backend=backend)
    levels = levels_of(values)
    b0 = betti_curve(dgm, levels)[0]
    assert b0.tolist() == [n_components(values, c) for c in levels]
    check_locations(values, dgm)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=_examples(20))
@given(values=int_arrays(3, 6))
def test_b0_matches_label_3d(backend, values):
    dgm = sublevel_persistence(values, backend=backend)
    levels = levels_of(values)
    assert betti_curve(dgm, levels)[0].tolist() == [n_components(values, c) for c in levels]
    check_locations(values, dgm)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=_examples(15))
def test_b0_matches_label_random_floats(seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=tuple(rng.integers(2, 9, size=rng.integers(2, 4))))
    dgm = sublevel_persistence(values)
    levels = np.quantile(values, [0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert betti_curve(dgm, levels)[0].tolist() == [n_components(values, c) for c in levels]


@pytest.mark.parametrize("backend", BACKENDS)
def test_axis_connectivity_not_diagonal(backend):
    # The two zeros touch only diagonally: two components until the 5s come in.
    values = np.array([[0.0, 5.0], [5.0, 0.0]])
    dgm = sublevel_persistence(values, backend=backend)
    assert dgm.bars[0].tolist() == [[0.0, 5.0], [0.0, math.inf]]
    assert betti_numbers_at(values, 1.0, dims=[0, 1], backend=backend) == {0: 2, 1: 0}
    assert n_components(values, 1.0) == 2


# ------------------------------------------ the path example of docs/theory.md §12


@pytest.mark.parametrize("backend", BACKENDS)
def test_theory_path_example(backend):
    values = np.array([3.0, 1.0, 2.0, 0.0, 4.0])
    dgm = sublevel_persistence(values, backend=backend)
    assert dgm.backend == backend and dgm.shape == (5,) and dgm.dims == [0]
    assert sorted(map(tuple, dgm.bars[0].tolist())) == [(0.0, math.inf), (1.0, 2.0)]
    bars = {(b.birth, b.death): b for b in dgm.intervals(0)}
    assert bars[(1.0, 2.0)].birth_at == (1,) and bars[(1.0, 2.0)].death_at == (2,)
    assert bars[(0.0, math.inf)].birth_at == (3,) and bars[(0.0, math.inf)].death_at is None
    curve = betti_curve(dgm, [-1, 0, 0.5, 1, 1.5, 2, 3, 10])[0]
    assert curve.tolist() == [0, 1, 1, 2, 2, 1, 1, 1]


# ------------------------------------------------------------- landscapes of known topology


def three_wells():
    """min of three paraboloids: sublevel set = union of three disks; no other minima."""
    X, Y = grid(81, 2)
    centres = [(-0.5, -0.45), (0.55, -0.35), (0.0, 0.55)]
    depths = [0.0, 0.1, 0.2]
    wells = [d + (X - cx) ** 2 + (Y - cy) ** 2 for (cx, cy), d in zip(centres, depths)]
    return np.minimum.reduce(wells), wells, centres, depths


def merge_level(values: np.ndarray, p: tuple, q: tuple) -> float:
    """Lowest grid value c with p, q in one component of {values <= c} (bisection + label)."""
    u = np.unique(values)
    lo, hi = 0, len(u) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        lab = ndimage.label(values <= u[mid])[0]
        if lab[p] != 0 and lab[p] == lab[q]:
            hi = mid
        else:
            lo = mid + 1
    return float(u[lo])


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_wells(backend):
    values, wells, centres, depths = three_wells()
    dgm = sublevel_persistence(values, backend=backend)
    h0 = dgm.intervals(0)
    assert len(h0) == 3  # exactly three wells, no spurious minima
    minima = [np.unravel_index(np.argmin(w), w.shape) for w in wells]
    minima = [tuple(int(i) for i in m) for m in minima]
    # births are the well minima on the grid, born at those vertices
    assert sorted(b.birth for b in h0) == sorted(float(wells[i][minima[i]]) for i in range(3))
    assert sorted(b.birth_at for b in h0) == sorted(minima)
    assert all(values[m] == wells[i][m] for i, m in enumerate(minima))
    # deaths are the saddle values on the grid (elder rule: the younger well dies)
    pair = {(i, j): merge_level(values, minima[i], minima[j])
            for i, j in itertools.combinations(range(3), 2)}
    first = min(pair, key=pair.get)
    young_first = max(first, key=lambda i: values[minima[i]])
    third = ({0, 1, 2} - set(first)).pop()
    expected = sorted([(float(values[minima[young_first]]), pair[first]),
                       (float(values[minima[third]]), max(pair.values())),
                       (float(values[minima[0]]), math.inf)])
    assert sorted((b.birth, b.death) for b in h0) == expected
    for b in h0:
        if b.death_at is not None:
            assert values[b.death_at] == b.death
    # the grid saddles are close to the continuum ones: sqrt(c-d_i) + sqrt(c-d_j) = |c_i-c_j|
    for (i, j), level in pair.items():
        dist = math.dist(centres[i], centres[j])
        lo, hi = max(depths[i], depths[j]), 2.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if math.sqrt(mid - depths[i]) + math.sqrt(mid - depths[j]) >= dist \
                else (mid, hi)
        assert abs(level - lo) < 0.05
    # b_0 = 3 between the deepest well bottom and the first saddle
    level = (max(b.birth for b in h0) + min(pair.values())) / 2
    assert betti_curve(dgm, [level])[0].tolist() == [3] == [n_components(values, level)]
    assert dgm.betti_numbers(level) == {0: 3, 1: 0}
    assert dgm.betti_numbers(max(pair.values()) + 0.01)[0] == 1
    # where the three disks meet there are small grid loops and the central hole (the
    # pairwise overlaps close a ring before the triple one fills it); all gone by 1.0
    assert dgm.betti_numbers(1.0) == {0: 1, 1: 0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_annulus_valley(backend):
    X, Y = grid(81, 2)
    values = (np.hypot(X, Y) - 0.6) ** 2
    dgm = sublevel_persistence(values, backend=backend)
    curve = betti_curve(dgm, [0.01, 0.05, 0.2, 0.35, 0.37, 0.5])
    assert curve[0].tolist() == [1] * 6
    assert curve[1].tolist() == [1, 1, 1, 1, 0, 0]
    # the hole is filled when its last vertex, the centre (value 0.36), comes in
    longest = max(dgm.intervals(1), key=lambda b: b.death - b.birth)
    assert longest.death == pytest.approx(0.36) and longest.death_at == (40, 40)


@pytest.mark.parametrize("backend", BACKENDS)
def test_spherical_shell_valley(backend):
    X, Y, Z = grid(25, 3)
    values = (np.sqrt(X ** 2 + Y ** 2 + Z ** 2) - 0.6) ** 2
    dgm = sublevel_persistence(values, backend=backend)
    assert dgm.dims == [0, 1, 2]
    for c in (0.03, 0.1, 0.3):
        assert dgm.betti_numbers(c) == {0: 1, 1: 0, 2: 1}
    assert dgm.betti_numbers(0.5) == {0: 1, 1: 0, 2: 0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_solid_torus_valley(backend):
    X, Y, Z = grid(27, 3)
    values = (np.hypot(X, Y) - 0.6) ** 2 + Z ** 2
    dgm = sublevel_persistence(values, backend=backend)
    for c in (0.03, 0.1, 0.3):
        assert dgm.betti_numbers(c) == {0: 1, 1: 1, 2: 0}
    assert dgm.betti_numbers(0.5) == {0: 1, 1: 0, 2: 0}


# -------------------------------------------------------------------- backends agree


@pytest.mark.parametrize("shape", [(23, 17), (9, 8, 7), (5, 6, 4, 5), (40,), (1, 9), (4, 1, 6)])
@pytest.mark.parametrize("kind", ["float", "ties"])
def test_gudhi_equals_cripser(shape, kind):
    rng = np.random.default_rng(sum(shape) + (kind == "ties"))
    for _ in range(3):
        values = rng.random(shape) if kind == "float" else rng.integers(0, 5, shape).astype(float)
        g = sublevel_persistence(values, backend="gudhi")
        c = sublevel_persistence(values, backend="cripser")
        assert g.dims == c.dims == list(range(len(shape)))
        for k in g.dims:
            assert np.array_equal(g.bars[k], c.bars[k]), (k, values)
        check_locations(values, g)
        check_locations(values, c)


def test_auto_and_high_dimensional():
    rng = np.random.default_rng(5)
    values = rng.random((3, 3, 3, 3, 3))
    dgm = sublevel_persistence(values)  # only gudhi does 5-D
    assert dgm.backend == "gudhi" and dgm.dims == [0, 1, 2, 3, 4]
    check_locations(values, dgm)
    for c in np.quantile(values, [0.2, 0.5, 0.8]):
        b = dgm.betti_numbers(c)
        assert b[0] == n_components(values, c)
        assert sum((-1) ** k * v for k, v in b.items()) == euler_characteristic(values, c)
    with pytest.raises(InvalidSpecError, match="1-D to 4-D"):
        sublevel_persistence(values, backend="cripser")
    assert sublevel_persistence(rng.random((6, 6))).backend in ("gudhi", "cripser")


def test_max_dim_and_degenerate_shapes():
    rng = np.random.default_rng(1)
    values = rng.random((6, 7))
    full = sublevel_persistence(values)
    only0 = sublevel_persistence(values, max_dim=0)
    assert only0.dims == [0] and np.array_equal(only0.bars[0], full.bars[0])
    more = sublevel_persistence(values, max_dim=3)
    assert more.dims == [0, 1, 2, 3] and len(more.bars[2]) == len(more.bars[3]) == 0
    single = sublevel_persistence(np.array([[2.5]]))
    assert single.bars[0].tolist() == [[2.5, math.inf]]
    assert single.intervals(0)[0].birth_at == (0, 0)
    ints = sublevel_persistence(np.array([3, 1, 2, 0, 4]))
    assert ints.bars[0].tolist() == [[0.0, math.inf], [1.0, 2.0]]


# ---------------------------------------------------------------------- betti_curve


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=_examples(20))
def test_betti_curve_matches_direct_count(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 8, size=(7, 6, 5)).astype(float)
    dgm = sublevel_persistence(values)
    levels = np.concatenate([np.unique(values), np.unique(values) + 0.5, [-1.0]])
    curve = betti_curve(dgm, levels)
    for k in dgm.dims:
        bars = dgm.bars[k]
        direct = [int(((bars[:, 0] <= c) & (c < bars[:, 1])).sum()) for c in levels]
        assert curve[k].tolist() == direct
    assert betti_curve(dgm, 3.0)[0].shape == ()
    assert betti_curve(dgm, [[1.0, 2.0]], dims=[1])[1].shape == (1, 2)


# -------------------------------------------------------------------- Euler characteristic


@pytest.mark.parametrize("nd,side", [(2, 14), (3, 7), (4, 4)])
def test_euler_characteristic(nd, side):
    rng = np.random.default_rng(nd)
    for trial in range(4):
        values = rng.random((side,) * nd) if trial % 2 else \
            rng.integers(0, 4, (side,) * nd).astype(float)
        dgm = sublevel_persistence(values)
        for c in levels_of(values):
            b = dgm.betti_numbers(c)
            assert sum((-1) ** k * v for k, v in b.items()) == euler_characteristic(values, c)


# -------------------------------------------------------------------- serialisation


def test_to_dict_is_json_and_round_trips():
    values = np.array([3.0, 1.0, 2.0, 0.0, 4.0])
    dgm = sublevel_persistence(values, backend="cripser")
    d = dgm.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["dims"]["0"]["death"] == [None, 2.0]
    assert d["dims"]["0"]["death_at"] == [None, [2]]
    assert d["backend"] == "cripser" and d["shape"] == [5] and d["coefficients"] == "Z/2"
    back = PersistenceDiagram.from_dict(json.loads(text))
    assert back.intervals(0) == dgm.intervals(0)
    with pytest.raises(InvalidSpecError):
        PersistenceDiagram.from_dict({"shape": [2]})


def _mutate(d, dim, key, i, value):
    out = json.loads(json.dumps(d))
    if value is _DROP:
        out["dims"][dim][key].pop(i)
    else:
        out["dims"][dim][key][i] = value
    return out


_DROP = object()


@pytest.mark.parametrize("dim, key, i, value, match", [
    ("0", "death", 1, 0.5, "birth 1.0 >= death 0.5"),      # an inverted bar: betti_curve would count it as -1
    ("0", "birth", 0, float("nan"), "not finite"),
    ("0", "death", 1, float("nan"), "NaN"),
    ("0", "birth_at", 1, [7], "outside the grid"),
    ("0", "death_at", 1, [-1], "outside the grid"),
    ("0", "birth_at", 1, _DROP, "2 bars but 1 birth"),
])
def test_from_dict_refuses_what_no_diagram_can_be(dim, key, i, value, match):
    d = sublevel_persistence(np.array([3.0, 1.0, 2.0, 0.0, 4.0])).to_dict()  # bars [0, inf) and [1, 2)
    PersistenceDiagram.from_dict(d)
    with pytest.raises(InvalidSpecError, match=match):
        PersistenceDiagram.from_dict(_mutate(d, dim, key, i, value))


DBL_MAX = float(np.finfo(np.float64).max)


@pytest.mark.parametrize("values, b0_at_max", [
    ([0.0, DBL_MAX, 0.0], 1),            # two minima joined by the vertex of value DBL_MAX
    ([DBL_MAX, DBL_MAX], 1),
    ([[0.0, 0.0, 0.0], [0.0, DBL_MAX, 0.0], [0.0, 0.0, 0.0]], 1),
])
def test_the_value_dbl_max_is_a_value_not_infinity(values, b0_at_max):
    # np.nan_to_num turns +inf into DBL_MAX, which cripser uses as its "never dies" marker: auto must not
    # report the bar killed at DBL_MAX as essential, and an explicit cripser must refuse the array
    arr = np.array(values)
    dgm = sublevel_persistence(arr)
    assert dgm.backend == "gudhi"
    assert int(dgm.essential(0).sum()) == 1
    curve = betti_curve(dgm, [DBL_MAX])
    assert curve[0][0] == b0_at_max == n_components(arr, DBL_MAX)
    assert all(curve[k][0] == 0 for k in dgm.dims if k > 0)  # the whole grid: contractible
    assert sublevel_persistence(np.nextafter(arr, 0)).backend == "cripser"
    with pytest.raises(InvalidSpecError, match="DBL_MAX"):
        sublevel_persistence(arr, backend="cripser")


# -------------------------------------------------------------------- invalid input


@pytest.mark.parametrize("bad,match", [
    ([3.0, 1.0, 2.0], "numpy.ndarray"),
    ((1.0, 2.0), "numpy.ndarray"),
    (5.0, "numpy.ndarray"),
    (np.array(2.0), "at least 1 dimension"),
    (np.zeros((0, 3)), "non-empty"),
    (np.array([1.0, np.nan, 2.0]), "finite"),
    (np.array([[1.0, np.inf]]), "finite"),
    (np.array([-np.inf, 0.0]), "finite"),
    (np.array([1 + 2j, 3j]), "real numbers"),
    (np.array(["a", "b"]), "real numbers"),
    (np.array([1.0, None], dtype=object), "real numbers"),
    (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), "masked"),
])
def test_invalid_values_raise(bad, match):
    with pytest.raises(InvalidSpecError, match=match):
        sublevel_persistence(bad)
    with pytest.raises(InvalidSpecError):
        betti_numbers_at(bad, 0.0, dims=[0])


def test_invalid_options_raise():
    values = np.zeros((3, 3))
    with pytest.raises(InvalidSpecError, match="unknown persistence backend"):
        sublevel_persistence(values, backend="ripser")
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InvalidSpecError, match="max_dim"):
            sublevel_persistence(values, max_dim=bad)
    dgm = sublevel_persistence(values)
    with pytest.raises(InvalidSpecError, match="finite"):
        betti_curve(dgm, [0.0, np.nan])
    with pytest.raises(InvalidSpecError, match="float64 range"):
        betti_curve(dgm, 10**400)
    with pytest.raises(InvalidSpecError, match="not computed"):
        betti_curve(dgm, [0.0], dims=[2])
    with pytest.raises(InvalidSpecError, match="PersistenceDiagram"):
        betti_curve({"0": []}, [0.0])
    with pytest.raises(InvalidSpecError, match="single number"):
        betti_numbers_at(values, [0.0, 1.0], dims=[0])
    with pytest.raises(InvalidSpecError, match="dims"):
        betti_numbers_at(values, 0.0, dims=[-1])
    with pytest.raises(InvalidSpecError):
        betti_numbers_at(values, 0.0, dims=[])
    # InvalidSpecError is a ValueError, as everywhere in bettibounds
    with pytest.raises(ValueError):
        sublevel_persistence([1.0])
