"""Audio encoders: CPC's strided convolutions on raw waveform and a log-mel CNN.

* :class:`CPCEncoder` ("cpc_conv"): the encoder of Contrastive Predictive Coding (van den Oord et al.
  2018): five 1-D convolutions with kernels 10, 8, 4, 4, 4 and strides 5, 4, 2, 2, 2 (total stride 160:
  one vector per 10 ms at 16 kHz), 512 channels, ReLU. ``frames(x)`` gives the per-frame vectors
  ``(B, T', D)``, ``forward`` averages them over time to ``(B, D)``. A LayerNorm over channels at each
  frame (wav2vec 2.0's ``layer_norm`` mode; the CPC paper used none) keeps it stable on small batches
  while every frame still depends only on its own receptive field (465 samples).
* :class:`LogMelCNN` ("logmel_cnn"): a torchaudio mel spectrogram front end (log-compressed,
  per-example normalised) and a small 2-D CNN of conv-BN-ReLU blocks with max pooling, global average
  pooled to ``(B, out_dim)``. SpecAugment masks apply to its front end's output.

Inputs are waveforms ``(B, C, T)`` (channels averaged to mono) or ``(B, T)``.

References:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding".
    Schneider et al. 2019, "wav2vec: Unsupervised Pre-training for Speech Recognition" (normalisation).
    Saeed et al. 2021, "Contrastive Learning of General-Purpose Audio Representations" (log-mel COLA).
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from encoders.registry import register

__all__ = ["CPCEncoder", "LogMelCNN"]


def _pos_int(v: object, name: str, owner: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")
    return int(v)


def _mono(x: object, owner: str, min_len: int) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{owner} expects a torch.Tensor waveform batch (B, C, T) or (B, T), got {type(x).__name__}"
        )
    if x.dim() not in (2, 3):
        raise ValueError(f"{owner} expects a waveform batch (B, C, T) or (B, T), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{owner} expects floating-point audio, got {x.dtype}; use x.float()")
    if x.dim() == 3:
        x = x.mean(dim=1)
    if x.shape[-1] < min_len:
        raise ValueError(f"{owner} needs at least {min_len} samples per clip, got shape {tuple(x.shape)}")
    return x


class _FrameLayerNorm(nn.Module):
    """LayerNorm over channels at every frame of ``(B, C, T)`` (local in time, as wav2vec 2.0's
    ``layer_norm`` extractor mode), so a frame depends only on its receptive field."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


@register(
    "cpc_conv",
    domain="audio",
    description="CPC strided 1-D conv stack on raw waveform (10 ms frames at 16 kHz)",
)
class CPCEncoder(nn.Module):
    """CPC's waveform encoder.

    Args:
        out_dim: channels of every layer and size of the output vector (512 in the paper).
        in_channels: accepted for symmetry with other encoders; channels are averaged to mono.

    Shape:
        ``(B, C, T)`` or ``(B, T)`` -> ``(B, out_dim)``; :meth:`frames` -> ``(B, T // 160, out_dim)``
        for ``T`` a multiple of 160.
    """

    kernels = (10, 8, 4, 4, 4)
    strides = (5, 4, 2, 2, 2)
    paddings = (3, 2, 1, 1, 1)

    def __init__(self, out_dim: int = 512, in_channels: int = 1) -> None:
        super().__init__()
        self.out_dim = _pos_int(out_dim, "out_dim", "CPCEncoder")
        self.in_channels = _pos_int(in_channels, "in_channels", "CPCEncoder")
        layers: list[nn.Module] = []
        c_in = 1
        for k, s, p in zip(self.kernels, self.strides, self.paddings, strict=True):
            layers += [nn.Conv1d(c_in, out_dim, k, stride=s, padding=p, bias=False)]
            layers += [_FrameLayerNorm(out_dim), nn.ReLU(inplace=True)]
            c_in = out_dim
        self.net = nn.Sequential(*layers)

    @property
    def hop(self) -> int:
        """Samples per output frame (160)."""
        out = 1
        for s in self.strides:
            out *= s
        return out

    def frames(self, x: Tensor) -> Tensor:
        """Per-frame representations ``(B, T', out_dim)``, one per 10 ms at 16 kHz."""
        wave = _mono(x, "CPCEncoder", self.hop)
        return self.net(wave.unsqueeze(1)).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.frames(x).mean(dim=1)


@register("logmel_cnn", domain="audio", description="log-mel spectrogram (torchaudio) + small 2-D CNN")
class LogMelCNN(nn.Module):
    """Log-mel front end and a small CNN.

    Args:
        sample_rate: input rate in Hz.
        n_mels: mel bands.
        n_fft: STFT size (default 25 ms rounded to a power of two); hop is 10 ms.
        width: channels of the first block (doubled each block).
        blocks: number of conv blocks.
        out_dim: output size (a final linear layer maps the pooled features to it).
        in_channels: accepted for symmetry; channels are averaged to mono.

    Shape:
        ``(B, C, T)`` or ``(B, T)`` -> ``(B, out_dim)``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 64,
        n_fft: int | None = None,
        width: int = 32,
        blocks: int = 4,
        out_dim: int = 256,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        import torchaudio

        self.sample_rate = _pos_int(sample_rate, "sample_rate", "LogMelCNN")
        n_mels = _pos_int(n_mels, "n_mels", "LogMelCNN")
        blocks = _pos_int(blocks, "blocks", "LogMelCNN")
        width = _pos_int(width, "width", "LogMelCNN")
        self.out_dim = _pos_int(out_dim, "out_dim", "LogMelCNN")
        self.in_channels = _pos_int(in_channels, "in_channels", "LogMelCNN")
        if n_fft is None:
            n_fft = 1 << (int(0.025 * sample_rate) - 1).bit_length()
        self.hop = max(1, sample_rate // 100)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=self.hop, n_mels=n_mels, power=2.0
        )
        layers: list[nn.Module] = []
        c_in = 1
        for i in range(blocks):
            c_out = width * 2**i
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if i < blocks - 1:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            c_in = c_out
        self.cnn = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, self.out_dim)

    def spectrogram(self, x: Tensor) -> Tensor:
        """Per-example normalised log-mel spectrogram ``(B, 1, n_mels, frames)``."""
        wave = _mono(x, "LogMelCNN", 2)
        spec = torch.log(self.mel(wave) + 1e-6).unsqueeze(1)
        mean = spec.mean(dim=(2, 3), keepdim=True)
        std = spec.std(dim=(2, 3), keepdim=True).clamp(min=1e-5)
        return (spec - mean) / std

    def forward(self, x: Tensor) -> Tensor:
        h = self.cnn(self.spectrogram(x))
        return self.fc(h.mean(dim=(2, 3)))
