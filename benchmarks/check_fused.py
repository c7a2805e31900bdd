"""Accuracy of the fused engine in float32 (bettibounds.engines.fused) against the float64 torch
kernel, next to the torch float32 kernel's own error, on the cases of tests/empirical/test_fused.py
(their architectures, seeds and grids) plus networks with saturated logistic units. Prints the
Markdown table of docs/benchmarks.md; exit status 1 if any case is less accurate than the torch
float32 kernel. Needs numba (the [fast] extra).

Usage: python benchmarks/check_fused.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "empirical"))
import test_fused as tf  # noqa: E402  (the test module's cases, so the two cannot drift apart)

from bettibounds.empirical.kernels import LossKernel  # noqa: E402
from bettibounds.engines.fused import FusedSliceKernel  # noqa: E402


def errors(spec, x, y, c, D, T):
    ref = LossKernel(spec, x, y, device="cpu", dtype="float64").evaluate_chunked(T, "slice", center=c, directions=D)
    t32 = LossKernel(spec, x, y, device="cpu", dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    ours = FusedSliceKernel(spec, x, y, dtype="float32").evaluate_chunked(T, "slice", center=c, directions=D)
    return tf._rel(ours, ref), tf._rel(t32, ref), float(np.median(ref))


def main() -> int:
    rows = []
    for n, case in enumerate(tf.CASES):
        d, widths, outputs, act, l2, k, extra = case
        spec, x, y, c, D = tf._problem(n, *case)
        e_f, e_t, med = errors(spec, x, y, c, D, tf._grid(k))
        desc = f"d={d}, widths {list(widths)}, {outputs} out, {act}, l2={l2}, k={k}" + "".join(
            f", {a}={v}" for a, v in extra.items())
        rows.append((desc, spec.n_params, med, e_f, e_t))
    rng = np.random.default_rng(0)  # saturated logistic units, as in the test
    for bias, widths, *_ in tf.SATURATED:
        spec, x, y, c, D, T = tf._saturated_logistic_problem(rng, bias, widths)
        e_f, e_t, med = errors(spec, x, y, c, D, T)
        desc = f"saturated logistic: first-layer bias {bias}, widths {list(widths)}"
        rows.append((desc, spec.n_params, med, e_f, e_t))
    print("| case | P | median loss | fused max rel. diff | torch f32 max rel. diff | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for desc, P, med, e_f, e_t in rows:
        print(f"| {desc} | {P} | {med:.2g} | {e_f:.1e} | {e_t:.1e} | {e_f / e_t:.2g} |")
    worst = max(e_f / e_t for *_, e_f, e_t in rows)
    print(f"\nworst ratio fused / torch float32: {worst:.2f}")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
