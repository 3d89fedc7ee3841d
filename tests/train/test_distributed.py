"""Two gloo processes on CPU: SimCLR under DDP sees the global batch; loss and gradients equal one process.

Also runs the Trainer itself under 2 processes (torch.distributed initialised the way ``torchrun`` does,
through environment variables) and checks that only rank 0 writes the run directory and that both ranks
end with identical weights.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist

from pairs.methods import SimCLR
from pairs.pairing import ViewBatch, ViewLoader
from pairs.train import TrainConfig, Trainer, load_checkpoint
from pairs.train.distributed import convert_batchnorm
from tests.helpers import AddNoise, FlatEncoder, blobs, free_port, spawn_workers

GLOBAL_BATCH = 16


def _method() -> SimCLR:
    torch.manual_seed(0)
    return SimCLR(FlatEncoder(), projection_dim=8, hidden_dim=32, temperature=0.3)


def _global_views() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(GLOBAL_BATCH, 1, 8, 8, generator=g) for _ in range(2)]


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # 1. one step: this rank's half of the global batch through DDP
        method = convert_batchnorm(_method(), torch.device("cpu"))
        model = torch.nn.parallel.DistributedDataParallel(method)
        per = GLOBAL_BATCH // world
        views = [v[rank * per : (rank + 1) * per] for v in _global_views()]
        out = model(ViewBatch(views, None, torch.arange(per)))
        out["loss"].backward()  # DDP averages the gradients over ranks
        grads = {n: p.grad.clone() for n, p in method.named_parameters()}
        torch.save({"loss": out["loss"].detach(), "grads": grads}, os.path.join(out_dir, f"step{rank}.pt"))

        # 2. the Trainer under torch.distributed (as launched by torchrun)
        x, _ = blobs(64)
        trainer_method = _method()
        cfg = TrainConfig(epochs=2, lr=1e-2, progress=False, out_dir=os.path.join(out_dir, "run"), seed=0)
        loader = ViewLoader(x, AddNoise(0.2), n_views=2, batch_size=16, seed=0)
        assert loader.world_size == world
        assert loader.rank == rank
        Trainer(trainer_method, cfg).fit(loader)
        torch.save(trainer_method.state_dict(), os.path.join(out_dir, f"final{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_process_on_the_global_batch(tmp_path):
    world = 2
    spawn_workers(_worker, (world, free_port(), str(tmp_path)), world)

    method = _method()
    out = method(ViewBatch(_global_views(), None, torch.arange(GLOBAL_BATCH)))
    out["loss"].backward()
    steps = [torch.load(tmp_path / f"step{rank}.pt", weights_only=True) for rank in range(world)]
    # each rank's loss covers its own anchors against the global batch; their mean is the global loss
    mean_loss = torch.stack([s["loss"] for s in steps]).mean()
    torch.testing.assert_close(mean_loss, out["loss"].detach(), rtol=1e-6, atol=1e-6)
    for got in steps:
        for name, p in method.named_parameters():
            torch.testing.assert_close(got["grads"][name], p.grad, rtol=1e-5, atol=1e-6, msg=name)

    finals = [torch.load(tmp_path / f"final{r}.pt", weights_only=True) for r in range(world)]
    for name in finals[0]:
        assert torch.equal(finals[0][name], finals[1][name]), name
    state = load_checkpoint(tmp_path / "run")
    assert state["epoch"] == 2
    for name, value in finals[0].items():
        assert torch.equal(state["method"][name], value), name
    assert not list((tmp_path / "run").glob("*.tmp"))


def _never_exits(rank: int) -> None:
    import time

    time.sleep(3600)


def test_a_hung_worker_fails_the_test_instead_of_stalling_the_run():
    with pytest.raises(pytest.fail.Exception, match=r"workers \[0\] did not exit"):
        spawn_workers(_never_exits, (), 1, deadline=1.0)
