"""Checkpoint safety (issue #15 items 1-4, 8, 14): no NaN checkpoint, integrity on load, --overwrite keeps the
old run until the new one has a checkpoint, leftover temporaries removed on resume, usual file mode,
divergence seen by any layer is divergence."""

from __future__ import annotations

import json
import os
import zipfile

import pytest
import torch
from torch import nn

from pairs.errors import CheckpointError, OutputError, TrainingDiverged
from pairs.losses._checks import check_embeddings
from pairs.methods.base import Method
from pairs.train import TrainConfig, Trainer, load_checkpoint, save_checkpoint
from pairs.train.checkpoint import non_finite_entries
from tests.helpers import BreaksAt, FlatEncoder, StopAfter
from tests.train.test_trainer import config, make_loader, make_method


def _events(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_nan_gradient_on_the_last_step_of_an_epoch_keeps_the_last_finite_checkpoint(tmp_path):
    method = BreaksAt(6, "gradient")  # 3 steps per epoch: the last step of epoch 2 poisons the weights
    with pytest.raises(TrainingDiverged, match=r"epoch 2.*end of epoch 1\) is kept"):
        Trainer(method, config(tmp_path)).fit(make_loader())
    assert non_finite_entries(dict(method.named_parameters()))  # the weights really are NaN now
    state = load_checkpoint(tmp_path / "run")
    assert state["epoch"] == 1
    assert non_finite_entries({"method": state["method"], "optimizer": state["optimizer"]["state"]}) == []
    diverged = [r for r in _events(tmp_path / "run") if r["event"] == "diverged"]
    assert len(diverged) == 1
    assert diverged[0]["epoch"] == 2
    assert diverged[0]["kept_checkpoint_epoch"] == 1


def test_non_finite_optimizer_state_is_never_saved(tmp_path):
    trainer = Trainer(make_method(), config(tmp_path, epochs=1))
    trainer.fit(make_loader())
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    optimizer = torch.optim.AdamW(trainer.method.parameters())
    first = next(trainer.method.parameters())
    optimizer.state[first] = {"step": torch.tensor(1.0), "exp_avg": torch.full_like(first, float("inf"))}
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    with pytest.raises(TrainingDiverged, match=r"optimizer\.0\.exp_avg"):
        trainer._save(optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=False))
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


class _Cube(nn.Module):
    def forward(self, x):
        return x**3


class _Exploding(Method):
    """An unbounded objective: with a huge learning rate the embeddings overflow while every weight is
    still finite, and the method's own input check (as every loss has) sees it first."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), _Cube())
        encoder.out_dim = 8
        super().__init__(encoder)

    def forward(self, batch):
        z = check_embeddings(self.encoder(batch.views[0]), "z1", 2)
        return {"loss": -z.mean()}


def test_huge_learning_rate_is_divergence_whichever_layer_sees_it(tmp_path):
    cfg = config(tmp_path, epochs=3, lr=1e10, optimizer="sgd", warmup_epochs=0, weight_decay=0.0)
    with pytest.raises(
        TrainingDiverged, match="layer 'encoder.2' computed NaN/inf.*lower learning rate"
    ) as err:
        Trainer(_Exploding(), cfg).fit(make_loader())
    assert "z1 contains" in str(err.value.__cause__)  # the method's check saw it first: still divergence
    diverged = [r for r in _events(tmp_path / "run") if r["event"] == "diverged"]
    assert len(diverged) == 1
    assert diverged[0]["kept_checkpoint_epoch"] is None


def test_nan_in_the_data_stays_a_data_error(tmp_path):
    from pairs.pairing import ViewLoader
    from tests.helpers import AddNoise, blobs

    x, _ = blobs(96)
    x[40:] = float("nan")  # the second batch on: NaN comes from the data, not from training
    loader = ViewLoader(x, AddNoise(0.0), n_views=1, batch_size=32, shuffle=False)
    with pytest.raises(ValueError, match="z1 contains") as err:
        Trainer(_Exploding(), config(tmp_path, epochs=1, lr=1e-3)).fit(loader)
    assert not isinstance(err.value, TrainingDiverged)


def _flip_inside_member(path, member_suffix: str, n: int = 64) -> None:
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(member_suffix))
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        start = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2 - n // 2
        f.seek(start)
        data = bytearray(f.read(n))
        f.seek(start)
        f.write(bytes(b ^ 0xFF for b in data))


def test_flipped_bytes_inside_a_tensor_are_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    weights = torch.linspace(-1, 1, 4096)
    save_checkpoint({"epoch": 1, "method": {"w": weights}}, path)
    with zipfile.ZipFile(path) as archive:
        member = next(i.filename for i in archive.infolist() if "/data/" in i.filename)
    _flip_inside_member(path, member)
    damaged = torch.load(path, weights_only=True)  # torch itself does not notice: wrong weights
    assert not torch.equal(damaged["method"]["w"], weights)
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt.*integrity check.*CRC") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_empty_truncated_and_foreign_checkpoints_are_refused_naming_the_file(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint({"epoch": 1, "method": {"w": torch.randn(1000)}}, good)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for path, why in ((empty, "empty"), (truncated, "not the zip archive|damaged")):
        with pytest.raises(CheckpointError, match=why) as err:
            load_checkpoint(path)
        assert str(path) in str(err.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"w": torch.ones(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a pairs checkpoint"):
        load_checkpoint(foreign)


def test_checkpoint_has_the_mode_of_the_other_run_files(tmp_path):
    old = os.umask(0o022)
    try:
        Trainer(make_method(), config(tmp_path, epochs=1)).fit(make_loader())
    finally:
        os.umask(old)
    run = tmp_path / "run"
    mode = (run / "checkpoint.pt").stat().st_mode & 0o777
    assert mode == 0o644
    assert (
        mode == (run / "metrics.jsonl").stat().st_mode & 0o777 == (run / "config.json").stat().st_mode & 0o777
    )


def test_resume_removes_leftover_temporary_files(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        Trainer(make_method(), config(tmp_path, epochs=2), callbacks=[StopAfter(1)]).fit(make_loader())
    leftover = tmp_path / "run" / ".checkpoint.pt.k1ll3d.tmp"
    leftover.write_bytes(b"\0" * 4096)  # what a kill during a write leaves
    Trainer(make_method(), config(tmp_path, epochs=2, resume=True)).fit(make_loader())
    assert not leftover.exists()
    assert load_checkpoint(tmp_path / "run")["epoch"] == 2


class _FailsAt(Method):
    def __init__(self, at: int) -> None:
        super().__init__(FlatEncoder())
        self.at, self.calls = at, 0

    def forward(self, batch):
        self.calls += 1
        if self.calls >= self.at:
            raise RuntimeError("boom")
        z = self.encoder(batch.views[0])
        return {"loss": z.pow(2).mean(), "embeddings": z.detach()}


def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    Trainer(make_method(), config(tmp_path, epochs=1)).fit(make_loader())
    files = {name: (run / name).read_bytes() for name in ("checkpoint.pt", "metrics.jsonl", "config.json")}
    (run / "notes.txt").write_text("mine")

    with pytest.raises(RuntimeError, match="boom"):  # fails in epoch 1, before any checkpoint
        Trainer(_FailsAt(2), config(tmp_path, epochs=2, overwrite=True)).fit(make_loader())
    assert {name: (run / name).read_bytes() for name in files} == files
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "notes.txt",
    ]

    with pytest.raises(RuntimeError, match="boom"):  # fails in epoch 2, after its first checkpoint
        Trainer(_FailsAt(4), config(tmp_path, epochs=2, overwrite=True)).fit(make_loader())
    assert load_checkpoint(run)["epoch"] == 1
    assert (run / "checkpoint.pt").read_bytes() != files["checkpoint.pt"]
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "notes.txt",
    ]


def test_unwritable_run_directory_is_an_output_error(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError, match="Read-only file system"):
        Trainer(make_method(), config(tmp_path, epochs=1)).fit(make_loader())


def test_resume_of_a_checkpoint_lacking_the_trainer_state_is_refused(tmp_path):
    save_checkpoint({"epoch": 1, "train_config": {}}, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="lacks 'method'"):
        Trainer(
            make_method(), TrainConfig(epochs=4, progress=False, out_dir=str(tmp_path / "run"), resume=True)
        )
