"""InfoGraph: the local-global JSD loss against InfoGraph's masked formula; the method on real MUTAG."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import encoders
from pairs.data import load_data
from pairs.domains.graph import all_graphs, graph_recipe, identity_view
from pairs.errors import ConfigError
from pairs.methods import build_method
from pairs.methods.infograph import InfoGraph, local_global_jsd_loss
from pairs.pairing import ViewLoader


@pytest.fixture(scope="module")
def mutag():
    return load_data("tu:MUTAG")


def reference_loss(l_enc: torch.Tensor, g_enc: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """InfoGraph's ``local_global_loss_`` (``measure="JSD"``), written as in its ``losses.py``."""
    num_graphs, num_nodes = g_enc.shape[0], l_enc.shape[0]
    pos_mask = torch.zeros((num_nodes, num_graphs), dtype=l_enc.dtype)
    neg_mask = torch.ones((num_nodes, num_graphs), dtype=l_enc.dtype)
    for nodeidx, graphidx in enumerate(batch.tolist()):
        pos_mask[nodeidx][graphidx] = 1.0
        neg_mask[nodeidx][graphidx] = 0.0
    res = torch.mm(l_enc, g_enc.t())
    log_2 = math.log(2.0)
    p, q = res * pos_mask, res * neg_mask
    e_pos = (log_2 - F.softplus(-p)).sum() / num_nodes
    e_neg = (F.softplus(-q) + q - log_2).sum() / (num_nodes * (num_graphs - 1))
    return e_neg - e_pos


def test_loss_matches_infographs_formula_values_and_gradients():
    g = torch.Generator().manual_seed(0)
    nodes = torch.randn(13, 6, generator=g, dtype=torch.float64, requires_grad=True)
    graphs = torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    ours = local_global_jsd_loss(nodes, graphs, batch)
    ref = reference_loss(nodes, graphs, batch)
    assert ours.dtype == torch.float64
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    for a, b in zip(torch.autograd.grad(ours, (nodes, graphs)), torch.autograd.grad(ref, (nodes, graphs))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_loss_rewards_nodes_that_match_their_own_graph():
    """Nodes aligned with their own graph's embedding score better (lower loss) than shuffled ones."""
    graphs = torch.eye(3) * 4
    batch = torch.tensor([0, 0, 1, 1, 2, 2])
    aligned = local_global_jsd_loss(graphs[batch], graphs, batch)
    shuffled = local_global_jsd_loss(graphs[batch.roll(2)], graphs, batch)
    assert aligned < shuffled - 1.0


def test_loss_refuses_one_graph_and_bad_shapes():
    with pytest.raises(ConfigError, match="at least 2 graphs"):
        local_global_jsd_loss(torch.randn(3, 4), torch.randn(1, 4), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"\(N, D\) and \(G, D\)"):
        local_global_jsd_loss(torch.randn(3, 4), torch.randn(2, 5), torch.zeros(3, dtype=torch.long))


def test_method_trains_on_mutag_and_lowers_its_loss(mutag):
    recipe = graph_recipe(mutag)
    graphs, _ = all_graphs(mutag)
    torch.manual_seed(0)
    method = build_method("infograph", encoders.get("gin", **recipe.encoder_kwargs(mutag)))
    assert isinstance(method, InfoGraph)
    assert method.n_views == 1
    loader = ViewLoader(graphs, [identity_view()], n_views=1, batch_size=64, seed=0, collate=recipe.collate)
    opt = torch.optim.Adam(method.parameters(), lr=1e-3)
    first = last = None
    for epoch in range(4):
        loader.set_epoch(epoch)
        for batch in loader:
            out = method(batch)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            first = out["loss"].item() if first is None else first
            last = out["loss"].item()
    assert out["embeddings"].shape == (64, method.feature_dim)
    assert last < first - 0.1  # the JSD bound tightens: the encoder learns to tell nodes' graphs apart


def test_method_needs_node_and_graph_embeddings():
    class Flat(nn.Module):
        out_dim = 4

        def forward(self, x):
            return x

    with pytest.raises(ConfigError, match="graph_and_node_embeddings"):
        InfoGraph(Flat())


def test_train_picks_the_unchanged_graph_as_its_view(tmp_path):
    from pairs.experiment import train

    report = train(
        "tu:MUTAG",
        method="infograph",
        epochs=1,
        out=str(tmp_path / "run"),
        progress=False,
        evaluate_untrained=False,
        log=lambda *_: None,
    )
    assert report["views"] == "identity"
    assert report["steps"] == 1
    assert math.isfinite(report["final_loss"])
