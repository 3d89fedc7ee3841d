"""Image views: batched tensor augmentations, the SimCLR / MoCo v2 / BYOL recipes, multi-crop.

Two paths:

* **Batched tensor views** (:class:`RandomResizedCrop`, :class:`RandomAffine`, :class:`HorizontalFlip`,
  :class:`ColorJitter`, :class:`Grayscale`, :class:`GaussianBlur`, :class:`Solarize`,
  :class:`GaussianNoise`, :class:`Normalize`) work on a float batch ``(B, C, H, W)`` in ``[0, 1]``. Every
  example gets its own random parameters, drawn from an explicit :class:`torch.Generator`, and a whole
  batch is transformed in one vectorised tensor pass (one ``grid_sample`` for all crops, one grouped
  convolution for all blurs, ...). This is the fast path for small images (CIFAR, digits, tiles) where a
  per-sample Python loop dominates the cost of training.
* **torchvision v2** (:class:`TorchvisionView`, :func:`torchvision_recipe`) wraps any
  ``torchvision.transforms.v2`` transform so that it obeys the :class:`~pairs.views.base.View` contract
  (seeded, replayable, each example its own draw); use it for PIL images, images of different sizes or
  transforms that have no batched twin here.

The colour operations reproduce torchvision's functional definitions (``adjust_brightness``,
``adjust_contrast``, ``adjust_saturation``, ``adjust_hue``, ``rgb_to_grayscale``, ``gaussian_blur``,
``solarize``) numerically; the crop reproduces ``resized_crop(..., antialias=False)``.

References:
    Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations" (SimCLR).
    Chen et al. 2020b, "Improved Baselines with Momentum Contrastive Learning" (MoCo v2).
    Grill et al. 2020, "Bootstrap Your Own Latent" (BYOL), table 6.
    Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments"
    (SwAV, multi-crop).

Example:
    >>> import torch
    >>> from pairs.views import image
    >>> view = image.simclr_view(size=32)
    >>> x = torch.rand(256, 3, 32, 32)
    >>> v1, v2 = view(x, generator=0), view(x, generator=1)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from pairs.errors import DataError
from pairs.registry import Registry
from pairs.validation import integer, probability
from pairs.validation import is_number as _is_number
from pairs.views.base import (
    HALF_TYPES,
    Compose,
    GeneratorLike,
    Params,
    View,
    all_finite,
    bernoulli,
    check_replay_size,
    make_generator,
    uniform,
)
from pairs.views.functional import image as _F

__all__ = [
    "RandomResizedCrop",
    "RandomAffine",
    "HorizontalFlip",
    "Grayscale",
    "ColorJitter",
    "GaussianBlur",
    "Solarize",
    "GaussianNoise",
    "Normalize",
    "MultiCrop",
    "TorchvisionView",
    "simclr_view",
    "mocov2_view",
    "byol_views",
    "multicrop_views",
    "get_recipe",
    "torchvision_recipe",
    "RECIPES",
]

_HALF_TYPES = HALF_TYPES
_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


# --------------------------------------------------------------------------------------------------
# Argument and input validation
# --------------------------------------------------------------------------------------------------


def _check_size(size: Any, name: str) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair of positive ints -> ``(h, w)``."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size)
    ):
        raise ValueError(
            f"{name} must be a positive int or a pair (height, width) of positive ints, got {size!r}"
        )
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return h, w


def _check_pair(
    value: Any, name: str, *, low: float, high: float, open_low: bool = False
) -> tuple[float, float]:
    """A ``(min, max)`` pair with ``low <= min <= max <= high`` (``low < min`` if ``open_low``)."""
    if not isinstance(value, Sequence) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise ValueError(f"{name} must be a pair (min, max) of numbers, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    ok_low = lo > low if open_low else lo >= low
    if not (ok_low and lo <= hi <= high and math.isfinite(lo) and math.isfinite(hi)):
        op = "<" if open_low else "<="
        raise ValueError(
            f"{name} must be a finite pair (min, max) with {low} {op} min <= max <= {high}, got {value!r}"
        )
    return lo, hi


def _jitter_range(
    value: Any, name: str, center: float, bound: tuple[float, float]
) -> tuple[float, float] | None:
    """torchvision's ``ColorJitter._check_input``: a number ``v`` -> ``[center - v, center + v]``."""
    if value is None:
        return None
    if _is_number(value):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"ColorJitter {name} as a single number must be finite and >= 0, got {value!r}")
        lo, hi = center - float(value), center + float(value)
        if center == 1.0:
            lo = max(lo, 0.0)
    elif isinstance(value, Sequence) and len(value) == 2 and all(_is_number(v) for v in value):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"ColorJitter {name} must be a number or a pair (min, max), got {value!r}")
    if not (bound[0] <= lo <= hi <= bound[1]) or not math.isfinite(hi):
        raise ValueError(
            f"ColorJitter {name} factors must satisfy {bound[0]} <= min <= max <= {bound[1]}, "
            f"got ({lo}, {hi})"
        )
    if lo == hi == center:
        return None
    return lo, hi


def _check_images(x: Any, name: str, *, color: bool = False, finite: bool = False) -> None:
    """Validate a batch of images ``(B, C, H, W)``.

    Raises:
        TypeError: not a tensor, or not floating point.
        ValueError: wrong rank, empty spatial size, channel count not 1 or 3 (``color``), NaN/inf values
            (``finite``).
    """
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} expects a torch.Tensor image batch (B, C, H, W) of floats in [0, 1], got "
            f"{type(x).__name__}; for PIL images use TorchvisionView / torchvision_recipe"
        )
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects images shaped (C, H, W) or (B, C, H, W), got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} expects float images in [0, 1], got dtype {x.dtype}; convert first, e.g. "
            "x.float() / 255 or torchvision.transforms.v2.functional.to_dtype(x, torch.float32, scale=True)"
        )
    if x.shape[-1] == 0 or x.shape[-2] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} got images with an empty dimension, shape {tuple(x.shape)}")
    if color and x.shape[1] not in (1, 3):
        raise ValueError(
            f"{name} expects 1 (grayscale) or 3 (RGB) channels, got {x.shape[1]} channels in shape "
            f"{tuple(x.shape)}"
        )
    if finite and not _all_finite(x):
        raise ValueError(f"{name} got images containing NaN or infinite values")


_all_finite = all_finite  # the shared check of pairs.views.base


# --------------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------------
class RandomResizedCrop(View):
    """Crop a random box of random area and aspect ratio from each image and resize it to ``size``.

    Boxes are sampled as torchvision's ``RandomResizedCrop`` samples them, vectorised: 10 candidate boxes
    per example, the first valid one is kept, and examples with no valid candidate fall back to the
    central crop. All crops of a batch are then resampled by one ``grid_sample``; the sampling grid is
    exactly that of ``torchvision.transforms.v2.functional.resized_crop(..., antialias=False)`` (sample
    points clamped inside the box), so there is no anti-aliasing when a large box is shrunk.

    Args:
        size: output size, an int or ``(height, width)``.
        scale: range of the box area as a fraction of the image area, ``0 < min <= max``.
        ratio: range of the box aspect ratio (width / height), ``0 < min <= max``, sampled log-uniformly.
        interpolation: ``"bilinear"`` (default), ``"nearest"`` or ``"bicubic"`` (clamped to [0, 1]).

    Raises:
        ValueError: on a bad size, range or interpolation name.

    Shape:
        ``(B, C, H, W) -> (B, C, size_h, size_w)``; params ``boxes (B, 4)`` as (top, left, height, width)
        in pixels (int64).

    Reference:
        Szegedy et al. 2015 (Inception crops); the default SimCLR augmentation (Chen et al. 2020).
    """

    sample_ndim = 3

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
    ) -> None:
        self._hw = _check_size(size, "RandomResizedCrop size")
        self.size = size
        self.scale = _check_pair(scale, "RandomResizedCrop scale", low=0.0, high=math.inf, open_low=True)
        self.ratio = _check_pair(ratio, "RandomResizedCrop ratio", low=0.0, high=math.inf, open_low=True)
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"RandomResizedCrop interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
            )
        self.interpolation = interpolation

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__)
        b, (height, width), n_try = batch.shape[0], batch.shape[-2:], 10
        dev = generator.device
        area = float(height * width)
        target = area * uniform(self.scale[0], self.scale[1], b * n_try, generator, torch.float64)
        log_r = uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), b * n_try, generator, torch.float64)
        aspect = torch.exp(log_r)
        w = torch.round(torch.sqrt(target * aspect)).long().view(b, n_try)
        h = torch.round(torch.sqrt(target / aspect)).long().view(b, n_try)
        valid = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = valid.to(torch.int8).argmax(dim=1, keepdim=True)  # first valid candidate
        w = w.gather(1, first).squeeze(1)
        h = h.gather(1, first).squeeze(1)
        # Fallback: torchvision's central crop
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            fw, fh = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            fh, fw = height, int(round(height * max(self.ratio)))
        else:
            fw, fh = width, height
        ok = valid.any(dim=1)
        h = torch.where(ok, h, torch.full_like(h, fh))
        w = torch.where(ok, w, torch.full_like(w, fw))
        u = torch.rand(2, b, generator=generator, device=dev, dtype=torch.float64)
        top = torch.minimum((u[0] * (height - h + 1)).floor().long(), height - h)
        left = torch.minimum((u[1] * (width - w + 1)).floor().long(), width - w)
        top = torch.where(ok, top, torch.full_like(top, (height - fh) // 2))
        left = torch.where(ok, left, torch.full_like(left, (width - fw) // 2))
        return {"boxes": torch.stack([top, left, h, w], dim=1)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, finite=True)
        boxes = params["boxes"]
        check_replay_size(type(self).__name__, len(boxes), batch.shape[0])
        return _F.resized_crop(batch, boxes, self._hw, self.interpolation)


class RandomAffine(View):
    """Random rotation, translation, scale and shear about the image centre, per example.

    Follows torchvision's ``RandomAffine`` parameter sampling and its affine matrix (``F.affine``):
    positive angles turn the image clockwise on screen (as torchvision's ``affine``), translations are
    rounded to whole pixels. The whole batch is resampled by one ``grid_sample``; pixels from outside the
    image get ``fill``. Useful where flips are wrong (digits, text). Inside the image the output equals
    torchvision's ``F.affine``; at the border an output pixel that is partly outside is
    ``sum(inside weights * pixels) + fill * outside weight``
    (torchvision multiplies the inside part by the inside weight once more, which darkens borders).

    Args:
        degrees: rotation range: a number ``d`` (uniform in ``[-d, d]``) or a pair ``(min, max)``.
        translate: ``(a, b)`` maximal fractions of width and height for the shift, each in [0, 1]; ``None``
            for no shift.
        scale: ``(min, max)`` scale range, ``0 < min <= max``; ``None`` for scale 1.
        shear: ``None``, a number ``s`` (x-shear in ``[-s, s]``), a pair (x-shear range) or four numbers
            (x- and y-shear ranges), in degrees strictly inside (-90, 90).
        fill: value for pixels from outside the image, a number or one value per channel.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.

    Raises:
        ValueError: on a bad range, fill or interpolation name.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; params ``angle (B,)``, ``translate (B, 2)`` (pixels),
        ``scale (B,)``, ``shear (B, 2)`` (degrees).
    """

    sample_ndim = 3

    def __init__(
        self,
        degrees: float | Sequence[float] = 0,
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: float | Sequence[float] | None = None,
        fill: float | Sequence[float] = 0.0,
        interpolation: str = "bilinear",
    ) -> None:
        if _is_number(degrees):
            if degrees < 0:
                raise ValueError(f"RandomAffine degrees as a single number must be >= 0, got {degrees!r}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = _check_pair(degrees, "RandomAffine degrees", low=-math.inf, high=math.inf)
        self.translate = None
        if translate is not None:
            if (
                not isinstance(translate, Sequence)
                or len(translate) != 2
                or not all(_is_number(t) and 0.0 <= t <= 1.0 for t in translate)
            ):
                raise ValueError(
                    f"RandomAffine translate must be a pair (a, b) of fractions in [0, 1], got {translate!r}"
                )
            self.translate = (float(translate[0]), float(translate[1]))
        self.scale = None
        if scale is not None:
            self.scale = _check_pair(scale, "RandomAffine scale", low=0.0, high=math.inf, open_low=True)
        self.shear = None
        if shear is not None:
            if _is_number(shear):
                if shear < 0:
                    raise ValueError(f"RandomAffine shear as a single number must be >= 0, got {shear!r}")
                shear = (-float(shear), float(shear))
            if not isinstance(shear, Sequence) or len(shear) not in (2, 4):
                raise ValueError(f"RandomAffine shear must be a number, 2 or 4 numbers, got {shear!r}")
            ranges = [
                _check_pair(shear[i : i + 2], "RandomAffine shear", low=-90.0, high=90.0)
                for i in range(0, len(shear), 2)
            ]
            if any(abs(v) >= 90.0 for r in ranges for v in r):
                raise ValueError(
                    f"RandomAffine shear angles must lie strictly inside (-90, 90), got {shear!r}"
                )
            self.shear = tuple(v for r in ranges for v in r)
        if _is_number(fill):
            fill = float(fill)
        elif isinstance(fill, Sequence) and len(fill) > 0 and all(_is_number(v) for v in fill):
            fill = tuple(float(v) for v in fill)
        else:
            raise ValueError(f"RandomAffine fill must be a number or one number per channel, got {fill!r}")
        self.fill = fill
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"RandomAffine interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.interpolation = interpolation

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__)
        b, (height, width) = batch.shape[0], batch.shape[-2:]
        dev = generator.device
        f64 = torch.float64
        angle = uniform(self.degrees[0], self.degrees[1], b, generator, f64)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            tx = torch.round(uniform(-max_dx, max_dx, b, generator, f64))
            ty = torch.round(uniform(-max_dy, max_dy, b, generator, f64))
        else:
            tx = ty = torch.zeros(b, dtype=f64, device=dev)
        scale = (
            uniform(self.scale[0], self.scale[1], b, generator, f64)
            if self.scale is not None
            else torch.ones(b, dtype=f64, device=dev)
        )
        sx = sy = torch.zeros(b, dtype=f64, device=dev)
        if self.shear is not None:
            sx = uniform(self.shear[0], self.shear[1], b, generator, f64)
            if len(self.shear) == 4:
                sy = uniform(self.shear[2], self.shear[3], b, generator, f64)
        return {
            "angle": angle,
            "translate": torch.stack([tx, ty], dim=1),
            "scale": scale,
            "shear": torch.stack([sx, sy], dim=1),
        }

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, finite=True)
        check_replay_size(type(self).__name__, len(params["angle"]), batch.shape[0])
        b, c, height, width = batch.shape
        fill = self.fill if isinstance(self.fill, tuple) else (self.fill,)
        if len(fill) not in (1, c):
            raise ValueError(f"RandomAffine fill has {len(fill)} values but the images have {c} channels")
        return _F.affine(
            batch,
            params["angle"],
            params["translate"],
            params["scale"],
            params["shear"],
            fill,
            self.interpolation,
        )


class _CoinView(View):
    """An image view that changes each example with probability ``p``: the parameters are one coin per
    example (``(B,)`` bool, under :attr:`key`), the kernel :meth:`_kernel` changes the examples whose coin
    is up. Subclasses set ``p`` in ``__init__``, :attr:`key`, and :attr:`color` when the view needs 1- or
    3-channel images."""

    sample_ndim = 3
    key = "applied"
    color = False
    p: float

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__, color=self.color)
        return {self.key: bernoulli(self.p, batch.shape[0], generator)}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, color=self.color, finite=True)
        coins = params[self.key]
        check_replay_size(type(self).__name__, len(coins), batch.shape[0])
        return self._kernel(batch, coins)

    def _kernel(self, batch: Tensor, coins: Tensor) -> Tensor:
        """The view on ``batch`` ``(B, C, H, W)``, changing the examples where ``coins`` ``(B,)`` is True."""
        raise NotImplementedError


class HorizontalFlip(_CoinView):
    """Mirror each image left-right with probability ``p``.

    Args:
        p: probability of flipping, in [0, 1].

    Raises:
        ValueError: if ``p`` is not a probability.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; params ``flip (B,)`` bool.
    """

    key = "flip"

    def __init__(self, p: float = 0.5) -> None:
        self.p = probability("p", p, owner="HorizontalFlip")

    def _kernel(self, batch: Tensor, coins: Tensor) -> Tensor:
        return _F.horizontal_flip(batch, coins)


# --------------------------------------------------------------------------------------------------
# Colour
# --------------------------------------------------------------------------------------------------


_JITTER_NAMES = ("brightness", "contrast", "saturation", "hue")


class ColorJitter(View):
    """Random brightness, contrast, saturation and hue changes, in a random order, per example.

    torchvision's ``ColorJitter`` vectorised: each example draws its four factors and its own permutation
    of the four operations; at each of the 4 steps every operation is applied to the examples whose order
    puts it at that step. The operations equal torchvision's ``adjust_brightness/contrast/saturation/hue``
    on the same factors. Saturation and hue leave 1-channel images unchanged.

    Args:
        brightness: a number ``b`` (factor in ``[max(0, 1 - b), 1 + b]``) or a range ``(min, max)``, >= 0.
        contrast: as ``brightness``.
        saturation: as ``brightness``.
        hue: a number ``h`` in [0, 0.5] (shift in ``[-h, h]``) or a range inside ``[-0.5, 0.5]``.
        p: probability of jittering each example at all.

    Raises:
        ValueError: on a bad range or probability; on images with other than 1 or 3 channels.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)`` with ``C`` in {1, 3}; params ``factors (B, 4)`` (brightness,
        contrast, saturation, hue; identity values for disabled operations), ``order (B, 4)`` (a
        permutation of 0..3 per example: operation ``order[i, k]`` runs at step ``k``), ``applied (B,)``.

    Reference:
        Howard 2013; used by SimCLR (Chen et al. 2020), MoCo v2, BYOL.
    """

    sample_ndim = 3

    def __init__(
        self,
        brightness: float | Sequence[float] | None = 0,
        contrast: float | Sequence[float] | None = 0,
        saturation: float | Sequence[float] | None = 0,
        hue: float | Sequence[float] | None = 0,
        p: float = 1.0,
    ) -> None:
        self.brightness = _jitter_range(brightness, "brightness", 1.0, (0.0, math.inf))
        self.contrast = _jitter_range(contrast, "contrast", 1.0, (0.0, math.inf))
        self.saturation = _jitter_range(saturation, "saturation", 1.0, (0.0, math.inf))
        if _is_number(hue) and not 0.0 <= hue <= 0.5:
            raise ValueError(f"ColorJitter hue as a single number must be in [0, 0.5], got {hue!r}")
        self.hue = _jitter_range(hue, "hue", 0.0, (-0.5, 0.5))
        self.p = probability("p", p, owner="ColorJitter")

    @property
    def _ranges(self) -> tuple[tuple[float, float] | None, ...]:
        return (self.brightness, self.contrast, self.saturation, self.hue)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__, color=True)
        b = batch.shape[0]
        order = torch.rand(b, 4, generator=generator, device=generator.device).argsort(dim=1)
        cols = []
        for rng, identity in zip(self._ranges, (1.0, 1.0, 1.0, 0.0), strict=True):
            if rng is None:
                cols.append(torch.full((b,), identity, device=generator.device))
            else:
                cols.append(uniform(rng[0], rng[1], b, generator))
        return {
            "factors": torch.stack(cols, dim=1),
            "order": order,
            "applied": bernoulli(self.p, b, generator),
        }

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, color=True, finite=True)
        check_replay_size(type(self).__name__, len(params["factors"]), batch.shape[0])
        enabled = [k for k, rng in enumerate(self._ranges) if rng is not None]
        if batch.shape[1] == 1:
            enabled = [k for k in enabled if k < 2]  # saturation and hue: identities on grayscale
        return _F.color_jitter(batch, params["factors"], params["order"], params["applied"], enabled)


class Grayscale(_CoinView):
    """Turn each image to grayscale with probability ``p``, keeping the channel count (RandomGrayscale).

    Uses torchvision's luma weights (0.2989, 0.587, 0.114); 1-channel images are left unchanged.

    Args:
        p: probability in [0, 1] (torchvision's default 0.1; SimCLR uses 0.2).

    Raises:
        ValueError: on a bad probability; on images with other than 1 or 3 channels.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``, ``C`` in {1, 3}; params ``applied (B,)`` bool.
    """

    color = True

    def __init__(self, p: float = 0.1) -> None:
        self.p = probability("p", p, owner="Grayscale")

    def _kernel(self, batch: Tensor, coins: Tensor) -> Tensor:
        return _F.grayscale(batch, coins)


# --------------------------------------------------------------------------------------------------
# Blur, solarize, noise, normalise
# --------------------------------------------------------------------------------------------------


class GaussianBlur(View):
    """Gaussian blur with a random sigma per example, applied with probability ``p``.

    Matches torchvision's ``gaussian_blur`` (same kernel, reflect padding) per example; the 2-D kernel is
    applied as two 1-D passes, each one grouped convolution over the whole batch. Padding keeps reflecting
    when the kernel is larger than the image (torchvision refuses such inputs). The result is clamped to
    [0, 1] (rounding of the kernel weights could otherwise overshoot by an ulp).

    Args:
        kernel_size: odd positive int, or ``(kx, ky)`` (width, height) as in torchvision.
        sigma: a positive number, or a range ``(min, max)`` with ``0 < min <= max``.
        p: probability of blurring each example.

    Raises:
        ValueError: on an even or non-positive kernel size, a bad sigma or probability.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; params ``sigma (B,)``, ``applied (B,)``.

    Reference:
        SimCLR (Chen et al. 2020), appendix A: blur with p = 0.5, sigma in [0.1, 2.0], kernel 10% of size.
    """

    sample_ndim = 3

    def __init__(
        self, kernel_size: int | Sequence[int], sigma: float | Sequence[float] = (0.1, 2.0), p: float = 1.0
    ) -> None:
        if isinstance(kernel_size, numbers.Integral) and not isinstance(kernel_size, bool):
            ks = (int(kernel_size), int(kernel_size))
        elif isinstance(kernel_size, Sequence) and len(kernel_size) == 2:
            ks = (kernel_size[0], kernel_size[1])
        else:
            raise ValueError(
                f"GaussianBlur kernel_size must be an odd int or a pair (kx, ky), got {kernel_size!r}"
            )
        if not all(
            isinstance(k, numbers.Integral) and not isinstance(k, bool) and k > 0 and k % 2 == 1 for k in ks
        ):
            raise ValueError(f"GaussianBlur kernel_size must hold odd positive ints, got {kernel_size!r}")
        self.kernel_size = (int(ks[0]), int(ks[1]))
        if _is_number(sigma):
            sigma = (float(sigma), float(sigma))
        self.sigma = _check_pair(sigma, "GaussianBlur sigma", low=0.0, high=math.inf, open_low=True)
        self.p = probability("p", p, owner="GaussianBlur")

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__)
        b = batch.shape[0]
        return {
            "sigma": uniform(self.sigma[0], self.sigma[1], b, generator),
            "applied": bernoulli(self.p, b, generator),
        }

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, finite=True)
        check_replay_size(type(self).__name__, len(params["sigma"]), batch.shape[0])
        return _F.gaussian_blur(batch, params["sigma"], self.kernel_size, params["applied"])


class Solarize(_CoinView):
    """Invert the pixels at or above ``threshold`` (``x -> 1 - x``), per example with probability ``p``.

    Args:
        threshold: in [0, 1] (torchvision's ``solarize`` on float images).
        p: probability of solarizing each example.

    Raises:
        ValueError: on a bad threshold or probability.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; params ``applied (B,)``.

    Reference:
        BYOL (Grill et al. 2020), table 6: solarize with p = 0 / 0.2 on the two views.
    """

    def __init__(self, threshold: float = 0.5, p: float = 1.0) -> None:
        if not _is_number(threshold) or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"Solarize threshold must be in [0, 1] (float images), got {threshold!r}")
        self.threshold = float(threshold)
        self.p = probability("p", p, owner="Solarize")

    def _kernel(self, batch: Tensor, coins: Tensor) -> Tensor:
        return _F.solarize(batch, self.threshold, coins)


class GaussianNoise(View):
    """Add Gaussian pixel noise with a random standard deviation per example.

    Args:
        std: a fixed standard deviation ``>= 0`` or a range ``(min, max)``, ``0 <= min <= max``.
        clip: clamp the result to [0, 1].

    Raises:
        ValueError: on a bad ``std``.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; params ``std (B,)`` and the standard-normal ``noise (B, C, H, W)``
        (kept so that a replay adds exactly the same noise).
    """

    sample_ndim = 3

    def __init__(self, std: float | Sequence[float] = (0.0, 0.05), clip: bool = True) -> None:
        if _is_number(std):
            std = (float(std), float(std))
        self.std = _check_pair(std, "GaussianNoise std", low=0.0, high=math.inf)
        self.clip = bool(clip)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__)
        b = batch.shape[0]
        noise = torch.randn(tuple(batch.shape), generator=generator, device=generator.device)
        return {"std": uniform(self.std[0], self.std[1], b, generator), "noise": noise}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, finite=True)
        noise = params["noise"]
        if tuple(noise.shape) != tuple(batch.shape):
            raise ValueError(
                f"GaussianNoise: noise was drawn for shape {tuple(noise.shape)} but the batch has shape "
                f"{tuple(batch.shape)}; replay needs a batch of the same shape"
            )
        return _F.gaussian_noise(batch, params["std"], noise, self.clip)


class Normalize(View):
    """Subtract a per-channel mean and divide by a per-channel std (deterministic; no parameters).

    Args:
        mean: a number or one number per channel.
        std: a positive number or one positive number per channel.

    Raises:
        ValueError: on empty or non-finite values, non-positive std, or a channel count that does not
            match the images.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    sample_ndim = 3

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = self._values(mean, "mean")
        self.std = self._values(std, "std")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"Normalize std must be positive, got {std!r}")
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"Normalize got {len(self.mean)} means but {len(self.std)} stds")

    @staticmethod
    def _values(v: Any, name: str) -> tuple[float, ...]:
        vals = (v,) if _is_number(v) else v
        if (
            not isinstance(vals, Sequence)
            or len(vals) == 0
            or not all(_is_number(x) and math.isfinite(x) for x in vals)
        ):
            raise ValueError(
                f"Normalize {name} must be a finite number or one finite number per channel, got {v!r}"
            )
        return tuple(float(x) for x in vals)

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        _check_images(batch, type(self).__name__)
        return {}

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        _check_images(batch, type(self).__name__, finite=True)
        c = batch.shape[1]
        for name, vals in (("mean", self.mean), ("std", self.std)):
            if len(vals) not in (1, c):
                raise ValueError(f"Normalize {name} has {len(vals)} values but the images have {c} channels")
        return _F.normalize(batch, self.mean, self.std)


# --------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------
def _blur_kernel(size: int | Sequence[int]) -> int:
    """An odd kernel of about 10% of the (smaller) image side, at least 3 (SimCLR's choice)."""
    h, w = _check_size(size, "size")
    k = max(3, int(0.1 * min(h, w)))
    return k if k % 2 == 1 else k + 1


def simclr_view(
    size: int | Sequence[int], s: float = 1.0, blur: bool = True, scale: Sequence[float] = (0.08, 1.0)
) -> Compose:
    """The SimCLR augmentation as one batched view.

    Random resized crop, horizontal flip, colour jitter ``(0.8s, 0.8s, 0.8s, 0.2s)`` with p = 0.8,
    grayscale with p = 0.2 and (``blur``) Gaussian blur with p = 0.5, sigma in [0.1, 2], kernel about 10%
    of the image size.

    Args:
        size: output size, int or ``(h, w)``.
        s: colour-jitter strength (1.0 for ImageNet, 0.5 for CIFAR in the paper).
        blur: include the blur (the paper leaves it out for CIFAR-10).
        scale: crop area range.

    Returns:
        A :class:`~pairs.views.base.Compose`.

    Raises:
        ValueError: on a bad size, strength or scale.

    Shape:
        ``(B, C, H, W) -> (B, C, size_h, size_w)``, ``C`` in {1, 3}.

    Reference:
        Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations",
        appendix A.
    """
    if not _is_number(s) or s < 0:
        raise ValueError(f"simclr_view strength s must be a number >= 0, got {s!r}")
    s = float(s)
    hue = min(0.2 * s, 0.5)
    views: list[View] = [
        RandomResizedCrop(size, scale=scale),
        HorizontalFlip(0.5),
        ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, hue, p=0.8),
        Grayscale(0.2),
    ]
    if blur:
        views.append(GaussianBlur(_blur_kernel(size), (0.1, 2.0), p=0.5))
    return Compose(views)


def mocov2_view(size: int | Sequence[int], scale: Sequence[float] = (0.2, 1.0)) -> Compose:
    """The MoCo v2 augmentation as one batched view.

    Random resized crop (scale 0.2-1), colour jitter ``(0.4, 0.4, 0.4, 0.1)`` with p = 0.8, grayscale with
    p = 0.2, Gaussian blur with p = 0.5 (sigma in [0.1, 2]), horizontal flip.

    Args:
        size: output size, int or ``(h, w)``.
        scale: crop area range.

    Returns:
        A :class:`~pairs.views.base.Compose`.

    Shape:
        ``(B, C, H, W) -> (B, C, size_h, size_w)``, ``C`` in {1, 3}.

    Reference:
        Chen et al. 2020b, "Improved Baselines with Momentum Contrastive Learning" (moco/main_moco.py).
    """
    return Compose(
        [
            RandomResizedCrop(size, scale=scale),
            ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
            Grayscale(0.2),
            GaussianBlur(_blur_kernel(size), (0.1, 2.0), p=0.5),
            HorizontalFlip(0.5),
        ]
    )


def byol_views(size: int | Sequence[int], scale: Sequence[float] = (0.08, 1.0)) -> tuple[Compose, Compose]:
    """The two asymmetric BYOL augmentations as batched views.

    Both: random resized crop, flip, colour jitter ``(0.4, 0.4, 0.2, 0.1)`` with p = 0.8, grayscale
    p = 0.2; blur p = 1.0 / 0.1 and solarize p = 0 / 0.2 for view 1 / view 2.

    Args:
        size: output size, int or ``(h, w)``.
        scale: crop area range.

    Returns:
        ``(view1, view2)``, two :class:`~pairs.views.base.Compose`.

    Shape:
        ``(B, C, H, W) -> (B, C, size_h, size_w)``, ``C`` in {1, 3}.

    Reference:
        Grill et al. 2020, "Bootstrap Your Own Latent", table 6.
    """

    def make(blur_p: float, solarize_p: float) -> Compose:
        views: list[View] = [
            RandomResizedCrop(size, scale=scale),
            HorizontalFlip(0.5),
            ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8),
            Grayscale(0.2),
            GaussianBlur(_blur_kernel(size), (0.1, 2.0), p=blur_p),
        ]
        if solarize_p > 0:
            views.append(Solarize(0.5, p=solarize_p))
        return Compose(views)

    return make(1.0, 0.0), make(0.1, 0.2)


RECIPES: Registry[Callable[..., Compose | tuple[Compose, Compose]]] = Registry(
    "image recipe", plural="recipes", listing=lambda: [str(RECIPES.names())]
)
"""Batched recipes by name (see :func:`get_recipe`); register more with ``RECIPES.add(name, function)``."""
RECIPES.add("simclr", simclr_view)
RECIPES.add("mocov2", mocov2_view)
RECIPES.add("byol", byol_views)


def get_recipe(name: str, size: int | Sequence[int], **kwargs: Any) -> Compose | tuple[Compose, Compose]:
    """Build a batched recipe by name.

    Args:
        name: one of ``"simclr"``, ``"mocov2"``, ``"byol"``.
        size: output size.
        **kwargs: passed to the recipe function (e.g. ``s``, ``blur``, ``scale``).

    Returns:
        A :class:`Compose`, or a ``(view1, view2)`` tuple for asymmetric recipes (BYOL).

    Raises:
        ConfigError: on an unknown name (the message lists the known ones); also a ``ValueError``.
    """
    return RECIPES.get(name)(size, **kwargs)


# --------------------------------------------------------------------------------------------------
# Multi-crop
# --------------------------------------------------------------------------------------------------
class MultiCrop:
    """``n_global`` global views and ``n_local`` (smaller) local views of a batch.

    Not a :class:`View` itself, because its outputs have different sizes: calling it returns a list of
    ``n_global + n_local`` batches, the global ones first. ``multi_view = True`` tells
    :func:`pairs.pairing.make_views` to use its list of views as they are.

    Args:
        global_view: the view for global crops, or a sequence of ``n_global`` views (asymmetric recipes).
        local_view: the view for local crops.
        n_global: number of global views (>= 1).
        n_local: number of local views (>= 0).

    Raises:
        TypeError: if the views are not :class:`View` objects.
        ValueError: on bad counts.

    Shape:
        ``(B, C, H, W) -> [(B, C, Hg, Wg)] * n_global + [(B, C, Hl, Wl)] * n_local``.

    Reference:
        Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments".
    """

    multi_view = True

    def __init__(
        self,
        global_view: View | Sequence[View],
        local_view: View,
        n_global: int = 2,
        n_local: int = 6,
    ) -> None:
        n_global = integer("n_global", n_global, minimum=1, owner="MultiCrop")
        n_local = integer("n_local", n_local, minimum=0, owner="MultiCrop")
        globals_ = list(global_view) if isinstance(global_view, Sequence) else [global_view] * n_global
        if len(globals_) != n_global:
            raise ValueError(f"MultiCrop got {len(globals_)} global views for n_global={n_global}")
        for v in [*globals_, local_view]:
            if not isinstance(v, View):
                raise TypeError(f"MultiCrop expects View objects, got {type(v).__name__}")
        self.global_view = global_view
        self.local_view = local_view
        self.n_global = int(n_global)
        self.n_local = int(n_local)
        self._views = globals_ + [local_view] * self.n_local

    def __call__(
        self, x: Any, generator: GeneratorLike = None, *, return_params: bool = False
    ) -> list | tuple[list, list]:
        """Make the crops.

        Args:
            x: one image ``(C, H, W)`` or a batch ``(B, C, H, W)``.
            generator: a ``torch.Generator``, an int seed or ``None``.
            return_params: also return the list of each crop's parameters (for :meth:`replay`).

        Returns:
            The list of ``n_global + n_local`` views (and the list of their parameters).
        """
        g = make_generator(generator)
        outs, params = [], []
        for v in self._views:
            out, p = v(x, g, return_params=True)
            outs.append(out)
            params.append(p)
        return (outs, params) if return_params else outs

    def replay(self, x: Any, params: Sequence[Params]) -> list:
        """Apply the parameters of an earlier call to ``x``."""
        if len(params) != len(self._views):
            raise ValueError(
                f"MultiCrop.replay got {len(params)} parameter sets for {len(self._views)} crops"
            )
        return [v.replay(x, p) for v, p in zip(self._views, params, strict=True)]

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        return (
            f"MultiCrop(global_view={self.global_view!r}, local_view={self.local_view!r}, "
            f"n_global={self.n_global}, n_local={self.n_local})"
        )


def multicrop_views(
    global_size: int | Sequence[int],
    local_size: int | Sequence[int],
    n_local: int,
    global_scale: Sequence[float] = (0.4, 1.0),
    local_scale: Sequence[float] = (0.05, 0.4),
    base: str = "simclr",
) -> MultiCrop:
    """Multi-crop (2 global + ``n_local`` local crops) built from a base recipe.

    Args:
        global_size: size of the two global crops.
        local_size: size of the local crops.
        n_local: number of local crops.
        global_scale: crop area range of the global crops.
        local_scale: crop area range of the local crops.
        base: ``"simclr"``, ``"mocov2"`` or ``"byol"`` (BYOL: its two asymmetric views are the global
            crops, its first view's pipeline makes the local crops).

    Returns:
        A :class:`MultiCrop`.

    Raises:
        ValueError: on an unknown base or bad sizes/scales.

    Reference:
        Caron et al. 2020 (SwAV): 2 x 224 px crops at scale (0.14, 1) and 6 x 96 px at (0.05, 0.14); here
        the defaults follow DINO's (0.4, 1) / (0.05, 0.4).
    """
    glob = get_recipe(base, global_size, scale=global_scale)
    loc = get_recipe(base, local_size, scale=local_scale)
    if isinstance(loc, tuple):
        loc = loc[0]
    return MultiCrop(glob, loc, n_global=2, n_local=n_local)


# --------------------------------------------------------------------------------------------------
# torchvision v2 path
# --------------------------------------------------------------------------------------------------
class TorchvisionView(View):
    """Any ``torchvision.transforms.v2`` transform, made seeded and replayable, one example at a time.

    :meth:`sample` draws one 63-bit seed per example from the generator; :meth:`apply` runs the transform
    on each example inside ``torch.random.fork_rng`` after seeding torch's CPU generator with that seed,
    so the global random state is untouched, every example gets its own draw and a replay repeats it.

    Args:
        transform: a callable taking one image (PIL image or ``(C, H, W)`` tensor), e.g. a
            ``torchvision.transforms.v2.Compose``.

    Raises:
        TypeError: if ``transform`` is not callable; on inputs that are neither tensors, PIL images nor lists.
        ValueError: if a tensor batch's outputs cannot be stacked (different shapes).

    Shape:
        a list of ``B`` images -> a list of ``B`` outputs; ``(B, C, H, W)`` -> stacked outputs; one image ->
        one output. Params ``seeds (B,)`` int64.
    """

    sample_ndim = 3

    def __init__(self, transform: Callable[[Any], Any]) -> None:
        if not callable(transform):
            raise TypeError(f"TorchvisionView expects a callable transform, got {type(transform).__name__}")
        self.transform = transform

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        if isinstance(x, Tensor):
            return super().to_batch(x)
        if isinstance(x, list):
            return x, False
        if isinstance(x, tuple):
            return list(x), False
        try:
            from PIL import Image

            is_pil = isinstance(x, Image.Image)
        except ImportError:  # pragma: no cover - pillow is a dependency
            is_pil = False
        if is_pil:
            return [x], True
        raise TypeError(
            f"TorchvisionView expects a PIL image, a tensor (C, H, W) / (B, C, H, W) or a list of images, "
            f"got {type(x).__name__}"
        )

    def sample(self, batch: Any, generator: torch.Generator) -> Params:
        n = len(batch) if isinstance(batch, list) else int(batch.shape[0])
        seeds = torch.randint(
            0, 2**63 - 1, (n,), generator=generator, device=generator.device, dtype=torch.int64
        )
        return {"seeds": seeds.cpu()}

    def apply(self, batch: Any, params: Params) -> Any:
        seeds = params["seeds"]
        n = len(batch) if isinstance(batch, list) else int(batch.shape[0])
        check_replay_size(type(self).__name__, len(seeds), n)
        outs = []
        for i, seed in enumerate(seeds.tolist()):
            item = batch[i]
            cuda = [item.device] if isinstance(item, Tensor) and item.device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.default_generator.manual_seed(seed)
                if cuda:
                    torch.cuda.manual_seed(seed)
                try:
                    outs.append(self.transform(item))
                except (TypeError, ValueError, RuntimeError) as exc:
                    what = (
                        f"shape {tuple(item.shape)}, {item.dtype}" if isinstance(item, Tensor) else type(item)
                    )
                    raise DataError(
                        f"TorchvisionView: the transform failed on example {i} ({what}): {exc}"
                    ) from exc
        if isinstance(batch, list):
            return outs
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) > 1:
            raise ValueError(
                f"TorchvisionView outputs have different shapes {sorted(shapes)} and cannot be stacked; "
                "pass a list of images to get a list back, or make the transform produce one size"
            )
        out = torch.stack([torch.as_tensor(o) for o in outs])
        if out.is_floating_point() and batch.is_floating_point() and out.dtype != batch.dtype:
            out = out.to(batch.dtype)  # transforms that compute in float32 return the input dtype
        return out

    def __repr__(self) -> str:
        inner = "\n  ".join(repr(self.transform).splitlines())
        return f"TorchvisionView(\n  {inner}\n)"


def torchvision_recipe(
    name: str, size: int | Sequence[int], scale: Sequence[float] | None = None
) -> TorchvisionView | tuple[TorchvisionView, TorchvisionView]:
    """The SimCLR / MoCo v2 / BYOL recipes built from ``torchvision.transforms.v2`` ops.

    The per-sample twin of :func:`get_recipe`: same operations and probabilities, for PIL images or
    tensors (uint8 or float), output in [0, 1]: float32 for PIL and integer images, the input dtype for
    float tensors (computed by torchvision in float32). Crops use torchvision's anti-aliased resize.

    Args:
        name: ``"simclr"``, ``"mocov2"`` or ``"byol"``.
        size: output size.
        scale: crop area range (default: the recipe's).

    Returns:
        A :class:`TorchvisionView`, or ``(view1, view2)`` for BYOL.

    Raises:
        ValueError: on an unknown name.
    """
    from torchvision.transforms import v2

    RECIPES.get(name)  # an unknown name fails here, with the known ones
    hw = _check_size(size, "torchvision_recipe size")
    k = _blur_kernel(hw)
    head = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]

    def crop(default: tuple[float, float]) -> Any:
        sc = tuple(scale) if scale is not None else default
        return v2.RandomResizedCrop(hw, scale=sc, antialias=True)

    def jitter(b: float, c: float, s: float, h: float) -> Any:
        return v2.RandomApply([v2.ColorJitter(b, c, s, h)], p=0.8)

    def blur(p: float) -> Any:
        return v2.RandomApply([v2.GaussianBlur(k, sigma=(0.1, 2.0))], p=p)

    if name == "simclr":
        ops = [
            crop((0.08, 1.0)),
            v2.RandomHorizontalFlip(),
            jitter(0.8, 0.8, 0.8, 0.2),
            v2.RandomGrayscale(0.2),
        ]
        return TorchvisionView(v2.Compose(head + ops + [blur(0.5)]))
    if name == "mocov2":
        ops = [crop((0.2, 1.0)), jitter(0.4, 0.4, 0.4, 0.1), v2.RandomGrayscale(0.2), blur(0.5)]
        return TorchvisionView(v2.Compose(head + ops + [v2.RandomHorizontalFlip()]))
    common = [
        crop((0.08, 1.0)),
        v2.RandomHorizontalFlip(),
        jitter(0.4, 0.4, 0.2, 0.1),
        v2.RandomGrayscale(0.2),
    ]
    view1 = v2.Compose(head + common + [blur(1.0)])
    view2 = v2.Compose(head + common + [blur(0.1), v2.RandomSolarize(0.5, p=0.2)])
    return TorchvisionView(view1), TorchvisionView(view2)
