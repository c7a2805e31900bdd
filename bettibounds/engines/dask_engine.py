"""The Dask engine: :class:`DaskEvaluator`, another engine's loss at many points evaluated by
the workers of a ``dask.distributed`` cluster (the ``"dask"`` entry of :data:`bettibounds.engines.ENGINES`).

The spec (or model) and the data are scattered to every worker once, the center and directions
of a slice once per grid; each worker thread builds its engine once (GPU workers on their GPU),
keeps it with its buffers, and evaluates the blocks of points sent to it. Starting a cluster
(:func:`bettibounds.distributed.dask_client`) and the jobs built on this engine
(:func:`~bettibounds.distributed.landscape_sampler`, :func:`~bettibounds.distributed.map_jobs`)
live in :mod:`bettibounds.distributed`, which re-exports :class:`DaskEvaluator`.

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
import math
import numbers
import os
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._lib.arrays import as_float64
from ..errors import InvalidSpecError, SchedulerError
from .validation import check_mode, check_points

__all__ = ["DaskEvaluator", "DASK_ENGINES", "dask_distributed", "positive_int", "worker_failure"]

#: the ``engine`` values the Dask evaluator runs on its workers (it knows how to size their chunks and
#: check their points on the client); another engine of the registry is refused, never replaced
DASK_ENGINES = ("auto", "torch", "fused", "model")

_INSTALL = 'pip install -e ".[dist]"'
#: kernels a worker thread keeps (one per scattered payload); older ones are dropped
_CACHE_SIZE = 2
#: points per chunk of a fused-engine run when none is given (the fused kernel evaluates each point
#: on its own, so the partition does not change its results)
_FUSED_CHUNK = 4096
#: per worker thread: {(payload token, engine): kernel (LossKernel or FusedKernel)}; a thread's kernel keeps its buffers
#: from block to block (fresh buffers per block cost about half as much again: page faults)
_WORKER = threading.local()


def dask_distributed():
    """The ``distributed`` package, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        name = getattr(exc, "name", None) or "distributed"
        raise InvalidSpecError(f"distributed evaluation needs Dask ({name} is not installed): {_INSTALL}") from None
    return distributed


def positive_int(name: str, value, allow_none: bool = True):
    """``value`` as an int when it is a positive integer (or None, with ``allow_none``), else a one-line
    error naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidSpecError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


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
    engine: str = "auto"  # as requested; each block names the engine that evaluates it


@dataclass(frozen=True)
class _Affine:
    """The slice of one grid: center (P,) and directions (k, P), scattered once per grid."""

    center: np.ndarray
    directions: np.ndarray


def _worker_kernel(payload: _Payload, engine: str):
    """This worker thread's kernel of ``engine`` ("torch": ``LossKernel``, "fused": ``FusedKernel``)
    for ``payload``, built on its first block and kept.

    One per thread, not per process: the kept workspace is written by every evaluation.
    """
    kernels = getattr(_WORKER, "kernels", None)
    if kernels is None:
        kernels = _WORKER.kernels = {}
    key = (payload.token, engine)
    kernel = kernels.get(key)
    if kernel is None:
        from .torch_kernel import LossKernel

        if engine == "model":  # the model arrived once with the payload; each thread has its own copy
            from .model_engine import ModelEngine

            kernel = ModelEngine(payload.spec, payload.x, payload.y, device=payload.device, dtype=payload.dtype)
        elif engine == "fused":
            from .fused import FusedKernel

            kernel = FusedKernel(payload.spec, payload.x, payload.y, device="cpu", dtype=payload.dtype)
        elif engine == "torch":
            kernel = LossKernel(payload.spec, payload.x, payload.y, device=payload.device,
                                dtype=payload.dtype).keep_workspace()
        else:  # the client refuses every other name (DASK_ENGINES): never replace an engine silently
            raise InvalidSpecError(f"a Dask worker runs the torch, fused and model engines, not {engine!r}")
        while len(kernels) >= _CACHE_SIZE:
            kernels.pop(next(iter(kernels)))
        kernels[key] = kernel
    return kernel


def _fused_threads() -> int:
    """Give this worker thread's numba parallel regions as many threads as the worker process's
    OMP_NUM_THREADS (which Dask sets to 1 for the worker processes it starts, one per core, and
    which torch follows), at most numba's pool; the count is per calling thread. Returns it."""
    import numba

    want = os.environ.get("OMP_NUM_THREADS", "")
    if want.isdigit() and int(want) >= 1:
        # numba.config sets its options at import (from the environment): its stubs cannot list them
        numba.set_num_threads(min(int(want), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    return numba.get_num_threads()


def _evaluate_block(payload: _Payload, affine: _Affine | None, points: np.ndarray, chunk: int, engine: str):
    """Loss at one block of points with ``engine``, in chunks of ``chunk`` (runs on a worker)."""
    kernel = _worker_kernel(payload, engine)
    if engine == "fused":
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

    A stand-in for :class:`~bettibounds.engines.torch_kernel.LossKernel` wherever only
    :meth:`evaluate_chunked` and ``device`` are used (``sample_landscape(kernel=...)``).

    Parameters
    ----------
    client : distributed.Client
        From :func:`dask_client` (or your own).
    spec, x, y :
        As for ``LossKernel``; validated here, on the client, before anything is sent.
    device : {None, "cpu", "cuda", "cuda:<i>"}
        The workers' device; ``None``: each worker uses CUDA when it has it, else the CPU
        (always the CPU with the fused engine; ``engine="auto"`` decides on the client: the fused
        engine unless the client sees a GPU, so name ``"cuda"`` for GPU workers).
    dtype : {None, "float64", "float32"}
        ``None``: float64.
    chunk : int, optional
        Points per kernel batch. ``None``: ``LossKernel.chunk_size`` computed on the client,
        the chunk the in-process run uses -- that is what makes the result bit-identical to
        it. One chunk bounds a worker's working memory. The fused engine evaluates each point
        on its own, so its results are bit-identical to the in-process engine's for any
        partition (its chunk is 4096 points unless given).
    block : int, optional
        Points per Dask task, rounded up to whole chunks (default: one chunk).
    engine : {"auto", "torch", "fused", "model"}
        The workers' kernel (:data:`DASK_ENGINES`; another engine of the registry is refused):
        ``"auto"`` (the default) the one
        :func:`~bettibounds.engines.choice.choose_engine` picks for each evaluation (its
        mode, number of directions, precision and device; the fused engine falls back to the torch
        kernel where its precision could overflow), as in-process; ``"torch"``:
        :class:`~bettibounds.engines.torch_kernel.LossKernel`; ``"fused"``: the fused CPU engine
        :class:`~bettibounds.engines.fused.FusedKernel` (needs numba on the client and on every
        worker); ``"model"``: the model engine
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
        the devices the workers used, how many worker processes returned blocks, and the
        engine with the reason (also the attributes ``engine`` and ``engine_reason``).
    runs : list of dict
        ``info`` of every run of this evaluator (a landscape and its refined grid are two).

    Raises
    ------
    InvalidSpecError
        Dask is missing, or bad spec, data or options (one line, before any work).
    """

    def __init__(self, client, spec, x, y, *, device=None, dtype: str | None = None, chunk: int | None = None,
                 block: int | None = None, progress: bool = False, callback=None, engine: str = "auto"):
        distributed = dask_distributed()
        from .._lib.arrays import as_matrix
        from . import engine_choices
        from .choice import choose_engine
        from .torch_kernel import LossKernel

        if engine not in engine_choices():
            raise InvalidSpecError(f"engine must be one of {', '.join(engine_choices())}, got {engine!r}")
        if engine not in DASK_ENGINES:
            raise InvalidSpecError(f"the Dask evaluator runs the engines {', '.join(DASK_ENGINES)}; engine {engine!r} "
                                   "runs in this process only (no scheduler)")
        if not isinstance(client, distributed.Client):
            raise InvalidSpecError(
                f"client must be a distributed.Client (see dask_client), got {type(client).__name__}")
        if device is not None and not (isinstance(device, str) and re.fullmatch(r"cpu|cuda(:\d+)?", device)):
            raise InvalidSpecError(f"device must be None (each worker: CUDA when it has it, else CPU), 'cpu', 'cuda' "
                                   f"or 'cuda:<index>', got {device!r}")
        if callback is not None and not callable(callback):
            raise InvalidSpecError("callback must be callable as callback(points_done, points_total)")
        self.chunk = positive_int("chunk", chunk)
        self.block = positive_int("block", block)
        self.requested_engine = engine
        dtype = "float64" if dtype is None else dtype
        # the client-side kernels validate spec, data and dtype now; the torch one sizes chunks as
        # in-process, the fused one runs the fused workers' checks before a block is sent
        self._torch = self._fused = self._model = None
        if engine == "fused":
            from .fused import FusedKernel

            if device not in (None, "cpu"):
                raise InvalidSpecError(f"the fused engine runs on the CPU only, got device={device!r}; use the "
                                       "torch engine for CUDA")
            device = "cpu"
            self._fused = FusedKernel(spec, x, y, dtype=dtype)
        elif engine == "model":
            from .model_engine import ModelEngine

            self._model = ModelEngine(spec, x, y, device="cpu", dtype=dtype)
        else:
            self._torch = LossKernel(spec, x, y, device="cpu", dtype=dtype)
            if engine == "auto" and choose_engine(spec, None, None, dtype, device)[0] == "fused":
                from .fused import FusedKernel

                try:  # numba present but unusable: the torch kernel (its checks above passed)
                    self._fused = FusedKernel(spec, x, y, dtype=dtype)
                except InvalidSpecError:
                    self._fused = None
        self._local = self._kernel(engine)
        self.engine: str = engine  # the last run's engine and why
        self.engine_reason: str | None = None
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
        <bettibounds.engines.torch_kernel.LossKernel.evaluate_chunked>`; with the same
        ``chunk`` (by default the one the in-process kernel would choose) the float64 CPU
        result is bit-identical.

        Returns
        -------
        numpy.ndarray of float64, shape (N,)
        """
        if self._payload is None:
            raise InvalidSpecError("this DaskEvaluator was closed; build a new one")
        check_mode(mode, center, directions)
        chunk = positive_int("chunk", chunk) or self.chunk
        engine, reason = self._engine_for(points, mode, center, directions)
        kern = self._kernel(engine)
        if engine == "fused":  # every check of the workers' fused kernels, here and now
            points, _ = kern.prepare(points, mode, center=center, directions=directions, check_memory=False)
            chunk = chunk or _FUSED_CHUNK
        affine = None
        if mode == "slice":
            # validates shapes and finiteness (the fused kernel's prepare did above)
            k = width = points.shape[1] if engine == "fused" else kern.plan_slice(center, directions).k
            # float64 on the wire: the worker's kernel converts exactly as the in-process one does
            affine = _Affine(as_float64("center", center), as_float64("directions", directions))
        else:
            k, width = 0, kern.n_params
        points = check_points(as_float64("points", points), mode, width)
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
        out = self._run(points, starts, per_block, chunk, affine, out,
                        self.progress if progress is None else progress, mode, engine)
        self.engine, self.engine_reason = engine, reason
        self.info.update(engine=engine, engine_reason=reason)
        return out

    def _kernel(self, engine: str) -> Any:
        """The in-process engine of that name (fused, model; else torch) whose checks the client runs
        and whose chunk size the workers use; the three have different types, used by duck typing."""
        kern = {"fused": self._fused, "model": self._model}.get(engine) or self._torch
        assert kern is not None  # __init__ builds the requested engine, and the torch kernel for auto
        return kern

    def _engine_for(self, points, mode: str, center, directions) -> tuple[str, str]:
        """(engine, reason) of one evaluation: as requested, or for ``"auto"`` the choice of
        :func:`~bettibounds.engines.choice.choose_engine` for this mode, number of directions and
        number of points (a tiny evaluation goes to the torch kernel, as in process), and the torch
        kernel where the fused engine's precision could overflow on these points (its guard, run here on the client)."""
        from .choice import resolve_engine
        from .fused import FusedRangeError

        if self.requested_engine != "auto":
            return self.requested_engine, "requested"
        if self._fused is None:
            name, reason = resolve_engine("auto", self.spec, None, None, self.dtype, self._requested_device)
            if name == "fused":  # supported, but its kernel could not be built here
                return "torch", "auto: the fused engine could not start on the client; the torch kernel evaluates it"
            return name, reason
        k = None
        if mode == "slice" and directions is not None:
            shape = np.shape(as_float64("directions", directions))
            k = 1 if len(shape) == 1 else shape[0]
        name, reason = resolve_engine("auto", self.spec, "slice" if mode == "slice" else "box", k, self.dtype,
                                      self._requested_device, int(np.shape(points)[0]))
        if name == "fused":
            try:
                self._fused.prepare(points, mode, center=center, directions=directions, check_memory=False)
            except FusedRangeError as exc:
                return "torch", f"auto: the fused engine refused these points ({exc}); the torch kernel evaluates them"
        return name, reason

    def _run(self, points, starts, per_block, chunk, affine, out, progress, mode, engine) -> np.ndarray:
        distributed = dask_distributed()
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
                                chunk, engine, key=f"bettibounds-block-{run}-{i}")
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
            for fut, result in queue:
                if isinstance(result, BaseException):  # with_results hands back a failed block's exception
                    raise worker_failure(result, client)
                values, device, pid = result
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


def worker_failure(exc: BaseException, client=None) -> BaseException:
    """The exception to raise for a task that came back failed: the cluster losing the work (its
    workers killed or gone: a cancelled future, ``KilledWorker``) is a :class:`SchedulerError`; an
    exception raised by the work itself is returned as it is."""
    import concurrent.futures

    distributed = dask_distributed()
    lost = (concurrent.futures.CancelledError, distributed.KilledWorker)
    if not isinstance(exc, lost):
        return exc
    where = ""
    with contextlib.suppress(Exception):
        where = f" at {client.scheduler.address}"
    return SchedulerError(f"the Dask cluster{where} lost the work ({type(exc).__name__}): its workers died or were "
                          "stopped while computing (killed, out of memory, or the scheduler shut down); start "
                          "workers again and rerun, or run in this process (no --scheduler)")


def _host(v):
    """A tensor detached on the CPU (what a worker unpickles), anything else as it is."""
    return v.detach().cpu() if hasattr(v, "detach") and hasattr(v, "cpu") else v


def _bar(progress: bool, total: int, desc: str):
    from .._lib.progress import progress_bar

    return progress_bar(progress, total, desc)
