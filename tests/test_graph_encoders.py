"""Tests of the graph encoders (GIN, GCN) and ensure_features."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GCNConv

import encoders
from encoders.graph import GCN, GIN, ensure_features


def ring(n: int, f: int = 4, seed: int = 0) -> Data:
    src = torch.arange(n)
    dst = (src + 1) % n
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    x = torch.randn(n, f, generator=torch.Generator().manual_seed(seed))
    return Data(x=x, edge_index=ei)


def two_copies(data: Data) -> Data:
    n = data.num_nodes
    return Data(
        x=torch.cat([data.x, data.x]), edge_index=torch.cat([data.edge_index, data.edge_index + n], 1)
    )


def test_gin_shapes_and_out_dim():
    batch = Batch.from_data_list([ring(5), ring(7, seed=1), ring(3, seed=2)])
    net = GIN(4, hidden_dim=16, n_layers=3)
    assert net.out_dim == 48
    assert net(batch).shape == (3, 48)
    assert net.node_embeddings(batch).shape == (15, 48)
    assert net(batch.x, batch.edge_index, batch.batch).shape == (3, 48)
    last = GIN(4, hidden_dim=16, n_layers=2, out="last")
    assert last.out_dim == 16
    assert last(batch).shape == (3, 16)
    net.eval()
    assert net(ring(5)).shape == (1, 48)
    assert torch.allclose(net(batch)[0], net(ring(5))[0], atol=1e-5)  # batching does not mix graphs


def test_gin_concat_is_the_pooled_layers():
    torch.manual_seed(0)
    batch = Batch.from_data_list([ring(5), ring(6, seed=1)])
    net = GIN(4, hidden_dim=8, n_layers=2).eval()
    nodes = net.node_embeddings(batch)
    expected = torch.stack([nodes[:5].sum(0), nodes[5:].sum(0)])
    assert torch.allclose(net(batch), expected, atol=1e-5)


def test_sum_vs_mean_pooling():
    torch.manual_seed(0)
    g = ring(6)
    batch = Batch.from_data_list([g, two_copies(g)])  # graph 2 = graph 1 twice, disjoint
    sum_net = GIN(4, hidden_dim=8, pooling="sum").eval()
    mean_net = GIN(4, hidden_dim=8, pooling="mean").eval()
    mean_net.load_state_dict(sum_net.state_dict())
    s, m = sum_net(batch), mean_net(batch)
    assert torch.allclose(s[1], 2 * s[0], atol=1e-5)
    assert torch.allclose(m[1], m[0], atol=1e-5)
    assert torch.allclose(s[0], 6 * m[0], atol=1e-5)


def test_gin_is_invariant_to_node_order():
    torch.manual_seed(0)
    g = ring(7)
    perm = torch.randperm(7)
    inverse = torch.argsort(perm)
    permuted = Data(x=g.x[perm], edge_index=inverse[g.edge_index])
    net = GIN(4).eval()
    assert torch.allclose(net(g), net(permuted), atol=1e-5)


def test_gin_gradients_reach_every_parameter():
    batch = Batch.from_data_list([ring(5), ring(8, seed=3)])
    net = GIN(4, hidden_dim=8)
    net(batch).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_gin_empty_graph_and_errors():
    batch = Batch.from_data_list(
        [ring(4), Data(x=torch.zeros(0, 4), edge_index=torch.zeros(2, 0, dtype=torch.long))]
    )
    out = GIN(4).eval()(batch)
    assert out.shape == (2, 96)
    assert torch.equal(out[1], torch.zeros(96))
    with pytest.raises(ValueError, match="ensure_features"):
        GIN(4)(Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=3))
    with pytest.raises(ValueError, match="size 4"):
        GIN(4)(ring(5, f=3))
    with pytest.raises(ValueError, match="at least 2 nodes"):
        GIN(4)(Data(x=torch.ones(1, 4), edge_index=torch.zeros(2, 0, dtype=torch.long)))
    with pytest.raises(ValueError, match="pooling"):
        GIN(4, pooling="max")
    with pytest.raises(ValueError, match="in_dim"):
        GIN(0)


def test_gcn_shapes_layers_and_gradients():
    batch = Batch.from_data_list([ring(5), ring(9, seed=1)])
    net = GCN(4, hidden_dim=16, out_dim=8, n_layers=3)
    out = net(batch)
    assert net.out_dim == 8
    assert out.shape == (14, 8)
    assert [c.in_channels for c in net.convs] == [4, 16, 16]
    assert [c.out_channels for c in net.convs] == [
        16,
        16,
        8,
    ]
    out.pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert GCN(4, out_dim=8, n_layers=1)(ring(5).x, ring(5).edge_index).shape == (5, 8)


def test_gcn_matches_a_plain_gcnconv_stack():
    torch.manual_seed(0)
    g = ring(6)
    net = GCN(4, hidden_dim=5, out_dim=3, n_layers=2, activation="relu")
    c1, c2 = GCNConv(4, 5), GCNConv(5, 3)
    c1.load_state_dict(net.convs[0].state_dict())
    c2.load_state_dict(net.convs[1].state_dict())
    expected = torch.relu(c2(torch.relu(c1(g.x, g.edge_index)), g.edge_index))
    assert torch.allclose(net(g), expected, atol=1e-6)
    with pytest.raises(ValueError, match="activation"):
        GCN(4, activation="tanh")


def test_ensure_features():
    g = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=4)
    deg = ensure_features(g)
    assert torch.equal(deg.x, torch.tensor([[0, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=torch.float32))
    assert "x" not in g  # the input is not modified
    assert torch.equal(ensure_features(g, max_degree=1).x[:, -1], torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert torch.equal(ensure_features(g, "constant").x, torch.ones(4, 1))
    with_x = ring(3)
    assert ensure_features(with_x) is with_x
    batch = Batch.from_data_list([g, g])
    graphs = ensure_features(batch, max_degree=2).to_data_list()
    assert torch.equal(graphs[1].x, deg.x)
    with pytest.raises(ValueError, match="kind"):
        ensure_features(g, "random")


def test_registry_builds_the_graph_encoders():
    assert {"gin", "gcn"} <= set(encoders.available(domain="graph"))
    net = encoders.get("gin", in_dim=7, hidden_dim=16, n_layers=2)
    assert isinstance(net, GIN)
    assert net.out_dim == 32
    assert isinstance(encoders.get("gcn", in_dim=3, out_dim=4), GCN)
