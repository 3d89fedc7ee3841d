"""Small models and data shared by tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pairs.views.base import View, uniform


class FlatEncoder(nn.Module):
    """Flatten + linear: a tiny encoder with no batch statistics (exact across process counts)."""

    def __init__(self, in_features: int = 64, out_dim: int = 16) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, 32), nn.Tanh(), nn.Linear(32, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AddNoise(View):
    """Per-example additive Gaussian noise with a random scale (a cheap, seeded test view)."""

    sample_ndim = 3

    def __init__(self, std: float = 0.1) -> None:
        self.std = std

    def sample(self, batch, generator):
        n = len(batch)
        return {
            "scale": uniform(0.0, self.std, n, generator),
            "noise": torch.randn(batch.shape, generator=generator, device=generator.device),
        }

    def apply(self, batch, params):
        return batch + params["scale"].to(batch).view(-1, 1, 1, 1) * params["noise"].to(batch)


def blobs(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` 1x8x8 images of 3 classes (class-specific mean patterns plus noise) and their labels."""
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(3, 1, 8, 8, generator=g)
    labels = torch.arange(n) % 3
    x = means[labels] + 0.1 * torch.randn(n, 1, 8, 8, generator=g)
    return x, labels


def last_json(text: str) -> dict:
    """The JSON object on the last line of a command's stdout."""
    import json

    return json.loads(text.strip().splitlines()[-1])


def error_line(capsys) -> str:
    """The single line a failing ``pairs`` command wrote to stderr (asserts there is one, no traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a gloo rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_workers(
    fn: Callable[..., None], args: tuple[Any, ...], nprocs: int, deadline: float = 600.0
) -> None:
    """``torch.multiprocessing.spawn`` that cannot stall the test run: a worker still alive after
    ``deadline`` seconds (a gloo process that never exits) is terminated and the test fails, naming it.

    A worker's exception is re-raised as ``mp.spawn`` does. The deadline is a hang guard, far above the
    seconds these workers need, not a speed check.
    """
    import pytest
    import torch.multiprocessing as mp

    context = mp.start_processes(fn, args=args, nprocs=nprocs, join=False, start_method="spawn")
    end = time.monotonic() + deadline
    while not context.join(timeout=5.0):
        if time.monotonic() > end:
            alive = [rank for rank, p in enumerate(context.processes) if p.is_alive()]
            for p in context.processes:
                p.terminate()
            pytest.fail(
                f"distributed workers {alive} did not exit within {deadline:.0f} s (hung); terminated"
            )


def untrained_figures(data: str, seed: int = 0, **model_args: Any) -> dict[str, Any]:
    """The figures of the untrained encoder as ``pairs train`` builds it for ``data`` (same seed), computed
    here again, so a report's ``*_untrained`` figures can be checked exactly rather than by their range."""
    from pairs.data import load_data
    from pairs.domains import recipe_for
    from pairs.experiment import build_model

    bundle = load_data(data)
    recipe = recipe_for(bundle)
    model, _ = build_model(bundle, recipe, seed=seed, **model_args)
    return recipe.evaluate(model.encoder, bundle, "cpu")


def assert_untrained_figures(report: dict[str, Any], keys: Any, **model_args: Any) -> None:
    """Each ``report[key + "_untrained"]`` equals the untrained encoder's figure computed again."""
    import pytest

    figures = untrained_figures(report["data"], report["seed"], **model_args)
    for key in keys:
        assert report[f"{key}_untrained"] == pytest.approx(figures[key], abs=1e-12), key
