"""Sections 1-3 of the report: growth of the bounds, invariances, the input-space table.

Every row carries the theorem that produced its number, that theorem's status, the route
and the citation keys (:func:`._provenance.bound_fields`); nothing here is an O(.)-core
unless the row says ``rigorous = False``.
"""

from __future__ import annotations

import math

import numpy as np

from ..api import bounds
from ..logspace import safe_float
from ..spec import ArchitectureSpec
from ._provenance import bound_fields
from ._render import save_figure

__all__ = [
    "equal_parameter_rows",
    "fit_rows",
    "growth_rows",
    "input_space_rows",
    "invariance_rows",
    "plot_growth",
    "plot_shallow_deep",
]

ACTIVATIONS = ("logistic", "tanh", "arctan")
#: (loss, output activation): MSE with a linear output, BCE with the logistic output (docs/theory.md §4.3)
LOSSES = (("mse", "identity"), ("bce", "logistic"))
INPUTS = 2


def _k(report):
    return next(b for b in report.upper if b.theorem == "K")


def _row(act, loss, out, h, L, m, sweep):
    spec = ArchitectureSpec(inputs=INPUTS, widths=(h,) * L, activation=act, loss=loss, output_activation=out,
                            samples=m)
    r = bounds(spec)
    k = _k(r)
    return {"sweep": sweep, "activation": act, "loss": loss, "d": INPUTS, "L": L, "h": h, "m": m,
            "P": spec.n_params, "r": r.format.order, "alpha": r.format.alpha, "beta": r.format.beta,
            "log10_K": safe_float(k.log10, "up"), **bound_fields(k)}


def growth_rows(scale: str) -> list[dict]:
    """log10 K over width and depth (m = 10) and over samples (h = 4; L = 1 and 3)."""
    if scale == "full":
        widths, depths, samples = [2, 4, 8, 16, 32, 64, 128], [1, 2, 3, 4, 6, 8], [1, 2, 5, 10, 20, 50, 100, 200, 500]
    elif scale == "quick":
        widths, depths, samples = [2, 4, 8, 16, 32], [1, 2, 3, 4], [1, 2, 5, 10, 20, 50, 100]
    else:  # tiny (tests only)
        widths, depths, samples = [2, 4, 8], [1, 2], [1, 10]
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


def equal_parameter_rows(scale: str) -> list[dict]:
    """Deep vs shallow at (about) equal parameter count: the shallow width is the least H with P >= P_deep."""
    cases = [(2, 4, 2), (2, 4, 3), (2, 8, 2), (10, 8, 3), (10, 16, 2)]
    if scale == "full":
        cases += [(2, 16, 4), (10, 32, 3), (50, 8, 4), (50, 32, 2)]
    elif scale == "tiny":
        cases = cases[:2]
    out = []
    for act, loss, oact in (("tanh", "mse", "identity"), ("logistic", "bce", "logistic")):
        for d, h, L in cases:
            kw = {"inputs": d, "activation": act, "loss": loss, "output_activation": oact, "samples": 10}
            deep = ArchitectureSpec(widths=(h,) * L, **kw)
            H = max(1, (deep.n_params - 1) // (d + 2))  # P_shallow = H (d + 2) + 1 for one output
            while ArchitectureSpec(widths=(H,), **kw).n_params < deep.n_params:
                H += 1
            shallow = ArchitectureSpec(widths=(H,), **kw)
            kd, ks = _k(bounds(deep)), _k(bounds(shallow))
            out.append({"network": f"{act}/{loss}", "d": d, "deep": f"{L} x {h}", "P_deep": deep.n_params,
                        "shallow": f"1 x {H}", "P_shallow": shallow.n_params,
                        "hidden_deep": L * h, "hidden_shallow": H,
                        "log10_K_deep": safe_float(kd.log10, "up"), "log10_K_shallow": safe_float(ks.log10, "up"),
                        "deep_larger": float(kd.log10) > float(ks.log10), **bound_fields(kd)})
    return out


def invariance_rows() -> list[dict]:
    """Format and K with and without l2, identity-residual and input-output skips."""
    rows = []
    nets = (("tanh", "mse", "identity", "logsigmoid", (4, 4)), ("logistic", "mse", "logistic", "logsigmoid", (4, 4)),
            ("tanh", "bce", "logistic", "logsigmoid", (4, 4)), ("tanh", "bce", "logistic", "two-logs", (4, 4)),
            ("arctan", "mse", "identity", "logsigmoid", (3, 3, 3)))
    for act, loss, out, chain, widths in nets:
        base = {"inputs": 2, "widths": widths, "activation": act, "loss": loss, "output_activation": out,
                "samples": 5, "bce_chain": chain}
        ref = None
        for label, extra in (("plain", {}), ("l2 = 0.01", {"l2": 0.01}), ("residual", {"skip": "residual"}),
                             ("input-output skip", {"skip": "input-output"})):
            spec = ArchitectureSpec(**base, **extra)
            r = bounds(spec)
            k = _k(r)
            fmt = list(r.format.as_tuple())
            if ref is None:
                ref = (fmt, float(k.log10))
            same_fmt, same_k = fmt == ref[0], abs(float(k.log10) - ref[1]) < 1e-9
            if label == "plain":
                why = "reference"
            elif same_fmt and same_k:
                why = "unchanged"
            elif not same_fmt:
                why = "beta < 2: l2 raises beta to 2 (lambda ||theta||^2 has degree 2)"
            else:
                why = f"format unchanged; P grows by d = {spec.inputs} (learnable U), so n = P and K change"
            loss_name = f"{loss}" + (f" ({chain})" if loss == "bce" else "")
            rows.append({"network": f"{act} {'-'.join(map(str, widths))} / {loss_name} / out {out}",
                         "variant": label, "P": spec.n_params, "format": fmt, "log10_K": safe_float(k.log10, "up"),
                         "changed": why, **bound_fields(k)})
    return rows


def input_space_rows(scale: str) -> list[dict]:
    """Bianchini-Scarselli setting: B({x : N(x) >= 0}) with the weights fixed, every theorem."""
    rows = []
    depths = ((4,), (4, 4), (4, 4, 4)) if scale != "tiny" else ((4,), (4, 4))
    for act in ("logistic", "tanh", "arctan", "polynomial:2", "polynomial:3"):
        for widths in depths:
            r = bounds(ArchitectureSpec(inputs=2, widths=widths, activation=act, samples=1), space="input")
            for b in r.upper:
                rows.append({"activation": act, "widths": list(widths), "format": list(r.format.as_tuple()),
                             "log10": safe_float(b.log10, "up"), **bound_fields(b)})
    return rows


# -------------------------------------------------------------------- figures
_COLORS = {"logistic": "tab:blue", "tanh": "tab:orange", "arctan": "tab:green"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_growth(growth, out) -> str:
    """growth.png: log10 K against h, L and m; colour = activation, line style = loss."""
    plt = _plt()
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
    plt = _plt()
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
            ax.plot(x, y, "o" if loss == "mse" else "s", ms=3, color=_COLORS[act], mfc="none" if loss == "bce" else None)
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
