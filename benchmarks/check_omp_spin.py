"""How much a loop of small torch operations slows when OpenMP threads spin (docs/benchmarks.md).

Runs, in fresh processes, 3 000 iterations of ``torch.tanh(x @ W).sum().item()`` (x 64 x 30, W 30 x 16,
float64, torch's default threads) twice, then once more after a fused-engine evaluation of
examples/slice_2d.json, with and without ``OMP_WAIT_POLICY=passive``; prints wall and CPU seconds and the
load average. Usage: ``python benchmarks/check_omp_spin.py``.
"""

import os
import subprocess
import sys
import time

CHILD = r'''
import os, sys, time
import torch
x = torch.randn(64, 30, dtype=torch.float64); W = torch.randn(30, 16, dtype=torch.float64)
def loop(n=3000):
    c0, w = os.times(), time.perf_counter()
    for _ in range(n):
        torch.tanh(x @ W).sum().item()
    c1 = os.times()
    return f"{time.perf_counter() - w:.2f} s wall / {c1.user - c0.user + c1.system - c0.system:.2f} s CPU"
print("  torch alone:", loop(), ";", loop())
from bettibounds.empirical.experiment import load_experiment
from bettibounds.empirical.sampler import sample_landscape
sample_landscape(load_experiment("examples/slice_2d.json"), engine="fused", device="cpu")
print("  after a fused evaluation:", loop(), ";", loop())
'''


def main() -> None:
    print(f"load average at the start: {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}")
    for policy in (None, "passive"):
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        print(f"OMP_WAIT_POLICY={policy or '(unset)'}:", flush=True)
        subprocess.run([sys.executable, "-c", CHILD], env=env, check=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
