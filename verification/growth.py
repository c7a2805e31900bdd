"""How complexity grows (Bucarelli et al. 2024): loss formats of sigmoidal networks and the growth of
their bounds in width, depth and samples.

    python verification/growth.py [-v]

Prints claim id / published / recomputed / agree and exits 1 if any claim disagrees.
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["bucarelli2024"], "How complexity grows: formats and bound growth (Bucarelli2024)",
                  match=lambda cid: ".l2." not in cid and ".skip." not in cid))
