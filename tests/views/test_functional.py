"""Tests of the views' functional kernels (:mod:`pairs.views.functional`): each kernel against a slow
reference (torchvision per image, numpy/scipy per series, PyG per graph) or a hand-computed case, and
each view's output equal to its kernel applied to the view's own parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from scipy.interpolate import CubicSpline
from torch_geometric.data import Batch, Data
from torch_geometric.utils import subgraph

from pairs.views import graph as G
from pairs.views import image as I
from pairs.views import temporal as T
from pairs.views.functional import graph as FG
from pairs.views.functional import image as FI
from pairs.views.functional import temporal as FT

NEAREST, BILINEAR = TF.InterpolationMode.NEAREST, TF.InterpolationMode.BILINEAR


def images(b: int = 5, c: int = 3, h: int = 9, w: int = 11, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))


def per_image(reference, x: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """``reference(x[i], args[0][i], ...)`` stacked over the batch: the slow per-image loop."""
    return torch.stack([reference(x[i], *(a[i] for a in args)) for i in range(len(x))])


# --------------------------------------------------------------------------------------------------
# Image kernels
# --------------------------------------------------------------------------------------------------
def test_resized_crop_matches_torchvision_per_image():
    x = images(4, 3, 12, 15)
    boxes = torch.tensor([[0, 0, 12, 15], [2, 3, 5, 9], [7, 1, 4, 4], [1, 10, 11, 5]])
    out = FI.resized_crop(x, boxes, (6, 8))
    ref = per_image(
        lambda im, box: TF.resized_crop(im, *box.tolist(), [6, 8], interpolation=BILINEAR, antialias=False),
        x,
        boxes,
    )
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_affine_quarter_turns_match_torchvision_exactly():
    x = images(3, 3, 8, 8)
    angle = torch.tensor([90.0, -90.0, 0.0])
    translate = torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, -1.0]])
    out = FI.affine(x, angle, translate, torch.ones(3), torch.zeros(3, 2), interpolation="nearest")
    for i in range(3):
        ref = TF.affine(
            x[i],
            angle=angle[i].item(),
            translate=translate[i].tolist(),
            scale=1.0,
            shear=[0.0, 0.0],
            interpolation=NEAREST,
        )
        assert torch.equal(out[i], ref), f"image {i}"
    assert torch.equal(out[0], torch.rot90(x[0], -1, dims=(1, 2)))  # clockwise on screen, as torchvision


def test_affine_fill_outside_and_fill_count_checked():
    x = images(1, 3, 6, 6)
    out = FI.affine(
        x,
        torch.zeros(1),
        torch.tensor([[3.0, 0.0]]),
        torch.ones(1),
        torch.zeros(1, 2),
        fill=(0.1, 0.2, 0.3),
        interpolation="nearest",
    )
    assert torch.equal(out[0, :, :, 3:], x[0, :, :, :3])  # shifted right by 3 pixels
    assert torch.equal(out[0, :, :, :3], torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1).expand(3, 6, 3))
    with pytest.raises(ValueError, match="fill has 2 values but the images have 3 channels"):
        FI.affine(x, torch.zeros(1), torch.zeros(1, 2), torch.ones(1), torch.zeros(1, 2), fill=(0.0, 1.0))


def test_horizontal_flip_flips_the_flagged_images():
    x = images(3)
    out = FI.horizontal_flip(x, torch.tensor([True, False, True]))
    assert torch.equal(out[0], x[0].flip(-1))
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[2], TF.horizontal_flip(x[2]))


@pytest.mark.parametrize(
    ("kernel", "reference", "factors"),
    [
        (FI.adjust_brightness, TF.adjust_brightness, [0.0, 0.5, 1.0, 1.7]),
        (FI.adjust_contrast, TF.adjust_contrast, [0.0, 0.5, 1.0, 2.2]),
        (FI.adjust_saturation, TF.adjust_saturation, [0.0, 0.3, 1.0, 3.0]),
        (FI.adjust_hue, TF.adjust_hue, [-0.5, -0.1, 0.0, 0.35]),
    ],
    ids=["brightness", "contrast", "saturation", "hue"],
)
def test_colour_adjustments_match_torchvision(kernel, reference, factors):
    x = images(4)
    f = torch.tensor(factors)
    torch.testing.assert_close(
        kernel(x, f), per_image(lambda im, v: reference(im, v.item()), x, f), atol=2e-6, rtol=0
    )


def test_color_jitter_runs_the_operations_in_each_images_order():
    x = images(3)
    factors = torch.tensor([[1.3, 0.6, 1.8, 0.1], [0.7, 1.5, 0.2, -0.3], [2.0, 2.0, 2.0, 0.5]])
    order = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]])
    applied = torch.tensor([True, True, False])
    out = FI.color_jitter(x, factors, order, applied)
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(2):
        ref = x[i]
        for k in order[i].tolist():
            ref = ops[k](ref, factors[i, k].item())
        torch.testing.assert_close(out[i], ref, atol=5e-6, rtol=0)
    assert torch.equal(out[2], x[2])
    only_brightness = FI.color_jitter(x, factors, order, applied, enabled=[0])
    torch.testing.assert_close(only_brightness[1], TF.adjust_brightness(x[1], 0.7), atol=0, rtol=0)


def test_grayscale_matches_torchvision_on_flagged_images():
    x = images(3)
    out = FI.grayscale(x, torch.tensor([False, True, True]))
    assert torch.equal(out[0], x[0])
    torch.testing.assert_close(out[1:], TF.rgb_to_grayscale(x[1:], num_output_channels=3), atol=1e-6, rtol=0)
    gray = images(2, 1)
    assert torch.equal(FI.grayscale(gray, torch.tensor([True, True])), gray)


def test_gaussian_blur_matches_torchvision_per_sigma():
    x = images(3, 3, 10, 12)
    sigma = torch.tensor([0.3, 1.0, 2.5])
    out = FI.gaussian_blur(x, sigma, (5, 3), torch.tensor([True, True, False]))
    for i in range(2):
        ref = TF.gaussian_blur(x[i], [5, 3], [sigma[i].item(), sigma[i].item()])
        torch.testing.assert_close(out[i], ref, atol=1e-6, rtol=0)
    assert torch.equal(out[2], x[2])


def test_solarize_inverts_at_or_above_the_threshold():
    x = torch.tensor([[[[0.1, 0.5, 0.9]]], [[[0.1, 0.5, 0.9]]]])
    out = FI.solarize(x, 0.5, torch.tensor([True, False]))
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.1, 0.5, 0.1]), atol=1e-7, rtol=0)
    assert torch.equal(out[1], x[1])


def test_gaussian_noise_adds_std_times_noise_and_clips():
    x = torch.full((2, 1, 1, 3), 0.5)
    noise = torch.tensor([[[[1.0, -1.0, 10.0]]], [[[1.0, -1.0, 10.0]]]])
    out = FI.gaussian_noise(x, torch.tensor([0.1, 0.0]), noise)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.6, 0.4, 1.0]))
    assert torch.equal(out[1], x[1])
    unclipped = FI.gaussian_noise(x, torch.tensor([0.1, 0.0]), noise, clip=False)
    torch.testing.assert_close(unclipped[0, 0, 0, 2], torch.tensor(1.5))


def test_normalize_matches_torchvision():
    x = images(2)
    torch.testing.assert_close(
        FI.normalize(x, (0.5, 0.4, 0.3), (0.2, 0.3, 0.4)), TF.normalize(x, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4])
    )


# --------------------------------------------------------------------------------------------------
# Time-series kernels
# --------------------------------------------------------------------------------------------------
def series(b: int = 3, c: int = 2, t: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, c, t, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def interp(x: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
    """numpy's linear interpolation of every channel of every series at ``positions[b]``."""
    out = np.stack(
        [[np.interp(positions[i], np.arange(x.shape[-1]), ch) for ch in x[i].numpy()] for i in range(len(x))]
    )
    return torch.from_numpy(out)


def test_crop_and_overlapping_crops_are_slices():
    x = series()
    out = FT.crop(x, torch.tensor([0, 5, 12]), 8)
    for i, s in enumerate([0, 5, 12]):
        assert torch.equal(out[i], x[i, :, s : s + 8])
    first, second = FT.overlapping_crops(x, torch.tensor([0, 2, -1]), 4, 9, 1, 12)
    for i, off in enumerate([0, 2, -1]):
        assert torch.equal(first[i], x[i, :, off + 1 : off + 9])
        assert torch.equal(second[i], x[i, :, off + 4 : off + 12])


def test_timestamp_mask_keeps_nan_padding():
    x = series(1, 2, 5)
    x[0, :, 4] = float("nan")
    mask = torch.tensor([[True, False, False, True, True]])
    out = FT.timestamp_mask(x, mask, -7.0)
    assert out[0, :, [0, 3]].eq(-7.0).all()
    assert torch.equal(out[0, :, 1:3], x[0, :, 1:3])
    assert out[0, :, 4].isnan().all()


def test_jitter_scale_and_channel_dropout_by_hand():
    x = series(2, 2, 4)
    noise = torch.full_like(x, 0.25)
    assert torch.equal(FT.jitter(x, noise), x + 0.25)
    factor = torch.tensor([[[2.0], [0.5]], [[1.0], [-1.0]]])
    assert torch.equal(FT.scale(x, factor), x * factor)
    out = FT.channel_dropout(x, torch.tensor([[True, False], [False, False]]))
    assert torch.equal(out[0, 0], torch.zeros(4, dtype=x.dtype))
    assert torch.equal(out[0, 1], x[0, 1])
    assert torch.equal(out[1], x[1])


def test_magnitude_warp_matches_scipy_natural_cubic_spline():
    x = series(2, 2, 30)
    knots = 1.0 + 0.3 * series(2, 2, 6, seed=1)
    out = FT.magnitude_warp(x, knots)
    u = np.linspace(0.0, 1.0, 30)
    for i in range(2):
        for c in range(2):
            curve = CubicSpline(np.linspace(0.0, 1.0, 6), knots[i, c].numpy(), bc_type="natural")(u)
            np.testing.assert_allclose(out[i, c].numpy(), x[i, c].numpy() * curve, rtol=0, atol=1e-10)


def warp_reference(speed: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The normalised integral of the piecewise-linear speed curve, by dense trapezoids."""
    fine = np.linspace(0.0, 1.0, 20001)
    v = np.interp(fine, np.linspace(0.0, 1.0, len(speed)), speed)
    integral = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(fine))])
    return np.interp(u, fine, integral / integral[-1])


def test_time_warp_matches_a_numerical_integral_and_keeps_padding():
    x = series(2, 1, 25)
    speed = torch.tensor([[1.0, 0.4, 1.6, 1.0], [0.2, 1.0, 1.0, 2.0]], dtype=torch.float64)
    out = FT.time_warp(x, speed)
    u = np.linspace(0.0, 1.0, 25)
    ref = interp(x, np.stack([warp_reference(s, u) * 24 for s in speed.numpy()]))
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    padded = x.clone()
    padded[1, :, 20:] = float("nan")
    out = FT.time_warp(padded, speed)
    assert out[1, :, 20:].isnan().all()
    torch.testing.assert_close(out[0], ref[0], atol=1e-6, rtol=0)


def test_window_slice_and_window_warp_match_numpy_interpolation():
    x = series(2, 1, 21)
    u = np.linspace(0.0, 1.0, 21)
    start = torch.tensor([0.0, 1.0], dtype=torch.float64)
    out = FT.window_slice(x, start, 0.5)
    ref = interp(x, np.stack([(s * 0.5 + u * 0.5) * 20 for s in start.numpy()]))
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
    same = FT.window_warp(x, start, torch.ones(2, dtype=torch.float64), 0.2)
    torch.testing.assert_close(same, x, atol=1e-12, rtol=0)  # scale 1: the identity
    warped = FT.window_warp(x, torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([2.0, 0.5]), 0.2)
    for i, s in enumerate([2.0, 0.5]):
        w0, total = 0.5 * 0.8, 0.8 + 0.2 * s
        v = u * total
        src = np.where(v < w0, v, np.where(v < w0 + 0.2 * s, w0 + (v - w0) / s, v - 0.2 * s + 0.2))
        torch.testing.assert_close(
            warped[i : i + 1], interp(x[i : i + 1], src[None] * 20), atol=1e-12, rtol=0
        )


def test_permute_segments_by_hand():
    x = torch.arange(8.0).view(1, 1, 8)
    bounds = torch.tensor([[0, 2, 5, 8]])
    order = torch.tensor([[2, 0, 1]])
    assert FT.segment_source_index(x, bounds, order).tolist() == [[5, 6, 7, 0, 1, 2, 3, 4]]
    assert FT.permute_segments(x, bounds, order).flatten().tolist() == [5, 6, 7, 0, 1, 2, 3, 4]
    padded = torch.cat([torch.arange(6.0), torch.full((2,), float("nan"))]).view(1, 1, 8)
    out = FT.permute_segments(padded, torch.tensor([[0, 3, 6, 6]]), torch.tensor([[1, 0, 2]]))
    assert out.flatten()[:6].tolist() == [3, 4, 5, 0, 1, 2]
    assert out.flatten()[6:].isnan().all()


def test_frame_drop_by_hand():
    x = torch.arange(6.0).view(1, 1, 6)
    drop = torch.tensor([[False, True, False, True, False, False]])
    out = FT.frame_drop(x, drop, fill="nan")
    assert out.flatten()[:4].tolist() == [0.0, 2.0, 4.0, 5.0]
    assert out.flatten()[4:].isnan().all()
    resampled = FT.frame_drop(x, drop)  # kept frames 0, 2, 4, 5 stretched onto 6 timestamps
    ref = np.interp(np.linspace(0.0, 3.0, 6), np.arange(4), [0.0, 2.0, 4.0, 5.0])
    np.testing.assert_allclose(resampled.flatten().numpy(), ref, rtol=0, atol=1e-6)
    everything = FT.frame_drop(x, torch.ones(1, 6, dtype=torch.bool), fill="nan")  # the ends are kept
    assert everything.flatten()[:2].tolist() == [0.0, 5.0]


def test_speed_change_by_hand():
    x = torch.arange(9.0, dtype=torch.float64).view(1, 1, 9)
    one = torch.ones(1, dtype=torch.float64)
    torch.testing.assert_close(FT.speed_change(x, one, torch.zeros(1)), x)
    fast = FT.speed_change(x, 2 * one, torch.zeros(1)).flatten()
    assert fast[:5].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert fast[5:].isnan().all()
    assert FT.speed_change(x, 2 * one, torch.zeros(1), fill="edge").flatten()[5:].tolist() == [8.0] * 4
    slow = FT.speed_change(x, 0.5 * one, torch.ones(1)).flatten()  # skips (8 - 4) = 4 at the start
    torch.testing.assert_close(slow, 4.0 + 0.5 * torch.arange(9.0, dtype=torch.float64))


# --------------------------------------------------------------------------------------------------
# Graph kernels
# --------------------------------------------------------------------------------------------------
def graph_batch() -> Batch:
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for n in (5, 0, 4):
        ei = torch.randint(0, max(n, 1), (2, 2 * n), generator=gen)
        graphs.append(
            Data(
                x=torch.randn(n, 3, generator=gen),
                edge_index=ei,
                edge_attr=torch.randn(2 * n, 2, generator=gen),
            )
        )
    return Batch.from_data_list(graphs)


def test_keep_nodes_matches_pyg_subgraph():
    batch = graph_batch()
    keep = torch.tensor([True, False, True, True, False, False, True, True, True])
    out = FG.keep_nodes(batch, keep)
    edge_index, edge_attr = subgraph(keep, batch.edge_index, batch.edge_attr, relabel_nodes=True)
    assert torch.equal(out.edge_index, edge_index)
    assert torch.equal(out.edge_attr, edge_attr)
    assert torch.equal(out.x, batch.x[keep])
    assert [d.num_nodes for d in out.to_data_list()] == [3, 0, 3]


def test_update_edges_removes_and_appends_with_fill():
    data = Data(
        x=torch.zeros(3, 1),
        edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]),
        edge_attr=torch.tensor([[1.0], [2.0], [3.0]]),
    )
    batch = Batch.from_data_list([data])
    out = FG.update_edges(batch, torch.tensor([False, True, False]), torch.tensor([[1], [0]]), fill_value=9.0)
    assert out.edge_index.tolist() == [[0, 2, 1], [1, 0, 0]]
    assert out.edge_attr.flatten().tolist() == [1.0, 3.0, 9.0]
    assert torch.equal(FG.update_edges(batch).edge_index, batch.edge_index)


def test_mask_features_and_noise_by_hand():
    batch = graph_batch()
    mask = torch.zeros(9, 3, dtype=torch.bool)
    mask[0, 1] = mask[7, 2] = True
    out = FG.mask_features(batch, mask, -1.0)
    assert out.x[0, 1] == -1.0 and out.x[7, 2] == -1.0
    assert torch.equal(out.x[~mask], batch.x[~mask])
    drawn = FG.mask_features(batch, mask, torch.tensor([5.0, 6.0]))
    assert drawn.x[0, 1] == 5.0 and drawn.x[7, 2] == 6.0
    noise = torch.full((9, 3), 0.5)
    assert torch.equal(FG.add_feature_noise(batch, noise).x, batch.x + 0.5)
    assert torch.equal(FG.add_feature_noise(batch, noise).edge_index, batch.edge_index)


# --------------------------------------------------------------------------------------------------
# Views = kernels applied to the views' parameters
# --------------------------------------------------------------------------------------------------
def test_image_views_are_their_kernels():
    x = images(6, 3, 16, 16)
    cases = [
        (I.RandomResizedCrop(8), lambda p: FI.resized_crop(x, p["boxes"], (8, 8))),
        (
            I.RandomAffine(30, translate=(0.1, 0.1), fill=0.3),
            lambda p: FI.affine(x, p["angle"], p["translate"], p["scale"], p["shear"], 0.3),
        ),
        (I.HorizontalFlip(), lambda p: FI.horizontal_flip(x, p["flip"])),
        (
            I.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
            lambda p: FI.color_jitter(x, p["factors"], p["order"], p["applied"]),
        ),
        (I.Grayscale(0.5), lambda p: FI.grayscale(x, p["applied"])),
        (I.GaussianBlur(3, p=0.5), lambda p: FI.gaussian_blur(x, p["sigma"], (3, 3), p["applied"])),
        (I.Solarize(0.4, p=0.5), lambda p: FI.solarize(x, 0.4, p["applied"])),
        (I.GaussianNoise(0.1), lambda p: FI.gaussian_noise(x, p["std"], p["noise"])),
    ]
    for view, kernel in cases:
        out, params = view(x, generator=3, return_params=True)
        assert torch.equal(out, kernel(params)), type(view).__name__


def test_series_views_are_their_kernels():
    x = series(4, 2, 32).float()
    x[1, :, 28:] = float("nan")
    cases = [
        (T.TimeWarp(), lambda p: FT.time_warp(x, p["speed"])),
        (T.MagnitudeWarp(), lambda p: FT.magnitude_warp(x, p["knots"])),
        (T.WindowSlice(0.8), lambda p: FT.window_slice(x, p["start"], 0.8)),
        (T.WindowWarp(), lambda p: FT.window_warp(x, p["start"], p["scale"], 0.1)),
        (T.SegmentPermutation(), lambda p: FT.permute_segments(x, p["bounds"], p["order"])),
        (T.FrameDrop(0.3), lambda p: FT.frame_drop(x, p["drop"])),
        (T.SpeedChange(), lambda p: FT.speed_change(x, p["factor"], p["offset"])),
        (T.TimestampMask(0.3), lambda p: FT.timestamp_mask(x, p["mask"], 0.0)),
        (T.ChannelDropout(0.5), lambda p: FT.channel_dropout(x, p["drop"])),
    ]
    for view, kernel in cases:
        out, params = view(x, generator=3, return_params=True)
        assert torch.equal(out.nan_to_num(99.0), kernel(params).nan_to_num(99.0)), type(view).__name__


def test_graph_views_are_their_kernels():
    batch = graph_batch()
    cases = [
        (G.DropNodes(0.3), lambda p: FG.keep_nodes(batch, p["node_keep"])),
        (G.PerturbEdges(0.3), lambda p: FG.update_edges(batch, p["edge_removed"], p["added_edges"])),
        (G.FeatureNoise(0.2), lambda p: FG.add_feature_noise(batch, p["noise"])),
    ]
    for view, kernel in cases:
        out, params = view(batch, generator=3, return_params=True)
        ref = kernel(params)
        assert torch.equal(out.x, ref.x), type(view).__name__
        assert torch.equal(out.edge_index, ref.edge_index), type(view).__name__
