"""VICReg: variance-invariance-covariance regularisation of two views' expander outputs.

Reference: Bardes, Ponce, LeCun. "VICReg: Variance-Invariance-Covariance Regularization for
Self-Supervised Learning", ICLR 2022.
"""

from __future__ import annotations

import torch
from torch import nn

from pairs.losses.noncontrastive import vicreg_terms
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch

__all__ = ["VICReg"]


class VICReg(Method):
    """VICReg: encoder + 3-layer expander + ``sim * invariance + var * variance + cov * covariance``.

    The three unweighted terms are logged (``invariance``, ``variance``, ``covariance``).

    Args:
        encoder: backbone with an ``out_dim`` attribute.
        projection_dim: expander output size (8192 in the paper; 512 suits small encoders).
        hidden_dim: expander hidden size (default ``projection_dim``).
        sim_weight, var_weight, cov_weight: the paper's ``lambda = 25``, ``mu = 25``, ``nu = 1``.
        gather_distributed: variance/covariance over the global batch.

    Shape:
        views: 2 batches ``(B, ...)`` -> loss scalar; ``embeddings``: ``(2B, projection_dim)``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 512,
        hidden_dim: int | None = None,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__(encoder)
        for name, w in (("sim_weight", sim_weight), ("var_weight", var_weight), ("cov_weight", cov_weight)):
            if w < 0:
                raise ValueError(f"{name} must be >= 0, got {w}")
        self.projection = self.projection_head(projection_dim, hidden_dim or projection_dim, n_layers=3)
        self.weights = (float(sim_weight), float(var_weight), float(cov_weight))
        self.gather_distributed = bool(gather_distributed)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "VICReg")[:2]
        z = [self.projection(f) for f in self.encode(views)]
        terms = vicreg_terms(z[0], z[1], gather_distributed=self.gather_distributed)
        ws, wv, wc = self.weights
        loss = ws * terms["invariance"] + wv * terms["variance"] + wc * terms["covariance"]
        return MethodOutput(loss, torch.cat(z).detach(), {k: v.detach() for k, v in terms.items()})


register_method("vicreg", VICReg)
