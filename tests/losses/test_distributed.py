"""Tests for pairs.losses.distributed: identity without a process group, and with 2 gloo processes on
CPU the gathered losses give (after DDP-style gradient averaging) the single-process loss and parameter
gradients on the global batch."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch import nn

from pairs.losses import distributed as D
from pairs.losses.contrastive import clip_loss, info_nce, nt_xent
from pairs.losses.queue import NegativeQueue
from tests.helpers import gloo_ranks

WORLD = 2
GLOBAL_B = 8
DIM_IN, DIM_OUT = 6, 5
UNEVEN = ["nt_xent", "supcon_single_view", "info_nce_labels", "clip"]


def test_identity_when_not_distributed():
    assert not D.is_distributed()
    assert D.world_size() == 1 and D.rank() == 0
    x = torch.randn(3, 2, requires_grad=True)
    assert D.gather_with_grad(x) is x
    assert D.gather_with_grad_and_offset(x) == (x, 0)
    assert D.all_gather_no_grad(x) is x
    assert D.gather_sizes(3) == [3]
    # gather_distributed=True is harmless in a single process
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.equal(nt_xent(z1, z2, gather_distributed=True), nt_xent(z1, z2))


# --------------------------------------------------------------------------------------------------
# the 2-process run
# --------------------------------------------------------------------------------------------------
def _cases():
    """name -> fn(z1, z2, z3, labels, gather) -> loss."""
    return {
        "nt_xent": lambda z1, z2, z3, y, g: nt_xent(z1, z2, temperature=0.3, gather_distributed=g),
        "nt_xent_tiled": lambda z1, z2, z3, y, g: nt_xent(
            z1, z2, temperature=0.3, mode="tiled", block_size=3, gather_distributed=g
        ),
        "nt_xent_3views": lambda z1, z2, z3, y, g: nt_xent(torch.stack([z1, z2, z3]), gather_distributed=g),
        "supcon": lambda z1, z2, z3, y, g: nt_xent(z1, z2, labels=y, temperature=0.2, gather_distributed=g),
        "supcon_single_view": lambda z1, z2, z3, y, g: nt_xent(
            z1, labels=y, temperature=0.2, gather_distributed=g
        ),
        "dcl": lambda z1, z2, z3, y, g: nt_xent(z1, z2, labels=y, decoupled=True, gather_distributed=g),
        "info_nce": lambda z1, z2, z3, y, g: info_nce(z1, z2, temperature=0.2, gather_distributed=g),
        "info_nce_labels": lambda z1, z2, z3, y, g: info_nce(z1, z2, query_labels=y, gather_distributed=g),
        "clip": lambda z1, z2, z3, y, g: clip_loss(z1, z2, temperature=0.1, gather_distributed=g),
        "clip_tiled": lambda z1, z2, z3, y, g: clip_loss(
            z1, z2, mode="tiled", block_size=2, gather_distributed=g
        ),
    }


def _run_case(fn, lin, xs, y, gather, reduction_sum=False):
    lin.zero_grad()
    z1, z2, z3 = (lin(x) for x in xs)
    loss = fn(z1, z2, z3, y, gather)
    loss.backward()
    return loss.detach(), [p.grad.detach().clone() for p in lin.parameters()]


def _compute(rank: int) -> dict:
    """One rank's results (run in each gloo process by :func:`gloo_ranks`)."""
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(GLOBAL_B, DIM_IN, generator=g, dtype=torch.float64) for _ in range(3)]
    labels = torch.tensor([0, 1, 2, 0, 1, 3, 0, 2])
    base = nn.Linear(DIM_IN, DIM_OUT).double()
    with torch.no_grad():
        for p in base.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    res: dict = {"rank": D.rank(), "world": D.world_size(), "is_dist": D.is_distributed()}

    def one(name, fn, sizes, reduce_op):
        start = sum(sizes[:rank])
        sl = slice(start, start + sizes[rank])
        lin_d = nn.Linear(DIM_IN, DIM_OUT).double()
        lin_d.load_state_dict(base.state_dict())
        loss, grads = _run_case(fn, lin_d, [x[sl] for x in xs], labels[sl], True)
        dist.all_reduce(loss)  # the loss as the mean (or sum) over ranks
        if reduce_op == "mean":
            loss /= WORLD
        for gr in grads:  # what DDP does to parameter gradients
            dist.all_reduce(gr)
            gr /= WORLD
        lin_s = nn.Linear(DIM_IN, DIM_OUT).double()
        lin_s.load_state_dict(base.state_dict())
        loss_s, grads_s = _run_case(fn, lin_s, xs, labels, False)
        if reduce_op == "sum":  # DDP averages: the gradient of the global sum, divided by W
            grads_s = [gs / WORLD for gs in grads_s]
        res[name] = (loss, grads, loss_s, grads_s)

    for name, fn in _cases().items():
        one(name, fn, [4, 4], "mean")
    # uneven local batches: the "mean" is scaled so that the mean over ranks is the global mean
    for name in UNEVEN:
        one(name + "_uneven", _cases()[name], [3, 5], "mean")
    # uneven local batches: with reduction="sum" the per-rank losses add up to the global loss
    one(
        "nt_xent_uneven_sum",
        lambda z1, z2, z3, y, gg: nt_xent(z1, z2, labels=y, reduction="sum", gather_distributed=gg),
        [3, 5],
        "sum",
    )

    # gather_with_grad itself: each rank weights the gathered tensor differently
    x = torch.full((rank + 1, 2), float(rank + 1), dtype=torch.float64, requires_grad=True)  # sizes 1, 2
    gathered, offset = D.gather_with_grad_and_offset(x)
    w = torch.arange(gathered.numel(), dtype=torch.float64).reshape(gathered.shape) * (rank + 1)
    (gathered * w).sum().backward()
    res["gather"] = (gathered.detach(), offset, x.grad.clone())

    # a queue that gathers keys and labels before enqueueing
    q = NegativeQueue(10, 2, store_labels=True, gather_distributed=True)
    q.enqueue(torch.full((2, 2), float(rank)), torch.full((2,), rank))
    res["queue"] = q.get()
    return res


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    return gloo_ranks(_compute, tmp_path_factory.mktemp("dist"), WORLD)


def test_ranks_see_the_process_group(two_rank_results):
    for r, res in enumerate(two_rank_results):
        assert res["rank"] == r and res["world"] == WORLD and res["is_dist"]


@pytest.mark.parametrize("name", [*_cases(), *(n + "_uneven" for n in UNEVEN), "nt_xent_uneven_sum"])
def test_distributed_loss_and_grads_equal_single_process(two_rank_results, name):
    for res in two_rank_results:
        loss, grads, loss_s, grads_s = res[name]
        assert abs(float(loss) - float(loss_s)) <= 1e-10 * abs(float(loss_s)), name
        for gd, gs in zip(grads, grads_s, strict=True):
            err = float((gd - gs).abs().max() / gs.abs().max())
            assert err <= 1e-10, f"{name}: relative gradient error {err:.2e}"


def test_gather_with_grad_all_reduces_the_gradient(two_rank_results):
    # rank r holds r + 1 rows of value r + 1, so gathered = [1], [2, 2];
    # rank r weights the gathered tensor by (r + 1) * arange
    expected_gathered = torch.tensor([[1.0, 1.0], [2.0, 2.0], [2.0, 2.0]], dtype=torch.float64)
    w = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    total = w * 1 + w * 2  # the sum over ranks of d(loss_r)/d(gathered)
    for r, res in enumerate(two_rank_results):
        gathered, offset, grad = res["gather"]
        assert torch.equal(gathered, expected_gathered)
        assert offset == [0, 1][r]
        assert torch.equal(grad, total[offset : offset + r + 1])


def test_queue_gathers_across_ranks(two_rank_results):
    keys0, lab0 = two_rank_results[0]["queue"]
    keys1, lab1 = two_rank_results[1]["queue"]
    assert torch.equal(keys0, keys1) and torch.equal(lab0, lab1)
    assert sorted(lab0.tolist()) == [0, 0, 1, 1] and keys0.shape == (4, 2)
