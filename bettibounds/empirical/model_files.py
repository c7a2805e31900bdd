"""Model experiment files: a model defined in the user's own Python file, its weights, its data.

``bettibounds landscape exp.json`` reads a *model experiment* when the file has a ``"model"`` section
(an experiment file with ``"network"`` is read as before, unchanged)::

    {"model":  {"factory": "net.py:make_model", "weights": "trained.pt",
                "parameters": null, "mode": "refuse"},
     "loss":   {"kind": "cross_entropy", "reduction": "torch"},
     "data":   {"file": "digits.npz", "x": "x", "y": "y", "samples": 500, "seed": 0},
     "region": {"kind": "slice", "directions": {"random": 2, "seed": 0, "normalization": "filter"},
                "low": [-1, -1], "high": [1, 1]},
     "grid": [51, 51], "levels": [0.1, 0.5], "homology_dims": [0, 1]}

* ``model.factory``: ``"file.py:function"``; the function is called with no arguments (or with
  ``model.kwargs``) and returns the ``torch.nn.Module``. The file is the user's own code and is run
  as Python (import it only from a source you trust, as with any script).
* ``model.compile``: ``true`` evaluates the grid with ``torch.compile`` (the model engine's
  ``compile`` option; default ``false``).
* ``model.weights``: a state_dict saved with ``torch.save(model.state_dict(), path)``, read with
  ``torch.load(path, weights_only=True)`` (no pickled code runs) and loaded strictly. The factory
  runs with torch's random generator seeded 0 (then restored), so a model without weights is the
  same initialisation at every run (a model experiment notes it: :data:`NO_WEIGHTS`).
* ``data``: ``"file"`` a ``.npz`` (arrays named by ``"x"`` and ``"y"``, default ``x`` and ``y``) or a
  ``.pt`` dictionary of tensors (read with ``weights_only=True``); or inline ``"x"`` / ``"y"`` lists.
  ``samples`` and ``seed``: a seeded subset.
* ``region``: as for :func:`~bettibounds.empirical.models.experiment_from_model`; wherever a model
  or a direction goes (``center``, ``models``, ``trajectory``, listed ``directions``) a path to a
  state_dict file may stand.

``bettibounds path path.json`` reads a *path file* (:func:`load_path_file`): the same ``"model"``,
``"loss"`` and ``"data"`` sections and a ``"path"`` section, ``{"to": "b.pt", "points": 101, "relax":
true}``, for :func:`~bettibounds.empirical.paths.path_between` from the model to the state_dict
``to``. ``bettibounds barcode`` takes model experiments too (:func:`load_any_experiment`).

Relative paths are relative to the experiment file's folder. Every error is one line
(:class:`~bettibounds.errors.InvalidSpecError`) naming the key.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import uuid
from pathlib import Path

import numpy as np

from ..errors import InvalidSpecError

__all__ = ["load_model_experiment", "load_path_file", "load_any_experiment", "read_json", "is_model_experiment",
           "load_factory", "load_state_dict", "load_weights", "weights_mismatch", "unreadable_tensor_file"]

_TOP = {"model", "loss", "data", "region", "grid", "levels", "homology_dims"}
_MODEL = {"factory", "weights", "parameters", "mode", "kwargs", "compile"}
_LOSS = {"kind", "reduction"}
_DATA = {"file", "x", "y", "samples", "seed"}
_PATH_TOP = {"model", "loss", "data", "path"}
_PATH = {"to", "points", "relax", "images", "iterations", "step", "dense"}


def read_json(path) -> dict:
    """The decoded JSON object of ``path``, read by the package's strict reader
    (:func:`bettibounds._lib.readers.read_json`: a regular file -- not a FIFO or a device --, UTF-8, no
    duplicate keys, no NaN or overflowing numbers, bounded nesting and size; one-line errors)."""
    from .._lib.readers import read_json as read_strict

    obj = read_strict(path, "experiment file")
    if not isinstance(obj, dict):
        raise InvalidSpecError(f"experiment file {str(path)!r} must hold a JSON object")
    return obj


def is_model_experiment(path) -> bool:
    """Whether ``path`` is a model experiment (a JSON object with a ``"model"`` section); False for
    anything else, including unreadable files (the experiment-file reader reports those)."""
    try:
        return "model" in read_json(path)
    except InvalidSpecError:
        return False


def _resolve(base: Path, name, key: str) -> Path:
    if not isinstance(name, str) or not name:
        raise InvalidSpecError(f"{key} must be a file path (a string), got {name!r}")
    p = Path(name)
    return p if p.is_absolute() else base / p


def load_factory(spec: str, base: Path = Path("."), kwargs: dict | None = None):
    """The module built by ``"file.py:function"`` (the function called with ``kwargs``)."""
    import torch

    from .._lib.text import exception_text

    if not isinstance(spec, str) or ":" not in spec:
        raise InvalidSpecError(f"model.factory must be 'file.py:function', got {spec!r}")
    file, func = spec.rsplit(":", 1)
    path = _resolve(base, file, "model.factory")
    if not path.is_file():
        raise InvalidSpecError(f"model.factory: no file {str(path)!r}")
    mod_spec = importlib.util.spec_from_file_location(f"bettibounds_user_model_{uuid.uuid4().hex[:8]}", path)
    if mod_spec is None or mod_spec.loader is None:  # e.g. a file without the .py suffix (fuzz finding)
        raise InvalidSpecError(f"model.factory: {str(path)!r} is not a Python file (expected 'file.py:function')")
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as exc:
        raise InvalidSpecError(f"model.factory: running {str(path)!r} failed: {type(exc).__name__}: "
                               f"{exception_text(exc, 200)}") from None
    factory = getattr(module, func, None)
    if not callable(factory):
        raise InvalidSpecError(f"model.factory: {str(path)!r} defines no function {func!r}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise InvalidSpecError("model.kwargs must be an object of keyword arguments")
    try:
        model = factory(**(kwargs or {}))
    except Exception as exc:
        raise InvalidSpecError(f"model.factory: {func}() failed: {type(exc).__name__}: "
                               f"{exception_text(exc, 200)}") from None
    if not isinstance(model, torch.nn.Module):
        raise InvalidSpecError(f"model.factory: {func}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_state_dict(path: Path, key: str) -> dict:
    """A state_dict read with ``torch.load(weights_only=True)``."""
    import torch

    if not path.is_file():
        raise InvalidSpecError(f"{key}: no file {str(path)!r}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InvalidSpecError(f"{key}: {str(path)!r} {unreadable_tensor_file(exc)}") from None
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise InvalidSpecError(f"{key}: {str(path)!r} must hold a state_dict (torch.save(model.state_dict(), path)),"
                               f" got {type(obj).__name__}")
    return obj


def unreadable_tensor_file(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, as the rest of a one-line message: a pickled
    Python object (a whole module saved with ``torch.save(model)``) is named as such, with the fix (save
    the state_dict); anything else quotes torch's reason without its terminal codes
    (:func:`bettibounds._lib.text.exception_text`)."""
    import pickle

    from .._lib.text import exception_text

    text = exception_text(exc, 100_000)
    if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in text:
        what = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        return ("holds a pickled Python object" + (f" ({what.group(1)}" if what else " (") +
                ", e.g. a whole nn.Module saved with torch.save(model)), not a state_dict of tensors; bettibounds "
                "reads only tensors, so that no code from the file runs: save the weights with "
                "torch.save(model.state_dict(), 'weights.pt') and pass that file")
    return f"is not a tensor file torch.load(weights_only=True) reads ({type(exc).__name__}: " \
           f"{exception_text(exc, 160)})"


def weights_mismatch(exc: BaseException) -> str:
    """torch's load_state_dict error in one line: how many problems, the first one whole (torch lists one
    per line; cut at a fixed length the message ended mid-word and lost the count)."""
    text = str(exc)
    lines = [" ".join(line.split()) for line in text.splitlines()[1:] if line.strip()] or [" ".join(text.split())]

    def short(line: str) -> str:
        line = line.replace("copying a param with shape ", "")
        line = line.replace(" from checkpoint, the shape in current model is ", " in the file, ")
        return re.sub(r"torch\.Size\((\[[^\]]*\])\)", r"\1", line).rstrip(".") + (
            " in the model" if "in the file" in line else "")

    lines = [short(line) for line in lines]
    first = lines[0]
    keys = {kind: re.findall(r'"([^"]+)"', line) for line in lines
            for kind in ("Missing", "Unexpected") if line.startswith(f"{kind} key(s)")}
    if "Missing" in keys and "Unexpected" in keys:
        # both lists: the file's names are not the model's -- say so with both (trial 5 saw only the missing ones)
        def few(names: list[str]) -> str:
            return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")

        first = (f"the model's {few(keys['Missing'])} are not in the file, which has {few(keys['Unexpected'])} "
                 "instead (weights saved from another model?)")
        lines = [first] + [line for line in lines if not line.startswith(("Missing key(s)", "Unexpected key(s)"))]
    # the others too, up to three (a new user's trial: "(and 2 more)" hid the shape mismatches that said which
    # model the file came from)
    rest = lines[1:]
    more = "" if not rest else (f"; {'; '.join(rest[:3])}" + (f" (and {len(rest) - 3} more)" if len(rest) > 3 else ""))
    return f"{len(lines)} problem{'s' if len(lines) > 1 else ''}: {first}{more}"


def load_weights(model, sd: dict):
    """``model`` with the state_dict ``sd`` loaded strictly; a float32 model given float64 weights is made
    float64 first (``model.double()``), so that the weights are not rounded on loading: a factory returns the
    default float32 model while training often ends in float64, and the rounding (3e-9 relative on the loss at
    the centre in a new user's trial) would make the slice's centre, and a path's first end, differ from the
    trained model."""
    import torch

    own = model.state_dict()
    if any(torch.is_tensor(v) and v.dtype == torch.float64 and torch.is_tensor(own.get(k))
           and own[k].is_floating_point() and own[k].dtype != torch.float64 for k, v in sd.items()):
        model = model.double()
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise InvalidSpecError(f"model.weights do not fit the model: {weights_mismatch(exc)}") from None
    return model


def _data(base: Path, data) -> tuple:
    import torch

    if not isinstance(data, dict):
        raise InvalidSpecError('data must be an object: {"file": "data.npz"} or {"x": [...], "y": [...]}')
    unknown = set(data) - _DATA
    if unknown:
        raise InvalidSpecError(f"data: unknown keys {sorted(unknown)}; accepted: {sorted(_DATA)}")
    if "file" in data:
        path = _resolve(base, data["file"], "data.file")
        xk, yk = data.get("x", "x"), data.get("y", "y")
        if not (isinstance(xk, str) and isinstance(yk, str)):
            raise InvalidSpecError('data: with "file", "x" and "y" name the arrays in it (strings, default "x" '
                                   'and "y")')
        if not path.is_file():
            raise InvalidSpecError(f"data.file: no file {str(path)!r}")
        if path.suffix == ".npz":
            from .._lib.memory import available_bytes
            from .._lib.readers import MAX_FILE_BYTES, read_npz

            # the strict reader (forged shapes, object dtypes, non-finite values, sizes against memory); the
            # file may hold other arrays (a test split...), which are not read; class labels keep their dtype.
            # A model's data may exceed the 1 GiB limit on other inputs: up to a third of the free memory (the
            # file's bytes and the arrays are both held while it is read)
            arrays = read_npz(path, tuple(dict.fromkeys((xk, yk))), "data.file", others=True, float64=False,
                              limit=max(MAX_FILE_BYTES, available_bytes() // 3),
                              missing_hint="; name the arrays with --data FILE.npz:X,Y, or \"x\" and \"y\" in the "
                                           "file's \"data\" section")
        else:
            try:
                arrays = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise InvalidSpecError(f"data.file: {str(path)!r} is neither .npz nor a tensor file "
                                       f"torch.load(weights_only=True) reads ({type(exc).__name__})") from None
            if not isinstance(arrays, dict):
                raise InvalidSpecError(f"data.file: {str(path)!r} must hold a dictionary of tensors")
        for k in (xk, yk):
            if k not in arrays:
                raise InvalidSpecError(f"data.file: {str(path)!r} has no array {k!r} "
                                       f"(it has {sorted(map(str, arrays))})")
        return arrays[xk], arrays[yk]
    if "x" not in data or "y" not in data:
        raise InvalidSpecError('data needs "file" or both "x" and "y"')
    return np.asarray(data["x"]), np.asarray(data["y"])


def _region(base: Path, region):
    """The region with every file path replaced by the state_dict it names."""
    if not isinstance(region, dict):
        raise InvalidSpecError("region must be an object")
    out = dict(region)

    def load(v, key):
        return load_state_dict(_resolve(base, v, key), key) if isinstance(v, str) else v

    if "center" in out:
        out["center"] = load(out["center"], "region.center")
    for key in ("models", "trajectory"):
        if isinstance(out.get(key), list):
            out[key] = [load(v, f"region.{key}[{i}]") for i, v in enumerate(out[key])]
    if isinstance(out.get("directions"), list):
        out["directions"] = [load(v, f"region.directions[{i}]") for i, v in enumerate(out["directions"])]
    return out


def _model_loss_data(path, obj, top: set, what: str, factory, weights, data) -> tuple:
    """What model experiments and path files share: the decoded object, its folder, the model (its
    weights loaded), the "model" and "loss" sections, and the data (x, y, "data" section), with the
    command line's replacements (paths relative to the working directory)."""
    base = Path(".") if path is None else Path(path).parent
    if obj is None:
        obj = read_json(path) if path is not None else {}
    obj = dict(obj)
    if "network" in obj:
        raise InvalidSpecError(f'{what} has either "network" (a spec-based network) or "model" (a PyTorch '
                               "model), not both; --model needs a file without \"network\"")
    unknown = set(obj) - top
    if unknown:
        raise InvalidSpecError(f"{what}: unknown keys {sorted(unknown)}; accepted: {sorted(top)}")
    if not isinstance(obj.get("model") or {}, dict):
        raise InvalidSpecError('model must be an object: {"factory": "file.py:function", "weights": "w.pt"}')
    msec = dict(obj.get("model") or {})
    unknown = set(msec) - _MODEL
    if unknown:
        raise InvalidSpecError(f"model: unknown keys {sorted(unknown)}; accepted: {sorted(_MODEL)}")
    cwd = Path(".")
    fac_base, w_base, d_base = base, base, base
    if factory is not None:
        msec["factory"], fac_base = factory, cwd
    if weights is not None:
        msec["weights"], w_base = weights, cwd
    if "factory" not in msec:
        raise InvalidSpecError(f"{what} needs model.factory (or --model file.py:function)")
    import torch

    # the factory under a seeded random generator (then restored): without weights the model is its
    # initialisation, which must be the same at every run (trial 7: two runs, two different centres)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = load_factory(msec["factory"], fac_base, msec.get("kwargs"))
    if msec.get("weights") is not None:
        sd = load_state_dict(_resolve(w_base, msec["weights"], "model.weights"), "model.weights")
        model = load_weights(model, sd)
    lsec = obj.get("loss", {})
    if not isinstance(lsec, dict) or set(lsec) - _LOSS:
        raise InvalidSpecError(f'loss must be an object with keys among {sorted(_LOSS)}, like {{"kind": "mse"}}')
    if not isinstance(obj.get("data") or {}, dict):
        raise InvalidSpecError('data must be an object: {"file": "data.npz"} or {"x": [...], "y": [...]}')
    dsec = dict(obj.get("data") or {})
    if data is not None:
        dsec = {k: v for k, v in dsec.items() if k in ("samples", "seed")}
        dsec["file"], d_base = data, cwd
        named = re.fullmatch(r"(.+):([^,:/]+),([^,:/]+)", data) if isinstance(data, str) else None
        if named is not None and not Path(data).exists():  # FILE:X,Y names the arrays (x_train, y_train...)
            dsec["file"], dsec["x"], dsec["y"] = named.group(1), named.group(2), named.group(3)
        elif isinstance(data, str) and not Path(data).exists():
            part = re.fullmatch(r"(.+\.(?:npz|pt|pth)):([^/]*)", data)
            if part is not None and Path(part.group(1)).exists():  # FILE.npz:X (one name), FILE.npz:X,Y,Z, ...
                raise InvalidSpecError(f"--data {data!r}: after the file, name two arrays, the inputs and the "
                                       f"targets: {part.group(1)}:X,Y (got {part.group(2)!r})")
    if not dsec:
        raise InvalidSpecError(f'{what} needs "data" (or --data file.npz)')
    x, y = _data(d_base, dsec)
    return base, obj, model, msec, lsec, x, y, dsec


def load_model_experiment(path=None, *, obj: dict | None = None, factory: str | None = None,
                          weights: str | None = None, data: str | None = None, loss: str | None = None,
                          reduction: str | None = None, mode: str | None = None):
    """A :class:`~bettibounds.empirical.models.ModelExperiment` from a model experiment file (or a
    decoded ``obj``); the keyword arguments stand for the command line's ``--model``, ``--weights``,
    ``--data``, ``--loss``, ``--reduction`` and ``--mode`` and replace the file's entries (their paths
    are relative to the working directory)."""
    from .models import experiment_from_model

    base, obj, model, msec, lsec, x, y, dsec = _model_loss_data(path, obj, _TOP, "a model experiment", factory,
                                                                weights, data)
    for key in ("region", "grid"):
        if key not in obj:
            raise InvalidSpecError(f'a model experiment needs "{key}"')
    exp = experiment_from_model(
        model, x, y, loss=loss or lsec.get("kind", "mse"), reduction=reduction or lsec.get("reduction", "torch"),
        region=_region(base, obj["region"]), grid=obj["grid"], levels=obj.get("levels"),
        homology_dims=obj.get("homology_dims"), parameters=msec.get("parameters"),
        mode=mode or msec.get("mode", "refuse"),
        samples=dsec.get("samples"), seed=dsec.get("seed", 0), compile=msec.get("compile", False))
    if msec.get("weights") is None:
        exp = dataclasses.replace(exp, notes=exp.notes + (NO_WEIGHTS,))
    return exp


#: the note of a model experiment without weights
NO_WEIGHTS = ("no weights given (model.weights or --weights): the model is the factory's own initialisation, made "
              "with torch's random generator seeded 0 (the same at every run)")


def load_path_file(path=None, *, obj: dict | None = None, factory: str | None = None, weights: str | None = None,
                   to: str | None = None, data: str | None = None, loss: str | None = None,
                   reduction: str | None = None, mode: str | None = None, **options) -> dict:
    """The keyword arguments of :func:`~bettibounds.empirical.paths.path_between` from a *path file*
    (or a decoded ``obj``)::

        {"model": {"factory": "net.py:make_model", "weights": "a.pt"},
         "loss":  {"kind": "cross_entropy"},
         "data":  {"file": "digits.npz", "samples": 500, "seed": 0},
         "path":  {"to": "b.pt", "points": 101, "relax": true, "images": 24, "iterations": 300,
                   "step": 0.2, "dense": 8}}

    The path runs from the model (``model.weights``) to ``path.to`` (a state_dict of the same
    architecture); the other ``path`` entries are :func:`path_between`'s options. The keyword
    arguments stand for the command line's ``--model``, ``--weights``, ``--to``, ``--data``,
    ``--loss``, ``--reduction``, ``--mode`` and (``options``) ``--points``, ``--relax``, ``--images``,
    ``--iterations``, and replace the file's entries (their paths are relative to the working
    directory; the file's, to its folder)."""
    base, obj, model, msec, lsec, x, y, dsec = _model_loss_data(path, obj, _PATH_TOP, "a path file", factory,
                                                                weights, data)
    psec = obj.get("path") or {}
    if not isinstance(psec, dict):
        raise InvalidSpecError('path must be an object: {"to": "b.pt", "points": 101, "relax": true}')
    unknown = set(psec) - _PATH
    if unknown:
        raise InvalidSpecError(f"path: unknown keys {sorted(unknown)}; accepted: {sorted(_PATH)}")
    psec = {**psec, **{k: v for k, v in options.items() if v is not None}}
    unknown = set(psec) - _PATH
    if unknown:
        raise InvalidSpecError(f"path options: unknown {sorted(unknown)}; accepted: {sorted(_PATH - {'to'})}")
    if not isinstance(psec.get("relax", True), bool):
        raise InvalidSpecError(f"path.relax must be true or false, got {psec['relax']!r}")
    if to is not None:
        psec["to"], to_base = to, Path(".")
    else:
        to_base = base
    if psec.get("to") is None:
        raise InvalidSpecError("path needs the state_dict the path ends at: --to b.pt, or path.to in a path file")
    other = load_state_dict(_resolve(to_base, psec.pop("to"), "path.to"), "path.to")
    return {"model_a": model, "model_b": other, "x": x, "y": y, "loss": loss or lsec.get("kind", "mse"),
            "reduction": reduction or lsec.get("reduction", "torch"), "parameters": msec.get("parameters"),
            "mode": mode or msec.get("mode", "refuse"), "samples": dsec.get("samples"), "seed": dsec.get("seed", 0),
            "compile": msec.get("compile", False), **psec}


def load_any_experiment(path):
    """The experiment in ``path``: a model experiment when the file has a ``"model"`` section, else
    an experiment file (:func:`~bettibounds.empirical.experiment.load_experiment`)."""
    from .experiment import load_experiment

    if not is_model_experiment(path):
        return load_experiment(path)
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        from .._lib.extras import missing_extra

        raise missing_extra("empirical", exc, "PyTorch models") from None
    return load_model_experiment(path)
