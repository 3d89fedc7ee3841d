"""Image defaults: small-image views, the small CNN, SimCLR, linear probe + kNN on the held-out split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from pairs.data.registry import DataBundle
from pairs.data.source import sample_shape
from pairs.domains import Recipe, register_recipe
from pairs.domains.preview import draw_image_item, preview_images
from pairs.eval.protocols import probe_and_knn
from pairs.views import image as iv
from pairs.views.base import Compose, Lambda, RandomApply, View


def small_image_view(size: int) -> View:
    """Views for small grey digits (8x8 to 28x28), where flips and colour changes are wrong.

    Small rotations, shifts and scalings of the glyph, brightness/contrast changes and pixel noise. On
    sklearn's digits this gives a linear probe above 0.985 (see ``benchmarks/``).
    """
    return Compose(
        [
            iv.RandomAffine(degrees=15.0, translate=(0.15, 0.15), scale=(0.85, 1.15)),
            RandomApply(iv.ColorJitter(brightness=0.4, contrast=0.4), p=0.8),
            iv.GaussianNoise(std=(0.05, 0.15), clip=False),
        ]
    )


def small_image_multicrop(size: int, n_local: int = 4) -> iv.MultiCrop:
    """Multi-crop for small grey images: 2 global digit views + ``n_local`` zoomed-in local views.

    The local crops cover 30-70 % of the image but are resized to the same size (small encoders need at
    least 8x8 inputs), so every crop goes through the encoder in one call (SwAV, DINO).
    """
    local = Compose([iv.RandomResizedCrop(size, scale=(0.3, 0.7), ratio=(0.8, 1.25)), small_image_view(size)])
    return iv.MultiCrop(small_image_view(size), local, n_global=2, n_local=n_local)


def _size(bundle: DataBundle) -> int:
    return int(sample_shape(bundle.train)[-1])


def _channels(bundle: DataBundle) -> int:
    return int(sample_shape(bundle.train)[0])


def _is_small_grey(bundle: DataBundle) -> bool:
    return _channels(bundle) == 1 and _size(bundle) <= 32


def image_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for image data: small grey images get the digits recipe, colour images SimCLR's."""
    size = _size(bundle)
    views: dict[str, Any] = {
        "simclr": lambda b: iv.simclr_view(size),
        "mocov2": lambda b: iv.mocov2_view(size),
        "byol": lambda b: list(iv.byol_views(size)),
    }
    if _is_small_grey(bundle):
        views = {
            "digits": lambda b: small_image_view(size),
            **views,
            "multicrop": lambda b: small_image_multicrop(size),
        }
    else:
        views["multicrop"] = lambda b: iv.multicrop_views(size, max(8, size // 2), n_local=4)
    small = size <= 16
    return Recipe(
        views=views,
        encoder="small_cnn" if size <= 32 else "resnet18",
        encoder_kwargs=lambda b: {"in_channels": _channels(b), **({"width": 32} if small else {})},
        evaluate=probe_and_knn,
        method="simclr",
        method_kwargs={"temperature": 0.2},
        epochs=40 if small else 100,
        batch_size=256,
        lr=2e-3 if small else 1e-3,
        weight_decay=1e-4,
        optimizer="adamw",
        warmup_epochs=2.0,
        preview=preview_images,
        draw_item=draw_image_item,
        decode_views=crops_at_decode,
        preprocess_state={"input_shape": [int(v) for v in sample_shape(bundle.train)]},
    )


class DecodedCrops:
    """The views of images whose random resized crops were cut at decode time (a multi-view producer).

    Takes a batch ``(B, V, C, H, W)`` of ``V`` crops per image (:meth:`ImageFolderSource.with_crops`) and
    runs the rest of view ``v`` (its steps after the crop) on crop ``v``, each as one batched call.

    Args:
        views: the ``V`` views without their crop.
    """

    multi_view = True

    def __init__(self, views: Sequence[View]) -> None:
        self.views = list(views)

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> list[Any]:
        if batch.dim() != 5 or batch.shape[1] != len(self.views):
            raise ValueError(
                f"DecodedCrops expects (B, {len(self.views)}, C, H, W) crops, got {tuple(batch.shape)}"
            )
        return [view(batch[:, v], generator) for v, view in enumerate(self.views)]

    def __repr__(self) -> str:
        return f"DecodedCrops({self.views})"


def crops_at_decode(view: Any, n_views: int, source: Any) -> tuple[Any, Any]:
    """Cut the views' random resized crops from the full-resolution files at decode time.

    When ``source`` is an :class:`~pairs.data.images.ImageFolderSource` and each of the ``n_views`` views is
    a :class:`~pairs.views.base.Compose` starting with a :class:`~pairs.views.image.RandomResizedCrop` to the
    source's size, the source decodes those crops (same scale and ratio ranges) and the views keep their
    other steps (:class:`DecodedCrops`); anything else is returned unchanged (multi-crop, in-memory data).
    """
    from pairs.data.images import ImageFolderSource

    if not isinstance(source, ImageFolderSource) or getattr(view, "multi_view", False):
        return view, source
    views = list(view) if isinstance(view, (list, tuple)) else [view] * n_views
    if len(views) != n_views:
        return view, source
    crops, rest = [], []
    for v in views:
        first = v.views[0] if isinstance(v, Compose) and v.views else None
        if not isinstance(first, iv.RandomResizedCrop) or tuple(first._hw) != (source.size, source.size):
            return view, source
        crops.append((first.scale, first.ratio))  # (min, max) tuples
        rest.append(Compose(v.views[1:]) if len(v.views) > 1 else Lambda(_identity, "identity"))
    return DecodedCrops(rest), source.with_crops(crops)


def _identity(batch: torch.Tensor) -> torch.Tensor:
    return batch


register_recipe("image", image_recipe)
