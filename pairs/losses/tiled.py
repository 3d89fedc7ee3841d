"""Row-wise log-sum-exp of a similarity matrix, dense or tiled (never materialising the full matrix).

Every contrastive loss in :mod:`pairs.losses.contrastive` is ``loss_i = LSE_i - mean positive logit``,
where ``LSE_i = log sum_{j allowed} exp(scale * <r_i, c_j>)`` over a set of *candidate* columns. The
positive part is linear in the embeddings and cheap; the log-sum-exp over an ``(N, M)`` similarity
matrix is where the time and memory go. This module computes it two ways with one signature:

* :func:`dense_logsumexp` builds the ``(N, M)`` logits once, turns them in place into the softmax and
  keeps it for backward (fast for small and medium batches, ``O(N * M)`` memory);
* :func:`tiled_logsumexp` walks blocks of rows and columns with a running max / running sum (the
  online softmax of Milakov & Gimelshein 2018, as in FlashAttention, Dao et al. 2022) inside a custom
  :class:`torch.autograd.Function` that saves only the inputs and the per-row LSE and recomputes the
  blocks in backward (gradient checkpointing of the similarity matrix, as in GradCache, Gao et al.
  2021). Memory is ``O((N + M) * D + block_rows * block_cols)`` instead of ``O(N * M)``.

:func:`similarity_logsumexp` picks one of them: ``mode="auto"`` uses the dense path while the
``(N, M)`` matrix in the compute dtype takes at most :data:`AUTO_DENSE_MAX_BYTES` (64 MiB, i.e.
``N = M = 4096`` in float32) and the tiled path above it. Measured on CPU (D = 128, float32), the
dense path (3 matmuls, softmax kept) is faster up to about that size and the tiled one (4 matmuls,
nothing kept) is as fast from there on, with memory that stays flat. ``mode="dense"`` /
``mode="tiled"`` force either path; both give the same value and gradient (to rounding).

Exclusions (columns left out of row ``i``'s sum):

* ``self_col``: one column per row (the anchor itself in NT-Xent): a tensor with a column index per
  row (``-1`` for none), or an int ``k`` meaning column ``i + k`` for row ``i`` (a diagonal, the common
  case, masked without any index tensor);
* ``row_gid`` / ``col_gid``: when both are given, every column with ``col_gid[j] == row_gid[i]`` is
  left out (the positives, for the decoupled loss DCL, Yeh et al. 2022).

A row left with no candidate column gets ``LSE = -inf`` and a zero gradient; the public losses reject
such inputs before they get here.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from pairs.losses._checks import check_embeddings, check_same_kind, finite_loss

AUTO_DENSE_MAX_BYTES = 64 * 2**20
"""``mode="auto"`` uses the dense path while the ``(N, M)`` logits take at most this many bytes (64 MiB)."""

DEFAULT_BLOCK_ROWS = 512
"""Default number of rows per block of the tiled path."""

DEFAULT_BLOCK_COLS = 4096
"""Default number of columns per block of the tiled path (one block = 8 MiB of float32 logits)."""

_MODES = ("auto", "dense", "tiled")


def check_mode(mode: str) -> str:
    """Check a ``mode`` argument: one of ``"auto"``, ``"dense"``, ``"tiled"``.

    Raises:
        ValueError: on any other value.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    return mode


def resolve_block_size(block_size: int | tuple[int, int] | None) -> tuple[int, int]:
    """Turn ``block_size`` into ``(block_rows, block_cols)``.

    Args:
        block_size: ``None`` for the defaults (:data:`DEFAULT_BLOCK_ROWS`, :data:`DEFAULT_BLOCK_COLS`),
            one int for square blocks, or a pair ``(rows, cols)``.

    Returns:
        ``(block_rows, block_cols)``, both positive.

    Raises:
        TypeError: if ``block_size`` has another type.
        ValueError: if a size is not a positive integer.
    """
    if block_size is None:
        return DEFAULT_BLOCK_ROWS, DEFAULT_BLOCK_COLS
    if isinstance(block_size, bool):
        raise TypeError(f"block_size must be an int or a pair of ints, got {block_size!r}")
    if isinstance(block_size, int):
        sizes = (block_size, block_size)
    elif isinstance(block_size, (tuple, list)) and len(block_size) == 2:
        sizes = (block_size[0], block_size[1])
    else:
        raise TypeError(f"block_size must be an int or a pair (rows, cols) of ints, got {block_size!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"block_size entries must be positive ints, got {block_size!r}")
    return sizes


def choose_mode(n_rows: int, n_cols: int, dtype: torch.dtype, mode: str = "auto") -> str:
    """Resolve ``mode="auto"`` to ``"dense"`` or ``"tiled"`` from the size of the logits matrix.

    Args:
        n_rows: number of rows ``N`` (anchors).
        n_cols: number of columns ``M`` (candidates).
        dtype: compute dtype of the logits.
        mode: ``"auto"``, ``"dense"`` or ``"tiled"``; the last two are returned unchanged.

    Returns:
        ``"dense"`` if ``N * M * itemsize <= AUTO_DENSE_MAX_BYTES`` (64 MiB), else ``"tiled"``.
    """
    check_mode(mode)
    if mode != "auto":
        return mode
    itemsize = torch.empty((), dtype=dtype).element_size()
    return "dense" if n_rows * n_cols * itemsize <= AUTO_DENSE_MAX_BYTES else "tiled"


def _mask_block(
    s: Tensor,
    r0: int,
    c0: int,
    self_col: Tensor | int | None,
    row_gid: Tensor | None,
    col_gid: Tensor | None,
) -> None:
    """Set the excluded entries of the logits block ``s = logits[r0:r0+h, c0:c0+w]`` to ``-inf``, in place."""
    h, w = s.shape
    if row_gid is not None and col_gid is not None:
        s.masked_fill_(row_gid[r0 : r0 + h, None] == col_gid[None, c0 : c0 + w], float("-inf"))
    if isinstance(self_col, int):
        k = r0 + self_col - c0  # block-local diagonal: column ii + k for local row ii
        if -h < k < w:
            s.diagonal(offset=k).fill_(float("-inf"))
    elif self_col is not None:
        cols = self_col[r0 : r0 + h]
        hit = (cols >= c0) & (cols < c0 + w)
        if bool(hit.any()):
            rows = torch.nonzero(hit, as_tuple=True)[0]
            s[rows, cols[rows] - c0] = float("-inf")


class _TiledLogSumExp(torch.autograd.Function):
    """``lse_i = log sum_j exp(scale * r_i . c_j)`` over allowed columns, computed block by block.

    Saves only ``rows``, ``cols``, ``scale`` and the per-row LSE; backward recomputes each logits block,
    turns it into softmax weights ``p_ij = exp(s_ij - lse_i)`` and accumulates
    ``dR = scale * (g * P) @ C`` and ``dC = scale * (g * P)^T @ R`` block by block. The gradient of
    ``scale`` is ``sum_i r_i . dR_i / scale``, so it costs nothing extra.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        rows: Tensor,
        cols: Tensor,
        scale: Tensor,
        self_col: Tensor | int | None,
        row_gid: Tensor | None,
        col_gid: Tensor | None,
        block_rows: int,
        block_cols: int,
    ) -> Tensor:
        n, m = rows.shape[0], cols.shape[0]
        sc = scale.to(rows.dtype)
        lse = torch.empty(n, dtype=rows.dtype, device=rows.device)
        neg_inf = float("-inf")
        for r0 in range(0, n, block_rows):
            r1 = min(r0 + block_rows, n)
            rb = rows[r0:r1] * sc  # scale the small side once
            if m <= block_cols:  # one column block: no running state needed
                s = rb @ cols.T
                _mask_block(s, r0, 0, self_col, row_gid, col_gid)
                lse[r0:r1] = torch.logsumexp(s, dim=1)
                continue
            run_max = torch.full((r1 - r0,), neg_inf, dtype=rows.dtype, device=rows.device)
            run_sum = torch.zeros(r1 - r0, dtype=rows.dtype, device=rows.device)
            for c0 in range(0, m, block_cols):
                c1 = min(c0 + block_cols, m)
                s = rb @ cols[c0:c1].T
                _mask_block(s, r0, c0, self_col, row_gid, col_gid)
                new_max = torch.maximum(run_max, s.amax(dim=1))
                # rows with no allowed column so far have max -inf: shift by 0 to avoid inf - inf
                shift = torch.where(torch.isinf(new_max), torch.zeros_like(new_max), new_max)
                run_sum = run_sum * torch.exp(run_max - shift) + s.sub_(shift[:, None]).exp_().sum(dim=1)
                run_max = new_max
            shift = torch.where(torch.isinf(run_max), torch.zeros_like(run_max), run_max)
            lse[r0:r1] = torch.log(run_sum) + shift
        self_col_t = self_col if isinstance(self_col, Tensor) else None
        ctx.save_for_backward(rows, cols, scale, lse, self_col_t, row_gid, col_gid)
        ctx.self_col_int = self_col if isinstance(self_col, int) else None
        ctx.blocks = (block_rows, block_cols)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):  # type: ignore[override]
        rows, cols, scale, lse, self_col_t, row_gid, col_gid = ctx.saved_tensors
        self_col = ctx.self_col_int if ctx.self_col_int is not None else self_col_t
        block_rows, block_cols = ctx.blocks
        n, m = rows.shape[0], cols.shape[0]
        sc = scale.to(rows.dtype)
        need_rows, need_cols, need_scale = ctx.needs_input_grad[:3]
        grad_rows = torch.zeros_like(rows)
        grad_cols = torch.zeros_like(cols) if need_cols else None
        # rows without any allowed column (lse = -inf) get zero weight: exp(-inf - (+inf)) = 0
        lse_safe = torch.where(torch.isneginf(lse), torch.full_like(lse, float("inf")), lse)
        g = grad_lse.to(rows.dtype) * sc
        for r0 in range(0, n, block_rows):
            r1 = min(r0 + block_rows, n)
            rb = rows[r0:r1] * sc
            for c0 in range(0, m, block_cols):
                c1 = min(c0 + block_cols, m)
                s = rb @ cols[c0:c1].T
                _mask_block(s, r0, c0, self_col, row_gid, col_gid)
                w = s.sub_(lse_safe[r0:r1, None]).exp_().mul_(g[r0:r1, None])  # scale * g_i * p_ij
                grad_rows[r0:r1].addmm_(w, cols[c0:c1])
                if grad_cols is not None:
                    grad_cols[c0:c1].addmm_(w.T, rows[r0:r1])
        grad_scale = None
        if need_scale:
            grad_scale = ((rows * grad_rows).sum() / sc).to(scale.dtype).reshape(scale.shape)
        return (grad_rows if need_rows else None), grad_cols, grad_scale, None, None, None, None, None


def _as_scale(scale: float | Tensor, like: Tensor) -> Tensor:
    if isinstance(scale, Tensor):
        return scale.reshape(())
    return torch.tensor(float(scale), dtype=like.dtype, device=like.device)


@finite_loss(allow_neg_inf=True)  # -inf: a row with no candidate column
def tiled_logsumexp(
    rows: Tensor,
    cols: Tensor,
    scale: float | Tensor,
    *,
    self_col: Tensor | int | None = None,
    row_gid: Tensor | None = None,
    col_gid: Tensor | None = None,
    block_size: int | tuple[int, int] | None = None,
) -> Tensor:
    """Row-wise log-sum-exp of ``scale * rows @ cols.T`` without materialising the matrix.

    Args:
        rows: row embeddings ``R``.
        cols: column embeddings ``C`` (may be the same tensor as ``rows``).
        scale: inverse temperature, a float or a scalar tensor (learnable: it receives a gradient).
        self_col: for each row, one column index to leave out (``-1`` for none), or an int ``k``:
            leave out column ``i + k`` of row ``i``.
        row_gid: group id per row; with ``col_gid``, columns of the same group are left out.
        col_gid: group id per column.
        block_size: ``(block_rows, block_cols)``, one int for square blocks, or ``None`` for
            ``(512, 4096)``. Peak extra memory is about two blocks of logits.

    Returns:
        ``lse`` with ``lse[i] = log sum_{j allowed} exp(scale * <rows[i], cols[j]>)``.

    Shape:
        rows ``(N, D)``, cols ``(M, D)``, self_col/row_gid ``(N,)``, col_gid ``(M,)`` -> ``(N,)``.
    """
    check_embeddings(rows, "rows", 2)
    check_embeddings(cols, "cols", 2)
    check_same_kind(("rows", rows), ("cols", cols))
    if rows.shape[1] != cols.shape[1]:
        raise ValueError(
            f"rows and cols must have the same dimension D, got {tuple(rows.shape)} and {tuple(cols.shape)}"
        )
    br, bc = resolve_block_size(block_size)
    return _TiledLogSumExp.apply(rows, cols, _as_scale(scale, rows), self_col, row_gid, col_gid, br, bc)  # type: ignore[no-any-return]


class _DenseLogSumExp(torch.autograd.Function):
    """The same row-wise log-sum-exp as :class:`_TiledLogSumExp`, in one block that is kept.

    Forward builds the ``(N, M)`` logits once, turns them *in place* into the softmax ``P`` and saves
    ``P``; backward is then two matmuls (``dR = scale * (g * P) @ C``, ``dC = scale * (g * P)^T @ R``)
    with no recomputation: one matmul and one ``exp`` pass fewer than the tiled path, for ``N * M``
    memory. Used for small matrices.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        rows: Tensor,
        cols: Tensor,
        scale: Tensor,
        self_col: Tensor | int | None,
        row_gid: Tensor | None,
        col_gid: Tensor | None,
    ) -> Tensor:
        sc = scale.to(rows.dtype)
        s = (rows * sc) @ cols.T
        _mask_block(s, 0, 0, self_col, row_gid, col_gid)
        row_max = s.amax(dim=1)
        shift = torch.where(torch.isinf(row_max), torch.zeros_like(row_max), row_max)
        p = s.sub_(shift[:, None]).exp_()
        total = p.sum(dim=1)
        lse = torch.log(total) + shift
        p.div_(torch.where(total > 0, total, torch.ones_like(total))[:, None])  # softmax; empty rows stay 0
        ctx.save_for_backward(rows, cols, scale, p)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):  # type: ignore[override]
        rows, cols, scale, p = ctx.saved_tensors
        sc = scale.to(rows.dtype)
        w = p * (grad_lse.to(rows.dtype) * sc)[:, None]
        grad_rows = w @ cols
        grad_cols = w.T @ rows if ctx.needs_input_grad[1] else None
        grad_scale = None
        if ctx.needs_input_grad[2]:
            grad_scale = ((rows * grad_rows).sum() / sc).to(scale.dtype).reshape(scale.shape)
        return (grad_rows if ctx.needs_input_grad[0] else None), grad_cols, grad_scale, None, None, None


def dense_logsumexp(
    rows: Tensor,
    cols: Tensor,
    scale: float | Tensor,
    *,
    self_col: Tensor | int | None = None,
    row_gid: Tensor | None = None,
    col_gid: Tensor | None = None,
) -> Tensor:
    """Same as :func:`tiled_logsumexp` in one block: builds the ``(N, M)`` logits and keeps the softmax.

    Faster than the tiled path for small matrices (no recomputation in backward), at ``O(N * M)``
    memory.

    Shape:
        rows ``(N, D)``, cols ``(M, D)``, self_col/row_gid ``(N,)``, col_gid ``(M,)`` -> ``(N,)``.
    """
    return _DenseLogSumExp.apply(rows, cols, _as_scale(scale, rows), self_col, row_gid, col_gid)  # type: ignore[no-any-return]


def similarity_logsumexp(
    rows: Tensor,
    cols: Tensor,
    scale: float | Tensor,
    *,
    self_col: Tensor | int | None = None,
    row_gid: Tensor | None = None,
    col_gid: Tensor | None = None,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
) -> Tensor:
    """Dispatch to :func:`dense_logsumexp` or :func:`tiled_logsumexp` (see :func:`choose_mode`).

    Shape:
        rows ``(N, D)``, cols ``(M, D)`` -> ``(N,)``.
    """
    path = choose_mode(rows.shape[0], cols.shape[0], rows.dtype, mode)
    if path == "dense":
        return dense_logsumexp(rows, cols, scale, self_col=self_col, row_gid=row_gid, col_gid=col_gid)
    return tiled_logsumexp(
        rows, cols, scale, self_col=self_col, row_gid=row_gid, col_gid=col_gid, block_size=block_size
    )
