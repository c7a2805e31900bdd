"""The command-line options of a PyTorch model (``--model``, ``--weights``, ``--data``, ``--loss``, ...) and of a
slice region made from flags (``--slice``, ``--span``, ``--seed``, ``--grid``), shared by ``landscape`` and
``barcode``."""

from __future__ import annotations

import argparse

from ..errors import InvalidSpecError
from .common import MODE_CHOICES, MODE_HELP, int_list

__all__ = ["DATA_HELP", "REDUCTION_HELP", "model_experiment", "model_options", "refuse_model_flags",
           "region_from_flags", "slice_options"]

#: --data of a PyTorch model
DATA_HELP = ("the data: arrays x and y (.npz, or a .pt dict of tensors); FILE.npz:x_train,y_train names other "
             "arrays")
#: --reduction of a PyTorch model's loss
REDUCTION_HELP = ("torch (default: torch's reduction='mean': over all elements for mse/bce, over the samples for "
                  "cross_entropy/nll) or theory (sum over outputs, mean over samples)")


def model_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """--model, --weights, --data (unless the command has its own), --loss, --reduction and --mode."""
    mg = parser.add_argument_group("PyTorch models (replace the file's \"model\", \"data\" and \"loss\" entries)")
    mg.add_argument("--model", metavar="FILE.py:FACTORY", help="a function in your Python file that returns the "
                                                              "torch.nn.Module")
    mg.add_argument("--weights", metavar="FILE.pt", help="its state_dict, read with torch.load(weights_only=True)")
    if data:
        mg.add_argument("--data", metavar="FILE.npz[:X,Y]", help=DATA_HELP)
    mg.add_argument("--loss", help="mse, bce, bce_with_logits, cross_entropy or nll (default: the file's loss.kind, "
                                   "else mse; a classifier's logits want cross_entropy)")
    mg.add_argument("--reduction", choices=("torch", "theory"), help=REDUCTION_HELP)
    mg.add_argument("--mode", choices=MODE_CHOICES, help=MODE_HELP)


def slice_options(parser: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """--slice, --span, --seed (unless the command has its own) and --grid: a PyTorch model's region."""
    rg = parser.add_argument_group("A PyTorch model's region from the command line (without an experiment file, or "
                                   "replacing its \"region\" and \"grid\")")
    rg.add_argument("--slice", type=int, metavar="K", default=None,
                    help="a slice through the model's weights along K random Gaussian directions, filter-normalised "
                         "(Li et al. 2018); default 2 without an experiment file")
    rg.add_argument("--span", type=float, metavar="S", default=None,
                    help="each slice coordinate from -S to S, in units of the filter-normalised directions "
                         "(default 1)")
    if seed:
        rg.add_argument("--seed", type=int, default=None, help="seed of the random directions (default 0)")
    rg.add_argument("--grid", metavar="N[,N...]", default=None,
                    help="grid points per axis: one number for every axis, or one per axis (default 41 for one or "
                         "two directions, 11 for three or more)")


def region_from_flags(args: argparse.Namespace, obj: dict) -> dict:
    """The model experiment ``obj`` with its ``"region"`` and ``"grid"`` replaced as ``--slice``, ``--span``,
    ``--seed`` and ``--grid`` say: a new slice (K random filter-normalised directions, each coordinate in
    [-S, S]) when ``--slice`` is given or the file has no region; ``--grid`` alone keeps the file's region."""
    import math

    from .._lib.budget import count

    obj = dict(obj)
    new_region = args.slice is not None or args.experiment is None
    if not new_region and "region" not in obj:
        raise InvalidSpecError('the experiment file has no "region": add one, or give the slice with --slice K '
                               "[--span S] [--seed N] [--grid N]")
    given = [f"--{n}" for n in ("span", "seed") if getattr(args, n) is not None]
    if not new_region and given:
        raise InvalidSpecError(f"{' and '.join(given)} {'make' if len(given) > 1 else 'makes'} a new slice with "
                               "--slice K (--span and --seed describe it; the experiment file's region is kept "
                               "otherwise)")
    if new_region:
        k = count("--slice", 2 if args.slice is None else args.slice, 1, 16)
        span = 1.0 if args.span is None else args.span
        if not (math.isfinite(span) and span > 0):
            raise InvalidSpecError(f"--span must be a positive finite number, got {span}")
        seed = count("--seed", 0 if args.seed is None else args.seed, 0, 2**32 - 1)
        obj["region"] = {"kind": "slice", "directions": {"random": k, "seed": seed}, "low": [-span] * k,
                         "high": [span] * k}
    if args.grid is not None or new_region:
        region = obj["region"]
        low = region.get("low") if isinstance(region, dict) else None
        dim = len(low) if isinstance(low, list) else None
        if args.grid is None:
            if "grid" not in obj or args.slice is not None:
                obj["grid"] = [41 if dim is not None and dim <= 2 else 11] * (dim or 2)
        else:
            sizes = int_list(args.grid, "--grid", "41 or 41,31")
            for n in sizes:
                count("--grid", n, 2)
            if len(sizes) == 1 and dim is not None:
                sizes = sizes * dim
            if dim is not None and len(sizes) != dim:
                raise InvalidSpecError(f"--grid gives {len(sizes)} axes but the region has {dim}")
            obj["grid"] = sizes
    return obj


def model_experiment(args: argparse.Namespace, region: argparse.Namespace | None):
    """A PyTorch model's experiment from the command line: the experiment file's JSON object (if any), its region
    and grid replaced as ``region`` says (:func:`region_from_flags`; None keeps the file's) and its entries by
    ``--model``, ``--weights``, ``--data``, ``--loss``, ``--reduction`` and ``--mode``."""
    from .._lib.readers import read_json
    from ..empirical.model_files import load_model_experiment

    obj = {} if args.experiment is None else read_json(args.experiment, "experiment file")
    if not isinstance(obj, dict):
        raise InvalidSpecError("a model experiment file holds a JSON object")
    if region is not None:
        obj = region_from_flags(region, obj)
    return load_model_experiment(args.experiment, obj=obj, factory=args.model, weights=args.weights, data=args.data,
                                 loss=args.loss, reduction=args.reduction, mode=args.mode)


def refuse_model_flags(args: argparse.Namespace, names) -> None:
    """Refuse the model options among ``names`` that were given without a PyTorch model."""
    given = [f"--{n}" for n in names if getattr(args, n) is not None]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise InvalidSpecError(f"{', '.join(given)} {verb} to PyTorch models: add --model file.py:factory (or a "
                               "\"model\" section in the experiment file)")
