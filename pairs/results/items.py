"""Items of a data spec, read in batches with their ids and labels: what embed, search and anomaly walk.

:func:`open_items` is the one place that turns a data spec into items; everything downstream reads a batch
at a time (:meth:`Items.batches`), so memory follows the batch (plus whatever the spec's loader keeps).

An item's id is its split and position (``train/12``, ``test/3``), or the file path when the data knows
one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from pairs.errors import ConfigError, DataError

__all__ = ["Items", "open_items", "SPLITS"]

SPLITS = ("all", "train", "test")


@dataclass
class Items:
    """A sequence of raw items of one domain, with ids and optional labels.

    Attributes:
        spec: the data spec (and split) they come from.
        domain: the data's domain.
        parts: ``[(split name, samples), ...]``: tensors with items along dim 0, or lists.
        labels: ``(N,)`` int64 labels or ``None``.
        paths: per-item file paths when known, else ``None``.
        classes: class names by label index, when known.
    """

    spec: str
    domain: str
    parts: list[tuple[str, Any]]
    labels: Tensor | None = None
    paths: list[str] | None = None
    classes: list[str] | None = None

    def __len__(self) -> int:
        return sum(_n(s) for _, s in self.parts)

    def item_id(self, i: int) -> str:
        """The id of item ``i``: its path when known, else ``split/position``."""
        if self.paths is not None:
            return self.paths[i]
        for name, samples in self.parts:
            if i < _n(samples):
                return f"{name}/{i}"
            i -= _n(samples)
        raise IndexError(i)

    def ids(self) -> list[str]:
        return [self.item_id(i) for i in range(len(self))]

    def batches(self, batch_size: int) -> Iterator[tuple[int, Any]]:
        """``(start, samples)`` for consecutive batches of at most ``batch_size`` items (a tensor slice or a
        list), never crossing a split boundary."""
        start = 0
        for _, samples in self.parts:
            n = _n(samples)
            for s in range(0, n, batch_size):
                chunk = samples[s : s + batch_size]
                yield start + s, chunk
            start += n

    def select(self, keep: Tensor) -> Items:
        """The items where the bool mask ``keep (N,)`` is true (parts become one list or tensor)."""
        keep = keep.bool()
        out: list[tuple[str, Any]] = []
        offset = 0
        ids = self.ids()
        for name, samples in self.parts:
            n = _n(samples)
            mask = keep[offset : offset + n]
            idx = mask.nonzero().flatten()
            if isinstance(samples, Tensor):
                out.append((name, samples.index_select(0, idx)))
            else:
                out.append((name, [samples[int(j)] for j in idx]))
            offset += n
        labels = None if self.labels is None else self.labels[keep]
        kept_ids = [ids[i] for i in keep.nonzero().flatten().tolist()]
        return Items(self.spec, self.domain, out, labels, kept_ids, self.classes)


def _n(samples: Any) -> int:
    return int(samples.shape[0]) if isinstance(samples, Tensor) else len(samples)


def open_items(spec: str, split: str = "all") -> Items:
    """The items of a data spec.

    Args:
        spec: a data spec (``pairs data`` lists them).
        split: ``"all"`` (train then test), ``"train"`` or ``"test"``.

    Returns:
        :class:`Items`.

    Raises:
        ConfigError: an unknown split, or a split the data does not have.
        DataError: an unknown or unreadable data spec; node-level graph data (one graph: embed its nodes
            with ``pairs.load_encoder`` instead).
    """
    from pairs.data import load_data

    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    try:
        bundle = load_data(spec)
    except ValueError as err:
        if isinstance(err, DataError):
            raise
        raise DataError(str(err)) from err
    if bundle.domain == "graph" and bundle.info.get("level") == "node":
        raise DataError(
            f"{spec!r} is one graph whose nodes are the items; embed its nodes in Python with "
            "pairs.load_encoder(RUN) (encoder(encoder.preprocess(graph)) gives one vector per node)"
        )
    parts: list[tuple[str, Any]] = []
    labels: list[Tensor | None] = []
    if split in ("all", "train"):
        parts.append(("train", bundle.train))
        labels.append(bundle.train_labels)
    if split in ("all", "test") and bundle.test is not None:
        parts.append(("test", bundle.test))
        labels.append(bundle.test_labels)
    if not parts:
        raise ConfigError(f"{spec!r} has no held-out split; use --split all or train")
    all_labels = None if any(y is None for y in labels) else torch.cat([y.long() for y in labels])  # type: ignore[union-attr]
    classes = bundle.info.get("classes") or None
    name = spec if split == "all" else f"{spec} ({split})"
    return Items(name, bundle.domain, parts, all_labels, None, list(classes) if classes else None)
