"""Section 1 of the report, how complexity grows (Bucarelli et al. 2024): the rigorous bound K against width,
depth and samples; least-squares fits of log10 K against (m h L)^2 and against P ln P; deep against shallow at
equal parameter count; the two figures.

Every row carries the theorem that produced its number, that theorem's status, the route
and the citation keys (:func:`.provenance.bound_fields`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...api import bounds
from ...logspace import safe_float
from ...spec import ArchitectureSpec
from ..render import cite_column, md_table, pyplot, save_figure
from .provenance import bound_fields

__all__ = [
    "NAME",
    "SCALES",
    "TIMING",
    "compute",
    "equal_parameter_rows",
    "fit_rows",
    "growth_rows",
    "markdown",
    "plot_growth",
    "plot_shallow_deep",
    "theorem_k",
]

NAME = "growth"
TIMING = "1. growth"

#: the (d, h, L) of the deep networks compared with a shallow one of (about) equal parameter count
_EQUAL_P = ((2, 4, 2), (2, 4, 3), (2, 8, 2), (10, 8, 3), (10, 16, 2))

#: the knobs of each scale: the width and depth sweeps (m = 10), the samples sweep (h = 4; L = 1 and 3) and
#: the deep networks of the equal-parameter comparison
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"widths": (2, 4, 8), "depths": (1, 2), "samples": (1, 10), "equal_parameters": _EQUAL_P[:2]},
    "quick": {"widths": (2, 4, 8, 16, 32), "depths": (1, 2, 3, 4), "samples": (1, 2, 5, 10, 20, 50, 100),
              "equal_parameters": _EQUAL_P},
    "full": {"widths": (2, 4, 8, 16, 32, 64, 128), "depths": (1, 2, 3, 4, 6, 8),
             "samples": (1, 2, 5, 10, 20, 50, 100, 200, 500),
             "equal_parameters": _EQUAL_P + ((2, 16, 4), (10, 32, 3), (50, 8, 4), (50, 32, 2))},
}

ACTIVATIONS = ("logistic", "tanh", "arctan")
#: (loss, output activation): MSE with a linear output, BCE with the logistic output (docs/theory.md §4.3)
LOSSES = (("mse", "identity"), ("bce", "logistic"))
INPUTS = 2


def theorem_k(report):
    """The bound of theorem K among a :class:`~bettibounds.result.BoundReport`'s upper bounds."""
    return next(b for b in report.upper if b.theorem == "K")


def _row(act, loss, out, h, L, m, sweep):
    spec = ArchitectureSpec(inputs=INPUTS, widths=(h,) * L, activation=act, loss=loss, output_activation=out,
                            samples=m)
    r = bounds(spec)
    k = theorem_k(r)
    order, alpha, beta = r.derivation.triple
    return {"sweep": sweep, "activation": act, "loss": loss, "d": INPUTS, "L": L, "h": h, "m": m,
            "P": spec.n_params, "r": order, "alpha": alpha, "beta": beta,
            "log10_K": safe_float(k.log10, "up"), **bound_fields(k)}


def growth_rows(widths, depths, samples) -> list[dict]:
    """log10 K over ``widths`` and ``depths`` (m = 10) and over ``samples`` (h = 4; L = 1 and 3)."""
    rows = []
    for act in ACTIVATIONS:
        for loss, out in LOSSES:
            for L in depths:
                for h in widths:
                    rows.append(_row(act, loss, out, h, L, 10, "width-depth"))
            for L in (1, 3):
                for m in samples:
                    rows.append(_row(act, loss, out, 4, L, m, "samples"))
    return rows


def _lsq(x, y) -> dict:
    """Least squares y = a + b x: slope b, intercept a and R^2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    A = np.vstack([np.ones_like(x), x]).T
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    ss_res = float(np.sum((y - (a + b * x)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {"slope": float(b), "intercept": float(a), "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")}


def fit_rows(growth: list[dict]) -> list[dict]:
    """Per (activation, loss): fit log10 K against (m h L)^2 and against P ln P over every growth row.

    The leading term of K is 2^{r(r-1)/2}, so log10 K ~ (log10 2 / 2) r^2; with r = kappa m h L
    (kappa = r / (m h L), read off the rows: 1 for MSE-linear tanh/logistic, 2 for arctan,
    slightly above 1 for BCE) the predicted slope against (m h L)^2 is kappa^2 log10(2) / 2.
    """
    out = []
    for act in ACTIVATIONS:
        for loss, _ in LOSSES:
            sel = [r for r in growth if r["activation"] == act and r["loss"] == loss]
            if len(sel) < 3:
                continue
            y = [r["log10_K"] for r in sel]
            x1 = [(r["m"] * r["h"] * r["L"]) ** 2 for r in sel]
            x2 = [r["P"] * math.log(r["P"]) for r in sel]
            big = max(sel, key=lambda r: r["m"] * r["h"] * r["L"])
            kappa = big["r"] / (big["m"] * big["h"] * big["L"])
            f1, f2 = _lsq(x1, y), _lsq(x2, y)
            out.append({"activation": act, "loss": loss, "points": len(sel),
                        "slope_mhL2": f1["slope"], "intercept_mhL2": f1["intercept"], "r2_mhL2": f1["r2"],
                        "predicted_slope_mhL2": kappa**2 * math.log10(2) / 2,
                        "slope_PlogP": f2["slope"], "r2_PlogP": f2["r2"],
                        "better": "(mhL)^2" if f1["r2"] >= f2["r2"] else "P log P",
                        "theorem": big["theorem"], "status": big["status"], "citation": big["citation"]})
    return out


def equal_parameter_rows(cases) -> list[dict]:
    """Deep vs shallow at (about) equal parameter count, for each deep network (d, h, L) in ``cases``: the
    shallow width is the least H with P >= P_deep."""
    out = []
    for act, loss, oact in (("tanh", "mse", "identity"), ("logistic", "bce", "logistic")):
        for d, h, L in cases:
            kw = {"inputs": d, "activation": act, "loss": loss, "output_activation": oact, "samples": 10}
            deep = ArchitectureSpec(widths=(h,) * L, **kw)
            H = max(1, (deep.n_params - 1) // (d + 2))  # P_shallow = H (d + 2) + 1 for one output
            while ArchitectureSpec(widths=(H,), **kw).n_params < deep.n_params:
                H += 1
            shallow = ArchitectureSpec(widths=(H,), **kw)
            kd, ks = theorem_k(bounds(deep)), theorem_k(bounds(shallow))
            out.append({"network": f"{act}/{loss}", "d": d, "deep": f"{L} x {h}", "P_deep": deep.n_params,
                        "shallow": f"1 x {H}", "P_shallow": shallow.n_params,
                        "hidden_deep": L * h, "hidden_shallow": H,
                        "log10_K_deep": safe_float(kd.log10, "up"), "log10_K_shallow": safe_float(ks.log10, "up"),
                        "deep_larger": float(kd.log10) > float(ks.log10), **bound_fields(kd)})
    return out


# -------------------------------------------------------------------- figures
_COLORS = {"logistic": "tab:blue", "tanh": "tab:orange", "arctan": "tab:green"}


def plot_growth(growth, out) -> str:
    """growth.png: log10 K against h, L and m; colour = activation, line style = loss."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    Ls = sorted({r["L"] for r in growth if r["sweep"] == "width-depth"})
    Lw = 2 if 2 in Ls else Ls[0]
    panels = (
        (axes[0], "h", lambda r: r["sweep"] == "width-depth" and r["L"] == Lw,
         "width h (units per hidden layer)", f"(a) against width: L = {Lw}, m = 10, d = {INPUTS}"),
        (axes[1], "L", lambda r: r["sweep"] == "width-depth" and r["h"] == 4,
         "depth L (number of hidden layers)", f"(b) against depth: h = 4, m = 10, d = {INPUTS}"),
        (axes[2], "m", lambda r: r["sweep"] == "samples" and r["L"] == 3,
         "samples m (training points)", f"(c) against samples: h = 4, L = 3, d = {INPUTS}"),
    )
    for ax, key, pick, xlabel, title in panels:
        for act in ACTIVATIONS:
            for loss, _ in LOSSES:
                sel = sorted((r for r in growth if r["activation"] == act and r["loss"] == loss and pick(r)),
                             key=lambda r: r[key])
                if not sel:
                    continue
                style = "-" if loss == "mse" else "--"
                if act == "logistic":  # same format as tanh: draw markers only so both stay visible
                    ax.plot([r[key] for r in sel], [r["log10_K"] for r in sel], "o" if loss == "mse" else "s",
                            mfc="none", color=_COLORS[act], label=f"{act} / {loss.upper()} (= tanh)")
                else:
                    ax.plot([r[key] for r in sel], [r["log10_K"] for r in sel], style, marker=".",
                            color=_COLORS[act], label=f"{act} / {loss.upper()}")
        if key in ("h", "m"):
            ax.set_xscale("log", base=2 if key == "h" else 10)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("log10 K  (K = rigorous bound on B(S_c))")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Growth of the upper bound K (theorem K, derived) on the Betti sum of loss sublevel sets; "
                 "solid: MSE + linear output, dashed: BCE + logistic output", fontsize=11)
    return save_figure(plt, fig, out, "growth.png", dpi=110)


def plot_shallow_deep(growth, fits, equal, out) -> str:
    """shallow_deep.png: (a) log10 K against P per depth, equal-P pairs marked; (b) the (m h L)^2 fit."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    ax = axes[0]
    sel = [r for r in growth if r["sweep"] == "width-depth" and r["activation"] == "tanh" and r["loss"] == "mse"]
    for L in sorted({r["L"] for r in sel}):
        rr = sorted((r for r in sel if r["L"] == L), key=lambda r: r["P"])
        ax.plot([r["P"] for r in rr], [r["log10_K"] for r in rr], "o-", ms=4,
                label=f"L = {L} ({'shallow' if L == 1 else 'deep'}), h = {rr[0]['h']}..{rr[-1]['h']}")
    pairs = [e for e in equal if e["network"] == "tanh/mse" and e["d"] == INPUTS]
    for i, e in enumerate(pairs):
        ax.plot([e["P_deep"], e["P_shallow"]], [e["log10_K_deep"], e["log10_K_shallow"]], "k:", lw=1)
        ax.plot([e["P_deep"]], [e["log10_K_deep"]], "kD", ms=6, mfc="none",
                label="equal-P pair: deep (diamond) / shallow (star)" if i == 0 else None)
        ax.plot([e["P_shallow"]], [e["log10_K_shallow"]], "k*", ms=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of parameters P")
    ax.set_ylabel("log10 K")
    ax.set_title(f"(a) shallow vs deep at equal P (tanh, MSE, d = {INPUTS}, m = 10)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    for act in ACTIVATIONS:
        for loss, _ in LOSSES:
            rr = [r for r in growth if r["activation"] == act and r["loss"] == loss]
            f = next((f for f in fits if f["activation"] == act and f["loss"] == loss), None)
            if not rr or f is None or (act == "logistic"):
                continue  # logistic = tanh (same format)
            x = np.array([(r["m"] * r["h"] * r["L"]) ** 2 for r in rr], float)
            y = np.array([r["log10_K"] for r in rr])
            ax.plot(x, y, "o" if loss == "mse" else "s", ms=3, color=_COLORS[act],
                    mfc="none" if loss == "bce" else None)
            xs = np.geomspace(x.min(), x.max(), 60)
            ax.plot(xs, f["slope_mhL2"] * xs + f["intercept_mhL2"], "-" if loss == "mse" else "--",
                    color=_COLORS[act], lw=1,
                    label=f"{act}/{loss.upper()}: slope {f['slope_mhL2']:.3g}, R² {f['r2_mhL2']:.4f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("(m h L)²  (squared number of chain-generating units)")
    ax.set_ylabel("log10 K")
    ax.set_title("(b) least-squares fit log10 K = a + b (m h L)² over all growth rows\n(straight fit drawn on log "
                 "axes; logistic = tanh, omitted)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return save_figure(plt, fig, out, "shallow_deep.png", dpi=110)


# ------------------------------------------------------------------ the section
def compute(ctx) -> dict:
    """The growth rows, the fits, the equal-parameter pairs and (with matplotlib) the two figures."""
    knobs = ctx.knobs(SCALES)
    growth = growth_rows(knobs["widths"], knobs["depths"], knobs["samples"])
    fits = fit_rows(growth)
    equal = equal_parameter_rows(knobs["equal_parameters"])
    figures = []
    if ctx.has("matplotlib"):
        figures = [plot_growth(growth, ctx.out), plot_shallow_deep(growth, fits, equal, ctx.out)]
    return {"growth": growth, "fits": fits, "equal": equal, "figures": figures,
            "tables": {"growth": growth, "fits": fits, "equal_parameters": equal},
            "csv": {"growth.csv": growth, "fits.csv": fits},
            "provenance": {"theorems": ["K"], "citations": ["Bucarelli2024"]}}


def markdown(result, ctx) -> list[str]:
    growth = result["growth"]
    fits = [dict(f) for f in result["fits"]]
    equal = [dict(e) for e in result["equal"]]
    fig_growth, fig_sd = result["figures"] or (None, None)
    md = ["## 1. How complexity grows (Bucarelli et al. 2024)\n",
          "The rigorous upper bound K (theorem K, status derived; docs/theory.md §6.1: B(S_c) ≤ ⌊K/2⌋, half the "
          "count K(n, r, α, β) of boundary critical points; every 'K' number of this report is ⌊K/2⌋, whose log10 "
          "is log10 K − 0.30103, and reports before issue 18 printed the count) on the Betti sum B(S_c) of the "
          "loss sublevel set, as a function of the width h, the depth L and the number of samples m, for logistic, "
          "tanh and arctan hidden units, MSE with a linear output and BCE with a logistic output (d = 2 inputs). "
          "Logistic and tanh have the same Pfaffian format, hence the same bound. With l2 = 0 the bound holds for "
          "all but finitely many levels c (hypothesis recorded on every row of tables.json).\n"]
    if fig_growth:
        md.append(f"![growth of the bound K against h, L and m]({fig_growth})\n")
    md += ["### Fitted growth\n",
           "Least-squares fits of log10 K = a + b·x over every growth row of each family (widths, depths and the "
           "samples sweep), once with x = (m h L)² and once with x = P ln P. The leading factor of K is "
           "2^{r(r−1)/2} with chain order r = κ·m h L, so the predicted slope against (m h L)² is κ² log10(2)/2 "
           "(κ read off the rows).\n"]
    fit_notes = cite_column(fits)
    fits_md = [dict(f, r2_mhL2=f"{f['r2_mhL2']:.5f}", r2_PlogP=f"{f['r2_PlogP']:.5f}") for f in fits]
    md += [md_table(fits_md, ["activation", "loss", "points", "slope_mhL2", "predicted_slope_mhL2", "r2_mhL2",
                              "slope_PlogP", "r2_PlogP", "better", "theorem", "status", "cite"],
                    ["activation", "loss", "points", "slope vs (mhL)²", "predicted", "R² (mhL)²", "slope vs P ln P",
                     "R² P ln P", "better fit", "theorem", "status", "cite"]), fit_notes]
    best = sum(1 for f in fits if f["better"] == "(mhL)^2")
    md.append(f"\n(m h L)² explains log10 K better than P ln P in {best} of {len(fits)} families "
              f"(R² {min(f['r2_mhL2'] for f in fits):.4f} to {max(f['r2_mhL2'] for f in fits):.4f} against "
              f"{min(f['r2_PlogP'] for f in fits):.4f} to {max(f['r2_PlogP'] for f in fits):.4f})"
              + ("; the bound grows like 10^(b (m h L)²), i.e. with the square of the number of (sample, unit) "
                 "pairs rather than with P log P.\n" if best == len(fits) else
                 "; neither form fits every family best.\n"))
    md.append("### Deep against shallow at equal parameter count\n")
    if fig_sd:
        md.append(f"![shallow vs deep and the (mhL)^2 fit]({fig_sd})\n")
    eq_notes = cite_column(equal)
    md += [md_table(equal, ["network", "d", "deep", "P_deep", "shallow", "P_shallow", "hidden_deep", "hidden_shallow",
                            "log10_K_deep", "log10_K_shallow", "deep_larger", "theorem", "status", "cite"],
                    ["network", "d", "deep", "P deep", "shallow", "P shallow", "units deep", "units shallow",
                     "log10 K deep", "log10 K shallow", "deep larger", "theorem", "status", "cite"],
                    up={"log10_K_deep", "log10_K_shallow"}), eq_notes]
    n_deep = sum(r["deep_larger"] for r in equal)
    by_units = all(r["deep_larger"] == (r["hidden_deep"] > r["hidden_shallow"]) for r in equal)
    md.append(f"\nThe deep network's bound is the larger in {n_deep} of {len(equal)} pairs. K is driven by the chain "
              "order r = m·(hidden units + output elements); at equal P a shallow network needs more hidden units "
              "than a deep one unless d is large relative to h (it has no h×h matrices), so its chain is often the "
              "longer. " + ("In every pair above the larger bound belongs to the network with more hidden units, so "
                            "\"deep grows faster than shallow at equal parameter count\" holds for this bound exactly "
                            "when the deep network has more hidden units. " if by_units else
                            "The number of hidden units does not decide every pair (the depth also raises α). ")
              + "Shown as the data say.\n")
    sel = [dict(r) for r in growth if r["sweep"] == "width-depth" and r["loss"] == "mse" and r["h"] in (2, 8, 32)
           and r["activation"] in ("tanh", "arctan")]
    sel += [dict(r) for r in growth if r["sweep"] == "samples" and r["loss"] == "bce" and r["activation"] == "tanh"
            and r["L"] == 3]
    g_notes = cite_column(sel)
    md += ["### Selected rows (all rows: growth.csv)\n",
           md_table(sel, ["activation", "loss", "L", "h", "m", "P", "r", "alpha", "beta", "log10_K", "theorem",
                          "status", "cite"],
                    ["activation", "loss", "L", "h", "m", "P", "r", "α", "β", "log10 K", "theorem", "status", "cite"],
                    up={"log10_K"}),
           g_notes]
    return md
