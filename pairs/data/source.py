"""Sources: what a data spec yields. Index at start, read one item on demand.

The interface (other modules, ``pairs embed``, ``pairs pack`` and the readers of every domain rely on it):

A **source** is a map-style :class:`torch.utils.data.Dataset`, an instance of :class:`Source`:

* ``len(source)``: the number of items, known once the source is built (building it *indexes* the data:
  paths, byte offsets, row numbers, window positions; nothing is decoded).
* ``source[i]`` (``0 <= i < len``): item ``i`` decoded *deterministically* (the evaluation form: the
  centre/whole image at the training size, the ``i``-th sequential audio window, line ``i``). Tensor domains
  (image, audio, series) return a tensor of the fixed shape ``source.sample_shape`` (image ``(C, H, W)``
  float32 in [0, 1], audio ``(1, T)``, series ``(C, T)``); text returns a ``str``; graphs a PyG ``Data``.
  Items must be picklable and independent of any global state, because ``DataLoader`` workers (separate
  processes) call it.
* ``source.train_item(i, generator)``: item ``i`` decoded for *training*, where a recipe randomises at
  decode time (a random resized crop read straight from the file, a random window of a long recording).
  ``generator`` is a CPU ``torch.Generator`` seeded from ``(seed, epoch, i)`` by the loader, so the draw
  does not depend on the worker that runs it. Same shape as ``source[i]``. Default: ``source[i]``.
* ``source.item_id(i)``: a stable, human-readable id of item ``i`` that maps it back to the data: an
  absolute path (``/data/imgs/cat/1.png``), ``path#window`` (``/data/rec.flac#12``), ``path:line``
  (``/data/corpus.txt:1041``, 1-based), ``path:row`` (``/data/x.csv:17``, 0-based data row), or
  ``name:split:position`` for data that ships in packages (``digits:train:3``).
* ``source.labels``: ``(len,)`` int64 tensor of class labels, or ``None`` for unlabeled data. Known at
  index time (folder names, a label column, a labels file), so no item is decoded to learn it.
* ``source.classes``: class names (``classes[label]``), ``[]`` when unknown or unlabeled.
* ``source.domain``: ``"image"``, ``"audio"``, ``"text"``, ``"series"`` or ``"graph"``.
* ``source.sample_shape``: the fixed shape of every item for tensor domains, ``None`` otherwise.
* ``source.in_memory``: ``True`` when the whole set already sits in RAM (:class:`InMemorySource`: the sets
  that ship in packages). Those also have ``source.take(index)`` returning a whole batch at once, and
  ``source.data`` (the tensor or list), so the loader indexes them directly instead of using workers.
* ``source.info``: free-form facts (root folder, sample rate, file count, ...), shown by ``pairs data``.

A :class:`~pairs.data.DataBundle`'s ``train`` and ``test`` hold sources (streamed readers) or, for data that
ships in packages, the in-memory tensor/list; :func:`as_source` turns either into a :class:`Source`, and
:func:`take` / :func:`sample_shape` / :func:`n_items` work on both. The loader
(:class:`pairs.pairing.ViewLoader`) takes either: a streamed source is read by ``DataLoader`` workers
(``--workers N``) with a seeded batch sampler whose order is a function of ``(seed, epoch)``; each batch is
collated to a fixed shape, moved to the device, and the domain's batched view runs there once per batch.
:func:`pairs.eval.extract_features` reads sources the same way (in order, ``source[i]``, with a progress bar).

Writing a reader: subclass :class:`Source`, index in ``__init__`` (keep only paths/offsets/arrays of ints),
implement ``__len__``, ``__getitem__`` and ``item_id``, set ``domain``, ``labels``, ``classes`` and (tensor
domains) ``sample_shape``; override ``train_item`` when decoding should randomise. Store absolute paths.
Raise :class:`pairs.errors.DataError` naming the expected format for unreadable data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from pairs.errors import ConfigError, DataError

__all__ = [
    "Source",
    "InMemorySource",
    "SubsetSource",
    "evaluation_subset",
    "as_source",
    "take",
    "n_items",
    "sample_shape",
    "is_streamed",
    "item_ids",
    "default_workers",
    "using_workers",
]


class Source(Dataset):
    """Base of every source: a map-style dataset of one domain's items (see the module docstring).

    Subclasses set the class or instance attributes below and implement ``__len__``, ``__getitem__`` and
    ``item_id``.

    Attributes:
        domain: ``"image"``, ``"audio"``, ``"text"``, ``"series"`` or ``"graph"``.
        labels: ``(N,)`` int64 labels, or ``None``.
        classes: class names, ``classes[label]``.
        sample_shape: fixed item shape for tensor domains, else ``None``.
        in_memory: whether the items already sit in RAM.
        info: free-form facts about the data.
    """

    domain: str = ""
    labels: Tensor | None = None
    classes: list[str] = []
    sample_shape: tuple[int, ...] | None = None
    in_memory: bool = False

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, i: int) -> Any:
        raise NotImplementedError

    def item_id(self, i: int) -> str:
        """A stable id of item ``i`` (absolute path, ``path#window``, ``path:line``, ``path:row``)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        """Every item in order, ``source[0], source[1], ...`` (the evaluation form)."""
        for i in range(len(self)):
            yield self[i]

    def train_item(self, i: int, generator: torch.Generator) -> Any:
        """Item ``i`` decoded for training (random crop/window from ``generator``); default ``self[i]``."""
        return self[i]

    def __repr__(self) -> str:
        shape = f", sample_shape={self.sample_shape}" if self.sample_shape is not None else ""
        labeled = "labeled" if self.labels is not None else "unlabeled"
        return f"{type(self).__name__}({len(self)} {self.domain} items, {labeled}{shape})"


class InMemorySource(Source):
    """A source over data already in RAM: a tensor (items along dim 0) or a list (strings, PyG graphs).

    Args:
        data: the items.
        labels: optional ``(N,)`` integer labels.
        domain: the domain of the items.
        name: prefix of the item ids (``"digits:train"`` gives ids ``digits:train:0``, ...).
        classes: class names.

    Raises:
        DataError: when the labels do not match the items.
    """

    in_memory = True

    def __init__(
        self,
        data: Any,
        labels: Tensor | Sequence[int] | None = None,
        *,
        domain: str = "",
        name: str = "memory",
        classes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if isinstance(data, Source):
            raise TypeError("InMemorySource wraps a tensor or a list, not another source")
        self.data = data
        self.domain = domain
        self.name = name
        self.classes = list(classes)
        n = len(data)
        if labels is not None:
            labels = torch.as_tensor(labels)
            if labels.dim() != 1 or len(labels) != n:
                raise DataError(
                    f"{name}: {n} items but labels of shape {tuple(labels.shape)}; expected ({n},)"
                )
            labels = labels.long()
        self.labels = labels
        self.sample_shape = tuple(data.shape[1:]) if isinstance(data, Tensor) else None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Any:
        return self.data[int(i)]

    def item_id(self, i: int) -> str:
        if not 0 <= int(i) < len(self):
            raise IndexError(f"item {i} out of range for {len(self)} items")
        return f"{self.name}:{int(i)}"

    def take(self, index: Sequence[int] | Tensor) -> Any:
        """Items at ``index`` as one batch: a tensor ``(B, ...)`` or a list."""
        if isinstance(self.data, Tensor):
            return self.data.index_select(0, torch.as_tensor(index, dtype=torch.long))
        return [self.data[int(i)] for i in index]


class SubsetSource(Source):
    """Items ``positions`` of another source, in that order (ids, labels and decoding are the parent's).

    Args:
        parent: the source.
        positions: positions in ``parent``.
    """

    def __init__(self, parent: Source, positions: Sequence[int] | Tensor | np.ndarray) -> None:
        super().__init__()
        self.parent = parent
        self.positions = torch.as_tensor(positions, dtype=torch.long)
        self.domain = parent.domain
        self.classes = list(parent.classes)
        self.sample_shape = parent.sample_shape
        self.labels = None if parent.labels is None else parent.labels[self.positions]
        self.info = dict(parent.info)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> Any:
        return self.parent[int(self.positions[int(i)])]

    def train_item(self, i: int, generator: torch.Generator) -> Any:
        return self.parent.train_item(int(self.positions[int(i)]), generator)

    def item_id(self, i: int) -> str:
        return self.parent.item_id(int(self.positions[int(i)]))


def evaluation_subset(data: Any, max_items: int, seed: int = 0) -> Any:
    """At most ``max_items`` items of a streamed source for evaluation, so its memory does not grow with
    the data: a seeded random subset (positions sorted), or ``data`` itself when it is small enough or in
    memory (sets that ship in packages are evaluated whole)."""
    if not is_streamed(data) or len(data) <= max_items:
        return data
    g = torch.Generator().manual_seed(int(seed))
    positions = torch.randperm(len(data), generator=g)[:max_items].sort().values
    return SubsetSource(data, positions)


def as_source(data: Any, labels: Any = None, *, domain: str = "", name: str = "memory") -> Source:
    """``data`` as a :class:`Source` (a source is returned as it is; a tensor or list is wrapped)."""
    if isinstance(data, Source):
        return data
    return InMemorySource(data, labels, domain=domain, name=name)


def is_streamed(data: Any) -> bool:
    """Whether ``data`` is a source read item by item (not already in memory)."""
    return isinstance(data, Source) and not data.in_memory


def n_items(data: Any) -> int:
    """Number of items of a tensor (dim 0), a list or a source."""
    return int(data.shape[0]) if isinstance(data, Tensor) else len(data)


def take(data: Any, index: Sequence[int] | Tensor, collate: Any = None) -> Any:
    """Items at ``index`` of a tensor, list or source, as one batch.

    A tensor gives a tensor ``(B, ...)``; a list a list; an in-memory source what its data gives; a streamed
    source decodes ``source[i]`` for each position (the deterministic form) and collates them (``collate``,
    default: stack tensors, keep anything else as a list).
    """
    if isinstance(data, Tensor):
        return data.index_select(0, torch.as_tensor(index, dtype=torch.long))
    if isinstance(data, InMemorySource):
        return data.take(index)
    items = [data[int(i)] for i in index]
    if collate is not None:
        return collate(items)
    if items and all(isinstance(x, Tensor) for x in items):
        return torch.stack(items)
    return items


def sample_shape(data: Any) -> tuple[int, ...]:
    """The fixed item shape of a tensor ``(N, ...)`` or a tensor-domain source.

    Raises:
        DataError: for data whose items have no fixed shape (text, graphs).
    """
    if isinstance(data, Tensor):
        return tuple(data.shape[1:])
    shape = getattr(data, "sample_shape", None)
    if shape is None:
        raise DataError(f"{type(data).__name__} items have no fixed shape; expected tensor items")
    return tuple(shape)


def item_ids(data: Any, name: str = "memory") -> list[str]:
    """Ids of every item (``source.item_id(i)``; ``name:i`` for a tensor or list)."""
    if isinstance(data, Source):
        return [data.item_id(i) for i in range(len(data))]
    return [f"{name}:{i}" for i in range(n_items(data))]


_WORKERS: ContextVar[int | None] = ContextVar("pairs_workers", default=None)


@contextmanager
def using_workers(workers: int | None) -> Iterator[None]:
    """Within the block, :func:`default_workers` returns ``workers`` (``None``: the core-count default).

    ``pairs train --workers N`` sets it for the whole run, so evaluation reads with the same workers.

    Raises:
        ConfigError: for a negative number.
    """
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 0):
        raise ConfigError(f"workers must be an integer >= 0 (0: decode in the main process), got {workers!r}")
    token = _WORKERS.set(None if workers is None else int(workers))
    try:
        yield
    finally:
        _WORKERS.reset(token)


def default_workers() -> int:
    """Default number of ``DataLoader`` workers: the usable cores minus one for the training loop (at most 8).

    On 1 core this is 0 (items are decoded in the training process). Inside :func:`using_workers`, its number.
    """
    chosen = _WORKERS.get()
    if chosen is not None:
        return chosen
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(8, cores - 1))
