"""Similarity search with a trained run: an index of a data spec's embeddings, exact by default (batched
matrix products over chunks of the index, bounded memory) or through FAISS (``pip install faiss-cpu``) for
collections too large for exact search. What ``pairs search`` calls.

The index is L2-normalised float32 vectors (cosine similarity = dot product), the items' ids and labels.
Saved next to the run (``RUN/index/<name>/``: ``vectors.npy``, ``items.jsonl``, ``meta.json``) it is read
back as a memory map, so searching it needs memory for one chunk, not the whole collection.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pairs.errors import ConfigError, DataError, DependencyError
from pairs.results.embedding import VectorWriter, check_domain, encode_batches
from pairs.results.items import Items, open_items
from pairs.validation import positive_int

__all__ = ["EmbeddingIndex", "build_index", "index_dir", "search", "exact_topk", "BACKENDS"]

BACKENDS = ("exact", "faiss")
MAX_BLOCK = 1 << 24
"""Largest score block (queries x index rows) computed at once: 16M floats, 64 MB."""


def _normalise(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).eps)


def exact_topk(
    queries: Tensor, vectors: np.ndarray | Tensor, k: int, *, chunk_rows: int | None = None
) -> tuple[Tensor, Tensor]:
    """Exact top-``k`` by dot product of (normalised) queries against index rows, over chunks of the index.

    Memory is one ``(Q_block, chunk_rows)`` score block plus the running top-k, whatever the index size
    (``vectors`` may be a memory-mapped array).

    Args:
        queries: ``(Q, D)`` float32.
        vectors: ``(N, D)`` float32 index rows (numpy, memory map or tensor).
        k: neighbours, ``1 <= k <= N``.
        chunk_rows: index rows per block (default: 65,536 or fewer so that a block stays under 16M scores).

    Returns:
        ``(scores, rows)``, both ``(Q, k)``, best first; ties keep the lower row first.

    Shape:
        ``(Q, D)``, ``(N, D)`` -> ``(Q, k)``, ``(Q, k)``.
    """
    n = int(vectors.shape[0])
    q_rows = max(1, min(len(queries), MAX_BLOCK // 65536))
    chunk = int(chunk_rows or max(1, min(65536, MAX_BLOCK // q_rows)))
    all_s, all_i = [], []
    for qs in range(0, len(queries), q_rows):
        q = queries[qs : qs + q_rows]
        best_s = torch.full((len(q), 0), -float("inf"))
        best_i = torch.zeros((len(q), 0), dtype=torch.long)
        for s in range(0, n, chunk):
            block = vectors[s : s + chunk]
            g = block if isinstance(block, Tensor) else torch.from_numpy(np.array(block, dtype=np.float32))
            sim = q @ g.T
            kk = min(k, sim.shape[1])
            v, i = sim.topk(kk, dim=1)
            cat_s = torch.cat([best_s, v], dim=1)
            cat_i = torch.cat([best_i, i + s], dim=1)
            # stable: earlier (lower) rows first among equal scores
            order = torch.sort(cat_s, dim=1, descending=True, stable=True).indices[:, :k]
            best_s, best_i = cat_s.gather(1, order), cat_i.gather(1, order)
        all_s.append(best_s)
        all_i.append(best_i)
    return torch.cat(all_s), torch.cat(all_i)


class EmbeddingIndex:
    """Normalised embeddings of a collection with their ids and labels, searchable by cosine similarity.

    Args:
        vectors: ``(N, D)`` float32, L2-normalised rows (a numpy array or memory map).
        ids: ``N`` item ids.
        labels: ``(N,)`` int64 labels or ``None``.
        meta: free-form facts (data spec, split, the run's checkpoint).

    Shape:
        :meth:`search` queries ``(Q, D)`` -> scores ``(Q, k)``, rows ``(Q, k)``.
    """

    def __init__(self, vectors: np.ndarray, ids: list[str], labels: np.ndarray | None, meta: dict[str, Any]):
        self.vectors, self.ids, self.labels, self.meta = vectors, ids, labels, meta
        self._faiss: Any = None

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def search(self, queries: Tensor, k: int = 10, *, backend: str = "exact") -> tuple[Tensor, Tensor]:
        """The ``k`` most similar items of each query (cosine), best first.

        Args:
            queries: ``(Q, D)`` embeddings (normalised here).
            k: ``1 <= k <= len(index)``.
            backend: ``"exact"`` or ``"faiss"`` (HNSW graph, approximate; needs ``faiss-cpu``).

        Raises:
            ConfigError: ``k`` out of range, an unknown backend.
            DataError: queries of another dimension than the index.
            DependencyError: ``faiss`` asked for but not installed.
        """
        positive_int("-k", k)
        if k > len(self):
            raise ConfigError(f"-k {k} is larger than the index ({len(self)} items); lower -k")
        if backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        q = torch.as_tensor(queries, dtype=torch.float32)
        if q.dim() != 2 or q.shape[1] != self.dim:
            raise DataError(f"queries must be (Q, {self.dim}) embeddings, got shape {tuple(q.shape)}")
        q = _normalise(q)
        if backend == "exact":
            return exact_topk(q, self.vectors, k)
        index = self.faiss_index()
        scores, rows = index.search(np.ascontiguousarray(q.numpy()), k)
        return torch.from_numpy(scores), torch.from_numpy(rows.astype(np.int64))

    def faiss_index(self, m: int = 32, ef_search: int = 128, ef_construction: int = 200) -> Any:
        """A FAISS HNSW index over the vectors (inner product = cosine), built once and kept."""
        if self._faiss is None:
            try:
                import faiss
            except ImportError as err:
                raise DependencyError(
                    "--backend faiss needs FAISS: pip install faiss-cpu (or pip install 'pairs[faiss]')"
                ) from err
            index = faiss.IndexHNSWFlat(self.dim, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            for s in range(0, len(self), 65536):
                index.add(np.ascontiguousarray(self.vectors[s : s + 65536], dtype=np.float32))
            index.hnsw.efSearch = ef_search
            self._faiss = index
        return self._faiss

    def save(self, folder: Path) -> Path:
        """Write ``vectors.npy``, ``items.jsonl`` and ``meta.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        writer = VectorWriter(folder / "vectors.npy", len(self))
        for s in range(0, len(self), 65536):
            e = min(len(self), s + 65536)
            labels = None if self.labels is None else self.labels[s:e].tolist()
            writer.write(s, np.asarray(self.vectors[s:e]), self.ids[s:e], labels)
        writer.close()
        (folder / "vectors.items.jsonl").replace(folder / "items.jsonl")
        (folder / "meta.json").write_text(json.dumps({**self.meta, "n": len(self), "dim": self.dim}))
        return folder

    @classmethod
    def load(cls, folder: Path) -> EmbeddingIndex:
        """Read an index written by :meth:`save` (vectors as a memory map).

        Raises:
            DataError: a damaged or incomplete index folder.
        """
        try:
            meta = json.loads((folder / "meta.json").read_text())
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            rows = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines() if line]
        except (OSError, ValueError) as err:
            raise DataError(f"the saved index in {folder} cannot be read ({err}); delete the folder") from err
        if len(rows) != len(vectors) or vectors.ndim != 2:
            raise DataError(f"the saved index in {folder} is incomplete; delete the folder and rebuild it")
        labels = (
            np.asarray([r["label"] for r in rows], dtype=np.int64) if rows and "label" in rows[0] else None
        )
        return cls(vectors, [r["id"] for r in rows], labels, meta)


def index_dir(run_dir: Path, data: str, split: str) -> Path:
    """Where the index of ``data`` (``split``) is saved: ``RUN/index/<readable name>-<hash>``."""
    key = f"{data}|{split}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("_")[:48]
    return run_dir / "index" / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def _fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"checkpoint_size": st.st_size, "checkpoint_mtime_ns": st.st_mtime_ns}


def build_index(
    encoder: Any,
    items: Items,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    folder: Path | None = None,
) -> EmbeddingIndex:
    """Encode ``items`` into an :class:`EmbeddingIndex`, batch by batch.

    With ``folder`` the vectors are written straight into ``folder/vectors.npy`` (a memory map), so memory
    stays one batch; without it they are kept in memory.
    """
    check_domain(encoder, items)
    n = len(items)
    meta: dict[str, Any] = {"data": items.spec, "format": "pairs-index-v1"}
    run = getattr(encoder, "run", None)
    if run is not None:
        meta.update(_fingerprint(run.path))
    labels = items.labels
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        writer = VectorWriter(folder / "vectors.npy", n)
        for start, feats in encode_batches(encoder, items, batch_size=batch_size, device=device):
            m = len(feats)
            writer.write(
                start,
                _normalise(feats).numpy(),
                [items.item_id(i) for i in range(start, start + m)],
                None if labels is None else labels[start : start + m].tolist(),
            )
        writer.close()
        (folder / "vectors.items.jsonl").replace(folder / "items.jsonl")
        (folder / "meta.json").write_text(json.dumps({**meta, "n": n}))
        return EmbeddingIndex.load(folder)
    chunks = [f for _, f in encode_batches(encoder, items, batch_size=batch_size, device=device)]
    vectors = _normalise(torch.cat(chunks)).numpy()
    return EmbeddingIndex(vectors, items.ids(), None if labels is None else labels.numpy(), meta)


def _query_embeddings(
    encoder: Any, query: str, split: str, index_dim: int, batch_size: int | None, device: Any
) -> tuple[Tensor, list[str], Tensor | None]:
    """Embeddings, ids and labels of the queries: a ``.npy`` of embeddings, a file of the run's domain
    (image, audio, ``.txt`` lines for text), or a data spec."""
    path = Path(query).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npy":
            with open(path, "rb") as fh:
                magic = fh.read(6)
            if magic != b"\x93NUMPY":
                raise DataError(
                    f"query file {path} is not a .npy file (it does not start with the .npy header); give "
                    "embeddings written by `pairs embed` (or np.save), a data spec or a file of the run's "
                    "domain"
                )
            try:
                arr = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as err:
                reason = str(err).splitlines()[0].split(". ")[0][:160]
                raise DataError(
                    f"query file {path} is not a readable .npy array ({reason}); give embeddings written by "
                    "`pairs embed` (numeric, shape (Q, D))"
                ) from err
            if arr.ndim == 1:
                arr = arr[None]
            if arr.ndim != 2 or arr.shape[1] != index_dim or not np.issubdtype(arr.dtype, np.number):
                raise DataError(
                    f"query file {path} must hold embeddings of shape (Q, {index_dim}) (as written by "
                    f"`pairs embed` with this run), got {arr.dtype} {arr.shape}"
                )
            if not np.isfinite(arr).all():
                raise DataError(f"query file {path} holds NaN or infinite values")
            return (
                torch.from_numpy(arr.astype(np.float32)),
                [f"{path.name}/{i}" for i in range(len(arr))],
                None,
            )
        domain = encoder.preprocess.domain
        if domain == "text" and suffix in (".txt", ".text"):
            try:
                lines = [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
            except (OSError, UnicodeDecodeError) as err:
                raise DataError(f"query file {path} is not readable UTF-8 text: {err}") from err
            if not lines:
                raise DataError(f"query file {path} holds no text (one query per line)")
            inputs: Any = lines
            ids = [f"{path.name}:{i + 1}" for i in range(len(lines))]
        elif domain in ("image", "audio"):
            inputs, ids = [str(path)], [str(path)]
        else:
            raise DataError(
                f"cannot read query file {path} for a {domain} run: give a data spec, a .npy of embeddings"
                + (" or a .txt file with one query per line" if domain == "text" else "")
            )
        with torch.no_grad():
            encoder.eval()
            feats = encoder(encoder.preprocess(inputs))
        return feats.float().cpu(), ids, None
    items = open_items(query, split)
    chunks = [f for _, f in encode_batches(encoder, items, batch_size=batch_size, device=device)]
    return torch.cat(chunks), items.ids(), items.labels


def search(
    run: str | os.PathLike,
    index: str,
    query: str,
    *,
    k: int = 10,
    index_split: str = "all",
    query_split: str = "all",
    save_index: bool = False,
    backend: str = "exact",
    batch_size: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The ``k`` nearest index items of every query, by cosine similarity of the run's features.

    Args:
        run: run directory or its ``checkpoint.pt``.
        index: data spec of the collection to search.
        query: a data spec, a ``.npy`` of embeddings ``(Q, D)``, or a file of the run's domain (an image,
            an audio file, a ``.txt`` of one text query per line).
        k: neighbours per query.
        index_split, query_split: ``all``, ``train`` or ``test`` of the specs.
        save_index: write the index next to the run (``RUN/index/...``) and reuse it on later calls while
            the checkpoint is unchanged.
        backend: ``exact`` or ``faiss``.
        batch_size: items per forward pass.
        device: where the encoder runs.

    Returns:
        ``{"results": [{"query", "query_label", "neighbors": [{"id", "score", "label"}, ...]}, ...],
        "top1_label_agreement" (when both sides have labels), "index": {...}, "index_saved"}``.
    """
    from pairs.results.loading import load_encoder, run_info
    from pairs.train import resolve_device

    positive_int("-k", k)
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    dev = resolve_device(device)
    encoder = load_encoder(run, dev)
    info = run_info(encoder)
    folder = index_dir(info.run_dir, index, index_split)
    idx: EmbeddingIndex | None = None
    reused = False
    if (folder / "meta.json").exists():
        saved = EmbeddingIndex.load(folder)
        if all(saved.meta.get(key) == v for key, v in _fingerprint(info.path).items()):
            idx, reused = saved, True
    if idx is None:
        items = open_items(index, index_split)
        idx = build_index(
            encoder, items, batch_size=batch_size, device=dev, folder=folder if save_index else None
        )
    q, q_ids, q_labels = _query_embeddings(encoder, query, query_split, idx.dim, batch_size, dev)
    scores, rows = idx.search(q, k, backend=backend)
    results = []
    for qi in range(len(q)):
        neighbors = []
        for s, r in zip(scores[qi].tolist(), rows[qi].tolist()):
            if r < 0:  # faiss: fewer than k found
                continue
            nb: dict[str, Any] = {"id": idx.ids[r], "score": round(float(s), 6)}
            if idx.labels is not None:
                nb["label"] = int(idx.labels[r])
            neighbors.append(nb)
        entry: dict[str, Any] = {"query": q_ids[qi], "neighbors": neighbors}
        if q_labels is not None:
            entry["query_label"] = int(q_labels[qi])
        results.append(entry)
    out: dict[str, Any] = {
        "results": results,
        "index": {"data": index, "split": index_split, "n": len(idx), "dim": idx.dim, "backend": backend},
        "index_saved": str(folder) if (save_index or reused) else None,
    }
    if q_labels is not None and idx.labels is not None:
        top1 = torch.from_numpy(np.asarray(idx.labels))[rows[:, 0].clamp_min(0)]
        out["top1_label_agreement"] = float((top1 == q_labels).double().mean())
    return out
