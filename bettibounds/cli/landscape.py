"""``bettibounds landscape``: sample the loss on a grid and measure Betti numbers of its sublevel sets."""

from __future__ import annotations

import argparse
import json
import sys

from .._lib.extras import missing_extra
from ..errors import InvalidSpecError, ResourceLimitError
from .common import (
    ENGINE_HELP,
    PROG,
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


def add_parser(sub) -> None:
    ls = sub.add_parser(
        "landscape", help="sample the loss on a grid and measure Betti numbers of its sublevel sets",
        description="Evaluate the loss of an experiment file on its grid (box over all parameters or a slice), "
                    "compute sublevel persistence, report Betti numbers at the file's levels with clipped/stable "
                    "flags, beside the rigorous upper bound. A file with a \"model\" section (or --model) is a "
                    "PyTorch model defined in your own Python file, evaluated by the model engine (or by the fused "
                    "engine when it is a recognised tanh/logistic MLP) "
                    "(docs/usage.md, 'Any PyTorch model').",
        parents=[json_option(), plot_option("write heat map / sections, Betti curves and the diagram as PNG"),
                 engine_options(ENGINE_HELP), progress_option(), scheduler_options("evaluate the loss")])
    ls.add_argument("experiment", nargs="?", default=None,
                    help="experiment JSON (network, loss, data, region, grid, levels; format: docs/usage.md, "
                         "'Experiment files'); optional with --model, whose region and grid the flags --slice, "
                         "--span and --grid give")
    ls.add_argument("--refine", type=int, default=2,
                    help="refinement factor of the stability check (default 2; 1 disables it)")
    ls.add_argument("--certify", action="store_true",
                    help="also prove b_0, b_1 of each sublevel set by interval arithmetic (1-D/2-D slices, boxes over "
                         "P <= 2 parameters), or say why not; flags levels where the grid is wrong (docs/usage.md, "
                         "'Certified topology')")
    ls.add_argument("--certify-seconds", type=float, default=None, metavar="S",
                    help="time budget of --certify per level (default 60); an error without --certify")
    ls.add_argument("--levels", metavar="C1,C2,...", default=None,
                    help="the levels to report, replacing the experiment's \"levels\" (comma-separated finite "
                         "numbers; a negative first level goes with '=': --levels=-1,0.5)")
    ls.add_argument("--no-local-search", action="store_true",
                    help="skip the L-BFGS-B polish of the grid's lowest minima used by the resolution check (the "
                         "check then uses grid values only; docs/usage.md, 'Landscapes')")
    ls.add_argument("--block", type=int, default=None,
                    help="points per Dask task, rounded up to whole kernel chunks (default: one chunk)")
    model_options(ls)
    slice_options(ls)
    ls.add_argument("--log-scale", action="store_true", help="logarithmic colour scale in the plots")
    ls.set_defaults(handler=run)


#: the options that only a PyTorch model takes
_MODEL_FLAGS = ("model", "weights", "data", "loss", "reduction", "mode", "slice", "span", "seed", "grid")


def _load(args: argparse.Namespace):
    """The experiment: a model experiment when the file has a "model" section or --model is given,
    else an experiment file (read as before)."""
    from ..empirical.experiment import load_experiment

    model_flags = [n for n in _MODEL_FLAGS if getattr(args, n) is not None]
    if args.experiment is None and args.model is None:
        raise InvalidSpecError("landscape needs an experiment file, or a PyTorch model: --model file.py:factory "
                               "--data data.npz (with --weights, --loss, and the region: --slice, --span, --grid)")
    try:
        from ..empirical.model_files import is_model_experiment
    except ImportError as exc:
        if model_flags:
            raise missing_extra("empirical", exc, "PyTorch models") from None
        return load_experiment(args.experiment)
    if args.model is not None or is_model_experiment(args.experiment):
        from ..empirical.sampler import model_engine_refusal

        if args.engine not in ("auto", "model"):
            raise InvalidSpecError(model_engine_refusal(args.engine))
        return model_experiment(args, args)
    refuse_model_flags(args, _MODEL_FLAGS)
    return load_experiment(args.experiment)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import math

    from .._lib.budget import count
    from ..empirical.experiment import parse_levels

    count("--refine", args.refine, 1)
    for name in ("workers", "block"):
        if getattr(args, name) is not None:
            count(f"--{name}", getattr(args, name), 1)
    device, dtype = engine_device(args)
    if args.certify_seconds is not None and not args.certify:
        raise InvalidSpecError("--certify-seconds is the time budget of --certify: add --certify (or drop "
                               "--certify-seconds)")
    if args.certify_seconds is None:
        args.certify_seconds = 60.0
    if args.certify and not 0 < args.certify_seconds < math.inf:
        raise InvalidSpecError(f"--certify-seconds must be a positive finite number, got {args.certify_seconds}")
    if args.scheduler is None and (args.workers is not None or args.block is not None):
        raise InvalidSpecError("--workers and --block apply to distributed runs: add --scheduler local "
                               "or --scheduler tcp://host:port")
    check_scheduler_args(args)
    levels = None if args.levels is None else parse_levels(args.levels)  # refused before the model is loaded
    exp = _load(args)
    if levels is not None:
        exp = dataclasses.replace(exp, levels=levels)
    if args.certify and getattr(exp, "kind", None) == "model":
        raise InvalidSpecError("--certify proves Betti numbers for the networks of experiment files (interval "
                               "enclosures of the spec-based loss); a model experiment has none: drop --certify, or, "
                               "for a plain nn.Sequential MLP, convert it with bettibounds.empirical."
                               "experiment_from_sequential and certify that (docs/usage.md)")
    output_dir(args.plot, "--plot")
    if exp.region is None or exp.grid is None:
        raise InvalidSpecError('the experiment needs "region" and "grid" for a landscape')
    try:
        from ..empirical.compare import analyze_landscape
        from ..empirical.sampler import landscape_points, make_kernel
    except ImportError as exc:
        raise missing_extra("empirical", exc, "the landscape tools") from None
    engine = args.engine  # (a model experiment: "auto" -- the model or the fused engine -- or "model"; _load checked)
    kernel = None
    if args.scheduler is None:
        announce_model_compile(exp, engine, device, dtype, args.progress)
        kernel = make_kernel(exp, engine=engine, device=device, dtype=dtype,  # refuses before any work
                             points=landscape_points(exp.grid, args.refine))
    _enforce_budget(exp, args, kernel, device, dtype)
    if args.scheduler is None:
        res = analyze_landscape(exp, refine=args.refine, device=device, dtype=dtype, progress=args.progress,
                                engine=engine, kernel=kernel, local_search=not args.no_local_search)
        dist = None
    else:
        res, dist = _distributed(exp, args, device, dtype)
    if args.certify:
        _certify(exp, res, args)
    with staged_outputs(args.plot) as stage:  # the plots and the printed result: all or none
        written = []
        if stage is not None:
            from ..empirical.plots import plot_landscape

            written = [stage.final(w) for w in plot_landscape(res, stage.path, log_color=args.log_scale)]
        if args.json:
            d = res.to_dict()
            d["plots"] = written
            d["distributed"] = dist
            print(json.dumps(d, indent=2))
        else:
            print(res.to_text(written))
            if args.certify:
                from ..certified.landscape import certified_lines

                print("\n" + "\n".join(certified_lines(res.levels)))
            if dist is not None:
                print(f"distributed: {dist['scheduler']} ({dist['address']}), {dist['workers']} workers, "
                      f"blocks of {dist['block']} points (chunk {dist['chunk']})")
    if res.violations:
        sys.stderr.write(f"{PROG}: error: {len(res.violations)} stable unclipped level(s) exceed the rigorous, "
                         "unconditional upper bound: this contradicts the theory, please report it\n")
        return 1
    return 0


#: landscapes estimated to take this long or longer are announced (time, points, peak memory) on stderr
ANNOUNCE_SECONDS = 10.0


def _enforce_budget(exp, args: argparse.Namespace, kernel, device, dtype: str) -> float:
    """Refuse, before any work, a landscape (with its refined grid) that cannot fit in time, in memory
    or in the grid-size limit; announce one of :data:`ANNOUNCE_SECONDS` or more with its time, points
    and peak memory (bettibounds._lib.budget); return the estimate (seconds here). The pilot runs the
    run's own engine (``kernel``): torch, a model's, or the fused one where its compiled code is loaded or
    in numba's cache (:func:`bettibounds._lib.pilots.fused_point_pilot`; then no compile is counted). The
    torch engine (for a model, the model engine) stands in for a fused run whose kernel is still to be
    compiled (which is counted; the stand-in is slower, so the estimate errs long), for Dask runs and for
    any other engine of the registry; it also times the local search's gradient steps."""
    import math
    import os

    from .._lib import budget, pilots
    from ..empirical.experiment import MAX_GRID_POINTS, grid_points_text
    from ..empirical.grid_memory import grid_host_bytes
    from ..empirical.resolution import DEFAULT_STARTS, torch_single_thread
    from ..empirical.sampler import make_kernel

    grid = list(exp.grid)
    dims = len(grid) - 1 if exp.homology_dims is None else max(exp.homology_dims)
    points = math.prod(grid)
    refined_shape = [(n - 1) * args.refine + 1 for n in grid]
    refined = math.prod(refined_shape)  # exact: no float overflow
    if refined > MAX_GRID_POINTS:
        raise ResourceLimitError(
            f"the refined grid (--refine {args.refine}) has {grid_points_text(refined)} points, more than "
            f"{MAX_GRID_POINTS:.0e}: use a smaller --refine (--refine 1 turns the stability check off)")
    model_exp = getattr(exp, "kind", None) == "model"
    fused = args.engine == "fused" or getattr(kernel, "engine", None) == "fused"  # (auto may choose it)
    pilot = kernel
    if getattr(pilot, "engine", None) not in ("torch", "model"):
        # the pilot's descent step needs autograd (auto may pick the fused engine, or a registry engine without
        # gradients): the torch kernel, or for a model the model engine, as the local search uses
        pilot = make_kernel(exp, engine="model" if model_exp else "torch", device=device, dtype=dtype or "float64")
    slice_dim = len(grid) if exp.region["kind"] == "slice" else None
    # a fused run is estimated on its own kernel where its compiled code is loaded or cached (the stand-in
    # was 25-160 times slower per point); else on the stand-in, with the compile counted below
    per_point = pilots.fused_point_pilot(kernel, slice_dim) if getattr(kernel, "engine", None) == "fused" else None
    compiles = fused and per_point is None
    if per_point is None:
        per_point, _ = budget.kernel_pilot(pilot, 0, slice_dim=slice_dim)

    def evaluations(n: int, shape: list) -> budget.Cost:
        if model_exp:
            mode, k = ("slice", len(grid)) if slice_dim else ("full", 0)
            chunk = pilot.chunk_size(n, mode, k) * pilot.bytes_per_point(mode, k) if hasattr(pilot, "chunk_size") else 0
            cost = budget.engine_evaluations(n, per_point, chunk)
        else:
            cost = budget.loss_evaluations(exp.spec, n, per_point)
        return cost.alongside(budget.Cost(0.0, grid_host_bytes(shape), ())) + budget.persistence(n, dims)

    cost = evaluations(points, grid)
    if args.refine > 1:
        cost = cost + evaluations(refined, refined_shape)
    if not args.no_local_search:  # one point at a time on one torch thread, as the local search runs
        with torch_single_thread():
            per_start = budget.step_pilot(pilot, 1)
        cost = cost + budget.local_search(DEFAULT_STARTS, per_start)
    if args.certify:  # wall-clock capped per level
        levels = len(exp.levels or [])
        cost = cost + budget.Cost(args.certify_seconds * levels, 0.0, ((f"--certify on {levels} levels",
                                                                         args.certify_seconds * levels),))
    if compiles:  # loading or compiling still to come (the fused pilot above has loaded it otherwise)
        cost = cost + budget.fused_compile(pilots.fused_cached_for(dtype or "float64"))
    if args.scheduler == "local":
        cost = cost.alongside(budget.local_cluster(args.workers or os.cpu_count() or 1))
    total = points + (refined if args.refine > 1 else 0)
    grids = "grid and refined grid" if args.refine > 1 else "grid"
    detail = f" for {total} points ({grids}), peak memory about {budget.format_bytes(cost.bytes)}"
    return budget.enforce(cost, "the landscape", "use a coarser grid or a smaller --refine",
                          announce_at=ANNOUNCE_SECONDS, detail=detail)


def _distributed(exp, args: argparse.Namespace, device, dtype: str):
    """``analyze_landscape`` with the loss evaluated on Dask; (result, what the JSON records)."""
    from ..distributed import dask_client, landscape_sampler
    from ..empirical.compare import analyze_landscape

    # run() checked --workers and --block (check_scheduler_args, count)
    with dask_client(args.scheduler, workers=args.workers) as client:
        sampler = landscape_sampler(exp, client, device=device, dtype=dtype, block=args.block,
                                    progress=args.progress, engine=args.engine)
        with sampler.evaluator as ev:
            res = analyze_landscape(exp, refine=args.refine, sampler=sampler, objective="experiment",
                                    local_search=not args.no_local_search)
    return res, {"scheduler": args.scheduler, **ev.info, "runs": ev.runs}


def _certify(exp, res, args: argparse.Namespace) -> list:
    """``--certify``: certified rows next to the grid's; a warning on stderr where the grid was wrong."""
    from ..certified.landscape import attach_certified, certify_landscape

    cert = certify_landscape(exp, seconds=args.certify_seconds)
    wrong = attach_certified(res.levels, cert, res.dims)
    if wrong:
        where = ", ".join(f"{r['level']:g}" for r in wrong)
        sys.stderr.write(f"{PROG}: warning: the grid's Betti numbers are WRONG at level(s) {where}: the certified "
                         "numbers are proved (see the certified rows)\n")
    return wrong
