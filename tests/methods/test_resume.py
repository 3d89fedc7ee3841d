"""Checkpoint/resume per stateful method: a run killed after epoch 1 of 2 and resumed equals an unbroken run.

Covers the MoCo queue and key encoder, BYOL's target, MoCo v3's key encoder, SwAV's prototypes and freeze
counter (the freeze spans the interruption), DINO's teacher, centre and progress, SupCon's labeled queue.
"""

from __future__ import annotations

import pytest
import torch

from pairs.train import TrainConfig, Trainer, load_checkpoint
from tests.helpers import StopAfter
from tests.methods._tiny import loader, make

STATEFUL = ["mocov2", "mocov3", "byol", "swav", "dino", "supcon_queue"]


def _config(path, **kw) -> TrainConfig:
    return TrainConfig(epochs=2, lr=1e-2, warmup_epochs=0, progress=False, out_dir=str(path), seed=3, **kw)


@pytest.mark.parametrize("name", STATEFUL)
def test_resume_after_epoch_one_matches_unbroken_run(name, tmp_path):
    unbroken = make(name)
    Trainer(unbroken, _config(tmp_path / "a")).fit(loader(unbroken))

    broken = make(name)
    with pytest.raises(KeyboardInterrupt):
        Trainer(broken, _config(tmp_path / "b"), callbacks=[StopAfter(1)]).fit(loader(broken))
    saved = load_checkpoint(tmp_path / "b")
    assert saved["epoch"] == 1

    resumed = make(name, seed=123)  # different init: all state must come from the checkpoint
    Trainer(resumed, _config(tmp_path / "b", resume=True)).fit(loader(resumed))
    a, b = unbroken.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the state that makes resuming exact is in the checkpoint
    keys = set(saved["method"])
    expected = {
        "mocov2": ["queue.keys", "queue.ptr", "key_encoder.0.net.1.weight"],
        "mocov3": ["key_encoder.0.net.1.weight"],
        "byol": ["target.0.net.1.weight"],
        "swav": ["prototypes", "step"],
        "dino": ["teacher.0.net.1.weight", "criterion.center", "progress"],
        "supcon_queue": ["queue.keys", "queue.labels", "key_encoder.0.net.1.weight"],
    }[name]
    assert set(expected) <= keys
    if name == "swav":
        assert int(saved["method"]["step"]) == 2  # freeze (3 steps) still on at the interruption
        assert int(resumed.step) == 4
