"""BoundResult and BoundReport: one bound with its provenance, and the full report.

A result carries the theorem (key, name, statement, status, citation), the route by
which it was applied to the set at hand (compact sublevel set, generic level via
epsilon-regularisation, slice, input space) with that route's own status, the
parameters (n, r, alpha, beta, ...), the hypotheses with three-valued status, and the
number in log2/log10 (exact when small). Reports serialise to JSON, LaTeX and text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import mpmath

from .logspace import Evaluated, log10_text, safe_float
from .references import REFERENCES
from .sizes import Expr, Size
from .theorems.base import Hypothesis, Product

if TYPE_CHECKING:
    from .pfaffian.chain import Certificate
    from .pfaffian.derive import Derivation
    from .pfaffian.format import PfaffianFormat
    from .spec import ArchitectureSpec

__all__ = ["BoundResult", "BoundReport"]


def _num(x: object, direction: str) -> float | str | None:
    """JSON number for an mpf (None for -inf), rounded to the bound's safe side ("up" for an
    upper bound, "down" for a lower one); string for a sympy expression."""
    if x is None:
        return None
    if isinstance(x, mpmath.mpf):
        return None if x == mpmath.ninf else safe_float(x, direction)
    return str(x)


def _widths_text(spec: ArchitectureSpec) -> str:
    if not isinstance(spec.widths, tuple):  # SymbolicWidths
        return f"{spec.widths.depth} x [{spec.widths.width}]"
    return str(list(spec.widths))


def _json_size(v: Size) -> int | str:
    """A size for JSON: an int as it is, a sympy expression as a string."""
    return v if isinstance(v, int) else str(v)


@dataclass(frozen=True)
class BoundResult:
    """One bound on a Betti-number sum, with everything needed to trust it.

    Attributes
    ----------
    theorem, name, statement, latex_statement, status, citation
        From the theorem registry (or the symmetry lower bound).
    kind : {"upper", "lower"}
    route : str
        How the theorem was applied (e.g. "compact S_c", "generic level via
        epsilon-regularisation", "V' = {Loss + t^2 = c} in n + 1 variables").
    route_status : str
        Status of the reduction from the theorem to this set ("derived" unless direct).
    rigorous : bool
        True when the number is a proved bound with explicit constants, valid whenever
        the hypotheses hold; False for constant-free cores (O(.) with C set by
        convention).
    hypotheses : tuple of Hypothesis
    parameters : dict
        The numbers substituted (n, r, alpha, beta, ...).
    evaluated : Evaluated or None
        Numeric value (None for symbolic results).
    symbolic_log2, symbolic_value : sympy expressions or None
        For symbolic specs.
    """

    theorem: str
    name: str
    kind: str
    statement: str
    latex_statement: str
    status: str
    route: str
    route_status: str
    rigorous: bool
    hypotheses: tuple[Hypothesis, ...]
    citation: tuple[str, ...]
    parameters: dict[str, object]
    evaluated: Evaluated | None = None
    product: Product | None = field(default=None, repr=False)
    symbolic_log2: Expr | None = None
    symbolic_value: Expr | None = None

    # -------------------------------------------------------------- numbers
    @property
    def log2(self) -> mpmath.mpf | Expr | None:
        """log2 of the bound (mpf; sympy expression for symbolic results)."""
        return self.evaluated.log2 if self.evaluated is not None else self.symbolic_log2

    @property
    def log10(self) -> mpmath.mpf | Expr | None:
        """log10 of the bound (mpf; sympy expression for symbolic results)."""
        if self.evaluated is not None:
            return self.evaluated.log10
        import sympy

        return None if self.symbolic_log2 is None else self.symbolic_log2 * sympy.log(2, 10)

    @property
    def value(self) -> int | None:
        """The exact bound when it has at most a few thousand digits, else None."""
        return None if self.evaluated is None else self.evaluated.exact

    @property
    def conditional(self) -> bool:
        """True when some hypothesis is undecided (the bound holds *if* it holds)."""
        return any(h.status == "undecided" for h in self.hypotheses)

    def expression(self) -> Expr | None:
        """sympy expression of the bound (unevaluated powers for concrete numbers)."""
        if self.symbolic_value is not None:
            return self.symbolic_value
        return None if self.product is None else self.product.sympy(evaluate=False)

    def latex(self) -> str:
        """LaTeX: the inequality, then the substituted expression and its size."""
        import sympy

        lines = [self.latex_statement]
        expr = self.expression()
        if expr is not None:
            lines.append(sympy.latex(expr))
        if self.evaluated is not None and self.evaluated.log10 != mpmath.ninf:
            rel = r"\le" if self.kind == "upper" else r"\ge"  # rounded to the bound's safe side
            lines.append(r"\log_{10} " + rel + " " + log10_text(self.evaluated.log10, self._direction))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the keys listed in the README's JSON section)."""
        return {
            "theorem": self.theorem,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "route": self.route,
            "route_status": self.route_status,
            "rigorous": self.rigorous,
            "conditional": self.conditional,
            "log2": _num(self.log2, self._direction),
            "log10": _num(self.log10, self._direction),
            "log10_text": None if self.evaluated is None or self.evaluated.log10 == mpmath.ninf
            else log10_text(self.evaluated.log10, self._direction),
            "value": None if self.value is None else str(self.value),
            "hypotheses": [str(h) for h in self.hypotheses],
            "citation": "; ".join(self.citation),
            "parameters": {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in self.parameters.items()},
            "statement": self.statement,
        }

    @property
    def _direction(self) -> str:
        """The safe side for rounding this bound: up for an upper bound, down for a lower one."""
        return "up" if self.kind == "upper" else "down"

    def size_text(self) -> str:
        """Short human form of the number: exact when small, else m.mmm e N."""
        if self.evaluated is not None:  # round to the claim's safe side: up for upper, down for lower
            return self.evaluated.scientific(direction=self._direction)
        return f"2^({self.symbolic_log2})"


def _numeric_log2(b: BoundResult) -> mpmath.mpf:
    """log2 of a result of a numeric format (one whose ``evaluated`` is set)."""
    assert b.evaluated is not None, "a numeric format gives evaluated results"
    return b.evaluated.log2


@dataclass(frozen=True)
class BoundReport:
    """Everything :func:`bettibounds.bounds` derived for one spec.

    Attributes
    ----------
    spec : ArchitectureSpec
    space : {"loss", "input"}
    n_variables : int or sympy expression
        n used by the theorems (P, d, or the slice dimension k).
    n_params : int or sympy expression
    derivation : Derivation
    upper, lower : tuple of BoundResult
    notes : tuple of str
    """

    spec: ArchitectureSpec
    space: str
    n_variables: Size
    n_params: Size
    derivation: Derivation
    upper: tuple[BoundResult, ...]
    lower: tuple[BoundResult, ...]
    notes: tuple[str, ...] = ()
    certificate: Certificate | None = None

    @property
    def format(self) -> PfaffianFormat | None:
        return self.derivation.format

    def best_upper(self, rigorous: bool = True) -> BoundResult | None:
        """The smallest upper bound (among rigorous ones by default)."""
        pool = [b for b in self.upper if b.rigorous or not rigorous]
        if not pool or self.derivation.format is None:
            return pool[0] if pool else None
        return min(pool, key=_numeric_log2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: n_params, format, upper, lower, notes, references."""
        r, alpha, beta = self.derivation.triple
        conv = _json_size
        cited = sorted({k for b in (*self.upper, *self.lower) for k in b.citation})
        return {
            "space": self.space,
            "spec": self.spec.to_dict(),
            "n_params": conv(self.n_params),
            "n_variables": conv(self.n_variables),
            "format": {"order": conv(r), "alpha": conv(alpha), "beta": conv(beta)},
            "derivation": {"method": self.derivation.method, "steps": list(self.derivation.steps)},
            "upper": [b.to_dict() for b in self.upper],
            "lower": [b.to_dict() for b in self.lower],
            "notes": list(self.notes),
            "references": {k: REFERENCES[k] for k in cited},
            **({"certificate": self.certificate.to_dict()} if self.certificate is not None else {}),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_latex(self) -> str:
        """A LaTeX fragment: the format, then each bound's inequality and expression."""
        import sympy

        r, alpha, beta = self.derivation.triple
        out = [
            "% bettibounds report",
            rf"$n = {sympy.latex(sympy.sympify(self.n_variables))}$, "
            rf"$(r, \alpha, \beta) = ({sympy.latex(sympy.sympify(r))}, "
            rf"{sympy.latex(sympy.sympify(alpha))}, {sympy.latex(sympy.sympify(beta))})$",
        ]
        for b in (*self.upper, *self.lower):
            out.append(f"% {b.kind}: {b.name} [{b.status}; route {b.route_status}]")
            out.append(r"\begin{gather*}" + " \\\\\n".join(b.latex().splitlines()) + r"\end{gather*}")
        return "\n".join(out)

    def to_text(self) -> str:
        """The human-readable table printed by ``bettibounds bound``."""
        r, alpha, beta = self.derivation.triple
        s = self.spec
        what = ("B({x : u(x) >= 0}), u = the output logit (sigma(u) >= 1/2 for a sigmoid output)"
                if self.space == "input" else "B(S_c), S_c = {theta : Loss(theta) <= c}")
        lines = [
            f"bettibounds: {what}",
            f"network: d={s.inputs}, widths={_widths_text(s)}, "
            f"activation={s.activation}, output={s.output_activation} x{s.outputs}, "
            # input space: the network's output over its inputs, fixed weights -- no loss, data or l2 enter
            + ("" if self.space == "input" else f"loss={s.loss}, m={s.samples}, l2={s.l2}, ")
            + f"skip={s.skip}",
            f"variables n = {self.n_variables}   parameters P = {self.n_params}",
            f"Pfaffian format (r, alpha, beta) = ({r}, {alpha}, {beta})   [{self.derivation.method}]",
            "",
        ]
        l10s = {id(b): log10_text(b.log10, b._direction) for b in (*self.upper, *self.lower)
                if b.evaluated is not None}
        w = max([14] + [len(t) for t in l10s.values()])
        header = f"{'':5} {'theorem':<11} {'status':<14} {'rigorous':<9} {'log10':>{w}}  value"
        for title, rows in (("upper bounds", self.upper), ("lower bounds", self.lower)):
            lines.append(title + ":")
            if not rows:
                lines.append("  (none)")
                continue
            lines.append(header)
            for b in rows:
                rig = ("yes" if b.rigorous else "no") + ("*" if b.conditional else "")
                if b.evaluated is None:  # symbolic: the closed form itself
                    lines.append(f"{b.kind:5} {b.theorem:<11} {b.status:<14} {rig:<9} {'-':>{w}}")
                    lines.append(f"      bound = {b.symbolic_value}")
                else:
                    l10 = l10s[id(b)]
                    lines.append(f"{b.kind:5} {b.theorem:<11} {b.status:<14} {rig:<9} {l10:>{w}}  {b.size_text()}")
                lines.append(f"      via {b.route} [{b.route_status}]")
                for h in b.hypotheses:
                    lines.append(f"      - {h}")
            lines.append("")
        if self.certificate is not None:
            c = self.certificate
            lines.append(f"chain certificate: {'VERIFIED' if c.verified else 'FAILED'} "
                         f"({c.checks} checks, {c.seconds:.2f} s); found format {c.found}")
            lines.extend(f"  - {claim}" for claim in c.claims)
            lines.extend(f"  ! {f}" for f in c.failures[:20])
            if len(c.failures) > 20:
                lines.append(f"  ! ... {len(c.failures) - 20} more failures")
            lines.append("")
        lines.append("rigorous 'yes*' = explicit bound, conditional on the [undecided] hypotheses listed.")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)
