"""Time pilots of the fused engine, for the estimates of :mod:`bettibounds._lib.budget` (imports numba
only through the fused engine, and only when a fused kernel is handed in).

Why a pilot of its own. A landscape that engine auto routes to the fused engine was estimated with the
torch kernel (or, for a PyTorch model, the model engine) as a stand-in, because the fused kernel's first
call compiles. The stand-in is 25 to 160 times slower per point than the fused kernel on small networks
(a 4-16-3 tanh classifier on iris, a 101 x 101 slice: estimates of 12 to 72 s for runs of 0.4 to 0.9 s;
docs/benchmarks.md, "Time estimates"), far outside the documented factor, and such an over-estimate can
refuse a run of a minute under a time limit. Once the compiled kernel is in this process or in numba's
cache, a pilot of the fused kernel itself costs a few milliseconds, so the estimate of a fused run is
measured on the kernel that will run it; the compile is counted only where it will happen.
"""

from __future__ import annotations

import os
import pickle

__all__ = ["fused_cached_for", "fused_point_pilot"]


def fused_cached_for(dtype: str, cache: str | None = None) -> bool:
    """Whether numba's cache next to the fused engine holds its entry kernel compiled for ``dtype``
    ("float64" or "float32"): a later process then loads it in about 0.5 s instead of compiling it for
    15-30 s. Reads numba's own index files as numba does (its version, then the pickled (source stamp,
    overloads)); anything unexpected reads as not cached, which makes the estimate count a compile (the
    long side). The source stamp is not compared (its form changes between numba versions): a cache
    made stale by an edit of the engine's source reads as cached, and the pilot's first call then
    compiles, before the estimate, as the run would have. ``cache``: the folder (default: the engine's
    ``__pycache__``)."""
    if cache is None:
        cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "engines", "__pycache__")
    try:
        import numba

        names = [n for n in os.listdir(cache) if n.startswith("_fused_numba.fused_kernel-") and n.endswith(".nbi")]
    except (ImportError, OSError):
        return False
    for name in names:
        try:
            with open(os.path.join(cache, name), "rb") as fh:
                version = pickle.load(fh)  # noqa: S301 -- numba's own cache index, as numba reads it
                if version != numba.__version__:
                    continue
                _, overloads = pickle.loads(fh.read())  # noqa: S301
        except Exception:  # a foreign, partial or stale index: not cached
            continue
        if any(f"Array({dtype}," in str(key[0]) for key in overloads):
            return True
    return False


def fused_point_pilot(kernel, slice_dim: int | None) -> float | None:
    """Reference seconds of one loss evaluation of the fused ``kernel`` (a
    :class:`~bettibounds.engines.fused.FusedKernel` or a model's fused kernel), measured on it by
    :func:`~bettibounds._lib.budget.kernel_pilot` (``slice_dim``: as there) after one untimed call that
    loads its compiled code; or None when that code is neither loaded in this process nor in numba's
    cache for the kernel's precision (the pilot would compile it: the caller then estimates with a
    stand-in engine and counts the compile, :func:`~bettibounds._lib.budget.fused_compile`)."""
    import numpy as np

    from ..engines.fused import FusedRangeError, kernel_loaded
    from .budget import kernel_pilot

    dtype = str(kernel.dtype)
    if not (kernel_loaded(dtype) or fused_cached_for(dtype)):
        return None
    P = int(kernel.n_params)
    try:
        if slice_dim is None:  # the untimed first call: it loads the compiled kernel (about 0.5 s) if not loaded
            kernel.evaluate_chunked(np.zeros((1, P)), "full")
        else:
            kernel.evaluate_chunked(np.zeros((1, slice_dim)), "slice", center=np.zeros(P),
                                    directions=np.zeros((slice_dim, P)))
        return kernel_pilot(kernel, 0, slice_dim=slice_dim)[0]
    except FusedRangeError:  # the guard refused the pilot's random points: the stand-in estimates
        return None
