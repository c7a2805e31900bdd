"""``bettibounds obstruction``: the ReLU topological obstruction (Nurisso et al. 2024)."""

from __future__ import annotations

import argparse
import json

from ..errors import InvalidSpecError
from .common import json_option, output_dir, staged_outputs

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    ob = sub.add_parser("obstruction", parents=[json_option()],
                        help="ReLU topological obstruction (Nurisso et al. 2024): invariants and "
                             "the components gradient flow cannot leave",
                        description="Shallow ReLU network f(x) = sum_k v_k relu(w_k . x) (bias absorbed in w_k): "
                                    "the conserved c_k = ||w_k||^2 - ||v_k||^2, the topology of the invariant set, "
                                    "pathological neurons, and (with --experiment) reachability and a "
                                    "gradient-flow check.")
    src = ob.add_mutually_exclusive_group()
    src.add_argument("--c", help="invariants c_1,...,c_h (comma separated)")
    src.add_argument("--experiment", "-e", help="JSON: network {layers: [d, h, e], bias}, data {x, y}, optional "
                     "init {W, V} (else drawn with --init/--seed) and teacher {W, V}")
    ob.add_argument("--input-dim", "-d", type=int, help="input dimension d (p = d + 1 with the bias absorbed)")
    ob.add_argument("--width", type=int, help="number of hidden neurons h (random initialisation)")
    ob.add_argument("--outputs", type=int, default=1, help="output dimension e (default 1)")
    ob.add_argument("--no-bias", action="store_true", help="no bias: p = d")
    ob.add_argument("--init", default="pytorch",
                    help="pytorch (default: torch.nn.Linear's own, every weight and bias U(+-1/sqrt(fan_in))), "
                         "kaiming, xavier, normal, uniform, or kaiming-uniform etc. (variance conventions, bias "
                         "drawn like a weight)")
    ob.add_argument("--seed", type=int, default=0)
    ob.add_argument("--flow", type=int, default=0, metavar="STEPS",
                    help="with --experiment: run STEPS of small-step gradient descent and check the invariants")
    ob.add_argument("--lr", type=float, default=1e-3, help="step size of --flow")
    ob.add_argument("--plot", metavar="DIR", help="plot the obstruction probability against d and h for --init")
    ob.set_defaults(handler=run)


def _init_name(name: str) -> str:
    from ..obstruction import INITS

    name = {"kaiming": "kaiming-normal", "he": "kaiming-normal", "xavier": "xavier-normal",
            "glorot": "xavier-normal", "torch": "pytorch", "default": "pytorch"}.get(name, name)
    if name not in INITS:
        raise InvalidSpecError(f"unknown --init {name!r}; valid: kaiming, xavier, {', '.join(INITS)}")
    return name


#: sizes the obstruction command accepts: its Poincare polynomial costs O(h^2) operations
#: (20 s at h = 10^4 on the development machine) and a random initialisation h (d + 1) numbers
_OBSTRUCTION_MAX_WIDTH = 10_000
_OBSTRUCTION_MAX_WEIGHTS = 10**8


def _obstruction_size(d: int, h: int) -> None:
    if h > _OBSTRUCTION_MAX_WIDTH:
        raise InvalidSpecError(f"width h = {h} is above the obstruction command's limit of {_OBSTRUCTION_MAX_WIDTH} "
                               "(the Poincare polynomial of H(c) costs O(h^2) operations: about 20 s at h = 10^4)")
    if h * (d + 1) > _OBSTRUCTION_MAX_WEIGHTS:
        raise InvalidSpecError(f"h (d + 1) = {h * (d + 1):.3g} first-layer weights exceed the obstruction command's "
                               f"limit of {_OBSTRUCTION_MAX_WEIGHTS:.0e} (about 0.8 GB of float64)")


def _budget(what: str, h: int, p: int, e: int, *, init: str | None = None, own: bool = False,
            plot: tuple | None = None, bias: bool = True, flow: tuple | None = None,
            signs: tuple | None = None) -> None:
    """Refuse what cannot fit, announce what is long (bettibounds._lib.budget): the Poincare
    polynomial of H(c) (``signs`` = (N+, N-) when known, else the worst split), a random
    initialisation, the Monte Carlo estimates of P(c_k < 0) at ``init`` (the user's network when
    ``own``; every cell of the plot's table when ``plot`` = (d, h) of the user's network), and
    ``flow`` = (m, steps) of gradient descent."""
    from .._lib import budget
    from ..obstruction import PLOT_DIMS, PLOT_WIDTHS, flow_step_seconds, uses_monte_carlo

    n_plus, n_minus = signs if signs is not None else (h // 2, h - h // 2)
    cost = budget.invariant_topology(n_plus, n_minus).alongside(budget.Cost(0.0, 8.0 * 3 * h * (p + e), ()))
    if init is not None:
        cells = [(p, h)] if own else []
        if plot is not None:
            cells += [(d + (1 if bias else 0), w) for d in sorted(set(PLOT_DIMS) | {plot[0]})
                      for w in sorted(set(PLOT_WIDTHS) | {plot[1]})]
        for pc, hc in cells:
            if uses_monte_carlo(pc, hc, init, e, bias=bias):
                cost = cost + budget.monte_carlo(200_000, pc, e)
    if flow is not None:
        cost = cost + budget.obstruction_flow(flow[0], h, p, e, flow[1], flow_step_seconds(flow[0], h, p, e))
    budget.enforce(cost, what, "lower --flow, --width, --input-dim or --outputs")


def run(args: argparse.Namespace) -> int:
    output_dir(args.plot, "--plot")
    with staged_outputs(args.plot) as stage:  # the plot and the printed result: all or none
        return _run(args, stage)


def _run(args: argparse.Namespace, stage) -> int:
    import numpy as np

    from .. import obstruction as ob
    from .._lib.budget import count

    count("--flow", args.flow)
    count("--outputs", args.outputs, 1)
    for name in ("input_dim", "width"):
        if getattr(args, name) is not None:
            count(f"--{name.replace('_', '-')}", getattr(args, name), 1)
    if not (args.lr > 0 and np.isfinite(args.lr)):
        raise InvalidSpecError("--flow must be >= 0 and --lr a positive finite number")
    if args.seed < 0:
        raise InvalidSpecError(f"--seed must be a non-negative integer, got {args.seed}")
    output_dir(args.plot, "--plot")
    out: dict = {}
    e = args.outputs
    c: np.ndarray | list[float]  # the invariants c_k: computed, or given by --c
    if args.experiment:
        from ..obstruction.experiment import load_obstruction_experiment

        exp = load_obstruction_experiment(args.experiment)
        d, h, e, bias = exp.d, exp.h, exp.e, exp.bias
        Xa, Y = exp.x_absorbed, exp.y
        _obstruction_size(d, h)
        p = Xa.shape[1]
        _budget("the obstruction experiment", h, p, e, flow=(len(Xa), args.flow) if args.flow else None,
                init=_init_name(args.init) if args.plot else None, plot=(d, h) if args.plot else None, bias=bias)
        if exp.init is not None:
            W, V = exp.init
        else:
            W, V = ob.initialise(d, h, e, init=_init_name(args.init), bias=bias, seed=args.seed)
        c = ob.invariants(W, V)
        teacher = exp.teacher
        if e == 1:
            out["reachability"] = ob.reachability(W, V, Xa, Y, teacher=teacher)
        if args.flow:
            fl = ob.gradient_flow(W, V, Xa, Y, steps=args.flow, lr=args.lr)
            out["gradient_flow"] = {"steps": args.flow, "lr": args.lr, "final_loss": fl["final_loss"],
                                    "max_invariant_drift": fl["max_invariant_drift"],
                                    "pathological_sign_changed": fl["pathological_sign_changed"]}
    elif args.c is not None:
        if args.input_dim is None or args.input_dim < 1 or e < 1:
            raise InvalidSpecError("--c needs --input-dim >= 1 (p = d + 1 with the bias absorbed, d with --no-bias) "
                                   "and --outputs >= 1")
        try:
            c = [float(t) for t in args.c.split(",")]
        except ValueError:
            raise InvalidSpecError(f"--c takes comma-separated numbers, got {args.c!r}") from None
        if args.width is not None and args.width != len(c):
            raise InvalidSpecError(f"--width {args.width} disagrees with the {len(c)} invariants given by --c "
                                   "(one per hidden neuron; leave --width out)")
        _obstruction_size(args.input_dim, len(c))
        p = args.input_dim + (0 if args.no_bias else 1)
        _budget("the invariant set", len(c), p, e, signs=(sum(x > 0 for x in c), sum(x < 0 for x in c)),
                init=_init_name(args.init) if args.plot else None, plot=(args.input_dim, len(c)) if args.plot else None,
                bias=not args.no_bias)
    else:
        if args.input_dim is None or args.width is None:
            raise InvalidSpecError("give --c, --experiment, or --input-dim and --width for a random initialisation")
        if args.input_dim < 1 or args.width < 1 or e < 1:
            raise InvalidSpecError("--input-dim, --width and --outputs must be >= 1")
        _obstruction_size(args.input_dim, args.width)
        init = _init_name(args.init)
        p = args.input_dim + (0 if args.no_bias else 1)
        _budget("the random initialisation", args.width, p, e, init=init, own=True,
                plot=(args.input_dim, args.width) if args.plot else None, bias=not args.no_bias)
        W, V = ob.initialise(args.input_dim, args.width, e, init=init, bias=not args.no_bias, seed=args.seed)
        c = ob.invariants(W, V)
        out["probability"] = ob.obstruction_probability(p, args.width, init, e, seed=args.seed,
                                                        bias=not args.no_bias)
    topo = ob.topology([float(x) for x in c], p=p, e=e)
    if args.plot:  # the user's d, h, init, bias and e, with the user's network marked
        d_user, bias_user = (d, bias) if args.experiment else (args.input_dim, not args.no_bias)
        out["plot"] = stage.final(ob.plot_probability(stage.path, _init_name(args.init), mark=(d_user, len(c)),
                                                      bias=bias_user, e=e))
    result = {**topo.to_dict(), **out}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(ob.invariants_text(c, p, e))
        if e == 1:
            print(f"pathological neurons (c_k < 0, output sign frozen): {topo.pathological}")
        else:
            print(f"pathological neurons: none (vector output e = {e}: nothing is frozen); neurons with c_k < 0: "
                  f"{topo.negative}")
        print(f"Betti numbers of H(c): {topo.betti_text()}; sum {topo.betti_sum_text}; "
              f"components b_0 = {topo.components}; functionally distinct components: {topo.effective_components}")
        for n in topo.notes:
            print(f"note: {n}")
        if "probability" in out:
            pr = out["probability"]
            what = "pathological" if e == 1 else "with c_k < 0"
            print(f"at {pr['init']} initialisation: P(neuron {what}) = {pr['q_pathological']:.4g}, "
                  f"P(some neuron {what}) = {pr['p_some_pathological']:.4g} [{pr['method']}]")
        if "plot" in out:
            print(f"plot: {out['plot']}")
        if "reachability" in out:
            reach = out["reachability"]
            print(f"reachability of a global minimiser: {reach['status']} -- {reach['reason']}")
        if "gradient_flow" in out:
            g = out["gradient_flow"]
            changed = g["pathological_sign_changed"]
            print(f"gradient descent ({g['steps']} steps, lr {g['lr']}): final loss {g['final_loss']:.4g}, max drift "
                  f"of c_k {g['max_invariant_drift']:.2e}, pathological sign changed: "
                  f"{'n/a (vector output)' if changed is None else changed}")
    return 0
