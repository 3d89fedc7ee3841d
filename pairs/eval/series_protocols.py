"""Time-series evaluation protocol: TS2Vec's classification protocol on frozen whole-series representations.

:func:`evaluate_series` takes the bundle's series in memory and the standardizer used in training; the
series recipe (:func:`pairs.domains.series.evaluate_series`) prepares both as TS2Vec's loaders do.

Reference:
    Yue et al. 2022 (TS2Vec), section 4.1 and ``tasks/classification.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from pairs.data.registry import DataBundle

__all__ = ["encode_series", "evaluate_series"]


def encode_series(
    encoder: nn.Module,
    x: Tensor,
    standardizer: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> Tensor:
    """Instance representations of whole series from a frozen encoder (eval mode, no masking).

    For the TS2Vec encoder this is TS2Vec's ``encode(..., encoding_window="full_series")``: per-timestamp
    representations max-pooled over the series (padding timestamps left out).

    Args:
        encoder: maps ``(B, C, T)`` to ``(B, D)``.
        x: ``(N, C, T)`` series.
        standardizer: applied to each batch first (the train split's statistics); ``None``: none.
        device: where the encoder runs.
        batch_size: series per forward pass.

    Returns:
        float32 ``(N, D)`` on the CPU.

    Shape:
        ``(N, C, T) -> (N, D)``.
    """
    from pairs.eval import extract_features

    return extract_features(encoder, x, batch_size=batch_size, device=device, transform=standardizer)


def evaluate_series(
    encoder: nn.Module,
    bundle: DataBundle,
    device: torch.device | str = "cpu",
    standardizer: Callable[[Tensor], Tensor] | None = None,
) -> dict[str, Any]:
    """TS2Vec's classification protocol plus a linear probe and kNN on the same frozen features.

    The series of both splits (held in memory) are normalised by ``standardizer`` (as in training: the
    series recipe passes :func:`pairs.domains.series.ts2vec_standardizer`, train split statistics) and
    encoded whole (:func:`encode_series`); ``svm_acc`` is :func:`pairs.eval.svm_accuracy`
    (RBF SVM, ``C`` chosen from TS2Vec's grid by 5-fold CV on the train split with TS2Vec's unshuffled
    stratified folds, ``C = inf`` without search when the train split has fewer than 50 series or fewer
    than 5 per class on average);
    ``linear_probe_acc`` is :func:`pairs.eval.linear_probe` (logistic regression, ``C`` by CV on the train
    split); ``knn_acc`` is TS2Vec's ``fit_knn``: 1-NN (Euclidean) on features standardised with the train
    split's statistics.

    Returns:
        ``{"svm_acc", "svm_C", "linear_probe_acc", "probe_C", "knn_acc"}``, or ``{}`` when the data has no
        class labels or no held-out split.

    Reference:
        Yue et al. 2022 (TS2Vec), section 4.1 and ``tasks/classification.py``.
    """
    from pairs.eval import knn_accuracy, linear_probe, svm_accuracy

    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    train = encode_series(encoder, bundle.train, standardizer, device)
    test = encode_series(encoder, bundle.test, standardizer, device)
    # TS2Vec's fit_svm: GridSearchCV(cv=5), i.e. unshuffled stratified folds
    svm = svm_accuracy(train, bundle.train_labels, test, bundle.test_labels, shuffle=False)
    probe = linear_probe(train, bundle.train_labels, test, bundle.test_labels)
    mean, std = train.mean(dim=0), train.std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))  # as StandardScaler: constant features unscaled
    knn = knn_accuracy(  # TS2Vec's fit_knn: standardised features, 1-NN
        (train - mean) / std,
        bundle.train_labels,
        (test - mean) / std,
        bundle.test_labels,
        k=1,
        metric="euclidean",
    )
    return {
        "svm_acc": float(svm["acc"]),
        "svm_C": svm.get("C"),
        "linear_probe_acc": float(probe["acc"]),
        "probe_C": probe.get("C"),
        "knn_acc": float(knn),
    }
