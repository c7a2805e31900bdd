"""Bookkeeping of the real-data TO-score sweep's jobs (:func:`~bettibounds.barcode.realdata.to_score_trend`):
their checkpoint file, their sizes and an upper estimate of their memory, to run the largest first and no more
of them side by side than the memory holds."""

from __future__ import annotations

import json
import os

__all__ = ["read_checkpoint", "job_size", "job_peak_bytes", "processes_within_memory",
           "JOB_BYTES_PER_PARAMETER_IMAGE_PATH", "JOB_BASE_BYTES"]


def read_checkpoint(path, key: str) -> dict:
    """Runs of the configuration ``key`` already in the JSON-lines file ``path`` (absent: none)."""
    out: dict = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a stopped run
                continue
            if rec.get("key") == key:
                r = rec["run"]
                out[(r["dataset"], r["width"], r["depth"], r["seed"])] = r
    return out


def job_size(item) -> int:
    """Parameters of a sweep job's network (its cost is about proportional)."""
    ds, h, L, _ = item
    d, out = {"digits": (64, 10), "breast_cancer": (30, 1)}[ds]
    return (d + 1) * h + (L - 1) * (h + 1) * h + (h + 1) * out


#: peak memory of a sweep job, per parameter, image of the finest resolution and relaxed path (bytes), and the
#: process's base: an upper estimate from the measured peaks (digits 256 x 4, P = 216 586, 10 paths: 4.44-4.85 GB at
#: up to 63 images, 0.7 GB at 8; 256 x 2: 1.64-1.80 GB at up to 63; docs/benchmarks.md) -- 4.9, 1.1 and 2.2 GB here
JOB_BYTES_PER_PARAMETER_IMAGE_PATH, JOB_BASE_BYTES = 350, 300 * 2**20


def job_peak_bytes(item, cfg: dict) -> int:
    """An upper estimate of the peak memory of the sweep job ``item`` = (data set, width, depth, seed)."""
    paths = cfg["runs"] * (cfg["runs"] - 1) // 2
    images = int(cfg.get("max_images") or cfg["images"])
    return JOB_BASE_BYTES + JOB_BYTES_PER_PARAMETER_IMAGE_PATH * job_size(item) * images * paths


def processes_within_memory(processes: int, items, cfg: dict, available: int | None = None) -> tuple[int, str | None]:
    """At most ``processes``, and no more than the available memory holds of the largest job's peak
    (:func:`job_peak_bytes`; the largest jobs run first, side by side): ``(n, why fewer or None)``."""
    from .._lib.memory import available_bytes

    if not items:
        return processes, None
    peak = max(job_peak_bytes(it, cfg) for it in items)
    free = available_bytes() if available is None else available
    fit = max(1, int(free // peak))
    if fit >= processes:
        return processes, None
    return fit, (f"{fit} worker process(es) instead of {processes}: each of the largest jobs needs up to about "
                 f"{peak / 2**30:.1f} GiB and {free / 2**30:.1f} GiB are available")
