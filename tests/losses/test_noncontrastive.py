"""Tests for pairs.losses.noncontrastive: slow loop references (values and gradients) over four dtypes,
analytic minima, symmetry, Sinkhorn marginals, the DINO centre, validation, and agreement with lightly."""

from __future__ import annotations

import math

import pytest
import torch

from pairs.losses import noncontrastive as nc

from .conftest import DTYPES, REF_TOL, check_value_and_grad, close_to_ref, randn


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _hadamard(n: int) -> torch.Tensor:
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


# --------------------------------------------------------------------------------------------------
# slow references (loops over samples / features)
# --------------------------------------------------------------------------------------------------
def _cos(u, v):
    dot = sum(u[k] * v[k] for k in range(u.shape[0]))
    return dot / (
        torch.sqrt(sum(u[k] ** 2 for k in range(u.shape[0])))
        * torch.sqrt(sum(v[k] ** 2 for k in range(v.shape[0])))
    )


def ref_byol(p, z):
    z = z.detach()
    return sum(2 - 2 * _cos(p[i], z[i]) for i in range(p.shape[0])) / p.shape[0]


def ref_simsiam(p, z):
    z = z.detach()
    return sum(-_cos(p[i], z[i]) for i in range(p.shape[0])) / p.shape[0]


def _standardised_columns(z, eps, unbiased=False):
    b, d = z.shape
    cols = []
    for j in range(d):
        col = z[:, j]
        mean = sum(col[i] for i in range(b)) / b
        var = sum((col[i] - mean) ** 2 for i in range(b)) / (b - 1 if unbiased else b)
        cols.append((col - mean) / torch.sqrt(var + eps))
    return cols


def ref_barlow(z1, z2, lambda_offdiag=5.1e-3, eps=1e-5):
    b, d = z1.shape
    c1, c2 = _standardised_columns(z1, eps), _standardised_columns(z2, eps)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            cij = sum(c1[i][k] * c2[j][k] for k in range(b)) / b
            loss = loss + ((1 - cij) ** 2 if i == j else lambda_offdiag * cij**2)
    return loss


def ref_vicreg_terms(z1, z2, eps=1e-4):
    b, d = z1.shape
    inv = sum((z1[i, j] - z2[i, j]) ** 2 for i in range(b) for j in range(d)) / (b * d)

    def var_cov(z):
        cols = []
        for j in range(d):
            mean = sum(z[i, j] for i in range(b)) / b
            cols.append(z[:, j] - mean)
        var = (
            sum(
                torch.clamp(1 - torch.sqrt(sum(c[i] ** 2 for i in range(b)) / (b - 1) + eps), min=0)
                for c in cols
            )
            / d
        )
        cov = sum(
            (sum(cols[p][i] * cols[q][i] for i in range(b)) / (b - 1)) ** 2
            for p in range(d)
            for q in range(d)
            if p != q
        )
        return var, cov / d

    v1, c1 = var_cov(z1)
    v2, c2 = var_cov(z2)
    return inv, 0.5 * (v1 + v2), c1 + c2


def ref_vicreg(z1, z2, sim=25.0, var=25.0, cov=1.0):
    i, v, c = ref_vicreg_terms(z1, z2)
    return sim * i + var * v + cov * c


def ref_sinkhorn(scores, epsilon=0.05, n_iters=3):
    """Transliteration of ``distributed_sinkhorn`` from facebookresearch/swav (single process, float64)."""
    with torch.no_grad():
        q = torch.exp(scores.double() / epsilon).t()  # K x B
        b, k = q.shape[1], q.shape[0]
        q /= q.sum()
        for _ in range(n_iters):
            q /= q.sum(dim=1, keepdim=True)
            q /= k
            q /= q.sum(dim=0, keepdim=True)
            q /= b
        q *= b
        return q.t()


def _ce_rows(q, logits):
    """mean over rows of -sum_k q log softmax(logits), written with loops over rows."""
    b = logits.shape[0]
    total = 0.0
    for i in range(b):
        lse = torch.logsumexp(logits[i], 0)
        total = total - sum(q[i, k] * (logits[i, k] - lse) for k in range(logits.shape[1]))
    return total / b


def ref_swav(scores, temperature=0.1, n_global=2, epsilon=0.05, n_iters=3):
    v_total = len(scores)
    loss = 0.0
    for i in range(n_global):
        q = ref_sinkhorn(scores[i], epsilon, n_iters)
        sub = 0.0
        for v in range(v_total):
            if v != i:
                sub = sub + _ce_rows(q, scores[v] / temperature)
        loss = loss + sub / (v_total - 1)
    return loss / n_global


def ref_dino(student, teacher, center, student_temp=0.1, teacher_temp=0.04):
    total, n_terms = 0.0, 0
    for iq, t in enumerate(teacher):
        q = torch.softmax((t.detach() - center) / teacher_temp, dim=-1)
        for v, s in enumerate(student):
            if v == iq:
                continue
            total = total + _ce_rows(q, s / student_temp)
            n_terms += 1
    return total / n_terms


# --------------------------------------------------------------------------------------------------
# BYOL / SimSiam
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_byol_simsiam_match_reference(dtype):
    p, z = randn(7, 5, seed=0), randn(7, 5, seed=1)
    check_value_and_grad(nc.byol_loss, ref_byol, [p, z], dtype, grad_of=[0])
    check_value_and_grad(nc.simsiam_loss, ref_simsiam, [p, z], dtype, grad_of=[0])


def test_byol_simsiam_stop_gradient_on_target():
    p, z = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    for fn in (nc.byol_loss, nc.simsiam_loss):
        gp, gz = torch.autograd.grad(fn(p, z), [p, z], allow_unused=True)
        assert gz is None and gp is not None


@pytest.mark.parametrize("dtype", DTYPES)
def test_byol_simsiam_identical_views(dtype):
    z = randn(6, 8, seed=2).to(dtype)
    assert float(nc.byol_loss(z, z)) == pytest.approx(0.0, abs=10 * REF_TOL[dtype])
    assert float(nc.byol_loss(3.0 * z, z)) == pytest.approx(0.0, abs=10 * REF_TOL[dtype])  # scale-invariant
    assert float(nc.simsiam_loss(z, z)) == pytest.approx(-1.0, abs=10 * REF_TOL[dtype])
    assert float(nc.simsiam_loss(z, -z)) == pytest.approx(1.0, abs=10 * REF_TOL[dtype])


def test_byol_is_two_plus_two_simsiam_and_module():
    p, z = torch.randn(5, 4), torch.randn(5, 4)
    torch.testing.assert_close(nc.byol_loss(p, z), 2 + 2 * nc.simsiam_loss(p, z))
    torch.testing.assert_close(nc.NegativeCosineLoss()(p, z), nc.simsiam_loss(p, z))


# --------------------------------------------------------------------------------------------------
# Barlow Twins
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_barlow_matches_reference(dtype):
    z1, z2 = randn(8, 5, seed=3), randn(8, 5, seed=4) + 0.5 * randn(8, 5, seed=3)
    check_value_and_grad(nc.barlow_twins_loss, ref_barlow, [z1, z2], dtype)


def test_barlow_identical_decorrelated_views_give_zero():
    # columns of a Hadamard matrix (minus the constant one): zero mean, unit variance, orthogonal
    z = _hadamard(8)[:, 1:6] * 2.0 + 3.0
    loss = nc.barlow_twins_loss(z, z, eps=1e-12)
    assert float(loss) == pytest.approx(0.0, abs=1e-20)
    # with the default eps the minimum is 5 * (eps / (1 + eps))^2 (eps inside the BN square root)
    assert float(nc.barlow_twins_loss(z / 2.0, z / 2.0)) == pytest.approx(
        5 * (1e-5 / (1 + 1e-5)) ** 2, rel=1e-6
    )


def test_barlow_symmetric():
    z1, z2 = randn(10, 6, seed=5), randn(10, 6, seed=6)
    torch.testing.assert_close(nc.barlow_twins_loss(z1, z2), nc.barlow_twins_loss(z2, z1))


# --------------------------------------------------------------------------------------------------
# VICReg
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_vicreg_matches_reference(dtype):
    z1, z2 = randn(8, 5, seed=7, scale=0.7), randn(8, 5, seed=8, scale=1.5)
    check_value_and_grad(nc.vicreg_loss, ref_vicreg, [z1, z2], dtype)


def test_vicreg_terms_match_reference():
    z1, z2 = randn(8, 5, seed=9, scale=0.5), randn(8, 5, seed=10)
    terms = nc.vicreg_terms(z1, z2)
    inv, var, cov = ref_vicreg_terms(z1, z2)
    assert set(terms) == {"invariance", "variance", "covariance"}
    torch.testing.assert_close(terms["invariance"], inv)
    torch.testing.assert_close(terms["variance"], var)
    torch.testing.assert_close(terms["covariance"], cov)
    assert float(terms["variance"]) > 0  # scale 0.5 features violate the std >= 1 hinge
    torch.testing.assert_close(
        nc.vicreg_loss(z1, z2, sim_weight=2.0, var_weight=3.0, cov_weight=0.5),
        2.0 * inv + 3.0 * var + 0.5 * cov,
    )


def test_vicreg_identical_decorrelated_views_give_zero_and_symmetry():
    z = _hadamard(8)[:, 1:5] * 1.5
    terms = nc.vicreg_terms(z, z)
    for name, value in terms.items():
        assert float(value) == pytest.approx(0.0, abs=1e-12), name
    z1, z2 = randn(9, 4, seed=11), randn(9, 4, seed=12)
    torch.testing.assert_close(nc.vicreg_loss(z1, z2), nc.vicreg_loss(z2, z1))


# --------------------------------------------------------------------------------------------------
# Sinkhorn-Knopp and SwAV
# --------------------------------------------------------------------------------------------------
def test_sinkhorn_matches_swav_code_and_marginals():
    scores = (
        torch.nn.functional.normalize(randn(12, 6, seed=13), dim=1)
        @ torch.nn.functional.normalize(randn(5, 6, seed=14), dim=1).T
    )  # cosine scores in [-1, 1], (B=12, K=5)
    for n_iters in (1, 3, 10):
        torch.testing.assert_close(
            nc.sinkhorn_knopp(scores, n_iters=n_iters), ref_sinkhorn(scores, n_iters=n_iters)
        )
    q = nc.sinkhorn_knopp(scores, n_iters=200)
    torch.testing.assert_close(q.sum(1), torch.ones(12, dtype=torch.float64))  # one unit per sample
    torch.testing.assert_close(q.sum(0), torch.full((5,), 12 / 5, dtype=torch.float64), rtol=0, atol=1e-6)
    assert (q >= 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sinkhorn_dtype_and_large_scores(dtype):
    scores = (randn(16, 4, seed=15) * 1e3).to(dtype)  # exp(scores / 0.05) overflows every float type
    q = nc.sinkhorn_knopp(scores)
    assert q.dtype == dtype and not q.requires_grad
    assert torch.isfinite(q.double()).all()
    torch.testing.assert_close(
        q.double().sum(1), torch.ones(16, dtype=torch.float64), rtol=0, atol=10 * REF_TOL[dtype]
    )
    # a moderate-score half input agrees with the float64 reference
    mid = (randn(16, 4, seed=16) * 0.1).to(dtype)
    close_to_ref(nc.sinkhorn_knopp(mid), ref_sinkhorn(mid.double()), dtype)


def test_sinkhorn_no_grad_even_if_input_requires_grad():
    s = torch.randn(6, 3, requires_grad=True)
    assert not nc.sinkhorn_knopp(s).requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_swav_matches_reference(dtype):
    crops = [randn(6, 4, seed=20 + i, scale=0.5) for i in range(4)]  # 2 global + 2 local crops
    check_value_and_grad(
        lambda *c: nc.swav_loss(list(c), n_global=2),
        lambda *c: ref_swav(list(c), n_global=2),
        crops,
        dtype,
    )


def test_swav_single_global_crop_and_module():
    crops = [randn(5, 3, seed=30 + i) for i in range(3)]
    torch.testing.assert_close(
        nc.swav_loss(crops, n_global=1, temperature=0.2, n_iters=5),
        ref_swav(crops, n_global=1, temperature=0.2, n_iters=5),
    )
    torch.testing.assert_close(nc.SwAVLoss(n_global=3)(crops), nc.swav_loss(crops, n_global=3))


# --------------------------------------------------------------------------------------------------
# DINO
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_dino_matches_reference(dtype):
    student = [randn(5, 6, seed=40 + i) for i in range(4)]  # 2 global + 2 local crops
    teacher = [randn(5, 6, seed=50 + i) for i in range(2)]
    center = randn(1, 6, seed=60, scale=0.1)

    def fn(*xs):
        return nc.dino_loss(list(xs[:4]), list(xs[4:]), center.to(dtype))

    def ref(*xs):
        return ref_dino(list(xs[:4]), list(xs[4:]), center.to(dtype).double())

    check_value_and_grad(fn, ref, student + teacher, dtype, grad_of=[0, 1, 2, 3])


def test_dino_teacher_gets_no_gradient():
    s = [torch.randn(4, 5, requires_grad=True) for _ in range(2)]
    t = [torch.randn(4, 5, requires_grad=True) for _ in range(2)]
    grads = torch.autograd.grad(nc.dino_loss(s, t, torch.zeros(1, 5)), s + t, allow_unused=True)
    assert all(g is not None for g in grads[:2]) and all(g is None for g in grads[2:])


def test_dino_center_is_ema_and_in_state_dict():
    loss_fn = nc.DINOLoss(out_dim=6, center_momentum=0.8)
    assert "center" in loss_fn.state_dict() and loss_fn.center.shape == (1, 6)
    t1 = [torch.randn(4, 6) for _ in range(2)]
    t2 = [torch.randn(4, 6) + 2.0 for _ in range(2)]
    s = [torch.randn(4, 6) for _ in range(3)]
    loss = loss_fn(s, t1)
    # the loss used the old (zero) centre; the update came after
    torch.testing.assert_close(loss, nc.dino_loss(s, t1, torch.zeros(1, 6)))
    c1 = 0.2 * torch.cat(t1).mean(0, keepdim=True)
    torch.testing.assert_close(loss_fn.center, c1)
    loss_fn(s[:2] + [torch.randn(4, 6)], t2, teacher_temp=0.07)
    c2 = 0.8 * c1 + 0.2 * torch.cat(t2).mean(0, keepdim=True)
    torch.testing.assert_close(loss_fn.center, c2)
    # restoring the state restores the centre
    other = nc.DINOLoss(out_dim=6)
    other.load_state_dict(loss_fn.state_dict())
    torch.testing.assert_close(other.center, c2)
    # the teacher temperature override is used
    t3 = [torch.randn(3, 6) for _ in range(2)]
    s3 = [torch.randn(3, 6) for _ in range(2)]
    centre_before = other.center.clone()
    torch.testing.assert_close(
        other(s3, t3, teacher_temp=0.07), nc.dino_loss(s3, t3, centre_before, teacher_temp=0.07)
    )


def test_dino_half_inputs_keep_float32_centre():
    loss_fn = nc.DINOLoss(out_dim=4)
    out = loss_fn([torch.randn(3, 4).half() for _ in range(2)], [torch.randn(3, 4).half() for _ in range(2)])
    assert out.dtype == torch.float32 and torch.isfinite(out)  # half inputs give a float32 loss
    assert loss_fn.center.dtype == torch.float32 and torch.isfinite(loss_fn.center).all()


# --------------------------------------------------------------------------------------------------
# agreement with lightly
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lightly_loss():
    # imported lazily: lightly is slow to import, and the 2-process test below re-imports this module
    import lightly.loss

    return lightly.loss


def test_barlow_matches_lightly(lightly_loss):
    z1, z2 = randn(16, 8, seed=70), randn(16, 8, seed=71)
    ref = lightly_loss.BarlowTwinsLoss(lambda_param=5.1e-3)(z1, z2)
    torch.testing.assert_close(nc.barlow_twins_loss(z1, z2), ref)


def test_vicreg_matches_lightly(lightly_loss):
    z1, z2 = randn(16, 8, seed=72, scale=0.5), randn(16, 8, seed=73)
    ref = lightly_loss.VICRegLoss()(z1, z2)
    torch.testing.assert_close(nc.vicreg_loss(z1, z2), ref)


def test_simsiam_matches_lightly(lightly_loss):
    p, z = randn(10, 7, seed=74), randn(10, 7, seed=75)
    torch.testing.assert_close(nc.simsiam_loss(p, z), lightly_loss.NegativeCosineSimilarity()(p, z))


def test_swav_matches_lightly(lightly_loss):
    crops = [torch.nn.functional.normalize(randn(8, 5, seed=80 + i), dim=1) for i in range(5)]
    ref = lightly_loss.SwaVLoss(temperature=0.1, sinkhorn_iterations=3, sinkhorn_epsilon=0.05)(
        crops[:2], crops[2:]
    )
    torch.testing.assert_close(nc.swav_loss(crops, n_global=2), ref.reshape(()))


def test_dino_matches_lightly(lightly_loss):
    student = [randn(6, 10, seed=90 + i).float() for i in range(4)]
    teacher = [randn(6, 10, seed=95 + i).float() for i in range(2)]
    ref_fn = lightly_loss.DINOLoss(output_dim=10, teacher_temp=0.04, student_temp=0.1, center_momentum=0.9)
    ours = nc.DINOLoss(10, center_momentum=0.9, student_temp=0.1, teacher_temp=0.04)
    for _ in range(3):  # several steps, so the centres must agree too
        ref = ref_fn(teacher, student)
        got = ours(student, teacher)
        # lightly stacks student crops with teacher crops, so pairs crop indices 0..1 like we do
        torch.testing.assert_close(got, ref)
        torch.testing.assert_close(ours.center, ref_fn.center.reshape(1, 10))
        teacher = [t + 1.0 for t in teacher]


# --------------------------------------------------------------------------------------------------
# modules and validation
# --------------------------------------------------------------------------------------------------
def test_modules_match_functions():
    z1, z2 = torch.randn(6, 4), torch.randn(6, 4)
    torch.testing.assert_close(
        nc.BarlowTwinsLoss(lambda_offdiag=0.1)(z1, z2), nc.barlow_twins_loss(z1, z2, lambda_offdiag=0.1)
    )
    mod = nc.VICRegLoss(sim_weight=1.0, var_weight=2.0, cov_weight=3.0)
    torch.testing.assert_close(
        mod(z1, z2), nc.vicreg_loss(z1, z2, sim_weight=1.0, var_weight=2.0, cov_weight=3.0)
    )
    assert set(mod.terms(z1, z2)) == {"invariance", "variance", "covariance"}
    assert "lambda_offdiag=0.1" in repr(nc.BarlowTwinsLoss(lambda_offdiag=0.1))
    assert "out_dim=4" in repr(nc.DINOLoss(4))


def test_pair_loss_validation():
    z = torch.randn(4, 3)
    for fn in (nc.byol_loss, nc.simsiam_loss, nc.barlow_twins_loss, nc.vicreg_loss):
        with pytest.raises(ValueError, match="same shape"):
            fn(z, torch.randn(4, 2))
        with pytest.raises(ValueError, match="2-D"):
            fn(z[0], z[0])
        with pytest.raises(ValueError, match="NaN"):
            fn(z, torch.full((4, 3), math.nan))
        with pytest.raises(TypeError, match="torch.Tensor"):
            fn(z, z.tolist())
    for fn in (nc.barlow_twins_loss, nc.vicreg_loss):
        with pytest.raises(ValueError, match="at least 2 rows"):
            fn(z[:1], z[:1])
    with pytest.raises(ValueError, match="lambda_offdiag"):
        nc.barlow_twins_loss(z, z, lambda_offdiag=-1.0)
    with pytest.raises(ValueError, match="eps"):
        nc.barlow_twins_loss(z, z, eps=0.0)
    with pytest.raises(ValueError, match="var_weight"):
        nc.vicreg_loss(z, z, var_weight=math.inf)
    with pytest.raises(TypeError, match="sim_weight"):
        nc.VICRegLoss(sim_weight="25")


def test_sinkhorn_swav_validation():
    s = torch.randn(4, 3)
    with pytest.raises(ValueError, match="epsilon"):
        nc.sinkhorn_knopp(s, epsilon=0.0)
    with pytest.raises(ValueError, match="n_iters"):
        nc.sinkhorn_knopp(s, n_iters=0)
    with pytest.raises(TypeError, match="n_iters"):
        nc.sinkhorn_knopp(s, n_iters=2.5)
    with pytest.raises(ValueError, match="2-D"):
        nc.sinkhorn_knopp(s[0])
    with pytest.raises(ValueError, match="at least 2 crop"):
        nc.swav_loss([s])
    with pytest.raises(TypeError, match="list of"):
        nc.swav_loss(s)
    with pytest.raises(ValueError, match="n_global"):
        nc.swav_loss([s, s], n_global=3)
    with pytest.raises(ValueError, match="temperature"):
        nc.swav_loss([s, s], temperature=-0.1)
    with pytest.raises(ValueError, match="share shape"):
        nc.swav_loss([s, torch.randn(4, 5)])
    with pytest.raises(ValueError, match="NaN"):
        nc.swav_loss([s, torch.full((4, 3), math.nan)])


def test_dino_validation():
    s = [torch.randn(4, 5) for _ in range(2)]
    with pytest.raises(ValueError, match="pair of different crops"):
        nc.dino_loss(s[:1], s[:1], torch.zeros(1, 5))
    with pytest.raises(ValueError, match="center must have shape"):
        nc.dino_loss(s, s, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="same shape"):
        nc.dino_loss(s, [torch.randn(4, 6)] * 2, torch.zeros(1, 5))
    with pytest.raises(ValueError, match="teacher_temp"):
        nc.dino_loss(s, s, torch.zeros(1, 5), teacher_temp=0.0)
    with pytest.raises(ValueError, match="out_dim=6"):
        nc.DINOLoss(6)(s, s)
    with pytest.raises(ValueError, match="center_momentum"):
        nc.DINOLoss(5, center_momentum=1.0)
    with pytest.raises(ValueError, match="out_dim"):
        nc.DINOLoss(0)


# --------------------------------------------------------------------------------------------------
# two gloo processes on CPU: gathered statistics give the single-process global-batch result
# --------------------------------------------------------------------------------------------------
WORLD = 2


def _dist_cases():
    return {
        "barlow": lambda z1, z2, g: nc.barlow_twins_loss(z1, z2, gather_distributed=g),
        "vicreg": lambda z1, z2, g: nc.vicreg_loss(z1, z2, gather_distributed=g),
        "swav": lambda z1, z2, g: nc.swav_loss([z1, z2, 0.5 * z1], n_iters=5, gather_distributed=g),
    }


def _dist_compute(rank: int) -> dict:
    """One rank's results (run in each gloo process by :func:`gloo_ranks`)."""
    import torch.distributed as dist

    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(8, 6, generator=g, dtype=torch.float64) for _ in range(2)]
    base = torch.nn.Linear(6, 5).double()
    with torch.no_grad():
        for p in base.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    sl = slice(4 * rank, 4 * rank + 4)
    res = {}
    for name, fn in _dist_cases().items():
        out = []
        for local, gather in ((True, True), (False, False)):
            lin = torch.nn.Linear(6, 5).double()
            lin.load_state_dict(base.state_dict())
            z1, z2 = (lin(x[sl] if local else x) for x in xs)
            loss = fn(z1, z2, gather)
            loss.backward()
            grads = [p.grad.detach().clone() for p in lin.parameters()]
            loss = loss.detach()
            if local:  # what the training loop logs and DDP does to parameter gradients
                dist.all_reduce(loss)
                loss /= WORLD
                for gr in grads:
                    dist.all_reduce(gr)
                    gr /= WORLD
            out.append((loss, grads))
        res[name] = out
    scores = xs[0] @ xs[1][:5].T  # (8, 5)
    res["sinkhorn"] = (nc.sinkhorn_knopp(scores[sl], gather_distributed=True), nc.sinkhorn_knopp(scores)[sl])
    dino = nc.DINOLoss(6, center_momentum=0.5)
    teacher = [xs[0], xs[1]]
    dino([t[sl] for t in teacher], [t[sl] for t in teacher])
    res["center"] = (dino.center.clone(), 0.5 * torch.cat(teacher).mean(0, keepdim=True).float())
    return res


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    from tests.helpers import gloo_ranks

    return gloo_ranks(_dist_compute, tmp_path_factory.mktemp("dist_noncontrastive"), WORLD)


@pytest.mark.parametrize("name", list(_dist_cases()))
def test_distributed_equals_global_batch(two_ranks, name):
    for res in two_ranks:
        (loss_d, grads_d), (loss_s, grads_s) = res[name]
        torch.testing.assert_close(loss_d, loss_s, rtol=1e-10, atol=0)
        for gd, gs in zip(grads_d, grads_s, strict=True):
            torch.testing.assert_close(gd, gs, rtol=1e-9, atol=1e-12)


def test_distributed_sinkhorn_and_dino_center(two_ranks):
    for res in two_ranks:
        q_d, q_s = res["sinkhorn"]
        torch.testing.assert_close(q_d, q_s)
        c_d, c_s = res["center"]
        torch.testing.assert_close(c_d, c_s)
    # and a single process with gather_distributed=True is the plain loss
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.equal(nc.barlow_twins_loss(z1, z2, gather_distributed=True), nc.barlow_twins_loss(z1, z2))
