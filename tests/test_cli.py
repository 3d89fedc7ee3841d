"""The ``pairs`` command: exit codes, one-line errors, JSON output, run-directory safety, eval, preview."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pairs.cli import main

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pairs", *args], capture_output=True, text=True, env=ENV, timeout=timeout
    )


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "--data", "nope"], "known specs: "),
        (["train", "--epochs", "0"], "positive integer"),
        (["train", "--lr", "nan"], "positive number"),
        (["train", "--method", "nope"], "known methods: barlow_twins"),
        (["train", "--device", "tpu"], "device"),
        (["train", "--data", "images:/no/such/folder"], "not found"),
        (["eval", "--checkpoint", "/no/such/checkpoint.pt"], "not found"),
        (["preview", "--out", "x.jpg"], ".png"),
        (["bogus"], "invalid choice"),
        (
            ["train", "--method-arg", "foo=1"],
            "method 'simclr' has no setting 'foo'; its settings: projection_dim",
        ),
        (["train", "--method-arg", "temperature"], "expected KEY=VALUE"),
        (["train", "--encoder-arg", "bogus=3"], "unexpected keyword argument 'bogus'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, expected):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr


def test_data_lists_specs(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out
    assert "images:DIR" in out
    assert main(["data", "--json"]) == 0
    specs = json.loads(capsys.readouterr().out.splitlines()[-1])["specs"]
    assert {"spec": "digits", "domain": "image"}.items() <= specs[
        [s["spec"] for s in specs].index("digits")
    ].items()


def test_train_json_eval_and_run_directory_safety(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--epochs", "2", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    for key in (
        "data",
        "method",
        "epochs",
        "train_seconds",
        "linear_probe_acc",
        "knn_acc",
        "checkpoint",
        "linear_probe_acc_untrained",
        "knn_acc_untrained",
    ):
        assert key in report, key
    assert report["data"] == "digits"
    assert report["method"] == "simclr"
    assert report["epochs"] == 2
    assert 0.5 < report["linear_probe_acc"] <= 1.0
    assert Path(report["checkpoint"]).exists()
    state = torch.load(report["checkpoint"], weights_only=True)
    assert state["epoch"] == 2

    before = Path(report["checkpoint"]).read_bytes()
    assert main(args) == 2  # exists: refused, untouched
    assert "already exists" in capsys.readouterr().err
    assert Path(report["checkpoint"]).read_bytes() == before

    assert main(["eval", "--checkpoint", str(out), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    assert again["linear_probe_acc"] == pytest.approx(report["linear_probe_acc"])
    assert again["knn_acc"] == pytest.approx(report["knn_acc"])

    assert main([*args, "--overwrite"]) == 0
    assert last_json(capsys.readouterr().out)["epochs"] == 2


def test_setting_values_are_json_or_plain_strings():
    from pairs.cli import _setting

    assert _setting("temperature=0.2") == ("temperature", 0.2)
    assert _setting("steps=8") == ("steps", 8)
    assert isinstance(_setting("steps=8")[1], int)
    assert _setting("negatives-from=same") == ("negatives_from", "same")
    assert _setting("flag=true") == ("flag", True)
    assert _setting("x=null") == ("x", None)
    assert _setting("dims=[64, 32]") == ("dims", [64, 32])
    assert _setting("name=__import__('os')") == ("name", "__import__('os')")  # a string, never evaluated
    for bad in ("noequals", "1x=2", "=3"):
        with pytest.raises(Exception, match="KEY=VALUE"):
            _setting(bad)


def test_method_and_encoder_settings_reach_the_model_and_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--epochs", "1", "--out", str(out), "--no-progress", "--json"]
    settings = ["--method-arg", "temperature=0.2", "--encoder-arg", "out_dim=16"]
    assert main([*args, *settings]) == 0
    report = last_json(capsys.readouterr().out)
    state = torch.load(report["checkpoint"], weights_only=True)
    assert state["extra"]["method_kwargs"]["temperature"] == 0.2
    assert state["extra"]["encoder_kwargs"]["out_dim"] == 16
    encoder_weights = {k: v for k, v in state["method"].items() if k.startswith("encoder.")}
    assert list(encoder_weights.values())[-1].shape[0] == 16  # the last layer's 16 outputs
    assert main([*args, "--resume", *settings[:2]]) == 2  # a resumed run keeps its settings
    assert "keeps the method and encoder settings" in capsys.readouterr().err


def test_preview_writes_a_png(tmp_path, capsys):
    path = tmp_path / "views.png"
    assert main(["preview", "--out", str(path), "--n", "3", "--n-views", "2"]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["preview"]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err


def _final_weights(path: Path) -> dict:
    return torch.load(path / "checkpoint.pt", weights_only=True)["method"]


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    common = ["train", "--epochs", "4", "--batch-size", "128", "--no-progress", "--seed", "7"]
    unbroken = run_cli(*common, "--out", str(tmp_path / "a"))
    assert unbroken.returncode == 0, unbroken.stderr

    proc = subprocess.Popen(
        [sys.executable, "-m", "pairs", *common, "--out", str(tmp_path / "b")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    metrics = tmp_path / "b" / "metrics.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and any(
            '"event": "epoch", "epoch": 2' in line for line in metrics.read_text().splitlines()
        ):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    epoch = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"]
    assert 2 <= epoch <= 4
    resumed = run_cli("train", "--resume", "--out", str(tmp_path / "b"), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    a, b = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_json_output_is_strict_json_even_with_infinite_values(capsys):
    from pairs.cli import _print_json

    _print_json({"svm_C": float("inf"), "nested": [float("nan"), 1.0], "ok": 0.5})
    line = capsys.readouterr().out.strip()
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}")) == {
        "svm_C": "inf",
        "nested": ["nan", 1.0],
        "ok": 0.5,
    }


def test_pretrained_encoder_brings_its_fine_tuning_rate_unless_lr_is_given(tmp_path):
    import encoders
    from encoders import registry
    from encoders.image import SmallCNN
    from pairs.experiment import train

    class Pretrained(SmallCNN):
        fine_tune_lr = 3e-5

    with registry.ENCODERS.restored():
        encoders.register("pretrained_cnn", domain="image", description="test")(Pretrained)
        assert isinstance(encoders.get("pretrained_cnn", in_channels=1), Pretrained)
        common = {"epochs": 1, "progress": False, "evaluate_untrained": False, "log": None}
        report = train("digits", encoder="pretrained_cnn", out=str(tmp_path / "a"), **common)
        assert report["lr"] == 3e-5
        report = train("digits", encoder="pretrained_cnn", lr=1e-3, out=str(tmp_path / "b"), **common)
        assert report["lr"] == 1e-3
