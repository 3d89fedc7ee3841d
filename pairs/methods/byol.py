"""BYOL (EMA target with a momentum schedule + predictor) and SimSiam (stop-gradient, no target).

Neither uses negatives; collapse is avoided by the predictor and the stop-gradient (plus BYOL's slowly
moving target). The trainer's collapse monitor logs the effective rank of the embeddings returned here.

References:
    Grill et al. "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning", NeurIPS 2020.
    Chen & He. "Exploring Simple Siamese Representation Learning", CVPR 2021.
"""

from __future__ import annotations

import torch
from torch import nn

from encoders.heads import PredictionHead
from pairs.losses import byol_loss, simsiam_loss
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods._momentum import MomentumTarget
from pairs.methods.base import Method, MethodOutput, projection_hidden_dim
from pairs.pairing import ViewBatch

__all__ = ["BYOL", "SimSiam"]


class BYOL(Method):
    """BYOL: online encoder + projector + predictor regress the EMA target's projection of the other view.

    ``loss = byol_loss(p1, z2') + byol_loss(p2, z1')`` with ``p = pred(proj(encoder(v)))`` and
    ``z' = proj_t(encoder_t(v))`` from the target (no gradient). After every optimizer step the target
    follows the online network with momentum ``tau = 1 - (1 - momentum)(cos(pi * progress) + 1) / 2``.
    BYOL's asymmetric views (blur/solarize probabilities) are :func:`pairs.views.image.byol_views`
    (``--views byol`` on colour images); on small grey digits the default views are used.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: projector output size (256 in BYOL).
        hidden_dim: hidden size of projector and predictor (4096 in BYOL; default
            ``min(2048, max(512, 4 * out_dim))``).
        momentum: base target momentum (0.996 in BYOL; 0.99 for short runs).
        final_momentum: target momentum at the end of training (1 in BYOL).

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)`` (online
        projections, for the collapse monitor).
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        momentum: float = 0.99,
        final_momentum: float = 1.0,
    ) -> None:
        super().__init__(encoder)
        hidden = projection_hidden_dim(self.feature_dim, hidden_dim)
        self.projection = self.projection_head(projection_dim, hidden)
        self.predictor = PredictionHead(projection_dim, hidden_dim=hidden, out_dim=projection_dim)
        self.target = MomentumTarget(self.encoder, self.projection, momentum, final_momentum)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "BYOL")[:2]
        z = [self.projection(f) for f in self.encode(views)]
        p = [self.predictor(x) for x in z]
        zt = self.target.embed(views)
        loss = byol_loss(p[0], zt[1]) + byol_loss(p[1], zt[0])
        return MethodOutput(loss, torch.cat(z).detach())

    def on_after_optimizer_step(self, progress: float) -> None:
        self.target.follow(self.encoder, self.projection, progress)


class SimSiam(Method):
    """SimSiam: a Siamese encoder + projector + bottleneck predictor with a stop-gradient.

    ``loss = (simsiam_loss(p1, z2) + simsiam_loss(p2, z1)) / 2`` where ``simsiam_loss`` is the negative
    cosine with ``z`` detached; no momentum network.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: projector output size (2048 in SimSiam).
        hidden_dim: projector hidden size (default ``min(2048, max(512, 4 * out_dim))``).
        predictor_dim: predictor bottleneck (512 for 2048-d in SimSiam; default ``projection_dim // 4``).

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 512,
        hidden_dim: int | None = None,
        predictor_dim: int | None = None,
    ) -> None:
        super().__init__(encoder)
        self.projection = self.projection_head(projection_dim, hidden_dim, n_layers=3, last_bn=True)
        self.predictor = PredictionHead(
            projection_dim, hidden_dim=predictor_dim or max(1, projection_dim // 4), out_dim=projection_dim
        )

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "SimSiam")[:2]
        z = [self.projection(f) for f in self.encode(views)]
        p = [self.predictor(x) for x in z]
        loss = 0.5 * (simsiam_loss(p[0], z[1]) + simsiam_loss(p[1], z[0]))
        return MethodOutput(loss, torch.cat(z).detach())


register_method("byol", BYOL)
register_method("simsiam", SimSiam)
