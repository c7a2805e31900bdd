"""The empirical side: experiment files, batched loss landscapes, sublevel persistence.

Modules: ``experiment`` (files), ``kernels`` (the batched loss, ``from_sequential``,
``experiment_from_sequential``), ``sampler`` (grids), ``persistence`` (diagrams, Betti
curves), ``compare`` (flags and the theory beside the data), ``plots``.

Importing this package imports nothing heavy; modules that need torch or gudhi import
them themselves.
"""
