"""torch.distributed set-up for runs launched with ``torchrun`` (gloo on CPU, nccl on CUDA)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched_distributed() -> bool:
    """True when started by ``torchrun`` (or any launcher setting ``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> torch.device:
    """Initialise the default process group from the environment if launched distributed.

    Uses gloo for CPU and nccl for CUDA; on CUDA each process takes GPU ``LOCAL_RANK``.

    Returns:
        The device this process should use.
    """
    if not launched_distributed() or dist.is_initialized():
        return device
    if device.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return device


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed)."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: float, device: torch.device) -> float:
    """Mean of a Python number over ranks (the number itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()
