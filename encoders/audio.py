"""Audio encoders: CPC's strided convolutions on raw waveform and a log-mel CNN.

* :class:`CPCEncoder` ("cpc_conv"): the encoder of Contrastive Predictive Coding (van den Oord et al.
  2018): five 1-D convolutions with kernels 10, 8, 4, 4, 4 and strides 5, 4, 2, 2, 2 (total stride 160:
  one vector per 10 ms at 16 kHz; receptive field 465 samples), 512 channels, a normalisation and ReLU
  after each. The normalisation is BatchNorm by default (``norm="batch"``, one of the encoder modes of
  the CPC reference code, facebookresearch/CPC_audio): per-frame channel normalisation
  (``norm="channel"``, CPC_audio's default ``ChannelNorm`` = wav2vec's ``layer_norm`` mode) rescales
  every 10 ms frame to unit variance, which throws away the frame energy (the loudness envelope, the
  most predictable part of speech) and blows near-silent frames up to full scale; under CPC training on
  a CPU budget it sits on the chance-level plateau of InfoNCE for hundreds of steps, where BatchNorm
  learns in tens. ``frames(x)`` gives the per-frame vectors ``(B, T', D)``, ``forward`` averages them
  over time to ``(B, D)``. In eval mode every frame depends only on its own receptive field.
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

import torch
from torch import Tensor, nn

from encoders.registry import register
from pairs.validation import positive_int

__all__ = ["CPC_NORMS", "CPCEncoder", "LogMelCNN"]


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


CPC_NORMS = ("batch", "channel", "none")


class _FrameLayerNorm(nn.Module):
    """LayerNorm over channels at every frame of ``(B, C, T)`` (CPC_audio's ``ChannelNorm``, wav2vec's
    ``layer_norm`` mode), so a frame depends only on its receptive field."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


def _cpc_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "channel":
        return _FrameLayerNorm(channels)
    return nn.Identity()


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
        norm: normalisation after each convolution: ``"batch"`` (BatchNorm1d, default), ``"channel"``
            (per-frame LayerNorm over channels) or ``"none"`` (convolutions get a bias instead).
        standardize: scale every clip to zero mean and unit variance before the convolutions (as
            wav2vec 2.0's ``normalize``), so the features do not depend on the recording gain: without a
            per-frame normalisation the ReLU stack is positively homogeneous and its features scale with
            the input level.

    Raises:
        ValueError: on a bad ``out_dim``/``in_channels`` or an unknown ``norm``.

    Shape:
        ``(B, C, T)`` or ``(B, T)`` -> ``(B, out_dim)``; :meth:`frames` -> ``(B, T // 160, out_dim)``
        for ``T`` a multiple of 160.

    Reference:
        van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding", 3.1;
        Riviere et al. 2020, "Unsupervised pretraining transfers well across languages" (CPC_audio).
    """

    kernels = (10, 8, 4, 4, 4)
    strides = (5, 4, 2, 2, 2)
    paddings = (3, 2, 1, 1, 1)

    def __init__(
        self, out_dim: int = 512, in_channels: int = 1, norm: str = "batch", standardize: bool = True
    ) -> None:
        super().__init__()
        self.out_dim = positive_int("out_dim", out_dim, owner="CPCEncoder")
        self.in_channels = positive_int("in_channels", in_channels, owner="CPCEncoder")
        if norm not in CPC_NORMS:
            raise ValueError(f"CPCEncoder: norm must be one of {', '.join(CPC_NORMS)}, got {norm!r}")
        self.norm = norm
        self.standardize = bool(standardize)
        layers: list[nn.Module] = []
        c_in = 1
        for k, s, p in zip(self.kernels, self.strides, self.paddings, strict=True):
            layers += [nn.Conv1d(c_in, out_dim, k, stride=s, padding=p, bias=norm == "none")]
            layers += [_cpc_norm(norm, out_dim), nn.ReLU(inplace=True)]
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
        if self.standardize:
            wave = (wave - wave.mean(dim=-1, keepdim=True)) / (wave.std(dim=-1, keepdim=True) + 1e-5)
        return self.net(wave.unsqueeze(1)).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.frames(x).mean(dim=1)

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}, norm={self.norm!r}, standardize={self.standardize}, hop={self.hop}"


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

        self.sample_rate = positive_int("sample_rate", sample_rate, owner="LogMelCNN")
        n_mels = positive_int("n_mels", n_mels, owner="LogMelCNN")
        blocks = positive_int("blocks", blocks, owner="LogMelCNN")
        width = positive_int("width", width, owner="LogMelCNN")
        self.out_dim = positive_int("out_dim", out_dim, owner="LogMelCNN")
        self.in_channels = positive_int("in_channels", in_channels, owner="LogMelCNN")
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
