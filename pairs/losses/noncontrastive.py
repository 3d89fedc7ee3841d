"""Non-contrastive self-supervised objectives: BYOL/SimSiam, Barlow Twins, VICReg, SwAV, DINO.

These losses use no negative pairs; collapse is avoided by a stop-gradient plus a predictor
(BYOL/SimSiam), by decorrelating features (Barlow Twins, VICReg), by an equipartition constraint
(SwAV's Sinkhorn-Knopp codes) or by centring and sharpening a teacher (DINO). Every loss is a pure
function plus a thin :class:`torch.nn.Module`; only :class:`DINOLoss` holds state (its centre).

Precision: float16 / bfloat16 inputs are computed internally in float32 (batch statistics, cross-
correlations, softmaxes at temperature 0.04 and Sinkhorn's exponentials are not stable in half
precision) and the loss is returned in float32 (see ``_checks.loss_dtype``). float32 and float64 are
computed in their own dtype (Sinkhorn-Knopp runs in float64 for float64 scores and in float32 otherwise).

Distributed training: the functions that take ``gather_distributed`` compute their batch statistics
over the global batch (all ranks) when ``torch.distributed`` is initialised with more than one process;
gradients flow back through :func:`pairs.losses.distributed.gather_with_grad`. Without it, statistics
are per rank (what the papers' single-GPU code does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from pairs.losses._checks import (
    check_embeddings,
    check_pair,
    check_same_kind,
    check_temperature,
    finite_loss,
    l2_normalize,
    loss_dtype,
)
from pairs.losses._module import LossModule
from pairs.losses.distributed import gather_sizes, gather_with_grad, is_distributed, world_size
from pairs.validation import HALF_DTYPES, finite_float, flag, integer

__all__ = [
    "byol_loss",
    "simsiam_loss",
    "NegativeCosineLoss",
    "barlow_twins_loss",
    "BarlowTwinsLoss",
    "vicreg_terms",
    "vicreg_loss",
    "VICRegLoss",
    "sinkhorn_knopp",
    "swav_loss",
    "SwAVLoss",
    "dino_loss",
    "DINOLoss",
]

_HALF = HALF_DTYPES


# --------------------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------------------
def _upcast(x: Tensor) -> Tensor:
    """float16/bfloat16 -> float32; other dtypes unchanged."""
    return x.float() if x.dtype in _HALF else x


def _check_nonneg(value: object, name: str, *, strict: bool = False) -> float:
    return finite_float(name, value, minimum=0, strict=strict)


def _check_int(value: object, name: str, low: int) -> int:
    return integer(name, value, minimum=low)


def _check_bool(value: object, name: str) -> bool:
    return flag(name, value)


def _check_crops(crops: object, name: str, min_len: int = 1) -> list[Tensor]:
    """A non-empty list/tuple of finite (B, K) tensors of one shape, dtype and device."""
    if isinstance(crops, Tensor) or not isinstance(crops, Sequence):
        raise TypeError(
            f"{name} must be a list of (B, K) tensors, one per crop, got {type(crops).__name__}; "
            "wrap a single tensor as [t]"
        )
    if len(crops) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} crop(s), got {len(crops)}")
    out = [check_embeddings(c, f"{name}[{i}]", 2) for i, c in enumerate(crops)]
    first = out[0]
    for i, c in enumerate(out[1:], start=1):
        if c.shape != first.shape or c.dtype != first.dtype or c.device != first.device:
            raise ValueError(
                f"all crops in {name} must share shape, dtype and device; {name}[0] is "
                f"{tuple(first.shape)} {first.dtype} on {first.device}, {name}[{i}] is "
                f"{tuple(c.shape)} {c.dtype} on {c.device}"
            )
    return out


def _maybe_gather(x: Tensor, gather: bool) -> Tensor:
    if gather and is_distributed() and world_size() > 1:
        return gather_with_grad(x)
    return x


def _off_diagonal_sq_sum(m: Tensor) -> Tensor:
    """Sum of the squared off-diagonal entries of a square matrix (masked, no cancellation)."""
    eye = torch.eye(m.shape[0], dtype=torch.bool, device=m.device)
    return m.pow(2).masked_fill(eye, 0.0).sum()


# --------------------------------------------------------------------------------------------------
# BYOL / SimSiam
# --------------------------------------------------------------------------------------------------
def _cosine(p: Tensor, z: Tensor) -> Tensor:
    return (l2_normalize(_upcast(p)) * l2_normalize(_upcast(z.detach()))).sum(-1)


@finite_loss
def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    """BYOL's normalised regression loss ``mean_i (2 - 2 cos(p_i, z_i))`` (Grill et al. 2020, eq. 2).

    Equal to ``mean_i || p_i/|p_i| - z_i/|z_i| ||^2``. ``z`` (the target network's projection) is
    **detached inside** (stop-gradient): no gradient flows into ``z``. This is one direction; BYOL
    symmetrises by adding ``byol_loss(p2, z1)``. The minimum 0 is reached when ``p_i`` and ``z_i`` are
    parallel.

    Reference: Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020. https://arxiv.org/abs/2006.07733

    Args:
        p: online predictions.
        z: target projections (detached).

    Returns:
        Scalar loss in ``[0, 4]``, dtype of ``p`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor or non-float inputs.
        ValueError: shape mismatch, NaN/inf, empty input.

    Shape:
        p, z: ``(B, D)``; output: ``()``.
    """
    check_pair(p, z, "p", "z")
    return (2.0 - 2.0 * _cosine(p, z)).mean().to(loss_dtype(p.dtype))


@finite_loss
def simsiam_loss(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's negative cosine similarity ``-mean_i cos(p_i, z_i)`` (Chen & He 2021, eq. 1).

    ``z`` is **detached inside** (the stop-gradient that makes SimSiam work). One direction only; the
    paper's symmetric loss is ``0.5 * (simsiam_loss(p1, z2) + simsiam_loss(p2, z1))``. Minimum ``-1``
    for parallel ``p_i`` and ``z_i``.

    Reference: Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021.
    https://arxiv.org/abs/2011.10566

    Args:
        p: predictor outputs.
        z: projections of the other view (detached).

    Returns:
        Scalar loss in ``[-1, 1]``, dtype of ``p`` (computed in float32 for half inputs).

    Raises and shape: as :func:`byol_loss`.
    """
    check_pair(p, z, "p", "z")
    return (-_cosine(p, z)).mean().to(loss_dtype(p.dtype))


class NegativeCosineLoss(nn.Module):
    """Module form of :func:`simsiam_loss`: ``-mean cos(p, stopgrad(z))`` (Chen & He 2021).

    Shape:
        p, z: ``(B, D)``; output: ``()``.
    """

    def forward(self, p: Tensor, z: Tensor) -> Tensor:
        return simsiam_loss(p, z)


# --------------------------------------------------------------------------------------------------
# Barlow Twins
# --------------------------------------------------------------------------------------------------
@finite_loss
def barlow_twins_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    lambda_offdiag: float = 5.1e-3,
    eps: float = 1e-5,
    gather_distributed: bool = False,
) -> Tensor:
    """Barlow Twins redundancy-reduction loss (Zbontar et al. 2021, eq. 1 and Algorithm 1).

    Each feature is standardised over the batch (``BatchNorm1d(affine=False)`` in training mode:
    biased variance, ``eps`` inside the square root); with ``C = z1_n^T z2_n / B`` the
    ``(D, D)`` cross-correlation matrix::

        loss = sum_i (1 - C_ii)^2 + lambda_offdiag * sum_{i != j} C_ij^2

    The minimum (0, up to ``eps``) is reached when the two views' features are perfectly correlated
    and mutually decorrelated (``C = I``). The loss is symmetric in ``z1`` and ``z2``.

    With ``gather_distributed=True`` and an initialised process group, the features of all ranks are
    gathered (with gradient) first, so ``C`` is computed over the global batch as in the paper's
    multi-GPU code (which all-reduces ``C`` after a synchronised BatchNorm).

    Reference: Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins: Self-Supervised Learning via
    Redundancy Reduction", ICML 2021. https://arxiv.org/abs/2103.03230

    Args:
        z1: projections of the first view.
        z2: projections of the second view.
        lambda_offdiag: weight ``>= 0`` of the redundancy-reduction (off-diagonal) term; 5.1e-3 in the
            paper's code.
        eps: ``> 0`` added to the variance when standardising.
        gather_distributed: compute the statistics over all ranks.

    Returns:
        Scalar loss in the dtype of ``z1`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor or non-float inputs, badly typed parameters.
        ValueError: shape mismatch, NaN/inf, ``B < 2``, negative ``lambda_offdiag``, ``eps <= 0``.

    Shape:
        z1, z2: ``(B, D)``; output: ``()``.
    """
    check_pair(z1, z2, "z1", "z2", min_rows=2)
    lam = _check_nonneg(lambda_offdiag, "lambda_offdiag")
    e = _check_nonneg(eps, "eps", strict=True)
    _check_bool(gather_distributed, "gather_distributed")
    a = _maybe_gather(_upcast(z1), gather_distributed)
    b = _maybe_gather(_upcast(z2), gather_distributed)
    n = a.shape[0]
    c = _standardise(a, e).T @ _standardise(b, e) / n
    on_diag = (c.diagonal() - 1.0).pow(2).sum()
    loss = on_diag + lam * _off_diagonal_sq_sum(c)
    return loss.to(loss_dtype(z1.dtype))


def _standardise(z: Tensor, eps: float) -> Tensor:
    """Per-feature standardisation over the batch, as ``BatchNorm1d(affine=False)`` in training mode.

    Computed on each centred feature divided by its largest magnitude ``s`` (detached), with ``eps / s^2``
    in place of ``eps``: the same value and gradient, but the variance of features near 1e30 cannot
    overflow (nor that of tiny ones underflow).
    """
    centred = z - z.mean(0, keepdim=True)
    s = centred.detach().abs().amax(0, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)
    cs = centred / s
    return cs / torch.sqrt(cs.pow(2).mean(0, keepdim=True) + eps / (s * s))


class BarlowTwinsLoss(LossModule):
    """Module form of :func:`barlow_twins_loss` (Zbontar et al. 2021).

    Args:
        lambda_offdiag: weight of the off-diagonal term.
        eps: variance epsilon of the batch standardisation.
        gather_distributed: compute the statistics over all ranks.

    Shape:
        z1, z2: ``(B, D)``; output: ``()``.
    """

    _kwarg_names = ("lambda_offdiag", "eps", "gather_distributed")

    def __init__(self, lambda_offdiag: float = 5.1e-3, eps: float = 1e-5, gather_distributed: bool = False):
        super().__init__()
        self.lambda_offdiag = _check_nonneg(lambda_offdiag, "lambda_offdiag")
        self.eps = _check_nonneg(eps, "eps", strict=True)
        self.gather_distributed = _check_bool(gather_distributed, "gather_distributed")

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return barlow_twins_loss(z1, z2, **self._loss_kwargs())


# --------------------------------------------------------------------------------------------------
# VICReg
# --------------------------------------------------------------------------------------------------
@finite_loss
def vicreg_terms(
    z1: Tensor,
    z2: Tensor,
    *,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> dict[str, Tensor]:
    """The three unweighted VICReg terms (Bardes, Ponce & LeCun 2022), for logging or custom weighting.

    * ``"invariance"``: ``mean((z1 - z2)^2)`` over all ``B * D`` entries (on the local batch).
    * ``"variance"``: ``0.5 * (v(z1) + v(z2))`` with ``v(z) = mean_j relu(1 - sqrt(Var_j(z) + eps))``
      (unbiased variance over the batch): a hinge keeping every feature's std at least 1.
    * ``"covariance"``: ``c(z1) + c(z2)`` with ``c(z) = sum_{i != j} Cov(z)_ij^2 / D`` (unbiased
      covariance).

    Matches the authors' code (``facebookresearch/vicreg``, ``main_vicreg.py``). With
    ``gather_distributed=True`` the variance and covariance use the global batch, as in that code.

    Reference: Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
    Self-Supervised Learning", ICLR 2022. https://arxiv.org/abs/2105.04906

    Args:
        z1: embeddings of the first view.
        z2: embeddings of the second view.
        eps: ``> 0`` added to the variance before the square root.
        gather_distributed: variance/covariance over all ranks.

    Returns:
        ``{"invariance", "variance", "covariance"}``: scalar tensors in the dtype of ``z1``
        (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor or non-float inputs.
        ValueError: shape mismatch, NaN/inf, ``B < 2``, ``eps <= 0``.

    Shape:
        z1, z2: ``(B, D)``; each output: ``()``.
    """
    inv, var, cov = _vicreg_terms(z1, z2, eps, gather_distributed)
    return {
        k: v.to(loss_dtype(z1.dtype))
        for k, v in {"invariance": inv, "variance": var, "covariance": cov}.items()
    }


def _vicreg_terms(
    z1: Tensor, z2: Tensor, eps: float, gather_distributed: bool
) -> tuple[Tensor, Tensor, Tensor]:
    check_pair(z1, z2, "z1", "z2", min_rows=2)
    e = _check_nonneg(eps, "eps", strict=True)
    _check_bool(gather_distributed, "gather_distributed")
    a, b = _upcast(z1), _upcast(z2)
    inv = (a - b).pow(2).mean()
    a = _maybe_gather(a, gather_distributed)
    b = _maybe_gather(b, gather_distributed)
    a = a - a.mean(0, keepdim=True)
    b = b - b.mean(0, keepdim=True)
    n, d = a.shape

    def variance(x: Tensor) -> Tensor:
        std = torch.sqrt(x.pow(2).sum(0) / (n - 1) + e)
        return F.relu(1.0 - std).mean()

    def covariance(x: Tensor) -> Tensor:
        return _off_diagonal_sq_sum(x.T @ x / (n - 1)) / d

    var = 0.5 * (variance(a) + variance(b))
    cov = covariance(a) + covariance(b)
    return inv, var, cov


@finite_loss
def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> Tensor:
    """VICReg loss ``sim_weight * invariance + var_weight * variance + cov_weight * covariance``.

    See :func:`vicreg_terms` for the terms (Bardes, Ponce & LeCun 2022, eq. 6; default weights
    ``lambda = mu = 25``, ``nu = 1`` from the paper). Symmetric in ``z1`` and ``z2``.

    Reference: Bardes, Ponce & LeCun, "VICReg", ICLR 2022. https://arxiv.org/abs/2105.04906

    Args:
        z1: embeddings of the first view.
        z2: embeddings of the second view.
        sim_weight: weight ``>= 0`` of the invariance (MSE) term.
        var_weight: weight ``>= 0`` of the variance hinge.
        cov_weight: weight ``>= 0`` of the covariance term.
        eps: ``> 0`` added to the variance before the square root.
        gather_distributed: variance/covariance over all ranks.

    Returns:
        Scalar loss in the dtype of ``z1`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor or non-float inputs, badly typed weights.
        ValueError: shape mismatch, NaN/inf, ``B < 2``, negative weights, ``eps <= 0``.

    Shape:
        z1, z2: ``(B, D)``; output: ``()``.
    """
    ws = _check_nonneg(sim_weight, "sim_weight")
    wv = _check_nonneg(var_weight, "var_weight")
    wc = _check_nonneg(cov_weight, "cov_weight")
    inv, var, cov = _vicreg_terms(z1, z2, eps, gather_distributed)
    return (ws * inv + wv * var + wc * cov).to(loss_dtype(z1.dtype))


class VICRegLoss(LossModule):
    """Module form of :func:`vicreg_loss` (Bardes, Ponce & LeCun 2022).

    Args:
        sim_weight: weight of the invariance term.
        var_weight: weight of the variance term.
        cov_weight: weight of the covariance term.
        eps: variance epsilon.
        gather_distributed: variance/covariance over all ranks.

    Shape:
        z1, z2: ``(B, D)``; output: ``()``.
    """

    _kwarg_names = ("sim_weight", "var_weight", "cov_weight", "eps", "gather_distributed")

    def __init__(
        self,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        eps: float = 1e-4,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.sim_weight = _check_nonneg(sim_weight, "sim_weight")
        self.var_weight = _check_nonneg(var_weight, "var_weight")
        self.cov_weight = _check_nonneg(cov_weight, "cov_weight")
        self.eps = _check_nonneg(eps, "eps", strict=True)
        self.gather_distributed = _check_bool(gather_distributed, "gather_distributed")

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return vicreg_loss(z1, z2, **self._loss_kwargs())

    def terms(self, z1: Tensor, z2: Tensor) -> dict[str, Tensor]:
        """The unweighted terms, see :func:`vicreg_terms`."""
        return vicreg_terms(z1, z2, eps=self.eps, gather_distributed=self.gather_distributed)


# --------------------------------------------------------------------------------------------------
# SwAV
# --------------------------------------------------------------------------------------------------
def _all_reduce_logsumexp(x: Tensor, dim: int, distributed: bool) -> Tensor:
    """``logsumexp`` over ``dim``, taken over all ranks' rows when ``distributed`` (stable: max first)."""
    if not distributed:
        return torch.logsumexp(x, dim=dim, keepdim=True)
    m = x.amax(dim=dim, keepdim=True)
    dist.all_reduce(m, op=dist.ReduceOp.MAX)
    s = torch.exp(x - m).sum(dim=dim, keepdim=True)
    dist.all_reduce(s, op=dist.ReduceOp.SUM)
    return m + torch.log(s)


@torch.no_grad()
def _sinkhorn_log(scores: Tensor, epsilon: float, n_iters: int, distributed: bool) -> Tensor:
    """Sinkhorn-Knopp in log space on already upcast scores; returns Q in the scores' dtype."""
    logq = scores / epsilon
    n_samples = sum(gather_sizes(scores.shape[0], scores.device)) if distributed else scores.shape[0]
    n_protos = scores.shape[1]
    log_b, log_k = math.log(n_samples), math.log(n_protos)
    for _ in range(n_iters):
        # each prototype (column) gets total mass 1/K, summed over the global batch
        logq = logq - _all_reduce_logsumexp(logq, 0, distributed) - log_k
        # each sample (row) gets total mass 1/B
        logq = logq - torch.logsumexp(logq, dim=1, keepdim=True) - log_b
    return torch.exp(logq + log_b)  # rows sum to 1


@finite_loss
def sinkhorn_knopp(
    scores: Tensor,
    *,
    epsilon: float = 0.05,
    n_iters: int = 3,
    gather_distributed: bool = False,
) -> Tensor:
    """SwAV's Sinkhorn-Knopp soft codes: an equipartitioned assignment of samples to prototypes.

    Finds ``Q`` close to ``exp(scores / epsilon)`` (up to row and column scaling) whose rows each sum
    to 1 (a distribution over the ``K`` prototypes per sample) and whose columns each sum to about
    ``B / K`` (every prototype used equally), by ``n_iters`` alternating column / row normalisations,
    exactly as ``distributed_sinkhorn`` in the SwAV code (the last step normalises the rows, so row
    sums are exact and column sums converge with more iterations).

    Runs without gradient, in log space (no ``exp`` overflow for large scores or small ``epsilon``),
    in float64 for float64 scores and in float32 otherwise. With ``gather_distributed=True`` and an
    initialised process group, the column sums are all-reduced over ranks (the global batch).

    Reference: Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments" (SwAV), NeurIPS 2020, Sec. 3.1 and Algorithm 1. https://arxiv.org/abs/2006.09882

    Args:
        scores: similarities between (normalised) features and prototypes.
        epsilon: ``> 0`` entropic regularisation (smaller = sharper codes).
        n_iters: number of Sinkhorn iterations, ``>= 1``.
        gather_distributed: normalise over the global batch.

    Returns:
        ``Q`` in the dtype of ``scores``, detached, rows summing to 1.

    Raises:
        TypeError: non-tensor or non-float scores, badly typed ``n_iters``.
        ValueError: wrong rank, NaN/inf, bad ``epsilon``/``n_iters``.

    Shape:
        scores: ``(B, K)``; output: ``(B, K)``.
    """
    check_embeddings(scores, "scores", 2)
    eps = float(check_temperature(epsilon, "epsilon"))
    n = _check_int(n_iters, "n_iters", 1)
    _check_bool(gather_distributed, "gather_distributed")
    distributed = gather_distributed and is_distributed() and world_size() > 1
    return _sinkhorn_log(_upcast(scores.detach()), eps, n, distributed).to(scores.dtype)


def _soft_cross_entropy(q: Tensor, logits: Tensor) -> Tensor:
    """``mean_b -sum_k q_bk log softmax(logits)_bk``."""
    return -(q * F.log_softmax(logits, dim=1)).sum(1).mean()


@finite_loss
def swav_loss(
    scores: Sequence[Tensor],
    *,
    temperature: float = 0.1,
    n_global: int = 2,
    epsilon: float = 0.05,
    n_iters: int = 3,
    gather_distributed: bool = False,
) -> Tensor:
    """SwAV's swapped-prediction loss over multi-crop prototype scores (Caron et al. 2020, eq. 1-2).

    For each of the first ``n_global`` crops ``i`` (the crops codes are computed from), the codes
    ``q_i = sinkhorn_knopp(scores[i])`` (no gradient) are predicted from every *other* crop ``v``::

        loss = 1/n_global * sum_{i < n_global} 1/(V - 1) * sum_{v != i} CE(q_i, softmax(scores[v] / T))

    with ``CE(q, p) = -mean_b sum_k q_bk log p_bk`` and ``V = len(scores)``; as in SwAV's
    ``main_swav.py`` (``crops_for_assign = [0, 1]``). Put the global (high-resolution) crops first.

    Reference: Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments" (SwAV), NeurIPS 2020. https://arxiv.org/abs/2006.09882

    Args:
        scores: one ``(B, K)`` tensor of feature-prototype similarities per crop, global crops first.
        temperature: ``> 0`` softmax temperature of the predictions.
        n_global: number of leading crops that produce codes, ``1 <= n_global <= len(scores)``.
        epsilon: Sinkhorn regularisation.
        n_iters: Sinkhorn iterations.
        gather_distributed: Sinkhorn over the global batch.

    Returns:
        Scalar loss in the dtype of the scores (computed in float32 for half inputs).

    Raises:
        TypeError: ``scores`` not a list of float tensors, badly typed parameters.
        ValueError: fewer than 2 crops, mismatched crop shapes, NaN/inf, bad temperature/epsilon/
            n_iters/n_global.

    Shape:
        scores: list of ``V`` tensors ``(B, K)``; output: ``()``.
    """
    crops = _check_crops(scores, "scores", min_len=2)
    temp = check_temperature(temperature)
    n_g = _check_int(n_global, "n_global", 1)
    if n_g > len(crops):
        raise ValueError(f"n_global must be <= the number of crops ({len(crops)}), got {n_g}")
    eps = float(check_temperature(epsilon, "epsilon"))
    n_it = _check_int(n_iters, "n_iters", 1)
    _check_bool(gather_distributed, "gather_distributed")
    distributed = gather_distributed and is_distributed() and world_size() > 1

    up = [_upcast(c) for c in crops]
    log_probs = [F.log_softmax(c / temp, dim=1) for c in up]
    total = up[0].new_zeros(())
    for i in range(n_g):
        q = _sinkhorn_log(up[i].detach(), eps, n_it, distributed)
        sub = sum(-(q * log_probs[v]).sum(1).mean() for v in range(len(up)) if v != i)
        total = total + sub / (len(up) - 1)
    return (total / n_g).to(loss_dtype(crops[0].dtype))


class SwAVLoss(LossModule):
    """Module form of :func:`swav_loss` (Caron et al. 2020).

    Args:
        temperature: softmax temperature of the predictions.
        n_global: number of leading crops that produce codes.
        epsilon: Sinkhorn regularisation.
        n_iters: Sinkhorn iterations.
        gather_distributed: Sinkhorn over the global batch.

    Shape:
        scores: list of ``V`` tensors ``(B, K)``; output: ``()``.
    """

    _kwarg_names = ("temperature", "n_global", "epsilon", "n_iters", "gather_distributed")
    _repr_names = ("temperature", "n_global", "epsilon", "n_iters")

    def __init__(
        self,
        temperature: float = 0.1,
        n_global: int = 2,
        epsilon: float = 0.05,
        n_iters: int = 3,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.temperature = float(check_temperature(temperature))
        self.n_global = _check_int(n_global, "n_global", 1)
        self.epsilon = float(check_temperature(epsilon, "epsilon"))
        self.n_iters = _check_int(n_iters, "n_iters", 1)
        self.gather_distributed = _check_bool(gather_distributed, "gather_distributed")

    def forward(self, scores: Sequence[Tensor]) -> Tensor:
        return swav_loss(scores, **self._loss_kwargs())


# --------------------------------------------------------------------------------------------------
# DINO
# --------------------------------------------------------------------------------------------------
@finite_loss
def dino_loss(
    student_out: Sequence[Tensor],
    teacher_out: Sequence[Tensor],
    center: Tensor,
    *,
    student_temp: float = 0.1,
    teacher_temp: float = 0.04,
) -> Tensor:
    """DINO's cross-entropy between the centred, sharpened teacher and the student (Caron et al. 2021).

    ``P_t = softmax((teacher - center) / teacher_temp)`` (detached inside: the teacher gets no
    gradient, it is an EMA of the student) and ``log P_s = log_softmax(student / student_temp)``; the
    loss averages ``-mean_b sum_k P_t log P_s`` over every pair (teacher crop ``i``, student crop
    ``v``) with ``v != i``: crop indices refer to the same views, so list the teacher's (global) crops
    first in ``student_out`` too. As ``DINOLoss`` in the authors' ``main_dino.py``.

    Reference: Caron et al., "Emerging Properties in Self-Supervised Vision Transformers" (DINO),
    ICCV 2021, Algorithm 1. https://arxiv.org/abs/2104.14294

    Args:
        student_out: one ``(B, K)`` tensor of student logits per crop (global crops first).
        teacher_out: one ``(B, K)`` tensor of teacher logits per global crop.
        center: the teacher centre (see :class:`DINOLoss`), ``(1, K)`` or ``(K,)``.
        student_temp: ``> 0``.
        teacher_temp: ``> 0``; lower than ``student_temp`` (sharpening).

    Returns:
        Scalar loss in the dtype of the student outputs (computed in float32 for half inputs).

    Raises:
        TypeError: inputs not lists of float tensors, bad temperature types.
        ValueError: mismatched shapes between crops or with the centre, NaN/inf, bad temperatures, or
            no pair of different crops (one student and one teacher crop).

    Shape:
        student_out: ``V_s`` tensors ``(B, K)``; teacher_out: ``V_t`` tensors ``(B, K)``;
        center: ``(1, K)``; output: ``()``.
    """
    s_crops = _check_crops(student_out, "student_out")
    t_crops = _check_crops(teacher_out, "teacher_out")
    check_same_kind(("student_out[0]", s_crops[0]), ("teacher_out[0]", t_crops[0]))
    if s_crops[0].shape != t_crops[0].shape:
        raise ValueError(
            f"student and teacher crops must have the same shape (B, K), got {tuple(s_crops[0].shape)} "
            f"and {tuple(t_crops[0].shape)}"
        )
    k = s_crops[0].shape[1]
    check_embeddings(center, "center", (1, 2))
    if center.shape not in ((k,), (1, k)):
        raise ValueError(f"center must have shape (1, {k}) or ({k},), got {tuple(center.shape)}")
    s_temp = check_temperature(student_temp, "student_temp")
    t_temp = check_temperature(teacher_temp, "teacher_temp")
    n_s, n_t = len(s_crops), len(t_crops)
    n_terms = n_s * n_t - min(n_s, n_t)
    if n_terms == 0:
        raise ValueError(
            "dino_loss needs a pair of different crops: got 1 student and 1 teacher crop of the same "
            "view; pass at least 2 crops (e.g. two global crops to both networks)"
        )

    c = _upcast(center.detach()).reshape(1, k)
    t = torch.stack([_upcast(x.detach()) for x in t_crops])  # (V_t, B, K)
    p_t = F.softmax((t - c) / t_temp, dim=-1)
    log_p_s = F.log_softmax(torch.stack([_upcast(x) for x in s_crops]) / s_temp, dim=-1)  # (V_s, B, K)
    batch = t.shape[1]
    ce = -torch.einsum("tbk,sbk->ts", p_t, log_p_s) / batch  # (V_t, V_s): mean over b of each pair
    same = torch.eye(n_t, n_s, dtype=torch.bool, device=ce.device)
    loss = ce.masked_fill(same, 0.0).sum() / n_terms
    return loss.to(loss_dtype(s_crops[0].dtype))


class DINOLoss(LossModule):
    """DINO loss with the teacher centre as state (Caron et al. 2021).

    ``forward`` computes :func:`dino_loss` with the current centre, then updates the centre as an
    exponential moving average of the teacher outputs' batch mean (over all teacher crops and
    samples; all-reduced over ranks when ``torch.distributed`` is initialised)::

        center <- center_momentum * center + (1 - center_momentum) * mean(teacher_out)

    The centre is a registered float32 buffer of shape ``(1, out_dim)``, so it is saved in the
    ``state_dict`` and moves with ``.to(device)``.

    Reference: Caron et al., "Emerging Properties in Self-Supervised Vision Transformers" (DINO),
    ICCV 2021. https://arxiv.org/abs/2104.14294

    Args:
        out_dim: ``K``, the number of output logits (prototypes).
        center_momentum: EMA momentum in ``[0, 1)``.
        student_temp: student softmax temperature.
        teacher_temp: default teacher temperature (``forward`` can override it, e.g. during warm-up).

    Shape:
        student_out: ``V_s`` tensors ``(B, K)``; teacher_out: ``V_t`` tensors ``(B, K)``; output ``()``.
    """

    center: Tensor
    _repr_names = ("out_dim", "center_momentum", "student_temp", "teacher_temp")

    def __init__(
        self,
        out_dim: int,
        center_momentum: float = 0.9,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
    ) -> None:
        super().__init__()
        self.out_dim = _check_int(out_dim, "out_dim", 1)
        m = _check_nonneg(center_momentum, "center_momentum")
        if m >= 1:
            raise ValueError(f"center_momentum must be in [0, 1), got {m}")
        self.center_momentum = m
        self.student_temp = float(check_temperature(student_temp, "student_temp"))
        self.teacher_temp = float(check_temperature(teacher_temp, "teacher_temp"))
        self.register_buffer("center", torch.zeros(1, self.out_dim))

    def forward(
        self,
        student_out: Sequence[Tensor],
        teacher_out: Sequence[Tensor],
        teacher_temp: float | None = None,
    ) -> Tensor:
        """Loss with the current centre, then one EMA update of the centre from ``teacher_out``."""
        t_temp = self.teacher_temp if teacher_temp is None else teacher_temp
        self._check_dim(teacher_out)
        loss = dino_loss(
            student_out, teacher_out, self.center, student_temp=self.student_temp, teacher_temp=t_temp
        )
        self._ema(teacher_out)  # validated by dino_loss
        return loss

    def _check_dim(self, crops: object) -> None:
        """Name the ``out_dim`` mismatch before :func:`dino_loss` reports it as a centre-shape error."""
        if isinstance(crops, Sequence) and len(crops) > 0 and isinstance(crops[0], Tensor):
            if crops[0].dim() == 2 and crops[0].shape[1] != self.out_dim:
                raise ValueError(
                    f"teacher_out has {crops[0].shape[1]} logits per row but DINOLoss was built with "
                    f"out_dim={self.out_dim}"
                )

    @torch.no_grad()
    def update_center(self, teacher_out: Sequence[Tensor]) -> None:
        """EMA update of the centre with the mean of ``teacher_out`` (all crops, all ranks).

        ``forward`` already calls this; use it directly only to update without computing the loss.

        Args:
            teacher_out: one ``(B, K)`` tensor per teacher crop.

        Raises:
            TypeError: if ``teacher_out`` is not a list of float tensors.
            ValueError: on mismatched crop shapes, NaN/inf, or ``K != out_dim``.
        """
        self._check_dim(teacher_out)
        self._ema(_check_crops(teacher_out, "teacher_out"))

    @torch.no_grad()
    def _ema(self, teacher_out: Sequence[Tensor]) -> None:
        x = torch.cat([t.detach() for t in teacher_out]).to(self.center.dtype)
        total = x.sum(0, keepdim=True)
        count = x.shape[0]
        if is_distributed() and world_size() > 1:
            dist.all_reduce(total)
            count = sum(gather_sizes(count, total.device))
        self.center.mul_(self.center_momentum).add_(total / count, alpha=1.0 - self.center_momentum)
