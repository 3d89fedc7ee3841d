"""Row-wise log-sum-exp of a similarity matrix, dense or tiled (never materialising the full matrix).

Every contrastive loss in :mod:`pairs.losses.contrastive` is ``loss_i = LSE_i - mean positive logit``,
where ``LSE_i = log sum_{j allowed} exp(scale * <r_i, c_j>)`` over a set of *candidate* columns. The
positive part is linear in the embeddings and cheap; the log-sum-exp over an ``(N, M)`` similarity
matrix is where the time and memory go. This module computes it two ways with one signature:

* :func:`dense_logsumexp` builds the ``(N, M)`` logits once, turns them in place into the softmax and
  keeps it for backward (fast for small and medium batches, ``O(N * M)`` memory);
* :func:`tiled_logsumexp` walks blocks of rows and columns with a running log-sum-exp (the online
  softmax of Milakov & Gimelshein 2018, as in FlashAttention, Dao et al. 2022) inside a custom
  :class:`torch.autograd.Function` that saves only the inputs and the per-row LSE and recomputes the
  blocks in backward (gradient checkpointing of the similarity matrix, as in GradCache, Gao et al.
  2021). Memory is ``O((N + M) * D + block_rows * block_cols)`` instead of ``O(N * M)``.

When the columns are the rows themselves (``cols is rows``: NT-Xent, SupCon and DCL without
``gather_distributed``, TS2Vec's temporal and instance terms) the similarity matrix is symmetric and
:func:`self_logsumexp` visits each pair of tiles ``(I, J), I <= J`` once: the tile ``S_IJ`` gives the
row sums of rows ``I`` and (as ``S_JI = S_IJ^T``) the row sums of rows ``J``; in backward the same tile
gives both ``W_IJ`` and ``W_JI^T``, so the gradient ``(W + W^T) Z`` takes two products per tile pair.
Work per pair of tiles, with ``S`` the ``t x t`` tile of logits (``2 t^2 D`` FLOPs per product):

=====================  ==================================  ========================================
path                   forward                             backward
=====================  ==================================  ========================================
dense                  1 product, softmax kept             2 products
tiled (rows != cols)   1 product per tile                  3 products per tile (one recomputes S)
tiled, self-similarity 1 product per *pair* of tiles       3 products per *pair* of tiles
=====================  ==================================  ========================================

so the self-similarity path does ``4 N^2 D`` FLOPs where the dense one does ``6 N^2 D`` (and the
general tiled one ``8 N M D``). Inside a tile nothing is allocated: the products write into
preallocated buffers, the shift by the row's LSE is fused into the product (``addmm`` with a bias),
``exp`` runs in place, and the temperature (and, on the general path, the incoming gradient) is
applied to the ``(t, D)`` operands instead of the ``(t, t)`` tile. The column side of a
self-similarity tile reuses the row side's ``exp``: ``exp(s_ij - a_j) = exp(s_ij - a_i) exp(a_i - a_j)``,
a rank-one rescaling (which also carries the incoming gradient in backward), used when the shifts of
the two tiles lie within :data:`SPAN_LIMIT` of each other (always for cosine similarities at a
temperature of 0.05 or more: the shifts then differ by at most ``2 / t``), so no term that matters can
underflow; otherwise the tile takes a second ``exp``. On the CPU the tiles are spread over
``torch.get_num_threads()`` worker threads, each with one intra-op thread and its own accumulators (a
tile's many short element-wise passes would otherwise each end in a barrier of the intra-op team, which
on a busy machine costs more than the passes); the assignment of tiles to workers is fixed, so the
result does not depend on timing.

:func:`similarity_logsumexp` picks one of them: ``mode="auto"`` uses the dense path while the
``(N, M)`` matrix in the compute dtype takes at most :data:`AUTO_DENSE_MAX_BYTES` (64 MiB, i.e.
``N = M = 4096`` in float32) and the tiled path above it. ``mode="dense"`` / ``mode="tiled"`` force
either path; both give the same value and gradient (to rounding).

Exclusions (columns left out of row ``i``'s sum):

* ``self_col``: one column per row (the anchor itself in NT-Xent): a tensor with a column index per
  row (``-1`` for none), or an int ``k`` meaning column ``i + k`` for row ``i`` (a diagonal, the common
  case, masked without any index tensor);
* ``row_gid`` / ``col_gid``: when both are given, every column with ``col_gid[j] == row_gid[i]`` is
  left out (the positives, for the decoupled loss DCL, Yeh et al. 2022).

A row left with no candidate column gets ``LSE = -inf`` and a zero gradient; the public losses reject
such inputs before they get here. float16 / bfloat16 inputs are computed in float32 and their LSE is
float32 (the library's rule for losses, :func:`pairs.losses._checks.loss_dtype`); gradients flow back
in the input dtype.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from pairs.losses._checks import check_embeddings, check_same_kind, finite_loss
from pairs.validation import HALF_DTYPES

AUTO_DENSE_MAX_BYTES = 64 * 2**20
"""``mode="auto"`` uses the dense path while the ``(N, M)`` logits take at most this many bytes (64 MiB)."""

DEFAULT_BLOCK_ROWS = 1024
"""Default number of rows per block of the tiled path (and side of a self-similarity tile)."""

DEFAULT_BLOCK_COLS = 1024
"""Default number of columns per block of the tiled path (one block = 4 MiB of float32 logits)."""

SPAN_LIMIT = 40.0
"""Largest spread (in log units) of the shifts of two tiles for which the column side of a
self-similarity tile is rescaled from the row side instead of taking its own ``exp``: a term
``exp(s_ij - a_j)`` that matters to row ``j`` (above ``exp(-47)``) is then at least ``exp(-87)`` on the
row side, still a normal float32."""

_MODES = ("auto", "dense", "tiled")
_HALF = HALF_DTYPES
_NEG_INF = float("-inf")


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
        n_rows: number of rows ``N`` (anchors), summed over groups for a batch of problems.
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


# --------------------------------------------------------------------------------------------------
# helpers shared by the paths
# --------------------------------------------------------------------------------------------------
def _mask_block(
    s: Tensor,
    r0: int,
    c0: int,
    self_col: Tensor | int | None,
    row_gid: Tensor | None,
    col_gid: Tensor | None,
) -> None:
    """Set the excluded entries of the logits block ``s = logits[..., r0:r0+h, c0:c0+w]`` to ``-inf``.

    In place; ``s`` may carry leading batch dimensions (the exclusions are the same for every group).
    """
    h, w = s.shape[-2:]
    if row_gid is not None and col_gid is not None:
        s.masked_fill_(row_gid[r0 : r0 + h, None] == col_gid[None, c0 : c0 + w], _NEG_INF)
    if isinstance(self_col, int):
        k = r0 + self_col - c0  # block-local diagonal: column ii + k for local row ii
        if -h < k < w:
            s.diagonal(offset=k, dim1=-2, dim2=-1).fill_(_NEG_INF)
    elif self_col is not None:
        cols = self_col[r0 : r0 + h]
        hit = (cols >= c0) & (cols < c0 + w)
        if bool(hit.any()):
            rows = torch.nonzero(hit, as_tuple=True)[0]
            s[..., rows, cols[rows] - c0] = _NEG_INF


def _finite_or_zero(x: Tensor) -> Tensor:
    """``x`` with its infinite entries replaced by 0: a safe shift for a row whose max is ``-inf``."""
    return torch.where(torch.isinf(x), torch.zeros_like(x), x)


def _exp_sum(s: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """Max of ``s`` along ``dim`` and the sum of ``exp(s - max)``; overwrites ``s`` with ``exp(s - max)``.

    In place (no copy of the block). A row whose max is ``-inf`` (every entry excluded) is shifted by 0
    and sums to 0.
    """
    mx = s.amax(dim=dim, keepdim=True)
    total = s.sub_(_finite_or_zero(mx)).exp_().sum(dim=dim)
    return mx.squeeze(dim), total


def _merge_(acc_max: Tensor, acc_sum: Tensor, mx: Tensor, total: Tensor) -> None:
    """Fold a block's ``(max, sum of exp(s - max))`` into running ones, in place (online softmax).

    The running state stays in the linear domain (one ``log`` at the end), so merging many blocks
    costs no more than a few roundings of the sum.
    """
    new_max = torch.maximum(acc_max, mx)
    shift = _finite_or_zero(new_max)
    acc_sum.mul_(torch.exp(acc_max - shift)).add_(total * torch.exp(mx - shift))
    acc_max.copy_(new_max)


def _finish_lse(acc_max: Tensor, acc_sum: Tensor) -> Tensor:
    """``log(sum) + max`` of a running state; ``-inf`` for a row with no candidate."""
    return acc_sum.log().add_(_finite_or_zero(acc_max))


def _ranges(n: int, step: int) -> list[tuple[int, int]]:
    return [(a, min(a + step, n)) for a in range(0, n, step)]


class _Workspace:
    """Preallocated flat buffers handed out as contiguous views, so that no tile allocates memory."""

    def __init__(self, count: int, numel: int, like: Tensor) -> None:
        self.flat = [torch.empty(numel, dtype=like.dtype, device=like.device) for _ in range(count)]

    def view(self, k: int, shape: tuple[int, ...]) -> Tensor:
        n = 1
        for s in shape:
            n *= s
        return self.flat[k][:n].view(shape)


def _as_scale(scale: float | Tensor, like: Tensor) -> Tensor:
    if isinstance(scale, Tensor):
        return scale.reshape(())
    return torch.tensor(float(scale), dtype=like.dtype, device=like.device)


def _upcast(x: Tensor) -> Tensor:
    return x.float() if x.dtype in _HALF else x


# --------------------------------------------------------------------------------------------------
# worker threads
# --------------------------------------------------------------------------------------------------
MIN_PARALLEL_TILE = 1 << 16
"""Tiles of at least this many logits are spread over worker threads on the CPU (see :func:`_run_tiles`)."""


EXTRA_WORKER_BYTES = 128 * 2**20
"""The accumulators of the workers after the first take at most this much memory together: with many
intra-op threads (a 16-core machine) fewer workers are used, so that memory stays bounded."""


def _n_workers(device: torch.device, tile_numel: int, n_items: int, state_bytes: int) -> int:
    """How many worker threads :func:`_run_tiles` uses.

    The intra-op thread count on the CPU for tiles big enough to be worth it, at most one per item and
    at most ``1 + EXTRA_WORKER_BYTES // state_bytes`` (each worker holds its own accumulators of
    ``state_bytes``); 1 on other devices (GPU work is already parallel inside each product).
    """
    if device.type != "cpu" or tile_numel < MIN_PARALLEL_TILE:
        return 1
    return max(1, min(torch.get_num_threads(), n_items, 1 + EXTRA_WORKER_BYTES // max(state_bytes, 1)))


def _run_tiles(
    items: Sequence[tuple[int, ...]],
    body: Callable[[tuple[int, ...], Any], None],
    make_state: Callable[[], Any],
    n_workers: int,
) -> list[Any]:
    """Apply ``body(item, state)`` to every item, on ``n_workers`` threads with one state each.

    On the CPU a tile is one product and a few element-wise passes over about a million logits. Split
    across the intra-op threads, each of those passes ends in a barrier, and on a busy machine one
    descheduled thread makes the whole team wait (measured on 2 shared cores: 5x slower than one
    thread). Here each worker runs every ``n_workers``-th item with one intra-op thread, into its own
    accumulators; the assignment is fixed (the result does not depend on timing) and the caller
    combines the states in order. The calling thread is worker 0; grad mode is off in every worker.

    Returns:
        The ``n_workers`` states.
    """
    states = [make_state() for _ in range(n_workers)]
    if n_workers == 1:
        for item in items:
            body(item, states[0])
        return states
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            torch.set_num_threads(1)
            with torch.no_grad():
                for item in items[k::n_workers]:
                    body(item, states[k])
        except BaseException as e:  # re-raised in the calling thread
            errors.append(e)

    saved = torch.get_num_threads()
    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(1, n_workers)]
    try:
        for t in threads:
            t.start()
        work(0)
        for t in threads:
            t.join()
    finally:
        torch.set_num_threads(saved)
    if errors:
        raise errors[0]
    return states


def _merge_states(states: list[tuple[Tensor, Tensor, Any]]) -> Tensor:
    """Combine the workers' running ``(max, sum)`` states (in order) and finish the log-sum-exp."""
    acc_max, acc_sum = states[0][0], states[0][1]
    for mx, total, _ in states[1:]:
        _merge_(acc_max, acc_sum, mx, total)
    return _finish_lse(acc_max, acc_sum)


# --------------------------------------------------------------------------------------------------
# general tiled path: rows against other columns
# --------------------------------------------------------------------------------------------------
class _TiledLogSumExp(torch.autograd.Function):
    """``lse_i = log sum_j exp(scale * r_i . c_j)`` over allowed columns, computed block by block.

    Saves only ``rows``, ``cols``, ``scale`` and the per-row LSE; backward recomputes each logits block
    already shifted by the row's LSE (``addmm`` with bias ``-lse``), exponentiates it in place into the
    softmax weights ``p_ij`` and accumulates ``P @ C`` and ``P^T @ (g * R)`` block by block; the factor
    ``g_i * scale`` is applied to the ``(N, D)`` operands, never to a block. The gradient of ``scale`` is
    ``sum_ij g_i p_ij r_i . c_j = sum_i r_i . (g_i (P C)_i)``, so it costs nothing extra.
    """

    @staticmethod
    def forward(
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
        numel = min(block_rows, n) * min(block_cols, m)
        items = [(*r, *c) for r in _ranges(n, block_rows) for c in _ranges(m, block_cols)]

        def state() -> tuple[Tensor, Tensor, _Workspace]:
            acc_max = torch.full((n,), _NEG_INF, dtype=rows.dtype, device=rows.device)
            return acc_max, torch.zeros_like(acc_max), _Workspace(1, numel, rows)

        def body(item: tuple[int, ...], st: tuple[Tensor, Tensor, _Workspace]) -> None:
            r0, r1, c0, c1 = item
            s = torch.mm(rows[r0:r1] * sc, cols[c0:c1].T, out=st[2].view(0, (r1 - r0, c1 - c0)))
            _mask_block(s, r0, c0, self_col, row_gid, col_gid)
            _merge_(st[0][r0:r1], st[1][r0:r1], *_exp_sum(s, dim=1))

        workers = _n_workers(rows.device, numel, len(items), (2 * n + numel) * rows.element_size())
        lse = _merge_states(_run_tiles(items, body, state, workers))
        self_col_t = self_col if isinstance(self_col, Tensor) else None
        ctx.save_for_backward(rows, cols, scale, lse, self_col_t, row_gid, col_gid)
        ctx.self_col_int = self_col if isinstance(self_col, int) else None
        ctx.blocks = (block_rows, block_cols)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):
        rows, cols, scale, lse, self_col_t, row_gid, col_gid = ctx.saved_tensors
        self_col = ctx.self_col_int if ctx.self_col_int is not None else self_col_t
        block_rows, block_cols = ctx.blocks
        n, m = rows.shape[0], cols.shape[0]
        sc = scale.to(rows.dtype)
        need_rows, need_cols, need_scale = ctx.needs_input_grad[:3]
        g = grad_lse.to(rows.dtype).contiguous()
        gs = g * sc  # g_i * scale, applied to the (t, D) row block of the column gradient
        # rows without any allowed column (lse = -inf) get zero weight: shift them by +inf
        neg_lse = torch.where(torch.isneginf(lse), torch.full_like(lse, float("inf")), lse).neg_()
        numel = min(block_rows, n) * min(block_cols, m)
        items = [(*r, *c) for r in _ranges(n, block_rows) for c in _ranges(m, block_cols)]

        def state() -> tuple[Tensor, Tensor | None, _Workspace]:
            pc = torch.zeros_like(rows)  # (P @ C), before the factor g_i
            return pc, (torch.zeros_like(cols) if need_cols else None), _Workspace(1, numel, rows)

        def body(item: tuple[int, ...], st: tuple[Tensor, Tensor | None, _Workspace]) -> None:
            r0, r1, c0, c1 = item
            out = st[2].view(0, (r1 - r0, c1 - c0))
            s = torch.addmm(neg_lse[r0:r1, None], rows[r0:r1] * sc, cols[c0:c1].T, out=out)
            _mask_block(s, r0, c0, self_col, row_gid, col_gid)
            p = s.exp_()  # softmax weights p_ij of this block
            st[0][r0:r1].addmm_(p, cols[c0:c1])
            if st[1] is not None:
                st[1][c0:c1].addmm_(p.T, rows[r0:r1] * gs[r0:r1, None])

        per_worker = (rows.numel() + (cols.numel() if need_cols else 0) + numel) * rows.element_size()
        states = _run_tiles(items, body, state, _n_workers(rows.device, numel, len(items), per_worker))
        pc, grad_cols = states[0][0], states[0][1]
        for other_pc, other_cols, _ in states[1:]:
            pc.add_(other_pc)
            if grad_cols is not None and other_cols is not None:
                grad_cols.add_(other_cols)
        pc.mul_(g[:, None])  # sum_j g_i p_ij c_j
        grad_scale = None
        if need_scale:
            grad_scale = (rows * pc).sum().to(scale.dtype).reshape(scale.shape)
        grad_rows = pc.mul_(sc) if need_rows else None
        return grad_rows, grad_cols, grad_scale, None, None, None, None, None


# --------------------------------------------------------------------------------------------------
# self-similarity tiled path: one product per pair of tiles
# --------------------------------------------------------------------------------------------------
def _self_items(n_groups: int, n: int, t: int, chunk: int) -> list[tuple[int, ...]]:
    """``(g0, g1, i0, i1, j0, j1)`` for every chunk of problems and pair of tiles ``I <= J``."""
    tiles = _ranges(n, t)
    return [
        (g0, g1, *tiles[a], *tiles[b])
        for g0, g1 in _ranges(n_groups, chunk)
        for a in range(len(tiles))
        for b in range(a, len(tiles))
    ]


class _SelfTiledLogSumExp(torch.autograd.Function):
    """``lse[g, i] = log sum_{j allowed} exp(scale * z[g, i] . z[g, j])`` for ``G`` independent problems.

    The logits of each problem form a symmetric ``(N, N)`` matrix; only tiles ``(I, J)`` with ``I <= J``
    are computed. Forward: per tile, the row-wise sums feed rows ``I`` and the column-wise sums rows
    ``J`` (a weighted column sum of the row side's ``exp``, see :data:`SPAN_LIMIT`), merged into running
    ``(max, sum)`` states. Backward: with ``W_ij = g_i p_ij``, the gradient is ``scale * (W + W^T) Z``;
    per tile ``A = W_IJ + (W_JI)^T = P_IJ * (g_I 1^T + e^{lse_I} (g_J e^{-lse_J})^T)`` (one ``exp`` and a
    rank-one factor) and ``dZ_I += A Z_J``, ``dZ_J += A^T Z_I``. Problems are processed in chunks of
    groups so that a chunk's tile holds at most ``block_rows * block_cols`` logits.
    """

    @staticmethod
    def forward(
        ctx,
        z: Tensor,
        scale: Tensor,
        exclude_self: bool,
        gid: Tensor | None,
        tile: int,
        budget: int,
    ) -> Tensor:
        n_groups, n, _ = z.shape
        t = min(tile, n)
        chunk = max(1, min(n_groups, budget // (t * t)))
        sc = scale.to(z.dtype)
        zt = z.transpose(-1, -2)
        self_col = 0 if exclude_self else None
        items = _self_items(n_groups, n, t, chunk)

        def state() -> tuple[Tensor, Tensor, _Workspace]:
            acc_max = torch.full((n_groups, n), _NEG_INF, dtype=z.dtype, device=z.device)
            return acc_max, torch.zeros_like(acc_max), _Workspace(1, chunk * t * t, z)

        def body(item: tuple[int, ...], st: tuple[Tensor, Tensor, _Workspace]) -> None:
            g0, g1, i0, i1, j0, j1 = item
            acc_max, acc_sum, ws = st
            zs_i = z[g0:g1, i0:i1] * sc  # the scale on the (t, D) side, per tile: no (N, D) copy
            s = torch.bmm(zs_i, zt[g0:g1, :, j0:j1], out=ws.view(0, (g1 - g0, i1 - i0, j1 - j0)))
            _mask_block(s, i0, j0, self_col, gid, gid)
            rows_i = (acc_max[g0:g1, i0:i1], acc_sum[g0:g1, i0:i1])
            if i0 == j0:  # a diagonal tile holds both sides: its row sums are all there is
                _merge_(*rows_i, *_exp_sum(s, dim=2))
                return
            rows_j = (acc_max[g0:g1, j0:j1], acc_sum[g0:g1, j0:j1])
            col_max = s.amax(dim=1)  # (gc, wj)
            ref = col_max.amax(dim=1, keepdim=True)  # the tile's max, per problem
            rescale = bool(torch.isfinite(ref).all()) and float((ref - col_max).max()) <= SPAN_LIMIT
            if not rescale:  # shifts too far apart (or empty columns): the column side's own exp
                _merge_(*rows_j, *_exp_sum(s.transpose(1, 2).clone(), dim=2))
            row_max, row_sum = _exp_sum(s, dim=2)
            _merge_(*rows_i, row_max, row_sum)
            if rescale:  # sum_i exp(s_ij - ref) = sum_i exp(row_max_i - ref) * exp(s_ij - row_max_i)
                weight = (row_max - ref).exp_()  # 0 for a row masked out of the whole tile
                col_sum = torch.bmm(weight[:, None, :], s)[:, 0]
                _merge_(*rows_j, ref.expand_as(col_sum), col_sum)

        per_worker = (2 * n_groups * n + chunk * t * t) * z.element_size()
        workers = _n_workers(z.device, chunk * t * t, len(items), per_worker)
        lse = _merge_states(_run_tiles(items, body, state, workers))
        ctx.save_for_backward(z, scale, lse, gid)
        ctx.exclude_self = exclude_self
        ctx.sizes = (t, chunk)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):
        z, scale, lse, gid = ctx.saved_tensors
        t, chunk = ctx.sizes
        self_col = 0 if ctx.exclude_self else None
        n_groups, n, _ = z.shape
        sc = scale.to(z.dtype)
        g = grad_lse.to(z.dtype).contiguous()
        zt = z.transpose(-1, -2)
        finite = torch.isfinite(lse)
        neg_lse = torch.where(finite, lse, torch.full_like(lse, float("inf"))).neg_()
        items = _self_items(n_groups, n, t, chunk)

        def state() -> tuple[Tensor, _Workspace]:
            return torch.zeros_like(z), _Workspace(2, chunk * t * t, z)  # (W + W^T) Z, before scale

        def body(item: tuple[int, ...], st: tuple[Tensor, _Workspace]) -> None:
            g0, g1, i0, i1, j0, j1 = item
            dz, ws = st
            shape = (g1 - g0, i1 - i0, j1 - j0)
            z_i, g_i = z[g0:g1, i0:i1], g[g0:g1, i0:i1]
            zs_i = z_i * sc
            s = torch.baddbmm(neg_lse[g0:g1, i0:i1, None], zs_i, zt[g0:g1, :, j0:j1], out=ws.view(0, shape))
            _mask_block(s, i0, j0, self_col, gid, gid)
            p = s.exp_()  # p_ij = exp(s_ij - lse_i)
            if i0 == j0:  # dZ_I += W Z_I + W^T Z_I with W = g_I * P
                dz[g0:g1, i0:i1].addcmul_(torch.bmm(p, z_i), g_i[:, :, None])
                dz[g0:g1, i0:i1].baddbmm_(p.transpose(1, 2), z_i * g_i[:, :, None])
                return
            lse_i, lse_j = -neg_lse[g0:g1, i0:i1], -neg_lse[g0:g1, j0:j1]
            g_j = g[g0:g1, j0:j1]
            ref = lse_i.amax(dim=1, keepdim=True)
            rescale = (
                bool(finite[g0:g1, i0:i1].all() and finite[g0:g1, j0:j1].all())
                and float((ref - lse_j.amin(dim=1, keepdim=True)).max()) <= SPAN_LIMIT
            )
            if rescale:  # A = P * (g_i + e^{lse_i - ref} * e^{ref - lse_j} g_j)
                factor = torch.mul(
                    (lse_i - ref).exp_()[:, :, None],
                    ((ref - lse_j).exp_() * g_j)[:, None, :],
                    out=ws.view(1, shape),
                )
                a = p.mul_(factor.add_(g_i[:, :, None]))
            else:  # A = g_i * exp(s_ij - lse_i) + g_j * exp(s_ij - lse_j), two exps
                q = torch.baddbmm(
                    neg_lse[g0:g1, None, j0:j1], zs_i, zt[g0:g1, :, j0:j1], out=ws.view(1, shape)
                )
                _mask_block(q, i0, j0, self_col, gid, gid)
                a = p.mul_(g_i[:, :, None]).add_(q.exp_().mul_(g_j[:, None, :]))
            dz[g0:g1, i0:i1].baddbmm_(a, z[g0:g1, j0:j1])
            dz[g0:g1, j0:j1].baddbmm_(a.transpose(1, 2), z_i)

        per_worker = (z.numel() + 2 * chunk * t * t) * z.element_size()
        states = _run_tiles(items, body, state, _n_workers(z.device, chunk * t * t, len(items), per_worker))
        dz = states[0][0]
        for other, _ in states[1:]:
            dz.add_(other)
        grad_scale = None
        if ctx.needs_input_grad[1]:  # sum_ij W_ij z_i . z_j = (Z * (W + W^T) Z).sum() / 2
            grad_scale = ((z * dz).sum() / 2).to(scale.dtype).reshape(scale.shape)
        grad_z = dz.mul_(sc) if ctx.needs_input_grad[0] else None
        return grad_z, grad_scale, None, None, None, None


# --------------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------------
def _check_pair(rows: object, cols: object) -> tuple[Tensor, Tensor]:
    rows = check_embeddings(rows, "rows", 2)
    if cols is not rows:
        cols = check_embeddings(cols, "cols", 2)
        check_same_kind(("rows", rows), ("cols", cols))
        if rows.shape[1] != cols.shape[1]:
            raise ValueError(
                "rows and cols must have the same dimension D, got "
                f"{tuple(rows.shape)} and {tuple(cols.shape)}"
            )
    assert isinstance(cols, Tensor)
    return rows, cols


def _symmetric(
    rows: Tensor,
    cols: Tensor,
    self_col: Tensor | int | None,
    row_gid: Tensor | None,
    col_gid: Tensor | None,
) -> bool:
    """Whether the exclusions keep the self-similarity symmetric (``cols is rows`` is checked apart)."""
    if cols is not rows or isinstance(self_col, Tensor) or self_col not in (None, 0):
        return False
    if row_gid is None or col_gid is None:  # group exclusions apply only when both are given
        return True
    return row_gid is col_gid or (row_gid.shape == col_gid.shape and bool(torch.equal(row_gid, col_gid)))


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

    When ``cols is rows`` (the same tensor object) and the exclusions are symmetric (``self_col`` 0 or
    ``None``, ``row_gid`` equal to ``col_gid``), the symmetric path of :func:`self_logsumexp` is taken:
    each pair of tiles is computed once.

    Args:
        rows: row embeddings ``R``.
        cols: column embeddings ``C`` (may be the same tensor as ``rows``).
        scale: inverse temperature, a float or a scalar tensor (learnable: it receives a gradient).
        self_col: for each row, one column index to leave out (``-1`` for none), or an int ``k``:
            leave out column ``i + k`` of row ``i``.
        row_gid: group id per row; with ``col_gid``, columns of the same group are left out.
        col_gid: group id per column.
        block_size: ``(block_rows, block_cols)``, one int for square blocks, or ``None`` for
            ``(1024, 1024)``; a self-similarity tile is square, of side ``min(block_rows, block_cols)``.
            Peak extra memory is about two blocks of logits.

    Returns:
        ``lse`` with ``lse[i] = log sum_{j allowed} exp(scale * <rows[i], cols[j]>)`` (float32 for half
        inputs).

    Shape:
        rows ``(N, D)``, cols ``(M, D)``, self_col/row_gid ``(N,)``, col_gid ``(M,)`` -> ``(N,)``.
    """
    rows, cols = _check_pair(rows, cols)
    br, bc = resolve_block_size(block_size)
    if _symmetric(rows, cols, self_col, row_gid, col_gid):
        z = _upcast(rows)
        sc = _as_scale(scale, z)
        gid = row_gid if row_gid is not None and col_gid is not None else None
        out = _SelfTiledLogSumExp.apply(z[None], sc, self_col == 0, gid, min(br, bc), br * bc)
        return out[0]
    same = cols is rows
    rows = _upcast(rows)
    cols = rows if same else _upcast(cols)
    return _TiledLogSumExp.apply(rows, cols, _as_scale(scale, rows), self_col, row_gid, col_gid, br, bc)


class _DenseLogSumExp(torch.autograd.Function):
    """The same row-wise log-sum-exp as :class:`_TiledLogSumExp`, in one block that is kept.

    Forward builds the ``(..., N, M)`` logits once, turns them *in place* into the softmax ``P`` and
    saves ``P``; backward is then two matmuls (``dR = scale * (g * P) @ C``, ``dC = scale * (g * P)^T @ R``)
    with no recomputation: one matmul and one ``exp`` pass fewer than the tiled path, for ``N * M``
    memory. Used for small matrices; accepts a leading batch dimension (independent problems).
    """

    @staticmethod
    def forward(
        ctx,
        rows: Tensor,
        cols: Tensor,
        scale: Tensor,
        self_col: Tensor | int | None,
        row_gid: Tensor | None,
        col_gid: Tensor | None,
    ) -> Tensor:
        sc = scale.to(rows.dtype)
        s = (rows * sc) @ cols.transpose(-1, -2)
        _mask_block(s, 0, 0, self_col, row_gid, col_gid)
        row_max = s.amax(dim=-1)
        shift = _finite_or_zero(row_max)
        p = s.sub_(shift[..., None]).exp_()
        total = p.sum(dim=-1)
        lse = torch.log(total) + shift
        p.div_(torch.where(total > 0, total, torch.ones_like(total))[..., None])  # softmax; empty rows stay 0
        ctx.save_for_backward(rows, cols, scale, p)
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):
        rows, cols, scale, p = ctx.saved_tensors
        sc = scale.to(rows.dtype)
        w = p * (grad_lse.to(rows.dtype) * sc)[..., None]
        grad_rows = w @ cols
        grad_cols = w.transpose(-1, -2) @ rows if ctx.needs_input_grad[1] else None
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
    memory. float16 / bfloat16 inputs are computed in float32 (float32 result).

    Shape:
        rows ``(N, D)``, cols ``(M, D)``, self_col/row_gid ``(N,)``, col_gid ``(M,)`` -> ``(N,)``.
    """
    same = cols is rows
    rows = _upcast(rows)
    cols = rows if same else _upcast(cols)
    return _DenseLogSumExp.apply(rows, cols, _as_scale(scale, rows), self_col, row_gid, col_gid)


@finite_loss(allow_neg_inf=True)
def self_logsumexp(
    z: Tensor,
    scale: float | Tensor = 1.0,
    *,
    exclude_self: bool = True,
    gid: Tensor | None = None,
    mode: str = "auto",
    block_size: int | tuple[int, int] | None = None,
) -> Tensor:
    """Row-wise log-sum-exp of the self-similarity ``scale * z @ z.T``, for one or a batch of problems.

    ``lse[..., i] = log sum_{j allowed} exp(scale * <z[..., i, :], z[..., j, :]>)``: the denominator of
    NT-Xent / SupCon / DCL over all views, and of TS2Vec's temporal (one problem per series, ``2T``
    timestamps) and instance (one problem per timestamp, ``2B`` series) contrast. The tiled path computes
    each pair of tiles of the symmetric matrix once (see the module notes).

    Args:
        z: embeddings ``(N, D)``, or ``(G, N, D)`` for ``G`` independent problems.
        scale: inverse temperature, a float or a scalar tensor (learnable: it receives a gradient).
        exclude_self: leave column ``i`` out of row ``i``'s sum.
        gid: optional group id per row ``(N,)`` (the same for every problem): columns of the row's own
            group are left out (DCL's positives).
        mode: ``"auto"`` (dense while the ``G`` matrices take at most :data:`AUTO_DENSE_MAX_BYTES`),
            ``"dense"`` or ``"tiled"``; the same value and gradient either way.
        block_size: tile budget ``(rows, cols)`` or one int (``None`` for ``(1024, 1024)``): tiles are
            square, of side ``min(rows, cols)``, and a chunk of problems holds at most ``rows * cols``
            logits.

    Returns:
        ``(N,)`` or ``(G, N)`` log-sum-exps, float32 for half inputs; ``-inf`` for a row with no
        candidate (``N = 1`` with ``exclude_self``).

    Raises:
        TypeError, ValueError: a non-float or non-finite ``z``, a rank other than 2 or 3, a bad ``gid``,
            ``mode`` or ``block_size``.

    Shape:
        ``(N, D)`` -> ``(N,)``; ``(G, N, D)`` -> ``(G, N)``; gid ``(N,)``.
    """
    z = check_embeddings(z, "z", (2, 3))
    check_mode(mode)
    resolve_block_size(block_size)
    n = z.shape[-2]
    if gid is not None:
        if not isinstance(gid, Tensor) or gid.is_floating_point() or tuple(gid.shape) != (n,):
            raise ValueError(f"gid must be an integer tensor of shape ({n},), got {gid!r}")
        gid = gid.to(z.device)
    return _self_lse(z, scale, exclude_self, gid, mode, block_size)


def _self_lse(
    z: Tensor,
    scale: float | Tensor,
    exclude_self: bool,
    gid: Tensor | None,
    mode: str,
    block_size: int | tuple[int, int] | None,
) -> Tensor:
    """:func:`self_logsumexp` without the input checks, for callers that validated ``z`` already."""
    br, bc = resolve_block_size(block_size)
    n = z.shape[-2]
    single = z.dim() == 2
    zz = _upcast(z)
    zz = zz[None] if single else zz
    sc = _as_scale(scale, zz)
    if choose_mode(zz.shape[0] * n, n, zz.dtype, mode) == "dense":
        out = _DenseLogSumExp.apply(zz, zz, sc, 0 if exclude_self else None, gid, gid)
    else:
        out = _SelfTiledLogSumExp.apply(zz, sc, bool(exclude_self), gid, min(br, bc), br * bc)
    return out[0] if single else out


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

    Pass ``cols=rows`` (the same object) for a self-similarity: the tiled path then computes each pair
    of tiles once.

    Shape:
        rows ``(N, D)``, cols ``(M, D)`` -> ``(N,)``.
    """
    path = choose_mode(rows.shape[0], cols.shape[0], rows.dtype, mode)
    if path == "dense":
        return dense_logsumexp(rows, cols, scale, self_col=self_col, row_gid=row_gid, col_gid=col_gid)
    return tiled_logsumexp(
        rows, cols, scale, self_col=self_col, row_gid=row_gid, col_gid=col_gid, block_size=block_size
    )
