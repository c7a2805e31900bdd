"""Devices and precisions of torch computations: one resolution for every engine (imports torch)."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import DeviceError, InvalidSpecError
from .memory import available_bytes

__all__ = ["DTYPES", "resolve_dtype", "resolve_device", "free_memory", "dtype_name"]

DTYPES = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}


def dtype_name(dtype: Any) -> str:
    """'float64' / 'float32' for a torch or numpy dtype or a string (other names as they print)."""
    return str(dtype).replace("torch.", "").strip().lower()


def resolve_dtype(dtype: Any) -> torch.dtype:
    """torch.float64 or torch.float32 from any accepted spelling; anything else is refused."""
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float64, torch.float32):
            return dtype
    elif isinstance(dtype, str) and dtype.strip().lower() in DTYPES:
        return DTYPES[dtype.strip().lower()]
    raise InvalidSpecError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


def resolve_device(device: Any) -> torch.device:
    """The torch device of ``device``: None means CUDA when torch sees a GPU, else the CPU.

    Raises
    ------
    InvalidSpecError
        A malformed device name.
    DeviceError
        CUDA (or that CUDA index) is not available on this machine.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidSpecError(
            f"device must be None (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:<index>', got {device!r}"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidSpecError(f"device {device!r} is not supported; accepted: None, 'cpu', 'cuda', 'cuda:<index>'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {str(device)!r} was requested but CUDA is not available to torch "
                f"{torch.__version__} on this machine; use the CPU (--device cpu, or device='cpu' in Python) or let "
                f"the tool choose (--device auto, device=None)"
            )
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise DeviceError(f"device {str(device)!r} does not exist: this machine has {n} CUDA device(s)")
    return dev


def free_memory(device: torch.device) -> int:
    """Bytes currently available on ``device`` (CUDA: free + torch's cached blocks; CPU: what the
    OS reports available)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(cached, 0))
    return available_bytes()
