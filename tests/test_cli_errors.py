"""The exit-code contract and its messages (issue #15 items 3, 6-8, 14): a user's mistake is exit 2 with one
clear line; anything else is a bug, exit 1, with the traceback written to a file the line names."""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from pairs.cli import main
from pairs.errors import DataError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PAIRS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PAIRS_DEBUG", raising=False)


def one_error_line(capsys, code: int, argv: list[str]) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "\x1b" not in err
    return lines[0]


# -- the contract ------------------------------------------------------------------------------------------
def test_a_bug_exits_1_and_names_the_file_holding_the_traceback(capsys, monkeypatch, tmp_path):
    from pairs import experiment

    def buggy(*args, **kwargs):
        raise ValueError("an internal invariant broke")  # a ValueError is no longer a user error by type

    monkeypatch.setattr(experiment, "train", buggy)
    line = one_error_line(capsys, 1, ["train", "--no-progress"])
    assert "internal error" in line
    assert "ValueError: an internal invariant broke" in line
    path = Path(re.search(r"the traceback is in (\S+)\)", line).group(1))
    assert path.parent == tmp_path / "cache" / "errors"
    text = path.read_text()
    assert "Traceback (most recent call last)" in text
    assert "def buggy" not in text
    assert "in buggy" in text


def test_user_errors_exit_2_with_one_line(capsys, monkeypatch):
    from pairs import experiment
    from pairs.errors import ConfigError

    def refuse(*args, **kwargs):
        raise ConfigError("a setting is wrong:\n\x1b[1mfix it\x1b[0m")

    monkeypatch.setattr(experiment, "train", refuse)
    assert one_error_line(capsys, 2, ["train"]) == "pairs: error: a setting is wrong: fix it"


def test_no_command_prints_usage_on_stderr_and_exits_2(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage: pairs" in err
    assert "a command is required" in err


# -- the cases of item 6 -----------------------------------------------------------------------------------
def test_out_on_a_read_only_file_system(capsys, monkeypatch, tmp_path):
    real = os.statvfs

    class ReadOnly:
        def __init__(self, st):
            self.f_flag = st.f_flag | os.ST_RDONLY

    monkeypatch.setattr(
        os, "statvfs", lambda p: ReadOnly(real(p)) if str(p).startswith(str(tmp_path)) else real(p)
    )
    line = one_error_line(capsys, 2, ["train", "--out", str(tmp_path / "ro" / "run"), "--no-progress"])
    assert "read-only file system" in line
    assert str(tmp_path) in line
    line = one_error_line(capsys, 2, ["preview", "--out", str(tmp_path / "views.png")])
    assert "read-only file system" in line
    assert not (tmp_path / "ro").exists()


def test_preview_write_refused_by_the_file_system_is_exit_2(capsys, monkeypatch, tmp_path):
    from matplotlib.figure import Figure

    def refuse(self, path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(Figure, "savefig", refuse)
    line = one_error_line(
        capsys, 2, ["preview", "--out", str(tmp_path / "v.png"), "--n", "2", "--n-views", "2"]
    )
    assert "cannot write" in line
    assert "Read-only file system" in line


def _good_run(tmp_path) -> Path:
    from pairs.train import Trainer
    from tests.train.test_trainer import config, make_loader, make_method

    Trainer(make_method(), config(tmp_path, epochs=1)).fit(make_loader())
    return tmp_path / "run"


def test_empty_checkpoint_for_eval_and_resume(capsys, tmp_path):
    run = tmp_path / "empty"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    line = one_error_line(capsys, 2, ["eval", "--checkpoint", str(run / "checkpoint.pt")])
    assert "empty" in line
    assert str(run / "checkpoint.pt") in line
    line = one_error_line(capsys, 2, ["train", "--resume", "--out", str(run), "--no-progress"])
    assert "empty" in line
    assert str(run / "checkpoint.pt") in line


def test_checkpoint_without_method_state(capsys, tmp_path):
    from pairs.train import save_checkpoint

    path = tmp_path / "c.pt"
    save_checkpoint(
        {"epoch": 1, "extra": {"data": "digits", "method": "simclr", "encoder": "small_cnn"}}, path
    )
    line = one_error_line(capsys, 2, ["eval", "--checkpoint", str(path)])
    assert "holds no model weights" in line
    assert str(path) in line


def test_damaged_checkpoint_is_refused_by_eval(capsys, tmp_path):
    from tests.train.test_checkpoint_safety import _flip_inside_member

    run = _good_run(tmp_path)
    _flip_inside_member(run / "checkpoint.pt", "data/0", n=16)
    line = one_error_line(capsys, 2, ["eval", "--checkpoint", str(run)])
    assert "integrity check" in line
    assert str(run / "checkpoint.pt") in line


def _wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def _tone(n: int, rate: int = 8000) -> np.ndarray:
    return (8000 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.int16)


@pytest.mark.parametrize(
    "tail, expected",
    [
        ("@8000@inf", "clip length must be a finite number of seconds"),
        ("@8000@nan", "clip length must be a finite number of seconds"),
        ("@8000@0", "clip length must be a finite number of seconds"),
        ("@1e99", "integer rate"),
        ("@99999999999", "sample rate must be from 1 to"),
    ],
)
def test_audio_spec_numbers(capsys, tmp_path, tail, expected):
    _wav(tmp_path / "a" / "x.wav", _tone(8000))
    line = one_error_line(capsys, 2, ["train", "--data", f"audio:{tmp_path / 'a'}{tail}", "--no-progress"])
    assert expected in line


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_decompression_bomb_png(capsys, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    _png_header_only(folder / "bomb.png", 20000, 20000)
    assert (folder / "bomb.png").stat().st_size < 1000
    line = one_error_line(capsys, 2, ["train", "--data", f"images:{folder}", "--no-progress"])
    assert "bomb.png" in line
    assert "too large to decode safely" in line


# -- the messages of item 7 --------------------------------------------------------------------------------
def test_seed_out_of_range_says_the_range(capsys):
    line = one_error_line(capsys, 2, ["train", "--seed", "99999999999999999999999"])
    assert "--seed" in line
    assert "-9223372036854775808 to 9223372036854775807" in line
    line = one_error_line(capsys, 2, ["preview", "--out", "x.png", "--seed", "1e3"])
    assert "must be an integer" in line


def test_method_setting_of_the_wrong_type_names_setting_and_type(capsys):
    line = one_error_line(capsys, 2, ["train", "--method-arg", "temperature=hot", "--no-progress"])
    assert "setting 'temperature' of method 'simclr' expects a number (float), got the string 'hot'" in line
    line = one_error_line(capsys, 2, ["train", "--encoder-arg", "width=wide", "--no-progress"])
    assert "setting 'width' of encoder 'small_cnn' expects an integer (int)" in line


def test_random_bytes_named_npy(capsys, tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    line = one_error_line(capsys, 2, ["train", "--data", f"series:{path}", "--no-progress"])
    assert "is not a numpy .npy file" in line
    assert "Python objects" not in line


def test_infinite_values_in_a_series_file_are_a_data_error(capsys, tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 50)).astype(np.float32)
    x[3, 7] = np.inf
    np.save(tmp_path / "s.npy", x)
    line = one_error_line(capsys, 2, ["train", "--data", f"series:{tmp_path / 's.npy'}", "--no-progress"])
    assert "1 infinite values (first at index (3, 0, 7))" in line
    assert "NaN" in line


def test_utf16_text_file_with_bom_is_read(tmp_path):
    from pairs.data.text import read_lines

    lines = ["the first sample", "ein zweites Beispiel: grüße", "third"]
    for encoding in ("utf-16", "utf-16-be", "utf-8-sig", "utf-32"):
        path = tmp_path / f"{encoding}.txt"
        body = "\n".join(lines).encode(encoding)
        if encoding == "utf-16-be":
            body = b"\xfe\xff" + body
        path.write_bytes(body)
        got, _ = read_lines(path)
        assert got == lines, encoding
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"abc\x00\x01\x02" * 10)
    with pytest.raises(DataError, match="binary file"):
        read_lines(raw)


def test_graph_file_with_pickled_objects_is_one_clean_line(capsys, tmp_path):
    import datetime

    path = tmp_path / "g.pt"
    torch.save([datetime.date(2020, 1, 1)], path)  # torch's refusal is paragraphs with terminal escapes
    line = one_error_line(capsys, 2, ["train", "--data", f"graphs:{path}", "--no-progress"])
    assert "holds pickled Python objects" in line
    assert "save_graph_file" in line


# -- item 8 ------------------------------------------------------------------------------------------------
def test_truncated_wav_is_refused_naming_the_file_and_its_length(capsys, tmp_path):
    folder = tmp_path / "a"
    _wav(folder / "ok.wav", _tone(8000))
    bad = _wav(folder / "cut.wav", _tone(8000))
    header = 44
    bad.write_bytes(bad.read_bytes()[: header + 16])  # the header promises 8000 samples, 8 are there
    line = one_error_line(capsys, 2, ["train", "--data", f"audio:{folder}@8000", "--no-progress"])
    assert "cut.wav is truncated" in line
    assert "promises 8000 samples" in line
    assert "holds 8" in line


def test_eight_sample_wav_is_refused_and_short_clips_reported(tmp_path, caplog):
    from pairs.data import load_data

    folder = tmp_path / "a"
    _wav(folder / "ok.wav", _tone(8000))
    _wav(folder / "tiny.wav", _tone(8))
    with pytest.raises(DataError, match=r"tiny\.wav holds only 8 samples \(1 ms at 8000 Hz\)"):
        load_data(f"audio:{folder}@8000")
    (folder / "tiny.wav").unlink()
    _wav(folder / "half.wav", _tone(4000))
    with caplog.at_level("WARNING", logger="pairs"):
        bundle = load_data(f"audio:{folder}@8000")
    assert bundle.info["padded"] == 1
    assert "half.wav (0.5 s)" in caplog.text
    assert "zero-padded" in caplog.text


# -- items 3 and 14 end to end -----------------------------------------------------------------------------
def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PAIRS_CACHE": str((cwd or Path.cwd()) / "cache")}
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "pairs", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_overwrite_with_a_batch_norm_batch_of_one_keeps_the_old_run(capsys, tmp_path):
    out = tmp_path / "ow"
    assert main(["train", "--out", str(out), "--epochs", "1", "--no-progress"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    line = one_error_line(
        capsys,
        2,
        ["train", "--out", str(out), "--overwrite", "--epochs", "1", "--batch-size", "1", "--no-progress"],
    )
    assert "batch size 1" in line
    assert "batch normalization" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_huge_learning_rate_is_reported_as_divergence(tmp_path):
    out = tmp_path / "lr"
    proc = run_cli("train", "--lr", "1e10", "--epochs", "2", "--out", str(out), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("pairs: error: training diverged")
    assert "lower learning rate" in line
    events = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(e["event"] == "diverged" for e in events)
    assert not list(out.glob(".checkpoint.pt.*.tmp"))


def test_pickle_in_place_of_a_checkpoint(capsys, tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": "pairs-checkpoint-v1"}))
    line = one_error_line(capsys, 2, ["eval", "--checkpoint", str(path)])
    assert str(path) in line
