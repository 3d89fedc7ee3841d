"""Tests of the image views: invariants, torchvision references, seeding/replay, validation, properties."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import v2

from pairs.views import image as I
from pairs.views.base import Compose, RandomApply
from pairs.views.functional import image as FI

BILINEAR = TF.InterpolationMode.BILINEAR


def rand_images(b: int = 6, c: int = 3, h: int = 13, w: int = 17, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g, dtype=dtype)


# --------------------------------------------------------------------------------------------------
# RandomResizedCrop
# --------------------------------------------------------------------------------------------------
def test_rrc_shapes_and_boxes_inside_image():
    x = rand_images(64, 3, 20, 30)
    view = I.RandomResizedCrop((9, 11))
    out, params = view(x, generator=0, return_params=True)
    assert out.shape == (64, 3, 9, 11)
    top, left, h, w = params["boxes"].unbind(1)
    assert params["boxes"].dtype == torch.int64
    assert (top >= 0).all() and (left >= 0).all() and (h >= 1).all() and (w >= 1).all()
    assert (top + h <= 20).all() and (left + w <= 30).all()
    area = (h * w).double() / (20 * 30)
    ratio = w.double() / h.double()
    # boxes that came from a valid candidate honour the ranges up to integer rounding
    assert (area <= 1.0).all() and (area > 0.08 * 0.6).all()
    assert (ratio > 0.75 * 0.8).all() and (ratio < 4 / 3 * 1.25).all()
    assert out.min() >= 0 and out.max() <= 1


def test_rrc_matches_torchvision_resized_crop_per_example():
    x = rand_images(8, 3, 13, 17)
    for size in [(9, 11), (20, 25), 13]:
        view = I.RandomResizedCrop(size)
        out, params = view(x, generator=1, return_params=True)
        hw = [size, size] if isinstance(size, int) else list(size)
        for i in range(len(x)):
            t, l, h, w = params["boxes"][i].tolist()
            ref = TF.resized_crop(x[i], t, l, h, w, hw, interpolation=BILINEAR, antialias=False)
            torch.testing.assert_close(out[i], ref, atol=2e-6, rtol=0)


def test_rrc_full_scale_square_ratio_is_identity():
    x = rand_images(5, 3, 16, 16)
    view = I.RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    out, params = view(x, generator=3, return_params=True)
    assert (params["boxes"] == torch.tensor([0, 0, 16, 16])).all()
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)
    # nearest interpolation is exact
    near = I.RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0), interpolation="nearest")
    assert torch.equal(near(x, generator=3), x)


def test_rrc_nearest_picks_pixel_centres():
    x = rand_images(2, 1, 8, 8)
    params = {"boxes": torch.tensor([[0, 0, 8, 8], [2, 4, 4, 4]])}
    out = I.RandomResizedCrop(4, interpolation="nearest").replay(x, params)
    torch.testing.assert_close(out[0], x[0][:, 1::2, 1::2])  # 2x downscale -> centres 1, 3, 5, 7
    torch.testing.assert_close(out[1], x[1][:, 2:6, 4:8])  # same size crop -> the pixels themselves


def test_rrc_fallback_central_crop_like_torchvision():
    # tiny scale: every candidate rounds to an empty box -> central crop
    x = rand_images(4, 3, 10, 40)
    out, params = I.RandomResizedCrop(8, scale=(1e-6, 1e-6))(x, 0, return_params=True)
    tv = v2.RandomResizedCrop(8, scale=(1e-6, 1e-6)).make_params([x[0]])
    expected = torch.tensor([tv["top"], tv["left"], tv["height"], tv["width"]])
    assert (params["boxes"] == expected).all()
    assert out.shape == (4, 3, 8, 8)


def test_rrc_box_distribution_matches_torchvision():
    h, w, n = 24, 32, 3000
    x = torch.zeros(n, 1, h, w)
    ours = I.RandomResizedCrop(8).sample(x, torch.Generator().manual_seed(0))["boxes"].double()
    tv = v2.RandomResizedCrop(8)
    torch.manual_seed(0)
    ref = torch.tensor(
        [[p["top"], p["left"], p["height"], p["width"]] for p in (tv.make_params([x[0]]) for _ in range(n))]
    ).double()
    for k in range(4):
        assert abs(ours[:, k].mean() - ref[:, k].mean()) < 0.6, k
        assert abs(ours[:, k].std() - ref[:, k].std()) < 0.6, k


# --------------------------------------------------------------------------------------------------
# RandomAffine
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fill", [0.0, (0.2, 0.5, 0.9)])
def test_affine_matches_torchvision_per_example(fill):
    x = rand_images(6, 3, 13, 17)
    view = I.RandomAffine(40, translate=(0.2, 0.1), scale=(0.7, 1.3), shear=(-20, 20, -10, 10), fill=fill)
    out, p = view(x, generator=0, return_params=True)
    tv_fill = list(fill) if isinstance(fill, tuple) else fill
    mask = I.RandomAffine(fill=0.0).replay(torch.ones(6, 1, 13, 17), p)  # share from inside the image
    for i in range(len(x)):
        ref = TF.affine(
            x[i],
            angle=p["angle"][i].item(),
            translate=p["translate"][i].tolist(),
            scale=p["scale"][i].item(),
            shear=p["shear"][i].tolist(),
            interpolation=BILINEAR,
            fill=tv_fill,
        )
        inside = mask[i].expand_as(ref) > 1 - 1e-6  # pixels fully from inside the image
        assert inside.float().mean() > 0.3
        torch.testing.assert_close(out[i][inside], ref[inside], atol=1e-5, rtol=0)
        outside = mask[i].expand_as(ref) < 1e-6
        fill_img = torch.tensor(fill).view(-1, 1, 1).expand_as(ref) if isinstance(fill, tuple) else 0 * ref
        torch.testing.assert_close(out[i][outside], fill_img[outside], atol=1e-6, rtol=0)


def test_affine_constant_image_with_same_fill_stays_constant():
    x = torch.full((4, 3, 9, 12), 0.3)
    out = I.RandomAffine(45, (0.3, 0.3), (0.5, 1.5), 20, fill=0.3)(x, generator=0)
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


def test_affine_identity_and_translation():
    x = rand_images(3, 1, 9, 9)
    assert torch.allclose(I.RandomAffine()(x, 0), x, atol=1e-6)
    params = {
        "angle": torch.zeros(3, dtype=torch.float64),
        "translate": torch.tensor([[2.0, 0.0], [0.0, -3.0], [0.0, 0.0]], dtype=torch.float64),
        "scale": torch.ones(3, dtype=torch.float64),
        "shear": torch.zeros(3, 2, dtype=torch.float64),
    }
    out = I.RandomAffine(fill=0.0).replay(x, params)
    torch.testing.assert_close(out[0][..., 2:], x[0][..., :-2], atol=1e-6, rtol=0)  # shifted right by 2
    assert (out[0][..., :2] == 0).all()
    torch.testing.assert_close(out[1][..., :-3, :], x[1][..., 3:, :], atol=1e-6, rtol=0)  # up by 3
    torch.testing.assert_close(out[2], x[2], atol=1e-6, rtol=0)


def test_affine_translation_is_rounded_and_bounded():
    x = torch.zeros(500, 1, 10, 20)
    p = I.RandomAffine(translate=(0.1, 0.3)).sample(x, torch.Generator().manual_seed(0))
    t = p["translate"]
    assert torch.equal(t, t.round())
    assert t[:, 0].abs().max() <= 2 and t[:, 1].abs().max() <= 3
    assert len(t.unique(dim=0)) > 10


# --------------------------------------------------------------------------------------------------
# Flip, grayscale, solarize, noise, normalise
# --------------------------------------------------------------------------------------------------
def test_flip_really_flips_when_params_say_so():
    x = rand_images(40, 3, 5, 7)
    out, p = I.HorizontalFlip(0.5)(x, generator=0, return_params=True)
    flip = p["flip"]
    assert flip.dtype == torch.bool and 0 < int(flip.sum()) < 40
    assert torch.equal(out[flip], x[flip].flip(-1))
    assert torch.equal(out[~flip], x[~flip])
    assert torch.equal(I.HorizontalFlip(1.0)(x, 0), x.flip(-1))
    assert torch.equal(I.HorizontalFlip(0.0)(x, 0), x)


def test_flip_rate():
    p = I.HorizontalFlip(0.3).sample(torch.zeros(4000, 1, 1, 1), torch.Generator().manual_seed(1))["flip"]
    assert abs(p.float().mean().item() - 0.3) < 0.03


def test_grayscale_matches_torchvision_and_keeps_channels():
    x = rand_images(10, 3, 6, 6)
    out, p = I.Grayscale(0.5)(x, generator=2, return_params=True)
    applied = p["applied"]
    assert 0 < int(applied.sum()) < 10
    ref = TF.rgb_to_grayscale(x[applied], num_output_channels=3)
    torch.testing.assert_close(out[applied], ref, atol=1e-6, rtol=0)
    assert torch.equal(out[~applied], x[~applied])
    x1 = rand_images(4, 1, 6, 6)
    assert torch.equal(I.Grayscale(1.0)(x1, 0), x1)


def test_solarize_matches_torchvision():
    x = rand_images(4, 3, 8, 8)
    out = I.Solarize(0.3, p=1.0)(x, 0)
    assert torch.equal(out, TF.solarize(x, 0.3))
    assert torch.equal(I.Solarize(0.3, p=0.0)(x, 0), x)


def test_gaussian_noise():
    x = rand_images(6, 3, 8, 8)
    assert torch.equal(I.GaussianNoise(0.0)(x, 0), x)
    out, p = I.GaussianNoise((0.0, 0.3))(x, generator=0, return_params=True)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(I.GaussianNoise((0.0, 0.3)).replay(x, p), out)
    assert len(p["std"].unique()) == 6
    raw = I.GaussianNoise(0.5, clip=False)(torch.full((2, 1, 64, 64), 0.5), 0)
    assert raw.min() < 0 and raw.max() > 1
    assert abs(raw.std().item() - 0.5) < 0.03


def test_normalize_matches_torchvision():
    x = rand_images(3, 3, 5, 5)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    torch.testing.assert_close(I.Normalize(mean, std)(x), TF.normalize(x, list(mean), list(std)))
    with pytest.raises(ValueError, match="3 channels"):
        I.Normalize((0.1, 0.2), (1.0, 1.0))(x)


# --------------------------------------------------------------------------------------------------
# ColorJitter
# --------------------------------------------------------------------------------------------------
TV_OPS = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("c", [1, 3])
def test_single_jitter_op_matches_torchvision(k, c):
    x = rand_images(8, c, 7, 9, seed=k)
    factors = torch.linspace(0.0, 2.5, 8) if k < 3 else torch.linspace(-0.5, 0.5, 8)
    ours = FI._JITTER_OPS[k](x.clone(), factors)
    for i in range(8):
        ref = TV_OPS[k](x[i], factors[i].item())
        torch.testing.assert_close(ours[i], ref, atol=2e-6, rtol=0)


@pytest.mark.parametrize("c", [1, 3])
def test_color_jitter_matches_torchvision_with_per_example_order(c):
    x = rand_images(24, c, 7, 9)
    view = I.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.75)
    out, p = view(x, generator=5, return_params=True)
    orders = {tuple(o) for o in p["order"].tolist()}
    assert len(orders) > 5  # examples get their own order
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
    assert len(p["factors"][:, 0].unique()) == 24  # and their own factors
    for i in range(len(x)):
        ref = x[i]
        if p["applied"][i]:
            for k in p["order"][i].tolist():
                ref = TV_OPS[k](ref, p["factors"][i, k].item())
        torch.testing.assert_close(out[i], ref, atol=5e-6, rtol=0)
    assert not p["applied"].all() and p["applied"].any()


def test_color_jitter_disabled_ops_and_factor_ranges():
    x = rand_images(300, 3, 4, 4)
    view = I.ColorJitter(brightness=(0.5, 0.6), hue=0.1)
    assert view.contrast is None and view.saturation is None
    p = view.sample(x, torch.Generator().manual_seed(0))
    f = p["factors"]
    assert (f[:, 0] >= 0.5).all() and (f[:, 0] <= 0.6).all()
    assert (f[:, 1] == 1).all() and (f[:, 2] == 1).all()
    assert (f[:, 3].abs() <= 0.1).all()
    assert torch.equal(I.ColorJitter()(x, 0), x)  # nothing enabled -> identity


# --------------------------------------------------------------------------------------------------
# GaussianBlur
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel_size", [3, 5, (5, 3), (1, 7)])
def test_blur_matches_torchvision_per_example(kernel_size):
    x = rand_images(6, 3, 11, 14)
    view = I.GaussianBlur(kernel_size, sigma=(0.1, 3.0), p=0.7)
    out, p = view(x, generator=0, return_params=True)
    for i in range(len(x)):
        if p["applied"][i]:
            ks = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
            s = p["sigma"][i].item()
            ref = TF.gaussian_blur(x[i], ks, [s, s])
        else:
            ref = x[i]
        torch.testing.assert_close(out[i], ref, atol=2e-6, rtol=0)


def test_reflect_index_matches_pad_and_extends():
    for n in range(2, 7):
        for pad in range(0, n):
            row = torch.arange(float(n)).view(1, 1, 1, n)
            ref = torch.nn.functional.pad(row, (pad, pad, 0, 0), mode="reflect").flatten().long()
            assert torch.equal(FI._reflect_index(n, pad, torch.device("cpu")), ref)
    big = FI._reflect_index(3, 7, torch.device("cpu"))
    assert big.min() >= 0 and big.max() <= 2 and len(big) == 17
    assert torch.equal(FI._reflect_index(1, 4, torch.device("cpu")), torch.zeros(9, dtype=torch.long))


@pytest.mark.parametrize("kernel_size", [(9, 7), (11, 9), (3, 3)])
def test_blur_padding_reflects_at_and_past_the_image_size(kernel_size):
    # (9, 7) on 5x4 images pads 4 and 3 (F.pad's reflection, its largest pads); (11, 9) pads 5 and 4
    # (past it: reflected back and forth); both against a slow per-pixel sum
    x = rand_images(3, 2, 4, 5)
    sigma = torch.tensor([0.5, 1.0, 2.5])
    out = FI._blur(x, sigma, kernel_size)
    kx, ky = kernel_size
    ix = FI._reflect_index(5, kx // 2, x.device)
    iy = FI._reflect_index(4, ky // 2, x.device)
    for b in range(3):
        wx, wy = FI._gaussian_kernels(kx, sigma[b : b + 1])[0], FI._gaussian_kernels(ky, sigma[b : b + 1])[0]
        ref = torch.zeros(2, 4, 5)
        for i in range(4):
            for j in range(5):
                for u in range(ky):
                    for v in range(kx):
                        ref[:, i, j] += wy[u] * wx[v] * x[b, :, iy[i + u], ix[j + v]]
        torch.testing.assert_close(out[b], ref.clamp(0, 1), atol=1e-6, rtol=0)


def test_blur_kernel_larger_than_image_keeps_constants_and_mean_range():
    x = torch.full((2, 3, 2, 3), 0.37)
    out = I.GaussianBlur(21, sigma=5.0)(x, 0)
    torch.testing.assert_close(out, x)
    y = rand_images(3, 1, 1, 1)
    torch.testing.assert_close(I.GaussianBlur(9, sigma=2.0)(y, 0), y)


# --------------------------------------------------------------------------------------------------
# Seeding, replay, single vs batch, dtypes
# --------------------------------------------------------------------------------------------------
def all_views():
    return [
        I.RandomResizedCrop(10),
        I.RandomAffine(30, (0.1, 0.1), (0.8, 1.2), 10, fill=0.5),
        I.HorizontalFlip(),
        I.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        I.Grayscale(0.5),
        I.GaussianBlur(3, p=0.5),
        I.Solarize(0.5, p=0.5),
        I.GaussianNoise(),
        I.simclr_view(12),
        I.mocov2_view(12),
        *I.byol_views(12),
    ]


@pytest.mark.parametrize("view", all_views(), ids=lambda v: type(v).__name__)
def test_same_seed_same_output_and_replay(view):
    x = rand_images(16, 3, 14, 12)
    a, pa = view(x, generator=7, return_params=True)
    b = view(x, generator=7)
    c = view(x, generator=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(view.replay(x, pa), a)
    g = torch.Generator().manual_seed(7)
    assert torch.equal(view(x, g), a)
    # examples get different draws: no two outputs of identical inputs are the same
    same = x[:1].expand(16, -1, -1, -1).contiguous()
    out = view(same, generator=9)
    assert len({tuple(o.flatten().tolist()) for o in out}) > 1


@pytest.mark.parametrize("view", all_views(), ids=lambda v: type(v).__name__)
def test_single_sample_and_dtypes(view):
    x = rand_images(1, 3, 14, 12)[0]
    single = view(x, generator=3)
    batch = view(x[None], generator=3)
    assert single.dim() == 3 and torch.equal(single, batch[0])
    for dtype in (torch.float64, torch.float16):
        out = view(x[None].expand(3, -1, -1, -1).to(dtype), generator=3)
        assert out.dtype == dtype and not torch.isnan(out).any()
        assert out.min() >= 0 and out.max() <= 1


def test_float64_matches_float32():
    x = rand_images(8, 3, 16, 16)
    view = I.simclr_view(12)
    a = view(x, generator=0)
    b = view(x.double(), generator=0)
    torch.testing.assert_close(a.double(), b, atol=1e-4, rtol=0)


def test_params_follow_the_generator_device_and_move_to_input():
    x = rand_images(4, 3, 8, 8)
    view = I.simclr_view(8)
    out, p = view(x, generator=torch.Generator(device="cpu").manual_seed(0), return_params=True)
    assert out.device == x.device
    assert p["views"][0]["boxes"].device.type == "cpu"


def test_inside_random_apply():
    x = rand_images(20, 3, 8, 8)
    view = RandomApply(I.ColorJitter(0.5, 0.5, 0.5, 0.1), p=0.5)
    out, p = view(x, generator=0, return_params=True)
    assert torch.equal(out[~p["applied"]], x[~p["applied"]])
    assert torch.equal(view.replay(x, p), out)


# --------------------------------------------------------------------------------------------------
# Recipes and multi-crop
# --------------------------------------------------------------------------------------------------
def test_recipes_structure():
    v = I.simclr_view(224)
    names = [type(x).__name__ for x in v.views]
    assert names == ["RandomResizedCrop", "HorizontalFlip", "ColorJitter", "Grayscale", "GaussianBlur"]
    jitter = v.views[2]
    assert jitter.p == 0.8 and jitter.hue == (-0.2, 0.2) and jitter.brightness == pytest.approx((0.2, 1.8))
    assert v.views[3].p == 0.2 and v.views[4].p == 0.5 and v.views[4].kernel_size == (23, 23)
    assert [type(x).__name__ for x in I.simclr_view(32, blur=False).views][-1] == "Grayscale"
    m = I.mocov2_view(224)
    assert m.views[0].scale == (0.2, 1.0) and m.views[1].contrast == pytest.approx((0.6, 1.4))
    v1, v2_ = I.byol_views(224)
    assert v1.views[4].p == 1.0 and v2_.views[4].p == 0.1
    assert isinstance(v2_.views[5], I.Solarize) and v2_.views[5].p == 0.2
    assert not any(isinstance(x, I.Solarize) for x in v1.views)
    assert v1.views[2].saturation == pytest.approx((0.8, 1.2))


def test_get_recipe():
    assert isinstance(I.get_recipe("simclr", 16, s=0.5), Compose)
    assert isinstance(I.get_recipe("byol", 16), tuple)
    with pytest.raises(ValueError, match=r"known recipes: \['byol', 'mocov2', 'simclr'\]"):
        I.get_recipe("swav", 16)


def test_multicrop():
    x = rand_images(4, 3, 32, 32)
    mc = I.multicrop_views(24, 8, n_local=3)
    assert len(mc) == 5
    outs, params = mc(x, generator=0, return_params=True)
    assert [tuple(o.shape) for o in outs] == [(4, 3, 24, 24)] * 2 + [(4, 3, 8, 8)] * 3
    assert not torch.equal(outs[0], outs[1]) and not torch.equal(outs[2], outs[3])
    for a, b in zip(mc(x, generator=0), outs, strict=True):
        assert torch.equal(a, b)
    for a, b in zip(mc.replay(x, params), outs, strict=True):
        assert torch.equal(a, b)
    local_scale = mc.local_view.views[0].scale
    assert local_scale == (0.05, 0.4)
    byol = I.multicrop_views(16, 8, n_local=2, base="byol")
    assert [tuple(o.shape) for o in byol(x, 1)] == [(4, 3, 16, 16)] * 2 + [(4, 3, 8, 8)] * 2
    with pytest.raises(ValueError, match="n_global"):
        I.MultiCrop(I.simclr_view(8), I.simclr_view(4), n_global=0)
    with pytest.raises(TypeError, match="View"):
        I.MultiCrop(I.simclr_view(8), "crop")
    assert "MultiCrop(" in repr(mc)


# --------------------------------------------------------------------------------------------------
# torchvision v2 path
# --------------------------------------------------------------------------------------------------
def test_torchvision_view_seeded_replayable_per_example():
    x = rand_images(6, 3, 16, 16)
    view = I.TorchvisionView(v2.Compose([v2.RandomResizedCrop(8, antialias=True), v2.ColorJitter(0.5, 0.5)]))
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a, p = view(x, generator=0, return_params=True)
    assert torch.equal(torch.rand(3), before)  # global RNG untouched
    assert a.shape == (6, 3, 8, 8)
    assert torch.equal(view(x, generator=0), a)
    assert torch.equal(view.replay(x, p), a)
    assert not torch.equal(view(x, generator=1), a)
    same = x[:1].expand(6, -1, -1, -1)
    out = view(same, generator=0)
    assert not torch.equal(out[0], out[1])
    assert p["seeds"].dtype == torch.int64 and (p["seeds"] >= 0).all()


def test_torchvision_view_pil_and_lists():
    g = torch.Generator().manual_seed(0)
    arrays = [(torch.rand(20 + i, 24, 3, generator=g) * 255).to(torch.uint8).numpy() for i in range(3)]
    pils = [Image.fromarray(a) for a in arrays]
    for name in ("simclr", "mocov2"):
        view = I.torchvision_recipe(name, 12)
        outs = view(pils, generator=0)
        assert isinstance(outs, list) and len(outs) == 3
        assert all(o.shape == (3, 12, 12) and o.dtype == torch.float32 for o in outs)
        assert all(o.min() >= 0 and o.max() <= 1 for o in outs)
        one = view(pils[0], generator=0)
        assert torch.equal(one, outs[0])
    v1, v2_ = I.torchvision_recipe("byol", 12)
    assert v1(pils, 0)[0].shape == (3, 12, 12) and v2_(pils, 0)[0].shape == (3, 12, 12)
    with pytest.raises(ValueError, match="known recipes"):
        I.torchvision_recipe("dino", 12)
    with pytest.raises(TypeError, match="PIL image"):
        I.torchvision_recipe("simclr", 12)("not an image", 0)
    unstackable = I.TorchvisionView(v2.RandomChoice([v2.Resize(4), v2.Resize(6)]))
    with pytest.raises(ValueError, match="cannot be stacked"):
        unstackable(rand_images(8, 3, 8, 8), 0)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: I.RandomResizedCrop(0),
        lambda: I.RandomResizedCrop((4, 4, 4)),
        lambda: I.RandomResizedCrop(8, scale=(0.0, 1.0)),
        lambda: I.RandomResizedCrop(8, scale=(0.9, 0.1)),
        lambda: I.RandomResizedCrop(8, ratio=(-1, 1)),
        lambda: I.RandomResizedCrop(8, interpolation="lanczos"),
        lambda: I.RandomAffine(-5),
        lambda: I.RandomAffine(translate=(0.1, 1.5)),
        lambda: I.RandomAffine(scale=(0.0, 1.0)),
        lambda: I.RandomAffine(shear=(-90, 10)),
        lambda: I.RandomAffine(shear=(1, 2, 3)),
        lambda: I.RandomAffine(fill="red"),
        lambda: I.HorizontalFlip(1.5),
        lambda: I.Grayscale(-0.1),
        lambda: I.ColorJitter(brightness=-0.1),
        lambda: I.ColorJitter(contrast=(1.5, 0.5)),
        lambda: I.ColorJitter(hue=0.6),
        lambda: I.ColorJitter(hue=(-0.7, 0.1)),
        lambda: I.ColorJitter(p=2),
        lambda: I.GaussianBlur(4),
        lambda: I.GaussianBlur(0),
        lambda: I.GaussianBlur(3, sigma=0.0),
        lambda: I.GaussianBlur(3, sigma=(2.0, 1.0)),
        lambda: I.Solarize(1.5),
        lambda: I.GaussianNoise(-0.1),
        lambda: I.Normalize((0.5,), (0.0,)),
        lambda: I.Normalize((), (1.0,)),
        lambda: I.simclr_view(8, s=-1),
    ],
)
def test_constructor_validation(make):
    with pytest.raises(ValueError):
        make()


def test_input_validation():
    view = I.simclr_view(8)
    with pytest.raises(TypeError, match=r"convert first.*float"):
        view((torch.rand(2, 3, 8, 8) * 255).to(torch.uint8), 0)
    bad = torch.rand(2, 3, 8, 8)
    bad[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        view(bad, 0)
    with pytest.raises(ValueError, match="rank"):
        view(torch.rand(8, 8), 0)
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3 \\(RGB\\) channels"):
        I.ColorJitter(0.4)(torch.rand(2, 4, 8, 8), 0)
    # geometric views do not care about the channel count
    assert I.RandomResizedCrop(4)(torch.rand(2, 5, 8, 8), 0).shape == (2, 5, 4, 4)
    with pytest.raises(TypeError, match="TorchvisionView"):
        I.HorizontalFlip()([torch.rand(3, 4, 4)], 0)
    x = rand_images(4, 3, 8, 8)
    _, p = I.HorizontalFlip()(x, 0, return_params=True)
    with pytest.raises(ValueError, match="same size"):
        I.HorizontalFlip().replay(x[:2], p)


def test_repr_shows_arguments():
    r = repr(I.GaussianBlur(5, (0.5, 1.0), p=0.3))
    assert r == "GaussianBlur(kernel_size=(5, 5), sigma=(0.5, 1.0), p=0.3)"
    assert "ColorJitter(brightness=" in repr(I.simclr_view(8))
    assert repr(I.TorchvisionView(v2.RandomHorizontalFlip())).startswith("TorchvisionView(")


# --------------------------------------------------------------------------------------------------
# Properties on odd inputs
# --------------------------------------------------------------------------------------------------
@st.composite
def odd_case(draw):
    b = draw(st.integers(1, 5))
    c = draw(st.sampled_from([1, 3]))
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    kind = draw(st.sampled_from(["zeros", "ones", "rand", "binary"]))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    x = {
        "zeros": torch.zeros(b, c, h, w),
        "ones": torch.ones(b, c, h, w),
        "rand": torch.rand(b, c, h, w, generator=g),
        "binary": (torch.rand(b, c, h, w, generator=g) > 0.5).float(),
    }[kind]
    lo = draw(st.floats(1e-4, 1.0))
    hi = draw(st.floats(lo, 1.0))
    r_lo = draw(st.floats(0.05, 20.0))
    r_hi = draw(st.floats(r_lo, 20.0))
    out = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    k = draw(st.sampled_from([1, 3, 9, 21, 41]))
    sigma = draw(st.floats(1e-3, 50.0))
    big = draw(st.floats(0.0, 20.0))
    hue = draw(st.floats(0.0, 0.5))
    view = Compose(
        [
            I.RandomResizedCrop(out, scale=(lo, hi), ratio=(r_lo, r_hi)),
            I.RandomAffine(180, (1.0, 1.0), (1e-3, 10.0), (-89, 89, -89, 89), fill=0.5),
            I.HorizontalFlip(0.5),
            I.ColorJitter(big, big, big, hue, p=0.9),
            I.Grayscale(0.5),
            I.GaussianBlur(k, sigma=(sigma, sigma), p=0.5),
            I.Solarize(draw(st.floats(0.0, 1.0)), p=0.5),
            I.GaussianNoise((0.0, big)),
        ]
    )
    return x, view, out, seed


@settings(max_examples=60, deadline=None)
@given(odd_case())
def test_property_no_nan_shape_and_range(case):
    x, view, out_hw, seed = case
    out, params = view(x, generator=seed, return_params=True)
    assert out.shape == (x.shape[0], x.shape[1], *out_hw)
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(view.replay(x, params), out)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5),
    st.sampled_from([1, 3]),
    st.integers(1, 40),
    st.integers(1, 40),
    st.sampled_from(["simclr", "mocov2", "byol"]),
    st.integers(0, 10_000),
)
def test_property_recipes(b, c, h, w, name, seed):
    x = torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))
    size = (max(1, h // 2), w)
    recipe = I.get_recipe(name, size)
    for view in recipe if isinstance(recipe, tuple) else (recipe,):
        out = view(x, generator=seed)
        assert out.shape == (b, c, *size)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        assert not math.isnan(float(out.mean()))
