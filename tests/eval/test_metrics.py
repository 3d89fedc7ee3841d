"""Alignment, uniformity, effective rank and embedding std against hand-written references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pairs.eval.metrics as metrics
from pairs.eval import alignment, as_features, as_labels, effective_rank, embedding_std, uniformity


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------------
# Alignment and uniformity (Wang & Isola 2020)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1, 2, 3.5])
def test_alignment_matches_formula(alpha):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 7)), rng.normal(size=(50, 7))
    ref = np.mean(np.linalg.norm(_unit(a) - _unit(b), axis=1) ** alpha)
    assert alignment(a, b, alpha=alpha) == pytest.approx(ref, rel=1e-10)
    assert alignment(torch.from_numpy(a).float(), torch.from_numpy(b).float(), alpha) == pytest.approx(
        ref, rel=1e-5
    )


def test_alignment_analytic_cases():
    z = np.random.default_rng(1).normal(size=(20, 4))
    assert alignment(z, z) == 0.0
    assert alignment(z, 3.0 * z) == pytest.approx(0.0, abs=1e-12)  # scale does not matter
    assert alignment(z, -z) == pytest.approx(4.0)  # antipodal: ||u - (-u)||^2 = 4
    assert alignment(z, -z, alpha=1) == pytest.approx(2.0)


def _wang_isola_uniformity(x: torch.Tensor, t: float) -> float:
    """Their reference code: ``torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()`` on unit vectors."""
    x = torch.nn.functional.normalize(x, dim=1)
    return float(torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log())


@pytest.mark.parametrize("t", [0.5, 2.0, 5.0])
@pytest.mark.parametrize("chunked", [False, True])
def test_uniformity_matches_pdist_formula(t, chunked, monkeypatch):
    if chunked:
        monkeypatch.setattr(metrics, "MAX_CHUNK_ELEMENTS", 7 * 37)  # 7 rows per chunk, last chunk partial
    x = torch.randn(37, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert uniformity(x, t=t) == pytest.approx(_wang_isola_uniformity(x, t), rel=1e-10, abs=1e-12)


def test_uniformity_analytic_cases():
    same = np.tile([[1.0, 2.0, 3.0]], (10, 1))
    assert uniformity(same) == pytest.approx(0.0, abs=1e-6)  # all distances 0
    with_zero_row = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, -2.0]])  # a zero row stays at the origin
    assert uniformity(with_zero_row) == pytest.approx(_wang_isola_uniformity(with_zero_row, 2.0), rel=1e-6)
    antipodal = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert uniformity(antipodal, t=2) == pytest.approx(-8.0)  # one pair at squared distance 4
    # spread-out points are more uniform (lower) than a tight cluster
    rng = np.random.default_rng(3)
    spread = rng.normal(size=(200, 8))
    tight = np.ones((200, 8)) + 0.05 * rng.normal(size=(200, 8))
    assert uniformity(spread) < uniformity(tight) - 1.0


# --------------------------------------------------------------------------------------------------
# Effective rank (Roy & Vetterli 2007)
# --------------------------------------------------------------------------------------------------
def _numpy_effective_rank(z: np.ndarray, center: bool = True) -> float:
    if center:
        z = z - z.mean(axis=0)
    s = np.linalg.svd(z, compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


@pytest.mark.parametrize("shape", [(100, 10), (10, 40), (64, 64)])
@pytest.mark.parametrize("center", [True, False])
def test_effective_rank_matches_numpy_svd(shape, center):
    rng = np.random.default_rng(4)
    z = rng.normal(size=shape) * rng.uniform(0.1, 3.0, size=shape[1])  # uneven spectrum
    assert effective_rank(z, center=center) == pytest.approx(_numpy_effective_rank(z, center), rel=1e-10)
    zf = torch.from_numpy(z).float()
    assert effective_rank(zf, center=center) == pytest.approx(_numpy_effective_rank(z, center), rel=1e-4)


@pytest.mark.parametrize("r", [1, 3, 7])
def test_effective_rank_of_rank_r_matrix(r):
    rng = np.random.default_rng(r)
    z = rng.normal(size=(80, r)) @ rng.normal(size=(r, 32)) + 5.0  # rank r after centring
    er = effective_rank(z)
    assert 1.0 <= er <= r + 1e-9
    er32 = effective_rank(z.astype(np.float32))
    assert er32 <= r + 1e-6
    # equal singular values on orthogonal directions: exactly r
    q, _ = np.linalg.qr(rng.normal(size=(80, r)))
    v, _ = np.linalg.qr(rng.normal(size=(32, r)))
    assert effective_rank(q @ v.T, center=False) == pytest.approx(r, rel=1e-10)


def test_effective_rank_collapsed_and_invariances():
    rng = np.random.default_rng(5)
    assert effective_rank(np.tile(rng.normal(size=(1, 16)), (50, 1))) == 0.0  # all samples equal
    # collapsed float32 outputs that differ only by an ulp here and there are still collapsed
    base = np.tile(rng.normal(size=(1, 16)).astype(np.float32), (50, 1))
    ulps = rng.integers(-1, 2, size=base.shape).astype(np.float32)
    noisy = np.nextafter(base, base + ulps)
    assert (noisy != base).any()
    assert effective_rank(noisy) == 0.0
    z = rng.normal(size=(60, 12))
    assert effective_rank(1e-6 * z) == pytest.approx(effective_rank(z), rel=1e-9)
    assert effective_rank(z + 100.0) == pytest.approx(effective_rank(z), rel=1e-6)  # centred
    assert 1.0 <= effective_rank(z) <= 12.0


# --------------------------------------------------------------------------------------------------
# Embedding std (SimSiam's collapse check)
# --------------------------------------------------------------------------------------------------
def test_embedding_std_matches_formula_and_lightly():
    rng = np.random.default_rng(6)
    z = rng.normal(size=(300, 32)) + 0.5
    ref = _unit(z).std(axis=0, ddof=1).mean()
    assert embedding_std(z) == pytest.approx(ref, rel=1e-10)
    from lightly.utils.debug import std_of_l2_normalized

    assert embedding_std(z) == pytest.approx(float(std_of_l2_normalized(torch.from_numpy(z))), rel=1e-6)


def test_embedding_std_healthy_vs_collapsed():
    rng = np.random.default_rng(7)
    d = 128
    healthy = rng.normal(size=(4000, d))
    assert embedding_std(healthy) == pytest.approx(1 / math.sqrt(d), rel=0.05)
    collapsed = np.ones((100, d)) + 1e-9 * rng.normal(size=(100, d))
    assert embedding_std(collapsed) < 1e-8


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(1, 6)),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    )
)
def test_metric_ranges_on_arbitrary_features(z):
    """Bounds that hold for any finite input, including zeros, duplicates and tiny or huge values."""
    n, d = z.shape
    er = effective_rank(z)
    assert er == 0.0 or 1.0 - 1e-9 <= er <= min(n, d) + 1e-9
    u = uniformity(z)
    assert -8.0 - 1e-9 <= u <= 1e-9  # squared distances on the unit sphere lie in [0, 4]
    assert 0.0 <= alignment(z, z[::-1].copy()) <= 4.0 + 1e-9
    # unit-vector coordinates lie in [-1, 1]; their unbiased std is at most sqrt(n / (n - 1)) (n = 2: +-1)
    assert 0.0 <= embedding_std(z) <= math.sqrt(n / (n - 1)) + 1e-9


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------
def test_metric_bad_inputs():
    z = np.random.default_rng(8).normal(size=(5, 3))
    with pytest.raises(ValueError, match="same shape"):
        alignment(z, z[:4])
    with pytest.raises(ValueError, match="alpha"):
        alignment(z, z, alpha=0)
    with pytest.raises(ValueError, match="t must be"):
        uniformity(z, t=-1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        uniformity(z[:1])
    with pytest.raises(ValueError, match="at least 2 samples"):
        effective_rank(z[:1])
    with pytest.raises(ValueError, match="at least 2 samples"):
        embedding_std(z[:1])
    bad = z.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="0 NaN and 1 inf"):
        embedding_std(bad)
    with pytest.raises(ValueError, match="2-D"):
        effective_rank(z[0])
    with pytest.raises(TypeError, match="real numbers"):
        uniformity(z > 0)
    with pytest.raises(TypeError, match="numpy array or a torch.Tensor"):
        alignment(z.tolist(), z)


def test_as_features_and_as_labels():
    x = as_features(np.arange(6).reshape(3, 2))
    assert x.dtype == torch.float32 and x.shape == (3, 2)
    assert as_features(np.zeros((2, 2))).dtype == torch.float64
    assert as_features(torch.zeros(2, 2, dtype=torch.float16)).dtype == torch.float32
    w = torch.ones(2, 2, requires_grad=True)
    assert not as_features(w).requires_grad
    with pytest.raises(ValueError, match="no feature columns"):
        as_features(np.zeros((3, 0)))
    y = as_labels(np.array([True, False]))
    assert y.dtype == torch.int64 and y.tolist() == [1, 0]
    with pytest.raises(ValueError, match=r"1-D \(N,\), got shape \(3, 1\) \(flatten"):
        as_labels(np.zeros((3, 1), dtype=int))
    with pytest.raises(TypeError, match="use y.long"):
        as_labels(torch.zeros(3))
    with pytest.raises(TypeError, match="return_inverse"):
        as_labels(np.array(["a", "b"]))
