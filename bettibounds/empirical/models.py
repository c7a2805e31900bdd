"""Landscapes of any PyTorch model: ``experiment_from_model`` and what it records.

``experiment_from_model(model, x, y, loss=..., region=..., grid=..., levels=...)`` returns a
:class:`ModelExperiment`, which :func:`~bettibounds.empirical.sampler.sample_landscape`,
:func:`~bettibounds.empirical.compare.analyze_landscape`, the grid barcodes, the plots and Dask take
exactly as they take an experiment file. The loss is evaluated by the ``"model"`` engine
(:class:`~bettibounds.engines.model_engine.ModelEngine`); parameter vectors are the varied
parameters in ``model.named_parameters()`` order (``parameters_to_vector``'s order).

Regions (``region=``)
---------------------
* ``{"kind": "slice", "directions": {"random": k, "seed": s, "normalization": "filter"}, "low": [...],
  "high": [...]}`` -- random Gaussian directions (numpy ``default_rng(seed)``, one (k, P) draw) around
  the model (or ``"center"``). ``"filter"`` is the filter normalisation of Li et al. (2018): every
  *filter* of a direction -- the slice along the first axis of a weight tensor of two or more axes:
  one output neuron's incoming weights (a row of a Linear weight), one output channel of a
  convolution -- is rescaled to the norm of the same filter of the centre; parameters of at most one
  axis (biases, the weights and biases of norm layers) get direction 0, as the authors' code does
  with its default ``ignore='biasbn'``. ``"unit"``: each direction scaled to norm 1; ``"none"``: raw.
* ``{"kind": "slice", "directions": [d_1, ..., d_k], ...}`` -- listed directions: flat (P,) vectors,
  state_dicts or models of the same architecture (their varied parameters are taken).
* ``{"kind": "line", "models": [a, b]}`` -- the line through two models: centre a, direction b - a
  (t = 0 is a, t = 1 is b; default range [-0.25, 1.25]).
* ``{"kind": "plane", "models": [a, b, c]}`` -- the plane through three models: centre a, directions
  b - a and c - a (the models at (0, 0), (1, 0), (0, 1)); ``"orthogonalize": true`` takes the second
  direction orthogonal to the first (c then sits at (<c - a, b - a> / |b - a|^2, 1)); default range
  [-0.25, 1.25] on both axes.
* ``{"kind": "pca", "trajectory": [checkpoint_0, ..., checkpoint_n], "components": 2}`` -- the PCA
  plane of a training trajectory (Li et al. 2018, section 7): the principal directions (unit
  vectors; PCA of the rows theta_i - theta_n, i < n, after subtracting their mean, as the authors'
  code does with scikit-learn's PCA), centred at the last checkpoint (or ``"center"``); the default
  range covers the projected trajectory with a 25 % margin.
* ``{"kind": "box", "low": [P numbers], "high": [P numbers]}`` -- a box over all varied parameters
  (e.g. ``parameters=["fc.bias"]`` makes a full-space box of a small subset possible).

Everything an answer depends on is recorded (:meth:`ModelExperiment.to_dict`): the model's class,
loss, reduction, the varied parameters, the data source (and the seeded subset's indices), the
direction source and seeds, the notes of the engine (a model switched to eval mode), and whether
the bound column applies (:func:`recognise_network`).

This module builds the experiment; its parts live in :mod:`.model_datasets` (:func:`model_data`),
:mod:`.model_regions` (the regions above: :func:`model_vector`, :func:`filter_normalize`) and
:mod:`.model_recognition` (:func:`recognise_network`, :data:`BOUNDED_LOSSES`), whose public names
are importable from here as before.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._lib.devices import resolve_device
from ..engines.model_engine import ModelEngine, ModelProblem
from ..engines.model_losses import REDUCTIONS
from ..errors import InvalidSpecError
from .model_datasets import model_data
from .model_recognition import BOUNDED_LOSSES, recognise_network
from .model_regions import filter_normalize, model_vector, resolve_region

__all__ = ["ModelExperiment", "experiment_from_model", "model_data", "model_vector", "filter_normalize",
           "recognise_network", "BOUNDED_LOSSES"]


@dataclass(frozen=True, eq=False)
class ModelExperiment:
    """A validated landscape experiment of a PyTorch model (what :func:`experiment_from_model` builds).

    Attributes
    ----------
    problem : ModelProblem
        Model, loss, reduction, varied parameters and the train-mode policy.
    x, y : torch.Tensor
        The data on the CPU (floating inputs and targets in float64, class indices int64).
    region : dict
        ``{"kind": "slice" | "box", "low": [...], "high": [...]}`` (a line, plane or PCA region is a
        slice whose centre and directions are :attr:`center` and :attr:`directions`).
    center : numpy.ndarray (P,)
        The slice's centre (the model's own varied parameters unless given).
    directions : numpy.ndarray (k, P) or None
    direction_source : dict
        How the directions were made (kind, seeds, normalisation, models' coordinates, PCA variance).
    spec : ArchitectureSpec or None
        The symbolic engine's network when the model is one (:func:`recognise_network`): the bound
        column is computed for it; None otherwise, with :attr:`bound_reason`.
    checked_engine : ModelEngine or None
        The float64 CPU engine that made the model's checks, reused (as copies) by :meth:`make_engine`;
        not pickled.
    """

    problem: ModelProblem
    x: torch.Tensor
    y: torch.Tensor
    region: dict
    grid: list | None
    levels: list | None
    homology_dims: list | None
    center: np.ndarray
    directions: np.ndarray | None
    direction_source: dict
    names: tuple
    n_params: int
    spec: Any = None
    bound_reason: str | None = None
    bound_levels_below: float | None = None
    data_source: dict = field(default_factory=dict)
    notes: tuple = ()
    slice_trick: str | None = None
    compile: bool = False
    #: the float64 CPU model engine that made the checks (None: none kept); see :meth:`make_engine`
    checked_engine: Any = field(default=None, repr=False, compare=False)

    #: what :func:`~bettibounds.empirical.sampler.sample_landscape` dispatches on
    kind = "model"

    def __getstate__(self) -> dict:
        # a pickled experiment (a Dask task, a cache) does not carry the engine: make_engine builds one there
        return {**self.__dict__, "checked_engine": None}

    def make_engine(self, device=None, dtype: str | None = None) -> ModelEngine:
        """The model engine of this experiment (``dtype=None``: float64; ``compile`` as built).

        On the CPU in float64 without ``compile``, a shallow copy of :attr:`checked_engine`: the engine
        :func:`experiment_from_model` built for its checks, with the same arguments, so the same engine
        (its checks, the slice trick's and the fast activations' set-up with their tests were made once:
        building it again cost 0.15-2.5 s each, three or four times per command). A copy, so that what a
        caller sets on it (``engine_reason``) stays its own; the model's private copy is shared, as it is
        between the calls of one engine."""
        dt = "float64" if dtype is None else dtype
        kept = self.checked_engine
        if kept is not None and not self.compile and dt == "float64" and kept.dtype == torch.float64 \
                and kept.device == resolve_device(device):
            import copy

            return copy.copy(kept)
        return ModelEngine(self.problem, self.x, self.y, device=device, dtype=dt, compile=self.compile)

    def slice_basis(self) -> tuple[np.ndarray, np.ndarray, dict]:
        """(center, directions, direction_source) of the slice."""
        if self.directions is None:
            raise InvalidSpecError("this experiment's region is a box, not a slice")
        return self.center, self.directions, dict(self.direction_source)

    def record(self) -> dict:
        """What a result records about the model and its data."""
        p = self.problem
        return {"model": type(p.model).__name__, "loss": p.loss_name,
                "reduction": p.reduction if isinstance(p.loss, str) else "the callable's own",
                "reduction_meaning": REDUCTIONS[p.reduction] if isinstance(p.loss, str)
                else "whatever the callable returns",
                "parameters": list(self.names), "n_params": self.n_params, "mode": p.mode,
                "data": dict(self.data_source), "notes": list(self.notes), "slice_trick": self.slice_trick,
                "compile": self.compile,
                "bound": "computed" if self.spec is not None else None, "no_bound_reason": self.bound_reason}

    def to_dict(self) -> dict:
        """JSON-ready provenance (the data and parameters themselves are not included)."""
        return {"record": self.record(), "region": self.region, "grid": self.grid, "levels": self.levels,
                "homology_dims": self.homology_dims, "direction_source": self.direction_source,
                "spec": None if self.spec is None else self.spec.to_dict()}


# ------------------------------------------------------------------ the experiment
def experiment_from_model(model, x, y=None, *, loss: Any = "mse", region: dict, grid, levels=None,
                          homology_dims=None, reduction: str = "torch", parameters=None, mode: str = "refuse",
                          samples: int | None = None, seed: int = 0,
                          compile: bool = False) -> ModelExperiment:
    """A landscape experiment of any ``torch.nn.Module`` on its data, validated before any work.

    Parameters
    ----------
    model : torch.nn.Module
        Any module whose forward is a function of its parameters and the input (the model engine's
        checks: :class:`~bettibounds.engines.model_engine.ModelEngine`). Never modified.
    x, y : tensors, numpy arrays; or x a Dataset / DataLoader of pairs and y None
        The data (:func:`model_data`).
    loss : str or callable
        ``"mse"``, ``"bce"`` (probabilities), ``"bce_with_logits"``, ``"cross_entropy"`` (class
        indices, one-hot or soft labels), ``"nll"``, or ``loss(prediction, target) -> scalar``.
    region : dict
        See the module docstring: slice (random or listed directions), line, plane, pca, box.
    grid : list of int
        Points per axis of the region.
    levels, homology_dims : optional
        As in an experiment file.
    reduction : {"torch", "theory"}
        ``"torch"`` (default): torch's default reduction (mean over all elements for mse/bce); ``"theory"``:
        summed over outputs, averaged over samples. Recorded on every result.
    parameters : list of str, callable or None
        The varied parameters (names or module prefixes); ``None``: every trainable one.
    mode : {"refuse", "eval"}
        What to do with a model in train mode whose output depends on it.
    samples, seed : int
        A seeded subset of the data (``None``: all of it).
    compile : bool
        Evaluate the grid with ``torch.compile`` (the model engine's ``compile`` option: 10-20 s to
        compile, then 0.8-1.7x the plain engine's rate on the CPU, depending on the model and
        precision; docs/benchmarks.md).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).eval()
    >>> x, y = torch.randn(8, 2), torch.randn(8, 1)
    >>> exp = experiment_from_model(net, x, y, region={"kind": "slice", "directions": {"random": 2, "seed": 0},
    ...                             "low": [-1, -1], "high": [1, 1]}, grid=[5, 5], levels=[0.5])
    >>> exp.n_params, exp.directions.shape, exp.spec is not None
    (13, (2, 13), True)
    """
    if not isinstance(compile, bool):
        raise InvalidSpecError(f"compile must be true or false, got {compile!r}")
    problem = ModelProblem(model, loss, reduction, None if parameters is None or callable(parameters)
                           else tuple([parameters] if isinstance(parameters, str) else parameters), mode)
    xt, yt, source = model_data(x, y, samples=samples, seed=seed)
    engine = ModelEngine(problem, xt, yt, device="cpu", dtype="float64")  # every check of the model, now
    if callable(parameters):  # a predicate: fix the names it selected
        problem = ModelProblem(model, loss, reduction, tuple(engine.names), mode)
    params = dict(problem.model.named_parameters())
    shapes = [tuple(params[n].shape) for n in engine.names]
    reg, center, D, dsource = resolve_region(region, engine.names, shapes, engine.center, problem.model)
    if grid is None or not isinstance(grid, (list, tuple)) or not all(
            isinstance(g, numbers.Integral) and not isinstance(g, bool) and int(g) >= 2 for g in grid):
        raise InvalidSpecError("grid must be a list of integers >= 2 (points per axis)")
    grid = [int(g) for g in grid]
    n = engine.n_params if D is None else D.shape[0]
    if len(grid) != n:
        raise InvalidSpecError(f"grid has {len(grid)} sizes for a {n}-dimensional region")
    if math.prod(grid) > 10**9:
        raise InvalidSpecError(f"grid has {math.prod(grid):.3g} points (> 1e9): use a coarser grid or a slice")
    if levels is not None:
        try:
            levels = [float(v) for v in levels]
        except (TypeError, ValueError):
            raise InvalidSpecError("levels must be a list of numbers") from None
        if not all(math.isfinite(v) for v in levels):
            raise InvalidSpecError("levels must be finite numbers")
    if homology_dims is not None:
        dims = list(homology_dims)
        if not dims or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and 0 <= int(k) < n
                               for k in dims) or any(a >= b for a, b in zip(dims, dims[1:])):
            raise InvalidSpecError(f"homology_dims must be a strictly increasing non-empty list of dimensions in "
                                   f"0..{n - 1}, got {homology_dims!r}")
        homology_dims = [int(k) for k in dims]
    spec, reason = recognise_network(problem, xt, yt)
    below = None
    if spec is not None and problem.loss == "bce":
        # torch's binary_cross_entropy clamps each log at -100: a term differs from the analytic one only
        # where it is >= 100, i.e. where the loss is >= 100 / (its normaliser)
        outputs = int(spec.outputs)
        below = 100.0 / (engine.m * outputs if problem.reduction == "torch" else engine.m)
    # the checking engine is the one make_engine would build (same problem, data, cpu, float64, no compile) unless
    # the varied parameters were a predicate (the experiment's problem then names them instead)
    kept = None if callable(parameters) else engine
    return ModelExperiment(problem, xt, yt, reg, grid, levels, homology_dims, center, D, dsource,
                           tuple(engine.names), engine.n_params, spec, reason, below, source, tuple(engine.notes),
                           engine.slice_trick, compile, kept)
