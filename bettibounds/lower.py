"""Symmetry-group lower bounds on b_0 of loss sublevel sets [derived].

Hidden-unit permutations and (activation-dependent) sign flips act on R^P by affine
bijections (polynomial ones for the skip flips) that preserve the loss; they form a finite
group G. If theta* is a strict
local minimiser with trivial stabiliser, its orbit consists of |G| strict local
minimisers, and for c in [Loss(theta*), Loss(theta*) + delta) each lies in its own
component of S_c: ``B(S_c) >= b_0(S_c) >= |G|`` (docs/theory.md §7, Theorem 7.1).

The group depends on the architecture, and this module gets each case right:

* permutations of the h_l units of a layer: h_l! -- but an identity-residual chain of
  equal-width layers (a_l = phi(z_l) + a_{l-1}) ties the units of all its layers, so the
  chain contributes one h! (docs/theory.md §7.2);
* odd activations (tanh, arctan): flipping (incoming weights, bias, outgoing weights)
  of a unit; in a residual chain the flip acts on the same unit of every layer of the
  chain: 2^h per chain or per plain layer; l2 keeps it (||theta|| unchanged);
* logistic: sigma(-z) = 1 - sigma(z), compensated in the *next* Linear layer's bias;
  in a residual chain the compensation runs through every later bias of the chain
  (docs/theory.md §7.2 proves this case, which is often left out; §9, item 5). Needs those
  biases, and l2 > 0 breaks it (the bias shift changes ||theta||);
* even activations (Gaussian): flipping a unit's incoming weights and bias leaves its
  output unchanged, independently in every layer, residual or not: 2^{h_l} per layer;
* softplus, SiLU, GELU, exp, even-degree polynomials t + t^p: permutations only (odd-degree
  polynomials t + t^p are odd activations) -- except softplus, SiLU and GELU with one hidden
  layer and the input-output skip, where phi(-t) = phi(t) - t is compensated by the skip
  matrix U (and c_0): 2^h h!, lambda = 0 only (docs/theory.md sec. 7.2);
* continuous loss-preserving families (:func:`continuous_family`): identity (GL(h)),
  exp with hidden biases, polynomial:2 with biases (and other configurations), every
  polynomial activation with L = 1 and the input-output skip: no local minimiser is strict,
  so no finite-group bound applies (docs/theory.md sec. 7.3).

An input-output skip does not interact with the other hidden-unit symmetries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

import mpmath

from .logspace import MAX_EXACT_DIGITS, log_factorial2
from .pfaffian.activations import Activation, get_activation
from .sizes import Expr, Size
from .spec import ArchitectureSpec, SymbolicWidths
from .theorems.base import Hypothesis

__all__ = ["SymmetryGroup", "SymmetryBlock", "continuous_family", "symmetry_group", "FAMILY_AUDITED",
           "SKIP_FLIP_ACTIVATIONS"]

#: the activations whose continuous loss-preserving families are audited (Lemma 7.3 and the families of
#: docs/theory.md sec. 7.3; the polynomials t + t^p are audited as a family): for any other registry name
#: continuous_family answers conservatively, so no symmetry lower bound is reported until it is audited
FAMILY_AUDITED = frozenset({"logistic", "tanh", "arctan", "softplus", "gaussian", "silu", "gelu", "exp", "identity"})
#: the activations with phi(-t) = phi(t) - t, whose flips the input-output skip compensates (docs/theory.md
#: sec. 7.2); a name left out only loses those flips (a smaller group: the bound stays sound)
SKIP_FLIP_ACTIVATIONS = ("softplus", "silu", "gelu")


class _SymmetryBlockKeys(TypedDict):
    layers: list[int] | str  # the hidden layers of the block; "all" for symbolic widths
    width: Size  # h, the width of every layer of the block
    permutations: Size  # the h of h!
    flips: Size  # the exponent of 2
    flip_kind: str | None  # "odd", "logistic", "even", "skip" or None


class SymmetryBlock(_SymmetryBlockKeys, total=False):
    """One entry of :attr:`SymmetryGroup.blocks`: a plain layer or a residual chain (see there)."""

    count: Size  # symbolic widths only: the one entry stands for ``count`` equal blocks


@dataclass(frozen=True)
class SymmetryGroup:
    """The finite group G of loss-preserving maps used by the lower bound (affine, or polynomial for skip flips).

    Attributes
    ----------
    blocks : list of SymmetryBlock (dicts)
        One entry per plain layer or residual chain: ``layers``, ``width``,
        ``permutations`` (the h of h!), ``flips`` (the exponent of 2) and ``flip_kind``
        ("odd", "logistic", "even", "skip" or None).
    log2 : mpf or sympy expression
        log2 |G|.
    order : int or None
        |G| exactly when it has at most MAX_EXACT_DIGITS digits (None otherwise), or a
        sympy expression for symbolic specs.
    notes : list of str
        Why each factor is (or is not) there; when ``applicable`` is False, why there is no bound.
    applicable : bool
        False when the loss has a continuous loss-preserving family (:func:`continuous_family`).
    """

    blocks: list[SymmetryBlock] = field(default_factory=list)
    log2: mpmath.mpf | Expr | None = None
    order: int | Expr | None = None
    notes: list[str] = field(default_factory=list)
    applicable: bool = True


def _blocks(spec: ArchitectureSpec) -> list[list[int]]:
    """Layers tied together: one residual chain, or one block per plain layer."""
    if "residual" in spec.skips:
        return [list(range(1, spec.depth + 1))]
    return [[l] for l in range(1, spec.depth + 1)]


def _some_hidden_bias(spec: ArchitectureSpec) -> bool:
    """Does some hidden layer have a bias? For a symbolic depth only the uniform ``bias`` flag can tell."""
    if isinstance(spec.depth, int):
        return any(spec.has_bias(l) for l in range(1, spec.depth + 1))
    return bool(spec.has_bias(1))  # symbolic specs have one bias flag for every layer


def _int_or_none(x: Size) -> int | None:
    """x as an int when it is a concrete integer (sympy integers included), else None (a symbol)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    try:
        return int(x) if getattr(x, "is_Integer", False) else None
    except TypeError:  # pragma: no cover
        return None


def _concrete_ints(sizes: Iterable[Size]) -> list[int] | None:
    """The sizes as ints when every one is a concrete integer, else None."""
    ints = [_int_or_none(v) for v in sizes]
    known = [v for v in ints if v is not None]
    return known if len(known) == len(ints) else None


def _plain_layers(spec: ArchitectureSpec) -> list[tuple[int, int, Size]] | None:
    """Hidden layers that are not tied by a residual chain (a chain needs L >= 2), with their width and fan-out
    (the width of the next layer, or the number of outputs); None when the sizes are symbolic."""
    L = _int_or_none(spec.depth)
    if L is None or isinstance(spec.widths, SymbolicWidths):
        return None
    if "residual" in spec.skips and L >= 2:
        return []
    widths = _concrete_ints(spec.widths)
    if widths is None:
        return None
    return [(l, widths[l - 1], widths[l] if l < L else spec.outputs) for l in range(1, L + 1)]


def continuous_family(spec: ArchitectureSpec) -> str | None:
    """Why the loss of ``spec`` has a continuous loss-preserving family through *every* theta, or None.

    Such a family makes every local minimiser non-strict, so the hypothesis of the symmetry lower
    bound fails and no finite-group bound is reported. Each case is proved in docs/theory.md sec. 7.3
    (and checked numerically to 12 digits in the test suite); a reason that says "conservative" marks a
    configuration where no family is proved but the bound is omitted anyway (an omitted lower bound is
    never wrong); so does every activation outside :data:`FAMILY_AUDITED` (not audited yet). None means:
    no continuous family is known to the package; the strictness hypothesis of the bound then stays
    *undecided*.

    Examples
    --------
    >>> from bettibounds import ArchitectureSpec
    >>> continuous_family(ArchitectureSpec(inputs=2, widths=(2, 2), activation="polynomial:2", samples=5)) is None
    False
    >>> continuous_family(ArchitectureSpec(inputs=2, widths=(2, 2), activation="tanh", samples=5)) is None
    True
    """
    act = get_activation(spec.activation)
    if act.name not in FAMILY_AUDITED and not act.is_polynomial:
        return (f"activation {act.name!r} has not been audited for continuous loss-preserving families (docs/theory.md "
                "sec. 7.3, lower.FAMILY_AUDITED): a family through every theta would make every minimiser non-strict, "
                "so the bound is omitted (conservative)")
    lam = spec.l2_positive
    plain = _plain_layers(spec)
    widths = None if isinstance(spec.widths, SymbolicWidths) else _concrete_ints(spec.widths)
    if act.symmetry == "continuous":  # identity
        if lam is not True:
            return ("identity activation: the loss is invariant under a continuous group (W_l -> A W_l, b_l -> A b_l, "
                    "W_{l+1} -> W_{l+1} A^-1 for A in GL(h_l)), so no local minimiser is strict and no finite-group "
                    "lower bound applies")
        if widths is not None and max(widths) >= 2:
            return ("identity activation with lambda > 0: the orthogonal maps A in O(h_l) (W_l -> A W_l, b_l -> A b_l, "
                    "W_{l+1} -> W_{l+1} A^T; tied along a residual chain) preserve both the loss and ||theta||, a "
                    "continuous family since some h_l >= 2, so no local minimiser is strict")
        return ("identity activation with lambda > 0" + (", every hidden width 1" if widths is not None else
                                                         ", symbolic widths") +
                ": only the sign maps +-1 are known to survive the penalty (O(1)); the package does not use them "
                "(no bound: conservative)")
    if lam is True:
        return None
    undecided = "" if lam is False else " (lambda's sign is undecided: the family preserves the loss when lambda = 0)"
    L = _int_or_none(spec.depth)
    if act.name == "exp" and _some_hidden_bias(spec):
        biased = [l for l, _, _ in plain if spec.has_bias(l)] if plain else []
        if biased:
            return (f"exp activation with a bias in hidden layer {biased[0]}: (b_k, outgoing weights of k) -> "
                    "(b_k + c, e^-c * outgoing) preserves the loss for every c (e^(z + c) = e^c e^z), a continuous "
                    "family, so no local minimiser is strict and no finite-group lower bound applies" + undecided)
        if plain == [] and L is not None and all(spec.has_bias(l) for l in range(1, L + 1)):
            return ("exp activation, residual chain with biases in every layer: scaling coordinate k of the whole "
                    "chain by e^c (b_{l,k} -> b_{l,k} + c for every l, column k of W_{l+1} and of V divided by e^c) "
                    "preserves the loss for every c, so no local minimiser is strict" + undecided)
        return ("exp activation with hidden biases: a continuous family (b_k -> b_k + c, outgoing weights / e^c) "
                "exists in every plain layer with a bias; in this configuration (a residual chain with biases in "
                "only some layers, or symbolic sizes) none is proved, and the bound is omitted (conservative)"
                + undecided)
    if not act.is_polynomial:
        return None
    p = int(act.name.split(":")[1])  # t + t^p, p >= 2 (p = 1 is the identity)
    if "input-output" in spec.skips and L == 1:
        h1 = widths[0] if widths is not None else None
        if not spec.has_bias(1) or spec.has_bias(2) or (h1 is not None and h1 > spec.outputs):
            return (f"polynomial:{p} with one hidden layer and the input-output skip: phi(s t) = s^{p} phi(t) + "
                    f"(s - s^{p}) t, so (w_k, b_k) -> s (w_k, b_k), V e_k -> V e_k / s^{p}, with the linear term "
                    "absorbed by U (and c_0) preserves the loss for every s != 0, a continuous family: no local "
                    "minimiser is strict and no finite-group lower bound applies" + undecided)
    elif "input-output" in spec.skips and L is None:
        return (f"polynomial:{p} with the input-output skip and a symbolic depth: for L = 1 a continuous family "
                "exists (docs/theory.md 7.3), so the bound is omitted (conservative)" + undecided)
    if p != 2:
        return None
    if plain is None:  # symbolic sizes
        if "residual" in spec.skips:
            return ("polynomial:2, residual chain with symbolic sizes: continuous families exist for L = 1, so the "
                    "bound is omitted (conservative)" + undecided)
        if spec.bias is True:  # every Linear layer has a bias: the family of layer 1 (B)
            return _poly2_reason(1, "Linear layers 1 and 2 have biases") + undecided
        if spec.outputs == 1:
            return ("polynomial:2 with symbolic widths and no biases: a continuous family exists when the last hidden "
                    "layer has width >= 3 (docs/theory.md 7.3), so the bound is omitted (conservative)" + undecided)
        return None
    for l, h, fan_out in plain:
        if spec.has_bias(l) and spec.has_bias(l + 1):
            return _poly2_reason(l, f"Linear layers {l} and {l + 1} have biases") + undecided
        if spec.has_bias(l) and h > fan_out:
            return _poly2_reason(l, f"layer {l} has a bias and {h} > {fan_out} units after it: with s_k^-2 = "
                                    "1 - eps tau_k, tau in the kernel of W_{l+1}, the constants cancel") + undecided
        if h >= 3 and fan_out == 1:
            return (f"polynomial:2, hidden layer {l} of width {h} >= 3 feeding one unit: with v the weights of that "
                    "unit, mixing the rows of [W_l | b_l] by any A with A^T diag(v) A = diag(v) and A 1 = 1 (a Lie "
                    "group of dimension (h-1)(h-2)/2) preserves sum_k v_k (z_k^2 + z_k), hence the loss: a continuous "
                    "family, no local minimiser is strict and no finite-group lower bound applies" + undecided)
    return None


def _poly2_reason(l: int, why: str) -> str:
    return (f"polynomial:2 (t + t^2 = (t + 1/2)^2 - 1/4), hidden layer {l}: for every s != 0, (w_k, b_k) -> "
            "(s w_k, s (b_k + 1/2) - 1/2), W_{l+1} e_k -> W_{l+1} e_k / s^2, "
            "b_{l+1} -> b_{l+1} - (1 - s^-2) W_{l+1} e_k / 4 "
            f"preserves the loss ({why}), a continuous family through every theta, so no local minimiser is strict "
            "and no finite-group lower bound applies")


def _skip_flips(spec: ArchitectureSpec, act: Activation) -> bool:
    """softplus, SiLU, GELU (phi(-t) = phi(t) - t) with L = 1 and the input-output skip: the flip of unit k,
    (w_k, b_k, U, c_0) -> (-w_k, -b_k, U + V e_k w_k^T, c_0 + V e_k b_k), preserves the loss (lambda = 0); the
    shift of c_0 needs the output bias when layer 1 has one (docs/theory.md sec. 7.2)."""
    return (act.name in SKIP_FLIP_ACTIVATIONS and _int_or_none(spec.depth) == 1
            and "input-output" in spec.skips and (not spec.has_bias(1) or spec.has_bias(2)))


def symmetry_group(spec: ArchitectureSpec, *, linear_only: bool = False) -> SymmetryGroup:
    """The symmetry group G of the loss of ``spec`` (see the module docstring).

    ``linear_only=True`` leaves out the elements that are not linear maps of theta (the skip flips of
    softplus, SiLU and GELU, whose compensation U + V e_k w_k^T is bilinear): a subgroup, for the certified
    witness, whose disjointness argument needs linear maps (docs/theory.md sec. 10.2).

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
    reason = continuous_family(spec)
    if reason is not None:
        return SymmetryGroup(notes=[reason], applicable=False)
    residual = "residual" in spec.skips
    l2 = spec.l2_positive
    skip_flips = _skip_flips(spec, act)
    if skip_flips and l2 is not False:
        skip_flips = False
        notes.append(f"{act.name} skip flips dropped: their compensation U + V e_k w_k^T changes ||theta||"
                     + (" (lambda > 0)" if l2 else " (lambda's sign is undecided)"))
    elif skip_flips and linear_only:
        skip_flips = False
        notes.append(f"{act.name} skip flips left out: they are not linear in theta (linear maps only)")
    logistic_flips = act.symmetry == "logistic"
    if logistic_flips and l2 is not False:
        logistic_flips = False
        notes.append(
            "logistic sign flips dropped: their bias compensation changes ||theta||, so they do not "
            "preserve the l2 penalty" + (" (lambda > 0)" if l2 else " (lambda's sign is undecided)")
        )
    if isinstance(spec.widths, SymbolicWidths):
        return _symbolic_group(spec, spec.widths, act, residual, logistic_flips, notes, skip_flips)
    blocks: list[SymmetryBlock] = []
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
        elif skip_flips:
            flips = h  # L = 1: one block
        kind = ("skip" if skip_flips else act.symmetry) if flips else None
        blocks.append({"layers": layers, "width": h, "permutations": h, "flips": flips, "flip_kind": kind})
    if residual:
        notes.append(f"identity-residual chain over layers 1..{spec.depth}: one permutation group S_h for the chain")
    if skip_flips:
        notes.append(f"{act.name} with L = 1 and the input-output skip: {act.name}(-t) = {act.name}(t) - t, "
                     "the flip of unit k is compensated by U -> U + V e_k w_k^T (and c_0 -> c_0 + V e_k b_k): "
                     "2^h h! (lambda = 0)")
    elif act.symmetry == "none":
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


def _symbolic_group(spec: ArchitectureSpec, widths: SymbolicWidths, act: Activation, residual: bool,
                    logistic_flips: bool, notes: list[str], skip_flips: bool = False) -> SymmetryGroup:
    import sympy

    h, L = widths.width, widths.depth
    chains = 1 if residual else L
    flips, kind = 0, None
    if act.symmetry == "odd" or (act.symmetry == "logistic" and logistic_flips and spec.bias):
        flips, kind = h * chains, act.symmetry
    elif act.symmetry == "even":
        flips, kind = h * L, "even"
    elif skip_flips:  # L = 1 here
        flips, kind = h, "skip"
    order = 2**flips * sympy.factorial(h) ** chains
    log2 = flips + chains * sympy.log(sympy.factorial(h), 2)
    blocks: list[SymmetryBlock] = [
        {"layers": "all", "width": h, "permutations": h, "flips": flips, "flip_kind": kind, "count": chains}]
    return SymmetryGroup(blocks, log2, order, notes)


def lower_hypotheses(spec: ArchitectureSpec) -> list[Hypothesis]:
    """Hypotheses of the symmetry lower bound for ``spec``."""
    return [
        Hypothesis(
            "G acts on R^P by homeomorphisms (affine bijections; polynomial ones for the skip flips) that preserve "
            "the loss",
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
