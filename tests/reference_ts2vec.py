"""A transcription of ``models/losses.py`` of zhihanyue/ts2vec (the TS2Vec reference implementation), the slow
reference that ``tests/test_ts2vec.py`` and ``benchmarks/bench_tiled_losses.py`` compare the library's
hierarchical loss with. The tail that upstream's instance and temporal losses repeat (the logits without
self-similarity and the two positive diagonals) is written once, in ``_positive_pairs_loss``, with the
same operations in the same order."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ref_hierarchical", "ref_instance", "ref_temporal"]


def ref_hierarchical(z1, z2, alpha=0.5, temporal_unit=0):
    loss = torch.tensor(0.0, device=z1.device, dtype=z1.dtype)
    d = 0
    while z1.size(1) > 1:
        if alpha != 0:
            loss += alpha * ref_instance(z1, z2)
        if d >= temporal_unit:
            if 1 - alpha != 0:
                loss += (1 - alpha) * ref_temporal(z1, z2)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.size(1) == 1:
        if alpha != 0:
            loss += alpha * ref_instance(z1, z2)
        d += 1
    return loss / d


def ref_instance(z1, z2):
    B = z1.size(0)
    if B == 1:
        return z1.new_tensor(0.0)
    z = torch.cat([z1, z2], dim=0).transpose(0, 1)
    return _positive_pairs_loss(z, B)


def ref_temporal(z1, z2):
    T = z1.size(1)
    if T == 1:
        return z1.new_tensor(0.0)
    z = torch.cat([z1, z2], dim=1)
    return _positive_pairs_loss(z, T)


def _positive_pairs_loss(z, n):
    """``z`` ``(S, 2n, D)``: rows ``k`` and ``n + k`` of each slice are a positive pair, every other row of
    the slice a negative; the mean cross-entropy of both directions (upstream's shared tail)."""
    sim = torch.matmul(z, z.transpose(1, 2))
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    i = torch.arange(n, device=z.device)
    return (logits[:, i, n + i - 1].mean() + logits[:, n + i, i].mean()) / 2
