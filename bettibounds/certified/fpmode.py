"""The floating-point mode the certified interval arithmetic needs, checked at run time (docs/theory.md §13.3).

Lemma R (:mod:`.intervals`) and every error bound built on it assume IEEE 754's default mode: round to
nearest, and gradual underflow (subnormal numbers). A process can leave that mode -- ``torch.set_flush_denormal(
True)``, a library compiled with ``-ffast-math`` that sets flush-to-zero when loaded, ``fesetround`` from C --
and then ``down(0) = up(0) = 0`` and the enclosures can miss the exact values. :func:`float_mode_problem` probes
the mode of the calling thread in about 50 microseconds; :meth:`.SliceLoss.enclose` calls
:func:`check_float_mode` before every batch, and a level computed under a wrong mode is "not certified".
"""

from __future__ import annotations

import numpy as np

from .intervals import ETA, REALMIN

__all__ = ["float_mode_problem", "check_float_mode"]

_C52 = 2.0 ** -52


def float_mode_problem() -> str | None:
    """None when this thread's floating-point arithmetic (numpy's vectorised loops and scalars, and BLAS)
    rounds to nearest with gradual underflow, as Lemma R assumes (docs/theory.md §13.3); else what is wrong.

    Probes: 1 + 0.75 ulp and -1 - 0.75 ulp must round away from 1 and 1 + 0.25 ulp to 1 (which rules out
    rounding down, up and towards zero); 2^-1022 / 2 and 2^-1074 + 2^-1074 must give the subnormals 2^-1023
    and 2^-1073 (flush-to-zero gives 0, denormals-are-zero reads 2^-1074 as 0), and a matrix product of
    2^-537's must give 2^-1074 per term. Results are compared by their bits: under denormals-are-zero a
    subnormal also *compares* equal to 0.
    """
    problems = []
    q = [0.75 * _C52, -0.75 * _C52, 0.25 * _C52]
    arrays = (np.tile([1.0, -1.0, 1.0], 4) + np.tile(q, 4),  # 12 entries: numpy's SIMD loops, not only scalar ones
              np.tile([REALMIN, ETA], 4) * np.tile([0.5, 1.0], 4) + np.tile([0.0, ETA], 4))
    scalars = (np.array([np.float64(1.0) + q[0], np.float64(-1.0) + q[1], np.float64(1.0) + q[2]]),
               np.array([np.float64(REALMIN) * 0.5, np.float64(ETA) + np.float64(ETA)]))
    for name, (rnd, tiny) in (("numpy arrays", arrays), ("float64 scalars", scalars)):
        if rnd[:3].tolist() != [1.0 + _C52, -1.0 - _C52, 1.0] or rnd.tolist() != rnd[:3].tolist() * (rnd.size // 3):
            problems.append(f"{name} do not round to nearest (a directed rounding mode is set)")
        bits = tiny.view(np.int64)
        if bits[:2].tolist() != [1 << 51, 2] or bits.tolist() != bits[:2].tolist() * (bits.size // 2):
            problems.append(f"{name} flush subnormal numbers to zero (flush-to-zero / denormals-are-zero mode)")
    a = np.full((2, 3, 3), 2.0 ** -537)
    if set(np.matmul(a, a).view(np.int64).ravel().tolist()) != {3}:
        problems.append("matrix products (BLAS) flush subnormal numbers to zero or round otherwise than to nearest")
    if not problems:
        return None
    return ("; ".join(problems) + ". The certified interval arithmetic (docs/theory.md §13.3, Lemma R) is proven "
            "for IEEE 754's default mode only (round to nearest, gradual underflow); turn the mode back (e.g. "
            "torch.set_flush_denormal(False)) or run in a process without the library that sets it")


def check_float_mode() -> None:
    """Raise :class:`~bettibounds.errors.FloatingPointModeError` unless :func:`float_mode_problem` finds nothing."""
    why = float_mode_problem()
    if why is not None:
        from ..errors import FloatingPointModeError

        raise FloatingPointModeError(f"the floating-point mode of this thread is not IEEE 754's default: {why}")
