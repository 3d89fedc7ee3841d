"""Graph evaluation protocols: frozen graph or node embeddings -> GraphCL's SVM protocol, node classification.

* :func:`evaluate_graphs` (graph-level data, ``tu:MUTAG``): ``svm_acc`` / ``svm_acc_std``, GraphCL's
  protocol (SVM with ``C`` chosen by inner CV, 10-fold CV over *all* labelled graphs of the bundle), plus
  ``linear_probe_acc`` and ``knn_acc`` on the bundle's held-out split;
* :func:`evaluate_nodes` (one graph's nodes, ``karate``): node classification by a linear probe on frozen
  node embeddings over random stratified splits;
* :func:`encode_graphs` / :func:`encode_nodes`: the frozen embeddings they use; :func:`node_embeddings`: an
  encoder's rows for a graph's nodes, checked (GRACE trains on them).

References:
    You et al. 2020, "Graph Contrastive Learning with Augmentations" (GraphCL); Sun et al. 2020,
    "InfoGraph" (``evaluate_embedding``); Zhu et al. 2020, "Deep Graph Contrastive Representation
    Learning" (GRACE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pairs.data.graph_collate import GraphCollate, all_graphs, all_labels, collate_for, is_graph_source
from pairs.data.registry import DataBundle
from pairs.eval.protocols import probe_and_knn
from pairs.frozen import frozen
from pairs.validation import one_row_each

__all__ = ["encode_graphs", "encode_nodes", "evaluate_graphs", "evaluate_nodes", "node_embeddings"]


def encode_graphs(
    encoder: nn.Module,
    graphs: Sequence[Any],
    collate: GraphCollate | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
) -> Tensor:
    """Graph embeddings of a frozen encoder (eval mode, no gradients).

    Shape:
        ``G`` graphs -> float32 CPU ``(G, D)``.
    """
    from pairs.eval import extract_features

    return extract_features(
        encoder, list(graphs), batch_size=batch_size, device=device, transform=collate or GraphCollate()
    )


def node_embeddings(encoder: nn.Module, graph: Any, owner: str = "GRACE") -> Tensor:
    """Node embeddings of a ``Data``/``Batch``: ``encoder.node_embeddings`` when it has one (GIN), else
    ``encoder(graph)`` (GCN). What GRACE contrasts (it imports this, also as
    ``pairs.methods.grace.node_embeddings``) and :func:`encode_nodes` evaluates.

    Raises:
        ConfigError: if the encoder does not return one row per node.

    Shape:
        a graph (or batch) with ``N`` nodes -> ``(N, D)``.
    """
    fn = getattr(encoder, "node_embeddings", None)
    n = getattr(graph, "num_nodes", None)
    return one_row_each(
        fn(graph) if callable(fn) else encoder(graph),
        n,
        owner=owner,
        kind="node",
        counted="a graph of {n} nodes",
        fix="use a node-level encoder such as 'gcn'",
    )


def encode_nodes(
    encoder: nn.Module, graph: Any, collate: GraphCollate | None = None, device: torch.device | str = "cpu"
) -> Tensor:
    """Node embeddings of one graph from a frozen encoder (eval mode, no gradients; mode and device restored).

    Shape:
        a graph with ``N`` nodes -> float32 CPU ``(N, D)``.
    """
    batch = (collate or GraphCollate())([graph])
    device = torch.device(device)
    with frozen(encoder, device):
        out = node_embeddings(encoder, batch.to(device), owner="node evaluation")
    return out.detach().to(device="cpu", dtype=torch.float32)


def evaluate_graphs(
    encoder: nn.Module,
    bundle: DataBundle,
    device: torch.device | str = "cpu",
    collate: GraphCollate | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """GraphCL's graph classification protocol, plus a linear probe and kNN on the held-out split.

    ``svm_acc``: frozen graph embeddings of *all* labelled graphs of the bundle (train and test; the
    protocol of InfoGraph/GraphCL cross-validates over the whole set) -> :func:`pairs.eval.svm_cv_accuracy`
    (RBF ``SVC``, ``C`` from ``{1e-3, ..., 1e3}`` by 5-fold inner CV, 10-fold stratified outer CV; fewer
    folds when the smallest class has fewer than 10 graphs); ``svm_acc_std`` is the std over folds.
    ``linear_probe_acc`` / ``knn_acc``: :func:`pairs.eval.protocols.probe_and_knn` on the bundle's
    train/test split.

    Args:
        encoder: maps a ``Batch`` of ``G`` graphs to ``(G, D)``.
        bundle: graph-level data.
        device: where the encoder runs.
        collate: batches the graphs (default: the recipe's, with features for featureless graphs).
        seed: seed of the CV folds.

    Returns:
        ``{"svm_acc", "svm_acc_std", "svm_folds", "linear_probe_acc", "knn_acc", "probe_C"}`` (what the
        labels allow; ``{}`` for unlabeled data).
    """
    from pairs.eval import svm_cv_accuracy

    labels = all_labels(bundle)
    if labels is None:
        return {}  # unlabelled: decide before reading any graph (a lazy source may hold millions)
    collate = collate or collate_for(bundle)
    out: dict[str, Any] = {}
    counts = torch.bincount(labels)
    counts = counts[counts > 0]
    folds = min(10, int(counts.min()))
    if len(counts) >= 2 and folds >= 2:
        if is_graph_source(bundle.train):  # read in batches by DataLoader workers, never all graphs at once
            from pairs.eval import extract_features

            splits = [s for s in (bundle.train, bundle.test) if s is not None]
            x = torch.cat([extract_features(encoder, s, device=device, transform=collate) for s in splits])
        else:
            x = encode_graphs(encoder, all_graphs(bundle)[0], collate, device)
        svm = svm_cv_accuracy(x, labels, folds=folds, seed=seed)
        out.update({"svm_acc": svm["mean"], "svm_acc_std": svm["std"], "svm_folds": folds})
    out.update(probe_and_knn(encoder, bundle, device, collate=collate))
    return out


def _node_splits(labels: Tensor, n_splits: int, train_fraction: float) -> list[tuple[Any, Any]]:
    import numpy as np
    from sklearn.model_selection import train_test_split

    y = labels.numpy()
    idx = np.arange(len(y))
    return [
        train_test_split(idx, train_size=train_fraction, stratify=y, random_state=s) for s in range(n_splits)
    ]


def evaluate_nodes(
    encoder: nn.Module,
    bundle: DataBundle,
    device: torch.device | str = "cpu",
    collate: GraphCollate | None = None,
    n_splits: int = 5,
    train_fraction: float = 0.5,
) -> dict[str, Any]:
    """Node classification with frozen node embeddings (linear probe), over random stratified splits.

    The graph's nodes are split ``train_fraction`` / rest, stratified by label, ``n_splits`` times (split
    ``s`` uses ``random_state=s``); on each split :func:`pairs.eval.linear_probe` fits a logistic regression
    on the training nodes (``C`` by CV on them) and scores the others. ``node_acc`` is the mean over splits
    (``node_acc_std`` the std); ``linear_probe_acc`` and ``knn_acc`` (cosine, ``k = 5``) are those of
    split 0. GRACE's own protocol (10% train / 80% test on Cora-sized graphs) leaves 3 training nodes on
    karate's 34, hence 50/50 here.

    Args:
        encoder: maps a graph with ``N`` nodes to ``(N, D)`` (or has ``node_embeddings``).
        bundle: node-level data (``train == [graph]``, labels in ``graph.y``).
        device: where the encoder runs.
        collate: batches the graph (default: adds features to a featureless graph).
        n_splits: number of random splits.
        train_fraction: fraction of labelled nodes used for training.

    Returns:
        ``{"node_acc", "node_acc_std", "linear_probe_acc", "knn_acc", "probe_C"}``, or ``{}`` when the graph
        has no usable node labels (fewer than 2 classes, or a class with a single node).
    """
    from pairs.eval import knn_accuracy, linear_probe

    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"evaluate_nodes: train_fraction must be in (0, 1), got {train_fraction}")
    graph = bundle.train[0]
    y = graph.y if "y" in graph else None
    if not isinstance(y, Tensor) or y.dim() != 1 or y.numel() != graph.num_nodes or y.is_floating_point():
        return {}
    y = y.long().cpu()
    counts = torch.bincount(y)
    counts = counts[counts > 0]
    if len(counts) < 2 or int(counts.min()) < 2:
        return {}
    z = encode_nodes(encoder, graph, collate or collate_for(bundle), device)
    accs: list[float] = []
    first: dict[str, Any] = {}  # the probe of split 0
    knn = float("nan")
    for tr, te in _node_splits(y, n_splits, train_fraction):
        probe = linear_probe(z[tr], y[tr], z[te], y[te])
        accs.append(float(probe["acc"]))
        if not first:
            first = probe
            knn = knn_accuracy(z[tr], y[tr], z[te], y[te], k=min(5, len(tr)))
    acc = torch.tensor(accs, dtype=torch.float64)
    return {
        "node_acc": float(acc.mean()),
        "node_acc_std": float(acc.std(unbiased=False)),
        "linear_probe_acc": float(first["acc"]),
        "knn_acc": float(knn),
        "probe_C": first.get("C"),
    }
