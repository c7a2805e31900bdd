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
import contextlib
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
    """Run the CLI; returns the exit status.

    0: done; 1: a check failed (a certificate not verified, a lower bound not certified, a bound
    violated); 2: bad input or an environment that cannot do the work (one line on stderr, nothing
    half-written); 130: interrupted (Ctrl-C; partial outputs removed). argparse's own errors exit
    with 2 through SystemExit, ``--help`` with 0.
    """
    try:
        with _interrupts() as interrupted:
            try:
                return _main(argv, interrupted)
            except KeyboardInterrupt:
                pass
    except KeyboardInterrupt:  # while the handler was being installed or removed (a second Ctrl-C, say)
        pass
    _error("interrupted", prefix="")
    return 130


@contextlib.contextmanager
def _interrupts():
    """Record Ctrl-C while the command runs (yields a threading.Event).

    Two ways an interrupt can go astray: a library catches the KeyboardInterrupt and raises
    something else (Dask turns it into "Nanny failed to start"), or it arrives inside a weakref
    callback or a finaliser, where Python prints "Exception ignored ..." and goes on. The flag
    lets main report the first as an interruption, and the unraisable hook silences the second
    (the work then simply goes on; a second Ctrl-C stops it). Only in the main thread and only
    where Ctrl-C still has Python's default handler."""
    import signal
    import threading

    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def on_sigint(signum, frame):
        flag.set()
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        previous_hook(unraisable)

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = hook
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook


def _error(message: str, prefix: str = "error: ") -> None:
    try:
        sys.stderr.write(f"{PROG}: {prefix}{one_line(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr itself is gone: nothing left to tell
        pass


@contextlib.contextmanager
def _one_line_warnings():
    """The package's own warnings (:class:`~bettibounds.errors.BettiBoundsWarning`) as one line each on
    stderr, ``bettibounds: warning: ...``, each text once; other warnings as Python shows them."""
    import warnings

    from ..errors import BettiBoundsWarning

    shown: set[str] = set()
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, BettiBoundsWarning):
                previous(message, category, filename, lineno, file, line)
                return
            text = str(message)
            if text not in shown:
                shown.add(text)
                _error(text, prefix="warning: ")

        warnings.showwarning = show
        warnings.simplefilter("always", BettiBoundsWarning)  # (once per text: `shown`)
        yield


def _main(argv: list[str] | None, interrupted) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _one_line_warnings():
        return _run(parser, args, interrupted)


def _run(parser, args, interrupted) -> int:
    try:
        if args.version:
            from .. import __version__

            print(f"{PROG} {__version__}")
            code = 0
        elif args.command is None:
            parser.print_help()
            code = 0
        else:
            code = int(args.handler(args))
        sys.stdout.flush()  # a full disk or /dev/full shows here, not at interpreter exit
    except BettiBoundsError as exc:
        if interrupted.is_set():  # an error made of an interruption (a cluster stopped half-started)
            raise KeyboardInterrupt from None
        _error(str(exc))
        return 2
    except BrokenPipeError:
        raise  # `bettibounds ... | head`: entry_point stops quietly
    except OSError as exc:  # writing the results to stdout failed (a full disk, /dev/full, ulimit -f)
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        _error(f"cannot write the output: {exc.strerror or exc}")
        return 2
    except Exception:
        if interrupted.is_set():  # a library turned the KeyboardInterrupt into another error
            raise KeyboardInterrupt from None
        raise
    return code


def entry_point() -> None:  # console script
    import os

    def drop_stdout() -> None:  # what could not be written stays buffered; Python would retry at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    try:
        code = main()
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, its one line already written)
        code = exc.code if isinstance(exc.code, int) else 2
    except BrokenPipeError:  # e.g. `bettibounds ... | head`: stop quietly, as Unix tools do
        drop_stdout()
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        drop_stdout()
        code = code or 1
    except OSError as exc:
        drop_stdout()
        if code != 2:  # main has not said it yet (--help to a full disk)
            _error(f"cannot write the output: {exc.strerror or exc}")
        code = 2
    sys.exit(code)
