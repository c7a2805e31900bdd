"""Betti-number bounds for Pfaffian and algebraic sets: Khovanskii 1991 (and the derived theorem K),
Gabrielov-Vorobjov 2004 (with the format algebra), Zell 1999 and Milnor 1964, recomputed with the
theorem catalog (bettibounds.get_theorem) and bettibounds.pfaffian.rules.

    python verification/pfaffian_bounds.py [-v]
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["khovanskii1991", "gabrielov_vorobjov2004", "zell1999", "milnor1964"],
                  "Pfaffian and algebraic Betti bounds (Khovanskii1991, GabrielovVorobjov2004, Zell1999, Milnor1964)"))
