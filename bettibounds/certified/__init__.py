"""Certified results by interval arithmetic.

* ``certify_lower(spec, x, y)`` (:mod:`.witness`), for a concrete network ``spec`` and exact
  data ``x, y`` (from an experiment file ``exp``: ``certify_lower(exp.spec, exp.x, exp.y)``),
  finds a candidate minimiser (or starts from ``theta=``), certifies
  with ball arithmetic that the loss has a strict local minimum in a ball around it,
  certifies that the ball's images under the loss-preserving group G are pairwise disjoint,
  and returns a :class:`LowerCertificate` with a level band [c_lo, c_hi) on which
  b_0(S_c) >= |G| (docs/theory.md §10.2). Needs the ``[certify]`` extra (python-flint).
* ``certify_landscape(experiment)`` (:mod:`.landscape`) proves the Betti numbers b_0, b_1
  of the sublevel sets of the loss on a 1-D or 2-D slice (or a box over P <= 2 parameters),
  or says why it cannot: float64 interval arithmetic with outward rounding
  (:mod:`.intervals`; the floating-point mode it needs is checked by :mod:`.fpmode`), enclosures of the
  loss and its gradient on many boxes at once
  (:mod:`.loss_enclosure`; the activations' interval extensions in
  :mod:`.interval_activations`, the ball-arithmetic oracle in :mod:`.arb_oracle`), adaptive
  subdivision and the nerve of the cell cover (:mod:`.topology`, one level; its parts
  :mod:`.boxes`, :mod:`.limits`, :mod:`.segments`, :mod:`.subdivision`, :mod:`.nerve`);
  docs/theory.md §13. python-flint is used only to decide f(t) <= c at the rare subdivision
  vertices where float64 cannot.
"""

from __future__ import annotations

from .._lib.lazy import lazy_exports

#: public name -> the module that defines it (numpy and python-flint are imported on first use)
EXPORTS = {"certify_lower": "witness", "LowerCertificate": "witness",
           "certify_landscape": "landscape", "CertifiedLandscape": "landscape"}

__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS, globals())
