"""Choosing where torch models run, and moving batches there.

On CUDA the models run in half precision and batches travel from pinned host memory with
non-blocking copies, so the copy of one batch overlaps the work of the previous one.
"""

from __future__ import annotations

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when a GPU is visible, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("vision.device is 'cuda' but no CUDA device is visible")
    return torch.device(name)


def model_dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" else torch.float32


def to_device(array: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A numpy batch as a tensor on ``device`` in ``dtype``."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(dtype)
