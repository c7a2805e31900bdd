"""``bettibounds lower``: certify b_0(S_c) >= |G| on a level band for a concrete network and data."""

from __future__ import annotations

import argparse
import json

from .common import json_option

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    lo = sub.add_parser("lower", parents=[json_option()],
                        help="certify b_0(S_c) >= |G| on a level band for a concrete network and data",
                        description="Find a minimiser, certify a strict local minimum with ball arithmetic, certify "
                                    "that its images under the symmetry group are separated, and print the band "
                                    "[c_lo, c_hi) on which b_0(S_c) >= |G|. Exit status 1 when a step cannot be "
                                    "certified (the output says which and why).")
    lo.add_argument("--experiment", "-e", required=True, help="experiment JSON (network, loss, data)")
    lo.add_argument("--starts", type=int, default=8, help="multi-start runs of the minimiser search (default 8)")
    lo.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    lo.add_argument("--max-order", type=int, default=200_000, help="largest |G| whose orbit is enumerated")

    lo.set_defaults(handler=run)


def _enforce_budget(exp, args: argparse.Namespace) -> None:
    """Refuse a certification that cannot finish within the time limit; announce a long one. Only
    where certify_lower would start working (a finite group within --max-order, P <= 400, the
    [certify] extra present): otherwise it refuses at once, with its own reason."""
    from .._lib import budget
    from .._lib.extras import available
    from ..lower import symmetry_group

    group = symmetry_group(exp.spec)
    if not (group.applicable and group.order is not None and group.order <= args.max_order
            and exp.spec.n_params <= 400 and available("flint")):
        return
    from ..certified.witness import certify_lower_cost

    budget.enforce(certify_lower_cost(exp.spec, exp.x, exp.y, args.starts, group.order), "the certification",
                   "lower --starts, or certify a smaller network")


def run(args: argparse.Namespace) -> int:
    from .._lib import budget
    from ..certified.witness import certify_lower
    from ..empirical.experiment import load_experiment

    for name in ("starts", "max_order"):
        budget.count(f"--{name.replace('_', '-')}", getattr(args, name), 1)
    budget.count("--seed", args.seed)
    exp = load_experiment(args.experiment)
    _enforce_budget(exp, args)
    cert = certify_lower(exp.spec, exp.x, exp.y, starts=args.starts, seed=args.seed, max_order=args.max_order)
    if args.json:
        print(json.dumps({"experiment": str(args.experiment), "spec": exp.spec.to_dict(), **cert.to_dict()}, indent=2))
    else:
        print(cert.to_text())
    return 0 if cert.certified else 1
