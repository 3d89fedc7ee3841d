"""Turn samples into training examples: N views of each sample, labeled Siamese pairs, triplets.

Two paths, both reproducible from a seed alone (no generator state to save, so a resumed run draws the
same views as an unbroken one):

* **Per-sample datasets** (:class:`MultiViewDataset`, :class:`SiamesePairDataset`, :class:`TripletDataset`)
  for a ``torch.utils.data.DataLoader`` (workers, any sampler). Sample ``i`` of epoch ``e`` draws from a
  generator seeded with ``derive_seed(seed, e, i)``, whatever worker or order fetches it. Collate with
  :func:`collate_views`, :func:`collate_pairs`, :func:`collate_triplets`.
* **The batched loader** (:class:`ViewLoader`): shuffles with a seeded permutation per epoch, collates a
  batch, moves it to the device and applies the view to the *whole batch at once* (one vectorised call,
  every example with its own parameters), drawing from ``derive_seed(seed, epoch, step, rank)``. This is
  the fast path the trainer uses; under ``torch.distributed`` each rank takes its slice of every global
  batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor
from torch.utils.data import Dataset

from pairs.data.registry import n_samples, take_samples
from pairs.data.source import InMemorySource, Source, default_workers, is_streamed
from pairs.errors import ConfigError, DataError, DataTypeError
from pairs.memory import keep_freed_memory
from pairs.protocols import is_multi_view
from pairs.views.base import View, derive_seed

__all__ = [
    "ViewBatch",
    "MultiViewDataset",
    "SiamesePairDataset",
    "TripletDataset",
    "ViewLoader",
    "collate_samples",
    "collate_views",
    "collate_pairs",
    "collate_triplets",
    "move_to",
    "make_views",
]


@dataclass
class ViewBatch:
    """A training batch of views.

    Attributes:
        views: ``n_views`` batches, one per view (tensors ``(B, ...)``, lists, or domain batches).
        labels: ``(B,)`` labels when the data has them, else ``None``.
        index: ``(B,)`` positions of the samples in the dataset.
    """

    views: list[Any]
    labels: Tensor | None
    index: Tensor

    def __len__(self) -> int:
        return len(self.index)


def collate_samples(samples: Sequence[Any]) -> Any:
    """Collate a list of samples into a batch: tensors are stacked, PyG graphs batched, others kept as a list.

    Raises:
        ValueError: for an empty list or tensors of different shapes (with the shapes in the message).
    """
    if len(samples) == 0:
        raise DataError("cannot collate an empty list of samples")
    first = samples[0]
    if isinstance(first, Tensor):
        shapes = {tuple(s.shape) for s in samples}
        if len(shapes) > 1:
            raise DataError(
                f"cannot stack samples of different shapes {sorted(shapes)[:4]}; crop or pad them to one "
                "shape "
                "first (or use a domain collate)"
            )
        return torch.stack(list(samples))
    if type(first).__module__.startswith("torch_geometric"):
        from torch_geometric.data import Batch

        return Batch.from_data_list(list(samples))
    return list(samples)


def move_to(batch: Any, device: torch.device | str) -> Any:
    """Move a batch (tensor, PyG batch, or a list/tuple of them) to ``device``; others stay as they are."""
    if isinstance(batch, (list, tuple)):
        moved = [move_to(b, device) for b in batch]
        return moved if isinstance(batch, list) else tuple(moved)
    to = getattr(batch, "to", None)
    return to(device) if callable(to) else batch


def make_views(view: View | Sequence[View], batch: Any, n_views: int, generator: torch.Generator) -> list:
    """Make the views of one batch.

    Args:
        view: one view used ``n_views`` times; a sequence of ``n_views`` views (asymmetric recipes such as
            BYOL's); or a multi-view producer (:class:`pairs.protocols.MultiViewProducer`:
            ``multi_view = True``, its call returns a list of batches, such as multi-crop), in which case
            ``n_views`` is ignored.
        batch: the batch.
        n_views: number of views.
        generator: source of randomness.

    Returns:
        A list of view batches.
    """
    if is_multi_view(view):
        return list(view(batch, generator))
    views = list(view) if isinstance(view, (list, tuple)) else [cast(View, view)] * n_views
    if len(views) != n_views:
        raise ValueError(
            f"got {len(views)} views for n_views={n_views}; give one view or exactly n_views views"
        )
    return [v(batch, generator) for v in views]


def _generator(*keys: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(derive_seed(*keys))
    return g


def _check_labels(labels: Any, n: int, what: str) -> Tensor:
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or len(labels) != n:
        raise DataError(f"{what} needs labels of shape ({n},), got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise DataTypeError(f"{what} needs integer class labels, got dtype {labels.dtype}")
    return labels.long()


class _EpochDataset(Dataset):
    """A dataset whose random draws depend on (seed, epoch, index) only."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the next epoch's randomness (call once per epoch, as with ``DistributedSampler``)."""
        self.epoch = int(epoch)


class MultiViewDataset(_EpochDataset):
    """Wrap samples so that item ``i`` is ``n_views`` random views of sample ``i`` (and its label).

    Args:
        samples: a tensor (samples along dim 0), a list of samples, or any map-style dataset whose items are
            samples or ``(sample, label)`` tuples.
        view: a view (or ``n_views`` views, or a multi-view producer, see :func:`make_views`).
        n_views: views per sample (default 2, SimCLR).
        labels: optional ``(N,)`` labels (taken from ``(sample, label)`` items when not given).
        seed: seed of every random draw.

    Returns (per item):
        ``(views, label)``: a list of ``n_views`` views of the sample and its label (``-1`` when unlabeled).
    """

    def __init__(
        self, samples: Any, view: View | Sequence[View], n_views: int = 2, labels: Any = None, seed: int = 0
    ) -> None:
        super().__init__(seed)
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        self.samples = samples
        self.view = view
        self.n_views = n_views
        self.labels = None if labels is None else _check_labels(labels, len(samples), "MultiViewDataset")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[list[Any], int]:
        item = self.samples[i]
        label = -1 if self.labels is None else int(self.labels[i])
        if isinstance(item, tuple) and len(item) == 2 and self.labels is None:
            item, label = item[0], int(item[1])
        views = make_views(self.view, item, self.n_views, _generator(self.seed, self.epoch, i))
        return views, label


def collate_views(items: Sequence[tuple[list[Any], int]]) -> ViewBatch:
    """Collate :class:`MultiViewDataset` items into a :class:`ViewBatch` (labels ``None`` if all are -1)."""
    n_views = len(items[0][0])
    views = [collate_samples([item[0][v] for item in items]) for v in range(n_views)]
    labels = torch.tensor([item[1] for item in items], dtype=torch.long)
    return ViewBatch(views, None if bool((labels < 0).all()) else labels, torch.arange(len(items)))


class _LabeledDataset(_EpochDataset):
    """The labeled datasets (:class:`SiamesePairDataset`, :class:`TripletDataset`): samples, their integer
    labels grouped by class, and an optional view applied to each member of an item.

    Args:
        samples: tensor or list of samples.
        labels: ``(N,)`` integer class labels.
        view: optional view applied to each member (a fresh draw each).
        seed: seed of every random draw.
    """

    def __init__(self, samples: Any, labels: Any, view: View | None, seed: int) -> None:
        super().__init__(seed)
        self.samples = samples
        self.labels = _check_labels(labels, n_samples(samples), type(self).__name__)
        self.view = view
        self.by_class = _positions_by_class(self.labels)

    def __len__(self) -> int:
        """Items per epoch (``n_pairs``, ``n_triplets``)."""
        raise NotImplementedError

    def _item_generator(self, i: int, what: str) -> torch.Generator:
        """The generator of item ``i`` of this epoch, after checking that ``i`` is in range (``what``: the
        items' name in the message, ``"pair"`` or ``"triplet"``)."""
        if not 0 <= i < len(self):
            raise IndexError(f"{what} index {i} out of range for {len(self)} {what}s")
        return _generator(self.seed, self.epoch, i)

    def _members(self, positions: Sequence[int], g: torch.Generator) -> list[Any]:
        """The samples at ``positions``, each through the view (drawn from ``g``, in order) if any."""
        out = [self.samples[p] for p in positions]
        if self.view is not None:
            out = [self.view(x, g) for x in out]
        return out


class SiamesePairDataset(_LabeledDataset):
    """Labeled pairs for Siamese training: ``(a, b, similar)`` with a controlled fraction of similar pairs.

    Each epoch, pair ``i`` takes anchor ``i mod N`` and a partner of the same class (``similar = 1``) or of
    another class (``similar = 0``); exactly ``round(positive_fraction * n_pairs)`` pairs are similar, in a
    seeded random order. Label convention: ``similar = 1`` means "same class" (see
    :func:`pairs.losses.contrastive_margin_loss`).

    Args:
        samples: tensor or list of samples.
        labels: ``(N,)`` integer class labels.
        positive_fraction: fraction of similar pairs in [0, 1].
        n_pairs: pairs per epoch (default ``N``).
        view: optional view applied to both members (a fresh draw each).
        seed: seed of every random draw.
    """

    def __init__(
        self,
        samples: Any,
        labels: Any,
        positive_fraction: float = 0.5,
        n_pairs: int | None = None,
        view: View | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(samples, labels, view, seed)
        if not 0.0 <= positive_fraction <= 1.0:
            raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction}")
        self.positive_fraction = float(positive_fraction)
        self.n_pairs = int(n_pairs) if n_pairs is not None else len(self.labels)
        if positive_fraction > 0 and not any(len(p) >= 2 for p in self.by_class.values()):
            raise DataError("similar pairs need a class with at least 2 samples; none has")
        if positive_fraction < 1 and len(self.by_class) < 2:
            raise DataError("dissimilar pairs need at least 2 classes; the labels have 1")

    def __len__(self) -> int:
        return self.n_pairs

    def _is_positive(self) -> Tensor:
        n_pos = round(self.positive_fraction * self.n_pairs)
        flags = torch.zeros(self.n_pairs, dtype=torch.bool)
        flags[:n_pos] = True
        return flags[torch.randperm(self.n_pairs, generator=_generator(self.seed, self.epoch, -1))]

    def __getitem__(self, i: int) -> tuple[Any, Any, int]:
        g = self._item_generator(i, "pair")
        if getattr(self, "_flags_epoch", None) != self.epoch:
            self._flags, self._flags_epoch = self._is_positive(), self.epoch
        similar = bool(self._flags[i])
        anchor = _pick_anchor(i % len(self.labels), self.labels, self.by_class, similar, g)
        partner = _pick_partner(anchor, self.labels, self.by_class, similar, g)
        a, b = self._members([anchor, partner], g)
        return a, b, int(similar)


class TripletDataset(_LabeledDataset):
    """Triplets ``(anchor, positive, negative)``: anchor ``i``, a positive of its class, a negative of another

    Args:
        samples: tensor or list of samples.
        labels: ``(N,)`` integer class labels (anchors of classes with one sample are re-drawn).
        n_triplets: triplets per epoch (default ``N``).
        view: optional view applied to each member (a fresh draw each).
        seed: seed of every random draw.
    """

    def __init__(
        self,
        samples: Any,
        labels: Any,
        n_triplets: int | None = None,
        view: View | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(samples, labels, view, seed)
        if len(self.by_class) < 2 or not any(len(p) >= 2 for p in self.by_class.values()):
            raise DataError("triplets need at least 2 classes and a class with at least 2 samples")
        self.n_triplets = int(n_triplets) if n_triplets is not None else len(self.labels)

    def __len__(self) -> int:
        return self.n_triplets

    def __getitem__(self, i: int) -> tuple[Any, Any, Any]:
        g = self._item_generator(i, "triplet")
        anchor = _pick_anchor(i % len(self.labels), self.labels, self.by_class, True, g)
        positive = _pick_partner(anchor, self.labels, self.by_class, True, g)
        negative = _pick_partner(anchor, self.labels, self.by_class, False, g)
        return tuple(self._members([anchor, positive, negative], g))


def _positions_by_class(labels: Tensor) -> dict[int, Tensor]:
    return {int(c): (labels == c).nonzero().flatten() for c in labels.unique()}


def _randint(n: int, g: torch.Generator) -> int:
    return int(torch.randint(n, (1,), generator=g))


def _pick_anchor(
    i: int, labels: Tensor, by_class: dict[int, Tensor], need_positive: bool, g: torch.Generator
) -> int:
    """Anchor ``i``, or another when ``i`` needs a same-class partner but is alone in its class."""
    if not need_positive or len(by_class[int(labels[i])]) >= 2:
        return i
    usable = torch.cat([p for p in by_class.values() if len(p) >= 2])
    return int(usable[_randint(len(usable), g)])


def _pick_partner(
    anchor: int, labels: Tensor, by_class: dict[int, Tensor], same: bool, g: torch.Generator
) -> int:
    cls = int(labels[anchor])
    if same:
        pool = by_class[cls]
        pool = pool[pool != anchor]
    else:
        pool = (labels != cls).nonzero().flatten()
    return int(pool[_randint(len(pool), g)])


def collate_pairs(items: Sequence[tuple[Any, Any, int]]) -> tuple[Any, Any, Tensor]:
    """Collate :class:`SiamesePairDataset` items into ``(a, b, similar)``, ``similar`` of shape ``(B,)``."""
    a = collate_samples([it[0] for it in items])
    b = collate_samples([it[1] for it in items])
    return a, b, torch.tensor([it[2] for it in items], dtype=torch.long)


def collate_triplets(items: Sequence[tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
    """Collate :class:`TripletDataset` items into ``(anchors, positives, negatives)`` batches."""
    return tuple(collate_samples([it[k] for it in items]) for k in range(3))


class _TrainItems(Dataset):
    """What ``DataLoader`` workers read for :class:`ViewLoader`: key ``(epoch, i)`` -> training item ``i``.

    The decode-time randomness of item ``i`` in epoch ``e`` comes from ``derive_seed(seed, DECODE, e, i)``,
    so it does not depend on which worker reads the item or in which order.
    """

    DECODE = 0xDEC0

    def __init__(self, source: Source, seed: int, tag_step: bool = False) -> None:
        self.source = source
        self.seed = int(seed)
        self.tag_step = tag_step

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: tuple[int, ...]) -> Any:
        epoch, i = key[0], key[1]
        item = self.source.train_item(i, _generator(self.seed, self.DECODE, epoch, i))
        return (key[2], item) if self.tag_step else item


class _ViewsInWorker:
    """Collate of a worker that also makes the batch's views there (CPU training): ``(step, item)`` pairs
    -> the list of view batches of step ``step``, drawn from ``(seed, epoch, step, rank)`` as in the
    training process, so the views are the same wherever they are made."""

    def __init__(self, loader: ViewLoader, epoch: int) -> None:
        self.collate, self.view, self.n_views = loader.collate, loader.view, loader.n_views
        self.seed, self.epoch, self.rank = loader.seed, epoch, loader.rank

    def __call__(self, items: list[tuple[int, Any]]) -> list[Any]:
        step = items[0][0]
        raw = self.collate([item for _, item in items])
        return make_views(self.view, raw, self.n_views, _generator(self.seed, self.epoch, step, self.rank))


class _BatchKeys:
    """Batch sampler of one epoch from step ``start``: lists of ``(epoch, i)`` keys, in the loader's order."""

    def __init__(self, loader: ViewLoader, epoch: int, start: int) -> None:
        self.loader, self.epoch, self.start = loader, epoch, start

    def __len__(self) -> int:
        return max(0, len(self.loader) - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        for step in range(self.start, len(self.loader)):
            yield [(self.epoch, int(i), step) for i in self.loader.batch_indices(step)]


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)  # the workers decode; the training process owns the cores' math threads
    keep_freed_memory()  # each batch's buffers are reused by the next (no page faults; pairs.memory)


class ViewLoader:
    """Batches of views made on the whole batch at once: the trainer's fast, seeded, resumable path.

    The data is a tensor, a list, or a :class:`~pairs.data.source.Source`. In-memory data is indexed
    directly in this process. A streamed source is read by ``torch.utils.data.DataLoader`` workers
    (``workers``), each item decoded with ``source.train_item(i, generator)`` (randomness from
    ``(seed, epoch, i)``), collated into a fixed-shape batch; the batch then moves to ``device`` and the
    view runs there once per batch. The order of epoch ``e`` is a permutation seeded by ``(seed, e)``; the
    views of step ``s`` draw from ``(seed, e, s, rank)``. So the same seed gives the same batches and views,
    and ``set_epoch(e, start_step=s)`` (a resumed run) continues an epoch exactly where it stopped.

    Args:
        samples: a tensor (samples along dim 0), a list of samples, or a source.
        view: a view, ``n_views`` views, or a multi-view producer (see :func:`make_views`).
        n_views: views per sample.
        labels: optional ``(N,)`` labels, passed through in each :class:`ViewBatch`.
        batch_size: the *global* batch size (split across ranks under torch.distributed).
        seed: seed of the shuffling and of every view.
        shuffle: shuffle each epoch (a permutation seeded by ``(seed, epoch)``).
        drop_last: drop the last incomplete batch (default ``True``: contrastive losses want full batches).
        device: where views are made (the batch is moved there before the view runs).
        collate: turns a list of samples into a batch (default :func:`collate_samples`); unused for tensors.
            Runs in the workers for a streamed source, so it must be picklable under a ``spawn`` start.
        rank, world_size: this process's slice of every global batch (default: from torch.distributed).
        workers: ``DataLoader`` worker processes for a streamed source (default
            :func:`~pairs.data.source.default_workers`; 0 decodes in this process). Ignored in memory.
        prefetch: batches each worker reads ahead.
        views_in_workers: when training on the CPU with workers, make each batch's views in the worker
            that read it (one batched call, the same generator as in this process, so the same views),
            so that views of coming batches are made on the other cores while this process trains; on
            an accelerator the views always run there, in this process.

    Yields:
        :class:`ViewBatch` objects.
    """

    def __init__(
        self,
        samples: Any,
        view: View | Sequence[View],
        n_views: int = 2,
        labels: Any = None,
        batch_size: int = 256,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        device: torch.device | str = "cpu",
        collate: Callable[[list], Any] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        workers: int | None = None,
        prefetch: int = 2,
        views_in_workers: bool = True,
    ) -> None:
        if isinstance(samples, InMemorySource):
            samples = samples.data
        n = n_samples(samples)
        if n == 0:
            raise DataError("ViewLoader got no samples")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        from pairs.losses.distributed import rank as dist_rank
        from pairs.losses.distributed import world_size as dist_world_size

        self.rank = dist_rank() if rank is None else int(rank)
        self.world_size = dist_world_size() if world_size is None else int(world_size)
        if batch_size % self.world_size:
            raise ConfigError(
                f"batch_size {batch_size} must be divisible by the number of processes ({self.world_size})"
            )
        self.samples = samples
        self.view = view
        self.n_views = n_views
        self.labels = None if labels is None else _check_labels(labels, n, "ViewLoader")
        self.batch_size = min(batch_size, n) if not drop_last else batch_size
        if drop_last and n < batch_size:
            raise ConfigError(
                f"batch_size {batch_size} is larger than the dataset ({n} samples); "
                f"lower --batch-size to at most {n}"
            )
        self.seed = int(seed)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = torch.device(device)
        self.collate = collate or collate_samples
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.prefetch = int(prefetch)
        self.views_in_workers = bool(views_in_workers)
        self.epoch = 0
        self.start_step = 0
        self._order: Tensor | None = None
        self._order_epoch: int | None = None

    @property
    def streamed(self) -> bool:
        """Whether the samples are read from a source by workers (not indexed in memory)."""
        return is_streamed(self.samples)

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Select the epoch whose permutation and views the next iteration draws.

        Args:
            epoch: the epoch.
            start_step: the first batch the next iteration yields (the batches before it were done before a
                resume); reset to 0 after that iteration.
        """
        if not 0 <= start_step <= len(self):
            raise ValueError(f"start_step must be in [0, {len(self)}], got {start_step}")
        self.epoch = int(epoch)
        self.start_step = int(start_step)

    def __len__(self) -> int:
        n = n_samples(self.samples)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _epoch_order(self) -> Tensor:
        """The current epoch's sample order (drawn once per epoch from ``(seed, epoch)``, then reused)."""
        order = self._order
        if order is None or self._order_epoch != self.epoch:
            n = n_samples(self.samples)
            if self.shuffle:
                order = torch.randperm(n, generator=_generator(self.seed, self.epoch))
            else:
                order = torch.arange(n)
            self._order, self._order_epoch = order, self.epoch
        return order

    def batch_indices(self, step: int) -> Tensor:
        """Dataset positions of this rank's part of global batch ``step`` in the current epoch."""
        batch = self._epoch_order()[step * self.batch_size : (step + 1) * self.batch_size]
        per_rank = math.ceil(len(batch) / self.world_size)
        return batch[self.rank * per_rank : (self.rank + 1) * per_rank]

    def __iter__(self) -> Iterator[ViewBatch]:
        start, self.start_step = self.start_step, 0
        if not self.streamed:
            for step in range(start, len(self)):
                yield self.get_batch(step)
            return
        from torch.utils.data import DataLoader

        self._epoch_order()
        in_workers = self.views_in_workers and self.workers > 0 and self.device.type == "cpu"
        loader = DataLoader(
            _TrainItems(self.samples, self.seed, tag_step=in_workers),
            batch_sampler=_BatchKeys(self, self.epoch, start),
            num_workers=self.workers,
            collate_fn=_ViewsInWorker(self, self.epoch) if in_workers else self.collate,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=_worker_init if self.workers > 0 else None,
            prefetch_factor=self.prefetch if self.workers > 0 else None,
        )
        for step, out in zip(range(start, len(self)), loader):
            index = self.batch_indices(step)
            if in_workers:
                labels = None if self.labels is None else self.labels[index]
                yield ViewBatch(out, labels, index)
            else:
                yield self._make(step, index, out)

    def get_batch(self, step: int) -> ViewBatch:
        """Global batch ``step`` of the current epoch (this rank's slice), with its views.

        For a streamed source the items are decoded here, in this process (the iteration uses workers).
        """
        index = self.batch_indices(step)
        if isinstance(self.samples, Tensor):
            raw = self.samples.index_select(0, index)
        elif self.streamed:
            items = _TrainItems(self.samples, self.seed)
            raw = self.collate([items[(self.epoch, int(i))] for i in index])
        else:
            raw = self.collate(take_samples(self.samples, index))
        return self._make(step, index, raw)

    def _make(self, step: int, index: Tensor, raw: Any) -> ViewBatch:
        raw = move_to(raw, self.device)
        views = make_views(self.view, raw, self.n_views, _generator(self.seed, self.epoch, step, self.rank))
        labels = None if self.labels is None else self.labels[index].to(self.device)
        return ViewBatch(views, labels, index)
