"""The published trend, measured: barcodes and TO-score of a family of small networks.

Barannikov et al. (2019 §5, 2020) report that the barcode of minima and the TO-score shrink as
networks get wider and deeper (minima get shallower: lower birth, lower saddles). This module
measures that on a family of tanh networks of growing width and depth, all trained on one small
regression data set generated here with an explicit seed, with the same sampling budget per
network (uniform points plus gradient-descent trajectories in a fixed box, k-NN graph, refinement
of the longest segments). It reports what the data say, whichever way they point.

The reproduction report no longer uses this module: it measured a pipeline far from the authors'
(raw TO-score dominated by sampling noise, every image of a minimum under the symmetry group counted,
k = 10 for P up to 105; docs/theory.md §12.6). The report's measurement is
:mod:`bettibounds.barcode.realdata` (the 2020 minima-graph protocol on real data). This module stays
for comparison and for the tests that use it.

Caveat recorded with the rows: with a fixed budget, larger networks are sampled more sparsely
(P grows), which biases the graph toward fewer, longer-lived clusters; the number of samples and P
are in every row so a reader can judge.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..spec import ArchitectureSpec

__all__ = ["trend_data", "barcode_trend", "TREND_DEFAULTS"]

#: The quick configuration (the report's default); the full one is larger in every direction.
TREND_DEFAULTS: dict[bool, dict[str, Any]] = {
    True: {"widths": (2, 4, 8), "depths": (1, 2), "uniform": 300, "starts": 16, "steps": 120, "k": 10,
           "refine": "all", "iterations": 120, "samples": 12},
    False: {"widths": (2, 4, 8, 16), "depths": (1, 2, 3), "uniform": 1000, "starts": 48, "steps": 300,
            "k": 12, "refine": "all", "iterations": 200, "samples": 24},
}


def trend_data(samples: int = 12, seed: int = 0):
    """The data set: x uniform in [-2, 2]^2, y = sin(x_1) cos(x_2) / 2 (a smooth regression target)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(samples, 2))
    y = (np.sin(x[:, 0]) * np.cos(x[:, 1]) / 2.0).reshape(-1, 1)
    return x, y


def barcode_trend(quick: bool = True, *, widths=None, depths=None, box: float = 3.0, seed: int = 0,
                  norm: str = "sum", device="cpu", progress: bool = False, jobs_map=None,
                  keep_barcodes: bool = False) -> list[dict]:
    """One row per (width, depth): P, samples, number of finite segments, TO-scores, longest segment.

    ``keep_barcodes``: also put each network's :class:`~bettibounds.barcode.Barcode` in its row
    (key ``"barcode"``).

    ``jobs_map(func, items)``, when given, runs the networks (independent jobs) -- e.g.
    :func:`bettibounds.distributed.map_jobs` with a Dask scheduler; default in-process, in order.
    """
    cfg = dict(TREND_DEFAULTS[bool(quick)])
    widths = tuple(widths or cfg["widths"])
    depths = tuple(depths or cfg["depths"])
    items = [(h, L) for L in depths for h in widths]

    def job(item):
        return _one(item[0], item[1], cfg, box, seed, norm, device, progress, keep_barcodes)

    rows = list(jobs_map(job, items)) if jobs_map is not None else [job(it) for it in items]
    return rows


def _one(h: int, L: int, cfg: dict, box: float, seed: int, norm: str, device, progress: bool,
         keep: bool = False) -> dict:
    from ..engines.torch_kernel import LossKernel
    from .sampling import sample_barcode

    x, y = trend_data(cfg["samples"], seed)
    spec = ArchitectureSpec(inputs=2, widths=(h,) * L, activation="tanh", samples=len(x))
    kern = LossKernel(spec, x, y, device=device)
    t = time.perf_counter()
    bc = sample_barcode(kern, -box, box, uniform=cfg["uniform"], starts=cfg["starts"], steps=cfg["steps"],
                        k=cfg["k"], seed=seed, refine=cfg["refine"], progress=progress,
                        refine_options={"iterations": cfg["iterations"]})
    finite = [b for b in bc.of_dim(0) if not b.essential]
    row = {"width": h, "depth": L, "P": spec.n_params, "n_samples": bc.meta["n_points"],
            "starts": cfg["starts"],
            "n_segments": len(finite), "to_score": bc.to_score(norm), "to_score_norm": norm,
            "to_score_normalized": bc.to_score(norm, normalize=True),
            "longest": max((b.length for b in finite), default=0.0),
            "min_loss": bc.value_min, "refined": sum(b.refined for b in finite),
            "seconds": time.perf_counter() - t, "seed": seed}
    if keep:
        row["barcode"] = bc
    return row
