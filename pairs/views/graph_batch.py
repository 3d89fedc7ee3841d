"""PyG batch bookkeeping for the graph views: layouts, rebuilt batches, graph-wise take/combine, networkx.

The graph views (:mod:`pairs.views.graph`) decide *which* nodes, edges and feature entries change; this
module keeps a :class:`torch_geometric.data.Batch` consistent when they do. It is the only place in
``pairs`` that reads PyG's private batch attributes (``_slice_dict``, ``_inc_dict``, ``_store``,
``_num_graphs``, ``_num_nodes``), which is why ``pyproject.toml`` bounds ``torch-geometric`` to the
versions the tests run on (``tests/views/test_graph_batch.py`` checks this interface).

Interface:

* :func:`layout` inspects a batch once: node/edge offsets and counts, and which attribute is node-,
  edge- or graph-level (a :class:`Layout`); :func:`check_structural` rejects batches whose node/edge
  attributes cannot be kept aligned.
* :func:`node_subgraph`, :func:`edge_update` and :func:`with_node_values` build the new batch of the same
  graphs with other nodes, other edges or other node values; every node-level and edge-level attribute
  follows and graph-level attributes (``y``, lists, ...) are kept, so ``to_data_list()`` works on the
  result.
* :func:`take_graphs` / :func:`cat_graphs` select and concatenate graphs without per-graph Python loops
  (``pairs.views.base.take`` / ``combine`` for ``Batch``, used by ``Compose``, ``RandomApply``,
  ``OneOf``); a batch with attributes they cannot gather from their slices goes through PyG's own
  ``index_select`` / ``from_data_list`` instead.
* :func:`from_networkx_graph` / :func:`to_networkx_graph` convert networkx graphs in and out, keeping
  their node labels and attribute dicts.
* :func:`cumsum0`, :func:`group_ids`, :func:`repeat_counts`, :func:`ranges`, :func:`gather`,
  :func:`gather2`: loop-free segment helpers over ``ptr`` offsets, shared with the views' kernels.

Example:
    >>> import torch
    >>> from torch_geometric.data import Batch, Data
    >>> from pairs.views import graph_batch as gb
    >>> batch = Batch.from_data_list(
    ...     [Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]])), Data(x=torch.zeros(2, 2))]
    ... )
    >>> lay = gb.layout(batch, "example")
    >>> lay.node_counts.tolist(), lay.edge_counts.tolist()
    ([3, 2], [2, 0])
    >>> out = gb.node_subgraph(batch, lay, torch.tensor([True, False, True, True, True]))
    >>> [d.num_nodes for d in out.to_data_list()], out.edge_index.shape[1]
    ([2, 2], 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from pairs.errors import DataError
from pairs.views.base import batch_len, combine, float_values, take

__all__ = [
    "Layout",
    "layout",
    "check_structural",
    "node_subgraph",
    "edge_update",
    "with_node_values",
    "take_graphs",
    "cat_graphs",
    "from_networkx_graph",
    "to_networkx_graph",
    "NX_NODE_KEY",
    "cumsum0",
    "group_ids",
    "repeat_counts",
    "ranges",
    "gather",
    "gather2",
]

NX_NODE_KEY = "nx_node_ord"
"""Node-level attribute that :func:`from_networkx_graph` adds: each node's position in ``graph.nodes``."""

_SKIP_KEYS = ("batch", "ptr", "edge_index", "num_nodes")


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------
def cumsum0(counts: Tensor) -> Tensor:
    """``(G,)`` counts -> ``(G + 1,)`` offsets starting at 0."""
    out = counts.new_zeros(counts.numel() + 1)
    torch.cumsum(counts, 0, out=out[1:])
    return out


def gather(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along dim 0 (``index_select``: several times faster than advanced indexing)."""
    return values.index_select(0, index)


def gather2(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` for a 2-D ``index`` (e.g. an ``edge_index``), through ``index_select``."""
    return values.index_select(0, index.reshape(-1)).view(index.shape)


def group_ids(ptr: Tensor, total: int) -> Tensor:
    """``repeat_interleave(arange(G), ptr.diff())``: the group of each of ``total`` items.

    Computed as a cumulative count of group starts (bincount + cumsum): unlike ``torch.repeat_interleave``
    on CPU, this does not open a thread-parallel region per call, which matters for small batches.
    """
    if total == 0:
        return ptr.new_zeros(0)
    return torch.cumsum(torch.bincount(ptr[1:-1], minlength=total + 1)[:total], 0)


def repeat_counts(values: Tensor, counts: Tensor, total: int | None = None) -> Tensor:
    """``repeat_interleave(values, counts)`` through :func:`group_ids`."""
    ptr = cumsum0(counts)
    return gather(values, group_ids(ptr, int(ptr[-1]) if total is None else total))


def ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenation of ``arange(starts[i], starts[i] + counts[i])`` over ``i`` (no Python loop)."""
    ptr = cumsum0(counts)
    total = int(ptr[-1])
    if total == 0:
        return starts.new_zeros(0)
    gid = group_ids(ptr, total)
    return gather(starts - ptr[:-1], gid) + torch.arange(total, device=starts.device)


# --------------------------------------------------------------------------------------------------
# What a batch looks like: counts, offsets and which attribute is node-, edge- or graph-level
# --------------------------------------------------------------------------------------------------
@dataclass
class Layout:
    """What a batch looks like, computed once by :func:`layout` and shared by a view's sample and apply.

    ``G`` graphs, ``N`` nodes, ``E`` edges; offsets are ``(G + 1,)`` and start at 0; every tensor is on
    the batch's device.
    """

    num_graphs: int
    num_nodes: int
    num_edges: int
    ptr: Tensor  # (G + 1,) node offsets
    node_counts: Tensor  # (G,)
    node_graph: Tensor  # (N,)
    edge_index: Tensor  # (2, E), a plain tensor
    edge_counts: Tensor  # (G,)
    eptr: Tensor  # (G + 1,) edge offsets
    edge_graph: Tensor  # (E,)
    node_keys: tuple[str, ...]
    edge_keys: tuple[str, ...]
    bad_keys: tuple[str, ...]  # node/edge-level attributes that batching increments (cannot be kept)
    has_num_nodes: bool


def _slices(batch: Batch, key: str) -> Any:
    """The per-graph slices PyG keeps for ``key`` (``None`` when it keeps none)."""
    return batch._slice_dict.get(key)


def _is_batch_of_data(batch: Any) -> bool:
    return isinstance(batch, Batch) and isinstance(batch, Data)


def layout(batch: Any, owner: str) -> Layout:
    """Inspect a PyG batch once (and check it): offsets, counts and the level of every attribute.

    Args:
        batch: a ``Batch`` made by ``Batch.from_data_list`` (or by this module).
        owner: name used in error messages (the view's class).

    Returns:
        The :class:`Layout`.

    Raises:
        TypeError: for anything but a ``Batch`` of ``Data`` graphs, or a non-int64 ``edge_index``.
        ValueError: for a batch without per-graph slices, node counts, or with edges outside their graph.
    """
    if not _is_batch_of_data(batch):
        raise TypeError(
            f"{owner} expects a torch_geometric Batch of Data graphs (or a Data, a list of Data, or a "
            f"networkx graph), got {type(batch).__name__}"
        )
    if not hasattr(batch, "_slice_dict") or not hasattr(batch, "_inc_dict"):
        raise ValueError(
            f"{owner} needs a Batch built with Batch.from_data_list(...) (it keeps the per-graph slices); "
            "this one has no _slice_dict"
        )
    g = int(batch.num_graphs)
    if "ptr" in batch:
        ptr = batch.ptr
    elif "batch" in batch:
        ptr = cumsum0(torch.bincount(batch.batch, minlength=g))
    else:
        raise ValueError(
            f"{owner} cannot tell how many nodes each graph has: give every graph an x tensor or a "
            "num_nodes attribute before batching"
        )
    ptr = ptr.long()
    device = ptr.device
    node_counts = ptr.diff()
    n = int(ptr[-1])
    node_graph = group_ids(ptr, n)

    if "edge_index" in batch and batch.edge_index is not None:
        edge_index = batch.edge_index
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"{owner}: edge_index must be a (2, E) tensor, got {type(edge_index).__name__}")
        if edge_index.dtype != torch.long:
            raise TypeError(f"{owner}: edge_index must be int64 (torch.long), got {edge_index.dtype}")
        edge_index = edge_index.as_subclass(Tensor)
        eslices = _slices(batch, "edge_index")
        if not isinstance(eslices, Tensor):
            raise ValueError(f"{owner}: the batch has no per-graph slices for edge_index")
        edge_counts = eslices.diff().to(device)
    else:
        edge_index = torch.zeros(2, 0, dtype=torch.long, device=device)
        edge_counts = torch.zeros(g, dtype=torch.long, device=device)
    e = edge_index.shape[1]
    edge_graph = group_ids(cumsum0(edge_counts), e)
    if e:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= n:
            raise ValueError(f"{owner}: edge_index has node ids in [{lo}, {hi}] but the batch has {n} nodes")
        if not bool((gather2(node_graph, edge_index) == edge_graph).all()):
            raise ValueError(
                f"{owner}: some edges join nodes of different graphs (or are stored outside their graph's "
                "slice); a batch from Batch.from_data_list of valid graphs never has them"
            )

    node_keys, edge_keys, bad_keys = [], [], []
    nc, ec = node_counts.cpu(), edge_counts.cpu()
    all_one = bool((nc == 1).all())
    for key in batch.keys():
        if key in _SKIP_KEYS:
            continue
        value = batch[key]
        slices = _slices(batch, key)
        if isinstance(value, Tensor) and slices is None:
            bad_keys.append(key)  # e.g. follow_batch's x_batch / x_ptr: no per-graph slices to follow
            continue
        if not isinstance(value, Tensor) or not isinstance(slices, Tensor) or slices.dim() != 1:
            continue  # lists, dicts, ...: graph-level, left as they are
        if slices.numel() != g + 1:
            continue
        sizes = slices.diff()
        node = bool(torch.equal(sizes, nc))
        edge = bool(torch.equal(sizes, ec))
        ones = bool((sizes == 1).all())
        if node and edge:
            node, edge = "edge" not in key, "edge" in key
        if node and ones and all_one and (key == "y" or "graph" in key):
            node = False
        if edge and ones and "edge" not in key:
            edge = False
        if not (node or edge):
            continue
        incs = batch._inc_dict.get(key)
        cat_dim = batch.__cat_dim__(key, value, batch._store)
        if (isinstance(incs, Tensor) and bool((incs != 0).any())) or cat_dim not in (0, -value.dim()):
            bad_keys.append(key)
        elif node:
            node_keys.append(key)
        else:
            edge_keys.append(key)
    return Layout(
        num_graphs=g,
        num_nodes=n,
        num_edges=e,
        ptr=ptr,
        node_counts=node_counts,
        node_graph=node_graph,
        edge_index=edge_index,
        edge_counts=edge_counts,
        eptr=cumsum0(edge_counts),
        edge_graph=edge_graph,
        node_keys=tuple(node_keys),
        edge_keys=tuple(edge_keys),
        bad_keys=tuple(bad_keys),
        has_num_nodes="num_nodes" in batch or hasattr(batch._store, "_num_nodes"),
    )


def check_structural(lay: Layout, owner: str) -> None:
    """Raise when ``lay`` has node/edge-level attributes a view that changes nodes or edges cannot keep.

    Args:
        lay: the batch's layout.
        owner: name used in the message (the view's class).

    Raises:
        ValueError: for attributes that batching increments (other ``*_index``) or that have no
            per-graph slices (``follow_batch``'s ``*_batch`` / ``*_ptr``).
    """
    if lay.bad_keys:
        raise ValueError(
            f"{owner} cannot keep the attributes {list(lay.bad_keys)} consistent: they are node/edge-level "
            "but batching adds offsets to them (PyG __inc__, e.g. *_index attributes other than "
            "edge_index) or they have no per-graph slices (follow_batch's *_batch / *_ptr); delete them "
            "before applying graph views, or batch without follow_batch"
        )


def _fill_rows(value: Tensor, src: Tensor, fill: float) -> Tensor:
    """``value[src]`` where ``src >= 0``, ``fill`` (cast to the dtype) where ``src == -1``."""
    if src.numel() == 0 or bool((src >= 0).all()):
        return value.index_select(0, src)
    out = value.new_full((src.numel(), *value.shape[1:]), fill if value.dtype != torch.bool else bool(fill))
    have = src >= 0
    out[have] = value.index_select(0, src[have])
    return out


def _new_batch_like(batch: Batch) -> Batch:
    return Batch(_base_cls=type(batch).__bases__[-1])


def _finish(
    out: Batch, ptr: Tensor, node_counts: Tensor, slice_dict: dict, inc_dict: dict, set_num_nodes: bool
) -> Batch:
    """Write the batch metadata of ``out`` (``batch``, ``ptr``, PyG's slices/increments, node counts)."""
    out.batch = group_ids(ptr, int(ptr[-1]))
    out.ptr = ptr
    if set_num_nodes:
        out._num_nodes = node_counts.tolist()
        out.num_nodes = int(ptr[-1])
    out._num_graphs = int(node_counts.numel())
    out._slice_dict = slice_dict
    out._inc_dict = inc_dict
    return out


def _assemble(
    batch: Batch,
    lay: Layout,
    *,
    node_index: Tensor | None,
    node_counts: Tensor,
    edge_index: Tensor,
    edge_src: Tensor | None,
    edge_counts: Tensor,
    fill: float = 0.0,
    node_values: dict[str, Tensor] | None = None,
) -> Batch:
    """A new batch of the same graphs with other nodes/edges; graph-level attributes are kept as they are.

    Args:
        batch, lay: the input and its layout.
        node_index: ``(N',)`` input node of every output node (``None``: the same nodes).
        node_counts: ``(G,)`` output nodes per graph.
        edge_index: ``(2, E')`` output edges (output node ids), grouped by graph.
        edge_src: ``(E',)`` input edge of every output edge, ``-1`` for a new edge (``None``: same edges).
        edge_counts: ``(G,)`` output edges per graph.
        fill: value of edge-level attributes on new edges.
        node_values: replacement values for node-level attributes (already for the output nodes).
    """
    out = _new_batch_like(batch)
    ptr = cumsum0(node_counts)
    eptr_cpu = cumsum0(edge_counts).cpu()
    slice_dict = dict(batch._slice_dict)
    inc_dict = dict(batch._inc_dict)
    node_values = node_values or {}
    had_edge_index = "edge_index" in batch
    for key in batch.keys():
        if key in ("batch", "ptr", "num_nodes"):
            continue
        if key == "edge_index":
            continue
        value = batch[key]
        if key in node_values:
            out[key] = node_values[key]
        elif key in lay.node_keys:
            out[key] = value if node_index is None else value.index_select(0, node_index)
            slice_dict[key] = ptr.cpu()
        elif key in lay.edge_keys:
            out[key] = value if edge_src is None else _fill_rows(value, edge_src, fill)
            slice_dict[key] = eptr_cpu
        else:
            out[key] = value
    if had_edge_index or edge_index.shape[1] > 0:
        out.edge_index = edge_index
        slice_dict["edge_index"] = eptr_cpu
        inc_dict["edge_index"] = ptr[:-1].cpu()
    return _finish(
        out, ptr, node_counts, slice_dict, inc_dict, set_num_nodes=lay.has_num_nodes or not lay.node_keys
    )


def node_subgraph(batch: Batch, lay: Layout, keep: Tensor) -> Batch:
    """Keep the nodes where ``keep`` is true, with the edges between kept nodes (relabelled).

    Args:
        batch, lay: the input and its :func:`layout`.
        keep: ``(N,)`` bool, the kept nodes.

    Returns:
        A ``Batch`` of the same ``G`` graphs with ``keep.sum()`` nodes; kept nodes stay in their order.
    """
    node_index = keep.nonzero().flatten()
    before = cumsum0(keep.long())  # before[i] = kept nodes before node i = its new id when kept
    node_counts = before[lay.ptr[1:]] - before[lay.ptr[:-1]]
    src, dst = lay.edge_index
    emask = gather(keep, src) & gather(keep, dst)
    edge_src = emask.nonzero().flatten()
    edge_index = gather2(before, lay.edge_index.index_select(1, edge_src))
    ebefore = cumsum0(emask.long())
    edge_counts = ebefore[lay.eptr[1:]] - ebefore[lay.eptr[:-1]]
    return _assemble(
        batch,
        lay,
        node_index=node_index,
        node_counts=node_counts,
        edge_index=edge_index,
        edge_src=edge_src,
        edge_counts=edge_counts,
    )


def edge_update(batch: Batch, lay: Layout, keep: Tensor | None, added: Tensor | None, fill: float) -> Batch:
    """Keep the edges where ``keep`` is true and append ``added`` (input node ids) within each graph.

    Args:
        batch, lay: the input and its :func:`layout`.
        keep: ``(E,)`` bool, the kept edges (``None``: all).
        added: ``(2, A)`` new edges, grouped by graph (``None``: none); they come after each graph's kept
            edges.
        fill: value of every edge-level attribute on the new edges.

    Returns:
        A ``Batch`` with the same nodes and ``keep.sum() + A`` edges.
    """
    g = lay.num_graphs
    device = lay.ptr.device
    if keep is None:
        kept, kept_counts = torch.arange(lay.num_edges, device=device), lay.edge_counts
    else:
        kept = keep.nonzero().flatten()
        before = cumsum0(keep.long())
        kept_counts = before[lay.eptr[1:]] - before[lay.eptr[:-1]]
    if added is None or added.shape[1] == 0:
        return _assemble(
            batch,
            lay,
            node_index=None,
            node_counts=lay.node_counts,
            edge_index=lay.edge_index.index_select(1, kept),
            edge_src=kept,
            edge_counts=kept_counts,
        )
    kept_graph = gather(lay.edge_graph, kept)
    added_graph = gather(lay.node_graph, added[0])
    add_counts = torch.bincount(added_graph, minlength=g)
    counts = kept_counts + add_counts
    total = int(counts.sum())
    pos_kept = torch.arange(kept.numel(), device=device) + gather(cumsum0(add_counts), kept_graph)
    pos_add = torch.arange(added.shape[1], device=device) + gather(torch.cumsum(kept_counts, 0), added_graph)
    edge_index = torch.empty(2, total, dtype=torch.long, device=device)
    for row in range(2):
        edge_index[row].index_copy_(0, pos_kept, gather(lay.edge_index[row], kept))
        edge_index[row].index_copy_(0, pos_add, added[row])
    edge_src = torch.full((total,), -1, dtype=torch.long, device=device).index_copy_(0, pos_kept, kept)
    return _assemble(
        batch,
        lay,
        node_index=None,
        node_counts=lay.node_counts,
        edge_index=edge_index,
        edge_src=edge_src,
        edge_counts=counts,
        fill=fill,
    )


def with_node_values(batch: Batch, lay: Layout, values: dict[str, Tensor]) -> Batch:
    """The same graphs with new values of node-level attributes (e.g. ``{"x": new_x}``, ``(N, F)``)."""
    return _assemble(
        batch,
        lay,
        node_index=None,
        node_counts=lay.node_counts,
        edge_index=lay.edge_index,
        edge_src=None,
        edge_counts=lay.edge_counts,
        node_values=values,
    )


# --------------------------------------------------------------------------------------------------
# Graph batches for Compose / RandomApply / OneOf (take and combine without per-graph Python loops)
# --------------------------------------------------------------------------------------------------
def _fast_keys(batch: Batch) -> bool:
    """Whether every attribute can be gathered per graph from its slices (else use PyG's slow path)."""
    for key in batch.keys():
        if key in ("batch", "ptr", "num_nodes", "edge_index"):
            continue
        slices = _slices(batch, key)
        if not isinstance(slices, Tensor) or slices.dim() != 1:
            return False
        incs = batch._inc_dict.get(key)
        if isinstance(incs, Tensor) and bool((incs != 0).any()):
            return False
        value = batch[key]
        if isinstance(value, Tensor):
            if batch.__cat_dim__(key, value, batch._store) not in (0, -value.dim()) and value.dim() > 0:
                return False
        elif not isinstance(value, list):
            return False
    return True


def take_graphs(batch: Batch, index: Tensor) -> Batch:
    """The graphs at ``index`` (in that order) as a new batch, vectorised.

    Args:
        batch: a ``Batch``.
        index: ``(K,)`` long graph indices (repeats allowed).

    Returns:
        A ``Batch`` of ``K`` graphs, equal to ``Batch.from_data_list(batch.index_select(index))``.
    """
    if not _fast_keys(batch):
        return Batch.from_data_list(batch.index_select(index.cpu()))
    device = batch.ptr.device if "ptr" in batch else index.device
    index = index.to(device)
    lay = layout(batch, "take")
    node_counts = lay.node_counts[index]
    edge_counts = lay.edge_counts[index]
    ptr = cumsum0(node_counts)
    eptr = cumsum0(lay.edge_counts)
    edge_idx = ranges(eptr[index], edge_counts)
    out = _new_batch_like(batch)
    slice_dict: dict[str, Any] = {}
    inc_dict: dict[str, Any] = {}
    icpu = index.cpu()
    for key in batch.keys():
        if key in ("batch", "ptr", "num_nodes"):
            continue
        value = batch[key]
        slices = _slices(batch, key)
        if key == "edge_index":
            shift = repeat_counts(ptr[:-1] - lay.ptr[index], edge_counts, edge_idx.numel())
            out[key] = lay.edge_index[:, edge_idx] + shift
            slice_dict[key] = cumsum0(edge_counts).cpu()
            inc_dict[key] = ptr[:-1].cpu()
            continue
        sizes = slices.diff()[icpu]
        if isinstance(value, Tensor):
            rows = ranges(slices[:-1][icpu], sizes).to(value.device)
            out[key] = value.index_select(0, rows) if value.dim() > 0 else value
        else:
            out[key] = [value[i] for i in icpu.tolist()]
        slice_dict[key] = cumsum0(sizes)
        inc = batch._inc_dict.get(key)
        inc_dict[key] = inc[icpu] if isinstance(inc, Tensor) else inc
    return _finish(
        out, ptr, node_counts, slice_dict, inc_dict, set_num_nodes=lay.has_num_nodes or not lay.node_keys
    )


def cat_graphs(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches graph-wise (same attribute keys), vectorised.

    Args:
        batches: batches whose graphs have the same attribute keys.

    Returns:
        One ``Batch`` of all their graphs in order, equal to ``Batch.from_data_list`` of their data lists.
    """
    keys = [set(b.keys()) for b in batches]
    if any(k != keys[0] for k in keys) or not all(_fast_keys(b) for b in batches):
        return Batch.from_data_list([d for b in batches for d in b.to_data_list()])
    lays = [layout(b, "combine") for b in batches]
    first = batches[0]
    out = _new_batch_like(first)
    node_counts = torch.cat([lay.node_counts for lay in lays])
    ptr = cumsum0(node_counts)
    slice_dict: dict[str, Any] = {}
    inc_dict: dict[str, Any] = {}
    for key in first.keys():
        if key in ("batch", "ptr", "num_nodes"):
            continue
        if key == "edge_index":
            offsets = ptr[torch.tensor([0] + [lay.num_graphs for lay in lays[:-1]]).cumsum(0).to(ptr.device)]
            out[key] = torch.cat(
                [lay.edge_index + off for lay, off in zip(lays, offsets, strict=True)], dim=1
            )
            slice_dict[key] = cumsum0(torch.cat([lay.edge_counts for lay in lays])).cpu()
            inc_dict[key] = ptr[:-1].cpu()
            continue
        values = [b[key] for b in batches]
        sizes = torch.cat([_slices(b, key).diff() for b in batches])
        if isinstance(values[0], Tensor):
            out[key] = torch.cat(values, dim=0) if values[0].dim() > 0 else values[0]
        else:
            out[key] = [v for part in values for v in part]
        slice_dict[key] = cumsum0(sizes)
        incs = [b._inc_dict.get(key) for b in batches]
        inc_dict[key] = torch.cat(incs) if all(isinstance(i, Tensor) for i in incs) else None
    return _finish(
        out,
        ptr,
        node_counts,
        slice_dict,
        inc_dict,
        set_num_nodes=any(lay.has_num_nodes or not lay.node_keys for lay in lays),
    )


@batch_len.register
def _(batch: Batch) -> int:
    return int(batch.num_graphs)


@take.register
def _(batch: Batch, index: Tensor) -> Batch:
    return take_graphs(batch, index.long().flatten())


@float_values.register
def _(batch: Data) -> list[Tensor]:  # Batch too: the values a view computes are x and edge_attr
    return [
        v
        for v in (getattr(batch, "x", None), getattr(batch, "edge_attr", None))
        if isinstance(v, Tensor) and v.is_floating_point()
    ]


@combine.register
def _(first: Batch, parts: Sequence[tuple[Tensor, Any]], size: int) -> Batch:
    parts = [(i.long().flatten().cpu(), b) for i, b in parts if len(i)]
    order = torch.cat([i for i, _ in parts])
    if order.numel() != size or not torch.equal(torch.sort(order)[0], torch.arange(size)):
        raise ValueError(f"combine: the parts must cover graphs 0..{size - 1} exactly once")
    cat = cat_graphs([b for _, b in parts])
    return take_graphs(cat, torch.argsort(order))


# --------------------------------------------------------------------------------------------------
# networkx adapters
# --------------------------------------------------------------------------------------------------
def from_networkx_graph(graph: nx.Graph, feature: str = "x") -> Data:
    """A networkx graph as a PyG ``Data`` that remembers where its nodes came from.

    Node ``i`` of the result is ``list(graph.nodes)[i]``; the node-level attribute ``nx_node_ord`` holds
    ``i`` so that :func:`to_networkx_graph` can find the original node (and its attribute dict) after
    nodes were dropped. An undirected graph gets both directions of every edge (a self-loop once).

    Args:
        graph: a ``nx.Graph`` or ``nx.DiGraph`` (multigraphs are not supported).
        feature: node attribute holding numeric features; when every node has it, it becomes ``x``
            (float32, ``(N, F)``), otherwise the result has no ``x``.

    Returns:
        ``Data(edge_index, num_nodes, nx_node_ord[, x])``.

    Raises:
        TypeError: for a non-networkx object or a multigraph.
    """
    if not isinstance(graph, nx.Graph):
        raise TypeError(f"expected a networkx Graph or DiGraph, got {type(graph).__name__}")
    if graph.is_multigraph():
        raise TypeError(
            "multigraphs are not supported by graph views; convert with nx.Graph(g) or nx.DiGraph(g)"
        )
    nodes = list(graph.nodes)
    pos = {v: i for i, v in enumerate(nodes)}
    pairs = [(pos[u], pos[v]) for u, v in graph.edges()]
    ei = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()
    if not graph.is_directed():
        rev = ei.flip(0)[:, ei[0] != ei[1]]
        ei = torch.cat([ei, rev], dim=1)
    if ei.shape[1]:
        ei = ei[:, torch.argsort(ei[0] * max(len(nodes), 1) + ei[1])]
    data = Data(edge_index=ei, num_nodes=len(nodes))
    data[NX_NODE_KEY] = torch.arange(len(nodes))
    if nodes and all(feature in graph.nodes[v] for v in nodes):
        try:
            rows = [torch.as_tensor(graph.nodes[v][feature], dtype=torch.float32).reshape(-1) for v in nodes]
            data.x = torch.stack(rows)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DataError(
                f"from_networkx_graph: node attribute {feature!r} must be a number or a list of numbers of "
                f"the same length on every node ({exc})"
            ) from exc
        if bool(torch.isinf(data.x).any()):
            raise DataError(
                f"from_networkx_graph: node attribute {feature!r} holds infinite values or values beyond the "
                f"float32 range (+-{torch.finfo(torch.float32).max:.3g}); scale the features down"
            )
    return data


def to_networkx_graph(data: Data, like: nx.Graph, feature: str = "x") -> nx.Graph:
    """The graph ``data`` (made by :func:`from_networkx_graph` from ``like``, then viewed) as networkx.

    Nodes keep their original labels and attribute dicts (copied); when ``data`` has ``x``, each node's
    ``feature`` attribute is set to its row (a list of floats, or a float for one column). Edges that
    existed in ``like`` keep their attribute dicts; new edges have none.

    Args:
        data: a graph with the ``nx_node_ord`` node attribute.
        like: the networkx graph it came from.
        feature: node attribute name for ``x``.

    Returns:
        A graph of the same class as ``like``.

    Raises:
        ValueError: if ``data`` has no ``nx_node_ord`` attribute.
    """
    if NX_NODE_KEY not in data:
        raise ValueError(
            f"to_networkx_graph needs the {NX_NODE_KEY!r} node attribute set by from_networkx_graph"
        )
    nodes = list(like.nodes)
    kept = [nodes[i] for i in data[NX_NODE_KEY].tolist()]
    out = type(like)()
    out.graph.update(like.graph)
    x = data.x if "x" in data and data.x is not None else None
    for i, v in enumerate(kept):
        attrs = dict(like.nodes[v])
        if x is not None:
            row = x[i].tolist()
            attrs[feature] = row[0] if len(row) == 1 else row
        out.add_node(v, **attrs)
    for s, d in data.edge_index.t().tolist():
        u, v = kept[s], kept[d]
        if out.has_edge(u, v):
            continue
        out.add_edge(u, v, **(dict(like.edges[u, v]) if like.has_edge(u, v) else {}))
    return out
