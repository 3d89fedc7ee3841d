"""``pairs train/eval/preview`` on series data: the TS2Vec defaults, the JSON figures, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pairs.cli import main
from tests.helpers import assert_untrained_figures, error_line, last_json

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ucr_defaults_report_svm_probe_and_knn_and_eval_agrees(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", "ucr:ItalyPowerDemand", "--epochs", "1", "--out", str(out), "--no-progress"]
    assert main([*args, "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["method"] == "ts2vec"
    assert report["encoder"] == "dilated_conv"
    assert report["views"] == "ts2vec"
    assert report["batch_size"] == 8
    assert report["steps"] == 67 // 8
    for key in ("svm_acc", "linear_probe_acc", "knn_acc"):
        assert 0.5 < report[key] <= 1.0, key  # two balanced classes
    assert_untrained_figures(report, ("svm_acc", "linear_probe_acc", "knn_acc"))
    assert main(["eval", "--checkpoint", str(out), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    assert again["svm_acc"] == pytest.approx(report["svm_acc"])
    assert again["linear_probe_acc"] == pytest.approx(report["linear_probe_acc"])


def test_default_budget_is_exactly_ts2vecs_200_steps(tmp_path, capsys):
    """Whole epochs would overshoot 200 steps (3 per epoch here: 67 epochs are 201); TS2Vec stops at 200."""
    from pairs.data import load_data

    rng = np.random.default_rng(0)
    y = np.arange(36) % 3
    x = np.sin(np.linspace(0, 6, 16))[None, None] * (1 + y[:, None, None]) + 0.1 * rng.normal(
        size=(36, 1, 16)
    )
    data = _save(tmp_path / "s.npz", x.astype(np.float32), y)
    out = tmp_path / "run"
    assert main(["train", "--data", f"series:{data}", "--out", str(out), "--no-progress", "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert len(load_data(f"series:{data}").train) // 8 == 3
    assert report["epochs"] == 67
    assert report["steps"] == 200
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["max_steps"] == 200
    assert saved["decay_all_parameters"] is True


def test_unknown_ucr_name_lists_the_installed_sets(capsys):
    assert main(["train", "--data", "ucr:NoSuchSet", "--epochs", "1"]) == 2
    line = error_line(capsys)
    assert "NoSuchSet" in line
    assert "GunPoint" in line
    assert "JapaneseVowels" in line


def _save(path, x, y=None):
    if y is None:
        np.save(path, x)
    else:
        np.savez(path, X=x, y=y)
    return str(path)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: np.zeros((10, 1, 4, 20), dtype=np.float32), "(N, C, T)"),
        (lambda: np.zeros((10, 1, 1), dtype=np.float32), "at least 2"),
        (
            lambda: np.where(np.arange(10)[:, None, None] == 4, np.nan, np.ones((10, 2, 20))).astype(
                np.float32
            ),
            "series 4 are NaN everywhere",
        ),
    ],
    ids=["wrong-rank", "too-short", "all-nan"],
)
def test_bad_series_files_exit_2_with_one_line(tmp_path, capsys, make, expected):
    spec = "series:" + _save(tmp_path / "x.npy", make())
    assert main(["train", "--data", spec, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    assert expected in error_line(capsys)


def test_instance_contrast_with_simclr_on_pooled_crops(tmp_path, capsys):
    g = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = (g.normal(size=(40, 2, 30)) + y[:, None, None] * 1.5).astype(np.float32)
    spec = "series:" + _save(tmp_path / "d.npz", x, y)
    args = ["train", "--data", spec, "--method", "simclr", "--views", "default", "--epochs", "1"]
    assert main([*args, "--out", str(tmp_path / "run"), "--no-progress", "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["method"] == "simclr"
    assert report["views"] == "default"
    assert report["svm_acc"] >= 0.8
    assert report["knn_acc"] >= 0.8  # classes 1.5 apart in every value
    assert_untrained_figures(report, ("svm_acc", "knn_acc"), method="simclr")


def test_preview_draws_crop_pairs(tmp_path):
    path = tmp_path / "series.png"
    assert main(["preview", "--data", "ucr:GunPoint", "--out", str(path), "--n", "2", "--n-views", "2"]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
