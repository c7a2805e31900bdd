"""The branch-free float32 tanh (own fit, tanh_coeffs.json) as numba functions.

tanh(x) ~ a P(a^2) / Q(a^2), a = clamp(x, -C, C), C = the smallest float32 whose tanh
rounds to 1 in float32. Odd by construction (a P(a^2)/Q(a^2) with a -> -a). All constants
are np.float32 so the arithmetic stays in float32.
"""
import json
import os

import numpy as np
from numba import njit, prange

FM = {"contract", "reassoc", "nsz"}  # the flags every fused kernel uses (FMA contraction,
#                                      reassociation for the vectorised reductions)
_c = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tanh_coeffs.json")))
C = np.float32(_c["clamp"])
NC = np.float32(-_c["clamp"])
assert len(_c["p"]) == 5 and len(_c["q"]) == 5, "tanh_f32 is written for P, Q of degree 4 in x^2"
P1, P2, P3, P4 = (np.float32(v) for v in _c["p"][1:])
Q1, Q2, Q3, Q4 = (np.float32(v) for v in _c["q"][1:])
ONE = np.float32(1.0)


@njit(fastmath=FM, inline="always", cache=True)
def tanh_f32(x):
    a = x if x < C else C
    a = a if a > NC else NC
    x2 = a * a
    p = (((P4 * x2 + P3) * x2 + P2) * x2 + P1) * x2 + ONE
    q = (((Q4 * x2 + Q3) * x2 + Q2) * x2 + Q1) * x2 + ONE
    return a * p / q


@njit(parallel=True, fastmath=FM, cache=True)
def tanh_f32_bits(lo, n, out):
    """out[i] = tanh_f32(float32 with bit pattern lo + i)."""
    bits = np.arange(lo, lo + n, dtype=np.uint32)  # noqa
    xs = bits.view(np.float32)
    for i in prange(n):
        out[i] = tanh_f32(xs[i])


@njit(parallel=True, fastmath=FM, cache=True)
def tanh_f32_array(xs, out):
    for i in prange(xs.shape[0]):
        out[i] = tanh_f32(xs[i])
