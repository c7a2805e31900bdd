"""Section 5 of the report: the ReLU obstruction (Nurisso, Leroy, Vaccarino 2024; THEORY sec. 5).

* the probability that some neuron is pathological (c_k = ||w_k||^2 - ||v_k||^2 < 0) at a
  standard initialisation (closed form for normal inits);
* a gradient-flow demonstration: a shallow ReLU network whose neurons are all pathological
  with v_k < 0 cannot reach a target with y_i > 0 (f <= 0 on its whole component of the
  invariant set), which :func:`bettibounds.obstruction.reachability` decides from the
  invariants alone; small-step gradient descent then stays at a loss bounded below by
  (1/m) sum_{y_i > 0} y_i^2, while the same data from a reachable initialisation is fitted.
"""

from __future__ import annotations

import numpy as np

from ..obstruction import (
    gradient_flow,
    invariants,
    probability_table,
    reachability,
    topology,
)
from ._render import save_figure

__all__ = ["flow_demo", "plot_flow", "probability_rows"]

CITATION = "Nurisso2024; bettibounds-theory"


def probability_rows(scale: str) -> list[dict]:
    dims = (1, 2, 4, 8, 16) if scale != "full" else (1, 2, 4, 8, 16, 32, 64, 128)
    widths = (4, 16, 64) if scale != "full" else (4, 16, 64, 256, 1024)
    rows = probability_table(dims=dims, widths=widths)
    for r in rows:
        r.update({"statement": "P(c_k < 0) at initialisation", "status": "derived", "citation": CITATION})
    return rows


def _run(W, V, X, y, steps, lr, chunks):
    """gradient_flow in ``chunks`` pieces, recording v_k, the invariants and the loss after each."""
    W, V = np.array(W, float), np.array(V, float).reshape(len(W), -1)
    trace = {"step": [0], "loss": [float(np.mean((np.maximum(X @ W.T, 0) @ V - y[:, None]) ** 2))],
             "v": [V[:, 0].copy()], "c": [invariants(W, V).copy()]}
    drift, flipped = 0.0, False
    per = steps // chunks
    for i in range(chunks):
        res = gradient_flow(W, V, X, y, steps=per, lr=lr)
        W, V = res["W"], res["V"]
        drift = max(drift, float(np.max(np.abs(invariants(W, V) - trace["c"][0]))))
        flipped = flipped or res["pathological_sign_changed"]
        trace["step"].append((i + 1) * per)
        trace["loss"].append(res["final_loss"])
        trace["v"].append(V[:, 0].copy())
        trace["c"].append(invariants(W, V).copy())
    return W, V, trace, drift, flipped


def flow_demo(scale: str) -> dict:
    """Stuck (unreachable by the invariant) vs a reachable initialisation, same data and teacher."""
    seed = 91
    rng = np.random.default_rng(seed)
    d, h, m = 2, 3, 24
    X = np.hstack([rng.uniform(-1, 1, (m, d)), np.ones((m, 1))])  # bias absorbed: p = d + 1
    WT = np.array([[1.0, -0.5, 0.2], [-0.7, 0.8, 0.1]])  # teacher: two ReLU units, positive output weights
    VT = np.array([1.0, 0.8])
    y = np.maximum(X @ WT.T, 0) @ VT
    W0 = 0.3 * rng.standard_normal((h, d + 1))
    V_stuck = -np.abs(rng.uniform(1.0, 1.5, h))  # ||v_k|| > ||w_k||: every neuron pathological, v_k < 0
    V_free = np.abs(rng.uniform(0.05, 0.1, h))  # c_k > 0 for every neuron: no frozen sign
    steps = {"full": 60000, "quick": 20000, "tiny": 2000}[scale]
    lr = 0.02
    out = {"seed": seed, "d": d, "p": d + 1, "width": h, "m": m, "steps": steps, "lr": lr,
           "floor": float(np.mean(np.where(y > 0, y, 0.0) ** 2)), "runs": []}
    for label, V0 in (("all pathological, v_k < 0", V_stuck), ("no pathological neuron", V_free)):
        c0 = invariants(W0, V0[:, None])
        reach = reachability(W0, V0, X, y, teacher=(WT, VT))
        topo = topology(c0, p=d + 1)
        _, V, trace, drift, flipped = _run(W0, V0, X, y, steps, lr, chunks=50)
        out["runs"].append({"init": label, "invariants": [float(c) for c in c0],
                            "pathological": topo.pathological, "components_b0": topo.components,
                            "reachability": reach["status"], "reason": reach["reason"],
                            "initial_loss": trace["loss"][0], "final_loss": trace["loss"][-1],
                            "max_invariant_drift": drift, "pathological_sign_changed": flipped,
                            "final_v": [float(x) for x in V[:, 0]], "trace": {
                                "step": trace["step"], "loss": trace["loss"],
                                "v": [[float(x) for x in v] for v in trace["v"]]},
                            "status": "derived", "citation": CITATION})
    return out


def plot_flow(demo, out) -> str:
    """relu_flow.png: loss against step for both inits (with the floor), and v_k(t) of the stuck run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    ax = axes[0]
    for run, color in zip(demo["runs"], ("tab:red", "tab:blue")):
        ax.plot(run["trace"]["step"], run["trace"]["loss"], color=color,
                label=f"{run['init']} ({run['reachability']})")
    ax.axhline(demo["floor"], color="k", ls=":", label="floor (1/m) Σ_{y>0} y² for any f ≤ 0")
    ax.set_yscale("log")
    ax.set_xlabel(f"gradient-descent step (learning rate {demo['lr']:g})")
    ax.set_ylabel("training loss (MSE)")
    ax.set_title(f"(a) shallow ReLU net, d = {demo['d']}, h = {demo['width']}, m = {demo['m']} (seed {demo['seed']})",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1]
    stuck = demo["runs"][0]
    V = np.array(stuck["trace"]["v"])
    for k in range(V.shape[1]):
        ax.plot(stuck["trace"]["step"], V[:, k], label=f"v_{k + 1}(t)")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("output weight v_k")
    ax.set_title("(b) stuck run: pathological output weights never change sign", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle("ReLU obstruction (Nurisso et al. 2024): c_k = ||w_k||² − ||v_k||² is conserved, so "
                 "sign v_k is frozen when c_k < 0", fontsize=11)
    return save_figure(plt, fig, out, "relu_flow.png", dpi=110)
