"""Tests for pairs.losses.margin: slow loop references (values and gradients) over four dtypes, analytic
cases, symmetry, input validation, and agreement with pytorch-metric-learning where it computes the same
quantity."""

from __future__ import annotations

import pytest
import pytorch_metric_learning.distances as pml_distances
import pytorch_metric_learning.losses as pml_losses
import pytorch_metric_learning.miners as pml_miners
import pytorch_metric_learning.reducers as pml_reducers
import torch

from pairs.losses import margin as ml

from .conftest import DTYPES, check_value_and_grad, randn


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _val(t: torch.Tensor) -> float:
    return float(t.detach())


def _dist(u: torch.Tensor, v: torch.Tensor, distance: str = "euclidean", squared: bool = False):
    """Distance between two vectors, written out element by element."""
    if distance == "cosine":
        dot = sum(u[k] * v[k] for k in range(u.shape[0]))
        nu = torch.sqrt(sum(u[k] * u[k] for k in range(u.shape[0])))
        nv = torch.sqrt(sum(v[k] * v[k] for k in range(v.shape[0])))
        return 1 - dot / (nu * nv)
    sq = sum((u[k] - v[k]) ** 2 for k in range(u.shape[0]))
    return sq if squared else torch.sqrt(sq)


# --------------------------------------------------------------------------------------------------
# slow references
# --------------------------------------------------------------------------------------------------
def ref_contrastive(x1, x2, similar, margin=1.0, squared=True):
    total = 0.0
    for i in range(x1.shape[0]):
        d = _dist(x1[i], x2[i])
        if bool(similar[i]):
            total = total + (d**2 if squared else d)
        else:
            h = torch.clamp(margin - d, min=0)
            total = total + (h**2 if squared else h)
    return total / x1.shape[0]


def ref_triplet(a, p, n, margin=0.2, distance="euclidean", squared=False):
    total = 0.0
    for i in range(a.shape[0]):
        total = total + torch.clamp(
            _dist(a[i], p[i], distance, squared) - _dist(a[i], n[i], distance, squared) + margin, min=0
        )
    return total / a.shape[0]


def _dist_table(x, distance, squared):
    b = x.shape[0]
    return [[None if i == j else _dist(x[i], x[j], distance, squared) for j in range(b)] for i in range(b)]


def ref_triplet_mined(x, labels, margin=0.2, mining="batch_all", distance="euclidean", squared=False):
    b = x.shape[0]
    d = _dist_table(x, distance, squared)
    lab = labels.tolist()
    if mining == "batch_all":
        losses = []
        for a in range(b):
            for p in range(b):
                for n in range(b):
                    if a != p and lab[a] == lab[p] and lab[n] != lab[a]:
                        losses.append(torch.clamp(d[a][p] - d[a][n] + margin, min=0))
        active = [v for v in losses if _val(v) > 0]
        return sum(losses) / max(len(active), 1)
    if mining == "batch_hard":
        losses = []
        for a in range(b):
            pos = [d[a][p] for p in range(b) if p != a and lab[p] == lab[a]]
            neg = [d[a][n] for n in range(b) if lab[n] != lab[a]]
            if pos and neg:
                losses.append(torch.clamp(max(pos, key=_val) - min(neg, key=_val) + margin, min=0))
        return sum(losses) / len(losses)
    # semi_hard (FaceNet / TF-Addons convention)
    losses = []
    for a in range(b):
        neg = [d[a][n] for n in range(b) if lab[n] != lab[a]]
        if not neg:
            continue
        for p in range(b):
            if p == a or lab[p] != lab[a]:
                continue
            farther = [v for v in neg if _val(v) > _val(d[a][p])]
            chosen = min(farther, key=_val) if farther else max(neg, key=_val)
            losses.append(torch.clamp(d[a][p] - chosen + margin, min=0))
    return sum(losses) / len(losses)


def ref_npair(a, p, labels=None, l2_reg=0.0):
    b = a.shape[0]
    total = 0.0
    for i in range(b):
        logits = [sum(a[i][k] * p[j][k] for k in range(a.shape[1])) for j in range(b)]
        lse = torch.logsumexp(torch.stack(logits), 0)
        if labels is None:
            targets = [1.0 if j == i else 0.0 for j in range(b)]
        else:
            same = [1.0 if int(labels[j]) == int(labels[i]) else 0.0 for j in range(b)]
            targets = [s / sum(same) for s in same]
        total = total - sum(t * (logits[j] - lse) for j, t in enumerate(targets))
    loss = total / b
    if l2_reg:
        na = sum((a[i] ** 2).sum() for i in range(b)) / b
        npos = sum((p[i] ** 2).sum() for i in range(b)) / b
        loss = loss + l2_reg * 0.25 * (na + npos)
    return loss


LABELS = torch.tensor([0, 1, 0, 2, 1, 0, 2, 3, 1, 3])  # 4 classes, B = 10


# --------------------------------------------------------------------------------------------------
# values and gradients vs the references
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [True, False])
def test_contrastive_matches_reference(dtype, squared):
    x1, x2 = randn(12, 5, seed=0), randn(12, 5, seed=1)
    similar = torch.tensor([1, 0] * 6)
    # margin around the median distance so both hinge branches occur
    check_value_and_grad(
        lambda a, b, **k: ml.contrastive_margin_loss(a, b, similar, **k),
        lambda a, b, **k: ref_contrastive(a, b, similar, **k),
        [x1, x2],
        dtype,
        margin=3.0,
        squared=squared,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("distance", "squared"), [("euclidean", False), ("euclidean", True), ("cosine", False)]
)
def test_triplet_loss_matches_reference(dtype, distance, squared):
    a, p, n = randn(9, 4, seed=2), randn(9, 4, seed=3), randn(9, 4, seed=4)
    margin = 0.5 if distance == "cosine" else 1.0
    check_value_and_grad(
        ml.triplet_loss, ref_triplet, [a, p, n], dtype, margin=margin, distance=distance, squared=squared
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_triplet_mining_matches_reference(dtype, mining, distance):
    x = randn(10, 4, seed=5)
    margin = 0.3 if distance == "cosine" else 1.0
    check_value_and_grad(
        lambda e, **k: ml.triplet_margin_loss(e, LABELS, **k),
        lambda e, **k: ref_triplet_mined(e, LABELS, **k),
        [x],
        dtype,
        margin=margin,
        mining=mining,
        distance=distance,
    )


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_triplet_mining_squared_matches_reference(mining):
    x = randn(10, 4, seed=6)
    check_value_and_grad(
        lambda e, **k: ml.triplet_margin_loss(e, LABELS, **k),
        lambda e, **k: ref_triplet_mined(e, LABELS, **k),
        [x],
        torch.float64,
        margin=4.0,
        mining=mining,
        squared=True,
    )


def test_triplet_mining_singleton_classes_are_skipped():
    # class 9 appears once: it is a negative for others but never an anchor with a positive
    labels = torch.tensor([0, 0, 1, 1, 9])
    x = randn(5, 3, seed=7)
    for mining in ("batch_all", "batch_hard", "semi_hard"):
        check_value_and_grad(
            lambda e, m=mining: ml.triplet_margin_loss(e, labels, margin=1.0, mining=m),
            lambda e, m=mining: ref_triplet_mined(e, labels, margin=1.0, mining=m),
            [x],
            torch.float64,
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_labels", [False, True])
def test_npair_matches_reference(dtype, with_labels):
    a, p = randn(6, 4, seed=8, scale=0.7), randn(6, 4, seed=9, scale=0.7)
    labels = torch.tensor([0, 1, 0, 2, 3, 1]) if with_labels else None
    check_value_and_grad(
        lambda x, y, **k: ml.npair_loss(x, y, labels, **k),
        lambda x, y, **k: ref_npair(x, y, labels, **k),
        [a, p],
        dtype,
        l2_reg=0.002 if with_labels else 0.0,
    )


# --------------------------------------------------------------------------------------------------
# analytic cases
# --------------------------------------------------------------------------------------------------
def test_contrastive_known_distances():
    x1 = torch.zeros(4, 2, dtype=torch.float64)
    x2 = torch.tensor([[3.0, 4.0]] * 4, dtype=torch.float64)  # d = 5
    similar = torch.tensor([True, False, True, False])
    per = ml.contrastive_margin_loss(x1, x2, similar, margin=6.0, reduction="none")
    torch.testing.assert_close(per, torch.tensor([25.0, 1.0, 25.0, 1.0], dtype=torch.float64))
    per = ml.contrastive_margin_loss(x1, x2, similar, margin=6.5, squared=False, reduction="none")
    torch.testing.assert_close(per, torch.tensor([5.0, 1.5, 5.0, 1.5], dtype=torch.float64))
    # dissimilar pairs beyond the margin pay nothing
    assert float(ml.contrastive_margin_loss(x1, x2, torch.zeros(4), margin=4.0)) == 0.0
    total = ml.contrastive_margin_loss(x1, x2, similar, margin=6.0, reduction="sum")
    assert float(total) == pytest.approx(52.0)


def test_contrastive_gradient_finite_at_zero_distance():
    x1 = torch.randn(4, 3, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    for squared in (True, False):
        for sim in (torch.ones(4), torch.zeros(4)):
            loss = ml.contrastive_margin_loss(x1, x2, sim, squared=squared)
            g1, g2 = torch.autograd.grad(loss, [x1, x2])
            assert torch.isfinite(g1).all() and torch.isfinite(g2).all()
    # dissimilar identical pair: loss m^2, and loss 0 for similar identical pairs
    with torch.no_grad():
        assert float(ml.contrastive_margin_loss(x1, x2, torch.zeros(4), margin=2.0)) == pytest.approx(4.0)
        assert float(ml.contrastive_margin_loss(x1, x2, torch.ones(4))) == 0.0


def test_contrastive_label_dtypes_agree():
    x1, x2 = torch.randn(6, 3), torch.randn(6, 3)
    lab = [1, 0, 0, 1, 1, 0]
    values = [
        ml.contrastive_margin_loss(x1, x2, torch.tensor(lab, dtype=dt))
        for dt in (torch.bool, torch.long, torch.float)
    ]
    assert all(torch.equal(values[0], v) for v in values[1:])


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_triplet_well_separated_classes_give_zero(mining, distance):
    # three classes on three orthogonal axes, tiny spread: every triplet satisfies the margin
    centres = torch.eye(3) * 10
    labels = torch.arange(3).repeat_interleave(4)
    x = (
        centres[labels] + 0.01 * torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    ).requires_grad_()
    loss = ml.triplet_margin_loss(x, labels, margin=0.2, mining=mining, distance=distance)
    assert float(loss.detach()) == 0.0
    (g,) = torch.autograd.grad(loss, x)
    assert torch.equal(g, torch.zeros_like(g))


def test_triplet_loss_known_value():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0]])  # d = 1
    n = torch.tensor([[0.0, 1.5]])  # d = 1.5
    assert float(ml.triplet_loss(a, p, n, margin=1.0)) == pytest.approx(0.5)
    assert float(ml.triplet_loss(a, p, n, margin=2.0, squared=True)) == pytest.approx(1.0 - 2.25 + 2.0)
    assert float(ml.triplet_loss(a, p, n, margin=0.4)) == 0.0


def test_triplet_duplicate_embeddings_have_finite_gradient():
    x = torch.randn(6, 4)
    x[1] = x[0]  # two identical rows of the same class: zero distance on a positive pair
    x.requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    for mining in ("batch_all", "batch_hard", "semi_hard"):
        (g,) = torch.autograd.grad(ml.triplet_margin_loss(x, labels, margin=5.0, mining=mining), x)
        assert torch.isfinite(g).all()


def test_npair_perfect_pairs_approach_zero():
    a = torch.eye(4, dtype=torch.float64) * 20
    # logits 400 on the diagonal, 0 elsewhere: loss = log(1 + 3 exp(-400)) ~ 0
    assert 0.0 <= float(ml.npair_loss(a, a.clone())) < 1e-12
    # l2 regulariser adds exactly 0.25 * l2_reg * (mean |a|^2 + mean |p|^2)
    base = ml.npair_loss(a, a.clone())
    reg = ml.npair_loss(a, a.clone(), l2_reg=0.01)
    assert float(reg - base) == pytest.approx(0.25 * 0.01 * 800.0)


# --------------------------------------------------------------------------------------------------
# symmetry / invariance
# --------------------------------------------------------------------------------------------------
def test_contrastive_symmetric_in_inputs():
    x1, x2 = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64)
    sim = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    for squared in (True, False):
        torch.testing.assert_close(
            ml.contrastive_margin_loss(x1, x2, sim, margin=3.0, squared=squared),
            ml.contrastive_margin_loss(x2, x1, sim, margin=3.0, squared=squared),
        )


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard"])
def test_triplet_mining_invariant_to_batch_order(mining):
    x = randn(10, 4, seed=11)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        ml.triplet_margin_loss(x, LABELS, margin=1.0, mining=mining),
        ml.triplet_margin_loss(x[perm], LABELS[perm], margin=1.0, mining=mining),
    )


def test_npair_labels_none_equals_distinct_labels():
    a, p = randn(5, 3, seed=12), randn(5, 3, seed=13)
    torch.testing.assert_close(ml.npair_loss(a, p), ml.npair_loss(a, p, torch.arange(5)))


# --------------------------------------------------------------------------------------------------
# agreement with pytorch-metric-learning
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_batch_all_matches_pml(distance):
    x = randn(16, 6, seed=14)
    labels = torch.arange(4).repeat(4)
    pml_dist = (
        pml_distances.LpDistance(normalize_embeddings=False, p=2, power=1)
        if distance == "euclidean"
        else pml_distances.CosineSimilarity()
    )
    margin = 1.0 if distance == "euclidean" else 0.3
    ref = pml_losses.TripletMarginLoss(margin=margin, distance=pml_dist)(x, labels)
    ours = ml.triplet_margin_loss(x, labels, margin=margin, mining="batch_all", distance=distance)
    torch.testing.assert_close(ours, ref)


def test_batch_hard_matches_pml():
    x = randn(16, 6, seed=15)
    labels = torch.arange(4).repeat(4)
    dist = pml_distances.LpDistance(normalize_embeddings=False, p=2, power=1)
    miner = pml_miners.BatchHardMiner(distance=dist)
    loss_fn = pml_losses.TripletMarginLoss(margin=0.5, distance=dist, reducer=pml_reducers.MeanReducer())
    ref = loss_fn(x, labels, miner(x, labels))
    torch.testing.assert_close(ml.triplet_margin_loss(x, labels, margin=0.5, mining="batch_hard"), ref)


def test_plain_hinge_contrastive_matches_pml():
    x1, x2 = randn(10, 4, seed=16), randn(10, 4, seed=17)
    similar = torch.tensor([1, 0, 0, 1, 1, 0, 1, 0, 0, 1], dtype=torch.bool)
    emb = torch.cat([x1, x2])
    idx = torch.arange(10)
    tup = (idx[similar], idx[similar] + 10, idx[~similar], idx[~similar] + 10)
    loss_fn = pml_losses.ContrastiveLoss(
        pos_margin=0.0,
        neg_margin=3.0,
        distance=pml_distances.LpDistance(normalize_embeddings=False, p=2, power=1),
        reducer=pml_reducers.SumReducer(),
    )
    ref = loss_fn(emb, indices_tuple=tup)
    ours = ml.contrastive_margin_loss(x1, x2, similar, margin=3.0, squared=False, reduction="sum")
    torch.testing.assert_close(ours, ref)


def test_npair_matches_pml():
    a, p = randn(8, 5, seed=18, scale=0.5), randn(8, 5, seed=19, scale=0.5)
    labels = torch.arange(8).repeat(2)
    # pml picks pair (i, 8 + i) for label i; its dot product must not normalise (the default does)
    loss_fn = pml_losses.NPairsLoss(distance=pml_distances.DotProductSimilarity(normalize_embeddings=False))
    ref = loss_fn(torch.cat([a, p]), labels)
    torch.testing.assert_close(ml.npair_loss(a, p), ref)


# --------------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------------
def test_modules_match_functions():
    x1, x2 = torch.randn(10, 4), torch.randn(10, 4)
    sim = torch.tensor([1, 0] * 5)
    torch.testing.assert_close(
        ml.ContrastiveMarginLoss(margin=2.0, squared=False)(x1, x2, sim),
        ml.contrastive_margin_loss(x1, x2, sim, margin=2.0, squared=False),
    )
    torch.testing.assert_close(
        ml.TripletMarginLoss(margin=0.5, mining="semi_hard", distance="cosine")(x1, LABELS),
        ml.triplet_margin_loss(x1, LABELS, margin=0.5, mining="semi_hard", distance="cosine"),
    )
    torch.testing.assert_close(
        ml.NPairLoss(l2_reg=0.1)(x1, x2, LABELS), ml.npair_loss(x1, x2, LABELS, l2_reg=0.1)
    )
    assert "semi_hard" in repr(ml.TripletMarginLoss(mining="semi_hard"))
    assert "margin=2.0" in repr(ml.ContrastiveMarginLoss(margin=2.0))


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def test_contrastive_validation():
    x = torch.randn(4, 3)
    sim = torch.tensor([1, 0, 1, 0])
    with pytest.raises(ValueError, match="same shape"):
        ml.contrastive_margin_loss(x, torch.randn(4, 2), sim)
    with pytest.raises(ValueError, match="2-D"):
        ml.contrastive_margin_loss(x[0], x[0], sim)
    with pytest.raises(ValueError, match="NaN"):
        ml.contrastive_margin_loss(x, torch.full((4, 3), float("nan")), sim)
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        ml.contrastive_margin_loss(x, x, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="0/1"):
        ml.contrastive_margin_loss(x, x, torch.tensor([1, 0, 2, 0]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ml.contrastive_margin_loss(x, x, [1, 0, 1, 0])
    with pytest.raises(TypeError, match="floating-point"):
        ml.contrastive_margin_loss(x.long(), x.long(), sim)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="margin"):
            ml.contrastive_margin_loss(x, x, sim, margin=bad)
    with pytest.raises(TypeError, match="margin"):
        ml.contrastive_margin_loss(x, x, sim, margin="1")
    with pytest.raises(ValueError, match="reduction"):
        ml.contrastive_margin_loss(x, x, sim, reduction="avg")
    with pytest.raises(TypeError, match="squared"):
        ml.contrastive_margin_loss(x, x, sim, squared=1)
    with pytest.raises(ValueError, match="margin"):
        ml.ContrastiveMarginLoss(margin=-1.0)


def test_triplet_validation():
    x = torch.randn(6, 3)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="mining must be one of"):
        ml.triplet_margin_loss(x, labels, mining="hardest")
    with pytest.raises(ValueError, match="distance must be one of"):
        ml.triplet_margin_loss(x, labels, distance="manhattan")
    with pytest.raises(ValueError, match="no positive pair"):
        ml.triplet_margin_loss(x, torch.arange(6))
    with pytest.raises(ValueError, match="one class"):
        ml.triplet_margin_loss(x, torch.zeros(6, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        ml.triplet_margin_loss(x, labels.float())
    with pytest.raises(ValueError, match="shape \\(6,\\)"):
        ml.triplet_margin_loss(x, labels[:4])
    with pytest.raises(ValueError, match="at least 2 rows"):
        ml.triplet_margin_loss(x[:1], labels[:1])
    with pytest.raises(ValueError, match="margin"):
        ml.triplet_margin_loss(x, labels, margin=-0.1)
    with pytest.raises(ValueError, match="squared=True only applies"):
        ml.triplet_margin_loss(x, labels, distance="cosine", squared=True)
    with pytest.raises(ValueError, match="inf"):
        ml.triplet_margin_loss(torch.full((6, 3), float("inf")), labels)
    with pytest.raises(ValueError, match="same shape"):
        ml.triplet_loss(x, x, x[:, :2])
    with pytest.raises(ValueError, match="mining"):
        ml.TripletMarginLoss(mining="random")
    assert float(ml.triplet_margin_loss(x, labels, margin=0.0)) >= 0.0  # margin 0 is allowed


def test_npair_validation():
    a = torch.randn(4, 3)
    with pytest.raises(ValueError, match="at least 2 rows"):
        ml.npair_loss(a[:1], a[:1])
    with pytest.raises(ValueError, match="same shape"):
        ml.npair_loss(a, torch.randn(5, 3))
    with pytest.raises(ValueError, match="l2_reg"):
        ml.npair_loss(a, a, l2_reg=-1.0)
    with pytest.raises(TypeError, match="integer"):
        ml.npair_loss(a, a, torch.rand(4))
