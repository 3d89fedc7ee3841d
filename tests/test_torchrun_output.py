"""What is the same across process counts (README, "Distributed training"): the global batches; what is not:
the views, drawn per rank. Only rank 0 prints the --json line."""

from __future__ import annotations

import pytest
import torch

from pairs.pairing import ViewLoader
from tests.helpers import AddNoise, blobs


def test_global_batches_are_the_same_for_one_and_two_processes_but_views_are_drawn_per_rank() -> None:
    x, _ = blobs(64)
    one = ViewLoader(x, AddNoise(0.2), n_views=2, batch_size=16, seed=0, rank=0, world_size=1)
    ranks = [
        ViewLoader(x, AddNoise(0.2), n_views=2, batch_size=16, seed=0, rank=r, world_size=2) for r in (0, 1)
    ]
    for epoch in range(2):
        for loader in (one, *ranks):
            loader.set_epoch(epoch)
        for step in range(len(one)):
            whole = one.get_batch(step)
            parts = [r.get_batch(step) for r in ranks]
            assert torch.equal(whole.index, torch.cat([p.index for p in parts]))  # same samples, same order
            joined = torch.cat([p.views[0] for p in parts])
            assert not torch.equal(whole.views[0], joined)  # the views of those samples differ
            clean = x.index_select(0, whole.index)  # the views are of the same samples
            assert (joined - clean).abs().max() < 1.0
            assert (whole.views[0] - clean).abs().max() < 1.0


def test_only_rank_0_prints_the_json_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import pairs.cli as cli
    import pairs.experiment as experiment
    import pairs.train.distributed as distributed

    monkeypatch.setattr(experiment, "train", lambda *a, **k: {"data": "digits", "final_loss": 1.0})
    for main, printed in ((True, 1), (False, 0)):
        monkeypatch.setattr(distributed, "is_main_process", lambda main=main: main)
        assert cli.run(["train", "--json", "--no-progress"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert len(lines) == printed
