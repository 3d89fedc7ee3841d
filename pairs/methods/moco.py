"""MoCo v2 (momentum key encoder + negatives queue) and MoCo v3 (symmetric, predictor, no queue).

References:
    He, Fan, Wu, Xie, Girshick. "Momentum Contrast for Unsupervised Visual Representation Learning",
    CVPR 2020 (MoCo). Chen, Fan, Girshick, He. "Improved Baselines with Momentum Contrastive Learning",
    arXiv:2003.04297 (MoCo v2). Chen, Xie, He. "An Empirical Study of Training Self-Supervised Vision
    Transformers", ICCV 2021 (MoCo v3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from encoders.heads import PredictionHead
from pairs.losses import NegativeQueue, info_nce
from pairs.losses._checks import check_temperature
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods._momentum import MomentumTarget
from pairs.methods.base import Method, MethodOutput, projection_hidden_dim
from pairs.pairing import ViewBatch

__all__ = ["MoCoV2", "MoCoV3"]


class MoCoV2(Method):
    """MoCo v2: a query encoder, a momentum key encoder and a queue of negative keys.

    Query ``q = proj(encoder(view1))``, key ``k = proj_m(encoder_m(view2))`` from the momentum copy; the
    loss is InfoNCE of ``q`` against ``k`` and the queue's keys (in-batch keys while the queue is empty).
    With ``symmetric=True`` the roles of the views are swapped too and both losses averaged. After each
    optimizer step the key encoder follows the query encoder by EMA (momentum on a cosine schedule from
    ``momentum`` to ``final_momentum``); the keys of the batch are enqueued in ``forward``.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: output size of the 2-layer projection MLP (128 in MoCo v2).
        hidden_dim: hidden size of the projection (default: ``min(2048, max(512, 4 * out_dim))``).
        temperature: InfoNCE temperature (0.2 in MoCo v2).
        queue_size: number of negative keys ``K`` (65536 on ImageNet; keep it below the dataset size).
        momentum: base momentum of the key encoder (0.999 in MoCo; lower for short runs).
        final_momentum: momentum at the end of training (cosine schedule; equal to ``momentum`` for a
            constant one, as in the paper).
        symmetric: use both views as queries (symmetrised loss).

    Raises:
        ValueError: bad sizes, temperature or momentum.

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)`` (queries).
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.2,
        queue_size: int = 512,
        momentum: float = 0.99,
        final_momentum: float = 1.0,
        symmetric: bool = True,
    ) -> None:
        super().__init__(encoder)
        self.projection = self.projection_head(projection_dim, hidden_dim)
        self.temperature = float(check_temperature(temperature))
        self.symmetric = bool(symmetric)
        self.key_encoder = MomentumTarget(self.encoder, self.projection, momentum, final_momentum)
        self.queue = NegativeQueue(int(queue_size), projection_dim)

    def _loss(self, q: Tensor, k: Tensor, negatives: Tensor | None) -> Tensor:
        return info_nce(q, k, negatives, temperature=self.temperature)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "MoCo v2")[:2]
        q = [self.projection(f) for f in self.encode(views)]
        k = self.key_encoder.embed(views)
        negatives = self.queue.get()[0] if len(self.queue) > 0 else None
        loss = self._loss(q[0], k[1], negatives)
        if self.symmetric:
            loss = 0.5 * (loss + self._loss(q[1], k[0], negatives))
        if self.training:
            self.queue.enqueue(torch.cat([k[1], k[0]]) if self.symmetric else k[1])
        return MethodOutput(loss, torch.cat(q).detach(), {"queue_fill": float(len(self.queue))})

    def on_after_optimizer_step(self, progress: float) -> None:
        self.key_encoder.follow(self.encoder, self.projection, progress)


class MoCoV3(Method):
    """MoCo v3: query encoder + projector + predictor, momentum key encoder, symmetric in-batch InfoNCE.

    ``q_i = pred(proj(encoder(view_i)))``, ``k_i = proj_m(encoder_m(view_i))``; the loss is
    ``2 * t * (InfoNCE(q1, k2) + InfoNCE(q2, k1)) / 2`` with in-batch negatives (no queue), scaled by
    ``2 t`` as in the paper's code. The projector and predictor end in BatchNorm-free linear layers
    (projector with ``last_bn``), as in MoCo v3.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: output size of the projector and predictor (256 in MoCo v3).
        hidden_dim: hidden size of projector and predictor (default as MoCo v2).
        temperature: InfoNCE temperature (0.2 in MoCo v3 for ViT; 1.0 for ResNet-50).
        momentum: base momentum of the key encoder (0.99 in MoCo v3), raised to ``final_momentum`` on a
            cosine schedule.
        final_momentum: momentum at the end of training.

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.2,
        momentum: float = 0.99,
        final_momentum: float = 1.0,
    ) -> None:
        super().__init__(encoder)
        hidden = projection_hidden_dim(self.feature_dim, hidden_dim)
        self.projection = self.projection_head(projection_dim, hidden, n_layers=3, last_bn=True)
        self.predictor = PredictionHead(projection_dim, hidden_dim=hidden, out_dim=projection_dim)
        self.temperature = float(check_temperature(temperature))
        self.key_encoder = MomentumTarget(self.encoder, self.projection, momentum, final_momentum)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "MoCo v3")[:2]
        z = [self.projection(f) for f in self.encode(views)]
        q = [self.predictor(x) for x in z]
        k = self.key_encoder.embed(views)
        t = self.temperature
        loss = t * (info_nce(q[0], k[1], temperature=t) + info_nce(q[1], k[0], temperature=t))
        return MethodOutput(loss, torch.cat(z).detach())

    def on_after_optimizer_step(self, progress: float) -> None:
        self.key_encoder.follow(self.encoder, self.projection, progress)


register_method("mocov2", MoCoV2)
register_method("mocov3", MoCoV3)
