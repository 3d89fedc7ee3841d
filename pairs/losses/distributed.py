"""torch.distributed helpers for the losses: rank queries and an all-gather that passes gradients back.

Contrastive losses get better with more negatives, so under data parallelism every rank should see
the embeddings of the *global* batch (SimCLR, Chen et al. 2020, gathers across TPU cores; CLIP,
Radford et al. 2021, across GPUs). :func:`gather_with_grad` does that while keeping the gradient exact.
Everything here is the identity (or a constant) when torch.distributed is not initialised.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """``True`` when torch.distributed is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group, ``1`` when not distributed."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Rank of this process in the default group, ``0`` when not distributed."""
    return dist.get_rank() if is_distributed() else 0


def gather_sizes(n: int, device: torch.device | str = "cpu") -> list[int]:
    """All ranks' values of ``n`` (e.g. their local batch sizes), in rank order; ``[n]`` when not distributed.

    Args:
        n: this rank's value.
        device: device for the communication tensor (``cuda`` for NCCL, ``cpu`` for gloo).

    Returns:
        A list of ``world_size()`` ints.
    """
    if not is_distributed() or world_size() == 1:
        return [int(n)]
    t = torch.tensor([int(n)], dtype=torch.long, device=device)
    out = [torch.zeros_like(t) for _ in range(world_size())]
    dist.all_gather(out, t)
    return [int(v.item()) for v in out]


def _all_gather_padded(x: Tensor, sizes: list[int]) -> Tensor:
    """Concatenate every rank's ``x`` along dim 0 (sizes may differ between ranks; pad, gather, trim)."""
    longest = max(sizes)
    x = x.contiguous()
    if x.shape[0] < longest:
        pad = x.new_zeros((longest - x.shape[0], *x.shape[1:]))
        x = torch.cat([x, pad], dim=0)
    out = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(out, x)
    return torch.cat([o[:s] for o, s in zip(out, sizes, strict=True)], dim=0)


def all_gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate every rank's ``x`` along dim 0, without gradient (labels, queue keys).

    Shape:
        ``(n_r, ...)`` on rank ``r`` -> ``(sum_r n_r, ...)``; ``x`` itself when not distributed.
    """
    if not is_distributed() or world_size() == 1:
        return x
    with torch.no_grad():
        return _all_gather_padded(x.detach(), gather_sizes(x.shape[0], x.device))


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, sizes: list[int], rank_: int) -> Tensor:
        ctx.sizes = sizes
        ctx.rank = rank_
        return _all_gather_padded(x, sizes)

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None, None


def gather_with_grad_and_offset(x: Tensor) -> tuple[Tensor, int]:
    """Like :func:`gather_with_grad`, also returning where this rank's rows start in the result.

    Returns:
        ``(gathered, offset)`` with ``gathered[offset : offset + x.shape[0]]`` equal to ``x``.
    """
    if not is_distributed() or world_size() == 1:
        return x, 0
    sizes = gather_sizes(x.shape[0], x.device)
    r = rank()
    return _GatherWithGrad.apply(x, sizes, r), sum(sizes[:r])


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0, with gradients flowing back to every rank.

    Forward: an all-gather (ranks may hold different numbers of rows; they are padded for the
    collective and trimmed after). Backward: the incoming gradient of the *whole* gathered tensor is
    **summed over ranks** (all-reduce) and this rank's slice is returned.

    Why the all-reduce is right: let rank ``r`` compute a loss ``L_r`` from the gathered tensor. The
    gradient that rank ``r``'s rows ``x_r`` should receive is ``sum_{r'} dL_{r'}/dx_r`` (every rank's
    loss uses ``x_r``), and only the all-reduce brings the other ranks' terms here. DDP then
    *averages* parameter gradients over ranks, so the parameters receive the gradient of
    ``(1/W) sum_r L_r``. Two ways to use it both give the single-process gradient on the global batch:

    * every rank computes the loss of the global batch (``L_r = L`` for all ``r``): ``(1/W) W L = L``;
    * every rank computes the mean loss of its *local* anchors against the gathered candidates (what
      :func:`pairs.losses.nt_xent` does, ``W`` times cheaper): ``(1/W) sum_r L_r`` is the global mean
      when local batches have equal size.

    A plain ``torch.distributed.all_gather`` cuts the graph (other ranks' rows become constants), so
    the negatives' gradient is lost and the result is *not* the large-batch gradient.

    Args:
        x: this rank's tensor; all dims but the first must agree across ranks.

    Returns:
        The concatenation over ranks (rank order) along dim 0; ``x`` itself when not distributed.

    Shape:
        ``(n_r, ...)`` on rank ``r`` -> ``(sum_r n_r, ...)``.
    """
    return gather_with_grad_and_offset(x)[0]
