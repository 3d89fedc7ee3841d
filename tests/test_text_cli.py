"""`pairs train/eval/preview` on text data: the domain's defaults and figures, with tiny budgets."""

from __future__ import annotations

import json

import pytest

from pairs.cli import main


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_train_polarity_then_eval_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", "text:polarity", "--epochs", "1", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    assert report["domain"] == "text" and report["encoder"] == "text_bigru" and report["method"] == "simclr"
    assert report["views"] == "synonym_crop"
    for key in ("linear_probe_acc", "knn_acc", "linear_probe_acc_untrained", "knn_acc_untrained"):
        assert 0.0 <= report[key] <= 1.0, key
    assert main(["eval", "--checkpoint", str(out), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    assert again["linear_probe_acc"] == pytest.approx(report["linear_probe_acc"])
    assert again["knn_acc"] == pytest.approx(report["knn_acc"])


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
