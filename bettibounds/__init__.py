"""bettibounds: rigorous bounds on the topology of neural-network loss landscapes.

The core (spec, pfaffian, theorems, result, api) imports neither torch nor gudhi and
imports sympy only when a symbolic expression is asked for, so ``import bettibounds``
is fast.

>>> from bettibounds import ArchitectureSpec, bounds
>>> report = bounds(ArchitectureSpec(inputs=2, widths=(2,), activation="sigmoid", loss="mse", samples=3))
>>> report.format
PfaffianFormat(order=6, alpha=2, beta=4)
"""

from __future__ import annotations

from . import errors
from ._version import __version__
from .api import bounds
from .errors import *  # noqa: F403 (every error class; listed once, in errors.__all__)
from .lower import SymmetryGroup, symmetry_group
from .pfaffian.activations import get_activation
from .pfaffian.chain import Certificate, certify, certify_chain
from .pfaffian.derive import Derivation, closed_form, derive_format, layer_recursion
from .pfaffian.format import PfaffianFormat
from .references import REFERENCES, cite
from .result import BoundReport, BoundResult
from .spec import ArchitectureSpec
from .theorems import THEOREMS, Hypothesis, get_theorem

__all__ = [
    "ArchitectureSpec",
    "bounds",
    "BoundReport",
    "BoundResult",
    "PfaffianFormat",
    "Derivation",
    "derive_format",
    "closed_form",
    "layer_recursion",
    "get_activation",
    "certify_chain",
    "certify",
    "Certificate",
    "THEOREMS",
    "get_theorem",
    "Hypothesis",
    "SymmetryGroup",
    "symmetry_group",
    "REFERENCES",
    "cite",
    "__version__",
]
__all__ += errors.__all__
