"""Graph views: node dropping, edge removal/addition/perturbation, feature masking/noise and subgraphs.

Every view works on a whole :class:`torch_geometric.data.Batch` in one vectorised pass: each graph of
the batch gets its own random draw (counts from per-graph rates through ``ptr``/``batch``), memory is
O(N + E) (no dense N x N matrix anywhere) and every node-level attribute (``x``, ``pos``, node labels,
...), every edge-level attribute (``edge_attr``, ...) and the batch metadata (``batch``, ``ptr``,
``_slice_dict``, ``_inc_dict``) stay consistent, so ``to_data_list()`` works on the result. Graph-level
attributes (``y``) are never touched. A single :class:`~torch_geometric.data.Data` is a batch of one, a
list of ``Data`` comes back as a list, and a :class:`networkx.Graph` comes back as a networkx graph with
its node and edge attribute dicts (see :func:`from_networkx_graph` / :func:`to_networkx_graph`).

Counts are exact per graph: a rate ``p`` on a graph with ``n`` items (nodes, edges, feature columns)
acts on ``floor(p * n)`` of them (GraphCL's rounding), chosen uniformly without replacement.
Undirected graphs (every edge stored in both directions; detected per graph, as
``torch_geometric.utils.is_undirected`` would) are handled as undirected: an edge is the pair of its two
directions, removed or added together, so the graph stays symmetric; "the edge count" of an undirected
graph counts each pair once.

Views (You et al. 2020, "Graph Contrastive Learning with Augmentations" (GraphCL); Zhu et al. 2020,
"Deep Graph Contrastive Representation Learning" (GRACE)):

* :class:`DropNodes`, :class:`RandomWalkSubgraph`, :class:`KHopSubgraph`: keep an induced subgraph;
* :class:`DropEdges`, :class:`AddEdges`, :class:`PerturbEdges`: change the edge set;
* :class:`MaskFeatures`, :class:`FeatureNoise`: change node features;
* :func:`graphcl_view`: GraphCL's recipes (``dnodes``, ``pedges``, ``subgraph``, ``mask_nodes``,
  ``random2/3/4``).

Example:
    >>> from torch_geometric.data import Batch
    >>> from pairs.views import graph
    >>> view = graph.graphcl_view("random4", p=0.2)
    >>> out, params = view(batch, generator=0, return_params=True)  # doctest: +SKIP
    >>> again = view.replay(batch, params)  # the same graphs  # doctest: +SKIP
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from pairs.errors import DataError
from pairs.views.base import OneOf, Params, View, batch_len, combine, float_values, take

__all__ = [
    "GraphView",
    "DropNodes",
    "DropEdges",
    "AddEdges",
    "PerturbEdges",
    "MaskFeatures",
    "FeatureNoise",
    "RandomWalkSubgraph",
    "KHopSubgraph",
    "graphcl_view",
    "GRAPHCL_AUGS",
    "from_networkx_graph",
    "to_networkx_graph",
    "NX_NODE_KEY",
]

NX_NODE_KEY = "nx_node_ord"
"""Node-level attribute that :func:`from_networkx_graph` adds: each node's position in ``graph.nodes``."""

_RAND_BITS = 31
_SKIP_KEYS = ("batch", "ptr", "edge_index", "num_nodes")


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------
def _cumsum0(counts: Tensor) -> Tensor:
    """``(G,)`` counts -> ``(G + 1,)`` offsets starting at 0."""
    out = counts.new_zeros(counts.numel() + 1)
    torch.cumsum(counts, 0, out=out[1:])
    return out


def _g(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along dim 0 (``index_select``: several times faster than advanced indexing)."""
    return values.index_select(0, index)


def _g2(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` for a 2-D ``index`` (e.g. an ``edge_index``), through ``index_select``."""
    return values.index_select(0, index.reshape(-1)).view(index.shape)


def _group_ids(ptr: Tensor, total: int) -> Tensor:
    """``repeat_interleave(arange(G), ptr.diff())``: the group of each of ``total`` items.

    Computed as a cumulative count of group starts (bincount + cumsum): unlike ``torch.repeat_interleave``
    on CPU, this does not open a thread-parallel region per call, which matters for small batches.
    """
    if total == 0:
        return ptr.new_zeros(0)
    return torch.cumsum(torch.bincount(ptr[1:-1], minlength=total + 1)[:total], 0)


def _repeat(values: Tensor, counts: Tensor, total: int | None = None) -> Tensor:
    """``repeat_interleave(values, counts)`` through :func:`_group_ids`."""
    ptr = _cumsum0(counts)
    return _g(values, _group_ids(ptr, int(ptr[-1]) if total is None else total))


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenation of ``arange(starts[i], starts[i] + counts[i])`` over ``i`` (no Python loop)."""
    ptr = _cumsum0(counts)
    total = int(ptr[-1])
    if total == 0:
        return starts.new_zeros(0)
    gid = _group_ids(ptr, total)
    return _g(starts - ptr[:-1], gid) + torch.arange(total, device=starts.device)


def _randbits(n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """``n`` uniform int64 draws in ``[0, 2**31)``, drawn on the generator's device, moved to ``device``."""
    r = torch.randint(0, 2**_RAND_BITS, (n,), generator=generator, device=generator.device)
    return r.to(device)


def _randbelow(high: Tensor, generator: torch.Generator) -> Tensor:
    """One uniform integer in ``[0, high[i])`` per entry (``0`` where ``high == 0``); exact integer math."""
    return (_randbits(high.numel(), generator, high.device) * high) >> _RAND_BITS


def _group_ranks(group: Tensor, ptr: Tensor, generator: torch.Generator) -> Tensor:
    """A uniformly random rank of every item within its group (a random permutation per group).

    Args:
        group: ``(n,)`` sorted group id of each item.
        ptr: ``(G + 1,)`` group offsets (``group`` is ``repeat_interleave(arange(G), ptr.diff())``).
        generator: source of randomness.

    Returns:
        ``(n,)`` ranks: within each group of size ``m`` the ranks are a uniform permutation of ``0..m-1``.
    """
    n = group.numel()
    key = (group << _RAND_BITS) | _randbits(n, generator, group.device)
    order = torch.sort(key)[1]  # 31 random bits per item: ties (almost) never happen
    return torch.empty_like(group).index_copy_(
        0, order, torch.arange(n, device=group.device) - _g(ptr, group)
    )


def _floor_count(p: float, counts: Tensor) -> Tensor:
    """``floor(p * counts)`` per entry (GraphCL's ``int(n * ratio)``), tolerant to float rounding."""
    return torch.floor(counts.double() * p + 1e-9).long()


def _check_rate(value: Any, name: str, owner: str, upper: float | None = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{owner}: {name} must be a finite float, got {value!r}")
    if value < 0 or (upper is not None and value > upper):
        bound = f"[0, {upper:g}]" if upper is not None else ">= 0"
        raise ValueError(f"{owner}: {name} must be in {bound}, got {value}")
    return float(value)


def _check_int(value: Any, name: str, owner: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------------
# What a batch looks like: counts, offsets and which attribute is node-, edge- or graph-level
# --------------------------------------------------------------------------------------------------
@dataclass
class _Layout:
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
    return batch._slice_dict.get(key)


def _is_batch_of_data(batch: Any) -> bool:
    return isinstance(batch, Batch) and isinstance(batch, Data)


def _layout(batch: Any, owner: str) -> _Layout:
    """Inspect a PyG batch once (and check it): offsets, counts and the level of every attribute."""
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
        ptr = _cumsum0(torch.bincount(batch.batch, minlength=g))
    else:
        raise ValueError(
            f"{owner} cannot tell how many nodes each graph has: give every graph an x tensor or a "
            "num_nodes attribute before batching"
        )
    ptr = ptr.long()
    device = ptr.device
    node_counts = ptr.diff()
    n = int(ptr[-1])
    node_graph = _group_ids(ptr, n)

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
    edge_graph = _group_ids(_cumsum0(edge_counts), e)
    if e:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= n:
            raise ValueError(f"{owner}: edge_index has node ids in [{lo}, {hi}] but the batch has {n} nodes")
        if not bool((_g2(node_graph, edge_index) == edge_graph).all()):
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
    return _Layout(
        num_graphs=g,
        num_nodes=n,
        num_edges=e,
        ptr=ptr,
        node_counts=node_counts,
        node_graph=node_graph,
        edge_index=edge_index,
        edge_counts=edge_counts,
        eptr=_cumsum0(edge_counts),
        edge_graph=edge_graph,
        node_keys=tuple(node_keys),
        edge_keys=tuple(edge_keys),
        bad_keys=tuple(bad_keys),
        has_num_nodes="num_nodes" in batch or hasattr(batch._store, "_num_nodes"),
    )


def _check_structural(lay: _Layout, owner: str) -> None:
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


def _assemble(
    batch: Batch,
    lay: _Layout,
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
    g = lay.num_graphs
    ptr = _cumsum0(node_counts)
    eptr_cpu = _cumsum0(edge_counts).cpu()
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
    out.batch = _group_ids(ptr, int(ptr[-1]))
    out.ptr = ptr
    if lay.has_num_nodes or not lay.node_keys:
        out._num_nodes = node_counts.tolist()
        out.num_nodes = int(ptr[-1])
    out._num_graphs = g
    out._slice_dict = slice_dict
    out._inc_dict = inc_dict
    return out


def _node_subgraph(batch: Batch, lay: _Layout, keep: Tensor) -> Batch:
    """Keep the nodes where ``keep`` is true, with the edges between kept nodes (relabelled)."""
    node_index = keep.nonzero().flatten()
    before = _cumsum0(keep.long())  # before[i] = kept nodes before node i = its new id when kept
    node_counts = before[lay.ptr[1:]] - before[lay.ptr[:-1]]
    src, dst = lay.edge_index
    emask = _g(keep, src) & _g(keep, dst)
    edge_src = emask.nonzero().flatten()
    edge_index = _g2(before, lay.edge_index.index_select(1, edge_src))
    ebefore = _cumsum0(emask.long())
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


def _edge_update(batch: Batch, lay: _Layout, keep: Tensor | None, added: Tensor | None, fill: float) -> Batch:
    """Keep the edges where ``keep`` is true and append ``added`` (input node ids) within each graph."""
    g = lay.num_graphs
    device = lay.ptr.device
    if keep is None:
        kept, kept_counts = torch.arange(lay.num_edges, device=device), lay.edge_counts
    else:
        kept = keep.nonzero().flatten()
        before = _cumsum0(keep.long())
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
    kept_graph = _g(lay.edge_graph, kept)
    added_graph = _g(lay.node_graph, added[0])
    add_counts = torch.bincount(added_graph, minlength=g)
    counts = kept_counts + add_counts
    total = int(counts.sum())
    pos_kept = torch.arange(kept.numel(), device=device) + _g(_cumsum0(add_counts), kept_graph)
    pos_add = torch.arange(added.shape[1], device=device) + _g(torch.cumsum(kept_counts, 0), added_graph)
    edge_index = torch.empty(2, total, dtype=torch.long, device=device)
    for row in range(2):
        edge_index[row].index_copy_(0, pos_kept, _g(lay.edge_index[row], kept))
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


# --------------------------------------------------------------------------------------------------
# Edge units: an undirected edge is the pair of its two directions
# --------------------------------------------------------------------------------------------------
@dataclass
class _Units:
    order: Tensor  # (E,) entries in key order
    uid: Tensor  # (E,) unit of every entry, in key order
    graph: Tensor  # (U,) graph of every unit (sorted)
    loop: Tensor  # (U,) unit is a self-loop
    counts: Tensor  # (G,) units per graph
    ptr: Tensor  # (G + 1,)
    undirected: Tensor  # (G,) graph treated as undirected
    sorted_keys: Tensor  # (E,) sorted entry keys (lo * N + hi) * 2 + (src > dst), for membership tests


def _edge_units(lay: _Layout, undirected: bool | None) -> _Units:
    """Group edge entries into units (one sort, O(E log E)); detect undirected graphs when asked.

    Entries are keyed ``(lo * N + hi) * 2 + (src > dst)`` with ``lo, hi`` the smaller/larger endpoint, so
    after one sort the two directions of an undirected edge are neighbours (forward entry first) and
    equal keys are repeated entries.
    """
    g, n = lay.num_graphs, lay.num_nodes
    device = lay.ptr.device
    src, dst = lay.edge_index
    back = src > dst
    key2 = torch.minimum(src, dst).mul_(2 * n).add_(torch.maximum(src, dst), alpha=2).add_(back.long())
    skey, order = torch.sort(key2)
    e = skey.numel()
    if e == 0:
        flag = True if undirected is None else bool(undirected)
        und = torch.full((g,), flag, dtype=torch.bool, device=device)
        empty = torch.zeros(0, dtype=torch.long, device=device)
        zeros = torch.zeros(g, dtype=torch.long, device=device)
        return _Units(empty, empty, empty, empty.bool(), zeros, _cumsum0(zeros), und, skey)
    # graphs occupy consecutive key ranges [2 N ptr[g], 2 N ptr[g + 1]): entry offsets per graph
    bounds = torch.searchsorted(skey, lay.ptr * (2 * n))
    sck = skey >> 1
    new_dir = torch.ones(e, dtype=torch.bool, device=device)
    torch.ne(skey[1:], skey[:-1], out=new_dir[1:])
    new_und = torch.ones(e, dtype=torch.bool, device=device)
    torch.ne(sck[1:], sck[:-1], out=new_und[1:])
    loop = src == dst
    has_loops = bool(loop.any())
    loop_s = _g(loop, order) if has_loops else None
    if undirected is None:
        # a pair {lo, hi} is symmetric iff its group starts with a forward and ends with a backward entry
        back_s = (skey & 1).bool()
        last = torch.ones(e, dtype=torch.bool, device=device)
        last[:-1] = new_und[1:]
        bad = (new_und & back_s) | (last & ~back_s)
        if loop_s is not None:
            bad &= ~loop_s
        n_bad = _cumsum0(bad.long())
        und = (n_bad[bounds[1:]] - n_bad[bounds[:-1]]) == 0
    else:
        und = torch.full((g,), bool(undirected), dtype=torch.bool, device=device)
    if bool(und.all()):
        start = new_und
    else:
        start = torch.where(_g(und, _group_ids(bounds, e)), new_und, new_dir)
    n_start = _cumsum0(start.long())
    uid = n_start[1:] - 1
    counts = _g(n_start, bounds[1:]) - _g(n_start, bounds[:-1])
    unit_ptr = _cumsum0(counts)
    unit_graph = _group_ids(unit_ptr, int(unit_ptr[-1]))
    unit_loop = loop_s[start] if loop_s is not None else torch.zeros_like(unit_graph, dtype=torch.bool)
    return _Units(order, uid, unit_graph, unit_loop, counts, unit_ptr, und, skey)


def _screen(sorted_keys: Tensor, probe: Tensor, und: Tensor) -> Tensor:
    """For candidate keys ``probe`` (``ckey * 2`` for undirected graphs, the entry key otherwise): True
    where the candidate is absent from ``sorted_keys`` (either direction for undirected graphs) and is the
    first occurrence of its key among the candidates. One stable sort of the candidates."""
    sprobe, order = torch.sort(probe, stable=True)
    ok = torch.ones_like(sprobe, dtype=torch.bool)
    torch.ne(sprobe[1:], sprobe[:-1], out=ok[1:])
    if sorted_keys.numel():
        pos = torch.searchsorted(sorted_keys, sprobe).clamp_max(sorted_keys.numel() - 1)
        found = _g(sorted_keys, pos)
        exists = torch.where(_g(und, order), (found >> 1) == (sprobe >> 1), found == sprobe)
        ok &= ~exists
    return torch.empty_like(ok).index_copy_(0, order, ok)


def _sample_new_edges(
    lay: _Layout, units: _Units, want: Tensor, allow_self_loops: bool, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw ``want[g]`` new edges per graph (uniform among absent pairs), vectorised over the batch.

    Endpoints are drawn as ``ptr[g] + randint(n_g)`` (rejection of self-loops, existing edges and repeats,
    a few vectorised rounds); graphs that are too dense for rejection to be cheap enumerate their absent
    pairs instead (O(n_g^2) = O(E_g) for such graphs). A graph gets at most as many edges as it has
    absent pairs.

    Returns:
        ``(added, n_added)``: ``(2, A)`` new edge entries (input node ids, grouped by graph; both directions
        of every new undirected edge, next to each other) and ``(G,)`` new edges (units) per graph.
    """
    g, n_total = lay.num_graphs, lay.num_nodes
    device = lay.ptr.device
    n = lay.node_counts
    und = units.undirected
    loops_have = torch.bincount(units.graph[units.loop], minlength=g)
    nonloop_have = units.counts - loops_have
    pairs = torch.where(und, n * (n - 1) // 2, n * (n - 1))
    free_nonloop = (pairs - nonloop_have).clamp_min(0)
    free_loop = (n - loops_have).clamp_min(0) if allow_self_loops else torch.zeros_like(n)
    want = torch.minimum(want, free_nonloop + free_loop)
    hits = torch.where(und, 2 * free_nonloop, free_nonloop) + free_loop
    q = hits.double() / (n.double() ** 2).clamp_min(1.0)
    dense = (want > 0) & (q < 0.25)
    remaining = torch.where(dense, torch.zeros_like(want), want)
    extra: list[Tensor] = []  # keys of edges accepted so far (checked besides the input's keys)
    acc_src, acc_dst, acc_graph = [], [], []

    def accept(cand_graph: Tensor, s: Tensor, d: Tensor, valid: Tensor, need: Tensor) -> Tensor:
        """Accept, per graph, the first ``need[g]`` valid candidates in order (grouped by graph)."""
        lo, hi = torch.minimum(s, d), torch.maximum(s, d)
        ckey = lo * n_total + hi
        key2 = ckey * 2 + (s > d).long()
        und_c = _g(und, cand_graph)
        probe = torch.where(und_c, ckey * 2, key2)
        valid = valid & _screen(units.sorted_keys, probe, und_c)
        if extra:
            valid &= _screen(torch.sort(torch.cat(extra))[0], probe, und_c)
        if not allow_self_loops:
            valid &= s != d
        csum = _cumsum0(valid.long())
        first = _g(_cumsum0(torch.bincount(cand_graph, minlength=g)), cand_graph)
        rank = csum[1:] - 1 - _g(csum, first)
        ok = valid & (rank < _g(need, cand_graph))
        s_ok, d_ok, g_ok = s[ok], d[ok], cand_graph[ok]
        und_ok = und[g_ok]
        acc_src.append(torch.where(und_ok, lo[ok], s_ok))
        acc_dst.append(torch.where(und_ok, hi[ok], d_ok))
        acc_graph.append(g_ok)
        extra.append(torch.where(und_ok, ckey[ok] * 2, key2[ok]))
        return torch.bincount(g_ok, minlength=g)

    for _ in range(16):
        todo = (remaining > 0).nonzero().flatten()
        if todo.numel() == 0:
            break
        draws = torch.ceil(remaining[todo].double() * 1.2 / q[todo]).long() + 4
        cand_graph = _repeat(todo, draws)
        base, size = _g(lay.ptr, cand_graph), _g(n, cand_graph)
        s = base + _randbelow(size, generator)
        d = base + _randbelow(size, generator)
        remaining = remaining - accept(cand_graph, s, d, torch.ones_like(s, dtype=torch.bool), remaining)

    rest = torch.where(dense, want, remaining)
    todo = (rest > 0).nonzero().flatten()
    if todo.numel():  # enumerate every pair of the (few, dense) graphs still short of edges
        sizes = n[todo] ** 2
        cand_graph = _repeat(todo, sizes)
        local = _ranges(torch.zeros_like(sizes), sizes)
        ng = n[cand_graph]
        s = lay.ptr[cand_graph] + local // ng
        d = lay.ptr[cand_graph] + local % ng
        keep = torch.where(und[cand_graph], s <= d, torch.ones_like(s, dtype=torch.bool))  # one per pair
        cand_graph, s, d = cand_graph[keep], s[keep], d[keep]
        # a random order inside each graph (still grouped by graph), then the same first-come acceptance
        cptr = _cumsum0(torch.bincount(cand_graph, minlength=g))
        perm = torch.argsort(_group_ranks(cand_graph, cptr, generator) + cptr[cand_graph])
        accept(cand_graph[perm], s[perm], d[perm], torch.ones_like(perm, dtype=torch.bool), rest)

    src = torch.cat(acc_src) if acc_src else torch.zeros(0, dtype=torch.long, device=device)
    dst = torch.cat(acc_dst) if acc_dst else torch.zeros(0, dtype=torch.long, device=device)
    graph = torch.cat(acc_graph) if acc_graph else torch.zeros(0, dtype=torch.long, device=device)
    order = torch.argsort(graph, stable=True)
    src, dst, graph = src[order], dst[order], graph[order]
    n_added = torch.bincount(graph, minlength=g)
    both = und[graph] & (src != dst)
    reps = 1 + both.long()
    out_src = _repeat(src, reps)
    out_dst = _repeat(dst, reps)
    second = _cumsum0(reps)[:-1][both] + 1  # positions of the reversed copies
    out_src[second], out_dst[second] = dst[both], src[both]
    return torch.stack([out_src, out_dst]), n_added


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


def _take_graphs(batch: Batch, index: Tensor) -> Batch:
    """The graphs at ``index`` (in that order) as a new batch, vectorised."""
    if not _fast_keys(batch):
        return Batch.from_data_list(batch.index_select(index.cpu()))
    device = batch.ptr.device if "ptr" in batch else index.device
    index = index.to(device)
    lay = _layout(batch, "take")
    node_counts = lay.node_counts[index]
    edge_counts = lay.edge_counts[index]
    ptr = _cumsum0(node_counts)
    eptr = _cumsum0(lay.edge_counts)
    edge_idx = _ranges(eptr[index], edge_counts)
    out = _new_batch_like(batch)
    slice_dict, inc_dict = {}, {}
    icpu = index.cpu()
    for key in batch.keys():
        if key in ("batch", "ptr", "num_nodes"):
            continue
        value = batch[key]
        slices = _slices(batch, key)
        if key == "edge_index":
            shift = _repeat(ptr[:-1] - lay.ptr[index], edge_counts, edge_idx.numel())
            out[key] = lay.edge_index[:, edge_idx] + shift
            slice_dict[key] = _cumsum0(edge_counts).cpu()
            inc_dict[key] = ptr[:-1].cpu()
            continue
        sizes = slices.diff()[icpu]
        if isinstance(value, Tensor):
            rows = _ranges(slices[:-1][icpu], sizes).to(value.device)
            out[key] = value.index_select(0, rows) if value.dim() > 0 else value
        else:
            out[key] = [value[i] for i in icpu.tolist()]
        slice_dict[key] = _cumsum0(sizes)
        inc = batch._inc_dict.get(key)
        inc_dict[key] = inc[icpu] if isinstance(inc, Tensor) else inc
    out.batch = _group_ids(ptr, int(ptr[-1]))
    out.ptr = ptr
    if lay.has_num_nodes or not lay.node_keys:
        out._num_nodes = node_counts.tolist()
        out.num_nodes = int(ptr[-1])
    out._num_graphs = int(index.numel())
    out._slice_dict = slice_dict
    out._inc_dict = inc_dict
    return out


def _cat_graphs(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches graph-wise (same attribute keys), vectorised."""
    keys = [set(b.keys()) for b in batches]
    if any(k != keys[0] for k in keys) or not all(_fast_keys(b) for b in batches):
        return Batch.from_data_list([d for b in batches for d in b.to_data_list()])
    lays = [_layout(b, "combine") for b in batches]
    first = batches[0]
    out = _new_batch_like(first)
    node_counts = torch.cat([lay.node_counts for lay in lays])
    ptr = _cumsum0(node_counts)
    slice_dict, inc_dict = {}, {}
    for key in first.keys():
        if key in ("batch", "ptr", "num_nodes"):
            continue
        if key == "edge_index":
            offsets = ptr[torch.tensor([0] + [lay.num_graphs for lay in lays[:-1]]).cumsum(0).to(ptr.device)]
            out[key] = torch.cat(
                [lay.edge_index + off for lay, off in zip(lays, offsets, strict=True)], dim=1
            )
            slice_dict[key] = _cumsum0(torch.cat([lay.edge_counts for lay in lays])).cpu()
            inc_dict[key] = ptr[:-1].cpu()
            continue
        values = [b[key] for b in batches]
        sizes = torch.cat([_slices(b, key).diff() for b in batches])
        if isinstance(values[0], Tensor):
            out[key] = torch.cat(values, dim=0) if values[0].dim() > 0 else values[0]
        else:
            out[key] = [v for part in values for v in part]
        slice_dict[key] = _cumsum0(sizes)
        incs = [b._inc_dict.get(key) for b in batches]
        inc_dict[key] = torch.cat(incs) if all(isinstance(i, Tensor) for i in incs) else None
    out.batch = _group_ids(ptr, int(ptr[-1]))
    out.ptr = ptr
    if any(lay.has_num_nodes or not lay.node_keys for lay in lays):
        out._num_nodes = node_counts.tolist()
        out.num_nodes = int(ptr[-1])
    out._num_graphs = int(node_counts.numel())
    out._slice_dict = slice_dict
    out._inc_dict = inc_dict
    return out


@batch_len.register
def _(batch: Batch) -> int:
    return int(batch.num_graphs)


@take.register
def _(batch: Batch, index: Tensor) -> Batch:
    return _take_graphs(batch, index.long().flatten())


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
    cat = _cat_graphs([b for _, b in parts])
    return _take_graphs(cat, torch.argsort(order))


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


# --------------------------------------------------------------------------------------------------
# The views
# --------------------------------------------------------------------------------------------------
class GraphView(View):
    """Base of graph views: a ``Batch`` is the batch; ``Data``, lists of ``Data`` and networkx graphs
    are converted in and out.

    Subclasses implement ``_sample(batch, layout, generator)`` and ``_apply(batch, layout, params)``.
    """

    structural: bool = True  # changes nodes or edges (needs node/edge attributes it can keep aligned)

    def to_batch(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, Batch):
            return x, False
        if isinstance(x, Data):
            return Batch.from_data_list([x]), "data"
        if isinstance(x, nx.Graph):
            return Batch.from_data_list([from_networkx_graph(x)]), ("networkx", x)
        if (
            isinstance(x, (list, tuple))
            and x
            and all(isinstance(d, Data) and not isinstance(d, Batch) for d in x)
        ):
            return Batch.from_data_list(list(x)), "list"
        raise TypeError(
            f"{type(self).__name__} expects a torch_geometric Batch, a Data, a non-empty list of Data or a "
            f"networkx graph, got {type(x).__name__}"
        )

    def from_batch(self, batch: Any, was_single: Any) -> Any:
        if was_single is False:
            return batch
        if was_single == "data":
            return batch.get_example(0)
        if was_single == "list":
            return batch.to_data_list()
        if isinstance(was_single, tuple) and was_single[0] == "networkx":
            return to_networkx_graph(batch.get_example(0), was_single[1])
        raise ValueError(f"unknown batch marker {was_single!r}")

    def _layout(self, batch: Any) -> _Layout:
        lay = _layout(batch, type(self).__name__)
        if self.structural:
            _check_structural(lay, type(self).__name__)
        return lay

    def sample(self, batch: Any, generator: torch.Generator) -> Params:
        return self._sample(batch, self._layout(batch), generator)

    def apply(self, batch: Any, params: Params) -> Any:
        return self._apply(batch, self._layout(batch), params)

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        lay = self._layout(batch)
        params = self._sample(batch, lay, generator)
        return self._apply(batch, lay, params), params

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        raise NotImplementedError

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        raise NotImplementedError

    def _param(
        self, params: Params, key: str, size: int, what: str, dtype: torch.dtype | None = None
    ) -> Tensor:
        if not isinstance(params, dict) or key not in params:
            raise ValueError(
                f"{type(self).__name__}.apply needs params[{key!r}] (from sample or return_params)"
            )
        value = params[key]
        if (
            not isinstance(value, Tensor)
            or value.shape[0] != size
            or (dtype is not None and value.dtype != dtype)
        ):
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(
                f"{type(self).__name__}: params[{key!r}] must be a {dtype or ''} tensor with {size} {what} "
                f"(first dim), got {shape}; were the params drawn for another batch?"
            )
        return value


def _check_keep(view: GraphView, params: Params, lay: _Layout) -> Tensor:
    return view._param(params, "node_keep", lay.num_nodes, "nodes", torch.bool).to(lay.ptr.device)


class DropNodes(GraphView):
    """Drop a fraction of every graph's nodes, with their features, edges and edge attributes (GraphCL).

    Each graph with ``n`` nodes loses exactly ``floor(p * n)`` nodes chosen uniformly at random; the rest
    are relabelled ``0..n'-1`` in their original order.

    Args:
        p: fraction of nodes to drop, in [0, 1].

    Params:
        ``node_keep``: ``(N,)`` bool, the kept nodes; ``n_dropped``: ``(G,)`` nodes dropped per graph.

    Shape:
        ``Batch`` with ``N`` nodes, ``E`` edges -> ``Batch`` with ``N - sum(n_dropped)`` nodes.

    Reference:
        You et al. 2020, "Graph Contrastive Learning with Augmentations" (node dropping).
    """

    def __init__(self, p: float = 0.2) -> None:
        self.p = _check_rate(p, "p", "DropNodes")

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        drop = _floor_count(self.p, lay.node_counts)
        rank = _group_ranks(lay.node_graph, lay.ptr, generator)
        return {"node_keep": rank >= _g(drop, lay.node_graph), "n_dropped": drop}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        return _node_subgraph(batch, lay, _check_keep(self, params, lay))


class _EdgeView(GraphView):
    def _edge_keep(self, params: Params, lay: _Layout) -> Tensor:
        removed = self._param(params, "edge_removed", lay.num_edges, "edges", torch.bool)
        return ~removed.to(lay.ptr.device)

    def _added(self, params: Params, lay: _Layout) -> Tensor:
        added = params.get("added_edges") if isinstance(params, dict) else None
        if (
            not isinstance(added, Tensor)
            or added.dim() != 2
            or added.shape[0] != 2
            or added.dtype != torch.long
        ):
            raise ValueError(f"{type(self).__name__}.apply needs params['added_edges'], a (2, A) long tensor")
        added = added.to(lay.ptr.device)
        if added.shape[1]:
            if int(added.min()) < 0 or int(added.max()) >= lay.num_nodes:
                raise ValueError(f"{type(self).__name__}: added_edges has node ids outside the batch")
            graph = lay.node_graph[added]
            if not bool((graph[0] == graph[1]).all()) or not bool((graph[0].diff() >= 0).all()):
                raise ValueError(
                    f"{type(self).__name__}: added_edges must join nodes of the same graph and be grouped "
                    "by graph; were the params drawn for another batch?"
                )
        return added

    def _drop_units(self, lay: _Layout, units: _Units, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        drop = _floor_count(self.p, units.counts)
        rank = _group_ranks(units.graph, units.ptr, generator)
        unit_drop = rank < _g(drop, units.graph)
        removed = torch.empty(lay.num_edges, dtype=torch.bool, device=lay.ptr.device)
        return removed.index_copy_(0, units.order, _g(unit_drop, units.uid)), drop


def _check_undirected(value: Any, owner: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{owner}: undirected must be True, False or None (detect per graph), got {value!r}")
    return value


class DropEdges(_EdgeView):
    """Remove a fraction of every graph's edges (with their edge attributes).

    Each graph with ``m`` edges loses exactly ``floor(p * m)`` of them, chosen uniformly. In an
    undirected graph an edge is the pair ``(u, v), (v, u)``: both go together and ``m`` counts pairs.

    Args:
        p: fraction of edges to remove, in [0, 1].
        undirected: ``None`` detects per graph whether every edge has its reverse; ``True``/``False``
            forces pairs / single directed entries.

    Params:
        ``edge_removed``: ``(E,)`` bool; ``n_removed``: ``(G,)`` edges (pairs for undirected graphs).

    Shape:
        ``Batch`` with ``E`` edges -> ``Batch`` with ``E - removed entries`` edges, same nodes.

    Reference:
        Rong et al. 2020 (DropEdge); Zhu et al. 2020 (GRACE, edge removing).
    """

    def __init__(self, p: float = 0.2, undirected: bool | None = None) -> None:
        self.p = _check_rate(p, "p", "DropEdges")
        self.undirected = _check_undirected(undirected, "DropEdges")

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        removed, n_removed = self._drop_units(lay, units, generator)
        return {"edge_removed": removed, "n_removed": n_removed}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        return _edge_update(batch, lay, self._edge_keep(params, lay), None, 0.0)


class AddEdges(_EdgeView):
    """Add new random edges inside every graph: ``floor(p * m)`` per graph with ``m`` edges.

    New edges join two nodes of the same graph, never duplicate an existing edge or each other, are no
    self-loops unless ``allow_self_loops``, and are added in both directions in undirected graphs. A graph
    gets at most as many edges as it has absent node pairs. New edges get ``fill_value`` in every
    edge-level attribute (``edge_attr``, ``edge_weight``, ...; pass ``fill_value=1.0`` for edge weights,
    since a weight of 0 hides the edge from a GCN) and come after the graph's existing edges.

    Args:
        p: number of new edges as a fraction of the graph's edge count (``>= 0``; may exceed 1).
        allow_self_loops: allow ``(u, u)`` edges.
        undirected: ``None`` detects per graph; ``True``/``False`` forces it.
        fill_value: edge attribute value of new edges.

    Params:
        ``added_edges``: ``(2, A)`` long, the new edge entries (input node ids, grouped by graph);
        ``n_added``: ``(G,)`` new edges per graph (pairs for undirected graphs).

    Shape:
        ``Batch`` with ``E`` edges -> ``Batch`` with ``E + A`` edges, same nodes.

    Reference:
        You et al. 2020 (GraphCL, edge perturbation).
    """

    def __init__(
        self,
        p: float = 0.2,
        allow_self_loops: bool = False,
        undirected: bool | None = None,
        fill_value: float = 0.0,
    ) -> None:
        self.p = _check_rate(p, "p", "AddEdges", upper=None)
        self.allow_self_loops = bool(allow_self_loops)
        self.undirected = _check_undirected(undirected, "AddEdges")
        self.fill_value = float(fill_value)

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        want = _floor_count(self.p, units.counts)
        added, n_added = _sample_new_edges(lay, units, want, self.allow_self_loops, generator)
        return {"added_edges": added, "n_added": n_added}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        return _edge_update(batch, lay, None, self._added(params, lay), self.fill_value)


class PerturbEdges(_EdgeView):
    """GraphCL's edge perturbation: remove ``k = floor(p * m)`` edges and add ``k`` new ones, per graph.

    Removal is :class:`DropEdges`; additions follow :class:`AddEdges` (including ``fill_value`` for
    their edge attributes) and avoid every edge of the input graph (removed ones included). Undirected
    graphs stay undirected.

    Args:
        p: fraction of edges to perturb, in [0, 1].
        allow_self_loops: allow new ``(u, u)`` edges.
        undirected: ``None`` detects per graph; ``True``/``False`` forces it.
        fill_value: edge attribute value of new edges.

    Params:
        ``edge_removed`` ``(E,)`` bool, ``added_edges`` ``(2, A)``, ``n_removed`` and ``n_added`` ``(G,)``.

    Shape:
        ``Batch`` -> ``Batch`` with the same nodes and (up to dense graphs) the same number of edges.

    Reference:
        You et al. 2020, "Graph Contrastive Learning with Augmentations" (edge perturbation).
    """

    def __init__(
        self,
        p: float = 0.2,
        allow_self_loops: bool = False,
        undirected: bool | None = None,
        fill_value: float = 0.0,
    ) -> None:
        self.p = _check_rate(p, "p", "PerturbEdges")
        self.allow_self_loops = bool(allow_self_loops)
        self.undirected = _check_undirected(undirected, "PerturbEdges")
        self.fill_value = float(fill_value)

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        removed, n_removed = self._drop_units(lay, units, generator)
        added, n_added = _sample_new_edges(lay, units, n_removed, self.allow_self_loops, generator)
        return {"edge_removed": removed, "added_edges": added, "n_removed": n_removed, "n_added": n_added}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        keep = self._edge_keep(params, lay)
        return _edge_update(batch, lay, keep, self._added(params, lay), self.fill_value)


def _features(batch: Batch, owner: str) -> Tensor:
    x = batch.x if "x" in batch else None
    if not isinstance(x, Tensor) or x.dim() != 2:
        got = "no x" if x is None else f"x of shape {tuple(getattr(x, 'shape', ()))}"
        raise ValueError(
            f"{owner} needs node features x of shape (N, F), got {got}; give featureless graphs features "
            "first (e.g. encoders.graph.ensure_features: constant or one-hot degree)"
        )
    return x


class MaskFeatures(GraphView):
    """Mask node features: whole columns per graph, single entries, or whole node rows.

    * ``mode="columns"`` (GRACE's feature masking, per graph): ``floor(p * F)`` feature columns of each
      graph are set to ``value`` for all its nodes;
    * ``mode="entries"``: ``floor(p * n * F)`` entries of each graph's ``(n, F)`` block;
    * ``mode="nodes"`` (GraphCL's ``mask_nodes``): ``floor(p * n)`` nodes of each graph get all their
      features replaced.

    Args:
        p: fraction to mask, in [0, 1].
        mode: ``"columns"``, ``"entries"`` or ``"nodes"``.
        value: a float to write, or ``(mean, std)`` to write Gaussian draws (GraphCL used ``(0.5, 0.5)``).

    Params:
        ``mask``: ``(G, F)`` bool (columns), ``(N, F)`` bool (entries) or ``(N,)`` bool (nodes);
        ``fill``: ``(M,)`` drawn values of the masked entries in row-major order (Gaussian value only).

    Raises:
        ValueError: on a batch without 2-D float ``x``.

    Shape:
        ``x`` ``(N, F)`` -> ``(N, F)``; the graph structure is unchanged.

    Reference:
        Zhu et al. 2020 (GRACE, feature masking); You et al. 2020 (GraphCL, attribute masking).
    """

    structural = False
    MODES = ("columns", "entries", "nodes")

    def __init__(
        self, p: float = 0.2, mode: str = "columns", value: float | tuple[float, float] = 0.0
    ) -> None:
        self.p = _check_rate(p, "p", "MaskFeatures")
        if mode not in self.MODES:
            raise ValueError(f"MaskFeatures mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        if isinstance(value, (tuple, list)):
            if len(value) != 2 or not all(isinstance(v, numbers.Real) for v in value) or value[1] < 0:
                raise ValueError(f"MaskFeatures value as a tuple must be (mean, std >= 0), got {value!r}")
            value = (float(value[0]), float(value[1]))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        else:
            raise TypeError(f"MaskFeatures value must be a float or (mean, std), got {value!r}")
        self.value = value

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        x = _features(batch, "MaskFeatures")
        f = x.shape[1]
        device = x.device
        if self.mode == "columns":
            g = lay.num_graphs
            group = torch.arange(g, device=device)[:, None].expand(g, f).reshape(-1)
            rank = _group_ranks(group, torch.arange(g + 1, device=device) * f, generator).view(g, f)
            k = _floor_count(self.p, torch.full((g,), f, dtype=torch.long, device=device))
            mask = rank < k[:, None]
            n_masked = int((mask.sum(1) * lay.node_counts.to(device)).sum())
        elif self.mode == "entries":
            group = lay.node_graph.to(device)[:, None].expand(-1, f).reshape(-1)
            rank = _group_ranks(group, lay.ptr.to(device) * f, generator).view(x.shape[0], f)  # F may be 0
            k = _floor_count(self.p, lay.node_counts.to(device) * f)
            mask = rank < k[lay.node_graph.to(device)][:, None]
            n_masked = int(mask.sum())
        else:
            rank = _group_ranks(lay.node_graph, lay.ptr, generator)
            mask = rank < _floor_count(self.p, lay.node_counts)[lay.node_graph]
            n_masked = int(mask.sum()) * f
        params: Params = {"mask": mask}
        if isinstance(self.value, tuple):
            if not x.is_floating_point():
                raise TypeError(f"MaskFeatures with Gaussian values needs float x, got {x.dtype}")
            noise = torch.randn(n_masked, generator=generator, device=generator.device, dtype=torch.float32)
            params["fill"] = (self.value[0] + self.value[1] * noise).to(device=device, dtype=x.dtype)
        return params

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        x = _features(batch, "MaskFeatures")
        if self.mode == "columns":
            mask = self._param(params, "mask", lay.num_graphs, "graphs", torch.bool).to(x.device)
            full = mask[lay.node_graph.to(x.device)]
        elif self.mode == "entries":
            full = self._param(params, "mask", lay.num_nodes, "nodes", torch.bool).to(x.device)
        else:
            nodes = self._param(params, "mask", lay.num_nodes, "nodes", torch.bool).to(x.device)
            full = nodes[:, None].expand_as(x)
        if full.shape != x.shape:
            raise ValueError(
                f"MaskFeatures: mask of shape {tuple(full.shape)} does not fit x {tuple(x.shape)}"
            )
        new_x = x.clone()
        if isinstance(self.value, tuple):
            fill = params.get("fill")
            n_masked = int(full.sum())
            if not isinstance(fill, Tensor) or fill.numel() != n_masked:
                raise ValueError(f"MaskFeatures: params['fill'] must hold {n_masked} values")
            new_x[full] = fill.to(device=x.device, dtype=x.dtype)
        else:
            new_x[full] = self.value
        return _with_node_values(batch, lay, {"x": new_x})


def _with_node_values(batch: Batch, lay: _Layout, values: dict[str, Tensor]) -> Batch:
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


class FeatureNoise(GraphView):
    """Add Gaussian noise ``N(0, std^2)`` to every node feature.

    Args:
        std: noise standard deviation, ``>= 0``.

    Params:
        ``noise``: ``(N, F)`` the added noise.

    Raises:
        ValueError: on a batch without 2-D ``x``; TypeError on integer ``x``.

    Shape:
        ``x`` ``(N, F)`` -> ``(N, F)``; the graph structure is unchanged.
    """

    structural = False

    def __init__(self, std: float = 0.1) -> None:
        self.std = _check_rate(std, "std", "FeatureNoise", upper=None)

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        x = _features(batch, "FeatureNoise")
        if not x.is_floating_point():
            raise TypeError(f"FeatureNoise needs float features, got x of dtype {x.dtype}")
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32)
        return {"noise": (noise * self.std).to(device=x.device, dtype=x.dtype)}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        x = _features(batch, "FeatureNoise")
        noise = self._param(params, "noise", lay.num_nodes, "nodes")
        if noise.shape != x.shape:
            raise ValueError(
                f"FeatureNoise: noise of shape {tuple(noise.shape)} does not fit x {tuple(x.shape)}"
            )
        return _with_node_values(batch, lay, {"x": x + noise.to(device=x.device, dtype=x.dtype)})


def _sink_components(lay: _Layout) -> tuple[Tensor, Tensor, Tensor]:
    """Strongly connected components (scipy, O(N + E)): ``(component of each node, sizes, is_sink)``.

    A sink component has no edge leaving it: a walker that enters it can never leave.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, device = lay.num_nodes, lay.ptr.device
    ei = lay.edge_index.cpu().numpy()
    adj = coo_matrix((np.ones(ei.shape[1], dtype=np.int8), (ei[0], ei[1])), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="strong")
    comp = torch.from_numpy(labels.astype(np.int64)).to(device)
    n_comp = int(comp.max()) + 1 if n else 0
    cs, cd = _g(comp, lay.edge_index[0]), _g(comp, lay.edge_index[1])
    sink = torch.bincount(cs[cs != cd], minlength=n_comp) == 0
    return comp, torch.bincount(comp, minlength=n_comp), sink


def _random_unvisited(lay: _Layout, visited: Tensor, graphs: Tensor, generator: torch.Generator) -> Tensor:
    """A uniform random unvisited node of each graph in ``graphs`` (sorted; each has one)."""
    wanted = torch.zeros(lay.num_graphs, dtype=torch.bool, device=visited.device).index_fill_(0, graphs, True)
    cand = (~visited & _g(wanted, lay.node_graph)).nonzero().flatten()
    cand_graph = _g(lay.node_graph, cand)
    cptr = _cumsum0(torch.bincount(cand_graph, minlength=lay.num_graphs))
    rank = _group_ranks(cand_graph, cptr, generator)
    chosen = cand[rank == 0]  # one per graph, in graph order
    return chosen


class RandomWalkSubgraph(GraphView):
    """GraphCL's "subgraph": keep the nodes a random walk visits until it has seen ``n - floor(p * n)``.

    One walker per graph starts at a uniform random node and moves to a uniform random out-neighbour;
    from a node without out-edges it jumps to a uniform random node of its graph, and a walker trapped in
    a part of the graph it has fully visited (a sink strongly connected component: e.g. a small
    connected component) restarts at a uniform random node of its graph. So the kept nodes of a
    connected graph are connected, and a disconnected graph still reaches its target. A graph stops as
    soon as it has visited its target number of nodes, or after ``walk_length`` steps (a safety stop,
    default ``100 * n``), in which case it keeps fewer nodes. The kept nodes induce the subgraph.

    All walkers move together: chunks of 32 steps are drawn with a few tensor operations per step over
    an extended CSR adjacency, then every chunk's first visits are found in one sorted pass.

    Args:
        p: fraction of nodes to leave out, in [0, 1) (GraphCL's ``aug_ratio``; keeps ``n - floor(p n)``,
            at least one node of every non-empty graph).
        walk_length: maximum number of steps per walker, or ``None`` for ``100 * n`` in a graph of ``n``.

    Params:
        ``node_keep``: ``(N,)`` bool; ``start``: ``(G,)`` start node (global id, ``-1`` for empty graphs).

    Shape:
        ``Batch`` -> ``Batch`` with the kept nodes.

    Reference:
        You et al. 2020, "Graph Contrastive Learning with Augmentations" (subgraph).
    """

    CHUNK = 32

    def __init__(self, p: float = 0.2, walk_length: int | None = None) -> None:
        self.p = _check_rate(p, "p", "RandomWalkSubgraph")
        if self.p >= 1.0:
            raise ValueError("RandomWalkSubgraph: p must be < 1 (it keeps n - floor(p * n) >= 1 nodes)")
        self.walk_length = (
            None if walk_length is None else _check_int(walk_length, "walk_length", "RandomWalkSubgraph")
        )

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        device = lay.ptr.device
        n = lay.node_counts
        n_nodes, n_edges = lay.num_nodes, lay.num_edges
        target = (n - _floor_count(self.p, n)).clamp_min(0)
        cap = 100 * n if self.walk_length is None else torch.full_like(n, self.walk_length)
        visited = torch.zeros(n_nodes, dtype=torch.bool, device=device)
        start = torch.full_like(n, -1)
        has = (n > 0).nonzero().flatten()
        if has.numel() == 0:
            return {"node_keep": visited, "start": start}
        start_has = _g(lay.ptr, has) + _randbelow(_g(n, has), generator)
        start.index_copy_(0, has, start_has)
        visited.index_fill_(0, start_has, True)
        # extended CSR: a node without out-edges has all nodes of its graph as "neighbours" (a jump)
        src, dst = lay.edge_index
        order = torch.sort(src, stable=True)[1]
        table = torch.cat([_g(dst, order), torch.arange(n_nodes, device=device)])
        deg = torch.bincount(src, minlength=n_nodes)
        dead = deg == 0
        row = torch.where(dead, n_edges + _g(lay.ptr, lay.node_graph), _cumsum0(deg)[:-1])
        width = torch.where(dead, _g(n, lay.node_graph), deg)
        row_width = torch.stack([row, width], dim=1)  # one gather per step for both
        first_step = torch.full((n_nodes,), self.CHUNK, dtype=torch.long, device=device)

        count = (n > 0).long()
        cur = start.clamp_min(0)
        stall = torch.zeros_like(n)
        step = 0
        k = self.CHUNK
        comps: tuple[Tensor, Tensor, Tensor] | None = None
        comp_seen = torch.zeros(0, dtype=torch.long, device=device)
        while True:
            walkers = ((count < target) & (cap > step)).nonzero().flatten()
            if walkers.numel() == 0:
                break
            w = walkers.numel()
            c = _g(cur, walkers)
            patience = _g(n, walkers) if comps is None else torch.full_like(walkers, k)
            suspect = _g(stall, walkers) >= patience
            if bool(suspect.any()):  # no progress for a while: restart the walkers that are trapped
                if comps is None:
                    comps = _sink_components(lay)
                    comp_seen = torch.bincount(comps[0][visited], minlength=comps[1].numel())
                comp, size, sink = comps
                cc = _g(comp, c)
                trapped = suspect & _g(sink, cc) & (_g(comp_seen, cc) == _g(size, cc))
                if bool(trapped.any()):
                    c = c.clone()
                    c[trapped] = _random_unvisited(lay, visited, walkers[trapped], generator)
                stall.index_fill_(0, walkers[suspect], 0)
            path = torch.empty(k, w, dtype=torch.long, device=device)
            rand = _randbits(k * w, generator, device).view(k, w)
            for i in range(k):
                rw = row_width.index_select(0, c)
                pick = torch.mul(rand[i], rw[:, 1]).bitwise_right_shift_(_RAND_BITS).add_(rw[:, 0])
                c = torch.index_select(table, 0, pick, out=path[i])
            cur.index_copy_(0, walkers, c)
            # first visit of each node within the chunk (nodes of different walkers differ)
            seq = path.t().reshape(-1)
            owner = torch.arange(w, device=device)[:, None].expand(w, k).reshape(-1)
            when = torch.arange(k, device=device).repeat(w)
            first_step.scatter_reduce_(0, seq, when, reduce="amin")
            first = _g(first_step, seq) == when
            first_step.index_fill_(0, seq, k)
            new = first & ~_g(visited, seq)
            in_cap = (step + when) < _g(_g(cap, walkers), owner)
            new &= in_cap
            found = torch.cumsum(new.view(w, k).long(), 1)  # new nodes so far, per walker and step
            room = _g(target - count, walkers)
            take = new & (found.view(-1) <= _g(room, owner))
            visited.index_fill_(0, seq[take], True)
            if comps is not None:
                comp_seen.index_add_(0, _g(comps[0], seq[take]), torch.ones_like(seq[take]))
            gained = take.view(w, k).sum(1)
            count.index_add_(0, walkers, gained)
            stall.index_copy_(
                0, walkers, torch.where(gained > 0, torch.zeros_like(gained), _g(stall, walkers) + k)
            )
            step += k
        return {"node_keep": visited, "start": start}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        return _node_subgraph(batch, lay, _check_keep(self, params, lay))


class KHopSubgraph(GraphView):
    """Keep the ``k``-hop neighbourhood of ``n_seeds`` random seed nodes per graph (induced subgraph).

    Args:
        k: number of hops (0 keeps the seeds only).
        n_seeds: seeds per graph (a graph with fewer nodes uses all of them).
        directed: ``False`` follows edges both ways; ``True`` follows them from source to target.

    Params:
        ``node_keep``: ``(N,)`` bool; ``seeds``: ``(S,)`` the seed nodes (global ids).

    Shape:
        ``Batch`` -> ``Batch`` with the kept nodes.

    Reference:
        Hamilton et al. 2017 (GraphSAGE neighbourhoods); Qiu et al. 2020 (GCC, subgraph views).
    """

    def __init__(self, k: int = 2, n_seeds: int = 1, directed: bool = False) -> None:
        self.k = _check_int(k, "k", "KHopSubgraph")
        self.n_seeds = _check_int(n_seeds, "n_seeds", "KHopSubgraph", minimum=1)
        self.directed = bool(directed)

    def _sample(self, batch: Batch, lay: _Layout, generator: torch.Generator) -> Params:
        rank = _group_ranks(lay.node_graph, lay.ptr, generator)
        seed = rank < self.n_seeds
        keep = seed.clone()
        src, dst = lay.edge_index
        for _ in range(self.k):
            new = keep.clone()
            new[dst[keep[src]]] = True
            if not self.directed:
                new[src[keep[dst]]] = True
            keep = new
        return {"node_keep": keep, "seeds": seed.nonzero().flatten()}

    def _apply(self, batch: Batch, lay: _Layout, params: Params) -> Batch:
        return _node_subgraph(batch, lay, _check_keep(self, params, lay))


# --------------------------------------------------------------------------------------------------
# GraphCL recipes
# --------------------------------------------------------------------------------------------------
GRAPHCL_AUGS = ("dnodes", "pedges", "subgraph", "mask_nodes", "random2", "random3", "random4")
"""Augmentation names of GraphCL's unsupervised TU experiments (``--aug``)."""


def graphcl_view(aug: str = "random4", p: float = 0.2) -> GraphView | OneOf:
    """GraphCL's augmentations by name (You et al. 2020, unsupervised TU setting, ``aug_ratio = p``).

    * ``"dnodes"``: :class:`DropNodes` ``(p)``;
    * ``"pedges"``: :class:`PerturbEdges` ``(p)``;
    * ``"subgraph"``: :class:`RandomWalkSubgraph` ``(p)`` (keeps ``n - floor(p n)`` nodes);
    * ``"mask_nodes"``: :class:`MaskFeatures` ``(p, mode="nodes", value=(0.5, 0.5))``: features of masked
      nodes become Gaussian draws, as in GraphCL's code;
    * ``"random2"`` / ``"random3"`` / ``"random4"``: one of the first 2 (dnodes, subgraph), 3 (+ pedges)
      or 4 (+ mask_nodes), chosen per graph with equal probability (:class:`~pairs.views.base.OneOf`).

    Args:
        aug: one of :data:`GRAPHCL_AUGS`.
        p: GraphCL's ``aug_ratio``.

    Returns:
        The view.

    Raises:
        ValueError: for an unknown ``aug``.
    """
    if aug not in GRAPHCL_AUGS:
        raise ValueError(f"graphcl_view: unknown aug {aug!r}; expected one of {GRAPHCL_AUGS}")
    views = {
        "dnodes": lambda: DropNodes(p),
        "subgraph": lambda: RandomWalkSubgraph(p),
        "pedges": lambda: PerturbEdges(p),
        "mask_nodes": lambda: MaskFeatures(p, mode="nodes", value=(0.5, 0.5)),
    }
    if aug in views:
        return views[aug]()
    n = int(aug[-1])
    return OneOf([views[name]() for name in ("dnodes", "subgraph", "pedges", "mask_nodes")[:n]])
