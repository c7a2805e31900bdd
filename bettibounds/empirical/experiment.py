"""Experiment files: load and validate before any work (user documentation: docs/usage.md,
"Experiment files").

```json
{"network": {"layers": [1, 2, 1], "activation": "tanh", "output_activation": "identity",
             "bias": false, "skip": "none"},
 "loss":    {"kind": "mse", "l2": 0.0},
 "data":    {"x": [[-2.5], [1.1]], "y": [[0.3], [-0.2]]},
 "region":  {"kind": "box", "low": [-3, -3, -2, -2], "high": [3, 3, 2, 2]},
 "grid":    [41, 41, 41, 41],
 "levels":  [0.01, 0.1, 1.0],
 "homology_dims": [0, 1, 2, 3]}
```
``network`` and ``data`` are required; ``loss`` defaults to MSE without l2; ``region``,
``grid``, ``levels`` and ``homology_dims`` are checked when present (the landscape
tools need them; the certified lower bound does not). Every violation raises
:class:`~bettibounds.errors.InvalidSpecError` naming the JSON path.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction

from .._lib.readers import read_json
from ..errors import InvalidSpecError
from ..spec import ArchitectureSpec

__all__ = ["Experiment", "load_experiment", "parse_experiment", "parse_levels", "MAX_GRID_POINTS", "grid_points_text"]

#: the most grid points a landscape may have (the experiment's grid, or a refined one)
MAX_GRID_POINTS = 10**9


def grid_points_text(total: int) -> str:
    """A point count for messages, exact integers of any size included (no float overflow, no
    4300-digit limit): '1.25e+06', 'about 10^400'."""
    if total < 10**300:
        return f"{total:.3g}"
    return f"about 10^{int(math.log10(total))}"

_TOP_KEYS = {"network", "loss", "data", "region", "grid", "levels", "homology_dims"}
#: the keys each section accepts (docs/usage.md, "Experiment files"): a misspelt key is an error, never a silent default
_SECTION_KEYS = {
    "network": {"layers", "activation", "output_activation", "bias", "skip"},
    "loss": {"kind", "l2", "bce_chain"},
    "data": {"x", "y"},
    "region (box)": {"kind", "low", "high"},
    "region (slice)": {"kind", "low", "high", "center", "directions"},
    "region.directions": {"random", "seed", "normalization"},
}


def _known_keys(path: str, obj: dict, section: str) -> None:
    unknown = set(obj) - _SECTION_KEYS[section]
    if unknown:
        raise _err(path, f"unknown keys {sorted(unknown)}; accepted: {sorted(_SECTION_KEYS[section])}")


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: the spec, the data (exact rationals of the JSON numbers) and the rest."""

    spec: ArchitectureSpec
    x: list
    y: list
    region: dict | None = None
    grid: list | None = None
    levels: list | None = None
    homology_dims: list | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def n_params(self) -> int:
        """P, the network's number of parameters (as :class:`~.models.ModelExperiment` has it)."""
        return self.spec.n_params


def _err(path: str, msg: str) -> InvalidSpecError:
    return InvalidSpecError(f"experiment {path}: {msg}")


def _number(path: str, v) -> Fraction:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or (isinstance(v, float) and not math.isfinite(v)):
        raise _err(path, f"must be a finite number, got {v!r}")
    if isinstance(v, int) and abs(v) > 10**300:
        raise _err(path, "is too large (|value| > 1e300)")
    if isinstance(v, (numbers.Rational, float)):
        return Fraction(v)  # floats convert exactly (binary)
    return Fraction(float(v))  # another real type (numpy's float32, ...): exactly, through its float value


def _matrix(path: str, rows, width: int | None) -> list[list[Fraction]]:
    if not isinstance(rows, list) or not rows:
        raise _err(path, "must be a non-empty list of rows")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise _err(f"{path}[{i}]", f"must be a list of numbers, got {row!r}")
        if width is not None and len(row) != width:
            raise _err(f"{path}[{i}]", f"must have {width} numbers, got {len(row)}")
        out.append([_number(f"{path}[{i}][{j}]", v) for j, v in enumerate(row)])
    return out


def _plain(v):
    """numpy arrays and scalars, and tuples, as the lists and numbers json would give."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if type(v).__module__ == "numpy" and hasattr(v, "tolist"):  # ndarray or numpy scalar
        return _plain(v.tolist())
    return v


def parse_experiment(obj: dict) -> Experiment:
    """Validate a decoded experiment object and build the :class:`Experiment` (numpy arrays and
    scalars and tuples are taken as the JSON lists and numbers they stand for)."""
    if not isinstance(obj, dict):
        raise _err("(top level)", "must be a JSON object")
    obj = _plain(obj)
    unknown = set(obj) - _TOP_KEYS
    if unknown:
        hint = ' (random directions take their seed in region.directions: {"random": k, "seed": s})' \
            if "seed" in unknown else ""
        raise _err("(top level)", f"unknown keys {sorted(unknown)}; accepted: {sorted(_TOP_KEYS)}{hint}")
    for key in ("network", "data"):
        if key not in obj:
            raise _err(key, "is required")
    net = obj["network"]
    if not isinstance(net, dict) or "layers" not in net:
        raise _err("network", 'must be an object with "layers": [d, h_1, ..., h_L, outputs]')
    _known_keys("network", net, "network")
    layers = net["layers"]
    if not isinstance(layers, list) or len(layers) < 3:
        raise _err("network.layers", "must list at least [d, h_1, outputs] (one hidden layer)")
    for i, v in enumerate(layers):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _err(f"network.layers[{i}]", f"must be a positive integer, got {v!r}")
    loss = obj.get("loss", {"kind": "mse"})
    if not isinstance(loss, dict):
        raise _err("loss", 'must be an object like {"kind": "mse", "l2": 0.0}')
    _known_keys("loss", loss, "loss")
    data = obj["data"]
    if not isinstance(data, dict) or "x" not in data or "y" not in data:
        raise _err("data", 'must be an object with "x" and "y"')
    _known_keys("data", data, "data")
    d, out = layers[0], layers[-1]
    x = _matrix("data.x", data["x"], d)
    y = _matrix("data.y", data["y"], out)
    if len(x) != len(y):
        raise _err("data", f"x has {len(x)} rows but y has {len(y)}")
    l2 = loss.get("l2", 0.0)
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real):
        raise _err("loss.l2", f"must be a number >= 0, got {l2!r}")
    _number("loss.l2", l2)  # finite, and not an integer too large for a float
    spec = ArchitectureSpec(
        inputs=d, widths=tuple(layers[1:-1]), outputs=out,
        activation=net.get("activation", "tanh"), output_activation=net.get("output_activation", "identity"),
        bias=net.get("bias", True), skip=net.get("skip", "none"),
        loss=loss.get("kind", "mse"), l2=l2, samples=len(x), bce_chain=loss.get("bce_chain", "logsigmoid"),
    )
    if spec.loss == "bce" and any(not 0 <= v <= 1 for row in y for v in row):
        raise _err("data.y", "BCE labels must lie in [0, 1]")
    region = obj.get("region")
    n_region = None
    if region is not None:
        n_region = _check_region(region, spec.n_params)
    grid = obj.get("grid")
    if grid is not None:
        if not isinstance(grid, list) or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 2
                                                 for g in grid):
            raise _err("grid", "must be a list of integers >= 2 (points per axis)")
        total = math.prod(grid)
        if total > MAX_GRID_POINTS:
            raise _err("grid", f"has {grid_points_text(total)} points (> 1e9): use a coarser grid or a slice")
    levels = obj.get("levels")
    if levels is not None:
        if not isinstance(levels, list):
            raise _err("levels", "must be a list of numbers")
        levels = [float(_number(f"levels[{i}]", v)) for i, v in enumerate(levels)]
    dims = obj.get("homology_dims")
    if dims is not None:
        if not isinstance(dims, list) or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0
                                                 for k in dims):
            raise _err("homology_dims", "must be a list of integers >= 0")
        if not dims:
            raise _err("homology_dims", "must name at least one dimension (leave it out for all of 0..n-1)")
        if any(a >= b for a, b in zip(dims, dims[1:])):
            raise _err("homology_dims", f"must be strictly increasing (betti is reported as [b_k for k in "
                       f"homology_dims]), got {dims}")
        if n_region is not None and dims and dims[-1] >= n_region:
            raise _err("homology_dims", f"asks for b_{dims[-1]}, but the region has dimension n = {n_region} "
                       f"(a subset of R^n has b_k = 0 for k >= n); use dimensions 0..{n_region - 1}")
    return Experiment(spec, x, y, region, grid, levels, dims, obj)


def _numbers(path: str, v, n: int) -> list:
    if not isinstance(v, list) or len(v) != n:
        raise _err(path, f"must list {n} numbers")
    return [_number(f"{path}[{i}]", t) for i, t in enumerate(v)]


def _check_region(region, P: int) -> int:
    """Validate the region; return its dimension n (P for a box, k for a slice)."""
    if not isinstance(region, dict) or region.get("kind") not in ("box", "slice"):
        raise _err("region.kind", 'must be "box" or "slice"')
    _known_keys("region", region, f"region ({region['kind']})")
    if region["kind"] == "box":
        k = P
    else:
        _numbers("region.center", region.get("center"), P)
        dirs = region.get("directions")
        if isinstance(dirs, list):
            if not dirs:
                raise _err("region.directions", "give at least one direction")
            for j, d in enumerate(dirs):
                _numbers(f"region.directions[{j}]", d, P)
            k = len(dirs)
        elif isinstance(dirs, dict) and isinstance(dirs.get("random"), int) and not isinstance(dirs["random"], bool) \
                and dirs["random"] >= 1:
            k = dirs["random"]
            _known_keys("region.directions", dirs, "region.directions")
            if dirs.get("normalization", "filter") not in ("filter", "unit", "none"):
                raise _err("region.directions.normalization", 'must be "filter", "unit" or "none"')
            seed = dirs.get("seed", 0)
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise _err("region.directions.seed", f"must be an integer >= 0, got {seed!r}")
        else:
            got = (f" (got an object with keys {sorted(dirs)}, without \"random\")" if isinstance(dirs, dict)
                   else "")
            raise _err("region.directions", 'must be a list of P-vectors or {"random": k, "seed": s, '
                       f'"normalization": "filter"}}{got}')
    low = _numbers("region.low", region.get("low"), k)
    high = _numbers("region.high", region.get("high"), k)
    for i, (a, b) in enumerate(zip(low, high)):
        if not a < b:
            raise _err(f"region.low[{i}]", f"must be < region.high[{i}]")
    return k


def parse_levels(text, option: str = "--levels") -> list[float]:
    """``"0.1,0.5,1"`` as [0.1, 0.5, 1.0]: the levels of a command-line option, validated as the file's
    ``"levels"`` are (finite numbers; at least one; a typo such as ``"0.1,,1"`` is refused)."""
    what = f"{option} takes comma-separated finite numbers such as 0.1,0.5,1"
    if not isinstance(text, str):
        raise InvalidSpecError(f"{what}; got {text!r}")
    tokens = [t.strip() for t in text.split(",")]
    out = []
    for t in tokens:
        try:
            v = float(t)
        except ValueError:
            raise InvalidSpecError(f"{what}; got {text!r}") from None
        if not math.isfinite(v):
            raise InvalidSpecError(f"{what}; got {t!r} in {text!r}")
        out.append(v)
    return out


def load_experiment(path) -> Experiment:
    """Read and validate an experiment file (JSON, read by the package's one strict reader,
    :func:`bettibounds._lib.readers.read_json`: UTF-8, no duplicate keys, no NaN or overflowing numbers,
    bounded nesting and size)."""
    return parse_experiment(read_json(path, "experiment file"))
