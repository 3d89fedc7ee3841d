"""Batched pitch shift and time stretch with a different amount for every example, in one computation.

The building blocks, all vectorised over the batch (no Python loop over examples):

* :func:`stft_frames`: the STFT of a batch and the per-frame *phase advance* of every bin (the
  instantaneous frequency times the hop), computed once for the batch;
* :func:`phase_vocoder`: a phase vocoder that time-stretches every example by its own rate. The output
  frames of all examples are laid on one common grid of ``M`` frames; frame ``m`` of example ``b`` reads
  the source at the fractional frame position ``m * rate[b]``, gathering magnitudes (linearly
  interpolated) and phase advances with per-example indices, and the output phases are a cumulative sum
  along the frames (Flanagan & Golden 1966; Laroche & Dolson 1999). Examples that end early are padded
  with silent frames;
* :func:`resample_at`: a fixed-width windowed-sinc interpolator evaluated at per-example fractional
  positions (cost ``O(B * T * taps)``, the same for every ratio: no rational approximation of the ratio,
  unlike ``torchaudio.functional.resample``, whose cost grows with the ratio's denominator,
  pytorch/audio#3447). The kernel is evaluated with a Farrow structure (a polynomial in the fractional
  position), i.e. one ``conv1d`` and one gather for the whole batch;
* :func:`pitch_shift`: time-stretch by ``2 ** (semitones / 12)`` with the vocoder, then resample each
  example by its own ratio back to the input length (as ``librosa.effects.pitch_shift`` does for one
  clip). Before resampling down, the vocoder's spectrum of each example is low-passed at its new
  Nyquist frequency, so raising the pitch does not alias;
* :func:`time_stretch`: the vocoder alone, with the length kept or not.

Every function takes waveforms ``(B, C, T)`` (or ``(C, T)``) and per-example amounts ``(B,)``; channels
of one example share its amount.

References:
    Flanagan & Golden 1966, "Phase Vocoder" (Bell System Technical Journal).
    Laroche & Dolson 1999, "Improved phase vocoder time-scale modification of audio" (IEEE TSAP).
    Farrow 1988, "A continuously variable digital delay element" (ISCAS).
    Smith, "Digital Audio Resampling Home Page" (bandlimited interpolation with a windowed sinc),
    https://ccrma.stanford.edu/~jos/resample/.
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache

import torch
from torch import Tensor

from pairs.errors import ConfigError, DataError
from pairs.views.base import check_output_finite, work_dtype

__all__ = [
    "default_n_fft",
    "stft_frames",
    "phase_vocoder",
    "resample_at",
    "sinc_table",
    "pitch_shift",
    "time_stretch",
]


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------
def check_waveform(x: object, name: str, *, allow_single: bool = True) -> tuple[Tensor, bool]:
    """Validate a waveform ``(C, T)`` or batch ``(B, C, T)``; returns ``(batch, was_single)``.

    Raises:
        TypeError: not a floating-point tensor.
        DataError: wrong rank, no samples or no channels, or NaN/inf samples.
    """
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} expects a torch.Tensor waveform (C, T) or batch (B, C, T), got {type(x).__name__}; "
            "convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} expects a floating-point waveform, got dtype {x.dtype}; use x.float()")
    single = x.dim() == 2 and allow_single
    if x.dim() not in ((2, 3) if allow_single else (3,)):
        expected = "a waveform (C, T) or a batch (B, C, T)" if allow_single else "a batch (B, C, T)"
        raise DataError(
            f"{name} expects {expected}, got shape {tuple(x.shape)}; a mono clip of T samples is (1, T), "
            "a batch of them (B, 1, T)"
        )
    batch = x.unsqueeze(0) if single else x
    if batch.shape[0] == 0 or batch.shape[1] == 0 or batch.shape[2] == 0:
        raise DataError(
            f"{name} got an empty waveform of shape {tuple(x.shape)}; expected at least one example, "
            "one channel and one sample"
        )
    if not bool(torch.isfinite(batch.sum())) and not bool(torch.isfinite(batch).all()):
        bad = (~torch.isfinite(batch)).flatten(1).any(1).nonzero().flatten().tolist()
        raise DataError(
            f"{name} got NaN or infinite samples in example(s) {bad[:10]}; clean the audio first "
            "(e.g. torch.nan_to_num)"
        )
    return batch, single


def check_sample_rate(sample_rate: object, name: str) -> int:
    """A positive integer sample rate in Hz."""
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, numbers.Real)
        or not float(sample_rate).is_integer()
        or sample_rate <= 0
    ):
        raise ConfigError(f"{name}: sample_rate must be a positive integer number of Hz, got {sample_rate!r}")
    # an integral value (checked above): exact for integer types, the float's value for the others
    return int(sample_rate) if isinstance(sample_rate, numbers.Integral) else int(float(sample_rate))


def peak_normalise(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Divide every row by its peak magnitude, so squares and FFT sums can neither overflow nor underflow.

    Every operation of this module is linear in the signal (STFT, vocoder, interpolation, filters), so
    ``f(x) = peak * f(x / peak)``: audio at 1e30 or at 1e-30 is processed exactly like audio at 1.

    Args:
        rows: ``(..., T)`` finite floating-point signals.

    Returns:
        ``(rows / peak, peak)`` with ``peak`` of shape ``(..., 1)`` (1 for silent rows).
    """
    peak = rows.abs().amax(dim=-1, keepdim=True)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    return rows / peak, peak


def _per_example(amount: object, n: int, device: torch.device, name: str, what: str) -> Tensor:
    """A float64 ``(B,)`` tensor of per-example amounts from a number, a sequence or a tensor."""
    t = torch.as_tensor(amount, dtype=torch.float64)
    if t.dim() == 0:
        t = t.expand(n)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(
            f"{name}: {what} must be a number or a (B,) tensor with one amount per example (B={n}), "
            f"got shape {tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{name}: {what} must be finite, got {t.tolist()[:10]}")
    return t.to(device)


def default_n_fft(sample_rate: int) -> int:
    """STFT size of about 64 ms: 1024 at 16 kHz, 2048 at 22.05 to 44.1 kHz, 4096 at 48 kHz and above."""
    return 1 << max(6, round(math.log2(0.064 * sample_rate)))


def _stft_sizes(sample_rate: int, n_fft: int | None, hop_length: int | None, name: str) -> tuple[int, int]:
    n_fft = default_n_fft(sample_rate) if n_fft is None else n_fft
    if isinstance(n_fft, bool) or not isinstance(n_fft, numbers.Integral) or n_fft < 16:
        raise ValueError(f"{name}: n_fft must be an int >= 16, got {n_fft!r}")
    hop = n_fft // 4 if hop_length is None else hop_length
    if isinstance(hop, bool) or not isinstance(hop, numbers.Integral) or not 1 <= hop <= n_fft // 2:
        raise ValueError(
            f"{name}: hop_length must be an int in [1, n_fft/2] = [1, {n_fft // 2}], got {hop!r}"
        )
    return int(n_fft), int(hop)


# --------------------------------------------------------------------------------------------------
# STFT analysis shared by the vocoder
# --------------------------------------------------------------------------------------------------
def stft_frames(x: Tensor, n_fft: int, hop: int) -> tuple[Tensor, Tensor, Tensor]:
    """STFT of a batch as magnitudes and unit phasors, frame-major.

    Args:
        x: signals ``(N, T)``.
        n_fft: FFT size (Hann window of the same length).
        hop: hop length.

    Returns:
        ``(window, magnitude, phasor)``: magnitude ``(N, K, F)`` real and phasor ``(N, K, F)`` complex
        with ``|phasor| = 1`` (``1`` where the bin is silent). Frames are the middle dimension (each
        frame's bins contiguous), the transpose of ``torch.stft``'s ``(N, F, K)``.

    Shape:
        ``F = n_fft // 2 + 1`` bins, ``K = T // hop + 1`` frames (centered, zero padded).
    """
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    spec = spec.transpose(1, 2).contiguous()  # (N, K, F); a free view of stft's memory layout
    parts = torch.view_as_real(spec)
    re, im = parts[..., 0], parts[..., 1]
    power = torch.addcmul(re * re, im, im)  # |S|^2: faster than the complex abs (hypot)
    silent = power <= torch.finfo(x.dtype).tiny
    inv = power.clamp(min=torch.finfo(x.dtype).tiny).rsqrt_()
    phasor = torch.view_as_complex(parts * inv.unsqueeze(-1))
    phasor.masked_fill_(silent, 1.0)
    return window, power.mul_(inv), phasor


# --------------------------------------------------------------------------------------------------
# Phase vocoder with per-example rates
# --------------------------------------------------------------------------------------------------
def _vocoder_spectrum(mag: Tensor, phasor: Tensor, rate: Tensor, n_out: int, cutoff: Tensor | None) -> Tensor:
    """Stretched complex spectrum ``(N, n_out, F)``; frame ``m`` of row ``i`` reads source ``m * rate[i]``.

    The phase advance of a bin from source frame ``k`` to ``k + 1`` is carried as the unit phasor
    ``u[k + 1] * conj(u[k])`` (the exact advance modulo 2 pi: the synthesis hop equals the analysis hop),
    so the output phases are a cumulative *product* along frames, with no ``atan2`` and no wrapping.
    Frames are gathered whole (one row of ``F`` bins per index), frame-major.
    """
    n, n_frames, n_bins = mag.shape
    device, dtype = mag.device, mag.dtype
    # Source tables with two trailing silent frames, so positions past the end read silence.
    mag_p = torch.nn.functional.pad(mag, (0, 0, 0, 2)).view(n * (n_frames + 2), n_bins)
    # Step table: row 0 holds the initial phasor, row 1 + k the advance out of frame k (the last rows
    # repeat the final advance; their magnitude is zero).
    steps_p = torch.empty(n, n_frames + 2, n_bins, dtype=phasor.dtype, device=device)
    steps_p[:, 0] = phasor[:, 0]
    if n_frames > 1:
        torch.mul(phasor[:, 1:], phasor[:, :-1].conj(), out=steps_p[:, 1:n_frames])
        steps_p[:, n_frames:] = steps_p[:, n_frames - 1 : n_frames]
    else:
        steps_p[:, 1:] = 1.0

    pos = torch.arange(n_out, device=device, dtype=torch.float64)[None] * rate[:, None]  # (N, M)
    i0 = pos.floor()
    frac = (pos - i0).to(dtype).unsqueeze(2)  # (N, M, 1)
    i0 = i0.long().clamp_(max=n_frames)  # frame K is silent, K + 1 too
    row0 = (i0 + torch.arange(n, device=device)[:, None] * (n_frames + 2)).flatten()  # (N * M,)
    out_mag = mag_p.index_select(0, row0).view(n, n_out, n_bins)
    out_mag.lerp_(mag_p.index_select(0, row0 + 1).view(n, n_out, n_bins), frac)
    if cutoff is not None:  # low-pass each row at its own bin (linear taper over 4 bins)
        bins = torch.arange(n_bins, device=device, dtype=dtype)
        out_mag.mul_(((cutoff.to(dtype)[:, None] - bins) * 0.25).clamp_(0.0, 1.0).unsqueeze(1))
    # Phasor of output frame m = initial phasor times the advances read at frames 0..m-1.
    shift = torch.cat([torch.zeros_like(i0[:, :1]), i0[:, :-1] + 1], dim=1)  # (N, M)
    shift = (shift + torch.arange(n, device=device)[:, None] * (n_frames + 2)).flatten()
    gathered = steps_p.view(n * (n_frames + 2), n_bins).index_select(0, shift).view(n, n_out, n_bins)
    phase = torch.cumprod(gathered, dim=1)
    return phase.mul_(out_mag)


def _overlap_add(spec: Tensor, window: Tensor, hop: int, length: int) -> Tensor:
    """Inverse of :func:`stft_frames`' centered STFT: ``(N, M, F)`` frame-major spectra -> ``(N, length)``.

    Weighted overlap-add (Griffin & Lim 1984) like ``torch.istft``, but with the frame hop a divisor of
    ``n_fft`` the frames are added as ``n_fft / hop`` shifted block sums instead of a ``fold``.
    """
    n, n_frames, _ = spec.shape
    n_fft = window.shape[0]
    if n_fft % hop:
        return torch.istft(spec.transpose(1, 2), n_fft, hop, window=window, center=True, length=length)
    frames = torch.fft.irfft(spec, n=n_fft, dim=-1).mul_(window)  # (N, M, n_fft)
    q = n_fft // hop
    blocks = frames.view(n, n_frames, q, hop)
    out = blocks.new_zeros(n, n_frames + q - 1, hop)
    for j in range(q):
        out[:, j : j + n_frames] += blocks[:, :, j]
    # Window-square envelope of the frames, counting silent frames past the grid's end as present (the
    # vocoder's frames past a row's end are silent), so the tail is not divided by a partial envelope and
    # the result does not depend on how long the common grid is.
    envelope = window.square().view(q, hop)
    norm = envelope.new_zeros(n_frames + 2 * q - 2, hop)
    for j in range(q):
        norm[j : j + n_frames + q - 1] += envelope[j]
    norm = norm[: n_frames + q - 1]
    start = n_fft // 2  # centered frames: sample 0 sits in the middle of frame 0
    out = out.view(n, -1)[:, start : start + length]
    norm = norm.flatten()[start : start + length]
    tiny = torch.finfo(norm.dtype).tiny
    return out.div_(norm.clamp(min=tiny))


def phase_vocoder(
    x: Tensor,
    rate: Tensor,
    n_fft: int,
    hop: int,
    n_out_frames: int | None = None,
    cutoff: Tensor | None = None,
) -> Tensor:
    """Time-stretch rows of ``x`` by per-row rates with one batched phase vocoder.

    Args:
        x: signals ``(N, T)``.
        rate: ``(N,)`` playback rates (> 0): ``rate < 1`` makes a row longer (``T / rate`` samples).
        n_fft: FFT size; hop: hop length.
        n_out_frames: number of output frames on the common grid (default: enough for the slowest row).
        cutoff: optional ``(N,)`` bin index per row above which the output spectrum is removed.

    Returns:
        ``(N, L)`` stretched signals with ``L = (n_out_frames - 1) * hop``; row ``i`` holds
        ``round(T / rate[i])`` meaningful samples followed by silence.

    Shape:
        ``(N, T)``, ``(N,)`` -> ``(N, L)``.
    """
    window, mag, phasor = stft_frames(x, n_fft, hop)
    n_frames = mag.shape[1]
    if n_out_frames is None:
        n_out_frames = int(math.ceil((n_frames - 1) / float(rate.min()))) + 2
    spec = _vocoder_spectrum(mag, phasor, rate, n_out_frames, cutoff)
    del mag, phasor
    return _overlap_add(spec, window, hop, (n_out_frames - 1) * hop)


# --------------------------------------------------------------------------------------------------
# Windowed-sinc interpolation at per-example positions
# --------------------------------------------------------------------------------------------------
_FARROW_DEGREE = 5  # polynomial degree of the kernel in the fractional position (error below -80 dB)


@lru_cache(maxsize=16)
def _sinc_table_cpu(half_width: int, phases: int, beta: float) -> Tensor:
    frac = torch.arange(phases + 1, dtype=torch.float64) / phases
    taps = torch.arange(-half_width + 1, half_width + 1, dtype=torch.float64)
    dist = frac[:, None] - taps[None]  # distance of each tap from the output position
    inside = (dist.abs() / half_width).clamp(max=1.0)
    window = torch.special.i0(beta * torch.sqrt(1.0 - inside**2)) / torch.special.i0(torch.tensor(beta))
    kernel = torch.sinc(dist) * window
    return kernel / kernel.sum(dim=1, keepdim=True)  # unit DC gain at every phase


def sinc_table(
    half_width: int = 8, phases: int = 1024, beta: float = 8.0, device=None, dtype=torch.float32
) -> Tensor:
    """Kaiser-windowed sinc kernel tabulated at ``phases + 1`` fractional offsets.

    Row ``q`` holds the ``2 * half_width`` tap weights for an output position ``q / phases`` of a sample
    past an input sample; taps are at offsets ``-half_width + 1 .. half_width``. Every row sums to one.

    Shape:
        ``(phases + 1, 2 * half_width)``.
    """
    return _sinc_table_cpu(int(half_width), int(phases), float(beta)).to(device=device, dtype=dtype)


@lru_cache(maxsize=16)
def _farrow_cpu(half_width: int, beta: float, degree: int) -> Tensor:
    """Least-squares polynomial fit, in ``x = 2 * frac - 1``, of each tap of the windowed-sinc kernel."""
    table = _sinc_table_cpu(half_width, 4096, beta)
    x = torch.linspace(-1.0, 1.0, table.shape[0], dtype=torch.float64)
    vander = torch.stack([x**d for d in range(degree + 1)], dim=1)
    return torch.linalg.lstsq(vander, table).solution  # (degree + 1, 2 * half_width)


def resample_at(signal: Tensor, positions: Tensor, half_width: int = 8, beta: float = 8.0) -> Tensor:
    """Evaluate band-limited signals at fractional positions (Kaiser-windowed-sinc interpolation).

    The kernel has a fixed width (``2 * half_width`` taps), so the cost is ``O(N * (L + P) * taps)``
    whatever the positions are. It is evaluated with a Farrow structure (Farrow 1988): each tap weight
    is a degree-5 polynomial of the fractional position (fitted to the windowed sinc to better than
    -80 dB), so the signal is filtered once by six fixed FIR filters (one ``conv1d``) and every output is
    a Horner evaluation of the six filtered values read at its integer position (one gather). Samples
    outside ``[0, L)`` read as zero. When positions are spaced more than one sample apart (decimation),
    low-pass the signals below the new Nyquist frequency first.

    Args:
        signal: ``(N, L)`` signals.
        positions: ``(N, P)`` positions in samples of each row (float).
        half_width: taps on each side of the position.
        beta: Kaiser window parameter.

    Returns:
        ``(N, P)`` interpolated values.

    Raises:
        TypeError: non-float signal or positions.
        DataError: shapes that do not match, no samples, NaN/inf values.
        ConfigError: ``half_width < 1``.

    Shape:
        signal ``(N, L)``, positions ``(N, P)`` -> ``(N, P)``; the output has the dtype of ``signal``
        (half precision is computed in float32).
    """
    for name, t in (("signal", signal), ("positions", positions)):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            got = t.dtype if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(f"resample_at expects a floating-point {name} tensor, got {got}; use .float()")
    if signal.dim() != 2 or positions.dim() != 2 or positions.shape[0] != signal.shape[0]:
        raise DataError(
            f"resample_at expects signal (N, L) and positions (N, P), got {tuple(signal.shape)} and "
            f"{tuple(positions.shape)}"
        )
    if signal.shape[1] == 0:
        raise DataError(f"resample_at got signals with no samples, shape {tuple(signal.shape)}")
    if isinstance(half_width, bool) or not isinstance(half_width, numbers.Integral) or half_width < 1:
        raise ConfigError(f"resample_at: half_width must be an int >= 1, got {half_width!r}")
    check_finite_values(signal, "resample_at", "signal")
    check_finite_values(positions, "resample_at", "positions")
    if signal.shape[0] == 0 or positions.shape[1] == 0:
        return signal.new_zeros(positions.shape)
    rows, peak = peak_normalise(signal.to(work_dtype(signal.dtype)))
    out = _resample_rows(rows, positions.to(rows.dtype), int(half_width), float(beta))
    out = out.mul_(peak).to(signal.dtype)
    check_output_finite("resample_at", signal, out)
    return out


def _resample_rows(signal: Tensor, positions: Tensor, k: int, beta: float = 8.0) -> Tensor:
    """:func:`resample_at` on validated float32/float64 rows (no checks, no scaling)."""
    n, length = signal.shape
    coef = _farrow_cpu(k, float(beta), _FARROW_DEGREE).to(device=signal.device, dtype=signal.dtype)
    # filtered[:, d, w] = sum_j coef[d, j] * x[w - k + j]: the taps of an output in [w - 1, w).
    padded = torch.nn.functional.pad(signal.unsqueeze(1), (k, k))
    filtered = torch.nn.functional.conv1d(padded, coef.unsqueeze(1))  # (N, D + 1, L + 1)
    base = positions.floor()
    x = (positions - base).mul_(2.0).sub_(1.0)  # fractional part mapped to [-1, 1)
    index = (base.long() + 1).clamp_(0, length).unsqueeze(1).expand(n, coef.shape[0], -1)
    values = filtered.gather(2, index)  # (N, D + 1, P)
    out = values[:, -1].clone()
    for d in range(coef.shape[0] - 2, -1, -1):  # Horner in x
        out.mul_(x).add_(values[:, d])
    outside = (positions < -k) | (positions > length + k - 1)
    return out.masked_fill_(outside, 0.0)


def check_finite_values(x: Tensor, owner: str, name: str) -> None:
    """Refuse NaN/inf in ``x`` (an argument of ``owner``) with a :class:`~pairs.errors.DataError`."""
    if not bool(torch.isfinite(x).all()):
        raise DataError(f"{owner}: {name} holds NaN or infinite values; expected finite values")


# --------------------------------------------------------------------------------------------------
# Public functional forms
# --------------------------------------------------------------------------------------------------
def pitch_shift(
    waveform: Tensor,
    sample_rate: int,
    semitones: Tensor | float,
    *,
    n_fft: int | None = None,
    hop_length: int | None = None,
    half_width: int = 8,
    preserve_peak: bool = True,
    chunk_size: int | None = None,
) -> Tensor:
    """Shift the pitch of every example by its own number of semitones, keeping the length.

    One batched computation: a phase vocoder stretches example ``b`` in time by ``2 ** (s_b / 12)``
    (per-example source positions on a common frame grid), its spectrum is low-passed at the new
    Nyquist frequency when the pitch goes up, and a windowed-sinc interpolator reads each stretched
    example at positions ``n * 2 ** (s_b / 12)``, ``n = 0 .. T-1``, which brings it back to ``T`` samples
    with every frequency multiplied by ``2 ** (s_b / 12)``.

    Args:
        waveform: ``(B, C, T)`` batch (or one ``(C, T)`` waveform).
        sample_rate: sample rate in Hz (sets the default STFT size, :func:`default_n_fft`).
        semitones: a number, or a ``(B,)`` tensor with one (fractional) amount per example.
        n_fft: STFT size (default about 64 ms). Larger resolves low pitches better, smaller smears
            transients less.
        hop_length: STFT hop (default ``n_fft // 4``).
        half_width: taps on each side of the resampling kernel.
        preserve_peak: scale down an example whose peak came out above its input peak (the vocoder
            changes the relative phases of partials, which can raise the peak), so no clipping is added.
        chunk_size: rows (examples x channels) per tile. On CPU the batch is processed in tiles of 16
            rows by default so each tile's spectra stay in cache (about 2x faster than one huge tile);
            every tile is one vectorised computation with per-example amounts. ``0`` or a value at least
            the number of rows processes everything at once (the default on GPU).

    Returns:
        The shifted waveforms, same shape, dtype and device as ``waveform``.

    Raises:
        TypeError, ValueError: bad waveform (rank, empty, NaN), sample rate or amounts.

    Shape:
        ``(B, C, T)`` and ``(B,)`` -> ``(B, C, T)``.

    Example:
        >>> x = torch.randn(4, 1, 16000)
        >>> y = pitch_shift(x, 16000, torch.tensor([-4.0, -1.5, 0.0, 3.2]))
        >>> y.shape
        torch.Size([4, 1, 16000])
    """
    batch, single = check_waveform(waveform, "pitch_shift")
    sr = check_sample_rate(sample_rate, "pitch_shift")
    n_fft, hop = _stft_sizes(sr, n_fft, hop_length, "pitch_shift")
    b, c, t = batch.shape
    steps = _per_example(semitones, b, batch.device, "pitch_shift", "semitones")
    ratio = torch.pow(2.0, steps / 12.0).repeat_interleave(c)  # (B*C,) frequency ratio
    rows, peak = peak_normalise(batch.reshape(b * c, t).to(work_dtype(batch.dtype)))
    k = int(half_width)
    if isinstance(half_width, bool) or not isinstance(half_width, numbers.Integral) or k < 1:
        raise ConfigError(f"pitch_shift: half_width must be an int >= 1, got {half_width!r}")
    n_bins = n_fft // 2 + 1
    positions = torch.arange(t, device=batch.device, dtype=torch.float64)
    tile = _tile_rows(rows, chunk_size)
    # Rows sorted by ratio, so each tile's common frame grid is sized for similar stretches.
    order = torch.argsort(ratio) if tile < rows.shape[0] else None
    sorted_rows, sorted_ratio = (rows, ratio) if order is None else (rows[order], ratio[order])
    parts = []
    for start in range(0, rows.shape[0], tile):  # tiles of rows for cache locality; each tile is batched
        part, r = sorted_rows[start : start + tile], sorted_ratio[start : start + tile]
        cutoff = torch.where(r > 1.0, (n_bins - 1) / r, n_bins + 4.0) if bool((r > 1.0).any()) else None
        stretched = phase_vocoder(part, 1.0 / r, n_fft, hop, cutoff=cutoff)
        parts.append(_resample_rows(stretched, (positions[None] * r[:, None]).to(rows.dtype), k))
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    if order is not None:
        out = torch.empty_like(out).index_copy_(0, order, out)
    if preserve_peak:  # never louder at the peak than the input: no clipping added
        peak_in = rows.abs().amax(dim=1, keepdim=True)
        peak_out = out.abs().amax(dim=1, keepdim=True)
        out = out * torch.where(peak_out > peak_in, peak_in / peak_out.clamp(min=1e-30), 1.0)
    out = (out * peak).view(b, c, t).to(batch.dtype)
    check_output_finite("pitch_shift", batch, out)
    return out[0] if single else out


def _tile_rows(rows: Tensor, chunk_size: int | None) -> int:
    if chunk_size is None:
        chunk_size = 16 if rows.device.type == "cpu" else 0
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 0:
        raise ValueError(f"chunk_size must be an int >= 0 (0: no tiling), got {chunk_size!r}")
    return int(chunk_size) if chunk_size > 0 else rows.shape[0]


def time_stretch(
    waveform: Tensor,
    sample_rate: int,
    rate: Tensor | float,
    *,
    keep_length: bool = True,
    n_fft: int | None = None,
    hop_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Play every example faster or slower by its own rate, keeping the pitch (batched phase vocoder).

    Args:
        waveform: ``(B, C, T)`` batch (or one ``(C, T)`` waveform).
        sample_rate: sample rate in Hz (sets the default STFT size).
        rate: a number or a ``(B,)`` tensor of rates > 0; ``rate > 1`` is faster (shorter).
        keep_length: crop or zero-pad every example to ``T`` samples; otherwise the batch is as long as
            the longest stretched example and shorter ones are zero-padded at the end.
        n_fft: STFT size; hop_length: hop (default ``n_fft // 4``).

    Returns:
        ``(stretched, lengths)``: the waveforms and the ``(B,)`` number of meaningful samples of each
        (``round(T / rate)``, at most the output length).

    Shape:
        ``(B, C, T)`` -> ``(B, C, T')`` with ``T' = T`` when ``keep_length``.
    """
    batch, single = check_waveform(waveform, "time_stretch")
    sr = check_sample_rate(sample_rate, "time_stretch")
    n_fft, hop = _stft_sizes(sr, n_fft, hop_length, "time_stretch")
    b, c, t = batch.shape
    rates = _per_example(rate, b, batch.device, "time_stretch", "rate")
    if bool((rates <= 0).any()):
        raise ValueError(f"time_stretch: rates must be > 0, got {rates.tolist()[:10]}")
    lengths = torch.round(t / rates).long()
    out_len = t if keep_length else int(lengths.max())
    n_out_frames = int(math.ceil(out_len / hop)) + 2
    rows, peak = peak_normalise(batch.reshape(b * c, t).to(work_dtype(batch.dtype)))
    stretched = phase_vocoder(rows, rates.repeat_interleave(c), n_fft, hop, n_out_frames=n_out_frames)
    stretched = stretched[:, :out_len]
    if stretched.shape[1] < out_len:
        stretched = torch.nn.functional.pad(stretched, (0, out_len - stretched.shape[1]))
    keep = torch.arange(out_len, device=batch.device)[None] < lengths.repeat_interleave(c)[:, None]
    stretched = (stretched * keep * peak).view(b, c, out_len).to(batch.dtype)
    check_output_finite("time_stretch", batch, stretched)
    lengths = lengths.clamp(max=out_len)
    return (stretched[0], lengths) if single else (stretched, lengths)
