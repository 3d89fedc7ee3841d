"""Tests of the view contract in pairs/views/base.py with small toy views."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pairs.views import base
from pairs.views.base import Compose, Lambda, OneOf, RandomApply, View


class AddOffset(View):
    """Adds a per-example random offset drawn from U[lo, hi) to a vector sample (rank 1)."""

    sample_ndim = 1

    def __init__(self, lo: float = 0.0, hi: float = 1.0) -> None:
        self.lo = lo
        self.hi = hi

    def sample(self, batch, generator):
        return {"offset": base.uniform(self.lo, self.hi, base.batch_len(batch), generator)}

    def apply(self, batch, params):
        return batch + params["offset"].to(batch.device).view(-1, *([1] * (batch.dim() - 1)))


class Scale(View):
    """Multiplies by a per-example factor."""

    sample_ndim = 1

    def __init__(self, factor_max: float = 3.0) -> None:
        self.factor_max = factor_max

    def sample(self, batch, generator):
        return {"factor": base.uniform(1.0, self.factor_max, base.batch_len(batch), generator)}

    def apply(self, batch, params):
        return batch * params["factor"].view(-1, 1)


class Truncate(View):
    """Changes the sample shape (keeps the first 2 entries): not allowed inside RandomApply/OneOf."""

    sample_ndim = 1

    def sample(self, batch, generator):
        return {}

    def apply(self, batch, params):
        return batch[:, :2]


class Upper(View):
    """A list-of-strings view: upper-cases each string with probability 0.5 (per example)."""

    def sample(self, batch, generator):
        return {"up": base.bernoulli(0.5, len(batch), generator)}

    def apply(self, batch, params):
        return [s.upper() if u else s for s, u in zip(batch, params["up"].tolist(), strict=True)]


def data(n: int = 8, d: int = 4) -> torch.Tensor:
    return torch.arange(n * d, dtype=torch.float32).view(n, d)


# --------------------------------------------------------------------------------------------------
# generators and helpers
# --------------------------------------------------------------------------------------------------
def test_make_generator():
    g = torch.Generator()
    assert base.make_generator(g) is g
    assert base.make_generator(None) is torch.default_generator
    a = torch.rand(3, generator=base.make_generator(5))
    b = torch.rand(3, generator=base.make_generator(5))
    assert torch.equal(a, b)
    with pytest.raises(TypeError, match="generator"):
        base.make_generator("5")
    with pytest.raises(TypeError):
        base.make_generator(True)


def test_derive_seed_deterministic_distinct_and_63_bit():
    seeds = {base.derive_seed(0, e, s) for e in range(20) for s in range(50)}
    assert len(seeds) == 1000
    assert base.derive_seed(1, 2, 3) == base.derive_seed(1, 2, 3)
    assert base.derive_seed(1, 2) != base.derive_seed(2, 1)
    assert all(0 <= s < 2**63 for s in seeds)


def test_uniform_and_bernoulli():
    g = torch.Generator().manual_seed(0)
    u = base.uniform(2.0, 3.0, 1000, g)
    assert u.shape == (1000,)
    assert u.min() >= 2
    assert u.max() < 3
    b = base.bernoulli(0.25, 4000, g)
    assert b.dtype == torch.bool
    assert abs(b.float().mean().item() - 0.25) < 0.03
    assert not base.bernoulli(0.0, 100, g).any()
    assert base.bernoulli(1.0, 100, g).all()


def test_batch_take_combine_dispatch():
    x = data(5)
    idx = torch.tensor([3, 0])
    assert base.batch_len(x) == 5
    assert base.batch_len(["a", "b"]) == 2
    assert torch.equal(base.take(x, idx), x[[3, 0]])
    assert base.take(list("abcde"), idx) == ["d", "a"]
    parts = [(torch.tensor([1, 3]), x[[1, 3]]), (torch.tensor([0, 2, 4]), x[[0, 2, 4]])]
    assert torch.equal(base.combine(x, parts, 5), x)
    lparts = [(torch.tensor([1]), ["b"]), (torch.tensor([0, 2]), ["a", "c"])]
    assert base.combine(["b"], lparts, 3) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="different shapes"):
        base.combine(x, [(torch.tensor([0]), x[:1]), (torch.tensor([1]), x[1:2, :2])], 2)
    with pytest.raises(TypeError, match="batch"):
        base.batch_len({"a": 1})
    with pytest.raises(TypeError):
        base.take(3.0, idx)


def test_take_params():
    p = {"a": torch.arange(4), "b": [10, 11, 12, 13], "c": 7, "d": {"e": torch.arange(4) * 2}}
    sub = base.take_params(p, torch.tensor([2, 0]), 4)
    assert sub["a"].tolist() == [2, 0]
    assert sub["b"] == [12, 10]
    assert sub["c"] == 7
    assert sub["d"]["e"].tolist() == [4, 0]


# --------------------------------------------------------------------------------------------------
# View.__call__: single vs batch, seeding, replay, repr
# --------------------------------------------------------------------------------------------------
def test_single_vs_batch_and_seeding():
    v = AddOffset()
    x = data()
    out, p = v(x, generator=0, return_params=True)
    assert out.shape == x.shape
    assert p["offset"].shape == (8,)
    assert torch.equal(v(x, generator=0), out)
    assert not torch.equal(v(x, generator=1), out)
    assert len(p["offset"].unique()) == 8  # each example its own draw
    single = v(x[0], generator=0)
    assert single.shape == (4,)
    assert torch.equal(single, out[0])
    assert torch.equal(v.replay(x, p), out)
    assert torch.equal(v.replay(x[0], {"offset": p["offset"][:1]}), out[0])
    with pytest.raises(ValueError, match="rank 1"):
        v(torch.zeros(2, 3, 4), 0)
    with pytest.raises(ValueError, match="empty batch"):
        v(torch.zeros(0, 4), 0)


def test_global_generator_used_for_none():
    v = AddOffset()
    torch.manual_seed(3)
    a = v(data(), None)
    torch.manual_seed(3)
    assert torch.equal(v(data(), None), a)


def test_repr():
    assert repr(AddOffset(0.5, 2.0)) == "AddOffset(lo=0.5, hi=2.0)"
    r = repr(Compose([AddOffset(), RandomApply(Scale(), p=0.3), OneOf([Scale(), AddOffset()], [1, 3])]))
    assert "RandomApply(Scale(factor_max=3.0), p=0.3)" in r
    assert "OneOf([Scale(factor_max=3.0), AddOffset(lo=0.0, hi=1.0)], weights=[1.0, 3.0])" in r
    assert r.startswith("Compose([")
    assert repr(Lambda(torch.neg)) == "Lambda(neg)"


# --------------------------------------------------------------------------------------------------
# Compose
# --------------------------------------------------------------------------------------------------
def test_compose_equals_sequential_application_and_replays():
    a, s = AddOffset(), Scale()
    comp = Compose([a, s])
    x = data()
    out, p = comp(x, generator=0, return_params=True)
    g = torch.Generator().manual_seed(0)
    ref = s(a(x, g), g)  # same stream, same order
    assert torch.equal(out, ref)
    assert torch.equal(comp.replay(x, p), out)
    assert len(p["views"]) == 2
    assert set(p["views"][0]) == {"offset"}
    assert torch.equal(comp(x[2], generator=0), comp(x[2:3], generator=0)[0])
    assert torch.equal(Compose(a)(x, 0), a(x, 0))  # a single view is accepted
    with pytest.raises(ValueError, match="at least one"):
        Compose([])
    with pytest.raises(TypeError, match="View objects"):
        Compose([a, torch.neg])


def test_compose_replay_with_wrong_params_fails_loudly():
    comp = Compose([AddOffset(), Scale()])
    x = data()
    _, p = comp(x, generator=0, return_params=True)
    with pytest.raises(ValueError, match="2 views"):
        comp.replay(x, {"views": p["views"][:1]})


@pytest.mark.parametrize(
    "make", [lambda: RandomApply(AddOffset(), p=0.5), lambda: OneOf([AddOffset(), Scale()])]
)
def test_replay_on_a_batch_of_another_size_fails_loudly(make):
    v = make()
    _, p = v(data(8), generator=0, return_params=True)
    with pytest.raises(ValueError, match="drawn for 8 examples but the batch has 10"):
        v.replay(data(10), p)


# --------------------------------------------------------------------------------------------------
# RandomApply
# --------------------------------------------------------------------------------------------------
def test_random_apply_subset():
    x = data(64)
    v = RandomApply(AddOffset(1.0, 2.0), p=0.5)
    out, p = v(x, generator=0, return_params=True)
    applied = p["applied"]
    assert 0 < int(applied.sum()) < 64
    assert torch.equal(out[~applied], x[~applied])
    assert ((out[applied] - x[applied]) >= 1).all()
    assert p["params"]["offset"].shape == (int(applied.sum()),)
    assert torch.equal(v.replay(x, p), out)
    assert torch.equal(v(x, generator=0), out)


def test_random_apply_extremes_and_rate():
    x = data(16)
    _, p0 = RandomApply(AddOffset(), p=0.0)(x, 0, return_params=True)
    assert not p0["applied"].any()
    assert p0["params"] is None
    assert torch.equal(RandomApply(AddOffset(), p=0.0)(x, 0), x)
    out1, p1 = RandomApply(AddOffset(1.0, 2.0), p=1.0)(x, 0, return_params=True)
    assert p1["applied"].all()
    assert (out1 - x >= 1).all()
    rate = RandomApply(AddOffset(), p=0.3)(torch.zeros(4000, 1), 0, return_params=True)[1]["applied"]
    assert abs(rate.float().mean().item() - 0.3) < 0.03
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RandomApply(AddOffset(), p=1.5)
    with pytest.raises(TypeError):
        RandomApply(lambda t: t)


def test_random_apply_rejects_shape_change():
    with pytest.raises(ValueError, match="different shapes"):
        RandomApply(Truncate(), p=0.5)(data(32), generator=0)


def test_random_apply_on_lists():
    words = [f"w{i}" for i in range(20)]
    v = RandomApply(Upper(), p=0.5)
    out, p = v(words, generator=1, return_params=True)
    assert len(out) == 20
    for w, o, a in zip(words, out, p["applied"].tolist(), strict=True):
        assert o in (w, w.upper())
        assert a or o == w
    assert v.replay(words, p) == out


# --------------------------------------------------------------------------------------------------
# OneOf
# --------------------------------------------------------------------------------------------------
def test_one_of_choice_per_example():
    x = data(64)
    v = OneOf([AddOffset(10.0, 11.0), AddOffset(-11.0, -10.0)])
    out, p = v(x, generator=0, return_params=True)
    choice = p["choice"]
    assert set(choice.tolist()) == {0, 1}
    assert ((out - x)[choice == 0] >= 10).all()
    assert ((out - x)[choice == 1] <= -10).all()
    assert torch.equal(v.replay(x, p), out)
    assert torch.equal(v(x, generator=0), out)


def test_one_of_weights():
    x = torch.zeros(3000, 1)
    _, p = OneOf([AddOffset(), Scale()], weights=[0, 1])(x, 0, return_params=True)
    assert (p["choice"] == 1).all()
    assert p["params"][0] is None
    _, p = OneOf([AddOffset(), Scale()], weights=[1, 3])(x, 0, return_params=True)
    assert abs(p["choice"].float().mean().item() - 0.75) < 0.03
    with pytest.raises(ValueError, match="weights"):
        OneOf([AddOffset()], weights=[1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        OneOf([AddOffset(), Scale()], weights=[-1, 2])
    with pytest.raises(ValueError, match="at least one"):
        OneOf([])
    with pytest.raises(ValueError, match="different shapes"):
        OneOf([Truncate(), AddOffset()])(data(32), 0)


def test_nested_composition_replays():
    v = Compose([OneOf([AddOffset(), Compose([Scale(), AddOffset()])]), RandomApply(Scale(), p=0.5)])
    x = data(32)
    out, p = v(x, generator=4, return_params=True)
    assert torch.equal(v.replay(x, p), out)
    assert torch.equal(v(x, generator=4), out)


def test_lambda_and_multi_view():
    neg = Lambda(torch.neg)
    assert torch.equal(neg(data(), 0), -data())
    views = base.multi_view(AddOffset(), data(), 3, generator=0)
    assert len(views) == 3
    assert not torch.equal(views[0], views[1])
    again = base.multi_view(AddOffset(), data(), 3, generator=0)
    assert all(torch.equal(a, b) for a, b in zip(views, again, strict=True))
    asym = base.multi_view([AddOffset(10, 11), AddOffset(-11, -10)], data(), 2, generator=0)
    assert (asym[0] > data()).all()
    assert (asym[1] < data()).all()
    with pytest.raises(ValueError, match="n_views"):
        base.multi_view([AddOffset()], data(), 2)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.floats(0.0, 1.0), st.integers(0, 2**32))
def test_property_random_apply_keeps_unapplied_and_replays(n, p, seed):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed))
    v = RandomApply(Compose([AddOffset(1.0, 2.0), Scale()]), p=p)
    out, params = v(x, generator=seed, return_params=True)
    applied = params["applied"]
    assert out.shape == x.shape
    assert torch.equal(out[~applied], x[~applied])
    assert torch.equal(v.replay(x, params), out)
