"""Fuzz SliceLoss.enclose against the independent mpmath oracle (oracle.py, 60 digits).

Random networks of every activation / output / loss / skip / bias / l2, in several regimes (moderate, huge and
tiny weights, saturated activations, teacher data near a minimum with boxes where the loss is ~1e-20, BCE with
extreme logits, exp overflow), random boxes of widths 1 .. 1e-14 plus points and segments.  For every box,
f at its corners and random interior points must lie in F, and df/dt_r at some points in G_r.
Each failure is re-run with review/patched.py (finding 1 fixed) to tell finding 1 from anything new.

usage: python benchmarks/review_certified/fuzz_enclosures.py [trials] [seed]
"""
import os
import sys
import time

import mpmath
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patched  # noqa: E402
from oracle import slice_f, slice_grad  # noqa: E402

from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.pfaffian.activations import get_activation  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

ACTS = ["tanh", "logistic", "arctan", "softplus", "gaussian", "silu", "gelu", "exp", "identity", "polynomial:2",
        "polynomial:3"]
REGIMES = ["moderate", "huge", "tiny", "saturated", "near_min", "bce_extreme", "exp_overflow", "cancel_bias"]


def make_case(rng, trial):
    regime = REGIMES[trial % len(REGIMES)]
    act = ACTS[rng.integers(len(ACTS))]
    if regime == "exp_overflow":
        act = "exp"
    loss = "bce" if (regime == "bce_extreme" or rng.random() < 0.2) else "mse"
    oa = "sigmoid" if loss == "bce" else ["identity", "sigmoid", "tanh"][rng.integers(3)]
    skip = ["none", "residual", "input-output", "residual+input-output"][rng.integers(4)]
    if "residual" in skip:
        widths = (2, 2)
    else:
        widths = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    d, out, m = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    bias = True if regime == "cancel_bias" else bool(rng.integers(0, 2))
    l2 = [0.0, 0.0, 0.01, 0.5][rng.integers(4)]
    spec = ArchitectureSpec(inputs=d, widths=widths, outputs=out, activation=act, output_activation=oa, loss=loss,
                            samples=m, bias=bias, skip=skip, l2=l2)
    P = int(spec.n_params)
    k = int(rng.integers(1, 3))
    scale = {"moderate": 1.0, "huge": 40.0, "tiny": 1e-6, "saturated": 12.0, "near_min": 1.0, "bce_extreme": 60.0,
             "exp_overflow": 300.0, "cancel_bias": 1.0}[regime]
    th0 = rng.normal(size=P) * scale
    D = rng.normal(size=(k, P)) * (scale if regime != "near_min" else 1.0)
    x = rng.normal(size=(m, d)).round(3)
    if loss == "bce":
        y = rng.choice([0.0, 1.0, 0.25, 0.7], size=(m, out))
    else:
        y = rng.normal(size=(m, out)).round(3)
    if regime == "near_min" and loss == "mse" and spec.l2_fraction() == 0:
        # teacher data: y = the network's own output at theta_0 (rounded to float): f(theta_0) ~ 1e-32
        from bettibounds.engines.torch_kernel import LossKernel
        from oracle import layout
        import torch
        # output at theta_0 through the oracle's forward (loss with y = 0 gives sum yhat^2; need yhat itself)
        y = np.array([[float(v) for v in _outputs(spec, x[i], th0, get_activation(act).name)] for i in range(m)])
    return regime, spec, act, x, y, th0, D, k


def _outputs(spec, xi, th, act):
    from oracle import _act, layout
    layers, U = layout(spec)
    with mpmath.workdps(60):
        a = [mpmath.mpf(float(v)) for v in xi]
        x0 = list(a)
        L = len(layers) - 1
        for l, (W, b) in enumerate(layers):
            z = [mpmath.fsum(mpmath.mpf(th[W[j, q]]) * a[q] for q in range(W.shape[1])) + (mpmath.mpf(th[b[j]]) if b is not None else 0)
                 for j in range(W.shape[0])]
            if l < L:
                new = [_act(act, v) for v in z]
                if "residual" in spec.skips and l >= 1:
                    new = [n + p for n, p in zip(new, a)]
                a = new
            else:
                a = z
        if U is not None:
            a = [a[o] + mpmath.fsum(mpmath.mpf(th[U[o, q]]) * x0[q] for q in range(U.shape[1])) for o in range(len(a))]
        oa = spec.output_activation
        if oa == "logistic":
            a = [1 / (1 + mpmath.exp(-v)) for v in a]
        elif oa == "tanh":
            a = [mpmath.tanh(v) for v in a]
        return a


def make_boxes(rng, k, regime):
    lo, hi = [], []
    for i in range(14):
        w = 10.0 ** (-rng.uniform(0, 14)) if i % 3 else 10.0 ** (-rng.uniform(0, 3))
        c = rng.normal(size=k) * (1e-3 if regime == "near_min" else 1.0)
        if regime == "cancel_bias":
            c[0] = 1.0 / 3.0  # t_1 = fl(1/3): fl(3q t_1) = q exactly, the exact 3q t_1 is q (1 - 2^-54)
            l, h = c - w * rng.random(k), c + w * rng.random(k)
            if i % 2:
                l = c.copy()  # a box whose corner (and, for points, centre) is the cancelling point
                h = c.copy() if i % 4 == 1 else c + w * rng.random(k)
            lo.append(l)
            hi.append(np.maximum(h, l))
            continue
        l, h = c - w * rng.random(k), c + w * rng.random(k)
        kind = i % 5
        if kind == 3:  # a point
            h = l.copy()
        elif kind == 4 and k == 2:  # a segment
            h[rng.integers(2)] = l[rng.integers(2)] if False else h[0]
            h[1] = l[1]
        lo.append(l)
        hi.append(np.maximum(h, l))
    return np.array(lo), np.array(hi)


def check_case(case, rng, grad_points=1, patch=False):
    regime, spec, act, x, y, th0, D, k = case
    if regime == "cancel_bias":
        # make the bias entries of theta_0 cancel a multiple of the direction's bias entries
        pass
    sl = SliceLoss(spec, x.tolist(), y.tolist(), th0, D)
    lo, hi = make_boxes(rng, k, regime)
    F, G = sl.enclose(lo, hi)
    fails, npts, ngrad = [], 0, 0
    name = get_activation(act).name
    for i in range(lo.shape[0]):
        pts = [lo[i], hi[i], np.array([lo[i][0], hi[i][-1]])[:k]]
        for _ in range(2):
            pts.append(np.clip(lo[i] + rng.random(k) * (hi[i] - lo[i]), lo[i], hi[i]))
        for t in pts:
            try:
                f = slice_f(spec, x, y, name, th0, D, t)
            except OverflowError:  # mpmath cannot exponentiate beyond ~1e15 in the exponent: skip the point
                continue
            npts += 1
            if not (mpmath.mpf(F.lo[i]) <= f <= mpmath.mpf(F.hi[i])):
                fails.append(("f", i, t.tolist(), float(f), float(F.lo[i]), float(F.hi[i])))
        for t in pts[-grad_points:]:
            active = [r for r in range(k) if hi[i][r] > lo[i][r]]
            if not active:
                continue
            try:
                g = slice_grad(spec, x, y, name, th0, D, t)
            except OverflowError:
                continue
            for r in active:
                ngrad += 1
                if not (mpmath.mpf(G.lo[i, r]) <= g[r] <= mpmath.mpf(G.hi[i, r])):
                    # the oracle's numerical derivative at 60 digits cannot see a derivative far below the loss
                    # itself (e.g. 1e-124 beside an O(1) loss): recompute at 400 digits before reporting
                    g = slice_grad(spec, x, y, name, th0, D, t, dps=400)
                if not (mpmath.mpf(G.lo[i, r]) <= g[r] <= mpmath.mpf(G.hi[i, r])):
                    fails.append(("grad", i, r, t.tolist(), float(g[r]), float(G.lo[i, r]), float(G.hi[i, r])))
    stats = (float(np.median(F.hi)), float(np.median((F.hi - F.lo) / np.maximum(np.abs(F.hi), 1e-300))))
    return fails, npts, ngrad, (lo, hi)


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rng = np.random.default_rng(seed)
    tot_pts = tot_grad = 0
    bad_cases = []
    t0 = time.time()
    per_regime = {}
    for trial in range(trials):
        case = make_case(rng, trial)
        regime, spec = case[0], case[1]
        if regime == "cancel_bias":
            # theta_0's biases = -3 * (direction biases) / 3-ish: b(theta_0) + t b(D) cancels near t = 1/3
            from oracle import layout
            layers, _ = layout(spec)
            th0, D = case[5].copy(), case[6].copy()
            for W, b in layers[1:]:
                if b is not None:
                    q = rng.choice([1.0, 2.0, 0.5, 1e8], size=len(b))
                    D[:, b] = 0.0
                    D[0, b] = 3 * q
                    th0[b] = -q  # b(t) = q (3 t_1 - 1): cancels at t_1 = fl(1/3), where fl(3q t_1) = q
            case = case[:5] + (th0, D, case[7])
        state = rng.bit_generator.state
        fails, npts, ngrad, _ = check_case(case, rng)
        tot_pts += npts
        tot_grad += ngrad
        per_regime.setdefault(regime, [0, 0])
        per_regime[regime][0] += 1
        if fails:
            # the same boxes with finding 1 fixed
            rng2 = np.random.default_rng(0)
            rng2.bit_generator.state = state
            patched.apply()
            try:
                fails2, _, _, _ = check_case(case, rng2)
            finally:
                patched.revert()
            per_regime[regime][1] += 1
            bad_cases.append((trial, regime, case[1], len(fails), len(fails2), fails[:2], fails2[:2]))
            print(f"trial {trial} [{regime}] {case[1]}: {len(fails)} containment failures; with finding 1 fixed: "
                  f"{len(fails2)}\n   e.g. {fails[0]}" + (f"\n   fixed e.g. {fails2[0]}" if fails2 else ""))
    print(f"{trials} networks, {tot_pts} f-points and {tot_grad} gradient components checked in {time.time() - t0:.0f} s; "
          f"networks with failures: {len(bad_cases)} (after the finding-1 fix: {sum(1 for b in bad_cases if b[4])})")
    print("per regime [networks, with failures]:", per_regime)


if __name__ == "__main__":
    main()
