"""Certified topology of experiments: the public function, agreement with fine grids on
random networks, the examples, and ``bettibounds landscape --certify``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("scipy")

from bettibounds import InvalidSpecError  # noqa: E402
from bettibounds.certified.landscape import CertifiedLandscape, attach_certified, certify_landscape  # noqa: E402
from bettibounds.certified.loss_enclosure import SliceLoss  # noqa: E402
from bettibounds.certified.topology import BoxOracle, Limits, certify_level  # noqa: E402
from bettibounds.empirical.experiment import load_experiment, parse_experiment  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def wells_experiment(**over) -> dict:
    """The four wells / ring landscape of tests/unit/test_certified_topology.py as an experiment file."""
    d1 = [1, 0, 0, 0, 1, 0]
    d2 = [0, 0, 0, 1, 0, 1]
    exp = {"network": {"layers": [2, 2, 1], "activation": "identity", "bias": False},
           "loss": {"kind": "mse"}, "data": {"x": [[1, 0], [0, 1]], "y": [[1], [1]]},
           "region": {"kind": "slice", "center": [0] * 6, "directions": [d1, d2], "low": [-1.7, -1.7],
                      "high": [1.9, 1.9]},
           "grid": [9, 9], "levels": [1e-6, 0.2, 0.7, 1.5], "homology_dims": [0, 1]}
    exp.update(over)
    return exp


def test_certify_landscape_public_function():
    res = certify_landscape(parse_experiment(wells_experiment()))
    assert isinstance(res, CertifiedLandscape)
    assert [lv.betti for lv in res.levels] == [(4, 0), (4, 0), (1, 1), (1, 0)]
    assert all(lv.status == "certified" and lv.reason is None for lv in res.levels)
    d = res.to_dict()
    json.dumps(d)
    assert set(d["levels"][0]) >= {"level", "status", "betti", "reason", "cells", "seconds", "meets_boundary"}
    assert "docs/theory.md §13" in d["theorem"] and "certified" in res.to_text()
    with pytest.raises(InvalidSpecError):
        certify_landscape(parse_experiment(wells_experiment()), seconds=0)
    with pytest.raises(InvalidSpecError):
        certify_landscape(parse_experiment(wells_experiment()), levels=["a"])


def test_regions_outside_the_method_are_not_certified_with_the_reason():
    res = certify_landscape(load_experiment(ROOT / "examples" / "tiny_box.json"))
    assert res.unsupported and "4-dimensional" in res.unsupported
    assert all(lv.status == "not certified" and lv.betti is None and "§13.7" in lv.reason for lv in res.levels)
    assert "not certified" in res.to_text()


def test_one_dimensional_slice_and_two_parameter_box():
    exp = wells_experiment(region={"kind": "slice", "center": [0] * 6, "directions": [[1, 0, 0, 0, 1, 0]],
                                   "low": [-1.7], "high": [1.9]}, grid=[9], homology_dims=[0],
                           levels=[0.6, 0.55, 0.4])
    # on the line t_2 = 0: f = ((t^2 - 1)^2 + 1) / 2, two wells of depth 1/2
    res = certify_landscape(parse_experiment(exp))
    assert [lv.betti for lv in res.levels] == [(2, 0), (2, 0), (0, 0)]  # 0.4 is below the minimum 1/2
    box = {"network": {"layers": [1, 1, 1], "activation": "tanh", "bias": False},
           "data": {"x": [[-1.0], [0.5], [2.0]], "y": [[-0.9], [0.6], [0.95]]},
           "region": {"kind": "box", "low": [-3, -3], "high": [3, 3]}, "levels": [0.05]}
    res = certify_landscape(parse_experiment(box))
    assert res.kind == "box" and res.dimension == 2 and res.levels[0].status == "certified"


def test_data_not_exactly_float64_is_refused():
    exp = wells_experiment()
    exp["data"]["y"] = [[1], [10**30 + 1]]  # an integer float64 cannot hold
    with pytest.raises(InvalidSpecError, match="not exactly a float64"):
        certify_landscape(parse_experiment(exp))


def _grid(spec, x, y, center, D, n):
    """The loss on an n x n grid of [-1, 1]^2 (the torch kernel: an independent evaluator)."""
    from bettibounds.empirical.kernels import LossKernel

    t = np.linspace(-1, 1, n)
    pts = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    return LossKernel(spec, x, y, device="cpu").evaluate_chunked(pts, mode="slice", center=center,
                                                                 directions=D).reshape(n, n)


def _grid_betti(vals, levels):
    from bettibounds.empirical.compare import touches_boundary
    from bettibounds.empirical.persistence import betti_curve, sublevel_persistence

    curve = betti_curve(sublevel_persistence(vals, max_dim=1), levels)
    return [(int(curve[0][i]), int(curve[1][i])) for i in range(len(levels))], \
        [touches_boundary(vals, c) for c in levels]


def test_random_networks_agree_with_fine_grids():
    """On random networks and random slices, at levels between grid quantiles (regular with
    probability 1), every certified [b_0, b_1] equals the fine grid's wherever the grid is
    stable under refinement; and most levels are certified (the test is not vacuous)."""
    pytest.importorskip("cripser")
    agreed = 0
    for seed, (act, loss, out) in enumerate([("tanh", "mse", "identity"), ("logistic", "bce", "logistic")]):
        rng = np.random.default_rng(seed)
        spec = ArchitectureSpec(inputs=2, widths=(3,), outputs=1, activation=act, loss=loss, output_activation=out,
                                samples=5)
        x = rng.uniform(-1, 1, (5, 2))
        y = rng.uniform(0, 1, (5, 1)) if loss == "bce" else rng.normal(0, 1, (5, 1))
        center, D = rng.normal(0, 1.5, spec.n_params), rng.normal(0, 1.5, (2, spec.n_params))
        coarse, fine = _grid(spec, x, y, center, D, 97), _grid(spec, x, y, center, D, 193)
        levels = [float(np.quantile(coarse, q)) for q in (0.15, 0.4, 0.7)]
        (g1, c1), (g2, c2) = _grid_betti(coarse, levels), _grid_betti(fine, levels)
        orc = BoxOracle(SliceLoss(spec, x.tolist(), y.tolist(), center, D), [-1.0, -1.0], [1.0, 1.0])
        for c, a, b, ca, cb in zip(levels, g1, g2, c1, c2):
            r = certify_level(orc, c, Limits(seconds=15))
            if r.certified and a == b:
                assert r.betti == a, (seed, c, r.betti, a)
                assert ca == cb == r.meets_boundary, (seed, c)
                agreed += 1
    assert agreed >= 4


def test_attach_certified_flags_a_wrong_grid():
    exp = parse_experiment(wells_experiment())
    cert = certify_landscape(exp)
    rows = [{"level": c, "betti": b, "clipped": False} for c, b in zip(exp.levels, [[0, 0], [4, 0], [1, 1], [1, 0]])]
    wrong = attach_certified(rows, cert, [0, 1])
    assert wrong == [rows[0]] and rows[0]["grid_agrees"] is False and rows[1]["grid_agrees"] is True
    assert rows[0]["certified"]["betti"] == [4, 0]
    with pytest.raises(InvalidSpecError):
        attach_certified(rows[:2], cert, [0, 1])


def _cli(*args):
    """``main(args)`` in-process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    from bettibounds.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_landscape_certify(tmp_path):
    path = tmp_path / "wells.json"
    path.write_text(json.dumps(wells_experiment()))
    code, stdout, stderr = _cli("landscape", str(path), "--certify", "--json", "--refine", "1", "--device", "cpu")
    assert code == 0, stderr
    out = json.loads(stdout)
    first = out["levels"][0]
    assert first["certified"]["status"] == "certified" and first["certified"]["betti"] == [4, 0]
    assert set(first["certified"]) >= {"status", "betti", "reason", "cells", "seconds", "meets_boundary"}
    assert first["betti"] != [4, 0] and first["grid_agrees"] is False  # a 9 x 9 grid misses the tiny wells
    assert "WRONG" in stderr and "1e-06" in stderr
    code, stdout, stderr = _cli("landscape", str(path), "--certify", "--refine", "1", "--device", "cpu",
                                "--certify-seconds", "30")
    assert code == 0, stderr
    assert "certified topology" in stdout and "GRID WRONG" in stdout
    code, stdout, stderr = _cli("landscape", str(path), "--certify", "--certify-seconds", "-1")
    assert code == 2 and "--certify-seconds" in stderr and stdout == ""


def test_cli_landscape_levels_option(tmp_path, cli_main):
    # there was no --levels: changing the levels meant editing the JSON
    path = tmp_path / "wells.json"
    path.write_text(json.dumps(wells_experiment()))
    r = cli_main("landscape", path, "--levels=-1,0.7", "--json", "--refine", "1", "--device", "cpu",
                 "--engine", "torch", "--no-local-search")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["levels"]
    assert [row["level"] for row in rows] == [-1.0, 0.7]
    assert rows[0]["betti"] == [0, 0] and rows[0]["stable"] is True  # c < 0 of an MSE: empty, exactly
    for bad in ("0.1,,1", "0.1,nan", "inf", "a", ""):
        r = cli_main("landscape", path, f"--levels={bad}", "--refine", "1")
        assert r.returncode == 2 and r.stdout == "" and "--levels" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_cli_certify_seconds_without_certify_is_an_error(tmp_path, cli_main):
    # --certify-seconds without --certify was ignored silently
    path = tmp_path / "wells.json"
    path.write_text(json.dumps(wells_experiment()))
    r = cli_main("landscape", path, "--certify-seconds", "5")
    assert r.returncode == 2 and r.stdout == "" and "add --certify" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "an error without --certify" in " ".join(cli_main("landscape", "--help").stdout.split())


def test_a_reason_shared_by_every_level_is_said_once(tmp_path, cli_main):
    # a 3-D slice printed "not certified: a 3-dimensional slice ..." once per level
    path = tmp_path / "wells3.json"
    exp = wells_experiment(grid=[5, 5, 5], levels=[0.2, 0.7, 1.5], homology_dims=[0, 1])
    exp["region"] = {**exp["region"], "directions": exp["region"]["directions"] + [[0, 1, 0, 0, 0, 0]],
                     "low": [-1, -1, -1], "high": [1, 1, 1]}
    path.write_text(json.dumps(exp))
    r = cli_main("landscape", path, "--certify", "--refine", "1", "--no-local-search", "--engine", "torch")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("the certified topology handles") == 1
    assert "every level: not certified: the slice is 3-dimensional" in r.stdout
