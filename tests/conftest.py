"""Shared pytest configuration: hypothesis profiles.

Select a profile with the environment variable ``HYPOTHESIS_PROFILE``:

* ``dev`` (default): about 50 examples per property, quick local runs;
* ``ci``: 100 examples, no deadline, derandomized (reproducible in CI);
* ``thorough``: 1000 examples, for occasional deep runs.

Every test module of the suite (including tests/test_cli.py and
tests/test_public_api.py) relies on these profile names.
"""

from __future__ import annotations

import os

from hypothesis import settings

# deadline=None everywhere: the first call into sympy or mpmath in a process can take
# far longer than hypothesis' default 200 ms and would make timing flaky on slow CI
# machines; the suite checks speed where it matters with explicit timing asserts.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
