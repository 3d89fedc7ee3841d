"""Anomaly scores from embeddings (distance to the training distribution, kNN distance) and ROC-AUC.

Scores are larger for more anomalous samples. The training ("normal") features define the reference:

* :func:`knn_anomaly_score`: distance to the ``k``-th (or mean of the ``k``) nearest training embedding
  (Bergman, Cohen, Hoshen, "Deep Nearest Neighbor Anomaly Detection", 2020), cosine or Euclidean.
* :func:`mahalanobis_anomaly_score`: Mahalanobis distance to a Gaussian fitted on the training embeddings
  (Lee et al. 2018, "A Simple Unified Framework for Detecting Out-of-Distribution Samples"), with a
  shrunk covariance.
* :func:`centroid_anomaly_score`: cosine distance to the mean training embedding.

:func:`roc_auc` is the area under the ROC curve (Mann-Whitney U with ties counted 1/2), in torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from pairs.eval.knn import nearest_neighbors
from pairs.eval.metrics import as_features, as_labels, check_positive_int

__all__ = ["knn_anomaly_score", "mahalanobis_anomaly_score", "centroid_anomaly_score", "roc_auc"]


def _pair(train: Any, test: Any) -> tuple[Tensor, Tensor]:
    a = as_features(train, "train_features")
    b = as_features(test, "test_features").to(a.device, a.dtype)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"train_features and test_features must have the same size D, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    return a, b


def knn_anomaly_score(
    train_features: Any,
    test_features: Any,
    k: int = 5,
    *,
    metric: str = "cosine",
    reduce: str = "kth",
    chunk_size: int | None = None,
) -> Tensor:
    """Anomaly score = distance to the nearest training embeddings.

    Args:
        train_features: ``(N, D)`` embeddings of normal training data.
        test_features: ``(M, D)`` embeddings to score.
        k: number of neighbours (``1 <= k <= N``).
        metric: ``"cosine"`` (distance ``1 - cos``) or ``"euclidean"``.
        reduce: ``"kth"`` (distance to the k-th neighbour) or ``"mean"`` (mean over the k nearest).
        chunk_size: test rows per chunk (``None``: automatic).

    Returns:
        ``(M,)`` float scores, larger = more anomalous.

    Raises:
        TypeError, ValueError: bad features, mismatched sizes, ``k`` out of range, unknown metric/reduce.

    Shape:
        ``(N, D)``, ``(M, D)`` -> ``(M,)``.
    """
    if reduce not in ("kth", "mean"):
        raise ValueError(f"reduce must be 'kth' or 'mean', got {reduce!r}")
    train, test = _pair(train_features, test_features)
    sims, _ = nearest_neighbors(test, train, check_positive_int(k, "k"), metric=metric, chunk_size=chunk_size)
    dist = 1.0 - sims if metric == "cosine" else -sims
    return dist[:, -1] if reduce == "kth" else dist.mean(dim=1)


def mahalanobis_anomaly_score(train_features: Any, test_features: Any, *, shrinkage: float = 1e-3) -> Tensor:
    """Mahalanobis distance of each test embedding to a Gaussian fitted on the training embeddings.

    The covariance is shrunk towards a scaled identity, ``(1 - s) C + s * tr(C)/D * I``, so it stays
    invertible when ``N < D`` or features are collinear.

    Args:
        train_features: ``(N, D)`` embeddings of normal training data, ``N >= 2``.
        test_features: ``(M, D)`` embeddings to score.
        shrinkage: ``s`` in ``[0, 1]``.

    Returns:
        ``(M,)`` distances ``sqrt((x - mu)^T S^-1 (x - mu))``, larger = more anomalous.

    Raises:
        TypeError, ValueError: bad features, ``N < 2``, ``shrinkage`` outside ``[0, 1]``.

    Shape:
        ``(N, D)``, ``(M, D)`` -> ``(M,)``.
    """
    if not 0.0 <= float(shrinkage) <= 1.0:
        raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage}")
    train, test = _pair(train_features, test_features)
    if train.shape[0] < 2:
        raise ValueError(f"a Gaussian needs at least 2 training embeddings, got {train.shape[0]}")
    x = train.double()
    mu = x.mean(0)
    cov = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
    d = cov.shape[0]
    scale = cov.diagonal().mean().clamp_min(1e-12)
    cov = (1 - shrinkage) * cov + shrinkage * scale * torch.eye(d, dtype=cov.dtype, device=cov.device)
    diff = test.double() - mu
    sol = torch.linalg.solve(cov, diff.T).T
    return (diff * sol).sum(1).clamp_min(0).sqrt().to(train.dtype)


def centroid_anomaly_score(train_features: Any, test_features: Any) -> Tensor:
    """Cosine distance ``1 - cos(x, mean)`` of each test embedding to the mean normalised training one.

    Returns:
        ``(M,)`` scores in ``[0, 2]``, larger = more anomalous.

    Shape:
        ``(N, D)``, ``(M, D)`` -> ``(M,)``.
    """
    train, test = _pair(train_features, test_features)
    eps = torch.finfo(train.dtype).eps
    center = (train / train.norm(dim=1, keepdim=True).clamp_min(eps)).mean(0)
    center = center / center.norm().clamp_min(eps)
    return 1.0 - (test / test.norm(dim=1, keepdim=True).clamp_min(eps)) @ center


def roc_auc(scores: Any, is_anomaly: Any) -> float:
    """Area under the ROC curve of ``scores`` for detecting ``is_anomaly`` (1 = anomaly, 0 = normal).

    ``sklearn.metrics.roc_auc_score`` (the probability that a random anomaly scores higher than a random
    normal sample, ties counting 1/2), after the checks below.

    Args:
        scores: ``(N,)`` real scores, larger = more anomalous.
        is_anomaly: ``(N,)`` 0/1 (or boolean) labels.

    Returns:
        The AUC in ``[0, 1]`` (0.5 = chance).

    Raises:
        TypeError, ValueError: non-finite scores, labels other than 0/1, lengths differ, or only one class.

    Shape:
        ``(N,)``, ``(N,)`` -> float.
    """
    raw = scores if hasattr(scores, "reshape") else torch.as_tensor(scores)
    if raw.ndim != 1:
        raise ValueError(f"scores must be 1-D (N,), got shape {tuple(raw.shape)}")
    s = as_features(raw.reshape(-1, 1), "scores")[:, 0]
    y = as_labels(is_anomaly, "is_anomaly", n=len(s), device=s.device)
    if bool(((y != 0) & (y != 1)).any()):
        raise ValueError("is_anomaly must hold 0 (normal) or 1 (anomaly) only")
    n_pos, n_neg = int(y.sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"ROC-AUC needs both normal and anomalous samples, got {n_neg} normal and {n_pos} anomalous"
        )
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y.cpu().numpy(), s.double().cpu().numpy()))
