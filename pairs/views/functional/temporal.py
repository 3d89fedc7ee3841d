"""Time-series kernels: the pure functions behind the views of :mod:`pairs.views.temporal`.

Each kernel takes a batch of series ``(B, C, T)`` (NaN marks missing timestamps: padding at the ends of a
variable-length series) and the explicit per-example parameters a view's ``sample`` draws, and draws
nothing itself. Re-timing kernels work on each series' valid span (first to last timestamp that is not
NaN in every channel) and leave the padding where it is, as the views do. ``owner`` names the caller in
error messages (a view passes its class name).

Kernels: :func:`crop`, :func:`overlapping_crops`, :func:`timestamp_mask`, :func:`jitter`,
:func:`scale`, :func:`magnitude_warp`, :func:`channel_dropout`, :func:`time_warp`,
:func:`window_slice`, :func:`window_warp`, :func:`segment_source_index`, :func:`permute_segments`,
:func:`frame_drop`, :func:`speed_change`.

Example:
    >>> import torch
    >>> from pairs.views.functional import temporal as F
    >>> x = torch.arange(6.0).view(1, 1, 6)
    >>> F.crop(x, torch.tensor([2]), 3)
    tensor([[[2., 3., 4.]]])
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from pairs.validation import listed_positions

__all__ = [
    "crop",
    "overlapping_crops",
    "timestamp_mask",
    "jitter",
    "scale",
    "magnitude_warp",
    "channel_dropout",
    "time_warp",
    "window_slice",
    "window_warp",
    "segment_source_index",
    "permute_segments",
    "frame_drop",
    "speed_change",
]


_NAN = float("nan")


def _has_nan(x: Tensor) -> bool:
    """Whether ``x`` holds a NaN. A NaN makes the sum NaN; a NaN sum without NaN (``inf - inf``) is checked
    elementwise, so the common case costs one reduction and no temporary tensor."""
    if not bool(torch.isnan(x.sum())):
        return False
    return bool(torch.isnan(x).any())


def _check_no_empty_series(x: Tensor, name: str) -> None:
    """Raise if some example is NaN everywhere (it has no data to make a view of)."""
    if not _has_nan(x):
        return
    nan = torch.isnan(x)
    empty = nan.flatten(1).all(dim=1)
    if bool(empty.any()):
        shown = listed_positions(empty.nonzero().flatten().tolist())
        raise ValueError(
            f"{name}: series at batch index {shown} is NaN everywhere (no valid timestamp); drop empty "
            "series before making views (e.g. x = x[~torch.isnan(x).flatten(1).all(1)])"
        )


def _span_or_none(x: Tensor, name: str) -> tuple[Tensor, Tensor] | None:
    """``(start, length)`` of the valid spans, or ``None`` when ``x`` has no NaN (spans are ``[0, T)``)."""
    if not _has_nan(x):
        return None
    _check_no_empty_series(x, name)
    valid = ~torch.isnan(x).all(dim=1)  # (B, T)
    t = x.shape[-1]
    first = valid.to(torch.int8).argmax(dim=1)
    last = t - 1 - valid.flip(1).to(torch.int8).argmax(dim=1)
    return first, last - first + 1


def _pos_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _span_grid(x: Tensor, span: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor | None]:
    """Each output timestamp's relative position ``u`` in [0, 1] within its example's valid span.

    Returns ``(u, inside)``: ``u`` is ``(1, T)`` when there is no padding (shared by the batch) and
    ``(B, T)`` otherwise; ``inside`` is ``None`` or the ``(B, T)`` mask of timestamps inside the span.
    """
    t = x.shape[-1]
    dt = _pos_dtype(x)
    steps = torch.arange(t, device=x.device, dtype=dt)
    if span is None:
        return (steps / max(t - 1, 1)).unsqueeze(0), None
    start, length = (s.to(x.device) for s in span)
    rel = steps.unsqueeze(0) - start.unsqueeze(1).to(dt)
    inside = (rel >= 0) & (rel < length.unsqueeze(1).to(dt))
    u = (rel / (length - 1).clamp_min(1).unsqueeze(1).to(dt)).clamp(0.0, 1.0)
    return u, inside


def _to_source(u_src: Tensor, span: tuple[Tensor, Tensor] | None, t: int) -> Tensor:
    """Relative source positions in [0, 1] -> absolute (fractional) timestamps."""
    if span is None:
        return u_src * (t - 1)
    start, length = (s.to(u_src.device) for s in span)
    return start.unsqueeze(1).to(u_src.dtype) + u_src * (length - 1).unsqueeze(1).to(u_src.dtype)


def _resample(x: Tensor, pos: Tensor, nan_aware: bool) -> Tensor:
    """Linear interpolation of every series at fractional timestamps ``pos`` (one per output timestamp).

    Args:
        x: ``(B, C, T)`` series.
        pos: ``(B, T_out)`` or ``(1, T_out)`` source positions (clamped to ``[0, T - 1]``), the same for
            every channel.
        nan_aware: when ``True``, a NaN neighbour is not interpolated into its valid neighbour: the output
            takes the valid neighbour's value, and is NaN only when the nearer neighbour is NaN.

    Returns:
        ``(B, C, T_out)`` resampled series.
    """
    b, c, t = x.shape
    if t == 1:
        return x.expand(b, c, pos.shape[-1]).clone()
    pos = pos.clamp(0, t - 1)
    i0f = pos.floor().clamp_(max=t - 2)  # left neighbour; the last timestamp is reached with w = 1
    w = (pos - i0f).to(x.dtype).unsqueeze(1)
    i0 = i0f.long().unsqueeze(1).expand(b, c, pos.shape[-1])
    x0 = x.gather(2, i0)
    x1 = x[:, :, 1:].gather(2, i0)  # right neighbour, gathered from a shifted view (no copy of x)
    if not nan_aware:
        return torch.lerp(x0, x1, w)
    n0, n1 = torch.isnan(x0), torch.isnan(x1)
    a = torch.where(n0, x1, x0)
    z = torch.where(n1, x0, x1)
    out = a + w * (z - a)
    nearest_nan = torch.where(w < 0.5, n0, n1)
    return out.masked_fill(nearest_nan, _NAN)


def _retime(x: Tensor, u_map: Any, span: tuple[Tensor, Tensor] | None) -> Tensor:
    """Re-time each valid span onto itself: output at relative position ``u`` reads the input at
    relative position ``u_map(u)``; padding outside the spans is kept."""
    u, inside = _span_grid(x, span)
    pos = _to_source(u_map(u), span, x.shape[-1])
    out = _resample(x, pos, nan_aware=span is not None)
    if inside is not None:
        out = torch.where(inside.unsqueeze(1), out, x)
    return out


def _gather_time(x: Tensor, index: Tensor) -> Tensor:
    """``out[b, c, j] = x[b, c, index[b, j]]``."""
    b, c, _ = x.shape
    return x.gather(2, index.unsqueeze(1).expand(b, c, index.shape[-1]))


@lru_cache(maxsize=32)
def _natural_spline_matrix(n: int) -> Tensor:
    """``(n, n)`` matrix mapping knot values to a natural cubic spline's second derivatives at the knots
    (uniform knots on [0, 1])."""
    q = torch.zeros(n, n, dtype=torch.float64)
    if n <= 2:
        return q
    h = 1.0 / (n - 1)
    m = n - 2
    a = torch.diag(torch.full((m,), 4.0, dtype=torch.float64))
    a += torch.diag(torch.ones(m - 1, dtype=torch.float64), 1) + torch.diag(
        torch.ones(m - 1, dtype=torch.float64), -1
    )
    d = torch.zeros(m, n, dtype=torch.float64)
    for i in range(m):
        d[i, i], d[i, i + 1], d[i, i + 2] = 1.0, -2.0, 1.0
    q[1:-1] = torch.linalg.solve(a, d * (6.0 / h**2))
    return q


def _segments(u: Tensor, k: int) -> tuple[Tensor, Tensor, float]:
    """Knot interval of each position ``u`` in [0, 1] (knots at ``linspace(0, 1, k)``) and offset in it."""
    h = 1.0 / (k - 1)
    seg = (u / h).floor().clamp(0, k - 2)
    return seg.long(), u - seg * h, h


def _spline_basis(u: Tensor, k: int) -> Tensor:
    """Natural cubic spline basis at ``u``: ``spline(u) = sum_j basis[j] * value_j`` (uniform knots).

    Args:
        u: ``(U, T)`` positions in [0, 1] (``U`` is 1 or the batch size).
        k: the number of knots.

    Returns:
        ``(U, k, T)`` basis weights.
    """
    seg, left, h = _segments(u, k)
    right = h - left
    j = torch.arange(k, device=u.device).view(1, k, 1)
    seg, left, right = seg.unsqueeze(1), left.unsqueeze(1), right.unsqueeze(1)
    # the spline is y0 * right/h + y1 * left/h + m0 * (right^3/h - h*right)/6 + m1 * (left^3/h - h*left)/6
    # with second derivatives m = Q y at the knots
    lin = (j == seg) * (right / h) + (j == seg + 1) * (left / h)
    c0 = (right**3 / h - h * right) / 6
    c1 = (left**3 / h - h * left) / 6
    q = _natural_spline_matrix(k).to(device=u.device, dtype=u.dtype)  # (k, k): m = q @ y
    q0 = q.T.unsqueeze(0).expand(u.shape[0], -1, -1).gather(2, seg.expand(-1, k, -1))  # q[seg, j]
    q1 = q.T.unsqueeze(0).expand(u.shape[0], -1, -1).gather(2, (seg + 1).expand(-1, k, -1))
    return lin + q0 * c0 + q1 * c1


def _spline(values: Tensor, u: Tensor) -> Tensor:
    """Natural cubic splines through uniform knots, evaluated at ``u``.

    Args:
        values: ``(B, N, K)`` knot values of ``B * N`` curves, knots at ``linspace(0, 1, K)``.
        u: ``(B, T)`` or ``(1, T)`` positions in [0, 1].

    Returns:
        ``(B, N, T)`` curve values.
    """
    basis = _spline_basis(u, values.shape[-1]).to(values.dtype)  # (U, K, T)
    return values @ basis


def _warp_basis(u: Tensor, k: int) -> Tensor:
    """Basis of the integral of a piecewise-linear curve: ``integral_0^u v = sum_j basis[j] * v_j``.

    Args:
        u: ``(U, T)`` positions in [0, 1].
        k: the number of knots (at ``linspace(0, 1, k)``).

    Returns:
        ``(U, k, T)`` basis weights.
    """
    seg, dt, h = _segments(u, k)
    j = torch.arange(k, device=u.device).view(1, k, 1)
    seg, dt = seg.unsqueeze(1), dt.unsqueeze(1)
    # whole intervals before seg: each knot value j weighs h/2 per interval it bounds
    full = (h / 2) * ((j < seg).to(u.dtype) + ((j >= 1) & (j <= seg)).to(u.dtype))
    quad = dt * dt / (2 * h)
    return full + (j == seg) * (dt - quad) + (j == seg + 1) * quad


def _monotone_warp(speed: Tensor, u: Tensor, scale: float = 1.0) -> Tensor:
    """A smooth, strictly increasing map of [0, 1] onto itself: the normalised integral of a positive
    piecewise-linear speed curve (knots at ``linspace(0, 1, K)``).

    Args:
        speed: ``(B, K)`` positive speeds at the knots.
        u: ``(B, T)`` or ``(1, T)`` positions in [0, 1].
        scale: the warp maps [0, 1] onto [0, scale].

    Returns:
        ``(B, T)`` warped positions; ``0 -> 0`` and ``1 -> scale``.
    """
    k = speed.shape[1]
    speed = speed.to(u.dtype)
    basis = _warp_basis(u, k)  # (U, K, T)
    total = (speed[:, :-1] + speed[:, 1:]).sum(1, keepdim=True) / (2 * (k - 1))  # integral over [0, 1]
    speed = speed * (scale / total)  # normalise the integral to [0, scale] before expanding to (B, T)
    if basis.shape[0] == 1:
        out = speed @ basis[0]
    else:
        out = (speed.unsqueeze(1) @ basis).squeeze(1)
    return out.clamp_(0.0, scale)


def _start_length(x: Tensor, span: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
    """``(start, length)`` ``(B,)`` of the valid spans (the whole series when ``span`` is ``None``)."""
    b, _, t = x.shape
    if span is None:
        return torch.zeros(b, dtype=torch.long, device=x.device), torch.full(
            (b,), t, dtype=torch.long, device=x.device
        )
    return span


# --------------------------------------------------------------------------------------------------
# Crops
# --------------------------------------------------------------------------------------------------
def crop(x: Tensor, start: Tensor, length: int) -> Tensor:
    """The window ``x[b, :, start[b] : start[b] + length]`` of every series.

    Args:
        x: ``(B, C, T)`` series.
        start: ``(B,)`` int64 window starts, ``0 <= start <= T - length``.
        length: the window length.

    Returns:
        ``(B, C, length)``.
    """
    start = start.to(x.device)
    windows = x.unfold(2, length, 1)  # (B, C, T - length + 1, length), a view
    return windows[torch.arange(x.shape[0], device=x.device), :, start]


def overlapping_crops(
    x: Tensor, offset: Tensor, crop_left: int, crop_right: int, crop_eleft: int, crop_eright: int
) -> tuple[Tensor, Tensor]:
    """TS2Vec's two overlapping crops: ``[offset + eleft, offset + right)`` and ``[offset + left,
    offset + eright)`` of every series (they share ``[offset + left, offset + right)``).

    Args:
        x: ``(B, C, T)`` series.
        offset: ``(B,)`` int64 shifts.
        crop_left, crop_right, crop_eleft, crop_eright: the crop bounds before the shift.

    Returns:
        ``(first, second)``: ``(B, C, crop_right - crop_eleft)`` and ``(B, C, crop_eright - crop_left)``.
    """
    offset = offset.to(x.device)
    first = _gather_time(
        x, offset.unsqueeze(1) + crop_eleft + torch.arange(crop_right - crop_eleft, device=x.device)
    )
    second = _gather_time(
        x, offset.unsqueeze(1) + crop_left + torch.arange(crop_eright - crop_left, device=x.device)
    )
    return first, second


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------
def timestamp_mask(x: Tensor, mask: Tensor, value: float) -> Tensor:
    """Write ``value`` at every channel of the timestamps where ``mask`` (``(B, T)`` bool) is true; NaN
    padding stays NaN. ``(B, C, T)`` in and out."""
    mask = mask.to(x.device).unsqueeze(1) & ~torch.isnan(x)
    return x.masked_fill(mask, value)


def jitter(x: Tensor, noise: Tensor) -> Tensor:
    """``x + noise`` with ``noise`` ``(B, C, T)`` cast to the dtype and device of ``x``."""
    return x + noise.to(device=x.device, dtype=x.dtype)


def scale(x: Tensor, factor: Tensor) -> Tensor:
    """``x * factor`` with ``factor`` ``(B, C, 1)`` (per channel) or ``(B, 1, T)`` (per timestamp)."""
    return x * factor.to(device=x.device, dtype=x.dtype)


def magnitude_warp(x: Tensor, knots: Tensor, *, owner: str = "magnitude_warp") -> Tensor:
    """Multiply each channel by the natural cubic spline through ``knots`` (evenly spaced over the span).

    Args:
        x: ``(B, C, T)`` series.
        knots: ``(B, C, K)`` spline values at ``K`` evenly spaced knots (``K >= 2``).
        owner: name in error messages.

    Returns:
        ``(B, C, T)``.
    """
    values = knots.to(device=x.device, dtype=_pos_dtype(x))
    u, _ = _span_grid(x, _span_or_none(x, owner))
    return x * _spline(values, u).to(x.dtype)


def channel_dropout(x: Tensor, drop: Tensor) -> Tensor:
    """Zero the channels where ``drop`` (``(B, C)`` bool) is true (NaN stays NaN); ``(B, C, T)``."""
    return torch.where(drop.to(x.device).unsqueeze(2), x * 0, x)


# --------------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------------
def time_warp(x: Tensor, speed: Tensor, *, owner: str = "time_warp") -> Tensor:
    """Re-time each valid span by the normalised integral of a piecewise-linear speed curve.

    Args:
        x: ``(B, C, T)`` series.
        speed: ``(B, K)`` positive speeds at ``K`` evenly spaced knots.
        owner: name in error messages.

    Returns:
        ``(B, C, T)``: the output at relative position ``u`` reads the input at ``warp(u)`` (linear
        interpolation).
    """
    speed = speed.to(x.device)
    span = _span_or_none(x, owner)
    if span is None:  # fast path: one grid for the batch, positions straight in timestamps
        u, _ = _span_grid(x, None)
        return _resample(x, _monotone_warp(speed, u, scale=x.shape[-1] - 1), nan_aware=False)
    return _retime(x, lambda u: _monotone_warp(speed, u), span)


def window_slice(x: Tensor, start: Tensor, ratio: float, *, owner: str = "window_slice") -> Tensor:
    """Stretch the window ``[start * (1 - ratio), start * (1 - ratio) + ratio]`` of each valid span (in
    relative positions) onto the whole span.

    Args:
        x: ``(B, C, T)`` series.
        start: ``(B,)`` in [0, 1].
        ratio: the window's share of the span, in (0, 1].
        owner: name in error messages.

    Returns:
        ``(B, C, T)``.
    """
    start = start.to(device=x.device, dtype=_pos_dtype(x))
    a = (start * (1.0 - ratio)).unsqueeze(1)
    return _retime(x, lambda u: a + u * ratio, _span_or_none(x, owner))


def window_warp(
    x: Tensor, start: Tensor, scale: Tensor, ratio: float, *, owner: str = "window_warp"
) -> Tensor:
    """Play the window of ``ratio`` of each valid span starting at ``start * (1 - ratio)`` ``scale`` times
    slower, then resample the series onto the span (a piecewise-linear, continuous time map).

    Args:
        x: ``(B, C, T)`` series.
        start: ``(B,)`` in [0, 1].
        scale: ``(B,)`` positive stretch factors.
        ratio: the window's share of the span, in (0, 1).
        owner: name in error messages.

    Returns:
        ``(B, C, T)``.
    """
    dt = _pos_dtype(x)
    start = start.to(device=x.device, dtype=dt)
    scale = scale.to(device=x.device, dtype=dt)
    r = ratio
    w0 = (start * (1.0 - r)).unsqueeze(1)  # window [w0, w0 + r] in the source
    s = scale.unsqueeze(1)
    total = 1.0 - r + r * s  # length of the warped series before resampling

    def u_map(u: Tensor) -> Tensor:
        v = u * total
        return torch.where(v < w0, v, torch.where(v < w0 + r * s, w0 + (v - w0) / s, v - r * s + r))

    return _retime(x, u_map, _span_or_none(x, owner))


def segment_source_index(
    x: Tensor, bounds: Tensor, order: Tensor, *, owner: str = "permute_segments"
) -> Tensor:
    """The source timestamp of every output timestamp when the segments of each valid span are permuted.

    Args:
        x: ``(B, C, T)`` series.
        bounds: ``(B, S + 1)`` segment boundaries relative to the valid span (clipped to its length).
        order: ``(B, S)`` the source segment of each output segment.
        owner: name in error messages.

    Returns:
        ``(B, T)`` int64, a permutation per row (padding maps to itself).
    """
    b, _, t = x.shape
    dev = x.device
    bounds, order = bounds.to(dev), order.to(dev)
    start, length = _start_length(x, _span_or_none(x, owner))
    bounds = torch.minimum(bounds, length.unsqueeze(1))  # replay on shorter spans
    seg_start, seg_len = bounds[:, :-1], bounds[:, 1:] - bounds[:, :-1]
    out_len = seg_len.gather(1, order)
    out_end = out_len.cumsum(1)
    rel = torch.arange(t, device=dev).unsqueeze(0) - start.unsqueeze(1)  # (B, T)
    j = torch.searchsorted(out_end, rel.clamp_min(0).contiguous(), right=True).clamp_max(order.shape[1] - 1)
    src = seg_start.gather(1, order).gather(1, j) + rel - (out_end.gather(1, j) - out_len.gather(1, j))
    inside = (rel >= 0) & (rel < length.unsqueeze(1))
    return torch.where(inside, start.unsqueeze(1) + src, torch.arange(t, device=dev).unsqueeze(0))


def permute_segments(x: Tensor, bounds: Tensor, order: Tensor, *, owner: str = "permute_segments") -> Tensor:
    """Permute the segments of each valid span (see :func:`segment_source_index`); ``(B, C, T)``."""
    return _gather_time(x, segment_source_index(x, bounds, order, owner=owner))


def frame_drop(x: Tensor, drop: Tensor, fill: str = "resample", *, owner: str = "frame_drop") -> Tensor:
    """Drop the frames where ``drop`` is true and close the gaps (at least two frames of a span are kept,
    its ends if need be).

    Args:
        x: ``(B, C, T)`` series.
        drop: ``(B, T)`` bool.
        fill: ``"resample"`` (the kept frames resampled onto the span) or ``"nan"`` (kept frames at the
            start of the span, NaN after them).
        owner: name in error messages.

    Returns:
        ``(B, C, T)``.
    """
    b, _, t = x.shape
    dev = x.device
    drop = drop.to(dev)
    span = _span_or_none(x, owner)
    start, length = _start_length(x, span)
    steps = torch.arange(t, device=dev).unsqueeze(0)
    rel = steps - start.unsqueeze(1)
    inside = (rel >= 0) & (rel < length.unsqueeze(1))
    keep = inside & ~drop
    need = torch.minimum(length, torch.full_like(length, 2))
    short = keep.sum(1) < need
    ends = (rel == 0) | (rel == length.unsqueeze(1) - 1)
    keep = keep | (short.unsqueeze(1) & ends & inside)
    n_keep = keep.sum(1)
    # kept frames first, in time order (a stable sort on the key "not kept")
    order = (~keep).to(torch.int8).sort(dim=1, stable=True).indices
    packed = _gather_time(x, order)  # kept frames at 0 .. n_keep-1
    dt = _pos_dtype(x)
    if fill == "resample":
        u, _ = _span_grid(x, span)
        pos = u * (n_keep - 1).unsqueeze(1).to(dt)
        out = _resample(packed, pos, nan_aware=span is not None)
    else:
        pos = rel.clamp_min(0).to(dt)
        out = _resample(packed, pos, nan_aware=True)
        out = out.masked_fill((inside & (rel >= n_keep.unsqueeze(1))).unsqueeze(1), _NAN)
    return torch.where(inside.unsqueeze(1), out, x)


def speed_change(
    x: Tensor, factor: Tensor, offset: Tensor, fill: str = "nan", *, owner: str = "speed_change"
) -> Tensor:
    """Play each valid span ``factor`` times faster: the output at relative timestamp ``t`` reads the input
    at ``skip + t * factor``, with ``skip = offset * max(0, (L - 1) * (1 - factor))``.

    Args:
        x: ``(B, C, T)`` series.
        factor: ``(B,)`` positive speed factors.
        offset: ``(B,)`` in [0, 1], the share of the unused part skipped at the start.
        fill: what follows the end of a faster series: ``"nan"``, ``"edge"`` or ``"zero"``.
        owner: name in error messages.

    Returns:
        ``(B, C, T)``.
    """
    b, _, t = x.shape
    dt = _pos_dtype(x)
    factor = factor.to(device=x.device, dtype=dt).unsqueeze(1)
    offset = offset.to(device=x.device, dtype=dt).unsqueeze(1)
    span = _span_or_none(x, owner)
    u, inside = _span_grid(x, span)
    if span is None:
        start = torch.zeros(b, 1, dtype=dt, device=x.device)
        last = torch.full((b, 1), t - 1, dtype=dt, device=x.device)
    else:
        start = span[0].to(device=x.device, dtype=dt).unsqueeze(1)
        last = (span[1] - 1).to(device=x.device, dtype=dt).unsqueeze(1)
    rel = u * last  # relative output timestamp
    skip = offset * (last * (1.0 - factor)).clamp_min(0.0)
    src = skip + rel * factor
    beyond = src > last + 1e-6
    out = _resample(x, start + src.clamp(max=last), nan_aware=span is not None)
    if fill != "edge":
        out = out.masked_fill(beyond.unsqueeze(1), _NAN if fill == "nan" else 0.0)
    if inside is not None:
        out = torch.where(inside.unsqueeze(1), out, x)
    return out
