"""Tests for pairs.losses.contrastive: loop references (values and gradients) over four dtypes, closed
forms, symmetries, agreement with lightly / pytorch-metric-learning, and input validation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pairs.losses import contrastive as con
from pairs.losses._checks import check_embeddings, check_temperature, default_eps, l2_normalize

from .conftest import DTYPES, TOL, assert_close_rel, randn, ref_clip, ref_info_nce, ref_nt_xent


def _leaf(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x.to(dtype).requires_grad_(True)


def _ref_leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().double().requires_grad_(True)


def _mean_valid(per: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return per[valid].sum() / max(int(valid.sum()), 1)


# --------------------------------------------------------------------------------------------------
# NT-Xent / SupCon / DCL against the loop reference, all dtypes
# --------------------------------------------------------------------------------------------------
CASES = [
    # (V, B, D, labels seed or None, decoupled, temperature)
    (2, 6, 5, None, False, 0.5),
    (3, 4, 7, None, False, 0.2),
    (2, 6, 5, 11, False, 0.1),
    (3, 5, 4, 12, True, 0.3),
    (2, 5, 6, None, True, 0.5),
    (1, 8, 4, 13, False, 0.1),  # single view with labels (some labels unique -> no positives)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["dense", "tiled"])
def test_nt_xent_matches_reference(dtype, case, mode):
    v, b, d, lab_seed, decoupled, t = case
    z0 = randn(v, b, d, seed=v * 100 + b).to(dtype).double()  # values representable in dtype
    labels = None
    if lab_seed is not None:
        labels = torch.randint(0, 3, (b,), generator=torch.Generator().manual_seed(lab_seed))
    z = _leaf(z0, dtype)
    out = con.nt_xent(z, temperature=t, labels=labels, decoupled=decoupled, mode=mode, block_size=(3, 4))
    (gz,) = torch.autograd.grad(out, z)
    zr = _ref_leaf(z0)
    per, valid = ref_nt_xent(zr, labels, t, decoupled)
    ref = _mean_valid(per, valid)
    (gr,) = torch.autograd.grad(ref, zr)
    assert out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert gz.dtype == dtype
    assert_close_rel(out, ref, dtype, "loss")
    assert_close_rel(gz, gr, dtype, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_nt_xent_two_tensor_form_and_reduction(dtype):
    b, d = 5, 6
    z1_0, z2_0 = randn(b, d, seed=1).to(dtype).double(), randn(b, d, seed=2).to(dtype).double()
    z1, z2 = _leaf(z1_0, dtype), _leaf(z2_0, dtype)
    per = con.nt_xent(z1, z2, temperature=0.3, reduction="none")
    assert per.shape == (2 * b,)
    g1, g2 = torch.autograd.grad(per.sum(), [z1, z2])
    r1, r2 = _ref_leaf(z1_0), _ref_leaf(z2_0)
    ref_per, _ = ref_nt_xent(torch.stack([r1, r2]), None, 0.3)
    h1, h2 = torch.autograd.grad(ref_per.sum(), [r1, r2])
    assert_close_rel(per, ref_per, dtype, "per-anchor")
    assert_close_rel(g1, h1, dtype, "grad z1")
    assert_close_rel(g2, h2, dtype, "grad z2")
    s = con.nt_xent(z1, z2, temperature=0.3, reduction="sum")
    m = con.nt_xent(z1, z2, temperature=0.3, reduction="mean")
    assert_close_rel(s, per.sum(), torch.float32, "sum")
    assert_close_rel(m, per.mean(), torch.float32, "mean")


def test_nt_xent_unnormalized_and_learnable_temperature():
    z0 = randn(2, 5, 4, seed=3, scale=0.5)
    z = _ref_leaf(z0)
    t = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    out = con.nt_xent(z, temperature=t, normalize=False)
    gz, gt = torch.autograd.grad(out, [z, t])
    zr, tr = _ref_leaf(z0), torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    per, valid = ref_nt_xent(zr, None, tr, normalize=False)
    ref = _mean_valid(per, valid)
    hz, ht = torch.autograd.grad(ref, [zr, tr])
    assert_close_rel(out, ref, torch.float64)
    assert_close_rel(gz, hz, torch.float64)
    assert_close_rel(gt, ht, torch.float64, "d/dt")
    # tiled path: temperature gradient through the custom Function
    t2 = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    out2 = con.nt_xent(_ref_leaf(z0), temperature=t2, normalize=False, mode="tiled", block_size=2)
    (gt2,) = torch.autograd.grad(out2, t2)
    assert_close_rel(gt2, ht, torch.float64, "d/dt tiled")


# --------------------------------------------------------------------------------------------------
# closed forms and symmetries
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["dense", "tiled"])
def test_identical_orthogonal_views_closed_form(mode):
    b, t = 6, 0.2
    z = torch.eye(b, 8, dtype=torch.float64)
    got = con.nt_xent(z, z.clone(), temperature=t, mode=mode)
    expected = math.log(math.exp(1 / t) + 2 * b - 2) - 1 / t
    assert abs(float(got) - expected) < 1e-12
    got_dcl = con.nt_xent(z, z.clone(), temperature=t, decoupled=True, mode=mode)
    assert abs(float(got_dcl) - (math.log(2 * b - 2) - 1 / t)) < 1e-12
    got_clip = con.clip_loss(z, z.clone(), temperature=t, mode=mode)
    assert abs(float(got_clip) - (math.log(math.exp(1 / t) + b - 1) - 1 / t)) < 1e-12
    got_info = con.info_nce(z, z.clone(), temperature=t, mode=mode)
    assert abs(float(got_info) - (math.log(math.exp(1 / t) + b - 1) - 1 / t)) < 1e-12


def test_identical_views_on_simplex_reach_the_minimum():
    """With identical views the loss is minimised by a regular simplex (cos = -1/(B-1) between examples)."""
    b, t = 5, 0.5
    simplex = torch.eye(b, dtype=torch.float64) - 1.0 / b
    simplex = simplex / simplex.norm(dim=1, keepdim=True)
    got = float(con.nt_xent(simplex, simplex.clone(), temperature=t))
    expected = math.log(math.exp(1 / t) + 2 * (b - 1) * math.exp(-1 / ((b - 1) * t))) - 1 / t
    assert abs(got - expected) < 1e-12
    # any other configuration with identical views is worse
    for seed in range(5):
        z = randn(b, b, seed=seed)
        assert float(con.nt_xent(z, z.clone(), temperature=t)) > got


def test_symmetries():
    z1, z2 = randn(6, 5, seed=4), randn(6, 5, seed=5)
    a = con.nt_xent(z1, z2, temperature=0.3)
    assert_close_rel(con.nt_xent(z2, z1, temperature=0.3), a, torch.float64, "view swap")
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    assert_close_rel(con.nt_xent(z1[perm], z2[perm], temperature=0.3), a, torch.float64, "batch permutation")
    assert_close_rel(con.clip_loss(z1, z2), con.clip_loss(z2, z1), torch.float64, "clip symmetric")
    # scale invariance with normalisation
    assert_close_rel(con.nt_xent(3 * z1, 0.2 * z2, temperature=0.3), a, torch.float64, "scale invariance")
    # V-stack equals the two-tensor form
    assert_close_rel(con.nt_xent(torch.stack([z1, z2]), temperature=0.3), a, torch.float64, "stack form")


def test_supcon_distinct_labels_is_simclr_and_alias():
    z = randn(3, 6, 4, seed=6)
    distinct = torch.arange(6) * 7 - 3  # arbitrary distinct ints
    assert_close_rel(con.supcon_loss(z, distinct, 0.1), con.nt_xent(z, temperature=0.1), torch.float64)
    assert_close_rel(con.SupConLoss()(z, distinct), con.nt_xent(z, temperature=0.1), torch.float64)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    assert_close_rel(
        con.supcon_loss(z, labels, 0.1),
        con.nt_xent(z, temperature=0.1, labels=labels),
        torch.float64,
        "alias",
    )


def test_single_view_all_unique_labels_gives_zero_with_graph():
    z = randn(4, 3, seed=7).requires_grad_(True)
    out = con.supcon_loss(z, torch.arange(4))
    assert float(out.detach()) == 0.0
    out.backward()
    assert z.grad is not None and torch.all(z.grad == 0)


# --------------------------------------------------------------------------------------------------
# InfoNCE
# --------------------------------------------------------------------------------------------------
INFO_CASES = ["in_batch", "in_batch_labels", "queue", "queue_labels", "per_query", "per_query_labels"]


def _info_inputs(case: str, dtype: torch.dtype):
    b, k, d = 5, 7, 4
    q0, p0 = randn(b, d, seed=20).to(dtype).double(), randn(b, d, seed=21).to(dtype).double()
    g = torch.Generator().manual_seed(22)
    ql = torch.randint(0, 3, (b,), generator=g) if case.endswith("labels") else None
    if case.startswith("in_batch"):
        return q0, p0, None, ql, None
    shape = (k, d) if case.startswith("queue") else (b, k, d)
    n0 = randn(*shape, seed=23).to(dtype).double()
    nl = torch.randint(0, 3, shape[:-1], generator=g) if ql is not None else None
    return q0, p0, n0, ql, nl


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", INFO_CASES)
@pytest.mark.parametrize("mode", ["dense", "tiled"])
def test_info_nce_matches_reference(dtype, case, mode):
    q0, p0, n0, ql, nl = _info_inputs(case, dtype)
    leaves = [_leaf(x, dtype) for x in (q0, p0) + ((n0,) if n0 is not None else ())]
    neg = leaves[2] if n0 is not None else None
    out = con.info_nce(
        leaves[0],
        leaves[1],
        neg,
        temperature=0.2,
        query_labels=ql,
        negative_labels=nl,
        mode=mode,
        block_size=(2, 3),
    )
    grads = torch.autograd.grad(out, leaves)
    refs = [_ref_leaf(x) for x in (q0, p0) + ((n0,) if n0 is not None else ())]
    ref = ref_info_nce(refs[0], refs[1], refs[2] if n0 is not None else None, 0.2, ql, nl).mean()
    rgrads = torch.autograd.grad(ref, refs)
    assert_close_rel(out, ref, dtype, "loss")
    for i, (g_, h_) in enumerate(zip(grads, rgrads, strict=True)):
        assert_close_rel(g_, h_, dtype, f"grad {i}")


def test_info_nce_in_batch_is_cross_entropy_and_none_reduction():
    q, p = randn(6, 5, seed=30), randn(6, 5, seed=31)
    logits = F.normalize(q, dim=1) @ F.normalize(p, dim=1).T / 0.07
    expected = F.cross_entropy(logits, torch.arange(6), reduction="none")
    assert_close_rel(con.info_nce(q, p, reduction="none"), expected, torch.float64)
    # a shared queue: cross-entropy over [positive, queue] with target 0 (MoCo / lightly's memory bank)
    bank = randn(9, 5, seed=32)
    pos = (F.normalize(q, dim=1) * F.normalize(p, dim=1)).sum(1, keepdim=True)
    logits = torch.cat([pos, F.normalize(q, dim=1) @ F.normalize(bank, dim=1).T], 1) / 0.1
    expected = F.cross_entropy(logits, torch.zeros(6, dtype=torch.long))
    assert_close_rel(con.info_nce(q, p, bank, temperature=0.1), expected, torch.float64)


# --------------------------------------------------------------------------------------------------
# CLIP
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["dense", "tiled"])
def test_clip_matches_reference(dtype, mode):
    a0, b0 = randn(6, 4, seed=40).to(dtype).double(), randn(6, 4, seed=41).to(dtype).double()
    a, b = _leaf(a0, dtype), _leaf(b0, dtype)
    scale = torch.tensor(3.0, requires_grad=True)
    out = con.clip_loss(a, b, logit_scale=scale, mode=mode, block_size=4)
    ga, gb, gs = torch.autograd.grad(out, [a, b, scale])
    ar, br = _ref_leaf(a0), _ref_leaf(b0)
    sr = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ref = ref_clip(ar, br, sr).mean()
    ha, hb, hs = torch.autograd.grad(ref, [ar, br, sr])
    assert_close_rel(out, ref, dtype, "loss")
    assert_close_rel(ga, ha, dtype, "grad a")
    assert_close_rel(gb, hb, dtype, "grad b")
    assert_close_rel(gs, hs, max(dtype, torch.float32, key=lambda d: TOL[d]), "grad scale")


def test_clip_temperature_equals_logit_scale_and_module():
    a, b = randn(5, 3, seed=42), randn(5, 3, seed=43)
    assert_close_rel(
        con.clip_loss(a, b, temperature=0.25), con.clip_loss(a, b, logit_scale=4.0), torch.float64
    )
    assert_close_rel(con.clip_loss(a, b, temperature=0.25), ref_clip(a, b, 4.0).mean(), torch.float64)
    m = con.CLIPLoss(temperature=0.07)
    assert isinstance(m.log_scale, torch.nn.Parameter)
    assert abs(m.temperature - 0.07) < 1e-6
    out = m(a.float(), b.float())
    out.backward()
    assert m.log_scale.grad is not None and torch.isfinite(m.log_scale.grad)
    # the scale is clamped at max_logit_scale, where its gradient vanishes
    hot = con.CLIPLoss(temperature=1e-3, max_logit_scale=100.0)
    assert abs(float(hot.logit_scale.detach()) - 100.0) < 1e-3
    hot(a.float(), b.float()).backward()
    assert float(hot.log_scale.grad) == 0.0
    fixed = con.CLIPLoss(temperature=0.1, learnable=False)
    assert "log_scale" in dict(fixed.named_buffers()) and not list(fixed.parameters())
    assert_close_rel(fixed(a, b), con.clip_loss(a, b, temperature=0.1), torch.float32)


# --------------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------------
def test_modules_equal_functions():
    z1, z2 = randn(5, 4, seed=50), randn(5, 4, seed=51)
    assert_close_rel(con.NTXentLoss()(z1, z2), con.nt_xent(z1, z2), torch.float64)
    assert_close_rel(
        con.NTXentLoss(0.2, decoupled=True)(z1, z2),
        con.nt_xent(z1, z2, temperature=0.2, decoupled=True),
        torch.float64,
    )
    assert_close_rel(con.InfoNCELoss()(z1, z2), con.info_nce(z1, z2), torch.float64)
    assert "temperature=0.5" in repr(con.NTXentLoss())


# --------------------------------------------------------------------------------------------------
# agreement with the anchor libraries
# --------------------------------------------------------------------------------------------------
def test_matches_lightly_ntxent():
    import lightly.loss as lightly_loss

    z1, z2 = randn(16, 8, seed=60, dtype=torch.float32), randn(16, 8, seed=61, dtype=torch.float32)
    for t in (0.5, 0.1):
        ours = con.nt_xent(z1, z2, temperature=t)
        theirs = lightly_loss.NTXentLoss(temperature=t)(z1, z2)
        assert abs(float(ours) - float(theirs)) < 1e-5 * abs(float(theirs))


def test_matches_pytorch_metric_learning_ntxent():
    import pytorch_metric_learning.losses as pml

    z1, z2 = randn(8, 6, seed=62, dtype=torch.float32), randn(8, 6, seed=63, dtype=torch.float32)
    theirs = pml.NTXentLoss(temperature=0.2)(torch.cat([z1, z2]), torch.arange(8).repeat(2))
    ours = con.nt_xent(z1, z2, temperature=0.2)
    assert abs(float(ours) - float(theirs)) < 1e-5 * abs(float(theirs))


# --------------------------------------------------------------------------------------------------
# numerics
# --------------------------------------------------------------------------------------------------
def test_large_logits_do_not_overflow():
    """Unnormalised embeddings with huge logits: exp would overflow float32, log-sum-exp does not."""
    z1, z2 = randn(6, 4, seed=70, scale=30.0), randn(6, 4, seed=71, scale=30.0)
    z = torch.stack([z1, z2]).reshape(12, 4)
    s = z @ z.T / 0.05
    s.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(6, 12), torch.arange(6)])
    expected = F.cross_entropy(s, target)
    for mode in ("dense", "tiled"):
        got = con.nt_xent(z1.float(), z2.float(), temperature=0.05, normalize=False, mode=mode, block_size=5)
        assert torch.isfinite(got)
        assert abs(float(got) - float(expected)) <= 1e-5 * float(expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_zero_embedding_stays_finite(dtype):
    z1 = randn(4, 3, seed=72).to(dtype)
    z1[0] = 0
    z1.requires_grad_(True)
    out = con.nt_xent(z1, randn(4, 3, seed=73).to(dtype))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z1.grad).all()


def test_l2_normalize_eps_is_dtype_aware():
    for dt in DTYPES:
        assert default_eps(dt) == torch.finfo(dt).eps
    assert default_eps(torch.float64) == torch.finfo(torch.float64).eps
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=torch.float16)
    y = l2_normalize(x)
    assert y.dtype == torch.float16
    assert torch.equal(y[1], torch.zeros(2, dtype=torch.float16))
    assert torch.allclose(y[0].float(), torch.tensor([0.6, 0.8]), atol=1e-3)
    big = torch.full((1, 4), 300.0, dtype=torch.float16)  # squared norm overflows float16
    assert torch.allclose(l2_normalize(big).float(), torch.full((1, 4), 0.5), atol=1e-3)


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def test_nt_xent_rejects_bad_input():
    z = randn(4, 3, seed=80)
    with pytest.raises(ValueError, match="at least 2"):
        con.nt_xent(z[:1], z[:1].clone())
    with pytest.raises(ValueError, match="> 0"):
        con.nt_xent(z, z, temperature=0.0)
    with pytest.raises(ValueError, match="> 0"):
        con.nt_xent(z, z, temperature=-1.0)
    with pytest.raises(ValueError, match="finite"):
        con.nt_xent(z, z, temperature=float("inf"))
    with pytest.raises(ValueError, match="same shape"):
        con.nt_xent(z, z[:3])
    with pytest.raises(ValueError, match="NaN"):
        con.nt_xent(z, torch.full_like(z, float("nan")))
    with pytest.raises(ValueError, match="inf"):
        con.nt_xent(torch.full_like(z, float("inf")), z)
    with pytest.raises(ValueError, match="no positives"):
        con.nt_xent(z)
    with pytest.raises(ValueError, match="2-D or 3-D"):
        con.nt_xent(z[0])
    with pytest.raises(ValueError, match="2-D"):
        con.nt_xent(z[None], z[None])
    with pytest.raises(ValueError, match="empty"):
        con.nt_xent(z[:, :0], z[:, :0])
    with pytest.raises(TypeError, match="floating-point"):
        con.nt_xent(torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        con.nt_xent([[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        con.nt_xent(z, z, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        con.nt_xent(z, z, labels=torch.zeros(4))
    with pytest.raises(ValueError, match="negative per anchor"):
        con.nt_xent(z, z, labels=torch.zeros(4, dtype=torch.long), decoupled=True)
    with pytest.raises(ValueError, match="mode"):
        con.nt_xent(z, z, mode="fast")
    with pytest.raises(ValueError, match="reduction"):
        con.nt_xent(z, z, reduction="avg")
    with pytest.raises(ValueError, match="block_size"):
        con.nt_xent(z, z, block_size=0)
    with pytest.raises(TypeError, match="dtype"):
        con.nt_xent(z, z.float())


def test_info_nce_and_clip_reject_bad_input():
    q, p = randn(4, 3, seed=81), randn(4, 3, seed=82)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        con.info_nce(q[:1], p[:1])
    con.info_nce(q[:1], p[:1], randn(5, 3, seed=83))  # B = 1 is fine with explicit negatives
    with pytest.raises(ValueError, match="same shape"):
        con.info_nce(q, p[:, :2])
    with pytest.raises(ValueError, match="embedding dimension"):
        con.info_nce(q, p, randn(5, 2, seed=84))
    with pytest.raises(ValueError, match=r"\(B, K, D\)"):
        con.info_nce(q, p, randn(3, 5, 3, seed=85))
    with pytest.raises(ValueError, match="empty"):
        con.info_nce(q, p, randn(0, 3, seed=86))
    with pytest.raises(ValueError, match="both query_labels and negative_labels"):
        con.info_nce(q, p, randn(5, 3, seed=87), query_labels=torch.arange(4))
    with pytest.raises(ValueError, match="in-batch"):
        con.info_nce(q, p, negative_labels=torch.arange(4))
    with pytest.raises(ValueError, match="gather_distributed"):
        con.info_nce(q, p, randn(5, 3, seed=88), gather_distributed=True)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        con.info_nce(
            q, p, randn(5, 3, seed=89), query_labels=torch.arange(4), negative_labels=torch.arange(4)
        )
    with pytest.raises(ValueError, match="> 0"):
        con.info_nce(q, p, temperature=0)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        con.clip_loss(q[:1], p[:1])
    with pytest.raises(ValueError, match="logit_scale"):
        con.clip_loss(q, p, logit_scale=torch.tensor(-1.0))
    with pytest.raises(ValueError, match="NaN"):
        con.clip_loss(q, torch.full_like(p, float("nan")))


def test_checks_helpers():
    assert check_temperature(0.5) == 0.5
    t = torch.tensor(0.3)
    assert check_temperature(t) is t
    with pytest.raises(TypeError):
        check_temperature(True)
    with pytest.raises(TypeError):
        check_temperature("0.1")
    with pytest.raises(ValueError, match="scalar"):
        check_temperature(torch.ones(2))
    x = torch.zeros(3, 2)
    assert check_embeddings(x, "x", 2) is x
    with pytest.raises(ValueError, match="at least 2 rows"):
        check_embeddings(x[:1], "x", 2, min_rows=2)
