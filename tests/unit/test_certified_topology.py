"""Certified Betti numbers of sublevel sets on slices (docs/theory.md §13, Theorem 13.1).

Every landscape here is a network loss whose sublevel sets were built on purpose, so the true
Betti numbers are known in closed form:

* **wells / ring**: an identity 2-2-1 network on a slice where the loss is
  f(t) = ((t_1^2 - 1)^2 + (t_2^2 - 1)^2) / 2: four wells below the saddle value 1/2, a ring
  (b_1 = 1) between 1/2 and the maximum 1 at the origin, a disk above;
* **comb**: f(t) = ((t_1 + 2)^2 + ((t_2 + 1/4)^2 - 1/100)^2) / 2, increasing in t_1 on the
  box, so X_c deformation-retracts onto its trace on the left edge, which has two pieces for
  1/2 < c < 1/2 + 1/20000: the case where a cell's lower face meets X_c twice;
* **1-D double well** (t^2 - 1)^2 on a 1-D slice;
* **teacher orbit**: tanh 1-1-1 without bias on data of the teacher (1.5, 1), over both
  parameters: the minimum 0 is attained at the orbit {(1.5, 1), (-1.5, -1)}.

Levels at critical values (the minimum, the saddles, the maximum) must come back "not
certified" or right; mutation tests show that a wrong classification rule produces wrong
"certified" numbers on these very examples, so these tests would catch it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bettibounds.certified import boxes, segments, subdivision
from bettibounds.certified import topology as T
from bettibounds.certified.loss_enclosure import SliceLoss
from bettibounds.spec import ArchitectureSpec

pytest.importorskip("scipy")


def _identity_221(center, D, y):
    spec = ArchitectureSpec(inputs=2, widths=(2,), outputs=1, activation="identity", loss="mse", samples=2,
                            bias=False)
    return SliceLoss(spec, [[1.0, 0.0], [0.0, 1.0]], y, center, D)


def wells(low=-1.7, high=1.9):
    D = np.zeros((2, 6))
    D[0, [0, 4]] = 1  # w_11 = v_1 = t_1
    D[1, [3, 5]] = 1  # w_22 = v_2 = t_2
    return T.BoxOracle(_identity_221(np.zeros(6), D, [[1.0], [1.0]]), [low, low], [high, high])


def comb():
    c0 = np.array([1.0, 0.0, 0.0, 0.25, 2.0, 0.25])  # w_11 = 1, v_1 = t_1 + 2, w_22 = v_2 = t_2 + 1/4
    D = np.zeros((2, 6))
    D[0, 4] = 1
    D[1, [3, 5]] = 1
    return T.BoxOracle(_identity_221(c0, D, [[0.0], [0.01]]), [-1.0, -1.0], [1.0, 1.0])


WELLS_TRUTH = {1e-6: (4, 0), 0.2: (4, 0), 0.45: (4, 0), 0.55: (1, 1), 0.7: (1, 1), 0.99: (1, 1), 1.5: (1, 0),
               3.0: (1, 0)}
WELLS_CRITICAL = {0.0: (4, 0), 0.5: (1, 1), 1.0: (1, 0)}  # minimum (4 points), saddles, maximum


def _level(oracle, c, seconds=20.0):
    return T.certify_level(oracle, c, T.Limits(seconds=seconds))


def test_wells_and_ring_are_certified_right():
    orc = wells()
    for c, truth in WELLS_TRUTH.items():
        r = _level(orc, c)
        assert r.certified, (c, r.reason)
        assert r.betti == truth, c
        # X_c reaches the box's boundary only above min over the edges of f = 1.786...
        assert r.meets_boundary == (c > 1.786), c
        assert r.cells > 0 and r.seconds >= 0


def test_critical_levels_are_not_certified_or_right():
    for box in ((-1.7, 1.9), (-2.0, 2.0)):  # (-2, 2): the saddles and the origin are subdivision vertices
        orc = wells(*box)
        for c, truth in WELLS_CRITICAL.items():
            r = _level(orc, c, seconds=10)
            assert (not r.certified) or r.betti == truth, (box, c, r.betti)
            if not r.certified:
                assert r.reason.startswith("not certified: ") and r.location is not None


def test_the_minimum_level_reports_a_possible_critical_value_where():
    r = _level(wells(), 0.0)
    assert not r.certified and "critical value" in r.reason
    assert min(math.dist(r.location, (s1, s2)) for s1 in (-1, 1) for s2 in (-1, 1)) < 1e-3


def test_comb_face_meets_the_level_set_twice():
    orc = comb()
    for c, truth in ((0.500025, (2, 0)), (0.50004, (2, 0)), (0.5002, (1, 0)), (0.6, (1, 0))):
        r = _level(orc, c)
        assert r.certified and r.betti == truth and r.meets_boundary, (c, r.reason)
    r = _level(orc, 0.5, seconds=5)  # the minimum of f on the box's edge t_1 = -1: two points
    assert not r.certified or r.betti == (2, 0)
    assert "box's edge t_1 = -1" in r.reason


def test_one_dimensional_double_well():
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="identity", loss="mse", samples=1, bias=False)
    sl = SliceLoss(spec, [[1.0]], [[1.0]], [0.0, 0.0], [[1.0, 1.0]])  # u = t^2: f = (t^2 - 1)^2
    orc = T.BoxOracle(sl, [-1.6], [1.8])
    for c, truth, meets in ((0.5, (2, 0), False), (1e-8, (2, 0), False), (2.0, (1, 0), False), (3.0, (1, 0), True)):
        r = _level(orc, c)
        assert r.certified and r.betti == truth and r.meets_boundary == meets, (c, r.reason)
    for c, truth in ((0.0, (2, 0)), (1.0, (1, 0))):  # the minima; the local maximum at t = 0
        r = _level(orc, c, seconds=5)
        assert not r.certified or r.betti == truth


def test_teacher_orbit_two_components():
    x = np.sort(np.random.default_rng(11).uniform(-2, 2, 6))
    y = 1.0 * np.tanh(1.5 * x)
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="tanh", loss="mse", samples=6, bias=False)
    sl = SliceLoss(spec, x[:, None].tolist(), y[:, None].tolist(), [0.0, 0.0], np.eye(2))
    orc = T.BoxOracle(sl, [-3.0, -3.0], [3.0, 3.0])
    r = _level(orc, 1e-3)
    assert r.certified and r.betti == (2, 0) and r.meets_boundary is False, r.reason
    r = _level(orc, 0.0, seconds=5)  # S_0 is the orbit: two points
    assert not r.certified or r.betti == (2, 0)


# ------------------------------------------------------------------ mutation tests
def test_mutation_tolerant_level_rule_is_caught(monkeypatch):
    """A rule that calls a cell OUT when its enclosure is merely *close* above c certifies a
    wrong number at the minimum level (S_0 = four points): the critical-level test catches it."""
    def tolerant(flo, fhi, c):
        return np.where(fhi <= c + 1e-9, T.IN, np.where(flo > c - 1e-9, T.OUT, T.SPLIT))

    for module in (boxes, segments, subdivision):  # every module that decides with the rule
        monkeypatch.setattr(module, "level_rule", tolerant)
    r = _level(wells(), 0.0)
    assert r.certified and r.betti != WELLS_CRITICAL[0.0]


def test_mutation_skipping_the_connectivity_checks_is_caught(monkeypatch):
    """Accepting monotone cells whose lower face meets X_c twice (and segments met twice)
    merges the comb's two components: the comb test catches it."""
    original = T.analyse_segments

    def one_component(oracle, keys, axes, c, ctx):
        return [T.SegmentResult(min(r.components, 1) if r.ok else 1, r.start_in, r.end_in)
                for r in original(oracle, keys, axes, c, ctx)]

    for module in (subdivision, T):  # every module that isolates roots on segments
        monkeypatch.setattr(module, "analyse_segments", one_component)
    r = _level(comb(), 0.500025)
    assert r.certified and r.betti == (1, 0)  # wrong: the truth is (2, 0)


# ------------------------------------------------------------------ combinatorics
def _random_quadtree(rng, depth=4, p=0.45):
    full = 1 << T.DMAX
    leaves = [(0, full, 0, full)]
    out = []
    while leaves:
        c = leaves.pop()
        w = c[1] - c[0]
        if w > full >> depth or (w > full >> (depth + 2) and rng.uniform() < p):
            I0, I1, J0, J1 = c
            Im, Jm = (I0 + I1) // 2, (J0 + J1) // 2
            leaves += [(I0, Im, J0, Jm), (Im, I1, J0, Jm), (I0, Im, Jm, J1), (Im, I1, Jm, J1)]
        else:
            out.append(c)
    return np.array(out, dtype=np.int64)


def test_shared_segments_match_brute_force():
    rng = np.random.default_rng(3)
    leaves = _random_quadtree(rng, depth=2)
    for a in (0, 1):
        keys, lft, rgt = T.shared_segments(leaves, a)
        o = 1 - a
        found = {(tuple(k), int(l), int(r)) for k, l, r in zip(keys.tolist(), lft, rgt)}
        want = set()
        for i, P in enumerate(leaves.tolist()):
            for j, Q in enumerate(leaves.tolist()):
                if P[2 * a + 1] == Q[2 * a] and min(P[2 * o + 1], Q[2 * o + 1]) > max(P[2 * o], Q[2 * o]):
                    k = [0] * 4
                    k[2 * a] = k[2 * a + 1] = P[2 * a + 1]
                    k[2 * o], k[2 * o + 1] = max(P[2 * o], Q[2 * o]), min(P[2 * o + 1], Q[2 * o + 1])
                    want.add((tuple(k), i, j))
        inner = {f for f in found if f[1] >= 0 and f[2] >= 0}
        assert inner == want
        # the boundary pieces cover the box's two edges on this axis exactly once
        edge = sorted((f[0][2 * o], f[0][2 * o + 1]) for f in found if f[1] < 0 or f[2] < 0)
        assert sum(e[1] - e[0] for e in edge) == 2 << T.DMAX


def test_nerve_counts_match_gudhi_on_cubical_sets():
    """The Euler-characteristic formula of Theorem 13.1 against the nerve built by definition
    (gudhi), for X = a union of closed quadtree cells and the cover by X ∩ Q."""
    gudhi = pytest.importorskip("gudhi")
    rng = np.random.default_rng(7)
    for trial in range(4):
        leaves = _random_quadtree(rng, depth=3)
        S = rng.uniform(size=len(leaves)) < 0.55

        cells_in_x = leaves[S].tolist()

        def meets(box, cells_in_x=cells_in_x):  # does the closed box meet the union of the cells in S?
            return any(box[0] <= L[1] and L[0] <= box[1] and box[2] <= L[3] and L[2] <= box[3]
                       for L in cells_in_x)

        nonempty = np.array([meets(L) for L in leaves.tolist()])
        pairs, seg_ne = [], []
        for a in (0, 1):
            keys, lft, rgt = T.shared_segments(leaves, a)
            inner = (lft >= 0) & (rgt >= 0)
            for k, l, r in zip(keys[inner].tolist(), lft[inner], rgt[inner]):
                pairs.append((l, r))
                seg_ne.append(meets(k))
        corners = np.unique(np.concatenate([leaves[:, [0, 2]], leaves[:, [1, 2]], leaves[:, [0, 3]],
                                            leaves[:, [1, 3]]]), axis=0)
        full = 1 << T.DMAX
        interior = [(I, J) for I, J in corners.tolist() if 0 < I < full and 0 < J < full]
        v_in = sum(meets((I, I, J, J)) for I, J in interior)
        b0, chi, b1 = T.nerve_counts(len(leaves), nonempty, pairs, seg_ne, v_in)
        st = gudhi.SimplexTree()
        for i in np.flatnonzero(nonempty):
            st.insert([int(i)])
        for (l, r), ne in zip(pairs, seg_ne):
            if ne:
                st.insert([int(l), int(r)])
        for I, J in interior:
            if meets((I, I, J, J)):
                star = [i for i, L in enumerate(leaves.tolist()) if L[0] <= I <= L[1] and L[2] <= J <= L[3]]
                st.insert([int(i) for i in star])  # all faces of the star's simplex
        st.compute_persistence(persistence_dim_max=True)
        betti = st.betti_numbers() + [0, 0]
        assert (b0, b1) == (betti[0], betti[1]), trial
        assert chi == sum((-1) ** d for s, _ in st.get_simplices() for d in [len(s) - 1])


def test_not_certified_intervals_show_ends_that_differ():
    # the reason printed [0.421705530520, 0.421705530520]: too few digits to see the interval
    assert T.distinct_ends(0.5 - 1e-14, 0.5 + 1e-14, 12) == ("0.49999999999999", "0.50000000000001")
    assert T.distinct_ends(0.25, 0.75) == ("0.25", "0.75")  # no more digits than needed
    assert T.distinct_ends(1.0, 1.0) == ("1", "1")
    lo, hi = 0.4217055305203443, 0.42170553052034436  # adjacent float64 numbers
    a, b = T.distinct_ends(lo, hi)
    assert a != b and float(a) == lo and float(b) == hi
    f = {"c": 0.5, "centre": (0.1, 0.2), "kind": "cell", "f": (0.5 - 1e-14, 0.5 + 1e-14), "grad_contains_zero": True}
    reason, _ = T._explain(f, None)
    assert "[0.49999999999999, 0.50000000000001]" in reason
