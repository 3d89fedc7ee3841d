"""Tests for pairs.losses.tiled: the blockwise log-sum-exp matches the dense one in value and gradient
(float64 1e-10 relative, float32 1e-5), saves no (N, M) tensor, handles exclusions and empty rows, and
the losses pick the path by size."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from pairs.losses import tiled
from pairs.losses.contrastive import clip_loss, info_nce, nt_xent
from pairs.losses.tiled import (
    AUTO_DENSE_MAX_BYTES,
    choose_mode,
    dense_logsumexp,
    resolve_block_size,
    tiled_logsumexp,
)

from .conftest import assert_close_rel, randn, ref_info_nce, ref_nt_xent

SPEC_TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    if b.numel() == 0:
        return float(a.numel())
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def _lse_case(dtype, n=37, m=29, d=6, seed=0, scale_grad=True):
    g = torch.Generator().manual_seed(seed)
    rows = randn(n, d, seed=seed, dtype=dtype).requires_grad_(True)
    cols = randn(m, d, seed=seed + 1, dtype=dtype).requires_grad_(True)
    scale = torch.tensor(1.7, dtype=dtype, requires_grad=scale_grad)
    self_col = torch.randint(-1, m, (n,), generator=g)
    row_gid = torch.randint(0, 4, (n,), generator=g)
    col_gid = torch.randint(0, 4, (m,), generator=g)
    w = torch.randn(n, generator=g, dtype=torch.float64).to(dtype)
    return rows, cols, scale, self_col, row_gid, col_gid, w


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("block", [1, 5, (4, 7), (64, 3), (1000, 1000)])
@pytest.mark.parametrize("exclusions", ["none", "self", "gid", "both"])
def test_tiled_lse_matches_dense(dtype, block, exclusions):
    rows, cols, scale, self_col, row_gid, col_gid, w = _lse_case(dtype)
    kw = {}
    if exclusions in ("self", "both"):
        kw["self_col"] = self_col
    if exclusions in ("gid", "both"):
        kw.update(row_gid=row_gid, col_gid=col_gid)
    dense = dense_logsumexp(rows, cols, scale, **kw)
    tiled_ = tiled_logsumexp(rows, cols, scale, block_size=block, **kw)
    fin = torch.isfinite(dense)
    assert torch.equal(fin, torch.isfinite(tiled_))
    assert _rel_err(tiled_[fin], dense[fin]) <= SPEC_TOL[dtype]
    wd = torch.where(fin, w, torch.zeros_like(w))
    gd = torch.autograd.grad((dense.where(fin, 0) * wd).sum(), [rows, cols, scale])
    gt = torch.autograd.grad((tiled_.where(fin, 0) * wd).sum(), [rows, cols, scale])
    for a, b, name in zip(gt, gd, ["rows", "cols", "scale"], strict=True):
        assert _rel_err(a, b) <= SPEC_TOL[dtype], name


@pytest.mark.parametrize("path", ["dense", "tiled"])
def test_rows_without_candidates_give_minus_inf_and_zero_grad(path):
    rows = randn(4, 3, seed=1).requires_grad_(True)
    cols = randn(2, 3, seed=2).requires_grad_(True)
    gid_r, gid_c = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 0])  # rows 0, 1 lose both columns
    if path == "tiled":
        out = tiled_logsumexp(rows, cols, 1.0, row_gid=gid_r, col_gid=gid_c, block_size=1)
    else:
        out = dense_logsumexp(rows, cols, 1.0, row_gid=gid_r, col_gid=gid_c)
    assert torch.isneginf(out[:2]).all() and torch.isfinite(out[2:]).all()
    out[2:].sum().backward()
    assert torch.isfinite(rows.grad).all() and torch.all(rows.grad[:2] == 0)
    assert torch.isfinite(cols.grad).all()


@pytest.mark.parametrize("path", ["dense", "tiled"])
def test_gradcheck_float64(path):
    rows = randn(5, 3, seed=3).requires_grad_(True)
    cols = randn(4, 3, seed=4).requires_grad_(True)
    scale = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    self_col = torch.tensor([0, 1, -1, 3, 2])

    def fn(r, c, s):
        if path == "dense":
            return dense_logsumexp(r, c, s, self_col=self_col)
        return tiled_logsumexp(r, c, s, self_col=self_col, block_size=(2, 3))

    assert torch.autograd.gradcheck(fn, (rows, cols, scale))


def test_saves_no_full_matrix():
    """The tiled autograd graph holds only (N, D)/(M, D) inputs and (N,) vectors, never (N, M)."""
    n, d = 600, 8
    z1 = randn(n // 2, d, seed=5, dtype=torch.float32).requires_grad_(True)
    z2 = randn(n // 2, d, seed=6, dtype=torch.float32).requires_grad_(True)
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nt_xent(z1, z2, mode="tiled", block_size=(64, 128))
    loss.backward()
    assert max(saved) <= n * d < n * n // 10
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        nt_xent(z1, z2, mode="dense")
    assert max(saved) >= n * n  # the dense path does keep the matrix: the hook sees it


CASES = [
    dict(v=2, labels=False, decoupled=False),
    dict(v=3, labels=False, decoupled=False),
    dict(v=2, labels=True, decoupled=False),
    dict(v=2, labels=True, decoupled=True),
    dict(v=1, labels=True, decoupled=False),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"V{c['v']}-lab{int(c['labels'])}-dcl{int(c['decoupled'])}"
)
def test_nt_xent_tiled_equals_dense(dtype, case):
    b, d = 45, 16
    z = randn(case["v"], b, d, seed=7, dtype=dtype)
    labels = torch.randint(0, 6, (b,), generator=torch.Generator().manual_seed(8)) if case["labels"] else None
    out, grads = {}, {}
    for mode in ("dense", "tiled"):
        zz = z.clone().requires_grad_(True)
        out[mode] = nt_xent(
            zz, temperature=0.1, labels=labels, decoupled=case["decoupled"], mode=mode, block_size=(16, 23)
        )
        (grads[mode],) = torch.autograd.grad(out[mode], zz)
    assert _rel_err(out["tiled"], out["dense"]) <= SPEC_TOL[dtype]
    assert _rel_err(grads["tiled"], grads["dense"]) <= SPEC_TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_info_nce_and_clip_tiled_equal_dense(dtype):
    q, p, n = (
        randn(40, 8, seed=9, dtype=dtype),
        randn(40, 8, seed=10, dtype=dtype),
        randn(70, 8, seed=11, dtype=dtype),
    )
    ql = torch.randint(0, 5, (40,), generator=torch.Generator().manual_seed(1))
    nl = torch.randint(0, 5, (70,), generator=torch.Generator().manual_seed(2))
    calls = [
        lambda a, b, c, mode: info_nce(a, b, mode=mode, block_size=7) + 0 * c.sum(),
        lambda a, b, c, mode: info_nce(a, b, c, query_labels=ql, negative_labels=nl, mode=mode, block_size=7),
        lambda a, b, c, mode: clip_loss(a, b, mode=mode, block_size=(9, 4)) + 0 * c.sum(),
    ]
    for fn in calls:
        res = {}
        for mode in ("dense", "tiled"):
            leaves = [x.clone().requires_grad_(True) for x in (q, p, n)]
            val = fn(*leaves, mode)
            res[mode] = (val, *torch.autograd.grad(val, leaves))
        for a, b in zip(res["tiled"], res["dense"], strict=True):
            assert _rel_err(a, b) <= SPEC_TOL[dtype]


def test_half_inputs_through_tiled_path():
    z = randn(2, 30, 8, seed=12)
    for dtype in (torch.float16, torch.bfloat16):
        zh = z.to(dtype).requires_grad_(True)
        out = nt_xent(zh, mode="tiled", block_size=8)
        (g,) = torch.autograd.grad(out, zh)
        zr = z.to(dtype).double().requires_grad_(True)
        ref = nt_xent(zr, mode="dense")
        (gr,) = torch.autograd.grad(ref, zr)
        assert out.dtype == torch.float32 and g.dtype == dtype
        assert_close_rel(out, ref, dtype)
        assert_close_rel(g, gr, dtype)


def test_choose_mode_and_block_size():
    side = int((AUTO_DENSE_MAX_BYTES // 4) ** 0.5)
    assert choose_mode(side, side, torch.float32) == "dense"
    assert choose_mode(side + 1, side + 1, torch.float32) == "tiled"
    assert choose_mode(side + 1, side + 1, torch.float16, "dense") == "dense"
    assert choose_mode(2, 2, torch.float32, "tiled") == "tiled"
    assert choose_mode(side, side, torch.float64) == "tiled"  # 8-byte elements
    with pytest.raises(ValueError, match="mode"):
        choose_mode(2, 2, torch.float32, "sparse")
    assert resolve_block_size(None) == (tiled.DEFAULT_BLOCK_ROWS, tiled.DEFAULT_BLOCK_COLS)
    assert resolve_block_size(8) == (8, 8)
    assert resolve_block_size((2, 3)) == (2, 3)
    for bad in (0, (1, 0), (1, -2)):
        with pytest.raises(ValueError):
            resolve_block_size(bad)
    for bad in (1.5, "8", (1, 2, 3), True):
        with pytest.raises((TypeError, ValueError)):
            resolve_block_size(bad)


def test_auto_mode_uses_tiled_above_threshold(monkeypatch):
    """The switch is unchanged (dense up to 64 MiB of logits); above it, NT-Xent takes the
    self-similarity path and InfoNCE / CLIP (rows != cols) the general one."""
    used = []
    for name in ("_TiledLogSumExp", "_SelfTiledLogSumExp"):
        cls = getattr(tiled, name)
        monkeypatch.setattr(cls, "apply", lambda *a, _n=name, _f=cls.apply: used.append(_n) or _f(*a))
    z1, z2 = randn(8, 4, seed=13), randn(8, 4, seed=14)
    nt_xent(z1, z2)  # 16 x 16 float64: dense
    info_nce(z1, z2)
    assert used == []
    monkeypatch.setattr(tiled, "AUTO_DENSE_MAX_BYTES", 16 * 16 * 8 - 1)
    nt_xent(z1, z2)
    assert used == ["_SelfTiledLogSumExp"]
    monkeypatch.setattr(tiled, "AUTO_DENSE_MAX_BYTES", 8 * 8 * 8 - 1)
    info_nce(z1, z2)
    nt_xent(z1, z2, labels=torch.tensor([0, 0, 1, 1, 2, 2, 3, 4]), decoupled=True)
    assert used == ["_SelfTiledLogSumExp", "_TiledLogSumExp", "_SelfTiledLogSumExp"]


@pytest.mark.slow
def test_tiled_memory_at_32768_rows():
    """2B = 32,768, D = 128, float32: forward + backward peak RSS under 256 MB above the inputs (Linux)."""
    code = textwrap.dedent(
        """
        import torch
        from pairs.losses import nt_xent
        torch.set_num_threads(2)
        g = torch.Generator().manual_seed(0)
        z1 = torch.randn(16384, 128, generator=g).requires_grad_(True)
        z2 = torch.randn(16384, 128, generator=g).requires_grad_(True)
        def status(key):
            with open("/proc/self/status") as f:
                return next(int(ln.split()[1]) for ln in f if ln.startswith(key + ":"))
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak-RSS mark to the current RSS
            f.write("5")
        base = status("VmRSS")
        loss = nt_xent(z1, z2)
        loss.backward()
        peak = status("VmHWM")
        print((peak - base) * 1024)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    extra = int(out.stdout.strip().splitlines()[-1])
    assert extra < 256 * 2**20, f"peak memory above inputs: {extra / 2**20:.0f} MB"


@pytest.mark.parametrize("offset", [0, 3, -2, 40, -50])
@pytest.mark.parametrize("block", [(4, 7), (64, 1000)])
def test_int_self_col_is_a_diagonal(offset, block):
    rows, cols, scale, *_ = _lse_case(torch.float64, n=23, m=31)
    idx = torch.arange(23) + offset
    as_tensor = torch.where((idx >= 0) & (idx < 31), idx, torch.full_like(idx, -1))
    for fn in (dense_logsumexp, lambda *a, **k: tiled_logsumexp(*a, block_size=block, **k)):
        a = fn(rows, cols, scale, self_col=offset)
        b = fn(rows, cols, scale, self_col=as_tensor)
        assert torch.equal(torch.isfinite(a), torch.isfinite(b))
        assert _rel_err(a, b) <= 1e-12
        ga = torch.autograd.grad(a.sum(), [rows, cols])
        gb = torch.autograd.grad(b.sum(), [rows, cols])
        for x, y in zip(ga, gb, strict=True):
            assert _rel_err(x, y) <= 1e-12


# --------------------------------------------------------------------------------------------------
# the self-similarity path (cols is rows): each pair of tiles computed once
# --------------------------------------------------------------------------------------------------
def _ref_self_lse(z, scale, exclude_self=True, gid=None):
    """Float64 reference: the full matrix, masked, through torch.logsumexp (autograd for gradients)."""
    s = scale * (z @ z.transpose(-1, -2))
    n = s.shape[-1]
    mask = torch.eye(n, dtype=torch.bool) if exclude_self else torch.zeros(n, n, dtype=torch.bool)
    if gid is not None:
        mask = mask | (gid[:, None] == gid[None, :])
    return torch.logsumexp(s.masked_fill(mask, float("-inf")), dim=-1)


def _check_self(z0, scale0, tol, exclude_self=True, gid=None, **kw):
    """Values and gradients (z and a learnable scale) of self_logsumexp against _ref_self_lse, with an
    incoming gradient of mixed signs and zeros."""
    g = torch.Generator().manual_seed(99)
    w = torch.randn(z0.shape[:-1], generator=g, dtype=torch.float64)
    w[..., ::5] = 0.0
    z = z0.clone().requires_grad_(True)
    sc = torch.tensor(scale0, dtype=z0.dtype, requires_grad=True)
    out = tiled.self_logsumexp(z, sc, exclude_self=exclude_self, gid=gid, **kw)
    zr = z0.double().clone().requires_grad_(True)
    scr = torch.tensor(scale0, dtype=torch.float64, requires_grad=True)
    ref = _ref_self_lse(zr, scr, exclude_self, gid)
    fin = torch.isfinite(ref)
    assert torch.equal(fin, torch.isfinite(out))
    assert _rel_err(out[fin], ref[fin]) <= tol
    wf = torch.where(fin, w, torch.zeros_like(w))
    got = torch.autograd.grad((out.where(fin, 0) * wf.to(out.dtype)).sum(), [z, sc])
    want = torch.autograd.grad((ref.where(fin, 0) * wf).sum(), [zr, scr])
    for a, b, name in zip(got, want, ["z", "scale"], strict=True):
        assert _rel_err(a, b) <= tol, name


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, tile", [(37, 5), (37, 1), (64, 16), (13, 1000), (2, 1), (1, 4)])
@pytest.mark.parametrize("groups", [None, 3])
@pytest.mark.parametrize("exclusions", ["self", "none", "gid", "self+gid"])
def test_self_lse_matches_full_matrix(dtype, n, tile, groups, exclusions):
    shape = (n, 6) if groups is None else (groups, n, 6)
    z = randn(*shape, seed=n + tile, dtype=dtype)
    gid = (
        torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(3)) if "gid" in exclusions else None
    )
    _check_self(z, 1.3, SPEC_TOL[dtype], "self" in exclusions, gid, mode="tiled", block_size=tile)
    _check_self(z, 1.3, SPEC_TOL[dtype], "self" in exclusions, gid, mode="dense")


@pytest.mark.parametrize("span_limit", [-1.0, float("inf")])
def test_self_lse_both_column_branches(monkeypatch, span_limit):
    """The column side of an off-diagonal tile is either rescaled from the row side's exp or takes its
    own exp; force each everywhere (moderate logits, where both are exact) and compare."""
    monkeypatch.setattr(tiled, "SPAN_LIMIT", span_limit)
    for dtype in (torch.float64, torch.float32):
        z = randn(2, 50, 8, seed=21, dtype=dtype)
        _check_self(z, 0.9, SPEC_TOL[dtype], mode="tiled", block_size=(7, 9))
        gid = torch.arange(50) % 6
        _check_self(z, 0.9, SPEC_TOL[dtype], True, gid, mode="tiled", block_size=8)


def test_self_lse_wide_logit_spread_stays_exact_in_float32():
    """Norms from 0.1 to 10 at scale 3: logits span hundreds, past SPAN_LIMIT, so tiles fall back to a
    second exp where a rescaling would underflow; float32 results still match float64 to 1e-5."""
    g = torch.Generator().manual_seed(5)
    z = torch.randn(96, 8, generator=g, dtype=torch.float64)
    z = z / z.norm(dim=1, keepdim=True) * torch.logspace(-1, 1, 96, dtype=torch.float64)[:, None]
    _check_self(z.float(), 3.0, 1e-5, mode="tiled", block_size=16)


def test_self_lse_gradcheck_float64():
    z = randn(2, 9, 3, seed=8).requires_grad_(True)
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    gid = torch.tensor([0, 1, 1, 2, 3, 3, 3, 4, 5])
    assert torch.autograd.gradcheck(
        lambda a, s: tiled.self_logsumexp(a, s, gid=gid, mode="tiled", block_size=(2, 4)), (z, scale)
    )


def test_tiled_logsumexp_takes_the_self_path_only_for_the_same_tensor_and_symmetric_exclusions(monkeypatch):
    used = []
    for name in ("_TiledLogSumExp", "_SelfTiledLogSumExp"):
        cls = getattr(tiled, name)
        monkeypatch.setattr(cls, "apply", lambda *a, _n=name, _f=cls.apply: used.append(_n) or _f(*a))
    z = randn(10, 4, seed=2)
    gid = torch.arange(10) % 3
    a = tiled_logsumexp(z, z, 1.0, self_col=0, block_size=3)
    b = tiled_logsumexp(z, z.clone(), 1.0, self_col=0, block_size=3)
    c = tiled_logsumexp(z, z, 1.0, row_gid=gid, col_gid=gid.clone(), block_size=3)
    d = tiled_logsumexp(z, z, 1.0, row_gid=gid, col_gid=gid, block_size=3)
    tiled_logsumexp(z, z, 1.0, self_col=1, block_size=3)
    tiled_logsumexp(z, z, 1.0, self_col=torch.arange(10), block_size=3)
    self_, general = "_SelfTiledLogSumExp", "_TiledLogSumExp"
    assert used == [self_, general, self_, self_, general, general]
    assert _rel_err(a, b) <= 1e-12 and _rel_err(c, d) <= 1e-12


TEMPERATURES = [0.05, 0.2, 1.0, "learnable"]


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("b, block", [(21, 8), (21, (5, 1000)), (8, 1000)], ids=["tiles", "rect", "one-tile"])
@pytest.mark.parametrize("case", ["simclr", "supcon-singleton", "dcl", "v3"])
def test_nt_xent_self_path_equals_loops(temperature, b, block, case):
    """NT-Xent / SupCon (one class present once) / DCL / three views through the tiled self-similarity
    path against the slow loop reference, in float64, with tiles that do and do not divide 2B."""
    n_views = 3 if case == "v3" else 2
    z = randn(n_views, b, 8, seed=30 + b)
    labels = None
    if case.startswith("supcon") or case == "dcl":
        labels = torch.randint(0, 5, (b,), generator=torch.Generator().manual_seed(b))
        labels[0] = 99  # a class present once: its anchors still have their other view as positive
    t = (
        torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        if temperature == "learnable"
        else temperature
    )
    zz = z.clone().requires_grad_(True)
    out = nt_xent(zz, temperature=t, labels=labels, decoupled=case == "dcl", mode="tiled", block_size=block)
    zr = z.clone().requires_grad_(True)
    per, ok = ref_nt_xent(zr, labels, t, decoupled=case == "dcl")
    ref = per[ok].mean()
    assert_close_rel(out, ref, torch.float64)
    leaves = [zz, t] if temperature == "learnable" else [zz]
    leaves_r = [zr, t] if temperature == "learnable" else [zr]
    for a, r in zip(torch.autograd.grad(out, leaves), torch.autograd.grad(ref, leaves_r), strict=True):
        assert_close_rel(a, r, torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("temperature", [0.07, 0.5])
def test_nt_xent_and_supcon_self_path_low_precision(dtype, temperature):
    """float32 and half inputs (computed in float32) through the tiled self path: loss float32, gradient
    in the input dtype, both within the dtype's tolerance of the float64 dense loss on the same values."""
    z = randn(2, 70, 16, seed=41)
    labels = torch.arange(70) % 9
    for lab in (None, labels):
        zh = z.to(dtype).requires_grad_(True)
        out = nt_xent(zh, temperature=temperature, labels=lab, mode="tiled", block_size=(32, 48))
        (g,) = torch.autograd.grad(out, zh)
        zr = z.to(dtype).double().requires_grad_(True)
        ref = nt_xent(zr, temperature=temperature, labels=lab, mode="dense")
        (gr,) = torch.autograd.grad(ref, zr)
        assert out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
        assert g.dtype == dtype
        assert_close_rel(out, ref, dtype)
        assert_close_rel(g, gr, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("temperature", [0.07, 0.5])
@pytest.mark.parametrize("negatives", [False, True])
def test_info_nce_general_tiled_path_low_precision(dtype, temperature, negatives):
    """InfoNCE (in-batch keys, or an explicit (K, D) bank) through the general tiled path with blocks
    that do not divide the sizes, against the float64 loops."""
    q, p, n = randn(37, 8, seed=50), randn(37, 8, seed=51), randn(61, 8, seed=52)
    leaves = [x.to(dtype).requires_grad_(True) for x in (q, p, n)]
    neg = leaves[2] if negatives else None
    out = info_nce(leaves[0], leaves[1], neg, temperature=temperature, mode="tiled", block_size=(16, 10))
    used = leaves if negatives else leaves[:2]
    grads = torch.autograd.grad(out, used)
    refs = [x.to(dtype).double().requires_grad_(True) for x in (q, p, n)]
    ref = ref_info_nce(refs[0], refs[1], refs[2] if negatives else None, temperature).mean()
    grads_r = torch.autograd.grad(ref, refs if negatives else refs[:2])
    assert_close_rel(out, ref, dtype)
    for a, r in zip(grads, grads_r, strict=True):
        assert a.dtype == dtype
        assert_close_rel(a, r, dtype)


@pytest.mark.parametrize("threads", [2, 3])
def test_worker_threads_give_the_one_thread_result(monkeypatch, threads):
    """On the CPU, tiles are spread over torch.get_num_threads() worker threads (fixed assignment, own
    accumulators): the same values and gradients as one thread, for both tiled paths, and the intra-op
    thread count is restored afterwards."""
    z = randn(2, 60, 8, seed=60)
    q, k = randn(50, 8, seed=61), randn(70, 8, seed=62)

    def run():
        leaves = [x.clone().requires_grad_(True) for x in (z, q, k)]
        a = nt_xent(leaves[0], temperature=0.2, mode="tiled", block_size=16)
        b = info_nce(leaves[1], leaves[1], leaves[2], mode="tiled", block_size=(16, 24))
        c = tiled.self_logsumexp(leaves[0], 0.5, mode="tiled", block_size=(8, 32)).sum()
        return [a, b, c, *torch.autograd.grad(a + b + c, leaves)]

    one = run()
    monkeypatch.setattr(tiled, "MIN_PARALLEL_TILE", 1)
    torch.set_num_threads(threads)
    seen = []
    real = tiled._run_tiles
    monkeypatch.setattr(tiled, "_run_tiles", lambda it, b, s, n: seen.append(n) or real(it, b, s, n))
    many = run()
    assert torch.get_num_threads() == threads
    assert seen and min(seen) == threads
    for a, b in zip(many, one, strict=True):
        assert _rel_err(a, b) <= 1e-12


def test_worker_thread_errors_reach_the_caller(monkeypatch):
    monkeypatch.setattr(tiled, "MIN_PARALLEL_TILE", 1)
    torch.set_num_threads(2)
    real = tiled._mask_block

    def fail_late(s, r0, c0, *args):
        if r0 >= 32:  # an item of the second worker
            raise RuntimeError("tile failed")
        real(s, r0, c0, *args)

    monkeypatch.setattr(tiled, "_mask_block", fail_late)
    with pytest.raises(RuntimeError, match="tile failed"):
        nt_xent(randn(2, 40, 4, seed=1), mode="tiled", block_size=8)
    assert torch.get_num_threads() == 2


def test_worker_count_follows_threads_items_and_memory():
    torch.set_num_threads(8)
    cpu = torch.device("cpu")
    big = tiled.MIN_PARALLEL_TILE
    assert tiled._n_workers(cpu, big, 100, 2**20) == 8
    assert tiled._n_workers(cpu, big, 3, 2**20) == 3  # no more workers than items
    assert tiled._n_workers(cpu, big, 100, 64 * 2**20) == 1 + tiled.EXTRA_WORKER_BYTES // (64 * 2**20)
    assert tiled._n_workers(cpu, big - 1, 100, 1) == 1  # tiles too small to be worth a thread
    assert tiled._n_workers(torch.device("meta"), big, 100, 1) == 1  # not the CPU
