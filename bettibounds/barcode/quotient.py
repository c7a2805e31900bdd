"""The quotient of parameter space by the symmetry group G: a canonical representative per orbit.

Hidden-unit permutations and sign flips (:func:`bettibounds.lower.symmetry_group`) map a minimum
to |G| = prod 2^{h_l} h_l! minima of equal loss. A barcode computed on raw parameter vectors counts
each image as its own segment, so a TO-score grows with |G| rather than with the landscape. The
quotient identifies them: :func:`canonical_form` maps every parameter vector theta to one element
c(theta) of its orbit G theta, the same element for every point of the orbit (docs/theory.md §12.4
proves this for the actions used here):

* **sign flips** (odd activations such as tanh; logistic with the bias compensation
  sigma(-z) = 1 - sigma(z) carried into the next Linear layer's bias, through every later bias of an
  identity-residual chain; even activations, flipping a unit's incoming weights and bias only):
  each unit's *incoming row* (its bias, then its incoming weights) is flipped so that its entry of
  largest absolute value (the first such entry on a tie of absolute values) is positive;
* **permutations**: the units of a layer are sorted by their sign-normalised incoming rows,
  lexicographically; an identity-residual chain shares one permutation and one flip vector across
  its layers (the group ties them), read from the chain's first layer.

Layers are normalised from the input side: after layers 1..l-1 are canonical, the incoming rows of
layer l change under the remaining group only by the flips and the permutation of layer l itself.

The map is exactly G-invariant on the *generic* set, where in every layer no incoming row is zero
and no two sign-normalised rows are equal; points off it (a measure-zero set: a dead unit, two
units computing the same function) are counted in ``QuotientInfo.degenerate``. Such a point has a
non-trivial stabiliser or lies on a continuous family of equal loss, so it is not a strict minimum
with trivial stabiliser, the case the symmetry lower bound and the barcode count (docs/theory.md §12.4).

Distances between canonical forms bound the quotient distance from above:
min_g ||x - g y|| <= ||c(x) - c(y)||, so a k-NN graph on canonical forms joins fewer pairs
near the boundary of the fundamental domain than the quotient metric would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["QUOTIENTS", "QuotientInfo", "canonical_form", "quotient_info"]

#: "none": raw parameter vectors; "canonical": one representative per G-orbit
QUOTIENTS: tuple[str, ...] = ("none", "canonical")


@dataclass(frozen=True)
class QuotientInfo:
    """Which quotient was applied, and how many points fell off the generic set."""

    kind: str
    group_order: int | None = None
    log10_group_order: float | None = None
    blocks: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    degenerate: int = 0
    n_points: int = 0

    def to_dict(self) -> dict:
        return {"kind": self.kind, "group_order": self.group_order, "log10_group_order": self.log10_group_order,
                "blocks": self.blocks, "notes": self.notes, "degenerate_points": self.degenerate,
                "n_points": self.n_points,
                "description": ("none: raw parameter vectors, each image of a minimum under the symmetry group "
                                "is its own minimum" if self.kind == "none" else
                                "canonical representative of each orbit of the hidden-unit symmetry group "
                                "(sign-normalised incoming rows, units sorted; docs/theory.md §12.4)")}


def _layout(spec):
    from ..pfaffian.network import build_params

    layers, _ = build_params(spec, lambda p: p)
    Ws = [np.asarray(W, dtype=np.int64) for W, _ in layers]
    bs = [None if b is None else np.asarray(b, dtype=np.int64) for _, b in layers]
    return Ws, bs


def _group(spec):
    from ..lower import symmetry_group
    from ..pfaffian.activations import get_activation

    if not isinstance(spec.depth, int) or not all(isinstance(w, int) for w in spec.widths):
        raise InvalidSpecError("the quotient needs a concrete network (integer widths and depth)")
    group = symmetry_group(spec)
    if not group.applicable:
        raise InvalidSpecError("no finite symmetry group to quotient by: " + "; ".join(group.notes))
    return group, get_activation(spec.activation).symmetry


def quotient_info(spec, kind: str = "canonical", degenerate: int = 0, n_points: int = 0) -> QuotientInfo:
    """The record of a quotient (for ``meta``), without transforming anything."""
    if kind not in QUOTIENTS:
        raise InvalidSpecError(f"unknown quotient {kind!r}; valid: {', '.join(QUOTIENTS)}")
    if kind == "none":
        return QuotientInfo("none", n_points=n_points)
    group, _ = _group(spec)
    order = group.order if isinstance(group.order, int) else None
    log10 = float(group.log2) * 0.30102999566398120
    return QuotientInfo("canonical", order, log10, [dict(b) for b in group.blocks], list(group.notes),
                        degenerate, n_points)


def _row_signs(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign (+-1) making each row's first entry of largest |.| positive, and a mask of zero rows."""
    idx = np.argmax(np.abs(R), axis=-1)
    lead = np.take_along_axis(R, idx[..., None], axis=-1)[..., 0]
    return np.where(lead < 0, -1.0, 1.0), lead == 0


def _sort_perm(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the permutation sorting the rows of K (N, h, c) lexicographically; and a mask of
    samples with two equal rows."""
    n, h, c = K.shape
    if h == 1:
        return np.zeros((n, 1), dtype=np.int64), np.zeros(n, dtype=bool)
    perm = np.argsort(K[:, :, 0], axis=1, kind="stable")
    first = np.take_along_axis(K[:, :, 0], perm, 1)
    tied = (np.diff(first, axis=1) == 0).any(1)
    if tied.any() and c > 1:  # full lexicographic order where the first column does not decide
        sub = K[tied]
        keys = [sub[:, :, j] for j in range(c - 1, -1, -1)]
        perm[tied] = np.stack([np.lexsort([k[i] for k in keys]) for i in range(sub.shape[0])])
    Ks = np.take_along_axis(K, perm[:, :, None], 1)
    equal = (np.diff(Ks, axis=1) == 0).all(-1).any(1)
    return perm, equal


def _rows(t, W, b):
    """Incoming rows (N, h, 1 + fan_in): the bias (when present) then the weights."""
    Wv = t[:, W]
    return Wv if b is None else np.concatenate([t[:, b][:, :, None], Wv], axis=2)


def canonical_form(spec, points, quotient: str = "canonical") -> tuple[np.ndarray, QuotientInfo]:
    """The canonical representative of each parameter vector's orbit under the symmetry group.

    Parameters
    ----------
    spec : ArchitectureSpec
        A concrete network (the parameter layout of :mod:`bettibounds.pfaffian.network`).
    points : array (N, P) or (P,)
    quotient : {"canonical", "none"}
        ``"none"`` returns a copy of the points unchanged (and says so).

    Returns
    -------
    (canonical points, QuotientInfo)

    Examples
    --------
    A tanh network with two hidden units: the four images of a point under the group (swap and
    sign flips) have one canonical form.

    >>> from bettibounds import ArchitectureSpec
    >>> spec = ArchitectureSpec(inputs=1, widths=(2,), activation="tanh", samples=1)
    >>> theta = np.array([0.5, -2.0, 0.1, 0.3, 1.5, -0.7, 0.2])  # W1 (2x1), b1, W2 (1x2), b2
    >>> swapped = np.array([-2.0, 0.5, 0.3, 0.1, -0.7, 1.5, 0.2])
    >>> flipped = np.array([-0.5, -2.0, -0.1, 0.3, -1.5, -0.7, 0.2])
    >>> c, info = canonical_form(spec, np.stack([theta, swapped, flipped]))
    >>> bool(np.allclose(c, c[0])), info.group_order
    (True, 8)
    """
    if quotient not in QUOTIENTS:
        raise InvalidSpecError(f"unknown quotient {quotient!r}; valid: {', '.join(QUOTIENTS)}")
    try:
        X = np.array(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"points must be an (N, P) array of real numbers ({exc})") from None
    single = X.ndim == 1
    X = np.atleast_2d(X)
    if X.ndim != 2 or X.shape[1] != spec.n_params:
        raise InvalidSpecError(f"points must have P = {spec.n_params} columns for this network, got shape "
                               f"{np.shape(points)}")
    if quotient == "none":
        return (X[0] if single else X), quotient_info(spec, "none", 0, X.shape[0])
    group, kind = _group(spec)
    Ws, bs = _layout(spec)
    t = X
    degenerate = np.zeros(t.shape[0], dtype=bool)
    for block in group.blocks:
        layers = block["layers"]
        flips = block["flips"] > 0
        nxt = layers[-1] + 1  # the Linear layer after the block (L + 1 = the output layer)
        W1, b1 = Ws[layers[0] - 1], bs[layers[0] - 1]
        Wn, bn = Ws[nxt - 1], bs[nxt - 1]
        # -- sign flips, read from the block's first layer (for even activations: every layer)
        if flips and kind == "even":
            for l in layers:
                s, zero = _row_signs(_rows(t, Ws[l - 1], bs[l - 1]))
                degenerate |= zero.any(1)
                t[:, Ws[l - 1]] *= s[:, :, None]
                if bs[l - 1] is not None:
                    t[:, bs[l - 1]] *= s
        elif flips:
            D, zero = _row_signs(_rows(t, W1, b1))
            degenerate |= zero.any(1)
            eF = (D < 0).astype(np.float64)
            for i, l in enumerate(layers, start=1):
                W, b = Ws[l - 1], bs[l - 1]
                if i == 1:
                    t[:, W] *= D[:, :, None]
                else:  # a residual layer: D W D, and the logistic bias shift (i - 1) (D W D) e_F
                    DWD = D[:, :, None] * t[:, W] * D[:, None, :]
                    t[:, W] = DWD
                if b is not None:
                    t[:, b] *= D
                    if kind == "logistic" and i > 1:
                        t[:, b] -= (i - 1) * np.einsum("nij,nj->ni", t[:, W], eF)
            WnD = t[:, Wn] * D[:, None, :]
            t[:, Wn] = WnD
            if kind == "logistic":  # sigma(-z) = 1 - sigma(z): the next bias absorbs the constant
                t[:, bn] -= len(layers) * np.einsum("nij,nj->ni", WnD, eF)
        # -- the permutation, from the (now sign-normalised) incoming rows of the first layer
        perm, equal = _sort_perm(_rows(t, W1, b1))
        degenerate |= equal
        rows_idx = perm[:, :, None]
        for i, l in enumerate(layers, start=1):
            W, b = Ws[l - 1], bs[l - 1]
            Wv = np.take_along_axis(t[:, W], rows_idx, 1)
            if i > 1:
                Wv = np.take_along_axis(Wv, perm[:, None, :], 2)
            t[:, W] = Wv
            if b is not None:
                t[:, b] = np.take_along_axis(t[:, b], perm, 1)
        t[:, Wn] = np.take_along_axis(t[:, Wn], perm[:, None, :], 2)
        if flips and kind == "even" and len(layers) > 1:
            # residual even chain: the later layers' rows moved with the permutation; normalise
            # their signs again (a row flip of an even unit touches nothing else)
            for l in layers[1:]:
                s, zero = _row_signs(_rows(t, Ws[l - 1], bs[l - 1]))
                t[:, Ws[l - 1]] *= s[:, :, None]
                if bs[l - 1] is not None:
                    t[:, bs[l - 1]] *= s
    info = quotient_info(spec, "canonical", int(degenerate.sum()), t.shape[0])
    return (t[0] if single else t), info
