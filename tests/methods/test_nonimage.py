"""Methods are domain-agnostic: MoCo and BYOL on time series with the dilated-conv encoder."""

from __future__ import annotations

import math

import pytest
import torch

import encoders
from pairs.methods import build_method
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views.base import Compose
from pairs.views.temporal import Jitter, Scaling


def series(n: int = 32, length: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 1, length)
    freq = 1.0 + 3.0 * torch.rand(n, 1, 1, generator=g)
    return torch.sin(2 * math.pi * freq * t) + 0.05 * torch.randn(n, 1, length, generator=g)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("mocov2", dict(projection_dim=8, hidden_dim=16, queue_size=24)),
        ("byol", dict(projection_dim=8, hidden_dim=16)),
    ],
)
def test_moco_and_byol_train_on_time_series(name, kwargs):
    torch.manual_seed(0)
    encoder = encoders.get("dilated_conv", in_channels=1, hidden=8, out_dim=8, depth=1)
    method = build_method(name, encoder, **kwargs)
    view = Compose([Jitter(0.05), Scaling(0.1)])
    loader = ViewLoader(series(), view, n_views=2, batch_size=16, seed=0)
    before = [p.detach().clone() for p in method.encoder.parameters()]
    result = Trainer(method, TrainConfig(epochs=2, lr=1e-2, warmup_epochs=0, progress=False)).fit(loader)
    assert all(math.isfinite(v) for v in result.epoch_losses)
    assert any(not torch.equal(b, p) for b, p in zip(before, method.encoder.parameters(), strict=True))
    if name == "mocov2":
        assert len(method.queue) == 24
    method.eval()
    with torch.no_grad():
        assert method.encoder(series(4)).shape == (4, 8)
