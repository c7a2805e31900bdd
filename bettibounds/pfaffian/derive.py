"""Loss format derivation: ArchitectureSpec -> PfaffianFormat, three ways.

* :func:`closed_form` -- the explicit formulas of docs/theory.md §4 ("Closed forms for the
  loss format", every registry activation), valid for ints and
  for sympy symbols (d, h, L, m); used by :func:`bettibounds.bounds`.
* :func:`layer_recursion` -- the mechanical degree rules applied to whole layers
  (every unit of a layer has the same (deg, dd)); any size, parameter or input space.
* :func:`mechanical` -- the mechanical rules applied node by node to the explicit
  scalar computation graph of the loss on concrete data
  (:mod:`bettibounds.pfaffian.graph`); identical inputs share chain elements.

All three give upper bounds on the true format; on generic data they agree, which the
property tests check. Status: [derived] (docs/theory.md §2.3 "Mechanical format tracking",
with Proposition 2.1; the closed forms and their proofs in §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from ..errors import InvalidSpecError
from ..sizes import Expr, Size
from .activations import Activation, get_activation
from .format import PfaffianFormat
from .losses import output_chain
from .network import hidden_widths
from .rules import NEG_INF, Pair, ode_degree, poly_track, track_add, track_const, track_mul, track_pow, track_var

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is Python >= 3.11; annotations only

    from ..spec import ArchitectureSpec
    from .graph import MechanicalOptions

__all__ = ["Derivation", "SymbolicFormat", "closed_form", "layer_recursion", "derive_format", "SPACES"]

SPACES = ("loss", "input")


class SymbolicFormat(TypedDict):
    """The format of a symbolic spec: sympy expressions in the symbolic sizes."""

    order: Expr
    alpha: Expr
    beta: Expr


@dataclass(frozen=True)
class Derivation:
    """A derived format with the steps that produced it.

    Attributes
    ----------
    format : PfaffianFormat or None
        None for symbolic specs (see ``symbolic``).
    symbolic : dict or None
        ``{"order": expr, "alpha": expr, "beta": expr}`` for symbolic specs.
    n_variables : int or sympy expression
        n: P (loss space) or d (input space).
    method : str
        "closed", "layers" or "mechanical".
    steps : list of str
        Human-readable derivation, one line per step.
    """

    format: PfaffianFormat | None
    n_variables: Size
    method: str
    space: str
    steps: list[str] = field(default_factory=list)
    symbolic: SymbolicFormat | None = None

    @property
    def triple(self) -> tuple[Size, Size, Size]:
        """(r, alpha, beta) as ints or sympy expressions."""
        if self.format is not None:
            return self.format.as_tuple()
        s = self.symbolic
        assert s is not None, "a Derivation has a format or a symbolic one"
        return (s["order"], s["alpha"], s["beta"])


def _fmt(dd: float) -> str:
    return "-inf" if dd == NEG_INF else str(int(dd))


def _apply_activation(act: Activation, z: Pair) -> tuple[Pair, list[float]]:
    """(deg, dd) of phi(z) and the dd of each new chain element (z depends on theta)."""
    dds = [ode_degree(q, z[0]) + z[1] for q in act.odes]
    a = poly_track(act.output, z, [(1, dd) for dd in dds])
    return a, dds


def layer_recursion(spec: ArchitectureSpec, space: str = "loss") -> Derivation:
    """Apply the mechanical degree rules layer by layer (any size, concrete specs).

    In the loss space the variables are the P parameters and the data are constants;
    in the input space the variables are the d inputs, the weights are constants and
    the function is the output logit u(x) (S_N = {x : u(x) >= 0}).
    """
    if spec.is_symbolic:
        raise InvalidSpecError("layer_recursion needs concrete sizes; use closed_form for symbols")
    if space not in SPACES:
        raise InvalidSpecError(f"space must be one of {SPACES}, got {space!r}")
    act = get_activation(spec.activation)
    weights_vary = space == "loss"
    weight = track_var() if weights_vary else track_const()
    x = track_const() if weights_vary else track_var()
    steps: list[str] = []
    alpha = 0.0
    r_per_sample = 0
    a_prev = x
    for l, h in enumerate(hidden_widths(spec), start=1):
        z = track_mul(weight, a_prev)
        if spec.has_bias(l):
            z = track_add(z, weight)
        a, dds = _apply_activation(act, z)
        if "residual" in spec.skips and l >= 2:
            a = track_add(a, a_prev)
        alpha = max([alpha, *dds])
        r_per_sample += h * act.k
        steps.append(
            f"layer {l} (width {h}): z deg {z[0]}, dd {_fmt(z[1])}; "
            + (", ".join(f"{n} dd {_fmt(d)}" for n, d in zip(act.elements, dds)) or "no chain elements")
            + f"; a deg {a[0]}, dd {_fmt(a[1])}"
        )
        a_prev = a
    u = track_mul(weight, a_prev)
    if spec.has_bias(spec.depth + 1):
        u = track_add(u, weight)
    if "input-output" in spec.skips:
        u = track_add(u, track_mul(weight, x))
    steps.append(f"output logit u: deg {u[0]}, dd {_fmt(u[1])}")
    if space == "input":
        if spec.outputs != 1:
            raise InvalidSpecError(
                "input-space bounds are for S_N = {x : N(x) >= 0} with a scalar output; "
                f"this network has outputs={spec.outputs}"
            )
        fmt = PfaffianFormat(r_per_sample, int(alpha), int(u[0]))
        steps.append(f"S_N = {{x : u(x) >= 0}}: format {fmt} in n = d = {spec.inputs} variables")
        return Derivation(fmt, spec.inputs, "layers", space, steps)
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    ys = []
    for name, q in zip(oc.elements, oc.odes):
        dd = ode_degree(q, u[0]) + u[1]
        alpha = max(alpha, dd)
        ys.append((1, dd))
        steps.append(f"output element {name}: dd {_fmt(dd)}")
    r_per_sample += oc.k * spec.outputs
    if spec.loss == "mse":
        yhat = ys[0] if ys else u
        term = track_pow(track_add(yhat, track_const()), 2)
    elif spec.bce_chain == "logsigmoid":
        term = track_add(ys[1], u)  # q - (1 - y) u, generic labels y != 1
    else:
        term = track_add(ys[1], ys[2])  # y l1 + (1 - y) l2
    loss = term
    if spec.l2_positive is not False:
        loss = track_add(loss, track_pow(track_var(), 2))
    r = spec.effective_samples * r_per_sample
    fmt = PfaffianFormat(r, int(alpha), int(loss[0]))
    steps.append(
        f"loss ({spec.loss}{', +l2' if spec.l2_positive is not False else ''}): deg {loss[0]}; "
        f"r = m' x {r_per_sample} = {r} with m' = {spec.effective_samples}"
    )
    return Derivation(fmt, spec.n_params, "layers", space, steps)


# ------------------------------------------------------------------ closed forms
def _hidden_closed(name: str, L: Size, sympy_mode: bool) -> tuple[Size, Size, Size]:
    """(alpha_hidden, deg a_L, dd a_L) as functions of the depth L [derived]."""
    if name in ("logistic", "tanh"):
        return 3 * L - 1, 1, 3 * L - 1
    if name == "arctan":
        if sympy_mode:
            import sympy

            alpha = sympy.Piecewise((3, sympy.Eq(L, 1)), (2 * L + 2, True))
        else:
            alpha = 3 if L == 1 else 2 * L + 2
        return alpha, 1, 2 * L - 1
    if name == "softplus":
        return 2 * L, 1, 2 * L - 1
    if name == "gaussian":
        return 4 * L - 2, 1, 4 * L - 2
    if name == "exp":
        return 2 * L - 1, 1, 2 * L - 1
    if name == "silu":
        return L**2 + L, 2 * L, L**2 + 3 * L - 1
    if name == "gelu":
        return L**2 + 2 * L - 1, 2 * L, L**2 + 2 * L - 1
    if name == "identity":
        return 0, L, L - 1
    if name.startswith("polynomial:"):
        p = int(name.split(":")[1])
        deg_z = (p**L - 1) // (p - 1) if not sympy_mode else (p**L - 1) / (p - 1)
        return 0, p * deg_z, p * deg_z - 1
    raise InvalidSpecError(f"no closed form for activation {name!r}")


def closed_form(spec: ArchitectureSpec) -> Derivation:
    """Explicit closed-form format of the loss (docs/theory.md §4.2-§4.4).

    Works for concrete specs and for symbolic ones (:meth:`ArchitectureSpec.uniform`
    with sympy symbols). The formulas assume generic data (no all-zero input when the
    first layer has no bias; BCE labels y != 1); on degenerate data the true format
    can only be smaller, so the closed form stays an upper bound.

    Examples
    --------
    >>> from bettibounds import ArchitectureSpec
    >>> closed_form(ArchitectureSpec(inputs=2, widths=(2,), activation="sigmoid",
    ...                              loss="mse", samples=3)).format
    PfaffianFormat(order=6, alpha=2, beta=4)
    """
    sym = spec.is_symbolic
    if sym:
        import sympy

        Max = sympy.Max
    else:
        Max = max
    act = get_activation(spec.activation)
    L = spec.depth
    alpha_h, deg_a, dd_a = _hidden_closed(act.name, L, sym)
    deg_u, dd_u = 1 + deg_a, 1 + dd_a
    oc = output_chain(spec.loss, spec.output_activation, spec.bce_chain)
    if oc.k == 0:
        alpha, beta = alpha_h, 2 * deg_u
    else:
        alpha = Max(alpha_h, 2 + dd_u)  # the s = sigma(u) element dominates the output chain
        if spec.loss == "mse":
            beta = 2
        elif spec.bce_chain == "logsigmoid":
            beta = deg_u
        else:
            beta = 1
    if spec.l2_positive is not False:
        beta = Max(beta, 2)
    r = spec.effective_samples * (spec.total_width * act.k + spec.outputs * oc.k)
    steps = [
        f"hidden chain: {act.k} element(s) per unit ({', '.join(act.elements) or 'none'}); "
        f"alpha_hidden = {alpha_h}",
        f"output logit u: deg {deg_u}, dd {dd_u}",
        f"output/loss chain: {oc.k} element(s) per (sample, output) ({', '.join(oc.elements) or 'none'})",
        f"r = m' (k sum h_l + k_out outputs) = {r}",
        f"alpha = {alpha}, beta = {beta}",
    ]
    if sym:
        import sympy

        r, alpha, beta = (sympy.simplify(sympy.piecewise_fold(sympy.sympify(v))) for v in (r, alpha, beta))
        return Derivation(None, spec.n_params, "closed", "loss", steps,
                          symbolic={"order": r, "alpha": alpha, "beta": beta})
    return Derivation(PfaffianFormat(int(r), int(alpha), int(beta)), spec.n_params, "closed", "loss", steps)


def derive_format(spec: ArchitectureSpec, method: str = "closed", space: str = "loss",
                  **kwargs: Unpack[MechanicalOptions]) -> Derivation:
    """Derive the format of the loss (``space="loss"``) or of the logit in the inputs.

    Parameters
    ----------
    method : {"closed", "layers", "mechanical"}
        See the module docstring. ``"closed"`` is only available in the loss space;
        in the input space it falls back to ``"layers"``.
    **kwargs
        Passed to :func:`bettibounds.pfaffian.graph.mechanical` (``data``, ``seed``).
    """
    if space not in SPACES:
        raise InvalidSpecError(f"space must be one of {SPACES}, got {space!r}")
    if method == "closed":
        return layer_recursion(spec, "input") if space == "input" else closed_form(spec)
    if method == "layers":
        return layer_recursion(spec, space)
    if method == "mechanical":
        from .graph import mechanical

        return mechanical(spec, space=space, **kwargs)
    raise InvalidSpecError(f"method must be 'closed', 'layers' or 'mechanical', got {method!r}")
