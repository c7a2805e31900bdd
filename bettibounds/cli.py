"""Command-line interface: a thin argparse layer over :func:`bettibounds.bounds`.

Bad input never produces a traceback: the CLI prints one line to stderr and exits
with status 2. Heavy modules (sympy) are imported only by the sub-commands and
output modes that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .errors import BettiBoundsError, InvalidSpecError

__all__ = ["main", "build_parser"]

PROG = "bettibounds"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D401 (argparse API)
        sys.stderr.write(f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")
        sys.exit(2)


def _one_line(text: str) -> str:
    """Errors are one line: escape line breaks that came in with the user's input."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


#: sample-mode options of ``bettibounds barcode`` and their defaults (None on the command line
#: means "not given", so grid mode can refuse them)
_SAMPLE_DEFAULTS = {"uniform": 2000, "steps": 200, "lr": 0.05, "k": 10}


def _output_dir(path, option: str) -> None:
    """Create the output directory of ``option`` now, before any work: a path that is a file
    or cannot be created is a one-line error, not a traceback after minutes of computing."""
    if path is None:
        return
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InvalidSpecError(f"{option} {str(p)!r} is an existing file; give a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidSpecError(f"{option} {str(p)!r}: cannot create the directory ({exc.strerror or exc})") from None


def _int_list(text: str) -> list[int]:
    tokens = text.replace(" ", "").split(",")
    try:
        if "" in tokens:  # "3,,3" or "3," is a typo, not [3, 3]
            raise ValueError
        return [int(t) for t in tokens]
    except ValueError:
        raise InvalidSpecError(
            f"--widths takes comma-separated positive integers such as 8,8,8; got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=(
        "Rigorous bounds on the Betti numbers of neural-network loss sublevel sets "
        "S_c = {theta : Loss(theta) <= c}."))
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    b = sub.add_parser("bound", help="upper and lower Betti-number bounds for an architecture",
                       description="Upper and lower bounds on B(S_c) (or on B({x : N(x) >= 0}) with --space input).")
    net = b.add_argument_group("network")
    net.add_argument("--inputs", "-d", type=int, help="input dimension d")
    net.add_argument("--widths", "-w", help="hidden widths, comma separated (e.g. 8,8,8)")
    net.add_argument("--activation", "-a", default="sigmoid", help="hidden activation (default: sigmoid; "
                     "see `bettibounds activations`)")
    net.add_argument("--outputs", type=int, default=1, help="output dimension (default 1)")
    net.add_argument("--output-activation", default="identity", help="identity, sigmoid or tanh (default identity)")
    net.add_argument("--skip", default="none", help="none, residual, input-output, or residual,input-output")
    net.add_argument("--no-bias", action="store_true", help="no bias in any Linear layer")
    loss = b.add_argument_group("loss and data")
    loss.add_argument("--loss", default="mse", help="mse or bce (bce needs --output-activation sigmoid)")
    loss.add_argument("--samples", "-m", type=int, help="number of samples m")
    loss.add_argument("--distinct-inputs", type=int, help="number of distinct inputs among the m samples")
    loss.add_argument("--l2", type=float, default=0.0, help="weight lambda of lambda*||theta||^2 (default 0)")
    loss.add_argument("--bce-chain", default="logsigmoid", help="logsigmoid (default) or two-logs")
    mode = b.add_argument_group("what to bound")
    mode.add_argument("--space", default="loss", choices=("loss", "input"),
                      help="loss: S_c in parameter space; input: {x : N(x) >= 0} for fixed weights")
    mode.add_argument("--slice", type=int, dest="slice_dim", help="bound a k-dimensional affine slice (n = k)")
    mode.add_argument("--symbolic", action="store_true",
                      help="closed forms in the symbols d, h, L, m for uniform networks")
    mode.add_argument("--zell-constant", type=int, default=1, help="C in place of Zell's O(.) (default 1)")
    mode.add_argument("--check", action="store_true",
                      help="also run the node-by-node mechanical engine (small networks)")
    mode.add_argument("--certify", action="store_true",
                      help="build the explicit Pfaffian chain and machine-check the format (small networks)")
    out = b.add_argument_group("output")
    fmt = out.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--latex", action="store_true", help="LaTeX of the bound formulas")

    lo = sub.add_parser("lower", help="certify b_0(S_c) >= |G| on a level band for a concrete network and data",
                        description="Find a minimiser, certify a strict local minimum with ball arithmetic, certify "
                                    "that its images under the symmetry group are separated, and print the band "
                                    "[c_lo, c_hi) on which b_0(S_c) >= |G|. Exit status 1 when a step cannot be "
                                    "certified (the output says which and why).")
    lo.add_argument("--experiment", "-e", required=True, help="experiment JSON (network, loss, data)")
    lo.add_argument("--starts", type=int, default=8, help="multi-start runs of the minimiser search (default 8)")
    lo.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    lo.add_argument("--max-order", type=int, default=200_000, help="largest |G| whose orbit is enumerated")
    lo.add_argument("--json", action="store_true", help="one JSON object")

    ls = sub.add_parser("landscape", help="sample the loss on a grid and measure Betti numbers of its sublevel sets",
                        description="Evaluate the loss of an experiment file on its grid (box over all parameters or "
                                    "a slice), compute sublevel persistence, report Betti numbers at the file's "
                                    "levels with clipped/stable flags, beside the rigorous upper bound.")
    ls.add_argument("experiment", help="experiment JSON (network, loss, data, region, grid, levels; format: docs/usage.md, "
                                        "'Experiment files')")
    ls.add_argument("--json", action="store_true", help="one JSON object")
    ls.add_argument("--plot", metavar="DIR", help="write heat map / sections, Betti curves and the diagram as PNG")
    ls.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    ls.add_argument("--dtype", default=None, choices=("float64", "float32"),
                    help="arithmetic precision (default float64)")
    ls.add_argument("--engine", default="auto", choices=_ENGINE_CHOICES, help=_ENGINE_HELP)
    ls.add_argument("--refine", type=int, default=2,
                    help="refinement factor of the stability check (default 2; 1 disables it)")
    ls.add_argument("--progress", action="store_true", help="progress bar")
    ls.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="evaluate the loss on Dask: 'local' (a LocalCluster on this machine, stopped afterwards) "
                         "or tcp://host:port (a running `dask scheduler`); default: in this process "
                         "(docs/distributed.md)")
    ls.add_argument("--workers", type=int, default=None,
                    help="worker processes of --scheduler local (default: the number of CPU cores)")
    ls.add_argument("--block", type=int, default=None,
                    help="points per Dask task, rounded up to whole kernel chunks (default: one chunk)")

    ob = sub.add_parser("obstruction", help="ReLU topological obstruction (Nurisso et al. 2024): invariants and "
                        "the components gradient flow cannot leave",
                        description="Shallow ReLU network f(x) = sum_k v_k relu(w_k . x) (bias absorbed in w_k): "
                                    "the conserved c_k = ||w_k||^2 - ||v_k||^2, the topology of the invariant set, "
                                    "pathological neurons, and (with --experiment) reachability and a gradient-flow check.")
    src = ob.add_mutually_exclusive_group()
    src.add_argument("--c", help="invariants c_1,...,c_h (comma separated)")
    src.add_argument("--experiment", "-e", help="JSON: network {layers: [d, h, e], bias}, data {x, y}, optional "
                     "init {W, V} (else drawn with --init/--seed) and teacher {W, V}")
    ob.add_argument("--input-dim", "-d", type=int, help="input dimension d (p = d + 1 with the bias absorbed)")
    ob.add_argument("--width", type=int, help="number of hidden neurons h (random initialisation)")
    ob.add_argument("--outputs", type=int, default=1, help="output dimension e (default 1)")
    ob.add_argument("--no-bias", action="store_true", help="no bias: p = d")
    ob.add_argument("--init", default="kaiming", help="kaiming, xavier, normal, uniform, or kaiming-uniform etc.")
    ob.add_argument("--seed", type=int, default=0)
    ob.add_argument("--flow", type=int, default=0, metavar="STEPS",
                    help="with --experiment: run STEPS of small-step gradient descent and check the invariants")
    ob.add_argument("--lr", type=float, default=1e-3, help="step size of --flow")
    ob.add_argument("--plot", metavar="DIR", help="plot the obstruction probability against d and h for --init")
    ob.add_argument("--json", action="store_true")

    bc = sub.add_parser("barcode", help="barcode of minima and TO-score (Barannikov et al.): on a grid, or from "
                        "samples in the full parameter space",
                        description="Grid mode (an experiment with region and grid, no --minima): the barcode of "
                                    "the sampled landscape (cubical persistence: every minimum and its merge saddle, "
                                    "higher-index segments too). Sample mode (--minima N, or an experiment without "
                                    "a grid, or --network/--data): uniform samples plus N gradient-descent "
                                    "trajectories in a box of parameter space, a k-NN graph, lower-star H0, and "
                                    "optionally the longest segments' death levels refined along explicit paths. "
                                    "The TO-score [reconstructed] is a norm of the finite segment lengths.")
    bc.add_argument("experiment", nargs="?", help="experiment JSON (network, loss, data; region/grid for grid mode)")
    bc.add_argument("--network", metavar="FILE", help="JSON with \"network\" and \"loss\" (instead of an experiment)")
    bc.add_argument("--data", metavar="FILE", help="data: JSON {\"x\": [...], \"y\": [...]} or .npz with arrays x, y")
    bc.add_argument("--minima", type=int, metavar="N", help="sample mode: N gradient-descent starts (default 64)")
    bc.add_argument("--uniform", type=int, default=None,
                    help=f"sample mode: uniform points in the box (default {_SAMPLE_DEFAULTS['uniform']})")
    bc.add_argument("--steps", type=int, default=None,
                    help=f"sample mode: descent steps per start (default {_SAMPLE_DEFAULTS['steps']})")
    bc.add_argument("--lr", type=float, default=None,
                    help=f"sample mode: Adam step size (default {_SAMPLE_DEFAULTS['lr']})")
    bc.add_argument("--k", type=int, default=None,
                    help=f"sample mode: neighbours in the k-NN graph (default {_SAMPLE_DEFAULTS['k']}; at most the "
                         "number of samples - 1, the JSON records both)")
    bc.add_argument("--box", default=None, metavar="LOW,HIGH",
                    help="sample mode: the box [LOW, HIGH]^P (default: the experiment's box region, else -3,3); "
                         "write a negative LOW as --box=-3,3")
    bc.add_argument("--refine", type=int, default=0, metavar="N",
                    help="sample mode: refine the death levels of the N longest segments (string method)")
    bc.add_argument("--norm", default="sum", choices=("sum", "max", "l2"), help="TO-score norm (default sum)")
    bc.add_argument("--normalize", action="store_true", help="TO-score divided by max f - min f")
    bc.add_argument("--dim", type=int, default=0, help="segment index of the TO-score (default 0)")
    bc.add_argument("--seed", type=int, default=0,
                    help="sample mode: seed of the uniform points and the starts (grid mode: the experiment's own "
                         "direction seed applies)")
    bc.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    bc.add_argument("--dtype", default=None, choices=("float64", "float32"),
                    help="arithmetic precision (default float64)")
    bc.add_argument("--engine", default="auto", choices=_ENGINE_CHOICES,
                    help=_ENGINE_HELP + "; grid mode only: sample mode descends with gradients on torch")
    bc.add_argument("--json", action="store_true", help="one JSON object")
    bc.add_argument("--plot", metavar="DIR", help="write barcode.png (and minima.png for 2-D grids)")
    bc.add_argument("--progress", action="store_true", help="progress bars")
    bc.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="evaluate the loss on Dask: local (a LocalCluster started and stopped here) or "
                         "tcp://host:port (needs the [dist] extra); descent trajectories stay in this process")
    bc.add_argument("--workers", type=int, default=None, help="worker processes of --scheduler local")

    rp = sub.add_parser("reproduce", help="regenerate the literature's claims as a report (tables, plots, JSON)")
    rp.add_argument("--out", default="bettibounds-report", help="output folder (default bettibounds-report)")
    rp.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="run the barcode trend's networks on Dask: local (a LocalCluster) or tcp://host:port "
                         "(needs the [dist] extra); default: in this process")
    rp.add_argument("--quick", action="store_true", help="the quick run (under a minute on 2 idle CPU cores); without it: larger sweeps, finer grids, more certificates")

    a = sub.add_parser("activations", help="list the activation registry with chains and formats")
    a.add_argument("--json", action="store_true")
    t = sub.add_parser("theorems", help="list the bound theorems with status and citation")
    t.add_argument("--json", action="store_true")
    return parser


_ENGINE_CHOICES = ("auto", "torch", "fused")
_ENGINE_HELP = ("auto (default): the fused engine on the CPU where it supports the network, region and precision, "
                "else torch; the output records the engine and why. torch: the batched torch kernel (any network, "
                "CPU or CUDA). fused: the compiled CPU kernel (tanh/logistic hidden layers, MSE or BCE, slices with "
                "1-4 directions and boxes, float64 or float32; needs numba, pip install -e '.[fast]'; compiled once "
                "per machine in about 30 s per precision). docs/usage.md, 'Engines'")


def _spec_from_args(args):
    from .spec import ArchitectureSpec

    common = dict(
        activation=args.activation, loss=args.loss, outputs=args.outputs,
        output_activation=args.output_activation, l2=args.l2, skip=args.skip,
        bias=not args.no_bias, bce_chain=args.bce_chain,
    )
    if args.symbolic:
        if args.widths is not None:
            raise InvalidSpecError("--symbolic derives closed forms in h and L: drop --widths")
        if args.distinct_inputs is not None:
            raise InvalidSpecError("--symbolic does not take --distinct-inputs")
        import sympy

        d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
        return ArchitectureSpec.uniform(
            args.inputs if args.inputs is not None else d, h, L,
            args.samples if args.samples is not None else m, **common)
    missing = [f for f, v in (("--inputs", args.inputs), ("--widths", args.widths), ("--samples", args.samples))
               if v is None]
    if args.space == "input" and args.samples is None:
        missing.remove("--samples")
    if missing:
        raise InvalidSpecError(f"missing {', '.join(missing)} (or use --symbolic for closed forms)")
    return ArchitectureSpec(
        inputs=args.inputs, widths=_int_list(args.widths),
        samples=args.samples if args.samples is not None else 1,
        distinct_inputs=args.distinct_inputs, **common)


def _cmd_bound(args) -> int:
    from .api import bounds

    if args.symbolic and args.space == "input":
        raise InvalidSpecError("--symbolic is for the loss space; drop --space input")
    spec = _spec_from_args(args)
    report = bounds(spec, space=args.space, slice_dim=args.slice_dim,
                    zell_constant=args.zell_constant, check=args.check, certify=args.certify)
    if args.json:
        print(report.to_json())
    elif args.latex:
        print(report.to_latex())
    else:
        print(report.to_text())
    if report.certificate is not None and not report.certificate.verified:
        sys.stderr.write(f"{PROG}: error: the chain certificate FAILED ({len(report.certificate.failures)} false claims)\n")
        return 1
    return 0


def _cmd_lower(args) -> int:
    from .certified.witness import certify_lower
    from .empirical.experiment import load_experiment

    for name in ("starts", "max_order"):
        if getattr(args, name) < 1:
            raise InvalidSpecError(f"--{name.replace('_', '-')} must be >= 1")
    exp = load_experiment(args.experiment)
    cert = certify_lower(exp.spec, exp.x, exp.y, starts=args.starts, seed=args.seed, max_order=args.max_order)
    if args.json:
        print(json.dumps({"experiment": str(args.experiment), "spec": exp.spec.to_dict(), **cert.to_dict()}, indent=2))
    else:
        print(cert.to_text())
    return 0 if cert.certified else 1


def _cmd_landscape(args) -> int:
    from .empirical.experiment import load_experiment

    if args.refine < 1:
        raise InvalidSpecError("--refine must be >= 1 (1 disables the stability check)")
    if args.device not in ("auto", "cpu", "cuda"):
        raise InvalidSpecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    exp = load_experiment(args.experiment)
    _output_dir(args.plot, "--plot")
    if exp.region is None or exp.grid is None:
        raise InvalidSpecError('the experiment needs "region" and "grid" for a landscape')
    try:
        from .empirical.compare import analyze_landscape
    except ImportError as exc:
        raise InvalidSpecError(f"the landscape tools need the [empirical] extra ({exc.name} is missing): "
                               "pip install torch==2.13.0 && pip install -e '.[empirical]'") from None
    device = _engine_device(args)
    if args.scheduler is None:
        if args.workers is not None or args.block is not None:
            raise InvalidSpecError("--workers and --block apply to distributed runs: add --scheduler local "
                                   "or --scheduler tcp://host:port")
        res = analyze_landscape(exp, refine=args.refine, device=device, dtype=args.dtype, progress=args.progress,
                                engine=args.engine)
        dist = None
    else:
        res, dist = _landscape_distributed(exp, args, device)
    written = []
    if args.plot:
        from .empirical.plots import plot_landscape

        written = plot_landscape(res, args.plot)
    if args.json:
        d = res.to_dict()
        d["plots"] = written
        d["distributed"] = dist
        print(json.dumps(d, indent=2))
    else:
        print(_landscape_text(res, written))
        if dist is not None:
            print(f"distributed: {dist['scheduler']} ({dist['address']}), {dist['workers']} workers, "
                  f"blocks of {dist['block']} points (chunk {dist['chunk']})")
    if res.violations:
        sys.stderr.write(f"{PROG}: error: {len(res.violations)} stable unclipped level(s) exceed the rigorous upper "
                         "bound: this contradicts the theory, please report it\n")
        return 1
    return 0


def _engine_device(args):
    """The device for ``--device`` and ``--engine``; ``--dtype`` defaults to float64 with every engine;
    refuses what the fused engine cannot do (CUDA). ``--engine auto`` is resolved by the library
    (bettibounds.empirical.engine_choice), which records the engine and why."""
    device = None if args.device == "auto" else args.device
    if args.dtype is None:
        args.dtype = "float64"
    if args.engine == "fused":
        if device == "cuda":
            raise InvalidSpecError("--engine fused runs on the CPU; use --engine torch for CUDA")
        device = "cpu"
    return device


def _landscape_distributed(exp, args, device):
    """``analyze_landscape`` with the loss evaluated on Dask; (result, what the JSON records)."""
    from .distributed import dask_client, landscape_sampler
    from .empirical.compare import analyze_landscape

    for name in ("workers", "block"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InvalidSpecError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.workers is not None and args.scheduler != "local":
        raise InvalidSpecError("--workers applies to --scheduler local only (a remote cluster has the workers "
                               "started there with `dask worker`)")
    with dask_client(args.scheduler, workers=args.workers) as client:
        sampler = landscape_sampler(exp, client, device=device, dtype=args.dtype, block=args.block,
                                    progress=args.progress, engine=args.engine)
        with sampler.evaluator as ev:
            res = analyze_landscape(exp, refine=args.refine, sampler=sampler)
    return res, {"scheduler": args.scheduler, **ev.info, "runs": ev.runs}


def _landscape_text(res, written) -> str:
    from .numbers import format_log10_up

    s = res.sample
    b = res.bound
    lines = [
        f"landscape: {s.kind}, grid {list(s.values.shape)} = {s.points} points on {s.device} ({s.dtype}, "
        f"{s.engine} engine), {s.seconds:.2f} s"
        + ("" if s.compile_seconds is None else f" (of which {s.compile_seconds:.2f} s compiling or loading the kernel)")
        + f"; persistence backend {res.diagram.backend}"
        + ("" if not s.engine_reason else f"\nengine: {s.engine} ({s.engine_reason})"),
        f"loss range on the grid [{s.values.min():.6g}, {s.values.max():.6g}]",
        f"upper bound ({b.theorem}, {b.status}, n = {res.n_variables}): B <= 10^{format_log10_up(b.log10)}",
        "",
        f"{'level':>12}  {'betti ' + str(res.dims):<22} {'clipped':<8} {'stable':<7} bound",
    ]
    for r in res.levels:
        cmp = r["comparison"]
        verdict = "-" if cmp is None else {True: "holds", False: "VIOLATED", None: "undecided (partial sum within the bound)"}[
            cmp["holds"]] + ("" if cmp.get("slack_log10") is None else f" (slack 10^{cmp['slack_log10']:.3g})")
        stable = {True: "yes", False: "NO", None: "n/a"}[r["stable"]]
        lines.append(f"{r['level']:>12.6g}  {str(r['betti']):<22} {'YES' if r['clipped'] else 'no':<8} {stable:<7} {verdict}")
        if r["stable"] is False:
            lines.append(f"{'':>14}refined grid gives {r['betti_refined']}: do not trust this level")
    if res.refined is None:
        lines.append("stability check off (--refine 1): no level is compared with the bound, since the comparison "
                     "needs a stable, unclipped level")
    else:
        lines.append(f"stability: checked on the refined grid {list(res.refined.values.shape)} (--refine {res.refine})")
    if written:
        lines.append("")
        lines.extend(f"plot: {w}" for w in written)
    return "\n".join(lines)


def _init_name(name: str) -> str:
    from .obstruction import INITS

    name = {"kaiming": "kaiming-normal", "he": "kaiming-normal", "xavier": "xavier-normal",
            "glorot": "xavier-normal"}.get(name, name)
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


def _cmd_obstruction(args) -> int:
    import numpy as np

    from . import obstruction as ob

    if args.flow < 0 or not (args.lr > 0 and np.isfinite(args.lr)):
        raise InvalidSpecError("--flow must be >= 0 and --lr a positive finite number")
    if args.seed < 0:
        raise InvalidSpecError(f"--seed must be a non-negative integer, got {args.seed}")
    _output_dir(args.plot, "--plot")
    out: dict = {}
    e = args.outputs
    if args.experiment:
        from pathlib import Path

        try:
            obj = json.loads(Path(args.experiment).read_text())
            d, h, e = obj["network"]["layers"]
            bias = bool(obj["network"].get("bias", True))
            X = np.array(obj["data"]["x"], float)
            Y = np.array(obj["data"]["y"], float).reshape(len(X), -1)
        except KeyError as exc:
            raise InvalidSpecError(f"the obstruction experiment {args.experiment!r} lacks the key {exc.args[0]!r} "
                                   '(it needs "network": {"layers": [d, h, e]} and "data": {"x", "y"})') from None
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidSpecError(f"cannot read the obstruction experiment {args.experiment!r}: {exc}") from None
        if X.ndim != 2 or X.shape[1] != d or Y.shape[1] != e or min(d, h, e) < 1:
            raise InvalidSpecError("obstruction experiment: data.x must be m x d and data.y m x e for layers [d, h, e]")
        _obstruction_size(d, h)
        Xa = np.hstack([X, np.ones((len(X), 1))]) if bias else X
        p = Xa.shape[1]
        if "init" in obj:
            W, V = np.array(obj["init"]["W"], float), np.array(obj["init"]["V"], float).reshape(h, e)
        else:
            init = _init_name(args.init)
            rng = np.random.default_rng(args.seed)
            sw, sv = ob._variance(init, p, h) ** 0.5, ob._variance(init, h, e) ** 0.5
            draw = (lambda s, shape: rng.uniform(-s * 3**0.5, s * 3**0.5, shape)) if init.endswith("uniform") \
                else (lambda s, shape: rng.normal(0, s, shape))
            W, V = draw(sw, (h, p)), draw(sv, (h, e))
        if W.shape != (h, p):
            raise InvalidSpecError(f"init.W must be {h} x {p} (bias absorbed as the last column)")
        c = ob.invariants(W, V)
        teacher = None
        if "teacher" in obj:
            teacher = (np.array(obj["teacher"]["W"], float), np.array(obj["teacher"]["V"], float))
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
    else:
        if args.input_dim is None or args.width is None:
            raise InvalidSpecError("give --c, --experiment, or --input-dim and --width for a random initialisation")
        if args.input_dim < 1 or args.width < 1 or e < 1:
            raise InvalidSpecError("--input-dim, --width and --outputs must be >= 1")
        _obstruction_size(args.input_dim, args.width)
        init = _init_name(args.init)
        p = args.input_dim + (0 if args.no_bias else 1)
        rng = np.random.default_rng(args.seed)
        sw, sv = ob._variance(init, p, args.width) ** 0.5, ob._variance(init, args.width, e) ** 0.5
        if init.endswith("uniform"):
            W = rng.uniform(-sw * 3**0.5, sw * 3**0.5, (args.width, p))
            V = rng.uniform(-sv * 3**0.5, sv * 3**0.5, (args.width, e))
        else:
            W, V = rng.normal(0, sw, (args.width, p)), rng.normal(0, sv, (args.width, e))
        c = ob.invariants(W, V)
        out["probability"] = ob.obstruction_probability(p, args.width, init, e, seed=args.seed)
    topo = ob.topology([float(x) for x in c], p=p, e=e)
    if args.plot:
        out["plot"] = ob.plot_probability(args.plot, _init_name(args.init))
    result = {**topo.to_dict(), **out}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"invariants c_k = ||w_k||^2 - ||v_k||^2: {[round(float(x), 6) for x in c]} (p = {p}, e = {e})")
        print(f"pathological neurons (c_k < 0, output sign frozen): {topo.pathological}")
        betti = topo.betti_list if topo.betti_list is not None and len(topo.betti_list) <= 40 else \
            {k: v for k, v in sorted(topo.betti.items())[:6]}
        print(f"Betti numbers of H(c): {betti}; sum {sum(topo.betti.values())}; components b_0 = {topo.components}; "
              f"functionally distinct components: {topo.effective_components}")
        for n in topo.notes:
            print(f"note: {n}")
        if "probability" in out:
            pr = out["probability"]
            print(f"at {pr['init']} initialisation: P(neuron pathological) = {pr['q_pathological']:.4g}, "
                  f"P(some neuron pathological) = {pr['p_some_pathological']:.4g} [{pr['method']}]")
        if "plot" in out:
            print(f"plot: {out['plot']}")
        if "reachability" in out:
            print(f"reachability of a global minimiser: {out['reachability']['status']} -- {out['reachability']['reason']}")
        if "gradient_flow" in out:
            g = out["gradient_flow"]
            print(f"gradient descent ({g['steps']} steps, lr {g['lr']}): final loss {g['final_loss']:.4g}, max drift "
                  f"of c_k {g['max_invariant_drift']:.2e}, pathological sign changed: {g['pathological_sign_changed']}")
    return 0


def _barcode_experiment(args):
    """The experiment of ``bettibounds barcode``: a file, or --network plus --data."""
    import zipfile

    from .empirical.experiment import load_experiment, parse_experiment

    if args.experiment and (args.network or args.data):
        raise InvalidSpecError("give either an experiment file or --network with --data, not both")
    if args.experiment:
        return load_experiment(args.experiment)
    if not (args.network and args.data):
        raise InvalidSpecError("barcode needs an experiment file, or --network FILE and --data FILE")
    try:
        net = json.loads(Path(args.network).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidSpecError(f"--network {args.network}: cannot read JSON ({exc})") from None
    if not isinstance(net, dict) or "network" not in net:
        raise InvalidSpecError(f'--network {args.network}: expected a JSON object with "network" (and "loss")')
    path = Path(args.data)
    try:
        if path.suffix == ".npz":
            import numpy as np

            with np.load(path) as z:
                if "x" not in z or "y" not in z:
                    raise InvalidSpecError(f"--data {path}: the .npz file needs arrays named x and y")
                data = {"x": z["x"].tolist(), "y": z["y"].tolist()}
        else:
            data = json.loads(path.read_text())
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # a corrupt .npz is a BadZipFile
        raise InvalidSpecError(f"--data {path}: cannot read it ({exc})") from None
    if not isinstance(data, dict) or "x" not in data or "y" not in data:
        raise InvalidSpecError(f'--data {path}: expected {{"x": [...], "y": [...]}}')
    return parse_experiment({"network": net["network"], "loss": net.get("loss", {"kind": "mse"}),
                             "data": {"x": data["x"], "y": data["y"]}})


def _cmd_barcode(args) -> int:
    if args.device not in ("auto", "cpu", "cuda"):
        raise InvalidSpecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    if args.dim < 0:
        raise InvalidSpecError("--dim must be >= 0")
    _output_dir(args.plot, "--plot")
    if args.workers is not None and (args.scheduler != "local" or args.workers < 1):
        raise InvalidSpecError("--workers must be >= 1 and applies to --scheduler local only")
    exp = _barcode_experiment(args)
    try:
        import gudhi  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise InvalidSpecError(f"barcodes need the [empirical] extra ({exc.name} is missing): "
                               "pip install torch==2.13.0 && pip install -e '.[empirical]'") from None
    device = _engine_device(args)
    grid_mode = args.minima is None and exp.region is not None and exp.grid is not None
    if args.engine == "fused" and not grid_mode:
        raise InvalidSpecError("--engine fused applies to grid mode (an experiment with a slice region and a "
                               "grid); sample mode descends with gradients and uses the torch kernel")
    if grid_mode:
        given = [f"--{n}" for n in ("box", *_SAMPLE_DEFAULTS) if getattr(args, n) is not None]
        given += ["--refine"] if args.refine else []
        if given:
            raise InvalidSpecError(f"{', '.join(given)}: options of sample mode (add --minima N), not used on a grid")
    for name, value in _SAMPLE_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler is not None:
            from .distributed import dask_client

            client = stack.enter_context(dask_client(args.scheduler, workers=args.workers))
        barcode, values, dist = _barcode_run(exp, args, device, grid_mode, client)
    if args.dim not in barcode.dims and args.dim > 0:
        raise InvalidSpecError(f"--dim {args.dim}: this barcode has segments of index {barcode.dims} only")
    written = []
    if args.plot:
        from .barcode.plots import plot_all

        try:
            written = plot_all(barcode, args.plot, values)
        except OSError as exc:
            raise InvalidSpecError(f"--plot {args.plot}: cannot write the plots there ({exc})") from None
    d = barcode.to_dict(args.norm, args.dim, args.normalize)
    if args.json:
        d["n_params"] = exp.spec.n_params
        d["distributed"] = dist
        d["plots"] = written
        print(json.dumps(d, indent=2))
    else:
        print(_barcode_text(barcode, d["to_score"], exp.spec.n_params, written))
    return 0


def _barcode_run(exp, args, device, grid_mode, client):
    """(barcode, grid values or None, what JSON records of Dask); the loss on Dask when ``client``."""
    from .barcode import grid_barcode, sample_barcode
    from .empirical.kernels import LossKernel
    from .empirical.sampler import sample_landscape

    evaluator = None
    if client is not None:
        from .distributed import DaskEvaluator

        # sample mode evaluates with the torch kernel in this process (its descent needs gradients), so
        # its Dask evaluator does too: the same losses wherever they are computed
        evaluator = DaskEvaluator(client, exp.spec, exp.x, exp.y, device=device, dtype=args.dtype,
                                  progress=args.progress, engine=args.engine if grid_mode else "torch")
    try:
        if grid_mode:
            sample = sample_landscape(exp, device=device, dtype=args.dtype, progress=args.progress,
                                      kernel=evaluator, engine=args.engine)
            barcode, values = grid_barcode(sample), sample.values
        else:
            if args.box:
                try:
                    low, high = (float(v) for v in args.box.split(","))
                except ValueError:
                    raise InvalidSpecError(f"--box must be LOW,HIGH (two numbers), got {args.box!r}") from None
            elif exp.region is not None and exp.region.get("kind") == "box":
                low, high = exp.region["low"], exp.region["high"]
            else:
                low, high = -3.0, 3.0
            kernel = LossKernel(exp.spec, exp.x, exp.y, device=device, dtype=args.dtype)
            barcode = sample_barcode(kernel, low, high, uniform=args.uniform,
                                     starts=64 if args.minima is None else args.minima, steps=args.steps,
                                     lr=args.lr, k=args.k, seed=args.seed, refine=args.refine,
                                     progress=args.progress, evaluator=evaluator)
            values = None
        dist = None if evaluator is None else {"scheduler": args.scheduler, **evaluator.info}
    finally:
        if evaluator is not None:
            evaluator.close()
    return barcode, values, dist


def _barcode_text(barcode, score, n_params, written) -> str:
    m = barcode.meta
    if barcode.source == "grid":
        head = f"barcode: grid {m['shape']} ({m.get('kind', 'array')}), persistence backend {m['backend']}"
    else:
        head = (f"barcode: k-NN graph (k = {m['k']}) on {m['n_points']} samples in a box of R^{n_params} "
                f"({m['uniform']} uniform + {m['starts']} descent trajectories), seed {m['seed']}")
    lines = [head, f"loss range [{barcode.value_min:.6g}, {barcode.value_max:.6g}]",
             f"TO-score [{score['status']}]: {score['norm']} of {score['n_segments']} finite index-{score['dim']} "
             f"segment lengths{' / (max f - min f)' if score['normalized'] else ''} = {score['value']:.6g}", ""]
    bars = sorted(barcode.bars, key=lambda b: (b.dim, -(b.length if not b.essential else float("inf"))))
    lines.append(f"{'index':>5} {'birth':>12} {'death':>12}  {'born at':<16} {'dies at':<16} note")
    for b in bars[:25]:
        note = f"refined (graph estimate {b.estimate:.6g})" if b.refined else ("essential" if b.essential else "")
        death = "inf" if b.essential else f"{b.death:.6g}"
        lines.append(f"{b.dim:>5} {b.birth:>12.6g} {death:>12}  {str(list(b.birth_at)):<16} "
                     f"{'-' if b.death_at is None else str(list(b.death_at)):<16} {note}")
    if len(bars) > 25:
        lines.append(f"... {len(bars) - 25} shorter segments (all of them with --json)")
    if barcode.source == "knn":
        lines.append("death levels are estimates: the highest sample on the best k-NN path, or (refined) the "
                     "highest loss along an explicit path; locations are sample ids")
    if written:
        lines.append("plots: " + ", ".join(written))
    return "\n".join(lines)


def _cmd_reproduce(args) -> int:
    from .reproduce import TheoryViolation, reproduce

    _output_dir(args.out, "--out")
    try:
        res = reproduce(args.out, quick=args.quick, scheduler=args.scheduler)
    except TheoryViolation as exc:  # the report is written; say where, and fail
        sys.stderr.write(f"{PROG}: error: THEORY VIOLATED: {_one_line(str(exc))}\n")
        return 1
    print(f"wrote {res['report']} and {res['html']} ({res['seconds']:.1f} s; {len(res['plots'])} plot(s); "
          f"{res['compared']} rows compared with the bounds; bound violations: {res['violations']})")
    return 0


def _cmd_activations(args) -> int:
    from .pfaffian.activations import ACTIVATIONS, NON_PFAFFIAN

    rows = [{"name": a.name, "aliases": list(a.aliases), "chain": list(a.elements), "format": list(a.format),
             "symmetry": a.symmetry, "description": a.description} for a in ACTIVATIONS.values()]
    if args.json:
        print(json.dumps({"activations": rows, "polynomial": "polynomial:<p>",
                          "not_pfaffian": sorted(NON_PFAFFIAN)}, indent=2))
        return 0
    for r in rows:
        print(f"{r['name']:<10} {str(tuple(r['format'])):<10} {r['description']}")
    print(f"{'polynomial:<p>':<10} (0, 0, p)  the polynomial t + t^p (upper bounds hold for any degree-p polynomial; "
          "the symmetry lower bound assumes t + t^p)")
    print("not Pfaffian (rejected): " + ", ".join(sorted(NON_PFAFFIAN)))
    return 0


def _cmd_theorems(args) -> int:
    from .references import REFERENCES
    from .theorems import THEOREMS

    rows = [{"key": t.key, "name": t.name, "status": t.status, "rigorous": t.rigorous,
             "bounds": t.bounds, "statement": t.statement, "hypotheses": list(t.hypotheses),
             "citation": [REFERENCES[c] for c in t.citation]} for t in THEOREMS.values()]
    if args.json:
        print(json.dumps({"theorems": rows}, indent=2))
        return 0
    for r in rows:
        print(f"{r['key']:<11} [{r['status']}] {r['name']}\n    {r['statement']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on bad input, with one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"{PROG} {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    handler = {"bound": _cmd_bound, "lower": _cmd_lower, "landscape": _cmd_landscape, "barcode": _cmd_barcode,
               "obstruction": _cmd_obstruction, "reproduce": _cmd_reproduce, "activations": _cmd_activations,
               "theorems": _cmd_theorems}[args.command]
    try:
        return handler(args)
    except BettiBoundsError as exc:
        sys.stderr.write(f"{PROG}: error: {_one_line(str(exc))}\n")
        return 2


def entry_point() -> None:  # console script
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `bettibounds ... | head`: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
