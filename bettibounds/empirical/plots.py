"""Plots of a landscape result (matplotlib, Agg backend; imported only by the CLI's --plot).

* ``heatmap.png`` (2-D): the loss with sublevel contours at the requested levels and the
  birth locations of the H0 bars (minima) marked;
* ``sections.png`` (3-D): the three sections through the grid vertex nearest t = 0, with contours at
  the levels;
* ``betti_curves.png``: b_k(c) on a dense level grid, the requested levels marked;
* ``diagram.png``: the persistence diagram (essential bars on a dashed line marked ∞).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._lib.plotting import capped_heatmap, color_norm, finish, pyplot
from .._lib.text import plural
from .._lib.writers import save_figure

__all__ = ["plot_landscape", "axis_names", "plural", "pyplot"]


def _curve_levels(values, levels, n: int = 200, events=()) -> np.ndarray:
    """The Betti curves' level grid: from the lowest value (or requested level) to the 90th
    percentile of the values, stretched to every requested level and past every finite birth and
    death in ``events`` (by 3 % of the range, so that the last step shows), up to the largest value.
    (A trial's line between two minima ended at 0.131 while its two components merged at 0.177:
    the barrier, the curve's one event, was cut off.)"""
    lo = min([float(values.min())] + [float(c) for c in levels])
    top = float(values.max())
    hi = max([float(np.quantile(values, 0.9))] + [float(c) for c in levels])
    ev = [float(e) for e in events if np.isfinite(e)]
    if ev and max(ev) >= hi:
        hi = max(ev) + 0.03 * (max(ev) - lo)
    hi = min(hi, top)
    return np.linspace(lo, max(hi, lo), n)


def axis_names(kind: str, n: int) -> list[str]:
    """Axis labels: t_1, t_2, ... for a slice, theta_1, theta_2, ... for a box (1-based everywhere)."""
    return [f"{'theta' if kind == 'box' else 't'}_{i + 1}" for i in range(n)]


def _center_index(sample) -> list[int]:
    """The grid vertex nearest the slice's centre t = 0 (a box: the middle of each axis)."""
    if sample.kind == "box":
        return [len(a) // 2 for a in sample.axes]
    return [int(np.argmin(np.abs(np.asarray(a)))) for a in sample.axes]


#: the markers (minima, the centre, the models) are drawn above the heat map and its contours (zorder 1-2)
MARK_ZORDER = 5
#: the minima (red dots) above the other markers: a minimum at the slice's centre is drawn over its "+"
MINIMA_ZORDER = 6
#: how a grid minimum is drawn (white-edged, so that it shows on the "+" of the centre and on dark colours)
MINIMUM_MARK = {"marker": "o", "color": "red", "markersize": 5, "markeredgecolor": "white", "markeredgewidth": 0.8,
                "linestyle": "none", "zorder": MINIMA_ZORDER}


def _marks(ax, sample, mark_center: bool) -> None:
    """The centre t = 0 of a slice (when inside the grid) and, for a plane or line through models,
    each model."""
    if not mark_center or sample.kind != "slice":
        return
    at = (sample.direction_source or {}).get("models_at")
    if at:
        for j, p in enumerate(at):
            ax.plot(*p[:2], marker="*", color="white", mec="black", markersize=11, linestyle="none",
                    label="the models" if j == 0 else None, zorder=MARK_ZORDER)
        return
    if all(a[0] <= 0 <= a[-1] for a in sample.axes[:2]):
        ax.plot(0, 0, marker="+", color="white", markersize=12, mew=2, linestyle="none", label="centre (t = 0)",
                zorder=MARK_ZORDER)


def plot_landscape(result, out_dir, *, log_color: bool = False, mark_center: bool = True) -> list[str]:
    """Write the PNG files of a landscape result into ``out_dir``; return their paths.

    Parameters
    ----------
    result : LandscapeResult
        From :func:`~bettibounds.empirical.compare.analyze_landscape`.
    out_dir : path
        Created if needed.
    log_color : bool
        A logarithmic colour scale for the heat map and the sections (losses spanning decades).
    mark_center : bool
        Mark the slice's centre t = 0 (or, for a plane or line through models, the models).

    Files: ``line.png`` (1-D: the loss along the line, the levels, the grid minima in red; a log
    scale with ``log_color``), ``heatmap.png`` (2-D: the loss, contours at the levels, each minimum -- the birth vertex
    of an H0 bar -- in red, the centre), ``sections.png`` (3-D: the three sections through the grid
    vertex nearest t = 0), ``betti_curves.png`` (b_k(c) on a dense level range; a curve that is 0
    at every level shown is not drawn, and the title says so), ``diagram.png`` (the persistence
    diagram, essential bars on a dashed line marked infinity). Axis labels are t_1, t_2, ... on a
    slice, theta_1, ... on a box.
    """
    from .persistence import betti_curve

    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    s = result.sample
    v = s.values
    names = axis_names(s.kind, v.ndim)
    levels = [r["level"] for r in result.levels]
    if v.ndim == 1:  # a line: the loss along it, the levels, the grid minima
        fig, ax = plt.subplots(figsize=(6, 4))
        t = np.asarray(s.axes[0])
        ax.plot(t, v, color="C0", linewidth=1.2)
        for lv in levels:
            ax.axhline(lv, color="grey", linestyle=":", linewidth=0.8)
        minima = result.diagram.birth_at.get(0, np.empty((0, 1), int))
        for (i,) in np.asarray(minima).reshape(-1, 1):
            ax.plot(t[i], v[i], **MINIMUM_MARK)
        if log_color and float(v.min()) > 0:
            ax.set_yscale("log")
        finish(plt, fig, ax, out, "line.png", written, xlabel=names[0], ylabel="loss",
               title=f"loss along the line; dotted: the levels; {plural(len(minima), 'grid minimum', 'grid minima')} "
                     "in red")
    elif v.ndim == 2:
        fig, ax = plt.subplots(figsize=(6, 5))
        X, Y = np.meshgrid(s.axes[0], s.axes[1], indexing="ij")
        capped_heatmap(fig, ax, X, Y, v, log_color)
        if levels:
            cs = ax.contour(X, Y, v, levels=sorted(set(levels)), colors="white", linewidths=0.8)
            ax.clabel(cs, fmt="%.3g", fontsize=7)
        minima = result.diagram.birth_at.get(0, np.empty((0, 2), int))
        _marks(ax, s, mark_center)
        for i, j in minima:  # above the centre's "+": a minimum at the centre stays visible
            ax.plot(s.axes[0][i], s.axes[1][j], **MINIMUM_MARK)
        finish(plt, fig, ax, out, "heatmap.png", written, xlabel=names[0], ylabel=names[1],
                legend=bool(ax.get_legend_handles_labels()[0]),
                title=f"loss on the grid; contours at the levels\n{plural(len(minima), 'grid minimum', 'grid minima')} "
                      "(H0 births) in red")
    elif v.ndim == 3:
        c = _center_index(s)
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), layout="constrained")
        cap = float(np.quantile(v, 0.95))
        norm = color_norm(v, log_color, cap)
        im = None
        for ax, fixed in zip(axes, range(3)):
            a, b = [i for i in range(3) if i != fixed]
            section = np.take(v, c[fixed], axis=fixed)  # axes (a, b) in order
            A, B = np.meshgrid(s.axes[a], s.axes[b], indexing="ij")
            im = ax.pcolormesh(A, B, section, shading="auto", cmap="viridis", norm=norm)
            if levels and section.min() < max(levels) and section.max() > min(levels):
                cs = ax.contour(A, B, section, levels=sorted(set(levels)), colors="white", linewidths=0.8)
                ax.clabel(cs, fmt="%.3g", fontsize=7)
            if mark_center and s.kind == "slice" and all(s.axes[i][0] <= 0 <= s.axes[i][-1] for i in (a, b)):
                ax.plot(0, 0, marker="+", color="white", markersize=12, mew=2, zorder=MARK_ZORDER)
            ax.set_title(f"{names[fixed]} = {s.axes[fixed][c[fixed]]:.3g}")
            ax.set_xlabel(names[a])
            ax.set_ylabel(names[b])
        fig.colorbar(im, ax=list(axes), label=f"loss{' (log scale)' if log_color else ''}, colour capped at the "
                                               "95th percentile", extend="max" if cap < float(v.max()) else "neither")
        fig.suptitle("sections of the loss through the grid vertex nearest t = 0; contours at the levels"
                     if s.kind == "slice" else "sections of the loss through the middle of the box; contours at "
                     "the levels")
        path = out / "sections.png"
        save_figure(fig, path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    bars = [result.diagram.bars.get(k, np.empty((0, 2))) for k in result.dims]
    dense = _curve_levels(v, levels, events=np.concatenate([b.ravel() for b in bars]) if bars else ())
    curves = betti_curve(result.diagram, list(dense))
    fig, ax = plt.subplots(figsize=(6, 4))
    zero = []
    for k in result.dims:
        if not curves[k].any():  # drawn on the axis it would hide there: no curve, no legend entry
            zero.append(k)
            continue
        ax.step(dense, curves[k], where="post", label=f"b_{k}")
    from matplotlib.ticker import MaxNLocator

    # Betti numbers are integers >= 0: integer ticks, and 0 in view (a constant curve, b_0 = 1 say, would
    # otherwise get a range of +-5 % around it, where MaxNLocator finds fewer than two integers and falls
    # back to ticks 0.945, 0.960, ...)
    top = max([1] + [int(curves[k].max()) for k in result.dims if k not in zero])
    ax.set_ylim(-0.05 * top, 1.08 * top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for lv in levels:
        ax.axvline(lv, color="grey", linestyle=":", linewidth=0.8)
    title = "Betti curves (dotted: requested levels)"
    if zero:
        title += "\n" + ", ".join(f"b_{k}" for k in zero) + " = 0 at every level shown"
    finish(plt, fig, ax, out, "betti_curves.png", written, xlabel="level c",
            ylabel="Betti number of the grid sublevel set", title=title,
            legend=bool(ax.get_legend_handles_labels()[0]))
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
    finish(plt, fig, ax, out, "diagram.png", written, xlabel="birth", ylabel="death",
            title="persistence diagram", legend=bool(ax.get_legend_handles_labels()[0]))
    return written
