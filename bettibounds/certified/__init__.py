"""Certified results by interval arithmetic.

* ``certify_lower(experiment)`` (:mod:`.witness`) finds a candidate minimiser, certifies
  with ball arithmetic that the loss has a strict local minimum in a ball around it,
  certifies that the ball's images under the loss-preserving group G are pairwise disjoint,
  and returns a level band [c_lo, c_hi) on which b_0(S_c) >= |G|. Needs the ``[certify]``
  extra (python-flint).
* ``certify_landscape(experiment)`` (:mod:`.landscape`) proves the Betti numbers b_0, b_1
  of the sublevel sets of the loss on a 1-D or 2-D slice (or a box over P <= 2 parameters),
  or says why it cannot: float64 interval arithmetic with outward rounding
  (:mod:`.intervals`), enclosures of the loss and its gradient on many boxes at once
  (:mod:`.loss_enclosure`; the activations' interval extensions in
  :mod:`.interval_activations`, the ball-arithmetic oracle in :mod:`.arb_oracle`), adaptive
  subdivision and the nerve of the cell cover (:mod:`.topology`, one level; its parts
  :mod:`.boxes`, :mod:`.limits`, :mod:`.segments`, :mod:`.subdivision`, :mod:`.nerve`);
  docs/theory.md §13. python-flint is used only to decide f(t) <= c at the rare subdivision
  vertices where float64 cannot.
"""

from __future__ import annotations

__all__ = ["certify_lower", "LowerCertificate", "certify_landscape", "CertifiedLandscape"]

_HOME = {"certify_lower": "witness", "LowerCertificate": "witness",
         "certify_landscape": "landscape", "CertifiedLandscape": "landscape"}


def __getattr__(name):  # lazy: numpy/flint only when used
    if name in _HOME:
        from importlib import import_module

        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(name)
