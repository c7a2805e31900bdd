"""What every sub-command shares: the one-line error parser, shared options (parent parsers),
and small argument checks. No domain logic lives in the CLI; it parses, calls the library, prints."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, NoReturn

from ..errors import InvalidSpecError

__all__ = ["PROG", "Parser", "announce_model_compile",
           "negative_value_hint", "one_line", "output_dir", "int_list", "json_option", "plot_option",
           "engine_options", "scheduler_options", "check_scheduler_args", "progress_option", "engine_device",
           "staged_outputs",
           "ENGINE_HELP", "MODE_CHOICES", "MODE_HELP"]

PROG = "bettibounds"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str, command: str | None = None) -> NoReturn:  # argparse API
        """One line on stderr, exit status 2, naming ``command`` (this parser's by default) and its ``--help``."""
        if message.endswith("expected one argument"):  # --box -3,3: argparse takes -3,3 for an option
            message += negative_value_hint(message, getattr(self, "_tokens", ()))
        command = command or self.prog
        sys.stderr.write(f"{command}: error: {one_line(message)} (see {command} --help)\n")
        sys.exit(2)

    def parse_known_args(self, args=None, namespace=None):  # argparse API
        # Python 3.11's argparse drops a value of exactly "--" given as --opt=--, and stores [] for an
        # option that takes one string: refuse it here rather than fail later on a list (fuzz finding)
        tokens = sys.argv[1:] if args is None else args
        self._tokens = [t for t in tokens if isinstance(t, str)]  # for the hint of a value that starts with '-'
        for token in tokens:
            if isinstance(token, str) and token.startswith("-") and token.endswith("=--"):
                self.error(f"{token.split('=', 1)[0]}: '--' is not a value")
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):  # argparse API
        # a sub-command's unknown option reaches the top-level parser ("unrecognized arguments"): point at
        # the sub-command's help, where the options it has are listed, not at the list of sub-commands
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            self.error(f"unrecognized arguments: {' '.join(extras)}",
                       command=f"{self.prog} {command}" if isinstance(command, str) else None)
        return parsed


def negative_value_hint(message: str, tokens) -> str:
    """The hint for argparse's "argument --opt: expected one argument" when the value after the option
    starts with '-' (``--levels -0.5,0.1``): the user's own option and value written with '=', or nothing
    where no such value follows (the value is simply missing)."""
    names = message.split(":", 1)[0].removeprefix("argument ").split("/")
    tokens = list(tokens)
    for i, token in enumerate(tokens[:-1]):
        # the option as typed: one of its names, or an abbreviation of a long one (argparse accepts those)
        if token in names or (token.startswith("--") and len(token) > 2
                              and any(n.startswith(token) for n in names if n.startswith("--"))):
            value = tokens[i + 1]
            if value.startswith("-") and value != "--":
                return f" (a value that starts with '-' goes with '=': {token}={value})"
            return ""
    return ""


def one_line(text: str) -> str:
    """Errors are one line: escape line breaks and every other control character that came in
    with the user's input (:func:`bettibounds._lib.text.escape`)."""
    from .._lib.text import escape

    return escape(text)


def output_dir(path: Any, option: str) -> None:
    """Check, before any work, that the output directory of ``option`` can be created and written
    (:func:`bettibounds._lib.writers.check_output_dir`): a path that is empty, a file, too long or not
    writable is a one-line error, not a traceback after minutes of computing. Nothing is created
    yet; the writers create it when they write."""
    from .._lib.writers import check_output_dir

    if path is None:
        return
    check_output_dir(path, option)


@contextlib.contextmanager
def staged_outputs(directory: Any, what: str = "the plots"):
    """All outputs or none: yields a :class:`~bettibounds._lib.writers.Staging` for ``directory`` (None
    without one). The command writes its files into ``stage.path`` and prints its result inside the
    block; stdout is flushed before the files are moved into place, so a result that cannot be
    printed (a full disk) takes the files with it, and a failure while writing leaves no files."""
    from .._lib.writers import staged_directory

    if directory is None:
        yield None
        sys.stdout.flush()
        return
    with staged_directory(directory, what) as stage:
        yield stage
        sys.stdout.flush()


def int_list(text: str, option: str = "--widths", example: str = "8,8,8") -> list[int]:
    """``"8,8,8"`` as [8, 8, 8] (the syntax of --widths, landscape's --grid); a typo such as ``"3,,3"``
    is refused."""
    what = f"{option} takes comma-separated positive integers such as {example}; got {text!r}"
    if not isinstance(text, str):
        raise InvalidSpecError(what)
    tokens = text.replace(" ", "").split(",")
    try:
        if "" in tokens:  # "3,,3" or "3," is a typo, not [3, 3]
            raise ValueError
        return [int(t) for t in tokens]
    except ValueError:
        raise InvalidSpecError(what) from None


# ------------------------------------------------------------- parent parsers
def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


def json_option() -> argparse.ArgumentParser:
    p = _parent()
    p.add_argument("--json", action="store_true", help="one JSON object")
    return p


def plot_option(what: str) -> argparse.ArgumentParser:
    p = _parent()
    p.add_argument("--plot", metavar="DIR", help=what)
    return p


def progress_option() -> argparse.ArgumentParser:
    """--progress / --no-progress: progress bars on stderr, on by default when stderr is a terminal."""
    p = _parent()
    on = sys.stderr.isatty()
    p.add_argument("--progress", dest="progress", action="store_true", default=on,
                   help="progress bars on stderr (default: on when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def engine_options(engine_help: str) -> argparse.ArgumentParser:
    """--device, --dtype and --engine (``auto`` or a loss engine of bettibounds.engines)."""
    from ..engines import AUTO, engine_choices

    p = _parent()
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    p.add_argument("--dtype", default=None, choices=("float64", "float32"),
                   help="arithmetic precision (default float64, with every engine)")
    p.add_argument("--engine", default=AUTO, choices=engine_choices(), help=engine_help)
    return p


#: the --engine help of the commands that evaluate an experiment's loss on a grid
ENGINE_HELP = ("auto (default): the fused engine on the CPU where it supports the network, region and precision, "
               "else torch (a PyTorch model: the model engine, or the fused engine for a recognised tanh/logistic "
               "MLP); the output records the engine and why. torch: the batched torch kernel (any network, CPU or "
               "CUDA). fused: the compiled CPU kernel (tanh/logistic hidden layers; MSE, BCE, or cross entropy / "
               "nll after LogSoftmax for a PyTorch model; slices with 1-4 directions and boxes, float64 or float32; "
               "needs numba, pip install -e '.[fast]'; compiled once per installation in about 30 s per precision: "
               "numba's cache sits beside the code, so a fresh clone compiles again). model: any PyTorch model "
               "(--model). docs/usage.md, 'Engines'")


#: --mode of the commands that take a PyTorch model (--model): the model problem's train-mode policy
MODE_CHOICES = ("refuse", "eval")
MODE_HELP = ("a model in train mode whose output depends on it (Dropout, BatchNorm): refuse (default) or eval "
             "(evaluate it in eval mode, recorded); replaces the file's model.mode")


def scheduler_options(where: str) -> argparse.ArgumentParser:
    """--scheduler and --workers (Dask)."""
    p = _parent()
    p.add_argument("--scheduler", metavar="ADDR", default=None,
                   help=f"{where} on Dask: 'local' (a LocalCluster on this machine, stopped afterwards) or "
                        "tcp://host:port (a running `dask scheduler`; needs the [dist] extra); default: in this "
                        "process (docs/distributed.md)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of --scheduler local (default: the number of CPU cores)")
    return p


def check_scheduler_args(args: argparse.Namespace) -> None:
    """``--scheduler`` and ``--workers`` (where the command has it), before any work: ``--workers`` is
    a count >= 1 for ``--scheduler local`` only, and a bad address or a missing Dask is refused now."""
    workers = getattr(args, "workers", None)
    if workers is not None:
        from .._lib.budget import count

        count("--workers", workers, 1)
        if args.scheduler is None:
            raise InvalidSpecError("--workers applies to distributed runs: add --scheduler local")
        if args.scheduler != "local":
            raise InvalidSpecError("--workers applies to --scheduler local only (a remote cluster has the workers "
                                   "started there with `dask worker`)")
    if args.scheduler is not None:
        from ..dask_cluster import check_scheduler

        check_scheduler(args.scheduler)


def engine_device(args: argparse.Namespace) -> tuple[str | None, str]:
    """(device, dtype) for ``--device``, ``--dtype`` and ``--engine``: ``--dtype`` defaults to float64
    with every engine; the fused engine refuses CUDA. ``--engine auto`` is resolved by the library
    (bettibounds.engines.choice), which records the engine and why."""
    if args.device not in ("auto", "cpu", "cuda"):
        raise InvalidSpecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    device = None if args.device == "auto" else args.device
    dtype = args.dtype if args.dtype is not None else "float64"
    if args.engine == "fused":
        if device == "cuda":
            raise InvalidSpecError("--engine fused runs on the CPU; use --engine torch for CUDA")
        device = "cpu"
    return device, dtype


def announce_model_compile(exp, engine, device, dtype, progress: bool) -> None:
    """A model experiment that engine auto routes to the fused engine compiles (or loads) its kernel while
    the kernel is built -- the check against the model engine evaluates it -- before the time estimate (the
    first sample counts that time: sample_landscape), and silently: say so on stderr first, always when
    numba's cache is empty (about 30 s), else with ``--progress`` (about 0.5 s), as the experiment files'
    first fused evaluation does."""
    if getattr(exp, "kind", None) != "model" or engine not in (None, "auto") or getattr(exp, "compile", False):
        return
    try:
        from ..empirical.model_fused import fused_route
        from ..engines.fused import COMPILE_NOTICE, kernel_loaded
    except ImportError:  # no numba: the model engine evaluates it
        return
    from .._lib.pilots import fused_cached_for

    dt = dtype or "float64"
    long_wait = not fused_cached_for(dt)  # (per precision: a float64 cache does not hold the float32 kernel)
    if kernel_loaded(dt) or not (progress or long_wait) or fused_route(exp, dt, device)[0] is None:
        return
    sys.stderr.write(f"{PROG}: engine auto: {COMPILE_NOTICE}\n")
    sys.stderr.flush()
