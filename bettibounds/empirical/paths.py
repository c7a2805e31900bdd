"""Paths between minima of any PyTorch model (mode connectivity), their barrier, a plot.

Two trained models a and b (the same architecture) are joined by

* the straight segment theta(s) = (1 - s) theta_a + s theta_b, evaluated at ``points`` values of s;
* a relaxed path: the string method of :func:`bettibounds.barcode.refine_path` (a chain of images
  between the fixed ends, each moved down the loss gradient and re-spaced to equal arc length),
  started from the segment, evaluated densely. This is the search for low paths of Garipov et al.
  (2018, polygonal chains and Bezier curves trained between two minima) and Draxler et al. (2018,
  the minimum energy path by the nudged elastic band); the string method (E, Ren and Vanden-Eijnden)
  is a method of the same family.

The barrier of a path is reported two ways, both recorded with their definition:

* ``barrier``: the largest loss on the path minus the larger of the two end losses (Draxler et
  al.'s saddle height above the minima);
* ``barrier_above_interpolation``: the largest gap between the loss on the path and the linear
  interpolation of the end losses along it (the convention of Frankle et al. 2020, "linear mode
  connectivity", applied to any path's arc-length parameter).

A path's maximum is an upper bound of the lowest possible barrier between the two models (the merge
level of their sublevel sets) up to the dense sampling; the relaxed path is never higher than the
straight one here, because the string method keeps the best chain it met, the segment included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engines.model_engine import ModelEngine, ModelProblem
from ..errors import InvalidSpecError
from .models import model_data, model_vector

__all__ = ["PathResult", "path_between", "plot_path", "barrier_heights"]

BARRIER_DEFINITIONS = {
    "barrier": "max loss on the path - max(loss at a, loss at b)",
    "barrier_above_interpolation": "max over the path of loss(s) - ((1 - s) loss(a) + s loss(b)), s the arc-length "
                                   "fraction",
}


def barrier_heights(s: np.ndarray, values: np.ndarray) -> dict:
    """The two barrier heights of a path sampled at arc-length fractions s (0 and 1 included)."""
    a, b = float(values[0]), float(values[-1])
    top = int(np.argmax(values))
    return {"max_loss": float(values[top]), "at": float(s[top]), "barrier": float(values[top]) - max(a, b),
            "barrier_above_interpolation": float(np.max(values - ((1 - s) * a + s * b))),
            "min_loss": float(np.min(values))}


#: a path whose lowest loss is below the lower end's by more than this share of it says the ends are not minima
BELOW_ENDS_SHARE = 0.01


@dataclass(frozen=True)
class PathResult:
    """The loss along the straight segment and along the relaxed path between two models."""

    s: np.ndarray  # arc-length fractions of the straight segment's points
    straight: np.ndarray  # loss there
    relaxed_s: np.ndarray | None  # arc-length fractions of the relaxed path's dense points
    relaxed: np.ndarray | None  # loss there
    images: np.ndarray | None  # (n + 2, P) the relaxed path's images, the two models first and last
    straight_barrier: dict = field(default_factory=dict)
    relaxed_barrier: dict | None = None
    record: dict = field(default_factory=dict)
    seconds: float = 0.0

    def _relaxed_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict] | None:
        """(s, loss, images, barrier) of the relaxed path; None when it was not computed (then all four are)."""
        if self.relaxed_s is None or self.relaxed is None or self.images is None or self.relaxed_barrier is None:
            return None
        return self.relaxed_s, self.relaxed, self.images, self.relaxed_barrier

    def to_dict(self) -> dict:
        rp = self._relaxed_parts()
        return {"straight": {"s": self.s.tolist(), "loss": self.straight.tolist(), **self.straight_barrier},
                "relaxed": None if rp is None else {
                    "s": rp[0].tolist(), "loss": rp[1].tolist(), **rp[3],
                    # "images" (kept for compatibility) counts the chain's points, the two models included
                    "images": int(rp[2].shape[0]), "chain_points": int(rp[2].shape[0]),
                    "interior_images": int(rp[2].shape[0]) - 2},
                "definitions": BARRIER_DEFINITIONS, "below_ends": self.below_ends(), "record": self.record,
                "seconds": round(self.seconds, 4)}

    def below_ends(self) -> str | None:
        """A note when a path goes clearly below both ends (by more than :data:`BELOW_ENDS_SHARE` of the
        lower end's loss): the ends are then not minima of the loss, and a barrier of 0 says that the path
        found lower ground, not that two minima are connected (a new user's trial); else None."""
        a, b = float(self.straight[0]), float(self.straight[-1])
        rp = self._relaxed_parts()
        lows = [("straight segment", float(np.min(self.straight)))] + (
            [] if rp is None else [("relaxed path", float(np.min(rp[1])))])
        name, low = min(lows, key=lambda item: item[1])
        end = min(a, b)
        if not (end - low > BELOW_ENDS_SHARE * abs(end) and end - low > 0):
            return None
        return (f"the {name} goes below both models (lowest loss {low:.6g}; {a:.6g} at a, {b:.6g} at b): the "
                "models are not minima of this loss, so the barriers compare the path with its ends, not two "
                "minima (train them further, or on the same data and loss)")

    def to_text(self) -> str:
        sb, lines = self.straight_barrier, []
        lines.append(f"path between two models ({self.record.get('loss')}, reduction {self.record.get('reduction')}):"
                     f" loss {self.straight[0]:.6g} at a, {self.straight[-1]:.6g} at b")
        lines.append(f"straight segment: max {sb['max_loss']:.6g} at s = {sb['at']:.3g}; barrier {sb['barrier']:.6g}"
                     f" (above interpolation {sb['barrier_above_interpolation']:.6g})")
        rp = self._relaxed_parts()
        if rp is not None:
            rb = rp[3]
            rx = self.record.get("relaxation", {})
            ran = (f", {rx['iterations_run']} of {rx['iterations_budget']} iterations"
                   if "iterations_run" in rx and "iterations_budget" in rx else "")
            ran += {"stalled": ", stopped: no lower level found at the smallest step",
                    "stationary": ", stopped: zero gradient at every image",
                    "non-finite": ", stopped: a gradient that is not finite",
                    "budget": ", stopped: the iteration budget (the level may still fall)"}.get(rx.get("stopped"), "")
            lines.append(f"relaxed path ({rp[2].shape[0] - 2} images between the models{ran}): "
                         f"max {rb['max_loss']:.6g}; barrier "
                         f"{rb['barrier']:.6g} (above interpolation {rb['barrier_above_interpolation']:.6g})")
        note = self.below_ends()
        if note is not None:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def _arc(points: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    return s / s[-1] if s[-1] > 0 else s


def path_between(model_a, model_b, x, y=None, *, loss="mse", reduction: str = "torch", parameters=None,
                 mode: str = "refuse", points: int = 101, relax: bool = True, images: int = 24,
                 iterations: int = 300, step: float = 0.2, dense: int = 8, device=None, dtype: str = "float64",
                 samples: int | None = None, seed: int = 0, progress: bool = False,
                 compile: bool = False, before_work=None) -> PathResult:
    """The loss along the straight segment and a relaxed path between two models, and their barriers.

    Parameters
    ----------
    model_a : torch.nn.Module
        The first model (its architecture is the landscape's).
    model_b : torch.nn.Module, state_dict or (P,) vector
        The second (the same architecture; its varied parameters are taken).
    x, y, loss, reduction, parameters, mode, samples, seed
        As for :func:`~bettibounds.empirical.models.experiment_from_model`.
    points : int
        Points of the straight segment (s = 0, ..., 1).
    relax : bool
        Also relax the path (string method, :func:`bettibounds.barcode.refine_path`; ``images``,
        ``iterations``, ``step`` and ``dense`` are its options). The relaxation uses gradients,
        so it evaluates the loss with autograd, a few images at a time.
    device, dtype, compile
        The model engine's (``compile``: the loss along the paths through ``torch.compile``; the
        relaxation's gradients are evaluated without it).
    before_work : callable, optional
        Called as ``before_work(engine)`` once the model engine is built and the input checked,
        before any loss is evaluated (the command line estimates the time there and may refuse).
    """
    from ..barcode import refine_path

    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise InvalidSpecError(f"points must be an integer >= 2, got {points!r}")
    t0 = time.perf_counter()
    problem = ModelProblem(model_a, loss, reduction, None if parameters is None else
                           tuple([parameters] if isinstance(parameters, str) else parameters), mode)
    xt, yt, source = model_data(x, y, samples=samples, seed=seed)
    engine = ModelEngine(problem, xt, yt, device=device, dtype=dtype, compile=compile)
    params = dict(model_a.named_parameters())
    shapes = [tuple(params[n].shape) for n in engine.names]
    a = engine.center
    b = model_vector(model_b, engine.names, shapes, "model_b", model_a)
    if np.array_equal(a, b):
        raise InvalidSpecError("the two models have the same varied parameters: there is no path to follow")
    if before_work is not None:
        before_work(engine)
    s = np.linspace(0.0, 1.0, points)
    straight = engine.evaluate_chunked(s.reshape(-1, 1), "slice", center=a, directions=(b - a).reshape(1, -1),
                                       progress=progress)
    record = {**engine.record(), "data": source, "points": points}
    relaxed = relaxed_s = chain = rb = None
    if relax:
        rp = refine_path(engine, np.stack([a, b]), images=images, iterations=iterations, step=step, dense=dense)
        chain = rp.images
        t = np.arange(dense, dtype=np.float64) / dense
        dense_pts = np.concatenate([(chain[:-1, None, :] + t[None, :, None] * (chain[1:] - chain[:-1])[:, None, :])
                                    .reshape(-1, chain.shape[1]), chain[-1:]])
        relaxed = engine.evaluate_chunked(dense_pts, "full")
        relaxed_s = _arc(dense_pts)
        rb = barrier_heights(relaxed_s, relaxed)
        # "images": interior images (the two models not counted); "iterations" (kept for compatibility) is the
        # number run, as "iterations_run"; "iterations_budget" the most allowed
        record["relaxation"] = {"method": "string method (bettibounds.barcode.refine_path)", "images": images,
                                "iterations": rp.iterations, "iterations_run": int(rp.iterations),
                                "stopped": rp.stopped,
                                "iterations_budget": int(iterations), "step": step, "dense_per_segment": dense}
    return PathResult(s, straight, relaxed_s, relaxed, chain, barrier_heights(s, straight), rb, record,
                      time.perf_counter() - t0)


#: the relaxed path gets a panel of its own when its loss varies by less than this share of the plot's range
#: (a relaxed barrier of 0.01 under a straight one of 2 is a flat line on the shared axis; a new user's trial)
OWN_PANEL_SHARE = 0.1


def plot_path(result: PathResult, out_dir, name: str = "path.png", log: bool = False) -> list[str]:
    """Plot the loss along the straight and the relaxed path (against the arc-length fraction s);
    the two models and each path's top are marked. With a linear axis, a relaxed path whose loss varies
    by less than :data:`OWN_PANEL_SHARE` of the plot's range is drawn again below on its own scale.
    Returns the written path."""
    from .._lib.writers import save_figure
    from .plots import pyplot

    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rp = result._relaxed_parts()
    lo = min(float(np.min(result.straight)), float(np.min(rp[1])) if rp is not None else np.inf)
    hi = max(float(np.max(result.straight)), float(np.max(rp[1])) if rp is not None else -np.inf)
    own = (rp is not None and not log and hi > lo
           and float(np.max(rp[1]) - np.min(rp[1])) < OWN_PANEL_SHARE * (hi - lo))
    if own:
        fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.s, result.straight, color="tab:blue",
            label=f"straight segment (barrier {result.straight_barrier['barrier']:.3g})")
    if rp is not None:
        ax.plot(rp[0], rp[1], color="tab:orange", label=f"relaxed path (barrier {rp[3]['barrier']:.3g})")
    ax.plot([0, 1], [result.straight[0], result.straight[-1]], "ko", markersize=5, label="the two models")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.set_title("loss along paths between two models")
    ax.legend(fontsize=8)
    if own:
        assert rp is not None
        ax2.plot(rp[0], rp[1], color="tab:orange")
        ax2.plot([0, 1], [rp[1][0], rp[1][-1]], "ko", markersize=5)
        ax2.set_ylabel("loss")
        ax2.set_title("the relaxed path on its own scale", fontsize=9)
        ax2.set_xlabel("s (fraction of the path's length)")
    else:
        ax.set_xlabel("s (fraction of the path's length)")
    fig.tight_layout()
    path = out / name
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return [str(path)]

