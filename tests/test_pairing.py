"""Pairing: N views per sample, Siamese pairs, triplets, collate, and the batched seeded ViewLoader."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from pairs.pairing import (
    MultiViewDataset,
    SiamesePairDataset,
    TripletDataset,
    ViewLoader,
    collate_pairs,
    collate_samples,
    collate_triplets,
    collate_views,
    make_views,
    move_to,
)
from tests.helpers import AddNoise, blobs


def test_multiview_dataset_is_seeded_per_epoch_and_index():
    x, y = blobs(12)
    ds = MultiViewDataset(x, AddNoise(0.5), n_views=3, labels=y, seed=1)
    views, label = ds[4]
    assert len(views) == 3 and label == int(y[4])
    assert not torch.equal(views[0], views[1])  # views differ from each other
    again, _ = MultiViewDataset(x, AddNoise(0.5), n_views=3, labels=y, seed=1)[4]
    assert all(torch.equal(a, b) for a, b in zip(views, again))  # same seed, same views
    ds.set_epoch(1)
    assert not torch.equal(ds[4][0][0], views[0])  # a new epoch draws new views
    batch = collate_views([ds[i] for i in range(5)])
    assert len(batch.views) == 3 and batch.views[0].shape == (5, 1, 8, 8)
    assert torch.equal(batch.labels, y[:5])


def test_multiview_dataset_in_a_dataloader_with_workers_matches_direct_access():
    x, y = blobs(16)
    ds = MultiViewDataset(x, AddNoise(0.5), labels=y, seed=3)
    loader = DataLoader(ds, batch_size=8, collate_fn=collate_views, num_workers=2)
    batches = list(loader)
    direct = collate_views([ds[i] for i in range(8)])
    assert torch.equal(batches[0].views[1], direct.views[1])


def test_unlabeled_items_collate_to_no_labels_and_tuple_items_carry_labels():
    x, y = blobs(6)
    unlabeled = collate_views([MultiViewDataset(x, AddNoise())[i] for i in range(3)])
    assert unlabeled.labels is None
    pairs = [(x[i], int(y[i])) for i in range(6)]
    assert MultiViewDataset(pairs, AddNoise())[2][1] == int(y[2])


def test_siamese_pairs_have_exact_positive_fraction_and_correct_labels():
    x, y = blobs(90)
    ds = SiamesePairDataset(x, y, positive_fraction=0.3, n_pairs=50, seed=0)
    flags = []
    for i in range(len(ds)):
        a, b, similar = ds[i]
        ia = int((x == a).flatten(1).all(1).nonzero()[0])
        ib = int((x == b).flatten(1).all(1).nonzero()[0])
        assert ia != ib
        assert similar == int(y[ia] == y[ib])
        flags.append(similar)
    assert sum(flags) == 15  # round(0.3 * 50), exactly
    a, b, s = collate_pairs([ds[i] for i in range(4)])
    assert a.shape == b.shape == (4, 1, 8, 8) and s.shape == (4,)
    ds.set_epoch(1)
    assert [ds[i][2] for i in range(50)] != flags  # a new epoch reshuffles which pairs are positive


def test_triplets_respect_classes():
    x, y = blobs(30)
    ds = TripletDataset(x, y, seed=2)
    find = lambda t: int((x == t).flatten(1).all(1).nonzero()[0])  # noqa: E731
    for i in range(len(ds)):
        a, p, n = (find(t) for t in ds[i])
        assert a != p and y[a] == y[p] and y[a] != y[n]
    anchors, positives, negatives = collate_triplets([ds[i] for i in range(3)])
    assert anchors.shape == (3, 1, 8, 8)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x, y: SiamesePairDataset(x, y, positive_fraction=1.5), r"\[0, 1\]"),
        (
            lambda x, y: SiamesePairDataset(x, torch.zeros(len(x), dtype=torch.long), positive_fraction=0.5),
            "2 classes",
        ),
        (lambda x, y: SiamesePairDataset(x, y[:-1]), "labels of shape"),
        (lambda x, y: SiamesePairDataset(x, y.float()), "integer class labels"),
        (lambda x, y: TripletDataset(x, torch.arange(len(x))), "at least 2 samples"),
        (lambda x, y: MultiViewDataset(x, AddNoise(), n_views=0), "n_views"),
        (lambda x, y: ViewLoader(x, AddNoise(), batch_size=1000), "larger than the dataset"),
        (lambda x, y: ViewLoader(x, AddNoise(), batch_size=7, world_size=2, rank=0), "divisible"),
        (lambda x, y: ViewLoader(x[:0], AddNoise()), "no samples"),
    ],
)
def test_bad_arguments_are_explained(make, message):
    x, y = blobs(12)
    with pytest.raises((ValueError, TypeError), match=message):
        make(x, y)


def test_collate_samples_by_kind():
    assert collate_samples([torch.zeros(2), torch.ones(2)]).shape == (2, 2)
    assert collate_samples(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="different shapes"):
        collate_samples([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(ValueError, match="empty"):
        collate_samples([])
    from torch_geometric.data import Batch, Data

    graphs = [Data(x=torch.zeros(3, 1), edge_index=torch.tensor([[0, 1], [1, 2]])) for _ in range(2)]
    batch = collate_samples(graphs)
    assert isinstance(batch, Batch) and batch.num_graphs == 2
    assert move_to(["a"], "cpu") == ["a"]


def test_view_loader_is_reproducible_and_resumable():
    x, y = blobs(40)
    loader = ViewLoader(x, AddNoise(0.5), n_views=2, labels=y, batch_size=8, seed=5)
    assert len(loader) == 5
    epoch0 = list(loader)
    loader.set_epoch(1)
    epoch1 = list(loader)
    assert not torch.equal(epoch0[0].index, epoch1[0].index)
    # a fresh loader set to epoch 1 (as after a resume) yields exactly the same batches
    fresh = ViewLoader(x, AddNoise(0.5), n_views=2, labels=y, batch_size=8, seed=5)
    fresh.set_epoch(1)
    for a, b in zip(epoch1, fresh):
        assert torch.equal(a.index, b.index)
        assert torch.equal(a.views[0], b.views[0]) and torch.equal(a.views[1], b.views[1])
        assert torch.equal(a.labels, y[a.index])
    # every sample appears once per epoch
    seen = torch.cat([b.index for b in epoch0])
    assert sorted(seen.tolist()) == list(range(40))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(4, 60),
    world=st.sampled_from([1, 2, 4]),
    per_rank=st.integers(1, 5),
    seed=st.integers(0, 99),
)
def test_ranks_split_every_global_batch_exactly(n, world, per_rank, seed):
    batch = world * per_rank
    if batch > n:
        return
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)
    ranks = [
        ViewLoader(x, AddNoise(0.0), batch_size=batch, seed=seed, rank=r, world_size=world)
        for r in range(world)
    ]
    single = ViewLoader(x, AddNoise(0.0), batch_size=batch, seed=seed, rank=0, world_size=1)
    for step in range(len(single)):
        parts = torch.cat([r.batch_indices(step) for r in ranks])
        assert torch.equal(parts, single.batch_indices(step))


def test_make_views_accepts_one_view_a_list_or_a_multi_view_producer():
    x, _ = blobs(4)
    g = torch.Generator().manual_seed(0)
    assert len(make_views(AddNoise(), x, 3, g)) == 3
    assert len(make_views([AddNoise(0.1), AddNoise(0.2)], x, 2, g)) == 2
    with pytest.raises(ValueError, match="n_views"):
        make_views([AddNoise()], x, 2, g)

    class Producer:
        multi_view = True

        def __call__(self, batch, generator):
            return [batch, batch * 2, batch * 3]

    assert len(make_views(Producer(), x, 2, g)) == 3
