"""Format derivation: the closed forms of docs/theory.md §4, the three engines, options, errors."""

from __future__ import annotations

import pytest

from bettibounds import ArchitectureSpec, InvalidSpecError, closed_form, derive_format, layer_recursion
from bettibounds.pfaffian.graph import generic_data, mechanical

A = ArchitectureSpec


def fmt(spec, engine=closed_form, **kw):
    return engine(spec, **kw).format.as_tuple()


ENGINES = [closed_form, layer_recursion, mechanical]


# ------------------------------------ docs/theory.md §4.3, the loss table
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("act", ["logistic", "tanh"])
@pytest.mark.parametrize("widths, m", [((2,), 3), ((2, 2), 3), ((1, 3, 2), 2), ((3,), 1)])
def test_theory_table_rows(engine, act, widths, m):
    H, L = sum(widths), len(widths)
    row = lambda **kw: fmt(A(inputs=2, widths=widths, activation=act, samples=m, **kw), engine)  # noqa: E731
    # MSE, linear output: (m sum h, 3L - 1, 4)
    assert row() == (m * H, 3 * L - 1, 4)
    # MSE, sigmoid / tanh output: (m (sum h + 1), 3L + 2, 2)
    assert row(output_activation="sigmoid") == (m * (H + 1), 3 * L + 2, 2)
    assert row(output_activation="tanh") == (m * (H + 1), 3 * L + 2, 2)
    # BCE written with log sigma: (m (sum h + 2), 3L + 2, 2)
    assert row(loss="bce", output_activation="sigmoid") == (m * (H + 2), 3 * L + 2, 2)
    # BCE written with two logs (losses.py): 3 elements per output, beta 1
    assert row(loss="bce", output_activation="sigmoid", bce_chain="two-logs") == (m * (H + 3), 3 * L + 2, 1)
    # + lambda ||theta||^2: same rows, beta -> max(beta, 2)
    assert row(l2=0.5) == (m * H, 3 * L - 1, 4)
    assert row(loss="bce", output_activation="sigmoid", l2=0.5) == (m * (H + 2), 3 * L + 2, 2)
    assert row(loss="bce", output_activation="sigmoid", bce_chain="two-logs", l2=0.5) == (m * (H + 3), 3 * L + 2, 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_shallow_rows(engine):
    h, m = 4, 3
    s = lambda **kw: A(inputs=3, widths=(h,), activation="logistic", samples=m, **kw)  # noqa: E731
    assert fmt(s(), engine) == (m * h, 2, 4)
    assert fmt(s(output_activation="sigmoid"), engine) == (m * (h + 1), 5, 2)
    assert fmt(s(loss="bce", output_activation="sigmoid"), engine) == (m * (h + 2), 5, 2)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("L, alpha", [(1, 3), (2, 6), (3, 8)])
def test_arctan_alpha(engine, L, alpha):
    # two chain elements per unit; alpha = 3 for L = 1 and 2L + 2 for L >= 2
    s = A(inputs=2, widths=(2,) * L, activation="arctan", samples=2)
    assert fmt(s, engine) == (2 * 2 * 2 * L, alpha, 4)


@pytest.mark.parametrize("engine", ENGINES)
def test_multiple_outputs(engine):
    s = A(inputs=2, widths=(3,), activation="tanh", samples=2, outputs=2, output_activation="sigmoid")
    assert fmt(s, engine) == (2 * (3 + 2), 5, 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_polynomial_network(engine):
    # poly:2, L = 1: z deg 1, a deg 2, u deg 3, (u - y)^2 deg 6; no chain
    assert fmt(A(inputs=2, widths=(2,), activation="poly:2", samples=2), engine) == (0, 0, 6)
    # poly:3, L = 2: z1 1, a1 3, z2 4, a2 12, u 13, loss 26
    assert fmt(A(inputs=2, widths=(2, 2), activation="poly:3", samples=2), engine) == (0, 0, 26)
    # identity (linear network), L = 2: u = V W2 W1 x: deg 3, loss 6
    assert fmt(A(inputs=2, widths=(2, 2), activation="identity", samples=2), engine) == (0, 0, 6)


# ------------------------------------------------------------- input space
@pytest.mark.parametrize("engine", [layer_recursion, mechanical])
@pytest.mark.parametrize("act", ["logistic", "tanh"])
@pytest.mark.parametrize("widths", [(2,), (2, 3), (1, 1, 4)])
def test_input_space_sigmoid(engine, act, widths):
    # Bianchini-Scarselli: one element per unit, beta = 1, alpha = l alpha_sigma = 2L
    d = engine(A(inputs=3, widths=widths, activation=act), space="input")
    assert d.format.as_tuple() == (sum(widths), 2 * len(widths), 1)
    assert d.n_variables == 3 and d.space == "input"


@pytest.mark.parametrize("engine", [layer_recursion, mechanical])
@pytest.mark.parametrize("p, L", [(2, 1), (2, 2), (3, 2)])
def test_input_space_polynomial(engine, p, L):
    # degree p^L, no chain
    d = engine(A(inputs=2, widths=(2,) * L, activation=f"poly:{p}"), space="input")
    assert d.format.as_tuple() == (0, 0, p**L)


def test_input_space_needs_scalar_output():
    s = A(inputs=2, widths=(2,), outputs=2)
    with pytest.raises(InvalidSpecError):
        layer_recursion(s, "input")
    with pytest.raises(InvalidSpecError):
        mechanical(s, space="input")


# ------------------------------------------------------ derive_format dispatch
def test_derive_format_dispatch():
    s = A(inputs=2, widths=(2,), samples=3)
    assert derive_format(s).method == "closed"
    assert derive_format(s, "layers").method == "layers"
    assert derive_format(s, "mechanical").method == "mechanical"
    # closed in the input space falls back to the layer recursion
    d = derive_format(s, "closed", "input")
    assert d.method == "layers" and d.format.as_tuple() == (2, 2, 1)
    for d in (derive_format(s, m) for m in ("closed", "layers", "mechanical")):
        assert d.n_variables == 9 and d.format.as_tuple() == (6, 2, 4) and d.steps


@pytest.mark.parametrize("kw", [dict(method="exact"), dict(space="weights"), dict(method="layers", space="params")])
def test_derive_format_rejects(kw):
    with pytest.raises(InvalidSpecError):
        derive_format(A(inputs=2, widths=(2,)), **kw)


def test_concrete_engines_refuse_symbols():
    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    s = A.uniform(d, h, L, m)
    with pytest.raises(InvalidSpecError):
        layer_recursion(s)
    with pytest.raises(InvalidSpecError):
        mechanical(s)


def test_mechanical_refuses_huge_graphs():
    s = A(inputs=100, widths=(100, 100), samples=100)
    with pytest.raises(InvalidSpecError, match="max_nodes"):
        mechanical(s, max_nodes=10_000)


def test_mechanical_data_shape_checked():
    s = A(inputs=2, widths=(2,), samples=2)
    with pytest.raises(InvalidSpecError):
        mechanical(s, data=([[1, 2]], [[0], [1]]))  # one input row for m = 2
    with pytest.raises(InvalidSpecError):
        mechanical(s, data=([[1, 2], [3]], [[0], [1]]))  # short row
    with pytest.raises(InvalidSpecError):
        mechanical(s, data=([[1, "x"], [3, 4]], [[0], [1]]))  # not a number


def test_generic_data():
    s = A(inputs=3, widths=(2,), samples=5, distinct_inputs=2, outputs=2)
    xs, ys = generic_data(s, seed=7)
    assert len(xs) == 5 and len({tuple(x) for x in xs}) == 2
    assert all(v != 0 for x in xs for v in x)
    assert all(0 < v < 1 for y in ys for v in y) and all(len(y) == 2 for y in ys)
    assert generic_data(s, seed=7) == (xs, ys)  # seeded


# --------------------------------------------------------- degenerate data
def test_bce_labels_equal_to_one_lower_beta():
    """logsigmoid BCE: -(q - (1 - y) u); with y = 1 the u term vanishes, beta 2 -> 1."""
    s = A(inputs=2, widths=(2,), activation="logistic", loss="bce", output_activation="sigmoid", samples=2)
    closed = fmt(s)
    mech = mechanical(s, data=([[1, 2], [3, -1]], [[1], [1]])).format.as_tuple()
    assert closed == (8, 5, 2)
    assert mech == (8, 5, 1)


def test_zero_input_without_bias_adds_nothing():
    s = A(inputs=2, widths=(2,), activation="tanh", samples=2, bias=False)
    mech = mechanical(s, data=([[0, 0], [1, 2]], [[1], [2]])).format.as_tuple()
    assert mech == (2, 2, 4)  # only the non-zero sample has chain elements
    assert fmt(s) == (4, 2, 4)


def test_derivation_steps_mention_the_layers():
    d = layer_recursion(A(inputs=2, widths=(2, 3), samples=2))
    assert any("layer 1" in s for s in d.steps) and any("layer 2" in s for s in d.steps)
    assert d.triple == (10, 5, 4)
