"""The contract every registered encoder and head keeps, checked on every name of :func:`encoders.available`.

The encoders come from the registry (no hand-kept list): a new one is tested as soon as it is registered.
Each is built with its defaults (required arguments filled by name) and fed a tiny batch of its domain.
Checked: the features are ``(B, out_dim)`` with the declared ``out_dim``, finite, the same on a second
call in eval mode, each example's features do not depend on the rest of the batch (eval mode), and the
gradient of the features reaches the parameters.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch, Data

import encoders
from tests.contracts._common import seeded

NAMES = encoders.available()
REQUIRED = {"in_dim": 5}  # the only required argument today: graph node features / head inputs


def build(name: str) -> nn.Module:
    params = inspect.signature(encoders.info(name).factory).parameters.values()
    missing = [p.name for p in params if p.default is p.empty and p.kind is not p.VAR_KEYWORD]
    unknown = [m for m in missing if m not in REQUIRED]
    assert not unknown, f"the encoder contract does not know how to fill {unknown} of {name!r}"
    torch.manual_seed(0)
    try:
        return encoders.get(name, **{m: REQUIRED[m] for m in missing})
    except ImportError as err:  # an optional extra that is not installed (minilm: pairs[pretrained])
        pytest.skip(str(err))


def _argument(name: str, what: str, default: int) -> int:
    p = inspect.signature(encoders.info(name).factory).parameters.get(what)
    return default if p is None or p.default is p.empty else int(p.default)


def _graph(n: int, seed: int) -> Data:
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    edges = torch.cat([ring, ring.flip(0)], dim=1)
    return Data(x=torch.randn(n, REQUIRED["in_dim"], generator=seeded(seed)), edge_index=edges, num_nodes=n)


SENTENCES = ["the cat sat on the mat", "a quick brown fox jumps over the lazy dog", "good books"]


def rows(x: Any) -> tuple[int, ...]:
    """The row counts features of ``x`` may have: one per example, or one per node for node-level graph
    encoders (GCN)."""
    if isinstance(x, Batch):
        return (x.num_graphs, x.num_nodes)
    return (len(x),)


def batch_for(name: str) -> tuple[Any, Any]:
    """``(batch of three, its first example as a batch of one)`` in the encoder's domain."""
    domain = encoders.info(name).domain
    g = seeded(1)
    if domain == "image":
        x = torch.rand(3, _argument(name, "in_channels", 3), 16, 16, generator=g)
    elif domain == "temporal":
        x = torch.randn(3, _argument(name, "in_channels", 1), 24, generator=g)
    elif domain == "audio":
        x = 0.1 * torch.randn(3, _argument(name, "in_channels", 1), 4000, generator=g)
    elif domain == "head":
        x = torch.randn(3, REQUIRED["in_dim"], generator=g)
    elif domain == "graph":
        graphs = [_graph(n, n) for n in (4, 6, 5)]
        return Batch.from_data_list(graphs), Batch.from_data_list(graphs[:1])
    elif domain == "text":
        return list(SENTENCES), SENTENCES[:1]
    else:
        raise AssertionError(f"the encoder contract has no input for the {domain!r} domain")
    return x, x[:1]


@pytest.fixture(scope="module", params=NAMES)
def built(request) -> tuple[str, nn.Module]:
    return request.param, build(request.param)


def eval_features(net: nn.Module, *batches: Any) -> list[torch.Tensor]:
    """The features of each batch, in eval mode without gradients."""
    net.eval()
    with torch.no_grad():
        return [net(batch) for batch in batches]


def test_the_registry_lists_encoders_of_every_domain() -> None:
    domains = {encoders.info(n).domain for n in NAMES}
    assert {"image", "temporal", "audio", "graph", "text", "head"} <= domains


def test_features_have_the_declared_width_are_finite_and_repeatable(built) -> None:
    name, net = built
    x, _ = batch_for(name)
    out, again = eval_features(net, x, x)
    assert out.dim() == 2 and out.shape[0] in rows(x), (
        f"{name}: features {tuple(out.shape)} for {rows(x)} rows"
    )
    assert out.shape[1] == net.out_dim, f"{name}: features {tuple(out.shape)}, declared out_dim {net.out_dim}"
    assert torch.isfinite(out).all()
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_an_examples_features_do_not_depend_on_the_rest_of_the_batch(built) -> None:
    name, net = built
    x, first = batch_for(name)
    alone, whole = eval_features(net, first, x)
    together = whole[: len(alone)]  # the first example's rows (its nodes, for a node-level encoder)
    torch.testing.assert_close(alone, together, rtol=1e-4, atol=1e-5)


def test_the_gradient_of_the_features_reaches_the_parameters(built) -> None:
    name, net = built
    x, _ = batch_for(name)
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert trainable, f"{name} has no trainable parameter"
    net.train()
    net.zero_grad()
    out = net(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = [p.grad for p in trainable if p.grad is not None]
    assert grads, f"no gradient reached a parameter of {name}"
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads), f"every gradient of {name} is zero"
