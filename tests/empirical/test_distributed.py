"""Distributed landscape evaluation on Dask: bit-identity with the in-process run, a killed
worker, job ordering, and the errors a user sees (bettibounds.distributed, issue 8).

Two single-threaded worker processes (LocalCluster, processes=True) on small grids: the
module's cluster (tests/conftest.py, ``dask_local_client``), or a cluster of the test's own
where it kills a worker, needs a second client or runs the CLI's ``--scheduler local``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("torch")

import dask  # noqa: E402

from bettibounds import InvalidSpecError
from bettibounds.cli import main
from bettibounds.distributed import (
    DaskEvaluator,
    dask_client,
    landscape_sampler,
    map_jobs,
)
from bettibounds.empirical.experiment import load_experiment
from bettibounds.empirical.kernels import LossKernel
from bettibounds.empirical.sampler import (
    _mesh,
    grid_axes,
    resolve_directions,
    sample_landscape,
)

SLICE = "examples/slice_2d.json"


@pytest.fixture(scope="module")
def client(dask_local_client):
    return dask_local_client  # the module's cluster (tests/conftest.py)


def _slice_points(exp, n):
    center, directions, _ = resolve_directions(exp.spec, exp.region)
    return center, directions, _mesh(grid_axes(exp.region["low"], exp.region["high"], [n, n]))


def test_the_kernel_depends_on_the_partition():
    """Why the evaluator reproduces the in-process chunks: the same points in other batches
    give other bits (MKL's small-row dgemm path), so equality below is not automatic."""
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 31)
    kern = LossKernel(exp.spec, exp.x, exp.y, device="cpu")
    by3 = kern.evaluate_chunked(pts, "slice", center=center, directions=directions, chunk=3)
    whole = kern.evaluate_chunked(pts, "slice", center=center, directions=directions, chunk=len(pts))
    assert np.allclose(by3, whole, rtol=1e-13, atol=0)
    assert (by3 != whole).any()


def test_landscape_is_bit_identical_to_in_process(client):
    exp = load_experiment(SLICE)
    local = sample_landscape(exp, device="cpu", engine="torch")
    sampler = landscape_sampler(exp, client, device="cpu", engine="torch")
    with sampler.evaluator as ev:
        dist = sampler(list(exp.grid))
    assert dist.values.dtype == np.float64 and np.array_equal(dist.values, local.values)
    assert np.array_equal(dist.directions, local.directions) and np.array_equal(dist.center, local.center)
    assert dist.direction_source == local.direction_source == {"kind": "random", "k": 2, "seed": 0,
                                                               "normalization": "filter"}
    assert all(np.array_equal(a, b) for a, b in zip(dist.axes, local.axes))
    assert dist.device == "cpu" and ev.info["workers"] == 2 and ev.info["points"] == local.points
    # the default chunk is the in-process one (this process, same free-memory rule)
    assert ev.info["chunk"] == LossKernel(exp.spec, exp.x, exp.y, device="cpu").chunk_size(local.points, "slice", 2)


def test_many_blocks_of_small_chunks_are_bit_identical(client):
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 41)
    kern = LossKernel(exp.spec, exp.x, exp.y, device="cpu")
    local = kern.evaluate_chunked(pts, "slice", center=center, directions=directions, chunk=3)
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu", chunk=3, block=200, engine="torch") as ev:
        dist = ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
        info = ev.info
    assert np.array_equal(dist, local)
    # had a worker evaluated its block as one batch, the bits would differ
    assert (kern.evaluate_chunked(pts, "slice", center=center, directions=directions, chunk=201) != local).any()
    assert info["block"] == 201 and info["blocks"] == math.ceil(len(pts) / 201)  # whole chunks of 3 per block
    assert info["worker_processes_used"] == 2


def test_full_mode_box_is_bit_identical(client):
    exp = load_experiment("examples/tiny_box.json")
    pts = _mesh(grid_axes(exp.region["low"], exp.region["high"], [9, 9, 9, 9]))
    kern = LossKernel(exp.spec, exp.x, exp.y, device="cpu")
    local = kern.evaluate_chunked(pts, chunk=5)
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu", chunk=5, block=400, engine="torch") as ev:
        assert np.array_equal(ev.evaluate_chunked(pts, chunk=5), local)
        assert ev.info["blocks"] == math.ceil(len(pts) / 400)
        # the whole landscape through sample_landscape (one block: the in-process chunk is the grid)
        box = sample_landscape(exp, grid=[9, 9, 9, 9], kernel=ev)
    assert np.array_equal(box.values, sample_landscape(exp, grid=[9, 9, 9, 9], device="cpu", engine="torch").values)


def test_bad_points_fail_on_the_client_before_any_work(client):
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 5)
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu") as ev:
        with pytest.raises(InvalidSpecError, match="points must have shape"):
            ev.evaluate_chunked(pts[:, :1], "slice", center=center, directions=directions)
        bad = pts.copy()
        bad[3, 1] = np.nan
        with pytest.raises(InvalidSpecError, match="non-finite"):
            ev.evaluate_chunked(bad, "slice", center=center, directions=directions)
        with pytest.raises(InvalidSpecError, match="directions"):
            ev.evaluate_chunked(pts, "slice", center=center, directions=directions[:, :-1])
    with pytest.raises(InvalidSpecError, match="closed"):
        ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
    with pytest.raises(InvalidSpecError, match="device"):
        DaskEvaluator(client, exp.spec, exp.x, exp.y, device="tpu")
    with pytest.raises(InvalidSpecError, match="chunk"):
        DaskEvaluator(client, exp.spec, exp.x, exp.y, chunk=0)


def test_a_killed_worker_loses_and_duplicates_nothing():
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 97)
    local = LossKernel(exp.spec, exp.x, exp.y, device="cpu").evaluate_chunked(
        pts, "slice", center=center, directions=directions, chunk=128)
    with dask_client("local", workers=2) as c:
        pids = c.run(os.getpid)  # {worker address: pid}
        killed = []

        def kill_a_busy_worker(done, total):
            if killed:
                return
            busy = [addr for addr, keys in c.processing().items() if keys and addr in pids]
            assert busy, "no block in flight when the first one came back"
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append((pids[busy[0]], done, total))

        with DaskEvaluator(c, exp.spec, exp.x, exp.y, device="cpu", chunk=128, block=256, engine="torch",
                           callback=kill_a_busy_worker) as ev:
            dist = ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
            info = ev.info
        assert killed and killed[0][1] < killed[0][2]  # killed mid-run
        # the nanny restarts it. Wait for two live workers, the killed one not among them: the
        # scheduler may still list the dead worker for a while (a plain c.run then fails on it)
        deadline = time.monotonic() + 60
        while True:
            live = {p for p in c.run(os.getpid, on_error="return").values() if isinstance(p, int)}
            if (len(live) == 2 and killed[0][0] not in live) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert killed[0][0] not in live and len(live) == 2, (killed, live)
    assert info["blocks"] == math.ceil(len(pts) / 256) >= 30
    assert not np.isnan(dist).any() and np.array_equal(dist, local)


def test_an_older_client_works_beside_a_newer_one(client):
    """Regression: as_completed tracked the futures on the loop of the newest client (not
    the evaluator's) when two clusters were up; blocks were then cancelled (AssertionError
    in distributed's _track_future) and the run hung about every second time."""
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 128)
    local = LossKernel(exp.spec, exp.x, exp.y, device="cpu").evaluate_chunked(
        pts, "slice", center=center, directions=directions, chunk=500)
    runs = []
    with dask_client("local", workers=1) as newer:  # now distributed's default client
        def alternate():
            with DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu", chunk=500, engine="torch") as old, \
                    DaskEvaluator(newer, exp.spec, exp.x, exp.y, device="cpu", chunk=500, engine="torch") as new:
                for _ in range(4):
                    for ev in (old, new):
                        runs.append(ev.evaluate_chunked(pts, "slice", center=center, directions=directions))

        worker = threading.Thread(target=alternate, daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive(), f"a distributed run hung after {len(runs)} of 8 runs"
    assert len(runs) == 8 and all(np.array_equal(v, local) for v in runs)


def test_map_jobs_keeps_the_input_order(client):
    def slow_square(v):
        time.sleep(0.05 * v)  # the first items finish last
        return v * v

    items = [6, 5, 4, 3, 2, 1, 0]
    assert map_jobs(slow_square, items) == [36, 25, 16, 9, 4, 1, 0]
    assert map_jobs(slow_square, items, scheduler=client) == [36, 25, 16, 9, 4, 1, 0]
    assert map_jobs(slow_square, [], scheduler=client) == []

    def fails(v):
        raise ZeroDivisionError(f"job {v}")

    with pytest.raises(ZeroDivisionError, match="job 1"):
        map_jobs(fails, [1], scheduler=client)


def test_map_jobs_hands_over_each_result_as_it_finishes(client):
    def slow_square(v):
        time.sleep(0.05 * abs(v))
        if v < 0:
            raise ZeroDivisionError(f"job {v}")
        return v * v

    for scheduler in (None, client):
        seen: list = []
        got = map_jobs(slow_square, [3, 0, 2], scheduler, on_result=lambda i, r, seen=seen: seen.append((i, r)))
        assert got == [9, 0, 4]
        assert sorted(seen) == [(0, 9), (1, 0), (2, 4)]
        if scheduler is not None:
            assert seen[0] == (1, 0)  # in the order they finish: the quickest first
    # a failing job: those that finished were handed over before the error is raised
    seen = []
    with pytest.raises(ZeroDivisionError, match="job -1"):
        map_jobs(slow_square, [-1, 4], client, on_result=lambda i, r: seen.append((i, r)))
    assert seen == [(1, 16)]


def test_a_trend_sweep_on_dask_checkpoints_each_run_as_it_finishes(client, tmp_path, monkeypatch):
    """A stopped Dask sweep lost every finished run (its checkpoint was written when all had returned).
    Two jobs on the cluster, one failing at once (width 0): the other's run is in the checkpoint all the
    same, and a rerun reads it back instead of running it."""
    from bettibounds.barcode import realdata

    cfg = {**realdata.TREND_CONFIGS["tiny"], "archs": ((16, 1), (0, 1)), "seeds": 1}
    ckpt = tmp_path / "runs.jsonl"
    with pytest.raises(InvalidSpecError, match="widths"):
        realdata.to_score_trend(cfg=cfg, scheduler=client, checkpoint=str(ckpt))
    recorded = [json.loads(line)["run"] for line in ckpt.read_text().splitlines()]
    assert [(r["dataset"], r["width"], r["depth"], r["seed"]) for r in recorded] == [("digits", 16, 1, 0)]

    def not_again(*a, **k):
        raise AssertionError("a checkpointed run was run again")

    monkeypatch.setattr(realdata, "run_architecture", not_again)
    rows, runs = realdata.to_score_trend(cfg={**cfg, "archs": ((16, 1),)}, scheduler=client, checkpoint=str(ckpt))
    assert runs == recorded and rows[0]["width"] == 16 and rows[0]["seeds"] == 1
    with pytest.raises(InvalidSpecError, match="not both"):
        realdata.to_score_trend(cfg=cfg, scheduler=client, jobs_map=map_jobs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("bad", ["remote", "tcp://host", "http://127.0.0.1:8786", "tcp://127.0.0.1:99999", "", 8786])
def test_malformed_scheduler_is_a_one_line_error(bad):
    with pytest.raises(InvalidSpecError, match="scheduler") as exc, dask_client(bad):
        pass
    assert "\n" not in str(exc.value)


def test_unreachable_scheduler_is_a_clear_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    t = time.perf_counter()
    with pytest.raises(InvalidSpecError, match=f"no Dask scheduler answered at {address}.*dask scheduler"), \
            dask_client(address, timeout=1):
        pass
    assert time.perf_counter() - t < 20
    with pytest.raises(InvalidSpecError, match="local"), dask_client(address, workers=2):
        pass
    with pytest.raises(InvalidSpecError, match="workers must be a positive integer"), \
            dask_client("local", workers=0):
        pass


def test_missing_dask_says_how_to_install_it(monkeypatch, client):
    exp = load_experiment(SLICE)
    monkeypatch.setitem(sys.modules, "distributed", None)
    install = r'pip install -e "\.\[dist\]"'
    with pytest.raises(InvalidSpecError, match=install), dask_client("local"):
        pass
    with pytest.raises(InvalidSpecError, match=install):
        DaskEvaluator(client, exp.spec, exp.x, exp.y)
    with pytest.raises(InvalidSpecError, match=install):
        map_jobs(abs, [1], scheduler="local")
    assert map_jobs(abs, [-2, 1]) == [2, 1]  # in-process jobs need no Dask


def test_cli_scheduler_local_matches_in_process(tmp_path, capsys):
    with open(SLICE) as fh:
        raw = json.load(fh)
    raw["grid"] = [41, 41]
    path = tmp_path / "slice.json"
    path.write_text(json.dumps(raw))
    assert main(["landscape", str(path), "--json", "--refine", "1", "--device", "cpu", "--engine", "torch"]) in (0, 1)
    local = json.loads(capsys.readouterr().out)
    assert main(["landscape", str(path), "--json", "--refine", "1", "--device", "cpu", "--engine", "torch",
                 "--scheduler", "local", "--workers", "2", "--block", "500"]) in (0, 1)
    dist = json.loads(capsys.readouterr().out)
    assert local["distributed"] is None
    assert dist["distributed"]["scheduler"] == "local" and dist["distributed"]["workers"] == 2
    assert dist["distributed"]["block"] % dist["distributed"]["chunk"] == 0
    assert dist["diagram"] == local["diagram"] and dist["levels"] == local["levels"]
    assert (dist["sample"]["min"], dist["sample"]["max"]) == (local["sample"]["min"], local["sample"]["max"])
    assert dist["directions"] == local["directions"]


def test_fused_engine_on_the_workers_is_bit_identical(client):
    """engine="fused": each worker evaluates its blocks with the fused kernel, which computes every
    point on its own, so any partition gives the in-process engine's bits (float32 here)."""
    pytest.importorskip("numba")
    from bettibounds.engines.fused import FusedSliceKernel

    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 37)
    # in process first: compiles the kernel (or loads it), so the workers load it from numba's cache
    local = FusedSliceKernel(exp.spec, exp.x, exp.y, dtype="float32").evaluate_chunked(
        pts, center=center, directions=directions)
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, engine="fused", dtype="float32", chunk=100,
                       block=300) as ev:
        assert (ev.engine, ev.dtype) == ("fused", "float32")
        dist = ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
        assert ev.info["blocks"] == math.ceil(len(pts) / 300) and ev.device == "cpu"
        sample = sample_landscape(exp, grid=[37, 37], kernel=ev)
    assert np.array_equal(dist, local)
    assert sample.engine == "fused" and sample.dtype == "float32" and sample.engine_reason == "requested"
    assert np.array_equal(sample.values.ravel(), local)


def test_the_default_engine_on_the_workers_is_the_in_process_default(client):
    """engine="auto" (the default) on Dask picks what sample_landscape picks in this process: the
    fused engine in float64 for a slice and for a box on the CPU (any partition: the same bits),
    the torch kernel where the fused engine cannot (k = 5 directions: the in-process chunks, the
    same bits); info and the sample record the engine and why."""
    pytest.importorskip("numba")
    exp = load_experiment(SLICE)
    local = sample_landscape(exp, device="cpu")
    assert local.engine == "fused"
    sampler = landscape_sampler(exp, client, device="cpu", block=150)
    with sampler.evaluator as ev:
        dist = sampler(list(exp.grid))
        assert ev.info["engine"] == "fused" and ev.info["blocks"] > 1
    assert np.array_equal(dist.values, local.values)
    assert (dist.engine, dist.dtype) == ("fused", "float64") and dist.engine_reason == local.engine_reason
    box = load_experiment("examples/tiny_box.json")
    pts = _mesh(grid_axes(box.region["low"], box.region["high"], [6, 6, 6, 6]))  # >= 1024 points: not tiny
    with DaskEvaluator(client, box.spec, box.x, box.y, device="cpu", block=100) as ev:
        got = ev.evaluate_chunked(pts)
        assert ev.engine == "fused" and ev.engine_reason.startswith("auto: CPU, float64, parameter vectors")
    assert np.array_equal(got, sample_landscape(box, grid=[6, 6, 6, 6], device="cpu").values.ravel())
    center, directions, pts = _slice_points(exp, 3)
    D5 = np.vstack([directions, np.random.default_rng(0).normal(size=(3, exp.spec.n_params))])
    T5 = np.random.default_rng(1).uniform(-1, 1, size=(40, 5))
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, device="cpu") as ev:
        got = ev.evaluate_chunked(T5, "slice", center=center, directions=D5)
        assert ev.engine == "torch" and "5 slice directions" in ev.engine_reason
    want = LossKernel(exp.spec, exp.x, exp.y, device="cpu").evaluate_chunked(T5, "slice", center=center,
                                                                            directions=D5)
    assert np.array_equal(got, want)


def test_fused_engine_uses_the_worker_process_thread_budget(client):
    """Dask starts worker processes with OMP_NUM_THREADS=1 (one per core); the fused kernel's numba
    threads follow it, as torch's do, instead of numba's default of one per core in every worker."""
    pytest.importorskip("numba")
    from bettibounds.engines.dask_engine import _fused_threads

    assert client.run(lambda: os.environ.get("OMP_NUM_THREADS")) == dict.fromkeys(client.nthreads(), "1")
    assert client.submit(_fused_threads, pure=False).result() == 1


def test_fused_engine_refusals_come_from_the_client(client, monkeypatch):
    """What a worker's fused kernel would refuse is refused on the client, before any block
    is sent, with the engine's own message."""
    pytest.importorskip("numba")
    submitted = []
    submit = client.submit
    monkeypatch.setattr(client, "submit", lambda *a, **kw: submitted.append(a) or submit(*a, **kw))
    exp = load_experiment(SLICE)
    center, directions, pts = _slice_points(exp, 5)
    with pytest.raises(InvalidSpecError, match="CPU only"):
        DaskEvaluator(client, exp.spec, exp.x, exp.y, engine="fused", device="cuda")
    with pytest.raises(InvalidSpecError, match="dtype must be"):
        DaskEvaluator(client, exp.spec, exp.x, exp.y, engine="fused", dtype="float16")
    with pytest.raises(InvalidSpecError, match="engine must be one of"):
        DaskEvaluator(client, exp.spec, exp.x, exp.y, engine="jax")
    with DaskEvaluator(client, exp.spec, exp.x, exp.y, engine="fused", dtype="float32") as ev:
        with pytest.raises(InvalidSpecError, match=r"shape \(N, P="):
            ev.evaluate_chunked(np.zeros((3, 4)), "full")
        with pytest.raises(InvalidSpecError, match="float32 could overflow"):
            ev.evaluate_chunked(pts * 1e38, "slice", center=center, directions=directions)
        assert not submitted  # nothing was sent
        ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
        assert submitted  # (the count above can see a submission)


def test_cli_fused_engine_on_dask_matches_in_process(capsys):
    pytest.importorskip("numba")
    assert main(["landscape", SLICE, "--json", "--refine", "1", "--engine", "fused", "--dtype", "float32"]) in (0, 1)
    local = json.loads(capsys.readouterr().out)
    assert main(["landscape", SLICE, "--json", "--refine", "1", "--engine", "fused", "--dtype", "float32",
                 "--scheduler", "local", "--workers", "2", "--block", "500"]) in (0, 1)
    dist = json.loads(capsys.readouterr().out)
    assert (dist["sample"]["engine"], dist["sample"]["dtype"]) == ("fused", "float32")
    assert dist["distributed"]["workers"] == 2 and dist["distributed"]["blocks"] > 1
    assert dist["diagram"] == local["diagram"] and dist["levels"] == local["levels"]
    assert (dist["sample"]["min"], dist["sample"]["max"]) == (local["sample"]["min"], local["sample"]["max"])


@pytest.mark.parametrize("argv, message", [
    (["--scheduler", "nowhere"], "scheduler must be 'local'"),
    (["--workers", "2"], "apply to distributed runs"),
    (["--scheduler", "local", "--workers", "0"], "--workers must be >= 1"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "--workers applies to --scheduler local"),
])
def test_cli_bad_distributed_options_exit_2(argv, message, capsys):
    assert main(["landscape", SLICE, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_model_engine_on_the_workers_is_bit_identical(client):
    """Issue 20: a PyTorch model (a CNN) shipped once to each worker; blocks of whole chunks give
    the in-process bits, and the landscape sampler records the model engine."""
    import torch

    from bettibounds.empirical.models import experiment_from_model

    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 6 * 6, 3)).eval()
    x, y = torch.randn(12, 1, 8, 8), torch.randint(0, 3, (12,))
    exp = experiment_from_model(cnn, x, y, loss="cross_entropy", grid=[13, 13], levels=[1.0],
                                region={"kind": "slice", "directions": {"random": 2, "seed": 0},
                                        "low": [-1, -1], "high": [1, 1]})
    center, directions, _ = exp.slice_basis()
    pts = _mesh(grid_axes([-1, -1], [1, 1], [13, 13]))
    local = exp.make_engine(device="cpu").evaluate_chunked(pts, "slice", center=center, directions=directions,
                                                           chunk=5)
    with DaskEvaluator(client, exp.problem, exp.x, exp.y, device="cpu", chunk=5, block=40,
                       engine="model") as ev:
        dist = ev.evaluate_chunked(pts, "slice", center=center, directions=directions)
        info = ev.info
    assert np.array_equal(dist, local) and info["blocks"] == math.ceil(len(pts) / 40)
    sampler = landscape_sampler(exp, client)
    with sampler.evaluator:
        sample = sampler([13, 13])
    assert sample.engine == "model" and np.array_equal(sample.values, sample_landscape(exp).values)


def _malloc_env():
    return {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}


def test_local_workers_keep_large_mmap_and_trim_thresholds(monkeypatch):
    # the Nanny's MALLOC_TRIM_THRESHOLD_ alone froze glibc's mmap threshold at 128 KiB in the workers, and
    # the barcode sweep's batched gradients ran 2.3-2.6 x slower there; with a 64 MiB mmap threshold and the
    # Nanny's 64 KiB trim threshold the largest jobs still faulted 8x more than in a process (docs/benchmarks.md)
    for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        # a cluster open in this process (the module's) has put its workers' values in os.environ, which Dask
        # prefers to its configuration: this test is about the configuration bettibounds gives a new cluster
        monkeypatch.delenv(k, raising=False)
    before = _malloc_env()
    with dask_client("local", workers=1) as c:
        env = c.run(_malloc_env)
    assert env and all(e == {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**30)}
                       for e in env.values())
    assert _malloc_env() == before  # this process is left as it was
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 4096}}):
        with dask_client("local", workers=1) as c:  # a trim threshold the user configured wins
            env = c.run(_malloc_env)
    assert all(e == {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": "4096"} for e in env.values())
