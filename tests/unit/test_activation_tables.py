"""Every activation of the registry is covered, or refused with a reason, by every engine's table.

The registry (bettibounds/pfaffian/activations.py, the entries with their ``growth`` field) is the one
list of activations; each engine keeps its own table keyed by registry name (docs/architecture.md,
"Where to add an activation"):

==============  ===========================================================  ===========================
table           where                                                        a name outside it is
==============  ===========================================================  ===========================
closed form     pfaffian/derive.py ``_hidden_closed`` (docs/theory.md §4.2),   a gap (``bound`` refuses
                equal to ``layer_recursion`` on a few networks               the network)
torch           engines/torch_ops.py ``TORCH_ACTIVATIONS``, ``activation_op``  a gap (the torch engine
                                                                             evaluates any registry net)
fused           engines/fused.py ``fused_unsupported``                       refused: the reason names it
interval        certified/interval_activations.py ``activation_enclosure``   a gap (certified landscapes)
ball (arb)      certified/arb_oracle.py ``arb_activation``                   a gap (its oracle)
jets            certified/jets.py ``scalar_functions``                       a gap (certified lower bound)
nn modules      empirical/sequential.py ``from_sequential``                  refused in ``NO_NN_MODULE``
recognition     empirical/model_recognition.py ``recognise_network``,        refused as from_sequential
                ``FUNCTIONAL_LAYERS``
==============  ===========================================================  ===========================

A covered name is also *checked*: the entry computes the registry's own formula (its sympy expression,
evaluated by mpmath at 40 digits) at a few points, so an entry under the right name computing something
else is a gap too. The second test puts a new name into the registry and sees the check fail.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from bettibounds.pfaffian import activations as registry
from bettibounds.pfaffian.activations import ACTIVATIONS, activation_names, get_activation

mpmath = pytest.importorskip("mpmath")

#: the registry's names, with one representative of the polynomial family
NAMES = [*activation_names(), "polynomial:3"]
#: points where each entry is compared with the registry's formula (inside every activation's domain)
POINTS = (-2.5, -0.75, 0.0, 0.3, 1.9)
#: the tables of the check, each a function name -> list of problems (empty: covered or refused)
TABLES = ("closed", "torch", "fused", "interval", "arb", "jets", "nn-modules", "recognition")


def _family(name: str) -> str:
    """The table key of a registry name (``polynomial:<p>`` for every polynomial)."""
    return "polynomial:<p>" if name.startswith("polynomial:") else name


def _exact(name: str, order: int = 0) -> list:
    """phi^(order) at POINTS from the registry's sympy expression, as 40-digit mpmath numbers."""
    import sympy as sp

    t = sp.Symbol("t")
    expr = sp.diff(get_activation(name).sympy_function(t), t, order)
    f = sp.lambdify(t, expr, "mpmath")
    with mpmath.workdps(40):
        return [mpmath.mpf(f(mpmath.mpf(p))) for p in POINTS]


def _close(got, exact, rel=1e-12) -> bool:
    return all(abs(float(g) - float(e)) <= rel * max(1.0, abs(float(e))) for g, e in zip(got, exact))


#: networks on which the closed form (derive.py) must equal the layer recursion: depths 1-3, with and
#: without biases, a residual skip, an input-output skip, a sigmoid output and BCE
_CLOSED_CASES = ({"widths": (2,)}, {"widths": (2, 3), "bias": False}, {"widths": (2, 2, 2), "skip": "residual"},
                 {"widths": (3,), "skip": "input-output", "output_activation": "sigmoid"},
                 {"widths": (2, 2), "loss": "bce", "output_activation": "sigmoid", "bce_chain": "two-logs"})


def _closed_problems(name: str) -> list[str]:
    """The closed form of docs/theory.md §4.2 exists for ``name`` (concrete and symbolic sizes) and
    equals the layer recursion (the mechanical degree rules) on :data:`_CLOSED_CASES`."""
    import sympy as sp

    from bettibounds.errors import InvalidSpecError
    from bettibounds.pfaffian.derive import closed_form, layer_recursion
    from bettibounds.spec import ArchitectureSpec

    out = []
    for case in _CLOSED_CASES:
        spec = ArchitectureSpec(inputs=2, activation=name, samples=2, **case)
        try:
            closed = closed_form(spec).format
        except InvalidSpecError as exc:
            return [f"closed: {exc} (derive.py _hidden_closed and docs/theory.md §4.2)"]
        layers = layer_recursion(spec).format
        if closed != layers:
            out.append(f"closed: {name!r} on {case}: closed form {closed} != layer recursion {layers}")
    d, h, L, m = sp.symbols("d h L m", positive=True, integer=True)
    try:
        closed_form(ArchitectureSpec.uniform(d, h, L, m, activation=name))
    except InvalidSpecError as exc:
        out.append(f"closed: symbolic sizes: {exc}")
    return out


def _torch_problems(name: str) -> list[str]:
    torch = pytest.importorskip("torch")
    from bettibounds.engines.torch_ops import TORCH_ACTIVATIONS, activation_op

    if _family(name) not in TORCH_ACTIVATIONS:
        return [f"torch: {name!r} is not in TORCH_ACTIVATIONS (the torch engine refuses nothing)"]
    op, exact = activation_op(name), _exact(name)
    out = []
    for inplace in (False, True):
        z = torch.tensor(POINTS, dtype=torch.float64)
        if not _close(op(z, inplace).tolist(), exact):
            out.append(f"torch: activation_op({name!r}) (inplace={inplace}) is not the registry's phi")
    return out


def _fused_problems(name: str) -> list[str]:
    pytest.importorskip("torch")
    fused = pytest.importorskip("bettibounds.engines.fused")
    from bettibounds.engines.torch_kernel import LossKernel
    from bettibounds.spec import ArchitectureSpec

    spec = ArchitectureSpec(inputs=1, widths=(2,), activation=name, samples=3, bias=False)
    reason = fused.fused_unsupported(spec)
    if reason is not None:  # a refusal must say which activation it refuses
        return [] if repr(name) in reason else [f"fused: refuses {name!r} with a reason naming something else: "
                                                f"{reason!r}"]
    # supported: its float32 loss on a slice must be the float64 torch engine's, to float32 accuracy
    x, y = [[1.0], [-0.5], [2.0]], [[0.5], [0.0], [-0.25]]
    center, direction, t = [0.3, -0.7, 0.9, 0.4], [[0.5, 0.25, -1.0, 0.5]], np.linspace(-1.0, 1.0, 5)
    got = fused.FusedSliceKernel(spec, x, y).evaluate_slice(center, direction, t)
    ref = LossKernel(spec, x, y, dtype="float64").evaluate_chunked(t[:, None], mode="slice", center=center,
                                                                 directions=direction)
    if not np.allclose(got, ref, rtol=1e-5, atol=1e-6):
        return [f"fused: claims {name!r} but its loss {got} is not the torch engine's {ref}"]
    return []


def _interval_problems(name: str) -> list[str]:
    from bettibounds.certified.interval_activations import INTERVAL_ACTIVATIONS, activation_enclosure
    from bettibounds.certified.intervals import Interval

    enc = activation_enclosure(name)
    if enc is None:
        return [f"interval: no enclosure of {name!r} (INTERVAL_ACTIVATIONS)"]
    out = []
    I = Interval(np.array(POINTS))
    V = enc.value(I)
    for label, box, exact in (("value", V, _exact(name)), ("narrow", enc.narrow(I), _exact(name)),
                              ("deriv", enc.deriv(I, V), _exact(name, 1))):
        if not all(lo <= e <= hi for lo, hi, e in zip(box.lo.tolist(), box.hi.tolist(), exact)):
            out.append(f"interval: {name!r}'s {label} enclosure misses the registry's phi at {POINTS}")
    stale = set(INTERVAL_ACTIVATIONS) - set(activation_names())
    if stale:
        out.append(f"interval: INTERVAL_ACTIVATIONS has names outside the registry: {sorted(stale)}")
    return out


def _arb_problems(name: str) -> list[str]:
    flint = pytest.importorskip("flint")
    from bettibounds.certified.arb_oracle import arb_activation
    from bettibounds.errors import InvalidSpecError

    out = []
    for p, v, dv in zip(POINTS, _exact(name), _exact(name, 1)):
        try:
            val, der = arb_activation(name, flint.arb(p))
        except InvalidSpecError:
            return [f"arb: arb_activation has no entry for {name!r}"]
        # the 40-digit values as tiny balls: a ball that overlaps neither is wrong
        if not (val.overlaps(flint.arb(mpmath.nstr(v, 35), 1e-30))
                and der.overlaps(flint.arb(mpmath.nstr(dv, 35), 1e-30))):
            out.append(f"arb: arb_activation({name!r}) at {p} misses the registry's phi or phi'")
    return out


def _jets_problems(name: str) -> list[str]:
    from bettibounds.certified.jets import FLOAT, scalar_functions

    try:
        f = scalar_functions(name, FLOAT)
    except ValueError:
        return [f"jets: scalar_functions has no entry for {name!r}"]
    got = f(np.array(POINTS))
    return [f"jets: scalar_functions({name!r}) derivative {k} is not the registry's"
            for k in range(3) if not _close(np.broadcast_to(got[k], (len(POINTS),)), _exact(name, k), rel=1e-11)]


@functools.cache
def _nn_module_reads() -> dict[str, list[str]]:
    """registry name -> the torch.nn activation modules (default arguments) from_sequential reads as it."""
    torch = pytest.importorskip("torch")
    from bettibounds.empirical.sequential import from_sequential
    from bettibounds.errors import BettiBoundsError

    nn = torch.nn
    reads: dict[str, list[str]] = {}
    for cls_name in [*nn.modules.activation.__all__, "Identity"]:
        try:
            mod = getattr(nn, cls_name)()
        except TypeError:  # needs arguments (MultiheadAttention, Threshold): not an activation of a chain
            continue
        model = nn.Sequential(nn.Linear(1, 2), mod, nn.Linear(2, 1))
        try:
            spec, _ = from_sequential(model, [[1.0], [2.0]], [[0.0], [1.0]])
        except BettiBoundsError:  # refused with its reason (not Pfaffian, not a registry activation)
            continue
        reads.setdefault(spec.activation, []).append(cls_name)
    return reads


def _nn_module_problems(name: str) -> list[str]:
    from bettibounds.empirical.sequential import NO_NN_MODULE

    covered, refused = name in _nn_module_reads(), _family(name) in NO_NN_MODULE
    if covered and refused:
        return [f"nn-modules: {name!r} is read from {_nn_module_reads()[name]} but NO_NN_MODULE refuses it"]
    if not (covered or refused):
        return [f"nn-modules: no torch.nn module is read as {name!r} and NO_NN_MODULE gives no reason"]
    return []


def _recognition_problems(name: str) -> list[str]:
    torch = pytest.importorskip("torch")
    from bettibounds.empirical.model_recognition import FUNCTIONAL_LAYERS, recognise_network
    from bettibounds.empirical.sequential import NO_NN_MODULE
    from bettibounds.engines.model_problem import ModelProblem

    nn = torch.nn
    x, y = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [1.0]])

    class Functional(nn.Module):  # the same chain, with the activation called as a function
        def __init__(self, fn):
            super().__init__()
            self.a, self.b, self.fn = nn.Linear(1, 2), nn.Linear(2, 1), fn

        def forward(self, v):
            return self.b(self.fn(self.a(v)))

    modules = _nn_module_reads().get(name, [])
    if not modules:
        ok = _family(name) in NO_NN_MODULE  # nothing to recognise: refused for the same reason
        return [] if ok else [f"recognition: no module or function is recognised as {name!r} and no reason"]
    out = []
    models = [nn.Sequential(nn.Linear(1, 2), getattr(nn, m)(), nn.Linear(2, 1)) for m in modules]
    models += [Functional(fn) for fn, cls in FUNCTIONAL_LAYERS.items() if cls.__name__ in modules]
    for model in models:
        spec, why = recognise_network(ModelProblem(model, "mse"), x, y)
        if spec is None or spec.activation != name:
            out.append(f"recognition: {model} is not recognised as {name!r} ({why})")
    return out


PROBES = {"closed": _closed_problems, "torch": _torch_problems, "fused": _fused_problems,
          "interval": _interval_problems, "arb": _arb_problems, "jets": _jets_problems,
          "nn-modules": _nn_module_problems, "recognition": _recognition_problems}


def table_problems(name: str) -> dict[str, list[str]]:
    """table -> its problems with the registry name ``name`` (only the tables that have some)."""
    found = {table: PROBES[table](name) for table in TABLES}
    return {table: problems for table, problems in found.items() if problems}


@pytest.mark.parametrize("name", NAMES)
def test_every_table_covers_or_refuses_every_registry_activation(name):
    assert table_problems(name) == {}


@pytest.mark.parametrize("name", [*NAMES, "polynomial:2"])
def test_every_registry_activation_has_its_closed_form(name):
    """Without torch too (the symbolic core needs none): issue 19's trial added an activation that passed
    this file's engine tables while ``bound -a erf`` failed with "no closed form"."""
    assert _closed_problems(name) == []


def test_the_table_check_fails_for_a_name_only_the_registry_has(monkeypatch):
    """A new registry entry (here tanh under another name) that no table knows is caught by every table
    that must cover it; the fused engine refuses it with its reason, which is not a gap."""
    new = dataclasses.replace(ACTIVATIONS["tanh"], name="tanh_copy", aliases=())
    monkeypatch.setitem(ACTIVATIONS, "tanh_copy", new)
    # get_activation looks names up through the registry's alias map (a private dict of the registry module)
    monkeypatch.setitem(vars(registry)["_ALIASES"], "tanh_copy", "tanh_copy")
    assert "tanh_copy" in activation_names() and get_activation("tanh_copy") is new
    problems = table_problems("tanh_copy")
    assert set(problems) == {"closed", "torch", "interval", "arb", "jets", "nn-modules", "recognition"}, problems
    assert problems["closed"] == ["closed: no closed form for activation 'tanh_copy' (derive.py _hidden_closed and "
                                  "docs/theory.md §4.2)"]


def test_the_tables_hold_no_name_outside_the_registry():
    from bettibounds.empirical.sequential import NO_NN_MODULE
    from bettibounds.engines.torch_ops import TORCH_ACTIVATIONS

    known = {*activation_names(), "polynomial:<p>"}
    assert set(TORCH_ACTIVATIONS) <= known
    assert set(NO_NN_MODULE) <= known
    assert set(_nn_module_reads()) <= known
