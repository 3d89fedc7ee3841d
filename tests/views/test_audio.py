"""Audio views: pitch accuracy on tones and real speech, batched time shift, filters, masks, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs.views import audio as A
from pairs.views.audio_pitch import pitch_shift, resample_at, sinc_table, time_stretch

SR = 16000
SPEECH = Path("/usr/share/pocketsphinx/test/data/librivox")


def harmonic(f0: float, n: int = SR, partials: int = 5) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / SR
    return sum((0.5 / k) * torch.sin(2 * math.pi * k * f0 * t + k) for k in range(1, partials + 1)).float()


def fft_f0(y: np.ndarray, guess: float) -> float:
    """Fundamental by the zero-padded spectrum peak near ``guess`` (parabolic interpolation)."""
    y = y[len(y) // 8 : -len(y) // 8]
    n = 1 << 18
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    k = int(np.argmax(np.where((freqs > guess / 1.08) & (freqs < guess * 1.08), spec, 0)))
    a, b, c = np.log(spec[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n


# ------------------------------------------------------------------------------------------------ pitch
def test_pitch_shift_moves_f0_of_harmonic_tones_by_the_requested_amount() -> None:
    f0s = [110.0, 220.0, 330.0]
    steps = torch.linspace(-4, 4, 9)
    x = torch.stack([harmonic(f) for f in f0s for _ in steps])[:, None]
    amounts = steps.repeat(len(f0s))
    y = pitch_shift(x, SR, amounts)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    errors = []
    for i, s in enumerate(amounts.tolist()):
        target = f0s[i // len(steps)] * 2 ** (s / 12)
        errors.append(abs(12 * math.log2(fft_f0(y[i, 0].numpy(), target) / target)))
    assert np.median(errors) <= 0.1
    assert max(errors) <= 0.1
    assert y.abs().amax() <= x.abs().amax() + 1e-6  # no clipping added


def test_pitch_shift_batched_equals_one_by_one() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 4000, generator=g) * 0.1
    amounts = torch.tensor([-3.3, 0.7, 2.9])
    batched = pitch_shift(x, SR, amounts, chunk_size=0)
    single = torch.cat([pitch_shift(x[i : i + 1], SR, amounts[i : i + 1]) for i in range(3)])
    tiled = pitch_shift(x, SR, amounts, chunk_size=2)  # rows sorted by ratio into tiles, then restored
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched, tiled, atol=1e-5, rtol=0)


def test_pitch_shift_zero_semitones_is_near_identity() -> None:
    x = harmonic(200.0)[None, None]
    y = pitch_shift(x, SR, torch.zeros(1))
    mid = slice(2000, -2000)
    assert (y[..., mid] - x[..., mid]).abs().max() < 0.02


def test_pitch_shift_single_waveform_and_short_clip() -> None:
    y = pitch_shift(torch.randn(1, 300) * 0.1, SR, 2.0)
    assert y.shape == (1, 300)
    assert torch.isfinite(y).all()


@pytest.mark.skipif(
    not SPEECH.is_dir(),
    reason="needs Debian's pocketsphinx-testdata: apt-get install -y pocketsphinx-testdata",
)
def test_pitch_shift_on_real_speech_with_pyin() -> None:
    import librosa
    import soundfile as sf

    path = sorted(SPEECH.glob("*.wav"))[1]
    clip, sr = sf.read(path, dtype="float32")
    assert sr == SR
    x = torch.from_numpy(clip[: 2 * SR])[None, None].repeat(2, 1, 1)
    steps = torch.tensor([-3.0, 3.5])
    y = pitch_shift(x, SR, steps)
    # the narrator speaks at ~80 Hz: fmin must sit well below 80 Hz * 2 ** (-3 / 12)
    kw = dict(fmin=50, fmax=500, sr=SR, frame_length=1024)  # pyin bins of 0.1 semitone
    f_in, v_in, _ = librosa.pyin(clip[: 2 * SR], **kw)
    for i, s in enumerate(steps.tolist()):
        f_out, v_out, _ = librosa.pyin(y[i, 0].numpy(), **kw)
        ok = v_in & v_out & np.isfinite(f_in) & np.isfinite(f_out)
        assert ok.sum() > 20
        err = np.abs(12 * np.log2(f_out[ok] / f_in[ok]) - s)
        assert np.median(err) <= 0.3


def test_resample_at_matches_direct_windowed_sinc() -> None:
    torch.manual_seed(0)
    sig = torch.randn(2, 400, dtype=torch.float64)
    sig = torch.fft.irfft(torch.fft.rfft(sig) * (torch.arange(201) < 120), n=400)  # band-limited
    pos = torch.rand(2, 50, dtype=torch.float64) * 300 + 50
    out = resample_at(sig, pos)
    table = sinc_table(8, 1 << 14, dtype=torch.float64)
    base = pos.floor().long()
    phase = ((pos - pos.floor()) * (1 << 14)).round().long()
    ref = torch.zeros_like(pos)
    for b in range(2):  # slow reference: sum over taps
        for j in range(16):
            ref[b] += sig[b, base[b] + j - 7] * table[phase[b], j]
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)


def test_time_stretch_lengths_and_pitch_kept() -> None:
    x = harmonic(250.0)[None, None].repeat(2, 1, 1)
    y, lengths = time_stretch(x, SR, torch.tensor([0.8, 1.25]), keep_length=False)
    assert lengths.tolist() == [20000, 12800]
    assert y.shape[-1] == 20000
    assert (y[1, 0, 12800:] == 0).all()
    for i in range(2):
        f = fft_f0(y[i, 0, : lengths[i]].numpy(), 250.0)
        assert abs(12 * math.log2(f / 250.0)) < 0.05
    kept, _ = time_stretch(x, SR, torch.tensor([0.8, 1.25]))
    assert kept.shape == x.shape


# ------------------------------------------------------------------------------------------ time shift
def test_time_shift_matches_torch_roll_per_example() -> None:
    x = torch.randn(4, 2, 50)
    shifts = torch.tensor([0, 3, -7, 120])
    out = A.time_shift(x, shifts, rollover=True)
    for i, s in enumerate(shifts.tolist()):
        torch.testing.assert_close(out[i], torch.roll(x[i], s, dims=-1))
    zero = A.time_shift(x, shifts, rollover=False)
    torch.testing.assert_close(zero[1, :, 3:], x[1, :, :-3])
    assert (zero[1, :, :3] == 0).all()
    assert (zero[3] == 0).all()


def test_time_shift_fade_only_near_seam() -> None:
    x = torch.ones(1, 1, 100)
    out = A.time_shift(x, torch.tensor([40]), fade=5)
    assert out[0, 0, 40] < 0.1
    assert out[0, 0, 39] < 0.1  # the two samples around the seam
    assert (out[0, 0, :34] == 1).all()
    assert (out[0, 0, 46:] == 1).all()


def _faded_roll_reference(x: torch.Tensor, shift: int, fade: int) -> torch.Tensor:
    """torch.roll, then a raised-cosine envelope computed for every sample from its distance to the seam."""
    t = x.shape[-1]
    out = torch.roll(x, shift, dims=-1)
    seam = shift % t
    if seam == 0:
        return out
    env = torch.ones(t, dtype=x.dtype)
    for n in range(t):
        dist = min((n - seam) % t, (seam - 1 - n) % t)
        if dist < fade:
            env[n] = 0.5 - 0.5 * math.cos(math.pi * (dist + 0.5) / fade)
    return out * env


@pytest.mark.parametrize("t,fade", [(100, 5), (37, 18), (64, 1)])
def test_time_shift_fade_matches_full_envelope_reference(t: int, fade: int) -> None:
    g = torch.Generator().manual_seed(t)
    x = torch.randn(6, 2, t, generator=g, dtype=torch.float64)
    shifts = torch.tensor([0, 1, -1, t // 2, 3 * t + 5, -(t - 2)])
    out = A.time_shift(x, shifts, rollover=True, fade=fade)
    for i, s in enumerate(shifts.tolist()):
        torch.testing.assert_close(out[i], _faded_roll_reference(x[i], s, fade))


def test_time_shift_view_units_and_replay() -> None:
    view = A.TimeShift(SR, 0.01, unit="seconds", rollover=True, fade_seconds=0.0)
    x = torch.randn(5, 1, 1000)
    out, params = view(x, 3, return_params=True)
    assert params["shift"].abs().max() <= 160
    for i in range(5):
        torch.testing.assert_close(out[i], torch.roll(x[i], int(params["shift"][i]), dims=-1))
    torch.testing.assert_close(view.replay(x, params), out)
    torch.testing.assert_close(view(x, 3), out)  # same seed, same views


def test_random_crop_pad() -> None:
    x = torch.arange(10.0).view(1, 1, 10).repeat(4, 1, 1)
    crop, p = A.RandomCropPad(SR, 6)(x, 0, return_params=True)
    for i in range(4):
        o = int(p["offset"][i])
        torch.testing.assert_close(crop[i, 0], x[i, 0, o : o + 6])
    pad, p = A.RandomCropPad(SR, 15)(x, 1, return_params=True)
    for i in range(4):
        o = int(p["offset"][i])
        torch.testing.assert_close(pad[i, 0, o : o + 10], x[i, 0])
        assert pad[i].abs().sum() == x[i].abs().sum()


# -------------------------------------------------------------------------------- level, noise, filters
def test_gain_polarity_and_noise_snr() -> None:
    x = torch.randn(6, 1, 8000)
    torch.testing.assert_close(A.gain(x, torch.full((6,), 20.0)), 10 * x)
    out, p = A.PolarityInversion(SR, 0.5)(x, 0, return_params=True)
    sign = torch.where(p["flip"], -1.0, 1.0)
    torch.testing.assert_close(out, x * sign[:, None, None])
    for color in ("white", "pink"):
        noisy, p = A.AddNoise(SR, (5.0, 25.0), color)(x, 1, return_params=True)
        noise = noisy - x
        snr = 10 * torch.log10(x.pow(2).mean((1, 2)) / noise.pow(2).mean((1, 2)))
        torch.testing.assert_close(snr, p["snr_db"], atol=1e-3, rtol=0)


def test_filters_attenuate_the_right_band() -> None:
    t = torch.arange(SR) / SR
    x = (torch.sin(2 * math.pi * 200 * t) + torch.sin(2 * math.pi * 5000 * t))[None, None].repeat(2, 1, 1)

    def level(y: torch.Tensor, f: int) -> torch.Tensor:
        return torch.fft.rfft(y[:, 0]).abs()[:, f]  # 1 Hz bins

    low = A.filter_fft(x, SR, torch.tensor([1000.0, 1000.0]), "lowpass")
    high = A.filter_fft(x, SR, torch.tensor([1000.0, 1000.0]), "highpass")
    butter = 1 / math.sqrt(1 + 5.0**8)  # order-4 Butterworth magnitude at 5x (and 1/5) the cutoff
    torch.testing.assert_close(level(low, 5000) / level(x, 5000), torch.full((2,), butter), rtol=1e-3, atol=0)
    torch.testing.assert_close(level(high, 200) / level(x, 200), torch.full((2,), butter), rtol=1e-3, atol=0)
    assert (level(low, 200) > 0.99 * level(x, 200)).all()
    assert (level(high, 5000) > 0.99 * level(x, 5000)).all()
    out, p = A.LowPass(SR, (500.0, 4000.0))(x, 0, return_params=True)
    assert ((p["cutoff_hz"] >= 500) & (p["cutoff_hz"] <= 4000)).all()
    torch.testing.assert_close(out, A.filter_fft(x, SR, p["cutoff_hz"], "lowpass"))


def test_spec_masks() -> None:
    s = torch.rand(8, 1, 40, 60) + 1
    out, p = A.TimeMask(10, n_masks=2)(s, 0, return_params=True)
    for i in range(8):
        cols = (out[i, 0] == 0).all(0)
        expect = torch.zeros(60, dtype=torch.bool)
        for start, width in zip(p["start"][i].tolist(), p["width"][i].tolist(), strict=True):
            expect[start : start + width] = True
        assert torch.equal(cols, expect)
    out = A.FrequencyMask(5)(s[0], 1)
    assert out.shape == s[0].shape
    rows = (out[0] == 0).all(1)
    assert rows.sum() <= 5
    assert ((out[0] == 0).any(1) == rows).all()


# ------------------------------------------------------------------------------- presets and properties
@pytest.mark.parametrize("preset", [A.speech_view, A.music_view])
def test_presets_keep_shape_and_replay(preset) -> None:
    x = torch.randn(6, 1, 4000) * 0.1
    view = preset(SR)
    out, params = view(x, 7, return_params=True, sample_rate=SR)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    torch.testing.assert_close(view.replay(x, params), out)
    torch.testing.assert_close(view(x, 7), out)


@settings(max_examples=15, deadline=None)
@given(
    b=st.integers(1, 3),
    c=st.integers(1, 2),
    t=st.integers(1, 700),
    seed=st.integers(0, 2**31),
)
def test_views_on_odd_shapes(b: int, c: int, t: int, seed: int) -> None:
    x = torch.randn(b, c, t, generator=torch.Generator().manual_seed(seed)) * 0.3
    for view in (
        A.TimeShift(SR, 0.5),
        A.TimeShift(SR, 0.5, rollover=False),
        A.PitchShift(SR, 4.0),
        A.TimeStretch(SR),
        A.Gain(SR),
        A.AddNoise(SR),
        A.LowPass(SR),
        A.HighPass(SR),
        A.PolarityInversion(SR),
    ):
        out = view(x, seed)
        assert out.shape == x.shape, view
        assert torch.isfinite(out).all(), view


# ------------------------------------------------------------------------------------------- bad input
def test_bad_input_messages() -> None:
    view = A.PitchShift(SR)
    with pytest.raises(ValueError, match=r"\(B, C, T\)"):
        view(torch.randn(16000))
    with pytest.raises(ValueError, match="empty"):
        view(torch.randn(2, 1, 0))
    with pytest.raises(ValueError, match="NaN"):
        x = torch.randn(2, 1, 100)
        x[1, 0, 5] = float("nan")
        view(x)
    with pytest.raises(ValueError, match="16000 Hz"):
        view(torch.randn(1, 100), sample_rate=8000)
    with pytest.raises(TypeError, match="floating"):
        view(torch.ones(1, 100, dtype=torch.long))
    with pytest.raises(ValueError, match="one amount per example"):
        pitch_shift(torch.randn(3, 1, 100), SR, torch.zeros(2))
    with pytest.raises(ValueError, match="cutoff_hz"):
        A.LowPass(SR, (100.0, 9000.0))
    with pytest.raises(ValueError, match="spectrogram"):
        A.TimeMask(5)(torch.randn(10, 10))
