"""Every method: forward contract, one training step, registry errors, per-method mechanics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pairs.methods import available_methods, build_method, get_method_class
from pairs.methods._momentum import MomentumTarget, copy_as_target, cosine_momentum, ema_update
from pairs.methods.metric import batch_pairs
from pairs.pairing import ViewBatch
from pairs.train import TrainConfig, Trainer
from tests.helpers import FlatEncoder, blobs
from tests.methods._tiny import IMAGE_METHODS, loader, make


def first_batch(method) -> ViewBatch:
    return next(iter(loader(method)))


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_forward_gives_finite_loss_embeddings_and_gradients(name):
    method = make(name)
    out = method(first_batch(method))
    assert out["loss"].dim() == 0
    assert torch.isfinite(out["loss"])
    assert out["embeddings"].dim() == 2
    assert out["embeddings"].shape[0] >= 32
    assert not out["embeddings"].requires_grad
    out["loss"].backward()
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)
    # momentum targets and queues take no gradient
    for p in method.parameters():
        if not p.requires_grad:
            assert p.grad is None


@pytest.mark.parametrize("name", IMAGE_METHODS)
def test_trains_with_the_trainer_and_embeddings_do_not_collapse(name):
    method = make(name)
    cfg = TrainConfig(epochs=2, lr=1e-2, progress=False, warmup_epochs=0)
    result = Trainer(method, cfg).fit(loader(method))
    assert all(math.isfinite(v) for v in result.epoch_losses)
    assert result.global_step == 4
    from pairs.eval import effective_rank

    x, _ = blobs(64)
    method.eval()
    with torch.no_grad():
        features = method.encoder(x)
    assert effective_rank(features) > 2.0  # FlatEncoder has 16 features; collapse would give ~1


def test_every_issue_method_is_registered():
    names = set(available_methods())
    expected = {"mocov2", "mocov3", "byol", "simsiam", "barlow_twins", "vicreg", "swav", "dino", "supcon"}
    assert expected | {"clip", "siamese", "triplet", "simclr"} <= names


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'mocov9'.*byol.*dino"):
        get_method_class("mocov9")


def test_bad_argument_names_the_method():
    with pytest.raises(TypeError, match="method 'byol'"):
        build_method("byol", FlatEncoder(), queue_size=3)


@pytest.mark.parametrize("name", ["supcon", "siamese", "triplet"])
def test_label_methods_say_so_on_unlabeled_batches(name):
    method = make(name)
    assert method.needs_labels
    batch = first_batch(method)
    with pytest.raises(ValueError, match="trains on labels"):
        method(ViewBatch(batch.views, None, batch.index))


def test_label_method_on_unlabeled_data_is_refused_by_pairs_train():
    from pairs.data.registry import DataBundle
    from pairs.domains import recipe_for
    from pairs.experiment import build_model

    x, _ = blobs(32)
    bundle = DataBundle("blobs", "image", x, None, None, None, {})
    with pytest.raises(ValueError, match="'supcon' trains on labels"):
        build_model(bundle, recipe_for(bundle), method="supcon")


def test_too_few_views_is_a_clear_error():
    method = make("byol")
    batch = first_batch(method)
    with pytest.raises(ValueError, match="BYOL needs at least 2 views"):
        method(ViewBatch(batch.views[:1], None, batch.index))


# ---------------------------------------------------------------------------------------------- momentum
def test_cosine_momentum_schedule_endpoints_and_midpoint():
    assert cosine_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.9, 2.0) == pytest.approx(1.0)  # clamped


def test_ema_update_matches_the_formula_and_target_is_frozen():
    torch.manual_seed(0)
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = copy_as_target(online)
    assert all(not p.requires_grad for p in target.parameters())
    before = [p.clone() for p in target.parameters()]
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    ema_update(target, online, 0.9)
    for b, t, o in zip(before, target.parameters(), online.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ema_update(target, online, 1.5)


@pytest.mark.parametrize("name,target", [("byol", "target"), ("mocov2", "key_encoder"), ("dino", "teacher")])
def test_targets_are_registered_frozen_and_follow_the_online_network(name, target):
    method = make(name)
    tgt = getattr(method, target)
    assert any(k.startswith(target + ".") for k in method.state_dict())
    assert all(not p.requires_grad for p in tgt.parameters())
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(0.5)
    before = next(iter(tgt[0].parameters())).clone()
    online = next(iter(method.encoder.parameters()))
    method.on_after_optimizer_step(0.0)  # momentum 0.99 at the start
    torch.testing.assert_close(next(iter(tgt[0].parameters())), 0.99 * before + 0.01 * online)


def test_momentum_target_embeds_without_gradient_and_follows_to_its_final_momentum():
    torch.manual_seed(0)
    encoder, head = nn.Linear(3, 4), nn.Linear(4, 2)
    target = MomentumTarget(encoder, head, momentum=0.9, final_momentum=0.95)
    assert list(nn.ModuleDict({"t": target}).state_dict()) == [
        "t.0.weight",
        "t.0.bias",
        "t.1.weight",
        "t.1.bias",
    ]
    x = torch.randn(5, 3)
    (z,) = target.embed([x])
    torch.testing.assert_close(z, head(encoder(x)).detach())
    assert not z.requires_grad
    online = [*encoder.parameters(), *head.parameters()]
    with torch.no_grad():
        for p in online:
            p.add_(1.0)
    before = [p.clone() for p in target.parameters()]
    assert target.follow(encoder, head, progress=1.0) == pytest.approx(0.95)  # the end of the schedule
    for b, t, o in zip(before, target.parameters(), online, strict=True):
        torch.testing.assert_close(t, 0.95 * b + 0.05 * o)
    with pytest.raises(ValueError, match="final_momentum"):
        MomentumTarget(encoder, head, 0.9, final_momentum=1.5)


def test_projection_heads_default_widths():
    from pairs.methods.base import projection_hidden_dim

    torch.manual_seed(0)
    simclr = build_method("simclr", FlatEncoder(), projection_dim=8)
    assert (simclr.projection.in_dim, simclr.projection.hidden_dim, simclr.projection.out_dim) == (16, 512, 8)
    assert projection_hidden_dim(16) == 512
    vicreg = build_method("vicreg", FlatEncoder(), projection_dim=24)
    assert (vicreg.projection.hidden_dim, vicreg.projection.n_layers) == (24, 3)  # hidden = projection_dim
    clip = build_method(
        "clip", FlatEncoder(), other_encoder=FlatEncoder(out_dim=600), projection_dim=8, n_layers=1
    )
    assert (clip.other_projection.in_dim, clip.other_projection.hidden_dim) == (600, 2048)
    assert clip.other_projection.n_layers == 1


# ---------------------------------------------------------------------------------------------- queues
def test_moco_queue_fills_with_keys_and_is_used_as_negatives():
    method = make("mocov2")
    assert len(method.queue) == 0
    batch = first_batch(method)
    out = method(batch)
    assert len(method.queue) == 40
    assert out["queue_fill"] == 40.0  # 64 keys into a ring of 40
    keys, _ = method.queue.get()
    with torch.no_grad():
        k = [method.key_encoder[1](method.key_encoder[0](v)) for v in batch.views]
    # the newest 40 keys are the symmetric batch of keys [k2; k1] (64 keys, ring of 40)
    expected = torch.cat([k[1], k[0]])[-40:]
    ptr = int(method.queue.ptr)
    order = (torch.arange(40) + ptr) % 40  # oldest -> newest
    torch.testing.assert_close(keys[order], expected, rtol=1e-4, atol=1e-5)
    method.eval()
    method(batch)
    assert int(method.queue.ptr) == ptr  # no enqueue outside training


def test_supcon_queue_stores_labels():
    method = make("supcon_queue")
    batch = first_batch(method)
    method(batch)
    keys, labels = method.queue.get()
    assert len(keys) == 40
    assert labels is not None
    assert set(labels.tolist()) <= set(batch.labels.tolist())


# ---------------------------------------------------------------------------------------------- SwAV / DINO
def test_swav_prototypes_are_frozen_for_the_first_steps_then_train(tmp_path):
    method = make("swav", freeze_prototypes_steps=2)
    start = method.prototypes.detach().clone()
    cfg = TrainConfig(epochs=1, lr=1e-2, progress=False, warmup_epochs=0)
    Trainer(method, cfg).fit(loader(method))  # 2 steps: both frozen
    assert int(method.step) == 2
    torch.testing.assert_close(method.prototypes.detach(), start)
    method2 = make("swav", freeze_prototypes_steps=1)
    Trainer(method2, cfg).fit(loader(method2))
    assert not torch.allclose(method2.prototypes.detach(), start)
    torch.testing.assert_close(method2.prototypes.norm(dim=1), torch.ones(6))


def test_swav_and_dino_take_multicrop_views_of_different_sizes():
    from pairs.views.image import MultiCrop, RandomResizedCrop

    x, _ = blobs(32)
    crops = MultiCrop(RandomResizedCrop(8), RandomResizedCrop(6), n_global=2, n_local=2)
    views = crops(x, torch.Generator().manual_seed(0))
    assert [tuple(v.shape[-2:]) for v in views] == [(8, 8), (8, 8), (6, 6), (6, 6)]
    torch.manual_seed(0)
    encoder = FlatEncoder()
    pooled = nn.Sequential(nn.AdaptiveAvgPool2d(8), encoder)  # any size -> 8x8 -> FlatEncoder
    pooled.out_dim = encoder.out_dim
    for name, kw in [
        ("swav", dict(n_prototypes=6, hidden_dim=16)),
        ("dino", dict(out_dim=12, hidden_dim=16)),
    ]:
        method = build_method(name, pooled, **kw)
        out = method(ViewBatch(views, None, torch.arange(32)))
        assert torch.isfinite(out["loss"])
        out["loss"].backward()
    assert get_method_class("dino").default_views == "multicrop"


def test_dino_teacher_temperature_warms_up_and_centre_moves():
    method = make("dino", teacher_temp=0.07, warmup_teacher_temp=0.04, teacher_temp_warmup=0.5)
    assert method.current_teacher_temp() == pytest.approx(0.04)
    method.on_after_optimizer_step(0.25)
    assert method.current_teacher_temp() == pytest.approx(0.055)
    method.on_after_optimizer_step(0.75)
    assert method.current_teacher_temp() == pytest.approx(0.07)
    center = method.criterion.center.clone()
    method(first_batch(method))
    assert not torch.equal(center, method.criterion.center)
    assert "criterion.center" in method.state_dict()
    assert "progress" in method.state_dict()


# ---------------------------------------------------------------------------------------------- metric
def test_batch_pairs_all_and_balanced():
    labels = torch.tensor([0, 0, 1, 1, 1])
    rows = batch_pairs(labels, "all")
    assert len(rows) == 10
    for i, j, s in rows.tolist():
        assert i < j
        assert s == int(labels[i] == labels[j])
    g = torch.Generator().manual_seed(0)
    bal = batch_pairs(labels, "balanced", g)
    assert int(bal[:, 2].sum()) == 4
    assert len(bal) == 8  # 4 same-label pairs + 4 of the 6 others
    with pytest.raises(ValueError, match="torch.Generator"):
        batch_pairs(labels, "balanced")
    with pytest.raises(ValueError, match="pairing"):
        batch_pairs(labels, "some")


def test_siamese_pairs_are_reproducible_from_the_step():
    method = make("siamese")
    batch = first_batch(method)
    a = method(batch)["loss"]
    b = method(batch)["loss"]
    torch.testing.assert_close(a, b)


def test_triplet_rejects_unknown_mining():
    with pytest.raises(ValueError, match="mining"):
        build_method("triplet", FlatEncoder(), mining="hardest")
