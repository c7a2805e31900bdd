"""Loss barcodes (Barannikov et al. 2019/2020): the barcode-of-minima definition and the path example
[3, 1, 2, 0, 4] -> bars [1, 2], [0, inf), recomputed with bettibounds.empirical.persistence.sublevel_persistence.
The TO-score trend (barcodes shrink with width and depth) is checked by the report's loss-barcode
section, not here (listed as 'skip').

    python verification/barcode.py [-v]
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["barannikov2019", "barannikov2020"], "Loss barcodes (Barannikov2019, Barannikov2020)"))
