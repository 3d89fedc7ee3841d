"""TS2Vec: hierarchical contrast of two overlapping crops, encoded per timestamp with timestamp masking.

Each training batch holds one :class:`~pairs.views.temporal.CropPair` per series (made by
:class:`~pairs.views.temporal.OverlappingCrops`, so ``n_views = 1``). Both crops go through the encoder per
timestamp (``pooled=False``); in training mode the encoder masks random timestamps in latent space (TS2Vec's
binomial mask, see :class:`encoders.temporal.DilatedConvEncoder`). The representations of the shared
timestamps, each computed in its own context, are contrasted with
:func:`~pairs.losses.hierarchical.hierarchical_contrastive_loss`.

As the reference code does, the method keeps a running (uniform, "SWA") average of the encoder's weights
over all iterates, the initial weights included (``torch.optim.swa_utils.AveragedModel``), because TS2Vec
encodes with the averaged network. Here, at the last optimizer step of training, the averaged weights are
copied into the encoder, so evaluation (which uses ``method.encoder``) sees what TS2Vec's ``encode`` sees.

Reference:
    Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", AAAI; the reference code
    ``ts2vec.py`` (``TS2Vec.fit``) of zhihanyue/ts2vec.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from pairs.losses.hierarchical import _check_alpha, _check_unit, hierarchical_contrastive_loss
from pairs.methods import register_method
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch
from pairs.views.temporal import CropPair

__all__ = ["TS2Vec"]


def _takes_pooled(encoder: nn.Module) -> bool:
    try:
        return "pooled" in inspect.signature(encoder.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _uniform_average(averaged: Tensor, current: Tensor, n_averaged: Tensor | int) -> Tensor:
    """The running uniform mean after one more iterate, ``avg + (cur - avg) / (n + 1)`` (SWA's equal
    averaging, as ``AveragedModel``'s ``avg_fn``, in the arithmetic of TS2Vec's reference)."""
    return averaged + (current.to(averaged.dtype) - averaged) / (n_averaged + 1)


def _rename_average_keys(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load checkpoints written before the average was an ``AveragedModel``: ``averaged_encoder.<name>`` ->
    ``averaged_encoder.module.<name>``, ``n_averaged`` -> ``averaged_encoder.n_averaged``."""
    old = prefix + "averaged_encoder."
    if prefix + "n_averaged" in state_dict:
        state_dict[old + "n_averaged"] = state_dict.pop(prefix + "n_averaged")
    for key in [k for k in state_dict if k.startswith(old)]:
        rest = key[len(old) :]
        if not rest.startswith("module.") and rest != "n_averaged":
            state_dict[old + "module." + rest] = state_dict.pop(key)


class TS2Vec(Method):
    """TS2Vec's training objective on overlapping crops.

    Args:
        encoder: a series encoder whose ``forward(x, pooled=False)`` returns per-timestamp representations
            ``(B, T, D)`` (e.g. :class:`encoders.temporal.DilatedConvEncoder`, which also masks timestamps in
            training).
        alpha: weight of instance contrast in the hierarchical loss (``1 - alpha`` for temporal contrast).
        temporal_unit: the first pooling scale with temporal contrast (use the same value in the
            :class:`~pairs.views.temporal.OverlappingCrops` view).
        average_weights: keep the uniform average of all weight iterates and put it into the encoder at the
            end of training (TS2Vec evaluates its ``AveragedModel``).

    Raises:
        TypeError: if the encoder cannot return per-timestamp representations, or (in forward) if the
            batch does not hold a ``CropPair``.
        ValueError: on a bad ``alpha`` / ``temporal_unit``.

    Shape:
        ``batch.views[0]``: ``CropPair`` of ``(B, C, L1)`` and ``(B, C, L2)`` -> ``loss ()``;
        ``embeddings``: ``(2B, D)``, the overlap's representations of both crops max-pooled over time.

    Reference:
        Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series".
    """

    supports_model_views = False

    n_views = 1
    center_collapse_check = True  # max-pooled features share a large offset: measure spread around the mean

    def __init__(
        self,
        encoder: nn.Module,
        alpha: float = 0.5,
        temporal_unit: int = 0,
        average_weights: bool = True,
    ) -> None:
        super().__init__(encoder)
        if not _takes_pooled(encoder):
            raise TypeError(
                f"TS2Vec needs an encoder that returns one representation per timestamp via "
                f"forward(x, pooled=False), such as 'dilated_conv' or 'lstm'; {type(encoder).__name__} "
                "does not take a pooled argument"
            )
        self.alpha = _check_alpha(alpha)
        self.temporal_unit = _check_unit(temporal_unit)
        self.average_weights = bool(average_weights)
        self.averaged_encoder: AveragedModel | None = None
        if self.average_weights:
            self.averaged_encoder = AveragedModel(encoder, avg_fn=_uniform_average)
            self.averaged_encoder.requires_grad_(False)
            self.averaged_encoder.update_parameters(encoder)  # the initial weights are the first iterate
            self._register_load_state_dict_pre_hook(_rename_average_keys)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        """Encode both crops, contrast their overlap hierarchically.

        Returns:
            ``{"loss", "embeddings"}``.
        """
        pair = batch.views[0] if batch.views else None
        if not isinstance(pair, CropPair):
            raise TypeError(
                "TS2Vec trains on the CropPair made by OverlappingCrops (views 'ts2vec'), got "
                f"{type(pair).__name__}; use --views ts2vec, or --method simclr for views that return series"
            )
        out1 = self.encoder(pair.first, pooled=False)  # (B, L1, D)
        out2 = self.encoder(pair.second, pooled=False)  # (B, L2, D)
        z1, z2 = pair.aligned(out1, out2, dim=1)  # (B, overlap, D) each
        loss = hierarchical_contrastive_loss(z1, z2, self.alpha, self.temporal_unit)
        embeddings = torch.cat([z1.detach().amax(dim=1), z2.detach().amax(dim=1)])
        return MethodOutput(loss, embeddings)

    @property
    def n_averaged(self) -> Tensor | None:
        """How many weight iterates the average holds (the initial weights included), or ``None``."""
        return None if self.averaged_encoder is None else self.averaged_encoder.n_averaged

    @torch.no_grad()
    def update_average(self) -> None:
        """Fold the encoder's current weights into the running uniform average (SWA's equal averaging)."""
        if self.averaged_encoder is not None:
            self.averaged_encoder.update_parameters(self.encoder)

    @torch.no_grad()
    def load_average(self) -> None:
        """Copy the averaged weights into the encoder (what TS2Vec encodes with)."""
        if self.averaged_encoder is None:
            return
        for avg, cur in zip(
            self.averaged_encoder.module.parameters(), self.encoder.parameters(), strict=True
        ):
            cur.copy_(avg)

    def on_after_optimizer_step(self, progress: float) -> None:
        """Update the weight average; at the end of training (``progress >= 1``) load it into the encoder."""
        self.update_average()
        if progress >= 1.0 - 1e-9:
            self.load_average()

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, temporal_unit={self.temporal_unit}, average_weights={self.average_weights}"
        )


register_method("ts2vec", TS2Vec)
