"""Fine-tuning a graph encoder end to end on graph-level binary tasks, scored by ROC-AUC per task.

The transfer protocol of Hu et al. 2020 ("Strategies for Pre-training Graph Neural Networks") that
GraphCL (You et al. 2020) follows for molecules: a linear layer on the encoder's graph embedding gives one
logit per task, the whole network is trained with binary cross-entropy over the labels that are present
(missing labels, NaN, are left out of the loss and of the score), and each epoch the validation and test
ROC-AUC (the mean over tasks that have both classes in that split) are recorded. Hu et al. and GraphCL
report the test ROC-AUC of the last epoch; :attr:`FinetuneResult.test_at_best_valid` is the other common
choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pairs.data.graph_collate import GraphCollate
from pairs.eval.anomaly import roc_auc
from pairs.eval.graph_protocols import encode_graphs
from pairs.validation import positive_int

__all__ = ["FinetuneResult", "finetune_graph_tasks", "masked_bce", "masked_roc_auc"]


def masked_roc_auc(labels: Tensor, scores: Tensor) -> float:
    """Mean ROC-AUC over tasks, each on its present labels, skipping tasks with a single class present.

    Args:
        labels: ``(N, T)`` 0/1 floats, NaN = missing.
        scores: ``(N, T)`` real scores (logits).

    Returns:
        The mean over the scorable tasks (Hu et al.'s ``roc_auc_score`` loop).

    Raises:
        ValueError: shapes differ, or no task has both classes present.
    """
    if labels.shape != scores.shape or labels.dim() != 2:
        raise ValueError(
            f"labels and scores must both be (N, T), got {tuple(labels.shape)}, {tuple(scores.shape)}"
        )
    aucs = []
    for t in range(labels.shape[1]):
        present = ~torch.isnan(labels[:, t])
        y = labels[present, t]
        if bool((y == 1).any()) and bool((y == 0).any()):
            aucs.append(roc_auc(scores[present, t], y.long()))
    if not aucs:
        raise ValueError("no task has both classes among the present labels: ROC-AUC is undefined")
    return float(np.mean(aucs))


def masked_bce(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy with logits, averaged over the present (non-NaN) labels.

    Shape:
        ``(B, T)``, ``(B, T)`` -> scalar (0 when no label is present, with a gradient of zeros).
    """
    present = ~torch.isnan(labels)
    if not bool(present.any()):
        return logits.sum() * 0.0
    return nn.functional.binary_cross_entropy_with_logits(logits[present], labels[present])


@dataclass
class FinetuneResult:
    """Per-epoch figures of one fine-tuning run.

    Attributes:
        losses: mean training loss of each epoch.
        valid: validation ROC-AUC after each epoch.
        test: test ROC-AUC after each epoch.
    """

    losses: list[float] = field(default_factory=list)
    valid: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    @property
    def last_test(self) -> float:
        """Test ROC-AUC after the last epoch (Hu et al.'s and GraphCL's reported figure)."""
        return self.test[-1]

    @property
    def test_at_best_valid(self) -> float:
        """Test ROC-AUC at the first epoch of highest validation ROC-AUC."""
        return self.test[int(np.argmax(self.valid))]


def finetune_graph_tasks(
    encoder: nn.Module,
    graphs: Sequence[Any],
    labels: Tensor,
    splits: tuple[Sequence[int], Sequence[int], Sequence[int]],
    *,
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 32,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> FinetuneResult:
    """Train ``encoder`` + a linear head on graph-level binary tasks; ROC-AUC on valid and test per epoch.

    ``encoder`` is trained in place (pass a copy to keep the original). The head is a ``Linear(out_dim,
    T)`` with Kaiming-uniform weights drawn from a generator seeded by ``seed``, which also orders the
    training graphs of every epoch; Adam with a constant learning rate.

    Args:
        encoder: maps a PyG ``Batch`` of ``G`` graphs to ``(G, out_dim)``; needs an int ``out_dim``.
        graphs: ``N`` ``Data`` with float node features ``x``.
        labels: ``(N, T)`` 0/1 float labels, NaN = missing.
        splits: ``(train, valid, test)`` positions into ``graphs`` (e.g. from
            :func:`pairs.data.molecules.scaffold_split`).
        epochs: training epochs (Hu et al., GraphCL: 100).
        lr: Adam's learning rate (Hu et al.: 0.001).
        batch_size: graphs per step (Hu et al.: 32); the last, smaller batch is kept unless it holds a
            single graph (BatchNorm needs two).
        weight_decay: Adam's weight decay.
        seed: seed of the head's initialisation and of the shuffling.
        device: where to train.

    Returns:
        A :class:`FinetuneResult`.

    Raises:
        ValueError: on bad sizes, labels that do not match ``graphs``, or an empty split.
    """
    epochs = positive_int("epochs", epochs, owner="finetune_graph_tasks")
    batch_size = positive_int("batch_size", batch_size, owner="finetune_graph_tasks")
    if labels.dim() != 2 or labels.shape[0] != len(graphs):
        raise ValueError(f"labels must be (N, T) with N = {len(graphs)} graphs, got {tuple(labels.shape)}")
    train, valid, test = (torch.as_tensor(np.asarray(s, dtype=np.int64)) for s in splits)
    if min(len(train), len(valid), len(test)) == 0:
        raise ValueError(f"every split needs graphs, got {len(train)}, {len(valid)}, {len(test)}")
    out_dim = getattr(encoder, "out_dim", None)
    if not isinstance(out_dim, int):
        raise ValueError("finetune_graph_tasks: the encoder needs an int out_dim (its embedding size)")
    generator = torch.Generator().manual_seed(int(seed))
    head = nn.Linear(out_dim, labels.shape[1])
    nn.init.kaiming_uniform_(head.weight, a=5**0.5, generator=generator)  # nn.Linear's default, seeded
    nn.init.zeros_(head.bias)
    model = nn.Sequential(encoder, head).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    collate = GraphCollate()
    labels = labels.float()
    result = FinetuneResult()
    for _ in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=generator)]
        total, steps = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:
                continue
            batch = collate([graphs[i] for i in idx.tolist()]).to(device)
            loss = masked_bce(model(batch), labels[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + float(loss.detach()), steps + 1
        result.losses.append(total / max(steps, 1))
        for split, scores in ((valid, result.valid), (test, result.test)):
            logits = encode_graphs(
                model, [graphs[i] for i in split.tolist()], collate, device, batch_size=256
            )
            scores.append(masked_roc_auc(labels[split], logits))
    model.to("cpu")
    return result
