"""Tests for pairs.losses.queue.NegativeQueue (ring buffer against a deque reference, state_dict
round-trip, labels) and its use by InfoNCELoss (MoCo; SupCon with a queue)."""

from __future__ import annotations

import io
from collections import deque

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs.losses.contrastive import InfoNCELoss, info_nce
from pairs.losses.queue import NegativeQueue

from .conftest import assert_close_rel, randn, ref_info_nce


def _as_sorted_rows(x: torch.Tensor) -> list[tuple[float, ...]]:
    return sorted(tuple(r) for r in x.tolist())


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(1, 9),
    batches=st.lists(st.integers(1, 14), min_size=1, max_size=6),
    labels=st.booleans(),
)
def test_ring_buffer_matches_deque(size, batches, labels):
    q = NegativeQueue(size, 2, store_labels=labels)
    ref: deque[tuple[float, float, int]] = deque(maxlen=size)
    counter = 0
    for n in batches:
        keys = torch.arange(counter, counter + n, dtype=torch.float32)[:, None].repeat(1, 2)
        lab = torch.arange(counter, counter + n) % 5
        q.enqueue(keys, lab if labels else None)
        for i in range(n):
            ref.append((float(counter + i), float(counter + i), (counter + i) % 5))
        counter += n
        k, lbl = q.get()
        assert len(q) == len(ref) == k.shape[0]
        assert _as_sorted_rows(k) == sorted((a, b) for a, b, _ in ref)
        if labels:
            assert sorted(zip(k[:, 0].tolist(), lbl.tolist(), strict=True)) == sorted(
                (a, c) for a, _, c in ref
            )
        else:
            assert lbl is None
        # the next write goes to the oldest slot: ptr = total written mod size
        assert int(q.ptr) == counter % size


def test_batch_larger_than_queue_keeps_newest():
    q = NegativeQueue(4, 1)
    q.enqueue(torch.arange(3.0)[:, None])
    q.enqueue(torch.arange(10.0, 20.0)[:, None])  # 10 keys into a queue of 4
    keys, _ = q.get()
    assert sorted(keys[:, 0].tolist()) == [16.0, 17.0, 18.0, 19.0]
    assert int(q.filled) == 4 and int(q.ptr) == (3 + 10) % 4
    q.enqueue(torch.tensor([[99.0]]))  # overwrites the oldest (16)
    assert sorted(q.get()[0][:, 0].tolist()) == [17.0, 18.0, 19.0, 99.0]


def test_state_dict_round_trip_and_resume():
    a = NegativeQueue(5, 3, store_labels=True)
    b_keys = [randn(n, 3, seed=n, dtype=torch.float32) for n in (2, 4, 3)]
    b_labels = [torch.arange(n) for n in (2, 4, 3)]
    a.enqueue(b_keys[0], b_labels[0])
    a.enqueue(b_keys[1], b_labels[1])
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert set(state) == {"keys", "labels", "ptr", "filled"}
    b = NegativeQueue(5, 3, store_labels=True)
    b.load_state_dict(state)
    for x, y in zip(a.get(), b.get(), strict=True):
        assert torch.equal(x, y)
    # resuming gives exactly what an unbroken run gives
    a.enqueue(b_keys[2], b_labels[2])
    b.enqueue(b_keys[2], b_labels[2])
    for x, y in zip(a.get(), b.get(), strict=True):
        assert torch.equal(x, y)
    assert int(a.ptr) == int(b.ptr) and int(a.filled) == int(b.filled)
    with pytest.raises(RuntimeError):
        NegativeQueue(6, 3).load_state_dict(state)  # wrong size


def test_enqueue_detaches_casts_and_get_copies():
    q = NegativeQueue(4, 2, dtype=torch.float64)
    keys = torch.randn(3, 2, requires_grad=True)
    q.enqueue(keys * 2)
    got, _ = q.get()
    assert not got.requires_grad and got.dtype == torch.float64
    got.zero_()
    assert not torch.all(q.get()[0] == 0)  # get() returned a copy
    q.reset()
    assert len(q) == 0 and q.get()[0].shape == (0, 2)
    assert "size=4" in repr(q)


def test_queue_rejects_bad_input():
    with pytest.raises(ValueError, match="size"):
        NegativeQueue(0, 3)
    with pytest.raises(ValueError, match="dim"):
        NegativeQueue(3, -1)
    with pytest.raises(ValueError, match="floating"):
        NegativeQueue(3, 2, dtype=torch.long)
    q = NegativeQueue(3, 2)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        q.enqueue(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="store_labels=False"):
        q.enqueue(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        q.enqueue(torch.full((2, 2), float("nan")))
    ql = NegativeQueue(3, 2, store_labels=True)
    with pytest.raises(ValueError, match="pass labels"):
        ql.enqueue(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="integer tensor"):
        ql.enqueue(torch.zeros(2, 2), torch.zeros(3, dtype=torch.long))


def test_info_nce_module_with_queue_moco_style():
    torch.manual_seed(0)
    queue = NegativeQueue(8, 4)
    loss_fn = InfoNCELoss(temperature=0.2, queue=queue)
    q1, k1 = randn(3, 4, seed=1), randn(3, 4, seed=2)
    # step 1: empty queue -> in-batch negatives; then the keys are enqueued
    assert_close_rel(loss_fn(q1, k1), info_nce(q1, k1, temperature=0.2), torch.float64)
    assert len(queue) == 3
    # step 2: the queue holds k1; the loss uses it as the negatives
    q2, k2 = randn(3, 4, seed=3), randn(3, 4, seed=4)
    expected = ref_info_nce(q2, k2, k1, 0.2).mean()
    assert_close_rel(loss_fn(q2, k2), expected, torch.float32)
    assert len(queue) == 6
    # eval mode does not touch the queue
    loss_fn.eval()
    loss_fn(q2, k2)
    assert len(queue) == 6
    # the queue is part of the loss module's state_dict
    assert {"queue.keys", "queue.labels", "queue.ptr", "queue.filled"} <= set(loss_fn.state_dict())


def test_supcon_with_queue_counts_same_label_keys_as_positives():
    queue = NegativeQueue(10, 4, store_labels=True)
    keys, klab = randn(6, 4, seed=5, dtype=torch.float32), torch.tensor([0, 1, 2, 0, 1, 2])
    queue.enqueue(keys, klab)
    loss_fn = InfoNCELoss(temperature=0.3, queue=queue)
    q, p, ql = randn(4, 4, seed=6), randn(4, 4, seed=7), torch.tensor([0, 0, 1, 3])
    qd = q.clone().requires_grad_(True)
    got = loss_fn(qd, p, query_labels=ql)
    expected = ref_info_nce(q, p, keys.double(), 0.3, ql, klab).mean()
    assert_close_rel(got, expected, torch.float32)
    # label 3 has no queue key: that query's loss is plain InfoNCE over the queue
    per = info_nce(
        q, p, keys.double(), temperature=0.3, query_labels=ql, negative_labels=klab, reduction="none"
    )
    plain = info_nce(q, p, keys.double(), temperature=0.3, reduction="none")
    assert_close_rel(per[3], plain[3], torch.float64)
    assert float(per[0]) != pytest.approx(float(plain[0]))
    assert len(queue) == 10  # 6 + 4 enqueued with their labels
    assert sorted(queue.get()[1].tolist()) == sorted(klab.tolist() + ql.tolist())
    unlabeled = InfoNCELoss(queue=NegativeQueue(4, 4))
    unlabeled.queue.enqueue(keys[:2])
    with pytest.raises(ValueError, match="store_labels"):
        unlabeled(q, p, query_labels=ql)
    with pytest.raises(TypeError, match="NegativeQueue"):
        InfoNCELoss(queue=torch.zeros(3))
