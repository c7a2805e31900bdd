"""The ReLU topological obstruction (Nurisso, Leroy, Vaccarino, NeurIPS 2024; docs/theory.md §11).

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
functionally distinct components is proved in docs/theory.md §11, Proposition 11.1 -- exact for
p >= 2, an upper bound for p = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["InvariantTopology", "invariants", "topology", "reachability", "obstruction_probability",
           "gradient_flow", "initialise", "invariants_text", "INITS", "LOSSES", "uses_monte_carlo", "PLOT_DIMS",
           "PLOT_WIDTHS", "flow_step_seconds"]

#: the input dimensions d and widths h of :func:`probability_table` and :func:`plot_probability`
PLOT_DIMS = (1, 2, 4, 8, 16, 32, 64)
PLOT_WIDTHS = (4, 16, 64, 256)

#: initialisations. "pytorch" (the default) is ``torch.nn.Linear``'s own: weight kaiming_uniform(a = sqrt 5),
#: i.e. U(+-1/sqrt(fan_in)), and bias U(+-1/sqrt(fan_in)), where fan_in counts the weights only (d for the
#: hidden layer, h for the output layer). The others use PyTorch's variance conventions (gain sqrt(2) for
#: Kaiming/ReLU) for an entry of a layer with the given fan-in / fan-out, with the absorbed bias drawn like a
#: weight and fan_in = p; "uniform" variants draw U(-a, a) with a = sqrt(3 var)
INITS = ("pytorch", "xavier-normal", "xavier-uniform", "kaiming-normal", "kaiming-uniform", "normal", "uniform")

#: losses of :func:`gradient_flow`: squared error on f, or binary cross-entropy of the logistic of the logit f
LOSSES = ("mse", "bce")


def _fan_in_bound(fan_in: int) -> float:
    """PyTorch's nn.Linear bound 1/sqrt(fan_in) (kaiming_uniform with a = sqrt 5: gain sqrt(1/3) times
    sqrt(3 / fan_in); the bias uses the same bound)."""
    return 1.0 / math.sqrt(fan_in)


def _uniform_bounds(init: str, p: int, h: int, e: int, bias: bool, scale: float = 1.0) -> tuple[float, float]:
    """Half-widths (a_w, a_v) of the uniform draws of the incoming (p entries) and outgoing (e entries) vectors."""
    if init == "pytorch":
        d = p - 1 if bias else p
        if d < 1:
            raise InvalidSpecError("the pytorch initialisation needs at least one input weight (d >= 1)")
        return _fan_in_bound(d), _fan_in_bound(h)
    return math.sqrt(3 * _variance(init, p, h, scale)), math.sqrt(3 * _variance(init, h, e, scale))


def initialise(d: int, h: int, e: int = 1, *, init: str = "pytorch", bias: bool = True, seed: int = 0,
               scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw (W, V) for f(x) = sum_k v_k relu(w_k . x): W is h x p (p = d + 1 with the bias as the last column,
    p = d without), V is h x e.

    ``init`` is one of :data:`INITS`; "pytorch" (the default) is what ``torch.nn.Linear(d, h)`` and
    ``torch.nn.Linear(h, e, bias=False)`` draw: every entry of W (weights and bias) U(+-1/sqrt(d)), of V
    U(+-1/sqrt(h)). ``seed`` seeds numpy's default generator (not torch's: the distribution is PyTorch's,
    the numbers are not).
    """
    for name, v in (("d", d), ("h", h), ("e", e)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidSpecError(f"{name} must be a positive integer, got {v!r}")
    if init not in INITS:
        raise InvalidSpecError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    p = d + (1 if bias else 0)
    rng = np.random.default_rng(seed)
    if init == "pytorch" or init.endswith("uniform"):
        aw, av = _uniform_bounds(init, p, h, e, bias, scale)
        return rng.uniform(-aw, aw, (h, p)), rng.uniform(-av, av, (h, e))
    sw, sv = math.sqrt(_variance(init, p, h, scale)), math.sqrt(_variance(init, h, e, scale))
    return rng.normal(0, sw, (h, p)), rng.normal(0, sv, (h, e))


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
    pathological: list  # neurons whose output sign is frozen (c_k < 0 and e = 1)
    effective_components: int
    notes: list = field(default_factory=list)
    negative: list = field(default_factory=list)  # neurons with c_k < 0 (pathological only when e = 1)

    @property
    def betti_list(self) -> list | None:
        """[b_0, b_1, ...] when the top degree is at most 10^4, else None (use ``betti``, a dict)."""
        top = max(self.betti)
        return [self.betti.get(k, 0) for k in range(top + 1)] if top <= 10**4 else None

    @property
    def betti_sum_text(self) -> str:
        """sum_k b_k, exact up to 30 digits, else ``~m.mmme+N``."""
        total = int(sum(self.betti.values()))
        return str(total) if total < 10**30 else _sci(total)

    def betti_text(self, max_terms: int = 40) -> str:
        """The non-zero Betti numbers as ``b_k = value`` (exact up to 30 digits, else ``~m.mmme+N``), at most
        ``max_terms`` of them, saying how many are left out (all of them: ``to_dict``)."""
        items = sorted((k, v) for k, v in self.betti.items() if v)
        shown = [f"b_{k} = {v if v < 10**30 else _sci(v)}" for k, v in items[:max_terms]]
        text = ", ".join(shown)
        if len(items) > max_terms:
            text += (f", ... {len(items) - max_terms} more non-zero Betti numbers left out (degrees "
                     f"{items[max_terms][0]} to {items[-1][0]}; all of them with --json)")
        return text

    def to_dict(self) -> dict:
        return {"invariants": self.invariants, "p": self.p, "output_dim": self.e,
                "betti": self.betti_list if self.betti_list is not None else
                {str(k): v for k, v in sorted(self.betti.items())},
                "betti_sum": int(sum(self.betti.values())), "components": self.components,
                "pathological": self.pathological, "negative_invariants": self.negative,
                "effective_components": self.effective_components,
                "notes": self.notes, "citation": "Nurisso2024; bettibounds-theory"}


def _sci(v: int) -> str:
    """~m.mmme+N for a huge integer (4 significant digits, marked approximate)."""
    digits = len(str(v))
    return f"~{str(v)[0]}.{str(v)[1:4]}e+{digits - 1}"


def invariants_text(c, p: int, e: int) -> str:
    """The invariants as printed by ``bettibounds obstruction``: 6 significant digits with the sign always
    visible (a subnormal -5e-324 prints as -4.94066e-324, never -0.0)."""
    return (f"invariants c_k = ||w_k||^2 - ||v_k||^2: [{', '.join(f'{float(x):.6g}' for x in c)}] "
            f"(p = {p}, e = {e})")


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
    negative = [k for k, s in enumerate(sign) if s < 0]
    # pathological = the sign of v_k is frozen: only for a scalar output (e >= 2: v_k moves on a connected
    # sphere S^{e-1}, nothing is frozen)
    pathological = negative if e == 1 else []
    n_plus_split = sum(1 for s in sign if s > 0) if p == 1 else 0
    n_minus_split = len(pathological)
    notes = []
    if p == 1:
        notes.append("p = 1: neurons with c_k > 0 keep the sign of w_k, which also splits components")
    if e >= 2:
        notes.append(f"vector output (e = {e}): a neuron with c_k < 0 has its output weights on a sphere S^{e - 1}, "
                     f"which is connected, so nothing is frozen and no neuron is pathological (neurons with "
                     f"c_k < 0: {negative})")
    # up to permutation and rescaling, a component is determined by how many neurons of each splitting kind
    # have each sign (derived: docs/theory.md Proposition 11.1; exact for p >= 2, an upper bound for p = 1)
    effective = (n_minus_split + 1) * (n_plus_split + 1)
    return InvariantTopology(c, p, e, poly, poly.get(0, 0), pathological, effective, notes, negative)


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


def uses_monte_carlo(p: int, h: int, init: str = "pytorch", e: int = 1, scale: float = 1.0, *,
                     bias: bool = True) -> bool:
    """Whether :func:`obstruction_probability` estimates q by Monte Carlo at these sizes (uniform
    entries without the closed form: a vector output, or a_v > a_w) rather than in closed form."""
    if init.endswith("normal"):
        return False
    a_w, a_v = _uniform_bounds(init, p, h, e, bias, scale)
    return not (e == 1 and a_v <= a_w)


def obstruction_probability(p: int, h: int, init: str = "pytorch", e: int = 1, samples: int = 0,
                            seed: int = 0, scale: float = 1.0, *, bias: bool = True) -> dict:
    """Probability that a neuron is pathological (c_k < 0) at initialisation, and that some neuron is.

    ``init`` is one of :data:`INITS`. "pytorch" (the default; ``torch.nn.Linear``): incoming entries (p of
    them, the bias included when ``bias``) U(+-1/sqrt(d)) with d = p - 1 (p without a bias), outgoing
    U(+-1/sqrt(h)). The others: incoming vectors have variance s_w^2 = var(fan_in=p, fan_out=h), outgoing
    s_v^2 = var(fan_in=h, fan_out=e). For normal inits ||w||^2 / s_w^2 ~ chi2_p and ||v||^2 / s_v^2 ~ chi2_e,
    so q = P(c_k < 0) = F_{p,e}((s_v^2 e) / (s_w^2 p)) (F distribution) -- closed form. Uniform inits
    (pytorch included) with a scalar output and a_v <= a_w (for pytorch: h >= d) have the closed form
    q = vol(B_p) a_v^p / ((p + 1) (2 a_w)^p) (docs/theory.md §11); otherwise Monte Carlo with ``samples``
    draws (default 200000).

    With a vector output (e >= 2) a neuron with c_k < 0 is not pathological (nothing is frozen); the
    probabilities are then those of c_k < 0, and the result says so.
    """
    for name, size in (("p", p), ("h", h), ("e", e)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidSpecError(f"{name} must be a positive integer, got {size!r}")
    if init not in INITS:
        raise InvalidSpecError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    if init.endswith("normal"):
        from scipy.stats import f as fdist

        sw2, sv2 = _variance(init, p, h, scale), _variance(init, h, e, scale)
        q = float(fdist.cdf(sv2 * e / (sw2 * p), p, e))
        method = "closed form (F distribution)"
    elif not uses_monte_carlo(p, h, init, e, scale, bias=bias):
        # ||v||^2 <= a_v^2 <= a_w^2: the ball {||w||^2 < ||v||^2} lies inside the cube [-a_w, a_w]^p, so
        # P(c_k < 0 | v) = vol(B_p) |v|^p / (2 a_w)^p and E|v|^p = a_v^p / (p + 1) [derived, exact]
        aw, av = _uniform_bounds(init, p, h, e, bias, scale)
        log_q = (p / 2 * math.log(math.pi) - math.lgamma(p / 2 + 1) + p * math.log(av / (2 * aw))
                 - math.log(p + 1))
        q = math.exp(log_q)
        method = "closed form (uniform entries; the ball ||w|| < |v| lies inside the cube of w)"
    else:
        aw, av = _uniform_bounds(init, p, h, e, bias, scale)
        rng = np.random.default_rng(seed)
        n = samples or 200_000
        hits, done = 0, 0
        rows = max(1, 4_000_000 // (p + e))  # bounded memory: about 32 MB of draws at a time
        while done < n:
            k = min(rows, n - done)
            w = rng.uniform(-aw, aw, (k, p))
            v = rng.uniform(-av, av, (k, e))
            hits += int(np.count_nonzero((w**2).sum(1) < (v**2).sum(1)))
            done += k
        q = hits / n
        method = f"Monte Carlo ({n} draws, seed {seed}; standard error {math.sqrt(q * (1 - q) / n):.1e})"
    out = {"p": p, "width": h, "output_dim": e, "init": init, "q_pathological": q,
           "expected_pathological": h * q,
           "p_some_pathological": -math.expm1(h * math.log1p(-q)) if q < 1 else 1.0,  # accurate for tiny q
           "p_all_pathological": q**h, "method": method}
    if e >= 2:
        out["note"] = (f"vector output (e = {e}): c_k < 0 freezes nothing, so these are the probabilities of "
                       "c_k < 0, not of a pathological neuron")
    return out


def _loss_and_dloss(F: np.ndarray, Y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Mean loss over the m samples and its gradient with respect to the outputs F (m x e)."""
    m = len(F)
    if loss == "mse":
        R = F - Y
        return float((R**2).sum() / m), 2 / m * R
    # bce on the logit f: log(1 + e^f) - y f, stable in both tails; d/df = sigmoid(f) - y
    value = float((np.logaddexp(0.0, F) - Y * F).sum() / m)
    sig = np.exp(-np.logaddexp(0.0, -F))
    return value, (sig - Y) / m


def gradient_flow(W, V, X, y, steps: int = 20000, lr: float = 1e-3, loss: str = "mse") -> dict:
    """Small-step gradient descent on the squared loss or on binary cross-entropy (no output bias).

    ``loss="mse"``: (1/m) sum_i ||f(x_i) - y_i||^2, scalar or vector output. ``loss="bce"``: the logistic
    output sigma(f) of the logit f (scalar output), (1/m) sum_i [log(1 + e^{f_i}) - y_i f_i], labels in [0, 1].
    The conservation of c_k = ||w_k||^2 - ||v_k||^2 holds for any loss of the outputs (docs/theory.md §11).

    Returns the final parameters, the loss curve, the largest drift of the invariants c_k (O(lr) per unit
    time for gradient descent; 0 for the exact flow) and whether any pathological v_k changed sign (None
    with a vector output, where no neuron is pathological).
    """
    if loss not in LOSSES:
        raise InvalidSpecError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    W = np.array(W, float)
    V = np.array(V, float).reshape(W.shape[0], -1)
    X = np.atleast_2d(np.asarray(X, float))
    Y = np.asarray(y, float).reshape(len(X), -1)
    if loss == "bce" and (V.shape[1] != 1 or np.any((Y < 0) | (Y > 1))):
        raise InvalidSpecError("loss bce needs a scalar output and labels in [0, 1]")
    c0 = invariants(W, V)
    patho = (c0 < 0) if V.shape[1] == 1 else np.zeros(len(c0), bool)
    sign0 = np.sign(V[patho])
    losses, flips, drift = [], False, 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below and said in words
        for t in range(steps):
            Z = X @ W.T  # (m, h)
            A = np.maximum(Z, 0)
            value, G = _loss_and_dloss(A @ V, Y, loss)  # G = dL/dF, (m, e)
            if t % max(1, steps // 200) == 0:
                losses.append(value)
            gV = A.T @ G
            gW = ((G @ V.T) * (Z > 0)).T @ X
            W -= lr * gW
            V -= lr * gV
            if patho.any() and np.any(np.sign(V[patho]) != sign0):
                flips = True
            step_drift = float(np.max(np.abs(invariants(W, V) - c0)))
            drift = max(drift, step_drift)
            if not math.isfinite(step_drift):  # the weights overflowed: nothing after this step means anything
                raise InvalidSpecError(f"gradient descent diverged at step {t + 1} of {steps} (the weights overflowed "
                                       f"float64); lower the step size (lr = {lr:g}) or rescale the data")
        final = _loss_and_dloss(np.maximum(X @ W.T, 0) @ V, Y, loss)[0]
    if not math.isfinite(final):
        raise InvalidSpecError(f"the loss after gradient descent overflows float64 ({final}); rescale the data")
    return {"W": W, "V": V, "final_loss": final, "loss_curve": losses, "max_invariant_drift": drift,
            "pathological_sign_changed": flips if V.shape[1] == 1 else None, "loss": loss}


def flow_step_seconds(m: int, h: int, p: int, e: int) -> float:
    """Reference seconds (:func:`bettibounds._lib.budget.cpu_seconds`) of one step of
    :func:`gradient_flow` with m samples, h neurons, p inputs and e outputs: five steps on arrays
    of these shapes, measured (the pilot of the time estimate of ``obstruction --flow``)."""
    from .._lib.budget import cpu_seconds

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(m, p)), rng.normal(size=(m, e))
    W, V = 1e-3 * rng.normal(size=(h, p)), 1e-3 * rng.normal(size=(h, e))
    return cpu_seconds(lambda: gradient_flow(W, V, X, Y, steps=5, lr=1e-9)) / 5


def probability_table(dims=PLOT_DIMS, widths=PLOT_WIDTHS, init: str = "pytorch",
                      bias: bool = True, e: int = 1) -> list[dict]:
    """P(some neuron pathological) at initialisation over input dimensions d and widths h."""
    return [dict(d=d, **obstruction_probability(d + (1 if bias else 0), h, init, e, bias=bias))
            for d in dims for h in widths]


def plot_probability(out_dir, init: str = "pytorch", dims=PLOT_DIMS, widths=PLOT_WIDTHS, *,
                     mark: tuple | None = None, bias: bool = True, e: int = 1) -> str:
    """PNG of P(some neuron pathological) against d, one curve per width (matplotlib).

    ``mark = (d, h)``: the user's network; its d and h are added to the curves and the point is marked
    with a star on both panels.
    """
    from pathlib import Path

    import matplotlib

    from .._lib.writers import save_figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if mark is not None:
        dims = tuple(sorted(set(dims) | {int(mark[0])}))
        widths = tuple(sorted(set(widths) | {int(mark[1])}))
    rows = probability_table(dims, widths, init, bias=bias, e=e)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for h in widths:
        sel = [r for r in rows if r["width"] == h]
        style = dict(lw=2.5) if mark is not None and h == mark[1] else {}
        axes[0].plot([r["d"] for r in sel], [r["p_some_pathological"] for r in sel], "o-", label=f"h = {h}", **style)
        axes[1].plot([r["d"] for r in sel], [r["expected_pathological"] for r in sel], "o-", label=f"h = {h}",
                     **style)
    if mark is not None:
        r = next(r for r in rows if r["d"] == mark[0] and r["width"] == mark[1])
        for ax, key in zip(axes, ("p_some_pathological", "expected_pathological")):
            ax.plot([r["d"]], [r[key]], "k*", ms=16, zorder=5, label=f"your network (d = {mark[0]}, h = {mark[1]})")
            ax.annotate(f"{r[key]:.3g}", (r["d"], r[key]), textcoords="offset points", xytext=(8, 8))
    what = "pathological" if e == 1 else "with c_k < 0"
    for ax, lab in zip(axes, (f"P(at least one neuron {what})", f"expected number of neurons {what}")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("input dimension d" + (" (bias absorbed: p = d + 1)" if bias else " (no bias: p = d)"))
        ax.set_ylabel(lab)
        ax.legend(fontsize=8)
    method = "closed form" if init.endswith("normal") else "Monte Carlo"
    fig.suptitle(f"ReLU obstruction at {init} initialisation, output dimension e = {e} ({method})")
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"obstruction_probability_{init}.png"
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return str(path)
