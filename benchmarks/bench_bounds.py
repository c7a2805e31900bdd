"""Benchmark of the symbolic engine (issue: core engine). Prints a Markdown table.

Measured in one run, on this machine:

1. ``import bettibounds`` (fresh interpreter, min of 5);
2. a full ``bounds(spec)`` report for d = 784, widths 1000 x 10, m = 60000 (median of 50,
   after one warm-up call), and the same with ``--symbolic``-style closed forms;
3. ``bettibounds bound ...`` end to end in a subprocess (min of 5);
4. ratios against the naive ways of getting the same numbers:
   a. exact big-integer evaluation of bound K (what a by-hand Python/sympy script
      does) for a mid-size network, against the log-space evaluation;
   b. the node-by-node mechanical format derivation against the closed form;
5. the machine's float64 matmul peak (numpy, 2048^3), for the record: the bound engine
   is latency-bound (a few hundred mpmath operations), so a FLOP ratio is not the
   meaningful figure for it; the empirical module's benchmarks use this peak.

Usage: python benchmarks/bench_bounds.py
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _subprocess_seconds(code: list[str], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(code, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def _import_seconds(repeats: int = 5) -> float:
    code = "import time; t=time.perf_counter(); import bettibounds; print(time.perf_counter()-t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout) for _ in range(repeats))


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    import numpy as np

    from bettibounds import ArchitectureSpec, bounds
    from bettibounds.pfaffian.derive import closed_form
    from bettibounds.pfaffian.graph import mechanical
    from bettibounds.theorems import get_theorem

    rows = []
    rows.append(("import bettibounds (fresh interpreter, min of 5)", f"{_import_seconds() * 1e3:.0f} ms", ""))

    big = ArchitectureSpec(inputs=784, widths=(1000,) * 10, activation="tanh", loss="bce",
                           output_activation="logistic", samples=60000)
    ms = _median_ms(lambda: bounds(big), 50)
    rows.append(("bounds(spec): d=784, 1000x10, m=60000, BCE (median of 50)", f"{ms:.2f} ms", "target < 50 ms"))

    import sympy

    d, h, L, m = sympy.symbols("d h L m", positive=True, integer=True)
    sym = ArchitectureSpec.uniform(d, h, L, m, activation="tanh", loss="mse")
    ms_sym = _median_ms(lambda: bounds(sym), 5)
    rows.append(("bounds(spec) symbolic in d, h, L, m (median of 5)", f"{ms_sym:.0f} ms", "sympy-bound"))

    cli = [sys.executable, "-m", "bettibounds", "bound", "--inputs", "784", "--widths", "1000,1000",
           "--activation", "tanh", "--loss", "bce", "--output-activation", "sigmoid", "--samples", "60000",
           "--json"]
    rows.append(("`bettibounds bound ... --json` end to end (min of 5)", f"{_subprocess_seconds(cli) * 1e3:.0f} ms",
                 "target < 1 s"))

    # (a) exact integers vs log space, mid-size network: K has ~10^5 digits here
    mid = ArchitectureSpec(inputs=2, widths=(8, 8), activation="logistic", loss="mse", samples=20)
    fmt = closed_form(mid).format
    K = get_theorem("K")
    params = dict(n=mid.n_params, r=fmt.order, alpha=fmt.alpha, beta=max(fmt.beta, 2))
    prod = K.rhs(**params)

    sys.set_int_max_str_digits(0)

    def exact():
        v = 1
        for b, e in prod.factors:
            v *= b**e
        return len(str(v * prod.coef.numerator // prod.coef.denominator))  # floor(K / 2), theorem K's bound

    t = time.perf_counter()
    digits = exact()
    t_exact = time.perf_counter() - t
    t_log = _median_ms(lambda: K.evaluate(**params), 20) / 1e3
    rows.append((f"bound K exactly as a {digits}-digit integer (naive), d=2, 8x8, m=20",
                 f"{t_exact * 1e3:.0f} ms", f"log-space {t_log * 1e3:.2f} ms: {t_exact / t_log:.0f}x faster"))

    # (b) mechanical node-by-node vs closed form
    small = ArchitectureSpec(inputs=3, widths=(16, 16), activation="tanh", loss="mse", samples=30)
    t_mech = _median_ms(lambda: mechanical(small), 3)
    t_closed = _median_ms(lambda: closed_form(small), 50)
    rows.append(("format: mechanical node-by-node (d=3, 16x16, m=30)", f"{t_mech:.0f} ms",
                 f"closed form {t_closed:.3f} ms: {t_mech / t_closed:.0f}x faster"))

    # (c) chain certificate (issue: machine-checked derivations), d = 2, widths 3,3, m = 4
    from bettibounds import certify

    cert_spec = ArchitectureSpec(inputs=2, widths=(3, 3), activation="logistic", loss="mse", samples=4)
    certify(cert_spec)  # warm-up: sympy import and the per-activation ODE checks
    c = certify(cert_spec)
    t_cert = _median_ms(lambda: certify(cert_spec), 5)
    rows.append((f"chain certificate d=2, 3x3, m=4: {c.found.order} elements x {cert_spec.n_params} params, "
                 f"{c.checks} checks", f"{t_cert:.0f} ms", f"verified={c.verified} (median of 5, warm)"))
    cert_big = ArchitectureSpec(inputs=3, widths=(4, 4), activation="tanh", loss="bce",
                                output_activation="logistic", samples=8)
    t_big = _median_ms(lambda: certify(cert_big), 3)
    rows.append((f"chain certificate d=3, 4x4, m=8, BCE ({certify(cert_big).checks} checks)",
                 f"{t_big:.0f} ms", "median of 3"))

    # (d) certified symmetry lower bound on the shipped teacher example
    try:
        from bettibounds.certified.witness import certify_lower
        from bettibounds.empirical.experiment import load_experiment

        exp = load_experiment(Path(__file__).resolve().parents[1] / "examples" / "teacher_tanh.json")
        t = time.perf_counter()
        lc = certify_lower(exp.spec, exp.x, exp.y, starts=8, seed=0)
        rows.append(("certified lower bound, examples/teacher_tanh.json (8 starts)",
                     f"{(time.perf_counter() - t) * 1e3:.0f} ms", lc.statement))
    except Exception as exc:  # python-flint missing
        rows.append(("certified lower bound", "skipped", str(exc)))

    a = np.random.default_rng(0).standard_normal((2048, 2048))
    a @ a
    t = time.perf_counter()
    for _ in range(3):
        a @ a
    gflops = 3 * 2 * 2048**3 / (time.perf_counter() - t) / 1e9
    rows.append(("machine float64 matmul peak (numpy 2048^3)", f"{gflops:.1f} GFLOP/s", "for the record"))

    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, date {time.strftime('%Y-%m-%d')}\n")
    print("| measurement | figure | note |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
