"""kNN classification and retrieval recall@k against slow loop references and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from pairs.eval import knn_accuracy, knn_predict, nearest_neighbors, recall_at_k
from tests.helpers import gaussian_blobs as blobs


# --------------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------------
def _sims(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        return a @ b.T
    return -np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def loop_knn(train_x, train_y, test_x, k, temperature=None, metric="cosine"):
    """One test sample at a time, a dict of votes per class."""
    sims = _sims(train_x, test_x, metric).T  # (M, N)
    preds = []
    for row in sims:
        order = np.argsort(-row, kind="stable")[:k]
        votes: dict[int, float] = {}
        sim_sum: dict[int, float] = {}
        for j in order:
            label = int(train_y[j])
            w = 1.0 if temperature is None else math.exp(row[j] / temperature)
            votes[label] = votes.get(label, 0.0) + w
            sim_sum[label] = sim_sum.get(label, 0.0) + row[j]
        best = max(votes.values())
        if temperature is None:
            tied = [c for c, v in votes.items() if v == best]
            preds.append(max(tied, key=lambda c: sim_sum[c]))
        else:
            preds.append(max(votes, key=lambda c: votes[c]))
    return np.array(preds)


def loop_recall(query, ql, gallery, gl, ks, metric="cosine"):
    loo = gallery is None
    if loo:
        gallery, gl = query, ql
    sims = _sims(query, gallery, metric)
    hits = {k: [] for k in ks}
    for i in range(len(query)):
        candidates = [j for j in range(len(gallery)) if not (loo and j == i)]
        if not any(gl[j] == ql[i] for j in candidates):
            continue
        ranked = sorted(candidates, key=lambda j: -sims[i, j])
        for k in ks:
            hits[k].append(any(gl[j] == ql[i] for j in ranked[:k]))
    return {f"recall@{k}": float(np.mean(v)) for k, v in hits.items()}, len(hits[ks[0]])


# --------------------------------------------------------------------------------------------------
# kNN
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("temperature", [None, 0.07, 0.5])
@pytest.mark.parametrize("k", [1, 4, 20])
def test_knn_matches_loop_reference(metric, temperature, k):
    x, y = blobs(30, 5, 8, spread=2.0, seed=k)  # overlapping classes: many mixed neighbourhoods
    train_x, train_y, test_x = x[:100], y[:100], x[100:]
    ref = loop_knn(train_x, train_y, test_x, k, temperature, metric)
    pred = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature, metric=metric, chunk_size=7)
    np.testing.assert_array_equal(pred.numpy(), ref)
    acc = knn_accuracy(train_x, train_y, test_x, y[100:], k=k, temperature=temperature, metric=metric)
    assert acc == pytest.approx(np.mean(ref == y[100:]))


def _single_winner(labels: np.ndarray) -> bool:
    counts = np.sort(np.bincount(labels))[::-1]
    return len(counts) == 1 or counts[0] > counts[1]


@pytest.mark.parametrize("k", [1, 5, 10])
def test_knn_majority_matches_sklearn_where_no_tie(k):
    x, y = blobs(40, 4, 16, spread=1.5, seed=1)
    train_x, train_y, test_x = x[:120], y[:120], x[120:]
    sk = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute").fit(train_x, train_y)
    sk_pred = sk.predict(test_x)
    # sklearn breaks ties by the smallest label; compare where the vote has a single winner
    _, idx = sk.kneighbors(test_x)
    no_tie = np.array([_single_winner(train_y[i]) for i in idx])
    assert no_tie.sum() > 20
    pred = knn_predict(train_x, train_y, test_x, k=k).numpy()
    np.testing.assert_array_equal(pred[no_tie], sk_pred[no_tie])


def test_knn_ties_broken_by_summed_similarity():
    # two neighbours of class 0 and two of class 1; class 1's are closer
    train_x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
    train_y = np.array([0, 0, 1, 1, 2])
    test_x = np.array([[0.45, 0.55]])
    assert int(knn_predict(train_x, train_y, test_x, k=4)[0]) == 1
    assert int(knn_predict(train_x, train_y, np.array([[0.55, 0.45]]), k=4)[0]) == 0


def test_knn_separated_clusters_and_label_values():
    x, y = blobs(20, 3, 8, spread=0.01, seed=0)
    labels = np.array([-3, 5, 17])[y]  # arbitrary label values are kept
    for t in (None, 0.07):
        assert knn_accuracy(x[:40], labels[:40], x[40:], labels[40:], k=5, temperature=t) == 1.0
    pred = knn_predict(x[:40], labels[:40], x[40:], k=5)
    assert set(pred.tolist()) <= {-3, 5, 17}


def test_knn_numpy_and_torch_inputs_agree():
    x, y = blobs(20, 4, 6, spread=1.0, seed=2)
    a = knn_accuracy(x[:50], y[:50], x[50:], y[50:], k=7, temperature=0.1)
    b = knn_accuracy(
        torch.from_numpy(x[:50]).float(),
        torch.from_numpy(y[:50]),
        torch.from_numpy(x[50:]),
        torch.from_numpy(y[50:]),
        k=7,
        temperature=0.1,
    )
    assert a == b


def test_knn_large_temperature_equals_majority_on_clear_votes():
    x, y = blobs(25, 2, 4, spread=0.3, seed=3)
    maj = knn_predict(x[:30], y[:30], x[30:], k=5)
    weighted = knn_predict(x[:30], y[:30], x[30:], k=5, temperature=1e6)
    assert torch.equal(maj, weighted)  # k odd, 2 classes: no ties, near-uniform weights


def test_nearest_neighbors_exclude_self():
    x = torch.randn(30, 5)
    _, idx = nearest_neighbors(x, x, 1)
    assert torch.equal(idx[:, 0], torch.arange(30))  # itself first
    _, idx = nearest_neighbors(x, x, 3, exclude_self=True, chunk_size=4)
    assert not (idx == torch.arange(30)[:, None]).any()


def test_knn_bad_inputs():
    x, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
    with pytest.raises(ValueError, match="larger than the number of training samples"):
        knn_accuracy(x, y, x, y, k=11)
    with pytest.raises(ValueError, match="k must be a positive int"):
        knn_accuracy(x, y, x, y, k=0)
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN"):
        knn_accuracy(bad, y, x, y, k=3)
    with pytest.raises(ValueError, match="has 9 entries but the features have 10 rows"):
        knn_accuracy(x, y[:9], x, y, k=3)
    with pytest.raises(ValueError, match="has 9 entries"):
        knn_accuracy(x, y, x, y[:9], k=3)
    with pytest.raises(TypeError, match="integer class labels"):
        knn_accuracy(x, y.astype(float), x, y, k=3)
    with pytest.raises(ValueError, match="same feature size"):
        knn_accuracy(x, y, x[:, :2], y, k=3)
    with pytest.raises(ValueError, match="2-D"):
        knn_accuracy(x[:, :, None], y, x, y, k=3)
    with pytest.raises(ValueError, match="temperature"):
        knn_accuracy(x, y, x, y, k=3, temperature=0.0)
    with pytest.raises(ValueError, match="metric must be one of"):
        knn_accuracy(x, y, x, y, k=3, metric="manhattan")
    with pytest.raises(TypeError, match="numpy array or a torch.Tensor"):
        knn_accuracy(x.tolist(), y, x, y, k=3)
    with pytest.raises(ValueError, match="at least 1 samples"):
        knn_accuracy(x[:0], y[:0], x, y, k=1)


# --------------------------------------------------------------------------------------------------
# Retrieval
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_recall_leave_one_out_matches_loop(metric):
    x, y = blobs(8, 6, 5, spread=1.5, seed=4)
    x, y = x[:45], y[:45]  # uneven class sizes
    ref, n = loop_recall(x, y, None, None, (1, 3, 10), metric)
    out = recall_at_k(x, y, ks=(1, 3, 10), metric=metric, chunk_size=6)
    assert out["n_queries"] == n
    for key, value in ref.items():
        assert out[key] == pytest.approx(value)


def test_recall_with_gallery_matches_loop_and_skips_unanswerable():
    x, y = blobs(10, 5, 6, spread=1.5, seed=5)
    q, ql, g, gl = x[:20], y[:20], x[20:], y[20:].copy()
    gl[gl == 3] = 4  # label 3 no longer in the gallery: its queries cannot be answered
    ref, n = loop_recall(q, ql, g, gl, (1, 5))
    out = recall_at_k(q, ql, g, gl, ks=(1, 5))
    assert out["n_queries"] == n == int((ql != 3).sum())
    assert out["recall@1"] == pytest.approx(ref["recall@1"]) and out["recall@5"] == pytest.approx(
        ref["recall@5"]
    )


def test_recall_separated_clusters_is_one():
    x, y = blobs(10, 4, 8, spread=0.01, seed=6)
    out = recall_at_k(torch.from_numpy(x), torch.from_numpy(y), ks=(1, 9))
    assert out == {"recall@1": 1.0, "recall@9": 1.0, "n_queries": 40}


def test_recall_never_matches_self():
    # every sample is alone in its class except a pair: only the pair is answerable, and they find each other
    x = np.eye(5)
    x[4] = x[3] + 0.01
    y = np.array([0, 1, 2, 3, 3])
    assert recall_at_k(x, y, ks=(1,)) == {"recall@1": 1.0, "n_queries": 2}


def test_recall_bad_inputs():
    x, y = np.random.default_rng(0).normal(size=(6, 3)), np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="larger than the gallery"):
        recall_at_k(x, y, ks=(6,))
    with pytest.raises(ValueError, match="give both gallery and gallery_labels"):
        recall_at_k(x, y, x)
    with pytest.raises(ValueError, match="non-empty sequence"):
        recall_at_k(x, y, ks=5)
    with pytest.raises(ValueError, match="no query has a same-label item"):
        recall_at_k(x, np.arange(6), ks=(1,))
    with pytest.raises(TypeError, match="integer class labels"):
        recall_at_k(x, x)  # gallery passed where labels belong
    with pytest.raises(ValueError, match="same feature size"):
        recall_at_k(x, y, x[:, :2], y, ks=(1,))
