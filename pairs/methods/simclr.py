"""SimCLR: encoder + MLP projection head + NT-Xent over two (or more) views.

Reference: Chen, Kornblith, Norouzi, Hinton. "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020.
"""

from __future__ import annotations

import torch
from torch import nn

from pairs.losses import nt_xent
from pairs.losses._checks import check_temperature
from pairs.methods import register_method
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch


class SimCLR(Method):
    """SimCLR.

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: output size of the projection head (128 in the paper).
        hidden_dim: hidden size of the projection head (default: 2048, or the feature size if smaller x4).
        temperature: NT-Xent temperature (0.5 in the paper's CIFAR runs, 0.1-0.2 at large batch).
        n_views: number of views per sample (2 in the paper; more gives the multi-positive form).
        gather_distributed: gather embeddings from all ranks so every rank sees the global batch.

    Shape:
        views: ``n_views`` tensors ``(B, ...)`` -> loss scalar;
        ``embeddings``: ``(n_views * B, projection_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.5,
        n_views: int = 2,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__(encoder)
        if n_views < 2:
            raise ValueError(f"SimCLR needs at least 2 views per sample, got n_views={n_views}")
        self.projection = self.projection_head(projection_dim, hidden_dim)
        self.temperature = float(check_temperature(temperature))
        self.n_views = n_views
        self.gather_distributed = gather_distributed

    def forward(self, batch: ViewBatch) -> MethodOutput:
        features = self.encode(batch.views)
        z = torch.stack([self.projection(f) for f in features])  # (V, B, D)
        loss = nt_xent(z, temperature=self.temperature, gather_distributed=self.gather_distributed)
        return MethodOutput(loss, z.detach().flatten(0, 1))


register_method("simclr", SimCLR)
