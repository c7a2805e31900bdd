"""The bound column of a model experiment: is the model a network of the symbolic engine's family?

:func:`recognise_network` traces the model (``torch.fx``) into the layers it applies and, when they
are ``[Flatten,] Linear, act, Linear, ..., Linear[, out_act]`` with an activation and a loss
(:data:`BOUNDED_LOSSES`) the catalog covers, returns the :class:`~bettibounds.spec.ArchitectureSpec`
whose bounds apply; otherwise the reason why none does (not Pfaffian, not covered by a theorem, not
a chain of layers). :func:`recognise_classifier` reads the same chains for the cross-entropy losses
(no bound; the fused engine's route evaluates them). This module imports torch.
"""

from __future__ import annotations

import torch

from ..engines.model_problem import ModelProblem
from ..errors import InvalidSpecError, NotPfaffianError

__all__ = ["recognise_network", "recognise_layers", "recognise_classifier", "BOUNDED_LOSSES", "CLASSIFIER_LOSSES",
           "FUNCTIONAL_LAYERS", "METHOD_LAYERS", "FUSED_LAYERS", "fused_layer_gaps"]

#: activation functions a forward may call instead of a module, and the module each stands for: the call's
#: own arguments (beta, threshold, approximate, inplace) build the module, whose registry activation is then
#: read (or refused) by from_sequential as for the module itself. (F.tanh and F.sigmoid call the tensor
#: methods, which torch.fx records as such: METHOD_LAYERS.)
FUNCTIONAL_LAYERS = {
    torch.tanh: torch.nn.Tanh, torch.nn.functional.tanh: torch.nn.Tanh,
    torch.sigmoid: torch.nn.Sigmoid, torch.nn.functional.sigmoid: torch.nn.Sigmoid,
    torch.nn.functional.silu: torch.nn.SiLU, torch.nn.functional.softplus: torch.nn.Softplus,
    torch.nn.functional.gelu: torch.nn.GELU, torch.relu: torch.nn.ReLU, torch.nn.functional.relu: torch.nn.ReLU,
}
#: tensor methods (``h.tanh()``) that are activations, and the module each stands for
METHOD_LAYERS = {"tanh": torch.nn.Tanh, "tanh_": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
                 "sigmoid_": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "relu_": torch.nn.ReLU}

#: losses a recognised network's bound covers (the catalog's theorems are for MSE and BCE)
BOUNDED_LOSSES = ("mse", "bce", "bce_with_logits")
#: losses on a classifier's logits that :func:`recognise_classifier` reads (no bound covers them)
CLASSIFIER_LOSSES = ("cross_entropy", "nll")

_NOT_COVERED = {
    "Conv1d": "convolution layers", "Conv2d": "convolution layers", "Conv3d": "convolution layers",
    "ConvTranspose1d": "convolution layers", "ConvTranspose2d": "convolution layers",
    "ConvTranspose3d": "convolution layers", "BatchNorm1d": "norm layers", "BatchNorm2d": "norm layers",
    "BatchNorm3d": "norm layers", "LayerNorm": "norm layers", "GroupNorm": "norm layers",
    "InstanceNorm1d": "norm layers", "InstanceNorm2d": "norm layers", "MultiheadAttention": "attention",
    "TransformerEncoderLayer": "attention", "Embedding": "embeddings", "AvgPool1d": "pooling layers",
    "AvgPool2d": "pooling layers", "AdaptiveAvgPool2d": "pooling layers", "Softmax": "softmax heads",
    "LogSoftmax": "softmax heads",
}
_NOT_PFAFFIAN_MODULES = {"MaxPool1d": "max-pooling (a maximum is not analytic)",
                         "MaxPool2d": "max-pooling (a maximum is not analytic)",
                         "MaxPool3d": "max-pooling (a maximum is not analytic)",
                         "AdaptiveMaxPool2d": "max-pooling (a maximum is not analytic)"}


def _chain(model):
    """The modules a model applies one after the other, from a torch.fx trace, or a reason why it is not
    such a chain. Activation functions called as functions become their modules."""
    import operator

    import torch.fx

    nn = torch.nn
    fun = FUNCTIONAL_LAYERS
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent Python control flow, unsupported constructs
        from .._lib.text import exception_text

        return None, f"its forward could not be traced to read its structure ({exception_text(exc, 100)})"
    mods = dict(gm.named_modules())
    for node in gm.graph.nodes:  # a sum of two computed values: a skip connection
        if node.op == "call_function" and node.target in (operator.add, torch.add) and \
                sum(isinstance(a, torch.fx.Node) for a in node.args) >= 2:
            return None, "residual connections are not covered by any theorem in the catalog"
    chain, prev = [], None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if prev is not None:
                return None, "its forward takes more than one input"
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                return None, "its output is not the last layer's"
            break
        inputs = [a for a in node.all_input_nodes]
        if inputs != [prev] or len(node.users) != 1:
            return None, "its forward is not a chain of layers (a value is used twice or combined)"
        if node.op == "call_module":
            chain.append(mods[node.target])
        elif node.op == "call_function" and node.target in fun:
            try:  # F.softplus(h, beta, threshold) is nn.Softplus(beta, threshold): never drop the arguments
                chain.append(fun[node.target](*node.args[1:], **node.kwargs))
            except TypeError:
                return None, f"its forward calls {node.target.__name__} with arguments {node.args[1:]} " \
                             f"{node.kwargs} that its module does not take"
        elif node.op == "call_method" and node.target in METHOD_LAYERS and len(node.args) == 1 and not node.kwargs:
            chain.append(METHOD_LAYERS[node.target]())
        elif node.op in ("call_method", "call_function") and str(getattr(node.target, "__name__", node.target)) in (
                "flatten", "view", "reshape"):
            chain.append(nn.Flatten())
        else:
            return None, f"its forward calls {getattr(node.target, '__name__', node.target)}, not a layer of the " \
                         "catalog's networks"
        prev = node
    return chain, None


def recognise_network(problem: ModelProblem, x: torch.Tensor, y: torch.Tensor):
    """``(spec, None)`` when the model is a network of the symbolic engine's family, else
    ``(None, reason)``.

    The model is traced (``torch.fx``) into the sequence of layers it applies; the sequence must be
    ``[Flatten,] Linear, act, Linear, ..., Linear[, out_act]`` with the activations of
    :func:`~bettibounds.empirical.sequential.from_sequential` (Dropout and Identity are the identity
    in eval mode and dropped), every parameter of the model in those Linear layers, and a loss the
    catalog covers (mse, bce, bce_with_logits). The bound is then that of the spec read by
    ``from_sequential`` (docs/theory.md, "Bounds beside a PyTorch model", says why the parameter
    order, the reduction and a subset of varied parameters do not change it).
    """
    spec, _, reason = recognise_layers(problem, x, y)
    return spec, reason


def recognise_layers(problem: ModelProblem, x: torch.Tensor, y: torch.Tensor):
    """:func:`recognise_network` with the layers it read: ``(spec, layers, None)`` -- ``layers`` the
    modules of the chain in the order the forward applies them (the spec's parameter vector is
    their Linear layers' weights and biases in that order, ``from_sequential``'s) -- or
    ``(None, None, reason)``."""
    why = _modules_reason(problem.model)
    if why is not None:
        return None, None, why
    chain, why = _chain(problem.model)
    if chain is None:
        return None, None, why
    if not isinstance(problem.loss, str):
        return None, None, "the loss is a callable, which no theorem in the catalog covers"
    if problem.loss not in BOUNDED_LOSSES:
        return None, None, (f"the loss {problem.loss} is not covered by any theorem in the catalog (which covers "
                            f"{', '.join(BOUNDED_LOSSES[:-1])} and {BOUNDED_LOSSES[-1]})")
    return _chain_spec(problem, chain, x, y)


def recognise_classifier(problem: ModelProblem, x: torch.Tensor):
    """The network whose outputs are the logits of a ``cross_entropy`` or ``nll`` model, for the fused
    engine (:mod:`~bettibounds.empirical.model_fused`; no bound: these losses are outside the catalog).

    Returns ``(spec, layers, head, None)`` -- the spec of the chain ``[Flatten,] Linear, act, ...,
    Linear`` read as for :func:`recognise_layers` (loss "mse" with the identity output: its outputs
    are the logits), the chain's layers, and ``head`` "log_softmax" where the model ends in
    ``nn.LogSoftmax`` over the class axis (only with ``nll``, whose value is then the cross entropy
    of the logits before it) or None -- or ``(None, None, None, reason)``.
    """
    nn = torch.nn
    if not isinstance(problem.loss, str) or problem.loss not in CLASSIFIER_LOSSES:
        return None, None, None, f"the loss is {problem.loss_name}, not {' or '.join(CLASSIFIER_LOSSES)}"
    why = _modules_reason(problem.model, allow=("LogSoftmax",))
    if why is not None:
        return None, None, None, why
    chain, why = _chain(problem.model)
    if chain is None:
        return None, None, None, why
    head = None
    if chain and isinstance(chain[-1], nn.LogSoftmax):
        if problem.loss != "nll":
            return None, None, None, "cross_entropy of a LogSoftmax head's output (the fused engine takes the logits)"
        if chain[-1].dim not in (1, -1):
            return None, None, None, f"the LogSoftmax head is over dim={chain[-1].dim}, not the class axis (dim=1)"
        chain, head = chain[:-1], "log_softmax"
    elif problem.loss == "nll":
        return None, None, None, "nll on a model that does not end in nn.LogSoftmax(dim=1)"
    if any(isinstance(mod, nn.LogSoftmax) for mod in chain):
        return None, None, None, "a LogSoftmax inside the network"
    linears = [mod for mod in chain if isinstance(mod, nn.Linear)]
    if not linears:
        return None, None, None, "the chain has no nn.Linear layer"
    logits = torch.zeros(x.shape[0], linears[-1].out_features, dtype=torch.float64)
    spec, layers, why = _chain_spec(problem, chain, x, logits)
    if spec is None:
        return None, None, None, why
    if spec.output_activation != "identity":
        return None, None, None, f"the model ends in an output activation ({spec.output_activation}): its outputs " \
                                 "are not logits"
    return spec, layers, head, None


#: the leaf modules a chain the fused engine evaluates may hold (Dropout and Identity: the identity in eval mode)
FUSED_LAYERS = ("Linear", "Tanh", "Sigmoid", "Flatten", "Dropout", "Identity")


def fused_layer_gaps(model, log_softmax_head: bool = False) -> list[str]:
    """The class names of the model's leaf modules that the fused engine does not evaluate (not in
    :data:`FUSED_LAYERS`; ``log_softmax_head``: a LogSoftmax is accepted), each once, in the order of
    ``model.modules()``: all of them, where a recognition reason names only the first."""
    out: list[str] = []
    for mod in model.modules():
        if next(mod.children(), None) is not None:
            continue  # a container (Sequential, the user's own module): its children are listed
        name = type(mod).__name__
        if name not in FUSED_LAYERS and not (log_softmax_head and name == "LogSoftmax") and name not in out:
            out.append(name)
    return out


def _modules_reason(model, allow=()) -> str | None:
    """Why a module of the model keeps it out of the catalog's networks, or None (``allow``: class
    names accepted anyway). A module that is not Pfaffian is named before one the catalog does not
    cover, wherever it is (a MaxPool2d after a Conv2d: "not Pfaffian", the stronger reason)."""
    nn = torch.nn
    uncovered = None
    for mod in model.modules():
        name = type(mod).__name__
        if name in allow:
            continue
        if name in _NOT_PFAFFIAN_MODULES:
            return f"not Pfaffian: {name}, {_NOT_PFAFFIAN_MODULES[name]}"
        if isinstance(mod, (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Hardtanh, nn.ReLU6, nn.PReLU, nn.SELU, nn.CELU,
                            nn.Hardswish, nn.Hardsigmoid, nn.Softsign, nn.Threshold)):
            return f"not Pfaffian: {name} is not analytic, so no Pfaffian chain exists"
        if name in _NOT_COVERED and uncovered is None:
            uncovered = f"not covered by any theorem in the catalog: {_NOT_COVERED[name]} ({name})"
    return uncovered


def _chain_spec(problem: ModelProblem, chain, x: torch.Tensor, y: torch.Tensor):
    """``(spec, layers, None)`` for the chain of modules read by :func:`_chain`, or ``(None, None,
    reason)`` (the checks of :func:`recognise_layers` after the loss's)."""
    from .sequential import from_sequential

    nn = torch.nn
    model = problem.model
    layers: list[nn.Module] = []
    for i, mod in enumerate(chain):
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(mod, nn.ReLU):
            return None, None, "not Pfaffian: relu is not analytic, so no Pfaffian chain exists"
        if isinstance(mod, nn.Flatten):
            if layers:
                return None, None, "a Flatten between layers is not part of the catalog's networks"
            continue
        layers.append(mod)
    xs = x.reshape(x.shape[0], -1) if x.dim() != 2 else x
    if y.dim() == 1 or not y.is_floating_point():
        return None, None, "the targets are not a (samples, outputs) matrix of numbers"
    seq = nn.Sequential(*layers)
    own = {id(p) for p in seq.parameters()}
    if any(id(p) not in own for p in model.parameters()):
        return None, None, "the model has parameters outside the chain of layers its forward applies"
    if problem.loss == "bce" and not (layers and isinstance(layers[-1], nn.Sigmoid)):
        return None, None, "loss 'bce' on a model that does not end in nn.Sigmoid"
    if problem.loss == "bce_with_logits" and layers and isinstance(layers[-1], (nn.Sigmoid, nn.Tanh)):
        return None, None, "loss 'bce_with_logits' on a model that already ends in an output activation"
    try:
        spec, _ = from_sequential(seq, xs.numpy(), y.numpy(), loss="bce" if problem.loss.startswith("bce") else "mse")
    except NotPfaffianError as exc:
        return None, None, f"not Pfaffian: {exc}"
    except InvalidSpecError as exc:
        return None, None, f"not a network of the catalog: {exc}"
    return spec, layers, None
