"""``bettibounds reproduce``: regenerate the literature's claims as a report."""

from __future__ import annotations

import argparse
import sys

from .common import PROG, check_scheduler_args, one_line, output_dir, progress_option

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    rp = sub.add_parser("reproduce", help="regenerate the literature's claims as a report (tables, plots, JSON)",
                        parents=[progress_option()])
    rp.add_argument("--out", default="bettibounds-report", help="output folder (default bettibounds-report)")
    rp.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="run the barcode trend's networks on Dask: local (a LocalCluster) or tcp://host:port "
                         "(needs the [dist] extra); default: in this process")
    scale = rp.add_mutually_exclusive_group()
    scale.add_argument("--scale", choices=("smoke", "quick", "full"), default=None,
                       help="smoke: about 20 s of CPU, checks an installation end to end; quick (the default): a few "
                            "minutes on 2 CPU cores; full: larger sweeps, finer grids, more certificates")
    scale.add_argument("--quick", dest="scale", action="store_const", const="quick", help="the quick run (default)")
    scale.add_argument("--full", dest="scale", action="store_const", const="full", help="the full run (--scale full)")
    rp.set_defaults(handler=run)


#: what each scale took on the 2-core development machine (docs/benchmarks.md, "Reproduction report"): the
#: announcement's estimate
SCALE_TIMES = {"smoke": "about 20 s", "quick": "about 2-3 min",
               "full": "about 2-2.5 hours (mostly the barcode sweep: 3.8-4.1 CPU hours, measured; --scheduler spreads "
                       "it over Dask: about 31 min on 8 workers)"}


def _section_done(i: int, n: int, name: str, seconds: float) -> None:
    sys.stderr.write(f"{PROG}: reproduce: section {i}/{n} ({name}) done in {seconds:.1f} s\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from .._lib.writers import staged_directory
    from ..reproduce import TheoryViolation, reproduce

    check_scheduler_args(args)  # before any work: a bad address or a missing Dask is refused now
    output_dir(args.out, "--out")
    scale = args.scale or "quick"
    from .._lib.budget import contention

    # the figures are for idle cores: on a shared machine the run takes about as many times longer as there are
    # processes runnable per core (trial: the smoke run's "about 20 s" took 104 s at a load of about 5 on 2 cores)
    shared = contention()
    busy = (f"; the cores are shared now ({shared:.1f} runnable processes per core): expect about {shared:.1f} times "
            "that" if shared >= 1.5 else "")
    sys.stderr.write(f"{PROG}: the report (--scale {scale}): {SCALE_TIMES[scale]} of work on 2 idle CPU cores as "
                     f"measured (docs/benchmarks.md){busy}; Ctrl-C stops it\n")
    sys.stderr.flush()
    try:
        # the report's files appear together when the run ends, or not at all (error, Ctrl-C, a summary
        # that cannot be printed)
        with staged_directory(args.out, "the report", commit_on=(TheoryViolation,)) as stage:
            res = reproduce(stage.path, scale=scale, scheduler=args.scheduler,
                            progress=_section_done if args.progress else None)
            print(f"wrote {stage.final(res['report'])} and {stage.final(res['html'])} ({res['seconds']:.1f} s; "
                  f"{len(res['plots'])} plot(s); {res['compared']} rows compared with the bounds; bound violations: "
                  f"{res['violations']})")
            sys.stdout.flush()
    except TheoryViolation as exc:  # the report is written; say where, and fail
        sys.stderr.write(f"{PROG}: error: THEORY VIOLATED: {one_line(stage.rewrite(str(exc)))}\n")
        return 1
    return 0
