"""Tiny method builders shared by the method tests (small heads, so each step takes milliseconds)."""

from __future__ import annotations

import torch

from pairs.methods import build_method
from pairs.methods.base import Method
from pairs.pairing import ViewLoader
from tests.helpers import AddNoise, FlatEncoder, blobs

# small heads for every method (kwargs passed to build_method)
TINY: dict[str, dict] = {
    "simclr": dict(projection_dim=8, hidden_dim=16),
    "mocov2": dict(projection_dim=8, hidden_dim=16, queue_size=40),
    "mocov3": dict(projection_dim=8, hidden_dim=16),
    "byol": dict(projection_dim=8, hidden_dim=16),
    "simsiam": dict(projection_dim=8, hidden_dim=16),
    "barlow_twins": dict(projection_dim=16),
    "vicreg": dict(projection_dim=16),
    "swav": dict(projection_dim=8, hidden_dim=16, n_prototypes=6, freeze_prototypes_steps=3),
    "dino": dict(out_dim=12, hidden_dim=16, bottleneck_dim=8),
    "supcon": dict(projection_dim=8, hidden_dim=16),
    "supcon_queue": dict(projection_dim=8, hidden_dim=16, queue_size=40),
    "clip": dict(projection_dim=8, hidden_dim=16),
    "siamese": dict(embedding_dim=8, hidden_dim=16),
    "triplet": dict(embedding_dim=8, hidden_dim=16),
}

IMAGE_METHODS = sorted(TINY)


def make(name: str, seed: int = 0, **overrides) -> Method:
    """Build method ``name`` (``supcon_queue`` = SupCon with a queue) on a FlatEncoder, seeded."""
    torch.manual_seed(seed)
    kwargs = {**TINY[name], **overrides}
    return build_method(name.replace("_queue", ""), FlatEncoder(), **kwargs)


def loader(method: Method, n: int = 64, batch_size: int = 32, seed: int = 0) -> ViewLoader:
    x, y = blobs(n)
    labels = y if method.needs_labels else None
    return ViewLoader(
        x, AddNoise(0.3), n_views=method.n_views, labels=labels, batch_size=batch_size, seed=seed
    )
