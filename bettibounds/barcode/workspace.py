"""Scratch arrays kept across the iterations of the barcode protocols' loops.

Why: the path relaxation and the descents work on batches of parameter vectors of tens of MB to a
GB (ten chains of 63 images at P = 216 586 are 1.1 GB in float64). An array allocated afresh at
every iteration is a fresh ``mmap`` above glibc's mmap threshold (which adapts only up to 32 MiB),
and every one of its pages faults in again: on the full grid's largest sweep job that was 521 s of
system time out of 1 146 s of CPU (69 million minor page faults; docs/benchmarks.md). A
:class:`Workspace` hands out the same memory at every iteration instead.

Reusing a buffer cannot change a result as long as every element is written before it is read:
the arithmetic (element-wise operations, and reductions over arrays of the same layout) is the same
whichever memory it writes to. ``Workspace(fresh=True)`` is the check of that premise: every
request returns a new array filled with NaN, so a computation that read a buffer before writing it
would give NaN or a different number there, and the tests compare the two modes bit for bit
(tests/empirical/test_relax_workspace.py).

A workspace is not thread-safe: one per loop (the protocols make their own).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Workspace"]


class Workspace:
    """Named scratch arrays, reused across calls.

    Parameters
    ----------
    fresh : bool
        False (default): :meth:`get` returns the front of the named buffer, grown (reallocated) only
        when a request is larger than any before. True: every request gets a new array filled with
        NaN (integers: their largest value), the reference the reuse is tested against.

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.get("x", (2, 3))
    >>> b = ws.get("x", (3, 2))  # the same memory, another shape
    >>> np.shares_memory(a, b)
    True
    """

    def __init__(self, fresh: bool = False):
        self.fresh = bool(fresh)
        self._buffers: dict[tuple[str, np.dtype], np.ndarray] = {}
        self._tensors: dict = {}  # torch buffers (get_torch), by (name, torch dtype)

    def get(self, name: str, shape, dtype=np.float64) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` whose contents are undefined (write before reading)."""
        dt = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        size = math.prod(shape)
        if self.fresh:
            fill = np.nan if dt.kind in "fc" else (np.iinfo(dt).max if dt.kind in "iu" else 0)
            return np.full(shape, fill, dtype=dt)
        buf = self._buffers.get((name, dt))
        if buf is None or buf.size < size:
            buf = self._buffers[(name, dt)] = np.empty(size, dtype=dt)
        return buf[:size].reshape(shape)

    def get_torch(self, name: str, shape, dtype):
        """The same for a torch tensor of torch ``dtype``, allocated by torch (so aligned as torch's own
        temporaries are: the matrix products see the memory layout they saw in a fresh tensor)."""
        import torch

        shape = tuple(int(n) for n in shape)
        size = math.prod(shape)
        if self.fresh:
            return torch.full(shape, math.nan, dtype=dtype)
        buf = self._tensors.get((name, dtype))
        if buf is None or buf.numel() < size:
            buf = self._tensors[(name, dtype)] = torch.empty(size, dtype=dtype)
        return buf[:size].view(shape)

    def nbytes(self) -> int:
        """Bytes held by the buffers (0 in ``fresh`` mode)."""
        return (sum(b.nbytes for b in self._buffers.values())
                + sum(t.numel() * t.element_size() for t in self._tensors.values()))

    def __repr__(self) -> str:
        n = len(self._buffers) + len(self._tensors)
        return f"Workspace({'fresh' if self.fresh else f'{n} buffers, {self.nbytes() / 2**20:.1f} MiB'})"
