"""Symmetry-group lower bounds on b_0 of loss sublevel sets [derived].

Hidden-unit permutations and (activation-dependent) sign flips act on R^P by affine
bijections that preserve the loss; they form a finite group G. If theta* is a strict
local minimiser with trivial stabiliser, its orbit consists of |G| strict local
minimisers, and for c in [Loss(theta*), Loss(theta*) + delta) each lies in its own
component of S_c: ``B(S_c) >= b_0(S_c) >= |G|`` (docs/theory.md, "Symmetry lower
bound"; THEORY sec. 3).

The group depends on the architecture, and this module gets each case right:

* permutations of the h_l units of a layer: h_l! -- but an identity-residual chain of
  equal-width layers (a_l = phi(z_l) + a_{l-1}) ties the units of all its layers, so the
  chain contributes one h! (THEORY sec. 3);
* odd activations (tanh, arctan): flipping (incoming weights, bias, outgoing weights)
  of a unit; in a residual chain the flip acts on the same unit of every layer of the
  chain: 2^h per chain or per plain layer; l2 keeps it (||theta|| unchanged);
* logistic: sigma(-z) = 1 - sigma(z), compensated in the *next* Linear layer's bias;
  in a residual chain the compensation runs through every later bias of the chain
  (docs/theory.md proves this case, which THEORY.md's list leaves out). Needs those
  biases, and l2 > 0 breaks it (the bias shift changes ||theta||);
* even activations (Gaussian): flipping a unit's incoming weights and bias leaves its
  output unchanged, independently in every layer, residual or not: 2^{h_l} per layer;
* softplus, SiLU, GELU, exp, even-degree polynomials t + t^p: permutations only (odd-degree
  polynomials t + t^p are odd activations);
* identity: a continuous symmetry group (GL(h)), no isolated minimisers, no bound.

An input-output skip does not interact with hidden-unit symmetries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath

from .numbers import MAX_EXACT_DIGITS, log_factorial2
from .pfaffian.activations import get_activation
from .spec import SymbolicWidths
from .theorems.base import Hypothesis

__all__ = ["SymmetryGroup", "symmetry_group"]


@dataclass(frozen=True)
class SymmetryGroup:
    """The finite group G of loss-preserving affine maps used by the lower bound.

    Attributes
    ----------
    blocks : list of dict
        One entry per plain layer or residual chain: ``layers``, ``width``,
        ``permutations`` (the h of h!) and ``flips`` (the exponent of 2).
    log2 : mpf or sympy expression
        log2 |G|.
    order : int or None
        |G| exactly when it has at most MAX_EXACT_DIGITS digits (None otherwise), or a
        sympy expression for symbolic specs.
    notes : list of str
        Why each factor is (or is not) there.
    """

    blocks: list = field(default_factory=list)
    log2: object = None
    order: object = None
    notes: list = field(default_factory=list)
    applicable: bool = True


def _blocks(spec) -> list[list[int]]:
    """Layers tied together: one residual chain, or one block per plain layer."""
    if "residual" in spec.skips:
        return [list(range(1, spec.depth + 1))]
    return [[l] for l in range(1, spec.depth + 1)]


def _some_hidden_bias(spec) -> bool:
    """Does some hidden layer have a bias? For a symbolic depth only the uniform ``bias`` flag can tell."""
    if isinstance(spec.depth, int):
        return any(spec.has_bias(l) for l in range(1, spec.depth + 1))
    return bool(spec.has_bias(1))  # symbolic specs have one bias flag for every layer


def symmetry_group(spec) -> SymmetryGroup:
    """The symmetry group G of the loss of ``spec`` (see the module docstring).

    Examples
    --------
    >>> from bettibounds import ArchitectureSpec
    >>> symmetry_group(ArchitectureSpec(inputs=2, widths=(2, 3), activation="tanh", samples=3)).order
    384
    >>> symmetry_group(ArchitectureSpec(inputs=2, widths=(2, 3), activation="tanh", samples=3, l2=0.1)).order
    384
    >>> symmetry_group(ArchitectureSpec(inputs=2, widths=(2, 3), activation="sigmoid", samples=3, l2=0.1)).order
    12
    """
    act = get_activation(spec.activation)
    notes: list[str] = []
    if act.symmetry == "continuous":
        return SymmetryGroup(notes=[
            "identity activation: the loss is invariant under a continuous group (GL(h) acting "
            "between consecutive layers), so no local minimiser is isolated and no finite-group "
            "lower bound applies"
        ], applicable=False)
    if act.name == "exp" and spec.l2_positive is not True and _some_hidden_bias(spec):
        return SymmetryGroup(notes=[
            "exp activation with hidden biases: (b_k, outgoing weights of k) -> (b_k + c, e^-c * outgoing) "
            "preserves the loss for every c (a continuous symmetry), so no local minimiser is isolated and no "
            "finite-group lower bound applies" + ("" if spec.l2_positive is False else " (lambda's sign is undecided)")
        ], applicable=False)
    residual = "residual" in spec.skips
    l2 = spec.l2_positive
    logistic_flips = act.symmetry == "logistic"
    if logistic_flips and l2 is not False:
        logistic_flips = False
        notes.append(
            "logistic sign flips dropped: their bias compensation changes ||theta||, so they do not "
            "preserve the l2 penalty" + (" (lambda > 0)" if l2 else " (lambda's sign is undecided)")
        )
    if isinstance(spec.widths, SymbolicWidths):
        return _symbolic_group(spec, act, residual, logistic_flips, notes)
    blocks = []
    for layers in _blocks(spec):
        h = spec.widths[layers[0] - 1]
        flips = 0
        if act.symmetry == "odd":
            flips = h
        elif act.symmetry == "logistic" and logistic_flips:
            needed = [l + 1 for l in layers]  # Linear layers whose bias absorbs the flip
            if all(spec.has_bias(k) for k in needed):
                flips = h
            else:
                notes.append(
                    f"logistic flips of layer(s) {layers} dropped: compensation needs a bias in "
                    f"Linear layer(s) {needed}"
                )
        elif act.symmetry == "even":
            flips = h * len(layers)  # each layer flips independently
        blocks.append({"layers": layers, "width": h, "permutations": h, "flips": flips})
    if residual:
        notes.append(f"identity-residual chain over layers 1..{spec.depth}: one permutation group S_h for the chain")
    if act.symmetry == "none":
        notes.append(f"{act.name}: no sign-flip symmetry; permutations only")
    if any(hasattr(b["width"], "free_symbols") for b in blocks):  # symbolic widths in a tuple
        import sympy

        order = sympy.Mul(*(2 ** b["flips"] * sympy.factorial(b["permutations"]) for b in blocks))
        log2 = sum(b["flips"] + sympy.log(sympy.factorial(b["permutations"]), 2) for b in blocks)
        return SymmetryGroup(blocks, log2, order, notes)
    with mpmath.workdps(30 + max(len(str(b["permutations"])) for b in blocks) + len(str(len(blocks)))):
        log2 = mpmath.mpf(0)
        for b in blocks:
            log2 += b["flips"] + log_factorial2(b["permutations"])
    order = None
    if float(log2 * mpmath.log10(2)) < MAX_EXACT_DIGITS:
        order = 1
        for b in blocks:
            order *= 2 ** b["flips"] * math.factorial(b["permutations"])
    return SymmetryGroup(blocks, log2, order, notes)  # no unary +: it would round to the default precision


def _symbolic_group(spec, act, residual, logistic_flips, notes) -> SymmetryGroup:
    import sympy

    h, L = spec.widths.width, spec.widths.depth
    chains = 1 if residual else L
    flips = 0
    if act.symmetry == "odd" or (act.symmetry == "logistic" and logistic_flips and spec.bias):
        flips = h * chains
    elif act.symmetry == "even":
        flips = h * L
    order = 2**flips * sympy.factorial(h) ** chains
    log2 = flips + chains * sympy.log(sympy.factorial(h), 2)
    blocks = [{"layers": "all", "width": h, "permutations": h, "flips": flips, "count": chains}]
    return SymmetryGroup(blocks, log2, order, notes)


def lower_hypotheses(spec) -> list[Hypothesis]:
    """Hypotheses of the symmetry lower bound for ``spec``."""
    return [
        Hypothesis(
            "G acts on R^P by affine bijections that preserve the loss",
            "holds",
            "by construction, docs/theory.md",
        ),
        Hypothesis(
            "the loss has a strict local minimiser theta* with trivial stabiliser in G (no non-identity "
            "element of G fixes theta*; e.g. for odd activations no two units of a layer with equal or "
            "opposite incoming weights and biases, no unit with zero incoming or outgoing weights)",
            "undecided",
            "not certified here: a certified witness for concrete data is a separate tool",
        ),
        Hypothesis(
            "c lies in [Loss(theta*), Loss(theta*) + delta) for the delta of theta*",
            "undecided",
            "the bound is about levels just above a minimum, not every c",
        ),
    ]
