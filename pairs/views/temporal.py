"""Time-series views: batched crops, masks, noise, scaling and warps for series ``(C, T)`` / ``(B, C, T)``.

Every view draws its random parameters for a whole batch from an explicit :class:`torch.Generator` (each
example its own draw) and transforms the batch in one vectorised tensor pass: no Python loop over
examples. Warps are index maps applied with one batched linear interpolation (two ``gather`` calls and a
``lerp``), so a batch of 256 series of length 1,000 is cropped, jittered, scaled and time-warped in a
few milliseconds on a CPU.

Naming: the domain is *series* wherever a user names it (``--data series:...``, :mod:`pairs.data.series`,
:mod:`pairs.domains.series`) and this module is also importable as :mod:`pairs.views.series`; the views and
encoders (:mod:`encoders.temporal`) keep the word *temporal* of the TS2Vec / TS-TCC literature.

Views:

* crops: :class:`RandomCrop` (fixed, ranged or relative length) and :class:`OverlappingCrops` (TS2Vec's
  two overlapping crops, with where the overlap sits in each crop, for timestamp-level contrast);
* values: :class:`Jitter`, :class:`Scaling`, :class:`MagnitudeWarp`, :class:`TimestampMask`,
  :class:`ChannelDropout`;
* time: :class:`TimeWarp`, :class:`WindowSlice`, :class:`WindowWarp`, :class:`SegmentPermutation`,
  :class:`FrameDrop`, :class:`SpeedChange`;
* recipes: :func:`ts2vec_view`, :func:`tstcc_weak_view`, :func:`tstcc_strong_view`,
  :func:`default_series_view` (and :data:`RECIPES` / :func:`get_recipe`).

**Variable length and NaN padding.** UEA archives store series of unequal length NaN-padded to a common
``T`` (see :func:`pairs.data.series.load_ucr`). A timestamp is *padding* when every channel is NaN there;
the *valid span* of an example runs from its first to its last timestamp with at least one non-NaN value
(:func:`valid_span`). The strategy, per kind of view:

* crops are placed inside each example's valid span (when the span is shorter than the crop, the crop
  covers the whole span and keeps some padding); :class:`OverlappingCrops` follows TS2Vec on the padded
  length by default (its encoder zeroes NaN timestamps), or keeps to the valid spans with
  ``within_valid=True``;
* value views (jitter, scaling, magnitude warp, masks, channel dropout) are elementwise: NaN stays NaN
  and no value moves in time;
* time views (time warp, window slice/warp, segment permutation, frame drop, speed change) re-time the
  valid span of each example onto itself: padding stays where it was and is never read into the span.
  Missing values *inside* a span (isolated NaNs) are interpolated around: an output sample is NaN only
  when the source sample nearest to it is NaN, so a gap never grows by interpolation;
* :class:`SpeedChange` (faster playback) and :class:`FrameDrop` with ``fill="nan"`` shorten the series and
  pad the end of the span with NaN (the UEA convention for shorter series), unless told otherwise;
* an example that is NaN everywhere is an error (``ValueError`` naming its index): it has no data.

**Replay.** ``view(x, g, return_params=True)`` returns the parameters; ``view.replay(x, params)``
applies them again. Parameters of time views are stored relative to each example's valid span, so they
replay on any batch of the same size; parameters that are per timestamp (jitter noise, timestamp masks,
frame-drop masks) need a batch of the same shape.

References:
    Um et al. 2017, "Data Augmentation of Wearable Sensor Data for Parkinson's Disease Monitoring using
    Convolutional Neural Networks" (jitter, scaling, magnitude warp, time warp, permutation).
    Le Guennec et al. 2016, "Data Augmentation for Time Series Classification using Convolutional Neural
    Networks" (window slicing, window warping).
    Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series" (overlapping crops,
    timestamp masking).
    Eldele et al. 2021, "Time-Series Representation Learning via Temporal and Contextual Contrasting"
    (TS-TCC weak/strong augmentations).
    Iwana & Uchida 2021, "An empirical survey of data augmentation for time series classification with
    neural networks" (survey of the above).

Example:
    >>> import torch
    >>> from pairs.views import temporal
    >>> x = torch.randn(256, 1, 1000)
    >>> view = temporal.default_series_view()
    >>> v1, v2 = view(x, generator=0), view(x, generator=1)
    >>> pair = temporal.OverlappingCrops()(x, generator=0)
    >>> pair.first.shape[-1] >= pair.overlap and pair.second.shape[-1] >= pair.overlap
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from pairs.errors import DataError
from pairs.registry import Registry
from pairs.validation import finite_float, integer, probability
from pairs.validation import is_int as _is_int
from pairs.validation import is_number as _is_number
from pairs.views.base import Compose, Params, View, check_finite, check_replay_size
from pairs.views.functional import temporal as _F
from pairs.views.functional.temporal import (
    _check_no_empty_series,
    _monotone_warp,
    _pos_dtype,
    _span_or_none,
)

__all__ = [
    "SeriesView",
    "RandomCrop",
    "OverlappingCrops",
    "CropPair",
    "TimestampMask",
    "Jitter",
    "Scaling",
    "MagnitudeWarp",
    "TimeWarp",
    "WindowSlice",
    "WindowWarp",
    "SegmentPermutation",
    "FrameDrop",
    "SpeedChange",
    "ChannelDropout",
    "valid_span",
    "ts2vec_view",
    "tstcc_weak_view",
    "tstcc_strong_view",
    "default_series_view",
    "get_recipe",
    "RECIPES",
]


# --------------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------------


def _check_ratio(v: Any, name: str) -> float:
    if not _is_number(v) or not 0.0 < float(v) <= 1.0:
        raise ValueError(f"{name} must be a fraction in (0, 1], got {v!r}")
    return float(v)


def _check_series(x: Any, name: str) -> Tensor:
    """Validate a batch of series ``(B, C, T)``."""
    if isinstance(x, CropPair):
        raise TypeError(
            f"{name} got the CropPair made by OverlappingCrops; apply further views to each crop, "
            "e.g. view(pair.first, g) and view(pair.second, g), rather than composing them after it"
        )
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} expects a torch.Tensor series (C, T) or batch (B, C, T), got {type(x).__name__}; "
            "convert with torch.as_tensor(x, dtype=torch.float32)"
        )
    if x.dim() != 3:
        raise ValueError(
            f"{name} expects a series (C, T) or a batch (B, C, T), got shape {tuple(x.shape)}; a univariate "
            "series of length T is (1, T), a batch of them (B, 1, T)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} expects floating-point series, got dtype {x.dtype}; convert with x.float()")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise DataError(f"{name} got series with no channels or no timestamps, shape {tuple(x.shape)}")
    return check_finite(x, name, allow_nan=True)  # NaN marks a missing timestamp; inf is refused


def _check_param_shape(t: Tensor, shape: tuple[int, ...], name: str, what: str) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(
            f"{name}: the {what} parameters have shape {tuple(t.shape)} but this batch needs {tuple(shape)}; "
            "per-timestamp parameters replay only on a batch of the same shape"
        )


# --------------------------------------------------------------------------------------------------
# Random draws (on the generator's device, then moved to the data's device)
# --------------------------------------------------------------------------------------------------
def _rand(shape: tuple[int, ...], g: torch.Generator, device: torch.device) -> Tensor:
    return torch.rand(shape, generator=g, device=g.device).to(device)


def _randn(
    shape: tuple[int, ...], g: torch.Generator, device: torch.device, dtype: torch.dtype, std: float = 1.0
) -> Tensor:
    draw_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    out = torch.empty(shape, device=g.device, dtype=draw_dtype).normal_(0.0, std, generator=g)
    return out.to(device=device, dtype=dtype)


def _randint_between(low: Tensor, high: Tensor, g: torch.Generator) -> Tensor:
    """Per-element uniform integers in ``[low, high]`` (inclusive; requires ``low <= high``)."""
    u = _rand(tuple(low.shape), g, low.device).double()
    span = (high - low + 1).double()
    return torch.minimum(low + (u * span).floor().long(), high)


# --------------------------------------------------------------------------------------------------
# Valid spans and batched resampling
# --------------------------------------------------------------------------------------------------
def valid_span(x: Tensor) -> tuple[Tensor, Tensor]:
    """First valid timestamp and length of the valid span of each series.

    A timestamp is valid when at least one channel is not NaN there; the span runs from the first to the
    last valid timestamp (isolated missing values inside it count as part of it).

    Args:
        x: a batch of series.

    Returns:
        ``(start, length)``, two int64 tensors of shape ``(B,)``.

    Raises:
        ValueError: if a series is NaN everywhere (the message names its index).

    Shape:
        ``(B, C, T) -> (B,), (B,)``.
    """
    _check_series(x, "valid_span")
    b, _, t = x.shape
    span = _span_or_none(x, "valid_span")
    if span is None:
        return torch.zeros(b, dtype=torch.long, device=x.device), torch.full((b,), t, device=x.device)
    return span


# --------------------------------------------------------------------------------------------------
# Smooth curves on [0, 1]
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# The series view base class
# --------------------------------------------------------------------------------------------------
class SeriesView(View):
    """Base class of the time-series views: a sample is ``(C, T)``, a batch ``(B, C, T)``.

    Validates inputs on entry (a float tensor of rank 2 or 3 with no all-NaN series).
    """

    sample_ndim = 2

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{name} expects a torch.Tensor series (C, T) or batch (B, C, T), got {type(x).__name__}; "
                "convert with torch.as_tensor(x, dtype=torch.float32)"
            )
        if x.dim() not in (2, 3):
            raise ValueError(
                f"{name} expects one series (C, T) or a batch (B, C, T), got a tensor of shape "
                f"{tuple(x.shape)}; a univariate series of length T is (1, T)"
            )
        batch, single = super().to_batch(x)
        _check_series(batch, name)
        _check_no_empty_series(batch, name)
        return batch, single

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        _check_series(batch, type(self).__name__)  # also inside Compose / RandomApply / OneOf
        return super().forward(batch, generator)


# --------------------------------------------------------------------------------------------------
# Crops
# --------------------------------------------------------------------------------------------------
class RandomCrop(SeriesView):
    """Crop a random window of each series.

    The window length is the same for the whole batch (the output is one tensor); its position is drawn
    per example, inside the example's valid span (see the module notes on NaN padding). When a span is
    shorter than the window, the window covers the whole span and keeps some padding.

    Args:
        size: the window length: an int ``L``; a pair ``(min, max)`` of ints, one length drawn uniformly
            per call (``max`` is capped at ``T``); or a float ratio in (0, 1], ``L = max(1, round(ratio*T))``.

    Raises:
        ValueError: on a bad ``size``; at call time if the series (``T``) is shorter than the window.

    Shape:
        ``(B, C, T) -> (B, C, L)``; params ``start (B,)`` int64 and ``length`` (int).

    Reference:
        Le Guennec et al. 2016 (window slicing used as cropping); Yue et al. 2022 (random cropping).
    """

    def __init__(self, size: int | float | Sequence[int]) -> None:
        if _is_int(size):
            if int(size) < 1:
                raise ValueError(f"RandomCrop size must be >= 1, got {size!r}")
        elif _is_number(size):
            _check_ratio(size, "RandomCrop size as a ratio")
        elif isinstance(size, Sequence) and len(size) == 2 and all(_is_int(s) for s in size):
            if not 1 <= int(size[0]) <= int(size[1]):
                raise ValueError(f"RandomCrop size range must satisfy 1 <= min <= max, got {size!r}")
        else:
            raise ValueError(
                "RandomCrop size must be an int length, a (min, max) pair of ints or a float ratio in "
                f"(0, 1], got {size!r}"
            )
        self.size = size

    def _length(self, t: int, generator: torch.Generator) -> int:
        size = self.size
        if _is_int(size):
            length = int(size)
            if length > t:
                raise ValueError(
                    f"RandomCrop length {length} is longer than the series (T={t}); use a shorter crop, a "
                    "ratio such as RandomCrop(0.9), or pad the series"
                )
            return length
        if _is_number(size):
            return max(1, int(round(float(size) * t)))
        assert isinstance(size, Sequence)  # a (min, max) range (checked in __init__)
        lo, hi = int(size[0]), int(size[1])
        if lo > t:
            raise ValueError(
                f"RandomCrop minimum length {lo} is longer than the series (T={t}); lower the range or pad"
            )
        hi = min(hi, t)
        return int(torch.randint(lo, hi + 1, (1,), generator=generator, device=generator.device).item())

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_series(batch, "RandomCrop")
        b, _, t = batch.shape
        length = self._length(t, generator)
        span = _span_or_none(batch, "RandomCrop")
        if span is None:
            start = _randint_between(
                torch.zeros(b, dtype=torch.long, device=batch.device),
                torch.full((b,), t - length, dtype=torch.long, device=batch.device),
                generator,
            )
        else:
            s, n = span
            e = s + n
            fits = n >= length
            lo = torch.where(fits, s, (e - length).clamp_min(0))
            hi = torch.where(fits, e - length, s.clamp_max(t - length))
            start = _randint_between(lo, hi, generator)
        return {"start": start, "length": length}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "RandomCrop")
        start, length = params["start"].to(batch.device), int(params["length"])
        check_replay_size("RandomCrop", len(start), batch.shape[0])
        if length > batch.shape[-1] or bool((start + length > batch.shape[-1]).any()):
            raise ValueError(
                f"RandomCrop: the crops (length {length}) do not fit in series of length {batch.shape[-1]}"
            )
        return _F.crop(batch, start, length)


class CropPair(NamedTuple):
    """Two overlapping crops of every series and where their shared region sits.

    Attributes:
        first: ``(B, C, L1)`` the first crops (``(C, L1)`` for a single series).
        second: ``(B, C, L2)`` the second crops.
        overlap: length of the shared region (TS2Vec's ``crop_l``).
        first_start: where the shared region starts in ``first`` (it ends at ``first``'s end).
        second_start: where it starts in ``second`` (always 0: it starts at ``second``'s start).
    """

    first: Tensor
    second: Tensor
    overlap: int
    first_start: int
    second_start: int

    def aligned(self, a: Tensor, b: Tensor, dim: int = -1) -> tuple[Tensor, Tensor]:
        """Cut the shared region out of per-timestamp outputs of the two crops, aligned timestamp by
        timestamp (TS2Vec's ``out1[:, -crop_l:]`` and ``out2[:, :crop_l]``).

        Args:
            a: outputs for ``first`` with time along ``dim`` (e.g. ``(B, L1, D)`` with ``dim=1``).
            b: outputs for ``second`` with time along ``dim``.
            dim: the time dimension.

        Returns:
            ``(a_overlap, b_overlap)``, both with ``overlap`` timestamps along ``dim``.
        """
        return a.narrow(dim, self.first_start, self.overlap), b.narrow(dim, self.second_start, self.overlap)


class OverlappingCrops(SeriesView):
    """TS2Vec's contextual consistency crops: two crops of each series that share a region.

    Follows TS2Vec's training loop (``ts2vec.py``) exactly, with ``ts_l = T``::

        crop_l      ~ U{2^(temporal_unit+1), ..., ts_l}        # overlap length
        crop_left   ~ U{0, ..., ts_l - crop_l}
        crop_right  = crop_left + crop_l
        crop_eleft  ~ U{0, ..., crop_left}
        crop_eright ~ U{crop_right, ..., ts_l}
        crop_offset ~ U{-crop_eleft, ..., ts_l - crop_eright}  # per example
        first  = x[offset + crop_eleft : offset + crop_right]
        second = x[offset + crop_left  : offset + crop_eright]

    The lengths are shared by the batch and the offset is drawn per example. The shared region is
    ``x[offset + crop_left : offset + crop_right]``: the last ``crop_l`` timestamps of ``first`` and the
    first ``crop_l`` of ``second``. TS2Vec also masks timestamps at random, in the encoder's latent space
    after its input projection (see :class:`encoders.temporal.DilatedConvEncoder`), not here.

    NaN padding: as in TS2Vec, crops are placed on the padded length ``T`` and may contain padding (the
    TS2Vec encoder zeroes NaN timestamps; TS2Vec also centres variable-length series in ``T`` once, before
    training, which is left to the data pipeline here). With ``within_valid=True``, ``ts_l`` is the
    shortest valid span of the batch and each example's offset keeps both crops inside its own valid span.

    Args:
        temporal_unit: TS2Vec's ``temporal_unit``; the overlap is at least ``2 ** (temporal_unit + 1)``.
        within_valid: keep crops inside each example's valid span (see above).

    Raises:
        ValueError: on bad arguments; at call time if ``T`` (or the shortest valid span with
            ``within_valid``) is shorter than the minimum overlap.

    Shape:
        ``(B, C, T) ->`` :class:`CropPair` of ``(B, C, crop_right - crop_eleft)`` and
        ``(B, C, crop_eright - crop_left)``; params: the five ints above and ``offset (B,)``.

    Reference:
        Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", section 3.2.
    """

    def __init__(self, temporal_unit: int = 0, within_valid: bool = False) -> None:
        self.temporal_unit = integer("temporal_unit", temporal_unit, minimum=0, owner="OverlappingCrops")
        self.within_valid = bool(within_valid)

    @property
    def min_overlap(self) -> int:
        """The shortest overlap drawn, ``2 ** (temporal_unit + 1)``."""
        return 2 ** (self.temporal_unit + 1)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_series(batch, "OverlappingCrops")
        b, _, t = batch.shape
        span = _span_or_none(batch, "OverlappingCrops") if self.within_valid else None
        if span is None:
            start = torch.zeros(b, dtype=torch.long, device=batch.device)
            length = torch.full((b,), t, dtype=torch.long, device=batch.device)
        else:
            start, length = span
        ts_l = int(length.min().item())
        if ts_l < self.min_overlap:
            where = "the shortest valid span" if self.within_valid else "the series length T"
            raise ValueError(
                f"OverlappingCrops needs series of at least {self.min_overlap} timestamps "
                f"(2 ** (temporal_unit + 1) with temporal_unit={self.temporal_unit}), but {where} is {ts_l}; "
                "lower temporal_unit or use longer series"
            )

        def randint(low: int, high: int) -> int:  # numpy's randint(low, high): high excluded
            return int(torch.randint(low, high, (1,), generator=generator, device=generator.device).item())

        crop_l = randint(self.min_overlap, ts_l + 1)
        crop_left = randint(0, ts_l - crop_l + 1)
        crop_right = crop_left + crop_l
        crop_eleft = randint(0, crop_left + 1)
        crop_eright = randint(crop_right, ts_l + 1)
        lo = torch.full_like(start, -crop_eleft)
        hi = length - crop_eright  # per example: offset + crop_eright <= its own span length
        offset = start + _randint_between(lo, hi, generator)
        return {
            "crop_l": crop_l,
            "crop_left": crop_left,
            "crop_right": crop_right,
            "crop_eleft": crop_eleft,
            "crop_eright": crop_eright,
            "offset": offset,
        }

    def apply(self, batch: Tensor, params: Params) -> CropPair:
        _check_series(batch, "OverlappingCrops")
        offset = params["offset"].to(batch.device)
        check_replay_size("OverlappingCrops", len(offset), batch.shape[0])
        left, right = int(params["crop_left"]), int(params["crop_right"])
        eleft, eright = int(params["crop_eleft"]), int(params["crop_eright"])
        t = batch.shape[-1]
        if bool((offset + eleft < 0).any()) or bool((offset + eright > t).any()):
            raise ValueError(f"OverlappingCrops: the crops do not fit in series of length {t}")
        first, second = _F.overlapping_crops(batch, offset, left, right, eleft, eright)
        return CropPair(first, second, right - left, left - eleft, 0)

    def from_batch(self, batch: Any, was_single: bool) -> Any:
        if not was_single:
            return batch
        return batch._replace(first=batch.first[0], second=batch.second[0])


# --------------------------------------------------------------------------------------------------
# Value views
# --------------------------------------------------------------------------------------------------
class TimestampMask(SeriesView):
    """Mask random timestamps: every channel of a masked timestamp is set to ``value``.

    TS2Vec's binomial mask (each timestamp masked independently with probability ``p``), applied to the
    input. TS2Vec itself masks in latent space, after the encoder's input projection; that is done by
    :class:`encoders.temporal.DilatedConvEncoder` (``mask_mode="binomial"``). NaN padding stays NaN.

    Args:
        p: probability that a timestamp is masked.
        value: the value written at masked timestamps.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``mask (B, T)`` bool, ``True`` = masked.

    Reference:
        Yue et al. 2022 (TS2Vec), section 3.1, timestamp masking.
    """

    def __init__(self, p: float = 0.5, value: float = 0.0) -> None:
        self.p = probability("p", p, owner="TimestampMask")
        if not _is_number(value):
            raise ValueError(f"TimestampMask value must be a number, got {value!r}")
        if math.isinf(float(value)):
            raise ValueError(f"TimestampMask value must be finite or NaN (missing), got {value!r}")
        self.value = float(value)
        self.writes_nan = math.isnan(self.value)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, _, t = batch.shape
        return {"mask": _rand((b, t), generator, batch.device) < self.p}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "TimestampMask")
        mask = params["mask"]
        _check_param_shape(mask, (batch.shape[0], batch.shape[2]), "TimestampMask", "mask")
        return _F.timestamp_mask(batch, mask, self.value)


class Jitter(SeriesView):
    """Add Gaussian noise ``N(0, sigma^2)`` to every value.

    Args:
        sigma: the noise standard deviation (in the units of the series; normalise series first).

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``noise (B, C, T)``.

    Reference:
        Um et al. 2017, "jittering"; TS-TCC's strong augmentation (Eldele et al. 2021).
    """

    def __init__(self, sigma: float = 0.03) -> None:
        self.sigma = finite_float("sigma", sigma, minimum=0, owner="Jitter")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        noise = _randn(tuple(batch.shape), generator, batch.device, batch.dtype, std=self.sigma)
        return {"noise": noise}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "Jitter")
        noise = params["noise"]
        _check_param_shape(noise, tuple(batch.shape), "Jitter", "noise")
        return _F.jitter(batch, noise)


class Scaling(SeriesView):
    """Multiply each channel of each series by a random factor ``N(mean, sigma^2)``.

    Args:
        sigma: standard deviation of the factors.
        mean: their mean (1 keeps the scale on average; TS-TCC uses 2).
        per: ``"channel"`` (one factor per channel, the default) or ``"timestamp"`` (one factor per
            timestamp shared by the channels, as TS-TCC's reference ``scaling`` code draws them).

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``factor (B, C, 1)`` or ``(B, 1, T)``.

    Reference:
        Um et al. 2017, "scaling"; Eldele et al. 2021 (TS-TCC weak augmentation).
    """

    def __init__(self, sigma: float = 0.1, mean: float = 1.0, per: str = "channel") -> None:
        self.sigma = finite_float("sigma", sigma, minimum=0, owner="Scaling")
        if not _is_number(mean) or not math.isfinite(float(mean)):
            raise ValueError(f"Scaling mean must be a finite number, got {mean!r}")
        self.mean = float(mean)
        if per not in ("channel", "timestamp"):
            raise ValueError(f"Scaling per must be 'channel' or 'timestamp', got {per!r}")
        self.per = per

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, c, t = batch.shape
        shape = (b, c, 1) if self.per == "channel" else (b, 1, t)
        factor = _randn(shape, generator, batch.device, batch.dtype)
        return {"factor": factor.mul_(self.sigma).add_(self.mean)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "Scaling")
        factor = params["factor"]
        b, c, t = batch.shape
        _check_param_shape(factor, (b, c, 1) if self.per == "channel" else (b, 1, t), "Scaling", "factor")
        return _F.scale(batch, factor)


class MagnitudeWarp(SeriesView):
    """Multiply each channel by a smooth random curve around 1.

    The curve of each (example, channel) is a natural cubic spline through ``knots + 2`` values drawn from
    ``N(1, sigma^2)`` at evenly spaced knots over the valid span (as Um et al., who use a cubic spline).

    Args:
        sigma: standard deviation of the knot values.
        knots: number of interior knots.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``knots (B, C, knots + 2)``.

    Reference:
        Um et al. 2017, "magnitude-warping".
    """

    def __init__(self, sigma: float = 0.2, knots: int = 4) -> None:
        self.sigma = finite_float("sigma", sigma, minimum=0, owner="MagnitudeWarp")
        self.knots = integer("knots", knots, minimum=0, owner="MagnitudeWarp")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, c, _ = batch.shape
        values = _randn((b, c, self.knots + 2), generator, batch.device, _pos_dtype(batch))
        return {"knots": values.mul_(self.sigma).add_(1.0)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "MagnitudeWarp")
        values = params["knots"]
        _check_param_shape(values, (*batch.shape[:2], self.knots + 2), "MagnitudeWarp", "knots")
        return _F.magnitude_warp(batch, values, owner="MagnitudeWarp")


class ChannelDropout(SeriesView):
    """Zero whole channels at random, never all channels of a series.

    Each channel is dropped with probability ``p``; when every channel of an example would be dropped, one
    channel (drawn uniformly) is kept. Univariate series are never changed. NaN padding stays NaN.

    Args:
        p: probability that a channel is dropped.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``drop (B, C)`` bool, ``True`` = zeroed.
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = probability("p", p, owner="ChannelDropout")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, c, _ = batch.shape
        drop = _rand((b, c), generator, batch.device) < self.p
        keep = torch.randint(0, c, (b,), generator=generator, device=generator.device).to(batch.device)
        rescue = drop.all(dim=1)
        drop[rescue, keep[rescue]] = False
        return {"drop": drop}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "ChannelDropout")
        drop = params["drop"]
        _check_param_shape(drop, tuple(batch.shape[:2]), "ChannelDropout", "drop")
        return _F.channel_dropout(batch, drop)


# --------------------------------------------------------------------------------------------------
# Time views
# --------------------------------------------------------------------------------------------------
class TimeWarp(SeriesView):
    """Re-time each series by a smooth random monotone warp that keeps both ends.

    A random speed is drawn per example at ``knots + 2`` evenly spaced knots from ``N(1, sigma^2)``
    (clamped to at least 0.05, so it stays positive); the warp is the normalised integral of the
    piecewise-linear speed curve, a strictly increasing C1 map of the valid span onto itself. The output
    at timestamp ``t`` reads the input at ``warp(t)`` by linear interpolation. All channels of a series
    share its warp (they stay aligned).

    Args:
        sigma: spread of the speeds (0 gives the identity).
        knots: number of interior knots.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``speed (B, knots + 2)``.

    Reference:
        Um et al. 2017, "time-warping" (there with a cubic spline of the cumulative warp).
    """

    def __init__(self, sigma: float = 0.2, knots: int = 4) -> None:
        self.sigma = finite_float("sigma", sigma, minimum=0, owner="TimeWarp")
        self.knots = integer("knots", knots, minimum=0, owner="TimeWarp")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        speed = _randn((batch.shape[0], self.knots + 2), generator, batch.device, _pos_dtype(batch))
        return {"speed": speed.mul_(self.sigma).add_(1.0).clamp_(min=0.05)}

    def warp(self, u: Tensor, params: Params) -> Tensor:
        """The warp of each example at relative positions ``u`` in [0, 1] (``(B|1, T) -> (B, T)``)."""
        return _monotone_warp(params["speed"].to(u.device), u)

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "TimeWarp")
        speed = params["speed"]
        _check_param_shape(speed, (batch.shape[0], self.knots + 2), "TimeWarp", "speed")
        return _F.time_warp(batch, speed, owner="TimeWarp")


class WindowSlice(SeriesView):
    """Keep a random window of ``ratio`` of each series and stretch it back to the full length.

    The window covers a fraction ``ratio`` of the valid span, starting at a uniform random fraction
    ``start * (1 - ratio)`` of it; linear interpolation stretches it onto the whole span.

    Args:
        ratio: the window's share of the series, in (0, 1].

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``start (B,)`` in [0, 1).

    Reference:
        Le Guennec et al. 2016, "window slicing".
    """

    def __init__(self, ratio: float = 0.9) -> None:
        self.ratio = _check_ratio(ratio, "WindowSlice ratio")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        return {"start": _rand((batch.shape[0],), generator, batch.device).to(_pos_dtype(batch))}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "WindowSlice")
        start = params["start"]
        check_replay_size("WindowSlice", len(start), batch.shape[0])
        return _F.window_slice(batch, start, self.ratio, owner="WindowSlice")


class WindowWarp(SeriesView):
    """Stretch or squeeze a random window of each series, then resample the series to its length.

    A window of ``ratio`` of the valid span is played ``scale`` times slower (``scale`` drawn per example
    from ``scales``, as Le Guennec et al. and Um's implementation pick from ``[0.5, 2]``); the rest keeps
    its speed, and the whole is resampled back onto the span. Implemented as one piecewise-linear,
    continuous, increasing time map.

    Args:
        ratio: the window's share of the series, in (0, 1).
        scales: the stretch factors to pick from (each > 0).

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``start (B,)`` in [0, 1) and ``scale (B,)``.

    Reference:
        Le Guennec et al. 2016, "window warping".
    """

    def __init__(self, ratio: float = 0.1, scales: Sequence[float] = (0.5, 2.0)) -> None:
        self.ratio = _check_ratio(ratio, "WindowWarp ratio")
        if (
            not isinstance(scales, Sequence)
            or len(scales) == 0
            or not all(_is_number(s) and 0 < float(s) < math.inf for s in scales)
        ):
            raise ValueError(
                f"WindowWarp scales must be a non-empty sequence of positive numbers, got {scales!r}"
            )
        self.scales = tuple(float(s) for s in scales)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b = batch.shape[0]
        dt = _pos_dtype(batch)
        start = _rand((b,), generator, batch.device).to(dt)
        pick = torch.randint(0, len(self.scales), (b,), generator=generator, device=generator.device)
        scale = torch.tensor(self.scales, dtype=dt)[pick.cpu()].to(batch.device)
        return {"start": start, "scale": scale}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "WindowWarp")
        start = params["start"]
        check_replay_size("WindowWarp", len(start), batch.shape[0])
        return _F.window_warp(batch, start, params["scale"], self.ratio, owner="WindowWarp")


class SegmentPermutation(SeriesView):
    """Cut each series into random segments and shuffle them.

    Per example, ``n ~ U{1, ..., max_segments}`` segments (at most the valid length); the cut points are
    distinct and uniform (``mode="random"``) or even (``mode="equal"``), and the segments are put in a
    uniform random order. Every channel of an example is permuted with the same segments (TS-TCC's
    reference code copies channel 0 into every channel; this does not). Padding stays in place.

    Args:
        max_segments: the largest number of segments (TS-TCC's ``max_seg`` draws ``1 .. max_seg - 1``).
        mode: ``"random"`` or ``"equal"`` segment lengths.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``bounds (B, max_segments + 1)`` segment boundaries relative
        to the valid span (unused segments are empty, at the end) and ``order (B, max_segments)``, the
        source segment of each output segment.

    Reference:
        Um et al. 2017, "permutation"; Eldele et al. 2021 (TS-TCC strong augmentation).
    """

    def __init__(self, max_segments: int = 5, mode: str = "random") -> None:
        self.max_segments = integer("max_segments", max_segments, minimum=1, owner="SegmentPermutation")
        if mode not in ("random", "equal"):
            raise ValueError(f"SegmentPermutation mode must be 'random' or 'equal', got {mode!r}")
        self.mode = mode

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, _, t = batch.shape
        dev = batch.device
        s_max = self.max_segments
        span = _span_or_none(batch, "SegmentPermutation")
        length = torch.full((b,), t, dtype=torch.long, device=dev) if span is None else span[1]
        n = torch.randint(1, s_max + 1, (b,), generator=generator, device=generator.device).to(dev)
        n = torch.minimum(n, length)
        k = torch.arange(s_max + 1, device=dev).unsqueeze(0)  # boundary numbers 0..S
        if self.mode == "equal":
            bounds = torch.where(
                k <= n.unsqueeze(1), (k * length.unsqueeze(1)) // n.unsqueeze(1), length.unsqueeze(1)
            )
        else:
            # n - 1 distinct cut points among 1..length-1: the smallest random keys win
            n_cuts = min(s_max - 1, t - 1)
            keys = _rand((b, max(t - 1, 0)), generator, dev)
            pos = torch.arange(1, t, device=dev).unsqueeze(0)
            keys = keys.masked_fill(pos >= length.unsqueeze(1), 2.0)
            cuts = pos.expand(b, -1).gather(1, keys.topk(n_cuts, dim=1, largest=False).indices)
            used = torch.arange(n_cuts, device=dev).unsqueeze(0) < (n - 1).unsqueeze(1)
            cuts = torch.where(used, cuts, length.unsqueeze(1)).sort(dim=1).values
            pad = length.unsqueeze(1).expand(b, s_max - 1 - n_cuts)
            bounds = torch.cat([torch.zeros_like(length).unsqueeze(1), cuts, pad, length.unsqueeze(1)], dim=1)
        seg = torch.arange(s_max, device=dev).unsqueeze(0)
        keys = _rand((b, s_max), generator, dev)
        keys = torch.where(seg < n.unsqueeze(1), keys, 2.0 + seg.to(keys.dtype))  # unused stay last, in order
        order = keys.argsort(dim=1)
        return {"bounds": bounds, "order": order}

    def source_index(self, batch: Tensor, params: Params) -> Tensor:
        """The source timestamp of every output timestamp, ``(B, T)`` int64 (a permutation per row)."""
        check_replay_size("SegmentPermutation", len(params["bounds"]), batch.shape[0])
        return _F.segment_source_index(batch, params["bounds"], params["order"], owner="SegmentPermutation")

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "SegmentPermutation")
        check_replay_size("SegmentPermutation", len(params["bounds"]), batch.shape[0])
        return _F.permute_segments(batch, params["bounds"], params["order"], owner="SegmentPermutation")


class FrameDrop(SeriesView):
    """Drop random timestamps (frames) of each series and close the gaps.

    Each timestamp of the valid span is dropped with probability ``p`` (at least two are kept, the span
    ends if need be). The kept frames are concatenated in order; then, with ``fill="resample"`` (default),
    linearly resampled back onto the valid span (the series keeps its length and ends, like a time warp
    with jumps), or, with ``fill="nan"``, left at the start of the span with NaN padding after them (a
    shorter variable-length series, the UEA convention).

    Args:
        p: probability that a frame is dropped, in [0, 1).
        fill: ``"resample"`` or ``"nan"``.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``drop (B, T)`` bool, ``True`` = dropped.

    Reference:
        Frame dropping as in sequence augmentation for speech/sensor data; Iwana & Uchida 2021 (survey).
    """

    def __init__(self, p: float = 0.1, fill: str = "resample") -> None:
        self.p = probability("p", p, owner="FrameDrop", high_open=True)
        if fill not in ("resample", "nan"):
            raise ValueError(f"FrameDrop fill must be 'resample' or 'nan', got {fill!r}")
        self.writes_nan = fill == "nan"
        self.fill = fill

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b, _, t = batch.shape
        return {"drop": _rand((b, t), generator, batch.device) < self.p}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "FrameDrop")
        b, _, t = batch.shape
        drop = params["drop"]
        _check_param_shape(drop, (b, t), "FrameDrop", "drop")
        return _F.frame_drop(batch, drop, self.fill, owner="FrameDrop")


class SpeedChange(SeriesView):
    """Play each series faster or slower by a random factor (resampling), keeping ``T``.

    The factor is drawn per example log-uniformly from ``range``. The output at relative timestamp ``t``
    of the valid span reads the input at ``offset + t * factor``. Slower playback (``factor < 1``) keeps a
    part of the series of ``(L - 1) * factor`` timestamps, starting at a random ``offset``; faster playback
    (``factor > 1``) ends early and the rest of the span is filled by ``fill``: ``"nan"`` (padding, the
    default, as a shorter variable-length series), ``"edge"`` (the last value repeated) or ``"zero"``.

    Args:
        range: ``(min, max)`` speed factors, ``0 < min <= max``.
        fill: ``"nan"``, ``"edge"`` or ``"zero"``.

    Shape:
        ``(B, C, T) -> (B, C, T)``; params ``factor (B,)`` and ``offset (B,)`` in [0, 1) (the share of the
        unused part of the series skipped at the start).

    Reference:
        Speed perturbation (Ko et al. 2015, for speech); Iwana & Uchida 2021 (survey).
    """

    def __init__(self, range: Sequence[float] = (0.8, 1.25), fill: str = "nan") -> None:
        if (
            not isinstance(range, Sequence)
            or len(range) != 2
            or not all(_is_number(v) for v in range)
            or not 0 < float(range[0]) <= float(range[1]) < math.inf
        ):
            raise ValueError(
                f"SpeedChange range must be a pair (min, max) with 0 < min <= max, got {range!r}"
            )
        self.range = (float(range[0]), float(range[1]))
        if fill not in ("nan", "edge", "zero"):
            raise ValueError(f"SpeedChange fill must be 'nan', 'edge' or 'zero', got {fill!r}")
        self.writes_nan = fill == "nan"
        self.fill = fill

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        b = batch.shape[0]
        dt = _pos_dtype(batch)
        lo, hi = math.log(self.range[0]), math.log(self.range[1])
        u = _rand((2, b), generator, batch.device).to(dt)
        return {"factor": torch.exp(lo + (hi - lo) * u[0]), "offset": u[1]}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_series(batch, "SpeedChange")
        factor = params["factor"]
        check_replay_size("SpeedChange", len(factor), batch.shape[0])
        return _F.speed_change(batch, factor, params["offset"], self.fill, owner="SpeedChange")


# --------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------
def ts2vec_view(temporal_unit: int = 0, within_valid: bool = False) -> OverlappingCrops:
    """TS2Vec's views: two overlapping random crops (:class:`OverlappingCrops`).

    TS2Vec's other augmentation, timestamp masking, is applied inside its encoder, after the input
    projection (latent-space masking): build :class:`encoders.temporal.DilatedConvEncoder` with
    ``mask_mode="binomial"`` (the default) and it masks during training.

    Args:
        temporal_unit: the minimum overlap is ``2 ** (temporal_unit + 1)``.
        within_valid: keep crops inside the valid spans of NaN-padded series.

    Returns:
        The :class:`OverlappingCrops` view; it returns a :class:`CropPair`.

    Reference:
        Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series".
    """
    return OverlappingCrops(temporal_unit=temporal_unit, within_valid=within_valid)


def tstcc_weak_view(jitter_scale_ratio: float = 1.1) -> Compose:
    """TS-TCC's weak augmentation as in its reference code: scaling by ``N(2, jitter_scale_ratio^2)``.

    The reference ``scaling`` draws one factor per (example, timestamp), shared by the channels; this recipe
    does the same (``Scaling(per="timestamp")``). The paper describes the weak view as "jitter-and-scale";
    the code only scales. Defaults are TS-TCC's HAR configuration (Epilepsy uses 0.001).

    Args:
        jitter_scale_ratio: TS-TCC's ``jitter_scale_ratio`` (the standard deviation of the factors).

    Returns:
        A :class:`Compose` of one :class:`Scaling`.

    Reference:
        Eldele et al. 2021, "Time-Series Representation Learning via Temporal and Contextual Contrasting".
    """
    return Compose([Scaling(sigma=jitter_scale_ratio, mean=2.0, per="timestamp")])


def tstcc_strong_view(max_seg: int = 8, jitter_ratio: float = 0.8) -> Compose:
    """TS-TCC's strong augmentation: segment permutation, then jitter.

    TS-TCC draws the number of segments with numpy's ``randint(1, max_seg)`` (``1 .. max_seg - 1``) with
    random cut points, so this uses ``SegmentPermutation(max_segments=max_seg - 1, mode="random")``; unlike
    the reference code, every channel is permuted (the reference copies channel 0 into every channel).
    Defaults are TS-TCC's HAR configuration.

    Args:
        max_seg: TS-TCC's ``max_seg`` (>= 2).
        jitter_ratio: TS-TCC's ``jitter_ratio`` (the noise standard deviation).

    Returns:
        A :class:`Compose` of :class:`SegmentPermutation` and :class:`Jitter`.

    Reference:
        Eldele et al. 2021 (TS-TCC).
    """
    max_seg = integer("max_seg", max_seg, minimum=2, owner="tstcc_strong_view")
    return Compose([SegmentPermutation(max_segments=max_seg - 1, mode="random"), Jitter(sigma=jitter_ratio)])


def default_series_view(
    crop: int | float | Sequence[int] = 0.9,
    jitter: float = 0.03,
    scaling: float = 0.1,
    time_warp: float = 0.2,
) -> Compose:
    """A general-purpose series view: random crop, jitter, per-channel scaling and time warp.

    Args:
        crop: the :class:`RandomCrop` size (length, ``(min, max)`` or ratio of ``T``).
        jitter: :class:`Jitter` sigma.
        scaling: :class:`Scaling` sigma.
        time_warp: :class:`TimeWarp` sigma.

    Returns:
        A :class:`Compose` of the four views.

    Reference:
        Um et al. 2017; Iwana & Uchida 2021 (jitter, scaling and time warping are among the most robust
        augmentations across the UCR archive).
    """
    return Compose([RandomCrop(crop), Jitter(jitter), Scaling(scaling), TimeWarp(time_warp)])


RECIPES: Registry[Callable[..., View]] = Registry(
    "series recipe", plural="recipes", listing=lambda: [str(RECIPES.names())]
)
"""Recipe functions by name; register more with ``RECIPES.add(name, function)``."""
RECIPES.add("ts2vec", ts2vec_view)
RECIPES.add("tstcc_weak", tstcc_weak_view)
RECIPES.add("tstcc_strong", tstcc_strong_view)
RECIPES.add("default", default_series_view)


def get_recipe(name: str, **kwargs: Any) -> View:
    """Build a recipe by name (``"ts2vec"``, ``"tstcc_weak"``, ``"tstcc_strong"``, ``"default"``).

    Raises:
        ConfigError: on an unknown name (the message lists the known ones); also a ``ValueError``.
    """
    return RECIPES.get(name)(**kwargs)
