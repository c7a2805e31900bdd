"""Dask clusters for bettibounds: validate a scheduler before any work, start or connect to one,
and stop it promptly (torch-free; Dask only where a cluster is used).

* :func:`check_scheduler` -- Dask installed, ``"local"`` or a well-formed ``tcp://host:port`` that
  accepts connections, refused before any work;
* :func:`dask_client` -- ``"local"`` starts (and afterwards stops) a ``LocalCluster`` of
  single-threaded worker processes; an address connects to a running scheduler. After an error or
  Ctrl-C the local workers are killed at once (no waiting for the blocks in flight);
* :func:`dask_setup` -- the workers' preload hook: they ignore SIGINT and leave Ctrl-C to the
  submitting process;
* :func:`worker_failure` (of :mod:`bettibounds.engines.dask_engine`) -- a task the cluster lost (its workers
  killed, a cancelled future, ``KilledWorker``) is a :class:`~bettibounds.errors.SchedulerError`, one line in the CLI.

The evaluation itself (scattering, blocks, bit-identity) is :mod:`bettibounds.distributed`.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import re
import threading

from .engines.dask_engine import dask_distributed, positive_int, worker_failure
from .errors import InvalidSpecError, SchedulerError

__all__ = ["check_scheduler", "dask_client", "dask_setup", "worker_failure", "one_line"]

_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def _check_scheduler(scheduler) -> str:
    address = _ADDRESS.match(scheduler) if isinstance(scheduler, str) else None
    if not isinstance(scheduler, str) or not (scheduler == "local" or address):
        raise InvalidSpecError(
            f"scheduler must be 'local' (start a LocalCluster on this machine) or the address of a running Dask "
            f"scheduler such as 'tcp://10.0.0.5:8786', got {scheduler!r}")
    if address is not None and not 1 <= int(address.group(3)) <= 65535:
        raise InvalidSpecError(f"scheduler {scheduler!r}: the port must lie in 1..65535")
    return scheduler


def check_scheduler(scheduler, *, timeout: float = 5.0):
    """Validate a scheduler before any work: Dask is installed, the string is ``"local"`` or a
    well-formed ``tcp://host:port``, and such an address accepts connections (a plain TCP
    connection, no Dask handshake). A ``distributed.Client`` is accepted as it is.

    Raises
    ------
    InvalidSpecError
        Dask is missing or the string is malformed.
    SchedulerError
        Nothing accepts connections at the address within ``timeout`` seconds.
    """
    distributed = dask_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler
    scheduler = _check_scheduler(scheduler)
    if scheduler != "local":
        import socket

        address = _ADDRESS.match(scheduler)
        assert address is not None  # _check_scheduler accepted it
        host, port = address.group(2, 3)
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except (OSError, ValueError) as exc:
            raise SchedulerError(f"no Dask scheduler answers at {scheduler} ({one_line(exc)}); start one with "
                                 f"`dask scheduler` and workers with `dask worker {scheduler}`, or use "
                                 "scheduler 'local'") from None
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
            _keep_mmap_threshold(stack)
            _shield_thread_count(stack)
            n = workers or os.cpu_count() or 1
            restore = _quiet_logs()  # a worker that fails to start logs its traceback: the error below says it
            try:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR,
                    # the workers leave Ctrl-C to this process, which stops them (dask_setup below)
                    preload=["bettibounds.dask_cluster"],
                    # no dashboard, and the scheduler's HTTP routes on a free port, not 8787 (which
                    # another cluster on the machine may hold)
                    scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"}))
                client = stack.enter_context(distributed.Client(cluster))
            except (RuntimeError, OSError, TimeoutError) as exc:  # a worker process could not start
                raise SchedulerError(f"could not start a local Dask cluster of {n} worker processes "
                                     f"({one_line(exc)}): the machine may lack the memory or the processes for "
                                     "them; use fewer --workers or run in this process (no --scheduler)") from None
            finally:
                restore()
            try:
                yield client
            except BaseException:  # an error or Ctrl-C: stop now, do not wait for the blocks in flight
                restore = _quiet_logs()  # the cluster logs every connection the kill breaks, with tracebacks
                try:
                    _kill_workers(cluster)
                    stack.close()
                finally:
                    restore()
                raise
            return
        else:
            if workers is not None:
                raise InvalidSpecError(f"workers applies to scheduler='local' only; the cluster at {scheduler} has "
                                       "the workers started there with `dask worker`")
            try:
                client = distributed.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise InvalidSpecError(
                    f"no Dask scheduler answered at {scheduler} within {timeout:g} s ({one_line(exc)}); start one "
                    f"with `dask scheduler` and workers with `dask worker {scheduler}`, or use scheduler 'local'"
                ) from None
            stack.callback(client.close)
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError):
                raise InvalidSpecError(f"the Dask scheduler at {scheduler} has no workers (waited {timeout:g} s); "
                                       f"start some with `dask worker {scheduler}`") from None
        yield client


def dask_setup(worker) -> None:
    """Dask preload hook of the local cluster's worker processes (``preload=["bettibounds.dask_cluster"]``).

    Ctrl-C in a terminal reaches every process of the foreground group, the workers too; each
    would print its own KeyboardInterrupt traceback. The workers ignore it: the client process
    catches it and stops them (:func:`dask_client`).
    """
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_logs():
    """Silence Dask's loggers (and tornado's) until the returned function is called."""
    names = ["distributed", "tornado", "asyncio"]
    names += [n for n in logging.root.manager.loggerDict if n.startswith(("distributed.", "tornado."))]
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = True

    def restore():
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled

    return restore


def _kill_workers(cluster) -> None:
    """Kill the worker processes of a local cluster at once (no restart), so that closing it after
    an error or an interrupt does not wait for the computations in flight."""
    import signal

    for nanny in list(getattr(cluster, "workers", {}).values()):
        with contextlib.suppress(Exception):
            nanny.auto_restart = False
            os.kill(nanny.process.process.pid, signal.SIGKILL)


#: glibc's mmap and trim thresholds of the local workers (bytes): arrays up to this size come from the heap and
#: freed memory up to it stays there, so the batched arrays of a job are not fresh pages at every step
WORKER_MALLOC_THRESHOLD = 2**30
#: the trim threshold Dask's Nanny gives its workers by default (distributed.nanny.pre-spawn-environ)
_DASK_TRIM_DEFAULT = 65536


def _keep_mmap_threshold(stack: contextlib.ExitStack) -> None:
    """Give the local workers glibc mmap and trim thresholds of :data:`WORKER_MALLOC_THRESHOLD` (1 GiB).

    Dask's Nanny sets ``MALLOC_TRIM_THRESHOLD_`` = 64 KiB for its workers, and setting any of glibc's malloc
    variables freezes its mmap threshold at 128 KiB: in the workers every array above that was a fresh mmap whose
    pages faulted in again, and the batched losses and gradients of the barcode sweep ran 2.3-2.6 x slower there
    than in a plain process (docs/distributed.md). A 64 MiB mmap threshold (the fix until 2026-12-07) left the
    largest jobs' arrays above it and the 64 KiB trim returning the heap's top at every free: the full sweep's
    width-256 jobs still made 95 M minor faults on Dask against 12 M in processes. With both thresholds at 1 GiB a
    fixed piece of the largest job's relaxation made 0.01 M faults and half the system time of a plain process
    (docs/benchmarks.md). A worker keeps up to 1 GiB of freed memory for reuse instead of returning it to the
    system. A value the user configured wins (a trim threshold other than Dask's default counts as configured).
    """
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    if str(env.get("MALLOC_TRIM_THRESHOLD_", _DASK_TRIM_DEFAULT)) == str(_DASK_TRIM_DEFAULT):
        env["MALLOC_TRIM_THRESHOLD_"] = WORKER_MALLOC_THRESHOLD
    env.setdefault("MALLOC_MMAP_THRESHOLD_", WORKER_MALLOC_THRESHOLD)
    stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": env}))


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


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none), without terminal codes."""
    from ._lib.text import exception_text

    return exception_text(exc, 100_000)
