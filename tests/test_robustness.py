"""Robustness of the CLI (issue 18, items 12-17): strict input files, resource limits, output
failures, validation before work, interruption, warnings and control characters.

Each test reproduces a finding of the external fuzzing campaign; every one of them failed on the
main branch before the fix (a traceback, a wrong number, a run that never ends, a truncated file).
In-process calls where a subprocess is not the point.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bettibounds import errors
from bettibounds.cli import main
from bettibounds.errors import InvalidSpecError, ResourceLimitError

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "examples" / "teacher_tanh.json"
TINY_BOX = ROOT / "examples" / "tiny_box.json"
OBSTRUCTION = {"network": {"layers": [2, 3, 1], "bias": True},
               "data": {"x": [[1, 2], [0, 1], [-1, 0.5]], "y": [[1], [-1], [0.5]]},
               "init": {"W": [[0.1, 0.2, 0.3], [-0.5, 0.1, 0.0], [1.0, -1.0, 0.2]], "V": [[0.5], [-0.2], [1.5]]}}


@pytest.fixture(autouse=True)
def _in_a_temporary_directory(tmp_path_factory, monkeypatch):
    """Every test runs with a folder of its own as working directory: a relative output path (or a
    regression that writes to the current directory) lands there, never in the checkout."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging) when the block runs longer than ``seconds``: main's old behaviour
    on several of these inputs was to run for ever."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(*argv: str, seconds: float = 60) -> tuple[int, str, str, list]:
    """main(argv) in-process: (status, stdout, stderr, warnings raised)."""
    out, err = io.StringIO(), io.StringIO()
    with deadline(seconds), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code
    return code, out.getvalue(), err.getvalue(), caught


def one_line_error(code, out, err) -> str:
    assert code == 2, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert out == "", out
    return lines[0]


def write(tmp_path: Path, name: str, content) -> Path:
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return p


# ------------------------------------------------------------------------------ 12: strict input files
@pytest.mark.parametrize("mutate, words", [
    (lambda o: o["network"].update(bias="false"), ["network.bias", "true or false", "'false'"]),
    (lambda o: o["data"]["y"].__setitem__(0, ["NaN"]), ["data.y"]),
    (lambda o: o.update(extra=1), ["unknown keys", "extra"]),
    (lambda o: o["network"].update(activation="tanh"), ["relu"]),
    (lambda o: o["init"].update(W=[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]), ["init.W", "3 columns"]),
    (lambda o: o["init"].update(W=[[1e200, 0, 0], [0, 0, 0], [0, 0, 0]]), ["overflow"]),
])
def test_obstruction_experiment_is_read_strictly(tmp_path, mutate, words):
    obj = json.loads(json.dumps(OBSTRUCTION))
    mutate(obj)
    line = one_line_error(*call("obstruction", "--experiment", write(tmp_path, "o.json", obj))[:3])
    assert all(w in line for w in words), line


@pytest.mark.parametrize("text, words", [
    ('{"network": {"layers": [2, 3, 1]}, "data": {"x": [[1, 2]], "y": [NaN]}}', ["NaN"]),  # printed 'final loss nan'
    ('{"network": {"layers": [2, 3, 1]}, "network": {"layers": [2, 3, 1]}, "data": {}}', ["appears twice"]),
    ('{"network": {"layers": [2, 3, 1]}, "data": {"x": [[1, 2]], "y": [1e999]}}', ["overflows float64"]),
])
def test_obstruction_experiment_json_is_strict(tmp_path, text, words):
    line = one_line_error(*call("obstruction", "-e", write(tmp_path, "o.json", text), "--flow", "5")[:3])
    assert all(w in line for w in words), line


def test_barcode_network_file_nested_100k_deep_is_one_line(tmp_path):
    net = write(tmp_path, "net.json", "[" * 100_000 + "]" * 100_000)  # was a RecursionError traceback
    data = write(tmp_path, "d.json", json.loads(TEACHER.read_text())["data"])
    line = one_line_error(*call("barcode", "--network", net, "--data", data)[:3])
    assert "too deeply" in line


def test_barcode_data_npy_named_npz_is_one_line(tmp_path):
    net = write(tmp_path, "net.json", {"network": json.loads(TEACHER.read_text())["network"]})
    with open(tmp_path / "d.npz", "wb") as fh:  # a .npy file under an .npz name: was a TypeError traceback
        np.save(fh, np.zeros((3, 1)))
    line = one_line_error(*call("barcode", "--network", net, "--data", tmp_path / "d.npz")[:3])
    assert ".npy" in line and "numpy.savez" in line


@pytest.mark.parametrize("net, data, words", [
    ({"network": {"layers": [1, 2, 1]}, "loss": {"kind": "mse"}, "los": 1}, None, ["unknown keys", "'los'"]),
    (None, {"x": [[0.1]], "y": [[0.2]], "z": [1]}, ["unknown keys", "'z'"]),
])
def test_barcode_network_and_data_files_refuse_unknown_keys(tmp_path, net, data, words):
    teacher = json.loads(TEACHER.read_text())
    n = write(tmp_path, "n.json", net or {"network": teacher["network"]})
    d = write(tmp_path, "d.json", data or teacher["data"])
    line = one_line_error(*call("barcode", "--network", n, "--data", d)[:3])
    assert all(w in line for w in words), line


def test_read_json_refuses_fifos_devices_and_directories_at_once(tmp_path):
    from bettibounds._lib.readers import read_json

    os.mkfifo(tmp_path / "fifo")  # open() would block for ever
    for path in (tmp_path / "fifo", "/dev/zero", tmp_path):
        with deadline(10), pytest.raises(InvalidSpecError, match="not a regular file|directory"):
            read_json(path, "experiment file")


def test_landscape_refuses_a_fifo_at_once(tmp_path):
    """`landscape` sniffs for a model experiment first (main's model_files.read_json), which read with
    Path.read_text: a FIFO hung for ever, /dev/zero ended in a MemoryError traceback (fuzz). A
    subprocess: an open() blocked on a FIFO ignores SIGALRM in a process with torch's threads."""
    os.mkfifo(tmp_path / "fifo.json")
    proc = subprocess.run([sys.executable, "-m", "bettibounds", "landscape", str(tmp_path / "fifo.json")],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and len(proc.stderr.splitlines()) == 1, \
        proc.stderr


def test_model_experiment_files_are_read_strictly(tmp_path):
    pytest.importorskip("torch")
    from bettibounds.empirical.model_files import is_model_experiment, load_model_experiment

    dup = write(tmp_path, "m.json", '{"model": {"factory": "a.py:f"}, "model": {"factory": "b.py:f"}}')
    assert not is_model_experiment(dup)  # not sniffed as a model experiment ...
    with pytest.raises(InvalidSpecError, match="appears twice"):  # ... and refused when read as one
        load_model_experiment(dup)


@pytest.mark.parametrize("argv", [["bound", "-d", "4", "-w=--", "--samples", "6"],
                                  ["bound", "-d", "4", "-w", "3", "--samples=--"]])
def test_an_option_given_the_value_double_dash_is_one_line(argv, capsys):
    """Python 3.11's argparse stores [] for ``-w=--``; int_list then failed on a list (fuzz case a1177)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "'--' is not a value" in err and len(err.splitlines()) == 1, err


def test_model_factory_that_is_not_a_python_file_is_one_line(tmp_path, capsys):
    """A factory file without the .py suffix has no import spec: an AttributeError traceback (fuzz a842)."""
    pytest.importorskip("torch")
    write(tmp_path, "afile", "x = 1\n")
    code = main(["path", "--model", f"{tmp_path / 'afile'}:f", "--weights", str(tmp_path / "afile"),
                 "--data", str(tmp_path / "missing.json")])
    err = capsys.readouterr().err
    assert code == 2 and "is not a Python file" in err and len(err.splitlines()) == 1, err


def test_read_npz_checks_declared_shapes_before_reading(tmp_path):
    from bettibounds._lib.readers import read_npz

    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((3, 100000)), y=np.zeros((3, 1)))
    forged = buf.getvalue().replace(b"(3, 100000)", b"(999999, 9)", 1)  # same length: the header stays valid
    (tmp_path / "d.npz").write_bytes(forged)  # it claims 9 x 10^6 entries the member does not hold
    with pytest.raises(InvalidSpecError, match="declares shape"):
        read_npz(tmp_path / "d.npz", ("x", "y"))
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 1), complex), y=np.zeros((2, 1)))
    with pytest.raises(InvalidSpecError, match="complex"):
        read_npz(tmp_path / "c.npz", ("x", "y"))
    np.savez_compressed(tmp_path / "ok.npz", x=np.asfortranarray(np.arange(6.0).reshape(2, 3)), y=np.ones((2, 1)))
    got = read_npz(tmp_path / "ok.npz", ("x", "y"))
    assert got["x"].tolist() == [[0, 1, 2], [3, 4, 5]] and got["y"].shape == (2, 1)


def test_experiment_loader_uses_the_one_reader(tmp_path, monkeypatch):
    import bettibounds._lib.readers as libio
    from bettibounds.empirical.experiment import load_experiment

    seen = []
    real = libio.parse_json
    monkeypatch.setattr(libio, "parse_json", lambda *a, **k: seen.append(a[1]) or real(*a, **k))
    load_experiment(TINY_BOX)
    assert seen == ["experiment file"]


# ------------------------------------------------------------------------------ 13: resource limits
@pytest.mark.parametrize("argv, words", [
    (["obstruction", "-e", "@OBS@", "--flow", str(10**12)], ["would take about", "--flow"]),
    (["lower", "-e", str(TEACHER), "--starts", str(10**9)], ["would take about", "--starts"]),
    (["landscape", str(TINY_BOX), "--refine", "1000000"], ["refined grid", "points"]),
    (["landscape", str(TINY_BOX), "--refine", str(10**100)], ["--refine", "10^100"]),  # overflowed formatting
    (["barcode", str(TEACHER), "--minima", str(10**18)], ["--minima", "10^18"]),
    # a width of 10^12: the time pilot itself allocated P-column arrays (fuzz run, seed 9)
    (["barcode", "@BIG@", "--minima", "2", "--uniform", "26", "--steps", "1"], ["parameters", "memory"]),
    (["obstruction", "-d", "2", "--width", "3", "--outputs", str(10**18)], ["--outputs"]),
    (["obstruction", "-d", "2", "--width", "3", "--outputs", str(10**11)], ["memory"]),
])
def test_counts_that_cannot_fit_are_refused_before_work(tmp_path, argv, words):
    big = {**json.loads(TEACHER.read_text())}
    big["network"] = {**big["network"], "layers": [1, 2, 10**12, 1]}
    files = {"@OBS@": lambda: write(tmp_path, "o.json", OBSTRUCTION), "@BIG@": lambda: write(tmp_path, "big.json", big)}
    argv = [str(files[a]()) if a in files else a for a in argv]
    t = time.perf_counter()
    line = one_line_error(*call(*argv, seconds=60)[:3])
    assert all(w in line for w in words), line
    assert time.perf_counter() - t < 30


@pytest.mark.parametrize("argv, words", [
    (["path", "--model", "x.py:f", "--points", "1"], ["--points", ">= 2"]),
    (["path", "--model", "x.py:f", "--iterations", str(10**60)], ["--iterations", "10^60"]),
])
def test_path_counts_are_checked_before_anything_is_loaded(argv, words):
    line = one_line_error(*call(*argv)[:3])
    assert all(w in line for w in words), line


def test_long_runs_are_refused_over_the_time_limit_and_announced_under_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BETTIBOUNDS_MAX_SECONDS", "60")
    line = one_line_error(*call("barcode", TEACHER, "--minima", "2", "--uniform", "1000000")[:3])
    assert "k-NN graph" in line and "BETTIBOUNDS_MAX_SECONDS" in line
    import bettibounds._lib.budget as budget

    monkeypatch.setattr(budget, "ANNOUNCE_SECONDS", 0.0)
    code, out, err, _ = call("obstruction", "-e", write(tmp_path, "o.json", OBSTRUCTION), "--flow", "20")
    assert code == 0 and re.fullmatch(r"bettibounds: the obstruction experiment: about .* of work \(estimate; "
                                      r"mostly .*\); Ctrl-C stops it\n", err), err


def test_budget_counts_and_words():
    from bettibounds._lib import budget

    with pytest.raises(ResourceLimitError, match="10\\^30"):
        budget.count("--steps", 10**30)
    with pytest.raises(InvalidSpecError, match=">= 1"):
        budget.count("--starts", 0, 1)
    assert budget.format_seconds(45) == "45 s" and budget.format_seconds(7200) == "2 h"
    assert budget.format_seconds(1e30).startswith("about 10^")
    big = budget.obstruction_flow(10, 10, 3, 1, 10**14)  # at least 3 years on any machine
    with pytest.raises(ResourceLimitError, match="years"):
        budget.enforce(big, "the flow", "lower it")


def test_available_memory_respects_the_address_space_limit():
    code = ("import resource; from bettibounds._lib.memory import available_bytes; "
            "resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31)); print(available_bytes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert 0 < int(out.stdout) < 2**31, out.stderr


# ------------------------------------------------------------------------------ 14: output failures
def test_atomic_write_leaves_no_truncated_file(tmp_path, monkeypatch):
    from bettibounds._lib import writers as libio

    target = tmp_path / "report.md"
    target.write_text("old")

    def full_disk(fh):
        fh.write(b"half of it")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(errors.OutputError, match="disk is full"):
        libio.atomic_write(target, full_disk, "the report")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["report.md"]


def test_plot_over_the_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    import resource

    out = tmp_path / "plots"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))  # `ulimit -f`; Python ignores SIGXFSZ
    try:
        code, stdout, err, _ = call("obstruction", "-d", "2", "--width", "3", "--plot", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    line = one_line_error(code, stdout, err)  # a plot is about 50 kB: EFBIG (was a traceback and a truncated file)
    assert "file-size limit" in line
    assert not out.exists() or [p.name for p in out.iterdir()] == []


def test_stdout_on_a_full_disk_is_one_line_exit_2():
    proc = subprocess.run(f"{sys.executable} -m bettibounds bound -d 2 -w 3 -m 4 > /dev/full", shell=True,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "bettibounds: error: cannot write the output: No space left on device"], proc.stderr


@pytest.mark.parametrize("make, words", [
    (lambda t: str(t / ("n" * 300)), ["300 bytes", "255"]),  # was an OSError traceback
    (lambda t: "", ["empty"]),                                  # was the current directory
    (lambda t: str(t / "afile" / "sub"), ["a file"]),
    (lambda t: str(t / "\ud800"), ["cannot store"]),           # fuzz: a UnicodeEncodeError traceback
])
def test_output_folders_that_cannot_be_written_are_refused_before_work(tmp_path, make, words):
    (tmp_path / "afile").write_text("x")
    t = time.perf_counter()
    line = one_line_error(*call("reproduce", "--quick", "--out", make(tmp_path))[:3])
    assert all(w in line for w in words), line
    assert time.perf_counter() - t < 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_staged_outputs_appear_together_or_not_at_all(tmp_path):
    from bettibounds._lib.writers import staged_directory

    target = tmp_path / "new" / "plots"
    with pytest.raises(RuntimeError), staged_directory(target) as stage:
        (stage.path / "a.png").write_text("1")
        raise RuntimeError("the second plot failed")
    assert not (tmp_path / "new").exists()  # the folders it created are gone again
    with staged_directory(target) as stage:
        (stage.path / "a.png").write_text("1")
        assert stage.final(stage.path / "a.png") == str(target / "a.png")
    assert [p.name for p in target.iterdir()] == ["a.png"]


# ------------------------------------------------------------------------------ 15: validate before work
def test_reproduce_refuses_a_bad_scheduler_before_any_work(tmp_path):
    t = time.perf_counter()
    line = one_line_error(*call("reproduce", "--quick", "--scheduler", "bogus", "--out", tmp_path / "rep")[:3])
    assert "scheduler" in line and time.perf_counter() - t < 10
    assert not (tmp_path / "rep").exists()  # main computed for a minute and wrote five files first


def test_reproduce_refuses_an_unreachable_scheduler_before_any_work(tmp_path):
    pytest.importorskip("distributed")
    line = one_line_error(*call("reproduce", "--quick", "--scheduler", "tcp://127.0.0.1:1", "--out",
                                tmp_path / "rep", seconds=30)[:3])
    assert "no Dask scheduler answers" in line and not (tmp_path / "rep").exists()


# ------------------------------------------------------------------------------ 16: interruption
@pytest.fixture()
def python_sigint():
    """The state a terminal's Ctrl-C tests assume: Python's own SIGINT handler. A process started as a
    background job of a non-interactive shell (``cmd &``) inherits SIGINT ignored, Python keeps it so, and
    Ctrl-C can neither reach it nor be simulated (``_thread.interrupt_main`` does nothing): these tests are
    skipped there (session 6 ran a clean-clone CI that way; three of them failed on exit codes). Any other
    handler means a test before this one changed it: a failure that says so."""
    handler = signal.getsignal(signal.SIGINT)
    if handler is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process (started as a background job?): Ctrl-C cannot reach it")
    assert handler is signal.default_int_handler, (
        f"SIGINT's handler in this test process is {handler!r}, not Python's default: something run before this "
        "test (in this worker) changed it")


def _interrupt_after(seconds: float) -> threading.Timer:
    import _thread

    timer = threading.Timer(seconds, _thread.interrupt_main)  # what Ctrl-C does to the main thread
    timer.start()
    return timer


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, python_sigint):
    obj = {**OBSTRUCTION, "data": {"x": [[1, 2]] * 200, "y": [[1]] * 200}}
    timer = _interrupt_after(1.0)
    try:
        code, out, err, _ = call("obstruction", "-e", write(tmp_path, "o.json", obj), "--flow", "10000000")
    finally:
        timer.cancel()
    *notes, last = err.splitlines()  # the time announcement of this long run, then one line
    assert code == 130 and last == "bettibounds: interrupted" and "Traceback" not in err
    assert all(n.endswith("Ctrl-C stops it") for n in notes), err


def test_ctrl_c_during_reproduce_leaves_no_partial_report(tmp_path, monkeypatch):
    import bettibounds.reproduce

    def half_a_report(out_dir, **kwargs):  # Ctrl-C after two of the report's files are written
        (Path(out_dir) / "growth.png").write_bytes(b"\x89PNG")
        (Path(out_dir) / "tables.json").write_text("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(bettibounds.reproduce, "reproduce", half_a_report)
    code, _, err, _ = call("reproduce", "--quick", "--out", tmp_path / "rep")
    *notes, last = err.splitlines()  # the run's announcement, then one line
    assert (code, last) == (130, "bettibounds: interrupted") and "Traceback" not in err
    assert all(n.endswith("Ctrl-C stops it") for n in notes), err
    assert not (tmp_path / "rep").exists()  # main left the half report there


def test_ctrl_c_while_the_handler_is_installed_is_one_line_exit_130(monkeypatch, python_sigint):
    """A Ctrl-C that arrives while main installs its SIGINT handler (before its try block) escaped
    as a traceback."""
    real = signal.signal

    def interrupted_once(signum, handler):
        if signum == signal.SIGINT and handler is not signal.default_int_handler:
            monkeypatch.setattr(signal, "signal", real)
            raise KeyboardInterrupt
        return real(signum, handler)

    monkeypatch.setattr(signal, "signal", interrupted_once)
    try:
        code, out, err, _ = call("bound", "-d", "2", "-w", "3", "-m", "4")
    except KeyboardInterrupt:
        pytest.fail("the Ctrl-C escaped main: a traceback")
    assert (code, out, err) == (130, "", "bettibounds: interrupted\n")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_a_library_turns_into_another_error_is_still_exit_130(monkeypatch, python_sigint):
    import _thread

    import bettibounds.cli.bound as bound

    def handler(args):  # what Dask does when Ctrl-C lands while a LocalCluster starts
        try:
            _thread.interrupt_main()
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("Nanny failed to start.") from None
        return 0

    monkeypatch.setattr(bound, "run", handler)
    code, out, err, _ = call("bound", "-d", "2", "-w", "3", "-m", "4")
    assert (code, err) == (130, "bettibounds: interrupted\n")


def test_a_local_cluster_that_cannot_start_is_a_scheduler_error(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from bettibounds.distributed import dask_client
    from bettibounds.errors import SchedulerError

    def refuse(*args, **kwargs):
        raise RuntimeError("Nanny failed to start.")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    with pytest.raises(SchedulerError, match="could not start a local Dask cluster of 2 worker processes"):
        with dask_client("local", workers=2):
            pass


def test_lost_dask_work_is_a_scheduler_error_not_a_type_error(monkeypatch):
    distributed = pytest.importorskip("distributed")
    import bettibounds.distributed as bd
    from bettibounds.errors import SchedulerError

    class Future:
        key = "bettibounds-block-x-0"

    class Client:  # what _run touches of a client
        loop = None

        class scheduler:
            address = "tcp://127.0.0.1:8786"

        def nthreads(self):
            return {"w1": 1, "w2": 1}

        def submit(self, *a, **k):
            return Future()

    class AsCompleted:  # both workers killed: the block comes back as a cancelled future
        def __init__(self, futures, loop=None, with_results=False):
            self.items = [(f, distributed.client.FutureCancelledError(f.key, reason="lost")) for f in futures]

        def __iter__(self):
            return iter(self.items)

        def add(self, f):
            pass

    monkeypatch.setattr(distributed, "as_completed", AsCompleted)
    ev = object.__new__(bd.DaskEvaluator)
    ev.client, ev._payload, ev.callback = Client(), object(), None
    with pytest.raises(SchedulerError, match="lost the work"):
        ev._run(np.zeros((4, 2)), [0], 4, 4, None, np.full(4, np.nan), False, "full", "torch")


def test_dask_workers_leave_ctrl_c_to_the_client():
    from bettibounds.dask_cluster import dask_setup  # the local cluster's preload hook

    previous = signal.getsignal(signal.SIGINT)
    try:
        dask_setup(None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# ------------------------------------------------------------------------------ 17: warnings, control characters
def test_box_wider_than_float64_is_refused_without_warnings():
    code, out, err, caught = call("barcode", TEACHER, "--minima", "1", "--uniform", "5", "--steps", "1",
                                  "--box=-1e308,1e308")
    assert "difference" in one_line_error(code, out, err) and caught == []


def test_lower_with_huge_data_warns_nobody(tmp_path):
    obj = json.loads(TEACHER.read_text())
    obj["data"]["y"][0] = [1e300]
    code, out, err, caught = call("lower", "-e", write(tmp_path, "big.json", obj), "--starts", "1", seconds=120)
    assert code == 1 and "NOT CERTIFIED" in out
    assert [str(w.message) for w in caught] == [] and err == ""


@pytest.mark.parametrize("bad", ["\x1b[31m", "\u202e", "\x07\x00"])
def test_control_characters_are_escaped_in_errors(bad):
    # argparse quotes option values with repr, but not stray arguments ("unrecognized arguments: ...")
    code, out, err, _ = call("bound", "-d", "2", "-w", "3", "-m", "4", bad)
    line = one_line_error(code, out, err)
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in line), repr(line)
    assert "\\x1b" in line or "\\u202e" in line or "\\x07" in line


def test_a_negative_value_without_equals_sign_gets_a_hint(capsys):
    """``--box -3,3``: argparse reads -3,3 as an option; its bare "expected one argument" left a new
    user guessing (trial of issue 22)."""
    with pytest.raises(SystemExit) as exc:
        main(["barcode", "examples/teacher_tanh.json", "--minima", "4", "--box", "-3,3"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--box=-3,3" in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("argv, hint", [
    (["landscape", "x.json", "--levels", "-0.5,0.1"], "--levels=-0.5,0.1"),
    (["landscape", "x.json", "--lev", "-0.5,0.1"], "--lev=-0.5,0.1"),  # an abbreviation, as argparse accepts it
])
def test_the_negative_value_hint_names_the_option_given(capsys, argv, hint):
    """The hint said "e.g. --box=-3,3" for every option, also for landscape, which has no --box (new-user trial)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and hint in err and "--box" not in err and len(err.splitlines()) == 1, err


def test_a_missing_value_gets_no_negative_value_hint(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["landscape", "x.json", "--levels"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "expected one argument" in err and "goes with '='" not in err, err


def test_an_unknown_option_of_a_subcommand_points_at_its_help(capsys):
    """``barcode ... --levels 0.1`` said "(see bettibounds --help)", which lists only the sub-commands."""
    with pytest.raises(SystemExit) as exc:
        main(["barcode", "ce_exp.json", "--levels", "0.1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unrecognized arguments: --levels 0.1" in err, err
    assert "(see bettibounds barcode --help)" in err and len(err.splitlines()) == 1, err
    with pytest.raises(SystemExit):
        main(["--frobnicate"])
    assert "(see bettibounds --help)" in capsys.readouterr().err
