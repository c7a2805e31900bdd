"""The barcode value type and the TO-score.

A *barcode of minima* (Barannikov et al. 2019; docs/theory.md §12) is the 0-dimensional persistence of
the sublevel filtration of the loss: each local minimum p is a segment [f(p), f(s)) where s is the
lowest saddle joining its basin to a deeper one (elder rule); the global minimum's segment never
ends. Index-r segments are the degree-r persistence bars.

This module holds only numpy-free value logic (the bars, their JSON form and the TO-score), so it is
cheap to import and easy to property-test.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InvalidSpecError

__all__ = ["BarcodeBar", "Barcode", "to_score", "sorted_bars", "TO_SCORE_NORMS", "TO_SCORE_STATUS"]

#: The norms a TO-score may use (docs/theory.md §12: sum, max or l2).
TO_SCORE_NORMS: tuple[str, ...] = ("sum", "max", "l2")

#: The TO-score's definition is reconstructed from Barannikov et al. 2020 (docs/theory.md §12), not quoted.
TO_SCORE_STATUS = "reconstructed"


@dataclass(frozen=True)
class BarcodeBar:
    """One segment of a barcode.

    ``birth_at`` / ``death_at`` locate the creating minimum (or index-r critical cell) and the
    killing saddle: a grid multi-index for grid barcodes, a one-element ``(sample id,)`` for
    sample-based ones. ``death`` is ``math.inf`` (and ``death_at`` ``None``) for an essential
    segment. ``refined`` is True when the death level comes from path refinement
    (:mod:`bettibounds.barcode.refine`) instead of the grid or graph; ``estimate`` then keeps the
    graph's estimate of the death level it replaced. ``cluster_size`` (sample-based barcodes):
    the number of samples in the segment's cluster when it dies, the merging sample not counted
    (BarcodeCalc's ``dead_cluster_size``), or in its connected component for an essential
    segment; None where it is not tracked (grid and minima-graph barcodes).
    """

    dim: int
    birth: float
    death: float
    birth_at: tuple[int, ...]
    death_at: tuple[int, ...] | None
    refined: bool = False
    estimate: float | None = None
    cluster_size: int | None = None

    @property
    def length(self) -> float:
        return self.death - self.birth

    @property
    def essential(self) -> bool:
        return math.isinf(self.death)

    def to_dict(self) -> dict[str, Any]:
        out = {"dim": self.dim, "birth": self.birth, "death": None if self.essential else self.death,
               "birth_at": list(self.birth_at), "death_at": None if self.death_at is None else list(self.death_at),
               "refined": self.refined}
        if self.estimate is not None:
            out["graph_estimate"] = self.estimate
        if self.cluster_size is not None:
            out["cluster_size"] = self.cluster_size
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BarcodeBar:
        try:
            death = math.inf if d["death"] is None else float(d["death"])
            return cls(int(d["dim"]), float(d["birth"]), death, tuple(int(i) for i in d["birth_at"]),
                       None if d.get("death_at") is None else tuple(int(i) for i in d["death_at"]),
                       bool(d.get("refined", False)),
                       None if d.get("graph_estimate") is None else float(d["graph_estimate"]),
                       None if d.get("cluster_size") is None else int(d["cluster_size"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSpecError(f"not a barcode bar dictionary: {exc}") from exc


def _check_norm(norm: Any) -> str:
    if not isinstance(norm, str) or norm.lower() not in TO_SCORE_NORMS:
        raise InvalidSpecError(f"unknown TO-score norm {norm!r}; valid norms are: {', '.join(TO_SCORE_NORMS)}")
    return norm.lower()


def to_score(lengths: Iterable[float], norm: str = "sum", value_range: float | None = None) -> float:
    """TO-score [reconstructed, Barannikov2020; docs/theory.md §12] of finite segment lengths.

    ``norm``: ``"sum"`` (sum of lengths), ``"max"`` (longest) or ``"l2"`` (root of the sum of
    squares); 0 for no finite segment. ``value_range``: when given, the score is divided by it
    (the "normalised" score, with ``value_range = max f - min f``), which must then be > 0.

    >>> to_score([1.0, 2.0, 2.0])
    5.0
    >>> to_score([3.0, 4.0], norm="l2")
    5.0
    >>> to_score([1.0, 3.0], norm="max", value_range=6.0)
    0.5
    """
    norm = _check_norm(norm)
    try:
        vals = [float(x) for x in lengths]
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"TO-score: segment lengths must be an iterable of numbers ({exc})") from None
    if any(not math.isfinite(x) or x < 0 for x in vals):
        raise InvalidSpecError("TO-score: segment lengths must be finite and non-negative "
                               "(essential segments are excluded)")
    if norm == "sum":
        s = math.fsum(vals)
    elif norm == "max":
        s = max(vals, default=0.0)
    else:
        s = math.hypot(*vals)  # scaled: squaring tiny lengths would underflow to 0
    if value_range is not None:
        if not (math.isfinite(value_range) and value_range > 0):
            raise InvalidSpecError(f"TO-score normalisation needs max f - min f > 0, got {value_range!r}")
        s /= value_range
    return s


@dataclass(frozen=True)
class Barcode:
    """A barcode of a loss (grid-based or sample-based) with what is needed to read it.

    Attributes
    ----------
    bars : tuple of BarcodeBar
        Sorted by dimension, then birth, then death.
    source : {"grid", "knn", "minima-graph"}
        How the filtration was built: the cubical grid (V-construction), a k-NN graph on samples, or
        the complete graph on minima with relaxed path levels (:mod:`bettibounds.barcode.minima`).
    locations : str
        What ``birth_at`` / ``death_at`` index: ``"grid index"``, ``"sample id"`` or ``"minimum id"``.
    value_min, value_max : float
        The range of the sampled loss (for the normalised TO-score).
    meta : dict
        Provenance: grid shape / number of samples, k, backend, seeds, timings, device.
    samples, edges
        Sample-based barcodes only: the sampled points with their losses, and the k-NN graph.
    """

    bars: tuple[BarcodeBar, ...]
    source: str
    locations: str
    value_min: float
    value_max: float
    meta: dict = field(default_factory=dict)
    #: sample-based barcodes keep their :class:`~bettibounds.barcode.sampling.ParameterSample`
    #: and k-NN edges here (not serialised: they are the run's raw data)
    samples: Any = field(default=None, compare=False, repr=False)
    edges: Any = field(default=None, compare=False, repr=False)

    def of_dim(self, k: int) -> list[BarcodeBar]:
        return [b for b in self.bars if b.dim == k]

    @property
    def dims(self) -> list[int]:
        return sorted({b.dim for b in self.bars})

    def _finite(self, dim: int, min_cluster: int | None) -> list[BarcodeBar]:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
            raise InvalidSpecError(f"dim must be a non-negative integer, got {dim!r}")
        finite = [b for b in self.of_dim(dim) if not b.essential]
        if min_cluster is None:
            return finite
        if isinstance(min_cluster, bool) or not isinstance(min_cluster, numbers.Integral) or min_cluster < 1:
            raise InvalidSpecError(f"min_cluster must be a positive integer, got {min_cluster!r}")
        if any(b.cluster_size is None for b in finite):
            raise InvalidSpecError("min_cluster needs cluster sizes on the segments: sample-based barcodes "
                                   "(barcode_of_points, sample_barcode) have them; grid and minima-graph "
                                   "barcodes do not")
        return [b for b in finite if b.cluster_size >= min_cluster]

    def to_score(self, norm: str = "sum", dim: int = 0, normalize: bool = False, *,
                 min_cluster: int | None = None) -> float:
        """TO-score of the finite ``dim``-segments (see :func:`to_score`).

        ``min_cluster``: the *filtered* score, over the segments whose cluster had at least that
        many samples when it died (the authors plot only those, Barannikov et al. 2019/2020,
        with thresholds of 20 to 50 samples); the segments of smaller clusters are sampling noise
        more often than minima. None: every finite segment (the raw score).
        """
        lengths = [b.length for b in self._finite(dim, min_cluster)]
        return to_score(lengths, norm, (self.value_max - self.value_min) if normalize else None)

    def to_score_dict(self, norm: str = "sum", dim: int = 0, normalize: bool = False, *,
                      min_cluster: int | None = None) -> dict[str, Any]:
        """The TO-score with its definition spelled out (the defaults are explicit in the output).

        The raw score is always there; with ``min_cluster`` (or ``meta["min_cluster"]`` of a
        sample-based barcode) the filtered score sits beside it under ``"filtered"``.
        """
        out = {"norm": _check_norm(norm), "dim": dim, "normalized": bool(normalize),
               "value": self.to_score(norm, dim, normalize),
               "n_segments": len(self._finite(dim, None)),
               "status": TO_SCORE_STATUS, "citation": "Barannikov2020",
               "definition": ("norm of the lengths (death - birth) of the finite index-"
                              f"{dim} segments" + (", divided by max f - min f" if normalize else ""))}
        m = min_cluster if min_cluster is not None else self.meta.get("min_cluster")
        if m is not None:
            out["filtered"] = {"min_cluster": int(m), "value": self.to_score(norm, dim, normalize, min_cluster=m),
                               "n_segments": len(self._finite(dim, m)),
                               "definition": f"the same over the segments whose cluster had >= {m} samples at death"}
        return out

    def with_bars(self, bars: Iterable[BarcodeBar], **meta: Any) -> Barcode:
        return replace(self, bars=sorted_bars(bars), meta={**self.meta, **meta})

    def to_dict(self, norm: str = "sum", dim: int = 0, normalize: bool = False, *,
                min_cluster: int | None = None) -> dict[str, Any]:
        """JSON-ready: ``bars`` (issue schema) and ``to_score`` (raw, and filtered beside it when a
        minimum cluster size applies), plus source and provenance."""
        return {"source": self.source, "locations": self.locations,
                "value_range": [self.value_min, self.value_max],
                "bars": [b.to_dict() for b in self.bars],
                "to_score": self.to_score_dict(norm, dim, normalize, min_cluster=min_cluster), "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Barcode:
        try:
            lo, hi = d["value_range"]
            return cls(sorted_bars(BarcodeBar.from_dict(b) for b in d["bars"]), str(d["source"]), str(d["locations"]),
                       float(lo), float(hi), dict(d.get("meta", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSpecError(f"not a barcode dictionary: {exc}") from exc

    def __repr__(self) -> str:
        counts = ", ".join(f"H{k}: {len(self.of_dim(k))}" for k in self.dims)
        return f"Barcode(source={self.source!r}, bars={{{counts}}}, range=[{self.value_min:.4g}, {self.value_max:.4g}])"


def sorted_bars(bars: Iterable[BarcodeBar]) -> tuple[BarcodeBar, ...]:
    """Bars in the order of :attr:`Barcode.bars`: by dimension, then birth, then death."""
    return tuple(sorted(bars, key=lambda b: (b.dim, b.birth, b.death)))


