"""The empirical side: experiment files, batched loss landscapes, sublevel persistence.

Modules: ``experiment`` (files), ``sequential`` (``from_sequential``,
``experiment_from_sequential``: an ``nn.Sequential`` as a spec), ``kernels`` (compatibility: the
names of 0.1, the torch engine now in :mod:`bettibounds.engines`), ``models`` (any PyTorch
model: ``experiment_from_model``; its data in ``model_datasets``, regions and directions in
``model_regions``, the bound column's recognition in ``model_recognition``), ``paths`` (paths
between two models, barriers), ``model_files`` (model experiment files), ``training``
(``train_to_minimum``: a trained centre for a slice), ``sampler`` (grids), ``persistence``
(diagrams, Betti curves), ``compare`` (flags and the theory beside the data), ``plots``.

The public names are importable from this package (``from bettibounds.empirical import
experiment_from_model, sample_landscape, analyze_landscape``); each is loaded on first use, so
importing the package imports nothing heavy (modules that need torch or gudhi import them
themselves).
"""

from __future__ import annotations

from .._lib.lazy import lazy_exports

#: public name -> the module that defines it
EXPORTS = {
    "Experiment": "experiment", "load_experiment": "experiment", "parse_experiment": "experiment",
    "LandscapeSample": "sampler", "sample_landscape": "sampler", "make_kernel": "sampler",
    "resolve_directions": "sampler", "grid_axes": "sampler", "refined_grid": "sampler", "estimate_run": "sampler",
    "experiment_engine": "sampler",
    "PersistenceDiagram": "persistence", "sublevel_persistence": "persistence", "betti_curve": "persistence",
    "betti_numbers_at": "persistence",
    "LandscapeResult": "compare", "analyze_landscape": "compare", "compare_with_bound": "compare",
    "touches_boundary": "compare",
    "plot_landscape": "plots",
    "LossKernel": "kernels", "from_sequential": "sequential", "experiment_from_sequential": "sequential",
    "ModelExperiment": "models", "experiment_from_model": "models", "model_data": "model_datasets",
    "model_vector": "model_regions", "filter_normalize": "model_regions", "recognise_network": "model_recognition",
    "PathResult": "paths", "path_between": "paths", "plot_path": "paths", "barrier_heights": "paths",
    "load_model_experiment": "model_files", "load_path_file": "model_files", "load_any_experiment": "model_files",
    "TrainedMinimum": "training", "train_to_minimum": "training",
}

__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS, globals())
