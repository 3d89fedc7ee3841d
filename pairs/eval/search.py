"""Nearest-neighbour similarity search over a built index of embeddings (top-k, batched).

>>> import torch
>>> from pairs.eval.search import SimilarityIndex
>>> index = SimilarityIndex(torch.eye(3))
>>> scores, ids = index.search(torch.tensor([[0.0, 2.0, 0.1]]), k=2)
>>> ids.tolist()
[[1, 2]]
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pairs.eval.metrics import MAX_CHUNK_ELEMENTS, as_features, as_labels, check_positive_int

__all__ = ["SimilarityIndex", "METRICS"]

METRICS = ("cosine", "dot", "euclidean")


class SimilarityIndex:
    """An exact (brute-force) index of embeddings, searched in query batches.

    The index stores the gallery once (L2-normalised for ``"cosine"``); :meth:`search` scores each batch of
    queries against all of it with one matrix product and keeps the top ``k``, so memory is
    ``O(batch_size * N)``. Scores are similarities, larger is closer: the cosine, the dot product, or minus
    the Euclidean distance.

    Args:
        embeddings: gallery ``(N, D)`` (numpy or torch; kept on its device as float32/float64).
        ids: optional ``(N,)`` integer ids returned instead of row positions (e.g. dataset indices).
        metric: ``"cosine"``, ``"dot"`` or ``"euclidean"``.

    Raises:
        TypeError, ValueError: bad embeddings or ids, unknown metric.

    Shape:
        embeddings ``(N, D)``; :meth:`search` queries ``(Q, D)`` -> scores ``(Q, k)``, ids ``(Q, k)``.
    """

    def __init__(self, embeddings: Any, ids: Any = None, *, metric: str = "cosine") -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.metric = metric
        self._gallery = self._prepare(as_features(embeddings, "embeddings"))
        self._ids = None if ids is None else as_labels(ids, "ids", n=len(self._gallery), device=self.device)

    def _prepare(self, x: Tensor) -> Tensor:
        if self.metric == "cosine":
            return x / x.norm(dim=1, keepdim=True).clamp_min(torch.finfo(x.dtype).eps)
        return x

    @property
    def device(self) -> torch.device:
        return self._gallery.device

    @property
    def dim(self) -> int:
        """Embedding size ``D``."""
        return int(self._gallery.shape[1])

    def __len__(self) -> int:
        return int(self._gallery.shape[0])

    def add(self, embeddings: Any, ids: Any = None) -> None:
        """Append embeddings (and their ids, required iff the index was built with ids).

        Raises:
            ValueError: a different embedding size, or ids given/missing inconsistently.
        """
        x = self._prepare(as_features(embeddings, "embeddings").to(self.device, self._gallery.dtype))
        if x.shape[1] != self.dim:
            raise ValueError(f"embeddings have {x.shape[1]} dimensions but the index holds {self.dim}")
        if (ids is None) != (self._ids is None):
            raise ValueError("give ids for added embeddings exactly when the index was built with ids")
        if ids is not None:
            assert self._ids is not None
            self._ids = torch.cat([self._ids, as_labels(ids, "ids", n=len(x), device=self.device)])
        self._gallery = torch.cat([self._gallery, x])

    def scores(self, query: Tensor) -> Tensor:
        """Similarity of each (prepared) query row with every gallery row, ``(Q, N)``."""
        if self.metric == "euclidean":
            return -torch.cdist(query, self._gallery)
        return query @ self._gallery.T

    def search(
        self, query: Any, k: int = 10, *, batch_size: int | None = None, exclude_self: bool = False
    ) -> tuple[Tensor, Tensor]:
        """The ``k`` most similar gallery items of every query, most similar first.

        Args:
            query: ``(Q, D)`` query embeddings (or ``(D,)`` for a single query).
            k: neighbours per query, ``1 <= k <= len(index)`` (minus one with ``exclude_self``).
            batch_size: queries per batch (default: keep each score block under 16M entries).
            exclude_self: the queries are the indexed items themselves, in order (row ``i`` never returns
                item ``i``).

        Returns:
            ``(scores, ids)``, both ``(Q, k)``: similarities and ids (row positions without ids).

        Raises:
            TypeError, ValueError: bad queries, mismatched dimension, ``k`` out of range.
        """
        if isinstance(query, Tensor) and query.dim() == 1:
            query = query.unsqueeze(0)
        q = as_features(query, "query").to(self.device, self._gallery.dtype)
        if q.shape[1] != self.dim:
            raise ValueError(f"query has {q.shape[1]} dimensions but the index holds {self.dim}")
        if exclude_self and len(q) != len(self):
            raise ValueError(
                f"exclude_self needs the {len(self)} indexed items as queries, got {len(q)} queries"
            )
        k = check_positive_int(k, "k")
        n_candidates = len(self) - int(exclude_self)
        if k > n_candidates:
            raise ValueError(f"k={k} is larger than the {n_candidates} searchable items; lower k")
        rows = check_positive_int(batch_size, "batch_size") if batch_size is not None else None
        rows = rows or max(1, MAX_CHUNK_ELEMENTS // max(len(self), 1))
        q = self._prepare(q)
        all_scores, all_ids = [], []
        for s in range(0, len(q), rows):
            sim = self.scores(q[s : s + rows])
            if exclude_self:
                r = torch.arange(sim.shape[0], device=sim.device)
                sim[r, r + s] = -math.inf
            v, i = sim.topk(k, dim=1)
            all_scores.append(v)
            all_ids.append(i if self._ids is None else self._ids[i])
        return torch.cat(all_scores), torch.cat(all_ids)
