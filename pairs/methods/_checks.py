"""Input checks shared by the methods: enough views, labels present when a method trains on them."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from pairs.errors import ConfigError
from pairs.pairing import ViewBatch

__all__ = ["require_views", "require_labels"]


def require_views(batch: ViewBatch, n: int, name: str) -> list[Any]:
    """The views of ``batch``, checking there are at least ``n``.

    Raises:
        ValueError: fewer than ``n`` views (the message names the method and the fix).
    """
    if len(batch.views) < n:
        raise ConfigError(
            f"{name} needs at least {n} views per sample, got {len(batch.views)}; build the loader with "
            f"n_views={n} (or a multi-view producer)"
        )
    return list(batch.views)


def require_labels(batch: ViewBatch, name: str) -> Tensor:
    """The labels of ``batch``.

    Raises:
        ValueError: the batch has no labels (unlabeled data given to a method that trains on labels).
    """
    if batch.labels is None:
        raise ConfigError(
            f"{name} trains on labels, but the batch has none: use labeled data and pass labels to the "
            "ViewLoader (labels=...), or choose a self-supervised method"
        )
    return batch.labels
