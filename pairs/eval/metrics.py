"""Label-free quality measures of an embedding, plus the input checks every evaluation function shares.

* :func:`alignment` and :func:`uniformity`: Wang & Isola, "Understanding Contrastive Representation
  Learning through Alignment and Uniformity on the Hypersphere", ICML 2020 (their ``lalign`` and
  ``lunif``, on L2-normalised features).
* :func:`effective_rank`: Roy & Vetterli, "The effective rank: a measure of effective dimensionality",
  EUSIPCO 2007 (also RankMe, Garrido et al. 2023).
* :func:`embedding_std`: the collapse check of SimSiam (Chen & He, "Exploring Simple Siamese
  Representation Learning", CVPR 2021, Fig. 2): the per-dimension std of L2-normalised outputs is about
  ``1/sqrt(D)`` for a healthy embedding and about 0 for a collapsed one.

All functions take ``numpy`` arrays or tensors and return Python floats; computation happens on the
device of tensor inputs (numpy inputs on the CPU).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pairs.validation import finite_float, positive_int

__all__ = [
    "alignment",
    "uniformity",
    "effective_rank",
    "embedding_std",
    "as_features",
    "as_labels",
    "check_positive_int",
]

# Chunks of similarity matrices hold at most this many entries (64 MB in float32).
MAX_CHUNK_ELEMENTS = 1 << 24


# --------------------------------------------------------------------------------------------------
# Input checks shared by pairs.eval
# --------------------------------------------------------------------------------------------------
def as_features(x: Any, name: str = "features", *, min_rows: int = 1) -> Tensor:
    """Check a feature matrix and return it as a floating-point tensor.

    Args:
        x: a ``numpy.ndarray`` or ``torch.Tensor`` of shape ``(N, D)`` (real numbers; integer arrays are
            converted to float32, half precision to float32, float64 is kept).
        name: the argument name used in error messages.
        min_rows: the smallest accepted ``N``.

    Returns:
        A detached float32/float64 tensor (numpy inputs on the CPU, tensors on their own device).

    Raises:
        TypeError: if ``x`` is not an array/tensor of real numbers.
        ValueError: if ``x`` is not 2-D, has fewer than ``min_rows`` rows or no columns, or holds NaN/inf.

    Shape:
        ``(N, D)``.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == np.bool_ or not (
            np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
        ):
            raise TypeError(f"{name} must hold real numbers, got a numpy array of dtype {x.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, Tensor):
        t = x.detach()
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {t.dtype}")
    else:
        raise TypeError(
            f"{name} must be a numpy array or a torch.Tensor of shape (N, D), got {type(x).__name__}; "
            "convert lists with numpy.asarray"
        )
    if t.dim() != 2:
        hint = " (reshape to (N, D), e.g. x.reshape(len(x), -1))" if t.dim() > 2 else ""
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(t.shape)}{hint}")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has no feature columns (shape {tuple(t.shape)})")
    if t.shape[0] < min_rows:
        raise ValueError(
            f"{name} needs at least {min_rows} samples, got {t.shape[0]} (shape {tuple(t.shape)})"
        )
    if t.dtype != torch.float64:
        t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} inf values; features must be finite "
            "(check the encoder output or drop the broken samples)"
        )
    return t


def as_labels(y: Any, name: str = "labels", *, n: int | None = None, device: Any = None) -> Tensor:
    """Check an integer label vector and return it as an int64 tensor.

    Args:
        y: a ``numpy.ndarray`` or ``torch.Tensor`` of integers (or booleans), shape ``(N,)``.
        name: the argument name used in error messages.
        n: the expected length (the number of feature rows), or ``None``.
        device: move the labels there (e.g. the features' device).

    Returns:
        An int64 tensor.

    Raises:
        TypeError: if ``y`` is not an array/tensor of integers.
        ValueError: if ``y`` is not 1-D or its length differs from ``n``.

    Shape:
        ``(N,)``.
    """
    if isinstance(y, np.ndarray):
        if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
            raise TypeError(
                f"{name} must be integer class labels, got a numpy array of dtype {y.dtype}; "
                "convert with y.astype(int) (or encode strings with numpy.unique(y, return_inverse=True))"
            )
        t = torch.from_numpy(np.ascontiguousarray(y)).to(torch.int64)
    elif isinstance(y, Tensor):
        if y.is_floating_point() or y.is_complex():
            raise TypeError(
                f"{name} must be integer class labels, got a tensor of dtype {y.dtype}; use y.long()"
            )
        t = y.detach().to(torch.int64)
    else:
        raise TypeError(
            f"{name} must be a numpy array or torch.Tensor of integer labels, got {type(y).__name__}"
        )
    if t.dim() != 1:
        hint = " (flatten it with .reshape(-1))" if t.dim() == 2 and 1 in t.shape else ""
        raise ValueError(f"{name} must be 1-D (N,), got shape {tuple(t.shape)}{hint}")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} has {t.shape[0]} entries but the features have {n} rows; they must match")
    return t if device is None else t.to(device)


def check_positive_int(value: Any, name: str) -> int:
    """Check that ``value`` is an int >= 1 (``bool`` rejected) and return it (see
    :func:`pairs.validation.positive_int`)."""
    return positive_int(name, value)


def _check_positive_float(value: Any, name: str) -> float:
    return finite_float(name, value, minimum=0, strict=True)


def _normalize(z: Tensor) -> Tensor:
    eps = torch.finfo(z.dtype).eps
    return z / torch.linalg.vector_norm(z, dim=1, keepdim=True).clamp_min(eps)


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------
def alignment(z1: Any, z2: Any, alpha: float = 2) -> float:
    """Alignment of positive pairs (Wang & Isola 2020): ``E ||f(x) - f(y)||_2^alpha`` over pairs.

    Features are L2-normalised first, as in the paper. Lower is better; identical views give 0, the
    maximum is ``2**alpha`` (antipodal pairs).

    Args:
        z1: features of the first views.
        z2: features of the second views (row ``i`` is the positive of ``z1[i]``).
        alpha: the exponent (> 0; the paper uses 2).

    Returns:
        The mean of ``||z1_i/|z1_i| - z2_i/|z2_i| ||^alpha``.

    Raises:
        TypeError, ValueError: on bad features (see :func:`as_features`), mismatched shapes, or a
            non-positive ``alpha``.

    Shape:
        ``z1, z2``: ``(N, D)``.
    """
    alpha = _check_positive_float(alpha, "alpha")
    a = as_features(z1, "z1")
    b = as_features(z2, "z2")
    if a.shape != b.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape (pairs row by row), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    a, b = _normalize(a.to(dtype)), _normalize(b.to(device=a.device, dtype=dtype))
    return float(torch.linalg.vector_norm(a - b, dim=1).pow(alpha).mean())


def uniformity(z: Any, t: float = 2) -> float:
    """Uniformity (Wang & Isola 2020): ``log E exp(-t ||f(x) - f(y)||_2^2)`` over all pairs ``x != y``.

    Features are L2-normalised first. Lower (more negative) is more uniform; all points equal gives 0.
    Computed in row chunks with a log-sum-exp, so memory stays bounded for large ``N`` (the paper's
    ``torch.pdist`` version needs ``N(N-1)/2`` entries at once).

    Args:
        z: features.
        t: the kernel scale (> 0; the paper uses 2).

    Returns:
        The log of the mean Gaussian potential over the ``N(N-1)/2`` distinct pairs.

    Raises:
        TypeError, ValueError: on bad features, fewer than 2 samples, or a non-positive ``t``.

    Shape:
        ``z``: ``(N, D)`` with ``N >= 2``.
    """
    t = _check_positive_float(t, "t")
    x = _normalize(as_features(z, "z", min_rows=2))
    n = x.shape[0]
    sq_norm = x.pow(2).sum(dim=1)  # 1, or 0 for an all-zero feature row
    rows = max(1, min(n, MAX_CHUNK_ELEMENTS // n))
    lses = []
    for s in range(0, n - 1, rows):
        e = min(n, s + rows)
        # squared distances of rows s..e-1 to rows s..n-1; keep only pairs with j > i
        logits = torch.addmm(sq_norm[s:e, None] + sq_norm[None, s:], x[s:e], x[s:].T, alpha=-2)
        logits.clamp_(min=0).mul_(-t)
        r, c = torch.arange(e - s, device=x.device), torch.arange(n - s, device=x.device)
        logits.masked_fill_(c[None, :] <= r[:, None], -math.inf)  # local column <= local row: j <= i
        lses.append(torch.logsumexp(logits, dim=1).double())  # per row; values lie in [-4t, 0]
    total = torch.logsumexp(torch.cat(lses), dim=0)
    return float(total - math.log(n * (n - 1) / 2))


def effective_rank(z: Any, center: bool = True) -> float:
    """Effective rank (Roy & Vetterli 2007) of a feature matrix.

    ``exp(H(p))`` with ``p_k = s_k / sum(s)`` the normalised singular values of the (centred) features and
    ``H`` the Shannon entropy (``0 log 0 = 0``). It lies in ``[1, min(N, D)]``; a rank-``r`` matrix has an
    effective rank of at most ``r``. Singular values below the rounding-noise level of the input,
    ``4 * eps * max|z| * sqrt(N * D)`` (``eps`` of the input dtype; the spectral norm of an error of a few
    ulps in every entry), count as zero, so exactly low-rank or collapsed inputs are not inflated by
    floating-point noise; a matrix that is zero after centring (all samples equal: full collapse)
    returns 0.0.

    Args:
        z: features.
        center: subtract the mean feature first (the spread of the embedding, not its offset).

    Returns:
        The effective rank.

    Raises:
        TypeError, ValueError: on bad features or fewer than 2 samples.

    Shape:
        ``z``: ``(N, D)`` with ``N >= 2``.
    """
    x = as_features(z, "z", min_rows=2)
    eps = torch.finfo(x.dtype).eps
    x = x.double()
    scale = float(x.abs().max())
    if center:
        x = x - x.mean(dim=0, keepdim=True)
    s = torch.linalg.svdvals(x)
    n, d = x.shape
    tol = 4 * eps * scale * math.sqrt(n * d)
    s = s[s > tol]
    if s.numel() == 0:
        return 0.0
    p = s / s.sum()
    entropy = -(p * torch.log(p)).sum()
    return float(torch.exp(entropy))


def embedding_std(z: Any) -> float:
    """Mean per-dimension standard deviation of the L2-normalised features (SimSiam's collapse check).

    For ``D``-dimensional features spread over the sphere it is about ``1/sqrt(D)``; for collapsed
    features (all samples the same direction) it is about 0. Uses the unbiased std, as
    ``lightly.utils.debug.std_of_l2_normalized``.

    Args:
        z: features.

    Returns:
        ``mean_d std_n(z_n / |z_n|)_d``.

    Raises:
        TypeError, ValueError: on bad features or fewer than 2 samples.

    Shape:
        ``z``: ``(N, D)`` with ``N >= 2``.
    """
    x = _normalize(as_features(z, "z", min_rows=2))
    return float(x.std(dim=0).mean())
