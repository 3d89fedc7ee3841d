"""CLIP-style two-tower training on paired samples of two domains, and zero-shot classification.

Tower A embeds ``batch.views[0]`` (e.g. images), tower B ``batch.views[1]`` (e.g. captions); the symmetric
contrastive loss with a learnable temperature pulls each pair together. :class:`PairedViews` turns a batch
of ``(a, b)`` samples into those two inputs (with an optional view per side). Zero-shot classification
embeds one prompt per class with tower B and gives each A-sample the class of its most similar prompt.

Without a second encoder (``pairs train --method clip`` on one domain), tower B is a copy of tower A's
architecture with its own weights, trained on the second view: two encoders, one per view (ConVIRT-like).

References:
    Radford et al. "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021
    (CLIP). Zhang et al. "Contrastive Learning of Medical Visual Representations from Paired Images and
    Text", 2020 (ConVIRT).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pairs.losses import CLIPLoss
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch, collate_samples

__all__ = ["CLIP", "PairedViews", "zero_shot_predict"]


class PairedViews:
    """Split a batch of paired samples ``(a, b)`` into the two towers' inputs, each with an optional view.

    A multi-view producer (``multi_view = True``) for :class:`pairs.pairing.ViewLoader`: give the loader a
    list of ``(a, b)`` tuples as samples and this as the view.

    Args:
        view_a: view applied to the collated A-side batch (``None``: as is).
        view_b: view applied to the collated B-side batch (``None``: as is).
        collate_a: collates the A-side samples (default: stack tensors, else keep a list).
        collate_b: collates the B-side samples (default: as ``collate_a``).

    Shape:
        a list of ``B`` pairs -> ``[batch_a (B, ...), batch_b (B, ...) or a list of B items]``.
    """

    multi_view = True

    def __init__(
        self,
        view_a: Callable[..., Any] | None = None,
        view_b: Callable[..., Any] | None = None,
        collate_a: Callable[[list], Any] | None = None,
        collate_b: Callable[[list], Any] | None = None,
    ) -> None:
        self.view_a, self.view_b = view_a, view_b
        self.collate_a = collate_a or collate_samples
        self.collate_b = collate_b or collate_samples

    def __call__(self, batch: Sequence[Any], generator: torch.Generator | None = None) -> list[Any]:
        """Make ``[tower A input, tower B input]`` from a batch of pairs.

        Raises:
            TypeError: if an item is not an ``(a, b)`` pair.
        """
        if isinstance(batch, Tensor) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in batch):
            raise TypeError(
                "PairedViews expects a batch of (a, b) pairs (give the ViewLoader a list of 2-tuples), got "
                f"{type(batch).__name__}"
            )
        a = self.collate_a([p[0] for p in batch])
        b = self.collate_b([p[1] for p in batch])
        if self.view_a is not None:
            a = self.view_a(a, generator)
        if self.view_b is not None:
            b = self.view_b(b, generator)
        return [a, b]

    def __repr__(self) -> str:
        return f"PairedViews(view_a={self.view_a!r}, view_b={self.view_b!r})"


def zero_shot_predict(a_embeddings: Tensor, class_embeddings: Tensor) -> Tensor:
    """Class of each A-embedding: the index of its most cosine-similar class embedding.

    Args:
        a_embeddings: ``(N, D)`` embeddings of tower A.
        class_embeddings: ``(C, D)`` tower-B embeddings of one prompt per class (or the mean over
            several prompts of a class).

    Returns:
        ``(N,)`` long tensor of class indices.

    Raises:
        ValueError: mismatched embedding sizes.

    Shape:
        ``(N, D)``, ``(C, D)`` -> ``(N,)``.
    """
    if (
        a_embeddings.dim() != 2
        or class_embeddings.dim() != 2
        or a_embeddings.shape[1] != class_embeddings.shape[1]
    ):
        raise ValueError(
            "zero_shot_predict needs (N, D) and (C, D) embeddings of the same D, got "
            f"{tuple(a_embeddings.shape)} and {tuple(class_embeddings.shape)}"
        )
    return (F.normalize(a_embeddings, dim=1) @ F.normalize(class_embeddings, dim=1).T).argmax(dim=1)


class CLIP(Method):
    """Two towers (``encoder`` for domain A, ``other_encoder`` for domain B) and the CLIP loss.

    Args:
        encoder: tower A backbone (its features are the ones evaluated), with ``out_dim``.
        other_encoder: tower B backbone with ``out_dim``; ``None`` copies tower A's architecture (own
            weights), for two views of one domain.
        projection_dim: size of the shared embedding space.
        hidden_dim: hidden size of the projection MLPs (``n_layers > 1``).
        n_layers: layers of each tower's projection (1 = CLIP's linear projection).
        temperature: initial temperature (0.07 in CLIP).
        learnable_temperature: learn the logit scale (clamped at 100), as CLIP.

    Shape:
        views: ``[A batch (B, ...), B batch (B, ...)]`` -> loss scalar; ``embeddings``:
        ``(B, projection_dim)`` tower-A embeddings.
    """

    supports_model_views = False

    def __init__(
        self,
        encoder: nn.Module,
        other_encoder: nn.Module | None = None,
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        n_layers: int = 2,
        temperature: float = 0.1,
        learnable_temperature: bool = True,
    ) -> None:
        super().__init__(encoder)
        if other_encoder is None:
            other_encoder = copy.deepcopy(encoder)
            for m in other_encoder.modules():  # own weights, drawn from torch's default generator
                reset = getattr(m, "reset_parameters", None)
                if m is not other_encoder and reset is not None:
                    reset()
        if not isinstance(other_encoder, nn.Module) or not hasattr(other_encoder, "out_dim"):
            raise TypeError("other_encoder must be an nn.Module with an out_dim attribute")
        self.other_encoder = other_encoder
        out_dim: Any = other_encoder.out_dim  # an encoder's declared int (checked above)
        dim_b = int(out_dim)
        self.projection = self.projection_head(projection_dim, hidden_dim, n_layers)
        self.other_projection = self.projection_head(projection_dim, hidden_dim, n_layers, in_dim=dim_b)
        self.criterion = CLIPLoss(temperature, learnable=learnable_temperature)

    def embed_a(self, x: Any) -> Tensor:
        """L2-normalised tower-A embeddings ``(B, projection_dim)``."""
        return F.normalize(self.projection(self.encoder(x)), dim=1)

    def embed_b(self, x: Any) -> Tensor:
        """L2-normalised tower-B embeddings ``(B, projection_dim)``."""
        return F.normalize(self.other_projection(self.other_encoder(x)), dim=1)

    @torch.no_grad()
    def zero_shot(self, x: Any, prompts: Any) -> Tensor:
        """Zero-shot class of each A-sample in ``x``: its most similar prompt among ``prompts``.

        Both towers run in eval mode (their previous modes are restored).

        Args:
            x: a tower-A batch.
            prompts: a tower-B batch with one prompt per class, in class order.

        Returns:
            ``(B,)`` class indices.
        """
        from pairs.frozen import frozen

        with frozen(self):
            return zero_shot_predict(self.embed_a(x), self.embed_b(prompts))

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "CLIP")
        za = self.projection(self.encoder(views[0]))
        zb = self.other_projection(self.other_encoder(views[1]))
        loss = self.criterion(za, zb)
        return MethodOutput(loss, za.detach(), {"temperature": self.criterion.temperature})


register_method("clip", CLIP)
