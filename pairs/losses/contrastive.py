"""One contrastive core: NT-Xent (SimCLR), SupCon, DCL, InfoNCE (CPC / MoCo) and the CLIP loss.

All of them are one formula over similarity logits ``s_ij = <z_i, z_j> / temperature``: for every
anchor ``i`` with a set of candidate columns ``A(i)`` and positives ``P(i)``,

    loss_i = log sum_{a in A(i)} exp(s_ia)  -  mean_{p in P(i)} s_ip

which is SupCon's ``L_out`` (Khosla et al. 2020); with one positive per anchor it is the cross-entropy
of NT-Xent / InfoNCE. The log-sum-exp is computed by :mod:`pairs.losses.tiled` (dense for small
batches, tiled without the full matrix for large ones; ``exp`` is never taken of a raw logit), and the
positive part by class sums (``sum_{p in P(i)} s_ip = <z_i, sum_{p in P(i)} z_p> / t``), so neither
needs a positive mask. The losses differ only in ``A(i)`` and ``P(i)``:

=================  ===========================================  =========================================
loss               candidates ``A(i)``                          positives ``P(i)``
=================  ===========================================  =========================================
``nt_xent``        every other row of all views                 other views of the same example
``nt_xent+labels`` every other row of all views                 every other row with the same label
``decoupled``      as above, minus the positives                as above
``info_nce``       own positive + in-batch keys / negatives     own positive (+ same-label keys)
``clip_loss``      all rows of the other tower, both ways       the paired row
=================  ===========================================  =========================================

float16 / bfloat16 inputs are computed in float32 (the returned loss is float32; gradients flow back
in the input dtype). Inputs are validated: wrong shapes, NaN/inf, a temperature ``<= 0`` or a batch
without negatives raise a ``ValueError`` / ``TypeError`` that says what was expected.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import torch
from torch import Tensor, nn

from pairs.losses._checks import (
    check_embeddings,
    check_pair,
    check_reduction,
    check_temperature,
    default_eps,
    finite_loss,
    l2_normalize,
    reduce_loss,
)
from pairs.losses._module import LossModule
from pairs.losses.distributed import all_gather_no_grad, gather_with_grad_and_offset, world_size
from pairs.losses.queue import NegativeQueue
from pairs.losses.tiled import check_mode, resolve_block_size, similarity_logsumexp
from pairs.validation import HALF_DTYPES

if TYPE_CHECKING:  # typing.Unpack is Python >= 3.11
    from typing_extensions import Unpack

_HALF = HALF_DTYPES


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
class _KeywordOptions(TypedDict, total=False):
    """The keyword-only compute options of the functions and modules here (see :func:`nt_xent`)."""

    normalize: bool
    block_size: int | tuple[int, int] | None
    reduction: str


class _Options(_KeywordOptions, total=False):
    """All compute options (keyword-only in :func:`clip_loss` and :class:`CLIPLoss`)."""

    mode: str
    gather_distributed: bool


class _NTXentOptions(_Options, total=False):
    """The keyword options :func:`supcon_loss` passes on to :func:`nt_xent`."""

    decoupled: bool


def _compute(x: Tensor, normalize: bool) -> Tensor:
    """Upcast float16 / bfloat16 to float32 (the compute dtype) and optionally L2-normalise.

    The normalisation epsilon is that of the *input* dtype (see :func:`default_eps`), so the ``1/eps``
    gradient at a zero embedding stays representable when cast back to a half type.
    """
    eps = default_eps(x.dtype)
    x = x.float() if x.dtype in _HALF else x
    return l2_normalize(x, eps) if normalize else x


def _scale(temperature: float | Tensor, like: Tensor) -> float | Tensor:
    """Inverse temperature as a float, or as a differentiable scalar tensor in ``like``'s dtype."""
    if isinstance(temperature, Tensor):
        return 1.0 / temperature.reshape(()).to(like.dtype)
    return 1.0 / float(temperature)


def _check_labels(labels: object, name: str, shape: tuple[int, ...], device: torch.device) -> Tensor:
    """Check integer labels of an exact shape; returns them on ``device``."""
    if not isinstance(labels, Tensor):
        raise TypeError(
            f"{name} must be an integer torch.Tensor of shape {shape}, got {type(labels).__name__}"
        )
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{name} must hold integer class ids (e.g. torch.long), got dtype {labels.dtype}")
    if tuple(labels.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} to match the embeddings, got {tuple(labels.shape)}")
    return labels.to(device=device, dtype=torch.long)


def _check_same_dim(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same embedding dimension D, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _check_compute_options(mode: str, reduction: str, block_size: int | tuple[int, int] | None) -> None:
    """Check the compute options every function here takes (``mode``, ``reduction``, ``block_size``)."""
    check_mode(mode)
    check_reduction(reduction)
    resolve_block_size(block_size)


def _group_ids(labels: Tensor) -> tuple[Tensor, int]:
    """Map arbitrary integer labels to ``0..G-1``; returns ``(ids, G)``."""
    uniq, inv = torch.unique(labels, return_inverse=True)
    return inv, int(uniq.numel())


def _class_sums(z: Tensor, gid: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
    """Per-group sum of rows of ``z`` and per-group row count."""
    sums = z.new_zeros((n_groups, z.shape[1])).index_add(0, gid, z)
    counts = torch.bincount(gid, minlength=n_groups)
    return sums, counts


def _finish(
    lse: Tensor, pos_sum: Tensor, pos_cnt: Tensor, reduction: str, mean_count: float | None = None
) -> Tensor:
    """``loss_i = lse_i - pos_sum_i / pos_cnt_i``; anchors without positives give 0 and are not averaged.

    ``mean_count`` (distributed only) replaces the local number of anchors with positives in the mean:
    the global number divided by the world size, so that the mean of the ranks' losses is the global
    mean even when ranks hold different numbers of (valid) anchors.
    """
    valid = pos_cnt > 0
    loss = lse - pos_sum / pos_cnt.clamp_min(1).to(lse.dtype)
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == "mean":
        if mean_count is not None:
            return loss.sum() / max(mean_count, 1.0 / world_size())
        return loss.sum() / valid.sum().clamp_min(1).to(loss.dtype)
    return reduce_loss(loss, reduction)


def _stack_views(z1: object, z2: object) -> Tensor:
    """Validate ``(z1 (B, D), z2 (B, D))``, ``(z1 (V, B, D), None)`` or ``(z1 (B, D), None)``.

    Returns the views stacked as ``(V, B, D)``.
    """
    if z2 is None:
        z1 = check_embeddings(z1, "z1", (2, 3))
        return z1.unsqueeze(0) if z1.dim() == 2 else z1
    z1, z2 = check_pair(z1, z2, "z1", "z2")
    return torch.stack([z1, z2])


# --------------------------------------------------------------------------------------------------
# NT-Xent / SupCon / DCL
# --------------------------------------------------------------------------------------------------
@finite_loss
def nt_xent(
    z1: Tensor,
    z2: Tensor | None = None,
    *,
    temperature: float | Tensor = 0.5,
    labels: Tensor | None = None,
    decoupled: bool = False,
    normalize: bool = True,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
    gather_distributed: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """NT-Xent (normalised temperature-scaled cross-entropy), with SupCon and DCL as options.

    Every row of every view is an anchor. Its candidates are all other rows (of all views); its
    positives are the other views of the same example, or, with ``labels``, every other row whose
    example has the same label (SupCon). With several positives the loss is SupCon's ``L_out``, the
    mean over positives of ``-log softmax``:

        loss_i = log sum_{a != i} exp(s_ia) - (1/|P(i)|) sum_{p in P(i)} s_ip,  s_ij = <z_i, z_j> / t

    For two views and no labels this is SimCLR's loss and equals lightly's ``NTXentLoss`` with the
    same temperature. ``decoupled=True`` removes the positives from the denominator (DCL).

    Args:
        z1: first view ``(B, D)``, or a stack of ``V`` views ``(V, B, D)`` with ``z2=None``, or a single
            view ``(B, D)`` with ``z2=None`` and ``labels`` (SupCon with one view).
        z2: second view ``(B, D)``, or ``None``.
        temperature: ``t > 0``; a float, or a scalar tensor (learnable).
        labels: optional integer class ids ``(B,)`` (one per example, shared by its views).
        decoupled: DCL: leave the positives out of the log-sum-exp.
        normalize: L2-normalise the embeddings first (cosine similarity).
        mode: ``"auto"`` (dense while the logits matrix is <= 64 MiB, tiled above), ``"dense"`` or
            ``"tiled"`` (blocks, never the full matrix; same value and gradient).
        block_size: tiled block ``(rows, cols)`` or one int; ``None`` for the defaults of
            :mod:`pairs.losses.tiled` (a self-similarity tile is square, of side ``min(rows, cols)``).
        gather_distributed: under torch.distributed, use the embeddings of all ranks as candidates
            (gradients flow back to every rank, see :func:`pairs.losses.distributed.gather_with_grad`).
            Each rank's loss covers its local anchors; with ``reduction="mean"`` it is their sum
            divided by (global number of anchors with a positive) / world size, so the mean of the
            ranks' losses is the global loss and DDP's gradient averaging gives exactly the
            single-process gradient on the global batch, even with uneven local batches.
        reduction: ``"mean"`` (over anchors that have at least one positive), ``"sum"`` or ``"none"``.

    Returns:
        The loss: a scalar, or per anchor with ``reduction="none"`` (view-major: index ``v * B + b``;
        anchors without any positive get 0). The dtype is float32 for half inputs, else the input's.

    Raises:
        TypeError: non-tensor or non-float embeddings, non-integer labels.
        ValueError: wrong shapes, NaN/inf embeddings, temperature <= 0, a (global) batch with B < 2,
            a single view without labels, DCL with an anchor that has no negatives, bad ``mode`` or
            ``reduction``.

    Shape:
        z1 ``(B, D)`` and z2 ``(B, D)``, or z1 ``(V, B, D)``; labels ``(B,)`` -> ``()`` or ``(V * B,)``.

    References:
        Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations"
        (SimCLR), arXiv:2002.05709. Khosla et al. 2020, "Supervised Contrastive Learning",
        arXiv:2004.11362 (``L_out``). Yeh et al. 2022, "Decoupled Contrastive Learning",
        arXiv:2110.06848.
    """
    z = _stack_views(z1, z2)
    n_views, b, d = z.shape
    temperature = check_temperature(temperature)
    _check_compute_options(mode, reduction, block_size)
    if labels is not None:
        labels = _check_labels(labels, "labels", (b,), z.device)
    elif n_views < 2:
        raise ValueError(
            "a single view (B, D) has no positives without labels: pass z2 (a second view), "
            "a (V, B, D) stack with V >= 2, or labels (B,) for SupCon"
        )

    z = _compute(z, normalize)
    scale = _scale(temperature, z)

    gathered = gather_distributed and world_size() > 1
    if gathered:
        flat, offset = gather_with_grad_and_offset(z.transpose(0, 1).reshape(b, n_views * d))
        big_b = flat.shape[0]
        z_all = flat.reshape(big_b, n_views, d).transpose(0, 1)
        all_labels = all_gather_no_grad(labels) if labels is not None else None
    else:
        z_all, big_b, offset, all_labels = z, b, 0, labels
    if big_b < 2:
        raise ValueError(
            f"nt_xent needs a batch of at least 2 examples so that every anchor has negatives, got B={big_b}"
        )

    rows = z.reshape(n_views * b, d)
    # without gathering, the candidates are the anchors themselves: passing the same tensor lets the
    # tiled path use the symmetry of the similarity matrix (each pair of tiles computed once)
    cols = rows if not gathered else z_all.reshape(n_views * big_b, d)
    dev = z.device
    ex_idx = torch.arange(b, device=dev).repeat(n_views)
    # where each anchor sits among the columns: a plain diagonal unless V > 1 views were gathered
    if n_views == 1 or big_b == b:
        self_col: Tensor | int = offset
    else:
        self_col = torch.arange(n_views, device=dev).repeat_interleave(b) * big_b + offset + ex_idx

    row_gid = col_gid = pos_cnt = None
    if all_labels is None:  # SimCLR: positives are the other views of the same example
        pos_mean = (z * (z.sum(dim=0, keepdim=True) - z)).sum(dim=-1).reshape(-1) * scale
        if n_views > 2:
            pos_mean = pos_mean / (n_views - 1)
        n_valid_global = n_views * big_b
        if decoupled:
            col_gid = torch.arange(big_b, device=dev).repeat(n_views)
            row_gid = offset + ex_idx if gathered else col_gid
    else:  # SupCon: positives are all other rows with the same label (class sums, no mask)
        ex_gid, n_groups = _group_ids(all_labels)
        col_gid = ex_gid.repeat(n_views)
        row_gid = ex_gid[offset + ex_idx] if gathered else col_gid
        sums, counts = _class_sums(cols, col_gid, n_groups)
        pos_cnt = counts[row_gid] - 1  # the anchor itself is not its own positive
        pos_sum = (rows * (sums[row_gid] - rows)).sum(dim=1) * scale
        n_valid_global = int(((counts[col_gid] - 1) > 0).sum())
        if decoupled and bool((counts[row_gid] == cols.shape[0]).any()):
            raise ValueError(
                "decoupled=True needs at least one negative per anchor, but some anchor's label is shared "
                "by the whole batch; use decoupled=False or a batch with more than one label"
            )

    if decoupled:  # leave every positive (and the anchor) out of the denominator
        lse = similarity_logsumexp(
            rows, cols, scale, row_gid=row_gid, col_gid=col_gid, mode=mode, block_size=block_size
        )
    else:
        lse = similarity_logsumexp(rows, cols, scale, self_col=self_col, mode=mode, block_size=block_size)
    mean_count = n_valid_global / world_size() if gathered else None
    if pos_cnt is None:  # every anchor has V - 1 positives: no masking needed
        loss = lse - pos_mean
        if reduction == "mean" and mean_count is not None:
            return loss.sum() / mean_count
        return reduce_loss(loss, reduction)
    return _finish(lse, pos_sum, pos_cnt, reduction, mean_count)


@finite_loss
def supcon_loss(
    features: Tensor,
    labels: Tensor | None = None,
    temperature: float | Tensor = 0.1,
    **options: Unpack[_NTXentOptions],
) -> Tensor:
    """Supervised contrastive loss (SupCon ``L_out``): a thin alias of :func:`nt_xent` with labels.

    Every row whose example shares the anchor's label is a positive (all views included); the loss
    of an anchor is the mean over its positives of ``-log softmax``. Without labels it is SimCLR's
    loss over the ``V`` views. Note the layout is ``(V, B, D)`` (views first), unlike the reference
    code of Khosla et al. which takes ``(B, V, D)``.

    Args:
        features: ``(V, B, D)`` views, or ``(B, D)`` for a single view (then ``labels`` is required).
        labels: integer class ids ``(B,)``, or ``None`` (SimCLR over the views).
        temperature: ``t > 0`` (0.1 as in the paper).
        options: keyword-only ``decoupled``, ``normalize``, ``mode``, ``block_size``,
            ``gather_distributed``, ``reduction``, as in :func:`nt_xent`.

    Returns:
        The loss (scalar, or ``(V * B,)`` with ``reduction="none"``).

    Raises:
        TypeError, ValueError: as :func:`nt_xent`.

    Shape:
        features ``(V, B, D)`` or ``(B, D)``, labels ``(B,)`` -> ``()``.

    References:
        Khosla et al. 2020, "Supervised Contrastive Learning", arXiv:2004.11362.
    """
    return nt_xent(features, None, temperature=temperature, labels=labels, **options)


# --------------------------------------------------------------------------------------------------
# InfoNCE
# --------------------------------------------------------------------------------------------------
@finite_loss
def info_nce(
    query: Tensor,
    positive: Tensor,
    negatives: Tensor | None = None,
    *,
    temperature: float | Tensor = 0.07,
    query_labels: Tensor | None = None,
    negative_labels: Tensor | None = None,
    normalize: bool = True,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
    gather_distributed: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """InfoNCE: each query against its positive key and a set of negatives.

    ``loss_i = -log( exp(s(q_i, k_i+)) / sum_{k in A(i)} exp(s(q_i, k)) )`` with ``s = <q, k> / t``.

    * ``negatives=None``: in-batch. The keys are the ``B`` positives; query ``i``'s positive is key
      ``i`` and the other keys are its negatives (CPC; MoCo v3; one direction of the CLIP loss).
    * ``negatives`` ``(K, D)``: shared negatives, e.g. a MoCo queue (:class:`NegativeQueue`). The
      candidates are the own positive and the ``K`` negatives (other rows' positives are not used).
    * ``negatives`` ``(B, K, D)``: per-query negatives (e.g. hard negatives).

    Labels (SupCon with a queue): with ``query_labels`` (and ``negative_labels`` when negatives are
    given) every key that shares the query's label is treated as an additional **positive**, not
    excluded: it stays in the denominator and the loss averages ``-log softmax`` over all positives
    (SupCon ``L_out``). In-batch, the keys' labels are ``query_labels``.

    Args:
        query: queries ``(B, D)``.
        positive: positive keys ``(B, D)``, row ``i`` pairs with query ``i``.
        negatives: ``None``, ``(K, D)`` shared, or ``(B, K, D)`` per query.
        temperature: ``t > 0`` (0.07 as in MoCo); a float or a scalar tensor.
        query_labels: integer labels ``(B,)`` of the queries (and of their positives).
        negative_labels: labels of the negatives, ``(K,)`` or ``(B, K)`` to match ``negatives``.
        normalize: L2-normalise queries and keys first.
        mode: ``"auto"``, ``"dense"`` or ``"tiled"`` for the query-vs-keys log-sum-exp (the
            ``(B, K, D)`` case is always dense: it has no shared matrix).
        block_size: tiled block size, as in :func:`nt_xent`.
        gather_distributed: in-batch only: use the positives of all ranks as keys (with gradient);
            the ``"mean"`` divides the local sum by (global B) / world size, as in :func:`nt_xent`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per query, ``(B,)``).

    Returns:
        The loss (scalar, or ``(B,)``); float32 for half inputs.

    Raises:
        TypeError: non-tensor / non-float inputs, non-integer labels.
        ValueError: mismatched shapes, NaN/inf, temperature <= 0, in-batch with B < 2, empty negatives,
            labels given on one side only, ``gather_distributed`` with explicit negatives.

    Shape:
        query ``(B, D)``, positive ``(B, D)``, negatives ``(K, D)`` or ``(B, K, D)`` -> ``()`` or ``(B,)``.

    References:
        van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding",
        arXiv:1807.03748. He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation
        Learning" (MoCo), arXiv:1911.05722. Chen, Xie & He 2021, "An Empirical Study of Training
        Self-Supervised Vision Transformers" (MoCo v3), arXiv:2104.02057.
    """
    query, positive = check_pair(query, positive, "query", "positive")
    b, _ = query.shape
    temperature = check_temperature(temperature)
    _check_compute_options(mode, reduction, block_size)
    dev = query.device
    if query_labels is not None:
        query_labels = _check_labels(query_labels, "query_labels", (b,), dev)
    if negatives is not None:
        negatives = check_embeddings(negatives, "negatives", (2, 3))
        _check_same_dim(query, negatives, "query", "negatives")  # any float dtype: cast to the query's
        if negatives.dim() == 3 and negatives.shape[0] != b:
            raise ValueError(
                f"per-query negatives must be (B, K, D) with B={b} matching query, "
                f"got {tuple(negatives.shape)}"
            )
        if gather_distributed:
            raise ValueError(
                "gather_distributed=True only applies to in-batch negatives (negatives=None); for a queue, "
                "gather the keys before enqueueing them (NegativeQueue(..., gather_distributed=True))"
            )
        if (negative_labels is None) != (query_labels is None):
            raise ValueError(
                "pass both query_labels and negative_labels (SupCon with a queue) or neither, got only "
                + ("query_labels" if negative_labels is None else "negative_labels")
            )
        if negative_labels is not None:
            negative_labels = _check_labels(
                negative_labels, "negative_labels", tuple(negatives.shape[:-1]), dev
            )
    elif negative_labels is not None:
        raise ValueError(
            "negative_labels needs explicit negatives; in-batch, the keys' labels are query_labels"
        )

    q, k = _compute(query, normalize), _compute(positive, normalize)
    scale = _scale(temperature, q)
    s_pos = (q * k).sum(dim=1) * scale

    if negatives is None:
        mean_count = None
        if gather_distributed and world_size() > 1:
            keys, offset = gather_with_grad_and_offset(k)
            key_labels = all_gather_no_grad(query_labels) if query_labels is not None else None
            mean_count = keys.shape[0] / world_size()
        else:
            keys, offset, key_labels = k, 0, query_labels
        if keys.shape[0] < 2:
            raise ValueError(
                "in-batch info_nce needs at least 2 pairs so that each query has a negative, "
                f"got B={keys.shape[0]}; "
                "pass negatives=(K, D) or a larger batch"
            )
        lse = similarity_logsumexp(q, keys, scale, mode=mode, block_size=block_size)
        if key_labels is None:
            return _finish(lse, s_pos, torch.ones_like(s_pos, dtype=torch.long), reduction, mean_count)
        gid, n_groups = _group_ids(key_labels)
        sums, counts = _class_sums(keys, gid, n_groups)
        row_gid = gid[offset : offset + b]
        pos_sum = (q * sums[row_gid]).sum(dim=1) * scale
        return _finish(lse, pos_sum, counts[row_gid], reduction, mean_count)

    neg = _compute(negatives, normalize)

    if neg.dim() == 3:  # per-query negatives: (B, K) logits, no shared matrix
        s_neg = torch.einsum("bd,bkd->bk", q, neg.to(q.dtype)) * scale
        lse = torch.logsumexp(torch.cat([s_pos[:, None], s_neg], dim=1), dim=1)
        if query_labels is None or negative_labels is None:  # both None or neither (checked above)
            return _finish(lse, s_pos, torch.ones_like(s_pos, dtype=torch.long), reduction)
        same = negative_labels == query_labels[:, None]
        pos_sum = s_pos + (s_neg * same).sum(dim=1)
        return _finish(lse, pos_sum, 1 + same.sum(dim=1), reduction)

    neg = neg.to(q.dtype)
    lse = torch.logaddexp(s_pos, similarity_logsumexp(q, neg, scale, mode=mode, block_size=block_size))
    if query_labels is None or negative_labels is None:  # both None or neither (checked above)
        return _finish(lse, s_pos, torch.ones_like(s_pos, dtype=torch.long), reduction)
    gid, n_groups = _group_ids(torch.cat([query_labels, negative_labels]))
    sums, counts = _class_sums(neg, gid[b:], n_groups)
    q_gid = gid[:b]
    pos_sum = s_pos + (q * sums[q_gid]).sum(dim=1) * scale
    return _finish(lse, pos_sum, 1 + counts[q_gid], reduction)


# --------------------------------------------------------------------------------------------------
# CLIP
# --------------------------------------------------------------------------------------------------
@finite_loss
def clip_loss(
    a: Tensor,
    b: Tensor,
    *,
    temperature: float | Tensor = 0.07,
    logit_scale: float | Tensor | None = None,
    normalize: bool = True,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
    gather_distributed: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """Symmetric two-tower contrastive loss of CLIP.

    ``logits = logit_scale * a @ b.T``; the loss is the mean of the cross-entropy over rows
    (``a_i`` -> its pair ``b_i`` among all ``b``) and over columns (``b_i`` -> ``a_i`` among all ``a``).
    It is symmetric: ``clip_loss(a, b) == clip_loss(b, a)``.

    Args:
        a: embeddings of tower A ``(B, D)`` (e.g. images).
        b: embeddings of tower B ``(B, D)`` (e.g. texts); row ``i`` pairs with ``a[i]``.
        temperature: fixed temperature ``t > 0`` (``logit_scale = 1 / t``); ignored if ``logit_scale``
            is given.
        logit_scale: the multiplier itself, a positive float or scalar tensor (learnable; CLIP learns
            ``log(logit_scale)``, see :class:`CLIPLoss`).
        normalize: L2-normalise both towers first.
        mode, block_size: dense/tiled choice for both log-sum-exps, as in :func:`nt_xent`.
        gather_distributed: use the other tower's rows from all ranks as candidates (with gradient);
            the ``"mean"`` divides the local sum by (global B) / world size, as in :func:`nt_xent`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pair: the mean of its two directions).

    Returns:
        The loss (scalar or ``(B,)``); float32 for half inputs.

    Raises:
        TypeError, ValueError: bad shapes, NaN/inf, non-positive temperature / scale, B < 2.

    Shape:
        a ``(B, D)``, b ``(B, D)`` -> ``()`` or ``(B,)``.

    References:
        Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"
        (CLIP), arXiv:2103.00020. Zhang et al. 2020, ConVIRT, arXiv:2010.00747.
    """
    a, b = check_pair(a, b, "a", "b")
    _check_compute_options(mode, reduction, block_size)
    x, y = _compute(a, normalize), _compute(b, normalize)
    if logit_scale is not None:
        logit_scale = check_temperature(logit_scale, "logit_scale")
        scale: float | Tensor = (
            logit_scale.reshape(()).to(x.dtype) if isinstance(logit_scale, Tensor) else float(logit_scale)
        )
    else:
        scale = _scale(check_temperature(temperature), x)
    per_rank = None
    if gather_distributed and world_size() > 1:
        x_all, _ = gather_with_grad_and_offset(x)
        y_all, _ = gather_with_grad_and_offset(y)
        per_rank = x_all.shape[0] / world_size()
    else:
        x_all, y_all = x, y
    if x_all.shape[0] < 2:
        raise ValueError(
            f"clip_loss needs at least 2 pairs so that each row has a negative, got B={x_all.shape[0]}"
        )
    s_pos = (x * y).sum(dim=1) * scale
    lse_ab = similarity_logsumexp(x, y_all, scale, mode=mode, block_size=block_size)
    lse_ba = similarity_logsumexp(y, x_all, scale, mode=mode, block_size=block_size)
    loss = 0.5 * (lse_ab + lse_ba) - s_pos
    if reduction == "mean" and per_rank is not None:
        return loss.sum() / per_rank
    return reduce_loss(loss, reduction)


# --------------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------------
class _ContrastiveModule(LossModule):
    """Base of the contrastive modules: holds the validated compute options that every function of this
    module takes (``normalize``, ``mode``, ``block_size``, ``gather_distributed``, ``reduction``)."""

    _kwarg_names: ClassVar[tuple[str, ...]] = (
        "normalize",
        "mode",
        "block_size",
        "gather_distributed",
        "reduction",
    )

    def _set_options(
        self,
        mode: str = "auto",
        gather_distributed: bool = False,
        *,
        normalize: bool = True,
        block_size: int | tuple[int, int] | None = None,
        reduction: str = "mean",
    ) -> None:
        self.mode = check_mode(mode)
        self.gather_distributed = bool(gather_distributed)
        self.normalize = bool(normalize)
        self.block_size = block_size
        resolve_block_size(block_size)
        self.reduction = check_reduction(reduction)


class NTXentLoss(_ContrastiveModule):
    """Module form of :func:`nt_xent` (SimCLR's loss; SupCon with labels; DCL with ``decoupled``).

    Args:
        temperature: ``t > 0`` (0.5, lightly's default).
        decoupled: DCL (Yeh et al. 2022): positives left out of the denominator.
        mode: ``"auto"``, ``"dense"`` or ``"tiled"``.
        gather_distributed: use all ranks' embeddings as negatives.
        normalize, block_size, reduction: as in :func:`nt_xent`.

    Shape:
        forward(z1 ``(B, D)``, z2 ``(B, D)``) or forward(z ``(V, B, D)``), labels ``(B,)`` -> ``()``.

    References:
        Chen et al. 2020 (SimCLR), arXiv:2002.05709.
    """

    _kwarg_names = ("temperature", "decoupled", *_ContrastiveModule._kwarg_names)
    _repr_names = ("temperature", "decoupled", "mode")

    def __init__(
        self,
        temperature: float = 0.5,
        decoupled: bool = False,
        mode: str = "auto",
        gather_distributed: bool = False,
        **options: Unpack[_KeywordOptions],
    ) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.decoupled = bool(decoupled)
        self._set_options(mode, gather_distributed, **options)

    def forward(self, z1: Tensor, z2: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """Compute the loss; see :func:`nt_xent`."""
        return nt_xent(z1, z2, labels=labels, **self._loss_kwargs())


class SupConLoss(NTXentLoss):
    """Module form of :func:`supcon_loss` (Khosla et al. 2020, ``L_out``), temperature 0.1 by default.

    Shape:
        forward(features ``(V, B, D)`` or ``(B, D)``, labels ``(B,)``) -> ``()``.

    References:
        Khosla et al. 2020, "Supervised Contrastive Learning", arXiv:2004.11362.
    """

    def __init__(self, temperature: float = 0.1, *args: Any, **kwargs: Any) -> None:
        """The arguments of :class:`NTXentLoss`, with a temperature of 0.1 by default."""
        super().__init__(temperature, *args, **kwargs)

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """Compute the loss; see :func:`supcon_loss`."""
        return super().forward(features, None, labels)


class InfoNCELoss(_ContrastiveModule):
    """Module form of :func:`info_nce`, optionally drawing its negatives from a :class:`NegativeQueue`.

    With a ``queue`` and no explicit ``negatives``, the queue's keys are the negatives (MoCo); after
    the loss is computed, and only in training mode, the batch's positive keys (detached) are
    enqueued, with ``query_labels`` when the queue stores labels (SupCon with a queue: same-label
    queue keys count as positives). While the queue is still empty the in-batch keys are used.

    Args:
        temperature: ``t > 0`` (0.07, as in MoCo).
        mode: ``"auto"``, ``"dense"`` or ``"tiled"``.
        gather_distributed: in-batch negatives from all ranks.
        normalize, block_size, reduction: as in :func:`info_nce`.
        queue: an optional :class:`NegativeQueue` (registered as a submodule, so it is saved in the
            ``state_dict``).

    Shape:
        forward(query ``(B, D)``, positive ``(B, D)``, negatives ``(K, D)`` / ``(B, K, D)`` / None) -> ``()``.

    References:
        van den Oord et al. 2018 (CPC), arXiv:1807.03748; He et al. 2020 (MoCo), arXiv:1911.05722.
    """

    _kwarg_names = ("temperature", *_ContrastiveModule._kwarg_names)
    _repr_names = ("temperature", "mode")

    def __init__(
        self,
        temperature: float = 0.07,
        mode: str = "auto",
        gather_distributed: bool = False,
        *,
        queue: NegativeQueue | None = None,
        **options: Unpack[_KeywordOptions],
    ) -> None:
        super().__init__()
        self.temperature = check_temperature(temperature)
        self._set_options(mode, gather_distributed, **options)
        if queue is not None and not isinstance(queue, NegativeQueue):
            raise TypeError(f"queue must be a NegativeQueue or None, got {type(queue).__name__}")
        self.queue = queue

    def forward(
        self,
        query: Tensor,
        positive: Tensor,
        negatives: Tensor | None = None,
        query_labels: Tensor | None = None,
        negative_labels: Tensor | None = None,
    ) -> Tensor:
        """Compute the loss (and update the queue in training mode); see :func:`info_nce`."""
        queue = self.queue if negatives is None else None
        gather = self.gather_distributed
        if queue is not None and int(queue.filled) > 0:
            negatives, queue_labels = queue.get()
            gather = False
            if query_labels is not None:
                if queue_labels is None:
                    raise ValueError(
                        "query_labels were given but the queue does not store labels (store_labels=True)"
                    )
                negative_labels = queue_labels
        loss = info_nce(
            query,
            positive,
            negatives,
            query_labels=query_labels,
            negative_labels=negative_labels,
            **{**self._loss_kwargs(), "gather_distributed": gather},
        )
        if queue is not None and self.training:
            queue.enqueue(positive.detach(), query_labels if queue.store_labels else None)
        return loss


class CLIPLoss(_ContrastiveModule):
    """Module form of :func:`clip_loss` with CLIP's learnable, clamped logit scale.

    The module holds ``log_scale`` (initialised to ``log(1 / temperature)``); the scale used is
    ``exp(min(log_scale, log(max_logit_scale)))``, so it never exceeds ``max_logit_scale`` (100 in
    CLIP). With ``learnable=False`` it is a buffer (fixed temperature).

    Args:
        temperature: initial (or fixed) temperature, ``t > 0``.
        learnable: make ``log_scale`` an ``nn.Parameter``.
        max_logit_scale: upper clamp of the scale, ``> 0``.
        normalize, mode, block_size, gather_distributed, reduction: as in :func:`clip_loss`.

    Raises:
        ValueError: if ``temperature`` or ``max_logit_scale`` is not positive.

    Shape:
        forward(a ``(B, D)``, b ``(B, D)``) -> ``()``.

    References:
        Radford et al. 2021 (CLIP), arXiv:2103.00020.
    """

    def __init__(
        self,
        temperature: float = 0.07,
        learnable: bool = True,
        max_logit_scale: float = 100.0,
        **options: Unpack[_Options],
    ) -> None:
        super().__init__()
        t = check_temperature(temperature)
        self.max_logit_scale = float(check_temperature(max_logit_scale, "max_logit_scale"))
        init = torch.tensor(math.log(1.0 / float(t)), dtype=torch.float32)
        if learnable:
            self.log_scale = nn.Parameter(init)
        else:
            self.register_buffer("log_scale", init)
        self.learnable = bool(learnable)
        self._set_options(**options)

    @property
    def logit_scale(self) -> Tensor:
        """The (clamped) multiplier of the logits, ``1 / temperature``; differentiable."""
        return self.log_scale.clamp(max=math.log(self.max_logit_scale)).exp()

    @property
    def temperature(self) -> float:
        """The current temperature ``1 / logit_scale`` as a float."""
        return float(1.0 / self.logit_scale.detach())

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Compute the loss; see :func:`clip_loss`."""
        return clip_loss(a, b, logit_scale=self.logit_scale, **self._loss_kwargs())

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature:.4g}, learnable={self.learnable}, "
            f"max_logit_scale={self.max_logit_scale}"
        )
