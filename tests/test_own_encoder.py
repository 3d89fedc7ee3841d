"""Your own encoder, your own way (issue 17, item 7): feature size inferred by a dry pass, every method
importable by name, and the README's Python snippet runs twice in a row."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import pairs.methods as methods
from pairs.errors import ConfigError
from pairs.methods.base import infer_feature_dim

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_method_is_importable_by_name() -> None:
    classes = {getattr(methods, name) for name in methods._classes()}
    registered = {methods.get_method_class(name) for name in methods.available_methods()}
    assert registered <= classes | {methods.SimCLR}
    from pairs.methods import BYOL, TS2Vec, VICReg  # noqa: F401

    with pytest.raises(AttributeError):
        methods.NotAMethod  # noqa: B018


def test_resnet18_without_out_dim_trains_with_simclr() -> None:
    import torchvision

    from pairs.methods import SimCLR
    from pairs.pairing import ViewBatch

    encoder = torchvision.models.resnet18(weights=None)
    bn = encoder.bn1.running_mean.clone()
    method = SimCLR(encoder)
    assert method.feature_dim == 1000  # resnet18's fc output
    assert torch.equal(encoder.bn1.running_mean, bn)  # the dry pass left batch statistics alone
    assert encoder.training  # and the mode as it was
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = method(ViewBatch(views=[x, x.flip(-1)], labels=None, index=torch.arange(4)))
    assert out["loss"].isfinite()
    assert out["loss"].requires_grad


def test_declared_out_dim_wins_and_bad_encoders_get_a_clear_error() -> None:
    class Declared(nn.Module):
        out_dim = 7

        def forward(self, x):  # pragma: no cover - never called
            raise AssertionError("no dry pass when out_dim is declared")

    assert infer_feature_dim(Declared()) == 7
    mlp = nn.Sequential(nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3))
    assert infer_feature_dim(mlp) == 3

    class TakesGraphs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, data):
            return self.lin(data.x)

    with pytest.raises(ConfigError, match=r"set encoder.out_dim = D"):
        infer_feature_dim(TakesGraphs(), owner="SimCLR")
    with pytest.raises(ConfigError, match=r"returned \(2, 8, 64, 64\)"):
        infer_feature_dim(nn.Conv2d(3, 8, 3, padding=1))


def test_readme_python_snippet_runs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text()
    snippet = re.search(r"### The Python API\n\n```python\n(.*?)```", text, re.S).group(1)
    snippet = snippet.replace("epochs=40", "epochs=1")  # same code, a short budget
    assert "epochs=1" in snippet
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        namespace: dict = {}
        exec(compile(snippet, "README.md", "exec"), namespace)  # the README's own code, run as a user would
    assert (tmp_path / "runs" / "digits" / "checkpoint.pt").exists()
    assert os.listdir(tmp_path / "runs") == ["digits"]
