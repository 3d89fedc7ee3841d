"""Image kernels: the pure functions behind the batched image views of :mod:`pairs.views.image`.

Each kernel takes a float image batch ``(B, C, H, W)`` and explicit per-example parameters (the ones a
view's ``sample`` draws and ``return_params=True`` returns) and draws nothing: the same inputs always
give the same output. The views validate their inputs and call these; call them directly to apply a
known transformation (torchvision's ``transforms.v2.functional`` style, batched). Half-precision images
are computed in float32 and returned in their dtype, as the views do.

Kernels: :func:`resized_crop`, :func:`affine`, :func:`horizontal_flip`, :func:`adjust_brightness`,
:func:`adjust_contrast`, :func:`adjust_saturation`, :func:`adjust_hue`, :func:`color_jitter`,
:func:`grayscale`, :func:`gaussian_blur`, :func:`solarize`, :func:`gaussian_noise`, :func:`normalize`.

Example:
    >>> import torch
    >>> from pairs.views.functional import image as F
    >>> x = torch.rand(2, 3, 8, 8)
    >>> out = F.horizontal_flip(x, torch.tensor([True, False]))
    >>> bool(torch.equal(out[0], x[0].flip(-1))), bool(torch.equal(out[1], x[1]))
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from pairs.views.base import work_dtype

__all__ = [
    "resized_crop",
    "affine",
    "horizontal_flip",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "color_jitter",
    "grayscale",
    "gaussian_blur",
    "solarize",
    "gaussian_noise",
    "normalize",
]


_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale (ITU-R 601-2 luma)


def _where_applied(x: Tensor, applied: Tensor, fn: Callable[[Tensor, Tensor | None], Tensor]) -> Tensor:
    """Apply ``fn(sub_batch, index)`` to the examples flagged in ``applied``; keep the others.

    ``index`` is ``None`` when every example is flagged (``fn`` then sees the whole batch).
    """
    applied = applied.to(x.device)
    if bool(applied.all()):
        return fn(x, None)
    index = applied.nonzero().flatten()
    if index.numel() == 0:
        return x
    out = x.clone()
    out[index] = fn(x.index_select(0, index), index).to(x.dtype)  # index_select: a faster gather
    return out


def _sel(t: Tensor, index: Tensor | None) -> Tensor:
    return t if index is None else t[index.to(t.device)]


def _source_coords(start: Tensor, length: Tensor, out: int, mode: str) -> Tensor:
    """Pixel coordinates in the input sampled by each of the ``out`` output pixels, for boxes per row.

    Bilinear/bicubic: ``start + (j + 0.5) * length / out - 0.5``, clamped inside the box (as torch's
    ``interpolate(align_corners=False)`` on the cropped image); nearest: the input pixel whose centre the
    output pixel centre falls into ("nearest-exact").
    """
    j = torch.arange(out, device=start.device, dtype=start.dtype)
    scale = (length / out)[:, None]
    if mode == "nearest":
        src = torch.floor((j + 0.5) * scale)
    else:
        src = (j + 0.5) * scale - 0.5
    src = torch.minimum(src.clamp(min=0.0), (length - 1.0)[:, None])
    return start[:, None] + src


def _affine_theta(
    angle: Tensor, translate: Tensor, scale: Tensor, shear: Tensor, height: int, width: int
) -> Tensor:
    """``affine_grid`` matrices ``(B, 2, 3)`` (output -> input, normalised coords) for torchvision's affine.

    torchvision's ``_get_inverse_affine_matrix`` with the centre at the image centre, vectorised, then
    conjugated by the pixel -> normalised scaling ``diag(2 / W, 2 / H)``.
    """
    f64 = torch.float64
    rot = torch.deg2rad(angle.to(f64))
    sx, sy = torch.deg2rad(shear.to(f64)).unbind(dim=1)
    tx, ty = translate.to(f64).unbind(dim=1)
    s = scale.to(f64)
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -(a * torch.tan(sx) + torch.sin(rot))
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = torch.cos(rot) - c * torch.tan(sx)
    m00, m01, m10, m11 = d / s, -b / s, -c / s, a / s  # inverse of the rotate-scale-shear part
    m02 = -(m00 * tx + m01 * ty)
    m12 = -(m10 * tx + m11 * ty)
    theta = torch.stack(
        [
            torch.stack([m00, m01 * height / width, m02 * 2.0 / width], dim=1),
            torch.stack([m10 * width / height, m11, m12 * 2.0 / height], dim=1),
        ],
        dim=1,
    )
    return theta


def _gray(x: Tensor) -> Tensor:
    """torchvision's ``rgb_to_grayscale`` for float ``(B, 3, H, W)`` -> ``(B, 1, H, W)``."""
    r, g, b = x.unbind(dim=1)
    return (
        r.mul(_GRAY_WEIGHTS[0]).add_(g, alpha=_GRAY_WEIGHTS[1]).add_(b, alpha=_GRAY_WEIGHTS[2]).unsqueeze(1)
    )


def _blend(x: Tensor, other: Tensor, ratio: Tensor) -> Tensor:
    """torchvision's ``_blend``: ``x * ratio + other * (1 - ratio)``, clamped to [0, 1]; ``ratio (B,)``."""
    r = ratio.view(-1, 1, 1, 1)
    return (x * r + other * (1.0 - r)).clamp_(0.0, 1.0)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """torchvision's ``adjust_brightness`` with one factor per image: ``clamp(x * factor, 0, 1)``.

    Args:
        x: ``(B, C, H, W)`` float images in [0, 1] (computed in their dtype).
        factor: ``(B,)`` factors (1 keeps the image).

    Returns:
        ``(B, C, H, W)``.
    """
    return (x * factor.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """torchvision's ``adjust_contrast`` with one factor per image: blend with the mean gray level.

    Args:
        x: ``(B, C, H, W)`` float images in [0, 1], ``C`` in {1, 3}.
        factor: ``(B,)`` factors (1 keeps the image, 0 gives the uniform mean gray).

    Returns:
        ``(B, C, H, W)``.
    """
    gray = _gray(x) if x.shape[1] == 3 else x
    mean = gray.mean(dim=(-3, -2, -1), keepdim=True)
    return _blend(x, mean, factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """torchvision's ``adjust_saturation`` with one factor per image: blend with the grayscale image.

    Args:
        x: ``(B, C, H, W)`` float images in [0, 1]; 1-channel images come back unchanged.
        factor: ``(B,)`` factors (1 keeps the image, 0 gives grayscale).

    Returns:
        ``(B, C, H, W)``.
    """
    if x.shape[1] == 1:
        return x
    return _blend(x, _gray(x), factor)


def _mod6(h: Tensor) -> Tensor:
    """``h mod 6`` in [0, 6) (floor form; cheaper than ``remainder`` on CPU)."""
    out = h.mul(1.0 / 6.0).floor_().mul_(-6.0).add_(h)
    return out.clamp_(0.0, 6.0)


def adjust_hue(x: Tensor, factor: Tensor) -> Tensor:
    """torchvision's ``adjust_hue`` (RGB -> HSV, shift H, HSV -> RGB), fused and per example.

    ``x`` is ``(B, C, H, W)`` float in [0, 1] (1-channel images come back unchanged), ``factor`` ``(B,)``
    hue shifts in [-0.5, 0.5] (fractions of a turn); returns ``(B, C, H, W)``.

    With ``M = max(r, g, b)``, ``m = min(r, g, b)`` and ``d = M - m``, torchvision's hue is
    ``H6 = (g - b) / d`` if ``M == r``, ``2 + (b - r) / d`` if ``M == g``, else ``4 + (r - g) / d`` (in
    sixths of a turn, 0 where ``d == 0``), and its HSV -> RGB table equals the closed form
    ``channel_n = M - d * clamp(min(k, 4 - k), 0, 1)`` with ``k = (n + H6) mod 6``, ``n = 5, 3, 1`` for
    R, G, B. Same values up to float rounding, without the intermediate HSV image.
    """
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(dim=1)
    maxc = torch.maximum(torch.maximum(r, g), b)  # faster than aminmax over the channel dim
    minc = torch.minimum(torch.minimum(r, g), b)
    delta = maxc - minc
    d = torch.where(delta == 0, torch.ones_like(delta), delta)
    h6 = torch.where(maxc == r, (g - b) / d, torch.where(maxc == g, (b - r) / d + 2.0, (r - g) / d + 4.0))
    h6 = _mod6(h6 + 6.0 * factor.view(-1, 1, 1))
    n = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    k = _mod6(h6.unsqueeze(1) + n)
    t = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return (maxc.unsqueeze(1) - delta.unsqueeze(1) * t).clamp_(0.0, 1.0)


_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def _reflect_index(n: int, pad: int, device: torch.device) -> Tensor:
    """Source indices of a length-``n`` axis padded by ``pad`` on both sides, mode "reflect".

    Equals ``F.pad(mode="reflect")`` whenever that is defined (``pad < n``) and keeps reflecting back and
    forth for larger pads (``n == 1`` repeats the single pixel).
    """
    i = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def _gaussian_kernels(kernel_size: int, sigma: Tensor) -> Tensor:
    """torchvision's 1-D Gaussian kernels, one per sigma: ``(N,) -> (N, kernel_size)``."""
    lim = (kernel_size - 1) / (2.0 * math.sqrt(2.0))
    x = torch.linspace(-lim, lim, steps=kernel_size, dtype=sigma.dtype, device=sigma.device)
    return torch.softmax((x[None, :] / sigma[:, None]).pow(2).neg(), dim=1)


def _blur(x: Tensor, sigma: Tensor, kernel_size: tuple[int, int]) -> Tensor:
    """Separable Gaussian blur with per-example ``sigma (B,)``, reflect padding, one grouped conv per axis."""
    b, c, h, w = x.shape
    kx, ky = kernel_size
    px, py = kx // 2, ky // 2
    if px < w and py < h:  # F.pad's reflection (one pass; the same values)
        xp = F.pad(x, (px, px, py, py), mode="reflect")
    else:
        xp = x.index_select(-1, _reflect_index(w, px, x.device))
        xp = xp.index_select(-2, _reflect_index(h, py, x.device))
    xp = xp.reshape(1, b * c, h + 2 * py, w + 2 * px)
    wx = _gaussian_kernels(kx, sigma).repeat_interleave(c, dim=0).view(b * c, 1, 1, kx)
    wy = _gaussian_kernels(ky, sigma).repeat_interleave(c, dim=0).view(b * c, 1, ky, 1)
    out = F.conv2d(xp, wx, groups=b * c)
    out = F.conv2d(out, wy, groups=b * c)
    return out.view(b, c, h, w).clamp_(0.0, 1.0)  # a convex combination: only rounding can leave [0, 1]


# --------------------------------------------------------------------------------------------------
# The kernels
# --------------------------------------------------------------------------------------------------
def resized_crop(x: Tensor, boxes: Tensor, size: tuple[int, int], interpolation: str = "bilinear") -> Tensor:
    """Crop one box per image and resize it to ``size`` (one ``grid_sample`` for the batch).

    The sampling grid is torchvision's ``resized_crop(..., antialias=False)`` (sample points clamped
    inside the box); ``"bicubic"`` results are clamped to [0, 1].

    Args:
        x: ``(B, C, H, W)`` float images.
        boxes: ``(B, 4)`` (top, left, height, width) in pixels.
        size: output ``(height, width)``.
        interpolation: ``"bilinear"``, ``"nearest"`` or ``"bicubic"``.

    Returns:
        ``(B, C, size[0], size[1])`` in the dtype of ``x``.
    """
    height, width = x.shape[-2:]
    out_h, out_w = size
    work = work_dtype(x.dtype)
    top, left, h, w = boxes.to(device=x.device, dtype=work).unbind(dim=1)
    gx = _source_coords(left, w, out_w, interpolation)  # (B, out_w) pixel coordinates
    gy = _source_coords(top, h, out_h, interpolation)  # (B, out_h)
    gx = (2.0 * gx + 1.0) / width - 1.0  # to grid_sample's normalised coords (align_corners=False)
    gy = (2.0 * gy + 1.0) / height - 1.0
    grid = torch.stack([gx[:, None, :].expand(-1, out_h, -1), gy[:, :, None].expand(-1, -1, out_w)], dim=-1)
    out = F.grid_sample(x.to(work), grid, mode=interpolation, padding_mode="border", align_corners=False)
    if interpolation == "bicubic":
        out = out.clamp_(0.0, 1.0)
    return out.to(x.dtype)


def affine(
    x: Tensor,
    angle: Tensor,
    translate: Tensor,
    scale: Tensor,
    shear: Tensor,
    fill: float | Sequence[float] = 0.0,
    interpolation: str = "bilinear",
) -> Tensor:
    """torchvision's ``affine`` about the image centre, one transformation per image.

    Inside the image the output equals torchvision's ``F.affine``; an output pixel that is partly outside
    is ``sum(inside weights * pixels) + fill * outside weight``.

    Args:
        x: ``(B, C, H, W)`` float images.
        angle: ``(B,)`` rotations in degrees; 90 turns the image clockwise on screen
            (``torch.rot90(x, -1, (-2, -1))``), as torchvision's ``affine``.
        translate: ``(B, 2)`` shifts (x, y) in pixels.
        scale: ``(B,)`` scale factors.
        shear: ``(B, 2)`` x- and y-shear angles in degrees.
        fill: value of pixels from outside the image: a number or one number per channel.
        interpolation: ``"bilinear"`` or ``"nearest"``.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``x``.

    Raises:
        ValueError: if ``fill`` has neither 1 nor ``C`` values.
    """
    b, c, height, width = x.shape
    fill = tuple(fill) if isinstance(fill, Sequence) else (float(fill),)
    if len(fill) not in (1, c):
        raise ValueError(f"affine: fill has {len(fill)} values but the images have {c} channels")
    work = work_dtype(x.dtype)
    theta = _affine_theta(angle, translate, scale, shear, height, width).to(device=x.device, dtype=work)
    grid = F.affine_grid(theta, [b, c, height, width], align_corners=False)
    inp = x.to(work)
    use_fill = any(v != 0.0 for v in fill)
    if use_fill:  # a mask channel tells how much of each output pixel came from inside the image
        inp = torch.cat([inp, torch.ones_like(inp[:, :1])], dim=1)
    out = F.grid_sample(inp, grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    if use_fill:
        out, mask = out[:, :c], out[:, c:]
        fill_t = torch.tensor(fill, dtype=work, device=x.device).view(1, -1, 1, 1)
        if interpolation == "nearest":
            out = torch.where(mask < 0.5, fill_t.expand_as(out), out)
        else:
            out = out + fill_t * (1.0 - mask)  # zeros-padded sample + fill for the outside share
    return out.to(x.dtype)


def horizontal_flip(x: Tensor, flip: Tensor) -> Tensor:
    """Mirror left-right the images where ``flip`` (``(B,)`` bool) is true; ``(B, C, H, W)`` in and out."""
    return torch.where(flip.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)


def color_jitter(
    x: Tensor, factors: Tensor, order: Tensor, applied: Tensor, enabled: Sequence[int] = (0, 1, 2, 3)
) -> Tensor:
    """torchvision's ``ColorJitter`` with known factors and order, per image.

    Args:
        x: ``(B, C, H, W)`` float images in [0, 1], ``C`` in {1, 3}.
        factors: ``(B, 4)`` brightness, contrast, saturation and hue factors.
        order: ``(B, 4)`` a permutation of 0..3 per image: operation ``order[i, k]`` runs at step ``k``.
        applied: ``(B,)`` bool, the images that are jittered at all.
        enabled: the operations (0 brightness, 1 contrast, 2 saturation, 3 hue) that run; the others are
            skipped (not applied with an identity factor, which would still clamp to [0, 1]).

    Returns:
        ``(B, C, H, W)`` in the dtype of ``x``.
    """
    enabled = list(enabled)
    if not enabled:
        return x
    work = work_dtype(x.dtype)
    factors_all = factors.to(device=x.device, dtype=work)
    order_all = order.to(x.device)

    def jitter(sub: Tensor, index: Tensor | None) -> Tensor:
        factors, order = _sel(factors_all, index), _sel(order_all, index)
        out = sub.to(work)
        rows = torch.arange(len(sub), device=sub.device)  # where each row of ``out`` came from
        for step in range(4):
            # rows regrouped by the operation they do at this step: each operation runs on one slice
            # (no scattered writes), the rows are put back in order at the end
            ops, perm = torch.sort(order[:, step], stable=True)
            out, factors, order, rows = (t.index_select(0, perm) for t in (out, factors, order, rows))
            parts, start = [], 0
            for k, count in enumerate(torch.bincount(ops, minlength=4).tolist()):
                if count:
                    part = out[start : start + count]
                    if k in enabled:
                        part = _JITTER_OPS[k](part, factors[start : start + count, k])
                    parts.append(part)
                start += count
            out = torch.cat(parts) if len(parts) > 1 else parts[0]
        return out.index_select(0, torch.argsort(rows))

    return _where_applied(x, applied, jitter).to(x.dtype)


def grayscale(x: Tensor, applied: Tensor) -> Tensor:
    """torchvision's ``rgb_to_grayscale`` (3 output channels) on the images where ``applied`` is true.

    Args:
        x: ``(B, C, H, W)`` float images, ``C`` in {1, 3} (1-channel images come back unchanged).
        applied: ``(B,)`` bool.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``x``.
    """
    if x.shape[1] == 1:
        return x
    work = work_dtype(x.dtype)
    return _where_applied(x, applied, lambda sub, _: _gray(sub.to(work)).expand(-1, 3, -1, -1)).to(x.dtype)


def gaussian_blur(
    x: Tensor, sigma: Tensor, kernel_size: tuple[int, int], applied: Tensor | None = None
) -> Tensor:
    """torchvision's ``gaussian_blur`` with one sigma per image (reflect padding, two 1-D passes).

    Args:
        x: ``(B, C, H, W)`` float images.
        sigma: ``(B,)`` positive standard deviations.
        kernel_size: ``(kx, ky)`` odd sizes (width, height).
        applied: ``(B,)`` bool, the images that are blurred (``None``: all).

    Returns:
        ``(B, C, H, W)`` in the dtype of ``x``, clamped to [0, 1].
    """
    work = work_dtype(x.dtype)
    sigma = sigma.to(device=x.device, dtype=work)
    if applied is None:
        applied = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    return _where_applied(x, applied, lambda sub, i: _blur(sub.to(work), _sel(sigma, i), kernel_size)).to(
        x.dtype
    )


def solarize(x: Tensor, threshold: float, applied: Tensor) -> Tensor:
    """torchvision's ``solarize`` on float images: ``1 - x`` where ``x >= threshold``, on the images where
    ``applied`` (``(B,)`` bool) is true; ``(B, C, H, W)`` in and out."""
    flip = applied.to(x.device).view(-1, 1, 1, 1) & (x >= threshold)
    return torch.where(flip, 1.0 - x, x)


def gaussian_noise(x: Tensor, std: Tensor, noise: Tensor, clip: bool = True) -> Tensor:
    """Add ``std * noise`` per image: ``x + std[b] * noise[b]``, clamped to [0, 1] if ``clip``.

    Args:
        x: ``(B, C, H, W)`` float images.
        std: ``(B,)`` standard deviations.
        noise: ``(B, C, H, W)`` standard-normal draws.
        clip: clamp the result to [0, 1].

    Returns:
        ``(B, C, H, W)`` in the dtype of ``x``.
    """
    work = work_dtype(x.dtype)
    std = std.to(device=x.device, dtype=work).view(-1, 1, 1, 1)
    out = x.to(work) + std * noise.to(device=x.device, dtype=work)
    if clip:
        out = out.clamp_(0.0, 1.0)
    return out.to(x.dtype)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """torchvision's ``normalize``: ``(x - mean[c]) / std[c]`` with one or ``C`` values each."""
    mean_t = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean_t) / std_t
