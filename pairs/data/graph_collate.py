"""Graph batching for the graph domain: collation with node features for featureless graphs, every graph
of a bundle, the collate that fits a bundle, and the checks of a graph bundle.

Used by the graph recipe (:mod:`pairs.domains.graph`), the graph evaluation protocols
(:mod:`pairs.eval.graph_protocols`) and the previews (:mod:`pairs.domains.preview`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pairs.data.registry import DataBundle
from pairs.errors import DataError, DataTypeError

__all__ = [
    "GraphCollate",
    "all_graphs",
    "all_labels",
    "check_graph_bundle",
    "collate_for",
    "feature_dim",
    "has_node_features",
    "is_graph_source",
    "max_degree",
]


def has_node_features(data: Any) -> bool:
    """Whether a graph (or batch) has node features ``x``."""
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
        if has_node_features(batch):
            if not batch.x.is_floating_point():
                batch.x = batch.x.float()
            return batch
        return ensure_features(batch, self.kind, self.max_degree)

    def __repr__(self) -> str:
        return f"GraphCollate(kind={self.kind!r}, max_degree={self.max_degree})"


def max_degree(graphs: Sequence[Any]) -> int:
    """The largest out-degree over ``graphs`` (the width of a one-hot degree feature minus one)."""
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
    return graphs, all_labels(bundle)


def all_labels(bundle: DataBundle) -> Tensor | None:
    """The labels of every graph of the bundle (train then test) as int64, without reading any graph;
    ``None`` unless both splits have them."""
    labels, test_labels = bundle.train_labels, bundle.test_labels
    if labels is None or (bundle.test is not None and test_labels is None):
        return None
    if bundle.test is not None and test_labels is not None:
        labels = torch.cat([labels, test_labels])
    return labels.long()


def is_graph_source(samples: Any) -> bool:
    """A lazy graph source (:mod:`pairs.data.graph_formats`): items are built on demand."""
    return hasattr(samples, "item_id") and hasattr(samples, "has_node_features")


def collate_for(bundle: DataBundle) -> GraphCollate:
    """The collate of ``bundle``'s graphs: one-hot degrees as wide as the bundle's largest degree for
    featureless graphs (one pass over the graphs), the graphs' own features otherwise."""
    if is_graph_source(bundle.train) and bundle.train.has_node_features:
        return GraphCollate("degree", 0)  # no pass over a lazy source when every graph has features
    graphs, _ = all_graphs(bundle)
    if all(has_node_features(d) for d in graphs):
        return GraphCollate("degree", 0)
    return GraphCollate("degree", max_degree(graphs))


def feature_dim(bundle: DataBundle, collate: GraphCollate) -> int:
    """The node feature size the encoder sees: that of the first training graph after ``collate``."""
    first = collate(list(bundle.train[:1]))
    return int(first.x.shape[1])


def check_graph_bundle(bundle: DataBundle) -> None:
    """Check that a bundle holds ``Data`` graphs, all with node features of one size or none without.

    Raises:
        DataTypeError: a split is not a non-empty list of ``Data``.
        DataError: some graphs have features and others none, or features of different sizes.
    """
    from torch_geometric.data import Data

    lazy = [s for s in (bundle.train, bundle.test) if is_graph_source(s)]
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
    with_x = sum(has_node_features(d) for d in graphs)
    if 0 < with_x < len(graphs):
        raise DataError(
            f"{bundle.spec}: {with_x} of {len(graphs)} graphs have node features x and the others have none; "
            "give all graphs features or none (featureless graphs get one-hot degrees)"
        )
    widths = {int(d.x.shape[1]) for d in graphs if has_node_features(d) and d.x.dim() == 2}
    if len(widths) > 1:
        raise DataError(f"{bundle.spec}: graphs have node features of different sizes {sorted(widths)}")
