"""Experiment files of ``bettibounds obstruction --experiment``: a shallow ReLU network, its data,
and optionally an initialisation and a teacher (user documentation: docs/usage.md, "ReLU
obstruction").

```json
{"network": {"layers": [d, h, e], "bias": true},
 "data":    {"x": [[...], ...], "y": [[...], ...]},
 "init":    {"W": [[...]], "V": [[...]]},
 "teacher": {"W": [[...]], "V": [...]}}
```

Read by the package's strict reader (:func:`bettibounds._lib.readers.read_json`) and checked here in
full before any work: every key known (``"bias": "false"`` is an error, not ``True``), every
number finite, every shape consistent with ``layers``. The model is the one of
:mod:`bettibounds.obstruction` (ReLU, no output bias, squared loss without l2), so
``network.activation``, ``network.output_activation``, ``network.skip`` and ``loss`` are
accepted only with the values that model has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._lib.readers import read_json
from .._lib.schema import check_keys, json_bool, json_int, json_matrix
from ..errors import InvalidSpecError

__all__ = ["ObstructionExperiment", "parse_obstruction_experiment", "load_obstruction_experiment"]

_TOP = {"network", "data", "init", "teacher", "loss"}
_NETWORK = {"layers", "bias", "activation", "output_activation", "skip"}
#: the only values the obstruction's model has (ReLU, no output activation, no skip; MSE, no l2:
#: with l2 > 0 the invariants c_k are not conserved)
_FIXED = {"activation": "relu", "output_activation": "identity", "skip": "none"}


@dataclass(frozen=True)
class ObstructionExperiment:
    """A validated obstruction experiment: sizes, data, and the optional initialisation and teacher.

    ``init`` is ``(W, V)`` with W of shape (h, p) (bias absorbed as the last column) and V of shape
    (h, e); ``teacher`` is ``(W, V)`` with W (h', p) and V (h',) (scalar output only).
    """

    d: int
    h: int
    e: int
    bias: bool
    x: np.ndarray
    y: np.ndarray
    init: tuple | None = None
    teacher: tuple | None = None

    @property
    def p(self) -> int:
        """Input dimension with the bias absorbed."""
        return self.d + (1 if self.bias else 0)

    @property
    def x_absorbed(self) -> np.ndarray:
        """The inputs with a column of ones appended when the network has biases (m x p)."""
        return np.hstack([self.x, np.ones((len(self.x), 1))]) if self.bias else self.x


def _err(path: str, msg: str) -> InvalidSpecError:
    return InvalidSpecError(f"obstruction experiment {path}: {msg}")


def _squares_finite(where: str, *arrays: np.ndarray) -> None:
    """||w_k||^2 - ||v_k||^2 must be a float64 number: entries whose squares overflow are refused."""
    with np.errstate(over="ignore", invalid="ignore"):
        ok = all(np.isfinite((a * a).sum(axis=1)).all() for a in arrays)
    if not ok:
        raise _err(where, "entries are so large that their squares overflow float64 (the invariants "
                          "c_k = ||w_k||^2 - ||v_k||^2 would be infinite); rescale them")


def parse_obstruction_experiment(obj) -> ObstructionExperiment:
    """Validate a decoded obstruction experiment (see the module docstring)."""
    if not isinstance(obj, dict):
        raise _err("(top level)", "must be a JSON object")
    unknown = set(obj) - _TOP
    if unknown:
        raise _err("(top level)", f"unknown keys {sorted(unknown)}; accepted: {sorted(_TOP)}")
    for key in ("network", "data"):
        if key not in obj:
            raise InvalidSpecError(f"the obstruction experiment lacks the key {key!r} (it needs \"network\": "
                                   '{"layers": [d, h, e]} and "data": {"x": ..., "y": ...})')
    net = check_keys("obstruction experiment network", obj["network"], _NETWORK, ("layers",))
    layers = net["layers"]
    if not isinstance(layers, list) or len(layers) != 3:
        raise _err("network.layers", "must be [d, h, e] (a shallow network: inputs, hidden ReLU units, outputs)")
    d, h, e = (json_int(f"obstruction experiment network.layers[{i}]", v, 1) for i, v in enumerate(layers))
    bias = json_bool("obstruction experiment network.bias", net.get("bias", True))
    for key, value in _FIXED.items():
        if key in net and net[key] != value:
            raise _err(f"network.{key}", f"must be {value!r} (the obstruction's model: f(x) = sum_k v_k relu(w_k . x)),"
                                         f" got {net[key]!r}")
    if "loss" in obj:
        loss = check_keys("obstruction experiment loss", obj["loss"], {"kind", "l2"})
        if loss.get("kind", "mse") != "mse":
            raise _err("loss.kind",
                       f"must be 'mse' (the obstruction is stated for the squared loss), got {loss['kind']!r}")
        if "l2" in loss and (isinstance(loss["l2"], bool) or loss["l2"] != 0):
            raise _err("loss.l2", "must be 0: with weight decay the invariants c_k are not conserved")
    data = check_keys("obstruction experiment data", obj["data"], {"x", "y"}, ("x", "y"))
    x = json_matrix("obstruction experiment data.x", data["x"], cols=d)
    y = json_matrix("obstruction experiment data.y", data["y"], rows=len(x), cols=e)
    p = d + (1 if bias else 0)
    init = teacher = None
    if "init" in obj:
        ini = check_keys("obstruction experiment init", obj["init"], {"W", "V"}, ("W", "V"))
        W = json_matrix("obstruction experiment init.W", ini["W"], rows=h, cols=p)
        V = json_matrix("obstruction experiment init.V", ini["V"], rows=h, cols=e)
        _squares_finite("init", W, V)
        init = (W, V)
    if "teacher" in obj:
        if e != 1:
            raise _err("teacher", f"applies to a scalar output (e = 1); this network has e = {e}")
        tea = check_keys("obstruction experiment teacher", obj["teacher"], {"W", "V"}, ("W", "V"))
        WT = json_matrix("obstruction experiment teacher.W", tea["W"], cols=p)
        VT = json_matrix("obstruction experiment teacher.V", tea["V"], rows=len(WT), cols=1)
        _squares_finite("teacher", WT, VT)
        teacher = (WT, VT.reshape(-1))
    return ObstructionExperiment(d, h, e, bias, x, y, init, teacher)


def load_obstruction_experiment(path) -> ObstructionExperiment:
    """Read (strictly: :func:`bettibounds._lib.readers.read_json`) and validate an obstruction experiment file."""
    return parse_obstruction_experiment(read_json(path, "obstruction experiment"))
