"""The ReLU topological obstruction (Nurisso, Leroy, Vaccarino, NeurIPS 2024; THEORY sec. 5).

Model: ``f(x) = sum_k v_k relu(w_k . x)`` with the bias absorbed into ``w_k`` (``p = d + 1``
with biases, ``p = d`` without); ``v_k`` in R^e (e = output dimension). ReLU is
1-homogeneous, so along gradient flow of any loss each

    c_k = ||w_k||^2 - ||v_k||^2

is conserved [derived: d/dt ||w_k||^2 = d/dt ||v_k||^2 = -2 <grad_{v_k} L, v_k>; docs/theory.md §11],
and trajectories stay on H(c) = prod_k H_k, H_k = {||w||^2 - ||v||^2 = c_k}:

* c_k > 0: H_k = S^{p-1} x R^e; c_k < 0: R^p x S^{e-1}; c_k = 0: a cone (contractible).

Betti numbers of H(c) by Kuenneth; for scalar output and p >= 2, b_0 = 2^{N_-} with N_- the
number of *pathological* neurons (c_k < 0: the sign of v_k never changes). Status of every
statement: [derived] (the conservation law and the topology are elementary; the count of
functionally distinct components is [derived, medium confidence], as in THEORY sec. 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["InvariantTopology", "invariants", "topology", "reachability", "obstruction_probability",
           "gradient_flow", "INITS"]

#: initialisations (PyTorch conventions, gain sqrt(2) for Kaiming/ReLU): variance of an entry of a layer
#: with the given fan-in / fan-out; "uniform" variants draw U(-a, a) with a = sqrt(3 var)
INITS = ("xavier-normal", "xavier-uniform", "kaiming-normal", "kaiming-uniform", "normal", "uniform")


def _variance(init: str, fan_in: int, fan_out: int, scale: float = 1.0) -> float:
    if init.startswith("xavier"):
        return 2.0 / (fan_in + fan_out)
    if init.startswith("kaiming"):
        return 2.0 / fan_in
    if init in ("normal", "uniform"):
        return scale**2
    raise InvalidSpecError(f"unknown init {init!r}; valid: {', '.join(INITS)}")


def _binomial_power(n: int, shift: int) -> dict[int, int]:
    """(1 + t^shift)^n as {degree: coefficient}; (2)^n when shift = 0 (the sphere is S^0)."""
    if shift == 0:
        return {0: 2**n}
    return {i * shift: math.comb(n, i) for i in range(n + 1)}


def _poincare(sign: list[int], p: int, e: int) -> dict[int, int]:
    """Poincare polynomial of H(c) = prod_k H_k in closed form (Kuenneth), as {degree: Betti number}."""
    n_plus = sum(1 for s in sign if s > 0)
    n_minus = sum(1 for s in sign if s < 0)
    a = _binomial_power(n_plus, p - 1)
    b = _binomial_power(n_minus, e - 1)
    out: dict[int, int] = {}
    for i, x in a.items():
        for j, y in b.items():
            out[i + j] = out.get(i + j, 0) + x * y
    return out


@dataclass
class InvariantTopology:
    """Topology of the invariant set H(c) and what it means for training."""

    invariants: list
    p: int
    e: int
    betti: dict  # {degree: Betti number}
    components: int
    pathological: list
    effective_components: int
    notes: list = field(default_factory=list)

    @property
    def betti_list(self) -> list | None:
        """[b_0, b_1, ...] when the top degree is at most 10^4, else None (use ``betti``, a dict)."""
        top = max(self.betti)
        return [self.betti.get(k, 0) for k in range(top + 1)] if top <= 10**4 else None

    def to_dict(self) -> dict:
        return {"invariants": self.invariants, "p": self.p, "output_dim": self.e,
                "betti": self.betti_list if self.betti_list is not None else
                {str(k): v for k, v in sorted(self.betti.items())},
                "betti_sum": int(sum(self.betti.values())), "components": self.components,
                "pathological": self.pathological, "effective_components": self.effective_components,
                "notes": self.notes, "citation": "Nurisso2024; bettibounds-theory"}


def invariants(W, V) -> np.ndarray:
    """c_k = ||w_k||^2 - ||v_k||^2 for incoming weights W (h x p, bias absorbed) and outgoing V (h x e)."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    V = np.asarray(V, dtype=float)
    V = V.reshape(len(V), -1) if V.ndim <= 2 else V
    if W.shape[0] != V.shape[0]:
        raise InvalidSpecError(f"W has {W.shape[0]} neurons (rows) but V has {V.shape[0]}")
    return (W**2).sum(axis=1) - (V**2).sum(axis=1)


def topology(c, p: int, e: int = 1, tol: float = 0.0) -> InvariantTopology:
    """Betti numbers, components and pathological neurons of H(c) (Kuenneth), p = input dim incl. bias.

    Examples
    --------
    >>> t = topology([0.5, -0.3, -1.2, 0.0], p=3)
    >>> t.components, t.pathological, t.effective_components
    (4, [1, 2], 3)
    """
    for name, v in (("p", p), ("e", e)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidSpecError(f"{name} must be a positive integer, got {v!r}")
    try:
        c = [float(x) for x in c]
    except (TypeError, ValueError):
        raise InvalidSpecError("invariants c must be a list of numbers") from None
    if not c:
        raise InvalidSpecError("invariants c must list at least one neuron")
    if not all(math.isfinite(x) for x in c):
        raise InvalidSpecError("invariants c must be finite")
    sign = [0 if abs(x) <= tol else (1 if x > 0 else -1) for x in c]
    poly = _poincare(sign, p, e)
    pathological = [k for k, s in enumerate(sign) if s < 0]
    n_minus = len(pathological)
    n_plus_split = sum(1 for s in sign if s > 0) if p == 1 else 0
    n_minus_split = n_minus if e == 1 else 0
    notes = []
    if p == 1:
        notes.append("p = 1: neurons with c_k > 0 keep the sign of w_k, which also splits components")
    if e >= 2:
        notes.append("vector output: c_k < 0 gives a sphere S^{e-1} of output weights, which is connected")
    # up to permutation and rescaling, a component is determined by how many neurons of each splitting kind
    # have each sign [derived, medium confidence]
    effective = (n_minus_split + 1) * (n_plus_split + 1)
    return InvariantTopology(c, p, e, poly, poly.get(0, 0), pathological, effective, notes)


def reachability(W, V, X, y, teacher=None, bias: bool = True) -> dict:
    """Can gradient flow from (W, V) reach a global minimiser of the squared loss on (X, y)?

    Scalar output, model without output bias. Returns ``{"status": "reachable" | "unreachable" |
    "undecided", "reason": ...}``.

    * unreachable: every neuron is pathological with v_k < 0 (resp. > 0), so f <= 0 (>= 0) on the whole
      component, while some target y_i > 0 (< 0) and a zero-loss minimiser exists (a teacher is given);
    * reachable: the teacher's neurons can be matched to distinct student neurons respecting the fixed
      output signs of the pathological ones; each is rescaled to the student's invariant (same function),
      and extra neurons are switched off (v = 0 if c_k >= 0, w = 0 if c_k < 0): a zero-loss point lies in the
      component of the initialisation;
    * undecided otherwise.
    """
    W = np.atleast_2d(np.asarray(W, float))
    V = np.asarray(V, float).reshape(-1)
    X = np.atleast_2d(np.asarray(X, float))
    y = np.asarray(y, float).reshape(-1)
    if len(V) != W.shape[0]:
        raise InvalidSpecError("reachability is implemented for a scalar output: V must have one entry per neuron")
    c = invariants(W, V[:, None])
    patho = c < 0
    if teacher is not None and np.all(patho) and np.all(V < 0) and np.any(y > 0):
        return {"status": "unreachable", "reason": "every neuron is pathological with v_k < 0, so f <= 0 on the "
                "component, but a target is positive while the teacher fits the data exactly"}
    if teacher is not None and np.all(patho) and np.all(V > 0) and np.any(y < 0):
        return {"status": "unreachable", "reason": "every neuron is pathological with v_k > 0, so f >= 0 on the "
                "component, but a target is negative while the teacher fits the data exactly"}
    if teacher is None:
        return {"status": "undecided", "reason": "no teacher (global minimiser) given"}
    WT = np.atleast_2d(np.asarray(teacher[0], float))
    VT = np.asarray(teacher[1], float).reshape(-1)
    active = [j for j in range(len(VT)) if VT[j] != 0 and np.any(WT[j] != 0)]
    # bipartite matching teacher -> student (Kuhn's algorithm)
    match: dict[int, int] = {}

    def ok(j, k):
        return (not patho[k]) or np.sign(V[k]) == np.sign(VT[j])

    def augment(j, seen):
        for k in range(len(V)):
            if ok(j, k) and k not in seen:
                seen.add(k)
                if k not in match or augment(match[k], seen):
                    match[k] = j
                    return True
        return False

    if all(augment(j, set()) for j in active):
        return {"status": "reachable", "reason": f"the {len(active)} teacher neurons match distinct student neurons "
                "with compatible fixed signs; rescaling and switching off the rest gives a zero-loss point in the "
                "component of the initialisation"}
    return {"status": "undecided", "reason": "no sign-compatible matching of the teacher's neurons; other "
            "global minimisers may exist"}


def obstruction_probability(p: int, h: int, init: str = "kaiming-normal", e: int = 1, samples: int = 0,
                            seed: int = 0, scale: float = 1.0) -> dict:
    """Probability that a neuron is pathological (c_k < 0) at initialisation, and that some neuron is.

    Incoming vectors (p entries, bias absorbed and drawn like the weights) have variance s_w^2 =
    var(fan_in=p, fan_out=h); outgoing (e entries) s_v^2 = var(fan_in=h, fan_out=e). For normal inits
    ||w||^2 / s_w^2 ~ chi2_p and ||v||^2 / s_v^2 ~ chi2_e, so
    q = P(c_k < 0) = F_{p,e}((s_v^2 e) / (s_w^2 p)) (F distribution) -- closed form; uniform inits use
    Monte Carlo with ``samples`` draws (default 200000).
    """
    for name, v in (("p", p), ("h", h), ("e", e)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidSpecError(f"{name} must be a positive integer, got {v!r}")
    sw2, sv2 = _variance(init, p, h, scale), _variance(init, h, e, scale)
    if init.endswith("normal") and init != "uniform":
        from scipy.stats import f as fdist

        q = float(fdist.cdf(sv2 * e / (sw2 * p), p, e))
        method = "closed form (F distribution)"
    else:
        rng = np.random.default_rng(seed)
        n = samples or 200_000
        aw, av = math.sqrt(3 * sw2), math.sqrt(3 * sv2)
        w = rng.uniform(-aw, aw, (n, p))
        v = rng.uniform(-av, av, (n, e))
        q = float(np.mean((w**2).sum(1) < (v**2).sum(1)))
        method = f"Monte Carlo ({n} draws, seed {seed}; standard error {math.sqrt(q * (1 - q) / n):.1e})"
    return {"p": p, "width": h, "output_dim": e, "init": init, "q_pathological": q,
            "expected_pathological": h * q,
            "p_some_pathological": -math.expm1(h * math.log1p(-q)) if q < 1 else 1.0,  # accurate for tiny q
            "p_all_pathological": q**h, "method": method}


def gradient_flow(W, V, X, y, steps: int = 20000, lr: float = 1e-3) -> dict:
    """Small-step gradient descent on the squared loss (scalar or vector output, no output bias).

    Returns the final parameters, the loss curve, the largest drift of the invariants c_k
    (O(lr) for gradient descent; 0 for the exact flow) and whether any pathological v_k changed sign.
    """
    W = np.array(W, float)
    V = np.array(V, float).reshape(W.shape[0], -1)
    X = np.atleast_2d(np.asarray(X, float))
    Y = np.asarray(y, float).reshape(len(X), -1)
    c0 = invariants(W, V)
    patho = c0 < 0
    sign0 = np.sign(V[patho])
    losses, flips, drift = [], False, 0.0
    m = len(X)
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below and said in words
        for t in range(steps):
            Z = X @ W.T  # (m, h)
            A = np.maximum(Z, 0)
            F = A @ V  # (m, e)
            R = F - Y
            losses.append(float((R**2).sum() / m)) if t % max(1, steps // 200) == 0 else None
            gV = 2 / m * A.T @ R
            gZ = 2 / m * (R @ V.T) * (Z > 0)
            gW = gZ.T @ X
            W -= lr * gW
            V -= lr * gV
            if patho.any() and np.any(np.sign(V[patho]) != sign0):
                flips = True
            step_drift = float(np.max(np.abs(invariants(W, V) - c0)))
            drift = max(drift, step_drift)
            if not math.isfinite(step_drift):  # the weights overflowed: nothing after this step means anything
                raise InvalidSpecError(f"gradient descent diverged at step {t + 1} of {steps} (the weights overflowed "
                                       f"float64); lower the step size (lr = {lr:g}) or rescale the data")
        final = float((((np.maximum(X @ W.T, 0) @ V) - Y) ** 2).sum() / m)
    if not math.isfinite(final):
        raise InvalidSpecError(f"the loss after gradient descent overflows float64 ({final}); rescale the data")
    return {"W": W, "V": V, "final_loss": final, "loss_curve": losses, "max_invariant_drift": drift,
            "pathological_sign_changed": flips}


def probability_table(dims=(1, 2, 4, 8, 16, 32, 64), widths=(4, 16, 64, 256), init: str = "kaiming-normal",
                      bias: bool = True) -> list[dict]:
    """P(some neuron pathological) at initialisation over input dimensions d and widths h."""
    return [dict(d=d, **obstruction_probability(d + (1 if bias else 0), h, init)) for d in dims for h in widths]


def plot_probability(out_dir, init: str = "kaiming-normal", dims=(1, 2, 4, 8, 16, 32, 64),
                     widths=(4, 16, 64, 256)) -> str:
    """PNG of P(some neuron pathological) against d, one curve per width (matplotlib)."""
    from pathlib import Path

    import matplotlib

    from .._lib.io import save_figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = probability_table(dims, widths, init)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for h in widths:
        sel = [r for r in rows if r["width"] == h]
        axes[0].plot([r["d"] for r in sel], [r["p_some_pathological"] for r in sel], "o-", label=f"h = {h}")
        axes[1].plot([r["d"] for r in sel], [r["expected_pathological"] for r in sel], "o-", label=f"h = {h}")
    for ax, lab in zip(axes, ("P(at least one pathological neuron)", "expected number of pathological neurons")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("input dimension d (bias absorbed: p = d + 1)")
        ax.set_ylabel(lab)
        ax.legend()
    fig.suptitle(f"ReLU obstruction at {init} initialisation (closed form)")
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"obstruction_probability_{init}.png"
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return str(path)
