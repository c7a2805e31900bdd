"""The empirical side: experiment files, batched loss landscapes, sublevel persistence.

Modules: ``experiment`` (files), ``kernels`` (the batched loss, ``from_sequential``,
``experiment_from_sequential``), ``models`` (any PyTorch model: ``experiment_from_model``),
``paths`` (paths between two models, barriers), ``model_files`` (model experiment files),
``training`` (``train_to_minimum``: a trained centre for a slice),
``sampler`` (grids), ``persistence`` (diagrams, Betti curves), ``compare`` (flags and the theory
beside the data), ``plots``.

The public names are importable from this package (``from bettibounds.empirical import
experiment_from_model, sample_landscape, analyze_landscape``); each is loaded on first use, so
importing the package imports nothing heavy (modules that need torch or gudhi import them
themselves).
"""

from __future__ import annotations

import importlib

#: public name -> the module that defines it
_EXPORTS = {
    "Experiment": "experiment", "load_experiment": "experiment", "parse_experiment": "experiment",
    "LandscapeSample": "sampler", "sample_landscape": "sampler", "make_kernel": "sampler",
    "resolve_directions": "sampler", "grid_axes": "sampler", "refined_grid": "sampler", "estimate_run": "sampler",
    "PersistenceDiagram": "persistence", "sublevel_persistence": "persistence", "betti_curve": "persistence",
    "betti_numbers_at": "persistence",
    "LandscapeResult": "compare", "analyze_landscape": "compare", "compare_with_bound": "compare",
    "touches_boundary": "compare",
    "plot_landscape": "plots",
    "LossKernel": "kernels", "from_sequential": "sequential", "experiment_from_sequential": "sequential",
    "ModelExperiment": "models", "experiment_from_model": "models", "model_data": "models",
    "model_vector": "models", "filter_normalize": "models", "recognise_network": "models",
    "PathResult": "paths", "path_between": "paths", "plot_path": "paths", "barrier_heights": "paths",
    "load_model_experiment": "model_files",
    "TrainedMinimum": "training", "train_to_minimum": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bettibounds.empirical' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
