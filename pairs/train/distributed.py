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


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the backward sums the incoming gradients over ranks as well.

    This is the convention of :func:`pairs.losses.distributed.gather_with_grad`: every rank computes the
    loss on global quantities, so local gradients are ``world_size`` times the true ones, and DDP's
    averaging brings them back.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch normalisation over the global batch of all ranks, on any device (CPU included).

    ``torch.nn.SyncBatchNorm`` only runs on CUDA; this layer all-reduces the per-channel sums and sums of
    squares (with gradients), so a model trained on ``W`` processes of ``B/W`` samples normalises exactly
    as one process on ``B`` samples. Outside distributed training it is an ordinary batch norm.

    Shape:
        ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``; output the same.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if not (self.training and distributed):
            return super().forward(x)
        self._check_input_dim(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        count = x.new_tensor([x.numel() / channels], dtype=torch.float64)
        stats = torch.cat([x.double().sum(dims), (x.double() * x.double()).sum(dims), count])
        stats = _AllReduceSum.apply(stats)
        n = stats[-1]
        mean = stats[:channels] / n
        var = (stats[channels : 2 * channels] / n - mean * mean).clamp_min(0)
        run_mean, run_var, tracked = self.running_mean, self.running_var, self.num_batches_tracked
        if self.track_running_stats and run_mean is not None and run_var is not None and tracked is not None:
            with torch.no_grad():
                momentum = 0.1 if self.momentum is None else self.momentum
                run_mean.mul_(1 - momentum).add_(momentum * mean.to(run_mean))
                unbiased = var * n / (n - 1).clamp_min(1)
                run_var.mul_(1 - momentum).add_(momentum * unbiased.to(run_var))
                tracked.add_(1)
        shape = [1, channels] + [1] * (x.dim() - 2)
        y = (x - mean.to(x.dtype).view(shape)) * torch.rsqrt(var.to(x.dtype).view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Make every batch-norm layer normalise over the global batch under torch.distributed.

    CUDA modules get ``torch.nn.SyncBatchNorm``; CPU modules get :class:`GlobalBatchNorm`. Parameters and
    running statistics are kept. Returns the (possibly new) module; a no-op when not distributed.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return module
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_global_bn(module)


def _to_global_bn(module: torch.nn.Module) -> torch.nn.Module:
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        replaced = _to_global_bn(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module
