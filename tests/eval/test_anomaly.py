"""Anomaly scores and ROC-AUC against references (sklearn, brute force)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from pairs.eval.anomaly import centroid_anomaly_score, knn_anomaly_score, mahalanobis_anomaly_score, roc_auc


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.booleans()), min_size=2, max_size=30))
def test_roc_auc_equals_sklearn_with_ties(items):
    scores = [float(s) for s, _ in items]
    labels = [int(b) for _, b in items]
    if len(set(labels)) < 2:
        with pytest.raises(ValueError, match="both normal and anomalous"):
            roc_auc(scores, np.array(labels))
        return
    assert roc_auc(torch.tensor(scores), torch.tensor(labels)) == pytest.approx(roc_auc_score(labels, scores))


def test_roc_auc_rejects_bad_labels():
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        roc_auc(torch.tensor([0.1, 0.2]), torch.tensor([0, 2]))


def test_knn_score_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(30, 4, generator=g), torch.randn(7, 4, generator=g)
    dist = torch.cdist(test, train)
    ref = dist.sort(dim=1).values
    torch.testing.assert_close(knn_anomaly_score(train, test, 3, metric="euclidean"), ref[:, 2])
    torch.testing.assert_close(
        knn_anomaly_score(train, test, 3, metric="euclidean", reduce="mean"), ref[:, :3].mean(1)
    )
    cos = 1 - torch.nn.functional.normalize(test, dim=1) @ torch.nn.functional.normalize(train, dim=1).T
    torch.testing.assert_close(
        knn_anomaly_score(train, test, 2), cos.sort(dim=1).values[:, 1], rtol=1e-5, atol=1e-6
    )


def test_mahalanobis_matches_numpy_without_shrinkage():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 3, generator=g, dtype=torch.float64) * torch.tensor(
        [1.0, 3.0, 0.5], dtype=torch.float64
    )
    test = torch.randn(5, 3, generator=g, dtype=torch.float64)
    x = train.numpy()
    inv = np.linalg.inv(np.cov(x.T))
    d = test.numpy() - x.mean(0)
    ref = np.sqrt(np.einsum("ij,jk,ik->i", d, inv, d))
    np.testing.assert_allclose(mahalanobis_anomaly_score(train, test, shrinkage=0.0).numpy(), ref, rtol=1e-8)


def test_scores_detect_outliers():
    g = torch.Generator().manual_seed(0)
    normal = torch.randn(100, 8, generator=g) * 0.3 + torch.ones(8)
    test = torch.cat(
        [
            torch.randn(20, 8, generator=g) * 0.3 + torch.ones(8),
            torch.randn(20, 8, generator=g) * 0.3 - torch.ones(8),
        ]
    )
    is_anomaly = torch.cat([torch.zeros(20), torch.ones(20)]).long()
    for scores in (
        knn_anomaly_score(normal, test, 5),
        mahalanobis_anomaly_score(normal, test),
        centroid_anomaly_score(normal, test),
    ):
        assert roc_auc(scores, is_anomaly) > 0.95


def test_mismatched_dimensions_are_rejected():
    with pytest.raises(ValueError, match="same size D"):
        knn_anomaly_score(torch.randn(5, 3), torch.randn(2, 4))
