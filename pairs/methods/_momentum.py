"""Momentum (EMA) targets shared by MoCo v2/v3, BYOL, DINO and SupCon with a queue (:class:`MomentumTarget`).

A target network is a frozen copy of an online network that follows it by an exponential moving average,
``target <- m * target + (1 - m) * online``, with ``m`` rising from a base value to 1 on a cosine schedule
over training (BYOL, Grill et al. 2020, sec. 3.2; DINO, Caron et al. 2021). The copy is a registered
submodule with ``requires_grad=False``, so its weights are in the ``state_dict`` (checkpoints restore it)
and the trainer's optimizer never sees them.
"""

from __future__ import annotations

import copy
import math
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from pairs.methods.base import encode_views
from pairs.validation import probability

__all__ = ["MomentumTarget", "copy_as_target", "cosine_momentum", "ema_update", "check_momentum"]


def check_momentum(value: object, name: str = "momentum") -> float:
    """Check a momentum in ``[0, 1]`` and return it as a float.

    Raises:
        SettingError: if ``value`` is not a real number (also a ``TypeError``).
        ConfigError: if it is outside ``[0, 1]`` (also a ``ValueError``).
    """
    return probability(name, value)


_M = TypeVar("_M", bound=nn.Module)


def copy_as_target(module: _M) -> _M:
    """A deep copy of ``module`` with every parameter frozen (``requires_grad=False``).

    Args:
        module: the online network.

    Returns:
        The target network (same weights and buffers, no gradients), of the same type as ``module``.
    """
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def cosine_momentum(base: float, progress: float, final: float = 1.0) -> float:
    """BYOL's schedule: ``final - (final - base) * (cos(pi * progress) + 1) / 2``.

    Args:
        base: momentum at the start (``progress = 0``), e.g. 0.996.
        progress: training progress in ``[0, 1]`` (clamped).
        final: momentum at the end (1 in BYOL and DINO).

    Returns:
        The momentum at ``progress``.

    Reference:
        Grill et al. 2020, "Bootstrap Your Own Latent", sec. 3.2:
        ``tau = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2``.
    """
    p = min(max(float(progress), 0.0), 1.0)
    return final - (final - base) * (math.cos(math.pi * p) + 1.0) / 2.0


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online`` for every parameter.

    Buffers (batch-norm running statistics) are not averaged: the target's own forward passes in training
    mode update them, as in BYOL's and MoCo's reference code.

    Args:
        target: the momentum network (same architecture as ``online``).
        online: the network trained by the optimizer.
        momentum: ``m`` in ``[0, 1]`` (1 keeps the target unchanged, 0 copies the online weights).

    Raises:
        ValueError: if the two networks do not have the same parameters.
    """
    m = check_momentum(momentum)
    t_params = list(target.parameters())
    o_params = list(online.parameters())
    if len(t_params) != len(o_params):
        raise ValueError(
            f"target and online networks differ: {len(t_params)} vs {len(o_params)} parameter tensors"
        )
    for t, o in zip(t_params, o_params, strict=True):
        if t.shape != o.shape:
            raise ValueError(
                f"target and online parameter shapes differ: {tuple(t.shape)} vs {tuple(o.shape)}"
            )
        t.mul_(m).add_(o.detach(), alpha=1.0 - m)


class MomentumTarget(nn.ModuleList):
    """The momentum target of an online ``(encoder, head)`` pair: frozen copies that follow it by EMA.

    MoCo's key encoder, BYOL's target, DINO's teacher and SupCon's queue encoder. It is an
    ``nn.ModuleList`` ``[encoder copy, head copy]`` (made by :func:`copy_as_target`), so the owner's
    ``state_dict`` holds it under the attribute's name (``key_encoder.0.*``, ``key_encoder.1.*``) and a
    checkpoint restores it. :meth:`follow`, called from the owner's ``on_after_optimizer_step``, moves it
    towards the online pair with the momentum of :func:`cosine_momentum` at the training progress.

    Args:
        encoder: the online encoder.
        head: the online head on the encoder's features (projection, DINO head).
        momentum: base momentum in ``[0, 1]`` (at the start of training).
        final_momentum: momentum in ``[0, 1]`` at the end of training (1 in BYOL and DINO; equal to
            ``momentum`` for a constant one).

    Raises:
        SettingError: a momentum that is not a real number (also a ``TypeError``).
        ConfigError: a momentum outside ``[0, 1]`` (also a ``ValueError``).
    """

    def __init__(
        self, encoder: nn.Module, head: nn.Module, momentum: float, final_momentum: float = 1.0
    ) -> None:
        super().__init__(copy_as_target(nn.ModuleList([encoder, head])))
        self.momentum = check_momentum(momentum)
        self.final_momentum = check_momentum(final_momentum, "final_momentum")

    def embed(self, views: list[Any]) -> list[Tensor]:
        """The target's ``head(encoder(view))`` of each view, without gradient (MoCo's keys, BYOL's targets).

        Shape:
            ``V`` views ``(B, ...)`` -> ``V`` tensors ``(B, head out_dim)``.
        """
        with torch.no_grad():
            return [self[1](f) for f in encode_views(self[0], views)]

    def follow(self, encoder: nn.Module, head: nn.Module, progress: float) -> float:
        """One EMA step towards the online ``encoder`` and ``head`` at training ``progress`` in ``[0, 1]``.

        Returns:
            The momentum used.
        """
        m = cosine_momentum(self.momentum, progress, self.final_momentum)
        ema_update(self, nn.ModuleList([encoder, head]), m)
        return m
