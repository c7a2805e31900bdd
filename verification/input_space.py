"""Input-space table (Bianchini & Scarselli 2014): the deep-network bounds on B({x : N(x) >= 0}) and the
input-space formats, recomputed with bounds(spec, space="input").

    python verification/input_space.py [-v]
"""

import sys

from checks import main

if __name__ == "__main__":
    sys.exit(main(["bianchini_scarselli2014"], "Input-space bounds (BianchiniScarselli2014)"))
