"""Shared helpers for the contrastive loss tests: dtype tolerances and slow, obviously-correct references.

The references loop over anchors and positives in float64 and write each loss term exactly as the
papers do (``-log(exp(s_ip) / sum_a exp(s_ia))``), with no log-sum-exp trick, no class sums and no
masks, so that they share nothing with the implementation under test.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from pairs.losses._checks import loss_dtype


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Run each loss test single-threaded (see the ``one_thread`` fixture in ``tests/conftest.py``)."""


DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]

# max |actual - expected| <= TOL * max |expected| (values and gradients); half types are computed in
# float32, so their error is the rounding of the gradient back to the input dtype.
TOL = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.float16: 2e-3,
    torch.bfloat16: 1e-2,
}


# The margin and non-contrastive tests compare with torch.testing.assert_close at rtol = REF_TOL[dtype] and
# atol = REF_TOL[dtype] * max |expected| (values and gradients); their references sum squares and
# distances element by element, so the bound is a little looser than TOL's.
REF_TOL = {
    torch.float64: 1e-9,
    torch.float32: 2e-5,
    torch.float16: 4e-3,
    torch.bfloat16: 2e-2,
}


def randn(*shape: int, seed: int, dtype: torch.dtype = torch.float64, scale: float = 1.0) -> Tensor:
    """Seeded standard normal tensor (drawn in float64, then cast)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def assert_close_rel(actual: Tensor, expected: Tensor, dtype: torch.dtype, what: str = "") -> None:
    """Assert ``max|actual - expected| <= TOL[dtype] * max(|expected|, 1e-3)`` in float64."""
    a, e = actual.detach().double(), expected.detach().double()
    assert a.shape == e.shape, f"{what}: shape {tuple(a.shape)} != {tuple(e.shape)}"
    scale = max(float(e.abs().max()) if e.numel() else 0.0, 1e-3)
    err = float((a - e).abs().max()) if e.numel() else 0.0
    assert err <= TOL[dtype] * scale, (
        f"{what}: max abs error {err:.3e} > {TOL[dtype]:.1e} * {scale:.3e} ({dtype})"
    )


def close_to_ref(actual: Tensor, expected: Tensor, dtype: torch.dtype) -> None:
    """assert_close in float64: ``rtol = REF_TOL[dtype]``, ``atol = rtol * max|expected|``."""
    tol = REF_TOL[dtype]
    scale = max(float(expected.detach().abs().max()), 1e-3)
    torch.testing.assert_close(
        actual.detach().double(), expected.detach().double(), rtol=tol, atol=tol * scale
    )


def check_value_and_grad(fn, ref, inputs: list[Tensor], dtype: torch.dtype, grad_of=None, **extra) -> None:
    """``fn`` on ``inputs`` cast to ``dtype`` vs ``ref`` in float64 on the same (rounded) values.

    Compares the scalar loss (float32 for half inputs) and the gradients (finite, in ``dtype``) with
    :func:`close_to_ref`. ``grad_of``: indices of the inputs whose gradient is compared (default all);
    ``extra``: keyword arguments given to both ``fn`` and ``ref``.
    """
    grad_of = list(range(len(inputs))) if grad_of is None else grad_of
    xs = [x.to(dtype).requires_grad_(True) for x in inputs]
    out = fn(*xs, **extra)
    assert out.dtype == loss_dtype(dtype)  # half inputs give a float32 loss
    assert out.dim() == 0
    grads = torch.autograd.grad(out, [xs[i] for i in grad_of])
    rs = [x.detach().double().requires_grad_(True) for x in xs]
    expected = ref(*rs, **extra)
    rgrads = torch.autograd.grad(expected, [rs[i] for i in grad_of])
    close_to_ref(out, expected, dtype)
    for g, rg in zip(grads, rgrads, strict=True):
        assert g.dtype == dtype
        assert torch.isfinite(g.double()).all()
        close_to_ref(g, rg, dtype)


def _unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def ref_nt_xent(
    z: Tensor,
    labels: Tensor | None = None,
    temperature: float | Tensor = 0.5,
    decoupled: bool = False,
    normalize: bool = True,
) -> tuple[Tensor, Tensor]:
    """SupCon L_out / NT-Xent / DCL by loops. ``z`` is ``(V, B, D)``.

    Returns ``(per_anchor (V*B,), has_positive (V*B,) bool)``.
    """
    n_views, b, d = z.shape
    x = z.reshape(n_views * b, d)
    if normalize:
        x = _unit(x)
    lab = (labels if labels is not None else torch.arange(b)).repeat(n_views).tolist()
    n = n_views * b
    losses, valid = [], []
    for i in range(n):
        sim = [torch.dot(x[i], x[j]) / temperature for j in range(n)]
        pos = [j for j in range(n) if j != i and lab[j] == lab[i]]
        cand = [a for a in range(n) if a != i and not (decoupled and lab[a] == lab[i])]
        if not pos:
            losses.append(x.new_zeros(()) * 0)
            valid.append(False)
            continue
        denom = sum(torch.exp(sim[a]) for a in cand)
        terms = [-torch.log(torch.exp(sim[p]) / denom) for p in pos]
        losses.append(sum(terms) / len(terms))
        valid.append(True)
    return torch.stack(losses), torch.tensor(valid)


def ref_info_nce(
    q: Tensor,
    p: Tensor,
    negatives: Tensor | None = None,
    temperature: float = 0.07,
    q_labels: Tensor | None = None,
    n_labels: Tensor | None = None,
    normalize: bool = True,
) -> Tensor:
    """InfoNCE by loops; same-label keys are extra positives (kept in the denominator). Returns ``(B,)``."""
    b = q.shape[0]
    if normalize:
        q, p = _unit(q), _unit(p)
        negatives = _unit(negatives) if negatives is not None else None
    out = []
    for i in range(b):
        keys, is_pos = [p[i]], [True]  # the own positive first
        if negatives is None:
            for j in range(b):
                if j != i:
                    keys.append(p[j])
                    is_pos.append(q_labels is not None and int(q_labels[j]) == int(q_labels[i]))
        else:
            negs = negatives[i] if negatives.dim() == 3 else negatives
            nl = None
            if n_labels is not None:
                nl = n_labels[i] if n_labels.dim() == 2 else n_labels
            for k in range(negs.shape[0]):
                keys.append(negs[k])
                is_pos.append(nl is not None and int(nl[k]) == int(q_labels[i]))
        sims = [torch.dot(q[i], k) / temperature for k in keys]
        denom = sum(torch.exp(s) for s in sims)
        terms = [-torch.log(torch.exp(s) / denom) for s, ok in zip(sims, is_pos, strict=True) if ok]
        out.append(sum(terms) / len(terms))
    return torch.stack(out)


def ref_clip(a: Tensor, b: Tensor, scale: float | Tensor, normalize: bool = True) -> Tensor:
    """CLIP's symmetric loss by loops. Returns per-pair ``(B,)`` (mean of the two directions)."""
    if normalize:
        a, b = _unit(a), _unit(b)
    n = a.shape[0]
    out = []
    for i in range(n):
        row = [torch.exp(scale * torch.dot(a[i], b[j])) for j in range(n)]
        col = [torch.exp(scale * torch.dot(a[j], b[i])) for j in range(n)]
        li = -torch.log(row[i] / sum(row))
        lj = -torch.log(col[i] / sum(col))
        out.append(0.5 * (li + lj))
    return torch.stack(out)
