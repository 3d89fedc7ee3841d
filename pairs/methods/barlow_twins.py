"""Barlow Twins: make the cross-correlation of two views' projections the identity.

Reference: Zbontar, Jing, Misra, LeCun, Deny. "Barlow Twins: Self-Supervised Learning via Redundancy
Reduction", ICML 2021.
"""

from __future__ import annotations

import torch
from torch import nn

from pairs.losses import barlow_twins_loss
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch

__all__ = ["BarlowTwins"]


class BarlowTwins(Method):
    """Barlow Twins: encoder + 3-layer projector + the redundancy-reduction loss.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: projector output size (8192 in the paper; 512 suits small encoders).
        hidden_dim: projector hidden size (default: ``projection_dim``, as in the paper).
        lambda_offdiag: weight of the off-diagonal term (5.1e-3 in the paper's code for 8192-d).
        gather_distributed: cross-correlation over the global batch.

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 512,
        hidden_dim: int | None = None,
        lambda_offdiag: float = 5e-3,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__(encoder)
        self.projection = self.projection_head(projection_dim, hidden_dim or projection_dim, n_layers=3)
        self.lambda_offdiag = float(lambda_offdiag)
        self.gather_distributed = bool(gather_distributed)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "Barlow Twins")[:2]
        z = [self.projection(f) for f in self.encode(views)]
        loss = barlow_twins_loss(
            z[0], z[1], lambda_offdiag=self.lambda_offdiag, gather_distributed=self.gather_distributed
        )
        return MethodOutput(loss, torch.cat(z).detach())


register_method("barlow_twins", BarlowTwins)
