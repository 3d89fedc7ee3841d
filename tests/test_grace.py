"""GRACE: the loss against GRACE's ``model.py``, the method and views on karate, node evaluation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import encoders
from pairs.data import load_data
from pairs.data.registry import DataBundle
from pairs.domains.graph import evaluate_nodes, grace_views, graph_recipe
from pairs.methods import build_method
from pairs.methods.grace import GRACE, grace_loss
from pairs.pairing import ViewBatch, ViewLoader, make_views
from pairs.train import TrainConfig, Trainer
from pairs.views.graph import DropNodes

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def karate():
    return load_data("karate")


def grace_reference(h1: torch.Tensor, h2: torch.Tensor, tau: float) -> torch.Tensor:
    """GRACE's ``Model.semi_loss`` and ``Model.loss`` (mean=True, batch_size=0), as written there."""

    def sim(a, b):
        return torch.mm(F.normalize(a), F.normalize(b).t())

    def semi_loss(z1, z2):
        f = lambda x: torch.exp(x / tau)  # noqa: E731
        refl_sim = f(sim(z1, z1))
        between_sim = f(sim(z1, z2))
        return -torch.log(between_sim.diag() / (refl_sim.sum(1) + between_sim.sum(1) - refl_sim.diag()))

    l1 = semi_loss(h1, h2)
    l2 = semi_loss(h2, h1)
    return ((l1 + l2) * 0.5).mean()


@pytest.mark.parametrize("tau", [0.4, 0.7])
def test_loss_matches_grace_model_values_and_gradients(tau):
    g = torch.Generator().manual_seed(0)
    h1 = torch.randn(11, 6, generator=g, dtype=torch.float64, requires_grad=True)
    h2 = torch.randn(11, 6, generator=g, dtype=torch.float64, requires_grad=True)
    ours, ref = grace_loss(h1, h2, tau), grace_reference(h1, h2, tau)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)
    for a, b in zip(torch.autograd.grad(ours, (h1, h2)), torch.autograd.grad(ref, (h1, h2)), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_loss_refuses_views_with_other_nodes():
    with pytest.raises(ValueError, match="same nodes"):
        grace_loss(torch.randn(5, 3), torch.randn(4, 3))


def _views(karate, seed=0):
    recipe = graph_recipe(karate)
    raw = recipe.collate(karate.train)
    return recipe, raw, make_views(grace_views(), raw, 2, torch.Generator().manual_seed(seed))


def test_grace_views_keep_nodes_drop_edges_and_mask_columns(karate):
    _, raw, (v1, v2) = _views(karate)
    assert v1.num_nodes == v2.num_nodes == 34
    e = raw.edge_index.shape[1]  # 156 directed entries
    assert v1.edge_index.shape[1] == e - int(0.2 * e)
    assert v2.edge_index.shape[1] == e - int(0.4 * e)
    for v, rate in ((v1, 0.3), (v2, 0.4)):
        zero_cols = (v.x == 0).all(dim=0) & ~(raw.x == 0).all(dim=0)
        assert int(zero_cols.sum()) == int(rate * 34)
        kept = ~zero_cols
        assert torch.equal(v.x[:, kept], raw.x[:, kept])
        # kept edges are edges of the graph
        original = set(map(tuple, raw.edge_index.t().tolist()))
        assert set(map(tuple, v.edge_index.t().tolist())) <= original


def test_method_on_karate(karate):
    recipe, _, views = _views(karate)
    torch.manual_seed(0)
    enc = encoders.get("gcn", **recipe.encoder_kwargs(karate))
    method = build_method("grace", enc, **recipe.method_kwargs)
    assert isinstance(method, GRACE)
    assert method.temperature == 0.4
    out = method(ViewBatch(views, None, torch.arange(1)))
    assert out["embeddings"].shape == (68, 128)
    z1, z2 = enc(views[0]), enc(views[1])
    expected = grace_reference(method.project(z1), method.project(z2), 0.4)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in method.parameters())


def test_node_dropping_views_are_refused(karate):
    recipe, raw, _ = _views(karate)
    views = [raw, DropNodes(0.2)(raw, 0)]
    method = GRACE(encoders.get("gcn", in_dim=34, hidden_dim=8, out_dim=4))
    with pytest.raises(ValueError, match="keep every node"):
        method(ViewBatch(views, None, torch.arange(1)))


def test_gin_node_embeddings_work_with_grace(karate):
    _, _, views = _views(karate)
    enc = encoders.get("gin", in_dim=34, hidden_dim=8, n_layers=2)
    out = GRACE(enc, temperature=0.5)(ViewBatch(views, None, torch.arange(1)))
    assert out["embeddings"].shape == (68, 16)
    assert torch.isfinite(out["loss"])


def test_one_graph_per_step_training_is_seeded_and_lowers_the_loss(karate):
    recipe = graph_recipe(karate)

    def run(seed):
        torch.manual_seed(seed)
        method = GRACE(encoders.get("gcn", **recipe.encoder_kwargs(karate)), **recipe.method_kwargs)
        config = TrainConfig(
            epochs=25,
            lr=5e-3,
            optimizer="adam",
            weight_decay=1e-5,
            warmup_epochs=0,
            seed=seed,
            device="cpu",
            progress=False,
        )
        loader = ViewLoader(karate.train, grace_views(), batch_size=1, seed=seed, collate=recipe.collate)
        assert len(loader) == 1
        return Trainer(method, config).fit(loader)

    a, b = run(3), run(3)
    assert a.epoch_losses == b.epoch_losses
    assert a.global_step == 25
    assert sum(a.epoch_losses[-5:]) < sum(a.epoch_losses[:5])


def test_recipe_for_node_level_data(karate):
    recipe = graph_recipe(karate)
    assert (recipe.method, recipe.encoder, recipe.default_view, recipe.batch_size) == (
        "grace",
        "gcn",
        "grace",
        1,
    )
    assert recipe.encoder_kwargs(karate)["in_dim"] == 34


def test_evaluate_nodes_is_a_seeded_linear_probe(karate):
    from sklearn.model_selection import train_test_split

    from pairs.eval import knn_accuracy, linear_probe

    torch.manual_seed(0)
    enc = encoders.get("gcn", in_dim=34, hidden_dim=16, out_dim=8)
    a = evaluate_nodes(enc, karate, n_splits=3)
    b = evaluate_nodes(enc, karate, n_splits=3)
    assert a == b
    y = karate.train[0].y
    with torch.no_grad():
        z = enc.eval()(karate.train[0])
    accs = []
    for s in range(3):  # node_acc: the mean of the probes of 3 stratified 50/50 splits
        tr, te = train_test_split(
            torch.arange(34).numpy(), train_size=0.5, stratify=y.numpy(), random_state=s
        )
        accs.append(linear_probe(z[tr], y[tr], z[te], y[te])["acc"])
    assert a["linear_probe_acc"] == pytest.approx(accs[0])
    assert a["node_acc"] == pytest.approx(sum(accs) / 3)
    tr, te = train_test_split(torch.arange(34).numpy(), train_size=0.5, stratify=y.numpy(), random_state=0)
    assert a["knn_acc"] == pytest.approx(knn_accuracy(z[tr], y[tr], z[te], y[te], k=5))


def test_evaluate_nodes_without_labels_is_empty():
    bundle = load_data("les_miserables")
    enc = encoders.get("gcn", in_dim=77, hidden_dim=8, out_dim=4)
    assert evaluate_nodes(enc, bundle) == {}
    one = DataBundle("x", "graph", [load_data("karate").train[0]] * 2, info={"level": "node"})
    with pytest.raises(ValueError, match="exactly one graph"):
        graph_recipe(one)
