"""CUDA against CPU: views (same drawn parameters), encoders (same weights), losses, and the streamed loader.

Marked ``cuda``; skipped on machines without a GPU. Views draw their parameters from a generator on the
batch's device, and CUDA and CPU generators give different numbers, so a view is compared by drawing its
parameters once on the CPU and replaying them on both devices.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import encoders
from pairs.losses import nt_xent
from pairs.pairing import ViewLoader
from pairs.views import audio as av
from pairs.views import image as iv
from pairs.views import temporal as tv
from tests.data.test_source import Streamed

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _to(params: Any, device: str) -> Any:
    if isinstance(params, torch.Tensor):
        return params.to(device)
    if isinstance(params, dict):
        return {k: _to(v, device) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return type(params)(_to(v, device) for v in params)
    return params


@pytest.mark.parametrize(
    "name, view, shape",
    [
        ("simclr", iv.simclr_view(32), (16, 3, 32, 32)),
        ("byol", iv.byol_views(32)[1], (16, 3, 32, 32)),
        ("speech", av.speech_view(16000), (8, 1, 16000)),
        ("series", tv.default_series_view(), (16, 3, 128)),
    ],
)
def test_views_replayed_on_cuda_match_cpu(name, view, shape):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    out_cpu, params = view(x, torch.Generator().manual_seed(1), return_params=True)
    out_cuda = view.replay(x.cuda(), _to(params, "cuda"))
    assert out_cuda.device.type == "cuda"
    torch.testing.assert_close(out_cuda.cpu(), out_cpu, atol=2e-4, rtol=1e-3)


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("small_cnn", {"in_channels": 3}, (8, 3, 32, 32)),
        ("resnet18", {"in_channels": 3}, (4, 3, 64, 64)),
        ("logmel_cnn", {"sample_rate": 16000}, (4, 1, 16000)),
        ("dilated_conv", {"in_channels": 2}, (4, 2, 64)),
    ],
)
def test_encoders_on_cuda_match_cpu(name, kwargs, shape):
    torch.manual_seed(0)
    net = encoders.get(name, **kwargs).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        cpu = net(x)
        gpu = net.cuda()(x.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=1e-3)


def test_nt_xent_value_and_gradient_on_cuda_match_cpu():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)
    grads = []
    values = []
    for device in ("cpu", "cuda"):
        za, zb = a.to(device).requires_grad_(), b.to(device).requires_grad_()
        loss = nt_xent(za, zb, temperature=0.2)
        loss.backward()
        values.append(loss.detach().cpu())
        grads.append(za.grad.cpu())
    torch.testing.assert_close(values[1], values[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-4)


def test_streamed_loader_moves_batches_to_cuda_with_the_cpu_order():
    x = torch.rand(64, 1, 8, 8)
    identity = iv.GaussianNoise(std=0.0, clip=False)
    cpu = ViewLoader(Streamed(x), identity, n_views=1, batch_size=16, seed=3, workers=1)
    gpu = ViewLoader(Streamed(x), identity, n_views=1, batch_size=16, seed=3, workers=1, device="cuda")
    for a, b in zip(cpu, gpu):
        assert b.views[0].device.type == "cuda"
        assert torch.equal(a.index, b.index)
        torch.testing.assert_close(b.views[0].cpu(), a.views[0])
