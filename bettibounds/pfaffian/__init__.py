"""Pfaffian chains and formats of network losses: the format value, the activation registry, the format
algebra, the three derivations of a loss's format (closed forms, the layer recursion, the mechanical
node-by-node engine) and the explicit chain certificate. docs/theory.md §2–§4.

>>> from bettibounds.pfaffian import PfaffianFormat, get_activation
>>> get_activation("tanh").format, PfaffianFormat(6, 2, 4)
((1, 2, 1), PfaffianFormat(order=6, alpha=2, beta=4))
"""

from __future__ import annotations

from .._lib.lazy import lazy_exports

#: public name -> the module that defines it
EXPORTS = {
    "PfaffianFormat": "format",
    "Activation": "activations", "ACTIVATIONS": "activations", "NON_PFAFFIAN": "activations",
    "OUTPUT_ACTIVATIONS": "activations", "get_activation": "activations", "activation_names": "activations",
    "verify_activation": "activations",
    "Derivation": "derive", "closed_form": "derive", "layer_recursion": "derive", "derive_format": "derive",
    "mechanical": "graph", "Certificate": "chain", "certify_chain": "chain", "certify": "chain",
    "OutputChain": "losses", "output_chain": "losses",
}

__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS, globals())
