"""Certified witnesses for the symmetry lower bound (interval arithmetic, python-flint).

``certify_lower(experiment)`` finds a candidate minimiser, certifies with ball
arithmetic that the loss has a strict local minimum in a ball around it, certifies that
the ball's images under the loss-preserving group G are pairwise disjoint, and returns a
level band [c_lo, c_hi) on which b_0(S_c) >= |G|. Needs the ``[certify]`` extra
(python-flint).
"""

from __future__ import annotations

__all__ = ["certify_lower", "LowerCertificate"]


def __getattr__(name):  # lazy: numpy/flint only when used
    if name in __all__:
        from . import witness

        return getattr(witness, name)
    raise AttributeError(name)
