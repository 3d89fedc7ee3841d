"""Shared input validation and normalisation helpers for the losses in :mod:`pairs.losses`.

Every public loss validates its inputs with these helpers so that bad input fails early with a message
that says what was wrong and what was expected, instead of a shape error deep inside a matmul or a
silent NaN loss.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor

from pairs.errors import DataError
from pairs.validation import HALF_DTYPES

_HALF_TYPES = HALF_DTYPES


def check_embeddings(
    x: object,
    name: str,
    ndim: int | Sequence[int],
    *,
    min_rows: int = 1,
    check_finite: bool = True,
) -> Tensor:
    """Check that ``x`` is a non-empty, finite floating-point tensor of the expected rank.

    Args:
        x: the value to check.
        name: the argument name used in error messages (e.g. ``"z1"``).
        ndim: the accepted number of dimensions, one int or a sequence of ints.
        min_rows: the smallest accepted size of the batch dimension (the second-to-last dimension).
        check_finite: also reject NaN and +/-inf entries (costs one device sync).

    Returns:
        ``x`` unchanged, so the call can be used inline.

    Raises:
        TypeError: if ``x`` is not a tensor or not floating point.
        ValueError: if ``x`` has the wrong rank, is empty, has fewer than ``min_rows`` rows, or holds
            NaN/inf values.

    Shape:
        any of the ranks in ``ndim``; the last dimension is the embedding dimension ``D``.
    """
    allowed = (ndim,) if isinstance(ndim, (int, numbers.Integral)) else tuple(ndim)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want} (..., D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16/bfloat16/float32/float64), got {x.dtype}"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); expected rows of a non-zero dimension D")
    if x.dim() >= 2 and x.shape[-2] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows in dim -2, got shape {tuple(x.shape)}")
    if check_finite and not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} inf values; embeddings must be finite "
            "(check the encoder output, the learning rate, or AMP overflow)"
        )
    return x


def check_temperature(t: object, name: str = "temperature") -> float | Tensor:
    """Check that a temperature is a finite number (or scalar tensor) strictly greater than zero.

    Args:
        t: a Python number or a 0-d / 1-element tensor.
        name: the argument name used in error messages.

    Returns:
        ``t`` as a ``float`` when it was a number, or the tensor unchanged (so it stays learnable).

    Raises:
        TypeError: if ``t`` is neither a number nor a tensor (``bool`` is rejected too).
        ValueError: if ``t`` is not finite or ``<= 0``, or is a tensor with more than one element.
    """
    if isinstance(t, Tensor):
        if t.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(t.shape)}")
        v = float(t.detach())
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v}")
        return t
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise TypeError(f"{name} must be a positive float, got {type(t).__name__}")
    v = float(t)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def default_eps(dtype: torch.dtype) -> float:
    """The normalisation epsilon used for ``dtype``: ``torch.finfo(dtype).eps``.

    About 9.8e-4 for float16, 7.8e-3 for bfloat16, 1.2e-7 for float32 and 2.2e-16 for float64
    (float32's for non-float dtypes). A fixed ``1e-12`` (``F.normalize``'s default) underflows to zero in
    float16, and its ``1 / eps`` gradient at a zero embedding overflows a half-precision gradient; this
    clamp stays representable, keeps that gradient finite, and is far below the norm of any real
    embedding in that dtype. (Half types are still *computed* in float32, see :func:`l2_normalize`.)
    """
    return float(torch.finfo(dtype if dtype.is_floating_point else torch.float32).eps)


def l2_normalize(x: Tensor, eps: float | None = None, dim: int = -1) -> Tensor:
    """L2-normalise ``x`` along ``dim`` with a dtype-aware epsilon.

    float16 / bfloat16 inputs are normalised in float32 (the squared norm overflows float16 for
    entries above ~256) and cast back; the norm is clamped from below by ``eps``. Each row is divided by
    its largest magnitude before the norm is taken, so rows of magnitude 1e30 (or 1e-30) normalise
    like rows of magnitude 1.

    Args:
        x: floating-point tensor.
        eps: lower bound of the norm; ``None`` uses :func:`default_eps` of ``x.dtype``.
        dim: the dimension to normalise.

    Returns:
        ``x / max(||x||, eps)`` in the dtype of ``x``.

    Shape:
        output has the shape of ``x``.
    """
    if (
        isinstance(dim, bool)
        or not isinstance(dim, numbers.Integral)
        or not -x.dim() <= dim < max(x.dim(), 1)
    ):
        raise ValueError(
            f"l2_normalize: dim must be an int in [-{x.dim()}, {x.dim() - 1}] for shape {tuple(x.shape)}, "
            f"got {dim!r}"
        )
    if eps is None:
        eps = default_eps(x.dtype)
    if x.numel() == 0:
        return x.clone()  # nothing to normalise (no rows, or rows of dimension 0)
    xf = x.float() if x.dtype in _HALF_TYPES else x
    # ||x|| = s * ||x / s|| with s the largest magnitude of the row: the squares cannot overflow (rows near
    # 1e30) or underflow. s is detached: x / max(||x||, eps) = (x / s) / max(||x / s||, eps / s) exactly,
    # value and gradient, so the result is the same as without scaling wherever that one is finite.
    s = xf.detach().abs().amax(dim=dim, keepdim=True).clamp_min(torch.finfo(xf.dtype).tiny)
    xs = xf / s
    out = xs / torch.maximum(torch.linalg.vector_norm(xs, dim=dim, keepdim=True), eps / s)
    return out.to(x.dtype)


def check_reduction(reduction: str) -> str:
    """Check a ``reduction`` argument: one of ``"mean"``, ``"sum"``, ``"none"``.

    Raises:
        ValueError: on any other value.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to a per-sample loss vector."""
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def loss_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype every loss in this package returns for inputs of ``dtype``.

    float16 and bfloat16 inputs are computed in float32 and their loss stays float32 (as under
    ``torch.autocast``, where losses run in float32); float32 and float64 keep their own dtype.
    """
    return torch.float32 if dtype in HALF_DTYPES else dtype


def check_same_kind(*named: tuple[str, Tensor]) -> None:
    """Check that tensors that meet in one matmul share dtype and device.

    Args:
        named: ``(name, tensor)`` pairs, e.g. ``("z1", z1), ("z2", z2)``.

    Raises:
        TypeError: naming both tensors, their dtypes/devices, and the fix (cast one to the other).
    """
    (name0, t0), *rest = named
    for name, t in rest:
        if t.dtype != t0.dtype or t.device != t0.device:
            raise TypeError(
                f"{name0} and {name} must share dtype and device, got {t0.dtype}/{t0.device} and "
                f"{t.dtype}/{t.device}; cast one to the other, e.g. {name} = {name}.to({name0})"
            )


def check_pair(a: object, b: object, name_a: str, name_b: str, *, min_rows: int = 1) -> tuple[Tensor, Tensor]:
    """Check two ``(B, D)`` embeddings that meet row by row: the same shape, dtype and device.

    Args:
        a, b: the values to check (e.g. two views, a query and its positive, two towers).
        name_a, name_b: their argument names, used in error messages.
        min_rows: the smallest accepted batch size ``B`` (see :func:`check_embeddings`).

    Returns:
        ``(a, b)`` unchanged.

    Raises:
        TypeError: as :func:`check_embeddings`, or a dtype/device mismatch (:func:`check_same_kind`).
        ValueError: as :func:`check_embeddings`, or different shapes.

    Shape:
        a ``(B, D)``, b ``(B, D)``.
    """
    a = check_embeddings(a, name_a, 2, min_rows=min_rows)
    b = check_embeddings(b, name_b, 2, min_rows=min_rows)
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape (B, D), got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    check_same_kind((name_a, a), (name_b, b))
    return a, b


def _tensors(value: Any) -> list[Tensor]:
    """The floating-point tensors in ``value`` (a tensor, or nested lists/tuples/dicts of them)."""
    if isinstance(value, Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def finite_loss(fn: _Fn | None = None, *, allow_neg_inf: bool = False) -> Any:
    """Decorate a public loss: a NaN/inf result from finite inputs becomes a clear :class:`DataError`.

    Every loss refuses NaN/inf *inputs* (:func:`check_embeddings`); what is left is overflow: embeddings
    so large (say 1e30) that their similarities, squares or variances exceed the dtype. Losses compute
    safely where the value itself is representable (distances on scaled inputs, half precision in
    float32); where the loss itself is out of range, this says so instead of returning NaN/inf. Costs
    one check of the (small) result.

    Args:
        fn: the loss function (``@finite_loss``), or ``None`` with options (``@finite_loss(...)``).
        allow_neg_inf: ``-inf`` is a legitimate result (a log-sum-exp over no candidates).
    """
    if fn is None:
        return functools.partial(finite_loss, allow_neg_inf=allow_neg_inf)

    def bad(t: Tensor) -> bool:
        if allow_neg_inf:
            return bool((torch.isnan(t) | torch.isposinf(t)).any())
        return not bool(torch.isfinite(t).all())

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        results = _tensors(out)
        if not any(bad(t) for t in results):
            return out
        inputs = _tensors(args) + _tensors(kwargs)
        if not all(bool(torch.isfinite(t).all()) for t in inputs):
            return out  # non-finite in, non-finite out: the caller chose not to check (check_finite=False)
        peak = max((float(t.detach().abs().max()) for t in inputs if t.numel()), default=0.0)
        dtype = next(t.dtype for t in results if bad(t))
        raise DataError(
            f"{fn.__name__}: the loss overflowed {dtype}: inputs of magnitude up to {peak:.3g} give "
            "similarities, squares or variances (after any temperature or scale) beyond the range of the "
            "dtype; L2-normalise the embeddings (normalize=True where the loss has it) or scale them down, "
            "raise a tiny temperature, or compute in float64"
        )

    return wrapper
