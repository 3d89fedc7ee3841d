"""Numerics of the losses (issue 15, item 13): mixed float32/float64 inputs get a clear error, the TS2Vec
losses refuse NaN latents, and inputs near 1e30 give a finite loss or a clear error, never NaN/inf."""

from __future__ import annotations

import pytest
import torch

import pairs.losses as L
from pairs.errors import DataError


def _emb(*shape: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


MIXED = {
    "nt_xent": lambda a, b: L.nt_xent(a, b),
    "info_nce": lambda a, b: L.info_nce(a, b),
    "clip_loss": lambda a, b: L.clip_loss(a, b),
    "barlow_twins_loss": lambda a, b: L.barlow_twins_loss(a, b),
    "npair_loss": lambda a, b: L.npair_loss(a, b),
    "vicreg_loss": lambda a, b: L.vicreg_loss(a, b),
    "byol_loss": lambda a, b: L.byol_loss(a, b),
    "triplet_loss": lambda a, b: L.triplet_loss(a, b, b),
    "contrastive_margin_loss": lambda a, b: L.contrastive_margin_loss(a, b, torch.ones(8)),
    "hierarchical_contrastive_loss": lambda a, b: L.hierarchical_contrastive_loss(
        a.reshape(2, 4, 16), b.reshape(2, 4, 16)
    ),
}


@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixed_float32_float64_is_a_clear_error(name: str) -> None:
    a, b = _emb(8, 16), _emb(8, 16, seed=1).double()
    with pytest.raises(
        TypeError, match=r"must share dtype and device, got torch.float32/cpu and torch.float64"
    ):
        MIXED[name](a, b)


def test_info_nce_negatives_may_have_another_dtype() -> None:
    """A float32 queue serves float64 (or half) queries: the negatives are cast to the query dtype."""
    q, k, neg = _emb(8, 16).double(), _emb(8, 16, seed=1).double(), _emb(32, 16, seed=2)
    assert torch.allclose(L.info_nce(q, k, neg), L.info_nce(q, k, neg.double()))


TS2VEC = {
    "hierarchical_contrastive_loss": L.hierarchical_contrastive_loss,
    "instance_contrastive_loss": L.instance_contrastive_loss,
    "temporal_contrastive_loss": L.temporal_contrastive_loss,
}


@pytest.mark.parametrize("name", sorted(TS2VEC))
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_ts2vec_losses_refuse_non_finite_latents(name: str, value: float) -> None:
    z1, z2 = _emb(4, 10, 8), _emb(4, 10, 8, seed=1)
    z2[1, 3, 2] = value
    with pytest.raises(ValueError, match=rf"{name}: z2 contains .*embeddings must be finite"):
        TS2VEC[name](z1, z2)


OVERFLOWING = {  # the loss value itself is beyond float32 at 1e30: a clear error
    "nt_xent(normalize=False)": lambda a, b, c: L.nt_xent(a, b, normalize=False),
    "vicreg_loss": lambda a, b, c: L.vicreg_loss(a, b),
    "npair_loss": lambda a, b, c: L.npair_loss(a, b),
    "contrastive_margin_loss": lambda a, b, c: L.contrastive_margin_loss(a, b, torch.ones(8)),
    "triplet_loss(squared=True)": lambda a, b, c: L.triplet_loss(a, b, c, squared=True),
}


@pytest.mark.parametrize("name", sorted(OVERFLOWING))
def test_huge_embeddings_overflow_with_a_clear_error(name: str) -> None:
    a, b, c = (_emb(8, 16, seed=s, scale=1e30) for s in range(3))
    with pytest.raises(DataError, match=r"the loss overflowed torch.float32: inputs of magnitude up to"):
        OVERFLOWING[name](a, b, c)


# representable at 1e30: computed on scaled inputs, 1e30 times the loss at 1
SCALE_EQUIVARIANT = {
    "triplet_loss": lambda a, b, c: L.triplet_loss(a, b, c, margin=0.0),
    "contrastive_margin_loss(squared=False)": lambda a, b, c: L.contrastive_margin_loss(
        a, b, torch.ones(8), squared=False
    ),
    "triplet_margin_loss": lambda a, b, c: L.triplet_margin_loss(
        torch.cat([a, b]), torch.arange(16) % 4, margin=0.0
    ),
}


@pytest.mark.parametrize("name", sorted(SCALE_EQUIVARIANT))
def test_huge_embeddings_give_the_scaled_distance_loss(name: str) -> None:
    a, b, c = (_emb(8, 16, seed=s) for s in range(3))
    ref = SCALE_EQUIVARIANT[name](a, b, c)
    out = SCALE_EQUIVARIANT[name](a * 1e30, b * 1e30, c * 1e30)
    assert bool(torch.isfinite(out)) and float(ref) > 0
    assert torch.allclose(out / 1e30, ref, rtol=1e-4)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: L.nt_xent(a, b),
        lambda a, b: L.clip_loss(a, b),
        lambda a, b: L.byol_loss(a, b),
        lambda a, b: L.barlow_twins_loss(a, b),
    ],
    ids=["nt_xent", "clip_loss", "byol_loss", "barlow_twins_loss"],
)
def test_normalising_losses_do_not_see_the_scale(fn) -> None:
    a, b = _emb(8, 16), _emb(8, 16, seed=1)
    assert torch.allclose(fn(a * 1e30, b * 1e30), fn(a, b), rtol=1e-4, atol=1e-5)


# -- found by the fuzz suite (tests/fuzz) ----------------------------------------------------------------
def test_dino_and_tiled_logsumexp_refuse_mixed_dtypes() -> None:
    s, t = _emb(4, 6), _emb(4, 6, seed=1).double()
    with pytest.raises(TypeError, match="student_out.*teacher_out.*must share dtype"):
        L.dino_loss([s], [t], torch.zeros(6))
    with pytest.raises(TypeError, match="rows and cols must share dtype"):
        L.tiled_logsumexp(s, t, 1.0)


def test_l2_normalize_of_nothing_is_nothing() -> None:
    for shape in ((3, 0), (0, 4)):
        out = L.l2_normalize(torch.zeros(shape))
        assert out.shape == shape
    with pytest.raises(ValueError, match=r"dim must be an int in \[-2, 1\] for shape \(3, 4\), got -10"):
        L.l2_normalize(torch.ones(3, 4), dim=-10)


def test_tiled_logsumexp_overflow_is_a_clear_error_but_empty_rows_stay_minus_inf() -> None:
    rows = _emb(4, 8, scale=1e30)
    with pytest.raises(DataError, match="tiled_logsumexp: the loss overflowed"):
        L.tiled_logsumexp(rows, rows, 1.0)
    lse = L.tiled_logsumexp(_emb(2, 3), _emb(1, 3), 1.0, self_col=torch.tensor([0, -1]))
    assert lse[0] == -float("inf") and bool(torch.isfinite(lse[1]))
