"""Plots of barcodes (matplotlib, Agg backend; imported only when plotting).

* ``barcode.png``: the segments against the loss (index 0 blue, higher indices other colours,
  refined deaths orange with the graph estimate they replaced marked, essential segments as arrows);
* ``minima.png`` (2-D grid barcodes): the landscape with every minimum and its merge saddle;
* ``to_score_trend.png``: the TO-score against width and depth (:func:`plot_trend`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._lib.plotting import capped_heatmap, finish, pyplot
from .._lib.writers import save_figure
from ..empirical.plots import axis_names, plural
from ..errors import InvalidSpecError
from .core import Barcode

__all__ = ["plot_barcode", "plot_minima", "plot_trend", "plot_all", "plot_to_score_ci", "plot_segments_vs_error"]

_COLOURS = ["tab:blue", "tab:green", "tab:purple", "tab:brown"]


def plot_barcode(barcode: Barcode, out_dir, name: str = "barcode.png", max_bars: int = 80,
                 x_range: str = "loss") -> list[str]:
    """The barcode as horizontal segments [birth, death) against the loss (longest ``max_bars``).

    ``x_range="loss"`` (default): the axis spans the landscape's loss range [min f, max f], so
    barcodes of different networks can be compared by eye; ``"segments"``: only the segments (with
    a margin), which zooms in when the maximum is far above the merge levels.
    """
    if x_range not in ("loss", "segments"):
        raise InvalidSpecError(f'x_range must be "loss" or "segments", got {x_range!r}')
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    bars = sorted(barcode.bars, key=lambda b: (b.dim, -(b.length if not b.essential else np.inf)))
    bars = bars[:max_bars]
    bars = sorted(bars, key=lambda b: (b.dim, b.birth))
    # the x range covers the finite segments (with a margin), not the whole loss range: a landscape's
    # maximum is usually far above its merge levels; essential segments run to the right edge
    ends = [b.death if not b.essential else b.birth for b in bars] + [b.birth for b in bars]
    ends += [b.estimate for b in bars if b.refined and b.estimate is not None and math.isfinite(b.estimate)]
    low = min(ends)
    top = max(ends)
    if top > low:
        top = top + 0.25 * (top - low)
    else:  # essential segments only: the loss range (a new user's plot ran to 1.0 for losses up to 0.3)
        top = barcode.value_max if math.isfinite(barcode.value_max) and barcode.value_max > low else low + 1.0
    if x_range == "loss" and math.isfinite(barcode.value_min) and math.isfinite(barcode.value_max):
        low = min(low, barcode.value_min)
        top = max(top, barcode.value_max) if barcode.value_max > low else low + 1.0
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.18 * len(bars) + 1.2)))
    seen: set[str | tuple[str, int]] = set()  # legend entries drawn: kinds, (kind, index)
    for y, b in enumerate(bars):
        colour = _COLOURS[b.dim % len(_COLOURS)]
        if b.essential:
            ax.annotate("", xy=(top, y), xytext=(b.birth, y),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.5})
            ax.plot([b.birth], [y], "o", color=colour, ms=3,
                    label=f"index {b.dim}, essential" if ("e", b.dim) not in seen else None)
            seen.add(("e", b.dim))
            continue
        if b.refined:
            ax.plot([b.birth, b.death], [y, y], "-", color="tab:orange", lw=2.5,
                    label="refined death" if "r" not in seen else None)
            ax.plot([b.death, b.estimate], [y, y], ":", color="grey", lw=0.8)  # what refinement changed
            ax.plot([b.estimate], [y], "|", color="k", ms=9, label="graph estimate" if "g" not in seen else None)
            if b.length < 0.01 * (top - low):  # refined to (nearly) no barrier: still mark the segment
                ax.plot([b.birth], [y], "|", color="tab:orange", ms=8)
            seen.update({"r", "g"})
        else:
            label = f"index {b.dim}" if ("d", b.dim) not in seen else None
            seen.add(("d", b.dim))
            ax.plot([b.birth, b.death], [y, y], "-", color=colour, lw=2.5, label=label)
            if b.length < 0.01 * (top - low):  # visible even when very short
                ax.plot([b.birth], [y], "|", color=colour, ms=8)
    ax.set_yticks([])
    ax.set_ylim(-0.8, len(bars) - 0.2)  # room for the end markers of the first and last segments
    ax.set_ylabel("segments (sorted by birth)")
    ax.set_xlim(low - 0.02 * (top - low), top)
    shown = "" if len(bars) == len(barcode.bars) else f" (the {len(bars)} longest of {len(barcode.bars)})"
    src = "grid (cubical)" if barcode.source == "grid" else f"k-NN graph on {barcode.meta.get('n_points', '?')} samples"
    finish(plt, fig, ax, out, name, written, xlabel="loss", legend=True,
            title=f"Barcode of minima, {src}{shown}")
    return written


def plot_minima(barcode: Barcode, values: np.ndarray, out_dir, name: str = "minima.png") -> list[str]:
    """Heat map of a 2-D grid landscape with each minimum (circle) and its merge saddle (cross)."""
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    axes = barcode.meta["axes"]
    fig, ax = plt.subplots(figsize=(6.2, 5))
    X, Y = np.meshgrid(axes[0], axes[1], indexing="ij")
    capped_heatmap(fig, ax, X, Y, values)
    for b in barcode.of_dim(0):
        bx, by = axes[0][b.birth_at[0]], axes[1][b.birth_at[1]]
        ax.plot([bx], [by], "o", mfc="none", mec="w", ms=8)
        if b.death_at is not None:
            sx, sy = axes[0][b.death_at[0]], axes[1][b.death_at[1]]
            ax.plot([sx], [sy], "x", color="r", ms=7)
            ax.plot([bx, sx], [by, sy], ":", color="w", lw=0.8)
    ax.plot([], [], "o", mfc="none", mec="k", label="minimum (birth)")
    if any(b.death_at is not None for b in barcode.of_dim(0)):  # (no saddle to name with one minimum)
        ax.plot([], [], "x", color="r", label="merge saddle (death)")
    kind = barcode.meta.get("kind", "grid")
    names = axis_names("box" if kind == "box" else "slice", 2)
    finish(plt, fig, ax, out, name, written, xlabel=names[0], ylabel=names[1], legend=True,
           title=f"{plural(len(barcode.of_dim(0)), 'minimum', 'minima')} of the loss on the {kind}")
    return written


def plot_trend(rows, out_dir, name: str = "to_score_trend.png", key: str = "to_score") -> list[str]:
    """TO-score against width (one line per depth) and against depth (one line per width)."""
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    widths = sorted({r["width"] for r in rows})
    depths = sorted({r["depth"] for r in rows})
    for L in depths:
        sel = sorted((r for r in rows if r["depth"] == L), key=lambda r: r["width"])
        a.plot([r["width"] for r in sel], [r[key] for r in sel], "o-", label=f"depth L = {L}")
    for h in widths:
        sel = sorted((r for r in rows if r["width"] == h), key=lambda r: r["depth"])
        b.plot([r["depth"] for r in sel], [r[key] for r in sel], "s-", label=f"width h = {h}")
    norm = rows[0].get("to_score_norm", "sum") if rows else "sum"
    ylabel = f"TO-score ({norm} of segment lengths, loss units)"
    a.set_xlabel("hidden width h")
    b.set_xlabel("depth L (hidden layers)")
    for ax in (a, b):
        ax.set_ylabel(ylabel)
        ax.legend()
    a.set_xticks(widths)
    b.set_xticks(depths)
    fig.suptitle("TO-score of the sampled barcode of minima (Barannikov et al. claim: shrinks with h and L)")
    fig.tight_layout()
    path = out / name
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    written.append(str(path))
    return written


def plot_all(barcode: Barcode, out_dir, values: np.ndarray | None = None) -> list[str]:
    """``barcode.png``, plus ``minima.png`` for a 2-D grid barcode when ``values`` are given."""
    written = plot_barcode(barcode, out_dir)
    if barcode.source == "grid" and values is not None and np.ndim(values) == 2:
        written += plot_minima(barcode, values, out_dir)
    return written


def plot_to_score_ci(rows, out_dir, name: str = "to_score_trend.png") -> list[str]:
    """TO-score (mean over seeds, 95% CI error bars) against width, one line per depth, one panel
    per data set (rows of :func:`bettibounds.barcode.realdata.to_score_trend`)."""
    from .realdata import MIN_SEEDS

    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(7.0, 5.5 * len(datasets)), 4.4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        for L in sorted({r["depth"] for r in rows if r["dataset"] == ds}):
            sel = sorted((r for r in rows if r["dataset"] == ds and r["depth"] == L), key=lambda r: r["width"])
            m = np.array([r["to_score_mean"] for r in sel])
            # no bar where there are too few seeds for the interval to say anything (MIN_SEEDS)
            wide = np.array([r.get("seeds", MIN_SEEDS) >= MIN_SEEDS for r in sel])
            lo = np.where(wide, m - np.array([r["to_score_ci95"][0] for r in sel]), 0.0)
            hi = np.where(wide, np.array([r["to_score_ci95"][1] for r in sel]) - m, 0.0)
            ax.errorbar([r["width"] for r in sel], m, yerr=[lo, hi], marker="o", capsize=3, label=f"depth {L}")
        ax.set_xscale("log", base=2)
        ws = sorted({r["width"] for r in rows if r["dataset"] == ds})
        ax.set_xticks(ws)
        ax.set_xticklabels([str(w) for w in ws])
        ax.set_xlabel("hidden width h")
        ax.set_ylabel("TO-score (sum of segment lengths, loss units)")
        ax.set_title(f"{ds}: mean over seeds, 95% Student-t CI\n(bars only with >= {MIN_SEEDS} seeds)", fontsize=9)
        ax.legend()
    fig.suptitle("Minima-graph TO-score\n(Barannikov et al.: decreases with width and depth)", fontsize=10)
    fig.tight_layout()
    path = out / name
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [str(path)]


def plot_segments_vs_error(runs, out_dir, name: str = "segment_vs_test_error.png") -> list[str]:
    """Each finite segment's length against its minimum's held-out test error (one colour per data set)."""
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for ds in sorted({r["dataset"] for r in runs}):
        xs = [s["segment"] for r in runs if r["dataset"] == ds for s in r["segments"]]
        ys = [s["test_error"] for r in runs if r["dataset"] == ds for s in r["segments"]]
        ax.plot(xs, ys, "o", ms=3, alpha=0.6, label=ds)
    ax.set_xlabel("segment length (minimax death - loss at the minimum)")
    ax.set_ylabel("test error of the minimum (held-out split)")
    ax.set_title("Segment length against generalisation (2019 observation 2)")
    ax.legend()
    fig.tight_layout()
    path = out / name
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return [str(path)]
