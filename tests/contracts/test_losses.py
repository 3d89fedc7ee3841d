"""The contract every public loss of :mod:`pairs.losses` keeps.

The losses are the package's public names that are losses (``*_loss`` functions, ``*Loss`` classes,
``nt_xent`` and ``info_nce``), read from ``pairs.losses.__all__``: a new loss is picked up as it is exported.
Losses of two ``(B, D)`` embeddings are called as they are; the others have their inputs in :data:`CALLS`,
and a loss that fits neither fails :func:`test_every_loss_has_inputs`. Checked on float64 inputs: a finite
scalar of the inputs' dtype, the same value when the batch is permuted (the loss of a batch does not
depend on the order of its examples), a finite non-zero gradient, and a small step against the gradient
lowers the loss.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

import pairs.losses as L
from tests.contracts._common import seeded

B, D = 8, 6


def is_loss(name: str) -> bool:
    return name.endswith(("_loss", "Loss")) or name in ("nt_xent", "info_nce")


NAMES = sorted(n for n in L.__all__ if is_loss(n))


def _pair(shape: tuple[int, ...] = (B, D)) -> list[torch.Tensor]:
    g = seeded(0)
    a = torch.randn(*shape, generator=g, dtype=torch.float64)
    return [a, a + 0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)]


def _crops() -> list[torch.Tensor]:
    """Two student and two teacher crops (DINO)."""
    return [*_pair(), *(t.flip(1) for t in _pair())]


LABELS = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
SIMILAR = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
Call = tuple[
    Callable[[], list[torch.Tensor]], Callable[[Callable[..., Any], list[torch.Tensor]], torch.Tensor]
]
"""``(make the input tensors (batch along dim 0, or dim 1 for stacked views), call the loss on them)``."""

_series: Call = (lambda: _pair((B, 5, D)), lambda f, t: f(t[0], t[1]))
_labelled: Call = (lambda: _pair()[:1], lambda f, t: f(t[0], LABELS))
CALLS: dict[str, Call] = {
    "hierarchical_contrastive_loss": _series,
    "instance_contrastive_loss": _series,
    "temporal_contrastive_loss": _series,
    "HierarchicalContrastiveLoss": _series,
    "supcon_loss": (lambda: [torch.stack(_pair())], lambda f, t: f(t[0], LABELS)),
    "SupConLoss": (lambda: [torch.stack(_pair())], lambda f, t: f(t[0], LABELS)),
    "triplet_margin_loss": _labelled,
    "TripletMarginLoss": _labelled,
    "triplet_loss": (lambda: [*_pair(), _pair()[1].flip(1)], lambda f, t: f(t[0], t[1], t[2], margin=2.0)),
    "contrastive_margin_loss": (lambda: _pair(), lambda f, t: f(t[0], t[1], SIMILAR)),
    "ContrastiveMarginLoss": (lambda: _pair(), lambda f, t: f(t[0], t[1], SIMILAR)),
    "dino_loss": (lambda: _crops(), lambda f, t: f(t[:2], t[2:], torch.zeros(D, dtype=t[0].dtype))),
    "DINOLoss": (lambda: _crops(), lambda f, t: f(t[:2], t[2:])),
    "swav_loss": (lambda: _pair(), lambda f, t: f([t[0], t[1]])),
    "SwAVLoss": (lambda: _pair(), lambda f, t: f([t[0], t[1]])),
}
BATCH_DIM = {"supcon_loss": 1, "SupConLoss": 1}
"""Losses whose inputs hold the batch along another dim than 0 (SupCon's ``(V, B, D)``)."""
CONSTRUCT = {"DINOLoss": {"out_dim": D}}
"""Required constructor arguments of loss classes."""


def loss_fn(name: str) -> Callable[..., Any]:
    """The loss as a function; a class is built (with its defaults) afresh per call, so state a call
    updates (DINO's centre) does not leak into the next."""
    obj = getattr(L, name)
    if not inspect.isclass(obj):
        return obj
    module = obj(**CONSTRUCT.get(name, {})).double()
    return lambda *args, **kwargs: copy.deepcopy(module)(*args, **kwargs)


def evaluate(name: str, inputs: list[torch.Tensor]) -> torch.Tensor:
    call = CALLS.get(name, (None, lambda f, t: f(t[0], t[1])))[1]
    return call(loss_fn(name), inputs)


def inputs_of(name: str) -> list[torch.Tensor]:
    make = CALLS.get(name, (_pair, None))[0]
    return [t.requires_grad_(True) for t in make()]


def test_every_loss_has_inputs() -> None:
    assert len(NAMES) >= 25
    two_tensor = [n for n in NAMES if n not in CALLS]
    for name in two_tensor:
        evaluate(name, inputs_of(name))  # a loss of other inputs fails here: give it an entry in CALLS
    assert set(CALLS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_finite_scalar_of_the_inputs_dtype_that_ignores_the_batch_order(name: str) -> None:
    inputs = inputs_of(name)
    loss = evaluate(name, inputs)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert loss.dtype == torch.float64
    dim = BATCH_DIM.get(name, 0)
    order = torch.tensor([3, 0, 6, 1, 7, 5, 2, 4])
    permuted = [t.detach().index_select(dim, order) for t in inputs]
    global LABELS, SIMILAR
    saved = LABELS, SIMILAR
    LABELS, SIMILAR = LABELS[order], SIMILAR[order]
    try:
        again = evaluate(name, permuted)
    finally:
        LABELS, SIMILAR = saved
    torch.testing.assert_close(again, loss.detach(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_the_gradient_is_finite_and_a_step_against_it_lowers_the_loss(name: str) -> None:
    inputs = inputs_of(name)
    loss = evaluate(name, inputs)
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads, strict=True)]
    assert all(torch.isfinite(g).all() for g in grads)
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    assert norm > 0, "a zero gradient"
    with torch.no_grad():
        stepped = [t - 1e-3 * g / norm for t, g in zip(inputs, grads, strict=True)]
    lower = evaluate(name, stepped)
    assert lower < loss.detach(), (
        f"a step against the gradient moved the loss from {loss.item()} to {lower.item()}"
    )
