"""``bettibounds lower``: certify b_0(S_c) >= |G| on a level band for a concrete network and data."""

from __future__ import annotations

import argparse
import json

from ..errors import InvalidSpecError
from .common import json_option

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    lo = sub.add_parser("lower", parents=[json_option()], help="certify b_0(S_c) >= |G| on a level band for a concrete network and data",
                        description="Find a minimiser, certify a strict local minimum with ball arithmetic, certify "
                                    "that its images under the symmetry group are separated, and print the band "
                                    "[c_lo, c_hi) on which b_0(S_c) >= |G|. Exit status 1 when a step cannot be "
                                    "certified (the output says which and why).")
    lo.add_argument("--experiment", "-e", required=True, help="experiment JSON (network, loss, data)")
    lo.add_argument("--starts", type=int, default=8, help="multi-start runs of the minimiser search (default 8)")
    lo.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    lo.add_argument("--max-order", type=int, default=200_000, help="largest |G| whose orbit is enumerated")

    lo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..certified.witness import certify_lower
    from ..empirical.experiment import load_experiment

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
