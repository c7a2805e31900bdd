"""``bettibounds landscape``: sample the loss on a grid and measure Betti numbers of its sublevel sets."""

from __future__ import annotations

import argparse
import json
import sys

from .._lib.extras import missing_extra
from ..errors import InvalidSpecError
from .common import (ENGINE_HELP, PROG, engine_device, engine_options, json_option, output_dir, plot_option,
                     progress_option, scheduler_options)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    ls = sub.add_parser(
        "landscape", help="sample the loss on a grid and measure Betti numbers of its sublevel sets",
        description="Evaluate the loss of an experiment file on its grid (box over all parameters or a slice), "
                    "compute sublevel persistence, report Betti numbers at the file's levels with clipped/stable "
                    "flags, beside the rigorous upper bound. A file with a \"model\" section (or --model) is a "
                    "PyTorch model defined in your own Python file, evaluated by the model engine "
                    "(docs/usage.md, 'Any PyTorch model').",
        parents=[json_option(), plot_option("write heat map / sections, Betti curves and the diagram as PNG"),
                 engine_options(ENGINE_HELP), progress_option(), scheduler_options("evaluate the loss")])
    ls.add_argument("experiment", help="experiment JSON (network, loss, data, region, grid, levels; format: "
                                       "docs/usage.md, 'Experiment files')")
    ls.add_argument("--refine", type=int, default=2,
                    help="refinement factor of the stability check (default 2; 1 disables it)")
    ls.add_argument("--certify", action="store_true",
                    help="also prove b_0, b_1 of each sublevel set by interval arithmetic (1-D/2-D slices, boxes over "
                         "P <= 2 parameters), or say why not; flags levels where the grid is wrong (docs/usage.md, "
                         "'Certified topology')")
    ls.add_argument("--certify-seconds", type=float, default=60.0, metavar="S",
                    help="time budget of --certify per level (default 60)")
    ls.add_argument("--no-local-search", action="store_true",
                    help="skip the L-BFGS-B polish of the grid's lowest minima used by the resolution check (the "
                         "check then uses grid values only; docs/usage.md, 'Landscapes')")
    ls.add_argument("--block", type=int, default=None,
                    help="points per Dask task, rounded up to whole kernel chunks (default: one chunk)")
    mg = ls.add_argument_group("PyTorch models (replace the file's \"model\", \"data\" and \"loss\" entries)")
    mg.add_argument("--model", metavar="FILE.py:FACTORY", help="a function in your Python file that returns the "
                                                              "torch.nn.Module")
    mg.add_argument("--weights", metavar="FILE.pt", help="its state_dict, read with torch.load(weights_only=True)")
    mg.add_argument("--data", metavar="FILE.npz", help="the data: arrays x and y (.npz, or a .pt dict of tensors)")
    mg.add_argument("--loss", help="mse, bce, bce_with_logits, cross_entropy or nll")
    mg.add_argument("--reduction", choices=("torch", "theory"),
                    help="torch (default: torch's mean over all elements) or theory (sum over outputs, mean over "
                         "samples)")
    ls.add_argument("--log-scale", action="store_true", help="logarithmic colour scale in the plots")
    ls.set_defaults(handler=run)


def _load(args: argparse.Namespace):
    """The experiment: a model experiment when the file has a "model" section or --model is given,
    else an experiment file (read as before)."""
    from ..empirical.experiment import load_experiment

    model_flags = [f"--{n}" for n in ("model", "weights", "data", "loss", "reduction") if getattr(args, n) is not None]
    try:
        from ..empirical.model_files import is_model_experiment, load_model_experiment
    except ImportError as exc:
        if model_flags:
            raise missing_extra("empirical", exc, "PyTorch models") from None
        return load_experiment(args.experiment)
    if args.model is not None or is_model_experiment(args.experiment):
        if args.engine not in ("auto", "model"):
            raise InvalidSpecError(f"a PyTorch model is evaluated by the model engine, not --engine {args.engine}")
        return load_model_experiment(args.experiment, factory=args.model, weights=args.weights, data=args.data,
                                     loss=args.loss, reduction=args.reduction)
    if model_flags:
        raise InvalidSpecError(f"{', '.join(model_flags)} {'applies' if len(model_flags) == 1 else 'apply'} to PyTorch models: add --model file.py:factory (or "
                               "a \"model\" section in the experiment file)")
    return load_experiment(args.experiment)


def _estimate(exp, kernel, refine: int) -> None:
    """Print the time and memory estimate of a run over about 10 s (stderr, before the run)."""
    from ..empirical.sampler import estimate_run

    est = estimate_run(exp, kernel, refine)
    if est["seconds"] > 10:
        sec = est["seconds"]
        when = f"{sec / 60:.1f} min" if sec >= 120 else f"{sec:.0f} s"
        sys.stderr.write(f"{PROG}: estimate: about {when} for {est['points']} points (grid"
                         f"{' and refined grid' if refine > 1 else ''}), peak memory about "
                         f"{est['bytes'] / 2**20:.0f} MiB\n")


def run(args: argparse.Namespace) -> int:
    if args.refine < 1:
        raise InvalidSpecError("--refine must be >= 1 (1 disables the stability check)")
    device, dtype = engine_device(args)
    if args.certify and not args.certify_seconds > 0:
        raise InvalidSpecError(f"--certify-seconds must be > 0, got {args.certify_seconds}")
    exp = _load(args)
    if args.certify and getattr(exp, "kind", None) == "model":
        raise InvalidSpecError("--certify proves Betti numbers for the networks of experiment files (interval "
                               "enclosures of the spec-based loss); a model experiment has none: drop --certify")
    output_dir(args.plot, "--plot")
    if exp.region is None or exp.grid is None:
        raise InvalidSpecError('the experiment needs "region" and "grid" for a landscape')
    try:
        from ..empirical.compare import analyze_landscape
    except ImportError as exc:
        raise missing_extra("empirical", exc, "the landscape tools") from None
    if args.scheduler is None:
        if args.workers is not None or args.block is not None:
            raise InvalidSpecError("--workers and --block apply to distributed runs: add --scheduler local "
                                   "or --scheduler tcp://host:port")
        from ..empirical.sampler import make_kernel

        engine = args.engine  # (a model experiment: "auto" or "model", both the model engine; _load checked)
        kernel = make_kernel(exp, engine=engine, device=device, dtype=dtype)  # refuses before any work
        if kernel.engine != "fused":  # (the fused engine's first call compiles: a probe would not measure its rate)
            _estimate(exp, kernel, args.refine)
        res = analyze_landscape(exp, refine=args.refine, device=device, dtype=dtype, progress=args.progress,
                                engine=engine, kernel=kernel, local_search=not args.no_local_search)
        dist = None
    else:
        res, dist = _distributed(exp, args, device, dtype)
    if args.certify:
        _certify(exp, res, args)
    written = []
    if args.plot:
        from ..empirical.plots import plot_landscape

        written = plot_landscape(res, args.plot, log_color=args.log_scale)
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


def _distributed(exp, args: argparse.Namespace, device, dtype: str):
    """``analyze_landscape`` with the loss evaluated on Dask; (result, what the JSON records)."""
    from ..distributed import dask_client, landscape_sampler
    from ..empirical.compare import analyze_landscape

    for name in ("workers", "block"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InvalidSpecError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.workers is not None and args.scheduler != "local":
        raise InvalidSpecError("--workers applies to --scheduler local only (a remote cluster has the workers "
                               "started there with `dask worker`)")
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
