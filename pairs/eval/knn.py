"""k-nearest-neighbour classification of frozen features, batched in torch.

With a ``temperature`` the vote is the weighted one of Wu et al., "Unsupervised Feature Learning via
Non-Parametric Instance Discrimination" (InstDisc, CVPR 2018): each of the ``k`` neighbours votes for its
class with weight ``exp(sim / temperature)``, as in lightly's ``knn_predict`` and solo-learn's
``WeightedKNNClassifier``. Without one, it is a plain majority vote whose ties are broken by the summed
similarity of the tied classes' neighbours.

The test set is processed in chunks, so memory is ``O(chunk * N_train)``, never ``N_test x N_train``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from torch import Tensor

from pairs.eval.metrics import MAX_CHUNK_ELEMENTS, _check_positive_float, _normalize, as_features, as_labels
from pairs.eval.metrics import check_positive_int as _positive_int

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["KNNOptions", "knn_predict", "knn_accuracy", "nearest_neighbors"]

METRICS = ("cosine", "euclidean")


class KNNOptions(TypedDict, total=False):
    """The options of :func:`knn_predict` (their defaults are there) that :func:`knn_accuracy` passes on."""

    k: int
    temperature: float | None
    metric: str
    chunk_size: int | None


def _check_metric(metric: Any) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric


def nearest_neighbors(
    query: Tensor,
    gallery: Tensor,
    k: int,
    *,
    metric: str = "cosine",
    exclude_self: bool = False,
    chunk_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The ``k`` most similar gallery rows of every query row, computed in query chunks.

    Args:
        query: query features (already checked, see :func:`pairs.eval.metrics.as_features`).
        gallery: gallery features on the same device.
        k: number of neighbours (``1 <= k <= N_gallery``, minus one with ``exclude_self``).
        metric: ``"cosine"`` (similarity = cosine) or ``"euclidean"`` (similarity = minus the distance).
        exclude_self: ``query`` and ``gallery`` are the same set; row ``i`` never matches itself
            (leave-one-out).
        chunk_size: query rows per chunk; ``None`` keeps each chunk under 16M similarity entries.

    Returns:
        ``(similarities, indices)``, both ``(N_query, k)``, sorted from most to least similar.

    Raises:
        ValueError: on an unknown metric or ``k`` out of range.

    Shape:
        ``query``: ``(Q, D)``, ``gallery``: ``(G, D)`` -> ``(Q, k)``, ``(Q, k)``.
    """
    metric = _check_metric(metric)
    n_q, n_g = query.shape[0], gallery.shape[0]
    k = _positive_int(k, "k")
    if k > n_g - int(exclude_self):
        raise ValueError(f"k={k} is larger than the {n_g - int(exclude_self)} candidate neighbours; lower k")
    if metric == "cosine":
        query, gallery = _normalize(query), _normalize(gallery)
    rows = chunk_size if chunk_size is not None else max(1, MAX_CHUNK_ELEMENTS // max(n_g, 1))
    sims, idxs = [], []
    for s in range(0, n_q, rows):
        q = query[s : s + rows]
        sim = q @ gallery.T if metric == "cosine" else -torch.cdist(q, gallery)
        if exclude_self:
            r = torch.arange(q.shape[0], device=sim.device)
            sim[r, r + s] = -math.inf
        v, i = sim.topk(k, dim=1)
        sims.append(v)
        idxs.append(i)
    return torch.cat(sims), torch.cat(idxs)


def knn_predict(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    *,
    k: int = 20,
    temperature: float | None = None,
    metric: str = "cosine",
    chunk_size: int | None = None,
) -> Tensor:
    """Predict test labels by a vote of the ``k`` nearest training samples.

    Args:
        train_x: training (memory bank) features.
        train_y: integer training labels.
        test_x: test features.
        k: number of neighbours, ``1 <= k <= N_train``.
        temperature: ``None`` for a majority vote (ties broken by summed similarity), or a positive
            number for the InstDisc weighted vote ``sum exp(sim / temperature)`` (0.07 in InstDisc,
            lightly and solo-learn).
        metric: ``"cosine"`` or ``"euclidean"`` (similarity = minus the distance).
        chunk_size: test rows per chunk (``None``: automatic).

    Returns:
        Predicted labels (int64, values taken from ``train_y``), on the features' device.

    Raises:
        TypeError, ValueError: on bad features/labels, mismatched feature sizes, ``k`` out of range, a
            non-positive temperature or an unknown metric.

    Shape:
        ``train_x``: ``(N, D)``, ``train_y``: ``(N,)``, ``test_x``: ``(M, D)`` -> ``(M,)``.
    """
    xtr = as_features(train_x, "train_x")
    xte = as_features(test_x, "test_x")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"train_x and test_x must have the same feature size, got D={xtr.shape[1]} and D={xte.shape[1]}"
        )
    ytr = as_labels(train_y, "train_y", n=xtr.shape[0], device=xtr.device)
    k = _positive_int(k, "k")
    if k > xtr.shape[0]:
        raise ValueError(f"k={k} is larger than the number of training samples ({xtr.shape[0]}); lower k")
    if temperature is not None:
        temperature = _check_positive_float(temperature, "temperature")
    if chunk_size is not None:
        chunk_size = _positive_int(chunk_size, "chunk_size")
    dtype = torch.promote_types(xtr.dtype, xte.dtype)
    xtr, xte = xtr.to(dtype), xte.to(dtype=dtype, device=xtr.device)

    classes, ytr_idx = torch.unique(ytr, return_inverse=True)
    n_classes = classes.numel()
    sims, idx = nearest_neighbors(xte, xtr, k, metric=metric, chunk_size=chunk_size)
    neigh = ytr_idx[idx]  # (M, k) class indices of the neighbours
    if temperature is not None:
        # exp((s - max s) / T): the same vote as exp(s / T) up to a per-row factor, without overflow
        weights = ((sims - sims[:, :1]) / temperature).exp()
        votes = torch.zeros(len(neigh), n_classes, dtype=dtype, device=xtr.device).scatter_add_(
            1, neigh, weights
        )
        pred = votes.argmax(dim=1)
    else:
        counts = torch.zeros(len(neigh), n_classes, dtype=dtype, device=xtr.device)
        counts.scatter_add_(1, neigh, torch.ones_like(sims))
        sim_sum = torch.zeros_like(counts).scatter_add_(1, neigh, sims)
        tied = counts == counts.max(dim=1, keepdim=True).values
        pred = torch.where(tied, sim_sum, torch.full_like(sim_sum, -math.inf)).argmax(dim=1)
    return classes[pred]


def knn_accuracy(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any, **options: Unpack[KNNOptions]
) -> float:
    """Accuracy of a k-NN classifier of frozen features (:func:`knn_predict`, with its options).

    Args:
        train_x: training features.
        train_y: integer training labels.
        test_x: test features.
        test_y: integer test labels.
        options: ``k`` (default 20), ``temperature`` (``None``: majority vote; or the InstDisc vote
            temperature, e.g. 0.07), ``metric`` (``"cosine"`` or ``"euclidean"``), ``chunk_size`` (test
            rows per chunk, ``None``: automatic), passed on to :func:`knn_predict`.

    Returns:
        The fraction of test samples whose predicted label equals ``test_y``.

    Raises:
        TypeError, ValueError: as :func:`knn_predict`, or if ``test_y`` does not match ``test_x``.

    Shape:
        ``train_x``: ``(N, D)``, ``train_y``: ``(N,)``, ``test_x``: ``(M, D)``, ``test_y``: ``(M,)``.
    """
    n_test = as_features(test_x, "test_x").shape[0]
    yte = as_labels(test_y, "test_y", n=n_test)
    pred = knn_predict(train_x, train_y, test_x, **options)
    return float((pred == yte.to(pred.device)).double().mean())
