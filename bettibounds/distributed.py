"""Distributed loss evaluation on Dask: one landscape grid, many workers, the same numbers.

Loss evaluation at grid points is embarrassingly parallel; persistence of the assembled
grid stays on one machine (docs/distributed.md says up to which grid size that is cheap).
This module spreads the evaluation over a ``dask.distributed`` cluster:

* :func:`dask_client` -- ``"local"`` starts (and afterwards stops) a ``LocalCluster`` of
  one single-threaded worker process per core; ``"tcp://host:port"`` connects to a running
  scheduler (``dask scheduler`` / ``dask worker tcp://host:port``);
* :class:`DaskEvaluator` -- a drop-in for :class:`~bettibounds.empirical.kernels.LossKernel`
  in :func:`~bettibounds.empirical.sampler.sample_landscape` (it has ``evaluate_chunked``
  and ``device``). The spec and the data are scattered to every worker once, the center and
  directions of a slice once per grid; each worker thread builds its ``LossKernel`` once
  (GPU workers on their GPU), keeps it with its buffers, and evaluates the blocks of
  points sent to it;
* :func:`map_jobs` -- many independent jobs (an architecture sweep, barcode samples),
  in-process or on a cluster, results in the order of the inputs.

Bit-identity with the in-process run. The kernel's value at a point depends on the batch
it is evaluated in (measured: MKL's dgemm takes another path for products with 1 to 3
rows, which the slice step ``[1, t] @ [center; directions]`` makes at a chunk of 1 to 3
points; vectorised elementwise operations such as ``sigmoid`` and ``log1p`` compute the
last few elements of a tensor in a scalar loop with different rounding). So the partition
of the points is fixed by construction: ``sample_landscape`` evaluates chunks
``[0, c), [c, 2c), ...`` with ``c = LossKernel.chunk_size(N, mode, k)``; a Dask block is a
run of whole chunks of the same ``c`` (computed on the client exactly as in-process), and
the worker evaluates it with ``chunk=c``. Every chunk is the same tensor computation in
both paths, hence the same float64 bits on CPUs of the same kind with the same torch
build (measured: the torch thread count, 1 on a Dask worker and 2 in-process here, and the
alignment of the arrays do not change the bits).

Fault tolerance is Dask's: a block whose worker dies is run again elsewhere, and each
block's result is written exactly once (a block that arrives twice, or never, is an
error, not a silent hole).
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import os
import re
import threading
import uuid
from dataclasses import dataclass

import numpy as np

from ._lib.arrays import as_float64
from .errors import InvalidSpecError

__all__ = ["DaskEvaluator", "dask_client", "landscape_sampler", "map_jobs"]

_INSTALL = 'pip install -e ".[dist]"'
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
#: kernels a worker thread keeps (one per scattered payload); older ones are dropped
_CACHE_SIZE = 2
#: points per chunk of a fused-engine run when none is given (the fused kernel evaluates each point
#: on its own, so the partition does not change its results)
_FUSED_CHUNK = 4096
#: per worker thread: {payload token: kernel (LossKernel or FusedSliceKernel)}; a thread's kernel keeps its buffers
#: from block to block (fresh buffers per block cost about half as much again: page faults)
_WORKER = threading.local()


def _distributed():
    """The ``distributed`` package, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        name = getattr(exc, "name", None) or "distributed"
        raise InvalidSpecError(f"distributed evaluation needs Dask ({name} is not installed): {_INSTALL}") from None
    return distributed


def _positive_int(name: str, value, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidSpecError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


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
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        if workers is not None:
            raise InvalidSpecError("workers applies to scheduler='local' only (the cluster already exists)")
        yield scheduler
        return
    scheduler = _check_scheduler(scheduler)
    workers = _positive_int("workers", workers)
    if not isinstance(timeout, numbers.Real) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidSpecError(f"timeout must be a positive number of seconds, got {timeout!r}")
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            _keep_mmap_threshold(stack)
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


def _keep_mmap_threshold(stack: contextlib.ExitStack) -> None:
    """Local workers get a 64 MiB mmap threshold: the Nanny's MALLOC_TRIM_THRESHOLD_ alone freezes glibc's at
    128 KiB, and batched gradients ran 2.3-2.6 x slower in the workers (docs/distributed.md)."""
    import dask

    env = {"MALLOC_MMAP_THRESHOLD_": 64 * 2**20, **(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})}
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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------- worker side
@dataclass(frozen=True)
class _Payload:
    """What every worker needs once: the network, the data and the kernel options."""

    token: str
    spec: object
    x: np.ndarray
    y: np.ndarray
    device: str | None
    dtype: str
    engine: str = "torch"


@dataclass(frozen=True)
class _Affine:
    """The slice of one grid: center (P,) and directions (k, P), scattered once per grid."""

    center: np.ndarray
    directions: np.ndarray


def _worker_kernel(payload: _Payload):
    """This worker thread's kernel for ``payload`` (``LossKernel``, or ``FusedSliceKernel`` for the
    fused engine), built on its first block and kept.

    One per thread, not per process: the kept workspace is written by every evaluation.
    """
    kernels = getattr(_WORKER, "kernels", None)
    if kernels is None:
        kernels = _WORKER.kernels = {}
    kernel = kernels.get(payload.token)
    if kernel is None:
        from .engines.torch_kernel import LossKernel

        if payload.engine == "model":  # the model arrived once with the payload; each thread has its own copy
            from .engines.model_engine import ModelEngine

            kernel = ModelEngine(payload.spec, payload.x, payload.y, device=payload.device, dtype=payload.dtype)
        elif payload.engine == "fused":
            from .empirical.fused import FusedSliceKernel

            kernel = FusedSliceKernel(payload.spec, payload.x, payload.y, device=payload.device, dtype=payload.dtype)
        else:
            kernel = LossKernel(payload.spec, payload.x, payload.y, device=payload.device,
                                dtype=payload.dtype).keep_workspace()
        while len(kernels) >= _CACHE_SIZE:
            kernels.pop(next(iter(kernels)))
        kernels[payload.token] = kernel
    return kernel


def _fused_threads() -> int:
    """Give this worker thread's numba parallel regions as many threads as the worker process's
    OMP_NUM_THREADS (which Dask sets to 1 for the worker processes it starts, one per core, and
    which torch follows), at most numba's pool; the count is per calling thread. Returns it."""
    import numba

    want = os.environ.get("OMP_NUM_THREADS", "")
    if want.isdigit() and int(want) >= 1:
        numba.set_num_threads(min(int(want), numba.config.NUMBA_NUM_THREADS))
    return numba.get_num_threads()


def _evaluate_block(payload: _Payload, affine: _Affine | None, points: np.ndarray, chunk: int):
    """Loss at one block of points, in chunks of ``chunk`` (runs on a worker)."""
    kernel = _worker_kernel(payload)
    if payload.engine == "fused":
        _fused_threads()
    if affine is None:
        values = kernel.evaluate_chunked(points, "full", chunk=chunk)
    else:
        values = kernel.evaluate_chunked(points, "slice", center=affine.center, directions=affine.directions,
                                         chunk=chunk)
    return values, str(kernel.device), os.getpid()


# ---------------------------------------------------------------- client side
class DaskEvaluator:
    """The loss of ``spec`` on (x, y) at many points, evaluated by the workers of a Dask cluster.

    A stand-in for :class:`~bettibounds.empirical.kernels.LossKernel` wherever only
    :meth:`evaluate_chunked` and ``device`` are used (``sample_landscape(kernel=...)``).

    Parameters
    ----------
    client : distributed.Client
        From :func:`dask_client` (or your own).
    spec, x, y :
        As for ``LossKernel``; validated here, on the client, before anything is sent.
    device : {None, "cpu", "cuda", "cuda:<i>"}
        The workers' device; ``None``: each worker uses CUDA when it has it, else the CPU
        (always the CPU with the fused engine).
    dtype : {None, "float64", "float32"}
        ``None``: the engine's own precision (float64 for torch, float32 for fused).
    chunk : int, optional
        Points per kernel batch. ``None``: ``LossKernel.chunk_size`` computed on the client,
        the chunk the in-process run uses -- that is what makes the result bit-identical to
        it. One chunk bounds a worker's working memory. The fused engine evaluates each point
        on its own, so its results are bit-identical to the in-process engine's for any
        partition (its chunk is 4096 points unless given).
    block : int, optional
        Points per Dask task, rounded up to whole chunks (default: one chunk).
    engine : {"torch", "fused", "model"}
        The workers' kernel: :class:`~bettibounds.empirical.kernels.LossKernel` (default),
        the fused float32 CPU engine :class:`~bettibounds.empirical.fused.FusedSliceKernel`
        (slices only; needs numba on the client and on every worker), or the model engine
        :class:`~bettibounds.engines.model_engine.ModelEngine`, for which ``spec`` is a
        :class:`~bettibounds.engines.model_engine.ModelProblem` (the module is pickled once, sent
        to every worker with the data, and each worker thread evaluates its own copy; its class
        must be importable on the workers).
    progress : bool
        A tqdm bar over the points, advanced as blocks come back from any worker.
    callback : callable, optional
        ``callback(points_done, points_total)`` after each block (custom progress).

    Attributes
    ----------
    info : dict
        The last run: scheduler address, workers, threads, points, chunk, block, blocks,
        the devices the workers used and how many worker processes returned blocks.
    runs : list of dict
        ``info`` of every run of this evaluator (a landscape and its refined grid are two).

    Raises
    ------
    InvalidSpecError
        Dask is missing, or bad spec, data or options (one line, before any work).
    """

    def __init__(self, client, spec, x, y, *, device=None, dtype: str | None = None, chunk: int | None = None,
                 block: int | None = None, progress: bool = False, callback=None, engine: str = "torch"):
        distributed = _distributed()
        from .engines import engine_names
        from ._lib.arrays import as_matrix
        from .engines.torch_kernel import LossKernel

        if not isinstance(client, distributed.Client):
            raise InvalidSpecError(
                f"client must be a distributed.Client (see dask_client), got {type(client).__name__}")
        if device is not None and not (isinstance(device, str) and re.fullmatch(r"cpu|cuda(:\d+)?", device)):
            raise InvalidSpecError(f"device must be None (each worker: CUDA when it has it, else CPU), 'cpu', 'cuda' "
                                   f"or 'cuda:<index>', got {device!r}")
        if callback is not None and not callable(callback):
            raise InvalidSpecError("callback must be callable as callback(points_done, points_total)")
        if engine not in engine_names():
            raise InvalidSpecError(f"engine must be one of {', '.join(engine_names())}, got {engine!r}")
        self.chunk = _positive_int("chunk", chunk)
        self.block = _positive_int("block", block)
        self.engine = engine
        # the client-side kernel validates spec, data and dtype now, and sizes chunks as in-process
        if engine == "fused":
            from .empirical.fused import FusedSliceKernel

            if device not in (None, "cpu"):
                raise InvalidSpecError(f"the fused engine runs on the CPU only, got device={device!r}; use the "
                                       "torch engine for CUDA")
            device = "cpu"
            self._local = FusedSliceKernel(spec, x, y, dtype="float32" if dtype is None else dtype)
        elif engine == "model":
            from .engines.model_engine import ModelEngine

            self._local = ModelEngine(spec, x, y, device="cpu", dtype="float64" if dtype is None else dtype)
        else:
            self._local = LossKernel(spec, x, y, device="cpu", dtype="float64" if dtype is None else dtype)
        self.client, self.spec = client, spec
        self.dtype = str(self._local.dtype).replace("torch.", "")
        self.progress, self.callback = progress, callback
        self._requested_device = device
        self._devices: set = set()
        self.info: dict = {}
        self.runs: list = []
        if engine == "model":  # any shapes (images, sequences): the engine checked them above
            xs, ys = _host(x), _host(y)
        else:
            xs, ys = as_matrix("x", x), as_matrix("y", y)
        payload = _Payload(uuid.uuid4().hex, spec, xs, ys, device, self.dtype, engine)
        # sent once; every worker keeps a replica, so a worker that joins later gets it from a peer
        self._payload = client.scatter(payload, broadcast=True, hash=False)

    @property
    def device(self) -> str:
        """The devices the workers used in the last run ("cpu", "cuda:0", ...), comma-separated."""
        if self._devices:
            return ",".join(sorted(self._devices))
        return self._requested_device or "auto"

    def __repr__(self) -> str:
        return f"DaskEvaluator(scheduler={self.client.scheduler.address!r}, {self._local!r})"

    def close(self) -> None:
        """Release the scattered network and data on the workers."""
        if self._payload is not None:
            self._payload.release()
            self._payload = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def evaluate_chunked(self, points, mode: str = "full", *, center=None, directions=None,
                         chunk: int | None = None, progress: bool | None = None) -> np.ndarray:
        """Loss at N points, blocks of whole chunks spread over the workers.

        Same contract as :meth:`LossKernel.evaluate_chunked
        <bettibounds.empirical.kernels.LossKernel.evaluate_chunked>`; with the same
        ``chunk`` (by default the one the in-process kernel would choose) the float64 CPU
        result is bit-identical.

        Returns
        -------
        numpy.ndarray of float64, shape (N,)
        """
        if self._payload is None:
            raise InvalidSpecError("this DaskEvaluator was closed; build a new one")
        if mode not in ("full", "slice"):
            raise InvalidSpecError(f"mode must be 'full' or 'slice', got {mode!r}")
        chunk = _positive_int("chunk", chunk) or self.chunk
        kern = self._local
        if self.engine == "fused":  # every check of the workers' fused kernels, here and now
            points, _ = kern.prepare(points, mode, center=center, directions=directions, check_memory=False)
            chunk = chunk or _FUSED_CHUNK
        affine = None
        if mode == "slice":
            if center is None or directions is None:
                raise InvalidSpecError("mode='slice' needs center (P,) and directions (k, P)")
            # validates shapes and finiteness (the fused kernel's prepare did above)
            k = width = points.shape[1] if self.engine == "fused" else kern.plan_slice(center, directions).k
            # float64 on the wire: the worker's kernel converts exactly as the in-process one does
            affine = _Affine(as_float64("center", center), as_float64("directions", directions))
        else:
            if center is not None or directions is not None:
                raise InvalidSpecError("center/directions are only used with mode='slice'")
            k, width = 0, kern.n_params
        points = as_float64("points", points)
        if points.ndim == 1 and mode == "slice" and k == 1:
            points = points.reshape(-1, 1)
        if points.ndim != 2 or points.shape[1] != width:
            what = f"(N, k={width}) slice coordinates" if mode == "slice" else f"(N, P={width}) parameter vectors"
            raise InvalidSpecError(f"points must have shape {what}, got {tuple(points.shape)}")
        if not np.isfinite(points).all():
            raise InvalidSpecError("points contains non-finite values (nan or inf)")
        N = int(points.shape[0])
        out = np.full(N, np.nan)
        if N == 0:
            return out
        # the in-process partition: chunks [0, c), [c, 2c), ...; a block is a run of whole chunks
        chunk = chunk or kern.chunk_size(N, mode, k)  # (the fused engine's is set above)
        per_block = chunk * max(1, math.ceil((self.block or chunk) / chunk))
        starts = list(range(0, N, per_block))
        return self._run(points, starts, per_block, chunk, affine, out,
                         self.progress if progress is None else progress, mode)

    def _run(self, points, starts, per_block, chunk, affine, out, progress, mode) -> np.ndarray:
        distributed = _distributed()
        client = self.client
        nthreads = client.nthreads()
        if not nthreads:
            raise InvalidSpecError(f"the Dask scheduler at {client.scheduler.address} has no workers")
        # blocks in flight at once: enough to keep every worker thread busy, few enough that the
        # points waiting on the scheduler stay bounded
        window = max(4, 2 * sum(nthreads.values()))
        run = uuid.uuid4().hex[:12]
        aff = None if affine is None else client.scatter(affine, broadcast=True, hash=False)
        N, done, pids, devices = out.shape[0], np.zeros(len(starts), dtype=bool), set(), set()
        index: dict = {}

        def submit(i):
            s = starts[i]
            fut = client.submit(_evaluate_block, self._payload, aff, np.ascontiguousarray(points[s:s + per_block]),
                                chunk, key=f"bettibounds-block-{run}-{i}")
            index[fut.key] = i
            return fut

        bar = _bar(progress, N, f"loss (dask, {len(nthreads)} workers, {mode})")
        pending = iter(range(len(starts)))
        # loop=client.loop: as_completed otherwise tracks the futures on the loop of the most
        # recently created client, which need not be this one (a race that can lose a block)
        queue = distributed.as_completed([submit(i) for _, i in zip(range(window), pending)], loop=client.loop,
                                         with_results=True)
        points_done = 0
        try:
            for fut, (values, device, pid) in queue:
                i = index.pop(fut.key)
                if done[i]:  # pragma: no cover - Dask delivers each future once
                    raise RuntimeError(f"block {i} came back twice")
                s = starts[i]
                out[s:s + values.shape[0]] = values
                done[i] = True
                devices.add(device)
                pids.add(pid)
                points_done += values.shape[0]
                nxt = next(pending, None)
                if nxt is not None:
                    queue.add(submit(nxt))
                if bar is not None:
                    bar.update(values.shape[0])
                if self.callback is not None:
                    self.callback(points_done, N)
        finally:
            if bar is not None:
                bar.close()
            if aff is not None:
                aff.release()
        if not done.all() or points_done != N:  # pragma: no cover - guarded by Dask's bookkeeping
            raise RuntimeError(f"{int((~done).sum())} of {len(starts)} blocks did not come back")
        self._devices = devices
        self.info = {"address": client.scheduler.address, "workers": len(nthreads),
                     "threads": int(sum(nthreads.values())), "points": int(N), "chunk": int(chunk),
                     "block": int(per_block), "blocks": len(starts), "worker_processes_used": len(pids),
                     "devices": sorted(devices)}
        self.runs.append(self.info)
        return out


def _host(v):
    """A tensor detached on the CPU (what a worker unpickles), anything else as it is."""
    return v.detach().cpu() if hasattr(v, "detach") and hasattr(v, "cpu") else v


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
        if engine not in (None, "torch", "model"):
            raise InvalidSpecError(f"a model experiment is evaluated by the model engine, not {engine!r}")
        evaluator = DaskEvaluator(client, experiment.problem, experiment.x, experiment.y, device=device,
                                  dtype=dtype, chunk=chunk, block=block, progress=progress, engine="model")
    else:
        evaluator = DaskEvaluator(client, experiment.spec, experiment.x, experiment.y, device=device, dtype=dtype,
                                  chunk=chunk, block=block, progress=progress, engine=engine or "torch")

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
    distributed = _distributed()
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
