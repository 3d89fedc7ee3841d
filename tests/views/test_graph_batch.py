"""Tests of the PyG bookkeeping interface of the graph views (:mod:`pairs.views.graph_batch`).

These pin down what the views rely on from torch_geometric (including its private batch attributes):
batch -> parts -> batch round trips, node/edge/graph-level attributes kept, empty graphs, networkx.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from pairs.views import graph_batch as gb


def graph(n: int, m: int, seed: int, *, undirected: bool = False) -> Data:
    """A graph with node-level (x, pos, node_label), edge-level (edge_attr, edge_weight) and graph-level
    (y, name: a str) attributes whose values say which graph and which row they belong to."""
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, max(n, 1), (2, m if n else 0), generator=gen)
    if undirected:
        ei = torch.cat([ei, ei.flip(0)], dim=1)
    e = ei.shape[1]
    return Data(
        x=torch.randn(n, 3, generator=gen),
        pos=torch.arange(2 * n, dtype=torch.float64).view(n, 2) + 1000 * seed,
        node_label=torch.arange(n) + 100 * seed,
        edge_index=ei,
        edge_attr=torch.randn(e, 2, generator=gen),
        edge_weight=torch.arange(e, dtype=torch.float32) + 0.5 + seed,
        y=torch.tensor([seed]),
        name=f"g{seed}",
    )


def graphs_with_empty() -> list[Data]:
    sizes = [(5, 7), (0, 0), (1, 0), (4, 3), (6, 0), (3, 9)]
    return [graph(n, m, i, undirected=i % 2 == 1) for i, (n, m) in enumerate(sizes)]


def same_graphs(a: list[Data], b: list[Data]) -> None:
    """Equal graph by graph, attribute by attribute (dtype included), with a message naming the first
    difference."""
    assert len(a) == len(b), f"{len(a)} graphs vs {len(b)}"
    for i, (u, v) in enumerate(zip(a, b, strict=True)):
        assert set(u.keys()) == set(v.keys()), f"graph {i}: keys {sorted(u.keys())} vs {sorted(v.keys())}"
        assert u.num_nodes == v.num_nodes, f"graph {i}: {u.num_nodes} vs {v.num_nodes} nodes"
        for key in u.keys():
            if isinstance(u[key], torch.Tensor):
                assert u[key].dtype == v[key].dtype, f"graph {i}: {key} dtype"
                assert torch.equal(u[key], v[key]), f"graph {i}: {key} differs"
            else:
                assert u[key] == v[key], f"graph {i}: {key} differs"


def test_layout_classifies_attributes_and_counts():
    data = graphs_with_empty()
    batch = Batch.from_data_list(data)
    lay = gb.layout(batch, "test")
    assert lay.num_graphs == 6
    assert lay.node_counts.tolist() == [d.num_nodes for d in data]
    assert lay.edge_counts.tolist() == [d.edge_index.shape[1] for d in data]
    assert lay.ptr.tolist() == [0, 5, 5, 6, 10, 16, 19]
    assert lay.eptr[-1] == lay.num_edges == sum(d.edge_index.shape[1] for d in data)
    assert sorted(lay.node_keys) == ["node_label", "pos", "x"]
    assert sorted(lay.edge_keys) == ["edge_attr", "edge_weight"]
    assert lay.bad_keys == ()
    assert torch.equal(lay.node_graph, batch.batch)
    expected_edge_graph = torch.repeat_interleave(torch.arange(6), lay.edge_counts)
    assert torch.equal(lay.edge_graph, expected_edge_graph)


def test_take_all_and_cat_of_parts_round_trip():
    data = graphs_with_empty()
    batch = Batch.from_data_list(data)
    same_graphs(gb.take_graphs(batch, torch.arange(6)).to_data_list(), data)
    parts = [gb.take_graphs(batch, torch.tensor(ix)) for ix in ([0, 1], [2], [3, 4, 5])]
    again = gb.cat_graphs(parts)
    same_graphs(again.to_data_list(), data)
    assert torch.equal(again.ptr, batch.ptr)
    assert torch.equal(again.batch, batch.batch)
    assert torch.equal(again.edge_index, batch.edge_index)
    assert again.num_graphs == batch.num_graphs


def test_take_graphs_matches_pyg_index_select_with_repeats():
    data = graphs_with_empty()
    batch = Batch.from_data_list(data)
    index = torch.tensor([5, 1, 1, 0, 3])
    ours = gb.take_graphs(batch, index)
    same_graphs(ours.to_data_list(), [data[i] for i in index.tolist()])
    ref = Batch.from_data_list(batch.index_select(index))
    assert torch.equal(ours.edge_index, ref.edge_index)
    assert torch.equal(ours.ptr, ref.ptr)


def test_keep_everything_gives_the_same_graphs():
    data = graphs_with_empty()
    batch = Batch.from_data_list(data)
    lay = gb.layout(batch, "test")
    same_graphs(
        gb.node_subgraph(batch, lay, torch.ones(lay.num_nodes, dtype=torch.bool)).to_data_list(), data
    )
    same_graphs(gb.edge_update(batch, lay, None, None, 0.0).to_data_list(), data)
    x = batch.x.clone()
    same_graphs(gb.with_node_values(batch, lay, {"x": x}).to_data_list(), data)


def test_node_subgraph_keeps_attributes_of_kept_nodes_and_edges():
    data = graphs_with_empty()
    batch = Batch.from_data_list(data)
    lay = gb.layout(batch, "test")
    keep = torch.arange(lay.num_nodes) % 3 != 1
    out = gb.node_subgraph(batch, lay, keep).to_data_list()
    start = 0
    for before, after in zip(data, out, strict=True):  # a slow per-graph reference
        k = keep[start : start + before.num_nodes]
        start += before.num_nodes
        new_id = torch.cumsum(k.long(), 0) - 1
        emask = k[before.edge_index[0]] & k[before.edge_index[1]] if before.edge_index.numel() else k[:0]
        assert torch.equal(after.x, before.x[k])
        assert torch.equal(after.pos, before.pos[k])
        assert torch.equal(after.node_label, before.node_label[k])
        assert torch.equal(after.edge_index, new_id[before.edge_index[:, emask]])
        assert torch.equal(after.edge_attr, before.edge_attr[emask])
        assert torch.equal(after.edge_weight, before.edge_weight[emask])
        assert torch.equal(after.y, before.y)
        assert after.name == before.name


def test_edge_update_appends_new_edges_with_fill_after_kept_ones():
    data = [graph(4, 3, 0), graph(0, 0, 1), graph(3, 2, 2)]
    batch = Batch.from_data_list(data)
    lay = gb.layout(batch, "test")
    keep = torch.tensor([True, False, True, False, True])
    added = torch.tensor([[0, 5, 6], [3, 4, 4]])  # global ids: one edge in graph 0, two in graph 2
    out = gb.edge_update(batch, lay, keep, added, -1.0).to_data_list()
    assert out[0].edge_index.tolist() == [
        data[0].edge_index[0, [0, 2]].tolist() + [0],
        data[0].edge_index[1, [0, 2]].tolist() + [3],
    ]
    assert torch.equal(out[0].edge_weight, torch.cat([data[0].edge_weight[[0, 2]], torch.tensor([-1.0])]))
    assert out[1].edge_index.shape == (2, 0)
    assert out[2].edge_index.tolist() == [
        data[2].edge_index[0, [1]].tolist() + [1, 2],
        data[2].edge_index[1, [1]].tolist() + [0, 0],
    ]
    assert torch.equal(out[2].edge_attr[1:], torch.full((2, 2), -1.0))
    assert torch.equal(out[2].x, data[2].x)


def test_batches_of_empty_graphs_only():
    data = [graph(0, 0, i) for i in range(3)]
    batch = Batch.from_data_list(data)
    lay = gb.layout(batch, "test")
    assert (lay.num_nodes, lay.num_edges) == (0, 0)
    assert lay.node_counts.tolist() == [0, 0, 0]
    same_graphs(gb.node_subgraph(batch, lay, torch.zeros(0, dtype=torch.bool)).to_data_list(), data)
    same_graphs(
        gb.cat_graphs([gb.take_graphs(batch, torch.tensor([2, 0])), batch]).to_data_list(),
        [data[2], data[0], *data],
    )


def test_check_structural_names_attributes_it_cannot_keep():
    data = [graph(3, 2, 0), graph(2, 1, 1)]
    for d in data:
        d.parent_index = torch.arange(d.num_nodes)  # node-level, incremented by batching: cannot be kept
    lay = gb.layout(Batch.from_data_list(data), "test")
    assert lay.bad_keys == ("parent_index",)
    with pytest.raises(ValueError, match=r"Owner cannot keep the attributes \['parent_index'\]"):
        gb.check_structural(lay, "Owner")


def test_layout_rejects_what_is_not_a_batch():
    with pytest.raises(TypeError, match="expects a torch_geometric Batch"):
        gb.layout(graph(3, 2, 0), "Owner")


def test_networkx_round_trip_keeps_labels_and_attributes():
    g = nx.Graph()
    g.add_node("a", x=[1.0, 2.0], colour="red")
    g.add_node("b", x=[3.0, 4.0], colour="blue")
    g.add_node("c", x=[5.0, 6.0], colour="red")
    g.add_edge("a", "b", w=0.5)
    g.add_edge("c", "c", w=2.0)
    data = gb.from_networkx_graph(g)
    assert data.edge_index.tolist() == [[0, 1, 2], [1, 0, 2]]  # both directions, a self-loop once
    assert data[gb.NX_NODE_KEY].tolist() == [0, 1, 2]
    assert torch.equal(data.x, torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    back = gb.to_networkx_graph(data, g)
    assert sorted(back.nodes(data=True)) == sorted(g.nodes(data=True))
    assert sorted(back.edges(data=True)) == sorted(g.edges(data=True))
    batch = Batch.from_data_list([data])
    lay = gb.layout(batch, "test")
    sub = gb.node_subgraph(batch, lay, torch.tensor([True, False, True])).get_example(0)
    kept = gb.to_networkx_graph(sub, g)
    assert list(kept.nodes) == ["a", "c"]
    assert kept.nodes["c"] == {"x": [5.0, 6.0], "colour": "red"}
    assert list(kept.edges(data=True)) == [("c", "c", {"w": 2.0})]


def test_segment_helpers_match_repeat_interleave():
    counts = torch.tensor([2, 0, 3, 1])
    ptr = gb.cumsum0(counts)
    assert ptr.tolist() == [0, 2, 2, 5, 6]
    assert gb.group_ids(ptr, 6).tolist() == [0, 0, 2, 2, 2, 3]
    assert gb.repeat_counts(torch.tensor([7, 8, 9, 5]), counts).tolist() == [7, 7, 9, 9, 9, 5]
    assert gb.ranges(torch.tensor([10, 0, 4, 1]), counts).tolist() == [10, 11, 4, 5, 6, 1]
    values = torch.tensor([5, 6, 7])
    assert gb.gather2(values, torch.tensor([[2, 0], [1, 1]])).tolist() == [[7, 5], [6, 6]]
