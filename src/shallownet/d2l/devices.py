"""The book's device helpers, which also find an Apple GPU (MPS) when there is no CUDA one."""

from __future__ import annotations

import torch

from shallownet.runtime import mps_available

__all__ = ["try_gpu", "try_all_gpus", "cpu", "gpu", "num_gpus"]


def try_gpu(i: int = 0) -> torch.device:
    """GPU ``i`` (``cuda:i``) if it exists; else, for ``i == 0``, Apple's ``mps``; else the CPU."""
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f"cuda:{i}")
    if i == 0 and mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Every CUDA GPU; else ``[mps]`` on an Apple GPU; else ``[cpu]``."""
    devices = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    if devices:
        return devices
    return [torch.device("mps")] if mps_available() else [torch.device("cpu")]


def cpu() -> torch.device:
    """The CPU device."""
    return torch.device("cpu")


def gpu(i: int = 0) -> torch.device:
    """CUDA GPU ``i`` (``cuda:i``), whether or not it exists (see :func:`try_gpu`)."""
    return torch.device(f"cuda:{i}")


def num_gpus() -> int:
    """The number of CUDA GPUs."""
    return torch.cuda.device_count()
