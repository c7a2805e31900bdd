"""Distributed loss evaluation on Dask: one landscape grid, many workers, the same numbers.

Loss evaluation at grid points is embarrassingly parallel; persistence of the assembled
grid stays on one machine (docs/distributed.md says up to which grid size that is cheap).
This module spreads the evaluation over a ``dask.distributed`` cluster:

* :func:`dask_client` (from :mod:`bettibounds.dask_cluster`, with :func:`check_scheduler`) --
  ``"local"`` starts (and afterwards stops) a ``LocalCluster`` of one single-threaded worker
  process per core; ``"tcp://host:port"`` connects to a running scheduler (``dask scheduler`` /
  ``dask worker tcp://host:port``); after an error or Ctrl-C the local workers are killed at once;
* :class:`DaskEvaluator` (the Dask engine, :mod:`bettibounds.engines.dask_engine`, re-exported
  here) -- a drop-in for :class:`~bettibounds.empirical.kernels.LossKernel` in
  :func:`~bettibounds.empirical.sampler.sample_landscape` (it has ``evaluate_chunked`` and
  ``device``); the module says how its results stay bit-identical to the in-process run;
* :func:`landscape_sampler` -- ``sampler(grid)`` for ``analyze_landscape`` on the cluster;
* :func:`map_jobs` -- many independent jobs (an architecture sweep, barcode samples),
  in-process or on a cluster, results in the order of the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .dask_cluster import check_scheduler, dask_client, dask_setup
from .engines.dask_engine import DaskEvaluator, dask_distributed, worker_failure
from .errors import InvalidSpecError

__all__ = ["DaskEvaluator", "dask_client", "experiment_evaluator", "landscape_sampler", "map_jobs", "check_scheduler",
           "dask_setup", "worker_failure"]


def _bar(progress: bool, total: int, desc: str):
    from ._lib.progress import progress_bar

    return progress_bar(progress, total, desc)


def experiment_evaluator(experiment, client, *, device=None, dtype: str | None = None, chunk: int | None = None,
                         block: int | None = None, progress: bool = False, engine: str | None = None) -> DaskEvaluator:
    """The :class:`DaskEvaluator` of an experiment file's network (``engine``: auto by default, torch
    or fused) or of a model experiment (:func:`~bettibounds.empirical.models.experiment_from_model`:
    the model engine, refused with another ``engine`` than None, auto or model)."""
    if getattr(experiment, "kind", None) == "model":  # experiment_from_model: the model engine on the workers
        if engine not in (None, "auto", "model"):
            raise InvalidSpecError(f"a model experiment is evaluated by the model engine, not {engine!r}")
        return DaskEvaluator(client, experiment.problem, experiment.x, experiment.y, device=device,
                             dtype=dtype, chunk=chunk, block=block, progress=progress, engine="model")
    return DaskEvaluator(client, experiment.spec, experiment.x, experiment.y, device=device, dtype=dtype,
                         chunk=chunk, block=block, progress=progress, engine=engine or "auto")


def landscape_sampler(experiment, client, *, device=None, dtype: str | None = None, chunk: int | None = None,
                      block: int | None = None, progress: bool = False, engine: str | None = None
                      ) -> LandscapeSampler:
    """``sampler(grid) -> LandscapeSample`` evaluating ``experiment`` on the cluster of ``client``.

    For :func:`~bettibounds.empirical.compare.analyze_landscape` (``sampler=``): the grid,
    directions and seeds are those of :func:`~bettibounds.empirical.sampler.sample_landscape`
    (recorded the same way); only the loss evaluation moves to the workers. The
    :class:`DaskEvaluator` is ``sampler.evaluator`` (its ``info`` after a run).
    """
    evaluator = experiment_evaluator(experiment, client, device=device, dtype=dtype, chunk=chunk, block=block,
                                     progress=progress, engine=engine)
    return LandscapeSampler(experiment, evaluator, dtype, progress)


@dataclass(frozen=True)
class LandscapeSampler:
    """``sampler(grid)``: :func:`~bettibounds.empirical.sampler.sample_landscape` of ``experiment``
    with the loss evaluated by ``evaluator`` (what :func:`landscape_sampler` returns)."""

    experiment: Any
    evaluator: DaskEvaluator
    dtype: str | None
    progress: bool

    def __call__(self, grid: Any) -> Any:
        from .empirical.sampler import sample_landscape

        return sample_landscape(self.experiment, grid=grid, dtype=self.dtype, progress=self.progress,
                                kernel=self.evaluator)


def map_jobs(func, items, scheduler=None, *, workers: int | None = None, progress: bool = False,
             timeout: float = 10.0, on_result=None) -> list:
    """``[func(item) for item in items]``, in-process or on a Dask cluster; results in input order.

    For many independent jobs: the bounds or landscapes of an architecture sweep, the loss
    evaluations of sample-based barcodes.

    Parameters
    ----------
    func : callable
        Runs on the workers: a module-level function (or anything cloudpickle can send)
        whose module the workers can import.
    items : iterable
        One job per item; sent to the worker that runs it.
    scheduler : None, "local", "tcp://host:port" or distributed.Client
        ``None``: a plain loop in this process (Dask is not needed).
    workers : int, optional
        Worker processes of a ``"local"`` cluster.
    progress : bool
        tqdm bar over the jobs.
    on_result : callable, optional
        ``on_result(i, result)`` in this process as soon as job ``i`` (its index in ``items``)
        has finished, in the order they finish -- e.g. to checkpoint a long sweep job by job, so
        that a stopped run loses only the jobs that were running.

    Raises
    ------
    InvalidSpecError
        As :func:`dask_client`; an exception raised by ``func`` is re-raised as it is.

    Examples
    --------
    >>> map_jobs(abs, [-3, 1, -2])
    [3, 1, 2]
    """
    items = list(items)
    if not callable(func):
        raise InvalidSpecError(f"func must be callable, got {type(func).__name__}")
    if scheduler is None:
        if workers is not None:
            raise InvalidSpecError("workers applies to scheduler='local' only")
        bar = _bar(progress, len(items), "jobs")
        results = []
        for i, item in enumerate(items):
            results.append(func(item))
            if on_result is not None:
                on_result(i, results[-1])
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return results
    distributed = dask_distributed()
    with dask_client(scheduler, workers=workers, timeout=timeout) as client:
        futures = client.map(func, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        bar = _bar(progress, len(items), "jobs (dask)")
        try:
            for fut in distributed.as_completed(futures, loop=client.loop):
                if on_result is not None and fut.status == "finished":
                    on_result(index[fut.key], fut.result())
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        try:
            return client.gather(futures)
        except Exception as exc:
            raise worker_failure(exc, client) from None
