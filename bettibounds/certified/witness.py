"""Certified symmetry lower bound for a concrete network and data set.

Pipeline (every claim in the result is backed by the step that certifies it):

1. **Candidate** theta*: multi-start L-BFGS (float64 forward-mode gradients), polished
   by Newton steps with the exact float Hessian.
2. **Strict minimum in a ball** (ball arithmetic, python-flint ``arb``): enclosures of
   Loss(theta*) = [L_lo, L_hi] and of ||grad Loss(theta*)|| <= g, and an enclosure of the
   Hessian on the box theta* +- rho (which contains the ball B(theta*, rho)); an interval
   Cholesky factorisation of [H] - mu I certifies H(xi) >= mu I on the ball. By Taylor's
   theorem Loss > c_hi := L_lo - g rho + mu rho^2 / 2 on the sphere, and if c_hi > L_hi
   the loss is strongly convex on the ball with its minimum inside: a unique, strict local
   minimiser.
3. **Orbit**: every element h of the loss-preserving group G (bettibounds.lower, its linear
   subgroup ``symmetry_group(spec, linear_only=True)``: the skip flips of softplus/SiLU/GELU
   are bilinear and left out, a lower bound from a subgroup stays valid) is a
   linear map theta -> A_h theta with ||A_h|| <= a_h (a_h = 1 for signed permutations; the
   logistic bias shifts are bounded through their Frobenius norm). The images h(B) lie in
   B(h theta*, a_h rho), so B and h(B) are disjoint when ||theta* - h theta*|| > (1 + a_h) rho;
   since g(B) and g'(B) are disjoint iff B and g^-1 g'(B) are, checking every h != e
   certifies that the |G| images are pairwise disjoint (and the stabiliser trivial).
4. **Band**: for every c in [c_lo, c_hi) with c_lo = L_hi, each image h(B) contains a
   point of S_c (h theta*) and its boundary misses S_c, so S_c has at least |G|
   components: b_0(S_c) >= |G|.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidSpecError
from ..lower import SymmetryGroup, symmetry_group
from ..pfaffian.activations import get_activation
from ..pfaffian.network import build_params, loss_expression
from .jets import FLOAT, Jet, arb_backend, scalar_functions

__all__ = ["LowerCertificate", "certify_lower", "certify_lower_cost", "loss_jet", "find_minimizers", "group_orbit"]


# ----------------------------------------------------------------- loss as a jet
class _JetAlgebra:
    """network.loss_expression's algebra over Jets (parameters) and scalars (data)."""

    def __init__(self, thetas, bk):
        self.thetas, self.bk = thetas, bk
        self._fns: dict = {}

    def const(self, v):
        return self.bk.const(Fraction(v)) if self.bk.dtype is object else float(v)

    def param(self, p):
        return self.thetas[p]

    def add(self, *xs):
        out = xs[0] if xs else self.const(0)
        for x in xs[1:]:
            out = out + x
        return out

    def mul(self, a, b):
        return a * b

    def pow(self, a, k):
        out = a
        for _ in range(k - 1):
            out = out * a
        return out

    def is_const(self, x):
        return not isinstance(x, Jet)

    def _fn(self, name):
        if name not in self._fns:
            self._fns[name] = scalar_functions(name, self.bk)
        return self._fns[name]

    def _apply(self, fn, u):
        if isinstance(u, Jet):
            return u.apply(*fn(u.v))
        return fn(u)[0]

    def activation(self, act, u):
        return self._apply(self._fn(act.name), u)

    def element(self, name, j, u, ode):
        bk = self.bk
        sig = self._fn("logistic")
        if name == "out:s":
            return self._apply(sig, u)
        if name == "out:t":
            return self._apply(self._fn("tanh"), u)
        one = bk.const(1)

        def logsig(x):  # log sigma(x); (log sigma)' = 1 - sigma, '' = -sigma'
            s, d1, _ = sig(x)
            val = -np.logaddexp(0.0, -x) if bk.dtype is not object else -(one + bk.exp(-x)).log()
            return val, one - s, -d1

        if name in ("out:q", "out:l1"):
            return self._apply(logsig, u)
        if name == "out:l2":  # log(1 - sigma(u)) = log sigma(-u)
            def f(x):
                v, d1, d2 = logsig(-x)
                return v, -d1, d2
            return self._apply(f, u)
        raise ValueError(f"unknown output element {name}")  # pragma: no cover


def loss_jet(spec, x, y, theta, bk=FLOAT, order: int = 2, radius=None) -> Jet:
    """Loss (with gradient, and Hessian when order = 2) at theta.

    With the arb backend and ``radius`` > 0, theta_p ranges over [theta_p - r, theta_p + r]
    and the result encloses the loss, gradient and Hessian on the whole box.
    """
    P = spec.n_params
    if bk.dtype is object:
        from flint import arb

        vals: list[Any] = [arb(float(t), radius) if radius else arb(float(t)) for t in theta]
    else:
        vals = [float(t) for t in theta]
    thetas = [Jet.variable(v, p, P, bk, order) for p, v in enumerate(vals)]
    alg = _JetAlgebra(thetas, bk)
    layers, U = build_params(spec, alg.param)
    lam = alg.const(spec.l2_fraction()) if spec.l2_positive else None
    return loss_expression(spec, alg, get_activation(spec.activation), layers, U, x, y, P, lam)


# ------------------------------------------------------------ candidate search
def find_minimizers(spec, x, y, starts: int = 8, seed: int = 0, scale: float = 1.0, maxiter: int = 500):
    """Multi-start L-BFGS + Newton polishing; returns candidates sorted by loss.

    Each candidate is ``(theta, loss, min_hessian_eigenvalue, grad_norm)`` (float64).
    """
    from scipy.optimize import minimize

    P = spec.n_params
    rng = np.random.default_rng(seed)

    def fg(t):
        J = loss_jet(spec, x, y, t, FLOAT, order=1)
        return float(J.v), np.asarray(J.g, dtype=float)

    out = []
    for _ in range(starts):
        t0 = rng.normal(0.0, scale, P)
        res = minimize(fg, t0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "gtol": 1e-12})
        t = res.x
        for _ in range(30):  # Newton polish with the exact Hessian
            J = loss_jet(spec, x, y, t, FLOAT, order=2)
            g, H = np.asarray(J.g, float), np.asarray(J.H, float)
            if np.linalg.norm(g) < 1e-15:
                break
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            f0, s = float(J.v), 1.0
            while s > 1e-8 and fg(t - s * step)[0] > f0 + 1e-15 * abs(f0):
                s /= 2
            if s <= 1e-8:
                break
            t = t - s * step
        J = loss_jet(spec, x, y, t, FLOAT, order=2)
        H = np.asarray(J.H, float)
        if not (np.all(np.isfinite(H)) and np.isfinite(float(J.v))):
            out.append((t, math.inf, -math.inf, math.inf))  # diverged: ranked last, rejected later
            continue
        out.append((t, float(J.v), float(np.linalg.eigvalsh((H + H.T) / 2)[0]),
                    float(np.linalg.norm(np.asarray(J.g, float)))))
    out.sort(key=lambda c: (c[2] <= 0, c[1]))
    return out


# ------------------------------------------------------------------ the group
def _structure(spec):
    """Index arrays of the parameter vector: per Linear layer W (out x in) and b."""
    layers, U = build_params(spec, lambda p: p)
    Ws = [np.array(W, dtype=int) for W, _ in layers]
    bs = [None if b is None else np.array(b, dtype=int) for _, b in layers]
    return Ws, bs


def _block_elements(spec, block, kind):
    """All (perm, flip-vector(s)) of one block; flips are per layer for even activations."""
    h = block["width"]
    perms = list(itertools.permutations(range(h)))
    flips: list[Any]
    if block["flips"] == 0:
        flips = [None]
    elif kind == "even":
        flips = list(itertools.product(itertools.product((1, -1), repeat=h), repeat=len(block["layers"])))
    else:
        flips = list(itertools.product((1, -1), repeat=h))
    return [(perm, f) for perm in perms for f in flips]


def _apply_block(theta, Ws, bs, block, perm, flips, kind):
    """Apply one block's flip then permutation to the flat vector theta (returns a copy)."""
    t = theta.copy()
    layers = block["layers"]
    nxt = layers[-1] + 1  # the Linear layer after the block (L + 1 = output)
    if flips is not None:
        if kind == "even":
            for l, D in zip(layers, flips):
                D = np.array(D)
                t[Ws[l - 1]] = t[Ws[l - 1]] * D[:, None]
                if bs[l - 1] is not None:
                    t[bs[l - 1]] = t[bs[l - 1]] * D
        else:
            D = np.array(flips)
            eF = (D < 0).astype(float)
            for i, l in enumerate(layers, start=1):
                W = theta[Ws[l - 1]]
                if i == 1:
                    t[Ws[l - 1]] = D[:, None] * W
                    if bs[l - 1] is not None:
                        t[bs[l - 1]] = D * theta[bs[l - 1]]
                else:
                    DWD = D[:, None] * W * D[None, :]
                    t[Ws[l - 1]] = DWD
                    b = D * theta[bs[l - 1]] if bs[l - 1] is not None else None
                    if kind == "logistic":
                        b = b - (i - 1) * (DWD @ eF)
                    if b is not None:
                        t[bs[l - 1]] = b
            Wn = theta[Ws[nxt - 1]]
            t[Ws[nxt - 1]] = Wn * D[None, :]
            if kind == "logistic":
                t[bs[nxt - 1]] = theta[bs[nxt - 1]] - len(layers) * ((Wn * D[None, :]) @ eF)
    if perm is not None and list(perm) != list(range(len(perm))):
        pi = np.array(perm)
        src = t.copy()
        for i, l in enumerate(layers, start=1):
            W = src[Ws[l - 1]]
            W = W[pi, :] if i == 1 else W[pi][:, pi]
            t[Ws[l - 1]] = W
            if bs[l - 1] is not None:
                t[bs[l - 1]] = src[bs[l - 1]][pi]
        t[Ws[nxt - 1]] = src[Ws[nxt - 1]][:, pi]
    return t


def _norm_bound(spec, block, flips, kind) -> float:
    """Upper bound on ||A|| for the block map: 1 for signed permutations; logistic: 1 + ||N||_F."""
    if kind != "logistic" or flips is None:
        return 1.0
    nflip = sum(1 for f in flips if f < 0)
    h, t = block["width"], len(block["layers"])
    nxt = block["layers"][-1] + 1
    fan_out = spec.outputs if nxt == spec.depth + 1 else spec.widths[nxt - 1]
    frob2 = nflip * (sum((i - 1) ** 2 * h for i in range(2, t + 1)) + t * t * fan_out)
    return 1.0 + math.sqrt(frob2)


def apply_element(spec, theta, combo):
    """h(theta) for the group element ``combo`` (one (perm, flips) per block); any dtype
    (float64, or object arrays of arb balls for a rigorous image)."""
    group = symmetry_group(spec, linear_only=True)  # the disjointness argument needs linear maps
    kind = get_activation(spec.activation).symmetry
    Ws, bs = _structure(spec)
    t = theta
    for block, (perm, flips) in zip(group.blocks, combo):
        t = _apply_block(t, Ws, bs, block, perm, flips, kind)
    return t


def _order_text(group: SymmetryGroup) -> str:
    """|G| for a message: the exact order, or 10^k (k from log2 |G|) when it has too many digits."""
    if group.order is not None:
        return str(group.order)
    return "unknown" if group.log2 is None else f"10^{int(group.log2 * math.log10(2))}"


def group_orbit(spec, theta, max_order: int = 200_000):
    """Yield ``(h_theta, norm_bound, element)`` for every non-identity element h of G."""
    group = symmetry_group(spec, linear_only=True)  # the disjointness argument needs linear maps
    if not group.applicable:
        raise InvalidSpecError("; ".join(group.notes))
    if group.order is None or group.order > max_order:
        raise InvalidSpecError(f"|G| = {_order_text(group)} exceeds max_order={max_order}: the orbit cannot be "
                               "enumerated")
    kind = get_activation(spec.activation).symmetry
    Ws, bs = _structure(spec)
    per_block = [_block_elements(spec, b, kind) for b in group.blocks]
    first = True
    for combo in itertools.product(*per_block):
        if first:  # the identity comes first in every factor
            first = False
            continue
        t, a = theta, 1.0
        for block, (perm, flips) in zip(group.blocks, combo):
            t = _apply_block(t, Ws, bs, block, perm, flips, kind)
            a *= _norm_bound(spec, block, flips, kind)
        yield t, a, combo


# ------------------------------------------------------------------ certificate
@dataclass
class LowerCertificate:
    """Result of :func:`certify_lower`. ``statement`` is the certified claim (or why none is made)."""

    certified: bool
    components_at_least: int | None
    band: list | None
    theta: list
    statement: str
    steps: list = field(default_factory=list)
    group_order: int | None = None
    rho: float | None = None
    mu: float | None = None
    grad_norm: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"certified": self.certified, "components_at_least": self.components_at_least,
                "band": self.band, "statement": self.statement, "steps": self.steps,
                "group_order": self.group_order, "rho": self.rho, "mu": self.mu,
                "grad_norm_upper": self.grad_norm, "theta": self.theta, "seconds": round(self.seconds, 3)}

    def to_text(self) -> str:
        lines = [("CERTIFIED: " if self.certified else "NOT CERTIFIED: ") + self.statement, ""]
        for s in self.steps:
            lines.append(f"[{'ok' if s['certified'] else 'FAIL'}] {s['step']}: {s['detail']}")
        return "\n".join(lines)


def _down(x: float) -> float:
    return math.nextafter(x, -math.inf)


def _up(x: float) -> float:
    return math.nextafter(x, math.inf)


def _interval_cholesky_pd(H, shift) -> bool:
    """True if every symmetric matrix in the ball matrix H minus shift*I is positive definite."""
    from flint import arb

    n = H.shape[0]
    Lm = [[arb(0)] * n for _ in range(n)]
    for j in range(n):
        d = H[j, j] - shift - sum((Lm[j][k] ** 2 for k in range(j)), arb(0))
        if not d > 0:
            return False
        Lm[j][j] = d.sqrt()
        for i in range(j + 1, n):
            Lm[i][j] = (H[i, j] - sum((Lm[i][k] * Lm[j][k] for k in range(j)), arb(0))) / Lm[j][j]
    return True


def certify_lower(spec, x, y, theta=None, *, starts: int = 8, seed: int = 0, max_order: int = 200_000,
                  prec: int = 128, max_params: int = 400) -> LowerCertificate:
    """Certify ``b_0(S_c) >= |G|`` on a level band, for a concrete network and data.

    Parameters
    ----------
    spec : ArchitectureSpec
        Concrete; its ``samples`` must equal ``len(x)``.
    x, y : lists of rows
        The data (exact numbers; floats are taken exactly).
    theta : sequence of float, optional
        The candidate minimiser; default: the best of ``starts`` multi-start runs.
    max_order : int
        Largest group order whose orbit is enumerated.
    prec : int
        Bits of precision of the ball arithmetic.

    Returns
    -------
    LowerCertificate
        ``certified`` is True only when every step is certified; otherwise
        ``statement`` says which step failed and why.
    """
    t0 = time.perf_counter()
    if spec.is_symbolic:
        raise InvalidSpecError("certified lower bounds need a concrete network")
    if len(x) != spec.samples or len(y) != spec.samples:
        raise InvalidSpecError(f"the spec has samples={spec.samples} but the data has {len(x)} rows")
    group = symmetry_group(spec, linear_only=True)  # the disjointness argument needs linear maps
    if not group.applicable:
        raise InvalidSpecError("no finite symmetry group: " + "; ".join(group.notes))
    if group.order is None or group.order > max_order:
        raise InvalidSpecError(f"|G| = {_order_text(group)} exceeds max_order={max_order}: its orbit cannot be "
                               "enumerated; use a narrower network")
    if spec.n_params > max_params:
        raise InvalidSpecError(f"P = {spec.n_params} parameters exceeds max_params={max_params}: the ball-arithmetic "
                               "Hessian costs O(P^2) per operation; certify a smaller network")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidSpecError(f"seed must be an integer >= 0, got {seed!r}")
    bk = arb_backend()
    import flint

    steps: list[dict] = []

    def fail(step, detail, theta_list):
        steps.append({"step": step, "certified": False, "detail": detail})
        return LowerCertificate(False, None, None, theta_list, f"{step} could not be certified: {detail}", steps,
                                group.order, seconds=time.perf_counter() - t0)

    if theta is None:
        # a float64 search, a guide only: where it overflows (huge data), the candidate is non-finite and
        # the certificate says so below; numpy's and scipy's warnings on the way would only repeat it
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cands = find_minimizers(spec, x, y, starts=starts, seed=seed)
        p, loss, lam_min, gnorm = cands[0]
        steps.append({"step": "candidate", "certified": True, "detail":
                      f"best of {starts} L-BFGS + Newton runs (seed {seed}): loss {loss:.6g}, "
                      f"||grad|| {gnorm:.2e}, smallest Hessian eigenvalue {lam_min:.3e} (float64, a guide only)"})
    else:
        p = np.asarray(theta, dtype=float)
        if p.shape != (spec.n_params,):
            raise InvalidSpecError(f"theta must have P = {spec.n_params} entries, got {p.shape}")
        JH = loss_jet(spec, x, y, p, FLOAT, order=2)
        H = np.asarray(JH.H, float)
        lam_min = float(np.linalg.eigvalsh((H + H.T) / 2)[0])
        steps.append({"step": "candidate", "certified": True, "detail":
                      f"given theta; float64 smallest Hessian eigenvalue {lam_min:.3e}"})
    p_list = [float(v) for v in p]
    if not np.all(np.isfinite(p)):
        return fail("candidate", "the candidate has non-finite entries (the optimiser diverged; rescale the data)",
                    p_list)
    if not lam_min > 0:
        return fail("strict minimum", f"the Hessian at the candidate is not positive definite (smallest "
                    f"eigenvalue {lam_min:.3e}): a degenerate or non-minimal critical point (over-parameterised "
                    f"networks have flat valleys; add l2 > 0 or more data)", p_list)
    # --- orbit separation: the largest rho with pairwise disjoint images. The float64 distance
    # carries an a-priori rounding bound E_h (docs/theory.md sec. 10.2), subtracted before use.
    u = 2.0**-53
    hmax = max(spec.widths)
    pinf = float(np.max(np.abs(p))) if p.size else 0.0
    try:
        sep = math.inf
        worst = []
        for hp, a, combo in group_orbit(spec, p, max_order):
            err = (8 * (spec.n_params + 2) * (hmax + 2) * (1 + spec.depth * hmax) * u * pinf
                   * math.sqrt(spec.n_params) * (1 + a))
            r = max(float(np.linalg.norm(p - hp)) - err, 0.0) / (1.0 + a)
            worst.append((r, combo, a))
            if r < sep:
                sep = r
    except InvalidSpecError as exc:
        return fail("orbit", str(exc), p_list)
    if not sep > 0:
        return fail("trivial stabiliser", "a non-identity element of G fixes the candidate (duplicate or "
                    "opposite hidden units, or a zero unit): its orbit has fewer than |G| points", p_list)
    worst.sort(key=lambda w: w[0])
    old_prec = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        J1 = loss_jet(spec, x, y, p, bk, order=1)
        L_lo, L_hi = J1.v.lower(), J1.v.upper()
        g2 = sum((gi * gi for gi in J1.g), flint.arb(0))
        g_up = g2.sqrt().upper()
        steps.append({"step": "value and gradient", "certified": True, "detail":
                      f"Loss(theta*) in [{float(L_lo):.17g}, {float(L_hi):.17g}], ||grad|| <= {float(g_up):.3e} "
                      f"(arb, {prec} bits)"})
        def attempt(rho):
            """(rho, mu, c_hi) if the ball of radius rho certifies, else None."""
            Jbox = loss_jet(spec, x, y, p, bk, order=2, radius=rho)
            for frac in (0.9, 0.5, 0.25, 0.1):
                mu = flint.arb(frac * lam_min)
                if _interval_cholesky_pd(Jbox.H, mu):
                    rho_b = flint.arb(rho)
                    c_hi = L_lo - g_up * rho_b + mu * rho_b * rho_b / 2
                    return (rho, float(mu.mid()), c_hi.lower()) if c_hi > L_hi else None
            return None

        best, failed = None, None
        # stay strictly inside the disjointness radius (float margin 1e-3); a trivial group has no
        # other image (sep = inf), so start from radius 1 there -- halving inf never ends
        rho = 0.999 * sep if math.isfinite(sep) else 1.0
        while rho > 1e-12:  # halve until a radius certifies ...
            best = attempt(rho)
            if best is not None:
                break
            failed, rho = rho, rho / 2
        if best is not None and failed is not None:  # ... then widen the band by bisection
            lo, hi = best[0], failed
            for _ in range(6):
                mid = (lo + hi) / 2
                trial = attempt(mid)
                if trial is not None and trial[2] > best[2]:
                    best, lo = trial, mid
                else:
                    hi = mid
        if best is None:
            return fail("strict minimum", "no radius rho <= the orbit separation gave a certified positive-definite "
                        "Hessian enclosure with Loss(sphere) > Loss(theta*): the minimum is too flat or too close "
                        "to its images at this precision", p_list)
        rho, mu, c_hi = best
        steps.append({"step": "strict minimum", "certified": True, "detail":
                      f"interval Cholesky: H(xi) - {mu:.4g} I > 0 on the box theta* +- {rho:.4g}; Taylor: Loss > "
                      f"{float(c_hi):.17g} on the sphere of radius {rho:.4g}, above Loss(theta*): a unique strict "
                      f"local minimiser in the ball"})
        # independent re-check of the closest images, with h(theta*) itself computed in ball arithmetic
        p_arb = np.array([flint.arb(float(x)) for x in p], dtype=object)
        for r, combo, a in worst[:10]:
            hp_arb = apply_element(spec, p_arb, combo)
            d2 = sum(((x - y) ** 2 for x, y in zip(p_arb, hp_arb)), flint.arb(0))
            if not d2.sqrt() > flint.arb(1.0 + a) * flint.arb(rho):
                return fail("disjoint images", f"an image of the ball is not certified disjoint (distance "
                            f"{float(d2.sqrt().mid()):.4g} vs {(1 + a) * rho:.4g})", p_list)
    finally:
        flint.ctx.prec = old_prec
    steps.append({"step": "disjoint images", "certified": True, "detail":
                  f"{group.order - 1} non-identity elements: min (||theta* - h theta*|| - E_h) / (1 + ||A_h||) = "
                  f"{sep:.4g} > rho = {rho:.4g} (float64 distances minus their a-priori rounding bound E_h; the 10 "
                  f"closest re-checked with h(theta*) computed in ball arithmetic)"})
    c_lo = _up(float(L_hi))
    c_hi_f = _down(float(c_hi))
    steps.append({"step": "band", "certified": True, "detail":
                  f"each of the |G| = {group.order} images of the ball contains a point of S_c and its boundary "
                  f"misses S_c, for every c in [{c_lo!r}, {c_hi_f!r})"})
    statement = f"b_0(S_c) >= {group.order} for every c in [{c_lo!r}, {c_hi_f!r})"
    return LowerCertificate(True, group.order, [c_lo, c_hi_f], p_list, statement, steps, group.order, rho, mu,
                            float(g_up), time.perf_counter() - t0)


def certify_lower_cost(spec, x, y, starts: int, orbit: int):
    """The time and memory estimate (:class:`bettibounds._lib.budget.Cost`) of :func:`certify_lower`
    for a concrete network: :func:`bettibounds._lib.budget.certify_lower` from a pilot, the CPU time
    of one first-order loss jet at a random point (the better of two)."""
    from .._lib import budget

    theta = np.random.default_rng(0).normal(0.0, 1.0, spec.n_params)
    with np.errstate(all="ignore"):  # a pilot at a random point: overflow there is the data's business
        jet = min(budget.cpu_seconds(lambda: loss_jet(spec, x, y, theta, FLOAT, order=1)) for _ in range(2))
    return budget.certify_lower(jet, spec.n_params, starts, orbit)
