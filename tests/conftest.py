"""Shared pytest configuration: hypothesis profiles.

Select a profile with the environment variable ``HYPOTHESIS_PROFILE``:

* ``dev`` (default): about 50 examples per property, quick local runs;
* ``ci``: 100 examples, no deadline, derandomized (reproducible in CI);
* ``thorough``: 1000 examples, for occasional deep runs.

Every test module of the suite (including tests/test_cli.py and
tests/test_public_api.py) relies on these profile names.

Shared fixtures: :func:`dask_local_client` (one local Dask cluster per test module) and
:func:`cli_main` (the CLI in-process). The documented command runs the suite on pytest-xdist
with ``-n auto --dist loadfile``: each test file runs whole in one worker process, so that a
module fixture (a Dask cluster) starts once and the heavy imports of a file (torch, numba,
Dask workers) happen in one process, not in both; a session fixture is one per worker.
(``--dist loadgroup`` with ``xdist_group`` marks would be finer, but pytest 9.2 with
pytest-xdist 3.8 ignores the marks: pytest-xdist issue 1386.)
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# deadline=None everywhere: the first call into sympy or mpmath in a process can take
# far longer than hypothesis' default 200 ms and would make timing flaky on slow CI
# machines; the suite checks speed where it matters with explicit timing asserts.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="module")
def dask_local_client():
    """A local Dask cluster of two single-threaded worker processes, one per test module that asks.

    Module-scoped on purpose, not session-scoped: starting one costs about 2.5 s of CPU, but an idle
    cluster keeps costing about 0.1 core (the scheduler's ticks in this process, the workers'
    heartbeats and profilers), so a cluster kept for the whole session costs more than the starts it
    saves (measured, docs/benchmarks.md "Test suite"). Tests that need a cluster of their own (a
    killed worker, a second client, the CLI's ``--scheduler local``) still start one.
    """
    pytest.importorskip("distributed")
    pytest.importorskip("torch")
    from bettibounds.distributed import dask_client

    with dask_client("local", workers=2) as client:
        yield client


@pytest.fixture
def cli_main():
    """``cli_main(*argv)``: the CLI run in this process, as ``bettibounds.cli.main(argv)``.

    Returns an object with the attributes of ``subprocess.CompletedProcess`` (``returncode``,
    ``stdout``, ``stderr``), so that a test written against ``python -m bettibounds`` reads the same.
    For tests whose subject is not the interpreter or the console script: a fresh interpreter costs
    a second of CPU (two or three where the command imports torch). argparse's own exits
    (SystemExit) give their code; any other exception escapes, failing the test (a traceback a user
    would see).
    """
    import contextlib
    import io
    import types

    from bettibounds.cli import main

    def run(*argv: str) -> types.SimpleNamespace:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code
        return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())

    return run
