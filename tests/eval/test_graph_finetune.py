"""Fine-tuning a graph encoder on graph-level binary tasks (pairs.eval.graph_finetune)."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

import encoders
from pairs.eval.graph_finetune import finetune_graph_tasks, masked_bce, masked_roc_auc

pytestmark = pytest.mark.usefixtures("one_thread")

NAN = float("nan")


def test_masked_roc_auc_skips_missing_labels_and_one_class_tasks():
    labels = torch.tensor([[1, NAN, 1], [0, 1, 1], [1, 0, 1], [0, NAN, 1]])
    scores = torch.tensor([[0.9, 5.0, 0.0], [0.1, 0.2, 0.0], [0.4, 0.3, 0.0], [0.5, -5.0, 0.0]])
    # task 0: positives 0.9, 0.4 against negatives 0.1, 0.5 -> 3 of 4 pairs; task 1: rows 1, 2 only -> 0;
    # task 2 has one class: skipped
    assert masked_roc_auc(labels, scores) == pytest.approx((0.75 + 0.0) / 2)


def test_masked_roc_auc_refuses_when_no_task_is_scorable():
    with pytest.raises(ValueError, match="both classes"):
        masked_roc_auc(torch.tensor([[1.0], [1.0]]), torch.tensor([[0.1], [0.2]]))


def test_masked_bce_averages_present_labels_only():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    labels = torch.tensor([[1.0, NAN], [0.0, 1.0]])
    expected = (
        -(
            math.log(torch.sigmoid(torch.tensor(2.0)))
            + math.log(1 - torch.sigmoid(torch.tensor(0.5)))
            + math.log(torch.sigmoid(torch.tensor(3.0)))
        )
        / 3
    )
    loss = masked_bce(logits, labels)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert logits.grad[0, 1] == 0.0


def _graphs(n: int, seed: int) -> tuple[list[Data], torch.Tensor]:
    """Random paths of 4-8 nodes with 3 one-hot node types; label: the graph holds a node of type 2."""
    g = torch.Generator().manual_seed(seed)
    graphs, labels = [], []
    for k in range(n):
        size = int(torch.randint(4, 9, (1,), generator=g))
        types = torch.randint(0, 2, (size,), generator=g)
        if k % 2:
            types[int(torch.randint(0, size, (1,), generator=g))] = 2
        src = torch.arange(size - 1)
        edge_index = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
        graphs.append(Data(x=torch.nn.functional.one_hot(types, 3).float(), edge_index=edge_index))
        labels.append([float(k % 2)])
    return graphs, torch.tensor(labels)


def _encoder(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return encoders.get("gin", in_dim=3, hidden_dim=16, n_layers=2, pooling="sum", out="last")


def test_finetuning_learns_a_graph_level_task_and_is_seeded():
    graphs, labels = _graphs(120, seed=0)
    splits = (range(0, 80), range(80, 100), range(100, 120))
    encoder = _encoder(0)
    before = [p.detach().clone() for p in encoder.parameters()]
    r = finetune_graph_tasks(encoder, graphs, labels, splits, epochs=8, lr=0.01, batch_size=16, seed=1)
    assert len(r.test) == len(r.valid) == len(r.losses) == 8
    assert r.last_test > 0.95  # "holds a node of type 2" is what a sum-pooled GIN sees at once
    assert r.losses[-1] < r.losses[0]
    assert r.test_at_best_valid == r.test[r.valid.index(max(r.valid))]
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))
    again = finetune_graph_tasks(
        _encoder(0), graphs, labels, splits, epochs=8, lr=0.01, batch_size=16, seed=1
    )
    assert again.test == r.test and again.losses == r.losses


def test_finetuning_checks_labels_and_splits():
    graphs, labels = _graphs(20, seed=0)
    with pytest.raises(ValueError, match="labels"):
        finetune_graph_tasks(_encoder(0), graphs, labels[:10], (range(10), range(10, 15), range(15, 20)))
    with pytest.raises(ValueError, match="every split"):
        finetune_graph_tasks(_encoder(0), graphs, labels, (range(15), [], range(15, 20)))
