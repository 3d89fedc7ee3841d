"""Embeddings of a data spec from a trained run, in batches, written as ``.npy`` (a memory map) or
``.parquet`` (vectors with each item's id and label): what ``pairs embed`` calls.

>>> from pairs.results import embed  # doctest: +SKIP
>>> embed("runs/digits", "digits", "digits.npy")  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pairs.errors import ConfigError, DataError, DependencyError, OutputError
from pairs.frozen import frozen
from pairs.results.items import Items, open_items
from pairs.results.loading import preprocess_of

__all__ = ["MODES", "embed", "encode_batches", "encode_items", "check_domain", "write_vectors"]

MODES = ("pooled", "per_step")
OUT_SUFFIXES = (".npy", ".parquet")


def has_per_step(encoder: nn.Module) -> bool:
    """Whether the encoder gives one vector per time step as well as a pooled one (series encoders with
    ``forward(x, pooled=False)``, CPC's context network)."""
    if callable(getattr(encoder, "sequences", None)):
        return True
    try:
        return "pooled" in inspect.signature(encoder.forward).parameters
    except (TypeError, ValueError):
        return False


def _forward(encoder: nn.Module, batch: Any, mode: str) -> Tensor:
    if mode == "pooled":
        return encoder(batch)
    sequences = getattr(encoder, "sequences", None)
    if callable(sequences):
        return sequences(batch)[1]  # CPC: the context at every step, (B, T', H)
    return encoder(batch, pooled=False)  # (B, T, D)


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor) or hasattr(batch, "to"):
        return batch.to(device)
    return batch


def encode_batches(
    encoder: nn.Module,
    items: Items,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    mode: str = "pooled",
) -> Iterator[tuple[int, Tensor]]:
    """Encode items batch by batch: ``(start, features)`` with float32 CPU features ``(B, D)`` (pooled) or
    ``(B, T', D)`` (per step).

    Args:
        encoder: a loaded encoder with its ``preprocess`` (:func:`pairs.results.load_encoder`).
        items: what to encode (:func:`pairs.results.items.open_items`).
        batch_size: items per forward pass (default: the batch size of the run's evaluation, which gives
            the run's features bit for bit).
        device: where the encoder runs.
        mode: ``"pooled"`` or ``"per_step"``.

    Raises:
        ConfigError: ``per_step`` for an encoder without per-step outputs, an unknown mode.
        DataError: items of another domain than the encoder's.
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "per_step" and not has_per_step(encoder):
        raise ConfigError(
            f"{type(encoder).__name__} gives one vector per item only; --per-step needs a series encoder "
            "(forward(x, pooled=False)) or a CPC model"
        )
    preprocess = preprocess_of(encoder)
    check_domain(encoder, items)
    batch_size = int(batch_size or preprocess.batch_size)
    dev = torch.device(device)
    with frozen(encoder, dev):  # eval mode, no grad, on dev; mode and device restored (also on errors)
        for start, samples in items.batches(batch_size):
            out = _forward(encoder, _to(preprocess(samples), dev), mode)
            yield start, out.detach().to("cpu", torch.float32)


def check_domain(encoder: nn.Module, items: Items) -> None:
    """Raise :class:`DataError` when the items are not of the encoder's domain."""
    domain = preprocess_of(encoder).domain
    if items.domain != domain:
        raise DataError(
            f"the run's encoder takes {domain} data, but {items.spec!r} is {items.domain} data; "
            f"give {'an' if domain[0] in 'aeiou' else 'a'} {domain} data spec (see `pairs data`)"
        )


def encode_items(encoder: nn.Module, items: Items, **kwargs: Any) -> Tensor:
    """All features of ``items`` in memory (``(N, D)``); see :func:`encode_batches` for the arguments."""
    return torch.cat([f for _, f in encode_batches(encoder, items, **kwargs)])


def _check_out(out: str | os.PathLike, overwrite: bool = True) -> Path:
    path = Path(out).expanduser()
    if path.suffix.lower() not in OUT_SUFFIXES:
        raise ConfigError(f"--out must end in .npy or .parquet, got {out}")
    if not path.parent.exists():
        raise OutputError(f"folder {path.parent} does not exist; create it first")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; remove it or choose another --out")
    return path


class VectorWriter:
    """Writes rows of vectors (and per-item columns) to ``.npy`` or ``.parquet`` batch by batch, so memory
    stays one batch whatever the collection's size.

    ``.npy``: the header (dtype float32, shape ``(n, ...)``) is written first, then each batch's rows are
    written at their offset with plain file writes, so the file can be opened as a memory map
    (``np.load(path, mmap_mode="r")``) while the writer itself maps nothing (pages of a mapped output would
    count in the process's resident memory and grow with the collection). Each item's id, label and other
    columns go to ``<stem>.items.jsonl`` next to it, one JSON object per line in row order.
    ``.parquet``: one row group per batch (``pyarrow.parquet.ParquetWriter``), ids and labels as columns.

    Args:
        path: the output file.
        n: the number of rows that will be written.
    """

    def __init__(self, path: Path, n: int) -> None:
        self.path, self.n = path, n
        self._npy: Any = None  # (file, offset of the data, bytes per row)
        self._pq: Any = None
        self._side: Any = None

    @property
    def side_path(self) -> Path:
        return self.path.with_suffix(".items.jsonl")

    def write(
        self,
        start: int,
        vectors: np.ndarray | None,
        ids: list[str],
        labels: list[int] | None,
        columns: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Write rows ``start .. start + len(ids)``."""
        columns = columns or {}
        if self.path.suffix.lower() == ".npy":
            if vectors is not None:
                self._write_npy(start, vectors)
            if self._side is None:
                self._side = open(self.side_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            for j, item_id in enumerate(ids):
                row: dict[str, Any] = {"id": item_id}
                if labels is not None:
                    row["label"] = int(labels[j])
                row.update({k: float(v[j]) for k, v in columns.items()})
                self._side.write(json.dumps(row) + "\n")
            return
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as err:
            raise DependencyError(
                "writing .parquet needs pyarrow: pip install pyarrow (or pip install 'pairs[results]'), "
                "or write .npy"
            ) from err
        cols: dict[str, Any] = {"id": pa.array(ids, pa.string())}
        if labels is not None:
            cols["label"] = pa.array(labels, pa.int64())
        for k, v in columns.items():
            cols[k] = pa.array(np.asarray(v, dtype=np.float64))
        if vectors is not None:
            flat = np.ascontiguousarray(vectors.reshape(len(vectors), -1), dtype=np.float32)
            cols["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])
        table = pa.table(cols)
        if self._pq is None:
            shape = list(vectors.shape[1:]) if vectors is not None else []
            self._pq = pq.ParquetWriter(
                self.path, table.schema.with_metadata({"pairs.shape": json.dumps(shape)})
            )
        self._pq.write_table(table)

    def _write_npy(self, start: int, vectors: np.ndarray) -> None:
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._npy is None:
            fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            np.lib.format.write_array_header_1_0(
                fh,
                {
                    "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                    "fortran_order": False,
                    "shape": (self.n, *rows.shape[1:]),
                },
            )
            row_bytes = int(np.prod(rows.shape[1:], dtype=np.int64)) * 4
            self._npy = (fh, fh.tell(), row_bytes, tuple(rows.shape[1:]))
            fh.truncate(self._npy[1] + self.n * row_bytes)  # the full size at once (sparse until written)
        fh, offset, row_bytes, shape = self._npy
        if tuple(rows.shape[1:]) != shape or not 0 <= start <= self.n - len(rows):
            raise ValueError(
                f"rows {start}..{start + len(rows)} of shape {tuple(rows.shape[1:])} do not fit a file of "
                f"{self.n} rows of shape {shape}"
            )
        fh.seek(offset + start * row_bytes)
        fh.write(rows.tobytes())

    def close(self) -> Path | None:
        """Finish the file; returns the side file of ids for ``.npy`` (``None`` for parquet)."""
        if self._pq is not None:
            self._pq.close()
            return None
        if self._npy is not None:
            self._npy[0].close()
            self._npy = None
        if self._side is not None:
            self._side.close()
            self._side = None
            return self.side_path
        return None


def write_vectors(path: Path, n: int) -> VectorWriter:
    return VectorWriter(path, n)


def embed(
    run: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    *,
    split: str = "all",
    mode: str = "pooled",
    batch_size: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Write one vector per item of ``data`` (``(N, D)``; per step ``(N, T', D)``) encoded by a run.

    Args:
        run: run directory or its ``checkpoint.pt``.
        data: data spec of the run's domain.
        out: ``.npy`` (a memory map written batch by batch; ids and labels in ``<stem>.items.jsonl``) or
            ``.parquet`` (columns ``id``, ``label`` when known, ``embedding``).
        split: ``all``, ``train`` or ``test``.
        mode: ``pooled`` or ``per_step``.
        batch_size: items per forward pass (default: the run's evaluation batch size).
        device: where the encoder runs.

    Returns:
        ``{"out", "n", "shape", "ids_file"}``.

    Raises:
        CheckpointError, DataError, ConfigError, OutputError, DependencyError: see the messages.
    """
    from pairs.results.loading import load_encoder
    from pairs.train import resolve_device

    path = _check_out(out)
    dev = resolve_device(device)
    encoder = load_encoder(run, dev)
    items = open_items(data, split)
    check_domain(encoder, items)
    writer = VectorWriter(path, len(items))
    labels = items.labels
    shape: tuple[int, ...] = ()
    try:
        for start, feats in encode_batches(encoder, items, batch_size=batch_size, device=dev, mode=mode):
            n = len(feats)
            shape = tuple(feats.shape[1:])
            writer.write(
                start,
                feats.numpy(),
                [items.item_id(i) for i in range(start, start + n)],
                None if labels is None else labels[start : start + n].tolist(),
            )
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err}") from err
    side = writer.close()
    return {"out": str(path), "n": len(items), "shape": [len(items), *shape], "ids_file": side and str(side)}
