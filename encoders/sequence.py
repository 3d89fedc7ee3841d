"""Sequence parts of Contrastive Predictive Coding: latent sequences, context networks, step predictors.

* :class:`LatentSequence` turns a batch into a sequence of latents ``z_t`` ``(B, T', D)``: the encoder's own
  frames when it has a ``frames`` method (CPC's strided waveform conv, one latent per 10 ms), otherwise
  non-overlapping patches of the input, each encoded on its own (any encoder mapping ``(B, C, L)`` to
  ``(B, D)``, e.g. TS2Vec's dilated conv or the log-mel CNN). Patches keep ``z_t`` from seeing the inputs
  of ``z_{t+k}``, so predicting the future cannot be solved by overlapping receptive fields.
* Context networks (``c_t`` from ``z_<=t``): :class:`GRUContext` (CPC's default), :class:`LSTMContext` and
  :class:`CausalTransformerContext` (causal self-attention with sinusoidal positions); :func:`build_context`
  picks one by name.
* :class:`StepPredictors`: one linear map (or small MLP) per future step ``k = 1..K``, applied to every
  ``c_t``.
* :class:`CPCModel`: latent sequence + context network; ``forward`` gives the mean-pooled context features
  ``(B, out_dim)`` (what evaluation uses), :meth:`CPCModel.sequences` gives ``(z, c)``.

Reference:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding".
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from pairs.validation import positive_int

__all__ = [
    "CONTEXT_KINDS",
    "CPCModel",
    "CausalTransformerContext",
    "GRUContext",
    "LSTMContext",
    "LatentSequence",
    "StepPredictors",
    "build_context",
]

CONTEXT_KINDS = ("gru", "lstm", "transformer")


def _check_sequence(z: object, in_dim: int, owner: str) -> Tensor:
    if not isinstance(z, Tensor):
        raise TypeError(f"{owner} expects a latent sequence tensor (B, T, D), got {type(z).__name__}")
    if z.dim() != 3 or z.shape[-1] != in_dim:
        raise ValueError(f"{owner} expects latents (B, T, {in_dim}), got shape {tuple(z.shape)}")
    return z


def _int_attr(module: nn.Module, name: str) -> int:
    """``int(module.<name>)`` (an attribute such as ``out_dim``; AttributeError when it has none)."""
    return int(getattr(module, name))


class LatentSequence(nn.Module):
    """A sequence of latents ``z_t`` from any encoder.

    Args:
        encoder: an encoder with an int ``out_dim``. With a ``frames(x) -> (B, T', D)`` method (e.g.
            ``cpc_conv``) its frames are the latents; otherwise the input ``(B, C, T)`` is cut into
            non-overlapping patches of ``patch_len`` samples along the last axis, and each patch is encoded
            on its own to one latent.
        patch_len: patch length in input samples (patch mode only). ``None``: ``T // patches`` per batch.
        patches: number of patches per sequence when ``patch_len`` is ``None`` (patch mode only).

    Raises:
        TypeError: if ``encoder`` is not an ``nn.Module`` with an int ``out_dim``.
        ValueError: on a bad ``patch_len``/``patches``, or (at call time) an input too short for two
            latents or patches too short for the encoder.

    Shape:
        ``(B, C, T)`` (or ``(B, T)`` for frame encoders) -> ``(B, T', out_dim)``.
    """

    def __init__(self, encoder: nn.Module, patch_len: int | None = None, patches: int = 32) -> None:
        super().__init__()
        out_dim = getattr(encoder, "out_dim", None)
        if not isinstance(encoder, nn.Module) or not isinstance(out_dim, int):
            raise TypeError(
                f"LatentSequence needs an nn.Module encoder with an int out_dim, got {type(encoder).__name__}"
            )
        self.encoder = encoder
        self.out_dim = int(out_dim)
        self.uses_frames = callable(getattr(encoder, "frames", None))
        self.patch_len = (
            None if patch_len is None else positive_int("patch_len", patch_len, owner="LatentSequence")
        )
        self.patches = positive_int("patches", patches, owner="LatentSequence")
        try:
            self._takes_mask = "mask" in inspect.signature(encoder.forward).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            self._takes_mask = False

    def resolved_patch_len(self, length: int) -> int:
        """Patch length used for inputs of ``length`` samples (patch mode)."""
        return self.patch_len if self.patch_len is not None else max(1, length // self.patches)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"LatentSequence expects a tensor batch (B, C, T), got {type(x).__name__}")
        if self.uses_frames:
            frames = cast(Callable[[Tensor], Tensor], self.encoder.frames)  # checked callable in __init__
            return frames(x)
        if x.dim() != 3:
            raise ValueError(f"LatentSequence (patch mode) expects (B, C, T), got shape {tuple(x.shape)}")
        b, c, t = x.shape
        p = self.resolved_patch_len(t)
        n = t // p
        if n < 2:
            raise ValueError(
                f"sequences of length {t} give {n} patch(es) of {p} samples; CPC needs at least 2 latents "
                "(use longer sequences or a smaller patch_len)"
            )
        patches = x[..., : n * p].reshape(b, c, n, p).permute(0, 2, 1, 3).reshape(b * n, c, p)
        try:
            if self._takes_mask:  # TS2Vec's encoder: no random timestamp masking inside CPC (seeded runs)
                keep = torch.ones(b * n, p, dtype=torch.bool, device=x.device)
                out = self.encoder(patches, mask=keep)
            else:
                out = self.encoder(patches)
        except RuntimeError as err:
            raise ValueError(
                f"{type(self.encoder).__name__} cannot encode patches of {p} samples ({n} patches of a "
                f"length-{t} input): {str(err).splitlines()[0]}; use longer sequences, fewer patches or a "
                "larger patch_len"
            ) from err
        return out.reshape(b, n, -1)

    def extra_repr(self) -> str:
        mode = (
            "frames" if self.uses_frames else f"patches(patch_len={self.patch_len}, patches={self.patches})"
        )
        return f"mode={mode}, out_dim={self.out_dim}"


class _RNNContext(nn.Module):
    """A unidirectional recurrent context network over the latents (``rnn_type``: ``nn.GRU`` or ``nn.LSTM``).

    Args:
        in_dim: latent size ``D``.
        hidden: context size.
        layers: stacked recurrent layers.

    Shape:
        ``(B, T, in_dim) -> (B, T, hidden)``; ``c_t`` depends only on ``z_<=t``.
    """

    rnn_type: type[nn.GRU] | type[nn.LSTM] = nn.GRU

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 1) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = positive_int("in_dim", in_dim, owner=owner)
        self.out_dim = positive_int("hidden", hidden, owner=owner)
        layers = positive_int("layers", layers, owner=owner)
        self.rnn = self.rnn_type(in_dim, hidden, layers, batch_first=True)

    def forward(self, z: Tensor) -> Tensor:
        return self.rnn(_check_sequence(z, self.in_dim, type(self).__name__))[0]


class GRUContext(_RNNContext):
    """CPC's autoregressive context: a unidirectional GRU over the latents (the arguments and shapes of
    :class:`_RNNContext`; ``hidden`` is 256 in the CPC paper's audio model)."""

    rnn_type = nn.GRU


class LSTMContext(_RNNContext):
    """A unidirectional LSTM context network (the arguments and shapes of :class:`_RNNContext`)."""

    rnn_type = nn.LSTM


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> Tensor:
    """Vaswani et al.'s sinusoidal position codes ``(length, dim)``."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / max(dim, 1))
    )
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out


class CausalTransformerContext(nn.Module):
    """A causal Transformer context network: ``c_t`` attends to ``z_<=t`` only.

    Args:
        in_dim: latent size ``D``.
        hidden: model width and context size.
        layers: encoder layers.
        heads: attention heads (must divide ``hidden``).
        dropout: dropout inside the layers.

    Raises:
        ValueError: on bad sizes.

    Shape:
        ``(B, T, in_dim) -> (B, T, hidden)``.

    Reference:
        Vaswani et al. 2017, "Attention Is All You Need" (causal masking as in decoder self-attention).
    """

    def __init__(self, in_dim: int, hidden: int = 256, layers: int = 2, heads: int = 4, dropout: float = 0.0):
        super().__init__()
        owner = "CausalTransformerContext"
        self.in_dim = positive_int("in_dim", in_dim, owner=owner)
        self.out_dim = positive_int("hidden", hidden, owner=owner)
        heads = positive_int("heads", heads, owner=owner)
        if hidden % heads:
            raise ValueError(f"{owner}: heads ({heads}) must divide hidden ({hidden})")
        self.proj = nn.Linear(in_dim, hidden)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, dim_feedforward=2 * hidden, dropout=float(dropout), batch_first=True
        )
        self.net = nn.TransformerEncoder(
            layer, positive_int("layers", layers, owner=owner), enable_nested_tensor=False
        )

    def forward(self, z: Tensor) -> Tensor:
        z = _check_sequence(z, self.in_dim, "CausalTransformerContext")
        t = z.shape[1]
        h = self.proj(z) + sinusoidal_positions(t, self.out_dim, z.device).to(z.dtype)
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=z.device, dtype=h.dtype)
        return self.net(h, mask=mask, is_causal=True)


def build_context(kind: str, in_dim: int, hidden: int = 256, layers: int = 1, **kwargs: object) -> nn.Module:
    """Build a context network by name: ``"gru"`` (default in CPC), ``"lstm"`` or ``"transformer"``.

    Raises:
        ValueError: unknown ``kind`` (the message lists the known ones).
    """
    kind = str(kind).lower()
    if kind == "gru":
        return GRUContext(in_dim, hidden, layers)
    if kind == "lstm":
        return LSTMContext(in_dim, hidden, layers)
    if kind == "transformer":
        return CausalTransformerContext(in_dim, hidden, layers, **kwargs)  # type: ignore[arg-type]
    raise ValueError(f"unknown context network {kind!r}; expected one of {', '.join(CONTEXT_KINDS)}")


class StepPredictors(nn.Module):
    """One predictor per future step: ``W_k c_t`` approximates ``z_{t+k}`` for ``k = 1..steps``.

    Args:
        context_dim: size of ``c_t``.
        latent_dim: size of ``z_t``.
        steps: ``K``, the number of future steps.
        hidden: ``None`` for CPC's linear maps; an int for a small MLP (Linear-ReLU-Linear) per step.

    Raises:
        ValueError: if ``steps < 1`` or a size is not a positive int.

    Shape:
        ``(B, T, context_dim) -> (K, B, T, latent_dim)``: every ``c_t`` predicts every step.
    """

    heads: nn.ModuleList  # declared for the type checker (mypy cannot determine it otherwise)

    def __init__(self, context_dim: int, latent_dim: int, steps: int, hidden: int | None = None) -> None:
        super().__init__()
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"StepPredictors: steps (K) must be an int >= 1, got {steps!r}")
        self.steps = int(steps)
        context_dim = positive_int("context_dim", context_dim, owner="StepPredictors")
        latent_dim = positive_int("latent_dim", latent_dim, owner="StepPredictors")
        heads: list[nn.Module]
        if hidden is None:
            heads = [nn.Linear(context_dim, latent_dim) for _ in range(self.steps)]
        else:
            h = positive_int("hidden", hidden, owner="StepPredictors")
            heads = [
                nn.Sequential(nn.Linear(context_dim, h), nn.ReLU(), nn.Linear(h, latent_dim))
                for _ in range(self.steps)
            ]
        self.heads = nn.ModuleList(heads)

    def forward(self, c: Tensor) -> Tensor:
        return torch.stack([head(c) for head in self.heads])


class CPCModel(nn.Module):
    """Latent encoder + autoregressive context network; evaluated as mean-pooled context features.

    Args:
        latents: a :class:`LatentSequence` (or any module mapping a batch to ``(B, T', D)`` with ``out_dim``).
        context: a context network ``(B, T', D) -> (B, T', H)`` with ``out_dim``.

    Shape:
        ``forward``: batch -> ``(B, H)`` (mean of ``c_t`` over time); :meth:`sequences`: batch ->
        ``z (B, T', D)``, ``c (B, T', H)``.

    Reference:
        van den Oord et al. 2018 (CPC): "c_t ... can be used as representation"; mean-pooled for utterances.
    """

    def __init__(self, latents: nn.Module, context: nn.Module) -> None:
        super().__init__()
        self.latents = latents
        self.context = context
        self.latent_dim = _int_attr(latents, "out_dim")
        self.out_dim = _int_attr(context, "out_dim")
        if int(getattr(context, "in_dim", self.latent_dim)) != self.latent_dim:
            raise ValueError(
                f"CPCModel: the context network takes {context.in_dim}-d inputs, but the latents are "
                f"{self.latent_dim}-d"
            )

    def sequences(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, c)``: the latent sequence and the context at every step."""
        z = self.latents(x)
        return z, self.context(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.sequences(x)[1].mean(dim=1)
