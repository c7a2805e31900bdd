"""``bettibounds landscape``: sample the loss on a grid and measure Betti numbers of its sublevel sets."""

from __future__ import annotations

import argparse
import json
import sys

from .._lib.extras import missing_extra
from ..errors import InvalidSpecError, ResourceLimitError
from .common import (PROG, engine_device, engine_options, json_option, output_dir, plot_option, progress_option,
                     scheduler_options, staged_outputs)

__all__ = ["add_parser", "run"]

_ENGINE_HELP = ("torch: the batched kernel (default; any network, CPU or CUDA). fused: a compiled float32 CPU kernel "
                "for slices of tanh/logistic MSE networks, 1.3-1.7x faster on small ones; needs numba "
                "(pip install -e '.[fast]'), compiles once in about 30 s (docs/usage.md, 'Engines')")


def add_parser(sub) -> None:
    ls = sub.add_parser(
        "landscape", help="sample the loss on a grid and measure Betti numbers of its sublevel sets",
        description="Evaluate the loss of an experiment file on its grid (box over all parameters or a slice), "
                    "compute sublevel persistence, report Betti numbers at the file's levels with clipped/stable "
                    "flags, beside the rigorous upper bound.",
        parents=[json_option(), plot_option("write heat map / sections, Betti curves and the diagram as PNG"),
                 engine_options(_ENGINE_HELP), progress_option(), scheduler_options("evaluate the loss")])
    ls.add_argument("experiment", help="experiment JSON (network, loss, data, region, grid, levels; format: "
                                       "docs/usage.md, 'Experiment files')")
    ls.add_argument("--refine", type=int, default=2,
                    help="refinement factor of the stability check (default 2; 1 disables it)")
    ls.add_argument("--block", type=int, default=None,
                    help="points per Dask task, rounded up to whole kernel chunks (default: one chunk)")
    ls.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..empirical.experiment import load_experiment

    from .._lib.budget import count

    count("--refine", args.refine, 1)
    for name in ("workers", "block"):
        if getattr(args, name) is not None:
            count(f"--{name}", getattr(args, name), 1)
    device, dtype = engine_device(args)
    if args.scheduler is None and (args.workers is not None or args.block is not None):
        raise InvalidSpecError("--workers and --block apply to distributed runs: add --scheduler local "
                               "or --scheduler tcp://host:port")
    if args.workers is not None and args.scheduler != "local":
        raise InvalidSpecError("--workers applies to --scheduler local only (a remote cluster has the workers "
                               "started there with `dask worker`)")
    if args.scheduler is not None:
        from ..distributed import check_scheduler

        check_scheduler(args.scheduler)
    exp = load_experiment(args.experiment)
    output_dir(args.plot, "--plot")
    if exp.region is None or exp.grid is None:
        raise InvalidSpecError('the experiment needs "region" and "grid" for a landscape')
    _enforce_budget(exp, args, device, dtype)
    try:
        from ..empirical.compare import analyze_landscape
    except ImportError as exc:
        raise missing_extra("empirical", exc, "the landscape tools") from None
    if args.scheduler is None:
        if args.workers is not None or args.block is not None:
            raise InvalidSpecError("--workers and --block apply to distributed runs: add --scheduler local "
                                   "or --scheduler tcp://host:port")
        res = analyze_landscape(exp, refine=args.refine, device=device, dtype=dtype, progress=args.progress,
                                engine=args.engine)
        dist = None
    else:
        res, dist = _distributed(exp, args, device, dtype)
    with staged_outputs(args.plot) as stage:  # the plots and the printed result: all or none
        written = []
        if stage is not None:
            from ..empirical.plots import plot_landscape

            written = [stage.final(w) for w in plot_landscape(res, stage.path)]
        if args.json:
            d = res.to_dict()
            d["plots"] = written
            d["distributed"] = dist
            print(json.dumps(d, indent=2))
        else:
            print(_text(res, written))
            if dist is not None:
                print(f"distributed: {dist['scheduler']} ({dist['address']}), {dist['workers']} workers, "
                      f"blocks of {dist['block']} points (chunk {dist['chunk']})")
    if res.violations:
        sys.stderr.write(f"{PROG}: error: {len(res.violations)} stable unclipped level(s) exceed the rigorous upper "
                         "bound: this contradicts the theory, please report it\n")
        return 1
    return 0


def _enforce_budget(exp, args: argparse.Namespace, device, dtype: str) -> None:
    """Refuse, before any work, a landscape (with its refined grid) that cannot fit in time or in
    the grid-size limit; announce a long one (bettibounds._lib.budget, with a pilot of the torch
    kernel: the fused engine is faster)."""
    import math
    import os

    from .._lib import budget
    from ..empirical.experiment import MAX_GRID_POINTS, grid_points_text
    from ..engines.torch_kernel import LossKernel

    grid = list(exp.grid)
    dims = len(grid) - 1 if exp.homology_dims is None else max(exp.homology_dims)
    points = math.prod(grid)
    refined = math.prod((n - 1) * args.refine + 1 for n in grid)  # exact: no float overflow
    if refined > MAX_GRID_POINTS:
        raise ResourceLimitError(
            f"the refined grid (--refine {args.refine}) has {grid_points_text(refined)} points, more than "
            f"{MAX_GRID_POINTS:.0e}: use a smaller --refine (--refine 1 turns the stability check off)")
    kernel = LossKernel(exp.spec, exp.x, exp.y, device=device, dtype=dtype or "float64")
    per_point, _ = budget.kernel_pilot(kernel, 0, slice_dim=len(grid) if exp.region["kind"] == "slice" else None)
    cost = budget.loss_evaluations(exp.spec, points, per_point) + budget.persistence(points, dims)
    if args.refine > 1:
        cost = cost + budget.loss_evaluations(exp.spec, refined, per_point) + budget.persistence(refined, dims)
    if args.engine == "fused":
        cost = cost + budget.fused_compile()
    if args.scheduler == "local":
        cost = cost.alongside(budget.local_cluster(args.workers or os.cpu_count() or 1))
    budget.enforce(cost, "the landscape", "use a coarser grid or a smaller --refine")


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
            res = analyze_landscape(exp, refine=args.refine, sampler=sampler)
    return res, {"scheduler": args.scheduler, **ev.info, "runs": ev.runs}


def _text(res, written) -> str:
    from ..numbers import format_log10_up

    s = res.sample
    b = res.bound
    lines = [
        f"landscape: {s.kind}, grid {list(s.values.shape)} = {s.points} points on {s.device} ({s.dtype}, "
        f"{s.engine} engine), {s.seconds:.2f} s"
        + ("" if s.compile_seconds is None else f" (of which {s.compile_seconds:.2f} s compiling or loading the kernel)")
        + f"; persistence backend {res.diagram.backend}",
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
