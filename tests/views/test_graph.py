"""Tests of the graph views: invariants on random batches (hypothesis), slow per-graph references, replay."""

from __future__ import annotations

import math

import networkx as nx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data
from torch_geometric.utils import is_undirected

from pairs.views import graph as G
from pairs.views.base import Compose, OneOf, RandomApply, combine, take

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------------
# Random graphs whose attributes say where they came from
# --------------------------------------------------------------------------------------------------
def make_graph(
    n: int,
    pairs: list[tuple[int, int]],
    undirected: bool,
    label: int,
    *,
    with_x: bool = True,
    with_edge_attr: bool = True,
    n_features: int = 3,
) -> Data:
    """A graph whose node attribute ``nid`` is the node's own id and whose ``edge_attr`` rows are
    ``(src, dst, 1)``: after a view, every row can be traced back to the input."""
    edges = set()
    for s, d in pairs:
        if not (0 <= s < n and 0 <= d < n):
            continue
        edges.add((s, d))
        if undirected:
            edges.add((d, s))
    edges = sorted(edges)
    ei = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).t().contiguous()
    data = Data(edge_index=ei, num_nodes=n, y=torch.tensor([label]))
    data.nid = torch.arange(n)
    if with_x:
        x = torch.arange(n * n_features, dtype=torch.float32).reshape(n, n_features) + 1.0
        x[:, 0] = torch.arange(n, dtype=torch.float32)  # first column = node id
        data.x = x
    if with_edge_attr:
        data.edge_attr = torch.cat([ei.t().float(), torch.ones(ei.shape[1], 1)], dim=1)
    return data


@st.composite
def graph_lists(draw, min_graphs: int = 1, max_graphs: int = 6, max_nodes: int = 12, loops: bool = True):
    with_x = draw(st.booleans())
    with_edge_attr = draw(st.booleans())
    graphs = []
    for label in range(draw(st.integers(min_graphs, max_graphs))):
        n = draw(st.integers(0, max_nodes))
        undirected = draw(st.booleans())
        m = draw(st.integers(0, 3 * n))
        pairs = [(draw(st.integers(0, max(n - 1, 0))), draw(st.integers(0, max(n - 1, 0)))) for _ in range(m)]
        if not loops:
            pairs = [(s, d) for s, d in pairs if s != d]
        graphs.append(
            make_graph(
                n, pairs, undirected=undirected, label=label, with_x=with_x, with_edge_attr=with_edge_attr
            )
        )
    return graphs


def edge_set(data: Data) -> set[tuple[int, int]]:
    return set(map(tuple, data.edge_index.t().tolist()))


def traced_edges(out: Data) -> tuple[list[tuple[int, int]], list[bool]]:
    """Each output edge as a pair of *input* node ids (through ``nid``), and whether it was an input edge."""
    nid = out.nid.tolist()
    pairs = [(nid[s], nid[d]) for s, d in out.edge_index.t().tolist()]
    original = out.edge_attr[:, 2].bool().tolist() if "edge_attr" in out else [None] * len(pairs)
    return pairs, original


def unit_count(data: Data, undirected: bool | None = None) -> int:
    """Number of edges, counting both directions of an undirected graph once."""
    e = edge_set(data)
    if undirected is None:
        undirected = graph_is_undirected(data)
    if undirected:
        return len({(min(s, d), max(s, d)) for s, d in e})
    return len(e)


def graph_is_undirected(data: Data) -> bool:
    return data.edge_index.shape[1] == 0 or is_undirected(data.edge_index, num_nodes=data.num_nodes)


def floor_rate(p: float, n: int) -> int:
    return math.floor(p * n + 1e-9)


def check_batch(out: Batch, inputs: list[Data]) -> list[Data]:
    """Batch metadata and graph-level attributes are consistent; returns the graphs of ``out``."""
    assert isinstance(out, Batch)
    assert out.num_graphs == len(inputs)
    graphs = out.to_data_list()
    assert out.ptr.tolist()[-1] == out.num_nodes == sum(d.num_nodes for d in graphs)
    assert torch.equal(out.batch, torch.repeat_interleave(torch.arange(len(inputs)), out.ptr.diff()))
    if out.edge_index.numel():
        src, dst = out.edge_index
        assert torch.equal(out.batch[src], out.batch[dst]), "an edge crosses graphs"
    for before, after in zip(inputs, graphs, strict=True):
        assert torch.equal(before.y, after.y)
        n = after.num_nodes
        assert after.nid.shape == (n,)
        if "x" in before:
            assert after.x.shape == (n, before.x.shape[1])
        ei = after.edge_index
        assert ei.numel() == 0 or (int(ei.min()) >= 0 and int(ei.max()) < n)
        if "edge_attr" in before:
            assert after.edge_attr.shape == (ei.shape[1], 3)
    return graphs


# --------------------------------------------------------------------------------------------------
# Slow references: one graph at a time, plain Python
# --------------------------------------------------------------------------------------------------
def reference_node_subgraph(data: Data, keep: list[bool]) -> Data:
    new_id, nodes = {}, []
    for i, k in enumerate(keep):
        if k:
            new_id[i] = len(nodes)
            nodes.append(i)
    cols, rows = [], []
    for e, (s, d) in enumerate(data.edge_index.t().tolist()):
        if keep[s] and keep[d]:
            cols.append((new_id[s], new_id[d]))
            rows.append(e)
    out = Data(edge_index=torch.tensor(cols, dtype=torch.long).reshape(-1, 2).t(), num_nodes=len(nodes))
    out.nid = data.nid[nodes]
    if "x" in data:
        out.x = data.x[nodes]
    if "edge_attr" in data:
        out.edge_attr = data.edge_attr[rows]
    return out


def reference_edge_update(data: Data, removed: list[bool], added: list[tuple[int, int]], fill: float) -> Data:
    pairs = [tuple(p) for e, p in enumerate(data.edge_index.t().tolist()) if not removed[e]]
    rows = [e for e in range(len(removed)) if not removed[e]]
    out = Data(
        edge_index=torch.tensor(pairs + added, dtype=torch.long).reshape(-1, 2).t(), num_nodes=data.num_nodes
    )
    out.nid = data.nid
    if "x" in data:
        out.x = data.x
    if "edge_attr" in data:
        new = torch.full((len(added), data.edge_attr.shape[1]), fill)
        out.edge_attr = torch.cat([data.edge_attr[rows], new])
    return out


def split_by_graph(mask: torch.Tensor, counts: list[int]) -> list[list[bool]]:
    return [part.tolist() for part in torch.split(mask, counts)]


def local_added(added: torch.Tensor, batch: Batch) -> list[list[tuple[int, int]]]:
    out: list[list[tuple[int, int]]] = [[] for _ in range(batch.num_graphs)]
    ptr = batch.ptr.tolist()
    for s, d in added.t().tolist():
        g = int(batch.batch[s])
        out[g].append((s - ptr[g], d - ptr[g]))
    return out


def assert_same_graph(a: Data, b: Data) -> None:
    assert a.num_nodes == b.num_nodes
    assert torch.equal(a.edge_index, b.edge_index)
    assert torch.equal(a.nid, b.nid)
    for key in ("x", "edge_attr"):
        if key in b:
            assert torch.equal(a[key], b[key]), key


# --------------------------------------------------------------------------------------------------
# Structural views: invariants on random batches
# --------------------------------------------------------------------------------------------------
def run_on_graphs(view: G.GraphView, graphs: list[Data], seed: int) -> tuple[Batch, list[Data], dict]:
    """``view`` on the batch of ``graphs``: the input batch, the output's graphs (checked by
    :func:`check_batch`) and the drawn parameters."""
    batch = Batch.from_data_list(graphs)
    out, params = view(batch, seed, return_params=True)
    return batch, check_batch(out, graphs), params


def check_node_subgraphs(graphs: list[Data], result: list[Data], params: dict) -> list[list[bool]]:
    """Each output graph is its input's subgraph on the nodes ``params["node_keep"]`` keeps; returns the
    per-graph keep masks."""
    keeps = split_by_graph(params["node_keep"], [d.num_nodes for d in graphs])
    for data, after, keep in zip(graphs, result, keeps, strict=True):
        assert_same_graph(after, reference_node_subgraph(data, keep))
    return keeps


@SETTINGS
@given(graphs=graph_lists(), p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]), seed=st.integers(0, 2**16))
def test_drop_nodes_matches_per_graph_reference(graphs, p, seed):
    _, result, params = run_on_graphs(G.DropNodes(p), graphs, seed)
    keeps = check_node_subgraphs(graphs, result, params)
    for data, after, keep in zip(graphs, result, keeps, strict=True):
        assert sum(keep) == data.num_nodes - floor_rate(p, data.num_nodes)  # exact count per graph
        pairs, _ = traced_edges(after)
        assert set(pairs) <= edge_set(data)  # no edge to a dropped node, no invented edge
        if graph_is_undirected(data):
            assert graph_is_undirected(after)
    assert params["n_dropped"].tolist() == [floor_rate(p, d.num_nodes) for d in graphs]


@SETTINGS
@given(graphs=graph_lists(), p=st.sampled_from([0.0, 0.25, 0.5, 1.0]), seed=st.integers(0, 2**16))
def test_drop_edges_counts_and_symmetry(graphs, p, seed):
    _, result, params = run_on_graphs(G.DropEdges(p), graphs, seed)
    removed = split_by_graph(params["edge_removed"], [d.edge_index.shape[1] for d in graphs])
    for data, after, rem in zip(graphs, result, removed, strict=True):
        assert_same_graph(after, reference_edge_update(data, rem, [], 0.0))
        und = graph_is_undirected(data)
        assert unit_count(data) - unit_count(after, und) == floor_rate(p, unit_count(data))
        if graph_is_undirected(data):
            assert graph_is_undirected(after)


def _check_added(data: Data, after: Data, n_added: int, p_units: int, allow_loops: bool) -> None:
    before = edge_set(data)
    pairs, original = traced_edges(after)
    new = [e for e, o in zip(pairs, original, strict=True) if o is False] if "edge_attr" in data else None
    out_edges = edge_set(after)
    assert len(out_edges) == after.edge_index.shape[1], "duplicate edges"
    if not allow_loops:
        assert all(s != d for s, d in out_edges - before)
    undirected = graph_is_undirected(data)
    n = data.num_nodes
    loops_before = sum(1 for s, d in before if s == d)
    if undirected:
        capacity = n * (n - 1) // 2 - (unit_count(data) - loops_before)
    else:
        capacity = n * (n - 1) - (len(before) - loops_before)
    if allow_loops:
        capacity += n - loops_before
    assert n_added == min(p_units, capacity)
    if undirected:
        assert graph_is_undirected(after)
    if new is not None:  # new edges carry the fill value and are really new
        assert all(e not in before for e in new)


@SETTINGS
@given(
    graphs=graph_lists(),
    p=st.sampled_from([0.0, 0.3, 1.0, 2.5]),
    allow_loops=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_add_edges_new_unique_inside_graphs(graphs, p, allow_loops, seed):
    batch, result, params = run_on_graphs(G.AddEdges(p, allow_self_loops=allow_loops), graphs, seed)
    added = local_added(params["added_edges"], batch)
    for g, (data, after) in enumerate(zip(graphs, result, strict=True)):
        assert_same_graph(
            after, reference_edge_update(data, [False] * data.edge_index.shape[1], added[g], 0.0)
        )
        p_units = floor_rate(p, unit_count(data))
        _check_added(data, after, int(params["n_added"][g]), p_units, allow_loops)
        assert edge_set(data) <= edge_set(after)


@SETTINGS
@given(graphs=graph_lists(), p=st.sampled_from([0.0, 0.2, 0.5, 1.0]), seed=st.integers(0, 2**16))
def test_perturb_edges_matches_per_graph_reference(graphs, p, seed):
    batch, result, params = run_on_graphs(G.PerturbEdges(p, fill_value=0.0), graphs, seed)
    removed = split_by_graph(params["edge_removed"], [d.edge_index.shape[1] for d in graphs])
    added = local_added(params["added_edges"], batch)
    for g, (data, after) in enumerate(zip(graphs, result, strict=True)):
        assert_same_graph(after, reference_edge_update(data, removed[g], added[g], 0.0))
        k = floor_rate(p, unit_count(data))
        assert int(params["n_removed"][g]) == k
        before = edge_set(data)
        assert all(e not in before for e in added[g])  # additions avoid every input edge
        assert len(set(added[g])) == len(added[g])
        assert all(s != d for s, d in added[g])
        if graph_is_undirected(data):
            assert graph_is_undirected(after)
            assert int(params["n_added"][g]) * 2 == len(added[g])
        else:
            assert int(params["n_added"][g]) == len(added[g])
        assert int(params["n_added"][g]) <= k


@SETTINGS
@given(graphs=graph_lists(), k=st.integers(0, 3), n_seeds=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_khop_matches_networkx_bfs(graphs, k, n_seeds, seed):
    batch, result, params = run_on_graphs(G.KHopSubgraph(k, n_seeds), graphs, seed)
    seeds = params["seeds"].tolist()
    ptr = batch.ptr.tolist()
    for g, (data, after) in enumerate(zip(graphs, result, strict=True)):
        local = [s - ptr[g] for s in seeds if ptr[g] <= s < ptr[g + 1]]
        assert len(local) == min(n_seeds, data.num_nodes)
        nxg = nx.Graph()
        nxg.add_nodes_from(range(data.num_nodes))
        nxg.add_edges_from(edge_set(data))
        reach = set()
        for s in local:
            reach |= set(nx.single_source_shortest_path_length(nxg, s, cutoff=k))
        assert set(after.nid.tolist()) == reach
        keep = [i in reach for i in range(data.num_nodes)]
        assert_same_graph(after, reference_node_subgraph(data, keep))


@SETTINGS
@given(graphs=graph_lists(), p=st.sampled_from([0.0, 0.2, 0.5, 0.9]), seed=st.integers(0, 2**16))
def test_random_walk_subgraph_invariants(graphs, p, seed):
    _, result, params = run_on_graphs(G.RandomWalkSubgraph(p), graphs, seed)
    check_node_subgraphs(graphs, result, params)
    for data, after in zip(graphs, result, strict=True):
        target = data.num_nodes - floor_rate(p, data.num_nodes)
        assert 0 < after.num_nodes <= target or data.num_nodes == 0


def test_random_walk_visits_a_connected_set_of_the_target_size():
    graphs = []
    for i in range(40):  # connected graphs: a path plus random chords
        n = 5 + i % 17
        pairs = [(j, j + 1) for j in range(n - 1)] + [(j, (j * 7 + i) % n) for j in range(0, n, 3)]
        graphs.append(make_graph(n, pairs, undirected=True, label=i))
    graphs.append(make_graph(40, [(j, j + 1) for j in range(39)], undirected=True, label=99))  # a long path
    batch = Batch.from_data_list(graphs)
    out = G.RandomWalkSubgraph(0.3, walk_length=10**6)(batch, 3)  # no step cap: a path needs ~n^2 steps
    for data, after in zip(graphs, out.to_data_list(), strict=True):
        assert after.num_nodes == data.num_nodes - floor_rate(0.3, data.num_nodes)
        sub = nx.Graph()
        sub.add_nodes_from(range(after.num_nodes))
        sub.add_edges_from(edge_set(after))
        assert nx.is_connected(sub)


def test_random_walk_escapes_small_components():
    triangles = [(3 * t + a, 3 * t + b) for t in range(6) for a, b in [(0, 1), (1, 2), (2, 0)]]
    isolated = make_graph(10, [], undirected=True, label=1)
    ring_of_cliques = make_graph(18, triangles, undirected=True, label=0)
    directed_sink = make_graph(8, [(0, 1), (1, 2), (2, 1)], undirected=False, label=2)  # {1, 2} traps
    batch = Batch.from_data_list([ring_of_cliques, isolated, directed_sink] * 20)
    out = G.RandomWalkSubgraph(0.25)(batch, 0)
    counts = [d.num_nodes for d in out.to_data_list()]
    assert counts == [18 - 4, 10 - 2, 8 - 2] * 20


# --------------------------------------------------------------------------------------------------
# Feature views
# --------------------------------------------------------------------------------------------------
@SETTINGS
@given(
    graphs=graph_lists(),
    p=st.sampled_from([0.0, 0.34, 0.5, 1.0]),
    mode=st.sampled_from(["columns", "entries", "nodes"]),
    seed=st.integers(0, 2**16),
)
def test_mask_features_counts(graphs, p, mode, seed):
    if "x" not in graphs[0]:
        with pytest.raises(ValueError, match="needs node features x"):
            G.MaskFeatures(p, mode)(Batch.from_data_list(graphs), seed)
        return
    for d in graphs:
        d.x = d.x + 1.0  # no zero before masking
    batch = Batch.from_data_list(graphs)
    out = G.MaskFeatures(p, mode, value=0.0)(batch, seed)
    result = check_batch(out, graphs)
    f = graphs[0].x.shape[1]
    for data, after in zip(graphs, result, strict=True):
        masked = after.x == 0
        assert torch.equal(after.x[~masked], data.x[~masked])
        assert torch.equal(after.edge_index, data.edge_index)
        n = data.num_nodes
        if mode == "columns":
            if n:
                cols = masked.all(0)
                assert int(cols.sum()) == floor_rate(p, f)
                assert torch.equal(masked, cols.expand_as(masked))
        elif mode == "entries":
            assert int(masked.sum()) == floor_rate(p, n * f)
        else:
            rows = masked.all(1)
            assert int(rows.sum()) == floor_rate(p, n)
            assert torch.equal(masked, rows[:, None].expand_as(masked))


def test_mask_features_gaussian_value_and_replay():
    graphs = [make_graph(6, [(0, 1), (1, 2)], undirected=True, label=i) for i in range(5)]
    batch = Batch.from_data_list(graphs)
    view = G.MaskFeatures(0.5, mode="nodes", value=(0.5, 0.5))
    out, params = view(batch, 1, return_params=True)
    masked_rows = params["mask"]
    assert int(masked_rows.sum()) == 5 * 3
    assert torch.equal(out.x[masked_rows].flatten(), params["fill"])
    assert torch.equal(out.x[~masked_rows], batch.x[~masked_rows])
    assert torch.equal(view.replay(batch, params).x, out.x)


def test_feature_noise_adds_the_recorded_noise():
    graphs = [make_graph(50, [(0, 1)], undirected=True, label=i) for i in range(40)]
    batch = Batch.from_data_list(graphs)
    out, params = G.FeatureNoise(0.3)(batch, 0, return_params=True)
    assert torch.allclose(out.x - batch.x, params["noise"], atol=1e-5)
    assert abs(float(params["noise"].std()) - 0.3) < 0.01
    with pytest.raises(TypeError, match="float"):
        G.FeatureNoise(0.1)(
            Batch.from_data_list([Data(x=torch.ones(3, 2, dtype=torch.long), num_nodes=3)]), 0
        )


# --------------------------------------------------------------------------------------------------
# Randomness: per-graph draws, seeds, replay, uniformity
# --------------------------------------------------------------------------------------------------
ALL_VIEWS = [
    G.DropNodes(0.3),
    G.DropEdges(0.3),
    G.AddEdges(0.5),
    G.PerturbEdges(0.3),
    G.MaskFeatures(0.3),
    G.MaskFeatures(0.3, "entries"),
    G.MaskFeatures(0.3, "nodes", (0.5, 0.5)),
    G.FeatureNoise(0.1),
    G.RandomWalkSubgraph(0.3),
    G.KHopSubgraph(1),
    *[G.graphcl_view(a) for a in G.GRAPHCL_AUGS],
    RandomApply(G.DropNodes(0.5), p=0.5),
    Compose([G.DropNodes(0.2), G.PerturbEdges(0.2)]),
]


def _random_batch(n_graphs: int = 12, seed: int = 0) -> tuple[Batch, list[Data]]:
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(n_graphs):
        n = int(torch.randint(0, 15, (1,), generator=gen))
        pairs = torch.randint(0, max(n, 1), (2 * n, 2), generator=gen).tolist()
        graphs.append(make_graph(n, pairs, undirected=i % 3 != 0, label=i))
    return Batch.from_data_list(graphs), graphs


def _batches_equal(a: Batch, b: Batch) -> bool:
    keys = set(a.keys())
    return keys == set(b.keys()) and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in keys
    )


@pytest.mark.parametrize("view", ALL_VIEWS, ids=repr)
def test_same_seed_same_views_and_replay(view):
    batch, graphs = _random_batch()
    out1, params = view(batch, 7, return_params=True)
    out2 = view(batch, 7)
    assert _batches_equal(out1, out2)
    assert _batches_equal(view.replay(batch, params), out1)
    check_batch(out1, graphs)
    g = torch.Generator().manual_seed(7)
    assert _batches_equal(view(batch, g), out1)


def test_different_seeds_differ_and_graphs_get_their_own_draw():
    graphs = [make_graph(10, [(i, i + 1) for i in range(9)], undirected=True, label=i) for i in range(30)]
    batch = Batch.from_data_list(graphs)
    _, params = G.DropNodes(0.3)(batch, 0, return_params=True)
    masks = params["node_keep"].view(30, 10)
    assert len({tuple(m.tolist()) for m in masks}) > 10  # identical graphs, different draws
    _, other = G.DropNodes(0.3)(batch, 1, return_params=True)
    assert not torch.equal(other["node_keep"], params["node_keep"])
    _, pe = G.PerturbEdges(0.5)(batch, 0, return_params=True)
    removed = pe["edge_removed"].view(30, 18)
    assert len({tuple(r.tolist()) for r in removed}) > 10


def test_drop_nodes_is_uniform():
    graphs = [make_graph(5, [(0, 1)], undirected=True, label=0)] * 4000
    _, params = G.DropNodes(0.4)(Batch.from_data_list(graphs), 0, return_params=True)
    dropped = (~params["node_keep"]).view(4000, 5).float().mean(0)  # 2 of 5 dropped: each node 0.4
    assert torch.allclose(dropped, torch.full((5,), 0.4), atol=0.03)


def test_add_edges_picks_absent_pairs_uniformly():
    path = make_graph(4, [(0, 1), (1, 2), (2, 3)], undirected=True, label=0)  # absent: 02, 03, 13
    batch = Batch.from_data_list([path] * 3000)
    _, params = G.AddEdges(0.34)(batch, 0, return_params=True)  # floor(0.34 * 3) = 1 edge per graph
    assert params["n_added"].tolist() == [1] * 3000
    local = params["added_edges"] - batch.ptr[:-1].repeat_interleave(2)
    first = [tuple(e) for e in local[:, ::2].t().tolist()]
    freq = {pair: first.count(pair) / 3000 for pair in [(0, 2), (0, 3), (1, 3)]}
    assert sum(freq.values()) == pytest.approx(1.0)
    assert all(abs(f - 1 / 3) < 0.04 for f in freq.values()), freq


def test_dense_graphs_fill_up_exactly():
    complete = make_graph(6, [(i, j) for i in range(6) for j in range(6) if i != j], undirected=True, label=0)
    near = make_graph(
        6, [(i, j) for i in range(6) for j in range(i + 1, 6) if (i, j) != (0, 5)], True, label=1
    )
    directed = make_graph(
        4, [(i, j) for i in range(4) for j in range(4) if i != j and (i, j) != (2, 1)], False, 2
    )
    batch = Batch.from_data_list([complete, near, directed])
    out, params = G.AddEdges(1.0)(batch, 0, return_params=True)
    assert params["n_added"].tolist() == [0, 1, 1]
    graphs = out.to_data_list()
    assert len(edge_set(graphs[1])) == 30
    assert graph_is_undirected(graphs[1])
    assert (2, 1) in edge_set(graphs[2])
    assert len(edge_set(graphs[2])) == 12
    out, params = G.AddEdges(1.0, allow_self_loops=True)(batch, 0, return_params=True)
    assert params["n_added"].tolist() == [6, 7, 5]


# --------------------------------------------------------------------------------------------------
# Batches for composition: take / combine, OneOf, RandomApply
# --------------------------------------------------------------------------------------------------
def test_take_and_combine_match_pyg():
    batch, graphs = _random_batch(9, seed=3)
    index = torch.tensor([4, 0, 7, 7 - 5])
    sub = take(batch, index)
    expected = Batch.from_data_list([graphs[i] for i in index.tolist()])
    assert _batches_equal(sub, expected)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    parts = [(perm[:4], take(batch, perm[:4])), (perm[4:], take(batch, perm[4:]))]
    assert _batches_equal(combine(parts[0][1], parts, 9), batch)


def test_one_of_applies_one_view_per_graph():
    batch, graphs = _random_batch(20, seed=5)
    view = OneOf([G.DropNodes(0.5), G.MaskFeatures(1.0, "nodes", value=-1.0)])
    out, params = view(batch, 0, return_params=True)
    result = check_batch(out, graphs)
    for g, (data, after) in enumerate(zip(graphs, result, strict=True)):
        if int(params["choice"][g]) == 0:
            assert after.num_nodes == data.num_nodes - floor_rate(0.5, data.num_nodes)
        else:
            assert after.num_nodes == data.num_nodes
            assert bool((after.x == -1).all())


# --------------------------------------------------------------------------------------------------
# Inputs: Data, list, networkx; odd batches; errors
# --------------------------------------------------------------------------------------------------
def test_single_data_and_list_in_and_out():
    data = make_graph(8, [(0, 1), (1, 2), (2, 3)], undirected=True, label=3)
    out = G.DropNodes(0.5)(data, 0)
    assert isinstance(out, Data)
    assert not isinstance(out, Batch)
    assert out.num_nodes == 4
    outs = G.DropNodes(0.5)([data, data], 0)
    assert isinstance(outs, list)
    assert [d.num_nodes for d in outs] == [4, 4]


def test_networkx_in_networkx_out_keeps_attributes():
    karate = nx.karate_club_graph()
    out = G.DropNodes(0.25)(karate, 0)
    assert isinstance(out, nx.Graph)
    assert out.number_of_nodes() == 34 - 8
    for v, attrs in out.nodes(data=True):
        assert attrs["club"] == karate.nodes[v]["club"]
    for u, v, attrs in out.edges(data=True):
        assert karate.has_edge(u, v)
        assert attrs == karate.edges[u, v]
    digraph = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    nx.set_node_attributes(digraph, {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0]}, "x")
    noisy = G.FeatureNoise(0.0)(digraph, 0)
    assert isinstance(noisy, nx.DiGraph)
    assert noisy.nodes["b"]["x"] == [3.0, 4.0]
    added = G.AddEdges(1.0)(digraph, 0)
    assert added.number_of_edges() == 6


def test_batch_of_empty_and_single_node_graphs():
    graphs = [make_graph(0, [], undirected=True, label=0), make_graph(1, [(0, 0)], False, label=1)]
    batch = Batch.from_data_list(graphs)
    for view in ALL_VIEWS:
        out = view(batch, 0)
        result = check_batch(out, graphs)
        assert result[0].num_nodes == 0


def test_featureless_graphs_keep_node_counts():
    graphs = [make_graph(n, [(0, 1)] if n > 1 else [], True, label=n, with_x=False) for n in (0, 1, 5, 3)]
    batch = Batch.from_data_list(graphs)
    out = Compose([G.DropNodes(0.4), G.AddEdges(1.0)])(batch, 0)
    assert [d.num_nodes for d in out.to_data_list()] == [0, 1, 3, 2]


def test_errors_name_the_problem():
    batch, _ = _random_batch(3)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        G.DropNodes(1.5)
    with pytest.raises(ValueError, match="mode"):
        G.MaskFeatures(0.2, mode="rows")
    with pytest.raises(ValueError, match="unknown aug"):
        G.graphcl_view("flip")
    with pytest.raises(TypeError, match="expects a torch_geometric Batch"):
        G.DropNodes(0.2)(torch.zeros(3, 3), 0)
    with pytest.raises(ValueError, match="another batch"):
        G.DropNodes(0.2).apply(batch, {"node_keep": torch.ones(2, dtype=torch.bool)})
    other, _ = _random_batch(3, seed=9)
    _, params = G.PerturbEdges(0.5)(other, 0, return_params=True)
    with pytest.raises(ValueError):
        G.PerturbEdges(0.5).apply(batch, params)
    followed = Batch.from_data_list([make_graph(3, [(0, 1)], True, label=0)] * 2, follow_batch=["x"])
    with pytest.raises(ValueError, match="x_batch"):
        G.DropNodes(0.5)(followed, 0)
    with pytest.raises(TypeError, match="multigraph"):
        G.DropNodes(0.5)(nx.MultiGraph([(0, 1)]), 0)
