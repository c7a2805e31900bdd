"""Landscape sampling: the grid of an experiment, evaluated by the batched kernel.

``sample_landscape(experiment)`` returns a :class:`LandscapeSample`: the loss on the
grid (values on grid vertices, the V-construction of docs/usage.md, "Landscapes"), the axes, and everything
needed to repeat the run (the directions actually used, seeds, device, dtype, timings).

Regions (docs/usage.md, "Experiment files"):

* ``{"kind": "box", "low": [P numbers], "high": [P numbers]}`` -- the whole parameter
  space of a tiny network, one grid axis per parameter;
* ``{"kind": "slice", "center": [P], "directions": [[P], ...] | {"random": k, "seed": s,
  "normalization": "filter" | "unit" | "none"}, "low": [k], "high": [k]}`` -- theta =
  center + sum_j t_j d_j. ``filter`` normalisation (Li et al. 2018): each filter of a
  random Gaussian direction -- the incoming weights of one unit, a row of W_l -- is
  rescaled to the norm of the same filter of the center; bias entries are set to 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidSpecError
from ..pfaffian.network import build_params
from .grid_memory import check_grid_fits

__all__ = ["LandscapeSample", "sample_landscape", "make_kernel", "resolve_directions", "grid_axes", "refined_grid",
           "estimate_run", "experiment_engine", "check_slice_rank", "model_engine_refusal", "landscape_points"]


@dataclass
class LandscapeSample:
    """Loss values on a grid, with provenance."""

    values: np.ndarray
    axes: list
    kind: str
    center: np.ndarray | None = None
    directions: np.ndarray | None = None
    direction_source: dict = field(default_factory=dict)
    device: str = "cpu"
    dtype: str = "float64"
    seconds: float = 0.0
    points: int = 0
    engine: str = "torch"
    compile_seconds: float | None = None  # fused engine: compiling/loading the kernel (part of seconds)
    engine_reason: str | None = None  # why this engine ran ("auto: ..." or "requested"; None: a given kernel)
    model: dict | None = None  # model experiments: the model engine's record (loss, reduction, parameters, ...)

    @property
    def dimension(self) -> int:
        return self.values.ndim

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "grid": list(self.values.shape),
            "axes": [[float(a[0]), float(a[-1]), len(a)] for a in self.axes],
            "center": None if self.center is None else [float(v) for v in self.center],
            "directions": None if self.directions is None else [[float(v) for v in d] for d in self.directions],
            "direction_source": self.direction_source,
            "device": self.device, "dtype": self.dtype, "engine": self.engine, "engine_reason": self.engine_reason,
            "points": self.points, "seconds": round(self.seconds, 4),
            "compile_seconds": None if self.compile_seconds is None else round(self.compile_seconds, 4),
            "min": float(self.values.min()), "max": float(self.values.max()),
            **({} if self.model is None else {"model": self.model}),
        }


def _floats(path: str, v, n: int) -> np.ndarray:
    if not isinstance(v, list) or len(v) != n:
        raise InvalidSpecError(f"experiment {path}: must list {n} numbers")
    try:
        arr = np.array([float(t) for t in v], dtype=float)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"experiment {path}: must list {n} numbers") from None
    if not np.all(np.isfinite(arr)):
        raise InvalidSpecError(f"experiment {path}: numbers must be finite")
    return arr


def _filter_normalise(spec, d: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Li et al. (2018) filter normalisation for fully connected layers (biases -> 0)."""
    layers, U = build_params(spec, lambda p: p)
    out = np.zeros_like(d)
    for W, b in layers:
        for row in W:
            idx = np.array(row)
            nd = np.linalg.norm(d[idx])
            out[idx] = d[idx] * (np.linalg.norm(center[idx]) / nd if nd > 0 else 0.0)
    if U is not None:
        for row in U:
            idx = np.array(row)
            nd = np.linalg.norm(d[idx])
            out[idx] = d[idx] * (np.linalg.norm(center[idx]) / nd if nd > 0 else 0.0)
    return out


def resolve_directions(spec, region: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """(center, directions (k, P), source description) of a slice region."""
    P = spec.n_params
    center = _floats("region.center", region.get("center"), P)
    dirs = region.get("directions")
    if isinstance(dirs, list):
        if not dirs:
            raise InvalidSpecError("experiment region.directions: give at least one direction")
        D = np.stack([_floats(f"region.directions[{j}]", d, P) for j, d in enumerate(dirs)])
        source: dict[str, object] = {"kind": "listed"}
    elif isinstance(dirs, dict) and "random" in dirs:
        k = dirs["random"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidSpecError("experiment region.directions.random: must be a positive integer")
        seed = dirs.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidSpecError(f"experiment region.directions.seed: must be an integer >= 0, got {seed!r}")
        norm = dirs.get("normalization", "filter")
        if norm not in ("filter", "unit", "none"):
            raise InvalidSpecError('experiment region.directions.normalization: must be "filter", "unit" or "none"')
        rng = np.random.default_rng(seed)
        D = rng.standard_normal((k, P))
        if norm == "filter":
            with np.errstate(over="ignore", invalid="ignore"):  # a norm beyond float64 is refused just below
                D = np.stack([_filter_normalise(spec, d, center) for d in D])
            if not np.isfinite(D).all():
                raise InvalidSpecError(
                    "experiment region.directions: filter normalisation scales each filter of a direction to the "
                    "norm of the centre's filter, and some filter of this centre has a norm beyond float64 "
                    '(about 1.8e308): rescale the centre, or use "normalization": "unit" or "none"')
            if not D.any():
                raise InvalidSpecError(
                    "experiment region.directions: filter normalisation scales each filter of a direction to the "
                    "norm of the centre's filter, and every filter of this centre has norm 0 (a zero centre?), so "
                    'every direction is 0: use "normalization": "unit" or "none", or a non-zero centre')
        elif norm == "unit":
            D = D / np.linalg.norm(D, axis=1, keepdims=True)
        source = {"kind": "random", "k": k, "seed": seed, "normalization": norm}
    else:
        raise InvalidSpecError('experiment region.directions: a list of P-vectors or {"random": k, "seed": s, '
                               '"normalization": "filter"}')
    zero = int(P - np.count_nonzero(D.any(axis=0)))
    check_slice_rank(D, "experiment region.directions", f"filter normalisation gives 0 on every filter whose centre "
                     f"filter is 0 ({zero} of the P = {P} coordinates here)"
                     if source.get("normalization") == "filter" else None)
    return center, D, source


def check_slice_rank(D: np.ndarray, where: str, filter_note: str | None = None) -> None:
    """Refuse slice directions ``D`` (k, P) that do not span a k-dimensional slice (exactly or numerically,
    by numpy's rank tolerance), saying why; ``filter_note``: what filter normalisation contributed, if used."""
    rank = int(np.linalg.matrix_rank(D))
    if rank < D.shape[0]:
        sv = np.linalg.svd(D, compute_uv=False)
        why = ("they are linearly dependent" if sv[-1] == 0 else
               f"numerically they span only {rank} dimension{'s' if rank != 1 else ''} (singular values from "
               f"{sv[0]:.3g} down to {sv[-1]:.3g}: directions of very different lengths, or nearly parallel ones)")
        if filter_note is not None:
            why += f"; {filter_note}"
        raise InvalidSpecError(f"{where}: the {D.shape[0]} directions do not span a {D.shape[0]}-dimensional slice: "
                               f"{why}")


def grid_axes(low, high, grid) -> list[np.ndarray]:
    """linspace(low_i, high_i, n_i) per axis, endpoints included (docs/usage.md, "Experiment files")."""
    if len(low) != len(high) or len(low) != len(grid):
        raise InvalidSpecError(f"experiment grid: {len(grid)} sizes for a {len(low)}-dimensional region")
    for i, (a, b) in enumerate(zip(low, high)):
        if not a < b:
            raise InvalidSpecError(f"experiment region: low[{i}] = {a} must be < high[{i}] = {b}")
        if not np.isfinite(float(b) - float(a)):
            raise InvalidSpecError(f"experiment region: axis {i} spans [{a}, {b}], wider than float64 can represent")
    return [np.linspace(a, b, n) for a, b, n in zip(low, high, grid)]


def refined_grid(grid, factor: int) -> list[int]:
    """(n - 1) * factor + 1 points per axis: the refined grid contains the original one."""
    return [(n - 1) * factor + 1 for n in grid]


def _mesh(axes) -> np.ndarray:
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))


def sample_landscape(experiment, *, grid=None, device=None, dtype: str | None = None, progress: bool = False,
                     kernel=None, engine: str | None = None) -> LandscapeSample:
    """Evaluate the experiment's loss on its grid (or on ``grid`` if given).

    Parameters
    ----------
    experiment : Experiment
        From :func:`bettibounds.empirical.experiment.load_experiment`; needs ``region`` and ``grid``.
    grid : list of int, optional
        Points per axis (overrides the file; used for the refined grid).
    device, dtype : str
        Passed to the kernel ("cuda" when available by default; ``dtype=None``: float64).
    progress : bool
        Progress bar for long runs.
    kernel : LossKernel or FusedKernel, optional
        Reuse a kernel (data already on the device); ``engine`` is then ignored. A compile (or load)
        the kernel did before any sample counted it -- while it was built, say -- is counted in
        this sample (``compile_seconds``, and in ``seconds``), once per kernel.
    engine : {None, "auto", "torch", "fused", "model"} or another name of :data:`bettibounds.engines.ENGINES`
        ``None`` (the default): ``"auto"`` for experiment files, ``"model"`` for a model experiment.
        ``"auto"``: the fastest engine that supports the experiment at this precision and device
        (:func:`~bettibounds.engines.choice.choose_engine`; the sample records which and why).
        ``"torch"``: :class:`~bettibounds.engines.torch_kernel.LossKernel` (any spec, CPU or CUDA, float64 or float32).
        ``"fused"``: :class:`~bettibounds.engines.fused.FusedKernel` (needs numba; tanh/logistic networks, MSE or
        BCE, slices with 1-4 directions and boxes, CPU, float64 or float32); an unsupported
        experiment is refused with the reason before any work. ``"model"``: the model engine, which
        evaluates any :class:`~.models.ModelExperiment` (``experiment_from_model``; ``"auto"``
        picks it there, or the fused engine for a recognised tanh / logistic MLP it supports:
        :func:`~.model_fused.model_kernel`). Any other registry name: that engine, built by
        :func:`~bettibounds.engines.build_engine` (the sample records it).
    """
    model_exp = getattr(experiment, "kind", None) == "model"
    spec = experiment.spec
    region = experiment.region
    if region is None or (grid is None and experiment.grid is None):
        raise InvalidSpecError('experiment: a landscape needs "region" and "grid"')
    grid = list(grid if grid is not None else experiment.grid)
    check_grid_fits(grid)
    if kernel is None:
        kernel = make_kernel(experiment, engine=engine, device=device, dtype=dtype, points=math.prod(grid))
    # a kernel that compiled (or loaded) while it was built, here or by the caller (the model route checks the fused
    # engine against the model engine at once), and that no sample has counted yet: that compile belongs to this
    # sample's time and is recorded as its compile_seconds, as a compile during its first evaluation is
    compiled_before = getattr(kernel, "compile_seconds", None)
    pending = compiled_before if not getattr(kernel, "compile_counted", False) else None
    t0 = time.perf_counter() - (pending or 0.0)
    if region["kind"] == "box":
        P = experiment.n_params if model_exp else spec.n_params
        if len(grid) != P:
            raise InvalidSpecError(f"experiment grid: a box over the P = {P} parameters needs {P} sizes")
        axes = grid_axes(_floats("region.low", region["low"], P), _floats("region.high", region["high"], P), grid)
        values = kernel.evaluate_chunked(_mesh(axes), mode="full", progress=progress)
        center = directions = None
        source: dict = {}
    else:
        # a model experiment resolved its directions from the model once, when it was built
        center, directions, source = experiment.slice_basis() if model_exp else resolve_directions(spec, region)
        k = directions.shape[0]
        if len(grid) != k:
            raise InvalidSpecError(f"experiment grid: a {k}-dimensional slice needs {k} sizes")
        axes = grid_axes(_floats("region.low", region.get("low"), k), _floats("region.high", region.get("high"), k),
                         grid)
        values = kernel.evaluate_chunked(_mesh(axes), mode="slice", center=center, directions=directions,
                                         progress=progress)
    values = np.asarray(values, dtype=float).reshape(grid)
    # read after the evaluation: a Dask evaluator with engine="auto" decides per evaluation
    engine = getattr(kernel, "engine", "torch")
    engine_reason = getattr(kernel, "engine_reason", None)
    # the precision the kernel really used (a stand-in kernel without one: the one asked for)
    used = str(getattr(kernel, "dtype", dtype or "float64")).replace("torch.", "")
    bad = ~np.isfinite(values)
    if bad.any():
        hint = ("float32 overflows above about 3.4e38: try --dtype float64 or a smaller region"
                if used == "float32" else "try a smaller region")
        raise InvalidSpecError(f"the loss is not finite (overflow) at {int(bad.sum())} of {values.size} grid points, "
                               f"so its sublevel persistence is undefined there; {hint}")
    record = None
    if model_exp:
        record = experiment.record()
        trick = getattr(kernel, "slice_trick", None)
        if trick is not None or hasattr(kernel, "slice_trick_reason"):
            record["slice_trick"] = trick
        if getattr(kernel, "compiled", None) is not None:  # the model engine's compile option
            record["compiled"], record["compile_reason"] = kernel.compiled, kernel.compile_reason
        if hasattr(kernel, "activations"):  # which tanh / logistic evaluated it
            record["activations"] = kernel.activations
            if getattr(kernel, "activations_reason", None) is not None:
                record["activations_reason"] = kernel.activations_reason
        if hasattr(kernel, "sample_blocks"):  # the model engine's sample blocks (or why none)
            record["sample_blocks"] = kernel.sample_blocks
            if kernel.sample_blocks is None:
                record["sample_blocks_reason"] = kernel.sample_blocks_reason
        if hasattr(kernel, "fused_first"):  # the model engine's fused first layer (or why none)
            record["fused_first"] = kernel.fused_first
            if kernel.fused_first is None:
                record["fused_first_reason"] = kernel.fused_first_reason
        if getattr(kernel, "slice_trick_memory", None) is not None:  # a slice too large for the trick's tables
            record["slice_trick_memory"] = kernel.slice_trick_memory
        if getattr(kernel, "loss_kernel", None) is not None:  # cross entropy by the vector code (either engine)
            record["loss_kernel"] = kernel.loss_kernel
    compiled = pending if pending is not None else (
        getattr(kernel, "compile_seconds", None) if compiled_before is None else None)
    if compiled is not None:
        try:  # the next sample on this kernel (the refined grid) does not count it again
            kernel.compile_counted = True
        except AttributeError:  # a kernel that takes no new attribute (slots): counted once per sample then
            pass
    return LandscapeSample(values, axes, region["kind"], center, directions, source, str(kernel.device),
                           used, time.perf_counter() - t0, int(values.size), engine, compiled, engine_reason, record)


def _slice_k(region: dict) -> int | None:
    """The number of directions a slice region names (None when it cannot be read)."""
    dirs = region.get("directions")
    k = dirs.get("random") if isinstance(dirs, dict) else len(dirs) if isinstance(dirs, list) else None
    return k if isinstance(k, int) and not isinstance(k, bool) else None


def _region_fits(kernel, experiment) -> None:
    """Run the fused kernel's checks on the experiment's whole region (its overflow guard on the
    largest coordinates, or parameters, of the region; nothing is evaluated): FusedRangeError
    when its precision could overflow there."""
    spec, region = experiment.spec, experiment.region
    if region["kind"] == "box":
        P = spec.n_params
        reach = np.maximum(np.abs(_floats("region.low", region["low"], P)),
                           np.abs(_floats("region.high", region["high"], P)))
        kernel.prepare(reach[None], "full", check_memory=False)
    else:
        center, directions, _ = resolve_directions(spec, region)
        k = directions.shape[0]
        reach = np.maximum(np.abs(_floats("region.low", region.get("low"), k)),
                           np.abs(_floats("region.high", region.get("high"), k)))
        kernel.prepare(reach[None], "slice", center=center, directions=directions, check_memory=False)


def landscape_points(grid, refine: int = 1) -> int:
    """How many points a landscape of ``grid`` evaluates, its refined grid (``refine`` > 1) included."""
    points = math.prod(int(n) for n in grid)
    return points + (math.prod(refined_grid(list(grid), refine)) if refine > 1 else 0)


def make_kernel(experiment, *, engine: str | None = None, device=None, dtype: str | None = None,
                points: int | None = None):
    """The loss kernel of an experiment for ``engine`` ("auto", "torch", "fused" or any other
    spec-based engine of :data:`bettibounds.engines.ENGINES`, built by
    :func:`~bettibounds.engines.build_engine`; "model" for a model experiment; ``None``: "auto"
    for experiment files, the model engine for a model experiment), refusing before any work what
    an explicitly requested engine cannot do.
    ``dtype=None``: float64.

    ``"auto"`` (:func:`~bettibounds.engines.choice.choose_engine`): the fused engine on the CPU when it
    supports the network, region and precision and its precision cannot overflow on the
    experiment's region (checked here on the region's extremes), else the torch kernel; for a model
    experiment, the fused engine where the model is a recognised tanh / logistic MLP it supports
    (mse, bce_with_logits, or a classifier's cross_entropy / nll after LogSoftmax; every parameter
    varied; :func:`~.model_fused.model_kernel`), else the model engine ("model": always the model
    engine). ``points``: how many points the kernel will evaluate (None: the experiment's grid), so
    that auto gives a tiny workload to the torch kernel
    (:data:`~bettibounds.engines.choice.SMALL_GRID_POINTS`). The kernel carries ``engine`` and
    ``engine_reason`` (why), which the samples record."""
    from ..engines import ENGINES
    from ..engines.choice import resolve_engine

    if getattr(experiment, "kind", None) == "model":
        if engine not in (None, "auto", "model"):
            raise InvalidSpecError(f"a model experiment (experiment_from_model) is evaluated by the model engine; "
                                   f"the {engine!r} engine evaluates spec-based networks (experiment files)")
        from .model_fused import model_kernel

        return model_kernel(experiment, engine, device, dtype)
    engine = "auto" if engine is None else engine
    if engine in ENGINES and ENGINES[engine].evaluates == "model":
        raise InvalidSpecError(f"the {engine} engine evaluates a torch.nn.Module: build the experiment with "
                               "experiment_from_model (the file's network is evaluated by the torch or fused engine)")
    spec = experiment.spec
    region = experiment.region or {}
    kind = region.get("kind")
    dtype = "float64" if dtype is None else dtype
    if points is None and experiment.grid is not None:
        points = landscape_points(experiment.grid)
    name, reason = resolve_engine(engine, spec, kind, _slice_k(region) if kind == "slice" else None, dtype, device,
                                  points)
    kernel: Any = None  # FusedKernel, LossKernel or any registry engine: each records engine_reason
    if name == "fused":
        from ..engines.fused import FusedKernel, FusedRangeError

        if engine == "fused" and kind == "slice":
            k = _slice_k(region)
            from ..engines.fused import fused_unsupported

            why = fused_unsupported(spec, k)
            if why is not None:
                raise InvalidSpecError(f"{why}; use the torch engine")
        if engine == "fused":
            kernel = FusedKernel(spec, experiment.x, experiment.y, device=device, dtype=dtype)
        else:
            try:  # numba present but unusable, say: the torch kernel (bad data fails there the same way)
                kernel = FusedKernel(spec, experiment.x, experiment.y, device=device, dtype=dtype)
                if kind in ("slice", "box"):
                    _region_fits(kernel, experiment)
            except FusedRangeError as exc:
                kernel, name = None, "torch"
                reason = f"auto: the fused engine refused the region ({exc}); the torch kernel evaluates it"
            except InvalidSpecError as exc:
                kernel, name = None, "torch"
                reason = f"auto: the fused engine could not start ({exc}); the torch kernel evaluates it"
    if kernel is None:  # torch, or any other engine of the registry: built by the registry, never replaced
        from ..engines import build_engine

        kernel = build_engine(name, spec, experiment.x, experiment.y, device=device, dtype=dtype)
        if getattr(kernel, "engine", None) != name:  # results record kernel.engine: it must be the one that ran
            raise InvalidSpecError(f"engine {name!r} built a {type(kernel).__name__} whose engine attribute is "
                                   f"{getattr(kernel, 'engine', None)!r}; an engine records its own registry name")
    kernel.engine_reason = reason
    return kernel


def model_engine_refusal(engine) -> str:
    """Why ``--engine ENGINE`` is refused for a PyTorch model (auto may still pick the fused engine for it)."""
    return (f"a PyTorch model is evaluated by the model engine (--engine model) or, with --engine auto, by the "
            f"fused engine where that recognises the model (a tanh / logistic MLP with mse, bce_with_logits, "
            f"cross_entropy, or nll after LogSoftmax); "
            f"--engine {engine} is not accepted for a model")


def experiment_engine(experiment, engine: str | None) -> str | None:
    """The engine to ask :func:`make_kernel` or :func:`sample_landscape` for, given a command line's
    ``--engine`` (whose default is auto): for a model experiment None -- its model engine -- when
    ``engine`` is None, auto or model, and a refusal for any other; for an experiment file,
    ``engine`` itself."""
    if getattr(experiment, "kind", None) != "model":
        return engine
    if engine not in (None, "auto", "model"):
        raise InvalidSpecError(model_engine_refusal(engine))
    return None


def estimate_run(experiment, kernel, refine: int = 1, probe: int | None = None) -> dict:
    """Time and memory a landscape run will take, from ``probe`` grid points evaluated now.

    ``probe=None``: one chunk of the kernel (at least 32, at most 1024 points), the batch size the run
    itself uses. Returns ``{"points", "seconds", "bytes"}``: every point of the grid and of the refined grid (when
    ``refine > 1``), the seconds they take at the rate of the probe (after a two-point warm-up; a
    probe smaller than a chunk runs below the full chunks' rate, so the estimate errs high), and the
    peak memory: one chunk of the kernel plus the host
    memory of the largest grid (values, coordinates and persistence).
    """
    from .grid_memory import grid_host_bytes

    grid = list(experiment.grid)
    grids = [grid] + ([refined_grid(grid, refine)] if refine > 1 else [])
    total = sum(int(np.prod(g)) for g in grids)
    region = experiment.region
    model_exp = getattr(experiment, "kind", None) == "model"
    if probe is None:
        k0 = 0 if region["kind"] == "box" else None
        size = 32
        if hasattr(kernel, "chunk_size"):
            size = kernel.chunk_size(int(np.prod(grid)), "full" if k0 == 0 else "slice", 0 if k0 == 0 else 2)
        probe = min(max(32, int(size)), 1024)
    n = min(probe, int(np.prod(grid)))
    if region["kind"] == "box":
        P = experiment.n_params if model_exp else experiment.spec.n_params
        axes = grid_axes(_floats("region.low", list(region["low"]), P), _floats("region.high", list(region["high"]), P),
                         grid)
        pts = np.stack([np.asarray(a)[np.arange(n) % len(a)] for a in axes], axis=1)
        mode, kw, k = "full", {}, 0
    else:
        center, directions, _ = experiment.slice_basis() if model_exp else resolve_directions(experiment.spec, region)
        k = directions.shape[0]
        axes = grid_axes(_floats("region.low", list(region["low"]), k), _floats("region.high", list(region["high"]), k),
                         grid)
        pts = np.stack([np.asarray(a)[np.arange(n) % len(a)] for a in axes], axis=1)
        mode, kw = "slice", {"center": center, "directions": directions}
    kernel.evaluate_chunked(pts[:2], mode, **kw)  # the first call's set-up (a slice's tables) is not the rate
    t0 = time.perf_counter()
    kernel.evaluate_chunked(pts, mode, **kw)
    rate = n / max(time.perf_counter() - t0, 1e-9)
    chunk_bytes = 0
    if hasattr(kernel, "chunk_size") and hasattr(kernel, "bytes_per_point"):
        chunk_bytes = kernel.chunk_size(int(np.prod(grids[-1])), mode, k) * kernel.bytes_per_point(mode, k)
    return {"points": total, "seconds": total / rate, "bytes": int(chunk_bytes + grid_host_bytes(grids[-1]))}
