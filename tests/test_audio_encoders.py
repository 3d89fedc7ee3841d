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
    """A change late in the clip leaves the early frames untouched (finite receptive field; the per-clip
    input standardisation, on by default, is the only global statistic)."""
    net = CPCEncoder(out_dim=16, standardize=False).eval()
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
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
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


def tone_sequences(n: int, frames: int = 48, seg: int = 4, seed: int = 0, sr: int = 16000) -> torch.Tensor:
    """Waveforms with known predictable structure: segments of ``seg`` 10 ms frames, each a tone; the next
    segment's pitch is the next of a fixed cycle of 8 with probability 0.9 (else random); random phase and
    amplitude per clip, a little noise. Shape ``(n, 1, frames * 160)``."""
    g = torch.Generator().manual_seed(seed)
    freqs = torch.tensor([220.0, 330.0, 470.0, 650.0, 900.0, 1250.0, 1700.0, 2300.0])
    nseg = frames // seg
    s = torch.empty(n, nseg, dtype=torch.long)
    s[:, 0] = torch.randint(0, 8, (n,), generator=g)
    for i in range(1, nseg):
        jump = torch.rand(n, generator=g) > 0.9
        s[:, i] = torch.where(jump, torch.randint(0, 8, (n,), generator=g), (s[:, i - 1] + 1) % 8)
    f = freqs[s].repeat_interleave(seg * 160, dim=1)
    phase = torch.cumsum(2 * torch.pi * f / sr, dim=1) + 2 * torch.pi * torch.rand(n, 1, generator=g)
    amp = 0.1 + 0.5 * torch.rand(n, 1, generator=g)
    x = amp * torch.sin(phase) + 0.01 * torch.randn(n, frames * 160, generator=g)
    return x[:, None]


def test_waveform_encoder_learns_under_cpc() -> None:
    """The strided waveform conv (BatchNorm, the default) leaves the chance plateau within a few dozen CPC
    steps on predictable waveforms (with per-frame channel norm it stayed at chance for longer)."""
    from pairs.methods.cpc import CPC
    from pairs.pairing import ViewBatch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        x = tone_sequences(256)
        method = CPC(CPCEncoder(out_dim=32), steps=4, context_dim=32, negatives=8, acc_window=10)
        opt = torch.optim.Adam(method.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(1)
        for _ in range(40):
            idx = torch.randint(0, len(x), (16,), generator=g)
            out = method(ViewBatch([x[idx]], None, idx))
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
    finally:
        torch.set_num_threads(before)
    acc = method.step_accuracies()
    chance = 1 / (8 + 1)
    assert acc["acc_k1"] > chance + 0.35
    assert acc["acc_k1"] >= acc["acc_k4"]


def test_cpc_norm_modes() -> None:
    x = torch.randn(2, 1, 3200)
    for norm, kind in (
        ("batch", torch.nn.BatchNorm1d),
        ("channel", torch.nn.Module),
        ("none", torch.nn.Identity),
    ):
        net = CPCEncoder(out_dim=8, norm=norm).eval()
        assert net.frames(x).shape == (2, 20, 8)
        assert sum(isinstance(m, kind) for m in net.net) >= 5
    convs = [m for m in CPCEncoder(out_dim=8, norm="none").net if isinstance(m, torch.nn.Conv1d)]
    assert all(c.bias is not None for c in convs)
    with pytest.raises(ValueError, match="norm must be one of"):
        CPCEncoder(out_dim=8, norm="layer")


def test_cpc_standardized_input_is_gain_invariant() -> None:
    net = CPCEncoder(out_dim=16).eval()
    x = torch.randn(2, 1, 3200)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(0.01 * x + 0.2), atol=1e-4, rtol=1e-4)
        raw = CPCEncoder(out_dim=16, standardize=False).eval()
        assert not torch.allclose(raw(x), raw(0.01 * x), atol=1e-4)
