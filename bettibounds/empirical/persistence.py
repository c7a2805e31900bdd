"""Sublevel-set persistent homology of a function sampled on a grid.

Convention (binding; docs/usage.md, "Landscapes"): the sampled values live on the grid **vertices** (the
*V-construction*). The filtered space is the cubical complex of the grid: a vertex for
every sample, an edge between two vertices whose multi-indices differ by one in exactly
one coordinate (axis neighbours -- 2k-neighbour connectivity in k dimensions, never
diagonals), a square for every unit square of the grid, a cube for every unit cube, and
so on. Each cell enters at the largest value of its vertices (lower-star filtration), so
the sublevel complex at level c is the union of the cells all of whose vertices have
value <= c. Its components are exactly ``scipy.ndimage.label(values <= c)`` with the
default cross-shaped structuring element.

Betti number at level c: ``b_k(c) = #{k-bars with birth <= c < death}``, essential bars
dying at +inf. (gudhi's ``betti_numbers()`` is *not* this.) Homology has coefficients in
Z/2 with both backends, so they give identical diagrams even where torsion could occur
(a cubical complex in R^4 can contain an RP^2).

Backends
--------
``"gudhi"``
    ``gudhi.CubicalComplex(vertices=values)``, gudhi's own V-construction (present since
    gudhi 3.8): the vertex filtration values are given, every higher cell gets the max of
    its vertices. ``vertices_of_persistence_pairs()`` gives, per bar, the vertex that
    creates it and the vertex that kills it as flat indices in *Fortran* order (checked on
    non-square arrays); values are read back from the input array at those vertices.
    Any number of dimensions.
``"cripser"``
    ``cripser.computePH`` (module ``cripser._cripser``) is the V-construction;
    ``computePH_T`` (``cripser.tcripser``) is the T-construction (values on top cells,
    which connects diagonal neighbours) and is never used here. Checked on
    ``[[0, 5], [5, 0]]``: ``computePH`` gives the H0 bar [0, 5) (the two zeros are not
    adjacent), ``computePH_T`` merges them at once. Each row is ``[dim, birth, death,
    birth location, death location]`` with 3 coordinates per location for 1-D to 3-D
    input (unused ones 0) and 4 for 4-D; locations are C-order multi-indices of the
    creating / killing vertex, the death location of an essential bar is -1 (its death
    value is DBL_MAX). 1-D to 4-D only. Because DBL_MAX is its "never dies" marker, a bar killed
    by a vertex of value DBL_MAX (``np.nan_to_num``'s image of +inf) would come back essential:
    ``"auto"`` sends an array holding DBL_MAX to gudhi, and an explicit ``"cripser"`` refuses it.

    cripser 0.0.37 gets arrays with a length-1 axis wrong (``shape (1, 5)`` gives five
    essential H0 bars); axes of length 1 are therefore squeezed out before either backend
    is called and put back into the reported locations.

Zero-length bars (birth == death) carry no homology at any level and are dropped, so the
diagram -- a multiset of (birth, death) pairs -- is determined by the values alone and is
the same from both backends; the reported *locations* may differ between backends where
values tie (any tied vertex is a valid creator / killer), but the value at a reported
location always equals the bar's birth or death.

``"auto"`` picks the faster backend for the array's dimension, per
``benchmarks/bench_persistence.py`` (see ``_AUTO_BY_NDIM``).

gudhi and cripser are imported inside the functions that need them, so importing this
module costs only numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._lib.extras import install_hint, missing_extra
from ..errors import InvalidSpecError, MissingExtraError

__all__ = [
    "Bar",
    "PersistenceDiagram",
    "sublevel_persistence",
    "betti_curve",
    "betti_numbers_at",
    "BACKENDS",
    "backend_for",
]

BACKENDS: tuple[str, ...] = ("gudhi", "cripser")

#: Preferred backend per array dimension, set from the table in the docstring of
#: benchmarks/bench_persistence.py (2 CPU cores, gudhi 3.13.0, cripser 0.0.37): cripser
#: was faster on every smooth input (sum of Gaussians) in 2-D (512^2, 1024^2: 2.5-4x),
#: 3-D (64^3, 96^3: 4.6-7x) and 4-D (16^4, 24^4: 7-13x), and on i.i.d.-noise input in
#: 2-D (5x), 3-D (2x) and 4-D 16^4 (1.4x); the one loss was 4-D noise at 24^4, where
#: gudhi was 1.2-1.7x faster (pass backend="gudhi" for such rough 4-D data). Sampled loss
#: landscapes are smooth, so cripser for 1-D to 4-D (1-D: both take milliseconds). Above
#: 4-D only gudhi can (cripser stops at 4-D).
_AUTO_BY_NDIM: dict[int, str] = {1: "cripser", 2: "cripser", 3: "cripser", 4: "cripser"}
_CRIPSER_MAX_NDIM = 4
_DBL_MAX = float(np.finfo(np.float64).max)

CONVENTION = (
    "sublevel-set persistence, V-construction: values on grid vertices, lower-star "
    "filtration of the cubical grid complex (edges join axis neighbours, 2k-neighbour "
    "connectivity); Z/2 coefficients; b_k(c) = #{k-bars with birth <= c < death}"
)


class Bar(NamedTuple):
    """One bar of a diagram with the grid vertices that create and kill it."""

    birth: float
    death: float  # math.inf for an essential bar
    birth_at: tuple[int, ...]
    death_at: tuple[int, ...] | None  # None for an essential bar


def _empty(ndim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.empty((0, 2), dtype=np.float64), np.empty((0, ndim), dtype=np.int64),
            np.empty((0, ndim), dtype=np.int64))


@dataclass(frozen=True, eq=False)
class PersistenceDiagram:
    """Sublevel-set persistence diagram of a grid function, per homology dimension.

    For every dimension ``k`` in ``0..max_dim`` (all keys present, possibly empty):

    * ``bars[k]``: float64 array of shape ``(n_k, 2)``, rows ``(birth, death)``, sorted
      by birth then death; ``death`` is ``inf`` for an essential bar. Only bars with
      ``birth < death``.
    * ``birth_at[k]``: int64 array ``(n_k, ndim)``, multi-index into the value array of
      the vertex whose value creates the bar (``values[tuple(birth_at[k][i])] ==
      bars[k][i, 0]``).
    * ``death_at[k]``: int64 array ``(n_k, ndim)``, multi-index of the vertex whose value
      kills the bar; the row is all ``-1`` for an essential bar (``None`` in
      :meth:`intervals` and in :meth:`to_dict`).

    ``shape`` is the shape of the value array, ``backend`` the backend that computed the
    diagram (``"gudhi"`` or ``"cripser"``).
    """

    bars: dict[int, np.ndarray]
    birth_at: dict[int, np.ndarray]
    death_at: dict[int, np.ndarray]
    shape: tuple[int, ...]
    backend: str
    max_dim: int
    coefficients: str = "Z/2"
    convention: str = field(default=CONVENTION)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dims(self) -> list[int]:
        return list(range(self.max_dim + 1))

    def essential(self, k: int) -> np.ndarray:
        """Boolean mask of the essential (never dying) bars of dimension ``k``."""
        return np.isinf(self.bars[k][:, 1])

    def intervals(self, k: int) -> list[Bar]:
        """The bars of dimension ``k`` as :class:`Bar` tuples (``death_at`` None if essential)."""
        bars, b_at, d_at = self.bars[k], self.birth_at[k], self.death_at[k]
        out = []
        for (b, d), ba, da in zip(bars.tolist(), b_at.tolist(), d_at.tolist()):
            out.append(Bar(b, d, tuple(ba), None if math.isinf(d) else tuple(da)))
        return out

    def betti_numbers(self, level: float) -> dict[int, int]:
        """``b_k(level)`` for every dimension of the diagram."""
        return {k: int(v[0]) for k, v in betti_curve(self, [level]).items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (plain lists, ``inf`` death and its location as ``null``)."""
        dims: dict[str, Any] = {}
        for k in self.dims:
            bars = self.bars[k]
            ess = self.essential(k)
            deaths = [None if e else d for d, e in zip(bars[:, 1].tolist(), ess.tolist())]
            death_at = [None if e else loc
                        for loc, e in zip(self.death_at[k].tolist(), ess.tolist())]
            dims[str(k)] = {"birth": bars[:, 0].tolist(), "death": deaths,
                            "birth_at": self.birth_at[k].tolist(), "death_at": death_at}
        return {"convention": self.convention, "coefficients": self.coefficients,
                "backend": self.backend, "shape": list(self.shape), "max_dim": self.max_dim,
                "dims": dims}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersistenceDiagram:
        """Inverse of :meth:`to_dict`."""
        try:
            shape = tuple(int(s) for s in data["shape"])
            max_dim = int(data["max_dim"])
            ndim = len(shape)
            bars, b_at, d_at = {}, {}, {}
            for k in range(max_dim + 1):
                entry = data["dims"][str(k)]
                births = np.asarray(entry["birth"], dtype=np.float64)
                deaths = np.asarray([math.inf if d is None else d for d in entry["death"]],
                                    dtype=np.float64)
                bars[k] = np.stack([births, deaths], axis=1).reshape(-1, 2)
                b_at[k] = np.asarray(entry["birth_at"], dtype=np.int64).reshape(-1, ndim)
                d_at[k] = np.asarray([[-1] * ndim if d is None else d for d in entry["death_at"]],
                                     dtype=np.int64).reshape(-1, ndim)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSpecError(f"not a persistence-diagram dictionary: {exc}") from exc
        _check_diagram_arrays(bars, b_at, d_at, shape)
        return cls(bars=bars, birth_at=b_at, death_at=d_at, shape=shape,
                   backend=str(data.get("backend", "unknown")), max_dim=max_dim,
                   coefficients=str(data.get("coefficients", "Z/2")),
                   convention=str(data.get("convention", CONVENTION)))

    def __repr__(self) -> str:
        counts = ", ".join(f"H{k}: {len(self.bars[k])}" for k in self.dims)
        return (f"PersistenceDiagram(shape={self.shape}, backend={self.backend!r}, "
                f"bars={{{counts}}})")


# ---------------------------------------------------------------------------- validation


def _check_diagram_arrays(bars: dict, b_at: dict, d_at: dict, shape: tuple[int, ...]) -> None:
    """What every diagram of :func:`sublevel_persistence` satisfies and :func:`betti_curve`
    relies on: finite births, birth < death (death inf for an essential bar), one birth and one
    death location per bar, inside the grid (-1 for an essential bar's death)."""
    if any(s < 1 for s in shape):
        raise InvalidSpecError(f"not a persistence diagram: shape {list(shape)} has an empty axis")
    hi = np.asarray(shape, dtype=np.int64)
    for k, bk in bars.items():
        births, deaths = bk[:, 0], bk[:, 1]
        if len(b_at[k]) != len(bk) or len(d_at[k]) != len(bk):
            raise InvalidSpecError(f"not a persistence diagram: dimension {k} has {len(bk)} bars but "
                                   f"{len(b_at[k])} birth and {len(d_at[k])} death locations")
        if not np.isfinite(births).all() or np.isnan(deaths).any() or (deaths == -np.inf).any():
            raise InvalidSpecError(f"not a persistence diagram: dimension {k} has a birth that is not "
                                   f"finite or a death that is NaN or -inf")
        if not (births < deaths).all():
            i = int(np.argmin(births < deaths))
            raise InvalidSpecError(f"not a persistence diagram: bar {i} of dimension {k} has birth "
                                   f"{float(births[i])!r} >= death {float(deaths[i])!r}")
        ess = np.isinf(deaths)
        if ((b_at[k] < 0) | (b_at[k] >= hi)).any() or ((d_at[k][~ess] < 0) | (d_at[k][~ess] >= hi)).any() \
                or (d_at[k][ess] != -1).any():
            raise InvalidSpecError(f"not a persistence diagram: dimension {k} has a location outside the "
                                   f"grid of shape {list(shape)} (an essential bar's death location is -1)")


def _check_values(values: Any) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):
        raise InvalidSpecError("values must be a plain numpy.ndarray, not a masked array; "
                               "fill or drop the masked entries first")
    from .sampler import LandscapeSample

    if isinstance(values, LandscapeSample):
        values = values.values  # sublevel_persistence(sample_landscape(...)) works as written in the issue
    if not isinstance(values, np.ndarray):
        hint = (" (a torch tensor: use .detach().cpu().numpy())"
                if type(values).__module__.startswith("torch") else
                "; convert it with numpy.asarray")
        raise InvalidSpecError(f"values must be a numpy.ndarray of real numbers, got "
                               f"{type(values).__name__}{hint}")
    if values.ndim == 0:
        raise InvalidSpecError("values must be an array with at least 1 dimension "
                               "(one axis per grid direction), got a 0-d array")
    if values.size == 0:
        raise InvalidSpecError(f"values must be non-empty, got an array of shape {values.shape}")
    if values.dtype.kind not in "biuf":
        raise InvalidSpecError(f"values must be real numbers (bool, integer or float dtype), "
                               f"got dtype {values.dtype}")
    arr = np.ascontiguousarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        what = "NaN" if np.isnan(arr[first]) else "infinite"
        raise InvalidSpecError(f"values must be finite: {len(bad)} entr"
                               f"{'y is' if len(bad) == 1 else 'ies are'} NaN or infinite "
                               f"(first at index {first}, which is {what}); mask or clip them "
                               f"before computing persistence")
    return arr


def _check_max_dim(max_dim: Any, ndim: int) -> int:
    if max_dim is None:
        return max(ndim - 1, 0)
    if isinstance(max_dim, (bool, np.bool_)) or not isinstance(max_dim, (int, np.integer)):
        raise InvalidSpecError(f"max_dim must be None or a non-negative integer, got {max_dim!r}")
    if max_dim < 0:
        raise InvalidSpecError(f"max_dim must be None or a non-negative integer, got {max_dim}")
    return int(max_dim)


def backend_for(ndim: int, backend: str = "auto") -> str:
    """The backend :func:`sublevel_persistence` uses for an array with ``ndim`` axes longer than 1
    (``"auto"``: the faster installed one, see ``_AUTO_BY_NDIM``)."""
    return _choose_backend(backend, max(int(ndim), 1))


def _choose_backend(backend: Any, ndim: int) -> str:
    if not isinstance(backend, str) or backend not in ("auto",) + BACKENDS:
        raise InvalidSpecError(f"unknown persistence backend {backend!r}; valid backends are: "
                               f"auto, {', '.join(BACKENDS)}")
    if backend == "cripser" and ndim > _CRIPSER_MAX_NDIM:
        raise InvalidSpecError(f"the cripser backend handles 1-D to {_CRIPSER_MAX_NDIM}-D arrays, "
                               f"got {ndim}-D (after dropping length-1 axes); use backend='gudhi' "
                               f"or 'auto'")
    if backend != "auto":
        return backend
    preferred = _AUTO_BY_NDIM.get(ndim, "gudhi")
    order = [preferred] + [b for b in BACKENDS if b != preferred]
    for name in order:
        if name == "cripser" and ndim > _CRIPSER_MAX_NDIM:
            continue
        if _available(name):
            return name
    raise MissingExtraError(f"the [empirical] extra is needed for sublevel persistence (gudhi or cripser; "
                            f"neither is installed): {install_hint('empirical')}", extra="empirical", name="gudhi")


def _available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _import(name: str):
    try:
        if name == "gudhi":
            import gudhi
            return gudhi
        return _cripser_core()
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("empirical", exc, f"the {name} persistence backend", name) from None


_CRIPSER_CORE: Any = None


def _cripser_core():
    """The compiled V-construction module ``cripser._cripser`` (it has ``computePH``).

    ``import cripser`` runs the package's ``__init__``, which imports torch when it is
    installed (2.5 to 6 s measured here, against 10 ms for the extension alone). So the
    extension module is loaded straight from the package folder without running the
    package ``__init__``; it is not put in ``sys.modules``, so a later ``import cripser``
    elsewhere is unaffected. Falls back to the ordinary import if that fails.
    """
    global _CRIPSER_CORE
    if _CRIPSER_CORE is not None:
        return _CRIPSER_CORE
    import sys

    core = sys.modules.get("cripser._cripser")
    if core is None:
        try:
            import importlib.machinery
            import importlib.util
            import os

            spec = importlib.util.find_spec("cripser")
            if spec is None:
                raise ImportError("cripser is not installed")
            for folder in spec.submodule_search_locations or []:
                for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                    path = os.path.join(folder, "_cripser" + suffix)
                    if os.path.exists(path):
                        sub = importlib.util.spec_from_file_location("cripser._cripser", path)
                        if sub is None or sub.loader is None:
                            continue
                        core = importlib.util.module_from_spec(sub)
                        sub.loader.exec_module(core)
                        break
                if core is not None:
                    break
        except ImportError:
            raise
        except Exception:  # pragma: no cover - unusual installation layout: use the import
            core = None
        if core is None or not hasattr(core, "computePH"):
            import importlib

            core = importlib.import_module("cripser._cripser")  # the ordinary (slower) import
    _CRIPSER_CORE = core
    return core


# ------------------------------------------------------------------------------ backends
# Each backend takes a C-contiguous float64 array with no length-1 axis (ndim >= 1) and
# the highest homology dimension wanted (<= ndim - 1), and returns per dimension
# (births, deaths, birth_at, death_at) as arrays; deaths inf and death_at -1 for essential.

_Raw = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _gudhi_raw(arr: np.ndarray, top: int) -> _Raw:
    gudhi = _import("gudhi")
    cc = gudhi.CubicalComplex(vertices=arr)
    cc.compute_persistence(homology_coeff_field=2, min_persistence=0)
    regular, essential = cc.vertices_of_persistence_pairs()
    flat_f = arr.ravel(order="F")  # gudhi's vertex indices are in Fortran order
    out: _Raw = {}
    for k in range(top + 1):
        reg = regular[k] if k < len(regular) else np.empty((0, 2), dtype=np.int64)
        ess = essential[k] if k < len(essential) else np.empty((0,), dtype=np.int64)
        reg = np.asarray(reg, dtype=np.int64).reshape(-1, 2)
        ess = np.asarray(ess, dtype=np.int64).reshape(-1)
        b_idx = np.concatenate([reg[:, 0], ess])
        births = flat_f[b_idx]
        deaths = np.concatenate([flat_f[reg[:, 1]], np.full(len(ess), np.inf)])
        b_at = np.stack(np.unravel_index(b_idx, arr.shape, order="F"), axis=1)
        d_at = np.concatenate([np.stack(np.unravel_index(reg[:, 1], arr.shape, order="F"), axis=1),
                               np.full((len(ess), arr.ndim), -1, dtype=np.int64)])
        out[k] = (births, deaths, b_at.astype(np.int64).reshape(-1, arr.ndim),
                  d_at.astype(np.int64).reshape(-1, arr.ndim))
    return out


def _cripser_raw(arr: np.ndarray, top: int) -> _Raw:
    cripser = _import("cripser")
    rows = np.asarray(cripser.computePH(arr, maxdim=top), dtype=np.float64)
    ndim = arr.ndim
    width = max(ndim, 3)  # 3 coordinates per location up to 3-D, 4 in 4-D
    rows = rows.reshape(-1, 3 + 2 * width)
    dims = rows[:, 0].astype(np.int64)
    out: _Raw = {}
    for k in range(top + 1):
        r = rows[dims == k]
        b_at = r[:, 3:3 + ndim].astype(np.int64)
        d_at = r[:, 3 + width:3 + width + ndim].astype(np.int64)
        ess = d_at[:, 0] < 0  # cripser marks an essential bar's death location with -1
        births = r[:, 1].copy()
        deaths = np.where(ess, np.inf, r[:, 2])  # an essential bar's death value is DBL_MAX
        d_at[ess] = -1
        out[k] = (births, deaths, b_at, d_at)
    return out


_RAW = {"gudhi": _gudhi_raw, "cripser": _cripser_raw}


# ---------------------------------------------------------------------------- public API


def sublevel_persistence(values: np.ndarray, max_dim: int | None = None,
                         backend: str = "auto") -> PersistenceDiagram:
    """Persistence diagram of the sublevel sets of ``values`` (V-construction).

    ``values``: numpy array of finite real numbers, one axis per grid direction, the
    function's values at the grid vertices, or a
    :class:`~bettibounds.empirical.sampler.LandscapeSample` (its values) (1-D and up; cripser handles up to 4-D, gudhi
    any dimension). ``max_dim``: highest homology dimension reported (default
    ``values.ndim - 1``; dimensions >= ``values.ndim`` are always empty, since a
    subcomplex of R^n has no n-dimensional homology). ``backend``: ``"auto"`` (fastest
    available for the dimension, measured), ``"gudhi"`` or ``"cripser"``.

    Raises :class:`~bettibounds.errors.InvalidSpecError` for non-arrays, empty or 0-d
    arrays, non-real dtypes, NaN/inf values, a bad ``max_dim`` or an unknown backend.
    """
    arr = _check_values(values)
    top = _check_max_dim(max_dim, arr.ndim)
    shape = tuple(int(s) for s in arr.shape)
    keep = [ax for ax, s in enumerate(shape) if s > 1]  # length-1 axes squeezed out
    name = _choose_backend(backend, max(len(keep), 1))

    bars: dict[int, np.ndarray] = {}
    birth_at: dict[int, np.ndarray] = {}
    death_at: dict[int, np.ndarray] = {}
    for k in range(top + 1):
        bars[k], birth_at[k], death_at[k] = _empty(len(shape))

    if not keep:  # a single vertex: one essential H0 bar
        bars[0] = np.array([[arr.flat[0], np.inf]])
        birth_at[0] = np.zeros((1, len(shape)), dtype=np.int64)
        death_at[0] = np.full((1, len(shape)), -1, dtype=np.int64)
    else:
        core = np.ascontiguousarray(arr.reshape([shape[ax] for ax in keep]))
        if name == "cripser" and core.max() == _DBL_MAX:
            # cripser uses DBL_MAX as its "never dies" marker, so a bar that dies at a vertex of value
            # DBL_MAX (np.nan_to_num's image of +inf) would come back essential; gudhi has no such value
            if backend != "auto" or not _available("gudhi"):
                raise InvalidSpecError("the cripser backend cannot take the value DBL_MAX "
                                       "(1.7976931348623157e+308, its marker for a bar that never dies): "
                                       "use backend='gudhi' or 'auto', or clip the values lower")
            name = "gudhi"
        raw = _RAW[name](core, min(top, core.ndim - 1))
        for k, (births, deaths, b_at, d_at) in raw.items():
            live = births < deaths  # drop zero-length bars
            births, deaths, b_at, d_at = births[live], deaths[live], b_at[live], d_at[live]
            order = np.lexsort((deaths, births))
            full_b = np.zeros((len(order), len(shape)), dtype=np.int64)
            full_d = np.zeros((len(order), len(shape)), dtype=np.int64)
            full_b[:, keep] = b_at[order]
            full_d[:, keep] = d_at[order]
            ess = np.isinf(deaths[order])
            full_d[ess] = -1
            bars[k] = np.stack([births[order], deaths[order]], axis=1).astype(np.float64)
            birth_at[k], death_at[k] = full_b, full_d
    return PersistenceDiagram(bars=bars, birth_at=birth_at, death_at=death_at, shape=shape,
                              backend=name, max_dim=top)


def _check_levels(levels: Any) -> np.ndarray:
    try:
        lv = np.asarray(levels, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        import reprlib

        raise InvalidSpecError(f"levels must be real numbers within float64 range, got "
                               f"{reprlib.repr(levels)}") from exc
    if not np.isfinite(lv).all():
        raise InvalidSpecError("levels must be finite real numbers (no NaN or inf)")
    return lv


def betti_curve(diagram: PersistenceDiagram, levels: Any,
                dims: Iterable[int] | None = None) -> dict[int, np.ndarray]:
    """``b_k(c) = #{k-bars with birth <= c < death}`` for every level ``c``.

    ``levels``: a number or an array-like of finite numbers; each returned array (int64)
    has the shape of ``numpy.asarray(levels)``. ``dims``: the dimensions wanted (default
    all of the diagram's); a dimension above the diagram's ``max_dim`` is an error, since
    it was not computed.
    """
    if not isinstance(diagram, PersistenceDiagram):
        raise InvalidSpecError(f"betti_curve needs a PersistenceDiagram, got "
                               f"{type(diagram).__name__}")
    lv = _check_levels(levels)
    wanted = diagram.dims if dims is None else _check_dims(dims, diagram.max_dim)
    flat = lv.reshape(-1)
    out: dict[int, np.ndarray] = {}
    for k in wanted:
        bars = diagram.bars[k]
        births = np.sort(bars[:, 0])
        deaths = np.sort(bars[:, 1])
        # birth < death for every bar, so the bars with death <= c are among those with
        # birth <= c: b_k(c) = #(birth <= c) - #(death <= c).
        counts = (np.searchsorted(births, flat, side="right")
                  - np.searchsorted(deaths, flat, side="right"))
        out[k] = counts.astype(np.int64).reshape(lv.shape)
    return out


def _check_dims(dims: Any, max_dim: int | None) -> list[int]:
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, (bool, np.bool_)):
        dims = [dims]
    try:
        ds = list(dims)
    except TypeError as exc:
        raise InvalidSpecError(f"dims must be an iterable of non-negative integers, "
                               f"got {dims!r}") from exc
    for d in ds:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise InvalidSpecError(f"dims must be non-negative integers, got {d!r}")
        if max_dim is not None and d > max_dim:
            raise InvalidSpecError(f"homology dimension {d} was not computed (the diagram "
                                   f"goes up to {max_dim})")
    if not ds:
        raise InvalidSpecError("dims must name at least one homology dimension")
    return [int(d) for d in ds]


def betti_numbers_at(values: np.ndarray, level: float, dims: Iterable[int] = (0,),
                     backend: str = "auto") -> dict[int, int]:
    """``{k: b_k(level)}`` of the sublevel set ``{values <= level}``, via the diagram."""
    ds = _check_dims(dims, None)
    lv = _check_levels(level)
    if lv.ndim != 0:
        raise InvalidSpecError(f"level must be a single number, got an array of shape {lv.shape}")
    diagram = sublevel_persistence(values, max_dim=max(ds), backend=backend)
    curve = betti_curve(diagram, float(lv), dims=ds)
    return {k: int(curve[k]) for k in ds}
