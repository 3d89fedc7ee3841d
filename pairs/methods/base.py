"""What the trainer needs from a method: an ``nn.Module`` whose forward turns a batch of views into a loss.

A method owns an ``encoder`` (the backbone that evaluation uses) plus whatever else its objective needs
(heads, a momentum target, a queue, prototypes, a centre). Everything stateful is a parameter or a buffer,
so it lives in the ``state_dict`` and survives checkpoint/resume.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pairs.pairing import ViewBatch


class Method(nn.Module):
    """Base class of training methods.

    Subclasses implement :meth:`forward`, returning a dict with at least ``"loss"`` (a scalar tensor) and,
    for the collapse monitor, ``"embeddings"`` (``(B, D)``, detached is fine); any other scalar entries are
    logged.

    Attributes:
        encoder: the backbone whose features are evaluated.
        n_views: how many views per sample the method consumes.
        needs_labels: whether the method trains on labels (SupCon, Siamese, triplet).
        center_collapse_check: the collapse monitor measures the embeddings' spread around their batch
            mean (for embeddings with a large common offset by design, e.g. TS2Vec's max pooling).
    """

    n_views: int = 2
    needs_labels: bool = False
    center_collapse_check: bool = False

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"a method needs an nn.Module encoder, got {type(encoder).__name__}")
        self.encoder = encoder

    def forward(self, batch: ViewBatch) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_after_optimizer_step(self, progress: float) -> None:
        """Called after every optimizer step with training progress in [0, 1] (momentum updates go here)."""

    @property
    def feature_dim(self) -> int:
        """Size of the encoder's features."""
        dim = getattr(self.encoder, "out_dim", None)
        if dim is None:
            raise AttributeError(f"{type(self.encoder).__name__} has no out_dim attribute")
        return int(dim)


def projection_hidden_dim(in_dim: int, hidden_dim: int | None = None) -> int:
    """Hidden size of a projection head: ``hidden_dim`` if given, else ``min(2048, max(512, 4 * in_dim))``.

    2048 is SimCLR's/BYOL's projector width for ResNet-50; small encoders get four times their feature size
    (at least 512).
    """
    return hidden_dim or min(2048, max(512, 4 * in_dim))


def encode_views(encoder: nn.Module, views: list[Any]) -> list[Tensor]:
    """Encode every view; tensor views of one shape go through the encoder in a single call.

    One call over the concatenated views is faster on small models, and it is what SimCLR does (batch-norm
    statistics over all views). Views of different shapes (multi-crop) or non-tensor views (graphs, text)
    are encoded one by one.

    Returns:
        A list of ``(B, D)`` feature tensors, one per view.
    """
    if all(isinstance(v, Tensor) for v in views) and len({tuple(v.shape) for v in views}) == 1:
        features = encoder(torch.cat(views))
        return list(features.chunk(len(views)))
    return [encoder(v) for v in views]
