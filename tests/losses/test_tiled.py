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

from .conftest import assert_close_rel, randn

SPEC_TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
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
    used = []
    real = tiled._TiledLogSumExp.apply

    def spy(*args):
        used.append("tiled")
        return real(*args)

    monkeypatch.setattr(tiled._TiledLogSumExp, "apply", spy)
    z1, z2 = randn(8, 4, seed=13), randn(8, 4, seed=14)
    nt_xent(z1, z2)  # 16 x 16 float64: dense
    assert used == []
    monkeypatch.setattr(tiled, "AUTO_DENSE_MAX_BYTES", 16 * 16 * 8 - 1)
    nt_xent(z1, z2)
    assert used == ["tiled"]


@pytest.mark.slow
def test_tiled_memory_at_32768_rows():
    """2B = 32,768, D = 128, float32: forward + backward peak RSS under 1.5 GB above the inputs (Linux)."""
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
    assert extra < 1.5e9, f"peak memory above inputs: {extra / 1e6:.0f} MB"


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
