"""Sanity check of oracle.py against the torch kernel (the grid's engine) at float points."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import loss_mp

from bettibounds.engines.torch_kernel import LossKernel
from bettibounds.spec import ArchitectureSpec

rng = np.random.default_rng(1)
acts = ["tanh", "logistic", "arctan", "softplus", "gaussian", "silu", "gelu", "exp", "identity", "polynomial:2",
        "polynomial:3"]
worst = 0
n = 0
for trial in range(120):
    act = acts[trial % len(acts)]
    loss = "bce" if trial % 4 == 3 else "mse"
    oa = "sigmoid" if loss == "bce" else ["identity", "sigmoid", "tanh"][trial % 3]
    skip = ["none", "residual", "input-output", "residual+input-output"][trial % 4]
    widths = (2, 2) if "residual" in skip else tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    d, out, m = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    bias = bool(rng.integers(0, 2))
    l2 = [0.0, 0.01, 0.5][trial % 3]
    spec = ArchitectureSpec(inputs=d, widths=widths, outputs=out, activation=act, output_activation=oa, loss=loss,
                            samples=m, bias=bias, skip=skip, l2=l2)
    x = rng.normal(size=(m, d)).round(3)
    y = rng.uniform(0, 1, size=(m, out)).round(3) if loss == "bce" else rng.normal(size=(m, out)).round(3)
    th = rng.normal(size=int(spec.n_params))
    k = LossKernel(spec, x, y, device="cpu")
    a = float(k.evaluate(th[None])[0])
    from bettibounds.pfaffian.activations import get_activation
    b = float(loss_mp(spec, x.tolist(), y.tolist(), th.tolist(), get_activation(act).name))
    err = abs(a - b) / max(1e-300, abs(b))
    worst = max(worst, err)
    n += 1
    if err > 1e-10:
        print("MISMATCH", spec, a, b)
print(f"{n} random specs: worst relative difference torch vs mpmath oracle {worst:.2e}")
