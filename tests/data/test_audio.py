"""Audio data: the real speech clips, a user's folder (labels, mono/stereo, resampling) and bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from pairs.data import load_data
from pairs.data.audio import SPEECH_ROOT, load_audio
from pairs.data.source import take

HAS_SPEECH = (SPEECH_ROOT / "librivox").is_dir()


@pytest.mark.skipif(
    not HAS_SPEECH, reason="needs Debian's pocketsphinx-testdata: apt-get install -y pocketsphinx-testdata"
)
def test_speech_windows_and_labels() -> None:
    b = load_data("speech")
    assert b.domain == "audio" and b.info["sample_rate"] == 16000
    assert b.train.shape[1:] == (1, 16000) and b.test.shape[1:] == (1, 16000)
    assert 40 <= len(b.train) + len(b.test) <= 50  # ~46 s of speech in 1 s windows
    assert set(b.train_labels.tolist()) == {0, 1, 2}
    assert b.train.abs().max() <= 1.0 and b.train.std() > 0.01  # real audio, not silence


def test_speech_missing_package_message(monkeypatch, tmp_path) -> None:
    import pairs.data.audio as da

    monkeypatch.setattr(da, "SPEECH_ROOT", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="apt-get install pocketsphinx-testdata"):
        da.load_speech()


def _tone(sr: int, seconds: float, f: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * math.pi * f * t)
    return np.stack([x] * channels, 1) if channels > 1 else x


def test_folder_with_labels_resampling_and_stereo(tmp_path: Path) -> None:
    for k, name in enumerate(["low", "high"]):
        (tmp_path / name).mkdir()
        for i in range(6):
            sr = 22050 if i % 2 else 16000
            fmt = "FLAC" if i % 3 == 0 else "WAV"
            ext = ".flac" if fmt == "FLAC" else ".wav"
            sf.write(tmp_path / name / f"{i}{ext}", _tone(sr, 0.7, 300 * (k + 1), 1 + i % 2), sr, format=fmt)
    b = load_data(f"audio:{tmp_path}@8000@0.5")
    # 0.7 s files in 0.5 s windows: two windows each (the second zero-padded), files split 80/20
    assert b.train.sample_shape == (1, 4000) and len(b.train) + len(b.test) == 24
    assert b.info["classes"] == ["high", "low"] and b.train.item_id(1).endswith("#1")
    # the tone frequency survives reading and resampling: spectral peak at 300 or 600 Hz
    x = take(b.train, range(len(b.train)))
    assert x.shape == (len(b.train), 1, 4000)
    spec = torch.fft.rfft(x[:, 0]).abs()
    peak = spec.argmax(1).float() * 8000 / 4000
    expected = torch.where(b.train_labels == 1, 300.0, 600.0)
    torch.testing.assert_close(peak, expected, atol=2.0, rtol=0)


def test_load_audio_keeps_stereo_and_resamples(tmp_path: Path) -> None:
    sf.write(tmp_path / "s.wav", _tone(44100, 0.5, 440, channels=2), 44100)
    wave, sr = load_audio(tmp_path / "s.wav", 16000, mono=False)
    assert sr == 16000 and wave.shape == (2, 8000)


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="broken.wav"):
        load_audio(tmp_path / "broken.wav")
    with pytest.raises(ValueError, match="broken.wav"):
        load_data(f"audio:{tmp_path}")
    with pytest.raises(ValueError, match="not found"):
        load_data(f"audio:{tmp_path / 'missing'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        load_data(f"audio:{empty}")
