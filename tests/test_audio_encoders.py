"""Audio encoders: CPC frame rate and receptive structure, the log-mel CNN's front end, registry, errors."""

from __future__ import annotations

import pytest
import torch
import torchaudio

import encoders
from encoders.audio import CPCEncoder, LogMelCNN


def test_cpc_one_frame_per_10ms_at_16khz() -> None:
    net = encoders.get("cpc_conv", out_dim=32)
    assert net.hop == 160
    frames = net.frames(torch.randn(2, 1, 16000))
    assert frames.shape == (2, 100, 32)
    assert net(torch.randn(3, 16000)).shape == (3, 32)
    strides = [m.stride[0] for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert strides == [5, 4, 2, 2, 2]


def test_cpc_is_causal_in_blocks() -> None:
    """A change late in the clip leaves the early frames untouched (finite receptive field)."""
    net = CPCEncoder(out_dim=16).eval()
    x = torch.randn(1, 1, 16000)
    y = x.clone()
    y[..., 12000:] += 1.0
    with torch.no_grad():
        a, b = net.frames(x), net.frames(y)
    torch.testing.assert_close(a[:, :70], b[:, :70])
    assert not torch.allclose(a[:, 80:], b[:, 80:])


def test_logmel_front_end_matches_torchaudio() -> None:
    net = LogMelCNN(sample_rate=16000, n_mels=40, width=8, out_dim=24).eval()
    x = torch.randn(2, 1, 8000)
    ref = torch.log(
        torchaudio.transforms.MelSpectrogram(16000, n_fft=512, hop_length=160, n_mels=40)(x[:, 0]) + 1e-6
    )
    ref = (ref - ref.mean((1, 2), keepdim=True)) / ref.std((1, 2), keepdim=True)
    torch.testing.assert_close(net.spectrogram(x)[:, 0], ref, atol=1e-4, rtol=1e-4)
    assert net(x).shape == (2, 24)


def test_stereo_is_averaged_and_grads_flow() -> None:
    net = encoders.get("logmel_cnn", width=8, out_dim=16)
    x = torch.randn(2, 2, 4000, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert set(encoders.available(domain="audio")) >= {"cpc_conv", "logmel_cnn"}


def test_bad_inputs() -> None:
    net = CPCEncoder(out_dim=8)
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        net(torch.randn(16000))
    with pytest.raises(ValueError, match="at least 160"):
        net(torch.randn(1, 1, 100))
    with pytest.raises(TypeError, match="floating"):
        net(torch.ones(1, 1, 400, dtype=torch.long))
    with pytest.raises(ValueError, match="out_dim"):
        CPCEncoder(out_dim=0)
