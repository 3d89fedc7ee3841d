"""Items of a data spec, read in batches with their ids and labels: what embed, search and anomaly walk.

:func:`open_items` is the one place that turns a data spec into items; everything downstream reads a batch
at a time (:meth:`Items.batches`), so memory follows the batch (plus whatever the spec's loader keeps).

An item's id is the source's ``item_id`` (an absolute path, ``path#window``, ``path:line``, ``path:row``) for
streamed data, and ``name:split:position`` (``digits:train:12``) for data that ships in packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Subset

from pairs.data.source import InMemorySource, Source
from pairs.errors import ConfigError, DataError

__all__ = ["Items", "open_items", "SPLITS"]

SPLITS = ("all", "train", "test")


@dataclass
class Items:
    """A sequence of raw items of one domain, with ids and optional labels.

    Attributes:
        spec: the data spec (and split) they come from.
        domain: the data's domain.
        parts: ``[(split name, data, positions), ...]``: ``data`` is a tensor (items along dim 0), a list or
            a :class:`~pairs.data.source.Source`; ``positions`` a ``(n,)`` tensor of the items taken from
            it, or ``None`` for all of them.
        labels: ``(N,)`` int64 labels or ``None``.
        classes: class names by label index, when known.
        name: prefix of the ids of in-memory data (``digits`` gives ``digits:train:3``).
    """

    spec: str
    domain: str
    parts: list[tuple[str, Any, Tensor | None]]
    labels: Tensor | None = None
    classes: list[str] | None = None
    name: str = "memory"

    def __len__(self) -> int:
        return sum(_n(d) if pos is None else len(pos) for _, d, pos in self.parts)

    def _locate(self, i: int) -> tuple[str, Any, int]:
        for split, data, pos in self.parts:
            n = _n(data) if pos is None else len(pos)
            if i < n:
                return split, data, (i if pos is None else int(pos[i]))
            i -= n
        raise IndexError(i)

    def item_id(self, i: int) -> str:
        """The id of item ``i``: the source's ``item_id`` (a path, ``path:line``, ...) when the data is a
        source, else ``name:split:position``."""
        split, data, j = self._locate(i)
        if isinstance(data, Source):
            return data.item_id(j)
        return f"{self.name}:{split}:{j}"

    def ids(self) -> list[str]:
        return [self.item_id(i) for i in range(len(self))]

    def item(self, i: int) -> Any:
        """Item ``i`` decoded (the deterministic, evaluation form)."""
        _, data, j = self._locate(i)
        return data[j]

    def batches(self, batch_size: int) -> Iterator[tuple[int, Any]]:
        """``(start, samples)`` for consecutive batches of at most ``batch_size`` items (a tensor or a list),
        in order, never crossing a split boundary; streamed sources are read by ``DataLoader`` workers."""
        from pairs.eval import _batches

        start = 0
        for _, data, pos in self.parts:
            if pos is None:
                view: Any = data
            elif isinstance(data, Tensor):
                view = data.index_select(0, pos)
            elif isinstance(data, InMemorySource):
                view = data.take(pos)
            else:
                view = Subset(data, pos.tolist())
            for samples in _batches(view, batch_size):
                yield start, samples
                start += _n(samples)

    def select(self, keep: Tensor) -> Items:
        """The items where the bool mask ``keep (N,)`` is true (ids stay those of the original items)."""
        keep = keep.bool()
        out: list[tuple[str, Any, Tensor | None]] = []
        offset = 0
        for split, data, pos in self.parts:
            n = _n(data) if pos is None else len(pos)
            chosen = keep[offset : offset + n].nonzero().flatten()
            out.append((split, data, chosen if pos is None else pos[chosen]))
            offset += n
        labels = None if self.labels is None else self.labels[keep]
        return Items(self.spec, self.domain, out, labels, self.classes, self.name)


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
    parts: list[tuple[str, Any, Tensor | None]] = []
    labels: list[Tensor | None] = []
    if split in ("all", "train"):
        parts.append(("train", bundle.train, None))
        labels.append(_labels_of(bundle.train, bundle.train_labels))
    if split in ("all", "test") and bundle.test is not None:
        parts.append(("test", bundle.test, None))
        labels.append(_labels_of(bundle.test, bundle.test_labels))
    if not parts:
        raise ConfigError(f"{spec!r} has no held-out split; use --split all or train")
    all_labels = None if any(y is None for y in labels) else torch.cat([y.long() for y in labels])  # type: ignore[union-attr]
    classes = bundle.info.get("classes") or getattr(bundle.train, "classes", None) or None
    title = spec if split == "all" else f"{spec} ({split})"
    return Items(title, bundle.domain, parts, all_labels, list(classes) if classes else None, spec)


def _labels_of(data: Any, labels: Tensor | None) -> Tensor | None:
    if labels is None and isinstance(data, Source):
        return data.labels
    return labels
