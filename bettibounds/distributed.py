"""Distributed loss evaluation on Dask: one landscape grid, many workers, the same numbers.

Loss evaluation at grid points is embarrassingly parallel; persistence of the assembled
grid stays on one machine (docs/distributed.md says up to which grid size that is cheap).
This module spreads the evaluation over a ``dask.distributed`` cluster:

* :func:`dask_client` -- ``"local"`` starts (and afterwards stops) a ``LocalCluster`` of
  one single-threaded worker process per core; ``"tcp://host:port"`` connects to a running
  scheduler (``dask scheduler`` / ``dask worker tcp://host:port``);
* :class:`DaskEvaluator` (the Dask engine, :mod:`bettibounds.engines.dask_engine`, re-exported
  here) -- a drop-in for :class:`~bettibounds.empirical.kernels.LossKernel` in
  :func:`~bettibounds.empirical.sampler.sample_landscape` (it has ``evaluate_chunked`` and
  ``device``); the module says how its results stay bit-identical to the in-process run;
* :func:`landscape_sampler` -- ``sampler(grid)`` for ``analyze_landscape`` on the cluster;
* :func:`map_jobs` -- many independent jobs (an architecture sweep, barcode samples),
  in-process or on a cluster, results in the order of the inputs.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import re

from .engines.dask_engine import DaskEvaluator, dask_distributed, positive_int
from .errors import InvalidSpecError

__all__ = ["DaskEvaluator", "dask_client", "landscape_sampler", "map_jobs"]

_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def _check_scheduler(scheduler) -> str:
    if not isinstance(scheduler, str) or not (scheduler == "local" or _ADDRESS.match(scheduler)):
        raise InvalidSpecError(
            f"scheduler must be 'local' (start a LocalCluster on this machine) or the address of a running Dask "
            f"scheduler such as 'tcp://10.0.0.5:8786', got {scheduler!r}")
    if scheduler != "local" and not 1 <= int(_ADDRESS.match(scheduler).group(3)) <= 65535:
        raise InvalidSpecError(f"scheduler {scheduler!r}: the port must lie in 1..65535")
    return scheduler


@contextlib.contextmanager
def dask_client(scheduler, *, workers: int | None = None, timeout: float = 10.0):
    """A ``distributed.Client`` for ``scheduler``, closed (with its cluster) on exit.

    Parameters
    ----------
    scheduler : str or distributed.Client
        ``"local"``: start a ``LocalCluster`` of ``workers`` single-threaded worker
        processes on this machine (stopped on exit); ``"tcp://host:port"`` (or
        ``tls://``): connect to a running scheduler (``dask scheduler``), which is left
        running; an existing ``Client`` is yielded as it is and not closed.
    workers : int, optional
        Worker processes of the local cluster (default: the number of CPU cores);
        only with ``"local"``.
    timeout : float
        Seconds to wait for a remote scheduler to answer and to have a worker.

    Raises
    ------
    InvalidSpecError
        Dask is not installed, the scheduler string is malformed, ``workers`` is given
        for a remote scheduler, or no scheduler (or no worker) answers in time.

    Examples
    --------
    >>> with dask_client("local", workers=2) as client:  # doctest: +SKIP
    ...     print(len(client.nthreads()))
    2
    """
    distributed = dask_distributed()
    if isinstance(scheduler, distributed.Client):
        if workers is not None:
            raise InvalidSpecError("workers applies to scheduler='local' only (the cluster already exists)")
        yield scheduler
        return
    scheduler = _check_scheduler(scheduler)
    workers = positive_int("workers", workers)
    if not isinstance(timeout, numbers.Real) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidSpecError(f"timeout must be a positive number of seconds, got {timeout!r}")
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            _shield_thread_count(stack)
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR,
                # no dashboard, and the scheduler's HTTP routes on a free port, not 8787 (which
                # another cluster on the machine may hold)
                scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"}))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            if workers is not None:
                raise InvalidSpecError(f"workers applies to scheduler='local' only; the cluster at {scheduler} has "
                                       "the workers started there with `dask worker`")
            try:
                client = distributed.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise InvalidSpecError(
                    f"no Dask scheduler answered at {scheduler} within {timeout:g} s ({_one_line(exc)}); start one "
                    f"with `dask scheduler` and workers with `dask worker {scheduler}`, or use scheduler 'local'"
                ) from None
            stack.callback(client.close)
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError):
                raise InvalidSpecError(f"the Dask scheduler at {scheduler} has no workers (waited {timeout:g} s); "
                                       f"start some with `dask worker {scheduler}`") from None
        yield client


def _shield_thread_count(stack: contextlib.ExitStack) -> None:
    """Keep this process's torch thread count (and so its chunk size) what it was.

    A Nanny sets ``distributed.nanny.pre-spawn-environ`` (OMP_NUM_THREADS=1, ...) in the
    environment of the process that starts it, so that the worker processes inherit it. A
    torch first imported after that would run this process single-threaded and size its
    chunks for one thread, unlike the in-process run; importing torch first keeps the
    count, and the variables are put back when the cluster stops.
    """
    import dask

    saved = {k: os.environ.get(k) for k in dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}}
    with contextlib.suppress(ImportError):
        import torch

        torch.get_num_threads()

    def restore():
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    stack.callback(restore)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _bar(progress: bool, total: int, desc: str):
    from ._lib.progress import progress_bar

    return progress_bar(progress, total, desc)


def landscape_sampler(experiment, client, *, device=None, dtype: str | None = None, chunk: int | None = None,
                      block: int | None = None, progress: bool = False, engine: str | None = None):
    """``sampler(grid) -> LandscapeSample`` evaluating ``experiment`` on the cluster of ``client``.

    For :func:`~bettibounds.empirical.compare.analyze_landscape` (``sampler=``): the grid,
    directions and seeds are those of :func:`~bettibounds.empirical.sampler.sample_landscape`
    (recorded the same way); only the loss evaluation moves to the workers. The
    :class:`DaskEvaluator` is ``sampler.evaluator`` (its ``info`` after a run).
    """
    from .empirical.sampler import sample_landscape

    if getattr(experiment, "kind", None) == "model":  # experiment_from_model: the model engine on the workers
        if engine not in (None, "auto", "model"):
            raise InvalidSpecError(f"a model experiment is evaluated by the model engine, not {engine!r}")
        evaluator = DaskEvaluator(client, experiment.problem, experiment.x, experiment.y, device=device,
                                  dtype=dtype, chunk=chunk, block=block, progress=progress, engine="model")
    else:
        evaluator = DaskEvaluator(client, experiment.spec, experiment.x, experiment.y, device=device, dtype=dtype,
                                  chunk=chunk, block=block, progress=progress, engine=engine or "auto")

    def sampler(grid):
        return sample_landscape(experiment, grid=grid, dtype=dtype, progress=progress, kernel=evaluator)

    sampler.evaluator = evaluator
    return sampler


def map_jobs(func, items, scheduler=None, *, workers: int | None = None, progress: bool = False,
             timeout: float = 10.0) -> list:
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
        for item in items:
            results.append(func(item))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return results
    distributed = dask_distributed()
    with dask_client(scheduler, workers=workers, timeout=timeout) as client:
        futures = client.map(func, items, pure=False)
        bar = _bar(progress, len(items), "jobs (dask)")
        try:
            for _ in distributed.as_completed(futures, loop=client.loop):
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return client.gather(futures)
