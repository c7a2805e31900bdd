"""``bettibounds barcode`` end to end (in-process ``main`` for speed, one real subprocess)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gudhi")

from bettibounds.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "examples" / "teacher_tanh.json"


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def small_slice(tmp_path) -> Path:
    exp = json.loads(TEACHER.read_text())
    P = 7  # layers [1, 2, 1] with biases
    exp["region"] = {"kind": "slice", "center": [0.5] * P,
                     "directions": {"random": 2, "seed": 3, "normalization": "filter"}, "low": [-2, -2],
                     "high": [2, 2]}
    exp["grid"] = [41, 41]
    path = tmp_path / "slice.json"
    path.write_text(json.dumps(exp))
    return path


def test_grid_mode_json_and_plots(tmp_path):
    code, out, _ = run("barcode", str(small_slice(tmp_path)), "--json", "--plot", str(tmp_path / "p"))
    assert code == 0
    d = json.loads(out)
    assert d["source"] == "grid" and d["locations"] == "grid index"
    assert d["to_score"]["norm"] == "sum" and d["to_score"]["status"] == "reconstructed"
    assert sum(b["death"] is None for b in d["bars"] if b["dim"] == 0) == 1
    lo, hi = d["value_range"]
    for b in d["bars"]:
        assert lo <= b["birth"] <= hi and len(b["birth_at"]) == 2 and b["refined"] is False
    assert d["to_score"]["value"] == pytest.approx(
        math.fsum(b["death"] - b["birth"] for b in d["bars"] if b["dim"] == 0 and b["death"] is not None))
    assert {Path(p).name for p in d["plots"]} == {"barcode.png", "minima.png"}
    assert all(Path(p).stat().st_size > 5000 for p in d["plots"])


def test_grid_mode_text_gives_locations_as_coordinates(tmp_path):
    """The text prints where each minimum and saddle lies on the grid's axes (t_1, t_2), not grid indices
    (a new user read an index as a coordinate); the JSON keeps the indices and the axes."""
    path = small_slice(tmp_path)
    _, out, _ = run("barcode", str(path))
    _, js, _ = run("barcode", str(path), "--json")
    d = json.loads(js)
    axes = d["meta"]["axes"]
    first = sorted((b for b in d["bars"] if b["dim"] == 0), key=lambda b: b["birth"])[0]
    i, j = first["birth_at"]
    row = next(line for line in out.splitlines() if line.strip().startswith("0") and "essential" in line)
    assert f"({axes[0][i]:.4g}, {axes[1][j]:.4g})" in row
    assert "coordinates (t_1, ...) on the grid's axes" in out


def test_sample_mode_from_network_and_npz_data(tmp_path):
    exp = json.loads(TEACHER.read_text())
    (tmp_path / "net.json").write_text(json.dumps({"network": exp["network"], "loss": exp["loss"]}))
    np.savez(tmp_path / "data.npz", x=np.array(exp["data"]["x"], dtype=float),
             y=np.array(exp["data"]["y"], dtype=float))
    code, out, _ = run("barcode", "--network", str(tmp_path / "net.json"), "--data", str(tmp_path / "data.npz"),
                       "--minima", "6", "--uniform", "150", "--steps", "30", "--k", "6", "--refine", "1",
                       "--norm", "max", "--normalize", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["source"] == "knn" and d["locations"] == "sample id" and d["n_params"] == 7
    assert d["meta"]["starts"] == 6 and d["meta"]["n_points"] == 150 + 6 * 4
    assert d["to_score"] == {**d["to_score"], "norm": "max", "normalized": True}
    finite = [b for b in d["bars"] if b["death"] is not None]
    assert d["to_score"]["value"] == pytest.approx(
        max(b["death"] - b["birth"] for b in finite) / (d["value_range"][1] - d["value_range"][0]))
    assert sum(b["refined"] for b in d["bars"]) == 1
    refined = next(b for b in d["bars"] if b["refined"])
    assert "graph_estimate" in refined


def test_text_output_names_the_estimates():
    code, out, _ = run("barcode", str(TEACHER), "--minima", "4", "--uniform", "100", "--steps", "20", "--k", "5")
    assert code == 0
    assert "TO-score [reconstructed]" in out and "estimates" in out and "essential" in out


@pytest.mark.parametrize("argv,match", [
    (["barcode"], "experiment file, --network FILE and --data FILE, or a PyTorch model"),
    (["barcode", str(TEACHER), "--network", "x.json"], "not both"),
    (["barcode", str(TEACHER), "--box", "1"], "LOW,HIGH"),
    (["barcode", str(TEACHER), "--device", "tpu"], "--device"),
    (["barcode", "--network", "/nonexistent.json", "--data", "/nonexistent.json"], "cannot read"),
])
def test_bad_input_is_one_line_exit_2(argv, match):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert match in err and len(err.strip().splitlines()) == 1


def test_grid_only_options_are_refused_in_grid_mode(tmp_path):
    code, _, err = run("barcode", str(small_slice(tmp_path)), "--refine", "2")
    assert code == 2 and "sample mode" in err


def test_console_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bettibounds", "barcode", str(small_slice(tmp_path)), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["source"] == "grid"


def test_sample_mode_on_dask_equals_in_process(dask_local_client):
    argv = ["barcode", str(TEACHER), "--minima", "4", "--uniform", "120", "--steps", "20", "--k", "5", "--json"]
    code, out, _ = run(*argv)
    # the module's cluster of 2 workers, by address (test_distributed.py runs the CLI's --scheduler local)
    code_d, out_d, _ = run(*argv, "--scheduler", dask_local_client.scheduler.address)
    assert code == code_d == 0
    local, dist = json.loads(out), json.loads(out_d)
    assert local["distributed"] is None and dist["distributed"]["workers"] == 2
    assert dist["bars"] == local["bars"]  # float64 on the CPU: bit-identical losses, identical barcode
    assert dist["to_score"] == local["to_score"]


def test_trend_jobs_on_dask_equal_in_process(quick_trend_rows, dask_local_client):
    from bettibounds.barcode.trend import barcode_trend
    from bettibounds.distributed import map_jobs

    kw = {"widths": (2, 3), "depths": (1,)}
    here = quick_trend_rows  # barcode_trend(True, keep_barcodes=True, **kw), shared with test_barcode.py
    there = barcode_trend(True, jobs_map=lambda f, items: map_jobs(f, items, dask_local_client), **kw)
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "barcode")} for r in here]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in there] == strip


@pytest.mark.parametrize("argv, message", [
    (["--workers", "2"], "--workers applies to distributed runs: add --scheduler local"),
    (["--scheduler", "local", "--workers", "0"], "--workers must be >= 1, got 0"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "--workers applies to --scheduler local only"),
    (["--scheduler", "nowhere"], "scheduler must be 'local'"),
])
def test_workers_without_local_scheduler_is_refused(argv, message):
    """The same checks as landscape's (cli.common.check_scheduler_args), before any work."""
    code, out, err = run("barcode", str(TEACHER), "--minima", "2", *argv)
    assert code == 2 and message in err and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("extra,match", [
    (["--seed", "-1"], "seed"),
    (["--plot", "FILE"], "--plot"),
])
def test_more_bad_input_is_one_line_exit_2(tmp_path, extra, match):
    (tmp_path / "file").write_text("x")
    extra = [str(tmp_path / "file") if a == "FILE" else a for a in extra]
    code, out, err = run("barcode", str(TEACHER), "--minima", "1", "--uniform", "10", "--steps", "2", "--k", "3",
                         *extra)
    assert code == 2 and out == ""
    assert match in err and len(err.strip().splitlines()) == 1


def test_corrupt_npz_data_is_one_line_exit_2(tmp_path):
    exp = json.loads(TEACHER.read_text())
    (tmp_path / "net.json").write_text(json.dumps({"network": exp["network"]}))
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04garbage")
    code, out, err = run("barcode", "--network", str(tmp_path / "net.json"), "--data", str(tmp_path / "data.npz"))
    assert code == 2 and out == "" and "cannot read" in err and len(err.strip().splitlines()) == 1


def test_the_barcode_estimate_is_an_upper_estimate_within_a_factor(tmp_path, monkeypatch):
    # a trial saw "about 1.9 min of work" before a barcode that took 9.75 s: the descent's fixed cost per step
    # was 4x the measured one, and its pilot timed one call through torch's two-thread pool (0.5 to 30 ms each
    # on a loaded machine); the descent of a small network now runs on one thread, as its pilot measures it
    import time

    import torch

    from bettibounds._lib import budget

    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (20, 2))
    (tmp_path / "net.json").write_text(json.dumps({"network": {"layers": [2, 8, 1], "activation": "tanh"}}))
    (tmp_path / "data.json").write_text(json.dumps({"x": x.tolist(), "y": np.tanh(x[:, :1] - x[:, 1:]).tolist()}))
    seen = {}
    real_enforce = budget.enforce

    def enforce(cost, *a, **kw):
        seen["estimate"] = real_enforce(cost, *a, **kw)
        seen["quiet"] = budget.contention() <= 1.5
        seen["start"] = time.perf_counter()
        return seen["estimate"]

    monkeypatch.setattr(budget, "enforce", enforce)
    threads = []
    real_threads = budget.descent_threads

    def spy(kernel, starts):
        ctx = real_threads(kernel, starts)
        threads.append(ctx)
        return ctx

    monkeypatch.setattr("bettibounds.barcode.sampling.descent_threads", spy)
    before = torch.get_num_threads()
    code, out, _ = run("barcode", "--network", str(tmp_path / "net.json"), "--data", str(tmp_path / "data.json"),
                       "--minima", "64", "--uniform", "500", "--steps", "150")
    actual = time.perf_counter() - seen["start"]
    assert code == 0 and "TO-score" in out
    assert threads and not isinstance(threads[0], __import__("contextlib").nullcontext)  # one thread: small steps
    assert seen["estimate"] >= 0.5 * actual, (seen, actual)  # conservative (slack 2 for a load that changes)
    if seen["quiet"]:  # under load the contention factor itself errs long: the upper factor only when quiet
        assert seen["estimate"] <= 4 * actual, (seen, actual)
    assert torch.get_num_threads() == before  # restored after the descent


def test_radius_errors_are_worded_for_the_option(cli_main):
    # "--radius -1" said "radius must be a positive number, 'auto' or None": the library's None leaked
    for bad in ("-1", "0", "nan", "inf", "abc"):
        r = cli_main("barcode", str(TEACHER), "--minima", "2", "--uniform", "10", "--steps", "1", f"--radius={bad}")
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
        assert "--radius takes a positive finite number or auto" in r.stderr and "None" not in r.stderr
