"""Time of the fused engine's float64 vector tanh and logistic in isolation, against torch's, per value on one
core. Prints a Markdown table and writes nothing.

The values: 2^14 doubles drawn like a hidden layer's pre-activations (normal, standard deviation 2), so input
and output stay in the L2 cache and the time is the function's, not the memory's; each function is called on
them ``--calls`` times per measurement, the measurements of all functions alternate (``--rounds``), and each
row gives the best and the median. Clock: the CPU time of this thread (``time.thread_time``), so other
processes on a shared machine disturb it little; torch runs with one thread. The engine's functions run
through ``act_vector_array``, the entry point of the model engine's fast activations
(:mod:`bettibounds.engines.fast_activations`), which runs the same vector code as the fused kernel
(the tests hold it bit for bit to the kernel's).

Usage: python benchmarks/bench_float64_activations.py [--calls 400] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=400, help="calls per measurement (default 400)")
    ap.add_argument("--rounds", type=int, default=7, help="alternating measurements per function (default 7)")
    args = ap.parse_args(argv)
    import torch

    from bettibounds.engines._fused_numba import act_vector_array

    torch.set_num_threads(1)
    x = np.random.default_rng(0).normal(0.0, 2.0, 1 << 14)
    out = np.empty_like(x)
    xt, outt = torch.from_numpy(x), torch.empty(len(x), dtype=torch.float64)
    funcs = {
        "fused engine tanh": lambda: act_vector_array(x, out, 0),
        "fused engine logistic": lambda: act_vector_array(x, out, 1),
        "torch.tanh": lambda: torch.tanh(xt, out=outt),
        "torch.sigmoid": lambda: torch.sigmoid(xt, out=outt),
    }
    for f in funcs.values():  # compile / load, warm up
        f()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, f in funcs.items():
            t0 = time.thread_time()
            for _ in range(args.calls):
                f()
            times[name].append((time.thread_time() - t0) / (args.calls * len(x)) * 1e9)
    load1 = os.getloadavg()[0]
    print(f"float64, {len(x)} values per call, one thread, CPU time; load average {load0:.1f} -> {load1:.1f}\n")
    print("| function | ns per value (best) | median | vs torch's |")
    print("|---|---:|---:|---:|")
    for name, v in times.items():
        ref = "torch.tanh" if "tanh" in name else "torch.sigmoid"
        ratio = min(times[ref]) / min(v)
        print(f"| {name} | {min(v):.3f} | {sorted(v)[len(v) // 2]:.3f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
