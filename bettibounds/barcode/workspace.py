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

A buffer is named by its role, not by its type: arrays whose lifetimes do not overlap (within one
iteration, the images handed to the evaluator, then the float32 gradients of the Adam step, then
the points of a check) take the same name and so the same memory, whatever their dtypes, which
keeps the peak memory at what the fresh arrays needed. Two arrays of one name alive at once would
overwrite each other: that too is what the ``fresh=True`` comparison catches.

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
        False (default): :meth:`get` returns the front of the named buffer (viewed as the dtype
        asked for), grown (reallocated) only when a request is larger than any before. True: every
        request gets a new array filled with NaN (integers: their largest value), the reference the
        reuse is tested against.

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.get("x", (2, 3))
    >>> b = ws.get("x", (3, 2), np.float32)  # the same memory, another shape and dtype
    >>> np.shares_memory(a, b)
    True
    """

    def __init__(self, fresh: bool = False):
        self.fresh = bool(fresh)
        self._buffers: dict[str, np.ndarray] = {}  # raw bytes (float64-aligned), by name
        self._tensors: dict = {}  # torch buffers (get_torch), by name

    def get(self, name: str, shape, dtype=np.float64) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` whose contents are undefined (write before reading)."""
        dt = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        size = math.prod(shape)
        if self.fresh:
            fill = np.nan if dt.kind in "fc" else (np.iinfo(dt).max if dt.kind in "iu" else 0)
            return np.full(shape, fill, dtype=dt)
        words = -(-size * dt.itemsize // 8)  # held as float64 words: aligned for every numeric dtype
        buf = self._buffers.get(name)
        if buf is None or buf.size < words:
            self._buffers.pop(name, None)  # freed before the larger one is allocated
            buf = self._buffers[name] = np.empty(words, dtype=np.float64)
        return buf.view(np.uint8)[:size * dt.itemsize].view(dt).reshape(shape)

    def release(self, *names: str) -> None:
        """Free the named buffers (their memory goes back when no array viewing it is left)."""
        for name in names:
            self._buffers.pop(name, None)
            self._tensors.pop(name, None)

    def get_torch(self, name: str, shape, dtype):
        """The same for a torch tensor of torch ``dtype``, allocated by torch (so aligned as torch's own
        temporaries are: the matrix products see the memory layout they saw in a fresh tensor)."""
        import torch

        shape = tuple(int(n) for n in shape)
        size = math.prod(shape)
        if self.fresh:
            return torch.full(shape, math.nan, dtype=dtype)
        buf = self._tensors.get(name)
        if buf is None or buf.dtype != dtype or buf.numel() < size:
            self._tensors.pop(name, None)
            buf = self._tensors[name] = torch.empty(size, dtype=dtype)
        return buf[:size].view(shape)

    def nbytes(self) -> int:
        """Bytes held by the buffers (0 in ``fresh`` mode)."""
        return (sum(b.nbytes for b in self._buffers.values())
                + sum(t.numel() * t.element_size() for t in self._tensors.values()))

    def __repr__(self) -> str:
        n = len(self._buffers) + len(self._tensors)
        return f"Workspace({'fresh' if self.fresh else f'{n} buffers, {self.nbytes() / 2**20:.1f} MiB'})"
