"""WebDataset shards for any domain: ``pairs pack`` writes them, ``wds:`` reads them, torchrun splits them.

**Writing** (:func:`pack`, ``pairs pack --data SPEC --out DIR --shard-size N``): every sample of a data
spec (in memory or a lazy source) goes into uncompressed tar shards written by ``webdataset.ShardWriter``,
``DIR/train-000000.tar, ...`` and ``DIR/test-000000.tar, ...`` for a held-out split, plus ``DIR/meta.json``
(domain, sample counts per shard, class names, the source spec). A sample is a few files sharing a key:

* ``KEY.id.txt``: the item's id (a path, ``path:row12``, ``path#3``; ``SPEC#train17`` for in-memory sets);
* ``KEY.cls``: the integer label, as text (labelled sets only);
* the payload, in an encoding that never pickles: ``KEY.npy`` for tensors (images, series, audio;
  ``np.save(allow_pickle=False)``), ``KEY.txt`` for text (UTF-8), ``KEY.npz`` for graphs (one array per
  tensor attribute: ``edge_index``, ``x``, ``edge_attr``, ``y``, ... and ``num_nodes``).

**Reading** (``wds:DIR`` for a folder written by ``pairs pack``, or ``wds:PATTERN`` with a brace pattern
such as ``wds:/data/shards/train-{000000..000099}.tar``; the domain comes from ``meta.json`` beside the
shards, or ``wds:PATTERN@domain=image`` for shards written by other tools): :class:`ShardSource` indexes
the tar headers at start (no payload read) and decodes one sample on demand, so evaluation and previews
take any sample; only ``.npy``/``.txt``/``.npz``/``.cls`` members are ever decoded, with pickles refused.

**Training** (:class:`ShardLoader`): each epoch streams the shards, in an order shuffled by
``(seed, epoch)``, through webdataset's tar reader and a seeded shuffle buffer. Under ``torch.distributed``
(``torchrun``) the epoch's sample stream is cut into ``world_size`` contiguous ranges: every rank reads only
the shards that overlap its range, takes ``floor(N / global_batch)`` steps (the same on every rank), and
each sample is seen exactly once per epoch across ranks when ``global_batch`` divides ``N``. Within a rank,
``DataLoader`` worker ``w`` decodes steps ``w, w + W, ...``, so the order is the same for any worker count.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset, get_worker_info

from pairs.data.registry import DataBundle, load_data, register_data
from pairs.data.source import Source
from pairs.errors import ConfigError, DataError, DependencyError, OutputError
from pairs.validation import positive_int

__all__ = [
    "DOMAIN_PAYLOAD",
    "META_FILE",
    "ShardLoader",
    "ShardSource",
    "decode_sample",
    "encode_sample",
    "epoch_plan",
    "expand_pattern",
    "pack",
]

log = logging.getLogger("pairs")

META_FILE = "meta.json"
"""The description ``pairs pack`` writes beside its shards."""

FORMAT = "pairs-shards"

DOMAIN_PAYLOAD = {"image": "npy", "series": "npy", "audio": "npy", "text": "txt", "graph": "npz"}
"""The payload file of a sample, per domain."""

_READ = ("id.txt", "cls", "npy", "txt", "npz")
"""The only member kinds ever read (never ``.pyd``/``.pickle``/``.pth``, which would unpickle)."""


# --------------------------------------------------------------------------------------------------
# Encoding a sample (never pickled)
# --------------------------------------------------------------------------------------------------
def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _array(t: Tensor, what: str) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        raise DataError(f"{what}: bfloat16 tensors have no .npy encoding; convert the data to float32 first")
    return t.detach().cpu().contiguous().numpy()


def encode_sample(domain: str, sample: Any) -> dict[str, bytes]:
    """The payload of one sample as ``{extension: bytes}`` (``npy``, ``txt`` or ``npz``).

    Raises:
        DataError: for a sample that does not fit its domain's encoding.
    """
    kind = DOMAIN_PAYLOAD.get(domain)
    if kind == "npy":
        if not isinstance(sample, Tensor):
            raise DataError(f"a {domain} sample must be a tensor to be packed, got {type(sample).__name__}")
        return {"npy": _npy(_array(sample, domain))}
    if kind == "txt":
        if not isinstance(sample, str):
            raise DataError(f"a text sample must be a str to be packed, got {type(sample).__name__}")
        return {"txt": sample.encode("utf-8")}
    if kind == "npz":
        arrays: dict[str, Any] = {}  # np.savez's **kwds (typed as if they could be allow_pickle)
        for key, value in sample.to_dict().items():
            if isinstance(value, Tensor):
                arrays[key] = _array(value, f"graph attribute {key!r}")
        arrays["num_nodes"] = np.asarray(int(sample.num_nodes or 0), dtype=np.int64)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return {"npz": buf.getvalue()}
    raise DataError(f"cannot pack {domain!r} data; packable domains: {', '.join(DOMAIN_PAYLOAD)}")


def decode_sample(domain: str, fields: dict[str, bytes], where: str = "") -> Any:
    """Rebuild a sample from its payload bytes (``allow_pickle=False`` everywhere).

    Raises:
        DataError: when the payload is missing or not a valid ``.npy``/``.npz``/UTF-8 member.
    """
    kind = DOMAIN_PAYLOAD[domain]
    raw = fields.get(kind)
    if raw is None:
        raise DataError(f"{where}: a {domain} sample needs a .{kind} member, found {sorted(fields)}")
    try:
        if kind == "npy":
            return torch.from_numpy(np.load(io.BytesIO(raw), allow_pickle=False).copy())
        if kind == "txt":
            return raw.decode("utf-8")
        from torch_geometric.data import Data

        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        num_nodes = int(arrays.pop("num_nodes", -1))
        data = Data(**{k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
        if num_nodes >= 0 and "x" not in arrays:
            data.num_nodes = num_nodes
        return data
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise DataError(f"{where}: cannot decode the .{kind} member ({type(err).__name__}: {err})") from None


# --------------------------------------------------------------------------------------------------
# Writing shards
# --------------------------------------------------------------------------------------------------
def _item_ids(samples: Any, spec: str, split: str) -> Any:
    if hasattr(samples, "item_id"):
        return samples.item_id
    return lambda i: f"{spec}#{split}{i}"


def _n(samples: Any) -> int:
    return int(samples.shape[0]) if isinstance(samples, Tensor) else len(samples)


def _same(item: Any) -> Any:
    return item


def _items(samples: Any, workers: int | None) -> Iterator[Any]:
    """The samples in order; a streamed source is decoded by ``DataLoader`` workers (order kept)."""
    from torch.utils.data import DataLoader

    from pairs.data.source import default_workers, is_streamed

    workers = default_workers() if workers is None else int(workers)
    if is_streamed(samples) and workers > 0:
        yield from DataLoader(samples, batch_size=None, num_workers=workers, collate_fn=_same)
    else:
        for i in range(_n(samples)):
            yield samples[i]


def pack(
    data: str | DataBundle,
    out: str | Path,
    shard_size: int = 10_000,
    progress: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Write a data spec (or a loaded bundle) into WebDataset tar shards plus ``meta.json``.

    Args:
        data: a data spec (``"digits"``, ``"images:DIR"``, ``"smiles:FILE"``, ...) or a :class:`DataBundle`.
        out: the output folder (created; must not hold shards already).
        shard_size: samples per shard.
        progress: show a progress bar.
        workers: ``DataLoader`` workers decoding a streamed source (default
            :func:`pairs.data.source.default_workers`); in-memory data is read directly.

    Returns:
        The ``meta.json`` content: ``{"format", "version", "domain", "spec", "class_names", "info",
        "splits": {"train": {"n", "labelled", "shards": [{"url", "n"}, ...]}, "test": ...}}``.

    Raises:
        ConfigError: for a shard size below 1.
        OutputError: when ``out`` already holds shards or cannot be written.
        DataError: for data that cannot be encoded.
    """
    import webdataset as wds
    from tqdm.auto import tqdm

    positive_int("shard_size", shard_size)
    bundle = load_data(data) if isinstance(data, str) else data
    out = Path(out).expanduser().resolve()
    if out.exists() and (any(out.glob("*.tar")) or (out / META_FILE).exists()):
        raise OutputError(f"{out} already holds shards; choose an empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {out}: {err.strerror or err}") from None
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "domain": bundle.domain,
        "spec": bundle.spec,
        "class_names": list(
            getattr(bundle.train, "classes", None)
            or bundle.info.get("class_names")
            or bundle.info.get("classes")
            or []
        ),
        "info": json.loads(json.dumps(bundle.info, default=str)),
        "splits": {},
    }
    for split, samples, labels in (
        ("train", bundle.train, bundle.train_labels),
        ("test", bundle.test, bundle.test_labels),
    ):
        if samples is None:
            continue
        n = _n(samples)
        ids = _item_ids(samples, bundle.spec, split)
        shards: list[dict[str, Any]] = []

        def done(fname: str, shards: list[dict[str, Any]] = shards) -> None:
            shards.append({"url": Path(fname).name})

        writer = wds.ShardWriter(
            str(out / f"{split}-%06d.tar"), maxcount=shard_size, verbose=0, mtime=0.0, post=done
        )
        bar = tqdm(total=n, desc=f"packing {split}", disable=not progress, leave=False)
        try:
            for i, item in enumerate(_items(samples, workers)):
                record: dict[str, Any] = {"__key__": f"{split}{i:09d}", "id.txt": str(ids(i)).encode("utf-8")}
                if labels is not None:
                    record["cls"] = str(int(labels[i])).encode("ascii")
                record.update(encode_sample(bundle.domain, item))
                writer.write(record)
                bar.update(1)
        finally:
            writer.close()
            bar.close()
        for k, shard in enumerate(shards):
            shard["n"] = min(shard_size, n - k * shard_size)
        meta["splits"][split] = {"n": n, "labelled": labels is not None, "shards": shards}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return meta


# --------------------------------------------------------------------------------------------------
# Finding and indexing shards
# --------------------------------------------------------------------------------------------------
def expand_pattern(pattern: str) -> list[Path]:
    """Local shard paths from a brace pattern (``train-{000000..000009}.tar``), a folder or one file.

    Only local files are read: webdataset's ``pipe:`` and URL openers are never used.

    Raises:
        DataError: for a pattern naming no existing ``.tar`` file.
    """
    from webdataset.shardlists import expand_urls

    urls = expand_urls(pattern)  # webdataset's own expansion: braces, "::" lists, WDS_ variables
    if any(u.startswith(("pipe:", "http://", "https://", "s3://", "gs://")) or "://" in u for u in urls):
        raise DataError(f"wds:{pattern}: only local shard files are read (no pipes or URLs)")
    paths = [Path(p).expanduser().resolve() for p in urls]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"wds:{pattern}: {len(missing)} of {len(paths)} shard files do not exist (first: {missing[0]}); "
            "expected a folder written by pairs pack or a brace pattern of .tar files"
        )
    return paths


def _scan(path: Path) -> list[tuple[str, dict[str, tuple[int, int]]]]:
    """The samples of one tar shard: ``[(key, {kind: (data_offset, size)})]`` from its headers only."""
    from webdataset.tariterators import base_plus_ext

    samples: list[tuple[str, dict[str, tuple[int, int]]]] = []
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                key, ext = base_plus_ext(member.name)
                if key is None or key.startswith("__"):
                    continue
                ext = ext.lower()
                if not samples or samples[-1][0] != key:
                    samples.append((key, {}))
                samples[-1][1][ext] = (member.offset_data, member.size)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path}: not a readable (uncompressed) tar shard: {err}") from None
    return samples


def _read_meta(folder: Path) -> dict[str, Any] | None:
    path = folder / META_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a pairs shard description (format {FORMAT!r})")
    return meta


class ShardSource(Source):
    """Map-style access to samples in tar shards: headers indexed at start, one sample decoded on demand.

    Args:
        shards: the shard files, in order.
        domain: the samples' domain (see :data:`DOMAIN_PAYLOAD`).

    Attributes:
        counts: samples per shard.
        labels: ``(N,)`` int64 labels read from the ``.cls`` members at start, or ``None`` if any is missing.
        domain: the domain.

    ``source[i]`` is sample ``i`` (shard order, then tar order; ``i`` is the sample's global position, as in
    ``ViewBatch.index`` of :class:`ShardLoader`), ``source.item_id(i)`` the id stored with it. The source
    reopens its files in each process and keeps at most :attr:`OPEN_FILES` of them open.
    """

    OPEN_FILES = 16
    """Shard files kept open per process (the least recently opened is closed first)."""

    def __init__(self, shards: Sequence[Path], domain: str, classes: Sequence[str] = ()) -> None:
        super().__init__()
        if domain not in DOMAIN_PAYLOAD:
            raise DataError(f"unknown shard domain {domain!r}; expected one of {', '.join(DOMAIN_PAYLOAD)}")
        self.shards = [Path(p) for p in shards]
        self.domain = domain
        kind = DOMAIN_PAYLOAD[domain]
        self.counts: list[int] = []
        self._files: dict[int, Any] = {}
        self._pid: int | None = None
        # the index is a few int64 columns per sample, compacted shard by shard (the tar headers of one shard
        # are all that is ever held as Python objects), so memory stays flat in the collection's size
        payload, ids, labels = [], [], []
        all_labelled = True
        for s, path in enumerate(self.shards):
            entries = [m for _, m in _scan(path) if kind in m]
            self.counts.append(len(entries))
            payload.append(np.asarray([m[kind] for m in entries], dtype=np.int64).reshape(-1, 2))
            ids.append(np.asarray([m.get("id.txt", (-1, 0)) for m in entries], dtype=np.int64).reshape(-1, 2))
            all_labelled = all_labelled and all("cls" in m for m in entries)
            if all_labelled:
                labels.append(self._labels_of(s, [m["cls"] for m in entries]))
            del entries
        if not sum(self.counts):
            raise DataError(
                f"the shards hold no {domain} samples (no .{kind} members); first: {self.shards[0]}"
            )
        self._shard = np.repeat(np.arange(len(self.shards), dtype=np.int32), self.counts)
        self._payload = np.concatenate(payload)
        self._id = np.concatenate(ids)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.labels: Tensor | None = torch.from_numpy(np.concatenate(labels)) if all_labelled else None
        self.classes = list(classes)
        first = self[0]
        if domain == "graph":
            self.has_node_features = "x" in first and first.x is not None
            self.num_features = int(first.x.shape[1]) if self.has_node_features else 0
        elif isinstance(first, Tensor):
            self.sample_shape = tuple(first.shape)
        self.info = {"shards": len(self.shards), "first_shard": str(self.shards[0])}

    def _labels_of(self, shard: int, members: list[tuple[int, int]]) -> np.ndarray:
        """The integer labels of one shard's ``.cls`` members ``[(offset, size), ...]``, as ``(n,)`` int64."""
        try:
            return np.asarray(
                [int(self._read(shard, int(o), int(n)).decode("ascii")) for o, n in members], dtype=np.int64
            )
        except (ValueError, UnicodeDecodeError):
            raise DataError(f"{self.shards[shard]}: .cls members must hold integer labels") from None

    def _read(self, shard: int, offset: int, size: int) -> bytes:
        if self._pid != os.getpid():
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(shard)
        if f is None:
            if len(self._files) >= self.OPEN_FILES:
                self._files.pop(next(iter(self._files))).close()
            f = self._files[shard] = open(self.shards[shard], "rb")  # noqa: SIM115 - cached handle
        f.seek(offset)
        return f.read(size)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"], state["_pid"] = {}, None
        return state

    def __len__(self) -> int:
        return len(self._shard)

    def _index(self, i: int) -> int:
        n = len(self)
        i = int(i) + (n if int(i) < 0 else 0)
        if not 0 <= i < n:
            raise IndexError(f"sample {i} out of range for {n} samples")
        return i

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = self._index(i)
        s = int(self._shard[i])
        offset, size = (int(v) for v in self._payload[i])
        payload = self._read(s, offset, size)
        return decode_sample(self.domain, {DOMAIN_PAYLOAD[self.domain]: payload}, f"{self.shards[s]}")

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def item_id(self, i: int) -> str:
        """The id stored with sample ``i`` (``shard.tar#k`` when the shard has none)."""
        i = self._index(i)
        s = int(self._shard[i])
        offset, size = (int(v) for v in self._id[i])
        if offset < 0:
            return f"{self.shards[s]}#{i - int(self.offsets[s])}"
        return self._read(s, offset, size).decode("utf-8")

    def subset(self, indices: Sequence[int]) -> Any:
        """A lazy view of some samples (graphs: a :class:`~pairs.data.graph_formats.GraphSubset`)."""
        from pairs.data.graph_formats import GraphSubset

        return GraphSubset(self, indices)  # type: ignore[arg-type]

    def get(self, i: int) -> Any:
        return self[i]

    def __repr__(self) -> str:
        return f"ShardSource({len(self)} {self.domain} samples in {len(self.shards)} shards)"


# --------------------------------------------------------------------------------------------------
# The epoch plan: which samples each rank and step take
# --------------------------------------------------------------------------------------------------
def _rng(*keys: int) -> random.Random:
    from pairs.views.base import derive_seed

    return random.Random(derive_seed(*keys))


def epoch_plan(
    counts: Sequence[int], global_batch: int, world_size: int, rank: int, seed: int, epoch: int, shuffle: bool
) -> tuple[list[int], int, int, int]:
    """What rank ``rank`` reads in ``epoch``.

    The shards are put in an order drawn from ``(seed, epoch)``; their samples, in that order, form the
    epoch's stream of ``N`` samples, of which the first ``steps * global_batch`` are used
    (``steps = N // global_batch``) and cut into ``world_size`` equal contiguous ranges.

    Returns:
        ``(shard_order, start, stop, steps)``: the epoch's shard order, this rank's range ``[start, stop)``
        of stream positions, and the steps every rank takes.
    """
    order = list(range(len(counts)))
    if shuffle:
        _rng(seed, 0x5A, epoch).shuffle(order)
    total = int(sum(counts))
    steps = total // global_batch
    per_rank = steps * global_batch // world_size
    return order, rank * per_rank, (rank + 1) * per_rank, steps


class _ShardStream(IterableDataset):
    """One rank's batches of one epoch, decoded in ``DataLoader`` workers (see :class:`ShardLoader`)."""

    def __init__(self, loader: ShardLoader, epoch: int, start_step: int) -> None:
        self.loader, self.epoch, self.start_step = loader, epoch, start_step

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(global position, raw sample)`` of this rank's range, read with webdataset's tar reader."""
        from webdataset.tariterators import group_by_keys, tar_file_expander

        src = self.loader.source
        order, start, stop, _ = self.loader.plan(self.epoch)
        pos = 0
        for s in order:
            n = src.counts[s]
            if pos + n <= start or pos >= stop:  # another rank's shard: not even opened
                pos += n
                continue
            with open(src.shards[s], "rb") as stream:
                files = tar_file_expander(
                    [{"url": str(src.shards[s]), "stream": stream}],
                    select_files=lambda name: name.rsplit(".", 1)[-1].lower() in ("txt", "cls", "npy", "npz"),
                )
                k = 0
                for raw in group_by_keys(files):
                    if DOMAIN_PAYLOAD[src.domain] not in raw:
                        continue
                    if start <= pos + k < stop:
                        yield int(src.offsets[s]) + k, raw
                    k += 1
                    if pos + k >= stop:
                        break
            pos += n
            if pos >= stop:
                return

    def __iter__(self) -> Iterator[tuple[Any, Tensor | None, Tensor]]:
        from webdataset.filters import _shuffle

        loader = self.loader
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        records = self._records()
        if loader.shuffle:
            bufsize = loader.shuffle_buffer
            records = _shuffle(
                records, bufsize, bufsize, rng=_rng(loader.seed, 0x5B, self.epoch, loader.rank)
            )
        per = loader.local_batch
        _, _, _, steps = loader.plan(self.epoch)
        batch: list[tuple[int, dict[str, Any]]] = []
        step = 0
        for record in records:
            if step % n_workers == worker and step >= self.start_step:
                batch.append(record)
            else:
                batch.append((record[0], {}))  # another worker's step: counted, not decoded
            if len(batch) == per:
                if step % n_workers == worker and step >= self.start_step:
                    yield loader.decode_batch(batch)
                batch, step = [], step + 1
                if step >= steps:
                    return


class ShardLoader:
    """Batches of views from tar shards, streamed per rank: the trainer's loader for ``wds:`` data.

    The interface of :class:`pairs.pairing.ViewLoader` (``set_epoch``, ``len`` = steps per epoch,
    iteration yields :class:`~pairs.pairing.ViewBatch`) over :class:`ShardSource` shards; see the module
    docstring for the split over ranks and workers. ``ViewBatch.index`` holds the samples' global positions.

    Args:
        source: the shards (a :class:`ShardSource`).
        view: a view, ``n_views`` views, or a multi-view producer (see :func:`pairs.pairing.make_views`).
        n_views: views per sample.
        batch_size: the *global* batch size (``batch_size / world_size`` per rank).
        seed: seed of the shard order, the shuffle buffer and the views.
        shuffle: shuffle shard order and samples each epoch.
        shuffle_buffer: samples held by the shuffle buffer.
        device: where views are made.
        collate: turns a list of samples into a batch (default :func:`pairs.pairing.collate_samples`).
        labels: pass the ``.cls`` labels through in each batch.
        workers: ``DataLoader`` workers decoding samples (0: in this process).
        rank, world_size: default from ``torch.distributed``.

    Raises:
        ConfigError: when the batch size does not divide over the ranks, or exceeds the data.
    """

    def __init__(
        self,
        source: ShardSource,
        view: Any,
        n_views: int = 2,
        batch_size: int = 256,
        seed: int = 0,
        shuffle: bool = True,
        shuffle_buffer: int = 1000,
        device: torch.device | str = "cpu",
        collate: Any = None,
        labels: bool = False,
        workers: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        from pairs.losses.distributed import rank as dist_rank
        from pairs.losses.distributed import world_size as dist_world_size
        from pairs.pairing import collate_samples

        self.rank = dist_rank() if rank is None else int(rank)
        self.world_size = dist_world_size() if world_size is None else int(world_size)
        if batch_size < 1 or batch_size % self.world_size:
            raise ConfigError(
                f"batch_size {batch_size} must be a positive multiple of the number of processes "
                f"({self.world_size})"
            )
        if batch_size > len(source):
            raise ConfigError(f"batch_size {batch_size} is larger than the shards' {len(source)} samples")
        self.source, self.view, self.n_views = source, view, n_views
        self.batch_size, self.local_batch = batch_size, batch_size // self.world_size
        self.seed, self.shuffle, self.shuffle_buffer = int(seed), shuffle, int(shuffle_buffer)
        self.device = torch.device(device)
        self.collate = collate or collate_samples
        self.labels = labels and source.labels is not None
        self.workers = int(workers)
        self.epoch, self.start_step = 0, 0

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Select the epoch (its shard order, shuffle and views); skip its first ``start_step`` steps."""
        self.epoch, self.start_step = int(epoch), int(start_step)

    def plan(self, epoch: int) -> tuple[list[int], int, int, int]:
        """:func:`epoch_plan` for this loader's rank."""
        return epoch_plan(
            self.source.counts, self.batch_size, self.world_size, self.rank, self.seed, epoch, self.shuffle
        )

    def __len__(self) -> int:
        return len(self.source) // self.batch_size

    def decode_batch(self, batch: list[tuple[int, dict[str, Any]]]) -> tuple[Any, Tensor | None, Tensor]:
        """Decode and collate raw samples (runs in a worker): ``(batch, labels or None, positions)``."""
        domain = self.source.domain
        samples = [decode_sample(domain, raw, raw.get("__url__", "")) for _, raw in batch]
        labels = None
        if self.labels:
            labels = torch.tensor([int(raw["cls"].decode("ascii")) for _, raw in batch], dtype=torch.long)
        positions = torch.tensor([p for p, _ in batch], dtype=torch.long)
        if domain in ("image", "series", "audio"):
            return torch.stack(samples), labels, positions
        return self.collate(samples), labels, positions

    def __iter__(self) -> Iterator[Any]:
        from torch.utils.data import DataLoader

        from pairs.pairing import ViewBatch, make_views, move_to
        from pairs.views.base import derive_seed

        stream = _ShardStream(self, self.epoch, self.start_step)
        if self.workers > 0:
            batches: Any = DataLoader(
                stream, batch_size=None, num_workers=self.workers, persistent_workers=False
            )
        else:
            batches = stream
        for step, (raw, labels, positions) in enumerate(batches, start=self.start_step):
            raw = move_to(raw, self.device)
            gen = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, step, self.rank))
            views = make_views(self.view, raw, self.n_views, gen)
            yield ViewBatch(views, None if labels is None else labels.to(self.device), positions)


# --------------------------------------------------------------------------------------------------
# The wds: spec
# --------------------------------------------------------------------------------------------------
def _split_options(arg: str) -> tuple[str, dict[str, str]]:
    head, sep, tail = arg.rpartition("@")
    if sep and tail.startswith("domain="):
        return head, {"domain": tail.partition("=")[2].strip()}
    return arg, {}


def load_shards(arg: str | None) -> DataBundle:
    """The ``wds:`` loader: ``wds:DIR`` (written by ``pairs pack``) or ``wds:PATTERN[@domain=NAME]``."""
    if not arg:
        raise DataError(
            "wds needs a folder or a brace pattern of shards: wds:DIR or wds:DIR/train-{0..9}.tar"
        )
    try:
        import webdataset  # noqa: F401
    except ImportError as err:
        raise DependencyError(
            f"wds: data needs the webdataset package ({err}): pip install webdataset"
        ) from None
    text, options = _split_options(arg.strip())
    folder = Path(text).expanduser()
    meta = None
    if folder.is_dir():
        meta = _read_meta(folder.resolve())
        if meta is None:
            raise DataError(
                f"{folder}: no {META_FILE} (written by pairs pack); give a brace pattern of .tar files"
            )
        base = folder.resolve()
        train_paths = [base / s["url"] for s in meta["splits"].get("train", {}).get("shards", [])]
        test_paths = [base / s["url"] for s in meta["splits"].get("test", {}).get("shards", [])]
        for p in train_paths + test_paths:
            if not p.is_file():
                raise DataError(f"{base}: shard {p.name} listed in {META_FILE} is missing")
        spec = f"wds:{base}"
    else:
        train_paths = expand_pattern(text)
        test_paths = []
        meta = _read_meta(train_paths[0].parent)
        spec = f"wds:{Path(text).expanduser().resolve().parent / Path(text).name}"
    domain = options.get("domain") or (meta or {}).get("domain")
    if domain is None:
        raise DataError(
            f"wds:{arg}: no {META_FILE} beside the shards says their domain; add @domain=NAME "
            f"({', '.join(DOMAIN_PAYLOAD)})"
        )
    if options:
        spec += f"@domain={domain}"
    classes = list((meta or {}).get("class_names") or [])
    train = ShardSource(train_paths, domain, classes)
    test = ShardSource(test_paths, domain, classes) if test_paths else None
    info = dict((meta or {}).get("info") or {})
    info.update(
        {
            "source": f"{len(train_paths)} train shards",
            "shards": True,
            "packed_from": (meta or {}).get("spec"),
        }
    )
    info["class_names"] = (meta or {}).get("class_names") or info.get("class_names") or []
    bundle = DataBundle(spec, domain, train, train.labels, test, None if test is None else test.labels, info)
    bundle.shards = train  # type: ignore[attr-defined]  # the trainer streams these (ShardLoader)
    return bundle


register_data(
    "wds",
    load_shards,
    domain="any",
    description="WebDataset tar shards written by pairs pack (wds:DIR), or a brace pattern of .tar files "
    "(wds:DIR/train-{000000..000009}.tar[@domain=image])",
    argument="DIR|PATTERN",
)
