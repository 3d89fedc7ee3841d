"""Graph views: node dropping, edge removal/addition/perturbation, feature masking/noise and subgraphs.

Every view works on a whole :class:`torch_geometric.data.Batch` in one vectorised pass: each graph of
the batch gets its own random draw (counts from per-graph rates through ``ptr``/``batch``), memory is
O(N + E) (no dense N x N matrix anywhere) and every node-level attribute (``x``, ``pos``, node labels,
...), every edge-level attribute (``edge_attr``, ...) and the batch metadata (``batch``, ``ptr``,
``_slice_dict``, ``_inc_dict``) stay consistent, so ``to_data_list()`` works on the result (that
bookkeeping lives in :mod:`pairs.views.graph_batch`; this module decides what changes). Graph-level
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

import numbers
from dataclasses import dataclass
from typing import Any

import networkx as nx
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from pairs import validation
from pairs.views.base import OneOf, Params, View
from pairs.views.functional import graph as _F
from pairs.views.graph_batch import (
    NX_NODE_KEY,
    Layout,
    check_structural,
    cumsum0,
    from_networkx_graph,
    gather,
    group_ids,
    layout,
    ranges,
    repeat_counts,
    to_networkx_graph,
)

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

_RAND_BITS = 31


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
        0, order, torch.arange(n, device=group.device) - gather(ptr, group)
    )


def _floor_count(p: float, counts: Tensor) -> Tensor:
    """``floor(p * counts)`` per entry (GraphCL's ``int(n * ratio)``), tolerant to float rounding."""
    return torch.floor(counts.double() * p + 1e-9).long()


def _check_rate(value: Any, name: str, owner: str, probability: bool = True) -> float:
    """A probability in [0, 1], or (``probability=False``) a finite number >= 0 (see pairs.validation)."""
    if probability:
        return validation.probability(name, value, owner=owner)
    return validation.finite_float(name, value, minimum=0, owner=owner)


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


def _edge_units(lay: Layout, undirected: bool | None) -> _Units:
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
        return _Units(empty, empty, empty, empty.bool(), zeros, cumsum0(zeros), und, skey)
    # graphs occupy consecutive key ranges [2 N ptr[g], 2 N ptr[g + 1]): entry offsets per graph
    bounds = torch.searchsorted(skey, lay.ptr * (2 * n))
    sck = skey >> 1
    new_dir = torch.ones(e, dtype=torch.bool, device=device)
    torch.ne(skey[1:], skey[:-1], out=new_dir[1:])
    new_und = torch.ones(e, dtype=torch.bool, device=device)
    torch.ne(sck[1:], sck[:-1], out=new_und[1:])
    loop = src == dst
    has_loops = bool(loop.any())
    loop_s = gather(loop, order) if has_loops else None
    if undirected is None:
        # a pair {lo, hi} is symmetric iff its group starts with a forward and ends with a backward entry
        back_s = (skey & 1).bool()
        last = torch.ones(e, dtype=torch.bool, device=device)
        last[:-1] = new_und[1:]
        bad = (new_und & back_s) | (last & ~back_s)
        if loop_s is not None:
            bad &= ~loop_s
        n_bad = cumsum0(bad.long())
        und = (n_bad[bounds[1:]] - n_bad[bounds[:-1]]) == 0
    else:
        und = torch.full((g,), bool(undirected), dtype=torch.bool, device=device)
    if bool(und.all()):
        start = new_und
    else:
        start = torch.where(gather(und, group_ids(bounds, e)), new_und, new_dir)
    n_start = cumsum0(start.long())
    uid = n_start[1:] - 1
    counts = gather(n_start, bounds[1:]) - gather(n_start, bounds[:-1])
    unit_ptr = cumsum0(counts)
    unit_graph = group_ids(unit_ptr, int(unit_ptr[-1]))
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
        found = gather(sorted_keys, pos)
        exists = torch.where(gather(und, order), (found >> 1) == (sprobe >> 1), found == sprobe)
        ok &= ~exists
    return torch.empty_like(ok).index_copy_(0, order, ok)


def _sample_new_edges(
    lay: Layout, units: _Units, want: Tensor, allow_self_loops: bool, generator: torch.Generator
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
        und_c = gather(und, cand_graph)
        probe = torch.where(und_c, ckey * 2, key2)
        valid = valid & _screen(units.sorted_keys, probe, und_c)
        if extra:
            valid &= _screen(torch.sort(torch.cat(extra))[0], probe, und_c)
        if not allow_self_loops:
            valid &= s != d
        csum = cumsum0(valid.long())
        first = gather(cumsum0(torch.bincount(cand_graph, minlength=g)), cand_graph)
        rank = csum[1:] - 1 - gather(csum, first)
        ok = valid & (rank < gather(need, cand_graph))
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
        cand_graph = repeat_counts(todo, draws)
        base, size = gather(lay.ptr, cand_graph), gather(n, cand_graph)
        s = base + _randbelow(size, generator)
        d = base + _randbelow(size, generator)
        remaining = remaining - accept(cand_graph, s, d, torch.ones_like(s, dtype=torch.bool), remaining)

    rest = torch.where(dense, want, remaining)
    todo = (rest > 0).nonzero().flatten()
    if todo.numel():  # enumerate every pair of the (few, dense) graphs still short of edges
        sizes = n[todo] ** 2
        cand_graph = repeat_counts(todo, sizes)
        local = ranges(torch.zeros_like(sizes), sizes)
        ng = n[cand_graph]
        s = lay.ptr[cand_graph] + local // ng
        d = lay.ptr[cand_graph] + local % ng
        keep = torch.where(und[cand_graph], s <= d, torch.ones_like(s, dtype=torch.bool))  # one per pair
        cand_graph, s, d = cand_graph[keep], s[keep], d[keep]
        # a random order inside each graph (still grouped by graph), then the same first-come acceptance
        cptr = cumsum0(torch.bincount(cand_graph, minlength=g))
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
    out_src = repeat_counts(src, reps)
    out_dst = repeat_counts(dst, reps)
    second = cumsum0(reps)[:-1][both] + 1  # positions of the reversed copies
    out_src[second], out_dst[second] = dst[both], src[both]
    return torch.stack([out_src, out_dst]), n_added


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

    def _layout(self, batch: Any) -> Layout:
        lay = layout(batch, type(self).__name__)
        if self.structural:
            check_structural(lay, type(self).__name__)
        return lay

    def sample(self, batch: Any, generator: torch.Generator) -> Params:
        return self._sample(batch, self._layout(batch), generator)

    def apply(self, batch: Any, params: Params) -> Any:
        return self._apply(batch, self._layout(batch), params)

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        lay = self._layout(batch)
        params = self._sample(batch, lay, generator)
        return self._apply(batch, lay, params), params

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        raise NotImplementedError

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
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


def _check_keep(view: GraphView, params: Params, lay: Layout) -> Tensor:
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

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        drop = _floor_count(self.p, lay.node_counts)
        rank = _group_ranks(lay.node_graph, lay.ptr, generator)
        return {"node_keep": rank >= gather(drop, lay.node_graph), "n_dropped": drop}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        return _F.keep_nodes(batch, _check_keep(self, params, lay), layout=lay)


class _EdgeView(GraphView):
    p: float  # the rate each edge view sets in __init__

    def _removed(self, params: Params, lay: Layout) -> Tensor:
        return self._param(params, "edge_removed", lay.num_edges, "edges", torch.bool)

    def _added(self, params: Params, lay: Layout) -> Tensor:
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

    def _drop_units(self, lay: Layout, units: _Units, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        drop = _floor_count(self.p, units.counts)
        rank = _group_ranks(units.graph, units.ptr, generator)
        unit_drop = rank < gather(drop, units.graph)
        removed = torch.empty(lay.num_edges, dtype=torch.bool, device=lay.ptr.device)
        return removed.index_copy_(0, units.order, gather(unit_drop, units.uid)), drop


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

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        removed, n_removed = self._drop_units(lay, units, generator)
        return {"edge_removed": removed, "n_removed": n_removed}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        return _F.update_edges(batch, self._removed(params, lay), None, 0.0, layout=lay)


class _NewEdgesView(_EdgeView):
    """An edge view that adds new edges (:class:`AddEdges`, :class:`PerturbEdges`): the rate ``p``, whether
    new edges may be self-loops, the undirected setting and the attribute value of new edges.

    ``p_is_probability`` says whether ``p`` must lie in [0, 1] (else any finite number >= 0).
    """

    p_is_probability: bool = True

    def __init__(
        self,
        p: float = 0.2,
        allow_self_loops: bool = False,
        undirected: bool | None = None,
        fill_value: float = 0.0,
    ) -> None:
        owner = type(self).__name__
        self.p = _check_rate(p, "p", owner, probability=self.p_is_probability)
        self.allow_self_loops = bool(allow_self_loops)
        self.undirected = _check_undirected(undirected, owner)
        self.fill_value = float(fill_value)


class AddEdges(_NewEdgesView):
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

    p_is_probability = False

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        want = _floor_count(self.p, units.counts)
        added, n_added = _sample_new_edges(lay, units, want, self.allow_self_loops, generator)
        return {"added_edges": added, "n_added": n_added}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        return _F.update_edges(batch, None, self._added(params, lay), self.fill_value, layout=lay)


class PerturbEdges(_NewEdgesView):
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

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        units = _edge_units(lay, self.undirected)
        removed, n_removed = self._drop_units(lay, units, generator)
        added, n_added = _sample_new_edges(lay, units, n_removed, self.allow_self_loops, generator)
        return {"edge_removed": removed, "added_edges": added, "n_removed": n_removed, "n_added": n_added}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        removed = self._removed(params, lay)
        return _F.update_edges(batch, removed, self._added(params, lay), self.fill_value, layout=lay)


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

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
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

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
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
        value: Any = self.value
        if isinstance(value, tuple):
            value = params.get("fill")
            n_masked = int(full.sum())
            if not isinstance(value, Tensor) or value.numel() != n_masked:
                raise ValueError(f"MaskFeatures: params['fill'] must hold {n_masked} values")
        return _F.mask_features(batch, full, value, layout=lay)


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
        self.std = _check_rate(std, "std", "FeatureNoise", probability=False)

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
        x = _features(batch, "FeatureNoise")
        if not x.is_floating_point():
            raise TypeError(f"FeatureNoise needs float features, got x of dtype {x.dtype}")
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32)
        return {"noise": (noise * self.std).to(device=x.device, dtype=x.dtype)}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        x = _features(batch, "FeatureNoise")
        noise = self._param(params, "noise", lay.num_nodes, "nodes")
        if noise.shape != x.shape:
            raise ValueError(
                f"FeatureNoise: noise of shape {tuple(noise.shape)} does not fit x {tuple(x.shape)}"
            )
        return _F.add_feature_noise(batch, noise, layout=lay)


def _sink_components(lay: Layout) -> tuple[Tensor, Tensor, Tensor]:
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
    cs, cd = gather(comp, lay.edge_index[0]), gather(comp, lay.edge_index[1])
    sink = torch.bincount(cs[cs != cd], minlength=n_comp) == 0
    return comp, torch.bincount(comp, minlength=n_comp), sink


def _random_unvisited(lay: Layout, visited: Tensor, graphs: Tensor, generator: torch.Generator) -> Tensor:
    """A uniform random unvisited node of each graph in ``graphs`` (sorted; each has one)."""
    wanted = torch.zeros(lay.num_graphs, dtype=torch.bool, device=visited.device).index_fill_(0, graphs, True)
    cand = (~visited & gather(wanted, lay.node_graph)).nonzero().flatten()
    cand_graph = gather(lay.node_graph, cand)
    cptr = cumsum0(torch.bincount(cand_graph, minlength=lay.num_graphs))
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
            None
            if walk_length is None
            else validation.integer("walk_length", walk_length, owner="RandomWalkSubgraph")
        )

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
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
        start_has = gather(lay.ptr, has) + _randbelow(gather(n, has), generator)
        start.index_copy_(0, has, start_has)
        visited.index_fill_(0, start_has, True)
        # extended CSR: a node without out-edges has all nodes of its graph as "neighbours" (a jump)
        src, dst = lay.edge_index
        order = torch.sort(src, stable=True)[1]
        table = torch.cat([gather(dst, order), torch.arange(n_nodes, device=device)])
        deg = torch.bincount(src, minlength=n_nodes)
        dead = deg == 0
        row = torch.where(dead, n_edges + gather(lay.ptr, lay.node_graph), cumsum0(deg)[:-1])
        width = torch.where(dead, gather(n, lay.node_graph), deg)
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
            c = gather(cur, walkers)
            patience = gather(n, walkers) if comps is None else torch.full_like(walkers, k)
            suspect = gather(stall, walkers) >= patience
            if bool(suspect.any()):  # no progress for a while: restart the walkers that are trapped
                if comps is None:
                    comps = _sink_components(lay)
                    comp_seen = torch.bincount(comps[0][visited], minlength=comps[1].numel())
                comp, size, sink = comps
                cc = gather(comp, c)
                trapped = suspect & gather(sink, cc) & (gather(comp_seen, cc) == gather(size, cc))
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
            first = gather(first_step, seq) == when
            first_step.index_fill_(0, seq, k)
            new = first & ~gather(visited, seq)
            in_cap = (step + when) < gather(gather(cap, walkers), owner)
            new &= in_cap
            found = torch.cumsum(new.view(w, k).long(), 1)  # new nodes so far, per walker and step
            room = gather(target - count, walkers)
            take = new & (found.view(-1) <= gather(room, owner))
            visited.index_fill_(0, seq[take], True)
            if comps is not None:
                comp_seen.index_add_(0, gather(comps[0], seq[take]), torch.ones_like(seq[take]))
            gained = take.view(w, k).sum(1)
            count.index_add_(0, walkers, gained)
            stall.index_copy_(
                0, walkers, torch.where(gained > 0, torch.zeros_like(gained), gather(stall, walkers) + k)
            )
            step += k
        return {"node_keep": visited, "start": start}

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        return _F.keep_nodes(batch, _check_keep(self, params, lay), layout=lay)


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
        self.k = validation.integer("k", k, owner="KHopSubgraph")
        self.n_seeds = validation.integer("n_seeds", n_seeds, minimum=1, owner="KHopSubgraph")
        self.directed = bool(directed)

    def _sample(self, batch: Batch, lay: Layout, generator: torch.Generator) -> Params:
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

    def _apply(self, batch: Batch, lay: Layout, params: Params) -> Batch:
        return _F.keep_nodes(batch, _check_keep(self, params, lay), layout=lay)


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
