"""Supervised contrastive learning (SupCon), in-batch or with a momentum encoder and a labeled queue.

Reference: Khosla et al. "Supervised Contrastive Learning", NeurIPS 2020. The queue variant follows
MoCo's key encoder and queue (He et al. 2020) with same-label queue keys counted as positives.
"""

from __future__ import annotations

import torch
from torch import nn

from pairs.losses import NegativeQueue, info_nce, supcon_loss
from pairs.losses._checks import check_temperature
from pairs.methods import register_method
from pairs.methods._checks import require_labels, require_views
from pairs.methods._momentum import MomentumTarget, check_momentum
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch

__all__ = ["SupCon"]


class SupCon(Method):
    """SupCon: every other view of a sample with the same label is a positive.

    Without a queue (``queue_size=0``) the loss is :func:`pairs.losses.supcon_loss` over all views of the
    batch. With a queue, a momentum key encoder embeds the views; each view's query is contrasted with the
    other view's key and the queue's keys, every same-label key being a positive
    (:func:`pairs.losses.info_nce` with labels); keys and labels are then enqueued.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: projection output size (128 in the paper).
        hidden_dim: projection hidden size (default ``min(2048, max(512, 4 * out_dim))``).
        temperature: 0.1 in the paper.
        n_views: views per sample (2).
        queue_size: 0 for in-batch SupCon, else the number of labeled keys kept.
        momentum: base momentum of the key encoder (queue variant only).
        gather_distributed: in-batch variant: positives and negatives from all ranks.

    Shape:
        views: ``n_views`` batches ``(B, ...)``, labels ``(B,)`` -> loss scalar; ``embeddings``:
        ``(n_views * B, projection_dim)``.
    """

    needs_labels = True

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.1,
        n_views: int = 2,
        queue_size: int = 0,
        momentum: float = 0.99,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__(encoder)
        self.temperature = float(check_temperature(temperature))
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0 (0 = no queue), got {queue_size}")
        if queue_size and n_views < 2:
            raise ValueError("SupCon with a queue contrasts a view with another view's key: use n_views >= 2")
        self.projection = self.projection_head(projection_dim, hidden_dim)
        self.n_views = int(n_views)
        self.gather_distributed = bool(gather_distributed)
        momentum = check_momentum(momentum)  # checked without a queue too
        self.key_encoder: MomentumTarget | None = None
        self.queue: NegativeQueue | None = None
        if queue_size:
            self.key_encoder = MomentumTarget(self.encoder, self.projection, momentum)
            self.queue = NegativeQueue(int(queue_size), projection_dim, store_labels=True)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, self.n_views, "SupCon")[: self.n_views]
        labels = require_labels(batch, "SupCon")
        z = [self.projection(f) for f in self.encode(views)]
        if self.queue is None:
            loss = supcon_loss(
                torch.stack(z), labels, self.temperature, gather_distributed=self.gather_distributed
            )
            return MethodOutput(loss, torch.cat(z).detach())
        assert self.key_encoder is not None
        k = self.key_encoder.embed(views)
        negatives, negative_labels = self.queue.get() if len(self.queue) > 0 else (None, None)
        losses = []
        for v in range(len(z)):
            other = k[(v + 1) % len(k)]
            losses.append(
                info_nce(
                    z[v],
                    other,
                    negatives,
                    temperature=self.temperature,
                    query_labels=labels,
                    negative_labels=negative_labels,
                )
            )
        loss = torch.stack(losses).mean()
        if self.training:
            self.queue.enqueue(torch.cat(k), labels.repeat(len(k)))
        return MethodOutput(loss, torch.cat(z).detach(), {"queue_fill": float(len(self.queue))})

    def on_after_optimizer_step(self, progress: float) -> None:
        if self.key_encoder is not None:
            self.key_encoder.follow(self.encoder, self.projection, progress)


register_method("supcon", SupCon)
