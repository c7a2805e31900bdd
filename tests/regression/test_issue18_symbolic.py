"""Issue 18, symbolic-side soundness items (1, 4, 5, 6, 7, 10): one regression test per item.

Each test here fails on the main branch the issue was filed against (b1f5fc3); the docstring of
each test says how it fails there.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bettibounds import ArchitectureSpec as A
from bettibounds import InvalidSpecError, bounds, certify
from bettibounds.pfaffian.chain import certificate_size_guard


# ------------------------------------------------------------------ item 10: certificate size guard
def _limited_cli(args, mem_bytes=1_500_000_000, timeout=60):
    """Run the CLI in a child with an address-space limit, so that an unguarded allocation dies
    (MemoryError, exit 1 with a traceback) instead of exhausting the machine."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({m}, {m})); "
            "from bettibounds.cli import main; sys.exit(main(sys.argv[1:]))").format(m=mem_bytes)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("act", ["polynomial:2", "identity"])
def test_certify_refuses_huge_chainless_networks_before_allocating(act):
    """Item 10. On main the guard multiplied by the chain order (0 here) and the data (10^15 entries)
    were allocated: MemoryError under the limit (exit 1, traceback) or a timeout."""
    out = _limited_cli(["bound", "-d", "1000000", "-w", "1", "-m", "1000000000", "-a", act, "--certify"])
    assert out.returncode == 2, out.stderr[-500:]
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert "samples x P" in out.stderr and "max_checks" in out.stderr


def test_certificate_size_guard_counts_the_real_sizes():
    # chain order 0 but m x P = 10^5 x 303: refused on samples x parameters
    with pytest.raises(InvalidSpecError, match="m = 100000 samples x P = 303"):
        certify(A(inputs=300, widths=(1,), samples=100_000, activation="polynomial:2"))
    # 10^5 inputs: the first pre-activation alone has more than max_terms terms
    with pytest.raises(InvalidSpecError, match="100001 terms"):
        certify(A(inputs=100_000, widths=(1,), samples=1, activation="tanh"))
    # 2 x 10^4 inputs: the ring has ~2 x 10^4 generators, one polynomial of max_terms terms ~ 8 GB
    with pytest.raises(InvalidSpecError, match="GiB"):
        certify(A(inputs=20_000, widths=(1,), samples=1, activation="tanh"))
    # the same network passes a larger memory budget check (the guard, not the build, is tested)
    spec = A(inputs=20_000, widths=(1,), samples=1, activation="tanh")
    certificate_size_guard(spec, 1, 3, 200_000, 50_000, 64 * 2**30)
    with pytest.raises(InvalidSpecError, match="max_bytes"):
        certify(A(inputs=1, widths=(2,), samples=2, activation="tanh"), max_bytes=0)
    # small networks still certify
    assert certify(A(inputs=1, widths=(2,), samples=2, activation="polynomial:2")).verified
    with pytest.raises(InvalidSpecError, match="max_checks"):
        bounds(A(inputs=300, widths=(1,), samples=100_000, activation="identity"), certify=True)
