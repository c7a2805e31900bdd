"""matplotlib helpers shared by every plot of the package (imported only when plotting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .writers import save_figure

__all__ = ["pyplot", "finish", "color_norm", "capped_heatmap"]


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(plt: Any, fig: Any, ax: Any, out: Path, name: str, written: list[str], *, xlabel: str | None = None,
           ylabel: str | None = None, title: str | None = None, legend: bool = False, dpi: int = 120) -> None:
    """Label, save as out/name, close, and record the path in ``written``."""
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
    save_figure(fig, path, dpi=dpi)  # atomic: a full disk or ulimit -f leaves no truncated file
    plt.close(fig)
    written.append(str(path))


def color_norm(values: np.ndarray, log: bool, cap: float) -> Any:
    """The colour scale: linear up to ``cap``, or logarithmic from the smallest positive value (a
    loss of 0 shows in the lowest colour) up to ``cap``."""
    from matplotlib.colors import LogNorm, Normalize

    if not log:
        return Normalize(vmin=float(values.min()), vmax=cap)
    positive = values[values > 0]
    lo = float(positive.min()) if positive.size else 1e-300
    return LogNorm(vmin=lo, vmax=max(cap, lo * (1 + 1e-12)), clip=True)


def capped_heatmap(fig: Any, ax: Any, X: np.ndarray, Y: np.ndarray, values: np.ndarray, log: bool = False) -> Any:
    """pcolormesh of a 2-D grid with the colour capped at the 95th percentile (a landscape's
    maximum is usually far above its interesting levels), and a colour bar that says so."""
    cap = float(np.quantile(values, 0.95))
    im = ax.pcolormesh(X, Y, values, shading="auto", cmap="viridis", norm=color_norm(values, log, cap))
    fig.colorbar(im, ax=ax, label=f"loss{' (log scale)' if log else ''}, colour capped at the 95th percentile",
                 extend="max" if cap < float(values.max()) else "neither")
    return im
