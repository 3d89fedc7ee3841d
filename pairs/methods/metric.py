"""Metric learning on labels: Siamese training with the margin loss, triplet training with mining.

Pairs and triplets are formed inside each batch from its labels, so the batched :class:`ViewLoader`
(with ``labels``) feeds them like any other method.

References:
    Hadsell, Chopra, LeCun. "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006
    (contrastive margin loss). Schroff, Kalenichenko, Philbin. "FaceNet", CVPR 2015 (triplets, semi-hard
    mining). Hermans, Beyer, Leibe. "In Defense of the Triplet Loss for Person Re-Identification", 2017
    (batch-hard / batch-all).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pairs.losses import TripletMarginLoss, contrastive_margin_loss
from pairs.methods import register_method
from pairs.methods._checks import require_labels, require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch
from pairs.views.base import derive_seed

__all__ = ["Siamese", "Triplet", "batch_pairs"]

PAIRINGS = ("all", "balanced")


def batch_pairs(
    labels: Tensor, pairing: str = "balanced", generator: torch.Generator | None = None
) -> Tensor:
    """Index pairs ``(i, j)``, ``i < j``, of a labeled batch, and whether each is a same-label pair.

    Args:
        labels: integer labels ``(N,)``.
        pairing: ``"all"`` (every pair ``i < j``) or ``"balanced"`` (every same-label pair plus as many
            different-label pairs drawn without replacement; all of the smaller kind when one is scarce).
        generator: source of randomness for ``"balanced"`` (required then).

    Returns:
        ``(P, 3)`` long tensor of rows ``(i, j, similar)``.

    Raises:
        ValueError: unknown pairing, fewer than 2 labels, or ``"balanced"`` without a generator.

    Shape:
        labels ``(N,)`` -> ``(P, 3)``.
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    if labels.dim() != 1 or labels.numel() < 2:
        raise ValueError(f"pairs need labels of shape (N,) with N >= 2, got {tuple(labels.shape)}")
    i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
    similar = (labels[i] == labels[j]).long()
    rows = torch.stack([i, j, similar], dim=1)
    if pairing == "all":
        return rows
    if generator is None:
        raise ValueError('pairing="balanced" draws pairs at random: pass a torch.Generator')
    pos, neg = rows[similar == 1], rows[similar == 0]
    n = min(len(pos), len(neg))
    if n == 0:
        return rows
    pos = pos[torch.randperm(len(pos), generator=generator)[:n].to(labels.device)]
    neg = neg[torch.randperm(len(neg), generator=generator)[:n].to(labels.device)]
    return torch.cat([pos, neg])


class _MetricMethod(Method):
    """Shared parts: an embedding head on the encoder, L2-normalised embeddings, a step counter."""

    needs_labels = True
    step: Tensor

    def __init__(
        self, encoder: nn.Module, embedding_dim: int, hidden_dim: int | None, n_views: int, seed: int
    ) -> None:
        super().__init__(encoder)
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        self.projection = self.projection_head(embedding_dim, hidden_dim)
        self.n_views = int(n_views)
        self.seed = int(seed)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def _embed(self, batch: ViewBatch, name: str) -> tuple[Tensor, Tensor]:
        views = require_views(batch, self.n_views, name)[: self.n_views]
        labels = require_labels(batch, name)
        z = torch.cat([F.normalize(self.projection(f), dim=1) for f in self.encode(views)])
        return z, labels.to(z.device).repeat(len(views))

    def on_after_optimizer_step(self, progress: float) -> None:
        self.step += 1


class Siamese(_MetricMethod):
    """Siamese network trained with the contrastive margin loss on same/different-label pairs of a batch.

    Every view of every sample is embedded (L2-normalised); pairs are all index pairs of the batch or a
    balanced sample (all same-label pairs and as many different-label ones), drawn from a generator seeded
    by ``(seed, step)`` so a resumed run draws the same pairs.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        embedding_dim: embedding size.
        hidden_dim: hidden size of the embedding MLP.
        margin: margin ``m`` of the loss on unit vectors (distances lie in ``[0, 2]``).
        squared: Hadsell et al.'s squared form.
        pairing: ``"balanced"`` or ``"all"``.
        n_views: views per sample (1: labels alone define the pairs).
        seed: seed of the pair sampling.

    Shape:
        views: ``n_views`` batches ``(B, ...)``, labels ``(B,)`` -> loss scalar; ``embeddings``:
        ``(n_views * B, embedding_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        embedding_dim: int = 64,
        hidden_dim: int | None = None,
        margin: float = 1.0,
        squared: bool = True,
        pairing: str = "balanced",
        n_views: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(encoder, embedding_dim, hidden_dim, n_views, seed)
        if pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = float(margin)
        self.squared = bool(squared)
        self.pairing = pairing

    def forward(self, batch: ViewBatch) -> MethodOutput:
        z, labels = self._embed(batch, "Siamese")
        g = torch.Generator().manual_seed(derive_seed(self.seed, int(self.step)))
        pairs = batch_pairs(labels, self.pairing, g)
        loss = contrastive_margin_loss(
            z[pairs[:, 0]], z[pairs[:, 1]], pairs[:, 2], margin=self.margin, squared=self.squared
        )
        return MethodOutput(loss, z.detach(), {"pairs": float(len(pairs))})


class Triplet(_MetricMethod):
    """Triplet network: in-batch triplets from the labels, mined by :func:`pairs.losses.triplet_margin_loss`.

    Args:
        encoder, embedding_dim, hidden_dim: as in :class:`Siamese`.
        margin: triplet margin on unit vectors.
        mining: ``"semi_hard"`` (FaceNet), ``"batch_hard"`` or ``"batch_all"`` (Hermans et al.).
        distance: ``"euclidean"`` or ``"cosine"``.
        n_views: views per sample (the views of a sample share its label).

    Shape:
        as :class:`Siamese`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        embedding_dim: int = 64,
        hidden_dim: int | None = None,
        margin: float = 0.2,
        mining: str = "semi_hard",
        distance: str = "euclidean",
        n_views: int = 1,
    ) -> None:
        super().__init__(encoder, embedding_dim, hidden_dim, n_views, seed=0)
        self.criterion = TripletMarginLoss(margin=margin, mining=mining, distance=distance)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        z, labels = self._embed(batch, "Triplet")
        loss = self.criterion(z, labels)
        return MethodOutput(loss, z.detach())


register_method("siamese", Siamese)
register_method("triplet", Triplet)
