"""Audio evaluation: the hand-crafted baseline learned audio features are compared against.

:func:`mfcc_baseline` is the audio recipe's ``baseline`` (reported as ``mfcc_probe_acc`` next to the
learned features' figures); the learned features themselves go through
:func:`pairs.eval.protocols.probe_and_knn`.
"""

from __future__ import annotations

import functools
from typing import Any

from pairs.data.audio import sample_rate_of
from pairs.data.registry import DataBundle
from pairs.eval.protocols import EVAL_MAX_ITEMS

__all__ = ["mfcc_baseline"]


def mfcc_baseline(bundle: DataBundle) -> dict[str, Any]:
    """Linear-probe accuracy of mean+std MFCC statistics (:func:`pairs.eval.baselines.mfcc_statistics`) on
    the held-out split, the hand-crafted feature learned audio features should beat.

    Returns:
        ``{"mfcc_probe_acc"}``, or ``{}`` when the data has no labels or no held-out split.
    """
    from pairs.eval import linear_probe
    from pairs.eval.baselines import mfcc_statistics

    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    sr = sample_rate_of(bundle)
    if bundle.streamed:  # in batches, from the evaluation subset, read by the workers
        from pairs.data.source import evaluation_subset
        from pairs.eval import extract_features

        train_part = evaluation_subset(bundle.train, EVAL_MAX_ITEMS)
        test_part = evaluation_subset(bundle.test, EVAL_MAX_ITEMS)
        train, test = (
            extract_features(functools.partial(mfcc_statistics, sample_rate=sr), part)
            for part in (train_part, test_part)
        )
        probe = linear_probe(train, train_part.labels, test, test_part.labels)
        return {"mfcc_probe_acc": float(probe["acc"])}
    train, test = mfcc_statistics(bundle.train, sr), mfcc_statistics(bundle.test, sr)
    probe = linear_probe(train, bundle.train_labels, test, bundle.test_labels)
    return {"mfcc_probe_acc": float(probe["acc"])}
