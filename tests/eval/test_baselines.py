"""Hand-crafted baselines: MFCC statistics against librosa, per-clip independence, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pairs.eval.baselines import mfcc_statistics


def _clips(n: int, t: int = 8000, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    tt = torch.arange(t) / 16000
    f0 = 100 + 400 * torch.rand(n, 1, generator=g)
    tone = torch.sin(2 * torch.pi * f0 * tt) + 0.5 * torch.sin(2 * torch.pi * 3 * f0 * tt)
    return (tone + 0.05 * torch.randn(n, t, generator=g)) * torch.logspace(-3, 0, n)[:, None]


def test_mfcc_statistics_equal_librosa_per_clip():
    import librosa

    x = _clips(4)
    feats = mfcc_statistics(x, 16000)
    assert feats.shape == (4, 40) and feats.dtype == torch.float32
    for clip, f in zip(x.double().numpy(), feats, strict=True):
        mel = librosa.feature.melspectrogram(
            y=clip, sr=16000, n_fft=400, hop_length=160, n_mels=40, htk=True, norm=None, pad_mode="reflect"
        )
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80.0), n_mfcc=20)  # (20, frames)
        expected = np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1, ddof=1)])
        np.testing.assert_allclose(f.numpy(), expected, rtol=1e-3, atol=2e-3)


def test_a_clips_features_do_not_depend_on_its_batch():
    quiet, loud = _clips(1, seed=1) * 1e-3, _clips(1, seed=2) * 10
    alone = mfcc_statistics(quiet, 16000)
    together = mfcc_statistics(torch.cat([quiet, loud]), 16000)
    torch.testing.assert_close(together[:1], alone)
    chunked = mfcc_statistics(_clips(5), 16000, chunk=2)
    torch.testing.assert_close(chunked, mfcc_statistics(_clips(5), 16000))


def test_channels_are_averaged_first():
    x = _clips(3)
    torch.testing.assert_close(mfcc_statistics(torch.stack([x, x], dim=1), 16000), mfcc_statistics(x, 16000))


@pytest.mark.parametrize(
    "x, kwargs, error, match",
    [
        (torch.zeros(2, 8000, dtype=torch.int16), {}, TypeError, "floating-point"),
        (torch.zeros(8000), {}, ValueError, r"\(N, T\) or \(N, C, T\)"),
        (torch.zeros(0, 8000), {}, ValueError, "empty"),
        (torch.zeros(2, 100), {}, ValueError, "shorter than one 400-sample"),
        (torch.full((2, 8000), float("nan")), {}, ValueError, "NaN"),
        (torch.zeros(2, 8000), {"n_mfcc": 50}, ValueError, "n_mfcc <= n_mels"),
        (torch.zeros(2, 8000), {"sample_rate": 0}, ValueError, "sample_rate"),
    ],
)
def test_bad_input_is_named(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        mfcc_statistics(x, **{"sample_rate": 16000, **kwargs})
