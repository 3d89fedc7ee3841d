"""Graph contrastive losses: GraphCL's graph-level loss and GRACE's node-level loss.

The methods that train with them are :class:`pairs.methods.graphcl.GraphCL` and
:class:`pairs.methods.grace.GRACE` (which re-export these functions from their old place).

References:
    You, Chen, Sui, Chen, Wang, Shen. "Graph Contrastive Learning with Augmentations", NeurIPS 2020
    (GraphCL); Zhu, Xu, Yu, Liu, Wu, Wang. "Deep Graph Contrastive Representation Learning", ICML 2020 GRL+
    workshop (GRACE).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pairs.errors import ConfigError
from pairs.losses._checks import check_same_kind, check_temperature, loss_dtype
from pairs.losses.contrastive import nt_xent

__all__ = ["graphcl_loss", "grace_loss"]


def graphcl_loss(z1: Tensor, z2: Tensor, temperature: float = 0.2) -> Tensor:
    """GraphCL's loss: each graph of view 1 against its view 2 (positive) and the *other* graphs of view 2.

    ``loss = mean_n [ log sum_{m != n} exp(s_nm / t) - s_nn / t ]``, ``s_nm = cos(z1_n, z2_m)``. This is
    GraphCL's ``loss_cal`` (``-log(pos / (sum - pos))``) computed as a log-sum-exp, so it does not
    overflow at small temperatures.

    Args:
        z1: projections of the first view ``(G, D)``.
        z2: projections of the second view ``(G, D)``; row ``n`` is the same graph as ``z1[n]``.
        temperature: ``t > 0`` (GraphCL: 0.2).

    Returns:
        The scalar loss (float32 for half inputs).

    Raises:
        TypeError: for non-tensor or non-float inputs.
        ValueError: for shapes other than two equal ``(G, D)`` with ``G >= 2``, NaN/inf values, or
            ``temperature <= 0``.

    Shape:
        ``z1`` ``(G, D)``, ``z2`` ``(G, D)`` -> ``()``.

    Reference:
        You et al. 2020, "Graph Contrastive Learning with Augmentations", eq. (3).
    """
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, Tensor):
            raise TypeError(f"graphcl_loss: {name} must be a torch.Tensor (G, D), got {type(z).__name__}")
        if not z.is_floating_point():
            raise TypeError(f"graphcl_loss: {name} must be floating point, got {z.dtype}")
        if z.dim() != 2:
            raise ValueError(f"graphcl_loss: {name} must be (G, D), got shape {tuple(z.shape)}")
    check_same_kind(("z1", z1), ("z2", z2))
    if z1.shape != z2.shape:
        raise ValueError(
            f"graphcl_loss: both views must hold the same graphs, got shapes {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}"
        )
    if z1.shape[0] < 2:
        raise ConfigError(
            f"graphcl_loss needs at least 2 graphs per batch (the other graphs are the negatives), got "
            f"{z1.shape[0]}"
        )
    if not (torch.isfinite(z1).all() and torch.isfinite(z2).all()):
        raise ValueError("graphcl_loss: the embeddings hold NaN or inf")
    t = check_temperature(temperature)
    dtype = loss_dtype(z1.dtype)
    a = nn.functional.normalize(z1.to(dtype), dim=1)
    b = nn.functional.normalize(z2.to(dtype), dim=1)
    logits = a @ b.t() / t
    positive = logits.diagonal()
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    negatives = logits.masked_fill(eye, float("-inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


def grace_loss(h1: Tensor, h2: Tensor, temperature: float = 0.5) -> Tensor:
    """GRACE's loss on projected node embeddings (``Model.loss`` with ``mean=True``).

    For node ``i`` of view 1, ``l1_i = -log e(s(h1_i, h2_i)) / (sum_j e(s(h1_i, h1_j)) - e(s(h1_i, h1_i))
    + sum_j e(s(h1_i, h2_j)))`` with ``e(x) = exp(x / t)`` and cosine ``s``; ``l2`` swaps the views; the
    loss is ``mean((l1 + l2) / 2)``. It equals NT-Xent over the ``2 N`` rows.

    Args:
        h1: projected nodes of view 1 ``(N, D)``.
        h2: projected nodes of view 2 ``(N, D)``; row ``i`` is the same node.
        temperature: ``tau > 0`` (GRACE's configs: 0.3 to 0.9; Cora 0.4).

    Returns:
        The scalar loss.

    Raises:
        TypeError, ValueError: on non-float tensors, shapes that differ or have ``N < 2``, NaN/inf,
            ``temperature <= 0``.

    Shape:
        ``h1`` ``(N, D)``, ``h2`` ``(N, D)`` -> ``()``.
    """
    if isinstance(h1, Tensor) and isinstance(h2, Tensor) and h1.shape != h2.shape:
        raise ValueError(
            f"grace_loss: both views must hold the same nodes, got shapes {tuple(h1.shape)} and "
            f"{tuple(h2.shape)}"
        )
    return nt_xent(h1, h2, temperature=temperature)
