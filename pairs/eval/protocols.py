"""Evaluation protocols shared by domains: frozen features -> linear probe and kNN on the held-out split.

The domain-specific protocols sit next to this one: :mod:`pairs.eval.graph_protocols` (GraphCL's SVM
protocol, node classification), :mod:`pairs.eval.series_protocols` (TS2Vec's),
:mod:`pairs.eval.text_protocols` (Lee similarity, cross-validated probe) and
:mod:`pairs.eval.audio_protocols` (the MFCC baseline); each domain's recipe (:mod:`pairs.domains`) names
its protocol.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from pairs.data.registry import DataBundle
from pairs.data.source import evaluation_subset, is_streamed

__all__ = ["EVAL_MAX_ITEMS", "probe_and_knn"]

EVAL_MAX_ITEMS = 10_000
"""Most items of a streamed split that evaluation encodes (a seeded random subset beyond that)."""


def probe_and_knn(
    encoder: nn.Module, bundle: DataBundle, device: torch.device | str = "cpu", collate: Any = None
) -> dict[str, Any]:
    """Linear probe accuracy and cosine kNN accuracy (k=20, or every training sample when there are fewer) of
    frozen features on the held-out split.

    The probe's regularisation is chosen by cross-validation on the training split only. A streamed split
    larger than ``EVAL_MAX_ITEMS`` is evaluated on a seeded random subset of that many items (so
    evaluation memory stays flat in the data size; the ``pairs`` logger says how many were used).

    Returns:
        ``{"linear_probe_acc", "knn_acc", "probe_C"}``, or ``{}`` when the data has no labels or no held-out
        split.
    """
    from pairs.eval import extract_features, knn_accuracy, linear_probe

    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    train_part = evaluation_subset(bundle.train, EVAL_MAX_ITEMS)
    test_part = evaluation_subset(bundle.test, EVAL_MAX_ITEMS)
    y_train = bundle.train_labels if train_part is bundle.train else train_part.labels
    y_test = bundle.test_labels if test_part is bundle.test else test_part.labels
    train = extract_features(encoder, train_part, device=device, transform=collate)
    test = extract_features(encoder, test_part, device=device, transform=collate)
    probe = linear_probe(train, y_train, test, y_test)
    knn = knn_accuracy(train, y_train, test, y_test, k=min(20, len(y_train)))
    figures = {"linear_probe_acc": float(probe["acc"]), "knn_acc": float(knn), "probe_C": probe.get("C")}
    if is_streamed(bundle.train):
        logging.getLogger("pairs").info(
            "evaluated on %d of %d training and %d of %d held-out items",
            len(train_part),
            len(bundle.train),
            len(test_part),
            len(bundle.test),
        )
    return figures
