"""ReLU obstruction (Nurisso, Leroy & Vaccarino 2024): conserved invariants, Betti numbers and components of
the invariant set H(c), and the canonical unreachable case, recomputed with bettibounds.obstruction.

    python verification/obstruction.py [-v]
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["nurisso2024"], "ReLU obstruction (Nurisso2024)"))
