"""`pairs train/eval/preview` on text data: the domain's defaults and figures, with tiny budgets."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from pairs.cli import main
from pairs.domains.text import probe_cv
from tests.helpers import assert_untrained_figures


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_train_polarity_then_eval_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", "text:polarity", "--epochs", "1", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    assert report["domain"] == "text"
    assert report["encoder"] == "text_bow"
    assert report["method"] == "simclr"
    assert report["views"] == "synonym_crop"
    assert_untrained_figures(report, ("linear_probe_acc", "knn_acc", "linear_probe_cv_acc"))
    assert 0.0 < report["linear_probe_cv_sd"] < 0.2  # the spread of five folds' accuracies
    assert main(["eval", "--checkpoint", str(out), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    for key in ("linear_probe_acc", "knn_acc", "linear_probe_cv_acc", "linear_probe_cv_sd"):
        assert again[key] == pytest.approx(report[key]), key


@pytest.mark.slow
def test_train_lee_reports_spearman(tmp_path, capsys):
    args = ["train", "--data", "text:lee", "--epochs", "1", "--batch-size", "32", "--no-progress", "--json"]
    assert main([*args, "--out", str(tmp_path / "lee"), "--views", "crop"]) == 0
    report = last_json(capsys.readouterr().out)
    assert -1.0 <= report["lee_spearman"] <= 1.0


def test_train_on_a_text_file(tmp_path, capsys):
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i} about the quick committee and its vote\n" for i in range(40)))
    args = ["train", "--data", f"text:{path}", "--epochs", "1", "--batch-size", "16", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "file"), "--json", "--encoder", "text_transformer"]) == 0
    assert last_json(capsys.readouterr().out)["steps"] == 2


def test_preview_and_bad_spec(tmp_path, capsys):
    png = tmp_path / "text.png"
    assert main(["preview", "--data", "text:polarity", "--out", str(png), "--n", "3", "--n-views", "2"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["train", "--data", f"text:{tmp_path / 'missing.txt'}"]) == 2
    assert "not found" in capsys.readouterr().err


class _Lookup(nn.Module):
    """A frozen 'encoder' returning given features for given texts."""

    def __init__(self, texts: list[str], feats: torch.Tensor) -> None:
        super().__init__()
        self.row = {t: i for i, t in enumerate(texts)}
        self.feats = nn.Parameter(feats, requires_grad=False)

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.feats[[self.row[t] for t in texts]]


def test_probe_cv_against_a_by_hand_cross_validation():
    """Reference: the same folds written out with sklearn, one logistic regression per fold."""
    import numpy as np
    from sklearn.model_selection import RepeatedStratifiedKFold

    from pairs.eval import linear_probe

    g = torch.Generator().manual_seed(0)
    y = torch.arange(40) % 2
    feats = torch.randn(40, 3, generator=g) + 0.8 * y[:, None].float()
    texts = [f"text {i}" for i in range(40)]
    got = probe_cv(_Lookup(texts, feats), texts, y, folds=4, repeats=3, seed=1)
    folds = RepeatedStratifiedKFold(n_splits=4, n_repeats=3, random_state=1).split(np.zeros(40), y.numpy())
    accs = np.array([linear_probe(feats[a], y[a], feats[b], y[b], seed=1)["acc"] for a, b in folds])
    assert got["acc"] == pytest.approx(accs.mean())
    assert got["sd"] == pytest.approx(accs.std(ddof=1))
    assert got["sem"] == pytest.approx(accs.reshape(3, 4).mean(1).std(ddof=1) / np.sqrt(3))
    separable = probe_cv(_Lookup(texts, y[:, None].float() * 10), texts, y, folds=4, repeats=2)
    assert separable["acc"] == 1.0
    with pytest.raises(ValueError, match="one label per text"):
        probe_cv(_Lookup(texts, feats), texts, y[:5])
    with pytest.raises(ValueError, match="at least 2"):
        probe_cv(_Lookup(texts, feats), texts[:3], torch.tensor([0, 0, 1]))
