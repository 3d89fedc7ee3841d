"""Graph defaults: GraphCL for sets of graphs (``tu:MUTAG``), GRACE for one graph's nodes (``karate``).

:func:`graph_recipe` looks at ``bundle.info["level"]``:

* ``"graph"`` (TU sets, ``graphs:FILE``): views ``"graphcl"`` (default: the original graph and a GraphCL
  augmentation drawn per graph from node dropping, subgraph, edge perturbation and attribute masking with
  ``aug_ratio = 0.2``; GraphCL's unsupervised TU code contrasts the original graph with one augmented
  view), ``"graphcl_both"`` (two augmented views, the paper's formulation) and one pair per single
  augmentation (``"dnodes"``, ``"pedges"``, ``"subgraph"``, ``"mask_nodes"``, ``"random2"``,
  ``"random3"``); encoder ``gin`` (hidden 32, 3 layers, sum pooling, layers concatenated); method
  ``graphcl`` (temperature 0.2); Adam, lr 0.01, batch 128, 20 epochs (GraphCL's ``gsimclr.py``).
  Evaluation (:func:`evaluate_graphs`): ``svm_acc`` / ``svm_acc_std``, GraphCL's protocol (SVM with ``C``
  chosen by inner CV, 10-fold CV over *all* labelled graphs of the bundle), plus ``linear_probe_acc`` and
  ``knn_acc`` on the bundle's held-out split.
* ``"node"`` (``karate`` and the other networkx graphs): views ``"grace"`` (two different views: edges
  removed with rates 0.2 / 0.4, feature columns masked with rates 0.3 / 0.4, GRACE's Cora config);
  encoder ``gcn`` (2 layers, 256 -> 128, ReLU); method ``grace`` (tau 0.4, projection hidden 128); Adam,
  lr 5e-4, weight decay 1e-5, 200 epochs of one step (the loader yields the one graph each step).
  Evaluation (:func:`evaluate_nodes`): node classification by a linear probe on frozen node embeddings.

Graphs without node features get a one-hot degree (dataset-wide width), as GraphCL/InfoGraph do for
featureless TU sets, through the recipe's ``collate`` (:class:`GraphCollate`).

References:
    You et al. 2020, "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS; Sun et al. 2020,
    "InfoGraph" (``evaluate_embedding``); Zhu et al. 2020, "Deep Graph Contrastive Representation
    Learning" (GRACE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pairs.data.registry import DataBundle
from pairs.domains import Recipe, register_recipe
from pairs.errors import DataError, DataTypeError
from pairs.views.base import Compose, Lambda, View
from pairs.views.graph import GRAPHCL_AUGS, DropEdges, MaskFeatures, graphcl_view

__all__ = [
    "GraphCollate",
    "all_graphs",
    "encode_graphs",
    "encode_nodes",
    "evaluate_graphs",
    "evaluate_nodes",
    "grace_views",
    "graph_recipe",
    "graphcl_pair",
    "identity_view",
    "preview_graphs",
]

GRAPHCL_AUG_RATIO = 0.2
"""GraphCL's ``aug_ratio``."""

GRACE_RATES = ((0.2, 0.3), (0.4, 0.4))
"""GRACE's Cora config: ``(drop_edge_rate, drop_feature_rate)`` of view 1 and view 2."""


# --------------------------------------------------------------------------------------------------
# Features and collation
# --------------------------------------------------------------------------------------------------
def _has_x(data: Any) -> bool:
    return "x" in data and data.x is not None


class GraphCollate:
    """Batch a list of ``Data`` (``Batch.from_data_list``) and give featureless graphs node features.

    Args:
        kind: ``"degree"`` (one-hot degree, GraphCL/InfoGraph's choice for featureless sets) or
            ``"constant"``.
        max_degree: width of the degree one-hot minus one (the dataset's largest degree, so every batch
            gets the same feature size).

    Shape:
        a list of ``G`` graphs -> a ``Batch`` of ``G`` graphs with float ``x`` ``(N, F)``.
    """

    def __init__(self, kind: str = "degree", max_degree: int = 0) -> None:
        if kind not in ("degree", "constant"):
            raise ValueError(f"GraphCollate: kind must be 'degree' or 'constant', got {kind!r}")
        self.kind, self.max_degree = kind, int(max_degree)

    def __call__(self, graphs: Sequence[Any]) -> Any:
        from torch_geometric.data import Batch

        from encoders.graph import ensure_features

        if isinstance(graphs, Batch):
            batch = graphs
        else:
            if len(graphs) == 0:
                raise ValueError("GraphCollate got an empty list of graphs")
            batch = Batch.from_data_list(list(graphs))
        if _has_x(batch):
            if not batch.x.is_floating_point():
                batch.x = batch.x.float()
            return batch
        return ensure_features(batch, self.kind, self.max_degree)

    def __repr__(self) -> str:
        return f"GraphCollate(kind={self.kind!r}, max_degree={self.max_degree})"


def _max_degree(graphs: Sequence[Any]) -> int:
    best = 0
    for d in graphs:
        ei = d.edge_index if "edge_index" in d else None
        if ei is not None and ei.numel():
            best = max(best, int(torch.bincount(ei[0], minlength=int(d.num_nodes or 0)).max()))
    return best


def all_graphs(bundle: DataBundle) -> tuple[list[Any], Tensor | None]:
    """Every graph of the bundle (train then test) and their labels (``None`` unless both splits have
    them)."""
    graphs = list(bundle.train) + (list(bundle.test) if bundle.test is not None else [])
    if bundle.train_labels is None or (bundle.test is not None and bundle.test_labels is None):
        return graphs, None
    labels = bundle.train_labels
    if bundle.test is not None:
        labels = torch.cat([labels, bundle.test_labels])
    return graphs, labels.long()


def _is_source(samples: Any) -> bool:
    """A lazy graph source (:mod:`pairs.data.graph_formats`): items are built on demand."""
    return hasattr(samples, "item_id") and hasattr(samples, "has_node_features")


def _collate_for(bundle: DataBundle) -> GraphCollate:
    if _is_source(bundle.train) and bundle.train.has_node_features:
        return GraphCollate("degree", 0)  # no pass over a lazy source when every graph has features
    graphs, _ = all_graphs(bundle)
    if all(_has_x(d) for d in graphs):
        return GraphCollate("degree", 0)
    return GraphCollate("degree", _max_degree(graphs))


def _in_dim(bundle: DataBundle, collate: GraphCollate) -> int:
    first = collate(list(bundle.train[:1]))
    return int(first.x.shape[1])


def _check_graph_bundle(bundle: DataBundle) -> None:
    from torch_geometric.data import Data

    lazy = [s for s in (bundle.train, bundle.test) if _is_source(s)]
    if lazy:  # a lazy source checks its own items when it reads them; look at the first one only
        for samples in lazy:
            if len(samples) == 0 or not isinstance(samples[0], Data):
                raise TypeError(f"{bundle.spec}: the graph source is empty or does not yield Data objects")
        return
    for split, samples in (("train", bundle.train), ("test", bundle.test)):
        if samples is None:
            continue
        if not isinstance(samples, (list, tuple)) or not samples:
            raise DataTypeError(
                f"{bundle.spec}: the {split} graphs must be a non-empty list of torch_geometric Data, got "
                f"{type(samples).__name__}"
            )
        for i, d in enumerate(samples):
            if not isinstance(d, Data):
                raise DataTypeError(
                    f"{bundle.spec}: {split} item {i} is a {type(d).__name__}, expected a torch_geometric "
                    "Data"
                )
    graphs = all_graphs(bundle)[0]
    with_x = sum(_has_x(d) for d in graphs)
    if 0 < with_x < len(graphs):
        raise DataError(
            f"{bundle.spec}: {with_x} of {len(graphs)} graphs have node features x and the others have none; "
            "give all graphs features or none (featureless graphs get one-hot degrees)"
        )
    widths = {int(d.x.shape[1]) for d in graphs if _has_x(d) and d.x.dim() == 2}
    if len(widths) > 1:
        raise DataError(f"{bundle.spec}: graphs have node features of different sizes {sorted(widths)}")


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------
def _identity(batch: Any) -> Any:
    return batch


def identity_view() -> View:
    """The unchanged graph (GraphCL's unsupervised TU code contrasts it with an augmented view)."""
    return Lambda(_identity, name="identity")


def graphcl_pair(aug: str = "random4", p: float = GRAPHCL_AUG_RATIO, both: bool = False) -> list[View]:
    """The two views of GraphCL: ``[original, aug]`` as in its unsupervised TU code, or ``[aug, aug]``
    (independent draws) with ``both=True``, as in the paper's formulation.

    Args:
        aug: one of :data:`pairs.views.graph.GRAPHCL_AUGS`.
        p: ``aug_ratio``.
        both: augment both views.

    Returns:
        A list of two views (for :func:`pairs.pairing.make_views`).
    """
    second = graphcl_view(aug, p)
    return [graphcl_view(aug, p) if both else identity_view(), second]


def grace_views(rates: Sequence[tuple[float, float]] = GRACE_RATES) -> list[View]:
    """GRACE's two views: ``DropEdges(pe_k)`` (directed entries, as GRACE's ``dropout_adj``) then
    ``MaskFeatures(pf_k, mode="columns")`` (GRACE's ``drop_feature``), for ``k = 1, 2``.

    Args:
        rates: ``((edge_rate_1, feature_rate_1), (edge_rate_2, feature_rate_2))``.

    Returns:
        A list of two views.
    """
    if len(rates) != 2:
        raise ValueError(f"grace_views needs two (edge_rate, feature_rate) pairs, got {rates!r}")
    return [
        Compose([DropEdges(pe, undirected=False), MaskFeatures(pf, mode="columns", value=0.0)])
        for pe, pf in rates
    ]


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------
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


def encode_nodes(
    encoder: nn.Module, graph: Any, collate: GraphCollate | None = None, device: torch.device | str = "cpu"
) -> Tensor:
    """Node embeddings of one graph from a frozen encoder (eval mode, no gradients; mode and device restored).

    Shape:
        a graph with ``N`` nodes -> float32 CPU ``(N, D)``.
    """
    from pairs.methods.grace import node_embeddings

    batch = (collate or GraphCollate())([graph])
    from pairs.frozen import frozen

    device = torch.device(device)
    with frozen(encoder, device):
        out = node_embeddings(encoder, batch.to(device), owner="node evaluation")
    return out.detach().to(device="cpu", dtype=torch.float32)


# --------------------------------------------------------------------------------------------------
# Evaluation protocols
# --------------------------------------------------------------------------------------------------
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
    ``linear_probe_acc`` / ``knn_acc``: :func:`pairs.domains.evaluation.probe_and_knn` on the bundle's
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
    from pairs.domains.evaluation import probe_and_knn
    from pairs.eval import svm_cv_accuracy

    if bundle.train_labels is None or (bundle.test is not None and bundle.test_labels is None):
        return {}  # unlabelled: decide before reading any graph (a lazy source may hold millions)
    collate = collate or _collate_for(bundle)
    labels = bundle.train_labels
    if bundle.test is not None:
        labels = torch.cat([labels, bundle.test_labels])
    labels = labels.long()
    out: dict[str, Any] = {}
    counts = torch.bincount(labels)
    counts = counts[counts > 0]
    folds = min(10, int(counts.min()))
    if len(counts) >= 2 and folds >= 2:
        if _is_source(bundle.train):  # read in batches by DataLoader workers, never all graphs at once
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
    z = encode_nodes(encoder, graph, collate or _collate_for(bundle), device)
    accs, first = [], None
    for tr, te in _node_splits(y, n_splits, train_fraction):
        probe = linear_probe(z[tr], y[tr], z[te], y[te])
        accs.append(float(probe["acc"]))
        if first is None:
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


# --------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------
def _graph_level_recipe(bundle: DataBundle) -> Recipe:
    collate = _collate_for(bundle)
    in_dim = _in_dim(bundle, collate)
    views: dict[str, Any] = {
        "graphcl": lambda b: graphcl_pair("random4"),
        "graphcl_both": lambda b: graphcl_pair("random4", both=True),
    }
    for aug in GRAPHCL_AUGS:
        if aug != "random4":
            views[aug] = lambda b, aug=aug: graphcl_pair(aug)
    return Recipe(
        views=views,
        encoder="gin",
        encoder_kwargs=lambda b: {"in_dim": in_dim, "hidden_dim": 32, "n_layers": 3, "pooling": "sum"},
        evaluate=lambda encoder, b, device="cpu": evaluate_graphs(encoder, b, device, collate),
        method="graphcl",
        method_kwargs={"temperature": 0.2},
        epochs=20,
        batch_size=128,
        lr=0.01,
        weight_decay=0.0,
        optimizer="adam",
        warmup_epochs=0.0,
        min_lr_ratio=1.0,  # GraphCL trains at a constant learning rate
        collate=collate,
        preview=preview_graphs,
    )


def _node_level_recipe(bundle: DataBundle) -> Recipe:
    if len(bundle.train) != 1:
        raise DataError(
            f"{bundle.spec}: node-level data must hold exactly one graph (train = [graph]), got "
            f"{len(bundle.train)}"
        )
    collate = _collate_for(bundle)
    in_dim = _in_dim(bundle, collate)
    return Recipe(
        views={"grace": lambda b: grace_views()},
        encoder="gcn",
        encoder_kwargs=lambda b: {
            "in_dim": in_dim,
            "hidden_dim": 256,
            "out_dim": 128,
            "n_layers": 2,
            "activation": "relu",
        },
        evaluate=lambda encoder, b, device="cpu": evaluate_nodes(encoder, b, device, collate),
        method="grace",
        method_kwargs={"temperature": 0.4, "projection_hidden_dim": 128},
        epochs=200,
        checkpoint_every=20,  # 200 one-step epochs: a checkpoint every 20
        batch_size=1,
        lr=5e-4,
        weight_decay=1e-5,
        optimizer="adam",
        warmup_epochs=0.0,
        collate=collate,
        preview=preview_graphs,
    )


def graph_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for graph data: GraphCL for graph-level bundles, GRACE for node-level ones (see the
    module docstring).

    Raises:
        TypeError, ValueError: on bundles whose samples are not PyG ``Data`` or whose node features differ
            in size, or a node-level bundle that does not hold exactly one graph.
    """
    _check_graph_bundle(bundle)
    if bundle.info.get("level", "graph") == "node":
        return _node_level_recipe(bundle)
    return _graph_level_recipe(bundle)


# --------------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------------
def _nx(data: Any) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(int(data.num_nodes or 0)))
    g.add_edges_from((int(a), int(b)) for a, b in data.edge_index.cpu().t().tolist() if a != b)
    return g


def _node_colours(data: Any) -> Any:
    if _has_x(data) and data.x.dim() == 2 and data.x.shape[1] > 1:
        return data.x.argmax(dim=1).cpu().numpy()
    return None


def view_node_origin(steps: Sequence[Any], n_nodes: int) -> tuple[Tensor, dict[str, list[Any]]]:
    """Where each node of a graph view comes from, and what the view changed, in the source graph's numbers.

    Args:
        steps: the steps applied to the example (:func:`pairs.views.describe.example_params`).
        n_nodes: nodes of the source graph.

    Returns:
        ``(origin, changes)``: ``origin[j]`` is the source node of the view's node ``j``; ``changes`` holds
        ``"dropped"`` (source nodes absent from the view), ``"removed"`` and ``"added"`` (edges as source
        node pairs) and ``"masked"`` (source nodes whose features were masked).
    """
    from pairs.views.describe import graph_edges

    origin = torch.arange(n_nodes)
    changes: dict[str, list[Any]] = {"dropped": [], "removed": [], "added": [], "masked": []}
    for step in steps:
        lo, hi = int(step.batch.ptr[step.index]), int(step.batch.ptr[step.index + 1])
        if "edge_removed" in step.params or "added_edges" in step.params:
            removed, added = graph_edges(step)
            changes["removed"] += [(int(origin[a]), int(origin[b])) for a, b in removed]
            changes["added"] += [(int(origin[a]), int(origin[b])) for a, b in added]
        mask = step.params.get("mask")
        if isinstance(mask, Tensor) and mask.dim() == 1:
            changes["masked"] += origin[mask[lo:hi].cpu()].tolist()
        keep = step.params.get("node_keep")
        if isinstance(keep, Tensor):
            origin = origin[keep[lo:hi].cpu()]
    kept = set(origin.tolist())
    changes["dropped"] = [i for i in range(n_nodes) if i not in kept]
    return origin, changes


def _draw(
    ax: Any, data: Any, pos: dict[int, Any], origin: Tensor | None, changes: dict[str, list[Any]], source: Any
) -> None:
    """One graph at the source graph's node positions. A view is drawn over its source graph in light grey
    (so dropped nodes and their edges stay visible), removed edges dashed red, added edges green, masked
    nodes ringed in black; every panel of a row has the same limits."""
    import networkx as nx

    g = _nx(data)
    if origin is not None:  # a view: its nodes sit where their source nodes sit
        g = nx.relabel_nodes(g, {j: int(origin[j]) for j in range(len(origin))})
        background = _nx(source)
        nx.draw_networkx_edges(background, pos, ax=ax, width=0.6, edge_color="#dddddd")
        nx.draw_networkx_nodes(background, pos, ax=ax, node_size=18, node_color="#dddddd")
    colours = _node_colours(data)
    nodes = list(g.nodes) if origin is None else [int(o) for o in origin]
    nx.draw_networkx_edges(g, pos, ax=ax, width=0.6)
    nx.draw_networkx_nodes(
        g, pos, nodelist=nodes, ax=ax, node_size=18, node_color=colours, cmap="tab10", vmin=0, vmax=9
    )
    if origin is not None:
        removed = [e for e in changes["removed"] if e[0] != e[1]]
        added = [e for e in changes["added"] if e[0] != e[1]]
        nx.draw_networkx_edges(g, pos, edgelist=removed, ax=ax, width=1.0, style="--", edge_color="red")
        nx.draw_networkx_edges(g, pos, edgelist=added, ax=ax, width=1.0, edge_color="limegreen")
        masked = [m for m in changes["masked"] if m in g]
        nx.draw_networkx_nodes(
            g,
            pos,
            nodelist=masked,
            ax=ax,
            node_size=40,
            node_color="none",
            edgecolors="black",
            linewidths=1.0,
        )
    if pos:
        xy = torch.tensor([list(v) for v in pos.values()], dtype=torch.float64)
        lo, hi = xy.min(0).values, xy.max(0).values
        pad = 0.08 * (hi - lo).clamp(min=1e-3)
        ax.set_xlim(float(lo[0] - pad[0]), float(hi[0] + pad[0]))
        ax.set_ylim(float(lo[1] - pad[1]), float(hi[1] + pad[1]))
    ax.set_axis_off()


def preview_graphs(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` graphs (rows, from as many classes as there are): the original, then ``n_views`` views of
    it drawn in the original's layout (the same node positions), so what a view changed is visible: dropped
    nodes in light grey, removed edges dashed red, added edges green, masked nodes ringed; nodes coloured by
    their largest feature (e.g. the atom type). Under each view, the steps it applied and their parameters
    (which nodes were dropped, which edges changed). For a pair of views (``[original, aug]``) the augmented
    one is drawn; for GRACE's two views, they alternate."""
    import networkx as nx
    from matplotlib.lines import Line2D

    from pairs.domains.preview import draw_views, new_figure, pick_rows, row_names, wrap
    from pairs.views.describe import describe, example_params

    collate = _collate_for(bundle)
    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    graphs = [bundle.train[i] for i in rows]
    batch = collate(graphs)
    choices = list(view) if isinstance(view, (list, tuple)) else [view]
    if len(choices) == 2 and isinstance(choices[0], Lambda):
        choices = choices[1:]
    outs, used, params = draw_views(choices, batch, n_views, seed)
    cols = 1 + n_views
    fig = new_figure(2.3 * cols, 2.7 * len(graphs) + 0.8)
    axes = fig.subplots(len(graphs), cols, squeeze=False)
    names = row_names(bundle, rows)
    for row in range(len(graphs)):
        source = batch.get_example(row)
        pos = nx.spring_layout(_nx(source), seed=seed)
        _draw(axes[row][0], source, pos, None, {}, source)
        axes[row][0].set_title(
            ("original" if row == 0 else "") + (f"\n{names[row]}" if names[row] else ""), fontsize=8
        )
        for col in range(1, cols):
            steps = example_params(used[col - 1], params[col - 1], batch, row)
            origin, changes = view_node_origin(steps, int(source.num_nodes))
            ax = axes[row][col]
            _draw(ax, outs[col - 1].get_example(row), pos, origin, changes, source)
            if row == 0:
                ax.set_title(f"view {col}", fontsize=8)
            text = wrap(describe(used[col - 1], params[col - 1], batch, row), 42)
            ax.text(0.0, -0.02, text, fontsize=5, transform=ax.transAxes, va="top", ha="left")
    handles = [
        Line2D([], [], marker="o", color="#dddddd", label="dropped node or edge (absent from the view)"),
        Line2D([], [], ls="--", color="red", label="removed edge"),
        Line2D([], [], color="limegreen", label="added edge"),
        Line2D([], [], marker="o", ls="", mfc="none", mec="black", label="masked node features"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    fig.suptitle(
        f"{bundle.spec}: graphs and their views, each view in its source graph's layout (nodes coloured by "
        "their largest feature)",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


register_recipe("graph", graph_recipe)
