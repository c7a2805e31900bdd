"""Registry of losses and of the Pfaffian chains their outputs add per sample.

MSE: ``(1/m) sum_i sum_o (y_hat_io - y_io)^2`` with y_hat = u (identity output) or
sigma_out(u); sigmoid/tanh outputs add one chain element per (sample, output).

BCE: ``(1/m) sum_i -[y log sigma(u) + (1 - y) log(1 - sigma(u))]`` computed from the
logit u; two Pfaffian writings, an explicit option because they give different bounds
(docs/theory.md §3, output/loss chains):

* ``logsigmoid`` [derived, docs/theory.md §3 and §4.3 item 4]: using log(1 - sigma(u)) =
  log sigma(u) - u, the loss is ``-(1/m) sum [q_i - (1 - y_i) u_i]`` with the chain
  s = sigma(u) (s' = (s - s^2) u'), q = log sigma(u) (q' = (1 - s) u'): 2 elements;
* ``two-logs`` [derived]: chain s, l1 = log s (l1' = (1 - s) u'), l2 = log(1 - s)
  (l2' = -s u'), loss ``-(1/m) sum [y l1 + (1 - y) l2]`` of degree 1: 3 elements.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rules import Monomials

__all__ = ["OutputChain", "output_chain"]

_S_ODE: Monomials = {(0, (1,)): 1, (0, (2,)): -1}  # s' = s - s^2 (times u')


@dataclass(frozen=True)
class OutputChain:
    """Chain elements one (sample, output) pair adds, in order; ODEs in (t=u, y)."""

    elements: tuple[str, ...]
    odes: tuple[Monomials, ...]

    @property
    def k(self) -> int:
        return len(self.elements)


def output_chain(loss: str, output_activation: str, bce_chain: str = "logsigmoid") -> OutputChain:
    """Chain elements added per (sample, output) by the output activation and loss."""
    if loss == "bce":
        if bce_chain == "logsigmoid":
            # y = (s, q): s' = s - s^2, q' = 1 - s
            return OutputChain(
                ("s", "q"),
                ({(0, (1, 0)): 1, (0, (2, 0)): -1}, {(0, (0, 0)): 1, (0, (1, 0)): -1}),
            )
        # y = (s, l1, l2): l1' = 1 - s, l2' = -s
        return OutputChain(
            ("s", "l1", "l2"),
            (
                {(0, (1, 0, 0)): 1, (0, (2, 0, 0)): -1},
                {(0, (0, 0, 0)): 1, (0, (1, 0, 0)): -1},
                {(0, (1, 0, 0)): -1},
            ),
        )
    if output_activation == "logistic":
        return OutputChain(("s",), (_S_ODE,))
    if output_activation == "tanh":
        return OutputChain(("t",), ({(0, (0,)): 1, (0, (2,)): -1},))
    return OutputChain((), ())
