"""The contract every registered method keeps, checked on every name of :func:`~pairs.methods.METHODS`.

The methods come from the registry: a new method is tested as soon as it registers. One that trains on
tensor views is run as it is (on a tiny flat encoder and 1x8x8 images, with the small heads of
``tests/methods/_tiny.py`` where it has them); methods of other inputs (graphs, series) have their tiny setup
in :data:`SETUPS`, and a registered method that fits neither fails :func:`test_every_method_runs_here`.
Checked: the forward pass gives a :class:`~pairs.methods.base.MethodOutput` with a finite scalar loss and
finite ``(rows, D)`` embeddings, the same seed gives the same loss, the gradient reaches the encoder,
everything stateful survives ``state_dict`` (a fresh copy loaded from it gives the same loss after training
steps changed queues, centres and momentum targets), and :meth:`Method.training_report` gives numbers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import pytest
import torch
from torch_geometric.data import Batch, Data

import encoders
from pairs.methods import METHODS, build_method
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch
from pairs.views.graph import DropEdges, FeatureNoise, MaskFeatures
from pairs.views.temporal import OverlappingCrops
from tests.contracts._common import seeded
from tests.helpers import AddNoise, FlatEncoder, blobs
from tests.methods._tiny import TINY

Setup = Callable[[int], tuple[Method, Callable[[int], ViewBatch]]]
"""``(seed) -> (method, (batch seed) -> batch)``."""


def _graphs(n_graphs: int, seed: int) -> Batch:
    g = seeded(seed)
    graphs = []
    for i in range(n_graphs):
        n = 5 + i % 3
        ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
        edges = torch.cat([ring, ring.flip(0), torch.tensor([[0, n // 2], [n // 2, 0]])], dim=1)
        graphs.append(Data(x=torch.randn(n, 5, generator=g), edge_index=edges, num_nodes=n))
    return Batch.from_data_list(graphs)


def _graph_views(n_graphs: int, views: list) -> Callable[[int], ViewBatch]:
    def batch(seed: int) -> ViewBatch:
        raw = _graphs(n_graphs, seed)
        return ViewBatch(
            [v(raw, seeded(seed + k)) for k, v in enumerate(views)], None, torch.arange(n_graphs)
        )

    return batch


def _graphcl(seed: int):
    torch.manual_seed(seed)
    method = build_method("graphcl", encoders.get("gin", in_dim=5, hidden_dim=8, n_layers=2), temperature=0.5)
    return method, _graph_views(6, [DropEdges(0.2), FeatureNoise(0.1)])


def _grace(seed: int):
    torch.manual_seed(seed)
    enc = encoders.get("gcn", in_dim=5, hidden_dim=8, out_dim=8)
    method = build_method("grace", enc, projection_hidden_dim=8, temperature=0.5)
    return method, _graph_views(1, [DropEdges(0.2), MaskFeatures(0.2)])


def _infograph(seed: int):
    torch.manual_seed(seed)
    method = build_method("infograph", encoders.get("gin", in_dim=5, hidden_dim=8, n_layers=2))
    return method, _graph_views(6, [FeatureNoise(0.0)])


def _series(seed: int) -> torch.Tensor:
    t = torch.linspace(0, 1, 32)
    freq = 1.0 + 3.0 * torch.rand(6, 1, 1, generator=seeded(seed))
    return torch.sin(2 * math.pi * freq * t) + 0.1 * torch.randn(6, 2, 32, generator=seeded(seed + 1))


def _ts2vec(seed: int):
    torch.manual_seed(seed)
    enc = encoders.get("ts2vec", in_channels=2, hidden=8, out_dim=8, depth=2)
    method = build_method("ts2vec", enc)

    def batch(s: int) -> ViewBatch:
        return ViewBatch([OverlappingCrops()(_series(s), generator=s)], None, torch.arange(6))

    return method, batch


def _cpc(seed: int):
    torch.manual_seed(seed)
    enc = encoders.get("dilated_conv", in_channels=2, hidden=8, out_dim=8, depth=1)
    method = build_method("cpc", enc, steps=2, context_dim=8, negatives=3, patch_len=4)
    return method, lambda s: ViewBatch([_series(s)], None, torch.arange(6))


SETUPS: dict[str, Setup] = {
    "cpc": _cpc,
    "grace": _grace,
    "graphcl": _graphcl,
    "infograph": _infograph,
    "ts2vec": _ts2vec,
}


def _generic(name: str) -> Setup:
    """A method of tensor views: a flat encoder on 1x8x8 images, noisy views, labels when it needs them."""

    def setup(seed: int):
        torch.manual_seed(seed)
        method = build_method(name, FlatEncoder(), **TINY.get(name, {}))

        def batch(s: int) -> ViewBatch:
            x, y = blobs(12, seed=s)
            views = [AddNoise(0.3)(x, seeded(s + k)) for k in range(method.n_views)]
            return ViewBatch(views, y if method.needs_labels else None, torch.arange(12))

        return method, batch

    return setup


def setup_of(name: str) -> Setup:
    return SETUPS.get(name) or _generic(name)


def run(method: Method, batch: ViewBatch, seed: int) -> MethodOutput:
    torch.manual_seed(seed)  # model views and dropout draw from the global generator
    return method(batch)


def train_steps(method: Method, make_batch: Callable[[int], ViewBatch], steps: int = 3) -> None:
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.05)
    for step in range(steps):
        out = run(method, make_batch(100 + step), step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        method.on_after_optimizer_step((step + 1) / steps)


NAMES = METHODS.names()


def test_every_method_runs_here() -> None:
    assert {"simclr", "graphcl", "grace", "ts2vec", "cpc", "infograph", "clip"} <= set(NAMES)
    assert set(SETUPS) <= set(NAMES), "a setup for a method that is not registered"


@pytest.mark.parametrize("name", NAMES)
def test_forward_gives_a_finite_scalar_loss_and_finite_embeddings(name: str) -> None:
    method, make_batch = setup_of(name)(0)
    out = run(method.train(), make_batch(0), 0)
    assert isinstance(out, MethodOutput)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert out["loss"] is out.loss  # read as a mapping too
    assert out.embeddings is not None and out.embeddings.dim() == 2
    assert torch.isfinite(out.embeddings).all()
    assert all(isinstance(v, (int, float, torch.Tensor)) for v in out.logs.values())
    report = method.training_report()
    assert isinstance(report, dict) and all(isinstance(v, float) for v in report.values())


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_gives_the_same_loss_and_the_gradient_reaches_the_encoder(name: str) -> None:
    first, make_batch = setup_of(name)(0)
    second, _ = setup_of(name)(0)
    a, b = run(first.train(), make_batch(1), 7), run(second.train(), make_batch(1), 7)
    torch.testing.assert_close(a.loss, b.loss, rtol=0, atol=0)
    a.loss.backward()
    grads = [p.grad for p in first.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads), "no gradient reached the encoder"


@pytest.mark.parametrize("name", NAMES)
def test_everything_stateful_survives_the_state_dict(name: str) -> None:
    method, make_batch = setup_of(name)(0)
    train_steps(method.train(), make_batch)
    fresh, _ = setup_of(name)(1)  # other initial weights
    fresh.load_state_dict(copy.deepcopy(method.state_dict()))
    fresh.train()
    with torch.no_grad():
        expected = run(method, make_batch(200), 11).loss
        got = run(fresh, make_batch(200), 11).loss
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
