"""Model views (SimCSE dropout, SimGRACE weight perturbation): slow references, and inside methods."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from pairs.errors import ConfigError
from pairs.methods import SimCLR, build_method
from pairs.pairing import ViewBatch
from pairs.views.base import derive_seed
from pairs.views.model import (
    Dropout,
    WeightPerturbation,
    encode_with,
    parse_model_views,
    split_view_spec,
)


def _mlp(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 8)
    )
    net.out_dim = 8
    return net


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# WeightPerturbation (SimGRACE)
# --------------------------------------------------------------------------------------------------
def test_perturbation_equals_simgrace_reference():
    """A deep copy whose weights get eta * std * N(0, 1) (SimGRACE's gen_ran_output), same draws."""
    net = _mlp()
    x = torch.randn(10, 6)
    view = WeightPerturbation(eta=0.7)
    out = view.encode(net, x, _gen(3))

    vice = copy.deepcopy(net)
    g = _gen(3)
    with torch.no_grad():
        for p in vice.parameters():
            noise = torch.randn(p.shape, generator=g)
            p.add_(0.7 * p.std(correction=0) * noise)
    expected = vice(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(out, net(x), atol=1e-3)  # it is a different network


def test_perturbation_leaves_the_encoder_alone():
    net = _mlp()
    net.train()
    before = copy.deepcopy(net.state_dict())
    out = WeightPerturbation(1.0).encode(net, torch.randn(10, 6), _gen(0))
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # weights and batch-norm running statistics untouched
    assert out.requires_grad is False  # a constant for the optimizer, as SimGRACE's separate model
    assert all(p.grad is None for p in net.parameters())


def test_perturbation_is_seeded():
    net, x = _mlp(), torch.randn(10, 6)
    a = WeightPerturbation(1.0).encode(net, x, _gen(5))
    b = WeightPerturbation(1.0).encode(net, x, _gen(5))
    c = WeightPerturbation(1.0).encode(net, x, _gen(6))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-4)


def test_perturbation_scales_with_each_tensors_spread():
    net = _mlp()
    perturbed = WeightPerturbation(0.5).perturbed_parameters(net, _gen(1))
    for name, p in net.named_parameters():
        diff = perturbed[name] - p.detach()
        spread = p.detach().std(correction=0)
        if spread == 0:  # e.g. zero biases, batch-norm weights of ones: left unchanged
            assert torch.equal(diff, torch.zeros_like(diff)), name
        else:  # the noise has the tensor's spread times eta (loosely: a sample of N(0, 1))
            ratio = float(diff.std() / spread)
            assert 0.5 * 0.5 < ratio < 0.5 * 1.8, (name, ratio)


@pytest.mark.parametrize("eta", [0, -1.0, float("inf"), float("nan"), "1", True])
def test_perturbation_refuses_bad_eta(eta):
    with pytest.raises(ConfigError, match="eta"):
        WeightPerturbation(eta)


# --------------------------------------------------------------------------------------------------
# Dropout (SimCSE)
# --------------------------------------------------------------------------------------------------
def test_dropout_view_equals_manual_masks():
    """The encoder with its dropout at rate p, the masks drawn from the default generator seeded from ours."""
    net = _mlp(dropout=0.0).eval()
    x = torch.randn(12, 6)
    out = Dropout(0.3).encode(net, x, _gen(4))

    ref = copy.deepcopy(net)
    ref[3].p = 0.3
    ref[3].train()
    seed = int(torch.randint(0, 2**62, (1,), generator=_gen(4)).item())
    torch.manual_seed(seed)
    expected = ref(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    # batch norm stayed in eval mode, the dropout layer got its rate and mode back
    assert net[3].p == 0.0
    assert not net[3].training
    assert not net[1].training


def test_dropout_view_masks_differ_per_draw_and_leave_global_state():
    net = _mlp(dropout=0.1).eval()
    x = torch.randn(12, 6)
    state = torch.get_rng_state()
    a = Dropout(0.5).encode(net, x, _gen(1))
    b = Dropout(0.5).encode(net, x, _gen(1))
    c = Dropout(0.5).encode(net, x, _gen(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, net(x))  # dropout really applied (eval mode would give net(x))


def test_dropout_view_reaches_attention_dropout():
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
    layer.eval()
    x = torch.randn(3, 5, 8)
    out = Dropout(0.5).encode(layer, x, _gen(0))
    assert not torch.allclose(out, layer(x))
    assert layer.self_attn.dropout == 0.0
    assert not layer.training


def test_dropout_view_needs_dropout_layers():
    net = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ConfigError, match="no.*dropout|dropout layers"):
        Dropout(0.1).encode(net, torch.randn(2, 4), _gen(0))


@pytest.mark.parametrize("p", [-0.1, 1.0, "0.1", None])
def test_dropout_view_refuses_bad_rates(p):
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        Dropout(p)


# --------------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("synonym+dropout:0.1", ("synonym", "dropout:0.1")),
        ("dropout", ("identity", "dropout")),
        ("perturb:2", ("identity", "perturb:2")),
        ("graphcl", ("graphcl", None)),
        (None, (None, None)),
    ],
)
def test_split_view_spec(spec, expected):
    assert split_view_spec(spec) == expected


def test_parse_model_views_positions():
    views = parse_model_views("dropout:0.2", 3)
    assert [type(v).__name__ for v in views] == ["Dropout"] * 3
    assert views[0].p == 0.2
    views = parse_model_views("perturb:1.5", 2)
    assert isinstance(views[0], WeightPerturbation)
    assert views[0].eta == 1.5
    assert views[1] is None
    assert parse_model_views(None, 2) is None


@pytest.mark.parametrize(
    ("spec", "match"),
    [("blur", "unknown model view"), ("dropout:hot", "not a number"), ("dropout+dropout", "two model views")],
)
def test_parse_model_views_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_model_views(spec, 2)


def test_split_refuses_two_data_views():
    with pytest.raises(ConfigError, match="one data view"):
        split_view_spec("synonym+crop+dropout")


# --------------------------------------------------------------------------------------------------
# In methods
# --------------------------------------------------------------------------------------------------
def test_encode_with_mixes_plain_and_model_views():
    net = _mlp(dropout=0.2)
    views = [torch.randn(4, 6), torch.randn(4, 6)]
    calls = []

    def plain(vs):
        calls.append(len(vs))
        return [net(v) for v in vs]

    out = encode_with(net, views, [WeightPerturbation(1.0), None], seed=11, plain=plain)
    assert calls == [1]  # only the second view went through the plain encoder
    expected0 = WeightPerturbation(1.0).encode(net, views[0], _gen(derive_seed(11, 0)))
    torch.testing.assert_close(out[0], expected0, rtol=0, atol=0)
    assert out[1].requires_grad
    assert not out[0].requires_grad


def test_simclr_with_dropout_views_contrasts_identical_inputs():
    """SimCSE: the same sentence twice; with dropout the two views differ, without it they are equal."""
    x = torch.randn(8, 6)
    batch = ViewBatch([x, x.clone()], None, torch.arange(8))
    method = SimCLR(_mlp(dropout=0.0), temperature=0.05).eval()
    plain = method.encode(batch.views)
    assert torch.equal(plain[0], plain[1])
    method.set_model_views("dropout:0.3")
    torch.manual_seed(0)
    views = method.encode(batch.views)
    assert not torch.allclose(views[0], views[1])
    torch.manual_seed(0)
    again = method.encode(batch.views)
    assert torch.equal(views[0], again[0])
    assert torch.equal(views[1], again[1])
    loss = method(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    assert method.encoder[0].weight.grad.abs().sum() > 0


def test_set_model_views_list_and_errors():
    method = SimCLR(_mlp(0.1))
    method.set_model_views([Dropout(0.1), None])
    assert isinstance(method.model_views[0], Dropout)
    assert method.model_views[1] is None
    with pytest.raises(ConfigError, match="2 views"):
        method.set_model_views([Dropout(0.1)])
    method.set_model_views(None)
    assert method.model_views is None


def test_methods_that_encode_their_own_way_refuse_model_views():
    from pairs.methods.ts2vec import TS2Vec

    assert TS2Vec.supports_model_views is False
    import encoders

    method = build_method("ts2vec", encoders.get("ts2vec", in_channels=1))
    with pytest.raises(ConfigError, match="takes no model views"):
        method.set_model_views("dropout")


# --------------------------------------------------------------------------------------------------
# Through the training entry point
# --------------------------------------------------------------------------------------------------
def test_train_with_a_model_view_is_seeded_and_resumes_with_it(tmp_path):
    from pairs.experiment import train

    def run(out, **kw):
        return train(
            "digits",
            views="digits+perturb:0.5",
            batch_size=128,
            max_steps=3,
            out=str(tmp_path / out),
            progress=False,
            evaluate_untrained=False,
            log=lambda *_: None,
            **kw,
        )

    a, b = run("a", epochs=1), run("b", epochs=1)
    assert a["views"] == "digits+perturb:0.5"
    assert a["final_loss"] == b["final_loss"]  # same seed, same perturbations
    plain = train(
        "digits",
        batch_size=128,
        max_steps=3,
        epochs=1,
        out=str(tmp_path / "c"),
        progress=False,
        evaluate_untrained=False,
        log=lambda *_: None,
    )
    assert plain["final_loss"] != a["final_loss"]  # the model view changed the training
    resumed = train(
        "digits", out=str(tmp_path / "a"), resume=True, epochs=2, progress=False, log=lambda *_: None
    )
    assert resumed["views"] == "digits+perturb:0.5"


def test_train_refuses_two_data_views(tmp_path):
    from pairs.experiment import train

    with pytest.raises(ConfigError, match="one data view"):
        train("digits", views="digits+crop+dropout", epochs=1, out=str(tmp_path / "x"), progress=False)
