"""CPC's loss: InfoNCE per future step, with negatives sampled from the same sequence, the batch, or both.

For step ``k`` and every position ``t`` with ``t + k < T``, the prediction ``p_{t,k} = W_k c_t`` is scored
against the true future latent ``z_{t+k}`` (the positive) and ``N`` sampled latents (the negatives) with
the log-bilinear score ``<p_{t,k}, z> / temperature`` (or, with ``normalize=True``, the cosine
similarity over the temperature, as wav2vec 2.0):

``L_k = mean_{b,t} -log softmax([s(p, z_{t+k}), s(p, z_neg_1), ..., s(p, z_neg_N)])[0]``,

and the loss is the mean of ``L_k`` over ``k = 1..K``. The step accuracy is the fraction of positions
whose positive scores strictly above every negative (chance: ``1 / (N + 1)``).

Negative candidates, for the positive at ``(b, t + k)``:

* ``"same"``: every other position of sequence ``b`` (``T - 1`` candidates);
* ``"batch"``: every position of every other sequence (``(B - 1) T`` candidates);
* ``"both"``: every position of every sequence except the positive (``B T - 1`` candidates).

Negatives are drawn uniformly with replacement (as the CPC reference implementations) from an explicit
``torch.Generator``; the positive is never among them.

Reference:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding",
    section 2.3 (InfoNCE) and 3.1 (audio: negatives from the same and other sequences).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
from torch import Tensor

from pairs.losses._checks import finite_loss

__all__ = [
    "NEGATIVE_MODES",
    "CPCLossOutput",
    "cpc_loss",
    "cpc_step_logits",
    "negative_candidates",
    "sample_negatives",
]

NEGATIVE_MODES = ("same", "batch", "both")


class CPCLossOutput(NamedTuple):
    """What :func:`cpc_loss` returns.

    Attributes:
        loss: scalar, the mean of the per-step losses.
        step_losses: ``(K,)`` InfoNCE of each step (detached).
        step_accuracy: ``(K,)`` fraction of positions whose positive is ranked first (detached).
    """

    loss: Tensor
    step_losses: Tensor
    step_accuracy: Tensor


def _check_mode(mode: str) -> str:
    if mode not in NEGATIVE_MODES:
        raise ValueError(f"negatives must come from one of {', '.join(NEGATIVE_MODES)}; got {mode!r}")
    return mode


def negative_candidates(batch: int, length: int, mode: str) -> int:
    """How many distinct negatives exist for one positive in a ``(batch, length)`` latent grid."""
    mode = _check_mode(mode)
    if mode == "same":
        return length - 1
    if mode == "batch":
        return (batch - 1) * length
    return batch * length - 1


def sample_negatives(
    batch: int,
    length: int,
    step: int,
    n_negatives: int,
    mode: str,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> Tensor:
    """Indices of negatives into the flattened latents ``z.reshape(batch * length, D)``.

    Args:
        batch: ``B``, sequences in the batch.
        length: ``T``, latents per sequence.
        step: ``k``; the positive of position ``(b, t)`` is ``(b, t + k)``, for ``t < T - k``.
        n_negatives: ``N`` per positive.
        mode: ``"same"``, ``"batch"`` or ``"both"`` (see the module docstring).
        generator: source of the draws (a CPU generator; indices are moved to ``device``).
        device: where the returned indices live.

    Returns:
        int64 ``(B, T - k, N)``; never the positive's index; for ``"same"`` always in sequence ``b``, for
        ``"batch"`` never in it.

    Raises:
        ValueError: if ``step`` is not in ``[1, T)``, ``N < 1``, the mode is unknown, or ``N`` exceeds the
            number of candidates (e.g. ``"batch"`` with one sequence).
    """
    mode = _check_mode(mode)
    if isinstance(n_negatives, bool) or not isinstance(n_negatives, numbers.Integral) or n_negatives < 1:
        raise ValueError(f"the number of negatives must be an int >= 1, got {n_negatives!r}")
    if not 1 <= step < length:
        raise ValueError(
            f"prediction step k={step} needs sequences of more than k latents, got {length} latent(s)"
        )
    n_cand = negative_candidates(batch, length, mode)
    if n_negatives > n_cand:
        raise ValueError(
            f"{n_negatives} negatives asked for, but with negatives from {mode!r} only {n_cand} candidate(s) "
            f"exist (batch {batch}, {length} latents per sequence); use fewer negatives, a larger batch, "
            "longer sequences, or another negatives mode"
        )
    n_pos = length - step
    r = torch.randint(0, n_cand, (batch, n_pos, n_negatives), generator=generator)
    b = torch.arange(batch)[:, None, None]
    target = torch.arange(step, length)[None, :, None]  # positive position t + k
    if mode == "same":
        j = r + (r >= target).long()
        idx = b * length + j
    elif mode == "batch":
        other = r // length
        other = other + (other >= b).long()
        idx = other * length + r % length
    else:
        pos = b * length + target
        idx = r + (r >= pos).long()
    return idx.to(device) if device is not None else idx


def cpc_step_logits(
    prediction: Tensor,
    latents: Tensor,
    step: int,
    negatives: Tensor,
    temperature: float = 1.0,
    normalize: bool = False,
) -> Tensor:
    """Scores of each position's positive (column 0) and its negatives (columns 1..N) for one step.

    Args:
        prediction: ``(B, T - k, D)``, ``W_k c_t`` for ``t < T - k``.
        latents: ``(B, T, D)``, the latents ``z``.
        step: ``k``.
        negatives: ``(B, T - k, N)`` indices from :func:`sample_negatives`.
        temperature: scores are divided by it.
        normalize: cosine scores (L2-normalised prediction and latents) instead of dot products.

    Returns:
        ``(B, T - k, 1 + N)`` logits in float32 (float64 for float64 inputs).
    """
    b, t, d = latents.shape
    dtype = torch.promote_types(torch.promote_types(prediction.dtype, latents.dtype), torch.float32)
    prediction = prediction.to(dtype)
    latents = latents.to(dtype)
    if normalize:
        prediction = torch.nn.functional.normalize(prediction, dim=-1)
        latents = torch.nn.functional.normalize(latents, dim=-1)
    pos = (prediction * latents[:, step:]).sum(-1, keepdim=True)
    neg_z = latents.reshape(b * t, d)[negatives]  # (B, T-k, N, D)
    neg = torch.einsum("bld,blnd->bln", prediction, neg_z)
    return torch.cat([pos, neg], dim=-1) / temperature


@finite_loss
def cpc_loss(
    predictions: Tensor,
    latents: Tensor,
    n_negatives: int = 10,
    mode: str = "both",
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    normalize: bool = False,
) -> CPCLossOutput:
    """InfoNCE of every future step, averaged over steps (see the module docstring).

    Args:
        predictions: ``(K, B, T, D)``, step ``k``'s prediction from every ``c_t`` (positions ``t >= T - k``
            have no target and are ignored).
        latents: ``(B, T, D)``, the latents ``z_t`` (targets and negatives).
        n_negatives: ``N`` negatives per positive.
        mode: where negatives come from: ``"same"``, ``"batch"`` or ``"both"``.
        generator: CPU generator for the negative draws (steps drawn in order ``k = 1..K``); ``None``: a
            generator seeded with 0.
        temperature: scores are divided by it (CPC: 1).
        normalize: cosine instead of dot-product scores (wav2vec 2.0's choice, with temperature 0.1); the
            dot product of CPC can stall on a plateau where every score is equal.

    Returns:
        :class:`CPCLossOutput` ``(loss, step_losses (K,), step_accuracy (K,))``.

    Raises:
        ValueError: on mismatched shapes, ``T <= K``, a bad mode or too many negatives.

    Shape:
        ``(K, B, T, D)``, ``(B, T, D)`` -> scalar, ``(K,)``, ``(K,)``.

    Reference:
        van den Oord et al. 2018 (CPC), eq. 4.
    """
    if predictions.dim() != 4 or latents.dim() != 3 or predictions.shape[1:] != latents.shape:
        raise ValueError(
            f"cpc_loss expects predictions (K, B, T, D) and latents (B, T, D) of the same B, T, D; got "
            f"{tuple(predictions.shape)} and {tuple(latents.shape)}"
        )
    if not float(temperature) > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    k_max, b, t, _ = predictions.shape
    if t <= k_max:
        raise ValueError(
            f"predicting K={k_max} steps ahead needs more than K latents per sequence, got {t}; use longer "
            "sequences or fewer steps"
        )
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    losses, accs = [], []
    for k in range(1, k_max + 1):
        idx = sample_negatives(b, t, k, n_negatives, mode, generator, latents.device)
        logits = cpc_step_logits(
            predictions[k - 1, :, : t - k], latents, k, idx, float(temperature), normalize
        )
        log_prob = torch.log_softmax(logits, dim=-1)[..., 0]
        losses.append(-log_prob.mean())
        accs.append((logits[..., 0] > logits[..., 1:].amax(dim=-1)).float().mean())
    step_losses = torch.stack(losses)
    return CPCLossOutput(step_losses.mean(), step_losses.detach(), torch.stack(accs).detach())
