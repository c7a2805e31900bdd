"""``bettibounds path``: the loss along paths between two trained models and their barrier heights."""

from __future__ import annotations

import argparse
import json

from .._lib.extras import missing_extra
from ..errors import InvalidSpecError
from .common import MODE_CHOICES, MODE_HELP, json_option, output_dir, plot_option, progress_option, staged_outputs
from .model_flags import DATA_HELP, REDUCTION_HELP

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    pa = sub.add_parser(
        "path", help="loss along the straight and a relaxed path between two trained PyTorch models (mode "
                     "connectivity) and the barrier heights",
        description="Evaluate the loss of a PyTorch model defined in your own Python file along the straight "
                    "segment from its weights (--weights) to a second state_dict of the same architecture (--to), "
                    "and along a relaxed path (string method), and report both barrier heights (docs/usage.md, "
                    "'Paths between two models'). The options replace a path file's entries.",
        parents=[json_option(), plot_option("write path.png (the loss against the fraction of the path's length)"),
                 progress_option()])
    pa.add_argument("path_file", nargs="?", metavar="FILE",
                    help="path file: JSON with \"model\", \"loss\", \"data\" and \"path\" (optional with --model)")
    pa.add_argument("--model", metavar="FILE.py:FACTORY", help="a function in your Python file that returns the "
                                                              "torch.nn.Module")
    pa.add_argument("--weights", metavar="A.pt",
                    help="the state_dict the path starts at (read with torch.load(weights_only=True))")
    pa.add_argument("--to", metavar="B.pt", help="the state_dict the path ends at (the same architecture)")
    pa.add_argument("--data", metavar="FILE.npz[:X,Y]", help=DATA_HELP)
    pa.add_argument("--loss", help="mse, bce, bce_with_logits, cross_entropy or nll (default: the path "
                                   "file's loss.kind, else mse; classifiers want cross_entropy)")
    pa.add_argument("--reduction", choices=("torch", "theory"), help=REDUCTION_HELP)
    pa.add_argument("--mode", choices=MODE_CHOICES, help=MODE_HELP)
    pa.add_argument("--points", type=int, default=None, help="points of the straight segment (default 101)")
    pa.add_argument("--relax", action=argparse.BooleanOptionalAction, default=None,
                    help="also relax the path by the string method (default: yes)")
    pa.add_argument("--images", type=int, default=None, help="images of the relaxed path (default 24)")
    pa.add_argument("--iterations", type=int, default=None, help="string-method iterations (default 300)")
    pa.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    pa.add_argument("--dtype", default="float64", choices=("float64", "float32"), help="precision (default float64)")
    pa.add_argument("--log-scale", action="store_true", help="logarithmic loss axis in the plot")
    pa.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .._lib.budget import count

    for name, least in (("points", 2), ("images", 1), ("iterations", 0)):
        if getattr(args, name) is not None:
            count(f"--{name}", getattr(args, name), least)
    if args.device not in ("auto", "cpu", "cuda"):
        raise InvalidSpecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    if args.path_file is None and args.model is None:
        raise InvalidSpecError("path needs a path file, or --model FILE.py:FACTORY with --weights, --to and --data")
    output_dir(args.plot, "--plot")
    try:
        from ..empirical.model_files import load_path_file
        from ..empirical.paths import path_between, plot_path
    except ImportError as exc:
        raise missing_extra("empirical", exc, "paths between models") from None
    kwargs = load_path_file(args.path_file, factory=args.model, weights=args.weights, to=args.to, data=args.data,
                            loss=args.loss, reduction=args.reduction, mode=args.mode, points=args.points,
                            relax=args.relax,
                            images=args.images, iterations=args.iterations)
    res = path_between(**kwargs, device=None if args.device == "auto" else args.device, dtype=args.dtype,
                       progress=args.progress, before_work=lambda engine: _enforce_budget(engine, kwargs))
    with staged_outputs(args.plot) as stage:  # the plot and the printed result: all or none
        written = [] if stage is None else [stage.final(w) for w in plot_path(res, stage.path, log=args.log_scale)]
        if args.json:
            print(json.dumps({**res.to_dict(), "plots": written}, indent=2))
        else:
            print(res.to_text() + ("\nplots: " + ", ".join(written) if written else ""))
    return 0


def _enforce_budget(engine, kwargs: dict) -> None:
    """Refuse a path that cannot finish within the time limit, announce a long one
    (bettibounds._lib.budget): the straight segment's points and the string method's iterations,
    from a pilot of the model engine (the loss at a batch of points, a forward and backward pass)."""
    from types import SimpleNamespace

    from .._lib import budget

    points, relax = kwargs.get("points", 101), kwargs.get("relax", True)
    images, iterations, dense = kwargs.get("images", 24), kwargs.get("iterations", 300), kwargs.get("dense", 8)
    for name, value, least in (("points", points, 2), ("images", images, 1), ("iterations", iterations, 0),
                               ("dense", dense, 1)):  # (a path file's values too: before any arithmetic)
        budget.count(f"path.{name}", value, least)
    per_point, per_start = budget.kernel_pilot(engine, images + 2 if relax else 0, slice_dim=1)
    cost = budget.engine_evaluations(points, per_point)
    if relax:  # the cost models need P and m; a model's activations are not modelled (memory)
        spec = SimpleNamespace(n_params=engine.n_params, samples=getattr(engine, "m", 1), widths=(), outputs=1,
                               depth=1)
        cost = cost + budget.refinement(spec, 1, per_point, per_start, images=images, iterations=iterations,
                                        dense=dense)
    budget.enforce(cost, "the path", "lower --points, --images or --iterations")
