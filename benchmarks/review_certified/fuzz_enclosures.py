"""Fuzz SliceLoss.enclose against the independent mpmath oracle (oracle.py, 60 digits; 400 before a failure).

Random networks of every activation / output / loss / skip / bias / l2, in regimes meant to break the
rounding analysis (docs/theory.md §13.3): moderate, huge and tiny weights, saturated activations, teacher data
near a minimum (f ~ 1e-30), BCE with extreme logits, exp near its overflow/underflow thresholds (ln DBL_MAX,
ln 2^-1074), bias products that cancel, subnormal weights and data, signed zeros, products whose terms overflow
with opposite signs, and huge boxes. For each network a few oracle points p are computed (f(p) and, at some,
grad f(p)); many random boxes are built around each point -- widths 1 .. 1e-16, zero widths (points and
segments), huge widths, p at a corner, on a side or inside, -0.0 ends -- and enclosed in one vectorised call.
Every box must have f(p) in F and, along its axes of positive width, df/dt_r(p) in G_r.

usage: python benchmarks/review_certified/fuzz_enclosures.py [seconds] [seed] [boxes_per_point]
Prints counts per regime and every failure (with what reproduces it); exits 1 when a failure was found.
"""
import os
import sys
import time
import warnings

import mpmath
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import layout, slice_f, slice_grad  # noqa: E402

from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.pfaffian.activations import get_activation  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

ACTS = ["tanh", "logistic", "arctan", "softplus", "gaussian", "silu", "gelu", "exp", "identity", "polynomial:2",
        "polynomial:3"]
REGIMES = ["moderate", "huge", "tiny", "saturated", "near_min", "bce_extreme", "exp_edge", "cancel_bias",
           "subnormal", "signed_zero", "overflow_cancel", "huge_box"]
SCALE = {"moderate": 1.0, "huge": 40.0, "tiny": 1e-6, "saturated": 12.0, "near_min": 1.0, "bce_extreme": 60.0,
         "exp_edge": 1.0, "cancel_bias": 1.0, "subnormal": 1e-310, "signed_zero": 1.0, "overflow_cancel": 1.0,
         "huge_box": 1.0}


def make_case(rng, regime):
    if regime == "overflow_cancel":
        return _overflow_case(rng)
    act = ACTS[rng.integers(len(ACTS))]
    if regime == "exp_edge":
        act = str(rng.choice(["exp", "logistic", "silu", "softplus", "tanh"]))
    loss = "bce" if (regime == "bce_extreme" or rng.random() < 0.2) else "mse"
    oa = "sigmoid" if loss == "bce" else ["identity", "sigmoid", "tanh"][rng.integers(3)]
    skip = ["none", "residual", "input-output", "residual+input-output"][rng.integers(4)]
    widths = (2, 2) if "residual" in skip else tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    d, out, m = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    bias = True if regime == "cancel_bias" else bool(rng.integers(0, 2))
    l2 = [0.0, 0.0, 0.01, 0.5][rng.integers(4)]
    spec = ArchitectureSpec(inputs=d, widths=widths, outputs=out, activation=act, output_activation=oa, loss=loss,
                            samples=m, bias=bias, skip=skip, l2=l2)
    P = int(spec.n_params)
    k = int(rng.integers(1, 3))
    s = SCALE[regime]
    th0 = rng.normal(size=P) * s
    D = rng.normal(size=(k, P)) * (s if regime != "near_min" else 1.0)
    x = rng.normal(size=(m, d)).round(3)
    y = (rng.choice([0.0, 1.0, 0.25, 0.7], size=(m, out)) if loss == "bce" else rng.normal(size=(m, out)).round(3))
    layers, _ = layout(spec)
    if regime == "subnormal":
        x = x * rng.choice([1.0, 1e-300, 5e-324], size=x.shape)
        D = D * rng.choice([1.0, 1e-10, 0.0], size=D.shape)
    elif regime == "signed_zero":
        th0 = np.where(rng.random(P) < 0.5, rng.choice([0.0, -0.0], size=P), th0)
        D = np.where(rng.random(D.shape) < 0.5, -0.0, D)
        x = np.where(rng.random(x.shape) < 0.3, -0.0, x)
    elif regime == "exp_edge":
        # first-layer pre-activations z0 + 1e-3 t near ln DBL_MAX = 709.7827, ln 2^-1074 = -744.44 and beyond;
        # later weights ~ 1 / phi(z0), so that the next pre-activations are O(1) and an error in phi shows
        W1, b1 = layers[0]
        x = np.ones((m, d))
        # mostly inside (709.78, ln DBL_MAX), where exp's threshold once sat, with both signs (logistic, silu
        # and softplus see e^{-z})
        z0 = float(rng.choice([709.7814, -709.7814, 709.781, -709.781, -709.7826, 709.7826, -744.44, 744.44,
                               -745.13, 709.0]))
        th0[W1] = 0.0
        th0[W1[:, 0]] = z0
        D[:, W1] *= 1e-3
        if b1 is not None:
            th0[b1], D[:, b1] = 0.0, 0.0
        from oracle import _act
        with mpmath.workdps(30):
            try:
                mag = float(abs(_act(get_activation(act).name, mpmath.mpf(z0))))
            except OverflowError:
                mag = 1.0
        mag = min(max(mag, 1e-300), 1e300) if 0 < mag < np.inf else 1.0  # finite weights
        for W, b in layers[1:]:
            th0[W] = rng.normal(size=W.shape) / mag
            D[:, W] = 0.0
            mag = 1.0  # deeper layers see O(1) values
    elif regime == "cancel_bias":
        for W, b in layers[1:]:
            if b is not None:
                q = rng.choice([1.0, 2.0, 0.5, 1e8, 1e16], size=len(b))
                D[:, b] = 0.0
                D[0, b] = 3 * q
                th0[b] = -q  # b(t) = q (3 t_1 - 1): cancels at t_1 = fl(1/3), where fl(3q t_1) = q
    if regime == "near_min" and loss == "mse" and spec.l2_fraction() == 0:
        name = get_activation(act).name
        y = np.array([[float(v) for v in _outputs(spec, x[i], th0, name)] for i in range(m)])
    return spec, act, x, y, th0, D, k


def _overflow_case(rng):
    """exp units with the same pre-activation A + B t (A ~ 705, e^A ~ 1e306), output weights of opposite signs and
    a saturating output: in the range slot of a wide box, w_1 e^z + w_2 e^z overflows to inf - inf."""
    h, k = int(rng.integers(2, 4)), int(rng.integers(1, 3))
    oa = str(rng.choice(["tanh", "sigmoid"]))
    spec = ArchitectureSpec(inputs=1, widths=(h,), outputs=1, activation="exp", output_activation=oa, loss="mse",
                            samples=1, bias=False)
    P = int(spec.n_params)
    th0, D = np.zeros(P), np.zeros((k, P))
    th0[:h] = rng.uniform(700.0, 708.5)
    D[:, :h] = rng.uniform(0.1, 1.0, size=(k, 1))
    th0[h:] = np.sign(rng.normal(size=h)) * 10.0 ** rng.uniform(0.0, 2.5, size=h)
    y = np.array([[float(rng.choice([-1.0, 1.0, 0.0]) if oa == "tanh" else rng.choice([0.0, 1.0]))]])
    return spec, "exp", np.ones((1, 1)), y, th0, D, k


def _outputs(spec, xi, th, act):
    """The network's outputs at theta (teacher data: y = these, rounded to floats)."""
    from oracle import _act
    layers, U = layout(spec)
    with mpmath.workdps(60):
        a = [mpmath.mpf(float(v)) for v in xi]
        x0 = list(a)
        L = len(layers) - 1
        for l, (W, b) in enumerate(layers):
            z = [mpmath.fsum(mpmath.mpf(th[W[j, q]]) * a[q] for q in range(W.shape[1]))
                 + (mpmath.mpf(th[b[j]]) if b is not None else 0) for j in range(W.shape[0])]
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


def oracle_points(rng, k, regime, n):
    pts = []
    for _ in range(n):
        p = rng.normal(size=k) * (1e-3 if regime == "near_min" else 1.0)
        if regime == "cancel_bias":
            p[0] = 1.0 / 3.0
        elif regime == "signed_zero" and rng.random() < 0.6:
            p = np.where(rng.random(k) < 0.5, 0.0, p)
        elif regime == "subnormal" and rng.random() < 0.5:
            p = p * 1e-310
        pts.append(p)
    return pts


def boxes_around(rng, p, B, regime):
    """B boxes (lo, hi) containing the point p: random widths per axis (0 for points and segments, up to 1e300
    in the huge_box regime), p at a corner, on a side or inside."""
    k = p.size
    lo, hi = np.empty((B, k)), np.empty((B, k))
    for i in range(B):
        kind = i % 8
        for r in range(k):
            if kind == 0 or (kind == 1 and r == 0):
                w = 0.0  # a point; a segment along the other axis
            elif regime == "huge_box" and i % 2:
                w = 10.0 ** rng.uniform(0, 300)
            elif regime == "overflow_cancel" and i % 2:
                w = 10.0 ** rng.uniform(-1, 1)
            else:
                w = 10.0 ** -rng.uniform(0, 16) if i % 3 else 10.0 ** -rng.uniform(0, 2)
            frac = [0.0, 1.0, rng.random()][rng.integers(3)]
            a = p[r] - frac * w
            b = a + w
            lo[i, r], hi[i, r] = min(a, p[r]), max(b, p[r])  # p inside despite the rounding
            if lo[i, r] == 0.0 and rng.random() < 0.5:
                lo[i, r] = -0.0
            if hi[i, r] == 0.0 and rng.random() < 0.5:
                hi[i, r] = -0.0
            if not (np.isfinite(lo[i, r]) and np.isfinite(hi[i, r])):
                lo[i, r] = hi[i, r] = p[r]
    return lo, hi


def _inside(v, lo, hi):
    return mpmath.mpf(float(lo)) <= v <= mpmath.mpf(float(hi))


def run_case(rng, regime, n_points, B, stats, failures, grad_points=2):
    spec, act, x, y, th0, D, k = make_case(rng, regime)
    name = get_activation(act).name
    sl = SliceLoss(spec, x.tolist(), y.tolist(), th0, D)
    pts = oracle_points(rng, k, regime, n_points)
    vals, grads = [], []
    for j, p in enumerate(pts):
        try:
            f = slice_f(spec, x, y, name, th0, D, p)
            g = slice_grad(spec, x, y, name, th0, D, p) if j < grad_points else None
        except OverflowError:  # mpmath cannot exponentiate beyond ~1e8 in the exponent: skip the point
            f = g = None
        vals.append(f)
        grads.append(g)
    boxes = [boxes_around(rng, p, B, regime) for p in pts]
    lo = np.concatenate([b[0] for b in boxes])
    hi = np.concatenate([b[1] for b in boxes])
    F, G = sl.enclose(lo, hi)
    st = stats.setdefault(regime, dict(networks=0, boxes=0, finite_F=0, f_checks=0, g_checks=0, finite_G=0,
                                       failures=0))
    st["networks"] += 1
    for j, p in enumerate(pts):
        f, g = vals[j], grads[j]
        if f is None:
            continue
        for i in range(j * B, (j + 1) * B):
            st["boxes"] += 1
            st["f_checks"] += 1
            st["finite_F"] += int(np.isfinite(F.lo[i]) and np.isfinite(F.hi[i]))
            if not _inside(f, F.lo[i], F.hi[i]):
                f400 = slice_f(spec, x, y, name, th0, D, p, dps=400)  # rule out the oracle's own rounding
                if not _inside(f400, F.lo[i], F.hi[i]):
                    st["failures"] += 1
                    failures.append(("f", regime, spec, act, x, y, th0, D, lo[i], hi[i], p, f400, F.lo[i], F.hi[i]))
            if g is None:
                continue
            for r in range(k):
                if not hi[i, r] > lo[i, r]:
                    continue
                st["g_checks"] += 1
                st["finite_G"] += int(np.isfinite(G.lo[i, r]) and np.isfinite(G.hi[i, r]))
                if not _inside(g[r], G.lo[i, r], G.hi[i, r]):
                    g400 = slice_grad(spec, x, y, name, th0, D, p, dps=400)
                    if not _inside(g400[r], G.lo[i, r], G.hi[i, r]):
                        st["failures"] += 1
                        failures.append(("grad", regime, spec, act, x, y, th0, D, lo[i], hi[i], p, g400[r],
                                         G.lo[i, r], G.hi[i, r]))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    B = int(sys.argv[3]) if len(sys.argv) > 3 else 48
    rng = np.random.default_rng(seed)
    stats, failures = {}, []
    t0 = time.time()
    trial = 0
    warnings.simplefilter("ignore", RuntimeWarning)  # overflow in the enclosures is expected: infinite bounds
    while time.time() - t0 < seconds:
        regime = REGIMES[trial % len(REGIMES)]
        n_before = len(failures)
        run_case(rng, regime, 6, B, stats, failures)
        for fl in failures[n_before:n_before + 2]:
            kind, reg, spec, act, x, y, th0, D, blo, bhi, p, exact, elo, ehi = fl
            print(f"FAILURE ({kind}) [{reg}] trial {trial} {spec}\n  theta_0={th0.tolist()!r}\n  D={D.tolist()!r}\n"
                  f"  x={x.tolist()!r} y={y.tolist()!r}\n  box {blo.tolist()!r}..{bhi.tolist()!r} point {p.tolist()!r}:"
                  f" exact {mpmath.nstr(exact, 17)} not in [{elo!r}, {ehi!r}]", flush=True)
        trial += 1
    tot = {key: sum(s[key] for s in stats.values()) for key in ("networks", "boxes", "finite_F", "f_checks",
                                                                   "g_checks", "finite_G", "failures")}
    print(f"seed {seed}: {tot['networks']} networks, {tot['boxes']} boxes ({tot['finite_F']} with a finite F), "
          f"{tot['f_checks']} loss and {tot['g_checks']} gradient containments ({tot['finite_G']} finite) checked in "
          f"{time.time() - t0:.0f} s; failures: {tot['failures']}")
    for reg, s in stats.items():
        print(f"  {reg:<16} {s}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
