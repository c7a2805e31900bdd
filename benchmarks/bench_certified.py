"""Benchmark of the certified topology (bettibounds.certified, docs/theory.md §13). Prints Markdown tables.

Measured in one run, on this machine:

1. **The reproduction report's 2-D slices** (``bettibounds reproduce`` section 4, same seeds, trained
   centres): per level, the certified status, [b_0, b_1], cells of the final subdivision, boxes enclosed,
   seconds, against the grid run on the same slice (the report's grid and its refined grid, time and Betti
   numbers): where they differ the grid was wrong.
2. **Cost against P and m**: tanh 3-h-h-1 networks, MSE + l2 = 0.001, m samples, briefly trained centres,
   one level at the 30 % quantile of a coarse grid: seconds, boxes and boxes per second.
3. **Cost against the distance to a critical value**: the four-wells landscape of the tests (an identity
   network with f = ((t_1^2 - 1)^2 + (t_2^2 - 1)^2) / 2: saddles at 1/2, the maximum 1 at the origin), at
   c = 1/2 -+ delta; and the teacher tanh 1-1-1 box (minimum 0 on the orbit) at c = delta.
4. **The examples**: examples/slice_2d.json certified against its grid at three resolutions;
   examples/tiny_box.json (a 4-D box: not certified, with the reason).

Nothing is written outside ``--out`` (JSON of every row, when given). The machine is shared: the load average
is printed before and after; compare only numbers of one run.

Usage: python benchmarks/bench_certified.py [--sections 1,2,3,4] [--seconds 60] [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_model  # noqa: E402


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def _fmt_betti(b):
    return "-" if b is None else str(list(b))


# ------------------------------------------------------------------ 1. the report's slices
def section_report(seconds: float, quick: bool, rows: list):
    from bettibounds.certified.landscape import certify_landscape
    from bettibounds.empirical.compare import analyze_landscape
    from bettibounds.empirical.experiment import parse_experiment
    from bettibounds.empirical.sampler import sample_landscape
    from bettibounds.empirical.training import train_to_minimum
    from bettibounds.reproduce.sections import landscape_cases
    from bettibounds.reproduce.sections.theory_vs_data import levels_from_pregrid

    print("\n### 1. The reproduction report's 2-D slices (quick scale: grid 97 x 97, refined 193 x 193)\n")
    print("| case | P | m | level | certified | [b_0, b_1] | meets ∂B | cells | boxes | s | grid [b_0, b_1] "
          "| stable | clipped | grid s (both grids) | grid |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cases = [c for c in landscape_cases.cases("quick") if c.region["kind"] == "slice" and c.region["k"] == 2]
    if quick:
        cases = cases[:1]
    for case in cases:
        d = landscape_cases.experiment(case, "quick")
        base = parse_experiment({k: v for k, v in d.items() if k not in ("region", "grid")})
        t0 = time.perf_counter()
        center = train_to_minimum(base, seed=case.seeds["init"], iterations=150, device="cpu").theta
        train_s = time.perf_counter() - t0
        d["region"] = dict(d["region"], center=center.tolist())
        d["levels"] = levels_from_pregrid(d, parse_experiment, lambda e: sample_landscape(e, device="cpu"), 17)
        exp = parse_experiment(d)
        t0 = time.perf_counter()
        grid = analyze_landscape(exp, refine=2, device="cpu")
        grid_s = time.perf_counter() - t0
        cert = certify_landscape(exp, seconds=seconds)
        for g, lv in zip(grid.levels, cert.levels):
            verdict = "-" if not lv.certified else ("agrees" if list(lv.betti) == g["betti"] else "**WRONG**")
            print(f"| {case.name} | {exp.spec.n_params} | {exp.spec.samples} | {lv.level:g} | {lv.status} | "
                  f"{_fmt_betti(lv.betti)} | {lv.meets_boundary} | {lv.cells} | {lv.evaluations} | {lv.seconds:.1f} | "
                  f"{g['betti']} | {g['stable']} | {g['clipped']} | {grid_s:.1f} | {verdict} |")
            rows.append({"section": 1, "case": case.name, "P": exp.spec.n_params, "m": exp.spec.samples,
                         "train_seconds": train_s, "grid_seconds": grid_s, "grid": g["betti"], "stable": g["stable"],
                         "clipped": g["clipped"], **lv.to_dict(), "level": lv.level})
            if not lv.certified:
                print(f"|  |  |  |  | {lv.reason} |  |  |  |  |  |  |  |  |  |  |")
        sys.stdout.flush()


# ------------------------------------------------------------------ 2. cost against P and m
def _trained_family(h: int, m: int, seed: int = 0):
    from bettibounds.empirical.experiment import parse_experiment
    from bettibounds.empirical.training import train_to_minimum
    from bettibounds.reproduce.sections.landscape_cases import slice_data

    x, y = slice_data(seed, m, 3, "regression")
    d = {"network": {"layers": [3, h, h, 1], "activation": "tanh", "bias": True},
         "loss": {"kind": "mse", "l2": 0.001}, "data": {"x": x.tolist(), "y": y.tolist()}}
    center = train_to_minimum(parse_experiment(d), seed=seed + 1, iterations=40, device="cpu").theta
    d["region"] = {"kind": "slice", "center": center.tolist(),
                   "directions": {"random": 2, "seed": seed + 2, "normalization": "filter"},
                   "low": [-1.5, -1.5], "high": [1.5, 1.5]}
    d["grid"] = [33, 33]
    return parse_experiment(d)


def section_scaling(seconds: float, quick: bool, rows: list):
    from bettibounds.certified.landscape import certify_landscape
    from bettibounds.empirical.sampler import sample_landscape

    print("\n### 2. Cost against P (width h) and m (samples): tanh 3-h-h-1, MSE + l2, level at the 30 % quantile\n")
    print("| h | P | m | level | certified | [b_0, b_1] | cells | boxes | s | boxes/s | µs per box per sample |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    grid = [(8, 64), (16, 64), (32, 64), (16, 16), (16, 256)] if not quick else [(8, 16), (16, 16)]
    for h, m in grid:
        exp = _trained_family(h, m)
        vals = sample_landscape(exp, device="cpu").values
        c = float(f"{np.quantile(vals, 0.3):.4g}")
        res = certify_landscape(exp, [c], seconds=seconds)
        lv = res.levels[0]
        rate = lv.evaluations / lv.seconds if lv.seconds > 0 else float("nan")
        print(f"| {h} | {exp.spec.n_params} | {m} | {c:g} | {lv.status} | {_fmt_betti(lv.betti)} | {lv.cells} | "
              f"{lv.evaluations} | {lv.seconds:.1f} | {rate:.0f} | {1e6 / rate / m:.1f} |")
        rows.append({"section": 2, "h": h, "P": exp.spec.n_params, "m": m, **lv.to_dict(), "level": c})
        sys.stdout.flush()


# ------------------------------------------------------------------ 3. cost against the distance to a critical value
def _wells():
    from bettibounds.certified.loss_enclosure import SliceLoss
    from bettibounds.certified.topology import BoxOracle
    from bettibounds.spec import ArchitectureSpec

    spec = ArchitectureSpec(inputs=2, widths=(2,), outputs=1, activation="identity", loss="mse", samples=2,
                            bias=False)
    D = np.zeros((2, 6))
    D[0, [0, 4]] = 1
    D[1, [3, 5]] = 1
    return lambda: BoxOracle(SliceLoss(spec, [[1.0, 0.0], [0.0, 1.0]], [[1.0], [1.0]], np.zeros(6), D),
                             [-1.7, -1.7], [1.9, 1.9])


def _teacher():
    from bettibounds.certified.loss_enclosure import SliceLoss
    from bettibounds.certified.topology import BoxOracle
    from bettibounds.spec import ArchitectureSpec

    x = np.sort(np.random.default_rng(11).uniform(-2, 2, 6))
    spec = ArchitectureSpec(inputs=1, widths=(1,), outputs=1, activation="tanh", loss="mse", samples=6, bias=False)
    sl = SliceLoss(spec, x[:, None].tolist(), np.tanh(1.5 * x)[:, None].tolist(), [0.0, 0.0], np.eye(2))
    return lambda: BoxOracle(sl, [-3.0, -3.0], [3.0, 3.0])


def section_distance(seconds: float, quick: bool, rows: list):
    from bettibounds.certified.topology import Limits, certify_level

    print("\n### 3. Cost against the distance δ of c from a critical value (fresh cache per level)\n")
    print("| landscape | critical value | c | certified | [b_0, b_1] | cells | boxes | s | reason |")
    print("|---|---|---|---|---|---|---|---|---|")
    deltas = [1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 0.0] if not quick else [1e-2, 1e-6, 0.0]
    cases = [("four wells (saddles)", 0.5, _wells(), [0.5 - d for d in deltas] + [0.5 + d for d in deltas if d]),
             ("teacher tanh 1-1-1 (minimum)", 0.0, _teacher(), [d for d in deltas])]
    for name, crit, make, levels in cases:
        for c in levels:
            lv = certify_level(make(), c, Limits(seconds=seconds))
            why = "" if lv.reason is None else lv.reason[:90] + "…"
            print(f"| {name} | {crit:g} | {c:.10g} | {lv.status} | {_fmt_betti(lv.betti)} | {lv.cells} | "
                  f"{lv.evaluations} | {lv.seconds:.2f} | {why} |")
            rows.append({"section": 3, "landscape": name, "critical": crit, **lv.to_dict(), "level": c})
            sys.stdout.flush()


# ------------------------------------------------------------------ 4. the examples
def section_examples(seconds: float, quick: bool, rows: list):
    from bettibounds.certified.landscape import certify_landscape
    from bettibounds.empirical.compare import analyze_landscape
    from bettibounds.empirical.experiment import load_experiment, parse_experiment

    print("\n### 4. The examples: certified against the grid at three resolutions\n")
    print("| example | level | certified | [b_0, b_1] | s | grid 33² | grid 65² | grid 129² |")
    print("|---|---|---|---|---|---|---|---|")
    exp = load_experiment(ROOT / "examples" / "slice_2d.json")
    cert = certify_landscape(exp, seconds=seconds)
    grids = {}
    for n in (33, 65, 129) if not quick else (33,):
        e = parse_experiment(dict(exp.raw, grid=[n, n]))
        grids[n] = analyze_landscape(e, refine=1, device="cpu").levels
    for i, lv in enumerate(cert.levels):
        cells = [str(grids[n][i]["betti"]) if n in grids else "" for n in (33, 65, 129)]
        print(f"| slice_2d.json | {lv.level:g} | {lv.status} | {_fmt_betti(lv.betti)} | {lv.seconds:.1f} | "
              + " | ".join(cells) + " |")
        rows.append({"section": 4, "example": "slice_2d.json", **lv.to_dict(), "level": lv.level,
                     "grids": {n: grids[n][i]["betti"] for n in grids}})
    tiny = certify_landscape(load_experiment(ROOT / "examples" / "tiny_box.json"))
    print(f"| tiny_box.json | all | not certified | - | 0 | {tiny.unsupported} | | |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", default="1,2,3,4")
    ap.add_argument("--seconds", type=float, default=60.0, help="time budget per level (default 60)")
    ap.add_argument("--quick", action="store_true", help="a small subset (a smoke run)")
    ap.add_argument("--out", default=None, help="directory for bench_certified.json")
    args = ap.parse_args(argv)
    import numpy  # noqa: F401

    print("## Certified topology — `python benchmarks/bench_certified.py`\n")
    print(f"{_dt.date.today().isoformat()}, {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; load average at start: {_load()}")
    rows: list = []
    t0 = time.perf_counter()
    for s in args.sections.split(","):
        {"1": section_report, "2": section_scaling, "3": section_distance, "4": section_examples}[s.strip()](
            args.seconds, args.quick, rows)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average at the end: {_load()}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_certified.json").write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
