"""Sections 5.1 and 5.2 of the report: the ReLU obstruction (Nurisso, Leroy, Vaccarino 2024; docs/theory.md §11).

* the probability that some neuron is pathological (c_k = ||w_k||^2 - ||v_k||^2 < 0) at a
  standard initialisation (closed form for normal inits);
* a gradient-flow demonstration: a shallow ReLU network whose neurons are all pathological
  with v_k < 0 cannot reach a target with y_i > 0 (f <= 0 on its whole component of the
  invariant set), which :func:`bettibounds.obstruction.reachability` decides from the
  invariants alone; small-step gradient descent then stays at a loss bounded below by
  (1/m) sum_{y_i > 0} y_i^2, while the same data from a reachable initialisation is fitted;
* Nurisso et al.'s classification setting on real data (:func:`classification_demo`): a shallow
  ReLU network on scikit-learn's breast-cancer data, binary cross-entropy on the logit, from
  PyTorch-default initialisations rescaled so that no, half or all neurons are pathological with
  v_k < 0 (and the draw as it is): the invariants' drift, whether a frozen sign changed, and the
  trained losses, against the floor (n_pos / m) log 2 that every f <= 0 pays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...obstruction import (
    gradient_flow,
    initialise,
    invariants,
    probability_table,
    reachability,
    topology,
)
from ..render import md_table, pyplot, save_figure

__all__ = ["NAME", "SCALES", "TIMING", "classification_demo", "classification_markdown", "compute", "flow_demo",
           "markdown", "plot_classification", "plot_flow", "probability_rows"]

NAME = "relu_obstruction"
TIMING = "5. ReLU obstruction"

#: the knobs of each scale: the input dimensions and widths of the probability table; the gradient-descent
#: steps of the flow demonstration; the seeds (PyTorch-default initialisations) and steps of the breast-cancer
#: classification
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"dims": (1, 2, 4, 8, 16), "widths": (4, 16, 64), "flow_steps": 2000,
              "classification_seeds": (0,), "classification_steps": 300},
    "quick": {"dims": (1, 2, 4, 8, 16), "widths": (4, 16, 64), "flow_steps": 20000,
              "classification_seeds": (0, 1), "classification_steps": 2000},
    "full": {"dims": (1, 2, 4, 8, 16, 32, 64, 128), "widths": (4, 16, 64, 256, 1024), "flow_steps": 60000,
             "classification_seeds": tuple(range(10)), "classification_steps": 10000},
}

CITATION = "Nurisso2024; bettibounds-theory"


def probability_rows(dims, widths) -> list[dict]:
    """P(c_k < 0) at Kaiming-normal and at PyTorch's default initialisation, per input dimension and width."""
    rows = probability_table(dims=dims, widths=widths, init="kaiming-normal")
    torch_rows = probability_table(dims=dims, widths=widths, init="pytorch")
    for r, t in zip(rows, torch_rows):
        r["q_pytorch"], r["p_some_pytorch"], r["method_pytorch"] = (t["q_pathological"], t["p_some_pathological"],
                                                                    t["method"])
        r.update({"statement": "P(c_k < 0) at initialisation", "status": "derived", "citation": CITATION})
    return rows


def _run(W, V, X, y, steps, lr, chunks):
    """gradient_flow in ``chunks`` pieces, recording v_k, the invariants and the loss after each."""
    W, V = np.array(W, float), np.array(V, float).reshape(len(W), -1)
    loss0 = float(np.mean((np.maximum(X @ W.T, 0) @ V - y[:, None]) ** 2))
    trace: dict[str, list[Any]] = {"step": [0], "loss": [loss0], "v": [V[:, 0].copy()], "c": [invariants(W, V).copy()]}
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


def flow_demo(steps: int) -> dict:
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
    lr = 0.02
    out: dict[str, Any] = {"seed": seed, "d": d, "p": d + 1, "width": h, "m": m, "steps": steps, "lr": lr,
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
    plt = pyplot()
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


#: kinds of initialisation of the classification demo: the PyTorch draw W, V, with each v_k rescaled
KINDS = (("PyTorch default (as drawn)", None),
         ("no pathological neuron", 0.0),
         ("half pathological, v_k < 0", 0.5),
         ("all pathological, v_k < 0", 1.0))


def _breast_cancer():
    """(X with a ones column, y in {0, 1}) of scikit-learn's bundled breast-cancer data, features
    standardised (z-scores); None when scikit-learn is missing."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        return None
    data = load_breast_cancer()
    X = np.asarray(data.data, float)
    X = (X - X.mean(0)) / X.std(0)
    return np.hstack([X, np.ones((len(X), 1))]), np.asarray(data.target, float)


def _rescaled(W, V, share):
    """V rescaled from the draw: the first round(share h) neurons pathological with v_k = -1.25 ||w_k||
    (c_k = -0.5625 ||w_k||^2 < 0, sign frozen negative), the others v_k = +-0.8 ||w_k|| with the drawn
    sign (c_k = 0.36 ||w_k||^2 > 0: nothing frozen); ``share`` None keeps the draw."""
    if share is None:
        return V.copy()
    norms = np.linalg.norm(W, axis=1)[:, None]
    out = np.where(V >= 0, 1.0, -1.0) * 0.8 * norms
    k = int(round(share * len(W)))
    out[:k] = -1.25 * norms[:k]
    return out


def classification_demo(seeds, steps: int) -> dict | None:
    """Gradient descent on BCE for a shallow ReLU network on the breast-cancer data; None without scikit-learn.

    Every number is computed here: per run the invariants at t = 0, the pathological neurons (c_k < 0,
    scalar output), the largest drift |c_k(t) - c_k(0)|, whether a pathological v_k changed sign, the
    initial and final loss and the training accuracy; per kind of initialisation their summary.
    """
    data = _breast_cancer()
    if data is None:
        return None
    X, y = data
    d, h = X.shape[1] - 1, 16
    seeds = list(seeds)
    lr = 0.05
    floor = float(y.mean() * np.log(2))  # f <= 0 everywhere: each positive label costs >= log 2
    runs = []
    for seed in seeds:
        W0, V_draw = initialise(d, h, init="pytorch", seed=seed)
        for label, share in KINDS:
            V0 = _rescaled(W0, V_draw, share)
            c0 = invariants(W0, V0)
            patho = [int(k) for k in np.nonzero(c0 < 0)[0]]
            f0 = (np.maximum(X @ W0.T, 0) @ V0)[:, 0]
            res = gradient_flow(W0, V0, X, y, steps=steps, lr=lr, loss="bce")
            f = (np.maximum(X @ res["W"].T, 0) @ res["V"])[:, 0]
            runs.append({"init": label, "seed": seed, "pathological": len(patho),
                         "pathological_negative": int(sum(1 for k in patho if V0[k, 0] < 0)),
                         "initial_loss": float(np.mean(np.logaddexp(0, f0) - y * f0)),
                         "final_loss": res["final_loss"], "train_accuracy": float(np.mean((f > 0) == (y > 0.5))),
                         "max_invariant_drift": res["max_invariant_drift"],
                         "relative_drift": res["max_invariant_drift"] / float(np.max(np.abs(c0))),
                         "pathological_sign_changed": bool(res["pathological_sign_changed"]),
                         "loss_curve": res["loss_curve"] if seed == seeds[0] else None,
                         "status": "derived", "citation": CITATION})
    summary = []
    for label, share in KINDS:
        sel = [r for r in runs if r["init"] == label]
        fl = np.array([r["final_loss"] for r in sel])
        summary.append({"init": label, "runs": len(sel),
                        "pathological": sorted({r["pathological"] for r in sel}),
                        "final_loss_mean": float(fl.mean()), "final_loss_min": float(fl.min()),
                        "final_loss_max": float(fl.max()),
                        "train_accuracy_mean": float(np.mean([r["train_accuracy"] for r in sel])),
                        "max_relative_drift": float(max(r["relative_drift"] for r in sel)),
                        "sign_changes": int(sum(r["pathological_sign_changed"] for r in sel)),
                        "all_negative": share == 1.0,
                        "above_floor": bool(np.all(fl >= floor)) if share == 1.0 else None})
    return {"dataset": "scikit-learn load_breast_cancer (569 samples, 30 features, z-scored; y = 1 benign)",
            "m": int(len(y)), "positives": int(y.sum()), "d": d, "p": d + 1, "width": h, "seeds": seeds,
            "steps": steps, "lr": lr, "loss": "bce", "init": "pytorch", "floor": floor, "runs": runs,
            "summary": summary, "status": "derived", "citation": CITATION}


def plot_classification(demo, out) -> str:
    """relu_bce.png: the BCE training loss of each kind of initialisation (first seed), with the floor."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for r in demo["runs"]:
        if r["loss_curve"] is None:
            continue
        steps = np.linspace(0, demo["steps"], len(r["loss_curve"]))
        ax.plot(steps, r["loss_curve"], label=f"{r['init']} ({r['pathological']} pathological)")
    ax.axhline(demo["floor"], color="k", ls=":", label="floor (n_pos/m) log 2 for any f ≤ 0")
    ax.set_yscale("log")
    ax.set_xlabel(f"gradient-descent step (learning rate {demo['lr']:g})")
    ax.set_ylabel("training loss (BCE on the logit)")
    ax.set_title(f"breast cancer, shallow ReLU d = {demo['d']}, h = {demo['width']}, PyTorch init "
                 f"(seed {demo['seeds'][0]})", fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(plt, fig, out, "relu_bce.png", dpi=110)


# ------------------------------------------------------------------ the section
def compute(ctx) -> dict:
    """The probability table, the flow demonstration and the classification (None without scikit-learn),
    with their figures (with matplotlib)."""
    knobs = ctx.knobs(SCALES)
    prob = probability_rows(knobs["dims"], knobs["widths"])
    demo = flow_demo(knobs["flow_steps"])
    cls = classification_demo(knobs["classification_seeds"], knobs["classification_steps"])
    fig_flow = fig_cls = None
    if ctx.has("matplotlib"):
        fig_flow = plot_flow(demo, ctx.out)
        if cls is not None:
            fig_cls = plot_classification(cls, ctx.out)
    seeds = [{"what": "section 5: gradient-flow demo (data, initialisation)", "seeds": {"rng": demo["seed"]}},
             {"what": "section 5: probability table", "seeds": "closed form (Kaiming normal); PyTorch default: "
              "closed form, or Monte Carlo with seed 0 where the ball leaves the cube"}]
    if cls is not None:
        seeds.append({"what": "section 5: breast-cancer classification (PyTorch-default initialisations)",
                      "seeds": {"init": cls["seeds"]}})
    return {"probability": prob, "flow": demo, "classification": cls, "figure_flow": fig_flow,
            "figure_classification": fig_cls, "figures": [f for f in (fig_flow, fig_cls) if f],
            "tables": {"obstruction": prob, "relu_flow": demo, "relu_classification": cls},
            "provenance": {"seeds": seeds, "citations": ["Nurisso2024"]}}


def markdown(result, ctx) -> list[str]:
    prob, demo, cls = result["probability"], result["flow"], result["classification"]
    fig_flow, fig_cls = result["figure_flow"], result["figure_classification"]
    md = ["## 5. Loss barcodes and the ReLU obstruction\n",
          "### 5.1 ReLU obstruction: probability at initialisation (Nurisso et al. 2024)\n",
          "For f(x) = Σ_k v_k relu(w_k·x) (bias absorbed, p = d + 1, scalar output), c_k = ‖w_k‖² − ‖v_k‖² is "
          "conserved by gradient flow; a neuron with c_k < 0 is *pathological* (the sign of v_k is frozen; with a "
          "vector output nothing is frozen). Probability at Kaiming-normal initialisation with the bias drawn like a "
          "weight (closed form, F distribution) and at PyTorch's own `nn.Linear` initialisation (every weight and "
          "bias U(±1/√fan_in); closed form where the ball ‖w‖ < |v| lies in the cube of w, else Monte Carlo); "
          "status derived, citation Nurisso2024; bettibounds-theory.\n",
          md_table(prob, ["d", "width", "q_pathological", "expected_pathological", "p_some_pathological",
                          "q_pytorch", "p_some_pytorch", "status"],
                   ["d", "width h", "P(c_k < 0), Kaiming normal", "E[# pathological]", "P(some pathological)",
                    "P(c_k < 0), PyTorch default", "P(some), PyTorch default", "status"]),
          "### 5.2 ReLU obstruction: gradient flow stays stuck\n"]
    stuck, free = demo["runs"]
    md.append(f"Shallow ReLU network, d = {demo['d']} (p = {demo['p']} with the bias), h = {demo['width']}, "
              f"m = {demo['m']} points labelled by a teacher with positive output weights (so y ≥ 0, some y > 0), "
              f"seed {demo['seed']}; {demo['steps']} gradient-descent steps of size {demo['lr']} on the MSE.\n")
    md.append(md_table(demo["runs"], ["init", "invariants", "pathological", "components_b0", "reachability",
                                      "initial_loss", "final_loss", "max_invariant_drift",
                                      "pathological_sign_changed", "status"],
                       ["initialisation", "c_k", "pathological k", "b_0(H(c))", "invariant says", "loss at t = 0",
                        "final loss", "max |Δc_k| (O(lr))", "a frozen sign changed", "status"]))
    md.append(f"The first initialisation is **{stuck['reachability']}** by the invariant alone: {stuck['reason']}. "
              f"Any f ≤ 0 has loss ≥ (1/m) Σ_{{y>0}} y² = {demo['floor']:.4g}; gradient descent ends at "
              f"{stuck['final_loss']:.4g} and no pathological v_k changed sign "
              f"({'none' if not stuck['pathological_sign_changed'] else 'SOME — unexpected'}). From the second "
              f"initialisation ({free['reachability']}) it reaches {free['final_loss']:.3g}.\n")
    if fig_flow:
        md.append(f"![ReLU gradient flow: stuck vs reachable]({fig_flow})\n")
    md += classification_markdown(cls, fig_cls)
    return md


def classification_markdown(cls, fig_cls) -> list[str]:
    """Section 5.2's real-data part: Nurisso et al.'s classification setting on the breast-cancer data."""
    md = ["#### Classification on real data: breast cancer, binary cross-entropy\n"]
    if cls is None:
        return md + ["Skipped: scikit-learn (for its bundled breast-cancer data) is not installed; "
                     "`pip install scikit-learn`.\n"]
    md.append(f"{cls['dataset']}; shallow ReLU network d = {cls['d']} (p = {cls['p']}), h = {cls['width']}, logit "
              f"f(x) = Σ_k v_k relu(w_k·x), loss (1/m) Σ_i [log(1 + e^(f_i)) − y_i f_i]; {cls['steps']} full-batch "
              f"gradient-descent steps of size {cls['lr']}, seeds {cls['seeds']} of PyTorch's default initialisation. "
              "Each draw is used four ways: as drawn, and with every v_k rescaled to ±0.8‖w_k‖ (no pathological "
              "neuron) or to −1.25‖w_k‖ on half or all of the neurons (pathological with v_k < 0). A network whose "
              f"neurons are all pathological with v_k < 0 has f ≤ 0 for ever, so its loss is at least "
              f"(n_pos/m) log 2 = {cls['floor']:.4f} ({cls['positives']} of {cls['m']} labels are 1).\n")
    md.append(md_table(cls["summary"], ["init", "runs", "pathological", "final_loss_mean", "final_loss_min",
                                        "final_loss_max", "train_accuracy_mean", "max_relative_drift",
                                        "sign_changes"],
                       ["initialisation", "runs", "# pathological", "final loss (mean)", "min", "max",
                        "train accuracy (mean)", "max |Δc_k| / max |c_k|", "frozen signs that changed"]))
    allneg = next(r for r in cls["summary"] if r["all_negative"])
    free = next(r for r in cls["summary"] if r["init"] == "no pathological neuron")
    changed = sum(r["sign_changes"] for r in cls["summary"])
    drift = max(r["max_relative_drift"] for r in cls["summary"])
    md.append(f"Invariants: the largest drift of any c_k over all {len(cls['runs'])} runs is {100 * drift:.2g} % of "
              "the largest |c_k| (gradient descent conserves c_k up to O(step); the exact flow exactly). Frozen signs: "
              f"{changed} pathological v_k changed sign. Trained losses: all pathological with v_k < 0 ends at "
              f"{allneg['final_loss_mean']:.4f} on average, "
              + ("above the floor in every run" if allneg["above_floor"] else "**below the floor in some run — "
                                                                               "unexpected, check the table**")
              + f" (training accuracy {allneg['train_accuracy_mean']:.3f}); without a pathological neuron the loss "
              f"reaches {free['final_loss_mean']:.4f} (accuracy {free['train_accuracy_mean']:.3f}).\n")
    if fig_cls:
        md.append(f"![breast-cancer BCE training from obstructed and unobstructed initialisations]({fig_cls})\n")
    return md


