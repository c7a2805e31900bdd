"""Command-line interface: a thin argparse layer over the library, one module per sub-command.

Each module (``bound``, ``lower``, ``landscape``, ``barcode``, ``obstruction``, ``path``, ``reproduce``) has
``add_parser(sub)``, which adds its sub-command, and ``run(args) -> int``; ``registries`` adds two
(``add_parsers(sub)``: ``activations`` and ``theorems``, run by ``run_activations`` and
``run_theorems``). Options shared by several commands
come from the parent parsers of :mod:`.common`. Bad input never produces a traceback: the CLI
prints one line to stderr and exits with status 2. Heavy modules are imported only by the
sub-commands that need them.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import BettiBoundsError
from . import barcode, bound, landscape, lower, obstruction, path, registries, reproduce
from .common import PROG, Parser, one_line

__all__ = ["main", "build_parser", "entry_point"]


def build_parser() -> argparse.ArgumentParser:
    """The ``bettibounds`` argument parser with every sub-command."""
    parser = Parser(prog=PROG, description=(
        "Rigorous bounds on the Betti numbers of neural-network loss sublevel sets "
        "S_c = {theta : Loss(theta) <= c}."))
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in (bound, lower, landscape, obstruction, barcode, path, reproduce):
        module.add_parser(sub)
    registries.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 on bad input, with one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        print(f"{PROG} {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except BettiBoundsError as exc:
        sys.stderr.write(f"{PROG}: error: {one_line(str(exc))}\n")
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
