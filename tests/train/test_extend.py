"""A finished run can be extended (``--resume --epochs 80``): it continues from its last step with a warm
restart of the cosine schedule over the new epochs."""

from __future__ import annotations

import json

import pytest
import torch

from pairs.errors import ConfigError
from pairs.methods import SimCLR
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer, load_checkpoint
from tests.helpers import AddNoise, FlatEncoder, blobs


def _fit(out, epochs: int, resume: bool = False, max_steps: int | None = None):
    torch.manual_seed(0)
    method = SimCLR(FlatEncoder(), projection_dim=8, hidden_dim=32, temperature=0.3)
    x, _ = blobs(64)
    loader = ViewLoader(x, AddNoise(0.2), n_views=2, batch_size=16, seed=0)
    config = TrainConfig(
        epochs=epochs, lr=1e-2, warmup_epochs=0.5, progress=False, out_dir=str(out), resume=resume,
        max_steps=max_steps, log_every=1,
    )  # fmt: skip
    return Trainer(method, config).fit(loader)


def test_a_finished_run_is_extended_with_a_restarted_cosine(tmp_path) -> None:
    first = _fit(tmp_path, epochs=2)
    assert first.global_step == 8
    before = load_checkpoint(tmp_path)["method"]
    extended = _fit(tmp_path, epochs=4, resume=True)
    assert extended.global_step == 16
    state = load_checkpoint(tmp_path)
    assert state["epoch"] == 4
    assert state["restart_step"] == 8
    assert any(not torch.equal(before[k], state["method"][k]) for k in before)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"] for r in rows if r["event"] == "step"}
    # the first schedule decays to ~0 at step 8; the extension restarts at the base rate and decays again
    assert lrs[8] < 1e-3
    assert lrs[9] == pytest.approx(1e-2 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi / 8)).item()), rel=1e-6)
    assert lrs[16] < lrs[12] < lrs[9]
    # an extended run resumes like any other: asking for the same 4 epochs again has nothing left to do
    again = _fit(tmp_path, epochs=4, resume=True)
    assert again.global_step == 16


def test_only_a_finished_run_can_change_its_epochs(tmp_path) -> None:
    _fit(tmp_path, epochs=4, max_steps=5)  # stopped inside its schedule
    with pytest.raises(ConfigError, match="only be extended to more epochs once it has finished"):
        _fit(tmp_path, epochs=8, resume=True)
    done = tmp_path / "done"
    _fit(done, epochs=2)
    with pytest.raises(ConfigError, match="planned for 2 epochs"):
        _fit(done, epochs=1, resume=True)
