"""Collapse monitor: embedding spread and effective rank of the method's embeddings during training.

A collapsed representation maps every input to (nearly) the same point, or to a low-dimensional subspace.
Chen & He (SimSiam, 2021) watch the per-dimension std of the L2-normalised output (about ``1/sqrt(D)`` when
healthy, 0 when collapsed); the effective rank (Roy & Vetterli 2007; used for SSL by Garrido et al. 2023,
RankMe) catches dimensional collapse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pairs.eval.metrics import effective_rank, embedding_std


@dataclass
class CollapseReport:
    """Figures of one check: ``std_ratio`` is the normalised std times ``sqrt(D)`` (about 1 when healthy)."""

    embedding_std: float
    std_ratio: float
    effective_rank: float
    dim: int
    collapsed: bool
    reason: str = ""


class CollapseMonitor:
    """Check embeddings for collapse.

    Args:
        std_threshold: collapse when ``embedding_std * sqrt(D)`` falls below this (default 0.1).
        rank_threshold: collapse when the effective rank falls below this (default 1.5, i.e. about one
            direction left).
        center: measure the std around the batch mean (subtract it before normalising). For methods whose
            embeddings share a large common offset by design (TS2Vec's max-pooled features are mostly
            positive, about 8x their spread), the uncentred check reads "collapsed" on healthy features.
            A collapse to one point still reads 0; the effective rank (always centred) still catches a
            collapse to a low-dimensional subspace.
    """

    def __init__(self, std_threshold: float = 0.1, rank_threshold: float = 1.5, center: bool = False) -> None:
        self.std_threshold = std_threshold
        self.rank_threshold = rank_threshold
        self.center = bool(center)

    @torch.no_grad()
    def check(self, embeddings: Tensor) -> CollapseReport:
        """Measure ``(N, D)`` embeddings (N >= 2)."""
        z = embeddings.detach().float()
        if z.dim() != 2 or z.shape[0] < 2:
            raise ValueError(f"the collapse monitor needs (N >= 2, D) embeddings, got shape {tuple(z.shape)}")
        std = float(embedding_std(z - z.mean(dim=0) if self.center else z))
        ratio = std * math.sqrt(z.shape[1])
        rank = float(effective_rank(z))
        reasons = []
        if ratio < self.std_threshold:
            reasons.append(f"embedding std x sqrt(D) = {ratio:.3g} < {self.std_threshold}")
        if rank < self.rank_threshold:
            reasons.append(f"effective rank {rank:.3g} < {self.rank_threshold}")
        return CollapseReport(std, ratio, rank, int(z.shape[1]), bool(reasons), "; ".join(reasons))
