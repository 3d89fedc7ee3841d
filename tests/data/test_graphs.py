"""Tests of the offline graph data: TU sets from grakel's files, networkx graphs, the safe graph file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.datasets import TUDataset
from torch_geometric.utils import is_undirected

from pairs.data import graphs as G
from pairs.data import load_data


@pytest.fixture(scope="module")
def mutag_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tu")


def _read_tu_counts(raw: Path, name: str) -> tuple[Counter, Counter, list[int]]:
    """Slow reference: nodes and edges per graph, and labels, straight from the TU text files."""
    indicator = [int(line) for line in (raw / f"{name}_graph_indicator.txt").read_text().split()]
    nodes = Counter(indicator)
    edges: Counter = Counter()
    for line in (raw / f"{name}_A.txt").read_text().splitlines():
        if line.strip():
            src = int(line.split(",")[0])
            edges[indicator[src - 1]] += 1
    labels = [int(v) for v in (raw / f"{name}_graph_labels.txt").read_text().split()]
    return nodes, edges, labels


def test_mutag_loads_offline_and_matches_the_raw_files(mutag_root, monkeypatch):
    def no_download(self):
        raise AssertionError("TUDataset tried to download")

    monkeypatch.setattr(TUDataset, "download", no_download)
    dataset = G.load_tu("mutag", root=mutag_root)
    assert len(dataset) == 188 and dataset.num_features == 7 and dataset.num_classes == 2
    raw = mutag_root / "MUTAG" / "raw"
    nodes, edges, labels = _read_tu_counts(raw, "MUTAG")
    assert [dataset[i].num_nodes for i in range(188)] == [nodes[g + 1] for g in range(188)]
    assert [dataset[i].edge_index.shape[1] for i in range(188)] == [edges[g + 1] for g in range(188)]
    assert Counter(int(dataset[i].y) for i in range(188)) == Counter(1 if v == 1 else 0 for v in labels)
    assert Counter(int(dataset[i].y) for i in range(188)) == {1: 125, 0: 63}
    assert all(is_undirected(dataset[i].edge_index) for i in range(0, 188, 17))
    again = G.load_tu("MUTAG", root=mutag_root)  # reuses the processed files
    assert torch.equal(again[5].edge_index, dataset[5].edge_index)


def test_unknown_tu_name_lists_what_is_available(tmp_path):
    with pytest.raises(ValueError, match="available: .*MUTAG"):
        G.load_tu("PROTEINS", root=tmp_path)
    assert {"MUTAG", "Cuneiform"} <= set(G.available_tu())


def test_tu_spec_gives_a_stratified_split(mutag_root, monkeypatch):
    monkeypatch.setattr(G, "default_root", lambda: mutag_root)
    bundle = load_data("tu:MUTAG")
    assert bundle.domain == "graph" and bundle.info["level"] == "graph"
    assert len(bundle.train) + len(bundle.test) == 188 and len(bundle.test) == 38
    assert bundle.n_classes == 2
    assert all(int(d.y) == int(y) for d, y in zip(bundle.train, bundle.train_labels, strict=True))
    assert abs(float(bundle.train_labels.float().mean()) - float(bundle.test_labels.float().mean())) < 0.05


def test_karate_has_networkx_club_labels():
    data = G.load_karate()
    karate = nx.karate_club_graph()
    assert data.num_nodes == 34 and data.edge_index.shape[1] == 2 * 78 and is_undirected(data.edge_index)
    assert data.x.shape == (34, 34)
    assert data.y.tolist() == [0 if karate.nodes[v]["club"] == "Mr. Hi" else 1 for v in range(34)]
    assert Counter(data.y.tolist()) == {0: 17, 1: 17}
    s, d = data.edge_index[:, 0].tolist()
    assert data.edge_weight[0] == karate.edges[s, d]["weight"]


@pytest.mark.parametrize("name", list(G.NETWORKX_GRAPHS))
def test_networkx_graphs_match_networkx(name):
    graph = getattr(nx, G.NETWORKX_GRAPHS[name])()
    data = G.load_networkx_graph(name, features="degree")
    assert data.num_nodes == graph.number_of_nodes()
    assert data.edge_index.shape[1] == 2 * graph.number_of_edges()
    degrees = torch.tensor([graph.degree(v) for v in graph.nodes])
    assert torch.equal(data.x.argmax(1), degrees)
    nodes = list(graph.nodes)
    pairs = {(nodes[s], nodes[d]) for s, d in data.edge_index.t().tolist()}
    assert all(graph.has_edge(u, v) for u, v in pairs)
    bundle = load_data(name)
    assert bundle.info["level"] == "node" and bundle.train[0].num_nodes == data.num_nodes


def test_networkx_errors():
    with pytest.raises(ValueError, match="known: karate"):
        G.load_networkx_graph("cora")
    with pytest.raises(ValueError, match="features"):
        G.load_networkx_graph("karate", features="random")


def _toy_graphs() -> list[Data]:
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(12):
        n = 3 + i % 4
        ei = torch.randint(0, n, (2, 2 * n), generator=gen)
        graphs.append(
            Data(x=torch.randn(n, 5, generator=gen), edge_index=ei, y=torch.tensor([i % 2]), name=f"g{i}")
        )
    graphs.append(Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=4, y=torch.tensor([1])))
    return graphs


def test_graph_file_round_trip_is_plain_tensors(tmp_path):
    graphs = _toy_graphs()
    path = tmp_path / "graphs.pt"
    G.save_graph_file(graphs, path)
    raw = torch.load(path, weights_only=True)  # no pickled objects inside
    assert raw["format"] == G.GRAPH_FILE_FORMAT and len(raw["graphs"]) == 13
    loaded = G.load_graph_file(path)
    assert len(loaded) == 13
    for a, b in zip(graphs, loaded, strict=True):
        assert (
            a.num_nodes == b.num_nodes and torch.equal(a.edge_index, b.edge_index) and torch.equal(a.y, b.y)
        )
        if "x" in a:
            assert torch.equal(a.x, b.x) and a.name == b.name
    bundle = load_data(f"graphs:{path}")
    assert len(bundle.train) + len(bundle.test) == 13 and bundle.n_classes == 2


def test_graph_file_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        G.load_graph_file(tmp_path / "missing.pt")
    pickled = tmp_path / "pickled.pt"
    torch.save(_toy_graphs(), pickled)  # a pickled list of Data: refused, never unpickled
    with pytest.raises(ValueError, match="save_graph_file"):
        G.load_graph_file(pickled)
    text = tmp_path / "text.pt"
    text.write_text("not a torch file")
    with pytest.raises(ValueError, match="cannot read"):
        G.load_graph_file(text)
    bad = tmp_path / "bad.pt"
    torch.save([{"x": torch.ones(3, 2), "edge_index": torch.tensor([[0], [5]])}], bad)
    with pytest.raises(ValueError, match="outside"):
        G.load_graph_file(bad)
    torch.save([{"edge_index": torch.tensor([[0], [1]])}], bad)
    with pytest.raises(ValueError, match="num_nodes"):
        G.load_graph_file(bad)
    torch.save(torch.ones(3), bad)
    with pytest.raises(ValueError, match="list of graphs"):
        G.load_graph_file(bad)
    with pytest.raises(TypeError, match="Data"):
        G.save_graph_file([{"x": torch.ones(2)}], bad)
    with pytest.raises(TypeError, match="only tensors"):
        G.save_graph_file([Data(x=torch.ones(2, 1), meta={"a": 1})], bad)
