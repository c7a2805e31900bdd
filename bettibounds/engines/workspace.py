"""Output buffers a torch engine reuses chunk after chunk."""

from __future__ import annotations

import math

import torch

__all__ = ["Workspace"]


class Workspace:
    """Output buffers reused chunk after chunk.

    Fresh multi-megabyte CPU allocations are served by mmap and page-fault on first touch,
    which costs as much as the arithmetic; writing every large intermediate into a buffer
    kept for the whole run (``out=``) avoids that (CUDA's caching allocator avoids it by
    itself, the buffers just make the peak explicit).
    """

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype, self.device = dtype, device
        self._bufs: dict[str, torch.Tensor] = {}

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        return sum(b.numel() * b.element_size() for b in self._bufs.values())

    def get(self, name: str, shape: tuple) -> torch.Tensor:
        n = math.prod(shape)
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < n:
            buf = self._bufs[name] = torch.empty(n, dtype=self.dtype, device=self.device)
        return buf[:n].view(shape)
