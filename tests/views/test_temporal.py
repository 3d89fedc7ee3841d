"""Tests of the time-series views: invariants, slow references, odd inputs, replay and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicSpline

from pairs.views import temporal as T
from pairs.views.base import Compose, OneOf, RandomApply, take_params

NAN = float("nan")


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exactly equal, NaN where the other is NaN."""
    return a.shape == b.shape and bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5) -> bool:
    """NaN at the same places and equal up to rounding elsewhere (batched vs single paths round alike
    up to the last bits)."""
    na, nb = torch.isnan(a), torch.isnan(b)
    return a.shape == b.shape and torch.equal(na, nb) and torch.allclose(a[~na], b[~nb], rtol=1e-5, atol=atol)


def padded(lengths, c=2, t=None, starts=None, seed=0, dtype=torch.float32) -> torch.Tensor:
    """Random series (B, C, T) with NaN outside [start, start + length)."""
    g = torch.Generator().manual_seed(seed)
    starts = starts or [0] * len(lengths)
    t = t or max(s + n for s, n in zip(starts, lengths, strict=True))
    x = torch.randn(len(lengths), c, t, generator=g, dtype=dtype)
    for i, (s, n) in enumerate(zip(starts, lengths, strict=True)):
        x[i, :, :s] = NAN
        x[i, :, s + n :] = NAN
    return x


def ramp(b: int, c: int, t: int, channel_step: float = 1000.0) -> torch.Tensor:
    """x[b, c, t] = t + channel_step * c, in float64 so positions are read back exactly."""
    base = torch.arange(t, dtype=torch.float64).view(1, 1, t)
    return (base + channel_step * torch.arange(c, dtype=torch.float64).view(1, c, 1)).repeat(b, 1, 1)


SHAPE_KEEPING = [
    T.TimestampMask(0.3),
    T.Jitter(0.1),
    T.Scaling(0.2),
    T.Scaling(0.2, mean=2.0, per="timestamp"),
    T.MagnitudeWarp(0.2, 4),
    T.TimeWarp(0.3, 4),
    T.WindowSlice(0.7),
    T.WindowWarp(0.3, (0.5, 2.0)),
    T.SegmentPermutation(5),
    T.SegmentPermutation(4, mode="equal"),
    T.FrameDrop(0.3),
    T.FrameDrop(0.3, fill="nan"),
    T.SpeedChange((0.7, 1.4)),
    T.SpeedChange((0.7, 1.4), fill="edge"),
    T.ChannelDropout(0.5),
]
# views that may write NaN inside a valid span (shortened series, documented)
MAKES_NAN = (T.FrameDrop, T.SpeedChange)


def _makes_nan(v: T.SeriesView) -> bool:
    return isinstance(v, MAKES_NAN) and getattr(v, "fill", None) == "nan"


ALL_VIEWS = [*SHAPE_KEEPING, T.RandomCrop(5), T.RandomCrop((3, 6)), T.RandomCrop(0.5)]


# --------------------------------------------------------------------------------------------------
# Crops
# --------------------------------------------------------------------------------------------------
class TestRandomCrop:
    def test_fixed_length_matches_slices(self):
        x = torch.randn(16, 3, 40)
        out, p = T.RandomCrop(12)(x, 0, return_params=True)
        assert out.shape == (16, 3, 12)
        for i, s in enumerate(p["start"].tolist()):
            assert 0 <= s <= 28
            assert torch.equal(out[i], x[i, :, s : s + 12])

    def test_positions_vary_and_cover_range(self):
        x = torch.randn(2000, 1, 10)
        _, p = T.RandomCrop(7)(x, 1, return_params=True)
        assert set(p["start"].tolist()) == {0, 1, 2, 3}

    def test_ranged_and_ratio_lengths(self):
        x = torch.randn(4, 1, 50)
        lengths = {T.RandomCrop((10, 20))(x, s).shape[-1] for s in range(40)}
        assert lengths <= set(range(10, 21))
        assert len(lengths) > 3
        out, p = T.RandomCrop(0.3)(x, 0, return_params=True)
        assert out.shape == (4, 1, 15)
        for i, s in enumerate(p["start"].tolist()):  # each row is the window of its own series
            assert torch.equal(out[i], x[i, :, s : s + 15])
        assert T.RandomCrop((40, 80))(x, 0).shape[-1] in range(40, 51)  # max capped at T

    def test_single_series(self):
        x = torch.randn(2, 9)  # one series of 2 channels: the crop is a window of it
        out, p = T.RandomCrop(5)(x, 0, return_params=True)
        start = int(p["start"][0])
        assert out.shape == (2, 5)
        assert 0 <= start <= 4
        assert torch.equal(out, x[:, start : start + 5])

    def test_crop_inside_valid_span(self):
        x = padded([30, 12, 20], starts=[0, 5, 10], t=40)
        for seed in range(20):
            out, p = T.RandomCrop(10)(x, seed, return_params=True)
            assert not torch.isnan(out).any()
            s = p["start"]
            assert s[1] >= 5
            assert s[1] + 10 <= 17
            assert s[2] >= 10
            assert s[2] + 10 <= 30

    def test_span_shorter_than_crop_covers_span(self):
        x = padded([4], starts=[3], t=12, c=1)
        for seed in range(10):
            out = T.RandomCrop(6)(x, seed)
            assert (~torch.isnan(out)).sum() == 4  # all the data, plus some padding

    def test_crop_longer_than_series(self):
        with pytest.raises(ValueError, match="longer than the series"):
            T.RandomCrop(11)(torch.randn(2, 1, 10), 0)
        with pytest.raises(ValueError, match="longer than the series"):
            T.RandomCrop((11, 12))(torch.randn(2, 1, 10), 0)

    @pytest.mark.parametrize("size", [0, -3, 1.5, 0.0, (5, 2), (0, 3), "a", (1.0, 2.0), True])
    def test_bad_size(self, size):
        with pytest.raises(ValueError, match="RandomCrop size"):
            T.RandomCrop(size)


class TestOverlappingCrops:
    def test_ts2vec_geometry_and_alignment(self):
        x = torch.randn(8, 2, 60)
        for seed in range(30):
            pair, p = T.OverlappingCrops()(x, seed, return_params=True)
            left, right, eleft, eright = p["crop_left"], p["crop_right"], p["crop_eleft"], p["crop_eright"]
            assert p["crop_l"] == right - left == pair.overlap >= 2
            assert 0 <= eleft <= left < right <= eright <= 60
            assert pair.first.shape == (8, 2, right - eleft)
            assert pair.second.shape == (8, 2, eright - left)
            assert pair.first_start == left - eleft
            assert pair.second_start == 0
            off = p["offset"]
            assert bool((off >= -eleft).all())
            assert bool((off + eright <= 60).all())
            a, b = pair.aligned(pair.first, pair.second)
            assert torch.equal(a, b)  # the shared region is the same raw data in both crops
            for i, o in enumerate(off.tolist()):
                assert torch.equal(pair.first[i], x[i, :, o + eleft : o + right])
                assert torch.equal(pair.second[i], x[i, :, o + left : o + eright])
                assert torch.equal(a[i], x[i, :, o + left : o + right])

    def test_offsets_are_per_example(self):
        _, p = T.OverlappingCrops()(torch.randn(64, 1, 100), 3, return_params=True)
        assert len(set(p["offset"].tolist())) > 1 or p["crop_eright"] - p["crop_eleft"] == 100

    def test_aligned_on_timestamp_representations(self):
        pair = T.OverlappingCrops()(torch.randn(3, 2, 30), 1)
        r1 = pair.first.transpose(1, 2) * 2  # (B, L1, D) "representations"
        r2 = pair.second.transpose(1, 2) * 2
        a, b = pair.aligned(r1, r2, dim=1)
        assert a.shape == b.shape == (3, pair.overlap, 2)
        assert torch.equal(a, b)

    def test_temporal_unit_minimum(self):
        for seed in range(20):
            _, p = T.OverlappingCrops(temporal_unit=2)(torch.randn(2, 1, 20), seed, return_params=True)
            assert p["crop_l"] >= 8
        with pytest.raises(ValueError, match="at least 8 timestamps"):
            T.OverlappingCrops(temporal_unit=2)(torch.randn(2, 1, 7), 0)
        with pytest.raises(ValueError, match="at least 2 timestamps"):
            T.OverlappingCrops()(torch.randn(2, 1, 1), 0)

    def test_within_valid_keeps_padding_out(self):
        x = padded([50, 20, 35], starts=[0, 10, 5], t=60)
        for seed in range(20):
            pair = T.OverlappingCrops(within_valid=True)(x, seed)
            assert not torch.isnan(pair.first).any()
            assert not torch.isnan(pair.second).any()
            a, b = pair.aligned(pair.first, pair.second)
            assert torch.equal(a, b)

    def test_single_series_and_replay(self):
        x = torch.randn(2, 30)
        view = T.OverlappingCrops()
        pair, p = view(x, 0, return_params=True)
        assert pair.first.dim() == 2
        assert pair.second.dim() == 2
        again = view.replay(x, p)
        assert torch.equal(again.first, pair.first)
        assert torch.equal(again.second, pair.second)

    def test_composing_after_it_is_a_clear_error(self):
        with pytest.raises(TypeError, match="apply further views to each crop"):
            Compose([T.OverlappingCrops(), T.Jitter()])(torch.randn(2, 1, 20), 0)

    def test_recipe(self):
        v = T.ts2vec_view(temporal_unit=1)
        assert isinstance(v, T.OverlappingCrops)
        assert v.min_overlap == 4


# --------------------------------------------------------------------------------------------------
# Value views
# --------------------------------------------------------------------------------------------------
class TestValueViews:
    def test_timestamp_mask_all_channels(self):
        x = torch.randn(64, 3, 100) + 5
        out, p = T.TimestampMask(0.5)(x, 0, return_params=True)
        mask = p["mask"]
        assert torch.equal(out == 0, mask.unsqueeze(1).expand_as(x))
        assert torch.equal(out[~mask.unsqueeze(1).expand_as(x)], x[~mask.unsqueeze(1).expand_as(x)])
        assert abs(mask.float().mean().item() - 0.5) < 0.02

    def test_timestamp_mask_keeps_padding(self):
        x = padded([5, 8], t=8)
        out = T.TimestampMask(1.0)(x, 0)
        assert torch.isnan(out[0, :, 5:]).all()
        assert (out[0, :, :5] == 0).all()

    def test_jitter_statistics(self):
        x = torch.randn(200, 2, 500)
        out, p = T.Jitter(0.05)(x, 0, return_params=True)
        d = (out - x).double()
        assert torch.allclose(d, p["noise"].double(), atol=1e-6)
        assert abs(d.mean().item()) < 1e-3
        assert abs(d.std().item() - 0.05) < 1e-3
        assert not torch.equal(d[0], d[1])  # each example its own noise
        assert torch.equal(T.Jitter(0.0)(x, 0), x)

    def test_scaling_per_channel(self):
        x = torch.rand(400, 3, 20) + 1
        out, p = T.Scaling(0.1)(x, 0, return_params=True)
        ratio = out / x
        assert torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), rtol=1e-5)
        f = p["factor"]
        assert f.shape == (400, 3, 1)
        assert abs(f.mean().item() - 1) < 0.02
        assert abs(f.std().item() - 0.1) < 0.01

    def test_scaling_per_timestamp_tstcc(self):
        x = torch.rand(8, 3, 20) + 1
        out, p = T.tstcc_weak_view(1.1)(x, 0, return_params=True)
        f = p["views"][0]["factor"]
        assert f.shape == (8, 1, 20)
        assert torch.allclose(out, x * f)

    def test_magnitude_warp_is_natural_cubic_spline(self):
        x = torch.rand(3, 2, 57, dtype=torch.float64) + 1
        out, p = T.MagnitudeWarp(0.3, knots=3)(x, 0, return_params=True)
        knots = p["knots"].numpy()
        grid = np.linspace(0, 1, 57)
        for i in range(3):
            for c in range(2):
                ref = CubicSpline(np.linspace(0, 1, 5), knots[i, c], bc_type="natural")(grid)
                np.testing.assert_allclose((out[i, c] / x[i, c]).numpy(), ref, rtol=1e-10)

    def test_channel_dropout_never_all(self):
        x = torch.rand(500, 3, 10) + 1
        out, p = T.ChannelDropout(1.0)(x, 0, return_params=True)
        assert torch.equal(p["drop"].sum(1), torch.full((500,), 2))
        zero = (out == 0).all(dim=2)
        assert torch.equal(zero, p["drop"])
        assert torch.equal(out[~zero], x[~zero])
        assert len(set((~p["drop"]).float().argmax(1).tolist())) == 3  # the kept channel is random

    def test_channel_dropout_rate_and_univariate(self):
        _, p = T.ChannelDropout(0.2)(torch.rand(2000, 4, 5), 0, return_params=True)
        assert abs(p["drop"].float().mean().item() - 0.2) < 0.02
        x = torch.rand(50, 1, 5)
        assert torch.equal(T.ChannelDropout(0.9)(x, 0), x)


# --------------------------------------------------------------------------------------------------
# Time views
# --------------------------------------------------------------------------------------------------
def _reference_warp(speed: np.ndarray, n: int) -> np.ndarray:
    """Slow reference: integrate the piecewise-linear speed on a fine grid, normalise, sample at n points."""
    fine = np.linspace(0, 1, 200001)
    v = np.interp(fine, np.linspace(0, 1, len(speed)), speed)
    cum = np.concatenate([[0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(fine))])
    return np.interp(np.linspace(0, 1, n), fine, cum / cum[-1])


class TestTimeViews:
    def test_time_warp_monotone_endpoints_reference(self):
        x = ramp(6, 2, 80)
        out, p = T.TimeWarp(0.4, knots=4)(x, 0, return_params=True)
        pos = out[:, 0]  # the ramp reads back the source positions
        assert torch.allclose(out[:, 1] - 1000, pos, atol=1e-9)  # channels share the warp
        assert bool((pos.diff(dim=1) > 0).all())
        assert torch.allclose(pos[:, 0], torch.zeros(6, dtype=torch.float64))
        assert torch.allclose(pos[:, -1], torch.full((6,), 79.0, dtype=torch.float64))
        for i in range(6):
            ref = _reference_warp(p["speed"][i].numpy(), 80) * 79
            np.testing.assert_allclose(pos[i].numpy(), ref, atol=1e-6)
        assert not torch.equal(pos[0], pos[1])

    def test_time_warp_interpolates_linearly(self):
        x = torch.randn(4, 3, 33, dtype=torch.float64)
        out, p = T.TimeWarp(0.5)(x, 1, return_params=True)
        pos = T.TimeWarp(0.5)(ramp(4, 1, 33), 1)[:, 0].numpy()
        for i in range(4):
            for c in range(3):
                np.testing.assert_allclose(
                    out[i, c].numpy(), np.interp(pos[i], np.arange(33), x[i, c].numpy())
                )

    def test_time_warp_sigma_zero_is_identity(self):
        x = torch.randn(3, 2, 40, dtype=torch.float64)
        assert torch.allclose(T.TimeWarp(0.0)(x, 0), x)

    def test_window_slice(self):
        x = ramp(5, 1, 101)
        out, p = T.WindowSlice(0.6)(x, 0, return_params=True)
        for i in range(5):
            a = p["start"][i].item() * 0.4 * 100
            np.testing.assert_allclose(out[i, 0].numpy(), a + np.linspace(0, 60, 101), atol=1e-9)

    def test_window_warp_reference(self):
        x = ramp(6, 1, 120)
        out, p = T.WindowWarp(0.2, (0.5, 2.0))(x, 0, return_params=True)
        assert set(p["scale"].tolist()) <= {0.5, 2.0}
        for i in range(6):
            # the map Um et al. build by concatenation: head, stretched window, tail, resampled to T
            w0 = p["start"][i].item() * 0.8 * 119
            s = p["scale"][i].item()
            fine_out = np.linspace(0, 119 * (0.8 + 0.2 * s), 100001)
            src = np.where(
                fine_out < w0,
                fine_out,
                np.where(
                    fine_out < w0 + 0.2 * 119 * s, w0 + (fine_out - w0) / s, fine_out - 0.2 * 119 * (s - 1)
                ),
            )
            ref = np.interp(np.linspace(0, fine_out[-1], 120), fine_out, src)
            np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-6)
            assert bool((out[i, 0].diff() > 0).all())
            assert out[i, 0, -1] == pytest.approx(119)

    def test_segment_permutation_same_for_all_channels(self):
        x = ramp(200, 3, 30)
        out, p = T.SegmentPermutation(5)(x, 0, return_params=True)
        src = out[:, 0].long()
        for c in range(3):
            assert torch.equal(out[:, c] - 1000 * c, out[:, 0])
        assert torch.equal(src.sort(dim=1).values, torch.arange(30).expand(200, -1))  # a permutation
        runs = (src.diff(dim=1) != 1).sum(1) + 1  # contiguous runs of the source
        n_used = (p["bounds"].diff(dim=1) > 0).sum(1)
        assert bool((runs <= n_used).all())
        assert int(n_used.max()) == 5
        assert int(n_used.min()) == 1
        assert (src != torch.arange(30)).any(dim=1).float().mean() > 0.5
        # reference: concatenate the source segments in the drawn order
        for i in range(20):
            b = p["bounds"][i].tolist()
            segs = [list(range(b[k], b[k + 1])) for k in range(5)]
            ref = [t for k in p["order"][i].tolist() for t in segs[k]]
            assert src[i].tolist() == ref

    def test_segment_permutation_equal_mode_and_tstcc(self):
        _, p = T.SegmentPermutation(4, mode="equal")(torch.randn(50, 1, 40), 0, return_params=True)
        n_used = (p["bounds"].diff(dim=1) > 0).sum(1).tolist()
        for b, n in zip(p["bounds"].tolist(), n_used, strict=True):
            assert b[: n + 1] == [k * 40 // n for k in range(n + 1)]
        strong = T.tstcc_strong_view(max_seg=5, jitter_ratio=0.8)
        assert strong.views[0].max_segments == 4
        assert strong.views[1].sigma == 0.8

    def test_segment_permutation_keeps_padding(self):
        x = padded([10, 25], starts=[3, 0], t=25)
        out = T.SegmentPermutation(5)(x, 0)
        assert same(torch.isnan(out), torch.isnan(x))
        for i in range(2):
            valid = ~torch.isnan(x[i, 0])
            assert torch.equal(out[i, 0, valid].sort().values, x[i, 0, valid].sort().values)

    def test_frame_drop_nan_fill_keeps_frames_in_order(self):
        x = ramp(50, 2, 40)
        out, p = T.FrameDrop(0.3, fill="nan")(x, 0, return_params=True)
        for i in range(50):
            kept = (~p["drop"][i]).nonzero().flatten().double()
            if len(kept) < 2:
                continue
            n = len(kept)
            assert torch.allclose(out[i, 0, :n], kept)
            assert torch.allclose(out[i, 1, :n], kept + 1000)
            assert torch.isnan(out[i, :, n:]).all()

    def test_frame_drop_resample(self):
        x = ramp(50, 1, 40)
        out, p = T.FrameDrop(0.3)(x, 0, return_params=True)
        assert not torch.isnan(out).any()
        for i in range(50):
            kept = (~p["drop"][i]).nonzero().flatten().double().numpy()
            if len(kept) < 2:
                continue
            ref = np.interp(np.linspace(0, len(kept) - 1, 40), np.arange(len(kept)), kept)
            np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-9)

    def test_frame_drop_keeps_two_frames(self):
        out = T.FrameDrop(0.99)(ramp(20, 1, 10), 0)
        assert torch.equal(out[:, 0, 0], torch.zeros(20, dtype=torch.float64))
        assert torch.equal(out[:, 0, -1], torch.full((20,), 9.0, dtype=torch.float64))

    def test_speed_change(self):
        x = ramp(40, 1, 100)
        out, p = T.SpeedChange((0.5, 2.0))(x, 0, return_params=True)
        f = p["factor"]
        assert bool(((f >= 0.5) & (f <= 2.0)).all())
        assert (f > 1).any()
        assert (f < 1).any()
        for i in range(40):
            fi, oi = f[i].item(), p["offset"][i].item()
            skip = oi * max(0.0, 99 * (1 - fi))
            expect = skip + np.arange(100) * fi
            valid = expect <= 99 + 1e-6
            np.testing.assert_allclose(out[i, 0, valid].numpy(), expect[valid], atol=1e-6)
            assert torch.isnan(out[i, 0, ~torch.from_numpy(valid)]).all()
        edge = T.SpeedChange((2.0, 2.0), fill="edge")(ramp(1, 1, 11), 0)
        assert edge[0, 0].tolist() == [0, 2, 4, 6, 8, 10, 10, 10, 10, 10, 10]
        zero = T.SpeedChange((2.0, 2.0), fill="zero")(ramp(1, 1, 11), 0)
        assert zero[0, 0, 6:].eq(0).all()


# --------------------------------------------------------------------------------------------------
# NaN padding, variable length, interior gaps
# --------------------------------------------------------------------------------------------------
class TestNaNHandling:
    @pytest.mark.parametrize("view", SHAPE_KEEPING, ids=repr)
    def test_padding_stays_and_never_leaks(self, view):
        x = padded([30, 12, 7, 1], starts=[0, 5, 20, 3], t=30, c=3)
        out = view(x, 0)
        outside = torch.isnan(x).all(dim=1, keepdim=True).expand_as(x)
        assert torch.isnan(out[outside]).all()
        if not _makes_nan(view):
            assert not torch.isnan(out[~outside]).any()

    def test_time_views_retime_the_valid_span(self):
        # a padded series is warped exactly as the same series without its padding
        x = torch.randn(1, 2, 20, dtype=torch.float64)
        xp = torch.full((1, 2, 31), NAN, dtype=torch.float64)
        xp[:, :, 4:24] = x
        for view in [
            T.TimeWarp(0.4),
            T.WindowSlice(0.5),
            T.WindowWarp(0.3),
            T.SegmentPermutation(4),
            T.SpeedChange(),
        ]:
            _, p = view(x, 3, return_params=True)
            assert close(view.replay(xp, p)[:, :, 4:24], view.replay(x, p), atol=1e-9), view

    def test_interior_gap_does_not_grow(self):
        x = torch.arange(40, dtype=torch.float64).view(1, 1, 40).repeat(8, 1, 1)
        x[:, :, 17] = NAN
        for view in [T.TimeWarp(0.1), T.WindowSlice(0.95), T.SpeedChange((0.95, 1.05), fill="edge")]:
            out = view(x, 0)
            assert int(torch.isnan(out).sum(dim=2).max()) <= 2, view  # a gap of one sample stays tiny

    def test_all_nan_series_error_names_index(self):
        x = torch.randn(4, 2, 10)
        x[2] = NAN
        for view in [*ALL_VIEWS, T.OverlappingCrops(), T.default_series_view()]:
            with pytest.raises(ValueError, match="batch index 2 is NaN everywhere"):
                view(x, 0)
        with pytest.raises(ValueError, match="index 2"):
            T.valid_span(x)

    def test_valid_span(self):
        x = padded([5, 3, 10], starts=[2, 0, 0], t=10)
        x[0, 0, 3] = NAN  # interior: one channel missing, still in the span
        start, length = T.valid_span(x)
        assert start.tolist() == [2, 0, 0]
        assert length.tolist() == [5, 3, 10]


# --------------------------------------------------------------------------------------------------
# Batch = per example, replay, reproducibility, dtypes
# --------------------------------------------------------------------------------------------------
class TestContract:
    @pytest.mark.parametrize("view", ALL_VIEWS, ids=repr)
    def test_batch_equals_examples_one_by_one(self, view):
        x = padded([20, 14, 9], starts=[0, 3, 8], t=20, c=2)
        out, p = view(x, 0, return_params=True)
        for i in range(3):
            sub = take_params(p, torch.tensor([i]), 3)
            assert close(view.apply(x[i : i + 1], sub), out[i : i + 1]), view

    @pytest.mark.parametrize("view", [*ALL_VIEWS, T.default_series_view(), T.tstcc_strong_view()], ids=repr)
    def test_seed_and_replay(self, view):
        x = torch.randn(5, 2, 24)
        a, p = view(x, 7, return_params=True)
        assert same(view(x, 7), a)
        assert same(view.replay(x, p), a)
        if not isinstance(view, T.ChannelDropout):
            assert not same(view(x, 8), a)

    def test_generator_object_advances(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(3, 1, 30)
        view = T.TimeWarp()
        assert not same(view(x, g), view(x, g))

    def test_random_apply_and_one_of(self):
        x = torch.randn(32, 2, 20)
        for view in [
            RandomApply(T.Jitter(0.5), p=0.5),
            OneOf([T.TimeWarp(), T.SegmentPermutation(), T.Scaling()]),
        ]:
            out, p = view(x, 0, return_params=True)
            assert same(view.replay(x, p), out)
            assert out.shape == x.shape
        out, p = RandomApply(T.Jitter(0.5), p=0.5)(x, 0, return_params=True)
        assert torch.equal(out[~p["applied"]], x[~p["applied"]])

    def test_replay_size_mismatch(self):
        _, p = T.TimeWarp()(torch.randn(4, 1, 20), 0, return_params=True)
        with pytest.raises(ValueError, match="replay"):
            T.TimeWarp().replay(torch.randn(3, 1, 20), p)
        _, p = T.Jitter()(torch.randn(4, 1, 20), 0, return_params=True)
        with pytest.raises(ValueError, match="same shape"):
            T.Jitter().replay(torch.randn(4, 1, 21), p)

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
    def test_dtypes(self, dtype):
        x = torch.randn(3, 2, 30).to(dtype)
        for view in [*ALL_VIEWS, T.default_series_view()]:
            out = view(x, 0)
            assert out.dtype == dtype, view
            assert _makes_nan(view) or torch.isfinite(out).all(), view

    def test_recipes(self):
        assert set(T.RECIPES) == {"ts2vec", "tstcc_weak", "tstcc_strong", "default"}
        view = T.get_recipe("default", crop=16)
        assert view(torch.randn(2, 1, 30), 0).shape == (2, 1, 16)
        with pytest.raises(ValueError, match="known recipes"):
            T.get_recipe("nope")


# --------------------------------------------------------------------------------------------------
# Bad inputs and arguments
# --------------------------------------------------------------------------------------------------
class TestBadInputs:
    @pytest.mark.parametrize("shape", [(10,), (2, 3, 4, 5), ()])
    def test_wrong_rank(self, shape):
        with pytest.raises(ValueError, match=r"\(C, T\)"):
            T.Jitter()(torch.randn(shape), 0)

    def test_not_a_float_tensor(self):
        with pytest.raises(TypeError, match="floating-point"):
            T.TimeWarp()(torch.ones(2, 1, 5, dtype=torch.long), 0)
        with pytest.raises(TypeError, match="torch.Tensor"):
            T.TimeWarp()(np.zeros((2, 1, 5)), 0)

    def test_empty(self):
        with pytest.raises(ValueError, match="no channels or no timestamps"):
            T.Jitter()(torch.randn(2, 0, 5), 0)
        with pytest.raises(ValueError, match="empty batch"):
            T.Jitter()(torch.randn(0, 1, 5), 0)

    @pytest.mark.parametrize(
        "make",
        [
            lambda: T.TimestampMask(1.5),
            lambda: T.Jitter(-1),
            lambda: T.Scaling(0.1, per="channels"),
            lambda: T.MagnitudeWarp(knots=-1),
            lambda: T.TimeWarp(sigma=float("nan")),
            lambda: T.WindowSlice(0),
            lambda: T.WindowWarp(scales=()),
            lambda: T.WindowWarp(scales=(0.0, 1.0)),
            lambda: T.SegmentPermutation(0),
            lambda: T.SegmentPermutation(3, mode="nope"),
            lambda: T.FrameDrop(1.0),
            lambda: T.FrameDrop(fill="zero"),
            lambda: T.SpeedChange((1.2, 0.8)),
            lambda: T.SpeedChange(fill="x"),
            lambda: T.ChannelDropout(2),
            lambda: T.OverlappingCrops(temporal_unit=-1),
            lambda: T.tstcc_strong_view(max_seg=1),
        ],
    )
    def test_bad_arguments(self, make):
        with pytest.raises(ValueError):
            make()


# --------------------------------------------------------------------------------------------------
# Property tests on odd inputs
# --------------------------------------------------------------------------------------------------
@st.composite
def odd_batches(draw):
    b = draw(st.integers(1, 4))
    c = draw(st.integers(1, 4))
    t = draw(st.integers(1, 50))
    starts, lengths = [], []
    for _ in range(b):
        n = draw(st.integers(1, t))
        s = draw(st.integers(0, t - n))
        starts.append(s)
        lengths.append(n)
    seed = draw(st.integers(0, 2**16))
    return padded(lengths, c=c, t=t, starts=starts, seed=seed), draw(st.integers(0, 2**31 - 1))


_HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_HYP
@given(odd_batches(), st.sampled_from(SHAPE_KEEPING))
def test_property_shape_keeping_views(batch, view):
    x, seed = batch
    out, p = view(x, seed, return_params=True)
    assert out.shape == x.shape
    assert out.dtype == x.dtype
    padding = torch.isnan(x).all(dim=1, keepdim=True).expand_as(x)
    assert torch.isnan(out[padding]).all()
    if not _makes_nan(view):
        assert torch.isfinite(out[~padding]).all()
    assert same(view.replay(x, p), out)


@_HYP
@given(odd_batches(), st.integers(1, 50))
def test_property_random_crop(batch, length):
    x, seed = batch
    t = x.shape[-1]
    if length > t:
        with pytest.raises(ValueError):
            T.RandomCrop(length)(x, seed)
        return
    out, p = T.RandomCrop(length)(x, seed, return_params=True)
    assert out.shape == (*x.shape[:2], length)
    start, span = T.valid_span(x)
    for i, s in enumerate(p["start"].tolist()):
        assert 0 <= s <= t - length
        assert torch.equal(torch.nan_to_num(out[i], 1e9), torch.nan_to_num(x[i, :, s : s + length], 1e9))
        n_valid = int((~torch.isnan(x[i]).all(0))[s : s + length].sum())
        assert n_valid == min(length, int(span[i]))  # as much of the valid span as fits


@_HYP
@given(odd_batches(), st.integers(0, 2), st.booleans())
def test_property_overlapping_crops(batch, unit, within):
    x, seed = batch
    view = T.OverlappingCrops(temporal_unit=unit, within_valid=within)
    ts_l = int(T.valid_span(x)[1].min()) if within else x.shape[-1]
    if ts_l < 2 ** (unit + 1):
        with pytest.raises(ValueError):
            view(x, seed)
        return
    pair = view(x, seed)
    a, b = pair.aligned(pair.first, pair.second)
    assert a.shape[-1] == pair.overlap >= 2 ** (unit + 1)
    assert same(a, b)
    if within:
        assert not torch.isnan(pair.first).all(dim=1).any()
        assert not torch.isnan(pair.second).all(dim=1).any()


@_HYP
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 50), st.integers(1, 8), st.integers(0, 10**6))
def test_property_segment_permutation(b, c, t, max_segments, seed):
    x = ramp(b, c, t)
    out = T.SegmentPermutation(max_segments)(x, seed)
    src = out[:, 0]
    assert torch.equal(src.sort(dim=1).values, x[:, 0])
    for ch in range(c):
        assert torch.equal(out[:, ch] - 1000 * ch, src)
    runs = (src.diff(dim=1) != 1).sum(1) + 1
    assert int(runs.max()) <= max_segments


@_HYP
@given(st.integers(1, 4), st.integers(1, 50), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_property_time_warp_monotone(b, t, sigma, seed):
    pos = T.TimeWarp(sigma, knots=3)(ramp(b, 1, t), seed)[:, 0]
    assert bool((pos.diff(dim=1) >= -1e-9).all())
    assert torch.allclose(pos[:, 0], torch.zeros(b, dtype=torch.float64))
    assert torch.allclose(pos[:, -1], torch.full((b,), t - 1.0, dtype=torch.float64))


@_HYP
@given(st.integers(1, 4), st.integers(1, 6), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_property_channel_dropout(b, c, p, seed):
    out, params = T.ChannelDropout(p)(torch.rand(b, c, 5) + 1, seed, return_params=True)
    assert not params["drop"].all(dim=1).any()
    assert ((out != 0).all(dim=2)).any(dim=1).all()


def test_module_docstring_example():
    x = torch.randn(8, 1, 100)
    view = T.default_series_view()
    assert view(x, 0).shape == (8, 1, 90)
    pair = T.OverlappingCrops()(x, 0)
    assert pair.first.shape[-1] >= pair.overlap
    assert math.isfinite(float(pair.first.sum()))
