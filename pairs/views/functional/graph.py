"""Graph kernels: the pure functions behind the views of :mod:`pairs.views.graph`.

Each kernel takes a :class:`torch_geometric.data.Batch` and the explicit parameters a view's ``sample``
draws (which nodes are kept, which edges are removed or added, which features are masked, the noise) and
draws nothing. The result is a new batch of the same graphs in which every node-level and edge-level
attribute follows the change (:mod:`pairs.views.graph_batch` keeps the batch consistent), so
``to_data_list()`` works on it. ``layout`` is the batch's :func:`~pairs.views.graph_batch.layout` when the
caller has it already (a view computes it once for ``sample`` and ``apply``); ``None`` computes it.

Kernels: :func:`keep_nodes` (node dropping and subgraphs), :func:`update_edges` (edge removal,
addition, perturbation), :func:`mask_features`, :func:`add_feature_noise`.

Example:
    >>> import torch
    >>> from torch_geometric.data import Batch, Data
    >>> from pairs.views.functional import graph as F
    >>> batch = Batch.from_data_list([Data(x=torch.eye(3), edge_index=torch.tensor([[0, 1], [1, 2]]))])
    >>> out = F.keep_nodes(batch, torch.tensor([True, True, False]))
    >>> out.edge_index.tolist(), out.x.shape[0]
    ([[0], [1]], 2)
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import Batch

from pairs.views.graph_batch import Layout, edge_update, layout, node_subgraph, with_node_values

__all__ = ["keep_nodes", "update_edges", "mask_features", "add_feature_noise"]


def _lay(batch: Batch, lay: Layout | None, owner: str) -> Layout:
    return layout(batch, owner) if lay is None else lay


def keep_nodes(batch: Batch, keep: Tensor, layout: Layout | None = None) -> Batch:
    """The subgraphs induced by the kept nodes, relabelled ``0..n'-1`` in their order.

    Args:
        batch: ``G`` graphs, ``N`` nodes.
        keep: ``(N,)`` bool, the kept nodes.
        layout: the batch's layout, if known.

    Returns:
        A ``Batch`` with ``keep.sum()`` nodes and the edges between them (with their attributes).
    """
    lay = _lay(batch, layout, "keep_nodes")
    return node_subgraph(batch, lay, keep.to(lay.ptr.device))


def update_edges(
    batch: Batch,
    removed: Tensor | None = None,
    added: Tensor | None = None,
    fill_value: float = 0.0,
    layout: Layout | None = None,
) -> Batch:
    """Remove and add edges inside every graph.

    Args:
        batch: ``G`` graphs, ``E`` edges.
        removed: ``(E,)`` bool, the removed edge entries (``None``: none).
        added: ``(2, A)`` int64 new edge entries (global node ids, each inside one graph, grouped by graph);
            they come after the graph's kept edges. ``None``: none.
        fill_value: value of every edge-level attribute (``edge_attr``, ``edge_weight``, ...) on new edges.
        layout: the batch's layout, if known.

    Returns:
        A ``Batch`` with the same nodes and ``E - removed.sum() + A`` edges.
    """
    lay = _lay(batch, layout, "update_edges")
    keep = None if removed is None else ~removed.to(lay.ptr.device)
    return edge_update(batch, lay, keep, None if added is None else added.to(lay.ptr.device), fill_value)


def mask_features(batch: Batch, mask: Tensor, value: float | Tensor, layout: Layout | None = None) -> Batch:
    """Overwrite the node features ``x`` where ``mask`` is true.

    Args:
        batch: graphs with node features ``x`` ``(N, F)``.
        mask: ``(N, F)`` bool, the entries to overwrite.
        value: a number written everywhere, or ``(M,)`` values for the ``M = mask.sum()`` entries in
            row-major order.
        layout: the batch's layout, if known.

    Returns:
        A ``Batch`` of the same graphs with the new ``x``.
    """
    lay = _lay(batch, layout, "mask_features")
    x = batch.x
    new_x = x.clone()
    if isinstance(value, Tensor):
        new_x[mask] = value.to(device=x.device, dtype=x.dtype)
    else:
        new_x[mask] = value
    return with_node_values(batch, lay, {"x": new_x})


def add_feature_noise(batch: Batch, noise: Tensor, layout: Layout | None = None) -> Batch:
    """``x + noise`` for node features ``x`` and ``noise`` of shape ``(N, F)`` (cast to ``x``'s dtype)."""
    lay = _lay(batch, layout, "add_feature_noise")
    x = batch.x
    return with_node_values(batch, lay, {"x": x + noise.to(device=x.device, dtype=x.dtype)})
