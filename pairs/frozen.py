"""Run a module frozen: eval mode, no gradients, optionally on another device; everything put back after.

Evaluation, feature extraction and dry passes all need the same four steps (remember the mode and the
device, switch to eval mode and the target device, turn off autograd, restore both afterwards, also on an
error). :func:`frozen` does them once for all.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5)).train()
    >>> with frozen(net):
    ...     out = net(torch.ones(1, 3))
    >>> net.training, out.requires_grad
    (True, False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["device_of", "frozen"]


def device_of(module: nn.Module) -> torch.device | None:
    """The device of the module's first parameter (or buffer); ``None`` for a module without tensors."""
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return None


@contextlib.contextmanager
def frozen(module: nn.Module | None, device: torch.device | str | None = None) -> Iterator[None]:
    """Eval mode and ``torch.no_grad()`` for the block, on ``device`` if given; mode and device restored.

    Args:
        module: the module (``None``: only ``no_grad``, for plain callables).
        device: where the module runs during the block (``None``: where it is).
    """
    if module is None:
        with torch.no_grad():
            yield
        return
    was_training = module.training
    old_device = device_of(module) if device is not None else None
    module.eval()
    if device is not None:
        module.to(device)
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
        if old_device is not None:
            module.to(old_device)
