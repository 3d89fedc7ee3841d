"""Evaluation protocols shared by domains: frozen features -> linear probe and kNN on the held-out split."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairs.data.registry import DataBundle


def probe_and_knn(
    encoder: nn.Module, bundle: DataBundle, device: torch.device | str = "cpu", collate: Any = None
) -> dict[str, Any]:
    """Linear probe accuracy and cosine kNN accuracy (k=20, or every training sample when there are fewer) of
    frozen features on the held-out split.

    The probe's regularisation is chosen by cross-validation on the training split only.

    Returns:
        ``{"linear_probe_acc", "knn_acc", "probe_C"}``, or ``{}`` when the data has no labels or no held-out
        split.
    """
    from pairs.eval import extract_features, knn_accuracy, linear_probe

    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    train = extract_features(encoder, bundle.train, device=device, transform=collate)
    test = extract_features(encoder, bundle.test, device=device, transform=collate)
    probe = linear_probe(train, bundle.train_labels, test, bundle.test_labels)
    knn = knn_accuracy(
        train, bundle.train_labels, test, bundle.test_labels, k=min(20, len(bundle.train_labels))
    )
    return {"linear_probe_acc": float(probe["acc"]), "knn_acc": float(knn), "probe_C": probe.get("C")}
