"""The Trainer: resume exactness, atomic checkpoints, run-directory safety, NaN stop, collapse monitor."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pairs.methods import SimCLR
from pairs.methods.base import Method
from pairs.pairing import ViewLoader
from pairs.train import (
    RunDirectoryExists,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    save_checkpoint,
    warmup_cosine,
)
from tests.helpers import AddNoise, BreaksAt, FlatEncoder, StopAfter, blobs


def make_method(seed: int = 0) -> SimCLR:
    torch.manual_seed(seed)
    return SimCLR(FlatEncoder(), projection_dim=8, hidden_dim=32, temperature=0.5)


def make_loader(seed: int = 0) -> ViewLoader:
    x, _ = blobs(96)
    return ViewLoader(x, AddNoise(0.3), n_views=2, batch_size=32, seed=seed)


def config(tmp_path, **kw) -> TrainConfig:
    base = dict(epochs=4, lr=1e-2, warmup_epochs=1, progress=False, out_dir=str(tmp_path / "run"), seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_checkpoint_every_n_epochs_and_after_the_last(tmp_path):
    from pairs.train.checkpoint import load_checkpoint

    saved = []

    def record(trainer, epoch_record):
        path = tmp_path / "run" / "checkpoint.pt"
        saved.append(load_checkpoint(path)["epoch"] if path.exists() else None)

    Trainer(make_method(), config(tmp_path, epochs=5, checkpoint_every=2), callbacks=[record]).fit(
        make_loader()
    )
    assert saved == [None, 2, 2, 4, 5]
    with pytest.raises(ValueError, match="checkpoint_every"):
        config(tmp_path, checkpoint_every=0).validate()


def test_loss_decreases_and_metrics_are_logged(tmp_path):
    method = make_method()
    result = Trainer(method, config(tmp_path, epochs=6)).fit(make_loader())
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    assert result.global_step == 6 * 3
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    events = [r["event"] for r in lines]
    assert events[0] == "start"
    assert events[-1] == "end"
    epochs = [r for r in lines if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, 7))
    monitored = [r for r in lines if "effective_rank" in r]
    assert monitored
    assert all(r["effective_rank"] > 1.5 for r in monitored)


def test_max_steps_stops_inside_an_epoch_and_saves_it(tmp_path):
    method = make_method()
    progress = []
    method.on_after_optimizer_step = progress.append  # what schedules (momentum, weight averages) see
    result = Trainer(method, config(tmp_path, epochs=10, max_steps=7)).fit(make_loader())  # 3 steps/epoch
    assert result.global_step == 7
    assert result.epochs == 3
    assert progress[-1] == pytest.approx(1.0)
    assert len(progress) == 7
    assert load_checkpoint(tmp_path / "run")["epoch"] == 3
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["total_epochs"] == 3
    assert [r["step"] for r in lines if r["event"] == "epoch"] == [3, 6, 7]
    assert any("effective_rank" in r and r["step"] == 7 for r in lines)  # monitored at the early stop
    # a cap above epochs x batches changes nothing
    again = Trainer(make_method(), config(tmp_path / "b", epochs=2, max_steps=100)).fit(make_loader())
    assert again.global_step == 6
    assert again.epochs == 2
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_steps"):
            config(tmp_path, max_steps=bad).validate()


def test_max_steps_equals_the_same_steps_of_a_longer_run(tmp_path):
    """A run capped at 6 steps is the first 6 steps of an uncapped constant-LR run: the cap only stops."""
    kw = dict(warmup_epochs=0, min_lr_ratio=1.0)
    capped, full = make_method(), make_method()
    Trainer(capped, config(tmp_path / "a", epochs=4, max_steps=6, **kw)).fit(make_loader())
    Trainer(full, config(tmp_path / "b", epochs=2, **kw)).fit(make_loader())
    for (name, a), (_, b) in zip(capped.state_dict().items(), full.state_dict().items()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("decay_all", [False, True])
def test_weight_decay_on_biases_only_when_asked(tmp_path, decay_all):
    method = make_method()
    trainer = Trainer(method, config(tmp_path, weight_decay=0.1, decay_all_parameters=decay_all))
    optimizer = trainer._build_optimizer([p for p in method.parameters() if p.requires_grad])
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    matrices = {id(p) for p in method.parameters() if p.ndim > 1}
    vectors = {id(p) for p in method.parameters() if p.ndim <= 1}  # biases, norm scales
    assert matrices
    assert vectors
    assert decayed == (matrices | vectors if decay_all else matrices)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(matrices | vectors)


def test_resume_after_epoch_two_matches_unbroken_run(tmp_path):
    unbroken = make_method()
    Trainer(unbroken, config(tmp_path / "a")).fit(make_loader())

    broken = make_method()
    with pytest.raises(KeyboardInterrupt):
        Trainer(broken, config(tmp_path / "b"), callbacks=[StopAfter(2)]).fit(make_loader())
    assert load_checkpoint(tmp_path / "b" / "run")["epoch"] == 2

    resumed = make_method(seed=123)  # different init: everything must come from the checkpoint
    result = Trainer(resumed, config(tmp_path / "b", resume=True)).fit(make_loader())
    assert result.resumed_from_epoch == 2
    for (name, a), (_, b) in zip(unbroken.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_resume_of_a_max_steps_run_ends_on_the_same_step_and_weights(tmp_path):
    kw = dict(epochs=10, max_steps=7)  # 3 steps per epoch: epochs 1-2 whole, epoch 3 stops after 1 step
    unbroken = make_method()
    Trainer(unbroken, config(tmp_path / "a", **kw)).fit(make_loader())
    broken = make_method()
    with pytest.raises(KeyboardInterrupt):
        Trainer(broken, config(tmp_path / "b", **kw), callbacks=[StopAfter(2)]).fit(make_loader())
    resumed = make_method(seed=123)
    result = Trainer(resumed, config(tmp_path / "b", resume=True, **kw)).fit(make_loader())
    assert result.resumed_from_epoch == 2
    assert result.global_step == 7
    for (name, a), (_, b) in zip(unbroken.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_resume_rejects_changed_settings(tmp_path):
    Trainer(make_method(), config(tmp_path, epochs=2)).fit(make_loader())
    with pytest.raises(ValueError, match="seed"):
        Trainer(make_method(), config(tmp_path, epochs=2, resume=True, seed=99))
    # fewer epochs are refused (more extend a finished run: tests/train/test_extend.py)
    with pytest.raises(ValueError, match="epochs"):
        Trainer(make_method(), config(tmp_path, epochs=1, resume=True)).fit(make_loader())


def test_existing_run_directory_is_not_clobbered(tmp_path):
    Trainer(make_method(), config(tmp_path, epochs=1)).fit(make_loader())
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    with pytest.raises(RunDirectoryExists, match="--resume"):
        Trainer(make_method(), config(tmp_path, epochs=1))
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    # a folder holding the user's own files is not a run, but it is not silently used either
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RunDirectoryExists):
        Trainer(make_method(), config(tmp_path, out_dir=str(tmp_path / "mine")))
    Trainer(make_method(), config(tmp_path, out_dir=str(tmp_path / "mine"), overwrite=True, epochs=1)).fit(
        make_loader()
    )
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"  # overwrite removes only run files
    with pytest.raises(ValueError, match="nothing to resume"):
        Trainer(make_method(), config(tmp_path, out_dir=str(tmp_path / "empty"), resume=True))


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    method = BreaksAt(5)  # 3 steps per epoch: epoch 1 completes, epoch 2 diverges
    with pytest.raises(TrainingDiverged, match="epoch 2.*lower learning rate.*end of epoch 1"):
        Trainer(method, config(tmp_path)).fit(make_loader())
    state = load_checkpoint(tmp_path / "run")
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["method"].values() if v.is_floating_point())


class _Collapsing(Method):
    """Maps everything to one point: the monitor must notice."""

    def __init__(self) -> None:
        super().__init__(FlatEncoder())

    def forward(self, batch):
        z = self.encoder(batch.views[0])
        constant = z * 0 + 1.0
        return {"loss": z.pow(2).mean(), "embeddings": constant.detach()}


def test_collapse_monitor_warns_and_logs(tmp_path):
    with pytest.warns(RuntimeWarning, match="collapse"):
        Trainer(_Collapsing(), config(tmp_path, epochs=1)).fit(make_loader())
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(r["event"] == "collapse_warning" for r in lines)


def test_centred_collapse_check_ignores_a_common_offset_but_not_a_collapse():
    from pairs.train.monitor import CollapseMonitor

    g = torch.Generator().manual_seed(0)
    spread = torch.randn(256, 16, generator=g)
    offset = 10.0 * torch.ones(16) + torch.rand(16, generator=g)  # features share an offset ~8x their spread
    assert CollapseMonitor().check(spread + offset).collapsed  # the uncentred check is fooled
    healthy = CollapseMonitor(center=True).check(spread + offset)
    assert not healthy.collapsed
    assert healthy.std_ratio > 0.8
    collapsed = CollapseMonitor(center=True).check(offset.expand(256, 16).clone())
    assert collapsed.collapsed
    assert collapsed.std_ratio < 1e-3


def test_gradient_accumulation_matches_large_batch_for_a_per_sample_loss(tmp_path):
    class MeanSquare(Method):
        n_views = 1

        def forward(self, batch):
            z = self.encoder(batch.views[0])
            return {"loss": z.pow(2).sum(1).mean()}

    x, _ = blobs(64)

    def run(batch_size, accumulate):
        torch.manual_seed(0)
        m = MeanSquare(FlatEncoder())
        loader = ViewLoader(x, AddNoise(0.0), n_views=1, batch_size=batch_size, shuffle=False)
        cfg = TrainConfig(
            epochs=2,
            lr=1e-2,
            optimizer="sgd",
            warmup_epochs=0,
            accumulate_steps=accumulate,
            progress=False,
            weight_decay=0.0,
        )
        Trainer(m, cfg).fit(loader)
        return m

    a, b = run(32, 1), run(16, 2)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_warmup_cosine_schedule():
    assert warmup_cosine(0, 100, 10) == pytest.approx(1 / 11)
    assert warmup_cosine(9, 100, 10) == pytest.approx(10 / 11)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, min_ratio=0.1) == pytest.approx(0.1)
    values = [warmup_cosine(s, 100, 10) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError):
        warmup_cosine(0, 0, 0)


def test_checkpoint_is_atomic_and_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["epoch"] == 1
    assert torch.equal(state["w"], torch.ones(3))
    assert not list(tmp_path.glob("*.tmp"))
    # a pickle with code in it is refused by weights_only loading
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"format": "pairs-checkpoint-v1", "x": Evil()}))
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_bad_config_is_rejected():
    for bad in (
        dict(epochs=0),
        dict(lr=-1.0),
        dict(lr=math.inf),
        dict(optimizer="lamb"),
        dict(amp="fp8"),
        dict(accumulate_steps=0),
        dict(resume=True, overwrite=True, out_dir="x"),
    ):
        with pytest.raises(ValueError):
            TrainConfig(**bad).validate()
    with pytest.raises(TypeError, match="unknown setting"):
        Trainer(make_method(), TrainConfig(progress=False), learning_rate=1.0)
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is not available (skipped on CUDA machines)")
        Trainer(make_method(), TrainConfig(device="cuda", progress=False))


def test_overrides_leave_the_callers_config_alone(tmp_path):
    config = TrainConfig(epochs=3, lr=1e-3, out_dir=None, progress=False)
    trainer = Trainer(SimCLR(FlatEncoder()), config, epochs=5, lr=2e-3)
    assert (trainer.config.epochs, trainer.config.lr) == (5, 2e-3)
    assert (config.epochs, config.lr) == (3, 1e-3)  # the caller's config is not changed
    with pytest.raises(TypeError, match="unknown setting 'epoch'"):
        Trainer(SimCLR(FlatEncoder()), config, epoch=5)


def test_python_api_errors_name_the_arguments(tmp_path):
    from pairs.errors import ConfigError
    from pairs.experiment import train

    with pytest.raises(ConfigError, match=r"out=DIR \(--out DIR on the command line\)"):
        train("digits", resume=True)
    with pytest.raises(ConfigError, match=r"batch_size, --batch-size"):
        train("digits", batch_size=1, epochs=1, out=str(tmp_path / "r"), progress=False)


def test_resuming_a_finished_run_reports_its_last_loss(tmp_path):
    x, _ = blobs(64)
    config = TrainConfig(epochs=2, lr=1e-2, out_dir=str(tmp_path / "run"), progress=False, seed=0)
    loader = ViewLoader(x, AddNoise(0.1), n_views=2, batch_size=32, seed=0)
    first = Trainer(make_method(), config).fit(loader)
    again = Trainer(make_method(), config, resume=True).fit(loader)  # nothing left to train
    assert again.epoch_losses == []
    assert again.final_loss == first.final_loss  # the last epoch's loss, not NaN
