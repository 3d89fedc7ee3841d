"""Hand-crafted feature baselines that need no training, for comparing learned features against.

* :func:`mfcc_statistics`: per-clip mean and standard deviation over time of MFCCs, the classic
  utterance-level speaker / audio-class feature (the baseline of CPC's speaker probe).

Reference:
    Davis & Mermelstein 1980, "Comparison of parametric representations for monosyllabic word recognition
    in continuously spoken sentences" (MFCCs); van den Oord et al. 2018, "Representation Learning with
    Contrastive Predictive Coding", section 3.1 (MFCC baseline of the speaker probe).
"""

from __future__ import annotations

import torch
from torch import Tensor

from pairs.validation import positive_int

__all__ = ["mfcc_statistics"]


def mfcc_statistics(
    x: Tensor,
    sample_rate: int,
    n_mfcc: int = 20,
    n_mels: int = 40,
    window_seconds: float = 0.025,
    hop_seconds: float = 0.010,
    chunk: int = 256,
) -> Tensor:
    """Mean and standard deviation over time of each clip's MFCCs (channels averaged first).

    MFCCs as ``torchaudio.transforms.MFCC`` computes them: Hann-windowed STFT (reflect padding), power
    HTK mel filterbank, decibels (80 dB floor below each clip's peak), orthonormal DCT-II; equal to
    ``librosa.feature.mfcc`` on an HTK mel spectrogram without filter normalisation.

    Args:
        x: waveforms ``(N, T)`` or ``(N, C, T)``.
        sample_rate: sampling rate in Hz.
        n_mfcc: coefficients kept.
        n_mels: mel bands.
        window_seconds, hop_seconds: analysis window and hop (25 ms / 10 ms).
        chunk: clips per batch (bounds memory).

    Returns:
        ``(N, 2 * n_mfcc)`` float32: the means, then the standard deviations, on ``x``'s device.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor.
        ValueError: on a bad rank, an empty batch, clips shorter than one window, NaN/inf samples or bad
            settings.

    Shape:
        ``(N, T)`` or ``(N, C, T)`` -> ``(N, 2 * n_mfcc)``.
    """
    import torchaudio

    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"mfcc_statistics needs a floating-point tensor of waveforms, got {type(x).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(f"mfcc_statistics needs waveforms (N, T) or (N, C, T), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("mfcc_statistics got an empty batch (N = 0)")
    positive_int("sample_rate (Hz)", sample_rate)
    if not (1 <= n_mfcc <= n_mels):
        raise ValueError(f"need 1 <= n_mfcc <= n_mels, got n_mfcc={n_mfcc}, n_mels={n_mels}")
    n_fft = int(round(window_seconds * sample_rate))
    hop = int(round(hop_seconds * sample_rate))
    if n_fft < 2 or hop < 1:
        raise ValueError(
            f"window {window_seconds} s / hop {hop_seconds} s are too short at {sample_rate} Hz "
            f"({n_fft} / {hop} samples)"
        )
    if x.shape[-1] < n_fft:
        raise ValueError(f"clips of {x.shape[-1]} samples are shorter than one {n_fft}-sample MFCC window")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("mfcc_statistics got NaN or infinite samples")
    mono = (x.mean(dim=1) if x.dim() == 3 else x).float()
    transform = torchaudio.transforms.MFCC(
        sample_rate=sample_rate,
        n_mfcc=n_mfcc,
        melkwargs={"n_fft": n_fft, "hop_length": hop, "n_mels": n_mels},
    ).to(mono.device)
    out = []
    with torch.no_grad():
        for start in range(0, mono.shape[0], chunk):
            power = transform.MelSpectrogram(mono[start : start + chunk])  # (b, n_mels, F)
            # decibels with the 80 dB floor per clip (torchaudio's batched call would floor the whole batch
            # at its loudest clip, so a clip's features would depend on its neighbours)
            db = 10.0 * torch.log10(power.clamp(min=1e-10))
            db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - 80.0)
            mfcc = torch.matmul(db.transpose(1, 2), transform.dct_mat).transpose(1, 2)  # (b, n_mfcc, F)
            out.append(torch.cat([mfcc.mean(dim=-1), mfcc.std(dim=-1)], dim=1))
    return torch.cat(out)
