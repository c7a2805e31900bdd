"""How good are the time estimates of bettibounds._lib.budget? Estimated against measured, per workload.

Every command whose work grows with a user's count refuses, before any work, what its estimate says
cannot finish within the time limit, and announces long runs (issue 18, item 13). This script runs
each modelled workload at a few sizes, prints the estimate (at this machine's speed now: the
budget's probe factor), the measured time and their ratio, and the machine, load and date. A ratio
between 1/3 and 3 is the models' target; an estimate far *below* the measured time would let a run
through that should have been refused (or announced).

The kernel workloads are estimated as the CLI estimates them: from a pilot of the real kernel
(``budget.kernel_pilot``, ``obstruction.flow_step_seconds``, the loss jet of ``certify_lower_cost``); the others
from operation counts. The pilots' own time is not part of the measured time.

Usage: ``python benchmarks/bench_estimates.py [--quick]`` (prints a Markdown table; writes nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import best_seconds as _time  # noqa: E402
from _machine import cpu_model  # noqa: E402

from bettibounds._lib import budget  # noqa: E402
from bettibounds.spec import ArchitectureSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _spec(d, widths, m, act="tanh"):
    return ArchitectureSpec(inputs=d, widths=widths, outputs=1, activation=act, samples=m)


def _data(spec, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(spec.samples, spec.inputs)), rng.normal(size=(spec.samples, spec.outputs))


def rows(quick: bool):
    from bettibounds.obstruction import flow_step_seconds, gradient_flow, obstruction_probability

    out = []
    # ---- obstruction gradient flow
    for m, h, p, e, steps in [(2, 3, 3, 1, 2000), (100, 50, 11, 1, 500), (400, 200, 21, 3, 50)]:
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(m, p)), rng.normal(size=(m, e))
        W, V = rng.normal(size=(h, p)) * 0.1, rng.normal(size=(h, e)) * 0.1
        est = budget.obstruction_flow(m, h, p, e, steps, flow_step_seconds(m, h, p, e))  # as the CLI estimates
        out.append((f"flow m={m} h={h} p={p} e={e}, {steps} steps", est,
                    _time(partial(gradient_flow, W, V, X, Y, steps=steps, lr=1e-5))))
    # ---- Monte Carlo of uniform initialisations
    for p, e in [(3, 1), (40, 8)]:
        est = budget.monte_carlo(200_000, p, e)
        out.append((f"Monte Carlo p={p} e={e}", est, _time(partial(obstruction_probability, p, 8, "uniform", e))))
    # ---- loss evaluations and descents (torch kernel, CPU float64)
    from bettibounds.engines.torch_kernel import LossKernel

    for widths, m, n in [((2,), 2, 20_000), ((16, 16), 64, 20_000), ((8,), 500, 5_000)]:
        spec = _spec(3, widths, m)
        x, y = _data(spec)
        kern = LossKernel(spec, x, y, device="cpu", dtype="float64")
        pts = np.random.default_rng(1).normal(size=(n, spec.n_params))
        per_point, _ = budget.kernel_pilot(kern, 0)  # as the CLI estimates: a pilot of the kernel
        est = budget.loss_evaluations(spec, n, per_point)
        out.append((f"loss at {n} points, widths {widths}, m={m}", est,
                    _time(partial(kern.evaluate_chunked, pts, "full"))))
    from bettibounds.barcode.sampling import sample_parameters

    for widths, m, starts, steps in [((2,), 2, 64, 200), ((16, 16), 64, 16, 50), ((8,), 200, 64, 40)]:
        spec = _spec(3, widths, m)
        x, y = _data(spec)
        kern = LossKernel(spec, x, y, device="cpu", dtype="float64")
        per_point, per_start = budget.kernel_pilot(kern, starts)
        est = (budget.descent(spec, starts, steps, budget.DESCENT_STEP + per_start * starts)
               + budget.loss_evaluations(spec, starts * (steps // 10 + 2), per_point))
        out.append((f"descent widths {widths}, m={m}: {starts} x {steps} steps", est,
                    _time(partial(sample_parameters, kern, -3, 3, uniform=0, starts=starts, steps=steps))))
    # ---- k-NN graph and lower-star H0
    from bettibounds.barcode.graph import knn_graph, lower_star_h0

    for n, dim, k in ([(2_000, 7, 10), (10_000, 50, 10)] if quick else [(2_000, 7, 10), (10_000, 50, 10),
                                                                        (30_000, 20, 10)]):
        pts = np.random.default_rng(2).random((n, dim))
        out.append((f"k-NN n={n} P={dim} k={k}", budget.knn(n, dim, k),
                    _time(partial(knn_graph, pts, k=k, device="cpu"))))
        edges = knn_graph(pts, k=k, device="cpu")
        vals = np.random.default_rng(3).random(n)
        out.append((f"lower-star H0, {n} vertices, {len(edges)} edges", budget.lower_star(n, len(edges)),
                    _time(partial(lower_star_h0, vals, edges))))
    # ---- cubical persistence
    from bettibounds.empirical.persistence import sublevel_persistence

    for shape in [(400, 400), (40, 40, 40)] if quick else [(400, 400), (1000, 1000), (40, 40, 40), (12,) * 4]:
        v = np.random.default_rng(4).random(shape)
        out.append((f"cubical persistence {shape}", budget.persistence(v.size, len(shape) - 1),
                    _time(partial(sublevel_persistence, v, max_dim=len(shape) - 1))))
    # ---- certified lower bound (lower)
    try:
        import flint  # noqa: F401

        from bettibounds.certified.witness import certify_lower
    except ImportError:
        pass
    else:
        from bettibounds.certified.witness import certify_lower_cost
        from bettibounds.empirical.experiment import load_experiment
        from bettibounds.lower import symmetry_group

        exp = load_experiment(ROOT / "examples" / "teacher_tanh.json")
        starts = 2 if quick else 8
        est = certify_lower_cost(exp.spec, exp.x, exp.y, starts, symmetry_group(exp.spec).order)
        out.append((f"lower (teacher_tanh, {starts} starts)", est,
                    _time(lambda: certify_lower(exp.spec, exp.x, exp.y, starts=starts))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer and smaller workloads")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = ap.parse_args()
    factor = budget.machine_factor()
    table = [(name, est.seconds * factor, measured) for name, est, measured in rows(args.quick)]
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"factor": factor, "load": load, "rows": table}))
        return
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.python_version()}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}; machine factor "
          f"{factor:.2f} = CPU {budget.cpu_factor():.2f} x contention {budget.contention():.2f} (this machine now "
          "against the reference, idle)\n")
    print("| workload | estimate (s) | measured (s) | estimate / measured |")
    print("|---|---:|---:|---:|")
    ratios = []
    for name, est, measured in table:
        ratios.append(est / measured)
        print(f"| {name} | {est:.3g} | {measured:.3g} | {est / measured:.2f} |")
    print(f"\nratio range {min(ratios):.2f} .. {max(ratios):.2f} (geometric mean "
          f"{float(np.exp(np.mean(np.log(ratios)))):.2f})")


if __name__ == "__main__":
    main()
