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

This module holds the recipes and view presets; batching lives in :mod:`pairs.data.graph_collate`, the
evaluation protocols in :mod:`pairs.eval.graph_protocols` and the drawing in :mod:`pairs.domains.preview`
(their names are re-exported here).

References:
    You et al. 2020, "Graph Contrastive Learning with Augmentations" (GraphCL), NeurIPS; Sun et al. 2020,
    "InfoGraph" (``evaluate_embedding``); Zhu et al. 2020, "Deep Graph Contrastive Representation
    Learning" (GRACE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pairs.data.graph_collate import (
    GraphCollate,
    all_graphs,
    check_graph_bundle,
    collate_for,
    feature_dim,
)
from pairs.data.registry import DataBundle
from pairs.domains import Recipe, ViewFactory, register_recipe, view_recipes
from pairs.domains.preview import draw_graph_item, preview_graphs, view_node_origin
from pairs.errors import DataError
from pairs.eval.graph_protocols import encode_graphs, encode_nodes, evaluate_graphs, evaluate_nodes
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
    "view_node_origin",
]

GRAPHCL_AUG_RATIO = 0.2
"""GraphCL's ``aug_ratio``."""

GRACE_RATES = ((0.2, 0.3), (0.4, 0.4))
"""GRACE's Cora config: ``(drop_edge_rate, drop_feature_rate)`` of view 1 and view 2."""


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
# Recipes
# --------------------------------------------------------------------------------------------------
def _graph_data(collate: GraphCollate) -> dict[str, Any]:
    """What both graph recipes declare alike: the batching of the data's graphs (``collate``), the
    featurisation a loaded run needs again (``preprocess_state``) and the drawings."""
    return {
        "collate": collate,
        "preview": preview_graphs,
        "draw_item": draw_graph_item,
        "preprocess_state": {"graph_collate": {"kind": collate.kind, "max_degree": collate.max_degree}},
    }


def _graphcl_views(aug: str) -> ViewFactory:
    """The view recipe of GraphCL's augmentation ``aug`` alone (``--views AUG``)."""
    return lambda b: graphcl_pair(aug)


def _graph_level_recipe(bundle: DataBundle) -> Recipe:
    collate = collate_for(bundle)
    in_dim = feature_dim(bundle, collate)
    views = view_recipes(
        {
            "graphcl": lambda b: graphcl_pair("random4"),
            "graphcl_both": lambda b: graphcl_pair("random4", both=True),
        }
    )
    for aug in GRAPHCL_AUGS:
        if aug != "random4":
            views.add(aug, _graphcl_views(aug))
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
        **_graph_data(collate),
    )


def _node_level_recipe(bundle: DataBundle) -> Recipe:
    if len(bundle.train) != 1:
        raise DataError(
            f"{bundle.spec}: node-level data must hold exactly one graph (train = [graph]), got "
            f"{len(bundle.train)}"
        )
    collate = collate_for(bundle)
    in_dim = feature_dim(bundle, collate)
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
        **_graph_data(collate),
    )


def graph_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for graph data: GraphCL for graph-level bundles, GRACE for node-level ones (see the
    module docstring).

    Raises:
        TypeError, ValueError: on bundles whose samples are not PyG ``Data`` or whose node features differ
            in size, or a node-level bundle that does not hold exactly one graph.
    """
    check_graph_bundle(bundle)
    if bundle.info.get("level", "graph") == "node":
        return _node_level_recipe(bundle)
    return _graph_level_recipe(bundle)


register_recipe("graph", graph_recipe)
