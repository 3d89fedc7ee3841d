"""The contract every view keeps, checked on every :class:`~pairs.views.base.View` subclass of the package.

The views are found by a scan of the package (no hand-kept list): a new view is tested as soon as its module
defines it. Required constructor arguments are filled by their *name* (``size``, ``sample_rate``, ...);
inputs are tiny batches of the view's domain (the module it lives in). Checked: the same seed gives the same
views, a random view gives other views for other seeds, finite input gives finite views, dtype and device
are kept, and replaying the drawn parameters gives the same views.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch_geometric.data import Batch, Data

import pairs.views.audio as A
import pairs.views.image as I
from pairs.views.base import View
from tests.contracts._common import same, seeded, subclasses_in, tensors

VIEWS = subclasses_in("pairs.views", View)
SR = 16000


def domain_of(cls: type[View]) -> str:
    """The view's domain: its module's (``pairs.views.audio`` -> audio; ``base`` combinators -> image),
    ``spectrogram`` for audio views of ``(C, F, T)`` samples."""
    domain = cls.__module__.rsplit(".", 1)[-1]
    if domain == "audio" and getattr(cls, "sample_ndim", None) == 3:
        return "spectrogram"
    return "image" if domain == "base" else domain


def inner_views(domain: str) -> list[View]:
    """Two views for combinators (Compose, OneOf, RandomApply, AudioCompose) to combine."""
    if domain == "audio":
        return [A.Gain(SR), A.TimeShift(SR)]
    return [I.HorizontalFlip(), I.GaussianNoise()]


def argument(name: str, domain: str) -> Any:
    """A value for a required constructor argument, by the argument's name."""
    values: dict[str, Callable[[], Any]] = {
        "sample_rate": lambda: SR,
        "length": lambda: 3000,
        "max_width": lambda: 4,
        "size": lambda: 12 if domain == "image" else 16,
        "kernel_size": lambda: 3,
        "mean": lambda: 0.5,
        "std": lambda: 0.25,
        "views": lambda: inner_views(domain),
        "view": lambda: inner_views(domain)[1],
        "fn": lambda: lambda batch: batch * 2.0,
        "transform": lambda: _torchvision_flip(),
    }
    if name not in values:
        raise AssertionError(f"the view contract does not know how to fill the required argument {name!r}")
    return values[name]()


def _torchvision_flip() -> Any:
    from torchvision.transforms import v2

    return v2.RandomHorizontalFlip()


def build(cls: type[View]) -> View:
    domain = domain_of(cls)
    params = inspect.signature(cls).parameters.values()
    kwargs = {
        p.name: argument(p.name, domain)
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return cls(**kwargs)


def _graph(n: int, seed: int, dtype: torch.dtype) -> Data:
    g = seeded(seed)
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    chord = torch.tensor([[0], [n // 2]])
    edges = torch.cat([ring, chord], dim=1)
    edges = torch.cat([edges, edges.flip(0)], dim=1)
    data = Data(x=torch.randn(n, 3, generator=g).to(dtype), edge_index=edges, num_nodes=n)
    data.edge_attr = torch.rand(edges.shape[1], 2, generator=g).to(dtype)
    return data


SENTENCES = [
    "the quick brown fox jumps over the lazy dog near the river bank",
    "a small cat sat quietly on the warm mat and watched the birds",
    "good students read many interesting books in the old library",
]


def batch_of(domain: str, dtype: torch.dtype = torch.float32, seed: int = 0) -> Any:
    """A tiny batch of three examples of ``domain``."""
    g = seeded(seed)
    if domain == "image":
        return torch.rand(3, 3, 16, 16, generator=g).to(dtype)
    if domain == "temporal":
        return torch.randn(3, 2, 24, generator=g).to(dtype)
    if domain == "audio":
        t = torch.arange(4000) / SR  # a quarter second
        tone = torch.sin(2 * torch.pi * 440.0 * t) * 0.3
        return (tone + 0.05 * torch.randn(3, 1, 4000, generator=g)).to(dtype)
    if domain == "spectrogram":
        return torch.rand(3, 1, 16, 20, generator=g).to(dtype)
    if domain == "graph":
        return Batch.from_data_list([_graph(n, seed + n, dtype) for n in (5, 6, 7)])
    if domain == "text":
        return list(SENTENCES)
    raise AssertionError(f"no input for views of the {domain!r} domain")


def call(view: View, x: Any, seed: int) -> tuple[Any, Any] | None:
    """``view(x, seed, return_params=True)``, or ``None`` for an abstract base class (one that has subclasses
    and leaves its kernel to them)."""
    try:
        return view(x, seed, return_params=True)
    except NotImplementedError:
        assert type(view).__subclasses__(), (
            f"{type(view).__name__} is a leaf view that does not implement itself"
        )
        return None


def _id(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"


@pytest.fixture(params=VIEWS, ids=_id)
def view(request) -> View:
    return build(request.param)


def test_the_scan_finds_the_views_of_every_domain() -> None:
    domains = {domain_of(cls) for cls in VIEWS}
    assert {"image", "temporal", "audio", "spectrogram", "graph", "text"} <= domains
    assert len(VIEWS) >= 50


def test_the_same_seed_gives_the_same_views_and_other_seeds_other_views(view: View) -> None:
    x = batch_of(domain_of(type(view)))
    first = call(view, x, 0)
    if first is None:
        return
    again = view(x, 0, return_params=True)
    assert same(first[0], again[0]), "the same seed gave other views"
    assert same(first[1], again[1]), "the same seed drew other parameters"
    others = [view(x, seed, return_params=True) for seed in range(1, 6)]
    if all(same(first[1], params) for _, params in others):
        return  # a deterministic view (nothing it draws depends on the seed)
    if all(same(out, x) for out, _ in [first, *others]):
        return  # the identity at these settings (ColorJitter with no strength, RandomAffine with no angle)
    assert any(not same(first[0], out) for out, _ in others), "other parameters, yet the same views"


def test_replaying_the_drawn_parameters_gives_the_same_views(view: View) -> None:
    x = batch_of(domain_of(type(view)))
    first = call(view, x, 3)
    if first is None:
        return
    out, params = first
    assert same(view.replay(x, params), out)


def test_finite_input_gives_finite_views_of_the_same_dtype_and_device(view: View) -> None:
    domain = domain_of(type(view))
    if domain == "text":
        out = call(view, batch_of(domain), 1)
        if out is not None:
            assert isinstance(out[0], list) and len(out[0]) == len(SENTENCES)
            assert all(isinstance(s, str) for s in out[0])
        return
    for dtype in (torch.float32, torch.float64):
        x = batch_of(domain, dtype)
        first = call(view, x, 1)
        if first is None:
            return
        floats = [t for t in tensors(first[0]) if t.is_floating_point()]
        assert floats, "the views hold no floating-point tensor"
        for t in floats:
            if not getattr(view, "writes_nan", False):
                assert torch.isfinite(t).all(), "finite input gave non-finite views"
            assert t.dtype == dtype, f"{dtype} input gave {t.dtype} views"
            assert t.device == tensors(x)[0].device
