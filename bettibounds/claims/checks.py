"""The checkers of the published claims: one per ``check.kind``, each recomputing a claim with the API.

Every claim (``bettibounds/claims/data/*.json``) carries a machine-readable ``check`` object whose
``kind`` names one of the checkers below. A checker returns a list of :class:`Row` -- one comparison
of the published value (typed in from the literature, never produced by this code) with the value
bettibounds recomputes. A claim agrees when it produced at least one row and every row agrees.

Published formulas are stored as Python expressions (``formula`` fields) and evaluated here with
exact integer / ``Fraction`` arithmetic over the claim's parameter grid, so the literature's formula
is the oracle and the package's implementation is what is tested.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

__all__ = ["CHECKERS", "REQUIRED_FIELDS", "STATUSES", "Row", "Skip", "formula", "run_claim"]

#: fields every claim must have (the schema test checks them)
REQUIRED_FIELDS = ("id", "statement", "value", "citation", "locator", "locator_source", "status",
                   "reproduction", "check")
STATUSES = ("published", "quoted", "derived", "reconstructed")


class Row(NamedTuple):
    """One comparison: what is compared, the published value, the recomputed one, agreement."""

    label: str
    published: object
    recomputed: object
    agree: bool


class Skip(Exception):
    """The claim is checked elsewhere (``kind: external``); the message says where."""


# ------------------------------------------------------------------- helpers
_SAFE = {"min": min, "max": max, "sum": sum, "len": len, "abs": abs, "prod": math.prod,
         "Fraction": Fraction, "floor": math.floor, "factorial": math.factorial, "True": True, "False": False}


def formula(expr: str, **names):
    """Evaluate a published formula (a Python expression) with exact arithmetic.

    Only the names of the claim's parameters and a few pure functions (min, max, sum,
    prod, Fraction, floor, factorial) are visible; ``1/2`` must be written ``Fraction(1, 2)``.
    """
    return eval(expr, {"__builtins__": {}}, {**_SAFE, **names})


def _grid(grid: dict) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def _fmt_params(p: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.items())


def _spec(**kw):
    from bettibounds import ArchitectureSpec

    kw = dict(kw)
    kw["widths"] = tuple(kw["widths"])
    return ArchitectureSpec(**kw)


def _upper(report, key):
    hits = [b for b in report.upper if b.theorem == key]
    return hits[0] if hits else None


def _log2_table(report) -> dict:
    return {b.theorem: float(b.log2) for b in report.upper}


# ------------------------------------------------------------------ checkers
def check_theorem_formula(c: dict) -> list[Row]:
    """A theorem of the catalog equals the published formula on a parameter grid.

    ``theorem``; ``formula`` in the theorem's parameters; ``grid`` (for Kh: ``degrees``, a
    list of degree lists, n = len(degrees)); ``fixed`` parameters; ``rounding`` "exact" or
    "floor" (a bound on an integer may be floored); optional ``where`` (a condition on the
    grid point) and ``expect_rigorous`` / ``expect_status`` (how bettibounds labels it).
    """
    from bettibounds import get_theorem

    th = get_theorem(c["theorem"])
    rows = []
    for p in _grid(c["grid"]):
        p = {**c.get("fixed", {}), **p}
        if "where" in c and not formula(c["where"], **p):
            continue
        if "degrees" in p:  # Khovanskii: n equations of degrees beta_i
            degs = list(p.pop("degrees"))
            p["n"] = len(degs)
            want = formula(c["formula"], betas=degs, **p)
            got = th.evaluate(betas=tuple((b, degs.count(b)) for b in sorted(set(degs))), **p).exact
            p["betas"] = degs
        else:
            want = formula(c["formula"], **p)
            got = th.evaluate(**p).exact
        if c.get("rounding", "exact") == "floor":
            want = math.floor(want)
        rows.append(Row(f"{c['theorem']}({_fmt_params(p)})", want, got, got == want))
    if "expect_rigorous" in c:
        rows.append(Row(f"{c['theorem']}.rigorous", c["expect_rigorous"], th.rigorous,
                        th.rigorous == c["expect_rigorous"]))
    if "expect_status" in c:
        rows.append(Row(f"{c['theorem']}.status", c["expect_status"], th.status, th.status == c["expect_status"]))
    return rows


def check_theorem_value(c: dict) -> list[Row]:
    """One published number: ``theorem`` at ``params`` equals ``expected`` (exactly)."""
    from bettibounds import get_theorem

    params = {k: tuple(tuple(x) for x in v) if k == "betas" else v for k, v in c["params"].items()}
    got = get_theorem(c["theorem"]).evaluate(**params).exact
    return [Row(f"{c['theorem']}({_fmt_params(c['params'])})", c["expected"], got, got == c["expected"])]


def check_theorem_inequality(c: dict) -> list[Row]:
    """``theorem`` at each grid point compares to a published quantity: ``relation`` ">=" or "<="."""
    from bettibounds import get_theorem

    th = get_theorem(c["theorem"])
    rows = []
    for p in _grid(c["grid"]):
        want = formula(c["formula"], **p)
        got = th.evaluate(**p).exact
        ok = got >= want if c["relation"] == ">=" else got <= want
        rows.append(Row(f"{c['theorem']}({_fmt_params(p)}) {c['relation']} {c['formula']}", want, got, ok))
    return rows


def _format_names(spec, space):
    return {"d": spec.inputs, "m": spec.samples, "L": spec.depth, "sum_h": spec.total_width,
            "h": spec.widths[0], "P": spec.n_params, "o": spec.outputs}


def check_loss_format(c: dict) -> list[Row]:
    """The derived format (closed form) equals the published (r, alpha, beta) formulas.

    ``space`` ("loss" or "input"), ``activations``, ``spec`` or ``specs`` (fixed
    ArchitectureSpec fields; one or several variants), ``formula`` {"r", "alpha", "beta"} in
    d, m, L, sum_h (= total width), h (first width); ``networks``: list of {"inputs",
    "widths", "samples"}; ``symbolic``: also compare the sympy closed form of the uniform
    network (h, L, m symbols; sum_h = L h), instantiated on a grid, with the formula.
    """
    from bettibounds import ArchitectureSpec, closed_form, derive_format

    space = c.get("space", "loss")
    rows = []
    variants = c.get("specs", [c.get("spec", {})])
    for act, variant in itertools.product(c["activations"], variants):
        for net in c["networks"]:
            spec = _spec(activation=act, **variant, **net)
            names = _format_names(spec, space)
            if "where" in c and not formula(c["where"], **names):
                continue
            want = tuple(formula(c["formula"][k], **names) for k in ("r", "alpha", "beta"))
            got = (closed_form(spec) if space == "loss" else derive_format(spec, "closed", "input")).triple
            rows.append(Row(f"{act} {variant} d={spec.inputs} widths={list(spec.widths)} m={spec.samples} [{space}]",
                            want, got, tuple(got) == want))
        if c.get("symbolic"):
            import sympy

            h, L, m = sympy.symbols("h L m", positive=True, integer=True)
            sym = closed_form(ArchitectureSpec.uniform(2, h, L, m, activation=act, **variant)).triple
            bad = []
            for hv, Lv, mv in itertools.product(range(1, 4), range(1, 6), range(1, 4)):
                g = tuple(int(sympy.sympify(x).subs({h: hv, L: Lv, m: mv})) for x in sym)
                w = tuple(formula(c["formula"][k], h=hv, L=Lv, m=mv, sum_h=Lv * hv, d=2)
                          for k in ("r", "alpha", "beta"))
                if g != w:
                    bad.append(((hv, Lv, mv), w, g))
            want = tuple(c["formula"][k] for k in ("r", "alpha", "beta"))
            rows.append(Row(f"{act} {variant} symbolic (h, L, m)", want,
                            tuple(str(x) for x in sym) if not bad else bad[:3], not bad))
    return rows


def check_bound_formula(c: dict) -> list[Row]:
    """An entry of ``bounds(spec, space=...)`` equals a published formula in n = d, h = total
    width, l = depth, p (polynomial degree); optional ``expect_rigorous``."""
    from bettibounds import bounds

    rows = []
    for act in c["activations"]:
        for net in c["networks"]:
            spec = _spec(activation=act, **c.get("spec", {}), **net)
            entry = _upper(bounds(spec, space=c.get("space", "loss")), c["theorem"])
            p = int(act.split(":")[1]) if act.startswith("polynomial:") else None
            want = formula(c["formula"], n=spec.inputs, h=spec.total_width, l=spec.depth, p=p)
            if c.get("rounding", "exact") == "floor":
                want = math.floor(want)
            got = None if entry is None else entry.value
            label = f"{c['theorem']} {act} d={spec.inputs} widths={list(spec.widths)}"
            rows.append(Row(label, want, got, got == want))
            if "expect_rigorous" in c:
                r = None if entry is None else entry.rigorous
                rows.append(Row(label + " rigorous", c["expect_rigorous"], r, r == c["expect_rigorous"]))
    return rows


def check_invariance(c: dict) -> list[Row]:
    """Changing a spec field (``change``) leaves the format -- and the upper bounds, or the
    bounds up to n -> n + ``n_shift`` -- unchanged (docs/theory.md §4.3 item 7, §4.4)."""
    from bettibounds import bounds

    rows = []
    for act, variant in itertools.product(c["activations"], c.get("specs", [c.get("spec", {})])):
        for net in c["networks"]:
            base = _spec(activation=act, **variant, **net)
            changed = dataclasses.replace(base, **c["change"])
            rb, rc = bounds(base), bounds(changed)
            label = f"{act} {variant} widths={list(base.widths)} m={base.samples} + {c['change']}"
            rows.append(Row(label + ": format", rb.derivation.triple, rc.derivation.triple, rb.format == rc.format))
            shift = formula(c.get("n_shift", "0"), d=base.inputs, o=base.outputs)
            rows.append(Row(label + ": n", rb.n_variables + shift, rc.n_variables,
                            rc.n_variables == rb.n_variables + shift))
            if c.get("bounds_equal", True):
                lb, lc = _log2_table(rb), _log2_table(rc)
                rows.append(Row(label + ": log2 bounds", lb, lc, lb == lc))
            if "expect_hypothesis" in c:  # e.g. lambda > 0: compactness holds, no genericity needed
                k = _upper(rc, "K")
                got = sorted(h.status for h in k.hypotheses)
                rows.append(Row(label + ": K hypotheses", c["expect_hypothesis"], got, got == c["expect_hypothesis"]))
    return rows


def _grow(spec, vary):
    if vary == "samples":
        return dataclasses.replace(spec, samples=spec.samples + 1)
    if vary == "width":
        if "residual" in spec.skips:
            return dataclasses.replace(spec, widths=tuple(w + 1 for w in spec.widths))
        return dataclasses.replace(spec, widths=(*spec.widths[:-1], spec.widths[-1] + 1))
    if vary == "depth":  # repeat the last hidden layer (a uniform network gets one layer deeper)
        bias = spec.bias if isinstance(spec.bias, bool) else (*spec.bias[:-1], spec.bias[-2], spec.bias[-1])
        return dataclasses.replace(spec, widths=(*spec.widths, spec.widths[-1]), bias=bias)
    raise ValueError(f"unknown sweep variable {vary!r}")


def check_monotone(c: dict) -> list[Row]:
    """Qualitative: along a sweep in ``vary`` (width, depth or samples) every upper bound
    listed in ``theorems`` grows strictly (log2 compared), for every activation and loss."""
    from bettibounds import bounds

    rows = []
    for act in c["activations"]:
        for lossd in c["losses"]:
            spec = _spec(activation=act, **lossd, **c["start"])
            seq = []
            for _ in range(c["steps"]):
                rep = bounds(spec, space=c.get("space", "loss"))
                seq.append({k: _upper(rep, k).log2 for k in c["theorems"]})
                spec = _grow(spec, c["vary"])
            for k in c["theorems"]:
                vals = [s[k] for s in seq]
                ok = all(b > a for a, b in itertools.pairwise(vals))
                rows.append(Row(f"{k} {act} {lossd} over {c['vary']}", "strictly increasing",
                                [round(float(v), 2) for v in vals], ok))
    return rows


def check_sublevel_bars(c: dict) -> list[Row]:
    """H_k bars of the sublevel filtration of ``values`` equal ``expected`` (``"inf"`` = essential)."""
    import numpy as np

    from bettibounds.empirical.persistence import sublevel_persistence

    dg = sublevel_persistence(np.array(c["values"], dtype=float), max_dim=c.get("dim", 0))
    got = sorted([float(b.birth), "inf" if math.isinf(b.death) else float(b.death)]
                 for b in dg.intervals(c.get("dim", 0)))
    want = sorted([float(b), d if d == "inf" else float(d)] for b, d in c["expected"])
    return [Row(f"H{c.get('dim', 0)} bars of {c['values']}", want, got, got == want)]


def check_minima_barcode(c: dict) -> list[Row]:
    """Definition of the barcode of minima on random 1-D paths with distinct values: one bar per
    strict local minimum, born at its value; exactly one essential bar, born at the global minimum."""
    import numpy as np

    from bettibounds.empirical.persistence import sublevel_persistence

    rows = []
    for seed in c["seeds"]:
        v = np.random.default_rng(seed).permutation(c["length"]).astype(float)  # distinct values
        padded = np.concatenate([[np.inf], v, [np.inf]])
        minima = sorted(float(v[i]) for i in range(len(v))
                        if padded[i + 1] < padded[i] and padded[i + 1] < padded[i + 2])
        bars = sublevel_persistence(v, max_dim=0).intervals(0)
        births = sorted(float(b.birth) for b in bars)
        essential = [float(b.birth) for b in bars if math.isinf(b.death)]
        rows.append(Row(f"seed {seed}: births = local minima", minima, births, births == minima))
        rows.append(Row(f"seed {seed}: essential bars", [float(v.min())], essential, essential == [float(v.min())]))
    return rows


def _sign_patterns(c):
    for k in c["neurons"]:
        for signs in itertools.product((-1, 0, 1), repeat=k):
            yield [{-1: -1.3, 0: 0.0, 1: 0.7}[s] * (1 + 0.1 * i) for i, s in enumerate(signs)]


def check_invariant_topology(c: dict) -> list[Row]:
    """``bettibounds.obstruction.topology`` over every sign pattern of c (``neurons`` sizes), input
    dims ``p`` and output dims ``e``: ``quantity`` (betti_sum, b0 or effective_components) equals
    ``formula`` in N_minus, N_plus, N_zero, p, e, wherever ``where`` holds."""
    from bettibounds.obstruction import topology

    rows = []
    for cvec in _sign_patterns(c):
        for p in c["p"]:
            for e in c["e"]:
                names = {"N_minus": sum(x < 0 for x in cvec), "N_plus": sum(x > 0 for x in cvec),
                         "N_zero": sum(x == 0 for x in cvec), "p": p, "e": e, "h": len(cvec)}
                if "where" in c and not formula(c["where"], **names):
                    continue
                t = topology(cvec, p=p, e=e)
                got = {"betti_sum": sum(t.betti.values()), "b0": t.betti.get(0, 0), "components": t.components,
                       "effective_components": t.effective_components}[c["quantity"]]
                want = formula(c["formula"], **names)
                rows.append(Row(f"{c['quantity']} c={[round(x, 2) for x in cvec]} p={p} e={e}", want, got, got == want))
    return rows


def check_invariant_betti(c: dict) -> list[Row]:
    """Betti numbers of a product of quadrics for listed cases (``cases``: c, p, e, expected {degree: b})."""
    from bettibounds.obstruction import topology

    rows = []
    for case in c["cases"]:
        t = topology(case["c"], p=case["p"], e=case["e"])
        want = {int(k): v for k, v in case["expected"].items()}
        got = {k: v for k, v in t.betti.items() if v}
        rows.append(Row(f"H(c) c={case['c']} p={case['p']} e={case['e']}", want, got, got == want))
    return rows


def check_conservation(c: dict) -> list[Row]:
    """c_k = ||w_k||^2 - ||v_k||^2 is conserved by the gradient flow: gradient descent drifts by O(lr),
    so the drift is small and halving the step roughly halves it (ratio in ``ratio_range``)."""
    import numpy as np

    from bettibounds.obstruction import gradient_flow

    rows = []
    for seed in c["seeds"]:
        rng = np.random.default_rng(seed)
        h, p, m = c["width"], c["p"], c["samples"]
        W, V = rng.normal(0, 1, (h, p)), rng.normal(0, 1, (h, 1))
        X = np.hstack([rng.normal(0, 1, (m, p - 1)), np.ones((m, 1))])  # bias absorbed
        y = rng.normal(0, 1, m)
        lr, T = c["lr"], c["time"]
        d1 = gradient_flow(W, V, X, y, steps=int(T / lr), lr=lr)["max_invariant_drift"]
        d2 = gradient_flow(W, V, X, y, steps=int(2 * T / lr), lr=lr / 2)["max_invariant_drift"]
        lo, hi = c["ratio_range"]
        rows.append(Row(f"seed {seed}: drift(lr)/drift(lr/2)", f"in [{lo}, {hi}] (O(lr) drift)",
                        round(d1 / d2, 3) if d2 > 0 else None, d2 > 0 and lo <= d1 / d2 <= hi))
        rows.append(Row(f"seed {seed}: drift at lr={lr}", f"<= {c['max_drift']}", d1, d1 <= c["max_drift"]))
    return rows


def check_reachability(c: dict) -> list[Row]:
    """``obstruction.reachability`` on listed cases (W, V, X, y, teacher) gives ``expected``."""
    from bettibounds.obstruction import reachability

    rows = []
    for case in c["cases"]:
        teacher = (case["teacher"]["W"], case["teacher"]["V"]) if case.get("teacher") else None
        got = reachability(case["W"], case["V"], case["X"], case["y"], teacher=teacher)["status"]
        rows.append(Row(case["label"], case["expected"], got, got == case["expected"]))
    return rows


def check_format_rule(c: dict) -> list[Row]:
    """A rule of the format algebra (``bettibounds.pfaffian.rules.<rule>``) equals the published
    rule (``formula``: a tuple expression in r, alpha, beta -- or r1, alpha1, beta1, r2, ... for
    two arguments) on every triple of ``triples``; ``where`` restricts the grid."""
    from bettibounds.pfaffian import rules

    fn = getattr(rules, c["rule"])
    rows = []
    for args in c["triples"]:
        if len(args) == 1:
            names = dict(zip(("r", "alpha", "beta"), args[0]))
        else:
            names = {f"{k}{i}": v for i, t in enumerate(args, 1) for k, v in zip(("r", "alpha", "beta"), t)}
        if "where" in c and not formula(c["where"], **names):
            continue
        want = tuple(formula(c["formula"], **names))
        got = tuple(fn(*[tuple(t) for t in args]))
        rows.append(Row(f"{c['rule']}{tuple(tuple(t) for t in args)}", want, got, got == want))
    return rows


def check_primitive_formats(c: dict) -> list[Row]:
    """The activation registry's format (r, alpha, beta) of each primitive equals the published table."""
    from bettibounds import get_activation

    return [Row(name, tuple(want), tuple(get_activation(name).format),
                tuple(get_activation(name).format) == tuple(want))
            for name, want in c["expected"].items()]


#: the loss rows of the worked-numbers table (docs/theory.md §4.5)
WORKED_LOSS_ROWS: dict[str, dict[str, str]] = {"MSE-lin": dict(loss="mse", output_activation="identity"),
                    "MSE-sig": dict(loss="mse", output_activation="sigmoid"),
                    "BCE": dict(loss="bce", output_activation="sigmoid")}


def check_worked_row(c: dict) -> list[Row]:
    """A row of the worked-numbers table, end to end: ``bounds()`` of the logistic network ``network``
    (d, h, L, m, loss_row) against P, the format, and log2 of Zell's core, of the count K (theorem K's
    bound is floor(K/2), one less in log2 for an even count) and of GV, to ``decimals`` decimals; the
    closed-form and the mechanical format derivations both give the format."""
    from bettibounds import ArchitectureSpec, bounds, closed_form
    from bettibounds.pfaffian.graph import mechanical

    n = c["network"]
    row = WORKED_LOSS_ROWS[n["loss_row"]]
    spec = ArchitectureSpec.uniform(n["d"], n["h"], n["L"], n["m"], activation="logistic", loss=row["loss"],
                                    output_activation=row["output_activation"])
    report = bounds(spec)
    tol = 0.5 * 10 ** -c["decimals"] + 1e-9
    fmt = tuple(c["format"])
    upper = {b.theorem: float(b.log2) for b in report.upper if b.log2 is not None}  # all, for a concrete spec
    rows = [Row("P", c["P"], report.n_params, report.n_params == c["P"]),
            Row("format (bounds)", fmt, report.derivation.triple, report.derivation.triple == fmt),
            Row("format (closed form)", fmt, closed_form(spec).triple, closed_form(spec).triple == fmt),
            Row("format (mechanical)", fmt, mechanical(spec).triple, mechanical(spec).triple == fmt),
            Row("log2 Z", c["log2_zell"], round(upper["Z"], 4), abs(upper["Z"] - c["log2_zell"]) <= tol),
            Row("log2 K count (bound + 1)", c["log2_k_count"], round(upper["K"] + 1, 4),
                abs(upper["K"] + 1 - c["log2_k_count"]) <= tol),
            Row("log2 GV", c["log2_gv"], round(upper["GV"], 4), abs(upper["GV"] - c["log2_gv"]) <= tol)]
    return rows


def check_external(c: dict) -> list[Row]:
    raise Skip(f"checked by {c['checked_by']}")


CHECKERS: dict[str, Callable[[dict], list[Row]]] = {
    "theorem_formula": check_theorem_formula,
    "theorem_value": check_theorem_value,
    "theorem_inequality": check_theorem_inequality,
    "loss_format": check_loss_format,
    "bound_formula": check_bound_formula,
    "invariance": check_invariance,
    "monotone": check_monotone,
    "sublevel_bars": check_sublevel_bars,
    "minima_barcode": check_minima_barcode,
    "invariant_topology": check_invariant_topology,
    "invariant_betti": check_invariant_betti,
    "conservation": check_conservation,
    "reachability": check_reachability,
    "format_rule": check_format_rule,
    "primitive_formats": check_primitive_formats,
    "worked_row": check_worked_row,
    "external": check_external,
}


def run_claim(claim: dict) -> list[Row]:
    """Rows of one claim (raises :class:`Skip` for claims checked elsewhere)."""
    kind = claim["check"]["kind"]
    if kind not in CHECKERS:
        raise KeyError(f"claim {claim['id']}: unknown check kind {kind!r}; known: {sorted(CHECKERS)}")
    return CHECKERS[kind](claim["check"])
