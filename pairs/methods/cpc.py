"""Contrastive Predictive Coding: predict future latents from an autoregressive context, contrastively.

A latent encoder maps each sequence to latents ``z_1..z_T`` (CPC's strided waveform conv gives one per
10 ms; any other encoder is applied to non-overlapping patches, see
:class:`encoders.sequence.LatentSequence`), a context network (GRU by default, LSTM or a causal
Transformer) summarises ``z_<=t`` into ``c_t``, and one predictor per step ``k = 1..K`` maps **every**
``c_t`` to a guess of ``z_{t+k}``, scored by InfoNCE against sampled negatives
(:func:`pairs.losses.cpc.cpc_loss`).

The method's ``encoder`` is a :class:`encoders.sequence.CPCModel` (latent encoder + context network) that
maps a batch to mean-pooled context features ``(B, H)``, so the domains' evaluation protocols use it as is.
Negatives are drawn from a generator seeded by ``(seed, step)``, where ``step`` is a buffer counting training
forward passes: a resumed run draws the same negatives as an unbroken one. The method keeps the per-step
accuracies of the last ``acc_window`` training batches in a buffer (:meth:`CPC.step_accuracies`).

Reference:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding".
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from encoders.sequence import CPCModel, LatentSequence, StepPredictors, build_context
from pairs.errors import ConfigError, SettingError
from pairs.losses._checks import check_temperature
from pairs.losses.cpc import NEGATIVE_MODES, cpc_loss
from pairs.methods import register_method
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch
from pairs.validation import integer
from pairs.views.base import derive_seed

__all__ = ["CPC"]


class CPC(Method):
    """CPC's training objective on single sequences (one view per sample).

    Args:
        encoder: the latent encoder: one with ``frames(x) -> (B, T', D)`` (``cpc_conv``) or any encoder
            mapping ``(B, C, L)`` to ``(B, D)`` (applied to non-overlapping patches).
        steps: ``K``, how many future steps to predict (CPC audio: 12).
        context: ``"gru"`` (CPC's choice), ``"lstm"`` or ``"transformer"`` (causal).
        context_dim: size of ``c_t`` (CPC audio: 256).
        context_layers: layers of the context network.
        predictor_hidden: ``None`` for CPC's linear predictors, an int for a small MLP per step.
        negatives: negatives per positive.
        negatives_from: ``"same"`` sequence, other sequences of the ``"batch"``, or ``"both"``.
        temperature: InfoNCE temperature (CPC: 1 with dot scores; wav2vec 2.0: 0.1 with cosine scores).
        score: ``"dot"`` (CPC's log-bilinear ``z^T W_k c_t``) or ``"cosine"`` (normalised, as wav2vec 2.0;
            trains much faster on raw audio, where dot scores tend to stall at the chance-level plateau).
        patch_len: patch length (patch mode; ``None``: the input length divided by ``patches``).
        patches: latents per sequence in patch mode when ``patch_len`` is ``None``.
        seed: seed of the negative draws.
        acc_window: training batches over which :meth:`step_accuracies` averages.

    Raises:
        ValueError: ``steps < 1``, an unknown context or negatives mode, ``negatives < 1``,
            ``patches <= steps``; in forward, sequences with ``K`` or fewer latents or more negatives
            than candidates.
        TypeError: (forward) a batch that is not a tensor of sequences.

    With two views per sample (``n_views=2``, time-aligned, e.g. two differently augmented copies of the
    same window), the targets and negatives ``z`` come from ``views[0]`` and the context ``c`` from
    ``views[1]``: what the two copies do not share (an augmentation's channel, noise, gain) cannot be used
    to tell the positive from the negatives (CPC with augmented past, Kharitonov et al. 2021).

    Shape:
        ``batch.views[0]``: ``(B, C, T)`` -> ``loss ()``; ``embeddings``: ``(B, H)`` mean-pooled contexts;
        scalars ``loss_k1..loss_kK`` and ``acc_k1..acc_kK`` (per-step InfoNCE and top-1 accuracy).

    Reference:
        van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding";
        Kharitonov et al. 2021, "Data Augmenting Contrastive Learning of Speech Representations in the
        Time Domain" (augmenting the context's input).
    """

    supports_model_views = False

    n_views = 1
    default_views = "cpc_window"
    encoder: CPCModel
    step: Tensor
    acc_history: Tensor
    acc_filled: Tensor

    def __init__(
        self,
        encoder: nn.Module,
        steps: int = 12,
        context: str = "gru",
        context_dim: int = 256,
        context_layers: int = 1,
        predictor_hidden: int | None = None,
        negatives: int = 10,
        negatives_from: str = "both",
        temperature: float = 1.0,
        score: str = "dot",
        patch_len: int | None = None,
        patches: int = 32,
        seed: int = 0,
        acc_window: int = 20,
    ) -> None:
        self.steps = integer("steps (K, the number of predicted future steps)", steps, minimum=1, owner="CPC")
        self.negatives = integer("negatives", negatives, minimum=1, owner="CPC")
        if negatives_from not in NEGATIVE_MODES:
            raise ValueError(
                f"CPC: negatives_from must be one of {', '.join(NEGATIVE_MODES)}, got {negatives_from!r}"
            )
        self.negatives_from = negatives_from
        if not float(temperature) > 0:
            raise ValueError(f"CPC: temperature must be > 0, got {temperature!r}")
        self.temperature = float(check_temperature(temperature))
        if score not in ("dot", "cosine"):
            raise ValueError(f"CPC: score must be 'dot' or 'cosine', got {score!r}")
        self.score = score
        patches = integer("patches", patches, minimum=2, owner="CPC")
        if patches <= self.steps:
            raise ValueError(
                f"CPC: patches ({patches}) must exceed steps ({self.steps}) so that some c_t has K future "
                "latents"
            )
        latents = LatentSequence(encoder, patch_len=patch_len, patches=patches)
        ctx = build_context(
            context,
            latents.out_dim,
            integer("context_dim", context_dim, minimum=1, owner="CPC"),
            context_layers,
        )
        super().__init__(CPCModel(latents, ctx))
        self.context_kind = str(context).lower()
        self.predictors = StepPredictors(self.encoder.out_dim, latents.out_dim, self.steps, predictor_hidden)
        self.seed = int(seed)
        window = integer("acc_window", acc_window, minimum=1, owner="CPC")
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("acc_history", torch.zeros(window, self.steps))
        self.register_buffer("acc_filled", torch.zeros((), dtype=torch.long))

    def _min_length_hint(self) -> str:
        latents = cast(LatentSequence, self.encoder.latents)
        if latents.uses_frames:
            hop = getattr(latents.encoder, "hop", None)
            if isinstance(hop, int):
                return f"; give inputs of at least {(self.steps + 1) * hop} samples ({hop} per latent)"
            return ""
        if latents.patch_len is not None:
            return f"; give inputs of at least {(self.steps + 1) * latents.patch_len} samples"
        return f"; give inputs of at least {latents.patches} samples"

    def forward(self, batch: ViewBatch) -> MethodOutput:
        """Encode, predict every step from every context, score with InfoNCE.

        Returns:
            ``{"loss", "embeddings", "loss_k1", ..., "acc_k1", ...}``.
        """
        x = batch.views[0] if batch.views else None
        if not isinstance(x, Tensor):
            raise SettingError(
                f"CPC trains on tensor sequences (B, C, T), got {type(x).__name__}; use --views cpc_window "
                "(a random fixed-length window of each sequence)"
            )
        if len(batch.views) > 1:  # a second view feeds the context (augmented past, clean targets)
            past = batch.views[1]
            if not isinstance(past, Tensor) or past.shape != x.shape:
                raise ConfigError(
                    "CPC's second view (the context's input) must be a tensor of the first view's shape "
                    f"{tuple(x.shape)}, time-aligned with it; got "
                    f"{tuple(past.shape) if isinstance(past, Tensor) else type(past).__name__}"
                )
            z = self.encoder.latents(x)
            c = self.encoder.context(self.encoder.latents(past))
        else:
            z, c = self.encoder.sequences(x)
        if z.shape[1] <= self.steps:
            raise ConfigError(
                f"CPC with K={self.steps} steps needs more than {self.steps} latents per sequence, but "
                f"inputs of length {x.shape[-1]} give {z.shape[1]} (the encoder's receptive field/stride "
                "plus K steps)" + self._min_length_hint()
            )
        predictions = self.predictors(c)  # (K, B, T, D)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, int(self.step.item())))
        out = cpc_loss(
            predictions,
            z,
            self.negatives,
            self.negatives_from,
            generator,
            self.temperature,
            normalize=self.score == "cosine",
        )
        if self.training:
            with torch.no_grad():
                row = int(self.step.item()) % self.acc_history.shape[0]
                self.acc_history[row] = out.step_accuracy.to(self.acc_history)
                self.acc_filled.clamp_(max=self.acc_history.shape[0] - 1).add_(1)
                self.step += 1
        logs: dict[str, Any] = {}
        for k in range(self.steps):
            logs[f"loss_k{k + 1}"] = float(out.step_losses[k])
            logs[f"acc_k{k + 1}"] = float(out.step_accuracy[k])
        return MethodOutput(out.loss, c.detach().mean(dim=1), logs)

    def step_accuracies(self) -> dict[str, float]:
        """Mean per-step accuracy over the last ``acc_window`` training batches: ``{"acc_k1": ..., ...}``
        (empty before any training step)."""
        n = int(self.acc_filled.item())
        if n == 0:
            return {}
        mean = self.acc_history[:n].mean(dim=0)
        return {f"acc_k{k + 1}": round(float(mean[k]), 4) for k in range(self.steps)}

    def training_report(self) -> dict[str, float]:
        """The mean per-step accuracy over the last batches (:meth:`step_accuracies`)."""
        return self.step_accuracies()

    def extra_repr(self) -> str:
        return (
            f"steps={self.steps}, context={self.context_kind!r}, negatives={self.negatives}, "
            f"negatives_from={self.negatives_from!r}, score={self.score!r}, temperature={self.temperature}"
        )


register_method("cpc", CPC)
