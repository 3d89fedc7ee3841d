"""Retrieval recall@k: does a same-label item appear among a query's ``k`` nearest neighbours?

This is the Recall@K of deep metric learning (Song et al., "Deep Metric Learning via Lifted Structured
Feature Embedding", CVPR 2016; used on CUB-200, Cars196 and Stanford Online Products): the fraction of
queries with at least one item of their own label among the ``k`` most similar gallery items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from pairs.eval.knn import nearest_neighbors
from pairs.eval.metrics import as_features, as_labels, check_positive_int

__all__ = ["recall_at_k"]


def recall_at_k(
    query: Any,
    query_labels: Any,
    gallery: Any = None,
    gallery_labels: Any = None,
    *,
    ks: Sequence[int] = (1, 5, 10),
    metric: str = "cosine",
    chunk_size: int | None = None,
) -> dict[str, float | int]:
    """Recall@k of label-based retrieval.

    With ``gallery=None`` the query set is searched leave-one-out: each query is matched against all
    *other* queries (never itself). Queries whose label does not occur in the gallery (or, leave-one-out,
    whose label occurs only once) cannot be answered and are left out; ``n_queries`` says how many
    counted.

    Args:
        query: query features.
        query_labels: integer labels of the queries.
        gallery: gallery features, or ``None`` for leave-one-out within the queries.
        gallery_labels: integer labels of the gallery (required with ``gallery``).
        ks: the cut-offs, each ``1 <= k <= gallery size`` (``N - 1`` leave-one-out).
        metric: ``"cosine"`` or ``"euclidean"``.
        chunk_size: query rows per chunk (``None``: automatic).

    Returns:
        ``{"recall@1": ..., "recall@5": ..., ..., "n_queries": number of queries counted}``.

    Raises:
        TypeError, ValueError: on bad features or labels, mismatched feature sizes, a gallery without
            labels (or labels without a gallery), a ``k`` out of range, or no answerable query.

    Shape:
        ``query``: ``(Q, D)``, ``query_labels``: ``(Q,)``, ``gallery``: ``(G, D)``, ``gallery_labels``:
        ``(G,)``.
    """
    q = as_features(query, "query")
    ql = as_labels(query_labels, "query_labels", n=q.shape[0], device=q.device)
    if (gallery is None) != (gallery_labels is None):
        raise ValueError(
            "give both gallery and gallery_labels, or neither (leave-one-out retrieval within the queries)"
        )
    loo = gallery is None
    if loo:
        g, gl = q, ql
        if q.shape[0] < 2:
            raise ValueError(f"leave-one-out retrieval needs at least 2 queries, got {q.shape[0]}")
    else:
        g = as_features(gallery, "gallery")
        if g.shape[1] != q.shape[1]:
            raise ValueError(
                f"query and gallery must have the same feature size, got D={q.shape[1]} and D={g.shape[1]}"
            )
        gl = as_labels(gallery_labels, "gallery_labels", n=g.shape[0], device=g.device)
        dtype = torch.promote_types(q.dtype, g.dtype)
        q, g = q.to(dtype), g.to(dtype=dtype, device=q.device)
        gl = gl.to(q.device)
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    if isinstance(ks, (int, str)) or not isinstance(ks, Sequence) or len(ks) == 0:
        raise ValueError(f"ks must be a non-empty sequence of ints, got {ks!r}")
    ks = [check_positive_int(k, "each k in ks") for k in ks]
    n_gallery = g.shape[0] - 1 if loo else g.shape[0]
    if max(ks) > n_gallery:
        raise ValueError(
            f"k={max(ks)} is larger than the gallery ({n_gallery} items"
            + (", leave-one-out" if loo else "")
            + "); lower ks"
        )

    # queries that have at least one relevant gallery item
    classes, counts = torch.unique(gl, return_counts=True)
    pos = torch.searchsorted(classes, ql).clamp_max(classes.numel() - 1)
    n_relevant = torch.where(classes[pos] == ql, counts[pos], torch.zeros_like(ql))
    if loo:
        n_relevant = n_relevant - 1
    answerable = n_relevant > 0
    n_valid = int(answerable.sum())
    if n_valid == 0:
        raise ValueError("no query has a same-label item in the gallery; recall@k is undefined")

    _, idx = nearest_neighbors(q, g, max(ks), metric=metric, exclude_self=loo, chunk_size=chunk_size)
    hit = gl[idx] == ql[:, None]  # (Q, max k)
    first_hit = torch.where(hit.any(dim=1), hit.float().argmax(dim=1), torch.full_like(ql, max(ks)))
    out: dict[str, float | int] = {}
    for k in ks:
        out[f"recall@{k}"] = float((first_hit[answerable] < k).double().mean())
    out["n_queries"] = n_valid
    return out
