"""GraphCL: the loss against GraphCL's own formula, the method on real MUTAG batches, the graph recipe."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import encoders
from pairs.data import load_data
from pairs.domains.graph import (
    GraphCollate,
    all_graphs,
    evaluate_graphs,
    graph_recipe,
    graphcl_pair,
)
from pairs.losses import nt_xent
from pairs.methods import build_method
from pairs.methods.graphcl import GraphCL, graphcl_loss
from pairs.pairing import ViewBatch, ViewLoader, make_views
from pairs.train import TrainConfig, Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mutag():
    return load_data("tu:MUTAG")


def reference_loss(x: torch.Tensor, x_aug: torch.Tensor, t: float) -> torch.Tensor:
    """GraphCL's ``loss_cal`` (unsupervised_TU/gsimclr.py), written as there, element by element."""
    b = x.shape[0]
    total = x.new_zeros(())
    for i in range(b):
        sims = [torch.dot(x[i], x_aug[j]) / (x[i].norm() * x_aug[j].norm()) for j in range(b)]
        e = [torch.exp(s / t) for s in sims]
        pos = e[i]
        total = total - torch.log(pos / (sum(e) - pos))
    return total / b


@pytest.mark.parametrize("t", [0.2, 0.5, 1.0])
def test_loss_matches_graphcl_formula_values_and_gradients(t):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ours = graphcl_loss(a, b, t)
    ref = reference_loss(a, b, t)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)
    ga = torch.autograd.grad(ours, (a, b))
    gr = torch.autograd.grad(ref, (a, b))
    for x, y in zip(ga, gr, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)


def test_loss_is_finite_where_the_exp_form_overflows():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    naive = reference_loss(a, b, 0.005)
    assert not torch.isfinite(naive)  # exp(1/0.005) overflows float32
    assert torch.isfinite(graphcl_loss(a, b, 0.005))
    assert graphcl_loss(a, b, 0.005).item() == pytest.approx(
        reference_loss(a.double(), b.double(), 0.005).item(), rel=1e-4
    )


def test_loss_is_one_directional_and_excludes_intra_view_negatives():
    """Only view-2 rows are candidates: moving view-1 rows against each other leaves the loss as is
    when their similarities to view 2 are unchanged; swapping the views changes it in general."""
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    assert graphcl_loss(a, b).item() != pytest.approx(graphcl_loss(b, a).item())
    # it is NT-Xent's "decoupled" form restricted to one direction and inter-view columns
    logits = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).t() / 0.2
    expected = torch.stack(
        [torch.logsumexp(torch.cat([logits[i, :i], logits[i, i + 1 :]]), 0) - logits[i, i] for i in range(5)]
    ).mean()
    assert graphcl_loss(a, b).item() == pytest.approx(expected.item(), rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    g=st.integers(2, 9),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.01, 100.0),
)
def test_loss_invariant_to_scale_and_joint_permutation(g, d, seed, scale):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(g, d, generator=gen, dtype=torch.float64) + 0.1
    b = torch.randn(g, d, generator=gen, dtype=torch.float64) + 0.1
    perm = torch.randperm(g, generator=gen)
    base = graphcl_loss(a, b)
    bound = 2 / 0.2  # cosine similarities lie in [-1, 1]: |loss - log(G - 1)| <= 2 / t
    assert abs(base.item() - torch.log(torch.tensor(g - 1.0, dtype=torch.float64)).item()) <= bound + 1e-9
    assert graphcl_loss(a * scale, b / scale).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-9)
    assert graphcl_loss(a[perm], b[perm]).item() == pytest.approx(base.item(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    "a, b, err, match",
    [
        (torch.randn(4, 3), torch.randn(5, 3), ValueError, "same graphs"),
        (torch.randn(1, 3), torch.randn(1, 3), ValueError, "at least 2 graphs"),
        (torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), TypeError, "floating"),
        (torch.randn(4), torch.randn(4), ValueError, r"\(G, D\)"),
        (torch.full((3, 2), float("nan")), torch.randn(3, 2), ValueError, "NaN"),
    ],
)
def test_loss_rejects_bad_input(a, b, err, match):
    with pytest.raises(err, match=match):
        graphcl_loss(a, b)


def test_loss_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        graphcl_loss(torch.randn(3, 2), torch.randn(3, 2), 0.0)


def _batch(mutag, n=32, seed=0):
    recipe = graph_recipe(mutag)
    raw = recipe.collate(mutag.train[:n])
    views = make_views(graphcl_pair("random4"), raw, 2, torch.Generator().manual_seed(seed))
    return recipe, ViewBatch(views, None, torch.arange(n))


def test_method_on_real_mutag_batch(mutag):
    recipe, batch = _batch(mutag)
    torch.manual_seed(0)
    enc = encoders.get("gin", **recipe.encoder_kwargs(mutag))
    method = build_method("graphcl", enc, temperature=0.2)
    assert isinstance(method, GraphCL)
    assert enc.out_dim == 96
    # GraphCL's init_emb: Xavier weights, zero biases in every Linear (encoder and head)
    linears = [m for m in method.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 * 3 + 2
    assert all(bool((m.bias == 0).all()) for m in linears)
    out = method(batch)
    assert out["embeddings"].shape == (64, 96)
    assert torch.isfinite(out["loss"])
    # the loss is the formula on the projected graph embeddings of both views
    z1 = method.projection(enc(batch.views[0]))
    z2 = method.projection(enc(batch.views[1]))
    assert out["loss"].item() == pytest.approx(reference_loss(z1, z2, 0.2).item(), rel=1e-4)
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())
    # the first view is the original batch, untouched
    assert batch.views[0].num_nodes == sum(d.num_nodes for d in mutag.train[:32])


def test_nt_xent_option_uses_the_shared_loss(mutag):
    recipe, batch = _batch(mutag, n=16)
    torch.manual_seed(0)
    enc = encoders.get("gin", **recipe.encoder_kwargs(mutag))
    method = GraphCL(enc, loss="nt_xent", temperature=0.5)
    out = method(batch)
    z1, z2 = (method.projection(enc(v)) for v in batch.views)
    assert out["loss"].item() == pytest.approx(nt_xent(z1, z2, temperature=0.5).item(), rel=1e-5)
    with pytest.raises(ValueError, match="loss must be one of"):
        GraphCL(enc, loss="triplet")


def test_node_encoder_is_refused_with_the_fix(mutag):
    recipe, batch = _batch(mutag, n=8)
    enc = encoders.get("gcn", in_dim=7, hidden_dim=16, out_dim=8)
    with pytest.raises(ValueError, match="graph-level encoder such as 'gin'"):
        GraphCL(enc)(batch)


def test_training_is_seeded_and_lowers_the_loss(mutag):
    recipe = graph_recipe(mutag)

    def run(seed):
        torch.manual_seed(seed)
        method = GraphCL(encoders.get("gin", **recipe.encoder_kwargs(mutag)))
        config = TrainConfig(
            epochs=6,
            lr=0.01,
            optimizer="adam",
            weight_decay=0.0,
            warmup_epochs=0,
            seed=seed,
            device="cpu",
            progress=False,
            min_lr_ratio=1.0,
        )
        loader = ViewLoader(
            mutag.train, graphcl_pair("dnodes"), batch_size=64, seed=seed, collate=recipe.collate
        )
        return Trainer(method, config).fit(loader)

    a, b = run(0), run(0)
    assert a.epoch_losses == b.epoch_losses
    assert a.global_step == 6 * (150 // 64)
    assert a.epoch_losses[-1] < a.epoch_losses[0]


def test_recipe_defaults_are_graphcls(mutag):
    recipe = graph_recipe(mutag)
    assert (recipe.method, recipe.encoder, recipe.default_view) == ("graphcl", "gin", "graphcl")
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer) == (20, 128, 0.01, "adam")
    assert recipe.method_kwargs == {"temperature": 0.2}
    assert recipe.encoder_kwargs(mutag) == {"in_dim": 7, "hidden_dim": 32, "n_layers": 3, "pooling": "sum"}
    for name in ("graphcl", "graphcl_both", "dnodes", "pedges", "subgraph", "mask_nodes", "random2"):
        views = recipe.make_view(name, mutag)
        assert isinstance(views, list)
        assert len(views) == 2


def test_evaluate_graphs_uses_all_graphs_and_the_svm_protocol(mutag, monkeypatch):
    import pairs.eval

    seen = {}

    def fake_svm(x, y, **kwargs):
        seen.update(x=x, y=y, **kwargs)
        return {"mean": 0.75, "std": 0.05}

    monkeypatch.setattr(pairs.eval, "svm_cv_accuracy", fake_svm)
    torch.manual_seed(0)
    enc = encoders.get("gin", in_dim=7)
    figures = evaluate_graphs(enc, mutag)
    graphs, labels = all_graphs(mutag)
    assert len(graphs) == 188
    assert torch.equal(seen["y"], labels)  # train + test: the whole set
    assert seen["folds"] == 10
    assert figures["svm_folds"] == 10
    expected = torch.cat([enc.eval()(GraphCollate()(graphs[i : i + 50])).detach() for i in range(0, 188, 50)])
    torch.testing.assert_close(seen["x"], expected, rtol=1e-5, atol=1e-5)
    assert (figures["svm_acc"], figures["svm_acc_std"]) == (0.75, 0.05)
    from pairs.domains.evaluation import probe_and_knn

    split = probe_and_knn(enc, mutag, "cpu", graph_recipe(mutag).collate)  # the held-out split's figures
    assert figures["linear_probe_acc"] == split["linear_probe_acc"]
    assert figures["knn_acc"] == split["knn_acc"]


def test_featureless_graphs_get_degree_features():
    from torch_geometric.data import Data

    from pairs.data.registry import DataBundle

    ring = Data(edge_index=torch.tensor([[0, 1, 2, 1, 2, 0], [1, 2, 0, 0, 1, 2]]), num_nodes=3)
    star = Data(edge_index=torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]), num_nodes=4)
    bundle = DataBundle("x", "graph", [ring, star] * 3, torch.tensor([0, 1] * 3), info={"level": "graph"})
    recipe = graph_recipe(bundle)
    assert recipe.encoder_kwargs(bundle)["in_dim"] == 4  # degrees 0..3, dataset-wide width
    batch = recipe.collate([ring, star])
    assert batch.x.shape == (7, 4)
    assert batch.x[3].argmax().item() == 3


def test_graphs_with_and_without_features_are_refused():
    from torch_geometric.data import Data

    from pairs.data.registry import DataBundle

    ei = torch.tensor([[0, 1], [1, 0]])
    graphs = [Data(x=torch.ones(2, 3), edge_index=ei), Data(edge_index=ei, num_nodes=2)]
    with pytest.raises(ValueError, match="1 of 2 graphs have node features"):
        graph_recipe(DataBundle("x", "graph", graphs, info={"level": "graph"}))
