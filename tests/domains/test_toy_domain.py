"""A new domain from the public registries alone: data, a view, an encoder and a recipe, then ``pairs train``.

The toy domain ("toy vectors": points on one of three rays, with noise) is written in this test module only:
nothing in ``pairs/`` or ``encoders/`` names it. It is registered with ``register_data``,
``encoders.register`` and ``register_recipe``, and the CLI trains, evaluates and resumes it.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import Tensor, nn

import encoders
import encoders.registry as encoder_registry
import pairs.data.registry as data_registry
import pairs.domains as domains
from pairs.cli import main
from pairs.data.registry import DataBundle, register_data
from pairs.domains import Recipe, register_recipe
from pairs.domains.evaluation import probe_and_knn
from pairs.views.base import Params, View

DIM = 6


def make_toy(_: str | None) -> DataBundle:
    """600 points on three random rays in 6-D (scaled and noisy); the ray is the label."""
    g = torch.Generator().manual_seed(0)
    rays = torch.nn.functional.normalize(torch.randn(3, DIM, generator=g), dim=1)
    labels = torch.arange(600) % 3
    scale = torch.rand(600, 1, generator=g) * 4 + 0.5
    x = rays[labels] * scale + 0.6 * torch.randn(600, DIM, generator=g)
    return DataBundle("toy", "toy", x[:450], labels[:450], x[450:], labels[450:], {"dim": DIM})


class ScaleJitter(View):
    """The toy domain's view: scale each vector by a random factor and add a little noise."""

    def sample(self, batch: Tensor, generator: torch.Generator) -> Params:
        n = batch.shape[0]
        return {
            "scale": torch.rand(n, 1, generator=generator) * 1.5 + 0.25,
            "noise": 0.3 * torch.randn(batch.shape, generator=generator),
        }

    def apply(self, batch: Tensor, params: Params) -> Tensor:
        return batch * params["scale"] + params["noise"]


class ToyMLP(nn.Module):
    """The toy domain's encoder."""

    def __init__(self, in_dim: int = DIM, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width))
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def toy_recipe(bundle: DataBundle) -> Recipe:
    return Recipe(
        views={"jitter": lambda b: ScaleJitter()},
        encoder="toy_mlp",
        encoder_kwargs=lambda b: {"in_dim": b.info["dim"]},
        evaluate=lambda encoder, b, device="cpu": probe_and_knn(encoder, b, device),
        method_kwargs={"temperature": 0.2},
        epochs=8,
        batch_size=64,
        lr=3e-3,
    )


@pytest.fixture
def toy_domain():
    """Register the toy domain for one test; the registries are put back afterwards."""
    with data_registry.DATA.restored(), encoder_registry.ENCODERS.restored(), domains.RECIPES.restored():
        register_data("toy", make_toy, domain="toy", description="toy vectors on three rays (a test domain)")
        encoders.register("toy_mlp", domain="toy", description="two-layer MLP of the toy domain")(ToyMLP)
        register_recipe("toy", toy_recipe)
        yield


def test_a_domain_registered_from_outside_trains_evaluates_and_resumes(toy_domain, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "toy", "--out", str(out), "--json", "--threads", "1"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["domain"], report["encoder"], report["views"], report["method"]) == (
        "toy",
        "toy_mlp",
        "jitter",
        "simclr",
    )
    assert report["epochs"] == 8
    assert report["steps"] == 8 * (450 // 64)
    assert (out / "checkpoint.pt").is_file()
    # the figures are those of the saved encoder, rebuilt from the registry by name
    from pairs import load_encoder

    encoder = load_encoder(out)
    bundle = make_toy(None)
    again = probe_and_knn(encoder, bundle)
    with torch.no_grad():  # a plug-in domain's preprocess passes the encoder's own input on
        direct = encoder(encoder.preprocess(list(bundle.test[:5])))
    torch.testing.assert_close(direct, encoder(bundle.test[:5]).detach(), rtol=0, atol=0)
    assert again["knn_acc"] == report["knn_acc"]
    assert again["linear_probe_acc"] == report["linear_probe_acc"]
    losses = [
        json.loads(line)["loss"]
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if '"loss"' in line and '"epoch"' in line
    ]
    assert losses[-1] < losses[0] - 0.1, losses  # it trained

    assert main(["train", "--resume", "--out", str(out), "--epochs", "10", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert resumed["steps"] == 10 * (450 // 64)
    assert resumed["views"] == "jitter"

    assert main(["data"]) == 0
    assert "toy vectors on three rays" in capsys.readouterr().out


def test_the_toy_domain_takes_model_views_and_names_its_views_in_errors(toy_domain, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", "toy", "--views", "blur", "--out", str(out), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown views 'blur' for toy data; known: jitter, identity" in err
    args = ["train", "--data", "toy", "--views", "jitter+perturb:0.5", "--out", str(out), "--epochs", "1"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["views"] == "jitter+perturb:0.5"
