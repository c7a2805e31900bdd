"""The single wiring point: ``bounds(spec) -> BoundReport``.

Routes (docs/theory.md, "Routes"):

* **compact** -- lambda > 0 makes Loss coercive (Loss >= lambda ||theta||^2), so every
  S_c is compact and theorem (K) applies to S_c at every level c;
* **generic level** -- lambda = 0: for all but finitely many c, B(S_c) <=
  B({Loss + eps ||theta||^2 <= c}) for small eps > 0, a compact sublevel set of format
  (r, alpha, max(beta, 2)) [derived];
* **V'** -- B(S_c) <= B(V') for V' = {(theta, t) : Loss(theta) + t^2 = c} (S_c is a
  retract of V'), a Pfaffian variety in n + 1 variables, compact iff S_c is [derived];
* **slice** -- theta = theta0 + D t with D of rank k: the same format in n = k
  variables [derived];
* **input space** -- S_N = {x : u(x) >= 0}, u the output logit, weights fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath

from .errors import InvalidSpecError
from .logspace import Evaluated, evaluate_product
from .lower import SymmetryBlock, lower_hypotheses, symmetry_group
from .pfaffian.activations import get_activation
from .pfaffian.derive import Derivation, derive_format
from .result import BoundReport, BoundResult
from .sizes import Size
from .spec import ArchitectureSpec
from .theorems import get_theorem
from .theorems.base import Hypothesis

__all__ = ["bounds"]


def _result(key: str, kind: str, route: str, route_status: str, hyps: Sequence[Hypothesis],
            params: dict[str, object], symbolic: bool) -> BoundResult:
    """One BoundResult: the theorem's right-hand side at ``params``, with the route's hypotheses."""
    th = get_theorem(key)
    product = th.rhs(**params)
    return BoundResult(
        theorem=key, name=th.name, kind=kind, statement=th.statement, latex_statement=th.latex,
        status=th.status, route=route, route_status=route_status, rigorous=th.rigorous,
        hypotheses=tuple(hyps), citation=th.citation, parameters=dict(params), product=product,
        # a symbolic result carries its closed form, a numeric one its value
        evaluated=None if symbolic else product.evaluate(),
        symbolic_log2=product.log2_sympy() if symbolic else None,
        symbolic_value=product.sympy() if symbolic else None,
    )


def bounds(
    spec: ArchitectureSpec,
    *,
    space: str = "loss",
    slice_dim: int | None = None,
    slice_full_rank: bool = False,
    zell_constant: int = 1,
    check: bool = False,
    certify: bool = False,
) -> BoundReport:
    """Upper and lower bounds on the Betti numbers of the loss sublevel sets of ``spec``.

    Parameters
    ----------
    spec : ArchitectureSpec
        Concrete or symbolic (:meth:`ArchitectureSpec.uniform` with sympy symbols).
    space : {"loss", "input"}
        ``"loss"``: S_c = {theta : Loss(theta) <= c} in the P parameters.
        ``"input"``: S_N = {x in R^d : u(x) >= 0} for fixed weights (Bianchini-Scarselli
        setting; u is the output logit).
    slice_dim : int, optional
        Bound the sublevel set restricted to a k-dimensional affine slice
        theta0 + D t (n = k). Loss space only.
    slice_full_rank : bool, default False
        The caller has checked that the slice's direction matrix D has full column rank
        k (the landscape tools do, before sampling); with lambda > 0 the compactness
        hypothesis of the slice then holds instead of being left undecided.
    zell_constant : int, default 1
        The constant C put in place of Zell's O(.) (the result stays non-rigorous).
    check : bool, default False
        Also run the node-by-node mechanical engine (small networks) and record that it
        agrees with the closed form; raises if the closed form were ever smaller.
    certify : bool, default False
        Build the explicit Pfaffian chain and machine-check the format
        (:func:`bettibounds.certify_chain`); the certificate is attached to the report.
        Small concrete architectures only; the loss space only.

    Returns
    -------
    BoundReport

    Raises
    ------
    InvalidSpecError
        On inconsistent options (e.g. a slice in the input space).

    Examples
    --------
    >>> spec = ArchitectureSpec(inputs=1, widths=(1,), activation="sigmoid", loss="mse", samples=1)
    >>> report = bounds(spec)
    >>> report.format
    PfaffianFormat(order=1, alpha=2, beta=4)
    >>> [(b.theorem, b.value) for b in report.upper if b.rigorous]
    [('K', 4500), ('GV', 2152008)]
    """
    if not isinstance(spec, ArchitectureSpec):
        raise InvalidSpecError(f"bounds() takes an ArchitectureSpec, got {type(spec).__name__}")
    if space not in ("loss", "input"):
        raise InvalidSpecError(f"space must be 'loss' or 'input', got {space!r}")
    if isinstance(zell_constant, bool) or not isinstance(zell_constant, int) or zell_constant < 1:
        raise InvalidSpecError(f"zell_constant must be an integer >= 1, got {zell_constant!r}")
    symbolic = spec.is_symbolic
    if symbolic and space == "input":
        raise InvalidSpecError("input-space bounds need concrete sizes (symbolic forms are for the loss space)")
    derivation = derive_format(spec, "closed", space)
    notes: list[str] = [f"L = number of hidden layers ({spec.depth}); the output layer is not counted"]
    notes.extend(spec.open_hypotheses())
    if check:
        notes.append(_mechanical_check(spec, space, derivation))
    r, alpha, beta = derivation.triple
    n = derivation.n_variables
    if slice_dim is not None:
        if space != "loss":
            raise InvalidSpecError("slice_dim applies to the loss space only")
        if isinstance(slice_dim, bool) or not isinstance(slice_dim, int) or slice_dim < 1:
            raise InvalidSpecError(f"slice_dim must be a positive integer, got {slice_dim!r}")
        if not symbolic and slice_dim > n:
            raise InvalidSpecError(f"slice_dim ({slice_dim}) cannot exceed the number of parameters ({n})")
        n = slice_dim
    if not isinstance(slice_full_rank, bool):
        raise InvalidSpecError(f"slice_full_rank must be True or False, got {slice_full_rank!r}")
    if slice_full_rank and slice_dim is None:
        raise InvalidSpecError("slice_full_rank applies to slices: give slice_dim too")
    if space == "input":
        upper = _input_upper(spec, n, r, alpha, beta, symbolic, slice_dim, zell_constant)
    else:
        upper = _loss_upper(spec, n, r, alpha, beta, symbolic, slice_dim, zell_constant, slice_full_rank)
    lower: list[BoundResult] = []
    if space == "loss" and slice_dim is None:
        lower, why_none = _symmetry_lower(spec, symbolic)
        if why_none:  # say why there is no lower bound (e.g. a continuous family: no minimiser is strict)
            notes.append("no symmetry lower bound: " + why_none)
    if space == "input":
        notes.append("no lower bound in the input space: the literature's lower bounds are not verified here")
    if slice_dim is not None:
        notes.append("a slice sublevel set has no symmetry lower bound (the group does not act on the slice)")
    if not symbolic:
        notes.extend(_lower_above_upper(upper, lower))
    certificate = None
    if certify:
        if space != "loss" or symbolic:
            raise InvalidSpecError("certify=True needs a concrete spec in the loss space")
        from .pfaffian.chain import certify_chain

        certificate = certify_chain(spec, derivation.format)
    return BoundReport(spec, space, n, spec.n_params, derivation, tuple(upper), tuple(lower), tuple(notes),
                       certificate)


def _mechanical_check(spec: ArchitectureSpec, space: str, derivation: Derivation) -> str:
    if spec.is_symbolic:
        return "mechanical check skipped: symbolic sizes"
    mech = derive_format(spec, "mechanical", space)
    assert derivation.format is not None and mech.format is not None  # concrete sizes: numeric formats
    closed = derivation.format.as_tuple()
    m = mech.format.as_tuple()
    if any(a > b for a, b in zip(m, closed)):
        raise AssertionError(  # a bug in the closed forms, never a user error
            f"closed-form format {closed} is smaller than the mechanical one {m}; please report"
        )
    relation = "= closed form" if m == closed else "<= closed form"
    return f"mechanical engine (node by node, generic data): {mech.format} {relation}"


def _loss_upper(spec: ArchitectureSpec, n: Size, r: Size, alpha: Size, beta: Size, symbolic: bool,
                slice_dim: int | None, C: int, full_rank: bool = False) -> list[BoundResult]:
    lam = spec.l2_positive
    beta2 = beta if lam else (max(beta, 2) if not symbolic else __import__("sympy").Max(beta, 2))
    where = f"k = {slice_dim}-dimensional slice theta0 + D t" if slice_dim else "S_c"
    hyps: list[Hypothesis] = []
    if spec.distinct_inputs is not None:
        hyps.append(Hypothesis(f"the m = {spec.samples} samples have at most m' = {spec.distinct_inputs} distinct "
                               "inputs (the chain order uses m')", "undecided", "your claim about the data"))
    coercive = "lambda > 0: Loss >= lambda ||theta||^2 is coercive (MSE >= 0; BCE >= 0 for labels in [0, 1])"
    if lam and slice_dim and full_rank:  # lambda ||theta0 + D t||^2 is coercive in t when D has rank k
        hyps.append(Hypothesis(f"{where} is compact for every c", "holds",
                               coercive + "; D was checked to have full column rank k, so ||theta0 + D t|| -> inf "
                               "as ||t|| -> inf"))
        route = f"compact {where}"
    elif lam and slice_dim and n != 1:  # (the eps-route regularises with eps ||t||^2 and needs no rank)
        hyps.append(Hypothesis(f"{where} is compact for every c (true when D has full column rank k)", "undecided",
                               coercive + "; state the rank of your directions"))
        route = f"compact {where} (if D has full column rank)"
    elif n == 1:  # one variable: no genericity and no rank needed (docs/theory.md, Proposition 6.7)
        route = (f"every level c, no genericity needed (n = 1: B(S_c) <= B(S_c') at a generic c' just above c, "
                 f"docs/theory.md sec. 6.7); eps-regularisation of {where} (beta -> max(beta, 2))")
    elif lam:
        hyps.append(Hypothesis(f"{where} is compact for every c", "holds", coercive))
        route = f"compact {where}"
    else:
        # on a slice the exceptional levels are those of the restricted function, not of Loss: the
        # slice's own minimum, e.g., is exceptional for t -> Loss(theta0 + D t) but rarely critical for Loss
        of = "t -> Loss(theta0 + D t) (the slice's own, not those of Loss)" if slice_dim else "Loss"
        hyps.append(Hypothesis(
            f"c is not one of the finitely many exceptional levels of {of}", "undecided",
            f"true for all but finitely many c; with lambda = 0, {where} is in general not compact, so the bound "
            "goes through the compact set {" + ("Loss(theta0 + D t) + eps ||t||^2" if slice_dim else
                                                "Loss + eps ||theta||^2") + " <= c}" + (
                "; lambda's sign is undecided" if lam is None else "")))
        route = f"generic level via eps-regularisation of {where} (beta -> max(beta, 2))"
    params = dict(n=n, r=r, alpha=alpha, beta=beta2)
    out = [
        _result("K", "upper", route, "derived", hyps, params, symbolic),
        _result("GV", "upper", route + (
                    "; V' = {Loss + t^2 = c}" if "compact" in route and not slice_dim else
                    "; V' = {Loss(theta0 + D t) + s^2 = c}" if "compact" in route else
                    "; V' = {Loss(theta0 + D t) + eps ||t||^2 + s^2 = c}" if slice_dim else
                    "; V' = {Loss + eps ||theta||^2 + t^2 = c}"
                ) + " in n + 1 variables (the sublevel set is a retract of V')",
                "derived", [*hyps, Hypothesis("V' is compact",
                                              "undecided" if (lam and slice_dim and not full_rank and n != 1)
                                              else "holds",
                                              "V' is compact iff the (regularised) sublevel set is, and Loss >= 0")],
                dict(n=n + 1, r=r, alpha=alpha, beta=beta2), symbolic),
        _result("Z", "upper", route + "; one sign condition (s = 1)", "derived",
                [*hyps, Hypothesis(f"Zell's hidden constant is C = {C}", "undecided",
                                   "O(.) constant unknown: a core, never a rigorous number")],
                dict(n=n, r=r, alpha=alpha, beta=beta2, s=1, C=C), symbolic),
    ]
    if not symbolic and r == 0:
        out.insert(0, _result("Mi+", "upper", f"S_c = {{c - Loss >= 0}}, Loss a polynomial of degree {beta}",
                              "direct", [], dict(n=n, d=beta), symbolic))
    return out


def _input_upper(spec: ArchitectureSpec, n: Size, r: Size, alpha: Size, beta: Size, symbolic: bool,
                 slice_dim: int | None, C: int) -> list[BoundResult]:
    act = get_activation(spec.activation)
    growth = act.growth
    if act.is_polynomial:  # u is a polynomial of degree beta: a regulariser of higher even degree dominates it
        two_q = beta + 1 if beta % 2 else beta + 2
        coercive = Hypothesis(f"-u + eps ||x||^{two_q} is coercive", "holds", f"u is a polynomial of degree {beta}")
    else:
        two_q = 2
        coercive = Hypothesis(
            "-u + eps ||x||^2 is coercive (u(x) = o(||x||^2))", "holds" if growth else "undecided",
            f"{act.name} is {growth} at infinity, so u grows at most linearly" if growth else
            f"{act.name} can grow faster than any polynomial; the bound holds only if u(x) = o(||x||^2)")
    beta2 = max(beta, two_q)
    if n == 1:  # d = 1: no genericity needed (docs/theory.md, Proposition 6.7, applied to -u at level 0)
        hyps = [coercive]
        route = (f"level 0, no genericity needed (n = d = 1: B(S_N) <= B({{u >= -c'}}) at a generic c' just above 0, "
                 f"docs/theory.md sec. 6.7); eps-regularisation of S_N (beta -> max(beta, {two_q}))")
    else:
        hyps = [Hypothesis(
            "0 is not one of the finitely many exceptional levels of u", "undecided",
            f"S_N is in general not compact; the bound goes through {{-u + eps ||x||^{two_q} <= 0}}"), coercive]
        route = f"generic level via eps-regularisation of S_N (beta -> max(beta, {two_q}))"
    out = []
    if r == 0:
        out.append(_result("Mi+", "upper", f"S_N = {{u >= 0}}, u a polynomial of degree {beta}", "direct", [],
                           dict(n=n, d=beta), symbolic))
    out += [
        _result("K", "upper", route, "derived", hyps, dict(n=n, r=r, alpha=alpha, beta=beta2), symbolic),
        _result("GV", "upper", route + f"; V' = {{-u + eps ||x||^{two_q} + t^2 = 0}} in n + 1 variables", "derived",
                [*hyps, Hypothesis("V' is compact", coercive.status, "V' is compact iff the regularised set is")],
                dict(n=n + 1, r=r, alpha=alpha, beta=beta2), symbolic),
        _result("Z", "upper", route + "; s = 1", "derived",
                [*hyps, Hypothesis(f"Zell's hidden constant is C = {C}", "undecided", "O(.) constant unknown")],
                dict(n=n, r=r, alpha=alpha, beta=beta2, s=1, C=C), symbolic),
    ]
    bs_key = {"logistic": "BS-sigmoid", "tanh": "BS-sigmoid", "arctan": "BS-arctan"}.get(act.name)
    if bs_key:
        out.append(_result(bs_key, "upper", "quoted directly for S_N", "quoted",
                           [Hypothesis("the quoted O(.) constant is 1", "undecided", "constant-free core")],
                           dict(n=n, h=spec.total_width, l=spec.depth), symbolic))
    return out


def _describe_blocks(blocks: Sequence[SymmetryBlock]) -> str:
    """'(2^3 * 3!)^2 [layers 1-2, one factor each] * ...': equal consecutive blocks grouped."""
    if len(blocks) == 1 and "count" in blocks[0]:  # symbolic: one entry stands for `count` blocks
        b = blocks[0]
        return f"2^({b['flips']}) * ({b['permutations']}!)^({b['count']}) [all hidden layers, symbolic]"
    groups: list[tuple[str, list[list[int] | str]]] = []  # (term, [blocks' layer lists])
    for b in blocks:
        term = f"2^{b['flips']} * {b['permutations']}!"
        if groups and groups[-1][0] == term:
            groups[-1][1].append(b["layers"])
        else:
            groups.append((term, [b["layers"]]))
    out = []
    for term, layer_lists in groups:

        def span(ls: list[int] | str) -> str:
            return f"{ls[0]}-{ls[-1]}" if len(ls) > 1 else f"{ls[0]}"

        if len(layer_lists) == 1:
            ls = layer_lists[0]
            kind = "residual chain, layers" if len(ls) > 1 else "layer"
            out.append(f"{term} [{kind} {span(ls)}]")
        else:
            out.append(f"({term})^{len(layer_lists)} "
                       f"[layers {layer_lists[0][0]}-{layer_lists[-1][-1]}, one factor each]")
    return " * ".join(out)


def _lower_above_upper(upper: Sequence[BoundResult], lower: Sequence[BoundResult]) -> list[str]:
    """A note for each lower bound above a rigorous upper bound: both cannot hold at once, so the
    lower bound's undecided hypotheses fail for this network (e.g. no isolated minimiser with a
    trivial stabiliser), or the upper bound's do, when it has some."""
    out = []
    for lo in lower:
        if lo.evaluated is None or lo.evaluated.log10 == mpmath.ninf:
            continue
        for up in upper:
            if up.rigorous and up.evaluated is not None and lo.evaluated.log10 > up.evaluated.log10:
                whose = ("its undecided hypotheses cannot all hold for this network (e.g. no strict local "
                         "minimiser with a trivial stabiliser in the group)" if not up.conditional else
                         f"its undecided hypotheses and those of {up.theorem} cannot all hold at one level")
                out.append(f"the lower bound {lo.theorem} (10^{float(lo.evaluated.log10):.6g}) exceeds the rigorous "
                           f"upper bound {up.theorem} (10^{float(up.evaluated.log10):.6g}): {whose}")
                break
    return out


def _symmetry_lower(spec: ArchitectureSpec, symbolic: bool) -> tuple[list[BoundResult], str | None]:
    """The symmetry lower bound (a list of at most one result), or no result and the reason."""
    group = symmetry_group(spec)
    if not group.applicable:
        return [], "; ".join(group.notes)
    sym = get_theorem("Sym")
    blocks = _describe_blocks(group.blocks)
    evaluated: Evaluated | None = None
    symbolic_log2 = symbolic_value = None
    if not isinstance(group.log2, mpmath.mpf):  # symbolic widths
        symbolic_log2, symbolic_value = group.log2, group.order
    elif group.order is not None:
        evaluated = evaluate_product([(group.order, 1)])
    else:
        with mpmath.workdps(30 + len(str(int(group.log2)))):
            evaluated = Evaluated(group.log2, group.log2 * mpmath.log10(2), None)
    return [BoundResult(
        theorem=sym.key, name=sym.name, kind="lower", statement=sym.statement, latex_statement=sym.latex,
        status=sym.status, route=f"|G| = {blocks}" + ("; " + "; ".join(group.notes) if group.notes else ""),
        route_status="derived", rigorous=sym.rigorous, hypotheses=tuple(lower_hypotheses(spec)),
        citation=sym.citation, parameters={"blocks": blocks},
        evaluated=evaluated, symbolic_log2=symbolic_log2, symbolic_value=symbolic_value,
    )], None
