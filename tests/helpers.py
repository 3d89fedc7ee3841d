"""Small models and data shared by tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pairs.methods.base import Method
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


class StopAfter:
    """A trainer callback that simulates a kill: raises ``KeyboardInterrupt`` after the checkpoint of
    epoch ``n`` is written."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, trainer: Any, record: dict[str, Any]) -> None:
        if record["epoch"] == self.n:
            raise KeyboardInterrupt


class BreaksAt(Method):
    """A :class:`FlatEncoder` method with a finite loss until call ``at``; from that call on either the
    loss is NaN (``what="loss"``) or the loss stays finite and the gradient of one weight is NaN
    (``what="gradient"``)."""

    def __init__(self, at: int, what: str = "loss") -> None:
        super().__init__(FlatEncoder())
        if what not in ("loss", "gradient"):
            raise ValueError(f"what must be 'loss' or 'gradient', got {what!r}")
        self.at = at
        self.what = what
        self.calls = 0

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        self.calls += 1
        z = self.encoder(batch.views[0])
        loss = z.pow(2).mean()
        if self.calls >= self.at:
            if self.what == "loss":
                loss = loss * float("nan")
            else:  # sqrt'(0) = inf, times 0: the value stays 0, the gradient is NaN
                loss = loss + torch.sqrt(self.encoder.net[1].weight[0, 0] * 0.0)
        return {"loss": loss, "embeddings": z.detach()}


def blobs(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` 1x8x8 images of 3 classes (class-specific mean patterns plus noise) and their labels."""
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(3, 1, 8, 8, generator=g)
    labels = torch.arange(n) % 3
    x = means[labels] + 0.1 * torch.randn(n, 1, 8, 8, generator=g)
    return x, labels


def gaussian_blobs(n_per_class: int, n_classes: int, dim: int, spread: float, seed: int) -> tuple[Any, Any]:
    """Shuffled numpy features ``(n_per_class * n_classes, dim)`` around random class centres (standard
    normal), with Gaussian noise of std ``spread``, and their integer labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centers[y] + spread * rng.normal(size=(len(y), dim))
    perm = rng.permutation(len(y))
    return x[perm], y[perm]


def assert_data_errors(cases: dict[str, str]) -> None:
    """For each ``spec: pattern``, ``load_data(spec)`` raises a :class:`DataError` whose message matches
    ``pattern`` (``pytest.raises(..., match=pattern)``)."""
    import pytest

    from pairs.data import load_data
    from pairs.errors import DataError

    for spec, pattern in cases.items():
        with pytest.raises(DataError, match=pattern):
            load_data(spec)


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


def gloo_ranks(compute: Callable[[int], Any], out_dir: Any, world: int) -> list[Any]:
    """Run ``compute(rank)`` in ``world`` gloo processes on CPU (one thread each) and return each rank's
    result, in rank order; skips the test where ``torch.distributed`` is not built in.

    ``compute`` must be a module-level function (the workers are spawned); it runs inside the process
    group, so it may call collectives. Each result goes through ``torch.save`` in ``out_dir``.
    """
    import os

    import pytest
    import torch.distributed as dist

    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    spawn_workers(_gloo_worker, (compute, free_port(), str(out_dir), world), world)
    return [torch.load(os.path.join(str(out_dir), f"rank{r}.pt"), weights_only=False) for r in range(world)]


def _gloo_worker(rank: int, compute: Callable[[int], Any], port: int, out_dir: str, world: int) -> None:
    """One process of :func:`gloo_ranks`: join the group, compute, save, leave the group."""
    import os

    import torch.distributed as dist

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.save(compute(rank), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


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
