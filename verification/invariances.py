"""Invariances (Bucarelli et al. 2024; THEORY.md §3): l2 regularisation and skip connections leave the
format and the bounds unchanged (identity residual skips), or change them only through n (input-output skip).

    python verification/invariances.py [-v]
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["bucarelli2024"], "Invariances: l2 and skip connections (Bucarelli2024)",
                  match=lambda cid: ".l2." in cid or ".skip." in cid))
