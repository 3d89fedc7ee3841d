"""SimilarityIndex against a brute-force, obviously-correct reference."""

from __future__ import annotations

import pytest
import torch

from pairs.eval.search import SimilarityIndex


def reference(gallery, query, k, metric):
    if metric == "cosine":
        sim = torch.nn.functional.normalize(query, dim=1) @ torch.nn.functional.normalize(gallery, dim=1).T
    elif metric == "dot":
        sim = query @ gallery.T
    else:
        sim = -torch.stack([torch.stack([(q - g).norm() for g in gallery]) for q in query])
    return sim.topk(k, dim=1)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("batch_size", [None, 1, 7])
def test_topk_matches_reference(metric, batch_size):
    g = torch.Generator().manual_seed(0)
    gallery, query = torch.randn(40, 5, generator=g), torch.randn(13, 5, generator=g)
    scores, ids = SimilarityIndex(gallery, metric=metric).search(query, k=4, batch_size=batch_size)
    ref_scores, ref_ids = reference(gallery, query, 4, metric)
    torch.testing.assert_close(scores, ref_scores, rtol=1e-5, atol=1e-5)
    assert torch.equal(ids, ref_ids)


def test_ids_add_and_exclude_self():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(10, 3, generator=g)
    index = SimilarityIndex(x[:6], ids=torch.arange(100, 106))
    index.add(x[6:], ids=torch.arange(106, 110))
    assert len(index) == 10
    _, ids = index.search(x, k=1)
    assert torch.equal(ids[:, 0], torch.arange(100, 110))  # each row finds itself
    _, ids = index.search(x, k=1, exclude_self=True)
    assert not bool((ids[:, 0] == torch.arange(100, 110)).any())
    _, single = index.search(x[3], k=1)
    assert single.shape == (1, 1)


def test_bad_input_messages():
    index = SimilarityIndex(torch.randn(5, 3))
    with pytest.raises(ValueError, match="k=6 is larger"):
        index.search(torch.randn(2, 3), k=6)
    with pytest.raises(ValueError, match="dimensions"):
        index.search(torch.randn(2, 4), k=1)
    with pytest.raises(ValueError, match="metric"):
        SimilarityIndex(torch.randn(5, 3), metric="manhattan")
    with pytest.raises(ValueError, match="ids"):
        index.add(torch.randn(2, 3), ids=torch.arange(2))
