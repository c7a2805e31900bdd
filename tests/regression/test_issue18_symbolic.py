"""Issue 18, symbolic-side soundness items (1, 4, 5, 6, 7, 10): one regression test per item.

Each test here fails on the main branch the issue was filed against (b1f5fc3); the docstring of
each test says how it fails there.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bettibounds import ArchitectureSpec as A
from bettibounds import InvalidSpecError, bounds, certify
from bettibounds.pfaffian.chain import certificate_size_guard


# ------------------------------------------------------------------ item 10: certificate size guard
def _limited_cli(args, mem_bytes=1_500_000_000, timeout=60):
    """Run the CLI in a child with an address-space limit, so that an unguarded allocation dies
    (MemoryError, exit 1 with a traceback) instead of exhausting the machine."""
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({mem_bytes}, {mem_bytes})); "
            "from bettibounds.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.mark.parametrize("act", ["polynomial:2", "identity"])
def test_certify_refuses_huge_chainless_networks_before_allocating(act):
    """Item 10. On main the guard multiplied by the chain order (0 here) and the data (10^15 entries)
    were allocated: MemoryError under the limit (exit 1, traceback) or a timeout."""
    out = _limited_cli(["bound", "-d", "1000000", "-w", "1", "-m", "1000000000", "-a", act, "--certify"])
    assert out.returncode == 2, out.stderr[-500:]
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert "samples x P" in out.stderr and "max_checks" in out.stderr


def test_certificate_size_guard_counts_the_real_sizes():
    # chain order 0 but m x P = 10^5 x 303: refused on samples x parameters
    with pytest.raises(InvalidSpecError, match="m = 100000 samples x P = 303"):
        certify(A(inputs=300, widths=(1,), samples=100_000, activation="polynomial:2"))
    # 10^5 inputs: the first pre-activation alone has more than max_terms terms
    with pytest.raises(InvalidSpecError, match="100001 terms"):
        certify(A(inputs=100_000, widths=(1,), samples=1, activation="tanh"))
    # 2 x 10^4 inputs: the ring has ~2 x 10^4 generators, one polynomial of max_terms terms ~ 8 GB
    with pytest.raises(InvalidSpecError, match="GiB"):
        certify(A(inputs=20_000, widths=(1,), samples=1, activation="tanh"))
    # the same network passes a larger memory budget check (the guard, not the build, is tested)
    spec = A(inputs=20_000, widths=(1,), samples=1, activation="tanh")
    certificate_size_guard(spec, 1, 3, 200_000, 50_000, 64 * 2**30)
    with pytest.raises(InvalidSpecError, match="max_bytes"):
        certify(A(inputs=1, widths=(2,), samples=2, activation="tanh"), max_bytes=0)
    # small networks still certify
    assert certify(A(inputs=1, widths=(2,), samples=2, activation="polynomial:2")).verified
    with pytest.raises(InvalidSpecError, match="max_checks"):
        bounds(A(inputs=300, widths=(1,), samples=100_000, activation="identity"), certify=True)


# ------------------------------------------------------------------ item 7: the seed paper's first author
def test_seed_paper_first_author_is_m_s_bucarelli():
    """Item 7. On main the reference (and so the report) said "D. Bucarelli"; the first author of
    arXiv:2401.03824 / Neural Networks 178 (2024) 106465 is Maria Sofia Bucarelli."""
    from bettibounds.references import REFERENCES, cite

    assert cite("Bucarelli2024").startswith("M. S. Bucarelli, G. A. D'Inverno, M. Bianchini, F. Scarselli, ")
    assert not any("D. Bucarelli" in text for text in REFERENCES.values())


# ------------------------------------------------------------------ item 4: slice hypothesis wording
def _k(report):
    (k,) = [b for b in report.upper if b.theorem == "K"]
    return k


def test_slice_hypothesis_names_the_restricted_function():
    """Item 4. On main the hypothesis said "exceptional levels of Loss" on a slice too."""
    spec = A(inputs=2, widths=(3,), samples=4, activation="tanh")
    for k in (2, 5):
        texts = [h.text for h in _k(bounds(spec, slice_dim=k)).hypotheses if "exceptional" in h.text]
        assert len(texts) == 1 and "t -> Loss(theta0 + D t)" in texts[0], texts
    # the full space keeps the hypothesis on Loss itself
    (full,) = [h.text for h in _k(bounds(spec)).hypotheses if "exceptional" in h.text]
    assert full.endswith("exceptional levels of Loss")


# ------------------------------------------------------------------ item 6: n = 1 needs no genericity
def test_one_variable_needs_no_genericity():
    """Item 6. On main a 1-D slice and a d = 1 input space carried the undecided "c is not exceptional"
    hypothesis (results printed yes*)."""
    spec = A(inputs=2, widths=(3,), samples=4, activation="tanh")
    for l2 in (0, 0.5):  # lambda > 0 without the rank: the eps-route still needs nothing at n = 1
        sl = bounds(dataclasses.replace(spec, l2=l2), slice_dim=1)
        for b in sl.upper:
            assert not any("exceptional" in h.text or "rank" in h.text for h in b.hypotheses), b.theorem
        assert not _k(sl).conditional and _k(sl).rigorous and "n = 1" in _k(sl).route
    inp = bounds(A(inputs=1, widths=(3,), activation="logistic"), space="input")
    assert not _k(inp).conditional and "n = d = 1" in _k(inp).route
    # exp: the coercivity hypothesis (growth of u) stays undecided, only genericity is dropped
    expo = _k(bounds(A(inputs=1, widths=(2,), activation="exp"), space="input"))
    assert [h.status for h in expo.hypotheses] == ["undecided"] and "coercive" in expo.hypotheses[0].text
    # n >= 2 keeps it
    assert _k(bounds(spec, slice_dim=2)).conditional
    assert _k(bounds(A(inputs=2, widths=(3,), activation="logistic"), space="input")).conditional


def _components(coeffs, c):
    """Exact number of connected components of {f <= c} for the rational polynomial f (sympy)."""
    import sympy

    x = sympy.Symbol("x")
    poly = sympy.Poly(sum(sympy.Rational(a) * x**i for i, a in enumerate(coeffs)) - c, x)
    ivs = sorted(poly.intervals())  # disjoint isolating intervals of the distinct real roots
    if not ivs:  # no root: f - c has one sign
        return 1 if poly.eval(0) <= 0 else 0
    samples = [ivs[0][0][0] - 1] + [(ivs[i][0][1] + ivs[i + 1][0][0]) / 2 for i in range(len(ivs) - 1)]
    samples.append(ivs[-1][0][1] + 1)
    # alternate pieces and roots along the line: piece_0, root_1, piece_1, ..., root_k, piece_k
    member = []
    for i, smp in enumerate(samples):
        member.append(poly.eval(smp) < 0)
        if i < len(ivs):
            member.append(True)  # a root is in {f <= c}
    return sum(1 for i, m in enumerate(member) if m and (i == 0 or not member[i - 1]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=1, max_size=4, unique=True), st.integers(1, 3),
       st.integers(-3, 3))
def test_one_variable_rule_and_halved_count_on_exact_polynomials(roots, scale, shift):
    """Laws behind items 5 and 6 in one variable, in exact arithmetic. f' = scale * prod (x - a_i) (times (x - 5)
    when needed) makes f of even degree with a positive leading coefficient, so {f <= c} is compact, and puts the
    critical points at integers. At EVERY level c -- in particular at the critical values, the exceptional levels
    -- b_0({f <= c}) <= b_0({f <= c'}) for c' just above c (Proposition 6.7), and b_0 <= floor(K(1, 0, 0, deg f) / 2)
    = floor(deg f / 2), the halved count (docs/theory.md 5)."""
    import sympy

    from bettibounds.theorems import get_theorem

    x = sympy.Symbol("x")
    fprime = scale * sympy.prod([x - a for a in roots])
    if len(roots) % 2 == 0:  # deg f' odd <=> deg f even; make deg f even with a positive leading coefficient
        fprime *= (x - 5)
    f = sympy.integrate(fprime, x) + shift
    coeffs = sympy.Poly(f, x).all_coeffs()[::-1]
    deg = len(coeffs) - 1
    assert deg % 2 == 0 and coeffs[-1] > 0
    crit_values = sorted({f.subs(x, a) for a in sympy.Poly(fprime, x).ground_roots()})
    bound = get_theorem("K").evaluate(n=1, r=0, alpha=0, beta=deg).exact
    assert bound == deg // 2
    levels = crit_values + [v + sympy.Rational(1, 3) for v in crit_values]
    for c in levels:
        others = [abs(v - c) for v in crit_values if v != c]
        c_up = c + (min(others) / 2 if others else 1)  # no critical value in (c, c_up]
        b_c, b_up = _components(coeffs, c), _components(coeffs, c_up)
        assert b_c <= b_up <= bound, (f, c, b_c, b_up)


def test_halved_count_is_attained_in_one_variable():
    """floor(K / 2) cannot be lowered further at n = 1, r = 0: prod (x - 2i)^2 - 1/10 has deg/2 intervals."""
    import sympy

    from bettibounds.theorems import get_theorem

    x = sympy.Symbol("x")
    for k in (1, 2, 3):
        f = sympy.expand(sympy.prod([(x - 2 * i) ** 2 for i in range(k)]))
        coeffs = sympy.Poly(f, x).all_coeffs()[::-1]
        assert _components(coeffs, sympy.Rational(1, 10)) == k == get_theorem("K").evaluate(
            n=1, r=0, alpha=0, beta=2 * k).exact


# ------------------------------------------------------------------ item 5: theorem K halved
def K_count(n, r, a, b):  # the count K(n, r, alpha, beta), typed in again (docs/theory.md 5)
    return 2 ** (r * (r - 1) // 2) * b * (a + b - 1) ** (n - 1) * (min(n, r) * a + b + (n - 1) * (a + b - 2)) ** r


def GV_int(n, r, a, b):
    return 2 ** (r * (r - 1) // 2) * b * (a + 2 * b - 1) ** (n - 1) * ((2 * n - 1) * (a + 2 * b) - 2 * n + 2) ** r


def test_theorem_k_is_halved_everywhere():
    """Item 5. On main theorem K reported the count K (e.g. 9000 for row 1 of docs/theory.md §4.5) on every route."""
    from bettibounds.theorems import get_theorem

    assert get_theorem("K").evaluate(n=4, r=1, alpha=2, beta=4).exact == 4500 == K_count(4, 1, 2, 4) // 2
    spec = A(inputs=2, widths=(2,), samples=3, activation="tanh")
    P = spec.n_params
    assert _k(bounds(spec)).value == K_count(P, 6, 2, 4) // 2  # generic-level route, lambda = 0
    assert _k(bounds(dataclasses.replace(spec, l2=0.1))).value == K_count(P, 6, 2, 4) // 2  # compact route
    assert _k(bounds(spec, slice_dim=2)).value == K_count(2, 6, 2, 4) // 2  # slice
    assert _k(bounds(spec, slice_dim=1)).value == K_count(1, 6, 2, 4) // 2  # n = 1
    inp = bounds(A(inputs=2, widths=(3,), activation="logistic"), space="input")
    assert _k(inp).value == K_count(2, 3, 2, 2) // 2  # input space: (3, 2, 1), beta -> 2
    # symbolic closed forms carry the 1/2
    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    sym = _k(bounds(A.uniform(d, h, L, m, activation="logistic")))
    assert sympy.Integer(sym.symbolic_value.subs({d: 2, h: 2, L: 1, m: 3})) == K_count(9, 6, 2, 4) // 2


def test_the_landscape_comparison_uses_the_halved_value():
    """Item 5: bettibounds.empirical.compare.compare_with_bound decides in exact integers with the bound's
    value; that value is floor(K / 2), so a Betti sum of floor(K / 2) + 1 is a violation."""
    from bettibounds.empirical.compare import compare_with_bound

    bound = _k(bounds(A(inputs=1, widths=(1,), samples=1, activation="tanh"), slice_dim=2))
    half = K_count(2, 1, 2, 4) // 2
    assert bound.value == half == 100  # K = 4 * 5 * [2 + 4 + 4] = 200
    assert compare_with_bound(half, bound, True)["holds"] is True
    assert compare_with_bound(half + 1, bound, True)["holds"] is False


def test_milnor_sup_is_the_halved_count():
    """docs/theory.md 5: floor(K(n, 0, 0, d + 2) / 2) = Milnor's (1/2)(2 + d)(1 + d)^(n-1) (Mi+), whose 1/2 is the
    same trick; on main K was twice Mi+."""
    from bettibounds.theorems import get_theorem

    for n in range(1, 6):
        for d in range(1, 7):
            assert get_theorem("K").evaluate(n=n, r=0, alpha=0, beta=d + 2).exact == \
                get_theorem("Mi+").evaluate(n=n, d=d).exact


natural = st.tuples(st.integers(1, 30), st.integers(0, 12), st.integers(0, 8), st.integers(1, 8)).map(
    lambda t: (t[0], t[1], max(t[2], 1) if t[1] else t[2], 2 if (t[1] == 0 and t[3] == 1) else t[3]))


@given(natural, st.sampled_from(["n", "r", "alpha", "beta"]))
def test_halved_k_is_monotone_and_below_gv(fmt, grow):
    """Laws: floor(K / 2) is non-decreasing in each of n, r, alpha, beta on the natural domain (docs/theory.md 8),
    and GV(n + 1) >= K(n) >= floor(K(n) / 2) (docs/theory.md 5: GV on V' never beats K)."""
    from bettibounds.theorems import get_theorem

    n, r, a, b = fmt
    K = get_theorem("K")
    base = K.evaluate(n=n, r=r, alpha=a, beta=b).exact
    assert base == K_count(n, r, a, b) // 2
    bigger = dict(n=n, r=r, alpha=a, beta=b)
    bigger[grow] += 1
    if grow == "r" and r == 0:
        bigger["alpha"] = max(a, 1)
    assert K.evaluate(**bigger).exact >= base
    assert GV_int(n + 1, r, a, b) >= K_count(n, r, a, b) >= base
    assert get_theorem("GV").evaluate(n=n + 1, r=r, alpha=a, beta=b).exact == GV_int(n + 1, r, a, b)
