"""Plots of a landscape result (matplotlib, Agg backend; imported only by the CLI's --plot).

* ``heatmap.png`` (2-D): the loss with sublevel contours at the requested levels and the
  birth locations of the H0 bars (minima) marked;
* ``sections.png`` (3-D): four cross-sections along the first axis, with contours at the levels;
* ``betti_curves.png``: b_k(c) on a dense level grid, the requested levels marked;
* ``diagram.png``: the persistence diagram (essential bars on a dashed line marked ∞).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._lib.io import save_figure

__all__ = ["plot_landscape"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, fig, ax, out, name, written, *, xlabel=None, ylabel=None, title=None, legend=False, dpi=120):
    """Label, save as out/name, close, and record the path."""
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = out / name
    save_figure(fig, path, dpi=dpi)
    plt.close(fig)
    written.append(str(path))


def _capped_heatmap(fig, ax, X, Y, values) -> None:
    """pcolormesh of a 2-D grid with the colour capped at the 95th percentile (a landscape's
    maximum is usually far above its interesting levels), and a colour bar that says so."""
    cap = float(np.quantile(values, 0.95))
    im = ax.pcolormesh(X, Y, values, shading="auto", cmap="viridis", vmax=cap)
    fig.colorbar(im, ax=ax, label="loss (colour capped at the 95th percentile)",
                 extend="max" if cap < float(values.max()) else "neither")


def _curve_levels(values, levels, n: int = 200) -> np.ndarray:
    """The Betti curves' level grid: from the lowest value (or requested level) to the 90th
    percentile of the values, stretched to every requested level up to the largest value."""
    lo = min([float(values.min())] + [float(c) for c in levels])
    hi = min(max([float(np.quantile(values, 0.9))] + [float(c) for c in levels]), float(values.max()))
    return np.linspace(lo, max(hi, lo), n)


def plot_landscape(result, out_dir) -> list[str]:
    """Write the PNG files for ``result`` into ``out_dir``; return their paths."""
    from .persistence import betti_curve

    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    s = result.sample
    v = s.values
    levels = [r["level"] for r in result.levels]
    if v.ndim == 2:
        fig, ax = plt.subplots(figsize=(6, 5))
        X, Y = np.meshgrid(s.axes[0], s.axes[1], indexing="ij")
        _capped_heatmap(fig, ax, X, Y, v)
        if levels:
            cs = ax.contour(X, Y, v, levels=sorted(set(levels)), colors="white", linewidths=0.8)
            ax.clabel(cs, fmt="%.3g", fontsize=7)
        for i, j in result.diagram.birth_at.get(0, np.empty((0, 2), int)):
            ax.plot(s.axes[0][i], s.axes[1][j], "r.", markersize=4)
        _finish(plt, fig, ax, out, "heatmap.png", written, xlabel="axis 0" if s.kind == "box" else "t_1",
                ylabel="axis 1" if s.kind == "box" else "t_2",
                title="loss on the grid; contours at the levels, minima in red")
    elif v.ndim == 3:
        idx = np.unique(np.linspace(0, v.shape[0] - 1, 4).astype(int))  # fewer panels when axis 0 is short
        names = ["axis 0", "axis 1", "axis 2"] if s.kind == "box" else ["t_1", "t_2", "t_3"]
        fig, axes = plt.subplots(1, len(idx), figsize=(3.5 * len(idx), 3.8), sharey=True, layout="constrained",
                                 squeeze=False)
        axes = list(axes[0])
        vmin, cap = float(v.min()), float(np.quantile(v, 0.95))
        Y, Z = np.meshgrid(s.axes[1], s.axes[2], indexing="ij")
        for ax, i in zip(axes, idx):
            im = ax.pcolormesh(Y, Z, v[i], shading="auto", cmap="viridis", vmin=vmin, vmax=cap)
            if levels and v[i].min() < max(levels) and v[i].max() > min(levels):
                cs = ax.contour(Y, Z, v[i], levels=sorted(set(levels)), colors="white", linewidths=0.8)
                ax.clabel(cs, fmt="%.3g", fontsize=7)
            ax.set_title(f"{names[0]} = {s.axes[0][i]:.3g}")
            ax.set_xlabel(names[1])
        axes[0].set_ylabel(names[2])
        fig.colorbar(im, ax=list(axes), label="loss (colour capped at the 95th percentile)",
                     extend="max" if cap < float(v.max()) else "neither")
        fig.suptitle("cross-sections of the loss; contours at the levels")
        path = out / "sections.png"
        save_figure(fig, path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    dense = _curve_levels(v, levels)
    curves = betti_curve(result.diagram, list(dense))
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in result.dims:
        ax.step(dense, curves[k], where="post", label=f"b_{k}")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # Betti numbers are integers
    for c in levels:
        ax.axvline(c, color="grey", linestyle=":", linewidth=0.8)
    _finish(plt, fig, ax, out, "betti_curves.png", written, xlabel="level c",
            ylabel="Betti number of the grid sublevel set", title="Betti curves (dotted: requested levels)",
            legend=True)
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, finite_max = float(v.min()), float(v.max())
    inf_y = finite_max + 0.08 * max(finite_max - lo, 1e-12)  # essential bars: on a separate "inf" line
    for k in result.dims:
        bars = result.diagram.bars.get(k, np.empty((0, 2)))
        d = np.where(np.isfinite(bars[:, 1]), bars[:, 1], inf_y)
        if len(bars):
            ax.scatter(bars[:, 0], d, s=10, label=f"H{k}")
    ax.plot([lo, finite_max], [lo, finite_max], "k-", linewidth=0.6)
    ax.axhline(inf_y, color="grey", linestyle="--", linewidth=0.8)
    ax.text(lo, inf_y, " ∞ (essential)", va="bottom", fontsize=8, color="grey")
    ax.set_ylim(top=inf_y + 0.06 * max(finite_max - lo, 1e-12))
    _finish(plt, fig, ax, out, "diagram.png", written, xlabel="birth", ylabel="death",
            title="persistence diagram", legend=True)
    return written
