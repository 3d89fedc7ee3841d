"""Audio views on waveforms ``(C, T)`` / batches ``(B, C, T)`` with a declared sample rate.

Every view draws its parameters for the whole batch from an explicit :class:`torch.Generator` (each
example its own amount) and applies them in one vectorised pass, with no Python loop over examples:

* time: :class:`TimeShift` (roll with an optional fade at the seam, or shift with zero fill; amounts in
  samples, seconds or a fraction of the clip), :class:`RandomCropPad` (crop or pad to a length),
  :class:`TimeStretch` (batched phase vocoder, length kept or not);
* pitch: :class:`PitchShift` (continuous semitones, length kept; one batched phase vocoder plus a
  fixed-width windowed-sinc resampler, see :mod:`pairs.views.audio_pitch`);
* level and noise: :class:`Gain` (dB), :class:`AddNoise` (white or pink noise at a target SNR),
  :class:`PolarityInversion`;
* spectrum: :class:`LowPass`, :class:`HighPass` (zero-phase Butterworth-shaped FFT filters with a cutoff
  per example);
* spectrogram inputs ``(C, F, T)``: :class:`TimeMask`, :class:`FrequencyMask` (SpecAugment);
* presets: :func:`speech_view`, :func:`music_view`.

Functional forms take exact amounts: :func:`pitch_shift`, :func:`time_stretch`, :func:`time_shift`,
:func:`gain`, :func:`add_noise`, :func:`filter_fft`.

**Sample rate.** Each view takes ``sample_rate`` at construction. Call a view with
``view(x, g, sample_rate=sr)`` to have the rate of the input checked against the view's (a mismatch is a
``ValueError``: resample the audio first, e.g. with :func:`pairs.data.audio.load_audio`).

References:
    Park et al. 2019, "SpecAugment: A Simple Data Augmentation Method for Automatic Speech Recognition".
    Kharitonov et al. 2021, "Data Augmenting Contrastive Learning of Speech Representations in the Time
    Domain" (WavAugment: pitch, reverb, band-reject, time drop for CPC).
    Saeed et al. 2021, "Contrastive Learning of General-Purpose Audio Representations" (COLA).
    audiomentations / torch-audiomentations (the parameter conventions: dB gains, SNR ranges, shifts).

Example:
    >>> import torch
    >>> from pairs.views import audio
    >>> x = torch.randn(8, 1, 16000) * 0.1
    >>> view = audio.speech_view(16000)
    >>> v1, v2 = view(x, generator=0, sample_rate=16000), view(x, generator=1, sample_rate=16000)
    >>> v1.shape
    torch.Size([8, 1, 16000])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pairs.errors import ConfigError, DataError
from pairs.validation import integer, probability
from pairs.views.audio_pitch import (
    check_sample_rate,
    check_waveform,
    default_n_fft,
    peak_normalise,
    pitch_shift,
    resample_at,
    time_stretch,
)
from pairs.views.base import (
    Compose,
    GeneratorLike,
    OneOf,
    Params,
    RandomApply,
    View,
    check_output_finite,
    check_replay_size,
    uniform,
    work_dtype,
)

__all__ = [
    "AudioView",
    "AudioCompose",
    "TimeShift",
    "RandomCropPad",
    "PitchShift",
    "TimeStretch",
    "Gain",
    "AddNoise",
    "PolarityInversion",
    "LowPass",
    "HighPass",
    "TimeMask",
    "FrequencyMask",
    "speech_view",
    "music_view",
    "pitch_shift",
    "time_stretch",
    "time_shift",
    "gain",
    "add_noise",
    "filter_fft",
    "resample_at",
    "default_n_fft",
]


# --------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _range(value: Any, name: str, *, symmetric: bool = True, low: float | None = None) -> tuple[float, float]:
    """A number ``a`` (-> ``(-a, a)`` if symmetric else ``(a, a)``) or a pair ``(lo, hi)`` with lo <= hi."""
    if _is_number(value):
        v = float(value)
        pair = (-abs(v), abs(v)) if symmetric else (v, v)
    elif isinstance(value, Sequence) and len(value) == 2 and all(_is_number(v) for v in value):
        pair = (float(value[0]), float(value[1]))
    else:
        raise ValueError(f"{name} must be a finite number or a pair (low, high), got {value!r}")
    if pair[0] > pair[1]:
        raise ValueError(f"{name} must have low <= high, got {value!r}")
    if low is not None and pair[0] < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return pair


def _batch_amounts(amount: Any, waveform: Tensor, name: str, what: str) -> Tensor:
    """A ``(B,)`` tensor of finite per-example amounts (a number is used for every example)."""
    t = torch.as_tensor(amount, device=waveform.device)
    if t.dim() == 0:
        t = t.expand(waveform.shape[0])
    if t.dim() != 1 or t.shape[0] != waveform.shape[0]:
        raise DataError(
            f"{name}: {what} must be a number or a (B,) tensor with one amount per example "
            f"(B={waveform.shape[0]}), got shape {tuple(t.shape)}"
        )
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise DataError(f"{name}: {what} must be finite, got {t.tolist()[:10]}")
    return t


# --------------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------------
class AudioView(View):
    """A view of waveforms ``(C, T)`` / ``(B, C, T)`` at a fixed sample rate.

    Args:
        sample_rate: the rate (Hz) this view is built for; inputs declared with another rate are refused.
    """

    sample_ndim = 2

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = check_sample_rate(sample_rate, type(self).__name__)

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        batch, single = check_waveform(x, type(self).__name__)
        return batch, single

    def __call__(
        self,
        x: Any,
        generator: GeneratorLike = None,
        *,
        return_params: bool = False,
        sample_rate: int | None = None,
    ) -> Any:
        """Views of a waveform or batch; ``sample_rate``, when given, must equal the view's.

        Raises:
            ValueError: sample-rate mismatch, wrong rank, empty or NaN audio.
        """
        _check_rate(self, sample_rate)
        return super().__call__(x, generator, return_params=return_params)


def _check_rate(view: Any, sample_rate: int | None) -> None:
    if sample_rate is None:
        return
    sr = check_sample_rate(sample_rate, type(view).__name__)
    own = getattr(view, "sample_rate", None)
    if own is not None and sr != own:
        raise ValueError(
            f"{type(view).__name__} was built for {own} Hz audio but got audio declared at {sr} Hz; resample "
            f"it to {own} Hz (pairs.data.audio.load_audio(path, sample_rate={own})) or build the view with "
            f"sample_rate={sr}"
        )


class AudioCompose(Compose):
    """:class:`~pairs.views.base.Compose` of audio views that checks a declared ``sample_rate``."""

    def __init__(self, views: Sequence[View], sample_rate: int) -> None:
        super().__init__(views)
        self.sample_rate = check_sample_rate(sample_rate, "AudioCompose")
        for v in self.views:
            inner = getattr(v, "view", v)
            own = getattr(inner, "sample_rate", None)
            if own is not None and own != self.sample_rate:
                raise ValueError(
                    f"AudioCompose at {self.sample_rate} Hz got {type(inner).__name__} built for {own} Hz"
                )

    def __call__(
        self, x: Any, generator: GeneratorLike = None, *, return_params: bool = False, sample_rate=None
    ):
        _check_rate(self, sample_rate)
        return super().__call__(x, generator, return_params=return_params)


# --------------------------------------------------------------------------------------------------
# Time shift and crop/pad
# --------------------------------------------------------------------------------------------------
def time_shift(waveform: Tensor, shift: Tensor, *, rollover: bool = True, fade: int = 0) -> Tensor:
    """Shift every example by its own whole number of samples (positive: later in time).

    Args:
        waveform: ``(B, C, T)``.
        shift: ``(B,)`` integer shifts in samples.
        rollover: roll (what leaves one end comes back at the other) or fill with zeros.
        fade: with ``rollover``, a raised-cosine fade of this many samples on each side of the seam (where
            the old end meets the old start), so the roll adds no click. 0 disables it.

    Returns:
        ``(B, C, T)`` shifted waveforms.

    Raises:
        TypeError: a non-float waveform.
        DataError: a waveform that is not ``(B, C, T)``, empty, or holds NaN/inf; shifts not ``(B,)``.

    Shape:
        ``(B, C, T)``, ``(B,)`` -> ``(B, C, T)``.
    """
    check_waveform(waveform, "time_shift", allow_single=False)
    b, c, t = waveform.shape
    shift = _batch_amounts(shift, waveform, "time_shift", "shift")
    if shift.is_floating_point():
        shift = torch.round(shift.double())
    # equivalent shifts in a range where index arithmetic cannot overflow
    shift = (torch.remainder(shift, t) if rollover else shift.clamp(-t, t)).long()
    n = torch.arange(t, device=waveform.device)[None]
    src = n - shift[:, None]  # (B, T): output n reads input n - shift
    if rollover:
        out = waveform.gather(2, torch.remainder(src, t)[:, None].expand(b, c, t))
        if fade > 0:
            _fade_seam(out, torch.remainder(shift, t), fade)
        return out
    valid = (src >= 0) & (src < t)
    out = waveform.gather(2, src.clamp(0, t - 1)[:, None].expand(b, c, t))
    return out * valid[:, None].to(out.dtype)


def _fade_seam(out: Tensor, seam: Tensor, fade: int) -> None:
    """Raised-cosine fade-out/fade-in of ``fade`` samples around each row's seam, in place.

    Only the ``2 * fade`` samples around the seam (output index ``seam[b]`` of row ``b``, where the old
    start now sits; 0 means no seam) are read and written, so the cost does not grow with ``T``.

    Shape:
        out ``(B, C, T)``, seam ``(B,)``.
    """
    b, c, t = out.shape
    fade = min(int(fade), t // 2)
    if fade == 0:
        return
    offsets = torch.arange(-fade, fade, device=out.device)  # output n = seam + offset
    dist = torch.where(offsets < 0, -offsets - 1, offsets).to(out.dtype)  # samples from the seam
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (dist + 0.5) / fade)  # (2 fade,)
    env = torch.where((seam == 0)[:, None], torch.ones_like(ramp), ramp)  # (B, 2 fade)
    index = torch.remainder(seam[:, None] + offsets, t)[:, None].expand(b, c, 2 * fade)
    out.scatter_(2, index, out.gather(2, index) * env[:, None])


class TimeShift(AudioView):
    """Shift each example in time by its own random amount (roll or zero fill).

    Args:
        sample_rate: rate in Hz.
        max_shift: largest shift, or a pair ``(low, high)`` (negative: earlier); a number ``a`` means
            ``(-a, a)``.
        unit: ``"fraction"`` (of the clip length), ``"seconds"`` or ``"samples"``.
        rollover: roll around the ends (default) or fill with zeros.
        fade_seconds: with ``rollover``, fade of this length on each side of the seam (default 5 ms).

    Shape:
        ``(C, T)`` or ``(B, C, T)``, kept.
    """

    def __init__(
        self,
        sample_rate: int,
        max_shift: float | tuple[float, float] = 0.5,
        unit: str = "fraction",
        rollover: bool = True,
        fade_seconds: float = 0.005,
    ) -> None:
        super().__init__(sample_rate)
        if unit not in ("fraction", "seconds", "samples"):
            raise ValueError(f"TimeShift unit must be 'fraction', 'seconds' or 'samples', got {unit!r}")
        self.max_shift = _range(max_shift, "TimeShift max_shift")
        self.unit = unit
        self.rollover = bool(rollover)
        if not _is_number(fade_seconds) or fade_seconds < 0:
            raise ValueError(f"TimeShift fade_seconds must be >= 0, got {fade_seconds!r}")
        self.fade_seconds = float(fade_seconds)

    def _samples(self, amount: Tensor, t: int) -> Tensor:
        scale = {"fraction": t, "seconds": self.sample_rate, "samples": 1}[self.unit]
        return torch.round(amount * scale).long()

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        lo, hi = self.max_shift
        amount = uniform(lo, hi, batch.shape[0], generator, dtype=torch.float64)
        return {"shift": self._samples(amount, batch.shape[-1]).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("TimeShift", len(params["shift"]), batch.shape[0])
        fade = int(round(self.fade_seconds * self.sample_rate))
        return time_shift(batch, params["shift"], rollover=self.rollover, fade=fade)


class RandomCropPad(AudioView):
    """Crop (or zero-pad) every example to ``length`` samples at its own random offset.

    Longer clips are cropped at a uniform random start; shorter ones are placed at a uniform random
    offset inside ``length`` zeros.

    Args:
        sample_rate: rate in Hz.
        length: output length in samples (int) or seconds (float, with ``unit="seconds"``).
        unit: ``"samples"`` or ``"seconds"``.

    Shape:
        ``(B, C, T)`` -> ``(B, C, length)``.
    """

    def __init__(self, sample_rate: int, length: float, unit: str = "samples") -> None:
        super().__init__(sample_rate)
        if unit not in ("samples", "seconds"):
            raise ValueError(f"RandomCropPad unit must be 'samples' or 'seconds', got {unit!r}")
        n = float(length) * (self.sample_rate if unit == "seconds" else 1) if _is_number(length) else -1
        if n < 1:
            raise ValueError(f"RandomCropPad length must be positive, got {length!r} {unit}")
        self.length, self.unit = length, unit
        self._n = int(round(n))

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        room = abs(batch.shape[-1] - self._n)
        u = torch.rand(batch.shape[0], generator=generator, device=generator.device, dtype=torch.float64)
        return {"offset": torch.floor(u * (room + 1)).long().clamp(max=room).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("RandomCropPad", len(params["offset"]), batch.shape[0])
        b, c, t = batch.shape
        off = params["offset"][:, None]
        n = torch.arange(self._n, device=batch.device)[None]
        src = n + off if t >= self._n else n - off
        valid = (src >= 0) & (src < t)
        out = batch.gather(2, src.clamp(0, t - 1)[:, None].expand(b, c, self._n))
        return out * valid[:, None].to(out.dtype)


# --------------------------------------------------------------------------------------------------
# Pitch and tempo
# --------------------------------------------------------------------------------------------------
class PitchShift(AudioView):
    """Shift the pitch of each example by its own number of semitones, keeping the length.

    One batched computation for the whole batch (:func:`pairs.views.audio_pitch.pitch_shift`).

    Args:
        sample_rate: rate in Hz.
        semitones: range of semitones, ``(low, high)`` or ``a`` for ``(-a, a)``; continuous.
        n_fft: STFT size (default about 64 ms of audio).

    Shape:
        ``(C, T)`` or ``(B, C, T)``, kept.
    """

    def __init__(
        self, sample_rate: int, semitones: float | tuple[float, float] = 4.0, n_fft: int | None = None
    ) -> None:
        super().__init__(sample_rate)
        self.semitones = _range(semitones, "PitchShift semitones")
        if max(abs(v) for v in self.semitones) > 24:
            raise ValueError(f"PitchShift semitones must lie within [-24, 24], got {semitones!r}")
        self.n_fft = n_fft

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        lo, hi = self.semitones
        return {"semitones": uniform(lo, hi, batch.shape[0], generator).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("PitchShift", len(params["semitones"]), batch.shape[0])
        return pitch_shift(batch, self.sample_rate, params["semitones"], n_fft=self.n_fft)


class TimeStretch(AudioView):
    """Play each example faster or slower by its own rate, keeping the pitch (batched phase vocoder).

    Args:
        sample_rate: rate in Hz.
        rate: range of rates ``(low, high)``, all > 0 (``> 1`` is faster).
        keep_length: crop/zero-pad back to the input length (default); otherwise the batch is as long as
            its longest stretched example and the shorter ones end in zeros (``params["lengths"]``).

    Shape:
        ``(B, C, T)`` -> ``(B, C, T)`` (or ``(B, C, T')`` without ``keep_length``).
    """

    def __init__(
        self, sample_rate: int, rate: tuple[float, float] = (0.8, 1.25), keep_length: bool = True
    ) -> None:
        super().__init__(sample_rate)
        self.rate = _range(rate, "TimeStretch rate", symmetric=False)
        if self.rate[0] <= 0:
            raise ValueError(f"TimeStretch rates must be > 0, got {rate!r}")
        self.keep_length = bool(keep_length)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        lo, hi = math.log(self.rate[0]), math.log(self.rate[1])  # log-uniform: 0.8 as likely as 1.25
        return {"rate": torch.exp(uniform(lo, hi, batch.shape[0], generator)).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("TimeStretch", len(params["rate"]), batch.shape[0])
        out, lengths = time_stretch(batch, self.sample_rate, params["rate"], keep_length=self.keep_length)
        params["lengths"] = lengths
        return out


# --------------------------------------------------------------------------------------------------
# Level, polarity, noise
# --------------------------------------------------------------------------------------------------
def gain(waveform: Tensor, db: Tensor | float) -> Tensor:
    """Multiply each example by ``10 ** (db / 20)``.

    Args:
        waveform: ``(B, C, T)`` floating-point batch.
        db: a number or ``(B,)`` gains in dB.

    Returns:
        The scaled batch, in the dtype of ``waveform`` (half precision is computed in float32).

    Raises:
        TypeError: a non-float waveform.
        DataError: a bad waveform (rank, empty, NaN/inf), or a gain that overflows the dtype.

    Shape:
        ``(B, C, T)``, ``(B,)`` -> ``(B, C, T)``.
    """
    check_waveform(waveform, "gain", allow_single=False)
    wd = work_dtype(waveform.dtype)
    db = _batch_amounts(db, waveform, "gain", "db").to(torch.float64)
    factor = torch.pow(10.0, db / 20.0).to(wd)
    out = (waveform.to(wd) * factor.reshape(-1, 1, 1)).to(waveform.dtype)
    check_output_finite("gain", waveform, out)
    return out


class Gain(AudioView):
    """Change the level of each example by its own gain in dB (uniform in ``db``).

    Args:
        sample_rate: rate in Hz.
        db: range ``(low, high)`` in dB, or ``a`` for ``(-a, a)``.
    """

    def __init__(self, sample_rate: int, db: float | tuple[float, float] = 6.0) -> None:
        super().__init__(sample_rate)
        self.db = _range(db, "Gain db")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        return {"db": uniform(*self.db, batch.shape[0], generator).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("Gain", len(params["db"]), batch.shape[0])
        return gain(batch, params["db"])


class PolarityInversion(AudioView):
    """Flip the sign of each example with probability ``p``."""

    def __init__(self, sample_rate: int, p: float = 0.5) -> None:
        super().__init__(sample_rate)
        self.p = probability("p", p, owner="PolarityInversion")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        flip = torch.rand(batch.shape[0], generator=generator, device=generator.device) < self.p
        return {"flip": flip.to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("PolarityInversion", len(params["flip"]), batch.shape[0])
        sign = 1.0 - 2.0 * params["flip"].to(batch.dtype)
        return batch * sign.reshape(-1, 1, 1)


def add_noise(waveform: Tensor, noise: Tensor, snr_db: Tensor) -> Tensor:
    """Add ``noise`` scaled so that each example's signal-to-noise ratio is ``snr_db`` (``(B,)``).

    Signal and noise powers are means over channels and samples; silent examples stay silent.

    Powers are computed on peak-normalised signals (no overflow of the squares at large amplitudes),
    half precision in float32; the result has the dtype of ``waveform``.

    Raises:
        TypeError: non-float waveform or noise.
        DataError: bad shapes, empty or NaN/inf input, or a result too large for the dtype.

    Shape:
        waveform and noise ``(B, C, T)``, snr_db ``(B,)`` -> ``(B, C, T)``.
    """
    check_waveform(waveform, "add_noise", allow_single=False)
    check_waveform(noise, "add_noise (noise)", allow_single=False)
    if noise.shape != waveform.shape:
        raise DataError(
            f"add_noise: noise of shape {tuple(noise.shape)} does not match the waveform "
            f"{tuple(waveform.shape)}"
        )
    wd = work_dtype(waveform.dtype)
    b = waveform.shape[0]
    sig, sig_peak = peak_normalise(waveform.to(wd).reshape(b, -1))
    noi, noi_peak = peak_normalise(noise.to(wd).reshape(b, -1))
    rms_sig = sig.pow(2).mean(dim=1).sqrt() * sig_peak[:, 0]  # silent examples: 0
    rms_noise = noi.pow(2).mean(dim=1).sqrt()  # of the normalised noise
    snr = _batch_amounts(snr_db, waveform, "add_noise", "snr_db").to(torch.float64)
    ratio = torch.pow(10.0, -snr / 20.0).to(wd)  # noise rms / signal rms
    scale = torch.where(rms_noise > 0, rms_sig * ratio / rms_noise.clamp(min=torch.finfo(wd).tiny), 0.0)
    out = (waveform.to(wd) + (noi * scale[:, None]).view_as(waveform)).to(waveform.dtype)
    check_output_finite("add_noise", waveform, out)
    return out


class AddNoise(AudioView):
    """Add white or pink Gaussian noise at a per-example SNR drawn uniformly from ``snr_db``.

    Args:
        sample_rate: rate in Hz.
        snr_db: SNR range ``(low, high)`` in dB.
        color: ``"white"`` or ``"pink"`` (1/f power, shaped in the frequency domain).

    Params hold a seed per example, so replay regenerates the same noise.
    """

    def __init__(self, sample_rate: int, snr_db: tuple[float, float] = (10.0, 30.0), color: str = "white"):
        super().__init__(sample_rate)
        self.snr_db = _range(snr_db, "AddNoise snr_db", symmetric=False)
        if color not in ("white", "pink"):
            raise ValueError(f"AddNoise color must be 'white' or 'pink', got {color!r}")
        self.color = color

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        n = batch.shape[0]
        seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)
        return {"snr_db": uniform(*self.snr_db, n, generator).to(batch.device), "seed": seed.cpu()}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size("AddNoise", len(params["snr_db"]), batch.shape[0])
        g = torch.Generator(device=batch.device).manual_seed(int(params["seed"][0]))
        wd = work_dtype(batch.dtype)  # half precision: drawn and shaped in float32 (no half FFT on CPU)
        noise = torch.randn(batch.shape, generator=g, device=batch.device, dtype=wd)
        if self.color == "pink":
            t = batch.shape[-1]
            spec = torch.fft.rfft(noise, dim=-1)
            f = torch.arange(spec.shape[-1], device=batch.device, dtype=wd).clamp(min=1.0)
            noise = torch.fft.irfft(spec / f.sqrt(), n=t, dim=-1)
        return add_noise(batch, noise.to(batch.dtype), params["snr_db"])


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------
def filter_fft(waveform: Tensor, sample_rate: int, cutoff_hz: Tensor, kind: str, order: int = 4) -> Tensor:
    """Zero-phase low- or high-pass filter with a per-example cutoff, applied in the frequency domain.

    The magnitude response is a Butterworth filter's, ``1 / sqrt(1 + (f / fc) ** (2 * order))`` for a
    low-pass (``(f / fc) ** order`` over the same for a high-pass), with zero phase (applied once to
    the spectrum of the whole clip: no delay, circular at the ends).

    Args:
        waveform: ``(B, C, T)``.
        sample_rate: rate in Hz.
        cutoff_hz: ``(B,)`` -3 dB cutoff frequencies.
        kind: ``"lowpass"`` or ``"highpass"``.
        order: filter order (steepness, 6 dB/octave per order).

    Shape:
        ``(B, C, T)`` -> ``(B, C, T)``.
    """
    if kind not in ("lowpass", "highpass"):
        raise ConfigError(f"filter kind must be 'lowpass' or 'highpass', got {kind!r}")
    integer("order", order, minimum=1, owner="filter_fft")
    check_waveform(waveform, "filter_fft", allow_single=False)
    sample_rate = check_sample_rate(sample_rate, "filter_fft")
    fc = _batch_amounts(cutoff_hz, waveform, "filter_fft", "cutoff_hz").to(torch.float64)
    if not bool((fc > 0).all()):
        raise ConfigError(f"filter_fft: cutoff_hz must be > 0 Hz, got {fc.tolist()[:10]}")
    t = waveform.shape[-1]
    work, peak = peak_normalise(waveform.to(work_dtype(waveform.dtype)))  # the FFT sums cannot overflow
    spec = torch.fft.rfft(work, dim=-1)
    freqs = torch.fft.rfftfreq(t, d=1.0 / sample_rate, device=waveform.device, dtype=torch.float64)
    # the response in float64 from log-ratios: (f / fc) ** (2 * order) neither overflows nor underflows
    log_ratio = (2 * order) * torch.log(freqs[None].clamp(min=1e-300) / fc.reshape(-1, 1))
    log_ratio = torch.where(freqs[None] > 0, log_ratio, torch.tensor(-math.inf, dtype=torch.float64))
    response = torch.exp(-0.5 * torch.nn.functional.softplus(log_ratio))  # 1 / sqrt(1 + ratio)
    if kind == "highpass":
        response = torch.exp(0.5 * (log_ratio - torch.nn.functional.softplus(log_ratio)))
    out = torch.fft.irfft(spec * response.to(work.dtype)[:, None], n=t, dim=-1)
    out = (out * peak).to(waveform.dtype)
    check_output_finite("filter_fft", waveform, out)
    return out


class _Filter(AudioView):
    kind = ""

    def __init__(self, sample_rate: int, cutoff_hz: tuple[float, float], order: int = 4) -> None:
        super().__init__(sample_rate)
        self.cutoff_hz = _range(cutoff_hz, f"{type(self).__name__} cutoff_hz", symmetric=False)
        if self.cutoff_hz[0] <= 0 or self.cutoff_hz[1] >= self.sample_rate / 2:
            raise ValueError(
                f"{type(self).__name__} cutoff_hz must lie in (0, {self.sample_rate / 2}) Hz (Nyquist at "
                f"{self.sample_rate} Hz), got {cutoff_hz!r}"
            )
        self.order = integer("order", order, minimum=1, owner=type(self).__name__)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        lo, hi = math.log(self.cutoff_hz[0]), math.log(self.cutoff_hz[1])  # log-uniform in frequency
        return {"cutoff_hz": torch.exp(uniform(lo, hi, batch.shape[0], generator)).to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size(type(self).__name__, len(params["cutoff_hz"]), batch.shape[0])
        return filter_fft(batch, self.sample_rate, params["cutoff_hz"], self.kind, self.order)


class LowPass(_Filter):
    """Low-pass each example at its own cutoff (log-uniform in ``cutoff_hz``), zero phase.

    Args:
        sample_rate: rate in Hz.
        cutoff_hz: range ``(low, high)`` of -3 dB cutoffs, below Nyquist.
        order: Butterworth order.
    """

    kind = "lowpass"

    def __init__(self, sample_rate: int, cutoff_hz: tuple[float, float] = (2000.0, 7500.0), order: int = 4):
        super().__init__(sample_rate, cutoff_hz, order)


class HighPass(_Filter):
    """High-pass each example at its own cutoff (log-uniform in ``cutoff_hz``), zero phase.

    Args:
        sample_rate: rate in Hz.
        cutoff_hz: range ``(low, high)`` of -3 dB cutoffs, below Nyquist.
        order: Butterworth order.
    """

    kind = "highpass"

    def __init__(self, sample_rate: int, cutoff_hz: tuple[float, float] = (20.0, 400.0), order: int = 4):
        super().__init__(sample_rate, cutoff_hz, order)


# --------------------------------------------------------------------------------------------------
# SpecAugment masks on spectrograms (C, F, T)
# --------------------------------------------------------------------------------------------------
class _SpecMask(View):
    sample_ndim = 3
    axis = -1

    def __init__(self, max_width: int, n_masks: int = 1, value: float = 0.0) -> None:
        self.max_width = integer("max_width", max_width, minimum=0, owner=type(self).__name__)
        self.n_masks = integer("n_masks", n_masks, minimum=1, owner=type(self).__name__)
        self.value = float(value)

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        if not isinstance(x, Tensor) or x.dim() not in (3, 4):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{type(self).__name__} expects a spectrogram (C, F, T) or a batch (B, C, F, T), got {shape}"
            )
        return super().to_batch(x)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, size = batch.shape[0], batch.shape[self.axis]
        dev = generator.device
        width = torch.floor(
            torch.rand(b, self.n_masks, generator=generator, device=dev) * (self.max_width + 1)
        )
        width = width.long().clamp(max=size)
        start = torch.floor(torch.rand(b, self.n_masks, generator=generator, device=dev) * (size - width + 1))
        return {"start": start.long().to(batch.device), "width": width.to(batch.device)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        check_replay_size(type(self).__name__, len(params["start"]), batch.shape[0])
        size = batch.shape[self.axis]
        idx = torch.arange(size, device=batch.device)[None, None]
        start, width = params["start"][..., None], params["width"][..., None]
        masked = ((idx >= start) & (idx < start + width)).any(dim=1)  # (B, size)
        shape = [batch.shape[0], 1, 1, 1]
        shape[self.axis] = size
        return batch.masked_fill(masked.view(shape), self.value)


class TimeMask(_SpecMask):
    """SpecAugment time masks: ``n_masks`` bands of up to ``max_width`` frames set to ``value``.

    Input is a spectrogram ``(C, F, T)`` or a batch ``(B, C, F, T)``; each example its own bands.
    """

    axis = -1


class FrequencyMask(_SpecMask):
    """SpecAugment frequency masks: ``n_masks`` bands of up to ``max_width`` bins set to ``value``.

    Input is a spectrogram ``(C, F, T)`` or a batch ``(B, C, F, T)``; each example its own bands.
    """

    axis = -2


# --------------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------------
def _wave_view(
    sample_rate: int,
    pitch_semitones: float,
    pitch_p: float,
    stretch: float,
    shift: float,
    lowpass_hz: tuple[float, float],
    highpass_hz: tuple[float, float],
    gain_db: float,
    noise: View,
) -> AudioCompose:
    """The pipeline shared by the waveform presets, in their order: pitch, tempo, roll shift, one of a
    low-pass or a high-pass (p=0.5), gain, ``noise``, polarity inversion (p=0.5).

    Args:
        sample_rate: Hz of the clips.
        pitch_semitones: largest pitch shift in semitones, applied with probability ``pitch_p``.
        pitch_p: probability of the pitch shift.
        stretch: time-stretch rates are drawn from ``(1 / (1 + stretch), 1 + stretch)`` (p=0.3).
        shift: largest roll shift as a fraction of the clip.
        lowpass_hz: ``(low, high)`` cut-offs in Hz before the Nyquist bounds (0.4 and 0.9 of Nyquist).
        highpass_hz: ``(low, high)`` cut-offs in Hz; ``high`` is bounded by 0.2 of Nyquist.
        gain_db: largest gain change in dB.
        noise: the noise step (already wrapped in its ``RandomApply``).

    Returns:
        The composed view on waveforms ``(C, T)`` or ``(B, C, T)``.
    """
    nyq = sample_rate / 2
    return AudioCompose(
        [
            RandomApply(PitchShift(sample_rate, pitch_semitones), p=pitch_p),
            RandomApply(TimeStretch(sample_rate, (1 / (1 + stretch), 1 + stretch)), p=0.3),
            TimeShift(sample_rate, shift, unit="fraction"),
            RandomApply(
                OneOf(
                    [
                        LowPass(sample_rate, (min(lowpass_hz[0], 0.4 * nyq), min(lowpass_hz[1], 0.9 * nyq))),
                        HighPass(sample_rate, (highpass_hz[0], min(highpass_hz[1], 0.2 * nyq))),
                    ]
                ),
                p=0.5,
            ),
            Gain(sample_rate, gain_db),
            noise,
            PolarityInversion(sample_rate, 0.5),
        ],
        sample_rate,
    )


def speech_view(sample_rate: int = 16000, strength: float = 1.0) -> AudioCompose:
    """Views for speech (after WavAugment / COLA): pitch, tempo, shift, band limits, gain, noise.

    Pitch shift (+-3 semitones, p=0.6), time stretch (0.85-1.18, length kept, p=0.3), roll shift (up to
    30% of the clip), one of a low-pass (1.5-7 kHz) or a high-pass (50-500 Hz) (p=0.5), gain (+-6 dB),
    white or pink noise at 10-30 dB SNR (p=0.5), polarity inversion (p=0.5). ``strength`` scales the
    ranges.
    """
    s = float(strength)
    noise = RandomApply(
        OneOf([AddNoise(sample_rate, (10.0, 30.0)), AddNoise(sample_rate, (10.0, 30.0), "pink")]),
        p=0.5,
    )
    return _wave_view(
        sample_rate, 3.0 * s, 0.6, 0.18 * s, 0.3 * s, (1500.0, 7000.0), (50.0, 500.0), 6.0 * s, noise
    )


def music_view(sample_rate: int = 22050, strength: float = 1.0) -> AudioCompose:
    """Views for music (after CLMR, Spijkervet & Burgoyne 2021): crops are the caller's; here pitch
    (+-4 semitones, p=0.5), tempo (0.8-1.25, p=0.3), roll shift, filters (p=0.5), gain, light noise
    (20-40 dB SNR, p=0.3) and polarity (p=0.5)."""
    s = float(strength)
    noise = RandomApply(AddNoise(sample_rate, (20.0, 40.0)), p=0.3)
    return _wave_view(
        sample_rate, 4.0 * s, 0.5, 0.25 * s, 0.5 * s, (2200.0, 4000.0), (200.0, 1200.0), 6.0 * s, noise
    )
