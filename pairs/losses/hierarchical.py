"""TS2Vec's hierarchical contrastive loss: instance and temporal contrast at several max-pooled scales.

Two encodings ``z1, z2`` of the same timestamps (the overlap of two crops, each seen in its own context
and with its own timestamp mask) are contrasted

* *across instances* (:func:`instance_contrastive_loss`): at each timestamp ``t``, ``z1[i, t]`` must pick
  ``z2[i, t]`` out of the ``2B - 1`` other representations of that timestamp in the batch;
* *across time* (:func:`temporal_contrastive_loss`): in each series ``i``, ``z1[i, t]`` must pick
  ``z2[i, t]`` out of the ``2T - 1`` other timestamps of both encodings of that series;

then both are max-pooled over time by a factor 2 and contrasted again, until one timestamp is left
(:func:`hierarchical_contrastive_loss`). Similarities are raw dot products (no normalisation, no
temperature), as in the reference code.

Each term is ``mean(LSE) - mean(positive logit)``: the ``-log_softmax`` of the positive, averaged over
anchors, is the mean log-sum-exp over the anchor's candidates minus the mean positive similarity, and
the positive similarity ``<z1[i, t], z2[i, t]>`` is the same for both directions. The log-sum-exps are
those of a self-similarity with the diagonal left out, one problem per series (``2T`` timestamps,
temporal) or per timestamp (``2B`` series, instance), computed by
:func:`pairs.losses.tiled.self_logsumexp`: dense while the ``(G, N, N)`` logits fit in 64 MiB, else
in tiles (each pair of tiles of the symmetric matrix once, nothing of size ``N^2`` kept for backward),
so the temporal term of long series runs at the rate of its matrix products in bounded memory.

The functions follow ``models/losses.py`` of the reference implementation (zhihanyue/ts2vec) term for term;
the tests compare them with a transcription of it. Half-precision inputs are computed in float32.

Reference:
    Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", AAAI, section 3.3 and
    Algorithm 1.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pairs.losses._checks import check_embeddings, check_same_kind, finite_loss
from pairs.losses.tiled import _self_lse, check_mode, resolve_block_size
from pairs.validation import HALF_DTYPES

__all__ = [
    "HierarchicalContrastiveLoss",
    "hierarchical_contrastive_loss",
    "instance_contrastive_loss",
    "temporal_contrastive_loss",
]

_HALF = HALF_DTYPES


def _check_pair(z1: object, z2: object, owner: str) -> tuple[Tensor, Tensor]:
    for name, z in (("z1", z1), ("z2", z2)):
        # check_embeddings refuses what every loss refuses (a non-tensor, a wrong rank or dtype, an empty or
        # non-finite tensor); rank and dtype are checked first here for messages of this loss's own: the
        # (B, T, D) layout with the fix for pooled representations, and the dtype
        if isinstance(z, Tensor) and z.dim() != 3:
            raise ValueError(
                f"{owner}: {name} must be per-timestamp representations (B, T, D), got shape "
                f"{tuple(z.shape)}; encode with pooled=False"
            )
        if isinstance(z, Tensor) and not z.is_floating_point():
            raise TypeError(f"{owner}: {name} must be floating point, got {z.dtype}")
        check_embeddings(z, f"{owner}: {name}", 3)
    assert isinstance(z1, Tensor) and isinstance(z2, Tensor)
    check_same_kind(("z1", z1), ("z2", z2))
    if z1.shape != z2.shape:
        raise ValueError(
            f"{owner}: z1 and z2 must have the same shape (the same timestamps of the same series), got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    if z1.dtype in _HALF or z2.dtype in _HALF:
        z1, z2 = z1.float(), z2.float()
    return z1, z2


def _contrast(z: Tensor, pos: Tensor, mode: str, block_size: int | tuple[int, int] | None) -> Tensor:
    """``mean_i -log softmax_i(positive)`` for ``G`` problems of ``N`` candidates each.

    ``z (G, N, D)`` holds the representations, ``pos`` the positive similarity of each anchor pair (its
    two anchors share it). The result is ``mean(LSE over the other N - 1) - mean(pos)``.
    """
    lse = _self_lse(z.contiguous(), 1.0, True, None, mode, block_size)  # z was checked by _check_pair
    return lse.mean() - pos.mean()


def _contrast_along(
    z1: Tensor, z2: Tensor, dim: int, name: str, mode: str, block_size: int | tuple[int, int] | None
) -> Tensor:
    """Instance (``dim=0``: one problem per timestamp over the ``2B`` series) or temporal (``dim=1``: one
    problem per series over the ``2T`` timestamps) contrast of checked ``(B, T, D)`` inputs."""
    z1, z2 = _check_pair(z1, z2, name)
    check_mode(mode)
    resolve_block_size(block_size)
    if z1.shape[dim] == 1:
        return z1.new_tensor(0.0)
    z = torch.cat([z1, z2], dim=dim)
    if dim == 0:
        z = z.transpose(0, 1)  # (T, 2B, D): one problem per timestamp
    return _contrast(z, (z1 * z2).sum(dim=-1), mode, block_size)


@finite_loss
def instance_contrastive_loss(
    z1: Tensor, z2: Tensor, *, mode: str = "auto", block_size: int | tuple[int, int] | None = None
) -> Tensor:
    """TS2Vec's instance-wise contrastive loss.

    At each timestamp, the ``2B`` representations ``z1[:, t]`` and ``z2[:, t]`` form one softmax problem:
    the positive of ``z1[i, t]`` is ``z2[i, t]`` (and vice versa); the other ``2B - 2`` series are
    negatives. The loss is the mean over timestamps and the ``2B`` anchors. A batch of one series has no
    negatives and gives 0.

    Args:
        z1: ``(B, T, D)`` representations of the first crop's overlap.
        z2: ``(B, T, D)`` representations of the same timestamps from the second crop.
        mode: ``"auto"`` (dense while the logits take at most 64 MiB, tiled above), ``"dense"`` or
            ``"tiled"``; the same value and gradient either way.
        block_size: tile budget of the tiled path (see :func:`pairs.losses.tiled.self_logsumexp`).

    Returns:
        Scalar loss (float32 for half-precision inputs).

    Raises:
        TypeError, ValueError: on non-tensors, a rank other than 3, or different shapes.

    Shape:
        ``(B, T, D), (B, T, D) -> ()``.

    Reference:
        Yue et al. 2022 (TS2Vec), Eq. 3; ``instance_contrastive_loss`` in the reference code.
    """
    return _contrast_along(z1, z2, 0, "instance_contrastive_loss", mode, block_size)


@finite_loss
def temporal_contrastive_loss(
    z1: Tensor, z2: Tensor, *, mode: str = "auto", block_size: int | tuple[int, int] | None = None
) -> Tensor:
    """TS2Vec's temporal contrastive loss.

    In each series, the ``2T`` representations ``z1[i]`` and ``z2[i]`` form one softmax problem: the
    positive of ``z1[i, t]`` is ``z2[i, t]`` (and vice versa); the other ``2T - 2`` timestamps are
    negatives. The loss is the mean over series and the ``2T`` anchors. A single timestamp gives 0.

    Args, returns, raises and shape: as :func:`instance_contrastive_loss`.

    Reference:
        Yue et al. 2022 (TS2Vec), Eq. 2; ``temporal_contrastive_loss`` in the reference code.
    """
    return _contrast_along(z1, z2, 1, "temporal_contrastive_loss", mode, block_size)


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1] (the weight of instance contrast), got {alpha!r}")
    return float(alpha)


def _check_unit(temporal_unit: object) -> int:
    if (
        isinstance(temporal_unit, bool)
        or not isinstance(temporal_unit, numbers.Integral)
        or temporal_unit < 0
    ):
        raise ValueError(f"temporal_unit must be an int >= 0, got {temporal_unit!r}")
    return int(temporal_unit)


@finite_loss
def hierarchical_contrastive_loss(
    z1: Tensor,
    z2: Tensor,
    alpha: float = 0.5,
    temporal_unit: int = 0,
    *,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
) -> Tensor:
    """TS2Vec's hierarchical contrastive loss (Algorithm 1 of the paper).

    At scale ``d = 0, 1, ...`` the loss adds ``alpha * instance + (1 - alpha) * temporal`` contrast (the
    temporal term only from scale ``temporal_unit`` on), then max-pools both inputs over time with kernel
    2 (an odd last timestamp is dropped, as ``F.max_pool1d`` does), until one timestamp is left, where only
    instance contrast is added. The sum is divided by the number of scales.

    Args:
        z1: ``(B, T, D)`` representations of the overlapping timestamps, from the first crop.
        z2: ``(B, T, D)`` the same timestamps from the second crop.
        alpha: weight of instance contrast (``1 - alpha`` for temporal contrast); TS2Vec uses 0.5.
        temporal_unit: the first scale at which temporal contrast is used (TS2Vec's ``temporal_unit``).
        mode: ``"auto"``, ``"dense"`` or ``"tiled"`` for every term (see
            :func:`temporal_contrastive_loss`).
        block_size: tile budget of the tiled path.

    Returns:
        Scalar loss (float32 for half-precision inputs).

    Raises:
        TypeError, ValueError: on bad representations (see :func:`instance_contrastive_loss`), ``alpha``
            outside [0, 1] or a negative ``temporal_unit``.

    Shape:
        ``(B, T, D), (B, T, D) -> ()``.

    Reference:
        Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", Algorithm 1;
        ``hierarchical_contrastive_loss`` in the reference code.

    Example:
        >>> z1, z2 = torch.randn(8, 50, 16), torch.randn(8, 50, 16)
        >>> hierarchical_contrastive_loss(z1, z2).shape
        torch.Size([])
    """
    z1, z2 = _check_pair(z1, z2, "hierarchical_contrastive_loss")
    alpha = _check_alpha(alpha)
    temporal_unit = _check_unit(temporal_unit)
    check_mode(mode)
    resolve_block_size(block_size)
    kw = {"mode": mode, "block_size": block_size}
    loss = z1.new_zeros(())
    d = 0
    while z1.shape[1] > 1:
        if alpha != 0:
            loss = loss + alpha * instance_contrastive_loss(z1, z2, **kw)
        if d >= temporal_unit and 1 - alpha != 0:
            loss = loss + (1 - alpha) * temporal_contrastive_loss(z1, z2, **kw)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.shape[1] == 1:
        if alpha != 0:
            loss = loss + alpha * instance_contrastive_loss(z1, z2, **kw)
        d += 1
    return loss / d


class HierarchicalContrastiveLoss(nn.Module):
    """Module form of :func:`hierarchical_contrastive_loss`.

    Args:
        alpha: weight of instance contrast (``1 - alpha`` for temporal contrast).
        temporal_unit: the first scale at which temporal contrast is used.

    Shape:
        ``(B, T, D), (B, T, D) -> ()``.

    Reference:
        Yue et al. 2022 (TS2Vec).
    """

    def __init__(self, alpha: float = 0.5, temporal_unit: int = 0) -> None:
        super().__init__()
        self.alpha = _check_alpha(alpha)
        self.temporal_unit = _check_unit(temporal_unit)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return hierarchical_contrastive_loss(z1, z2, self.alpha, self.temporal_unit)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, temporal_unit={self.temporal_unit}"
