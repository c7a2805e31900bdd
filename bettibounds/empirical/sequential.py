"""From ``torch.nn.Sequential`` models to specs: ``from_sequential`` and ``experiment_from_sequential``.

A plain ``nn.Sequential(Linear, act, ..., Linear[, out_act])`` is a network of the symbolic
engine's family; these functions read its spec and its parameter vector (in the order of
``parameters_to_vector``, the engines' order), so the landscape around a trained model is an
ordinary experiment with a bound beside it.
"""

from __future__ import annotations

import math

import torch

from .._lib.arrays import as_matrix
from ..errors import InvalidSpecError, NotPfaffianError
from ..pfaffian.activations import NON_PFAFFIAN
from ..spec import ArchitectureSpec

__all__ = ["from_sequential", "experiment_from_sequential", "NO_NN_MODULE"]

#: registry activations (canonical names; ``polynomial:<p>`` for the polynomials) that no torch.nn module
#: computes, so that ``from_sequential`` never meets them, and why. Every other registry activation is
#: read from its module below; tests/unit/test_activation_tables.py checks that each registry name is one
#: or the other.
NO_NN_MODULE = {
    "arctan": "torch.nn has no arctan module (torch.atan is a function only)",
    "gaussian": "torch.nn has no module computing e^{-t^2}",
    "exp": "torch.nn has no exp module (torch.exp is a function only)",
    "polynomial:<p>": "torch.nn has no polynomial module",
}


def _module_activation(mod) -> str | None:
    """Registry name of a supported activation module; None for a Linear; raises otherwise."""
    nn = torch.nn
    if isinstance(mod, nn.Sigmoid):
        return "logistic"
    if isinstance(mod, nn.Tanh):
        return "tanh"
    if isinstance(mod, nn.SiLU):
        return "silu"
    if isinstance(mod, nn.Identity):
        return "identity"
    if isinstance(mod, nn.Softplus):
        if float(mod.beta) != 1.0:
            raise InvalidSpecError(
                f"nn.Softplus(beta={mod.beta}) is not supported: only beta=1 (log(1 + e^t)) is in the registry "
                "(rescale the preceding Linear layer by beta and the following one by 1/beta instead)"
            )
        if float(mod.threshold) < 20.0:
            raise InvalidSpecError(
                f"nn.Softplus(threshold={mod.threshold}) is not supported: torch returns t itself above the "
                f"threshold, which is log(1 + e^t) only up to log(1 + e^-threshold) = "
                f"{math.log1p(math.exp(-float(mod.threshold))):.2g}; use the default threshold=20 (a gap below "
                "2.1e-9) or more"
            )
        return "softplus"
    if isinstance(mod, nn.GELU):
        if getattr(mod, "approximate", "none") != "none":
            raise InvalidSpecError(
                f"nn.GELU(approximate={mod.approximate!r}) is not supported: only the exact GELU "
                "(approximate='none', t * Phi(t)) is in the registry"
            )
        return "gelu"
    name = type(mod).__name__.lower()
    if name in NON_PFAFFIAN:
        raise NotPfaffianError(f"nn.{type(mod).__name__}: " + NON_PFAFFIAN[name])
    raise InvalidSpecError(
        f"module nn.{type(mod).__name__} is not supported by from_sequential; accepted: nn.Linear and the "
        "activations nn.Sigmoid, nn.Tanh, nn.Softplus (beta=1), nn.SiLU, nn.GELU (approximate='none'), "
        "nn.Identity"
    )


def from_sequential(model, x, y, loss: str = "mse", l2: float = 0.0):
    """``(spec, theta)`` for a ``torch.nn.Sequential`` of Linear and activation modules.

    The model must read ``Linear, act, Linear, act, ..., Linear[, out_act]``: at least one
    hidden layer, the same hidden activation throughout (nn.Sigmoid, nn.Tanh,
    nn.Softplus with beta=1, nn.SiLU, nn.GELU with approximate='none', or nn.Identity /
    no module for a linear layer), and optionally a final nn.Sigmoid or nn.Tanh as the
    output activation. With ``loss="bce"`` and no final nn.Sigmoid the model's output is
    taken as the logit (as with ``nn.BCEWithLogitsLoss``). ``theta`` is
    ``parameters_to_vector(model)`` as float64 numpy, which is exactly the kernel's
    parameter order; bias-free Linear layers give a per-layer ``bias`` list.

    Skip connections (``skip="residual"`` or ``"input-output"``) cannot be expressed by
    an ``nn.Sequential`` and are never produced here; build the
    :class:`~bettibounds.spec.ArchitectureSpec` directly for them.

    Raises
    ------
    NotPfaffianError
        For ReLU and other non-analytic activations.
    InvalidSpecError
        For any other unsupported module or layout, or data of the wrong shape.
    """
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise InvalidSpecError(f"from_sequential needs a torch.nn.Sequential, got {type(model).__name__}")
    mods = list(model)
    if not mods or not isinstance(mods[0], nn.Linear):
        raise InvalidSpecError("the Sequential must start with an nn.Linear layer")
    linears: list = []
    acts: list = []  # activation name between consecutive Linears (None when absent)
    out_act = "identity"
    pending: str | None = None
    seen_act = False
    for pos, mod in enumerate(mods):
        if isinstance(mod, nn.Linear):
            if linears:
                acts.append(pending)
            linears.append(mod)
            pending, seen_act = None, False
            continue
        name = _module_activation(mod)
        if name == "identity":
            continue  # nn.Identity is a no-op wherever it sits
        if seen_act:
            raise InvalidSpecError(
                f"two activations in a row at position {pos} of the Sequential; expected Linear, act, Linear, ..."
            )
        pending, seen_act = name, True
    if pending is not None:  # a trailing activation: the output activation
        if pending not in ("logistic", "tanh"):
            raise InvalidSpecError(
                f"the final module is a {pending} activation; only nn.Sigmoid or nn.Tanh may follow the "
                "last Linear layer (as the output activation)"
            )
        out_act = pending
    if len(linears) < 2:
        raise InvalidSpecError(
            "the Sequential needs at least one hidden layer (Linear, act, Linear); a single Linear layer "
            "is a linear model: use nn.Sequential(nn.Linear(d, h), nn.Identity(), nn.Linear(h, out))"
        )
    names = {a or "identity" for a in acts}
    if len(names) != 1:
        raise InvalidSpecError(
            f"all hidden layers must use the same activation, got {sorted(names)} (one spec activation per network)"
        )
    activation = names.pop()
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise InvalidSpecError(f"Linear layers do not chain: {a} is followed by {b}")
    loss_name = str(loss).strip().lower()
    if loss_name == "bce":
        if out_act == "tanh":
            raise InvalidSpecError("loss='bce' needs a sigmoid output (or logits); the model ends in nn.Tanh")
        out_act = "logistic"
    d, outputs = linears[0].in_features, linears[-1].out_features
    xa = as_matrix("x", x, cols=d)
    as_matrix("y", y, cols=outputs, rows=xa.shape[0])  # validates the labels
    biases = [lin.bias is not None for lin in linears]
    bias = biases[0] if len(set(biases)) == 1 else biases
    spec = ArchitectureSpec(
        inputs=d, widths=tuple(lin.out_features for lin in linears[:-1]), outputs=outputs,
        activation=activation, output_activation=out_act, loss=loss_name, l2=l2,
        samples=xa.shape[0], bias=bias,
    )
    _check_plain_modules(model, linears)
    tensors = [t for lin in linears for t in (lin.weight, lin.bias) if t is not None]  # docs/usage.md's order
    theta = torch.cat([t.detach().reshape(-1).to("cpu", torch.float64) for t in tensors]).numpy().copy()
    if theta.shape[0] != spec.n_params:  # pragma: no cover - guarded by the layout checks above
        raise InvalidSpecError(f"the model has {theta.shape[0]} parameters but the spec has {spec.n_params}")
    return spec, theta


def _check_plain_modules(model, linears) -> None:
    """Refuse what would make ``theta`` differ from the weights the model computes with.

    A parametrised weight (``torch.nn.utils.parametrize``: spectral or weight norm, orthogonal),
    a pruning mask (``torch.nn.utils.prune``: ``weight_orig`` times ``weight_mask``, applied by a
    forward pre-hook) and old-style ``spectral_norm`` / ``weight_norm`` keep raw tensors that are
    not the effective weights, and any forward hook may change what a module returns; a Linear
    that appears twice shares its parameters between positions. None of these is the plain
    network of the spec, so a landscape over its parameters would not be the model's.
    """
    from torch.nn.utils import parametrize

    for pos, mod in enumerate([model, *model]):
        what = None
        if parametrize.is_parametrized(mod):
            what = "a parametrisation (torch.nn.utils.parametrize: spectral/weight norm, orthogonal, ...)"
        elif any(hasattr(mod, name + "_orig") for name in ("weight", "bias")):
            what = "a pruning mask or a reparametrisation (weight_orig: torch.nn.utils.prune, spectral_norm)"
        elif mod._forward_pre_hooks or mod._forward_hooks or getattr(mod, "_forward_hooks_with_kwargs", None):
            what = "forward hooks"
        if what is not None:
            where = "the Sequential itself" if mod is model else f"module {pos - 1} ({type(mod).__name__})"
            raise InvalidSpecError(
                f"{where} has {what}, so what it computes is not what its stored tensors give; remove them "
                "first (torch.nn.utils.prune.remove, parametrize.remove_parametrizations, the hook's handle) "
                "to get a plain network, whose parameters the landscape is over"
            )
    if len({id(lin) for lin in linears}) != len(linears):
        raise InvalidSpecError("an nn.Linear appears at two positions of the Sequential (shared weights): "
                               "the spec's layers have independent parameters")
    own = [id(t) for lin in linears for t in (lin.weight, lin.bias) if t is not None]
    if sorted(id(t) for t in model.parameters()) != sorted(own):
        raise InvalidSpecError("the Sequential has parameters besides its Linear layers' weights and biases "
                               "(an activation module with learnable parameters?); the spec has none")


def experiment_from_sequential(model, x, y, *, region: dict, grid, levels=None, homology_dims=None,
                               loss: str = "mse", l2: float = 0.0):
    """An :class:`~bettibounds.empirical.experiment.Experiment` for a ``torch.nn.Sequential``
    and its data, validated exactly as an experiment file is.

    ``region`` is an experiment-file region (docs/usage.md, "Experiment files"); a ``"slice"`` without ``"center"``
    is centred at the model's own parameters (``parameters_to_vector(model)``), so
    ``{"kind": "slice", "directions": {"random": 2, "seed": 0}, "low": [-1, -1], "high": [1, 1]}``
    is the usual "landscape around my trained model". The result goes to
    :func:`~bettibounds.empirical.compare.analyze_landscape` or
    :func:`~bettibounds.empirical.sampler.sample_landscape`.
    """
    from .experiment import parse_experiment

    spec, theta = from_sequential(model, x, y, loss=loss, l2=l2)
    if not isinstance(region, dict):
        raise InvalidSpecError(f"region must be an experiment-file region (a dict), got {type(region).__name__}")
    region = dict(region)
    if region.get("kind") == "slice" and "center" not in region:
        region["center"] = theta.tolist()
    biases = [spec.has_bias(k) for k in range(1, len(spec.widths) + 2)]
    obj = {
        "network": {"layers": [spec.inputs, *spec.widths, spec.outputs], "activation": spec.activation,
                    "output_activation": spec.output_activation,
                    "bias": biases[0] if len(set(biases)) == 1 else biases},
        "loss": {"kind": spec.loss, "l2": float(l2)},
        "data": {"x": as_matrix("x", x).tolist(), "y": as_matrix("y", y).tolist()},
        "region": region, "grid": grid,
    }
    if levels is not None:
        obj["levels"] = levels
    if homology_dims is not None:
        obj["homology_dims"] = homology_dims
    return parse_experiment(obj)  # numpy arrays, numpy scalars and tuples are taken as lists and numbers
