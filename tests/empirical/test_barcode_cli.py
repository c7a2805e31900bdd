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
    (["barcode"], "experiment file, or --network"),
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
