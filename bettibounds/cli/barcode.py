"""``bettibounds barcode``: the barcode of minima and the TO-score (Barannikov et al.)."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from .._lib.extras import missing_extra
from ..errors import InvalidSpecError
from .common import (
    ENGINE_HELP,
    announce_model_compile,
    check_scheduler_args,
    engine_device,
    engine_options,
    json_option,
    output_dir,
    plot_option,
    progress_option,
    scheduler_options,
    staged_outputs,
)
from .model_flags import model_experiment, model_options, refuse_model_flags, slice_options

__all__ = ["add_parser", "run"]

#: sample-mode options of ``bettibounds barcode`` and their defaults (None on the command line
#: means "not given", so grid mode can refuse them)
_SAMPLE_DEFAULTS = {"uniform": 2000, "steps": 200, "lr": 0.05, "k": "4P"}
#: the authors' sample protocol options of ``bettibounds barcode`` (sample mode only; None = not given)
_PROTOCOL_OPTIONS = ("preset", "radius", "min_cluster", "region", "threshold", "hull_descents", "hull_scale",
                     "quotient")
#: --engine applies to grid mode; sample mode's descents need gradients, so it evaluates with torch
_ENGINE_HELP = ENGINE_HELP + "; barcode: grid mode only (sample mode descends with gradients on torch)"


def add_parser(sub) -> None:
    bc = sub.add_parser("barcode", help="barcode of minima and TO-score (Barannikov et al.): on a grid, or from "
                        "samples in the full parameter space",
                        description="Grid mode (an experiment with region and grid, no --minima): the barcode of "
                                    "the sampled landscape (cubical persistence: every minimum and its merge saddle, "
                                    "higher-index segments too). Sample mode (--minima N, or an experiment without "
                                    "a grid, or --network/--data): uniform samples plus N gradient-descent "
                                    "trajectories in a box of parameter space, a k-NN graph, lower-star H0, and "
                                    "optionally the longest segments' death levels refined along explicit paths. "
                                    "The TO-score [reconstructed] is a norm of the finite segment lengths.",
                        parents=[json_option(), plot_option("write barcode.png (and minima.png for 2-D grids)"),
                                 engine_options(_ENGINE_HELP), progress_option(),
                                 scheduler_options("evaluate the loss (descent trajectories stay in this process)")])
    bc.add_argument("experiment", nargs="?", help="experiment JSON (network, loss, data; region/grid for grid "
                                                  "mode), or a model experiment (a \"model\" section: docs/usage.md)")
    bc.add_argument("--network", metavar="FILE", help="JSON with \"network\" and \"loss\" (instead of an experiment)")
    bc.add_argument("--data", metavar="FILE", help="with --network: JSON {\"x\": [...], \"y\": [...]} or .npz with "
                    "arrays x, y; with a PyTorch model (--model, or a model experiment file, whose data it replaces): "
                    "FILE.npz[:X,Y] or a .pt dict of tensors, as for landscape")
    bc.add_argument("--minima", type=int, metavar="N",
                    help="sample mode: N gradient-descent starts (default 64; 0: uniform samples only, no descents)")
    bc.add_argument("--uniform", type=int, default=None,
                    help=f"sample mode: uniform points in the box (default {_SAMPLE_DEFAULTS['uniform']})")
    bc.add_argument("--steps", type=int, default=None,
                    help=f"sample mode: descent steps per start (default {_SAMPLE_DEFAULTS['steps']})")
    bc.add_argument("--lr", type=float, default=None,
                    help=f"sample mode: Adam step size (default {_SAMPLE_DEFAULTS['lr']})")
    bc.add_argument("--k", default=None,
                    help="sample mode: neighbours in the k-NN graph, an integer or 4P (default 4P, the authors' "
                         "choice; at most the number of samples - 1, the JSON records both)")
    proto = bc.add_argument_group("the authors' sample protocol (sample mode; docs/usage.md, 'Barcodes of minima')")
    proto.add_argument("--preset", choices=("barannikov",), default=None,
                       help="barannikov: k = 4P, --radius auto, --min-cluster 20 (explicit options win)")
    proto.add_argument("--radius", default=None, metavar="R",
                       help="edge-length cutoff: a number, or auto (2 x the mean k-NN distance, BarcodeCalc)")
    proto.add_argument("--min-cluster", type=int, default=None, metavar="N",
                       help="also report the filtered TO-score over segments whose cluster had >= N samples")
    proto.add_argument("--region", choices=("box", "threshold", "hull"), default=None,
                       help="where the uniform points come from: the box (default), the part below --threshold, "
                            "or the enlarged convex hull of minima of --hull-descents descents")
    proto.add_argument("--threshold", type=float, default=None, metavar="C", help="--region threshold: keep loss < C")
    proto.add_argument("--hull-descents", type=int, default=None, metavar="N",
                       help="--region hull: descents whose minima span the hull (default 100)")
    proto.add_argument("--hull-scale", type=float, default=None, metavar="S",
                       help="--region hull: enlargement about the minima's centroid (default 1.5)")
    proto.add_argument("--quotient", choices=("none", "canonical"), default=None,
                       help="canonical: identify the images of a point under the symmetry group before the graph")
    bc.add_argument("--box", default=None, metavar="LOW,HIGH",
                    help="sample mode: the box [LOW, HIGH]^P (default: the experiment's box region, else -3,3); "
                         "write a negative LOW as --box=-3,3")
    bc.add_argument("--refine", type=int, default=0, metavar="N",
                    help="sample mode: refine the death levels of the N longest segments (string method)")
    bc.add_argument("--norm", default="sum", choices=("sum", "max", "l2"), help="TO-score norm (default sum)")
    bc.add_argument("--normalize", action="store_true", help="TO-score divided by max f - min f")
    bc.add_argument("--dim", type=int, default=0, help="segment index of the TO-score (default 0)")
    bc.add_argument("--seed", type=int, default=None,
                    help="sample mode: seed of the uniform points and the starts (default 0); grid mode: the seed of "
                         "the slice --slice makes (or a PyTorch model's default slice without a file; default 0); "
                         "with a model experiment file's region, refused without --slice (as by landscape); an "
                         "experiment file's network keeps its own direction seed")
    model_options(bc, data=False)
    slice_options(bc, seed=False)
    bc.set_defaults(handler=run)


def _barcode_experiment(args):
    """The experiment of ``bettibounds barcode``: a file (an experiment file, or a model experiment with a
    "model" section), a PyTorch model from the flags (--model, ...), or --network plus --data (every file read
    strictly, by :mod:`bettibounds._lib.readers`)."""
    from .._lib.readers import read_json, read_npz
    from .._lib.schema import check_keys
    from ..empirical.experiment import load_experiment, parse_experiment
    from ..empirical.model_files import is_model_experiment

    if args.model is not None or (args.experiment and is_model_experiment(args.experiment)):
        return _model_experiment(args)
    refuse_model_flags(args, ("weights", "loss", "reduction", "mode", "slice", "span", "grid"))
    if args.experiment and (args.network or args.data):
        raise InvalidSpecError("give either an experiment file or --network with --data, not both")
    if args.experiment:
        return load_experiment(args.experiment)
    if not (args.network and args.data):
        raise InvalidSpecError("barcode needs an experiment file, --network FILE and --data FILE, or a PyTorch model: "
                               "--model file.py:factory --data data.npz")
    net = check_keys("--network file", read_json(args.network, "--network file"), {"network", "loss"}, ("network",))
    if Path(args.data).suffix.lower() == ".npz":
        data = read_npz(args.data, ("x", "y"), "--data file")
    else:
        data = check_keys("--data file", read_json(args.data, "--data file"), {"x", "y"}, ("x", "y"))
    return parse_experiment({"network": net["network"], "loss": net.get("loss", {"kind": "mse"}),
                             "data": {"x": data["x"], "y": data["y"]}})


def _model_experiment(args):
    """A PyTorch model's experiment for ``barcode``: the file's (if any) with the flags replacing its entries, as
    ``landscape`` reads it; in grid mode --slice, --span, --seed and --grid give or replace the region and grid
    (without a file: a filter-normalised 2-D slice, span 1, 41 points per axis). Sample mode (--minima) samples a box
    of all the model's parameters (--box), so the region flags are refused there."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise missing_extra("empirical", exc, "PyTorch models") from None
    if args.network is not None:
        raise InvalidSpecError("--network describes a network of the built-in kind; a PyTorch model (--model, or a "
                               "model experiment file) brings its own: drop --network")
    region_flags = [f"--{n}" for n in ("slice", "span", "grid") if getattr(args, n) is not None]
    if args.minima is not None and region_flags:
        raise InvalidSpecError(f"{', '.join(region_flags)}: options of grid mode (a slice of the model's weights), not "
                               "used with --minima (sample mode samples a box of all the parameters: --box)")
    region = None
    if args.minima is None and (args.experiment is None or region_flags or args.seed is not None):
        # grid mode: --seed is the slice's seed, refused with a file's region kept (as landscape does)
        region = argparse.Namespace(experiment=args.experiment, slice=args.slice, span=args.span, grid=args.grid,
                                    seed=args.seed)
    elif args.experiment is None:  # sample mode without a file: a default slice, which it does not use
        region = argparse.Namespace(experiment=None, slice=None, span=None, grid=None, seed=None)
    return model_experiment(args, region)


def run(args: argparse.Namespace) -> int:
    from .._lib.budget import count

    device, dtype = engine_device(args)
    count("--dim", args.dim)
    count("--seed", 0 if args.seed is None else args.seed)
    count("--refine", args.refine)
    for name in ("minima", "uniform", "steps"):
        if getattr(args, name) is not None:
            count(f"--{name}", getattr(args, name))
    for name in ("min_cluster", "hull_descents"):
        if getattr(args, name) is not None:
            count(f"--{name.replace('_', '-')}", getattr(args, name), 1)
    if args.k is not None:
        from ..barcode.sampling import protocol_options

        k = protocol_options(args.k, {})["k"]  # an integer or "4P"
        if k != "4P":
            count("--k", k, 1)
    check_scheduler_args(args)
    box = _box(args.box)
    output_dir(args.plot, "--plot")
    exp = _barcode_experiment(args)
    from ..empirical.sampler import experiment_engine

    model_exp = getattr(exp, "kind", None) == "model"
    # None for a PyTorch model under auto (its model engine, or the fused engine for a recognised MLP); an explicit
    # --engine model keeps the model engine
    args.engine = "model" if model_exp and args.engine == "model" else experiment_engine(exp, args.engine)
    try:
        import gudhi  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise missing_extra("empirical", exc, "barcodes") from None
    grid_mode = args.minima is None and exp.region is not None and exp.grid is not None
    if model_exp and not grid_mode and args.quotient not in (None, "none"):
        raise InvalidSpecError(f"--quotient {args.quotient} quotients by the symmetry group of a network the symbolic "
                               "engine describes (an experiment file's \"network\"); a PyTorch model's sample mode "
                               "has none: drop --quotient (or --quotient none)")
    if args.engine == "model" and not model_exp:
        raise InvalidSpecError("--engine model evaluates PyTorch models (a model experiment file); this experiment "
                               "file describes its network: use auto, torch or fused")
    if args.engine not in (None, "auto", "torch", "model") and not grid_mode:  # None: a model experiment's engine
        raise InvalidSpecError(f"--engine {args.engine} applies to grid mode (an experiment with a slice region and a "
                               "grid); sample mode descends with gradients and uses the torch kernel")
    if grid_mode:
        given = [f"--{n.replace('_', '-')}" for n in ("box", *_SAMPLE_DEFAULTS, *_PROTOCOL_OPTIONS)
                 if getattr(args, n) is not None]
        given += ["--refine"] if args.refine else []
        if given:
            raise InvalidSpecError(f"{', '.join(given)}: options of sample mode (add --minima N), not used on a grid")
    for name in ("lr", "hull_scale"):  # (after the grid-mode check: there they are refused as unused)
        if getattr(args, name) is not None and not (0 < getattr(args, name) < float("inf")):
            raise InvalidSpecError(f"--{name.replace('_', '-')} must be a positive finite number, "
                                   f"got {getattr(args, name)!r}")
    if args.threshold is not None and not abs(args.threshold) < float("inf"):
        raise InvalidSpecError(f"--threshold must be a finite number, got {args.threshold!r}")
    sample = {name: value if getattr(args, name) is None else getattr(args, name)
              for name, value in _SAMPLE_DEFAULTS.items()}
    grid_kernel = _enforce_budget(exp, args, grid_mode, sample, device, dtype)
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler is not None:
            from ..distributed import dask_client

            client = stack.enter_context(dask_client(args.scheduler, workers=args.workers))
        barcode, values, dist = _barcode_run(exp, args, device, dtype, grid_mode, client, sample, box, grid_kernel)
    if args.dim not in barcode.dims and args.dim > 0:
        raise InvalidSpecError(f"--dim {args.dim}: this barcode has segments of index {barcode.dims} only")
    with staged_outputs(args.plot) as stage:  # the plots and the printed result: all or none
        written = []
        if stage is not None:
            from ..barcode.plots import plot_all

            written = [stage.final(w) for w in plot_all(barcode, stage.path, values)]
        d = barcode.to_dict(args.norm, args.dim, args.normalize)
        if barcode.source == "grid":
            from ..barcode.grid import grid_bar_caveats

            for bar, caveat in zip(d["bars"], grid_bar_caveats(barcode)):
                bar["caveat"] = caveat
        notes = _model_notes(exp, grid_mode)
        if args.json:
            d["notes"] = notes
            d["n_params"] = exp.n_params
            d["model"] = exp.record() if hasattr(exp, "record") else None
            d["distributed"] = dist
            d["plots"] = written
            print(json.dumps(d, indent=2))
        else:
            text = _barcode_text(barcode, d["to_score"], exp.n_params, written)
            print(text + "".join(f"\nnote: {n}" for n in notes))
    return 0


def _model_notes(exp, grid_mode: bool) -> list[str]:
    """A PyTorch model's notes (no weights given, ...), as landscape prints them; in sample mode, that the box is of
    the parameters' absolute values (the weights centre grid mode's slice only)."""
    if not hasattr(exp, "record"):
        return []
    from ..engines.model_forward import TRAIN_MODE_SAME

    notes = [n for n in exp.record().get("notes", []) if n != TRAIN_MODE_SAME]
    if not grid_mode:
        notes.append("sample mode samples a box of the parameters' own values (--box; default [-3, 3] for each), "
                     "not a neighbourhood of the model's weights: the weights centre grid mode's slice")
    return notes


def _enforce_budget(exp, args: argparse.Namespace, grid_mode: bool, sample: dict, device, dtype: str):
    """Refuse, before any work, a barcode that cannot fit in memory or time; announce a long one
    (bettibounds._lib.budget, with a pilot of this network's torch kernel, or of a PyTorch model's
    model engine; on a grid evaluated in this process, of the run's own kernel, which is returned for
    the run: the fused one too where its compiled code is loaded or cached,
    :func:`bettibounds._lib.pilots.fused_point_pilot`). A model's size enters the memory estimate through
    P and m only (its activations are not modelled); its time is the pilot's."""
    import math
    import os
    from types import SimpleNamespace

    from .._lib import budget, pilots
    from ..empirical.sampler import make_kernel

    model_exp = getattr(exp, "kind", None) == "model"
    starts = 64 if args.minima is None else args.minima
    kernel = make_kernel(exp, engine="model" if model_exp else "torch", device=device,  # (the pilot descends)
                         dtype="float32" if dtype == "float32" else "float64")
    # the cost models need P, m and the units of a forward pass: a model's, as far as known
    spec = SimpleNamespace(n_params=exp.n_params, samples=len(exp.x), widths=(), outputs=1, depth=1) \
        if model_exp else exp.spec
    slice_dim = len(exp.grid) if grid_mode and exp.region["kind"] == "slice" else None
    run_kernel = None
    if grid_mode and args.scheduler is None:  # the run's kernel (a routed model's compiles or loads while built)
        announce_model_compile(exp, args.engine, device, dtype, args.progress)
        run_kernel = make_kernel(exp, engine=args.engine, device=device, dtype=dtype, points=math.prod(exp.grid))
    fused_point = pilots.fused_point_pilot(run_kernel, slice_dim) \
        if getattr(run_kernel, "engine", None) == "fused" else None
    per_point, per_start = budget.kernel_pilot(kernel, 0 if grid_mode else starts, slice_dim=slice_dim) \
        if fused_point is None else (fused_point, 0.0)
    if grid_mode:
        points = math.prod(exp.grid)
        cost = budget.loss_evaluations(spec, points, per_point) + budget.persistence(points, len(exp.grid) - 1)
        engine = args.engine if run_kernel is None else run_kernel.engine
        if engine == "auto" and not model_exp:  # what the sampler will choose (the torch pilot errs long for it)
            from ..engines.choice import choose_engine

            kind = exp.region["kind"]
            engine = choose_engine(exp.spec, kind, len(exp.grid) if kind == "slice" else None, dtype, device,
                                   points)[0]
        if engine == "fused" and fused_point is None:  # loading or compiling still to come
            cost = cost + budget.fused_compile(pilots.fused_cached_for(dtype or "float64"))
        advice = "use a coarser grid"
    else:
        k = sample["k"] if args.preset is None or args.k is not None else "4P"
        k = 4 * spec.n_params if str(k).strip().upper() == "4P" else int(k)
        cost = budget.sample_barcode(spec, uniform=sample["uniform"], starts=starts, steps=sample["steps"],
                                     k=k, refine=args.refine, pilot=(per_point, per_start),
                                     region=args.region or "box",
                                     hull_descents=100 if args.hull_descents is None else args.hull_descents)
        advice = "lower --uniform, --minima, --steps or --refine"
    if args.scheduler == "local":
        cost = cost.alongside(budget.local_cluster(args.workers or os.cpu_count() or 1))
        advice += ", or --workers"
    budget.enforce(cost, "the barcode", advice)
    return run_kernel


def _box(text: str | None) -> tuple[float, float] | None:
    """--box LOW,HIGH as two finite numbers with LOW < HIGH (None when not given)."""
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidSpecError(f"--box must be LOW,HIGH (two numbers), got {text!r}") from None
    import math

    if not (math.isfinite(low) and math.isfinite(high) and low < high and math.isfinite(high - low)):
        raise InvalidSpecError(f"--box needs finite LOW < HIGH whose difference is a float64 number, got {text!r}")
    return low, high


def _barcode_run(exp, args: argparse.Namespace, device, dtype: str, grid_mode: bool, client, sample: dict,
                 box: tuple[float, float] | None = None, grid_kernel=None):
    """(barcode, grid values or None, what JSON records of Dask); the loss on Dask when ``client``, else on a
    grid ``grid_kernel`` (the one the estimate piloted) when given."""
    import warnings

    from ..barcode import grid_barcode, sample_barcode
    from ..barcode.sampling import BarcodeWarning, protocol_options
    from ..empirical.sampler import make_kernel, sample_landscape

    # sample mode evaluates an experiment file's network with the torch kernel in this process (its
    # descent needs gradients), and its Dask evaluator does too: the same losses wherever they are
    # computed; a PyTorch model is evaluated by its model engine (differentiable; auto would pick the fused
    # engine for a recognised MLP, which has no gradients)
    is_model = getattr(exp, "kind", None) == "model"
    sample_engine = ("model" if args.engine in (None, "auto") else args.engine) if is_model else "torch"
    evaluator = None
    if client is not None:
        from ..distributed import experiment_evaluator

        evaluator = experiment_evaluator(exp, client, device=device, dtype=dtype, progress=args.progress,
                                         engine=args.engine if grid_mode else sample_engine)
    try:
        if grid_mode:
            landscape = sample_landscape(exp, device=device, dtype=dtype, progress=args.progress,
                                         kernel=evaluator if evaluator is not None else grid_kernel, engine=args.engine)
            barcode, values = grid_barcode(landscape), landscape.values
        else:
            if box is not None:
                low, high = box
            elif exp.region is not None and exp.region.get("kind") == "box":
                low, high = exp.region["low"], exp.region["high"]
            else:
                low, high = -3.0, 3.0
            kernel = make_kernel(exp, engine=sample_engine, device=device, dtype=dtype)
            with warnings.catch_warnings():  # printed from meta["warnings"] with the result
                warnings.simplefilter("ignore", BarcodeWarning)
                barcode = sample_barcode(kernel, low, high, uniform=sample["uniform"],
                                         starts=64 if args.minima is None else args.minima, steps=sample["steps"],
                                         lr=sample["lr"], seed=0 if args.seed is None else args.seed,
                                         refine=args.refine,
                                         progress=args.progress, evaluator=evaluator,
                                         **protocol_options(sample["k"],
                                                            {n: getattr(args, n) for n in _PROTOCOL_OPTIONS}))
            values = None
        dist = None if evaluator is None else {"scheduler": args.scheduler, **evaluator.info}
    finally:
        if evaluator is not None:
            evaluator.close()
    return barcode, values, dist


def _barcode_text(barcode, score, n_params, written) -> str:
    m = barcode.meta
    if barcode.source == "grid":
        engine = f"; {m['engine']} engine, {m['dtype']}" if m.get("engine") and m.get("dtype") else ""
        head = f"barcode: grid {m['shape']} ({m.get('kind', 'array')}{engine}), persistence backend {m['backend']}"
    else:
        head = (f"barcode: k-NN graph (k = {m['k']}) on {m['n_points']} samples in a box of R^{n_params} "
                f"({m['uniform']} uniform + {m['starts']} descent trajectories), seed {m['seed']}")
        from ..barcode.sampling import protocol_text

        head += "\n" + protocol_text(m)
    lines = [head, f"loss range [{barcode.value_min:.6g}, {barcode.value_max:.6g}]",
             f"TO-score [{score['status']}]: {score['norm']} of {score['n_segments']} finite index-{score['dim']} "
             f"segment lengths{' / (max f - min f)' if score['normalized'] else ''} = {score['value']:.6g}"]
    if "filtered" in score:
        f = score["filtered"]
        lines.append(f"filtered TO-score (clusters >= {f['min_cluster']} samples): {f['n_segments']} segments, "
                     f"{f['value']:.6g}")
    lines.append("")
    bars = sorted(barcode.bars, key=lambda b: (b.dim, -(b.length if not b.essential else float("inf"))))
    lines.append(f"{'index':>5} {'birth':>12} {'death':>12}  {'born at':<16} {'dies at':<16} note")
    axes = m.get("axes") if barcode.source == "grid" else None

    def where(loc) -> str:
        """A grid location as its coordinates on the grid's axes (t_1, ...); a sample id as itself."""
        if loc is None:
            return "-"
        if axes is None:
            return str(list(loc))
        return "(" + ", ".join(f"{axes[i][j]:.4g}" for i, j in enumerate(loc)) + ")"

    from ..barcode.grid import AXIS_ONLY_CAVEAT, EDGE_CAVEAT, grid_bar_caveats

    caveats = {id(b): c for b, c in zip(barcode.bars, grid_bar_caveats(barcode))}  # ("" for a k-NN barcode's)
    for b in bars[:25]:
        note = f"refined (graph estimate {b.estimate:.6g})" if b.refined else ("essential" if b.essential else "")
        if b.cluster_size is not None:
            note = f"cluster {b.cluster_size}" + (f", {note}" if note else "")
        if caveats.get(id(b)):
            note = ", ".join(n for n in (note, caveats[id(b)]) if n)
        death = "inf" if b.essential else f"{b.death:.6g}"
        lines.append(f"{b.dim:>5} {b.birth:>12.6g} {death:>12}  {where(b.birth_at):<16} {where(b.death_at):<16} {note}")
    if len(bars) > 25:
        lines.append(f"... {len(bars) - 25} shorter segments (all of them with --json)")
    if barcode.source == "knn":
        lines.append("death levels are estimates: the highest sample on the best k-NN path, or (refined) the "
                     "highest loss along an explicit path; locations are sample ids")
    elif axes is not None:
        lines.append("locations are coordinates (t_1, ...) on the grid's axes; --json gives them as grid indices "
                     "with the axes in meta.axes")
    total = sum(1 for b in barcode.bars if b.dim == 0 and not b.essential)
    edge = [b for b in barcode.bars if not b.essential and EDGE_CAVEAT in caveats[id(b)]]
    if edge:
        lines.append(f"note: {len(edge)} of the {total} finite index-0 segments are {EDGE_CAVEAT} (their minima are "
                     "vertices on the region's boundary, where the loss may fall further outside: widen the region "
                     "to tell a minimum from the edge)")
    diag = [b for b in barcode.bars if not b.essential and AXIS_ONLY_CAVEAT in caveats[id(b)]]
    if diag:
        lines.append(f"note: {len(diag)} of the {total} finite index-0 segments are born at {AXIS_ONLY_CAVEAT} (a "
                     "diagonal neighbour is lower: the grid joins vertices along its axes, so a valley running across "
                     "them leaves such minima at every spacing; refine the grid: their segments shrink if so)")
    lines += [f"warning: {w}" for w in m.get("warnings", [])]
    if written:
        lines.append("plots: " + ", ".join(written))
    return "\n".join(lines)
