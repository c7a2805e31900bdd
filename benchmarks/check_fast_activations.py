"""The model engine's fast tanh and logistic (bettibounds.engines.fast_activations) against a long-double reference.

Through the torch operators themselves (``fast_tanh``, ``fast_logistic``), on 1.3e7 inputs with a fixed seed:
4e6 uniform on [-20, 20], 4e6 with |x| log-uniform in [1e-300, 1] and random signs, 4e6 uniform on [-0.02, 0.02]
(the range reduction's small-argument edge at 0.0108), 1e6 uniform on [-750, 750] (the tails and clamps); the
float32 check takes those that fit in float32. Reference: numpy's ``longdouble`` tanh and exp (x87 extended, a
64-bit significand: 2^11 times finer than float64). Prints the largest error in ulp of the exact value
(subnormal results in subnormal steps), where it occurs, and torch's own functions on the same inputs.
The stated bounds: float64 6.6 (tanh) and 3.7 (logistic) ulp (docs/theory.md, section 15); float32 5 and 2 ulp
of the correctly rounded value, i.e. 5.5 and 2.5 of the exact one.

Usage: python benchmarks/check_fast_activations.py [--n 4000000]. Writes nothing.
"""

from __future__ import annotations

import argparse

import numpy as np


def ulp(w: np.ndarray, dtype) -> np.ndarray:
    fin = np.finfo(dtype)
    a = np.abs(w).astype(dtype)
    return np.spacing(np.maximum(a, fin.tiny)).astype(np.longdouble)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4_000_000)
    args = ap.parse_args(argv)
    import torch

    from bettibounds.engines.fast_activations import fast_logistic, fast_tanh

    rng = np.random.default_rng(7)
    n = args.n
    x = np.concatenate([rng.uniform(-20, 20, n), np.sign(rng.standard_normal(n)) * 10 ** rng.uniform(-300, 0, n),
                        rng.uniform(-0.02, 0.02, n), rng.uniform(-750, 750, n // 4)])
    print(f"{len(x)} inputs")
    for dtype in (np.float64, np.float32):
        xs = x[np.abs(x) < np.finfo(dtype).max].astype(dtype)
        xl = xs.astype(np.longdouble)
        for name, op, theirs, exact in (("tanh", fast_tanh, torch.tanh, np.tanh(xl)),
                                        ("logistic", fast_logistic, torch.sigmoid, 1 / (1 + np.exp(-xl)))):
            got = op(torch.from_numpy(xs)).numpy().astype(np.longdouble)
            err = np.abs(got - exact) / ulp(exact, dtype)
            ref = np.abs(theirs(torch.from_numpy(xs)).numpy().astype(np.longdouble) - exact) / ulp(exact, dtype)
            i = int(np.argmax(err))
            print(f"{np.dtype(dtype).name:<8} {name:<9} max {float(err.max()):6.2f} ulp at x = {xs[i]!r:<24} "
                  f"mean {float(err.mean()):.3f}; torch's: max {float(ref.max()):.3g} ulp")


if __name__ == "__main__":
    main()
