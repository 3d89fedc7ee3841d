"""Margin and metric-learning losses: Siamese contrastive loss, triplet loss with mining, N-pair loss.

Every loss is a pure function plus a thin :class:`torch.nn.Module` wrapper. Inputs are validated with
:mod:`pairs.losses._checks` (wrong shapes, NaN/inf, batch too small, bad margin or mining name raise a
``ValueError``/``TypeError`` that says what was expected).

Precision: float16 / bfloat16 inputs are computed internally in float32 (squared distances of half
embeddings overflow float16 above ~256 per coordinate and the hinge comparisons lose resolution) and the
loss is returned in float32 (see ``_checks.loss_dtype``); float32 and float64 inputs are computed
in their own dtype.

References:
    - Hadsell, Chopra & LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006.
    - Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for Face Recognition and
      Clustering", CVPR 2015 (triplet loss, semi-hard negatives). https://arxiv.org/abs/1503.03832
    - Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017
      (batch-hard and batch-all mining). https://arxiv.org/abs/1703.07737
    - Sohn, "Improved Deep Metric Learning with Multi-class N-pair Loss Objective", NeurIPS 2016.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor

from pairs.losses._checks import (
    check_embeddings,
    check_reduction,
    check_same_kind,
    finite_loss,
    l2_normalize,
    loss_dtype,
    reduce_loss,
)
from pairs.losses._module import LossModule
from pairs.validation import HALF_DTYPES

__all__ = [
    "contrastive_margin_loss",
    "triplet_loss",
    "triplet_margin_loss",
    "npair_loss",
    "ContrastiveMarginLoss",
    "TripletMarginLoss",
    "NPairLoss",
    "MINING_STRATEGIES",
    "DISTANCES",
]

MINING_STRATEGIES = ("batch_all", "batch_hard", "semi_hard")
"""Accepted values of ``mining`` in :func:`triplet_margin_loss`."""

DISTANCES = ("euclidean", "cosine")
"""Accepted values of ``distance`` in the triplet losses."""

_HALF = HALF_DTYPES


# --------------------------------------------------------------------------------------------------
# Small private helpers (argument checks specific to margin losses, safe distances)
# --------------------------------------------------------------------------------------------------
def _upcast(x: Tensor) -> Tensor:
    """float16/bfloat16 -> float32; other dtypes unchanged (the compute dtype of every loss here)."""
    return x.float() if x.dtype in _HALF else x


def _check_margin(margin: object, *, allow_zero: bool, name: str = "margin") -> float:
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(margin).__name__}")
    m = float(margin)
    if not math.isfinite(m) or m < 0 or (m == 0 and not allow_zero):
        want = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {want}, got {m}")
    return m


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def _check_distance(distance: object) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    return distance


def _check_mining(mining: object) -> str:
    if mining not in MINING_STRATEGIES:
        raise ValueError(f"mining must be one of {MINING_STRATEGIES}, got {mining!r}")
    return mining


def _check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape (B, D), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")


def _check_labels_1d(labels: object, n: int, device: torch.device, name: str) -> Tensor:
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape ({n},), got {type(labels).__name__}")
    if labels.dim() != 1 or labels.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one entry per row), got {tuple(labels.shape)}")
    if labels.device != device:
        raise ValueError(f"{name} must be on the embeddings' device {device}, got {labels.device}")
    return labels


def _check_similar(similar: object, n: int, device: torch.device) -> Tensor:
    """Validate the Siamese pair labels and return them as a bool tensor (True = similar pair)."""
    s = _check_labels_1d(similar, n, device, "similar")
    if s.dtype == torch.bool:
        return s
    if s.is_complex():
        raise TypeError(f"similar must be a bool or 0/1 tensor, got dtype {s.dtype}")
    if not bool(((s == 0) | (s == 1)).all()):
        bad = s[(s != 0) & (s != 1)][:5].tolist()
        raise ValueError(f"similar must hold only 0/1 (or False/True), got values such as {bad}")
    return s != 0


def _check_class_labels(labels: object, n: int, device: torch.device) -> Tensor:
    lab = _check_labels_1d(labels, n, device, "labels")
    if lab.is_floating_point() or lab.is_complex():
        raise TypeError(
            f"labels must be an integer (or bool) class-id tensor, got dtype {lab.dtype}; use labels.long()"
        )
    return lab


def _safe_sqrt(sq: Tensor) -> Tensor:
    """``sqrt(sq)`` for ``sq >= 0`` with a finite (zero) gradient at ``sq == 0``.

    The double ``where`` keeps ``sqrt``'s infinite derivative at zero out of the backward pass
    (a single ``where`` would still multiply ``inf`` by ``0`` and give NaN).
    """
    pos = sq > 0
    return torch.where(pos, torch.where(pos, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))


def _common_scale(*xs: Tensor) -> Tensor:
    """The largest magnitude in ``xs`` (detached, 1 when all are zero): Euclidean distances are computed on
    ``x / s`` and multiplied back by ``s`` (``s ** 2`` when squared), so embeddings of magnitude 1e30 give
    their (representable) distances instead of an overflowed square."""
    s = torch.stack([x.detach().abs().amax() for x in xs]).amax()
    return torch.where(s > 0, s, torch.ones_like(s))


def _rowwise_distance(a: Tensor, b: Tensor, distance: str, squared: bool) -> Tensor:
    """Distance between matching rows of ``a`` and ``b`` (already in the compute dtype). Shape (B,)."""
    if distance == "cosine":
        return 1.0 - (l2_normalize(a) * l2_normalize(b)).sum(-1)
    s = _common_scale(a, b)
    sq = ((a - b) / s).pow(2).sum(-1)
    return sq * s * s if squared else _safe_sqrt(sq) * s


def _pairwise_distance(x: Tensor, distance: str, squared: bool) -> Tensor:
    """All-pairs distance matrix of the rows of ``x`` (compute dtype). Shape (B, B), zero diagonal.

    Euclidean distances use the Gram expansion ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` clamped at zero (one
    matmul, O(B^2) memory) with the diagonal set to exactly zero and a safe square root.
    """
    if distance == "cosine":
        xn = l2_normalize(x)
        return 1.0 - xn @ xn.T
    s = _common_scale(x)
    xs = x / s
    gram = xs @ xs.T
    norms = gram.diagonal()
    sq = (norms[:, None] + norms[None, :] - 2.0 * gram).clamp_min(0.0)
    eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    sq = sq.masked_fill(eye, 0.0)
    return sq * s * s if squared else _safe_sqrt(sq) * s


# --------------------------------------------------------------------------------------------------
# Siamese contrastive loss (Hadsell et al. 2006)
# --------------------------------------------------------------------------------------------------
@finite_loss
def contrastive_margin_loss(
    x1: Tensor,
    x2: Tensor,
    similar: Tensor,
    *,
    margin: float = 1.0,
    squared: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Siamese contrastive (margin) loss of Hadsell, Chopra & LeCun (2006).

    With ``d = ||x1_i - x2_i||_2`` (Euclidean distance) and ``m = margin``, each pair pays::

        similar pair     (similar_i = 1):  d^2               (squared=True)   or  d              (False)
        dissimilar pair  (similar_i = 0):  max(0, m - d)^2   (squared=True)   or  max(0, m - d)  (False)

    ``squared=True`` is the paper's loss (eq. 4) without its factor 1/2; ``squared=False`` is the plain
    hinge variant (as in pytorch-metric-learning's ``ContrastiveLoss`` with ``pos_margin=0``).

    Label convention: ``similar=1`` (or ``True``) means the two inputs form a *similar / same-class*
    pair, ``similar=0`` a dissimilar pair. **The paper uses the opposite convention** (``Y = 0`` for
    similar pairs, ``Y = 1`` for dissimilar); pass ``similar = 1 - Y`` for labels in the paper's form.

    The distance is computed with a safe square root, so the gradient is finite (zero) for identical
    inputs (``d = 0``).

    Args:
        x1: embeddings of the first element of each pair.
        x2: embeddings of the second element of each pair.
        similar: pair labels, bool or 0/1 (any integer or float dtype); 1 = similar.
        margin: ``m > 0``; dissimilar pairs farther apart than ``m`` pay nothing.
        squared: square the distance / hinge (paper) or use them as they are.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-pair losses).

    Returns:
        The loss in the dtype of ``x1`` (computed in float32 for float16/bfloat16 inputs): a scalar, or
        shape ``(B,)`` with ``reduction="none"``.

    Raises:
        TypeError: if an input is not a tensor of the right kind, or ``margin``/``squared`` have the
            wrong type.
        ValueError: on shape mismatch, NaN/inf embeddings, labels other than 0/1, ``margin <= 0`` or an
            unknown ``reduction``.

    Shape:
        x1, x2: ``(B, D)``; similar: ``(B,)``; output: ``()`` or ``(B,)``.
    """
    check_embeddings(x1, "x1", 2)
    check_embeddings(x2, "x2", 2)
    _check_same_shape(x1, x2, "x1", "x2")
    check_same_kind(("x1", x1), ("x2", x2))
    sim = _check_similar(similar, x1.shape[0], x1.device)
    m = _check_margin(margin, allow_zero=False)
    _check_bool(squared, "squared")
    check_reduction(reduction)

    a, b = _upcast(x1), _upcast(x2)
    sq = _rowwise_distance(a, b, "euclidean", squared=True)
    d = _rowwise_distance(a, b, "euclidean", squared=False)
    hinge = F.relu(m - d)
    if squared:
        loss = torch.where(sim, sq, hinge.pow(2))
    else:
        loss = torch.where(sim, d, hinge)
    return reduce_loss(loss, reduction).to(loss_dtype(x1.dtype))


# --------------------------------------------------------------------------------------------------
# Triplet losses
# --------------------------------------------------------------------------------------------------
@finite_loss
def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    margin: float = 0.2,
    distance: str = "euclidean",
    squared: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """Triplet margin loss on given triplets (Schroff et al. 2015, FaceNet, eq. 1).

    ``loss_i = max(0, d(a_i, p_i) - d(a_i, n_i) + margin)`` where ``d`` is the Euclidean distance (its
    square with ``squared=True``, FaceNet's form) or the cosine distance ``1 - cos(a, b)``.

    Args:
        anchor: anchor embeddings.
        positive: embeddings of the same class as the anchors.
        negative: embeddings of a different class.
        margin: ``>= 0``.
        distance: ``"euclidean"`` or ``"cosine"``.
        squared: use the squared Euclidean distance (only with ``distance="euclidean"``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Returns:
        The loss (float32 for half inputs, else the input dtype): scalar or ``(B,)``.

    Raises:
        TypeError: on non-tensor / non-float inputs or a badly typed ``margin``/``squared``.
        ValueError: on shape mismatch, NaN/inf, ``margin < 0``, an unknown ``distance``/``reduction``,
            or ``squared=True`` with the cosine distance.

    Shape:
        anchor, positive, negative: ``(B, D)``; output: ``()`` or ``(B,)``.
    """
    check_embeddings(anchor, "anchor", 2)
    check_embeddings(positive, "positive", 2)
    check_embeddings(negative, "negative", 2)
    _check_same_shape(anchor, positive, "anchor", "positive")
    _check_same_shape(anchor, negative, "anchor", "negative")
    check_same_kind(("anchor", anchor), ("positive", positive), ("negative", negative))
    m = _check_margin(margin, allow_zero=True)
    dist = _check_distance(distance)
    _check_squared_for(squared, dist)
    check_reduction(reduction)

    a, p, n = _upcast(anchor), _upcast(positive), _upcast(negative)
    d_ap = _rowwise_distance(a, p, dist, squared)
    d_an = _rowwise_distance(a, n, dist, squared)
    loss = F.relu(d_ap - d_an + m)
    return reduce_loss(loss, reduction).to(loss_dtype(anchor.dtype))


def _check_squared_for(squared: object, distance: str) -> None:
    _check_bool(squared, "squared")
    if squared and distance != "euclidean":
        raise ValueError("squared=True only applies to distance='euclidean'; use squared=False with 'cosine'")


@finite_loss
def triplet_margin_loss(
    embeddings: Tensor,
    labels: Tensor,
    *,
    margin: float = 0.2,
    mining: str = "batch_all",
    distance: str = "euclidean",
    squared: bool = False,
) -> Tensor:
    """Triplet margin loss with in-batch mining from class labels.

    All triplets ``(a, p, n)`` with ``labels[a] == labels[p]``, ``a != p`` and ``labels[n] != labels[a]``
    are candidates; each pays ``max(0, d(a, p) - d(a, n) + margin)``. The mining strategy decides which
    triplets enter and how they are averaged:

    * ``"batch_all"`` (Hermans et al. 2017, "BA+"): every valid triplet; the sum of their losses is
      divided by the number of triplets with a **strictly positive** loss (the usual convention, as in
      pytorch-metric-learning's ``AvgNonZeroReducer``), so easy triplets do not dilute the gradient.
      Returns 0 (still attached to the graph) when no triplet violates the margin. Memory
      ``O(P * B)`` for the ``P`` positive pairs of the batch.
    * ``"batch_hard"`` (Hermans et al. 2017): for each anchor, the farthest positive and the closest
      negative (masked max/min over the distance matrix); the mean over all anchors that have a positive
      (anchors of a class seen once in the batch are skipped).
    * ``"semi_hard"`` (Schroff et al. 2015, FaceNet; the convention of TensorFlow Addons'
      ``triplet_semihard_loss``): for each positive pair ``(a, p)``, the closest negative that is
      *farther* than the positive (``d(a, n) > d(a, p)``); if there is none, the farthest negative of the
      anchor. The mean over all positive pairs. ``O(P * B)`` memory.

    Args:
        embeddings: one embedding per row.
        labels: integer class ids.
        margin: ``>= 0``.
        mining: ``"batch_all"``, ``"batch_hard"`` or ``"semi_hard"``.
        distance: ``"euclidean"`` or ``"cosine"`` (``1 - cos``).
        squared: use the squared Euclidean distance (only with ``distance="euclidean"``).

    Returns:
        Scalar loss in the dtype of ``embeddings`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor / non-float embeddings, float labels, badly typed ``margin``/``squared``.
        ValueError: wrong shapes, NaN/inf, ``B < 2``, ``margin < 0``, an unknown ``mining`` or
            ``distance``, or labels with no positive pair (every class appears once) or no negative
            (a single class) in the batch.

    Shape:
        embeddings: ``(B, D)``; labels: ``(B,)``; output: ``()``.
    """
    check_embeddings(embeddings, "embeddings", 2, min_rows=2)
    lab = _check_class_labels(labels, embeddings.shape[0], embeddings.device)
    m = _check_margin(margin, allow_zero=True)
    mine = _check_mining(mining)
    dist = _check_distance(distance)
    _check_squared_for(squared, dist)

    b = embeddings.shape[0]
    same = lab[:, None] == lab[None, :]
    eye = torch.eye(b, dtype=torch.bool, device=embeddings.device)
    pos_mask = same & ~eye
    neg_mask = ~same
    if not bool(pos_mask.any()):
        raise ValueError(
            "labels have no positive pair: every class appears once in the batch, so no (anchor, positive) "
            "pair exists; sample at least 2 examples of some class per batch (e.g. P classes x K samples)"
        )
    if not bool(neg_mask.any()):
        raise ValueError(
            "labels have no negative: the whole batch is one class; triplet mining needs at least 2 classes"
        )

    dmat = _pairwise_distance(_upcast(embeddings), dist, squared)
    if mine == "batch_all":
        loss = _batch_all(dmat, pos_mask, neg_mask, m)
    elif mine == "batch_hard":
        loss = _batch_hard(dmat, pos_mask, neg_mask, m)
    else:
        loss = _semi_hard(dmat, pos_mask, neg_mask, m)
    return loss.to(loss_dtype(embeddings.dtype))


def _batch_all(dmat: Tensor, pos_mask: Tensor, neg_mask: Tensor, margin: float) -> Tensor:
    a, p = pos_mask.nonzero(as_tuple=True)  # the P positive pairs; triplets are (P, B) with masking
    raw = dmat[a, p][:, None] - dmat[a] + margin
    losses = torch.where(neg_mask[a], F.relu(raw), torch.zeros_like(raw))
    n_active = (losses > 0).sum().clamp_min(1).to(losses.dtype)
    return losses.sum() / n_active


def _batch_hard(dmat: Tensor, pos_mask: Tensor, neg_mask: Tensor, margin: float) -> Tensor:
    anchors = pos_mask.any(1)  # every anchor has a negative (2+ classes checked by the caller)
    d, pm, nm = dmat[anchors], pos_mask[anchors], neg_mask[anchors]
    hardest_pos = torch.where(pm, d, torch.full_like(d, -math.inf)).amax(1)
    hardest_neg = torch.where(nm, d, torch.full_like(d, math.inf)).amin(1)
    return F.relu(hardest_pos - hardest_neg + margin).mean()


def _semi_hard(dmat: Tensor, pos_mask: Tensor, neg_mask: Tensor, margin: float) -> Tensor:
    # every anchor has a negative: triplet_margin_loss has checked that the batch holds 2+ classes
    a, p = pos_mask.nonzero(as_tuple=True)
    d_ap = dmat[a, p]  # (P,)
    d_an = dmat[a]  # (P, B)
    negs = neg_mask[a]
    outside = negs & (d_an > d_ap[:, None])  # negatives farther than the positive
    closest_outside = torch.where(outside, d_an, torch.full_like(d_an, math.inf)).amin(1)
    farthest_neg = torch.where(negs, d_an, torch.full_like(d_an, -math.inf)).amax(1)
    chosen = torch.where(outside.any(1), closest_outside, farthest_neg)
    return F.relu(d_ap - chosen + margin).mean()


# --------------------------------------------------------------------------------------------------
# N-pair loss (Sohn 2016)
# --------------------------------------------------------------------------------------------------
@finite_loss
def npair_loss(
    anchors: Tensor,
    positives: Tensor,
    labels: Tensor | None = None,
    *,
    l2_reg: float = 0.0,
) -> Tensor:
    """Multi-class N-pair loss (Sohn 2016), with the embedding-norm regulariser.

    With logits ``s_ij = <anchors_i, positives_j>`` (dot product, no normalisation, as in the paper),
    each anchor is a softmax classification of its own positive among the ``B`` positives::

        loss = mean_i [ -log softmax_j(s_ij)[i] ] + l2_reg * 0.25 * (mean_i |a_i|^2 + mean_i |p_i|^2)

    With ``labels``, every positive of the same class counts as a target: the soft target of anchor
    ``i`` is uniform over ``{j : labels[j] == labels[i]}`` (the convention of TensorFlow's
    ``npairs_loss``, whose regulariser, including the factor 0.25, is reproduced here; the paper uses
    ``l2_reg = 0.002``). Without labels, pair ``i`` is its own class.

    Args:
        anchors: anchor embeddings, one pair per row.
        positives: the positive of each anchor (same row).
        labels: optional integer class id of each pair.
        l2_reg: weight ``>= 0`` of the squared-norm regulariser.

    Returns:
        Scalar loss in the dtype of ``anchors`` (computed in float32 for half inputs).

    Raises:
        TypeError: non-tensor or non-float embeddings, float labels, non-numeric ``l2_reg``.
        ValueError: wrong shapes, NaN/inf, ``B < 2`` (no negatives), ``l2_reg < 0``.

    Shape:
        anchors, positives: ``(B, D)``; labels: ``(B,)``; output: ``()``.
    """
    check_embeddings(anchors, "anchors", 2, min_rows=2)
    check_embeddings(positives, "positives", 2, min_rows=2)
    _check_same_shape(anchors, positives, "anchors", "positives")
    check_same_kind(("anchors", anchors), ("positives", positives))
    reg = _check_margin(l2_reg, allow_zero=True, name="l2_reg")
    a, p = _upcast(anchors), _upcast(positives)
    logits = a @ p.T
    log_prob = F.log_softmax(logits, dim=1)
    if labels is None:
        xent = -log_prob.diagonal().mean()
    else:
        lab = _check_class_labels(labels, anchors.shape[0], anchors.device)
        target = (lab[:, None] == lab[None, :]).to(log_prob.dtype)
        target = target / target.sum(1, keepdim=True)
        xent = -(target * log_prob).sum(1).mean()
    loss = xent
    if reg > 0:
        loss = loss + reg * 0.25 * (a.pow(2).sum(1).mean() + p.pow(2).sum(1).mean())
    return loss.to(loss_dtype(anchors.dtype))


# --------------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------------
class ContrastiveMarginLoss(LossModule):
    """Module form of :func:`contrastive_margin_loss` (Hadsell, Chopra & LeCun 2006).

    ``similar=1`` marks a similar pair (the paper's ``Y = 0``). See the function for the formula.

    Args:
        margin: ``m > 0``.
        squared: squared distance / hinge (paper) or plain hinge.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shape:
        x1, x2: ``(B, D)``; similar: ``(B,)``; output: ``()`` or ``(B,)``.
    """

    _kwarg_names = ("margin", "squared", "reduction")

    def __init__(self, margin: float = 1.0, squared: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = _check_margin(margin, allow_zero=False)
        self.squared = _check_bool(squared, "squared")
        self.reduction = check_reduction(reduction)

    def forward(self, x1: Tensor, x2: Tensor, similar: Tensor) -> Tensor:
        return contrastive_margin_loss(x1, x2, similar, **self._loss_kwargs())


class TripletMarginLoss(LossModule):
    """Module form of :func:`triplet_margin_loss` (FaceNet semi-hard / Hermans et al. batch mining).

    Args:
        margin: ``>= 0``.
        mining: ``"batch_all"``, ``"batch_hard"`` or ``"semi_hard"``.
        distance: ``"euclidean"`` or ``"cosine"``.
        squared: squared Euclidean distance.

    Shape:
        embeddings: ``(B, D)``; labels: ``(B,)``; output: ``()``.
    """

    _kwarg_names = ("margin", "mining", "distance", "squared")

    def __init__(
        self,
        margin: float = 0.2,
        mining: str = "batch_all",
        distance: str = "euclidean",
        squared: bool = False,
    ) -> None:
        super().__init__()
        self.margin = _check_margin(margin, allow_zero=True)
        self.mining = _check_mining(mining)
        self.distance = _check_distance(distance)
        _check_squared_for(squared, self.distance)
        self.squared = squared

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return triplet_margin_loss(embeddings, labels, **self._loss_kwargs())


class NPairLoss(LossModule):
    """Module form of :func:`npair_loss` (Sohn 2016).

    Args:
        l2_reg: weight ``>= 0`` of the embedding-norm regulariser.

    Shape:
        anchors, positives: ``(B, D)``; labels: ``(B,)`` or ``None``; output: ``()``.
    """

    _kwarg_names = ("l2_reg",)

    def __init__(self, l2_reg: float = 0.0) -> None:
        super().__init__()
        self.l2_reg = _check_margin(l2_reg, allow_zero=True, name="l2_reg")

    def forward(self, anchors: Tensor, positives: Tensor, labels: Tensor | None = None) -> Tensor:
        return npair_loss(anchors, positives, labels, **self._loss_kwargs())
